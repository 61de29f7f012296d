/* pose: MoveNet from its TensorFlow.js files — the graph loader and planned
 * runner (tfjs_*.c, conv.c: private), and the per-stream tracking crop
 * (pose.c). Knows nothing of video, of the segment model, HTTP or the
 * daemon. The contract is docs/MODEL.md section 2. */
#ifndef CRTD_POSE_H
#define CRTD_POSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base.h"
#include "keypoints.h"

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

/* A loaded MoveNet (SinglePose Lightning 192x192 or Thunder 256x256, or
 * MultiPose at any size that is a multiple of 32): read-only once loaded,
 * shared by any number of contexts and threads. */
struct pose_model;
/* Per stream: the runner's arena and the tracking-crop state. */
struct pose_context;

/* The kernel sets the pose convolutions run on, in the order a cap compares
 * them: the portable one (C for the compiler's baseline, dense convolutions
 * on OpenBLAS); NEON (arm64: the portable set with a NEON depthwise kernel);
 * AVX2 + FMA and AVX-512 (x86-64: crtd's own GEMM as well). */
enum pose_isa {
    POSE_ISA_BEST = 0, /* as a cap: none, the best the CPU has */
    POSE_ISA_PORTABLE,
    POSE_ISA_NEON,
    POSE_ISA_AVX2,
    POSE_ISA_AVX512,
};

/* "best", "portable", "neon", "avx2" or "avx512"; -EINVAL for anything else. */
int pose_isa_parse(const char *name, enum pose_isa *ret_isa);
const char *pose_isa_name(enum pose_isa isa);

/* How a model is loaded, chosen by the caller (the library reads no
 * environment); all zero is the default. */
struct pose_options {
    /* The best kernel set the model may use (POSE_ISA_BEST: no cap). On x86
     * the library takes AVX-512 where the CPU has it (F, DQ, BW and VL) and
     * the cap allows, else AVX2 + FMA likewise, else portable; on arm64 NEON
     * unless the cap is portable (an x86 cap means no cap there). The tools
     * set it from --isa, the tests from their command line, so that a CPU
     * with AVX-512 tests every path. */
    enum pose_isa max_isa;
};

/* Loads movenet-*.json and its .bin (see tfjs.h for the checks): a
 * single-person graph (int32 [1,S,S,3] -> float [1,1,17,3]) or a multi-person
 * one (int32 [1,H,W,3] with H and W free -> float [1,6,56]); anything else is
 * -EBADMSG naming the shape. pose_model_load uses the default options; options
 * may be NULL. */
int pose_model_load(const char *json_path, struct pose_model **ret_model, struct errbuf *err);
int pose_model_load_opts(const char *json_path, const struct pose_options *options,
                         struct pose_model **ret_model, struct errbuf *err);
struct pose_model *pose_model_free(struct pose_model *model);
/* S; for a multi-person model the side of the plan made at load (256). */
int pose_model_input_size(const struct pose_model *model);
/* Whether the model finds several people (MoveNet MultiPose). */
bool pose_model_is_multi(const struct pose_model *model);
/* GFLOPs of one frame, total and in dense convolutions (a multi-person model:
 * at the size of pose_model_input_size; see pose_people_plan). */
double pose_model_gflops(const struct pose_model *model, double *ret_dense);
/* The kernel set the model runs on (never POSE_ISA_BEST). */
enum pose_isa pose_model_isa(const struct pose_model *model);
/* What runs the convolutions, for reports: "AVX-512 GEMM", "AVX2 GEMM"
 * (crtd's own), "OpenBLAS <core>, NEON depthwise" or "OpenBLAS <core>". */
const char *pose_model_kernels(const struct pose_model *model);

int pose_context_new(const struct pose_model *model, struct pose_context **ret_context,
                     struct errbuf *err);
struct pose_context *pose_context_free(struct pose_context *context);
/* Forgets the tracking crop: the next frame is seen whole. */
void pose_context_reset(struct pose_context *context);

/* Runs a single-person model (-EINVAL for a multi-person one: see
 * pose_run_people) on one packed RGB24 frame (stride bytes per row): crops the region
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

/* ---- several people ---------------------------------------------------------- */

/* One person a multi-person model found in a frame. */
struct pose_person {
    struct pose_keypoint keypoints[POSE_NUM_KEYPOINTS];
    float box[4]; /* x0, y0, x1, y1 in whole-frame coordinates, 0..1 */
    float score;  /* the model's person score, 0..1 */
};

/* MultiPose's output: per person 17 x (y, x, score), then ymin, xmin, ymax,
 * xmax and the person's score, in the input tensor's coordinates (0..1). */
#define POSE_MAX_PEOPLE      6
#define POSE_PEOPLE_STRIDE   56
#define POSE_PEOPLE_MIN_SIDE 32
#define POSE_PEOPLE_MAX_SIDE 640

