/* crt: the segment model — pose features (features.c), the shared encoder
 * and classifier (model.c), per-stream state (state.c) and the memory
 * mechanisms (one file each in mem/, listed once in mem/registry.def). It reads model
 * files through safetensors and knows nothing of the dataset, the pose
 * estimator, video or HTTP: class names come from the model file or the
 * caller. The contract is docs/MODEL.md sections 3-5 and 7. */
#ifndef CRTD_CRT_H
#define CRTD_CRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base.h"
#include "keypoints.h"
#include "safetensors.h"

/* ---- pose features, layout version 1 (features.c) ------------------------ */

#define FEATURES_LAYOUT_V1    1
#define FEATURES_V1_DIM       89   /* 17*2 + 17 + 17*2 + 4 */
#define FEATURES_V1_POS       0    /* 17 x (x, y): keypoint minus centre, over scale */
#define FEATURES_V1_SCORE     34   /* 17 scores */
#define FEATURES_V1_VEL       51   /* 17 x (x, y): change of the position since the last frame */
#define FEATURES_V1_GLOBAL    85   /* centre x, centre y, scale, presence (mean score) */
#define FEATURES_SCORE_MIN    0.2f /* a keypoint counts from this score */
#define FEATURES_SCALE_INIT   0.2f /* scale until the torso is first seen */
#define FEATURES_SCALE_FLOOR  0.05f
#define FEATURES_SCALE_SMOOTH 0.8f /* scale = 0.8 scale + 0.2 torso length */

/* What the features of a stream remember from frame to frame. */
struct features_state {
    float centre_x, centre_y; /* last centre, (0.5, 0.5) before any */
    float smoothed;           /* smoothed torso length */
    float scale;              /* max(smoothed, floor) */
    bool has_scale;
    bool prev_seen[POSE_NUM_KEYPOINTS];
    float prev_pos[2 * POSE_NUM_KEYPOINTS];
};

void features_state_init(struct features_state *st);

/* out[FEATURES_V1_DIM] from one frame's keypoints (x, y in [0,1] of the
 * frame), or kp = NULL when no person was seen. docs/MODEL.md section 3 says
 * exactly what each float is; tests/ref/crt_ref.py mirrors this function. */
void features_v1(float *out, struct features_state *st, const struct pose_keypoint *kp);

/* ---- the segment model: CRT and the other memory mechanisms (crt*.c) ------ */

#define CRT_NAME_MAX 32

/* What a model file's __metadata__ says (docs/MODEL.md section 7). */
struct crt_config {
    char architecture[CRT_NAME_MAX]; /* memory mechanism: "crt" */
    char variant[CRT_NAME_MAX];      /* "gru" or "ncgru" for crt */
    int d_model;                     /* d */
    int n_layers;                    /* N */
    int n_heads;                     /* H */
    int d_ff;                        /* FFN width, 4d by default */
    int n_features;                  /* F, FEATURES_V1_DIM for layout 1 */
    int feature_layout;              /* 1 */
    int segment_len;                 /* L frames */
    double fps;                      /* frames sampled per second */
    int n_classes;
    float layer_norm_eps; /* 1e-5 */
};

/* The defaults of docs/MODEL.md: crt/gru, d 128, N 2, H 4, FFN 512, layout 1,
 * L 8, fps 10. n_classes is 0: the caller sets it with its class list. */
void crt_config_default(struct crt_config *cfg);

/* The memory mechanisms, one per line of crt/mem/registry.def, in its
 * order (the first is the default). A mechanism's forward pass is private
 * to this library; train/ has the matching training table. */
struct crt_memory_ops;

struct crt_variant_name {
    const char *name;    /* what `crt train --variant` takes: "ncgru" */
    const char *variant; /* the metadata "variant" it stands for */
};

struct crt_mechanism {
    const char *architecture;                /* metadata "architecture" */
    const struct crt_variant_name *variants; /* ends with a NULL name */
    const struct crt_memory_ops *forward;
};

extern const struct crt_mechanism crt_mechanisms[];
extern const int crt_n_mechanisms;

/* The mechanism of a metadata "architecture", or NULL. */
const struct crt_mechanism *crt_mechanism_find(const char *architecture);

