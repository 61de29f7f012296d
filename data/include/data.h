/* data: what crtd learns from and scores against — Toyota Smarthome's
 * classes, clip names and protocols (smarthome.c), the seeded RNG (rng.c),
 * synthetic motion (synth.c), pose-sequence files (poseseq.c), confusion
 * matrices (metrics.c) and motion capture (mocap.c, bvh.c, asf_amc.c; as
 * pose sequences: mocap_coco.c, mocap_view.c, mocap_index.c). The segment
 * model does not depend on it. */
#ifndef CRTD_DATA_H
#define CRTD_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base.h"
#include "keypoints.h"

/* ---- Toyota Smarthome: classes, clip names, protocols (smarthome.c) ------- */

#define SMARTHOME_NUM_CLASSES    31
#define SMARTHOME_NUM_CV_CLASSES 19

/* The 31 cross-subject classes in the project's output order. */
extern const char *const smarthome_classes[SMARTHOME_NUM_CLASSES];

/* Index of a class name in smarthome_classes, or -ENOENT. */
int smarthome_class_index(const char *name);

enum smarthome_protocol {
    SMARTHOME_CS,  /* cross-subject */
    SMARTHOME_CV1, /* cross-view: train c01, validate c05, test c02 */
    SMARTHOME_CV2, /* cross-view: train c01 c03 c04 c06 c07, validate c05, test c02 */
};

enum smarthome_split {
    SMARTHOME_SPLIT_NONE, /* the clip is in no split of this protocol */
    SMARTHOME_SPLIT_TRAIN,
    SMARTHOME_SPLIT_VALIDATION,
    SMARTHOME_SPLIT_TEST,
};

int smarthome_protocol_parse(const char *text, enum smarthome_protocol *ret_protocol);
const char *smarthome_protocol_name(enum smarthome_protocol protocol);
/* Whether the protocol scores this class (CV protocols use 19 of the 31). */
bool smarthome_protocol_has_class(enum smarthome_protocol protocol, int class_index);

/* What a clip file name says: <Activity>_p<subject>_r<rr>_v<vv>_c<camera>.mp4 */
struct smarthome_clip_name {
    char activity[48];
    int class_index;    /* into smarthome_classes */
    int subject;        /* p02 -> 2 */
    int repetition;     /* r00 -> 0 */
    int take;           /* v02 -> 2 */
    int camera;         /* c03 -> 3 */
    uint32_t name_hash; /* FNV-1a of the base name without extension */
};

/* Parses a base name (directories are ignored, any extension is accepted).
 * Fails with -EINVAL and a message naming the field that does not parse. */
int smarthome_clip_name_parse(const char *path, struct smarthome_clip_name *ret_name,
                              struct errbuf *err);

/* The split a clip falls in under a protocol. Validation for CS is a fixed,
 * seeded 5% of the training clips, decided from the file name alone so that
 * every machine agrees. */
enum smarthome_split smarthome_clip_split(enum smarthome_protocol protocol,
                                          const struct smarthome_clip_name *name);

/* ---- random numbers (rng.c) ----------------------------------------------- */

/* xoshiro256** seeded through splitmix64: fast, and the same sequence on
 * every machine, so a seed always gives the same data and the same model. */
struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *rng, uint64_t seed);
uint64_t rng_next(struct rng *rng);
double rng_uniform(struct rng *rng);                     /* [0, 1) */
double rng_range(struct rng *rng, double lo, double hi); /* [lo, hi) */
double rng_normal(struct rng *rng);                      /* mean 0, deviation 1 */
int rng_below(struct rng *rng, int n);                   /* 0 .. n-1 */

/* ---- synthetic motion (synth.c) ------------------------------------------ */

/* Keypoints are struct pose_keypoint (pose section): x, y in [0,1] of the
 * whole frame, and a score. */

enum synth_task {
    SYNTH_TASK_ACTIVITIES, /* ten Smarthome activities that pose alone tells apart */
    SYNTH_TASK_RECALL,     /* a gesture K segments before the end decides the label */
    SYNTH_TASK_FALLS,      /* falls and their hard negatives, with zones (synth_falls.c) */
    SYNTH_TASK_HOME,       /* one home's activities, one of them no base class (synth_home.c) */
};

#define SYNTH_NUM_ACTIVITIES 10
#define SYNTH_NUM_RECALL     4
#define SYNTH_NUM_FALL_CASES 8 /* the falls task's scenes, clip i shows scene i % 8 */
#define SYNTH_NUM_HOME       6 /* the home task's activities: five of the ten and Feed.Cat */

