/* video: FFmpeg input for crtd — open any source FFmpeg can read, demux,
 * decode, sample frames by presentation timestamp, convert the sampled ones
 * to RGB, reconnect. Knows nothing of the model, HTTP or the daemon.
 *
 * A stream thread of the daemon does:
 *
 *     struct video_options opts;
 *     video_options_init(&opts);
 *     opts.fps = 10;
 *     struct video_stream *s;
 *     r = video_stream_new(url, &opts, &s, &err);
 *     while ((r = video_stream_read(s, &frame, &err)) == 0)
 *         use(frame.data, frame.width, frame.height, frame.stride, frame.pts);
 *     // r: -ECANCELED after video_stream_stop(), AVERROR_EOF at the end of a
 *     // file, or why a source that does not reconnect failed (err says more)
 *     video_stream_free(s);
 *
 * while any other thread may call video_stream_state(), video_stream_stats()
 * and video_stream_stop() at any time. */
#ifndef CRTD_VIDEO_H
#define CRTD_VIDEO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavutil/error.h> /* AVERROR_EOF, returned at the end of a file */

#include "base.h"

/* ---- sources (source.c) --------------------------------------------------- */

enum video_source_kind {
    VIDEO_SOURCE_FILE,   /* a path or file:// URL */
    VIDEO_SOURCE_RTSP,   /* rtsp://, rtsps:// */
    VIDEO_SOURCE_HTTP,   /* http://, https:// (MPEG-TS, MJPEG, HLS) */
    VIDEO_SOURCE_DEVICE, /* v4l2:///dev/videoN or a /dev/video path */
    VIDEO_SOURCE_LAVFI,  /* lavfi:<filtergraph>, FFmpeg's generated test sources */
};

/* Tells what kind of source a URL names; -EPROTONOSUPPORT (with a message)
 * for a scheme crtd does not read. */
int video_source_kind_of(const char *url, enum video_source_kind *ret_kind, struct errbuf *err);
const char *video_source_kind_name(enum video_source_kind kind);

/* True for sources that are live (cameras, network streams, devices): by
 * default they reconnect when lost, files do not. */
bool video_source_kind_is_live(enum video_source_kind kind);

/* ---- sampling by presentation timestamp (sampler.c) ----------------------- */

/* Picks, from frames with timestamps in seconds, at most one frame per
 * 1/fps slot of stream time, and gives the picked frames a pts that
 * strictly increases: correct for variable frame rates (slots, not frame
 * counts), sources slower than the target (every frame is picked), forward
 * jumps (a gap), backward jumps and restarts after a reconnect (the timeline
 * is rebased to continue one slot after the last picked frame). */
struct video_sampler {
    double step;        /* 1/fps; 0 picks every frame */
    double max_gap;     /* a forward jump longer than this is a discontinuity */
    bool anchored;      /* false until the first frame, and after a rebase */
    double anchor;      /* source time of slot 0 */
    double offset;      /* added to source time to give the output pts */
    int64_t last_slot;  /* slot of the last picked frame */
    double last_source; /* source time of the last frame seen */
    double last_pts;    /* output pts of the last picked frame */
    bool picked_any;
};

void video_sampler_init(struct video_sampler *s, double fps);

/* Forgets the source timeline (after a reconnect) but keeps the output pts
 * increasing: the next frame continues one step after the last one. */
void video_sampler_rebase(struct video_sampler *s);

/* Decides about one frame at source time t (seconds). Returns true and sets
 * *ret_pts when the frame is picked. */
bool video_sampler_push(struct video_sampler *s, double t, double *ret_pts);

/* ---- reconnect backoff (backoff.c) ---------------------------------------- */

/* The wait before reconnect attempt number `attempt` (1 for the first retry):
 * min_s doubled per attempt, capped at max_s, then spread by +-20% jitter
 * from `unit_random` in [0,1) (and capped at max_s again). */
double video_backoff_delay(double min_s, double max_s, unsigned attempt, double unit_random);

/* ---- the motion gate (motion.c) -------------------------------------------- */

