/* Integration tests of "Safety at home" in crtd (docs/SAFETY.md): zones,
 * rules, alerts and their life cycle, over the real binary on 127.0.0.1 with
 * the scripted synthetic: source, SQLite on disk and the tests' HTTP and SSE
 * client. Loops are bounded; nothing asserts on time.
 * Usage: test_daemon_safety PATH_TO_CRTD */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon_harness.h"
#include "tl_proc.h"

static void start_with(struct td_crtd *d, const char *config)
{
    char path[160], token[160];
    snprintf(path, sizeof(path), "%s/crtd.conf", d->dir);
    snprintf(token, sizeof(token), "%s/token", d->dir);
    td_write_file(path, config, 0644);
    td_start(d, (const char *const[]){"--token-file", token, NULL});
}

static json_t *person_in(json_t *people, json_int_t id)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(people, "people"), i,
                       p) if (json_integer_value(json_object_get(p, "id")) == id) return p;
    return NULL;
}

static bool has_string(json_t *array, const char *text)
{
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v) if (strcmp(json_string_value(v), text) == 0) return true;
    return false;
}

static int request(unsigned port, const char *method, const char *path, const char *headers,
                   const char *body, json_t **ret_json)
{
    struct td_response r;
    td_http(port, method, path, headers, body, &r);
    int status = r.status;
    if (ret_json)
        *ret_json = json_incref(r.json);
    td_response_done(&r);
    return status;
}

/* ---- zones ---------------------------------------------------------------- */

#define TWO_PEOPLE "synthetic:script=Walk&person=7:Sitdown&segment_ms=40"

static void zones_from_the_config_and_the_api(void **state)
{
    struct td_crtd d;
    json_t *j;
    td_tmp_dir(&d);
    /* Person 1 stands at x 0.35, person 7 at x 0.65 (their hips). */
    start_with(&d, "[daemon]\nhysteresis_s = 0\n"
                   "[stream \"duo\"]\nurl = " TWO_PEOPLE "\n"
                   "zone.left = area 0,0 0.5,0 0.5,1 0,1\n"
                   "zone.all = floor 0,0 1,0 1,1 0,1\n");
    td_wait_segments(d.port, "duo", 4);

    /* Each person knows the zones it is in. */
    json_t *people = td_get_json(d.port, "/v1/streams/duo/people", 200);
    json_t *p1 = person_in(people, 1), *p7 = person_in(people, 7);
    assert_non_null(p1);
    assert_non_null(p7);
    assert_true(has_string(json_object_get(p1, "zones"), "left"));
    assert_true(has_string(json_object_get(p1, "zones"), "all"));
    assert_false(has_string(json_object_get(p7, "zones"), "left"));
    assert_true(has_string(json_object_get(p7, "zones"), "all"));
    json_decref(people);

    j = td_get_json(d.port, "/v1/streams/duo/zones", 200);
    assert_int_equal(json_array_size(json_object_get(j, "zones")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "zones"), 0), "origin")),
                        "config");
    json_decref(j);

    /* Changes need the token; configured zones are changed in the file. */
    const char *tv = "{\"kind\":\"exclude\",\"points\":[[0.55,0],[1,0],[1,1],[0.55,1]]}";
    td_expect_error(d.port, "PUT", "/v1/streams/duo/zones/tv", NULL, tv, 401, "unauthorized");
    td_expect_error(d.port, "PUT", "/v1/streams/duo/zones/left", AUTH, tv, 403, "forbidden");
    td_expect_error(d.port, "DELETE", "/v1/streams/duo/zones/left", AUTH, NULL, 403, "forbidden");
    td_expect_error(d.port, "PUT", "/v1/streams/duo/zones/x", AUTH,
                    "{\"kind\":\"bed\",\"points\":\"0.1,0.1 0.5,0.5 0.5,0.1 0.1,0.5\"}", 400,
                    "invalid_argument");
    td_expect_error(d.port, "PUT", "/v1/streams/duo/zones/x", AUTH,
                    "{\"kind\":\"bed\",\"points\":[[0.1,0.1],[0.2,0.2],[0.3,0.3]]}", 400,
                    "invalid_argument");
    td_expect_error(d.port, "PUT", "/v1/streams/duo/zones/x", AUTH,
                    "{\"kind\":\"sofa\",\"points\":\"0.1,0.1 0.5,0.1 0.1,0.5\"}", 400,
                    "invalid_argument");
    td_expect_error(d.port, "PUT", "/v1/streams/duo/zones/x", AUTH, "{\"kind\":", 400,
                    "bad_request");
    td_expect_error(d.port, "PUT", "/v1/streams/nope/zones/x", AUTH, tv, 404, "not_found");
    td_expect_error(d.port, "GET", "/v1/streams/duo/zones/nope", AUTH, NULL, 404, "not_found");

    /* An exclude zone over person 7: the skeleton is ignored. */
    assert_int_equal(request(d.port, "PUT", "/v1/streams/duo/zones/tv", AUTH, tv, &j), 201);
    assert_string_equal(json_string_value(json_object_get(j, "origin")), "api");
    json_decref(j);
    assert_int_equal(request(d.port, "PUT", "/v1/streams/duo/zones/tv", AUTH, tv, NULL), 200);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        people = td_get_json(d.port, "/v1/streams/duo/people", 200);
        gone = !person_in(people, 7) && person_in(people, 1) &&
               json_integer_value(json_object_get(people, "excluded")) > 0;
        json_decref(people);
        if (!gone)
            td_sleep_ms(50);
    }
    assert_true(gone);

    /* The API's zones survive a restart; deleted, the person is back. */
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    char token[160];
    snprintf(token, sizeof(token), "%s/token", d.dir);
    td_start(&d, (const char *const[]){"--token-file", token, NULL});
    j = td_get_json(d.port, "/v1/streams/duo/zones/tv", 200);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "exclude");
    json_decref(j);
    assert_int_equal(request(d.port, "DELETE", "/v1/streams/duo/zones/tv", AUTH, NULL, NULL), 204);
    td_expect_error(d.port, "DELETE", "/v1/streams/duo/zones/tv", AUTH, NULL, 404, "not_found");
    bool back = false;
    for (int i = 0; i < 100 && !back; i++) {
        people = td_get_json(d.port, "/v1/streams/duo/people", 200);
        back = person_in(people, 7) != NULL;
        json_decref(people);
        if (!back)
            td_sleep_ms(50);
    }
    assert_true(back);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

