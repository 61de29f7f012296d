/* smarthome: the Toyota Smarthome class list, clip names and protocols. */
#include "data.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const smarthome_classes[SMARTHOME_NUM_CLASSES] = {
    "Cook.Cleandishes",
    "Cook.Cleanup",
    "Cook.Cut",
    "Cook.Stir",
    "Cook.Usestove",
    "Cutbread",
    "Drink.Frombottle",
    "Drink.Fromcan",
    "Drink.Fromcup",
    "Drink.Fromglass",
    "Eat.Attable",
    "Eat.Snack",
    "Enter",
    "Getup",
    "Laydown",
    "Leave",
    "Makecoffee.Pourgrains",
    "Makecoffee.Pourwater",
    "Maketea.Boilwater",
    "Maketea.Insertteabag",
    "Pour.Frombottle",
    "Pour.Fromcan",
    "Pour.Fromkettle",
    "Readbook",
    "Sitdown",
    "Takepills",
    "Uselaptop",
    "Usetablet",
    "Usetelephone",
    "Walk",
    "WatchTV",
};

static const char *const cross_view_classes[SMARTHOME_NUM_CV_CLASSES] = {
    "Cutbread",        "Drink.Frombottle", "Drink.Fromcan", "Drink.Fromcup", "Drink.Fromglass",
    "Eat.Attable",     "Eat.Snack",        "Enter",         "Getup",         "Leave",
    "Pour.Frombottle", "Pour.Fromcan",     "Readbook",      "Sitdown",       "Takepills",
    "Uselaptop",       "Usetablet",        "Usetelephone",  "Walk",
};

static const int cs_train_subjects[] = {3, 4, 6, 7, 9, 12, 13, 15, 17, 19, 25};
static const int cs_test_subjects[] = {2, 10, 11, 14, 16, 18, 20};

/* The CS validation split: 5% of training clips, chosen by a hash of the
 * file name so that it is fixed and the same on every machine. */
#define CS_VALIDATION_PERCENT 5
#define CS_VALIDATION_SEED    0x5eed2019u

int smarthome_class_index(const char *name)
{
    for (int i = 0; i < SMARTHOME_NUM_CLASSES; i++)
        if (strcmp(smarthome_classes[i], name) == 0)
            return i;
    return -ENOENT;
}

