/* model: everything numeric in crtd — the Smarthome class list, tensors and
 * kernels on OpenBLAS, model files, the pose estimator, pose features, the CRT
 * and the other memory mechanisms, and training. Knows nothing of video,
 * HTTP or the daemon. The contract is docs/MODEL.md. */
#ifndef CRTD_MODEL_H
#define CRTD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

/* ---- Toyota Smarthome: classes, clip names, protocols (smarthome.c) ------- */

#define SMARTHOME_NUM_CLASSES    31
#define SMARTHOME_NUM_CV_CLASSES 19

/* The 31 cross-subject classes in the project's output order. */
extern const char *const smarthome_classes[SMARTHOME_NUM_CLASSES];

/* Index of a class name in smarthome_classes, or -ENOENT. */
int smarthome_class_index(const char *name);

enum smarthome_protocol {
    SMARTHOME_CS,  /* cross-subject */
    SMARTHOME_CV1, /* cross-view: train c01, validate c05, test c02 */
    SMARTHOME_CV2, /* cross-view: train c01 c03 c04 c06 c07, validate c05, test c02 */
};

enum smarthome_split {
    SMARTHOME_SPLIT_NONE, /* the clip is in no split of this protocol */
    SMARTHOME_SPLIT_TRAIN,
    SMARTHOME_SPLIT_VALIDATION,
    SMARTHOME_SPLIT_TEST,
};

int smarthome_protocol_parse(const char *text, enum smarthome_protocol *ret_protocol);
const char *smarthome_protocol_name(enum smarthome_protocol protocol);
/* Whether the protocol scores this class (CV protocols use 19 of the 31). */
bool smarthome_protocol_has_class(enum smarthome_protocol protocol, int class_index);

/* What a clip file name says: <Activity>_p<subject>_r<rr>_v<vv>_c<camera>.mp4 */
struct smarthome_clip_name {
    char activity[48];
    int class_index;    /* into smarthome_classes */
    int subject;        /* p02 -> 2 */
    int repetition;     /* r00 -> 0 */
    int take;           /* v02 -> 2 */
    int camera;         /* c03 -> 3 */
    uint32_t name_hash; /* FNV-1a of the base name without extension */
};

/* Parses a base name (directories are ignored, any extension is accepted).
 * Fails with -EINVAL and a message naming the field that does not parse. */
int smarthome_clip_name_parse(const char *path, struct smarthome_clip_name *ret_name,
                              struct errbuf *err);

/* The split a clip falls in under a protocol. Validation for CS is a fixed,
 * seeded 5% of the training clips, decided from the file name alone so that
 * every machine agrees. */
enum smarthome_split smarthome_clip_split(enum smarthome_protocol protocol,
                                          const struct smarthome_clip_name *name);

/* ---- pose: MoveNet from its TensorFlow.js files (pose.c, tfjs.c, conv.c) -- */

#define POSE_NUM_KEYPOINTS 17
/* A keypoint counts as seen from this score on (tracking, person flag). */
#define POSE_MIN_SCORE 0.2f

/* COCO-17 order: nose, eyes, ears, shoulders, elbows, wrists, hips, knees,
 * ankles (left before right). */
extern const char *const pose_keypoint_names[POSE_NUM_KEYPOINTS];
/* The limbs a skeleton picture draws, as pairs of keypoint indices. */
#define POSE_NUM_LIMBS 16
extern const int pose_limbs[POSE_NUM_LIMBS][2];

struct pose_keypoint {
    float x, y;  /* whole-frame coordinates, 0..1 (left/top to right/bottom) */
    float score; /* 0..1 */
};

/* A square region of the frame in pixels; it may reach past the frame's edges,
 * where the model sees black. */
struct pose_region {
    float x0, y0, side;
};

struct pose_result {
    struct pose_keypoint keypoints[POSE_NUM_KEYPOINTS];
    float score;             /* mean keypoint score */
    bool person;             /* at least 5 keypoints scored >= POSE_MIN_SCORE */
    struct pose_region crop; /* the region the model looked at */
};

/* A loaded MoveNet (Lightning 192x192 or Thunder 256x256): read-only once
 * loaded, shared by any number of contexts and threads. */
