/* Calibration and "unknown" (crt/calibration.c, train/calibrate.c,
 * data/mocap_split.c): the decision rule, the metadata a model file carries
 * and refuses, temperature scaling recovering the temperature that made the
 * labels, the threshold choice, and the real-motion protocol's split. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "train.h"

static char tmp_dir[4096];

static void test_decide(void **state)
{
    (void)state;
    const float p[4] = {0.1f, 0.6f, 0.2f, 0.1f};
    assert_int_equal(crt_decide(p, 4, -1, 0), 1);
    assert_int_equal(crt_decide(p, 4, -1, 0.59f), 1);
    assert_int_equal(crt_decide(p, 4, -1, 0.61f), CRT_LABEL_UNKNOWN);
    assert_int_equal(crt_decide(p, 4, 1, 0), CRT_LABEL_UNKNOWN); /* the top is Other */
    assert_int_equal(crt_decide(p, 4, 2, 0.5f), 1);
}

static struct crt_model *small_model(const char *const *classes, int n)
{
    struct crt_config cfg;
    struct crt_model *m = NULL;
    struct errbuf err = {0};
    crt_config_default(&cfg);
    cfg.d_model = 16;
    cfg.n_heads = 2;
    cfg.d_ff = 32;
    cfg.n_layers = 1;
    cfg.n_classes = n;
    assert_int_equal(crt_model_new(&cfg, classes, &m, &err), 0);
    crt_model_init_random(m, 7);
    return m;
}

