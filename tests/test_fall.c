/* The fall detector's state machine on hand-made keypoint sequences: a
 * skeleton drawn from a body centre, a torso tilt and a size, at 10 frames
 * a second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "safety.h"

#define FPS 10.0

/* Where the person is in one frame: the hip centre, the torso's tilt from
 * horizontal (90 upright, 0 lying; the head to the right when lying), the
 * height of the upright body in image heights, and how far the feet are
 * below the hips (1 standing, 0 lying, in between crouched or seated). */
struct figure {
    float x, y, tilt, size, legs;
};

static void draw(struct pose_keypoint kp[POSE_NUM_KEYPOINTS], struct figure f)
{
    float torso = 0.3f * f.size, a = f.tilt * (float)(M_PI / 180);
    float ux = cosf(a), uy = -sinf(a); /* from the hips to the shoulders */
    float sx = f.x + torso * ux, sy = f.y + torso * uy;
    float hx = f.x + 1.35f * torso * ux, hy = f.y + 1.35f * torso * uy;
    float leg = 0.52f * f.size;
    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++)
        kp[j] = (struct pose_keypoint){f.x, f.y, 0.9f};
    for (int j = 0; j <= 4; j++)
        kp[j] = (struct pose_keypoint){hx + 0.01f * (j % 3), hy, 0.9f};
    for (int s = 0; s < 2; s++) {
        float side = s ? -0.03f : 0.03f;
        kp[5 + s] = (struct pose_keypoint){sx + side, sy, 0.9f};
        kp[7 + s] = (struct pose_keypoint){sx + side, sy + 0.4f * torso, 0.9f};
        kp[9 + s] = (struct pose_keypoint){sx + side, sy + 0.8f * torso, 0.9f};
        kp[11 + s] = (struct pose_keypoint){f.x + side, f.y, 0.9f};
        /* Legs below the hips when standing, along the body when lying. */
        float lx = -ux * (1 - f.legs) * leg, ly = f.legs * leg;
        kp[13 + s] = (struct pose_keypoint){f.x + side + lx / 2, f.y + ly / 2, 0.9f};
        kp[15 + s] = (struct pose_keypoint){f.x + side + lx, f.y + ly, 0.9f};
    }
}

static const struct figure standing = {0.5f, 0.45f, 90, 0.5f, 1};

static struct figure mix(struct figure a, struct figure b, float u)
{
    u = fminf(1, fmaxf(0, u));
    return (struct figure){a.x + (b.x - a.x) * u, a.y + (b.y - a.y) * u,
                           a.tilt + (b.tilt - a.tilt) * u, a.size + (b.size - a.size) * u,
                           a.legs + (b.legs - a.legs) * u};
}

/* A script: from a pose to another over some seconds, then the next step. */
struct step {
    struct figure to;
    double seconds;
    bool unseen; /* the track is not seen in these frames (NULL keypoints) */
};

struct run {
    int frames;
    enum fall_state state[4096];
    double first_suspected, first_confirmed, last_none;
    bool ever_suspected, ever_confirmed;
};

static void play(struct run *run, const struct step *steps, int n, const struct zone *zones,
                 int n_zones, const struct fall_options *opts)
{
    struct fall_detector *det = NULL;
    struct errbuf err = {0};
    assert_int_equal(fall_detector_new(opts, &det, &err), 0);
    memset(run, 0, sizeof(*run));
    run->first_suspected = run->first_confirmed = -1;
    struct figure at = standing;
    double t = 0;
    enum fall_state last = FALL_NONE;
    for (int i = 0; i < n; i++) {
        int frames = (int)lround(steps[i].seconds * FPS);
        struct figure from = at;
        for (int f = 1; f <= frames; f++) {
            struct pose_keypoint kp[POSE_NUM_KEYPOINTS];
            struct fall_report rep;
            at = mix(from, steps[i].to, (float)f / (float)frames);
            draw(kp, at);
            fall_detector_update(det, t, steps[i].unseen ? NULL : kp, zones, n_zones, &rep);
            assert_true(rep.changed == (rep.state != last));
            last = rep.state;
            assert_true(run->frames < 4096);
            run->state[run->frames++] = rep.state;
            if (rep.state == FALL_SUSPECTED && !run->ever_suspected) {
                run->ever_suspected = true;
                run->first_suspected = t;
                assert_true(rep.descent_at > 0 && rep.descent_at <= t);
            }
            if (rep.state == FALL_CONFIRMED && !run->ever_confirmed) {
                run->ever_confirmed = true;
                run->first_confirmed = t;
            }
            if (rep.state == FALL_NONE)
                run->last_none = t;
            t += 1 / FPS;
        }
    }
    fall_detector_free(det);
}

