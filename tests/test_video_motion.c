/* The motion gate. Two groups, chosen by the first argument:
 *
 *   unit   the detector on synthetic luma: a textured still scene with
 *          sensor noise, brightness shifts, flicker, exposure (gain)
 *          changes and clipped highlights gives no motion; moving squares
 *          are found on their first frame, in the right place, largest
 *          first; specks below min_area are not; what stops moving fades.
 *   clips  streams of ffmpeg-made clips at test time: an empty room (a still
 *          picture made into a video) with flicker and noise, and the same
 *          room with a box that starts moving; the stream's counters and
 *          conversion on demand.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "video.h"

#define W 320
#define H 240

static uint8_t scene[H][W]; /* the room */
static uint8_t frame[H][W]; /* what the camera gives */
static uint32_t rng = 1;

static int noise(int amplitude) /* uniform in [-amplitude, amplitude] */
{
    rng = rng * 1664525u + 1013904223u;
    return (int)((rng >> 8) % (uint32_t)(2 * amplitude + 1)) - amplitude;
}

static uint8_t clip8(double v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v));
}

/* A room-like texture in 40..215: smooth shading, edges, some detail. */
static void make_scene(void)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double v = 128 + 50 * sin(x / 23.0) * cos(y / 17.0);
            if ((x / 40 + y / 30) % 3 == 0)
                v += 30; /* furniture edges */
            v += ((x * 7 + y * 13) % 11) - 5;
            scene[y][x] = clip8(v);
        }
}

/* frame = gain * scene + offset + noise, with a square of `value` at (sx, sy). */
static void render(double gain, double offset, int noise_amp, int sx, int sy, int side, int value)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double v = scene[y][x];
            if (side > 0 && x >= sx && x < sx + side && y >= sy && y < sy + side)
                v = value;
            frame[y][x] = clip8(gain * v + offset + (noise_amp ? noise(noise_amp) : 0));
        }
}

static struct video_motion *detector(void)
{
    struct video_motion *m = NULL;
    struct errbuf err = {{0}};
    assert_int_equal(video_motion_new(NULL, &m, &err), 0);
    return m;
}

static void push(struct video_motion *m, struct video_motion_result *res)
{
    assert_int_equal(video_motion_push_luma(m, &frame[0][0], W, H, W, 1, res), 0);
    assert_true(res->computed);
}

/* ---- lighting and noise do not count -------------------------------------- */

static void still_scene_with_noise_and_lighting_is_still(void **state)
{
    (void)state;
    struct video_motion *m = detector();
    struct video_motion_result res;
    float worst = 0;

    make_scene();
    render(1, 0, 6, 0, 0, 0, 0);
    push(m, &res);
    assert_true(res.reset);
    assert_false(res.moved);
    for (int i = 1; i < 120; i++) {
        double t = i / 10.0, gain = 1, offset = 0;
        if (i < 30) /* a lamp flickering: +-30 levels at 1.5 Hz */
            offset = 30 * sin(2 * M_PI * 1.5 * t);
        else if (i < 40) /* a light switched on: +40 at once */
            offset = 40;
        else if (i < 60) /* auto exposure: a gain of 1.3 */
            gain = 1.3;
        else if (i < 80) /* a cloud: the picture darkens to 0.6 */
            gain = 0.6 + 0.4 * (80 - i) / 20.0;
        else /* an overexposed picture, highlights clipped at 255 */
            gain = 1.2, offset = 50;
        render(gain, offset, 6, 0, 0, 0, 0);
        push(m, &res);
        if (res.fraction > worst)
            worst = res.fraction;
        if (res.moved)
            print_message("frame %d: moved, fraction %.4f, gain %.2f offset %.1f\n", i,
                          res.fraction, res.gain, res.offset);
        assert_false(res.reset);
        assert_false(res.moved);
        assert_int_equal(res.nboxes, 0);
    }
    print_message("worst changed fraction of a still scene: %.4f\n", worst);
    video_motion_free(m);
}

/* ---- motion --------------------------------------------------------------- */

static void a_moving_square_is_found_on_its_first_frame_where_it_is(void **state)
{
    (void)state;
    struct video_motion *m = detector();
    struct video_motion_result res;

    make_scene();
    for (int i = 0; i < 10; i++) { /* standing still: part of the room */
        render(1, 0, 4, 60, 80, 40, 240);
        push(m, &res);
        assert_false(res.moved);
    }
    /* It moves 6 px right, with a flicker of +15 at the same time. */
    render(1, 15, 4, 66, 80, 40, 240);
    push(m, &res);
    print_message("moved %d fraction %.4f boxes %d, first %.3f,%.3f..%.3f,%.3f\n", res.moved,
                  res.fraction, res.nboxes, res.boxes[0].x0, res.boxes[0].y0, res.boxes[0].x1,
                  res.boxes[0].y1);
    assert_true(res.moved);
    assert_true(res.nboxes >= 1);
    /* The change is at its left and right edges, x 60..106, y 80..120. */
    for (int k = 0; k < res.nboxes; k++) {
        const struct video_box *b = &res.boxes[k];
        assert_true(b->x0 >= 55.0 / W && b->x1 <= 112.0 / W);
        assert_true(b->y0 >= 74.0 / H && b->y1 <= 126.0 / H);
        assert_true(b->x0 < b->x1 && b->y0 < b->y1);
    }
    video_motion_free(m);
}

