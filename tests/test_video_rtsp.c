/* Integration tests of RTSP cameras: GStreamer's RTSP server
 * (tests/video/rtsp_server.py, python3-gi) on 127.0.0.1 serves a clip made
 * by ffmpeg at test time. A camera that dies and comes back (the test kills
 * the server and starts it again); a server that offers only UDP and answers
 * a TCP SETUP with 461 Unsupported Transport, read with each transport; a
 * proxy in front of the server that drops the video on TCP (a camera that
 * accepts TCP and sends nothing). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "video.h"
#include "video/helpers.h"

static char clip_path[1200];
static const char *server_script, *mute_script;

static int make_clip(void **state)
{
    server_script = getenv("CRTD_RTSP_SERVER");
    if (!server_script || access(server_script, R_OK) != 0) {
        fprintf(stderr, "CRTD_RTSP_SERVER does not name rtsp_server.py\n");
        return -1;
    }
    mute_script = getenv("CRTD_RTSP_MUTE_TCP");
    if (!mute_script || access(mute_script, R_OK) != 0) {
        fprintf(stderr, "CRTD_RTSP_MUTE_TCP does not name rtsp_mute_tcp.py\n");
        return -1;
    }
    snprintf(clip_path, sizeof(clip_path), "%s/camera.mp4", fixture_dir("rtsp"));
    /* Long enough that no client reaches its end during the test. */
    return run_shell("ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=20:"
                     "duration=60 -c:v libx264 -preset ultrafast -g 20 '%s'",
                     clip_path);
}

/* Starts the server on `port` (0: any), offering the lower transports
 * `lower` (udp, tcp, any), and returns the port it listens on. */
static int server_start_lower(struct tl_proc *c, int port, const char *lower)
{
    char port_text[16], line[64];
    snprintf(port_text, sizeof(port_text), "%d", port);
    const char *argv[] = {"/usr/bin/python3", server_script, "--lower", lower,
                          clip_path,          port_text,     "/camera", NULL};
    if (tl_proc_spawn(c, argv, &(struct tl_proc_options){.stdout_pipe = true}) < 0)
        return -1;
    if (tl_proc_read_line(c, line, sizeof(line), 20) < 0) {
        tl_proc_kill(c);
        return -1;
    }
    return atoi(line);
}