static const struct figure on_floor = {0.55f, 0.70f, 4, 0.5f, 0};

static enum fall_state final_state(const struct run *run)
{
    return run->state[run->frames - 1];
}

static void a_fall_confirms_after_confirm_s(void **state)
{
    (void)state;
    struct step steps[] = {{standing, 5, false}, {on_floor, 1, false}, {on_floor, 30, false}};
    struct run run;
    play(&run, steps, 3, NULL, 0, NULL);
    print_message("# suspected at %.1f s, confirmed at %.1f s\n", run.first_suspected,
                  run.first_confirmed);
    assert_true(run.ever_suspected && run.ever_confirmed);
    assert_true(run.first_suspected >= 5 && run.first_suspected <= 7);
    assert_true(fabs(run.first_confirmed - run.first_suspected - 20) < 0.15);
    assert_int_equal(final_state(&run), FALL_CONFIRMED);

    /* confirm_s is the caller's. */
    struct fall_options opts;
    fall_options_default(&opts);
    opts.confirm_s = 5;
    play(&run, steps, 3, NULL, 0, &opts);
    assert_true(fabs(run.first_confirmed - run.first_suspected - 5) < 0.15);
}

static void falling_sideways_toward_or_along_the_view_are_falls(void **state)
{
    (void)state;
    /* Head to the left; and lying along the view: upright in the picture,
     * but the torso foreshortened to a third of its rise. */
    struct figure left = {0.45f, 0.72f, 176, 0.5f, 0};
    struct figure along = {0.5f, 0.70f, 90, 0.5f * 0.33f, 0};
    struct figure *ends[] = {&left, &along};
    for (int i = 0; i < 2; i++) {
        struct step steps[] = {{standing, 4, false}, {*ends[i], 1.2, false}, {*ends[i], 25, false}};
        struct run run;
        play(&run, steps, 3, NULL, 0, NULL);
        assert_true(run.ever_confirmed);
    }
}

static void getting_up_within_the_window_cancels(void **state)
{
    (void)state;
    struct step steps[] = {{standing, 5, false},
                           {on_floor, 1, false},
                           {on_floor, 10, false},
                           {standing, 2, false},
                           {standing, 30, false}};
    struct run run;
    play(&run, steps, 5, NULL, 0, NULL);
    assert_true(run.ever_suspected);
    assert_false(run.ever_confirmed);
    assert_int_equal(final_state(&run), FALL_NONE);
}

static void getting_up_later_clears(void **state)
{
    (void)state;
    struct step steps[] = {{standing, 5, false},
                           {on_floor, 1, false},
                           {on_floor, 30, false},
                           {standing, 2, false},
                           {standing, 5, false}};
    struct run run;
    play(&run, steps, 5, NULL, 0, NULL);
    assert_true(run.ever_confirmed);
    assert_int_equal(final_state(&run), FALL_NONE);
    assert_true(run.last_none > run.first_confirmed);
}

static void sitting_up_on_the_floor_is_not_getting_up(void **state)
{
    (void)state;
    struct figure sat_up = {0.55f, 0.68f, 80, 0.5f, 0.1f};
    struct step steps[] = {{standing, 5, false},
                           {on_floor, 1, false},
                           {on_floor, 5, false},
                           {sat_up, 1, false},
                           {sat_up, 20, false}};
    struct run run;
    play(&run, steps, 5, NULL, 0, NULL);
    assert_true(run.ever_confirmed);
    assert_int_equal(final_state(&run), FALL_CONFIRMED);
}

static void assert_never_raised(const struct run *run, const char *what)
{
    for (int f = 0; f < run->frames; f++)
        if (run->state[f] != FALL_NONE)
            fail_msg("%s: frame %d is %s", what, f, fall_state_name(run->state[f]));
}

static void hard_negatives_stay_none(void **state)
{
    (void)state;
    /* Tie a shoe: the torso bends level, the hips stay up. */
    struct figure bent = {0.52f, 0.47f, 8, 0.5f, 0.95f};
    struct step shoe[] = {{standing, 4, false},
                          {bent, 1, false},
                          {bent, 8, false},
                          {standing, 1, false},
                          {standing, 25, false}};
    /* Sit down hard: the hips drop fast, the torso stays upright. */
    struct figure seated = {0.5f, 0.58f, 84, 0.5f, 0.5f};
    struct step sit[] = {{standing, 4, false}, {seated, 0.4, false}, {seated, 40, false}};
    /* Crouch (tie a shoe low): the hips drop, the torso leans but is not lying. */
    struct figure crouch = {0.5f, 0.58f, 50, 0.5f, 0.4f};
    struct step low[] = {{standing, 4, false},
                         {crouch, 1, false},
                         {crouch, 8, false},
                         {standing, 1.5, false},
                         {standing, 20, false}};
    struct run run;
    play(&run, shoe, 5, NULL, 0, NULL);
    assert_never_raised(&run, "tie a shoe");
    play(&run, sit, 3, NULL, 0, NULL);
    assert_never_raised(&run, "sit down hard");
    play(&run, low, 5, NULL, 0, NULL);
    assert_never_raised(&run, "crouch");
}

