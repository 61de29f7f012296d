/* Every backward kernel against central finite differences of its forward
 * kernel. The scalar checked is L = sum(g * forward(x)) for a random g, so
 * dL/dout = g. Each check prints the worst normalised error it saw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kernels.h"
#include "data.h"
#include "backward.h"

#define TOLERANCE 1e-3 /* normalised error; float32 central differences */
#define STEP      1e-2f

static struct rng rng;

static void fill(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rng_range(&rng, -scale, scale);
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* The forward of one op as a function of its inputs, evaluated into out. */
typedef void (*forward_fn)(float *out, void *ctx);

/* Compares analytic[] with central differences of L over every element of
 * param (n floats), and returns the normalised error max|num-ana| / max|ana|. */
static double check_gradient(const char *what, float *param, size_t n, const float *analytic,
                             forward_fn forward, void *ctx, float *out, const float *g,
                             size_t n_out)
{
    double worst = 0, biggest = 1e-6;
    for (size_t i = 0; i < n; i++) {
        float saved = param[i];
        param[i] = saved + STEP;
        forward(out, ctx);
        double plus = dot(out, g, n_out);
        param[i] = saved - STEP;
        forward(out, ctx);
        double minus = dot(out, g, n_out);
        param[i] = saved;
        double numeric = (plus - minus) / (2.0 * STEP);
        worst = fmax(worst, fabs(numeric - analytic[i]));
        biggest = fmax(biggest, fabs(analytic[i]));
    }
    double err = worst / biggest;
    printf("# %-28s normalised error %.2e (tolerance %.0e)\n", what, err, TOLERANCE);
    return err;
}

/* ---- matmul ---- */
struct matmul_ctx {
    float *inp, *weight, *bias;
    int N, C, OC;
};

static void matmul_fn(float *out, void *p)
{
    struct matmul_ctx *c = p;
    matmul_forward(out, c->inp, c->weight, c->bias, c->N, c->C, c->OC);
}

static void matmul_gradients(void **state)
{
    enum { N = 5, C = 7, OC = 6 };
    float inp[N * C], weight[OC * C], bias[OC], out[N * OC], g[N * OC];
    float dinp[N * C] = {0}, dweight[OC * C] = {0}, dbias[OC] = {0};
    fill(inp, N * C, 1);
    fill(weight, OC * C, 1);
    fill(bias, OC, 1);
    fill(g, N * OC, 1);
    matmul_backward(dinp, dweight, dbias, g, inp, weight, N, C, OC);
    struct matmul_ctx ctx = {inp, weight, bias, N, C, OC};
    assert_true(check_gradient("matmul dinp", inp, N * C, dinp, matmul_fn, &ctx, out, g, N * OC) <
                TOLERANCE);
    assert_true(check_gradient("matmul dweight", weight, OC * C, dweight, matmul_fn, &ctx, out, g,
                               N * OC) < TOLERANCE);
    assert_true(check_gradient("matmul dbias", bias, OC, dbias, matmul_fn, &ctx, out, g, N * OC) <
                TOLERANCE);
}

/* ---- layernorm ---- */
struct layernorm_ctx {
    float *inp, *weight, *bias;
    int N, C;
};

static void layernorm_fn(float *out, void *p)
{
    struct layernorm_ctx *c = p;
    layernorm_forward(out, NULL, NULL, c->inp, c->weight, c->bias, c->N, c->C, 1e-5f);
}

static void layernorm_gradients(void **state)
{
    enum { N = 4, C = 16 };
    float inp[N * C], weight[C], bias[C], out[N * C], g[N * C], mean[N], rstd[N];
    float dinp[N * C] = {0}, dweight[C] = {0}, dbias[C] = {0};
    fill(inp, N * C, 2);
    fill(weight, C, 1.5f);
    fill(bias, C, 1);
    fill(g, N * C, 1);
    layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, 1e-5f);
    layernorm_backward(dinp, dweight, dbias, g, inp, weight, mean, rstd, N, C);
    struct layernorm_ctx ctx = {inp, weight, bias, N, C};
    assert_true(check_gradient("layernorm dinp", inp, N * C, dinp, layernorm_fn, &ctx, out, g,
                               N * C) < TOLERANCE);
    assert_true(check_gradient("layernorm dweight", weight, C, dweight, layernorm_fn, &ctx, out, g,
                               N * C) < TOLERANCE);
    assert_true(check_gradient("layernorm dbias", bias, C, dbias, layernorm_fn, &ctx, out, g,
                               N * C) < TOLERANCE);
}

