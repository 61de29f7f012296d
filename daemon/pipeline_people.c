/* pipeline_people: the people of one stream — detections to person tracks
 * (pose's tracker), one memory and one features state per confirmed track,
 * every track's segments on the stream's segment clock, and the memories
 * saved and restored by track id.
 *
 * A newly confirmed track waits for the next boundary of the stream's
 * segments before it pushes its first frame, so that one segment step gives
 * every track's result at once. Each track's state is kept as of the last
 * boundary (a snapshot per segment), which is what a checkpoint saves: a
 * stop in the middle of a segment loses that partial segment, never the
 * memory. */
#include <math.h>
#include <string.h>

#include "pipeline_internal.h"

/* A restored memory goes to a newly confirmed track whose box overlaps its
 * last box this much, or whose box centre is this close to it. */
#define ADOPT_MIN_IOU   0.1f
#define ADOPT_MAX_SHIFT 0.2f

float people_box_iou(const float *a, const float *b)
{
    float w = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
    float h = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (w <= 0 || h <= 0)
        return 0;
    float inter = w * h;
    float area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return area > 0 ? inter / area : 0;
}

static float best_score(const struct pipeline_person *p, unsigned n_classes)
{
    return n_classes ? p->scores[p->label] : 0;
}

void people_summarise(struct pipeline_result *r)
{
    r->summary = -1;
    for (unsigned i = 0; i < r->n_people; i++) {
        const struct pipeline_person *p = &r->people[i];
        if (p->in_view && (r->summary < 0 || best_score(p, r->n_classes) >
                                                 best_score(&r->people[r->summary], r->n_classes)))
            r->summary = (int)i;
    }
    r->person = r->summary >= 0;
    if (r->summary >= 0) {
        const struct pipeline_person *p = &r->people[r->summary];
        r->label = p->label;
        memcpy(r->scores, p->scores, sizeof(r->scores));
        memcpy(r->keypoints, p->keypoints, sizeof(r->keypoints));
        return;
    }
    /* Nobody: no class is preferred. */
    r->label = 0;
    for (unsigned i = 0; i < r->n_classes; i++)
        r->scores[i] = 1.0f / (float)r->n_classes;
    memset(r->keypoints, 0, sizeof(r->keypoints));
}

/* ---- slots ---------------------------------------------------------------- */

static const struct pose_track *track_by_id(const struct people *pp, uint32_t id)
{
    int n = pose_tracker_count(pp->tracker);
    for (int i = 0; i < n; i++) {
        const struct pose_track *t = pose_tracker_track(pp->tracker, i);
        if (t->id == id)
            return t;
    }
    return NULL;
}

static struct people_slot *slot_of_track(struct people *pp, uint32_t track_id)
{
    for (int i = 0; i < pp->options.max_tracks; i++)
        if (pp->slots[i].used && pp->slots[i].track_id == track_id)
            return &pp->slots[i];
    return NULL;
}

static void slot_snapshot(struct people *pp, struct people_slot *s)
{
    size_t len = 0;
    if (crt_stream_save(s->crt, s->snapshot, pp->blob_size, &len) < 0)
        len = 0; /* cannot happen with a buffer of crt_stream_save_size */
    s->snapshot_len = len;
}

static void waiting_drop(struct people *pp, int i)
{
    free(pp->waiting[i].data);
    pp->waiting[i] = pp->waiting[--pp->n_waiting];
    pp->waiting[pp->n_waiting] = (struct people_waiting){0};
}