/* Says whether anything moved in a camera's picture, cheaply enough to run
 * on every sampled frame before any colour conversion, so that the frames
 * where nothing moves need not be converted nor given to pose. Works on the
 * luma (brightness) alone, in the way of Frigate's motion detector:
 *
 *   1. the luma is area-averaged down to `height` rows (about 100; the
 *      aspect kept, at most 4 columns per row), which also averages sensor
 *      noise away;
 *   2. a lighting correction: the picture is fitted to the background as
 *      gain * background + offset (robustly: the median difference first
 *      leaves out what moved, then a least-squares fit on the rest), so that
 *      a brightness shift, a flickering lamp or the camera's exposure do not
 *      count; the prediction is clipped to 0..255 like the camera's values;
 *   3. a cell changed where the picture differs from the corrected
 *      background by more than `threshold` levels;
 *   4. the changed cells are widened by `dilation` cells and joined into
 *      regions (8-connected); regions with fewer changed cells than
 *      `min_area` of the picture are noise;
 *   5. the background follows each frame at `background_rate` (an
 *      exponential average), so that something that stops moving fades into
 *      it within about 3 / background_rate frames.
 *
 * The grid's buffers are allocated by video_motion_new(), and a band of row
 * sums the first time a picture is wider than before: no frame allocates. */
#define VIDEO_MOTION_MAX_BOXES 8

struct video_motion_options {
    int height;             /* rows of the downscaled luma; default 100 */
    double threshold;       /* luma levels (of 255) a cell must change by; default 20 */
    double min_area;        /* smallest region that counts, a fraction of the picture;
                             * default 0.001 (13 cells of 133x100) */
    double background_rate; /* weight of each frame in the background; default 0.05
                             * (at 10 fps, a time constant of 2 s) */
    int dilation;           /* cells a change is widened by before regions form; default 1 */
};

void video_motion_options_init(struct video_motion_options *opts);

/* A rectangle in fractions of the picture's width and height (0..1; x1 and
 * y1 exclusive), the same for the RGB frame at any size. */
struct video_box {
    float x0, y0, x1, y1;
};

/* What the gate saw in one frame. */
struct video_motion_result {
    bool computed;  /* the gate ran on this frame (the stream's `motion` option) */
    bool reset;     /* no background yet (the first frame, a new size or connection): the
                     * background starts from this frame and `moved` is false */
    bool moved;     /* at least one region changed */
    float fraction; /* changed cells of the regions that count, of all cells */
    int nboxes;
    struct video_box boxes[VIDEO_MOTION_MAX_BOXES]; /* of the changed cells of each region,
                                                     * largest first; the smaller regions
                                                     * past the cap still count in fraction */
    float gain, offset; /* the lighting correction: picture ~ gain * background + offset */
};

struct video_motion;

/* Checks the options (NULL: the defaults) and allocates a detector. */
int video_motion_new(const struct video_motion_options *opts, struct video_motion **ret_motion,
                     struct errbuf *err);

/* Accepts NULL; returns NULL. */
struct video_motion *video_motion_free(struct video_motion *m);

/* Forgets the background: the next frame starts it again. */
void video_motion_reset(struct video_motion *m);

/* Takes one frame's 8-bit luma: `width` samples a row, `step` bytes apart (1
 * for a planar Y, 2 for packed YUYV), rows `stride` bytes apart. -EINVAL for
 * an empty picture. */
int video_motion_push_luma(struct video_motion *m, const uint8_t *luma, int width, int height,
                           int stride, int step, struct video_motion_result *ret_result);

/* The same from packed RGB24, its luma taken as (R + 2G + B) / 4. */
int video_motion_push_rgb24(struct video_motion *m, const uint8_t *rgb, int width, int height,
                            int stride, struct video_motion_result *ret_result);

/* ---- the pose gate (gate.c) ---------------------------------------------- */

/* What the gate makes of one frame for pose, the same in crtd and in `crt
 * classify` / `crt extract`: pose on every frame where something moved,
 * none while nobody is in view and nothing moves, still_pose_fps on a person
 * in view who keeps still, with the last detections held in between. */
