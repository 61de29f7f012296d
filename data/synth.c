/* synth: procedural pose sequences, so that crtd can train and be tested
 * without any dataset.
 *
 * A 3D skeleton of the COCO-17 joints with per-person limb proportions is
 * posed by simple joint angles, animated per activity, seen by a random
 * wall-mounted camera and projected to the image; the keypoints then get the
 * defects a real pose estimator has: jitter, low scores on the far side of
 * the body, dropouts, joints outside the frame, frames with nobody. */
#include "synth_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Which side of the body each joint is on: +1 left, -1 right, 0 middle. */
static const int joint_side[POSE_NUM_KEYPOINTS] = {0, 1,  -1, 1,  -1, 1,  -1, 1, -1,
                                                   1, -1, 1,  -1, 1,  -1, 1,  -1};

static const char *const activity_classes[SYNTH_NUM_ACTIVITIES] = {
    "Walk",  "Sitdown",       "Getup",        "Laydown",  "Enter",
    "Leave", "Drink.Fromcup", "Usetelephone", "Readbook", "WatchTV",
};

/* The activities task draws the first ten; the home task draws from its own
 * list (home_activities), which has Feed.Cat, a motion none of the ten has. */
enum activity {
    ACT_WALK,
    ACT_SITDOWN,
    ACT_GETUP,
    ACT_LAYDOWN,
    ACT_ENTER,
    ACT_LEAVE,
    ACT_DRINK,
    ACT_TELEPHONE,
    ACT_READBOOK,
    ACT_WATCHTV,
    ACT_FEEDCAT,
};

static const enum activity all_activities[SYNTH_NUM_ACTIVITIES] = {
    ACT_WALK,  ACT_SITDOWN, ACT_GETUP,     ACT_LAYDOWN,  ACT_ENTER,
    ACT_LEAVE, ACT_DRINK,   ACT_TELEPHONE, ACT_READBOOK, ACT_WATCHTV,
};

static const enum activity home_activities[SYNTH_NUM_HOME] = {
    ACT_WALK, ACT_SITDOWN, ACT_DRINK, ACT_TELEPHONE, ACT_WATCHTV, ACT_FEEDCAT,
};

static const char *const home_classes[SYNTH_NUM_HOME] = {
    "Walk", "Sitdown", "Drink.Fromcup", "Usetelephone", "WatchTV", "Feed.Cat",
};

static const char *const recall_classes[SYNTH_NUM_RECALL] = {
    "Recall.Leftarm",
    "Recall.Rightarm",
    "Recall.Botharms",
    "Recall.Crouch",
};

void synth_body_random(struct body *b, struct rng *rng)
{
    double h = rng_range(rng, 1.50, 1.90);
    double sturdiness = rng_range(rng, 0.9, 1.12);
    b->height = h;
    b->shoulder_half = 0.118 * h * sturdiness;
    b->hip_half = 0.085 * h * sturdiness;
    b->spine = 0.30 * h * rng_range(rng, 0.95, 1.05);
    b->thigh = 0.245 * h * rng_range(rng, 0.95, 1.05);
    b->shin = 0.25 * h * rng_range(rng, 0.95, 1.05);
    b->upper_arm = 0.17 * h * rng_range(rng, 0.95, 1.05);
    b->forearm = 0.15 * h * rng_range(rng, 0.95, 1.05);
    b->neck = 0.11 * h;
}

double synth_standing_pelvis(const struct body *b)
{
    return b->thigh + b->shin + 0.01 * b->height;
}

double synth_seated_pelvis(const struct body *b)
{
    return b->shin + 0.04 * b->height;
}

void synth_posture_stand(struct posture *p, const struct body *b)
{
    p->pelvis = synth_standing_pelvis(b);
    p->body_pitch = 0;
    p->body_roll = 0;
    p->lean = 3 * DEG;
    for (int s = 0; s < 2; s++) {
        p->hip[s] = 0;
        p->knee[s] = 3 * DEG;
        p->shoulder_flex[s] = 4 * DEG;
        p->shoulder_abduct[s] = 7 * DEG;
        p->elbow[s] = 10 * DEG;
    }
    p->head_yaw = 0;
    p->head_pitch = 5 * DEG;
}

void synth_posture_sit(struct posture *p, const struct body *b)
{
    synth_posture_stand(p, b);
    p->pelvis = synth_seated_pelvis(b);
    p->lean = 6 * DEG;
    for (int s = 0; s < 2; s++) {
        p->hip[s] = 88 * DEG;
        p->knee[s] = 88 * DEG;
        p->shoulder_flex[s] = 15 * DEG;
        p->elbow[s] = 60 * DEG;
    }
}

