/* synth_falls: the falls task of `crt synth` (docs/SAFETY.md, "Synthetic
 * falls"). Clip i shows scene i % SYNTH_NUM_FALL_CASES: a fall forward,
 * backward or to a side from standing, a slow slump from a chair to the
 * floor, or a hard negative that a naive detector takes for a fall: tying a
 * shoe (a bend or a crouch), sitting down hard, lying down on a bed (inside
 * a bed zone) and leaving the picture low. The same people, cameras and
 * estimator defects as the activities (synth.c). Every scene ends with
 * down_seconds of stillness, so that a wrong detection would be confirmed. */
#include "synth_internal.h"

#include <string.h>

const char *const synth_fall_classes[SYNTH_NUM_FALL_CLASSES] = {"Nofall", "Fall"};

enum scene {
    SCENE_FORWARD,
    SCENE_BACKWARD,
    SCENE_SIDEWAYS,
    SCENE_SLUMP,
    SCENE_TIE_SHOE,
    SCENE_SIT_HARD,
    SCENE_BED,
    SCENE_LEAVE_LOW,
};

static const struct {
    const char *name;
    bool fall;
} scenes[] = {
    [SCENE_FORWARD] = {"fall-forward", true},
    [SCENE_BACKWARD] = {"fall-backward", true},
    [SCENE_SIDEWAYS] = {"fall-sideways", true},
    [SCENE_SLUMP] = {"fall-slump", true},
    [SCENE_TIE_SHOE] = {"tie-shoe", false},
    [SCENE_SIT_HARD] = {"sit-hard", false},
    [SCENE_BED] = {"bed", false},
    [SCENE_LEAVE_LOW] = {"leave-low", false},
};
_Static_assert(ARRAY_SIZE(scenes) == SYNTH_NUM_FALL_CASES, "one row per scene");

const char *synth_fall_case_name(int scene)
{
    return scene >= 0 && scene < SYNTH_NUM_FALL_CASES ? scenes[scene].name : "unknown";
}

bool synth_fall_case_is_fall(int scene)
{
    return scene >= 0 && scene < SYNTH_NUM_FALL_CASES && scenes[scene].fall;
}

/* Everything random about one scene. Times are seconds from the first frame. */
struct plan {
    enum scene scene;
    double x, z, yaw;            /* where the event happens, and the facing */
    double from_x, from_z, walk; /* walking in first for walk seconds (0: none) */
    double start, event;         /* the event's start and its duration */
    double hold;                 /* tie a shoe: bent this long */
    double up_at, up;            /* a fallen person gets up at up_at (or -1), taking up */
    double sign;                 /* direction of a fall or a slump: +1 or -1 */
    int variant;                 /* bend or crouch, sit on the edge or flop, ... */
    double depth, lean, speed;   /* the variant's amounts */
    double to_x, to_z;           /* leave low: where the person goes, off the picture */
    double total;
};

/* A body-frame offset (x to the left, z forward) turned by the facing. */
static void move_body(struct posture *p, double dx, double dz)
{
    struct vec3 d = rotate_y(v3(dx, 0, dz), p->yaw);
    p->x += d.x;
    p->z += d.z;
}

/* The pelvis height that keeps the feet on the floor for these leg angles. */
static double feet_on_floor(const struct body *b, double hip, double knee)
{
    return b->thigh * cos(hip) + b->shin * cos(hip - knee) + 0.01 * b->height;
}

static void place(struct posture *p, const struct body *b, const struct plan *pl, double t)
{
    if (pl->walk > 0 && t < pl->walk) {
        double length = hypot(pl->x - pl->from_x, pl->z - pl->from_z);
        double u = t / pl->walk;
        synth_animate_walk(p, b, u * length);
        p->x = lerp(pl->from_x, pl->x, u);
        p->z = lerp(pl->from_z, pl->z, u);
    } else {
        synth_posture_stand(p, b);
        p->x = pl->x;
        p->z = pl->z;
    }
    p->yaw = pl->yaw;
}

