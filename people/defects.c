/* defects: what the pose estimator gets wrong, measured on its own output
 * (people.h, "estimator defects") — keypoint jitter and its spectrum, scores
 * by joint and by person size, dropouts, left/right swaps and gaps in
 * confirmed tracks — so that synth's defect model can be set from real
 * footage rather than invented. */
#include "people.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HALF      (PEOPLE_DEFECT_WINDOW / 2)
#define MAX_SLOTS (2 * POSE_TRACKER_MAX_TRACKS)
#define N_BINS    (PEOPLE_DEFECT_DFT / 2) /* DFT bins 1..N_BINS, DC left out */

/* COCO-17, left before right (keypoints.h). */
enum {
    L_EYE = 1,
    R_EYE,
    L_EAR,
    R_EAR,
    L_SHOULDER,
    R_SHOULDER,
    L_ELBOW,
    R_ELBOW,
    L_WRIST,
    R_WRIST,
    L_HIP,
    R_HIP,
    L_KNEE,
    R_KNEE,
    L_ANKLE,
    R_ANKLE,
};

static const float size_edges[PEOPLE_DEFECT_SIZES + 1] = {0, 0.1f, 0.2f, 0.4f, 1};

static const struct {
    const char *name;
    int left, right;
} pairs[PEOPLE_DEFECT_PAIRS] = {
    {"eyes", L_EYE, R_EYE},       {"ears", L_EAR, R_EAR},    {"elbows", L_ELBOW, R_ELBOW},
    {"wrists", L_WRIST, R_WRIST}, {"knees", L_KNEE, R_KNEE}, {"ankles", L_ANKLE, R_ANKLE},
};

struct fvec {
    float *v;
    size_t n, cap;
};

static int fvec_push(struct fvec *f, float x)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 256;
        float *grown = realloc(f->v, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        f->v = grown;
        f->cap = cap;
    }
    f->v[f->n++] = x;
    return 0;
}

/* One seen frame of a track, in pixels. */
struct sample {
    int64_t frame;
    float box_h;
    float x[POSE_NUM_KEYPOINTS], y[POSE_NUM_KEYPOINTS], score[POSE_NUM_KEYPOINTS];
};

struct slot {
    bool used, alive;
    uint32_t id;
    int64_t last_frame;
    struct sample ring[PEOPLE_DEFECT_WINDOW]; /* by frame % WINDOW */
    int run[POSE_NUM_KEYPOINTS];              /* residuals gathered for the next DFT */
    int64_t run_last[POSE_NUM_KEYPOINTS];     /* the frame of the last one */
    float res[POSE_NUM_KEYPOINTS][PEOPLE_DEFECT_DFT][2];
};

struct people_defects_state {
    int64_t frame;
    uint64_t frames, observations, stills;
    struct fvec scores[POSE_NUM_KEYPOINTS], jitter[POSE_NUM_KEYPOINTS];
    uint64_t seen[POSE_NUM_KEYPOINTS], dropped[POSE_NUM_KEYPOINTS];
    struct fvec size_scores[PEOPLE_DEFECT_SIZES];
    uint64_t size_people[PEOPLE_DEFECT_SIZES], size_dropped[PEOPLE_DEFECT_SIZES];
    double power[N_BINS + 1];
    uint64_t windows;
    uint64_t swaps[PEOPLE_DEFECT_PAIRS], swap_checks[PEOPLE_DEFECT_PAIRS];
    uint64_t torso_turns, track_frames, video_observations;
    uint64_t gaps, gap_frames;
    struct slot slots[MAX_SLOTS];
};

int people_defects_new(struct people_defects_state **ret_state)
{
    struct people_defects_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    *ret_state = s;
    return 0;
}

struct people_defects_state *people_defects_free(struct people_defects_state *s)
{
    if (s) {
        for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
            free(s->scores[j].v);
            free(s->jitter[j].v);
        }
        for (int b = 0; b < PEOPLE_DEFECT_SIZES; b++)
            free(s->size_scores[b].v);
    }
    free(s);
    return NULL;
}

