/* supervisor_internal: what the supervisor's files share — the stream and
 * supervisor structs and their locks (supervisor.c: threads, locking and life
 * cycle), the JSON of snapshots and events (supervisor_json.c), the text of
 * /metrics and systemd's STATUS= (supervisor_metrics.c). */
#ifndef CRTD_SUPERVISOR_INTERNAL_H
#define CRTD_SUPERVISOR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "activity.h"
#include "supervisor.h"
#include "zones.h"

enum stream_state {
    STREAM_STARTING,
    STREAM_RUNNING,
    STREAM_RECONNECTING,
    STREAM_DISABLED,
    STREAM_STOPPING,
    STREAM_PAUSED, /* paused for privacy: no frame is read, nothing is watched */
};

/* One person track of a stream as last published: its segment outcome and
 * its own hysteresis. */
struct stream_person {
    struct pipeline_person p;
    struct activity_tracker tracker;
    uint32_t zones; /* bit i: in the stream's zones[i] */
};

struct stream {
    struct supervisor *sup;
    struct config_stream spec;
    char url_masked[API_URL_MAX];
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    bool paused; /* changed only by supervisor_pause, the thread stopped */

    /* Everything below is guarded by lock. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct supervisor_settings settings;
    enum stream_state state;
    char error[256];
    double next_retry;
    uint64_t frames, sampled, dropped, segments, reconnects;
    uint64_t open_frames, open_sampled, open_dropped;          /* of the current open */
    uint64_t gated, pose_frames, open_gated, open_pose_frames; /* the motion gate's, likewise */
    double fps_measured;
    double last_wall;
    uint64_t last_sampled;
    struct activity_tracker tracker;
    int64_t history_id;
    uint64_t memory_segments;
    bool memory_restored;
    struct api_histogram latency;
    struct pipeline *pipeline;                        /* while open, for status and interrupt */
    struct pose_archive *archive;                     /* while the thread runs; NULL: off */
    float pose[PIPELINE_KEYPOINTS][3];                /* the last segment's last frame */
    double pose_wall;                                 /* when it came; 0: none yet */
    bool source_reconnecting;                         /* as last published */
    struct stream_person people[PIPELINE_MAX_PEOPLE]; /* the tracks now listed */
    unsigned n_people;
    uint32_t summary_person;                      /* whose activity the summary is; 0: nobody */
    uint64_t people_dropped, open_people_dropped; /* turned away by the cap; of this open */
    struct zone zones[ZONES_MAX];                 /* as of the last segment */
    int n_zones;
    uint64_t people_excluded; /* skeletons ignored in exclude zones */

    /* The worker's own (no lock): this segment's zones and its result
     * without the skeletons of exclude zones. */
    struct zone work_zones[ZONES_MAX];
    struct pipeline_result work_result;
};

/* People whose stable activity is an activity (not nobody): "in view". */
unsigned stream_people_in_view_locked(const struct stream *st);

struct supervisor {
    pthread_mutex_t lock;
    struct supervisor_settings settings;
    struct store *store;
    struct api_events *events;
    const struct pipeline_model *model;
    struct stream **streams;
    size_t n_streams;
    struct zones *zones; /* borrowed; may be NULL */
    struct rules *rules; /* borrowed; may be NULL */
};

/* The state to show: a source that reconnects by itself (a live camera in
 * the video library's backoff) shows as reconnecting while its worker waits. */
struct shown {
    enum stream_state state;
    const char *error;
    double next_retry;
    uint64_t reconnects;
    uint64_t frames, sampled, dropped; /* live when the source counts live */
    uint64_t gated, pose_frames;
    enum pipeline_gate gate; /* of the open pipeline; off without one */
};

/* What st shows now (st->lock held); status is filled from the open
 * pipeline, zeroed when there is none. */
struct shown stream_shown_locked(struct stream *st, struct pipeline_status *status);

/* The index of the stream called name, -1 when none (sup->lock held). */
ssize_t supervisor_find_locked(struct supervisor *sup, const char *name);

/* The bodies of events. The _locked ones read the stream under its lock;
 * the others only its name, which never changes. */
json_t *stream_activity_json_locked(const struct stream *st);
/* An "activity" event: the activity now and the one that closed. */
json_t *stream_activity_event_json_locked(const struct stream *st,
                                          const struct activity_interval *closed);
/* A person as /v1/streams/{name}/people lists it (keypoints: with them). */
json_t *stream_person_json_locked(const struct stream *st, const struct stream_person *sp,
                                  bool keypoints);
/* A "person" event: change is "appeared", "activity" or "left". */
json_t *stream_person_event_json_locked(const struct stream *st, const struct stream_person *sp,
                                        const char *change, const struct activity_interval *closed);
/* A "status" event. */
json_t *stream_status_json(const struct stream *st, enum stream_state state, const char *error,
                           uint64_t reconnects);
/* "stream" events. */
json_t *stream_added_json(const struct config_stream *spec);
json_t *stream_removed_json(const char *name);
const char *stream_origin_name(enum config_origin origin);

#endif
