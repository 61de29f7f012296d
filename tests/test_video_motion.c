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
#include "video/helpers.h"

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

/* ---- clips ---------------------------------------------------------------- */

static char dir[1024];

static const char *clip(const char *name)
{
    static char path[4][1200];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
    return p;
}

#define FF "ffmpeg -nostdin -v error -y "
/* A lamp flickering (brightness +-0.1, about +-26 levels, at 1.3 Hz), the
 * camera's exposure breathing (contrast +-15% at 0.4 Hz) and sensor noise. */
#define LIGHT_AND_NOISE                                                                            \
    "eq=brightness='0.1*sin(2*PI*1.3*t)':contrast='1+0.15*sin(2*PI*0.4*t)':eval=frame,"            \
    "noise=alls=12:allf=t"
/* The box: 60x120 px at (100, 200) of 640x480, still for 2 s, then moving
 * right at 150 px/s. */
#define BOX_X0 100
#define BOX_Y0 200
#define BOX_W  60
#define BOX_H  120
#define BOX_T  2.0
#define BOX_V  150

static int make_clips(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "%s", fixture_dir("motion"));
    /* The empty room: one picture (softened so that lighting does not clip
     * it), made into 4 s of video. */
    if (run_shell(FF "-f lavfi -i testsrc2=size=640x480 -vf eq=contrast=0.8 -frames:v 1 '%s'",
                  clip("room.png")) ||
        run_shell(FF "-loop 1 -framerate 30 -i '%s' -t 4 -vf \"" LIGHT_AND_NOISE "\" "
                     "-c:v libx264 -preset veryfast -pix_fmt yuv420p '%s'",
                  clip("room.png"), clip("still.mp4")) ||
        run_shell(FF
                  "-loop 1 -framerate 30 -i '%s' -f lavfi -i color=c=0x202020:size=%dx%d:rate=30 "
                  "-t 4 -filter_complex "
                  "\"[0][1]overlay=x='if(lt(t,%g),%d,%d+(t-%g)*%d)':y=%d," LIGHT_AND_NOISE
                  "\" -c:v libx264 -preset veryfast -pix_fmt yuv420p '%s'",
                  clip("room.png"), BOX_W, BOX_H, BOX_T, BOX_X0, BOX_X0, BOX_T, BOX_V, BOX_Y0,
                  clip("moving.mp4")))
        return -1;
    return 0;
}

static struct video_options gate_options(bool on_demand)
{
    struct video_options o;
    video_options_init(&o);
    o.fps = 10;
    o.motion = true;
    o.convert_on_demand = on_demand;
    return o;
}

static void empty_room_with_flicker_and_noise_has_no_motion(void **state)
{
    (void)state;
    struct video_options o = gate_options(true);
    struct video_stream *s = NULL;
    struct video_frame f;
    struct video_stats st;
    struct errbuf err = {{0}};
    float worst = 0, min_offset = 1e9f, max_offset = -1e9f, min_gain = 1e9f, max_gain = 0;
    int frames = 0, r;

    assert_int_equal(video_stream_new(clip("still.mp4"), &o, &s, &err), 0);
    while ((r = video_stream_read(s, &f, &err)) == 0) {
        assert_true(f.motion.computed);
        assert_int_equal(f.motion.reset, frames == 0);
        assert_false(f.motion.moved);
        assert_null(f.data); /* nothing converted */
        assert_int_equal(f.width, 640);
        assert_int_equal(f.height, 480);
        worst = fmaxf(worst, f.motion.fraction);
        if (frames > 0) {
            min_offset = fminf(min_offset, f.motion.offset);
            max_offset = fmaxf(max_offset, f.motion.offset);
            min_gain = fminf(min_gain, f.motion.gain);
            max_gain = fmaxf(max_gain, f.motion.gain);
        }
        frames++;
    }
    assert_int_equal(r, AVERROR_EOF);
    video_stream_stats(s, &st);
    video_stream_free(s);
    print_message("%d frames, worst fraction %.4f, lighting corrected by gain %.2f..%.2f, "
                  "offset %.1f..%.1f; gate %.1f us/frame\n",
                  frames, worst, min_gain, max_gain, min_offset, max_offset,
                  (double)st.gate_ns / 1e3 / (double)st.sampled);
    assert_int_equal(frames, 40);
    /* The flicker is really there, and was corrected. */
    assert_true(max_offset - min_offset > 20 || max_gain - min_gain > 0.1);
    assert_int_equal(st.sampled, 40);
    assert_int_equal(st.gated, 39); /* all but the first, which starts the background */
    assert_int_equal(st.converted, 0);
    assert_true(st.gate_ns > 0);
}

