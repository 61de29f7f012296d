/* Unit tests of sampling by timestamp and of the reconnect backoff. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "video.h"

/* Feeds n frames at t0, t0+dt, ... and returns how many were picked,
 * checking that the picked pts strictly increase from *last_pts. */
static int feed(struct video_sampler *s, double t0, double dt, int n, double *last_pts)
{
    int picked = 0;
    for (int i = 0; i < n; i++) {
        double pts;
        if (video_sampler_push(s, t0 + i * dt, &pts)) {
            if (*last_pts >= 0 || picked > 0)
                assert_true(pts > *last_pts);
            *last_pts = pts;
            picked++;
        }
    }
    return picked;
}

static void thirty_fps_at_ten_gives_ten_per_second(void **state)
{
    struct video_sampler s;
    double last = -1;
    video_sampler_init(&s, 10);
    /* 1/90000 time base, as MPEG-TS and RTP give. */
    int picked = 0;
    for (int i = 0; i < 300; i++) {
        double pts;
        if (video_sampler_push(&s, (i * 3000) / 90000.0, &pts)) {
            assert_true(pts > last);
            /* Picked frames sit on the 0.1 s grid of a 30 fps source. */
            assert_true(fabs(pts - picked * 0.1) < 1e-9);
            last = pts;
            picked++;
        }
    }
    assert_int_equal(picked, 100);
}

static void ntsc_and_pal_rates_are_sampled_evenly(void **state)
{
    struct video_sampler s;
    double last = -1;
    video_sampler_init(&s, 10);
    int picked = feed(&s, 0, 1.0 / 25, 250, &last); /* 10 s of 25 fps */
    assert_in_range(picked, 99, 101);
    video_sampler_init(&s, 10);
    last = -1;
    picked = feed(&s, 0, 1001.0 / 30000, 300, &last); /* 29.97 fps, ~10 s */
    assert_in_range(picked, 99, 101);
}

static void variable_frame_rate_follows_timestamps(void **state)
{
    struct video_sampler s;
    double last = -1;
    video_sampler_init(&s, 15);
    int picked = feed(&s, 0, 1.0 / 30, 30, &last); /* 1 s at 30 fps: 15 */
    picked += feed(&s, 1.0, 1.0 / 10, 20, &last);  /* 2 s at 10 fps: slower, all 20 */
    picked += feed(&s, 3.0, 1.0 / 60, 120, &last); /* 2 s at 60 fps: 30 */
    assert_in_range(picked, 64, 66);
}

static void slow_source_gives_every_frame(void **state)
{
    struct video_sampler s;
    double last = -1;
    video_sampler_init(&s, 10);
    assert_int_equal(feed(&s, 5.0, 0.2, 50, &last), 50);
    /* The output pts starts at 0 whatever the source's first timestamp. */
    double pts;
    video_sampler_init(&s, 10);
    assert_true(video_sampler_push(&s, 1234.5, &pts));
    assert_true(pts == 0);
}

static void missing_timestamps_are_placed_after_the_last(void **state)
{
    struct video_sampler s;
    double pts, last = -1;
    int picked = 0;
    video_sampler_init(&s, 10);
    for (int i = 0; i < 100; i++)
        if (video_sampler_push(&s, NAN, &pts)) {
            assert_true(pts > last);
            last = pts;
            picked++;
        }
    assert_true(picked > 0);
    /* Mixed: a stream that loses its timestamps for a while. */
    picked = feed(&s, 4.0, 0.1, 10, &last);
    assert_true(picked >= 9);
}

static void backward_jump_rebases_and_keeps_pts_increasing(void **state)
{
    struct video_sampler s;
    double last = -1;
    video_sampler_init(&s, 10);
    int picked = feed(&s, 100.0, 1.0 / 30, 60, &last); /* 2 s */
    double before = last;
    picked += feed(&s, 3.0, 1.0 / 30, 60, &last); /* the clock went back 99 s */
    assert_in_range(picked, 39, 41);
    assert_true(last > before);
    assert_true(last < before + 2.5);
}

static void forward_jump_is_a_gap_or_a_discontinuity(void **state)
{
    struct video_sampler s;
    double pts, last = -1;
    video_sampler_init(&s, 10);
    feed(&s, 0, 0.1, 10, &last);
    /* 5 s of nothing: a real gap, kept. */
    assert_true(video_sampler_push(&s, 5.9, &pts));
    assert_true(fabs(pts - 5.9) < 1e-9);
    /* An hour ahead: a discontinuity, rebased one step on. */
    assert_true(video_sampler_push(&s, 3605.9, &pts));
    assert_true(fabs(pts - 6.0) < 1e-9);
}

static void jitter_backwards_is_dropped(void **state)
{
    struct video_sampler s;
    double pts;
    video_sampler_init(&s, 10);
    assert_true(video_sampler_push(&s, 1.0, &pts));
    assert_false(video_sampler_push(&s, 0.99, &pts));
    assert_false(video_sampler_push(&s, 1.0, &pts));
    assert_true(video_sampler_push(&s, 1.1, &pts));
}

