/* Unit tests of the API's pieces that need no server: routes, names, request
 * bodies, times, the event log, tokens and the metrics text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api.h"

static void routes_match_methods_and_names(void **state)
{
    struct api_route_match m;
    assert_int_equal(api_route_find("GET", "/v1/streams", &m), 0);
    assert_int_equal(m.route, API_ROUTE_STREAMS);
    assert_int_equal(api_route_find("POST", "/v1/streams/", &m), 0);
    assert_int_equal(m.method, API_METHOD_POST);
    assert_int_equal(api_route_find("GET", "/v1/streams/kitchen", &m), 0);
    assert_int_equal(m.route, API_ROUTE_STREAM);
    assert_string_equal(m.name, "kitchen");
    assert_int_equal(api_route_find("DELETE", "/v1/streams/kitchen", &m), 0);
    assert_int_equal(api_route_find("GET", "/v1/streams/living-room.2/activity", &m), 0);
    assert_int_equal(m.route, API_ROUTE_ACTIVITY);
    assert_string_equal(m.name, "living-room.2");
    assert_int_equal(api_route_find("GET", "/v1/streams/a/history", &m), 0);
    assert_int_equal(m.route, API_ROUTE_HISTORY);
    assert_int_equal(api_route_find("GET", "/v1/history", &m), 0);
    assert_int_equal(m.route, API_ROUTE_HISTORY_ALL);
    assert_int_equal(api_route_find("GET", "/v1/events", &m), 0);
    assert_int_equal(api_route_find("HEAD", "/metrics", &m), 0);
    assert_int_equal(api_route_find("GET", "/healthz", &m), 0);
    assert_int_equal(api_route_find("GET", "/readyz", &m), 0);
    assert_int_equal(api_route_find("GET", "/v1/model", &m), 0);

    /* Wrong method: 405 with what is allowed. */
    assert_int_equal(api_route_find("DELETE", "/v1/streams", &m), -EOPNOTSUPP);
    char allow[64];
    api_route_allow_text(allow, sizeof(allow), m.allowed);
    assert_string_equal(allow, "GET, HEAD, POST");
    assert_int_equal(api_route_find("POST", "/v1/streams/a/activity", &m), -EOPNOTSUPP);
    assert_int_equal(api_route_find("PUT", "/v1/model", &m), -EOPNOTSUPP);
    /* The fine-tune job and the roll-back. */
    assert_int_equal(api_route_find("DELETE", "/v1/model/finetune", &m), 0);
    assert_int_equal(m.route, API_ROUTE_FINETUNE);
    assert_int_equal(api_route_find("POST", "/v1/model/finetune/cancel", &m), 0);
    assert_int_equal(m.route, API_ROUTE_FINETUNE_CANCEL);
    assert_int_equal(api_route_find("GET", "/v1/model/rollback", &m), -EOPNOTSUPP);
    api_route_allow_text(allow, sizeof(allow), m.allowed);
    assert_string_equal(allow, "POST");
    assert_int_equal(api_route_find("PUT", "/v1/model/finetune", &m), -EOPNOTSUPP);

    /* Unknown paths and names that are not names. */
    assert_int_equal(api_route_find("GET", "/v1/stream", &m), -ENOENT);
    assert_int_equal(api_route_find("GET", "/v1/streams/a/b", &m), -ENOENT);
    assert_int_equal(api_route_find("GET", "/v1/streams//activity", &m), -ENOENT);
    assert_int_equal(api_route_find("GET", "/v1/streams/..", &m), -ENOENT);
    assert_int_equal(api_route_find("GET", "/v1/streams/a%20b", &m), -ENOENT);
    assert_int_equal(api_route_find("GET", "/healthzz", &m), -ENOENT);
    assert_int_equal(api_route_find("GET", "", &m), -ENOENT);
    char long_path[200] = "/v1/streams/";
    memset(long_path + 12, 'a', 100);
    assert_int_equal(api_route_find("GET", long_path, &m), -ENOENT);
    assert_string_equal(api_route_pattern(API_ROUTE_HISTORY), "/v1/streams/{name}/history");
}

static void names_are_checked(void **state)
{
    assert_true(api_name_valid("kitchen"));
    assert_true(api_name_valid("Cam_2.front-door"));
    assert_false(api_name_valid(""));
    assert_false(api_name_valid(".hidden"));
    assert_false(api_name_valid("-x"));
    assert_false(api_name_valid("a/b"));
    assert_false(api_name_valid("a b"));
    char name[80];
    memset(name, 'x', sizeof(name));
    name[63] = '\0';
    assert_true(api_name_valid(name));
    name[63] = 'x';
    name[64] = '\0';
    assert_false(api_name_valid(name));
}

/* A backend's own fields, as crtd's video options are. */
static const char *test_option_name(size_t i)
{
    static const char *const names[] = {"transport", "max_side"};
    return i < ARRAY_SIZE(names) ? names[i] : NULL;
}