/* Class names of a task, in its output order. */
const char *const *synth_task_classes(enum synth_task task, int *ret_count);
int synth_task_parse(const char *text, enum synth_task *ret_task);
const char *synth_task_name(enum synth_task task);

struct synth_options {
    enum synth_task task;
    uint64_t seed;
    double fps;         /* frames per second of the generated sequence */
    double min_seconds; /* clip duration range (activities task) */
    double max_seconds;
    int chain;           /* activities chained into one stream; 1 = a trimmed clip */
    int recall_k;        /* recall task: segments between the event and the end */
    int segment_frames;  /* recall task: L, frames per segment */
    double noise;        /* 0 = clean keypoints, 1 = default jitter, dropouts, occlusion */
    double down_seconds; /* falls task: least time down after a fall, and after the
                          * hard negatives' last movement (default 35) */
    int home;            /* 0: a random wall camera and person per clip; N >= 1: home N's
                          * one camera (high in a corner, steep and wide, a view the
                          * activities task never has) and its three people */
};

/* The falls task's scenes: the falls, then the hard negatives. */
const char *synth_fall_case_name(int scene);
bool synth_fall_case_is_fall(int scene);

/* A zone of the picture as data carries it: safety.h's struct zone without
 * depending on safety/ (kind is its name: "bed", "seat", ...). */
#define POSE_ZONE_MAX_POINTS 32
struct pose_zone {
    char name[64];
    char kind[16];
    int n;
    float points[POSE_ZONE_MAX_POINTS][2]; /* x, y in [0, 1] of the frame */
};
#define POSE_SEQUENCE_MAX_ZONES 8

/* What a sequence shows for the safety rules (falls task; docs/FORMATS.md). */
struct pose_events {
    char scene[32]; /* "fall-forward", "tie-shoe", ...; "" when not said */
    double fall_at; /* seconds from the first frame to the start of the fall; -1: none */
    double up_at;   /* seconds to when the fallen person is up again; -1: stays down */
    int n_zones;
    struct pose_zone zones[POSE_SEQUENCE_MAX_ZONES];
};

/* Defaults: activities, seed 1, 10 fps, 4-8 s clips, chain 1, K 4, L 8, noise 1,
 * no home. */
void synth_options_default(struct synth_options *opts);

/* A generated pose sequence. labels[t] is the class of frame t in the task's
 * class list; label is the class of the clip (the last activity of a chain). */
struct synth_clip {
    int frames;
    int label;
    struct pose_keypoint (*keypoints)[POSE_NUM_KEYPOINTS]; /* [frames][17] */
    int *labels;                                           /* [frames] */
    struct pose_events events;                             /* falls task; fall_at -1 else */
};

/* Generates clip number index of the data set that opts describes: the same
 * (options, index) always gives the same clip, whichever thread or machine
 * asks, so generation splits across cores and shards freely. */
int synth_clip_generate(struct synth_clip *clip, const struct synth_options *opts, uint64_t index,
                        struct errbuf *err);
void synth_clip_done(struct synth_clip *clip);

/* ---- pose-sequence files (poseseq.c) -------------------------------------- */

/* A clip or stream as keypoints per frame: what `crt synth` writes, what
 * `crt extract` caches and what `crt train` reads. On disk it is a
 * safetensors file (docs/FORMATS.md): "keypoints" F32 [frames, 17, 3] as
 * (x, y, score), "labels" F32 [frames] as class indices (-1: unknown), and
 * metadata format=crtd-pose-sequence, version=1, fps, classes (a JSON list),
 * label, source; optionally acknowledgement, scene, fall_at, up_at and zones
 * (a JSON list). */
#define POSE_SEQUENCE_MAX_CLASSES 256

struct pose_sequence {
    int frames;
    double fps;
    struct pose_keypoint (*keypoints)[POSE_NUM_KEYPOINTS]; /* [frames][17] */
    int *labels;                                           /* [frames], -1 unknown */
    int label;                                             /* the clip's class, -1 unknown */
    int n_classes;
    char **classes;            /* the class names the labels index */
    char source[256];          /* where it came from: a video path, or the synth recipe */
    char source_checksum[17];  /* FNV-1a 64 of the source video, hex; "" for none */
    char acknowledgement[512]; /* optional: what the source data's terms ask to be said */
    struct pose_events events; /* optional: metadata scene, fall_at, up_at, zones */
};

