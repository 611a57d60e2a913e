import CKernels
import Foundation

// MARK: - Broadcasting

/// NumPy broadcasting of two shapes (aligned at the trailing dimension).
public func broadcastShapes(_ a: [Int], _ b: [Int]) -> [Int] {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        precondition(da == db || da == 1 || db == 1, "shapes \(a) and \(b) do not broadcast")
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Strides of `shape` seen as broadcast to `target` (0 on broadcast dimensions).
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let own = contiguousStrides(shape)
    let off = target.count - shape.count
    return (0..<target.count).map { i in
        i < off ? 0 : (shape[i - off] == 1 && target[i] != 1 ? 0 : own[i - off])
    }
}

/// Walks every row (all dims but the last) of `shape`, handing the start offsets in two strided
/// operands and the output offset; the body loops over the last dimension itself.
@inline(__always)
func forEachRow(_ shape: [Int], _ sa: [Int], _ sb: [Int], _ body: (_ offA: Int, _ offB: Int, _ offOut: Int) -> Void) {
    let r = shape.count
    if r == 0 { body(0, 0, 0); return }
    let inner = shape[r - 1]
    let rows = shape.dropLast().reduce(1, *)
    var idx = [Int](repeating: 0, count: r - 1)
    var oa = 0, ob = 0
    for row in 0..<rows {
        body(oa, ob, row * inner)
        // Increment the multi-index over the leading dims.
        var d = r - 2
        while d >= 0 {
            idx[d] += 1; oa += sa[d]; ob += sb[d]
            if idx[d] < shape[d] { break }
            oa -= sa[d] * shape[d]; ob -= sb[d] * shape[d]; idx[d] = 0
            d -= 1
        }
    }
}

extension Tensor {
    /// Sums this tensor down to `target`, undoing a broadcast (used by backward of broadcasting ops).
    public func sumTo(_ target: [Int]) -> Tensor {
        if target == shape { return self }
        let out = Tensor.zeros(target)
        let st = broadcastStrides(target, to: shape)
        let inner = shape.last ?? 1
        let innerStride = st.last ?? 0
        let src = storage.pointer, dst = out.storage.pointer
        forEachRow(shape, st, st) { ot, _, oi in
            if innerStride == 0 {
                var s: Float = 0
                for j in 0..<inner { s += src[oi + j] }
                dst[ot] += s
            } else {
                for j in 0..<inner { dst[ot + j] += src[oi + j] }
            }
        }
        return out
    }
}

// MARK: - Binary ops

enum BinaryOp { case add, sub, mul, div }

@inline(__always)
private func applyBinary(_ op: BinaryOp, _ a: Float, _ b: Float) -> Float {
    switch op {
    case .add: return a + b
    case .sub: return a - b
    case .mul: return a * b
    case .div: return a / b
    }
}

/// Forward of a broadcasting binary op, with fast paths for equal shapes and a trailing-dims operand.
private func binaryForward(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
    let pa = a.storage.pointer, pb = b.storage.pointer
    if a.shape == b.shape {
        let out = Tensor.empty(a.shape)
        let po = out.storage.pointer
        parallelChunks(out.count) { r in
            switch op {
            case .add: for i in r { po[i] = pa[i] + pb[i] }
            case .sub: for i in r { po[i] = pa[i] - pb[i] }
            case .mul: for i in r { po[i] = pa[i] * pb[i] }
            case .div: for i in r { po[i] = pa[i] / pb[i] }
            }
        }
        return out
    }
    let shape = broadcastShapes(a.shape, b.shape)
    let out = Tensor.empty(shape)
    let po = out.storage.pointer
    if b.count == 1 || a.count == 1 {
        let aScalar = a.count == 1
        let s = aScalar ? pa[0] : pb[0]
        let p = aScalar ? pb : pa
        parallelChunks(out.count) { r in
            if aScalar { for i in r { po[i] = applyBinary(op, s, p[i]) } } else { for i in r { po[i] = applyBinary(op, p[i], s) } }
        }
        return out
    }
    let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
    let inner = shape.last!
    let ia = sa.last!, ib = sb.last!
    forEachRow(shape, sa, sb) { oa, ob, oo in
        switch (ia, ib) {
        case (1, 1): for j in 0..<inner { po[oo + j] = applyBinary(op, pa[oa + j], pb[ob + j]) }
        case (1, 0): let v = pb[ob]; for j in 0..<inner { po[oo + j] = applyBinary(op, pa[oa + j], v) }
        case (0, 1): let v = pa[oa]; for j in 0..<inner { po[oo + j] = applyBinary(op, v, pb[ob + j]) }
        default: po[oo] = applyBinary(op, pa[oa], pb[ob]); for j in 1..<max(inner, 1) { po[oo + j] = po[oo] }
        }
    }
    return out
}

