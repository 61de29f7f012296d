/* Integration tests of video streams: clips of every codec a home camera
 * uses, made by the ffmpeg command at test time; broken files; an HTTP
 * MPEG-TS stream from `ffmpeg -listen 1`; dead and refusing networks. */
#include <math.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "video.h"
#include "video/helpers.h"

static char dir[1024];

static const char *clip(const char *name)
{
    static char path[4][1200];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
    return p;
}

#define FF                   "ffmpeg -nostdin -v error -y "
#define SRC(size, rate, dur) "-f lavfi -i testsrc2=size=" size ":rate=" rate ":duration=" dur " "

/* Copies the first `keep` fraction of a file, or overwrites some stretches
 * of it with bytes from a fixed generator (a damaged recording). */
static int damage(const char *from, const char *to, double keep, bool scribble)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (!in || !out) {
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        return -1;
    }
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    long n = (long)(size * keep);
    uint32_t x = 12345;
    for (long i = 0; i < n; i++) {
        int c = fgetc(in);
        /* 300 bytes of noise every 20000, after the first 20000. */
        if (scribble && i > 20000 && i % 20000 < 300) {
            x = x * 1664525u + 1013904223u;
            c = (int)(x >> 24);
        }
        fputc(c, out);
    }
    fclose(in);
    fclose(out);
    return 0;
}

static int make_clips(void **state)
{
    snprintf(dir, sizeof(dir), "%s", fixture_dir("stream"));
    mkdir(clip("hls"), 0755);
    /* x264 "veryfast" uses B-frames: non-reference frames to skip. */
    if (run_shell(FF SRC("320x240", "30", "3") "-c:v libx264 -preset veryfast -g 30 "
                                               "-pix_fmt yuv420p '%s'",
                  clip("h264.mp4")) ||
        run_shell(FF SRC("320x240", "30", "3") "-c:v libx265 -preset ultrafast "
                                               "-x265-params log-level=error '%s'",
                  clip("hevc.mkv")) ||
        run_shell(FF SRC("320x240", "30", "3") "-c:v mjpeg -q:v 5 -pix_fmt yuvj420p '%s'",
                  clip("mjpeg.avi")) ||
        run_shell(FF SRC("320x240", "30", "3") "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 "
                                               "-b:v 300k '%s'",
                  clip("vp9.webm")) ||
        run_shell(FF SRC("320x240", "30", "3") "-c:v mpeg4 '%s'", clip("mpeg4.avi")) ||
        /* 30 fps for a second, then every third frame: 10 fps, timestamps kept. */
        run_shell(FF SRC("320x240", "30", "3") "-vf \"select='lt(t\\,1)+not(mod(n\\,3))'\" "
                                               "-fps_mode vfr -c:v libx264 -preset ultrafast '%s'",
                  clip("vfr.mkv")) ||
        run_shell(FF SRC("1280x720", "30", "1") "-c:v libx264 -preset ultrafast '%s'",
                  clip("h264_720p.mp4")) ||
        run_shell(FF SRC("1280x720", "30", "1") "-c:v mjpeg -q:v 5 -pix_fmt yuvj420p '%s'",
                  clip("mjpeg_720p.avi")) ||
        run_shell(FF "-i '%s' -c copy -f mpegts '%s'", clip("h264.mp4"), clip("h264.ts")) ||
        /* Two halves whose clocks disagree: the second starts 98 s earlier. */
        run_shell(FF SRC("320x240", "30", "2") "-c:v libx264 -preset ultrafast -output_ts_offset "
                                               "100 -f mpegts '%s'",
                  clip("late.ts")) ||
        run_shell(FF SRC("320x240", "30", "2") "-c:v libx264 -preset ultrafast -f mpegts '%s'",
                  clip("early.ts")) ||
        run_shell("cat '%s' '%s' > '%s'", clip("late.ts"), clip("early.ts"), clip("jump.ts")) ||
        /* An elementary stream: no container, no timestamps. */
        run_shell(FF SRC("320x240", "30", "2") "-c:v libx264 -preset ultrafast -f h264 '%s'",
                  clip("raw.h264")) ||
        /* A container tag no decoder knows. */
        run_shell(FF "-i '%s' -c copy -strict experimental -tag:v ZZZZ '%s'", clip("mpeg4.avi"),
                  clip("zzzz.avi")) ||
        run_shell(FF SRC("320x240", "30", "3") "-c:v libx264 -preset ultrafast -g 30 -f hls "
                                               "-hls_time 1 -hls_list_size 0 '%s'",
                  clip("hls/live.m3u8")) ||
        run_shell("openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' -days 1 "
                  "-subj /CN=127.0.0.1 2>/dev/null",
                  clip("key.pem"), clip("cert.pem")) ||
        run_shell(": > '%s'", clip("empty.mp4")))
        return -1;
    /* mp4 keeps its index at the end: cut in half, it cannot be opened. */
    if (damage(clip("h264.mp4"), clip("truncated.mp4"), 0.5, false) ||
        damage(clip("h264.ts"), clip("truncated.ts"), 0.6, false) ||
        damage(clip("h264.ts"), clip("corrupt.ts"), 1.0, true))
        return -1;
    FILE *f = fopen(clip("random.bin"), "wb");
    if (!f)
        return -1;
    uint32_t x = 99;
    for (int i = 0; i < 65536; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 16), f);
    }
    fclose(f);
    return 0;
}

