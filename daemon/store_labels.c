/* store_labels: the labels a family gives crtd's timeline, each with its own
 * copy of the archived keypoints it covers (store.h, docs/SERVICE.md
 * "Labels"). The overlap rule is checked inside the write's transaction, so
 * two clients saving at once cannot both get in. */
#include <string.h>

#include "api.h"
#include "store_internal.h"

#define LABEL_COLUMNS                                                                              \
    "id, stream, track, start, end, class, negative, note, created, updated, records, t_first,"    \
    " tracks"

static void column_text(sqlite3_stmt *st, int i, char *dst, size_t size)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    str_copy(dst, size, v ? v : "");
}

static void label_row(sqlite3_stmt *st, struct store_label *l)
{
    memset(l, 0, sizeof(*l));
    l->id = sqlite3_column_int64(st, 0);
    column_text(st, 1, l->stream, sizeof(l->stream));
    l->track = (uint32_t)sqlite3_column_int64(st, 2);
    l->start = sqlite3_column_double(st, 3);
    l->end = sqlite3_column_double(st, 4);
    column_text(st, 5, l->class_name, sizeof(l->class_name));
    l->negative = sqlite3_column_int(st, 6) != 0;
    column_text(st, 7, l->note, sizeof(l->note));
    l->created = sqlite3_column_double(st, 8);
    l->updated = sqlite3_column_double(st, 9);
    l->records = (uint32_t)sqlite3_column_int64(st, 10);
    l->t_first = sqlite3_column_double(st, 11);
    column_text(st, 12, l->tracks, sizeof(l->tracks));
}

/* The first other label of the stream on the same track (a camera label
 * shares every track) whose stretch overlaps l's; 0 when none. */
