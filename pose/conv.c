/* conv: convolution, depthwise convolution and bilinear resize kernels for the
 * TensorFlow.js runner. Dense convolutions are OpenBLAS sgemm calls on blocks
 * of output rows (so that the bias/residual/activation pass runs on data still
 * in cache); depthwise convolutions use GCC vector extensions, compiled once
 * per x86-64 level and picked at run time (target_clones), so that the same
 * binary uses AVX-512 where present and stays correct on any x86-64. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>
#include <immintrin.h>

#include "conv.h"

/* 16 floats; aligned(4) lets loads and stores go through unaligned pointers.
 * Vectors never cross a non-inlined call, so GCC's note that passing them
 * changes the ABI without AVX-512 does not apply. */
typedef float vf16 __attribute__((vector_size(64), aligned(4)));
typedef int32_t vi16 __attribute__((vector_size(64), aligned(4)));
typedef float vf8 __attribute__((vector_size(32), aligned(4)));
typedef int32_t vi8 __attribute__((vector_size(32), aligned(4)));
#pragma GCC diagnostic ignored "-Wpsabi"

#if defined(__clang__)
/* clang 14 (the fuzz build) has no target_clones for arch= levels: one
 * portable version, which is all fuzzing needs. */
#define CONV_CLONES
#else
#define CONV_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif

/* About this many bytes of input rows plus output rows per sgemm block, so
 * that the fill, the product and the activation pass meet in L2 (measured on
 * Lightning: 192 KiB beat one call per layer by 15%). */
#define CONV_BLOCK_BYTES (192 * 1024)

void conv_geom_pad(struct conv_geom *g, bool same)
{
    if (same) {
        g->oh = (g->h + g->stride_h - 1) / g->stride_h;
        g->ow = (g->w + g->stride_w - 1) / g->stride_w;
        int pad_h = (g->oh - 1) * g->stride_h + g->kh - g->h;
        int pad_w = (g->ow - 1) * g->stride_w + g->kw - g->w;
        g->pad_top = pad_h > 0 ? pad_h / 2 : 0;
        g->pad_left = pad_w > 0 ? pad_w / 2 : 0;
    } else {
        g->oh = (g->h - g->kh) / g->stride_h + 1;
        g->ow = (g->w - g->kw) / g->stride_w + 1;
        g->pad_top = 0;
        g->pad_left = 0;
    }
}

static bool conv_is_pointwise(const struct conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
           g->pad_left == 0 && g->oh == g->h && g->ow == g->w;
}

static int conv_block_rows(const struct conv_geom *g, int oc)
{
    int k = g->kh * g->kw * g->c;
    int rows = CONV_BLOCK_BYTES / (4 * (k + oc));
    int m = g->oh * g->ow;

    if (rows < 32)
        rows = 32;
    return rows < m ? rows : m;
}

size_t conv2d_scratch_floats(const struct conv_geom *g, int oc)
{
    if (conv_is_pointwise(g))
        return 0;
    return (size_t)conv_block_rows(g, oc) * g->kh * g->kw * g->c;
}

/* Rows [r0, r1) of the im2col matrix: row = output pixel, columns in the
 * filter's (kh, kw, c) order, zeros where the window leaves the image. */
static void conv_im2col(float *col, const float *inp, const struct conv_geom *g, int r0, int r1)
{
    size_t cbytes = (size_t)g->c * sizeof(float);

    for (int r = r0; r < r1; r++) {
        int oy = r / g->ow, ox = r % g->ow;
        int ix0 = ox * g->stride_w - g->pad_left;
        for (int ky = 0; ky < g->kh; ky++) {
            int iy = oy * g->stride_h - g->pad_top + ky;
            if (iy >= 0 && iy < g->h && ix0 >= 0 && ix0 + g->kw <= g->w) {
                /* the window's row lies inside the image: kw*c contiguous floats
                 * (a few for an RGB input: copied inline rather than by a call) */
                const float *src = inp + ((size_t)iy * g->w + ix0) * g->c;
                int n = g->kw * g->c;
                if (n <= 16)
                    for (int k = 0; k < n; k++)
                        col[k] = src[k];
                else
                    memcpy(col, src, cbytes * g->kw);
                col += (size_t)g->kw * g->c;
                continue;
            }
            for (int kx = 0; kx < g->kw; kx++) {
                int ix = ox * g->stride_w - g->pad_left + kx;
                bool outside = iy < 0 || iy >= g->h || ix < 0 || ix >= g->w;
                const float *src = outside ? NULL : inp + ((size_t)iy * g->w + ix) * g->c;
                if (g->c <= 4) { /* an RGB input: a call per pixel would cost more */
                    for (int k = 0; k < g->c; k++)
                        col[k] = outside ? 0.0f : src[k];
                } else if (outside) {
                    memset(col, 0, cbytes);
                } else {
                    memcpy(col, src, cbytes);
                }
                col += g->c;
            }
        }
    }
}

