/* crt_internal: what the segment model's files (crt.c, crt_memory_*.c,
 * crt_state.c, and later the trainer) share, private to model/.
 *
 * The parameter buffer follows llm.c: one float32 allocation, its tensors at
 * fixed offsets that one function (crt_layout_build) lays out and points at,
 * so that gradients and optimiser moments can reuse the same layout. The
 * memory mechanisms (CRT's GRU and NC-GRU now; RMT, Block-Recurrent,
 * SRformer and the baselines later) plug in through struct crt_memory_ops:
 * the input embedding, the encoder blocks and the classifier are shared. */
#ifndef CRTD_MODEL_CRT_INTERNAL_H
#define CRTD_MODEL_CRT_INTERNAL_H

#include "kernels.h"
#include "crt.h"

#define CRT_MAX_LAYERS   32
#define CRT_MAX_PARAMS   512
#define CRT_PARAM_NAME   64
#define CRT_MAX_DIMS     4
#define CRT_MAX_CLASSES  1024
#define CRT_MAX_D        4096
#define CRT_MAX_SEGMENT  1024
#define CRT_MAX_FEATURES 4096

/* How a tensor is initialised and trained, declared where it is laid out
 * (never guessed from its name or rank). */
enum crt_param_flags {
    CRT_PARAM_PLAIN = 0,       /* biases, positions, initial states: U(+-0.1), no decay */
    CRT_PARAM_FAN_IN = 1 << 0, /* initialised U(+-1/sqrt(inputs)) */
    CRT_PARAM_DECAY = 1 << 1,  /* AdamW's decoupled weight decay applies */
    CRT_PARAM_NORM = 1 << 2,   /* a norm's gain: 1 + U(+-0.1), no decay */
    /* A weight matrix: what most 2-D tensors are. */
    CRT_PARAM_MATRIX = CRT_PARAM_FAN_IN | CRT_PARAM_DECAY,
};

/* One tensor of the parameter buffer; its name is its safetensors name. */
struct crt_param {
    char name[CRT_PARAM_NAME];
    unsigned flags; /* enum crt_param_flags */
    int ndim;
    int64_t shape[CRT_MAX_DIMS];
    size_t numel;
    size_t offset; /* floats from the start of the buffer */
};

struct crt_layout {
    int n;
    struct crt_param params[CRT_MAX_PARAMS];
    size_t total; /* floats */
    float *base;  /* the buffer being pointed at, or NULL while sizing */
};

/* Appends a tensor of shape (d0[, d1]) (ndim 1 or 2) with its policy (enum
 * crt_param_flags) and returns where it sits in lay->base (NULL while
 * sizing). Tensors start 16-float aligned. */
