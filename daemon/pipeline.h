/* pipeline: what one stream's worker runs, behind a small interface — open a
 * source, then step one segment at a time, each step giving the activity
 * scores of the segment; plus the stream's memory state as bytes, so that the
 * daemon can checkpoint it and restore it after a restart.
 *
 * Two implementations sit behind it:
 *   - the real one (pipeline_real.c): video decode -> pose -> features -> CRT
 *     step, on the video and model libraries, for every URL FFmpeg reads;
 *   - a scripted test source (pipeline_synthetic.c) for URLs that start with
 *     "synthetic:". It is deterministic and exists for the tests only: it
 *     recognises nothing, it plays back a script of labels. */
#ifndef CRTD_PIPELINE_H
#define CRTD_PIPELINE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base.h"

#define PIPELINE_MAX_CLASSES 64
#define PIPELINE_KEYPOINTS   17

#define PIPELINE_MAX_PEOPLE 16 /* the largest max_people */

/* One person track's outcome of a segment: a confirmed track of the stream's
 * person tracker with its own features state and its own memory. Every
 * track's segments end on the stream's segment clock, so one step gives them
 * all at once. */
struct pipeline_person {
    uint32_t id;                            /* stable while the track lives, kept across restarts */
    bool in_view;                           /* seen in at least half of the segment's frames */
    float box[4];                           /* x0, y0, x1, y1 in [0,1], as last seen */
    float keypoints[PIPELINE_KEYPOINTS][3]; /* as last seen: x, y in [0,1], score */
    float pose_score;                       /* the pose model's person score, as last seen */
    int label;                              /* index of the highest score */
    float scores[PIPELINE_MAX_CLASSES];     /* this track's class probabilities */
    double first_seen;                      /* wall clock the track was first seen */
};

/* The outcome of one segment. The label, scores, person and keypoints are
 * the stream's summary: the most confident person in view (or nobody). */
struct pipeline_result {
    int label; /* index of the highest score */
    unsigned n_classes;
    float scores[PIPELINE_MAX_CLASSES];     /* probabilities, summing to 1 */
    bool person;                            /* someone was in view in the segment */
    float keypoints[PIPELINE_KEYPOINTS][3]; /* last frame: x, y in [0,1], score */
    int summary;                            /* index in people[] of the summary, -1: nobody */
    unsigned n_people;                      /* confirmed tracks with a complete segment */
    struct pipeline_person people[PIPELINE_MAX_PEOPLE];
    uint64_t people_dropped; /* detections the track cap turned away, since open */
    double pts;              /* stream time at the segment's end, seconds */
    int64_t decoded_ns;      /* time_mono_ns() when its last frame was decoded */
    uint64_t frames;         /* frames decoded since open */
    uint64_t sampled;        /* frames sampled (sent to pose) since open */
    uint64_t dropped;        /* frames skipped because the worker fell behind, since open */
    uint64_t gated;          /* sampled frames the motion gate found still, since open */
    uint64_t pose_frames;    /* sampled frames given to pose, since open */
};

/* What the motion gate is doing to a stream's pose (docs/SERVICE.md, "The
 * motion gate"). */
enum pipeline_gate {
    PIPELINE_GATE_OFF,   /* no gate (still_pose_fps = 0, a test source): pose on every frame */
    PIPELINE_GATE_MOVED, /* something moved (or the background starts): pose runs */
    PIPELINE_GATE_STILL, /* a person in view, nothing moved: pose at still_pose_fps */
    PIPELINE_GATE_EMPTY, /* nobody in view, nothing moved: no pose */
    PIPELINE_GATE_COUNT,
};

/* "off", "moved", "still", "empty". */
const char *pipeline_gate_name(enum pipeline_gate gate);

/* The model, loaded once and shared read-only by every stream. */
struct pipeline_model;
struct pose_archive; /* data.h */

/* Loads the segment model file at path and the MoveNet graph at pose_path
 * (movenet-*.json with its .bin). path NULL gives the model-less set-up that
 * only runs test sources (its classes are Toyota Smarthome's). */
int pipeline_model_load(const char *path, const char *pose_path, struct pipeline_model **ret_model,
                        struct errbuf *err);
struct pipeline_model *pipeline_model_free(struct pipeline_model *model);

bool pipeline_model_loaded(const struct pipeline_model *model);
unsigned pipeline_model_n_classes(const struct pipeline_model *model);
const char *pipeline_model_class(const struct pipeline_model *model, unsigned index);
/* The model card for GET /v1/model (new reference), or -ENOENT without one. */
int pipeline_model_card(const struct pipeline_model *model, json_t **ret_card);

struct pipeline;
struct video_options;

