/* crt_memory_xl: the cached-attention baselines (docs/MODEL.md, "xl and
 * full"). In every block the segment's tokens attend to the keys and values
 * that block computed for the frame tokens of the last M segments, kept as
 * they were (not recomputed), as Transformer-XL's memory: "xl" keeps M = 1
 * segment (variant m<M>), "full" attends over the last W segments (variant
 * w<W>, M = W - 1). A learned token (xl.cls) in front reads the segment;
 * the classifier reads its normed output. */
#include "xl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define XL_MAX_SEGMENTS 64

struct xl_weights {
    float *cls; /* xl.cls [d] */
};

int crt_xl_cached_segments(const struct crt_config *cfg)
{
    bool full = strcmp(cfg->architecture, "full") == 0;
    int n = 0, end = 0;
    if (sscanf(cfg->variant, full ? "w%d%n" : "m%d%n", &n, &end) != 1 || cfg->variant[end])
        return -1;
    int M = full ? n - 1 : n;
    return M >= 1 && M <= XL_MAX_SEGMENTS ? M : -1;
}

size_t crt_xl_layer_offset(const struct crt_config *cfg, int l)
{
    size_t rows = (size_t)crt_xl_cached_segments(cfg) * (size_t)cfg->segment_len;
    return 1 + (size_t)l * 2 * rows * (size_t)cfg->d_model;
}

size_t crt_xl_save_offset(const struct crt_config *cfg, int l)
{
    size_t T = 1 + (size_t)cfg->segment_len;
    size_t K = (size_t)crt_xl_cached_segments(cfg) * (size_t)cfg->segment_len + T;
    size_t off = 0;
    for (int i = 0; i < l; i++) /* the last block has the one query of the memory token */
        off += (size_t)cfg->n_heads * (i == cfg->n_layers - 1 ? 1 : T) * K;
    return off;
}

static size_t xl_save_floats(const struct crt_config *cfg)
{
    return crt_xl_save_offset(cfg, cfg->n_layers);
}

static int xl_check_config(const struct crt_config *cfg, struct errbuf *err)
{
    if (crt_xl_cached_segments(cfg) < 0)
        return errbuf_set(err, -EBADMSG, "metadata 'variant': '%.40s' unknown for %s (%s)",
                          cfg->variant, cfg->architecture,
                          strcmp(cfg->architecture, "full") == 0
                              ? "w<W>: attention over the last W segments, 2..65"
                              : "m<M>: M cached segments, 1..64");
    return 0;
}

static size_t xl_state_floats(const struct crt_config *cfg)
{
    return crt_xl_layer_offset(cfg, cfg->n_layers);
}

static int xl_n_tokens(const struct crt_config *cfg)
{
    (void)cfg;
    return 1;
}

static void xl_layout(const struct crt_config *cfg, struct crt_layout *lay, void *weights)
{
    struct xl_weights *w = weights;
    w->cls = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, cfg->d_model, 0, "xl.cls");
}

static size_t xl_scratch_floats(const struct crt_config *cfg)
{
    return (size_t)crt_xl_cached_segments(cfg) * cfg->segment_len + cfg->segment_len + 1;
}

static void xl_embed(const struct crt_model *model, float *scratch, float *x, const float *mem_in,
                     int B, int T)
{
    const struct xl_weights *w = model->mem_w;
    int d = model->cfg.d_model;
    (void)scratch;
    (void)mem_in;
    for (int b = 0; b < B; b++)
        memcpy(x + (size_t)b * T * d, w->cls, (size_t)d * sizeof(float));
}

void crt_xl_attention_forward(float *out, float *att, size_t att_stride, float *row,
                              const float *qkv, const float *mem, size_t S, size_t layer_off, int B,
                              int T, int d, int H, int nq, int cached)
{
    int hs = d / H, K = cached + T;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++) {
        const float *seq = qkv + (size_t)b * T * 3 * d;
        const float *ck = mem + (size_t)b * S + layer_off, *cv = ck + (size_t)cached * d;
        int L = T - 1; /* one token in front */
        int first = cached - (int)mem[(size_t)b * S] * L;
        if (first < 0)
            first = 0;
        for (int h = 0; h < H; h++)
            for (int i = 0; i < nq; i++) {
                const float *q = seq + (size_t)i * 3 * d + h * hs;
                float *w = att ? att + (size_t)b * att_stride + ((size_t)h * nq + i) * K : row;
                float mx = -INFINITY;
                for (int j = 0; j < K; j++) {
                    if (j < first) {
                        w[j] = -INFINITY;
                        continue;
                    }
                    const float *k = j < cached ? ck + (size_t)j * d + h * hs
                                                : seq + (size_t)(j - cached) * 3 * d + d + h * hs;
                    float s = 0.0f;
                    for (int e = 0; e < hs; e++)
                        s += q[e] * k[e];
                    w[j] = s * scale;
                    mx = fmaxf(mx, w[j]);
                }
                float sum = 0.0f;
                for (int j = 0; j < K; j++) {
                    w[j] = j < first ? 0.0f : expf(w[j] - mx);
                    sum += w[j];
                }
                float *o = out + ((size_t)b * nq + i) * d + h * hs;
                for (int e = 0; e < hs; e++)
                    o[e] = 0.0f;
                for (int j = first; j < K; j++) {
                    w[j] /= sum;
                    const float *v = j < cached
                                         ? cv + (size_t)j * d + h * hs
                                         : seq + (size_t)(j - cached) * 3 * d + 2 * d + h * hs;
                    for (int e = 0; e < hs; e++)
                        o[e] += w[j] * v[e];
                }
            }
    }
}

