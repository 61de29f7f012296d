/* people: what each person in view is doing — one stream's detections (a
 * pose model's people per frame) to person tracks (pose's tracker), one
 * features state and one segment-model memory per confirmed track, every
 * track's segments on the stream's segment clock (people.c); the container
 * that saves every track's memory by id (memory.c); and tracking figures over
 * a video, a measure of how stable the ids are without ground truth
 * (stats.c); and the pose estimator's defects measured on its own output
 * (defects.c). Used by the daemon (one per stream) and by `crt classify` and
 * `crt track`. Knows nothing of video, HTTP or the daemon. */
#ifndef CRTD_PEOPLE_H
#define CRTD_PEOPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "crt.h"
#include "pose.h"

#define PEOPLE_MAX         POSE_TRACKER_MAX_TRACKS /* the largest max_people */
#define PEOPLE_MAX_CLASSES 64

/* One confirmed track's outcome of a segment. */
struct people_person {
    uint32_t id;       /* stable while the track lives, continued by a restore */
    float box[4];      /* x0, y0, x1, y1 in [0,1], as last seen */
    float pose_score;  /* the pose model's person score, as last seen */
    int seen_frames;   /* of the segment's frames, those it was seen in */
    int label;         /* index of the highest probability */
    float score;       /* probs[label] */
    double first_seen; /* on the caller's clock (people_frame's wall) */
    double last_seen;
    struct pose_keypoint keypoints[POSE_NUM_KEYPOINTS]; /* as last seen */
    float probs[PEOPLE_MAX_CLASSES];                    /* class probabilities */
};

/* The outcome of one segment of the stream: every track that pushed all of
 * its frames (a track confirmed in the middle of a segment starts at the
 * next boundary). */
struct people_result {
    unsigned n_classes;
    int segment_frames; /* the model's segment length */
    unsigned n;
    struct people_person people[PEOPLE_MAX];
    uint64_t dropped; /* detections the track cap turned away, since people_new */
};

/* One stream's people. */
struct people;

/* At most max_people tracks at once (0: the tracker's default, 6; at most
 * PEOPLE_MAX), each with its own crt_stream made here. crt NULL tracks
 * people without recognising anything: people_frame never ends a segment. */
int people_new(const struct crt_model *crt, unsigned max_people, struct people **ret_people,
               struct errbuf *err);
struct people *people_free(struct people *pp);

/* One sampled frame's detections (at most POSE_TRACKER_MAX_DETECTIONS) at
 * stream time pts; wall is the caller's clock for first_seen and last_seen
 * (the daemon's wall clock, a tool's stream time). Returns 1 when the frame
 * ended a segment of the stream, with every track's outcome in *ret, else 0
 * (*ret untouched). Allocates nothing. */
int people_frame(struct people *pp, const struct pose_person *dets, int n_dets, double pts,
                 double wall, struct people_result *ret);

/* The confirmed tracks seen in the last frame given to people_frame, by
 * their shown ids, with the keypoints they were seen with (what the pose
 * archive keeps): at most PEOPLE_MAX, into the caller's arrays. */
unsigned people_frame_seen(const struct people *pp, uint32_t *ret_ids,
                           struct pose_keypoint (*ret_keypoints)[POSE_NUM_KEYPOINTS]);

/* The tracker, read-only, and its clock: stream time that never goes back
 * and never leaps (a file that loops, a camera that reconnects). */
const struct pose_tracker *people_tracker(const struct people *pp);
double people_clock(const struct people *pp);

/* Every live track's memory (as of the last segment boundary) and those
 * still waiting for their person, as a new malloc'd container; wall is the
 * caller's clock at the save. */
int people_memory_save(struct people *pp, double wall, void **ret_data, size_t *ret_size);
/* Takes the memories of a container (or of a single stream memory from
 * before people were tracked, which goes to the first person confirmed):
 * each waits, up to the tracker's max_unseen_s, for a newly confirmed track
 * where it was last seen. -EBADMSG with a message when anything does not
 * fit; nothing is taken then. */
int people_memory_restore(struct people *pp, double wall, const void *data, size_t size,
                          struct errbuf *err);

/* IoU of two boxes x0, y0, x1, y1. */
float people_box_iou(const float *a, const float *b);

/* ---- the memory container (memory.c) -------------------------------------- */

/* Every track's memory, keyed by its id, in one blob: versioned and CRC-32
 * checked (docs/SERVICE.md, "What lasts across restarts"). Little-endian:
 *
 *   "CRTP" u32 version (1) u32 count u32 next_id f64 saved (wall clock)
 *   count x { u32 id, u32 size, f64 first_seen, f64 last_seen, f32 box[4],
 *             size bytes of the track's own state blob }
 *   u32 CRC-32 of everything before it
 *
 * Each track's blob is what its owner writes (the CRT state blob for
 * people_memory_save). */
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
    struct people_memory_entry entries[PEOPLE_MAX + 1];
};

/* The bytes people_memory_encode writes for these entries. */
size_t people_memory_size(const struct people_memory *m);
/* Writes m into buf (people_memory_size(m) bytes). */
void people_memory_encode(const struct people_memory *m, uint8_t *buf);
/* Reads a container; entries point into data. -EBADMSG with a message for a
 * damaged one (bad magic, version, sizes, checksum): nothing is taken. */
int people_memory_decode(const void *data, size_t size, struct people_memory *ret,
                         struct errbuf *err);

/* ---- tracking figures (stats.c) --------------------------------------------- */

/* How a video's tracks went (docs/POSE.md, "Tracking on real footage").
 * Without ground truth, re-identifications stand in for id switches: a
 * confirmed track that ends while a new confirmed track starts within
 * PEOPLE_REID_WINDOW_S of its last sighting, whose first box overlaps where
 * the old track's box velocity put it. */
