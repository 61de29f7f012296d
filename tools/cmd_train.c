/* crt train: trains or fine-tunes a segment model on pose sequences. */
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cblas.h>
#include <jansson.h>

#include "commands.h"
#include "data.h"
#include "safetensors.h"
#include "crt.h"
#include "train.h"

#define CRT_MAX_CLASSES_CLI 1024

struct train_args {
    const char *data, *smarthome, *val_dir, *out, *init, *checkpoint, *resume, *provenance;
    enum safetensors_dtype dtype;
    enum smarthome_protocol protocol;
    double val_fraction;
    struct crt_config cfg;
    int epochs, batch, window, threads, warmup, seed, pause_after;
    float lr, min_lr_ratio, weight_decay, clip_norm;
    bool balance, as_json;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt train --data DIR --out MODEL [options]\n"
            "       crt train --smarthome DIR --protocol cs|cv1|cv2 --out MODEL [options]\n"
            "       crt train --finetune MODEL --labels DIR --out NEW [options]\n"
            "                 (a home's labels; `crt train --finetune --help`)\n\n"
            "Train a segment model on pose sequences (*.pose, from `crt synth` or\n"
            "`crt extract`): mini-batches of clips, truncated backpropagation through\n"
            "time, AdamW with warm-up and cosine decay, gradient clipping and a\n"
            "class-balanced loss. Every segment learns its clip's label, weighted up\n"
            "toward the end of the clip; a validation pass after each epoch reports\n"
            "mean per-class accuracy, and the best epoch's model is written.\n\n"
            "data:\n"
            "  --data DIR            pose sequences with their labels inside\n"
            "  --val DIR             validation sequences (default: a seeded share of --data)\n"
            "  --val-fraction F      that share (default 0.1)\n"
            "  --smarthome DIR       Smarthome pose caches: the protocol's train split,\n"
            "  --protocol P          its validation split, and a test pass at the end\n"
            "model (new models; a fine-tuned one keeps its own):\n"
            "  --variant V           the memory mechanism (default %s), one of:\n"
            "                        %s\n"
            "                        (docs/MODEL.md, docs/COMPARE.md)\n"
            "  --d N --layers N --heads N --ff N\n"
            "                        sizes (default 128, 2, 4, 4d)\n"
            "  --segment L           frames per segment (default 8)\n"
            "  --fps F               frames per second the model expects (default 10)\n"
            "  --init MODEL          continue training this model (its classes) instead\n"
            "                        of a new one; for a home's labels see --finetune\n"
            "optimisation:\n"
            "  --epochs N            passes over the data (default 20)\n"
            "  --batch N             clips per batch (default 32)\n"
            "  --window N            segments per backpropagation window (default 8)\n"
            "  --lr X                peak learning rate (default 1e-3)\n"
            "  --min-lr-ratio X      final rate as a share of the peak (default 0.05)\n"
            "  --warmup N            warm-up steps (default 50)\n"
            "  --weight-decay X      AdamW decay on matrices (default 0.01)\n"
            "  --clip-norm X         gradient norm cap (default 1.0; 0: none)\n"
            "  --no-balance          plain loss instead of class-balanced\n"
            "  --seed N              seed of weights, shuffling and splits (default 1)\n"
            "  --threads N           worker threads (default: all cores); a seed gives the\n"
            "                        same model for the same thread count\n"
            "output:\n"
            "  --out MODEL           where to write the best model\n"
            "  --checkpoint FILE     after each epoch write FILE (a model file) and\n"
            "                        FILE.train (optimiser state) to resume from\n"
            "  --resume FILE         continue exactly from such a checkpoint\n"
            "  --pause-after N       stop after N epochs of this run (with --checkpoint:\n"
            "                        for time-limited jobs that --resume later)\n"
            "  --dtype T             f32 (default), f16 or bf16 for the written model\n"
            "  --provenance TEXT     describe the training data in the model's metadata\n"
            "                        (default: the folder and the clip count)\n"
            "  --json                print a summary as JSON on stdout\n",
            crt_variant_name(0), crt_variant_names());
}

/* ---- options -------------------------------------------------------------- */

