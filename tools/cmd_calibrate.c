/* crt calibrate: temperature scaling and the "unknown" threshold of a model,
 * fitted on validation clips and written into its metadata (crt.h,
 * calibration). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "crt.h"
#include "open_set.h"
#include "train.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: crt calibrate --model FILE --data DIR [--out FILE] [--threshold P]\n\n"
                 "Fit the model's confidence on validation clips (never the test set): a\n"
                 "temperature T that divides the logits (least negative log-likelihood of\n"
                 "the clips' last segments), then the threshold under which crtd reports\n"
                 "\"unknown\": the highest of 0 to 0.95 that turns at most 5%% of the known\n"
                 "clips unknown (clips labelled Other, motion outside the repertoire, are\n"
                 "what a model's Other class learns; the table shows how many of them are\n"
                 "reported unknown). Writes them as the metadata calibration.temperature\n"
                 "and calibration.threshold.\n\n"
                 "options:\n"
                 "  --model FILE     the model to calibrate\n"
                 "  --data DIR       validation pose sequences (crt synth, crt mocap); clips\n"
                 "                   labelled Other are the out-of-repertoire ones\n"
                 "  --out FILE       where to write the calibrated model (default: --model)\n"
                 "  --threshold P    take this threshold (0 to 1) instead of choosing one\n"
                 "  --figures TEXT   also store TEXT as the model card's figures (card.figures)\n");
}

int cmd_calibrate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"data", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"threshold", required_argument, NULL, 't'},
        {"figures", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model_path = NULL, *data = NULL, *out = NULL, *figures = NULL;
    double fixed = -1;
    int c, status = 1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'm':
            model_path = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'f':
            figures = optarg;
            break;
        case 't':
            fixed = strtod(optarg, &end);
            if (end == optarg || *end || !(fixed >= 0 && fixed <= 1)) {
                cli_error("calibrate", "invalid value '%s' for --threshold (0 to 1)", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            cli_error("calibrate", "unknown option '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!model_path || !data || optind != argc) {
        cli_error("calibrate",
                  !model_path ? "--model FILE is required"
                  : !data     ? "--data DIR is required"
                              : "unexpected argument '%s'",
                  optind < argc ? argv[optind] : "");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!out)
        out = model_path;

    struct crt_model *model = NULL;
    struct dataset ds = {0};
    struct open_set_data os = {0};
    struct errbuf err = {0};
    int r = crt_model_load(model_path, &model, &err);
    if (r < 0) {
        cli_error("calibrate", "%s", errbuf_text(&err, r));
        return 1;
    }
    if (open_set_classes(&os, model) < 0) {
        cli_error("calibrate", "out of memory");
        goto done;
    }
    struct dataset_filter filter = {0};
    struct dataset_report loading = cli_dataset_report(stderr);
    if ((r = dataset_load(&ds, data, &filter, os.classes, os.n_load, &loading, &err)) < 0 ||
        (r = open_set_run(&os, model, &ds, &err)) < 0) {
        cli_error("calibrate", "%s", errbuf_text(&err, r));
        goto done;
    }
    if (ds.n == 0) {
        cli_error("calibrate", "%s: no clips", data);
        goto done;
    }
    /* Start from T = 1: the logits as trained. */
    crt_model_set_metadata(model, CRT_META_TEMPERATURE, "1");
    crt_model_set_metadata(model, CRT_META_THRESHOLD, "0");
    double nll_before = train_nll(os.logits, os.labels, os.n, os.n_classes, 1);
    double T = train_fit_temperature(os.logits, os.labels, os.n, os.n_classes);
    double nll_after = train_nll(os.logits, os.labels, os.n, os.n_classes, T);
    double threshold =
        fixed >= 0 ? fixed
                   : train_choose_threshold(os.logits, os.labels, os.n, os.n_classes,
                                            os.other_label, crt_model_other_class(model), T);
    char text[64], why[512];
    snprintf(text, sizeof(text), "%.4g", T);
    crt_model_set_metadata(model, CRT_META_TEMPERATURE, text);
    snprintf(text, sizeof(text), "%.2f", threshold);
    crt_model_set_metadata(model, CRT_META_THRESHOLD, text);
    snprintf(why, sizeof(why),
             "crt calibrate on %s (%d clips): temperature by least NLL (%.4f to %.4f), "
             "threshold %s",
             data, ds.n, nll_before, nll_after,
             fixed >= 0 ? "given" : "the highest that turns at most 5% of the known clips unknown");
    crt_model_set_metadata(model, "calibration.data", why);
    if (figures)
        crt_model_set_metadata(model, "card.figures", figures);

    printf("%s: %d validation clips; temperature %.4g (NLL %.4f at T = 1, %.4f after); "
           "threshold %.2f\n",
           model_path, ds.n, T, nll_before, nll_after, threshold);
    open_set_print(stdout, &os, model);
    if ((r = crt_model_save(model, out, SAFETENSORS_F16, &err)) < 0) {
        cli_error("calibrate", "%s", errbuf_text(&err, r));
        goto done;
    }
    printf("wrote %s\n", out);
    status = 0;
done:
    open_set_done(&os);
    dataset_done(&ds);
    crt_model_free(model);
    return status;
}
