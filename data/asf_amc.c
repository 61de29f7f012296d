/* asf_amc: Acclaim skeleton (ASF) and motion (AMC) files, as the CMU and
 * HDM05 databases write them.
 *
 * ASF: `:units` (mass, length, angle deg|rad), `:root` (order of the AMC
 * root channels TX TY TZ RX RY RZ, axis order of its rotation, position,
 * orientation), `:bonedata` with a begin..end block per bone (id, name,
 * direction, length, axis angles + order, dof rx/ry/rz, limits) and
 * `:hierarchy` (begin, lines "parent child...", end). AMC: header lines
 * (:FULLY-SPECIFIED, :DEGREES or :RADIANS), then per frame its number on a
 * line and a line per segment with its values in the ASF's dof order.
 *
 * A bone's axis gives C, the rotation (in the axis line's order, the first
 * letter applied first) from the world's frame to the bone's; a frame's dof
 * values give M in the same order. With column vectors the bone's world
 * rotation is R = R_parent C M C^-1 and its far end is the parent's end plus
 * R (direction x length), the Acclaim convention that CMU's viewer follows.
 * The root is at the AMC's TX TY TZ (the ASF position for a channel it lacks)
 * and turns by C_root M C_root^-1 with C_root from its orientation. */
#include "mocap_internal.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#define ASF_MAX_WORDS (MOCAP_MAX_JOINTS + 8)
#define AMC_MAX_WORDS 16
#define DEGREES       (180.0 / M_PI)

struct asf_bone {
    char name[MOCAP_NAME_MAX];
    int line;   /* where its block begins */
    int parent; /* bone index; -1 for the root (bone 0) or not yet given */
    int parent_line;
    double dir[3];
    double length;
    double axis[3];
    int axis_order[3];
    bool has_axis;
    int n_dof;
    int dof[6]; /* root: 0-2 TX TY TZ, 3-5 RX RY RZ; bones: 3-5 */
    int n_limits;
    double c[3][3], cinv[3][3];
    double value[6]; /* this frame's */
    bool seen;       /* in this frame */
};

struct asf {
    struct mocap_text text;
    struct asf_bone bone[MOCAP_MAX_JOINTS];
    int n_bones;        /* with the root, bone 0 */
    double length_unit; /* :units length, 0 when not given */
    bool radians;       /* :units angle */
    bool amc_radians;
    double root_position[3];
    int order[MOCAP_MAX_JOINTS]; /* joint k of the clip is bone order[k] */
    int joint_of[MOCAP_MAX_JOINTS];
    double rot[MOCAP_MAX_JOINTS][3][3];
    double pos[MOCAP_MAX_JOINTS][3];
};

static int find_bone(const struct asf *a, const char *name)
{
    for (int i = 0; i < a->n_bones; i++)
        if (strcmp(a->bone[i].name, name) == 0)
            return i;
    return -1;
}

static int parse_axis_order(struct mocap_text *t, const char *w, int order[3], struct errbuf *err)
{
    unsigned seen = 0;
    for (int k = 0; k < 3; k++) {
        char c = w[k] ? (char)(w[k] | 0x20) : 0;
        if (c < 'x' || c > 'z' || (seen & (1u << (c - 'x'))))
            return mocap_bad(t, err, "axis order '%.32s' is not a permutation of XYZ", w);
        seen |= 1u << (c - 'x');
        order[k] = c - 'x';
    }
    if (w[3])
        return mocap_bad(t, err, "axis order '%.32s' is not a permutation of XYZ", w);
    return 0;
}

/* Rotations about order[0], order[1], order[2], the first applied first. */
static void euler(double r[3][3], const double degrees[3], const int order[3])
{
    double step[3][3];
    mocap_identity(r);
    for (int k = 0; k < 3; k++) {
        mocap_rotation_axis(step, order[k], degrees[order[k]]);
        mocap_matmul(r, step, r);
    }
}

static int numbers(struct mocap_text *t, int from, int count, double limit, const char *what,
                   double *out, struct errbuf *err)
{
    if (t->n_words < from + count)
        return mocap_bad(t, err, "%s needs %d values", what, count);
    for (int k = 0; k < count; k++) {
        int r = mocap_number(t, t->words[from + k], limit, what, &out[k], err);
        if (r < 0)
            return r;
    }
    return 0;
}

static bool is_section(const struct mocap_text *t)
{
    return t->n_words > 0 && t->words[0][0] == ':';
}

