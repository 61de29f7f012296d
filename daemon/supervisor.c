/* supervisor: per-stream worker threads, restarts, locking and life cycle.
 * What the snapshots look like is in supervisor_json.c and
 * supervisor_metrics.c. */
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "pipeline_internal.h"
#include "rules.h"
#include "data.h"
#include "supervisor_internal.h"

/* ---- what a snapshot shows (stream lock held) ----------------------------- */

struct shown stream_shown_locked(struct stream *st, struct pipeline_status *status)
{
    struct shown v = {st->state,       st->error[0] ? st->error : NULL,
                      st->next_retry,  st->reconnects,
                      st->frames,      st->sampled,
                      st->dropped,     st->gated,
                      st->pose_frames, PIPELINE_GATE_OFF};
    *status = (struct pipeline_status){0};
    if (st->pipeline)
        pipeline_status(st->pipeline, status);
    /* The totals hold the current open's counts as of its last segment. */
    if (status->has_counts && status->frames >= st->open_frames) {
        v.frames = st->frames - st->open_frames + status->frames;
        v.sampled = st->sampled - st->open_sampled + status->sampled;
        v.dropped = st->dropped - st->open_dropped + status->dropped;
        v.gated = st->gated - st->open_gated + status->gated;
        v.pose_frames = st->pose_frames - st->open_pose_frames + status->pose_frames;
    }
    v.reconnects += status->reconnects;
    v.gate = status->gate;
    if ((st->state == STREAM_RUNNING || st->state == STREAM_STARTING) && status->reconnecting) {
        v.state = STREAM_RECONNECTING;
        v.error = status->error[0] ? status->error : "source lost";
        v.next_retry = status->next_attempt;
    }
    return v;
}

/* ---- the worker ----------------------------------------------------------- */

static void publish(struct stream *st, const char *type, json_t *data)
{
    if (!data)
        return;
    api_events_publish(st->sup->events, type, data, NULL);
    json_decref(data);
}

static void set_state(struct stream *st, enum stream_state state, const char *error)
{
    pthread_mutex_lock(&st->lock);
    bool changed = st->state != state || strcmp(st->error, error ? error : "") != 0;
    st->state = state;
    str_copy(st->error, sizeof(st->error), error ? error : "");
    json_t *data = changed ? stream_status_json(st, state, error, st->reconnects) : NULL;
    pthread_mutex_unlock(&st->lock);
    publish(st, "status", data);
}

static void checkpoint(struct stream *st, struct pipeline *p)
{
    struct errbuf err;
    void *data = NULL;
    size_t size = 0;
    errbuf_clear(&err);
    int r = pipeline_memory_save(p, &data, &size);
    if (r < 0) {
        log_warning("stream %s: saving memory failed: %s", st->spec.name, strerror(-r));
        return;
    }
    pthread_mutex_lock(&st->lock);
    uint64_t segments = st->memory_segments;
    int64_t history_id = st->history_id;
    pthread_mutex_unlock(&st->lock);
    r = store_checkpoint(st->sup->store, st->spec.name, pipeline_memory_kind(p), segments, data,
                         size, history_id, time_wall_s(), &err);
    if (r < 0)
        log_warning("stream %s: checkpoint failed: %s", st->spec.name, errbuf_text(&err, r));
    free(data);
}

static void restore(struct stream *st, struct pipeline *p)
{
    struct errbuf err;
    void *data = NULL;
    size_t size = 0;
    uint64_t segments = 0;
    errbuf_clear(&err);
    int r = store_memory_get(st->sup->store, st->spec.name, pipeline_memory_kind(p), &data, &size,
                             &segments, &err);
    if (r == -ENOENT)
        return;
    if (r >= 0)
        r = pipeline_memory_restore(p, data, size, &err);
    free(data);
    if (r < 0) {
        log_warning("stream %s: saved memory not restored, starting afresh: %s", st->spec.name,
                    errbuf_text(&err, r));
        return;
    }
    pthread_mutex_lock(&st->lock);
    st->memory_restored = true;
    st->memory_segments = segments;
    pthread_mutex_unlock(&st->lock);
}

