/* small_gemm: the products of one stream's segment step (a few rows: 9 tokens,
 * 8 frames, 1 memory row; d = 128) on AVX-512 without OpenBLAS. At these
 * sizes OpenBLAS spends more on its call (argument checks, packing the
 * operands into its buffers, ragged-tile handling) than on the arithmetic;
 * here each weight is read once, straight from the packed [C, OC] copy, into
 * a register tile of all the rows. Larger products (training, batched clips)
 * stay on OpenBLAS. */
#include "small_gemm.h"

#include "base.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f"), always_inline)) static inline

/* How many weight rows ahead to prefetch. */
#define SMALL_GEMM_AHEAD 8

/* One tile: R rows (all of the product's, or a block of them) by V vectors
 * of 16 columns from column o, the last vector masked to the columns left.
 * R and V are constants at each call, so the accumulators live in
 * registers. */
AVX512 void tile(float *out, int ldo, const float *inp, int ldi, const float *w, int ldw,
                 const float *bias, int C, int o, __mmask16 last_mask, bool accumulate, const int R,
                 const int V)
{
    __m512 acc[SMALL_GEMM_MAX_ROWS][8];
    __mmask16 mask[8];

#pragma GCC unroll 8
    for (int v = 0; v < V; v++)
        mask[v] = v == V - 1 ? last_mask : (__mmask16)0xffff;
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
#pragma GCC unroll 8
        for (int v = 0; v < V; v++) {
            __m512 a = bias ? _mm512_maskz_loadu_ps(mask[v], bias + o + 16 * v)
                            : _mm512_setzero_ps();
            if (accumulate)
                a = _mm512_add_ps(
                    _mm512_maskz_loadu_ps(mask[v], out + (size_t)r * ldo + o + 16 * v), a);
            acc[r][v] = a;
        }
    }
    for (int c = 0; c < C; c++) {
        __m512 wv[8];
        const float *wrow = w + (size_t)c * ldw + o;
        /* rows of the weight are ldw apart: the hardware's prefetcher does
         * not follow that stride across pages, so ask for a few rows ahead */
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            _mm_prefetch((const char *)(wrow + (size_t)SMALL_GEMM_AHEAD * ldw + 16 * v),
                         _MM_HINT_T0);
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            wv[v] = _mm512_maskz_loadu_ps(mask[v], wrow + 16 * v);
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            __m512 x = _mm512_set1_ps(inp[(size_t)r * ldi + c]);
#pragma GCC unroll 8
            for (int v = 0; v < V; v++)
                acc[r][v] = _mm512_fmadd_ps(x, wv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            _mm512_mask_storeu_ps(out + (size_t)r * ldo + o + 16 * v, mask[v], acc[r][v]);
}

/* All column tiles of R rows, V vectors wide (the last tile narrower). */
AVX512 void rows_of(float *out, int ldo, const float *inp, int ldi, const float *w, int ldw,
                    const float *bias, int C, int OC, bool accumulate, const int R, const int V)
{
    int o = 0;
    for (; o + 16 * V <= OC; o += 16 * V)
        tile(out, ldo, inp, ldi, w, ldw, bias, C, o, 0xffff, accumulate, R, V);
    for (; o < OC; o += 16) {
        int left = OC - o;
        __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        tile(out, ldo, inp, ldi, w, ldw, bias, C, o, m, accumulate, R, 1);
    }
}

/* The vectors per tile: enough independent accumulators (R x V >= 8, two
 * FMA units of four cycles' latency) to keep the FMA units busy, few enough
 * (R x V + V <= 32) to stay in the registers. */
#define ROWS_CASE(R, V)                                                                            \
    case R:                                                                                        \
        rows_of(out, ldo, inp, ldi, w, ldw, bias, C, OC, accumulate, R, V);                        \
        break;

__attribute__((target("avx512f"))) static void small_gemm_avx512(float *out, int ldo,
                                                                 const float *inp, int ldi,
                                                                 const float *w, int ldw,
                                                                 const float *bias, int N, int C,
                                                                 int OC, bool accumulate)
{
    switch (N) {
        ROWS_CASE(1, 8)
        ROWS_CASE(2, 4)
        ROWS_CASE(3, 3)
        ROWS_CASE(4, 2)
        ROWS_CASE(5, 2)
        ROWS_CASE(6, 2)
        ROWS_CASE(7, 2)
        ROWS_CASE(8, 2)
        ROWS_CASE(9, 2)
        ROWS_CASE(10, 2)
        ROWS_CASE(11, 2)
        ROWS_CASE(12, 2)
    }
}
#endif

bool small_gemm_t(float *out, int ldo, const float *inp, int ldi, const float *weight_t, int ldw,
                  const float *bias, int N, int C, int OC, bool accumulate)
{
#if defined(__x86_64__)
    if (N < 1 || N > SMALL_GEMM_MAX_ROWS || !cpu_has_avx512())
        return false;
    small_gemm_avx512(out, ldo, inp, ldi, weight_t, ldw, bias, N, C, OC, accumulate);
    return true;
#else
    (void)out, (void)ldo, (void)inp, (void)ldi, (void)weight_t, (void)ldw, (void)bias, (void)N;
    (void)C, (void)OC, (void)accumulate;
    return false;
#endif
}
