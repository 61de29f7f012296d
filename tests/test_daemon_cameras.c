/* Integration tests of cameras as they are, through the real crtd: GStreamer
 * RTSP servers on 127.0.0.1 (tests/video/rtsp_server.py) serve a clip made
 * by ffmpeg at test time, crtd reads them with its real pipeline (the
 * project's default model, MoveNet Lightning).
 *   - A server that offers only UDP: transport = auto finds UDP and says so
 *     in /v1/streams/{name}; tcp forced shows why it cannot connect; the
 *     video options through POST /v1/streams, refused with a 400 naming the
 *     field when bad or unsafe, and kept across a restart.
 *   - --check-config names the file, line and key of a bad video option.
 *   - A restreamer in front of crtd, as go2rtc is (docs/VIDEO.md): crtd and
 *     another client read the relay while the camera sees one connection.
 * Usage: test_daemon_cameras CRTD RTSP_SERVER_PY MODEL MOVENET_JSON SERVICE_MD EXAMPLE_CONF */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tl_proc.h"
#include "daemon_harness.h"

static const char *server_script, *model_path, *movenet_path, *service_md, *example_conf;
static char clip[256];

/* A camera (or relay): rtsp_server.py with extra arguments before the
 * source; its port from the first line of its stdout. */
struct server {
    struct tl_proc proc;
    int port;
};

static void server_start(struct server *s, const char *const *args, const char *source,
                         const char *mount)
{
    const char *argv[16] = {"/usr/bin/python3", server_script};
    size_t n = 2;
    for (size_t i = 0; args && args[i]; i++)
        argv[n++] = args[i];
    argv[n++] = source;
    argv[n++] = "0";
    argv[n++] = mount;
    argv[n] = NULL;
    char line[64];
    assert_int_equal(tl_proc_spawn(&s->proc, argv, &(struct tl_proc_options){.stdout_pipe = true}),
                     0);
    assert_int_equal(tl_proc_read_line(&s->proc, line, sizeof(line), 20), 0);
    s->port = atoi(line);
    assert_true(s->port > 0);
}

/* Lines "client" the server printed until now (its --report-clients). */
static int clients_reported(struct server *s)
{
    char line[64];
    int n = 0;
    while (tl_proc_read_line(&s->proc, line, sizeof(line), 0.2) == 0)
        n += strcmp(line, "client") == 0;
    return n;
}

static void crtd_start(struct td_crtd *d)
{
    const char *const args[] = {"--model", model_path, "--pose-model", movenet_path, NULL};
    td_start(d, args);
}

static json_t *stream_get(unsigned port, const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/streams/%s", name);
    return td_get_json(port, path, 200);
}

/* Waits (bounded) for a stream to decode n frames; returns its JSON then. */
static json_t *wait_frames(unsigned port, const char *name, long long n)
{
    for (int i = 0; i < 600; i++) {
        json_t *j = stream_get(port, name);
        if (json_integer_value(json_object_get(j, "frames")) >= n)
            return j;
        json_decref(j);
        td_sleep_ms(50);
    }
    json_t *j = stream_get(port, name);
    char *text = json_dumps(j, 0);
    fail_msg("stream %s did not decode %lld frames: %s", name, n, text);
    return NULL;
}

/* A scripted test source: its memory is its place in the script. */
#define MEMO_URL "synthetic:script=none*100000&segment_ms=40"

static const char *video_str(json_t *stream, const char *key)
{
    return json_string_value(json_object_get(json_object_get(stream, "video"), key));
}

