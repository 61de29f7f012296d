/* train_kernels: the backward passes of the layer kernels (kernels.h), for
 * training, private to model/. llm.c's conventions: gradients are named d +
 * the forward name and are ACCUMULATED (+=), so a tensor used twice sums its
 * gradients; outputs first, then inputs, then sizes. */
#ifndef CRTD_MODEL_TRAIN_KERNELS_H
#define CRTD_MODEL_TRAIN_KERNELS_H

#include <stddef.h>

/* Reverses matmul_forward (out = inp . weight^T + bias): any of dinp,
 * dweight, dbias may be NULL when that gradient is not needed. */
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int N, int C, int OC);

/* Reverses layernorm_forward given the mean and rstd it saved. */
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean, const float *rstd,
                        int N, int C);

/* Reverses gelu_forward (tanh form); inp is the forward's input. */
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N);

/* Reverses attention_forward: att[B,NH,NQ,T] are its saved softmax weights,
 * dout[B,NQ,C] the gradient of its output; dqkv[B,T,3C] receives q's
 * gradient for the NQ querying tokens and k's and v's for all T. */
void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int B,
                        int T, int C, int NH, int NQ);

/* Softmax cross-entropy: returns sum_n weight[n] * -log(probs[n, target[n]])
 * and ACCUMULATES dlogits[n] += weight[n] * (probs[n] - onehot(target[n])).
 * Rows with target < 0 are skipped. dlogits may be NULL (loss only). */
double crossentropy_softmax_backward(float *dlogits, const float *probs, const int *targets,
                                     const float *weights, int N, int V);

#endif
