/* crt_memory_brt: the Block-Recurrent Transformer (arXiv 2203.07852,
 * docs/MODEL.md "Block-Recurrent") on top of the shared encoder. Its last
 * block is the recurrent layer: S state vectors (learned initial state and
 * positions) attend, in one softmax, to themselves and to the block's token
 * keys and values (the state side's self- and cross-attention); the result,
 * projected, is merged into the old state by a gate, then an FFN's output by
 * a second gate. Gates "fixed": c' = c g + z (1 - g), g = sigmoid(b);
 * "lstm": c' = c f + z i, f = sigmoid(W_f z + b_f + 1),
 * i = sigmoid(W_i z + b_i - 1). The classifier reads the mean of the state.
 * The token side of the recurrent layer (tokens attending to the state) has
 * no reader here, since the classifier reads the state: it is not computed,
 * and the model keeps no memory tokens (n_tokens 0). */
#include "brt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BRT_MAX_STATE 256

int crt_brt_state_vectors(const struct crt_config *cfg, bool *ret_lstm)
{
    char gate[16];
    int S = 16, end = 0;
    if (sscanf(cfg->variant, "%15[a-z]%n", gate, &end) != 1)
        return -1;
    if (cfg->variant[end]) {
        int more = 0;
        if (sscanf(cfg->variant + end, "-s%d%n", &S, &more) != 1 || cfg->variant[end + more])
            return -1;
    }
    bool lstm = strcmp(gate, "lstm") == 0;
    if ((!lstm && strcmp(gate, "fixed") != 0) || S < 1 || S > BRT_MAX_STATE)
        return -1;
    if (ret_lstm)
        *ret_lstm = lstm;
    return S;
}

void crt_brt_buf_layout(const struct crt_config *cfg, int S, int T, struct brt_buf *bl)
{
    size_t d = (size_t)cfg->d_model, ff = (size_t)cfg->d_ff, s = (size_t)S, at = 0;
    size_t H = (size_t)cfg->n_heads;
#define SLOT(field, n)                                                                             \
    do {                                                                                           \
        bl->field = at;                                                                            \
        at += ((n) + 15) & ~(size_t)15;                                                            \
    } while (0)
    SLOT(a, s * d);
    SLOT(mean, s);
    SLOT(rstd, s);
    SLOT(qkv, s * 3 * d);
    SLOT(att, H * s * (s + (size_t)T));
    SLOT(y, s * d);
    SLOT(z, s * d);
    SLOT(g1, s * 2 * d);
    SLOT(c1, s * d);
    SLOT(fln, s * d);
    SLOT(fmean, s);
    SLOT(frstd, s);
    SLOT(fc1, s * ff);
    SLOT(gel, s * ff);
    SLOT(mm, s * d);
    SLOT(g2, s * 2 * d);
    SLOT(out, s * d);
#undef SLOT
    bl->total = at;
}

static int brt_check_config(const struct crt_config *cfg, struct errbuf *err)
{
    if (crt_brt_state_vectors(cfg, NULL) < 0)
        return errbuf_set(err, -EBADMSG,
                          "metadata 'variant': '%.40s' unknown for %s (fixed, lstm, or "
                          "fixed-s<S>, lstm-s<S> with S state vectors 1..%d)",
                          cfg->variant, cfg->architecture, BRT_MAX_STATE);
    return 0;
}

static size_t brt_state_floats(const struct crt_config *cfg)
{
    return (size_t)crt_brt_state_vectors(cfg, NULL) * (size_t)cfg->d_model;
}

static int brt_n_tokens(const struct crt_config *cfg)
{
    (void)cfg;
    return 0;
}

static void brt_layout(const struct crt_config *cfg, struct crt_layout *lay, void *weights)
{
    struct brt_weights *w = weights;
    int64_t d = cfg->d_model, ff = cfg->d_ff;
    w->S = crt_brt_state_vectors(cfg, &w->lstm);
    w->init = crt_layout_add(lay, CRT_PARAM_FAN_IN, 2, w->S, d, "brt.init");
    w->pos = crt_layout_add(lay, CRT_PARAM_FAN_IN, 2, w->S, d, "brt.pos");
    w->ln_w = crt_layout_add(lay, CRT_PARAM_NORM, 1, d, 0, "brt.ln.weight");
    w->ln_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "brt.ln.bias");
    w->qkv_w = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, 3 * d, d, "brt.qkv.weight");
    w->qkv_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, 3 * d, 0, "brt.qkv.bias");
    w->proj_w = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, d, d, "brt.proj.weight");
    w->proj_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "brt.proj.bias");
    w->gate1_w =
        w->lstm ? crt_layout_add(lay, CRT_PARAM_MATRIX, 2, 2 * d, d, "brt.gate1.weight") : NULL;
    w->gate1_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, w->lstm ? 2 * d : d, 0, "brt.gate1.bias");
    w->ffn_ln_w = crt_layout_add(lay, CRT_PARAM_NORM, 1, d, 0, "brt.ffn.ln.weight");
    w->ffn_ln_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "brt.ffn.ln.bias");
    w->fc1_w = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, ff, d, "brt.ffn.fc1.weight");
    w->fc1_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, ff, 0, "brt.ffn.fc1.bias");
    w->fc2_w = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, d, ff, "brt.ffn.fc2.weight");
    w->fc2_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "brt.ffn.fc2.bias");
    w->gate2_w =
        w->lstm ? crt_layout_add(lay, CRT_PARAM_MATRIX, 2, 2 * d, d, "brt.gate2.weight") : NULL;
    w->gate2_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, w->lstm ? 2 * d : d, 0, "brt.gate2.bias");
}

