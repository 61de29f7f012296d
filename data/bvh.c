/* bvh: Biovision hierarchy files. A HIERARCHY of ROOT, JOINT and End Site
 * blocks, each with an OFFSET from its parent and (but End Sites) CHANNELS,
 * any of X/Y/Z position and X/Y/Z rotation in any order; then MOTION with
 * "Frames: N", "Frame Time: s" and one line of channel values per frame.
 *
 * A joint's world rotation is its parent's times its rotation channels
 * multiplied in the order they are listed (column vectors: "Zrotation
 * Yrotation Xrotation" is Rz Ry Rx, so X applies first); its position is
 * its parent's plus the parent's rotation applied to OFFSET plus its
 * position channels. docs/MOCAP.md has the units. */
#include "mocap_internal.h"

#include <math.h>
#include <string.h>
#include <strings.h>

enum bvh_channel {
    BVH_XPOSITION,
    BVH_YPOSITION,
    BVH_ZPOSITION,
    BVH_XROTATION,
    BVH_YROTATION,
    BVH_ZROTATION,
    BVH_CHANNEL_COUNT,
};

static const char *const bvh_channel_names[] = {
    [BVH_XPOSITION] = "Xposition", [BVH_YPOSITION] = "Yposition", [BVH_ZPOSITION] = "Zposition",
    [BVH_XROTATION] = "Xrotation", [BVH_YROTATION] = "Yrotation", [BVH_ZROTATION] = "Zrotation",
};
_Static_assert(ARRAY_SIZE(bvh_channel_names) == BVH_CHANNEL_COUNT, "one name per channel");

#define BVH_MAX_CHANNELS (6 * MOCAP_MAX_JOINTS)

struct bvh_joint {
    char name[MOCAP_NAME_MAX];
    int parent;
    bool end_site;
    bool has_offset;
    bool has_channels;
    double offset[3];
    int n_channels;
    unsigned char channel[BVH_CHANNEL_COUNT];
};

struct bvh {
    struct mocap_text text;
    struct bvh_joint joint[MOCAP_MAX_JOINTS];
    int n_joints;
    int n_channels;
    int frames; /* as "Frames:" declares */
    double frame_time;
    /* one frame's forward kinematics, in file units */
    double rot[MOCAP_MAX_JOINTS][3][3];
    double pos[MOCAP_MAX_JOINTS][3];
};

static int expect_word(struct bvh *b, const char *want, struct errbuf *err)
{
    int r;
    const char *w = mocap_text_word(&b->text, &r, err);
    if (r < 0)
        return r;
    if (!w)
        return mocap_bad(&b->text, err, "the file ends where '%s' should be", want);
    if (strcmp(w, want) != 0)
        return mocap_bad(&b->text, err, "'%.32s' where '%s' should be", w, want);
    return 0;
}

static int number_word(struct bvh *b, double limit, const char *what, double *ret_value,
                       struct errbuf *err)
{
    int r;
    const char *w = mocap_text_word(&b->text, &r, err);
    if (r < 0)
        return r;
    if (!w)
        return mocap_bad(&b->text, err, "the file ends where %s should be", what);
    return mocap_number(&b->text, w, limit, what, ret_value, err);
}

/* A new joint under parent, after its keyword: reads its name and "{". */
static int add_joint(struct bvh *b, int parent, bool end_site, struct errbuf *err)
{
    struct mocap_text *t = &b->text;
    int r;
    if (b->n_joints == MOCAP_MAX_JOINTS)
        return mocap_bad(t, err, "more than %d joints", MOCAP_MAX_JOINTS);
    struct bvh_joint *j = &b->joint[b->n_joints];
    j->parent = parent;
    j->end_site = end_site;
    if (end_site) {
        if ((r = expect_word(b, "Site", err)) < 0)
            return r;
        char name[MOCAP_NAME_MAX];
        snprintf(name, sizeof(name), "%.27s_end", b->joint[parent].name);
        memcpy(j->name, name, sizeof(name));
    } else {
        const char *name = mocap_text_word(t, &r, err);
        if (r < 0)
            return r;
        if (!name)
            return mocap_bad(t, err, "the file ends where a joint name should be");
        if (strlen(name) >= MOCAP_NAME_MAX)
            return mocap_bad(t, err, "joint name '%.32s...' is longer than %d bytes", name,
                             MOCAP_NAME_MAX - 1);
        for (int k = 0; k < b->n_joints; k++)
            if (strcmp(b->joint[k].name, name) == 0)
                return mocap_bad(t, err, "joint name '%s' appears twice", name);
        strcpy(j->name, name);
    }
    b->n_joints++;
    return expect_word(b, "{", err);
}