static int parse_args(struct train_args *a, int argc, char **argv)
{
    enum {
        O_DATA = 256,
        O_VAL,
        O_VALFRAC,
        O_SMARTHOME,
        O_PROTOCOL,
        O_VARIANT,
        O_D,
        O_LAYERS,
        O_HEADS,
        O_FF,
        O_SEGMENT,
        O_FPS,
        O_INIT,
        O_EPOCHS,
        O_BATCH,
        O_WINDOW,
        O_LR,
        O_MINLR,
        O_WARMUP,
        O_WD,
        O_CLIP,
        O_NOBAL,
        O_SEED,
        O_THREADS,
        O_OUT,
        O_CKPT,
        O_RESUME,
        O_JSON,
        O_HELP,
        O_DTYPE,
        O_PROVENANCE,
        O_PAUSE
    };
    static const struct option longopts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"val", required_argument, NULL, O_VAL},
        {"val-fraction", required_argument, NULL, O_VALFRAC},
        {"smarthome", required_argument, NULL, O_SMARTHOME},
        {"protocol", required_argument, NULL, O_PROTOCOL},
        {"variant", required_argument, NULL, O_VARIANT},
        {"d", required_argument, NULL, O_D},
        {"layers", required_argument, NULL, O_LAYERS},
        {"heads", required_argument, NULL, O_HEADS},
        {"ff", required_argument, NULL, O_FF},
        {"segment", required_argument, NULL, O_SEGMENT},
        {"fps", required_argument, NULL, O_FPS},
        {"init", required_argument, NULL, O_INIT},
        {"epochs", required_argument, NULL, O_EPOCHS},
        {"batch", required_argument, NULL, O_BATCH},
        {"window", required_argument, NULL, O_WINDOW},
        {"lr", required_argument, NULL, O_LR},
        {"min-lr-ratio", required_argument, NULL, O_MINLR},
        {"warmup", required_argument, NULL, O_WARMUP},
        {"weight-decay", required_argument, NULL, O_WD},
        {"clip-norm", required_argument, NULL, O_CLIP},
        {"no-balance", no_argument, NULL, O_NOBAL},
        {"seed", required_argument, NULL, O_SEED},
        {"threads", required_argument, NULL, O_THREADS},
        {"out", required_argument, NULL, O_OUT},
        {"checkpoint", required_argument, NULL, O_CKPT},
        {"resume", required_argument, NULL, O_RESUME},
        {"json", no_argument, NULL, O_JSON},
        {"dtype", required_argument, NULL, O_DTYPE},
        {"provenance", required_argument, NULL, O_PROVENANCE},
        {"pause-after", required_argument, NULL, O_PAUSE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int c, d_ff_set = 0;

    crt_config_default(&a->cfg);
    a->cfg.n_classes = SMARTHOME_NUM_CLASSES;
    a->val_fraction = 0.1;
    a->epochs = 20;
    a->batch = 32;
    a->window = 8;
    a->threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    a->warmup = 50;
    a->seed = 1;
    a->lr = 1e-3f;
    a->min_lr_ratio = 0.05f;
    a->weight_decay = 0.01f;
    a->clip_norm = 1.0f;
    a->balance = true;

    optind = 1;
    opterr = 0;
    int longindex = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, &longindex)) != -1) {
        char *end = NULL;
        double v = 0;
        if (optarg) {
            v = strtod(optarg, &end);
            if (end == optarg || *end)
                end = NULL;
        }
#define NUMBER(lo, hi)                                                                             \
    do {                                                                                           \
        if (!end || v < (lo) || v > (hi)) {                                                        \
            cli_error("train", "invalid value '%s' for --%s (%g to %g)", optarg,                   \
                      longopts[longindex].name, (double)(lo), (double)(hi));                       \
            return -EINVAL;                                                                        \
        }                                                                                          \
    } while (0)
        switch (c) {
        case O_DATA:
            a->data = optarg;
            break;
        case O_VAL:
            a->val_dir = optarg;
            break;
        case O_VALFRAC:
            NUMBER(0, 0.9);
            a->val_fraction = v;
            break;
        case O_SMARTHOME:
            a->smarthome = optarg;
            break;
        case O_PROTOCOL:
            if (smarthome_protocol_parse(optarg, &a->protocol) < 0) {
                cli_error("train", "unknown protocol '%s' (cs, cv1, cv2)", optarg);
                return -EINVAL;
            }
            break;
        case O_VARIANT:
            if (crt_variant_parse(optarg, &a->cfg) < 0) {
                cli_error("train", "unknown variant '%s' (%s)", optarg, crt_variant_names());
                return -EINVAL;
            }
            break;
        case O_D:
            NUMBER(4, 2048);
            a->cfg.d_model = (int)v;
            break;
        case O_LAYERS:
            NUMBER(1, 32);
            a->cfg.n_layers = (int)v;
            break;
        case O_HEADS:
            NUMBER(1, 64);
            a->cfg.n_heads = (int)v;
            break;
        case O_FF:
            NUMBER(1, 16384);
            a->cfg.d_ff = (int)v;
            d_ff_set = 1;
            break;
        case O_SEGMENT:
            NUMBER(1, 256);
            a->cfg.segment_len = (int)v;
            break;
        case O_FPS:
            NUMBER(0.1, 120);
            a->cfg.fps = v;
            break;
        case O_INIT:
            a->init = optarg;
            break;
        case O_EPOCHS:
            NUMBER(1, 100000);
            a->epochs = (int)v;
            break;
        case O_BATCH:
            NUMBER(1, 4096);
            a->batch = (int)v;
            break;
        case O_WINDOW:
            NUMBER(1, 1024);
            a->window = (int)v;
            break;
        case O_LR:
            NUMBER(1e-7, 1);
            a->lr = (float)v;
            break;
        case O_MINLR:
            NUMBER(0, 1);
            a->min_lr_ratio = (float)v;
            break;
        case O_WARMUP:
            NUMBER(1, 1e9);
            a->warmup = (int)v;
            break;
        case O_WD:
            NUMBER(0, 1);
            a->weight_decay = (float)v;
            break;
        case O_CLIP:
            NUMBER(0, 1e9);
            a->clip_norm = (float)v;
            break;
        case O_NOBAL:
            a->balance = false;
            break;
        case O_SEED:
            NUMBER(0, 2e9);
            a->seed = (int)v;
            break;
        case O_THREADS:
            NUMBER(1, 64);
            a->threads = (int)v;
            break;
        case O_OUT:
            a->out = optarg;
            break;
        case O_CKPT:
            a->checkpoint = optarg;
            break;
        case O_RESUME:
            a->resume = optarg;
            break;
        case O_JSON:
            a->as_json = true;
            break;
        case O_DTYPE:
            if (strcasecmp(optarg, "f32") == 0)
                a->dtype = SAFETENSORS_F32;
            else if (strcasecmp(optarg, "f16") == 0)
                a->dtype = SAFETENSORS_F16;
            else if (strcasecmp(optarg, "bf16") == 0)
                a->dtype = SAFETENSORS_BF16;
            else {
                cli_error("train", "unknown --dtype '%s' (f32, f16, bf16)", optarg);
                return -EINVAL;
            }
            break;
        case O_PROVENANCE:
            a->provenance = optarg;
            break;
        case O_PAUSE:
            NUMBER(1, 100000);
            a->pause_after = (int)v;
            break;
        case 'h':
        case O_HELP:
            usage(stdout);
            return 1;
        default:
            cli_error("train", "unknown option '%s'", argv[optind - 1]);
            usage(stderr);
            return -EINVAL;
        }
#undef NUMBER
    }
    if (optind < argc) {
        cli_error("train", "unexpected argument '%s'", argv[optind]);
        return -EINVAL;
    }
    if (!a->data == !a->smarthome) {
        cli_error("train", "give either --data DIR or --smarthome DIR");
        return -EINVAL;
    }
    if (!a->out) {
        cli_error("train", "--out MODEL is required");
        return -EINVAL;
    }
    if (!d_ff_set)
        a->cfg.d_ff = 4 * a->cfg.d_model;
    if (a->pause_after && !a->checkpoint) {
        cli_error("train", "--pause-after needs --checkpoint FILE to resume from");
        return -EINVAL;
    }
    if (a->cfg.d_model % a->cfg.n_heads != 0) {
        cli_error("train", "--d %d is not a multiple of --heads %d", a->cfg.d_model,
                  a->cfg.n_heads);
        return -EINVAL;
    }
    return 0;
}

