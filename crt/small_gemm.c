/* small_gemm: the products of one stream's segment step (a few rows: 9 tokens,
 * 8 frames, 1 memory row; d = 128) on AVX-512, or AVX2 + FMA, without
 * OpenBLAS. At these
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
            __m512 a =
                bias ? _mm512_maskz_loadu_ps(mask[v], bias + o + 16 * v) : _mm512_setzero_ps();
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

__attribute__((target("avx512f"))) static void
small_gemm_avx512(float *out, int ldo, const float *inp, int ldi, const float *w, int ldw,
                  const float *bias, int N, int C, int OC, bool accumulate)
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

#define AVX2 __attribute__((target("avx2,fma"), always_inline)) static inline

/* The AVX2 + FMA form of tile: vectors of 8 columns, 16 registers, the last
 * vector masked by lane. */
AVX2 void tile8(float *out, int ldo, const float *inp, int ldi, const float *w, int ldw,
                const float *bias, int C, int o, __m256i last_mask, bool accumulate, const int R,
                const int V)
{
    __m256 acc[SMALL_GEMM_MAX_ROWS][8];
    __m256i mask[8];

#pragma GCC unroll 8
    for (int v = 0; v < V; v++)
        mask[v] = v == V - 1 ? last_mask : _mm256_set1_epi32(-1);
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
#pragma GCC unroll 8
        for (int v = 0; v < V; v++) {
            __m256 a = bias ? _mm256_maskload_ps(bias + o + 8 * v, mask[v]) : _mm256_setzero_ps();
            if (accumulate)
                a = _mm256_add_ps(_mm256_maskload_ps(out + (size_t)r * ldo + o + 8 * v, mask[v]),
                                  a);
            acc[r][v] = a;
        }
    }
    for (int c = 0; c < C; c++) {
        const float *wrow = w + (size_t)c * ldw + o;
#pragma GCC unroll 8
        for (int v = 0; v < V; v += 2)
            _mm_prefetch((const char *)(wrow + (size_t)SMALL_GEMM_AHEAD * ldw + 8 * v),
                         _MM_HINT_T0);
        __m256 wv[8];
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            wv[v] = _mm256_maskload_ps(wrow + 8 * v, mask[v]);
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            __m256 x = _mm256_broadcast_ss(inp + (size_t)r * ldi + c);
#pragma GCC unroll 8
            for (int v = 0; v < V; v++)
                acc[r][v] = _mm256_fmadd_ps(x, wv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            _mm256_maskstore_ps(out + (size_t)r * ldo + o + 8 * v, mask[v], acc[r][v]);
}

AVX2 void rows_of8(float *out, int ldo, const float *inp, int ldi, const float *w, int ldw,
                   const float *bias, int C, int OC, bool accumulate, const int R, const int V)
{
    int o = 0;
    for (; o + 8 * V <= OC; o += 8 * V)
        tile8(out, ldo, inp, ldi, w, ldw, bias, C, o, _mm256_set1_epi32(-1), accumulate, R, V);
    for (; o < OC; o += 8) {
        int left = OC - o;
        __m256i m =
            _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        tile8(out, ldo, inp, ldi, w, ldw, bias, C, o, m, accumulate, R, 1);
    }
}

/* 16 registers: R x V accumulators, the V weights (or none, when the FMA
 * reads them from memory) and the broadcast row value. */
#define ROWS_CASE8(R, V)                                                                           \
    case R:                                                                                        \
        rows_of8(out, ldo, inp, ldi, w, ldw, bias, C, OC, accumulate, R, V);                       \
        break;

__attribute__((target("avx2,fma"))) static void
small_gemm_avx2(float *out, int ldo, const float *inp, int ldi, const float *w, int ldw,
                const float *bias, int N, int C, int OC, bool accumulate)
{
    switch (N) {
        ROWS_CASE8(1, 8)
        ROWS_CASE8(2, 4)
        ROWS_CASE8(3, 3)
        ROWS_CASE8(4, 2)
        ROWS_CASE8(5, 2)
        ROWS_CASE8(6, 2)
        ROWS_CASE8(7, 1)
        ROWS_CASE8(8, 1)
        ROWS_CASE8(9, 1)
        ROWS_CASE8(10, 1)
        ROWS_CASE8(11, 1)
        ROWS_CASE8(12, 1)
    }
}
#endif

bool small_gemm_isa(enum small_gemm_isa isa, float *out, int ldo, const float *inp, int ldi,
                    const float *weight_t, int ldw, const float *bias, int N, int C, int OC,
                    bool accumulate)
{
    if (N < 1 || N > SMALL_GEMM_MAX_ROWS)
        return false;
#if defined(__x86_64__)
    if (isa == SMALL_GEMM_AVX512 && cpu_has_avx512()) {
        small_gemm_avx512(out, ldo, inp, ldi, weight_t, ldw, bias, N, C, OC, accumulate);
        return true;
    }
    if (isa == SMALL_GEMM_AVX2 && cpu_has_avx2_fma()) {
        small_gemm_avx2(out, ldo, inp, ldi, weight_t, ldw, bias, N, C, OC, accumulate);
        return true;
    }
#else
    (void)isa, (void)out, (void)ldo, (void)inp, (void)ldi, (void)weight_t, (void)ldw, (void)bias;
    (void)C, (void)OC, (void)accumulate;
#endif
    return false;
}

bool small_gemm_t(float *out, int ldo, const float *inp, int ldi, const float *weight_t, int ldw,
                  const float *bias, int N, int C, int OC, bool accumulate)
{
    return small_gemm_isa(SMALL_GEMM_AVX512, out, ldo, inp, ldi, weight_t, ldw, bias, N, C, OC,
                          accumulate) ||
           small_gemm_isa(SMALL_GEMM_AVX2, out, ldo, inp, ldi, weight_t, ldw, bias, N, C, OC,
                          accumulate);
}
