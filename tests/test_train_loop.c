/* The training loop of train/ on a tiny synthetic data set in memory: two
 * epochs lower the loss, the best epoch's model is written, and the same
 * seed gives the same weights; a checkpoint paused after one epoch and
 * resumed gives the same model as an uninterrupted run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "train.h"

#define N_TRAIN 48
#define N_VAL   16

static char tmp_dir[4096];

static void make_set(struct dataset *ds, int n, uint64_t first)
{
    struct synth_options so;
    synth_options_default(&so);
    so.min_seconds = 2;
    so.max_seconds = 4;
    ds->n = 0;
    ds->clips = calloc((size_t)n, sizeof(*ds->clips));
    assert_non_null(ds->clips);
    for (int i = 0; i < n; i++) {
        struct synth_clip clip;
        struct errbuf err = {0};
        assert_int_equal(synth_clip_generate(&clip, &so, first + (uint64_t)i, &err), 0);
        struct dataset_clip *c = &ds->clips[ds->n++];
        char name[32];
        snprintf(name, sizeof(name), "clip%d", i);
        c->path = strdup(name);
        c->frames = clip.frames;
        c->label = clip.label;
        c->features = malloc((size_t)clip.frames * FEATURES_V1_DIM * sizeof(float));
        c->frame_labels = malloc((size_t)clip.frames * sizeof(int));
        assert_non_null(c->features);
        assert_non_null(c->frame_labels);
        memcpy(c->frame_labels, clip.labels, (size_t)clip.frames * sizeof(int));
        dataset_features(c->features,
                         (const struct pose_keypoint(*)[POSE_NUM_KEYPOINTS])clip.keypoints,
                         clip.frames);
        synth_clip_done(&clip);
    }
}

struct losses {
    double first_batch, last_epoch[4];
};

static void record(void *user, const struct train_loop_progress *p)
{
    struct losses *l = user;
    if (p->event == TRAIN_LOOP_BATCH && p->epoch == 0 && p->batch == 0)
        l->first_batch = p->loss;
    if (p->event == TRAIN_LOOP_EPOCH && p->epoch < 4)
        l->last_epoch[p->epoch] = p->loss;
}

/* Trains a new d = 16 model for the given epochs; returns the checkpoint's
 * fingerprint (the last epoch's weights). */
static uint64_t train(const struct dataset *tr, const struct dataset *val, int epochs,
                      int pause_after, const char *resume, const char *name, struct losses *l)
{
    int n_classes;
    const char *const *classes = synth_task_classes(SYNTH_TASK_ACTIVITIES, &n_classes);
    struct crt_config cfg;
    crt_config_default(&cfg);
    cfg.d_model = 16;
    cfg.n_heads = 2;
    cfg.d_ff = 32;
    cfg.n_classes = n_classes;
    struct crt_model *model = NULL;
    struct errbuf err = {0};
    char out[4200], ckpt[4200];
    snprintf(out, sizeof(out), "%s/%s.model", tmp_dir, name);
    snprintf(ckpt, sizeof(ckpt), "%s/%s.ckpt", tmp_dir, name);
    if (resume)
        assert_int_equal(crt_model_load(resume, &model, &err), 0);
    else
        assert_int_equal(crt_model_new(&cfg, classes, &model, &err), 0);

    struct train_loop_options lo;
    train_loop_options_default(&lo);
    lo.epochs = epochs;
    lo.batch = 8;
    lo.window = 2;
    lo.warmup = 4;
    lo.lr = 3e-3f;
    lo.threads = 2;
    lo.seed = 7;
    lo.init_weights = !resume;
    lo.resume = resume;
    lo.checkpoint = ckpt;
    lo.pause_after = pause_after;
    lo.out = out;
    struct train_loop_result res;
    int r = train_loop_run(model, tr, val, &lo, record, l, &res, &err);
    if (r < 0)
        fail_msg("train_loop_run: %s", errbuf_text(&err, r));
    assert_int_equal(res.paused, pause_after && pause_after < epochs);
    assert_true(res.best_epoch >= 0 && res.best_epoch < epochs);
    crt_model_free(model);
    model = NULL;
    assert_int_equal(crt_model_load(ckpt, &model, &err), 0);
    uint64_t fingerprint = crt_model_fingerprint(model);
    crt_model_free(model);
    assert_int_equal(access(out, R_OK), 0);
    return fingerprint;
}

static void test_loop_learns_and_repeats(void **state)
{
    struct dataset tr = {0}, val = {0};
    make_set(&tr, N_TRAIN, 0);
    make_set(&val, N_VAL, 1000);
    struct losses a = {0}, b = {0};
    uint64_t fa = train(&tr, &val, 2, 0, NULL, "a", &a);
    uint64_t fb = train(&tr, &val, 2, 0, NULL, "b", &b);
    printf("loss: first batch %.4f, epoch 1 %.4f, epoch 2 %.4f\n", a.first_batch, a.last_epoch[0],
           a.last_epoch[1]);
    assert_true(a.last_epoch[1] < a.first_batch);
    assert_true(a.last_epoch[1] < a.last_epoch[0]);
    assert_true(fa == fb);
    assert_true(a.last_epoch[1] == b.last_epoch[1]);
    dataset_done(&tr);
    dataset_done(&val);
}

static void test_loop_resumes_exactly(void **state)
{
    struct dataset tr = {0}, val = {0};
    make_set(&tr, N_TRAIN, 0);
    make_set(&val, N_VAL, 1000);
    struct losses l = {0};
    char ckpt[4200];
    uint64_t whole = train(&tr, &val, 2, 0, NULL, "whole", &l);
    train(&tr, &val, 2, 1, NULL, "part", &l);
    snprintf(ckpt, sizeof(ckpt), "%s/part.ckpt", tmp_dir);
    uint64_t resumed = train(&tr, &val, 2, 0, ckpt, "part", &l);
    assert_true(whole == resumed);
    dataset_done(&tr);
    dataset_done(&val);
}

int main(void)
{
    const char *base = getenv("CRTD_TEST_TMP");
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/train-loop", base && *base ? base : "/tmp");
    mkdir_parents(tmp_dir, 0755);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_learns_and_repeats),
        cmocka_unit_test(test_loop_resumes_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
