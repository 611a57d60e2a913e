import XCTest
import TensorEngine

/// The LAPACK eigensolver (dsyevd from OpenBLAS, declared in CBLAS/shim.h) and Double GEMM that FID is
/// built on: checked by hand on a 2 x 2 matrix and by reconstruction on a random one.
final class SymmetricEigenTests: XCTestCase {
    func testTwoByTwoByHand() throws {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3 with eigenvectors (1, -1)/sqrt 2 and (1, 1)/sqrt 2.
        let e = try SymmetricEigen([2, 1, 1, 2], order: 2, vectors: true)
        XCTAssertEqual(e.values[0], 1, accuracy: 1e-14)
        XCTAssertEqual(e.values[1], 3, accuracy: 1e-14)
        let h = 0.5.squareRoot()
        // Column 0 (vectors[0], vectors[2]) is (1, -1)/sqrt 2 up to sign.
        XCTAssertEqual(abs(e.vectors[0]), h, accuracy: 1e-14)
        XCTAssertEqual(e.vectors[0] + e.vectors[2], 0, accuracy: 1e-14)
        XCTAssertEqual(e.vectors[1], e.vectors[3], accuracy: 1e-14)
        XCTAssertEqual(try SymmetricEigen([2, 1, 1, 2], order: 2, vectors: false).vectors, [])
    }

    func testRandomMatrixReconstructs() throws {
        var rng = SeededRNG(seed: 9)
        let n = 7
        var b = [Double](repeating: 0, count: n * n)
        for i in 0..<(n * n) { b[i] = Double(rng.nextNormal()) }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { a[i * n + j] = b[i * n + j] + b[j * n + i] } }
        let e = try SymmetricEigen(a, order: n, vectors: true)
        XCTAssertEqual(e.values, e.values.sorted())
        // Values only: the same up to rounding (LAPACK takes a different path without vectors).
        for (x, y) in zip(try SymmetricEigen(a, order: n, vectors: false).values, e.values) { XCTAssertEqual(x, y, accuracy: 1e-12) }
        // V diag(w) Vᵀ through dgemm, and VᵀV = I.
        var scaled = e.vectors
        for i in 0..<n { for j in 0..<n { scaled[i * n + j] *= e.values[j] } }
        var back = [Double](repeating: 0, count: n * n), gram = [Double](repeating: 0, count: n * n)
        dgemm(transA: false, transB: true, m: n, n: n, k: n, a: scaled, lda: n, b: e.vectors, ldb: n, c: &back, ldc: n)
        dgemm(transA: true, transB: false, m: n, n: n, k: n, a: e.vectors, lda: n, b: e.vectors, ldb: n, c: &gram, ldc: n)
        for i in 0..<n {
            for j in 0..<n {
                XCTAssertEqual(back[i * n + j], a[i * n + j], accuracy: 1e-12)
                XCTAssertEqual(gram[i * n + j], i == j ? 1 : 0, accuracy: 1e-12)
            }
        }
        // dgemm against a plain triple loop, non-square with both transposes off.
        let x: [Double] = [1, 2, 3, 4, 5, 6], y: [Double] = [7, 8, 9, 10, 11, 12]   // [2, 3] @ [3, 2]
        var c = [Double](repeating: 0, count: 4)
        dgemm(transA: false, transB: false, m: 2, n: 2, k: 3, a: x, lda: 3, b: y, ldb: 2, c: &c, ldc: 2)
        XCTAssertEqual(c, [58, 64, 139, 154])
    }

    func testBadInput() {
        XCTAssertThrowsError(try SymmetricEigen([1, 2, 3], order: 2, vectors: true)) {
            XCTAssertEqual("\($0)", "invalid argument: symmetric eigendecomposition: 3 values for a 2 x 2 matrix")
        }
        XCTAssertThrowsError(try SymmetricEigen([1, .nan, .nan, 1], order: 2, vectors: false)) {
            XCTAssertEqual("\($0)", "invalid argument: symmetric eigendecomposition: the matrix holds a non-finite value")
        }
    }
}