/* How a stream reads its source. */
struct pipeline_source {
    double fps;              /* frames sampled per second; 0: the model's rate */
    double timeout_s;        /* a camera silent this long is lost (connect, each read); 0: 10 s */
    unsigned max_people;     /* person tracks at once (the tracker's cap); 0: 6 */
    unsigned multipose_side; /* a multi-person model's input side (multiple of 32); 0: 256 */
    const char *pose_model;  /* this stream's pose model file; NULL or "": the shared one */
    /* Pose rate on a person in view while nothing moves; 0: no motion gate,
     * pose on every sampled frame. */
    double still_pose_fps;
    /* The stream's video options (the daemon's config_video); NULL: the
     * video library's defaults with timeout_s. Their fps, motion gate and
     * conversion are the pipeline's own, from the fields above. */
    const struct video_options *video;
    /* Where every frame's confirmed tracks go (docs/SERVICE.md, "The pose
     * archive"); NULL: nowhere. Borrowed for the pipeline's life. */
    struct pose_archive *archive;
};

/* Opens url for one stream. stop is polled by every blocking call, which
 * then fails with -ECANCELED. */
int pipeline_open(const struct pipeline_model *model, const char *url,
                  const struct pipeline_source *source, const atomic_bool *stop,
                  struct pipeline **ret_pipeline, struct errbuf *err);
struct pipeline *pipeline_free(struct pipeline *p);

/* What the source is doing, for a snapshot taken from another thread. */
struct pipeline_status {
    bool reconnecting;                 /* lost, waiting to reconnect by itself */
    uint64_t reconnects;               /* reconnects since open */
    double next_attempt;               /* wall clock of the next attempt, when reconnecting */
    char error[256];                   /* why it was lost */
    bool has_counts;                   /* the three counts below are live */
    uint64_t frames, sampled, dropped; /* since open, as in pipeline_result */
    uint64_t gated, pose_frames;       /* since open, as in pipeline_result */
    enum pipeline_gate gate;           /* as of the last frame */
    const char *transport;             /* an RTSP source's "tcp" or "udp"; NULL: none */
};

/* Fills *ret_status; safe from any thread while the pipeline lives. */
void pipeline_status(struct pipeline *p, struct pipeline_status *ret_status);

/* Makes a blocked pipeline_step return -ECANCELED soon; safe from any thread
 * while the pipeline lives. */
void pipeline_interrupt(struct pipeline *p);

/* Blocks until the next segment is complete. A failing source gives a
 * negative errno (and a message); the stream is then reopened. */
int pipeline_step(struct pipeline *p, struct pipeline_result *ret_result, struct errbuf *err);

/* Which memory format this pipeline writes, so that a state saved by another
 * model is never restored into this one. */
const char *pipeline_memory_kind(const struct pipeline *p);
/* The stream's memory as a new malloc'd blob. */
int pipeline_memory_save(struct pipeline *p, void **ret_data, size_t *ret_size);
/* Restores a blob from pipeline_memory_save; -EBADMSG when it does not fit. */
int pipeline_memory_restore(struct pipeline *p, const void *data, size_t size, struct errbuf *err);

/* Whether the URL is for the scripted test source. */
bool pipeline_url_is_synthetic(const char *url);

/* Checks a URL without opening it: a synthetic: script that parses, or a
 * scheme the video library reads. -EINVAL with a message otherwise. */
int pipeline_url_check(const struct pipeline_model *model, const char *url, struct errbuf *err);
/* Whether the URL makes crtd read this machine's files or devices: a file,
 * a v4l2 device, a lavfi graph (its movie filter opens files), a synthetic
 * source watching an alive= path. Network cameras are not local. */
bool pipeline_url_is_local(const char *url);

/* ---- the implementations, chosen by pipeline_open ----------------------- */

struct pipeline_ops {
    int (*step)(void *impl, struct pipeline_result *ret_result, struct errbuf *err);
    const char *(*memory_kind)(void *impl);
    int (*memory_save)(void *impl, void **ret_data, size_t *ret_size);
    int (*memory_restore)(void *impl, const void *data, size_t size, struct errbuf *err);
    void (*status)(void *impl, struct pipeline_status *ret_status); /* may be NULL */
    void (*interrupt)(void *impl);                                  /* may be NULL */
    void (*free)(void *impl);
};

int pipeline_synthetic_open(const struct pipeline_model *model, const char *url,
                            const struct pipeline_source *source, const atomic_bool *stop,
                            const struct pipeline_ops **ret_ops, void **ret_impl,
                            struct errbuf *err);
int pipeline_real_open(const struct pipeline_model *model, const char *url,
                       const struct pipeline_source *source, const atomic_bool *stop,
                       const struct pipeline_ops **ret_ops, void **ret_impl, struct errbuf *err);

#endif
