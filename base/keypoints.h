/* keypoints: the COCO-17 skeleton every part of crtd speaks. The pose
 * estimator produces it, the features, synthetic motion and pose-sequence
 * files consume it, so it lives below all of them. */
#ifndef CRTD_BASE_KEYPOINTS_H
#define CRTD_BASE_KEYPOINTS_H

#include <stdbool.h>

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

#endif