static inline float conv_act_scalar(float x, enum conv_act act)
{
    if (act == CONV_ACT_NONE)
        return x;
    x = x > 0.0f ? x : 0.0f;
    if (act == CONV_ACT_RELU6)
        x = x < 6.0f ? x : 6.0f;
    return x;
}

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

/* out[i, j] = bias[j] + residual[i, j] over rows x cols: the C that sgemm then
 * accumulates into (beta = 1), which spares OpenBLAS its zeroing pass and us a
 * separate bias pass. */
CONV_CLONES
static void conv_fill(float *out, const float *bias, const float *residual, int rows, int cols)
{
    for (int i = 0; i < rows; i++) {
        float *o = out + (size_t)i * cols;
        const float *res = residual ? residual + (size_t)i * cols : NULL;
        int j = 0;
        for (; j + 16 <= cols; j += 16) {
            vf16 x = {0};
            if (bias)
                x += *(const vf16 *)(bias + j);
            if (res)
                x += *(const vf16 *)(res + j);
            *(vf16 *)(o + j) = x;
        }
        for (; j < cols; j++)
            o[j] = (bias ? bias[j] : 0.0f) + (res ? res[j] : 0.0f);
    }
}

/* out = act(out) over n floats. */
CONV_CLONES
static void conv_act_pass(float *out, size_t n, enum conv_act act)
{
    size_t i = 0;

    for (; i + 16 <= n; i += 16) {
        vf16 x = *(vf16 *)(out + i);
        conv_act_vec(&x, act);
        *(vf16 *)(out + i) = x;
    }
    for (; i < n; i++)
        out[i] = conv_act_scalar(out[i], act);
}

/* ---- the AVX-512 GEMM of the convolutions ----------------------------------
 * out[m, n] = act(a[m, k] x w[k, n] + bias + residual) with w packed once at
 * load into panels of 32 columns (the last one 16; zero columns pad n to a
 * multiple of 16), tiles of 8 rows x 32 columns held in 16 zmm registers, and
 * the bias, residual and activation applied in registers: no packing of the
 * activations, no extra pass over the output. Used when the CPU has AVX-512;
 * other CPUs take OpenBLAS's sgemm. */

#define CONV_AVX512 __attribute__((target("arch=x86-64-v4")))

size_t conv_packed_floats(int k, int n)
{
    return (size_t)k * (size_t)((n + 15) / 16 * 16);
}

void conv_pack_weights(float *packed, const float *w, int k, int n)
{
    int np = (n + 15) / 16 * 16;
    float *dst = packed;

    for (int j0 = 0; j0 < np; j0 += 32) {
        int width = np - j0 >= 32 ? 32 : 16;
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < width; j++)
                *dst++ = j0 + j < n ? w[(size_t)kk * n + j0 + j] : 0.0f;
    }
}

/* Loads floats [0, valid) of a 16-float vector, zeros after (masked: only
 * ever inlined into the AVX-512 function below). */
CONV_AVX512 static inline __attribute__((always_inline)) vf16 conv_load_part(const float *p,
                                                                             int valid)
{
    if (valid >= 16)
        return *(const vf16 *)p;
    __mmask16 mask = (__mmask16)((1u << (valid > 0 ? valid : 0)) - 1);
    return (vf16)_mm512_maskz_loadu_ps(mask, p);
}