/* ---- reading a whole source ------------------------------------------------ */

struct result {
    int r; /* what the last read returned */
    int frames;
    bool increasing;  /* every pts above the one before */
    bool same_buffer; /* every frame in the same memory */
    bool varied;      /* a frame's pixels are not all equal */
    int width, height, stride;
    double first_pts, last_pts;
    double first_mean[3]; /* the first frame's mean R, G, B */
    struct video_stats stats;
    struct errbuf err;
};

static void read_all(const char *url, const struct video_options *opts, int max_frames,
                     struct result *res)
{
    struct video_stream *s = NULL;
    struct video_frame f;
    const uint8_t *buffer = NULL;

    memset(res, 0, sizeof(*res));
    res->increasing = res->same_buffer = true;
    res->r = video_stream_new(url, opts, &s, &res->err);
    if (res->r < 0)
        return;
    while (max_frames < 0 || res->frames < max_frames) {
        res->r = video_stream_read(s, &f, &res->err);
        if (res->r < 0)
            break;
        if (res->frames == 0) {
            buffer = f.data;
            res->first_pts = f.pts;
            for (int y = 0; y < f.height; y++)
                for (int x = 0; x < f.width; x++)
                    for (int c = 0; c < 3; c++)
                        res->first_mean[c] += f.data[y * f.stride + 3 * x + c];
            for (int c = 0; c < 3; c++)
                res->first_mean[c] /= (double)f.width * f.height;
        } else if (f.pts <= res->last_pts) {
            res->increasing = false;
        }
        if (f.data != buffer)
            res->same_buffer = false;
        if (f.index != res->frames)
            res->increasing = false;
        /* decoded just now, on both clocks */
        if (f.decoded_mono_ns > time_mono_ns() || f.decoded_at > time_wall_s() ||
            f.decoded_at < time_wall_s() - 60)
            res->increasing = false;
        for (int y = 0; y < f.height && !res->varied; y += 7)
            for (int x = 1; x < f.width * 3; x++)
                if (f.data[y * f.stride + x] != f.data[y * f.stride]) {
                    res->varied = true;
                    break;
                }
        res->last_pts = f.pts;
        res->width = f.width;
        res->height = f.height;
        res->stride = f.stride;
        res->frames++;
    }
    video_stream_stats(s, &res->stats);
    video_stream_free(s);
}

static struct video_options options_for_file(double fps)
{
    struct video_options o;
    video_options_init(&o);
    o.fps = fps;
    return o;
}

/* ---- codecs and sampling --------------------------------------------------- */

static void every_camera_codec_decodes_and_samples(void **state)
{
    static const struct {
        const char *file, *codec;
    } cases[] = {
        {"h264.mp4", "h264"}, {"hevc.mkv", "hevc"},   {"mjpeg.avi", "mjpeg"},
        {"vp9.webm", "vp9"},  {"mpeg4.avi", "mpeg4"}, {"h264.ts", "h264"},
    };
    struct video_options o = options_for_file(10);
    struct result res;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        read_all(clip(cases[i].file), &o, -1, &res);
        print_message("%-10s %d frames, pts %.3f..%.3f, %dx%d, decoded %llu, errors %llu\n",
                      cases[i].file, res.frames, res.first_pts, res.last_pts, res.width, res.height,
                      (unsigned long long)res.stats.decoded,
                      (unsigned long long)res.stats.decode_errors);
        assert_int_equal(res.r, AVERROR_EOF);
        /* 3 s of video at 10 fps. */
        assert_in_range(res.frames, 29, 31);
        assert_true(res.increasing);
        assert_true(res.same_buffer);
        assert_true(res.varied);
        assert_int_equal(res.width, 320);
        assert_int_equal(res.height, 240);
        assert_true(res.stride >= 320 * 3);
        assert_string_equal(res.stats.codec, cases[i].codec);
        assert_int_equal(res.stats.state, VIDEO_STATE_STOPPED);
        assert_int_equal((int)res.stats.sampled, res.frames);
        assert_true(res.stats.decoded >= res.stats.sampled);
        assert_int_equal((int)res.stats.decode_errors, 0);
        assert_true(res.stats.last_frame_at > 0);
    }
}

static void thirty_fps_sampled_at_ten_with_and_without_skipping(void **state)
{
    static const enum video_skip modes[] = {VIDEO_SKIP_OFF, VIDEO_SKIP_ON, VIDEO_SKIP_AUTO};
    struct result res;

    for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
        struct video_options o = options_for_file(10);
        o.skip_nonref = modes[i];
        read_all(clip("h264.mp4"), &o, -1, &res);
        print_message("skip mode %zu: %d frames of %llu decoded, last pts %.3f\n", i, res.frames,
                      (unsigned long long)res.stats.decoded, res.last_pts);
        assert_int_equal(res.r, AVERROR_EOF);
        assert_in_range(res.frames, 29, 31); /* 10 per second of video, within one */
        assert_true(res.increasing);
        assert_true(res.last_pts > 2.7 && res.last_pts < 3.0);
        if (modes[i] == VIDEO_SKIP_OFF) {
            assert_int_equal((int)res.stats.decoded, 90);
            assert_false(res.stats.skipping_nonref);
        } else {
            /* The B-frames were never decoded. */
            assert_true(res.stats.decoded < 90);
            assert_true(res.stats.skipping_nonref);
        }
        assert_int_equal((int)(res.stats.sampled + res.stats.dropped), (int)res.stats.decoded);
    }
}