enum video_pose_verdict {
    VIDEO_POSE_MOVED, /* something moved (or the background starts): pose runs */
    VIDEO_POSE_STILL, /* a person in view, nothing moved: pose at still_pose_fps */
    VIDEO_POSE_EMPTY, /* nobody in view, nothing moved: no pose */
};

/* Who the caller's tracker has in view. */
enum video_pose_view {
    VIDEO_VIEW_NOBODY,
    VIDEO_VIEW_TENTATIVE, /* a detection not yet confirmed as a person */
    VIDEO_VIEW_PERSON,    /* someone is, or was a moment ago, in view */
};

struct video_pose_gate {
    double still_interval; /* seconds between pose runs on a still person */
    double slack;          /* half a sampled frame: a run is due that much early */
    double last_pose_pts;
    bool posed_any;
};

/* still_pose_fps > 0 (callers without a gate do not ask it); fps the
 * sampling rate (0: every frame). */
void video_pose_gate_init(struct video_pose_gate *g, double still_pose_fps, double fps);

/* The verdict on a sampled frame whose motion result is m: *ret_pose says
 * whether pose runs, *ret_hold whether the last detections stand for this
 * frame when it does not (a confirmed person who keeps still; never a
 * tentative one, so that a detection seen once is never held into a person). */
enum video_pose_verdict video_pose_gate_decide(const struct video_pose_gate *g,
                                               const struct video_motion_result *m, double pts,
                                               enum video_pose_view view, bool *ret_pose,
                                               bool *ret_hold);

/* Pose ran on the frame at pts. */
void video_pose_gate_posed(struct video_pose_gate *g, double pts);

/* ---- streams (stream.c) --------------------------------------------------- */

enum video_state {
    VIDEO_STATE_IDLE,       /* created, not read from yet */
    VIDEO_STATE_CONNECTING, /* opening the source, probing its streams */
    VIDEO_STATE_STREAMING,  /* decoding */
    VIDEO_STATE_BACKOFF,    /* lost or failed; waiting before the next attempt */
    VIDEO_STATE_STOPPED,    /* stopped by the caller, ended, or failed for good */
};

const char *video_state_name(enum video_state state);

/* How RTSP carries the video (transport.c). */
enum video_transport {
    /* TCP first; UDP at once when the server answers the TCP SETUP with
     * 461 Unsupported Transport, or when no frame comes within the open and
     * read deadlines. What worked is remembered for that URL for the life of
     * the process, so that later connections start with it. (Default.) */
    VIDEO_TRANSPORT_AUTO,
    VIDEO_TRANSPORT_TCP, /* RTSP interleaved over the control connection, only */
    VIDEO_TRANSPORT_UDP, /* RTP over UDP, only */
    VIDEO_TRANSPORT_COUNT,
};

/* "auto", "tcp", "udp". */
const char *video_transport_name(enum video_transport transport);
/* The reverse; -EINVAL for another word. */
int video_transport_parse(const char *text, enum video_transport *ret_transport);

enum video_reconnect {
    VIDEO_RECONNECT_AUTO,   /* live sources reconnect, files end */
    VIDEO_RECONNECT_ALWAYS, /* also files: loop them (useful for demos) */
    VIDEO_RECONNECT_NEVER,  /* the first failure or end is returned to the caller */
};

enum video_skip {
    VIDEO_SKIP_AUTO, /* skip non-reference frames when fps <= stream rate / 3, and stop
                      * skipping if that ever leaves sampling slots empty */
    VIDEO_SKIP_OFF,
    VIDEO_SKIP_ON, /* always, whenever a target fps is set */
};

enum video_hwaccel {
    VIDEO_HWACCEL_NONE,
    VIDEO_HWACCEL_VAAPI, /* falls back to software when unavailable */
};

