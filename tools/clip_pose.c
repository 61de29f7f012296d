/* clip_pose: a video file to keypoints per sampled frame. */
#include "clip_pose.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>

/* The one decode loop: pose_run for on_frame, pose_run_people for on_people. */
static int read_frames(const char *path, double fps, struct pose_context *context, int side,
                       clip_pose_frame_fn on_frame, clip_pose_people_fn on_people, void *ctx,
                       struct errbuf *err)
{
    struct video_options opts;
    struct video_stream *stream = NULL;
    int frames = 0, r;

    video_options_init(&opts);
    opts.fps = fps;
    opts.reconnect = VIDEO_RECONNECT_NEVER;
    r = video_stream_new(path, &opts, &stream, err);
    if (r < 0)
        return r;
    pose_context_reset(context);
    for (;;) {
        struct video_frame frame;
        struct pose_result pose;
        struct pose_person people[POSE_MAX_PEOPLE];
        int n = 0, stop;
        r = video_stream_read(stream, &frame, err);
        if (r == AVERROR_EOF) {
            r = frames;
            break;
        }
        if (r < 0)
            break;
        if (on_people)
            r = pose_run_people(context, frame.data, frame.width, frame.height, frame.stride, side,
                                people, &n, err);
        else
            r = pose_run(context, frame.data, frame.width, frame.height, frame.stride, &pose, err);
        if (r < 0)
            break;
        frames++;
        stop = on_people ? on_people(ctx, &frame, people, n)
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
                   clip_pose_frame_fn on_frame, void *ctx, struct errbuf *err)
{
    return read_frames(path, fps, context, 0, on_frame, NULL, ctx, err);
}

int clip_pose_read_people(const char *path, double fps, struct pose_context *context, int side,
                          clip_pose_people_fn on_people, void *ctx, struct errbuf *err)
{
    return read_frames(path, fps, context, side, NULL, on_people, ctx, err);
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
