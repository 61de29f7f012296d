/* supervisor_json: the supervisor's snapshots as the API shows them (a
 * stream, its activity, its pose, the list) and the bodies of the events it
 * publishes; each read under the stream's lock. */
#include <string.h>

#include "data.h"
#include "supervisor_internal.h"

static const char *const state_names[] = {
    [STREAM_STARTING] = "starting",         [STREAM_RUNNING] = "running",
    [STREAM_RECONNECTING] = "reconnecting", [STREAM_DISABLED] = "disabled",
    [STREAM_STOPPING] = "stopping",         [STREAM_PAUSED] = "paused",
};

static const char *const origin_names[] = {
    [CONFIG_ORIGIN_FILE] = "config",
    [CONFIG_ORIGIN_COMMAND] = "command_line",
    [CONFIG_ORIGIN_API] = "api",
};

const char *stream_origin_name(enum config_origin origin)
{
    return origin_names[origin];
}

static json_t *top_json(const struct supervisor *sup, const struct activity_now *now)
{
    json_t *top = json_array();
    for (unsigned k = 0; top && k < now->n_top; k++)
        json_array_append_new(
            top, json_pack("{s:s, s:f}", "label",
                           pipeline_model_class(sup->model, (unsigned)now->top_label[k]), "score",
                           (double)now->top_score[k]));
    return top ? top : json_array();
}

static json_t *label_json(const struct supervisor *sup, const struct activity_now *now)
{
    bool labelled = now->state == ACTIVITY_LABEL && now->label >= 0;
    return labelled ? json_string(pipeline_model_class(sup->model, (unsigned)now->label))
                    : json_null();
}

unsigned stream_people_in_view_locked(const struct stream *st)
{
    unsigned n = 0;
    for (unsigned i = 0; i < st->n_people; i++)
        n += st->people[i].tracker.now.state == ACTIVITY_LABEL;
    return n;
}

json_t *stream_person_json_locked(const struct stream *st, const struct stream_person *sp,
                                  bool keypoints)
{
    const struct activity_now *now = &sp->tracker.now;
    bool labelled = now->state == ACTIVITY_LABEL && now->label >= 0;
    json_t *j =
        json_pack("{s:I, s:b, s:[f, f, f, f], s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                  (json_int_t)sp->p.id, "in_view", sp->p.in_view, "box", sp->p.box[0], sp->p.box[1],
                  sp->p.box[2], sp->p.box[3], "state", activity_state_name(now->state), "label",
                  label_json(st->sup, now), "score", labelled ? json_real(now->score) : json_null(),
                  "since", api_time_json(now->since), "first_seen", api_time_json(sp->p.first_seen),
                  "updated", api_time_json(now->updated), "top", top_json(st->sup, now));
    if (j && keypoints) {
        json_t *points = json_array();
        for (int k = 0; points && k < PIPELINE_KEYPOINTS; k++)
            json_array_append_new(points, json_pack("[f, f, f]", sp->p.keypoints[k][0],
                                                    sp->p.keypoints[k][1], sp->p.keypoints[k][2]));
        json_object_set_new(j, "keypoints", points ? points : json_array());
    }
    json_t *zones = json_array();
    for (int i = 0; zones && i < st->n_zones; i++)
        if (sp->zones & (1u << i))
            json_array_append_new(zones, json_string(st->zones[i].name));
    if (j)
        json_object_set_new(j, "zones", zones ? zones : json_array());
    return j;
}

json_t *stream_person_event_json_locked(const struct stream *st, const struct stream_person *sp,
                                        const char *change, const struct activity_interval *closed)
{
    json_t *data = stream_person_json_locked(st, sp, false);
    if (!data)
        return NULL;
    json_object_set_new(data, "stream", json_string(st->spec.name));
    json_object_set_new(data, "person", json_integer(sp->p.id));
    json_object_set_new(data, "change", json_string(change));
    json_object_set_new(data, "people", json_integer(stream_people_in_view_locked(st)));
    if (strcmp(change, "left") == 0)
        json_object_set_new(data, "state", json_string("gone"));
    json_object_set_new(
        data, "previous",
        !closed ? json_null()
        : closed->state == ACTIVITY_LABEL
            ? json_string(pipeline_model_class(st->sup->model, (unsigned)closed->label))
            : json_string(activity_state_name(closed->state)));
    return data;
}

