/* conv_gemm_avx2: the AVX2 + FMA GEMM of the pose convolutions, built only
 * for x86 and with -march=x86-64-v3 (pose/meson.build); conv.c calls it when
 * the CPU has AVX2 and FMA and either lacks AVX-512 or the load options stop
 * below it (max_isa avx2).
 *
 * The same product as conv_gemm_avx512.c, on the same packed filter (panels
 * of 32 columns, the last one 16), so that both sets share conv_pack_weights:
 * out[m, n] = act(a[m, k] x w[k, n] + bias + residual). With 16 ymm registers
 * the tile is 6 rows x 16 columns, 12 accumulators, two filter vectors and a
 * broadcast (the register budget of the usual Haswell kernels); a 32-column
 * panel is done as two halves of 16, both over the same 6 rows of a while
 * they are in L1. The sums run in the AVX-512 kernel's order (bias, residual,
 * then k ascending, fused multiply-adds), so both sets give the same floats. */
#include <immintrin.h>

#include "conv_kernels.h"

/* A mask of the first valid lanes (valid may be <= 0 or >= 8). */
static inline __attribute__((always_inline)) __m256i conv_lanes(int valid)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __attribute__((always_inline)) __m256 conv_load_part(const float *p, int valid)
{
    if (valid >= 8)
        return _mm256_loadu_ps(p);
    return _mm256_maskload_ps(p, conv_lanes(valid));
}

static inline __attribute__((always_inline)) void conv_store_part(float *p, __m256 v, int valid)
{
    if (valid >= 8)
        _mm256_storeu_ps(p, v);
    else
        _mm256_maskstore_ps(p, conv_lanes(valid), v);
}

/* act(x) as conv_gemm_avx512 computes it: x & (x > 0) (NaN becomes 0), then
 * x where x < 6 else 6. */
static inline __attribute__((always_inline)) __m256 conv_act(__m256 x, enum conv_act act)
{
    if (act == CONV_ACT_NONE)
        return x;
    x = _mm256_and_ps(x, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ));
    if (act == CONV_ACT_RELU6) {
        __m256 six = _mm256_set1_ps(6.0f);
        x = _mm256_blendv_ps(six, x, _mm256_cmp_ps(x, six, _CMP_LT_OQ));
    }
    return x;
}

/* MR rows x NV vectors of 8 columns; b walks the panel with stride bstride
 * floats per k. MR and NV are constants at every call. */
static inline __attribute__((always_inline)) void
conv_tile(float *out, int ldo, const float *a, int lda, const float *b, int bstride, int k,
          const __m256 *bias, const float *res, int valid, enum conv_act act, const int MR,
          const int NV)
{
    __m256 acc[6][2];

#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            acc[r][v] = bias[v];
            if (res)
                acc[r][v] = _mm256_add_ps(
                    acc[r][v], conv_load_part(res + (size_t)r * ldo + v * 8, valid - v * 8));
        }
    }
    for (int kk = 0; kk < k; kk++, b += bstride) {
        __m256 b0 = _mm256_loadu_ps(b);
        __m256 b1 = NV == 2 ? _mm256_loadu_ps(b + 8) : b0;
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m256 av = _mm256_broadcast_ss(a + (size_t)r * lda + kk);
            acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
            if (NV == 2)
                acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            conv_store_part(out + (size_t)r * ldo + v * 8, conv_act(acc[r][v], act), valid - v * 8);
    }
}

/* Rows [i, i + MR) against the 16 columns at b (valid of them real). */
#define CONV_TILE(MR)                                                                              \
    do {                                                                                           \
        if (valid > 8)                                                                             \
            conv_tile(o, n, ai, k, b, bstride, k, bv, ri, valid, act, MR, 2);                      \
        else                                                                                       \
            conv_tile(o, n, ai, k, b, bstride, k, bv, ri, valid, act, MR, 1);                      \
    } while (0)

/* One block of rows [i, i + rows), rows <= 6, on the 16 columns at j of
 * the panel at bp (width bstride). */
static inline __attribute__((always_inline)) void
conv_rows_half(float *out, const float *a, const float *bp, int bstride, const float *bias,
               const float *res, int i, int rows, int j, int k, int n, enum conv_act act)
{
    int valid = n - j;
    const float *b = bp;
    __m256 bv[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    if (bias) {
        bv[0] = conv_load_part(bias + j, valid);
        bv[1] = conv_load_part(bias + j + 8, valid - 8);
    }
    size_t off = (size_t)i * n + j;
    float *o = out + off;
    const float *ai = a + (size_t)i * k;
    const float *ri = res ? res + off : NULL;
    switch (rows) {
    case 6:
        CONV_TILE(6);
        break;
    case 5:
        CONV_TILE(5);
        break;
    case 4:
        CONV_TILE(4);
        break;
    case 3:
        CONV_TILE(3);
        break;
    case 2:
        CONV_TILE(2);
        break;
    default:
        CONV_TILE(1);
        break;
    }
}

void conv_gemm_avx2(float *out, const float *a, const float *packed, const float *bias,
                    const float *res, int m, int k, int n, enum conv_act act)
{
    int np = (n + 15) / 16 * 16;

    for (int j0 = 0; j0 < np; j0 += 32) {
        int width = np - j0 >= 32 ? 32 : 16;
        const float *bp = packed + (size_t)j0 * k;
        for (int i = 0; i < m; i += 6) {
            int rows = m - i < 6 ? m - i : 6;
            conv_rows_half(out, a, bp, width, bias, res, i, rows, j0, k, n, act);
            if (width == 32)
                conv_rows_half(out, a, bp + 16, width, bias, res, i, rows, j0 + 16, k, n, act);
        }
    }
}
