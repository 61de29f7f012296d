/* dataset: a folder of pose sequences in memory, as `crt eval` and
 * `crt train` use it: features computed once, labels mapped to the model's
 * classes, and each clip's Smarthome name when it has one. */
#ifndef CRTD_TOOLS_DATASET_H
#define CRTD_TOOLS_DATASET_H

#include "data.h"
#include "crt.h"

struct dataset_clip {
    char *path;
    int frames;
    float *features;   /* [frames][FEATURES_V1_DIM] */
    int *frame_labels; /* [frames], model class or -1 */
    int label;         /* model class of the clip, or -1 */
    bool has_name;     /* the file name parses as a Smarthome clip */
    struct smarthome_clip_name name;
};

struct dataset {
    int n;
    struct dataset_clip *clips;
    int skipped; /* files reported and left out */
};

/* Which clips of a folder to take. */
struct dataset_filter {
    bool smarthome;                   /* file names must parse; label from the name */
    enum smarthome_protocol protocol; /* with smarthome: the split to take */
    enum smarthome_split split;
    int first, count; /* a range of the sorted file list; count 0 = all */
};

/* Loads every *.pose file of dir (sorted by name) that the filter takes,
 * mapping class names to the model's. A file that does not load, does not
 * parse, or has a class the model lacks is reported on stderr and skipped,
 * never fatal. Progress goes to stderr when progress is true. */
int dataset_load(struct dataset *ds, const char *dir, const struct dataset_filter *filter,
                 const char *const *model_classes, int n_model_classes, bool progress,
                 struct errbuf *err);
void dataset_done(struct dataset *ds);

/* Features of one frame sequence, as the daemon computes them frame by frame. */
void dataset_features(float *out, const struct pose_keypoint (*keypoints)[POSE_NUM_KEYPOINTS],
                      int frames);

#endif
