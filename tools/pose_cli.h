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

/* The pose model's load options the environment asks for:
 * CRTD_POSE_NO_AVX512=1 keeps the convolutions on OpenBLAS. */
struct pose_options pose_cli_options(void);

#endif
