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
#include "tl_sse.h"

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

/* ---- rules ---------------------------------------------------------------- */

/* The first alert of a rule in state (NULL: any), waiting (bounded); a new
 * reference or NULL. */
static json_t *wait_alert(unsigned port, const char *rule, const char *want_state, int tries)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/alerts?rule=%s%s%s", rule, want_state ? "&state=" : "",
             want_state ? want_state : "");
    for (int i = 0; i < tries; i++) {
        json_t *j = td_get_json(port, path, 200);
        json_t *a = json_array_get(json_object_get(j, "alerts"), 0);
        if (a) {
            json_incref(a);
            json_decref(j);
            return a;
        }
        json_decref(j);
        td_sleep_ms(100);
    }
    return NULL;
}

static json_int_t id_of(json_t *alert)
{
    return json_integer_value(json_object_get(alert, "id"));
}

static const char *str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

/* The state of alert id now. */
static char *state_of(unsigned port, json_int_t id)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/alerts/%lld", (long long)id);
    json_t *j = td_get_json(port, path, 200);
    char *state = strdup(str(j, "state"));
    json_decref(j);
    return state;
}

static bool wait_state(unsigned port, json_int_t id, const char *want, int tries)
{
    for (int i = 0; i < tries; i++) {
        char *state = state_of(port, id);
        bool ok = strcmp(state, want) == 0;
        free(state);
        if (ok)
            return true;
        td_sleep_ms(100);
    }
    return false;
}

/* A fall: suspected (pending), confirmed (active), acknowledged with the
 * token (twice: idempotent), cleared when the person is up again; every
 * change an "alert" event. On the floor: an alert after seconds, none in a
 * bed zone. */
