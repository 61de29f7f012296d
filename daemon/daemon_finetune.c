/* daemon_finetune: the fine-tune on the box behind /v1/model/finetune
 * (docs/SERVICE.md, "Fine-tuning"). A start exports the store's labels to
 * STATE/finetune/labels (labels_export), counts each class's stretches as
 * the trainer will and refuses too few before any thread starts; then one
 * thread at the lowest priority (SCHED_IDLE, nice 19) runs train_finetune
 * from the serving model with a replay of its own training data, and an
 * accepted model becomes the next generation (daemon_models.c). A failed,
 * rejected or cancelled job leaves the serving model as it was. */
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon_internal.h"
#include "labels_export.h"
#include "train.h"

enum job_state { JOB_IDLE, JOB_RUNNING, JOB_SUCCEEDED, JOB_REJECTED, JOB_FAILED, JOB_CANCELLED };
static const char *const state_names[] = {"idle",     "running", "succeeded",
                                          "rejected", "failed",  "cancelled"};
static const char *const stage_names[] = {"load", "baseline", "train", "check", "done"};

struct daemon_finetune {
    struct daemon *d;
    pthread_mutex_t lock;
    pthread_t thread;
    bool joinable;
    atomic_bool cancel;
    /* under lock */
    enum job_state state;
    enum train_finetune_stage stage;
    double fraction, published;
    int epoch, epochs;
    double started, finished;
    char error[512];
    int generation; /* the new one, when succeeded */
    json_t *options, *labels, *result;
    /* the job's own */
    char dir[PATH_MAX], label_dir[PATH_MAX], model[PATH_MAX], out[PATH_MAX];
    struct train_finetune_options opts;
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) < 0 ? -1 : 0;
}

static void remove_tree(const char *dir)
{
    if (access(dir, F_OK) == 0 && nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) < 0)
        log_warning("fine-tune: removing %s: %s", dir, strerror(errno));
}

int daemon_finetune_new(struct daemon *d)
{
    struct daemon_finetune *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->d = d;
    f->finished = -1;
    pthread_mutex_init(&f->lock, NULL);
    snprintf(f->dir, sizeof(f->dir), "%.*s/finetune", PATH_MAX - 32, d->cfg.state_directory);
    snprintf(f->label_dir, sizeof(f->label_dir), "%.*s/labels", PATH_MAX - 16, f->dir);
    snprintf(f->out, sizeof(f->out), "%.*s/new.safetensors", PATH_MAX - 24, f->dir);
    remove_tree(f->dir); /* what a job cut short by a kill left */
    d->finetune = f;
    return 0;
}

void daemon_finetune_free(struct daemon *d)
{
    struct daemon_finetune *f = d->finetune;
    if (!f)
        return;
    atomic_store(&f->cancel, true);
    if (f->joinable)
        pthread_join(f->thread, NULL);
    json_decref(f->options);
    json_decref(f->labels);
    json_decref(f->result);
    pthread_mutex_destroy(&f->lock);
    free(f);
    d->finetune = NULL;
}

bool daemon_finetune_running(struct daemon *d)
{
    struct daemon_finetune *f = d->finetune;
    pthread_mutex_lock(&f->lock);
    bool running = f->state == JOB_RUNNING;
    pthread_mutex_unlock(&f->lock);
    return running;
}

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* The job's state as GET /v1/model/finetune answers it; with f->lock. */
static json_t *state_json(struct daemon_finetune *f)
{
    json_t *j = json_object();
    json_object_set_new(j, "state", json_string(state_names[f->state]));
    json_object_set_new(j, "stage",
                        f->state == JOB_IDLE ? json_null() : json_string(stage_names[f->stage]));
    json_object_set_new(j, "fraction", json_real(f->fraction));
    json_object_set_new(j, "epoch", json_integer(f->epoch));
    json_object_set_new(j, "epochs", json_integer(f->epochs));
    json_object_set_new(j, "cancelling",
                        json_boolean(f->state == JOB_RUNNING && atomic_load(&f->cancel)));
    json_object_set_new(j, "started", api_time_json(f->state == JOB_IDLE ? -1 : f->started));
    json_object_set_new(j, "finished", api_time_json(f->state == JOB_RUNNING ? -1 : f->finished));
    json_object_set_new(j, "error", f->error[0] ? json_string(f->error) : json_null());
    json_object_set_new(j, "generation",
                        f->state == JOB_SUCCEEDED ? json_integer(f->generation) : json_null());
    json_object_set(j, "options", f->options ? f->options : json_null());
    json_object_set(j, "labels", f->labels ? f->labels : json_null());
    json_object_set(j, "result", f->result ? f->result : json_null());
    return j;
}