void people_defects_reset(struct people_defects_state *s)
{
    memset(s->slots, 0, sizeof(s->slots));
    s->frame += PEOPLE_DEFECT_WINDOW + 1; /* nothing spans the cut */
}

static int size_bin(float box_h)
{
    for (int b = 0; b < PEOPLE_DEFECT_SIZES - 1; b++)
        if (box_h < size_edges[b + 1])
            return b;
    return PEOPLE_DEFECT_SIZES - 1;
}

/* Scores, dropouts and size of one person observation. */
static int observe(struct people_defects_state *s, const struct pose_person *p)
{
    float box_h = p->box[3] - p->box[1];
    int bin = size_bin(box_h);
    s->observations++;
    s->size_people[bin]++;
    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
        float score = p->keypoints[j].score;
        int r;
        if ((r = fvec_push(&s->scores[j], score)) < 0 ||
            (r = fvec_push(&s->size_scores[bin], score)) < 0)
            return r;
        s->seen[j]++;
        if (score < POSE_MIN_SCORE) {
            s->dropped[j]++;
            s->size_dropped[bin]++;
        }
    }
    return 0;
}

int people_defects_still(struct people_defects_state *s, const struct pose_person *people, int n,
                         int width, int height)
{
    (void)width;
    (void)height;
    for (int i = 0; i < n; i++) {
        int r = observe(s, &people[i]);
        if (r < 0)
            return r;
        s->stills++;
    }
    return 0;
}

static struct slot *slot_of(struct people_defects_state *s, uint32_t id)
{
    struct slot *free_slot = NULL;
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (s->slots[i].used && s->slots[i].id == id)
            return &s->slots[i];
        if (!s->slots[i].used && !free_slot)
            free_slot = &s->slots[i];
    }
    if (free_slot) {
        memset(free_slot, 0, sizeof(*free_slot));
        free_slot->used = true;
        free_slot->id = id;
        free_slot->last_frame = -1;
    }
    return free_slot;
}

static const struct sample *sample_at(const struct slot *t, int64_t frame)
{
    if (frame < 0)
        return NULL;
    const struct sample *smp = &t->ring[frame % PEOPLE_DEFECT_WINDOW];
    return smp->frame == frame && smp->box_h > 0 ? smp : NULL;
}

static float dist(const struct sample *a, int i, const struct sample *b, int k)
{
    return hypotf(a->x[i] - b->x[k], a->y[i] - b->y[k]);
}

/* Whether pair (l, r) swapped places between prev and cur: 1 swapped, 0 not,
 * -1 not judged (a point unseen or the two too close to tell). */
static int swapped(const struct sample *prev, const struct sample *cur, int l, int r)
{
    if (prev->score[l] < POSE_MIN_SCORE || prev->score[r] < POSE_MIN_SCORE ||
        cur->score[l] < POSE_MIN_SCORE || cur->score[r] < POSE_MIN_SCORE)
        return -1;
    if (dist(prev, l, prev, r) < PEOPLE_DEFECT_SWAP_SEP * prev->box_h)
        return -1;
    float straight = dist(cur, l, prev, l) + dist(cur, r, prev, r);
    float crossed = dist(cur, l, prev, r) + dist(cur, r, prev, l);
    return crossed < 0.5f * straight;
}

static void swaps_of(struct people_defects_state *s, const struct sample *prev,
                     const struct sample *cur)
{
    s->track_frames++;
    if (swapped(prev, cur, L_SHOULDER, R_SHOULDER) == 1 || swapped(prev, cur, L_HIP, R_HIP) == 1) {
        s->torso_turns++;
        return;
    }
    for (int p = 0; p < PEOPLE_DEFECT_PAIRS; p++) {
        int r = swapped(prev, cur, pairs[p].left, pairs[p].right);
        if (r < 0)
            continue;
        s->swap_checks[p]++;
        s->swaps[p] += (uint64_t)r;
    }
}

