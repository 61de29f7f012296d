/* crt_brt: what the Block-Recurrent Transformer's forward
 * (crt_memory_brt.c) shares with its backward (crt_train_brt.c), private to
 * model/. The per-sequence work buffer of the state side keeps every
 * intermediate, so that the trainer can save it as it is. */
#ifndef CRTD_MODEL_CRT_BRT_H
#define CRTD_MODEL_CRT_BRT_H

#include "crt_internal.h"

struct brt_weights {
    int S;                      /* state vectors */
    bool lstm;                  /* gates: "lstm" or "fixed" */
    float *init, *pos;          /* brt.init, brt.pos [S, d] */
    float *ln_w, *ln_b;         /* brt.ln [d] */
    float *qkv_w, *qkv_b;       /* brt.qkv [3d, d], [3d] */
    float *proj_w, *proj_b;     /* brt.proj [d, d], [d] */
    float *gate1_w, *gate1_b;   /* fixed: bias [d]; lstm: [2d, d], [2d] (f rows, i rows) */
    float *ffn_ln_w, *ffn_ln_b; /* brt.ffn.ln [d] */
    float *fc1_w, *fc1_b;       /* brt.ffn.fc1 [ff, d], [ff] */
    float *fc2_w, *fc2_b;       /* brt.ffn.fc2 [d, ff], [d] */
    float *gate2_w, *gate2_b;   /* as gate1 */
};

/* Where each intermediate sits in a work buffer of one sequence. */
struct brt_buf {
    size_t a, mean, rstd, qkv, att, y, z, g1, c1, fln, fmean, frstd, fc1, gel, mm, g2, out, total;
};

/* S from the variant "fixed" / "lstm" (16) or "fixed-s<S>" / "lstm-s<S>",
 * -1 if it is neither. */
int crt_brt_state_vectors(const struct crt_config *cfg, bool *ret_lstm);

void crt_brt_buf_layout(const struct crt_config *cfg, int S, int T, struct brt_buf *bl);

/* Where a training forward's save (per sequence) holds block l's attention
 * weights [H, L, L] for l < N-1, and for l = N-1 the state side's work
 * buffer (struct brt_buf). */
size_t crt_brt_save_offset(const struct crt_config *cfg, int l);

/* The state side for one sequence: c [S, d] (the old state) and the
 * recurrent block's token keys and values in qkv ([T, 3d]) give the new state
 * in buf + bl->out. */
void crt_brt_state_forward(const struct crt_config *cfg, const struct brt_weights *w, float *buf,
                           const struct brt_buf *bl, const float *c, const float *qkv, int T);

#endif
