/* fall: the fall detector, a small state machine per person track over its
 * COCO-17 keypoints (docs/SAFETY.md, "The fall detector").
 *
 *            a descent, then on the floor for lying_hold_s
 *     NONE ----------------------------------------> SUSPECTED
 *      ^  ^   up again, lying in a bed/seat zone,        |
 *      |  +-- or unseen for lost_s  ---------------------+
 *      |                                                 | down for confirm_s
 *      |            up again for up_hold_s               v
 *      +------------------------------------------- CONFIRMED
 *
 * What a frame says, in image coordinates only (no camera calibration):
 * - the body centre is the mid-hip (one hip when only one is seen), the
 *   shoulder centre likewise; a frame without both is not seen;
 * - the torso's rise is how far the shoulder centre is above the hip
 *   centre, over the rise it had while the person was last upright (a
 *   reference that follows the person walking nearer or farther). Its
 *   arcsine is the torso tilt in degrees from horizontal: a torso lying
 *   across the picture has no rise, and one lying along the camera's view
 *   is foreshortened to a fraction of its upright rise;
 * - the body's height is 3.3 upright torso rises (a spine is 0.30 of a
 *   person's height);
 * - standing legs are the ankles below the hips by stand_legs torso rises
 *   (legs are 1.6 torso lengths, and standing they are as upright as it);
 * - a descent is how far the body centre dropped below its highest point of
 *   the last descent_window_s (held two frames), over the body's height, or
 *   the shoulders' drop when not on standing legs;
 * - on the floor is lying, or the hips down within floor_hips of the height
 *   they had above the ankles before the descent with the torso below
 *   up_tilt (a torso lying along the view keeps much of its rise), outside
 *   bed and seat zones for lying_hold_s;
 * - a centre that jumps more than max_jump body heights between frames
 *   starts the detector again (another person, or a cut).
 * Getting up is the torso back above up_tilt on standing legs, or with the
 * centre risen min_rise of the height above its lowest point since the
 * fall, or back within half of that of where it was before the descent (a
 * bend that looked like one): sitting up on the floor is not getting up. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "safety.h"

#define DEG_PER_RAD (180.0 / M_PI)
/* A person's height over the upright torso's rise (spine 0.30 of height). */
#define HEIGHT_PER_TORSO 3.3f
/* How fast the upright reference follows a person walking nearer or away. */
#define REF_TAU_S 1.0
/* Upright in the picture for this long resets a reference gone stale. */
#define REF_STALE_S 10.0
/* Upright on standing legs this long resets the reference. */
#define STAND_STALE_S 0.5
/* Seen frames further apart than this are not compared for a jump. */
#define JUMP_GAP_S 1.0
/* The history of the body centre holds at most this many frames a second. */
#define MAX_FPS 64

static const char *const state_names[] = {
    [FALL_NONE] = "none",
    [FALL_SUSPECTED] = "suspected",
    [FALL_CONFIRMED] = "confirmed",
};
_Static_assert(ARRAY_SIZE(state_names) == FALL_STATE_COUNT, "one name per fall state");

const char *fall_state_name(enum fall_state state)
{
    return state >= 0 && state < FALL_STATE_COUNT ? state_names[state] : "unknown";
}

void fall_options_default(struct fall_options *opts)
{
    *opts = (struct fall_options){
        .confirm_s = 20,
        .descent_window_s = 4,
        .min_descent = 0.1f,
        .max_torso_tilt = 40,
        .min_score = POSE_MIN_SCORE,
        .settle_s = 3,
        .up_tilt = 55,
        .min_rise = 0.2f,
        .up_hold_s = 1.5,
        .lost_s = 5,
        .stand_legs = 1.2f,
        .max_jump = 1.0f,
        .lying_hold_s = 0.6,
        .floor_hips = 0.3f,
    };
}

struct centre_sample {
    double t;
    float y;          /* the hip centre */
    float shoulder_y; /* the shoulder centre */
    float ankle_y;    /* the ankle centre, NAN when unseen */
};

struct fall_detector {
    struct fall_options opts;
    enum fall_state state;

