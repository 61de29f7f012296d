/* crt eval: the paper metric of a model on a folder of pose sequences. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "commands.h"
#include "extract.h"
#include "data.h"
#include "crt.h"
#include "open_set.h"
#include "report.h"
#include "train.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: crt eval --model FILE [--protocol P] [--known-classes] [options] DIR\n"
                 "       crt eval --falls DIR [options]   (the fall detector; --falls --help)\n\n"
                 "Evaluate a model on the pose sequences (*.pose) in DIR, as written by\n"
                 "`crt extract` for Smarthome clips or by `crt synth`, or on a folder of\n"
                 "Smarthome video clips (posed and cached first). Each clip is\n"
                 "streamed through the model from its initial memory, segment by segment;\n"
                 "the clip's prediction is its last segment's. Reports the benchmark\n"
                 "metric (mean per-class accuracy), overall accuracy and a per-class table.\n\n"
                 "options:\n"
                 "  --model FILE       the model file (safetensors)\n"
                 "  --protocol P       cs, cv1, cv2: Smarthome file names, the protocol's test\n"
                 "                     split and classes (default cs); all: every file, with\n"
                 "                     the label stored in it, over the model's classes;\n"
                 "                     mocap-subjects, mocap-cameras, hdm05: the real-motion\n"
                 "                     protocol's held-out subjects, held-out cameras or HDM05\n"
                 "                     clips among files of `crt mocap` (docs/MOCAP.md)\n"
                 "  --known-classes    score only the Smarthome protocol's classes that the\n"
                 "                     model has (the test clips of the others are left out,\n"
                 "                     and the report names both lists); without it a model\n"
                 "                     that lacks any of the protocol's classes is refused\n"
                 "Clips labelled Other (motion outside the repertoire) are scored as such:\n"
                 "a table then gives, at several thresholds, the known classes' accuracy\n"
                 "(unknown counts as wrong) against the share of Other reported unknown.\n"
                 "  --cache DIR        when DIR holds video clips, where their poses are cached\n"
                 "                     first (as crt extract does; default: DIR-pose)\n"
                 "  --report DIR       also write DIR/confusion.csv, DIR/confusion.svg and\n"
                 "                     DIR/report.json\n"
                 "  --json             print the JSON report on stdout instead of the table\n");
}

/* The scored classes, in the model's class order, and the protocol's classes
 * the model lacks (in ret_left_out, names in Smarthome order). Without
 * known_only a lacking class is an error naming them. */
static int protocol_scored(bool *scored, json_t *ret_left_out, const struct crt_model *model,
                           bool smarthome, enum smarthome_protocol protocol, bool known_only,
                           struct errbuf *err)
{
    int n = crt_model_config(model)->n_classes, n_scored = 0;
    char missing[100] = "";
    for (int c = 0; c < n; c++)
        scored[c] = !smarthome;
    if (!smarthome)
        return 0;
    for (int s = 0; s < SMARTHOME_NUM_CLASSES; s++) {
        if (!smarthome_protocol_has_class(protocol, s))
            continue;
        int found = -1;
        for (int c = 0; c < n; c++)
            if (strcmp(crt_model_class(model, c), smarthome_classes[s]) == 0)
                found = c;
        if (found >= 0) {
            scored[found] = true;
            n_scored++;
            continue;
        }
        json_array_append_new(ret_left_out, json_string(smarthome_classes[s]));
        if (strstr(missing, "...")) /* already cut short */
            continue;
        if (strlen(missing) + strlen(smarthome_classes[s]) + 8 < sizeof(missing)) {
            strcat(missing, missing[0] ? ", " : "");
            strcat(missing, smarthome_classes[s]);
        } else {
            strcat(missing, ", ...");
        }
    }
    if (n_scored == 0)
        return errbuf_set(err, -EINVAL, "the model has none of protocol %s's classes",
                          smarthome_protocol_name(protocol));
    if (missing[0] && !known_only)
        return errbuf_set(err, -EINVAL,
                          "the model's classes do not cover protocol %s (%d missing; "
                          "--known-classes scores only the classes it has): %s",
                          smarthome_protocol_name(protocol), (int)json_array_size(ret_left_out),
                          missing);
    return 0;
}

