/* finetune: a model taught a home from the home's own labels, kept only if
 * it is better there and no worse on what it knew (docs/TRAINING.md,
 * "Fine-tuning on a home's labels"). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "train.h"

void train_finetune_options_default(struct train_finetune_options *opts)
{
    *opts = (struct train_finetune_options){
        .replay_clips = 400,
        .holdout = 0.2,
        .min_labels = 5,
        .epochs = 12,
        .batch = 32,
        .window = 8,
        .threads = 1,
        .lr = 5e-4f,
        .tolerance = 0.01,
        .seed = 1,
    };
}

/* Everything one fine-tune holds; torn down in one place. */
struct job {
    const struct train_finetune_options *o;
    void (*progress)(void *user, const struct train_finetune_progress *p);
    void *user;
    const atomic_bool *cancel;
    int64_t started;
    struct crt_model *parent, *model;
    struct dataset labels, held, replay_train, replay_check;
    struct dataset mix; /* a view: clips owned by labels and replay_train */
    struct train_finetune_result res;
};

static void tell(struct job *job, struct train_finetune_progress *p)
{
    p->seconds = (double)(time_mono_ns() - job->started) * 1e-9;
    if (job->progress)
        job->progress(job->user, p);
}

static void tell_stage(struct job *job, enum train_finetune_stage stage, double fraction)
{
    struct train_finetune_progress p = {
        .stage = stage, .fraction = fraction, .epochs = job->o->epochs};
    tell(job, &p);
}

static bool cancelled(const struct job *job)
{
    return job->cancel && atomic_load(job->cancel);
}

static int model_class(const struct crt_model *m, const char *name)
{
    for (int c = 0; c < crt_model_config(m)->n_classes; c++)
        if (strcmp(crt_model_class(m, c), name) == 0)
            return c;
    return -1;
}

/* ---- the labels' classes -------------------------------------------------- */

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The class names the labels use (as clip or frame labels) that the model
 * lacks, in name order, so that the same labels always grow the same model. */
static int new_label_classes(const char *dir, const struct crt_model *model, char ***ret_names,
                             int *ret_n, struct errbuf *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errbuf_set(err, -errno, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, files = 0, r = 0;
    struct dirent *e;
    while (r == 0 && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".pose") != 0)
            continue;
        files++;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct pose_sequence seq;
        struct errbuf why = {0};
        if (pose_sequence_load(path, &seq, &why) < 0)
            continue; /* dataset_load reports it, and leaves it out */
        bool used[POSE_SEQUENCE_MAX_CLASSES] = {false};
        if (seq.label >= 0)
            used[seq.label] = true;
        for (int f = 0; f < seq.frames; f++)
            if (seq.labels[f] >= 0)
                used[seq.labels[f]] = true;
        for (int c = 0; c < seq.n_classes && r == 0; c++) {
            if (!used[c] || model_class(model, seq.classes[c]) >= 0)
                continue;
            bool known = false;
            for (int k = 0; k < n && !known; k++)
                known = strcmp(names[k], seq.classes[c]) == 0;
            if (known)
                continue;
            char **grown = realloc(names, (size_t)(n + 1) * sizeof(*names));
            if (!grown || !(grown[n] = strdup(seq.classes[c]))) {
                names = grown ? grown : names;
                r = errbuf_set(err, -ENOMEM, "out of memory");
                break;
            }
            names = grown;
            n++;
        }
        pose_sequence_done(&seq);
    }
    closedir(d);
    if (r == 0 && files == 0)
        r = errbuf_set(err, -ENOENT, "%s: no labelled stretches (*.pose) here", dir);
    if (r < 0) {
        for (int i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return r;
    }
    if (n > 1)
        qsort(names, (size_t)n, sizeof(*names), compare_strings);
    *ret_names = names;
    *ret_n = n;
    return 0;
}

/* ---- loading -------------------------------------------------------------- */