    /* The upright reference: the torso's rise, in image heights. */
    float ref_rise;
    double upright_since;  /* the torso upright in the picture since, or -1 */
    double standing_since; /* ... and on standing legs since, or -1 */
    float last_hip[2];     /* the hip centre in the last frame seen */

    /* Body centre heights over the last descent_window_s. */
    struct centre_sample *history;
    int capacity, head, count;

    double descent_t;   /* the last time a fast descent was seen, or -inf */
    double suspected_t; /* when SUSPECTED began */
    double last_seen_t; /* the last frame with a usable skeleton */
    float lowest_y;     /* the body centre's lowest point since going down */
    float top_y;        /* its highest point before the descent */
    float floor_top_y;  /* the hips' highest point of the whole descent */
    float floor_y;      /* the ankles there (the floor under the person), or NAN */
    double up_since;    /* up again since, or -1 */
    double fine_since;  /* lying in a bed or seat zone since, or -1 */
    double floor_since; /* on the floor since, or -1 */
    double descent_at;  /* what the report says */
    float evidence;     /* the segment model's last P(Fall), or NAN */
};

int fall_detector_new(const struct fall_options *opts, struct fall_detector **ret_det,
                      struct errbuf *err)
{
    struct fall_options o;
    if (opts)
        o = *opts;
    else
        fall_options_default(&o);
    if (!(o.confirm_s >= 0 && o.confirm_s <= 3600))
        return errbuf_set(err, -EINVAL, "fall: confirm_s %g is outside 0..3600 s", o.confirm_s);
    if (!(o.descent_window_s > 0 && o.descent_window_s <= 30))
        return errbuf_set(err, -EINVAL, "fall: descent_window_s %g is outside (0, 30] s",
                          o.descent_window_s);
    if (!(o.min_descent > 0 && o.min_descent < 2))
        return errbuf_set(err, -EINVAL, "fall: min_descent %g is outside (0, 2)",
                          (double)o.min_descent);
    if (!(o.max_torso_tilt > 0 && o.max_torso_tilt < o.up_tilt && o.up_tilt <= 90))
        return errbuf_set(err, -EINVAL,
                          "fall: max_torso_tilt %g and up_tilt %g must satisfy 0 < max < up <= 90",
                          (double)o.max_torso_tilt, (double)o.up_tilt);
    if (!(o.min_score >= 0 && o.min_score <= 1))
        return errbuf_set(err, -EINVAL, "fall: min_score %g is outside 0..1", (double)o.min_score);
    if (!(o.settle_s >= 0 && o.settle_s <= 30) || !(o.up_hold_s >= 0 && o.up_hold_s <= 60) ||
        !(o.lost_s > 0 && o.lost_s <= 600) || !(o.min_rise > 0 && o.min_rise < 2))
        return errbuf_set(
            err, -EINVAL,
            "fall: settle_s %g, up_hold_s %g, lost_s %g or min_rise %g is out of range", o.settle_s,
            o.up_hold_s, o.lost_s, (double)o.min_rise);

    if (!(o.stand_legs > 0 && o.stand_legs < 10) || !(o.max_jump > 0 && o.max_jump <= 100) ||
        !(o.lying_hold_s >= 0 && o.lying_hold_s <= 30) ||
        !(o.floor_hips >= 0 && o.floor_hips < 1) || !(o.model_min_p >= 0 && o.model_min_p <= 1))
        return errbuf_set(err, -EINVAL,
                          "fall: stand_legs %g, max_jump %g, lying_hold_s %g, floor_hips %g or "
                          "model_min_p %g is out of range",
                          (double)o.stand_legs, (double)o.max_jump, o.lying_hold_s,
                          (double)o.floor_hips, (double)o.model_min_p);

    struct fall_detector *det = calloc(1, sizeof(*det));
    if (!det)
        return errbuf_set(err, -ENOMEM, "fall: out of memory");
    det->opts = o;
    det->capacity = (int)ceil(o.descent_window_s * MAX_FPS) + 2;
    det->history = calloc((size_t)det->capacity, sizeof(*det->history));
    if (!det->history) {
        free(det);
        return errbuf_set(err, -ENOMEM, "fall: out of memory");
    }
    fall_detector_reset(det);
    *ret_det = det;
    return 0;
}

