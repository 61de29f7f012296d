/* store_meta: small named values of the state store (its meta table, beside
 * the schema version), for what crtd must remember across restarts that is
 * not a stream's: which model generation serves (daemon_models.c). */
#include <string.h>

#include "store_internal.h"

int store_meta_get(struct store *s, const char *key, char *dst, size_t size, struct errbuf *err)
{
    sqlite3_stmt *st;
    if (strcmp(key, "schema") == 0)
        return errbuf_set(err, -EINVAL, "the schema version is not a value to read here");
    pthread_mutex_lock(&s->lock);
    int r = store_db_prepare(s, "SELECT value FROM meta WHERE key = ?", &st, err);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            r = str_copy(dst, size, (const char *)sqlite3_column_text(st, 0)) < 0
                    ? errbuf_set(err, -ENAMETOOLONG, "state store: '%s' is too long", key)
                    : 0;
        else if (rc == SQLITE_DONE)
            r = -ENOENT;
        else
            r = store_db_error(s, err, rc, "reading a value");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int store_meta_set_locked(struct store *s, const char *key, const char *value,
                                 struct errbuf *err)
{
    sqlite3_stmt *st;
    int r = store_db_prepare(s, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", &st, err);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return store_db_step_done(s, st, "saving a value", err);
}

int store_meta_set(struct store *s, const char *key, const char *value, struct errbuf *err)
{
    if (strcmp(key, "schema") == 0)
        return errbuf_set(err, -EINVAL, "the schema version is not a value to set here");
    pthread_mutex_lock(&s->lock);
    int r = store_db_noted(s, store_meta_set_locked(s, key, value, err), err);
    pthread_mutex_unlock(&s->lock);
    return r;
}
