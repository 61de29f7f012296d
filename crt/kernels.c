/* kernels: float32 layer kernels of the segment models, on OpenBLAS. */
#include "kernels.h"

#include "base.h"
#include "small_gemm.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include <cblas.h>

/* The elementwise kernels and attention have an AVX2+FMA form, picked at run
 * time; the scalar form is the reference and the fallback. */
#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#define AVX2           __attribute__((target("avx2,fma")))

AVX2 static inline float hsum256(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
}

/* e^x as Cephes' expf: range reduction by ln 2, a degree-5 polynomial; within
 * 2 ulp of expf over the clamped range [-88.38, 88.38]. */
AVX2 static inline __m256 exp256(__m256 x)
{
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
    x = _mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f));
    __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    fx = _mm256_floor_ps(fx);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, z, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i n = _mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127));
    return _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(n, 23)));
}

/* tanh x = 1 - 2 / (e^2x + 1) */
AVX2 static inline __m256 tanh256(__m256 x)
{
    __m256 e = exp256(_mm256_add_ps(x, x));
    return _mm256_sub_ps(
        _mm256_set1_ps(1.0f),
        _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
}

AVX2 static inline __m256 sigmoid256(__m256 x)
{
    __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
}
#endif

float kernel_tanhf(float x)
{
    /* 1 - 2 / (e^2x + 1): five times faster than glibc's tanhf, and within
     * 2e-7 of it; saturates to +-1 without overflow trouble (e^2x = inf gives
     * 1, e^2x = 0 gives -1). */
    return 1.0f - 2.0f / (expf(2.0f * x) + 1.0f);
}

float kernel_sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

#ifdef HAVE_AVX2_PATH
AVX2 static void sigmoid_avx2(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, sigmoid256(_mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        x[i] = kernel_sigmoidf(x[i]);
}

AVX2 static void tanh_avx2(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, tanh256(_mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        x[i] = kernel_tanhf(x[i]);
}
#endif

void sigmoid_forward(float *x, size_t n)
{
#ifdef HAVE_AVX2_PATH
    if (cpu_has_avx2_fma()) {
        sigmoid_avx2(x, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        x[i] = kernel_sigmoidf(x[i]);
}

void tanh_forward(float *x, size_t n)
{
#ifdef HAVE_AVX2_PATH
    if (cpu_has_avx2_fma()) {
        tanh_avx2(x, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        x[i] = kernel_tanhf(x[i]);
}

void matmul_t_forward(float *out, int ldo, const float *inp, int ldi, const float *weight_t,
                      int ldw, const float *bias, int N, int C, int OC, bool accumulate)
{
    /* A few rows (one stream's step): OpenBLAS's call costs more than the
     * arithmetic there. */
    if (small_gemm_t(out, ldo, inp, ldi, weight_t, ldw, bias, N, C, OC, accumulate))
        return;
    if (bias) {
        for (int n = 0; n < N; n++) {
            float *o = out + (size_t)n * ldo;
            if (accumulate)
                for (int i = 0; i < OC; i++)
                    o[i] += bias[i];
            else
                memcpy(o, bias, (size_t)OC * sizeof(float));
        }
    }
    float beta = bias || accumulate ? 1.0f : 0.0f;
    /* OpenBLAS's sgemm tiles rows by fours and eights: one row past a
     * multiple of 8 (a segment of 8 frames and its memory token) costs more
     * as a ragged tile than through sgemv on its own. */
    int rest = N > 8 && N % 8 == 1 ? 1 : N == 1 ? 1 : 0;
    if (N > rest)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N - rest, OC, C, 1.0f, inp, ldi,
                    weight_t, ldw, beta, out, ldo);
    if (rest)
        cblas_sgemv(CblasRowMajor, CblasTrans, C, OC, 1.0f, weight_t, ldw,
                    inp + (size_t)(N - 1) * ldi, 1, beta, out + (size_t)(N - 1) * ldo, 1);
}

void kernel_transpose(float *out, const float *inp, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            out[(size_t)c * rows + r] = inp[(size_t)r * cols + c];
}

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                    int C, int OC)
{
    if (bias) {
        for (int n = 0; n < N; n++)
            memcpy(out + (size_t)n * OC, bias, (size_t)OC * sizeof(float));
    }
    float beta = bias ? 1.0f : 0.0f;
    if (N == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, C, 1.0f, weight, C, inp, 1, beta, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C,
                    beta, out, OC);
}

void matmul_accumulate(float *out, const float *inp, const float *weight, const float *bias, int N,
                       int C, int OC)
{
    if (bias) {
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
                out[(size_t)n * OC + o] += bias[o];
    }
    if (N == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, C, 1.0f, weight, C, inp, 1, 1.0f, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C,
                    1.0f, out, OC);
}

#ifdef HAVE_AVX2_PATH
AVX2 static void layernorm_avx2(float *out, float *mean, float *rstd, const float *inp,
                                const float *weight, const float *bias, int N, int C, float eps)
{
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        __m256 acc = _mm256_setzero_ps();
        for (int i = 0; i < C; i += 8)
            acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + i));
        float m = hsum256(acc) / (float)C;
        __m256 vm = _mm256_set1_ps(m);
        acc = _mm256_setzero_ps();
        for (int i = 0; i < C; i += 8) {
            __m256 xm = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
            acc = _mm256_fmadd_ps(xm, xm, acc);
        }
        float s = 1.0f / sqrtf(hsum256(acc) / (float)C + eps);
        __m256 vs = _mm256_set1_ps(s);
        for (int i = 0; i < C; i += 8) {
            __m256 xn = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vs);
            _mm256_storeu_ps(
                o + i, _mm256_fmadd_ps(xn, _mm256_loadu_ps(weight + i), _mm256_loadu_ps(bias + i)));
        }
        if (mean)
            mean[n] = m;
        if (rstd)
            rstd[n] = s;
    }
}
#endif

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int N, int C, float eps)
{
#ifdef HAVE_AVX2_PATH
    if (C % 8 == 0 && cpu_has_avx2_fma()) {
        layernorm_avx2(out, mean, rstd, inp, weight, bias, N, C, eps);
        return;
    }
#endif
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float m = 0.0f;
        for (int i = 0; i < C; i++)
            m += x[i];
        m /= (float)C;
        float v = 0.0f;
        for (int i = 0; i < C; i++) {
            float xm = x[i] - m;
            v += xm * xm;
        }
        v /= (float)C;
        float s = 1.0f / sqrtf(v + eps);
        for (int i = 0; i < C; i++)
            o[i] = (x[i] - m) * s * weight[i] + bias[i];
        if (mean)
            mean[n] = m;
        if (rstd)
            rstd[n] = s;
    }
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

