/* crt_memory_gru: CRT's memory (docs/MODEL.md section 4) — one memory vector
 * m of d floats, embedded as one token in front of the segment; the memory
 * token's normed output s_n updates it through a GRU (nn.GRUCell's
 * equations) or an NC-GRU (arXiv 2208.06496); the classifier reads m_n. */
#include "crt_internal.h"

#include <math.h>
#include <string.h>

enum cell {
    CELL_GRU,
    CELL_NCGRU,
};

struct gru_weights {
    enum cell cell;
    float *embed_w, *embed_b; /* mem.embed.weight [d, d], .bias [d]: W_mem, b_mem */
    float *pos;               /* mem.pos [d]: P_mem */
    float *init;              /* mem.init [d]: m_0 */
    /* GRU: nn.GRUCell's tensors, gates in the order r, z, n. */
    float *w_ih, *w_hh; /* [3d, d] each */
    float *b_ih, *b_hh; /* [3d] each */
    /* NC-GRU: w_ih [3d, d] holds W_r, W_u, W_c; w_hh [2d, d] holds U_r, U_u;
     * bias [2d] holds b_r, b_u; u_c [d, d] the orthogonal U_c; bias_c [d] the
     * modReLU bias. */
    float *bias, *u_c, *bias_c;
};

static enum cell cell_of(const struct crt_config *cfg)
{
    return strcmp(cfg->variant, "ncgru") == 0 ? CELL_NCGRU : CELL_GRU;
}

static int gru_check_config(const struct crt_config *cfg, struct errbuf *err)
{
    if (strcmp(cfg->variant, "gru") != 0 && strcmp(cfg->variant, "ncgru") != 0)
        return errbuf_set(err, -EBADMSG, "metadata 'variant': '%.40s' unknown for %s (gru, ncgru)",
                          cfg->variant, cfg->architecture);
    return 0;
}

static size_t gru_state_floats(const struct crt_config *cfg)
{
    return (size_t)cfg->d_model;
}

static int gru_n_tokens(const struct crt_config *cfg)
{
    return 1;
}

static void gru_layout(const struct crt_config *cfg, struct crt_layout *lay, void *weights)
{
    struct gru_weights *w = weights;
    int64_t d = cfg->d_model;
    w->cell = cell_of(cfg);
    w->embed_w = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, d, d, "mem.embed.weight");
    w->embed_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "mem.embed.bias");
    w->pos = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "mem.pos");
    w->init = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "mem.init");
    if (w->cell == CELL_GRU) {
        w->w_ih = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, 3 * d, d, "mem.gru.weight_ih");
        w->w_hh = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, 3 * d, d, "mem.gru.weight_hh");
        w->b_ih = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, 3 * d, 0, "mem.gru.bias_ih");
        w->b_hh = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, 3 * d, 0, "mem.gru.bias_hh");
    } else {
        w->w_ih = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, 3 * d, d, "mem.ncgru.weight_ih");
        w->w_hh = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, 2 * d, d, "mem.ncgru.weight_hh");
        w->bias = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, 2 * d, 0, "mem.ncgru.bias");
        w->u_c = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, d, d, "mem.ncgru.u_c");
        w->bias_c = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "mem.ncgru.bias_c");
    }
}

static size_t gru_scratch_floats(const struct crt_config *cfg)
{
    /* gi [3d], gh [3d], r*m [d], z [d], and room for the memory embedding. */
    return 9 * (size_t)cfg->d_model;
}

static void gru_initial_memory(const struct crt_model *model, float *mem)
{
    const struct gru_weights *w = model->mem_w;
    memcpy(mem, w->init, (size_t)model->cfg.d_model * sizeof(float));
}

static void gru_embed(const struct crt_model *model, float *scratch, float *x, const float *mem_in,
                      int B, int T)
{
    const struct gru_weights *w = model->mem_w;
    int d = model->cfg.d_model;
    /* x_0 = W_mem m + b_mem + P_mem, from the live weights: the trainer runs
     * this too, between its own updates of the parameter buffer. */
    matmul_forward(scratch, mem_in, w->embed_w, w->embed_b, B, d, d);
    for (int b = 0; b < B; b++)
        residual_forward(x + (size_t)b * T * d, scratch + (size_t)b * d, w->pos, (size_t)d);
}