static int load(struct job *job, struct errbuf *err)
{
    const struct train_finetune_options *o = job->o;
    struct train_finetune_result *res = &job->res;
    int r = crt_model_load(o->model, &job->parent, err);
    if (r < 0)
        return r;
    snprintf(res->parent, sizeof(res->parent), "%016llx",
             (unsigned long long)crt_model_fingerprint(job->parent));
    res->classes_before = crt_model_config(job->parent)->n_classes;

    char **added = NULL;
    int n_added = 0;
    if ((r = new_label_classes(o->labels, job->parent, &added, &n_added, err)) < 0)
        return r;
    r = train_model_grow_classes(job->parent, (const char *const *)added, n_added, o->seed,
                                 &job->model, err);
    for (int i = 0; i < n_added; i++)
        free(added[i]);
    free(added);
    if (r < 0)
        return r;
    res->classes_after = crt_model_config(job->model)->n_classes;
    res->added = res->classes_after - res->classes_before;

    int C = res->classes_after;
    const char **classes = calloc((size_t)C, sizeof(*classes));
    if (!classes)
        return errbuf_set(err, -ENOMEM, "out of memory");
    for (int c = 0; c < C; c++)
        classes[c] = crt_model_class(job->model, c);
    struct dataset_filter all = {.smarthome = false};
    r = dataset_load(&job->labels, o->labels, &all, classes, C, o->report, err);
    if (r == 0 && o->replay) {
        /* Half of the folder to train on, the other half to check. */
        r = dataset_load(&job->replay_train, o->replay, &all, classes, C, NULL, err);
        if (r == 0 &&
            dataset_split_validation(&job->replay_train, &job->replay_check, 0.5, o->seed) < 0)
            r = errbuf_set(err, -ENOMEM, "out of memory");
        if (r == 0 && (job->replay_train.n == 0 || job->replay_check.n == 0))
            r = errbuf_set(err, -ENOENT, "%s: too few clips to replay (%d)", o->replay,
                           job->replay_train.n + job->replay_check.n);
    } else if (r == 0) {
        struct train_replay rp;
        uint64_t seed = 0x7265706cull + 2ull * o->seed;
        r = train_replay_recipe(job->parent, &rp, err);
        if (r == 0)
            r = train_replay_make(&job->replay_train, &rp, job->model, seed, o->replay_clips, err);
        if (r == 0)
            r = train_replay_make(&job->replay_check, &rp, job->model, seed + 1, o->replay_clips,
                                  err);
        if (r == 0)
            r = crt_model_set_metadata(job->model, TRAIN_REPLAY_KEY, rp.spec);
        char text[256];
        snprintf(text, sizeof(text),
                 "%s: %d clips of seed %llu to train on, %d of seed %llu to check", rp.spec,
                 o->replay_clips, (unsigned long long)seed, o->replay_clips,
                 (unsigned long long)seed + 1);
        if (r == 0)
            r = crt_model_set_metadata(job->model, "finetune.replay", text);
    }
    if (r == 0 && o->replay) {
        char text[4200];
        snprintf(text, sizeof(text), "the folder %s: %d clips to train on, %d to check", o->replay,
                 job->replay_train.n, job->replay_check.n);
        r = crt_model_set_metadata(job->model, "finetune.replay", text);
    }
    free(classes);
    res->replay_train = job->replay_train.n;
    res->replay_check = job->replay_check.n;
    return r;
}

/* ---- the held-out labels -------------------------------------------------- */

struct keyed {
    uint32_t key;
    int index;
};

static int compare_keyed(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    return x->key != y->key ? (x->key < y->key ? -1 : 1) : x->index - y->index;
}

/* Counts each class's labels, refuses too few, and moves a seeded share of
 * each class (at least one, never all) into job->held. */