struct video_options {
    double fps;   /* target sampling rate; 0 = every decoded frame. Default 10 */
    int max_side; /* long side of the RGB frames (aspect kept); 0 = source size. 640 */
    int threads;  /* decoder threads; default 1 (one stream thread) */
    enum video_transport transport;
    enum video_reconnect reconnect;
    enum video_skip skip_nonref;
    enum video_hwaccel hwaccel;
    const char *hw_device; /* VAAPI render node; NULL = FFmpeg's default */
    const char *format;    /* force a demuxer ("mpjpeg", "v4l2", ...); NULL = probe */
    /* Per-source FFmpeg options, "key=value:key=value" (FFmpeg's syntax, '\'
     * escapes): demuxer, protocol and decoder options such as
     * "probesize=32768:rtsp_flags=prefer_tcp". An option nobody takes is an
     * error naming it. */
    const char *ffmpeg_options;
    double open_timeout_s; /* deadline for connecting and probing; default 10 */
    double read_timeout_s; /* deadline for each packet read; default 10 */
    double backoff_min_s;  /* first reconnect wait; default 1 */
    double backoff_max_s;  /* longest reconnect wait; default 60 */
    /* A live source the reader falls behind (pose slower than the camera):
     * once frames come out more than this late, they are dropped without
     * conversion (counted as late) until decoding is back at the live edge.
     * Default 2 s; 0 never drops. Files, and any source read with
     * VIDEO_RECONNECT_NEVER (a recording served over HTTP), never drop. */
    double max_lag_s;
    /* An outside flag that stops the stream like video_stream_stop() (looked
     * at every 50 ms at most); NULL = none. It must outlive the stream. */
    const atomic_bool *stop_flag;
    /* The motion gate (motion.c) on every sampled frame, on the decoded
     * luma before any colour conversion; its result in f.motion. Default
     * off. Sources without an 8-bit luma plane (RGB, 10-bit) are converted
     * first and gated on the RGB. */
    bool motion;
    struct video_motion_options motion_options; /* set to the defaults by video_options_init */
    /* Convert sampled frames to RGB only when the caller asks, with
     * video_stream_convert() after looking at f.motion: f.data is NULL until
     * then. Default off: every sampled frame is converted. */
    bool convert_on_demand;
};

void video_options_init(struct video_options *opts);

/* One sampled frame, RGB24. data belongs to the stream and is valid until the
 * next video_stream_read() or video_stream_free(): the same buffer is reused
 * for every frame (it is reallocated only when the resolution changes). With
 * convert_on_demand, data is NULL (and stride 0) until video_stream_convert();
 * width and height are the RGB size either way. */
struct video_frame {
    const uint8_t *data;
    int width, height;
    int stride;              /* bytes per row, >= 3 * width */
    double pts;              /* stream time in seconds from 0 at the first frame, strictly
                              * increasing; it jumps forward over lost or late frames */
    double decoded_at;       /* wall clock (time_wall_s) when it left the decoder */
    int64_t decoded_mono_ns; /* the same instant on time_mono_ns(), for durations */
    int64_t index;           /* 0, 1, 2, ... over the stream's life */
    /* The motion gate's result (computed is false without the stream's
     * motion option). */
    struct video_motion_result motion;
};

struct video_stats {
    enum video_state state;
    uint64_t decoded;       /* frames out of the decoder */
    uint64_t sampled;       /* frames handed to the caller */
    uint64_t dropped;       /* decoded frames not handed out (sampling, corrupt, late) */
    uint64_t late;          /* of which dropped because the reader fell behind a live source */
    uint64_t decode_errors; /* packets or frames the decoder rejected or marked corrupt */
    uint64_t reconnects;    /* connection attempts after the first */
    uint64_t gated;         /* sampled frames the motion gate found still (a reset is not) */
    uint64_t converted;     /* sampled frames converted to RGB */
    uint64_t gate_ns;       /* this stream's thread CPU time in the motion gate */
    uint64_t convert_ns;    /* and in the RGB conversion */
    double last_frame_at;   /* wall clock of the last sampled frame; 0 = none yet */
    double next_attempt_at; /* in backoff: wall clock of the next attempt; else 0 */
    double stream_fps;      /* the source's frame rate as FFmpeg guesses it; 0 = unknown */
    int source_width, source_height;
    char codec[32];       /* decoder name, "" before the first connection */
    bool skipping_nonref; /* AVDISCARD_NONREF in use */
    bool hwaccel_active;  /* frames come from the VAAPI decoder */
    /* RTSP: the transport of the current (or last) connection, tcp or udp;
     * auto before the first one and for other sources. */
    enum video_transport transport;
    uint64_t transport_fallbacks; /* times auto moved to the other transport */
    char last_error[256];         /* why the last attempt failed or the stream was lost */
};