static size_t brt_scratch_floats(const struct crt_config *cfg)
{
    struct brt_buf bl;
    crt_brt_buf_layout(cfg, crt_brt_state_vectors(cfg, NULL), cfg->segment_len, &bl);
    return bl.total;
}

static void brt_initial_memory(const struct crt_model *model, float *mem)
{
    const struct brt_weights *w = model->mem_w;
    memcpy(mem, w->init, model->state_floats * sizeof(float));
}

/* out = c g + z (1 - g) or c f + z i; g keeps [f, i] per row (lstm). */
static void gate_forward(float *out, float *g, const float *c, const float *z, const float *gw,
                         const float *gb, bool lstm, int S, int d)
{
    if (!lstm) {
        for (int s = 0; s < S; s++)
            for (int k = 0; k < d; k++) {
                float gk = kernel_sigmoidf(gb[k]);
                size_t at = (size_t)s * d + k;
                out[at] = c[at] * gk + z[at] * (1.0f - gk);
            }
        return;
    }
    matmul_forward(g, z, gw, gb, S, d, 2 * d);
    for (int s = 0; s < S; s++)
        for (int k = 0; k < d; k++) {
            float *row = g + (size_t)s * 2 * d;
            row[k] = kernel_sigmoidf(row[k] + 1.0f);
            row[d + k] = kernel_sigmoidf(row[d + k] - 1.0f);
            size_t at = (size_t)s * d + k;
            out[at] = c[at] * row[k] + z[at] * row[d + k];
        }
}

void crt_brt_state_forward(const struct crt_config *cfg, const struct brt_weights *w, float *buf,
                           const struct brt_buf *bl, const float *c, const float *qkv, int T)
{
    int S = w->S, d = cfg->d_model, H = cfg->n_heads, hs = d / H, ff = cfg->d_ff, K = S + T;
    float eps = cfg->layer_norm_eps, scale = 1.0f / sqrtf((float)hs);
    float *a = buf + bl->a, *sq = buf + bl->qkv, *att = buf + bl->att, *y = buf + bl->y;

    /* a = LN(c) + P; q, k, v of the state */
    layernorm_forward(a, buf + bl->mean, buf + bl->rstd, c, w->ln_w, w->ln_b, S, d, eps);
    residual_forward(a, a, w->pos, (size_t)S * d);
    matmul_forward(sq, a, w->qkv_w, w->qkv_b, S, d, 3 * d);
    /* state queries over the state's keys, then the tokens' */
    for (int h = 0; h < H; h++)
        for (int i = 0; i < S; i++) {
            const float *q = sq + (size_t)i * 3 * d + h * hs;
            float *wr = att + ((size_t)h * S + i) * K, mx = -INFINITY, sum = 0.0f;
            for (int j = 0; j < K; j++) {
                const float *k = j < S ? sq + (size_t)j * 3 * d + d + h * hs
                                       : qkv + (size_t)(j - S) * 3 * d + d + h * hs;
                float s = 0.0f;
                for (int e = 0; e < hs; e++)
                    s += q[e] * k[e];
                wr[j] = s * scale;
                mx = fmaxf(mx, wr[j]);
            }
            for (int j = 0; j < K; j++) {
                wr[j] = expf(wr[j] - mx);
                sum += wr[j];
            }
            float *o = y + (size_t)i * d + h * hs;
            for (int e = 0; e < hs; e++)
                o[e] = 0.0f;
            for (int j = 0; j < K; j++) {
                wr[j] /= sum;
                const float *v = j < S ? sq + (size_t)j * 3 * d + 2 * d + h * hs
                                       : qkv + (size_t)(j - S) * 3 * d + 2 * d + h * hs;
                for (int e = 0; e < hs; e++)
                    o[e] += wr[j] * v[e];
            }
        }
    matmul_forward(buf + bl->z, y, w->proj_w, w->proj_b, S, d, d);
    gate_forward(buf + bl->c1, buf + bl->g1, c, buf + bl->z, w->gate1_w, w->gate1_b, w->lstm, S, d);
    layernorm_forward(buf + bl->fln, buf + bl->fmean, buf + bl->frstd, buf + bl->c1, w->ffn_ln_w,
                      w->ffn_ln_b, S, d, eps);
    matmul_forward(buf + bl->fc1, buf + bl->fln, w->fc1_w, w->fc1_b, S, d, ff);
    gelu_forward(buf + bl->gel, buf + bl->fc1, (size_t)S * ff);
    matmul_forward(buf + bl->mm, buf + bl->gel, w->fc2_w, w->fc2_b, S, ff, d);
    gate_forward(buf + bl->out, buf + bl->g2, buf + bl->c1, buf + bl->mm, w->gate2_w, w->gate2_b,
                 w->lstm, S, d);
}

