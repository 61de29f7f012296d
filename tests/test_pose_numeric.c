/* Pose runner against TensorFlow.js (suite numeric).
 *
 * For Lightning and Thunder, three int32 inputs (random values and the two
 * photographs, resized by pose_resize_rgb) go through tests/ref/tfjs_pose.js
 * with tfjs-backend-cpu 4.22.0 at test time; the keypoints must agree within
 * 1e-3 and a few intermediate tensors, compared by node name, within 1e-3 of
 * their scale. The keypoints are checked three ways: as in production (reused
 * buffers, depthwise fused into the next 1x1 convolution, the best kernel set
 * the CPU has under the cap --isa gives), the same on the portable set
 * (OpenBLAS), and unfused with a buffer per tensor (where the intermediate
 * tensors are read, under the same cap). A third test checks the tracking crop on a
 * photograph. For MultiPose, random values and basketball1.png and
 * basketball2.png at two input sizes (256x256, the photographs letterboxed
 * into the square, and 384 on the long side as pose_run_people makes it):
 * every keypoint, box and score within 1e-3, as in production, on OpenBLAS
 * and unfused; and pose_run_people on the photographs gives the people of the
 * reference's output.
 *
 * Environment (set by tests/meson.build): CRTD_SOURCE_ROOT, CRTD_TEST_TMP,
 * CRTD_NODE. Command line: --isa SET (best, avx512, avx2, neon, portable),
 * the pose model's max_isa load option, so that a CPU with AVX-512 tests the
 * other kernel sets too (tests/meson.build runs the suite once per set);
 * --short leaves out Thunder and MultiPose at 384x288 (the form a cross
 * build runs under qemu-user). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pose.h"
#include "tfjs.h"
#include "video.h"

#define TOLERANCE 1e-3

/* --isa: the cap on the kernel sets of the models under test */
static enum pose_isa test_isa = POSE_ISA_BEST;
/* --short: the form for emulated runs (scripts/arm64): Thunder and
 * MultiPose's 384x288 input are left out */
static bool test_short;

static const char *const intermediates[] = {
    "StatefulPartitionedCall/sub_1",
    "StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/model/"
    "Conv1_relu/Relu6",
    "StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/model/"
    "block_3_depthwise/depthwise",
    "StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/model/"
    "block_5_add/add",
    "StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/"
    "up_sampling2d_2/resize/ResizeBilinear",
    "StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/"
    "tf.__operators__.add_2/AddV2",
    "StatefulPartitionedCall/Sigmoid",
    "StatefulPartitionedCall/kpt_offset_0/conv2d_7/BiasAdd",
};

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static void path_join(char *buf, size_t size, const char *a, const char *b)
{
    int n = snprintf(buf, size, "%s/%s", a, b);
    assert_true(n > 0 && (size_t)n < size);
}

static float *read_floats(const char *path, size_t count)
{
    FILE *f = fopen(path, "rb");
    float *data = malloc(count * sizeof(float) + 4);
    size_t got;

    if (!f) {
        print_error("cannot open %s\n", path);
        free(data);
        return NULL;
    }
    got = fread(data, sizeof(float), count + 1, f);
    fclose(f);
    if (got != count) {
        print_error("%s: %zu floats, expected %zu\n", path, got, count);
        free(data);
        return NULL;
    }
    return data;
}

/* Decodes an image and resizes its whole frame (letterboxed) to size x size. */
static void photo_tensor(int32_t *out, int size, const char *name)
{
    char path[4096];
    struct errbuf err = {0};
    struct video_media *media = NULL;
    const uint8_t *rgb;
    int w, h, stride;
    double t;
    struct pose_region region;

    path_join(path, sizeof(path), env_or("CRTD_SOURCE_ROOT", "."), name);
    if (video_media_open(path, &media, &err) < 0)
        fail_msg("%s (run scripts/setup)", err.msg);
    assert_int_equal(video_media_read(media, &rgb, &w, &h, &stride, &t, &err), 1);
    pose_region_full(&region, w, h);
    pose_resize_rgb(out, size, rgb, w, h, stride, &region);
    video_media_free(media);
}