/* ---- the command ---------------------------------------------------------- */

static void format_duration(char *buf, size_t size, double seconds)
{
    if (seconds < 0 || !isfinite(seconds))
        snprintf(buf, size, "?");
    else if (seconds < 60)
        snprintf(buf, size, "%.0fs", seconds);
    else if (seconds < 3600)
        snprintf(buf, size, "%dm%02ds", (int)seconds / 60, (int)seconds % 60);
    else
        snprintf(buf, size, "%dh%02dm", (int)seconds / 3600, ((int)seconds % 3600) / 60);
}

/* The model's provenance: the command line and a description of the data. */
static void describe(char *recipe, size_t recipe_size, char *data, size_t data_size,
                     const struct train_args *a, int argc, char **argv, int n_train)
{
    snprintf(recipe, recipe_size, "crt");
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(recipe);
        snprintf(recipe + len, recipe_size - len, " %s", argv[i]);
    }
    if (a->provenance)
        snprintf(data, data_size, "%s", a->provenance);
    else if (a->smarthome)
        snprintf(data, data_size,
                 "Toyota Smarthome pose sequences in %s, protocol %s, %d "
                 "training clips",
                 a->smarthome, smarthome_protocol_name(a->protocol), n_train);
    else
        snprintf(data, data_size, "pose sequences in %s, %d training clips", a->data, n_train);
}

