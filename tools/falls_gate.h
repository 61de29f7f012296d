/* falls_gate: the motion gate's effect on a pose sequence, for
 * `crt eval --falls --still-pose-fps F` (docs/SAFETY.md, "With the motion
 * gate"). */
#ifndef CRTD_FALLS_GATE_H
#define CRTD_FALLS_GATE_H

#include "keypoints.h"
#include "video.h"

struct falls_gate_options {
    double still_pose_fps;  /* the stream's still_pose_fps (> 0) */
    double motion;          /* of the frame's height: a keypoint this far from its
                             * running average is motion */
    double background_rate; /* how fast that average follows, per frame */
};

struct falls_gate_counts {
    int frames, posed, held, empty;
};

/* The defaults: one cell of the gate's grid, its background rate. */
void falls_gate_options_init(struct falls_gate_options *opts);

/* Rewrites kp[0..frames) as the fall detector would have had it behind the
 * gate: pose's keypoints where pose ran, the last ones held where a person
 * kept still, nobody where no one was in view and nothing moved. */
void falls_gate_apply(const struct falls_gate_options *opts,
                      struct pose_keypoint (*kp)[POSE_NUM_KEYPOINTS], int frames, double fps,
                      struct falls_gate_counts *ret_counts);

#endif
