/* crt compare: every memory mechanism trained with the same budget and seed on
 * the same synthetic tasks (recall at several K, activities), then one table:
 * accuracy per task, parameters, FLOPs per segment, state bytes per stream and
 * microseconds of CPU per segment step. The data is made by `crt synth` (a
 * child process, into the work folder); training and evaluation call
 * train/'s loop and evaluation, as `crt train` and `crt eval` do. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "crt.h"
#include "train.h"

#define COMMAND      "compare"
#define MAX_TASKS    8
#define MAX_VARIANTS 32

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt compare --out DIR [options]\n\n"
            "Train every memory mechanism with the same sizes, epochs and seed on the\n"
            "same synthetic data (`crt synth`), evaluate each on held-out clips\n"
            "(`crt eval --protocol all`), and print one table: accuracy per task,\n"
            "parameters, FLOPs per segment, state bytes per stream, microseconds of\n"
            "CPU per segment step (one stream, one thread).\n\n"
            "  --out DIR          work folder: data, models, logs (kept; data is reused)\n"
            "  --variants LIST    comma-separated `crt train --variant` names\n"
            "                     (default: all of them:\n"
            "                     %s)\n"
            "  --tasks LIST       recall<K> and activities (default\n"
            "                     recall2,recall4,recall8,recall16,activities)\n"
            "  --train-clips N    training clips per task (default 1500)\n"
            "  --test-clips N     held-out clips per task (default 300)\n"
            "  --d N --heads N --layers N --epochs N --seed N --threads N\n"
            "                     passed to crt train (default 32, 4, 2, 6, 1, all cores)\n"
            "  --reuse            keep model files already in DIR instead of retraining\n"
            "  --json             print the table as JSON on stdout\n",
            crt_variant_names());
}

struct options {
    const char *out;
    char variants[MAX_VARIANTS][CRT_NAME_MAX];
    int n_variants;
    char tasks[MAX_TASKS][32];
    int n_tasks;
    int train_clips, test_clips, d, heads, layers, epochs, seed, threads;
    bool reuse, json;
};

static int split_list(const char *text, char (*out)[32], int max, size_t width)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len >= width || n == max)
            return -EINVAL;
        memcpy(out[n], p, len);
        out[n][len] = 0;
        n++;
        p += len + (end ? 1 : 0);
    }
    return n;
}

/* Runs `crt ARGS...` (this executable), stdout to out_path (or /dev/null),
 * stderr to log_path. Returns its exit status, or -1. */
static int run_crt(char **args, const char *out_path, const char *log_path)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (out < 0 || log < 0)
            _exit(127);
        dup2(out, 1);
        dup2(log, 2);
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* recall<K> or activities: writes the synth arguments for one split. */
static int synth_task(const struct options *o, const char *task, const char *dir, int clips,
                      int seed, const char *log)
{
    char n[16], s[16], k[16];
    snprintf(n, sizeof(n), "%d", clips);
    snprintf(s, sizeof(s), "%d", seed);
    if (strncmp(task, "recall", 6) == 0) {
        snprintf(k, sizeof(k), "%s", task + 6);
        char *args[] = {"crt", "synth",  "--task", "recall", "--recall-k", k,   "--clips",
                        n,     "--seed", s,        "--out",  (char *)dir,  NULL};
        return run_crt(args, NULL, log);
    }
    (void)o;
    char *args[] = {"crt", "synth", "--clips", n, "--seed", s, "--out", (char *)dir, NULL};
    return run_crt(args, NULL, log);
}

static bool task_valid(const char *task)
{
    if (strcmp(task, "activities") == 0)
        return true;
    int k = 0, end = 0;
    return sscanf(task, "recall%d%n", &k, &end) == 1 && !task[end] && k >= 1 && k <= 256;
}

