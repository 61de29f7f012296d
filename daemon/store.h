/* store: what lasts across restarts, in SQLite (WAL) in the state directory:
 * the streams added through the API, each stream's memory state, and the
 * activity history. One connection, serialised by SQLite (FULLMUTEX); every
 * write is one transaction, so a crash loses at most the writes not yet
 * made and never corrupts what was there. */
#ifndef CRTD_STORE_H
#define CRTD_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base.h"

#define STORE_FILE "crtd.db"

struct store;

struct store_stream {
    char name[64];
    char url[1024];
    double fps;
    bool enabled;
    char site[64], room[64]; /* "": none */
    char options[2048];      /* the video options given, a JSON object (config_video_json) */
};

/* Opens (creating when needed) dir/crtd.db and closes the history intervals
 * a previous run left open. */
int store_open(const char *dir, struct store **ret_store, struct errbuf *err);
struct store *store_free(struct store *store);
/* Opens an existing dir/crtd.db to read only (a running crtd may be writing
 * it): nothing is created or migrated. -ENOENT when there is none, -EPROTO
 * for a schema older than `min_schema` or newer than this crtd's. */
int store_open_readonly(const char *dir, int min_schema, struct store **ret_store,
                        struct errbuf *err);

int store_stream_put(struct store *store, const struct store_stream *stream, struct errbuf *err);
/* Removes the stream, its memory, its history and its pause. */
int store_stream_delete(struct store *store, const char *name, struct errbuf *err);
/* All API-added streams, as a malloc'd array. */
int store_streams_load(struct store *store, struct store_stream **ret_streams, size_t *ret_n,
                       struct errbuf *err);

/* Saves a stream's memory (and, when history_id > 0, moves the end of its
 * open history interval to now), in one transaction. */
int store_checkpoint(struct store *store, const char *stream, const char *kind, uint64_t segments,
                     const void *data, size_t size, int64_t history_id, double now,
                     struct errbuf *err);
/* The saved memory of a stream, when it is of this kind; -ENOENT otherwise. */
int store_memory_get(struct store *store, const char *stream, const char *kind, void **ret_data,
                     size_t *ret_size, uint64_t *ret_segments, struct errbuf *err);
int store_memory_delete(struct store *store, const char *stream, struct errbuf *err);

/* Where a history interval was recorded: the stream's site and room then
 * ("" or NULL: none). */
struct store_place {
    const char *site, *room;
};

/* Closes the open interval history_id (when > 0) at `start` and opens a new
 * one; label NULL for the nobody state; person: the track whose activity it
 * is (0: none). */
int store_history_switch(struct store *store, const char *stream, int64_t history_id,
                         const char *state, const char *label, float score, uint32_t person,
                         struct store_place place, double start, int64_t *ret_id,
                         struct errbuf *err);
/* Closes the open interval history_id at `end` (a paused camera's). */
int store_history_close(struct store *store, int64_t history_id, double end, struct errbuf *err);
/* Intervals of a stream overlapping [since, until] (< 0: open-ended), the
 * newest `limit` of them, oldest first, as a JSON array. */
int store_history_query(struct store *store, const char *stream, double since, double until,
                        unsigned limit, json_t **ret_array, struct errbuf *err);
/* What store_history_search keeps: empty lists, 0 and "" (or NULL) match
 * anything; times < 0 are open-ended. */
struct store_history_filter {
    const char *const *streams;
    size_t n_streams;
    const char *const *labels;
    size_t n_labels;
    int64_t track;
    const char *site, *room;
    double since, until;
    int64_t before_id; /* 0: from the newest; else ids below it */
    unsigned limit;
};
/* Intervals of any stream matching filter, newest first by id (ids only
 * grow, so a page ends where the next begins), at most filter->limit. */
int store_history_search(struct store *store, const struct store_history_filter *filter,
                         json_t **ret_array, struct errbuf *err);
/* Deletes intervals that ended before `before`; returns how many. */
int store_history_prune(struct store *store, double before, struct errbuf *err);

/* Paused streams (privacy, docs/MQTT.md): a pause outlasts a restart. */
int store_pause_set(struct store *store, const char *stream, bool paused, struct errbuf *err);
/* Whether stream is paused; false when the store cannot say. */
bool store_paused(struct store *store, const char *stream);

/* ---- alerts and zones (store_safety.c, docs/SAFETY.md) ---- */

/* An alert as kept: times are seconds since the epoch, < 0 for none. */
struct store_alert {
    int64_t id;
    char rule[64];
    char kind[24]; /* the rule's kind: fall, on_floor, still, ... */
    char stream[64];
    uint32_t track; /* 0: none (a rule about a camera or a zone) */
    char zone[64];  /* "": none */
    char state[16]; /* pending, active, acknowledged, cleared */
    double started, confirmed, cleared, acknowledged_at, updated;
    char acknowledged_by[64];
    char message[256];
};

