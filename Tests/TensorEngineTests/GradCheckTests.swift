import Foundation
import XCTest
@testable import TensorEngine

/// Finite-difference checks of every op that records a gradient.
///
/// Each check forms `loss = Σ output ⊙ W` with fixed random `W` (so every output element, and every
/// entry of the upstream gradient, matters), takes the analytic gradient from `backward()`, and
/// compares it with central differences that perturb each input element in place. The loss of a
/// perturbed forward is summed in Float64 so summation error does not swamp the difference.
/// Inputs are seeded and kept away from kinks (relu/abs/clamp at their corners, ties under max).
final class GradCheckTests: XCTestCase {
    /// Suite-wide tally, printed by `tearDown()` of the class for the record.
    static var checks = 0
    static var worst: (error: Double, name: String) = (0, "")

    override class func tearDown() {
        print(String(format: "GradCheck: %d gradient checks, worst relative error %.3e (%@)",
                     checks, worst.error, worst.name))
        super.tearDown()
    }

    // MARK: - Harness

    /// FNV-1a of the check's name: a stable seed (Swift's `hashValue` changes between runs).
    private func stableSeed(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Checks the gradients of `f` with respect to `inputs[i]` for every `i` in `wrt` (all by
    /// default). Inputs outside `wrt` are constants and must receive no gradient.
    func check(_ name: String, _ inputs: [Tensor], wrt: [Int]? = nil, eps: Float = 1e-2, tol: Double = 1e-2,
               file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor) {
        let wrt = wrt ?? Array(inputs.indices)
        for (i, t) in inputs.enumerated() { t.requiresGrad = wrt.contains(i); t.grad = nil }
        let out = f(inputs)
        var rng = SeededRNG(seed: stableSeed(name))
        let w = Tensor.randn(out.shape, rng: &rng)
        (out * w).sum().backward()
        let wv = w.scalars.map(Double.init)

        func loss() -> Double {
            let y = Tensor.withNoGrad { f(inputs) }
            precondition(y.shape == out.shape, "\(name): output shape changed under perturbation")
            var s: Double = 0
            for (a, b) in zip(y.scalars, wv) { s += Double(a) * b }
            return s
        }

        for i in wrt {
            let x = inputs[i]
            guard let ga = x.grad else {
                XCTFail("\(name): no gradient reached input \(i)", file: file, line: line)
                continue
            }
            XCTAssertEqual(ga.shape, x.shape, "\(name): gradient shape of input \(i)", file: file, line: line)
            let p = x.storage.pointer
            var num = [Double](repeating: 0, count: x.count)
            for j in 0..<x.count {
                let v = p[j]
                let (hi, lo) = (v + eps, v - eps)
                p[j] = hi; let lp = loss()
                p[j] = lo; let lm = loss()
                p[j] = v
                // Divide by the step Float actually took, not the nominal 2·eps.
                num[j] = (lp - lm) / (Double(hi) - Double(lo))
            }
            let ana = ga.scalars.map(Double.init)
            var diff: Double = 0, nn: Double = 0, na: Double = 0
            for (a, b) in zip(num, ana) { diff += (a - b) * (a - b); nn += a * a; na += b * b }
            let err = diff.squareRoot() / Swift.max(nn.squareRoot(), na.squareRoot(), 1e-12)
            GradCheckTests.checks += 1
            if err > GradCheckTests.worst.error { GradCheckTests.worst = (err, "\(name) input \(i)") }
            XCTAssertLessThan(err, tol, "\(name): input \(i) \(x.shape) relative error \(err)", file: file, line: line)
        }
        for i in inputs.indices where !wrt.contains(i) {
            XCTAssertNil(inputs[i].grad, "\(name): constant input \(i) got a gradient", file: file, line: line)
        }
    }

    /// Directional version for large inputs, where one difference per element would be too slow:
    /// compares `(L(x + εv) - L(x - εv)) / 2ε` with `Σ_i <∂L/∂x_i, v_i>` for random directions `v`.
    /// Used on shapes big enough to take the engine's parallel code paths.
    func checkDirectional(_ name: String, _ inputs: [Tensor], eps: Float = 1e-2, tol: Double = 1e-2,
                          file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor) {
        for t in inputs { t.requiresGrad = true; t.grad = nil }
        let out = f(inputs)
        var r = SeededRNG(seed: stableSeed(name))
        let w = Tensor.randn(out.shape, rng: &r)
        (out * w).sum().backward()
        let wv = w.scalars.map(Double.init)
        let dirs = inputs.map { Tensor.randn($0.shape, rng: &r) }
        var ana: Double = 0
        for (x, v) in zip(inputs, dirs) {
            guard let g = x.grad else { XCTFail("\(name): no gradient", file: file, line: line); return }
            for (a, b) in zip(g.scalars, v.scalars) { ana += Double(a) * Double(b) }
        }
        let saved = inputs.map { $0.copy() }
        func loss(_ sign: Float) -> Double {
            for ((x, x0), v) in zip(zip(inputs, saved), dirs) {
                for i in 0..<x.count { x.storage.pointer[i] = x0.storage.pointer[i] + sign * eps * v.storage.pointer[i] }
            }
            let y = Tensor.withNoGrad { f(inputs) }
            var s: Double = 0
            for (a, b) in zip(y.scalars, wv) { s += Double(a) * b }
            return s
        }
        let num = (loss(1) - loss(-1)) / (2 * Double(eps))
        for (x, x0) in zip(inputs, saved) { x.assign(x0) }
        let err = Swift.abs(num - ana) / Swift.max(Swift.abs(num), Swift.abs(ana), 1e-12)
        GradCheckTests.checks += 1
        if err > GradCheckTests.worst.error { GradCheckTests.worst = (err, name) }
        XCTAssertLessThan(err, tol, "\(name): directional relative error \(err) (\(num) vs \(ana))", file: file, line: line)
    }

    // MARK: - Inputs

    private var rng = SeededRNG(seed: 0)

    override func setUp() {
        super.setUp()
        // Each test starts from its own fixed stream, independent of test order.
        rng = SeededRNG(seed: stableSeed(name))
    }

    func randn(_ shape: [Int], std: Float = 1) -> Tensor { Tensor.randn(shape, std: std, rng: &rng) }

    func uniform(_ shape: [Int], _ lo: Float, _ hi: Float) -> Tensor { Tensor.uniform(shape, low: lo, high: hi, rng: &rng) }

    /// Normal values pushed at least `margin` away from zero (for relu, abs and similar kinks).
    func awayFromZero(_ shape: [Int], margin: Float = 0.2) -> Tensor {
        let t = randn(shape)
        for i in 0..<t.count { let v = t.storage.pointer[i]; t.storage.pointer[i] = v < 0 ? v - margin : v + margin }
        return t
    }

    /// All-distinct values at least 0.1 apart in random order, so a max has no near-ties.
    func distinct(_ shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        var vals = (0..<n).map { Float($0) * 0.1 - Float(n) * 0.05 }
        vals.shuffle(using: &rng)
        return Tensor(vals, shape: shape)
    }

    // MARK: - Binary elementwise ops and broadcasting

    func testBinaryOpsSameShape() {
        let (a, b) = (randn([2, 3, 4]), uniform([2, 3, 4], 0.5, 2))
        check("add", [a, b]) { $0[0] + $0[1] }
        check("sub", [a, b]) { $0[0] - $0[1] }
        check("mul", [a, b]) { $0[0] * $0[1] }
        check("div", [a, b]) { $0[0] / $0[1] }
    }

    func testBinaryOpsBroadcast() {
        // (a shape, b shape): trailing-dim operand, unit dims inside, both sides broadcasting,
        // lower rank on either side, a one-element operand with and without rank, and a 0-d scalar.
        let cases: [([Int], [Int])] = [
            ([2, 3, 4], [4]), ([4], [2, 3, 4]), ([2, 3, 4], [3, 1]), ([3, 1], [2, 3, 4]),
            ([2, 1, 4], [2, 3, 4]), ([2, 1, 3], [4, 1]), ([2, 3, 1], [1, 4]), ([2, 3], [1]),
            ([1, 1, 1], [2, 3]), ([2, 3], []), ([], [2, 3]), ([1, 3], [2, 1]),
        ]
        for (sa, sb) in cases {
            let a = randn(sa), b = uniform(sb, 0.5, 2)
            check("add \(sa)+\(sb)", [a, b]) { $0[0] + $0[1] }
            check("sub \(sa)-\(sb)", [a, b]) { $0[0] - $0[1] }
            check("mul \(sa)*\(sb)", [a, b]) { $0[0] * $0[1] }
            // Divide by the positive operand either way round.
            check("div \(sa)/\(sb)", [a, b]) { $0[0] / $0[1] }
            let c = uniform(sa, 0.5, 2)
            check("div \(sb)/\(sa)", [b, c]) { $0[0] / $0[1] }
        }
    }

    func testBinaryOpsOneSideConstant() {
        let (a, b) = (randn([3, 4]), uniform([4], 0.5, 2))
        check("mul wrt a", [a, b], wrt: [0]) { $0[0] * $0[1] }
        check("mul wrt b", [a, b], wrt: [1]) { $0[0] * $0[1] }
        check("div wrt a", [a, b], wrt: [0]) { $0[0] / $0[1] }
        check("div wrt b", [a, b], wrt: [1]) { $0[0] / $0[1] }
        check("sub wrt b", [a, b], wrt: [1]) { $0[0] - $0[1] }
    }

    func testSameTensorOnBothSides() {
        // The tape must add the two contributions, including when an op hands back one tensor twice.
        let x = uniform([2, 3], 0.5, 2)
        check("x+x", [x]) { $0[0] + $0[0] }
        check("x*x", [x]) { $0[0] * $0[0] }
        check("x/x+x", [x]) { $0[0] / ($0[0] + $0[0].square()) }
        check("x-x*2", [x]) { $0[0] - $0[0] * 2 }
        check("x reshaped twice", [x]) { $0[0].reshaped([6]) + $0[0].reshaped([6]) * $0[0].reshaped([-1]) }
        check("diamond", [x]) { t in let y = t[0].tanh(); return y * y.exp() + y.sum(dim: 1, keepDims: true) }
    }

    func testScalarOps() {
        let x = randn([3, 4])
        check("x+s", [x]) { $0[0] + 1.5 }
        check("x-s", [x]) { $0[0] - 0.5 }
        check("x*s", [x]) { $0[0] * 2.5 }
        check("x/s", [x]) { $0[0] / 4 }
        check("s+x", [x]) { 1.5 + $0[0] }
        check("s-x", [x]) { 1.5 - $0[0] }
        check("s*x", [x]) { -3 * $0[0] }
        check("-x", [x]) { -$0[0] }
        check("affine", [x]) { $0[0].affine(scale: 0.7, shift: -2) }
        check("scaled", [x]) { $0[0].scaled(-1.25) }
        check("negated", [x]) { $0[0].negated() }
    }

    // MARK: - Unary ops

    func testSmoothUnaryOps() {
        let x = randn([3, 5], std: 1.5)
        let pos = uniform([3, 5], 0.3, 3)
        check("exp", [x]) { $0[0].exp() }
        check("log", [pos]) { $0[0].log() }
        check("sqrt", [pos]) { $0[0].sqrt() }
        check("square", [x]) { $0[0].square() }
        check("tanh", [x]) { $0[0].tanh() }
        check("sigmoid", [x]) { $0[0].sigmoid() }
        check("pow 2.5", [pos]) { $0[0].pow(2.5) }
        check("pow -1.5", [pos]) { $0[0].pow(-1.5) }
        check("pow 3 (negative bases)", [x]) { $0[0].pow(3) }
        check("silu", [x]) { $0[0].silu() }
        check("gelu", [x]) { $0[0].gelu() }
        check("geluTanh", [x]) { $0[0].geluTanh() }
        check("erf", [x]) { $0[0].erf() }
    }

    func testKinkedUnaryOps() {
        let x = awayFromZero([4, 5])
        check("relu", [x]) { $0[0].relu() }
        check("leakyRelu 0.2", [x]) { $0[0].leakyRelu(negativeSlope: 0.2) }
        check("abs", [x]) { $0[0].abs() }
        // Clamp bounds kept at least 0.05 from every input so no perturbation crosses them.
        let c = uniform([4, 5], -2, 2)
        for i in 0..<c.count {
            var v = c.storage.pointer[i]
            for bound: Float in [-0.5, 0.8] where Swift.abs(v - bound) < 0.05 { v = bound + (v < bound ? -0.05 : 0.05) }
            c.storage.pointer[i] = v
        }
        check("clamped", [c]) { $0[0].clamped(min: -0.5, max: 0.8) }
    }

    // MARK: - Reductions

    func testSums() {
        let x = randn([2, 3, 4])
        check("sum", [x]) { $0[0].sum() }
        check("mean", [x]) { $0[0].mean() }
        for d in [0, 1, 2, -1] {
            for keep in [false, true] {
                check("sum dim \(d) keep \(keep)", [x]) { $0[0].sum(dim: d, keepDims: keep) }
                check("mean dim \(d) keep \(keep)", [x]) { $0[0].mean(dim: d, keepDims: keep) }
            }
        }
        check("sum dims [0,2]", [x]) { $0[0].sum(dims: [0, 2]) }
        check("sum dims [2,0] keep", [x]) { $0[0].sum(dims: [2, 0], keepDims: true) }
        check("mean dims [1,2]", [x]) { $0[0].mean(dims: [1, 2]) }
        check("variance dim 1", [x]) { $0[0].variance(dim: 1) }
        check("variance dim -1 keep", [x]) { $0[0].variance(dim: -1, keepDims: true) }
    }

    func testMaxAlongDim() {
        let x = distinct([3, 4, 5])
        for d in [0, 1, 2] {
            check("max dim \(d)", [x]) { $0[0].max(dim: d) }
            check("max dim \(d) keep", [x]) { $0[0].max(dim: d, keepDims: true) }
        }
    }

    // MARK: - Shape ops

    func testReshapeFamily() {
        let x = randn([2, 3, 4])
        check("reshaped", [x]) { $0[0].reshaped([4, 6]) }
        check("reshaped -1", [x]) { $0[0].reshaped([-1, 2]) }
        check("unsqueezed", [x]) { $0[0].unsqueezed(1) }
        check("unsqueezed end", [x]) { $0[0].unsqueezed(-1) }
        let y = randn([2, 1, 4])
        check("squeezed", [y]) { $0[0].squeezed(1) }
    }

    func testPermuteAndTranspose() {
        let x = randn([2, 3, 4])
        for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0], [0, 2, 1], [2, 1, 0], [1, 0, 2]] {
            check("permuted \(order)", [x]) { $0[0].permuted(order) }
        }
        check("transposed", [x]) { $0[0].transposed() }
        check("transposed 0 2", [x]) { $0[0].transposed(0, 2) }
        let z = randn([2, 2, 3, 2])
        check("permuted rank 4", [z]) { $0[0].permuted([3, 1, 0, 2]) }
    }

