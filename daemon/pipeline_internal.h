/* pipeline_internal: what the pipeline implementations share. */
#ifndef CRTD_PIPELINE_INTERNAL_H
#define CRTD_PIPELINE_INTERNAL_H

#include <limits.h>

#include "pose.h"
#include "crt.h"
#include "people.h"
#include "pipeline.h"

struct pipeline_model {
    char path[PATH_MAX];
    char pose_path[PATH_MAX];
    char kind[64]; /* "crt:<fingerprint>": which memories fit */
    struct crt_model *crt;
    struct pose_model *pose;
};

/* ---- people (pipeline_people.c) ------------------------------------------ */

/* One frame's detections to the stream's people (people.h) at stream time
 * pts, on the wall clock. Returns 1 when it ended a segment of the stream,
 * with every track's outcome in ret (its people, summary and label fields),
 * else 0. */
int pipeline_people_frame(struct people *pp, const struct pose_person *dets, int n_dets, double pts,
                          struct pipeline_result *ret);

/* Appends the tracks seen in the frame just given to pp to the archive (NULL:
 * none), on the wall clock. A failed write is the archive's to count. */
void pipeline_people_archive(const struct people *pp, struct pose_archive *archive, double wall);

/* Picks the summary of a result: the most confident person in view, whose
 * label, scores and keypoints become the stream's (or nobody). */
void pipeline_summarise(struct pipeline_result *r);

#endif
