/* people: the people of one stream — detections to person tracks (pose's
 * tracker), one memory and one features state per confirmed track, every
 * track's segments on the stream's segment clock, and the memories saved and
 * restored by track id.
 *
 * A newly confirmed track waits for the next boundary of the stream's
 * segments before it pushes its first frame, so that one segment step gives
 * every track's result at once. Each track's state is kept as of the last
 * boundary (a snapshot per segment), which is what a checkpoint saves: a
 * stop in the middle of a segment loses that partial segment, never the
 * memory. */
#include "people.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A restored memory goes to a newly confirmed track whose box overlaps its
 * last box this much, or whose box centre is this close to it. */
#define ADOPT_MIN_IOU   0.1f
#define ADOPT_MAX_SHIFT 0.2f

/* What one track owns: its memory and partial segment (crt), its features
 * state, and what the segment saw of it. */
struct slot {
    bool used;
    bool pushing;      /* pushes frames: it started at a segment boundary */
    uint32_t track_id; /* the tracker's */
    uint32_t id;       /* shown and saved: stable across restarts */
    struct crt_stream *crt;
    struct features_state features;
    int seen_frames; /* in the current segment */
    double first_seen, last_seen;
    struct pose_person last; /* as last seen */
    float probs[PEOPLE_MAX_CLASSES];
    uint8_t *snapshot; /* its state blob as of the last segment boundary */
    size_t snapshot_len;
};

/* A restored memory waiting for its person to be confirmed again. */
struct waiting {
    uint32_t id;
    double first_seen, last_seen;
    double expires; /* tracker clock */
    float box[4];
    uint8_t *data; /* its blob, copied */
    size_t size;
};

struct people {
    const struct crt_model *crt; /* NULL: tracks only */
    struct pose_tracker *tracker;
    struct pose_tracker_options options;
    int segment_len;
    int frames;         /* into the current stream segment */
    uint32_t next_id;   /* shown ids are the tracker's plus id_offset... */
    uint32_t id_offset; /* ...so that they continue after a restart */
    double clock, last_pts;
    bool clock_started;
    struct slot slots[PEOPLE_MAX];
    struct waiting waiting[PEOPLE_MAX];
    int n_waiting;
    float feat[FEATURES_V1_DIM];
    size_t blob_size; /* crt_stream_save_size */
};

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

static struct slot *slot_of_track(struct people *pp, uint32_t track_id)
{
    for (int i = 0; i < pp->options.max_tracks; i++)
        if (pp->slots[i].used && pp->slots[i].track_id == track_id)
            return &pp->slots[i];
    return NULL;
}

static void slot_snapshot(struct people *pp, struct slot *s)
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
    pp->waiting[pp->n_waiting] = (struct waiting){0};
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
static void slot_align(struct people *pp, struct slot *s)
{
    struct features_state none;
    features_state_init(&none);
    features_v1(pp->feat, &none, NULL);
    while (crt_stream_frames_pending(s->crt) != 0)
        crt_stream_push(s->crt, pp->feat, NULL, NULL);
}

