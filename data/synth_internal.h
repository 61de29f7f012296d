/* synth_internal: what synth.c's motion and camera share with the fall
 * scenes of synth_falls.c; private to data/. */
#ifndef CRTD_DATA_SYNTH_INTERNAL_H
#define CRTD_DATA_SYNTH_INTERNAL_H

#include <math.h>

#include "data.h"

enum joint {
    NOSE,
    LEFT_EYE,
    RIGHT_EYE,
    LEFT_EAR,
    RIGHT_EAR,
    LEFT_SHOULDER,
    RIGHT_SHOULDER,
    LEFT_ELBOW,
    RIGHT_ELBOW,
    LEFT_WRIST,
    RIGHT_WRIST,
    LEFT_HIP,
    RIGHT_HIP,
    LEFT_KNEE,
    RIGHT_KNEE,
    LEFT_ANKLE,
    RIGHT_ANKLE,
};

#define DEG (M_PI / 180.0)

struct vec3 {
    double x, y, z;
};

static inline struct vec3 v3(double x, double y, double z)
{
    return (struct vec3){x, y, z};
}

static inline struct vec3 v3_add(struct vec3 a, struct vec3 b)
{
    return v3(a.x + b.x, a.y + b.y, a.z + b.z);
}

static inline struct vec3 v3_sub(struct vec3 a, struct vec3 b)
{
    return v3(a.x - b.x, a.y - b.y, a.z - b.z);
}

static inline struct vec3 v3_scale(struct vec3 a, double s)
{
    return v3(a.x * s, a.y * s, a.z * s);
}

static inline double v3_dot(struct vec3 a, struct vec3 b)
{
    return a.x * b.x + a.y * b.y + a.z * b.z;
}

static inline struct vec3 v3_cross(struct vec3 a, struct vec3 b)
{
    return v3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}

static inline struct vec3 v3_normalize(struct vec3 a)
{
    double n = sqrt(v3_dot(a, a));
    return n > 0 ? v3_scale(a, 1.0 / n) : a;
}

/* Rotation about the body's left-right (x) axis: positive tips +y toward +z. */
static inline struct vec3 rotate_x(struct vec3 a, double angle)
{
    double c = cos(angle), s = sin(angle);
    return v3(a.x, a.y * c - a.z * s, a.y * s + a.z * c);
}

/* Rotation about the vertical (y) axis: the body's facing. */
static inline struct vec3 rotate_y(struct vec3 a, double angle)
{
    double c = cos(angle), s = sin(angle);
    return v3(a.x * c + a.z * s, a.y, -a.x * s + a.z * c);
}

/* Rotation about the front-back (z) axis: arm abduction. */
static inline struct vec3 rotate_z(struct vec3 a, double angle)
{
    double c = cos(angle), s = sin(angle);
    return v3(a.x * c - a.y * s, a.x * s + a.y * c, a.z);
}

static inline double lerp(double a, double b, double t)
{
    return a + (b - a) * t;
}

static inline double smoothstep(double lo, double hi, double t)
{
    if (t <= lo)
        return 0;
    if (t >= hi)
        return 1;
    double u = (t - lo) / (hi - lo);
    return u * u * (3 - 2 * u);
}

/* Limb lengths of one person, in metres. */
struct body {
    double height, shoulder_half, hip_half, spine, thigh, shin, upper_arm, forearm, neck;
};

/* Joint angles and placement: everything an activity animates. Index 0 of
 * the per-side arrays is the left limb, 1 the right. Body frame: x to the
 * person's left, y up, z forward. */
struct posture {
    double x, z, yaw;  /* floor position and facing */
    double pelvis;     /* pelvis height */
    double body_pitch; /* whole-body tilt, -90 degrees lies on the back */
    double body_roll;  /* whole-body tilt to a side (falls), after the pitch */
    double lean;       /* torso forward lean */
    double hip[2], knee[2];
    double shoulder_flex[2], shoulder_abduct[2], elbow[2];
    double head_yaw, head_pitch;
};

/* A pinhole camera on a wall, looking down at the room. */
struct camera {
    struct vec3 position, right, up, forward;
    double focal_x, focal_y; /* in units of the image's width and height */
    /* Where performances stand: this far along the floor in front of the
     * camera, metres (synth_camera_aim: 2.5 to 4.5). */
    double floor_near, floor_far;
};

