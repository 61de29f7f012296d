/* crt_train_none: the backward pass of the "none" baseline
 * (crt_memory_none.c): the learned token none.cls, the identity update, and
 * for variant "mean" the running mean of the logits, whose sum carries
 * gradients back to the earlier segments of the window. */
#include "train_internal.h"

#include <string.h>

struct none_train {
    bool mean;
    float *cls;
};

static int none_prepare(struct crt_model *m, void **ret_ctx, struct crt_train_extra *extra,
                        int *ret_n_extra, struct errbuf *err)
{
    (void)extra;
    struct none_train *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->mean = strcmp(m->cfg.variant, "mean") == 0;
    n->cls = crt_model_param(m, "none.cls");
    if (!n->cls) {
        free(n);
        return errbuf_set(err, -EINVAL, "training: the model has no tensor 'none.cls'");
    }
    *ret_n_extra = 0;
    *ret_ctx = n;
    return 0;
}

static void none_release(void *ctx)
{
    free(ctx);
}

static void none_update_backward(const struct crt_model *m, void *ctx, float *grads, float *scratch,
                                 const float *save, const float *dmem_out, const float *dreadout,
                                 const float *h, const float *mem_in, float *dh, float *dmem_in,
                                 int B)
{
    (void)ctx;
    (void)grads;
    (void)scratch;
    (void)save;
    (void)h;
    (void)mem_in;
    size_t S = m->state_floats;
    memcpy(dh, dreadout, (size_t)B * m->cfg.d_model * sizeof(float));
    if (S)
        memcpy(dmem_in, dmem_out, (size_t)B * S * sizeof(float));
}

static void none_embed_backward(const struct crt_model *m, void *ctx, float *grads, const float *dx,
                                const float *mem_in, float *dmem_in, int B, int T)
{
    struct none_train *n = ctx;
    int d = m->cfg.d_model;
    (void)mem_in;
    (void)dmem_in;
    float *dcls = crt_train_grad_of(m, grads, n->cls);
    for (int b = 0; b < B; b++)
        residual_forward(dcls, dcls, dx + (size_t)b * T * d, (size_t)d);
}

/* Forward: sum' = sum + z, count' = count + 1, y = sum' / count'. Given dy
 * and dsum' (from later segments): dz = dsum = dsum' + dy / count'. */
static void none_output_backward(const struct crt_model *m, void *ctx, const float *mem_in,
                                 float *dlogits, float *dmem_out, int B)
{
    struct none_train *n = ctx;
    int C = m->cfg.n_classes;
    if (!n->mean)
        return;
    for (int b = 0; b < B; b++) {
        float count = mem_in[(size_t)b * (C + 1) + C] + 1.0f;
        float *dy = dlogits + (size_t)b * C, *dsum = dmem_out + (size_t)b * (C + 1);
        for (int k = 0; k < C; k++) {
            float g = dsum[k] + dy[k] / count;
            dsum[k] = g;
            dy[k] = g;
        }
        dsum[C] = 0.0f; /* the count is not differentiable */
    }
}

const struct crt_train_memory_ops crt_train_none_ops = {
    .prepare = none_prepare,
    .release = none_release,
    .update_backward = none_update_backward,
    .embed_backward = none_embed_backward,
    .output_backward = none_output_backward,
};
