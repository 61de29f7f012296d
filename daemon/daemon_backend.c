/* daemon_backend: the API's interface (api.h's struct api_backend) on crtd's
 * parts — the supervisor's snapshots, the state store and the model — with
 * the rules the API alone obeys: which streams it may add or remove, and
 * what /healthz and /metrics add beside the supervisor's figures. */
#include <pthread.h>
#include <string.h>

#include "daemon_internal.h"
#include "data.h"

#ifndef CRTD_VERSION
#define CRTD_VERSION "0"
#endif

static int be_streams_list(void *userdata, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    int r = supervisor_streams_json(d->sup, ret_json);
    if (r >= 0)
        json_object_set_new(*ret_json, "mqtt", mqtt_status_json(d->mqtt));
    return r;
}

static int be_stream_get(void *userdata, const char *name, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    int r = supervisor_stream_json(d->sup, name, ret_json);
    if (r == -ENOENT)
        return errbuf_set(err, r, "stream '%s' does not exist", name);
    return r;
}

static int be_stream_add(void *userdata, const struct api_stream_spec *spec, json_t **ret_json,
                         struct errbuf *err)
{
    struct daemon *d = userdata;
    struct config_stream cs = {
        .fps = spec->fps, .enabled = spec->enabled, .origin = CONFIG_ORIGIN_API};
    struct store_stream ss = {.fps = spec->fps, .enabled = spec->enabled};
    int r;

