/* crt_train_brt: the backward pass of the Block-Recurrent Transformer
 * (crt_memory_brt.c). The state side runs inside the last block's attention
 * hook, so its backward runs there too: from the gradient of the new state
 * (dmem_out + dreadout / S) back through the second gate, the FFN, the first
 * gate, the projection and the attention to the old state (dmem_in), the
 * state's own weights, and the last block's token keys and values (dqkv). */
#include "mem/brt.h"
#include "train_internal.h"

#include <math.h>
#include <string.h>

struct brt_train {
    struct brt_weights w; /* pointers into the live parameter buffer */
    int S, d, H, NL, T;
    size_t Sd, save;
    struct brt_buf bl;
};

static int brt_prepare(struct crt_model *m, void **ret_ctx, struct crt_train_extra *extra,
                       int *ret_n_extra, struct errbuf *err)
{
    (void)extra;
    (void)err;
    const struct crt_config *c = &m->cfg;
    struct brt_train *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->w = *(const struct brt_weights *)m->mem_w;
    t->S = t->w.S;
    t->d = c->d_model;
    t->H = c->n_heads;
    t->NL = c->n_layers;
    t->T = c->segment_len; /* no memory tokens */
    t->Sd = m->state_floats;
    crt_brt_buf_layout(c, t->S, t->T, &t->bl);
    t->save = m->ops->save_floats(c); /* as crt/mem/brt.c's attention fills it */
    *ret_n_extra = 0;
    *ret_ctx = t;
    return 0;
}

static void brt_release(void *ctx)
{
    free(ctx);
}

static size_t brt_scratch_floats(const struct crt_model *m)
{
    const struct crt_config *c = &m->cfg;
    struct brt_buf bl;
    crt_brt_buf_layout(c, crt_brt_state_vectors(c, NULL), c->segment_len, &bl);
    return bl.total;
}

static void brt_update_backward(const struct crt_model *m, void *ctx, float *grads, float *scratch,
                                const float *save, const float *dmem_out, const float *dreadout,
                                const float *h, const float *mem_in, float *dh, float *dmem_in,
                                int B)
{
    struct brt_train *t = ctx;
    (void)m, (void)grads, (void)scratch, (void)save, (void)dmem_out, (void)dreadout, (void)h;
    (void)mem_in, (void)dh; /* the work is in the last block's attention */
    memset(dmem_in, 0, (size_t)B * t->Sd * sizeof(float));
}

/* Reverses out = c g + z (1 - g) (fixed) or c f + z i (lstm); accumulates
 * into dc, dz and the gate's weights. */
static void gate_backward(float *dc, float *dz, float *dgw, float *dgb, float *dpre,
                          const float *dout, const float *c, const float *z, const float *g,
                          const float *gw, const float *gb, bool lstm, int S, int d)
{
    if (!lstm) {
        for (int s = 0; s < S; s++)
            for (int k = 0; k < d; k++) {
                float gk = kernel_sigmoidf(gb[k]);
                size_t at = (size_t)s * d + k;
                dc[at] += dout[at] * gk;
                dz[at] += dout[at] * (1.0f - gk);
                dgb[k] += dout[at] * (c[at] - z[at]) * gk * (1.0f - gk);
            }
        return;
    }
    for (int s = 0; s < S; s++)
        for (int k = 0; k < d; k++) {
            const float *row = g + (size_t)s * 2 * d;
            float f = row[k], i = row[d + k];
            size_t at = (size_t)s * d + k;
            dc[at] += dout[at] * f;
            dz[at] += dout[at] * i;
            dpre[(size_t)s * 2 * d + k] = dout[at] * c[at] * f * (1.0f - f);
            dpre[(size_t)s * 2 * d + d + k] = dout[at] * z[at] * i * (1.0f - i);
        }
    matmul_backward(dz, dgw, dgb, dpre, z, gw, S, d, 2 * d);
}

