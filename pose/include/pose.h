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

/* A loaded MoveNet (Lightning 192x192 or Thunder 256x256): read-only once
 * loaded, shared by any number of contexts and threads. */
struct pose_model;
/* Per stream: the runner's arena and the tracking-crop state. */
struct pose_context;

/* How a model is loaded, chosen by the caller (the library reads no
 * environment); all zero is the default. */
struct pose_options {
    /* Run the convolutions on OpenBLAS even where the CPU has AVX-512 F, DQ,
     * BW and VL, which otherwise gets crtd's own GEMM (the tools and the
     * daemon set it from CRTD_POSE_NO_AVX512; the tests to check both). */
    bool no_avx512;
};

/* Loads movenet-*.json and its .bin (see tfjs.h for the checks); fails with
 * -EBADMSG when the graph is not an int32 [1,S,S,3] -> float [1,1,17,3] model.
 * pose_model_load uses the default options; options may be NULL. */
int pose_model_load(const char *json_path, struct pose_model **ret_model, struct errbuf *err);
int pose_model_load_opts(const char *json_path, const struct pose_options *options,
                         struct pose_model **ret_model, struct errbuf *err);
struct pose_model *pose_model_free(struct pose_model *model);
int pose_model_input_size(const struct pose_model *model); /* S */
/* GFLOPs of one frame, total and in dense convolutions. */
double pose_model_gflops(const struct pose_model *model, double *ret_dense);
/* What runs the convolutions: "AVX-512 GEMM" (crtd's own, where the CPU has
 * it and the options allowed it) or "OpenBLAS <core>". */
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

#endif
