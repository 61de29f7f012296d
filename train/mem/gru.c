/* crt_train_gru: the backward pass of CRT's memory (crt_memory_gru.c): the
 * memory token's embedding, the GRU and NC-GRU updates, and NC-GRU's Cayley
 * parametrisation U_c = (I + A)^-1 (I - A) D, which keeps U_c orthogonal
 * while A = W - W^T is trained (docs/TRAINING.md). */
#include "train_internal.h"

#include <math.h>
#include <string.h>

struct gru_train {
    bool nc; /* NC-GRU */
    int d;
    float *embed_w, *embed_b, *pos, *init;
    float *w_ih, *w_hh, *b_ih, *b_hh; /* GRU */
    float *bias, *u_c, *bias_c;       /* NC-GRU (w_ih, w_hh shared) */
    struct crt_train_extra *cayley_w; /* W, with A = W - W^T */
    struct crt_train_extra *cayley_d; /* the fixed diagonal D of +-1 */
    double *work;                     /* 4 d*d doubles for the Cayley maps */
};

static float *need(struct crt_model *m, const char *name, struct errbuf *err, int *r)
{
    float *p = crt_model_param(m, name);
    if (!p && *r == 0)
        *r = errbuf_set(err, -EINVAL, "training: the model has no tensor '%s'", name);
    return p;
}

/* ---- small dense linear algebra, in double, for the Cayley maps ---------- */

/* inv = a^-1 by Gauss-Jordan with partial pivoting; a is destroyed.
 * Returns -EDOM when a is (numerically) singular. */
static int invert(double *inv, double *a, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            inv[i * n + j] = i == j;
    for (int col = 0; col < n; col++) {
        int pivot = col;
        for (int i = col + 1; i < n; i++)
            if (fabs(a[i * n + col]) > fabs(a[pivot * n + col]))
                pivot = i;
        if (fabs(a[pivot * n + col]) < 1e-12)
            return -EDOM;
        if (pivot != col)
            for (int j = 0; j < n; j++) {
                double t = a[col * n + j];
                a[col * n + j] = a[pivot * n + j];
                a[pivot * n + j] = t;
                t = inv[col * n + j];
                inv[col * n + j] = inv[pivot * n + j];
                inv[pivot * n + j] = t;
            }
        double s = 1.0 / a[col * n + col];
        for (int j = 0; j < n; j++) {
            a[col * n + j] *= s;
            inv[col * n + j] *= s;
        }
        for (int i = 0; i < n; i++) {
            if (i == col || a[i * n + col] == 0.0)
                continue;
            double f = a[i * n + col];
            for (int j = 0; j < n; j++) {
                a[i * n + j] -= f * a[col * n + j];
                inv[i * n + j] -= f * inv[col * n + j];
            }
        }
    }
    return 0;
}

/* c = a . b for n x n matrices (row-major); c must not alias. */
static void matmul_nn(double *c, const double *a, const double *b, int n)
{
    for (int i = 0; i < n; i++) {
        double *row = c + (size_t)i * n;
        for (int j = 0; j < n; j++)
            row[j] = 0;
        for (int k = 0; k < n; k++) {
            double aik = a[(size_t)i * n + k];
            const double *brow = b + (size_t)k * n;
            for (int j = 0; j < n; j++)
                row[j] += aik * brow[j];
        }
    }
}

/* M = (I + A)^-1 into work[0], with A = W - W^T. */
static int cayley_inverse(struct gru_train *g, double *M)
{
    int d = g->d;
    double *a = g->work + 3 * (size_t)d * d;
    const float *w = g->cayley_w->value;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
            a[i * d + j] = (i == j) + (double)w[i * d + j] - (double)w[j * d + i];
    return invert(M, a, d);
}

/* U_c = (I + A)^-1 (I - A) D, written into the model's tensor. */
static int cayley_apply(struct gru_train *g)
{
    int d = g->d;
    double *M = g->work, *B = g->work + (size_t)d * d, *U = g->work + 2 * (size_t)d * d;
    int r = cayley_inverse(g, M);
    if (r < 0)
        return r;
    const float *w = g->cayley_w->value, *D = g->cayley_d->value;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
            B[i * d + j] = ((i == j) - ((double)w[i * d + j] - (double)w[j * d + i])) * D[j];
    matmul_nn(U, M, B, d);
    for (size_t k = 0; k < (size_t)d * d; k++)
        g->u_c[k] = (float)U[k];
    return 0;
}