/* Standing legs: a person who walked away from the camera faster than the
 * reference follows looks short, and a shrinking torso lowers the
 * shoulders; legs 1.6 torso rises long below the hips say it is a person
 * standing, and the reference takes the new size. Without the cue (legs
 * asked to be 9 torso rises long) the same walk is taken for a fall. */
static void standing_legs_reset_the_reference(void **state)
{
    (void)state;
    struct figure away = {0.5f, 0.45f, 90, 0.25f, 1};
    struct step walk[] = {{standing, 4, false}, {away, 0.5, false}, {away, 40, false}};
    struct run run;
    play(&run, walk, 3, NULL, 0, NULL);
    assert_never_raised(&run, "walk away from the camera");
    struct fall_options opts;
    fall_options_default(&opts);
    opts.stand_legs = 9;
    play(&run, walk, 3, NULL, 0, &opts);
    assert_true(run.ever_suspected);
}

/* Standing up again where the hips are still low in the picture (nearer
 * the camera than where the fall began): the legs say it is standing. */
static void standing_up_on_standing_legs_clears(void **state)
{
    (void)state;
    struct figure nearer = {0.55f, 0.62f, 90, 0.5f, 1};
    struct step steps[] = {{standing, 5, false},
                           {on_floor, 1, false},
                           {on_floor, 30, false},
                           {nearer, 2, false},
                           {nearer, 5, false}};
    struct run run;
    play(&run, steps, 5, NULL, 0, NULL);
    assert_true(run.ever_confirmed);
    assert_int_equal(final_state(&run), FALL_NONE);
    /* Legs bent under a kneeling person are not standing legs. */
    struct figure kneeling = {0.55f, 0.62f, 90, 0.5f, 0.4f};
    steps[3].to = steps[4].to = kneeling;
    play(&run, steps, 5, NULL, 0, NULL);
    assert_int_equal(final_state(&run), FALL_CONFIRMED);
}

/* A slump from a chair that slides the hips away from the camera: in the
 * picture the hips rise while the shoulders go down to the floor. */
static void the_shoulders_dropping_is_a_descent(void **state)
{
    (void)state;
    struct figure seated = {0.5f, 0.60f, 85, 0.5f, 0.5f};
    struct figure slumped = {0.5f, 0.55f, 10, 0.5f, 0};
    struct step steps[] = {
        {seated, 0.1, false}, {seated, 6, false}, {slumped, 3, false}, {slumped, 30, false}};
    struct run run;
    play(&run, steps, 4, NULL, 0, NULL);
    assert_true(run.ever_confirmed);
}

/* A slump from a chair toward the camera: the torso ends lying along the
 * view and keeps three quarters of its rise (48 degrees, not lying), but
 * the hips come down to where the ankles were, with the legs out toward
 * the camera. Without the cue (floor_hips 0) it is no fall; a sitter who
 * slouches back as far, hips on the seat, is none either way. */
static void hips_down_at_the_feet_are_on_the_floor(void **state)
{
    (void)state;
    struct figure seated = {0.5f, 0.60f, 85, 0.5f, 0.5f};
    struct figure slumped = {0.5f, 0.71f, 48, 0.5f, 0.6f};
    struct figure slouched = {0.5f, 0.62f, 48, 0.5f, 0.5f};
    struct step slump[] = {
        {seated, 0.1, false}, {seated, 6, false}, {slumped, 3, false}, {slumped, 30, false}};
    struct run run;
    play(&run, slump, 4, NULL, 0, NULL);
    assert_true(run.ever_confirmed);
    /* Slower than the descent's window: the floor is still where the feet
     * were when it began, not where the window's top has moved to. */
    slump[2].seconds = 5;
    play(&run, slump, 4, NULL, 0, NULL);
    assert_true(run.ever_confirmed);
    slump[2].seconds = 3;
    struct fall_options opts;
    fall_options_default(&opts);
    opts.floor_hips = 0;
    play(&run, slump, 4, NULL, 0, &opts);
    assert_never_raised(&run, "slump without the cue");
    slump[2].to = slump[3].to = slouched;
    play(&run, slump, 4, NULL, 0, NULL);
    assert_never_raised(&run, "slouch back on a chair");
}