/* Tells SSE clients (event "finetune"); with f->lock. */
static void publish(struct daemon_finetune *f)
{
    json_t *j = state_json(f);
    if (j)
        api_events_publish(f->d->events, "finetune", j, NULL);
    json_decref(j);
    f->published = f->fraction;
}

static void on_progress(void *user, const struct train_finetune_progress *p)
{
    struct daemon_finetune *f = user;
    pthread_mutex_lock(&f->lock);
    bool stage_changed = p->stage != f->stage;
    f->stage = p->stage;
    f->fraction = p->fraction;
    if (p->stage == TRAIN_FINETUNE_TRAIN)
        f->epoch = p->epoch + 1; /* counted from 1 */
    f->epochs = p->epochs ? p->epochs : f->opts.epochs;
    if (stage_changed || f->fraction - f->published >= 0.02)
        publish(f);
    pthread_mutex_unlock(&f->lock);
}

static json_t *result_json(const struct train_finetune_result *res)
{
    json_t *classes = json_array();
    for (int k = 0; k < res->n_classes; k++) {
        const struct train_finetune_class *c = &res->classes[k];
        json_array_append_new(
            classes, json_pack("{s:s, s:i, s:i, s:b, s:o, s:o}", "name", c->name, "labels",
                               c->labels, "held_out", c->held_out, "added", c->added, "before",
                               number_or_null(c->before), "after", number_or_null(c->after)));
    }
    return json_pack("{s:b, s:s, s:o, s:o, s:o, s:o, s:o, s:i, s:i, s:i, s:i, s:i, s:f, s:s}",
                     "accepted", res->accepted, "verdict", res->verdict, "held_out_before",
                     number_or_null(res->held_out_before), "held_out_after",
                     number_or_null(res->held_out_after), "replay_before",
                     number_or_null(res->replay_before), "replay_after",
                     number_or_null(res->replay_after), "classes", classes, "classes_before",
                     res->classes_before, "classes_after", res->classes_after, "train_labels",
                     res->train_labels, "held_out", res->held_out, "replay_check",
                     res->replay_check, "seconds", res->seconds, "parent", res->parent);
}

static void *job_main(void *arg)
{
    struct daemon_finetune *f = arg;
    /* Cameras first: this thread gets what the pipelines leave. */
    struct sched_param sp = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
        log_debug("fine-tune: SCHED_IDLE refused; nice 19 alone");
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19) < 0)
        log_debug("fine-tune: nice 19: %s", strerror(errno));

    struct train_finetune_result res = {0};
    struct errbuf err;
    errbuf_clear(&err);
    int r = train_finetune(&f->opts, on_progress, f, &f->cancel, &res, &err);
    int generation = 0;
    enum job_state state;
    char why[512] = "";
    if (r == -ECANCELED) {
        state = JOB_CANCELLED;
    } else if (r < 0) {
        state = JOB_FAILED;
        str_copy(why, sizeof(why), errbuf_text(&err, r));
    } else if (!res.accepted) {
        state = JOB_REJECTED;
    } else if (atomic_load(&f->cancel)) {
        state = JOB_CANCELLED; /* cancelled after the check: nothing is swapped */
    } else if ((r = daemon_model_adopt(f->d, f->out, &generation, &err)) < 0) {
        state = JOB_FAILED;
        snprintf(why, sizeof(why), "the new model was not served: %s", errbuf_text(&err, r));
    } else {
        state = JOB_SUCCEEDED;
    }
    remove_tree(f->dir);
    if (state == JOB_FAILED)
        log_error("fine-tune: %s; the serving model stays", why);
    else
        log_notice("fine-tune: %s%s%s", state_names[state], res.verdict[0] ? ": " : "",
                   state == JOB_CANCELLED ? "" : res.verdict);

    pthread_mutex_lock(&f->lock);
    f->state = state;
    f->finished = time_wall_s();
    f->generation = generation;
    str_copy(f->error, sizeof(f->error), why);
    if (r >= 0 || state == JOB_CANCELLED) {
        json_decref(f->result);
        f->result = state == JOB_CANCELLED ? NULL : result_json(&res);
    }
    if (state == JOB_SUCCEEDED || state == JOB_REJECTED)
        f->fraction = 1;
    publish(f);
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

