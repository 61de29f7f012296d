/* zones: the zones of every stream, from the configuration and the API. */
#include "zones.h"

#include <pthread.h>
#include <string.h>

#define MIN_SCORE 0.3f /* keypoints below are not seen */

struct stream_zones {
    char stream[API_NAME_MAX];
    struct zone zones[ZONES_MAX];
    bool configured[ZONES_MAX];
    int n;
};

struct zones {
    struct store *store;
    pthread_mutex_t lock;
    struct stream_zones *streams; /* under lock */
    size_t n_streams;
};

static struct stream_zones *stream_find_locked(struct zones *zs, const char *stream, bool add)
{
    for (size_t i = 0; i < zs->n_streams; i++)
        if (strcmp(zs->streams[i].stream, stream) == 0)
            return &zs->streams[i];
    if (!add)
        return NULL;
    struct stream_zones *grown = realloc(zs->streams, (zs->n_streams + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    zs->streams = grown;
    struct stream_zones *s = &zs->streams[zs->n_streams++];
    memset(s, 0, sizeof(*s));
    str_copy(s->stream, sizeof(s->stream), stream);
    return s;
}

static int zone_index(const struct stream_zones *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->zones[i].name, name) == 0)
            return i;
    return -1;
}

static int put_locked(struct zones *zs, const char *stream, const struct zone *z, bool configured,
                      bool *ret_created, struct errbuf *err)
{
    struct stream_zones *s = stream_find_locked(zs, stream, true);
    if (!s)
        return -ENOMEM;
    int i = zone_index(s, z->name);
    if (i >= 0 && s->configured[i] && !configured)
        return errbuf_set(err, -EPERM,
                          "zone '%s' of stream '%s' comes from the configuration file; change it "
                          "there",
                          z->name, stream);
    if (i < 0 && s->n >= ZONES_MAX)
        return errbuf_set(err, -ENOSPC, "stream '%s' has %d zones already (the most)", stream,
                          ZONES_MAX);
    if (ret_created)
        *ret_created = i < 0;
    if (i < 0)
        i = s->n++;
    s->zones[i] = *z;
    s->configured[i] = configured;
    return 0;
}

int zones_apply(struct zones *zs, const struct config *cfg, struct errbuf *err)
{
    int r = 0;
    pthread_mutex_lock(&zs->lock);
    for (size_t i = 0; i < zs->n_streams; i++) {
        struct stream_zones *s = &zs->streams[i];
        int n = 0;
        for (int j = 0; j < s->n; j++)
            if (!s->configured[j]) {
                s->zones[n] = s->zones[j];
                s->configured[n++] = false;
            }
        s->n = n;
    }
    for (size_t i = 0; i < cfg->n_zones && r >= 0; i++)
        r = put_locked(zs, cfg->zones[i].stream, &cfg->zones[i].zone, true, NULL, err);
    pthread_mutex_unlock(&zs->lock);
    return r;
}

int zones_new(const struct config *cfg, struct store *store, struct zones **ret, struct errbuf *err)
{
    struct zones *zs = calloc(1, sizeof(*zs));
    struct store_zone *saved = NULL;
    size_t n = 0;
    if (!zs)
        return -ENOMEM;
    zs->store = store;
    pthread_mutex_init(&zs->lock, NULL);
    int r = zones_apply(zs, cfg, err);
    if (r >= 0 && store)
        r = store_zones_load(store, &saved, &n, err);
    for (size_t i = 0; r >= 0 && i < n; i++) {
        struct zone z = {0};
        struct errbuf e;
        errbuf_clear(&e);
        str_copy(z.name, sizeof(z.name), saved[i].name);
        int q = zone_kind_parse(saved[i].kind, &z.kind);
        if (q >= 0)
            q = zone_parse_points(&z, saved[i].points, &e);
        pthread_mutex_lock(&zs->lock);
        if (q >= 0)
            q = put_locked(zs, saved[i].stream, &z, false, NULL, &e);
        pthread_mutex_unlock(&zs->lock);
        if (q < 0)
            log_warning("stream %s: saved zone '%s' not used: %s", saved[i].stream, saved[i].name,
                        errbuf_text(&e, q));
    }
    free(saved);
    if (r < 0) {
        zones_free(zs);
        return r;
    }
    *ret = zs;
    return 0;
}

struct zones *zones_free(struct zones *zs)
{
    if (!zs)
        return NULL;
    pthread_mutex_destroy(&zs->lock);
    free(zs->streams);
    free(zs);
    return NULL;
}

