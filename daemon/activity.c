/* activity: hysteresis over segment results, and history intervals. */
#include "activity.h"

#include <string.h>

/* Stream times are sums of frame durations: allow for rounding. */
#define PTS_EPSILON 1e-6

void activity_tracker_init(struct activity_tracker *t)
{
    *t = (struct activity_tracker){
        .now = {.state = ACTIVITY_UNKNOWN, .label = -1, .since = -1, .updated = -1}};
    t->last_pts = -1;
}

const char *activity_state_name(enum activity_state state)
{
    switch (state) {
    case ACTIVITY_UNKNOWN:
        return "unknown";
    case ACTIVITY_NOBODY:
        return "nobody";
    case ACTIVITY_LABEL:
        return "activity";
    }
    return "unknown";
}

static void fill_top(struct activity_now *now, unsigned top_k, const float *scores,
                     unsigned n_classes)
{
    bool used[PIPELINE_MAX_CLASSES] = {false};
    if (top_k > ACTIVITY_TOP_MAX)
        top_k = ACTIVITY_TOP_MAX;
    if (top_k > n_classes)
        top_k = n_classes;
    now->n_top = top_k;
    for (unsigned k = 0; k < top_k; k++) {
        int best = -1;
        for (unsigned i = 0; i < n_classes; i++)
            if (!used[i] && (best < 0 || scores[i] > scores[best]))
                best = (int)i;
        used[best] = true;
        now->top_label[k] = best;
        now->top_score[k] = scores[best];
    }
}

static bool update(struct activity_tracker *t, double hysteresis_s, unsigned top_k, bool person,
                   int r_label, const float *scores, unsigned n_classes, double pts, double wall,
                   struct activity_interval *ret_closed)
{
    enum activity_state state = person ? ACTIVITY_LABEL : ACTIVITY_NOBODY;
    int label = person ? r_label : -1;
    struct activity_now *now = &t->now;
    bool changed = false;

    /* A reopened source starts its clock again. */
    if (pts < t->last_pts)
        t->candidate = false;
    t->last_pts = pts;

    now->updated = wall;
    now->person = person;
    fill_top(now, top_k, scores, n_classes);

    if (state == now->state && label == now->label) {
        t->candidate = false;
    } else if (now->state == ACTIVITY_UNKNOWN) {
        /* Nothing to hold on to yet: the first segment decides. */
        if (ret_closed)
            *ret_closed = (struct activity_interval){.state = ACTIVITY_UNKNOWN, .label = -1};
        now->state = state;
        now->label = label;
        now->since = wall;
        t->candidate = false;
        changed = true;
    } else {
        if (!t->candidate || t->cand_state != state || t->cand_label != label) {
            t->candidate = true;
            t->cand_state = state;
            t->cand_label = label;
            t->cand_pts = pts;
            t->cand_wall = wall;
        }
        if (pts - t->cand_pts + PTS_EPSILON >= hysteresis_s) {
            if (ret_closed)
                *ret_closed = (struct activity_interval){.state = now->state,
                                                         .label = now->label,
                                                         .start = now->since,
                                                         .end = t->cand_wall};
            now->state = state;
            now->label = label;
            now->since = t->cand_wall;
            t->candidate = false;
            changed = true;
        }
    }
    /* An unknown label's score is the top guess's: how sure the model was
     * of what it would have said. */
    now->score = 0;
    if (activity_labelled(now) && now->label >= 0)
        now->score = scores[now->label];
    for (unsigned c = 0; activity_labelled(now) && now->label < 0 && c < n_classes; c++)
        now->score = scores[c] > now->score ? scores[c] : now->score;
    return changed;
}

bool activity_update(struct activity_tracker *t, double hysteresis_s, unsigned top_k,
                     const struct pipeline_result *r, double wall,
                     struct activity_interval *ret_closed)
{
    return update(t, hysteresis_s, top_k, r->person, r->label, r->scores, r->n_classes, r->pts,
                  wall, ret_closed);
}

bool activity_update_person(struct activity_tracker *t, double hysteresis_s, unsigned top_k,
                            const struct pipeline_person *p, unsigned n_classes, double pts,
                            double wall, struct activity_interval *ret_closed)
{
    return update(t, hysteresis_s, top_k, p->in_view, p->label, p->scores, n_classes, pts, wall,
                  ret_closed);
}
