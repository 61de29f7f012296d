/* The person tracker on made-up scenes at 10 fps: people who cross, one
 * hidden for a second, one who leaves and comes back, more people than the
 * cap. Skeletons are a standing person's proportions, jittered a little as
 * a pose model's keypoints are. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pose.h"

#define FPS 10.0

/* Offsets of COCO-17 keypoints from a standing person's centre, in units of
 * their height. */
static const float body[POSE_NUM_KEYPOINTS][2] = {
    {0.00f, -0.45f},  {-0.02f, -0.47f}, {0.02f, -0.47f},  {-0.04f, -0.46f}, {0.04f, -0.46f},
    {-0.10f, -0.32f}, {0.10f, -0.32f},  {-0.13f, -0.15f}, {0.13f, -0.15f},  {-0.14f, 0.00f},
    {0.14f, 0.00f},   {-0.07f, 0.02f},  {0.07f, 0.02f},   {-0.07f, 0.25f},  {0.07f, 0.25f},
    {-0.07f, 0.48f},  {0.07f, 0.48f},
};

static uint64_t noise_state = 88172645463325252ull;

static float noise(void) /* roughly uniform in [-1, 1) */
{
    noise_state ^= noise_state << 13;
    noise_state ^= noise_state >> 7;
    noise_state ^= noise_state << 17;
    return (float)(noise_state >> 40) / (float)(1 << 23) - 1.0f;
}

static struct pose_person person_at(float cx, float cy, float height, float score)
{
    struct pose_person p = {.score = score};
    float x0 = 1, y0 = 1, x1 = 0, y1 = 0;
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
        struct pose_keypoint *kp = &p.keypoints[k];
        kp->x = cx + body[k][0] * height + 0.003f * noise();
        kp->y = cy + body[k][1] * height + 0.003f * noise();
        kp->score = 0.8f;
        x0 = fminf(x0, kp->x), y0 = fminf(y0, kp->y);
        x1 = fmaxf(x1, kp->x), y1 = fmaxf(y1, kp->y);
    }
    p.box[0] = x0, p.box[1] = y0, p.box[2] = x1, p.box[3] = y1;
    return p;
}

/* The id of the track nearest to (cx, cy) that was seen in the last update. */
static uint32_t id_near(const struct pose_tracker *t, float cx, float cy)
{
    uint32_t id = 0;
    float best = 1e9f;
    for (int i = 0; i < pose_tracker_count(t); i++) {
        const struct pose_track *tr = pose_tracker_track(t, i);
        if (!tr->seen)
            continue;
        float x = 0.5f * (tr->person.box[0] + tr->person.box[2]);
        float y = 0.5f * (tr->person.box[1] + tr->person.box[3]);
        float d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        if (d < best)
            best = d, id = tr->id;
    }
    return id;
}

static struct pose_tracker *new_tracker(int max_tracks)
{
    struct pose_tracker_options o;
    struct pose_tracker *t;
    pose_tracker_options_default(&o);
    if (max_tracks)
        o.max_tracks = max_tracks;
    assert_int_equal(pose_tracker_new(&o, &t, NULL), 0);
    return t;
}

/* Two people walk toward each other along one line, overlap and walk on:
 * each keeps the id it had, in both directions of the crossing. */
static void crossing_people_keep_their_ids(void **state)
{
    (void)state;
    struct pose_tracker *t = new_tracker(0);
    uint32_t first_a = 0, first_b = 0;
    int switches = 0;
    for (int f = 0; f < 60; f++) {
        float ax = 0.15f + 0.7f * (float)f / 59.0f, bx = 0.85f - 0.7f * (float)f / 59.0f;
        struct pose_person dets[2] = {person_at(ax, 0.5f, 0.4f, 0.9f),
                                      person_at(bx, 0.52f, 0.38f, 0.85f)};
        assert_int_equal(pose_tracker_update(t, dets, 2, f / FPS), 2);
        if (fabsf(ax - bx) < 0.1f)
            continue; /* while they overlap, "nearest" says nothing */
        uint32_t a = id_near(t, ax, 0.5f), b = id_near(t, bx, 0.52f);
        if (!first_a)
            first_a = a, first_b = b;
        switches += (a != first_a) + (b != first_b);
    }
    print_message("# crossing: ids %u and %u, %d switches in 60 frames\n", first_a, first_b,
                  switches);
    assert_int_not_equal(first_a, first_b);
    assert_int_equal(switches, 0);
    pose_tracker_free(t);
}