/* Brings the listed people in line with a segment's: each keeps its own
 * hysteresis; those gone from the result have left. Returns the bodies of
 * the "person" events to publish (a new reference, may be NULL). */
static json_t *update_people_locked(struct stream *st, const struct pipeline_result *res,
                                    double wall)
{
    struct stream_person old[PIPELINE_MAX_PEOPLE];
    struct activity_interval closed[PIPELINE_MAX_PEOPLE];
    const char *change[PIPELINE_MAX_PEOPLE];
    unsigned n_old = st->n_people, n = 0;
    memcpy(old, st->people, n_old * sizeof(*old));
    for (unsigned j = 0; j < res->n_people && n < PIPELINE_MAX_PEOPLE; j++) {
        const struct pipeline_person *p = &res->people[j];
        struct stream_person *sp = &st->people[n];
        bool known = false;
        for (unsigned i = 0; i < n_old && !known; i++)
            if (old[i].p.id == p->id) {
                *sp = old[i];
                known = true;
            }
        if (!known)
            activity_tracker_init(&sp->tracker);
        sp->p = *p;
        bool changed =
            activity_update_person(&sp->tracker, st->settings.hysteresis_s, st->settings.top_k, p,
                                   res->n_classes, res->pts, wall, &closed[n]);
        change[n++] = !known ? "appeared" : changed ? "activity" : NULL;
    }
    st->n_people = n;

    json_t *events = json_array();
    for (unsigned i = 0; events && i < n_old; i++) {
        bool still = false;
        for (unsigned j = 0; j < n && !still; j++)
            still = st->people[j].p.id == old[i].p.id;
        if (still)
            continue;
        old[i].p.in_view = false;
        json_array_append_new(events, stream_person_event_json_locked(st, &old[i], "left", NULL));
    }
    for (unsigned j = 0; events && j < n; j++)
        if (change[j])
            json_array_append_new(events,
                                  stream_person_event_json_locked(
                                      st, &st->people[j], change[j],
                                      strcmp(change[j], "activity") == 0 ? &closed[j] : NULL));
    return events;
}

/* The result without the skeletons inside exclude zones (a television, a
 * poster): they are not listed, summarised or judged by the rules. */
static const struct pipeline_result *without_excluded(struct stream *st,
                                                      const struct pipeline_result *res,
                                                      int n_zones, unsigned *ret_excluded)
{
    uint32_t exclude = 0;
    unsigned dropped = 0;
    for (int i = 0; i < n_zones; i++)
        if (st->work_zones[i].kind == ZONE_EXCLUDE)
            exclude |= 1u << i;
    *ret_excluded = 0;
    if (!exclude)
        return res;
    for (unsigned j = 0; j < res->n_people; j++)
        dropped += (zones_of_person(st->work_zones, n_zones, &res->people[j]) & exclude) != 0;
    if (!dropped)
        return res;
    struct pipeline_result *r = &st->work_result;
    *r = *res;
    r->n_people = 0;
    for (unsigned j = 0; j < res->n_people; j++)
        if (!(zones_of_person(st->work_zones, n_zones, &res->people[j]) & exclude))
            r->people[r->n_people++] = res->people[j];
    pipeline_summarise(r);
    *ret_excluded = dropped;
    return r;
}

