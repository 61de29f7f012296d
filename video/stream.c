/* stream: one video source, opened, decoded, sampled, converted, and
 * reconnected when lost.
 *
 * The decode loop follows FFmpeg's doc/examples/demux_decode.c: read a
 * packet, send it, receive every frame it yields, drain at the end. Every
 * blocking FFmpeg call runs under a deadline enforced by the interrupt
 * callback, which also answers video_stream_stop() from another thread.
 *
 * This file is the state machine; what FFmpeg opens for a URL is in
 * resolve.c, VAAPI decoding in hwaccel.c, the conversion to RGB in convert.c
 * (their shared declarations in stream_internal.h). */
#include "stream_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/time.h>

/* Skip non-reference frames automatically when the stream runs at least
 * this many times faster than the target rate. */
#define SKIP_AUTO_RATIO 3.0
/* With skipping on, over every window of this much stream time, at most
 * SKIP_MAX_MISSED of the target's slots may go without a frame, or skipping
 * stops (a stream whose reference frames are too far apart). */
#define SKIP_CHECK_WINDOW_S 2.0
#define SKIP_MAX_MISSED     0.02
/* How often an outside stop flag is looked at while waiting. */
#define STOP_POLL_NS 50000000L
/* A read that waited this long for data found the live edge of the stream. */
#define LIVE_EDGE_WAIT_NS 5000000

/* ---- FFmpeg's log goes to ours, at debug level -------------------------- */

static void av_log_to_debug(void *avcl, int level, const char *fmt, va_list ap)
{
    if (level > AV_LOG_INFO || log_get_max_level() < LOG_LEVEL_DEBUG)
        return;
    char line[512];
    int print_prefix = 1;
    av_log_format_line2(avcl, level, fmt, ap, line, sizeof(line), &print_prefix);
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (len > 0) {
        /* FFmpeg names URLs in some messages: never with their password. */
        char masked[sizeof(line)];
        url_mask_password(masked, sizeof(masked), line);
        log_debug("ffmpeg: %s", masked);
    }
}

static pthread_once_t ffmpeg_once = PTHREAD_ONCE_INIT;

static void ffmpeg_init(void)
{
    av_log_set_callback(av_log_to_debug);
    avdevice_register_all();
    avformat_network_init();
}

/* ---- options ------------------------------------------------------------- */

void video_options_init(struct video_options *opts)
{
    *opts = (struct video_options){
        .fps = 10,
        .max_side = 640,
        .threads = 1,
        .transport = VIDEO_TRANSPORT_AUTO,
        .reconnect = VIDEO_RECONNECT_AUTO,
        .skip_nonref = VIDEO_SKIP_AUTO,
        .hwaccel = VIDEO_HWACCEL_NONE,
        .open_timeout_s = 10,
        .read_timeout_s = 10,
        .backoff_min_s = 1,
        .backoff_max_s = 60,
        .max_lag_s = 2,
    };
    video_motion_options_init(&opts->motion_options);
}

const char *video_state_name(enum video_state state)
{
    switch (state) {
    case VIDEO_STATE_IDLE:
        return "idle";
    case VIDEO_STATE_CONNECTING:
        return "connecting";
    case VIDEO_STATE_STREAMING:
        return "streaming";
    case VIDEO_STATE_BACKOFF:
        return "backoff";
    case VIDEO_STATE_STOPPED:
        return "stopped";
    }
    return "unknown";
}