static void stream_bodies_are_validated(void **state)
{
    struct api_stream_spec spec;
    struct errbuf err;
    const char *ok = "{\"name\":\"kitchen\",\"url\":\"rtsp://cam/1\",\"fps\":5,\"enabled\":false}";
    assert_int_equal(api_stream_spec_parse(ok, strlen(ok), NULL, &spec, &err), 0);
    assert_null(spec.options);
    assert_string_equal(spec.name, "kitchen");
    assert_string_equal(spec.url, "rtsp://cam/1");
    assert_true(spec.fps == 5);
    assert_false(spec.enabled);

    const char *minimal = "{\"name\":\"a\",\"url\":\"x\"}";
    assert_int_equal(api_stream_spec_parse(minimal, strlen(minimal), NULL, &spec, &err), 0);
    assert_true(spec.enabled);
    assert_true(spec.fps == 0);
    assert_string_equal(spec.site, "");
    assert_string_equal(spec.room, "");

    const char *placed =
        "{\"name\":\"a\",\"url\":\"x\",\"site\":\"Rose wing\",\"room\":\"Room 12\"}";
    assert_int_equal(api_stream_spec_parse(placed, strlen(placed), NULL, &spec, &err), 0);
    assert_string_equal(spec.site, "Rose wing");
    assert_string_equal(spec.room, "Room 12");

    /* The backend's fields are handed on as given, for it to check. */
    const char *extra = "{\"name\":\"a\",\"url\":\"x\",\"transport\":\"udp\",\"max_side\":7}";
    assert_int_equal(api_stream_spec_parse(extra, strlen(extra), test_option_name, &spec, &err), 0);
    assert_int_equal(json_object_size(spec.options), 2);
    assert_string_equal(json_string_value(json_object_get(spec.options, "transport")), "udp");
    assert_int_equal(json_integer_value(json_object_get(spec.options, "max_side")), 7);
    api_stream_spec_done(&spec);
    assert_null(spec.options);
    const char *unknown = "{\"name\":\"a\",\"url\":\"x\",\"colour\":1}";
    errbuf_clear(&err);
    assert_int_equal(api_stream_spec_parse(unknown, strlen(unknown), test_option_name, &spec, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "'colour'"));
    assert_non_null(strstr(err.msg, "transport, max_side"));
    errbuf_clear(&err);
    assert_int_equal(api_stream_spec_parse(extra, strlen(extra), NULL, &spec, &err), -EINVAL);

    static const struct {
        const char *body;
        int code;
    } bad[] = {
        {"{", -EBADMSG},
        {"", -EBADMSG},
        {"[]", -EINVAL},
        {"{\"name\":\"a\"}", -EINVAL},
        {"{\"url\":\"x\"}", -EINVAL},
        {"{\"name\":\"a b\",\"url\":\"x\"}", -EINVAL},
        {"{\"name\":\"a\",\"url\":\"\"}", -EINVAL},
        {"{\"name\":\"a\",\"url\":\"x\",\"fps\":61}", -EINVAL},
        {"{\"name\":\"a\",\"url\":\"x\",\"fps\":\"10\"}", -EINVAL},
        {"{\"name\":\"a\",\"url\":\"x\",\"enabled\":1}", -EINVAL},
        {"{\"name\":\"a\",\"url\":\"x\",\"colour\":1}", -EINVAL},
        {"{\"name\":\"a\",\"name\":\"b\",\"url\":\"x\"}", -EBADMSG},
        {"{\"name\":\"a\",\"url\":\"x\\ny\"}", -EINVAL},
        {"{\"name\":\"a\",\"url\":\"x\",\"room\":\"\"}", -EINVAL},
        {"{\"name\":\"a\",\"url\":\"x\",\"room\":\" Kitchen\"}", -EINVAL},
        {"{\"name\":\"a\",\"url\":\"x\",\"site\":\"a\\tb\"}", -EINVAL},
        {"{\"name\":\"a\",\"url\":\"x\",\"site\":12}", -EINVAL},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        errbuf_clear(&err);
        int r = api_stream_spec_parse(bad[i].body, strlen(bad[i].body), NULL, &spec, &err);
        if (r != bad[i].code)
            fail_msg("body %s: got %d, expected %d", bad[i].body, r, bad[i].code);
        assert_true(err.msg[0] != '\0');
    }
}

static void times_parse_and_format(void **state)
{
    double t;
    assert_int_equal(api_time_parse("1732262400", &t), 0);
    assert_true(t == 1732262400.0);
    assert_int_equal(api_time_parse("1732262400.25", &t), 0);
    assert_true(t == 1732262400.25);
    assert_int_equal(api_time_parse("2024-11-22T08:00:00Z", &t), 0);
    assert_true(t == 1732262400.0);
    assert_int_equal(api_time_parse("2024-11-22T09:00:00.5+01:00", &t), 0);
    assert_true(t == 1732262400.5);
    assert_int_equal(api_time_parse("2024-11-22", &t), -EINVAL);
    assert_int_equal(api_time_parse("yesterday", &t), -EINVAL);
    assert_int_equal(api_time_parse("-5", &t), -EINVAL);
    assert_int_equal(api_time_parse("2024-11-22T08:00:00", &t), -EINVAL);
    char text[48];
    api_time_format(text, sizeof(text), 1732262400.25);
    assert_string_equal(text, "2024-11-22T08:00:00.250Z");
    json_t *j = api_time_json(-1);
    assert_true(json_is_null(j));
    json_decref(j);
}