/* The input a frame of width x height gets for a given side: the long side
 * is side (a multiple of 32 from 32 to 640, else -EINVAL naming 'side'), the
 * short side in proportion, rounded up to a multiple of 32. */
int pose_people_input_size(int width, int height, int side, int *ret_in_width, int *ret_in_height,
                           struct errbuf *err);

/* Makes (once; a context keeps a few) the plan for an input of in_width x
 * in_height, and reports its GFLOPs (total and in dense convolutions; either
 * may be NULL). Calling it before a stream's first frame keeps planning out
 * of the frame loop; otherwise the first frame of each size plans. */
int pose_people_plan(struct pose_context *context, int in_width, int in_height, double *ret_gflops,
                     double *ret_dense, struct errbuf *err);

/* Every person in one packed RGB24 frame. A multi-person model sees the whole
 * frame letterboxed with black to pose_people_input_size(side); keypoints and
 * boxes come back in whole-frame coordinates 0..1 (clamped), strongest first,
 * and people scored below POSE_MIN_SCORE are left out. A single-person model
 * runs pose_run (side is checked but unused) and gives 0 or 1 person, boxed
 * by its seen keypoints, so that callers have one path. Allocates nothing
 * once the size's plan exists. */
int pose_run_people(struct pose_context *context, const uint8_t *rgb, int width, int height,
                    int stride, int side, struct pose_person *ret_people /* [POSE_MAX_PEOPLE] */,
                    int *ret_n, struct errbuf *err);

/* Runs a multi-person graph on an int32 [1,in_height,in_width,3] tensor; out
 * receives the raw [POSE_MAX_PEOPLE][POSE_PEOPLE_STRIDE] output. -EINVAL for a
 * single-person model or a size the graph does not take. */
int pose_run_people_tensor(struct pose_context *context, const int32_t *input, int in_width,
                           int in_height, float out[POSE_MAX_PEOPLE * POSE_PEOPLE_STRIDE],
                           struct errbuf *err);

/* The whole frame, centred and scaled to fit an in_width x in_height int32
 * tensor (black around it), resized as pose_resize_rgb does: what
 * pose_run_people gives the model. */
void pose_letterbox_rgb(int32_t *out, int in_width, int in_height, const uint8_t *rgb, int width,
                        int height, int stride);

/* ---- tracking people (tracker.c) ------------------------------------------ */

#define POSE_TRACKER_MAX_TRACKS     16
#define POSE_TRACKER_MAX_DETECTIONS 16

struct pose_tracker_options {
    int max_tracks;       /* the cap per stream (default 6, at most 16) */
    int confirm_hits;     /* frames matched before a track is confirmed (3) */
    double max_unseen_s;  /* a track unseen this long ends (2 s) */
    float min_similarity; /* (IoU + OKS) / 2 below this never matches (0.2) */
    float min_score;      /* detections and keypoints below this are ignored (0.2) */
};

void pose_tracker_options_default(struct pose_tracker_options *opts);

struct pose_track {
    uint32_t id;                  /* 1, 2, ...: never reused within a tracker's life */
    bool confirmed;               /* matched confirm_hits times */
    bool seen;                    /* matched in the last update */
    int hits;                     /* frames matched */
    double first_seen, last_seen; /* the caller's clock, seconds */
    struct pose_person person;    /* as last seen */
    float velocity[2];            /* of the box centre, smoothed, per second of the clock */
};

/* Gives each person a stable id across frames (docs/POSE.md, "Tracking
 * people"). One per stream; allocates nothing after pose_tracker_new. */
struct pose_tracker;

int pose_tracker_new(const struct pose_tracker_options *opts, struct pose_tracker **ret_tracker,
                     struct errbuf *err);
struct pose_tracker *pose_tracker_free(struct pose_tracker *tracker);

/* Matches one frame's detections (at most POSE_TRACKER_MAX_DETECTIONS) taken
 * at `now` seconds, ends tracks unseen for max_unseen_s and starts tentative
 * tracks for the rest. When the cap is full the weakest track (tentative
 * before confirmed, then the lowest score) gives way to a stronger newcomer,
 * or the newcomer is dropped; pose_tracker_dropped counts both. Returns the
 * number of tracks, or -EINVAL. */
int pose_tracker_update(struct pose_tracker *tracker, const struct pose_person *dets, int n_dets,
                        double now);
int pose_tracker_count(const struct pose_tracker *tracker);
/* The index-th track (any order), or NULL. Valid until the next update. */
const struct pose_track *pose_tracker_track(const struct pose_tracker *tracker, int index);
uint64_t pose_tracker_dropped(const struct pose_tracker *tracker);
/* Ends every track (a camera reconnected); ids keep counting up. */
void pose_tracker_reset(struct pose_tracker *tracker);

#endif
