// See include/ckernels.h. The vector paths are compiled for AVX2 + FMA + F16C with function
// attributes (the rest of the package keeps the default target) and chosen at run time.
#include "ckernels.h"

#include <string.h>

// ---- portable half <-> float (IEEE binary16) -------------------------------------------------

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) return sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0);  // inf / nan
    if (absx >= 0x477ff000u) return sign | 0x7c00;                                    // rounds to inf
    if (absx < 0x38800000u) {                                                          // subnormal or zero
        if (absx < 0x33000000u) return sign;                                           // below half the smallest subnormal
        // The value in units of 2^-24 (the smallest subnormal) is man * 2^(exp - 126), exp < 113.
        uint32_t exp = absx >> 23, man = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - exp;  // 14 ... 24
        uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        uint32_t val = man >> shift;  // rounding up into 0x400 gives the smallest normal, as it should
        if (rem > half || (rem == half && (val & 1))) val++;
        return sign | (uint16_t)val;
    }
    uint32_t r = absx - 0x38000000u;  // rebias exponent 127 -> 15
    uint32_t val = r >> 13, rem = r & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (val & 1))) val++;
    return sign | (uint16_t)val;
}

static void gemm_scalar_f16(const uint16_t *w, long n, long k, const float *x, long m, long ldx, float *y, long ldy, int acc) {
    for (long j = 0; j < n; j++) {
        for (long r = 0; r < m; r++) {
            float s = 0;
            for (long t = 0; t < k; t++) s += half_to_float(w[j * k + t]) * x[r * ldx + t];
            y[r * ldy + j] = (acc ? y[r * ldy + j] : 0) + s;
        }
    }
}

static void gemm_scalar_i8(const int8_t *q, const float *scale, long n, long k, const float *x, long m, long ldx,
                           float *y, long ldy, int acc) {
    for (long j = 0; j < n; j++) {
        for (long r = 0; r < m; r++) {
            float s = 0;
            for (long t = 0; t < k; t++) s += (float)q[j * k + t] * x[r * ldx + t];
            y[r * ldy + j] = (acc ? y[r * ldy + j] : 0) + scale[j] * s;
        }
    }
}

#include <math.h>

// Abramowitz and Stegun 7.1.26 for erf(z), z >= 0, given e = exp(-z*z).
static const float erf_p = 0.3275911f, erf_a1 = 0.254829592f, erf_a2 = -0.284496736f, erf_a3 = 1.421413741f,
                   erf_a4 = -1.453152027f, erf_a5 = 1.061405429f;

static inline float erf_pos(float z, float e) {
    float t = 1.0f / (1.0f + erf_p * z);
    float poly = ((((erf_a5 * t + erf_a4) * t + erf_a3) * t + erf_a2) * t + erf_a1) * t;
    return 1.0f - poly * e;
}

static void gelu_scalar(const float *x, float *y, long count) {
    for (long i = 0; i < count; i++) {
        float v = x[i], z = fabsf(v) * 0.70710678118654752f;
        float erfz = erf_pos(z, expf(-z * z));
        y[i] = 0.5f * v * (1.0f + (v < 0 ? -erfz : erfz));
    }
}

