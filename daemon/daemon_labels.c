/* daemon_labels: /v1/labels on the state store and the streams' pose
 * archives (docs/SERVICE.md, "Labels"). A label is a stretch of a camera's
 * timeline, or of one of its person tracks, with a class: one of the
 * model's, a new name, or "not this". Saving one copies the archived
 * keypoints of the stretch into the label, so that it can be exported and
 * trained on after the archive has rolled past it; a stretch with none is
 * refused. */
#include <math.h>
#include <string.h>

#include "daemon_internal.h"
#include "data.h"

/* Keys a label's JSON body may have. */
static const char *const label_keys[] = {"stream", "track", "start", "end", "class", "not", "note"};

static bool class_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= STORE_LABEL_CLASS_MAX || name[0] == ' ' || name[n - 1] == ' ')
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* A time: seconds since the epoch as a number, or a string api_time_parse
 * reads. */
static int json_time(json_t *v, double *ret)
{
    if (json_is_number(v) && json_number_value(v) >= 0 && isfinite(json_number_value(v))) {
        *ret = json_number_value(v);
        return 0;
    }
    if (json_is_string(v) && api_time_parse(json_string_value(v), ret) >= 0)
        return 0;
    return -EINVAL;
}

/* Applies a body's fields to l (a new label's defaults, or the one kept);
 * *ret_moved: the stretch (stream, track, start or end) changed. */
static int label_from_body(const char *body, size_t size, bool create, struct store_label *l,
                           bool *ret_moved, struct errbuf *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);
    int r = 0;
    if (!root)
        return errbuf_set(err, -EBADMSG, "the body is not JSON: %s", jerr.text);
    if (!json_is_object(root)) {
        r = errbuf_set(err, -EINVAL, "the body must be a JSON object");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < ARRAY_SIZE(label_keys) && !known; i++)
            known = strcmp(key, label_keys[i]) == 0;
        if (!known) {
            r = errbuf_set(err, -EINVAL,
                           "unknown key '%.64s' (stream, track, start, end, class, not, note)",
                           key);
            goto out;
        }
    }
    const struct store_label was = *l;
    if ((v = json_object_get(root, "stream"))) {
        if (!json_is_string(v) || !api_name_valid(json_string_value(v))) {
            r = errbuf_set(err, -EINVAL, "'stream' must be a stream name");
            goto out;
        }
        if (!create && strcmp(json_string_value(v), l->stream) != 0) {
            r = errbuf_set(err, -EINVAL, "a label stays on its stream ('%s'): make a new one",
                           l->stream);
            goto out;
        }
        str_copy(l->stream, sizeof(l->stream), json_string_value(v));
    } else if (create) {
        r = errbuf_set(err, -EINVAL, "'stream' is missing");
        goto out;
    }
    if ((v = json_object_get(root, "track"))) {
        if (!json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0 ||
                                 json_integer_value(v) > UINT32_MAX)) {
            r = errbuf_set(err, -EINVAL,
                           "'track' must be a person track's id, or 0 or null for the camera");
            goto out;
        }
        l->track = json_is_null(v) ? 0 : (uint32_t)json_integer_value(v);
    }
    const char *times[] = {"start", "end"};
    double *dsts[] = {&l->start, &l->end};
    for (int i = 0; i < 2; i++) {
        if ((v = json_object_get(root, times[i]))) {
            if (json_time(v, dsts[i]) < 0) {
                r = errbuf_set(err, -EINVAL,
                               "'%s' must be seconds since the epoch or an RFC 3339 time",
                               times[i]);
                goto out;
            }
        } else if (create) {
            r = errbuf_set(err, -EINVAL, "'%s' is missing", times[i]);
            goto out;
        }
    }
    if (!(l->end > l->start)) {
        r = errbuf_set(err, -EINVAL, "'end' must be after 'start'");
        goto out;
    }
    if ((v = json_object_get(root, "class"))) {
        if (!json_is_string(v) || !class_name_valid(json_string_value(v))) {
            r = errbuf_set(err, -EINVAL,
                           "'class' must be a class name: 1 to %d bytes, no control characters "
                           "or spaces at either end",
                           STORE_LABEL_CLASS_MAX - 1);
            goto out;
        }
        str_copy(l->class_name, sizeof(l->class_name), json_string_value(v));
    } else if (create) {
        r = errbuf_set(err, -EINVAL, "'class' is missing");
        goto out;
    }
    if ((v = json_object_get(root, "not"))) {
        if (!json_is_boolean(v)) {
            r = errbuf_set(err, -EINVAL, "'not' must be true or false");
            goto out;
        }
        l->negative = json_is_true(v);
    }
    if ((v = json_object_get(root, "note"))) {
        if (!json_is_string(v) || json_string_length(v) >= sizeof(l->note)) {
            r = errbuf_set(err, -EINVAL, "'note' must be a string of at most %zu bytes",
                           sizeof(l->note) - 1);
            goto out;
        }
        str_copy(l->note, sizeof(l->note), json_string_value(v));
    }
    *ret_moved = create || strcmp(was.stream, l->stream) != 0 || was.track != l->track ||
                 was.start != l->start || was.end != l->end;
