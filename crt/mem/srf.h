/* crt_srf: what SRformer's forward (crt_memory_srf.c) shares with its
 * backward (crt_train_srf.c), private to model/.
 *
 * State, per layer: P [H, dk, dk] (the running sum of past segments' K^T V
 * per head), the membranes V [H, dk, dk], and the running sum of squared keys
 * [d]; layer l starts at l * crt_srf_layer_floats. */
#ifndef CRTD_MODEL_CRT_SRF_H
#define CRTD_MODEL_CRT_SRF_H

#include "crt_internal.h"

#define SRF_NORM_EPS 1e-5f

struct srf_weights {
    float *cls;                                            /* srf.cls [d] */
    float *w[CRT_MAX_LAYERS];                              /* srf.<l>.w [dk, dk] */
    float *theta[CRT_MAX_LAYERS], *lambda[CRT_MAX_LAYERS]; /* [1] each */
};

size_t crt_srf_layer_floats(const struct crt_config *cfg);

/* Where a training forward's save (per sequence) holds block l's values:
 * attention weights [H, nq, T], membranes before the reset and the neurons'
 * outputs ([H, dk, dk] each), the layer's new state. */
size_t crt_srf_save_offset(const struct crt_config *cfg, int l);

/* One sequence, layer l: adds the recurrent term to y ([nq, d], the
 * in-segment attention's output) and writes the layer's new state to
 * state_out; vprime and out ([H, dk, dk] each) receive the membrane before
 * its reset and the neuron's output. */
void crt_srf_layer_forward(const struct crt_config *cfg, const struct srf_weights *w, int l,
                           float *y, float *state_out, float *vprime, float *out, const float *qkv,
                           const float *state_in, int T, int nq);

#endif