static int split_labels(struct job *job, struct errbuf *err)
{
    const struct train_finetune_options *o = job->o;
    struct train_finetune_result *res = &job->res;
    struct dataset *ds = &job->labels;
    int C = crt_model_config(job->model)->n_classes;
    int *count = calloc((size_t)C, sizeof(int));
    struct keyed *order = calloc((size_t)(ds->n ? ds->n : 1), sizeof(*order));
    bool *held = calloc((size_t)(ds->n ? ds->n : 1), sizeof(bool));
    int r = 0;
    if (!count || !order || !held) {
        r = errbuf_set(err, -ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < ds->n; i++) {
        struct dataset_clip *clip = &ds->clips[i];
        /* A stretch is one class: without a clip label it takes its last
         * labelled frame's, and frames without a label take the stretch's. */
        for (int f = clip->frames - 1; f >= 0 && clip->label < 0; f--)
            clip->label = clip->frame_labels[f];
        for (int f = 0; f < clip->frames && clip->label >= 0; f++)
            if (clip->frame_labels[f] < 0)
                clip->frame_labels[f] = clip->label;
        if (clip->label >= 0)
            count[clip->label]++;
    }
    char short_list[512] = "";
    int n_short = 0;
    for (int c = 0; c < C; c++) {
        if (count[c] == 0)
            continue;
        if (res->n_classes == TRAIN_FINETUNE_MAX_LABEL_CLASSES) {
            r = errbuf_set(err, -E2BIG, "%s: labels of more than %d classes", o->labels,
                           TRAIN_FINETUNE_MAX_LABEL_CLASSES);
            goto done;
        }
        struct train_finetune_class *k = &res->classes[res->n_classes++];
        str_copy(k->name, sizeof(k->name), crt_model_class(job->model, c));
        k->labels = count[c];
        k->added = c >= res->classes_before;
        k->before = k->after = NAN;
        if (count[c] < o->min_labels && n_short++ < 6) {
            size_t len = strlen(short_list);
            snprintf(short_list + len, sizeof(short_list) - len, "%s'%s' has %d", len ? ", " : "",
                     k->name, count[c]);
        }
    }
    if (res->n_classes == 0) {
        r = errbuf_set(err, -ENOENT, "%s: no labelled stretches of any class", o->labels);
        goto done;
    }
    if (n_short) {
        r = errbuf_set(err, -EINVAL,
                       "too few labels: %s%s; a fine-tune needs at least %d labelled stretches "
                       "per class (some are held out to check the new model)",
                       short_list, n_short > 6 ? ", ..." : "", o->min_labels);
        goto done;
    }
    /* Per class: the clips in the order of a seeded hash of their names. */
    for (int i = 0; i < ds->n; i++) {
        const char *base = strrchr(ds->clips[i].path, '/');
        base = base ? base + 1 : ds->clips[i].path;
        order[i] = (struct keyed){fnv1a32(FNV1A32_INIT ^ o->seed, base, strlen(base)), i};
    }
    qsort(order, (size_t)ds->n, sizeof(*order), compare_keyed);
    for (int k = 0; k < res->n_classes; k++) {
        int c = model_class(job->model, res->classes[k].name);
        int want = (int)lround(o->holdout * count[c]);
        want = want < 1 ? 1 : want > count[c] - 1 ? count[c] - 1 : want;
        for (int i = 0; i < ds->n && res->classes[k].held_out < want; i++)
            if (ds->clips[order[i].index].label == c) {
                held[order[i].index] = true;
                res->classes[k].held_out++;
            }
    }
    job->held.clips = calloc((size_t)(ds->n ? ds->n : 1), sizeof(*ds->clips));
    if (!job->held.clips) {
        r = errbuf_set(err, -ENOMEM, "out of memory");
        goto done;
    }
    int kept = 0;
    for (int i = 0; i < ds->n; i++) {
        if (held[i])
            job->held.clips[job->held.n++] = ds->clips[i];
        else if (ds->clips[i].label >= 0)
            ds->clips[kept++] = ds->clips[i];
        else
            dataset_clip_done(&ds->clips[i]); /* no label: nothing to learn */
    }
    ds->n = kept;
    res->train_labels = ds->n;
    res->skipped_labels = ds->skipped;
    res->held_out = job->held.n;
done:
    free(count);
    free(order);
    free(held);
    return r;
}

/* ---- judging -------------------------------------------------------------- */

/* Mean per-class accuracy of model on ds, in a matrix as wide as the grown
 * model (the parent predicts only its own classes), and each label class's
 * recall into before or after. */
static int judge(struct job *job, const struct crt_model *model, const struct dataset *ds,
                 bool labels, bool after, double *ret_mca, struct errbuf *err)
{
    struct confusion cm = {0};
    int r = confusion_init(&cm, crt_model_config(job->model)->n_classes);
    if (r < 0)
        return errbuf_set(err, r, "out of memory");
    r = train_evaluate(&cm, model, ds, true, NULL, NULL, err);
    if (r == 0) {
        *ret_mca = confusion_mean_class_accuracy(&cm, NULL, NULL);
        for (int k = 0; labels && k < job->res.n_classes; k++) {
            struct train_finetune_class *c = &job->res.classes[k];
            double recall = confusion_recall(&cm, model_class(job->model, c->name));
            *(after ? &c->after : &c->before) = recall;
        }
    }
    confusion_done(&cm);
    return r;
}

/* ---- training ------------------------------------------------------------- */

/* The epoch's mix: each training label `repeat` times, then the replay. */
static int build_mix(struct job *job, struct errbuf *err)
{
    int n_labels = job->labels.n, n_replay = job->o->labels_only ? 0 : job->replay_train.n;
    int repeat = (int)lround((double)(job->o->labels_only ? job->replay_train.n : n_replay) /
                             (n_labels > 0 ? n_labels : 1));
    repeat = repeat < 1 ? 1 : repeat > 8 ? 8 : repeat;
    job->res.label_repeat = repeat;
    job->mix.clips = calloc((size_t)(n_labels * repeat + n_replay + 1), sizeof(*job->mix.clips));
    if (!job->mix.clips)
        return errbuf_set(err, -ENOMEM, "out of memory");
    for (int k = 0; k < repeat; k++)
        for (int i = 0; i < n_labels; i++)
            job->mix.clips[job->mix.n++] = job->labels.clips[i];
    for (int i = 0; i < n_replay; i++)
        job->mix.clips[job->mix.n++] = job->replay_train.clips[i];
    return 0;
}

static uint64_t epoch_seed(const struct train_finetune_options *o, int epoch)
{
    return (uint64_t)o->seed * 1000003u + 0x66740000ull + (uint64_t)epoch;
}

static long total_steps(int *order, const struct dataset *ds, int L,
                        const struct train_finetune_options *o)
{
    int batches = (ds->n + o->batch - 1) / o->batch;
    long steps = 0;
    for (int epoch = 0; epoch < o->epochs; epoch++) {
        train_batch_plan(order, ds, L, o->batch, epoch_seed(o, epoch));
        for (int bi = 0; bi < batches; bi++) {
            int longest = 1;
            for (int k = bi * o->batch; k < ds->n && k < (bi + 1) * o->batch; k++) {
                int n = train_clip_segments(&ds->clips[order[k]], L);
                longest = n > longest ? n : longest;
            }
            steps += (longest + o->window - 1) / o->window;
        }
    }
    return steps;
}

static int train(struct job *job, struct errbuf *err)
{
    const struct train_finetune_options *o = job->o;
    const struct crt_config *cfg = crt_model_config(job->model);
    int C = cfg->n_classes, L = cfg->segment_len;
    struct crt_trainer *trainer = NULL;
    struct train_batch tb = {0};
    float *class_weight = calloc((size_t)C, sizeof(float));
    int *order = calloc((size_t)job->mix.n, sizeof(int));
    int r;
    if (!class_weight || !order || train_class_weights(class_weight, &job->mix, C, true) < 0) {
        r = errbuf_set(err, -ENOMEM, "out of memory");
        goto done;
    }
    struct crt_train_options topts;
    crt_train_options_default(&topts);
    topts.max_batch = o->batch;
    topts.max_window = o->window;
    topts.threads = o->threads;
    topts.seed = o->seed;
    if ((r = crt_trainer_new(job->model, &topts, &trainer, err)) < 0)
        goto done;
    if ((r = train_batch_init(&tb, job->model, trainer, o->batch, o->window, class_weight)) < 0) {
        r = errbuf_set(err, r, "out of memory");
        goto done;
    }
    long steps = total_steps(order, &job->mix, L, o);
    struct train_schedule schedule = {.lr = o->lr,
                                      .min_lr_ratio = 0.1f,
                                      .warmup = steps / 10 > 1 ? (int)(steps / 10) : 1,
                                      .total_steps = steps};
    int batches = (job->mix.n + o->batch - 1) / o->batch;
    struct train_finetune_progress p = {
        .stage = TRAIN_FINETUNE_TRAIN, .epochs = o->epochs, .batches = batches};
    for (int epoch = 0; epoch < o->epochs; epoch++) {
        train_batch_plan(order, &job->mix, L, o->batch, epoch_seed(o, epoch));
        double loss = 0;
        int clips = 0;
        for (int bi = 0; bi < batches; bi++) {
            if (cancelled(job)) {
                r = errbuf_set(err, -ECANCELED, "cancelled");
                goto done;
            }
            int B = job->mix.n - bi * o->batch < o->batch ? job->mix.n - bi * o->batch : o->batch;
            double batch_loss;
            int right;
            r = train_batch_run(&tb, &job->mix, order + bi * o->batch, B, &schedule, &batch_loss,
                                &right);
            if (r < 0) {
                r = errbuf_set(err, r, "batch failed: %s", strerror(-r));
                goto done;
            }
            loss += batch_loss;
            clips += B;
            p.epoch = epoch;
            p.batch = bi;
            p.loss = loss / clips;
            p.fraction = 0.1 + 0.8 * (epoch + (bi + 1.0) / batches) / o->epochs;
            tell(job, &p);
        }
    }
    r = 0;
done:
    train_batch_done(&tb);
    crt_trainer_free(trainer);
    free(class_weight);
    free(order);
    return r;
}

/* ---- the card ------------------------------------------------------------- */

static int set_json(struct crt_model *m, const char *key, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(value);
    int r = text ? crt_model_set_metadata(m, key, text) : -ENOMEM;
    free(text);
    return r;
}

static int write_card(struct job *job)
{
    const struct train_finetune_options *o = job->o;
    const struct train_finetune_result *res = &job->res;
    struct crt_model *m = job->model;
    char date[64], text[512];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);

    json_t *labels = json_object(), *added = json_array();
    for (int k = 0; k < res->n_classes; k++) {
        const struct train_finetune_class *c = &res->classes[k];
        json_object_set_new(labels, c->name,
                            json_pack("{s:i, s:i}", "labels", c->labels, "held_out", c->held_out));
        if (c->added)
            json_array_append_new(added, json_string(c->name));
    }
    const char *parent_generation = crt_model_metadata(job->parent, "finetune.generation");
    snprintf(text, sizeof(text), "%d", parent_generation ? atoi(parent_generation) + 1 : 1);
    int r = crt_model_set_metadata(m, "finetune.generation", text);
    if (r == 0)
        r = crt_model_set_metadata(m, "finetune.parent", res->parent);
    if (r == 0)
        r = crt_model_set_metadata(m, "finetune.date", date);
    if (r == 0)
        r = set_json(m, "finetune.labels", labels);
    else
        json_decref(labels);
    if (r == 0)
        r = set_json(m, "finetune.added", added);
    else
        json_decref(added);
    if (r == 0)
        r = set_json(m, "finetune.validation",
                     json_pack("{s:f, s:f, s:f, s:f, s:f, s:i, s:i, s:b}", "held_out_before",
                               res->held_out_before, "held_out_after", res->held_out_after,
                               "replay_before", res->replay_before, "replay_after",
                               res->replay_after, "tolerance", o->tolerance, "held_out",
                               res->held_out, "replay_check", res->replay_check, "accepted",
                               res->accepted));
    snprintf(text, sizeof(text),
             "epochs %d, batch %d, window %d, lr %g, seed %u, holdout %g, each training label "
             "%d times per epoch%s",
             o->epochs, o->batch, o->window, (double)o->lr, o->seed, o->holdout, res->label_repeat,
             o->labels_only ? ", no replay in training" : "");
    if (r == 0)
        r = crt_model_set_metadata(m, "finetune.recipe", text);
    return r;
}