static void test_metadata(void **state)
{
    (void)state;
    static const char *const classes[] = {"Walk", "Other", "Sitdown"};
    struct crt_model *m = small_model(classes, 3);
    struct errbuf err = {0};
    char path[4200];
    snprintf(path, sizeof(path), "%s/calibrated.safetensors", tmp_dir);
    assert_int_equal(crt_model_other_class(m), 1);
    assert_true(crt_model_temperature(m) == 1.0f);
    assert_true(crt_model_threshold(m) == 0.0f);
    assert_int_equal(crt_model_set_metadata(m, CRT_META_TEMPERATURE, "0"), -EINVAL);
    assert_int_equal(crt_model_set_metadata(m, CRT_META_THRESHOLD, "1.5"), -EINVAL);
    assert_int_equal(crt_model_set_metadata(m, CRT_META_TEMPERATURE, "2.5"), 0);
    assert_int_equal(crt_model_set_metadata(m, CRT_META_THRESHOLD, "0.4"), 0);
    assert_int_equal(crt_model_save(m, path, SAFETENSORS_F32, &err), 0);

    /* Saved and read again; the probabilities are softmax(logits / 2.5). */
    struct crt_model *back = NULL;
    assert_int_equal(crt_model_load(path, &back, &err), 0);
    assert_true(fabsf(crt_model_temperature(back) - 2.5f) < 1e-6f);
    assert_true(fabsf(crt_model_threshold(back) - 0.4f) < 1e-6f);
    const float logits[3] = {2.0f, -1.0f, 0.5f};
    float p[3], q[3];
    crt_model_probs(back, p, logits);
    double sum = 0;
    for (int c = 0; c < 3; c++)
        sum += exp(logits[c] / 2.5);
    for (int c = 0; c < 3; c++)
        q[c] = (float)(exp(logits[c] / 2.5) / sum);
    for (int c = 0; c < 3; c++)
        assert_true(fabsf(p[c] - q[c]) < 1e-6f);
    assert_string_equal(crt_model_label(back, CRT_LABEL_UNKNOWN), "unknown");
    assert_string_equal(crt_model_label(back, 2), "Sitdown");
    crt_model_free(back);

    /* A file whose temperature is out of range is refused, naming the key:
     * the saved "2.5" becomes "-25" (same length, so the header stays valid). */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    char head[65536];
    size_t got = fread(head, 1, sizeof(head), f);
    const char *key = memmem(head, got, CRT_META_TEMPERATURE "\":\"2.5\"", 30);
    assert_non_null(key);
    fseek(f, (long)(key - head) + (long)strlen(CRT_META_TEMPERATURE) + 3, SEEK_SET);
    fwrite("-25", 1, 3, f);
    fclose(f);
    errbuf_clear(&err);
    assert_int_equal(crt_model_load(path, &back, &err), -EBADMSG);
    printf("refused: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "calibration.temperature"));
    crt_model_free(m);
}

/* Labels drawn from softmax(z), logits given as z * T0: the fitted
 * temperature must come back near T0. */
static void test_fit_temperature(void **state)
{
    (void)state;
    enum { N = 4000, C = 5 };
    float *logits = malloc(sizeof(float) * N * C);
    int *labels = malloc(sizeof(int) * N);
    struct rng rng;
    rng_seed(&rng, 3);
    const double T0 = 2.5;
    for (int i = 0; i < N; i++) {
        double z[C], sum = 0;
        for (int c = 0; c < C; c++) {
            z[c] = 1.5 * rng_normal(&rng);
            sum += exp(z[c]);
        }
        double u = rng_uniform(&rng) * sum, acc = 0;
        labels[i] = C - 1;
        for (int c = 0; c < C; c++) {
            acc += exp(z[c]);
            if (u < acc) {
                labels[i] = c;
                break;
            }
        }
        for (int c = 0; c < C; c++)
            logits[i * C + c] = (float)(z[c] * T0);
    }
    double T = train_fit_temperature(logits, labels, N, C);
    printf("fitted temperature %.3f, made with %.3f\n", T, T0);
    assert_true(fabs(T - T0) < 0.25);
    assert_true(train_nll(logits, labels, N, C, T) < train_nll(logits, labels, N, C, 1));

    /* Clips whose top probability is low made Other: some threshold
     * rejects them while keeping most of the known ones. */
    for (int i = 0; i < N; i += 4) {
        for (int c = 0; c < C; c++)
            logits[i * C + c] = (float)(0.2 * rng_normal(&rng));
        labels[i] = C; /* Other: not a model class */
    }
    double t = train_choose_threshold(logits, labels, N, C, C, -1, T);
    struct open_set_figures at, none;
    train_open_set(&at, logits, labels, N, C, C, -1, T, t);
    train_open_set(&none, logits, labels, N, C, C, -1, T, 0);
    printf("threshold %.2f: Other unknown %.3f, known unknown %.3f\n", t, at.other_rejected,
           at.known_rejected);
    assert_true(t > 0);
    assert_true(none.other_rejected == 0);
    assert_true(at.known_rejected <= 0.05);
    assert_true(at.other_rejected > 0.9);
    /* 0.01 more would reject more than 5% of the known clips. */
    struct open_set_figures above;
    train_open_set(&above, logits, labels, N, C, C, -1, T, t + 0.01);
    assert_true(above.known_rejected > 0.05 || t >= 0.95);
    free(logits);
    free(labels);
}

static void test_split(void **state)
{
    (void)state;
    assert_int_equal(mocap_split_of_name("Walk_s35_c01_35_01.pose"), MOCAP_SPLIT_TRAIN);
    assert_int_equal(mocap_split_of_name("Walk_s35_c04_35_01.pose"), MOCAP_SPLIT_CAMERAS);
    assert_int_equal(mocap_split_of_name("Walk_s02_c01_02_01.pose"), MOCAP_SPLIT_SUBJECTS);
    assert_int_equal(mocap_split_of_name("Drink.Fromcup_s79_c04_79_40.pose"), MOCAP_SPLIT_SUBJECTS);
    assert_int_equal(mocap_split_of_name("Laydown_smm_c01_HDM_mm_lieDownFloor_015_120.pose"),
                     MOCAP_SPLIT_HDM05);
    assert_int_equal(mocap_split_of_name("Walk_s999_c01_999_01.pose"), MOCAP_SPLIT_NONE);
    assert_int_equal(mocap_split_of_name("open-s1-000001.pose"), MOCAP_SPLIT_NONE);
    assert_int_equal(mocap_split_of(MOCAP_SOURCE_HDM05, "13", 1), MOCAP_SPLIT_HDM05);
    enum mocap_split s;
    assert_int_equal(mocap_split_parse("cameras", &s), 0);
    assert_int_equal(s, MOCAP_SPLIT_CAMERAS);
    assert_int_equal(mocap_split_parse("test", &s), -EINVAL);
    assert_int_equal(mocap_class_index("Other"), MOCAP_CLASS_OTHER);
    assert_string_equal(mocap_class_name(mocap_class_index("Walk")), "Walk");
}

/* The open task: Other clips exist, and they move more than standing. */
static void test_synth_open(void **state)
{
    (void)state;
    struct synth_options so;
    synth_options_default(&so);
    so.task = SYNTH_TASK_OPEN;
    int n = 0;
    const char *const *classes = synth_task_classes(SYNTH_TASK_OPEN, &n);
    assert_int_equal(n, SYNTH_NUM_ACTIVITIES + 1);
    assert_string_equal(classes[n - 1], "Other");
    int other = 0;
    for (uint64_t i = 0; i < 220; i++) {
        struct synth_clip clip;
        struct errbuf err = {0};
        assert_int_equal(synth_clip_generate(&clip, &so, i, &err), 0);
        other += clip.label == n - 1;
        synth_clip_done(&clip);
    }
    printf("Other clips: %d of 220\n", other);
    assert_true(other > 5 && other < 45); /* about 1 in 11 */
    /* The activities task is unchanged: it never draws Other. */
    so.task = SYNTH_TASK_ACTIVITIES;
    for (uint64_t i = 0; i < 100; i++) {
        struct synth_clip clip;
        struct errbuf err = {0};
        assert_int_equal(synth_clip_generate(&clip, &so, i, &err), 0);
        assert_true(clip.label < SYNTH_NUM_ACTIVITIES);
        synth_clip_done(&clip);
    }
}

int main(void)
{
    const char *t = getenv("CRTD_TEST_TMP");
    snprintf(tmp_dir, sizeof(tmp_dir), "%s", t ? t : "/tmp");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),          cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_fit_temperature), cmocka_unit_test(test_split),
        cmocka_unit_test(test_synth_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