    func testExpanded() {
        check("expanded [3,1]->[2,3,4]", [randn([3, 1])]) { $0[0].expanded(to: [2, 3, 4]) }
        check("expanded [1,4]->[3,4]", [randn([1, 4])]) { $0[0].expanded(to: [3, 4]) }
        check("expanded [4]->[2,3,4]", [randn([4])]) { $0[0].expanded(to: [2, 3, 4]) }
        check("expanded [2,1,3]->[2,4,3]", [randn([2, 1, 3])]) { $0[0].expanded(to: [2, 4, 3]) }
    }

    func testSliceAndSplit() {
        let x = randn([3, 4, 5])
        check("slice dim 0", [x]) { $0[0].slice(dim: 0, 1, 3) }
        check("slice dim 1", [x]) { $0[0].slice(dim: 1, 1, 2) }
        check("slice dim -1", [x]) { $0[0].slice(dim: -1, 2, 5) }
        check("slice whole", [x]) { $0[0].slice(dim: 1, 0, 4) }
        check("split", [x]) { t in
            let parts = t[0].split([2, 1, 2], dim: 2)
            return parts[0] * 2 + parts[2] - parts[1].expanded(to: [3, 4, 2])
        }
    }

    func testConcat() {
        let (a, b, c) = (randn([2, 3, 4]), randn([2, 1, 4]), randn([2, 2, 4]))
        check("concat dim 1", [a, b, c]) { Tensor.concat($0, dim: 1) }
        check("concat dim 1 partial grad", [a, b, c], wrt: [1]) { Tensor.concat($0, dim: 1) }
        let (d, e) = (randn([1, 3, 4]), randn([3, 3, 4]))
        check("concat dim 0", [a, d, e]) { Tensor.concat($0, dim: 0) }
        let (f, g) = (randn([2, 3, 1]), randn([2, 3, 3]))
        check("concat dim -1", [a, f, g]) { Tensor.concat($0, dim: -1) }
        check("concat same tensor twice", [a]) { Tensor.concat([$0[0], $0[0].scaled(2)], dim: 2) }
    }