extension Tensor {
    /// Elementwise `self + other` with broadcasting.
    public func adding(_ other: Tensor) -> Tensor {
        let (a, b) = (self, other)
        return binaryForward(.add, a, b).recording([a, b]) { g in [g.sumTo(a.shape), g.sumTo(b.shape)] }
    }

    /// Elementwise `self - other` with broadcasting.
    public func subtracting(_ other: Tensor) -> Tensor {
        let (a, b) = (self, other)
        return binaryForward(.sub, a, b).recording([a, b]) { g in [g.sumTo(a.shape), g.negated().sumTo(b.shape)] }
    }

    /// Elementwise `self * other` with broadcasting.
    public func multiplying(_ other: Tensor) -> Tensor {
        let (a, b) = (self, other)
        let (ad, bd) = (a.detached(), b.detached())
        return binaryForward(.mul, a, b).recording([a, b]) { g in
            [a.requiresGrad ? binaryForward(.mul, g, bd).sumTo(a.shape) : nil,
             b.requiresGrad ? binaryForward(.mul, g, ad).sumTo(b.shape) : nil]
        }
    }

    /// Elementwise `self / other` with broadcasting.
    public func dividing(_ other: Tensor) -> Tensor {
        let (a, b) = (self, other)
        let (ad, bd) = (a.detached(), b.detached())
        return binaryForward(.div, a, b).recording([a, b]) { g in
            let ga = binaryForward(.div, g, bd)
            // d(a/b)/db = -a/b^2 = -(g/b) * a / b
            let gb = b.requiresGrad ? binaryForward(.div, binaryForward(.mul, ga, ad), bd).negated().sumTo(b.shape) : nil
            return [a.requiresGrad ? ga.sumTo(a.shape) : nil, gb]
        }
    }

    /// In place `self += other` (same shape, no autodiff). For gradient and optimiser bookkeeping.
    public func addInPlace(_ other: Tensor, scale: Float = 1) {
        precondition(other.shape == shape, "addInPlace: \(other.shape) into \(shape)")
        let p = storage.pointer, q = other.storage.pointer
        parallelChunks(count) { r in for i in r { p[i] += scale * q[i] } }
    }

    /// In place `self *= s` (no autodiff).
    public func scaleInPlace(_ s: Float) {
        let p = storage.pointer
        parallelChunks(count) { r in for i in r { p[i] *= s } }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { a.adding(b) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.subtracting(b) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.multiplying(b) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.dividing(b) }
    public static func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.scaled(s) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.scaled(1 / s) }
    public static func + (s: Float, a: Tensor) -> Tensor { a.affine(scale: 1, shift: s) }
    public static func - (s: Float, a: Tensor) -> Tensor { a.affine(scale: -1, shift: s) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.scaled(s) }
    public static prefix func - (a: Tensor) -> Tensor { a.negated() }
}

// MARK: - Unary ops

extension Tensor {
    /// Applies `f` elementwise; `df(x, y)` is the derivative at input `x` with output `y`.
    @inline(__always)
    func unary(_ f: (Float) -> Float, _ df: @escaping (Float, Float) -> Float) -> Tensor {
        let out = Tensor.empty(shape)
        let p = storage.pointer, q = out.storage.pointer
        parallelChunks(count, costPerItem: 4) { r in for i in r { q[i] = f(p[i]) } }
        let xs = storage, ys = out.storage
        return out.recording([self]) { g in
            let gi = Tensor.empty(g.shape)
            let gp = g.storage.pointer, gq = gi.storage.pointer, xp = xs.pointer, yp = ys.pointer
            parallelChunks(g.count, costPerItem: 4) { r in for i in r { gq[i] = gp[i] * df(xp[i], yp[i]) } }
            return [gi]
        }
    }

