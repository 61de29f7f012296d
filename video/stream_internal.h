/* stream_internal: what the files of a video stream share; private to video/.
 *
 * stream.c is the state machine (open, decode, sample, reconnect, stop) and
 * owns struct video_stream. The topics it hands off each have a file:
 * resolve.c (what FFmpeg opens for a URL, with which demuxer and protocols,
 * and host names resolved so that a stop is not held up), hwaccel.c (VAAPI
 * decoding with its software fallback), convert.c (swscale to RGB24) and
 * gate.c (the motion gate on decoded frames, conversion on demand). */
#ifndef CRTD_VIDEO_STREAM_INTERNAL_H
#define CRTD_VIDEO_STREAM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#include "video.h"

/* ---- frame conversion (convert.c) ------------------------------------------ */

/* The RGB buffer and the scaler that fills it, both kept from frame to frame:
 * remade only when the source or the output size or format changes. */
struct convert {
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt, sws_full_range, sws_colorspace; /* what sws was made for */
    uint8_t *rgb;
    size_t rgb_size;
    int rgb_w, rgb_h, rgb_stride;
};

void convert_init(struct convert *c);
void convert_done(struct convert *c);

/* Converts src into c->rgb as RGB24 of c->rgb_w x c->rgb_h: the long side
 * capped at max_side (0 = the source size), the display aspect kept, colour
 * range and BT.709 honoured. name is the stream's, for messages. */
int convert_frame(struct convert *c, const AVFrame *src, int max_side, const char *name,
                  struct errbuf *err);

/* The RGB size convert_frame() gives for src. */
void convert_output_size(const AVFrame *src, int max_side, int *ret_w, int *ret_h);

/* ---- the motion gate and conversion on demand (gate.c) ---------------------- */

struct video_stream;

/* Runs the stream's motion gate on src (a software frame): on its luma
 * plane, or, for a format without one, on its RGB conversion, which then
 * sets *ret_converted. Counts gated frames and the gate's time. */
int gate_frame(struct video_stream *s, const AVFrame *src, struct video_motion_result *ret_result,
               bool *ret_converted, struct errbuf *err);

/* convert_frame() into s->conv, counted in the stream's stats. */
int gate_convert(struct video_stream *s, const AVFrame *src, struct errbuf *err);

/* Lets go of the frame kept for video_stream_convert(). */
void gate_release(struct video_stream *s);

/* ---- the stream (stream.c) -------------------------------------------------- */

struct video_stream {
    char *url;      /* as given */
    char *open_url; /* what FFmpeg opens (scheme prefixes of crtd removed) */
    char *format;   /* forced demuxer or NULL */
    char *ffmpeg_options;
    char *hw_device;
    char name[512]; /* url with the password masked */
    enum video_source_kind kind;
    struct video_options opts;
    bool reconnect;
    enum video_transport transport_now; /* RTSP: tcp or udp, for the next connection */
    bool transport_known;               /* a frame came over it on this stream */
    bool transport_retry;               /* this attempt is auto's other transport, at once */

    /* The current connection; fmt == NULL while disconnected. */
    AVFormatContext *fmt;
    AVCodecContext *dec;
    int video_index;
    AVRational time_base;
    bool draining;
    int read_error; /* why the demuxer stopped, reported after draining */
    bool connection_had_frames;
    int64_t connected_ns; /* time_mono_ns() when the connection opened */
    bool arrival_clock;   /* a live format without timestamps: stamp packets on arrival */
    /* Falling behind a live source: lag is (monotonic time - stream time) of a
     * frame minus its value at the live edge (the baseline). */
    bool lag_known;
    double lag_baseline;
    int64_t read_wait_ns; /* time spent waiting in reads since the last frame */

    /* Hardware decoding (hwaccel.c), for the current connection. */
    AVBufferRef *hw_device_ctx;
    enum AVPixelFormat hw_pix_fmt; /* AV_PIX_FMT_NONE: decoding in software */
    bool hw_broken;                /* VAAPI failed mid-stream: software from now on */