CONV_AVX512 static inline __attribute__((always_inline)) void conv_store_part(float *p, vf16 v,
                                                                              int valid)
{
    if (valid >= 16) {
        *(vf16 *)p = v;
        return;
    }
    __mmask16 mask = (__mmask16)((1u << (valid > 0 ? valid : 0)) - 1);
    _mm512_mask_storeu_ps(p, mask, (__m512)v);
}

/* One tile of MR rows x NV vectors; MR and NV are constants at every call. */
CONV_AVX512 static inline __attribute__((always_inline)) void
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

CONV_AVX512
static void conv_gemm_avx512(float *out, const float *a, const float *packed, const float *bias,
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

/* out[rows, oc] = act(a[rows, k] x weight[k, oc] + bias + residual). */
static void conv_pointwise_block(float *out, const float *a, const float *weight,
                                 const float *packed, const float *bias, const float *residual,
                                 int rows, int k, int oc, enum conv_act act)
{
    if (packed) {
        conv_gemm_avx512(out, a, packed, bias, residual, rows, k, oc, act);
        return;
    }
    float beta = 0.0f;
    if (bias || residual) {
        conv_fill(out, bias, residual, rows, oc);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, oc, k, 1.0f, a, k, weight, oc,
                beta, out, oc);
    if (act != CONV_ACT_NONE)
        conv_act_pass(out, (size_t)rows * oc, act);
}

void conv2d_forward(float *out, float *scratch, const float *inp, const float *weight,
                    const float *packed, const float *bias, const float *residual,
                    const struct conv_geom *g, int oc, enum conv_act act)
{
    int m = g->oh * g->ow;
    int k = g->kh * g->kw * g->c;
    bool pointwise = conv_is_pointwise(g);
    int block = conv_block_rows(g, oc);

    for (int r0 = 0; r0 < m; r0 += block) {
        int rows = m - r0 < block ? m - r0 : block;
        const float *a;
        if (pointwise) {
            a = inp + (size_t)r0 * k;
        } else {
            conv_im2col(scratch, inp, g, r0, r0 + rows);
            a = scratch;
        }
        conv_pointwise_block(out + (size_t)r0 * oc, a, weight, packed, bias,
                             residual ? residual + (size_t)r0 * oc : NULL, rows, k, oc, act);
    }
}

/* One output row oy of a depthwise convolution, written at out (the row's
 * start), for the channels [c0, c0 + W), W = 16 or 8 floats per vector. Always inlined, so that
 * each target clone of conv_depthwise_forward compiles it for its own vector width. */
#define CONV_DEFINE_DW_ROW(NAME, VF, VI)                                                           \
    static inline __attribute__((always_inline)) void NAME(                                        \
        float *out, const float *inp, const float *weight, const float *bias,                      \
        const struct conv_geom *g, int oy, int c0, enum conv_act act)                              \
    {                                                                                              \
        const size_t cs = (size_t)g->c, rs = (size_t)g->w * g->c;                                  \
        int iy0 = oy * g->stride_h - g->pad_top;                                                   \
        int ky0 = iy0 < 0 ? -iy0 : 0;                                                              \
        int ky1 = g->h - iy0 < g->kh ? g->h - iy0 : g->kh;                                         \
        VF zero = {0};                                                                             \
        VF b = bias ? *(const VF *)(bias + c0) : zero;                                             \
        /* the activation as a clamp to [lo, hi] (infinite for none) */                            \
        VF lo = zero + (act == CONV_ACT_NONE ? -INFINITY : 0.0f);                                  \
        VF hi = zero + (act == CONV_ACT_RELU6 ? 6.0f : INFINITY);                                  \
        float *orow = out + c0;                                                                    \
        /* the columns whose whole window lies inside the image */                                 \
        int in0 = (g->pad_left + g->stride_w - 1) / g->stride_w;                                   \
        int in1 =                                                                                  \
            g->w - g->kw + g->pad_left < 0 ? 0 : (g->w - g->kw + g->pad_left) / g->stride_w + 1;   \
        in0 = in0 < g->ow ? in0 : g->ow;                                                           \
        in1 = in1 < in0 ? in0 : in1 < g->ow ? in1 : g->ow;                                         \
        if (g->kh == 3 && g->kw == 3 && ky0 == 0 && ky1 == 3 && in1 > in0) {                       \
            const VF w0 = *(const VF *)(weight + 0 * cs + c0);                                     \
            const VF w1 = *(const VF *)(weight + 1 * cs + c0);                                     \
            const VF w2 = *(const VF *)(weight + 2 * cs + c0);                                     \
            const VF w3 = *(const VF *)(weight + 3 * cs + c0);                                     \
            const VF w4 = *(const VF *)(weight + 4 * cs + c0);                                     \
            const VF w5 = *(const VF *)(weight + 5 * cs + c0);                                     \
            const VF w6 = *(const VF *)(weight + 6 * cs + c0);                                     \
            const VF w7 = *(const VF *)(weight + 7 * cs + c0);                                     \
            const VF w8 = *(const VF *)(weight + 8 * cs + c0);                                     \
            const float *p =                                                                       \
                inp + ((size_t)iy0 * g->w + (size_t)(in0 * g->stride_w - g->pad_left)) * cs + c0;  \
            const size_t step = (size_t)g->stride_w * cs;                                          \
            float *o = orow + (size_t)in0 * cs;                                                    \
            for (int ox = in0; ox < in1; ox++, p += step, o += cs) {                               \
                VF acc = b + *(const VF *)(p)*w0;                                                  \
                acc += *(const VF *)(p + cs) * w1;                                                 \
                acc += *(const VF *)(p + 2 * cs) * w2;                                             \
                acc += *(const VF *)(p + rs) * w3;                                                 \
                acc += *(const VF *)(p + rs + cs) * w4;                                            \
                acc += *(const VF *)(p + rs + 2 * cs) * w5;                                        \
                acc += *(const VF *)(p + 2 * rs) * w6;                                             \
                acc += *(const VF *)(p + 2 * rs + cs) * w7;                                        \
                acc += *(const VF *)(p + 2 * rs + 2 * cs) * w8;                                    \
                VI m = acc < lo;                                                                   \
                acc = (VF)(((VI)acc & ~m) | ((VI)lo & m));                                         \
                m = acc > hi;                                                                      \
                *(VF *)o = (VF)(((VI)acc & ~m) | ((VI)hi & m));                                    \
            }                                                                                      \
        } else {                                                                                   \
            in0 = in1 = g->ow; /* every column on the general path below */                        \
        }                                                                                          \
        for (int ox = 0; ox < g->ow; ox++) {                                                       \
            if (ox == in0)                                                                         \
                ox = in1;                                                                          \
            if (ox >= g->ow)                                                                       \
                break;                                                                             \
            int ix0 = ox * g->stride_w - g->pad_left;                                              \
            int kx0 = ix0 < 0 ? -ix0 : 0;                                                          \
            int kx1 = g->w - ix0 < g->kw ? g->w - ix0 : g->kw;                                     \
            VF acc = b;                                                                            \
            for (int ky = ky0; ky < ky1; ky++)                                                     \
                for (int kx = kx0; kx < kx1; kx++)                                                 \
                    acc += *(const VF *)(inp + ((size_t)(iy0 + ky) * g->w + ix0 + kx) * cs + c0) * \
                           *(const VF *)(weight + (size_t)(ky * g->kw + kx) * cs + c0);            \
            VI m = acc < lo;                                                                       \
            acc = (VF)(((VI)acc & ~m) | ((VI)lo & m));                                             \
            m = acc > hi;                                                                          \
            *(VF *)(orow + (size_t)ox * cs) = (VF)(((VI)acc & ~m) | ((VI)hi & m));                 \
        }                                                                                          \
    }

CONV_DEFINE_DW_ROW(conv_depthwise_row16, vf16, vi16)
CONV_DEFINE_DW_ROW(conv_depthwise_row8, vf8, vi8)

/* Channels [c0, c1) of one output row, one at a time (fewer than 8 left). */
static inline __attribute__((always_inline)) void
conv_depthwise_row_scalar(float *out, const float *inp, const float *weight, const float *bias,
                          const struct conv_geom *g, int oy, int c0, int c1, enum conv_act act)
{
    for (int ox = 0; ox < g->ow; ox++) {
        float *o = out + (size_t)ox * g->c;
        for (int c = c0; c < c1; c++) {
            float acc = bias ? bias[c] : 0.0f;
            for (int ky = 0; ky < g->kh; ky++) {
                int iy = oy * g->stride_h - g->pad_top + ky;
                if (iy < 0 || iy >= g->h)
                    continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int ix = ox * g->stride_w - g->pad_left + kx;
                    if (ix < 0 || ix >= g->w)
                        continue;
                    acc += inp[((size_t)iy * g->w + ix) * g->c + c] *
                           weight[(size_t)(ky * g->kw + kx) * g->c + c];
                }
            }
            o[c] = conv_act_scalar(acc, act);
        }
    }
}