static int options_check(const struct video_options *o, const char *name, struct errbuf *err)
{
    if ((unsigned)o->transport >= VIDEO_TRANSPORT_COUNT)
        return errbuf_set(err, -EINVAL, "'%s': no such RTSP transport (%d)", name,
                          (int)o->transport);
    if (!(o->fps >= 0 && o->fps <= 1000))
        return errbuf_set(err, -EINVAL, "'%s': fps %g is not in [0, 1000]", name, o->fps);
    if (o->max_side < 0 || (o->max_side > 0 && o->max_side < 16) || o->max_side > 16384)
        return errbuf_set(err, -EINVAL, "'%s': max side %d is not 0 or in [16, 16384]", name,
                          o->max_side);
    if (o->threads < 0 || o->threads > 64)
        return errbuf_set(err, -EINVAL, "'%s': %d decoder threads is not in [0, 64]", name,
                          o->threads);
    if (!(o->max_lag_s >= 0))
        return errbuf_set(err, -EINVAL, "'%s': max lag %g s is negative", name, o->max_lag_s);
    if (!(o->open_timeout_s > 0) || !(o->read_timeout_s > 0))
        return errbuf_set(err, -EINVAL, "'%s': timeouts must be positive", name);
    if (!(o->backoff_min_s > 0) || !(o->backoff_max_s >= o->backoff_min_s))
        return errbuf_set(err, -EINVAL, "'%s': backoff %g..%g s is not 0 < min <= max", name,
                          o->backoff_min_s, o->backoff_max_s);
    if (o->format && !av_find_input_format(o->format))
        return errbuf_set(err, -EINVAL, "'%s': FFmpeg has no input format '%s'", name, o->format);
    if (o->ffmpeg_options && o->ffmpeg_options[0]) {
        AVDictionary *d = NULL;
        int r = av_dict_parse_string(&d, o->ffmpeg_options, "=", ":", 0);
        av_dict_free(&d);
        if (r < 0)
            return errbuf_set(err, -EINVAL, "'%s': cannot parse FFmpeg options '%s'", name,
                              o->ffmpeg_options);
    }
    return 0;
}

/* ---- life cycle ---------------------------------------------------------- */

static void deadline_set(struct video_stream *s, double seconds);

bool stream_stop_requested(const struct video_stream *s)
{
    return atomic_load(&s->stop) || (s->opts.stop_flag && atomic_load(s->opts.stop_flag));
}

static char *strdup_or_null(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *copy = strdup(s);
    if (!copy)
        *failed = true;
    return copy;
}

int video_stream_new(const char *url, const struct video_options *opts,
                     struct video_stream **ret_stream, struct errbuf *err)
{
    struct video_options defaults;
    enum video_source_kind kind;
    struct video_stream *s = NULL;
    bool oom = false;
    int r;

    pthread_once(&ffmpeg_once, ffmpeg_init);
    if (!opts) {
        video_options_init(&defaults);
        opts = &defaults;
    }
    r = video_source_kind_of(url, &kind, err);
    if (r < 0)
        return r;

    s = calloc(1, sizeof(*s));
    if (!s)
        return errbuf_set(err, -ENOMEM, "out of memory");
    url_mask_password(s->name, sizeof(s->name), url);
    r = options_check(opts, s->name, err);
    if (r < 0)
        goto fail;

    const char *open_url;
    r = resolve_url(url, kind, s->name, &open_url, err);
    if (r < 0)
        goto fail;
    s->kind = kind;
    s->opts = *opts;
    s->url = strdup_or_null(url, &oom);
    s->open_url = strdup_or_null(open_url, &oom);
    s->format = strdup_or_null(opts->format, &oom);
    s->ffmpeg_options = strdup_or_null(opts->ffmpeg_options, &oom);
    s->hw_device = strdup_or_null(opts->hw_device, &oom);
    s->opts.format = s->format;
    s->opts.ffmpeg_options = s->ffmpeg_options;
    s->opts.hw_device = s->hw_device;
    s->pkt = av_packet_alloc();
    s->frame = av_frame_alloc();
    s->sw_frame = av_frame_alloc();
    if (oom || !s->pkt || !s->frame || !s->sw_frame) {
        r = errbuf_set(err, -ENOMEM, "'%s': out of memory", s->name);
        goto fail;
    }
    if (opts->motion) {
        struct errbuf e = {{0}};
        r = video_motion_new(&opts->motion_options, &s->motion, &e);
        if (r < 0) {
            errbuf_set(err, r, "'%s': %s", s->name, errbuf_text(&e, r));
            goto fail;
        }
    }

    if (opts->reconnect == VIDEO_RECONNECT_AUTO)
        s->reconnect = video_source_kind_is_live(kind);
    else
        s->reconnect = opts->reconnect == VIDEO_RECONNECT_ALWAYS;
    s->video_index = -1;
    s->hw_pix_fmt = AV_PIX_FMT_NONE;
    convert_init(&s->conv);
    s->random_state = (unsigned)time_mono_ns() ^ (unsigned)(uintptr_t)s;
    video_sampler_init(&s->sampler, opts->fps);
    transport_init(s);
    atomic_init(&s->stop, false);
    atomic_init(&s->deadline_ns, 0);
    atomic_init(&s->timed_out, false);

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&s->lock, NULL);
    s->stats.state = VIDEO_STATE_IDLE;

    *ret_stream = s;
    return 0;

