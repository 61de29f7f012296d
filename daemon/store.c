/* store: SQLite state — streams, memory blobs, history. */
#include "store.h"

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "store_internal.h"

/* 2: history.person; 3: alerts, zones; 4: site, room, paused, streams' video
 * options, labels */
#define SCHEMA_VERSION 4

/* Called under the lock after every write: keeps store_health current. */
int store_db_noted(struct store *s, int r, const struct errbuf *err)
{
    if (r >= 0) {
        if (!s->health.writable)
            log_notice("state store: writes succeed again (%llu failed)",
                       (unsigned long long)s->health.failed_writes);
        s->health.writable = true;
        s->health.error[0] = '\0';
        return r;
    }
    str_copy(s->health.error, sizeof(s->health.error), errbuf_text(err, r));
    if (s->health.writable) {
        s->health.failing_since = time_wall_s();
        log_error("state store: writes fail (%s); crtd goes on from memory and retries",
                  s->health.error);
    }
    s->health.writable = false;
    s->health.failed_writes++;
    return r;
}

void store_health(struct store *s, struct store_health *ret)
{
    pthread_mutex_lock(&s->lock);
    *ret = s->health;
    pthread_mutex_unlock(&s->lock);
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS streams ("
    "  name TEXT PRIMARY KEY, url TEXT NOT NULL, fps REAL NOT NULL DEFAULT 0,"
    "  enabled INTEGER NOT NULL DEFAULT 1, created REAL NOT NULL,"
    "  site TEXT NOT NULL DEFAULT '', room TEXT NOT NULL DEFAULT '',"
    "  options TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE IF NOT EXISTS memory ("
    "  stream TEXT PRIMARY KEY, kind TEXT NOT NULL, segments INTEGER NOT NULL,"
    "  saved REAL NOT NULL, state BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS history ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, state TEXT NOT NULL,"
    "  label TEXT, score REAL, start REAL NOT NULL, end REAL NOT NULL,"
    "  open INTEGER NOT NULL DEFAULT 1, person INTEGER, site TEXT, room TEXT,"
    "  CHECK (end >= start));"
    "CREATE INDEX IF NOT EXISTS history_stream_start ON history (stream, start);"
    "CREATE INDEX IF NOT EXISTS history_end ON history (end);"
    "CREATE TABLE IF NOT EXISTS paused (stream TEXT PRIMARY KEY, since REAL NOT "
    "NULL);" STORE_SAFETY_SCHEMA STORE_LABELS_SCHEMA;

int store_db_error(struct store *s, struct errbuf *err, int rc, const char *what)
{
    int code = rc == SQLITE_FULL                             ? -ENOSPC
               : rc == SQLITE_BUSY || rc == SQLITE_LOCKED    ? -EBUSY
               : rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? -EBADMSG
               : rc == SQLITE_CANTOPEN || rc == SQLITE_PERM  ? -EACCES
                                                             : -EIO;
    return errbuf_set(err, code, "state store: %s: %s", what,
                      s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

int store_db_exec(struct store *s, const char *sql, struct errbuf *err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : store_db_error(s, err, rc, sql);
}

/* A COMMIT that fails (on a full disk) leaves its transaction open: roll it
 * back, or every later BEGIN fails and nothing is written again even once
 * there is room. */
int store_db_commit(struct store *s, struct errbuf *err)
{
    int r = store_db_exec(s, "COMMIT", err);
    if (r < 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

static bool has_column(struct store *s, const char *table, const char *column)
{
    char sql[128];
    sqlite3_stmt *st;
    bool found = false;
    snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return false;
    while (!found && sqlite3_step(st) == SQLITE_ROW)
        found = strcmp((const char *)sqlite3_column_text(st, 1), column) == 0;
    sqlite3_finalize(st);
    return found;
}

/* The columns later schemas added to older tables: a database of an older
 * crtd gains those it lacks (NULL or the default in its old rows). Tables
 * that are new (alerts, zones, paused) come from the schema's CREATE TABLE
 * IF NOT EXISTS, before this runs. */
static const struct {
    const char *table, *column, *type;
    int version; /* the schema that brought it */
} added_columns[] = {
    {"history", "person", "INTEGER", 2},
    {"streams", "site", "TEXT NOT NULL DEFAULT ''", 4},
    {"streams", "room", "TEXT NOT NULL DEFAULT ''", 4},
    {"history", "site", "TEXT", 4},
    {"history", "room", "TEXT", 4},
    {"streams", "options", "TEXT NOT NULL DEFAULT '{}'", 4},
};

/* Brings a database of an older crtd to this schema, in one transaction. */
static int migrate(struct store *s, int version, const char *path, struct errbuf *err)
{
    if (version >= SCHEMA_VERSION)
        return 0;
    int r = store_db_exec(s, "BEGIN IMMEDIATE", err);
    unsigned added = 0;
    for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(added_columns); i++) {
        if (has_column(s, added_columns[i].table, added_columns[i].column))
            continue;
        char sql[256];
        snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", added_columns[i].table,
                 added_columns[i].column, added_columns[i].type);
        r = store_db_exec(s, sql, err);
        added++;
    }
    if (r >= 0)
        r = store_db_commit(s, err);
    else
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (r >= 0 && version > 0)
        log_info("state store '%s': schema %d -> %d (%u columns added: people, alerts, zones, "
                 "site and room, pauses, video options)",
                 path, version, SCHEMA_VERSION, added);
    return r;
}

int store_open(const char *dir, struct store **ret_store, struct errbuf *err)
{
    char path[PATH_MAX];
    struct store *s;
    int rc, r;

    if (snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE) >= (int)sizeof(path))
        return errbuf_set(err, -ENAMETOOLONG, "state directory '%s': path too long", dir);
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->health.writable = true;
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        r = errbuf_set(err, rc == SQLITE_CANTOPEN ? -EACCES : -EIO, "state store '%s': %s", path,
                       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if ((r = store_db_exec(s, "PRAGMA journal_mode=WAL", err)) < 0 ||
        (r = store_db_exec(s, "PRAGMA synchronous=NORMAL", err)) < 0 ||
        (r = store_db_exec(s, schema, err)) < 0)
        goto fail;

    /* Refuse a database from a newer crtd rather than misread it. */
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key='schema'", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        r = store_db_error(s, err, rc, "reading the schema version");
        goto fail;
    }
    int version = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = atoi((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (version > SCHEMA_VERSION) {
        r = errbuf_set(err, -EPROTO, "state store '%s': schema %d is newer than this crtd's (%d)",
                       path, version, SCHEMA_VERSION);
        goto fail;
    }
    if ((r = migrate(s, version, path, err)) < 0)
        goto fail;
    char sql[160];
    snprintf(sql, sizeof(sql),
             "INSERT OR REPLACE INTO meta VALUES ('schema', '%d');"
             "UPDATE history SET open = 0 WHERE open = 1;",
             SCHEMA_VERSION);
    if ((r = store_db_exec(s, sql, err)) < 0)
        goto fail;
    *ret_store = s;
    return 0;
fail:
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return r;
}

int store_open_readonly(const char *dir, int min_schema, struct store **ret_store,
                        struct errbuf *err)
{
    char path[PATH_MAX];
    struct stat sb;
    int rc, r;
    if (snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE) >= (int)sizeof(path))
        return errbuf_set(err, -ENAMETOOLONG, "state directory '%s': path too long", dir);
    if (stat(path, &sb) < 0)
        return errbuf_set(err, -errno, "state store '%s': %s", path, strerror(errno));
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->health.writable = true;
    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        r = errbuf_set(err, -EACCES, "state store '%s': %s", path,
                       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_stmt *st = NULL;
    int version = 0;
    rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key='schema'", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        version = atoi((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        r = errbuf_set(err, -EBADMSG, "state store '%s': %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    if (version < min_schema || version > SCHEMA_VERSION) {
        r = errbuf_set(err, -EPROTO,
                       "state store '%s': schema %d, this needs %d to %d (run this crtd on it "
                       "once)",
                       path, version, min_schema, SCHEMA_VERSION);
        goto fail;
    }
    *ret_store = s;
    return 0;
fail:
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return r;
}

struct store *store_free(struct store *s)
{
    if (!s)
        return NULL;
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

/* Prepares sql; on failure fills err. */
int store_db_prepare(struct store *s, const char *sql, sqlite3_stmt **ret, struct errbuf *err)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);
    return rc == SQLITE_OK ? 0 : store_db_error(s, err, rc, "prepare");
}

int store_db_step_done(struct store *s, sqlite3_stmt *st, const char *what, struct errbuf *err)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_db_error(s, err, rc, what);
}

static int store_stream_put_locked(struct store *s, const struct store_stream *stream,
                                   struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_prepare(s,
                             "INSERT OR REPLACE INTO streams (name, url, fps, enabled, created, "
                             "site, room, options) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, stream->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, stream->url, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, stream->fps);
    sqlite3_bind_int(st, 4, stream->enabled);
    sqlite3_bind_double(st, 5, time_wall_s());
    sqlite3_bind_text(st, 6, stream->site, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, stream->room, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, stream->options[0] ? stream->options : "{}", -1, SQLITE_STATIC);
    return store_db_step_done(s, st, "saving a stream", err);
}

static int store_stream_delete_locked(struct store *s, const char *name, struct errbuf *err)
{
    static const char *const sql[] = {
        "DELETE FROM streams WHERE name = ?",   "DELETE FROM memory WHERE stream = ?",
        "DELETE FROM history WHERE stream = ?", "DELETE FROM zones WHERE stream = ?",
        "DELETE FROM paused WHERE stream = ?",
    };
    int r = store_db_exec(s, "BEGIN IMMEDIATE", err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ARRAY_SIZE(sql); i++) {
        sqlite3_stmt *st;
        if ((r = store_db_prepare(s, sql[i], &st, err)) < 0)
            goto rollback;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if ((r = store_db_step_done(s, st, "deleting a stream", err)) < 0)
            goto rollback;
    }
    return store_db_commit(s, err);
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

static int store_streams_load_locked(struct store *s, struct store_stream **ret_streams,
                                     size_t *ret_n, struct errbuf *err)
{
    sqlite3_stmt *st;
    struct store_stream *list = NULL;
    size_t n = 0;
    int rc, r = store_db_prepare(s,
                                 "SELECT name, url, fps, enabled, site, room, options FROM streams "
                                 "ORDER BY created",
                                 &st, err);
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_stream *grown = realloc(list, (n + 1) * sizeof(*list));
        if (!grown) {
            r = -ENOMEM;
            goto finish;
        }
        list = grown;
        struct store_stream *e = &list[n++];
        memset(e, 0, sizeof(*e));
        str_copy(e->name, sizeof(e->name), (const char *)sqlite3_column_text(st, 0));
        str_copy(e->url, sizeof(e->url), (const char *)sqlite3_column_text(st, 1));
        e->fps = sqlite3_column_double(st, 2);
        e->enabled = sqlite3_column_int(st, 3) != 0;
        const char *site = (const char *)sqlite3_column_text(st, 4),
                   *room = (const char *)sqlite3_column_text(st, 5),
                   *options = (const char *)sqlite3_column_text(st, 6);
        str_copy(e->site, sizeof(e->site), site ? site : "");
        str_copy(e->room, sizeof(e->room), room ? room : "");
        str_copy(e->options, sizeof(e->options), options ? options : "{}");
    }
    if (rc != SQLITE_DONE) {
        r = store_db_error(s, err, rc, "loading streams");
        goto finish;
    }
    *ret_streams = list;
    list = NULL;
    *ret_n = n;
finish:
    sqlite3_finalize(st);
    free(list);
    return r;
}

static int store_checkpoint_locked(struct store *s, const char *stream, const char *kind,
                                   uint64_t segments, const void *data, size_t size,
                                   int64_t history_id, double now, struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_exec(s, "BEGIN IMMEDIATE", err);
    if (r < 0)
        return r;
    if ((r = store_db_prepare(
             s,
             "INSERT OR REPLACE INTO memory (stream, kind, segments, saved, state) "
             "VALUES (?, ?, ?, ?, ?)",
             &st, err)) < 0)
        goto rollback;
    sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)segments);
    sqlite3_bind_double(st, 4, now);
    sqlite3_bind_blob(st, 5, data, (int)size, SQLITE_STATIC);
    if ((r = store_db_step_done(s, st, "saving memory", err)) < 0)
        goto rollback;
    if (history_id > 0) {
        if ((r = store_db_prepare(
                 s, "UPDATE history SET end = max(start, ?) WHERE id = ? AND open = 1", &st, err)) <
            0)
            goto rollback;
        sqlite3_bind_double(st, 1, now);
        sqlite3_bind_int64(st, 2, history_id);
        if ((r = store_db_step_done(s, st, "updating history", err)) < 0)
            goto rollback;
    }
    return store_db_commit(s, err);
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

static int store_memory_get_locked(struct store *s, const char *stream, const char *kind,
                                   void **ret_data, size_t *ret_size, uint64_t *ret_segments,
                                   struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_prepare(s, "SELECT state, segments FROM memory WHERE stream = ? AND kind = ?",
                             &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        size_t size = (size_t)sqlite3_column_bytes(st, 0);
        void *data = malloc(size ? size : 1);
        if (!data) {
            r = -ENOMEM;
        } else {
            if (size)
                memcpy(data, sqlite3_column_blob(st, 0), size);
            *ret_data = data;
            *ret_size = size;
            *ret_segments = (uint64_t)sqlite3_column_int64(st, 1);
        }
    } else if (rc == SQLITE_DONE) {
        r = -ENOENT;
    } else {
        r = store_db_error(s, err, rc, "reading memory");
    }
    sqlite3_finalize(st);
    return r;
}

static int store_memory_delete_locked(struct store *s, const char *stream, struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_prepare(s, "DELETE FROM memory WHERE stream = ?", &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
    return store_db_step_done(s, st, "deleting memory", err);
}

static int store_history_switch_locked(struct store *s, const char *stream, int64_t history_id,
                                       const char *state, const char *label, float score,
                                       uint32_t person, struct store_place place, double start,
                                       int64_t *ret_id, struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_exec(s, "BEGIN IMMEDIATE", err);
    if (r < 0)
        return r;
    if (history_id > 0) {
        if ((r = store_db_prepare(
                 s, "UPDATE history SET end = max(start, ?), open = 0 WHERE id = ?", &st, err)) < 0)
            goto rollback;
        sqlite3_bind_double(st, 1, start);
        sqlite3_bind_int64(st, 2, history_id);
        if ((r = store_db_step_done(s, st, "closing an interval", err)) < 0)
            goto rollback;
    }
    if ((r = store_db_prepare(
             s,
             "INSERT INTO history (stream, state, label, score, start, end, open, person, site, "
             "room) VALUES (?, ?, ?, ?, ?, ?, 1, ?, NULLIF(?, ''), NULLIF(?, ''))",
             &st, err)) < 0)
        goto rollback;
    sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    if (label)
        sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_double(st, 4, score);
    sqlite3_bind_double(st, 5, start);
    sqlite3_bind_double(st, 6, start);
    if (person)
        sqlite3_bind_int64(st, 7, person);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_text(st, 8, place.site ? place.site : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, place.room ? place.room : "", -1, SQLITE_STATIC);
    if ((r = store_db_step_done(s, st, "opening an interval", err)) < 0)
        goto rollback;
    int64_t id = sqlite3_last_insert_rowid(s->db);
    if ((r = store_db_commit(s, err)) < 0)
        return r;
    *ret_id = id;
    return 0;
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

/* The columns every history answer reads, in this order. */
#define HISTORY_COLUMNS "id, stream, state, label, score, start, end, open, person, site, room"

/* One row of HISTORY_COLUMNS as the API's Interval. */
static json_t *history_row_json(sqlite3_stmt *st)
{
    const char *label = (const char *)sqlite3_column_text(st, 3);
    bool open = sqlite3_column_int(st, 7) != 0;
    bool person = sqlite3_column_type(st, 8) != SQLITE_NULL;
    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:b, s:o, s:s?, s:s?}", "id",
                     (json_int_t)sqlite3_column_int64(st, 0), "stream",
                     (const char *)sqlite3_column_text(st, 1), "state",
                     (const char *)sqlite3_column_text(st, 2), "label",
                     label ? json_string(label) : json_null(), "score",
                     label ? json_real(sqlite3_column_double(st, 4)) : json_null(), "start",
                     api_time_json(sqlite3_column_double(st, 5)), "end",
                     open ? json_null() : api_time_json(sqlite3_column_double(st, 6)), "open", open,
                     "person", person ? json_integer(sqlite3_column_int64(st, 8)) : json_null(),
                     "site", (const char *)sqlite3_column_text(st, 9), "room",
                     (const char *)sqlite3_column_text(st, 10));
}

/* Steps st to its end, each row into array (at the front when reverse). */
static int history_rows(struct store *s, sqlite3_stmt *st, bool reverse, json_t *array,
                        struct errbuf *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *item = history_row_json(st);
        if (!item || (reverse ? json_array_insert_new(array, 0, item)
                              : json_array_append_new(array, item)) < 0)
            return -ENOMEM;
    }
    return rc == SQLITE_DONE ? 0 : store_db_error(s, err, rc, "reading history");
}

static int store_history_query_locked(struct store *s, const char *stream, double since,
                                      double until, unsigned limit, json_t **ret_array,
                                      struct errbuf *err)
{
    sqlite3_stmt *st;
    json_t *array = json_array();
    int r;
    if (!array)
        return -ENOMEM;
    r = store_db_prepare(s,
                         "SELECT " HISTORY_COLUMNS " FROM history "
                         "WHERE stream = ?1 AND (?2 < 0 OR end >= ?2) AND (?3 < 0 OR start <= ?3) "
                         "ORDER BY start DESC, id DESC LIMIT ?4",
                         &st, err);
    if (r < 0) {
        json_decref(array);
        return r;
    }
    sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, since);
    sqlite3_bind_double(st, 3, until);
    sqlite3_bind_int(st, 4, (int)limit);
    r = history_rows(s, st, true, array, err);
    sqlite3_finalize(st);
    if (r < 0) {
        json_decref(array);
        return r;
    }
    *ret_array = array;
    return 0;
}

/* Appends " AND column IN (?,?,...)" for n names. */
static void sql_in(char *sql, size_t size, const char *column, size_t n)
{
    size_t len = strlen(sql);
    snprintf(sql + len, size - len, " AND %s IN (", column);
    for (size_t i = 0; i < n; i++) {
        len = strlen(sql);
        snprintf(sql + len, size - len, "%s?", i ? "," : "");
    }
    len = strlen(sql);
    snprintf(sql + len, size - len, ")");
}

static int store_history_search_locked(struct store *s, const struct store_history_filter *f,
                                       json_t **ret_array, struct errbuf *err)
{
    /* The numbered parameters come first in the text: each bare ? of the IN
     * lists then takes the number after the largest one before it. An open
     * interval goes on now, so it reaches any `since`. */
    char sql[1024] = "SELECT " HISTORY_COLUMNS " FROM history WHERE (?1 = 0 OR person = ?1)"
                     " AND (?2 = '' OR site = ?2) AND (?3 = '' OR room = ?3)"
                     " AND (?4 < 0 OR open = 1 OR end >= ?4) AND (?5 < 0 OR start <= ?5)"
                     " AND (?6 = 0 OR id < ?6) AND ?7 > 0";
    sqlite3_stmt *st;
    int r, k = 1;

    if (f->n_streams)
        sql_in(sql, sizeof(sql), "stream", f->n_streams);
    if (f->n_labels)
        sql_in(sql, sizeof(sql), "label", f->n_labels);
    strncat(sql, " ORDER BY id DESC LIMIT ?7", sizeof(sql) - strlen(sql) - 1);
    if ((r = store_db_prepare(s, sql, &st, err)) < 0)
        return r;
    sqlite3_bind_int64(st, k++, f->track);
    sqlite3_bind_text(st, k++, f->site ? f->site : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, k++, f->room ? f->room : "", -1, SQLITE_STATIC);
    sqlite3_bind_double(st, k++, f->since);
    sqlite3_bind_double(st, k++, f->until);
    sqlite3_bind_int64(st, k++, f->before_id);
    sqlite3_bind_int(st, k++, (int)f->limit);
    for (size_t i = 0; i < f->n_streams; i++)
        sqlite3_bind_text(st, k++, f->streams[i], -1, SQLITE_STATIC);
    for (size_t i = 0; i < f->n_labels; i++)
        sqlite3_bind_text(st, k++, f->labels[i], -1, SQLITE_STATIC);
    json_t *array = json_array();
    r = array ? history_rows(s, st, false, array, err) : -ENOMEM;
    sqlite3_finalize(st);
    if (r < 0) {
        json_decref(array);
        return r;
    }
    *ret_array = array;
    return 0;
}

static int store_history_close_locked(struct store *s, int64_t history_id, double end,
                                      struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_prepare(
        s, "UPDATE history SET end = max(start, ?), open = 0 WHERE id = ? AND open = 1", &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_double(st, 1, end);
    sqlite3_bind_int64(st, 2, history_id);
    return store_db_step_done(s, st, "closing an interval", err);
}

static int store_pause_set_locked(struct store *s, const char *stream, bool paused,
                                  struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_prepare(s,
                             paused ? "INSERT OR IGNORE INTO paused (stream, since) VALUES (?, ?)"
                                    : "DELETE FROM paused WHERE stream = ?",
                             &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
    if (paused)
        sqlite3_bind_double(st, 2, time_wall_s());
    return store_db_step_done(s, st, "saving a pause", err);
}

static int store_history_prune_locked(struct store *s, double before, struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_prepare(s, "DELETE FROM history WHERE open = 0 AND end < ?", &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_double(st, 1, before);
    r = store_db_step_done(s, st, "pruning history", err);
    return r < 0 ? r : sqlite3_changes(s->db);
}

int store_stream_put(struct store *s, const struct store_stream *stream, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s, store_stream_put_locked(s, stream, err), err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_stream_delete(struct store *s, const char *name, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s, store_stream_delete_locked(s, name, err), err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_streams_load(struct store *s, struct store_stream **ret_streams, size_t *ret_n,
                       struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_streams_load_locked(s, ret_streams, ret_n, err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_checkpoint(struct store *s, const char *stream, const char *kind, uint64_t segments,
                     const void *data, size_t size, int64_t history_id, double now,
                     struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(
        s, store_checkpoint_locked(s, stream, kind, segments, data, size, history_id, now, err),
        err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_memory_get(struct store *s, const char *stream, const char *kind, void **ret_data,
                     size_t *ret_size, uint64_t *ret_segments, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_memory_get_locked(s, stream, kind, ret_data, ret_size, ret_segments, err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_memory_delete(struct store *s, const char *stream, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s, store_memory_delete_locked(s, stream, err), err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_history_switch(struct store *s, const char *stream, int64_t history_id, const char *state,
                         const char *label, float score, uint32_t person, struct store_place place,
                         double start, int64_t *ret_id, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s,
                           store_history_switch_locked(s, stream, history_id, state, label, score,
                                                       person, place, start, ret_id, err),
                           err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_history_query(struct store *s, const char *stream, double since, double until,
                        unsigned limit, json_t **ret_array, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_history_query_locked(s, stream, since, until, limit, ret_array, err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_history_search(struct store *s, const struct store_history_filter *filter,
                         json_t **ret_array, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_history_search_locked(s, filter, ret_array, err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_history_prune(struct store *s, double before, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s, store_history_prune_locked(s, before, err), err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_history_close(struct store *s, int64_t history_id, double end, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s, store_history_close_locked(s, history_id, end, err), err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_pause_set(struct store *s, const char *stream, bool paused, struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s, store_pause_set_locked(s, stream, paused, err), err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

bool store_paused(struct store *s, const char *stream)
{
    sqlite3_stmt *st;
    bool paused = false;
    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM paused WHERE stream = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
        paused = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return paused;
}