/* ---- the job -------------------------------------------------------------- */

static void job_done(struct job *job)
{
    free(job->mix.clips);
    dataset_done(&job->labels);
    dataset_done(&job->held);
    dataset_done(&job->replay_train);
    dataset_done(&job->replay_check);
    crt_model_free(job->parent);
    crt_model_free(job->model);
}

int train_finetune(const struct train_finetune_options *opts,
                   void (*progress)(void *user, const struct train_finetune_progress *p),
                   void *user, const atomic_bool *cancel, struct train_finetune_result *ret_result,
                   struct errbuf *err)
{
    const struct train_finetune_options *o = opts;
    if (!o->model || !o->labels || !o->out)
        return errbuf_set(err, -EINVAL, "a fine-tune needs a model, labels and an output file");
    if (o->epochs < 1 || o->batch < 1 || o->window < 1 || o->threads < 1 || o->min_labels < 2 ||
        !(o->holdout > 0 && o->holdout < 1) || !(o->lr > 0) || !(o->tolerance >= 0) ||
        (!o->replay && o->replay_clips < 1))
        return errbuf_set(err, -EINVAL, "fine-tune options out of range");

    struct job job = {.o = o, .progress = progress, .user = user, .cancel = cancel};
    job.started = time_mono_ns();
    /* A background job: the workers are all the parallelism it gets. */
    blas_set_threads(1);
    tell_stage(&job, TRAIN_FINETUNE_LOAD, 0);
    int r = load(&job, err);
    if (r == 0)
        r = split_labels(&job, err);
    if (r < 0)
        goto done;
    if (cancelled(&job)) {
        r = errbuf_set(err, -ECANCELED, "cancelled");
        goto done;
    }