static double now_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median over 7 runs of CPU microseconds per segment step, batch 1. */
static double step_microseconds(const struct crt_model *m)
{
    const struct crt_config *c = crt_model_config(m);
    size_t S = crt_model_memory_floats(m), F = (size_t)c->segment_len * c->n_features;
    struct crt_workspace *ws = NULL;
    float *feats = calloc(F, sizeof(float)), *mem = calloc(S + 1, sizeof(float));
    float *logits = calloc((size_t)c->n_classes, sizeof(float));
    double runs[7], result = -1;
    if (!feats || !mem || !logits || crt_workspace_new(m, 1, &ws) < 0)
        goto done;
    for (size_t i = 0; i < F; i++)
        feats[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    crt_model_initial_memory(m, mem);
    for (int i = 0; i < 20; i++)
        crt_model_step(m, ws, 1, feats, mem, mem, logits);
    for (int r = 0; r < 7; r++) {
        double t0 = now_cpu();
        for (int i = 0; i < 100; i++)
            crt_model_step(m, ws, 1, feats, mem, mem, logits);
        runs[r] = (now_cpu() - t0) * 1e6 / 100.0;
    }
    qsort(runs, 7, sizeof(double), compare_double);
    result = runs[3];
done:
    crt_workspace_free(ws);
    free(feats);
    free(mem);
    free(logits);
    return result;
}

static int parse(int argc, char **argv, struct options *o)
{
    enum {
        O_OUT = 256,
        O_VARIANTS,
        O_TASKS,
        O_TRAIN,
        O_TEST,
        O_D,
        O_HEADS,
        O_LAYERS,
        O_EPOCHS,
        O_SEED,
        O_THREADS,
        O_REUSE,
        O_JSON,
    };
    static const struct option longopts[] = {
        {"out", required_argument, NULL, O_OUT},
        {"variants", required_argument, NULL, O_VARIANTS},
        {"tasks", required_argument, NULL, O_TASKS},
        {"train-clips", required_argument, NULL, O_TRAIN},
        {"test-clips", required_argument, NULL, O_TEST},
        {"d", required_argument, NULL, O_D},
        {"heads", required_argument, NULL, O_HEADS},
        {"layers", required_argument, NULL, O_LAYERS},
        {"epochs", required_argument, NULL, O_EPOCHS},
        {"seed", required_argument, NULL, O_SEED},
        {"threads", required_argument, NULL, O_THREADS},
        {"reuse", no_argument, NULL, O_REUSE},
        {"json", no_argument, NULL, O_JSON},
        {NULL, 0, NULL, 0},
    };
    *o = (struct options){.train_clips = 1500,
                          .test_clips = 300,
                          .d = 32,
                          .heads = 4,
                          .layers = 2,
                          .epochs = 6,
                          .seed = 1,
                          .threads = 0};
    for (int i = 0; crt_variant_name(i) && i < MAX_VARIANTS; i++)
        snprintf(o->variants[o->n_variants++], CRT_NAME_MAX, "%s", crt_variant_name(i));
    o->n_tasks = split_list("recall2,recall4,recall8,recall16,activities", o->tasks, MAX_TASKS,
                            sizeof(o->tasks[0]));
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int *num = NULL, lo = 1, hi = 1000000;
        switch (opt) {
        case O_OUT:
            o->out = optarg;
            break;
        case O_VARIANTS: {
            char list[MAX_VARIANTS][32];
            int n = split_list(optarg, list, MAX_VARIANTS, sizeof(list[0]));
            if (n <= 0) {
                cli_error(COMMAND, "--variants: a comma-separated list expected");
                return -EINVAL;
            }
            for (int i = 0; i < n; i++) {
                struct crt_config cfg;
                if (crt_variant_parse(list[i], &cfg) < 0) {
                    cli_error(COMMAND, "--variants: unknown variant '%s' (%s)", list[i],
                              crt_variant_names());
                    return -EINVAL;
                }
                snprintf(o->variants[i], CRT_NAME_MAX, "%.31s", list[i]);
            }
            o->n_variants = n;
            break;
        }
        case O_TASKS:
            o->n_tasks = split_list(optarg, o->tasks, MAX_TASKS, sizeof(o->tasks[0]));
            for (int i = 0; i < o->n_tasks; i++)
                if (!task_valid(o->tasks[i])) {
                    cli_error(COMMAND, "--tasks: unknown task '%s' (recall<K>, activities)",
                              o->tasks[i]);
                    return -EINVAL;
                }
            if (o->n_tasks <= 0) {
                cli_error(COMMAND, "--tasks: a comma-separated list expected");
                return -EINVAL;
            }
            break;
        case O_TRAIN:
            num = &o->train_clips, lo = 10;
            break;
        case O_TEST:
            num = &o->test_clips;
            break;
        case O_D:
            num = &o->d, lo = 4, hi = 2048;
            break;
        case O_HEADS:
            num = &o->heads, hi = 64;
            break;
        case O_LAYERS:
            num = &o->layers, hi = 32;
            break;
        case O_EPOCHS:
            num = &o->epochs, hi = 10000;
            break;
        case O_SEED:
            num = &o->seed, lo = 0;
            break;
        case O_THREADS:
            num = &o->threads, hi = 64;
            break;
        case O_REUSE:
            o->reuse = true;
            break;
        case O_JSON:
            o->json = true;
            break;
        default:
            usage(stderr);
            return -EINVAL;
        }
        if (num) {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < lo || v > hi) {
                cli_error(COMMAND, "--%s: '%s' is not a number in %d..%d",
                          longopts[opt - O_OUT].name, optarg, lo, hi);
                return -EINVAL;
            }
            *num = (int)v;
        }
    }
    if (optind < argc) {
        cli_error(COMMAND, "unexpected argument '%s'", argv[optind]);
        return -EINVAL;
    }
    if (!o->out || strlen(o->out) > 2048) {
        cli_error(COMMAND, "--out DIR is required (at most 2048 characters)");
        return -EINVAL;
    }
    return 0;
}

