/* crt: the command-line tool — one binary, one subcommand per job. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"classes", "list the Toyota Smarthome classes and the protocols that use them", cmd_classes},
    {"bench", "measure a stage beside its reference (see 'crt bench --help')", cmd_bench},
    {"synth", "write synthetic pose sequences for training and tests", cmd_synth},
    {"mocap", "motion-capture clips (BVH, ASF/AMC) as pose sequences, labelled by an index",
     cmd_mocap},
    {"eval", "the paper metric of a model on a folder of pose sequences", cmd_eval},
    {"train", "train or fine-tune a model on pose sequences", cmd_train},
    {"extract", "decode and pose a folder of clips once, into a pose cache", cmd_extract},
    {"classify", "the activity timeline of one video", cmd_classify},
    {"track", "how the people of one video are tracked: figures of id stability", cmd_track},
    {"defects", "what MoveNet gets wrong on real footage: jitter, scores, dropouts, swaps",
     cmd_defects},
    {"model-info", "check a model file and print its card, sizes and costs", cmd_model_info},
    {"compare", "train every memory mechanism alike and print one table", cmd_compare},
    {"probe", "read a video source as crtd does and print the sampled frames", cmd_probe},
    {"pose", "MoveNet keypoints of an image or a video, optionally drawn", cmd_pose},
    {"export-labels", "crtd's labels as pose sequences, to train on", cmd_export_labels},
    {"archive", "the pose archive crtd keeps of one video, and its bytes per camera-hour",
     cmd_archive},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: crt <command> [options]\n\n"
                 "Activity recognition tools of crtd: models, clips, benchmarks.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'crt <command> --help' for a command's options.\n");
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}

void cli_error(const char *command, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "crt %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool cli_parse_long(const char *text, long lo, long hi, long *ret)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < lo || v > hi)
        return false;
    *ret = v;
    return true;
}

int main(int argc, char **argv)
{
    cli_tune_blas(argv);
    log_set_ident("crt");
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("crt %s\n", CRTD_VERSION);
        return 0;
    }
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);

    fprintf(stderr, "crt: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