static void variable_frame_rate_is_sampled_by_timestamp(void **state)
{
    struct video_options o = options_for_file(15);
    struct result res;
    read_all(clip("vfr.mkv"), &o, -1, &res);
    print_message("vfr: %d frames of %llu decoded\n", res.frames,
                  (unsigned long long)res.stats.decoded);
    assert_int_equal(res.r, AVERROR_EOF);
    /* 1 s at 30 fps sampled at 15, then 2 s at 10 fps: slower, all kept. */
    assert_int_equal((int)res.stats.decoded, 50);
    assert_in_range(res.frames, 34, 36);
    assert_true(res.increasing);
}

static void jumping_and_missing_timestamps(void **state)
{
    struct video_options o = options_for_file(10);
    struct result res;

    read_all(clip("jump.ts"), &o, -1, &res);
    print_message("jump.ts: %d frames, pts %.3f..%.3f\n", res.frames, res.first_pts, res.last_pts);
    assert_int_equal(res.r, AVERROR_EOF);
    assert_true(res.increasing);
    assert_in_range(res.frames, 38, 42); /* 2 s + 2 s */
    assert_true(res.last_pts < 5.0);     /* the 98 s step back is not a gap */

    read_all(clip("raw.h264"), &o, -1, &res);
    print_message("raw.h264: %d frames, pts %.3f..%.3f\n", res.frames, res.first_pts, res.last_pts);
    assert_int_equal(res.r, AVERROR_EOF);
    assert_true(res.increasing);
    assert_true(res.frames >= 15);
}

static void long_side_is_capped_and_aspect_kept(void **state)
{
    static const struct {
        int max_side, width, height;
    } cases[] = {{640, 640, 360}, {0, 1280, 720}, {200, 200, 113}};
    struct result res;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct video_options o = options_for_file(5);
        o.max_side = cases[i].max_side;
        read_all(clip("h264_720p.mp4"), &o, -1, &res);
        assert_int_equal(res.r, AVERROR_EOF);
        assert_int_equal(res.width, cases[i].width);
        assert_int_equal(res.height, cases[i].height);
        assert_true(res.stride >= res.width * 3);
        assert_true(res.varied);
        assert_in_range(res.frames, 4, 6);
    }
}

static void an_ended_file_stays_ended(void **state)
{
    struct video_options o = options_for_file(10);
    struct video_stream *s = NULL;
    struct video_frame f;
    struct errbuf err = {{0}};
    int n = 0, r;
    assert_int_equal(video_stream_new(clip("mpeg4.avi"), &o, &s, NULL), 0);
    while ((r = video_stream_read(s, &f, &err)) == 0)
        n++;
    assert_int_equal(r, AVERROR_EOF);
    assert_int_equal(video_stream_read(s, &f, &err), AVERROR_EOF); /* not started again */
    assert_non_null(strstr(err.msg, "end of stream"));
    assert_int_equal(video_stream_state(s), VIDEO_STATE_STOPPED);
    video_stream_free(s);
    /* Looping a file on purpose: it starts again, pts still increasing. */
    struct result res;
    o.reconnect = VIDEO_RECONNECT_ALWAYS;
    read_all(clip("mpeg4.avi"), &o, 2 * n + 5, &res);
    assert_int_equal(res.r, 0);
    assert_int_equal(res.frames, 2 * n + 5);
    assert_true(res.increasing);
    assert_true(res.stats.reconnects >= 2);
}

/* The first frame in RGB matches FFmpeg's own conversion of it (the ffmpeg
 * command, rgb24 raw output): limited-range H.264 and full-range MJPEG. */
static void rgb_matches_ffmpegs_conversion(void **state)
{
    static const char *files[] = {"h264.mp4", "mjpeg.avi", "vp9.webm"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        char raw[1300];
        snprintf(raw, sizeof(raw), "%s.rgb", clip(files[i]));
        assert_int_equal(run_shell(FF "-i '%s' -frames:v 1 -pix_fmt rgb24 -f rawvideo '%s'",
                                   clip(files[i]), raw),
                         0);
        FILE *in = fopen(raw, "rb");
        assert_non_null(in);
        static uint8_t ref[320 * 240 * 3];
        assert_int_equal(fread(ref, 1, sizeof(ref), in), sizeof(ref));
        fclose(in);

        struct video_options o = options_for_file(10);
        struct video_stream *s = NULL;
        struct video_frame f;
        assert_int_equal(video_stream_new(clip(files[i]), &o, &s, NULL), 0);
        assert_int_equal(video_stream_read(s, &f, NULL), 0);
        assert_int_equal(f.width, 320);
        assert_int_equal(f.height, 240);
        double sum = 0;
        int worst = 0;
        for (int y = 0; y < 240; y++)
            for (int x = 0; x < 320 * 3; x++) {
                int d = abs(f.data[y * f.stride + x] - ref[y * 320 * 3 + x]);
                sum += d;
                if (d > worst)
                    worst = d;
            }
        video_stream_free(s);
        double mean = sum / (320.0 * 240 * 3);
        print_message("%s: mean abs difference %.3f, worst %d\n", files[i], mean, worst);
        assert_true(mean < 1.5);
    }
}

