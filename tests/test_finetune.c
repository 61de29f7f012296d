/* Fine-tuning on a home's labels (train/finetune.c, grow.c, replay.c):
 * growing the classifier leaves the old logits exactly as they were; a short
 * fine-tune of the default model on a few labelled stretches of a synthetic
 * home learns a class the model never had; too few labels fail saying how
 * many are needed; a cancelled fine-tune leaves the old output file as it
 * was and nothing beside it; a model whose card says nothing of its data is
 * refused without a replay folder. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "train.h"

static char tmp_dir[4096];
static const char *default_model;

/* Writes per_class labelled stretches of home 2 for each class of the home
 * task that keep[] marks into dir (made afresh); without clip_label only the
 * frames are labelled. */
static void write_home_labels(const char *dir, int per_class, const bool *keep, uint64_t seed,
                              bool clip_label)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(mkdir_parents(dir, 0755), 0);
    struct synth_options so;
    synth_options_default(&so);
    so.task = SYNTH_TASK_HOME;
    so.home = 2;
    so.seed = seed;
    int n_classes;
    const char *const *classes = synth_task_classes(SYNTH_TASK_HOME, &n_classes);
    int have[SYNTH_NUM_HOME] = {0};
    for (uint64_t i = 0; i < 2000; i++) {
        struct synth_clip clip;
        struct errbuf err = {0};
        assert_int_equal(synth_clip_generate(&clip, &so, i, &err), 0);
        if (keep[clip.label] && have[clip.label] < per_class) {
            struct pose_sequence seq;
            assert_int_equal(
                pose_sequence_init(&seq, clip.frames, so.fps, classes, n_classes, &err), 0);
            memcpy(seq.keypoints, clip.keypoints, sizeof(*clip.keypoints) * (size_t)clip.frames);
            memcpy(seq.labels, clip.labels, sizeof(*clip.labels) * (size_t)clip.frames);
            seq.label = clip_label ? clip.label : -1; /* else the frames say it */
            char path[4400];
            snprintf(path, sizeof(path), "%s/stretch-%04d.pose", dir, (int)i);
            assert_int_equal(pose_sequence_save(&seq, path, &err), 0);
            pose_sequence_done(&seq);
            have[clip.label]++;
        }
        synth_clip_done(&clip);
    }
    for (int c = 0; c < SYNTH_NUM_HOME; c++)
        if (keep[c])
            assert_int_equal(have[c], per_class);
}

static const bool three_classes[SYNTH_NUM_HOME] = {true, true, false, false, false, true};

static void short_options(struct train_finetune_options *o, const char *labels, const char *out)
{
    train_finetune_options_default(o);
    o->model = default_model;
    o->labels = labels;
    o->out = out;
    o->replay_clips = 60;
    o->epochs = 4;
    o->seed = 3;
}

