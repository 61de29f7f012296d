/* mocap_split: the real-motion protocol's fixed split of motion-capture
 * clips (docs/MOCAP.md, "The real-motion protocol"): which subjects a model
 * learns from, which are held out, which cameras are held out, and HDM05,
 * evaluation only. One list, used by `crt mocap --split` to write a split
 * and by `crt eval --protocol mocap-*` to score one, so the two never
 * disagree. Also the class names crt mocap writes: Smarthome's and Other. */
#include "data.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* CMU subjects (by number) whose clips train. ../shared/mocap: walks of 16,
 * 35 and 131, drinks of 13 and 14; assimp-testmodels: 1 (jumps, climbing:
 * Other). */
static const int train_subjects[] = {1, 13, 14, 16, 35, 131};
/* Held out: walks of 2 and 10, drinks of 79 (a bottle and a glass). */
static const int test_subjects[] = {2, 10, 79};

static const char *const split_names[MOCAP_SPLIT_COUNT] = {
    [MOCAP_SPLIT_TRAIN] = "train",     [MOCAP_SPLIT_SUBJECTS] = "subjects",
    [MOCAP_SPLIT_CAMERAS] = "cameras", [MOCAP_SPLIT_HDM05] = "hdm05",
    [MOCAP_SPLIT_NONE] = "none",
};

const char *mocap_split_name(enum mocap_split split)
{
    return split >= 0 && split < MOCAP_SPLIT_COUNT ? split_names[split] : "none";
}

int mocap_split_parse(const char *name, enum mocap_split *ret_split)
{
    for (int s = 0; s < MOCAP_SPLIT_COUNT; s++)
        if (strcmp(name, split_names[s]) == 0) {
            *ret_split = (enum mocap_split)s;
            return 0;
        }
    return -EINVAL;
}

static bool listed(const int *list, size_t n, int subject)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == subject)
            return true;
    return false;
}

enum mocap_split mocap_split_of(enum mocap_source source, const char *subject, int camera)
{
    if (source == MOCAP_SOURCE_HDM05)
        return MOCAP_SPLIT_HDM05;
    char *end;
    long n = strtol(subject, &end, 10);
    if (end == subject || *end)
        return MOCAP_SPLIT_NONE;
    if (listed(test_subjects, ARRAY_SIZE(test_subjects), (int)n))
        return MOCAP_SPLIT_SUBJECTS;
    if (!listed(train_subjects, ARRAY_SIZE(train_subjects), (int)n))
        return MOCAP_SPLIT_NONE;
    return camera >= MOCAP_SPLIT_HELD_OUT_CAMERA ? MOCAP_SPLIT_CAMERAS : MOCAP_SPLIT_TRAIN;
}

enum mocap_split mocap_split_of_name(const char *name)
{
    /* <activity>_s<subject>_c<camera>_<trial>.pose; the activity has no '_'. */
    const char *s = strstr(name, "_s");
    if (!s)
        return MOCAP_SPLIT_NONE;
    s += 2;
    const char *c = strstr(s, "_c");
    if (!c || c == s || (size_t)(c - s) >= 32 || !isdigit((unsigned char)c[2]))
        return MOCAP_SPLIT_NONE;
    char subject[32];
    memcpy(subject, s, (size_t)(c - s));
    subject[c - s] = '\0';
    int camera = atoi(c + 2);
    /* CMU subjects are numbers, HDM05's actors letters (bd, bk, dg, mm, tr). */
    bool number = true;
    for (const char *p = subject; *p; p++)
        number &= isdigit((unsigned char)*p) != 0;
    return mocap_split_of(number ? MOCAP_SOURCE_CMU : MOCAP_SOURCE_HDM05, subject, camera);
}

int mocap_class_index(const char *name)
{
    if (strcmp(name, MOCAP_OTHER_CLASS) == 0)
        return MOCAP_CLASS_OTHER;
    return smarthome_class_index(name);
}

const char *mocap_class_name(int index)
{
    if (index == MOCAP_CLASS_OTHER)
        return MOCAP_OTHER_CLASS;
    return index >= 0 && index < SMARTHOME_NUM_CLASSES ? smarthome_classes[index] : NULL;
}