static void large_mjpeg_is_decoded_at_reduced_size(void **state)
{
    /* 1280x720 capped at 320: decoded at a quarter size, 320x180 directly. */
    static const struct {
        int max_side, width, height;
    } cases[] = {{320, 320, 180}, {500, 500, 281}, {0, 1280, 720}};
    struct result res, full;
    struct video_options o = options_for_file(10);
    o.max_side = 0;
    read_all(clip("mjpeg_720p.avi"), &o, 1, &full);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        o.max_side = cases[i].max_side;
        read_all(clip("mjpeg_720p.avi"), &o, -1, &res);
        /* The same picture: its mean colour matches the full-size decode. */
        for (int c = 0; c < 3; c++) {
            print_message("max side %d, channel %d: mean %.1f, full size %.1f\n", cases[i].max_side,
                          c, res.first_mean[c], full.first_mean[c]);
            assert_true(fabs(res.first_mean[c] - full.first_mean[c]) < 4.0);
        }
        assert_int_equal(res.r, AVERROR_EOF);
        assert_in_range(res.frames, 9, 11);
        assert_int_equal(res.width, cases[i].width);
        assert_int_equal(res.height, cases[i].height);
        assert_true(res.varied);
        assert_int_equal(res.stats.source_width, 1280);
    }
}

static void every_frame_when_fps_is_zero(void **state)
{
    struct video_options o = options_for_file(0);
    struct result res;
    read_all(clip("mpeg4.avi"), &o, -1, &res);
    assert_int_equal(res.r, AVERROR_EOF);
    assert_int_equal(res.frames, 90);
    assert_true(res.increasing);
}

static void lavfi_test_source(void **state)
{
    struct video_options o = options_for_file(5);
    struct result res;
    read_all("lavfi:testsrc2=size=160x120:rate=25", &o, 10, &res);
    assert_int_equal(res.r, 0);
    assert_int_equal(res.frames, 10);
    assert_true(fabs(res.last_pts - 1.8) < 1e-6);
    assert_int_equal(res.width, 160);
}

/* ---- broken inputs ------------------------------------------------------------ */

static void broken_files_fail_with_their_name(void **state)
{
    static const struct {
        const char *file;
        int code;         /* 0: any negative */
        const char *text; /* in the message */
    } cases[] = {
        {"empty.mp4", AVERROR_INVALIDDATA, "cannot open"},
        {"random.bin", 0, "random.bin"},
        {"truncated.mp4", AVERROR_INVALIDDATA, "cannot open"},
        {"zzzz.avi", -ENOSYS, "unsupported video codec"},
        {"does-not-exist.mp4", -ENOENT, "No such file"},
    };
    struct video_options o = options_for_file(10);
    struct result res;
    o.format = "no-such-demuxer";
    read_all(clip("h264.mp4"), &o, -1, &res);
    assert_int_equal(res.r, -EINVAL);
    assert_non_null(strstr(res.err.msg, "no-such-demuxer"));
    o.format = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        read_all(clip(cases[i].file), &o, -1, &res);
        print_message("%s: %d %s\n", cases[i].file, res.r, res.err.msg);
        assert_true(res.r < 0 && res.r != AVERROR_EOF);
        if (cases[i].code)
            assert_int_equal(res.r, cases[i].code);
        assert_int_equal(res.frames, 0);
        assert_non_null(strstr(res.err.msg, cases[i].file));
        assert_non_null(strstr(res.err.msg, cases[i].text));
        assert_int_equal(res.stats.state, VIDEO_STATE_STOPPED);
        assert_non_null(strstr(res.stats.last_error, cases[i].file));
    }
}

static void truncated_and_corrupt_data_give_what_is_there(void **state)
{
    struct video_options o = options_for_file(10);
    struct result res;

    read_all(clip("truncated.ts"), &o, -1, &res);
    print_message("truncated.ts: %d frames, r %d\n", res.frames, res.r);
    assert_true(res.frames >= 5 && res.frames < 30);
    assert_int_equal(res.r, AVERROR_EOF);
    assert_true(res.increasing);

    read_all(clip("corrupt.ts"), &o, -1, &res);
    print_message("corrupt.ts: %d frames, decoded %llu, decode errors %llu, r %d\n", res.frames,
                  (unsigned long long)res.stats.decoded,
                  (unsigned long long)res.stats.decode_errors, res.r);
    assert_int_equal(res.r, AVERROR_EOF);
    assert_true(res.frames >= 10);
    assert_true(res.increasing);
    assert_true(res.stats.decode_errors > 0); /* counted, skipped, no crash */
}

/* Flips bytes of a file at places drawn from seed (never the first 64, so
 * most files still open): a damaged recording, a flaky SD card. */
static int flip_bytes(const char *from, const char *to, uint32_t seed, int flips)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return -1;
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size);
    if (!buf || fread(buf, 1, (size_t)size, in) != (size_t)size) {
        free(buf);
        fclose(in);
        return -1;
    }
    fclose(in);
    uint32_t x = seed * 2654435761u + 1;
    for (int i = 0; i < flips && size > 64; i++) {
        x = x * 1664525u + 1013904223u;
        long at = 64 + (long)(x % (uint32_t)(size - 64));
        x = x * 1664525u + 1013904223u;
        buf[at] ^= (uint8_t)(1 + (x >> 24) % 255);
    }
    FILE *out = fopen(to, "wb");
    if (!out) {
        free(buf);
        return -1;
    }
    fwrite(buf, 1, (size_t)size, out);
    fclose(out);
    free(buf);
    return 0;
}

