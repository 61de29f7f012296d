/* crt_train_xl: the backward pass of the cached-attention baselines
 * (crt_memory_xl.c). As in Transformer-XL the cached keys and values are
 * constants (stop-gradient): gradients reach this segment's queries, keys
 * and values, and xl.cls, never the segments before through the cache. */
#include "train_internal.h"
#include "mem/xl.h"

#include <math.h>
#include <string.h>

struct xl_train {
    int M, cached, d, H;
    size_t S, save;
    float *cls;
};

static int xl_prepare(struct crt_model *m, void **ret_ctx, struct crt_train_extra *extra,
                      int *ret_n_extra, struct errbuf *err)
{
    (void)extra;
    const struct crt_config *c = &m->cfg;
    struct xl_train *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->M = crt_xl_cached_segments(c);
    x->cached = x->M * c->segment_len;
    x->d = c->d_model;
    x->H = c->n_heads;
    x->S = m->state_floats;
    x->save = m->ops->save_floats(c);
    x->cls = crt_model_param(m, "xl.cls");
    if (!x->cls) {
        free(x);
        return errbuf_set(err, -EINVAL, "training: the model has no tensor 'xl.cls'");
    }
    *ret_n_extra = 0;
    *ret_ctx = x;
    return 0;
}

static void xl_release(void *ctx)
{
    free(ctx);
}

/* go . v_j for key j of head h (cached when j < C). */
static float dot_value(const float *seq, const float *cv, const float *go, int j, int C, int d,
                       int hs, int h)
{
    const float *v =
        j < C ? cv + (size_t)j * d + h * hs : seq + (size_t)(j - C) * 3 * d + 2 * d + h * hs;
    float s = 0.0f;
    for (int e = 0; e < hs; e++)
        s += go[e] * v[e];
    return s;
}

static void xl_attention_bwd(const struct crt_model *m, void *ctx, float *grads, float *scratch,
                             const float *save, int l, float *dqkv, const float *dout,
                             const float *qkv, const float *mem_in, const float *dmem_out,
                             const float *dreadout, float *dmem_in, int B, int T, int nq)
{
    (void)grads, (void)scratch, (void)dmem_out, (void)dreadout, (void)dmem_in;
    struct xl_train *x = ctx;
    int d = x->d, H = x->H, hs = d / H, C = x->cached, K = C + T;
    float scale = 1.0f / sqrtf((float)hs);
    size_t off = crt_xl_layer_offset(&m->cfg, l);
    for (int b = 0; b < B; b++) {
        const float *seq = qkv + (size_t)b * T * 3 * d;
        float *dseq = dqkv + (size_t)b * T * 3 * d;
        const float *ck = mem_in + (size_t)b * x->S + off, *cv = ck + (size_t)C * d;
        const float *att = save + (size_t)b * x->save + crt_xl_save_offset(&m->cfg, l);
        for (int h = 0; h < H; h++)
            for (int i = 0; i < nq; i++) {
                const float *w = att + ((size_t)h * nq + i) * K;
                const float *go = dout + ((size_t)b * nq + i) * d + h * hs;
                const float *q = seq + (size_t)i * 3 * d + h * hs;
                float *dq = dseq + (size_t)i * 3 * d + h * hs;
                /* dscore_j = w_j (go.v_j - sum_k w_k go.v_k): the sum first. */
                float dot = 0.0f;
                for (int j = 0; j < K; j++)
                    if (w[j] != 0.0f)
                        dot += w[j] * dot_value(seq, cv, go, j, C, d, hs, h);
                for (int j = 0; j < K; j++) {
                    if (w[j] == 0.0f)
                        continue;
                    float ds = w[j] * (dot_value(seq, cv, go, j, C, d, hs, h) - dot) * scale;
                    const float *k = j < C ? ck + (size_t)j * d + h * hs
                                           : seq + (size_t)(j - C) * 3 * d + d + h * hs;
                    for (int e = 0; e < hs; e++)
                        dq[e] += ds * k[e];
                    if (j < C)
                        continue; /* the cache is a constant */
                    float *dk = dseq + (size_t)(j - C) * 3 * d + d + h * hs;
                    float *dv = dk + d;
                    for (int e = 0; e < hs; e++) {
                        dk[e] += ds * q[e];
                        dv[e] += w[j] * go[e];
                    }
                }
            }
    }
}

static void xl_update_backward(const struct crt_model *m, void *ctx, float *grads, float *scratch,
                               const float *save, const float *dmem_out, const float *dreadout,
                               const float *h, const float *mem_in, float *dh, float *dmem_in,
                               int B)
{
    struct xl_train *x = ctx;
    (void)m;
    (void)grads;
    (void)scratch;
    (void)save;
    (void)dmem_out;
    (void)h;
    (void)mem_in;
    memcpy(dh, dreadout, (size_t)B * x->d * sizeof(float));
    memset(dmem_in, 0, (size_t)B * x->S * sizeof(float));
}

static void xl_embed_backward(const struct crt_model *m, void *ctx, float *grads, const float *dx,
                              const float *mem_in, float *dmem_in, int B, int T)
{
    struct xl_train *x = ctx;
    (void)mem_in;
    (void)dmem_in;
    float *dcls = crt_train_grad_of(m, grads, x->cls);
    for (int b = 0; b < B; b++)
        residual_forward(dcls, dcls, dx + (size_t)b * T * x->d, (size_t)x->d);
}

#define XL_TRAIN_OPS(name)                                                                         \
    {                                                                                              \
        .prepare = xl_prepare, .release = xl_release, .update_backward = xl_update_backward,       \
        .embed_backward = xl_embed_backward, .attention_backward = xl_attention_bwd,               \
    }

const struct crt_train_memory_ops crt_train_xl_ops = XL_TRAIN_OPS("xl");
const struct crt_train_memory_ops crt_train_full_ops = XL_TRAIN_OPS("full");