/* Adds a Hann-windowed DFT's power of one run of residuals (x and y). */
static void spectrum_add(struct people_defects_state *s, const float res[][2])
{
    const int n = PEOPLE_DEFECT_DFT;
    for (int k = 1; k <= N_BINS; k++) {
        double power = 0;
        for (int axis = 0; axis < 2; axis++) {
            double re = 0, im = 0;
            for (int t = 0; t < n; t++) {
                double w = 0.5 - 0.5 * cos(2 * M_PI * t / (n - 1));
                re += w * res[t][axis] * cos(2 * M_PI * k * t / n);
                im -= w * res[t][axis] * sin(2 * M_PI * k * t / n);
            }
            power += re * re + im * im;
        }
        s->power[k] += (k == N_BINS ? 1 : 2) * power; /* the conjugate bins too */
    }
    s->windows++;
}

/* The residual at frame c = cur - HALF, where the whole window was seen. */
static int residuals(struct people_defects_state *s, struct slot *t, int64_t c)
{
    const struct sample *w[PEOPLE_DEFECT_WINDOW];
    for (int i = 0; i < PEOPLE_DEFECT_WINDOW; i++)
        if (!(w[i] = sample_at(t, c - HALF + i)))
            return 0;
    const struct sample *mid = w[HALF];
    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
        float mx = 0, my = 0;
        bool all = true;
        for (int i = 0; i < PEOPLE_DEFECT_WINDOW && all; i++) {
            all = w[i]->score[j] >= POSE_MIN_SCORE;
            mx += w[i]->x[j];
            my += w[i]->y[j];
        }
        if (!all)
            continue;
        float rx = (mid->x[j] - mx / PEOPLE_DEFECT_WINDOW) / mid->box_h;
        float ry = (mid->y[j] - my / PEOPLE_DEFECT_WINDOW) / mid->box_h;
        int r = fvec_push(&s->jitter[j], hypotf(rx, ry));
        if (r < 0)
            return r;
        if (t->run[j] && t->run_last[j] != c - 1)
            t->run[j] = 0;
        t->res[j][t->run[j]][0] = rx;
        t->res[j][t->run[j]][1] = ry;
        t->run_last[j] = c;
        if (++t->run[j] == PEOPLE_DEFECT_DFT) {
            spectrum_add(s, (const float(*)[2])t->res[j]);
            t->run[j] = 0;
        }
    }
    return 0;
}

int people_defects_frame(struct people_defects_state *s, const struct pose_tracker *tracker,
                         int width, int height)
{
    int64_t f = s->frame++;
    s->frames++;
    for (int i = 0; i < MAX_SLOTS; i++)
        s->slots[i].alive = false;
    for (int i = 0; i < pose_tracker_count(tracker); i++) {
        const struct pose_track *tr = pose_tracker_track(tracker, i);
        if (!tr->confirmed)
            continue;
        struct slot *t = slot_of(s, tr->id);
        if (!t)
            continue; /* more tracks than slots: cannot happen with the tracker's cap */
        t->alive = true;
        if (!tr->seen)
            continue;
        int r = observe(s, &tr->person);
        if (r < 0)
            return r;
        s->video_observations++;
        if (t->last_frame >= 0 && f - t->last_frame > 1) {
            s->gaps++;
            s->gap_frames += (uint64_t)(f - t->last_frame - 1);
        }
        t->last_frame = f;

        struct sample *cur = &t->ring[f % PEOPLE_DEFECT_WINDOW];
        cur->frame = f;
        cur->box_h = (tr->person.box[3] - tr->person.box[1]) * (float)height;
        for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
            cur->x[j] = tr->person.keypoints[j].x * (float)width;
            cur->y[j] = tr->person.keypoints[j].y * (float)height;
            cur->score[j] = tr->person.keypoints[j].score;
        }
        const struct sample *prev = sample_at(t, f - 1);
        if (prev && cur->box_h > 0)
            swaps_of(s, prev, cur);
        if (cur->box_h > 0 && (r = residuals(s, t, f - HALF)) < 0)
            return r;
    }
    for (int i = 0; i < MAX_SLOTS; i++)
        if (s->slots[i].used && !s->slots[i].alive)
            s->slots[i].used = false;
    return 0;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of sorted values; 0 for none. */