/* Inserts a (its id is set) or, when a->id > 0, updates it. */
int store_alert_put(struct store *store, struct store_alert *a, struct errbuf *err);
int store_alert_get(struct store *store, int64_t id, struct store_alert *ret_alert,
                    struct errbuf *err);
/* Alerts matching: state ("" any; "open": any but cleared), stream and rule
 * ("" any), updated at or after since (< 0 any); the newest limit, newest
 * first, as a malloc'd array. */
int store_alerts_query(struct store *store, const char *state, const char *stream, const char *rule,
                       double since, unsigned limit, struct store_alert **ret_alerts, size_t *ret_n,
                       struct errbuf *err);

/* Deletes the cleared alerts updated before `before`; returns how many. */
int store_alerts_prune(struct store *store, double before, struct errbuf *err);

/* A zone added through the API; points as zone_parse_points reads them. */
struct store_zone {
    char stream[64];
    char name[64];
    char kind[16];
    char points[1024];
};

int store_zone_put(struct store *store, const struct store_zone *zone, struct errbuf *err);
int store_zone_delete(struct store *store, const char *stream, const char *name,
                      struct errbuf *err);
int store_zones_load(struct store *store, struct store_zone **ret_zones, size_t *ret_n,
                     struct errbuf *err);

/* ---- labels (store_labels.c, docs/SERVICE.md "Labels") ---- */

/* A stretch of a camera's timeline (or of one person track of it) marked as
 * a class by a person: one of the model's, a new name, or "not this" (a
 * correction: crtd was wrong to say class_name there). Each keeps its own
 * copy of the archived keypoints it covers, so that it outlives the archive's
 * retention. Times are seconds since the epoch. */
#define STORE_LABEL_CLASS_MAX 64
struct store_label {
    int64_t id;
    char stream[64];
    uint32_t track; /* 0: the whole camera, every track in view */
    double start, end;
    char class_name[STORE_LABEL_CLASS_MAX];
    bool negative; /* "not this" */
    char note[256];
    double created, updated;
    /* the keypoints kept with it: pose_archive_encode's payload */
    uint32_t records;
    double t_first;
    char tracks[256]; /* the track ids they are of, "3,7" */
};

/* Inserts l (its id, created and updated set) or, when l->id > 0, updates
 * it; keypoints (pose_archive_encode's payload of l->records records)
 * replace the kept ones, or, NULL on an update, stay. A stretch that
 * overlaps another label of the same track (a camera label overlaps every
 * track's) is refused with -EEXIST, naming the label, in the same
 * transaction; -ENOENT for an update of a label that is not there. */
int store_label_put(struct store *store, struct store_label *l, const void *keypoints, size_t size,
                    struct errbuf *err);
int store_label_get(struct store *store, int64_t id, struct store_label *ret_label,
                    struct errbuf *err);
/* The kept keypoints of a label, as a new malloc'd payload. */
int store_label_keypoints(struct store *store, int64_t id, void **ret_data, size_t *ret_size,
                          struct errbuf *err);
int store_label_delete(struct store *store, int64_t id, struct errbuf *err);

struct store_label_query {
    char stream[64];     /* "": any */
    char class_name[64]; /* "": any */
    int64_t track;       /* < 0: any; 0: camera labels; > 0: that track's */
    double since, until; /* overlapping [since, until]; < 0: open */
    unsigned limit;      /* 0: every one */
};
/* Labels matching q, oldest stretch first, as a malloc'd array. */
int store_labels_query(struct store *store, const struct store_label_query *q,
                       struct store_label **ret_labels, size_t *ret_n, struct errbuf *err);

/* Small named values crtd keeps across restarts (store_meta.c), e.g. which
 * model generation serves. get: -ENOENT when never set. */
int store_meta_get(struct store *store, const char *key, char *dst, size_t size,
                   struct errbuf *err);
int store_meta_set(struct store *store, const char *key, const char *value, struct errbuf *err);

/* Whether writes succeed: the last write's outcome, and since when they
 * fail. A full or read-only disk shows here (and in /healthz, /metrics)
 * while crtd keeps running on what it has in memory. */
struct store_health {
    bool writable;        /* the last write succeeded (or none was tried) */
    char error[256];      /* why the last write failed, when !writable */
    double failing_since; /* wall clock of the first failure in a row */
    uint64_t failed_writes;
};
void store_health(struct store *store, struct store_health *ret_health);

#endif