    /// `scale * self + shift`.
    public func affine(scale: Float, shift: Float) -> Tensor {
        unary({ scale * $0 + shift }, { _, _ in scale })
    }

    /// `s * self`.
    public func scaled(_ s: Float) -> Tensor { affine(scale: s, shift: 0) }
    /// `-self`.
    public func negated() -> Tensor { affine(scale: -1, shift: 0) }
    public func exp() -> Tensor { unary({ Foundation.exp($0) }, { _, y in y }) }
    public func log() -> Tensor { unary({ Foundation.log($0) }, { x, _ in 1 / x }) }
    public func sqrt() -> Tensor { unary({ $0.squareRoot() }, { _, y in 0.5 / y }) }
    public func square() -> Tensor { unary({ $0 * $0 }, { x, _ in 2 * x }) }
    public func abs() -> Tensor { unary({ Swift.abs($0) }, { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) }) }
    public func tanh() -> Tensor { unary({ Foundation.tanh($0) }, { _, y in 1 - y * y }) }
    public func sigmoid() -> Tensor { unary({ 1 / (1 + Foundation.exp(-$0)) }, { _, y in y * (1 - y) }) }
    /// `self ** p` elementwise.
    public func pow(_ p: Float) -> Tensor { unary({ Foundation.pow($0, p) }, { x, _ in p * Foundation.pow(x, p - 1) }) }
    /// `max(self, 0)`.
    public func relu() -> Tensor { unary({ Swift.max($0, 0) }, { x, _ in x > 0 ? 1 : 0 }) }
    /// `x` where positive, `negativeSlope * x` elsewhere (PyTorch's `leaky_relu`; its gradient at 0 is
    /// the slope, as PyTorch's).
    public func leakyRelu(negativeSlope: Float = 0.01) -> Tensor {
        unary({ $0 > 0 ? $0 : negativeSlope * $0 }, { x, _ in x > 0 ? 1 : negativeSlope })
    }
    /// `x * sigmoid(x)`.
    public func silu() -> Tensor {
        unary({ $0 / (1 + Foundation.exp(-$0)) }, { x, _ in
            let s = 1 / (1 + Foundation.exp(-x)); return s * (1 + x * (1 - s))
        })
    }
    /// The error function (for normal CDFs: `Φ(x) = (1 + erf(x / √2)) / 2`); derivative `2/√π · exp(-x²)`.
    public func erf() -> Tensor {
        unary({ Foundation.erf($0) }, { x, _ in 1.1283791670955126 * Foundation.exp(-x * x) })
    }
    /// Exact GELU, `x * Φ(x)` with the error function.
    public func gelu() -> Tensor {
        // Vectorised erf and exp (CKernels): libm's scalar erff was a sixth of a diffusion training step.
        let out = Tensor.empty(shape)
        let p = storage.pointer, q = out.storage.pointer
        parallelChunks(count, costPerItem: 8) { r in mgpt_gelu(p + r.lowerBound, q + r.lowerBound, r.count) }
        let xs = storage
        return out.recording([self]) { g in
            let gi = Tensor.empty(g.shape)
            let gp = g.storage.pointer, gq = gi.storage.pointer, xp = xs.pointer
            parallelChunks(g.count, costPerItem: 8) { r in
                mgpt_gelu_derivative(xp + r.lowerBound, gq + r.lowerBound, r.count)
                for i in r { gq[i] *= gp[i] }
            }
            return [gi]
        }
    }
    /// GELU with the tanh approximation (`gelu_new` / `gelu_pytorch_tanh`, as T5 v1.1 uses).
    public func geluTanh() -> Tensor {
        let c: Float = 0.79788456080286536  // sqrt(2/pi)
        return unary({ x in 0.5 * x * (1 + Foundation.tanh(c * (x + 0.044715 * x * x * x))) }, { x, _ in
            let u = c * (x + 0.044715 * x * x * x)
            let t = Foundation.tanh(u)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        })
    }
    /// Clamps to `[lo, hi]`; the gradient is zero outside.
    public func clamped(min lo: Float, max hi: Float) -> Tensor {
        unary({ Swift.min(Swift.max($0, lo), hi) }, { x, _ in x >= lo && x <= hi ? 1 : 0 })
    }
}