static float quantile(const float *v, size_t n, double q)
{
    if (!n)
        return 0;
    size_t i = (size_t)floor(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Median and a quantile of a copy of f. */
static int quantiles(const struct fvec *f, double q, float *ret_median, float *ret_q)
{
    float *v = malloc((f->n ? f->n : 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    if (f->n)
        memcpy(v, f->v, f->n * sizeof(*v));
    qsort(v, f->n, sizeof(*v), cmp_float);
    *ret_median = quantile(v, f->n, 0.5);
    *ret_q = quantile(v, f->n, q);
    free(v);
    return 0;
}

/* |H|^2 of the residual filter (one minus the centred mean) at k cycles per
 * PEOPLE_DEFECT_DFT frames: what white noise's spectrum becomes. */
static double highpass_gain(int k)
{
    double w = 2 * M_PI * k / PEOPLE_DEFECT_DFT, mean = 1;
    for (int i = 1; i <= HALF; i++)
        mean += 2 * cos(i * w);
    double h = 1 - mean / PEOPLE_DEFECT_WINDOW;
    return h * h;
}

int people_defects_summary(const struct people_defects_state *s, struct people_defects *ret)
{
    struct people_defects d = {
        .frames = s->frames, .observations = s->observations, .stills = s->stills};
    struct fvec all = {0};
    int r = 0;
    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
        struct people_defect_joint *o = &d.joints[j];
        o->seen = s->seen[j];
        o->dropout = s->seen[j] ? (float)s->dropped[j] / (float)s->seen[j] : 0;
        o->jitter_n = s->jitter[j].n;
        if ((r = quantiles(&s->scores[j], 0.1, &o->score_median, &o->score_p10)) < 0 ||
            (r = quantiles(&s->jitter[j], 0.9, &o->jitter_median, &o->jitter_p90)) < 0)
            goto done;
        for (size_t i = 0; i < s->jitter[j].n; i++)
            if ((r = fvec_push(&all, s->jitter[j].v[i])) < 0)
                goto done;
    }
    if ((r = quantiles(&all, 0.9, &d.jitter_median, &d.jitter_p90)) < 0)
        goto done;

    double total = 0, white_total = 0;
    for (int k = 1; k <= N_BINS; k++) {
        total += s->power[k];
        white_total += (k == N_BINS ? 1 : 2) * highpass_gain(k);
    }
    for (int k = 1; k <= N_BINS; k++) {
        int b = (k - 1) * PEOPLE_DEFECT_BANDS / N_BINS;
        d.band[b] += total > 0 ? s->power[k] / total : 0;
        d.band_white[b] += (k == N_BINS ? 1 : 2) * highpass_gain(k) / white_total;
    }
    d.spectrum_windows = s->windows;

    for (int b = 0; b < PEOPLE_DEFECT_SIZES; b++) {
        struct people_defect_size *o = &d.sizes[b];
        o->lo = size_edges[b];
        o->hi = size_edges[b + 1];
        o->people = s->size_people[b];
        uint64_t points = s->size_people[b] * POSE_NUM_KEYPOINTS;
        o->dropout = points ? (float)s->size_dropped[b] / (float)points : 0;
        if ((r = quantiles(&s->size_scores[b], 0.1, &o->score_median, &o->score_p10)) < 0)
            goto done;
    }

    uint64_t swaps = 0;
    for (int p = 0; p < PEOPLE_DEFECT_PAIRS; p++) {
        d.pair_names[p] = pairs[p].name;
        d.swaps[p] = s->swaps[p];
        d.swap_checks[p] = s->swap_checks[p];
        swaps += s->swaps[p];
    }
    d.torso_turns = s->torso_turns;
    d.track_frames = s->track_frames;
    d.swaps_per_1000 = s->track_frames ? 1000.0 * (double)swaps / (double)s->track_frames : 0;
    d.gaps = s->gaps;
    d.gap_mean_frames = s->gaps ? (double)s->gap_frames / (double)s->gaps : 0;
    d.gaps_per_1000 =
        s->video_observations ? 1000.0 * (double)s->gaps / (double)s->video_observations : 0;
    *ret = d;
done:
    free(all.v);
    return r;
}