float *crt_layout_add(struct crt_layout *lay, unsigned flags, int ndim, int64_t d0, int64_t d1,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The shared parts: input embedding, encoder blocks, final encoder norm,
 * classifier. Tensor names are in docs/MODEL.md, "Tensors". */
struct crt_block_weights {
    float *ln1_w, *ln1_b;   /* [d] */
    float *qkv_w, *qkv_b;   /* [3d, d], [3d]: q, k, v rows, as in_proj_weight */
    float *proj_w, *proj_b; /* [d, d], [d] */
    float *ln2_w, *ln2_b;   /* [d] */
    float *fc1_w, *fc1_b;   /* [ff, d], [ff] */
    float *fc2_w, *fc2_b;   /* [d, ff], [d] */
};

struct crt_weights {
    float *in_w, *in_b; /* embed.weight [d, F], embed.bias [d] */
    float *pos;         /* embed.pos [L, d] */
    struct crt_block_weights blk[CRT_MAX_LAYERS];
    float *lnf_w, *lnf_b;         /* enc.ln_f: norm of the encoder's outputs */
    float *head_ln_w, *head_ln_b; /* head.ln */
    float *head_w, *head_b;       /* head.weight [C, d], head.bias [C] */
};

struct crt_model;

/* A memory mechanism. One file each (crt_memory_gru.c ...), one entry in the
 * table in crt.c. A segment step is:
 *   x[b, 0..n_tokens)      = embed(mem_in[b])           (the mechanism)
 *   x[b, n_tokens + t]     = W_in f_t + b_in + P[t]     (shared)
 *   h                      = ln_f(Encoder(x))[b, 0..n_tokens)  (shared; the
 *                            last block computes only these outputs)
 *   mem_out, readout       = update(h, mem_in)          (the mechanism)
 *   logits                 = head(LayerNorm(readout))   (shared) */
struct crt_memory_ops {
    const char *variants; /* for messages: "gru, ncgru" */
    /* Accepts cfg->variant and the sizes as this mechanism needs them. */
    int (*check_config)(const struct crt_config *cfg, struct errbuf *err);
    size_t (*state_floats)(const struct crt_config *cfg); /* persistent memory S */
    int (*n_tokens)(const struct crt_config *cfg);        /* memory tokens in front */
    size_t weights_size;                                  /* bytes of its pointer struct */
    /* Adds its tensors to lay (after the shared ones) and points weights. */
    void (*layout)(const struct crt_config *cfg, struct crt_layout *lay, void *weights);
    /* Optional: scratch floats per batch row its hooks need (NULL: none). */
    size_t (*scratch_floats)(const struct crt_config *cfg);
    /* Optional: the memory a stream starts from (NULL: zeros). */
    void (*initial_memory)(const struct crt_model *model, float *mem);
    /* Optional (NULL without memory tokens): x is [B, T, d]: fills rows
     * 0..n_tokens of each sequence. Like update and attention it serves
     * training too, and reads the packed copy as they do. */
    void (*embed)(const struct crt_model *model, float *scratch, float *x, const float *mem_in,
                  int B, int T);
    /* h is [B, n_tokens, d]; mem_out may be mem_in; readout is [B, d].
     * save ([B][save_floats]) is NULL at inference; in training it receives
     * what the mechanism's backward pass reads (train/mem/<file>.c). */
    void (*update)(const struct crt_model *model, float *scratch, float *save, float *mem_out,
                   float *readout, const float *h, const float *mem_in, int B);
    /* Optional: floats of save per sequence (NULL: none). */
    size_t (*save_floats)(const struct crt_config *cfg);
    double (*flops)(const struct crt_config *cfg); /* its own, per segment */
    /* Optional: what crt_model_init_random gives its tensors instead of the
     * default (matrices uniform in +-1/sqrt(in), biases small, norms 1). */
    void (*init_random)(struct crt_model *model, uint64_t seed);
    /* Optional: runs after the classifier; may replace the segment's logits
     * [B, C] (e.g. by a running mean) and keep what it needs in mem_out
     * (written by update; may alias mem_in). NULL: the logits are the
     * segment's own. */
    void (*output)(const struct crt_model *model, float *mem_out, float *logits, int B);
    /* Optional: replaces block l's self-attention (attention_forward of
     * qkv [B,T,3d], queries from the first nq tokens, out [B,nq,d]) — e.g.
     * to attend to cached keys and values in mem_in too — and may write its
     * part of mem_out (which may alias mem_in) for the next segment. save
     * is update's (NULL at inference): its backward's values go there too. */
    void (*attention)(const struct crt_model *model, int layer, float *scratch, float *save,
                      float *out, const float *qkv, const float *mem_in, float *mem_out, int B,
                      int T, int nq);
    /* Optional: whether a restored memory (S floats, all finite) is one this
     * mechanism could have written, e.g. that a count it keeps is a count. */
    int (*check_memory)(const struct crt_model *model, const float *mem, struct errbuf *err);
};

/* Each line of mem/registry.def names its crt_memory_<ops>_ops. */
#define CRT_MECHANISM(file, ops, ...) extern const struct crt_memory_ops crt_memory_##ops##_ops;
#include "mem/registry.def"
#undef CRT_MECHANISM

/* RMT's memory tokens M from its variant "m<M>", or -1. */
int crt_rmt_tokens(const struct crt_config *cfg);

struct crt_model {
    struct crt_config cfg;
    const struct crt_memory_ops *ops;
    struct crt_layout layout;
    float *params; /* layout.total floats, one allocation */
    /* The inference copy, same offsets: every 2-D tensor transposed to
     * [in, out] for matmul_t_forward, the rest as is. crt_model_params_changed
     * refreshes it. */
    float *packed;
    struct crt_weights w;
    void *mem_w; /* ops->weights_size bytes: the mechanism's pointers */
    char **classes;
    int n_meta;
    char **meta_keys, **meta_values;
    uint64_t fingerprint;
    float temperature, threshold; /* calibration.c: from the metadata */
    int other_class;              /* "Other", or -1 */
    size_t state_floats;
    int n_tokens;
};

/* calibration.c: the defaults and the Other class of a new model, and a
 * calibration key's value (0 for other keys, -EINVAL when out of range). */
void crt_calibration_init(struct crt_model *m);
int crt_calibration_set(struct crt_model *m, const char *key, const char *value);

/* Where a parameter's transposed inference copy is. */
static inline const float *crt_packed(const struct crt_model *m, const float *param)
{
    return m->packed + (param - m->params);
}

/* The buffers of a segment step, allocated once for the largest batch
 * (crt_workspace_new); each is reused by every block. */
struct crt_workspace {
    const struct crt_model *model;
    int max_batch;
    size_t bytes;
    float *x;       /* [B, T, d] residual stream */
    float *ln;      /* [B, T, d] normed input of a sublayer; embedding scratch */
    float *qkv;     /* [B, T, 3d] */
    float *atty;    /* [B, T, d] attention output before projection */
    float *att;     /* [B, H, T, T] attention weights */
    float *fch;     /* [B, T, ff] */
    float *xk;      /* [B, nt, d] residual of the kept tokens in the last block */
    float *h;       /* [B, nt, d] their ln_f output */
    float *readout; /* [B, d] */
    float *hln;     /* [B, d] */
    float *scratch; /* [B, ops->scratch_floats] */
    float *logits;  /* [B, C] */
    float *feats;   /* [B, L, F] batched clips: the gathered segment */
    float *mem;     /* [B, S] batched clips: memories */
};

/* What a training forward keeps of one segment for its backward pass
 * (train/trainer.c). Block l has nq query rows: T, but n_tokens in the last
 * block, which computes only the memory tokens' outputs. */
struct crt_encoder_cache {
    float *xin[CRT_MAX_LAYERS];                                 /* [B, T, d] input of each block */
    float *ln1[CRT_MAX_LAYERS];                                 /* [B, T, d] */
    float *ln1_mean[CRT_MAX_LAYERS], *ln1_rstd[CRT_MAX_LAYERS]; /* [B, T] */
    /* [B, T, 3d]; in the last block the queries of the first nq rows only
     * (the others stay as the buffer was: backward reads no other query) */
    float *qkv[CRT_MAX_LAYERS];
    float *att[CRT_MAX_LAYERS];  /* [B, H, nq, T] softmax weights (no ops->attention) */
    float *atty[CRT_MAX_LAYERS]; /* [B, nq, d] */
    float *xmid[CRT_MAX_LAYERS]; /* [B, nq, d] residual after attention */
    float *ln2[CRT_MAX_LAYERS];  /* [B, nq, d] */
    float *ln2_mean[CRT_MAX_LAYERS], *ln2_rstd[CRT_MAX_LAYERS]; /* [B, nq] */
    float *fc1[CRT_MAX_LAYERS], *gel[CRT_MAX_LAYERS];           /* [B, nq, ff] */
    float *xk;                                  /* [B, nt, d] the last block's output */
    float *h, *lnf_mean, *lnf_rstd;             /* [B, nt, d], [B, nt] */
    float *msave;                               /* [B, ops->save_floats] the mechanism's */
    float *readout, *hln, *hln_mean, *hln_rstd; /* [B, d], [B] */
};

/* The forward pass of a segment of B sequences, for inference and training
 * alike: embedding, the blocks, ln_f, the mechanism's update and the
 * classifier, writing logits [B, C] (and the mechanism's mem_out). It reads
 * the packed copy of the weights, so a trainer calls
 * crt_model_params_changed after changing them. cache NULL: inference, every
 * activation in ws's reused buffers; else what backward needs lands in it. */
void crt_encoder_forward(const struct crt_model *m, struct crt_workspace *ws,
                         const struct crt_encoder_cache *cache, int B, const float *feats,
                         const float *mem_in, float *mem_out, float *logits);

/* Lays out (and, with base, points) the whole model's parameters. */
void crt_layout_build(struct crt_model *model, float *base);

/* Seeded uniform numbers for random weights (splitmix64). */
struct crt_random {
    uint64_t state;
};
float crt_random_uniform(struct crt_random *r, float lo, float hi);

#endif
