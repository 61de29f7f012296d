/* media: every frame of an image or a video file, in decoding order, as
 * RGB24 at the source size. For the tools and tests (crt pose reads a
 * photograph or a clip with it); the daemon reads its sources as streams
 * (stream.c), whose sampling, deadlines and reconnecting a file on disk does
 * not need. */
#include "video.h"

#include <stdbool.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

struct video_media {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    AVFrame *rgb;
    struct SwsContext *sws;
    int stream;
    bool draining, done;
};

static int media_fail(struct errbuf *err, int code, const char *what, const char *path)
{
    char text[128];

    av_strerror(code, text, sizeof(text));
    return errbuf_set(err, code, "%s: %s: %s", path, what, text);
}

int video_media_open(const char *path, struct video_media **ret_media, struct errbuf *err)
{
    struct video_media *m = calloc(1, sizeof(*m));
    const AVCodec *codec = NULL;
    int r;

    if (!m)
        return errbuf_set(err, -ENOMEM, "%s: out of memory", path);
    r = avformat_open_input(&m->fmt, path, NULL, NULL);
    if (r < 0) {
        r = media_fail(err, r, "cannot open", path);
        goto fail;
    }
    r = avformat_find_stream_info(m->fmt, NULL);
    if (r < 0) {
        r = media_fail(err, r, "cannot read stream info", path);
        goto fail;
    }
    r = av_find_best_stream(m->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (r < 0) {
        r = media_fail(err, r, "no video stream or image", path);
        goto fail;
    }
    m->stream = r;
    m->dec = avcodec_alloc_context3(codec);
    m->pkt = av_packet_alloc();
    m->frame = av_frame_alloc();
    m->rgb = av_frame_alloc();
    if (!m->dec || !m->pkt || !m->frame || !m->rgb) {
        r = errbuf_set(err, -ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    r = avcodec_parameters_to_context(m->dec, m->fmt->streams[m->stream]->codecpar);
    if (r >= 0)
        r = avcodec_open2(m->dec, codec, NULL);
    if (r < 0) {
        r = media_fail(err, r, "cannot open the decoder", path);
        goto fail;
    }
    *ret_media = m;
    return 0;
fail:
    video_media_free(m);
    return r;
}

struct video_media *video_media_free(struct video_media *m)
{
    if (!m)
        return NULL;
    sws_freeContext(m->sws);
    av_frame_free(&m->rgb);
    av_frame_free(&m->frame);
    av_packet_free(&m->pkt);
    avcodec_free_context(&m->dec);
    avformat_close_input(&m->fmt);
    free(m);
    return NULL;
}

static int media_convert(struct video_media *m, struct errbuf *err)
{
    AVFrame *f = m->frame;
    int r;

    if (m->rgb->width != f->width || m->rgb->height != f->height || !m->rgb->data[0]) {
        av_frame_unref(m->rgb);
        m->rgb->format = AV_PIX_FMT_RGB24;
        m->rgb->width = f->width;
        m->rgb->height = f->height;
        r = av_frame_get_buffer(m->rgb, 0);
        if (r < 0)
            return media_fail(err, r, "cannot allocate a frame", "decoder");
    }
    m->sws = sws_getCachedContext(m->sws, f->width, f->height, f->format, f->width, f->height,
                                  AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
    if (!m->sws)
        return errbuf_set(err, -EINVAL, "cannot convert pixel format %d to RGB24", f->format);
    sws_scale(m->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, m->rgb->data,
              m->rgb->linesize);
    return 0;
}

int video_media_read(struct video_media *m, const uint8_t **ret_rgb, int *ret_width,
                     int *ret_height, int *ret_stride, double *ret_seconds, struct errbuf *err)
{
    int r;

    while (!m->done) {
        r = avcodec_receive_frame(m->dec, m->frame);
        if (r == 0) {
            r = media_convert(m, err);
            if (r < 0)
                return r;
            AVRational tb = m->fmt->streams[m->stream]->time_base;
            int64_t pts = m->frame->best_effort_timestamp;
            *ret_rgb = m->rgb->data[0];
            *ret_width = m->rgb->width;
            *ret_height = m->rgb->height;
            *ret_stride = m->rgb->linesize[0];
            *ret_seconds = pts == AV_NOPTS_VALUE ? 0 : pts * av_q2d(tb);
            av_frame_unref(m->frame);
            return 1;
        }
        if (r == AVERROR_EOF) {
            m->done = true;
            break;
        }
        if (r != AVERROR(EAGAIN))
            return media_fail(err, r, "decode failed", "decoder");
        if (m->draining) {
            m->done = true;
            break;
        }
        r = av_read_frame(m->fmt, m->pkt);
        if (r == AVERROR_EOF) {
            m->draining = true;
            avcodec_send_packet(m->dec, NULL);
            continue;
        }
        if (r < 0)
            return media_fail(err, r, "read failed", "demuxer");
        if (m->pkt->stream_index == m->stream)
            r = avcodec_send_packet(m->dec, m->pkt);
        av_packet_unref(m->pkt);
        if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_INVALIDDATA)
            return media_fail(err, r, "decode failed", "decoder");
    }
    return 0;
}