static void regions_are_reported_largest_first_and_specks_are_noise(void **state)
{
    (void)state;
    struct video_motion *m = detector();
    struct video_motion_result res;

    make_scene();
    render(1, 0, 0, 0, 0, 0, 0);
    push(m, &res);
    /* A big square at the right, a small one at the top left, and a
     * speck of 2x2 px (a fraction of one cell) in between. */
    render(1, 0, 0, 0, 0, 0, 0);
    for (int y = 150; y < 220; y++)
        for (int x = 220; x < 300; x++)
            frame[y][x] = 250;
    for (int y = 20; y < 44; y++)
        for (int x = 20; x < 44; x++)
            frame[y][x] = 5;
    frame[120][160] = frame[120][161] = frame[121][160] = frame[121][161] = 255;
    push(m, &res);
    print_message("fraction %.4f, %d boxes\n", res.fraction, res.nboxes);
    assert_true(res.moved);
    assert_int_equal(res.nboxes, 2);
    assert_true(res.boxes[0].x0 >= 215.0 / W && res.boxes[0].x1 <= 305.0 / W);
    assert_true(res.boxes[0].y0 >= 145.0 / H && res.boxes[0].y1 <= 225.0 / H);
    assert_true(res.boxes[1].x0 >= 15.0 / W && res.boxes[1].x1 <= 49.0 / W);
    assert_true(res.boxes[1].y0 >= 15.0 / H && res.boxes[1].y1 <= 49.0 / H);
    /* about 80x70 + 24x24 px of 320x240 */
    double expected = (80.0 * 70 + 24.0 * 24) / (W * H);
    assert_true(fabs(res.fraction - expected) < 0.5 * expected);
    video_motion_free(m);
}

static void more_regions_than_the_cap_keep_the_largest(void **state)
{
    (void)state;
    struct video_motion *m = detector();
    struct video_motion_result res;

    make_scene();
    render(1, 0, 0, 0, 0, 0, 0);
    push(m, &res);
    render(1, 0, 0, 0, 0, 0, 0);
    /* 12 squares on a 4x3 grid, growing from 8 to 30 px. */
    for (int k = 0; k < 12; k++) {
        int x0 = 10 + 78 * (k % 4), y0 = 10 + 78 * (k / 4), side = 8 + 2 * k;
        for (int y = y0; y < y0 + side; y++)
            for (int x = x0; x < x0 + side; x++)
                frame[y][x] = 250;
    }
    push(m, &res);
    assert_true(res.moved);
    assert_int_equal(res.nboxes, VIDEO_MOTION_MAX_BOXES);
    for (int k = 0; k < res.nboxes; k++) { /* the largest first: squares 11, 10, ... 4 */
        const struct video_box *b = &res.boxes[k];
        int sx = (int)((b->x0 + b->x1) / 2 * W) / 78, sy = (int)((b->y0 + b->y1) / 2 * H) / 78;
        assert_int_equal(sy * 4 + sx, 11 - k);
    }
    video_motion_free(m);
}

static void what_stops_moving_fades_into_the_background(void **state)
{
    (void)state;
    struct video_motion *m = detector();
    struct video_motion_result res;
    int moving_frames = 0;

    make_scene();
    render(1, 0, 3, 0, 0, 0, 0);
    push(m, &res);
    for (int i = 0; i < 100; i++) { /* a box put down, then left there */
        render(1, 0, 3, 100, 100, 50, 250);
        push(m, &res);
        if (res.moved)
            moving_frames = i + 1;
    }
    print_message("a box put down counts as motion for %d frames (rate 0.05)\n", moving_frames);
    assert_true(moving_frames >= 5);
    assert_true(moving_frames <= 60); /* 3 / rate */
    video_motion_free(m);
}

/* ---- inputs -------------------------------------------------------------- */

