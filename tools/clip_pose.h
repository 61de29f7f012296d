/* clip_pose: one video file through crtd's own front end — decode, sample by
 * timestamp, MoveNet with the tracking crop (or everyone a multi-person
 * model finds) — into keypoints per frame, as `crt extract` caches them and
 * `crt classify` and `crt track` stream them. */
#ifndef CRTD_TOOLS_CLIP_POSE_H
#define CRTD_TOOLS_CLIP_POSE_H

#include "pose.h"
#include "video.h"

/* The motion gate on a clip, as crtd runs it (video.h, "the pose gate"):
 * no pose while nobody is in view and nothing moves, still_pose_fps on a
 * person in view who keeps still, the last pose result held in between.
 * The callbacks see every sampled frame either way; a frame pose did not
 * run on carries the held result (its frame.data is NULL: not converted). */
struct clip_pose_gate {
    double still_pose_fps; /* > 0; a NULL gate: pose on every sampled frame */
    /* Who is in view, for clip_pose_read_people: the caller's tracker (NULL:
     * anyone in the last detections counts as a person). */
    enum video_pose_view (*view)(void *ctx);
    /* Counted by the read: */
    uint64_t sampled;     /* sampled frames */
    uint64_t gated;       /* of them, frames the motion gate found still */
    uint64_t pose_frames; /* of them, frames given to pose */
};

/* Who a tracker has in view, as crtd sees it: a confirmed track, only
 * tentative ones, or none. */
enum video_pose_view clip_pose_tracker_view(const struct pose_tracker *tracker);

/* Called for every sampled frame; return non-zero to stop reading. */
typedef int (*clip_pose_frame_fn)(void *ctx, const struct video_frame *frame,
                                  const struct pose_result *pose);

/* Reads path to its end at fps, running pose on every sampled frame (or as
 * the gate says, when not NULL) with context (reset first: a clip starts
 * untracked). Returns the number of frames, or a negative errno with a
 * message naming the file. */
int clip_pose_read(const char *path, double fps, struct pose_context *context,
                   struct clip_pose_gate *gate, clip_pose_frame_fn on_frame, void *ctx,
                   struct errbuf *err);

/* Called for every sampled frame with everyone pose_run_people found. */
typedef int (*clip_pose_people_fn)(void *ctx, const struct video_frame *frame,
                                   const struct pose_person *people, int n);

/* The same with pose_run_people at side (a multi-person model sees the whole
 * frame; a single-person one gives 0 or 1 person, tracked by its crop). */
int clip_pose_read_people(const char *path, double fps, struct pose_context *context, int side,
                          struct clip_pose_gate *gate, clip_pose_people_fn on_people, void *ctx,
                          struct errbuf *err);

/* A 64-bit FNV-1a of the whole file, as hex, so a cache can tell whether the
 * clip it was made from has changed. */
int clip_pose_checksum(const char *path, char out[17], struct errbuf *err);

#endif
