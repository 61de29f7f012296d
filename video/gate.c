/* gate: the motion gate on a stream's sampled frames, and their conversion
 * to RGB, on every frame or only on the caller's demand.
 *
 * The gate reads the decoded frame's luma plane where it has one (the Y of
 * planar, semi-planar and packed 8-bit YUV, or grey), so that a frame where
 * nothing moves costs no colour conversion; other formats (RGB, 10-bit) are
 * converted first and gated on the RGB. */
#include "stream_internal.h"

#include <time.h>

#include <libavutil/pixdesc.h>

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The 8-bit luma samples of a software frame, when it has them. */
static bool luma_of(const AVFrame *f, const uint8_t **ret_data, int *ret_stride, int *ret_step)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    if (!d || d->nb_components < 1 ||
        (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM |
                     AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BAYER | AV_PIX_FMT_FLAG_FLOAT)))
        return false;
    const AVComponentDescriptor *y = &d->comp[0];
    if (y->depth != 8 || y->shift != 0 || y->step < 1 || y->step > 4 || !f->data[y->plane])
        return false;
    *ret_data = f->data[y->plane] + y->offset;
    *ret_stride = f->linesize[y->plane];
    *ret_step = y->step;
    return true;
}

int gate_convert(struct video_stream *s, const AVFrame *src, struct errbuf *err)
{
    int64_t t0 = thread_cpu_ns();
    int r = convert_frame(&s->conv, src, s->opts.max_side, s->name, err);
    if (r < 0)
        return r;
    int64_t dt = thread_cpu_ns() - t0;
    pthread_mutex_lock(&s->lock);
    s->stats.converted++;
    s->stats.convert_ns += (uint64_t)dt;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int gate_frame(struct video_stream *s, const AVFrame *src, struct video_motion_result *ret_result,
               bool *ret_converted, struct errbuf *err)
{
    const uint8_t *luma;
    int stride, step, r;
    int64_t t0;

    if (luma_of(src, &luma, &stride, &step)) {
        t0 = thread_cpu_ns();
        r = video_motion_push_luma(s->motion, luma, src->width, src->height, stride, step,
                                   ret_result);
    } else {
        r = gate_convert(s, src, err);
        if (r < 0)
            return r;
        *ret_converted = true;
        t0 = thread_cpu_ns();
        r = video_motion_push_rgb24(s->motion, s->conv.rgb, s->conv.rgb_w, s->conv.rgb_h,
                                    s->conv.rgb_stride, ret_result);
    }
    if (r < 0)
        return errbuf_set(
            err, r, "'%s': motion gate: cannot read a %dx%d %s frame", s->name, src->width,
            src->height, av_get_pix_fmt_name(src->format) ? av_get_pix_fmt_name(src->format) : "?");
    int64_t dt = thread_cpu_ns() - t0;
    pthread_mutex_lock(&s->lock);
    s->stats.gate_ns += (uint64_t)dt;
    if (!ret_result->moved && !ret_result->reset)
        s->stats.gated++;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void gate_release(struct video_stream *s)
{
    if (s->held == s->frame)
        av_frame_unref(s->frame);
    s->held = NULL;
}

int video_stream_convert(struct video_stream *s, struct video_frame *frame, struct errbuf *err)
{
    if (frame->data)
        return 0;
    if (!s->held || frame->index != s->held_index)
        return errbuf_set(err, -ESTALE,
                          "'%s': frame %lld is no longer kept (convert it before the next read)",
                          s->name, (long long)frame->index);
    int r = gate_convert(s, s->held, err);
    if (r < 0)
        return r;
    frame->data = s->conv.rgb;
    frame->width = s->conv.rgb_w;
    frame->height = s->conv.rgb_h;
    frame->stride = s->conv.rgb_stride;
    return 0;
}

void video_pose_gate_init(struct video_pose_gate *g, double still_pose_fps, double fps)
{
    *g = (struct video_pose_gate){
        .still_interval = still_pose_fps > 0 ? 1 / still_pose_fps : 0,
        .slack = fps > 0 ? 0.5 / fps : 0,
    };
}

enum video_pose_verdict video_pose_gate_decide(const struct video_pose_gate *g,
                                               const struct video_motion_result *m, double pts,
                                               enum video_pose_view view, bool *ret_pose,
                                               bool *ret_hold)
{
    *ret_pose = true;
    *ret_hold = false;
    if (!m->computed || m->moved || m->reset)
        return VIDEO_POSE_MOVED;
    if (view == VIDEO_VIEW_NOBODY) {
        *ret_pose = false;
        return VIDEO_POSE_EMPTY;
    }
    /* A person who keeps still (lying after a fall, reading) stays in view
     * on the held detections. A tentative track (someone still when the
     * camera started) is confirmed by pose at this rate alone. */
    *ret_pose = !g->posed_any || pts - g->last_pose_pts >= g->still_interval - g->slack;
    *ret_hold = view == VIDEO_VIEW_PERSON;
    return VIDEO_POSE_STILL;
}

void video_pose_gate_posed(struct video_pose_gate *g, double pts)
{
    g->posed_any = true;
    g->last_pose_pts = pts;
}
