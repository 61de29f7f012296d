/* synth_noise: the estimator defects measured on real MoveNet output (`crt
 * defects` on vtest.avi, docs/TRAINING.md) as a noise model for synth and
 * crt mocap, beside the generator's first one (synth.c): jitter about twice
 * as large, larger at the wrists and ankles than at the face, and correlated
 * over frames (more of its energy below 2.5 Hz than white noise has); scores
 * by joint (wrists and elbows well below hips and shoulders); 0.5% random
 * dropouts instead of 2%; left/right swaps of a limb pair in about 2% of
 * frames (elbows most often, then ankles); a gap with nobody found in half
 * the clips, 1-4 frames long. */
#include "synth_internal.h"

#include <string.h>

static const char *const noise_model_names[SYNTH_NOISE_COUNT] = {
    [SYNTH_NOISE_V1] = "v1",
    [SYNTH_NOISE_MEASURED] = "measured",
};

const char *synth_noise_model_name(enum synth_noise_model model)
{
    return model >= 0 && model < SYNTH_NOISE_COUNT ? noise_model_names[model] : "v1";
}

int synth_noise_model_parse(const char *name, enum synth_noise_model *ret_model)
{
    for (int m = 0; m < SYNTH_NOISE_COUNT; m++)
        if (strcmp(name, noise_model_names[m]) == 0) {
            *ret_model = (enum synth_noise_model)m;
            return 0;
        }
    return -EINVAL;
}

/* Per joint, relative to the median over joints: jitter (median residual
 * in box heights, 0.0236 over all joints) and score (median, relative to
 * the hips' 0.554), from the table in docs/TRAINING.md. */
static const double jitter_level[POSE_NUM_KEYPOINTS] = {
    0.75, 0.74, 0.74, 0.76, 0.80, /* nose, eyes, ears */
    0.98, 0.97,                   /* shoulders */
    1.21, 1.23,                   /* elbows */
    1.58, 1.57,                   /* wrists */
    0.93, 0.96,                   /* hips */
    1.05, 1.06,                   /* knees */
    1.31, 1.19,                   /* ankles */
};
static const double score_level[POSE_NUM_KEYPOINTS] = {
    0.86, 0.88, 0.87, 0.86, 0.88, /* nose, eyes, ears */
    0.94, 0.89,                   /* shoulders */
    0.68, 0.66,                   /* elbows */
    0.59, 0.60,                   /* wrists */
    1.00, 0.99,                   /* hips */
    0.80, 0.79,                   /* knees */
    0.77, 0.81,                   /* ankles */
};
/* Limb pairs that swap, by the measured share of swaps: elbows 31,
 * ankles 14, wrists 8, knees 5 of 58. */
static const int swap_pair[4] = {LEFT_ELBOW, LEFT_ANKLE, LEFT_WRIST, LEFT_KNEE};
static const double swap_share[4] = {31.0 / 58, 14.0 / 58, 8.0 / 58, 5.0 / 58};

#define DRIFT_RHO 0.6 /* frame-to-frame correlation of the jitter at 10 fps */

void synth_estimator_measured(struct estimator *est, double noise, struct rng *rng)
{
    est->measured = true;
    est->jitter = 0.008 * noise * rng_range(rng, 0.5, 1.5);
    est->dropout = 0.005 * noise;
    est->swap = fmin(1, 0.02 * noise);
    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++)
        for (int k = 0; k < 2; k++)
            est->drift[j][k] = rng_normal(rng);
}

void synth_observe_measured(struct pose_keypoint out[POSE_NUM_KEYPOINTS],
                            const struct vec3 joints[POSE_NUM_KEYPOINTS], struct vec3 pelvis,
                            struct vec3 body_left, struct vec3 body_front, const struct camera *cam,
                            struct estimator *est, bool nobody, struct rng *rng)
{
    struct vec3 to_camera = v3_normalize(v3_sub(cam->position, pelvis));
    double left_toward = v3_dot(body_left, to_camera);
    double front_toward = v3_dot(body_front, to_camera);
    const double fresh = sqrt(1 - DRIFT_RHO * DRIFT_RHO);

    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
        double x = 0, y = 0;
        double depth = synth_camera_project(cam, joints[j], &x, &y);
        double score = est->quality * score_level[j] + 0.05 * rng_normal(rng) * (est->jitter > 0);
        int side = j == 0 ? 0 : (j % 2 ? 1 : -1); /* COCO: odd left, even right */
        if (side * left_toward < -0.3)
            score *= rng_range(rng, 0.35, 0.75); /* hidden behind the body */
        if (j <= RIGHT_EYE && front_toward < -0.2)
            score *= 0.3; /* the face turned away */
        for (int k = 0; k < 2; k++)
            est->drift[j][k] = DRIFT_RHO * est->drift[j][k] + fresh * rng_normal(rng);
        if (depth > 0) {
            double sigma = est->jitter * jitter_level[j] * 3.0 / depth;
            x += sigma * est->drift[j][0];
            y += sigma * est->drift[j][1];
        }
        bool in_frame = depth > 0 && x >= 0 && x <= 1 && y >= 0 && y <= 1;
        if (!in_frame || nobody) {
            score = rng_range(rng, 0.0, 0.08);
            x = depth > 0 ? fmin(1, fmax(0, x)) : rng_uniform(rng);
            y = depth > 0 ? fmin(1, fmax(0, y)) : rng_uniform(rng);
            if (nobody) {
                x = rng_uniform(rng);
                y = rng_uniform(rng);
            }
        } else if (rng_uniform(rng) < est->dropout) {
            score = rng_range(rng, 0.0, 0.15);
            x = rng_uniform(rng);
            y = rng_uniform(rng);
        }
        out[j].x = (float)x;
        out[j].y = (float)y;
        out[j].score = (float)fmin(1, fmax(0, score));
    }
    if (!nobody && rng_uniform(rng) < est->swap) {
        double u = rng_uniform(rng), acc = 0;
        int pair = 3;
        for (int i = 0; i < 4; i++) {
            acc += swap_share[i];
            if (u < acc) {
                pair = i;
                break;
            }
        }
        struct pose_keypoint t = out[swap_pair[pair]];
        out[swap_pair[pair]] = out[swap_pair[pair] + 1];
        out[swap_pair[pair] + 1] = t;
    }
}