/* One task's data in memory, loaded when first needed. */
struct task_data {
    const char *train_dir, *test_dir;
    char **classes;
    int n_classes;
    struct dataset train, val, test;
    bool have_train, have_test;
};

static void task_data_done(struct task_data *td)
{
    for (int i = 0; td->classes && i < td->n_classes; i++)
        free(td->classes[i]);
    free(td->classes);
    dataset_done(&td->train);
    dataset_done(&td->val);
    dataset_done(&td->test);
}

static int task_load(struct task_data *td, bool train, const struct options *o, FILE *log,
                     struct errbuf *err)
{
    struct dataset_report report = cli_dataset_report(log);
    struct dataset_filter all = {.smarthome = false};
    int r = 0;
    if (!td->classes &&
        (r = dataset_classes_of_dir(td->train_dir, &td->classes, &td->n_classes, err)) < 0)
        return r;
    if (train && !td->have_train) {
        r = dataset_load(&td->train, td->train_dir, &all, (const char *const *)td->classes,
                         td->n_classes, &report, err);
        if (r == 0 && dataset_split_validation(&td->train, &td->val, 0.1, (uint32_t)o->seed) < 0)
            r = errbuf_set(err, -ENOMEM, "out of memory");
        td->have_train = r == 0;
    }
    if (!train && !td->have_test) {
        r = dataset_load(&td->test, td->test_dir, &all, (const char *const *)td->classes,
                         td->n_classes, &report, err);
        td->have_test = r == 0;
    }
    return r;
}

static void log_progress(void *user, const struct train_loop_progress *p)
{
    if (p->event == TRAIN_LOOP_START)
        fprintf(user, "training on %d clips, validating on %d; %d epochs of %d batches\n",
                p->train_clips, p->val_clips, p->epochs, p->batches);
    else if (p->event == TRAIN_LOOP_EPOCH)
        fprintf(user,
                "epoch %d/%d: loss %.4f, validation mean per-class accuracy %.2f%% "
                "(accuracy %.2f%%)%s\n",
                p->epoch + 1, p->epochs, p->loss, 100 * p->val_mca, 100 * p->val_accuracy,
                p->improved ? ", best so far: saved" : "");
}

