/* tl_reader: a thread that reads a video stream until it fails, counting
 * frames and checking that their timestamps only go up, so that a test can
 * kill a camera, stop the stream or watch the frames come while the stream
 * is busy in video_stream_read. */
#ifndef CRTD_TESTS_TL_READER_H
#define CRTD_TESTS_TL_READER_H

#include <pthread.h>
#include <stdbool.h>

#include "video.h"

struct tl_reader {
    struct video_stream *s;
    pthread_t thread;
    pthread_mutex_t lock;
    /* Under lock while the thread runs; read directly after tl_reader_join. */
    int frames;
    double last_pts;
    bool increasing; /* every frame's pts above the one before */
    bool ended;      /* video_stream_read failed: r and err say how */
    double ended_at; /* when, in CLOCK_MONOTONIC seconds */
    int r;
    struct errbuf err;
};

/* Starts reading s on a new thread. 0 or a negative errno. */
int tl_reader_start(struct tl_reader *rd, struct video_stream *s);

int tl_reader_frames(struct tl_reader *rd);
bool tl_reader_ended(struct tl_reader *rd);

/* Waits at most timeout_s for more than `than` frames; true when they came. */
bool tl_reader_wait_frames(struct tl_reader *rd, int than, double timeout_s);

/* Waits at most timeout_s for the reading to end (the caller stopped the
 * stream), then joins the thread. false when it did not end: the thread is
 * left running, and the test is to fail rather than hang. */
bool tl_reader_join(struct tl_reader *rd, double timeout_s);

#endif