fail:
    video_motion_free(s->motion);
    av_packet_free(&s->pkt);
    av_frame_free(&s->frame);
    av_frame_free(&s->sw_frame);
    free(s->url);
    free(s->open_url);
    free(s->format);
    free(s->ffmpeg_options);
    free(s->hw_device);
    free(s);
    return r;
}

static void close_input(struct video_stream *s)
{
    avcodec_free_context(&s->dec);
    if (s->fmt) {
        deadline_set(s, 1.0); /* an RTSP TEARDOWN to a dead peer must not hang */
        avformat_close_input(&s->fmt);
        atomic_store(&s->deadline_ns, 0);
    }
    hwaccel_close(s);
    s->video_index = -1;
    s->draining = false;
    s->read_error = 0;
}

struct video_stream *video_stream_free(struct video_stream *s)
{
    if (!s)
        return NULL;
    close_input(s);
    av_packet_free(&s->pkt);
    av_frame_free(&s->frame);
    av_frame_free(&s->sw_frame);
    convert_done(&s->conv);
    video_motion_free(s->motion);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s->url);
    free(s->open_url);
    free(s->format);
    free(s->ffmpeg_options);
    free(s->hw_device);
    free(s);
    return NULL;
}

/* ---- state shared with other threads -------------------------------------- */

static void set_state(struct video_stream *s, enum video_state state)
{
    pthread_mutex_lock(&s->lock);
    s->stats.state = state;
    pthread_mutex_unlock(&s->lock);
}

static void set_last_error(struct video_stream *s, const char *msg)
{
    pthread_mutex_lock(&s->lock);
    str_copy(s->stats.last_error, sizeof(s->stats.last_error), msg);
    pthread_mutex_unlock(&s->lock);
}

void stream_count(struct video_stream *s, uint64_t *counter)
{
    pthread_mutex_lock(&s->lock);
    (*counter)++;
    pthread_mutex_unlock(&s->lock);
}