struct pose_model;
/* Per stream: the runner's arena and the tracking-crop state. */
struct pose_context;

/* Loads movenet-*.json and its .bin (see tfjs.h for the checks); fails with
 * -EBADMSG when the graph is not an int32 [1,S,S,3] -> float [1,1,17,3] model. */
int pose_model_load(const char *json_path, struct pose_model **ret_model, struct errbuf *err);
struct pose_model *pose_model_free(struct pose_model *model);
int pose_model_input_size(const struct pose_model *model); /* S */
/* GFLOPs of one frame, total and in dense convolutions. */
double pose_model_gflops(const struct pose_model *model, double *ret_dense);
/* What runs the convolutions: "AVX-512 GEMM" (crtd's own, where the CPU has
 * it) or "OpenBLAS <core>". */
const char *pose_model_kernels(const struct pose_model *model);

int pose_context_new(const struct pose_model *model, struct pose_context **ret_context,
                     struct errbuf *err);
struct pose_context *pose_context_free(struct pose_context *context);
/* Forgets the tracking crop: the next frame is seen whole. */
void pose_context_reset(struct pose_context *context);

/* Runs on one packed RGB24 frame (stride bytes per row): crops the region
 * tracked from the previous frame (or the whole frame, letterboxed to a square
 * with black), resizes it to SxS, runs the model and maps the keypoints back to
 * whole-frame coordinates. Allocates nothing. */
int pose_run(struct pose_context *context, const uint8_t *rgb, int width, int height, int stride,
             struct pose_result *ret_result, struct errbuf *err);

/* The steps of pose_run, for tests and tools. */
void pose_region_full(struct pose_region *ret_region, int width, int height);
/* The crop for the next frame from this frame's result; false when too few
 * keypoints are seen and the whole frame should be used. */
bool pose_region_track(struct pose_region *ret_region, const struct pose_result *result, int width,
                       int height);
/* Bilinear, half-pixel centres, edge pixels repeated up to half a pixel past
 * the frame and black beyond; rounded to the nearest integer 0..255. */
void pose_resize_rgb(int32_t *out, int size, const uint8_t *rgb, int width, int height, int stride,
                     const struct pose_region *region);
/* Runs the graph on an int32 [1,S,S,3] tensor; out receives [17][3] = (y, x,
 * score) in the tensor's coordinates, exactly the graph's output. */
void pose_run_tensor(struct pose_context *context, const int32_t *input,
                     float out[POSE_NUM_KEYPOINTS * 3]);

/* ---- random numbers (rng.c) ----------------------------------------------- */

/* xoshiro256** seeded through splitmix64: fast, and the same sequence on
 * every machine, so a seed always gives the same data and the same model. */
struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *rng, uint64_t seed);
uint64_t rng_next(struct rng *rng);
double rng_uniform(struct rng *rng);                     /* [0, 1) */
double rng_range(struct rng *rng, double lo, double hi); /* [lo, hi) */
double rng_normal(struct rng *rng);                      /* mean 0, deviation 1 */
int rng_below(struct rng *rng, int n);                   /* 0 .. n-1 */

/* ---- synthetic motion (synth.c) ------------------------------------------ */

/* Keypoints are struct pose_keypoint (pose section): x, y in [0,1] of the
 * whole frame, and a score. */

enum synth_task {
    SYNTH_TASK_ACTIVITIES, /* ten Smarthome activities that pose alone tells apart */
    SYNTH_TASK_RECALL,     /* a gesture K segments before the end decides the label */
};

#define SYNTH_NUM_ACTIVITIES 10
#define SYNTH_NUM_RECALL     4

/* Class names of a task, in its output order. */
const char *const *synth_task_classes(enum synth_task task, int *ret_count);
int synth_task_parse(const char *text, enum synth_task *ret_task);
const char *synth_task_name(enum synth_task task);

struct synth_options {
    enum synth_task task;
    uint64_t seed;
    double fps;         /* frames per second of the generated sequence */
    double min_seconds; /* clip duration range (activities task) */
    double max_seconds;
    int chain;          /* activities chained into one stream; 1 = a trimmed clip */
    int recall_k;       /* recall task: segments between the event and the end */
    int segment_frames; /* recall task: L, frames per segment */
    double noise;       /* 0 = clean keypoints, 1 = default jitter, dropouts, occlusion */
};

