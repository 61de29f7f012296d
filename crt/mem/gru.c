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

/* What an update keeps per sequence, for the backward pass
 * (train/mem/gru.c) or in scratch at inference: gi [3d], gh [3d], r [d],
 * u (z) [d], n [d] (NC-GRU: the modReLU's input z), and for NC-GRU r*m [d]
 * and the modReLU's output c [d]. */
#define GRU_SAVE 11

static size_t gru_save_floats(const struct crt_config *cfg)
{
    return GRU_SAVE * (size_t)cfg->d_model;
}

static size_t gru_scratch_floats(const struct crt_config *cfg)
{
    /* the update's values as save holds them; the memory embedding fits */
    return gru_save_floats(cfg);
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
    /* x_0 = W_mem m + b_mem + P_mem */
    matmul_t_forward(scratch, d, mem_in, d, crt_packed(model, w->embed_w), d, w->embed_b, B, d, d,
                     false);
    for (int b = 0; b < B; b++)
        residual_forward(x + (size_t)b * T * d, scratch + (size_t)b * d, w->pos, (size_t)d);
}

static void gru_update(const struct crt_model *model, float *scratch, float *save, float *mem_out,
                       float *readout, const float *h, const float *mem_in, int B)
{
    const struct gru_weights *w = model->mem_w;
    int d = model->cfg.d_model, ld = GRU_SAVE * d;
    float *sv = save ? save : scratch; /* [B][GRU_SAVE d] */
#define P(x) crt_packed(model, (x))

    if (w->cell == CELL_GRU) {
        /* r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(...), n = tanh(W_in x +
         * b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h */
        matmul_t_forward(sv, ld, h, d, P(w->w_ih), 3 * d, w->b_ih, B, d, 3 * d, false);
        matmul_t_forward(sv + 3 * d, ld, mem_in, d, P(w->w_hh), 3 * d, w->b_hh, B, d, 3 * d, false);
    } else {
        /* NC-GRU: r = s(W_r s + U_r m + b_r), u = s(W_u s + U_u m + b_u),
         * z = W_c s + U_c (r m), c = sign(z) relu(|z| + b_c), m' = u m + (1-u) c */
        matmul_t_forward(sv, ld, h, d, P(w->w_ih), 3 * d, NULL, B, d, 3 * d, false);
        matmul_t_forward(sv + 3 * d, ld, mem_in, d, P(w->w_hh), 2 * d, w->bias, B, d, 2 * d, false);
    }
    for (int b = 0; b < B; b++) {
        float *gi = sv + (size_t)b * ld, *gh = gi + 3 * d, *ru = gi + 6 * d;
        residual_forward(ru, gi, gh, 2 * (size_t)d);
        sigmoid_forward(ru, 2 * (size_t)d); /* r, u */
    }
    if (w->cell == CELL_GRU) {
        for (int b = 0; b < B; b++) {
            const float *gi = sv + (size_t)b * ld, *gh = gi + 3 * d, *r = gi + 6 * d;
            const float *u = gi + 7 * d, *m = mem_in + (size_t)b * d;
            float *n = sv + (size_t)b * ld + 8 * d;
            float *out = mem_out + (size_t)b * d, *ro = readout + (size_t)b * d;
            for (int k = 0; k < d; k++)
                n[k] = gi[2 * d + k] + r[k] * gh[2 * d + k];
            tanh_forward(n, (size_t)d);
            for (int k = 0; k < d; k++) {
                float next = (1.0f - u[k]) * n[k] + u[k] * m[k];
                out[k] = next;
                ro[k] = next;
            }
        }
        return;
    }

    for (int b = 0; b < B; b++) {
        float *rm = sv + (size_t)b * ld + 9 * d;
        const float *r = sv + (size_t)b * ld + 6 * d, *m = mem_in + (size_t)b * d;
        for (int k = 0; k < d; k++)
            rm[k] = r[k] * m[k];
    }
    matmul_t_forward(sv + 8 * d, ld, sv + 9 * d, ld, P(w->u_c), d, NULL, B, d, d, false);
    for (int b = 0; b < B; b++) {
        float *gi = sv + (size_t)b * ld, *u = gi + 7 * d, *z = gi + 8 * d, *c = gi + 10 * d;
        const float *m = mem_in + (size_t)b * d;
        float *out = mem_out + (size_t)b * d, *ro = readout + (size_t)b * d;
        for (int k = 0; k < d; k++) {
            float zk = z[k] + gi[2 * d + k];
            float mag = fmaxf(fabsf(zk) + w->bias_c[k], 0.0f);
            z[k] = zk;
            c[k] = zk > 0.0f ? mag : zk < 0.0f ? -mag : 0.0f;
            float next = u[k] * m[k] + (1.0f - u[k]) * c[k];
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
    .save_floats = gru_save_floats,
    .initial_memory = gru_initial_memory,
    .embed = gru_embed,
    .update = gru_update,
    .flops = gru_flops,
};