/* The inverse map, for fine-tuning a model file that has only U_c: with
 * D = sign(diag U) so that U D is far from having an eigenvalue -1,
 * A = (I - U D)(I + U D)^-1, and W = (A - A^T) / 4 so that W - W^T = A. */
static int cayley_from_u(struct gru_train *g)
{
    int d = g->d;
    double *UD = g->work, *P = g->work + (size_t)d * d, *Q = g->work + 2 * (size_t)d * d;
    double *A = g->work + 3 * (size_t)d * d;
    float *D = g->cayley_d->value;
    for (int j = 0; j < d; j++)
        D[j] = g->u_c[j * d + j] < 0 ? -1.0f : 1.0f;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            UD[i * d + j] = (double)g->u_c[i * d + j] * D[j];
            P[i * d + j] = (i == j) + UD[i * d + j];
        }
    int r = invert(Q, P, d);
    if (r < 0)
        return r;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
            P[i * d + j] = (i == j) - UD[i * d + j];
    matmul_nn(A, P, Q, d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
            g->cayley_w->value[i * d + j] = (float)(0.25 * (A[i * d + j] - A[j * d + i]));
    return 0;
}

static int gru_prepare(struct crt_model *m, void **ret_ctx, struct crt_train_extra *extra,
                       int *ret_n_extra, struct errbuf *err)
{
    struct gru_train *g = calloc(1, sizeof(*g));
    int r = 0;
    if (!g)
        return -ENOMEM;
    g->nc = strcmp(m->cfg.variant, "ncgru") == 0;
    g->d = m->cfg.d_model;
    g->embed_w = need(m, "mem.embed.weight", err, &r);
    g->embed_b = need(m, "mem.embed.bias", err, &r);
    g->pos = need(m, "mem.pos", err, &r);
    g->init = need(m, "mem.init", err, &r);
    if (!g->nc) {
        g->w_ih = need(m, "mem.gru.weight_ih", err, &r);
        g->w_hh = need(m, "mem.gru.weight_hh", err, &r);
        g->b_ih = need(m, "mem.gru.bias_ih", err, &r);
        g->b_hh = need(m, "mem.gru.bias_hh", err, &r);
        *ret_n_extra = 0;
    } else {
        g->w_ih = need(m, "mem.ncgru.weight_ih", err, &r);
        g->w_hh = need(m, "mem.ncgru.weight_hh", err, &r);
        g->bias = need(m, "mem.ncgru.bias", err, &r);
        g->u_c = need(m, "mem.ncgru.u_c", err, &r);
        g->bias_c = need(m, "mem.ncgru.bias_c", err, &r);
        if (r == 0) {
            size_t dd = (size_t)g->d * g->d;
            extra[0] = (struct crt_train_extra){.name = "train.ncgru.cayley_w", .numel = dd};
            extra[1] =
                (struct crt_train_extra){.name = "train.ncgru.cayley_d", .numel = (size_t)g->d};
            g->cayley_w = &extra[0];
            g->cayley_d = &extra[1];
            *ret_n_extra = 2;
            g->work = malloc(4 * dd * sizeof(double));
            if (!g->work)
                r = -ENOMEM;
        }
    }
    if (r < 0) {
        free(g->work);
        free(g);
        return r;
    }
    *ret_ctx = g;
    return 0;
}

/* Once the extras have memory: derive them from the model's U_c. */
static void gru_extras_ready(struct crt_model *m, void *ctx)
{
    struct gru_train *g = ctx;
    if (g->nc && cayley_from_u(g) < 0) {
        /* U_c + D singular (a zero model): start from A = 0, U_c = D. */
        memset(g->cayley_w->value, 0, g->cayley_w->numel * sizeof(float));
        for (int j = 0; j < g->d; j++)
            g->cayley_d->value[j] = 1.0f;
        cayley_apply(g);
    }
}

static void gru_release(void *ctx)
{
    struct gru_train *g = ctx;
    if (!g)
        return;
    free(g->work);
    free(g);
}

static size_t gru_scratch_floats(const struct crt_model *m)
{
    return 8 * (size_t)m->cfg.d_model;
}

