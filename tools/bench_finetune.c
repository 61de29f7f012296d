/* crt bench finetune: what fine-tuning on a home's own labels buys. A
 * synthetic home (crt synth --home: a camera angle and a Feed.Cat activity
 * the base data never has) gives K labelled stretches per class; the model
 * is fine-tuned on them (train_finetune, as `crt train --finetune` and the
 * daemon run it) and scored on other stretches of the same home and on the
 * base classes' own held-out data, beside a fine-tune on the labels alone
 * (no replay) in the same run. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "pose_cli.h"
#include "train.h"

#define COMMAND "bench finetune"
#define MAX_K   8

static void usage(FILE *out)
{
    fprintf(out, "usage: crt bench finetune [options]\n\n"
                 "Fine-tune a model on K labelled stretches per class of a synthetic home\n"
                 "whose camera and whose Feed.Cat activity the base data lacks, and print\n"
                 "the home's accuracy on other stretches before and after, the accuracy\n"
                 "kept on the base classes and the wall time, beside a fine-tune on the\n"
                 "labels alone (no replay).\n\n"
                 "  --model FILE     the base model (default models/default.safetensors)\n"
                 "  --home N         which home (default 1)\n"
                 "  --k LIST         labelled stretches per class (default 5,10,20)\n"
                 "  --test N         held-out stretches per home class (default 40)\n"
                 "  --base-test N    held-out clips of the base data (default 1000)\n"
                 "  --threads N      training threads (default 2)\n"
                 "  --epochs N       fine-tune epochs (default: the fine-tune's own)\n"
                 "  --seed N         seed of the labels and the fine-tune (default 1)\n"
                 "  --no-peer        skip the labels-only fine-tune\n");
}

/* Clips kept as keypoints and class names, to be scored by any model. */
struct clip_set {
    int n;
    struct synth_clip *clips;
    const char *const *classes; /* the synth task's */
};

static void clip_set_done(struct clip_set *s)
{
    for (int i = 0; i < s->n; i++)
        synth_clip_done(&s->clips[i]);
    free(s->clips);
    memset(s, 0, sizeof(*s));
}

/* Clips of opts from index 0 on; with per_class, the first per_class of each
 * class, else the first total. */
static int make_set(struct clip_set *s, const struct synth_options *opts, int per_class, int total,
                    struct errbuf *err)
{
    int n_classes;
    s->classes = synth_task_classes(opts->task, &n_classes);
    int want = per_class ? per_class * n_classes : total;
    s->clips = calloc((size_t)want, sizeof(*s->clips));
    int have[POSE_SEQUENCE_MAX_CLASSES] = {0};
    if (!s->clips)
        return errbuf_set(err, -ENOMEM, "out of memory");
    for (uint64_t i = 0; s->n < want && i < (uint64_t)want * 100; i++) {
        struct synth_clip clip;
        int r = synth_clip_generate(&clip, opts, i, err);
        if (r < 0)
            return r;
        if (per_class && have[clip.label] >= per_class) {
            synth_clip_done(&clip);
            continue;
        }
        have[clip.label]++;
        s->clips[s->n++] = clip;
    }
    return 0;
}

/* The set as a data set of model's classes; a class the model lacks is
 * index C, so that its clips count, and count as wrong. */
static int to_dataset(struct dataset *ds, const struct clip_set *s, const struct crt_model *m)
{
    int C = crt_model_config(m)->n_classes;
    ds->n = 0;
    ds->clips = calloc((size_t)s->n, sizeof(*ds->clips));
    if (!ds->clips)
        return -ENOMEM;
    for (int i = 0; i < s->n; i++) {
        const struct synth_clip *sc = &s->clips[i];
        struct dataset_clip *c = &ds->clips[ds->n++];
        c->label = C;
        for (int k = 0; k < C; k++)
            if (strcmp(crt_model_class(m, k), s->classes[sc->label]) == 0)
                c->label = k;
        c->frames = sc->frames;
        c->path = strdup("bench");
        c->features = malloc((size_t)sc->frames * FEATURES_V1_DIM * sizeof(float));
        c->frame_labels = calloc((size_t)sc->frames, sizeof(int));
        if (!c->path || !c->features || !c->frame_labels)
            return -ENOMEM;
        dataset_features(c->features,
                         (const struct pose_keypoint(*)[POSE_NUM_KEYPOINTS])sc->keypoints,
                         sc->frames);
    }
    return 0;
}