/* The waiting memory for a track first confirmed with this box, or -1. */
static int waiting_match(const struct people *pp, const float *box)
{
    int best = -1;
    float best_iou = 0, best_shift = INFINITY;
    for (int i = 0; i < pp->n_waiting; i++) {
        const float *w = pp->waiting[i].box;
        float iou = people_box_iou(box, w);
        float dx = (box[0] + box[2] - w[0] - w[2]) / 2, dy = (box[1] + box[3] - w[1] - w[3]) / 2;
        float shift = sqrtf(dx * dx + dy * dy);
        if (iou >= ADOPT_MIN_IOU ? iou > best_iou : (best_iou == 0 && shift < best_shift)) {
            if (iou < ADOPT_MIN_IOU && shift > ADOPT_MAX_SHIFT)
                continue;
            best = i;
            best_iou = iou >= ADOPT_MIN_IOU ? iou : 0;
            best_shift = shift;
        }
    }
    return best;
}

/* Completes a restored partial segment with "nobody" frames, so that the
 * track starts on the stream's boundary. */
static void slot_align(struct people *pp, struct people_slot *s)
{
    struct features_state none;
    features_state_init(&none);
    features_v1(pp->feat, &none, NULL);
    while (crt_stream_frames_pending(s->crt) != 0)
        crt_stream_push(s->crt, pp->feat, NULL, NULL);
}

static void slot_start(struct people *pp, struct people_slot *s, const struct pose_track *t,
                       double wall)
{
    *s = (struct people_slot){.used = true,
                              .track_id = t->id,
                              .id = t->id + pp->id_offset,
                              .crt = s->crt,
                              .snapshot = s->snapshot,
                              .pushing = pp->frames == 0,
                              .first_seen = wall - (pp->clock - t->first_seen),
                              .last_seen_wall = wall,
                              .last = t->person};
    features_state_init(&s->features);
    crt_stream_reset(s->crt);
    int w = waiting_match(pp, t->person.box);
    if (w >= 0) {
        struct errbuf err;
        int r = crt_stream_restore(s->crt, pp->waiting[w].data, pp->waiting[w].size, &err);
        if (r >= 0) {
            s->id = pp->waiting[w].id;
            s->first_seen = pp->waiting[w].first_seen;
            slot_align(pp, s);
        } else {
            log_warning("person %u: memory not restored: %s", pp->waiting[w].id,
                        errbuf_text(&err, r));
            crt_stream_reset(s->crt);
        }
        waiting_drop(pp, w);
    }
    if (s->id >= pp->next_id)
        pp->next_id = s->id + 1;
    slot_snapshot(pp, s);
}

/* ---- life cycle ----------------------------------------------------------- */

int people_init(struct people *pp, const struct crt_model *crt, unsigned max_people,
                struct errbuf *err)
{
    *pp = (struct people){.crt = crt, .next_id = 1};
    pose_tracker_options_default(&pp->options);
    if (max_people)
        pp->options.max_tracks = (int)max_people;
    if (pp->options.max_tracks > PIPELINE_MAX_PEOPLE)
        pp->options.max_tracks = PIPELINE_MAX_PEOPLE;
    int r = pose_tracker_new(&pp->options, &pp->tracker, err);
    if (r < 0)
        return r;
    pp->segment_len = crt_model_config(crt)->segment_len;
    pp->blob_size = crt_stream_save_size(crt);
    for (int i = 0; i < pp->options.max_tracks; i++) {
        struct people_slot *s = &pp->slots[i];
        if ((r = crt_stream_new(crt, &s->crt)) < 0)
            return errbuf_set(err, r, "segment model state: %s", strerror(-r));
        if (!(s->snapshot = malloc(pp->blob_size)))
            return -ENOMEM;
    }
    return 0;
}

void people_done(struct people *pp)
{
    pose_tracker_free(pp->tracker);
    for (int i = 0; i < PIPELINE_MAX_PEOPLE; i++) {
        crt_stream_free(pp->slots[i].crt);
        free(pp->slots[i].snapshot);
    }
    while (pp->n_waiting)
        waiting_drop(pp, 0);
    *pp = (struct people){0};
}

/* The tracker's clock: stream time that never goes back (a file that loops,
 * a camera that reconnects) and never leaps. */
static void clock_advance(struct people *pp, double pts)
{
    if (pp->clock_started) {
        double d = pts - pp->last_pts;
        pp->clock += d > 0 && d <= 1 ? d : 0.1;
    }
    pp->clock_started = true;
    pp->last_pts = pts;
}

