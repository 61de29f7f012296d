/* crt_memory_rmt: the Recurrent Memory Transformer (arXiv 2207.06881) in its
 * encoder form (docs/MODEL.md, "RMT"): M memory tokens go in front of the
 * segment, each its memory vector plus a learned slot position; the normed
 * encoder outputs at those positions are the next memory, without a gate;
 * the classifier reads their mean. The initial memory is learned. M comes
 * from the variant name "m<M>" (`--variant rmt` is m8). */
#include "crt_internal.h"

#include <stdio.h>
#include <string.h>

#define RMT_MAX_TOKENS 256

struct rmt_weights {
    int M;
    float *pos;  /* rmt.pos [M, d] */
    float *init; /* rmt.init [M, d] */
};

int crt_rmt_tokens(const struct crt_config *cfg)
{
    int M = 0, end = 0;
    if (sscanf(cfg->variant, "m%d%n", &M, &end) != 1 || cfg->variant[end] || M < 1 ||
        M > RMT_MAX_TOKENS)
        return -1;
    return M;
}

static int rmt_check_config(const struct crt_config *cfg, struct errbuf *err)
{
    if (crt_rmt_tokens(cfg) < 0)
        return errbuf_set(err, -EBADMSG,
                          "metadata 'variant': '%.40s' unknown for %s (m<M>: M memory tokens, "
                          "1..%d, e.g. m8)",
                          cfg->variant, cfg->architecture, RMT_MAX_TOKENS);
    return 0;
}

static size_t rmt_state_floats(const struct crt_config *cfg)
{
    return (size_t)crt_rmt_tokens(cfg) * (size_t)cfg->d_model;
}

static int rmt_n_tokens(const struct crt_config *cfg)
{
    return crt_rmt_tokens(cfg);
}

static void rmt_layout(const struct crt_config *cfg, struct crt_layout *lay, void *weights)
{
    struct rmt_weights *w = weights;
    w->M = crt_rmt_tokens(cfg);
    w->pos = crt_layout_add(lay, CRT_PARAM_FAN_IN, 2, w->M, cfg->d_model, "rmt.pos");
    w->init = crt_layout_add(lay, CRT_PARAM_FAN_IN, 2, w->M, cfg->d_model, "rmt.init");
}

static void rmt_initial_memory(const struct crt_model *model, float *mem)
{
    const struct rmt_weights *w = model->mem_w;
    memcpy(mem, w->init, model->state_floats * sizeof(float));
}

static void rmt_embed(const struct crt_model *model, float *scratch, float *x, const float *mem_in,
                      int B, int T)
{
    const struct rmt_weights *w = model->mem_w;
    size_t Md = model->state_floats, d = (size_t)model->cfg.d_model;
    (void)scratch;
    for (int b = 0; b < B; b++)
        residual_forward(x + (size_t)b * T * d, mem_in + (size_t)b * Md, w->pos, Md);
}

static void rmt_update(const struct crt_model *model, float *scratch, float *save, float *mem_out,
                       float *readout, const float *h, const float *mem_in, int B)
{
    (void)save; /* the backward needs nothing */
    const struct rmt_weights *w = model->mem_w;
    int d = model->cfg.d_model, M = w->M;
    size_t Md = model->state_floats;
    (void)scratch;
    (void)mem_in;
    for (int b = 0; b < B; b++) {
        const float *hb = h + (size_t)b * Md;
        float *ro = readout + (size_t)b * d;
        for (int k = 0; k < d; k++) {
            float s = 0.0f;
            for (int i = 0; i < M; i++)
                s += hb[(size_t)i * d + k];
            ro[k] = s / (float)M;
        }
    }
    memcpy(mem_out, h, (size_t)B * Md * sizeof(float));
}

static double rmt_flops(const struct crt_config *cfg)
{
    /* the slot positions added, the mean of the outputs */
    return 2.0 * (double)crt_rmt_tokens(cfg) * cfg->d_model;
}

const struct crt_memory_ops crt_memory_rmt_ops = {
    .variants = "m<M>, e.g. m8",
    .check_config = rmt_check_config,
    .state_floats = rmt_state_floats,
    .n_tokens = rmt_n_tokens,
    .weights_size = sizeof(struct rmt_weights),
    .layout = rmt_layout,
    .initial_memory = rmt_initial_memory,
    .embed = rmt_embed,
    .update = rmt_update,
    .flops = rmt_flops,
};