size_t crt_brt_save_offset(const struct crt_config *cfg, int l)
{
    return (size_t)l * cfg->n_heads * cfg->segment_len * cfg->segment_len;
}

static size_t brt_save_floats(const struct crt_config *cfg)
{
    return crt_brt_save_offset(cfg, cfg->n_layers - 1) + brt_scratch_floats(cfg);
}

static void brt_attention(const struct crt_model *model, int l, float *scratch, float *save,
                          float *out, const float *qkv, const float *mem_in, float *mem_out, int B,
                          int T, int nq)
{
    const struct crt_config *c = &model->cfg;
    const struct brt_weights *w = model->mem_w;
    size_t stride = save ? brt_save_floats(c) : 0, off = crt_brt_save_offset(c, l);
    int d = c->d_model;
    if (l < c->n_layers - 1) {
        if (!save) {
            attention_forward(out, NULL, qkv, B, T, d, c->n_heads, nq);
            return;
        }
        for (int b = 0; b < B; b++) /* the weights of each sequence next to its state's */
            attention_forward(out + (size_t)b * nq * d, save + b * stride + off,
                              qkv + (size_t)b * T * 3 * d, 1, T, d, c->n_heads, nq);
        return;
    }
    /* The state side: every intermediate in save for the backward, else in
     * scratch. The last block has no memory tokens, so no queries (nq 0). */
    struct brt_buf bl;
    crt_brt_buf_layout(c, w->S, T, &bl);
    size_t Sd = model->state_floats;
    for (int b = 0; b < B; b++) {
        float *buf = save ? save + b * stride + off : scratch;
        crt_brt_state_forward(c, w, buf, &bl, mem_in + (size_t)b * Sd, qkv + (size_t)b * T * 3 * d,
                              T);
        memcpy(mem_out + (size_t)b * Sd, buf + bl.out, Sd * sizeof(float));
    }
}

static void brt_update(const struct crt_model *model, float *scratch, float *save, float *mem_out,
                       float *readout, const float *h, const float *mem_in, int B)
{
    (void)save; /* the state side saved what its backward needs */
    const struct brt_weights *w = model->mem_w;
    int d = model->cfg.d_model;
    (void)scratch, (void)h, (void)mem_in;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < d; k++) {
            float s = 0.0f;
            for (int i = 0; i < w->S; i++)
                s += mem_out[(size_t)b * model->state_floats + (size_t)i * d + k];
            readout[(size_t)b * d + k] = s / (float)w->S;
        }
}

static double brt_flops(const struct crt_config *cfg)
{
    bool lstm;
    double S = crt_brt_state_vectors(cfg, &lstm), d = cfg->d_model, ff = cfg->d_ff;
    double T = cfg->segment_len;
    double f = 2.0 * S * d * 3.0 * d;              /* state q, k, v */
    f += 2.0 * 2.0 * S * (S + T) * d;              /* scores and weighted values */
    f += 2.0 * S * d * d;                          /* projection */
    f += 2.0 * 2.0 * S * d * ff;                   /* FFN */
    f += lstm ? 2.0 * 2.0 * S * d * 2.0 * d : 0.0; /* two lstm gates */
    return f;
}

#define BRT_OPS                                                                                    \
    {                                                                                              \
        .variants = "fixed, lstm, fixed-s<S>, lstm-s<S>", .check_config = brt_check_config,        \
        .state_floats = brt_state_floats, .n_tokens = brt_n_tokens,                                \
        .weights_size = sizeof(struct brt_weights), .layout = brt_layout,                          \
        .scratch_floats = brt_scratch_floats, .initial_memory = brt_initial_memory,                \
        .save_floats = brt_save_floats, .update = brt_update, .flops = brt_flops,                  \
        .attention = brt_attention,                                                                \
    }

const struct crt_memory_ops crt_memory_brt_ops = BRT_OPS;
