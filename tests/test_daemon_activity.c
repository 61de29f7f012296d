/* Unit tests of hysteresis and history intervals (daemon/activity.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "activity.h"

#define N 31

static struct pipeline_result seg(int label, double pts)
{
    struct pipeline_result r = {.n_classes = N, .person = label >= 0, .pts = pts};
    for (int i = 0; i < N; i++)
        r.scores[i] = 0.01f;
    r.label = label >= 0 ? label : 0;
    r.scores[r.label] = 0.6f;
    return r;
}

static void first_segment_decides(void **state)
{
    struct activity_tracker t;
    struct activity_interval closed;
    activity_tracker_init(&t);
    assert_int_equal(t.now.state, ACTIVITY_UNKNOWN);
    struct pipeline_result r = seg(5, 0.8);
    assert_true(activity_update(&t, 2.0, 3, &r, 1000.0, &closed));
    assert_int_equal(closed.state, ACTIVITY_UNKNOWN);
    assert_int_equal(t.now.state, ACTIVITY_LABEL);
    assert_int_equal(t.now.label, 5);
    assert_true(t.now.since == 1000.0);
    assert_int_equal(t.now.n_top, 3);
    assert_int_equal(t.now.top_label[0], 5);
    assert_true(t.now.score > 0.59f);
}

static void a_new_label_must_win_the_whole_span(void **state)
{
    struct activity_tracker t;
    struct activity_interval closed;
    activity_tracker_init(&t);
    struct pipeline_result r = seg(1, 0.8);
    activity_update(&t, 2.0, 3, &r, 100.0, &closed);

    /* Label 2 wins for 1.6 s, then 1 comes back: nothing changes. */
    for (int i = 1; i <= 2; i++) {
        r = seg(2, 0.8 + 0.8 * i);
        assert_false(activity_update(&t, 2.0, 3, &r, 100.0 + 0.8 * i, &closed));
    }
    r = seg(1, 3.2);
    assert_false(activity_update(&t, 2.0, 3, &r, 102.4, &closed));
    assert_int_equal(t.now.label, 1);
    assert_true(t.now.since == 100.0);

    /* Now label 2 wins at 4.0, 4.8, 5.6 and 6.4: 2.4 s >= 2 s from its first. */
    double pts = 4.0, wall = 103.2;
    bool changed = false;
    int steps = 0;
    while (!changed && steps < 10) {
        r = seg(2, pts);
        changed = activity_update(&t, 2.0, 3, &r, wall, &closed);
        pts += 0.8;
        wall += 0.8;
        steps++;
    }
    assert_true(changed);
    assert_int_equal(steps, 4);
    assert_int_equal(t.now.label, 2);
    /* since is when it started winning; the closed interval ends there. */
    assert_true(t.now.since == 103.2);
    assert_int_equal(closed.state, ACTIVITY_LABEL);
    assert_int_equal(closed.label, 1);
    assert_true(closed.start == 100.0);
    assert_true(closed.end == 103.2);
}

static void nobody_in_view_is_a_state(void **state)
{
    struct activity_tracker t;
    struct activity_interval closed;
    activity_tracker_init(&t);
    struct pipeline_result r = seg(3, 0.5);
    activity_update(&t, 0.0, 3, &r, 10.0, &closed);
    r = seg(-1, 1.0);
    /* Hysteresis 0: the next segment decides at once. */
    assert_true(activity_update(&t, 0.0, 3, &r, 10.5, &closed));
    assert_int_equal(t.now.state, ACTIVITY_NOBODY);
    assert_int_equal(t.now.label, -1);
    assert_false(t.now.person);
    assert_int_equal(closed.label, 3);
    assert_string_equal(activity_state_name(t.now.state), "nobody");
}

static void a_reopened_source_resets_the_candidate(void **state)
{
    struct activity_tracker t;
    activity_tracker_init(&t);
    struct pipeline_result r = seg(1, 10.0);
    activity_update(&t, 1.0, 3, &r, 10.0, NULL);
    r = seg(2, 10.5);
    assert_false(activity_update(&t, 1.0, 3, &r, 10.5, NULL));
    /* The source restarts at pts 0.4: the candidate starts again there. */
    r = seg(2, 0.4);
    assert_false(activity_update(&t, 1.0, 3, &r, 11.0, NULL));
    r = seg(2, 1.0);
    assert_false(activity_update(&t, 1.0, 3, &r, 11.6, NULL));
    r = seg(2, 1.4);
    assert_true(activity_update(&t, 1.0, 3, &r, 12.0, NULL));
    assert_true(t.now.since == 11.0);
}

/* A segment the model was not sure of: the label is unknown, a state of
 * its own that must win the hysteresis like any label; its score is the top
 * guess's and the top list still names the guesses. */
static void unknown_is_a_label_with_guesses(void **state)
{
    struct activity_tracker t;
    struct activity_interval closed;
    activity_tracker_init(&t);
    struct pipeline_result r = seg(4, 0.8);
    activity_update(&t, 1.0, 3, &r, 50.0, &closed);
    assert_int_equal(t.now.label, 4);
    double pts = 1.6, wall = 50.8;
    bool changed = false;
    for (int i = 0; i < 3 && !changed; i++, pts += 0.8, wall += 0.8) {
        r = seg(7, pts);
        r.scores[7] = 0.4f;
        r.scores[9] = 0.3f;
        r.label = PIPELINE_LABEL_UNKNOWN;
        changed = activity_update(&t, 1.0, 3, &r, wall, &closed);
    }
    assert_true(changed);
    assert_int_equal(closed.label, 4);
    assert_int_equal(t.now.state, ACTIVITY_LABEL);
    assert_int_equal(t.now.label, PIPELINE_LABEL_UNKNOWN);
    assert_true(activity_labelled(&t.now));
    assert_true(t.now.score > 0.39f && t.now.score < 0.41f);
    assert_int_equal(t.now.top_label[0], 7);
    assert_int_equal(t.now.top_label[1], 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_segment_decides),
        cmocka_unit_test(a_new_label_must_win_the_whole_span),
        cmocka_unit_test(nobody_in_view_is_a_state),
        cmocka_unit_test(a_reopened_source_resets_the_candidate),
        cmocka_unit_test(unknown_is_a_label_with_guesses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