static void damaged_files_never_crash(void **state)
{
    static const char *files[] = {"h264.mp4", "hevc.mkv",  "mjpeg.avi",
                                  "vp9.webm", "mpeg4.avi", "h264.ts"};
    struct video_options o = options_for_file(10);
    struct result res;
    int opened = 0, failed = 0;
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        for (uint32_t seed = 1; seed <= 6; seed++) {
            char damaged[1300];
            snprintf(damaged, sizeof(damaged), "%s.flip%u", clip(files[i]), (unsigned)seed);
            assert_int_equal(flip_bytes(clip(files[i]), damaged, seed, 40), 0);
            read_all(damaged, &o, -1, &res);
            /* The end, or an error that names the file; never a crash. */
            if (res.r == AVERROR_EOF) {
                opened++;
                assert_true(res.increasing);
            } else {
                failed++;
                assert_true(res.r < 0);
                assert_non_null(strstr(res.err.msg, ".flip"));
            }
            assert_int_equal(res.stats.state, VIDEO_STATE_STOPPED);
        }
    print_message("damaged files: %d read to their end, %d refused\n", opened, failed);
    assert_true(opened > 0);
}

static void ffmpeg_options_pass_through(void **state)
{
    struct video_options o = options_for_file(10);
    struct result res;

    o.ffmpeg_options = "probesize=100000:skip_loop_filter=all";
    read_all(clip("h264.mp4"), &o, -1, &res);
    assert_int_equal(res.r, AVERROR_EOF);
    assert_in_range(res.frames, 29, 31);

    o.ffmpeg_options = "probesize=100000:no_such_option=1";
    read_all(clip("h264.mp4"), &o, -1, &res);
    assert_int_equal(res.r, -EINVAL);
    assert_non_null(strstr(res.err.msg, "no_such_option"));
    assert_non_null(strstr(res.err.msg, "h264.mp4"));
}

static void vaapi_falls_back_to_software(void **state)
{
    static const char *devices[] = {"/dev/dri/no-such-render-node", NULL};
    struct result res;
    for (size_t i = 0; i < ARRAY_SIZE(devices); i++) {
        struct video_options o = options_for_file(10);
        o.hwaccel = VIDEO_HWACCEL_VAAPI;
        o.hw_device = devices[i];
        read_all(clip("h264.mp4"), &o, -1, &res);
        assert_int_equal(res.r, AVERROR_EOF);
        assert_in_range(res.frames, 29, 31);
        assert_true(res.varied);
        if (devices[i])
            assert_false(res.stats.hwaccel_active);
    }
}

/* ---- networks ------------------------------------------------------------------- */

static void refused_connection_names_the_source_without_password(void **state)
{
    char url[256];
    int port = tl_port_free();
    assert_true(port > 0);
    static const char *schemes[] = {"rtsp", "http"};
    for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
        struct video_options o = options_for_file(10);
        struct result res;
        o.reconnect = VIDEO_RECONNECT_NEVER;
        snprintf(url, sizeof(url), "%s://cam:s3cret@127.0.0.1:%d/live", schemes[i], port);
        read_all(url, &o, -1, &res);
        print_message("%s\n", res.err.msg);
        assert_int_equal(res.r, -ECONNREFUSED);
        assert_non_null(strstr(res.err.msg, "cam:***@127.0.0.1"));
        assert_null(strstr(res.err.msg, "s3cret"));
        assert_null(strstr(res.stats.last_error, "s3cret"));
    }
}

static void bad_url_is_an_error(void **state)
{
    struct video_options o = options_for_file(10);
    struct result res;
    o.reconnect = VIDEO_RECONNECT_NEVER;
    read_all("rtsp://", &o, -1, &res);
    print_message("%s\n", res.err.msg);
    assert_int_equal(res.r, -EINVAL);
    assert_non_null(strstr(res.err.msg, "'rtsp://': no host"));
    read_all("http://u:pw@/x.ts", &o, -1, &res);
    assert_int_equal(res.r, -EINVAL);
    assert_null(strstr(res.err.msg, "pw"));
    /* A name no resolver knows: said so, with the name. */
    read_all("rtsp://cam:pw@no-such-camera.invalid/live", &o, -1, &res);
    print_message("%s\n", res.err.msg);
    assert_true(res.r < 0);
    assert_non_null(strstr(res.err.msg, "no-such-camera.invalid"));
    assert_null(strstr(res.err.msg, ":pw@"));
    read_all("ftp://example.org/x.mp4", &o, -1, &res);
    assert_int_equal(res.r, -EPROTONOSUPPORT);
}

/* Waits at most `timeout_s` for the stream to reach `state`. */
static bool wait_state(struct video_stream *s, enum video_state state, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        if (video_stream_state(s) == state)
            return true;
        sleep_s(0.01);
    }
    return false;
}

/* Stops the stream and returns how long the reader took to come back
 * (waiting at most 5 s, so a hang fails instead of blocking the suite). */
