/* matmul_t_forward for a few rows, which runs crt/small_gemm.c's register
 * tiles on a CPU with AVX-512, against OpenBLAS's sgemm on the same operands
 * and a double-precision sum: every row count it takes (1..12) and one past,
 * column counts with ragged last vectors (1, 15, 31, 33), the strides and
 * column offsets the encoder uses (qkv's k and v block, every T-th row),
 * with and without bias, written and accumulated; as the model calls it, and
 * each form (AVX-512, AVX2 + FMA) the CPU can run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cmocka.h>

#include "base.h"
#include "kernels.h"
#include "small_gemm.h"

static uint32_t seed = 12345;

static float rnd(void)
{
    seed = seed * 1664525u + 1013904223u;
    return (float)(seed >> 8) * 0x1p-23f - 1.0f;
}

struct shape {
    int N, C, OC;
    int ldi, ldw, ldo; /* >= C, OC, OC */
    int w_col;         /* the weight's first column (a column block) */
    bool bias, accumulate;
};

/* Largest |got - want| over the bound sum |inp * w| that float32 rounding
 * allows, for one shape; fails the test past 1. */
/* -1: matmul_t_forward as the model calls it; else one form of small_gemm. */
static int form = -1;

static double check(const struct shape *s)
{
    size_t n_in = (size_t)s->N * s->ldi, n_w = (size_t)s->C * s->ldw, n_out = (size_t)s->N * s->ldo;
    float *inp = malloc(n_in * sizeof(float)), *w = malloc(n_w * sizeof(float));
    float *bias = malloc((size_t)s->ldw * sizeof(float));
    float *got = malloc(n_out * sizeof(float)), *blas = malloc(n_out * sizeof(float));
    assert_non_null(inp && w && bias && got && blas);
    for (size_t i = 0; i < n_in; i++)
        inp[i] = rnd();
    for (size_t i = 0; i < n_w; i++)
        w[i] = rnd();
    for (int i = 0; i < s->ldw; i++)
        bias[i] = rnd();
    for (size_t i = 0; i < n_out; i++)
        got[i] = blas[i] = rnd();
    const float *wt = w + s->w_col, *b = s->bias ? bias + s->w_col : NULL;

    if (form < 0)
        matmul_t_forward(got, s->ldo, inp, s->ldi, wt, s->ldw, b, s->N, s->C, s->OC, s->accumulate);
    else if (!small_gemm_isa((enum small_gemm_isa)form, got, s->ldo, inp, s->ldi, wt, s->ldw, b,
                             s->N, s->C, s->OC, s->accumulate))
        /* too many rows for it: the OpenBLAS path, as the model would */
        matmul_t_forward(got, s->ldo, inp, s->ldi, wt, s->ldw, b, s->N, s->C, s->OC, s->accumulate);

    /* OpenBLAS on the same operands, the way kernels.c called it before */
    for (int n = 0; n < s->N; n++)
        for (int o = 0; o < s->OC; o++) {
            float *x = &blas[(size_t)n * s->ldo + o];
            *x = (s->accumulate ? *x : 0.0f) + (b ? b[o] : 0.0f);
        }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->N, s->OC, s->C, 1.0f, inp, s->ldi, wt,
                s->ldw, 1.0f, blas, s->ldo);

    double worst = 0;
    for (int n = 0; n < s->N; n++) {
        for (int o = 0; o < s->ldo; o++) {
            size_t at = (size_t)n * s->ldo + o;
            if (o >= s->OC) { /* past the product's columns: untouched */
                assert_true(got[at] == blas[at]);
                continue;
            }
            double want = 0, mag = 0;
            for (int c = 0; c < s->C; c++) {
                double t = (double)inp[(size_t)n * s->ldi + c] * wt[(size_t)c * s->ldw + o];
                want += t;
                mag += fabs(t);
            }
            double base = b ? b[o] : 0.0;
            /* blas[at] holds the same sum from OpenBLAS: both within
             * float rounding of the double one */
            double tol = 4e-7 * (mag + fabs(base) + fabs(blas[at])) * sqrt((double)s->C + 1) + 1e-7;
            double e_blas = fabs((double)got[at] - blas[at]) / tol;
            worst = fmax(worst, e_blas);
            if (e_blas > 1) {
                fail_msg("N %d C %d OC %d ldi %d ldw %d ldo %d col %d bias %d acc %d: out[%d][%d] "
                         "= %.9g, OpenBLAS %.9g (sum %.9g)",
                         s->N, s->C, s->OC, s->ldi, s->ldw, s->ldo, s->w_col, s->bias,
                         s->accumulate, n, o, got[at], blas[at], want + base);
            }
        }
    }
    free(inp);
    free(w);
    free(bias);
    free(got);
    free(blas);
    return worst;
}

static void shapes(const char *what)
{
    static const int Cs[] = {1, 7, 89, 128, 512};
    static const int OCs[] = {1, 15, 31, 33, 128, 384};
    double worst = 0;
    int cases = 0;

    for (int N = 1; N <= SMALL_GEMM_MAX_ROWS + 1; N++)
        for (size_t ci = 0; ci < ARRAY_SIZE(Cs); ci++)
            for (size_t oi = 0; oi < ARRAY_SIZE(OCs); oi++)
                for (int variant = 0; variant < 4; variant++) {
                    int C = Cs[ci], OC = OCs[oi];
                    struct shape s = {
                        .N = N,
                        .C = C,
                        .OC = OC,
                        .ldi = C,
                        .ldw = OC,
                        .ldo = OC,
                        .bias = variant & 1,
                        .accumulate = variant & 2,
                    };
                    if (variant == 3) { /* strided rows, a column block of a wider weight */
                        s.ldi = C + 9;
                        s.ldo = OC + 5;
                        s.w_col = 16;
                        s.ldw = OC + 32;
                    }
                    worst = fmax(worst, check(&s));
                    cases++;
                }
    printf("small_gemm: %s: %d shapes, worst error %.3f of the rounding bound\n", what, cases,
           worst);
}

static void test_dispatch(void **state)
{
    (void)state;
    form = -1;
    shapes(cpu_has_avx512()     ? "matmul_t_forward (AVX-512 tiles)"
           : cpu_has_avx2_fma() ? "matmul_t_forward (AVX2 tiles)"
                                : "matmul_t_forward (OpenBLAS)");
}

static void test_avx512(void **state)
{
    (void)state;
    if (!cpu_has_avx512())
        skip();
    form = SMALL_GEMM_AVX512;
    shapes("AVX-512 form");
}

static void test_avx2(void **state)
{
    (void)state;
    if (!cpu_has_avx2_fma())
        skip();
    form = SMALL_GEMM_AVX2;
    shapes("AVX2 + FMA form");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_avx512),
        cmocka_unit_test(test_avx2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