/* ---- gelu ---- */
struct gelu_ctx {
    float *inp;
    size_t n;
};

static void gelu_fn(float *out, void *p)
{
    struct gelu_ctx *c = p;
    gelu_forward(out, c->inp, c->n);
}

static void gelu_gradients(void **state)
{
    enum { N = 64 };
    float inp[N], out[N], g[N], dinp[N] = {0};
    fill(inp, N, 4);
    fill(g, N, 1);
    gelu_backward(dinp, inp, g, N);
    struct gelu_ctx ctx = {inp, N};
    assert_true(check_gradient("gelu dinp", inp, N, dinp, gelu_fn, &ctx, out, g, N) < TOLERANCE);
}

/* ---- attention ---- */
struct attention_ctx {
    float *qkv;
    int B, T, C, NH, NQ;
};

static void attention_fn(float *out, void *p)
{
    struct attention_ctx *c = p;
    attention_forward(out, NULL, c->qkv, c->B, c->T, c->C, c->NH, c->NQ);
}

static void attention_gradients_for(int NQ)
{
    enum { B = 2, T = 5, C = 8, NH = 2 };
    float qkv[B * T * 3 * C], out[B * T * C], g[B * T * C], att[B * NH * T * T];
    float dqkv[B * T * 3 * C] = {0};
    char what[64];
    fill(qkv, B * T * 3 * C, 1.5f);
    fill(g, B * NQ * C, 1);
    attention_forward(out, att, qkv, B, T, C, NH, NQ);
    attention_backward(dqkv, g, qkv, att, B, T, C, NH, NQ);
    struct attention_ctx ctx = {qkv, B, T, C, NH, NQ};
    snprintf(what, sizeof(what), "attention dqkv (NQ=%d of %d)", NQ, T);
    assert_true(check_gradient(what, qkv, B * T * 3 * C, dqkv, attention_fn, &ctx, out, g,
                               (size_t)B * NQ * C) < TOLERANCE);
}

static void attention_gradients(void **state)
{
    attention_gradients_for(5); /* a whole layer */
    attention_gradients_for(1); /* only the memory token queries (the last block) */
}

/* ---- softmax cross-entropy ---- */
struct xent_ctx {
    float *logits;
    const int *targets;
    const float *weights;
    int N, V;
};

static void xent_fn(float *out, void *p)
{
    struct xent_ctx *c = p;
    float probs[64];
    softmax_forward(probs, c->logits, c->N, c->V);
    out[0] = (float)crossentropy_softmax_backward(NULL, probs, c->targets, c->weights, c->N, c->V);
}

static void crossentropy_gradients(void **state)
{
    enum { N = 4, V = 6 };
    float logits[N * V], probs[N * V], dlogits[N * V] = {0}, out[1], g[1] = {1};
    int targets[N] = {0, 3, -1, 5};
    float weights[N] = {1.0f, 0.5f, 1.0f, 2.0f};
    fill(logits, N * V, 2);
    softmax_forward(probs, logits, N, V);
    double loss = crossentropy_softmax_backward(dlogits, probs, targets, weights, N, V);
    assert_true(loss > 0);
    for (int v = 0; v < V; v++)
        assert_true(dlogits[2 * V + v] == 0.0f); /* an ignored row has no gradient */
    struct xent_ctx ctx = {logits, targets, weights, N, V};
    assert_true(check_gradient("cross-entropy dlogits", logits, N * V, dlogits, xent_fn, &ctx, out,
                               g, 1) < TOLERANCE);
}

static int setup(void **state)
{
    rng_seed(&rng, 7);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matmul_gradients),       cmocka_unit_test(layernorm_gradients),
        cmocka_unit_test(gelu_gradients),         cmocka_unit_test(attention_gradients),
        cmocka_unit_test(crossentropy_gradients),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
