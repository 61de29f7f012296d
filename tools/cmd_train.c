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
#include "dataset.h"
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
            "       crt train --smarthome DIR --protocol cs|cv1|cv2 --out MODEL [options]\n\n"
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
            "  --variant V           the memory mechanism: gru (default), ncgru (CRT),\n"
            "                        rmt, xl, full, brt, brt-lstm, srformer, none (no\n"
            "                        memory: mean of segment logits), none-last (the\n"
            "                        last segment alone); docs/MODEL.md, docs/COMPARE.md\n"
            "  --d N --layers N --heads N --ff N\n"
            "                        sizes (default 128, 2, 4, 4d)\n"
            "  --segment L           frames per segment (default 8)\n"
            "  --fps F               frames per second the model expects (default 10)\n"
            "  --init MODEL          fine-tune this model instead of a new one\n"
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
            "  --json                print a summary as JSON on stdout\n");
}

/* ---- the data ------------------------------------------------------------- */

static uint32_t hash_path(const char *s, uint32_t seed)
{
    uint32_t h = 2166136261u ^ seed;
    const char *base = strrchr(s, '/');
    for (const char *p = base ? base + 1 : s; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 16777619u;
    }
    return h;
}

/* Moves the clips that the seeded hash picks into val. */
static int split_validation(struct dataset *train, struct dataset *val, double fraction, int seed)
{
    memset(val, 0, sizeof(*val));
    val->clips = calloc((size_t)(train->n ? train->n : 1), sizeof(*val->clips));
    if (!val->clips)
        return -ENOMEM;
    int kept = 0;
    for (int i = 0; i < train->n; i++) {
        bool to_val = (hash_path(train->clips[i].path, (uint32_t)seed) % 10000) <
                      (uint32_t)(fraction * 10000);
        if (to_val)
            val->clips[val->n++] = train->clips[i];
        else
            train->clips[kept++] = train->clips[i];
    }
    train->n = kept;
    return 0;
}

/* The classes of a new model: those of the first sequence in dir. */
static int classes_of_dir(const char *dir, char ***ret_classes, int *ret_n, struct errbuf *err)
{
    char path[4096];
    /* The sorted first *.pose file decides; others must use names from it. */
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        return errbuf_set(err, -errno, "%s: %s", dir, strerror(errno));
    int r = -ENOENT;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]->d_name);
        if (r == -ENOENT && len > 5 && strcmp(names[i]->d_name + len - 5, ".pose") == 0) {
            struct pose_sequence seq;
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
            r = pose_sequence_load(path, &seq, err);
            if (r == 0) {
                *ret_classes = seq.classes;
                *ret_n = seq.n_classes;
                seq.classes = NULL;
                seq.n_classes = 0;
                pose_sequence_done(&seq);
            }
        }
        free(names[i]);
    }
    free(names);
    if (r == -ENOENT)
        return errbuf_set(err, r, "%s: no pose sequences (*.pose) here", dir);
    return r;
}

/* ---- one epoch ------------------------------------------------------------ */

struct train_run {
    struct train_args *args;
    struct crt_model *model;
    struct crt_trainer *trainer;
    struct dataset train, val, test;
    float *class_weight;
    int *order;
    float *batch_feats;
    size_t batch_feats_floats;
    int *targets;
    float *weights, *mem, *probs;
    bool *from_start;
    long total_steps;
    int64_t started_ns;
    long clips_done;
};

static int clip_segments(const struct dataset_clip *clip, int L)
{
    int n = clip->frames / L;
    return n > 0 ? n : 1;
}

static float learning_rate(const struct train_args *a, long step, long total)
{
    if (step < a->warmup)
        return a->lr * (float)(step + 1) / (float)a->warmup;
    double progress =
        total > a->warmup ? (double)(step - a->warmup) / (double)(total - a->warmup) : 1.0;
    double cosine = 0.5 * (1.0 + cos(M_PI * fmin(1.0, progress)));
    return a->lr * (float)(a->min_lr_ratio + (1.0 - a->min_lr_ratio) * cosine);
}