#ifdef HAVE_AVX2_PATH
AVX2 static void gelu_avx2(float *out, const float *inp, size_t N)
{
    const __m256 k = _mm256_set1_ps(GELU_K), c = _mm256_set1_ps(0.044715f);
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= N; i += 8) {
        __m256 x = _mm256_loadu_ps(inp + i);
        __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        __m256 t = tanh256(_mm256_mul_ps(k, _mm256_fmadd_ps(c, x3, x)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, t)));
    }
    for (; i < N; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + kernel_tanhf(GELU_K * (x + 0.044715f * x * x * x)));
    }
}
#endif

#ifdef HAVE_AVX2_PATH
#define AVX512 __attribute__((target("avx512f")))

/* exp256, tanh256 and gelu_avx2 on 16 lanes, the same operations in the same
 * order: GELU is the largest elementwise cost of one stream's step. */
AVX512 static inline __m512 exp512(__m512 x)
{
    x = _mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f));
    x = _mm512_max_ps(x, _mm512_set1_ps(-88.3762626647949f));
    __m512 fx = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f));
    fx = _mm512_roundscale_ps(fx, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 z = _mm512_mul_ps(x, x);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, z, _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    __m512i n = _mm512_add_epi32(_mm512_cvttps_epi32(fx), _mm512_set1_epi32(127));
    return _mm512_mul_ps(y, _mm512_castsi512_ps(_mm512_slli_epi32(n, 23)));
}

AVX512 static void gelu_avx512(float *out, const float *inp, size_t N)
{
    const __m512 k = _mm512_set1_ps(GELU_K), c = _mm512_set1_ps(0.044715f);
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    const __m512 two = _mm512_set1_ps(2.0f);
    size_t i = 0;
    for (; i + 16 <= N; i += 16) {
        __m512 x = _mm512_loadu_ps(inp + i);
        __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
        __m512 u = _mm512_mul_ps(k, _mm512_fmadd_ps(c, x3, x));
        __m512 e = exp512(_mm512_add_ps(u, u));
        __m512 t = _mm512_sub_ps(one, _mm512_div_ps(two, _mm512_add_ps(e, one)));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_add_ps(one, t)));
    }
    gelu_avx2(out + i, inp + i, N - i);
}
#endif

