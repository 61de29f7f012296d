/* safe_options: the FFmpeg options and demuxers that a service may take
 * from anyone allowed to add a camera. FFmpeg has options that open files
 * or URLs of their own (protocol_whitelist and format_whitelist widen what a
 * source may open, http_proxy and the TLS key and certificate files name
 * other places, lavfi's graph_file reads a file) and demuxers that follow
 * lists of other resources (concat, image2, sdp). An allow-list is the safe
 * side: each option named here takes a value of one kind only — a whole
 * number, flags or a word from a fixed set, a short word without '/' or ':'
 * — none of which can name a file or a URL. */
#include "video.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>

enum value_kind {
    VALUE_INTEGER, /* a whole number in [min, max] */
    VALUE_FLAGS,   /* words of `set` joined by '+' or '-' (FFmpeg's flags syntax) */
    VALUE_CHOICE,  /* one word of `set` */
    VALUE_WORD,    /* letters, digits, '_', '.', '-' (a pixel format, "640x480") */
    VALUE_RATE,    /* a frame rate: digits, with a '/' or '.' ("30000/1001") */
    VALUE_TEXT,    /* printable text (a user agent), sent, never opened */
};

struct safe_option {
    const char *name;
    enum value_kind kind;
    long long min, max;
    const char *set; /* comma-separated words, for flags and choices */
};

#define BIG (1LL << 40)

/* Demuxer, protocol (RTSP, HTTP) and decoder options that change how a
 * source is read, and nothing else. */
static const struct safe_option safe_options[] = {
    {"probesize", VALUE_INTEGER, 32, BIG, NULL},
    {"analyzeduration", VALUE_INTEGER, 0, BIG, NULL},
    {"fpsprobesize", VALUE_INTEGER, -1, 1000, NULL},
    {"max_delay", VALUE_INTEGER, -1, BIG, NULL},
    {"fflags", VALUE_FLAGS, 0, 0,
     "nobuffer,genpts,igndts,ignidx,discardcorrupt,nofillin,noparse,sortdts"},
    {"use_wallclock_as_timestamps", VALUE_INTEGER, 0, 1, NULL},
    {"rtbufsize", VALUE_INTEGER, 0, BIG, NULL},
    /* RTSP */
    {"reorder_queue_size", VALUE_INTEGER, -1, 100000, NULL},
    {"buffer_size", VALUE_INTEGER, -1, 1 << 30, NULL},
    {"min_port", VALUE_INTEGER, 1, 65535, NULL},
    {"max_port", VALUE_INTEGER, 1, 65535, NULL},
    {"rtsp_flags", VALUE_FLAGS, 0, 0, "prefer_tcp,filter_src"},
    {"allowed_media_types", VALUE_FLAGS, 0, 0, "video,audio,data,subtitle"},
    {"user_agent", VALUE_TEXT, 0, 0, NULL},
    /* HTTP */
    {"multiple_requests", VALUE_INTEGER, 0, 1, NULL},
    {"seekable", VALUE_INTEGER, -1, 1, NULL},
    {"strict_mime_boundary", VALUE_INTEGER, 0, 1, NULL},
    /* V4L2 devices */
    {"input_format", VALUE_WORD, 0, 0, NULL},
    {"video_size", VALUE_WORD, 0, 0, NULL},
    {"framerate", VALUE_RATE, 0, 0, NULL},
    {"pixel_format", VALUE_WORD, 0, 0, NULL},
    {"standard", VALUE_WORD, 0, 0, NULL},
    {"channel", VALUE_INTEGER, -1, 255, NULL},
    {"timestamps", VALUE_CHOICE, 0, 0, "default,abs,mono2abs"},
    /* decoders */
    {"flags", VALUE_FLAGS, 0, 0, "low_delay,gray"},
    {"flags2", VALUE_FLAGS, 0, 0, "fast,showall"},
    {"err_detect", VALUE_FLAGS, 0, 0,
     "crccheck,bitstream,buffer,explode,ignore_err,careful,compliant,aggressive"},
    {"ec", VALUE_FLAGS, 0, 0, "guess_mvs,deblock,favor_inter"},
    {"skip_loop_filter", VALUE_CHOICE, 0, 0, "none,default,noref,bidir,nokey,nointra,all"},
    {"lowres", VALUE_INTEGER, 0, 3, NULL},
};

/* Demuxers a stream may force, by FFmpeg's name for them: containers and
 * elementary streams that read only their own input, RTSP and HLS (whose
 * nested reads the source's protocol whitelist keeps to the network). Not
 * V4L2, which would open the URL as a device path (a device source gets it
 * by itself), nor lavfi, concat, image2 or sdp, which open what their input
 * names. */