/* Allocates frames and copies the class names; fills nothing else. */
int pose_sequence_init(struct pose_sequence *seq, int frames, double fps,
                       const char *const *classes, int n_classes, struct errbuf *err);
void pose_sequence_done(struct pose_sequence *seq);

/* Writes atomically (a temporary file renamed over the target). */
int pose_sequence_save(const struct pose_sequence *seq, const char *path, struct errbuf *err);

/* Reads and checks everything: shapes, class list, label range, finite
 * values. On failure the message names the file and what is wrong. */
int pose_sequence_load(const char *path, struct pose_sequence *ret_seq, struct errbuf *err);

/* ---- the pose archive (archive.c, archive_codec.c) ------------------------ */

/* A rolling store of every person track's keypoints, never frames: one
 * folder per stream of append-only files, each a run of self-checking chunks
 * (docs/SERVICE.md, "The pose archive"). A chunk is
 *
 *   "CPA1" u32 records u32 raw_size u32 packed_size f64 t_first f64 t_last
 *   u32 CRC-32 (zlib) of the 32 bytes before it and of the payload
 *   packed_size bytes: zlib of the raw records
 *
 * little-endian. The raw records are sorted by track and time, each field a
 * difference from the same track's previous record, laid out one byte plane
 * after another: track (u32), milliseconds after t_first (u32), then per
 * keypoint x, y (u16, 0..POSE_ARCHIVE_XY_STEPS for 0..1) and score (u8,
 * 0..POSE_ARCHIVE_SCORE_STEPS). A reader
 * stops at a file's first chunk that is short, fails its checksum or does
 * not inflate: a torn tail (a kill, a full disk) costs that chunk only. */
#define POSE_ARCHIVE_CHUNK_HEADER 36
#define POSE_ARCHIVE_RECORD_RAW   (8 + POSE_NUM_KEYPOINTS * 5) /* raw bytes a record */
#define POSE_ARCHIVE_CHUNK_MAX    65536                        /* records a chunk holds at most */
#define POSE_ARCHIVE_SUFFIX       ".cpa"
/* Steps of a coordinate over the frame: 0.47 px of a 1920-pixel picture,
 * far below a pose estimator's own jitter, and the differences stay small
 * enough for zlib to pack them into a byte or less. */
#define POSE_ARCHIVE_XY_STEPS    4095
#define POSE_ARCHIVE_SCORE_STEPS 255

/* One person track's keypoints in one frame, on the wall clock. */
struct pose_archive_record {
    double wall; /* seconds since the epoch (kept to the millisecond) */
    uint32_t track;
    struct pose_keypoint keypoints[POSE_NUM_KEYPOINTS];
};

/* The payload of a chunk (or of a label's copy in the state store): n
 * records quantised and compressed, as a new malloc'd buffer; *ret_t_first is
 * the time the others count from. recs is sorted in place (track, time). */
int pose_archive_encode(struct pose_archive_record *recs, size_t n, void **ret_data,
                        size_t *ret_size, double *ret_t_first);
/* Reverses pose_archive_encode: n records (raw_size = n x RECORD_RAW) as a
 * new malloc'd array sorted by track and time. -EBADMSG when it does not
 * inflate to that. */
int pose_archive_decode(const void *data, size_t size, size_t n, double t_first,
                        struct pose_archive_record **ret_recs, struct errbuf *err);

struct pose_archive_options {
    double retention_days; /* files whose last write is older go; <= 0: kept */
    uint64_t max_bytes;    /* the folder's cap: the oldest files go first; 0: none */
    double chunk_s;        /* a chunk is written once its first record is this old (10) */
};

/* What the writer did, since it opened. */
struct pose_archive_stats {
    uint64_t bytes;           /* the folder's files now */
    uint64_t files;           /* likewise */
    uint64_t records, chunks; /* written */
    uint64_t dropped;         /* records lost to failed writes */
    uint64_t failed_writes;
    uint64_t pruned_files; /* removed by retention or the cap */
    char error[256];       /* why the last write failed; "" while writes succeed */
};

/* The writer of one stream's folder (made when missing). Each open starts a
 * new file, so a torn tail left by a kill is never written after. Safe to
 * call from several threads. */
struct pose_archive;
int pose_archive_open(const char *dir, const struct pose_archive_options *opts,
                      struct pose_archive **ret_archive, struct errbuf *err);