static void gru_update_backward(const struct crt_model *m, void *ctx, float *grads, float *scratch,
                                const float *save, const float *dmem_out, const float *dreadout,
                                const float *h, const float *mem_in, float *dh, float *dmem_in,
                                int B)
{
    struct gru_train *g = ctx;
    int d = g->d;
    size_t stride = m->ops->save_floats(&m->cfg); /* as crt/mem/gru.c keeps it */
    float *dgi = scratch, *dgh = scratch + 3 * d, *drm = scratch + 6 * d, *dz = scratch + 7 * d;

    memset(dh, 0, (size_t)B * d * sizeof(float));
    memset(dmem_in, 0, (size_t)B * d * sizeof(float));
    for (int b = 0; b < B; b++) {
        const float *sv = save + (size_t)b * stride;
        const float *gh = sv + 3 * d, *r = sv + 6 * d, *u = sv + 7 * d, *n = sv + 8 * d;
        const float *rm = sv + 9 * d, *c = sv + 10 * d;
        const float *hb = h + (size_t)b * d, *mb = mem_in + (size_t)b * d;
        float *dhb = dh + (size_t)b * d, *dmb = dmem_in + (size_t)b * d;

        if (!g->nc) {
            for (int k = 0; k < d; k++) {
                float dnext = dmem_out[(size_t)b * d + k] + dreadout[(size_t)b * d + k];
                float dn = dnext * (1.0f - u[k]);
                float du = dnext * (mb[k] - n[k]);
                dmb[k] += dnext * u[k];
                float dan = dn * (1.0f - n[k] * n[k]);
                float dr = dan * gh[2 * d + k];
                float dar = dr * r[k] * (1.0f - r[k]);
                float dau = du * u[k] * (1.0f - u[k]);
                dgi[k] = dar;
                dgi[d + k] = dau;
                dgi[2 * d + k] = dan;
                dgh[k] = dar;
                dgh[d + k] = dau;
                dgh[2 * d + k] = dan * r[k];
            }
            matmul_backward(dhb, crt_train_grad_of(m, grads, g->w_ih),
                            crt_train_grad_of(m, grads, g->b_ih), dgi, hb, g->w_ih, 1, d, 3 * d);
            matmul_backward(dmb, crt_train_grad_of(m, grads, g->w_hh),
                            crt_train_grad_of(m, grads, g->b_hh), dgh, mb, g->w_hh, 1, d, 3 * d);
            continue;
        }

        float *dbias_c = crt_train_grad_of(m, grads, g->bias_c);
        for (int k = 0; k < d; k++) {
            float dnext = dmem_out[(size_t)b * d + k] + dreadout[(size_t)b * d + k];
            float dc = dnext * (1.0f - u[k]);
            float du = dnext * (mb[k] - c[k]);
            dmb[k] += dnext * u[k];
            float z = n[k];
            bool active = z != 0.0f && fabsf(z) + g->bias_c[k] > 0.0f;
            float sign = z > 0.0f ? 1.0f : -1.0f;
            dz[k] = active ? dc : 0.0f;
            dbias_c[k] += active ? dc * sign : 0.0f;
            dgi[2 * d + k] = dz[k];
            dgi[d + k] = du * u[k] * (1.0f - u[k]);
            dgh[d + k] = dgi[d + k];
            drm[k] = 0.0f;
        }
        /* z = U_c (r m) + W_c s */
        matmul_backward(drm, crt_train_grad_of(m, grads, g->u_c), NULL, dz, rm, g->u_c, 1, d, d);
        for (int k = 0; k < d; k++) {
            float dr = drm[k] * mb[k];
            dmb[k] += drm[k] * r[k];
            dgi[k] = dr * r[k] * (1.0f - r[k]);
            dgh[k] = dgi[k];
        }
        matmul_backward(dhb, crt_train_grad_of(m, grads, g->w_ih), NULL, dgi, hb, g->w_ih, 1, d,
                        3 * d);
        matmul_backward(dmb, crt_train_grad_of(m, grads, g->w_hh),
                        crt_train_grad_of(m, grads, g->bias), dgh, mb, g->w_hh, 1, d, 2 * d);
    }
}

