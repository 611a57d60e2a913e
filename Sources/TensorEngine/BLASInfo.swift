import CBLAS

/// Threads OpenBLAS uses for GEMM (set with OPENBLAS_NUM_THREADS).
public func blasThreads() -> Int { _ = blasOwnThreads; return Int(openblas_get_num_threads()) }

/// Runs `body` with OpenBLAS on `threads` of its own threads (the benchmark's raw-BLAS rows), then
/// back to the engine's setting.
public func withBLASThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
    _ = blasOwnThreads
    openblas_set_num_threads(Int32(threads))
    defer { openblas_set_num_threads(Int32(blasOwnThreads)) }
    return try body()
}
