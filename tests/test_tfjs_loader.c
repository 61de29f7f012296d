/* The TensorFlow.js loader on damaged copies of movenet-lightning (suite
 * unit): each damage is a clear error naming what is wrong, never a crash, and
 * nothing leaks (run under ASan by scripts/test). Also: one loaded model
 * shared by two threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "pose.h"
#include "tfjs.h"

static char src_json[4096], src_bin[4096], dir[4096];

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static void copy_prefix(const char *from, const char *to, long keep)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    long done = 0;
    size_t n;

    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        if (keep >= 0 && done + (long)n > keep)
            n = (size_t)(keep - done);
        assert_int_equal(fwrite(buf, 1, n, out), n);
        done += (long)n;
        if (keep >= 0 && done >= keep)
            break;
    }
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    long size;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    return size;
}

/* Writes dir/NAME.json (from json) and dir/movenet-lightning.bin (the first
 * bin_keep bytes of the real one; -1 for all), loads it and checks the error. */
static void expect_error(const char *name, json_t *json, long bin_keep, int code,
                         const char *needle)
{
    char path[8192], bin[8192];
    struct errbuf err = {0};
    struct tfjs_model *model = NULL;

    snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    snprintf(bin, sizeof(bin), "%s/movenet-lightning.bin", dir);
    assert_int_equal(json_dump_file(json, path, 0), 0);
    copy_prefix(src_bin, bin, bin_keep);
    int r = tfjs_model_load(path, NULL, &model, &err);
    print_message("%-14s -> %d: %s\n", name, r, err.msg);
    assert_int_equal(r, code);
    assert_null(model);
    assert_non_null(strstr(err.msg, needle));
}

static json_t *load_json(void)
{
    json_error_t jerr;
    json_t *j = json_load_file(src_json, 0, &jerr);

    assert_non_null(j);
    return j;
}

static json_t *manifest_weight(json_t *j, size_t index)
{
    json_t *group = json_array_get(json_object_get(j, "weightsManifest"), 0);
    return json_array_get(json_object_get(group, "weights"), index);
}

static void test_truncated_bin(void **state)
{
    json_t *j = load_json();

    (void)state;
    expect_error("truncated", j, file_size(src_bin) / 2, -EBADMSG, "truncated");
    expect_error("empty_bin", j, 0, -EBADMSG, "needs");
    json_decref(j);
}

static void test_wrong_manifest_shapes(void **state)
{
    json_t *j = load_json();
    json_t *w = NULL;
    size_t i = 0;

    (void)state;
    /* the first 4-D filter: swap its last two dims (same byte count), so only
     * the graph's declared shape can tell */
    for (; (w = manifest_weight(j, i)); i++)
        if (json_array_size(json_object_get(w, "shape")) == 4)
            break;
    assert_non_null(w);
    const char *wname = json_string_value(json_object_get(w, "name"));
    json_t *shape = json_object_get(w, "shape");
    json_t *d2 = json_incref(json_array_get(shape, 2)), *d3 = json_incref(json_array_get(shape, 3));
    json_array_set_new(shape, 2, d3);
    json_array_set_new(shape, 3, d2);
    expect_error("swapped_dims", j, -1, -EBADMSG, wname);
    /* a shape that no longer adds up to the shard's size */
    json_array_set_new(shape, 3, json_integer(json_integer_value(json_array_get(shape, 3)) + 1));
    expect_error("grown_shape", j, -1, -EBADMSG, "bytes");
    json_decref(j);
}

/* Shards are files beside the JSON: a manifest cannot point elsewhere. */
static void test_shard_paths_stay_beside_the_model(void **state)
{
    static const char *const bad[] = {"../movenet-lightning.bin", "/etc/passwd", ".hidden", "",
                                      "sub/movenet-lightning.bin"};
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = load_json();
        json_t *paths =
            json_object_get(json_array_get(json_object_get(j, "weightsManifest"), 0), "paths");
        json_array_set_new(paths, 0, json_string(bad[i]));
        expect_error("shard_path", j, -1, -EBADMSG, "not a file name beside the model");
        json_decref(j);
    }
}

static void test_unknown_op(void **state)
{
    json_t *j = load_json();
    json_t *nodes = json_object_get(json_object_get(j, "modelTopology"), "node");
    json_t *node = NULL;
    size_t i;

    (void)state;
    json_array_foreach(nodes, i, node) if (strcmp(json_string_value(json_object_get(node, "op")),
                                                  "Sigmoid") == 0) break;
    assert_non_null(node);
    char name[512];
    snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(node, "name")));
    json_object_set_new(node, "op", json_string("FancyNewOp"));
    expect_error("unknown_op", j, -1, -ENOTSUP, "FancyNewOp");
    expect_error("unknown_op2", j, -1, -ENOTSUP, name);
    json_decref(j);
}