static void test_grow_keeps_old_logits(void **state)
{
    struct crt_config cfg;
    crt_config_default(&cfg);
    cfg.d_model = 16;
    cfg.n_heads = 2;
    cfg.d_ff = 32;
    cfg.n_classes = 4;
    struct crt_model *m = NULL, *grown = NULL;
    struct errbuf err = {0};
    assert_int_equal(crt_model_new(&cfg, NULL, &m, &err), 0);
    crt_model_init_random(m, 11);
    assert_int_equal(crt_model_set_metadata(m, "provenance.data", "tests"), 0);
    const char *added[] = {"Feed.Cat", "Water.Plants"};
    assert_int_equal(train_model_grow_classes(m, added, 2, 5, &grown, &err), 0);
    assert_int_equal(crt_model_config(grown)->n_classes, 6);
    assert_string_equal(crt_model_class(grown, 3), crt_model_class(m, 3));
    assert_string_equal(crt_model_class(grown, 4), "Feed.Cat");
    assert_string_equal(crt_model_class(grown, 5), "Water.Plants");
    assert_string_equal(crt_model_metadata(grown, "provenance.data"), "tests");

    /* Three clips of synthetic motion through both models, segment by segment. */
    struct synth_options so;
    synth_options_default(&so);
    struct crt_workspace *wa = NULL, *wb = NULL;
    assert_int_equal(crt_workspace_new(m, 4, &wa), 0);
    assert_int_equal(crt_workspace_new(grown, 4, &wb), 0);
    for (uint64_t i = 0; i < 3; i++) {
        struct synth_clip clip;
        assert_int_equal(synth_clip_generate(&clip, &so, i, &err), 0);
        float *feats = malloc((size_t)clip.frames * FEATURES_V1_DIM * sizeof(float));
        dataset_features(feats, (const struct pose_keypoint(*)[POSE_NUM_KEYPOINTS])clip.keypoints,
                         clip.frames);
        int segments = clip.frames / cfg.segment_len;
        float *la = malloc((size_t)segments * 4 * sizeof(float));
        float *lb = malloc((size_t)segments * 6 * sizeof(float));
        const float *f[1] = {feats};
        float *oa[1] = {la}, *ob[1] = {lb};
        assert_int_equal(crt_model_run_clips(m, wa, 1, f, &clip.frames, oa, NULL, NULL), 0);
        assert_int_equal(crt_model_run_clips(grown, wb, 1, f, &clip.frames, ob, NULL, NULL), 0);
        int differ = 0, new_wins = 0;
        for (int s = 0; s < segments; s++) {
            differ += memcmp(la + s * 4, lb + s * 6, 4 * sizeof(float)) != 0;
            /* A new class starts below the winner: predictions stay the old. */
            int best = 0;
            for (int c = 1; c < 6; c++)
                best = lb[s * 6 + c] > lb[s * 6 + best] ? c : best;
            new_wins += best >= 4;
        }
        printf("clip %d: %d segments, %d with old logits not bit-identical, %d won by a new "
               "class\n",
               (int)i, segments, differ, new_wins);
        assert_int_equal(differ, 0);
        assert_int_equal(new_wins, 0);
        free(la);
        free(lb);
        free(feats);
        synth_clip_done(&clip);
    }
    crt_workspace_free(wa);
    crt_workspace_free(wb);

    /* A name the model has already is refused. */
    struct crt_model *again = NULL;
    const char *dup[] = {"class2"};
    assert_int_equal(train_model_grow_classes(m, dup, 1, 5, &again, &err), -EEXIST);
    assert_non_null(strstr(err.msg, "class2"));
    assert_null(again);
    crt_model_free(grown);
    crt_model_free(m);
}

static void test_finetune_learns_new_class(void **state)
{
    char labels[4200], out[4200];
    snprintf(labels, sizeof(labels), "%s/finetune-labels", tmp_dir);
    snprintf(out, sizeof(out), "%s/finetune-new.safetensors", tmp_dir);
    unlink(out);
    write_home_labels(labels, 8, three_classes, 41, true);
    struct train_finetune_options o;
    short_options(&o, labels, out);
    o.threads = 2;
    o.epochs = 10;
    o.batch = 16; /* enough optimiser steps for a few labels */
    struct train_finetune_result res;
    struct errbuf err = {0};
    int r = train_finetune(&o, NULL, NULL, NULL, &res, &err);
    if (r < 0)
        fail_msg("train_finetune: %s", errbuf_text(&err, r));
    printf("held out %d: %.3f -> %.3f; replay %.3f -> %.3f; %s\n", res.held_out,
           res.held_out_before, res.held_out_after, res.replay_before, res.replay_after,
           res.verdict);
    assert_int_equal(res.n_classes, 3);
    assert_int_equal(res.added, 1);
    assert_int_equal(res.held_out, 3 * 2); /* 20% of 8, rounded, per class */
    const struct train_finetune_class *feed = NULL;
    for (int k = 0; k < res.n_classes; k++)
        if (strcmp(res.classes[k].name, "Feed.Cat") == 0)
            feed = &res.classes[k];
    assert_non_null(feed);
    assert_true(feed->added);
    printf("Feed.Cat held out: %.2f -> %.2f\n", feed->before, feed->after);
    assert_true(feed->before == 0.0);
    assert_true(feed->after > 0.0);
    assert_true(res.held_out_after > res.held_out_before);
    assert_int_equal(res.written, res.accepted);
    if (res.written) {
        struct crt_model *m = NULL;
        assert_int_equal(crt_model_load(out, &m, &err), 0);
        assert_string_equal(crt_model_metadata(m, "finetune.parent"), res.parent);
        assert_non_null(strstr(crt_model_metadata(m, "finetune.labels"), "\"Feed.Cat\""));
        assert_non_null(crt_model_metadata(m, "finetune.validation"));
        /* The parent's recipe, said outright in the child's card. */
        struct train_replay parent_replay;
        struct crt_model *parent = NULL;
        assert_int_equal(crt_model_load(default_model, &parent, &err), 0);
        assert_int_equal(train_replay_recipe(parent, &parent_replay, &err), 0);
        assert_string_equal(crt_model_metadata(m, TRAIN_REPLAY_KEY), parent_replay.spec);
        crt_model_free(parent);
        crt_model_free(m);
    }
}