/* A fall from standing: the body pivots about the feet, accelerating. */
static void pose_fall(struct posture *p, const struct body *b, const struct plan *pl, double t)
{
    place(p, b, pl, t);
    double u = fmin(1, fmax(0, (t - pl->start) / pl->event));
    double s = u * u;
    if (pl->up_at >= 0)
        s *= 1 - smoothstep(pl->up_at, pl->up_at + pl->up, t);
    double angle = 88 * DEG * s;
    double h0 = synth_standing_pelvis(b);
    double floor = (pl->scene == SCENE_SIDEWAYS ? 0.13 : 0.1) * b->height;
    double reach = h0 * sin(angle) * 0.8;
    p->pelvis = fmax(floor, h0 * cos(angle));
    for (int side = 0; side < 2; side++)
        p->knee[side] += 25 * DEG * sin(M_PI * s);
    double still = sin(0.7 * t + pl->sign); /* a little movement while down */
    switch (pl->scene) {
    case SCENE_FORWARD:
        p->body_pitch = angle;
        move_body(p, 0, reach);
        for (int side = 0; side < 2; side++)
            p->shoulder_flex[side] = lerp(p->shoulder_flex[side], (95 + 10 * still) * DEG, s);
        break;
    case SCENE_BACKWARD:
        p->body_pitch = -angle;
        move_body(p, 0, -reach);
        for (int side = 0; side < 2; side++)
            p->shoulder_abduct[side] = lerp(p->shoulder_abduct[side], (50 + 8 * still) * DEG, s);
        break;
    default:
        p->body_roll = pl->sign * angle;
        move_body(p, -pl->sign * reach, 0);
        p->shoulder_abduct[pl->sign > 0 ? 1 : 0] = (7 + 70 * s) * DEG;
        p->hip[0] = p->hip[1] = 20 * DEG * s; /* curled a little */
        break;
    }
    p->head_pitch = lerp(5 * DEG, -10 * DEG, s);
}

/* A slow slump from a chair down to the floor, on the back or to a side. */
static void pose_slump(struct posture *p, const struct body *b, const struct plan *pl, double t)
{
    synth_posture_sit(p, b);
    p->x = pl->x;
    p->z = pl->z;
    p->yaw = pl->yaw;
    double s = smoothstep(pl->start, pl->start + pl->event, t);
    if (pl->up_at >= 0)
        s *= 1 - smoothstep(pl->up_at, pl->up_at + pl->up, t);
    p->pelvis = lerp(synth_seated_pelvis(b), 0.1 * b->height, s);
    move_body(p, 0, 0.45 * s);
    if (pl->variant == 0) {
        p->body_pitch = -80 * DEG * s;
    } else {
        p->body_pitch = -20 * DEG * s;
        p->body_roll = pl->sign * 75 * DEG * s;
    }
    for (int side = 0; side < 2; side++) {
        p->hip[side] = lerp(88 * DEG, 25 * DEG, s);
        p->knee[side] = lerp(88 * DEG, 35 * DEG, s);
        p->elbow[side] = lerp(60 * DEG, 20 * DEG, s);
    }
    p->head_pitch = lerp(5 * DEG, 30 * DEG, s);
}

/* Bend or crouch to a shoe for a while, then up again. */
static void pose_tie_shoe(struct posture *p, const struct body *b, const struct plan *pl, double t)
{
    place(p, b, pl, t);
    double down = pl->start + pl->event + pl->hold;
    double s = smoothstep(pl->start, pl->start + pl->event, t) *
               (1 - smoothstep(down, down + pl->event, t));
    if (pl->variant == 0) { /* a bend, legs nearly straight */
        p->lean = lerp(3 * DEG, pl->lean, s);
        for (int side = 0; side < 2; side++) {
            p->knee[side] = lerp(3 * DEG, 25 * DEG, s);
            p->shoulder_flex[side] = lerp(4 * DEG, 25 * DEG - p->lean, s);
        }
        p->pelvis -= 0.04 * b->height * s;
        move_body(p, 0, -0.12 * s);
    } else { /* a crouch */
        double hip = 80 * DEG * s, knee = 120 * DEG * s;
        p->hip[0] = p->hip[1] = hip;
        p->knee[0] = p->knee[1] = knee;
        p->knee[pl->sign > 0 ? 0 : 1] += 10 * DEG * s;
        p->pelvis = feet_on_floor(b, hip, knee);
        p->lean = lerp(3 * DEG, pl->lean, s);
        for (int side = 0; side < 2; side++)
            p->shoulder_flex[side] = lerp(4 * DEG, 30 * DEG - 0.5 * p->lean, s);
    }
    p->head_pitch = lerp(5 * DEG, 35 * DEG, s);
}

