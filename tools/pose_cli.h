/* pose_cli: what `crt pose` and `crt bench pose` share — finding the MoveNet
 * files and the TensorFlow.js reference, and picking OpenBLAS's kernels. */
#ifndef CRTD_TOOLS_POSE_CLI_H
#define CRTD_TOOLS_POSE_CLI_H

#include <stddef.h>

#include "base.h"
#include "pose.h"

/* Resolves --model: "lightning", "thunder" (looked up in --models DIR, else
 * $CRTD_MODELS, else third_party/models of the source tree the binary was
 * built in, else ./third_party/models) or a path to a model.json. */
int pose_cli_model_path(char *buf, size_t size, const char *model, const char *models_dir,
                        struct errbuf *err);

/* A file of the source tree (e.g. "tests/ref/tfjs_pose.js"), found beside
 * the build directory the binary runs from, or under the current directory. */
int pose_cli_source_path(char *buf, size_t size, const char *relative, struct errbuf *err);

/* The pose model's load options the environment asks for:
 * CRTD_POSE_NO_AVX512=1 keeps the convolutions on OpenBLAS. */
struct pose_options pose_cli_options(void);

/* OpenBLAS's kernel set in use ("Haswell", "SkylakeX", ...). */
const char *pose_cli_blas_core(void);

#endif
