/* crt_encoder: the one forward pass of a segment (docs/MODEL.md), which
 * crt_model_step runs for inference and the trainer for training. Inference
 * passes no cache and every activation goes to the workspace's buffers,
 * reused from block to block; the trainer passes one cache per segment of
 * its window, and the values its backward pass reads stay there. Both run
 * the same kernels on the packed (transposed) weights, so what is trained is
 * what is served. */
#include "crt_internal.h"

#include <string.h>

/* Copies the first nq of every T rows of x ([B, T, d]) to out ([B, nq, d]). */
static void keep_rows(float *out, const float *x, int B, int T, int nq, int d)
{
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * nq * d, x + (size_t)b * T * d, (size_t)nq * d * sizeof(float));
}

void crt_encoder_forward(const struct crt_model *m, struct crt_workspace *ws,
                         const struct crt_encoder_cache *cache, int B, const float *feats,
                         const float *mem_in, float *mem_out, float *logits)
{
    const struct crt_config *c = &m->cfg;
    const struct crt_weights *w = &m->w;
    int d = c->d_model, ff = c->d_ff, L = c->segment_len, nt = m->n_tokens, T = nt + L;
    float eps = c->layer_norm_eps;
    float *save = cache ? cache->msave : NULL;
    float *x = cache ? cache->xin[0] : ws->x;
#define P(x)                     crt_packed(m, (x))
#define KEPT(name, l, otherwise) (cache ? cache->name[l] : (otherwise))

    /* Frame tokens: W_in f_t + b_in + P[t], after the memory tokens. */
    matmul_t_forward(ws->ln, d, feats, c->n_features, P(w->in_w), d, w->in_b, B * L, c->n_features,
                     d, false);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++)
            residual_forward(x + ((size_t)b * T + nt + t) * d, ws->ln + ((size_t)b * L + t) * d,
                             w->pos + (size_t)t * d, (size_t)d);
    if (m->ops->embed)
        m->ops->embed(m, ws->scratch, x, mem_in, B, T);

    /* Pre-LN blocks. The last computes only the memory tokens' outputs, the
     * only ones the step reads: their queries, everyone's keys and values. */
    for (int l = 0; l < c->n_layers; l++) {
        const struct crt_block_weights *blk = &w->blk[l];
        bool last = l == c->n_layers - 1;
        int nq = last ? nt : T, rows = B * nq;
        float *ln1 = KEPT(ln1, l, ws->ln), *qkv = KEPT(qkv, l, ws->qkv);
        float *atty = KEPT(atty, l, ws->atty), *ln2 = KEPT(ln2, l, ws->ln);
        float *fc1 = KEPT(fc1, l, ws->fch), *gel = KEPT(gel, l, ws->fch);

        layernorm_forward(ln1, KEPT(ln1_mean, l, NULL), KEPT(ln1_rstd, l, NULL), x, blk->ln1_w,
                          blk->ln1_b, B * T, d, eps);
        if (!last) {
            matmul_t_forward(qkv, 3 * d, ln1, d, P(blk->qkv_w), 3 * d, blk->qkv_b, B * T, d, 3 * d,
                             false);
        } else {
            matmul_t_forward(qkv + d, 3 * d, ln1, d, P(blk->qkv_w) + d, 3 * d, blk->qkv_b + d,
                             B * T, d, 2 * d, false);
            if (nq == 1)
                matmul_t_forward(qkv, T * 3 * d, ln1, T * d, P(blk->qkv_w), 3 * d, blk->qkv_b, B, d,
                                 d, false);
            else
                for (int b = 0; b < B; b++)
                    matmul_t_forward(qkv + (size_t)b * T * 3 * d, 3 * d, ln1 + (size_t)b * T * d, d,
                                     P(blk->qkv_w), 3 * d, blk->qkv_b, nq, d, d, false);
        }
        if (m->ops->attention)
            m->ops->attention(m, l, ws->scratch, save, atty, qkv, mem_in, mem_out, B, T, nq);
        else
            attention_forward(atty, KEPT(att, l, ws->att), qkv, B, T, d, c->n_heads, nq);

        /* The residual stream after attention: in place at inference but
         * for the last block, which keeps only its nq rows; kept per block
         * in training. */
        float *res = cache ? cache->xmid[l] : last ? ws->xk : x;
        if (res != x)
            keep_rows(res, x, B, T, nq, d);
        matmul_t_forward(res, d, atty, d, P(blk->proj_w), d, blk->proj_b, rows, d, d, true);
        layernorm_forward(ln2, KEPT(ln2_mean, l, NULL), KEPT(ln2_rstd, l, NULL), res, blk->ln2_w,
                          blk->ln2_b, rows, d, eps);
        matmul_t_forward(fc1, ff, ln2, d, P(blk->fc1_w), ff, blk->fc1_b, rows, d, ff, false);
        gelu_forward(gel, fc1, (size_t)rows * ff);
        float *out = !cache ? res : last ? cache->xk : cache->xin[l + 1];
        if (out != res)
            memcpy(out, res, (size_t)rows * d * sizeof(float));
        matmul_t_forward(out, d, gel, ff, P(blk->fc2_w), d, blk->fc2_b, rows, ff, d, true);
        x = out;
    }

    /* x is the memory tokens' rows [B, nt, d] now. */
    float *h = cache ? cache->h : ws->h, *readout = cache ? cache->readout : ws->readout;
    float *hln = cache ? cache->hln : ws->hln;
    layernorm_forward(h, cache ? cache->lnf_mean : NULL, cache ? cache->lnf_rstd : NULL, x,
                      w->lnf_w, w->lnf_b, B * nt, d, eps);
    m->ops->update(m, ws->scratch, save, mem_out, readout, h, mem_in, B);
    layernorm_forward(hln, cache ? cache->hln_mean : NULL, cache ? cache->hln_rstd : NULL, readout,
                      w->head_ln_w, w->head_ln_b, B, d, eps);
    matmul_t_forward(logits, c->n_classes, hln, d, P(w->head_w), c->n_classes, w->head_b, B, d,
                     c->n_classes, false);
    if (m->ops->output)
        m->ops->output(m, mem_out, logits, B);
#undef KEPT
#undef P
}
