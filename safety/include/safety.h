/* safety: what the safety rules of crtd judge from a person track's
 * keypoints — zones, named polygons of the image. The daemon's rules and
 * `crt eval --falls` run this same code. Knows nothing of video, HTTP or the
 * daemon. docs/SAFETY.md. */
#ifndef CRTD_SAFETY_H
#define CRTD_SAFETY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "keypoints.h"

/* ---- zones (zone.c) -------------------------------------------------------- */

#define ZONE_MAX_POINTS 32
#define ZONE_NAME_MAX   64

enum zone_kind {
    ZONE_BED,
    ZONE_SEAT,
    ZONE_FLOOR,
    ZONE_DOOR,
    ZONE_AREA,
    ZONE_EXCLUDE, /* a skeleton inside is ignored: a TV, a poster */
    ZONE_KIND_COUNT,
};

/* "bed", "seat", ... and back; -EINVAL for an unknown name. */
const char *zone_kind_name(enum zone_kind kind);
int zone_kind_parse(const char *text, enum zone_kind *ret_kind);

/* A named polygon in normalised image coordinates (0..1, x right, y down). */
struct zone {
    char name[ZONE_NAME_MAX];
    enum zone_kind kind;
    int n;                            /* 3..ZONE_MAX_POINTS */
    float points[ZONE_MAX_POINTS][2]; /* x, y */
};

/* Checks a polygon: 3..ZONE_MAX_POINTS finite points inside [0,1], a
 * non-zero area, no two edges crossing (zones may overlap each other). The
 * message names the zone and what is wrong. */
int zone_check(const struct zone *zone, struct errbuf *err);
/* Parses "x,y x,y x,y ..." (config files and the API) into zone->points. */
int zone_parse_points(struct zone *zone, const char *text, struct errbuf *err);
bool zone_contains(const struct zone *zone, float x, float y);

/* ---- the fall detector (fall.c) -------------------------------------------- */

enum fall_state {
    FALL_NONE,      /* upright, or down where lying is fine (bed, seat) */
    FALL_SUSPECTED, /* a fast descent ended low on the floor: waiting fall_confirm_s */
    FALL_CONFIRMED, /* still down after fall_confirm_s: the alert fires */
    FALL_STATE_COUNT,
};

const char *fall_state_name(enum fall_state state);

struct fall_options {
    double confirm_s; /* fall_confirm_s: down this long after the descent (20 s) */
    /* The detector's own thresholds, documented in docs/SAFETY.md, have
     * defaults from fall_options_default. */
    double descent_window_s;
    float min_descent;    /* of the body's height, within descent_window_s */
    float max_torso_tilt; /* degrees from horizontal that count as lying */
    float min_score;      /* keypoints below are not seen */
    /* Added beside the contract's fields (docs/SAFETY.md, "Thresholds"): */
    double settle_s;     /* the torso may reach lying this long after the descent */
    float up_tilt;       /* degrees from horizontal from which the torso is up again */
    float min_rise;      /* of the body's height above its lowest point: up again */
    double up_hold_s;    /* up (or lying in a bed/seat zone) this long cancels or clears */
    double lost_s;       /* unseen this long while suspected: not confirmed */
    float stand_legs;    /* ankles below the hips by this many torso rises: standing legs */
    float max_jump;      /* body heights the centre may move between frames: else a restart */
    double lying_hold_s; /* on the floor this long after a descent: SUSPECTED */
    /* Hips come down within this share of their height above the ankles
     * before the descent, torso below up_tilt: on the floor too (0: off). */
    float floor_hips;
    /* The segment model's P(Fall) (fall_detector_evidence): 0, not used; else
     * SUSPECTED confirms only while the last P(Fall) is at least this, or,
     * with model_alone, P(Fall) this high for confirm_s outside a bed or seat
     * zone is the alert by itself (`crt eval --falls --model`; SAFETY.md). */
    float model_min_p;
    bool model_alone;
};

void fall_options_default(struct fall_options *opts);