/* Sit down hard on a chair, then stay: upright, or slouched back. */
static void pose_sit_hard(struct posture *p, const struct body *b, const struct plan *pl, double t)
{
    place(p, b, pl, t);
    double u = fmin(1, fmax(0, (t - pl->start) / pl->event));
    double s = pow(u, 1.5);
    double bounce =
        0.02 * b->height * sin(M_PI * fmin(1, fmax(0, (t - pl->start - pl->event) / 0.4)));
    p->pelvis = lerp(synth_standing_pelvis(b), synth_seated_pelvis(b), s) - bounce;
    for (int side = 0; side < 2; side++) {
        p->hip[side] = 88 * DEG * s;
        p->knee[side] = 88 * DEG * s;
        p->elbow[side] = lerp(10 * DEG, 55 * DEG, s);
    }
    double slouch = pl->variant ? smoothstep(pl->start + 6, pl->start + 9, t) : 0;
    p->lean = 3 * DEG + 25 * DEG * sin(M_PI * s) + lerp(4 * DEG, pl->lean, slouch);
}

/* Onto a bed: sit on its edge and lie back, or drop backward onto it. */
static void pose_bed(struct posture *p, const struct body *b, const struct plan *pl, double t)
{
    place(p, b, pl, t);
    double bed = pl->depth; /* the mattress's height */
    if (pl->variant == 0) {
        double sit = smoothstep(pl->start, pl->start + 1.5, t);
        double lie = smoothstep(pl->start + 3, pl->start + 3 + pl->event, t);
        for (int side = 0; side < 2; side++) {
            p->hip[side] = 88 * DEG * sit * (1 - lie);
            p->knee[side] = 88 * DEG * sit * (1 - lie) + 5 * DEG;
        }
        p->pelvis = lerp(lerp(synth_standing_pelvis(b), bed + 0.04 * b->height, sit),
                         bed + 0.1 * b->height, lie);
        p->body_pitch = -85 * DEG * lie;
        p->lean = 6 * DEG * (1 - lie);
    } else {
        double s = smoothstep(pl->start, pl->start + pl->event, t);
        p->pelvis = lerp(synth_standing_pelvis(b), bed + 0.1 * b->height, s);
        p->body_pitch = -85 * DEG * s;
        for (int side = 0; side < 2; side++)
            p->shoulder_abduct[side] = lerp(7 * DEG, 45 * DEG, s);
    }
}

/* Crouch and go off the picture: out of a side or under the camera. */
static void pose_leave_low(struct posture *p, const struct body *b, const struct plan *pl, double t)
{
    place(p, b, pl, t);
    if (t < pl->start)
        return;
    double length = hypot(pl->to_x - pl->x, pl->to_z - pl->z);
    double gone = fmin(length, (t - pl->start) * pl->speed);
    double s = smoothstep(pl->start, pl->start + pl->event, t);
    synth_animate_walk(p, b, gone);
    p->x = lerp(pl->x, pl->to_x, gone / length);
    p->z = lerp(pl->z, pl->to_z, gone / length);
    p->yaw = atan2(pl->to_x - pl->x, pl->to_z - pl->z);
    p->pelvis -= pl->depth * b->height * s;
    p->lean = lerp(6 * DEG, pl->lean, s);
    for (int side = 0; side < 2; side++)
        p->knee[side] += 50 * DEG * s;
}

static void pose_scene(struct posture *p, const struct body *b, const struct plan *pl, double t)
{
    switch (pl->scene) {
    case SCENE_SLUMP:
        pose_slump(p, b, pl, t);
        break;
    case SCENE_TIE_SHOE:
        pose_tie_shoe(p, b, pl, t);
        break;
    case SCENE_SIT_HARD:
        pose_sit_hard(p, b, pl, t);
        break;
    case SCENE_BED:
        pose_bed(p, b, pl, t);
        break;
    case SCENE_LEAVE_LOW:
        pose_leave_low(p, b, pl, t);
        break;
    default:
        pose_fall(p, b, pl, t);
        break;
    }
}

