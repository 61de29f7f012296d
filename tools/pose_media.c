/* pose_media: FFmpeg demux + decode + swscale to RGB24, and a PNG writer. */
#include <stdbool.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "pose_media.h"

struct pose_media {
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

int pose_media_open(const char *path, struct pose_media **ret_media, struct errbuf *err)
{
    struct pose_media *m = calloc(1, sizeof(*m));
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
    pose_media_close(m);
    return r;
}

struct pose_media *pose_media_close(struct pose_media *m)
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

static int media_convert(struct pose_media *m, struct errbuf *err)
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

int pose_media_read(struct pose_media *m, const uint8_t **ret_rgb, int *ret_width, int *ret_height,
                    int *ret_stride, double *ret_seconds, struct errbuf *err)
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

int pose_media_write_png(const char *path, const uint8_t *rgb, int width, int height, int stride,
                         struct errbuf *err)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    AVCodecContext *enc = NULL;
    AVFrame *frame = NULL;
    AVPacket *pkt = NULL;
    FILE *f = NULL;
    int r;

    if (!codec)
        return errbuf_set(err, -ENOSYS, "%s: FFmpeg has no PNG encoder", path);
    enc = avcodec_alloc_context3(codec);
    frame = av_frame_alloc();
    pkt = av_packet_alloc();
    if (!enc || !frame || !pkt) {
        r = errbuf_set(err, -ENOMEM, "%s: out of memory", path);
        goto done;
    }
    enc->width = width;
    enc->height = height;
    enc->pix_fmt = AV_PIX_FMT_RGB24;
    enc->time_base = (AVRational){1, 1};
    r = avcodec_open2(enc, codec, NULL);
    if (r < 0) {
        r = media_fail(err, r, "cannot open the PNG encoder", path);
        goto done;
    }
    frame->format = AV_PIX_FMT_RGB24;
    frame->width = width;
    frame->height = height;
    frame->data[0] = (uint8_t *)rgb;
    frame->linesize[0] = stride;
    r = avcodec_send_frame(enc, frame);
    if (r >= 0)
        r = avcodec_send_frame(enc, NULL);
    if (r >= 0)
        r = avcodec_receive_packet(enc, pkt);
    if (r < 0) {
        r = media_fail(err, r, "PNG encoding failed", path);
        goto done;
    }
    f = fopen(path, "wb");
    if (!f || fwrite(pkt->data, 1, (size_t)pkt->size, f) != (size_t)pkt->size) {
        r = errbuf_set(err, -errno ? -errno : -EIO, "%s: %s", path, strerror(errno ? errno : EIO));
        goto done;
    }
    r = 0;
done:
    if (f && fclose(f) != 0 && r == 0)
        r = errbuf_set(err, -EIO, "%s: write failed", path);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
    return r;
}