static void zero_fps_takes_every_frame_moving_forwards(void **state)
{
    struct video_sampler s;
    double pts, last = -1;
    video_sampler_init(&s, 0);
    assert_int_equal(feed(&s, 0, 1.0 / 30, 90, &last), 90);
    assert_false(video_sampler_push(&s, 89.0 / 30, &pts)); /* a duplicate */
}

static void rebase_continues_one_step_on(void **state)
{
    struct video_sampler s;
    double pts, last = -1;
    video_sampler_init(&s, 10);
    feed(&s, 0, 1.0 / 30, 30, &last);
    video_sampler_rebase(&s);
    assert_true(video_sampler_push(&s, 0.0, &pts)); /* a reconnected stream restarts at 0 */
    assert_true(fabs(pts - (last + 0.1)) < 1e-9);
}

static void backoff_doubles_with_jitter_up_to_the_cap(void **state)
{
    for (unsigned a = 1; a <= 10; a++) {
        double base = fmin(60, exp2(a - 1));
        double lo = video_backoff_delay(1, 60, a, 0.0);
        double mid = video_backoff_delay(1, 60, a, 0.5);
        double hi = video_backoff_delay(1, 60, a, 0.999999);
        assert_true(fabs(mid - base) < 1e-9);
        assert_true(lo >= 0.8 * base - 1e-9 && lo < base);
        assert_true(hi <= fmin(60, 1.2 * base) + 1e-9);
    }
    assert_true(video_backoff_delay(1, 60, 1, 0.5) == 1.0);
    assert_true(video_backoff_delay(1, 60, 4000000000u, 0.99) <= 60.0);
    assert_true(video_backoff_delay(1, 60, 0, 0.5) == 1.0);
    assert_true(video_backoff_delay(1, 60, 100, 0.0) >= 48.0);
}

static void options_have_the_documented_defaults(void **state)
{
    struct video_options o;
    video_options_init(&o);
    assert_true(o.fps == 10);
    assert_int_equal(o.max_side, 640);
    assert_int_equal(o.threads, 1);
    assert_int_equal(o.transport, VIDEO_TRANSPORT_AUTO);
    assert_string_equal(video_transport_name(o.transport), "auto");
    assert_true(o.backoff_min_s == 1 && o.backoff_max_s == 60);
    assert_true(o.max_lag_s == 2);
    assert_null(o.stop_flag);
    assert_string_equal(video_state_name(VIDEO_STATE_BACKOFF), "backoff");
    assert_true(video_source_kind_is_live(VIDEO_SOURCE_RTSP));
    assert_false(video_source_kind_is_live(VIDEO_SOURCE_FILE));
}

static void bad_options_are_refused_before_any_io(void **state)
{
    struct video_options o;
    struct video_stream *s = NULL;
    struct errbuf err = {{0}};
    video_options_init(&o);
    o.fps = -1;
    assert_int_equal(video_stream_new("rtsp://u:pw@cam/x", &o, &s, &err), -EINVAL);
    assert_null(s);
    assert_non_null(strstr(err.msg, "rtsp://u:***@cam/x"));
    assert_null(strstr(err.msg, "pw@"));
    video_options_init(&o);
    o.backoff_min_s = 5;
    o.backoff_max_s = 1;
    assert_int_equal(video_stream_new("a.mp4", &o, &s, &err), -EINVAL);
    video_options_init(&o);
    o.max_lag_s = -1;
    assert_int_equal(video_stream_new("rtsp://cam/x", &o, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "max lag"));
    video_options_init(&o);
    o.ffmpeg_options = "=novalue";
    assert_int_equal(video_stream_new("a.mp4", &o, &s, &err), -EINVAL);
    assert_int_equal(video_stream_new("gopher://x/y", NULL, &s, &err), -EPROTONOSUPPORT);
    assert_null(s);
    assert_null(video_stream_free(NULL));
    video_stream_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thirty_fps_at_ten_gives_ten_per_second),
        cmocka_unit_test(ntsc_and_pal_rates_are_sampled_evenly),
        cmocka_unit_test(variable_frame_rate_follows_timestamps),
        cmocka_unit_test(slow_source_gives_every_frame),
        cmocka_unit_test(missing_timestamps_are_placed_after_the_last),
        cmocka_unit_test(backward_jump_rebases_and_keeps_pts_increasing),
        cmocka_unit_test(forward_jump_is_a_gap_or_a_discontinuity),
        cmocka_unit_test(jitter_backwards_is_dropped),
        cmocka_unit_test(zero_fps_takes_every_frame_moving_forwards),
        cmocka_unit_test(rebase_continues_one_step_on),
        cmocka_unit_test(backoff_doubles_with_jitter_up_to_the_cap),
        cmocka_unit_test(options_have_the_documented_defaults),
        cmocka_unit_test(bad_options_are_refused_before_any_io),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