json_t *stream_activity_json_locked(const struct stream *st)
{
    const struct supervisor *sup = st->sup;
    const struct activity_now *now = &st->tracker.now;
    bool labelled = now->state == ACTIVITY_LABEL && now->label >= 0;
    json_t *tracks = json_array();
    for (unsigned i = 0; tracks && i < st->n_people; i++)
        json_array_append_new(tracks, stream_person_json_locked(st, &st->people[i], false));
    return json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:o, s:b, s:o, s:I, s:o, s:o}", "stream", st->spec.name, "state",
        activity_state_name(now->state), "label", label_json(sup, now), "score",
        labelled ? json_real(now->score) : json_null(), "since", api_time_json(now->since),
        "updated", api_time_json(now->updated), "person", now->person, "top", top_json(sup, now),
        "people", (json_int_t)stream_people_in_view_locked(st), "person_id",
        labelled && st->summary_person ? json_integer(st->summary_person) : json_null(), "tracks",
        tracks ? tracks : json_array());
}

json_t *stream_activity_event_json_locked(const struct stream *st,
                                          const struct activity_interval *closed)
{
    const struct supervisor *sup = st->sup;
    json_t *data = stream_activity_json_locked(st);
    if (data)
        json_object_set_new(
            data, "previous",
            closed->state == ACTIVITY_LABEL
                ? json_string(pipeline_model_class(sup->model, (unsigned)closed->label))
                : json_string(activity_state_name(closed->state)));
    return data;
}

json_t *stream_status_json(const struct stream *st, enum stream_state state, const char *error,
                           uint64_t reconnects)
{
    return json_pack("{s:s, s:s, s:o, s:I}", "stream", st->spec.name, "state", state_names[state],
                     "error", error ? json_string(error) : json_null(), "reconnects",
                     (json_int_t)reconnects);
}

json_t *stream_added_json(const struct config_stream *spec)
{
    return json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "stream", spec->name, "action", "added",
                     "origin", origin_names[spec->origin], "site",
                     spec->site[0] ? spec->site : NULL, "room", spec->room[0] ? spec->room : NULL);
}

json_t *stream_removed_json(const char *name)
{
    return json_pack("{s:s, s:s}", "stream", name, "action", "removed");
}

/* The stream's pose archive: off, or what its writer did. */
static json_t *archive_json_locked(struct stream *st)
{
    if (!st->archive)
        return json_pack("{s:b}", "on", false);
    struct pose_archive_stats a;
    pose_archive_stats(st->archive, &a);
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "on", true, "bytes",
                     (json_int_t)a.bytes, "files", (json_int_t)a.files, "records",
                     (json_int_t)a.records, "chunks", (json_int_t)a.chunks, "failed_writes",
                     (json_int_t)a.failed_writes, "dropped", (json_int_t)a.dropped, "error",
                     a.error[0] ? json_string(a.error) : json_null());
}

static json_t *stream_json_locked(struct stream *st)
{
    struct pipeline_status status;
    struct shown v = stream_shown_locked(st, &status);
    json_t *fps = st->spec.fps > 0 ? json_real(st->spec.fps) : json_null();
    json_t *error = v.error ? json_string(v.error) : json_null();
    json_t *retry = v.state == STREAM_RECONNECTING ? api_time_json(v.next_retry) : json_null();
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:b, s:o, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:f, "
        "s:{s:b, s:I}, s:o, s:{s:I, s:I, s:I}, s:{s:s, s:I, s:I}, s:o}",
        "name", st->spec.name, "url", st->url_masked, "origin", origin_names[st->spec.origin],
        "enabled", st->spec.enabled, "fps", fps, "state", state_names[v.state], "error", error,
        "next_retry", retry, "frames", (json_int_t)v.frames, "sampled", (json_int_t)v.sampled,
        "dropped", (json_int_t)v.dropped, "segments", (json_int_t)st->segments, "reconnects",
        (json_int_t)v.reconnects, "fps_measured", st->fps_measured, "memory", "restored",
        st->memory_restored, "segments", (json_int_t)st->memory_segments, "activity",
        stream_activity_json_locked(st), "people", "in_view",
        (json_int_t)stream_people_in_view_locked(st), "max",
        (json_int_t)(st->spec.max_people ? st->spec.max_people : st->settings.max_people),
        "dropped", (json_int_t)st->people_dropped, "gate", "state", pipeline_gate_name(v.gate),
        "gated", (json_int_t)v.gated, "pose_frames", (json_int_t)v.pose_frames, "archive",
        archive_json_locked(st));
    if (j) {
        json_object_set_new(j, "site", st->spec.site[0] ? json_string(st->spec.site) : json_null());
        json_object_set_new(j, "room", st->spec.room[0] ? json_string(st->spec.room) : json_null());
        json_object_set_new(j, "paused", json_boolean(st->paused));
        /* The RTSP transport in use (transport = auto shows what it found). */
        json_object_set_new(j, "transport",
                            status.transport ? json_string(status.transport) : json_null());
        json_object_set_new(
            j, "video", config_video_json(&st->spec.video, false, st->settings.camera_timeout_s));
    }
    return j;
}