/* Trains one variant as `crt train --variant V` with the budget's sizes. */
static int train_variant(const struct options *o, const char *variant, struct task_data *td,
                         const char *model_path, FILE *log, struct errbuf *err)
{
    struct crt_config cfg;
    struct crt_model *model = NULL;
    int threads = o->threads ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    crt_config_default(&cfg);
    if (crt_variant_parse(variant, &cfg) < 0)
        return errbuf_set(err, -EINVAL, "unknown variant '%s'", variant);
    cfg.d_model = o->d;
    cfg.n_heads = o->heads;
    cfg.n_layers = o->layers;
    cfg.d_ff = 4 * o->d;
    int r = task_load(td, true, o, log, err);
    if (r < 0)
        return r;
    cfg.n_classes = td->n_classes;
    if ((r = crt_model_new(&cfg, (const char *const *)td->classes, &model, err)) < 0)
        return r;
    char recipe[10240], data[4608];
    snprintf(recipe, sizeof(recipe),
             "crt train --data %s --out %s --variant %s --d %d --heads %d --layers %d "
             "--epochs %d --seed %d --threads %d",
             td->train_dir, model_path, variant, o->d, o->heads, o->layers, o->epochs, o->seed,
             threads);
    snprintf(data, sizeof(data), "pose sequences in %s, %d training clips", td->train_dir,
             td->train.n);
    struct train_loop_options lo;
    train_loop_options_default(&lo);
    lo.epochs = o->epochs;
    lo.threads = threads;
    lo.seed = o->seed;
    lo.init_weights = true;
    lo.out = model_path;
    lo.recipe = recipe;
    lo.provenance = data;
    struct train_loop_result res;
    fprintf(log, "training %s/%s as %s\n", cfg.architecture, cfg.variant, model_path);
    r = train_loop_run(model, &td->train, &td->val, &lo, log_progress, log, &res, err);
    crt_model_free(model);
    return r;
}

/* Accuracy of the last segment on the task's held-out clips, as
 * `crt eval --protocol all` scores it. */
static int eval_variant(const struct options *o, const char *model_path, struct task_data *td,
                        FILE *log, double *ret_accuracy, struct errbuf *err)
{
    struct crt_model *model = NULL;
    struct confusion cm = {0};
    int r = task_load(td, false, o, log, err);
    if (r == 0)
        r = crt_model_load(model_path, &model, err);
    if (r == 0 && (r = confusion_init(&cm, crt_model_config(model)->n_classes)) < 0)
        errbuf_set(err, r, "out of memory");
    if (r == 0 && td->test.n == 0)
        r = errbuf_set(err, -ENOENT, "%s: no clips to evaluate", td->test_dir);
    if (r == 0)
        r = train_evaluate(&cm, model, &td->test, true, NULL, NULL, err);
    if (r == 0)
        *ret_accuracy = confusion_accuracy(&cm);
    confusion_done(&cm);
    crt_model_free(model);
    return r;
}

struct row {
    double acc[MAX_TASKS];
    size_t params;
    double flops, us;
    size_t state_bytes;
    char arch[64];
};