int smarthome_protocol_parse(const char *text, enum smarthome_protocol *ret_protocol)
{
    static const char *const names[] = {"cs", "cv1", "cv2"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (strcasecmp(text, names[i]) == 0) {
            *ret_protocol = (enum smarthome_protocol)i;
            return 0;
        }
    return -EINVAL;
}

const char *smarthome_protocol_name(enum smarthome_protocol protocol)
{
    switch (protocol) {
    case SMARTHOME_CS:
        return "cs";
    case SMARTHOME_CV1:
        return "cv1";
    case SMARTHOME_CV2:
        return "cv2";
    }
    return "unknown";
}

bool smarthome_protocol_has_class(enum smarthome_protocol protocol, int class_index)
{
    if (class_index < 0 || class_index >= SMARTHOME_NUM_CLASSES)
        return false;
    if (protocol == SMARTHOME_CS)
        return true;
    for (size_t i = 0; i < ARRAY_SIZE(cross_view_classes); i++)
        if (strcmp(cross_view_classes[i], smarthome_classes[class_index]) == 0)
            return true;
    return false;
}

/* Reads "<letter><digits>" such as "p02"; returns -EINVAL on anything else. */
static int parse_tagged_number(const char *field, char letter, int *ret_value)
{
    if (field[0] != letter || !isdigit((unsigned char)field[1]))
        return -EINVAL;
    int value = 0;
    for (const char *p = field + 1; *p; p++) {
        if (!isdigit((unsigned char)*p) || value > 100000)
            return -EINVAL;
        value = value * 10 + (*p - '0');
    }
    *ret_value = value;
    return 0;
}

int smarthome_clip_name_parse(const char *path, struct smarthome_clip_name *ret_name,
                              struct errbuf *err)
{
    struct smarthome_clip_name name = {0};
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;

    char stem[128];
    /* Activity names contain dots (Cook.Cut), so the extension is the part
     * after the last dot, and only when the stem has its five fields. */
    const char *ext = strrchr(base, '.');
    size_t stem_len =
        ext && strchr(base, '_') && ext > strrchr(base, '_') ? (size_t)(ext - base) : strlen(base);
    if (stem_len == 0 || stem_len >= sizeof(stem))
        return errbuf_set(err, -EINVAL, "clip name '%s': empty or too long", base);
    memcpy(stem, base, stem_len);
    stem[stem_len] = '\0';

    char *fields[6];
    int nfields = 0;
    char *save = NULL;
    for (char *tok = strtok_r(stem, "_", &save); tok; tok = strtok_r(NULL, "_", &save)) {
        if (nfields == (int)ARRAY_SIZE(fields))
            break;
        fields[nfields++] = tok;
    }
    if (nfields != 5)
        return errbuf_set(err, -EINVAL,
                          "clip name '%s': expected <Activity>_p<subject>_r<rr>_v<vv>_c<camera>",
                          base);

    if (str_copy(name.activity, sizeof(name.activity), fields[0]) < 0)
        return errbuf_set(err, -EINVAL, "clip name '%s': activity too long", base);
    name.class_index = smarthome_class_index(fields[0]);
    if (name.class_index < 0)
        return errbuf_set(err, -EINVAL, "clip name '%s': unknown activity '%s'", base, fields[0]);

    static const struct {
        char letter;
        const char *what;
        size_t offset;
    } tagged[] = {
        {'p', "subject", offsetof(struct smarthome_clip_name, subject)},
        {'r', "repetition", offsetof(struct smarthome_clip_name, repetition)},
        {'v', "take", offsetof(struct smarthome_clip_name, take)},
        {'c', "camera", offsetof(struct smarthome_clip_name, camera)},
    };
    for (size_t i = 0; i < ARRAY_SIZE(tagged); i++) {
        int *slot = (int *)((char *)&name + tagged[i].offset);
        if (parse_tagged_number(fields[i + 1], tagged[i].letter, slot) < 0)
            return errbuf_set(err, -EINVAL, "clip name '%s': %s field '%s' is not %c<number>", base,
                              tagged[i].what, fields[i + 1], tagged[i].letter);
    }
    name.name_hash = fnv1a32(FNV1A32_INIT, base, stem_len);
    *ret_name = name;
    return 0;
}

static bool int_in(int value, const int *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == value)
            return true;
    return false;
}

enum smarthome_split smarthome_clip_split(enum smarthome_protocol protocol,
                                          const struct smarthome_clip_name *name)
{
    if (!smarthome_protocol_has_class(protocol, name->class_index))
        return SMARTHOME_SPLIT_NONE;

    switch (protocol) {
    case SMARTHOME_CS:
        if (int_in(name->subject, cs_test_subjects, ARRAY_SIZE(cs_test_subjects)))
            return SMARTHOME_SPLIT_TEST;
        if (!int_in(name->subject, cs_train_subjects, ARRAY_SIZE(cs_train_subjects)))
            return SMARTHOME_SPLIT_NONE;
        if ((name->name_hash ^ CS_VALIDATION_SEED) % 100 < CS_VALIDATION_PERCENT)
            return SMARTHOME_SPLIT_VALIDATION;
        return SMARTHOME_SPLIT_TRAIN;
    case SMARTHOME_CV1:
    case SMARTHOME_CV2:
        if (name->camera == 2)
            return SMARTHOME_SPLIT_TEST;
        if (name->camera == 5)
            return SMARTHOME_SPLIT_VALIDATION;
        if (name->camera == 1)
            return SMARTHOME_SPLIT_TRAIN;
        if (protocol == SMARTHOME_CV2 &&
            (name->camera == 3 || name->camera == 4 || name->camera == 6 || name->camera == 7))
            return SMARTHOME_SPLIT_TRAIN;
        return SMARTHOME_SPLIT_NONE;
    }
    return SMARTHOME_SPLIT_NONE;
}
