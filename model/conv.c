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

#include "conv.h"

/* 16 floats; aligned(4) lets loads and stores go through unaligned pointers.
 * Vectors never cross a non-inlined call, so GCC's note that passing them
 * changes the ABI without AVX-512 does not apply. */
typedef float vf16 __attribute__((vector_size(64), aligned(4)));
typedef int32_t vi16 __attribute__((vector_size(64), aligned(4)));
#pragma GCC diagnostic ignored "-Wpsabi"

#define CONV_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

/* About this many bytes of im2col rows plus output rows per sgemm block. */
#define CONV_BLOCK_BYTES (384 * 1024)

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
        for (int ky = 0; ky < g->kh; ky++) {
            int iy = oy * g->stride_h - g->pad_top + ky;
            for (int kx = 0; kx < g->kw; kx++) {
                int ix = ox * g->stride_w - g->pad_left + kx;
                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                    memset(col, 0, cbytes);
                else
                    memcpy(col, inp + ((size_t)iy * g->w + ix) * g->c, cbytes);
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

static inline __attribute__((always_inline)) vf16 conv_act_vec(vf16 x, enum conv_act act)
{
    if (act == CONV_ACT_NONE)
        return x;
    vf16 zero = {0};
    x = (vf16)((vi16)x & (x > zero));
    if (act == CONV_ACT_RELU6) {
        vf16 six = zero + 6.0f;
        vi16 below = x < six;
        x = (vf16)(((vi16)x & below) | ((vi16)six & ~below));
    }
    return x;
}

/* out[i, j] = act(out[i, j] + bias[j] + residual[i, j]) over rows x cols. */
CONV_CLONES
static void conv_bias_act(float *out, const float *bias, const float *residual, int rows, int cols,
                          enum conv_act act)
{
    for (int i = 0; i < rows; i++) {
        float *o = out + (size_t)i * cols;
        const float *res = residual ? residual + (size_t)i * cols : NULL;
        int j = 0;
        for (; j + 16 <= cols; j += 16) {
            vf16 x = *(vf16 *)(o + j);
            if (bias)
                x += *(const vf16 *)(bias + j);
            if (res)
                x += *(const vf16 *)(res + j);
            *(vf16 *)(o + j) = conv_act_vec(x, act);
        }
        for (; j < cols; j++) {
            float x = o[j];
            if (bias)
                x += bias[j];
            if (res)
                x += res[j];
            o[j] = conv_act_scalar(x, act);
        }
    }
}

void conv2d_forward(float *out, float *scratch, const float *inp, const float *weight,
                    const float *bias, const float *residual, const struct conv_geom *g, int oc,
                    enum conv_act act)
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
        float *o = out + (size_t)r0 * oc;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, oc, k, 1.0f, a, k, weight, oc,
                    0.0f, o, oc);
        if (bias || residual || act != CONV_ACT_NONE)
            conv_bias_act(o, bias, residual ? residual + (size_t)r0 * oc : NULL, rows, oc, act);
    }
}

/* One 16-channel strip of a depthwise convolution, all output pixels. */
static inline void conv_depthwise_strip16(float *out, const float *inp, const float *weight,
                                          const float *bias, const struct conv_geom *g, int c0,
                                          enum conv_act act)
{
    int taps = g->kh * g->kw;
    vf16 w[64];
    vf16 b = {0};

    for (int t = 0; t < taps; t++)
        w[t] = *(const vf16 *)(weight + (size_t)t * g->c + c0);
    if (bias)
        b = *(const vf16 *)(bias + c0);
    for (int oy = 0; oy < g->oh; oy++) {
        int iy0 = oy * g->stride_h - g->pad_top;
        int ky0 = iy0 < 0 ? -iy0 : 0;
        int ky1 = g->h - iy0 < g->kh ? g->h - iy0 : g->kh;
        float *orow = out + (size_t)oy * g->ow * g->c + c0;
        for (int ox = 0; ox < g->ow; ox++) {
            int ix0 = ox * g->stride_w - g->pad_left;
            int kx0 = ix0 < 0 ? -ix0 : 0;
            int kx1 = g->w - ix0 < g->kw ? g->w - ix0 : g->kw;
            vf16 acc = b;
            if (g->kh == 3 && g->kw == 3 && ky0 == 0 && kx0 == 0 && ky1 == 3 && kx1 == 3) {
                const float *p = inp + ((size_t)iy0 * g->w + ix0) * g->c + c0;
                size_t rs = (size_t)g->w * g->c, cs = (size_t)g->c;
                acc += *(const vf16 *)(p)*w[0];
                acc += *(const vf16 *)(p + cs) * w[1];
                acc += *(const vf16 *)(p + 2 * cs) * w[2];
                acc += *(const vf16 *)(p + rs) * w[3];
                acc += *(const vf16 *)(p + rs + cs) * w[4];
                acc += *(const vf16 *)(p + rs + 2 * cs) * w[5];
                acc += *(const vf16 *)(p + 2 * rs) * w[6];
                acc += *(const vf16 *)(p + 2 * rs + cs) * w[7];
                acc += *(const vf16 *)(p + 2 * rs + 2 * cs) * w[8];
            } else {
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++)
                        acc += *(const vf16 *)(inp + ((size_t)(iy0 + ky) * g->w + ix0 + kx) * g->c +
                                               c0) *
                               w[ky * g->kw + kx];
            }
            *(vf16 *)(orow + (size_t)ox * g->c) = conv_act_vec(acc, act);
        }
    }
}

/* Channels [c0, c1) one at a time: the tail that is not a multiple of 16, and
 * windows too large for the strip kernel. */
static void conv_depthwise_scalar(float *out, const float *inp, const float *weight,
                                  const float *bias, const struct conv_geom *g, int c0, int c1,
                                  enum conv_act act)
{
    for (int oy = 0; oy < g->oh; oy++) {
        for (int ox = 0; ox < g->ow; ox++) {
            float *o = out + ((size_t)oy * g->ow + ox) * g->c;
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
}

CONV_CLONES
void conv_depthwise_forward(float *out, const float *inp, const float *weight, const float *bias,
                            const struct conv_geom *g, enum conv_act act)
{
    int c0 = 0;

    if (g->kh * g->kw <= 64)
        for (; c0 + 16 <= g->c; c0 += 16)
            conv_depthwise_strip16(out, inp, weight, bias, g, c0, act);
    if (c0 < g->c)
        conv_depthwise_scalar(out, inp, weight, bias, g, c0, g->c, act);
}

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
            for (int k = 0; k < c; k++) {
                double top = tl[k] + ((double)tr[k] - tl[k]) * fx;
                double bot = bl[k] + ((double)br[k] - bl[k]) * fx;
                o[k] = (float)(top + (bot - top) * fy);
            }
        }
    }
}