void video_stream_stop(struct video_stream *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    pthread_mutex_lock(&s->lock);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

enum video_state video_stream_state(const struct video_stream *s)
{
    struct video_stream *m = (struct video_stream *)s; /* the lock is not part of the value */
    pthread_mutex_lock(&m->lock);
    enum video_state state = m->stats.state;
    pthread_mutex_unlock(&m->lock);
    return state;
}

void video_stream_stats(const struct video_stream *s, struct video_stats *ret_stats)
{
    struct video_stream *m = (struct video_stream *)s;
    pthread_mutex_lock(&m->lock);
    *ret_stats = m->stats;
    pthread_mutex_unlock(&m->lock);
}

const char *video_stream_name(const struct video_stream *s)
{
    return s->name;
}

/* ---- deadlines ------------------------------------------------------------ */

static int interrupt_cb(void *opaque)
{
    struct video_stream *s = opaque;
    if (stream_stop_requested(s))
        return 1;
    long long deadline = atomic_load(&s->deadline_ns);
    if (deadline && time_mono_ns() > deadline) {
        atomic_store(&s->timed_out, true);
        return 1;
    }
    return 0;
}

static void deadline_set(struct video_stream *s, double seconds)
{
    atomic_store(&s->timed_out, false);
    atomic_store(&s->deadline_ns, time_mono_ns() + (long long)(seconds * 1e9));
}

/* Turns an interrupted call's AVERROR_EXIT into what happened. */
static int interrupted_cause(struct video_stream *s, int r)
{
    if (r != AVERROR_EXIT && r != AVERROR(EINTR))
        return r;
    if (stream_stop_requested(s))
        return -ECANCELED;
    /* Nothing else interrupts FFmpeg but the deadline, though a demuxer may
     * report it one call late, after the next deadline was set. */
    if (r == AVERROR_EXIT || atomic_load(&s->timed_out))
        return -ETIMEDOUT;
    return r;
}

/* ---- connecting ------------------------------------------------------------ */

static int fourcc_text(char *buf, size_t size, uint32_t tag)
{
    if (!tag)
        return snprintf(buf, size, "none");
    char t[5];
    for (int i = 0; i < 4; i++) {
        unsigned char c = (tag >> (8 * i)) & 0xff;
        t[i] = (c >= 32 && c < 127) ? (char)c : '.';
    }
    t[4] = '\0';
    return snprintf(buf, size, "%s", t);
}

/* MJPEG can decode at 1/2, 1/4 or 1/8 of its size (DCT scaling) for a
 * fraction of the work: worth it when the frames are shrunk to max_side
 * anyway, as long as the decoded picture stays at least that large. (Other
 * codecs' reduced decoding is less exact and is not used.) */
static int lowres_for(const struct video_stream *s, const AVCodec *codec,
                      const AVCodecParameters *par)
{
    if (codec->id != AV_CODEC_ID_MJPEG || s->opts.max_side <= 0 || s->opts.hwaccel)
        return 0;
    int long_side = par->width > par->height ? par->width : par->height;
    int lowres = 0;
    while (lowres < codec->max_lowres && lowres < 3 &&
           (long_side >> (lowres + 1)) >= s->opts.max_side)
        lowres++;
    return lowres;
}

static int open_input(struct video_stream *s, struct errbuf *err)
{
    const AVInputFormat *iformat = NULL;
    const AVCodec *codec = NULL;
    AVDictionary *dict = NULL;
    const AVDictionaryEntry *left;
    AVStream *st;
    int r;

    if (s->ffmpeg_options && s->ffmpeg_options[0]) {
        r = av_dict_parse_string(&dict, s->ffmpeg_options, "=", ":", 0);
        if (r < 0) {
            errbuf_set(err, r, "'%s': cannot parse FFmpeg options '%s'", s->name,
                       s->ffmpeg_options);
            goto end;
        }
    }
    const char *protocols = resolve_protocols(s->kind);
    if (protocols)
        av_dict_set(&dict, "protocol_whitelist", protocols, AV_DICT_DONT_OVERWRITE);
    if (s->kind == VIDEO_SOURCE_RTSP) {
        av_dict_set(&dict, "rtsp_transport", transport_ffmpeg_name(s), AV_DICT_DONT_OVERWRITE);
        av_dict_set_int(&dict, "timeout", (int64_t)(s->opts.read_timeout_s * 1e6),
                        AV_DICT_DONT_OVERWRITE);
    } else if (s->kind == VIDEO_SOURCE_HTTP) {
        av_dict_set_int(&dict, "rw_timeout", (int64_t)(s->opts.read_timeout_s * 1e6),
                        AV_DICT_DONT_OVERWRITE);
    }

    const char *format = resolve_format(s->kind, s->format);
    if (format) {
        iformat = av_find_input_format(format);
        if (!iformat) {
            r = errbuf_set(err, -EPROTONOSUPPORT, "'%s': FFmpeg has no input format '%s'", s->name,
                           format);
            goto end;
        }
    }

    if (s->kind == VIDEO_SOURCE_RTSP || s->kind == VIDEO_SOURCE_HTTP) {
        r = resolve_host(s, err);
        if (r < 0)
            goto end;
    }

    s->fmt = avformat_alloc_context();
    if (!s->fmt) {
        r = errbuf_set(err, -ENOMEM, "'%s': out of memory", s->name);
        goto end;
    }
    s->fmt->interrupt_callback.callback = interrupt_cb;
    s->fmt->interrupt_callback.opaque = s;

    deadline_set(s, s->opts.open_timeout_s);
    r = avformat_open_input(&s->fmt, s->open_url, iformat, &dict); /* frees fmt on failure */
    if (r < 0) {
        r = interrupted_cause(s, r);
        if (r == -ETIMEDOUT)
            errbuf_set(err, r, "'%s': cannot open: no answer within %g s", s->name,
                       s->opts.open_timeout_s);
        else
            errbuf_set(err, r, "'%s': cannot open: %s", s->name, av_err2str(r));
        goto end;
    }
    /* Probing decodes a few frames too: with the stream's thread count. */
    unsigned nb_streams = s->fmt->nb_streams;
    AVDictionary **probe_opts = nb_streams ? av_calloc(nb_streams, sizeof(*probe_opts)) : NULL;
    for (unsigned i = 0; probe_opts && i < nb_streams; i++)
        av_dict_set_int(&probe_opts[i], "threads", s->opts.threads, 0);
    r = avformat_find_stream_info(s->fmt, probe_opts);
    for (unsigned i = 0; probe_opts && i < nb_streams; i++)
        av_dict_free(&probe_opts[i]);
    av_freep(&probe_opts);
    if (r < 0) {
        r = interrupted_cause(s, r);
        errbuf_set(err, r, "'%s': cannot read stream information: %s", s->name,
                   r == -ETIMEDOUT ? "no answer in time" : av_err2str(r));
        goto end;
    }
    r = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (r == AVERROR_STREAM_NOT_FOUND) {
        r = errbuf_set(err, -ENODATA, "'%s': no video stream (format %s)", s->name,
                       s->fmt->iformat->name);
        goto end;
    }
    if (r == AVERROR_DECODER_NOT_FOUND) {
        /* Name the codec even when FFmpeg only knows the container's tag. */
        AVStream *vst = NULL;
        for (unsigned i = 0; i < s->fmt->nb_streams && !vst; i++)
            if (s->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
                vst = s->fmt->streams[i];
        char tag[16] = "none";
        if (vst)
            fourcc_text(tag, sizeof(tag), vst->codecpar->codec_tag);
        r = errbuf_set(err, -ENOSYS, "'%s': unsupported video codec '%s' (tag %s)", s->name,
                       vst ? avcodec_get_name(vst->codecpar->codec_id) : "?", tag);
        goto end;
    }
    if (r < 0) {
        errbuf_set(err, r, "'%s': no usable video stream: %s", s->name, av_err2str(r));
        goto end;
    }
    s->video_index = r;
    st = s->fmt->streams[r];
    for (unsigned i = 0; i < s->fmt->nb_streams; i++)
        if ((int)i != s->video_index)
            s->fmt->streams[i]->discard = AVDISCARD_ALL;
    s->time_base = st->time_base;

    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec) {
        r = errbuf_set(err, -ENOMEM, "'%s': out of memory", s->name);
        goto end;
    }
    r = avcodec_parameters_to_context(s->dec, st->codecpar);
    if (r < 0) {
        errbuf_set(err, r, "'%s': decoder parameters: %s", s->name, av_err2str(r));
        goto end;
    }
    s->dec->pkt_timebase = st->time_base;
    s->dec->thread_count = s->opts.threads;
    hwaccel_setup(s, codec);

    AVRational rate = av_guess_frame_rate(s->fmt, st, NULL);
    double stream_fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;
    bool skip = false;
    if (s->opts.fps > 0 && s->opts.skip_nonref == VIDEO_SKIP_ON)
        skip = true;
    if (s->opts.fps > 0 && s->opts.skip_nonref == VIDEO_SKIP_AUTO && stream_fps > 0 &&
        stream_fps <= 1000 && stream_fps >= SKIP_AUTO_RATIO * s->opts.fps)
        skip = true;
    if (skip)
        s->dec->skip_frame = AVDISCARD_NONREF;
    s->dec->lowres = lowres_for(s, codec, st->codecpar);
    s->skip_window_slots = 0;
    s->skip_window_missed = 0;

    r = avcodec_open2(s->dec, codec, &dict);
    if (r < 0) {
        errbuf_set(err, r, "'%s': cannot open the %s decoder: %s", s->name, codec->name,
                   av_err2str(r));
        goto end;
    }
    left = av_dict_get(dict, "", NULL, AV_DICT_IGNORE_SUFFIX);
    if (left) {
        r = errbuf_set(err, -EINVAL, "'%s': FFmpeg option '%s' is not known to %s or %s", s->name,
                       left->key, s->fmt->iformat->name, codec->name);
        goto end;
    }

    pthread_mutex_lock(&s->lock);
    s->stats.stream_fps = stream_fps;
    s->stats.source_width = st->codecpar->width;
    s->stats.source_height = st->codecpar->height;
    str_copy(s->stats.codec, sizeof(s->stats.codec), codec->name);
    s->stats.skipping_nonref = skip;
    s->stats.hwaccel_active = s->hw_pix_fmt != AV_PIX_FMT_NONE;
    pthread_mutex_unlock(&s->lock);
    s->draining = false;
    s->read_error = 0;
    s->connection_had_frames = false;
    s->connected_ns = time_mono_ns();
    s->lag_known = false;
    s->read_wait_ns = 0;
    s->arrival_clock =
        video_source_kind_is_live(s->kind) && (s->fmt->iformat->flags & AVFMT_NOTIMESTAMPS);
    r = 0;

end:
    av_dict_free(&dict);
    atomic_store(&s->deadline_ns, 0);
    if (r < 0)
        close_input(s);
    return r;
}

/* ---- decoding ---------------------------------------------------------------- */

/* Stops skipping non-reference frames if it starves the target rate: when
 * slots of the sampling grid pass without any frame to pick. `advanced` is
 * how many slots the last pick moved on (1 when none was missed). */
static void skip_check(struct video_stream *s, int64_t advanced)
{
    if (s->dec->skip_frame != AVDISCARD_NONREF || s->opts.skip_nonref != VIDEO_SKIP_AUTO)
        return;
    if (advanced < 1)
        advanced = 1; /* a rebase: nothing known about missed slots */
    s->skip_window_slots += advanced;
    s->skip_window_missed += advanced - 1;
    if (s->skip_window_slots < SKIP_CHECK_WINDOW_S * s->opts.fps)
        return;
    if ((double)s->skip_window_missed > SKIP_MAX_MISSED * (double)s->skip_window_slots) {
        s->dec->skip_frame = AVDISCARD_DEFAULT;
        pthread_mutex_lock(&s->lock);
        s->stats.skipping_nonref = false;
        pthread_mutex_unlock(&s->lock);
        log_debug("%s: skipping non-reference frames misses %lld of %lld samples, decoding all",
                  s->name, (long long)s->skip_window_missed, (long long)s->skip_window_slots);
    }
    s->skip_window_slots = 0;
    s->skip_window_missed = 0;
}

/* True when the reader has fallen more than max_lag_s behind a live source:
 * the frame at stream time t is then dropped unconverted, so that decoding
 * alone catches up with the live edge. At the live edge reads wait for data;
 * when they stop waiting and frames come out ever later than their stream
 * time says they should, the reader is behind. Resetting the baseline at
 * every wait keeps clock drift and bursty sources (HLS) from counting. */
static bool behind_live_edge(struct video_stream *s, double t)
{
    /* A live source read as one (a recording over HTTP read with
     * VIDEO_RECONNECT_NEVER keeps every frame). */
    if (!video_source_kind_is_live(s->kind) || !s->reconnect || !(s->opts.max_lag_s > 0) ||
        !isfinite(t))
        return false;
    double v = (double)time_mono_ns() * 1e-9 - t;
    if (!s->lag_known || s->read_wait_ns >= LIVE_EDGE_WAIT_NS || v < s->lag_baseline) {
        s->lag_baseline = v;
        s->lag_known = true;
    }
    s->read_wait_ns = 0;
    return v - s->lag_baseline > s->opts.max_lag_s;
}

/* Handles one decoded frame in s->frame: 1 when it was sampled and
 * converted into ret_frame, 0 when dropped, negative on failure. */
static int take_frame(struct video_stream *s, struct video_frame *ret_frame, struct errbuf *err)
{
    AVFrame *f = s->frame;
    double decoded_at = time_wall_s();
    int64_t decoded_mono_ns = time_mono_ns();
    int r;

    pthread_mutex_lock(&s->lock);
    s->stats.decoded++;
    if ((f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags) {
        s->stats.decode_errors++;
        s->stats.dropped++;
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    pthread_mutex_unlock(&s->lock);

    double t = NAN;
    if (f->best_effort_timestamp != AV_NOPTS_VALUE)
        t = (double)f->best_effort_timestamp * av_q2d(s->time_base);
    if (behind_live_edge(s, t)) {
        pthread_mutex_lock(&s->lock);
        s->stats.late++;
        s->stats.dropped++;
        pthread_mutex_unlock(&s->lock);
        return 0;
    }

    double pts;
    int64_t slot_before = s->sampler.anchored ? s->sampler.last_slot : -1;
    if (!video_sampler_push(&s->sampler, t, &pts)) {
        stream_count(s, &s->stats.dropped);
        return 0;
    }
    skip_check(s, s->sampler.last_slot - slot_before);

    const AVFrame *src;
    r = hwaccel_download(s, f, &src, err);
    if (r < 0)
        return r;
    /* The gate on the decoded luma first; the conversion now, or kept for
     * video_stream_convert(). */
    struct video_motion_result motion = {0};
    bool converted = false;
    if (s->motion) {
        r = gate_frame(s, src, &motion, &converted, err);
        if (r < 0)
            return r;
    }
    if (!converted && !s->opts.convert_on_demand) {
        r = gate_convert(s, src, err);
        if (r < 0)
            return r;
        converted = true;
    }
    int width = s->conv.rgb_w, height = s->conv.rgb_h;
    if (!converted) {
        convert_output_size(src, s->opts.max_side, &width, &height);
        s->held = src;
        s->held_index = s->next_index;
    }

    *ret_frame = (struct video_frame){
        .data = converted ? s->conv.rgb : NULL,
        .width = width,
        .height = height,
        .stride = converted ? s->conv.rgb_stride : 0,
        .pts = pts,
        .decoded_at = decoded_at,
        .decoded_mono_ns = decoded_mono_ns,
        .index = s->next_index++,
        .motion = motion,
    };
    pthread_mutex_lock(&s->lock);
    s->stats.sampled++;
    s->stats.last_frame_at = decoded_at;
    pthread_mutex_unlock(&s->lock);
    return 1;
}

/* Reads, decodes and samples until one frame is ready (0), the source ends
 * (AVERROR_EOF after draining the decoder) or fails. */
static int next_frame(struct video_stream *s, struct video_frame *ret_frame, struct errbuf *err)
{
    int r;

    for (;;) {
        r = avcodec_receive_frame(s->dec, s->frame);
        if (r == 0) {
            r = take_frame(s, ret_frame, err);
            if (s->held != s->frame) /* else kept for video_stream_convert() */
                av_frame_unref(s->frame);
            if (r < 0)
                return r;
            if (r == 1) {
                s->connection_had_frames = true;
                return 0;
            }
            continue;
        }
        if (r == AVERROR_EOF) {
            r = s->read_error ? s->read_error : AVERROR_EOF;
            if (r == AVERROR_EOF)
                errbuf_set(err, r, "'%s': end of stream", s->name);
            else
                errbuf_set(err, r, "'%s': reading failed: %s", s->name, av_err2str(r));
            return r;
        }
        if (r != AVERROR(EAGAIN)) {
            /* A broken frame: counted, and the decoder goes on. */
            stream_count(s, &s->stats.decode_errors);
            if (s->draining)
                continue;
        }
        if (s->draining)
            return AVERROR_EOF; /* EAGAIN while draining: nothing more will come */

        if (stream_stop_requested(s))
            return -ECANCELED;
        deadline_set(s, s->opts.read_timeout_s);
        int64_t read_start = time_mono_ns();
        r = av_read_frame(s->fmt, s->pkt);
        s->read_wait_ns += time_mono_ns() - read_start;
        atomic_store(&s->deadline_ns, 0);
        if (r == AVERROR(EAGAIN)) {
            av_usleep(2000);
            continue;
        }
        if (r < 0) {
            r = interrupted_cause(s, r);
            if (r == -ECANCELED)
                return r;
            if (r == -ETIMEDOUT) {
                return errbuf_set(err, r, "'%s': no data for %g s", s->name,
                                  s->opts.read_timeout_s);
            }
            /* The end, or an error: give out what the decoder still holds. */
            s->read_error = r == AVERROR_EOF ? 0 : r;
            s->draining = true;
            avcodec_send_packet(s->dec, NULL);
            continue;
        }
        if (s->pkt->stream_index != s->video_index) {
            av_packet_unref(s->pkt);
            continue;
        }
        if (s->arrival_clock || (s->pkt->pts == AV_NOPTS_VALUE && s->pkt->dts == AV_NOPTS_VALUE &&
                                 video_source_kind_is_live(s->kind))) {
            /* A live source without timestamps (MJPEG over HTTP, whose
             * demuxer would invent 25 fps): its clock is the arrival time. */
            s->pkt->pts = av_rescale_q((time_mono_ns() - s->connected_ns) / 1000, AV_TIME_BASE_Q,
                                       s->time_base);
            s->pkt->dts = s->pkt->pts;
        }
        r = avcodec_send_packet(s->dec, s->pkt);
        av_packet_unref(s->pkt);
        if (r < 0 && r != AVERROR(EAGAIN))
            stream_count(s, &s->stats.decode_errors); /* a corrupt packet: skipped */
    }
}

/* ---- the reconnecting read loop ---------------------------------------------- */

static double random_unit(struct video_stream *s)
{
    return (double)rand_r(&s->random_state) / ((double)RAND_MAX + 1.0);
}

/* Waits `seconds` unless stopped first; true when stopped. */
static bool backoff_wait(struct video_stream *s, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    double whole = floor(seconds);
    until.tv_sec += (time_t)whole;
    until.tv_nsec += (long)((seconds - whole) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    /* video_stream_stop() signals wake; an outside stop_flag is polled. */
    pthread_mutex_lock(&s->lock);
    while (!stream_stop_requested(s)) {
        struct timespec slice = until;
        if (s->opts.stop_flag) {
            clock_gettime(CLOCK_MONOTONIC, &slice);
            slice.tv_nsec += STOP_POLL_NS;
            if (slice.tv_nsec >= 1000000000L) {
                slice.tv_sec++;
                slice.tv_nsec -= 1000000000L;
            }
            if (slice.tv_sec > until.tv_sec ||
                (slice.tv_sec == until.tv_sec && slice.tv_nsec > until.tv_nsec))
                slice = until;
        }
        if (pthread_cond_timedwait(&s->wake, &s->lock, &slice) == ETIMEDOUT &&
            slice.tv_sec == until.tv_sec && slice.tv_nsec == until.tv_nsec)
            break;
    }
    pthread_mutex_unlock(&s->lock);
    return stream_stop_requested(s);
}

/* Ends a source that does not reconnect: later reads return the same. */
static int finish(struct video_stream *s, int r, const struct errbuf *e, struct errbuf *err)
{
    s->final_error = r;
    set_state(s, VIDEO_STATE_STOPPED);
    return errbuf_set(err, r, "%s", errbuf_text(e, r));
}

int video_stream_read(struct video_stream *s, struct video_frame *ret_frame, struct errbuf *err)
{
    struct errbuf e = {{0}};
    int r;

    gate_release(s);
    if (s->final_error) {
        pthread_mutex_lock(&s->lock);
        str_copy(e.msg, sizeof(e.msg), s->stats.last_error);
        pthread_mutex_unlock(&s->lock);
        return errbuf_set(err, s->final_error, "%s", errbuf_text(&e, s->final_error));
    }
    for (;;) {
        if (stream_stop_requested(s)) {
            close_input(s);
            set_state(s, VIDEO_STATE_STOPPED);
            return errbuf_set(err, -ECANCELED, "'%s': stopped", s->name);
        }
        if (!s->fmt) {
            if (s->attempt > 0) {
                set_state(s, VIDEO_STATE_BACKOFF);
                double delay = video_backoff_delay(s->opts.backoff_min_s, s->opts.backoff_max_s,
                                                   s->attempt, random_unit(s));
                pthread_mutex_lock(&s->lock);
                s->stats.next_attempt_at = time_wall_s() + delay;
                pthread_mutex_unlock(&s->lock);
                bool stopped = backoff_wait(s, delay);
                pthread_mutex_lock(&s->lock);
                s->stats.next_attempt_at = 0;
                pthread_mutex_unlock(&s->lock);
                if (stopped)
                    continue;
            }
            if (s->ever_connected || s->attempt > 0)
                stream_count(s, &s->stats.reconnects);
            set_state(s, VIDEO_STATE_CONNECTING);
            errbuf_clear(&e);
            r = open_input(s, &e);
            if (r < 0 && r != -ECANCELED && transport_fallback(s, r, true, &e)) {
                s->transport_retry = true;
                errbuf_clear(&e);
                r = open_input(s, &e);
                if (r < 0 && r != -ECANCELED)
                    transport_fallback(s, r, false, &e);
            }
            if (r < 0) {
                if (r == -ECANCELED)
                    continue;
                set_last_error(s, errbuf_text(&e, r));
                log_debug("%s", errbuf_text(&e, r));
                if (!s->reconnect)
                    return finish(s, r, &e, err);
                s->attempt++;
                continue;
            }
            if (s->ever_connected)
                video_sampler_rebase(&s->sampler);
            if (s->motion)
                video_motion_reset(s->motion); /* the picture may have changed meanwhile */
            s->ever_connected = true;
            set_state(s, VIDEO_STATE_STREAMING);
        }

        errbuf_clear(&e);
        bool first_frame = !s->connection_had_frames;
        r = next_frame(s, ret_frame, &e);
        if (r == 0) {
            if (first_frame)
                transport_confirm(s); /* a frame came: this transport works */
            s->attempt = 0;
            s->transport_retry = false;
            return 0;
        }
        bool had_frames = s->connection_had_frames;
        close_input(s);
        if (r == -ECANCELED)
            continue;
        /* Connected, and then nothing came: under auto, the other transport
         * at once (once; if it is silent too, the camera waits its backoff). */
        bool other = !had_frames && !s->transport_retry && transport_fallback(s, r, true, &e);
        set_last_error(s, errbuf_text(&e, r));
        log_debug("%s", errbuf_text(&e, r));
        s->transport_retry = other;
        if (other)
            continue;
        if (!s->reconnect)
            return finish(s, r, &e, err);
        /* A file looped under VIDEO_RECONNECT_ALWAYS starts again at once;
         * a live source that was lost waits before it is tried again. */
        if (r == AVERROR_EOF && had_frames && !video_source_kind_is_live(s->kind))
            s->attempt = 0;
        else
            s->attempt++;
    }
}
