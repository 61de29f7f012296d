/* Integration tests of the pose archive and labels in crtd (docs/SERVICE.md,
 * "The pose archive", "Labels"), over the real binary on 127.0.0.1 with the
 * scripted synthetic: source, SQLite and archive files on disk and the
 * tests' HTTP client; then `crt export-labels` on the state directory and
 * `crt train` on what it wrote. Loops are bounded; nothing asserts on time.
 * Usage: test_daemon_labels PATH_TO_CRTD PATH_TO_CRT */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon_harness.h"
#include "tl_proc.h"

static const char *crt_path;

static const char config[] = "[daemon]\nhysteresis_s = 0\n"
                             "[stream \"hall\"]\n"
                             "url = synthetic:script=Walk&person=2:Sitdown&segment_ms=50\n"
                             "[stream \"quiet\"]\n"
                             "url = synthetic:script=Walk&segment_ms=50\n"
                             "archive = no\n";

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec * 1e-6;
}

static void start(struct td_crtd *d)
{
    char path[160], token[160];
    snprintf(path, sizeof(path), "%s/crtd.conf", d->dir);
    snprintf(token, sizeof(token), "%s/token", d->dir);
    if (access(path, F_OK) < 0)
        td_write_file(path, config, 0644);
    td_start(d, (const char *const[]){"--token-file", token, NULL});
    td_wait_segments(d->port, "hall", 4);
}

/* POSTs a label and returns its status; the created label in *ret_json. */
static int post_label(unsigned port, const char *headers, const char *body, json_t **ret_json)
{
    struct td_response r;
    td_http(port, "POST", "/v1/labels", headers, body, &r);
    int status = r.status;
    if (status != 201 && ret_json == NULL && status >= 500)
        fail_msg("POST /v1/labels: %d %s", status, r.body);
    if (ret_json)
        *ret_json = json_incref(r.json);
    td_response_done(&r);
    return status;
}

