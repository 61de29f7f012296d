/* conv_vec: the vector kernels of the pose convolutions (depthwise
 * convolution, the bias/residual fill and activation pass around OpenBLAS,
 * sigmoid, exp, bilinear resize), in GCC vector extensions. meson compiles
 * this file once per kernel set, each time with its own -march and the name
 * of the table it exports (CONV_VEC_TABLE): the portable build for the
 * compiler's baseline, x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512) on
 * x86, and on arm64 a NEON build whose depthwise kernel is conv_neon.c's.
 * Nothing here names an instruction set, so the same text serves them all. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "conv_kernels.h"

#ifndef CONV_VEC_TABLE
#define CONV_VEC_TABLE conv_kernels_portable
#endif
/* the depthwise kernel of this set (another file's, for NEON) */
#ifndef CONV_VEC_DEPTHWISE
#define CONV_VEC_DEPTHWISE conv_depthwise_rows
#endif
/* the set's own GEMM on packed filters, or NULL for OpenBLAS */
#ifndef CONV_VEC_GEMM
#define CONV_VEC_GEMM NULL
#endif
/* whether a vector register holds 16 floats (AVX-512) */
#if defined(__AVX512F__)
#define CONV_VEC_WIDE 1
#else
#define CONV_VEC_WIDE 0
#endif

/* 16 floats; aligned(4) lets loads and stores go through unaligned pointers.
 * Vectors never cross a non-inlined call, so GCC's note that passing them
 * changes the ABI without AVX-512 does not apply. */
typedef float vf16 __attribute__((vector_size(64), aligned(4)));
typedef int32_t vi16 __attribute__((vector_size(64), aligned(4)));
typedef float vf8 __attribute__((vector_size(32), aligned(4)));
typedef int32_t vi8 __attribute__((vector_size(32), aligned(4)));
#pragma GCC diagnostic ignored "-Wpsabi"

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

#if CONV_VEC_WIDE
CONV_DEFINE_DW_ROW(conv_depthwise_row16, vf16, vi16)
#endif
CONV_DEFINE_DW_ROW(conv_depthwise_row8, vf8, vi8)

/* Output rows [oy0, oy1), written from out_rows on; row by row (the three
 * input rows a 3x3 window reads stay in cache), every channel strip of a row
 * before the next row. Strips of 16 channels where a vector holds 16 floats;
 * else of 8, which keeps a 3x3 window's nine weight vectors in registers
 * (16 AVX2 or SSE registers, 32 NEON ones). */
__attribute__((unused)) /* the NEON build has its own */
static void
conv_depthwise_rows(float *out_rows, const float *inp, const float *weight, const float *bias,
                    const struct conv_geom *g, enum conv_act act, int oy0, int oy1)
{
    for (int oy = oy0; oy < oy1; oy++) {
        float *out = out_rows + (size_t)(oy - oy0) * g->ow * g->c;
        int c0 = 0;
#if CONV_VEC_WIDE
        for (; c0 + 16 <= g->c; c0 += 16)
            conv_depthwise_row16(out, inp, weight, bias, g, oy, c0, act);
#endif
        for (; c0 + 8 <= g->c; c0 += 8)
            conv_depthwise_row8(out, inp, weight, bias, g, oy, c0, act);
        if (c0 < g->c)
            conv_depthwise_row_scalar(out, inp, weight, bias, g, oy, c0, g->c, act);
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

static void conv_sigmoid(float *out, const float *inp, size_t n)
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

static void conv_exp(float *out, const float *inp, size_t n)
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
static void conv_resize_bilinear(float *out, const float *inp, int h, int w, int c, int oh, int ow,
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

const struct conv_kernels CONV_VEC_TABLE = {
    .depthwise_rows = CONV_VEC_DEPTHWISE,
    .fill = conv_fill,
    .act_pass = conv_act_pass,
    .gemm = CONV_VEC_GEMM,
    .sigmoid = conv_sigmoid,
    .exp = conv_exp,
    .resize_bilinear = conv_resize_bilinear,
};