static void gelu_derivative_scalar(const float *x, float *d, long count) {
    for (long i = 0; i < count; i++) {
        float v = x[i], z = fabsf(v) * 0.70710678118654752f, e = expf(-z * z);
        float erfz = erf_pos(z, e);
        d[i] = 0.5f * (1.0f + (v < 0 ? -erfz : erfz)) + v * 0.39894228040143268f * e;
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VEC __attribute__((target("avx2,fma,f16c")))
#ifndef PREFETCH_BLOCKS
#define PREFETCH_BLOCKS 4
#endif

static VEC inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(s);
    s = _mm_add_ps(s, sh);
    sh = _mm_movehl_ps(sh, s);
    return _mm_cvtss_f32(_mm_add_ss(s, sh));
}

static VEC inline __m256 load8_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static VEC inline __m256 load8_i8(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
static inline float one_f16(const uint16_t *p) { return half_to_float(*p); }
static inline float one_i8(const int8_t *p) { return (float)*p; }

// Blocks of 4 weight rows x 2 input rows (8 accumulators: enough independent FMA chains to hide
// latency, few enough registers to keep the loads in flight). Weight rows are converted to float
// in registers and never written back.
#define DEFINE_GEMM(NAME, WT, LOAD8, ONE)                                                                      \
    static VEC void NAME(const WT *w, const float *scale, long n, long k, const float *x, long m, long ldx,     \
                         float *y, long ldy, int acc) {                                                        \
        long k8 = k & ~7L, j = 0;                                                                              \
        for (; j + 4 <= n; j += 4) {                                                                           \
            const WT *w0 = w + j * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;                                \
            float sc[4];                                                                                       \
            for (int i = 0; i < 4; i++) sc[i] = scale ? scale[j + i] : 1.0f;                                   \
            long r = 0;                                                                                        \
            for (; r + 2 <= m; r += 2) {                                                                       \
                const float *xa = x + r * ldx, *xb = xa + ldx;                                                 \
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0; \
                /* The first pair of rows streams the weights from memory (later pairs find them in cache). */ \
                const char *ahead = (const char *)(w0 + PREFETCH_BLOCKS * 4 * k);                              \
                long lines = (r == 0 && j + 4 * (PREFETCH_BLOCKS + 1) <= n ? 4 * k * (long)sizeof(WT) / 64 : 0); \
                long iters = k8 / 8, perIter = iters ? (lines + iters - 1) / iters : 0, line = 0;              \
                for (long t = 0; t < k8; t += 8) {                                                             \
                    for (long q = 0; q < perIter && line < lines; q++, line++) _mm_prefetch(ahead + line * 64, _MM_HINT_T0); \
                    __m256 va = _mm256_loadu_ps(xa + t), vb = _mm256_loadu_ps(xb + t);                         \
                    __m256 q = LOAD8(w0 + t); a0 = _mm256_fmadd_ps(q, va, a0); b0 = _mm256_fmadd_ps(q, vb, b0); \
                    q = LOAD8(w1 + t); a1 = _mm256_fmadd_ps(q, va, a1); b1 = _mm256_fmadd_ps(q, vb, b1);       \
                    q = LOAD8(w2 + t); a2 = _mm256_fmadd_ps(q, va, a2); b2 = _mm256_fmadd_ps(q, vb, b2);       \
                    q = LOAD8(w3 + t); a3 = _mm256_fmadd_ps(q, va, a3); b3 = _mm256_fmadd_ps(q, vb, b3);       \
                }                                                                                              \
                float sa[4] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};                                        \
                float sb[4] = {hsum(b0), hsum(b1), hsum(b2), hsum(b3)};                                        \
                const WT *ws[4] = {w0, w1, w2, w3};                                                            \
                for (long t = k8; t < k; t++)                                                                  \
                    for (int i = 0; i < 4; i++) { float v = ONE(ws[i] + t); sa[i] += v * xa[t]; sb[i] += v * xb[t]; } \
                float *ya = y + r * ldy + j, *yb = ya + ldy;                                                   \
                for (int i = 0; i < 4; i++) {                                                                  \
                    ya[i] = (acc ? ya[i] : 0) + sc[i] * sa[i];                                                 \
                    yb[i] = (acc ? yb[i] : 0) + sc[i] * sb[i];                                                 \
                }                                                                                              \
            }                                                                                                  \
            if (r < m) {                                                                                       \
                const float *xa = x + r * ldx;                                                                 \
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                    \
                /* One pass over these rows streams them from memory: ask for a later block's rows while  \
                   this one is summed (the hardware prefetcher alone left a large F16 matrix at 40% of the  \
                   read bandwidth). The lines are spread evenly over the loop. */                           \
                const char *ahead = (const char *)(w0 + PREFETCH_BLOCKS * 4 * k);                              \
                long lines = (j + 4 * (PREFETCH_BLOCKS + 1) <= n ? 4 * k * (long)sizeof(WT) / 64 : 0);         \
                long iters = k8 / 8, perIter = iters ? (lines + iters - 1) / iters : 0, line = 0;              \
                for (long t = 0; t < k8; t += 8) {                                                             \
                    for (long q = 0; q < perIter && line < lines; q++, line++) _mm_prefetch(ahead + line * 64, _MM_HINT_T0); \
                    __m256 va = _mm256_loadu_ps(xa + t);                                                       \
                    a0 = _mm256_fmadd_ps(LOAD8(w0 + t), va, a0);                                               \
                    a1 = _mm256_fmadd_ps(LOAD8(w1 + t), va, a1);                                               \
                    a2 = _mm256_fmadd_ps(LOAD8(w2 + t), va, a2);                                               \
                    a3 = _mm256_fmadd_ps(LOAD8(w3 + t), va, a3);                                               \
                }                                                                                              \
                float sa[4] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};                                        \
                const WT *ws[4] = {w0, w1, w2, w3};                                                            \
                for (long t = k8; t < k; t++)                                                                  \
                    for (int i = 0; i < 4; i++) sa[i] += ONE(ws[i] + t) * xa[t];                               \
                float *ya = y + r * ldy + j;                                                                   \
                for (int i = 0; i < 4; i++) ya[i] = (acc ? ya[i] : 0) + sc[i] * sa[i];                        \
            }                                                                                                  \
        }                                                                                                      \
        for (; j < n; j++) {                                                                                   \
            const WT *wj = w + j * k;                                                                          \
            float s0 = scale ? scale[j] : 1.0f;                                                                \
            for (long r = 0; r < m; r++) {                                                                     \
                const float *xa = x + r * ldx;                                                                 \
                __m256 a = _mm256_setzero_ps();                                                                \
                for (long t = 0; t < k8; t += 8) a = _mm256_fmadd_ps(LOAD8(wj + t), _mm256_loadu_ps(xa + t), a); \
                float s = hsum(a);                                                                             \
                for (long t = k8; t < k; t++) s += ONE(wj + t) * xa[t];                                        \
                y[r * ldy + j] = (acc ? y[r * ldy + j] : 0) + s0 * s;                                          \
            }                                                                                                  \
        }                                                                                                      \
    }

