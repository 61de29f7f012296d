/* supervisor: one worker thread per stream (source -> pose -> model, behind
 * pipeline.h), restarts of a failed stream with backoff without touching the
 * others, streams added and removed at run time, and the lock-protected
 * snapshots that the HTTP API reads. */
#ifndef CRTD_SUPERVISOR_H
#define CRTD_SUPERVISOR_H

#include <jansson.h>
#include <limits.h>

#include "api.h"
#include "config.h"
#include "pipeline.h"
#include "store.h"

struct supervisor_settings {
    double hysteresis_s;
    unsigned checkpoint_segments;
    unsigned top_k;
    double restart_min_s, restart_max_s;
    unsigned max_streams;
    double camera_timeout_s; /* 0: the video layer's default */
    unsigned max_people;     /* person tracks per stream, unless the stream says (6) */
    unsigned multipose_side; /* a multi-person model's input side, unless the stream says */
    double still_pose_fps;   /* pose rate on a still person (0: no gate), unless the stream says */
    /* The pose archives: one folder per stream under archive_dir ("": none),
     * unless the stream says otherwise (docs/SERVICE.md, "The pose archive") */
    char archive_dir[PATH_MAX];
    bool archive;
    double archive_retention_days;
    unsigned archive_max_mb;
};

struct supervisor;
struct zones;
struct rules;

/* store, events and model are borrowed and must outlive the supervisor. */
int supervisor_new(const struct supervisor_settings *settings, struct store *store,
                   struct api_events *events, const struct pipeline_model *model,
                   struct supervisor **ret_supervisor);
/* The zones and rules every stream's segments go through (borrowed; set
 * before the first stream is added). */
void supervisor_set_safety(struct supervisor *sup, struct zones *zones, struct rules *rules);

/* Stops every stream (each checkpoints its memory) and joins the threads. */
struct supervisor *supervisor_free(struct supervisor *sup);

void supervisor_set_settings(struct supervisor *sup, const struct supervisor_settings *settings);

/* Runs every stream on another model (borrowed like the first): each stops,
 * checkpointing its memory, and starts again on model with its activity
 * unknown. The caller frees the old model once this returns. */
void supervisor_set_model(struct supervisor *sup, const struct pipeline_model *model);

/* Starts a stream. -EEXIST for a name in use, -ENOSPC past max_streams. */
int supervisor_add(struct supervisor *sup, const struct config_stream *spec, struct errbuf *err);
/* Stops and removes a stream; forget also deletes its saved memory. */
int supervisor_remove(struct supervisor *sup, const char *name, bool forget, struct errbuf *err);
int supervisor_origin(struct supervisor *sup, const char *name, enum config_origin *ret_origin);
/* Pauses a stream for privacy (its source closed, no pose, no activity, no
 * rule watching it; its open alerts clear) or resumes it (it starts again,
 * its activity unknown). The pause is kept in the store across restarts.
 * -ENOENT for no such stream. */
int supervisor_pause(struct supervisor *sup, const char *name, bool paused, struct errbuf *err);

/* Brings the file and command-line streams in line with cfg: new ones start,
 * missing ones stop, changed ones restart with a fresh memory; API-added
 * streams and unchanged ones are left alone. */
void supervisor_apply(struct supervisor *sup, const struct config *cfg);

int supervisor_streams_json(struct supervisor *sup, json_t **ret_json);
int supervisor_stream_json(struct supervisor *sup, const char *name, json_t **ret_json);
int supervisor_activity_json(struct supervisor *sup, const char *name, json_t **ret_json);
/* The keypoints of the last frame of the last segment: {"stream", "time",
 * "keypoints": [[x, y, score] x 17]} (x, y in [0, 1]; empty before the first). */
int supervisor_pose_json(struct supervisor *sup, const char *name, json_t **ret_json);
/* The person tracks now listed: {"stream", "people": n in view, "dropped",
 * "tracks": [Person...]} (docs/SERVICE.md). */
int supervisor_people_json(struct supervisor *sup, const char *name, json_t **ret_json);
bool supervisor_has(struct supervisor *sup, const char *name);

/* The folder of a stream's pose archive into dir (which may hold keypoints
 * of earlier runs even while the archive is off), with what is buffered
 * written first, so that a reader sees every frame until now. -ENOENT for an
 * unknown stream. *ret_on: whether the stream archives now. */
int supervisor_archive_flush(struct supervisor *sup, const char *name, char *dir, size_t size,
                             bool *ret_on, struct errbuf *err);

void supervisor_metrics(struct supervisor *sup, struct api_text *out);
/* "2/3 streams running, 19.8 fps" for systemd's STATUS=. */
void supervisor_status(struct supervisor *sup, char *dst, size_t size);
/* Publishes status events for sources that went into (or out of) their own
 * reconnect loop; called from the main loop every tick. */
void supervisor_poll(struct supervisor *sup);

/* 0 when the supervisor answers (its lock is free within timeout_ms). */
int supervisor_check(struct supervisor *sup, int timeout_ms);

#endif
