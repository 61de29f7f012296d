/* tracker: stable ids for the people a multi-person pose model sees, frame
 * after frame (docs/POSE.md, "Tracking people").
 *
 * Each frame, every pair (track, detection) gets a similarity: the mean of
 * the IoU of their boxes and the object keypoint similarity (OKS) of their
 * keypoints, both taken against the track as predicted to this frame by its
 * box's velocity, so that two people who cross keep their ids. Pairs below
 * min_similarity never match; the rest are assigned greedily, the most
 * similar pair first. Greedy is what the Hungarian method gives whenever
 * one pairing clearly dominates, which is the case that matters here: with
 * six people at most, two boxes that are equally similar to one track are
 * already a crossing the velocity has to settle. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pose.h"

/* COCO's per-keypoint falloffs (the spread of human annotators): the face is
 * placed precisely, hips loosely. */
static const float oks_sigma[POSE_NUM_KEYPOINTS] = {
    0.026f, 0.025f, 0.025f, 0.035f, 0.035f, 0.079f, 0.079f, 0.072f, 0.072f,
    0.062f, 0.062f, 0.107f, 0.107f, 0.087f, 0.087f, 0.089f, 0.089f,
};

struct pose_tracker {
    struct pose_tracker_options opts;
    struct pose_track tracks[POSE_TRACKER_MAX_TRACKS];
    int n;
    uint32_t next_id;
    uint64_t dropped;
};

void pose_tracker_options_default(struct pose_tracker_options *opts)
{
    *opts = (struct pose_tracker_options){
        .max_tracks = 6,
        .confirm_hits = 3,
        .max_unseen_s = 2.0,
        .min_similarity = 0.2f,
        .min_score = 0.2f,
    };
}

int pose_tracker_new(const struct pose_tracker_options *opts, struct pose_tracker **ret_tracker,
                     struct errbuf *err)
{
    if (opts->max_tracks < 1 || opts->max_tracks > POSE_TRACKER_MAX_TRACKS)
        return errbuf_set(err, -EINVAL, "tracker: max_tracks %d outside 1..%d", opts->max_tracks,
                          POSE_TRACKER_MAX_TRACKS);
    if (opts->confirm_hits < 1 || !(opts->max_unseen_s > 0) ||
        !(opts->min_similarity >= 0 && opts->min_similarity <= 1))
        return errbuf_set(
            err, -EINVAL,
            "tracker: confirm_hits %d, max_unseen_s %g, min_similarity %g out of range",
            opts->confirm_hits, opts->max_unseen_s, (double)opts->min_similarity);
    struct pose_tracker *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->opts = *opts;
    t->next_id = 1;
    *ret_tracker = t;
    return 0;
}

struct pose_tracker *pose_tracker_free(struct pose_tracker *t)
{
    free(t);
    return NULL;
}

static float box_iou(const float a[4], const float b[4])
{
    float ix = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
    float iy = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (ix <= 0 || iy <= 0)
        return 0.0f;
    float inter = ix * iy;
    float area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return area > 0 ? inter / area : 0.0f;
}

/* OKS over the keypoints both have seen, the scale being the track's box
 * area; 0 when they share none. dx, dy shift the track's keypoints. */
static float keypoint_similarity(const struct pose_person *track, float dx, float dy,
                                 const struct pose_person *det, float min_score)
{
    float area = (track->box[2] - track->box[0]) * (track->box[3] - track->box[1]);
    if (!(area > 1e-6f))
        return 0.0f;
    float sum = 0.0f;
    int n = 0;
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
        const struct pose_keypoint *a = &track->keypoints[k], *b = &det->keypoints[k];
        if (a->score < min_score || b->score < min_score)
            continue;
        float ex = a->x + dx - b->x, ey = a->y + dy - b->y;
        float kappa = 2.0f * oks_sigma[k];
        sum += expf(-(ex * ex + ey * ey) / (2.0f * area * kappa * kappa));
        n++;
    }
    return n ? sum / (float)n : 0.0f;
}

static float similarity(const struct pose_tracker *t, int i, const struct pose_person *det,
                        double now)
{
    const struct pose_track *tr = &t->tracks[i];
    float dt = (float)(now - tr->last_seen);
    float dx = tr->velocity[0] * dt, dy = tr->velocity[1] * dt;
    float predicted[4] = {tr->person.box[0] + dx, tr->person.box[1] + dy, tr->person.box[2] + dx,
                          tr->person.box[3] + dy};
    return 0.5f * box_iou(predicted, det->box) +
           0.5f * keypoint_similarity(&tr->person, dx, dy, det, t->opts.min_score);
}