/* Mean per-class accuracy of m on s, and one class's recall (may be NULL). */
static int score(const struct crt_model *m, const struct clip_set *s, const char *one,
                 double *ret_mca, double *ret_one, struct errbuf *err)
{
    struct dataset ds = {0};
    struct confusion cm = {0};
    int C = crt_model_config(m)->n_classes;
    int r = to_dataset(&ds, s, m);
    if (r == 0)
        r = confusion_init(&cm, C + 1);
    if (r < 0) {
        dataset_done(&ds);
        return errbuf_set(err, r, "out of memory");
    }
    r = train_evaluate(&cm, m, &ds, true, NULL, NULL, err);
    *ret_mca = confusion_mean_class_accuracy(&cm, NULL, NULL);
    if (ret_one) {
        int k = C;
        for (int c = 0; c < C; c++)
            if (strcmp(crt_model_class(m, c), one) == 0)
                k = c;
        *ret_one = confusion_recall(&cm, k);
    }
    confusion_done(&cm);
    dataset_done(&ds);
    return r;
}

static int write_labels(const char *dir, const struct clip_set *s, double fps, struct errbuf *err)
{
    int n_classes;
    const char *const *classes = synth_task_classes(SYNTH_TASK_HOME, &n_classes);
    for (int i = 0; i < s->n; i++) {
        const struct synth_clip *sc = &s->clips[i];
        struct pose_sequence seq;
        int r = pose_sequence_init(&seq, sc->frames, fps, classes, n_classes, err);
        if (r < 0)
            return r;
        memcpy(seq.keypoints, sc->keypoints, sizeof(*sc->keypoints) * (size_t)sc->frames);
        memcpy(seq.labels, sc->labels, sizeof(*sc->labels) * (size_t)sc->frames);
        seq.label = sc->label;
        snprintf(seq.source, sizeof(seq.source), "crt bench finetune: a labelled stretch");
        char path[4400];
        if (snprintf(path, sizeof(path), "%s/label-%04d.pose", dir, i) >= (int)sizeof(path)) {
            pose_sequence_done(&seq);
            return errbuf_set(err, -ENAMETOOLONG, "%s: path too long", dir);
        }
        r = pose_sequence_save(&seq, path, err);
        pose_sequence_done(&seq);
        if (r < 0)
            return r;
    }
    return 0;
}

static void remove_dir(const char *dir)
{
    char cmd[4300];
    /* Only the bench's own temporary folder, made by mkdtemp above. */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "crt bench finetune: could not remove %s\n", dir);
}

struct row {
    double home, feed, base, seconds, cpu_seconds;
    bool accepted;
};

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run_one(const struct train_finetune_options *o, const struct clip_set *home,
                   const struct clip_set *base, struct row *row, struct errbuf *err)
{
    struct train_finetune_result res;
    int64_t t0 = time_mono_ns();
    double c0 = cpu_now();
    int r = train_finetune(o, NULL, NULL, NULL, &res, err);
    if (r < 0)
        return r;
    row->seconds = (double)(time_mono_ns() - t0) * 1e-9;
    row->cpu_seconds = cpu_now() - c0;
    row->accepted = res.accepted;
    struct crt_model *m = NULL;
    if ((r = crt_model_load(o->out, &m, err)) < 0)
        return r;
    r = score(m, home, "Feed.Cat", &row->home, &row->feed, err);
    if (r == 0)
        r = score(m, base, NULL, &row->base, NULL, err);
    crt_model_free(m);
    return r;
}