/* Shifts layer l's cache of every sequence by one segment and appends the
 * frame tokens' keys and values from qkv. */
static void xl_push_cache(const struct crt_model *model, float *mem_out, const float *mem_in,
                          const float *qkv, int l, int B, int T)
{
    const struct crt_config *c = &model->cfg;
    int d = c->d_model, L = c->segment_len, nt = T - L;
    size_t S = model->state_floats, rows = (size_t)crt_xl_cached_segments(c) * L;
    size_t off = crt_xl_layer_offset(c, l);
    for (int b = 0; b < B; b++)
        for (int part = 0; part < 2; part++) { /* keys, values */
            const float *src = mem_in + (size_t)b * S + off + part * rows * d;
            float *dst = mem_out + (size_t)b * S + off + part * rows * d;
            memmove(dst, src + (size_t)L * d, (rows - L) * d * sizeof(float));
            for (int t = 0; t < L; t++)
                memcpy(dst + (rows - L + t) * d,
                       qkv + ((size_t)b * T + nt + t) * 3 * d + (size_t)(1 + part) * d,
                       (size_t)d * sizeof(float));
        }
}

static void xl_attention(const struct crt_model *model, int l, float *scratch, float *save,
                         float *out, const float *qkv, const float *mem_in, float *mem_out, int B,
                         int T, int nq)
{
    const struct crt_config *c = &model->cfg;
    int cached = crt_xl_cached_segments(c) * c->segment_len;
    /* Training keeps the weights for the backward pass; inference needs a
     * row of them at a time. */
    float *att = save ? save + crt_xl_save_offset(c, l) : NULL;
    crt_xl_attention_forward(out, att, save ? xl_save_floats(c) : 0, scratch, qkv, mem_in,
                             model->state_floats, crt_xl_layer_offset(c, l), B, T, c->d_model,
                             c->n_heads, nq, cached);
    xl_push_cache(model, mem_out, mem_in, qkv, l, B, T);
}

static void xl_update(const struct crt_model *model, float *scratch, float *save, float *mem_out,
                      float *readout, const float *h, const float *mem_in, int B)
{
    (void)save; /* the backward needs nothing of the update */
    (void)scratch;
    size_t S = model->state_floats;
    float M = (float)crt_xl_cached_segments(&model->cfg);
    memcpy(readout, h, (size_t)B * model->cfg.d_model * sizeof(float));
    for (int b = 0; b < B; b++)
        mem_out[(size_t)b * S] = fminf(mem_in[(size_t)b * S] + 1.0f, M);
}

static double xl_flops(const struct crt_config *cfg)
{
    /* scores and weighted values against the cache, in every block */
    double cached = (double)crt_xl_cached_segments(cfg) * cfg->segment_len;
    double T = 1.0 + cfg->segment_len, d = cfg->d_model;
    return 2.0 * 2.0 * cached * d * (T * (cfg->n_layers - 1) + 1.0);
}

/* mem[0] counts the segments cached, 0 to M: attention starts from it. */
static int xl_check_memory(const struct crt_model *model, const float *mem, struct errbuf *err)
{
    float M = (float)crt_xl_cached_segments(&model->cfg);
    if (!(mem[0] >= 0 && mem[0] <= M && mem[0] == floorf(mem[0])))
        return errbuf_set(err, -EBADMSG, "state: %g cached segments, not a count from 0 to %g",
                          (double)mem[0], (double)M);
    return 0;
}

#define XL_OPS(name, list)                                                                         \
    {                                                                                              \
        .variants = list, .check_config = xl_check_config, .state_floats = xl_state_floats,        \
        .n_tokens = xl_n_tokens, .weights_size = sizeof(struct xl_weights), .layout = xl_layout,   \
        .scratch_floats = xl_scratch_floats, .save_floats = xl_save_floats, .embed = xl_embed,     \
        .update = xl_update, .flops = xl_flops, .attention = xl_attention,                         \
        .check_memory = xl_check_memory,                                                           \
    }

const struct crt_memory_ops crt_memory_xl_ops = XL_OPS("xl", "m<M>, e.g. m1");
const struct crt_memory_ops crt_memory_full_ops = XL_OPS("full", "w<W>, e.g. w8");
