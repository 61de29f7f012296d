/* small_gemm: matmul_t_forward's products of a few rows (one stream's segment
 * step) in registers, on AVX-512; private to crt/. */
#ifndef CRTD_CRT_SMALL_GEMM_H
#define CRTD_CRT_SMALL_GEMM_H

#include <stdbool.h>

/* The most rows it takes: 9 tokens (a segment of 8 frames and its memory
 * token) and some room. */
#define SMALL_GEMM_MAX_ROWS 12

/* matmul_t_forward's contract (kernels.h):
 *   out[n*ldo + o] (= or +=) sum_c inp[n*ldi + c] weight_t[c*ldw + o] + bias[o]
 * for N <= SMALL_GEMM_MAX_ROWS on a CPU with AVX-512 or AVX2 + FMA (the
 * widest it has); returns false, having done nothing, otherwise. */
bool small_gemm_t(float *out, int ldo, const float *inp, int ldi, const float *weight_t, int ldw,
                  const float *bias, int N, int C, int OC, bool accumulate);

/* The instruction sets it has a form for. */
enum small_gemm_isa { SMALL_GEMM_AVX512, SMALL_GEMM_AVX2 };

/* small_gemm_t on the form for isa only (tests: each form on one CPU);
 * false when the CPU lacks it. */
bool small_gemm_isa(enum small_gemm_isa isa, float *out, int ldo, const float *inp, int ldi,
                    const float *weight_t, int ldw, const float *bias, int N, int C, int OC,
                    bool accumulate);

#endif