/* The face from the head's centre and its frame (forward, to the person's
 * left; up follows), for a person height tall: nose, eyes, ears. */
void synth_face(struct vec3 out[POSE_NUM_KEYPOINTS], struct vec3 head, struct vec3 fwd,
                struct vec3 left, double height)
{
    struct vec3 up = v3_cross(fwd, left);
    double h = height;
    out[NOSE] = v3_add(head, v3_add(v3_scale(fwd, 0.06 * h), v3_scale(up, -0.01 * h)));
    for (int s = 0; s < 2; s++) {
        double side = s == 0 ? 1.0 : -1.0;
        out[LEFT_EYE + s] =
            v3_add(head, v3_add(v3_add(v3_scale(fwd, 0.05 * h), v3_scale(up, 0.012 * h)),
                                v3_scale(left, side * 0.025 * h)));
        out[LEFT_EAR + s] =
            v3_add(head, v3_add(v3_scale(fwd, -0.005 * h), v3_scale(left, side * 0.055 * h)));
    }
}

/* Forward kinematics: joint positions in the world from a posture. */
void synth_posture_world(struct vec3 out[POSE_NUM_KEYPOINTS], const struct posture *p,
                         const struct body *b)
{
    struct vec3 torso = v3(0, cos(p->lean), sin(p->lean));
    struct vec3 shoulder_mid = v3_scale(torso, b->spine);

    for (int s = 0; s < 2; s++) {
        double side = s == 0 ? 1.0 : -1.0;

        struct vec3 hip = v3(side * b->hip_half, 0, 0);
        double thigh_angle = p->hip[s];
        double shin_angle = p->hip[s] - p->knee[s];
        struct vec3 knee =
            v3_add(hip, v3(0, -b->thigh * cos(thigh_angle), b->thigh * sin(thigh_angle)));
        struct vec3 ankle =
            v3_add(knee, v3(0, -b->shin * cos(shin_angle), b->shin * sin(shin_angle)));

        /* Arm angles are measured from the torso, so a lean carries the arms. */
        struct vec3 shoulder = v3_add(shoulder_mid, v3(side * b->shoulder_half, 0, 0));
        double upper_angle = p->shoulder_flex[s] + p->lean;
        double fore_angle = upper_angle + p->elbow[s];
        struct vec3 upper =
            rotate_z(v3(0, -cos(upper_angle), sin(upper_angle)), side * p->shoulder_abduct[s]);
        struct vec3 fore =
            rotate_z(v3(0, -cos(fore_angle), sin(fore_angle)), side * p->shoulder_abduct[s] * 0.6);
        struct vec3 elbow = v3_add(shoulder, v3_scale(upper, b->upper_arm));
        struct vec3 wrist = v3_add(elbow, v3_scale(fore, b->forearm));

        out[LEFT_HIP + s] = hip;
        out[LEFT_KNEE + s] = knee;
        out[LEFT_ANKLE + s] = ankle;
        out[LEFT_SHOULDER + s] = shoulder;
        out[LEFT_ELBOW + s] = elbow;
        out[LEFT_WRIST + s] = wrist;
    }

    /* The head: a centre above the shoulders, turned by yaw, nodded by pitch. */
    struct vec3 head = v3_add(shoulder_mid, v3_scale(torso, b->neck));
    struct vec3 fwd = rotate_x(rotate_y(v3(0, 0, 1), p->head_yaw), p->head_pitch + p->lean);
    struct vec3 left = rotate_y(v3(1, 0, 0), p->head_yaw);
    synth_face(out, head, fwd, left, b->height);

    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
        struct vec3 q = rotate_z(rotate_x(out[j], p->body_pitch), p->body_roll);
        q.y += p->pelvis;
        q = rotate_y(q, p->yaw);
        out[j] = v3(q.x + p->x, q.y, q.z + p->z);
    }
}

/* A camera at position looking at target (y up, no roll) with a horizontal
 * field of view of hfov radians and a 4:3 picture, as Smarthome's 640x480. */
void synth_camera_aim(struct camera *cam, struct vec3 position, struct vec3 target, double hfov)
{
    cam->position = position;
    cam->forward = v3_normalize(v3_sub(target, cam->position));
    cam->right = v3_normalize(v3_cross(cam->forward, v3(0, 1, 0)));
    cam->up = v3_cross(cam->right, cam->forward);
    cam->focal_x = 0.5 / tan(hfov / 2);
    cam->focal_y = cam->focal_x * 4.0 / 3.0;
    cam->floor_near = 2.5;
    cam->floor_far = 4.5;
}

