/* conv: the convolution kernels of the TensorFlow.js runner (tfjs_ops.c), private
 * to pose/. NHWC float32 tensors, batch 1; TensorFlow's filter layouts (HWIO
 * for Conv2D, HWC1 for depthwise). Kernels follow llm.c's order: outputs first,
 * then inputs, then sizes; each takes the kernel set (isa) the model was
 * loaded with, as conv_isa_pick chose it. None allocates. */
#ifndef CRTD_MODEL_CONV_H
#define CRTD_MODEL_CONV_H

#include <stdbool.h>
#include <stddef.h>

#include "pose.h"

enum conv_act {
    CONV_ACT_NONE,
    CONV_ACT_RELU,
    CONV_ACT_RELU6,
};

/* Geometry of a 2-D window op on one NHWC image. Padding follows TensorFlow:
 * SAME puts the odd pixel at the bottom/right (pad_top = total / 2). */
struct conv_geom {
    int h, w, c; /* input */
    int kh, kw;  /* window */
    int stride_h, stride_w;
    int pad_top, pad_left;
    int oh, ow; /* output */
};

/* Fills g's padding and output size the way TensorFlow does for "SAME" or
 * "VALID" (same = false). */
void conv_geom_pad(struct conv_geom *g, bool same);

/* The kernel set to run with max as the cap (pose_options.max_isa): on x86
 * AVX-512 (F, DQ, BW, VL) if the CPU has it and max allows, else AVX2 + FMA,
 * else portable; on arm64 NEON unless max is portable; portable elsewhere. */
enum pose_isa conv_isa_pick(enum pose_isa max);
/* Whether the set has crtd's own GEMM (and so wants the filters packed). */
bool conv_isa_has_gemm(enum pose_isa isa);

/* Scratch floats conv2d_forward needs for this geometry and output width
 * (0 for a 1x1 stride-1 convolution, which reads its input in place). */
size_t conv2d_scratch_floats(const struct conv_geom *g, int oc);

/* out[oh,ow,oc] = act(conv(inp, weight) + bias + residual), on sgemm: a 1x1
 * stride-1 convolution multiplies the input directly; other windows go
 * through an im2col of a block of rows at a time. bias and residual may be
 * NULL; residual has out's shape. */
void conv2d_forward(float *out, float *scratch, const float *inp, const float *weight,
                    const float *packed, const float *bias, const float *residual,
                    const struct conv_geom *g, int oc, enum conv_act act, enum pose_isa isa);

/* The GEMM path of conv2d_forward: when the kernel set has one
 * (conv_isa_has_gemm: AVX-512, AVX2 + FMA), the loader packs each filter once
 * (conv_pack_weights into conv_packed_floats(K, O) floats, K = kh*kw*c) and
 * passes it as packed; conv2d_forward then uses crtd's register-tiled GEMM
 * with the bias, residual and activation applied in registers. packed NULL:
 * OpenBLAS. */
size_t conv_packed_floats(int k, int n);
void conv_pack_weights(float *packed, const float *w, int k, int n);

/* out[oh,ow,c] = act(depthwise(inp, weight) + bias), channel multiplier 1;
 * vectorised across channels (AVX-512, AVX2, NEON or the compiler's baseline). */
void conv_depthwise_forward(float *out, const float *inp, const float *weight, const float *bias,
                            const struct conv_geom *g, enum conv_act act, enum pose_isa isa);

/* A depthwise convolution (geometry dg) feeding a 1x1 stride-1 convolution,
 * computed a block of rows at a time so that the depthwise output stays in
 * cache and is never written out whole: out = act(dw_act(depthwise(inp)) x
 * weight + bias + residual). scratch holds
 * conv_dw_pointwise_scratch_floats(dg, oc) floats. */
size_t conv_dw_pointwise_scratch_floats(const struct conv_geom *dg, int oc);
void conv_dw_pointwise_forward(float *out, float *scratch, const float *inp, const float *dw_weight,
                               const float *dw_bias, const struct conv_geom *dg,
                               enum conv_act dw_act, const float *weight, const float *packed,
                               const float *bias, const float *residual, int oc, enum conv_act act,
                               enum pose_isa isa);

/* out = 1 / (1 + exp(-inp)), vectorised (a polynomial exp within 2e-7). */
void conv_sigmoid_forward(float *out, const float *inp, size_t n, enum pose_isa isa);
/* out = exp(inp) with the same polynomial; 0 below -104 as expf, and a block
 * of 16 with a value in expf's denormal band, above 88 or NaN goes through
 * expf, so that underflow (which the MultiPose decoding compares against)
 * and overflow are as in float32. */
void conv_exp_forward(float *out, const float *inp, size_t n, enum pose_isa isa);

/* TensorFlow's ResizeBilinear on one NHWC image (as tfjs-backend-cpu computes
 * it: source coordinates in double, lerp of the four neighbours in float). */
void conv_resize_bilinear_forward(float *out, const float *inp, int h, int w, int c, int oh, int ow,
                                  bool align_corners, bool half_pixel_centers, enum pose_isa isa);

#endif