/* Output rows [oy0, oy1), written from out_rows on; row by row (the three
 * input rows a 3x3 window reads stay in cache), every channel strip of a row
 * before the next row. */
CONV_CLONES
static void conv_depthwise_rows(float *out_rows, const float *inp, const float *weight,
                                const float *bias, const struct conv_geom *g, enum conv_act act,
                                int oy0, int oy1)
{
    for (int oy = oy0; oy < oy1; oy++) {
        float *out = out_rows + (size_t)(oy - oy0) * g->ow * g->c;
        int c0 = 0;
        for (; c0 + 16 <= g->c; c0 += 16)
            conv_depthwise_row16(out, inp, weight, bias, g, oy, c0, act);
        for (; c0 + 8 <= g->c; c0 += 8)
            conv_depthwise_row8(out, inp, weight, bias, g, oy, c0, act);
        if (c0 < g->c)
            conv_depthwise_row_scalar(out, inp, weight, bias, g, oy, c0, g->c, act);
    }
}

void conv_depthwise_forward(float *out, const float *inp, const float *weight, const float *bias,
                            const struct conv_geom *g, enum conv_act act)
{
    conv_depthwise_rows(out, inp, weight, bias, g, act, 0, g->oh);
}

static int conv_dw_block_rows(const struct conv_geom *dg, int oc)
{
    int rows = CONV_BLOCK_BYTES / (4 * (dg->c + oc)) / dg->ow;
    return rows < 1 ? 1 : rows < dg->oh ? rows : dg->oh;
}