/* A body centre that jumps is another person (or a cut): the detector
 * starts again, and the stranger's smaller size is no fall. With jumps
 * allowed, it is taken for one. */
static void a_jump_restarts_the_detector(void **state)
{
    (void)state;
    struct figure other = {0.9f, 0.85f, 90, 0.25f, 1};
    struct step steps[] = {{standing, 5, false}, {other, 0.1, false}, {other, 30, false}};
    struct run run;
    play(&run, steps, 3, NULL, 0, NULL);
    assert_never_raised(&run, "another person");
    struct fall_options opts;
    fall_options_default(&opts);
    opts.max_jump = 50;
    play(&run, steps, 3, NULL, 0, &opts);
    assert_true(run.ever_suspected);
}

/* Sitting down with a deep lean passes through lying for less than
 * lying_hold_s; a shorter hold takes the lean for the end of a fall. */
static void passing_through_lying_is_not_on_the_floor(void **state)
{
    (void)state;
    struct figure lean = {0.5f, 0.55f, 30, 0.5f, 0.6f};
    struct figure seated = {0.5f, 0.58f, 85, 0.5f, 0.5f};
    struct step steps[] = {{standing, 4, false},
                           {lean, 0.6, false},
                           {lean, 0.3, false},
                           {seated, 0.3, false},
                           {seated, 40, false}};
    struct run run;
    play(&run, steps, 5, NULL, 0, NULL);
    assert_never_raised(&run, "lean to sit down");
    struct fall_options opts;
    fall_options_default(&opts);
    opts.lying_hold_s = 0.1;
    play(&run, steps, 5, NULL, 0, &opts);
    assert_true(run.ever_suspected);
}

/* One wild frame of the estimator (the skeleton high in the picture) is not
 * a height to fall from: bending to a shoe just after it stays none. Two
 * such frames running are a height, and the bend then looks like a fall. */
static void one_wild_frame_is_not_a_top(void **state)
{
    (void)state;
    struct figure wild = {0.5f, 0.20f, 90, 0.5f, 1};
    struct figure bent = {0.52f, 0.47f, 8, 0.5f, 0.95f};
    struct step once[] = {{standing, 4, false}, {wild, 0.1, false}, {standing, 0.1, false},
                          {bent, 0.5, false},   {bent, 8, false},   {standing, 1, false},
                          {standing, 10, false}};
    struct run run;
    play(&run, once, 7, NULL, 0, NULL);
    assert_never_raised(&run, "one wild frame");
    once[1].seconds = 0.2;
    play(&run, once, 7, NULL, 0, NULL);
    assert_true(run.ever_suspected);
}

static void lying_in_a_bed_zone_stays_none(void **state)
{
    (void)state;
    struct zone bed = {.name = "bed", .kind = ZONE_BED};
    assert_int_equal(zone_parse_points(&bed, "0.3,0.6 0.9,0.6 0.9,0.85 0.3,0.85", NULL), 0);
    /* Lying down slowly from sitting on the edge, and flopping onto it. */
    struct figure edge = {0.5f, 0.62f, 85, 0.5f, 0.5f};
    struct figure in_bed = {0.55f, 0.68f, 5, 0.5f, 0};
    struct step slow[] = {{standing, 4, false},
                          {edge, 1.5, false},
                          {edge, 3, false},
                          {in_bed, 2.5, false},
                          {in_bed, 40, false}};
    struct step flop[] = {{standing, 4, false}, {in_bed, 0.8, false}, {in_bed, 40, false}};
    struct run run;
    play(&run, slow, 5, &bed, 1, NULL);
    assert_never_raised(&run, "lie down on a bed");
    play(&run, flop, 3, &bed, 1, NULL);
    assert_never_raised(&run, "flop onto a bed");
    /* The same flop beside the bed is a fall. */
    struct figure beside = {0.15f, 0.68f, 5, 0.5f, 0};
    struct step fall[] = {
        {{0.15f, 0.45f, 90, 0.5f, 1}, 4, false}, {beside, 0.8, false}, {beside, 40, false}};
    play(&run, fall, 3, &bed, 1, NULL);
    assert_true(run.ever_confirmed);
    /* A seat zone is as fine as a bed; a floor zone is not. */
    bed.kind = ZONE_SEAT;
    play(&run, flop, 3, &bed, 1, NULL);
    assert_never_raised(&run, "flop onto a sofa");
    bed.kind = ZONE_FLOOR;
    play(&run, flop, 3, &bed, 1, NULL);
    assert_true(run.ever_confirmed);
}