    func testIndexSelectAndEmbedding() {
        let x = randn([4, 3, 2])
        check("indexSelect dim 0 repeats", [x]) { $0[0].indexSelect(dim: 0, [2, 0, 2, 3, 2]) }
        check("indexSelect dim 1 repeats", [x]) { $0[0].indexSelect(dim: 1, [1, 1, 0]) }
        check("indexSelect dim -1", [x]) { $0[0].indexSelect(dim: -1, [1, 0, 1, 1]) }
        let table = randn([5, 3])
        check("embedding repeats", [table]) { Tensor.embedding($0[0], ids: [1, 4, 1, 0, 1, 3], shape: [2, 3]) }
    }

    func testGather() {
        let x = randn([3, 4, 2])
        check("gather dim 0", [x]) { $0[0].gather(dim: 0, index: [0, 2, 2, 1, 0, 0, 2, 1], indexShape: [2, 2, 2]) }
        check("gather dim 1 repeats", [x]) {
            $0[0].gather(dim: 1, index: [3, 3, 0, 1, 2, 2, 1, 1, 0, 3, 3, 3, 2, 0, 0, 1, 1, 1], indexShape: [3, 3, 2])
        }
        check("gather dim 2", [x]) { $0[0].gather(dim: -1, index: Array(repeating: [1, 0, 1], count: 12).flatMap { $0 }, indexShape: [3, 4, 3]) }
    }

