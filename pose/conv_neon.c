/* conv_neon: the depthwise convolution for arm64 (Raspberry Pi 4 and 5), in
 * NEON intrinsics; built only for aarch64 (pose/meson.build), where it is the
 * depthwise kernel of the NEON set (conv_kernels_neon).
 *
 * Depthwise convolutions are most of MoveNet's layers and little of its work,
 * so they are bound by loads and stores rather than multiply-adds. Strips of
 * 8 channels (two 4-float q registers) keep a 3x3 window's nine weight pairs,
 * 18 of the 32 NEON registers, loaded once per output row; every window of
 * the row's interior then costs nine load pairs and nine fused multiply-add
 * pairs, and the border columns take the general path. The sums run in the
 * order of conv_vec.c's kernel (bias, then the taps in filter order, fused),
 * so the NEON and portable sets give the same floats. */
#include <math.h>

#include <arm_neon.h>

#include "conv_kernels.h"

/* NV (1 or 2, a constant at every call) q registers of channels from c0 on,
 * for output row oy, written at out (the row's start). */
static inline __attribute__((always_inline)) void
conv_neon_strip(float *out, const float *inp, const float *weight, const float *bias,
                const struct conv_geom *g, int oy, int c0, enum conv_act act, const int NV)
{
    const size_t cs = (size_t)g->c, rs = (size_t)g->w * g->c;
    int iy0 = oy * g->stride_h - g->pad_top;
    int ky0 = iy0 < 0 ? -iy0 : 0;
    int ky1 = g->h - iy0 < g->kh ? g->h - iy0 : g->kh;
    /* the activation as a clamp to [lo, hi] (infinite for none; NaN stays) */
    float32x4_t lo = vdupq_n_f32(act == CONV_ACT_NONE ? -INFINITY : 0.0f);
    float32x4_t hi = vdupq_n_f32(act == CONV_ACT_RELU6 ? 6.0f : INFINITY);
    float32x4_t b[2];
    int in0, in1;

    for (int v = 0; v < NV; v++)
        b[v] = bias ? vld1q_f32(bias + c0 + 4 * v) : vdupq_n_f32(0.0f);
    conv_inner_columns(g, &in0, &in1);
    if (g->kh == 3 && g->kw == 3 && ky0 == 0 && ky1 == 3 && in1 > in0) {
        float32x4_t w[9][2];
#pragma GCC unroll 9
        for (int t = 0; t < 9; t++)
            for (int v = 0; v < NV; v++)
                w[t][v] = vld1q_f32(weight + t * cs + c0 + 4 * v);
        const float *p =
            inp + ((size_t)iy0 * g->w + (size_t)(in0 * g->stride_w - g->pad_left)) * cs + c0;
        const size_t step = (size_t)g->stride_w * cs;
        float *o = out + (size_t)in0 * cs + c0;
        for (int ox = in0; ox < in1; ox++, p += step, o += cs) {
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) {
                const float *q = p + 4 * v;
                float32x4_t acc = vfmaq_f32(b[v], vld1q_f32(q), w[0][v]);
                acc = vfmaq_f32(acc, vld1q_f32(q + cs), w[1][v]);
                acc = vfmaq_f32(acc, vld1q_f32(q + 2 * cs), w[2][v]);
                acc = vfmaq_f32(acc, vld1q_f32(q + rs), w[3][v]);
                acc = vfmaq_f32(acc, vld1q_f32(q + rs + cs), w[4][v]);
                acc = vfmaq_f32(acc, vld1q_f32(q + rs + 2 * cs), w[5][v]);
                acc = vfmaq_f32(acc, vld1q_f32(q + 2 * rs), w[6][v]);
                acc = vfmaq_f32(acc, vld1q_f32(q + 2 * rs + cs), w[7][v]);
                acc = vfmaq_f32(acc, vld1q_f32(q + 2 * rs + 2 * cs), w[8][v]);
                vst1q_f32(o + 4 * v, vminq_f32(vmaxq_f32(acc, lo), hi));
            }
        }
    } else {
        in0 = in1 = g->ow; /* every column on the general path below */
    }
    for (int ox = 0; ox < g->ow; ox++) {
        if (ox == in0)
            ox = in1;
        if (ox >= g->ow)
            break;
        int ix0 = ox * g->stride_w - g->pad_left;
        int kx0 = ix0 < 0 ? -ix0 : 0;
        int kx1 = g->w - ix0 < g->kw ? g->w - ix0 : g->kw;
        for (int v = 0; v < NV; v++) {
            float32x4_t acc = b[v];
            for (int ky = ky0; ky < ky1; ky++)
                for (int kx = kx0; kx < kx1; kx++)
                    acc = vfmaq_f32(
                        acc,
                        vld1q_f32(inp + ((size_t)(iy0 + ky) * g->w + ix0 + kx) * cs + c0 + 4 * v),
                        vld1q_f32(weight + (size_t)(ky * g->kw + kx) * cs + c0 + 4 * v));
            vst1q_f32(out + (size_t)ox * cs + c0 + 4 * v, vminq_f32(vmaxq_f32(acc, lo), hi));
        }
    }
}

void conv_neon_depthwise_rows(float *out_rows, const float *inp, const float *weight,
                              const float *bias, const struct conv_geom *g, enum conv_act act,
                              int oy0, int oy1)
{
    for (int oy = oy0; oy < oy1; oy++) {
        float *out = out_rows + (size_t)(oy - oy0) * g->ow * g->c;
        int c0 = 0;
        for (; c0 + 8 <= g->c; c0 += 8)
            conv_neon_strip(out, inp, weight, bias, g, oy, c0, act, 2);
        for (; c0 + 4 <= g->c; c0 += 4)
            conv_neon_strip(out, inp, weight, bias, g, oy, c0, act, 1);
        if (c0 < g->c)
            conv_depthwise_row_scalar(out, inp, weight, bias, g, oy, c0, g->c, act);
    }
}