int zones_copy(struct zones *zs, const char *stream, struct zone *out)
{
    if (!zs)
        return 0;
    pthread_mutex_lock(&zs->lock);
    struct stream_zones *s = stream_find_locked(zs, stream, false);
    int n = s ? s->n : 0;
    if (n)
        memcpy(out, s->zones, (size_t)n * sizeof(*out));
    pthread_mutex_unlock(&zs->lock);
    return n;
}

static json_t *zone_json(const struct zone *z, bool configured)
{
    json_t *points = json_array();
    for (int i = 0; points && i < z->n; i++)
        json_array_append_new(
            points, json_pack("[f, f]", (double)z->points[i][0], (double)z->points[i][1]));
    return json_pack("{s:s, s:s, s:o, s:s}", "name", z->name, "kind", zone_kind_name(z->kind),
                     "points", points, "origin", configured ? "config" : "api");
}

int zones_list_json(struct zones *zs, const char *stream, json_t **ret)
{
    json_t *list = json_array();
    pthread_mutex_lock(&zs->lock);
    struct stream_zones *s = stream_find_locked(zs, stream, false);
    for (int i = 0; list && s && i < s->n; i++)
        json_array_append_new(list, zone_json(&s->zones[i], s->configured[i]));
    pthread_mutex_unlock(&zs->lock);
    json_t *root = list ? json_pack("{s:s, s:o}", "stream", stream, "zones", list) : NULL;
    if (!root)
        return -ENOMEM;
    *ret = root;
    return 0;
}

int zones_get_json(struct zones *zs, const char *stream, const char *name, json_t **ret,
                   struct errbuf *err)
{
    json_t *json = NULL;
    pthread_mutex_lock(&zs->lock);
    struct stream_zones *s = stream_find_locked(zs, stream, false);
    int i = s ? zone_index(s, name) : -1;
    if (i >= 0)
        json = zone_json(&s->zones[i], s->configured[i]);
    pthread_mutex_unlock(&zs->lock);
    if (i < 0)
        return errbuf_set(err, -ENOENT, "stream '%s' has no zone '%s'", stream, name);
    if (!json)
        return -ENOMEM;
    *ret = json;
    return 0;
}

/* "points": [[x, y], ...] or "x,y x,y ..." into the text zone_parse_points reads. */
static int points_text(json_t *points, char *dst, size_t size, struct errbuf *err)
{
    if (json_is_string(points))
        return str_copy(dst, size, json_string_value(points)) < 0
                   ? errbuf_set(err, -EINVAL, "'points' is too long")
                   : 0;
    if (!json_is_array(points))
        return errbuf_set(err, -EINVAL, "'points' must be [[x, y], ...] or \"x,y x,y ...\"");
    size_t off = 0, i;
    json_t *pt;
    dst[0] = '\0';
    json_array_foreach(points, i, pt)
    {
        json_t *x = json_array_get(pt, 0), *y = json_array_get(pt, 1);
        if (!json_is_array(pt) || json_array_size(pt) != 2 || !json_is_number(x) ||
            !json_is_number(y))
            return errbuf_set(err, -EINVAL, "'points'[%zu] must be [x, y]", i);
        int n = snprintf(dst + off, size - off, "%s%.6g,%.6g", off ? " " : "", json_number_value(x),
                         json_number_value(y));
        if (n < 0 || (size_t)n >= size - off)
            return errbuf_set(err, -EINVAL, "'points' has too many points");
        off += (size_t)n;
    }
    return 0;
}