    // MARK: - Matrix products

    func testMatmul2D() {
        for ta in [false, true] {
            for tb in [false, true] {
                let a = randn(ta ? [4, 3] : [3, 4]), b = randn(tb ? [5, 4] : [4, 5])
                check("matmul 2d ta \(ta) tb \(tb)", [a, b]) { $0[0].matmul($0[1], transposeA: ta, transposeB: tb) }
                check("matmul 2d ta \(ta) tb \(tb) wrt b", [a, b], wrt: [1]) { $0[0].matmul($0[1], transposeA: ta, transposeB: tb) }
            }
        }
        // A single row: the GEMV path, forward and backward.
        let r = randn([1, 4]), w = randn([4, 3]), wt = randn([3, 4])
        check("matmul row", [r, w]) { $0[0].matmul($0[1]) }
        check("matmul row tb", [r, wt]) { $0[0].matmul($0[1], transposeB: true) }
        check("matmul batched rows", [randn([2, 1, 4]), randn([2, 4, 3])]) { $0[0].matmul($0[1]) }
        check("matmul batched rows tb", [randn([2, 1, 4]), randn([2, 3, 4])]) { $0[0].matmul($0[1], transposeB: true) }
        check("matmul column", [randn([3, 4]), randn([4, 1])]) { $0[0].matmul($0[1]) }
    }

