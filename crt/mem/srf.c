/* crt_memory_srf: SRformer (arXiv 2305.16340) adapted to a causal stream
 * (docs/MODEL.md, "SRformer"). Attention stays inside the segment; in every
 * block each head keeps P, the running sum over past segments of K^T V of
 * their frame tokens, and a Recurrent Accumulate-and-Fire neuron with
 * membrane V: x = W P, V <- lambda V + x, a = V / theta - 1, out = relu(a),
 * V <- V - theta [a > 0]; the attention output of query q adds
 * (q out) / ||K||, ||K|| the running per-dimension key norm
 * sqrt(sum k^2 + 1e-5). W [dk, dk], theta, lambda per layer (theta and
 * lambda start at 0.1). A learned token (srf.cls) reads the segment. */
#include "srf.h"

#include <math.h>
#include <string.h>

size_t crt_srf_layer_floats(const struct crt_config *cfg)
{
    size_t dk = (size_t)(cfg->d_model / cfg->n_heads);
    return 2 * (size_t)cfg->n_heads * dk * dk + (size_t)cfg->d_model;
}

static int srf_check_config(const struct crt_config *cfg, struct errbuf *err)
{
    if (strcmp(cfg->variant, "raf") != 0)
        return errbuf_set(err, -EBADMSG, "metadata 'variant': '%.40s' unknown for %s (raf)",
                          cfg->variant, cfg->architecture);
    return 0;
}

static size_t srf_state_floats(const struct crt_config *cfg)
{
    return (size_t)cfg->n_layers * crt_srf_layer_floats(cfg);
}

static int srf_n_tokens(const struct crt_config *cfg)
{
    (void)cfg;
    return 1;
}

static void srf_layout(const struct crt_config *cfg, struct crt_layout *lay, void *weights)
{
    struct srf_weights *w = weights;
    int64_t dk = cfg->d_model / cfg->n_heads;
    w->cls = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, cfg->d_model, 0, "srf.cls");
    for (int l = 0; l < cfg->n_layers; l++) {
        w->w[l] = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, dk, dk, "srf.%d.w", l);
        w->theta[l] = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, 1, 0, "srf.%d.theta", l);
        w->lambda[l] = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, 1, 0, "srf.%d.lambda", l);
    }
}

static size_t srf_scratch_floats(const struct crt_config *cfg)
{
    size_t dk = (size_t)(cfg->d_model / cfg->n_heads), hdd = (size_t)cfg->n_heads * dk * dk;
    return 2 * hdd + crt_srf_layer_floats(cfg);
}

static void srf_embed(const struct crt_model *model, float *scratch, float *x, const float *mem_in,
                      int B, int T)
{
    const struct srf_weights *w = model->mem_w;
    int d = model->cfg.d_model;
    (void)scratch, (void)mem_in;
    for (int b = 0; b < B; b++)
        memcpy(x + (size_t)b * T * d, w->cls, (size_t)d * sizeof(float));
}

void crt_srf_layer_forward(const struct crt_config *cfg, const struct srf_weights *w, int l,
                           float *y, float *state_out, float *vprime, float *out, const float *qkv,
                           const float *state_in, int T, int nq)
{
    int d = cfg->d_model, H = cfg->n_heads, dk = d / H, L = cfg->segment_len, nt = T - L;
    size_t dd = (size_t)dk * dk, hdd = (size_t)H * dd;
    const float *P = state_in, *V = state_in + hdd, *ksq = state_in + 2 * hdd;
    float *Pn = state_out, *Vn = state_out + hdd, *ksqn = state_out + 2 * hdd;
    const float *W = w->w[l];
    float theta = w->theta[l][0], lambda = w->lambda[l][0];

    for (int h = 0; h < H; h++) {
        const float *Ph = P + h * dd, *Vh = V + h * dd;
        float *vp = vprime + h * dd, *o = out + h * dd;
        for (int a = 0; a < dk; a++)
            for (int b = 0; b < dk; b++) {
                float x = 0.0f;
                for (int c = 0; c < dk; c++)
                    x += W[a * dk + c] * Ph[c * dk + b];
                vp[a * dk + b] = lambda * Vh[a * dk + b] + x;
            }
        for (size_t k = 0; k < dd; k++) {
            float act = vp[k] / theta - 1.0f;
            o[k] = act > 0.0f ? act : 0.0f;
            Vn[h * dd + k] = vp[k] - (act > 0.0f ? theta : 0.0f);
        }
    }
    /* y_i += (q_i out_h) / ||K|| */
    for (int i = 0; i < nq; i++)
        for (int h = 0; h < H; h++) {
            const float *q = qkv + (size_t)i * 3 * d + h * dk;
            const float *o = out + h * dd;
            for (int b = 0; b < dk; b++) {
                float s = 0.0f;
                for (int a = 0; a < dk; a++)
                    s += q[a] * o[a * dk + b];
                y[(size_t)i * d + h * dk + b] += s / sqrtf(ksq[h * dk + b] + SRF_NORM_EPS);
            }
        }
    /* P += K^T V and the key norms over this segment's frame tokens */
    memcpy(Pn, P, hdd * sizeof(float));
    memcpy(ksqn, ksq, (size_t)d * sizeof(float));
    for (int t = nt; t < T; t++) {
        const float *k = qkv + (size_t)t * 3 * d + d, *v = k + d;
        for (int h = 0; h < H; h++)
            for (int a = 0; a < dk; a++) {
                float ka = k[h * dk + a];
                for (int b = 0; b < dk; b++)
                    Pn[h * dd + (size_t)a * dk + b] += ka * v[h * dk + b];
            }
        for (int e = 0; e < d; e++)
            ksqn[e] += k[e] * k[e];
    }
}