struct fall_detector *fall_detector_free(struct fall_detector *det)
{
    if (det) {
        free(det->history);
        free(det);
    }
    return NULL;
}

void fall_detector_reset(struct fall_detector *det)
{
    det->state = FALL_NONE;
    det->ref_rise = 0;
    det->upright_since = -1;
    det->standing_since = -1;
    det->head = det->count = 0;
    det->descent_t = -INFINITY;
    det->suspected_t = 0;
    det->last_seen_t = -INFINITY;
    det->lowest_y = 0;
    det->top_y = 0;
    det->floor_top_y = 0;
    det->floor_y = NAN;
    det->up_since = -1;
    det->fine_since = -1;
    det->floor_since = -1;
    det->descent_at = 0;
    det->evidence = NAN;
}

void fall_detector_evidence(struct fall_detector *det, float p_fall)
{
    det->evidence = p_fall;
}

static bool seen(const struct pose_keypoint *k, float min_score)
{
    return k->score >= min_score && isfinite(k->x) && isfinite(k->y) && k->x >= 0 && k->x <= 1 &&
           k->y >= 0 && k->y <= 1;
}

/* The middle of a left/right pair, or the one side seen; false for neither. */
static bool pair_centre(const struct pose_keypoint *kp, int left, float min_score, float ret[2])
{
    bool l = seen(&kp[left], min_score), r = seen(&kp[left + 1], min_score);
    if (!l && !r)
        return false;
    const struct pose_keypoint *a = l ? &kp[left] : &kp[left + 1];
    const struct pose_keypoint *b = r ? &kp[left + 1] : &kp[left];
    ret[0] = (a->x + b->x) / 2;
    ret[1] = (a->y + b->y) / 2;
    return true;
}

static bool in_fine_zone(const struct zone *zones, int n_zones, const float hip[2],
                         const float shoulder[2])
{
    float mid[2] = {(hip[0] + shoulder[0]) / 2, (hip[1] + shoulder[1]) / 2};
    for (int i = 0; zones && i < n_zones; i++) {
        if (zones[i].kind != ZONE_BED && zones[i].kind != ZONE_SEAT)
            continue;
        if (zone_contains(&zones[i], hip[0], hip[1]) || zone_contains(&zones[i], mid[0], mid[1]))
            return true;
    }
    return false;
}

/* How long a condition has held: since is set when it starts, cleared when
 * it stops. */
static double held(double *since, bool now, double t)
{
    if (!now) {
        *since = -1;
        return 0;
    }
    if (*since < 0)
        *since = t;
    return t - *since;
}

/* Keeps the upright reference of the torso's rise. It follows frames that
 * look upright against it; while down it is frozen, so that a torso lying
 * along the camera's view (upright in the picture, but short) stays lying.
 * A torso upright in the picture on standing legs is a person standing,
 * wherever they are: after STAND_STALE_S of that the reference takes the
 * rise as it is (the person walked away faster than it follows). Without
 * the legs, only REF_STALE_S of looking upright does. */
static void update_reference(struct fall_detector *det, double t, double dt, float rise, float run,
                             bool legs_standing)
{
    bool upright_in_picture = rise > 0 && rise >= 1.7f * run;
    if (!upright_in_picture) {
        det->upright_since = -1;
        det->standing_since = -1;
        return;
    }
    if (det->upright_since < 0)
        det->upright_since = t;
    held(&det->standing_since, legs_standing, t);
    if (det->ref_rise <= 0) {
        det->ref_rise = rise;
        return;
    }
    if (det->state != FALL_NONE)
        return;
    if (rise >= 0.8f * det->ref_rise) {
        float a = dt > 0 ? (float)(1 - exp(-dt / REF_TAU_S)) : 0.1f;
        det->ref_rise += a * (rise - det->ref_rise);
    } else if (t - det->upright_since >= REF_STALE_S ||
               (det->standing_since >= 0 && t - det->standing_since >= STAND_STALE_S)) {
        det->ref_rise = rise;
    }
}

/* The drop of the body centre below its highest point of the window, or of
 * the shoulders below theirs, whichever is more (a slump that slides the
 * hips away from the camera lifts them in the picture while the shoulders
 * go down) when with_shoulders; *ret_top is the hips' highest point and
 * *ret_ground the ankles' height then (NAN when unseen). */