static int overlapping_locked(struct store *s, const struct store_label *l, int64_t *ret_id,
                              double *ret_start, double *ret_end, struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_prepare(s,
                             "SELECT id, start, end FROM labels WHERE stream = ?1 AND id != ?2"
                             " AND (track = ?3 OR track = 0 OR ?3 = 0)"
                             " AND start < ?5 AND end > ?4 ORDER BY start LIMIT 1",
                             &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, l->stream, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, l->id);
    sqlite3_bind_int64(st, 3, l->track);
    sqlite3_bind_double(st, 4, l->start);
    sqlite3_bind_double(st, 5, l->end);
    int rc = sqlite3_step(st);
    *ret_id = 0;
    if (rc == SQLITE_ROW) {
        *ret_id = sqlite3_column_int64(st, 0);
        *ret_start = sqlite3_column_double(st, 1);
        *ret_end = sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0
                                                 : store_db_error(s, err, rc, "checking overlap");
}

static int label_write_locked(struct store *s, struct store_label *l, const void *keypoints,
                              size_t size, struct errbuf *err)
{
    bool update = l->id > 0;
    sqlite3_stmt *st;
    const char *sql =
        !update     ? "INSERT INTO labels (stream, track, start, end, class, negative, note,"
                      " created, updated, records, t_first, tracks, keypoints)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        : keypoints ? "UPDATE labels SET stream = ?1, track = ?2, start = ?3, end = ?4, class = ?5,"
                      " negative = ?6, note = ?7, updated = ?9, records = ?10, t_first = ?11,"
                      " tracks = ?12, keypoints = ?13 WHERE id = ?14"
                    : "UPDATE labels SET stream = ?1, track = ?2, start = ?3, end = ?4, class = ?5,"
                      " negative = ?6, note = ?7, updated = ?9 WHERE id = ?14";
    int r = store_db_prepare(s, sql, &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, l->stream, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, l->track);
    sqlite3_bind_double(st, 3, l->start);
    sqlite3_bind_double(st, 4, l->end);
    sqlite3_bind_text(st, 5, l->class_name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, l->negative);
    sqlite3_bind_text(st, 7, l->note, -1, SQLITE_STATIC);
    if (!update)
        sqlite3_bind_double(st, 8, l->created);
    sqlite3_bind_double(st, 9, l->updated);
    if (keypoints) {
        sqlite3_bind_int64(st, 10, l->records);
        sqlite3_bind_double(st, 11, l->t_first);
        sqlite3_bind_text(st, 12, l->tracks, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 13, keypoints, (int)size, SQLITE_STATIC);
    }
    if (update)
        sqlite3_bind_int64(st, 14, l->id);
    if ((r = store_db_step_done(s, st, "saving a label", err)) < 0)
        return r;
    if (update && sqlite3_changes(s->db) == 0)
        return errbuf_set(err, -ENOENT, "label %lld does not exist", (long long)l->id);
    if (!update)
        l->id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

static int label_put_locked(struct store *s, struct store_label *l, const void *keypoints,
                            size_t size, struct errbuf *err)
{
    if (!l->id && !keypoints)
        return errbuf_set(err, -EINVAL, "a new label needs its keypoints");
    int r = store_db_exec(s, "BEGIN IMMEDIATE", err);
    if (r < 0)
        return r;
    int64_t other;
    double start, end;
    if (l->id > 0) { /* an update of a label that is gone says so, whatever it overlaps */
        sqlite3_stmt *st;
        if ((r = store_db_prepare(s, "SELECT 1 FROM labels WHERE id = ?", &st, err)) < 0)
            goto rollback;
        sqlite3_bind_int64(st, 1, l->id);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW) {
            r = rc == SQLITE_DONE
                    ? errbuf_set(err, -ENOENT, "label %lld does not exist", (long long)l->id)
                    : store_db_error(s, err, rc, "reading a label");
            goto rollback;
        }
    }
    if ((r = overlapping_locked(s, l, &other, &start, &end, err)) < 0)
        goto rollback;
    if (other) {
        char a[48], b[48];
        api_time_format(a, sizeof(a), start);
        api_time_format(b, sizeof(b), end);
        r = errbuf_set(err, -EEXIST,
                       "the stretch overlaps label %lld (%s to %s) of the same track (a label "
                       "without a track covers all of the camera's): change or delete that one "
                       "first",
                       (long long)other, a, b);
        goto rollback;
    }
    double now = time_wall_s();
    l->updated = now;
    if (!l->id)
        l->created = now;
    if ((r = label_write_locked(s, l, keypoints, size, err)) < 0)
        goto rollback;
    return store_db_commit(s, err);
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

int store_label_put(struct store *s, struct store_label *l, const void *keypoints, size_t size,
                    struct errbuf *err)
{
    pthread_mutex_lock(&s->lock);
    int r = label_put_locked(s, l, keypoints, size, err);
    /* A refusal is the caller's mistake, not the disk's. */
    if (r != -EEXIST && r != -ENOENT && r != -EINVAL)
        r = store_db_noted(s, r, err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_label_get(struct store *s, int64_t id, struct store_label *ret, struct errbuf *err)
{
    sqlite3_stmt *st;
    pthread_mutex_lock(&s->lock);
    int r = store_db_prepare(s, "SELECT " LABEL_COLUMNS " FROM labels WHERE id = ?", &st, err);
    if (r >= 0) {
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            label_row(st, ret);
        else if (rc == SQLITE_DONE)
            r = errbuf_set(err, -ENOENT, "label %lld does not exist", (long long)id);
        else
            r = store_db_error(s, err, rc, "reading a label");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_label_keypoints(struct store *s, int64_t id, void **ret_data, size_t *ret_size,
                          struct errbuf *err)
{
    sqlite3_stmt *st;
    pthread_mutex_lock(&s->lock);
    int r = store_db_prepare(s, "SELECT keypoints FROM labels WHERE id = ?", &st, err);
    if (r >= 0) {
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            size_t size = (size_t)sqlite3_column_bytes(st, 0);
            void *data = malloc(size ? size : 1);
            if (!data)
                r = -ENOMEM;
            else {
                if (size)
                    memcpy(data, sqlite3_column_blob(st, 0), size);
                *ret_data = data;
                *ret_size = size;
            }
        } else if (rc == SQLITE_DONE) {
            r = errbuf_set(err, -ENOENT, "label %lld does not exist", (long long)id);
        } else {
            r = store_db_error(s, err, rc, "reading a label's keypoints");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_label_delete(struct store *s, int64_t id, struct errbuf *err)
{
    sqlite3_stmt *st;
    pthread_mutex_lock(&s->lock);
    int r = store_db_prepare(s, "DELETE FROM labels WHERE id = ?", &st, err);
    if (r >= 0) {
        sqlite3_bind_int64(st, 1, id);
        r = store_db_noted(s, store_db_step_done(s, st, "deleting a label", err), err);
        if (r >= 0 && sqlite3_changes(s->db) == 0)
            r = errbuf_set(err, -ENOENT, "label %lld does not exist", (long long)id);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_labels_query(struct store *s, const struct store_label_query *q,
                       struct store_label **ret_labels, size_t *ret_n, struct errbuf *err)
{
    sqlite3_stmt *st;
    struct store_label *list = NULL;
    size_t n = 0;
    int rc, r;
    pthread_mutex_lock(&s->lock);
    r = store_db_prepare(s,
                         "SELECT " LABEL_COLUMNS " FROM labels WHERE (?1 = '' OR stream = ?1)"
                         " AND (?2 = '' OR class = ?2) AND (?3 < 0 OR track = ?3)"
                         " AND (?4 < 0 OR end >= ?4) AND (?5 < 0 OR start <= ?5)"
                         " ORDER BY start, id LIMIT ?6",
                         &st, err);
    if (r < 0)
        goto out;
    sqlite3_bind_text(st, 1, q->stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, q->class_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, q->track);
    sqlite3_bind_double(st, 4, q->since);
    sqlite3_bind_double(st, 5, q->until);
    sqlite3_bind_int64(st, 6, q->limit ? (sqlite3_int64)q->limit : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_label *grown = realloc(list, (n + 1) * sizeof(*list));
        if (!grown) {
            r = -ENOMEM;
            break;
        }
        list = grown;
        label_row(st, &list[n++]);
    }
    if (r >= 0 && rc != SQLITE_DONE)
        r = store_db_error(s, err, rc, "listing labels");
    sqlite3_finalize(st);
out:
    pthread_mutex_unlock(&s->lock);
    if (r < 0) {
        free(list);
        return r;
    }
    *ret_labels = list;
    *ret_n = n;
    return 0;
}
