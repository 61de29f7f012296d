/* Integration tests of the fine-tune on the box (docs/SERVICE.md,
 * "Fine-tuning") over the real crtd on 127.0.0.1 with the project's model,
 * the scripted synthetic: source, SQLite and model files on disk and the
 * tests' HTTP client: the API's bad input (409, 422, 400), a cancel that
 * leaves the serving model as it was, and an accepted fine-tune that serves
 * the next generation, survives a restart and rolls back. Loops are
 * bounded; nothing asserts on time.
 * Usage: test_daemon_finetune PATH_TO_CRTD PATH_TO_MODEL */
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
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon_harness.h"
#include "tl_proc.h"

static const char *model_path;

static const char config[] = "[daemon]\nhysteresis_s = 0\n"
                             "[stream \"hall\"]\n"
                             "url = synthetic:script=Walk&person=2:Sitdown&segment_ms=50\n";

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
    td_start(d, (const char *const[]){"--token-file", token, "--model", model_path, NULL});
    td_wait_segments(d->port, "hall", 4);
}

static long long jint(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* POSTs a label of track on [start, end] and fails the test unless 201. */
static void label(unsigned port, int track, double start, double end, const char *class_name)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"stream\": \"hall\", \"track\": %d, \"start\": %.3f, \"end\": %.3f, "
             "\"class\": \"%s\"}",
             track, start, end, class_name);
    struct td_response r;
    td_http(port, "POST", "/v1/labels", AUTH, body, &r);
    if (r.status != 201)
        fail_msg("POST /v1/labels %s: %d %s", body, r.status, r.body);
    td_response_done(&r);
}

/* n stretches of 2.5 s per track, one class per track, from the archive
 * of the next n * 3 s (waited for); returns when the first starts. */
static double label_stretches(struct td_crtd *d, int n, const char *class1, const char *class2)
{
    double t0 = now_s();
    /* The stream keeps going meanwhile (each wait is bounded). */
    while (now_s() < t0 + 3.0 * n + 0.5)
        td_wait_segments(d->port, "hall", td_stream_int(d->port, "hall", "segments") + 4);
    for (int i = 0; i < n; i++) {
        double s = t0 + 3.0 * i;
        label(d->port, 1, s, s + 2.5, class1);
        if (class2)
            label(d->port, 2, s, s + 2.5, class2);
    }
    return t0;
}

static json_t *model_card(unsigned port)
{
    return td_get_json(port, "/v1/model", 200);
}

/* Polls GET /v1/model/finetune (bounded) until the job is no longer
 * running; returns it. */
static json_t *wait_job(unsigned port)
{
    for (int i = 0; i < 1200; i++) {
        json_t *j = td_get_json(port, "/v1/model/finetune", 200);
        if (strcmp(jstr(j, "state"), "running") != 0)
            return j;
        json_decref(j);
        td_sleep_ms(100);
    }
    fail_msg("the fine-tune did not end");
    return NULL;
}

static int start_job(unsigned port, const char *body, json_t **ret_json)
{
    struct td_response r;
    td_http(port, "POST", "/v1/model/finetune", AUTH, body, &r);
    int status = r.status;
    if (ret_json)
        *ret_json = json_incref(r.json);
    if (status == 202)
        assert_non_null(strstr(r.head, "Location: /v1/model/finetune"));
    td_response_done(&r);
    return status;
}

