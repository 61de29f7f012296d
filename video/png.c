/* png: packed RGB24 written as a PNG file by FFmpeg's PNG encoder (the
 * pictures of crt pose --draw). */
#include "video.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>

static int png_fail(struct errbuf *err, int code, const char *what, const char *path)
{
    char text[128];

    av_strerror(code, text, sizeof(text));
    return errbuf_set(err, code, "%s: %s: %s", path, what, text);
}

int video_png_write(const char *path, const uint8_t *rgb, int width, int height, int stride,
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
        r = png_fail(err, r, "cannot open the PNG encoder", path);
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
        r = png_fail(err, r, "PNG encoding failed", path);
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