/* The body's options over the defaults: each key checked, by name. */
static int options_parse(const char *body, size_t size, struct train_finetune_options *o,
                         char *stream, size_t stream_size, struct errbuf *err)
{
    json_error_t jerr;
    json_t *j = size ? json_loadb(body, size, 0, &jerr) : json_object();
    if (!j)
        return errbuf_set(err, -EBADMSG, "body: not JSON: %s (line %d)", jerr.text, jerr.line);
    int r = 0;
    if (!json_is_object(j)) {
        r = errbuf_set(err, -EINVAL, "body: must be a JSON object");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        double x = json_number_value(v);
        bool number = json_is_number(v), integer = json_is_integer(v);
        if (strcmp(key, "epochs") == 0) {
            if (!integer || x < 1 || x > 200)
                r = errbuf_set(err, -EINVAL, "'epochs' must be a whole number from 1 to 200");
            o->epochs = (int)x;
        } else if (strcmp(key, "min_labels") == 0) {
            if (!integer || x < 2 || x > 10000)
                r = errbuf_set(err, -EINVAL, "'min_labels' must be a whole number from 2 up");
            o->min_labels = (int)x;
        } else if (strcmp(key, "replay_clips") == 0) {
            if (!integer || x < 1 || x > 20000)
                r = errbuf_set(err, -EINVAL,
                               "'replay_clips' must be a whole number from 1 to 20000");
            o->replay_clips = (int)x;
        } else if (strcmp(key, "seed") == 0) {
            if (!integer || x < 0 || x > 4294967295.0)
                r = errbuf_set(err, -EINVAL, "'seed' must be a whole number from 0");
            o->seed = (uint32_t)x;
        } else if (strcmp(key, "holdout") == 0) {
            if (!number || !(x > 0 && x < 1))
                r = errbuf_set(err, -EINVAL, "'holdout' must be a number between 0 and 1");
            o->holdout = x;
        } else if (strcmp(key, "lr") == 0) {
            if (!number || !(x > 0 && x <= 0.1))
                r = errbuf_set(err, -EINVAL, "'lr' must be a number above 0, at most 0.1");
            o->lr = (float)x;
        } else if (strcmp(key, "tolerance") == 0) {
            if (!number || !(x >= 0 && x <= 1))
                r = errbuf_set(err, -EINVAL, "'tolerance' must be a number from 0 to 1");
            o->tolerance = x;
        } else if (strcmp(key, "stream") == 0) {
            if (!json_is_string(v) || !api_name_valid(json_string_value(v)))
                r = errbuf_set(err, -EINVAL, "'stream' must be a stream's name");
            else
                str_copy(stream, stream_size, json_string_value(v));
        } else {
            r = errbuf_set(err, -EINVAL,
                           "body: unknown key '%s' (epochs, holdout, lr, min_labels, "
                           "replay_clips, seed, stream, tolerance)",
                           key);
        }
        if (r < 0)
            break;
    }
done:
    json_decref(j);
    return r;
}

/* Counts the exported stretches per class as train_finetune will (a
 * stretch is its last labelled frame's class) and refuses too few. */
static int labels_check(struct daemon_finetune *f, const char *stream, json_t **ret_labels,
                        struct errbuf *err)
{
    char **classes = NULL;
    int n_classes = 0;
    struct dataset ds = {0};
    int *count = NULL;
    int r = labels_export_classes(f->d->store, stream, &classes, &n_classes, err);
    if (r < 0)
        return r;
    if (n_classes == 0) {
        r = errbuf_set(err, -ENODATA,
                       "no labels to learn from%s%s: label stretches of the timeline first "
                       "(POST /v1/labels, or the dashboard)",
                       stream[0] ? " on stream " : "", stream);
        goto done;
    }
    struct dataset_filter all = {.smarthome = false};
    if ((r = dataset_load(&ds, f->label_dir, &all, (const char *const *)classes, n_classes, NULL,
                          err)) < 0) {
        /* e.g. every labelled track under a second: nothing to learn from */
        if (r != -ENOMEM)
            r = -ENODATA;
        goto done;
    }
    if (!(count = calloc((size_t)n_classes, sizeof(int)))) {
        r = errbuf_set(err, -ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < ds.n; i++) {
        int label = ds.clips[i].label;
        for (int t = ds.clips[i].frames - 1; t >= 0 && label < 0; t--)
            label = ds.clips[i].frame_labels[t];
        if (label >= 0 && label < n_classes)
            count[label]++;
    }
    char short_list[512] = "";
    json_t *per_class = json_object();
    for (int c = 0; c < n_classes; c++) {
        json_object_set_new(per_class, classes[c], json_integer(count[c]));
        size_t len = strlen(short_list);
        if (count[c] < f->opts.min_labels && len < sizeof(short_list) - 80)
            snprintf(short_list + len, sizeof(short_list) - len, "%s'%s' has %d", len ? ", " : "",
                     classes[c], count[c]);
    }
    *ret_labels = json_pack("{s:o, s:i}", "per_class", per_class, "min_labels", f->opts.min_labels);
    if (short_list[0]) {
        r = errbuf_set(err, -ENODATA,
                       "too few labels: %s; a fine-tune needs at least %d labelled stretches per "
                       "class (a share is held out to check the new model; a stretch of a track "
                       "shorter than 1 s does not count)",
                       short_list, f->opts.min_labels);
        json_decref(*ret_labels);
        *ret_labels = NULL;
    }
done:
    free(count);
    dataset_done(&ds);
    labels_export_classes_free(classes, n_classes);
    return r;
}

int daemon_finetune_start(void *userdata, const char *body, size_t size, json_t **ret_json,
                          struct errbuf *err)
{
    struct daemon *d = userdata;
    struct daemon_finetune *f = d->finetune;
    struct train_finetune_options o;
    char stream[API_NAME_MAX] = "";
    json_t *labels = NULL;
    train_finetune_options_default(&o);
    int r = options_parse(body, size, &o, stream, sizeof(stream), err);
    if (r < 0)
        return r;

