/* store_safety: the alerts and the API's zones in the state store. */
#include <string.h>

#include "store_internal.h"

static void bind_time(sqlite3_stmt *st, int i, double t)
{
    if (t < 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, t);
}

static double column_time(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_double(st, i);
}

static void column_text(sqlite3_stmt *st, int i, char *dst, size_t size)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    str_copy(dst, size, v ? v : "");
}

static int alert_put_locked(struct store *s, struct store_alert *a, struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_prepare(
        s,
        a->id > 0 ? "UPDATE alerts SET rule = ?1, kind = ?2, stream = ?3, track = ?4, zone = ?5,"
                    " state = ?6, started = ?7, confirmed = ?8, cleared = ?9,"
                    " acknowledged_by = ?10, acknowledged_at = ?11, updated = ?12,"
                    " message = ?13 WHERE id = ?14"
                  : "INSERT INTO alerts (rule, kind, stream, track, zone, state, started,"
                    " confirmed, cleared, acknowledged_by, acknowledged_at, updated, message)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, a->rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->stream, -1, SQLITE_STATIC);
    if (a->track)
        sqlite3_bind_int64(st, 4, a->track);
    if (a->zone[0])
        sqlite3_bind_text(st, 5, a->zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, a->state, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 7, a->started);
    bind_time(st, 8, a->confirmed);
    bind_time(st, 9, a->cleared);
    if (a->acknowledged_by[0])
        sqlite3_bind_text(st, 10, a->acknowledged_by, -1, SQLITE_STATIC);
    bind_time(st, 11, a->acknowledged_at);
    sqlite3_bind_double(st, 12, a->updated);
    sqlite3_bind_text(st, 13, a->message, -1, SQLITE_STATIC);
    if (a->id > 0)
        sqlite3_bind_int64(st, 14, a->id);
    if ((r = store_db_step_done(s, st, "saving an alert", err)) < 0)
        return r;
    if (a->id <= 0)
        a->id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int store_alert_put(struct store *s, struct store_alert *a, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s, alert_put_locked(s, a, err), err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

#define ALERT_COLUMNS                                                                              \
    "id, rule, kind, stream, track, zone, state, started, confirmed, cleared, acknowledged_by,"    \
    " acknowledged_at, updated, message"

static void alert_row(sqlite3_stmt *st, struct store_alert *a)
{
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(st, 0);
    column_text(st, 1, a->rule, sizeof(a->rule));
    column_text(st, 2, a->kind, sizeof(a->kind));
    column_text(st, 3, a->stream, sizeof(a->stream));
    a->track = (uint32_t)sqlite3_column_int64(st, 4);
    column_text(st, 5, a->zone, sizeof(a->zone));
    column_text(st, 6, a->state, sizeof(a->state));
    a->started = sqlite3_column_double(st, 7);
    a->confirmed = column_time(st, 8);
    a->cleared = column_time(st, 9);
    column_text(st, 10, a->acknowledged_by, sizeof(a->acknowledged_by));
    a->acknowledged_at = column_time(st, 11);
    a->updated = sqlite3_column_double(st, 12);
    column_text(st, 13, a->message, sizeof(a->message));
}

static int alerts_query_locked(struct store *s, const char *state, const char *stream,
                               const char *rule, double since, unsigned limit, int64_t id,
                               struct store_alert **ret, size_t *ret_n, struct errbuf *err)
{
    sqlite3_stmt *st;
    struct store_alert *list = NULL;
    size_t n = 0;
    int rc, r = store_db_prepare(
                s,
                "SELECT " ALERT_COLUMNS " FROM alerts WHERE (?1 = '' OR state = ?1 OR"
                " (?1 = 'open' AND state != 'cleared')) AND (?2 = '' OR stream = ?2) AND"
                " (?3 = '' OR rule = ?3) AND (?4 < 0 OR updated >= ?4) AND (?5 = 0 OR id = ?5)"
                " ORDER BY id DESC LIMIT ?6",
                &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, rule, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, since);
    sqlite3_bind_int64(st, 5, id);
    sqlite3_bind_int64(st, 6, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_alert *grown = realloc(list, (n + 1) * sizeof(*list));
        if (!grown) {
            r = -ENOMEM;
            goto finish;
        }
        list = grown;
        alert_row(st, &list[n++]);
    }
    if (rc != SQLITE_DONE) {
        r = store_db_error(s, err, rc, "reading alerts");
        goto finish;
    }
    *ret = list;
    list = NULL;
    *ret_n = n;
finish:
    sqlite3_finalize(st);
    free(list);
    return r;
}

int store_alerts_query(struct store *s, const char *state, const char *stream, const char *rule,
                       double since, unsigned limit, struct store_alert **ret_alerts, size_t *ret_n,
                       struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = alerts_query_locked(s, state, stream, rule, since, limit, 0, ret_alerts, ret_n, err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_alert_get(struct store *s, int64_t id, struct store_alert *ret, struct errbuf *err)
{
    struct store_alert *list = NULL;
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    int r = alerts_query_locked(s, "", "", "", -1, 1, id, &list, &n, err);
    pthread_mutex_unlock(&s->lock);
    if (r >= 0 && n == 0)
        r = errbuf_set(err, -ENOENT, "alert %lld does not exist", (long long)id);
    if (r >= 0)
        *ret = list[0];
    free(list);
    return r;
}

static int alerts_prune_locked(struct store *s, double before, struct errbuf *err)
{
    sqlite3_stmt *st;
    int r =
        store_db_prepare(s, "DELETE FROM alerts WHERE state = 'cleared' AND updated < ?", &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_double(st, 1, before);
    r = store_db_step_done(s, st, "pruning alerts", err);
    return r < 0 ? r : sqlite3_changes(s->db);
}

int store_alerts_prune(struct store *s, double before, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s, alerts_prune_locked(s, before, err), err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int zone_put_locked(struct store *s, const struct store_zone *z, struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_prepare(s,
                             "INSERT OR REPLACE INTO zones (stream, name, kind, points, created)"
                             " VALUES (?, ?, ?, ?, ?)",
                             &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, z->stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, z->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, z->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, z->points, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 5, time_wall_s());
    return store_db_step_done(s, st, "saving a zone", err);
}

int store_zone_put(struct store *s, const struct store_zone *zone, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s, zone_put_locked(s, zone, err), err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int zone_delete_locked(struct store *s, const char *stream, const char *name,
                              struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_prepare(s, "DELETE FROM zones WHERE stream = ? AND name = ?", &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    return store_db_step_done(s, st, "deleting a zone", err);
}

int store_zone_delete(struct store *s, const char *stream, const char *name, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s, zone_delete_locked(s, stream, name, err), err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int zones_load_locked(struct store *s, struct store_zone **ret, size_t *ret_n,
                             struct errbuf *err)
{
    sqlite3_stmt *st;
    struct store_zone *list = NULL;
    size_t n = 0;
    int rc, r = store_db_prepare(s, "SELECT stream, name, kind, points FROM zones ORDER BY created",
                                 &st, err);
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_zone *grown = realloc(list, (n + 1) * sizeof(*list));
        if (!grown) {
            r = -ENOMEM;
            goto finish;
        }
        list = grown;
        struct store_zone *z = &list[n++];
        column_text(st, 0, z->stream, sizeof(z->stream));
        column_text(st, 1, z->name, sizeof(z->name));
        column_text(st, 2, z->kind, sizeof(z->kind));
        column_text(st, 3, z->points, sizeof(z->points));
    }
    if (rc != SQLITE_DONE) {
        r = store_db_error(s, err, rc, "loading zones");
        goto finish;
    }
    *ret = list;
    list = NULL;
    *ret_n = n;
finish:
    sqlite3_finalize(st);
    free(list);
    return r;
}

int store_zones_load(struct store *s, struct store_zone **ret_zones, size_t *ret_n,
                     struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = zones_load_locked(s, ret_zones, ret_n, err);
    pthread_mutex_unlock(&s->lock);
    return r;
}