void synth_camera_random(struct camera *cam, struct rng *rng)
{
    double azimuth = rng_range(rng, -M_PI, M_PI);
    double distance = rng_range(rng, 3.2, 5.5);
    double height = rng_range(rng, 1.7, 2.6);
    double hfov = rng_range(rng, 60, 80) * DEG;
    struct vec3 target =
        v3(rng_range(rng, -0.4, 0.4), rng_range(rng, 0.7, 1.0), rng_range(rng, -0.4, 0.4));

    synth_camera_aim(cam, v3(distance * sin(azimuth), height, distance * cos(azimuth)), target,
                     hfov);
}

/* Projects a point; returns its depth (negative when behind the camera). */
double synth_camera_project(const struct camera *cam, struct vec3 point, double *ret_x,
                            double *ret_y)
{
    struct vec3 d = v3_sub(point, cam->position);
    double depth = v3_dot(d, cam->forward);
    if (depth < 0.05)
        return -1;
    *ret_x = 0.5 + cam->focal_x * v3_dot(d, cam->right) / depth;
    *ret_y = 0.5 - cam->focal_y * v3_dot(d, cam->up) / depth;
    return depth;
}

/* The floor point, in front of the camera at the given depth and image
 * column, so paths can be placed relative to what the camera sees. */
void synth_camera_floor_point(const struct camera *cam, double column, double depth, double *x,
                              double *z)
{
    struct vec3 flat_fwd = v3_normalize(v3(cam->forward.x, 0, cam->forward.z));
    struct vec3 flat_right = v3(cam->right.x, 0, cam->right.z);
    double lateral = (column - 0.5) / cam->focal_x * depth;
    *x = cam->position.x + flat_fwd.x * depth + flat_right.x * lateral;
    *z = cam->position.z + flat_fwd.z * depth + flat_right.z * lateral;
}

/* Everything random about one activity performance. */
struct performance {
    enum activity activity;
    double seconds;
    double start_x, start_z, end_x, end_z; /* walking path, where one is walked */
    double yaw;                            /* facing when not walking */
    double speed_wobble, wobble_phase;
    int hand; /* 0 left, 1 right */
    bool seated;
    double sip_times[2];
    int sips;
    double sway_phase;
};

static double path_yaw(const struct performance *perf)
{
    /* Facing +z is yaw 0; the body's z axis must point along the path. */
    return atan2(perf->end_x - perf->start_x, perf->end_z - perf->start_z);
}

/* Walking gait at time tau along a path, with phase from distance covered. */
void synth_animate_walk(struct posture *p, const struct body *b, double distance)
{
    double stride = 0.75 * b->height; /* one full gait cycle */
    double phase = 2 * M_PI * distance / stride;
    double swing = sin(phase);
    synth_posture_stand(p, b);
    p->hip[0] = 22 * DEG * swing;
    p->hip[1] = -22 * DEG * swing;
    p->knee[0] = 5 * DEG + 40 * DEG * fmax(0, sin(phase - M_PI / 3));
    p->knee[1] = 5 * DEG + 40 * DEG * fmax(0, sin(phase + M_PI - M_PI / 3));
    p->shoulder_flex[0] = -16 * DEG * swing;
    p->shoulder_flex[1] = 16 * DEG * swing;
    p->elbow[0] = p->elbow[1] = 18 * DEG;
    p->pelvis -= 0.012 * b->height * fabs(cos(phase));
    p->lean = 6 * DEG;
}

/* Moves along the path for the part [t0, t1] of the clip; stands before/after. */
static void animate_path(struct posture *p, const struct body *b, const struct performance *perf,
                         double t, double t0, double t1)
{
    double u = t <= t0 ? 0 : t >= t1 ? 1 : (t - t0) / (t1 - t0);
    double length = hypot(perf->end_x - perf->start_x, perf->end_z - perf->start_z);
    if (u > 0 && u < 1)
        synth_animate_walk(p, b, u * length);
    else
        synth_posture_stand(p, b);
    p->x = lerp(perf->start_x, perf->end_x, u);
    p->z = lerp(perf->start_z, perf->end_z, u);
    p->yaw = path_yaw(perf);
}

static void arm_to_mouth(struct posture *p, int s, double amount)
{
    p->shoulder_flex[s] = lerp(p->shoulder_flex[s], 38 * DEG, amount);
    p->shoulder_abduct[s] = lerp(p->shoulder_abduct[s], 14 * DEG, amount);
    p->elbow[s] = lerp(p->elbow[s], 135 * DEG, amount);
}