static void plan_random(struct plan *pl, enum scene scene, const struct camera *cam,
                        const struct synth_options *opts, struct rng *rng)
{
    memset(pl, 0, sizeof(*pl));
    pl->scene = scene;
    pl->up_at = -1;
    pl->sign = rng_uniform(rng) < 0.5 ? -1 : 1;
    pl->variant = rng_below(rng, 2);
    synth_camera_floor_point(cam, rng_range(rng, 0.35, 0.65), rng_range(rng, 2.5, 4.5), &pl->x,
                             &pl->z);
    pl->yaw = rng_range(rng, -M_PI, M_PI);
    pl->start = rng_range(rng, 3, 8);
    bool standing_start = scene != SCENE_SLUMP && scene != SCENE_SIT_HARD && scene != SCENE_BED;
    if (standing_start && rng_uniform(rng) < 0.5) {
        /* Walk in from a couple of metres away, facing the way walked. */
        pl->walk = rng_range(rng, 1.5, fmin(4, pl->start - 0.5));
        double heading = rng_range(rng, -M_PI, M_PI);
        double distance = 1.1 * pl->walk;
        pl->from_x = pl->x - distance * sin(heading);
        pl->from_z = pl->z - distance * cos(heading);
        pl->yaw = heading;
    }
    double down = opts->down_seconds;
    switch (scene) {
    case SCENE_FORWARD:
    case SCENE_BACKWARD:
    case SCENE_SIDEWAYS:
        pl->event = rng_range(rng, 0.6, 1.4);
        break;
    case SCENE_SLUMP:
        pl->event = rng_range(rng, 2.0, 4.0);
        break;
    case SCENE_TIE_SHOE:
        pl->event = rng_range(rng, 0.8, 1.6);
        pl->hold = rng_range(rng, 3, 12);
        pl->lean = pl->variant == 0 ? rng_range(rng, 70, 95) * DEG : rng_range(rng, 25, 50) * DEG;
        pl->total = pl->start + 2 * pl->event + pl->hold + down;
        return;
    case SCENE_SIT_HARD:
        pl->event = rng_range(rng, 0.25, 0.6);
        pl->lean = rng_range(rng, -20, -5) * DEG;
        break;
    case SCENE_BED:
        pl->event = pl->variant == 0 ? rng_range(rng, 1.5, 3.0) : rng_range(rng, 0.6, 1.2);
        pl->depth = rng_range(rng, 0.4, 0.6);
        break;
    case SCENE_LEAVE_LOW: {
        pl->event = rng_range(rng, 0.6, 1.5);
        pl->depth = rng_range(rng, 0.15, 0.3);
        pl->lean = rng_range(rng, 25, 50) * DEG;
        pl->speed = rng_range(rng, 0.5, 1.0);
        int way = rng_below(rng, 3);
        double column = way == 0 ? -0.8 : way == 1 ? 1.8 : 0.5;
        synth_camera_floor_point(cam, column, way == 2 ? 0.3 : rng_range(rng, 2.5, 4.5), &pl->to_x,
                                 &pl->to_z);
        double length = hypot(pl->to_x - pl->x, pl->to_z - pl->z);
        pl->total = pl->start + length / pl->speed + down;
        return;
    }
    }
    pl->total = pl->start + pl->event + down;
    if (scenes[scene].fall && rng_uniform(rng) < 0.35) {
        pl->up = rng_range(rng, 2.5, 4.5);
        pl->up_at = pl->total;
        pl->total += pl->up + rng_range(rng, 4, 10);
    }
}

/* The picture's outline of a box on the floor: the convex hull of its
 * projected corners, clipped to the frame; 0 points when it is not seen. */
int synth_box_zone(struct pose_zone *zone, const struct camera *cam, double cx, double cz,
                   double yaw, double half_w, double half_l, double height)
{
    double pts[8][2];
    int n = 0;
    for (int k = 0; k < 8; k++) {
        struct vec3 corner =
            rotate_y(v3(k & 1 ? half_w : -half_w, 0, k & 2 ? half_l : -half_l), yaw);
        corner = v3(cx + corner.x, k & 4 ? height : 0, cz + corner.z);
        double x, y;
        if (synth_camera_project(cam, corner, &x, &y) < 0)
            return 0;
        pts[n][0] = fmin(1, fmax(0, x));
        pts[n][1] = fmin(1, fmax(0, y));
        n++;
    }
    /* Andrew's monotone chain: sort by x then y, lower and upper hulls. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && (pts[j][0] < pts[j - 1][0] ||
                                  (pts[j][0] == pts[j - 1][0] && pts[j][1] < pts[j - 1][1]));
             j--) {
            double tx = pts[j][0], ty = pts[j][1];
            pts[j][0] = pts[j - 1][0];
            pts[j][1] = pts[j - 1][1];
            pts[j - 1][0] = tx;
            pts[j - 1][1] = ty;
        }
    double hull[17][2];
    int h = 0;
    for (int pass = 0; pass < 2; pass++) {
        int base = h;
        for (int k = 0; k < n; k++) {
            const double *q = pts[pass == 0 ? k : n - 1 - k];
            while (h - base >= 2) {
                const double *a = hull[h - 2], *b = hull[h - 1];
                double cross = (b[0] - a[0]) * (q[1] - a[1]) - (b[1] - a[1]) * (q[0] - a[0]);
                if (cross > 1e-9)
                    break;
                h--;
            }
            hull[h][0] = q[0];
            hull[h][1] = q[1];
            h++;
        }
        h--; /* the last point starts the other half */
    }
    if (h < 3)
        return 0;
    zone->n = h;
    for (int i = 0; i < h; i++) {
        zone->points[i][0] = (float)hull[i][0];
        zone->points[i][1] = (float)hull[i][1];
    }
    return h;
}