static int parse_channels(struct bvh *b, struct bvh_joint *j, struct errbuf *err)
{
    struct mocap_text *t = &b->text;
    double n;
    int r;
    if (j->end_site)
        return mocap_bad(t, err, "an End Site has no CHANNELS");
    if (j->has_channels)
        return mocap_bad(t, err, "joint '%s' has a second CHANNELS", j->name);
    if ((r = number_word(b, 6, "the channel count", &n, err)) < 0)
        return r;
    if (n != floor(n) || n < 0)
        return mocap_bad(t, err, "channel count %g is not 0 to 6", n);
    j->has_channels = true;
    j->n_channels = (int)n;
    unsigned seen = 0;
    for (int c = 0; c < j->n_channels; c++) {
        const char *w = mocap_text_word(t, &r, err);
        if (r < 0)
            return r;
        if (!w)
            return mocap_bad(t, err, "the file ends inside CHANNELS of '%s'", j->name);
        int k = 0;
        while (k < BVH_CHANNEL_COUNT && strcasecmp(w, bvh_channel_names[k]) != 0)
            k++;
        if (k == BVH_CHANNEL_COUNT)
            return mocap_bad(t, err, "unknown channel '%.32s' (X/Y/Z position or rotation)", w);
        if (seen & (1u << k))
            return mocap_bad(t, err, "channel %s appears twice in '%s'", bvh_channel_names[k],
                             j->name);
        seen |= 1u << k;
        j->channel[c] = (unsigned char)k;
    }
    b->n_channels += j->n_channels;
    return 0;
}

/* HIERARCHY up to MOTION: joints in file order, so that parents come first. */
static int parse_hierarchy(struct bvh *b, struct errbuf *err)
{
    struct mocap_text *t = &b->text;
    int current = -1; /* the joint whose block is open */
    int r;

    if ((r = expect_word(b, "HIERARCHY", err)) < 0)
        return r;
    for (;;) {
        const char *w = mocap_text_word(t, &r, err);
        if (r < 0)
            return r;
        if (!w)
            return mocap_bad(t, err, "the file ends inside the HIERARCHY (no MOTION)");
        struct bvh_joint *j = current >= 0 ? &b->joint[current] : NULL;
        if (!j) {
            if (strcmp(w, "MOTION") == 0 && b->n_joints > 0)
                return 0;
            if (strcmp(w, "ROOT") != 0)
                return mocap_bad(t, err, "'%.32s' where ROOT%s should be", w,
                                 b->n_joints ? " or MOTION" : "");
            if ((r = add_joint(b, -1, false, err)) < 0)
                return r;
            current = b->n_joints - 1;
        } else if (strcmp(w, "OFFSET") == 0) {
            if (j->has_offset)
                return mocap_bad(t, err, "joint '%s' has a second OFFSET", j->name);
            for (int a = 0; a < 3; a++)
                if ((r = number_word(b, MOCAP_MAX_LENGTH, "OFFSET", &j->offset[a], err)) < 0)
                    return r;
            j->has_offset = true;
        } else if (strcmp(w, "CHANNELS") == 0) {
            if ((r = parse_channels(b, j, err)) < 0)
                return r;
        } else if (strcmp(w, "JOINT") == 0 || strcmp(w, "End") == 0) {
            if (j->end_site)
                return mocap_bad(t, err, "an End Site has no children");
            if ((r = add_joint(b, current, w[0] == 'E', err)) < 0)
                return r;
            current = b->n_joints - 1;
        } else if (strcmp(w, "}") == 0) {
            if (!j->has_offset)
                return mocap_bad(t, err, "joint '%s' has no OFFSET", j->name);
            current = j->parent;
        } else {
            return mocap_bad(t, err, "unknown keyword '%.32s' in joint '%s'", w, j->name);
        }
    }
}

static int parse_motion_header(struct bvh *b, struct errbuf *err)
{
    struct mocap_text *t = &b->text;
    double v;
    int r;
    if (b->n_channels == 0)
        return mocap_bad(t, err, "the hierarchy has no channels, so frames cannot be told apart");
    if ((r = expect_word(b, "Frames:", err)) < 0 ||
        (r = number_word(b, MOCAP_MAX_FRAMES, "the frame count", &v, err)) < 0)
        return r;
    if (v != floor(v) || v < 1)
        return mocap_bad(t, err, "frame count %g is not a count of 1 or more", v);
    b->frames = (int)v;
    if ((r = expect_word(b, "Frame", err)) < 0 || (r = expect_word(b, "Time:", err)) < 0 ||
        (r = number_word(b, 1.0, "Frame Time", &b->frame_time, err)) < 0)
        return r;
    if (!(b->frame_time >= 1e-4))
        return mocap_bad(t, err, "Frame Time %g is not 0.0001 to 1 second", b->frame_time);
    if (t->next_word < t->n_words)
        return mocap_bad(t, err, "'%.32s' after Frame Time", t->words[t->next_word]);
    return 0;
}