static void arm_to_ear(struct posture *p, int s, double amount)
{
    p->shoulder_flex[s] = lerp(p->shoulder_flex[s], 22 * DEG, amount);
    p->shoulder_abduct[s] = lerp(p->shoulder_abduct[s], 38 * DEG, amount);
    p->elbow[s] = lerp(p->elbow[s], 150 * DEG, amount);
}

/* The posture of a performance at clip time t seconds (already time-warped). */
static void animate(struct posture *p, const struct body *b, const struct performance *perf,
                    double t)
{
    double u = t / perf->seconds;
    double sway = sin(2 * M_PI * 0.3 * t + perf->sway_phase);

    switch (perf->activity) {
    case ACT_WALK:
        animate_path(p, b, perf, t, 0, perf->seconds);
        return;
    case ACT_ENTER:
        animate_path(p, b, perf, t, 0, 0.7 * perf->seconds);
        return;
    case ACT_LEAVE:
        animate_path(p, b, perf, t, 0.3 * perf->seconds, perf->seconds);
        return;
    default:
        break;
    }

    p->x = perf->start_x;
    p->z = perf->start_z;
    p->yaw = perf->yaw + 4 * DEG * sway;

    switch (perf->activity) {
    case ACT_SITDOWN:
    case ACT_GETUP: {
        double s = smoothstep(0.3, 0.7, u);
        if (perf->activity == ACT_GETUP)
            s = 1 - s;
        synth_posture_stand(p, b);
        p->pelvis = lerp(synth_standing_pelvis(b), synth_seated_pelvis(b), s);
        for (int side = 0; side < 2; side++) {
            p->hip[side] = 88 * DEG * s;
            p->knee[side] = 88 * DEG * s;
            p->shoulder_flex[side] = 25 * DEG * sin(M_PI * s) + 12 * DEG * s;
            p->elbow[side] = lerp(10 * DEG, 55 * DEG, s);
        }
        /* Bodies lean forward to move their weight over the feet. */
        p->lean = 3 * DEG + 32 * DEG * sin(M_PI * s) + 4 * DEG * s;
        break;
    }
    case ACT_LAYDOWN: {
        double s = smoothstep(0.25, 0.75, u);
        synth_posture_sit(p, b);
        p->body_pitch = -85 * DEG * s;
        for (int side = 0; side < 2; side++) {
            p->hip[side] = 88 * DEG * (1 - s);
            p->knee[side] = 88 * DEG * (1 - s) + 5 * DEG;
            p->shoulder_flex[side] = lerp(15 * DEG, 0, s);
            p->elbow[side] = lerp(60 * DEG, 15 * DEG, s);
        }
        p->pelvis = synth_seated_pelvis(b) + 0.03 * b->height * s;
        p->head_pitch = lerp(5 * DEG, -20 * DEG, s);
        break;
    }
    case ACT_DRINK: {
        if (perf->seated)
            synth_posture_sit(p, b);
        else
            synth_posture_stand(p, b);
        double lift = 0;
        for (int i = 0; i < perf->sips; i++) {
            double start = perf->sip_times[i];
            lift = fmax(lift, smoothstep(start, start + 0.8, t) *
                                  (1 - smoothstep(start + 2.4, start + 3.2, t)));
        }
        p->elbow[perf->hand] = 75 * DEG;
        p->shoulder_flex[perf->hand] = 18 * DEG;
        arm_to_mouth(p, perf->hand, lift);
        p->head_pitch = lerp(p->head_pitch, -14 * DEG, lift);
        break;
    }
    case ACT_TELEPHONE: {
        if (perf->seated)
            synth_posture_sit(p, b);
        else
            synth_posture_stand(p, b);
        double up = smoothstep(0.0, 0.12, u);
        arm_to_ear(p, perf->hand, up);
        p->shoulder_abduct[perf->hand] += 4 * DEG * sway;
        p->head_yaw = 10 * DEG * sin(2 * M_PI * 0.15 * t + perf->wobble_phase);
        p->head_pitch = (perf->hand ? -1 : 1) * 3 * DEG + 6 * DEG;
        /* The free hand often rests on the hip or hangs. */
        p->elbow[1 - perf->hand] = 25 * DEG;
        break;
    }
    case ACT_READBOOK: {
        synth_posture_sit(p, b);
        for (int side = 0; side < 2; side++) {
            p->shoulder_flex[side] = 32 * DEG;
            p->shoulder_abduct[side] = 10 * DEG;
            p->elbow[side] = 92 * DEG;
        }
        p->head_pitch = 32 * DEG;
        p->lean = 12 * DEG;
        /* A page turn every few seconds: one hand sweeps across. */
        double turn = sin(2 * M_PI * t / 3.5 + perf->wobble_phase);
        p->shoulder_abduct[perf->hand] += 18 * DEG * fmax(0, turn * turn * turn);
        break;
    }
    case ACT_FEEDCAT:
        synth_animate_feed(p, b, perf->hand, t, perf->seconds, perf->wobble_phase);
        break;
    case ACT_WATCHTV: {
        synth_posture_sit(p, b);
        for (int side = 0; side < 2; side++) {
            p->shoulder_flex[side] = 8 * DEG;
            p->elbow[side] = 50 * DEG;
        }
        p->lean = -8 * DEG; /* leaning back */
        p->head_pitch = -4 * DEG;
        p->head_yaw = 3 * DEG * sway;
        break;
    }
    default:
        synth_posture_stand(p, b);
        break;
    }
}

