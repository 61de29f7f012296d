/* kernels: the float32 layer kernels of the segment models (CRT and the other
 * memory mechanisms), private to model/. They follow llm.c: outputs first, then
 * inputs, then sizes; row-major; weights stored [out, in] as PyTorch does.
 * Matrix products go to OpenBLAS, but for those of a few rows (one stream's
 * segment step), which run in register tiles of small_gemm.c. None allocates; none keeps state. The
 * forward kernels that training will need to reverse keep llm.c's slots for
 * saved statistics (mean, rstd, att), which may be NULL at inference. */
#ifndef CRTD_MODEL_KERNELS_H
#define CRTD_MODEL_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

/* out[N,OC] = inp[N,C] . weight[OC,C]^T + bias[OC] (bias may be NULL). One
 * row goes through sgemv, more through sgemm. */
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                    int C, int OC);

/* out[N,OC] += inp[N,C] . weight[OC,C]^T + bias[OC] (bias may be NULL): a
 * projection straight into a residual stream. */
void matmul_accumulate(float *out, const float *inp, const float *weight, const float *bias, int N,
                       int C, int OC);

/* The inference form of a linear layer, with the weight stored transposed
 * (weight_t[C,OC], as crt_model keeps a packed copy) so that OpenBLAS runs
 * its NN kernels, and with row strides so that a layer can read or write
 * every T-th row or a column block (ldi, ldo, ldw in floats):
 *   out[n*ldo + o] (= or +=) sum_c inp[n*ldi + c] weight_t[c*ldw + o] + bias[o]
 * bias may be NULL; accumulate adds to out (a residual stream). */
void matmul_t_forward(float *out, int ldo, const float *inp, int ldi, const float *weight_t,
                      int ldw, const float *bias, int N, int C, int OC, bool accumulate);

/* out[cols,rows] = inp[rows,cols]^T */
void kernel_transpose(float *out, const float *inp, int rows, int cols);

/* out[N,C] = (inp - mean) * rstd * weight + bias over each row of C, with the
 * biased variance as PyTorch's LayerNorm. mean and rstd ([N]) may be NULL. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int N, int C, float eps);

/* GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). In place
 * is fine. */
void gelu_forward(float *out, const float *inp, size_t N);

/* out[N] = a[N] + b[N]; out may be a or b. */
void residual_forward(float *out, const float *a, const float *b, size_t N);

/* Bidirectional multi-head self-attention over T tokens of B sequences.
 * qkv[B,T,3C] holds q, k, v (each C = NH heads of C/NH) as nn.MultiheadAttention's
 * packed in_proj produces them; only the first NQ tokens of each sequence
 * query (NQ = T for a whole layer, fewer when only those outputs are needed).
 * out[B,NQ,C] receives the heads side by side, before the output projection.
 * att[B,NH,NQ,T] keeps the softmax weights (may be NULL: then a T-float
 * scratch inside the kernel's stack frame is used; T <= 1024). */
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH,
                       int NQ);

/* probs[N,V] = softmax(logits[N,V]) per row, max-subtracted. */
void softmax_forward(float *probs, const float *logits, int N, int V);

/* Fast, accurate scalar helpers (relative error ~1e-7). */
float kernel_tanhf(float x);
float kernel_sigmoidf(float x);

/* In place over n floats: x = sigmoid(x), x = tanh(x). */
void sigmoid_forward(float *x, size_t n);
void tanh_forward(float *x, size_t n);

#endif
