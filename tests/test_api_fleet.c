/* Unit tests of what the API gives a fleet of crtd boxes: the origins of
 * cors_origins and the query of GET /v1/history. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api.h"

static void origins_are_exact(void **state)
{
    struct api_cors cors;
    struct errbuf err;
    (void)state;
    errbuf_clear(&err);
    assert_int_equal(api_cors_parse(" http://box1:8470 ,https://care.example,, http://[::1]:9000",
                                    true, &cors, &err),
                     0);
    assert_int_equal(cors.n, 3);
    assert_true(api_cors_allows(&cors, "http://box1:8470"));
    assert_true(api_cors_allows(&cors, "https://care.example"));
    assert_true(api_cors_allows(&cors, "http://[::1]:9000"));
    assert_false(api_cors_allows(&cors, "http://box1:8470/"));
    assert_false(api_cors_allows(&cors, "http://box1"));
    assert_false(api_cors_allows(&cors, "https://box1:8470"));
    assert_false(api_cors_allows(&cors, NULL));
    assert_false(api_cors_allows(&cors, ""));
    api_cors_done(&cors);

    assert_int_equal(api_cors_parse(NULL, true, &cors, &err), 0);
    assert_false(api_cors_allows(&cors, "http://box1:8470"));
    api_cors_done(&cors);

    assert_int_equal(api_cors_parse("*", false, &cors, &err), 0);
    assert_true(api_cors_allows(&cors, "http://anywhere.example"));
    api_cors_done(&cors);

    const char *bad[] = {"*",       "box1:8470",    "http://box1:8470/ui", "ftp://box1",
                         "http://", "http://box1:", "http://box1:123456",  "http://bo x1"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        errbuf_clear(&err);
        assert_int_equal(api_cors_parse(bad[i], true, &cors, &err), -EINVAL);
        assert_non_null(strstr(errbuf_text(&err, -EINVAL), "cors_origins"));
    }
}

static void history_queries_are_checked(void **state)
{
    struct api_history_query q;
    struct errbuf err;
    (void)state;
    const char *keys[] = {"streams", "labels", "track", "site",     "room",
                          "since",   "until",  "limit", "before_id"};
    const char *values[] = {"kitchen,hall",
                            "Walk,Cook.Cleandishes",
                            "7",
                            "Rose wing",
                            "Room 12",
                            "2026-11-22T08:00:00Z",
                            "1800000000",
                            "5",
                            "42"};
    errbuf_clear(&err);
    assert_int_equal(api_history_query_parse(keys, values, ARRAY_SIZE(keys), 1000, &q, &err), 0);
    assert_int_equal(q.n_streams, 2);
    assert_string_equal(q.streams[1], "hall");
    assert_int_equal(q.n_labels, 2);
    assert_string_equal(q.labels[1], "Cook.Cleandishes");
    assert_int_equal(q.track, 7);
    assert_string_equal(q.site, "Rose wing");
    assert_string_equal(q.room, "Room 12");
    double since;
    assert_int_equal(api_time_parse("2026-11-22T08:00:00Z", &since), 0);
    assert_true(q.since == since);
    assert_true(q.until == 1800000000.0);
    assert_int_equal(q.limit, 5);
    assert_int_equal(q.before_id, 42);

    assert_int_equal(api_history_query_parse(NULL, NULL, 0, 1000, &q, &err), 0);
    assert_int_equal(q.limit, API_HISTORY_LIMIT_DEFAULT);
    assert_true(q.since < 0 && q.until < 0);
    assert_int_equal(q.n_streams + q.n_labels + (size_t)q.track + (size_t)q.before_id, 0);

    const struct {
        const char *key, *value;
    } bad[] = {{"streams", "a,,b"}, {"streams", "a/b"},  {"labels", ""},    {"track", "0"},
               {"track", "1.5"},    {"before_id", "+3"}, {"limit", "1001"}, {"limit", ""},
               {"since", "today"},  {"site", "x "},      {"room", NULL},    {"colour", "red"}};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char quoted[80];
        errbuf_clear(&err);
        assert_int_equal(api_history_query_parse(&bad[i].key, &bad[i].value, 1, 1000, &q, &err),
                         -EINVAL);
        snprintf(quoted, sizeof(quoted), "'%s'", bad[i].key);
        assert_non_null(strstr(errbuf_text(&err, -EINVAL), quoted));
    }
    const char *order[] = {"since", "until"}, *times[] = {"2000", "1000"};
    assert_int_equal(api_history_query_parse(order, times, 2, 1000, &q, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(origins_are_exact),
        cmocka_unit_test(history_queries_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
