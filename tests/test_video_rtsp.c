/* Integration test of an RTSP camera that dies and comes back: GStreamer's
 * RTSP server (tests/video/rtsp_server.py, python3-gi) on 127.0.0.1 serves a
 * clip made by ffmpeg at test time; the test kills it and starts it again. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "video.h"
#include "video/helpers.h"

static char clip_path[1200];
static const char *server_script;

static int make_clip(void **state)
{
    server_script = getenv("CRTD_RTSP_SERVER");
    if (!server_script || access(server_script, R_OK) != 0) {
        fprintf(stderr, "CRTD_RTSP_SERVER does not name rtsp_server.py\n");
        return -1;
    }
    snprintf(clip_path, sizeof(clip_path), "%s/camera.mp4", fixture_dir("rtsp"));
    /* Long enough that no client reaches its end during the test. */
    return run_shell("ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=20:"
                     "duration=60 -c:v libx264 -preset ultrafast -g 20 '%s'",
                     clip_path);
}

/* Starts the server on `port` (0: any) and returns the port it listens on. */
static int server_start(struct tl_proc *c, int port)
{
    char port_text[16], line[64];
    snprintf(port_text, sizeof(port_text), "%d", port);
    const char *argv[] = {"/usr/bin/python3", server_script, clip_path, port_text, "/camera", NULL};
    if (tl_proc_spawn(c, argv, &(struct tl_proc_options){.stdout_pipe = true}) < 0)
        return -1;
    if (tl_proc_read_line(c, line, sizeof(line), 20) < 0) {
        tl_proc_kill(c);
        return -1;
    }
    return atoi(line);
}

static bool wait_state(struct video_stream *s, enum video_state state, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        if (video_stream_state(s) == state)
            return true;
        sleep_s(0.005);
    }
    return false;
}

static void stop_and_join(struct video_stream *s, struct tl_reader *rd)
{
    video_stream_stop(s);
    assert_true(tl_reader_join(rd, 5));
    assert_int_equal(rd->r, -ECANCELED);
}

static void camera_killed_backs_off_and_resumes(void **state)
{
    struct tl_proc server;
    struct video_options o;
    struct video_stream *s = NULL;
    struct video_stats st;
    struct tl_reader rd;
    char url[128];

    int port = server_start(&server, 0);
    assert_true(port > 0);
    snprintf(url, sizeof(url), "rtsp://viewer:hunter2@127.0.0.1:%d/camera", port);
    video_options_init(&o);
    o.fps = 10;
    o.backoff_min_s = 0.5;
    o.backoff_max_s = 2;
    assert_int_equal(video_stream_new(url, &o, &s, NULL), 0);
    assert_int_equal(tl_reader_start(&rd, s), 0);

    /* Frames arrive. */
    assert_true(tl_reader_wait_frames(&rd, 10, 30));
    assert_int_equal(video_stream_state(s), VIDEO_STATE_STREAMING);

    /* The camera dies: the stream notices and backs off. */
    tl_proc_kill(&server);
    assert_true(wait_state(s, VIDEO_STATE_BACKOFF, 15));
    int before = tl_reader_frames(&rd);
    video_stream_stats(s, &st);
    print_message("after the kill: %d frames, last error: %s\n", before, st.last_error);
    assert_non_null(strstr(st.last_error, "127.0.0.1"));
    assert_null(strstr(st.last_error, "hunter2"));
    sleep_s(2.5); /* a few refused attempts: the backoff grows to its cap */

    /* It comes back on the same port: frames resume within the backoff bound
     * (the longest wait plus the time to connect and probe). */
    assert_int_equal(server_start(&server, port), port);
    double restarted = now_s();
    bool resumed = tl_reader_wait_frames(&rd, before, o.backoff_max_s * 1.2 + 10);
    double took = now_s() - restarted;
    print_message("frames resumed %.2f s after the restart\n", took);
    assert_true(resumed);
    assert_true(took < o.backoff_max_s * 1.2 + 10);
    assert_true(tl_reader_wait_frames(&rd, before + 10, 10));
    video_stream_stats(s, &st);
    assert_true(st.reconnects >= 1);
    assert_int_equal((int)st.late, 0); /* a reader at the live edge loses nothing */
    assert_int_equal(st.state, VIDEO_STATE_STREAMING);

    stop_and_join(s, &rd);
    tl_proc_kill(&server);
    assert_true(rd.increasing); /* across the reconnect too */
    assert_int_equal(video_stream_state(s), VIDEO_STATE_STOPPED);
    video_stream_free(s);
}

static void rtsp_over_udp_by_option(void **state)
{
    struct tl_proc server;
    struct video_options o;
    struct video_stream *s = NULL;
    struct video_frame f;
    char url[128];

    int port = server_start(&server, 0);
    assert_true(port > 0);
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/camera", port);
    video_options_init(&o);
    o.fps = 5;
    o.transport = VIDEO_TRANSPORT_UDP;
    o.reconnect = VIDEO_RECONNECT_NEVER;
    assert_int_equal(video_stream_new(url, &o, &s, NULL), 0);
    double last = -1;
    for (int i = 0; i < 8; i++) {
        struct errbuf err = {{0}};
        int r = video_stream_read(s, &f, &err);
        if (r < 0)
            print_message("%s\n", err.msg);
        assert_int_equal(r, 0);
        assert_true(f.pts > last);
        assert_int_equal(f.width, 320);
        last = f.pts;
    }
    video_stream_free(s);
    tl_proc_kill(&server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(camera_killed_backs_off_and_resumes),
        cmocka_unit_test(rtsp_over_udp_by_option),
    };
    return cmocka_run_group_tests(tests, make_clip, NULL);
}