/* A walker hidden for a second (shorter than max_unseen_s) comes back under
 * the same id; one gone for three seconds comes back under a new one. */
static void hidden_for_a_second_keeps_the_id_gone_longer_gets_a_new_one(void **state)
{
    (void)state;
    struct pose_tracker *t = new_tracker(0);
    uint32_t before = 0, after = 0;
    for (int f = 0; f < 40; f++) {
        float x = 0.2f + 0.01f * (float)f;
        bool hidden = f >= 15 && f < 25;
        struct pose_person p = person_at(x, 0.5f, 0.4f, 0.9f);
        pose_tracker_update(t, &p, hidden ? 0 : 1, f / FPS);
        if (f == 14)
            before = id_near(t, x, 0.5f);
        if (f == 26)
            after = id_near(t, x, 0.5f);
    }
    print_message("# hidden 1 s: id %u before, %u after\n", before, after);
    assert_int_not_equal(before, 0);
    assert_int_equal(before, after);

    for (int f = 40; f < 70; f++) /* away 3 s: the track ends */
        pose_tracker_update(t, NULL, 0, f / FPS);
    assert_int_equal(pose_tracker_count(t), 0);
    struct pose_person back = person_at(0.6f, 0.5f, 0.4f, 0.9f);
    pose_tracker_update(t, &back, 1, 70 / FPS);
    uint32_t again = id_near(t, 0.6f, 0.5f);
    print_message("# away 3 s: back as id %u\n", again);
    assert_true(again > before);
    pose_tracker_free(t);
}

/* A track is confirmed on its third match, not before. */
static void a_track_is_confirmed_after_its_hits(void **state)
{
    (void)state;
    struct pose_tracker *t = new_tracker(0);
    for (int f = 0; f < 3; f++) {
        struct pose_person p = person_at(0.5f, 0.5f, 0.4f, 0.9f);
        pose_tracker_update(t, &p, 1, f / FPS);
        assert_int_equal(pose_tracker_track(t, 0)->confirmed, f == 2);
        assert_int_equal(pose_tracker_track(t, 0)->hits, f + 1);
    }
    /* a detection below min_score is nobody */
    struct pose_person faint = person_at(0.1f, 0.1f, 0.2f, 0.05f);
    pose_tracker_update(t, &faint, 1, 0.3);
    assert_int_equal(pose_tracker_count(t), 1);
    pose_tracker_free(t);
}

/* Eight people and a cap of six: six tracks, the two weakest newcomers
 * dropped and counted, every frame. */
static void the_cap_holds_and_counts_what_it_drops(void **state)
{
    (void)state;
    struct pose_tracker *t = new_tracker(6);
    struct pose_person dets[8];
    for (int f = 0; f < 5; f++) {
        for (int i = 0; i < 8; i++)
            dets[i] = person_at(0.06f + 0.125f * (float)i, 0.5f, 0.3f, 0.3f + 0.08f * (float)i);
        assert_int_equal(pose_tracker_update(t, dets, 8, f / FPS), 6);
    }
    float lowest = 1;
    for (int i = 0; i < pose_tracker_count(t); i++)
        lowest = fminf(lowest, pose_tracker_track(t, i)->person.score);
    print_message("# cap 6 of 8: %llu dropped in 5 frames, lowest kept score %.2f\n",
                  (unsigned long long)pose_tracker_dropped(t), (double)lowest);
    assert_true(lowest > 0.3f + 0.08f * 1.5f); /* the two weakest are the ones out */
    assert_int_equal(pose_tracker_dropped(t), 10);
    assert_int_equal(pose_tracker_update(t, dets, POSE_TRACKER_MAX_DETECTIONS + 1, 1.0), -EINVAL);
    pose_tracker_free(t);
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    struct pose_tracker_options o;
    struct pose_tracker *t = NULL;
    struct errbuf err = {0};
    pose_tracker_options_default(&o);
    o.max_tracks = POSE_TRACKER_MAX_TRACKS + 1;
    assert_int_equal(pose_tracker_new(&o, &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "max_tracks"));
    pose_tracker_options_default(&o);
    o.max_unseen_s = 0;
    assert_int_equal(pose_tracker_new(&o, &t, &err), -EINVAL);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crossing_people_keep_their_ids),
        cmocka_unit_test(hidden_for_a_second_keeps_the_id_gone_longer_gets_a_new_one),
        cmocka_unit_test(a_track_is_confirmed_after_its_hits),
        cmocka_unit_test(the_cap_holds_and_counts_what_it_drops),
        cmocka_unit_test(bad_options_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