size_t crt_srf_save_offset(const struct crt_config *cfg, int l)
{
    int T = 1 + cfg->segment_len, H = cfg->n_heads, dk = cfg->d_model / H;
    size_t at = 0;
    for (int i = 0; i < l; i++) /* the last block has the one query of srf.cls */
        at += (size_t)H * (i == cfg->n_layers - 1 ? 1 : T) * T + 2 * (size_t)H * dk * dk +
              crt_srf_layer_floats(cfg);
    return at;
}

static size_t srf_save_floats(const struct crt_config *cfg)
{
    return crt_srf_save_offset(cfg, cfg->n_layers);
}

static void srf_attention(const struct crt_model *model, int l, float *scratch, float *save,
                          float *out, const float *qkv, const float *mem_in, float *mem_out, int B,
                          int T, int nq)
{
    const struct crt_config *c = &model->cfg;
    int d = c->d_model, H = c->n_heads, dk = d / H;
    size_t hdd = (size_t)H * dk * dk, lf = crt_srf_layer_floats(c);
    size_t S = model->state_floats, off = (size_t)l * lf;
    size_t stride = save ? srf_save_floats(c) : 0, at = crt_srf_save_offset(c, l);
    if (!save)
        attention_forward(out, NULL, qkv, B, T, d, H, nq);
    for (int b = 0; b < B; b++) {
        const float *q = qkv + (size_t)b * T * 3 * d;
        float *y = out + (size_t)b * nq * d;
        /* Training keeps, per sequence and block, the attention weights
         * [H, nq, T], the membranes before their reset, the neurons'
         * outputs and the new state; inference only the last three, in
         * scratch. */
        float *att = save ? save + b * stride + at : NULL;
        float *vprime = save ? att + (size_t)H * nq * T : scratch;
        float *o = vprime + hdd, *state = o + hdd;
        if (save)
            attention_forward(y, att, q, 1, T, d, H, nq);
        crt_srf_layer_forward(c, model->mem_w, l, y, state, vprime, o, q,
                              mem_in + (size_t)b * S + off, T, nq);
        memcpy(mem_out + (size_t)b * S + off, state, lf * sizeof(float));
    }
}

static void srf_update(const struct crt_model *model, float *scratch, float *save, float *mem_out,
                       float *readout, const float *h, const float *mem_in, int B)
{
    (void)save; /* the blocks' attention saved what the backward needs */
    (void)scratch, (void)mem_out, (void)mem_in;
    memcpy(readout, h, (size_t)B * model->cfg.d_model * sizeof(float));
}

static void srf_init_random(struct crt_model *model, uint64_t seed)
{
    const struct srf_weights *w = model->mem_w;
    (void)seed;
    for (int l = 0; l < model->cfg.n_layers; l++) {
        w->theta[l][0] = 0.1f;
        w->lambda[l][0] = 0.1f;
    }
}

static double srf_flops(const struct crt_config *cfg)
{
    double H = cfg->n_heads, dk = (double)cfg->d_model / cfg->n_heads, L = cfg->segment_len;
    double T = 1.0 + L, per = 2.0 * H * dk * dk * dk;      /* W P */
    per += 2.0 * L * H * dk * dk + 2.0 * L * cfg->d_model; /* K^T V and the key norms */
    return cfg->n_layers * per + 2.0 * H * dk * dk * (T * (cfg->n_layers - 1) + 1.0);
}

const struct crt_memory_ops crt_memory_srf_ops = {
    .variants = "raf",
    .check_config = srf_check_config,
    .state_floats = srf_state_floats,
    .n_tokens = srf_n_tokens,
    .weights_size = sizeof(struct srf_weights),
    .layout = srf_layout,
    .scratch_floats = srf_scratch_floats,
    .save_floats = srf_save_floats,
    .embed = srf_embed,
    .update = srf_update,
    .flops = srf_flops,
    .init_random = srf_init_random,
    .attention = srf_attention,
};