    pthread_mutex_lock(&f->lock);
    if (f->state == JOB_RUNNING) {
        char started[40];
        api_time_format(started, sizeof(started), f->started);
        r = errbuf_set(err, -EALREADY,
                       "a fine-tune is running (started %s); wait for it or cancel it with "
                       "DELETE /v1/model/finetune",
                       started);
        goto unlock;
    }
    if (f->joinable) {
        pthread_join(f->thread, NULL); /* ended: its state is set */
        f->joinable = false;
    }
    pthread_mutex_lock(&d->model_swap_lock);
    str_copy(f->model, sizeof(f->model), d->cfg.model);
    pthread_mutex_unlock(&d->model_swap_lock);
    if (!f->model[0]) {
        r = errbuf_set(err, -ENODATA, "no model serves (model = none): nothing to fine-tune");
        goto unlock;
    }
    f->opts = o;
    remove_tree(f->dir);
    struct labels_export_options eo = {.stream = stream};
    struct labels_export_report report;
    if ((r = mkdir_parents(f->dir, 0750)) < 0) {
        r = errbuf_set(err, r, "%s: %s", f->dir, strerror(-r));
        goto unlock;
    }
    if ((r = labels_export(d->store, f->label_dir, &eo, &report, err)) < 0 ||
        (r = labels_check(f, stream, &labels, err)) < 0) {
        remove_tree(f->dir);
        goto unlock;
    }
    json_object_set_new(labels, "files", json_integer(report.files));
    json_object_set_new(labels, "negatives", json_integer(report.negatives));
    json_object_set_new(labels, "short_tracks", json_integer(report.short_tracks));

    f->opts.model = f->model;
    f->opts.labels = f->label_dir;
    f->opts.out = f->out;
    f->opts.replay = NULL; /* made from the model card's recipe */
    f->opts.threads = 1;
    json_decref(f->options);
    f->options =
        json_pack("{s:s, s:i, s:f, s:f, s:i, s:i, s:f, s:I, s:s?}", "model", f->model, "epochs",
                  o.epochs, "holdout", o.holdout, "lr", (double)o.lr, "min_labels", o.min_labels,
                  "replay_clips", o.replay_clips, "tolerance", o.tolerance, "seed",
                  (json_int_t)o.seed, "stream", stream[0] ? stream : NULL);
    json_decref(f->labels);
    f->labels = labels;
    json_decref(f->result);
    f->result = NULL;
    f->state = JOB_RUNNING;
    f->stage = TRAIN_FINETUNE_LOAD;
    f->fraction = f->published = 0;
    f->epoch = 0;
    f->epochs = o.epochs;
    f->started = time_wall_s();
    f->finished = -1;
    f->error[0] = '\0';
    f->generation = 0;
    atomic_store(&f->cancel, false);
    if ((r = -pthread_create(&f->thread, NULL, job_main, f)) < 0) {
        f->state = JOB_FAILED;
        r = errbuf_set(err, r, "starting the fine-tune's thread: %s", strerror(-r));
        remove_tree(f->dir);
        goto unlock;
    }
    f->joinable = true;
    log_notice("fine-tune: started from %s on %u labelled stretches (%u \"not this\")", f->model,
               report.files, report.negatives);
    publish(f);
    *ret_json = state_json(f);
unlock:
    pthread_mutex_unlock(&f->lock);
    return r;
}

int daemon_finetune_get(void *userdata, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    struct daemon_finetune *f = d->finetune;
    pthread_mutex_lock(&f->lock);
    *ret_json = state_json(f);
    pthread_mutex_unlock(&f->lock);
    return *ret_json ? 0 : -ENOMEM;
}

int daemon_finetune_cancel(void *userdata, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    struct daemon_finetune *f = d->finetune;
    int r = 0;
    pthread_mutex_lock(&f->lock);
    if (f->state != JOB_RUNNING) {
        r = errbuf_set(err, -EALREADY, "no fine-tune is running (the last one: %s)",
                       state_names[f->state]);
    } else {
        atomic_store(&f->cancel, true);
        log_notice("fine-tune: cancel asked; the serving model stays");
        publish(f);
        *ret_json = state_json(f);
    }
    pthread_mutex_unlock(&f->lock);
    return r;
}
