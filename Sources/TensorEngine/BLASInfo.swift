import CBLAS

/// Threads OpenBLAS uses for GEMM (set with OPENBLAS_NUM_THREADS).
public func blasThreads() -> Int { Int(openblas_get_num_threads()) }