void gelu_forward(float *out, const float *inp, size_t N)
{
#ifdef HAVE_AVX2_PATH
    if (cpu_has_avx512()) {
        gelu_avx512(out, inp, N);
        return;
    }
    if (cpu_has_avx2_fma()) {
        gelu_avx2(out, inp, N);
        return;
    }
#endif
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + kernel_tanhf(GELU_K * (x + 0.044715f * x * x * x)));
    }
}

void residual_forward(float *out, const float *a, const float *b, size_t N)
{
    for (size_t i = 0; i < N; i++)
        out[i] = a[i] + b[i];
}

/* Softmax of w[T] in place, max-subtracted. */
static void softmax_row(float *w, int T)
{
    float maxv = -INFINITY;
    for (int j = 0; j < T; j++)
        if (w[j] > maxv)
            maxv = w[j];
    float sum = 0.0f;
    for (int j = 0; j < T; j++) {
        w[j] = expf(w[j] - maxv);
        sum += w[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < T; j++)
        w[j] *= inv;
}

#ifdef HAVE_AVX2_PATH
AVX2 static void attention_avx2(float *out, float *att, const float *qkv, int B, int T, int C,
                                int NH, int NQ)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    float local[1024];
    for (int b = 0; b < B; b++) {
        const float *seq = qkv + (size_t)b * T * 3 * C;
        for (int h = 0; h < NH; h++) {
            for (int i = 0; i < NQ; i++) {
                const float *q = seq + (size_t)i * 3 * C + h * hs;
                float *w = att ? att + (((size_t)b * NH + h) * NQ + i) * T : local;
                for (int j = 0; j < T; j++) {
                    const float *k = seq + (size_t)j * 3 * C + C + h * hs;
                    __m256 acc = _mm256_setzero_ps();
                    for (int e = 0; e < hs; e += 8)
                        acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + e), _mm256_loadu_ps(k + e), acc);
                    w[j] = hsum256(acc) * scale;
                }
                softmax_row(w, T);
                float *o = out + ((size_t)b * NQ + i) * C + h * hs;
                for (int e = 0; e < hs; e += 8) {
                    __m256 acc = _mm256_setzero_ps();
                    for (int j = 0; j < T; j++)
                        acc = _mm256_fmadd_ps(
                            _mm256_set1_ps(w[j]),
                            _mm256_loadu_ps(seq + (size_t)j * 3 * C + 2 * C + h * hs + e), acc);
                    _mm256_storeu_ps(o + e, acc);
                }
            }
        }
    }
}
#endif

void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH,
                       int NQ)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    float local[1024];
    assert(att || T <= 1024);
#ifdef HAVE_AVX2_PATH
    if (hs % 8 == 0 && cpu_has_avx2_fma()) {
        attention_avx2(out, att, qkv, B, T, C, NH, NQ);
        return;
    }
#endif
    for (int b = 0; b < B; b++) {
        const float *seq = qkv + (size_t)b * T * 3 * C;
        for (int h = 0; h < NH; h++) {
            for (int i = 0; i < NQ; i++) {
                const float *q = seq + (size_t)i * 3 * C + h * hs;
                float *w = att ? att + (((size_t)b * NH + h) * NQ + i) * T : local;
                for (int j = 0; j < T; j++) {
                    const float *k = seq + (size_t)j * 3 * C + C + h * hs;
                    float s = 0.0f;
                    for (int e = 0; e < hs; e++)
                        s += q[e] * k[e];
                    w[j] = s * scale;
                }
                softmax_row(w, T);
                float *o = out + ((size_t)b * NQ + i) * C + h * hs;
                for (int e = 0; e < hs; e++)
                    o[e] = 0.0f;
                for (int j = 0; j < T; j++) {
                    const float *v = seq + (size_t)j * 3 * C + 2 * C + h * hs;
                    for (int e = 0; e < hs; e++)
                        o[e] += w[j] * v[e];
                }
            }
        }
    }
}

void softmax_forward(float *probs, const float *logits, int N, int V)
{
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * V;
        float *p = probs + (size_t)n * V;
        float maxv = -INFINITY;
        for (int i = 0; i < V; i++)
            if (l[i] > maxv)
                maxv = l[i];
        float sum = 0.0f;
        for (int i = 0; i < V; i++) {
            p[i] = expf(l[i] - maxv);
            sum += p[i];
        }
        for (int i = 0; i < V; i++)
            p[i] /= sum;
    }
}
