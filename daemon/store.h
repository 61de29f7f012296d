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