static bool file_exists(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* What the API refuses, and why, before any job starts. */
static void bad_input(void **state)
{
    struct td_crtd d;
    td_tmp_dir(&d);
    start(&d);
    json_t *job = td_get_json(d.port, "/v1/model/finetune", 200);
    assert_string_equal(jstr(job, "state"), "idle");
    json_decref(job);
    td_expect_error(d.port, "POST", "/v1/model/finetune", "", "{}", 401, "unauthorized");
    td_expect_error(d.port, "POST", "/v1/model/finetune", AUTH, "{\"epochs\": 0}", 400,
                    "invalid_argument");
    td_expect_error(d.port, "POST", "/v1/model/finetune", AUTH, "{\"epoch\": 3}", 400,
                    "invalid_argument");
    td_expect_error(d.port, "POST", "/v1/model/finetune", AUTH, "[1", 400, "bad_request");
    /* No labels yet. */
    struct td_response r;
    td_http(d.port, "POST", "/v1/model/finetune", AUTH, "", &r);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "no labels"));
    td_response_done(&r);
    /* Two stretches of one class, one of another: the message names each
     * short class and the number needed. */
    double t0 = label_stretches(&d, 2, "Walk", NULL);
    label(d.port, 2, t0 + 3, t0 + 5.5, "Feeds the cat");
    td_http(d.port, "POST", "/v1/model/finetune", AUTH, "{\"min_labels\": 3}", &r);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "'Walk' has 2"));
    assert_non_null(strstr(r.body, "'Feeds the cat' has 1"));
    assert_non_null(strstr(r.body, "at least 3"));
    td_response_done(&r);
    /* Nothing runs: nothing to cancel, nothing to roll back to. */
    td_expect_error(d.port, "DELETE", "/v1/model/finetune", AUTH, NULL, 409, "conflict");
    td_expect_error(d.port, "POST", "/v1/model/finetune/cancel", AUTH, NULL, 409, "conflict");
    td_http(d.port, "POST", "/v1/model/rollback", AUTH, NULL, &r);
    assert_int_equal(r.status, 409);
    assert_non_null(strstr(r.body, "nothing to roll back to"));
    td_response_done(&r);
    job = td_get_json(d.port, "/v1/model/finetune", 200);
    assert_string_equal(jstr(job, "state"), "idle");
    json_decref(job);
    assert_false(file_exists(d.state, "models"));
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

/* A second start while one runs is 409; a cancel ends it as cancelled and
 * the serving model is the one before, file and classes. */
static void cancel_leaves_the_model(void **state)
{
    struct td_crtd d;
    td_tmp_dir(&d);
    start(&d);
    label_stretches(&d, 3, "Walk", "Feeds the cat");
    json_t *before = model_card(d.port);
    /* Long enough to be running when the cancel comes. */
    json_t *job = NULL;
    assert_int_equal(start_job(d.port, "{\"min_labels\": 2, \"epochs\": 200}", &job), 202);
    assert_string_equal(jstr(job, "state"), "running");
    json_decref(job);
    struct td_response r;
    td_http(d.port, "POST", "/v1/model/finetune", AUTH, "{\"min_labels\": 2}", &r);
    assert_int_equal(r.status, 409);
    assert_non_null(strstr(r.body, "is running"));
    td_response_done(&r);
    td_expect_error(d.port, "POST", "/v1/model/rollback", AUTH, NULL, 409, "conflict");
    td_http(d.port, "DELETE", "/v1/model/finetune", AUTH, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "cancelling")));
    td_response_done(&r);
    job = wait_job(d.port);
    assert_string_equal(jstr(job, "state"), "cancelled");
    assert_true(json_is_null(json_object_get(job, "generation")));
    json_decref(job);
    json_t *after = model_card(d.port);
    assert_string_equal(jstr(after, "file"), jstr(before, "file"));
    assert_true(json_equal(json_object_get(after, "classes"), json_object_get(before, "classes")));
    assert_int_equal(jint(after, "generation"), 0);
    assert_true(json_is_null(json_object_get(after, "finetune")));
    json_decref(before);
    json_decref(after);
    assert_false(file_exists(d.state, "models/1.safetensors"));
    assert_false(file_exists(d.state, "finetune"));
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

/* An accepted fine-tune serves generation 1 (a new class grown), which a
 * restart keeps; a roll-back serves generation 0 again, and so does the
 * next restart. */