/* Writes what is buffered and closes. */
struct pose_archive *pose_archive_close(struct pose_archive *a);
/* Buffers one record; writes a chunk when the buffer is old or full. A
 * failed write is counted (stats), its records dropped, and never stops the
 * caller: returns the write's error, 0 otherwise. */
int pose_archive_append(struct pose_archive *a, const struct pose_archive_record *rec);
/* Writes what is buffered now (a reader is about to look). */
int pose_archive_flush(struct pose_archive *a, struct errbuf *err);
void pose_archive_stats(struct pose_archive *a, struct pose_archive_stats *ret_stats);

/* Deletes a folder's archive files and the folder (when nothing else is in
 * it); a missing folder is fine. No writer may have it open. */
int pose_archive_remove(const char *dir, struct errbuf *err);

/* What a read met. */
struct pose_archive_read_report {
    unsigned files, chunks;
    unsigned bad_chunks; /* where a file's reading stopped: torn, failed checksum */
};

/* The records of a folder with until >= wall >= since, of one track (0: any),
 * sorted by track and time, as a new malloc'd array (NULL, 0 when none). A
 * missing folder has none; a bad chunk ends its file's reading (counted in
 * report, which may be NULL). Files last modified before since are not
 * read: records are stamped no later than they are written. */
int pose_archive_read(const char *dir, double since, double until, uint32_t track,
                      struct pose_archive_record **ret_recs, size_t *ret_n,
                      struct pose_archive_read_report *report, struct errbuf *err);

/* ---- classification metrics (metrics.c) ----------------------------------- */

/* A confusion matrix: counts[truth * n_classes + predicted]. */
struct confusion {
    int n_classes;
    int64_t *counts;
};

int confusion_init(struct confusion *cm, int n_classes);
void confusion_done(struct confusion *cm);
void confusion_reset(struct confusion *cm);
/* Ignores (and returns -EINVAL for) a class index outside the matrix. */
int confusion_add(struct confusion *cm, int truth, int predicted);
int64_t confusion_total(const struct confusion *cm);
int64_t confusion_class_total(const struct confusion *cm, int truth);
/* Recall of one class; NAN when the class has no samples. */
double confusion_recall(const struct confusion *cm, int truth);
double confusion_accuracy(const struct confusion *cm);
/* The benchmark metric: the mean over classes of each class's recall, over
 * the classes that have samples and that scored[] marks (NULL: all).
 * ret_classes (may be NULL) receives how many classes were averaged. */
double confusion_mean_class_accuracy(const struct confusion *cm, const bool *scored,
                                     int *ret_classes);

/* ---- motion capture: BVH and ASF/AMC (mocap.c, bvh.c, asf_amc.c) --------- */

/* Real human motion as a skeleton and joint positions per frame, in metres,
 * in the file's own axes (CMU and HDM05: Y up). docs/MOCAP.md describes the
 * formats, the units and what the readers check. */
#define MOCAP_MAX_JOINTS  256          /* joints a file may declare (BVH: End Sites too) */
#define MOCAP_NAME_MAX    32           /* bytes of a joint name, with its NUL */
#define MOCAP_MAX_FRAMES  432000       /* an hour at 120 fps */
#define MOCAP_MAX_SAMPLES (1 << 25)    /* frames x joints: 384 MiB of positions */
#define MOCAP_MAX_FILE    (512L << 20) /* bytes of a file */

struct mocap_clip {
    int n_joints;
    char (*names)[MOCAP_NAME_MAX]; /* [n_joints] */
    int *parent;                   /* [n_joints]: -1 for a root, else < the joint's index */
    int frames;
    double frame_time;     /* seconds between frames */
    double scale;          /* metres per file unit, as applied */
    char unit[64];         /* where scale came from, for people */
    float (*positions)[3]; /* [frames * n_joints]: frame f, joint j at f * n_joints + j */
};

/* metres per file unit for a scale argument of 0: taken from the file (ASF
 * `:units length`) or, when the file does not say, detected from the height
 * of the rest pose (m, cm, mm, inches, feet or CMU units, whichever makes it
 * a standing adult's height). */
#define MOCAP_SCALE_AUTO 0.0
/* CMU's ASF/AMC and CMU-derived BVH: inches x 0.45 (mocap.cs.cmu.edu FAQ). */
#define MOCAP_SCALE_CMU (0.0254 / 0.45)