/* The names of the memory mechanisms as `crt train --variant` takes them
 * ("gru", "ncgru", "none", "none-last", ...): sets cfg's architecture and
 * variant, or returns -EINVAL. crt_variant_name lists them by index (NULL
 * past the end); crt_variant_names is that list as one string. */
int crt_variant_parse(const char *name, struct crt_config *cfg);
const char *crt_variant_name(int index);
const char *crt_variant_names(void);

/* A loaded model: weights in one float32 buffer (the layout training uses
 * too), read-only once made, shared by every stream and thread. */
struct crt_model;

/* Reads a model file: the metadata must describe a known architecture and
 * variant with sane sizes, and every tensor that architecture needs must be
 * there with its shape (no more, no fewer) and finite values. -EBADMSG
 * names the field or tensor that is wrong. */
int crt_model_load(const char *path, struct crt_model **ret_model, struct errbuf *err);
int crt_model_from_safetensors(const struct safetensors *st, struct crt_model **ret_model,
                               struct errbuf *err);
/* A model with zero weights for cfg and the given cfg->n_classes class names
 * (NULL: "class0", "class1", ...). */
int crt_model_new(const struct crt_config *cfg, const char *const *classes,
                  struct crt_model **ret_model, struct errbuf *err);
struct crt_model *crt_model_free(struct crt_model *model);

/* Fills the weights with seeded random values of the usual initial scales
 * (benchmarks, tests). Only before the model is shared. */
void crt_model_init_random(struct crt_model *model, uint64_t seed);
/* Sets a metadata string saved with the model (e.g. "provenance.data");
 * -EINVAL for a calibration value out of range (crt_model_temperature). */
int crt_model_set_metadata(struct crt_model *model, const char *key, const char *value);
/* Saves the model card and weights (dtype F32, F16 or BF16) atomically. */
int crt_model_save(const struct crt_model *model, const char *path, enum safetensors_dtype dtype,
                   struct errbuf *err);

const struct crt_config *crt_model_config(const struct crt_model *model);
const char *crt_model_class(const struct crt_model *model, int index);
/* A metadata string of the model file, or NULL. */
const char *crt_model_metadata(const struct crt_model *model, const char *key);
int crt_model_metadata_count(const struct crt_model *model);
int crt_model_metadata_at(const struct crt_model *model, int index, const char **ret_key,
                          const char **ret_value);
/* ---- calibration (calibration.c) ----------------------------------------- *
 * A model file may say how sure it is: "calibration.temperature" (default 1)
 * divides the logits before every softmax of this library, and
 * "calibration.threshold" (default 0) is the top probability below which a
 * decision is "unknown". A class named "Other" is motion outside the
 * repertoire: when it is the top class the decision is "unknown" too. */
#define CRT_META_TEMPERATURE "calibration.temperature"
#define CRT_META_THRESHOLD   "calibration.threshold"
#define CRT_OTHER_CLASS      "Other"
#define CRT_TEMPERATURE_MIN  0.05
#define CRT_TEMPERATURE_MAX  20.0
#define CRT_LABEL_UNKNOWN    (-2) /* a decision that is none of the known classes */

float crt_model_temperature(const struct crt_model *model);
float crt_model_threshold(const struct crt_model *model);
/* The index of the class "Other", or -1. */
int crt_model_other_class(const struct crt_model *model);
/* probs[n_classes] = softmax(logits / temperature). */
void crt_model_probs(const struct crt_model *model, float *probs, const float *logits);
/* The top class of probs, or CRT_LABEL_UNKNOWN when it is other_class (-1:
 * none) or its probability is below threshold. */
int crt_decide(const float *probs, int n_classes, int other_class, float threshold);
/* The same with the model's own Other class and threshold. */
int crt_model_decide(const struct crt_model *model, const float *probs);
/* A decision's name: the class, or "unknown" for CRT_LABEL_UNKNOWN. */
#define CRT_UNKNOWN_NAME "unknown"
const char *crt_model_label(const struct crt_model *model, int label);

/* 64-bit hash of the configuration, classes and weights: states carry it. */
uint64_t crt_model_fingerprint(const struct crt_model *model);

/* The parameter tensors in buffer order: name, shape, float count. */
int crt_model_param_count(const struct crt_model *model);
int crt_model_param_info(const struct crt_model *model, int index, const char **ret_name,
                         int *ret_ndim, const int64_t **ret_shape, size_t *ret_numel);