    func testMatmulBatched() {
        for ta in [false, true] {
            for tb in [false, true] {
                let a = randn(ta ? [2, 4, 3] : [2, 3, 4]), b = randn(tb ? [2, 5, 4] : [2, 4, 5])
                check("matmul batched ta \(ta) tb \(tb)", [a, b]) { $0[0].matmul($0[1], transposeA: ta, transposeB: tb) }
            }
        }
    }

    func testMatmulBroadcastBatch() {
        // (a, b) shapes, untransposed: batch broadcast on either side, and a shared 2-D operand.
        let cases: [([Int], [Int])] = [
            ([2, 2, 3, 4], [2, 4, 5]), ([2, 4, 5], [2, 2, 5, 3]), ([2, 1, 3, 4], [1, 2, 4, 2]),
            ([2, 3, 4], [4, 5]), ([3, 4], [2, 4, 5]), ([2, 2, 3, 4], [4, 2]),
        ]
        for (sa, sb) in cases {
            check("matmul \(sa)@\(sb)", [randn(sa), randn(sb)]) { $0[0].matmul($0[1]) }
        }
        // Shared 2-D operand with each transpose flag (the folded-batch backward paths).
        check("matmul [2,3,4]@[5,4]ᵀ", [randn([2, 3, 4]), randn([5, 4])]) { $0[0].matmul($0[1], transposeB: true) }
        check("matmul [2,4,3]ᵀ@[4,5]", [randn([2, 4, 3]), randn([4, 5])]) { $0[0].matmul($0[1], transposeA: true) }
        check("matmul [2,4,3]ᵀ@[5,4]ᵀ", [randn([2, 4, 3]), randn([5, 4])]) { $0[0].matmul($0[1], transposeA: true, transposeB: true) }
        check("matmul [4,3]ᵀ@[2,4,5]", [randn([4, 3]), randn([2, 4, 5])]) { $0[0].matmul($0[1], transposeA: true) }
        check("matmul [3,4]@[2,5,4]ᵀ", [randn([3, 4]), randn([2, 5, 4])]) { $0[0].matmul($0[1], transposeB: true) }
        check("matmul [2,1,3,4]@[2,5,4]ᵀ", [randn([2, 1, 3, 4]), randn([2, 5, 4])]) { $0[0].matmul($0[1], transposeB: true) }
    }