DEFINE_GEMM(gemm_vec_f16, uint16_t, load8_f16, one_f16)
DEFINE_GEMM(gemm_vec_i8, int8_t, load8_i8, one_i8)

static VEC void f32_to_f16_vec(const float *src, uint16_t *dst, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < count; i++) dst[i] = float_to_half(src[i]);
}

static VEC void f16_to_f32_vec(const uint16_t *src, float *dst, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(dst + i, load8_f16(src + i));
    for (; i < count; i++) dst[i] = half_to_float(src[i]);
}

// exp(x) for x <= 0 (what GELU needs: x = -z*z), Cephes' expf: 2^n * P(r), r = x - n ln2.
static VEC inline __m256 exp_neg(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// Phi-related pieces for 8 values: returns erf(|x|/sqrt2) with its sign applied, and e = exp(-x*x/2).
static VEC inline __m256 erf_signed(__m256 v, __m256 *e_out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign, v), _mm256_set1_ps(0.70710678118654752f));
    __m256 e = exp_neg(_mm256_mul_ps(_mm256_mul_ps(z, z), _mm256_set1_ps(-1.0f)));
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(erf_p), z, _mm256_set1_ps(1.0f)));
    __m256 poly = _mm256_fmadd_ps(_mm256_set1_ps(erf_a5), t, _mm256_set1_ps(erf_a4));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(erf_a3));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(erf_a2));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(erf_a1));
    poly = _mm256_mul_ps(poly, t);
    __m256 erfz = _mm256_fnmadd_ps(poly, e, _mm256_set1_ps(1.0f));
    *e_out = e;
    return _mm256_or_ps(erfz, _mm256_and_ps(v, sign));  // erf is odd
}

