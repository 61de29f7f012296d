/* pose_cli: what `crt pose` and `crt bench pose` share — finding the MoveNet
 * files and the TensorFlow.js reference, and picking OpenBLAS's kernels. */
#ifndef CRTD_TOOLS_POSE_CLI_H
#define CRTD_TOOLS_POSE_CLI_H

#include <stddef.h>

#include "base.h"
#include "pose.h"

/* Resolves --model: "lightning", "thunder" (looked up in --models DIR, else
 * $CRTD_MODELS, else third_party/models of the source tree the build was
 * configured from, else the installed data directory's models/) or a path
 * to a model.json. The result is an absolute path. */
int pose_cli_model_path(char *buf, size_t size, const char *model, const char *models_dir,
                        struct errbuf *err);

/* A file of the source tree (e.g. "tests/ref/tfjs_pose.js") as an absolute
 * path: found in the tree the build was configured from (wherever the build
 * directory is), else two levels above the binary, else here. */
int pose_cli_source_path(char *buf, size_t size, const char *relative, struct errbuf *err);

/* The pose model's load options the command line asked for (--isa). */
struct pose_options pose_cli_options(void);

/* --isa SET for every command that loads a pose model: the best kernel set
 * the convolutions may use (pose_options.max_isa). 0, or -1 after saying (as
 * `crt <command>`) what is wrong. */
int pose_cli_isa_option(const char *arg, const char *command);
#define POSE_CLI_ISA_HELP                                                                          \
    "  --isa SET          the best pose kernel set to use: best (default), avx512,\n"              \
    "                     avx2, neon or portable (docs/POSE.md)\n"

/* The options the multi-person commands (crt track, crt defects) share:
 * --model NAME|FILE, --models DIR, --side N, --fps N, --max-frames N, --isa
 * SET, as getopt_long codes 'p', 'd', 'S', 'f', 'n' and 'I'. */
struct pose_cli_people {
    const char *pose_name, *models_dir;
    long side, max_frames; /* max_frames 0: all */
    double fps;
};

#define POSE_CLI_PEOPLE_OPTIONS                                                                    \
    {"model", required_argument, NULL, 'p'}, {"models", required_argument, NULL, 'd'},             \
        {"side", required_argument, NULL, 'S'}, {"fps", required_argument, NULL, 'f'},             \
        {"max-frames", required_argument, NULL, 'n'},                                              \
    {                                                                                              \
        "isa", required_argument, NULL, 'I'                                                        \
    }

/* Defaults: multipose, side 256, 10 fps, every frame. */
void pose_cli_people_default(struct pose_cli_people *o);
/* Takes getopt's option c with its argument: 1 when it was one of the shared
 * options, 0 when not, -1 after saying (as `crt <command>`) what is wrong. */
int pose_cli_people_option(struct pose_cli_people *o, int c, const char *arg, const char *command);

/* Resolves the pose model name, loads it with the tools' options and makes a
 * context; path receives the model file's path. */
int pose_cli_open(const char *name, const char *models_dir, char *path, size_t size,
                  struct pose_model **ret_model, struct pose_context **ret_context,
                  struct errbuf *err);
#endif
