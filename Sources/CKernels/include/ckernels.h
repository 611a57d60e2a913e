// Hand-written CPU kernels the engine calls where Swift cannot reach the instructions: F16C's
// half<->float conversion and AVX2/FMA loops over compact (F16, int8) weight matrices. Every entry
// point checks the CPU once and falls back to portable C, so the package runs on any x86-64 or ARM.
#ifndef MOTIONGPT_CKERNELS_H
#define MOTIONGPT_CKERNELS_H

#include <stdint.h>

/// 1 when the AVX2 + FMA + F16C paths are in use on this CPU, else 0 (portable C).
int mgpt_kernels_vectorized(void);
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