/* The loss weight of segment n of a clip of N segments: rising toward the
 * end (the clip's decision is its last segment's), summing to 1 per clip. */
static float time_weight(int n, int N, bool uniform)
{
    if (uniform)
        return 1.0f / (float)N;
    return (float)(n + 1) / (float)(N * (N + 1) / 2);
}

static int segment_label(const struct dataset_clip *clip, int n, int L)
{
    int last = (n + 1) * L - 1;
    if (last >= clip->frames)
        last = clip->frames - 1;
    return last >= 0 ? clip->frame_labels[last] : clip->label;
}

static int run_batch(struct train_run *run, const int *clip_ids, int B, double *ret_loss,
                     int *ret_right)
{
    const struct crt_config *cfg = crt_model_config(run->model);
    int L = cfg->segment_len, F = cfg->n_features, C = cfg->n_classes;
    int W = run->args->window;
    size_t S = crt_model_memory_floats(run->model);
    int n_max = 0;
    for (int b = 0; b < B; b++) {
        int n = clip_segments(&run->train.clips[clip_ids[b]], L);
        n_max = n > n_max ? n : n_max;
    }
    size_t per_clip = (size_t)n_max * L * F;
    if (per_clip * B > run->batch_feats_floats) {
        float *grown = realloc(run->batch_feats, per_clip * B * sizeof(float));
        if (!grown)
            return -ENOMEM;
        run->batch_feats = grown;
        run->batch_feats_floats = per_clip * B;
    }
    /* Each clip padded to the longest: repeats of its last frame. */
    for (int b = 0; b < B; b++) {
        const struct dataset_clip *clip = &run->train.clips[clip_ids[b]];
        float *dst = run->batch_feats + per_clip * b;
        for (int f = 0; f < n_max * L; f++) {
            int src = f < clip->frames ? f : clip->frames - 1;
            if (src < 0)
                memset(dst + (size_t)f * F, 0, (size_t)F * sizeof(float));
            else
                memcpy(dst + (size_t)f * F, clip->features + (size_t)src * F,
                       (size_t)F * sizeof(float));
        }
        crt_model_initial_memory(run->model, run->mem + S * b);
    }

    double loss = 0;
    int right = 0;
    for (int start = 0; start < n_max; start += W) {
        int Wn = n_max - start < W ? n_max - start : W;
        const float *feats[4096];
        for (int b = 0; b < B; b++) {
            const struct dataset_clip *clip = &run->train.clips[clip_ids[b]];
            int N = clip_segments(clip, L);
            bool uniform = false;
            for (int f = 1; f < clip->frames && !uniform; f++)
                uniform = clip->frame_labels[f] != clip->frame_labels[0];
            feats[b] = run->batch_feats + per_clip * b + (size_t)start * L * F;
            run->from_start[b] = start == 0;
            for (int w = 0; w < Wn; w++) {
                int n = start + w;
                int label = n < N ? segment_label(clip, n, L) : -1;
                run->targets[b * Wn + w] = label;
                run->weights[b * Wn + w] =
                    label >= 0 ? run->class_weight[label] * time_weight(n, N, uniform) : 0.0f;
            }
        }
        crt_trainer_zero_grad(run->trainer);
        loss += crt_trainer_forward_backward(run->trainer, B, Wn, feats, run->targets, run->weights,
                                             run->from_start, run->mem, run->probs);
        long step = (long)crt_trainer_steps(run->trainer);
        crt_trainer_step(run->trainer, 1.0f / (float)B,
                         learning_rate(run->args, step, run->total_steps));
        /* The clip's prediction is its last segment's. */
        for (int b = 0; b < B; b++) {
            const struct dataset_clip *clip = &run->train.clips[clip_ids[b]];
            int last = clip_segments(clip, L) - 1 - start;
            if (last < 0 || last >= Wn)
                continue;
            const float *p = run->probs + ((size_t)b * Wn + last) * C;
            int best = 0;
            for (int c = 1; c < C; c++)
                if (p[c] > p[best])
                    best = c;
            right += best == segment_label(clip, last + start, L);
        }
    }
    *ret_loss = loss;
    *ret_right = right;
    return 0;
}

