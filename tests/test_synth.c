/* Unit tests of the synthetic motion generator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "data.h"

static double mean_score(const struct pose_keypoint *kp)
{
    double s = 0;
    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++)
        s += kp[j].score;
    return s / POSE_NUM_KEYPOINTS;
}

static void rng_is_reproducible_and_uniform(void **state)
{
    struct rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    double sum = 0, sum_sq = 0;
    for (int i = 0; i < 10000; i++) {
        assert_true(rng_next(&a) == rng_next(&b));
        double n = rng_normal(&a);
        sum += n;
        sum_sq += n * n;
        double u = rng_uniform(&b);
        assert_true(u >= 0 && u < 1);
        int k = rng_below(&b, 7);
        assert_in_range(k, 0, 6);
    }
    assert_true(fabs(sum / 10000) < 0.05);
    assert_true(fabs(sum_sq / 10000 - 1) < 0.05);
}

static void same_seed_same_clip_other_seed_other_clip(void **state)
{
    struct synth_options opts;
    struct synth_clip a, b, c;
    synth_options_default(&opts);
    assert_int_equal(synth_clip_generate(&a, &opts, 5, NULL), 0);
    assert_int_equal(synth_clip_generate(&b, &opts, 5, NULL), 0);
    opts.seed = 2;
    assert_int_equal(synth_clip_generate(&c, &opts, 5, NULL), 0);
    assert_int_equal(a.frames, b.frames);
    assert_memory_equal(a.keypoints, b.keypoints, sizeof(*a.keypoints) * (size_t)a.frames);
    assert_false(a.frames == c.frames &&
                 memcmp(a.keypoints, c.keypoints, sizeof(*a.keypoints) * (size_t)a.frames) == 0);
    synth_clip_done(&a);
    synth_clip_done(&b);
    synth_clip_done(&c);
    synth_clip_done(NULL);
}

static void clips_have_valid_keypoints_and_every_class(void **state)
{
    struct synth_options opts;
    int seen[SYNTH_NUM_ACTIVITIES] = {0};
    synth_options_default(&opts);
    for (int i = 0; i < 200; i++) {
        struct synth_clip clip;
        assert_int_equal(synth_clip_generate(&clip, &opts, (uint64_t)i, NULL), 0);
        assert_in_range(clip.frames, 40, 80); /* 4-8 s at 10 fps */
        assert_in_range(clip.label, 0, SYNTH_NUM_ACTIVITIES - 1);
        seen[clip.label]++;
        for (int f = 0; f < clip.frames; f++) {
            assert_int_equal(clip.labels[f], clip.label);
            for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
                const struct pose_keypoint *k = &clip.keypoints[f][j];
                assert_true(k->x >= 0 && k->x <= 1 && k->y >= 0 && k->y <= 1);
                assert_true(k->score >= 0 && k->score <= 1);
            }
        }
        synth_clip_done(&clip);
    }
    for (int c = 0; c < SYNTH_NUM_ACTIVITIES; c++)
        assert_true(seen[c] > 0);
}

static void enter_starts_empty_and_leave_ends_empty(void **state)
{
    struct synth_options opts;
    int checked_enter = 0, checked_leave = 0;
    int enter = -1, leave = -1, count;
    const char *const *classes = synth_task_classes(SYNTH_TASK_ACTIVITIES, &count);
    for (int c = 0; c < count; c++) {
        if (strcmp(classes[c], "Enter") == 0)
            enter = c;
        if (strcmp(classes[c], "Leave") == 0)
            leave = c;
    }
    assert_true(enter >= 0 && leave >= 0);
    synth_options_default(&opts);
    opts.noise = 0;
    for (int i = 0; i < 300; i++) {
        struct synth_clip clip;
        assert_int_equal(synth_clip_generate(&clip, &opts, (uint64_t)i, NULL), 0);
        double first = mean_score(clip.keypoints[0]);
        double last = mean_score(clip.keypoints[clip.frames - 1]);
        if (clip.label == enter) {
            assert_true(first < 0.2);
            assert_true(last > 0.5);
            checked_enter++;
        } else if (clip.label == leave) {
            assert_true(first > 0.5);
            assert_true(last < 0.2);
            checked_leave++;
        }
        synth_clip_done(&clip);
    }
    assert_true(checked_enter > 0 && checked_leave > 0);
}

static void chains_label_each_frame(void **state)
{
    struct synth_options opts;
    struct synth_clip clip;
    synth_options_default(&opts);
    opts.chain = 5;
    int changes = 0;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(synth_clip_generate(&clip, &opts, (uint64_t)i, NULL), 0);
        assert_in_range(clip.frames, 5 * 40, 5 * 80);
        for (int f = 1; f < clip.frames; f++)
            changes += clip.labels[f] != clip.labels[f - 1];
        assert_int_equal(clip.labels[clip.frames - 1], clip.label);
        synth_clip_done(&clip);
    }
    assert_true(changes > 10); /* chained activities mostly differ */
}

/* In the recall task, only the event segment depends on the label: the
 * frames after it must carry no trace of the label. */
