/* loop: epochs of training over a data set, validation after each, the best
 * epoch's model written, checkpoints to resume from. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train.h"

void train_loop_options_default(struct train_loop_options *opts)
{
    *opts = (struct train_loop_options){.epochs = 20,
                                        .batch = 32,
                                        .window = 8,
                                        .threads = 1,
                                        .lr = 1e-3f,
                                        .min_lr_ratio = 0.05f,
                                        .weight_decay = 0.01f,
                                        .clip_norm = 1.0f,
                                        .warmup = 50,
                                        .balance = true,
                                        .seed = 1,
                                        .dtype = SAFETENSORS_F32};
}

static uint64_t epoch_seed(const struct train_loop_options *o, int epoch)
{
    return (uint64_t)o->seed * 1000003u + (uint64_t)epoch;
}

int train_class_weights(float *out, const struct dataset *ds, int C, bool balance)
{
    int *counts = calloc((size_t)C, sizeof(int));
    if (!counts)
        return -ENOMEM;
    int present = 0;
    for (int i = 0; i < ds->n; i++)
        if (ds->clips[i].label >= 0)
            present += counts[ds->clips[i].label]++ == 0;
    for (int c = 0; c < C; c++)
        out[c] = !balance || counts[c] == 0 ? 1.0f : (float)ds->n / (float)(present * counts[c]);
    free(counts);
    return 0;
}

/* Optimiser steps of the whole run (one per window of each batch), for the
 * learning-rate schedule: the epochs' plans are known in advance. */
static long total_steps(int *order, const struct dataset *ds, int L,
                        const struct train_loop_options *o)
{
    int batches = (ds->n + o->batch - 1) / o->batch;
    long steps = 0;
    for (int epoch = 0; epoch < o->epochs; epoch++) {
        train_batch_plan(order, ds, L, o->batch, epoch_seed(o, epoch));
        for (int bi = 0; bi < batches; bi++) {
            int longest = 1;
            for (int k = bi * o->batch; k < ds->n && k < (bi + 1) * o->batch; k++) {
                int n = train_clip_segments(&ds->clips[order[k]], L);
                longest = n > longest ? n : longest;
            }
            steps += (longest + o->window - 1) / o->window;
        }
    }
    return steps;
}