static void test_broken_graph(void **state)
{
    json_t *j = load_json();
    json_t *nodes = json_object_get(json_object_get(j, "modelTopology"), "node");
    json_t *node = NULL;
    size_t i;

    (void)state;
    /* an input that names no node */
    json_array_foreach(nodes, i, node) if (strcmp(json_string_value(json_object_get(node, "op")),
                                                  "Sqrt") == 0) break;
    json_array_set_new(json_object_get(node, "input"), 0, json_string("no/such/node"));
    expect_error("dangling", j, -1, -EBADMSG, "no/such/node");
    json_decref(j);
}

static void test_malformed_json(void **state)
{
    char path[8192];
    struct errbuf err = {0};
    struct tfjs_model *model = NULL;

    (void)state;
    snprintf(path, sizeof(path), "%s/malformed.json", dir);
    copy_prefix(src_json, path, file_size(src_json) / 3);
    int r = tfjs_model_load(path, NULL, &model, &err);
    print_message("%-14s -> %d: %s\n", "malformed", r, err.msg);
    assert_int_equal(r, -EBADMSG);
    assert_null(model);
    assert_non_null(strstr(err.msg, "line"));

    snprintf(path, sizeof(path), "%s/does-not-exist.json", dir);
    r = tfjs_model_load(path, NULL, &model, &err);
    assert_int_equal(r, -ENOENT);

    /* a JSON document that is not a graph model */
    snprintf(path, sizeof(path), "%s/notamodel.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"format\": \"graph-model\", \"modelTopology\": {\"node\": 3}}", f);
    fclose(f);
    r = tfjs_model_load(path, NULL, &model, &err);
    print_message("%-14s -> %d: %s\n", "not a model", r, err.msg);
    assert_int_equal(r, -EBADMSG);
    assert_non_null(strstr(err.msg, "modelTopology.node"));
}