/* Channel names of the root's order and the bones' dof: rx ry rz (3-5),
 * and for the root tx ty tz (0-2). */
static int channel_index(const char *w)
{
    static const char *const names[] = {"tx", "ty", "tz", "rx", "ry", "rz"};
    for (int k = 0; k < 6; k++)
        if (strcasecmp(w, names[k]) == 0)
            return k;
    return -1;
}

static int parse_units(struct asf *a, struct errbuf *err)
{
    struct mocap_text *t = &a->text;
    int r;
    while ((r = mocap_text_line(t, err)) > 0 && !is_section(t)) {
        const char *key = t->words[0];
        if (t->n_words != 2)
            return mocap_bad(t, err, ":units line '%.32s' is not a name and a value", key);
        if (strcmp(key, "length") == 0) {
            if ((r = numbers(t, 1, 1, MOCAP_MAX_LENGTH, "length unit", &a->length_unit, err)) < 0)
                return r;
            if (!(a->length_unit > 1e-6))
                return mocap_bad(t, err, "length unit %g is not positive", a->length_unit);
        } else if (strcmp(key, "angle") == 0) {
            if (strncasecmp(t->words[1], "deg", 3) != 0 && strncasecmp(t->words[1], "rad", 3) != 0)
                return mocap_bad(t, err, "angle unit '%.32s' is not deg or rad", t->words[1]);
            a->radians = strncasecmp(t->words[1], "rad", 3) == 0;
        }
        /* mass and anything else: nothing the positions need */
    }
    return r;
}

static int parse_root(struct asf *a, struct errbuf *err)
{
    struct mocap_text *t = &a->text;
    struct asf_bone *root = &a->bone[0];
    int r;
    while ((r = mocap_text_line(t, err)) > 0 && !is_section(t)) {
        const char *key = t->words[0];
        if (strcmp(key, "order") == 0) {
            unsigned seen = 0;
            if (t->n_words > 7)
                return mocap_bad(t, err, "root order has more than 6 channels");
            root->n_dof = 0;
            for (int k = 1; k < t->n_words; k++) {
                int c = channel_index(t->words[k]);
                if (c < 0)
                    return mocap_bad(t, err, "unknown root channel '%.32s' (TX TY TZ RX RY RZ)",
                                     t->words[k]);
                if (seen & (1u << c))
                    return mocap_bad(t, err, "root channel '%.32s' appears twice", t->words[k]);
                seen |= 1u << c;
                root->dof[root->n_dof++] = c;
            }
        } else if (strcmp(key, "axis") == 0) {
            if (t->n_words != 2)
                return mocap_bad(t, err, "root axis is one order such as XYZ");
            if ((r = parse_axis_order(t, t->words[1], root->axis_order, err)) < 0)
                return r;
        } else if (strcmp(key, "position") == 0) {
            if ((r = numbers(t, 1, 3, MOCAP_MAX_LENGTH, "root position", a->root_position, err)) <
                0)
                return r;
        } else if (strcmp(key, "orientation") == 0) {
            if ((r = numbers(t, 1, 3, MOCAP_MAX_ANGLE, "root orientation", root->axis, err)) < 0)
                return r;
        } else {
            return mocap_bad(t, err, "unknown :root entry '%.32s'", key);
        }
    }
    return r;
}

static int parse_dof(struct asf *a, struct asf_bone *b, struct errbuf *err)
{
    struct mocap_text *t = &a->text;
    unsigned seen = 0;
    if (b->n_dof > 0)
        return mocap_bad(t, err, "bone '%s' has a second dof line", b->name);
    if (t->n_words > 4)
        return mocap_bad(t, err, "bone '%s' has more than 3 dof", b->name);
    for (int k = 1; k < t->n_words; k++) {
        int c = channel_index(t->words[k]);
        if (c < 0 || c < 3)
            return mocap_bad(t, err, "dof '%.32s' of bone '%s' is not rx, ry or rz%s", t->words[k],
                             b->name,
                             c >= 0 || strcasecmp(t->words[k], "l") == 0
                                 ? " (translation and length dof are not supported)"
                                 : "");
        if (seen & (1u << c))
            return mocap_bad(t, err, "dof '%.32s' appears twice in bone '%s'", t->words[k],
                             b->name);
        seen |= 1u << c;
        b->dof[b->n_dof++] = c;
    }
    return 0;
}

