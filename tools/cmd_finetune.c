/* crt train --finetune: teaches a model a home from its labelled stretches
 * (train_finetune in train/finetune.c); cmd_train hands over to it. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "commands.h"
#include "train.h"

#define COMMAND     "train"
#define EXIT_REJECT 3

static void usage(FILE *out)
{
    fprintf(out, "usage: crt train --finetune MODEL --labels DIR --out NEW [options]\n\n"
                 "Fine-tune MODEL on labelled stretches of a home (pose sequences, as\n"
                 "`crt export-labels` writes them) plus a replay of the model's own training\n"
                 "data, so that it does not forget. Class names the model lacks are added.\n"
                 "A seeded share of each class's labels is held out; NEW is written only if\n"
                 "the new model is better on them and no more than the tolerance worse on\n"
                 "the replay. Exit status: 0 accepted (NEW written), 3 not accepted (NEW not\n"
                 "written), 1 failure, 2 usage.\n\n"
                 "  --finetune MODEL    the model to start from\n"
                 "  --labels DIR        labelled stretches (*.pose)\n"
                 "  --out NEW           where the accepted model goes (written atomically)\n"
                 "  --replay DIR        the model's training data to replay (default: made by\n"
                 "                      crt synth from the recipe on the model's card)\n"
                 "  --replay-clips N    synthetic replay clips to train on, and as many to\n"
                 "                      check on (default 400)\n"
                 "  --holdout F         share of each class's labels held out (default 0.2)\n"
                 "  --min-labels N      labels each class needs (default 5)\n"
                 "  --epochs N          passes (default 12)\n"
                 "  --batch N           clips per batch (default 32)\n"
                 "  --window N          segments per backpropagation window (default 8)\n"
                 "  --lr X              peak learning rate (default 5e-4)\n"
                 "  --tolerance P       replay points the new model may lose (default 1)\n"
                 "  --seed N            held-out split, shuffling, replay (default 1)\n"
                 "  --threads N         training threads (default 1); BLAS always uses one\n"
                 "  --nice N            lower this process's priority by N (0-19)\n"
                 "  --idle              run under SCHED_IDLE: only when the CPU is otherwise idle\n"
                 "  --write-rejected    write NEW even when not accepted (its card says so)\n"
                 "  --json              print the summary as JSON on stdout\n");
}

struct printer {
    int64_t last;
    bool newline;
};

static const char *stage_name(enum train_finetune_stage s)
{
    static const char *const names[] = {
        [TRAIN_FINETUNE_LOAD] = "loading the model, labels and replay",
        [TRAIN_FINETUNE_BASELINE] = "judging the model as it is",
        [TRAIN_FINETUNE_TRAIN] = "training",
        [TRAIN_FINETUNE_CHECK] = "judging the new model",
        [TRAIN_FINETUNE_DONE] = "done",
    };
    return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "?";
}

static void print_progress(void *user, const struct train_finetune_progress *p)
{
    struct printer *pr = user;
    if (p->stage != TRAIN_FINETUNE_TRAIN) {
        fprintf(stderr, "%sfine-tune: %s (%.0f%%, %.0f s)\n", pr->newline ? "\n" : "",
                stage_name(p->stage), 100 * p->fraction, p->seconds);
        pr->newline = false;
        return;
    }
    int64_t now = time_mono_ns();
    bool last = p->batch == p->batches - 1;
    if (now - pr->last < 1000000000 && !last)
        return;
    pr->last = now;
    fprintf(stderr, "\rfine-tune: epoch %d/%d  batch %d/%d  loss %.4f  %.0f%%  %.0f s   ",
            p->epoch + 1, p->epochs, p->batch + 1, p->batches, p->loss, 100 * p->fraction,
            p->seconds);
    pr->newline = true;
}

static void print_summary(const struct train_finetune_result *r, const char *out)
{
    printf("labels: %d classes, %d stretches to train on (each %d times per epoch), %d held out\n",
           r->n_classes, r->train_labels, r->label_repeat, r->held_out);
    if (r->skipped_labels)
        printf("labels: %d files left out (named on stderr)\n", r->skipped_labels);
    printf("model: %d classes, %d added; parent %s\n", r->classes_after, r->added, r->parent);
    printf("%-24s %7s %9s %8s %8s\n", "class", "labels", "held out", "before", "after");
    for (int k = 0; k < r->n_classes; k++) {
        const struct train_finetune_class *c = &r->classes[k];
        printf("%-24s %7d %9d %7.1f%% %7.1f%%%s\n", c->name, c->labels, c->held_out,
               100 * c->before, 100 * c->after, c->added ? "  (new)" : "");
    }
    printf("held-out labels: mean per-class accuracy %.2f%% -> %.2f%% (%+.2f points)\n",
           100 * r->held_out_before, 100 * r->held_out_after,
           100 * (r->held_out_after - r->held_out_before));
    printf("replay check (%d clips): mean per-class accuracy %.2f%% -> %.2f%% (%+.2f points)\n",
           r->replay_check, 100 * r->replay_before, 100 * r->replay_after,
           100 * (r->replay_after - r->replay_before));
    printf("%s; %s %s (%.1f s)\n", r->verdict, r->written ? "wrote" : "did not write", out,
           r->seconds);
}

static void print_json(const struct train_finetune_result *r, const char *out)
{
    json_t *classes = json_array();
    for (int k = 0; k < r->n_classes; k++) {
        const struct train_finetune_class *c = &r->classes[k];
        json_array_append_new(classes,
                              json_pack("{s:s, s:i, s:i, s:b, s:f, s:f}", "name", c->name, "labels",
                                        c->labels, "held_out", c->held_out, "added", c->added,
                                        "before", c->before, "after", c->after));
    }
    json_t *j =
        json_pack("{s:s, s:b, s:b, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f, "
                  "s:f, s:o}",
                  "out", out, "accepted", r->accepted, "written", r->written, "verdict", r->verdict,
                  "parent", r->parent, "classes_before", r->classes_before, "classes_after",
                  r->classes_after, "train_labels", r->train_labels, "held_out", r->held_out,
                  "replay_check", r->replay_check, "held_out_before", r->held_out_before,
                  "held_out_after", r->held_out_after, "replay_before", r->replay_before,
                  "replay_after", r->replay_after, "seconds", r->seconds, "classes", classes);
    json_dumpf(j, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(j);
}

/* Lower priority for a fine-tune on the box that runs the cameras. */
static int lower_priority(int nice_by, bool idle)
{
    if (nice_by > 0 && setpriority(PRIO_PROCESS, 0, nice_by) < 0) {
        cli_error(COMMAND, "cannot lower the priority by %d: %s", nice_by, strerror(errno));
        return -1;
    }
    if (idle) {
        struct sched_param sp = {0};
        if (sched_setscheduler(0, SCHED_IDLE, &sp) < 0) {
            cli_error(COMMAND, "cannot run under SCHED_IDLE: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

int cmd_train_finetune(int argc, char **argv)
{
    enum {
        O_FINETUNE = 256,
        O_LABELS,
        O_OUT,
        O_REPLAY,
        O_REPLAY_CLIPS,
        O_HOLDOUT,
        O_MIN_LABELS,
        O_EPOCHS,
        O_BATCH,
        O_WINDOW,
        O_LR,
        O_TOLERANCE,
        O_SEED,
        O_THREADS,
        O_NICE,
        O_IDLE,
        O_WRITE_REJECTED,
        O_JSON,
        O_HELP,
    };
    static const struct option longopts[] = {
        {"finetune", required_argument, NULL, O_FINETUNE},
        {"labels", required_argument, NULL, O_LABELS},
        {"out", required_argument, NULL, O_OUT},
        {"replay", required_argument, NULL, O_REPLAY},
        {"replay-clips", required_argument, NULL, O_REPLAY_CLIPS},
        {"holdout", required_argument, NULL, O_HOLDOUT},
        {"min-labels", required_argument, NULL, O_MIN_LABELS},
        {"epochs", required_argument, NULL, O_EPOCHS},
        {"batch", required_argument, NULL, O_BATCH},
        {"window", required_argument, NULL, O_WINDOW},
        {"lr", required_argument, NULL, O_LR},
        {"tolerance", required_argument, NULL, O_TOLERANCE},
        {"seed", required_argument, NULL, O_SEED},
        {"threads", required_argument, NULL, O_THREADS},
        {"nice", required_argument, NULL, O_NICE},
        {"idle", no_argument, NULL, O_IDLE},
        {"write-rejected", no_argument, NULL, O_WRITE_REJECTED},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct train_finetune_options o;
    train_finetune_options_default(&o);
    int nice_by = 0;
    bool idle = false, as_json = false;
    int c, longindex = 0;
    optind = 1;
    opterr = 0;
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
        if (!end || !(v >= (lo) && v <= (hi))) {                                                   \
            cli_error(COMMAND, "invalid value '%s' for --%s (%g to %g)", optarg,                   \
                      longopts[longindex].name, (double)(lo), (double)(hi));                       \
            return EXIT_USAGE;                                                                     \
        }                                                                                          \
    } while (0)
        switch (c) {
        case O_FINETUNE:
            o.model = optarg;
            break;
        case O_LABELS:
            o.labels = optarg;
            break;
        case O_OUT:
            o.out = optarg;
            break;
        case O_REPLAY:
            o.replay = optarg;
            break;
        case O_REPLAY_CLIPS:
            NUMBER(1, 100000);
            o.replay_clips = (int)v;
            break;
        case O_HOLDOUT:
            NUMBER(0.01, 0.9);
            o.holdout = v;
            break;
        case O_MIN_LABELS:
            NUMBER(2, 100000);
            o.min_labels = (int)v;
            break;
        case O_EPOCHS:
            NUMBER(1, 10000);
            o.epochs = (int)v;
            break;
        case O_BATCH:
            NUMBER(1, 4096);
            o.batch = (int)v;
            break;
        case O_WINDOW:
            NUMBER(1, 1024);
            o.window = (int)v;
            break;
        case O_LR:
            NUMBER(1e-7, 1);
            o.lr = (float)v;
            break;
        case O_TOLERANCE:
            NUMBER(0, 100);
            o.tolerance = v / 100;
            break;
        case O_SEED:
            NUMBER(0, 2e9);
            o.seed = (uint32_t)v;
            break;
        case O_THREADS:
            NUMBER(1, 64);
            o.threads = (int)v;
            break;
        case O_NICE:
            NUMBER(0, 19);
            nice_by = (int)v;
            break;
        case O_IDLE:
            idle = true;
            break;
        case O_WRITE_REJECTED:
            o.write_rejected = true;
            break;
        case O_JSON:
            as_json = true;
            break;
        case 'h':
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            cli_error(COMMAND, "unknown option '%s' for --finetune", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
#undef NUMBER
    }
    if (optind < argc) {
        cli_error(COMMAND, "unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (!o.model || !o.labels || !o.out) {
        cli_error(COMMAND, "--finetune MODEL needs --labels DIR and --out NEW");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (lower_priority(nice_by, idle) < 0)
        return 1;

    struct dataset_report report = cli_dataset_report(stderr);
    o.report = &report;
    struct printer pr = {0};
    struct train_finetune_result res;
    struct errbuf err = {0};
    int r = train_finetune(&o, print_progress, &pr, NULL, &res, &err);
    if (pr.newline)
        fputc('\n', stderr);
    if (r < 0) {
        cli_error(COMMAND, "%s", errbuf_text(&err, r));
        return 1;
    }
    if (as_json)
        print_json(&res, o.out);
    else
        print_summary(&res, o.out);
    return res.accepted ? 0 : EXIT_REJECT;
}