/* What a pose estimator reports for one frame of a posture. */
struct estimator {
    double quality; /* typical score of a well-seen joint */
    double jitter;  /* standard deviation, in image widths at 3 m */
    double dropout; /* chance per joint per frame of a wild miss */
};

void synth_body_random(struct body *b, struct rng *rng);
double synth_standing_pelvis(const struct body *b);
double synth_seated_pelvis(const struct body *b);
void synth_posture_stand(struct posture *p, const struct body *b);
void synth_posture_sit(struct posture *p, const struct body *b);
/* Joint positions in the world from a posture (forward kinematics). */
void synth_posture_world(struct vec3 out[POSE_NUM_KEYPOINTS], const struct posture *p,
                         const struct body *b);
/* Nose, eyes and ears of out from the head's centre, its forward and left
 * directions (unit, at right angles) and the person's height (metres). */
void synth_face(struct vec3 out[POSE_NUM_KEYPOINTS], struct vec3 head, struct vec3 fwd,
                struct vec3 left, double height);
void synth_animate_walk(struct posture *p, const struct body *b, double distance);

void synth_camera_random(struct camera *cam, struct rng *rng);
/* A camera at position looking at target, y up and no roll, hfov radians
 * wide, 4:3 picture. */
void synth_camera_aim(struct camera *cam, struct vec3 position, struct vec3 target, double hfov);
/* Projects a point; returns its depth (negative when behind the camera). */
double synth_camera_project(const struct camera *cam, struct vec3 point, double *ret_x,
                            double *ret_y);
/* The floor point in front of the camera at a depth and an image column. */
void synth_camera_floor_point(const struct camera *cam, double column, double depth, double *x,
                              double *z);

void synth_estimator_for(struct estimator *est, const struct synth_options *opts, struct rng *rng);
/* What a pose estimator reports for one frame of a posture. */
void synth_observe(struct pose_keypoint out[POSE_NUM_KEYPOINTS], const struct posture *p,
                   const struct body *b, const struct camera *cam, const struct estimator *est,
                   bool nobody, struct rng *rng);
/* The same from world joint positions: pelvis is the body's centre,
 * body_left and body_front its horizontal left and forward directions
 * (unit), which decide the far side's lower scores and a face turned away. */
void synth_observe_points(struct pose_keypoint out[POSE_NUM_KEYPOINTS],
                          const struct vec3 joints[POSE_NUM_KEYPOINTS], struct vec3 pelvis,
                          struct vec3 body_left, struct vec3 body_front, const struct camera *cam,
                          const struct estimator *est, bool nobody, struct rng *rng);
/* A stretch of 2-6 frames with nobody found, with chance 0.15 x noise:
 * frames [*ret_start, *ret_start + *ret_len), or none (start -1, length 0). */
void synth_gap_random(int *ret_start, int *ret_len, int frames, double noise, struct rng *rng);
int synth_clip_alloc(struct synth_clip *clip, int frames, struct errbuf *err);

/* Home N (synth_home.c): cam becomes its one camera and body one of its three
 * people (chosen with rng); the same home always has the same camera and
 * people, whatever the clip. */
void synth_home_view(struct camera *cam, struct body *body, int home, struct rng *rng);
/* Feed.Cat at clip time t of a performance seconds long: bend down at the
 * waist, pour with one hand near the floor, straighten up (synth_home.c). */
void synth_animate_feed(struct posture *p, const struct body *b, int hand, double t, double seconds,
                        double phase);

/* The falls task (synth_falls.c): per-frame classes Nofall, Fall. */
#define SYNTH_NUM_FALL_CLASSES 2
extern const char *const synth_fall_classes[SYNTH_NUM_FALL_CLASSES];
/* The picture's outline of a box of furniture standing on the floor at
 * (cx, cz), turned by yaw, 2 half_w wide, 2 half_l long, height tall: the
 * hull of its corners, clipped to the frame; returns its corners, 0 when a
 * corner is behind the camera. */
int synth_box_zone(struct pose_zone *zone, const struct camera *cam, double cx, double cz,
                   double yaw, double half_w, double half_l, double height);

int synth_generate_falls(struct synth_clip *clip, const struct synth_options *opts, uint64_t index,
                         struct rng *rng, struct errbuf *err);

#endif