/* Handles one segment's result; true when it is time to checkpoint. */
static bool on_result(struct stream *st, const struct pipeline_result *raw)
{
    struct supervisor *sup = st->sup;
    struct activity_interval closed;
    double wall = time_wall_s();
    bool was_running;
    unsigned excluded;
    int n_zones = zones_copy(sup->zones, st->spec.name, st->work_zones);
    const struct pipeline_result *res = without_excluded(st, raw, n_zones, &excluded);

    pthread_mutex_lock(&st->lock);
    was_running = st->state == STREAM_RUNNING;
    st->frames += res->frames - st->open_frames;
    st->sampled += res->sampled - st->open_sampled;
    st->dropped += res->dropped - st->open_dropped;
    st->gated += res->gated - st->open_gated;
    st->pose_frames += res->pose_frames - st->open_pose_frames;
    if (st->last_wall > 0 && wall > st->last_wall) {
        double fps = (double)(res->sampled - st->last_sampled) / (wall - st->last_wall);
        st->fps_measured = st->fps_measured > 0 ? 0.8 * st->fps_measured + 0.2 * fps : fps;
    }
    st->open_frames = res->frames;
    st->open_sampled = res->sampled;
    st->open_dropped = res->dropped;
    st->open_gated = res->gated;
    st->open_pose_frames = res->pose_frames;
    st->last_wall = wall;
    st->last_sampled = res->sampled;
    memcpy(st->pose, res->keypoints, sizeof(st->pose));
    st->pose_wall = wall;
    st->segments++;
    st->memory_segments++;
    if (res->people_dropped < st->open_people_dropped)
        st->open_people_dropped = 0;
    st->people_dropped += res->people_dropped - st->open_people_dropped;
    st->open_people_dropped = res->people_dropped;
    memcpy(st->zones, st->work_zones, (size_t)n_zones * sizeof(st->zones[0]));
    st->n_zones = n_zones;
    st->people_excluded += excluded;
    json_t *person_events = update_people_locked(st, res, wall);
    for (unsigned i = 0; i < st->n_people; i++)
        st->people[i].zones = zones_of_person(st->zones, n_zones, &st->people[i].p);
    st->summary_person = res->summary >= 0 ? res->people[res->summary].id : 0;
    bool changed = activity_update(&st->tracker, st->settings.hysteresis_s, st->settings.top_k, res,
                                   wall, &closed);
    struct activity_now now = st->tracker.now;
    uint32_t summary_person = st->summary_person;
    int64_t history_id = st->history_id;
    bool due = st->memory_segments % st->settings.checkpoint_segments == 0;
    pthread_mutex_unlock(&st->lock);

    if (!was_running)
        set_state(st, STREAM_RUNNING, NULL);
    rules_observe(sup->rules, st->spec.name, wall, res->people, res->n_people, st->work_zones,
                  n_zones);
    for (size_t i = 0; i < json_array_size(person_events); i++)
        api_events_publish(sup->events, "person", json_array_get(person_events, i), NULL);
    json_decref(person_events);
    if (changed) {
        struct errbuf err;
        int64_t id = 0;
        const char *label = now.state == ACTIVITY_LABEL
                                ? pipeline_model_class(sup->model, (unsigned)now.label)
                                : NULL;
        errbuf_clear(&err);
        int r = store_history_switch(
            sup->store, st->spec.name, history_id, activity_state_name(now.state), label, now.score,
            label ? summary_person : 0, (struct store_place){st->spec.site, st->spec.room},
            now.since, &id, &err);
        if (r < 0)
            log_warning("stream %s: history not saved: %s", st->spec.name, errbuf_text(&err, r));
        pthread_mutex_lock(&st->lock);
        st->history_id = r < 0 ? 0 : id;
        json_t *data = stream_activity_event_json_locked(st, &closed);
        pthread_mutex_unlock(&st->lock);
        publish(st, "activity", data);
    }
    /* Decode-to-published latency. */
    double latency = (double)(time_mono_ns() - res->decoded_ns) / 1e9;
    pthread_mutex_lock(&st->lock);
    api_histogram_observe(&st->latency, latency < 0 ? 0 : latency);
    pthread_mutex_unlock(&st->lock);
    return due;
}