static void a_box_is_found_on_the_first_frame_it_moves(void **state)
{
    (void)state;
    struct video_options o = gate_options(true);
    struct video_stream *s = NULL;
    struct video_frame f;
    struct video_stats st;
    struct errbuf err = {{0}};
    int frames = 0, moved = 0, r;
    double first_moved = -1;

    assert_int_equal(video_stream_new(clip("moving.mp4"), &o, &s, &err), 0);
    while ((r = video_stream_read(s, &f, &err)) == 0) {
        frames++;
        assert_true(f.motion.computed);
        /* Up to 2.0 s the box has not moved; any frame after has (by 5 px
         * at 2.033 s, the next frame of the source). */
        if (f.pts <= BOX_T + 1e-3) {
            if (f.motion.moved)
                print_message("pts %.3f: moved %.4f before the box moves\n", f.pts,
                              f.motion.fraction);
            assert_false(f.motion.moved);
            continue;
        }
        if (first_moved < 0)
            first_moved = f.pts;
        assert_true(f.motion.moved); /* it keeps moving */
        moved++;
        /* The boxes lie around where the box was and is: x from where it
         * stood (the background keeps a fading ghost of it there) to where
         * it is now, y its rows (10 px of slack: cells are 4.8 px). */
        double x_lo = BOX_X0 - 10;
        double x_hi = BOX_X0 + BOX_W + (f.pts - BOX_T) * BOX_V + 10;
        for (int k = 0; k < f.motion.nboxes; k++) {
            const struct video_box *b = &f.motion.boxes[k];
            if (moved == 1 || k == f.motion.nboxes - 1)
                print_message("pts %.3f box %d: x %.0f..%.0f y %.0f..%.0f (expected x %.0f..%.0f "
                              "y %d..%d)\n",
                              f.pts, k, b->x0 * 640, b->x1 * 640, b->y0 * 480, b->y1 * 480, x_lo,
                              x_hi, BOX_Y0, BOX_Y0 + BOX_H);
            assert_true(b->x0 * 640 >= x_lo && b->x1 * 640 <= x_hi);
            assert_true(b->y0 * 480 >= BOX_Y0 - 10 && b->y1 * 480 <= BOX_Y0 + BOX_H + 10);
        }
        assert_true(f.motion.nboxes >= 1);
        /* Pose would run: convert this one. */
        assert_null(f.data);
        assert_int_equal(video_stream_convert(s, &f, &err), 0);
        assert_non_null(f.data);
        assert_int_equal(f.width, 640);
        assert_int_equal(f.stride >= 3 * 640, true);
        assert_int_equal(video_stream_convert(s, &f, &err), 0); /* once is enough */
    }
    assert_int_equal(r, AVERROR_EOF);
    video_stream_stats(s, &st);
    video_stream_free(s);
    print_message("first moved frame at pts %.3f; %d of %d frames moved\n", first_moved, moved,
                  frames);
    assert_true(first_moved > BOX_T && first_moved <= BOX_T + 0.1 + 1e-3);
    assert_int_equal(st.sampled, (uint64_t)frames);
    assert_int_equal(st.converted, (uint64_t)moved);
    assert_int_equal(st.gated, (uint64_t)(frames - moved - 1));
}