/* Defaults: activities, seed 1, 10 fps, 4-8 s clips, chain 1, K 4, L 8, noise 1. */
void synth_options_default(struct synth_options *opts);

/* A generated pose sequence. labels[t] is the class of frame t in the task's
 * class list; label is the class of the clip (the last activity of a chain). */
struct synth_clip {
    int frames;
    int label;
    struct pose_keypoint (*keypoints)[POSE_NUM_KEYPOINTS]; /* [frames][17] */
    int *labels;                                           /* [frames] */
};

/* Generates clip number index of the data set that opts describes: the same
 * (options, index) always gives the same clip, whichever thread or machine
 * asks, so generation splits across cores and shards freely. */
int synth_clip_generate(struct synth_clip *clip, const struct synth_options *opts, uint64_t index,
                        struct errbuf *err);
void synth_clip_done(struct synth_clip *clip);

/* ---- pose-sequence files (poseseq.c) -------------------------------------- */

/* A clip or stream as keypoints per frame: what `crt synth` writes, what
 * `crt extract` caches and what `crt train` reads. On disk it is a
 * safetensors file (docs/FORMATS.md): "keypoints" F32 [frames, 17, 3] as
 * (x, y, score), "labels" F32 [frames] as class indices (-1: unknown), and
 * metadata format=crtd-pose-sequence, version=1, fps, classes (a JSON list),
 * label, source. */
#define POSE_SEQUENCE_MAX_CLASSES 256

struct pose_sequence {
    int frames;
    double fps;
    struct pose_keypoint (*keypoints)[POSE_NUM_KEYPOINTS]; /* [frames][17] */
    int *labels;                                           /* [frames], -1 unknown */
    int label;                                             /* the clip's class, -1 unknown */
    int n_classes;
    char **classes;           /* the class names the labels index */
    char source[256];         /* where it came from: a video path, or the synth recipe */
    char source_checksum[17]; /* FNV-1a 64 of the source video, hex; "" for none */
};

/* Allocates frames and copies the class names; fills nothing else. */
int pose_sequence_init(struct pose_sequence *seq, int frames, double fps,
                       const char *const *classes, int n_classes, struct errbuf *err);
void pose_sequence_done(struct pose_sequence *seq);

/* Writes atomically (a temporary file renamed over the target). */
int pose_sequence_save(const struct pose_sequence *seq, const char *path, struct errbuf *err);

/* Reads and checks everything: shapes, class list, label range, finite
 * values. On failure the message names the file and what is wrong. */
int pose_sequence_load(const char *path, struct pose_sequence *ret_seq, struct errbuf *err);

/* ---- safetensors model files (safetensors.c) ----------------------------- */

/* The element types the reader converts to float32. */
enum safetensors_dtype {
    SAFETENSORS_F32,
    SAFETENSORS_F16,
    SAFETENSORS_BF16,
};

#define SAFETENSORS_MAX_DIMS 8

struct safetensors_tensor {
    const char *name;
    enum safetensors_dtype dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    size_t numel;
    size_t offset; /* bytes from the start of the data section */
    size_t nbytes;
    const void *data; /* little-endian, not necessarily aligned */
};

/* An opened file (mapped read-only) or a parsed caller's buffer. Opening
 * checks the whole header: the JSON, every dtype, shape and byte range
 * against the file size, that the tensors tile the data without overlap or
 * hole, and that __metadata__ maps strings to strings. -EBADMSG names the
 * tensor or field that is wrong. */
struct safetensors;

int safetensors_open(const char *path, struct safetensors **ret_st, struct errbuf *err);
/* buf must outlive the result. */
int safetensors_parse(const void *buf, size_t size, struct safetensors **ret_st,
                      struct errbuf *err);
struct safetensors *safetensors_free(struct safetensors *st);