static void track_update(struct pose_tracker *t, int i, const struct pose_person *det, double now)
{
    struct pose_track *tr = &t->tracks[i];
    float dt = (float)(now - tr->last_seen);
    if (dt > 1e-3f) {
        /* Smoothed velocity of the box centre: steady through jitter, quick
         * enough for someone who starts to walk. */
        float cx0 = 0.5f * (tr->person.box[0] + tr->person.box[2]);
        float cy0 = 0.5f * (tr->person.box[1] + tr->person.box[3]);
        float cx1 = 0.5f * (det->box[0] + det->box[2]), cy1 = 0.5f * (det->box[1] + det->box[3]);
        tr->velocity[0] = 0.5f * tr->velocity[0] + 0.5f * (cx1 - cx0) / dt;
        tr->velocity[1] = 0.5f * tr->velocity[1] + 0.5f * (cy1 - cy0) / dt;
    }
    tr->person = *det;
    tr->last_seen = now;
    tr->seen = true;
    tr->hits++;
    if (tr->hits >= t->opts.confirm_hits)
        tr->confirmed = true;
}

static void track_remove(struct pose_tracker *t, int i)
{
    t->n--;
    t->tracks[i] = t->tracks[t->n];
}

/* The index of the track the cap drops first: unconfirmed before confirmed,
 * then the lowest score. */
static int weakest(const struct pose_tracker *t)
{
    int w = 0;
    for (int i = 1; i < t->n; i++) {
        const struct pose_track *a = &t->tracks[i], *b = &t->tracks[w];
        if (a->confirmed != b->confirmed ? !a->confirmed : a->person.score < b->person.score)
            w = i;
    }
    return w;
}

int pose_tracker_update(struct pose_tracker *t, const struct pose_person *dets, int n_dets,
                        double now)
{
    if (n_dets < 0 || n_dets > POSE_TRACKER_MAX_DETECTIONS)
        return -EINVAL;
    for (int i = 0; i < t->n; i++)
        t->tracks[i].seen = false;

    /* Every admissible pair, the most similar first. */
    struct pair {
        float s;
        int track, det;
    } pairs[POSE_TRACKER_MAX_TRACKS * POSE_TRACKER_MAX_DETECTIONS];
    int n_pairs = 0;
    bool det_used[POSE_TRACKER_MAX_DETECTIONS] = {false};
    for (int d = 0; d < n_dets; d++) {
        if (dets[d].score < t->opts.min_score) {
            det_used[d] = true; /* not a person */
            continue;
        }
        for (int i = 0; i < t->n; i++) {
            float s = similarity(t, i, &dets[d], now);
            if (s >= t->opts.min_similarity && s > 0)
                pairs[n_pairs++] = (struct pair){s, i, d};
        }
    }
    for (int a = 1; a < n_pairs; a++) /* insertion sort: at most 6 x 16 pairs */
        for (int b = a; b > 0 && pairs[b].s > pairs[b - 1].s; b--) {
            struct pair tmp = pairs[b];
            pairs[b] = pairs[b - 1];
            pairs[b - 1] = tmp;
        }
    for (int p = 0; p < n_pairs; p++) {
        if (t->tracks[pairs[p].track].seen || det_used[pairs[p].det])
            continue;
        track_update(t, pairs[p].track, &dets[pairs[p].det], now);
        det_used[pairs[p].det] = true;
    }

    /* Tracks unseen too long end; their ids are never given again. */
    for (int i = t->n - 1; i >= 0; i--)
        if (!t->tracks[i].seen && now - t->tracks[i].last_seen > t->opts.max_unseen_s)
            track_remove(t, i);

    /* Detections nobody claimed start tentative tracks, the best first. */
    for (;;) {
        int best = -1;
        for (int d = 0; d < n_dets; d++)
            if (!det_used[d] && (best < 0 || dets[d].score > dets[best].score))
                best = d;
        if (best < 0)
            break;
        det_used[best] = true;
        if (t->n == t->opts.max_tracks) {
            int w = weakest(t);
            const struct pose_track *tw = &t->tracks[w];
            if (tw->confirmed || tw->person.score >= dets[best].score) {
                t->dropped++; /* the newcomer is the weakest */
                continue;
            }
            track_remove(t, w);
            t->dropped++;
        }
        struct pose_track *tr = &t->tracks[t->n];
        *tr = (struct pose_track){.id = t->next_id++, .first_seen = now, .last_seen = now};
        t->n++;
        track_update(t, t->n - 1, &dets[best], now);
    }
    return t->n;
}

int pose_tracker_count(const struct pose_tracker *t)
{
    return t->n;
}

const struct pose_track *pose_tracker_track(const struct pose_tracker *t, int index)
{
    return index >= 0 && index < t->n ? &t->tracks[index] : NULL;
}

uint64_t pose_tracker_dropped(const struct pose_tracker *t)
{
    return t->dropped;
}

void pose_tracker_reset(struct pose_tracker *t)
{
    t->n = 0; /* ids go on counting: a stream never reuses one */
}