/* A BVH file (HIERARCHY and MOTION). End Sites become joints named after
 * their parent with "_end". A malformed file fails with -EBADMSG and a
 * message "path:line: what is wrong". */
int mocap_bvh_load(const char *path, double scale, struct mocap_clip *ret_clip, struct errbuf *err);

/* An ASF skeleton and an AMC motion of it; fps is the capture rate, which
 * AMC files do not store (CMU: 120, subject 79: 60). Joints are the root and
 * the bones (positions at each bone's far end), parents before children. */
int mocap_asf_amc_load(const char *asf_path, const char *amc_path, double fps, double scale,
                       struct mocap_clip *ret_clip, struct errbuf *err);

void mocap_clip_done(struct mocap_clip *clip);
/* Index of a joint by name, or -ENOENT. */
int mocap_joint_find(const struct mocap_clip *clip, const char *name);

static inline const float *mocap_clip_position(const struct mocap_clip *clip, int frame, int joint)
{
    return clip->positions[(size_t)frame * (size_t)clip->n_joints + (size_t)joint];
}

/* ---- motion capture to pose sequences (mocap_coco.c, mocap_view.c) ------- */

/* The joints of a skeleton that give COCO-17 (docs/MOCAP.md has the names
 * under each naming): the limbs' six pairs and the head's two points, from
 * which the face comes. */
enum mocap_coco_source {
    MOCAP_LEFT_HIP,
    MOCAP_RIGHT_HIP,
    MOCAP_LEFT_KNEE,
    MOCAP_RIGHT_KNEE,
    MOCAP_LEFT_ANKLE,
    MOCAP_RIGHT_ANKLE,
    MOCAP_LEFT_SHOULDER,
    MOCAP_RIGHT_SHOULDER,
    MOCAP_LEFT_ELBOW,
    MOCAP_RIGHT_ELBOW,
    MOCAP_LEFT_WRIST,
    MOCAP_RIGHT_WRIST,
    MOCAP_HEAD_BASE, /* where the neck meets the head */
    MOCAP_HEAD_TOP,  /* the crown */
    MOCAP_COCO_SOURCES,
};

struct mocap_coco_map {
    const char *skeleton;          /* the naming that fitted, for people */
    int joint[MOCAP_COCO_SOURCES]; /* the clip's joint for each source */
    double height;                 /* standing height from the bones, m */
};

/* Finds the naming the clip's joints follow (CMU/HDM05 ASF/AMC, CMU's two
 * BVH conversions); -ENOENT naming the closest one and the joints it lacks. */
int mocap_coco_map_find(const struct mocap_clip *clip, struct mocap_coco_map *ret_map,
                        struct errbuf *err);

/* Frames at fps of a clip of N frames at R fps: floor(N fps / R), at least 1;
 * frame k is at k / fps seconds. */
int mocap_resampled_frames(const struct mocap_clip *clip, double fps);

/* COCO-17 in the world at a time (linear between captured frames), metres,
 * the clip's axes (Y up), with the body's centre (mid-hip) and its
 * horizontal left and forward directions. */
struct mocap_coco_pose {
    double points[POSE_NUM_KEYPOINTS][3];
    double pelvis[3], left[3], front[3];
};
void mocap_coco_world(const struct mocap_clip *clip, const struct mocap_coco_map *map,
                      double seconds, struct mocap_coco_pose *ret_pose);

/* A camera in the clip's axes: a pinhole at position looking at target, no
 * roll, hfov degrees wide, a 4:3 picture. */
struct mocap_camera {
    double position[3], target[3];
    double hfov;
};

/* What mocap_camera_random draws: 1.8-2.8 m up, 1.5-4.5 m (on the floor)
 * beyond the farthest the pelvis goes from its track's centre, any azimuth,
 * 55-85 degrees wide, aimed 0.5-1.2 m up within 0.6 m of the centre. */
#define MOCAP_CAMERA_MIN_HEIGHT 1.8
#define MOCAP_CAMERA_MAX_HEIGHT 2.8
#define MOCAP_CAMERA_MIN_GAP    1.5
#define MOCAP_CAMERA_MAX_GAP    4.5
#define MOCAP_CAMERA_MIN_HFOV   55.0
#define MOCAP_CAMERA_MAX_HFOV   85.0

/* The random numbers of one (seed, clip, camera): independent of the other
 * clips and cameras, so adding a clip changes no other file. */