static float descent_of(struct fall_detector *det, double t, float y, float shoulder_y,
                        float ankle_y, bool with_shoulders, float *ret_top, float *ret_ground)
{
    while (det->count > 0) {
        int oldest = (det->head - det->count + det->capacity) % det->capacity;
        if (t - det->history[oldest].t <= det->opts.descent_window_s && det->count < det->capacity)
            break;
        det->count--;
    }
    det->history[det->head] = (struct centre_sample){t, y, shoulder_y, ankle_y};
    det->head = (det->head + 1) % det->capacity;
    det->count++;
    /* The highest point held for two frames running: a wild keypoint of the
     * estimator lasts a frame and is not a top to fall from. */
    float top = y, shoulder_top = shoulder_y, ground = ankle_y;
    for (int i = 0; i + 1 < det->count; i++) {
        int k = (det->head - 1 - i + det->capacity) % det->capacity;
        int k2 = (k - 1 + det->capacity) % det->capacity;
        float pair_top = fmaxf(det->history[k].y, det->history[k2].y);
        if (pair_top < top) {
            top = pair_top;
            /* The lower of the two frames' ankles: a wild ankle up in the
             * picture does not raise the floor. */
            ground = fmaxf(det->history[k].ankle_y, det->history[k2].ankle_y);
        }
        shoulder_top =
            fminf(shoulder_top, fmaxf(det->history[k].shoulder_y, det->history[k2].shoulder_y));
    }
    *ret_top = top;
    *ret_ground = ground;
    return with_shoulders ? fmaxf(y - top, shoulder_y - shoulder_top) : y - top;
}

static void set_state(struct fall_detector *det, enum fall_state state)
{
    det->state = state;
    det->up_since = -1;
    det->fine_since = -1;
    if (state == FALL_NONE)
        det->descent_at = 0;
}

