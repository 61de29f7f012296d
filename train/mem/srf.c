/* crt_train_srf: the backward pass of SRformer (crt_memory_srf.c). Within
 * the window, gradients run back through the recurrent state — the sums
 * K^T V, the key norms and the membranes — to the earlier segments; the
 * spike [a > 0] counts as a constant (its derivative is zero almost
 * everywhere), as in the forward the reset subtracts theta where it fired. */
#include "mem/srf.h"
#include "train_internal.h"

#include <math.h>
#include <string.h>

struct srf_train {
    struct srf_weights w;
    int d, H, dk, NL, L, T;
    size_t dd, hdd, lf, S, save;
};

static int srf_prepare(struct crt_model *m, void **ret_ctx, struct crt_train_extra *extra,
                       int *ret_n_extra, struct errbuf *err)
{
    (void)extra, (void)err;
    const struct crt_config *c = &m->cfg;
    struct srf_train *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->w = *(const struct srf_weights *)m->mem_w;
    t->d = c->d_model;
    t->H = c->n_heads;
    t->dk = t->d / t->H;
    t->NL = c->n_layers;
    t->L = c->segment_len;
    t->T = 1 + t->L;
    t->dd = (size_t)t->dk * t->dk;
    t->hdd = (size_t)t->H * t->dd;
    t->lf = crt_srf_layer_floats(c);
    t->S = m->state_floats;
    t->save = m->ops->save_floats(c); /* as crt/mem/srf.c's attention fills it */
    *ret_n_extra = 0;
    *ret_ctx = t;
    return 0;
}

static void srf_release(void *ctx)
{
    free(ctx);
}

static size_t srf_scratch_floats(const struct crt_model *m)
{
    size_t dk = (size_t)(m->cfg.d_model / m->cfg.n_heads);
    return (size_t)m->cfg.n_heads * dk * dk; /* dout of the neurons */
}

static void srf_update_backward(const struct crt_model *m, void *ctx, float *grads, float *scratch,
                                const float *save, const float *dmem_out, const float *dreadout,
                                const float *h, const float *mem_in, float *dh, float *dmem_in,
                                int B)
{
    struct srf_train *t = ctx;
    (void)m, (void)grads, (void)scratch, (void)save, (void)dmem_out, (void)h, (void)mem_in;
    memcpy(dh, dreadout, (size_t)B * t->d * sizeof(float));
    memset(dmem_in, 0, (size_t)B * t->S * sizeof(float)); /* the blocks add theirs */
}