struct data_sets {
    struct dataset train, val, test;
};

static int load_data(struct data_sets *ds, const struct train_args *a,
                     const struct crt_model *model, struct errbuf *err)
{
    int n = crt_model_config(model)->n_classes;
    const char *classes[CRT_MAX_CLASSES_CLI];
    for (int c = 0; c < n; c++)
        classes[c] = crt_model_class(model, c);
    struct dataset_report report = cli_dataset_report(stderr);
    int r;
    if (a->smarthome) {
        struct dataset_filter f = {.smarthome = true, .protocol = a->protocol};
        f.split = SMARTHOME_SPLIT_TRAIN;
        if ((r = dataset_load(&ds->train, a->smarthome, &f, classes, n, &report, err)) < 0)
            return r;
        f.split = SMARTHOME_SPLIT_VALIDATION;
        if ((r = dataset_load(&ds->val, a->smarthome, &f, classes, n, &report, err)) < 0)
            return r;
        f.split = SMARTHOME_SPLIT_TEST;
        return dataset_load(&ds->test, a->smarthome, &f, classes, n, &report, err);
    }
    struct dataset_filter all = {.smarthome = false};
    if ((r = dataset_load(&ds->train, a->data, &all, classes, n, &report, err)) < 0)
        return r;
    if (a->val_dir)
        return dataset_load(&ds->val, a->val_dir, &all, classes, n, &report, err);
    if (dataset_split_validation(&ds->train, &ds->val, a->val_fraction, (uint32_t)a->seed) < 0)
        return errbuf_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* A new model's classes: the protocol's, or those of the data's files. */
static int new_model(struct train_args *a, struct crt_model **ret_model, struct errbuf *err)
{
    char **classes = NULL;
    int n = 0, r;
    if (a->smarthome) {
        classes = calloc(SMARTHOME_NUM_CLASSES, sizeof(*classes));
        for (int c = 0; classes && c < SMARTHOME_NUM_CLASSES; c++)
            if (smarthome_protocol_has_class(a->protocol, c))
                classes[n++] = strdup(smarthome_classes[c]);
        r = classes ? 0 : errbuf_set(err, -ENOMEM, "out of memory");
    } else {
        r = dataset_classes_of_dir(a->data, &classes, &n, err);
    }
    a->cfg.n_classes = n;
    if (r == 0)
        r = crt_model_new(&a->cfg, (const char *const *)classes, ret_model, err);
    for (int i = 0; classes && i < n; i++)
        free(classes[i]);
    free(classes);
    return r;
}

struct printer {
    const struct crt_config *cfg;
    int64_t last_print;
};

static void print_progress(void *user, const struct train_loop_progress *p)
{
    struct printer *pr = user;
    switch (p->event) {
    case TRAIN_LOOP_START:
        fprintf(stderr,
                "training %s/%s (%zu parameters) on %d clips, validating on %d; %d epochs of %d "
                "batches, %d threads\n",
                pr->cfg->architecture, pr->cfg->variant, p->parameters, p->train_clips,
                p->val_clips, p->epochs, p->batches, p->threads);
        break;
    case TRAIN_LOOP_BATCH: {
        int64_t now = time_mono_ns();
        if (p->batch == 0)
            pr->last_print = 0;
        if (now - pr->last_print > 1000000000 || p->last_batch) {
            char eta[32];
            format_duration(eta, sizeof(eta),
                            p->clips_per_second > 0 ? p->clips_left / p->clips_per_second : -1);
            fprintf(stderr,
                    "\repoch %d/%d  batch %d/%d  loss %.4f  train acc %.1f%%  %.0f clips/s  "
                    "left %s   ",
                    p->epoch + 1, p->epochs, p->batch + 1, p->batches, p->loss,
                    100.0 * p->train_accuracy, p->clips_per_second, eta);
            pr->last_print = now;
        }
        break;
    }
    case TRAIN_LOOP_EPOCH:
        fprintf(stderr,
                "\nepoch %d/%d: loss %.4f, validation mean per-class accuracy %.2f%% "
                "(accuracy %.2f%%)%s\n",
                p->epoch + 1, p->epochs, p->loss, 100 * p->val_mca, 100 * p->val_accuracy,
                p->improved ? ", best so far: saved" : "");
        break;
    }
}

int cmd_train(int argc, char **argv)
{
    struct train_args a = {0};
    struct data_sets ds = {0};
    struct crt_model *model = NULL;
    struct errbuf err = {0};
    int status = 1;
    double test_mca = NAN, test_acc = NAN;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--finetune") == 0 || strncmp(argv[i], "--finetune=", 11) == 0)
            return cmd_train_finetune(argc, argv);
    int r = parse_args(&a, argc, argv);
    if (r != 0)
        return r > 0 ? 0 : EXIT_USAGE;

    /* The model: resumed, fine-tuned, or new with the data's classes. */
    const char *from = a.resume ? a.resume : a.init;
    r = from ? crt_model_load(from, &model, &err) : new_model(&a, &model, &err);
    if (r < 0) {
        cli_error("train", "%s", errbuf_text(&err, r));
        goto done;
    }
    const struct crt_config *cfg = crt_model_config(model);
    if (cfg->n_classes > CRT_MAX_CLASSES_CLI) {
        cli_error("train", "%d classes: more than this command handles", cfg->n_classes);
        goto done;
    }
    r = load_data(&ds, &a, model, &err);
    if (r < 0) {
        cli_error("train", "%s", errbuf_text(&err, r));
        goto done;
    }
    if (ds.train.n == 0 || ds.val.n == 0) {
        cli_error("train", "no %s clips%s", ds.train.n == 0 ? "training" : "validation",
                  a.smarthome ? " in the protocol's split" : "");
        goto done;
    }

    char recipe[2048], data[1024];
    describe(recipe, sizeof(recipe), data, sizeof(data), &a, argc, argv, ds.train.n);
    struct train_loop_options lo;
    train_loop_options_default(&lo);
    lo.epochs = a.epochs;
    lo.batch = a.batch;
    lo.window = a.window;
    lo.threads = a.threads;
    lo.lr = a.lr;
    lo.min_lr_ratio = a.min_lr_ratio;
    lo.weight_decay = a.weight_decay;
    lo.clip_norm = a.clip_norm;
    lo.warmup = a.warmup;
    lo.balance = a.balance;
    lo.seed = a.seed;
    lo.init_weights = !from;
    lo.resume = a.resume;
    lo.checkpoint = a.checkpoint;
    lo.pause_after = a.pause_after;
    lo.out = a.out;
    lo.dtype = a.dtype;
    lo.recipe = recipe;
    lo.provenance = data;
    struct printer printer = {.cfg = cfg};
    struct train_loop_result res;
    r = train_loop_run(model, &ds.train, &ds.val, &lo, print_progress, &printer, &res, &err);
    if (r < 0) {
        cli_error("train", "%s", errbuf_text(&err, r));
        goto done;
    }
    if (res.paused) {
        fprintf(stderr, "paused after epoch %d of %d: continue with --resume %s\n", res.last_epoch,
                a.epochs, a.checkpoint);
        status = 0;
        goto done;
    }
    if (a.smarthome && ds.test.n > 0) {
        struct crt_model *best = NULL;
        struct confusion cm = {0};
        r = crt_model_load(a.out, &best, &err);
        if (r == 0)
            r = confusion_init(&cm, crt_model_config(best)->n_classes);
        if (r == 0)
            r = train_evaluate(&cm, best, &ds.test, false, NULL, NULL, &err);
        test_mca = confusion_mean_class_accuracy(&cm, NULL, NULL);
        test_acc = confusion_accuracy(&cm);
        confusion_done(&cm);
        crt_model_free(best);
        if (r < 0) {
            cli_error("train", "test pass failed: %s", errbuf_text(&err, r));
            goto done;
        }
    }
    if (a.as_json) {
        json_t *summary =
            json_pack("{s:s, s:i, s:i, s:i, s:f, s:f, s:o, s:o}", "model", a.out, "epochs",
                      a.epochs, "best_epoch", res.best_epoch + 1, "train_clips", ds.train.n,
                      "best_validation_mca", res.best_mca, "seconds", res.seconds, "test_mca",
                      isnan(test_mca) ? json_null() : json_real(test_mca), "test_accuracy",
                      isnan(test_acc) ? json_null() : json_real(test_acc));
        json_dumpf(summary, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(summary);
    } else {
        printf("wrote %s: epoch %d, validation mean per-class accuracy %.2f%%\n", a.out,
               res.best_epoch + 1, 100 * res.best_mca);
        if (!isnan(test_mca))
            printf("test split (protocol %s, %d clips): mean per-class accuracy %.2f%%, "
                   "accuracy %.2f%%\n",
                   smarthome_protocol_name(a.protocol), ds.test.n, 100 * test_mca, 100 * test_acc);
    }
    status = 0;
done:
    dataset_done(&ds.train);
    dataset_done(&ds.val);
    dataset_done(&ds.test);
    crt_model_free(model);
    return status;
}
