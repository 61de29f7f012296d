/* activity: from per-segment scores to a stable activity with a "since".
 *
 * Hysteresis: a new label (or "nobody in view") must win every segment over
 * a span of stream time before it replaces the current one; its "since" is
 * when it started winning. Every replacement closes one history interval. */
#ifndef CRTD_ACTIVITY_H
#define CRTD_ACTIVITY_H

#include <stdbool.h>

#include "pipeline.h"

#define ACTIVITY_TOP_MAX 5

enum activity_state {
    ACTIVITY_UNKNOWN, /* no segment yet */
    ACTIVITY_NOBODY,  /* nobody in view */
    ACTIVITY_LABEL,   /* someone, doing label */
};

/* The published view of a stream's activity. */
struct activity_now {
    enum activity_state state;
    int label;      /* with ACTIVITY_LABEL */
    float score;    /* the latest segment's score of label */
    double since;   /* wall time the current state started winning */
    double updated; /* wall time of the latest segment */
    bool person;    /* the latest segment saw someone */
    unsigned n_top;
    int top_label[ACTIVITY_TOP_MAX];
    float top_score[ACTIVITY_TOP_MAX];
};

struct activity_tracker {
    struct activity_now now;
    bool candidate;
    enum activity_state cand_state;
    int cand_label;
    double cand_pts, cand_wall;
    double last_pts;
};

/* A finished interval of the history. */
struct activity_interval {
    enum activity_state state;
    int label;
    double start, end;
};

void activity_tracker_init(struct activity_tracker *t);

/* Feeds one segment seen at wall time `wall`. Returns true when the stable
 * state changed; then *ret_closed (may be NULL) is the interval that ended
 * (state ACTIVITY_UNKNOWN when there was none before). */
bool activity_update(struct activity_tracker *t, double hysteresis_s, unsigned top_k,
                     const struct pipeline_result *r, double wall,
                     struct activity_interval *ret_closed);
/* The same for one person of a segment (in_view: it was seen in it). */
bool activity_update_person(struct activity_tracker *t, double hysteresis_s, unsigned top_k,
                            const struct pipeline_person *p, unsigned n_classes, double pts,
                            double wall, struct activity_interval *ret_closed);

const char *activity_state_name(enum activity_state state);

/* Someone is in view with a label: a class, or PIPELINE_LABEL_UNKNOWN. */
static inline bool activity_labelled(const struct activity_now *now)
{
    return now->state == ACTIVITY_LABEL &&
           (now->label >= 0 || now->label == PIPELINE_LABEL_UNKNOWN);
}

#endif