/* "(lo hi)" pairs on a limits line, counted; the positions do not use them. */
static int parse_limits(struct asf *a, struct asf_bone *b, int from, struct errbuf *err)
{
    struct mocap_text *t = &a->text;
    for (int k = from; k < t->n_words; k++) {
        char *w = t->words[k];
        if (w[0] == '(') {
            b->n_limits++;
            w++;
        }
        size_t n = strlen(w);
        if (n && w[n - 1] == ')')
            w[--n] = '\0';
        if (!n)
            continue;
        char *end;
        double v = strtod(w, &end);
        if (end == w || *end || isnan(v))
            return mocap_bad(t, err, "limit '%.32s' of bone '%s' is not a number", w, b->name);
    }
    if (b->n_limits > b->n_dof)
        return mocap_bad(t, err, "bone '%s' has %d limits for %d dof", b->name, b->n_limits,
                         b->n_dof);
    return 0;
}

static int parse_bone(struct asf *a, struct errbuf *err)
{
    struct mocap_text *t = &a->text;
    int r;
    if (a->n_bones == MOCAP_MAX_JOINTS)
        return mocap_bad(t, err, "more than %d bones", MOCAP_MAX_JOINTS - 1);
    struct asf_bone *b = &a->bone[a->n_bones];
    bool has_dir = false, has_length = false, in_limits = false;
    b->line = t->line;
    b->parent = -1;
    b->axis_order[0] = 0, b->axis_order[1] = 1, b->axis_order[2] = 2;
    while ((r = mocap_text_line(t, err)) > 0) {
        const char *key = t->words[0];
        if (key[0] == '(' && in_limits) {
            if ((r = parse_limits(a, b, 0, err)) < 0)
                return r;
            continue;
        }
        in_limits = false;
        if (strcmp(key, "end") == 0)
            break;
        if (strcmp(key, "id") == 0 || strcmp(key, "bodymass") == 0 || strcmp(key, "cofmass") == 0)
            continue;
        if (strcmp(key, "name") == 0) {
            if (t->n_words != 2)
                return mocap_bad(t, err, "a bone name is one word");
            if (strlen(t->words[1]) >= MOCAP_NAME_MAX)
                return mocap_bad(t, err, "bone name '%.32s...' is longer than %d bytes",
                                 t->words[1], MOCAP_NAME_MAX - 1);
            if (strspn(t->words[1], "0123456789") == strlen(t->words[1]))
                return mocap_bad(t, err, "bone name '%s' is a number (AMC frame numbers are)",
                                 t->words[1]);
            if (find_bone(a, t->words[1]) >= 0)
                return mocap_bad(t, err, "bone name '%s' appears twice", t->words[1]);
            strcpy(b->name, t->words[1]);
        } else if (strcmp(key, "direction") == 0) {
            if ((r = numbers(t, 1, 3, MOCAP_MAX_LENGTH, "direction", b->dir, err)) < 0)
                return r;
            has_dir = true;
        } else if (strcmp(key, "length") == 0) {
            if ((r = numbers(t, 1, 1, MOCAP_MAX_LENGTH, "length", &b->length, err)) < 0)
                return r;
            if (b->length < 0)
                return mocap_bad(t, err, "length %g is negative", b->length);
            has_length = true;
        } else if (strcmp(key, "axis") == 0) {
            if ((r = numbers(t, 1, 3, MOCAP_MAX_ANGLE, "axis", b->axis, err)) < 0)
                return r;
            if (t->n_words != 5 || (r = parse_axis_order(t, t->words[4], b->axis_order, err)) < 0)
                return t->n_words != 5 ? mocap_bad(t, err, "axis is three angles and an order") : r;
            b->has_axis = true;
        } else if (strcmp(key, "dof") == 0) {
            if ((r = parse_dof(a, b, err)) < 0)
                return r;
        } else if (strcmp(key, "limits") == 0) {
            if ((r = parse_limits(a, b, 1, err)) < 0)
                return r;
            in_limits = true;
        } else {
            return mocap_bad(t, err, "unknown bone entry '%.32s'", key);
        }
    }
    if (r < 0)
        return r;
    if (r == 0)
        return mocap_bad(t, err, "the file ends inside a bone's begin..end");
    if (!b->name[0] || !has_dir || !has_length || !b->has_axis)
        return mocap_bad_line(t, b->line, err, "bone '%s' lacks its %s", b->name[0] ? b->name : "?",
                              !b->name[0]   ? "name"
                              : !has_dir    ? "direction"
                              : !has_length ? "length"
                                            : "axis");
    double norm = sqrt(b->dir[0] * b->dir[0] + b->dir[1] * b->dir[1] + b->dir[2] * b->dir[2]);
    if (b->length > 0 && !(norm > 1e-6))
        return mocap_bad_line(t, b->line, err, "bone '%s' has no direction", b->name);
    for (int k = 0; k < 3 && norm > 1e-6; k++)
        b->dir[k] /= norm;
    a->n_bones++;
    return 0;
}

