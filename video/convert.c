/* convert: decoded frames to RGB24 by swscale, at the size the caller wants.
 *
 * Scaling and pixel formats as in FFmpeg's doc/examples: the scaler is made
 * for one source size and format and kept while they stay the same, so a
 * stream pays for its setup once, not per frame. */
#include "stream_internal.h"

#include <math.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#define RGB_ROW_ALIGN 32
/* swscale's packed-RGB writers store whole SIMD words and may run up to this
 * many bytes past the last pixel of the last row (a 548x342 JPEG did). */
#define RGB_TAIL_PADDING 64

void convert_init(struct convert *c)
{
    *c = (struct convert){.sws_fmt = AV_PIX_FMT_NONE};
}

void convert_done(struct convert *c)
{
    sws_freeContext(c->sws);
    c->sws = NULL;
    av_free(c->rgb);
    c->rgb = NULL;
}

/* The RGB size for a source frame: long side capped, display aspect kept. */
void convert_output_size(const AVFrame *f, int max_side, int *ret_w, int *ret_h)
{
    double w = f->width, h = f->height;
    AVRational sar = f->sample_aspect_ratio;
    if (sar.num > 0 && sar.den > 0 && sar.num != sar.den)
        w = w * sar.num / sar.den;
    double long_side = fmax(w, h);
    double scale = 1;
    if (max_side > 0 && long_side > max_side)
        scale = max_side / long_side;
    *ret_w = (int)fmax(1, lround(w * scale));
    *ret_h = (int)fmax(1, lround(h * scale));
}

/* FFmpeg's "J" formats are the plain ones in full range. */
static enum AVPixelFormat unjpeg_format(enum AVPixelFormat fmt, bool *full_range)
{
    switch (fmt) {
    case AV_PIX_FMT_YUVJ420P:
        *full_range = true;
        return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
        *full_range = true;
        return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
        *full_range = true;
        return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
        *full_range = true;
        return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
        *full_range = true;
        return AV_PIX_FMT_YUV411P;
    default:
        return fmt;
    }
}

int convert_frame(struct convert *c, const AVFrame *src, int max_side, const char *name,
                  struct errbuf *err)
{
    bool full_range = src->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat fmt = unjpeg_format(src->format, &full_range);
    int colorspace = src->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT;
    int dw, dh;

    convert_output_size(src, max_side, &dw, &dh);
    if (dw != c->rgb_w || dh != c->rgb_h) {
        int stride = FFALIGN(dw * 3, RGB_ROW_ALIGN);
        size_t size = (size_t)stride * (size_t)dh + RGB_TAIL_PADDING;
        if (size > c->rgb_size) {
            uint8_t *buf = av_malloc(size);
            if (!buf)
                return errbuf_set(err, -ENOMEM, "'%s': out of memory for a %dx%d frame", name, dw,
                                  dh);
            av_free(c->rgb);
            c->rgb = buf;
            c->rgb_size = size;
        }
        c->rgb_w = dw;
        c->rgb_h = dh;
        c->rgb_stride = stride;
        sws_freeContext(c->sws); /* the destination changed */
        c->sws = NULL;
    }
    if (!c->sws || src->width != c->sws_w || src->height != c->sws_h || (int)fmt != c->sws_fmt ||
        (int)full_range != c->sws_full_range || colorspace != c->sws_colorspace) {
        sws_freeContext(c->sws);
        c->sws = sws_getContext(src->width, src->height, fmt, dw, dh, AV_PIX_FMT_RGB24,
                                SWS_BILINEAR, NULL, NULL, NULL);
        if (!c->sws)
            return errbuf_set(err, -ENOTSUP, "'%s': cannot convert %s %dx%d to RGB", name,
                              av_get_pix_fmt_name(fmt) ? av_get_pix_fmt_name(fmt) : "?", src->width,
                              src->height);
        const int *coefs = sws_getCoefficients(colorspace);
        sws_setColorspaceDetails(c->sws, coefs, full_range, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                 0, 1 << 16, 1 << 16);
        c->sws_w = src->width;
        c->sws_h = src->height;
        c->sws_fmt = fmt;
        c->sws_full_range = full_range;
        c->sws_colorspace = colorspace;
    }
    uint8_t *dst[4] = {c->rgb, NULL, NULL, NULL};
    int dst_stride[4] = {c->rgb_stride, 0, 0, 0};
    int r = sws_scale(c->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst,
                      dst_stride);
    if (r < 0)
        return errbuf_set(err, r, "'%s': conversion to RGB failed: %s", name, av_err2str(r));
    return 0;
}
