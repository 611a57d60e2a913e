// Hand-written CPU kernels the engine calls where Swift cannot reach the instructions: F16C's
// half<->float conversion and AVX2/FMA loops over compact (F16, int8) weight matrices. Every entry
// point checks the CPU once and falls back to portable C, so the package runs on any x86-64 or ARM.
#ifndef MOTIONGPT_CKERNELS_H
#define MOTIONGPT_CKERNELS_H

#include <stdint.h>

/// 1 when the AVX2 + FMA + F16C paths are in use on this CPU, else 0 (portable C).
int mgpt_kernels_vectorized(void);
/// 1 when the CPU has AVX-512 F, BW, DQ and VL (what OpenBLAS's SkylakeX kernels need), else 0.
int mgpt_cpu_has_avx512(void);
/// Tests: 1 forces the portable C paths, 0 goes back to what the CPU supports.
void mgpt_kernels_force_portable(int on);

/// dst[i] = half(src[i]), round to nearest even (IEEE binary16 bit patterns).
void mgpt_f32_to_f16(const float *src, uint16_t *dst, long count);
/// dst[i] = float(src[i]) (exact).
void mgpt_f16_to_f32(const uint16_t *src, float *dst, long count);

/// Product with an F16 weight matrix W [n, k] (row-major, one output per row, as nn.Linear stores it):
/// y[r * ldy + j] = (accumulate ? y[r * ldy + j] : 0) + sum_t x[r * ldx + t] * W[j * k + t]
/// for r < m, j < n. W is read from memory once whatever m is (each row is used for every r while it
/// is in cache), so the cost for small m is the bytes of W.
void mgpt_gemm_f16(const uint16_t *w, long n, long k, const float *x, long m, long ldx, float *y, long ldy, int accumulate);

/// The same with int8 rows and one scale per row: W[j, t] = scale[j] * q[j * k + t].
void mgpt_gemm_i8(const int8_t *q, const float *scale, long n, long k, const float *x, long m, long ldx,
                  float *y, long ldy, int accumulate);

/// GELU with the exact (erf) form, y = x * Phi(x), and its derivative d = Phi(x) + x * phi(x).
/// erf is Abramowitz and Stegun 7.1.26 (absolute error under 1.5e-7, the same family of polynomial
/// ATen's vectorised erf uses) with a Cephes-style exp; vectorised for AVX2 + FMA.
void mgpt_gelu(const float *x, float *y, long count);
void mgpt_gelu_derivative(const float *x, float *d, long count);

/// glibc only: serve blocks up to `mmap_threshold` bytes from the heap and return the heap's top to the
/// system only past `trim_threshold` (mallopt); each value <= 0 leaves that setting alone. Elsewhere a no-op.
void mgpt_tune_allocator(long mmap_threshold, long trim_threshold);

/// Sum of `count` floats read once in order (the memory-bandwidth probe of `motiongpt bench`).
float mgpt_read_sum(const float *src, long count);

/// A part of a parallel job: `fn(ctx, part)` for part in 0 ..< parts.
typedef void (*mgpt_task_fn)(void *ctx, long part);

/// Runs `fn(ctx, 0 ..< parts)` on the engine's worker threads and the calling thread, returning when
/// every part is done. Workers spin briefly after a job (so back-to-back operations of a training
/// step or a decoded token find them awake without a system call) and then sleep on a condition
/// variable. A call made while the pool is busy (from a part, or from another thread) runs its parts
/// on the calling thread. `threads` (workers + caller) is fixed by the first call to mgpt_pool_init.
void mgpt_pool_run(long parts, mgpt_task_fn fn, void *ctx);
/// Starts the pool with `threads` threads in all (the caller counts as one); later calls do nothing.
void mgpt_pool_init(int threads, long spin_microseconds);

#endif