static void test_pose_checks_shapes(void **state)
{
    struct errbuf err = {0};
    struct pose_model *pm = NULL;

    (void)state;
    /* the real files load, and freeing NULL is fine */
    if (pose_model_load(src_json, &pm, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(pose_model_input_size(pm), 192);
    pose_model_free(pm);
    pose_model_free(NULL);
    tfjs_model_free(NULL);
    tfjs_context_free(NULL);
    pose_context_free(NULL);
}

/* Writes dir/NAME.json with the signature's output renamed to `output` and a
 * copy of the model's shard beside it; pose_model_load must refuse it with
 * -EBADMSG naming the shape. */
static void expect_pose_output_refused(const char *model, const char *output, const char *shape)
{
    char src[8192], path[8192], bin[8192], from[8192];
    json_error_t jerr;
    struct errbuf err = {0};
    struct pose_model *pm = NULL;
    const char *slash = strrchr(src_json, '/');

    snprintf(src, sizeof(src), "%.*s/movenet-%s.json", (int)(slash - src_json), src_json, model);
    json_t *j = json_load_file(src, 0, &jerr);
    assert_non_null(j);
    json_t *outs = json_object_get(json_object_get(j, "signature"), "outputs");
    const char *key;
    json_t *val;
    json_object_foreach(outs, key, val) json_object_set_new(val, "name", json_string(output));
    snprintf(path, sizeof(path), "%s/%s-output.json", dir, model);
    assert_int_equal(json_dump_file(j, path, 0), 0);
    snprintf(bin, sizeof(bin), "%s/movenet-%s.bin", dir, model);
    snprintf(from, sizeof(from), "%.*s/movenet-%s.bin", (int)(slash - src_json), src_json, model);
    copy_prefix(from, bin, -1);
    int r = pose_model_load(path, &pm, &err);
    print_message("%-14s -> %d: %s\n", model, r, err.msg);
    assert_int_equal(r, -EBADMSG);
    assert_null(pm);
    assert_non_null(strstr(err.msg, shape));
    json_decref(j);
}

/* A graph whose output is neither a single person nor MultiPose's people is
 * refused, naming its shape; the real MultiPose loads as multi-person. */
static void test_pose_output_shapes(void **state)
{
    char path[8192];
    struct errbuf err = {0};
    struct pose_model *pm = NULL;
    struct tfjs_model *graph = NULL, *plan = NULL;
    const char *slash = strrchr(src_json, '/');

    (void)state;
    expect_pose_output_refused("lightning", "StatefulPartitionedCall/Sigmoid:0", "[1,48,48,17]");
    expect_pose_output_refused("multipose", "StatefulPartitionedCall/Reshape_22:0", "[1,6,51]");

    snprintf(path, sizeof(path), "%.*s/movenet-multipose.json", (int)(slash - src_json), src_json);
    if (pose_model_load(path, &pm, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(pose_model_is_multi(pm));
    pose_model_free(pm);
    if (pose_model_load(src_json, &pm, &err) < 0)
        fail_msg("%s", err.msg);
    assert_false(pose_model_is_multi(pm));
    pose_model_free(pm);

    /* plans for other sizes: a fixed graph takes none, MultiPose a multiple of 32 */
    assert_int_equal(tfjs_model_load(src_json, NULL, &graph, &err), 0);
    assert_false(tfjs_model_input_dynamic(graph));
    struct tfjs_shape other = {4, {1, 224, 224, 3}};
    assert_int_equal(tfjs_model_plan_input(graph, &other, &plan, &err), -EINVAL);
    print_message("%-14s -> %s\n", "fixed graph", err.msg);
    assert_non_null(strstr(err.msg, "[1,224,224,3]"));
    tfjs_model_free(graph);
    assert_int_equal(tfjs_model_load(path, NULL, &graph, &err), 0);
    assert_true(tfjs_model_input_dynamic(graph));
    assert_int_equal(tfjs_model_plan_input(graph, &other, &plan, &err), 0);
    struct tfjs_shape out;
    tfjs_model_value_info(plan, tfjs_model_output(plan), &out, NULL);
    assert_int_equal(out.rank, 3);
    assert_int_equal(out.dims[1], 6);
    assert_int_equal(out.dims[2], 56);
    tfjs_model_free(plan);
    struct tfjs_shape channels = {4, {1, 224, 224, 4}};
    assert_int_equal(tfjs_model_plan_input(graph, &channels, &plan, &err), -EINVAL);
    tfjs_model_free(graph);
}

struct thread_job {
    const struct pose_model *model;
    const int32_t *input;
    float out[POSE_NUM_KEYPOINTS * 3];
    int status;
};

static void *thread_run(void *arg)
{
    struct thread_job *job = arg;
    struct errbuf err = {0};
    struct pose_context *pc = NULL;

    job->status = pose_context_new(job->model, &pc, &err);
    for (int i = 0; job->status == 0 && i < 3; i++)
        pose_run_tensor(pc, job->input, job->out);
    pose_context_free(pc);
    return NULL;
}

/* One model, read-only, shared by two threads with a context each: both
 * get exactly what a lone context gets. */
static void test_shared_model_threads(void **state)
{
    struct errbuf err = {0};
    struct pose_model *pm = NULL;
    struct pose_context *pc = NULL;
    struct thread_job jobs[2];
    pthread_t threads[2];
    float alone[POSE_NUM_KEYPOINTS * 3];

    (void)state;
    if (pose_model_load(src_json, &pm, &err) < 0)
        fail_msg("%s", err.msg);
    size_t n = (size_t)192 * 192 * 3;
    int32_t *input = malloc(n * sizeof(*input));
    assert_non_null(input);
    uint32_t seed = 7;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        input[i] = (int32_t)(seed >> 24);
    }
    assert_int_equal(pose_context_new(pm, &pc, &err), 0);
    pose_run_tensor(pc, input, alone);
    for (int t = 0; t < 2; t++) {
        jobs[t] = (struct thread_job){.model = pm, .input = input};
        assert_int_equal(pthread_create(&threads[t], NULL, thread_run, &jobs[t]), 0);
    }
    for (int t = 0; t < 2; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(jobs[t].status, 0);
        assert_memory_equal(jobs[t].out, alone, sizeof(alone));
    }
    free(input);
    pose_context_free(pc);
    pose_model_free(pm);
}

int main(void)
{
    const char *root = env_or("CRTD_SOURCE_ROOT", ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_bin),
        cmocka_unit_test(test_wrong_manifest_shapes),
        cmocka_unit_test(test_shard_paths_stay_beside_the_model),
        cmocka_unit_test(test_unknown_op),
        cmocka_unit_test(test_broken_graph),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_pose_checks_shapes),
        cmocka_unit_test(test_pose_output_shapes),
        cmocka_unit_test(test_shared_model_threads),
    };

    snprintf(src_json, sizeof(src_json), "%s/third_party/models/movenet-lightning.json", root);
    snprintf(src_bin, sizeof(src_bin), "%s/third_party/models/movenet-lightning.bin", root);
    snprintf(dir, sizeof(dir), "%s/tfjs_loader", env_or("CRTD_TEST_TMP", "/tmp"));
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", dir);
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