static void events_replay_in_order_and_wrap(void **state)
{
    struct api_events *ev;
    char *msg = NULL;
    uint64_t id = 0;
    assert_int_equal(api_events_new(4, 100, &ev), 0);
    assert_int_equal(api_events_last_id(ev), 99);
    assert_int_equal(api_events_next(ev, 99, 10, &msg, &id), -EAGAIN);

    for (int i = 0; i < 6; i++) {
        json_t *data = json_pack("{s:i}", "n", i);
        uint64_t got;
        assert_int_equal(api_events_publish(ev, "test", data, &got), 0);
        assert_int_equal(got, 100 + (uint64_t)i);
        json_decref(data);
    }
    /* Only the last 4 are kept: a client far behind starts at the oldest. */
    assert_int_equal(api_events_next(ev, 50, 10, &msg, &id), 0);
    assert_int_equal(id, 102);
    assert_non_null(strstr(msg, "id: 102\nevent: test\ndata: {\"n\":2}\n\n"));
    free(msg);
    assert_int_equal(api_events_next(ev, 103, 10, &msg, &id), 0);
    assert_int_equal(id, 104);
    free(msg);
    assert_int_equal(api_events_next(ev, 105, 10, &msg, &id), -EAGAIN);
    assert_int_equal(api_events_next(ev, 1000, 10, &msg, &id), -EAGAIN);
    api_events_shutdown(ev);
    assert_int_equal(api_events_next(ev, 105, 1000, &msg, &id), -ESHUTDOWN);
    api_events_free(ev);
    assert_null(api_events_free(NULL));
}

static void urls_unescape_but_keep_nul_encoded(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"/v1/streams/kitchen", "/v1/streams/kitchen"},
        {"/v1/streams/a%2Fb", "/v1/streams/a/b"},
        {"%2e%2E%41", "..A"},
        {"/v1/streams/%00/history", "/v1/streams/%00/history"},
        {"a%0", "a%0"},
        {"%zz%", "%zz%"},
        {"%c3%a9", "\xc3\xa9"},
        {"", ""},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char text[64];
        snprintf(text, sizeof(text), "%s", cases[i].in);
        size_t n = api_url_unescape(text);
        assert_string_equal(text, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
    }
    struct api_route_match m;
    char path[] = "/v1/streams/%00/activity";
    api_url_unescape(path);
    assert_int_equal(api_route_find("GET", path, &m), -ENOENT);
}

static void tokens_compare(void **state)
{
    assert_true(api_token_equal("secret-token-123", "secret-token-123"));
    assert_false(api_token_equal("secret-token-12", "secret-token-123"));
    assert_false(api_token_equal("secret-token-1234", "secret-token-123"));
    assert_false(api_token_equal("secret-token-124", "secret-token-123"));
    assert_false(api_token_equal("", "secret-token-123"));
}

static void metrics_text_and_histogram(void **state)
{
    struct api_text t;
    struct api_histogram h = {0};
    api_text_init(&t, 1 << 16);
    api_histogram_observe(&h, 0.003);
    api_histogram_observe(&h, 0.2);
    api_histogram_observe(&h, 100);
    api_histogram_write(&h, &t, "x_seconds", "stream=\"a\"");
    assert_false(t.failed);
    assert_non_null(strstr(t.data, "x_seconds_bucket{stream=\"a\",le=\"0.005\"} 1\n"));
    assert_non_null(strstr(t.data, "x_seconds_bucket{stream=\"a\",le=\"0.15\"} 1\n"));
    assert_non_null(strstr(t.data, "x_seconds_bucket{stream=\"a\",le=\"0.2\"} 2\n"));
    assert_non_null(strstr(t.data, "x_seconds_bucket{stream=\"a\",le=\"60\"} 2\n"));
    assert_non_null(strstr(t.data, "x_seconds_bucket{stream=\"a\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(t.data, "x_seconds_count{stream=\"a\"} 3\n"));
    api_text_done(&t);

    /* The cap holds. */
    api_text_init(&t, 100);
    for (int i = 0; i < 50; i++)
        api_text_printf(&t, "line %d\n", i);
    assert_true(t.failed);
    assert_true(t.len <= 100);
    api_text_done(&t);

    char escaped[32];
    api_text_label_escape(escaped, sizeof(escaped), "a\"b\\c\nd");
    assert_string_equal(escaped, "a\\\"b\\\\c\\nd");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_match_methods_and_names),
        cmocka_unit_test(names_are_checked),
        cmocka_unit_test(stream_bodies_are_validated),
        cmocka_unit_test(times_parse_and_format),
        cmocka_unit_test(events_replay_in_order_and_wrap),
        cmocka_unit_test(tokens_compare),
        cmocka_unit_test(urls_unescape_but_keep_nul_encoded),
        cmocka_unit_test(metrics_text_and_histogram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
