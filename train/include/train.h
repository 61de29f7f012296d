/* train: training the segment model in C — backward passes (backward.c and
 * each mechanism's file in train/mem/), AdamW, schedules, checkpoints
 * (trainer.c), and the training loop over a data set (loop.c).
 * docs/TRAINING.md. */
#ifndef CRTD_TRAIN_H
#define CRTD_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base.h"
#include "crt.h"
#include "safetensors.h"

/* ---- training (crt_train.c, crt_train_*.c) -------------------------------- */

struct crt_train_options {
    int max_batch;  /* sequences per forward/backward call */
    int max_window; /* segments per call: the truncated-BPTT window */
    int threads;    /* workers; the batch is split between them */
    float beta1, beta2, adam_eps;
    float weight_decay; /* decoupled (AdamW), on matrices only */
    float clip_norm;    /* global gradient norm cap; 0 = none */
    uint64_t seed;      /* for the parts of training the model does not hold */
};

void crt_train_options_default(struct crt_train_options *opts);

/* Training state of one model: gradients and AdamW moments in the model's
 * parameter layout (one allocation each), activations for the largest
 * batch and window, allocated once. The trainer changes the model's weights:
 * the model must not be shared with running streams meanwhile. */
struct crt_trainer;

int crt_trainer_new(struct crt_model *model, const struct crt_train_options *opts,
                    struct crt_trainer **ret_trainer, struct errbuf *err);
struct crt_trainer *crt_trainer_free(struct crt_trainer *trainer);

/* Seeded initial weights for training from scratch (for NC-GRU, an
 * orthogonal U_c through its Cayley parameters). */
void crt_trainer_init_weights(struct crt_trainer *trainer, uint64_t seed);

void crt_trainer_zero_grad(struct crt_trainer *trainer);

/* Forward and backward over a window of W segments of B sequences.
 * feats[b] points at the window's first frame, [W][L][F]. targets[b*W + w]
 * is segment w's class (-1: no loss), weights[b*W + w] its loss weight.
 * mem[b] ([B][S]) is the memory before the window and receives the memory
 * after it (gradients stop there: truncated BPTT). from_start[b] says mem[b]
 * is the learned initial memory, whose gradient is then kept. Gradients
 * ACCUMULATE; returns the summed weighted loss. probs (may be NULL) receives
 * [B][W][n_classes]. The forward pass is inference's and reads the model's
 * packed copy: whoever writes the model's tensors other than through
 * crt_trainer_step calls crt_model_params_changed first. */
double crt_trainer_forward_backward(struct crt_trainer *trainer, int B, int W,
                                    const float *const *feats, const int *targets,
                                    const float *weights, const bool *from_start, float *mem,
                                    float *probs);

/* Global L2 norm of the gradients. */
double crt_trainer_grad_norm(const struct crt_trainer *trainer);

/* Scales the gradients (e.g. 1 / batch), clips them, and takes one AdamW
 * step at learning rate lr; the model's weights change. */
void crt_trainer_step(struct crt_trainer *trainer, float grad_scale, float lr);

/* The gradient of a parameter tensor by name (numel floats), or NULL. */
const float *crt_trainer_grad(const struct crt_trainer *trainer, const char *name);
uint64_t crt_trainer_steps(const struct crt_trainer *trainer);

/* Everything training needs to resume exactly: weights, moments, step,
 * extra parameters (NC-GRU's skew matrix), and the caller's own metadata. */
int crt_trainer_save(const struct crt_trainer *trainer, const char *path,
                     const char *const *meta_keys, const char *const *meta_values, int n_meta,
                     struct errbuf *err);
int crt_trainer_load(struct crt_trainer *trainer, const char *path, struct safetensors **ret_st,
                     struct errbuf *err);

#endif