static void recall_event_sits_k_segments_before_the_end(void **state)
{
    struct synth_options opts;
    synth_options_default(&opts);
    opts.task = SYNTH_TASK_RECALL;
    opts.recall_k = 6;
    opts.noise = 0;
    int seen[SYNTH_NUM_RECALL] = {0};
    for (int i = 0; i < 40; i++) {
        struct synth_clip clip;
        assert_int_equal(synth_clip_generate(&clip, &opts, (uint64_t)i, NULL), 0);
        int L = opts.segment_frames;
        assert_int_equal(clip.frames % L, 0);
        int segments = clip.frames / L;
        assert_in_range(segments, opts.recall_k + 2, opts.recall_k + 3);
        seen[clip.label]++;

        /* The event moves the wrists or hips far more than the filler does. */
        int event_segment = segments - 1 - opts.recall_k;
        double peak = 0, after = 0;
        for (int f = 1; f < clip.frames; f++) {
            double motion = 0;
            for (int j = 0; j < POSE_NUM_KEYPOINTS; j++)
                motion += fabs(clip.keypoints[f][j].y - clip.keypoints[f - 1][j].y);
            if (f / L == event_segment)
                peak = fmax(peak, motion);
            else if (f / L > event_segment + 1)
                after = fmax(after, motion);
        }
        assert_true(peak > 2 * after);
        synth_clip_done(&clip);
    }
    for (int c = 0; c < SYNTH_NUM_RECALL; c++)
        assert_true(seen[c] > 0);
}

static void bad_options_are_refused_with_a_message(void **state)
{
    struct synth_options opts;
    struct synth_clip clip = {0};
    struct errbuf err = {0};
    synth_options_default(&opts);
    opts.fps = 0;
    assert_int_equal(synth_clip_generate(&clip, &opts, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "fps"));
    synth_options_default(&opts);
    opts.chain = 0;
    assert_int_equal(synth_clip_generate(&clip, &opts, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "chain"));
    synth_options_default(&opts);
    opts.min_seconds = 9;
    assert_int_equal(synth_clip_generate(&clip, &opts, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "duration"));

    enum synth_task task = SYNTH_TASK_RECALL;
    assert_int_equal(synth_task_parse("dance", &task), -EINVAL);
    assert_int_equal(task, SYNTH_TASK_RECALL);
    assert_int_equal(synth_task_parse("activities", &task), 0);
    assert_int_equal(task, SYNTH_TASK_ACTIVITIES);
}

/* A home: the same home gives the same clip, another home another; the
 * home task has its six classes, Feed.Cat among them; falls have no home. */
static void homes_repeat_and_have_every_class(void **state)
{
    struct synth_options opts;
    synth_options_default(&opts);
    opts.task = SYNTH_TASK_HOME;
    opts.home = 4;
    struct synth_clip a, b;
    struct errbuf err = {0};
    assert_int_equal(synth_clip_generate(&a, &opts, 7, &err), 0);
    assert_int_equal(synth_clip_generate(&b, &opts, 7, &err), 0);
    assert_int_equal(a.frames, b.frames);
    assert_memory_equal(a.keypoints, b.keypoints, sizeof(*a.keypoints) * (size_t)a.frames);
    synth_clip_done(&b);
    opts.home = 5;
    assert_int_equal(synth_clip_generate(&b, &opts, 7, &err), 0);
    assert_true(a.frames != b.frames ||
                memcmp(a.keypoints, b.keypoints, sizeof(*a.keypoints) * (size_t)a.frames) != 0);
    synth_clip_done(&a);
    synth_clip_done(&b);

    int n;
    const char *const *classes = synth_task_classes(SYNTH_TASK_HOME, &n);
    assert_int_equal(n, SYNTH_NUM_HOME);
    assert_string_equal(classes[n - 1], "Feed.Cat");
    int seen[SYNTH_NUM_HOME] = {0};
    for (uint64_t i = 0; i < 120; i++) {
        assert_int_equal(synth_clip_generate(&a, &opts, i, &err), 0);
        assert_in_range(a.label, 0, SYNTH_NUM_HOME - 1);
        for (int f = 0; f < a.frames; f++)
            assert_in_range(a.labels[f], 0, SYNTH_NUM_HOME - 1);
        seen[a.label]++;
        synth_clip_done(&a);
    }
    for (int c = 0; c < SYNTH_NUM_HOME; c++)
        assert_true(seen[c] > 0);

    enum synth_task task;
    assert_int_equal(synth_task_parse("home", &task), 0);
    assert_int_equal(task, SYNTH_TASK_HOME);
    assert_string_equal(synth_task_name(task), "home");
    opts.task = SYNTH_TASK_FALLS;
    assert_int_equal(synth_clip_generate(&a, &opts, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "home"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rng_is_reproducible_and_uniform),
        cmocka_unit_test(same_seed_same_clip_other_seed_other_clip),
        cmocka_unit_test(clips_have_valid_keypoints_and_every_class),
        cmocka_unit_test(enter_starts_empty_and_leave_ends_empty),
        cmocka_unit_test(chains_label_each_frame),
        cmocka_unit_test(recall_event_sits_k_segments_before_the_end),
        cmocka_unit_test(bad_options_are_refused_with_a_message),
        cmocka_unit_test(homes_repeat_and_have_every_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