/* What the detector says after a frame. */
struct fall_report {
    enum fall_state state;
    bool changed;      /* state differs from the previous frame's */
    double descent_at; /* when the descent that led here happened, or 0 */
    float torso_tilt;  /* degrees from horizontal, this frame */
    bool lying;        /* torso near horizontal */
    bool on_floor;     /* lying, and not in a bed or seat zone */
    bool hips_low;     /* the hips down at the ankles' level before the descent */
    bool standing;     /* the torso above the hips on standing legs */
    bool restarted;    /* the body jumped: the detector started again */
};

/* One per person track. */
struct fall_detector;

int fall_detector_new(const struct fall_options *opts, struct fall_detector **ret_det,
                      struct errbuf *err);
struct fall_detector *fall_detector_free(struct fall_detector *det);
void fall_detector_reset(struct fall_detector *det);

/* One frame of the track at time t (seconds, the caller's clock): its
 * keypoints in whole-frame coordinates (NULL when the track was not seen in
 * this frame), and the stream's zones (bed and seat zones make lying fine;
 * may be NULL, n_zones 0). */
void fall_detector_update(struct fall_detector *det, double t, const struct pose_keypoint *kp,
                          const struct zone *zones, int n_zones, struct fall_report *ret_report);

/* The segment model's latest P(Fall) for the track, NAN for none: with
 * opts.model_min_p, a SUSPECTED fall confirms only while it is high enough. */
void fall_detector_evidence(struct fall_detector *det, float p_fall);

/* ---- scoring the detector on labelled sequences (fall_eval.c) -------------- */

/* One labelled pose sequence of one person, as `crt eval --falls` reads it. */
struct fall_case {
    const char *scene; /* "fall-forward", "tie-shoe", ... or "" (normal activity) */
    double fps;
    int frames;
    const struct pose_keypoint (*keypoints)[POSE_NUM_KEYPOINTS]; /* [frames][17] */
    double fall_at; /* seconds to the start of the fall; -1: no fall */
    double up_at;   /* seconds to when the person is up again; -1: stays down */
    const struct zone *zones;
    int n_zones;
    const float *p_fall; /* [frames] the segment model's P(Fall), NAN for none; or NULL */
};

/* What the detector did on one case. An alert is a change to CONFIRMED; the
 * first one from fall_at on (and before up_at, when the person gets up) is
 * the detection, every other one a false alarm. */
struct fall_case_result {
    bool fall;        /* the case has a fall */
    bool detected;    /* the fall was alerted */
    double latency;   /* seconds from fall_at to the alert; NAN when not detected */
    int alerts;       /* changes to CONFIRMED */
    int false_alarms; /* alerts that are not the detection */
    double normal_s;  /* seconds of the case without a fall: before it, or all */
    bool suspected;   /* ever FALL_SUSPECTED */
    double false_at;  /* the first false alarm: when its descent began; NAN for none */
};

/* Runs a fresh detector over the case, frame by frame, on the case's clock. */
int fall_eval_case(const struct fall_options *opts, const struct fall_case *fall_case,
                   struct fall_case_result *ret_result, struct errbuf *err);

/* The figures over many cases, and one row per scene. */
#define FALL_EVAL_MAX_SCENES 32
struct fall_eval_row {
    char scene[32];
    int cases, falls, detected, alerts, false_alarms;
    int suspected; /* cases that were ever SUSPECTED (a pending alert) */
    double normal_s;
    double latency_median, latency_max; /* NAN without detections */
};

struct fall_eval_summary {
    int cases, falls, detected, false_alarms, suspected;
    double normal_hours;
    double recall;                      /* detected / falls; NAN without falls */
    double false_alarms_per_24h;        /* NAN without normal time */
    double latency_median, latency_p95; /* seconds; NAN without detections */
    int n_rows;
    struct fall_eval_row rows[FALL_EVAL_MAX_SCENES]; /* in order of first appearance */
};

/* scenes[i] names case i's scene ("" or NULL: "normal"); scenes past the
 * table's size share its last row, "other". Returns -ENOMEM only. */
int fall_eval_summarize(const struct fall_case_result *results, const char *const *scenes, int n,
                        struct fall_eval_summary *ret_summary);

#endif
