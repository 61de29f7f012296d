/* open_set: what `crt eval` and `crt calibrate` share about "unknown" — a
 * model's classes for loading data (its own, plus "Other" when it has none,
 * so out-of-repertoire clips load for any model), the clips' last-segment
 * logits and labels, and the trade-off table. */
#ifndef CRTD_TOOLS_OPEN_SET_H
#define CRTD_TOOLS_OPEN_SET_H

#include <stdio.h>

#include <jansson.h>

#include "crt.h"
#include "train.h"

struct open_set_data {
    int n_classes;        /* the model's */
    int n_load;           /* n_classes, or n_classes + 1 with "Other" appended */
    int other_label;      /* the label of Other clips: the model's Other, or n_classes */
    const char **classes; /* [n_load] */
    float *logits;        /* [n][n_classes] */
    int *labels;          /* [n]: -1 for a clip too short or unlabelled */
    int n;
};

/* The class list to load data with. */
int open_set_classes(struct open_set_data *os, const struct crt_model *model);
/* Runs the model over ds (loaded with os->classes). */
int open_set_run(struct open_set_data *os, const struct crt_model *model, const struct dataset *ds,
                 struct errbuf *err);
void open_set_done(struct open_set_data *os);
/* Known mean per-class accuracy and the rejection rates at the model's
 * threshold and at a row of others, as a table. */
void open_set_print(FILE *out, const struct open_set_data *os, const struct crt_model *model);
json_t *open_set_json(const struct open_set_data *os, const struct crt_model *model);

#endif