static double stop_and_time(struct video_stream *s, struct tl_reader *rd)
{
    double stopped_at = now_s();
    video_stream_stop(s);
    if (!tl_reader_join(rd, 5))
        return 1e9; /* leave the thread: the test fails on this */
    return rd->ended_at - stopped_at;
}

static void stop_returns_within_a_second_on_a_dead_network(void **state)
{
    static const char *schemes[] = {"http", "rtsp"};
    int port = 0;
    int fd = silent_listener(&port);
    assert_true(fd >= 0);
    for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
        char url[128];
        struct video_options o = options_for_file(10);
        struct video_stream *s = NULL;
        struct tl_reader rd;
        o.open_timeout_s = 60; /* only stop can end this */
        o.read_timeout_s = 60;
        snprintf(url, sizeof(url), "%s://127.0.0.1:%d/live", schemes[i], port);
        assert_int_equal(video_stream_new(url, &o, &s, NULL), 0);
        assert_int_equal(tl_reader_start(&rd, s), 0);
        assert_true(wait_state(s, VIDEO_STATE_CONNECTING, 5));
        sleep_s(0.5); /* well inside the blocking open */
        assert_int_equal(video_stream_state(s), VIDEO_STATE_CONNECTING);
        double took = stop_and_time(s, &rd);
        print_message("%s: stop took %.3f s\n", schemes[i], took);
        assert_true(took < 1.0);
        assert_int_equal(rd.r, -ECANCELED);
        assert_int_equal(video_stream_state(s), VIDEO_STATE_STOPPED);
        video_stream_free(s);
    }
    close(fd);
}

/* Stopping by video_stream_stop() (by_flag false) or by the caller's own
 * stop_flag (by_flag true) while the stream waits 30 s before a retry. */
static void stop_in_backoff(bool by_flag)
{
    char url[128];
    struct video_options o = options_for_file(10);
    struct video_stream *s = NULL;
    struct video_stats st;
    struct tl_reader rd;
    atomic_bool flag = false;
    int port = tl_port_free();
    o.backoff_min_s = 30;
    o.backoff_max_s = 60;
    if (by_flag)
        o.stop_flag = &flag;
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/live", port);
    assert_int_equal(video_stream_new(url, &o, &s, NULL), 0);
    assert_int_equal(tl_reader_start(&rd, s), 0);
    assert_true(wait_state(s, VIDEO_STATE_BACKOFF, 10));
    video_stream_stats(s, &st);
    assert_non_null(strstr(st.last_error, "Connection refused"));
    assert_true(st.next_attempt_at > time_wall_s() + 10); /* a 30 s wait, +-20% */
    double took;
    if (by_flag) {
        double stopped_at = now_s();
        atomic_store(&flag, true);
        assert_true(tl_reader_join(&rd, 5));
        took = rd.ended_at - stopped_at;
    } else {
        took = stop_and_time(s, &rd);
    }
    print_message("stop in backoff (%s) took %.3f s\n", by_flag ? "stop_flag" : "stop()", took);
    assert_true(took < 1.0);
    assert_int_equal(rd.r, -ECANCELED);
    assert_int_equal(video_stream_state(s), VIDEO_STATE_STOPPED);
    video_stream_free(s);
}

static void stop_returns_within_a_second_in_backoff(void **state)
{
    stop_in_backoff(false);
    stop_in_backoff(true);
}

static void silent_server_times_out(void **state)
{
    char url[128];
    int port = 0;
    int fd = silent_listener(&port);
    struct video_options o = options_for_file(10);
    struct result res;
    assert_true(fd >= 0);
    o.reconnect = VIDEO_RECONNECT_NEVER;
    o.open_timeout_s = 0.5;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live.ts", port);
    read_all(url, &o, -1, &res);
    print_message("%s\n", res.err.msg);
    assert_int_equal(res.r, -ETIMEDOUT);
    assert_non_null(strstr(res.err.msg, "no answer"));
    close(fd);
}

/* Serves h264.ts once with `ffmpeg -listen 1` over scheme (http or https,
 * with a certificate made at test time) and reads 20 frames from it. */
static void serve_mpegts_and_read(const char *scheme)
{
    char url[128], input[1200], cert[1200], key[1200];
    int port = tl_port_free();
    struct tl_proc server;
    struct video_options o = options_for_file(10);
    struct video_stream *s = NULL;
    struct video_stats st;
    struct tl_reader rd;

    snprintf(url, sizeof(url), "%s://127.0.0.1:%d/live.ts", scheme, port);
    snprintf(input, sizeof(input), "%s", clip("h264.ts"));
    snprintf(cert, sizeof(cert), "%s", clip("cert.pem"));
    snprintf(key, sizeof(key), "%s", clip("key.pem"));
    const char *argv[24];
    int n = 0;
    const char *const base[] = {"ffmpeg", "-nostdin", "-v", "error",  "-re",     "-i", input,
                                "-c",     "copy",     "-f", "mpegts", "-listen", "1"};
    for (size_t k = 0; k < ARRAY_SIZE(base); k++)
        argv[n++] = base[k];
    if (strcmp(scheme, "https") == 0) {
        argv[n++] = "-cert_file";
        argv[n++] = cert;
        argv[n++] = "-key_file";
        argv[n++] = key;
    }
    argv[n++] = url;
    argv[n] = NULL;
    assert_int_equal(tl_proc_spawn(&server, argv, NULL), 0);
    /* The stream itself waits for the server: it retries until it listens. */
    o.backoff_min_s = 0.1;
    o.backoff_max_s = 0.3;
    assert_int_equal(video_stream_new(url, &o, &s, NULL), 0);
    assert_int_equal(tl_reader_start(&rd, s), 0);
    double end = now_s() + 20;
    while (tl_reader_frames(&rd) < 20 && now_s() < end)
        sleep_s(0.05);
    video_stream_stats(s, &st);
    double took = stop_and_time(s, &rd);
    tl_proc_kill(&server);
    print_message("%s: %d frames, codec %s, state %s, stop took %.3f s\n", scheme, rd.frames,
                  st.codec, video_state_name(st.state), took);
    assert_true(took < 1e9); /* the reader came back from the stop (its speed is tested above) */
    assert_true(rd.frames >= 20);
    assert_true(rd.increasing);
    assert_string_equal(st.codec, "h264");
    assert_int_equal((int)st.late, 0);
    video_stream_free(s);
}

