/* The pose estimator's preprocessing (suite unit): the crop regions of
 * docs/POSE.md and the bilinear resize to the model's input, on synthetic
 * frames and keypoints. No model is loaded. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "pose.h"

static uint8_t *gradient(int w, int h, int stride)
{
    uint8_t *img = calloc((size_t)stride * h, 1);

    assert_non_null(img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img + (size_t)y * stride + (size_t)x * 3;
            p[0] = (uint8_t)(x * 7);
            p[1] = (uint8_t)(y * 5);
            p[2] = (uint8_t)((x + y) * 3);
        }
    return img;
}

/* Same size, region = the frame: every pixel comes back as it was. */
static void test_resize_identity(void **state)
{
    int w = 32, h = 32, stride = w * 3 + 4;
    uint8_t *img = gradient(w, h, stride);
    int32_t out[32 * 32 * 3];
    struct pose_region region = {0, 0, 32};

    (void)state;
    pose_resize_rgb(out, 32, img, w, h, stride, &region);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                assert_int_equal(out[(y * 32 + x) * 3 + c], img[(size_t)y * stride + x * 3 + c]);
    free(img);
}

/* Halving with half-pixel centres samples between 2x2 pixels: their mean. */
static void test_resize_half(void **state)
{
    int w = 16, h = 16, stride = w * 3;
    uint8_t *img = gradient(w, h, stride);
    int32_t out[8 * 8 * 3];
    struct pose_region region = {0, 0, 16};

    (void)state;
    pose_resize_rgb(out, 8, img, w, h, stride, &region);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++)
            for (int c = 0; c < 3; c++) {
                double sum = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        sum += img[(size_t)(2 * y + dy) * stride + (2 * x + dx) * 3 + c];
                assert_true(fabs(out[(y * 8 + x) * 3 + c] - sum / 4) <= 0.5);
            }
    free(img);
}

/* A wide frame seen whole: a centred square, black above and below. */
static void test_full_region_letterbox(void **state)
{
    int w = 40, h = 20, stride = w * 3;
    uint8_t *img = malloc((size_t)stride * h);
    int32_t out[40 * 40 * 3];
    struct pose_region region;

    (void)state;
    assert_non_null(img);
    memset(img, 200, (size_t)stride * h);
    pose_region_full(&region, w, h);
    assert_true(region.x0 == 0 && region.y0 == -10 && region.side == 40);
    pose_resize_rgb(out, 40, img, w, h, stride, &region);
    for (int x = 0; x < 40; x++) {
        assert_int_equal(out[(0 * 40 + x) * 3], 0);        /* band above */
        assert_int_equal(out[(39 * 40 + x) * 3], 0);       /* band below */
        assert_int_equal(out[(20 * 40 + x) * 3], 200);     /* the frame */
        assert_int_equal(out[(10 * 40 + x) * 3 + 1], 200); /* its first row */
    }
    free(img);
}

static void set_kp(struct pose_result *r, int k, float x, float y, float score)
{
    r->keypoints[k] = (struct pose_keypoint){x, y, score};
}

static void test_track_region(void **state)
{
    struct pose_result r = {0};
    struct pose_region region;

    (void)state;
    /* nothing seen: whole frame */
    assert_false(pose_region_track(&region, &r, 1000, 500));

    /* a small person in the middle of a 1000x500 frame */
    set_kp(&r, 5, 0.48f, 0.40f, 0.9f); /* shoulders */
    set_kp(&r, 6, 0.52f, 0.40f, 0.9f);
    set_kp(&r, 11, 0.48f, 0.60f, 0.9f); /* hips */
    set_kp(&r, 12, 0.52f, 0.60f, 0.9f);
    set_kp(&r, 0, 0.50f, 0.30f, 0.9f); /* nose */
    assert_true(pose_region_track(&region, &r, 1000, 500));
    /* centre mid-hip (500, 300); torso reach 100 px -> half-side 190 */
    assert_true(fabsf(region.side - 380) < 1e-3);
    assert_true(fabsf(region.x0 - 310) < 1e-3);
    /* 300 - 190 = 110, and 110 + 380 = 490 <= 500: stays inside */
    assert_true(fabsf(region.y0 - 110) < 1e-3);

    /* the same person at the bottom edge: shifted up to stay inside */
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++)
        r.keypoints[k].y += 0.35f;
    assert_true(pose_region_track(&region, &r, 1000, 500));
    assert_true(fabsf(region.y0 + region.side - 500) < 1e-3);

    /* hips unseen: the centre falls back to mid-shoulder */
    r.keypoints[11].score = r.keypoints[12].score = 0.1f;
    assert_false(pose_region_track(&region, &r, 1000, 500)); /* 3 seen < 5 */
    set_kp(&r, 1, 0.49f, 0.62f, 0.9f);
    set_kp(&r, 2, 0.51f, 0.62f, 0.9f);
    assert_true(pose_region_track(&region, &r, 1000, 500));
    assert_true(fabsf(region.x0 + region.side / 2 - 500) < 1e-3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_identity),
        cmocka_unit_test(test_resize_half),
        cmocka_unit_test(test_full_region_letterbox),
        cmocka_unit_test(test_track_region),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