/* Mean per-class accuracy of the last-segment predictions on a dataset. */
static int evaluate(const struct crt_model *model, const struct dataset *ds, double *ret_mca,
                    double *ret_acc)
{
    const struct crt_config *cfg = crt_model_config(model);
    struct confusion cm;
    struct crt_workspace *ws = NULL;
    int r = confusion_init(&cm, cfg->n_classes);
    if (r < 0)
        return r;
    enum { CHUNK = 64 };
    float *logits[CHUNK] = {0};
    r = crt_workspace_new(model, CHUNK, &ws);
    for (int first = 0; r == 0 && first < ds->n; first += CHUNK) {
        int n = ds->n - first < CHUNK ? ds->n - first : CHUNK;
        const float *feats[CHUNK];
        int frames[CHUNK];
        for (int i = 0; i < n && r == 0; i++) {
            const struct dataset_clip *clip = &ds->clips[first + i];
            feats[i] = clip->features;
            frames[i] = clip->frames;
            free(logits[i]);
            logits[i] = malloc((size_t)(clip->frames / cfg->segment_len + 1) * cfg->n_classes *
                               sizeof(float));
            if (!logits[i])
                r = -ENOMEM;
        }
        if (r == 0)
            r = crt_model_run_clips(model, ws, n, feats, frames, logits, NULL, NULL);
        for (int i = 0; i < n && r == 0; i++) {
            const struct dataset_clip *clip = &ds->clips[first + i];
            int segments = clip->frames / cfg->segment_len;
            if (segments == 0 || clip->label < 0)
                continue; /* too short to decide: not scored during training */
            const float *last = logits[i] + (size_t)(segments - 1) * cfg->n_classes;
            int best = 0;
            for (int c = 1; c < cfg->n_classes; c++)
                if (last[c] > last[best])
                    best = c;
            confusion_add(&cm, clip->label, best);
        }
    }
    for (int i = 0; i < CHUNK; i++)
        free(logits[i]);
    crt_workspace_free(ws);
    *ret_mca = confusion_mean_class_accuracy(&cm, NULL, NULL);
    *ret_acc = confusion_accuracy(&cm);
    confusion_done(&cm);
    return r;
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

static int set_provenance(struct crt_model *model, const struct train_args *a, int argc,
                          char **argv, int epoch, double val_mca, int n_train)
{
    char recipe[2048] = "crt";
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(recipe);
        snprintf(recipe + len, sizeof(recipe) - len, " %s", argv[i]);
    }
    char data[1024], date[64], number[64];
    if (a->provenance)
        snprintf(data, sizeof(data), "%s", a->provenance);
    else if (a->smarthome)
        snprintf(data, sizeof(data),
                 "Toyota Smarthome pose sequences in %s, protocol %s, %d "
                 "training clips",
                 a->smarthome, smarthome_protocol_name(a->protocol), n_train);
    else
        snprintf(data, sizeof(data), "pose sequences in %s, %d training clips", a->data, n_train);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
    int r = crt_model_set_metadata(model, "provenance.data", data);
    if (r == 0)
        r = crt_model_set_metadata(model, "provenance.recipe", recipe);
    if (r == 0)
        r = crt_model_set_metadata(model, "provenance.date", date);
    snprintf(number, sizeof(number), "%d", epoch);
    if (r == 0)
        r = crt_model_set_metadata(model, "provenance.epoch", number);
    snprintf(number, sizeof(number), "%.4f", val_mca);
    if (r == 0)
        r = crt_model_set_metadata(model, "provenance.validation_mean_class_accuracy", number);
    return r;
}