size_t crt_model_num_parameters(const struct crt_model *model);
/* The parameter tensor of that name in the buffer (its numel floats), or NULL.
 * Writable only for the model's maker (loading, training) before the model is
 * shared; call crt_model_params_changed after writing. */
float *crt_model_param(struct crt_model *model, const char *name);
/* Recomputes what depends on the weights (the fingerprint). */
void crt_model_params_changed(struct crt_model *model);

/* Floating-point operations (multiply and add counted apart) that one segment
 * step of one stream performs, as crtd runs it. */
double crt_model_flops_per_segment(const struct crt_model *model);
/* Floats of persistent memory per stream (d for crt). */
size_t crt_model_memory_floats(const struct crt_model *model);

/* Activations for up to max_batch segments at once, allocated once: no
 * segment step allocates. One per thread; not shared. */
struct crt_workspace;

int crt_workspace_new(const struct crt_model *model, int max_batch, struct crt_workspace **ret_ws);
struct crt_workspace *crt_workspace_free(struct crt_workspace *ws);
size_t crt_workspace_bytes(const struct crt_workspace *ws);

/* One segment step of B streams: feats[B][L][F] and mem_in[B][S] give
 * mem_out[B][S] (may be mem_in) and logits[B][n_classes] (may be NULL).
 * B <= the workspace's max_batch. */
void crt_model_step(const struct crt_model *model, struct crt_workspace *ws, int B,
                    const float *feats, const float *mem_in, float *mem_out, float *logits);
/* The learned initial memory m_0 into mem[S]. */
void crt_model_initial_memory(const struct crt_model *model, float *mem);

/* Whole clips at once, each from m_0, as many in one batch as the workspace
 * holds (clips are grouped by length): clip c has n_frames[c] frames of
 * features at feats[c]; its floor(n_frames[c] / L) complete segments each give
 * a row of ret_logits[c] / ret_probs[c] ([segments][n_classes]) and of
 * ret_memory[c] ([segments][S]); any of the three arrays may be NULL, and so
 * may any of their entries. A trailing partial segment gives nothing. */
int crt_model_run_clips(const struct crt_model *model, struct crt_workspace *ws, int n_clips,
                        const float *const *feats, const int *n_frames, float *const *ret_logits,
                        float *const *ret_probs, float *const *ret_memory);

/* One stream: its persistent memory and partial segment, and a one-segment
 * workspace. Streams of the same model are independent. */
struct crt_stream;

int crt_stream_new(const struct crt_model *model, struct crt_stream **ret_stream);
struct crt_stream *crt_stream_free(struct crt_stream *stream);
/* Back to m_0 and an empty segment. */
void crt_stream_reset(struct crt_stream *stream);

/* Adds one frame's features (F floats). When it completes a segment, runs the
 * step, writes ret_logits / ret_probs (n_classes floats each; either may be
 * NULL) and returns 1; otherwise returns 0. */
int crt_stream_push(struct crt_stream *stream, const float *features, float *ret_logits,
                    float *ret_probs);

const float *crt_stream_memory(const struct crt_stream *stream); /* S floats */
int crt_stream_frames_pending(const struct crt_stream *stream);  /* 0 .. L-1 */
uint64_t crt_stream_segments(const struct crt_stream *stream);   /* since reset */
/* Bytes the stream's data takes: persistent memory, partial segment, and the
 * whole footprint with its workspace and bookkeeping. */
size_t crt_stream_memory_bytes(const struct crt_stream *stream);
size_t crt_stream_state_bytes(const struct crt_stream *stream);
size_t crt_stream_footprint_bytes(const struct crt_stream *stream);

/* Serialised state: versioned, little-endian, CRC-32 protected and bound to
 * the model's fingerprint (docs/MODEL.md, "State blob"). crt_stream_save_size
 * is the most a save can need. */
size_t crt_stream_save_size(const struct crt_model *model);
int crt_stream_save(const struct crt_stream *stream, void *buf, size_t size, size_t *ret_len);
/* Replaces the stream's state, or fails with -EBADMSG (damaged, other
 * version) or -ESTALE (another model), naming why, and leaves it untouched. */
int crt_stream_restore(struct crt_stream *stream, const void *buf, size_t len, struct errbuf *err);

#endif
