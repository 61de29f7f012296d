/* crt_memory_none: the "none" baseline (docs/MODEL.md, "The baseline none") —
 * no memory between segments. One learned token (none.cls) goes in front of
 * the segment; its normed encoder output is the segment's encoding, which the
 * shared classifier reads. What a stream reports:
 *   variant "mean": the mean of the per-segment logits since the stream began;
 *                   the state is their running sum (C floats) and the count
 *                   of segments (1 float), zero at the start;
 *   variant "last": the current segment's logits alone; no state at all. */
#include "crt_internal.h"

#include <string.h>

struct none_weights {
    bool mean;
    float *cls; /* none.cls [d] */
};

static int none_check_config(const struct crt_config *cfg, struct errbuf *err)
{
    if (strcmp(cfg->variant, "mean") != 0 && strcmp(cfg->variant, "last") != 0)
        return errbuf_set(err, -EBADMSG, "metadata 'variant': '%.40s' unknown for %s (mean, last)",
                          cfg->variant, cfg->architecture);
    return 0;
}

static bool is_mean(const struct crt_config *cfg)
{
    return strcmp(cfg->variant, "mean") == 0;
}

static size_t none_state_floats(const struct crt_config *cfg)
{
    return is_mean(cfg) ? (size_t)cfg->n_classes + 1 : 0;
}

static int none_n_tokens(const struct crt_config *cfg)
{
    (void)cfg;
    return 1;
}

static void none_layout(const struct crt_config *cfg, struct crt_layout *lay, void *weights)
{
    struct none_weights *w = weights;
    w->mean = is_mean(cfg);
    w->cls = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, cfg->d_model, 0, "none.cls");
}

static void none_embed(const struct crt_model *model, float *scratch, float *x, const float *mem_in,
                       int B, int T)
{
    const struct none_weights *w = model->mem_w;
    int d = model->cfg.d_model;
    (void)scratch;
    (void)mem_in;
    for (int b = 0; b < B; b++)
        memcpy(x + (size_t)b * T * d, w->cls, (size_t)d * sizeof(float));
}

static void none_update(const struct crt_model *model, float *scratch, float *save, float *mem_out,
                        float *readout, const float *h, const float *mem_in, int B)
{
    (void)save; /* the backward needs nothing */
    (void)scratch;
    size_t S = model->state_floats;
    memcpy(readout, h, (size_t)B * model->cfg.d_model * sizeof(float));
    if (mem_out != mem_in && S)
        memcpy(mem_out, mem_in, (size_t)B * S * sizeof(float));
}

/* sum += logits; count += 1; logits = sum / count. */
static void none_output(const struct crt_model *model, float *mem_out, float *logits, int B)
{
    const struct none_weights *w = model->mem_w;
    int C = model->cfg.n_classes;
    if (!w->mean)
        return;
    for (int b = 0; b < B; b++) {
        float *sum = mem_out + (size_t)b * (C + 1), *lg = logits + (size_t)b * C;
        float count = sum[C] + 1.0f;
        sum[C] = count;
        for (int k = 0; k < C; k++) {
            sum[k] += lg[k];
            lg[k] = sum[k] / count;
        }
    }
}

static double none_flops(const struct crt_config *cfg)
{
    return is_mean(cfg) ? 2.0 * cfg->n_classes : 0.0;
}

const struct crt_memory_ops crt_memory_none_ops = {
    .variants = "mean, last",
    .check_config = none_check_config,
    .state_floats = none_state_floats,
    .n_tokens = none_n_tokens,
    .weights_size = sizeof(struct none_weights),
    .layout = none_layout,
    .embed = none_embed,
    .update = none_update,
    .output = none_output,
    .flops = none_flops,
};