/* One frame line into b->rot and b->pos, file units. */
static int frame_kinematics(struct bvh *b, struct errbuf *err)
{
    struct mocap_text *t = &b->text;
    int r, word = 0;
    if (t->n_words != b->n_channels)
        return mocap_bad(t, err, "%d values in a frame of %d channels", t->n_words, b->n_channels);
    for (int i = 0; i < b->n_joints; i++) {
        const struct bvh_joint *j = &b->joint[i];
        double local[3][3], step[3][3], move[3] = {0, 0, 0}, v;
        mocap_identity(local);
        for (int c = 0; c < j->n_channels; c++) {
            int k = j->channel[c];
            bool rotation = k >= BVH_XROTATION;
            if ((r = mocap_number(t, t->words[word++],
                                  rotation ? MOCAP_MAX_ANGLE : MOCAP_MAX_LENGTH,
                                  bvh_channel_names[k], &v, err)) < 0)
                return r;
            if (rotation) {
                mocap_rotation_axis(step, k - BVH_XROTATION, v);
                mocap_matmul(local, local, step);
            } else {
                move[k] = v;
            }
        }
        double offset[3] = {j->offset[0] + move[0], j->offset[1] + move[1], j->offset[2] + move[2]};
        if (j->parent < 0) {
            memcpy(b->pos[i], offset, sizeof(offset));
            memcpy(b->rot[i], local, sizeof(local));
        } else {
            mocap_matvec(b->pos[i], b->rot[j->parent], offset);
            for (int a = 0; a < 3; a++)
                b->pos[i][a] += b->pos[j->parent][a];
            mocap_matmul(b->rot[i], b->rot[j->parent], local);
        }
    }
    return 0;
}

int mocap_bvh_load(const char *path, double scale, struct mocap_clip *ret_clip, struct errbuf *err)
{
    struct mocap_clip clip = {0};
    struct bvh *b = NULL;
    int r;

    if (!(scale >= 0 && scale <= 1000))
        return errbuf_set(err, -EINVAL, "%s: scale %g is not 0 (from the file) to 1000", path,
                          scale);
    b = calloc(1, sizeof(*b));
    if (!b)
        return errbuf_set(err, -ENOMEM, "%s: out of memory", path);
    if ((r = mocap_text_open(&b->text, path, 0, BVH_MAX_CHANNELS + 16, err)) < 0)
        goto done;
    if ((r = parse_hierarchy(b, err)) < 0 || (r = parse_motion_header(b, err)) < 0)
        goto done;
    if ((r = mocap_clip_begin(&clip, b->n_joints, &b->text, err)) < 0)
        goto done;
    for (int i = 0; i < b->n_joints; i++) {
        strcpy(clip.names[i], b->joint[i].name);
        clip.parent[i] = b->joint[i].parent;
    }
    clip.frame_time = b->frame_time;
    if (scale > 0) {
        clip.scale = scale;
        snprintf(clip.unit, sizeof(clip.unit), "%g m per unit (declared)", scale);
    } else {
        /* The rest pose: offsets alone. */
        for (int i = 0; i < b->n_joints; i++)
            for (int a = 0; a < 3; a++)
                b->pos[i][a] = b->joint[i].offset[a] +
                               (b->joint[i].parent >= 0 ? b->pos[b->joint[i].parent][a] : 0);
        if ((r = mocap_detect_scale(&clip, b->pos, b->n_joints, path, err)) < 0)
            goto done;
    }

    while ((r = mocap_text_line(&b->text, err)) > 0) {
        float(*out)[3];
        if (clip.frames == b->frames) {
            r = mocap_bad(&b->text, err, "more frames than the %d that 'Frames:' declares",
                          b->frames);
            goto done;
        }
        if ((r = frame_kinematics(b, err)) < 0 ||
            (r = mocap_clip_add_frame(&clip, &b->text, &out, err)) < 0)
            goto done;
        for (int i = 0; i < b->n_joints; i++)
            for (int a = 0; a < 3; a++)
                out[i][a] = (float)(b->pos[i][a] * clip.scale);
    }
    if (r < 0)
        goto done;
    if (clip.frames != b->frames) {
        r = mocap_bad(&b->text, err,
                      "the motion ends after %d of the %d frames that 'Frames:' "
                      "declares (truncated?)",
                      clip.frames, b->frames);
        goto done;
    }
    *ret_clip = clip;
    clip = (struct mocap_clip){0};
    r = 0;
done:
    mocap_clip_done(&clip);
    if (b)
        mocap_text_done(&b->text);
    free(b);
    return r;
}