/* Waits for seconds or until the stream is told to stop; true when stopping. */
static bool wait_or_stop(struct stream *st, double seconds)
{
    struct timespec deadline = timespec_deadline(CLOCK_MONOTONIC, seconds);
    pthread_mutex_lock(&st->lock);
    while (!atomic_load(&st->stop))
        if (pthread_cond_timedwait(&st->wake, &st->lock, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&st->lock);
    return atomic_load(&st->stop);
}

/* The folder of a stream's archive (settings read under st->lock). */
static void archive_dir_of(const struct stream *st, char *dir, size_t size)
{
    snprintf(dir, size, "%.*s/%s", PATH_MAX - 80, st->settings.archive_dir, st->spec.name);
}

/* Opens the stream's pose archive when it keeps one; a folder that cannot be
 * made leaves the stream running without. */
static struct pose_archive *archive_open(struct stream *st)
{
    char dir[PATH_MAX];
    pthread_mutex_lock(&st->lock);
    const struct supervisor_settings *set = &st->settings;
    bool on = set->archive_dir[0] &&
              (st->spec.archive == CONFIG_ARCHIVE_DEFAULT ? set->archive
                                                          : st->spec.archive == CONFIG_ARCHIVE_YES);
    struct pose_archive_options opts = {
        .retention_days = st->spec.archive_retention_days > 0 ? st->spec.archive_retention_days
                                                              : set->archive_retention_days,
        .max_bytes =
            (uint64_t)(st->spec.archive_max_mb ? st->spec.archive_max_mb : set->archive_max_mb)
            << 20};
    archive_dir_of(st, dir, sizeof(dir));
    pthread_mutex_unlock(&st->lock);
    if (!on)
        return NULL;
    struct pose_archive *a = NULL;
    struct errbuf err;
    errbuf_clear(&err);
    int r = pose_archive_open(dir, &opts, &a, &err);
    if (r < 0) {
        log_warning("stream %s: no pose archive: %s", st->spec.name, errbuf_text(&err, r));
        return NULL;
    }
    return a;
}

static void *stream_main(void *arg)
{
    struct stream *st = arg;
    struct supervisor *sup = st->sup;

    pthread_mutex_lock(&st->lock);
    double backoff = st->settings.restart_min_s;
    pthread_mutex_unlock(&st->lock);
    struct pose_archive *archive = archive_open(st);
    pthread_mutex_lock(&st->lock);
    st->archive = archive;
    pthread_mutex_unlock(&st->lock);

    while (!atomic_load(&st->stop)) {
        struct pipeline *p = NULL;
        struct errbuf err;
        uint64_t ran = 0;
        int r;

        errbuf_clear(&err);
        pthread_mutex_lock(&st->lock);
        struct video_options video;
        config_video_apply(&st->spec.video, st->settings.camera_timeout_s, &video);
        struct pipeline_source source = {
            .video = &video,
            .fps = st->spec.fps,
            .timeout_s = st->settings.camera_timeout_s,
            .max_people = st->spec.max_people ? st->spec.max_people : st->settings.max_people,
            .multipose_side =
                st->spec.multipose_side ? st->spec.multipose_side : st->settings.multipose_side,
            .pose_model = st->spec.pose_model,
            .still_pose_fps =
                st->spec.still_pose_fps_set ? st->spec.still_pose_fps : st->settings.still_pose_fps,
            .archive = archive};
        pthread_mutex_unlock(&st->lock);
        r = pipeline_open(sup->model, st->spec.url, &source, &st->stop, &p, &err);
        if (r >= 0) {
            log_info("stream %s: opened %s", st->spec.name, st->url_masked);
            restore(st, p);
            pthread_mutex_lock(&st->lock);
            st->pipeline = p;
            if (atomic_load(&st->stop))
                pipeline_interrupt(p);
            st->open_frames = st->open_sampled = st->open_dropped = 0;
            st->open_gated = st->open_pose_frames = 0;
            st->open_people_dropped = 0;
            st->last_wall = 0;
            st->last_sampled = 0;
            pthread_mutex_unlock(&st->lock);
            for (;;) {
                struct pipeline_result res;
                r = pipeline_step(p, &res, &err);
                if (r < 0)
                    break;
                ran++;
                if (on_result(st, &res))
                    checkpoint(st, p);
            }
            checkpoint(st, p);
            pthread_mutex_lock(&st->lock);
            st->pipeline = NULL;
            pthread_mutex_unlock(&st->lock);
            p = pipeline_free(p);
        }
        if (atomic_load(&st->stop))
            break;
        if (ran > 0) {
            pthread_mutex_lock(&st->lock);
            backoff = st->settings.restart_min_s;
            pthread_mutex_unlock(&st->lock);
        }

        char message[sizeof(st->error)];
        str_copy(message, sizeof(message), errbuf_text(&err, r));
        pthread_mutex_lock(&st->lock);
        st->reconnects++;
        st->next_retry = time_wall_s() + backoff;
        double max = st->settings.restart_max_s;
        pthread_mutex_unlock(&st->lock);
        log_warning("stream %s (%s): %s; retrying in %.1f s", st->spec.name, st->url_masked,
                    message, backoff);
        set_state(st, STREAM_RECONNECTING, message);
        if (wait_or_stop(st, backoff))
            break;
        backoff = fmin(backoff * 2, max);
        set_state(st, STREAM_STARTING, message);
    }
    pthread_mutex_lock(&st->lock);
    st->archive = NULL;
    pthread_mutex_unlock(&st->lock);
    pose_archive_close(archive);
    return NULL;
}

int supervisor_archive_flush(struct supervisor *sup, const char *name, char *dir, size_t size,
                             bool *ret_on, struct errbuf *err)
{
    int r = 0;
    pthread_mutex_lock(&sup->lock);
    ssize_t i = supervisor_find_locked(sup, name);
    if (i < 0) {
        pthread_mutex_unlock(&sup->lock);
        return errbuf_set(err, -ENOENT, "stream '%s' does not exist", name);
    }
    struct stream *st = sup->streams[i];
    pthread_mutex_lock(&st->lock);
    archive_dir_of(st, dir, size);
    *ret_on = st->archive != NULL;
    if (st->archive)
        r = pose_archive_flush(st->archive, err);
    pthread_mutex_unlock(&st->lock);
    pthread_mutex_unlock(&sup->lock);
    return r;
}

void supervisor_set_safety(struct supervisor *sup, struct zones *zones, struct rules *rules)
{
    pthread_mutex_lock(&sup->lock);
    sup->zones = zones;
    sup->rules = rules;
    pthread_mutex_unlock(&sup->lock);
}

/* ---- lifecycle of a stream ------------------------------------------------ */

static void stream_free(struct stream *st)
{
    if (!st)
        return;
    pthread_cond_destroy(&st->wake);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* Tells a stream's thread to stop, waking it wherever it waits. */
static void stream_signal_stop(struct stream *st)
{
    pthread_mutex_lock(&st->lock);
    atomic_store(&st->stop, true);
    pthread_cond_broadcast(&st->wake);
    if (st->pipeline)
        pipeline_interrupt(st->pipeline);
    pthread_mutex_unlock(&st->lock);
}

static void stream_stop(struct stream *st)
{
    if (!st)
        return;
    stream_signal_stop(st);
    if (st->thread_started)
        pthread_join(st->thread, NULL);
    st->thread_started = false;
}

/* Starts (or starts again, after stream_stop) a stream's thread, its
 * activity unknown. */
static int stream_start(struct stream *st, struct errbuf *err)
{
    pthread_mutex_lock(&st->lock);
    activity_tracker_init(&st->tracker); /* the next result opens a new interval */
    st->n_people = 0;
    st->summary_person = 0;
    st->state = !st->spec.enabled ? STREAM_DISABLED : st->paused ? STREAM_PAUSED : STREAM_STARTING;
    pthread_mutex_unlock(&st->lock);
    atomic_store(&st->stop, false);
    if (!st->spec.enabled || st->paused)
        return 0;
    rules_watch(st->sup->rules, st->spec.name, time_wall_s());
    int r = pthread_create(&st->thread, NULL, stream_main, st);
    if (r != 0)
        return errbuf_set(err, -r, "stream %s: cannot start a thread: %s", st->spec.name,
                          strerror(r));
    st->thread_started = true;
    return 0;
}

static int stream_new(struct supervisor *sup, const struct config_stream *spec, struct stream **ret,
                      struct errbuf *err)
{
    pthread_condattr_t attr;
    struct stream *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->sup = sup;
    st->spec = *spec;
    st->settings = sup->settings;
    st->paused = store_paused(sup->store, spec->name);
    url_mask_password(st->url_masked, sizeof(st->url_masked), spec->url);
    pthread_mutex_init(&st->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&st->wake, &attr);
    pthread_condattr_destroy(&attr);
    int r = stream_start(st, err);
    if (r < 0) {
        stream_free(st);
        return r;
    }
    *ret = st;
    return 0;
}

/* ---- the supervisor ------------------------------------------------------- */

int supervisor_new(const struct supervisor_settings *settings, struct store *store,
                   struct api_events *events, const struct pipeline_model *model,
                   struct supervisor **ret_supervisor)
{
    struct supervisor *sup = calloc(1, sizeof(*sup));
    if (!sup)
        return -ENOMEM;
    pthread_mutex_init(&sup->lock, NULL);
    sup->settings = *settings;
    if (sup->settings.checkpoint_segments == 0)
        sup->settings.checkpoint_segments = 1;
    sup->store = store;
    sup->events = events;
    sup->model = model;
    *ret_supervisor = sup;
    return 0;
}

struct supervisor *supervisor_free(struct supervisor *sup)
{
    if (!sup)
        return NULL;
    /* Tell every stream first so that they wind down in parallel. */
    for (size_t i = 0; i < sup->n_streams; i++)
        stream_signal_stop(sup->streams[i]);
    for (size_t i = 0; i < sup->n_streams; i++) {
        stream_stop(sup->streams[i]);
        stream_free(sup->streams[i]);
    }
    free(sup->streams);
    pthread_mutex_destroy(&sup->lock);
    free(sup);
    return NULL;
}

void supervisor_set_model(struct supervisor *sup, const struct pipeline_model *model)
{
    pthread_mutex_lock(&sup->lock);
    for (size_t i = 0; i < sup->n_streams; i++) /* all at once: they wind down in parallel */
        stream_signal_stop(sup->streams[i]);
    for (size_t i = 0; i < sup->n_streams; i++)
        stream_stop(sup->streams[i]);
    sup->model = model; /* no stream thread runs: none reads it meanwhile */
    for (size_t i = 0; i < sup->n_streams; i++) {
        struct stream *st = sup->streams[i];
        struct errbuf err;
        errbuf_clear(&err);
        int r = stream_start(st, &err);
        if (r < 0) {
            log_error("%s", errbuf_text(&err, r));
            set_state(st, STREAM_STOPPING, errbuf_text(&err, r));
        }
    }
    pthread_mutex_unlock(&sup->lock);
}

void supervisor_set_settings(struct supervisor *sup, const struct supervisor_settings *settings)
{
    pthread_mutex_lock(&sup->lock);
    sup->settings = *settings;
    if (sup->settings.checkpoint_segments == 0)
        sup->settings.checkpoint_segments = 1;
    for (size_t i = 0; i < sup->n_streams; i++) {
        struct stream *st = sup->streams[i];
        pthread_mutex_lock(&st->lock);
        st->settings = sup->settings;
        pthread_mutex_unlock(&st->lock);
    }
    pthread_mutex_unlock(&sup->lock);
}

ssize_t supervisor_find_locked(struct supervisor *sup, const char *name)
{
    for (size_t i = 0; i < sup->n_streams; i++)
        if (strcmp(sup->streams[i]->spec.name, name) == 0)
            return (ssize_t)i;
    return -1;
}

int supervisor_add(struct supervisor *sup, const struct config_stream *spec, struct errbuf *err)
{
    struct stream *st = NULL;
    int r;

    pthread_mutex_lock(&sup->lock);
    if (supervisor_find_locked(sup, spec->name) >= 0) {
        r = errbuf_set(err, -EEXIST, "stream '%s' already exists", spec->name);
        goto finish;
    }
    if (sup->n_streams >= sup->settings.max_streams) {
        r = errbuf_set(err, -ENOSPC, "stream limit reached (max_streams = %u)",
                       sup->settings.max_streams);
        goto finish;
    }
    struct stream **grown = realloc(sup->streams, (sup->n_streams + 1) * sizeof(*grown));
    if (!grown) {
        r = -ENOMEM;
        goto finish;
    }
    sup->streams = grown;
    r = stream_new(sup, spec, &st, err);
    if (r < 0)
        goto finish;
    sup->streams[sup->n_streams++] = st;
finish:
    pthread_mutex_unlock(&sup->lock);
    if (r >= 0) {
        char masked[API_URL_MAX];
        url_mask_password(masked, sizeof(masked), spec->url);
        log_info("stream %s: added (%s, %s)", spec->name, masked, stream_origin_name(spec->origin));
        json_t *data = stream_added_json(spec);
        if (data) {
            api_events_publish(sup->events, "stream", data, NULL);
            json_decref(data);
        }
    }
    return r;
}

int supervisor_remove(struct supervisor *sup, const char *name, bool forget, struct errbuf *err)
{
    pthread_mutex_lock(&sup->lock);
    ssize_t i = supervisor_find_locked(sup, name);
    if (i < 0) {
        pthread_mutex_unlock(&sup->lock);
        return errbuf_set(err, -ENOENT, "stream '%s' does not exist", name);
    }
    struct stream *st = sup->streams[i];
    memmove(&sup->streams[i], &sup->streams[i + 1],
            (sup->n_streams - (size_t)i - 1) * sizeof(*sup->streams));
    sup->n_streams--;
    pthread_mutex_unlock(&sup->lock);

    stream_stop(st);
    stream_free(st);
    rules_forget(sup->rules, name, time_wall_s());
    if (forget) {
        struct errbuf e;
        int r = store_memory_delete(sup->store, name, &e);
        if (r < 0)
            log_warning("stream %s: saved memory not deleted: %s", name, errbuf_text(&e, r));
    }
    log_info("stream %s: removed", name);
    json_t *data = stream_removed_json(name);
    if (data) {
        api_events_publish(sup->events, "stream", data, NULL);
        json_decref(data);
    }
    return 0;
}

int supervisor_origin(struct supervisor *sup, const char *name, enum config_origin *ret_origin)
{
    int r = -ENOENT;
    pthread_mutex_lock(&sup->lock);
    ssize_t i = supervisor_find_locked(sup, name);
    if (i >= 0) {
        *ret_origin = sup->streams[i]->spec.origin;
        r = 0;
    }
    pthread_mutex_unlock(&sup->lock);
    return r;
}

int supervisor_pause(struct supervisor *sup, const char *name, bool paused, struct errbuf *err)
{
    pthread_mutex_lock(&sup->lock);
    ssize_t i = supervisor_find_locked(sup, name);
    if (i < 0) {
        pthread_mutex_unlock(&sup->lock);
        return errbuf_set(err, -ENOENT, "stream '%s' does not exist", name);
    }
    struct stream *st = sup->streams[i];
    if (st->paused == paused) {
        pthread_mutex_unlock(&sup->lock);
        return 0;
    }
    /* Kept first, so that a pause outlasts a crash; a store that cannot
     * write does not keep a camera watching someone who asked it not to. */
    struct errbuf e;
    int r = store_pause_set(sup->store, name, paused, &e);
    if (r < 0)
        log_warning("stream %s: the %s is not saved: %s", name, paused ? "pause" : "resume",
                    errbuf_text(&e, r));
    stream_stop(st);
    double now = time_wall_s();
    pthread_mutex_lock(&st->lock);
    int64_t history_id = st->history_id;
    st->history_id = 0;
    pthread_mutex_unlock(&st->lock);
    /* The history shows the pause as a gap: the open interval ends now. */
    if (history_id > 0 && (r = store_history_close(sup->store, history_id, now, &e)) < 0)
        log_warning("stream %s: history not saved: %s", name, errbuf_text(&e, r));
    if (paused)
        rules_pause(sup->rules, name, now);
    pthread_mutex_lock(&st->lock);
    st->paused = paused;
    if (paused)
        st->pose_wall = 0; /* nothing of what the camera saw stays on show */
    pthread_mutex_unlock(&st->lock);
    r = stream_start(st, err);
    pthread_mutex_lock(&st->lock);
    json_t *data = stream_status_json(st, st->state, NULL, st->reconnects);
    pthread_mutex_unlock(&st->lock);
    pthread_mutex_unlock(&sup->lock);
    if (data) {
        api_events_publish(sup->events, "status", data, NULL);
        json_decref(data);
    }
    log_notice("stream %s: %s", name, paused ? "paused (privacy)" : "resumed");
    return r;
}

bool supervisor_has(struct supervisor *sup, const char *name)
{
    enum config_origin origin;
    return supervisor_origin(sup, name, &origin) == 0;
}

void supervisor_apply(struct supervisor *sup, const struct config *cfg)
{
    struct errbuf err;

    /* Streams that left the configuration, or changed, stop first. */
    for (;;) {
        char name[API_NAME_MAX] = "";
        bool changed = false, forget = false;
        pthread_mutex_lock(&sup->lock);
        for (size_t i = 0; i < sup->n_streams && !name[0]; i++) {
            const struct config_stream *have = &sup->streams[i]->spec;
            if (have->origin == CONFIG_ORIGIN_API)
                continue;
            const struct config_stream *want = config_find_stream(cfg, have->name);
            bool other = want && (strcmp(want->url, have->url) != 0 || want->fps != have->fps ||
                                  want->enabled != have->enabled || want->origin != have->origin ||
                                  want->max_people != have->max_people ||
                                  want->multipose_side != have->multipose_side ||
                                  want->still_pose_fps_set != have->still_pose_fps_set ||
                                  want->still_pose_fps != have->still_pose_fps ||
                                  strcmp(want->site, have->site) != 0 ||
                                  strcmp(want->room, have->room) != 0 ||
                                  strcmp(want->pose_model, have->pose_model) != 0);
            /* How the camera is read is not what it shows: a stream whose
             * video options alone changed restarts with its memory. */
            bool video = want && !config_video_equal(&want->video, &have->video);
            if (!want || other || video) {
                str_copy(name, sizeof(name), have->name);
                changed = want != NULL;
                forget = other;
            }
        }
        pthread_mutex_unlock(&sup->lock);
        if (!name[0])
            break;
        log_info("stream %s: %s in the configuration", name, changed ? "changed" : "removed");
        supervisor_remove(sup, name, forget, &err);
    }
    for (size_t i = 0; i < cfg->n_streams; i++) {
        const struct config_stream *want = &cfg->streams[i];
        enum config_origin origin;
        if (supervisor_origin(sup, want->name, &origin) == 0) {
            if (origin == CONFIG_ORIGIN_API)
                log_warning("stream %s: defined in the configuration and through the API; the "
                            "API one runs",
                            want->name);
            continue;
        }
        errbuf_clear(&err);
        int r = supervisor_add(sup, want, &err);
        if (r < 0)
            log_error("stream %s: %s", want->name, errbuf_text(&err, r));
    }
}

int supervisor_check(struct supervisor *sup, int timeout_ms)
{
    struct timespec deadline = timespec_deadline(CLOCK_REALTIME, timeout_ms / 1000.0);
    int r = pthread_mutex_timedlock(&sup->lock, &deadline);
    if (r != 0)
        return -r;
    pthread_mutex_unlock(&sup->lock);
    return 0;
}

void supervisor_poll(struct supervisor *sup)
{
    pthread_mutex_lock(&sup->lock);
    for (size_t i = 0; i < sup->n_streams; i++) {
        struct stream *st = sup->streams[i];
        json_t *data = NULL;
        pthread_mutex_lock(&st->lock);
        struct pipeline_status status;
        struct shown v = stream_shown_locked(st, &status);
        bool reconnecting = v.state == STREAM_RECONNECTING && status.reconnecting;
        if (reconnecting != st->source_reconnecting) {
            st->source_reconnecting = reconnecting;
            data = stream_status_json(st, v.state, v.error, v.reconnects);
            if (reconnecting)
                log_warning("stream %s (%s): %s; reconnecting", st->spec.name, st->url_masked,
                            v.error);
        }
        pthread_mutex_unlock(&st->lock);
        if (data) {
            api_events_publish(sup->events, "status", data, NULL);
            json_decref(data);
        }
    }
    pthread_mutex_unlock(&sup->lock);
}
