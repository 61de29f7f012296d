/* crt_train_rmt: the backward pass of RMT (crt_memory_rmt.c): memory tokens
 * m_i + P[i] in, the normed outputs at those positions out as the next
 * memory, their mean to the classifier. */
#include "train_internal.h"

#include <string.h>

struct rmt_train {
    int M, d;
    float *pos, *init;
};

static int rmt_prepare(struct crt_model *m, void **ret_ctx, struct crt_train_extra *extra,
                       int *ret_n_extra, struct errbuf *err)
{
    (void)extra;
    struct rmt_train *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->M = crt_rmt_tokens(&m->cfg);
    r->d = m->cfg.d_model;
    r->pos = crt_model_param(m, "rmt.pos");
    r->init = crt_model_param(m, "rmt.init");
    if (!r->pos || !r->init) {
        free(r);
        return errbuf_set(err, -EINVAL, "training: the model has no tensor 'rmt.pos'/'rmt.init'");
    }
    *ret_n_extra = 0;
    *ret_ctx = r;
    return 0;
}

static void rmt_release(void *ctx)
{
    free(ctx);
}

static void rmt_update_backward(const struct crt_model *m, void *ctx, float *grads, float *scratch,
                                const float *save, const float *dmem_out, const float *dreadout,
                                const float *h, const float *mem_in, float *dh, float *dmem_in,
                                int B)
{
    struct rmt_train *r = ctx;
    (void)m;
    (void)grads;
    (void)scratch;
    (void)save;
    (void)h;
    (void)mem_in;
    size_t Md = (size_t)r->M * r->d;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < r->M; i++)
            for (int k = 0; k < r->d; k++) {
                size_t at = (size_t)b * Md + (size_t)i * r->d + k;
                dh[at] = dmem_out[at] + dreadout[(size_t)b * r->d + k] / (float)r->M;
            }
    memset(dmem_in, 0, (size_t)B * Md * sizeof(float));
}

static void rmt_embed_backward(const struct crt_model *m, void *ctx, float *grads, const float *dx,
                               const float *mem_in, float *dmem_in, int B, int T)
{
    struct rmt_train *r = ctx;
    (void)mem_in;
    size_t Md = (size_t)r->M * r->d;
    float *dpos = crt_train_grad_of(m, grads, r->pos);
    for (int b = 0; b < B; b++) {
        const float *dxb = dx + (size_t)b * T * r->d; /* the memory tokens are rows 0..M */
        residual_forward(dmem_in + (size_t)b * Md, dmem_in + (size_t)b * Md, dxb, Md);
        residual_forward(dpos, dpos, dxb, Md);
    }
}

static void rmt_initial_memory_backward(const struct crt_model *m, void *ctx, float *grads,
                                        const float *dmem)
{
    struct rmt_train *r = ctx;
    float *dinit = crt_train_grad_of(m, grads, r->init);
    residual_forward(dinit, dinit, dmem, (size_t)r->M * r->d);
}

const struct crt_train_memory_ops crt_train_rmt_ops = {
    .prepare = rmt_prepare,
    .release = rmt_release,
    .update_backward = rmt_update_backward,
    .embed_backward = rmt_embed_backward,
    .initial_memory_backward = rmt_initial_memory_backward,
};