static int parse_bonedata(struct asf *a, struct errbuf *err)
{
    struct mocap_text *t = &a->text;
    int r;
    while ((r = mocap_text_line(t, err)) > 0 && !is_section(t)) {
        if (strcmp(t->words[0], "begin") != 0)
            return mocap_bad(t, err, "'%.32s' where a bone's begin should be", t->words[0]);
        if ((r = parse_bone(a, err)) < 0)
            return r;
    }
    return r;
}

static int parse_hierarchy(struct asf *a, struct errbuf *err)
{
    struct mocap_text *t = &a->text;
    int r = mocap_text_line(t, err);
    if (r <= 0 || strcmp(t->words[0], "begin") != 0)
        return r < 0 ? r : mocap_bad(t, err, ":hierarchy starts with begin");
    while ((r = mocap_text_line(t, err)) > 0 && strcmp(t->words[0], "end") != 0) {
        int parent = find_bone(a, t->words[0]);
        if (parent < 0)
            return mocap_bad(t, err, ":hierarchy names '%.32s', which is no bone", t->words[0]);
        for (int k = 1; k < t->n_words; k++) {
            int child = find_bone(a, t->words[k]);
            if (child < 0)
                return mocap_bad(t, err, ":hierarchy names '%.32s', which is no bone", t->words[k]);
            if (child == 0)
                return mocap_bad(t, err, "the root cannot be a child");
            if (a->bone[child].parent >= 0)
                return mocap_bad(t, err, "bone '%s' has a second parent (the first on line %d)",
                                 a->bone[child].name, a->bone[child].parent_line);
            a->bone[child].parent = parent;
            a->bone[child].parent_line = t->line;
        }
    }
    if (r == 0)
        return mocap_bad(t, err, "the file ends inside :hierarchy (no end)");
    return r < 0 ? r : 1;
}

/* Joints in breadth-first order from the root; a bone that the walk never
 * reaches has no parent or sits on a cycle. */
static int order_joints(struct asf *a, struct errbuf *err)
{
    struct mocap_text *t = &a->text;
    int n = 0;
    for (int i = 0; i < a->n_bones; i++)
        a->joint_of[i] = -1;
    a->order[n++] = 0;
    a->joint_of[0] = 0;
    for (int k = 0; k < n; k++)
        for (int i = 1; i < a->n_bones; i++)
            if (a->bone[i].parent == a->order[k] && a->joint_of[i] < 0) {
                a->joint_of[i] = n;
                a->order[n++] = i;
            }
    for (int i = 1; i < a->n_bones; i++) {
        const struct asf_bone *b = &a->bone[i];
        if (b->parent < 0)
            return mocap_bad_line(t, b->line, err, "bone '%s' has no parent in :hierarchy",
                                  b->name);
        if (a->joint_of[i] < 0)
            return mocap_bad_line(t, b->parent_line, err,
                                  "bone '%s' is its own ancestor (a cycle in :hierarchy)", b->name);
    }
    return 0;
}

static int parse_asf(struct asf *a, struct errbuf *err)
{
    struct mocap_text *t = &a->text;
    bool has_root = false, has_bones = false, has_hierarchy = false;
    int r = mocap_text_line(t, err);
    while (r > 0) {
        if (!is_section(t))
            return mocap_bad(t, err, "'%.32s' outside a section (:units, :root, ...)", t->words[0]);
        const char *s = t->words[0];
        if (strcmp(s, ":units") == 0) {
            r = parse_units(a, err);
        } else if (strcmp(s, ":root") == 0) {
            if (has_root)
                return mocap_bad(t, err, "a second :root");
            has_root = true;
            r = parse_root(a, err);
        } else if (strcmp(s, ":bonedata") == 0) {
            if (has_bones)
                return mocap_bad(t, err, "a second :bonedata");
            has_bones = true;
            r = parse_bonedata(a, err);
        } else if (strcmp(s, ":hierarchy") == 0) {
            if (!has_bones || has_hierarchy)
                return mocap_bad(t, err, ":hierarchy %s",
                                 has_hierarchy ? "twice" : "before :bonedata");
            has_hierarchy = true;
            if ((r = parse_hierarchy(a, err)) > 0)
                r = mocap_text_line(t, err);
        } else {
            /* :version, :name, :documentation and others: skip to the next section */
            while ((r = mocap_text_line(t, err)) > 0 && !is_section(t))
                ;
        }
    }
    if (r < 0)
        return r;
    if (!has_root || !has_bones || !has_hierarchy)
        return mocap_bad(t, err, "the skeleton has no %s",
                         !has_root    ? ":root"
                         : !has_bones ? ":bonedata"
                                      : ":hierarchy");
    return order_joints(a, err);
}