/* ---- alerts --------------------------------------------------------------- */

static void alerts_api_errors(void **state)
{
    struct td_crtd d;
    td_tmp_dir(&d);
    start_with(&d, "[stream \"a\"]\nurl = synthetic:script=Walk&segment_ms=40\n");
    json_t *j = td_get_json(d.port, "/v1/alerts", 200);
    assert_int_equal(json_array_size(json_object_get(j, "alerts")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "active")), 0);
    json_decref(j);
    td_expect_error(d.port, "GET", "/v1/alerts/42", AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "GET", "/v1/alerts/x", AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "POST", "/v1/alerts/42/ack", AUTH, NULL, 404, "not_found");
    td_expect_error(d.port, "POST", "/v1/alerts/42/ack", NULL, NULL, 401, "unauthorized");
    td_expect_error(d.port, "GET", "/v1/alerts?state=later", AUTH, NULL, 400, "invalid_argument");
    td_expect_error(d.port, "GET", "/v1/alerts?since=soon", AUTH, NULL, 400, "invalid_argument");
    td_expect_error(d.port, "GET", "/v1/alerts?limit=0", AUTH, NULL, 400, "invalid_argument");
    td_expect_error(d.port, "GET", "/v1/alerts/42/ack", AUTH, NULL, 405, "method_not_allowed");
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
    if (argc < 2) {
        fprintf(stderr, "usage: test_daemon_safety PATH_TO_CRTD\n");
        return 2;
    }
    td_crtd_path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(zones_from_the_config_and_the_api, kill_leftover),
        cmocka_unit_test_teardown(alerts_api_errors, kill_leftover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