static void a_fall_pending_active_acknowledged_cleared(void **state)
{
    struct td_crtd d;
    td_tmp_dir(&d);
    start_with(&d, "[daemon]\nhysteresis_s = 0\n"
                   "[stream \"hall\"]\nurl = synthetic:script=Walk*10,Laydown@floor*60,Walk*1000"
                   "&segment_ms=50&loop=0\n"
                   "[stream \"bedroom\"]\nurl = synthetic:script=Walk*10,Laydown@floor*1000"
                   "&segment_ms=50&loop=0\n"
                   "zone.bed = bed 0.1,0.6 0.9,0.6 0.9,0.95 0.1,0.95\n"
                   "[rule \"fall\"]\nkind = fall\nseconds = 1\n"
                   "[rule \"floor\"]\nkind = on_floor\nseconds = 1\n");
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/events", d.port);
    struct tl_sse *sse = NULL;
    long status = 0;
    struct errbuf err = {{0}};
    assert_int_equal(tl_sse_open(url, TOKEN, NULL, 5, &sse, &status, &err), 0);
    assert_int_equal(status, 200);

    json_t *a = wait_alert(d.port, "fall", NULL, 60);
    assert_non_null(a);
    json_int_t id = id_of(a);
    assert_string_equal(str(a, "stream"), "hall");
    assert_string_equal(str(a, "kind"), "fall");
    assert_int_equal(json_integer_value(json_object_get(a, "track")), 1);
    json_decref(a);
    assert_true(wait_state(d.port, id, "active", 50));

    /* The events: raised (pending), then confirmed (active). */
    bool raised = false, confirmed = false;
    for (int i = 0; i < 200 && !confirmed; i++) {
        struct tl_sse_event ev;
        if (tl_sse_next(sse, 5, &ev, &err) < 0)
            break;
        if (strcmp(ev.type, "alert") == 0) {
            json_t *j = json_loads(ev.data, 0, NULL);
            if (json_integer_value(json_object_get(j, "id")) == id) {
                if (strcmp(str(j, "change"), "raised") == 0) {
                    raised = true;
                    assert_string_equal(str(j, "state"), "pending");
                }
                if (strcmp(str(j, "change"), "confirmed") == 0) {
                    confirmed = true;
                    assert_string_equal(str(j, "state"), "active");
                }
            }
            json_decref(j);
        }
        tl_sse_event_done(&ev);
    }
    assert_true(raised && confirmed);
    tl_sse_free(sse);

    /* On the floor, in the hall; in the bed, no alert. */
    json_t *floor = wait_alert(d.port, "floor", "active", 60);
    assert_non_null(floor);
    assert_string_equal(str(floor, "stream"), "hall");
    json_int_t floor_id = id_of(floor);
    json_decref(floor);

    /* Acknowledged, with the token, twice. */
    char path[96];
    json_t *j;
    snprintf(path, sizeof(path), "/v1/alerts/%lld/ack", (long long)id);
    td_expect_error(d.port, "POST", path, NULL, "{}", 401, "unauthorized");
    td_expect_error(d.port, "POST", path, AUTH, "{\"who\":1}", 400, "invalid_argument");
    assert_int_equal(request(d.port, "POST", path, AUTH, "{\"by\":\"ann\"}", &j), 200);
    assert_string_equal(str(j, "state"), "acknowledged");
    assert_string_equal(str(j, "acknowledged_by"), "ann");
    char *at = strdup(str(j, "acknowledged_at"));
    json_decref(j);
    assert_int_equal(request(d.port, "POST", path, AUTH, "{\"by\":\"bob\"}", &j), 200);
    assert_string_equal(str(j, "state"), "acknowledged");
    assert_string_equal(str(j, "acknowledged_by"), "ann");
    assert_string_equal(str(j, "acknowledged_at"), at);
    free(at);
    json_decref(j);

    /* Up again: both cleared; the acknowledgement stays. */
    assert_true(wait_state(d.port, id, "cleared", 100));
    assert_true(wait_state(d.port, floor_id, "cleared", 50));
    snprintf(path, sizeof(path), "/v1/alerts/%lld", (long long)id);
    j = td_get_json(d.port, path, 200);
    assert_string_equal(str(j, "acknowledged_by"), "ann");
    assert_false(json_is_null(json_object_get(j, "cleared")));
    json_decref(j);
    j = td_get_json(d.port, "/v1/alerts?stream=bedroom", 200);
    assert_int_equal(json_array_size(json_object_get(j, "alerts")), 0);
    json_decref(j);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

/* Not moving; in a zone for longer than seconds (the zone put and removed
 * through the API). */
static void still_and_in_zone_longer(void **state)
{
    struct td_crtd d;
    td_tmp_dir(&d);
    start_with(&d, "[stream \"chair\"]\nurl = synthetic:script=Walk@still*40,Walk*1000"
                   "&segment_ms=50&loop=0\n"
                   "[rule \"still\"]\nkind = still\nseconds = 1\n"
                   "[rule \"bath\"]\nkind = in_zone_longer\nstream = chair\nzone = tub\n"
                   "seconds = 1\n");
    json_t *a = wait_alert(d.port, "still", "active", 60);
    assert_non_null(a);
    assert_int_equal(json_integer_value(json_object_get(a, "track")), 1);
    json_int_t id = id_of(a);
    json_decref(a);
    assert_true(wait_state(d.port, id, "cleared", 60)); /* moving again */

    assert_int_equal(request(d.port, "PUT", "/v1/streams/chair/zones/tub", AUTH,
                             "{\"kind\":\"area\",\"points\":\"0,0 1,0 1,1 0,1\"}", NULL),
                     201);
    a = wait_alert(d.port, "bath", "active", 60);
    assert_non_null(a);
    assert_string_equal(str(a, "zone"), "tub");
    id = id_of(a);
    json_decref(a);
    assert_int_equal(request(d.port, "DELETE", "/v1/streams/chair/zones/tub", AUTH, NULL, NULL),
                     204);
    assert_true(wait_state(d.port, id, "cleared", 60));
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

/* Nobody in a zone between two times of day (UTC here): raised after the
 * window's end, cleared when somebody is seen there. */
static void absent_between_two_times(void **state)
{
    struct td_crtd d;
    char config[1024], from[16], until[16];
    td_tmp_dir(&d);
    time_t now = time(NULL);
    struct tm tm;
    time_t f = now - 600, u = now + 2;
    gmtime_r(&f, &tm);
    strftime(from, sizeof(from), "%H:%M:%S", &tm);
    gmtime_r(&u, &tm);
    strftime(until, sizeof(until), "%H:%M:%S", &tm);
    if (strcmp(from, until) > 0 || strcmp(until, "00:00:05") < 0) {
        td_rm_dir(&d);
        skip(); /* the window would cross midnight */
    }
    snprintf(config, sizeof(config),
             "[daemon]\ntimezone = UTC\n"
             "[stream \"kitchen\"]\nurl = synthetic:script=Walk&segment_ms=50\n"
             "zone.fridge = area 0.9,0.9 1,0.9 1,1 0.9,1\n"
             "[rule \"breakfast\"]\nkind = absent\nstream = kitchen\nzone = fridge\n"
             "from = %s\nuntil = %s\n",
             from, until);
    start_with(&d, config);
    td_sleep_ms(500);
    json_t *j = td_get_json(d.port, "/v1/alerts?rule=breakfast", 200);
    assert_int_equal(json_array_size(json_object_get(j, "alerts")), 0); /* not yet */
    json_decref(j);
    json_t *a = wait_alert(d.port, "breakfast", "active", 80);
    assert_non_null(a);
    assert_string_equal(str(a, "kind"), "absent");
    assert_string_equal(str(a, "zone"), "fridge");
    json_int_t id = id_of(a);
    json_decref(a);
    /* The person walks into the zone: the absence is over. */
    assert_int_equal(request(d.port, "PUT", "/v1/streams/kitchen/zones/fridge", AUTH,
                             "{\"kind\":\"area\",\"points\":\"0,0 1,0 1,1 0,1\"}", NULL),
                     403); /* configured: not the API's to change */
    /* After a restart, still open: nobody was seen there. */
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    start_with(&d, config);
    td_sleep_ms(1500);
    char *st = state_of(d.port, id);
    assert_string_equal(st, "active");
    free(st);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    snprintf(config, sizeof(config),
             "[daemon]\ntimezone = UTC\n"
             "[stream \"kitchen\"]\nurl = synthetic:script=Walk&segment_ms=50\n"
             "zone.fridge = area 0,0 1,0 1,1 0,1\n"
             "[rule \"breakfast\"]\nkind = absent\nstream = kitchen\nzone = fridge\n"
             "from = %s\nuntil = %s\n",
             from, until);
    start_with(&d, config);
    /* The zone now covers where the person stands: cleared by the sighting. */
    assert_true(wait_state(d.port, id, "cleared", 60));
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

/* A camera without frames; its alert survives kill -9 and clears when the
 * frames come back. */
static void camera_down_survives_kill_9(void **state)
{
    struct td_crtd d;
    char config[512], alive[160];
    td_tmp_dir(&d);
    snprintf(alive, sizeof(alive), "%s/alive", d.dir);
    snprintf(config, sizeof(config),
             "[daemon]\nrestart_min_s = 0.2\nrestart_max_s = 0.2\n"
             "[stream \"porch\"]\nurl = synthetic:script=Walk&segment_ms=50&alive=%s\n"
             "[rule \"down\"]\nkind = camera_down\nseconds = 1\n",
             alive);
    td_write_file(alive, "", 0644);
    start_with(&d, config);
    td_wait_segments(d.port, "porch", 2);
    json_t *j = td_get_json(d.port, "/v1/alerts", 200);
    assert_int_equal(json_array_size(json_object_get(j, "alerts")), 0);
    json_decref(j);
    unlink(alive);
    json_t *a = wait_alert(d.port, "down", "active", 60);
    assert_non_null(a);
    json_int_t id = id_of(a);
    assert_true(json_is_null(json_object_get(a, "track")));
    json_decref(a);
    j = td_get_json(d.port, "/v1/alerts", 200);
    assert_int_equal(json_integer_value(json_object_get(j, "active")), 1);
    json_decref(j);
    struct td_response m;
    td_http(d.port, "GET", "/metrics", AUTH, NULL, &m);
    assert_non_null(strstr(m.body, "crtd_alerts_active{rule=\"down\"} 1"));
    td_response_done(&m);

    /* kill -9: the alert is still active, the same one. */
    td_stop(&d, SIGKILL);
    char token[160];
    snprintf(token, sizeof(token), "%s/token", d.dir);
    td_start(&d, (const char *const[]){"--token-file", token, NULL});
    char *s = state_of(d.port, id);
    assert_string_equal(s, "active");
    free(s);
    td_sleep_ms(1500);
    s = state_of(d.port, id);
    assert_string_equal(s, "active");
    free(s);
    j = td_get_json(d.port, "/v1/alerts?state=open", 200);
    assert_int_equal(json_array_size(json_object_get(j, "alerts")), 1); /* no second one */
    json_decref(j);

    /* Frames again: cleared. */
    td_write_file(alive, "", 0644);
    assert_true(wait_state(d.port, id, "cleared", 80));
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

/* The privacy pause through the API: a fall stays open (nobody has seen
 * the person get up), a camera-down alert clears, no rule watches the
 * paused camera, and resuming starts it again. */
static void a_pause_keeps_a_fall_open(void **state)
{
    struct td_crtd d;
    td_tmp_dir(&d);
    start_with(&d, "[daemon]\nhysteresis_s = 0\n"
                   "[stream \"hall\"]\nurl = synthetic:script=Walk*10,Laydown@floor*1000"
                   "&segment_ms=50&loop=0\n"
                   "[rule \"fall\"]\nkind = fall\nseconds = 1\n"
                   "[rule \"down\"]\nkind = camera_down\nseconds = 1\n");
    json_t *a = wait_alert(d.port, "fall", "active", 80);
    assert_non_null(a);
    json_int_t fall = id_of(a);
    json_decref(a);

    td_expect_error(d.port, "POST", "/v1/streams/hall/pause", NULL, NULL, 401, "unauthorized");
    td_expect_error(d.port, "POST", "/v1/streams/nope/pause", AUTH, NULL, 404, "not_found");
    json_t *j = NULL;
    assert_int_equal(request(d.port, "POST", "/v1/streams/hall/pause", AUTH, NULL, &j), 200);
    assert_true(json_is_true(json_object_get(j, "paused")));
    json_decref(j);
    assert_int_equal(request(d.port, "POST", "/v1/streams/hall/pause", AUTH, NULL, NULL), 200);
    char *st = td_stream_str(d.port, "hall", "state");
    assert_string_equal(st, "paused");
    free(st);

    /* Paused longer than camera_down's second: no camera-down alert, and the
     * fall is still open. */
    td_sleep_ms(2500);
    j = td_get_json(d.port, "/v1/alerts?rule=down", 200);
    assert_int_equal(json_array_size(json_object_get(j, "alerts")), 0);
    json_decref(j);
    char *fs = state_of(d.port, fall);
    assert_string_equal(fs, "active");
    free(fs);

    assert_int_equal(request(d.port, "POST", "/v1/streams/hall/resume", AUTH, NULL, &j), 200);
    assert_false(json_is_true(json_object_get(j, "paused")));
    json_decref(j);
    long long before = td_stream_int(d.port, "hall", "segments");
    td_wait_segments(d.port, "hall", before + 2);
    assert_int_equal(td_stop(&d, SIGTERM), 0);
    td_rm_dir(&d);
}

/* SIGHUP reads the rules again: one defined as before keeps its open alert,
 * a removed one's alert is cleared, a new one starts watching. */
static void rules_follow_a_reload(void **state)
{
    struct td_crtd d;
    char config[768], alive[160], path[160];
    td_tmp_dir(&d);
    snprintf(alive, sizeof(alive), "%s/alive", d.dir);
    snprintf(path, sizeof(path), "%s/crtd.conf", d.dir);
#define RELOAD_CONFIG                                                                              \
    "[daemon]\nrestart_min_s = 0.2\nrestart_max_s = 0.2\n"                                         \
    "[stream \"porch\"]\nurl = synthetic:script=Walk&segment_ms=50&alive=%s\n"                     \
    "[rule \"kept\"]\nkind = camera_down\nseconds = 1\n"                                           \
    "[rule \"%s\"]\nkind = camera_down\nseconds = 1\n"
    snprintf(config, sizeof(config), RELOAD_CONFIG, alive, "removed");
    td_write_file(alive, "", 0644);
    start_with(&d, config);
    td_wait_segments(d.port, "porch", 2);
    unlink(alive);
    json_t *kept = wait_alert(d.port, "kept", "active", 60);
    json_t *removed = wait_alert(d.port, "removed", "active", 60);
    assert_non_null(kept);
    assert_non_null(removed);
    json_int_t kept_id = id_of(kept), removed_id = id_of(removed);
    json_decref(kept);
    json_decref(removed);

    snprintf(config, sizeof(config), RELOAD_CONFIG, alive, "added");
    td_write_file(path, config, 0644);
    kill(d.proc.pid, SIGHUP);
    assert_true(wait_state(d.port, removed_id, "cleared", 60));
    json_t *added = wait_alert(d.port, "added", "active", 60);
    assert_non_null(added);
    json_int_t added_id = id_of(added);
    json_decref(added);
    char *st = state_of(d.port, kept_id);
    assert_string_equal(st, "active");
    free(st);
    json_t *j = td_get_json(d.port, "/v1/alerts?rule=kept&state=open", 200);
    assert_int_equal(json_array_size(json_object_get(j, "alerts")), 1); /* the same one */
    json_decref(j);

    /* Frames again: what the new configuration watches clears. */
    td_write_file(alive, "", 0644);
    assert_true(wait_state(d.port, kept_id, "cleared", 80));
    assert_true(wait_state(d.port, added_id, "cleared", 80));
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
        cmocka_unit_test_teardown(a_fall_pending_active_acknowledged_cleared, kill_leftover),
        cmocka_unit_test_teardown(still_and_in_zone_longer, kill_leftover),
        cmocka_unit_test_teardown(absent_between_two_times, kill_leftover),
        cmocka_unit_test_teardown(camera_down_survives_kill_9, kill_leftover),
        cmocka_unit_test_teardown(a_pause_keeps_a_fall_open, kill_leftover),
        cmocka_unit_test_teardown(rules_follow_a_reload, kill_leftover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