int safetensors_count(const struct safetensors *st);
const struct safetensors_tensor *safetensors_tensor(const struct safetensors *st, int index);
const struct safetensors_tensor *safetensors_find(const struct safetensors *st, const char *name);
/* A __metadata__ value, or NULL. */
const char *safetensors_metadata(const struct safetensors *st, const char *key);
int safetensors_metadata_count(const struct safetensors *st);
int safetensors_metadata_at(const struct safetensors *st, int index, const char **ret_key,
                            const char **ret_value);

/* -EBADMSG, naming the tensor and both shapes, unless t has this shape. */
int safetensors_tensor_check(const struct safetensors_tensor *t, int ndim, const int64_t *shape,
                             struct errbuf *err);
/* Converts the t->numel elements to float32. */
void safetensors_tensor_to_f32(const struct safetensors_tensor *t, float *out);

const char *safetensors_dtype_name(enum safetensors_dtype dtype);
size_t safetensors_dtype_size(enum safetensors_dtype dtype);
int safetensors_dtype_parse(const char *text, enum safetensors_dtype *ret_dtype);
/* "[128,64]" */
void safetensors_format_shape(char *buf, size_t size, int ndim, const int64_t *shape);
/* IEEE half and bfloat16, rounding to nearest even. */
float safetensors_f16_to_f32(uint16_t h);
uint16_t safetensors_f32_to_f16(float f);
float safetensors_bf16_to_f32(uint16_t b);
uint16_t safetensors_f32_to_bf16(float f);

/* The writer keeps pointers to the caller's float32 data until it is saved
 * and converts on output; metadata and tensors are written in the order they
 * were added, the data 8-byte aligned. */
struct safetensors_writer;

struct safetensors_writer *safetensors_writer_new(void);
struct safetensors_writer *safetensors_writer_free(struct safetensors_writer *w);
int safetensors_writer_set_metadata(struct safetensors_writer *w, const char *key,
                                    const char *value);
int safetensors_writer_add(struct safetensors_writer *w, const char *name,
                           enum safetensors_dtype dtype, int ndim, const int64_t *shape,
                           const float *data);
/* The whole file in one malloc'ed buffer. */
int safetensors_writer_to_buffer(const struct safetensors_writer *w, void **ret_buf,
                                 size_t *ret_size);
/* Writes path atomically (a temporary file renamed over it). */
int safetensors_writer_save(const struct safetensors_writer *w, const char *path,
                            struct errbuf *err);

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
 * L 8, fps 10, the 31 Smarthome classes. */
void crt_config_default(struct crt_config *cfg);

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
/* A model with zero weights for cfg and the given classes (NULL: the Smarthome
 * classes when cfg->n_classes is 31, else "class0"...). */
int crt_model_new(const struct crt_config *cfg, const char *const *classes,
                  struct crt_model **ret_model, struct errbuf *err);
struct crt_model *crt_model_free(struct crt_model *model);

/* Fills the weights with seeded random values of the usual initial scales
 * (benchmarks, tests). Only before the model is shared. */
void crt_model_init_random(struct crt_model *model, uint64_t seed);
/* Sets a metadata string saved with the model (e.g. "provenance.data"). */
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

/* ---- classification metrics (metrics.c) ----------------------------------- */

/* A confusion matrix: counts[truth * n_classes + predicted]. */
struct confusion {
    int n_classes;
    int64_t *counts;
};

int confusion_init(struct confusion *cm, int n_classes);
void confusion_done(struct confusion *cm);
void confusion_reset(struct confusion *cm);
/* Ignores (and returns -EINVAL for) a class index outside the matrix. */
int confusion_add(struct confusion *cm, int truth, int predicted);
int64_t confusion_total(const struct confusion *cm);
int64_t confusion_class_total(const struct confusion *cm, int truth);
/* Recall of one class; NAN when the class has no samples. */
double confusion_recall(const struct confusion *cm, int truth);
double confusion_accuracy(const struct confusion *cm);
/* The benchmark metric: the mean over classes of each class's recall, over
 * the classes that have samples and that scored[] marks (NULL: all).
 * ret_classes (may be NULL) receives how many classes were averaged. */
double confusion_mean_class_accuracy(const struct confusion *cm, const bool *scored,
                                     int *ret_classes);

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
 * [B][W][n_classes]. */
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
