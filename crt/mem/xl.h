/* crt_xl: what the cached-attention baselines "xl" and "full"
 * (crt_memory_xl.c) share with their backward pass (crt_train_xl.c),
 * private to model/.
 *
 * State of a stream, floats: [0] how many cached segments hold values (0..M),
 * then per layer the keys [M*L, d] and values [M*L, d] of the frame tokens of
 * the last M segments, oldest first. */
#ifndef CRTD_MODEL_CRT_XL_H
#define CRTD_MODEL_CRT_XL_H

#include "crt_internal.h"

/* Cached segments M of a model ("xl": variant m<M>; "full": w<W>, M = W-1);
 * -1 when the variant is not one. */
int crt_xl_cached_segments(const struct crt_config *cfg);

/* Floats of layer l's keys in a state (its values follow at + M*L*d). */
size_t crt_xl_layer_offset(const struct crt_config *cfg, int l);

/* Where block l's attention weights [B][H, nq, M*L + T] start in a
 * training forward's save (the backward's input), per sequence. */
size_t crt_xl_save_offset(const struct crt_config *cfg, int l);

/* Self-attention of B sequences of T tokens (qkv[B,T,3d] as attention_forward
 * takes it) whose first nq tokens query, over the cached keys and values of
 * the state mem ([B][S]; the first n_valid*L of the M*L cached rows are
 * skipped as not yet filled) and then the T tokens. out[B,nq,d]; att[B][att_stride]
 * receives the weights [H, nq, M*L + T] when not NULL, else row is a scratch
 * of M*L + T floats. */
void crt_xl_attention_forward(float *out, float *att, size_t att_stride, float *row,
                              const float *qkv, const float *mem, size_t S, size_t layer_off, int B,
                              int T, int d, int H, int nq, int cached);

#endif
