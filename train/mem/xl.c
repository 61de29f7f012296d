/* crt_train_xl: the backward pass of the cached-attention baselines
 * (crt_memory_xl.c). As in Transformer-XL the cached keys and values are
 * constants (stop-gradient): gradients reach this segment's queries, keys
 * and values, and xl.cls, never the segments before through the cache. */
#include "train_internal.h"
#include "mem/xl.h"

#include <math.h>
#include <string.h>

struct xl_train {
    int M, cached, d, H, L, NL;
    size_t S, save;
    size_t att_off[CRT_MAX_LAYERS], kv_off[CRT_MAX_LAYERS];
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
    x->L = c->segment_len;
    x->cached = x->M * x->L;
    x->d = c->d_model;
    x->H = c->n_heads;
    x->NL = c->n_layers;
    x->S = m->state_floats;
    int T = 1 + x->L;
    size_t at = 0;
    for (int l = 0; l < x->NL; l++) {
        int nq = l == x->NL - 1 ? 1 : T;
        x->att_off[l] = at;
        at += (size_t)x->H * nq * (x->cached + T);
        x->kv_off[l] = at;
        at += 2 * (size_t)x->L * x->d;
    }
    x->save = at;
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

static size_t xl_save_floats(const struct crt_model *m)
{
    const struct crt_config *c = &m->cfg;
    size_t cached = (size_t)crt_xl_cached_segments(c) * c->segment_len, T = 1 + c->segment_len;
    size_t total = 0;
    for (int l = 0; l < c->n_layers; l++)
        total += (size_t)c->n_heads * (l == c->n_layers - 1 ? 1 : T) * (cached + T) +
                 2 * (size_t)c->segment_len * c->d_model;
    return total;
}

static size_t xl_scratch_floats(const struct crt_model *m)
{
    (void)m;
    return 0;
}

static void xl_attention_fwd(const struct crt_model *m, void *ctx, float *save, int l, float *out,
                             const float *qkv, const float *mem_in, int B, int T, int nq)
{
    struct xl_train *x = ctx;
    int d = x->d;
    (void)m;
    crt_xl_attention_forward(out, save + x->att_off[l], x->save, NULL, qkv, mem_in, x->S,
                             crt_xl_layer_offset(&m->cfg, l), B, T, d, x->H, nq, x->cached);
    for (int b = 0; b < B; b++) {
        float *kv = save + (size_t)b * x->save + x->kv_off[l];
        for (int part = 0; part < 2; part++)
            for (int t = 0; t < x->L; t++)
                memcpy(kv + ((size_t)part * x->L + t) * d,
                       qkv + ((size_t)b * T + 1 + t) * 3 * d + (size_t)(1 + part) * d,
                       (size_t)d * sizeof(float));
    }
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
        const float *att = save + (size_t)b * x->save + x->att_off[l];
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

static void xl_update_forward(const struct crt_model *m, void *ctx, float *save, float *mem_out,
                              float *readout, const float *h, const float *mem_in, int B)
{
    struct xl_train *x = ctx;
    int d = x->d, L = x->L;
    size_t rows = (size_t)x->cached;
    memcpy(readout, h, (size_t)B * d * sizeof(float));
    for (int b = 0; b < B; b++) {
        const float *in = mem_in + (size_t)b * x->S;
        float *out = mem_out + (size_t)b * x->S;
        out[0] = fminf(in[0] + 1.0f, (float)x->M);
        for (int l = 0; l < x->NL; l++) {
            size_t off = crt_xl_layer_offset(&m->cfg, l);
            const float *kv = save + (size_t)b * x->save + x->kv_off[l];
            for (int part = 0; part < 2; part++) {
                const float *src = in + off + part * rows * d;
                float *dst = out + off + part * rows * d;
                memmove(dst, src + (size_t)L * d, (rows - L) * d * sizeof(float));
                memcpy(dst + (rows - L) * d, kv + (size_t)part * L * d,
                       (size_t)L * d * sizeof(float));
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

static void xl_initial_memory_backward(const struct crt_model *m, void *ctx, float *grads,
                                       const float *dmem)
{
    (void)m;
    (void)ctx;
    (void)grads;
    (void)dmem; /* an empty cache, not learned */
}

#define XL_TRAIN_OPS(name)                                                                         \
    {                                                                                              \
        .prepare = xl_prepare, .release = xl_release, .save_floats = xl_save_floats,               \
        .scratch_floats = xl_scratch_floats, .update_forward = xl_update_forward,                  \
        .update_backward = xl_update_backward, .embed_backward = xl_embed_backward,                \
        .initial_memory_backward = xl_initial_memory_backward,                                     \
        .attention_forward = xl_attention_fwd, .attention_backward = xl_attention_bwd,             \
    }

const struct crt_train_memory_ops crt_train_xl_ops = XL_TRAIN_OPS("xl");
const struct crt_train_memory_ops crt_train_full_ops = XL_TRAIN_OPS("full");