    tell_stage(&job, TRAIN_FINETUNE_BASELINE, 0.05);
    struct train_finetune_result *res = &job.res;
    if ((r = judge(&job, job.parent, &job.held, true, false, &res->held_out_before, err)) < 0 ||
        (r = judge(&job, job.parent, &job.replay_check, false, false, &res->replay_before, err)) <
            0)
        goto done;

    if ((r = build_mix(&job, err)) < 0 || (r = train(&job, err)) < 0)
        goto done;

    tell_stage(&job, TRAIN_FINETUNE_CHECK, 0.9);
    if ((r = judge(&job, job.model, &job.held, true, true, &res->held_out_after, err)) < 0 ||
        (r = judge(&job, job.model, &job.replay_check, false, true, &res->replay_after, err)) < 0)
        goto done;
    bool better = res->held_out_after > res->held_out_before;
    bool kept = res->replay_after >= res->replay_before - o->tolerance;
    res->accepted = better && kept;
    if (res->accepted)
        snprintf(res->verdict, sizeof(res->verdict),
                 "accepted: better on the held-out labels, and the replay within %.1f points",
                 100 * o->tolerance);
    else
        snprintf(res->verdict, sizeof(res->verdict), "not accepted: %s%s%s",
                 better ? "" : "no better on the held-out labels", !better && !kept ? ", and " : "",
                 kept ? "" : "the replay fell by more than the tolerance");

    if ((r = write_card(&job)) < 0) {
        r = errbuf_set(err, r, "out of memory");
        goto done;
    }
    if (cancelled(&job)) {
        r = errbuf_set(err, -ECANCELED, "cancelled");
        goto done;
    }
    if (res->accepted || o->write_rejected) {
        if ((r = crt_model_save(job.model, o->out, SAFETENSORS_F32, err)) < 0)
            goto done;
        res->written = true;
    }
    res->seconds = (double)(time_mono_ns() - job.started) * 1e-9;
    tell_stage(&job, TRAIN_FINETUNE_DONE, 1);
    *ret_result = *res;
    r = 0;
done:
    job_done(&job);
    return r;
}