static VEC void gelu_vec(const float *x, float *y, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i), e;
        __m256 erf = erf_signed(v, &e);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), _mm256_add_ps(_mm256_set1_ps(1.0f), erf)));
    }
    gelu_scalar(x + i, y + i, count - i);
}

static VEC void gelu_derivative_vec(const float *x, float *d, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i), e;
        __m256 erf = erf_signed(v, &e);
        __m256 cdf = _mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
        _mm256_storeu_ps(d + i, _mm256_fmadd_ps(_mm256_mul_ps(v, _mm256_set1_ps(0.39894228040143268f)), e, cdf));
    }
    gelu_derivative_scalar(x + i, d + i, count - i);
}

static VEC float read_sum_vec(const float *src, long count) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    long i = 0;
    for (; i + 32 <= count; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(src + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(src + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(src + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(src + i + 24));
    }
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < count; i++) s += src[i];
    return s;
}

static int detect(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
#else
static int detect(void) { return 0; }
#endif

static int vectorized = -1;

int mgpt_cpu_has_avx512(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

int mgpt_kernels_vectorized(void) {
    if (vectorized < 0) vectorized = detect();  // idempotent: a race writes the same value
    return vectorized;
}

void mgpt_gelu(const float *x, float *y, long count) {
#if defined(__x86_64__) || defined(__i386__)
    if (mgpt_kernels_vectorized()) { gelu_vec(x, y, count); return; }
#endif
    gelu_scalar(x, y, count);
}

void mgpt_gelu_derivative(const float *x, float *d, long count) {
#if defined(__x86_64__) || defined(__i386__)
    if (mgpt_kernels_vectorized()) { gelu_derivative_vec(x, d, count); return; }
#endif
    gelu_derivative_scalar(x, d, count);
}

float mgpt_read_sum(const float *src, long count) {
#if defined(__x86_64__) || defined(__i386__)
    if (mgpt_kernels_vectorized()) return read_sum_vec(src, count);
#endif
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    long i = 0;
    for (; i + 4 <= count; i += 4) { s0 += src[i]; s1 += src[i + 1]; s2 += src[i + 2]; s3 += src[i + 3]; }
    for (; i < count; i++) s0 += src[i];
    return s0 + s1 + s2 + s3;
}

void mgpt_kernels_force_portable(int on) { vectorized = on ? 0 : detect(); }

void mgpt_f32_to_f16(const float *src, uint16_t *dst, long count) {
#if defined(__x86_64__) || defined(__i386__)
    if (mgpt_kernels_vectorized()) { f32_to_f16_vec(src, dst, count); return; }
#endif
    for (long i = 0; i < count; i++) dst[i] = float_to_half(src[i]);
}

void mgpt_f16_to_f32(const uint16_t *src, float *dst, long count) {
#if defined(__x86_64__) || defined(__i386__)
    if (mgpt_kernels_vectorized()) { f16_to_f32_vec(src, dst, count); return; }
#endif
    for (long i = 0; i < count; i++) dst[i] = half_to_float(src[i]);
}

void mgpt_gemm_f16(const uint16_t *w, long n, long k, const float *x, long m, long ldx, float *y, long ldy, int accumulate) {
#if defined(__x86_64__) || defined(__i386__)
    if (mgpt_kernels_vectorized()) { gemm_vec_f16(w, 0, n, k, x, m, ldx, y, ldy, accumulate); return; }
#endif
    gemm_scalar_f16(w, n, k, x, m, ldx, y, ldy, accumulate);
}

void mgpt_gemm_i8(const int8_t *q, const float *scale, long n, long k, const float *x, long m, long ldx,
                  float *y, long ldy, int accumulate) {
#if defined(__x86_64__) || defined(__i386__)
    if (mgpt_kernels_vectorized()) { gemm_vec_i8(q, scale, n, k, x, m, ldx, y, ldy, accumulate); return; }
#endif
    gemm_scalar_i8(q, scale, n, k, x, m, ldx, y, ldy, accumulate);
}
