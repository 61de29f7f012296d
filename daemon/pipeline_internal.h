/* pipeline_internal: what the pipeline implementations share. */
#ifndef CRTD_PIPELINE_INTERNAL_H
#define CRTD_PIPELINE_INTERNAL_H

#include <limits.h>

#include "pose.h"
#include "crt.h"
#include "pipeline.h"

struct pipeline_model {
    char path[PATH_MAX];
    char pose_path[PATH_MAX];
    char kind[64]; /* "crt:<fingerprint>": which memories fit */
    struct crt_model *crt;
    struct pose_model *pose;
};

/* ---- the memories of a stream's people (people_memory.c) ---------------- */

/* Every live track's memory, keyed by its id, in one blob: a small
 * container that is versioned and CRC-32 checked (docs/SERVICE.md, "What
 * lasts across restarts"). Little-endian:
 *
 *   "CRTP" u32 version (1) u32 count u32 next_id f64 saved (wall clock)
 *   count x { u32 id, u32 size, f64 first_seen, f64 last_seen, f32 box[4],
 *             size bytes of the track's own state blob }
 *   u32 CRC-32 of everything before it
 *
 * Each track's blob is what its pipeline writes (the CRT state blob for the
 * real one). */
#define PEOPLE_MEMORY_VERSION 1
#define PEOPLE_MEMORY_HEADER  24
#define PEOPLE_MEMORY_ENTRY   40

struct people_memory_entry {
    uint32_t id;
    double first_seen, last_seen; /* wall clock */
    float box[4];
    const void *data; /* into the container (decode) or the caller's (encode) */
    size_t size;
};

struct people_memory {
    uint32_t next_id; /* ids below this were given: new ones start here */
    double saved;     /* wall clock of the save */
    unsigned n;
    struct people_memory_entry entries[PIPELINE_MAX_PEOPLE + 1];
};

/* The bytes people_memory_encode writes for these entries. */
size_t people_memory_size(const struct people_memory *m);
/* Writes m into buf (people_memory_size(m) bytes). */
void people_memory_encode(const struct people_memory *m, uint8_t *buf);
/* Reads a container; entries point into data. -EBADMSG with a message for a
 * damaged one (bad magic, version, sizes, checksum): nothing is taken. */
int people_memory_decode(const void *data, size_t size, struct people_memory *ret,
                         struct errbuf *err);

/* ---- people: tracks and their memories (pipeline_people.c) ------------- */

/* What one track owns: its memory and partial segment (crt), its features
 * state, and what the segment saw of it. */
struct people_slot {
    bool used;
    bool pushing;      /* pushes frames: it started at a segment boundary */
    uint32_t track_id; /* the tracker's */
    uint32_t id;       /* shown and saved: stable across restarts */
    struct crt_stream *crt;
    struct features_state features;
    int seen_frames; /* in the current segment */
    double first_seen, last_seen_wall;
    struct pose_person last; /* as last seen */
    float probs[PIPELINE_MAX_CLASSES];
    uint8_t *snapshot; /* its state blob as of the last segment boundary */
    size_t snapshot_len;
};

/* A restored memory waiting for its person to be confirmed again. */
struct people_waiting {
    uint32_t id;
    double first_seen, last_seen_wall;
    double expires; /* tracker clock */
    float box[4];
    uint8_t *data; /* its blob, copied */
    size_t size;
};

struct people {
    const struct crt_model *crt;
    struct pose_tracker *tracker;
    struct pose_tracker_options options;
    int segment_len;
    int frames;         /* into the current stream segment */
    uint32_t next_id;   /* shown ids are the tracker's plus id_offset... */
    uint32_t id_offset; /* ...so that they continue after a restart */
    double clock, last_pts;
    bool clock_started;
    struct people_slot slots[PIPELINE_MAX_PEOPLE];
    struct people_waiting waiting[PIPELINE_MAX_PEOPLE];
    int n_waiting;
    float feat[FEATURES_V1_DIM];
    float probs[PIPELINE_MAX_CLASSES];
    size_t blob_size; /* crt_stream_save_size */
};

/* max_people tracks at once, each with its crt_stream allocated here. */
int people_init(struct people *pp, const struct crt_model *crt, unsigned max_people,
                struct errbuf *err);
void people_done(struct people *pp);
/* One sampled frame's detections at stream time pts. Returns 1 when it ended
 * a segment of the stream, with every track's outcome in ret (its people,
 * summary and label fields), else 0. */
int people_frame(struct people *pp, const struct pose_person *dets, int n_dets, double pts,
                 struct pipeline_result *ret);
int people_memory_save(struct people *pp, void **ret_data, size_t *ret_size);
int people_memory_restore(struct people *pp, const void *data, size_t size, struct errbuf *err);

/* Picks the summary of a result: the most confident person in view, whose
 * label, scores and keypoints become the stream's (or nobody). */
void people_summarise(struct pipeline_result *r);
/* IoU of two boxes x0, y0, x1, y1. */
float people_box_iou(const float *a, const float *b);

#endif