static int load_data(struct train_run *run, struct errbuf *err)
{
    struct train_args *a = run->args;
    int n = crt_model_config(run->model)->n_classes;
    const char *classes[CRT_MAX_CLASSES_CLI];
    for (int c = 0; c < n; c++)
        classes[c] = crt_model_class(run->model, c);
    int r;
    if (a->smarthome) {
        struct dataset_filter f = {.smarthome = true, .protocol = a->protocol};
        f.split = SMARTHOME_SPLIT_TRAIN;
        if ((r = dataset_load(&run->train, a->smarthome, &f, classes, n, true, err)) < 0)
            return r;
        f.split = SMARTHOME_SPLIT_VALIDATION;
        if ((r = dataset_load(&run->val, a->smarthome, &f, classes, n, true, err)) < 0)
            return r;
        f.split = SMARTHOME_SPLIT_TEST;
        return dataset_load(&run->test, a->smarthome, &f, classes, n, true, err);
    }
    struct dataset_filter all = {.smarthome = false};
    if ((r = dataset_load(&run->train, a->data, &all, classes, n, true, err)) < 0)
        return r;
    if (a->val_dir)
        return dataset_load(&run->val, a->val_dir, &all, classes, n, true, err);
    return split_validation(&run->train, &run->val, a->val_fraction, a->seed);
}