size_t conv_dw_pointwise_scratch_floats(const struct conv_geom *dg, int oc)
{
    return (size_t)conv_dw_block_rows(dg, oc) * dg->ow * dg->c;
}

void conv_dw_pointwise_forward(float *out, float *scratch, const float *inp, const float *dw_weight,
                               const float *dw_bias, const struct conv_geom *dg,
                               enum conv_act dw_act, const float *weight, const float *packed,
                               const float *bias, const float *residual, int oc, enum conv_act act)
{
    int block = conv_dw_block_rows(dg, oc);

    for (int oy0 = 0; oy0 < dg->oh; oy0 += block) {
        int oy1 = dg->oh - oy0 < block ? dg->oh : oy0 + block;
        size_t r0 = (size_t)oy0 * dg->ow;
        conv_depthwise_rows(scratch, inp, dw_weight, dw_bias, dg, dw_act, oy0, oy1);
        conv_pointwise_block(out + r0 * oc, scratch, weight, packed, bias,
                             residual ? residual + r0 * oc : NULL, (oy1 - oy0) * dg->ow, dg->c, oc,
                             act);
    }
}

/* exp(x) for x in [-87, 88]: x = n ln2 + r with |r| <= ln2/2, exp(r) by its
 * Taylor series to r^7 (relative error below 2e-7, like expf's few ulps),
 * times 2^n built in the exponent bits. */
