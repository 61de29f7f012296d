/* Zones: parsing "x,y ..." lists, the polygon checks and their messages,
 * and which points are inside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "safety.h"

static struct zone zone_named(const char *name)
{
    struct zone z = {.kind = ZONE_AREA};
    snprintf(z.name, sizeof(z.name), "%s", name);
    return z;
}

static void a_square_parses_and_contains_its_middle(void **state)
{
    (void)state;
    struct zone z = zone_named("bed");
    struct errbuf err = {0};
    assert_int_equal(zone_parse_points(&z, "0.1,0.1 0.5,0.1 0.5,0.6 0.1,0.6", &err), 0);
    assert_int_equal(z.n, 4);
    assert_true(zone_contains(&z, 0.3f, 0.3f));
    assert_false(zone_contains(&z, 0.6f, 0.3f));
    assert_false(zone_contains(&z, 0.3f, 0.7f));
}

static void a_concave_polygon_leaves_its_notch_out(void **state)
{
    (void)state;
    struct zone z = zone_named("l-shape");
    assert_int_equal(zone_parse_points(&z, "0,0 1,0 1,0.4 0.4,0.4 0.4,1 0,1", NULL), 0);
    assert_true(zone_contains(&z, 0.2f, 0.8f));
    assert_true(zone_contains(&z, 0.8f, 0.2f));
    assert_false(zone_contains(&z, 0.8f, 0.8f)); /* the notch */
}

static void bad_polygons_are_refused_by_name(void **state)
{
    (void)state;
    static const struct {
        const char *points, *needle;
    } cases[] = {
        {"0.1,0.1 0.9,0.9 0.1,0.9 0.9,0.1", "edges 1 and 3 cross"}, /* a bow tie */
        {"0.1,0.1 0.5,0.5 0.9,0.9", "no area"},                     /* collinear */
        {"0.1,0.1 0.5,0.1", "2 points"},
        {"0.1,0.1 1.5,0.1 0.5,0.5", "point 2 (1.5, 0.1) is outside"},
        {"0.1,0.1 0.5;0.1 0.5,0.5", "point 2: expected x,y"},
        {"0.1,0.1 0.5,0.1 nan,0.5", "point 3"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct zone z = zone_named("kitchen");
        struct errbuf err = {0};
        assert_int_equal(zone_parse_points(&z, cases[i].points, &err), -EINVAL);
        print_message("# '%s': %s\n", cases[i].points, err.msg);
        assert_non_null(strstr(err.msg, "zone 'kitchen'"));
        assert_non_null(strstr(err.msg, cases[i].needle));
    }
}

static void kinds_parse_and_print(void **state)
{
    (void)state;
    for (int k = 0; k < ZONE_KIND_COUNT; k++) {
        enum zone_kind back;
        assert_int_equal(zone_kind_parse(zone_kind_name((enum zone_kind)k), &back), 0);
        assert_int_equal(back, k);
    }
    enum zone_kind kind;
    assert_int_equal(zone_kind_parse("sofa", &kind), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_square_parses_and_contains_its_middle),
        cmocka_unit_test(a_concave_polygon_leaves_its_notch_out),
        cmocka_unit_test(bad_polygons_are_refused_by_name),
        cmocka_unit_test(kinds_parse_and_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
