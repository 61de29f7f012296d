/* crt compare: every memory mechanism trained with the same budget and seed on
 * the same synthetic tasks (recall at several K, activities), then one table:
 * accuracy per task, parameters, FLOPs per segment, state bytes per stream and
 * microseconds of CPU per segment step. The work goes through the crt
 * commands themselves (synth, train, eval), run as child processes. */
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

#define COMMAND      "compare"
#define MAX_TASKS    8
#define MAX_VARIANTS 32

static void usage(FILE *out)
{
    fprintf(out, "usage: crt compare --out DIR [options]\n\n"
                 "Train every memory mechanism with the same sizes, epochs and seed on the\n"
                 "same synthetic data (`crt synth`), evaluate each on held-out clips\n"
                 "(`crt eval --protocol all`), and print one table: accuracy per task,\n"
                 "parameters, FLOPs per segment, state bytes per stream, microseconds of\n"
                 "CPU per segment step (one stream, one thread).\n\n"
                 "  --out DIR          work folder: data, models, logs (kept; data is reused)\n"
                 "  --variants LIST    comma-separated `crt train --variant` names\n"
                 "                     (default: all of them)\n"
                 "  --tasks LIST       recall<K> and activities (default\n"
                 "                     recall2,recall4,recall8,recall16,activities)\n"
                 "  --train-clips N    training clips per task (default 1500)\n"
                 "  --test-clips N     held-out clips per task (default 300)\n"
                 "  --d N --heads N --layers N --epochs N --seed N --threads N\n"
                 "                     passed to crt train (default 32, 4, 2, 6, 1, all cores)\n"
                 "  --reuse            keep model files already in DIR instead of retraining\n"
                 "  --json             print the table as JSON on stdout\n");
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
static int task_data(const struct options *o, const char *task, const char *dir, int clips,
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
            if (task_data(&o, task, train_dir, o.train_clips, o.seed, log) != 0 ||
                task_data(&o, task, test_dir, o.test_clips, o.seed + 1, log) != 0) {
                cli_error(COMMAND, "%s: crt synth failed (see %s)", task, log);
                return 1;
            }
            FILE *f = fopen(path2, "w");
            if (f)
                fclose(f);
        }
        for (int v = 0; v < o.n_variants; v++) {
            const char *variant = o.variants[v];
            char model[sizeof(path) + 64], d[16], heads[16], layers[16], epochs[16], seed[16],
                threads[16];
            snprintf(model, sizeof(model), "%s/%s/%s.model", o.out, task, variant);
            snprintf(d, sizeof(d), "%d", o.d);
            snprintf(heads, sizeof(heads), "%d", o.heads);
            snprintf(layers, sizeof(layers), "%d", o.layers);
            snprintf(epochs, sizeof(epochs), "%d", o.epochs);
            snprintf(seed, sizeof(seed), "%d", o.seed);
            snprintf(threads, sizeof(threads), "%d",
                     o.threads ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
            if (!(o.reuse && exists(model))) {
                fprintf(stderr, "crt compare: %s: training %s\n", task, variant);
                char *args[] = {
                    "crt",       "train",         "--data",   train_dir, "--out",   model,
                    "--variant", (char *)variant, "--d",      d,         "--heads", heads,
                    "--layers",  layers,          "--epochs", epochs,    "--seed",  seed,
                    "--threads", threads,         NULL};
                if (run_crt(args, NULL, log) != 0) {
                    cli_error(COMMAND, "%s: crt train --variant %s failed (see %s)", task, variant,
                              log);
                    return 1;
                }
            }
            snprintf(path, sizeof(path), "%s/%s/%s.eval.json", o.out, task, variant);
            char *args[] = {"crt", "eval",   "--model", model, "--protocol",
                            "all", "--json", test_dir,  NULL};
            json_t *report = NULL;
            if (run_crt(args, path, log) != 0 || !(report = json_load_file(path, 0, NULL))) {
                cli_error(COMMAND, "%s: crt eval of %s failed (see %s)", task, model, log);
                return 1;
            }
            rows[v].acc[t] = json_real_value(json_object_get(report, "accuracy"));
            json_decref(report);
            fprintf(stderr, "crt compare: %s: %s %.1f%%\n", task, variant, 100 * rows[v].acc[t]);

            if (t == 0) { /* the costs, from the first task's model */
                struct crt_model *m = NULL;
                struct errbuf err = {0};
                if (crt_model_load(model, &m, &err) < 0) {
                    cli_error(COMMAND, "%s", err.msg);
                    return 1;
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
    }

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
}