static void gru_embed_backward(const struct crt_model *m, void *ctx, float *grads, const float *dx,
                               const float *mem_in, float *dmem_in, int B, int T)
{
    struct gru_train *g = ctx;
    int d = g->d;
    float *dpos = crt_train_grad_of(m, grads, g->pos);
    for (int b = 0; b < B; b++) {
        const float *dx0 = dx + (size_t)b * T * d; /* the memory token is row 0 */
        matmul_backward(dmem_in + (size_t)b * d, crt_train_grad_of(m, grads, g->embed_w),
                        crt_train_grad_of(m, grads, g->embed_b), dx0, mem_in + (size_t)b * d,
                        g->embed_w, 1, d, d);
        for (int k = 0; k < d; k++)
            dpos[k] += dx0[k];
    }
}

static void gru_initial_memory_backward(const struct crt_model *m, void *ctx, float *grads,
                                        const float *dmem)
{
    struct gru_train *g = ctx;
    float *dinit = crt_train_grad_of(m, grads, g->init);
    for (int k = 0; k < g->d; k++)
        dinit[k] += dmem[k];
}

static void gru_init_weights(struct crt_model *m, void *ctx, uint64_t seed)
{
    struct gru_train *g = ctx;
    if (!g->nc)
        return;
    struct rng rng;
    rng_seed(&rng, seed ^ 0xca71e7ull);
    /* A small random A keeps U_c near the random rotation D at first. */
    float a = 0.5f / sqrtf((float)g->d);
    for (size_t k = 0; k < g->cayley_w->numel; k++)
        g->cayley_w->value[k] = (float)rng_range(&rng, -a, a);
    for (int j = 0; j < g->d; j++)
        g->cayley_d->value[j] = rng_uniform(&rng) < 0.5 ? -1.0f : 1.0f;
    for (int k = 0; k < g->d; k++)
        g->bias_c[k] = (float)rng_range(&rng, -0.1, 0.0);
    cayley_apply(g);
}

/* dL/dU_c becomes dL/dW through U = M (I - A) D, M = (I + A)^-1, A = W - W^T:
 * dM = dU ((I - A) D)^T, dA = -M^T dM M^T - M^T dU D, dW = dA - dA^T. */
static void gru_before_step(struct crt_model *m, void *ctx, float *grads)
{
    struct gru_train *g = ctx;
    if (!g->nc)
        return;
    int d = g->d;
    size_t dd = (size_t)d * d;
    double *M = g->work, *T1 = g->work + dd, *T2 = g->work + 2 * dd, *dA = g->work + 3 * dd;
    float *dU = crt_train_grad_of(m, grads, g->u_c);
    const float *w = g->cayley_w->value, *D = g->cayley_d->value;

    /* cayley_inverse uses work[3 dd] as scratch, before dA is written there. */
    if (cayley_inverse(g, M) < 0)
        return;
    /* T1 = dU D (I - A)^T ... built as dU . ((I - A) D)^T, element by element:
     * ((I - A) D)^T [k][j] = (I - A)[j][k] D[k]. */
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) {
                double ia_jk = (j == k) - ((double)w[j * d + k] - (double)w[k * d + j]);
                s += (double)dU[i * d + k] * D[k] * ia_jk;
            }
            T1[i * d + j] = s; /* dM */
        }
    /* T2 = M^T dM */
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++)
                s += M[k * d + i] * T1[k * d + j];
            T2[i * d + j] = s;
        }
    /* dA = -T2 M^T - (M^T dU) D */
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0, t = 0;
            for (int k = 0; k < d; k++) {
                s += T2[i * d + k] * M[j * d + k];
                t += M[k * d + i] * (double)dU[k * d + j];
            }
            dA[i * d + j] = -s - t * D[j];
        }
    float *dW = g->cayley_w->grad;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
            dW[i * d + j] += (float)(dA[i * d + j] - dA[j * d + i]);
    /* U_c itself is not a free parameter: AdamW must not move it. */
    memset(dU, 0, dd * sizeof(float));
}

static void gru_after_step(struct crt_model *m, void *ctx)
{
    struct gru_train *g = ctx;
    if (g->nc)
        cayley_apply(g);
}

const struct crt_train_memory_ops crt_train_gru_ops = {
    .prepare = gru_prepare,
    .extras_ready = gru_extras_ready,
    .release = gru_release,
    .scratch_floats = gru_scratch_floats,
    .update_backward = gru_update_backward,
    .embed_backward = gru_embed_backward,
    .initial_memory_backward = gru_initial_memory_backward,
    .init_weights = gru_init_weights,
    .before_step = gru_before_step,
    .after_step = gru_after_step,
};