int bench_finetune(int argc, char **argv)
{
    enum { O_MODEL = 256, O_HOME, O_K, O_TEST, O_BASE, O_THREADS, O_EPOCHS, O_SEED, O_NOPEER };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"home", required_argument, NULL, O_HOME},
        {"k", required_argument, NULL, O_K},
        {"test", required_argument, NULL, O_TEST},
        {"base-test", required_argument, NULL, O_BASE},
        {"threads", required_argument, NULL, O_THREADS},
        {"epochs", required_argument, NULL, O_EPOCHS},
        {"seed", required_argument, NULL, O_SEED},
        {"no-peer", no_argument, NULL, O_NOPEER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model_arg = NULL;
    long home = 1, test = 40, base_n = 1000, threads = 2, epochs = 0, seed = 1;
    int ks[MAX_K] = {5, 10, 20}, n_k = 3;
    bool peer = true;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case O_MODEL:
            model_arg = optarg;
            break;
        case O_HOME:
            ok = cli_parse_long(optarg, 1, 1000000, &home);
            break;
        case O_K: {
            n_k = 0;
            char *save = NULL, *list = strdup(optarg);
            for (char *t = strtok_r(list, ",", &save); ok && t; t = strtok_r(NULL, ",", &save)) {
                long k;
                ok = n_k < MAX_K && cli_parse_long(t, 5, 1000, &k);
                if (ok)
                    ks[n_k++] = (int)k;
            }
            free(list);
            ok = ok && n_k > 0;
            break;
        }
        case O_TEST:
            ok = cli_parse_long(optarg, 1, 100000, &test);
            break;
        case O_BASE:
            ok = cli_parse_long(optarg, 1, 1000000, &base_n);
            break;
        case O_THREADS:
            ok = cli_parse_long(optarg, 1, 64, &threads);
            break;
        case O_EPOCHS:
            ok = cli_parse_long(optarg, 1, 10000, &epochs);
            break;
        case O_SEED:
            ok = cli_parse_long(optarg, 0, 1000000, &seed);
            break;
        case O_NOPEER:
            peer = false;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            cli_error(COMMAND, "unknown option '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (!ok) {
            cli_error(COMMAND, "invalid value '%s' for %s (--k: 5 or more each)", optarg,
                      argv[optind - 1]);
            return EXIT_USAGE;
        }
    }

    struct errbuf err = {0};
    char model_path[4096];
    int r = model_arg ? str_copy(model_path, sizeof(model_path), model_arg)
                      : pose_cli_source_path(model_path, sizeof(model_path),
                                             "models/default.safetensors", &err);
    struct crt_model *base_model = NULL;
    struct clip_set home_test = {0}, base_test = {0};
    char dir[] = "/tmp/crt-bench-finetune-XXXXXX";
    bool made_dir = false;
    int status = 1;
    if (r < 0 || (r = crt_model_load(model_path, &base_model, &err)) < 0) {
        cli_error(COMMAND, "%s", errbuf_text(&err, r));
        goto done;
    }
    double fps = crt_model_config(base_model)->fps;

    /* Held-out data: the home's (a seed the labels never use) and the base
     * data's own test set (seed 3 of scripts/train-default-model). */
    struct synth_options ho, bo;
    synth_options_default(&ho);
    ho.task = SYNTH_TASK_HOME;
    ho.home = (int)home;
    ho.fps = fps;
    ho.seed = 900000 + (uint64_t)seed;
    synth_options_default(&bo);
    bo.fps = fps;
    bo.seed = 3;
    fprintf(stderr,
            "crt bench finetune: making %ld test stretches per home class and %ld base "
            "clips\n",
            test, base_n);
    if ((r = make_set(&home_test, &ho, (int)test, 0, &err)) < 0 ||
        (r = make_set(&base_test, &bo, 0, (int)base_n, &err)) < 0) {
        cli_error(COMMAND, "%s", errbuf_text(&err, r));
        goto done;
    }
    double home0, feed0, base0;
    if ((r = score(base_model, &home_test, "Feed.Cat", &home0, &feed0, &err)) < 0 ||
        (r = score(base_model, &base_test, NULL, &base0, NULL, &err)) < 0) {
        cli_error(COMMAND, "%s", errbuf_text(&err, r));
        goto done;
    }
    if (!mkdtemp(dir)) {
        cli_error(COMMAND, "cannot make a temporary folder: %s", strerror(errno));
        goto done;
    }
    made_dir = true;

    printf("home %ld: one camera high in a corner, steep and wide; activities Walk, Sitdown, "
           "Drink.Fromcup, Usetelephone, WatchTV, Feed.Cat (new)\n",
           home);
    printf("model %s; %ld held-out stretches per home class, %ld base clips (crt synth seed 3); "
           "%ld training threads, 1 BLAS thread\n",
           model_path, test, base_n, threads);
    printf("before: home mean per-class accuracy %.1f%% (Feed.Cat %.1f%%), base classes %.1f%%\n\n",
           100 * home0, 100 * feed0, 100 * base0);
    printf("%4s  %-22s %10s %9s %8s %10s %9s %8s %8s %8s  %s\n", "K", "fine-tune", "home after",
           "gain", "Feed.Cat", "base after", "base lost", "wall s", "CPU s", "accepted",
           "frames missed");
    fflush(stdout);
    for (int ki = 0; ki < n_k; ki++) {
        char labels[4200], out[4200];
        snprintf(labels, sizeof(labels), "%s/k%d", dir, ks[ki]);
        snprintf(out, sizeof(out), "%s/k%d.safetensors", dir, ks[ki]);
        struct synth_options lo = ho;
        lo.seed = 700000 + (uint64_t)seed; /* the labels: other stretches of the home */
        struct clip_set label_set = {0};
        if ((r = mkdir_parents(labels, 0755)) < 0 ||
            (r = make_set(&label_set, &lo, ks[ki], 0, &err)) < 0 ||
            (r = write_labels(labels, &label_set, fps, &err)) < 0) {
            clip_set_done(&label_set);
            cli_error(COMMAND, "%s", errbuf_text(&err, r));
            goto done;
        }
        clip_set_done(&label_set);
        for (int method = 0; method < (peer ? 2 : 1); method++) {
            struct train_finetune_options o;
            train_finetune_options_default(&o);
            o.model = model_path;
            o.labels = labels;
            o.out = out;
            o.threads = (int)threads;
            o.seed = (uint32_t)seed;
            o.write_rejected = true; /* scored whatever the verdict; the column says it */
            o.labels_only = method == 1;
            if (epochs)
                o.epochs = (int)epochs;
            fprintf(stderr, "crt bench finetune: K = %d, %s\n", ks[ki],
                    method ? "labels only" : "labels and replay");
            struct row row;
            if ((r = run_one(&o, &home_test, &base_test, &row, &err)) < 0) {
                cli_error(COMMAND, "K = %d: %s", ks[ki], errbuf_text(&err, r));
                goto done;
            }
            /* Frames the cameras missed meanwhile: measured with the daemon's
             * fine-tune job running beside live cameras, by
             * scripts/bench-finetune-frames (docs/TRAINING.md). */
            printf("%4d  %-22s %9.1f%% %+8.1f %7.1f%% %9.1f%% %+9.1f %8.1f %8.1f %8s  %s\n", ks[ki],
                   method ? "labels only (peer)" : "labels + replay (crtd)", 100 * row.home,
                   100 * (row.home - home0), 100 * row.feed, 100 * row.base,
                   100 * (base0 - row.base), row.seconds, row.cpu_seconds,
                   row.accepted ? "yes" : "no", "scripts/bench-finetune-frames");
            fflush(stdout);
        }
    }
    status = 0;
done:
    if (made_dir)
        remove_dir(dir);
    clip_set_done(&home_test);
    clip_set_done(&base_test);
    crt_model_free(base_model);
    return status;
}
