/* features: pose features of feature layout version 1 (docs/MODEL.md section
 * 3), the one definition in C; tests/ref/crt_ref.py mirrors it line by line. */
#include "crt.h"

#include <math.h>
#include <string.h>

enum {
    KP_LEFT_SHOULDER = 5,
    KP_RIGHT_SHOULDER = 6,
    KP_LEFT_HIP = 11,
    KP_RIGHT_HIP = 12,
};

void features_state_init(struct features_state *st)
{
    memset(st, 0, sizeof(*st));
    st->centre_x = 0.5f;
    st->centre_y = 0.5f;
    st->scale = FEATURES_SCALE_INIT;
}

static bool seen(const struct pose_keypoint *kp, int j)
{
    return kp[j].score >= FEATURES_SCORE_MIN;
}

void features_v1(float *out, struct features_state *st, const struct pose_keypoint *kp)
{
    float *pos = out + FEATURES_V1_POS;
    float *score = out + FEATURES_V1_SCORE;
    float *vel = out + FEATURES_V1_VEL;
    float *global = out + FEATURES_V1_GLOBAL;

    if (!kp) {
        /* No person: the frame still counts, with nothing in it; the next
         * frame's velocities start from zero as at a stream's first frame. */
        memset(out, 0, FEATURES_V1_DIM * sizeof(float));
        memset(st->prev_seen, 0, sizeof(st->prev_seen));
        global[0] = st->centre_x;
        global[1] = st->centre_y;
        global[2] = st->scale;
        global[3] = 0.0f;
        return;
    }

    bool hips = seen(kp, KP_LEFT_HIP) && seen(kp, KP_RIGHT_HIP);
    bool shoulders = seen(kp, KP_LEFT_SHOULDER) && seen(kp, KP_RIGHT_SHOULDER);
    float hip_x = 0.5f * (kp[KP_LEFT_HIP].x + kp[KP_RIGHT_HIP].x);
    float hip_y = 0.5f * (kp[KP_LEFT_HIP].y + kp[KP_RIGHT_HIP].y);
    float sho_x = 0.5f * (kp[KP_LEFT_SHOULDER].x + kp[KP_RIGHT_SHOULDER].x);
    float sho_y = 0.5f * (kp[KP_LEFT_SHOULDER].y + kp[KP_RIGHT_SHOULDER].y);

    if (hips) {
        st->centre_x = hip_x;
        st->centre_y = hip_y;
    } else if (shoulders) {
        st->centre_x = sho_x;
        st->centre_y = sho_y;
    }
    if (hips && shoulders) {
        float dx = sho_x - hip_x, dy = sho_y - hip_y;
        float raw = sqrtf(dx * dx + dy * dy);
        st->smoothed = st->has_scale ? FEATURES_SCALE_SMOOTH * st->smoothed +
                                           (1.0f - FEATURES_SCALE_SMOOTH) * raw
                                     : raw;
        st->has_scale = true;
        st->scale = fmaxf(st->smoothed, FEATURES_SCALE_FLOOR);
    }

    float inv = 1.0f / st->scale;
    float presence = 0.0f;
    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
        bool on = seen(kp, j);
        float px = on ? (kp[j].x - st->centre_x) * inv : 0.0f;
        float py = on ? (kp[j].y - st->centre_y) * inv : 0.0f;
        bool both = on && st->prev_seen[j];
        pos[2 * j] = px;
        pos[2 * j + 1] = py;
        score[j] = kp[j].score;
        vel[2 * j] = both ? px - st->prev_pos[2 * j] : 0.0f;
        vel[2 * j + 1] = both ? py - st->prev_pos[2 * j + 1] : 0.0f;
        st->prev_pos[2 * j] = px;
        st->prev_pos[2 * j + 1] = py;
        st->prev_seen[j] = on;
        presence += kp[j].score;
    }
    global[0] = st->centre_x;
    global[1] = st->centre_y;
    global[2] = st->scale;
    global[3] = presence / POSE_NUM_KEYPOINTS;
}