static void print_evaluated(void *user, int done, int total)
{
    int64_t *start = user;
    double secs = (double)(time_mono_ns() - *start) * 1e-9;
    fprintf(stderr, "\revaluating: %d/%d clips, %.0f clips/s", done, total,
            secs > 0 ? done / secs : 0.0);
}

static json_t *model_card_json(const struct crt_model *model, const char *path)
{
    const struct crt_config *cfg = crt_model_config(model);
    json_t *classes = json_array();
    json_t *meta = json_object();
    for (int c = 0; c < cfg->n_classes; c++)
        json_array_append_new(classes, json_string(crt_model_class(model, c)));
    for (int i = 0; i < crt_model_metadata_count(model); i++) {
        const char *k, *v;
        if (crt_model_metadata_at(model, i, &k, &v) == 0)
            json_object_set_new(meta, k, json_string(v));
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:o}", "path", path, "architecture", cfg->architecture,
                     "variant", cfg->variant, "classes", classes, "metadata", meta);
}

static json_t *report_json(const struct confusion *cm, const struct crt_model *model,
                           const char *model_path, const bool *scored, const char *protocol,
                           const struct dataset *ds, json_t *left_out, int argc, char **argv)
{
    json_t *command = json_array();
    for (int i = 0; i < argc; i++)
        json_array_append_new(command, json_string(argv[i]));
    json_t *per_class = json_array();
    json_t *matrix = json_array();
    for (int t = 0; t < cm->n_classes; t++) {
        json_t *row = json_array();
        for (int p = 0; p < cm->n_classes; p++)
            json_array_append_new(row, json_integer(cm->counts[t * cm->n_classes + p]));
        json_array_append_new(matrix, row);
        if (!scored[t])
            continue;
        double recall = confusion_recall(cm, t);
        json_array_append_new(per_class,
                              json_pack("{s:s, s:I, s:o}", "class", crt_model_class(model, t),
                                        "samples", (json_int_t)confusion_class_total(cm, t),
                                        "recall", isnan(recall) ? json_null() : json_real(recall)));
    }
    int counted = 0;
    double mca = confusion_mean_class_accuracy(cm, scored, &counted);
    double acc = confusion_accuracy(cm);
    json_t *report = json_pack(
        "{s:o, s:o, s:s, s:i, s:i, s:o, s:i, s:o, s:o, s:o}", "command", command, "model",
        model_card_json(model, model_path), "protocol", protocol, "clips", ds->n, "skipped",
        ds->skipped, "mean_class_accuracy", isnan(mca) ? json_null() : json_real(mca),
        "classes_scored", counted, "accuracy", isnan(acc) ? json_null() : json_real(acc),
        "per_class", per_class, "confusion", matrix);
    /* Which of the protocol's classes the figure covers (--known-classes). */
    if (report && strcmp(protocol, "all") != 0) {
        json_t *names = json_array();
        for (int c = 0; c < cm->n_classes; c++)
            if (scored[c])
                json_array_append_new(names, json_string(crt_model_class(model, c)));
        json_object_set_new(report, "protocol_classes_scored", names);
        json_object_set(report, "protocol_classes_left_out", left_out);
        json_object_set_new(report, "clips_of_classes_left_out", json_integer(ds->unknown));
    }
    return report;
}

static int counted_protocol(const bool *scored, int n_classes)
{
    int n = 0;
    for (int c = 0; c < n_classes; c++)
        n += scored[c];
    return n;
}

/* The text report's note of a partial protocol. */
static void print_left_out(FILE *out, const bool *scored, int n_classes, json_t *left_out,
                           const char *protocol, const struct dataset *ds)
{
    int n_scored = counted_protocol(scored, n_classes);
    fprintf(out,
            "--known-classes: scored %d of protocol %s's %d classes; left out (%d test clips):",
            n_scored, protocol, n_scored + (int)json_array_size(left_out), ds->unknown);
    size_t i;
    json_t *name;
    json_array_foreach(left_out, i, name)
        fprintf(out, "%s %s", i ? "," : "", json_string_value(name));
    fputc('\n', out);
}

struct svg_args {
    const struct confusion *cm;
    const char *const *classes;
    const bool *scored;
    const char *title;
};