static void add_zones(struct pose_events *ev, const struct plan *pl, const struct camera *cam,
                      struct rng *rng)
{
    struct pose_zone *z = &ev->zones[0];
    memset(z, 0, sizeof(*z));
    if (pl->scene == SCENE_BED) {
        /* The person lies along the facing, the head behind: the bed under them. */
        struct vec3 c = rotate_y(v3(0, 0, -0.15), pl->yaw);
        str_copy(z->name, sizeof(z->name), "bed");
        str_copy(z->kind, sizeof(z->kind), "bed");
        if (synth_box_zone(z, cam, pl->x + c.x, pl->z + c.z, pl->yaw, rng_range(rng, 0.5, 0.8),
                           rng_range(rng, 1.0, 1.15), pl->depth + 0.3) > 0)
            ev->n_zones = 1;
    } else if (pl->scene == SCENE_SIT_HARD && pl->variant) {
        str_copy(z->name, sizeof(z->name), "armchair");
        str_copy(z->kind, sizeof(z->kind), "seat");
        struct vec3 c = rotate_y(v3(0, 0, -0.1), pl->yaw);
        if (synth_box_zone(z, cam, pl->x + c.x, pl->z + c.z, pl->yaw, 0.4, 0.4, 1.0) > 0)
            ev->n_zones = 1;
    }
}

/* Whether the person's hips and head are in the picture at time t. */
static bool in_view(const struct plan *pl, const struct body *b, const struct camera *cam, double t)
{
    struct vec3 joints[POSE_NUM_KEYPOINTS];
    struct posture p;
    pose_scene(&p, b, pl, t);
    synth_posture_world(joints, &p, b);
    static const int seen[] = {NOSE, LEFT_HIP, RIGHT_HIP, LEFT_SHOULDER};
    for (size_t i = 0; i < ARRAY_SIZE(seen); i++) {
        double x, y;
        if (synth_camera_project(cam, joints[seen[i]], &x, &y) < 0 || x < 0.02 || x > 0.98 ||
            y < 0.02 || y > 0.98)
            return false;
    }
    return true;
}

int synth_generate_falls(struct synth_clip *clip, const struct synth_options *opts, uint64_t index,
                         struct rng *rng, struct errbuf *err)
{
    struct body body;
    struct camera cam;
    struct estimator est;
    struct plan pl;
    enum scene scene = (enum scene)(index % SYNTH_NUM_FALL_CASES);

    synth_body_random(&body, rng);
    synth_camera_random(&cam, rng);
    synth_estimator_for(&est, opts, rng);
    plan_random(&pl, scene, &cam, opts, rng);
    /* A fall or a bed is turned until the person ends in the picture. */
    if (scenes[scene].fall || scene == SCENE_BED)
        for (int turn = 0; turn < 4 && !in_view(&pl, &body, &cam, pl.start + pl.event + 1);
             turn++) {
            pl.yaw += M_PI / 2;
            pl.walk = 0;
        }

    int frames = (int)lround(pl.total * opts->fps);
    int r = synth_clip_alloc(clip, frames, err);
    if (r < 0)
        return r;
    struct pose_events *ev = &clip->events;
    str_copy(ev->scene, sizeof(ev->scene), scenes[scene].name);
    ev->fall_at = scenes[scene].fall ? pl.start : -1;
    ev->up_at = pl.up_at;
    add_zones(ev, &pl, &cam, rng);
    clip->label = scenes[scene].fall ? 1 : 0;

    int gap_start, gap_len;
    synth_gap_random(&gap_start, &gap_len, frames, opts->noise, rng);
    for (int f = 0; f < frames; f++) {
        double t = f / opts->fps;
        struct posture p;
        pose_scene(&p, &body, &pl, t);
        bool nobody = f >= gap_start && f < gap_start + gap_len;
        synth_observe(clip->keypoints[f], &p, &body, &cam, &est, nobody, rng);
        bool down = ev->fall_at >= 0 && t >= ev->fall_at && (ev->up_at < 0 || t < ev->up_at);
        clip->labels[f] = down ? 1 : 0;
    }
    return 0;
}