static void rgb_and_packed_inputs_match_the_luma_plane(void **state)
{
    (void)state;
    static uint8_t rgb[H][W * 3], yuyv[H][W * 2];
    struct video_motion *a = detector(), *b = detector(), *c = detector();
    struct video_motion_result ra, rb, rc;

    make_scene();
    for (int i = 0; i < 3; i++) {
        render(1, 0, 0, 40 + 30 * i, 60, 40, 230);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                rgb[y][3 * x] = rgb[y][3 * x + 1] = rgb[y][3 * x + 2] = frame[y][x];
                yuyv[y][2 * x] = frame[y][x];
                yuyv[y][2 * x + 1] = 128;
            }
        push(a, &ra);
        assert_int_equal(video_motion_push_rgb24(b, &rgb[0][0], W, H, W * 3, &rb), 0);
        assert_int_equal(video_motion_push_luma(c, &yuyv[0][0], W, H, W * 2, 2, &rc), 0);
        assert_int_equal(ra.moved, rb.moved);
        assert_int_equal(ra.moved, rc.moved);
        assert_int_equal(ra.nboxes, rb.nboxes);
        assert_int_equal(ra.nboxes, rc.nboxes);
        assert_float_equal(ra.fraction, rb.fraction, 1e-6);
        assert_float_equal(ra.fraction, rc.fraction, 1e-6);
        for (int k = 0; k < ra.nboxes; k++)
            assert_memory_equal(&ra.boxes[k], &rc.boxes[k], sizeof(ra.boxes[k]));
    }
    assert_true(ra.moved);
    video_motion_free(a);
    video_motion_free(b);
    video_motion_free(c);
}

static void a_new_size_restarts_the_background(void **state)
{
    (void)state;
    struct video_motion *m = detector();
    struct video_motion_result res;

    make_scene();
    render(1, 0, 0, 0, 0, 0, 0);
    push(m, &res);
    assert_true(res.reset);
    push(m, &res);
    assert_false(res.reset);
    /* the top-left 160x120, a smaller picture (less than 100 rows: no downscale below) */
    assert_int_equal(video_motion_push_luma(m, &frame[0][0], 160, 120, W, 1, &res), 0);
    assert_true(res.reset);
    assert_int_equal(video_motion_push_luma(m, &frame[0][0], 64, 48, W, 1, &res), 0);
    assert_true(res.reset);
    assert_int_equal(video_motion_push_luma(m, &frame[0][0], 64, 48, W, 1, &res), 0);
    assert_false(res.reset);
    assert_false(res.moved);
    video_motion_reset(m);
    assert_int_equal(video_motion_push_luma(m, &frame[0][0], 64, 48, W, 1, &res), 0);
    assert_true(res.reset);
    /* a bottom-up picture (negative stride) and a 1x1 one */
    assert_int_equal(video_motion_push_luma(m, &frame[H - 1][0], W, H, -W, 1, &res), 0);
    assert_int_equal(video_motion_push_luma(m, &frame[0][0], 1, 1, 1, 1, &res), 0);
    video_motion_free(m);
}

static void bad_options_and_inputs_are_refused(void **state)
{
    (void)state;
    struct video_motion_options o;
    struct video_motion *m = NULL;
    struct errbuf err = {{0}};
    struct video_motion_result res;

    video_motion_options_init(&o);
    o.threshold = 0;
    assert_int_equal(video_motion_new(&o, &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "threshold"));
    video_motion_options_init(&o);
    o.height = 2;
    assert_int_equal(video_motion_new(&o, &m, &err), -EINVAL);
    video_motion_options_init(&o);
    o.background_rate = 0;
    assert_int_equal(video_motion_new(&o, &m, &err), -EINVAL);
    video_motion_options_init(&o);
    o.min_area = 1.5;
    assert_int_equal(video_motion_new(&o, &m, &err), -EINVAL);
    video_motion_options_init(&o);
    o.dilation = -1;
    assert_int_equal(video_motion_new(&o, &m, &err), -EINVAL);
    assert_null(m);

    m = detector();
    assert_int_equal(video_motion_push_luma(m, NULL, W, H, W, 1, &res), -EINVAL);
    assert_int_equal(video_motion_push_luma(m, &frame[0][0], 0, H, W, 1, &res), -EINVAL);
    assert_int_equal(video_motion_push_luma(m, &frame[0][0], W, H, W - 1, 1, &res), -EINVAL);
    assert_int_equal(video_motion_push_luma(m, &frame[0][0], W, H, W, 0, &res), -EINVAL);
    assert_int_equal(video_motion_push_rgb24(m, &frame[0][0], W, H, W, &res), -EINVAL);
    assert_null(video_motion_free(m));
    assert_null(video_motion_free(NULL));
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(still_scene_with_noise_and_lighting_is_still),
        cmocka_unit_test(a_moving_square_is_found_on_its_first_frame_where_it_is),
        cmocka_unit_test(regions_are_reported_largest_first_and_specks_are_noise),
        cmocka_unit_test(more_regions_than_the_cap_keep_the_largest),
        cmocka_unit_test(what_stops_moving_fades_into_the_background),
        cmocka_unit_test(rgb_and_packed_inputs_match_the_luma_plane),
        cmocka_unit_test(a_new_size_restarts_the_background),
        cmocka_unit_test(bad_options_and_inputs_are_refused),
    };
    return cmocka_run_group_tests_name("video_motion", tests, NULL, NULL);
}
