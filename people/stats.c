/* stats: how a video's tracks went, frame by frame — people per frame, tracks
 * started and confirmed, how long confirmed tracks lived, and
 * re-identifications, the stand-in for id switches where there is no ground
 * truth (people.h). A person the tracker loses and finds again under a new id
 * shows up as a confirmed track that ends and a new one that starts just
 * after, where the old one was heading; two people who merely pass each
 * other do not, and neither does someone who walks out of view. */
#include "people.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COUNT POSE_TRACKER_MAX_DETECTIONS

struct record {
    uint32_t id;
    bool confirmed, alive;
    double first_seen, last_seen; /* the tracker's clock */
    float first_box[4], last_box[4];
    float velocity[2]; /* as last seen */
};

struct people_stats {
    uint64_t frames;
    uint64_t count[MAX_COUNT + 1]; /* frames with this many detections */
    double first_clock, last_clock;
    struct record *records; /* every track, in the order they started */
    size_t n, cap;
};

int people_stats_new(struct people_stats **ret_stats)
{
    struct people_stats *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    *ret_stats = s;
    return 0;
}

struct people_stats *people_stats_free(struct people_stats *s)
{
    if (s)
        free(s->records);
    free(s);
    return NULL;
}

/* The record of a track id; ids count up, so a new one is the last. */
static struct record *record_of(struct people_stats *s, uint32_t id)
{
    for (size_t i = s->n; i-- > 0;)
        if (s->records[i].id == id)
            return &s->records[i];
    return NULL;
}

int people_stats_frame(struct people_stats *s, const struct people *pp, int n_dets)
{
    const struct pose_tracker *tracker = people_tracker(pp);
    double now = people_clock(pp);
    if (s->frames++ == 0)
        s->first_clock = now;
    s->last_clock = now;
    s->count[n_dets < 0 ? 0 : n_dets > MAX_COUNT ? MAX_COUNT : n_dets]++;

    for (size_t i = 0; i < s->n; i++)
        s->records[i].alive = false;
    for (int i = 0; i < pose_tracker_count(tracker); i++) {
        const struct pose_track *t = pose_tracker_track(tracker, i);
        struct record *r = record_of(s, t->id);
        if (!r) {
            if (s->n == s->cap) {
                size_t cap = s->cap ? 2 * s->cap : 64;
                struct record *grown = realloc(s->records, cap * sizeof(*grown));
                if (!grown)
                    return -ENOMEM;
                s->records = grown;
                s->cap = cap;
            }
            r = &s->records[s->n++];
            *r = (struct record){.id = t->id, .first_seen = t->first_seen};
            memcpy(r->first_box, t->person.box, sizeof(r->first_box));
        }
        r->alive = true;
        r->confirmed = t->confirmed;
        r->last_seen = t->last_seen;
        memcpy(r->last_box, t->person.box, sizeof(r->last_box));
        memcpy(r->velocity, t->velocity, sizeof(r->velocity));
    }
    return 0;
}

/* Whether `next` looks like `old` found again: it started within the window
 * after old's last sighting, where old's velocity put old's box by then. */
static bool reidentifies(const struct record *old, const struct record *next)
{
    double dt = next->first_seen - old->last_seen;
    if (!(dt > 0 && dt <= PEOPLE_REID_WINDOW_S))
        return false;
    float dx = old->velocity[0] * (float)dt, dy = old->velocity[1] * (float)dt;
    float predicted[4] = {old->last_box[0] + dx, old->last_box[1] + dy, old->last_box[2] + dx,
                          old->last_box[3] + dy};
    return people_box_iou(predicted, next->first_box) > 0;
}

void people_stats_summary(const struct people_stats *s, struct people_tracking *ret)
{
    struct people_tracking t = {.frames = s->frames,
                                .seconds = s->last_clock - s->first_clock,
                                .tracks_started = (unsigned)s->n};
    uint64_t sum = 0, below = 0;
    t.people_median = -1;
    for (int k = 0; k <= MAX_COUNT; k++) {
        sum += (uint64_t)k * s->count[k];
        below += s->count[k];
        if (s->count[k])
            t.people_max = k;
        if (t.people_median < 0 && 2 * below >= s->frames && s->frames)
            t.people_median = k;
    }
    if (t.people_median < 0)
        t.people_median = 0;
    t.people_mean = s->frames ? (double)sum / (double)s->frames : 0;

    double life = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct record *r = &s->records[i];
        if (!r->confirmed)
            continue;
        t.tracks_confirmed++;
        life += r->last_seen - r->first_seen;
    }
    t.confirmed_life_s = t.tracks_confirmed ? life / t.tracks_confirmed : 0;

    /* Each ended confirmed track is found again at most once, and each new
     * track stands for at most one old one: the nearest in time. */
    bool *taken = calloc(s->n ? s->n : 1, sizeof(*taken));
    for (size_t i = 0; i < s->n; i++) {
        const struct record *old = &s->records[i];
        if (!old->confirmed || old->alive)
            continue;
        for (size_t j = i + 1; j < s->n; j++) {
            const struct record *next = &s->records[j];
            if (next->confirmed && !(taken && taken[j]) && reidentifies(old, next)) {
                if (taken)
                    taken[j] = true;
                t.reids++;
                break;
            }
        }
    }
    free(taken);
    t.reids_per_minute = t.seconds > 0 ? t.reids * 60.0 / t.seconds : 0;
    *ret = t;
}
