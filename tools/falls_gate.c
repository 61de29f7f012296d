/* falls_gate: a pose sequence as crtd's motion gate would have passed it to
 * the fall detector (`crt eval --falls --still-pose-fps F`).
 *
 * A pose sequence has no pixels, so the motion the gate would have seen is
 * taken from the keypoints: a frame moved when a visible keypoint is more
 * than `motion` (of the frame's height) away from its running average, the
 * average following at the gate's background rate, as the picture's
 * background does. Pose's verdict is the gate's own
 * (video_pose_gate_decide); frames where pose would not have run get the
 * detections held from the last run (a person in view), or nobody. */
#include "falls_gate.h"

#include <math.h>
#include <string.h>

/* A keypoint this sure takes part in the motion and in "someone in view". */
#define VISIBLE_SCORE 0.3f

static bool anyone_visible(const struct pose_keypoint *kp)
{
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++)
        if (kp[k].score >= VISIBLE_SCORE)
            return true;
    return false;
}

void falls_gate_options_init(struct falls_gate_options *opts)
{
    struct video_motion_options m;
    video_motion_options_init(&m);
    *opts = (struct falls_gate_options){
        .still_pose_fps = 0,
        .motion = 1.0 / m.height, /* one cell of the gate's grid */
        .background_rate = m.background_rate,
    };
}

void falls_gate_apply(const struct falls_gate_options *opts,
                      struct pose_keypoint (*kp)[POSE_NUM_KEYPOINTS], int frames, double fps,
                      struct falls_gate_counts *ret_counts)
{
    struct falls_gate_counts counts = {.frames = frames};
    struct video_pose_gate gate;
    struct pose_keypoint held[POSE_NUM_KEYPOINTS], average[POSE_NUM_KEYPOINTS];
    bool have_held = false, have_average[POSE_NUM_KEYPOINTS] = {0};

    video_pose_gate_init(&gate, opts->still_pose_fps, fps);
    for (int f = 0; f < frames; f++) {
        double t = f / fps;
        struct video_motion_result m = {.computed = true, .reset = f == 0};
        for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
            const struct pose_keypoint *p = &kp[f][k];
            if (p->score < VISIBLE_SCORE)
                continue;
            if (!have_average[k]) {
                average[k] = *p;
                have_average[k] = true;
                m.moved = m.moved || f > 0; /* something appeared */
                continue;
            }
            if (fabsf(p->x - average[k].x) > opts->motion ||
                fabsf(p->y - average[k].y) > opts->motion)
                m.moved = true;
            average[k].x += (float)opts->background_rate * (p->x - average[k].x);
            average[k].y += (float)opts->background_rate * (p->y - average[k].y);
        }
        enum video_pose_view view =
            have_held && anyone_visible(held) ? VIDEO_VIEW_PERSON : VIDEO_VIEW_NOBODY;
        bool pose, hold;
        video_pose_gate_decide(&gate, &m, t, view, &pose, &hold);
        if (pose) {
            memcpy(held, kp[f], sizeof(held));
            have_held = true;
            video_pose_gate_posed(&gate, t);
            counts.posed++;
        } else if (hold) {
            memcpy(kp[f], held, sizeof(held));
            counts.held++;
        } else {
            memset(kp[f], 0, sizeof(kp[f]));
            counts.empty++;
        }
    }
    *ret_counts = counts;
}
