/* clip_pose: a video file to keypoints per sampled frame. */
#include "clip_pose.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>

/* How long a single-person result stands for "someone in view" after the
 * last pose run that saw a person: the tracking crop's stand-in for the
 * tracker's confirmed track, so that one missed run on a person sitting
 * still does not stop pose until the next motion. */
#define SINGLE_LINGER_S 1.0

enum video_pose_view clip_pose_tracker_view(const struct pose_tracker *tracker)
{
    enum video_pose_view who = VIDEO_VIEW_NOBODY;
    for (int i = 0; i < pose_tracker_count(tracker); i++) {
        if (pose_tracker_track(tracker, i)->confirmed)
            return VIDEO_VIEW_PERSON;
        who = VIDEO_VIEW_TENTATIVE;
    }
    return who;
}

/* The one decode loop: pose_run for on_frame, pose_run_people for on_people. */
static int read_frames(const char *path, double fps, struct pose_context *context, int side,
                       struct clip_pose_gate *gate, clip_pose_frame_fn on_frame,
                       clip_pose_people_fn on_people, void *ctx, struct errbuf *err)
{
    struct video_options opts;
    struct video_stream *stream = NULL;
    struct video_pose_gate verdicts;
    struct pose_result pose = {0};
    struct pose_person people[POSE_MAX_PEOPLE];
    int n = 0, frames = 0, r; /* n: people of the last pose run */
    double seen_pts = -1e300; /* a single-person run last saw someone */

    video_options_init(&opts);
    opts.fps = fps;
    opts.reconnect = VIDEO_RECONNECT_NEVER;
    if (gate) {
        /* As in crtd: the gate on the decoded luma, RGB for pose's frames only. */
        opts.motion = true;
        opts.convert_on_demand = true;
        video_pose_gate_init(&verdicts, gate->still_pose_fps, fps);
        gate->sampled = gate->gated = gate->pose_frames = 0;
    }
    r = video_stream_new(path, &opts, &stream, err);
    if (r < 0)
        return r;
    pose_context_reset(context);
    for (;;) {
        struct video_frame frame;
        int stop;
        bool run = true, hold = false;
        r = video_stream_read(stream, &frame, err);
        if (r == AVERROR_EOF) {
            r = frames;
            break;
        }
        if (r < 0)
            break;
        if (gate) {
            enum video_pose_view view;
            if (on_people)
                view = gate->view ? gate->view(ctx) : n > 0 ? VIDEO_VIEW_PERSON : VIDEO_VIEW_NOBODY;
            else
                view =
                    frame.pts - seen_pts <= SINGLE_LINGER_S ? VIDEO_VIEW_PERSON : VIDEO_VIEW_NOBODY;
            video_pose_gate_decide(&verdicts, &frame.motion, frame.pts, view, &run, &hold);
            gate->sampled++;
            gate->gated += frame.motion.computed && !frame.motion.moved && !frame.motion.reset;
            if (run && (r = video_stream_convert(stream, &frame, err)) < 0)
                break;
        }
        if (run) {
            if (on_people)
                r = pose_run_people(context, frame.data, frame.width, frame.height, frame.stride,
                                    side, people, &n, err);
            else
                r = pose_run(context, frame.data, frame.width, frame.height, frame.stride, &pose,
                             err);
            if (r < 0)
                break;
            if (gate) {
                video_pose_gate_posed(&verdicts, frame.pts);
                gate->pose_frames++;
            }
            if (!on_people && pose.person)
                seen_pts = frame.pts;
        }
        /* A frame without pose goes on with the last result held (a
         * single-person one: the person, or nobody), or with nobody, so
         * that the tracker's and the segments' clocks run on. */
        frames++;
        stop = on_people ? on_people(ctx, &frame, people, run || hold ? n : 0)
                         : on_frame && on_frame(ctx, &frame, &pose);
        if (stop) {
            r = frames;
            break;
        }
    }
    video_stream_free(stream);
    return r;
}

int clip_pose_read(const char *path, double fps, struct pose_context *context,
                   struct clip_pose_gate *gate, clip_pose_frame_fn on_frame, void *ctx,
                   struct errbuf *err)
{
    return read_frames(path, fps, context, 0, gate, on_frame, NULL, ctx, err);
}

int clip_pose_read_people(const char *path, double fps, struct pose_context *context, int side,
                          struct clip_pose_gate *gate, clip_pose_people_fn on_people, void *ctx,
                          struct errbuf *err)
{
    return read_frames(path, fps, context, side, gate, NULL, on_people, ctx, err);
}

int clip_pose_checksum(const char *path, char out[17], struct errbuf *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
    uint64_t h = FNV1A64_INIT;
    unsigned char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
        h = fnv1a64(h, buf, (size_t)n);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}
