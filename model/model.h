/* model: everything numeric in crtd — the Smarthome class list, tensors and
 * kernels on OpenBLAS, model files, the pose estimator, pose features, the CRT
 * and the other memory mechanisms, and training. Knows nothing of video,
 * HTTP or the daemon. The contract is docs/MODEL.md. */
#ifndef CRTD_MODEL_H
#define CRTD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

/* ---- Toyota Smarthome: classes, clip names, protocols (smarthome.c) ------- */

#define SMARTHOME_NUM_CLASSES    31
#define SMARTHOME_NUM_CV_CLASSES 19

/* The 31 cross-subject classes in the project's output order. */
extern const char *const smarthome_classes[SMARTHOME_NUM_CLASSES];

/* Index of a class name in smarthome_classes, or -ENOENT. */
int smarthome_class_index(const char *name);

enum smarthome_protocol {
    SMARTHOME_CS,  /* cross-subject */
    SMARTHOME_CV1, /* cross-view: train c01, validate c05, test c02 */
    SMARTHOME_CV2, /* cross-view: train c01 c03 c04 c06 c07, validate c05, test c02 */
};

enum smarthome_split {
    SMARTHOME_SPLIT_NONE, /* the clip is in no split of this protocol */
    SMARTHOME_SPLIT_TRAIN,
    SMARTHOME_SPLIT_VALIDATION,
    SMARTHOME_SPLIT_TEST,
};

int smarthome_protocol_parse(const char *text, enum smarthome_protocol *ret_protocol);
const char *smarthome_protocol_name(enum smarthome_protocol protocol);
/* Whether the protocol scores this class (CV protocols use 19 of the 31). */
bool smarthome_protocol_has_class(enum smarthome_protocol protocol, int class_index);

/* What a clip file name says: <Activity>_p<subject>_r<rr>_v<vv>_c<camera>.mp4 */
struct smarthome_clip_name {
    char activity[48];
    int class_index;    /* into smarthome_classes */
    int subject;        /* p02 -> 2 */
    int repetition;     /* r00 -> 0 */
    int take;           /* v02 -> 2 */
    int camera;         /* c03 -> 3 */
    uint32_t name_hash; /* FNV-1a of the base name without extension */
};

/* Parses a base name (directories are ignored, any extension is accepted).
 * Fails with -EINVAL and a message naming the field that does not parse. */
int smarthome_clip_name_parse(const char *path, struct smarthome_clip_name *ret_name,
                              struct errbuf *err);

/* The split a clip falls in under a protocol. Validation for CS is a fixed,
 * seeded 5% of the training clips, decided from the file name alone so that
 * every machine agrees. */
enum smarthome_split smarthome_clip_split(enum smarthome_protocol protocol,
                                          const struct smarthome_clip_name *name);

#endif