static int write_svg(FILE *out, void *ctx)
{
    struct svg_args *a = ctx;
    return report_confusion_svg(out, a->cm, a->classes, a->scored, a->title);
}

static int write_csv(FILE *out, void *ctx)
{
    struct svg_args *a = ctx;
    return report_confusion_csv(out, a->cm, a->classes);
}

static int write_json(FILE *out, void *ctx)
{
    return json_dumpf(ctx, out, JSON_INDENT(2)) < 0 ? -EIO : 0;
}

int cmd_eval(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},  {"protocol", required_argument, NULL, 'p'},
        {"report", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
        {"cache", required_argument, NULL, 'c'},  {"known-classes", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *model_path = NULL, *protocol_text = "cs", *report_dir = NULL, *cache = NULL;
    char cache_default[4096];
    bool as_json = false, known_only = false;
    int c, status = 1;
    struct crt_model *model = NULL;
    struct dataset ds = {0};
    struct confusion cm = {0};
    json_t *report = NULL, *left_out = json_array();
    bool *scored = NULL;
    const char **classes = NULL;
    struct errbuf err = {0};

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--falls") == 0 || strncmp(argv[i], "--falls=", 8) == 0)
            return cmd_eval_falls(argc, argv);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model_path = optarg;
            break;
        case 'p':
            protocol_text = optarg;
            break;
        case 'r':
            report_dir = optarg;
            break;
        case 'j':
            as_json = true;
            break;
        case 'c':
            cache = optarg;
            break;
        case 'k':
            known_only = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            cli_error("eval", "unknown option '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_error("eval", optind == argc ? "a folder of pose sequences is required"
                                         : "only one folder may be given");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!model_path) {
        cli_error("eval", "--model FILE is required");
        return EXIT_USAGE;
    }
    const char *dir = argv[optind];
    struct dataset_filter filter = {.split = SMARTHOME_SPLIT_TEST};
    if (strcmp(protocol_text, "mocap-subjects") == 0 || strcmp(protocol_text, "mocap-cameras") == 0)
        filter.mocap = mocap_split_parse(protocol_text + 6, &filter.mocap_split) == 0;
    else if (strcmp(protocol_text, "hdm05") == 0)
        filter.mocap = mocap_split_parse(protocol_text, &filter.mocap_split) == 0;
    bool smarthome = strcmp(protocol_text, "all") != 0 && !filter.mocap;
    enum smarthome_protocol protocol = SMARTHOME_CS;
    if (smarthome && smarthome_protocol_parse(protocol_text, &protocol) < 0) {
        cli_error("eval",
                  "unknown protocol '%s' (cs, cv1, cv2, all, mocap-subjects, "
                  "mocap-cameras or hdm05)",
                  protocol_text);
        return EXIT_USAGE;
    }
    filter.smarthome = smarthome;
    filter.protocol = protocol;
    struct open_set_data os = {0};

    int r = crt_model_load(model_path, &model, &err);
    if (r < 0) {
        cli_error("eval", "%s", errbuf_text(&err, r));
        goto done;
    }
    /* The model's classes, and Other after them when it has none: such
     * clips are out of its repertoire, which it can only call unknown. */
    if (open_set_classes(&os, model) < 0) {
        cli_error("eval", "out of memory");
        goto done;
    }
    int n_classes = os.n_load;
    scored = calloc((size_t)n_classes, sizeof(*scored));
    classes = calloc((size_t)n_classes, sizeof(*classes));
    if (!scored || !classes || confusion_init(&cm, n_classes) < 0) {
        cli_error("eval", "out of memory");
        goto done;
    }
    for (int i = 0; i < n_classes; i++)
        classes[i] = os.classes[i];
    if (known_only && !smarthome) {
        cli_error("eval", "--known-classes needs a Smarthome protocol (cs, cv1 or cv2), not %s",
                  protocol_text);
        status = EXIT_USAGE;
        goto done;
    }
    r = protocol_scored(scored, left_out, model, smarthome, protocol, known_only, &err);
    if (r < 0) {
        cli_error("eval", "%s: %s", model_path, err.msg);
        goto done;
    }

    /* A folder of clips is posed once into its cache, then read from there. */
    if (extract_folder_has_videos(dir)) {
        struct extract_options xo = {.dir = dir,
                                     .out = cache,
                                     .fps = crt_model_config(model)->fps,
                                     .pose = "lightning",
                                     .jobs = (int)sysconf(_SC_NPROCESSORS_ONLN),
                                     .shard = 1,
                                     .shards = 1,
                                     .progress = true};
        struct extract_summary summary = {0};
        if (!xo.out) {
            extract_default_cache(cache_default, sizeof(cache_default), dir);
            xo.out = cache_default;
        }
        r = extract_folder(&xo, &summary, &err);
        json_decref(summary.left_out);
        if (r < 0) {
            cli_error("eval", "%s", errbuf_text(&err, r));
            goto done;
        }
        fprintf(stderr, "posed %s into %s: %d extracted, %d already cached, %d left out\n", dir,
                xo.out, summary.extracted, summary.already_done,
                summary.unparsable + summary.failed);
        dir = xo.out;
    }

    filter.known_classes = known_only;
    struct dataset_report loading = cli_dataset_report(stderr);
    r = dataset_load(&ds, dir, &filter, classes, n_classes, &loading, &err);
    if (r < 0) {
        cli_error("eval", "%s", errbuf_text(&err, r));
        goto done;
    }
    if (ds.n == 0) {
        cli_error("eval", "%s: no clips to evaluate%s", dir,
                  smarthome ? " in the protocol's test split (use --protocol all for other data)"
                            : "");
        goto done;
    }
    int64_t start = time_mono_ns();
    r = train_evaluate(&cm, model, &ds, true, print_evaluated, &start, &err);
    if (r < 0) {
        cli_error("eval", "%s", err.msg);
        goto done;
    }
    fprintf(stderr, "\n");
    if ((r = open_set_run(&os, model, &ds, &err)) < 0) {
        cli_error("eval", "%s", err.msg);
        goto done;
    }

    report = report_json(&cm, model, model_path, scored, protocol_text, &ds, left_out, argc, argv);
    if (report)
        json_object_set_new(report, "unknown", open_set_json(&os, model));
    if (report_dir) {
        char path[4096], title[256];
        struct svg_args args = {&cm, classes, scored, title};
        int counted;
        double mca = confusion_mean_class_accuracy(&cm, scored, &counted);
        char of[64] = "";
        if (json_array_size(left_out) > 0)
            snprintf(of, sizeof(of), ", %d known classes of %d",
                     counted_protocol(scored, n_classes),
                     counted_protocol(scored, n_classes) + (int)json_array_size(left_out));
        snprintf(title, sizeof(title), "%s on %s (protocol %s%s): mean per-class accuracy %.1f%%",
                 model_path, dir, protocol_text, of, 100 * mca);
        if ((r = mkdir_parents(report_dir, 0755)) < 0) {
            cli_error("eval", "cannot create '%s': %s", report_dir, strerror(-r));
            goto done;
        }
        snprintf(path, sizeof(path), "%s/confusion.csv", report_dir);
        if ((r = report_write_file(path, write_csv, &args, &err)) < 0 ||
            (snprintf(path, sizeof(path), "%s/confusion.svg", report_dir),
             (r = report_write_file(path, write_svg, &args, &err)) < 0) ||
            (snprintf(path, sizeof(path), "%s/report.json", report_dir),
             (r = report_write_file(path, write_json, report, &err)) < 0)) {
            cli_error("eval", "%s", err.msg);
            goto done;
        }
    }
    if (as_json) {
        json_dumpf(report, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else {
        printf("model %s, protocol %s, %d clips (%d skipped)\n", model_path, protocol_text, ds.n,
               ds.skipped);
        if (json_array_size(left_out) > 0)
            print_left_out(stdout, scored, n_classes, left_out, protocol_text, &ds);
        report_class_table(stdout, &cm, classes, scored);
        open_set_print(stdout, &os, model);
    }
    status = 0;
done:
    json_decref(report);
    open_set_done(&os);
    json_decref(left_out);
    confusion_done(&cm);
    dataset_done(&ds);
    free(scored);
    free(classes);
    crt_model_free(model);
    return status;
}