/* C and C^-1 of every bone, and the root's rest position and channels. */
static void prepare_bones(struct asf *a)
{
    double to_deg = a->radians ? DEGREES : 1;
    for (int i = 0; i < a->n_bones; i++) {
        struct asf_bone *b = &a->bone[i];
        double angles[3] = {b->axis[0] * to_deg, b->axis[1] * to_deg, b->axis[2] * to_deg};
        euler(b->c, angles, b->axis_order);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
                b->cinv[r][c] = b->c[c][r];
    }
}

/* Forward kinematics of the values in bone[].value, in file units. */
static void frame_kinematics(struct asf *a)
{
    double to_deg = a->amc_radians ? DEGREES : 1;
    for (int k = 0; k < a->n_bones; k++) {
        int i = a->order[k];
        struct asf_bone *b = &a->bone[i];
        double angles[3] = {0, 0, 0}, m[3][3], r[3][3], end[3];
        for (int d = 0; d < b->n_dof; d++)
            if (b->dof[d] >= 3)
                angles[b->dof[d] - 3] = b->value[d] * to_deg;
        euler(m, angles, b->axis_order);
        mocap_matmul(r, b->c, m);
        mocap_matmul(r, r, b->cinv);
        if (i == 0) {
            memcpy(a->rot[0], r, sizeof(r));
            memcpy(a->pos[0], a->root_position, sizeof(a->root_position));
            for (int d = 0; d < b->n_dof; d++)
                if (b->dof[d] < 3)
                    a->pos[0][b->dof[d]] = b->value[d];
            continue;
        }
        mocap_matmul(a->rot[i], a->rot[b->parent], r);
        double v[3] = {b->dir[0] * b->length, b->dir[1] * b->length, b->dir[2] * b->length};
        mocap_matvec(end, a->rot[i], v);
        for (int c = 0; c < 3; c++)
            a->pos[i][c] = a->pos[b->parent][c] + end[c];
    }
}

static bool is_frame_number(const struct mocap_text *t)
{
    const char *w = t->words[0];
    return t->n_words == 1 && w[0] && strspn(w, "0123456789") == strlen(w);
}

/* Closes a frame: every segment with values must have been given. */
static int finish_frame(struct asf *a, struct mocap_text *t, int frame_line,
                        struct mocap_clip *clip, struct errbuf *err)
{
    float(*out)[3];
    int r;
    for (int i = 0; i < a->n_bones; i++)
        if (a->bone[i].n_dof > 0 && !a->bone[i].seen)
            return mocap_bad_line(t, frame_line, err, "this frame lacks segment '%s'%s",
                                  a->bone[i].name,
                                  t->at >= t->size ? " (the file is truncated?)" : "");
    frame_kinematics(a);
    if ((r = mocap_clip_add_frame(clip, t, &out, err)) < 0)
        return r;
    for (int k = 0; k < a->n_bones; k++)
        for (int c = 0; c < 3; c++)
            out[k][c] = (float)(a->pos[a->order[k]][c] * clip->scale);
    return 0;
}