    config_video_init(&cs.video);
    /* A bad or unsafe option is a bad request (400), naming the field. */
    if ((r = config_video_set_object(&cs.video, spec->options, err)) < 0)
        return r == -ENOMEM ? r : -EINVAL;
    json_t *given = config_video_json(&cs.video, true, 0);
    char *text = given ? json_dumps(given, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(given);
    if (!text)
        return -ENOMEM;
    r = str_copy(ss.options, sizeof(ss.options), text);
    free(text);
    if (r < 0)
        return errbuf_set(err, -EINVAL, "the video options are too long");

    str_copy(cs.name, sizeof(cs.name), spec->name);
    str_copy(cs.url, sizeof(cs.url), spec->url);
    str_copy(ss.name, sizeof(ss.name), spec->name);
    str_copy(ss.url, sizeof(ss.url), spec->url);
    str_copy(cs.site, sizeof(cs.site), spec->site);
    str_copy(cs.room, sizeof(cs.room), spec->room);
    str_copy(ss.site, sizeof(ss.site), spec->site);
    str_copy(ss.room, sizeof(ss.room), spec->room);
    if (supervisor_has(d->sup, spec->name))
        return errbuf_set(err, -EEXIST, "stream '%s' already exists", spec->name);
    pthread_rwlock_rdlock(&d->model_lock);
    r = pipeline_url_check(d->model, spec->url, err);
    pthread_rwlock_unlock(&d->model_lock);
    if (r < 0)
        return r;
    /* A token holder may add cameras, but not read this machine's files. */
    if (!d->cfg.api_local_sources && pipeline_url_is_local(spec->url))
        return errbuf_set(err, -EPERM,
                          "stream '%s': streams added through the API must be network cameras "
                          "(rtsp, rtsps, http, https); files, devices and lavfi need "
                          "api_local_sources = yes in [server]",
                          spec->name);
    if ((r = store_stream_put(d->store, &ss, err)) < 0)
        return r;
    if ((r = supervisor_add(d->sup, &cs, err)) < 0) {
        struct errbuf ignored;
        store_stream_delete(d->store, spec->name, &ignored);
        return r;
    }
    r = supervisor_stream_json(d->sup, spec->name, ret_json);
    return r == -ENOENT ? errbuf_set(err, -EAGAIN, "stream '%s' was removed meanwhile", spec->name)
                        : r;
}

static int be_stream_pause(void *userdata, const char *name, bool paused, json_t **ret_json,
                           struct errbuf *err)
{
    struct daemon *d = userdata;
    int r = supervisor_pause(d->sup, name, paused, err);
    if (r < 0)
        return r;
    r = supervisor_stream_json(d->sup, name, ret_json);
    return r == -ENOENT ? errbuf_set(err, -ENOENT, "stream '%s' was removed meanwhile", name) : r;
}

static int be_stream_delete(void *userdata, const char *name, struct errbuf *err)
{
    struct daemon *d = userdata;
    enum config_origin origin;
    if (supervisor_origin(d->sup, name, &origin) < 0)
        return errbuf_set(err, -ENOENT, "stream '%s' does not exist", name);
    if (origin != CONFIG_ORIGIN_API)
        return errbuf_set(err, -EPERM, "stream '%s' comes from the %s; remove it there", name,
                          origin == CONFIG_ORIGIN_FILE ? "configuration file" : "command line");
    int r = supervisor_remove(d->sup, name, true, err);
    if (r < 0)
        return r;
    zones_forget_stream(d->zones, name);
    /* Its pose archive goes with it; its labels keep their own keypoints. */
    char dir[PATH_MAX];
    struct errbuf e;
    snprintf(dir, sizeof(dir), "%.*s/archive/%s", PATH_MAX - 80, d->cfg.state_directory, name);
    if ((r = pose_archive_remove(dir, &e)) < 0)
        log_warning("stream %s: %s", name, errbuf_text(&e, r));
    return store_stream_delete(d->store, name, err);
}

static int be_activity_get(void *userdata, const char *name, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    int r = supervisor_activity_json(d->sup, name, ret_json);
    if (r == -ENOENT)
        return errbuf_set(err, r, "stream '%s' does not exist", name);
    return r;
}

static int be_history_get(void *userdata, const char *name, double since, double until,
                          unsigned limit, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    json_t *intervals = NULL;
    if (!supervisor_has(d->sup, name))
        return errbuf_set(err, -ENOENT, "stream '%s' does not exist", name);
    int r = store_history_query(d->store, name, since, until, limit, &intervals, err);
    if (r < 0)
        return r;
    json_t *root = json_pack("{s:s, s:o, s:o, s:o}", "stream", name, "since", api_time_json(since),
                             "until", api_time_json(until), "intervals", intervals);
    if (!root)
        return -ENOMEM;
    *ret_json = root;
    return 0;
}

static int be_history_search(void *userdata, const struct api_history_query *q, json_t **ret_json,
                             struct errbuf *err)
{
    struct daemon *d = userdata;
    const char *streams[API_HISTORY_FILTER_MAX], *labels[API_HISTORY_FILTER_MAX];
    for (size_t i = 0; i < q->n_streams; i++)
        streams[i] = q->streams[i];
    for (size_t i = 0; i < q->n_labels; i++)
        labels[i] = q->labels[i];
    struct store_history_filter f = {.streams = streams,
                                     .n_streams = q->n_streams,
                                     .labels = labels,
                                     .n_labels = q->n_labels,
                                     .track = q->track,
                                     .site = q->site,
                                     .room = q->room,
                                     .since = q->since,
                                     .until = q->until,
                                     .before_id = q->before_id,
                                     .limit = q->limit};
    json_t *intervals = NULL;
    int r = store_history_search(d->store, &f, &intervals, err);
    if (r < 0)
        return r;
    /* A full page may have more behind it: the next one starts below its
     * last id. */
    size_t n = json_array_size(intervals);
    json_t *last = n ? json_object_get(json_array_get(intervals, n - 1), "id") : NULL;
    json_t *root = json_pack("{s:o, s:o}", "intervals", intervals, "next_before_id",
                             n == q->limit && last ? json_copy(last) : json_null());
    if (!root)
        return -ENOMEM;
    *ret_json = root;
    return 0;
}

static int be_pose_get(void *userdata, const char *name, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    int r = supervisor_pose_json(d->sup, name, ret_json);
    if (r == -ENOENT)
        return errbuf_set(err, r, "stream '%s' does not exist", name);
    return r;
}

static int be_people_get(void *userdata, const char *name, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    int r = supervisor_people_json(d->sup, name, ret_json);
    if (r == -ENOENT)
        return errbuf_set(err, r, "stream '%s' does not exist", name);
    return r;
}

static int be_model_get(void *userdata, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    pthread_rwlock_rdlock(&d->model_lock);
    int r = pipeline_model_card(d->model, ret_json);
    if (r >= 0)
        json_object_set_new(*ret_json, "reload_error",
                            d->model_reload_error[0] ? json_string(d->model_reload_error)
                                                     : json_null());
    pthread_rwlock_unlock(&d->model_lock);
    if (r == -ENOENT)
        return errbuf_set(err, r, "no model is loaded (set model= in [daemon])");
    if (r >= 0)
        daemon_model_card_add(d, *ret_json);
    return r;
}

static int be_zones_list(void *userdata, const char *stream, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    if (!supervisor_has(d->sup, stream))
        return errbuf_set(err, -ENOENT, "stream '%s' does not exist", stream);
    return zones_list_json(d->zones, stream, ret_json);
}

static int be_zone_get(void *userdata, const char *stream, const char *zone, json_t **ret_json,
                       struct errbuf *err)
{
    struct daemon *d = userdata;
    if (!supervisor_has(d->sup, stream))
        return errbuf_set(err, -ENOENT, "stream '%s' does not exist", stream);
    return zones_get_json(d->zones, stream, zone, ret_json, err);
}

static int be_zone_put(void *userdata, const char *stream, const char *zone, const char *body,
                       size_t size, bool *ret_created, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    if (!supervisor_has(d->sup, stream))
        return errbuf_set(err, -ENOENT, "stream '%s' does not exist", stream);
    int r = zones_put_json(d->zones, stream, zone, body, size, ret_created, ret_json, err);
    if (r >= 0)
        log_info("stream %s: zone '%s' %s through the API", stream, zone,
                 *ret_created ? "added" : "changed");
    return r;
}

static int be_zone_delete(void *userdata, const char *stream, const char *zone, struct errbuf *err)
{
    struct daemon *d = userdata;
    if (!supervisor_has(d->sup, stream))
        return errbuf_set(err, -ENOENT, "stream '%s' does not exist", stream);
    return zones_delete(d->zones, stream, zone, err);
}

static int be_alerts_list(void *userdata, const struct api_alert_query *query, json_t **ret_json,
                          struct errbuf *err)
{
    struct daemon *d = userdata;
    return alerts_query_json(d->alerts, query, ret_json, err);
}

static int be_alert_get(void *userdata, int64_t id, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    return alerts_get_json(d->alerts, id, ret_json, err);
}

/* POST /v1/alerts/{id}/ack with an optional {"by": "who"} (default "api"). */
static int be_alert_ack(void *userdata, int64_t id, const char *body, size_t size,
                        json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    char by[64] = "api";
    if (size > 0) {
        json_error_t jerr;
        json_t *root = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
            return errbuf_set(err, -EBADMSG, "the body is not JSON: %s", jerr.text);
        json_t *who = json_object_get(root, "by");
        bool ok = json_is_object(root) && json_object_size(root) == (who ? 1u : 0u) &&
                  (!who || (json_is_string(who) && json_string_length(who) > 0 &&
                            json_string_length(who) < sizeof(by)));
        if (ok && who)
            str_copy(by, sizeof(by), json_string_value(who));
        json_decref(root);
        if (!ok)
            return errbuf_set(err, -EINVAL,
                              "the body must be {} or {\"by\": \"who\"} (1-63 characters)");
    }
    return alerts_ack(d->alerts, id, by, time_wall_s(), ret_json, err);
}

static int be_ready(void *userdata, struct errbuf *err)
{
    struct daemon *d = userdata;
    return atomic_load(&d->ready) ? 0 : errbuf_set(err, -EAGAIN, "starting");
}

static bool be_health(void *userdata, json_t *obj)
{
    struct daemon *d = userdata;
    struct store_health h;
    store_health(d->store, &h);
    json_object_set_new(obj, "store",
                        json_pack("{s:b, s:s?, s:o, s:I}", "writable", h.writable, "error",
                                  h.writable ? NULL : h.error, "failing_since",
                                  api_time_json(h.writable ? -1 : h.failing_since), "failed_writes",
                                  (json_int_t)h.failed_writes));
    return h.writable;
}

static void be_metrics(void *userdata, struct api_text *out)
{
    struct daemon *d = userdata;
    struct store_health h;
    store_health(d->store, &h);
    api_text_printf(out,
                    "# HELP crtd_store_writable 1 while the state store's writes succeed.\n"
                    "# TYPE crtd_store_writable gauge\n"
                    "crtd_store_writable %d\n"
                    "# HELP crtd_store_failed_writes_total Writes to the state store that failed.\n"
                    "# TYPE crtd_store_failed_writes_total counter\n"
                    "crtd_store_failed_writes_total %llu\n",
                    h.writable, (unsigned long long)h.failed_writes);
    api_text_printf(out,
                    "# HELP crtd_model_reload_failures_total SIGHUP model reloads that failed "
                    "(the old model kept serving).\n"
                    "# TYPE crtd_model_reload_failures_total counter\n"
                    "crtd_model_reload_failures_total %lu\n",
                    atomic_load(&d->model_reload_failures));
    mqtt_metrics(d->mqtt, out);
    alerts_metrics(d->alerts, out);
    webhooks_metrics(d->webhooks, out);
    api_text_printf(out, "# HELP crtd_build_info The running crtd.\n"
                         "# TYPE crtd_build_info gauge\n"
                         "crtd_build_info{version=\"" CRTD_VERSION "\"} 1\n");
    supervisor_metrics(d->sup, out);
}

const struct api_backend daemon_backend = {
    .streams_list = be_streams_list,
    .stream_get = be_stream_get,
    .stream_add = be_stream_add,
    .stream_delete = be_stream_delete,
    .stream_pause = be_stream_pause,
    .stream_option_name = config_video_name,
    .activity_get = be_activity_get,
    .history_get = be_history_get,
    .history_search = be_history_search,
    .model_get = be_model_get,
    .pose_get = be_pose_get,
    .people_get = be_people_get,
    .zones_list = be_zones_list,
    .zone_get = be_zone_get,
    .zone_put = be_zone_put,
    .zone_delete = be_zone_delete,
    .alerts_list = be_alerts_list,
    .alert_get = be_alert_get,
    .alert_ack = be_alert_ack,
    .labels_list = daemon_labels_list,
    .label_create = daemon_label_create,
    .label_get = daemon_label_get,
    .label_put = daemon_label_put,
    .label_delete = daemon_label_delete,
    .finetune_start = daemon_finetune_start,
    .finetune_get = daemon_finetune_get,
    .finetune_cancel = daemon_finetune_cancel,
    .model_rollback = daemon_model_rollback,
    .ready = be_ready,
    .health = be_health,
    .metrics = be_metrics,
};