out:
    json_decref(root);
    return r;
}

/* The archived keypoints of l's stretch, encoded for the store; the track
 * ids they are of go to l->tracks. -ENODATA, saying why, when there are
 * none. */
static int label_keypoints(struct daemon *d, struct store_label *l, void **ret_data,
                           size_t *ret_size, struct errbuf *err)
{
    char dir[PATH_MAX], a[48], b[48];
    bool on;
    int r = supervisor_archive_flush(d->sup, l->stream, dir, sizeof(dir), &on, err);
    if (r == -ENOENT)
        return r;
    if (r < 0) /* a write that failed now: what is on disk still counts */
        log_warning("stream %s: %s", l->stream, errbuf_text(err, r));
    struct pose_archive_record *recs = NULL;
    size_t n = 0;
    if ((r = pose_archive_read(dir, l->start, l->end, l->track, &recs, &n, NULL, err)) < 0)
        return r;
    api_time_format(a, sizeof(a), l->start);
    api_time_format(b, sizeof(b), l->end);
    if (n == 0) {
        char who[32] = "anyone";
        if (l->track)
            snprintf(who, sizeof(who), "track %u", (unsigned)l->track);
        return errbuf_set(err, -ENODATA,
                          "no archived keypoints of %s on stream '%s' from %s to %s: %s", who,
                          l->stream, a, b,
                          on ? "nobody was tracked then, or the archive no longer keeps it"
                             : "the stream keeps no pose archive (archive = no)");
    }
    if (n > POSE_ARCHIVE_CHUNK_MAX) {
        free(recs);
        return errbuf_set(err, -EINVAL,
                          "the stretch from %s to %s holds %zu frames of keypoints, a label "
                          "keeps at most %d: label a shorter stretch",
                          a, b, n, POSE_ARCHIVE_CHUNK_MAX);
    }
    /* The tracks, in the order the records are (by track). */
    size_t off = 0;
    l->tracks[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((i == 0 || recs[i].track != recs[i - 1].track) && off + 12 < sizeof(l->tracks))
            off += (size_t)snprintf(l->tracks + off, sizeof(l->tracks) - off, "%s%u",
                                    off ? "," : "", (unsigned)recs[i].track);
    l->records = (uint32_t)n;
    r = pose_archive_encode(recs, n, ret_data, ret_size, &l->t_first);
    free(recs);
    return r;
}

/* Whether the serving model has this class. */
static bool model_has_class(struct daemon *d, const char *name)
{
    bool has = false;
    pthread_rwlock_rdlock(&d->model_lock);
    for (unsigned i = 0; i < pipeline_model_n_classes(d->model) && !has; i++)
        has = strcmp(pipeline_model_class(d->model, i), name) == 0;
    pthread_rwlock_unlock(&d->model_lock);
    return has;
}

static json_t *label_json(struct daemon *d, const struct store_label *l)
{
    json_t *tracks = json_array();
    for (const char *p = l->tracks; *p;) {
        char *end;
        json_array_append_new(tracks, json_integer(strtoll(p, &end, 10)));
        p = *end == ',' ? end + 1 : end;
    }
    return json_pack("{s:I, s:s, s:o, s:o, s:o, s:f, s:s, s:b, s:s, s:b, s:I, s:o, s:o, s:o}", "id",
                     (json_int_t)l->id, "stream", l->stream, "track",
                     l->track ? json_integer(l->track) : json_null(), "start",
                     api_time_json(l->start), "end", api_time_json(l->end), "seconds",
                     l->end - l->start, "class", l->class_name, "not", l->negative, "note", l->note,
                     "new_class", !model_has_class(d, l->class_name), "frames",
                     (json_int_t)l->records, "tracks", tracks, "created", api_time_json(l->created),
                     "updated", api_time_json(l->updated));
}

int daemon_labels_list(void *userdata, const struct api_label_query *q, json_t **ret_json,
                       struct errbuf *err)
{
    struct daemon *d = userdata;
    struct store_label_query sq = {
        .track = q->track, .since = q->since, .until = q->until, .limit = q->limit};
    str_copy(sq.stream, sizeof(sq.stream), q->stream);
    str_copy(sq.class_name, sizeof(sq.class_name), q->class_name);
    struct store_label *list = NULL;
    size_t n = 0;
    int r = store_labels_query(d->store, &sq, &list, &n, err);
    if (r < 0)
        return r;
    json_t *array = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(array, label_json(d, &list[i]));
    free(list);
    *ret_json = json_pack("{s:o}", "labels", array);
    return *ret_json ? 0 : -ENOMEM;
}

int daemon_label_create(void *userdata, const char *body, size_t size, int64_t *ret_id,
                        json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    struct store_label l = {0};
    bool moved;
    _cleanup_free_ void *kp = NULL;
    size_t kp_size = 0;
    int r = label_from_body(body, size, true, &l, &moved, err);
    if (r < 0)
        return r;
    if (!supervisor_has(d->sup, l.stream))
        return errbuf_set(err, -ENOENT, "stream '%s' does not exist", l.stream);
    if ((r = label_keypoints(d, &l, &kp, &kp_size, err)) < 0 ||
        (r = store_label_put(d->store, &l, kp, kp_size, err)) < 0)
        return r;
    log_info("stream %s: label %lld '%s%s' (%u frames) through the API", l.stream, (long long)l.id,
             l.negative ? "not " : "", l.class_name, (unsigned)l.records);
    *ret_id = l.id;
    *ret_json = label_json(d, &l);
    return *ret_json ? 0 : -ENOMEM;
}

int daemon_label_get(void *userdata, int64_t id, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    struct store_label l;
    int r = store_label_get(d->store, id, &l, err);
    if (r < 0)
        return r;
    *ret_json = label_json(d, &l);
    return *ret_json ? 0 : -ENOMEM;
}

int daemon_label_put(void *userdata, int64_t id, const char *body, size_t size, json_t **ret_json,
                     struct errbuf *err)
{
    struct daemon *d = userdata;
    struct store_label l;
    bool moved;
    _cleanup_free_ void *kp = NULL;
    size_t kp_size = 0;
    int r = store_label_get(d->store, id, &l, err);
    if (r < 0 || (r = label_from_body(body, size, false, &l, &moved, err)) < 0)
        return r;
    /* A stretch that moved takes the keypoints of where it is now. */
    if (moved && (r = label_keypoints(d, &l, &kp, &kp_size, err)) < 0)
        return r == -ENOENT ? errbuf_set(err, -ENODATA,
                                         "stream '%s' is gone: its label "
                                         "can change its class, not its stretch",
                                         l.stream)
                            : r;
    if ((r = store_label_put(d->store, &l, kp, kp_size, err)) < 0)
        return r;
    *ret_json = label_json(d, &l);
    return *ret_json ? 0 : -ENOMEM;
}

int daemon_label_delete(void *userdata, int64_t id, struct errbuf *err)
{
    struct daemon *d = userdata;
    return store_label_delete(d->store, id, err);
}
