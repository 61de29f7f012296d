/* store_internal: what the state store's files share — the connection and
 * its lock, and the helpers that turn SQLite's results into errnos and keep
 * store_health current (store.c: streams, memory, history; store_safety.c:
 * alerts and zones). */
#ifndef CRTD_STORE_INTERNAL_H
#define CRTD_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store.h"

struct store {
    sqlite3 *db;
    /* One connection for every thread: SQLite serialises single calls, this
     * lock keeps each transaction whole. */
    pthread_mutex_t lock;
    struct store_health health; /* under lock */
};

/* The tables of store_safety.c, created with the others. */
#define STORE_SAFETY_SCHEMA                                                                        \
    "CREATE TABLE IF NOT EXISTS alerts ("                                                          \
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, kind TEXT NOT NULL,"              \
    "  stream TEXT NOT NULL, track INTEGER, zone TEXT, state TEXT NOT NULL,"                       \
    "  started REAL NOT NULL, confirmed REAL, cleared REAL, acknowledged_by TEXT,"                 \
    "  acknowledged_at REAL, updated REAL NOT NULL, message TEXT NOT NULL DEFAULT '');"            \
    "CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state);"                                   \
    "CREATE INDEX IF NOT EXISTS alerts_updated ON alerts (updated);"                               \
    "CREATE TABLE IF NOT EXISTS zones ("                                                           \
    "  stream TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, points TEXT NOT NULL,"        \
    "  created REAL NOT NULL, PRIMARY KEY (stream, name));"

/* The labels of store_labels.c (schema 4). */
#define STORE_LABELS_SCHEMA                                                                        \
    "CREATE TABLE IF NOT EXISTS labels ("                                                          \
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL,"                                \
    "  track INTEGER NOT NULL DEFAULT 0, start REAL NOT NULL, end REAL NOT NULL,"                  \
    "  class TEXT NOT NULL, negative INTEGER NOT NULL DEFAULT 0, note TEXT NOT NULL DEFAULT '',"   \
    "  created REAL NOT NULL, updated REAL NOT NULL, records INTEGER NOT NULL,"                    \
    "  t_first REAL NOT NULL, tracks TEXT NOT NULL, keypoints BLOB NOT NULL,"                      \
    "  CHECK (end > start));"                                                                      \
    "CREATE INDEX IF NOT EXISTS labels_stream_start ON labels (stream, start);"

/* Called under the lock after every write: keeps store_health current. */
int store_db_noted(struct store *s, int r, const struct errbuf *err);
int store_db_error(struct store *s, struct errbuf *err, int rc, const char *what);
int store_db_exec(struct store *s, const char *sql, struct errbuf *err);
/* A COMMIT that fails is rolled back, so that later transactions can run. */
int store_db_commit(struct store *s, struct errbuf *err);
int store_db_prepare(struct store *s, const char *sql, sqlite3_stmt **ret, struct errbuf *err);
/* Steps a statement that returns no row and finalises it. */
int store_db_step_done(struct store *s, sqlite3_stmt *st, const char *what, struct errbuf *err);

#endif