static int parse_amc(struct asf *a, struct mocap_text *t, struct mocap_clip *clip,
                     struct errbuf *err)
{
    long number = -1;
    int frame_line = 0, r;
    a->amc_radians = a->radians;
    while ((r = mocap_text_line(t, err)) > 0) {
        const char *w = t->words[0];
        if (w[0] == ':') {
            if (number >= 0)
                return mocap_bad(t, err, "'%.32s' after the first frame", w);
            if (strcasecmp(w, ":DEGREES") == 0)
                a->amc_radians = false;
            else if (strcasecmp(w, ":RADIANS") == 0)
                a->amc_radians = true;
            continue;
        }
        if (is_frame_number(t)) {
            long n = strlen(w) > 9 ? -1 : strtol(w, NULL, 10);
            if (number >= 0 && (r = finish_frame(a, t, frame_line, clip, err)) < 0)
                return r;
            if (n < 0 || (number >= 0 && n != number + 1))
                return mocap_bad(t, err, "frame number %.32s where %ld should be", w, number + 1);
            number = n;
            frame_line = t->line;
            for (int i = 0; i < a->n_bones; i++)
                a->bone[i].seen = false;
            continue;
        }
        if (number < 0)
            return mocap_bad(t, err, "'%.32s' before the first frame number", w);
        int i = find_bone(a, w);
        if (i < 0)
            return mocap_bad(t, err, "segment '%.32s' is no bone of the skeleton", w);
        struct asf_bone *b = &a->bone[i];
        if (b->seen)
            return mocap_bad(t, err, "segment '%s' appears twice in frame %ld", b->name, number);
        if (t->n_words - 1 != b->n_dof)
            return mocap_bad(t, err, "segment '%s' has %d values for its %d dof", b->name,
                             t->n_words - 1, b->n_dof);
        for (int d = 0; d < b->n_dof; d++)
            if ((r = mocap_number(t, t->words[1 + d],
                                  b->dof[d] < 3 ? MOCAP_MAX_LENGTH : MOCAP_MAX_ANGLE, b->name,
                                  &b->value[d], err)) < 0)
                return r;
        b->seen = true;
    }
    if (r < 0)
        return r;
    if (number < 0)
        return mocap_bad(t, err, "no frames");
    return finish_frame(a, t, frame_line, clip, err);
}

int mocap_asf_amc_load(const char *asf_path, const char *amc_path, double fps, double scale,
                       struct mocap_clip *ret_clip, struct errbuf *err)
{
    struct mocap_clip clip = {0};
    struct mocap_text amc = {0};
    struct asf *a = NULL;
    int r;

    if (!(fps >= 1 && fps <= 10000))
        return errbuf_set(err, -EINVAL, "%s: frame rate %g is not 1 to 10000", amc_path, fps);
    if (!(scale >= 0 && scale <= 1000))
        return errbuf_set(err, -EINVAL, "%s: scale %g is not 0 (from the file) to 1000", asf_path,
                          scale);
    a = calloc(1, sizeof(*a));
    if (!a)
        return errbuf_set(err, -ENOMEM, "%s: out of memory", asf_path);
    strcpy(a->bone[0].name, "root");
    a->bone[0].parent = -1;
    for (int k = 0; k < 3; k++)
        a->bone[0].axis_order[k] = k;
    a->n_bones = 1;
    if ((r = mocap_text_open(&a->text, asf_path, '#', ASF_MAX_WORDS, err)) < 0 ||
        (r = parse_asf(a, err)) < 0)
        goto done;
    prepare_bones(a);
    if ((r = mocap_clip_begin(&clip, a->n_bones, &a->text, err)) < 0)
        goto done;
    for (int k = 0; k < a->n_bones; k++) {
        const struct asf_bone *b = &a->bone[a->order[k]];
        strcpy(clip.names[k], b->name);
        clip.parent[k] = b->parent < 0 ? -1 : a->joint_of[b->parent];
    }
    clip.frame_time = 1.0 / fps;
    if (scale > 0) {
        clip.scale = scale;
        snprintf(clip.unit, sizeof(clip.unit), "%g m per unit (declared)", scale);
    } else if (a->length_unit > 0) {
        clip.scale = 0.0254 / a->length_unit;
        snprintf(clip.unit, sizeof(clip.unit), "inches x %g (ASF :units length)", a->length_unit);
    } else {
        for (int i = 0; i < a->n_bones; i++)
            for (int d = 0; d < 6; d++)
                a->bone[i].value[d] = 0;
        frame_kinematics(a);
        if ((r = mocap_detect_scale(&clip, a->pos, a->n_bones, asf_path, err)) < 0)
            goto done;
    }
    if ((r = mocap_text_open(&amc, amc_path, '#', AMC_MAX_WORDS, err)) < 0 ||
        (r = parse_amc(a, &amc, &clip, err)) < 0)
        goto done;
    *ret_clip = clip;
    clip = (struct mocap_clip){0};
    r = 0;
done:
    mocap_clip_done(&clip);
    mocap_text_done(&amc);
    if (a)
        mocap_text_done(&a->text);
    free(a);
    return r;
}
