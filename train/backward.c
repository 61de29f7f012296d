/* train_kernels: backward passes of the layer kernels, on OpenBLAS. */
#include "backward.h"

#include <math.h>

#include <cblas.h>

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int N, int C, int OC)
{
    /* dinp[N,C] += dout[N,OC] . weight[OC,C] */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight, C,
                    1.0f, dinp, C);
    /* dweight[OC,C] += dout[N,OC]^T . inp[N,C] */
    if (dweight)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f,
                    dweight, C);
    if (dbias)
        for (int n = 0; n < N; n++) {
            const float *row = dout + (size_t)n * OC;
            for (int o = 0; o < OC; o++)
                dbias[o] += row[o];
        }
}

void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean, const float *rstd,
                        int N, int C)
{
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        const float *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float m = mean[n], rs = rstd[n];

        /* With xhat = (x - mean) * rstd and g = dy * weight:
         * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)). */
        float g_mean = 0.0f, gx_mean = 0.0f;
        for (int c = 0; c < C; c++) {
            float xhat = (x[c] - m) * rs;
            float g = dy[c] * weight[c];
            g_mean += g;
            gx_mean += g * xhat;
        }
        g_mean /= (float)C;
        gx_mean /= (float)C;
        for (int c = 0; c < C; c++) {
            float xhat = (x[c] - m) * rs;
            float g = dy[c] * weight[c];
            if (dbias)
                dbias[c] += dy[c];
            if (dweight)
                dweight[c] += dy[c] * xhat;
            dx[c] += rs * (g - g_mean - xhat * gx_mean);
        }
    }
}

#define GELU_SCALE 0.7978845608028654f /* sqrt(2 / pi) */

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N)
{
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float t = tanhf(u);
        float sech2 = 1.0f - t * t;
        float du = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        float local = 0.5f * (1.0f + t) + 0.5f * x * sech2 * du;
        dinp[i] += local * dout[i];
    }
}

void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int B,
                        int T, int C, int NH, int NQ)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);

    for (int b = 0; b < B; b++) {
        const float *seq = qkv + (size_t)b * T * 3 * C;
        float *dseq = dqkv + (size_t)b * T * 3 * C;
        for (int h = 0; h < NH; h++) {
            for (int i = 0; i < NQ; i++) {
                const float *a = att + (((size_t)b * NH + h) * NQ + i) * T;
                const float *dout_i = dout + ((size_t)b * NQ + i) * C + h * hs;
                const float *q = seq + (size_t)i * 3 * C + h * hs;
                float *dq = dseq + (size_t)i * 3 * C + h * hs;

                /* da_j = dout_i . v_j; dv_j += a_j dout_i; then through the
                 * softmax: ds_j = a_j (da_j - sum_k a_k da_k). */
                float da_dot_a = 0.0f;
                for (int j = 0; j < T; j++) {
                    const float *v = seq + (size_t)j * 3 * C + 2 * C + h * hs;
                    float *dv = dseq + (size_t)j * 3 * C + 2 * C + h * hs;
                    float da = 0.0f;
                    for (int e = 0; e < hs; e++) {
                        da += dout_i[e] * v[e];
                        dv[e] += a[j] * dout_i[e];
                    }
                    da_dot_a += da * a[j];
                }
                for (int j = 0; j < T; j++) {
                    const float *v = seq + (size_t)j * 3 * C + 2 * C + h * hs;
                    const float *k = seq + (size_t)j * 3 * C + C + h * hs;
                    float *dk = dseq + (size_t)j * 3 * C + C + h * hs;
                    float da = 0.0f;
                    for (int e = 0; e < hs; e++)
                        da += dout_i[e] * v[e];
                    float ds = a[j] * (da - da_dot_a) * scale;
                    for (int e = 0; e < hs; e++) {
                        dq[e] += ds * k[e];
                        dk[e] += ds * q[e];
                    }
                }
            }
        }
    }
}

double crossentropy_softmax_backward(float *dlogits, const float *probs, const int *targets,
                                     const float *weights, int N, int V)
{
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        int t = targets[n];
        if (t < 0 || t >= V)
            continue;
        const float *p = probs + (size_t)n * V;
        float w = weights ? weights[n] : 1.0f;
        loss += -(double)w * log(fmax((double)p[t], 1e-30));
        if (!dlogits)
            continue;
        float *d = dlogits + (size_t)n * V;
        for (int v = 0; v < V; v++)
            d[v] += w * (p[v] - (v == t ? 1.0f : 0.0f));
    }
    return loss;
}