static inline __attribute__((always_inline)) void conv_exp_vec(vf16 *ret, const vf16 *in)
{
    vf16 x = *in;
    vf16 zero = {0};
    vf16 hi = zero + 88.0f, lo = zero - 87.0f;
    vi16 above = x > hi, below = x < lo;
    x = (vf16)(((vi16)x & ~above) | ((vi16)hi & above));
    x = (vf16)(((vi16)x & ~below) | ((vi16)lo & below));
    vf16 t = x * 1.44269504f;
    vi16 sign = (vi16)t & ((vi16){0} + INT32_MIN);
    vf16 half = (vf16)((vi16)(zero + 0.5f) | sign);
    vi16 n = __builtin_convertvector(t + half, vi16); /* rounded half away from 0 */
    vf16 nf = __builtin_convertvector(n, vf16);
    vf16 r = x - nf * 0.693359375f - nf * -2.12194440e-4f;
    vf16 p = zero + 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    vi16 scale = (n + 127) << 23;
    *ret = p * (vf16)scale;
}

CONV_CLONES
void conv_sigmoid_forward(float *out, const float *inp, size_t n)
{
    size_t i = 0;

    for (; i + 16 <= n; i += 16) {
        vf16 x = *(const vf16 *)(inp + i);
        vf16 one = {0};
        one += 1.0f;
        vf16 e, neg = -x;
        conv_exp_vec(&e, &neg);
        *(vf16 *)(out + i) = one / (one + e);
    }
    for (; i < n; i++)
        out[i] = 1.0f / (1.0f + expf(-inp[i]));
}

CONV_CLONES
void conv_exp_forward(float *out, const float *inp, size_t n)
{
    size_t i = 0;

    /* The polynomial on x raised to -80 at least, so that no lane makes a
     * denormal (which costs the CPU a slow assist); the max is written as
     * conv_exp_vec's clamps are, which GCC turns into vmaxps (a comparison
     * whose mask is used otherwise is split into lanes). */
    for (; i + 16 <= n; i += 16) {
        vf16 x = *(const vf16 *)(inp + i), band = (vf16){0} - 80.0f, e;
        vi16 low = x < band;
        x = (vf16)(((vi16)x & ~low) | ((vi16)band & low));
        conv_exp_vec(&e, &x);
        *(vf16 *)(out + i) = e;
    }
    for (; i < n; i++)
        out[i] = expf(inp[i]);
    /* Then what the polynomial does not give as float32 would: 0 below -104
     * (expf's smallest denormal is e^-103.3), where the far-away grid cells
     * of MultiPose's decoding are, and expf itself in the denormal band,
     * past 88 and for NaN. */
    for (i = 0; i < n; i++) {
        float x = inp[i];
        if (x < -104.0f)
            out[i] = 0;
        else if (!(x >= -80.0f && x <= 88.0f))
            out[i] = expf(x);
    }
}

#pragma GCC push_options
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
CONV_CLONES
void conv_resize_bilinear_forward(float *out, const float *inp, int h, int w, int c, int oh, int ow,
                                  bool align_corners, bool half_pixel_centers)
{
    double ry = (align_corners && oh > 1) ? (double)(h - 1) / (oh - 1) : (double)h / oh;
    double rx = (align_corners && ow > 1) ? (double)(w - 1) / (ow - 1) : (double)w / ow;

    for (int y = 0; y < oh; y++) {
        double sy = half_pixel_centers ? ry * (y + 0.5) - 0.5 : ry * y;
        int y0 = (int)fmax(0.0, floor(sy));
        int y1 = (int)fmin(h - 1.0, ceil(sy));
        double fy = sy - y0;
        for (int x = 0; x < ow; x++) {
            double sx = half_pixel_centers ? rx * (x + 0.5) - 0.5 : rx * x;
            int x0 = (int)fmax(0.0, floor(sx));
            int x1 = (int)fmin(w - 1.0, ceil(sx));
            double fx = sx - x0;
            const float *tl = inp + ((size_t)y0 * w + x0) * c;
            const float *tr = inp + ((size_t)y0 * w + x1) * c;
            const float *bl = inp + ((size_t)y1 * w + x0) * c;
            const float *br = inp + ((size_t)y1 * w + x1) * c;
            float *o = out + ((size_t)y * ow + x) * c;
            float fxf = (float)fx, fyf = (float)fy;
            for (int k = 0; k < c; k++) {
                float top = tl[k] + (tr[k] - tl[k]) * fxf;
                float bot = bl[k] + (br[k] - bl[k]) * fxf;
                o[k] = top + (bot - top) * fyf;
            }
        }
    }
}
#pragma GCC pop_options