static int server_start(struct tl_proc *c, int port)
{
    return server_start_lower(c, port, "any");
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

/* Reads n frames of a stream that does not reconnect; the stats after. */
static void read_frames(struct video_stream *s, int n, struct video_stats *ret_stats)
{
    struct video_frame f;
    double last = -1;
    for (int i = 0; i < n; i++) {
        struct errbuf err = {{0}};
        int r = video_stream_read(s, &f, &err);
        if (r < 0)
            print_message("%s\n", err.msg);
        assert_int_equal(r, 0);
        assert_true(f.pts > last);
        assert_int_equal(f.width, 320);
        last = f.pts;
    }
    video_stream_stats(s, ret_stats);
}

static struct video_stream *open_stream(const char *url, enum video_transport transport)
{
    struct video_options o;
    struct video_stream *s = NULL;
    video_options_init(&o);
    o.fps = 5;
    o.transport = transport;
    o.reconnect = VIDEO_RECONNECT_NEVER;
    assert_int_equal(video_stream_new(url, &o, &s, NULL), 0);
    return s;
}

/* A server that takes either: auto stays on TCP, udp is honoured. */
static void auto_uses_tcp_where_offered_and_udp_by_option(void **state)
{
    struct tl_proc server;
    struct video_stats st;
    char url[128];

    int port = server_start(&server, 0);
    assert_true(port > 0);
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/camera", port);
    struct video_stream *s = open_stream(url, VIDEO_TRANSPORT_AUTO);
    read_frames(s, 8, &st);
    assert_string_equal(video_transport_name(st.transport), "tcp");
    assert_int_equal((int)st.transport_fallbacks, 0);
    video_stream_free(s);

    s = open_stream(url, VIDEO_TRANSPORT_UDP);
    read_frames(s, 8, &st);
    assert_string_equal(video_transport_name(st.transport), "udp");
    video_stream_free(s);
    tl_proc_kill(&server);
}

/* A server limited to UDP answers the TCP SETUP with 461: auto moves to UDP
 * at once and says so; the next stream of the same URL starts with UDP. */
static void udp_only_server_auto_falls_back_and_remembers(void **state)
{
    struct tl_proc server;
    struct video_stats st;
    char url[128];

    int port = server_start_lower(&server, 0, "udp");
    assert_true(port > 0);
    snprintf(url, sizeof(url), "rtsp://viewer:hunter2@127.0.0.1:%d/camera", port);
    struct video_stream *s = open_stream(url, VIDEO_TRANSPORT_AUTO);
    read_frames(s, 8, &st);
    print_message("auto on a UDP-only server: %s after %llu fallback(s), %llu reconnects\n",
                  video_transport_name(st.transport), (unsigned long long)st.transport_fallbacks,
                  (unsigned long long)st.reconnects);
    assert_string_equal(video_transport_name(st.transport), "udp");
    assert_int_equal((int)st.transport_fallbacks, 1);
    assert_int_equal((int)st.reconnects, 0); /* within the first attempt, no backoff */
    video_stream_free(s);

    s = open_stream(url, VIDEO_TRANSPORT_AUTO);
    read_frames(s, 4, &st);
    assert_string_equal(video_transport_name(st.transport), "udp");
    assert_int_equal((int)st.transport_fallbacks, 0); /* remembered */
    video_stream_free(s);
    tl_proc_kill(&server);
}

/* tcp forced on a UDP-only server fails with a message that says why and
 * what to do; udp forced works. */
static void forced_transports_on_a_udp_only_server(void **state)
{
    struct tl_proc server;
    struct video_stats st;
    struct video_frame f;
    char url[128];

    int port = server_start_lower(&server, 0, "udp");
    assert_true(port > 0);
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/camera", port);
    struct video_stream *s = open_stream(url, VIDEO_TRANSPORT_TCP);
    struct errbuf err = {{0}};
    int r = video_stream_read(s, &f, &err);
    print_message("tcp forced: %s\n", err.msg);
    assert_int_equal(r, AVERROR(EPROTONOSUPPORT));
    assert_non_null(strstr(err.msg, "refuses RTSP over TCP"));
    assert_non_null(strstr(err.msg, "461"));
    assert_non_null(strstr(err.msg, "127.0.0.1"));
    video_stream_stats(s, &st);
    assert_int_equal((int)st.transport_fallbacks, 0);
    assert_int_equal(st.state, VIDEO_STATE_STOPPED);
    video_stream_free(s);

    s = open_stream(url, VIDEO_TRANSPORT_UDP);
    read_frames(s, 8, &st);
    assert_string_equal(video_transport_name(st.transport), "udp");
    video_stream_free(s);
    tl_proc_kill(&server);
}

/* A camera that accepts RTSP over TCP and then sends nothing: auto moves
 * to UDP once the open deadline passes without a frame. */
static void auto_moves_to_udp_when_tcp_stays_silent(void **state)
{
    struct tl_proc server, mute;
    struct video_options o;
    struct video_stream *s = NULL;
    struct video_stats st;
    char url[128], line[64], port_text[16];

    int port = server_start(&server, 0);
    assert_true(port > 0);
    snprintf(port_text, sizeof(port_text), "%d", port);
    const char *argv[] = {"/usr/bin/python3", mute_script, port_text, NULL};
    assert_int_equal(tl_proc_spawn(&mute, argv, &(struct tl_proc_options){.stdout_pipe = true}), 0);
    assert_int_equal(tl_proc_read_line(&mute, line, sizeof(line), 20), 0);
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/camera", atoi(line));

    video_options_init(&o);
    o.fps = 5;
    /* Room to connect and probe on a loaded machine; the silence is found
     * by the read deadline. */
    o.open_timeout_s = 3;
    o.read_timeout_s = 1;
    o.reconnect = VIDEO_RECONNECT_NEVER;
    assert_int_equal(video_stream_new(url, &o, &s, NULL), 0);
    read_frames(s, 8, &st);
    print_message("auto behind a TCP-mute proxy: %s after %llu fallback(s); last error %s\n",
                  video_transport_name(st.transport), (unsigned long long)st.transport_fallbacks,
                  st.last_error);
    assert_string_equal(video_transport_name(st.transport), "udp");
    assert_int_equal((int)st.transport_fallbacks, 1);
    video_stream_free(s);

    /* tcp forced stays silent, and says so. */
    o.transport = VIDEO_TRANSPORT_TCP;
    assert_int_equal(video_stream_new(url, &o, &s, NULL), 0);
    struct video_frame f;
    struct errbuf err = {{0}};
    int r = video_stream_read(s, &f, &err);
    print_message("tcp forced: %s\n", err.msg);
    assert_int_equal(r, -ETIMEDOUT);
    assert_non_null(strstr(err.msg, "over TCP (transport auto would try UDP)"));
    video_stream_free(s);
    tl_proc_kill(&mute);
    tl_proc_kill(&server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(camera_killed_backs_off_and_resumes),
        cmocka_unit_test(auto_uses_tcp_where_offered_and_udp_by_option),
        cmocka_unit_test(udp_only_server_auto_falls_back_and_remembers),
        cmocka_unit_test(forced_transports_on_a_udp_only_server),
        cmocka_unit_test(auto_moves_to_udp_when_tcp_stays_silent),
    };
    return cmocka_run_group_tests(tests, make_clip, NULL);
}