#define PEOPLE_REID_WINDOW_S 1.0

struct people_tracking {
    uint64_t frames;
    double seconds;     /* from the first frame to the last */
    double people_mean; /* detections per frame */
    int people_median, people_max;
    unsigned tracks_started; /* every track, tentative ones too */
    unsigned tracks_confirmed;
    double confirmed_life_s; /* mean, first to last sighting */
    unsigned reids;
    double reids_per_minute;
};

/* Follows one struct people's tracker frame by frame; grows with the tracks
 * it has seen (for tools and tests, not for the daemon's frame loop). */
struct people_stats;

int people_stats_new(struct people_stats **ret_stats);
struct people_stats *people_stats_free(struct people_stats *s);
/* After each people_frame: the number of detections it was given and the
 * tracks it left. */
int people_stats_frame(struct people_stats *s, const struct people *pp, int n_dets);
/* The figures so far; tracks still alive count with their life so far. */
void people_stats_summary(const struct people_stats *s, struct people_tracking *ret);

/* ---- estimator defects (defects.c) ---------------------------------------- */

/* What a pose estimator gets wrong, measured on its own output over a video
 * (docs/TRAINING.md, "Estimator defects measured on real footage"), for
 * comparison with the defects synth invents. Every figure is taken from
 * confirmed tracks in the frames they are seen, or from every detection of a
 * photo (people_defects_still):
 *
 * - jitter: the high-pass residual of a keypoint's trajectory, its distance
 *   from the centred mean over PEOPLE_DEFECT_WINDOW frames (every one seen,
 *   the joint scored >= POSE_MIN_SCORE), in box heights;
 * - its spectrum: the residual's energy (x and y, Hann-windowed DFTs over
 *   runs of PEOPLE_DEFECT_DFT frames) in PEOPLE_DEFECT_BANDS equal bands from
 *   0 to the Nyquist frequency, beside what white noise gives through the
 *   same high-pass;
 * - scores by joint and by box height (a fraction of the frame's height);
 * - dropouts: a joint scored below POSE_MIN_SCORE;
 * - left/right swaps: a pair (eyes, ears, elbows, wrists, knees, ankles) whose
 *   two points, both seen in consecutive frames, sit closer to each other's
 *   previous place than to their own (crossed distance below half the
 *   straight one, the two at least PEOPLE_DEFECT_SWAP_SEP box heights apart)
 *   while the shoulders and hips do not do the same (the torso did not turn);
 * - gaps: a confirmed track unseen for some frames, then seen again. */
#define PEOPLE_DEFECT_WINDOW   5
#define PEOPLE_DEFECT_DFT      16
#define PEOPLE_DEFECT_BANDS    4
#define PEOPLE_DEFECT_SIZES    4
#define PEOPLE_DEFECT_PAIRS    6
#define PEOPLE_DEFECT_SWAP_SEP 0.1f

struct people_defect_joint {
    uint64_t seen;                   /* observations of the joint */
    float score_median, score_p10;   /* of every observation */
    float dropout;                   /* fraction scored below POSE_MIN_SCORE */
    uint64_t jitter_n;               /* residuals measured */
    float jitter_median, jitter_p90; /* in box heights */
};

struct people_defect_size {
    float lo, hi;                  /* box height, fraction of the frame's */
    uint64_t people;               /* person observations in the bin */
    float score_median, score_p10; /* of every keypoint's score */
    float dropout;
};

struct people_defects {
    uint64_t frames;       /* video frames given */
    uint64_t observations; /* person observations: seen confirmed tracks, and stills */
    uint64_t stills;       /* of which from photos */
    struct people_defect_joint joints[POSE_NUM_KEYPOINTS];
    float jitter_median, jitter_p90;        /* every joint together */
    uint64_t spectrum_windows;              /* DFT runs over all joints */
    double band[PEOPLE_DEFECT_BANDS];       /* fraction of the residual's energy */
    double band_white[PEOPLE_DEFECT_BANDS]; /* the same for white noise */
    struct people_defect_size sizes[PEOPLE_DEFECT_SIZES];
    const char *pair_names[PEOPLE_DEFECT_PAIRS];
    uint64_t swaps[PEOPLE_DEFECT_PAIRS];
    uint64_t swap_checks[PEOPLE_DEFECT_PAIRS]; /* pair-frames where a swap could be seen */
    uint64_t torso_turns;  /* frames skipped: shoulders or hips swapped places */
    uint64_t track_frames; /* seen confirmed tracks, seen in the frame before too */
    double swaps_per_1000; /* all pairs, per 1000 track_frames */
    uint64_t gaps;         /* a confirmed track seen again after unseen frames */
    double gap_mean_frames;
    double gaps_per_1000; /* per 1000 observations of video */
};

/* Grows with the video's length (for tools and tests). */
struct people_defects_state;

int people_defects_new(struct people_defects_state **ret_state);
struct people_defects_state *people_defects_free(struct people_defects_state *s);
/* After each frame's pose_tracker_update, with the frame's size in pixels
 * (boxes and keypoints are fractions of it). A new video (a new tracker):
 * call people_defects_reset first. */
int people_defects_frame(struct people_defects_state *s, const struct pose_tracker *tracker,
                         int width, int height);
/* Forgets the tracks (their ids restart with a new tracker); keeps the
 * figures. */
void people_defects_reset(struct people_defects_state *s);
/* A photo's detections: scores, sizes and dropouts only. */
int people_defects_still(struct people_defects_state *s, const struct pose_person *people, int n,
                         int width, int height);
/* The figures so far (-ENOMEM while sorting). */
int people_defects_summary(const struct people_defects_state *s, struct people_defects *ret);

#endif