static void udp_only_camera_in_crtd(void **state)
{
    struct server cam;
    struct td_crtd d;
    char conf[4096], url[128], path[192];

    server_start(&cam, (const char *const[]){"--lower", "udp", NULL}, clip, "/camera");
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/camera", cam.port);
    td_tmp_dir(&d);
    snprintf(conf, sizeof(conf),
             "[server]\ntoken_file = %s/token\n"
             "[stream \"porch\"]\nurl = %s\nfps = 2\n"
             "[stream \"forced\"]\nurl = %s\nfps = 2\ntransport = tcp\n"
             "backoff_min_s = 0.2\nbackoff_max_s = 1\n"
             "[stream \"memo\"]\nurl = %s\n",
             d.dir, url, url, MEMO_URL);
    snprintf(path, sizeof(path), "%s/crtd.conf", d.dir);
    td_write_file(path, conf, 0644);
    crtd_start(&d);

    /* auto (the default) reads the UDP-only camera and says how. */
    json_t *porch = wait_frames(d.port, "porch", 5);
    assert_string_equal(json_string_value(json_object_get(porch, "transport")), "udp");
    assert_string_equal(video_str(porch, "transport"), "auto");

    /* Every video option the daemon has is documented, with its default in
     * the example configuration. */
    char *doc = td_read_file(service_md), *example = td_read_file(example_conf);
    const char *key;
    json_t *value;
    json_object_foreach(json_object_get(porch, "video"), key, value)
    {
        char row[96], line[96];
        snprintf(row, sizeof(row), "\n| `%s` |", key);
        snprintf(line, sizeof(line), "\n;%s =", key);
        if (!strstr(doc, row))
            fail_msg("video option %s is not a row of %s", key, service_md);
        if (!strstr(example, line))
            fail_msg("video option %s is not in %s", key, example_conf);
    }
    assert_true(json_object_size(json_object_get(porch, "video")) >= 19);
    free(doc);
    free(example);
    json_decref(porch);

    /* tcp forced never connects, and the stream says why. */
    bool refused = false;
    for (int i = 0; i < 400 && !refused; i++) {
        json_t *j = stream_get(d.port, "forced");
        const char *error = json_string_value(json_object_get(j, "error"));
        refused = error && strstr(error, "refuses RTSP over TCP (461 Unsupported Transport)") &&
                  strcmp(json_string_value(json_object_get(j, "state")), "reconnecting") == 0;
        if (refused)
            print_message("forced tcp: %s\n", error);
        assert_int_equal(json_integer_value(json_object_get(j, "frames")), 0);
        json_decref(j);
        if (!refused)
            td_sleep_ms(50);
    }
    assert_true(refused);

    /* The same options through the API. */
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\": \"side\", \"url\": \"%s\", \"fps\": 2, \"transport\": \"udp\", "
             "\"max_side\": 320, \"ffmpeg_options\": \"probesize=100000\", "
             "\"read_timeout_s\": 5}",
             url);
    struct td_response r;
    td_http(d.port, "POST", "/v1/streams", AUTH, body, &r);
    if (r.status != 201)
        fail_msg("POST side: %d %s", r.status, r.body);
    assert_string_equal(video_str(r.json, "transport"), "udp");
    td_response_done(&r);
    json_t *side = wait_frames(d.port, "side", 5);
    assert_string_equal(json_string_value(json_object_get(side, "transport")), "udp");
    json_t *video = json_object_get(side, "video");
    assert_int_equal(json_integer_value(json_object_get(video, "max_side")), 320);
    assert_true(json_number_value(json_object_get(video, "read_timeout_s")) == 5);
    assert_string_equal(video_str(side, "ffmpeg_options"), "probesize=100000");
    json_decref(side);

    /* Bad and unsafe fields: 400, the message naming the field. */
    static const struct {
        const char *fields, *expect;
    } bad[] = {
        {"\"transport\": \"quic\"", "'transport' must be auto, tcp or udp"},
        {"\"ffmpeg_options\": \"protocol_whitelist=file,rtsp\"", "'protocol_whitelist'"},
        {"\"ffmpeg_options\": \"user_agent=x:http_proxy=http\\\\://proxy/\"", "'http_proxy'"},
        {"\"format\": \"concat\"", "'format' input format 'concat'"},
        {"\"hw_device\": \"/etc/shadow\"", "'hw_device' '/etc/shadow'"},
        {"\"open_timeout_s\": \"10\"", "'open_timeout_s' must be 0.1 to 600"},
        {"\"backoff_min_s\": 4, \"backoff_max_s\": 2", "backoff_max_s (2) is below"},
        {"\"colour\": \"red\"",
         "unknown field 'colour' (name, url, fps, enabled, site, room, transport"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        snprintf(body, sizeof(body), "{\"name\": \"bad\", \"url\": \"%s\", %s}", url,
                 bad[i].fields);
        td_http(d.port, "POST", "/v1/streams", AUTH, body, &r);
        const char *message =
            json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
        if (r.status != 400 || !message || !strstr(message, bad[i].expect))
            fail_msg("%s: %d %s, expected 400 with '%s'", bad[i].fields, r.status, r.body,
                     bad[i].expect);
        td_response_done(&r);
    }
    td_get_json(d.port, "/v1/streams/bad", 404);

    /* A changed video option in the file restarts the stream on SIGHUP,
     * with its memory. */
    td_wait_segments(d.port, "memo", 5);
    snprintf(conf, sizeof(conf),
             "[server]\ntoken_file = %s/token\n"
             "[stream \"porch\"]\nurl = %s\nfps = 2\nmax_side = 240\n"
             "[stream \"memo\"]\nurl = %s\nread_timeout_s = 3\n",
             d.dir, url, MEMO_URL);
    td_write_file(path, conf, 0644);
    assert_int_equal(kill(d.proc.pid, SIGHUP), 0);
    bool reloaded = false;
    for (int i = 0; i < 200 && !reloaded; i++) {
        td_sleep_ms(50);
        td_http(d.port, "GET", "/v1/streams/porch", AUTH, NULL, &r); /* 404 while it restarts */
        reloaded = r.status == 200 && json_integer_value(json_object_get(
                                          json_object_get(r.json, "video"), "max_side")) == 240;
        td_response_done(&r);
    }
    assert_true(reloaded);
    td_get_json(d.port, "/v1/streams/forced", 404); /* gone from the file */
    json_decref(wait_frames(d.port, "porch", 3));
    bool restored = false;
    for (int i = 0; i < 200 && !restored; i++) {
        td_sleep_ms(50);
        td_http(d.port, "GET", "/v1/streams/memo", AUTH, NULL, &r);
        json_t *memory = json_object_get(r.json, "memory");
        restored = r.status == 200 &&
                   json_number_value(
                       json_object_get(json_object_get(r.json, "video"), "read_timeout_s")) == 3 &&
                   json_is_true(json_object_get(memory, "restored")) &&
                   json_integer_value(json_object_get(memory, "segments")) >= 5;
        td_response_done(&r);
    }
    assert_true(restored);

    /* A restart brings the API's stream back with its options. */
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    crtd_start(&d);
    side = wait_frames(d.port, "side", 3);
    assert_string_equal(json_string_value(json_object_get(side, "origin")), "api");
    assert_string_equal(video_str(side, "transport"), "udp");
    assert_string_equal(video_str(side, "ffmpeg_options"), "probesize=100000");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(side, "video"), "max_side")), 320);
    json_decref(side);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    tl_proc_kill(&cam.proc);
    td_rm_dir(&d);
}