static void leaving_the_frame_low_is_not_confirmed(void **state)
{
    (void)state;
    /* Walking off the bottom of the picture: the hips go out first. */
    struct figure gone = {0.5f, 1.3f, 90, 0.9f, 1};
    struct step off[] = {{standing, 4, false}, {gone, 2, false}, {gone, 40, true}};
    struct run run;
    play(&run, off, 3, NULL, 0, NULL);
    assert_never_raised(&run, "leave the frame low");
    /* Going down low and then unseen: may be suspected, never confirmed. */
    struct step down[] = {
        {standing, 4, false}, {on_floor, 1, false}, {on_floor, 1, false}, {on_floor, 40, true}};
    play(&run, down, 4, NULL, 0, NULL);
    assert_false(run.ever_confirmed);
    assert_int_equal(final_state(&run), FALL_NONE);
}

static void missing_frames_do_not_stop_the_clock(void **state)
{
    (void)state;
    /* A fall with short gaps: confirmed on time all the same. */
    struct step gaps[] = {{standing, 5, false}, {on_floor, 1, false}, {on_floor, 4, false},
                          {on_floor, 3, true},  {on_floor, 6, false}, {on_floor, 0.5, true},
                          {on_floor, 4, false}, {on_floor, 2, true},  {on_floor, 10, false}};
    struct run run;
    play(&run, gaps, 9, NULL, 0, NULL);
    assert_true(run.ever_confirmed);
    assert_true(fabs(run.first_confirmed - run.first_suspected - 20) < 0.15);
    /* Every other frame missing. */
    struct fall_detector *det = NULL;
    assert_int_equal(fall_detector_new(NULL, &det, NULL), 0);
    struct fall_report rep = {0};
    bool confirmed = false;
    for (int f = 0; f < 400; f++) {
        double t = f / FPS;
        struct pose_keypoint kp[POSE_NUM_KEYPOINTS];
        draw(kp, mix(standing, on_floor, (float)(t - 5)));
        fall_detector_update(det, t, f % 2 ? NULL : kp, NULL, 0, &rep);
        confirmed = confirmed || rep.state == FALL_CONFIRMED;
    }
    assert_true(confirmed);
    /* Reset forgets the track. */
    fall_detector_reset(det);
    fall_detector_update(det, 100, NULL, NULL, 0, &rep);
    assert_int_equal(rep.state, FALL_NONE);
    fall_detector_free(det);
}

static void names_options_and_null(void **state)
{
    (void)state;
    assert_string_equal(fall_state_name(FALL_NONE), "none");
    assert_string_equal(fall_state_name(FALL_SUSPECTED), "suspected");
    assert_string_equal(fall_state_name(FALL_CONFIRMED), "confirmed");
    assert_string_equal(fall_state_name(FALL_STATE_COUNT), "unknown");
    struct fall_options opts;
    fall_options_default(&opts);
    assert_true(opts.confirm_s == 20);
    opts.max_torso_tilt = 70;
    struct fall_detector *det = NULL;
    struct errbuf err = {0};
    assert_int_equal(fall_detector_new(&opts, &det, &err), -EINVAL);
    print_message("# %s\n", err.msg);
    assert_non_null(strstr(err.msg, "max_torso_tilt"));
    assert_null(det);
    assert_null(fall_detector_free(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_fall_confirms_after_confirm_s),
        cmocka_unit_test(falling_sideways_toward_or_along_the_view_are_falls),
        cmocka_unit_test(getting_up_within_the_window_cancels),
        cmocka_unit_test(getting_up_later_clears),
        cmocka_unit_test(sitting_up_on_the_floor_is_not_getting_up),
        cmocka_unit_test(hard_negatives_stay_none),
        cmocka_unit_test(standing_legs_reset_the_reference),
        cmocka_unit_test(standing_up_on_standing_legs_clears),
        cmocka_unit_test(the_shoulders_dropping_is_a_descent),
        cmocka_unit_test(hips_down_at_the_feet_are_on_the_floor),
        cmocka_unit_test(a_jump_restarts_the_detector),
        cmocka_unit_test(passing_through_lying_is_not_on_the_floor),
        cmocka_unit_test(one_wild_frame_is_not_a_top),
        cmocka_unit_test(lying_in_a_bed_zone_stays_none),
        cmocka_unit_test(leaving_the_frame_low_is_not_confirmed),
        cmocka_unit_test(missing_frames_do_not_stop_the_clock),
        cmocka_unit_test(names_options_and_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