static void test_too_few_labels(void **state)
{
    char labels[4200], out[4200];
    snprintf(labels, sizeof(labels), "%s/finetune-few", tmp_dir);
    snprintf(out, sizeof(out), "%s/finetune-few.safetensors", tmp_dir);
    unlink(out);
    /* Stretches whose frames alone carry the class count as well. */
    write_home_labels(labels, 3, three_classes, 42, false);
    struct train_finetune_options o;
    short_options(&o, labels, out);
    struct train_finetune_result res;
    struct errbuf err = {0};
    assert_int_equal(train_finetune(&o, NULL, NULL, NULL, &res, &err), -EINVAL);
    printf("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "'Feed.Cat' has 3"));
    assert_non_null(strstr(err.msg, "at least 5"));
    assert_int_equal(access(out, F_OK), -1);
}

struct canceller {
    atomic_bool *cancel;
    int batches;
};

static void cancel_after_two(void *user, const struct train_finetune_progress *p)
{
    struct canceller *c = user;
    if (p->stage == TRAIN_FINETUNE_TRAIN && ++c->batches == 2)
        atomic_store(c->cancel, true);
}

static void test_cancel_leaves_old_file(void **state)
{
    char labels[4200], dir[4200], out[4300];
    snprintf(labels, sizeof(labels), "%s/finetune-cancel-labels", tmp_dir);
    snprintf(dir, sizeof(dir), "%s/finetune-cancel", tmp_dir);
    snprintf(out, sizeof(out), "%s/serving.safetensors", dir);
    write_home_labels(labels, 6, three_classes, 43, true);
    char cmd[20000];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s' && cp '%s' '%s'", dir, dir,
             default_model, out);
    assert_int_equal(system(cmd), 0);
    struct crt_model *before = NULL;
    struct errbuf err = {0};
    assert_int_equal(crt_model_load(out, &before, &err), 0);
    uint64_t fingerprint = crt_model_fingerprint(before);
    crt_model_free(before);

    atomic_bool cancel = false;
    struct canceller c = {.cancel = &cancel};
    struct train_finetune_options o;
    short_options(&o, labels, out);
    struct train_finetune_result res;
    assert_int_equal(train_finetune(&o, cancel_after_two, &c, &cancel, &res, &err), -ECANCELED);
    assert_int_equal(c.batches, 2);

    /* The old file as it was, and nothing else beside it. */
    struct crt_model *after = NULL;
    assert_int_equal(crt_model_load(out, &after, &err), 0);
    assert_true(crt_model_fingerprint(after) == fingerprint);
    assert_null(crt_model_metadata(after, "finetune.parent"));
    crt_model_free(after);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1);

    /* Cancelled before it starts: the same. */
    atomic_store(&cancel, true);
    assert_int_equal(train_finetune(&o, NULL, NULL, &cancel, &res, &err), -ECANCELED);
}

static void test_replay_needs_a_recipe(void **state)
{
    struct crt_config cfg;
    crt_config_default(&cfg);
    cfg.d_model = 16;
    cfg.n_heads = 2;
    cfg.d_ff = 32;
    cfg.n_classes = 3;
    struct crt_model *m = NULL;
    struct errbuf err = {0};
    assert_int_equal(crt_model_new(&cfg, NULL, &m, &err), 0);
    struct train_replay rp;
    assert_int_equal(train_replay_recipe(m, &rp, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "does not say what it was trained on"));
    /* A recipe whose classes are not the model's is refused too. */
    assert_int_equal(crt_model_set_metadata(m, TRAIN_REPLAY_KEY, "synth:activities"), 0);
    assert_int_equal(train_replay_recipe(m, &rp, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "'Walk' is not one of its classes"));
    crt_model_free(m);
}

int main(void)
{
    const char *base = getenv("CRTD_TEST_TMP");
    default_model = getenv("CRTD_DEFAULT_MODEL");
    if (!base || !default_model) {
        fprintf(stderr, "test_finetune: CRTD_TEST_TMP and CRTD_DEFAULT_MODEL must be set\n");
        return 1;
    }
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/finetune-test", base);
    if (mkdir_parents(tmp_dir, 0755) < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_keeps_old_logits),
        cmocka_unit_test(test_replay_needs_a_recipe),
        cmocka_unit_test(test_too_few_labels),
        cmocka_unit_test(test_cancel_leaves_old_file),
        cmocka_unit_test(test_finetune_learns_new_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
