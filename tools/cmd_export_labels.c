/* crt export-labels: the labels of a crtd state directory as pose
 * sequences that `crt train` and `crt eval` read (labels_export.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "labels_export.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: crt export-labels --state DIR --out DIR [--stream NAME] [--fps F]\n"
                 "                         [--min-seconds S]\n\n"
                 "Write the labels of crtd's state directory (its crtd.db) as pose sequences:\n"
                 "one file per label and person track, OUT/label-<id>-track-<track>.pose, every\n"
                 "frame labelled with the label's class; the \"not this\" labels go to OUT/not/\n"
                 "(frames unlabelled, the class they were not in the file's source). Every file\n"
                 "carries the same class list (the labels' classes, sorted), so\n"
                 "'crt train --data OUT' trains on them. Reads only: crtd may be running.\n\n"
                 "  --state DIR        crtd's state directory (state_directory in [daemon])\n"
                 "  --out DIR          where to write (made when missing)\n"
                 "  --stream NAME      only this stream's labels\n"
                 "  --fps F            frames per second of the sequences (default 10)\n"
                 "  --min-seconds S    leave out a track with less than S seconds (default 1)\n");
}

static bool parse_positive(const char *text, double max, double *ret)
{
    char *end;
    double v = strtod(text, &end);
    if (*end || !(v > 0) || v > max)
        return false;
    *ret = v;
    return true;
}

int cmd_export_labels(int argc, char **argv)
{
    const char *state = NULL, *out = NULL, *stream = NULL;
    struct labels_export_options opts = {0};

    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(arg, "--state") == 0 || strcmp(arg, "--out") == 0 ||
                     strcmp(arg, "--stream") == 0 || strcmp(arg, "--fps") == 0 ||
                     strcmp(arg, "--min-seconds") == 0;
        if (!takes) {
            cli_error("export-labels", "unknown option '%s'", arg);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (!value) {
            cli_error("export-labels", "%s needs a value", arg);
            return EXIT_USAGE;
        }
        i++;
        if (strcmp(arg, "--state") == 0)
            state = value;
        else if (strcmp(arg, "--out") == 0)
            out = value;
        else if (strcmp(arg, "--stream") == 0)
            stream = value;
        else if (strcmp(arg, "--fps") == 0 && !parse_positive(value, 1000, &opts.fps)) {
            cli_error("export-labels", "--fps '%s': a rate above 0, at most 1000", value);
            return EXIT_USAGE;
        } else if (strcmp(arg, "--min-seconds") == 0 &&
                   !parse_positive(value, 86400, &opts.min_seconds)) {
            cli_error("export-labels", "--min-seconds '%s': seconds above 0", value);
            return EXIT_USAGE;
        }
    }
    if (!state || !out) {
        cli_error("export-labels", "%s is missing", !state ? "--state DIR" : "--out DIR");
        usage(stderr);
        return EXIT_USAGE;
    }
    opts.stream = stream;

    struct store *store = NULL;
    struct errbuf err;
    struct labels_export_report rep;
    errbuf_clear(&err);
    int r = store_open_readonly(state, 4, &store, &err);
    if (r >= 0)
        r = labels_export(store, out, &opts, &rep, &err);
    store_free(store);
    if (r < 0) {
        cli_error("export-labels", "%s", errbuf_text(&err, r));
        return 1;
    }
    printf("%u labels, %d classes: %u sequences in %s, %u \"not this\" in %s/%s", rep.labels,
           rep.n_classes, rep.files, out, rep.negatives, out, LABELS_EXPORT_NEGATIVE_DIR);
    if (rep.short_tracks)
        printf(", %u tracks shorter than the minimum left out", rep.short_tracks);
    printf("\n");
    return 0;
}
