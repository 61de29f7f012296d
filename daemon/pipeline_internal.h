/* pipeline_internal: what the pipeline implementations share. */
#ifndef CRTD_PIPELINE_INTERNAL_H
#define CRTD_PIPELINE_INTERNAL_H

#include <limits.h>

#include "pose.h"
#include "crt.h"
#include "pipeline.h"

struct pipeline_model {
    char path[PATH_MAX];
    char pose_path[PATH_MAX];
    char kind[64]; /* "crt:<fingerprint>": which memories fit */
    struct crt_model *crt;
    struct pose_model *pose;
};

#endif
