/* Pose features, layout 1 (suite numeric): features_v1 against the NumPy
 * mirror in tests/ref/crt_ref.py on a sequence with motion, dropouts, hidden
 * hips or torso and frames without anyone; and the rules of docs/MODEL.md
 * section 3 checked directly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "safetensors.h"
#include "crt.h"
#include "refscript.h"

#define TOLERANCE 1e-5

static char ref_dir[4096];

static int run_reference(void)
{
    snprintf(ref_dir, sizeof(ref_dir), "%s/crt-ref", refscript_env_or("CRTD_TEST_TMP", "."));
    return refscript_run("CRTD_CRT_REF", "tests/ref/crt_ref.py", "features", ref_dir);
}

static void matches_numpy_mirror(void **state)
{
    char path[8192];
    struct errbuf err = {0};
    struct safetensors *st;
    snprintf(path, sizeof(path), "%s/features.safetensors", ref_dir);
    if (safetensors_open(path, &st, &err) < 0)
        fail_msg("%s", err.msg);
    const struct safetensors_tensor *tk = safetensors_find(st, "keypoints");
    const struct safetensors_tensor *tp = safetensors_find(st, "present");
    const struct safetensors_tensor *te = safetensors_find(st, "expected");
    assert_non_null(tk);
    assert_non_null(tp);
    assert_non_null(te);
    int frames = (int)tk->shape[0];
    assert_int_equal(tk->shape[1], POSE_NUM_KEYPOINTS);
    assert_int_equal(te->shape[1], FEATURES_V1_DIM);
    float *kp = malloc(tk->numel * sizeof(float)), *present = malloc(tp->numel * sizeof(float));
    float *expected = malloc(te->numel * sizeof(float));
    safetensors_tensor_to_f32(tk, kp);
    safetensors_tensor_to_f32(tp, present);
    safetensors_tensor_to_f32(te, expected);

    struct features_state fs;
    features_state_init(&fs);
    double worst = 0;
    int worst_frame = 0, worst_index = 0, absent = 0;
    for (int t = 0; t < frames; t++) {
        struct pose_keypoint k[POSE_NUM_KEYPOINTS];
        for (int j = 0; j < POSE_NUM_KEYPOINTS; j++)
            k[j] = (struct pose_keypoint){kp[(t * 17 + j) * 3], kp[(t * 17 + j) * 3 + 1],
                                          kp[(t * 17 + j) * 3 + 2]};
        float out[FEATURES_V1_DIM];
        features_v1(out, &fs, present[t] > 0 ? k : NULL);
        absent += present[t] == 0;
        for (int i = 0; i < FEATURES_V1_DIM; i++) {
            double e = fabs((double)out[i] - expected[(size_t)t * FEATURES_V1_DIM + i]);
            if (!(e <= worst)) {
                worst = isnan(e) ? INFINITY : e;
                worst_frame = t;
                worst_index = i;
            }
        }
    }
    print_message("%d frames (%d without anyone): worst |feature - numpy| %.3g "
                  "(frame %d, feature %d)\n",
                  frames, absent, worst, worst_frame, worst_index);
    assert_true(absent > 0);
    assert_true(worst <= TOLERANCE);
    free(kp);
    free(present);
    free(expected);
    safetensors_free(st);
}

static void set_person(struct pose_keypoint *k, float dx)
{
    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++)
        k[j] = (struct pose_keypoint){0.5f + dx + 0.01f * j, 0.2f + 0.04f * j, 0.9f};
}

/* The rules themselves, on hand-made frames. */
static void rules(void **state)
{
    struct features_state fs;
    struct pose_keypoint k[POSE_NUM_KEYPOINTS];
    float out[FEATURES_V1_DIM];
    features_state_init(&fs);

    /* Before anyone: presence 0, the frame centre, the initial scale. */
    features_v1(out, &fs, NULL);
    for (int i = 0; i < FEATURES_V1_GLOBAL; i++)
        assert_true(out[i] == 0.0f);
    assert_true(out[FEATURES_V1_GLOBAL] == 0.5f && out[FEATURES_V1_GLOBAL + 1] == 0.5f);
    assert_true(out[FEATURES_V1_GLOBAL + 2] == FEATURES_SCALE_INIT);
    assert_true(out[FEATURES_V1_GLOBAL + 3] == 0.0f);

    /* First frame with a person: centre mid-hip, scale the torso length,
     * velocities zero. */
    set_person(k, 0.0f);
    features_v1(out, &fs, k);
    float hip_x = 0.5f * (k[11].x + k[12].x), hip_y = 0.5f * (k[11].y + k[12].y);
    float sho_x = 0.5f * (k[5].x + k[6].x), sho_y = 0.5f * (k[5].y + k[6].y);
    float torso = sqrtf((sho_x - hip_x) * (sho_x - hip_x) + (sho_y - hip_y) * (sho_y - hip_y));
    assert_float_equal(out[FEATURES_V1_GLOBAL], hip_x, 1e-6);
    assert_float_equal(out[FEATURES_V1_GLOBAL + 1], hip_y, 1e-6);
    assert_float_equal(out[FEATURES_V1_GLOBAL + 2], torso, 1e-6);
    assert_float_equal(out[FEATURES_V1_GLOBAL + 3], 0.9, 1e-6);
    assert_float_equal(out[FEATURES_V1_POS], (k[0].x - hip_x) / torso, 1e-5);
    for (int i = 0; i < 34; i++)
        assert_true(out[FEATURES_V1_VEL + i] == 0.0f);

    /* Moving right: velocity is the change of the normalised position. */
    float p0 = out[FEATURES_V1_POS + 2 * 7];
    set_person(k, 0.0f);
    k[7].x += 0.05f;
    features_v1(out, &fs, k);
    assert_float_equal(out[FEATURES_V1_VEL + 2 * 7], out[FEATURES_V1_POS + 2 * 7] - p0, 1e-6);
    assert_true(out[FEATURES_V1_VEL + 2 * 7] > 0.0f);

    /* A keypoint below the score threshold: position and velocity zero,
     * its score still reported. */
    k[9].score = 0.1f;
    features_v1(out, &fs, k);
    assert_true(out[FEATURES_V1_POS + 18] == 0.0f && out[FEATURES_V1_POS + 19] == 0.0f);
    assert_true(out[FEATURES_V1_VEL + 18] == 0.0f);
    assert_float_equal(out[FEATURES_V1_SCORE + 9], 0.1, 1e-7);

    /* Hips hidden: mid-shoulder is the centre. */
    set_person(k, 0.1f);
    k[11].score = k[12].score = 0.0f;
    features_v1(out, &fs, k);
    assert_float_equal(out[FEATURES_V1_GLOBAL], 0.5f * (k[5].x + k[6].x), 1e-6);

    /* Nobody: the previous centre stays, and the next person's velocities
     * start from zero. */
    float cx = out[FEATURES_V1_GLOBAL];
    features_v1(out, &fs, NULL);
    assert_float_equal(out[FEATURES_V1_GLOBAL], cx, 1e-7);
    set_person(k, 0.2f);
    features_v1(out, &fs, k);
    for (int i = 0; i < 34; i++)
        assert_true(out[FEATURES_V1_VEL + i] == 0.0f);

    /* A tiny torso never drives the scale below the floor. */
    features_state_init(&fs);
    set_person(k, 0.0f);
    k[5].y = k[6].y = k[11].y = k[12].y = 0.5f;
    k[5].x = k[6].x = k[11].x = k[12].x = 0.5f;
    features_v1(out, &fs, k);
    assert_true(out[FEATURES_V1_GLOBAL + 2] == FEATURES_SCALE_FLOOR);
}

int main(void)
{
    if (run_reference() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_numpy_mirror),
        cmocka_unit_test(rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