static void shuffle(int *order, int n, struct rng *rng)
{
    for (int i = n - 1; i > 0; i--) {
        int j = rng_below(rng, i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static const struct dataset *sort_clips;
static int sort_segment_len;

static int compare_length(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    int nx = clip_segments(&sort_clips->clips[x], sort_segment_len);
    int ny = clip_segments(&sort_clips->clips[y], sort_segment_len);
    return nx != ny ? nx - ny : x - y;
}

/* This epoch's batches: a seeded shuffle, then clips of similar length
 * grouped into the same batch (a batch runs as long as its longest clip),
 * then the batches shuffled. */
static void plan_epoch(int *order, const struct dataset *ds, int L, int batch, uint64_t seed)
{
    struct rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < ds->n; i++)
        order[i] = i;
    shuffle(order, ds->n, &rng);
    /* Sort within pools of 16 batches: lengths match, randomness stays. */
    int pool = 16 * batch;
    sort_clips = ds;
    sort_segment_len = L;
    for (int first = 0; first < ds->n; first += pool) {
        int n = ds->n - first < pool ? ds->n - first : pool;
        qsort(order + first, (size_t)n, sizeof(int), compare_length);
    }
    /* Shuffle whole batches (the last, possibly short one stays last). */
    int full = ds->n / batch;
    for (int i = full - 1; i > 0; i--) {
        int j = rng_below(&rng, i + 1);
        for (int k = 0; k < batch; k++) {
            int t = order[i * batch + k];
            order[i * batch + k] = order[j * batch + k];
            order[j * batch + k] = t;
        }
    }
}

int cmd_train(int argc, char **argv)
{
    struct train_args a = {0};
    struct train_run run = {.args = &a};
    struct errbuf err = {0};
    struct safetensors *state = NULL;
    char **new_classes = NULL;
    int n_new_classes = 0, status = 1, first_epoch = 0, best_epoch = -1;
    double best_mca = -1, last_val_mca = NAN, test_mca = NAN, test_acc = NAN;

    int r = parse_args(&a, argc, argv);
    if (r != 0)
        return r > 0 ? 0 : EXIT_USAGE;
    if (a.threads > 1)
        openblas_set_num_threads(1); /* the workers are the parallelism */

    /* The model: resumed, fine-tuned, or new with the data's classes. */
    const char *from = a.resume ? a.resume : a.init;
    if (from) {
        r = crt_model_load(from, &run.model, &err);
    } else {
        if (a.smarthome) {
            n_new_classes = 0;
            new_classes = calloc(SMARTHOME_NUM_CLASSES, sizeof(*new_classes));
            for (int c = 0; new_classes && c < SMARTHOME_NUM_CLASSES; c++)
                if (smarthome_protocol_has_class(a.protocol, c))
                    new_classes[n_new_classes++] = strdup(smarthome_classes[c]);
            r = new_classes ? 0 : -ENOMEM;
        } else {
            r = classes_of_dir(a.data, &new_classes, &n_new_classes, &err);
        }
        a.cfg.n_classes = n_new_classes;
        if (r == 0)
            r = crt_model_new(&a.cfg, (const char *const *)new_classes, &run.model, &err);
    }
    if (r < 0) {
        cli_error("train", "%s", errbuf_text(&err, r));
        goto done;
    }
    const struct crt_config *cfg = crt_model_config(run.model);
    if (cfg->n_classes > CRT_MAX_CLASSES_CLI) {
        cli_error("train", "%d classes: more than this command handles", cfg->n_classes);
        goto done;
    }

    struct crt_train_options opts;
    crt_train_options_default(&opts);
    opts.max_batch = a.batch;
    opts.max_window = a.window;
    opts.threads = a.threads;
    opts.weight_decay = a.weight_decay;
    opts.clip_norm = a.clip_norm;
    opts.seed = (uint64_t)a.seed;
    r = crt_trainer_new(run.model, &opts, &run.trainer, &err);
    if (r < 0) {
        cli_error("train", "%s", errbuf_text(&err, r));
        goto done;
    }
    if (!from)
        crt_trainer_init_weights(run.trainer, (uint64_t)a.seed);
    if (a.resume) {
        char path[4096];
        snprintf(path, sizeof(path), "%s.train", a.resume);
        r = crt_trainer_load(run.trainer, path, &state, &err);
        if (r < 0) {
            cli_error("train", "%s", errbuf_text(&err, r));
            goto done;
        }
        const char *epoch = safetensors_metadata(state, "epoch");
        const char *best = safetensors_metadata(state, "best_mca");
        const char *best_at = safetensors_metadata(state, "best_epoch");
        if (!epoch || !best || !best_at) {
            cli_error("train", "%s: not a checkpoint of crt train (no epoch)", path);
            goto done;
        }
        first_epoch = atoi(epoch) + 1;
        best_mca = atof(best);
        best_epoch = atoi(best_at);
    }

    r = load_data(&run, &err);
    if (r < 0) {
        cli_error("train", "%s", errbuf_text(&err, r));
        goto done;
    }
    if (run.train.n == 0 || run.val.n == 0) {
        cli_error("train", "no %s clips%s", run.train.n == 0 ? "training" : "validation",
                  a.smarthome ? " in the protocol's split" : "");
        goto done;
    }

    /* Class-balanced weights: n / (K n_c) over the K classes present. */
    int C = cfg->n_classes, L = cfg->segment_len;
    run.class_weight = calloc((size_t)C, sizeof(float));
    int *counts = calloc((size_t)C, sizeof(int));
    run.order = calloc((size_t)run.train.n, sizeof(int));
    size_t S = crt_model_memory_floats(run.model);
    run.targets = calloc((size_t)a.batch * a.window, sizeof(int));
    run.weights = calloc((size_t)a.batch * a.window, sizeof(float));
    run.mem = calloc((size_t)a.batch * S, sizeof(float));
    run.probs = calloc((size_t)a.batch * a.window * C, sizeof(float));
    run.from_start = calloc((size_t)a.batch, sizeof(bool));
    if (!run.class_weight || !counts || !run.order || !run.targets || !run.weights || !run.mem ||
        !run.probs || !run.from_start) {
        free(counts);
        cli_error("train", "out of memory");
        goto done;
    }
    int present = 0, max_segments = 1;
    for (int i = 0; i < run.train.n; i++) {
        const struct dataset_clip *clip = &run.train.clips[i];
        if (clip->label >= 0)
            present += counts[clip->label]++ == 0;
        int n = clip_segments(clip, L);
        max_segments = n > max_segments ? n : max_segments;
    }
    for (int c = 0; c < C; c++)
        run.class_weight[c] =
            !a.balance || counts[c] == 0 ? 1.0f : (float)run.train.n / (float)(present * counts[c]);
    free(counts);

    int batches = (run.train.n + a.batch - 1) / a.batch;
    /* Optimiser steps of the whole run (one per window of each batch), for
     * the learning-rate schedule: the epochs' plans are known in advance. */
    run.total_steps = 0;
    for (int epoch = 0; epoch < a.epochs; epoch++) {
        plan_epoch(run.order, &run.train, L, a.batch,
                   (uint64_t)a.seed * 1000003u + (uint64_t)epoch);
        for (int bi = 0; bi < batches; bi++) {
            int longest = 1;
            for (int k = bi * a.batch; k < run.train.n && k < (bi + 1) * a.batch; k++) {
                int n = clip_segments(&run.train.clips[run.order[k]], L);
                longest = n > longest ? n : longest;
            }
            run.total_steps += (longest + a.window - 1) / a.window;
        }
    }
    (void)max_segments;
    fprintf(stderr,
            "training %s/%s (%zu parameters) on %d clips, validating on %d; %d epochs of %d "
            "batches, %d threads\n",
            cfg->architecture, cfg->variant, crt_model_num_parameters(run.model), run.train.n,
            run.val.n, a.epochs, batches, a.threads);

    run.started_ns = time_mono_ns();
    long clips_at_start = 0;
    int last_epoch = a.epochs;
    if (a.pause_after && first_epoch + a.pause_after < a.epochs)
        last_epoch = first_epoch + a.pause_after;
    for (int epoch = first_epoch; epoch < last_epoch; epoch++) {
        plan_epoch(run.order, &run.train, L, a.batch,
                   (uint64_t)a.seed * 1000003u + (uint64_t)epoch);
        double epoch_loss = 0;
        int epoch_right = 0, epoch_clips = 0;
        int64_t last_print = 0;
        for (int bi = 0; bi < batches; bi++) {
            int B = run.train.n - bi * a.batch < a.batch ? run.train.n - bi * a.batch : a.batch;
            double loss;
            int right;
            r = run_batch(&run, run.order + bi * a.batch, B, &loss, &right);
            if (r < 0) {
                cli_error("train", "batch failed: %s", strerror(-r));
                goto done;
            }
            epoch_loss += loss;
            epoch_right += right;
            epoch_clips += B;
            run.clips_done += B;
            int64_t now = time_mono_ns();
            if (now - last_print > 1000000000 || bi == batches - 1) {
                double secs = (double)(now - run.started_ns) * 1e-9;
                double rate = (double)(run.clips_done - clips_at_start) / fmax(secs, 1e-9);
                long left =
                    (long)(a.epochs - epoch - 1) * run.train.n + (run.train.n - epoch_clips);
                char eta[32];
                format_duration(eta, sizeof(eta), rate > 0 ? left / rate : -1);
                fprintf(stderr,
                        "\repoch %d/%d  batch %d/%d  loss %.4f  train acc %.1f%%  %.0f clips/s  "
                        "left %s   ",
                        epoch + 1, a.epochs, bi + 1, batches, epoch_loss / epoch_clips,
                        100.0 * epoch_right / epoch_clips, rate, eta);
                last_print = now;
            }
        }
        double val_acc;
        r = evaluate(run.model, &run.val, &last_val_mca, &val_acc);
        if (r < 0) {
            cli_error("train", "validation failed: %s", strerror(-r));
            goto done;
        }
        bool improved = last_val_mca > best_mca;
        fprintf(stderr,
                "\nepoch %d/%d: loss %.4f, validation mean per-class accuracy %.2f%% "
                "(accuracy %.2f%%)%s\n",
                epoch + 1, a.epochs, epoch_loss / epoch_clips, 100 * last_val_mca, 100 * val_acc,
                improved ? ", best so far: saved" : "");
        if (improved) {
            best_mca = last_val_mca;
            best_epoch = epoch;
            if ((r = set_provenance(run.model, &a, argc, argv, epoch + 1, best_mca, run.train.n)) <
                    0 ||
                (r = crt_model_save(run.model, a.out, a.dtype, &err)) < 0) {
                cli_error("train", "%s", errbuf_text(&err, r));
                goto done;
            }
        }
        if (a.checkpoint) {
            char path[4096], e_text[32], best_text[32], best_at[32];
            snprintf(path, sizeof(path), "%s.train", a.checkpoint);
            snprintf(e_text, sizeof(e_text), "%d", epoch);
            snprintf(best_text, sizeof(best_text), "%.17g", best_mca);
            snprintf(best_at, sizeof(best_at), "%d", best_epoch);
            const char *keys[] = {"epoch", "best_mca", "best_epoch"};
            const char *values[] = {e_text, best_text, best_at};
            if ((r = crt_model_save(run.model, a.checkpoint, SAFETENSORS_F32, &err)) < 0 ||
                (r = crt_trainer_save(run.trainer, path, keys, values, 3, &err)) < 0) {
                cli_error("train", "%s", errbuf_text(&err, r));
                goto done;
            }
        }
    }

    if (best_epoch < 0) {
        cli_error("train", "no epoch left to train (the checkpoint finished %d epochs)",
                  first_epoch);
        goto done;
    }
    if (last_epoch < a.epochs) {
        fprintf(stderr, "paused after epoch %d of %d: continue with --resume %s\n", last_epoch,
                a.epochs, a.checkpoint);
        status = 0;
        goto done;
    }
    if (a.smarthome && run.test.n > 0) {
        struct crt_model *best = NULL;
        r = crt_model_load(a.out, &best, &err);
        if (r == 0)
            r = evaluate(best, &run.test, &test_mca, &test_acc);
        crt_model_free(best);
        if (r < 0) {
            cli_error("train", "test pass failed: %s", errbuf_text(&err, r));
            goto done;
        }
    }
    if (a.as_json) {
        json_t *summary = json_pack(
            "{s:s, s:i, s:i, s:i, s:f, s:f, s:o, s:o}", "model", a.out, "epochs", a.epochs,
            "best_epoch", best_epoch + 1, "train_clips", run.train.n, "best_validation_mca",
            best_mca, "seconds", (double)(time_mono_ns() - run.started_ns) * 1e-9, "test_mca",
            isnan(test_mca) ? json_null() : json_real(test_mca), "test_accuracy",
            isnan(test_acc) ? json_null() : json_real(test_acc));
        json_dumpf(summary, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(summary);
    } else {
        printf("wrote %s: epoch %d, validation mean per-class accuracy %.2f%%\n", a.out,
               best_epoch + 1, 100 * best_mca);
        if (!isnan(test_mca))
            printf("test split (protocol %s, %d clips): mean per-class accuracy %.2f%%, "
                   "accuracy %.2f%%\n",
                   smarthome_protocol_name(a.protocol), run.test.n, 100 * test_mca, 100 * test_acc);
    }
    status = 0;
done:
    safetensors_free(state);
    for (int i = 0; new_classes && i < n_new_classes; i++)
        free(new_classes[i]);
    free(new_classes);
    free(run.class_weight);
    free(run.order);
    free(run.batch_feats);
    free(run.targets);
    free(run.weights);
    free(run.mem);
    free(run.probs);
    free(run.from_start);
    dataset_done(&run.train);
    dataset_done(&run.val);
    dataset_done(&run.test);
    crt_trainer_free(run.trainer);
    crt_model_free(run.model);
    return status;
}