/* Chooses the random parts of a performance in the camera's view. */
static void performance_random(struct performance *perf, enum activity activity, double seconds,
                               const struct camera *cam, struct rng *rng)
{
    memset(perf, 0, sizeof(*perf));
    perf->activity = activity;
    perf->seconds = seconds;
    perf->speed_wobble = rng_range(rng, 0, 0.15);
    perf->wobble_phase = rng_range(rng, 0, 2 * M_PI);
    perf->sway_phase = rng_range(rng, 0, 2 * M_PI);
    perf->hand = rng_below(rng, 2);
    perf->seated = rng_uniform(rng) < 0.6;
    perf->yaw = rng_range(rng, -M_PI, M_PI);

    double depth = rng_range(rng, cam->floor_near, cam->floor_far);
    double column = rng_range(rng, 0.35, 0.65);
    synth_camera_floor_point(cam, column, depth, &perf->start_x, &perf->start_z);

    if (activity == ACT_WALK || activity == ACT_ENTER || activity == ACT_LEAVE) {
        /* Walk stays in view; Enter and Leave cross the edge of the picture. */
        double from_column, to_column, from_depth = depth,
                                       to_depth = rng_range(rng, cam->floor_near, cam->floor_far);
        bool left_to_right = rng_uniform(rng) < 0.5;
        if (activity == ACT_WALK) {
            from_column = rng_range(rng, 0.2, 0.4);
            to_column = rng_range(rng, 0.6, 0.8);
        } else {
            from_column = rng_range(rng, -0.9, -0.6); /* well outside the frame */
            to_column = rng_range(rng, 0.35, 0.65);
        }
        if (left_to_right == false) {
            from_column = 1 - from_column;
            to_column = 1 - to_column;
        }
        if (activity == ACT_LEAVE) {
            double c = from_column, d = from_depth;
            from_column = to_column;
            to_column = c;
            from_depth = to_depth;
            to_depth = d;
        }
        synth_camera_floor_point(cam, from_column, from_depth, &perf->start_x, &perf->start_z);
        synth_camera_floor_point(cam, to_column, to_depth, &perf->end_x, &perf->end_z);
    }

    perf->sips = seconds > 5 && rng_uniform(rng) < 0.5 ? 2 : 1;
    double room = seconds - 3.4 * perf->sips;
    perf->sip_times[0] = rng_range(rng, 0.2, fmax(0.3, room / perf->sips));
    perf->sip_times[1] = perf->sip_times[0] + 3.4 + rng_range(rng, 0, fmax(0.1, room / 2));
}

void synth_observe(struct pose_keypoint out[POSE_NUM_KEYPOINTS], const struct posture *p,
                   const struct body *b, const struct camera *cam, const struct estimator *est,
                   bool nobody, struct rng *rng)
{
    struct vec3 joints[POSE_NUM_KEYPOINTS];
    synth_posture_world(joints, p, b);
    synth_observe_points(out, joints, v3(p->x, p->pelvis, p->z), rotate_y(v3(1, 0, 0), p->yaw),
                         rotate_y(v3(0, 0, 1), p->yaw), cam, est, nobody, rng);
}