static const char *const safe_formats[] = {
    "mpjpeg", "mjpeg", "mpegts", "h264", "hevc", "flv", "matroska,webm", "mov,mp4,m4a,3gp,3g2,mj2",
    "rtsp",   "hls",
};

size_t video_safe_ffmpeg_option_count(void)
{
    return ARRAY_SIZE(safe_options);
}

const char *video_safe_ffmpeg_option_name(size_t i)
{
    return i < ARRAY_SIZE(safe_options) ? safe_options[i].name : NULL;
}

/* Whether word (len bytes) is one of the comma-separated set. */
static bool in_set(const char *set, const char *word, size_t len)
{
    for (const char *p = set; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, word, len) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

static bool value_ok(const struct safe_option *o, const char *v)
{
    size_t len = strlen(v);
    if (len == 0 || len > 200)
        return false;
    switch (o->kind) {
    case VALUE_INTEGER: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        return !errno && *end == '\0' && n >= o->min && n <= o->max;
    }
    case VALUE_FLAGS:
        for (const char *p = v; *p;) {
            if (*p == '+' || *p == '-')
                p++;
            size_t n = strcspn(p, "+-");
            if (n == 0 || !in_set(o->set, p, n))
                return false;
            p += n;
        }
        return true;
    case VALUE_CHOICE:
        return in_set(o->set, v, len);
    case VALUE_WORD:
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
                return false;
        return v[0] != '.';
    case VALUE_RATE:
        for (const char *p = v; *p; p++)
            if (!isdigit((unsigned char)*p) && *p != '/' && *p != '.')
                return false;
        return isdigit((unsigned char)v[0]);
    case VALUE_TEXT:
        for (const char *p = v; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                return false;
        return true;
    }
    return false;
}

static const char *kind_text(const struct safe_option *o, char *buf, size_t size)
{
    switch (o->kind) {
    case VALUE_INTEGER:
        snprintf(buf, size, "a whole number from %lld to %lld", o->min, o->max);
        break;
    case VALUE_FLAGS:
        snprintf(buf, size, "flags of %s joined by '+'", o->set);
        break;
    case VALUE_CHOICE:
        snprintf(buf, size, "one of %s", o->set);
        break;
    case VALUE_WORD:
        snprintf(buf, size, "a word of letters, digits, '_', '.', '-'");
        break;
    case VALUE_RATE:
        snprintf(buf, size, "a rate such as 25 or 30000/1001");
        break;
    case VALUE_TEXT:
        snprintf(buf, size, "printable text");
        break;
    }
    return buf;
}

int video_ffmpeg_options_check_safe(const char *options, struct errbuf *err)
{
    AVDictionary *d = NULL;
    const AVDictionaryEntry *e = NULL;
    int r = 0;

    if (!options || !options[0])
        return 0;
    if (av_dict_parse_string(&d, options, "=", ":", 0) < 0) {
        av_dict_free(&d);
        return errbuf_set(err, -EINVAL,
                          "cannot parse FFmpeg options '%.200s': write key=value:key=value",
                          options);
    }
    while (r == 0 && (e = av_dict_get(d, "", e, AV_DICT_IGNORE_SUFFIX))) {
        const struct safe_option *o = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(safe_options) && !o; i++)
            if (strcmp(safe_options[i].name, e->key) == 0)
                o = &safe_options[i];
        char what[160];
        if (!o)
            r = errbuf_set(err, -EPERM,
                           "FFmpeg option '%.64s' is not on crtd's list of safe options "
                           "(docs/SERVICE.md)",
                           e->key);
        else if (!value_ok(o, e->value))
            r = errbuf_set(err, -EINVAL, "FFmpeg option %s: '%.64s' is not %s", o->name, e->value,
                           kind_text(o, what, sizeof(what)));
    }
    av_dict_free(&d);
    return r;
}

int video_format_check_safe(const char *format, struct errbuf *err)
{
    if (!format || !format[0])
        return 0;
    avdevice_register_all(); /* so that a device's demuxer is found, and refused, by name */
    const AVInputFormat *f = av_find_input_format(format);
    if (!f)
        return errbuf_set(err, -EINVAL, "FFmpeg has no input format '%.64s'", format);
    for (size_t i = 0; i < ARRAY_SIZE(safe_formats); i++)
        if (strcmp(f->name, safe_formats[i]) == 0)
            return 0;
    return errbuf_set(err, -EPERM,
                      "input format '%.64s' is not one crtd lets a stream force (mpjpeg, mjpeg, "
                      "mpegts, h264, hevc, flv, matroska, mp4, rtsp, hls)",
                      format);
}
