/* crt_train_internal: what the trainer (train/trainer.c) and each memory
 * mechanism's backward pass (train/mem/<file>.c) share, private to train/.
 *
 * The forward pass is inference's (crt_encoder_forward, with each
 * mechanism's ops->update and ops->attention keeping what their backward
 * needs in save). The shared parts — input embedding, encoder blocks, ln_f,
 * classifier — are differentiated once in trainer.c; a mechanism adds the
 * backward of its memory embedding, update and attention and its
 * training-only hooks. A mechanism's tensors are found by name in the model,
 * and their gradients sit at the same offsets in the gradient buffer
 * (crt_train_grad_of). */
#ifndef CRTD_MODEL_CRT_TRAIN_INTERNAL_H
#define CRTD_MODEL_CRT_TRAIN_INTERNAL_H

#include "crt_internal.h"
#include "backward.h"
#include "data.h" /* the seeded RNG */
#include "train.h"

/* The gradient slot of a parameter pointer of the model, in grads. */
static inline float *crt_train_grad_of(const struct crt_model *m, float *grads, const float *param)
{
    return grads + (param - m->params);
}

/* A trainable tensor that is not stored in the model file but determines
 * some that are (NC-GRU's skew-symmetric A determines U_c). The trainer
 * keeps its gradient and AdamW moments and saves it in checkpoints. */
struct crt_train_extra {
    char name[CRT_PARAM_NAME];
    size_t numel;
    float *value, *grad, *m, *v;
};

#define CRT_TRAIN_MAX_EXTRA 4

struct crt_train_memory_ops {
    /* Resolves the mechanism's tensors; allocates its context. */
    int (*prepare)(struct crt_model *m, void **ret_ctx, struct crt_train_extra *extra,
                   int *ret_n_extra, struct errbuf *err);
    /* Optional: the extras have memory now (after prepare); fill them. */
    void (*extras_ready)(struct crt_model *m, void *ctx);
    void (*release)(void *ctx);
    /* Optional: scratch floats per sequence for the backward passes. */
    size_t (*scratch_floats)(const struct crt_model *m);
    /* Given dmem_out and dreadout ([B,S], [B,d]), accumulates the weight
     * gradients into grads and writes dh ([B,nt,d], overwritten) and
     * dmem_in ([B,S], overwritten). */
    void (*update_backward)(const struct crt_model *m, void *ctx, float *grads, float *scratch,
                            const float *save, const float *dmem_out, const float *dreadout,
                            const float *h, const float *mem_in, float *dh, float *dmem_in, int B);
    /* Reverses ops->embed (NULL with it): dx is [B,T,d] (only the memory
     * rows are read); accumulates weight gradients and ADDS to dmem_in. */
    void (*embed_backward)(const struct crt_model *m, void *ctx, float *grads, const float *dx,
                           const float *mem_in, float *dmem_in, int B, int T);
    /* Optional: adds the gradient of the learned initial memory, given dmem
     * ([S]); NULL when the initial memory is not learned. */
    void (*initial_memory_backward)(const struct crt_model *m, void *ctx, float *grads,
                                    const float *dmem);
    /* Optional: seeded initial values for training from scratch. */
    void (*init_weights)(struct crt_model *m, void *ctx, uint64_t seed);
    /* Optional: before AdamW, turn gradients of stored tensors into the
     * extras' gradients (and zero them); after it, recompute the stored
     * tensors from the extras. */
    void (*before_step)(struct crt_model *m, void *ctx, float *grads);
    void (*after_step)(struct crt_model *m, void *ctx);
    /* Optional, with ops->output: given dlogits ([B,C], the gradient of the
     * reported logits) and dmem_out ([B,S], of the memory after output),
     * rewrites both in place into the gradients of the classifier's own
     * logits and of the memory that update wrote. */
    void (*output_backward)(const struct crt_model *m, void *ctx, const float *mem_in,
                            float *dlogits, float *dmem_out, int B);
    /* Optional, with ops->attention: the backward of block l's attention as
     * ops->attention computed it (its values in save, [B][ops->save_floats],
     * the same area ops->update gets), which ACCUMULATES into dqkv ([B,T,3d])
     * given dout ([B,nq,d]); a mechanism that updates its memory inside the
     * attention also gets the gradients update_backward got (dmem_out,
     * dreadout), ADDS to dmem_in and may use scratch (scratch_floats). */
    void (*attention_backward)(const struct crt_model *m, void *ctx, float *grads, float *scratch,
                               const float *save, int layer, float *dqkv, const float *dout,
                               const float *qkv, const float *mem_in, const float *dmem_out,
                               const float *dreadout, float *dmem_in, int B, int T, int nq);
};

/* Each line of crt/mem/registry.def names its crt_train_<ops>_ops. */
#define CRT_MECHANISM(file, ops, ...)                                                              \
    extern const struct crt_train_memory_ops crt_train_##ops##_ops;
#include "mem/registry.def"
#undef CRT_MECHANISM

/* The training table: the same lines, in the same order as crt_mechanisms. */
struct crt_train_mechanism {
    const char *architecture;
    const struct crt_train_memory_ops *ops;
};
extern const struct crt_train_mechanism crt_train_mechanisms[];

#endif