static void an_older_frame_cannot_be_converted(void **state)
{
    (void)state;
    struct video_options o = gate_options(true);
    struct video_stream *s = NULL;
    struct video_frame a, b;
    struct errbuf err = {{0}};

    assert_int_equal(video_stream_new(clip("moving.mp4"), &o, &s, &err), 0);
    assert_int_equal(video_stream_read(s, &a, &err), 0);
    assert_int_equal(video_stream_read(s, &b, &err), 0);
    assert_int_equal(video_stream_convert(s, &a, &err), -ESTALE);
    assert_non_null(strstr(err.msg, "moving.mp4"));
    assert_int_equal(video_stream_convert(s, &b, &err), 0);
    assert_non_null(b.data);
    video_stream_free(s);
}

static void every_frame_is_converted_unless_asked_otherwise(void **state)
{
    (void)state;
    struct video_options o = gate_options(false);
    struct video_stream *s = NULL;
    struct video_frame f;
    struct video_stats st;
    struct errbuf err = {{0}};
    int frames = 0;

    /* With the gate: every frame converted, the gate's result beside it. */
    assert_int_equal(video_stream_new(clip("moving.mp4"), &o, &s, &err), 0);
    while (video_stream_read(s, &f, &err) == 0) {
        assert_non_null(f.data);
        assert_true(f.motion.computed);
        assert_int_equal(f.motion.moved, f.pts > BOX_T + 1e-3);
        frames++;
    }
    video_stream_stats(s, &st);
    video_stream_free(s);
    assert_int_equal(st.converted, (uint64_t)frames);
    assert_int_equal(st.gated, 20); /* from 0.1 s to 2.0 s */

    /* Without it (the default): nothing computed, nothing gated. */
    video_options_init(&o);
    frames = 0;
    assert_int_equal(video_stream_new(clip("still.mp4"), &o, &s, &err), 0);
    while (video_stream_read(s, &f, &err) == 0) {
        assert_false(f.motion.computed);
        assert_non_null(f.data);
        frames++;
    }
    video_stream_stats(s, &st);
    video_stream_free(s);
    assert_int_equal(st.converted, (uint64_t)frames);
    assert_int_equal(st.gated, 0);
    assert_int_equal(st.gate_ns, 0);
}

static void an_rgb_source_is_gated_after_its_conversion(void **state)
{
    (void)state;
    struct video_options o = gate_options(true);
    struct video_stream *s = NULL;
    struct video_frame f;
    struct video_stats st;
    struct errbuf err = {{0}};
    int frames = 0;

    /* testsrc is RGB24: it has no luma plane to gate on. */
    o.fps = 0;
    assert_int_equal(
        video_stream_new("lavfi:testsrc=size=160x120:rate=10:duration=1", &o, &s, &err), 0);
    while (video_stream_read(s, &f, &err) == 0) {
        assert_true(f.motion.computed);
        assert_non_null(f.data); /* converted for the gate anyway */
        assert_int_equal(video_stream_convert(s, &f, &err), 0);
        frames++;
    }
    video_stream_stats(s, &st);
    video_stream_free(s);
    assert_int_equal(frames, 10);
    assert_int_equal(st.converted, 10);

    /* Bad gate options are refused with the stream's name. */
    o.motion_options.threshold = -1;
    assert_int_equal(video_stream_new(clip("still.mp4"), &o, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "still.mp4"));
    assert_non_null(strstr(err.msg, "threshold"));
}

static int motion_clip_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_room_with_flicker_and_noise_has_no_motion),
        cmocka_unit_test(a_box_is_found_on_the_first_frame_it_moves),
        cmocka_unit_test(an_older_frame_cannot_be_converted),
        cmocka_unit_test(every_frame_is_converted_unless_asked_otherwise),
        cmocka_unit_test(an_rgb_source_is_gated_after_its_conversion),
    };
    return cmocka_run_group_tests_name("video_motion_clips", tests, make_clips, NULL);
}

int main(int argc, char **argv)
{
    const char *group = argc > 1 ? argv[1] : "unit";
    if (strcmp(group, "clips") == 0)
        return motion_clip_tests();
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