static json_t *label_ok(unsigned port, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *label_ok(unsigned port, const char *fmt, ...)
{
    char body[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    json_t *j = NULL;
    struct td_response r;
    td_http(port, "POST", "/v1/labels", AUTH, body, &r);
    if (r.status != 201)
        fail_msg("POST /v1/labels %s: %d %s", body, r.status, r.body);
    assert_non_null(strstr(r.head, "Location: /v1/labels/"));
    j = json_incref(r.json);
    td_response_done(&r);
    return j;
}

static long long jint(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool has_track(json_t *label, json_int_t id)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(label, "tracks"), i,
                       v) if (json_integer_value(v) == id) return true;
    return false;
}

/* The archive outlives a stop, a restart and a kill -9; labels outlive them
 * too, with the keypoints they were given. */
static void archive_and_labels_survive_restarts(void **state)
{
    struct td_crtd d;
    td_tmp_dir(&d);
    start(&d);
    double t0 = now_s();
    td_wait_segments(d.port, "hall", 40);
    double t1 = now_s();
    json_t *s = td_get_json(d.port, "/v1/streams/hall", 200);
    assert_true(json_is_true(json_object_get(json_object_get(s, "archive"), "on")));
    json_decref(s);
    s = td_get_json(d.port, "/v1/streams/quiet", 200);
    assert_true(json_is_false(json_object_get(json_object_get(s, "archive"), "on")));
    json_decref(s);
    assert_int_equal(td_stop(&d, SIGTERM), 0);

    /* The first run's keypoints are there after a restart. */
    start(&d);
    json_t *a = label_ok(d.port,
                         "{\"stream\": \"hall\", \"start\": %.3f, \"end\": %.3f, "
                         "\"class\": \"Walk\"}",
                         t0, t1);
    long long frames_a = jint(a, "frames");
    assert_true(frames_a > 0);
    assert_true(has_track(a, 1) && has_track(a, 2));
    assert_true(json_is_null(json_object_get(a, "track")));
    assert_false(json_is_true(json_object_get(a, "new_class")));

    /* What this run archived until a label made it write its buffer
     * survives a kill -9. */
    double t2 = now_s();
    td_wait_segments(d.port, "hall", td_stream_int(d.port, "hall", "segments") + 40);
    double t3 = now_s();
    json_t *b = label_ok(d.port,
                         "{\"stream\": \"hall\", \"track\": 2, \"start\": %.3f, \"end\": %.3f, "
                         "\"class\": \"Sitdown\", \"not\": true}",
                         t2, t3 - 0.3);
    assert_int_equal(jint(b, "track"), 2);
    assert_true(json_is_true(json_object_get(b, "not")));
    assert_true(has_track(b, 2) && !has_track(b, 1));
    td_wait_segments(d.port, "hall", td_stream_int(d.port, "hall", "segments") + 4);
    td_stop(&d, SIGKILL);

    start(&d);
    /* The end of that stretch, on the other track: archived before the
     * kill. */
    json_t *c = label_ok(d.port,
                         "{\"stream\": \"hall\", \"track\": 1, \"start\": %.3f, \"end\": %.3f, "
                         "\"class\": \"Feeds the cat\"}",
                         t2, t3 - 0.3);
    assert_true(jint(c, "frames") > 0);
    assert_true(json_is_true(json_object_get(c, "new_class")));
    /* The labels are kept as they were given. */
    char path[64];
    snprintf(path, sizeof(path), "/v1/labels/%lld", jint(a, "id"));
    json_t *again = td_get_json(d.port, path, 200);
    assert_int_equal(jint(again, "frames"), frames_a);
    assert_string_equal(jstr(again, "class"), "Walk");
    json_decref(again);
    json_t *list = td_get_json(d.port, "/v1/labels", 200);
    assert_int_equal(json_array_size(json_object_get(list, "labels")), 3);
    json_decref(list);
    assert_int_equal(td_stop(&d, SIGTERM), 0);

    /* crt export-labels on the state directory, then crt train on it. */
    char cmd[1024], out[160], model[160], log[160];
    snprintf(out, sizeof(out), "%s/export", d.dir);
    snprintf(model, sizeof(model), "%s/model.safetensors", d.dir);
    snprintf(log, sizeof(log), "%s/crt.log", d.dir);
    snprintf(cmd, sizeof(cmd), "'%s' export-labels --state '%s' --out '%s' > '%s' 2>&1", crt_path,
             d.state, out, log);
    if (system(cmd) != 0)
        fail_msg("%s: %s", cmd, td_read_file(log));
    char *text = td_read_file(log);
    printf("export-labels: %s", text);
    assert_non_null(strstr(text, "3 labels, 2 classes"));
    free(text);
    /* Label a: one file per track; c: one; b ("not this") under not/. */
    char file[256];
    snprintf(file, sizeof(file), "%s/label-%06lld-track-1.pose", out, jint(a, "id"));
    assert_int_equal(access(file, F_OK), 0);
    snprintf(file, sizeof(file), "%s/label-%06lld-track-2.pose", out, jint(a, "id"));
    assert_int_equal(access(file, F_OK), 0);
    snprintf(file, sizeof(file), "%s/not/label-%06lld-track-2.pose", out, jint(b, "id"));
    assert_int_equal(access(file, F_OK), 0);

    snprintf(cmd, sizeof(cmd),
             "'%s' train --data '%s' --val '%s' --out '%s' --epochs 1 --batch 2 --d 16 "
             "--layers 1 --heads 2 --threads 1 > '%s' 2>&1",
             crt_path, out, out, model, log);
    if (system(cmd) != 0)
        fail_msg("%s: %s", cmd, td_read_file(log));
    text = td_read_file(log);
    assert_non_null(strstr(text, "loaded 3 clips"));
    assert_non_null(strstr(text, "(0 skipped)"));
    free(text);
    assert_int_equal(access(model, F_OK), 0);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    td_rm_dir(&d);
}

static void labels_api_and_bad_input(void **state)
{
    struct td_crtd d;
    td_tmp_dir(&d);
    start(&d);
    double t0 = now_s();
    td_wait_segments(d.port, "hall", td_stream_int(d.port, "hall", "segments") + 20);
    double t1 = now_s();
    char body[512];

    /* Changes need the token. */
    snprintf(body, sizeof(body),
             "{\"stream\": \"hall\", \"start\": %.3f, \"end\": %.3f, \"class\": \"Walk\"}", t0, t1);
    td_expect_error(d.port, "POST", "/v1/labels", NULL, body, 401, "unauthorized");
    /* An unknown stream. */
    td_expect_error(d.port, "POST", "/v1/labels", AUTH,
                    "{\"stream\": \"nope\", \"start\": 1, \"end\": 2, \"class\": \"Walk\"}", 404,
                    "not_found");
    /* A stretch with no archived keypoints: long ago, and on a stream that
     * keeps no archive. */
    snprintf(body, sizeof(body),
             "{\"stream\": \"hall\", \"start\": %.3f, \"end\": %.3f, \"class\": \"Walk\"}",
             t0 - 7200, t0 - 3600);
    td_expect_error(d.port, "POST", "/v1/labels", AUTH, body, 422, "unprocessable");
    snprintf(body, sizeof(body),
             "{\"stream\": \"quiet\", \"start\": %.3f, \"end\": %.3f, \"class\": \"Walk\"}", t0,
             t1);
    json_t *j = NULL;
    assert_int_equal(post_label(d.port, AUTH, body, &j), 422);
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(j, "error"), "message")), "archive"));
    json_decref(j);
    /* A track that was not there. */
    snprintf(body, sizeof(body),
             "{\"stream\": \"hall\", \"track\": 99, \"start\": %.3f, \"end\": %.3f, "
             "\"class\": \"Walk\"}",
             t0, t1);
    td_expect_error(d.port, "POST", "/v1/labels", AUTH, body, 422, "unprocessable");
    /* Malformed bodies. */
    const char *bad[] = {
        "not json",
        "[]",
        "{\"stream\": \"hall\", \"start\": 10, \"end\": 5, \"class\": \"Walk\"}",
        "{\"stream\": \"hall\", \"start\": 10, \"end\": 20}",
        "{\"stream\": \"hall\", \"start\": 10, \"end\": 20, \"class\": \"\"}",
        "{\"stream\": \"hall\", \"start\": 10, \"end\": 20, \"class\": \"a\\u0001b\"}",
        "{\"stream\": \"hall\", \"start\": 10, \"end\": 20, \"class\": \"Walk\", \"x\": 1}",
        "{\"stream\": \"hall\", \"start\": 10, \"end\": 20, \"class\": \"Walk\", \"not\": 1}",
        "{\"stream\": \"hall\", \"track\": -3, \"start\": 10, \"end\": 20, \"class\": \"W\"}",
        "{\"stream\": \"hall\", \"start\": \"yesterday\", \"end\": 20, \"class\": \"W\"}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct td_response r;
        td_http(d.port, "POST", "/v1/labels", AUTH, bad[i], &r);
        if (r.status != 400)
            fail_msg("POST %s: %d, expected 400: %s", bad[i], r.status, r.body);
        td_response_done(&r);
    }

    /* A good one; RFC 3339 times work as numbers do. */
    double mid = (t0 + t1) / 2;
    json_t *a = label_ok(d.port,
                         "{\"stream\": \"hall\", \"track\": 1, \"start\": %.3f, \"end\": %.3f, "
                         "\"class\": \"Walk\", \"note\": \"in the hall\"}",
                         t0, mid);
    long long id = jint(a, "id");
    assert_string_equal(jstr(a, "note"), "in the hall");
    /* Overlapping it on the same track, or on the whole camera: refused,
     * naming it. Another track: fine. */
    snprintf(body, sizeof(body),
             "{\"stream\": \"hall\", \"track\": 1, \"start\": %.3f, \"end\": %.3f, "
             "\"class\": \"Sitdown\"}",
             mid - 0.1, t1);
    assert_int_equal(post_label(d.port, AUTH, body, &j), 409);
    char named[32];
    snprintf(named, sizeof(named), "label %lld", id);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")), named));
    json_decref(j);
    snprintf(body, sizeof(body),
             "{\"stream\": \"hall\", \"start\": %.3f, \"end\": %.3f, \"class\": \"Sitdown\"}",
             mid - 0.1, t1);
    td_expect_error(d.port, "POST", "/v1/labels", AUTH, body, 409, "already_exists");
    json_t *other = label_ok(d.port,
                             "{\"stream\": \"hall\", \"track\": 2, \"start\": %.3f, \"end\": "
                             "%.3f, \"class\": \"Sitdown\"}",
                             t0, t1);
    /* Touching ends do not overlap. */
    json_t *next = label_ok(d.port,
                            "{\"stream\": \"hall\", \"track\": 1, \"start\": %.3f, \"end\": "
                            "%.3f, \"class\": \"Sitdown\"}",
                            mid, t1);

    /* The list and its filters. */
    json_t *list = td_get_json(d.port, "/v1/labels?stream=hall&track=1", 200);
    assert_int_equal(json_array_size(json_object_get(list, "labels")), 2);
    json_decref(list);
    list = td_get_json(d.port, "/v1/labels?class=Sitdown", 200);
    assert_int_equal(json_array_size(json_object_get(list, "labels")), 2);
    json_decref(list);
    list = td_get_json(d.port, "/v1/labels?stream=quiet", 200);
    assert_int_equal(json_array_size(json_object_get(list, "labels")), 0);
    json_decref(list);
    td_expect_error(d.port, "GET", "/v1/labels?track=x", AUTH, NULL, 400, "invalid_argument");
    td_expect_error(d.port, "GET", "/v1/labels?since=20&until=10", AUTH, NULL, 400,
                    "invalid_argument");

    /* Edit: a new class name; a stretch moved to where nothing is archived
     * is refused and the label stays as it was. */
    char path[64];
    snprintf(path, sizeof(path), "/v1/labels/%lld", id);
    struct td_response r;
    td_http(d.port, "PUT", path, AUTH, "{\"class\": \"Waters the plants\"}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "class"), "Waters the plants");
    assert_true(json_is_true(json_object_get(r.json, "new_class")));
    assert_int_equal(jint(r.json, "frames"), jint(a, "frames"));
    td_response_done(&r);
    snprintf(body, sizeof(body), "{\"start\": %.3f, \"end\": %.3f}", t0 - 7200, t0 - 3600);
    td_expect_error(d.port, "PUT", path, AUTH, body, 422, "unprocessable");
    td_expect_error(d.port, "PUT", path, AUTH, "{\"stream\": \"quiet\"}", 400, "invalid_argument");
    td_expect_error(d.port, "PUT", path, NULL, "{\"class\": \"Walk\"}", 401, "unauthorized");
    json_t *got = td_get_json(d.port, path, 200);
    assert_string_equal(jstr(got, "class"), "Waters the plants");
    assert_string_equal(jstr(got, "start"), jstr(a, "start"));
    json_decref(got);

    /* Delete. */
    td_expect_error(d.port, "DELETE", path, NULL, NULL, 401, "unauthorized");
    td_http(d.port, "DELETE", path, AUTH, NULL, &r);
    assert_int_equal(r.status, 204);
    td_response_done(&r);
    td_expect_error(d.port, "GET", path, AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "DELETE", path, AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "GET", "/v1/labels/abc", AUTH, NULL, 404, "not_found");
    json_decref(a);
    json_decref(other);
    json_decref(next);

    /* A stream removed through the API takes its archive along; its labels
     * stay, with their keypoints. */
    td_add_stream(d.port, "porch", "synthetic:script=Walk&segment_ms=50");
    double p0 = now_s();
    td_wait_segments(d.port, "porch", 20);
    json_t *porch = label_ok(d.port,
                             "{\"stream\": \"porch\", \"start\": %.3f, \"end\": %.3f, "
                             "\"class\": \"Walk\"}",
                             p0, now_s());
    char archive_dir[200];
    snprintf(archive_dir, sizeof(archive_dir), "%s/archive/porch", d.state);
    assert_int_equal(access(archive_dir, F_OK), 0);
    td_http(d.port, "DELETE", "/v1/streams/porch", AUTH, NULL, &r);
    assert_int_equal(r.status, 204);
    td_response_done(&r);
    assert_int_equal(access(archive_dir, F_OK), -1);
    snprintf(path, sizeof(path), "/v1/labels/%lld", jint(porch, "id"));
    got = td_get_json(d.port, path, 200);
    assert_int_equal(jint(got, "frames"), jint(porch, "frames"));
    json_decref(got);
    json_decref(porch);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

static int kill_leftover(void **state)
{
    if (tl_proc_wait(&td_live, 0, NULL) == -ETIMEDOUT)
        tl_proc_kill(&td_live);
    td_live = (struct tl_proc){.out_fd = -1};
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_daemon_labels PATH_TO_CRTD PATH_TO_CRT\n");
        return 2;
    }
    td_crtd_path = argv[1];
    crt_path = argv[2];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(archive_and_labels_survive_restarts, kill_leftover),
        cmocka_unit_test_teardown(labels_api_and_bad_input, kill_leftover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