int zones_put_json(struct zones *zs, const char *stream, const char *name, const char *body,
                   size_t size, bool *ret_created, json_t **ret, struct errbuf *err)
{
    json_error_t jerr;
    struct store_zone sz = {0};
    struct zone z = {0};
    json_t *root = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);
    int r;
    if (!root)
        return errbuf_set(err, -EBADMSG, "the body is not JSON: %s", jerr.text);
    const char *key;
    json_t *value, *kind = json_object_get(root, "kind");
    if (!json_is_object(root)) {
        r = errbuf_set(err, -EINVAL, "the body must be an object {\"kind\", \"points\"}");
        goto done;
    }
    json_object_foreach(root, key, value)
    {
        if (strcmp(key, "kind") != 0 && strcmp(key, "points") != 0 && strcmp(key, "name") != 0) {
            r = errbuf_set(err, -EINVAL, "unknown field '%s' (kind, points)", key);
            goto done;
        }
    }
    str_copy(z.name, sizeof(z.name), name);
    if (!json_is_string(kind) || zone_kind_parse(json_string_value(kind), &z.kind) < 0) {
        r = errbuf_set(err, -EINVAL, "'kind' must be one of bed, seat, floor, door, area, exclude");
        goto done;
    }
    if ((r = points_text(json_object_get(root, "points"), sz.points, sizeof(sz.points), err)) < 0 ||
        (r = zone_parse_points(&z, sz.points, err)) < 0)
        goto done;
    str_copy(sz.stream, sizeof(sz.stream), stream);
    str_copy(sz.name, sizeof(sz.name), name);
    str_copy(sz.kind, sizeof(sz.kind), zone_kind_name(z.kind));
    pthread_mutex_lock(&zs->lock);
    struct stream_zones *s = stream_find_locked(zs, stream, false);
    int i = s ? zone_index(s, name) : -1;
    if (i >= 0 && s->configured[i])
        r = errbuf_set(err, -EPERM,
                       "zone '%s' of stream '%s' comes from the configuration file; change it "
                       "there",
                       name, stream);
    else if (i < 0 && s && s->n >= ZONES_MAX)
        r = errbuf_set(err, -ENOSPC, "stream '%s' has %d zones already (the most)", stream,
                       ZONES_MAX);
    else if ((r = store_zone_put(zs->store, &sz, err)) >= 0)
        r = put_locked(zs, stream, &z, false, ret_created, err);
    pthread_mutex_unlock(&zs->lock);
    if (r >= 0) {
        *ret = zone_json(&z, false);
        r = *ret ? 0 : -ENOMEM;
    }
done:
    json_decref(root);
    return r;
}

int zones_delete(struct zones *zs, const char *stream, const char *name, struct errbuf *err)
{
    int r = 0;
    pthread_mutex_lock(&zs->lock);
    struct stream_zones *s = stream_find_locked(zs, stream, false);
    int i = s ? zone_index(s, name) : -1;
    if (i < 0)
        r = errbuf_set(err, -ENOENT, "stream '%s' has no zone '%s'", stream, name);
    else if (s->configured[i])
        r = errbuf_set(err, -EPERM,
                       "zone '%s' of stream '%s' comes from the configuration file; remove it "
                       "there",
                       name, stream);
    else if ((r = store_zone_delete(zs->store, stream, name, err)) >= 0) {
        memmove(&s->zones[i], &s->zones[i + 1], (size_t)(s->n - i - 1) * sizeof(s->zones[0]));
        memmove(&s->configured[i], &s->configured[i + 1], (size_t)(s->n - i - 1));
        s->n--;
    }
    pthread_mutex_unlock(&zs->lock);
    return r;
}

void zones_forget_stream(struct zones *zs, const char *stream)
{
    pthread_mutex_lock(&zs->lock);
    struct stream_zones *s = stream_find_locked(zs, stream, false);
    if (s) {
        int n = 0;
        for (int j = 0; j < s->n; j++)
            if (s->configured[j]) {
                s->zones[n] = s->zones[j];
                s->configured[n++] = true;
            }
        s->n = n;
    }
    pthread_mutex_unlock(&zs->lock);
}

void zones_anchor(const struct pipeline_person *p, float ret[2])
{
    const float(*kp)[3] = p->keypoints;
    if (kp[11][2] >= MIN_SCORE && kp[12][2] >= MIN_SCORE) {
        ret[0] = (kp[11][0] + kp[12][0]) / 2;
        ret[1] = (kp[11][1] + kp[12][1]) / 2;
        return;
    }
    float x = 0, y = 0;
    int n = 0;
    for (int k = 0; k < PIPELINE_KEYPOINTS; k++)
        if (kp[k][2] >= MIN_SCORE) {
            x += kp[k][0];
            y += kp[k][1];
            n++;
        }
    if (n) {
        ret[0] = x / (float)n;
        ret[1] = y / (float)n;
    } else {
        ret[0] = (p->box[0] + p->box[2]) / 2;
        ret[1] = (p->box[1] + p->box[3]) / 2;
    }
}

uint32_t zones_of_person(const struct zone *zones, int n, const struct pipeline_person *p)
{
    float xy[2];
    uint32_t mask = 0;
    zones_anchor(p, xy);
    for (int i = 0; i < n && i < 32; i++)
        if (zone_contains(&zones[i], xy[0], xy[1]))
            mask |= 1u << i;
    return mask;
}
