/* crt bench: each benchmark prints crtd's figure beside its reference's,
 * measured in the same run. Benchmarks are commands, never tests. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct bench_target targets[] = {
    {"decode", "crtd's video pipeline beside ffmpeg -threads 1 -vf fps=N", bench_decode},
    {"model", "the segment step of one stream beside PyTorch, and bytes per stream", bench_model},
    {"pose", "MoveNet on one thread beside TensorFlow.js-wasm", bench_pose},
    {"train", "training steps of crtd's trainer beside PyTorch's", bench_train},
    {"e2e", "N camera streams through crtd: fps, drops, latency, CPU, largest N", bench_e2e},
    {"tracker", "the person tracker per frame with 1-16 people, beside MoveNet's frame",
     bench_tracker},
    {"finetune", "fine-tuning on a synthetic home's labels: accuracy before and after, kept, time",
     bench_finetune},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: crt bench <target> [options]\n\ntargets:\n");
    for (size_t i = 0; targets[i].name; i++)
        fprintf(out, "  %-8s %s\n", targets[i].name, targets[i].summary);
    fprintf(out, "\nRun 'crt bench <target> --help' for a target's options.\n");
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; targets[i].name; i++)
        if (strcmp(argv[1], targets[i].name) == 0)
            return targets[i].run(argc - 1, argv + 1);
    cli_error("bench", "unknown target '%s'", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