static void srf_attention_bwd(const struct crt_model *m, void *ctx, float *grads, float *scratch,
                              const float *save, int l, float *dqkv, const float *dout,
                              const float *qkv, const float *mem_in, const float *dmem_out,
                              const float *dreadout, float *dmem_in, int B, int T, int nq)
{
    struct srf_train *t = ctx;
    (void)dreadout;
    int d = t->d, H = t->H, dk = t->dk, nt = T - t->L;
    size_t dd = t->dd, hdd = t->hdd;
    const float *W = t->w.w[l];
    float theta = t->w.theta[l][0], lambda = t->w.lambda[l][0];
    float *dW = crt_train_grad_of(m, grads, t->w.w[l]);
    float *dtheta = crt_train_grad_of(m, grads, t->w.theta[l]);
    float *dlambda = crt_train_grad_of(m, grads, t->w.lambda[l]);
    float *dneuron = scratch; /* [H, dk, dk]: d out, then d V' */

    for (int b = 0; b < B; b++) {
        const float *att = save + (size_t)b * t->save + crt_srf_save_offset(&m->cfg, l);
        const float *vprime = att + (size_t)H * nq * T, *o = vprime + hdd;
        const float *q = qkv + (size_t)b * T * 3 * d, *go = dout + (size_t)b * nq * d;
        float *dq = dqkv + (size_t)b * T * 3 * d;
        size_t off = (size_t)b * t->S + (size_t)l * t->lf;
        const float *P = mem_in + off, *V = P + hdd, *ksq = P + 2 * hdd;
        const float *dPn = dmem_out + off, *dVn = dPn + hdd, *dksqn = dPn + 2 * hdd;
        float *dP = dmem_in + off, *dV = dP + hdd, *dksq = dP + 2 * hdd;

        attention_backward(dq, go, q, att, 1, T, d, H, nq);

        /* y_i += (q_i out) / r, r = sqrt(ksq + eps) */
        memset(dneuron, 0, hdd * sizeof(float));
        for (int i = 0; i < nq; i++)
            for (int h = 0; h < H; h++) {
                const float *qi = q + (size_t)i * 3 * d + h * dk;
                float *dqi = dq + (size_t)i * 3 * d + h * dk;
                const float *oh = o + h * dd;
                float *doh = dneuron + h * dd;
                for (int bb = 0; bb < dk; bb++) {
                    int e = h * dk + bb;
                    float r = sqrtf(ksq[e] + SRF_NORM_EPS);
                    float g = go[(size_t)i * d + e] / r, s = 0.0f;
                    for (int a = 0; a < dk; a++) {
                        s += qi[a] * oh[a * dk + bb];
                        dqi[a] += g * oh[a * dk + bb];
                        doh[a * dk + bb] += qi[a] * g;
                    }
                    /* d r = -g s / r; d ksq = d r / (2 r) */
                    dksq[e] += -g * s / r / (2.0f * r);
                }
            }
        /* P' = P + K^T V and ksq' = ksq + sum k^2 over the frame tokens */
        residual_forward(dP, dP, dPn, hdd);
        residual_forward(dksq, dksq, dksqn, (size_t)d);
        for (int tk = nt; tk < T; tk++) {
            const float *k = q + (size_t)tk * 3 * d + d, *v = k + d;
            float *dk_ = dq + (size_t)tk * 3 * d + d, *dv = dk_ + d;
            for (int h = 0; h < H; h++)
                for (int a = 0; a < dk; a++)
                    for (int bb = 0; bb < dk; bb++) {
                        float g = dPn[h * dd + (size_t)a * dk + bb];
                        dk_[h * dk + a] += g * v[h * dk + bb];
                        dv[h * dk + bb] += g * k[h * dk + a];
                    }
            for (int e = 0; e < d; e++)
                dk_[e] += 2.0f * k[e] * dksqn[e];
        }
        /* the neurons: out = relu(V'/theta - 1), V_new = V' - theta s,
         * V' = lambda V + W P */
        for (int h = 0; h < H; h++)
            for (size_t k = 0; k < dd; k++) {
                size_t at = h * dd + k;
                float vp = vprime[at];
                bool s = vp / theta - 1.0f > 0.0f;
                float dvp = dVn[at];
                if (s) {
                    dtheta[0] += -dVn[at] - dneuron[at] * vp / (theta * theta);
                    dvp += dneuron[at] / theta;
                }
                dneuron[at] = dvp;
                dlambda[0] += dvp * V[at];
                dV[at] += lambda * dvp;
            }
        for (int h = 0; h < H; h++) {
            const float *Ph = P + h * dd, *dvp = dneuron + h * dd;
            float *dPh = dP + h * dd;
            for (int a = 0; a < dk; a++)
                for (int c = 0; c < dk; c++) {
                    float sw = 0.0f, sp = 0.0f;
                    for (int bb = 0; bb < dk; bb++) {
                        sw += dvp[a * dk + bb] * Ph[c * dk + bb]; /* dW[a][c] */
                        sp += W[bb * dk + a] * dvp[bb * dk + c];  /* dP[a][c] = W^T dV' */
                    }
                    dW[a * dk + c] += sw;
                    dPh[a * dk + c] += sp;
                }
        }
    }
}

static void srf_embed_backward(const struct crt_model *m, void *ctx, float *grads, const float *dx,
                               const float *mem_in, float *dmem_in, int B, int T)
{
    struct srf_train *t = ctx;
    (void)mem_in, (void)dmem_in;
    float *dcls = crt_train_grad_of(m, grads, t->w.cls);
    for (int b = 0; b < B; b++)
        residual_forward(dcls, dcls, dx + (size_t)b * T * t->d, (size_t)t->d);
}

const struct crt_train_memory_ops crt_train_srf_ops = {
    .prepare = srf_prepare,
    .release = srf_release,
    .scratch_floats = srf_scratch_floats,
    .update_backward = srf_update_backward,
    .embed_backward = srf_embed_backward,
    .attention_backward = srf_attention_bwd,
};