static void slot_start(struct people *pp, struct slot *s, const struct pose_track *t, double wall)
{
    *s = (struct slot){.used = true,
                       .track_id = t->id,
                       .id = t->id + pp->id_offset,
                       .crt = s->crt,
                       .snapshot = s->snapshot,
                       .pushing = pp->frames == 0,
                       .first_seen = wall - (pp->clock - t->first_seen),
                       .last_seen = wall,
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
            log_debug("person %u: memory not restored: %s", pp->waiting[w].id,
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

int people_new(const struct crt_model *crt, unsigned max_people, struct people **ret_people,
               struct errbuf *err)
{
    struct people *pp = calloc(1, sizeof(*pp));
    if (!pp)
        return -ENOMEM;
    *pp = (struct people){.crt = crt, .next_id = 1};
    pose_tracker_options_default(&pp->options);
    if (max_people)
        pp->options.max_tracks = (int)max_people;
    if (pp->options.max_tracks > PEOPLE_MAX)
        pp->options.max_tracks = PEOPLE_MAX;
    int r = pose_tracker_new(&pp->options, &pp->tracker, err);
    if (r < 0)
        goto fail;
    if (crt && crt_model_config(crt)->n_classes > PEOPLE_MAX_CLASSES) {
        r = errbuf_set(err, -EINVAL, "segment model: %d classes, people take at most %d",
                       crt_model_config(crt)->n_classes, PEOPLE_MAX_CLASSES);
        goto fail;
    }
    if (crt) {
        pp->segment_len = crt_model_config(crt)->segment_len;
        pp->blob_size = crt_stream_save_size(crt);
    }
    for (int i = 0; crt && i < pp->options.max_tracks; i++) {
        struct slot *s = &pp->slots[i];
        if ((r = crt_stream_new(crt, &s->crt)) < 0) {
            r = errbuf_set(err, r, "segment model state: %s", strerror(-r));
            goto fail;
        }
        if (!(s->snapshot = malloc(pp->blob_size))) {
            r = -ENOMEM;
            goto fail;
        }
    }
    *ret_people = pp;
    return 0;
fail:
    people_free(pp);
    return r;
}

struct people *people_free(struct people *pp)
{
    if (!pp)
        return NULL;
    pose_tracker_free(pp->tracker);
    for (int i = 0; i < PEOPLE_MAX; i++) {
        crt_stream_free(pp->slots[i].crt);
        free(pp->slots[i].snapshot);
    }
    while (pp->n_waiting)
        waiting_drop(pp, 0);
    free(pp);
    return NULL;
}

const struct pose_tracker *people_tracker(const struct people *pp)
{
    return pp->tracker;
}

double people_clock(const struct people *pp)
{
    return pp->clock;
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

/* The segment's outcome of a track that pushed all of its frames. */
static void slot_result(const struct slot *s, unsigned n_classes, struct people_person *p)
{
    *p = (struct people_person){.id = s->id,
                                .pose_score = s->last.score,
                                .seen_frames = s->seen_frames,
                                .first_seen = s->first_seen,
                                .last_seen = s->last_seen};
    memcpy(p->box, s->last.box, sizeof(p->box));
    memcpy(p->keypoints, s->last.keypoints, sizeof(p->keypoints));
    for (unsigned c = 0; c < n_classes; c++) {
        p->probs[c] = s->probs[c];
        if (s->probs[c] > s->probs[p->label])
            p->label = (int)c;
    }
    p->score = n_classes ? p->probs[p->label] : 0;
}

int people_frame(struct people *pp, const struct pose_person *dets, int n_dets, double pts,
                 double wall, struct people_result *ret)
{
    clock_advance(pp, pts);
    if (pose_tracker_update(pp->tracker, dets, n_dets, pp->clock) < 0)
        n_dets = 0;
    if (!pp->crt)
        return 0;

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
        struct slot *s = &pp->slots[i];
        if (!s->used)
            continue;
        const struct pose_track *t = track_by_id(pp, s->track_id);
        if (t->seen) {
            s->last = t->person;
            s->last_seen = wall;
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
    unsigned n_classes = (unsigned)crt_model_config(pp->crt)->n_classes;
    ret->n_classes = n_classes;
    ret->segment_frames = pp->segment_len;
    ret->n = 0;
    ret->dropped = pose_tracker_dropped(pp->tracker);
    for (int i = 0; i < pp->options.max_tracks; i++) {
        struct slot *s = &pp->slots[i];
        if (!s->used)
            continue;
        if (s->pushing) {
            slot_result(s, n_classes, &ret->people[ret->n++]);
            slot_snapshot(pp, s);
        }
        s->pushing = true;
        s->seen_frames = 0;
    }
    return 1;
}

unsigned people_frame_seen(const struct people *pp, uint32_t *ret_ids,
                           struct pose_keypoint (*ret_keypoints)[POSE_NUM_KEYPOINTS])
{
    unsigned n = 0;
    for (int i = 0; i < pp->options.max_tracks; i++) {
        const struct slot *s = &pp->slots[i];
        const struct pose_track *t = s->used ? track_by_id(pp, s->track_id) : NULL;
        if (!t || !t->seen)
            continue;
        ret_ids[n] = s->id;
        memcpy(ret_keypoints[n], s->last.keypoints, sizeof(ret_keypoints[n]));
        n++;
    }
    return n;
}

/* ---- memory --------------------------------------------------------------- */

int people_memory_save(struct people *pp, double wall, void **ret_data, size_t *ret_size)
{
    struct people_memory m = {.next_id = pp->next_id, .saved = wall};
    for (int i = 0; i < pp->options.max_tracks; i++) {
        const struct slot *s = &pp->slots[i];
        if (!s->used || !s->snapshot_len)
            continue;
        m.entries[m.n++] = (struct people_memory_entry){
            .id = s->id,
            .first_seen = s->first_seen,
            .last_seen = s->last_seen,
            .box = {s->last.box[0], s->last.box[1], s->last.box[2], s->last.box[3]},
            .data = s->snapshot,
            .size = s->snapshot_len};
    }
    /* Memories still waiting for their person are kept too. */
    for (int i = 0; i < pp->n_waiting && m.n < ARRAY_SIZE(m.entries); i++) {
        const struct waiting *w = &pp->waiting[i];
        m.entries[m.n++] =
            (struct people_memory_entry){.id = w->id,
                                         .first_seen = w->first_seen,
                                         .last_seen = w->last_seen,
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
    struct waiting *w = &pp->waiting[pp->n_waiting];
    if (pp->n_waiting >= pp->options.max_tracks)
        return 0;
    *w = (struct waiting){.id = e->id,
                          .first_seen = e->first_seen,
                          .last_seen = e->last_seen,
                          .expires = pp->clock + pp->options.max_unseen_s - unseen,
                          .box = {e->box[0], e->box[1], e->box[2], e->box[3]},
                          .size = e->size};
    if (!(w->data = malloc(e->size ? e->size : 1)))
        return -ENOMEM;
    memcpy(w->data, e->data, e->size);
    pp->n_waiting++;
    return 1;
}

int people_memory_restore(struct people *pp, double wall, const void *data, size_t size,
                          struct errbuf *err)
{
    if (!pp->crt)
        return errbuf_set(err, -EINVAL, "people memory: no segment model to restore into");
    struct people_memory m;
    int r;
    if (size >= 4 && memcmp(data, "CRTP", 4) != 0) {
        /* A stream's one memory from before people were tracked: it goes to
         * the first person confirmed. */
        struct people_memory_entry legacy = {
            .id = 1, .box = {0, 0, 1, 1}, .data = data, .size = size, .first_seen = wall};
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