void synth_observe_points(struct pose_keypoint out[POSE_NUM_KEYPOINTS],
                          const struct vec3 joints[POSE_NUM_KEYPOINTS], struct vec3 pelvis,
                          struct vec3 body_left, struct vec3 body_front, const struct camera *cam,
                          const struct estimator *est, bool nobody, struct rng *rng)
{
    struct vec3 to_camera = v3_normalize(v3_sub(cam->position, pelvis));
    double left_toward = v3_dot(body_left, to_camera);
    double front_toward = v3_dot(body_front, to_camera);

    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
        double x = 0, y = 0;
        double depth = synth_camera_project(cam, joints[j], &x, &y);
        double score = est->quality + 0.05 * rng_normal(rng) * (est->jitter > 0);

        if (joint_side[j] * left_toward < -0.3)
            score *= rng_range(rng, 0.35, 0.75); /* hidden behind the body */
        if (j <= RIGHT_EYE && front_toward < -0.2)
            score *= 0.3; /* the face turned away */
        if (depth > 0) {
            double sigma = est->jitter * 3.0 / depth;
            x += sigma * rng_normal(rng);
            y += sigma * rng_normal(rng);
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
}

const char *const *synth_task_classes(enum synth_task task, int *ret_count)
{
    if (task == SYNTH_TASK_RECALL) {
        *ret_count = SYNTH_NUM_RECALL;
        return recall_classes;
    }
    if (task == SYNTH_TASK_FALLS) {
        *ret_count = SYNTH_NUM_FALL_CLASSES;
        return synth_fall_classes;
    }
    if (task == SYNTH_TASK_HOME) {
        *ret_count = SYNTH_NUM_HOME;
        return home_classes;
    }
    *ret_count = SYNTH_NUM_ACTIVITIES;
    return activity_classes;
}

int synth_task_parse(const char *text, enum synth_task *ret_task)
{
    if (strcmp(text, "activities") == 0) {
        *ret_task = SYNTH_TASK_ACTIVITIES;
        return 0;
    }
    if (strcmp(text, "recall") == 0) {
        *ret_task = SYNTH_TASK_RECALL;
        return 0;
    }
    if (strcmp(text, "falls") == 0) {
        *ret_task = SYNTH_TASK_FALLS;
        return 0;
    }
    if (strcmp(text, "home") == 0) {
        *ret_task = SYNTH_TASK_HOME;
        return 0;
    }
    return -EINVAL;
}

const char *synth_task_name(enum synth_task task)
{
    static const char *const names[] = {
        [SYNTH_TASK_ACTIVITIES] = "activities",
        [SYNTH_TASK_RECALL] = "recall",
        [SYNTH_TASK_FALLS] = "falls",
        [SYNTH_TASK_HOME] = "home",
    };
    return (unsigned)task < ARRAY_SIZE(names) ? names[task] : "activities";
}

void synth_options_default(struct synth_options *opts)
{
    *opts = (struct synth_options){
        .task = SYNTH_TASK_ACTIVITIES,
        .seed = 1,
        .fps = 10,
        .min_seconds = 4,
        .max_seconds = 8,
        .chain = 1,
        .recall_k = 4,
        .segment_frames = 8,
        .noise = 1,
        .down_seconds = 35,
    };
}

int synth_clip_alloc(struct synth_clip *clip, int frames, struct errbuf *err)
{
    clip->frames = frames;
    clip->keypoints = calloc((size_t)frames, sizeof(*clip->keypoints));
    clip->labels = calloc((size_t)frames, sizeof(*clip->labels));
    if (!clip->keypoints || !clip->labels) {
        synth_clip_done(clip);
        return errbuf_set(err, -ENOMEM, "synth: out of memory for %d frames", frames);
    }
    return 0;
}

void synth_estimator_for(struct estimator *est, const struct synth_options *opts, struct rng *rng)
{
    est->quality = opts->noise > 0 ? rng_range(rng, 0.55, 0.92) : 0.9;
    est->jitter = 0.004 * opts->noise * rng_range(rng, 0.5, 1.5);
    est->dropout = 0.02 * opts->noise;
}

/* Short stretches where the estimator loses the person entirely: frames
 * [*ret_start, *ret_start + *ret_len) of a clip, or none (start -1). */
void synth_gap_random(int *ret_start, int *ret_len, int frames, double noise, struct rng *rng)
{
    *ret_start = -1;
    *ret_len = 0;
    if (rng_uniform(rng) < 0.15 * noise) {
        *ret_len = 2 + rng_below(rng, 5);
        *ret_start = rng_below(rng, frames);
    }
}

/* The seat under a seated performance, as the user of a configured home
 * draws it (docs/SAFETY.md, "Zones"): a chair's box, or for Laydown a sofa
 * long enough to lie on, the head end behind the seat. Deterministic, so
 * that the clips' random draws stay what they were. */
static void add_seat_zone(struct pose_events *ev, const struct performance *perf,
                          const struct camera *cam)
{
    bool seated =
        perf->activity == ACT_SITDOWN || perf->activity == ACT_GETUP ||
        perf->activity == ACT_LAYDOWN || perf->activity == ACT_READBOOK ||
        perf->activity == ACT_WATCHTV ||
        ((perf->activity == ACT_DRINK || perf->activity == ACT_TELEPHONE) && perf->seated);
    if (!seated || ev->n_zones >= POSE_SEQUENCE_MAX_ZONES)
        return;
    bool sofa = perf->activity == ACT_LAYDOWN;
    struct pose_zone *z = &ev->zones[ev->n_zones];
    memset(z, 0, sizeof(*z));
    snprintf(z->name, sizeof(z->name), "%s%d", sofa ? "sofa" : "chair", ev->n_zones + 1);
    str_copy(z->kind, sizeof(z->kind), "seat");
    struct vec3 c = rotate_y(v3(0, 0, sofa ? -0.5 : -0.1), perf->yaw);
    if (synth_box_zone(z, cam, perf->start_x + c.x, perf->start_z + c.z, perf->yaw,
                       sofa ? 0.5 : 0.4, sofa ? 0.95 : 0.4, sofa ? 0.9 : 1.0) > 0)
        ev->n_zones++;
}

static int generate_activities(struct synth_clip *clip, const struct synth_options *opts,
                               struct rng *rng, struct errbuf *err)
{
    struct body body;
    struct camera cam;
    struct estimator est;
    int chain = opts->chain;
    bool home_task = opts->task == SYNTH_TASK_HOME;
    const enum activity *repertoire = home_task ? home_activities : all_activities;
    int n_repertoire = home_task ? SYNTH_NUM_HOME : SYNTH_NUM_ACTIVITIES;
    int picked[64];
    enum activity acts[64];
    double seconds[64];
    int total = 0;

    synth_body_random(&body, rng);
    synth_camera_random(&cam, rng);
    if (opts->home > 0)
        synth_home_view(&cam, &body, opts->home, rng);
    synth_estimator_for(&est, opts, rng);

    for (int i = 0; i < chain; i++) {
        picked[i] = rng_below(rng, n_repertoire);
        acts[i] = repertoire[picked[i]];
        seconds[i] = rng_range(rng, opts->min_seconds, opts->max_seconds);
        total += (int)lround(seconds[i] * opts->fps);
    }
    int r = synth_clip_alloc(clip, total, err);
    if (r < 0)
        return r;
    clip->label = picked[chain - 1];

    int gap_start, gap_len;
    synth_gap_random(&gap_start, &gap_len, total, opts->noise, rng);

    int frame = 0;
    for (int i = 0; i < chain; i++) {
        struct performance perf;
        int frames = (int)lround(seconds[i] * opts->fps);
        double rate = opts->noise > 0 ? rng_range(rng, 0.8, 1.2) : 1.0;
        performance_random(&perf, acts[i], seconds[i], &cam, rng);
        add_seat_zone(&clip->events, &perf, &cam);

        for (int f = 0; f < frames; f++, frame++) {
            double t = f / opts->fps;
            /* Speed variation: a rate and a slow wobble warp the clip's time. */
            double warped =
                fmin(perf.seconds, t * rate + perf.speed_wobble * sin(2 * M_PI * t / perf.seconds +
                                                                      perf.wobble_phase));
            warped = fmax(0, warped);
            struct posture p;
            animate(&p, &body, &perf, warped);
            bool nobody = frame >= gap_start && frame < gap_start + gap_len;
            synth_observe(clip->keypoints[frame], &p, &body, &cam, &est, nobody, rng);
            clip->labels[frame] = picked[i];
        }
    }
    return 0;
}

/* Idle standing with slow arm movements; the event is one segment's gesture. */
static int generate_recall(struct synth_clip *clip, const struct synth_options *opts,
                           struct rng *rng, struct errbuf *err)
{
    struct body body;
    struct camera cam;
    struct estimator est;
    struct performance perf;
    int L = opts->segment_frames;
    int segments = opts->recall_k + 2 + rng_below(rng, 2);
    int event_segment = segments - 1 - opts->recall_k;
    int event = rng_below(rng, SYNTH_NUM_RECALL);

    synth_body_random(&body, rng);
    synth_camera_random(&cam, rng);
    if (opts->home > 0)
        synth_home_view(&cam, &body, opts->home, rng);
    synth_estimator_for(&est, opts, rng);
    performance_random(&perf, ACT_WATCHTV, segments * L / opts->fps, &cam, rng);

    int r = synth_clip_alloc(clip, segments * L, err);
    if (r < 0)
        return r;
    clip->label = event;

    double arm_phase[2] = {rng_range(rng, 0, 2 * M_PI), rng_range(rng, 0, 2 * M_PI)};
    double arm_rate[2] = {rng_range(rng, 0.1, 0.4), rng_range(rng, 0.1, 0.4)};
    for (int f = 0; f < clip->frames; f++) {
        double t = f / opts->fps;
        struct posture p;
        synth_posture_stand(&p, &body);
        p.x = perf.start_x;
        p.z = perf.start_z;
        p.yaw = perf.yaw + 10 * DEG * sin(0.2 * t + perf.sway_phase);
        for (int s = 0; s < 2; s++) {
            /* Filler: the same slow, small arm motion whatever the label. */
            p.shoulder_flex[s] = (10 + 12 * sin(2 * M_PI * arm_rate[s] * t + arm_phase[s])) * DEG;
            p.elbow[s] = (20 + 15 * sin(2 * M_PI * arm_rate[s] * t + arm_phase[s] + 1)) * DEG;
        }
        int segment = f / L;
        if (segment == event_segment) {
            double a = sin(M_PI * ((f % L) + 0.5) / L); /* up and down within the segment */
            switch (event) {
            case 0:
            case 1:
                p.shoulder_flex[event] = lerp(p.shoulder_flex[event], 165 * DEG, a);
                p.elbow[event] = lerp(p.elbow[event], 5 * DEG, a);
                break;
            case 2:
                for (int s = 0; s < 2; s++) {
                    p.shoulder_abduct[s] = lerp(p.shoulder_abduct[s], 85 * DEG, a);
                    p.elbow[s] = lerp(p.elbow[s], 5 * DEG, a);
                }
                break;
            default:
                p.pelvis -= 0.22 * body.height * a;
                for (int s = 0; s < 2; s++) {
                    p.hip[s] = 75 * DEG * a;
                    p.knee[s] = 120 * DEG * a;
                }
                p.lean += 25 * DEG * a;
                break;
            }
        }
        synth_observe(clip->keypoints[f], &p, &body, &cam, &est, false, rng);
        clip->labels[f] = event;
    }
    return 0;
}

int synth_clip_generate(struct synth_clip *clip, const struct synth_options *opts, uint64_t index,
                        struct errbuf *err)
{
    struct rng rng;

    if (opts->fps <= 0 || opts->fps > 120)
        return errbuf_set(err, -EINVAL, "synth: fps %g is outside (0, 120]", opts->fps);
    if (opts->min_seconds <= 0 || opts->max_seconds < opts->min_seconds || opts->max_seconds > 600)
        return errbuf_set(err, -EINVAL, "synth: clip duration range %g..%g s is not valid",
                          opts->min_seconds, opts->max_seconds);
    if (opts->chain < 1 || opts->chain > 64)
        return errbuf_set(err, -EINVAL, "synth: chain %d is outside 1..64", opts->chain);
    if (opts->recall_k < 1 || opts->recall_k > 256 || opts->segment_frames < 1 ||
        opts->segment_frames > 256)
        return errbuf_set(err, -EINVAL, "synth: recall K %d or segment length %d out of range",
                          opts->recall_k, opts->segment_frames);
    if (opts->noise < 0 || opts->noise > 4)
        return errbuf_set(err, -EINVAL, "synth: noise %g is outside 0..4", opts->noise);
    if (!(opts->down_seconds >= 1 && opts->down_seconds <= 3600))
        return errbuf_set(err, -EINVAL, "synth: down time %g s is outside 1..3600",
                          opts->down_seconds);
    if (opts->home < 0 || opts->home > 1000000)
        return errbuf_set(err, -EINVAL, "synth: home %d is outside 0..1000000", opts->home);
    if (opts->home > 0 && opts->task == SYNTH_TASK_FALLS)
        return errbuf_set(err, -EINVAL, "synth: the falls task has no home view");

    /* Each clip has its own stream of random numbers, derived from the seed
     * and its index, so clips can be made in any order on any core. */
    rng_seed(&rng, opts->seed * 0x9e3779b97f4a7c15ull + index);
    memset(clip, 0, sizeof(*clip));
    clip->events.fall_at = clip->events.up_at = -1;
    if (opts->task == SYNTH_TASK_FALLS)
        return synth_generate_falls(clip, opts, index, &rng, err);
    if (opts->task == SYNTH_TASK_RECALL)
        return generate_recall(clip, opts, &rng, err);
    return generate_activities(clip, opts, &rng, err);
}

void synth_clip_done(struct synth_clip *clip)
{
    if (!clip)
        return;
    free(clip->keypoints);
    free(clip->labels);
    clip->keypoints = NULL;
    clip->labels = NULL;
    clip->frames = 0;
}