int supervisor_streams_json(struct supervisor *sup, json_t **ret_json)
{
    json_t *list = json_array();
    if (!list)
        return -ENOMEM;
    pthread_mutex_lock(&sup->lock);
    for (size_t i = 0; i < sup->n_streams; i++) {
        struct stream *st = sup->streams[i];
        pthread_mutex_lock(&st->lock);
        json_array_append_new(list, stream_json_locked(st));
        pthread_mutex_unlock(&st->lock);
    }
    pthread_mutex_unlock(&sup->lock);
    json_t *root = json_pack("{s:o}", "streams", list);
    if (!root)
        return -ENOMEM;
    *ret_json = root;
    return 0;
}

static int one_json(struct supervisor *sup, const char *name, bool activity, json_t **ret_json)
{
    json_t *json = NULL;
    pthread_mutex_lock(&sup->lock);
    ssize_t i = supervisor_find_locked(sup, name);
    if (i >= 0) {
        struct stream *st = sup->streams[i];
        pthread_mutex_lock(&st->lock);
        json = activity ? stream_activity_json_locked(st) : stream_json_locked(st);
        pthread_mutex_unlock(&st->lock);
    }
    pthread_mutex_unlock(&sup->lock);
    if (i < 0)
        return -ENOENT;
    if (!json)
        return -ENOMEM;
    *ret_json = json;
    return 0;
}

int supervisor_stream_json(struct supervisor *sup, const char *name, json_t **ret_json)
{
    return one_json(sup, name, false, ret_json);
}

int supervisor_pose_json(struct supervisor *sup, const char *name, json_t **ret_json)
{
    pthread_mutex_lock(&sup->lock);
    ssize_t i = supervisor_find_locked(sup, name);
    if (i < 0) {
        pthread_mutex_unlock(&sup->lock);
        return -ENOENT;
    }
    struct stream *st = sup->streams[i];
    json_t *points = json_array();
    pthread_mutex_lock(&st->lock);
    for (int k = 0; points && st->pose_wall > 0 && k < PIPELINE_KEYPOINTS; k++)
        json_array_append_new(
            points, json_pack("[f, f, f]", st->pose[k][0], st->pose[k][1], st->pose[k][2]));
    json_t *j = json_pack("{s:s, s:o, s:o}", "stream", st->spec.name, "time",
                          api_time_json(st->pose_wall > 0 ? st->pose_wall : -1), "keypoints",
                          points ? points : json_array());
    pthread_mutex_unlock(&st->lock);
    pthread_mutex_unlock(&sup->lock);
    if (!j)
        return -ENOMEM;
    *ret_json = j;
    return 0;
}

int supervisor_activity_json(struct supervisor *sup, const char *name, json_t **ret_json)
{
    return one_json(sup, name, true, ret_json);
}

int supervisor_people_json(struct supervisor *sup, const char *name, json_t **ret_json)
{
    pthread_mutex_lock(&sup->lock);
    ssize_t i = supervisor_find_locked(sup, name);
    if (i < 0) {
        pthread_mutex_unlock(&sup->lock);
        return -ENOENT;
    }
    struct stream *st = sup->streams[i];
    json_t *list = json_array();
    pthread_mutex_lock(&st->lock);
    for (unsigned k = 0; list && k < st->n_people; k++)
        json_array_append_new(list, stream_person_json_locked(st, &st->people[k], true));
    json_t *j = json_pack("{s:s, s:o, s:I, s:I, s:I, s:o}", "stream", st->spec.name, "updated",
                          api_time_json(st->pose_wall > 0 ? st->pose_wall : -1), "count",
                          (json_int_t)stream_people_in_view_locked(st), "dropped",
                          (json_int_t)st->people_dropped, "excluded",
                          (json_int_t)st->people_excluded, "people", list ? list : json_array());
    pthread_mutex_unlock(&st->lock);
    pthread_mutex_unlock(&sup->lock);
    if (!j)
        return -ENOMEM;
    *ret_json = j;
    return 0;
}