int cmd_compare(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct options o;
    if (parse(argc, argv, &o) < 0)
        return EXIT_USAGE;
    if (mkdir(o.out, 0755) < 0 && errno != EEXIST) {
        cli_error(COMMAND, "%s: %s", o.out, strerror(errno));
        return 1;
    }
    char log[4096], path[4096], path2[4096];
    snprintf(log, sizeof(log), "%s/compare.log", o.out);
    FILE *log_file = fopen(log, "a");
    if (!log_file) {
        cli_error(COMMAND, "%s: %s", log, strerror(errno));
        return 1;
    }
    setvbuf(log_file, NULL, _IOLBF, 0);
    struct row rows[MAX_VARIANTS] = {0};

    for (int t = 0; t < o.n_tasks; t++) {
        const char *task = o.tasks[t];
        char train_dir[sizeof(path) + 16], test_dir[sizeof(path) + 16];
        snprintf(path, sizeof(path), "%s/%s", o.out, task);
        mkdir(path, 0755);
        snprintf(train_dir, sizeof(train_dir), "%s/train", path);
        snprintf(test_dir, sizeof(test_dir), "%s/test", path);
        /* Data: made once per task (same seed, same clips); a finished
         * folder has its marker. */
        snprintf(path2, sizeof(path2), "%s/%s/.complete", o.out, task);
        if (!exists(path2)) {
            fprintf(stderr, "crt compare: %s: generating %d + %d clips\n", task, o.train_clips,
                    o.test_clips);
            if (synth_task(&o, task, train_dir, o.train_clips, o.seed, log) != 0 ||
                synth_task(&o, task, test_dir, o.test_clips, o.seed + 1, log) != 0) {
                cli_error(COMMAND, "%s: crt synth failed (see %s)", task, log);
                goto fail;
            }
            FILE *f = fopen(path2, "w");
            if (f)
                fclose(f);
        }
        struct task_data td = {.train_dir = train_dir, .test_dir = test_dir};
        for (int v = 0; v < o.n_variants; v++) {
            const char *variant = o.variants[v];
            char model[sizeof(path) + 64];
            struct errbuf err = {0};
            int r;
            snprintf(model, sizeof(model), "%s/%s/%s.model", o.out, task, variant);
            if (!(o.reuse && exists(model))) {
                fprintf(stderr, "crt compare: %s: training %s\n", task, variant);
                r = train_variant(&o, variant, &td, model, log_file, &err);
                if (r < 0) {
                    cli_error(COMMAND, "%s: training %s: %s", task, variant, errbuf_text(&err, r));
                    task_data_done(&td);
                    goto fail;
                }
            }
            r = eval_variant(&o, model, &td, log_file, &rows[v].acc[t], &err);
            if (r < 0) {
                cli_error(COMMAND, "%s: evaluating %s: %s", task, model, errbuf_text(&err, r));
                task_data_done(&td);
                goto fail;
            }
            fprintf(stderr, "crt compare: %s: %s %.1f%%\n", task, variant, 100 * rows[v].acc[t]);

            if (t == 0) { /* the costs, from the first task's model */
                struct crt_model *m = NULL;
                if (crt_model_load(model, &m, &err) < 0) {
                    cli_error(COMMAND, "%s", err.msg);
                    task_data_done(&td);
                    goto fail;
                }
                const struct crt_config *c = crt_model_config(m);
                snprintf(rows[v].arch, sizeof(rows[v].arch), "%s/%s", c->architecture, c->variant);
                rows[v].params = crt_model_num_parameters(m);
                rows[v].flops = crt_model_flops_per_segment(m);
                rows[v].state_bytes = crt_model_memory_floats(m) * sizeof(float);
                rows[v].us = step_microseconds(m);
                crt_model_free(m);
            }
        }
        task_data_done(&td);
    }
    fclose(log_file);
    log_file = NULL;

    if (o.json) {
        json_t *list = json_array();
        for (int v = 0; v < o.n_variants; v++) {
            json_t *acc = json_object();
            for (int t = 0; t < o.n_tasks; t++)
                json_object_set_new(acc, o.tasks[t], json_real(rows[v].acc[t]));
            json_array_append_new(
                list, json_pack("{s:s, s:s, s:o, s:I, s:f, s:I, s:f}", "variant", o.variants[v],
                                "architecture", rows[v].arch, "accuracy", acc, "parameters",
                                (json_int_t)rows[v].params, "flops_per_segment", rows[v].flops,
                                "state_bytes", (json_int_t)rows[v].state_bytes,
                                "microseconds_per_step", rows[v].us));
        }
        json_dumpf(list, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(list);
        return 0;
    }
    printf("| variant | architecture |");
    for (int t = 0; t < o.n_tasks; t++)
        printf(" %s |", o.tasks[t]);
    printf(" parameters | FLOPs/segment | state bytes | us/step |\n|---|---|");
    for (int t = 0; t < o.n_tasks; t++)
        printf("---|");
    printf("---|---|---|---|\n");
    for (int v = 0; v < o.n_variants; v++) {
        printf("| %s | %s |", o.variants[v], rows[v].arch);
        for (int t = 0; t < o.n_tasks; t++)
            printf(" %.1f%% |", 100 * rows[v].acc[t]);
        printf(" %zu | %.3f M | %zu | %.0f |\n", rows[v].params, rows[v].flops / 1e6,
               rows[v].state_bytes, rows[v].us);
    }
    return 0;
fail:
    if (log_file)
        fclose(log_file);
    return 1;
}
