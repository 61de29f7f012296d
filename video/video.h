/* video: FFmpeg input for crtd — open any source FFmpeg can read, demux,
 * decode, sample frames by presentation timestamp, convert the sampled ones
 * to RGB, reconnect. Knows nothing of the model, HTTP or the daemon. */
#ifndef CRTD_VIDEO_H
#define CRTD_VIDEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