static void brt_attention_bwd(const struct crt_model *m, void *ctx, float *grads, float *scratch,
                              const float *save, int l, float *dqkv, const float *dout,
                              const float *qkv, const float *mem_in, const float *dmem_out,
                              const float *dreadout, float *dmem_in, int B, int T, int nq)
{
    struct brt_train *t = ctx;
    const struct brt_weights *w = &t->w;
    const struct brt_buf *bl = &t->bl;
    int d = t->d, S = t->S, H = t->H, hs = d / H, K = S + T, ff = m->cfg.d_ff;
    float scale = 1.0f / sqrtf((float)hs);
#define G(p) ((p) ? crt_train_grad_of(m, grads, (p)) : NULL)
    if (l < t->NL - 1) {
        for (int b = 0; b < B; b++)
            attention_backward(dqkv + (size_t)b * T * 3 * d, dout + (size_t)b * nq * d,
                               qkv + (size_t)b * T * 3 * d,
                               save + (size_t)b * t->save + crt_brt_save_offset(&m->cfg, l), 1, T,
                               d, H, nq);
        return;
    }
    for (int b = 0; b < B; b++) {
        const float *sv = save + (size_t)b * t->save + crt_brt_save_offset(&m->cfg, t->NL - 1);
        const float *c = mem_in + (size_t)b * t->Sd, *tq = qkv + (size_t)b * T * 3 * d;
        float *dtq = dqkv + (size_t)b * T * 3 * d, *dc = dmem_in + (size_t)b * t->Sd;
        float *db = scratch;
        memset(db, 0, bl->total * sizeof(float));
        float *dpre = db + bl->g1; /* the gates' pre-activations, one gate at a time */

        for (int i = 0; i < S; i++)
            for (int k = 0; k < d; k++)
                db[bl->out + (size_t)i * d + k] = dmem_out[(size_t)b * t->Sd + (size_t)i * d + k] +
                                                  dreadout[(size_t)b * d + k] / (float)S;
        gate_backward(db + bl->c1, db + bl->mm, G(w->gate2_w), G(w->gate2_b), dpre, db + bl->out,
                      sv + bl->c1, sv + bl->mm, sv + bl->g2, w->gate2_w, w->gate2_b, w->lstm, S, d);
        matmul_backward(db + bl->gel, G(w->fc2_w), G(w->fc2_b), db + bl->mm, sv + bl->gel, w->fc2_w,
                        S, ff, d);
        gelu_backward(db + bl->fc1, sv + bl->fc1, db + bl->gel, (size_t)S * ff);
        matmul_backward(db + bl->fln, G(w->fc1_w), G(w->fc1_b), db + bl->fc1, sv + bl->fln,
                        w->fc1_w, S, d, ff);
        layernorm_backward(db + bl->c1, G(w->ffn_ln_w), G(w->ffn_ln_b), db + bl->fln, sv + bl->c1,
                           w->ffn_ln_w, sv + bl->fmean, sv + bl->frstd, S, d);
        memset(dpre, 0, (size_t)S * 2 * d * sizeof(float));
        gate_backward(dc, db + bl->z, G(w->gate1_w), G(w->gate1_b), dpre, db + bl->c1, c,
                      sv + bl->z, sv + bl->g1, w->gate1_w, w->gate1_b, w->lstm, S, d);
        matmul_backward(db + bl->y, G(w->proj_w), G(w->proj_b), db + bl->z, sv + bl->y, w->proj_w,
                        S, d, d);

        /* the attention: state queries over [state keys; token keys] */
        const float *sq = sv + bl->qkv;
        float *dsq = db + bl->qkv;
        for (int h = 0; h < H; h++)
            for (int i = 0; i < S; i++) {
                const float *wr = sv + bl->att + ((size_t)h * S + i) * K;
                const float *go = db + bl->y + (size_t)i * d + h * hs;
                const float *q = sq + (size_t)i * 3 * d + h * hs;
                float *dq = dsq + (size_t)i * 3 * d + h * hs;
                float dot = 0.0f;
                for (int j = 0; j < K; j++) {
                    const float *v = j < S ? sq + (size_t)j * 3 * d + 2 * d + h * hs
                                           : tq + (size_t)(j - S) * 3 * d + 2 * d + h * hs;
                    float s = 0.0f;
                    for (int e = 0; e < hs; e++)
                        s += go[e] * v[e];
                    dot += wr[j] * s;
                }
                for (int j = 0; j < K; j++) {
                    const float *row =
                        j < S ? sq + (size_t)j * 3 * d : tq + (size_t)(j - S) * 3 * d;
                    float *drow = j < S ? dsq + (size_t)j * 3 * d : dtq + (size_t)(j - S) * 3 * d;
                    const float *k = row + d + h * hs, *v = row + 2 * d + h * hs;
                    float s = 0.0f;
                    for (int e = 0; e < hs; e++)
                        s += go[e] * v[e];
                    float ds = wr[j] * (s - dot) * scale;
                    float *dk = drow + d + h * hs, *dv = drow + 2 * d + h * hs;
                    for (int e = 0; e < hs; e++) {
                        dq[e] += ds * k[e];
                        dk[e] += ds * q[e];
                        dv[e] += wr[j] * go[e];
                    }
                }
            }
        matmul_backward(db + bl->a, G(w->qkv_w), G(w->qkv_b), dsq, sv + bl->a, w->qkv_w, S, d,
                        3 * d);
        residual_forward(G(w->pos), G(w->pos), db + bl->a, (size_t)S * d);
        layernorm_backward(dc, G(w->ln_w), G(w->ln_b), db + bl->a, c, w->ln_w, sv + bl->mean,
                           sv + bl->rstd, S, d);
    }
#undef G
}

static void brt_initial_memory_backward(const struct crt_model *m, void *ctx, float *grads,
                                        const float *dmem)
{
    struct brt_train *t = ctx;
    float *dinit = crt_train_grad_of(m, grads, t->w.init);
    residual_forward(dinit, dinit, dmem, t->Sd);
}

const struct crt_train_memory_ops crt_train_brt_ops = {
    .prepare = brt_prepare,
    .release = brt_release,
    .scratch_floats = brt_scratch_floats,
    .update_backward = brt_update_backward,
    .initial_memory_backward = brt_initial_memory_backward,
    .attention_backward = brt_attention_bwd,
};
