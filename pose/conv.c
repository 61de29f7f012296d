/* conv: convolution, depthwise convolution and bilinear resize for the
 * TensorFlow.js runner: the geometry, the im2col, the blocking and the choice
 * of kernels, all portable C. Dense convolutions are products on blocks of
 * output rows (so that the bias/residual/activation pass runs on data still
 * in cache): crtd's own GEMM on filters packed at load where the kernel set
 * has one (AVX-512, AVX2 + FMA), else OpenBLAS's sgemm. The vector kernels
 * live in conv_vec.c (one build per kernel set), the GEMMs in
 * conv_gemm_avx2.c and conv_gemm_avx512.c (x86 only), the NEON depthwise in
 * conv_neon.c (arm64 only); the set is chosen once, at load (conv_isa_pick),
 * from what the CPU has and the cap the caller gives. */
#include <errno.h>
#include <string.h>

#include <cblas.h>

#include "base.h"
#include "conv_kernels.h"

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

/* ---- the kernel sets -------------------------------------------------------- */

static const struct conv_kernels *conv_kernels_of(enum pose_isa isa)
{
    switch (isa) {
#if defined(__x86_64__)
    case POSE_ISA_AVX512:
        return &conv_kernels_avx512;
    case POSE_ISA_AVX2:
        return &conv_kernels_avx2;
#endif
#if defined(__aarch64__)
    case POSE_ISA_NEON:
        return &conv_kernels_neon;
#endif
    default:
        return &conv_kernels_portable;
    }
}

enum pose_isa conv_isa_pick(enum pose_isa max)
{
    if (max == POSE_ISA_PORTABLE)
        return POSE_ISA_PORTABLE;
#if defined(__x86_64__)
    bool best = max == POSE_ISA_BEST;
    if ((best || max >= POSE_ISA_AVX512) && cpu_has_avx512())
        return POSE_ISA_AVX512;
    if ((best || max >= POSE_ISA_AVX2) && cpu_has_avx2_fma())
        return POSE_ISA_AVX2;
    return POSE_ISA_PORTABLE;
#elif defined(__aarch64__)
    return POSE_ISA_NEON; /* NEON is part of every arm64 CPU */
#else
    return POSE_ISA_PORTABLE;
#endif
}

bool conv_isa_has_gemm(enum pose_isa isa)
{
    return conv_kernels_of(isa)->gemm != NULL;
}

/* ---- dense convolutions ------------------------------------------------------ */

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

/* out[rows, oc] = act(a[rows, k] x weight[k, oc] + bias + residual). */
static void conv_pointwise_block(const struct conv_kernels *kern, float *out, const float *a,
                                 const float *weight, const float *packed, const float *bias,
                                 const float *residual, int rows, int k, int oc, enum conv_act act)
{
    if (packed && kern->gemm) {
        kern->gemm(out, a, packed, bias, residual, rows, k, oc, act);
        return;
    }
    float beta = 0.0f;
    if (bias || residual) {
        kern->fill(out, bias, residual, rows, oc);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, oc, k, 1.0f, a, k, weight, oc,
                beta, out, oc);
    if (act != CONV_ACT_NONE)
        kern->act_pass(out, (size_t)rows * oc, act);
}

void conv2d_forward(float *out, float *scratch, const float *inp, const float *weight,
                    const float *packed, const float *bias, const float *residual,
                    const struct conv_geom *g, int oc, enum conv_act act, enum pose_isa isa)
{
    const struct conv_kernels *kern = conv_kernels_of(isa);
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
        conv_pointwise_block(kern, out + (size_t)r0 * oc, a, weight, packed, bias,
                             residual ? residual + (size_t)r0 * oc : NULL, rows, k, oc, act);
    }
}

/* ---- depthwise convolutions, alone and fused ------------------------------------ */

void conv_depthwise_forward(float *out, const float *inp, const float *weight, const float *bias,
                            const struct conv_geom *g, enum conv_act act, enum pose_isa isa)
{
    conv_kernels_of(isa)->depthwise_rows(out, inp, weight, bias, g, act, 0, g->oh);
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
                               const float *bias, const float *residual, int oc, enum conv_act act,
                               enum pose_isa isa)
{
    const struct conv_kernels *kern = conv_kernels_of(isa);
    int block = conv_dw_block_rows(dg, oc);

    for (int oy0 = 0; oy0 < dg->oh; oy0 += block) {
        int oy1 = dg->oh - oy0 < block ? dg->oh : oy0 + block;
        size_t r0 = (size_t)oy0 * dg->ow;
        kern->depthwise_rows(scratch, inp, dw_weight, dw_bias, dg, dw_act, oy0, oy1);
        conv_pointwise_block(kern, out + r0 * oc, scratch, weight, packed, bias,
                             residual ? residual + r0 * oc : NULL, (oy1 - oy0) * dg->ow, dg->c, oc,
                             act);
    }
}

/* ---- element-wise and resizing ------------------------------------------------ */

void conv_sigmoid_forward(float *out, const float *inp, size_t n, enum pose_isa isa)
{
    conv_kernels_of(isa)->sigmoid(out, inp, n);
}

void conv_exp_forward(float *out, const float *inp, size_t n, enum pose_isa isa)
{
    conv_kernels_of(isa)->exp(out, inp, n);
}

void conv_resize_bilinear_forward(float *out, const float *inp, int h, int w, int c, int oh, int ow,
                                  bool align_corners, bool half_pixel_centers, enum pose_isa isa)
{
    conv_kernels_of(isa)->resize_bilinear(out, inp, h, w, c, oh, ow, align_corners,
                                          half_pixel_centers);
}
