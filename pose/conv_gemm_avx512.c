/* conv_gemm_avx512: the AVX-512 GEMM of the pose convolutions, built only
 * for x86 and with -march=x86-64-v4 (pose/meson.build); conv.c calls it only
 * when the CPU has AVX-512 F, DQ, BW and VL and the load options allow it.
 *
 * out[m, n] = act(a[m, k] x w[k, n] + bias + residual) with w packed once at
 * load into panels of 32 columns (the last one 16; zero columns pad n to a
 * multiple of 16; conv_pack_weights), tiles of 8 rows x 32 columns held in 16
 * zmm registers, and the bias, residual and activation applied in registers:
 * no packing of the activations, no extra pass over the output. */
#include <stdint.h>

#include <immintrin.h>

#include "conv_kernels.h"

/* 16 floats; aligned(4) lets loads and stores go through unaligned pointers. */
typedef float vf16 __attribute__((vector_size(64), aligned(4)));
typedef int32_t vi16 __attribute__((vector_size(64), aligned(4)));

/* *x = act(*x); vectors go through pointers, so that no function takes or
 * returns one by value (whose ABI differs with and without AVX-512). */
static inline __attribute__((always_inline)) void conv_act_vec(vf16 *x, enum conv_act act)
{
    if (act == CONV_ACT_NONE)
        return;
    vf16 zero = {0};
    *x = (vf16)((vi16)*x & (*x > zero));
    if (act == CONV_ACT_RELU6) {
        vf16 six = zero + 6.0f;
        vi16 below = *x < six;
        *x = (vf16)(((vi16)*x & below) | ((vi16)six & ~below));
    }
}

/* Loads floats [0, valid) of a 16-float vector, zeros after (masked: only
 * ever inlined into the AVX-512 function below). */
static inline __attribute__((always_inline)) vf16 conv_load_part(const float *p, int valid)
{
    if (valid >= 16)
        return *(const vf16 *)p;
    __mmask16 mask = (__mmask16)((1u << (valid > 0 ? valid : 0)) - 1);
    return (vf16)_mm512_maskz_loadu_ps(mask, p);
}

static inline __attribute__((always_inline)) void conv_store_part(float *p, vf16 v, int valid)
{
    if (valid >= 16) {
        *(vf16 *)p = v;
        return;
    }
    __mmask16 mask = (__mmask16)((1u << (valid > 0 ? valid : 0)) - 1);
    _mm512_mask_storeu_ps(p, mask, (__m512)v);
}

/* One tile of MR rows x NV vectors; MR and NV are constants at every call. */
static inline __attribute__((always_inline)) void
conv_tile(float *out, int ldo, const float *a, int lda, const float *bp, int k, const vf16 *bias,
          const float *res, int valid, enum conv_act act, const int MR, const int NV)
{
    vf16 acc[8][2];

#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            acc[r][v] = bias[v];
            if (res)
                acc[r][v] += conv_load_part(res + (size_t)r * ldo + v * 16, valid - v * 16);
        }
    }
    for (int kk = 0; kk < k; kk++) {
        const float *b = bp + (size_t)kk * NV * 16;
        vf16 b0 = *(const vf16 *)b;
        vf16 b1 = NV == 2 ? *(const vf16 *)(b + 16) : b0;
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            float x = a[(size_t)r * lda + kk];
            vf16 av = {x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
            acc[r][0] += av * b0;
            if (NV == 2)
                acc[r][1] += av * b1;
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            conv_act_vec(&acc[r][v], act);
            conv_store_part(out + (size_t)r * ldo + v * 16, acc[r][v], valid - v * 16);
        }
    }
}

void conv_gemm_avx512(float *out, const float *a, const float *packed, const float *bias,
                      const float *res, int m, int k, int n, enum conv_act act)
{
    int np = (n + 15) / 16 * 16;

    for (int j0 = 0; j0 < np; j0 += 32) {
        bool two = np - j0 >= 32;
        int valid = n - j0;
        const float *bp = packed + (size_t)j0 * k;
        vf16 bv[2] = {{0}, {0}};
        if (bias) {
            bv[0] = conv_load_part(bias + j0, valid);
            if (two)
                bv[1] = conv_load_part(bias + j0 + 16, valid - 16);
        }
        float *o = out + j0;
        const float *r = res ? res + j0 : NULL;
        int i = 0;
        for (; i + 8 <= m; i += 8) {
            size_t off = (size_t)i * n;
            if (two)
                conv_tile(o + off, n, a + (size_t)i * k, k, bp, k, bv, r ? r + off : NULL, valid,
                          act, 8, 2);
            else
                conv_tile(o + off, n, a + (size_t)i * k, k, bp, k, bv, r ? r + off : NULL, valid,
                          act, 8, 1);
        }
        for (; i + 4 <= m; i += 4) {
            size_t off = (size_t)i * n;
            if (two)
                conv_tile(o + off, n, a + (size_t)i * k, k, bp, k, bv, r ? r + off : NULL, valid,
                          act, 4, 2);
            else
                conv_tile(o + off, n, a + (size_t)i * k, k, bp, k, bv, r ? r + off : NULL, valid,
                          act, 4, 1);
        }
        for (; i < m; i++) {
            size_t off = (size_t)i * n;
            if (two)
                conv_tile(o + off, n, a + (size_t)i * k, k, bp, k, bv, r ? r + off : NULL, valid,
                          act, 1, 2);
            else
                conv_tile(o + off, n, a + (size_t)i * k, k, bp, k, bv, r ? r + off : NULL, valid,
                          act, 1, 1);
        }
    }
}