int people_frame(struct people *pp, const struct pose_person *dets, int n_dets, double pts,
                 struct pipeline_result *ret)
{
    double wall = time_wall_s();
    clock_advance(pp, pts);
    if (pose_tracker_update(pp->tracker, dets, n_dets, pp->clock) < 0)
        n_dets = 0;

    /* Tracks that ended free their slots; restored memories nobody took in
     * time are forgotten. */
    for (int i = 0; i < pp->options.max_tracks; i++)
        if (pp->slots[i].used && !track_by_id(pp, pp->slots[i].track_id))
            pp->slots[i].used = false;
    for (int i = pp->n_waiting - 1; i >= 0; i--)
        if (pp->clock > pp->waiting[i].expires)
            waiting_drop(pp, i);
    /* Newly confirmed tracks get a slot (there is one: the cap is the tracker's). */
    for (int i = 0; i < pose_tracker_count(pp->tracker); i++) {
        const struct pose_track *t = pose_tracker_track(pp->tracker, i);
        if (!t->confirmed || slot_of_track(pp, t->id))
            continue;
        for (int j = 0; j < pp->options.max_tracks; j++)
            if (!pp->slots[j].used) {
                slot_start(pp, &pp->slots[j], t, wall);
                break;
            }
    }
    /* Each track's own keypoints into its own features and memory. */
    for (int i = 0; i < pp->options.max_tracks; i++) {
        struct people_slot *s = &pp->slots[i];
        if (!s->used)
            continue;
        const struct pose_track *t = track_by_id(pp, s->track_id);
        if (t->seen) {
            s->last = t->person;
            s->last_seen_wall = wall;
        }
        if (!s->pushing)
            continue;
        struct pose_keypoint *kp = t->seen ? s->last.keypoints : NULL;
        features_v1(pp->feat, &s->features, kp);
        s->seen_frames += t->seen;
        crt_stream_push(s->crt, pp->feat, NULL, s->probs);
    }
    if (++pp->frames < pp->segment_len)
        return 0;

    /* A segment of the stream is complete, and with it every pushing track's. */
    pp->frames = 0;
    struct pipeline_result *r = ret;
    unsigned n_classes = (unsigned)crt_model_config(pp->crt)->n_classes;
    r->n_classes = n_classes;
    r->n_people = 0;
    r->people_dropped = pose_tracker_dropped(pp->tracker);
    for (int i = 0; i < pp->options.max_tracks; i++) {
        struct people_slot *s = &pp->slots[i];
        if (!s->used)
            continue;
        if (s->pushing) {
            struct pipeline_person *p = &r->people[r->n_people++];
            *p = (struct pipeline_person){.id = s->id,
                                          .in_view = 2 * s->seen_frames >= pp->segment_len,
                                          .pose_score = s->last.score,
                                          .first_seen = s->first_seen};
            memcpy(p->box, s->last.box, sizeof(p->box));
            for (int k = 0; k < PIPELINE_KEYPOINTS; k++) {
                p->keypoints[k][0] = s->last.keypoints[k].x;
                p->keypoints[k][1] = s->last.keypoints[k].y;
                p->keypoints[k][2] = s->last.keypoints[k].score;
            }
            for (unsigned c = 0; c < n_classes; c++) {
                p->scores[c] = s->probs[c];
                if (s->probs[c] > s->probs[p->label])
                    p->label = (int)c;
            }
            slot_snapshot(pp, s);
        }
        s->pushing = true;
        s->seen_frames = 0;
    }
    people_summarise(r);
    return 1;
}

/* ---- memory --------------------------------------------------------------- */

