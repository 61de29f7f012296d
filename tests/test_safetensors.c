/* The safetensors reader and writer, and the model loader on damaged files
 * (suite unit): every damage is a clear -EBADMSG naming the tensor or field,
 * never a crash, and nothing leaks (run under ASan by scripts/test). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "safetensors.h"
#include "crt.h"
#include "data.h"

static char tmp_dir[4096];

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* A file from a header text and n data bytes (0, 1, 2 ...). */
static uint8_t *make_file(const char *header, size_t data, uint64_t declared, size_t *ret_size)
{
    size_t n = strlen(header);
    uint8_t *buf = malloc(8 + n + data + 1);
    assert_non_null(buf);
    uint64_t len = declared ? declared : n;
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(len >> (8 * i));
    memcpy(buf + 8, header, n);
    for (size_t i = 0; i < data; i++)
        buf[8 + n + i] = (uint8_t)i;
    *ret_size = 8 + n + data;
    return buf;
}

static void expect_parse_error(const char *header, size_t data, uint64_t declared,
                               const char *needle)
{
    size_t size;
    uint8_t *buf = make_file(header, data, declared, &size);
    struct safetensors *st = NULL;
    struct errbuf err = {0};
    int r = safetensors_parse(buf, size, &st, &err);
    print_message("%-60.60s -> %s\n", header, err.msg);
    assert_int_equal(r, -EBADMSG);
    assert_null(st);
    if (!strstr(err.msg, needle))
        fail_msg("message '%s' does not contain '%s'", err.msg, needle);
    free(buf);
}

static void malformed_files(void **state)
{
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    expect_parse_error("", 0, 0, "header does not start");
    expect_parse_error(ok, 8, 1000, "header length 1000 larger than the file");
    expect_parse_error(ok, 4, 0, "tensor 'a': data_offsets [0, 8] beyond the 4 bytes");
    expect_parse_error("{\"a\":", 0, 0, "not valid JSON");
    expect_parse_error("[1,2]  ", 0, 0, "header does not start with a JSON object");
    expect_parse_error("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, 0,
                       "tensor 'a': dtype 'F64' not supported");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, 0,
                       "tensor 'a': data_offsets hold 8 bytes, but F32 [3] needs 12");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                       12, 0, "overlap");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, 0,
                       "data bytes [0, 4) before tensor 'a' belong to no tensor");
    expect_parse_error(ok, 12, 0, "data bytes [8, 12) after the last tensor");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, 0,
                       "end before begin");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, 0,
                       "tensor 'a': shape entry 0 is not a non-negative integer");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                       "\"data_offsets\":[0,8]}}",
                       8, 0, "too large");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, 0,
                       "tensor 'a': no shape");
    expect_parse_error("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0,
                       "tensor 'a': no dtype");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, 0,
                       "tensor 'a': data_offsets is not [begin, end]");
    expect_parse_error("{\"a\":7}", 0, 0, "tensor 'a' is not an object");
    expect_parse_error("{\"__metadata__\":{\"k\":1}}", 0, 0, "__metadata__ 'k' is not a string");
    expect_parse_error("{\"__metadata__\":[]}", 0, 0, "__metadata__ is not an object");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
                       0, 0, "duplicate");

    /* Too short for the length field. */
    struct safetensors *st = NULL;
    struct errbuf err = {0};
    assert_int_equal(safetensors_parse("abc", 3, &st, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "too short"));
}