struct video_stream;

/* Checks the URL and options and prepares the stream; does no I/O (the first
 * video_stream_read() connects). */
int video_stream_new(const char *url, const struct video_options *opts,
                     struct video_stream **ret_stream, struct errbuf *err);

/* Frees a stopped or never-read stream; returns NULL. The caller must make
 * sure no thread is inside video_stream_read() (stop it, then join). */
struct video_stream *video_stream_free(struct video_stream *s);

/* Blocks until the next sampled frame. Live sources (and any source under
 * VIDEO_RECONNECT_ALWAYS) reconnect with backoff by themselves and only return
 * a frame or -ECANCELED; files return AVERROR_EOF at their end; a failure of a
 * source that does not reconnect is returned with a message naming it. */
int video_stream_read(struct video_stream *s, struct video_frame *ret_frame, struct errbuf *err);

/* Converts the frame the last video_stream_read() gave (under the
 * convert_on_demand option) and sets its data, stride, width and height; does
 * nothing when it is converted already. -ESTALE for an older frame: only the
 * last one read is kept. */
int video_stream_convert(struct video_stream *s, struct video_frame *frame, struct errbuf *err);

/* Asks a stream to stop: any blocked read returns -ECANCELED within a few
 * hundred milliseconds (network calls are interrupted). Safe from any thread. */
void video_stream_stop(struct video_stream *s);

enum video_state video_stream_state(const struct video_stream *s);

/* A consistent snapshot of the counters; safe from any thread. */
void video_stream_stats(const struct video_stream *s, struct video_stats *ret_stats);

/* The URL with any password masked, for messages. */
const char *video_stream_name(const struct video_stream *s);

/* ---- what a service may take from whoever adds a camera (safe_options.c) --- */

/* Checks FFmpeg options ("key=value:key=value", as ffmpeg_options) against
 * an allow-list of options whose values cannot name a file or a URL:
 * -EPERM naming an option not on it, -EINVAL naming one whose value is not
 * of its kind. */
int video_ffmpeg_options_check_safe(const char *options, struct errbuf *err);

/* The allow-list's option names, for help and documentation. */
size_t video_safe_ffmpeg_option_count(void);
const char *video_safe_ffmpeg_option_name(size_t i);

/* Checks a forced demuxer: one FFmpeg has, and one that reads only its own
 * input (no concat, image2, sdp or lavfi): -EINVAL or -EPERM otherwise. */
int video_format_check_safe(const char *format, struct errbuf *err);

/* ---- image and video files for the tools (media.c, png.c) ------------------ */

/* Every frame of any image or video file FFmpeg opens, in decoding order, at
 * its own size: no sampling, deadlines or reconnecting (what crt pose and the
 * pose tests read; the daemon reads streams). */
struct video_media;

int video_media_open(const char *path, struct video_media **ret_media, struct errbuf *err);

/* Closes the file; accepts NULL and returns NULL. */
struct video_media *video_media_free(struct video_media *media);

/* The next decoded frame as packed RGB24, valid until the next call: returns 1
 * with a frame, 0 at the end, or a negative errno. */
int video_media_read(struct video_media *media, const uint8_t **ret_rgb, int *ret_width,
                     int *ret_height, int *ret_stride, double *ret_seconds, struct errbuf *err);

/* Writes packed RGB24 as a PNG file. */
int video_png_write(const char *path, const uint8_t *rgb, int width, int height, int stride,
                    struct errbuf *err);

#endif