/* Runs crtd --check-config on a file; its exit status, its output in out. */
static int check_config(const char *conf_path, char *out, size_t size)
{
    char log[160];
    snprintf(log, sizeof(log), "%s.out", conf_path);
    unlink(log);
    const char *argv[] = {td_crtd_path, "--check-config", "--model", "none",
                          "--config",   conf_path,        NULL};
    struct tl_proc p;
    int status = 0;
    assert_int_equal(tl_proc_spawn(&p, argv, &(struct tl_proc_options){.log_path = log}), 0);
    assert_int_equal(tl_proc_wait(&p, 20, &status), 0);
    char *text = td_read_file(log);
    snprintf(out, size, "%s", text);
    free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void check_config_names_bad_video_options(void **state)
{
    struct td_crtd d;
    char path[192], out[2048];
    td_tmp_dir(&d);
    snprintf(path, sizeof(path), "%s/crtd.conf", d.dir);
    td_write_file(path,
                  "[stream \"porch\"]\nurl = rtsp://cam.local/1\ntransport = udp\n"
                  "ffmpeg_options = probesize=32768:fflags=nobuffer\nmax_side = 320\n",
                  0644);
    assert_int_equal(check_config(path, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "configuration OK"));

    td_write_file(path,
                  "[stream \"porch\"]\nurl = rtsp://cam.local/1\n\n"
                  "ffmpeg_options = probesize=32768:protocol_whitelist=file\n",
                  0644);
    assert_int_equal(check_config(path, out, sizeof(out)), 1);
    print_message("%s", out);
    assert_non_null(strstr(out, "crtd.conf:4: ffmpeg_options: FFmpeg option 'protocol_whitelist' "
                                "is not on crtd's list of safe options"));

    td_write_file(path, "[stream \"porch\"]\nurl = rtsp://cam.local/1\ntransport = tcp+udp\n",
                  0644);
    assert_int_equal(check_config(path, out, sizeof(out)), 1);
    assert_non_null(
        strstr(out, "crtd.conf:3: bad value 'tcp+udp' for transport: auto, tcp or udp"));

    td_write_file(path,
                  "[stream \"porch\"]\nurl = rtsp://cam.local/1\nbackoff_min_s = 9\n"
                  "backoff_max_s = 3\n",
                  0644);
    assert_int_equal(check_config(path, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "stream 'porch': backoff_max_s (3) is below backoff_min_s (9)"));
    td_rm_dir(&d);
}

/* go2rtc's place in front of crtd, taken by a GStreamer relay that pulls the
 * camera once and serves everyone from that one connection. */
static void restreamed_camera(void **state)
{
    struct server cam, relay;
    struct td_crtd d;
    char conf[2048], url[128], path[192];

    server_start(&cam, (const char *const[]){"--report-clients", NULL}, clip, "/camera");
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/camera", cam.port);
    server_start(&relay, (const char *const[]){"--relay", "--report-clients", NULL}, url, "/porch");
    assert_int_equal(clients_reported(&cam), 0); /* the relay connects on demand */

    td_tmp_dir(&d);
    snprintf(conf, sizeof(conf),
             "[server]\ntoken_file = %s/token\n"
             "[stream \"porch\"]\nurl = rtsp://127.0.0.1:%d/porch\nfps = 2\n",
             d.dir, relay.port);
    snprintf(path, sizeof(path), "%s/crtd.conf", d.dir);
    td_write_file(path, conf, 0644);
    crtd_start(&d);
    json_t *porch = wait_frames(d.port, "porch", 5);
    assert_string_equal(json_string_value(json_object_get(porch, "transport")), "tcp");
    long long frames = json_integer_value(json_object_get(porch, "frames"));
    json_decref(porch);

    /* Someone else watches the same camera meanwhile, through the relay. */
    char relay_url[128];
    snprintf(relay_url, sizeof(relay_url), "rtsp://127.0.0.1:%d/porch", relay.port);
    const char *argv[] = {"ffmpeg", "-nostdin", "-v",      "error",     "-rtsp_transport",
                          "tcp",    "-i",       relay_url, "-frames:v", "20",
                          "-f",     "null",     "-",       NULL};
    struct tl_proc viewer;
    int status = 0;
    assert_int_equal(tl_proc_spawn(&viewer, argv, NULL), 0);
    assert_int_equal(tl_proc_wait(&viewer, 30, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* crtd goes on reading; the camera had one connection in all. */
    json_decref(wait_frames(d.port, "porch", frames + 5));
    int camera_clients = clients_reported(&cam), relay_clients = clients_reported(&relay);
    print_message("camera connections %d, relay connections %d\n", camera_clients, relay_clients);
    assert_int_equal(camera_clients, 1);
    assert_true(relay_clients >= 2);

    assert_int_equal(td_stop(&d, SIGTERM), 0);
    tl_proc_kill(&relay.proc);
    tl_proc_kill(&cam.proc);
    td_rm_dir(&d);
}

static int make_clip(void **state)
{
    strcpy(clip, "/tmp/crtd-cameras-XXXXXX");
    if (!mkdtemp(clip))
        return -1;
    strcat(clip, "/camera.mp4");
    char cmd[512];
    /* Long enough that no client reaches its end during a test. */
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=10:"
             "duration=120 -c:v libx264 -preset ultrafast -g 10 '%s'",
             clip);
    return system(cmd) == 0 ? 0 : -1;
}

static int remove_clip(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf \"$(dirname '%s')\"", clip);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: test_daemon_cameras CRTD RTSP_SERVER_PY MODEL MOVENET_JSON "
                        "SERVICE_MD EXAMPLE_CONF\n");
        return 2;
    }
    service_md = argv[5];
    example_conf = argv[6];
    td_crtd_path = argv[1];
    server_script = argv[2];
    model_path = argv[3];
    movenet_path = argv[4];
    if (access(movenet_path, R_OK) < 0 || access(model_path, R_OK) < 0) {
        fprintf(stderr, "skipped: %s or %s missing (run scripts/setup)\n", model_path,
                movenet_path);
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(udp_only_camera_in_crtd),
        cmocka_unit_test(check_config_names_bad_video_options),
        cmocka_unit_test(restreamed_camera),
    };
    return cmocka_run_group_tests(tests, make_clip, remove_clip);
}