static void http_mpegts_stream_from_ffmpeg_listen(void **state)
{
    serve_mpegts_and_read("http");
}

static void https_mpegts_stream_from_ffmpeg_listen(void **state)
{
    serve_mpegts_and_read("https");
}

/* A reader slower than a live camera (pose at 3 fps for a 10 fps target):
 * frames that come out more than max_lag_s late are dropped unconverted, so
 * the frames handed out stay close to live instead of falling ever behind. */
static void slow_reader_of_a_live_stream_skips_to_the_live_edge(void **state)
{
    char url[128];
    int port = tl_port_free();
    struct tl_proc server;
    struct video_options o = options_for_file(10);
    struct video_stream *s = NULL;
    struct video_stats st;
    struct video_frame f;
    atomic_bool stop = false;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live.ts", port);
    const char *argv[] = {"ffmpeg",    "-nostdin", "-v",
                          "error",     "-re",      "-f",
                          "lavfi",     "-i",       "testsrc2=size=320x240:rate=30:duration=30",
                          "-c:v",      "libx264",  "-preset",
                          "ultrafast", "-tune",    "zerolatency",
                          "-g",        "30",       "-f",
                          "mpegts",    "-listen",  "1",
                          url,         NULL};
    assert_int_equal(tl_proc_spawn(&server, argv, NULL), 0);
    o.backoff_min_s = 0.1;
    o.backoff_max_s = 0.3;
    o.max_lag_s = 1;
    o.stop_flag = &stop; /* the daemon's way to stop: its own flag */
    assert_int_equal(video_stream_new(url, &o, &s, NULL), 0);
    assert_int_equal(video_stream_read(s, &f, NULL), 0);
    double start = now_s(), first_pts = f.pts, last_pts = f.pts;
    int frames = 1;
    while (now_s() - start < 8) {
        sleep_s(0.3); /* the slow part: pose, say */
        if (video_stream_read(s, &f, NULL) < 0)
            break;
        assert_true(f.pts > last_pts);
        last_pts = f.pts;
        frames++;
    }
    double elapsed = now_s() - start;
    video_stream_stats(s, &st);
    print_message("slow reader: %d frames in %.1f s, pts %.2f..%.2f, late %llu, dropped %llu\n",
                  frames, elapsed, first_pts, last_pts, (unsigned long long)st.late,
                  (unsigned long long)st.dropped);
    /* Without dropping, frames would be one 1/10 s slot apart (27 frames end
     * near pts 2.7); at the live edge, about 0.3 s (the reader's pace). */
    assert_true(st.late > 0);
    assert_true(frames > 1);
    assert_true(last_pts - first_pts > 1.5 * (frames - 1) / o.fps);
    atomic_store(&stop, true);
    assert_int_equal(video_stream_read(s, &f, NULL), -ECANCELED);
    assert_int_equal(video_stream_state(s), VIDEO_STATE_STOPPED);
    video_stream_free(s);
    tl_proc_kill(&server);
}

static void http_mjpeg_camera_is_timed_by_arrival(void **state)
{
    char url[128];
    int port = tl_port_free();
    struct tl_proc server;
    struct video_options o = options_for_file(10);
    struct video_stream *s = NULL;
    struct video_stats st;
    struct tl_reader rd;

    /* A camera's multipart MJPEG: no timestamps in the stream at all. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/cam.mjpg", port);
    const char *argv[] = {"ffmpeg",  "-nostdin", "-v",
                          "error",   "-re",      "-f",
                          "lavfi",   "-i",       "testsrc2=size=320x240:rate=15:duration=10",
                          "-c:v",    "mjpeg",    "-q:v",
                          "5",       "-f",       "mpjpeg",
                          "-listen", "1",        url,
                          NULL};
    assert_int_equal(tl_proc_spawn(&server, argv, NULL), 0);
    o.backoff_min_s = 0.1;
    o.backoff_max_s = 0.3;
    assert_int_equal(video_stream_new(url, &o, &s, NULL), 0);
    assert_int_equal(tl_reader_start(&rd, s), 0);
    double end = now_s() + 20;
    while (tl_reader_frames(&rd) < 15 && now_s() < end)
        sleep_s(0.05);
    video_stream_stats(s, &st);
    double took = stop_and_time(s, &rd);
    tl_proc_kill(&server);
    print_message("mjpeg: %d frames of %llu decoded, last pts %.2f, stop took %.3f s\n", rd.frames,
                  (unsigned long long)st.decoded, rd.last_pts, took);
    assert_true(took < 1e9); /* the reader came back from the stop (its speed is tested above) */
    assert_true(rd.frames >= 15);
    assert_true(rd.increasing);
    assert_string_equal(st.codec, "mjpeg");
    video_stream_free(s);
}

