import Foundation
import XCTest
@testable import TensorEngine

/// Behaviour of the engine that gradient checks and PyTorch fixtures do not pin down on their own:
/// GEMM dispatch paths, broadcasting shapes, autodiff bookkeeping, determinism.
final class EngineTests: XCTestCase {
    /// Naive triple loop, Float64 accumulation.
    func naiveMatmul(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int, transB: Bool) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s: Double = 0
            for p in 0..<k { s += Double(a[i * k + p]) * Double(transB ? b[j * k + p] : b[p * n + j]) }
            c[i * n + j] = Float(s)
        } }
        return c
    }

    func testMatmulSingleRowPathMatchesNaive() {
        var rng = SeededRNG(seed: 1)
        for (m, k, n) in [(1, 7, 5), (1, 64, 33), (2, 9, 4), (3, 1, 6)] {
            for transB in [false, true] {
                let a = Tensor.randn([m, k], rng: &rng)
                let b = Tensor.randn(transB ? [n, k] : [k, n], rng: &rng)
                let c = a.matmul(b, transposeB: transB)
                let ref = naiveMatmul(a.scalars, b.scalars, m: m, k: k, n: n, transB: transB)
                XCTAssertEqual(c.shape, [m, n])
                for (x, y) in zip(c.scalars, ref) { XCTAssertEqual(x, y, accuracy: 1e-4, "m \(m) k \(k) n \(n) transB \(transB)") }
                // The same through `linear` (weight [n, k]) with a bias.
                if transB {
                    let bias = Tensor.randn([n], rng: &rng)
                    let l = a.linear(weight: b, bias: bias)
                    for i in 0..<m { for j in 0..<n { XCTAssertEqual(l[i, j], ref[i * n + j] + bias[j], accuracy: 1e-4) } }
                }
            }
        }
    }

    func testBatchedMatmulBroadcastsBatchDimensions() {
        var rng = SeededRNG(seed: 2)
        let a = Tensor.randn([2, 3, 4, 5], rng: &rng), b = Tensor.randn([3, 5, 6], rng: &rng)
        let c = a.matmul(b)
        XCTAssertEqual(c.shape, [2, 3, 4, 6])
        for i in 0..<2 { for h in 0..<3 {
            let ai = a.slice(dim: 0, i, i + 1).slice(dim: 1, h, h + 1).reshaped([4, 5])
            let bh = b.slice(dim: 0, h, h + 1).reshaped([5, 6])
            let ref = naiveMatmul(ai.scalars, bh.scalars, m: 4, k: 5, n: 6, transB: false)
            let got = c.slice(dim: 0, i, i + 1).slice(dim: 1, h, h + 1).scalars
            for (x, y) in zip(got, ref) { XCTAssertEqual(x, y, accuracy: 1e-4) }
        } }
    }

    func testBroadcastingShapesAndValues() {
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 1, 3])
        let b = Tensor([10, 20], shape: [2, 1])
        let c = a + b
        XCTAssertEqual(c.shape, [2, 2, 3])
        XCTAssertEqual(c.scalars, [11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26])
        XCTAssertEqual((a * 2).scalars, [2, 4, 6, 8, 10, 12])
        XCTAssertEqual((1 - a).scalars, [0, -1, -2, -3, -4, -5])
        let rowSums: [Float] = [81, 141]   // 11+12+13+14+15+16, 21+...+26
        XCTAssertEqual(c.sumTo([2, 1]).scalars, rowSums)
    }

    func testGradientsAccumulateForReusedInputsAndNoGradRecordsNothing() {
        let x = Tensor([1, 2, 3], shape: [3], requiresGrad: true)
        (x * x + x).sum().backward()                  // d/dx = 2x + 1
        XCTAssertEqual(x.grad!.scalars, [3, 5, 7])
        (x + x).sum().backward()                      // accumulates 2 more
        XCTAssertEqual(x.grad!.scalars, [5, 7, 9])
        let y = Tensor.withNoGrad { x * 3 }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue(Tensor.isGradEnabled)
        let leaf = Tensor([1, 2], shape: [2])
        XCTAssertFalse((leaf * 2).requiresGrad, "ops on tensors without gradients record nothing")
    }

    func testReshapeSharesStorageAndPermuteMoves() {
        let a = Tensor((0..<24).map { Float($0) }, shape: [2, 3, 4])
        let r = a.reshaped([6, -1])
        XCTAssertEqual(r.shape, [6, 4])
        XCTAssertTrue(r.storage === a.storage)
        let p = a.permuted([2, 0, 1])
        XCTAssertEqual(p.shape, [4, 2, 3])
        XCTAssertEqual(p[3, 1, 2], a[1, 2, 3])
        XCTAssertEqual(a.transposed(0, 2)[3, 2, 1], a[1, 2, 3])
    }

    func testSeededRandomnessIsReproducible() {
        var r1 = SeededRNG(seed: 99), r2 = SeededRNG(seed: 99), r3 = SeededRNG(seed: 100)
        let a = Tensor.randn([100], rng: &r1), b = Tensor.randn([100], rng: &r2), c = Tensor.randn([100], rng: &r3)
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertNotEqual(a.scalars, c.scalars)
        let mean = a.scalars.reduce(0, +) / 100
        XCTAssertLessThan(abs(mean), 0.35)
        var r4 = SeededRNG(seed: 5)
        let d = Tensor.ones([1000]).dropout(0.3, training: true, rng: &r4)
        let zeros = d.scalars.filter { $0 == 0 }.count
        XCTAssertTrue((220...380).contains(zeros), "about 30% dropped, got \(zeros)")
        XCTAssertEqual(d.scalars.first { $0 != 0 }!, 1 / 0.7, accuracy: 1e-6)
    }

    func testCrossEntropyIgnoresRowsAndAllIgnoredIsZero() {
        let logits = Tensor([2, 1, 0, 0, 0, 5], shape: [2, 3], requiresGrad: true)
        let l = logits.crossEntropy(targets: [0, -100])
        let e2 = Foundation.exp(2.0), e1 = Foundation.exp(1.0)
        let expected = -Foundation.log(e2 / (e2 + e1 + 1))
        XCTAssertEqual(l.item, Float(expected), accuracy: 1e-6)
        l.backward()
        XCTAssertEqual(Array(logits.grad!.scalars[3...]), [0, 0, 0])
        XCTAssertEqual(logits.crossEntropy(targets: [-100, -100]).item, 0)
    }
}