/* Decodes an image into a new RGB24 buffer. */
static uint8_t *photo_rgb(const char *name, int *ret_w, int *ret_h, int *ret_stride)
{
    char path[4096];
    struct errbuf err = {0};
    struct video_media *media = NULL;
    const uint8_t *rgb;
    double t;

    path_join(path, sizeof(path), env_or("CRTD_SOURCE_ROOT", "."), name);
    if (video_media_open(path, &media, &err) < 0)
        fail_msg("%s (run scripts/setup)", err.msg);
    assert_int_equal(video_media_read(media, &rgb, ret_w, ret_h, ret_stride, &t, &err), 1);
    size_t bytes = (size_t)*ret_stride * *ret_h;
    uint8_t *copy = malloc(bytes);
    assert_non_null(copy);
    memcpy(copy, rgb, bytes);
    video_media_free(media);
    return copy;
}

static void compare_variant(const char *variant)
{
    char json[4096], rel[256], in_path[4096], prefix[4096], cmd[16384], out_path[4096];
    const char *root = env_or("CRTD_SOURCE_ROOT", ".");
    const char *tmp = env_or("CRTD_TEST_TMP", "/tmp");
    struct errbuf err = {0};
    struct tfjs_model *graph = NULL;
    struct tfjs_context *all = NULL;
    struct pose_model *pm = NULL, *pm_blas = NULL;
    struct pose_context *pc = NULL, *pc_blas = NULL;
    static const char *const input_names[] = {"random", "messi5.jpg", "basketball1.png"};
    int n_inputs = 3, failures = 0, r;

    snprintf(rel, sizeof(rel), "third_party/models/movenet-%s.json", variant);
    path_join(json, sizeof(json), root, rel);
    if (tfjs_model_load(json, &(struct tfjs_options){.max_isa = test_isa}, &graph, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(tfjs_context_new(graph, true, &all, &err), 0);
    /* pm runs as in production (reused buffers, fused depthwise, the best
     * kernel set under the cap of --isa, as the tools' --isa and the daemon's
     * pose_isa= give it); pm_blas the same plan on the portable set */
    struct pose_options prod_options = {.max_isa = test_isa};
    r = pose_model_load_opts(json, &prod_options, &pm, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(pose_context_new(pm, &pc, &err), 0);
    r = pose_model_load_opts(json, &(struct pose_options){.max_isa = POSE_ISA_PORTABLE}, &pm_blas,
                             &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(pose_context_new(pm_blas, &pc_blas, &err), 0);
    int size = pose_model_input_size(pm);
    size_t per = (size_t)size * size * 3;
    int32_t *inputs = malloc(per * n_inputs * sizeof(int32_t));
    assert_non_null(inputs);

    uint32_t seed = 20260522u;
    for (size_t i = 0; i < per; i++) {
        seed = seed * 1664525u + 1013904223u;
        inputs[i] = (int32_t)(seed >> 24);
    }
    photo_tensor(inputs + per, size, "third_party/images/messi5.jpg");
    photo_tensor(inputs + 2 * per, size, "third_party/images/basketball1.png");

    snprintf(rel, sizeof(rel), "pose_%s_in.i32", variant);
    path_join(in_path, sizeof(in_path), tmp, rel);
    FILE *f = fopen(in_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(inputs, sizeof(int32_t), per * n_inputs, f), per * n_inputs);
    assert_int_equal(fclose(f), 0);
    snprintf(rel, sizeof(rel), "pose_%s_out_", variant);
    path_join(prefix, sizeof(prefix), tmp, rel);

    int used = snprintf(
        cmd, sizeof(cmd),
        "'%s' '%s/tests/ref/tfjs_pose.js' run '%s/third_party/npm/node_modules' '%s' '%s' '%s'",
        env_or("CRTD_NODE", "node"), root, root, json, in_path, prefix);
    for (size_t j = 0; j < ARRAY_SIZE(intermediates); j++)
        used += snprintf(cmd + used, sizeof(cmd) - (size_t)used, " '%s'", intermediates[j]);
    strcat(cmd, " >/dev/null");
    print_message("reference: tfjs-backend-cpu on %s (%d inputs)\n", variant, n_inputs);
    if (system(cmd) != 0)
        fail_msg("the TensorFlow.js reference failed (node and third_party/npm from "
                 "scripts/setup?): %s",
                 cmd);

    for (int k = 0; k < n_inputs; k++) {
        memcpy(tfjs_context_input(all), inputs + per * k, per * sizeof(int32_t));
        tfjs_context_run(all);

        /* the output: every keypoint's y, x and score */
        snprintf(rel, sizeof(rel), "pose_%s_out_%d_0.f32", variant, k);
        path_join(out_path, sizeof(out_path), tmp, rel);
        float *ref = read_floats(out_path, POSE_NUM_KEYPOINTS * 3);
        assert_non_null(ref);
        const float *got = tfjs_context_value(all, tfjs_model_output(graph));
        float prod[POSE_NUM_KEYPOINTS * 3], blas[POSE_NUM_KEYPOINTS * 3];
        pose_run_tensor(pc, inputs + per * k, prod);
        pose_run_tensor(pc_blas, inputs + per * k, blas);
        double worst = 0, worst_prod = 0, worst_blas = 0;
        for (int i = 0; i < POSE_NUM_KEYPOINTS * 3; i++) {
            worst = fmax(worst, fabs((double)got[i] - ref[i]));
            worst_prod = fmax(worst_prod, fabs((double)prod[i] - ref[i]));
            worst_blas = fmax(worst_blas, fabs((double)blas[i] - ref[i]));
        }
        print_message("%s %-16s keypoints (y, x, score): worst |err| %.3g as in production "
                      "(%s), %.3g on OpenBLAS, %.3g unfused with every tensor kept "
                      "(tolerance %g)\n",
                      variant, input_names[k], worst_prod, pose_model_kernels(pm), worst_blas,
                      worst, TOLERANCE);
        if (!(worst <= TOLERANCE) || !(worst_prod <= TOLERANCE) || !(worst_blas <= TOLERANCE))
            failures++;
        free(ref);

        /* intermediate tensors, by node name */
        for (size_t j = 0; j < ARRAY_SIZE(intermediates); j++) {
            int v = tfjs_model_find(graph, intermediates[j]);
            struct tfjs_shape shape;
            enum tfjs_dtype dtype;
            assert_true(v >= 0);
            tfjs_model_value_info(graph, v, &shape, &dtype);
            size_t n = tfjs_shape_size(&shape);
            snprintf(rel, sizeof(rel), "pose_%s_out_%d_%zu.f32", variant, k, j + 1);
            path_join(out_path, sizeof(out_path), tmp, rel);
            float *expect = read_floats(out_path, n);
            if (!expect) {
                print_error("%s: node '%s': size differs from TensorFlow.js\n", variant,
                            intermediates[j]);
                failures++;
                continue;
            }
            const float *g = tfjs_context_value(all, v);
            double scale = 1, err_max = 0;
            for (size_t i = 0; i < n; i++)
                scale = fmax(scale, fabs(expect[i]));
            for (size_t i = 0; i < n; i++)
                err_max = fmax(err_max, fabs((double)g[i] - expect[i]));
            const char *shortname = strrchr(intermediates[j], '/');
            /* print the last two path parts: enough to find the node */
            const char *p = shortname;
            while (p > intermediates[j] && p[-1] != '/')
                p--;
            if (p > intermediates[j]) {
                p--;
                while (p > intermediates[j] && p[-1] != '/')
                    p--;
            }
            print_message("%s %-16s node %-44s worst |err| %.3g of scale %.3g\n", variant,
                          input_names[k], p, err_max, scale);
            if (!(err_max <= TOLERANCE * scale)) {
                print_error("%s: node '%s' differs from TensorFlow.js\n", variant,
                            intermediates[j]);
                failures++;
            }
            free(expect);
        }
    }
    free(inputs);
    pose_context_free(pc);
    pose_model_free(pm);
    pose_context_free(pc_blas);
    pose_model_free(pm_blas);
    tfjs_context_free(all);
    tfjs_model_free(graph);
    assert_int_equal(failures, 0);
}

static void test_lightning_vs_tfjs(void **state)
{
    (void)state;
    compare_variant("lightning");
}

static void test_thunder_vs_tfjs(void **state)
{
    (void)state;
    if (test_short) {
        print_message("--short: Thunder left out\n");
        skip();
    }
    compare_variant("thunder");
}

/* Two runs on the same photograph: the second looks at the tracked crop and
 * must find the same person in the same place. */
static void test_tracking_crop(void **state)
{
    char path[4096];
    struct errbuf err = {0};
    struct pose_model *pm = NULL;
    struct pose_context *pc = NULL;
    struct video_media *media = NULL;
    const uint8_t *rgb;
    int w, h, stride;
    double t;
    struct pose_result first, second;

    (void)state;
    path_join(path, sizeof(path), env_or("CRTD_SOURCE_ROOT", "."),
              "third_party/models/movenet-lightning.json");
    if (pose_model_load(path, &pm, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(pose_context_new(pm, &pc, &err), 0);
    path_join(path, sizeof(path), env_or("CRTD_SOURCE_ROOT", "."),
              "third_party/images/basketball1.png");
    if (video_media_open(path, &media, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(video_media_read(media, &rgb, &w, &h, &stride, &t, &err), 1);
    assert_int_equal(pose_run(pc, rgb, w, h, stride, &first, &err), 0);
    assert_int_equal(pose_run(pc, rgb, w, h, stride, &second, &err), 0);
    print_message("frame 1: crop %.0f,%.0f side %.0f, score %.2f, person %d\n", first.crop.x0,
                  first.crop.y0, first.crop.side, first.score, first.person);
    print_message("frame 2: crop %.0f,%.0f side %.0f, score %.2f, person %d\n", second.crop.x0,
                  second.crop.y0, second.crop.side, second.score, second.person);
    assert_true(first.person);
    assert_true(second.person);
    assert_true(second.crop.side < first.crop.side);
    double worst = 0;
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++)
        if (first.keypoints[k].score >= 0.4f && second.keypoints[k].score >= 0.4f)
            worst = fmax(worst, fmax(fabs(first.keypoints[k].x - second.keypoints[k].x),
                                     fabs(first.keypoints[k].y - second.keypoints[k].y)));
    print_message("confident keypoints moved by at most %.3f of the frame\n", worst);
    assert_true(worst < 0.05);

    /* a bad frame is an error, not a crash */
    assert_int_equal(pose_run(pc, rgb, 0, h, stride, &second, &err), -EINVAL);
    video_media_free(media);
    pose_context_free(pc);
    pose_model_free(pm);
}

/* One input size of MultiPose: three inputs through TensorFlow.js, compared
 * three ways; then pose_run_people on the photographs against the reference.
 * side is the long side pose_run_people is given for that size (0: none). */
static int compare_multi_size(struct pose_context *pc, struct pose_context *pc_blas,
                              const struct tfjs_model *graph, const char *json, int in_w, int in_h,
                              int side)
{
    static const char *const input_names[] = {"random", "basketball1.png", "basketball2.png"};
    const char *root = env_or("CRTD_SOURCE_ROOT", ".");
    const char *tmp = env_or("CRTD_TEST_TMP", "/tmp");
    char rel[256], in_path[4096], prefix[4096], cmd[16384], out_path[4096];
    struct errbuf err = {0};
    struct tfjs_model *plan = NULL;
    struct tfjs_context *all = NULL;
    struct tfjs_shape shape = {4, {1, in_h, in_w, 3}};
    size_t per = (size_t)in_w * in_h * 3;
    int n_inputs = 3, failures = 0;
    uint8_t *photos[3] = {NULL};
    int pw[3], ph[3], ps[3];

    if (tfjs_model_plan_input(graph, &shape, &plan, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(tfjs_context_new(plan, true, &all, &err), 0);
    int32_t *inputs = malloc(per * n_inputs * sizeof(int32_t));
    assert_non_null(inputs);
    uint32_t seed = 20260601u;
    for (size_t i = 0; i < per; i++) {
        seed = seed * 1664525u + 1013904223u;
        inputs[i] = (int32_t)(seed >> 24);
    }
    for (int k = 1; k < n_inputs; k++) {
        snprintf(rel, sizeof(rel), "third_party/images/%s", input_names[k]);
        photos[k] = photo_rgb(rel, &pw[k], &ph[k], &ps[k]);
        pose_letterbox_rgb(inputs + per * k, in_w, in_h, photos[k], pw[k], ph[k], ps[k]);
    }
    snprintf(rel, sizeof(rel), "pose_multipose_%dx%d_in.i32", in_w, in_h);
    path_join(in_path, sizeof(in_path), tmp, rel);
    FILE *f = fopen(in_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(inputs, sizeof(int32_t), per * n_inputs, f), per * n_inputs);
    assert_int_equal(fclose(f), 0);
    snprintf(rel, sizeof(rel), "pose_multipose_%dx%d_out_", in_w, in_h);
    path_join(prefix, sizeof(prefix), tmp, rel);
    snprintf(cmd, sizeof(cmd),
             "'%s' '%s/tests/ref/tfjs_pose.js' run '%s/third_party/npm/node_modules' '%s' '%s' "
             "'%s' --size=%dx%d >/dev/null",
             env_or("CRTD_NODE", "node"), root, root, json, in_path, prefix, in_h, in_w);
    print_message("reference: tfjs-backend-cpu on multipose %dx%d (%d inputs)\n", in_w, in_h,
                  n_inputs);
    if (system(cmd) != 0)
        fail_msg("the TensorFlow.js reference failed: %s", cmd);

    enum { N = POSE_MAX_PEOPLE * POSE_PEOPLE_STRIDE };
    for (int k = 0; k < n_inputs; k++) {
        snprintf(rel, sizeof(rel), "pose_multipose_%dx%d_out_%d_0.f32", in_w, in_h, k);
        path_join(out_path, sizeof(out_path), tmp, rel);
        float *ref = read_floats(out_path, N);
        assert_non_null(ref);
        float prod[N], blas[N];
        memcpy(tfjs_context_input(all), inputs + per * k, per * sizeof(int32_t));
        tfjs_context_run(all);
        const float *got = tfjs_context_value(all, tfjs_model_output(plan));
        assert_int_equal(pose_run_people_tensor(pc, inputs + per * k, in_w, in_h, prod, &err), 0);
        assert_int_equal(pose_run_people_tensor(pc_blas, inputs + per * k, in_w, in_h, blas, &err),
                         0);
        double worst = 0, worst_prod = 0, worst_blas = 0;
        int at = 0;
        for (int i = 0; i < N; i++) {
            double e = fabs((double)prod[i] - ref[i]);
            if (!(e <= worst_prod))
                worst_prod = e, at = i;
            worst = fmax(worst, fabs((double)got[i] - ref[i]));
            worst_blas = fmax(worst_blas, fabs((double)blas[i] - ref[i]));
        }
        int strong = 0;
        for (int p = 0; p < POSE_MAX_PEOPLE; p++)
            strong += ref[p * POSE_PEOPLE_STRIDE + 55] >= POSE_MIN_SCORE;
        print_message("multipose %dx%d %-16s people, boxes, keypoints: worst |err| %.3g as in "
                      "production (person %d value %d), %.3g on OpenBLAS, %.3g unfused "
                      "(tolerance %g); %d people scored >= %.1f\n",
                      in_w, in_h, input_names[k], worst_prod, at / POSE_PEOPLE_STRIDE,
                      at % POSE_PEOPLE_STRIDE, worst_blas, worst, TOLERANCE, strong,
                      POSE_MIN_SCORE);
        if (!(worst <= TOLERANCE) || !(worst_prod <= TOLERANCE) || !(worst_blas <= TOLERANCE))
            failures++;

        /* the photographs through pose_run_people: the same people */
        if (k > 0 && side) {
            struct pose_person people[POSE_MAX_PEOPLE];
            int n = -1;
            assert_int_equal(
                pose_run_people(pc, photos[k], pw[k], ph[k], ps[k], side, people, &n, &err), 0);
            if (n != strong) {
                print_error("pose_run_people: %d people, the reference %d\n", n, strong);
                failures++;
            }
            for (int p = 0; p < n && p < strong; p++)
                if (!(fabsf(people[p].score - ref[p * POSE_PEOPLE_STRIDE + 55]) <= TOLERANCE) ||
                    !(people[p].box[0] <= people[p].box[2]) ||
                    !(people[p].box[1] <= people[p].box[3])) {
                    print_error("pose_run_people: person %d score %.4f box %.3f,%.3f-%.3f,%.3f\n",
                                p, people[p].score, people[p].box[0], people[p].box[1],
                                people[p].box[2], people[p].box[3]);
                    failures++;
                }
        }
        free(ref);
    }
    for (int k = 0; k < n_inputs; k++)
        free(photos[k]);
    free(inputs);
    tfjs_context_free(all);
    tfjs_model_free(plan);
    return failures;
}

static void test_multipose_vs_tfjs(void **state)
{
    char json[4096];
    struct errbuf err = {0};
    struct tfjs_model *graph = NULL;
    struct pose_model *pm = NULL, *pm_blas = NULL;
    struct pose_context *pc = NULL, *pc_blas = NULL;
    int failures = 0, in_w, in_h;

    (void)state;
    path_join(json, sizeof(json), env_or("CRTD_SOURCE_ROOT", "."),
              "third_party/models/movenet-multipose.json");
    if (tfjs_model_load(json, &(struct tfjs_options){.max_isa = test_isa}, &graph, &err) < 0)
        fail_msg("%s", err.msg);
    struct pose_options prod_options = {.max_isa = test_isa};
    if (pose_model_load_opts(json, &prod_options, &pm, &err) < 0 ||
        pose_model_load_opts(json, &(struct pose_options){.max_isa = POSE_ISA_PORTABLE}, &pm_blas,
                             &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(pose_model_is_multi(pm));
    assert_int_equal(pose_context_new(pm, &pc, &err), 0);
    assert_int_equal(pose_context_new(pm_blas, &pc_blas, &err), 0);
    /* 256x256: the photographs letterboxed into the square */
    failures += compare_multi_size(pc, pc_blas, graph, json, 256, 256, 0);
    /* 384 on the long side, as pose_run_people makes it for a 640x480 frame */
    assert_int_equal(pose_people_input_size(640, 480, 384, &in_w, &in_h, &err), 0);
    assert_int_equal(in_w, 384);
    assert_int_equal(in_h, 288);
    if (!test_short)
        failures += compare_multi_size(pc, pc_blas, graph, json, in_w, in_h, 384);
    /* side is checked */
    struct pose_person people[POSE_MAX_PEOPLE];
    int n;
    uint8_t black[32 * 32 * 3] = {0};
    assert_int_equal(pose_run_people(pc, black, 32, 32, 96, 100, people, &n, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "side"));
    pose_context_free(pc);
    pose_context_free(pc_blas);
    pose_model_free(pm);
    pose_model_free(pm_blas);
    tfjs_model_free(graph);
    assert_int_equal(failures, 0);
}

/* The kernel set asked for is the one that runs, where the CPU has it: a cap
 * the library ignored would make the other runs of this suite test nothing
 * new. */
static void test_isa_obeyed(void **state)
{
    char json[4096];
    struct errbuf err = {0};
    struct pose_model *pm = NULL;

    (void)state;
    path_join(json, sizeof(json), env_or("CRTD_SOURCE_ROOT", "."),
              "third_party/models/movenet-lightning.json");
    if (pose_model_load_opts(json, &(struct pose_options){.max_isa = test_isa}, &pm, &err) < 0)
        fail_msg("%s", err.msg);
    enum pose_isa got = pose_model_isa(pm);
    print_message("--isa %s: the model runs on %s (%s)\n", pose_isa_name(test_isa),
                  pose_isa_name(got), pose_model_kernels(pm));
    assert_int_not_equal(got, POSE_ISA_BEST);
    if (test_isa == POSE_ISA_PORTABLE)
        assert_int_equal(got, POSE_ISA_PORTABLE);
#if defined(__x86_64__)
    if (test_isa == POSE_ISA_AVX2 && cpu_has_avx2_fma())
        assert_int_equal(got, POSE_ISA_AVX2);
    if (test_isa == POSE_ISA_AVX512 && cpu_has_avx512())
        assert_int_equal(got, POSE_ISA_AVX512);
    if (got == POSE_ISA_AVX512 || got == POSE_ISA_AVX2)
        assert_string_equal(pose_model_kernels(pm),
                            got == POSE_ISA_AVX512 ? "AVX-512 GEMM" : "AVX2 GEMM");
#elif defined(__aarch64__)
    if (test_isa != POSE_ISA_PORTABLE)
        assert_int_equal(got, POSE_ISA_NEON);
#endif
    pose_model_free(pm);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--short") == 0) {
            test_short = true;
            continue;
        }
        if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc &&
            pose_isa_parse(argv[i + 1], &test_isa) == 0) {
            i++;
            continue;
        }
        fprintf(stderr,
                "test_pose_numeric: unknown argument '%s' (--short, --isa "
                "best|avx512|avx2|neon|portable)\n",
                argv[i]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isa_obeyed),        cmocka_unit_test(test_lightning_vs_tfjs),
        cmocka_unit_test(test_thunder_vs_tfjs),   cmocka_unit_test(test_tracking_crop),
        cmocka_unit_test(test_multipose_vs_tfjs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