void mocap_view_seed(struct rng *rng, uint64_t seed, const char *clip_key, int camera);
void mocap_camera_random(struct mocap_camera *ret_cam, const struct mocap_clip *clip,
                         const struct mocap_coco_map *map, struct rng *rng);

/* Fills seq->keypoints (seq made by pose_sequence_init with
 * mocap_resampled_frames(clip, fps) frames at fps) with what a pose
 * estimator reports through the camera: synth's defects at noise (0 clean,
 * 1 as crt synth's default; 0..4). Labels are the caller's. */
int mocap_view_render(struct pose_sequence *seq, const struct mocap_clip *clip,
                      const struct mocap_coco_map *map, const struct mocap_camera *cam,
                      double noise, struct rng *rng, struct errbuf *err);

/* ---- an index of motion-capture files (mocap_index.c) --------------------- */

/* Where a clip comes from, and what its licence lets the project do. */
enum mocap_source {
    MOCAP_SOURCE_CMU,   /* mocap.cs.cmu.edu: free for all uses, with its acknowledgement */
    MOCAP_SOURCE_HDM05, /* HDM05, CC BY-SA 3.0: evaluation only */
    MOCAP_SOURCE_COUNT,
};

struct mocap_source_info {
    const char *name;            /* "cmu", "hdm05" */
    const char *acknowledgement; /* the text its terms ask for */
    bool training;               /* may train the model the project ships */
};

const struct mocap_source_info *mocap_source_info(enum mocap_source source);
int mocap_source_parse(const char *name, enum mocap_source *ret_source);

/* A TSV with a header line naming its columns; file, cmu_subject_trial,
 * activity and fps are used (cmu_description when there), as in
 * ../shared/mocap/index.tsv. A row's file is relative to the index's
 * folder; activity is a Smarthome class or "skeleton" (an ASF that AMC
 * rows of the same subject in the same folder use). */
struct mocap_index_row {
    int line; /* in the index file */
    char file[512];
    char trial[128]; /* cmu_subject_trial: "13_09", "HDM05 HDM_mm_lieDownFloor_015_120" */
    char description[128];
    char activity[48];
    int class_index;          /* into smarthome_classes; -1 for a skeleton */
    double fps;               /* capture rate; 0 when the row gives none */
    char subject[32];         /* "13" from 13_09, "mm" from HDM05's HDM_mm_... or "actor mm" */
    enum mocap_source source; /* HDM05 when cmu_subject_trial starts "HDM05", else CMU */
};

struct mocap_index {
    char path[4096];
    char dir[4096]; /* the folder the rows' files are in */
    int n;
    struct mocap_index_row *rows;
};

/* Reads an index; -EBADMSG with "path:line (file): why" for a row whose
 * activity is not a Smarthome class, whose fps is not a rate, or that
 * names no file; a header without the four columns is refused. */
int mocap_index_load(const char *path, struct mocap_index *ret_index, struct errbuf *err);
void mocap_index_done(struct mocap_index *index);
/* The path of a row's file: the index's folder joined with it. */
int mocap_index_row_path(const struct mocap_index *index, int row, char *out, size_t size);
/* Marks in selected[n] the clip rows (not skeletons) that path is (a file)
 * or holds (a folder, by name, so a listed file that is missing is still
 * chosen and then named when read); *ret_count gets how many were newly
 * marked. A file that is no row's clip fails with -ENOENT. */
int mocap_index_select(const struct mocap_index *index, const char *path, bool *selected,
                       int *ret_count, struct errbuf *err);
/* The skeleton row of an AMC clip's row: an .asf row of the same source and
 * subject, in the clip's folder if there is one there, else the first in
 * another folder (the same person's skeleton, from another copy of CMU:
 * ../shared/mocap has 35.asf in one folder and 35_06-10.amc in another);
 * -ENOENT naming the row when there is none. */
int mocap_index_skeleton(const struct mocap_index *index, int row, struct errbuf *err);
/* Reads a row's clip: a BVH, or an AMC with its skeleton's ASF at the
 * row's fps; units from the files (MOCAP_SCALE_AUTO). */
int mocap_index_load_clip(const struct mocap_index *index, int row, struct mocap_clip *ret_clip,
                          struct errbuf *err);
/* "<activity>_s<subject>_c<camera, 2 digits>_<trial>.pose", so that files
 * split by subject or camera by name. */
int mocap_index_pose_name(const struct mocap_index_row *row, const char *activity, int camera,
                          char *out, size_t size);

#endif