void fall_detector_update(struct fall_detector *det, double t, const struct pose_keypoint *kp,
                          const struct zone *zones, int n_zones, struct fall_report *ret_report)
{
    const struct fall_options *o = &det->opts;
    enum fall_state before = det->state;
    float hip[2], shoulder[2];
    struct fall_report rep = {.torso_tilt = NAN};
    bool usable =
        kp && pair_centre(kp, 11, o->min_score, hip) && pair_centre(kp, 5, o->min_score, shoulder);

    if (usable) {
        double dt = isfinite(det->last_seen_t) ? t - det->last_seen_t : 0;
        float rise = hip[1] - shoulder[1];
        float run = fabsf(hip[0] - shoulder[0]);
        float ankle[2];
        bool ankles = pair_centre(kp, 15, o->min_score, ankle);
        float legs = ankles ? ankle[1] - hip[1] : 0;
        float was_ref = det->ref_rise > 0 ? det->ref_rise : fmaxf(rise, 1e-3f);
        /* A body centre that moved more than max_jump body heights since the
         * last frame was not carried there by its legs: another person took
         * the track, or the picture cut. What was known of the body is void. */
        if (det->state == FALL_NONE && dt > 0 && dt <= JUMP_GAP_S &&
            hypotf(hip[0] - det->last_hip[0], hip[1] - det->last_hip[1]) >
                o->max_jump * HEIGHT_PER_TORSO * was_ref) {
            float evidence = det->evidence;
            fall_detector_reset(det);
            det->evidence = evidence; /* the model's, for this frame */
            was_ref = fmaxf(rise, 1e-3f);
            rep.restarted = true;
        }
        det->last_hip[0] = hip[0];
        det->last_hip[1] = hip[1];
        /* Standing legs: the ankles below the hips by stand_legs torso rises.
         * Legs are 1.6 torso lengths, so standing they rise 1.6 times what the
         * upright torso does, whatever the camera's pitch shortens both by;
         * seated, the shins rise about one torso, and on the floor the legs
         * lie across the picture or along the view, shortened like the torso. */
        rep.standing = ankles && legs >= o->stand_legs * was_ref;
        /* The descent is measured against the reference before this frame:
         * a body going down does not move the reference (a slow slump would
         * otherwise shrink it until lying looked upright). The shoulders'
         * drop counts only off standing legs: bending over lowers them too. */
        float top, ground;
        float drop = descent_of(det, t, hip[1], shoulder[1], ankles ? ankle[1] : NAN, !rep.standing,
                                &top, &ground);
        bool going_down = drop >= 0.5f * o->min_descent * HEIGHT_PER_TORSO * was_ref;
        /* Upright in the picture with the legs 1.6 times as long as the torso
         * below: that is a person standing, at whatever distance. */
        if (!going_down)
            update_reference(det, t, dt, rise, run, ankles && legs >= o->stand_legs * rise);
        float ref = det->ref_rise > 0 ? det->ref_rise : fmaxf(rise, 1e-3f);
        float height = HEIGHT_PER_TORSO * ref;
        float ratio = fminf(1, fmaxf(-1, rise / ref));
        rep.torso_tilt = (float)(asin(ratio) * DEG_PER_RAD);
        /* Shoulders below the hips in the picture (a torso lying toward the camera)
         * is lying however far below: nobody stands on their head. */
        rep.lying = rep.torso_tilt <= o->max_torso_tilt;
        bool fine = in_fine_zone(zones, n_zones, hip, shoulder);
        rep.on_floor = rep.lying && !fine;
        det->last_seen_t = t;

        if (drop >= o->min_descent * height) {
            /* The floor is where the ankles were at the descent's highest
             * point: the window moves on during a slow slump, and by its end
             * its top is halfway down, the feet slid forward. */
            bool new_descent = t - det->descent_t > o->settle_s;
            if (det->state == FALL_NONE && (new_descent || top < det->floor_top_y)) {
                det->floor_top_y = top;
                det->floor_y = ground;
            }
            det->descent_t = t;
            if (det->state == FALL_NONE)
                det->top_y = top;
        }
        /* Hips down at the floor: within floor_hips of the height they had
         * above the ankles before the descent. A torso lying along the
         * camera's view keeps much of its rise, but nobody sits or crouches
         * with the hips at their own feet's level. */
        float span = det->floor_y - det->floor_top_y;
        rep.hips_low = o->floor_hips > 0 && isfinite(det->floor_y) &&
                       span >= 0.5f * o->stand_legs * ref &&
                       det->floor_y - hip[1] <= o->floor_hips * span && rep.torso_tilt < o->up_tilt;
        bool down = rep.lying || rep.hips_low;

        switch (det->state) {
        case FALL_NONE:
            if (held(&det->floor_since, down && !fine, t) >= o->lying_hold_s &&
                t - det->descent_t <= o->settle_s) {
                set_state(det, FALL_SUSPECTED);
                det->suspected_t = t;
                det->descent_at = det->descent_t;
                det->lowest_y = hip[1];
            }
            break;
        case FALL_SUSPECTED:
        case FALL_CONFIRMED: {
            det->lowest_y = fmaxf(det->lowest_y, hip[1]);
            bool up = fabsf(rep.torso_tilt) >= o->up_tilt &&
                      (rep.standing || det->lowest_y - hip[1] >= o->min_rise * height ||
                       hip[1] - det->top_y <= 0.5f * o->min_rise * height);
            double up_for = held(&det->up_since, up, t);
            double fine_for = held(&det->fine_since, down && fine, t);
            if (up_for >= o->up_hold_s ||
                (det->state == FALL_SUSPECTED && fine_for >= o->up_hold_s))
                set_state(det, FALL_NONE);
            break;
        }
        default:
            break;
        }
    }

    /* Time runs whether or not the person is seen; what is not seen for
     * lost_s is not confirmed. A confirmed fall stands until seen up. */
    if (det->state == FALL_SUSPECTED) {
        if (t - det->last_seen_t > o->lost_s)
            set_state(det, FALL_NONE);
        else if (t - det->suspected_t >= o->confirm_s &&
                 !(o->model_min_p > 0 && det->evidence < o->model_min_p))
            set_state(det, FALL_CONFIRMED);
    }

    rep.state = det->state;
    rep.changed = det->state != before;
    rep.descent_at = det->state == FALL_NONE ? 0 : det->descent_at;
    *ret_report = rep;
}
