/* conv_kernels: the per-instruction-set half of conv.c, private to pose/. The
 * vector kernels of conv_vec.c are compiled once per kernel set (portable;
 * x86-64-v3 and -v4 on x86; NEON on arm64), each build exporting one table;
 * conv.c picks the table of the set a model was loaded with. Only the x86
 * builds of this folder see x86 intrinsics, only the arm64 build NEON. */
#ifndef CRTD_POSE_CONV_KERNELS_H
#define CRTD_POSE_CONV_KERNELS_H

#include <stddef.h>

#include "conv.h"

struct conv_kernels {
    /* output rows [oy0, oy1) of a depthwise convolution, from out_rows on */
    void (*depthwise_rows)(float *out_rows, const float *inp, const float *weight,
                           const float *bias, const struct conv_geom *g, enum conv_act act, int oy0,
                           int oy1);
    /* out[i, j] = bias[j] + residual[i, j] (either may be NULL) */
    void (*fill)(float *out, const float *bias, const float *residual, int rows, int cols);
    /* out = act(out) over n floats */
    void (*act_pass)(float *out, size_t n, enum conv_act act);
    /* out[m, n] = act(a[m, k] x w + bias + residual), w packed by
     * conv_pack_weights; NULL where the set has none (OpenBLAS instead) */
    void (*gemm)(float *out, const float *a, const float *packed, const float *bias,
                 const float *residual, int m, int k, int n, enum conv_act act);
    void (*sigmoid)(float *out, const float *inp, size_t n);
    void (*exp)(float *out, const float *inp, size_t n);
    void (*resize_bilinear)(float *out, const float *inp, int h, int w, int c, int oh, int ow,
                            bool align_corners, bool half_pixel_centers);
};

extern const struct conv_kernels conv_kernels_portable;
#if defined(__x86_64__)
extern const struct conv_kernels conv_kernels_avx2, conv_kernels_avx512;
/* conv_gemm_avx2.c and conv_gemm_avx512.c */
void conv_gemm_avx2(float *out, const float *a, const float *packed, const float *bias,
                    const float *residual, int m, int k, int n, enum conv_act act);
void conv_gemm_avx512(float *out, const float *a, const float *packed, const float *bias,
                      const float *residual, int m, int k, int n, enum conv_act act);
#endif
#if defined(__aarch64__)
extern const struct conv_kernels conv_kernels_neon;
/* conv_neon.c */
void conv_neon_depthwise_rows(float *out_rows, const float *inp, const float *weight,
                              const float *bias, const struct conv_geom *g, enum conv_act act,
                              int oy0, int oy1);
#endif

static inline float conv_act_scalar(float x, enum conv_act act)
{
    if (act == CONV_ACT_NONE)
        return x;
    x = x > 0.0f ? x : 0.0f;
    if (act == CONV_ACT_RELU6)
        x = x < 6.0f ? x : 6.0f;
    return x;
}

/* The output columns of a row whose whole window lies inside the image:
 * [*ret_in0, *ret_in1). */
static inline void conv_inner_columns(const struct conv_geom *g, int *ret_in0, int *ret_in1)
{
    int in0 = (g->pad_left + g->stride_w - 1) / g->stride_w;
    int in1 = g->w - g->kw + g->pad_left < 0 ? 0 : (g->w - g->kw + g->pad_left) / g->stride_w + 1;
    in0 = in0 < g->ow ? in0 : g->ow;
    in1 = in1 < in0 ? in0 : in1 < g->ow ? in1 : g->ow;
    *ret_in0 = in0;
    *ret_in1 = in1;
}

/* Channels [c0, c1) of one output row of a depthwise convolution, one at a
 * time (the few a kernel's vectors leave over). */
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

#endif