/* A file source opens its file and nothing else: FFmpeg's concat: and
 * subfile: protocols would otherwise read any file through a stream's URL. */
static void a_file_source_uses_only_the_file_protocol(void **state)
{
    struct video_options o = options_for_file(10);
    struct result res;
    char url[2200];

    snprintf(url, sizeof(url), "file:%s", clip("h264.mp4"));
    read_all(url, &o, 3, &res);
    assert_int_equal(res.r, 0);
    assert_int_equal(res.frames, 3);

    snprintf(url, sizeof(url), "concat:%s|%s", clip("h264.mp4"), clip("h264.mp4"));
    read_all(url, &o, 3, &res);
    print_message("concat: %d %s\n", res.r, res.err.msg);
    assert_true(res.r < 0);
    assert_int_equal(res.frames, 0);
    assert_non_null(strstr(res.err.msg, "cannot open"));

    snprintf(url, sizeof(url), "subfile,,start,0,end,0,,:%s", clip("h264.mp4"));
    read_all(url, &o, 3, &res);
    assert_true(res.r < 0);
    assert_int_equal(res.frames, 0);
}

static void hls_playlist_over_http(void **state)
{
    char url[128], port_text[16], hls_dir[1200];
    int port = tl_port_free();
    struct tl_proc server;
    struct video_options o = options_for_file(10);
    struct result res;

    snprintf(port_text, sizeof(port_text), "%d", port);
    snprintf(hls_dir, sizeof(hls_dir), "%s", clip("hls"));
    const char *argv[] = {"/usr/bin/python3", "-m",          "http.server", port_text, "--bind",
                          "127.0.0.1",        "--directory", hls_dir,       NULL};
    assert_int_equal(tl_proc_spawn(&server, argv, NULL), 0);
    assert_true(wait_port(port, 10));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live.m3u8", port);
    o.reconnect = VIDEO_RECONNECT_NEVER; /* a finished playlist ends */
    read_all(url, &o, -1, &res);
    tl_proc_kill(&server);
    print_message("hls: %d frames, r %d %s\n", res.frames, res.r, res.err.msg);
    assert_int_equal(res.r, AVERROR_EOF);
    assert_in_range(res.frames, 29, 31);
    assert_true(res.increasing);
    assert_string_equal(res.stats.codec, "h264");
}

static void missing_v4l2_device_is_named(void **state)
{
    struct video_options o = options_for_file(10);
    struct result res;
    o.reconnect = VIDEO_RECONNECT_NEVER;
    read_all("v4l2:///dev/video-crtd-test-none", &o, -1, &res);
    print_message("%s\n", res.err.msg);
    assert_true(res.r < 0);
    assert_non_null(strstr(res.err.msg, "/dev/video-crtd-test-none"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_camera_codec_decodes_and_samples),
        cmocka_unit_test(thirty_fps_sampled_at_ten_with_and_without_skipping),
        cmocka_unit_test(variable_frame_rate_is_sampled_by_timestamp),
        cmocka_unit_test(jumping_and_missing_timestamps),
        cmocka_unit_test(long_side_is_capped_and_aspect_kept),
        cmocka_unit_test(rgb_matches_ffmpegs_conversion),
        cmocka_unit_test(large_mjpeg_is_decoded_at_reduced_size),
        cmocka_unit_test(every_frame_when_fps_is_zero),
        cmocka_unit_test(an_ended_file_stays_ended),
        cmocka_unit_test(lavfi_test_source),
        cmocka_unit_test(broken_files_fail_with_their_name),
        cmocka_unit_test(truncated_and_corrupt_data_give_what_is_there),
        cmocka_unit_test(damaged_files_never_crash),
        cmocka_unit_test(ffmpeg_options_pass_through),
        cmocka_unit_test(vaapi_falls_back_to_software),
        cmocka_unit_test(refused_connection_names_the_source_without_password),
        cmocka_unit_test(bad_url_is_an_error),
        cmocka_unit_test(stop_returns_within_a_second_on_a_dead_network),
        cmocka_unit_test(stop_returns_within_a_second_in_backoff),
        cmocka_unit_test(silent_server_times_out),
        cmocka_unit_test(http_mpegts_stream_from_ffmpeg_listen),
        cmocka_unit_test(https_mpegts_stream_from_ffmpeg_listen),
        cmocka_unit_test(slow_reader_of_a_live_stream_skips_to_the_live_edge),
        cmocka_unit_test(http_mjpeg_camera_is_timed_by_arrival),
        cmocka_unit_test(a_file_source_uses_only_the_file_protocol),
        cmocka_unit_test(hls_playlist_over_http),
        cmocka_unit_test(missing_v4l2_device_is_named),
    };
    return cmocka_run_group_tests(tests, make_clips, NULL);
}