    func testLinear() {
        let x = randn([2, 3, 4]), w = randn([5, 4]), b = randn([5])
        check("linear bias", [x, w, b]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        check("linear no bias", [x, w]) { $0[0].linear(weight: $0[1]) }
        check("linear 2d", [randn([3, 4]), w, b]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        check("linear single row", [randn([1, 4]), w, b]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        check("linear 1d input", [randn([4]), w, b]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        check("linear one output", [x, randn([1, 4]), randn([1])]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        check("linear wrt weight only", [x, w, b], wrt: [1]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        check("linear wrt bias only", [x, w, b], wrt: [2]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        check("linear wrt input only", [x, w, b], wrt: [0]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
    }

    // MARK: - Fused NN ops

    func testSoftmaxFamily() {
        let x = randn([2, 3, 5], std: 2)
        check("softmax", [x]) { $0[0].softmax() }
        check("logSoftmax", [x]) { $0[0].logSoftmax() }
        // Large logits: the max-subtracted kernels must stay finite and exact.
        let big = randn([3, 4]) + 30
        check("softmax large", [big]) { $0[0].softmax() }
        check("logSoftmax large", [big]) { $0[0].logSoftmax() }
    }

    func testLayerNorm() {
        let x = randn([2, 3, 6], std: 2) + 0.5
        let w = uniform([6], 0.5, 1.5), b = randn([6], std: 0.3)
        check("layerNorm affine", [x, w, b]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
        check("layerNorm no affine", [x]) { $0[0].layerNorm(weight: nil, bias: nil) }
        check("layerNorm weight only", [x, w]) { $0[0].layerNorm(weight: $0[1], bias: nil) }
        check("layerNorm bias only", [x, b]) { $0[0].layerNorm(weight: nil, bias: $0[1]) }
        check("layerNorm wrt x, constant affine", [x, w, b], wrt: [0]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
        check("layerNorm wrt affine only", [x, w, b], wrt: [1, 2]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
    }

    func testRMSNorm() {
        let x = randn([2, 3, 6], std: 2)
        let w = uniform([6], 0.5, 1.5)
        check("rmsNorm", [x, w]) { $0[0].rmsNorm(weight: $0[1]) }
        check("rmsNorm wrt x", [x, w], wrt: [0]) { $0[0].rmsNorm(weight: $0[1]) }
        check("rmsNorm wrt weight", [x, w], wrt: [1]) { $0[0].rmsNorm(weight: $0[1]) }
    }

    func testDropoutWithFixedMask() {
        let x = randn([4, 6])
        check("dropout p 0.3", [x]) { t in
            var r = SeededRNG(seed: 99)  // the same mask on every forward
            return t[0].dropout(0.3, training: true, rng: &r)
        }
        check("dropout eval", [x]) { t in
            var r = SeededRNG(seed: 99)
            return t[0].dropout(0.3, training: false, rng: &r) * 1
        }
    }

    func testCrossEntropy() {
        let logits = randn([6, 5], std: 2)
        check("crossEntropy", [logits]) { $0[0].crossEntropy(targets: [0, 4, 2, 2, 1, 3]) }
        check("crossEntropy ignored rows", [logits]) { $0[0].crossEntropy(targets: [0, -100, 2, -100, 1, 3]) }
        check("crossEntropy custom ignore", [logits]) { $0[0].crossEntropy(targets: [0, 7, 2, 7, 1, 3], ignoreIndex: 7) }
        check("crossEntropy smoothing", [logits]) { $0[0].crossEntropy(targets: [0, 4, 2, 2, 1, 3], labelSmoothing: 0.1) }
        check("crossEntropy smoothing + ignored", [logits]) {
            $0[0].crossEntropy(targets: [-100, 4, 2, -100, 1, 3], labelSmoothing: 0.2)
        }
        check("crossEntropy all ignored", [logits]) { $0[0].crossEntropy(targets: Array(repeating: -100, count: 6)) }
        // Inside a graph, so the upstream gradient is not 1.
        check("crossEntropy scaled", [logits]) { $0[0].crossEntropy(targets: [1, 1, 0, 4, 3, 2]) * 3 }
    }

    func testSmoothL1BothRegimes() {
        for beta: Float in [1, 0.5] {
            let target = randn([4, 5])
            let pred = target.copy()
            // Half the differences well inside |d| < beta (quadratic), half well outside (linear).
            for i in 0..<pred.count {
                let mag = i % 2 == 0 ? beta * (0.2 + 0.6 * rng.nextFloat()) : beta * (1.3 + 1.5 * rng.nextFloat())
                pred.storage.pointer[i] += rng.nextFloat() < 0.5 ? -mag : mag
            }
            check("smoothL1 beta \(beta)", [pred, target]) { $0[0].smoothL1Loss($0[1], beta: beta) }
            check("smoothL1 beta \(beta) wrt pred", [pred, target], wrt: [0]) { $0[0].smoothL1Loss($0[1], beta: beta) }
        }
    }

    func testMSELoss() {
        let (a, b) = (randn([3, 4]), randn([3, 4]))
        check("mseLoss", [a, b]) { $0[0].mseLoss($0[1]) }
    }

    // MARK: - Convolution and upsampling

    func testConv1d() {
        // (stride, padding, dilation, kernel, bias)
        let cases: [(Int, Int, Int, Int, Bool)] = [
            (1, 0, 1, 3, false), (1, 0, 1, 3, true), (2, 1, 2, 3, true), (3, 2, 1, 3, true),
            (1, 3, 3, 2, false), (2, 0, 1, 1, true), (1, 1, 1, 4, true), (2, 2, 2, 3, false),
        ]
        for (s, p, d, k, useBias) in cases {
            let x = randn([2, 3, 9]), w = randn([4, 3, k], std: 0.5), b = randn([4])
            let name = "conv1d s\(s) p\(p) d\(d) k\(k) bias \(useBias)"
            if useBias {
                check(name, [x, w, b]) { $0[0].conv1d(weight: $0[1], bias: $0[2], stride: s, padding: p, dilation: d) }
            } else {
                check(name, [x, w]) { $0[0].conv1d(weight: $0[1], stride: s, padding: p, dilation: d) }
            }
        }
        check("conv1d one channel k1", [randn([2, 1, 5]), randn([1, 1, 1]), randn([1])]) {
            $0[0].conv1d(weight: $0[1], bias: $0[2])
        }
        check("conv1d one output channel", [randn([2, 3, 6]), randn([1, 3, 2])]) { $0[0].conv1d(weight: $0[1], padding: 1) }
        let x = randn([1, 2, 7]), w = randn([3, 2, 3]), b = randn([3])
        check("conv1d wrt input only", [x, w, b], wrt: [0]) { $0[0].conv1d(weight: $0[1], bias: $0[2], padding: 1) }
        check("conv1d wrt weight only", [x, w, b], wrt: [1]) { $0[0].conv1d(weight: $0[1], bias: $0[2], padding: 1) }
        check("conv1d wrt bias only", [x, w, b], wrt: [2]) { $0[0].conv1d(weight: $0[1], bias: $0[2], padding: 1) }
    }

    func testUpsampleNearest1d() {
        let x = randn([2, 3, 4])
        for s in [1, 2, 3] { check("upsampleNearest1d \(s)", [x]) { $0[0].upsampleNearest1d(scale: s) } }
    }

    // MARK: - Large shapes (parallel code paths)

    func testParallelPathsDirectional() {
        // 260 x 256 = 66,560 elements: above the engine's threshold for splitting work across cores.
        let shape = [260, 256]
        let x = randn(shape), y = uniform(shape, 0.5, 2), pos = uniform(shape, 0.5, 2)
        checkDirectional("large mul", [x, y]) { $0[0] * $0[1] }
        checkDirectional("large div", [x, y]) { $0[0] / $0[1] }
        checkDirectional("large add/sub", [x, y]) { $0[0] + $0[1] - $0[0] * 0.5 }
        checkDirectional("large scalar broadcast", [x, randn([1])]) { $0[0] * $0[1] + $0[1] }
        checkDirectional("large row broadcast", [x, randn([256])]) { $0[0] * $0[1] }
        checkDirectional("large gelu", [x]) { $0[0].gelu() }
        checkDirectional("large silu/tanh", [x]) { $0[0].silu() + $0[0].tanh() }
        checkDirectional("large log/sqrt", [pos]) { $0[0].log() + $0[0].sqrt() }
        checkDirectional("large softmax", [x]) { $0[0].softmax() }
        checkDirectional("large logSoftmax", [x]) { $0[0].logSoftmax() }
        checkDirectional("large layerNorm", [x, uniform([256], 0.5, 1.5), randn([256])]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
        checkDirectional("large rmsNorm", [x, uniform([256], 0.5, 1.5)]) { $0[0].rmsNorm(weight: $0[1]) }
        checkDirectional("large matmul", [randn([64, 96]), randn([96, 48])]) { $0[0].matmul($0[1]) }
        checkDirectional("large conv1d", [randn([2, 16, 64]), randn([24, 16, 3]), randn([24])]) {
            $0[0].conv1d(weight: $0[1], bias: $0[2], stride: 2, padding: 1, dilation: 2)
        }
    }

    // MARK: - Small composite graphs (the tape across many ops)

    func testAttentionBlock() {
        let q = randn([2, 3, 4]), k = randn([2, 5, 4]), v = randn([2, 5, 3])
        check("attention", [q, k, v]) { t in
            let scores = t[0].matmul(t[1], transposeB: true) * (1 / Float(4).squareRoot())  // [B, Tq, Tk]
            return scores.softmax().matmul(t[2])  // [B, Tq, Dv]
        }
    }

    func testMLPWithLoss() {
        let x = randn([5, 4]), w1 = randn([6, 4], std: 0.5), b1 = randn([6], std: 0.1)
        let g = uniform([6], 0.8, 1.2), w2 = randn([3, 6], std: 0.5)
        check("mlp", [x, w1, b1, g, w2]) { t in
            let h = t[0].linear(weight: t[1], bias: t[2]).layerNorm(weight: t[3], bias: nil).gelu()  // [N, 6]
            return h.linear(weight: t[4]).crossEntropy(targets: [0, 2, -100, 1, 2], labelSmoothing: 0.1)
        }
    }

    func testConvStack() {
        let x = randn([1, 2, 6]), w1 = randn([3, 2, 3], std: 0.5), w2 = randn([2, 3, 3], std: 0.5)
        check("conv stack", [x, w1, w2]) { t in
            let h = t[0].conv1d(weight: t[1], padding: 1).silu().upsampleNearest1d(scale: 2)  // [1, 3, 12]
            return h.conv1d(weight: t[2], stride: 2, padding: 1).permuted([0, 2, 1]).rmsNorm(weight: Tensor.ones([2]))
        }
    }

    // MARK: - Recurrent

    func testGRUBothDirectionsWithLengths() {
        // Unsorted lengths with one sequence of a single step and one running the whole batch width:
        // packing order, per-sequence starts of the reverse direction and padded steps are all exercised.
        let (b, t, i, h) = (3, 5, 3, 4)
        let lengths = [3, 5, 1]
        for reverse in [false, true] {
            for bias in [true, false] {
                let x = randn([b, t, i]), h0 = randn([b, h], std: 0.5)
                let wih = randn([3 * h, i], std: 0.6), whh = randn([3 * h, h], std: 0.6)
                let bih = randn([3 * h], std: 0.3), bhh = randn([3 * h], std: 0.3)
                let name = "gru reverse \(reverse) bias \(bias)"
                if bias {
                    check(name, [x, h0, wih, whh, bih, bhh]) {
                        Tensor.gru(input: $0[0], initialHidden: $0[1], weightIH: $0[2], weightHH: $0[3], biasIH: $0[4], biasHH: $0[5],
                                   lengths: lengths, reverse: reverse)
                    }
                } else {
                    check(name, [x, h0, wih, whh]) {
                        Tensor.gru(input: $0[0], initialHidden: $0[1], weightIH: $0[2], weightHH: $0[3], biasIH: nil, biasHH: nil,
                                   lengths: lengths, reverse: reverse)
                    }
                }
            }
        }
        // Gradients reach only the inputs that ask for them.
        let x = randn([2, 4, 2]), h0 = randn([2, 3]), wih = randn([9, 2]), whh = randn([9, 3]), bih = randn([9]), bhh = randn([9])
        check("gru wrt input and hidden-hidden weight only", [x, h0, wih, whh, bih, bhh], wrt: [0, 3]) {
            Tensor.gru(input: $0[0], initialHidden: $0[1], weightIH: $0[2], weightHH: $0[3], biasIH: $0[4], biasHH: $0[5], lengths: [4, 2])
        }
        // The final state taken from the sequence (as the GRU layer takes h_n) back-propagates too.
        check("gru final states", [x, h0, wih, whh, bih, bhh]) { t in
            let seq = Tensor.gru(input: t[0], initialHidden: t[1], weightIH: t[2], weightHH: t[3], biasIH: t[4], biasHH: t[5], lengths: [4, 2])
            return seq.reshaped([8, 3]).indexSelect(dim: 0, [3, 5]).tanh()
        }
    }

    func testGRUDirectionalLarge() {
        // Wide enough that the step loops take the parallel path. A small step: with 300 units the loss
        // curves enough that the central difference's O(eps²) error reaches 2% at eps = 1e-2
        // (0.2% at 3e-3, 13% at 3e-2: the scaling of truncation, not of a wrong gradient).
        let (b, t, i, h) = (16, 6, 8, 300)
        let x = randn([b, t, i]), h0 = randn([b, h], std: 0.3)
        let wih = randn([3 * h, i], std: 0.2), whh = randn([3 * h, h], std: 0.05), bih = randn([3 * h], std: 0.1), bhh = randn([3 * h], std: 0.1)
        let lengths = (0..<b).map { 1 + ($0 * 5) % t }
        for reverse in [false, true] {
            checkDirectional("gru large reverse \(reverse)", [x, h0, wih, whh, bih, bhh], eps: 2e-3, tol: 1e-2) {
                Tensor.gru(input: $0[0], initialHidden: $0[1], weightIH: $0[2], weightHH: $0[3], biasIH: $0[4], biasHH: $0[5],
                           lengths: lengths, reverse: reverse)
            }
        }
    }
}
