/* tl_reader: a video stream read on a thread of its own (tl_reader.h). */
#include "tl_reader.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void *reader_main(void *arg)
{
    struct tl_reader *rd = arg;
    struct video_frame f;
    struct errbuf err = {{0}};
    int r;
    while ((r = video_stream_read(rd->s, &f, &err)) == 0) {
        pthread_mutex_lock(&rd->lock);
        if (rd->frames > 0 && f.pts <= rd->last_pts)
            rd->increasing = false;
        rd->last_pts = f.pts;
        rd->frames++;
        pthread_mutex_unlock(&rd->lock);
    }
    pthread_mutex_lock(&rd->lock);
    rd->r = r;
    rd->err = err;
    rd->ended = true;
    rd->ended_at = mono_s();
    pthread_mutex_unlock(&rd->lock);
    return NULL;
}

int tl_reader_start(struct tl_reader *rd, struct video_stream *s)
{
    memset(rd, 0, sizeof(*rd));
    rd->s = s;
    rd->increasing = true;
    int r = pthread_mutex_init(&rd->lock, NULL);
    if (r != 0)
        return -r;
    r = pthread_create(&rd->thread, NULL, reader_main, rd);
    if (r != 0) {
        pthread_mutex_destroy(&rd->lock);
        return -r;
    }
    return 0;
}

int tl_reader_frames(struct tl_reader *rd)
{
    pthread_mutex_lock(&rd->lock);
    int n = rd->frames;
    pthread_mutex_unlock(&rd->lock);
    return n;
}

bool tl_reader_ended(struct tl_reader *rd)
{
    pthread_mutex_lock(&rd->lock);
    bool ended = rd->ended;
    pthread_mutex_unlock(&rd->lock);
    return ended;
}

bool tl_reader_wait_frames(struct tl_reader *rd, int than, double timeout_s)
{
    double end = mono_s() + timeout_s;
    while (mono_s() < end) {
        if (tl_reader_frames(rd) > than)
            return true;
        sleep_s(0.02);
    }
    return false;
}

bool tl_reader_join(struct tl_reader *rd, double timeout_s)
{
    double end = mono_s() + timeout_s;
    while (!tl_reader_ended(rd) && mono_s() < end)
        sleep_s(0.005);
    if (!tl_reader_ended(rd))
        return false;
    pthread_join(rd->thread, NULL);
    pthread_mutex_destroy(&rd->lock);
    return true;
}
