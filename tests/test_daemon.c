/* Integration tests of crtd: the real binary on 127.0.0.1 with a temporary
 * state directory, the tests' HTTP and SSE client (tests/lib, libcurl),
 * SQLite on disk.
 * Streams use the scripted "synthetic:" test source, so that what each
 * stream reports is known in advance. Loops are bounded; nothing asserts on
 * time. Usage: test_daemon PATH_TO_CRTD */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tl_http.h"
#include "tl_proc.h"
#include "tl_sse.h"
#include "daemon_harness.h"

/* ---- tests ---------------------------------------------------------------- */

static int run_status(const char *const *args, char **ret_output)
{
    char out[] = "/tmp/crtd-out-XXXXXX";
    int fd = mkstemp(out);
    const char *argv[16] = {td_crtd_path};
    size_t n = 1;
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    close(fd);
    struct tl_proc proc;
    int status = 0;
    assert_int_equal(tl_proc_spawn(&proc, argv, &(struct tl_proc_options){.log_path = out}), 0);
    assert_int_equal(tl_proc_wait(&proc, -1, &status), 0);
    *ret_output = td_read_file(out);
    unlink(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void cli_help_errors_and_check_config(void **state)
{
    struct td_crtd d;
    char *out, conf[160], bad[160];
    td_tmp_dir(&d);

    assert_int_equal(run_status((const char *const[]){"--help", NULL}, &out), 0);
    assert_non_null(strstr(out, "Usage: crtd"));
    assert_non_null(strstr(out, "--check-config"));
    free(out);
    assert_int_equal(run_status((const char *const[]){"--bogus", NULL}, &out), 2);
    assert_non_null(strstr(out, "unknown option '--bogus'"));
    free(out);
    assert_int_equal(run_status((const char *const[]){"--stream", NULL}, &out), 2);
    free(out);

    snprintf(conf, sizeof(conf), "%s/good.conf", d.dir);
    td_write_file(conf,
                  "[daemon]\nstate_directory = /tmp/nowhere\n"
                  "[stream \"a\"]\nurl = synthetic:script=Walk*2,none\n",
                  0644);
    assert_int_equal(run_status((const char *const[]){"--check-config", "--model", "none",
                                                      "--config", conf, NULL},
                                &out),
                     0);
    assert_non_null(strstr(out, "configuration OK: 1 streams"));
    free(out);

    snprintf(bad, sizeof(bad), "%s/bad.conf", d.dir);
    td_write_file(bad, "[server]\nlisten = 127.0.0.1:1\nport = 80\n", 0644);
    assert_int_equal(
        run_status((const char *const[]){"--check-config", "--config", bad, NULL}, &out), 1);
    assert_non_null(strstr(out, "bad.conf:3: unknown key 'port' in [server]"));
    free(out);

    /* The shipped example configuration checks, as it is and with its
     * commented stream sections enabled. */
    if (td_example_conf) {
        assert_int_equal(run_status((const char *const[]){"--check-config", "--model", "none",
                                                          "--config", td_example_conf, NULL},
                                    &out),
                         0);
        free(out);
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "sed 's/^;\\(\\[stream\\|url\\|fps\\|enabled\\|transport\\|max_side\\|"
                 "threads\\|hwaccel\\|ffmpeg_options\\|open_timeout_s\\|read_timeout_s\\|"
                 "backoff_m..._s\\|max_lag_s\\|skip_nonref\\|reconnect\\|motion_\\)/\\1/' "
                 "'%s' > '%s/ex.conf'",
                 td_example_conf, d.dir);
        assert_int_equal(system(cmd), 0);
        snprintf(conf, sizeof(conf), "%s/ex.conf", d.dir);
        assert_int_equal(run_status((const char *const[]){"--check-config", "--model", "none",
                                                          "--config", conf, NULL},
                                    &out),
                         0);
        assert_non_null(strstr(out, "configuration OK: 2 streams"));
        free(out);
    }

    /* A script naming no class is caught too, naming the stream. */
    td_write_file(bad, "[stream \"x\"]\nurl = synthetic:script=Juggle\n", 0644);
    assert_int_equal(
        run_status((const char *const[]){"--check-config", "--config", bad, NULL}, &out), 1);
    assert_non_null(strstr(out, "stream 'x'"));
    free(out);
    assert_int_equal(run_status((const char *const[]){"--config", "/nonexistent.conf", NULL}, &out),
                     1);
    assert_non_null(strstr(out, "/nonexistent.conf"));
    free(out);
    td_rm_dir(&d);
}

static void every_endpoint_and_its_errors(void **state)
{
    struct td_crtd d;
    struct td_response r;
    char tokenarg[160];
    td_tmp_dir(&d);
    snprintf(tokenarg, sizeof(tokenarg), "%s/token", d.dir);
    td_start(&d, (const char *const[]){"--token-file", tokenarg, "--stream",
                                       "conf=synthetic:script=Walk&segment_ms=50", NULL});

    /* Probes need no token. */
    td_http(d.port, "GET", "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
    td_response_done(&r);
    td_http(d.port, "GET", "/readyz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    td_response_done(&r);

    /* Everything else does; a wrong one is refused the same way. */
    td_expect_error(d.port, "GET", "/v1/streams", NULL, NULL, 401, "unauthorized");
    td_expect_error(d.port, "GET", "/v1/streams", "Authorization: Bearer nope\r\n", NULL, 401,
                    "unauthorized");
    td_expect_error(d.port, "GET", "/v1/streams", "Authorization: Bearer " TOKEN "x\r\n", NULL, 401,
                    "unauthorized");
    td_expect_error(d.port, "GET", "/metrics", "Authorization: Basic abc\r\n", NULL, 401,
                    "unauthorized");
    td_http(d.port, "GET", "/v1/streams", NULL, NULL, &r);
    assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer"));
    td_response_done(&r);

    /* Add a stream; it shows up in the list, with its status and activity. */
    td_add_stream(d.port, "kitchen", "synthetic:script=Sitdown*3,none*3&segment_ms=50");
    td_http(d.port, "POST", "/v1/streams", AUTH,
            "{\"name\":\"pw\",\"url\":\"rtsp://user:secret@cam.local/1\",\"enabled\":false}", &r);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.head, "Location: /v1/streams/pw"));
    assert_null(strstr(r.body, "secret"));
    assert_string_equal(json_string_value(json_object_get(r.json, "url")),
                        "rtsp://user:***@cam.local/1");
    assert_string_equal(json_string_value(json_object_get(r.json, "state")), "disabled");
    td_response_done(&r);

    json_t *list = td_get_json(d.port, "/v1/streams", 200);
    assert_int_equal(json_array_size(json_object_get(list, "streams")), 3);
    json_decref(list);
    td_wait_segments(d.port, "kitchen", 2);
    json_t *act = td_get_json(d.port, "/v1/streams/kitchen/activity", 200);
    const char *st = json_string_value(json_object_get(act, "state"));
    assert_true(strcmp(st, "activity") == 0 || strcmp(st, "nobody") == 0);
    assert_true(json_is_array(json_object_get(act, "top")));
    assert_true(json_is_string(json_object_get(act, "since")));
    json_decref(act);
    json_t *hist = td_get_json(d.port, "/v1/streams/kitchen/history?since=0&limit=10", 200);
    assert_true(json_array_size(json_object_get(hist, "intervals")) >= 1);
    json_decref(hist);
    hist = td_get_json(d.port, "/v1/streams/kitchen/history?since=2000-01-01T00:00:00Z", 200);
    json_decref(hist);

    /* Errors: unknown streams, bad bodies, conflicts, wrong methods and paths. */
    td_expect_error(d.port, "GET", "/v1/streams/nope", AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "GET", "/v1/streams/nope/activity", AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "GET", "/v1/streams/nope/history", AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "DELETE", "/v1/streams/nope", AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "GET", "/v2/anything", AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "POST", "/v1/streams", AUTH, "{\"name\":", 400, "bad_request");
    td_expect_error(d.port, "POST", "/v1/streams", AUTH, "{\"name\":\"x\"}", 400,
                    "invalid_argument");
    td_expect_error(d.port, "POST", "/v1/streams", AUTH,
                    "{\"name\":\"x\",\"url\":\"gopher://cam\"}", 400, "invalid_argument");
    td_expect_error(d.port, "POST", "/v1/streams", AUTH,
                    "{\"name\":\"x\",\"url\":\"synthetic:script=Juggle\"}", 400,
                    "invalid_argument");
    td_expect_error(d.port, "POST", "/v1/streams", AUTH,
                    "{\"name\":\"kitchen\",\"url\":\"synthetic:script=Walk\"}", 409,
                    "already_exists");
    /* Through the API only network cameras: no file, device or lavfi graph. */
    static const char *const local_urls[] = {
        "/etc/passwd",        "file:/etc/passwd",        "concat:/etc/passwd|/etc/group",
        "v4l2:///dev/video0", "lavfi:movie=/etc/passwd", "synthetic:script=Walk&alive=/etc/passwd",
    };
    for (size_t i = 0; i < ARRAY_SIZE(local_urls); i++) {
        char body[200];
        snprintf(body, sizeof(body), "{\"name\":\"local\",\"url\":\"%s\"}", local_urls[i]);
        td_expect_error(d.port, "POST", "/v1/streams", AUTH, body, 403, "forbidden");
    }
    td_expect_error(d.port, "GET", "/v1/streams/local", AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "DELETE", "/v1/streams/conf", AUTH, NULL, 403, "forbidden");
    td_expect_error(d.port, "PUT", "/v1/streams", AUTH, NULL, 405, "method_not_allowed");
    td_http(d.port, "DELETE", "/v1/model", AUTH, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.head, "Allow: GET, HEAD"));
    td_response_done(&r);
    td_expect_error(d.port, "GET", "/v1/streams/kitchen/history?limit=0", AUTH, NULL, 400,
                    "invalid_argument");
    td_expect_error(d.port, "GET", "/v1/streams/kitchen/history?since=yesterday", AUTH, NULL, 400,
                    "invalid_argument");
    td_expect_error(d.port, "GET", "/v1/streams/kitchen/history?since=20&until=10", AUTH, NULL, 400,
                    "invalid_argument");
    td_expect_error(d.port, "GET", "/v1/model", AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "GET", "/v1/events", AUTH "Last-Event-ID: abc\r\n", NULL, 400,
                    "invalid_argument");

    /* An oversized body is refused without being read. */
    char *big = malloc(200 * 1024);
    memset(big, ' ', 200 * 1024 - 1);
    big[0] = '{';
    big[200 * 1024 - 2] = '}';
    big[200 * 1024 - 1] = '\0';
    td_expect_error(d.port, "POST", "/v1/streams", AUTH, big, 413, "payload_too_large");
    free(big);

    /* Metrics in the text format, with the stream families and the histogram. */
    td_http(d.port, "GET", "/metrics", AUTH, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "Content-Type: text/plain; version=0.0.4"));
    assert_non_null(strstr(r.body, "# TYPE crtd_stream_frames_total counter"));
    assert_non_null(strstr(r.body, "crtd_stream_segments_total{stream=\"kitchen\"}"));
    assert_non_null(strstr(r.body, "crtd_stream_reconnects_total{stream=\"kitchen\"} 0"));
    assert_non_null(strstr(r.body, "crtd_activity_latency_seconds_bucket{stream=\"kitchen\","
                                   "le=\"+Inf\"}"));
    assert_non_null(strstr(r.body, "crtd_http_requests_total{code=\"401\"}"));
    td_response_done(&r);

    /* Delete: gone from the list, 404 after. */
    td_http(d.port, "DELETE", "/v1/streams/kitchen", AUTH, NULL, &r);
    assert_int_equal(r.status, 204);
    td_response_done(&r);
    td_expect_error(d.port, "GET", "/v1/streams/kitchen", AUTH, NULL, 404, "not_found");
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

