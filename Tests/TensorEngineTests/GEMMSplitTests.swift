@testable import TensorEngine
import XCTest

/// `sgemm` cuts large products into bands run on the engine's threads; every band layout (rows, columns,
/// the single-row GEMV) with every transpose, alpha, beta and padded leading dimensions equals a
/// Double-precision triple loop.
final class GEMMSplitTests: XCTestCase {
    func testSplitProductsEqualTheTripleLoop() {
        var rng = SeededRNG(seed: 5)
        XCTAssertGreaterThanOrEqual(70 * 40 * 400, gemmSplitWork, "the shapes must be large enough to be split")
        XCTAssertGreaterThanOrEqual(260 * 250 * 260, gemmFineSplitWork, "and one large enough for the finer split")
        for (m, n, k) in [(70, 40, 400), (40, 70, 400), (1, 1100, 1000), (33, 2, 20000), (3, 5, 7), (260, 250, 260)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    for (alpha, beta) in [(Float(1), Float(0)), (0.5, 2)] {
                        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
                        let a = Tensor.randn([(transA ? k : m) * lda], rng: &rng)
                        let b = Tensor.randn([(transB ? n : k) * ldb], rng: &rng)
                        let c = Tensor.randn([m * ldc], rng: &rng), c0 = c.copy()
                        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.storage.pointer, lda: lda,
                              b: b.storage.pointer, ldb: ldb, beta: beta, c: c.storage.pointer, ldc: ldc)
                        let pa = a.storage.pointer, pb = b.storage.pointer
                        var worst = 0.0
                        for i in 0..<m {
                            for j in 0..<ldc {
                                let got = Double(c.storage.pointer[i * ldc + j]), before = Double(c0.storage.pointer[i * ldc + j])
                                guard j < n else { XCTAssertEqual(got, before, "padding column written"); continue }
                                var s = 0.0
                                for t in 0..<k {
                                    let av = transA ? pa[t * lda + i] : pa[i * lda + t]
                                    let bv = transB ? pb[j * ldb + t] : pb[t * ldb + j]
                                    s += Double(av) * Double(bv)
                                }
                                let ref = Double(alpha) * s + Double(beta) * before
                                worst = max(worst, abs(got - ref) / max(1, Double(k).squareRoot()))
                            }
                        }
                        XCTAssertLessThan(worst, 1e-4, "m\(m) n\(n) k\(k) transA \(transA) transB \(transB) alpha \(alpha) beta \(beta)")
                    }
                }
            }
        }
    }
}
