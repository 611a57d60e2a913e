import Foundation

extension Tensor {
    /// Splits the shape around `axis` into (outer, n, inner) so the axis is walked with stride `inner`.
    func around(_ axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// Sum of all elements (a scalar, shape `[]`). Accumulates in Float64 so long sums stay exact.
    public func sum() -> Tensor {
        let p = storage.pointer
        var s: Double = 0
        for i in 0..<count { s += Double(p[i]) }
        let inShape = shape
        return Tensor(scalar: Float(s)).recording([self]) { g in [Tensor(repeating: g.item, shape: inShape)] }
    }

    /// Mean of all elements (a scalar).
    public func mean() -> Tensor { sum().scaled(1 / Float(Swift.max(count, 1))) }

    /// Sum over one dimension; `keepDims` keeps it with extent 1.
    public func sum(dim: Int, keepDims: Bool = false) -> Tensor {
        let a = axis(dim)
        let (outer, n, inner) = around(a)
        var kept = shape; kept[a] = 1
        let out = Tensor.zeros(kept)
        let p = storage.pointer, q = out.storage.pointer
        for o in 0..<outer {
            let base = o * n * inner, ob = o * inner
            for k in 0..<n {
                let row = base + k * inner
                for i in 0..<inner { q[ob + i] += p[row + i] }
            }
        }
        let inShape = shape
        let resultShape = keepDims ? kept : shape.enumerated().filter { $0.offset != a }.map { $0.element }
        return Tensor(shape: resultShape, storage: out.storage).recording([self]) { g in
            [g.reshaped(kept).expanded(to: inShape)]
        }
    }

    /// Sum over several dimensions.
    public func sum(dims: [Int], keepDims: Bool = false) -> Tensor {
        let axes = dims.map { axis($0) }.sorted(by: >)
        var t = self
        for a in axes { t = t.sum(dim: a, keepDims: true) }
        if keepDims { return t }
        return t.reshaped(shape.enumerated().filter { !axes.contains($0.offset) }.map { $0.element })
    }

    /// Mean over one dimension.
    public func mean(dim: Int, keepDims: Bool = false) -> Tensor {
        sum(dim: dim, keepDims: keepDims).scaled(1 / Float(shape[axis(dim)]))
    }

    /// Mean over several dimensions.
    public func mean(dims: [Int], keepDims: Bool = false) -> Tensor {
        let n = dims.map { shape[axis($0)] }.reduce(1, *)
        return sum(dims: dims, keepDims: keepDims).scaled(1 / Float(n))
    }

    /// Biased variance over one dimension (divides by n, as normalisation layers do).
    public func variance(dim: Int, keepDims: Bool = false) -> Tensor {
        let mu = mean(dim: dim, keepDims: true)
        return (self - mu).square().mean(dim: dim, keepDims: keepDims)
    }

    /// Maximum over one dimension; the gradient goes to the first maximal element.
    public func max(dim: Int, keepDims: Bool = false) -> Tensor {
        let a = axis(dim)
        let (outer, n, inner) = around(a)
        precondition(n > 0, "max over an empty dimension")
        var kept = shape; kept[a] = 1
        let out = Tensor.empty(kept)
        var arg = [Int](repeating: 0, count: outer * inner)
        let p = storage.pointer, q = out.storage.pointer
        for o in 0..<outer {
            for i in 0..<inner {
                var best = p[o * n * inner + i], bi = 0
                for k in 1..<n where p[o * n * inner + k * inner + i] > best { best = p[o * n * inner + k * inner + i]; bi = k }
                q[o * inner + i] = best; arg[o * inner + i] = bi
            }
        }
        let inShape = shape
        let result = keepDims ? out : Tensor(shape: shape.enumerated().filter { $0.offset != a }.map { $0.element }, storage: out.storage)
        return result.recording([self]) { g in
            let gi = Tensor.zeros(inShape)
            let gp = g.storage.pointer, gq = gi.storage.pointer
            for o in 0..<outer { for i in 0..<inner { gq[o * n * inner + arg[o * inner + i] * inner + i] = gp[o * inner + i] } }
            return [gi]
        }
    }

    /// Indices of the maxima along a dimension (first on ties), row-major over the other dims.
    public func argmax(dim: Int) -> [Int] {
        let a = axis(dim)
        let (outer, n, inner) = around(a)
        var res = [Int](repeating: 0, count: outer * inner)
        let p = storage.pointer
        for o in 0..<outer {
            for i in 0..<inner {
                var best = p[o * n * inner + i], bi = 0
                for k in 1..<n where p[o * n * inner + k * inner + i] > best { best = p[o * n * inner + k * inner + i]; bi = k }
                res[o * inner + i] = bi
            }
        }
        return res
    }
}
