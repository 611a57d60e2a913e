import CBLAS

/// Row-major `C = alpha * op(A) op(B) + beta * C` in Double through OpenBLAS, for statistics (covariances,
/// matrix square roots) where Float's 7 digits are not enough. Same argument meaning as `sgemm`.
public func dgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                  alpha: Double = 1, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                  beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // As in sgemm: BLAS's handling of an empty product is not something to rely on.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    _ = blasOwnThreads  // OpenBLAS set up as for sgemm (single-threaded, its kernels chosen) before its first call
    cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The eigendecomposition of a real symmetric `n x n` matrix: `A = V diag(values) Vᵀ`.
public struct SymmetricEigen: Sendable {
    /// The eigenvalues, ascending.
    public var values: [Double]
    /// The eigenvectors, row-major `n x n`, one per column: column `j` (`vectors[i * n + j]` over `i`) belongs
    /// to `values[j]`; orthonormal. Empty when only the values were asked for.
    public var vectors: [Double]

    /// Decomposes `matrix` (row-major `n x n`) with LAPACK's divide-and-conquer `dsyevd` from OpenBLAS.
    ///
    /// Only one triangle is read (the upper one in row-major terms), so the caller must pass a matrix
    /// that is symmetric; one that is symmetric only up to rounding (a product like `S Sᵀ`) should be
    /// averaged with its transpose first, or the other triangle's rounding is silently ignored.
    ///
    /// - Throws: `TensorError.invalidArgument` if `matrix` does not hold `n * n` values, holds a non-finite
    ///   one, or LAPACK reports that the iteration did not converge.
    public init(_ matrix: [Double], order n: Int, vectors wantVectors: Bool) throws {
        guard n >= 0, matrix.count == n * n else {
            throw TensorError.invalidArgument("symmetric eigendecomposition: \(matrix.count) values for a \(n) x \(n) matrix")
        }
        guard matrix.allSatisfy({ $0.isFinite }) else {
            throw TensorError.invalidArgument("symmetric eigendecomposition: the matrix holds a non-finite value")
        }
        if n == 0 { values = []; vectors = []; return }
        // Row-major and column-major storage of a symmetric matrix are the same array; LAPACK overwrites it
        // with the eigenvectors in column-major order.
        var a = matrix
        var w = [Double](repeating: 0, count: n)
        var order = Int32(n), lda = Int32(n), info: Int32 = 0
        var jobz: CChar = wantVectors ? 0x56 : 0x4E   // "V" / "N"
        var uplo: CChar = 0x4C                         // "L" of the column-major matrix = row-major upper
        // Workspace query (lwork = liwork = -1), then the call.
        var workSize = 0.0, iworkSize: Int32 = 0, queryWork: Int32 = -1, queryIwork: Int32 = -1
        dsyevd_(&jobz, &uplo, &order, &a, &lda, &w, &workSize, &queryWork, &iworkSize, &queryIwork, &info, 1, 1)
        guard info == 0 else { throw TensorError.invalidArgument("symmetric eigendecomposition: dsyevd workspace query failed (info \(info))") }
        var lwork = Int32(workSize.rounded(.up)), liwork = max(iworkSize, 1)
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jobz, &uplo, &order, &a, &lda, &w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        guard info == 0 else {
            throw TensorError.invalidArgument("symmetric eigendecomposition: dsyevd did not converge (info \(info)) on a \(n) x \(n) matrix")
        }
        values = w
        if wantVectors {
            // Column-major V (a[i + j*n] = component i of vector j) to row-major with vectors in columns.
            var v = [Double](repeating: 0, count: n * n)
            for i in 0..<n { for j in 0..<n { v[i * n + j] = a[i + j * n] } }
            vectors = v
        } else {
            vectors = []
        }
    }
}
