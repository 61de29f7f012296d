/* pose_media: the small FFmpeg reader and PNG writer of `crt pose` (and of
 * the pose tests): any image or video FFmpeg opens, one RGB24 frame at a time.
 * Local to tools/ until the video library covers still images. */
#ifndef CRTD_TOOLS_POSE_MEDIA_H
#define CRTD_TOOLS_POSE_MEDIA_H

#include <stdint.h>

#include "base.h"

struct pose_media;

int pose_media_open(const char *path, struct pose_media **ret_media, struct errbuf *err);
struct pose_media *pose_media_close(struct pose_media *media);

/* The next decoded frame as packed RGB24, valid until the next call: returns 1
 * with a frame, 0 at the end, or a negative errno. */
int pose_media_read(struct pose_media *media, const uint8_t **ret_rgb, int *ret_width,
                    int *ret_height, int *ret_stride, double *ret_seconds, struct errbuf *err);

/* Writes packed RGB24 as a PNG file. */
int pose_media_write_png(const char *path, const uint8_t *rgb, int width, int height, int stride,
                         struct errbuf *err);

#endif
