/* batch: an epoch's batches of clips and their truncated-BPTT windows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

/* Feature pointers of one window: one per clip of the batch. */
#define TRAIN_BATCH_MAX 4096

int train_clip_segments(const struct dataset_clip *clip, int L)
{
    int n = clip->frames / L;
    return n > 0 ? n : 1;
}

static void shuffle(int *order, int n, struct rng *rng)
{
    for (int i = n - 1; i > 0; i--) {
        int j = rng_below(rng, i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

struct length_key {
    const struct dataset *ds;
    int L;
};

static int compare_length(const void *a, const void *b, void *arg)
{
    const struct length_key *key = arg;
    int x = *(const int *)a, y = *(const int *)b;
    int nx = train_clip_segments(&key->ds->clips[x], key->L);
    int ny = train_clip_segments(&key->ds->clips[y], key->L);
    return nx != ny ? nx - ny : x - y;
}

void train_batch_plan(int *order, const struct dataset *ds, int L, int batch, uint64_t seed)
{
    struct rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < ds->n; i++)
        order[i] = i;
    shuffle(order, ds->n, &rng);
    /* Sort within pools of 16 batches: lengths match, randomness stays. */
    int pool = 16 * batch;
    struct length_key key = {ds, L};
    for (int first = 0; first < ds->n; first += pool) {
        int n = ds->n - first < pool ? ds->n - first : pool;
        qsort_r(order + first, (size_t)n, sizeof(int), compare_length, &key);
    }
    /* Shuffle whole batches (the last, possibly short one stays last). */
    int full = ds->n / batch;
    for (int i = full - 1; i > 0; i--) {
        int j = rng_below(&rng, i + 1);
        for (int k = 0; k < batch; k++) {
            int t = order[i * batch + k];
            order[i * batch + k] = order[j * batch + k];
            order[j * batch + k] = t;
        }
    }
}

int train_batch_init(struct train_batch *tb, struct crt_model *model, struct crt_trainer *trainer,
                     int max_batch, int window, const float *class_weight)
{
    if (max_batch < 1 || max_batch > TRAIN_BATCH_MAX || window < 1)
        return -EINVAL;
    size_t S = crt_model_memory_floats(model);
    int C = crt_model_config(model)->n_classes;
    *tb = (struct train_batch){.model = model,
                               .trainer = trainer,
                               .max_batch = max_batch,
                               .window = window,
                               .class_weight = class_weight};
    tb->targets = calloc((size_t)max_batch * window, sizeof(int));
    tb->weights = calloc((size_t)max_batch * window, sizeof(float));
    tb->mem = calloc((size_t)max_batch * S, sizeof(float));
    tb->probs = calloc((size_t)max_batch * window * C, sizeof(float));
    tb->from_start = calloc((size_t)max_batch, sizeof(bool));
    if (!tb->targets || !tb->weights || !tb->mem || !tb->probs || !tb->from_start) {
        train_batch_done(tb);
        return -ENOMEM;
    }
    return 0;
}

void train_batch_done(struct train_batch *tb)
{
    if (!tb)
        return;
    free(tb->feats);
    free(tb->targets);
    free(tb->weights);
    free(tb->mem);
    free(tb->probs);
    free(tb->from_start);
    memset(tb, 0, sizeof(*tb));
}

/* The loss weight of segment n of a clip of N segments: rising toward the
 * end (the clip's decision is its last segment's), summing to 1 per clip. */
static float time_weight(int n, int N, bool uniform)
{
    if (uniform)
        return 1.0f / (float)N;
    return (float)(n + 1) / (float)(N * (N + 1) / 2);
}

static int segment_label(const struct dataset_clip *clip, int n, int L)
{
    int last = (n + 1) * L - 1;
    if (last >= clip->frames)
        last = clip->frames - 1;
    return last >= 0 ? clip->frame_labels[last] : clip->label;
}

int train_batch_run(struct train_batch *tb, const struct dataset *ds, const int *clip_ids, int B,
                    const struct train_schedule *schedule, double *ret_loss, int *ret_right)
{
    const struct crt_config *cfg = crt_model_config(tb->model);
    int L = cfg->segment_len, F = cfg->n_features, C = cfg->n_classes;
    int W = tb->window;
    size_t S = crt_model_memory_floats(tb->model);
    if (B < 1 || B > tb->max_batch)
        return -EINVAL;
    int n_max = 0;
    for (int b = 0; b < B; b++) {
        int n = train_clip_segments(&ds->clips[clip_ids[b]], L);
        n_max = n > n_max ? n : n_max;
    }
    size_t per_clip = (size_t)n_max * L * F;
    if (per_clip * B > tb->feats_floats) {
        float *grown = realloc(tb->feats, per_clip * B * sizeof(float));
        if (!grown)
            return -ENOMEM;
        tb->feats = grown;
        tb->feats_floats = per_clip * B;
    }
    /* Each clip padded to the longest: repeats of its last frame. */
    for (int b = 0; b < B; b++) {
        const struct dataset_clip *clip = &ds->clips[clip_ids[b]];
        float *dst = tb->feats + per_clip * b;
        for (int f = 0; f < n_max * L; f++) {
            int src = f < clip->frames ? f : clip->frames - 1;
            if (src < 0)
                memset(dst + (size_t)f * F, 0, (size_t)F * sizeof(float));
            else
                memcpy(dst + (size_t)f * F, clip->features + (size_t)src * F,
                       (size_t)F * sizeof(float));
        }
        crt_model_initial_memory(tb->model, tb->mem + S * b);
    }

    double loss = 0;
    int right = 0;
    for (int start = 0; start < n_max; start += W) {
        int Wn = n_max - start < W ? n_max - start : W;
        const float *feats[TRAIN_BATCH_MAX];
        for (int b = 0; b < B; b++) {
            const struct dataset_clip *clip = &ds->clips[clip_ids[b]];
            int N = train_clip_segments(clip, L);
            bool uniform = false;
            for (int f = 1; f < clip->frames && !uniform; f++)
                uniform = clip->frame_labels[f] != clip->frame_labels[0];
            feats[b] = tb->feats + per_clip * b + (size_t)start * L * F;
            tb->from_start[b] = start == 0;
            for (int w = 0; w < Wn; w++) {
                int n = start + w;
                int label = n < N ? segment_label(clip, n, L) : -1;
                tb->targets[b * Wn + w] = label;
                tb->weights[b * Wn + w] =
                    label >= 0 ? tb->class_weight[label] * time_weight(n, N, uniform) : 0.0f;
            }
        }
        crt_trainer_zero_grad(tb->trainer);
        loss += crt_trainer_forward_backward(tb->trainer, B, Wn, feats, tb->targets, tb->weights,
                                             tb->from_start, tb->mem, tb->probs);
        long step = (long)crt_trainer_steps(tb->trainer);
        crt_trainer_step(tb->trainer, 1.0f / (float)B, train_schedule_lr(schedule, step));
        /* The clip's prediction is its last segment's. */
        for (int b = 0; b < B; b++) {
            const struct dataset_clip *clip = &ds->clips[clip_ids[b]];
            int last = train_clip_segments(clip, L) - 1 - start;
            if (last < 0 || last >= Wn)
                continue;
            const float *p = tb->probs + ((size_t)b * Wn + last) * C;
            int best = 0;
            for (int c = 1; c < C; c++)
                if (p[c] > p[best])
                    best = c;
            right += best == segment_label(clip, last + start, L);
        }
    }
    *ret_loss = loss;
    *ret_right = right;
    return 0;
}