int people_memory_save(struct people *pp, void **ret_data, size_t *ret_size)
{
    struct people_memory m = {.next_id = pp->next_id, .saved = time_wall_s()};
    for (int i = 0; i < pp->options.max_tracks; i++) {
        const struct people_slot *s = &pp->slots[i];
        if (!s->used || !s->snapshot_len)
            continue;
        m.entries[m.n++] = (struct people_memory_entry){
            .id = s->id,
            .first_seen = s->first_seen,
            .last_seen = s->last_seen_wall,
            .box = {s->last.box[0], s->last.box[1], s->last.box[2], s->last.box[3]},
            .data = s->snapshot,
            .size = s->snapshot_len};
    }
    /* Memories still waiting for their person are kept too. */
    for (int i = 0; i < pp->n_waiting && m.n < ARRAY_SIZE(m.entries); i++) {
        const struct people_waiting *w = &pp->waiting[i];
        m.entries[m.n++] =
            (struct people_memory_entry){.id = w->id,
                                         .first_seen = w->first_seen,
                                         .last_seen = w->last_seen_wall,
                                         .box = {w->box[0], w->box[1], w->box[2], w->box[3]},
                                         .data = w->data,
                                         .size = w->size};
    }
    size_t size = people_memory_size(&m);
    uint8_t *buf = malloc(size);
    if (!buf)
        return -ENOMEM;
    people_memory_encode(&m, buf);
    *ret_data = buf;
    *ret_size = size;
    return 0;
}

static int waiting_add(struct people *pp, const struct people_memory_entry *e, double unseen)
{
    struct people_waiting *w = &pp->waiting[pp->n_waiting];
    if (pp->n_waiting >= pp->options.max_tracks)
        return 0;
    *w = (struct people_waiting){.id = e->id,
                                 .first_seen = e->first_seen,
                                 .last_seen_wall = e->last_seen,
                                 .expires = pp->clock + pp->options.max_unseen_s - unseen,
                                 .box = {e->box[0], e->box[1], e->box[2], e->box[3]},
                                 .size = e->size};
    if (!(w->data = malloc(e->size ? e->size : 1)))
        return -ENOMEM;
    memcpy(w->data, e->data, e->size);
    pp->n_waiting++;
    return 1;
}

int people_memory_restore(struct people *pp, const void *data, size_t size, struct errbuf *err)
{
    struct people_memory m;
    int r;
    if (size >= 4 && memcmp(data, "CRTP", 4) != 0) {
        /* A stream's one memory from before people were tracked: it goes to
         * the first person confirmed. */
        struct people_memory_entry legacy = {
            .id = 1, .box = {0, 0, 1, 1}, .data = data, .size = size, .first_seen = time_wall_s()};
        if ((r = crt_stream_restore(pp->slots[0].crt, data, size, err)) < 0)
            return r;
        crt_stream_reset(pp->slots[0].crt);
        while (pp->n_waiting)
            waiting_drop(pp, 0);
        pp->id_offset = 1;
        pp->next_id = 2;
        return waiting_add(pp, &legacy, 0) < 0 ? -ENOMEM : 0;
    }
    if ((r = people_memory_decode(data, size, &m, err)) < 0)
        return r;
    /* Check every track's blob before taking any. */
    for (unsigned i = 0; i < m.n; i++)
        if ((r = crt_stream_restore(pp->slots[0].crt, m.entries[i].data, m.entries[i].size, err)) <
            0)
            return r;
    crt_stream_reset(pp->slots[0].crt);
    while (pp->n_waiting)
        waiting_drop(pp, 0);
    for (unsigned i = 0; i < m.n; i++) {
        double unseen = m.saved - m.entries[i].last_seen;
        if (unseen > pp->options.max_unseen_s) {
            log_debug("person %u: last seen %.1f s before the save, not restored", m.entries[i].id,
                      unseen);
            continue;
        }
        if (waiting_add(pp, &m.entries[i], unseen < 0 ? 0 : unseen) < 0)
            return -ENOMEM;
    }
    if (m.next_id > pp->next_id) {
        pp->next_id = m.next_id;
        pp->id_offset = m.next_id - 1;
    }
    return 0;
}