static int set_provenance(struct crt_model *model, const struct train_loop_options *o, int epoch,
                          double val_mca)
{
    char date[64], number[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
    int r = 0;
    if (o->provenance)
        r = crt_model_set_metadata(model, "provenance.data", o->provenance);
    if (r == 0 && o->recipe)
        r = crt_model_set_metadata(model, "provenance.recipe", o->recipe);
    if (r == 0)
        r = crt_model_set_metadata(model, "provenance.date", date);
    snprintf(number, sizeof(number), "%d", epoch);
    if (r == 0)
        r = crt_model_set_metadata(model, "provenance.epoch", number);
    snprintf(number, sizeof(number), "%.4f", val_mca);
    if (r == 0)
        r = crt_model_set_metadata(model, "provenance.validation_mean_class_accuracy", number);
    /* A fine-tuned model's old calibration no longer fits its logits: back
     * to none until crt calibrate fits it again. */
    if (r == 0 && crt_model_metadata(model, CRT_META_TEMPERATURE))
        r = crt_model_set_metadata(model, CRT_META_TEMPERATURE, "1");
    if (r == 0 && crt_model_metadata(model, CRT_META_THRESHOLD))
        r = crt_model_set_metadata(model, CRT_META_THRESHOLD, "0");
    if (r == 0 && crt_model_metadata(model, "calibration.data"))
        r = crt_model_set_metadata(model, "calibration.data", "none since training");
    return r;
}

/* Reads the loop's place from a checkpoint's FILE.train into the trainer. */
static int resume(struct crt_trainer *trainer, const char *checkpoint,
                  struct train_loop_result *res, struct errbuf *err)
{
    char path[4096];
    struct safetensors *state = NULL;
    snprintf(path, sizeof(path), "%s.train", checkpoint);
    int r = crt_trainer_load(trainer, path, &state, err);
    if (r < 0)
        return r;
    const char *epoch = safetensors_metadata(state, "epoch");
    const char *best = safetensors_metadata(state, "best_mca");
    const char *best_at = safetensors_metadata(state, "best_epoch");
    if (!epoch || !best || !best_at) {
        r = errbuf_set(err, -EBADMSG, "%s: not a checkpoint of crt train (no epoch)", path);
    } else {
        res->first_epoch = atoi(epoch) + 1;
        res->best_mca = atof(best);
        res->best_epoch = atoi(best_at);
    }
    safetensors_free(state);
    return r;
}

static int save_checkpoint(const struct crt_model *model, const struct crt_trainer *trainer,
                           const char *checkpoint, int epoch, const struct train_loop_result *res,
                           struct errbuf *err)
{
    char path[4096], e_text[32], best_text[32], best_at[32];
    snprintf(path, sizeof(path), "%s.train", checkpoint);
    snprintf(e_text, sizeof(e_text), "%d", epoch);
    snprintf(best_text, sizeof(best_text), "%.17g", res->best_mca);
    snprintf(best_at, sizeof(best_at), "%d", res->best_epoch);
    const char *keys[] = {"epoch", "best_mca", "best_epoch"};
    const char *values[] = {e_text, best_text, best_at};
    int r = crt_model_save(model, checkpoint, SAFETENSORS_F32, err);
    if (r == 0)
        r = crt_trainer_save(trainer, path, keys, values, 3, err);
    return r;
}

int train_loop_run(struct crt_model *model, const struct dataset *train, const struct dataset *val,
                   const struct train_loop_options *opts,
                   void (*report)(void *user, const struct train_loop_progress *p), void *user,
                   struct train_loop_result *ret_result, struct errbuf *err)
{
    const struct crt_config *cfg = crt_model_config(model);
    int C = cfg->n_classes, L = cfg->segment_len;
    struct train_loop_result res = {.best_epoch = -1, .best_mca = -1, .last_val_mca = NAN};
    struct crt_trainer *trainer = NULL;
    struct train_batch tb = {0};
    struct confusion cm = {0};
    float *class_weight = NULL;
    int *order = NULL;
    int r;

    if (train->n == 0 || val->n == 0)
        return errbuf_set(err, -EINVAL, "no %s clips", train->n == 0 ? "training" : "validation");
    if (!opts->out || opts->epochs < 1 || opts->batch < 1 || opts->window < 1 || opts->warmup < 1 ||
        (opts->pause_after && !opts->checkpoint))
        return errbuf_set(err, -EINVAL, "training options out of range");
    if (opts->threads > 1)
        blas_set_threads(1); /* the workers are the parallelism */

    struct crt_train_options topts;
    crt_train_options_default(&topts);
    topts.max_batch = opts->batch;
    topts.max_window = opts->window;
    topts.threads = opts->threads;
    topts.weight_decay = opts->weight_decay;
    topts.clip_norm = opts->clip_norm;
    topts.seed = (uint64_t)opts->seed;
    if ((r = crt_trainer_new(model, &topts, &trainer, err)) < 0)
        goto done;
    if (opts->init_weights && !opts->resume)
        crt_trainer_init_weights(trainer, (uint64_t)opts->seed);
    if (opts->resume && (r = resume(trainer, opts->resume, &res, err)) < 0)
        goto done;

    class_weight = calloc((size_t)C, sizeof(float));
    order = calloc((size_t)train->n, sizeof(int));
    if (!class_weight || !order || train_class_weights(class_weight, train, C, opts->balance) < 0 ||
        (r = confusion_init(&cm, C)) < 0 ||
        train_batch_init(&tb, model, trainer, opts->batch, opts->window, class_weight) < 0) {
        r = errbuf_set(err, -ENOMEM, "out of memory");
        goto done;
    }
    struct train_schedule schedule = {.lr = opts->lr,
                                      .min_lr_ratio = opts->min_lr_ratio,
                                      .warmup = opts->warmup,
                                      .total_steps = total_steps(order, train, L, opts)};

    int batches = (train->n + opts->batch - 1) / opts->batch;
    struct train_loop_progress p = {.epochs = opts->epochs,
                                    .batches = batches,
                                    .train_clips = train->n,
                                    .val_clips = val->n,
                                    .threads = opts->threads,
                                    .parameters = crt_model_num_parameters(model)};
    if (report)
        report(user, &p);

    int64_t started = time_mono_ns();
    long clips_done = 0;
    res.last_epoch = opts->epochs;
    if (opts->pause_after && res.first_epoch + opts->pause_after < opts->epochs)
        res.last_epoch = res.first_epoch + opts->pause_after;
    for (int epoch = res.first_epoch; epoch < res.last_epoch; epoch++) {
        train_batch_plan(order, train, L, opts->batch, epoch_seed(opts, epoch));
        double epoch_loss = 0;
        int epoch_right = 0, epoch_clips = 0;
        p.epoch = epoch;
        for (int bi = 0; bi < batches; bi++) {
            int B = train->n - bi * opts->batch < opts->batch ? train->n - bi * opts->batch
                                                              : opts->batch;
            double loss;
            int right;
            r = train_batch_run(&tb, train, order + bi * opts->batch, B, &schedule, &loss, &right);
            if (r < 0) {
                r = errbuf_set(err, r, "batch failed: %s", strerror(-r));
                goto done;
            }
            epoch_loss += loss;
            epoch_right += right;
            epoch_clips += B;
            clips_done += B;
            if (report) {
                double secs = (double)(time_mono_ns() - started) * 1e-9;
                p.event = TRAIN_LOOP_BATCH;
                p.batch = bi;
                p.last_batch = bi == batches - 1;
                p.loss = epoch_loss / epoch_clips;
                p.train_accuracy = (double)epoch_right / epoch_clips;
                p.clips_per_second = (double)clips_done / fmax(secs, 1e-9);
                p.clips_left =
                    (long)(opts->epochs - epoch - 1) * train->n + (train->n - epoch_clips);
                report(user, &p);
            }
        }
        confusion_reset(&cm);
        struct errbuf why = {0};
        r = train_evaluate(&cm, model, val, false, NULL, NULL, &why);
        if (r < 0) {
            r = errbuf_set(err, r, "validation failed: %s", strerror(-r));
            goto done;
        }
        res.last_val_mca = confusion_mean_class_accuracy(&cm, NULL, NULL);
        p.improved = res.last_val_mca > res.best_mca;
        if (p.improved) {
            res.best_mca = res.last_val_mca;
            res.best_epoch = epoch;
            r = set_provenance(model, opts, epoch + 1, res.best_mca);
            if (r < 0) {
                r = errbuf_set(err, r, "%s: cannot set the provenance: %s", opts->out,
                               strerror(-r));
                goto done;
            }
            if ((r = crt_model_save(model, opts->out, opts->dtype, err)) < 0)
                goto done;
        }
        if (opts->checkpoint &&
            (r = save_checkpoint(model, trainer, opts->checkpoint, epoch, &res, err)) < 0)
            goto done;
        if (report) {
            p.event = TRAIN_LOOP_EPOCH;
            p.val_mca = res.last_val_mca;
            p.val_accuracy = confusion_accuracy(&cm);
            report(user, &p);
        }
    }
    if (res.best_epoch < 0) {
        r = errbuf_set(err, -EINVAL, "no epoch left to train (the checkpoint finished %d epochs)",
                       res.first_epoch);
        goto done;
    }
    res.paused = res.last_epoch < opts->epochs;
    res.seconds = (double)(time_mono_ns() - started) * 1e-9;
    *ret_result = res;
    r = 0;
done:
    train_batch_done(&tb);
    confusion_done(&cm);
    free(class_weight);
    free(order);
    crt_trainer_free(trainer);
    return r;
}