static void write_read_round_trip(void **state)
{
    float a[6] = {1.0f, -2.5f, 3.25f, 0.0f, -0.0f, 1e-3f};
    float scalar = 42.0f;
    struct safetensors_writer *w = safetensors_writer_new();
    assert_non_null(w);
    assert_int_equal(safetensors_writer_set_metadata(w, "who", "test"), 0);
    assert_int_equal(safetensors_writer_add(w, "a", SAFETENSORS_F32, 2, (int64_t[]){2, 3}, a), 0);
    assert_int_equal(safetensors_writer_add(w, "a16", SAFETENSORS_F16, 1, (int64_t[]){6}, a), 0);
    assert_int_equal(safetensors_writer_add(w, "abf", SAFETENSORS_BF16, 1, (int64_t[]){6}, a), 0);
    assert_int_equal(safetensors_writer_add(w, "empty", SAFETENSORS_F32, 2, (int64_t[]){0, 5}, a),
                     0);
    assert_int_equal(safetensors_writer_add(w, "s", SAFETENSORS_F32, 0, NULL, &scalar), 0);
    assert_int_equal(safetensors_writer_add(w, "a", SAFETENSORS_F32, 1, (int64_t[]){1}, a),
                     -EEXIST);

    char path[8192];
    struct errbuf err = {0};
    snprintf(path, sizeof(path), "%s/st_round_trip.safetensors", tmp_dir);
    assert_int_equal(safetensors_writer_save(w, path, &err), 0);
    safetensors_writer_free(w);

    struct safetensors *st;
    if (safetensors_open(path, &st, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(safetensors_count(st), 5);
    assert_string_equal(safetensors_metadata(st, "who"), "test");
    assert_null(safetensors_metadata(st, "nobody"));
    const struct safetensors_tensor *t = safetensors_find(st, "a");
    assert_non_null(t);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[1], 3);
    float out[6];
    safetensors_tensor_to_f32(t, out);
    assert_memory_equal(out, a, sizeof(a));
    safetensors_tensor_to_f32(safetensors_find(st, "a16"), out);
    for (int i = 0; i < 6; i++)
        assert_float_equal(out[i], a[i], 1e-3 * fabsf(a[i]));
    assert_true(signbit(out[4]));
    safetensors_tensor_to_f32(safetensors_find(st, "abf"), out);
    for (int i = 0; i < 6; i++)
        assert_float_equal(out[i], a[i], 1e-2 * fabsf(a[i]));
    assert_int_equal(safetensors_find(st, "empty")->numel, 0);
    t = safetensors_find(st, "s");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    safetensors_tensor_to_f32(t, out);
    assert_true(out[0] == 42.0f);
    assert_int_equal(
        safetensors_tensor_check(safetensors_find(st, "a"), 2, (int64_t[]){3, 2}, &err), -EBADMSG);
    assert_string_equal(err.msg, "tensor 'a': shape [2,3] expected [3,2]");
    safetensors_free(st);

    assert_int_equal(safetensors_open("/nonexistent/x.safetensors", &st, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/x.safetensors"));
}

static void half_conversions(void **state)
{
    assert_int_equal(safetensors_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(safetensors_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(safetensors_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(safetensors_f32_to_f16(65520.0f), 0x7c00);        /* rounds to infinity */
    assert_int_equal(safetensors_f32_to_f16(0x1p-24f), 0x0001);        /* smallest subnormal */
    assert_int_equal(safetensors_f32_to_f16(0x1p-26f), 0x0000);        /* rounds to zero */
    assert_int_equal(safetensors_f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* tie to even */
    assert_int_equal(safetensors_f32_to_f16(1.0f + 0x3p-11f), 0x3c02);
    assert_true(isnan(f16_to_f32(safetensors_f32_to_f16(NAN))));
    assert_true(f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(f16_to_f32(0x03ff) == 0x3ffp-24f);
    assert_true(f16_to_f32(0x7c00) == INFINITY);
    /* Every half survives the trip through float. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue; /* NaN payloads */
        assert_int_equal(safetensors_f32_to_f16(f16_to_f32((uint16_t)h)), h);
    }
    assert_int_equal(safetensors_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(safetensors_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie to even */
    assert_int_equal(safetensors_f32_to_bf16(1.0f + 0x3p-8f), 0x3f82);
    assert_true(isnan(safetensors_bf16_to_f32(safetensors_f32_to_bf16(NAN))));
}

/* ---- model files ---------------------------------------------------------- */

static struct crt_model *small_model(void)
{
    struct crt_config cfg;
    crt_config_default(&cfg);
    cfg.n_classes = SMARTHOME_NUM_CLASSES;
    cfg.d_model = 16;
    cfg.n_heads = 2;
    cfg.d_ff = 24;
    cfg.n_classes = 3;
    struct crt_model *m;
    struct errbuf err = {0};
    assert_int_equal(crt_model_new(&cfg, NULL, &m, &err), 0);
    crt_model_init_random(m, 5);
    assert_int_equal(crt_model_set_metadata(m, "provenance.data", "unit test"), 0);
    return m;
}

/* What to change in a model file written by hand. */
struct damage {
    const char *name;
    const char *meta_key, *meta_value; /* set (value NULL: leave out) */
    bool no_metadata;
    const char *skip_tensor;
    const char *reshape_tensor; /* first dimension minus one */
    const char *extra_tensor;
    const char *nan_tensor;
    long truncate; /* bytes to cut off the end */
    const char *needle;
};

static void write_damaged(const struct crt_model *m, const struct damage *dmg, const char *path)
{
    struct safetensors_writer *w = safetensors_writer_new();
    char tmp[8192];
    struct errbuf err = {0};

    /* The real model card, via a clean save and read back. */
    snprintf(tmp, sizeof(tmp), "%s/st_clean.safetensors", tmp_dir);
    assert_int_equal(crt_model_save(m, tmp, SAFETENSORS_F32, &err), 0);
    struct safetensors *clean;
    assert_int_equal(safetensors_open(tmp, &clean, &err), 0);
    if (!dmg->no_metadata) {
        for (int i = 0; i < safetensors_metadata_count(clean); i++) {
            const char *k, *v;
            safetensors_metadata_at(clean, i, &k, &v);
            if (dmg->meta_key && strcmp(k, dmg->meta_key) == 0)
                continue;
            assert_int_equal(safetensors_writer_set_metadata(w, k, v), 0);
        }
        if (dmg->meta_key && dmg->meta_value)
            assert_int_equal(safetensors_writer_set_metadata(w, dmg->meta_key, dmg->meta_value), 0);
    }
    static float nan_data[4096];
    nan_data[7] = NAN;
    float **copies = calloc((size_t)safetensors_count(clean), sizeof(float *));
    for (int i = 0; i < safetensors_count(clean); i++) {
        const struct safetensors_tensor *t = safetensors_tensor(clean, i);
        if (dmg->skip_tensor && strcmp(t->name, dmg->skip_tensor) == 0)
            continue;
        copies[i] = malloc(t->numel * sizeof(float) + 1);
        safetensors_tensor_to_f32(t, copies[i]);
        int64_t shape[SAFETENSORS_MAX_DIMS];
        memcpy(shape, t->shape, sizeof(shape));
        if (dmg->reshape_tensor && strcmp(t->name, dmg->reshape_tensor) == 0)
            shape[0]--;
        if (dmg->nan_tensor && strcmp(t->name, dmg->nan_tensor) == 0)
            copies[i][t->numel / 2] = NAN;
        assert_int_equal(
            safetensors_writer_add(w, t->name, SAFETENSORS_F32, t->ndim, shape, copies[i]), 0);
    }
    if (dmg->extra_tensor)
        assert_int_equal(safetensors_writer_add(w, dmg->extra_tensor, SAFETENSORS_F32, 1,
                                                (int64_t[]){4}, nan_data),
                         0);
    void *buf;
    size_t size;
    assert_int_equal(safetensors_writer_to_buffer(w, &buf, &size), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, size - (size_t)dmg->truncate, f), size - (size_t)dmg->truncate);
    fclose(f);
    free(buf);
    for (int i = 0; i < safetensors_count(clean); i++)
        free(copies[i]);
    free(copies);
    safetensors_free(clean);
    safetensors_writer_free(w);
}

static void damaged_models(void **state)
{
    static const struct damage damages[] = {
        {"intact", .needle = NULL},
        {"truncated", .truncate = 100, .needle = "beyond the"},
        {"no metadata", .no_metadata = true, .needle = "no __metadata__"},
        {"no n_heads", .meta_key = "n_heads", .needle = "metadata 'n_heads' missing"},
        {"no provenance", .meta_key = "provenance.date",
         .needle = "metadata 'provenance.date' missing"},
        {"bad d_model", .meta_key = "d_model", .meta_value = "16x",
         .needle = "metadata 'd_model': '16x' is not an integer"},
        {"zero heads", .meta_key = "n_heads", .meta_value = "0", .needle = "'n_heads': 0 outside"},
        {"heads", .meta_key = "n_heads", .meta_value = "3", .needle = "does not divide"},
        {"architecture", .meta_key = "architecture", .meta_value = "lstm",
         .needle = "'architecture': 'lstm' unknown (known: crt"},
        {"variant", .meta_key = "variant", .meta_value = "lstm",
         .needle = "'variant': 'lstm' unknown for crt"},
        {"layout", .meta_key = "feature_layout", .meta_value = "2",
         .needle = "'feature_layout': 2 unknown"},
        {"features", .meta_key = "n_features", .meta_value = "90",
         .needle = "'n_features': 90, but feature layout 1 has 89"},
        {"classes", .meta_key = "classes", .meta_value = "[\"a\",\"b\"]",
         .needle = "'classes' has 2 names, n_classes is 3"},
        {"classes twice", .meta_key = "classes", .meta_value = "[\"a\",\"b\",\"a\"]",
         .needle = "'a' appears twice"},
        {"classes json", .meta_key = "classes", .meta_value = "a,b,c",
         .needle = "'classes' is not a JSON array"},
        {"fps", .meta_key = "fps", .meta_value = "-3", .needle = "'fps': -3 outside"},
        {"version", .meta_key = "format_version", .meta_value = "7",
         .needle = "'format_version': '7' unknown"},
        {"missing tensor", .skip_tensor = "enc.1.ln2.bias",
         .needle = "tensor 'enc.1.ln2.bias' missing"},
        {"shape", .reshape_tensor = "head.weight",
         .needle = "tensor 'head.weight': shape [2,16] expected [3,16]"},
        {"extra", .extra_tensor = "enc.2.ln1.weight",
         .needle = "unexpected tensor 'enc.2.ln1.weight'"},
        {"nan", .nan_tensor = "mem.gru.weight_hh", .needle = "tensor 'mem.gru.weight_hh': element"},
    };
    struct crt_model *m = small_model();
    char path[8192];
    for (size_t i = 0; i < ARRAY_SIZE(damages); i++) {
        const struct damage *dmg = &damages[i];
        snprintf(path, sizeof(path), "%s/st_damaged.safetensors", tmp_dir);
        write_damaged(m, dmg, path);
        struct crt_model *got = NULL;
        struct errbuf err = {0};
        int r = crt_model_load(path, &got, &err);
        print_message("%-15s -> %d %s\n", dmg->name, r, err.msg);
        if (!dmg->needle) {
            assert_int_equal(r, 0);
            assert_true(crt_model_fingerprint(got) == crt_model_fingerprint(m));
            crt_model_free(got);
            continue;
        }
        assert_int_equal(r, -EBADMSG);
        assert_null(got);
        if (!strstr(err.msg, dmg->needle))
            fail_msg("%s: message '%s' does not contain '%s'", dmg->name, err.msg, dmg->needle);
        assert_non_null(strstr(err.msg, path)); /* the file is named too */
    }
    crt_model_free(m);
}

static void model_card_and_sizes(void **state)
{
    struct crt_config cfg;
    crt_config_default(&cfg);
    cfg.n_classes = SMARTHOME_NUM_CLASSES;
    struct crt_model *m;
    struct errbuf err = {0};
    assert_int_equal(crt_model_new(&cfg, smarthome_classes, &m, &err), 0);
    assert_string_equal(crt_model_class(m, 0), "Cook.Cleandishes");
    assert_null(crt_model_class(m, 31));
    /* The default model's persistent memory: d floats, within 1 KiB. */
    assert_int_equal(crt_model_memory_floats(m), 128);
    size_t params = crt_model_num_parameters(m);
    print_message("default model: %zu parameters, %.2f MFLOP per segment\n", params,
                  crt_model_flops_per_segment(m) / 1e6);
    assert_true(params > 400000 && params < 700000);
    struct crt_stream *s;
    assert_int_equal(crt_stream_new(m, &s), 0);
    assert_true(crt_stream_memory_bytes(s) <= 1024);
    assert_true(crt_stream_save_size(m) < 4096);
    crt_stream_free(s);
    crt_model_free(m);

    cfg.d_model = 10;
    cfg.n_heads = 4;
    assert_int_equal(crt_model_new(&cfg, smarthome_classes, &m, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "does not divide"));
}

int main(void)
{
    snprintf(tmp_dir, sizeof(tmp_dir), "%s", env_or("CRTD_TEST_TMP", "/tmp"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(malformed_files),      cmocka_unit_test(write_read_round_trip),
        cmocka_unit_test(half_conversions),     cmocka_unit_test(damaged_models),
        cmocka_unit_test(model_card_and_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
