/* hwaccel: optional VAAPI decoding, with software decoding whenever the
 * hardware cannot do it (as in FFmpeg's doc/examples/hw_decode.c): no device,
 * a decoder without VAAPI, a stream the driver refuses, or a frame that
 * cannot be copied back. None of these fails the stream. */
#include "stream_internal.h"

#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>

static enum AVPixelFormat get_format_cb(AVCodecContext *ctx, const enum AVPixelFormat *fmts)
{
    struct video_stream *s = ctx->opaque;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == s->hw_pix_fmt)
            return *p;
    /* The hardware cannot take this stream: decode it in software. */
    log_debug("%s: VAAPI cannot decode this stream, decoding in software", s->name);
    s->hw_pix_fmt = AV_PIX_FMT_NONE;
    pthread_mutex_lock(&s->lock);
    s->stats.hwaccel_active = false;
    pthread_mutex_unlock(&s->lock);
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++) {
        const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(*p);
        if (desc && !(desc->flags & AV_PIX_FMT_FLAG_HWACCEL))
            return *p;
    }
    return AV_PIX_FMT_NONE;
}

void hwaccel_setup(struct video_stream *s, const AVCodec *codec)
{
    if (s->opts.hwaccel != VIDEO_HWACCEL_VAAPI || s->hw_broken)
        return;
    enum AVPixelFormat pix_fmt = AV_PIX_FMT_NONE;
    for (int i = 0;; i++) {
        const AVCodecHWConfig *cfg = avcodec_get_hw_config(codec, i);
        if (!cfg)
            break;
        if ((cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) &&
            cfg->device_type == AV_HWDEVICE_TYPE_VAAPI) {
            pix_fmt = cfg->pix_fmt;
            break;
        }
    }
    if (pix_fmt == AV_PIX_FMT_NONE) {
        log_debug("%s: decoder %s has no VAAPI support, decoding in software", s->name,
                  codec->name);
        return;
    }
    int r = av_hwdevice_ctx_create(&s->hw_device_ctx, AV_HWDEVICE_TYPE_VAAPI, s->opts.hw_device,
                                   NULL, 0);
    if (r < 0) {
        log_debug("%s: no VAAPI device %s (%s), decoding in software", s->name,
                  s->opts.hw_device ? s->opts.hw_device : "(default)", av_err2str(r));
        return;
    }
    s->dec->hw_device_ctx = av_buffer_ref(s->hw_device_ctx);
    if (!s->dec->hw_device_ctx) {
        av_buffer_unref(&s->hw_device_ctx);
        return;
    }
    s->hw_pix_fmt = pix_fmt;
    s->dec->opaque = s;
    s->dec->get_format = get_format_cb;
}

int hwaccel_download(struct video_stream *s, const AVFrame *f, const AVFrame **ret_src,
                     struct errbuf *err)
{
    if (s->hw_pix_fmt == AV_PIX_FMT_NONE || f->format != s->hw_pix_fmt) {
        *ret_src = f;
        return 0;
    }
    /* Into the same system-memory frame each time: reallocated only when
     * the size changes. */
    if (s->sw_frame->buf[0] && (s->sw_frame->width != f->width || s->sw_frame->height != f->height))
        av_frame_unref(s->sw_frame);
    int r = av_hwframe_transfer_data(s->sw_frame, f, 0);
    if (r < 0) {
        stream_count(s, &s->stats.decode_errors);
        s->hw_broken = true; /* the next connection decodes in software */
        return errbuf_set(err, r, "'%s': copying a frame from the GPU: %s", s->name, av_err2str(r));
    }
    s->sw_frame->sample_aspect_ratio = f->sample_aspect_ratio;
    s->sw_frame->color_range = f->color_range;
    s->sw_frame->colorspace = f->colorspace;
    *ret_src = s->sw_frame;
    return 0;
}

void hwaccel_close(struct video_stream *s)
{
    av_buffer_unref(&s->hw_device_ctx);
    av_frame_unref(s->sw_frame);
    s->hw_pix_fmt = AV_PIX_FMT_NONE;
}