static void accepted_serves_survives_and_rolls_back(void **state)
{
    struct td_crtd d;
    td_tmp_dir(&d);
    start(&d);
    /* The scripted source draws one stick figure for every class: one new
     * class of it is what a fine-tune can learn. The flow is under test, not
     * the model's quality (crt bench finetune): the replay may fall 3 points
     * on this tiny run. */
    label_stretches(&d, 5, "Feeds the cat", "Feeds the cat");
    json_t *before = model_card(d.port);
    assert_int_equal(
        start_job(d.port,
                  "{\"epochs\": 12, \"replay_clips\": 128, \"lr\": 0.001, \"tolerance\": 0.03}",
                  NULL),
        202);
    json_t *job = wait_job(d.port);
    const char *verdict = jstr(job, "state");
    json_t *result = json_object_get(job, "result");
    char *text = json_dumps(result, JSON_COMPACT);
    printf("fine-tune: %s: %s\n", verdict, text);
    free(text);
    json_t *after = model_card(d.port);
    assert_string_equal(verdict, "succeeded");
    assert_true(json_is_true(json_object_get(result, "accepted")));
    assert_true(json_real_value(json_object_get(result, "held_out_after")) >
                json_real_value(json_object_get(result, "held_out_before")));
    assert_int_equal(jint(job, "generation"), 1);
    assert_float_equal(json_real_value(json_object_get(job, "fraction")), 1.0, 1e-9);
    json_decref(job);
    assert_int_equal(jint(after, "generation"), 1);
    assert_true(strstr(jstr(after, "file"), "/models/1.safetensors") != NULL);
    assert_int_equal(json_array_size(json_object_get(after, "classes")),
                     json_array_size(json_object_get(before, "classes")) + 1);
    json_t *ft = json_object_get(after, "finetune");
    assert_true(json_is_object(ft));
    assert_int_equal(
        jint(json_object_get(json_object_get(ft, "labels"), "Feeds the cat"), "labels"), 10);
    assert_true(json_is_true(json_object_get(json_object_get(ft, "validation"), "accepted")));
    json_decref(after);

    /* SIGHUP with the same configuration keeps the fine-tuned generation. */
    long long segments = td_stream_int(d.port, "hall", "segments");
    assert_int_equal(kill(d.proc.pid, SIGHUP), 0);
    td_wait_segments(d.port, "hall", segments + 8);
    after = model_card(d.port);
    assert_int_equal(jint(after, "generation"), 1);
    assert_true(strstr(jstr(after, "file"), "/models/1.safetensors") != NULL);
    json_decref(after);

    /* A restart serves the fine-tuned generation; the labels are there. */
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    start(&d);
    after = model_card(d.port);
    assert_int_equal(jint(after, "generation"), 1);
    json_t *want = json_pack("[i, i]", 0, 1);
    assert_true(json_equal(json_object_get(after, "generations"), want));
    json_decref(want);
    json_decref(after);
    json_t *labels = td_get_json(d.port, "/v1/labels", 200);
    assert_int_equal(json_array_size(json_object_get(labels, "labels")), 10);
    json_decref(labels);

    /* Roll back: the configured model again, its file kept on disk. */
    struct td_response r;
    td_http(d.port, "POST", "/v1/model/rollback", AUTH, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(jint(r.json, "generation"), 0);
    assert_string_equal(jstr(r.json, "file"), jstr(before, "file"));
    td_response_done(&r);
    assert_true(file_exists(d.state, "models/1.safetensors"));
    td_expect_error(d.port, "POST", "/v1/model/rollback", AUTH, NULL, 409, "conflict");
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    start(&d);
    after = model_card(d.port);
    assert_int_equal(jint(after, "generation"), 0);
    assert_true(json_is_null(json_object_get(after, "finetune")));
    json_decref(after);
    json_decref(before);
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
        fprintf(stderr, "usage: test_daemon_finetune PATH_TO_CRTD PATH_TO_MODEL\n");
        return 2;
    }
    td_crtd_path = argv[1];
    model_path = argv[2];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(bad_input, kill_leftover),
        cmocka_unit_test_teardown(cancel_leaves_the_model, kill_leftover),
        cmocka_unit_test_teardown(accepted_serves_survives_and_rolls_back, kill_leftover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