static void gru_update(const struct crt_model *model, float *scratch, float *mem_out,
                       float *readout, const float *h, const float *mem_in, int B)
{
    const struct gru_weights *w = model->mem_w;
    int d = model->cfg.d_model;
    float *gi = scratch;                /* [B, 3d] */
    float *gh = gi + (size_t)B * 3 * d; /* [B, 3d] */
    float *rm = gh + (size_t)B * 3 * d; /* [B, d] */
    float *z = rm + (size_t)B * d;      /* [B, d] */
#define P(x) crt_packed(model, (x))

    if (w->cell == CELL_GRU) {
        /* r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(...), n = tanh(W_in x +
         * b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h */
        matmul_t_forward(gi, 3 * d, h, d, P(w->w_ih), 3 * d, w->b_ih, B, d, 3 * d, false);
        matmul_t_forward(gh, 3 * d, mem_in, d, P(w->w_hh), 3 * d, w->b_hh, B, d, 3 * d, false);
        for (int b = 0; b < B; b++) {
            float *i_ = gi + (size_t)b * 3 * d;
            const float *h_ = gh + (size_t)b * 3 * d;
            const float *m = mem_in + (size_t)b * d;
            float *out = mem_out + (size_t)b * d, *ro = readout + (size_t)b * d;
            residual_forward(i_, i_, h_, 2 * (size_t)d);
            sigmoid_forward(i_, 2 * (size_t)d); /* r, z */
            for (int k = 0; k < d; k++)
                i_[2 * d + k] += i_[k] * h_[2 * d + k];
            tanh_forward(i_ + 2 * d, (size_t)d); /* n */
            for (int k = 0; k < d; k++) {
                float u = i_[d + k];
                float next = (1.0f - u) * i_[2 * d + k] + u * m[k];
                out[k] = next;
                ro[k] = next;
            }
        }
        return;
    }

    /* NC-GRU: r = s(W_r s + U_r m + b_r), u = s(W_u s + U_u m + b_u),
     * z = W_c s + U_c (r m), c = sign(z) relu(|z| + b_c), m' = u m + (1-u) c */
    matmul_t_forward(gi, 3 * d, h, d, P(w->w_ih), 3 * d, NULL, B, d, 3 * d, false);
    matmul_t_forward(gh, 2 * d, mem_in, d, P(w->w_hh), 2 * d, w->bias, B, d, 2 * d, false);
    for (int b = 0; b < B; b++) {
        float *i_ = gi + (size_t)b * 3 * d;
        const float *m = mem_in + (size_t)b * d;
        residual_forward(i_, i_, gh + (size_t)b * 2 * d, 2 * (size_t)d);
        sigmoid_forward(i_, 2 * (size_t)d); /* r, u */
        for (int k = 0; k < d; k++)
            rm[(size_t)b * d + k] = i_[k] * m[k];
    }
    matmul_t_forward(z, d, rm, d, P(w->u_c), d, NULL, B, d, d, false);
    for (int b = 0; b < B; b++) {
        const float *i_ = gi + (size_t)b * 3 * d, *u = i_ + d;
        const float *m = mem_in + (size_t)b * d, *zb = z + (size_t)b * d;
        float *out = mem_out + (size_t)b * d, *ro = readout + (size_t)b * d;
        for (int k = 0; k < d; k++) {
            float zk = zb[k] + i_[2 * d + k];
            float mag = fmaxf(fabsf(zk) + w->bias_c[k], 0.0f);
            float c = zk > 0.0f ? mag : zk < 0.0f ? -mag : 0.0f;
            float next = u[k] * m[k] + (1.0f - u[k]) * c;
            out[k] = next;
            ro[k] = next;
        }
    }
#undef P
}

static double gru_flops(const struct crt_config *cfg)
{
    double d = cfg->d_model;
    double f = 2.0 * d * d; /* memory embedding */
    if (cell_of(cfg) == CELL_GRU)
        f += 2.0 * 3.0 * d * d * 2.0; /* W_ih s, W_hh m */
    else
        f += 2.0 * 3.0 * d * d + 2.0 * 2.0 * d * d + 2.0 * d * d; /* W s, U_ru m, U_c (r m) */
    return f;
}

const struct crt_memory_ops crt_memory_gru_ops = {
    .variants = "gru, ncgru",
    .check_config = gru_check_config,
    .state_floats = gru_state_floats,
    .n_tokens = gru_n_tokens,
    .weights_size = sizeof(struct gru_weights),
    .layout = gru_layout,
    .scratch_floats = gru_scratch_floats,
    .initial_memory = gru_initial_memory,
    .embed = gru_embed,
    .update = gru_update,
    .flops = gru_flops,
};