    /* Allocated once per stream, reused for every frame. */
    AVPacket *pkt;
    AVFrame *frame;
    AVFrame *sw_frame; /* a hardware frame copied to system memory */
    struct convert conv;
    struct video_motion *motion; /* the gate, when opts.motion */
    /* The last frame handed out unconverted (s->frame or s->sw_frame), kept
     * for video_stream_convert() until the next read; NULL when none. */
    const AVFrame *held;
    int64_t held_index;

    struct video_sampler sampler;
    int64_t skip_window_slots;  /* slots passed in the current window */
    int64_t skip_window_missed; /* of which no frame was picked */
    unsigned attempt;
    bool ever_connected;
    int64_t next_index;
    unsigned random_state;
    int final_error; /* once a source that does not reconnect ended or failed */

    atomic_bool stop;
    atomic_llong deadline_ns; /* 0: no deadline */
    atomic_bool timed_out;

    pthread_mutex_t lock; /* guards stats; wake is signalled under it */
    pthread_cond_t wake;
    struct video_stats stats;
};

/* True once video_stream_stop() was called or the caller's stop_flag is set. */
bool stream_stop_requested(const struct video_stream *s);

/* Adds one to a counter of s->stats, under the lock. */
void stream_count(struct video_stream *s, uint64_t *counter);

/* ---- source resolution (resolve.c) ------------------------------------------ */

/* Checks that a network URL names a host, and gives the part of url that
 * FFmpeg opens (crtd's "lavfi:" and "v4l2://" prefixes removed). name is the
 * masked URL, for messages. */
int resolve_url(const char *url, enum video_source_kind kind, const char *name,
                const char **ret_open_url, struct errbuf *err);

/* The demuxer to open a source with: the forced one, else the one its kind
 * needs (V4L2, lavfi), else NULL to probe. */
const char *resolve_format(enum video_source_kind kind, const char *forced);

/* The FFmpeg protocol whitelist for a kind of source; NULL for none. */
const char *resolve_protocols(enum video_source_kind kind);

/* Resolves the host of s->open_url within the open timeout: 0 when it
 * resolves (or needs no resolving), -ECANCELED when stopped meanwhile, or a
 * failure with a message. */
int resolve_host(struct video_stream *s, struct errbuf *err);

/* ---- the RTSP transport (transport.c) --------------------------------------- */

/* Chooses the first connection's transport: the forced one, else (auto) the
 * one remembered for this URL, else TCP. */
void transport_init(struct video_stream *s);

/* The rtsp_transport value FFmpeg gets for s->transport_now. */
const char *transport_ffmpeg_name(const struct video_stream *s);

/* After a failed open r (with its message in err): under auto, whether to
 * try again at once with the other transport (it moves s->transport_now
 * there). A forced transport the server refused gets a message that says
 * so. first is true for the first try of a connection attempt: one move per
 * attempt, so that a dead camera is not tried in a loop. */
bool transport_fallback(struct video_stream *s, int r, bool first, struct errbuf *err);

/* After a connection's first frame: remembers its transport for the URL
 * and shows it in the stats. */
void transport_confirm(struct video_stream *s);

/* ---- hardware acceleration (hwaccel.c) ------------------------------------- */

/* Prepares VAAPI decoding on s->dec when asked for and possible; otherwise
 * leaves the decoder in software and says why at debug level. Never fails. */
void hwaccel_setup(struct video_stream *s, const AVCodec *codec);

/* The frame to convert for decoded frame f: f itself, or, for a hardware
 * frame, its copy in system memory (s->sw_frame). A failed copy marks VAAPI
 * broken, so that the next connection decodes in software. */
int hwaccel_download(struct video_stream *s, const AVFrame *f, const AVFrame **ret_src,
                     struct errbuf *err);

/* Forgets the connection's hardware device (with the connection closing). */
void hwaccel_close(struct video_stream *s);

#endif
