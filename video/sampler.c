/* sampler: picks frames at a target rate by presentation timestamp.
 *
 * Stream time is cut into slots of 1/fps seconds from the first frame (the
 * anchor); a frame is picked when it is the first one seen in a later slot
 * than the last picked frame. Counting slots instead of frames makes variable
 * frame rates and slow sources come out right by construction. */
#include "video.h"

#include <math.h>

/* A step backwards by more than this restarts the timeline (a camera reset
 * its clock, a stream was reconnected); smaller ones are jitter, dropped. */
#define SAMPLER_BACKWARD_TOLERANCE_S 0.5
/* A forward jump longer than this is taken as a discontinuity. */
#define SAMPLER_MAX_GAP_S 60.0
/* Frames a hair before a slot boundary (rounded timestamps) count as in it. */
#define SAMPLER_SLOT_EPSILON 1e-6
/* The assumed frame interval when a stream gives no timestamps at all. */
#define SAMPLER_DEFAULT_INTERVAL_S 0.04

void video_sampler_init(struct video_sampler *s, double fps)
{
    *s = (struct video_sampler){
        .step = fps > 0 ? 1.0 / fps : 0,
        .max_gap = SAMPLER_MAX_GAP_S,
        .last_slot = -1,
        .last_pts = 0,
    };
}

void video_sampler_rebase(struct video_sampler *s)
{
    s->anchored = false;
}

/* The interval used to place a frame without a timestamp, or to continue the
 * output timeline after a rebase. */
static double sampler_interval(const struct video_sampler *s)
{
    if (s->step > 0)
        return s->step;
    return SAMPLER_DEFAULT_INTERVAL_S;
}

static void sampler_anchor(struct video_sampler *s, double t)
{
    s->anchored = true;
    s->anchor = t;
    s->last_slot = -1;
    /* Output pts starts at 0, or continues one interval after the last. */
    s->offset = s->picked_any ? s->last_pts + sampler_interval(s) - t : -t;
}

bool video_sampler_push(struct video_sampler *s, double t, double *ret_pts)
{
    if (!isfinite(t))
        t = s->anchored ? s->last_source + sampler_interval(s) : 0;

    if (!s->anchored) {
        sampler_anchor(s, t);
    } else {
        double dt = t - s->last_source;
        if (dt < -SAMPLER_BACKWARD_TOLERANCE_S || dt > s->max_gap)
            sampler_anchor(s, t);
    }
    s->last_source = t;

    int64_t slot;
    if (s->step > 0) {
        slot = (int64_t)floor((t - s->anchor) / s->step + SAMPLER_SLOT_EPSILON);
    } else {
        /* Every frame: its own slot unless it does not move time forwards. */
        double pts = t + s->offset;
        if (s->picked_any && s->last_slot >= 0 && pts <= s->last_pts)
            return false;
        slot = s->last_slot + 1;
    }
    if (slot <= s->last_slot)
        return false;

    double pts = t + s->offset;
    if (s->picked_any && pts <= s->last_pts) /* rounding at a rebase */
        pts = nextafter(s->last_pts, INFINITY);
    s->last_slot = slot;
    s->last_pts = pts;
    s->picked_any = true;
    *ret_pts = pts;
    return true;
}