static void without_a_token_changes_are_refused(void **state)
{
    struct td_crtd d;
    struct td_response r;
    td_tmp_dir(&d);
    td_start(&d, NULL);
    td_http(d.port, "GET", "/v1/streams", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    td_response_done(&r);
    td_expect_error(d.port, "POST", "/v1/streams", NULL,
                    "{\"name\":\"a\",\"url\":\"synthetic:script=Walk\"}", 403, "forbidden");
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

/* ---- SSE ------------------------------------------------------------------ */

struct sse {
    struct tl_sse *stream;
};

static void sse_open(struct sse *s, unsigned port, const char *last_id)
{
    char url[128], headers[128] = "";
    struct errbuf err = {{0}};
    long status = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/events", port);
    if (last_id)
        snprintf(headers, sizeof(headers), "Last-Event-ID: %s\r\n", last_id);
    int r = tl_sse_open(url, TOKEN, headers, 10, &s->stream, &status, &err);
    if (r < 0)
        fail_msg("%s", errbuf_text(&err, r));
    if (status != 200)
        fail_msg("GET /v1/events: status %ld", status);
}

/* Reads until one full event of type `type` arrives (others are skipped);
 * its id and data go out. false after 20 s without an event, or on close. */
static bool sse_next(struct sse *s, const char *type, char *ret_id, size_t id_size,
                     json_t **ret_data)
{
    for (;;) {
        struct tl_sse_event ev;
        struct errbuf err = {{0}};
        int r = tl_sse_next(s->stream, 20, &ev, &err);
        if (r < 0) {
            print_message("%s\n", errbuf_text(&err, r));
            return false;
        }
        bool match = strcmp(ev.type, type) == 0 && ev.id[0] && ev.data;
        if (match) {
            size_t n = strnlen(ev.id, id_size - 1);
            memcpy(ret_id, ev.id, n);
            ret_id[n] = '\0';
            *ret_data = json_loads(ev.data, JSON_DISABLE_EOF_CHECK, NULL);
        }
        tl_sse_event_done(&ev);
        if (match)
            return *ret_data != NULL;
    }
}

static void sse_close(struct sse *s)
{
    s->stream = tl_sse_free(s->stream);
}

static const char *label_of(json_t *data)
{
    const char *label = json_string_value(json_object_get(data, "label"));
    return label ? label : json_string_value(json_object_get(data, "state"));
}

static void events_in_order_and_replay(void **state)
{
    struct td_crtd d;
    struct sse s;
    char tokenarg[160], id[32], first_id[32];
    json_t *data;
    td_tmp_dir(&d);
    snprintf(tokenarg, sizeof(tokenarg), "%s/token", d.dir);
    char config[160];
    snprintf(config, sizeof(config), "%s/crtd.conf", d.dir);
    td_write_file(config, "[daemon]\nhysteresis_s = 0.1\n[server]\nsse_heartbeat_s = 0.2\n", 0644);
    td_start(&d, (const char *const[]){"--token-file", tokenarg, NULL});

    /* A client connected before the stream exists sees every change, in order. */
    sse_open(&s, d.port, NULL);
    td_sleep_ms(100);
    td_add_stream(d.port, "hall",
                  "synthetic:script=Walk*6,Sitdown*6,none*6,Readbook*6&segment_ms=30&loop=0");
    static const char *const expected[] = {"Walk", "Sitdown", "nobody", "Readbook"};
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
        if (!sse_next(&s, "activity", id, sizeof(id), &data))
            fail_msg("no activity event %zu", i);
        assert_string_equal(json_string_value(json_object_get(data, "stream")), "hall");
        assert_string_equal(label_of(data), expected[i]);
        if (i == 0)
            snprintf(first_id, sizeof(first_id), "%s", id);
        json_decref(data);
    }
    sse_close(&s);

    /* Reconnecting with the first id replays what came after it. */
    sse_open(&s, d.port, first_id);
    unsigned long long last = strtoull(first_id, NULL, 10);
    for (size_t i = 1; i < ARRAY_SIZE(expected); i++) {
        if (!sse_next(&s, "activity", id, sizeof(id), &data))
            fail_msg("no replayed activity event %zu", i);
        assert_string_equal(label_of(data), expected[i]);
        assert_true(strtoull(id, NULL, 10) > last);
        last = strtoull(id, NULL, 10);
        json_decref(data);
    }
    sse_close(&s);

    /* History has the same intervals, oldest first. */
    json_t *hist = td_get_json(d.port, "/v1/streams/hall/history", 200);
    json_t *intervals = json_object_get(hist, "intervals");
    assert_int_equal(json_array_size(intervals), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(label_of(json_array_get(intervals, i)), expected[i]);
    json_decref(hist);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

static void sse_clients_are_limited(void **state)
{
    struct td_crtd d;
    struct sse s[2];
    char tokenarg[160], config[160];
    td_tmp_dir(&d);
    snprintf(tokenarg, sizeof(tokenarg), "%s/token", d.dir);
    snprintf(config, sizeof(config), "%s/crtd.conf", d.dir);
    td_write_file(config, "[server]\nmax_sse_clients = 2\nmax_connections = 8\n", 0644);
    td_start(&d, (const char *const[]){"--token-file", tokenarg, NULL});
    sse_open(&s[0], d.port, NULL);
    sse_open(&s[1], d.port, NULL);
    /* Bounded wait until both are counted. */
    for (int i = 0; i < 100; i++) {
        struct td_response r;
        td_http(d.port, "GET", "/metrics", AUTH, NULL, &r);
        bool both = strstr(r.body, "crtd_sse_clients 2") != NULL;
        td_response_done(&r);
        if (both)
            break;
        td_sleep_ms(20);
    }
    td_expect_error(d.port, "GET", "/v1/events", AUTH, NULL, 429, "too_many_clients");
    sse_close(&s[0]);
    sse_close(&s[1]);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

/* ---- streams failing, restarts, crashes ----------------------------------- */

static void a_killed_stream_reconnects_and_the_other_keeps_going(void **state)
{
    struct td_crtd d;
    char tokenarg[160], alive[160], url[256], config[160];
    td_tmp_dir(&d);
    snprintf(tokenarg, sizeof(tokenarg), "%s/token", d.dir);
    snprintf(config, sizeof(config), "%s/crtd.conf", d.dir);
    td_write_file(config,
                  "[server]\napi_local_sources = yes\n"
                  "[daemon]\nrestart_min_s = 0.1\nrestart_max_s = 0.4\n",
                  0644);
    snprintf(alive, sizeof(alive), "%s/camera-a-alive", d.dir);
    td_write_file(alive, "", 0644);
    td_start(&d, (const char *const[]){"--token-file", tokenarg, NULL});
    snprintf(url, sizeof(url), "synthetic:script=Walk&segment_ms=30&alive=%s", alive);
    td_add_stream(d.port, "a", url);
    td_add_stream(d.port, "b", "synthetic:script=Sitdown&segment_ms=30");
    td_wait_segments(d.port, "a", 2);
    td_wait_segments(d.port, "b", 2);

    unlink(alive); /* camera a dies */
    bool reconnecting = false;
    for (int i = 0; i < 600 && !reconnecting; i++) {
        char *s = td_stream_str(d.port, "a", "state");
        reconnecting = strcmp(s, "reconnecting") == 0 || strcmp(s, "starting") == 0;
        free(s);
        if (!reconnecting)
            td_sleep_ms(25);
    }
    assert_true(reconnecting);
    assert_true(td_stream_int(d.port, "a", "reconnects") >= 1);
    char *error = td_stream_str(d.port, "a", "error");
    assert_non_null(strstr(error, "camera-a-alive"));
    free(error);
    long long b_before = td_stream_int(d.port, "b", "segments");
    long long a_before = td_stream_int(d.port, "a", "segments");
    td_wait_segments(d.port, "b", b_before + 5);
    assert_int_equal(td_stream_int(d.port, "a", "segments"), a_before);
    assert_int_equal(td_stream_int(d.port, "b", "reconnects"), 0);
    char *bstate = td_stream_str(d.port, "b", "state");
    assert_string_equal(bstate, "running");
    free(bstate);

    /* The camera comes back: a runs again. */
    td_write_file(alive, "", 0644);
    td_wait_segments(d.port, "a", a_before + 2);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

static void a_restart_resumes_memory_and_history(void **state)
{
    struct td_crtd d;
    char tokenarg[160], config[160];
    td_tmp_dir(&d);
    snprintf(tokenarg, sizeof(tokenarg), "%s/token", d.dir);
    snprintf(config, sizeof(config), "%s/crtd.conf", d.dir);
    td_write_file(config, "[daemon]\nhysteresis_s = 0\ncheckpoint_segments = 2\n", 0644);
    td_start(&d, (const char *const[]){"--token-file", tokenarg, NULL});
    td_add_stream(d.port, "den", "synthetic:script=Walk*3,Sitdown*3&segment_ms=30");
    td_wait_segments(d.port, "den", 8);
    assert_int_equal(td_stop(&d, SIGTERM), 0);

    /* The memory checkpointed at shutdown holds at least the segments seen. */
    td_start(&d, (const char *const[]){"--token-file", tokenarg, NULL});
    json_t *j = td_get_json(d.port, "/v1/streams/den", 200);
    assert_string_equal(json_string_value(json_object_get(j, "origin")), "api");
    json_decref(j);
    td_wait_segments(d.port, "den", 1);
    j = td_get_json(d.port, "/v1/streams/den", 200);
    json_t *memory = json_object_get(j, "memory");
    assert_true(json_is_true(json_object_get(memory, "restored")));
    assert_true(json_integer_value(json_object_get(memory, "segments")) >= 9);
    json_decref(j);
    /* The history of the first run is back: at least Walk, Sitdown, Walk. */
    json_t *hist = td_get_json(d.port, "/v1/streams/den/history", 200);
    assert_true(json_array_size(json_object_get(hist, "intervals")) >= 3);
    assert_string_equal(label_of(json_array_get(json_object_get(hist, "intervals"), 0)), "Walk");
    json_decref(hist);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

/* The person of /people with this id, or NULL. */
static json_t *person_in(json_t *people, json_int_t id)
{
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(people, "people"), i, p)
    {
        if (json_integer_value(json_object_get(p, "id")) == id)
            return p;
    }
    return NULL;
}

static void two_people_each_with_their_own_activity(void **state)
{
    struct td_crtd d;
    struct sse s;
    char tokenarg[160], config[160], id[32];
    json_t *data;
    td_tmp_dir(&d);
    snprintf(tokenarg, sizeof(tokenarg), "%s/token", d.dir);
    snprintf(config, sizeof(config), "%s/crtd.conf", d.dir);
    td_write_file(config,
                  "[daemon]\nhysteresis_s = 0\ncheckpoint_segments = 2\n[server]\n"
                  "api_local_sources = yes\n",
                  0644);
    td_start(&d, (const char *const[]){"--token-file", tokenarg, NULL});
    sse_open(&s, d.port, NULL);
    td_sleep_ms(100);
    td_add_stream(d.port, "duo", "synthetic:script=Walk&person=7:Sitdown&segment_ms=30");
    /* Over the cap: the second person is dropped and counted. */
    td_add_stream(d.port, "solo",
                  "synthetic:script=Walk&person=2:Readbook&max_people=1&segment_ms=30");

    /* A person event for each, carrying its track id. */
    bool seen[2] = {false, false};
    for (int i = 0; i < 10 && !(seen[0] && seen[1]); i++) {
        assert_true(sse_next(&s, "person", id, sizeof(id), &data));
        if (strcmp(json_string_value(json_object_get(data, "stream")), "duo") == 0) {
            json_int_t person = json_integer_value(json_object_get(data, "person"));
            assert_true(person == 1 || person == 7);
            assert_string_equal(json_string_value(json_object_get(data, "change")), "appeared");
            assert_string_equal(label_of(data), person == 1 ? "Walk" : "Sitdown");
            seen[person == 7] = true;
        }
        json_decref(data);
    }
    assert_true(seen[0] && seen[1]);
    sse_close(&s);
    td_wait_segments(d.port, "duo", 4);

    /* GET /people: both, each with its own activity, box and keypoints. */
    json_t *people = td_get_json(d.port, "/v1/streams/duo/people", 200);
    assert_int_equal(json_integer_value(json_object_get(people, "count")), 2);
    assert_int_equal(json_array_size(json_object_get(people, "people")), 2);
    json_t *walker = person_in(people, 1), *sitter = person_in(people, 7);
    assert_non_null(walker);
    assert_non_null(sitter);
    assert_string_equal(label_of(walker), "Walk");
    assert_string_equal(label_of(sitter), "Sitdown");
    assert_int_equal(json_array_size(json_object_get(sitter, "keypoints")), 17);
    assert_int_equal(json_array_size(json_object_get(sitter, "top")), 3);
    assert_true(json_real_value(json_array_get(json_object_get(walker, "box"), 0)) <
                json_real_value(json_array_get(json_object_get(sitter, "box"), 0)));
    char *first_seen_7 = strdup(json_string_value(json_object_get(sitter, "first_seen")));
    assert_non_null(json_string_value(json_object_get(sitter, "since")));
    json_decref(people);

    /* The activity is the summary: two in view, the most confident one's label. */
    json_t *act = td_get_json(d.port, "/v1/streams/duo/activity", 200);
    assert_int_equal(json_integer_value(json_object_get(act, "people")), 2);
    assert_int_equal(json_array_size(json_object_get(act, "tracks")), 2);
    assert_true(json_is_true(json_object_get(act, "person")));
    json_int_t summary = json_integer_value(json_object_get(act, "person_id"));
    assert_string_equal(label_of(act), summary == 1 ? "Walk" : "Sitdown");
    json_decref(act);
    /* History intervals carry the person. */
    json_t *hist = td_get_json(d.port, "/v1/streams/duo/history", 200);
    json_t *intervals = json_object_get(hist, "intervals");
    json_t *last = json_array_get(intervals, json_array_size(intervals) - 1);
    assert_int_equal(json_integer_value(json_object_get(last, "person")), summary);
    json_decref(hist);

    /* The cap: one listed, the other counted in the stream and /metrics. */
    td_wait_segments(d.port, "solo", 3);
    people = td_get_json(d.port, "/v1/streams/solo/people", 200);
    assert_int_equal(json_array_size(json_object_get(people, "people")), 1);
    assert_non_null(person_in(people, 1));
    assert_true(json_integer_value(json_object_get(people, "dropped")) > 0);
    json_decref(people);
    json_t *j = td_get_json(d.port, "/v1/streams/solo", 200);
    assert_true(json_integer_value(json_object_get(json_object_get(j, "people"), "dropped")) > 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "people"), "max")), 6);
    json_decref(j);
    struct td_response m;
    td_http(d.port, "GET", "/metrics", AUTH, NULL, &m);
    assert_non_null(strstr(m.body, "crtd_stream_people{stream=\"duo\"} 2"));
    assert_non_null(strstr(m.body, "crtd_stream_people_dropped_total{stream=\"solo\"}"));
    assert_null(strstr(m.body, "crtd_stream_people_dropped_total{stream=\"solo\"} 0\n"));
    td_response_done(&m);

    /* A restart brings both back under their ids, first seen as before. */
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_start(&d, (const char *const[]){"--token-file", tokenarg, NULL});
    td_wait_segments(d.port, "duo", 1);
    people = td_get_json(d.port, "/v1/streams/duo/people", 200);
    sitter = person_in(people, 7);
    assert_non_null(sitter);
    assert_non_null(person_in(people, 1));
    assert_string_equal(json_string_value(json_object_get(sitter, "first_seen")), first_seen_7);
    json_decref(people);
    free(first_seen_7);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

static void check_database(const char *state_dir)
{
    char path[200];
    sqlite3 *db = NULL;
    sqlite3_stmt *st;
    snprintf(path, sizeof(path), "%s/crtd.db", state_dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    /* Consistent: intervals never end before they start, at most one open per
     * stream, every memory blob is a per-track container ("CRTP"). */
    static const char *const zero[] = {
        "SELECT count(*) FROM history WHERE end < start",
        "SELECT count(*) FROM (SELECT stream FROM history WHERE open = 1 GROUP BY stream "
        "HAVING count(*) > 1)",
        "SELECT count(*) FROM memory WHERE hex(substr(state, 1, 4)) != '43525450'",
    };
    for (size_t i = 0; i < ARRAY_SIZE(zero); i++) {
        assert_int_equal(sqlite3_prepare_v2(db, zero[i], -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        if (sqlite3_column_int(st, 0) != 0)
            fail_msg("%s: %d", zero[i], sqlite3_column_int(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

static void kill_9_never_corrupts_the_state(void **state)
{
    struct td_crtd d;
    char tokenarg[160], config[160];
    td_tmp_dir(&d);
    snprintf(tokenarg, sizeof(tokenarg), "%s/token", d.dir);
    snprintf(config, sizeof(config), "%s/crtd.conf", d.dir);
    /* Write as often as possible: a checkpoint and a history switch per segment. */
    td_write_file(config, "[daemon]\nhysteresis_s = 0\ncheckpoint_segments = 1\n", 0644);
    td_start(&d, (const char *const[]){"--token-file", tokenarg, NULL});
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        td_add_stream(d.port, name, "synthetic:script=Walk,Sitdown,none&segment_ms=5");
    }
    long long before = 0;
    for (int round = 0; round < 6; round++) {
        td_wait_segments(d.port, "s0", 3);
        long long seen = 0;
        json_t *j = td_get_json(d.port, "/v1/streams/s0", 200);
        seen = json_integer_value(json_object_get(json_object_get(j, "memory"), "segments"));
        json_decref(j);
        /* Varying moments within the writing. */
        td_sleep_ms(7 * round);
        td_stop(&d, SIGKILL);
        check_database(d.state);
        td_start(&d, (const char *const[]){"--token-file", tokenarg, NULL});
        /* All four streams are back, and memory never went backwards past a checkpoint. */
        json_t *list = td_get_json(d.port, "/v1/streams", 200);
        assert_int_equal(json_array_size(json_object_get(list, "streams")), 4);
        json_decref(list);
        td_wait_segments(d.port, "s0", 1);
        j = td_get_json(d.port, "/v1/streams/s0", 200);
        long long now =
            json_integer_value(json_object_get(json_object_get(j, "memory"), "segments"));
        json_decref(j);
        assert_true(now >= seen - 1);
        assert_true(now >= before);
        before = now;
    }
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    check_database(d.state);
    td_rm_dir(&d);
}

/* ---- systemd -------------------------------------------------------------- */

static void notify_ready_watchdog_stopping(void **state)
{
    struct td_crtd d;
    char sock_path[160], env_sock[200];
    td_tmp_dir(&d);
    snprintf(sock_path, sizeof(sock_path), "%s/notify", d.dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(strlen(sock_path) < sizeof(a.sun_path));
    memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    snprintf(env_sock, sizeof(env_sock), "NOTIFY_SOCKET=%s", sock_path);
    const char *const env[] = {env_sock, "WATCHDOG_USEC=200000", NULL};
    td_start_env(&d, env, -1,
                 (const char *const[]){"--listen", "127.0.0.1:0", "--stream",
                                       "a=synthetic:script=Walk&segment_ms=50", NULL});

    int ready = 0, watchdog = 0, stopping = 0;
    bool status = false;
    for (int i = 0; i < 200 && (watchdog < 3 || !ready); i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) != 1)
            continue;
        char msg[512];
        ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
        if (n <= 0)
            continue;
        msg[n] = '\0';
        if (strstr(msg, "READY=1")) {
            assert_int_equal(watchdog, 0); /* READY comes first */
            ready++;
        }
        if (strstr(msg, "STATUS="))
            status = true;
        if (strstr(msg, "WATCHDOG=1"))
            watchdog++;
    }
    assert_int_equal(ready, 1);
    assert_true(status);
    assert_true(watchdog >= 3);
    kill(d.proc.pid, SIGTERM);
    for (int i = 0; i < 200 && !stopping; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) != 1)
            continue;
        char msg[512];
        ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
        if (n > 0) {
            msg[n] = '\0';
            if (strstr(msg, "STOPPING=1"))
                stopping = 1;
        }
    }
    assert_int_equal(stopping, 1);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    close(fd);
    td_rm_dir(&d);
}

static void socket_activation(void **state)
{
    struct td_crtd d;
    struct td_response r;
    td_tmp_dir(&d);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    unsigned port = ntohs(a.sin_port);
    /* crtd gets the socket as fd 3 and no --listen. */
    td_start_env(&d, NULL, fd, NULL);
    close(fd);
    td_wait_port(&d);
    assert_int_equal(d.port, port);
    td_http(port, "GET", "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    td_response_done(&r);
    char *log = td_read_file(d.log);
    assert_non_null(strstr(log, "socket passed by systemd"));
    free(log);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

static void sighup_reloads_streams(void **state)
{
    struct td_crtd d;
    char config[160];
    td_tmp_dir(&d);
    snprintf(config, sizeof(config), "%s/crtd.conf", d.dir);
    td_write_file(config,
                  "[stream \"keep\"]\nurl = synthetic:script=Walk&segment_ms=30\n"
                  "[stream \"change\"]\nurl = synthetic:script=Walk&segment_ms=30\n"
                  "[stream \"drop\"]\nurl = synthetic:script=Walk&segment_ms=30\n",
                  0644);
    td_start(&d, NULL);
    td_wait_segments(d.port, "keep", 4);
    td_wait_segments(d.port, "change", 4);
    td_write_file(config,
                  "[stream \"keep\"]\nurl = synthetic:script=Walk&segment_ms=30\n"
                  "[stream \"change\"]\nurl = synthetic:script=Sitdown&segment_ms=30\n"
                  "[stream \"new\"]\nurl = synthetic:script=Walk&segment_ms=30\n",
                  0644);
    long long keep_before = td_stream_int(d.port, "keep", "segments");
    kill(d.proc.pid, SIGHUP);
    bool reloaded = false;
    for (int i = 0; i < 600 && !reloaded; i++) {
        struct td_response r;
        td_http(d.port, "GET", "/v1/streams/drop", NULL, NULL, &r);
        reloaded = r.status == 404;
        td_response_done(&r);
        if (!reloaded)
            td_sleep_ms(25);
    }
    assert_true(reloaded);
    /* Removals come first, then additions: wait for the new one to exist. */
    bool added = false;
    for (int i = 0; i < 600 && !added; i++) {
        struct td_response r;
        td_http(d.port, "GET", "/v1/streams/new", NULL, NULL, &r);
        added = r.status == 200;
        td_response_done(&r);
        if (!added)
            td_sleep_ms(25);
    }
    assert_true(added);
    td_wait_segments(d.port, "new", 1);
    /* keep kept running (its counters did not start again); change restarted. */
    assert_true(td_stream_int(d.port, "keep", "segments") >= keep_before);
    td_wait_segments(d.port, "change", 1);
    json_t *act = NULL;
    for (int i = 0; i < 600; i++) {
        act = td_get_json(d.port, "/v1/streams/change/activity", 200);
        const char *label = json_string_value(json_object_get(act, "label"));
        if (label && strcmp(label, "Sitdown") == 0)
            break;
        json_decref(act);
        act = NULL;
        td_sleep_ms(25);
    }
    assert_non_null(act);
    json_decref(act);
    /* A broken file on reload keeps the running configuration. */
    td_write_file(config, "[stream \"keep\"]\nurl = \nbogus\n", 0644);
    kill(d.proc.pid, SIGHUP);
    td_sleep_ms(200);
    td_wait_segments(d.port, "keep", keep_before + 2);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    char *log = td_read_file(d.log);
    assert_non_null(strstr(log, "keeping the running configuration"));
    free(log);
    td_rm_dir(&d);
}

/* After each test: a daemon a failed test left running is killed. */
static int kill_leftover(void **state)
{
    if (tl_proc_wait(&td_live, 0, NULL) == -ETIMEDOUT)
        tl_proc_kill(&td_live);
    td_live = (struct tl_proc){.out_fd = -1};
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_daemon PATH_TO_CRTD\n");
        return 2;
    }
    td_crtd_path = argv[1];
    td_example_conf = argc > 2 ? argv[2] : NULL;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(cli_help_errors_and_check_config, kill_leftover),
        cmocka_unit_test_teardown(every_endpoint_and_its_errors, kill_leftover),
        cmocka_unit_test_teardown(without_a_token_changes_are_refused, kill_leftover),
        cmocka_unit_test_teardown(events_in_order_and_replay, kill_leftover),
        cmocka_unit_test_teardown(sse_clients_are_limited, kill_leftover),
        cmocka_unit_test_teardown(a_killed_stream_reconnects_and_the_other_keeps_going,
                                  kill_leftover),
        cmocka_unit_test_teardown(a_restart_resumes_memory_and_history, kill_leftover),
        cmocka_unit_test_teardown(two_people_each_with_their_own_activity, kill_leftover),
        cmocka_unit_test_teardown(kill_9_never_corrupts_the_state, kill_leftover),
        cmocka_unit_test_teardown(notify_ready_watchdog_stopping, kill_leftover),
        cmocka_unit_test_teardown(socket_activation, kill_leftover),
        cmocka_unit_test_teardown(sighup_reloads_streams, kill_leftover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
