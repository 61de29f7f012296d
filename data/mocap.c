/* mocap: the clip that the BVH and ASF/AMC readers fill, and what they
 * share: reading a text file into lines and words, strict numbers, Euler
 * rotations and the unit of a file that states none. */
#include "mocap_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void mocap_clip_done(struct mocap_clip *clip)
{
    if (!clip)
        return;
    free(clip->names);
    free(clip->parent);
    free(clip->positions);
    memset(clip, 0, sizeof(*clip));
}

int mocap_joint_find(const struct mocap_clip *clip, const char *name)
{
    for (int j = 0; j < clip->n_joints; j++)
        if (strcmp(clip->names[j], name) == 0)
            return j;
    return -ENOENT;
}

/* ---- text ------------------------------------------------------------------ */

int mocap_text_open(struct mocap_text *t, const char *path, char comment, int max_words,
                    struct errbuf *err)
{
    _cleanup_fclose_ FILE *f = NULL;
    struct stat st;

    memset(t, 0, sizeof(*t));
    t->path = path;
    t->comment = comment;
    f = fopen(path, "rb");
    if (!f)
        return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) < 0)
        return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return errbuf_set(err, -EINVAL, "%s: not a regular file", path);
    if (st.st_size > MOCAP_MAX_FILE)
        return errbuf_set(err, -EFBIG, "%s: %lld bytes, more than the %ld a motion file may have",
                          path, (long long)st.st_size, MOCAP_MAX_FILE);
    t->buf = malloc((size_t)st.st_size + 1);
    t->words = calloc((size_t)max_words, sizeof(*t->words));
    if (!t->buf || !t->words) {
        mocap_text_done(t);
        return errbuf_set(err, -ENOMEM, "%s: out of memory", path);
    }
    t->size = fread(t->buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        mocap_text_done(t);
        return errbuf_set(err, -EIO, "%s: read error", path);
    }
    t->buf[t->size] = '\0';
    t->max_words = max_words;
    return 0;
}

void mocap_text_done(struct mocap_text *t)
{
    if (!t)
        return;
    free(t->buf);
    free(t->words);
    t->buf = NULL;
    t->words = NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int mocap_text_line(struct mocap_text *t, struct errbuf *err)
{
    while (t->at < t->size) {
        char *start = t->buf + t->at;
        char *nl = memchr(start, '\n', t->size - t->at);
        size_t len = nl ? (size_t)(nl - start) : t->size - t->at;
        t->at += len + (nl ? 1 : 0);
        t->line++;
        start[len] = '\0';
        if (memchr(start, '\0', len))
            return mocap_bad(t, err, "a NUL byte (not a text file)");
        if (t->comment) {
            char *c = strchr(start, t->comment);
            if (c)
                *c = '\0';
        }
        t->n_words = 0;
        t->next_word = 0;
        for (char *p = start; *p;) {
            while (is_space(*p))
                p++;
            if (!*p)
                break;
            if (t->n_words == t->max_words)
                return mocap_bad(t, err, "more than %d words on a line", t->max_words);
            t->words[t->n_words++] = p;
            while (*p && !is_space(*p))
                p++;
            if (*p)
                *p++ = '\0';
        }
        if (t->n_words > 0)
            return 1;
    }
    t->n_words = 0;
    t->next_word = 0;
    return 0;
}

const char *mocap_text_word(struct mocap_text *t, int *ret, struct errbuf *err)
{
    *ret = 0;
    while (t->next_word >= t->n_words) {
        int r = mocap_text_line(t, err);
        if (r <= 0) {
            *ret = r;
            return NULL;
        }
    }
    return t->words[t->next_word++];
}

static int bad_at(const struct mocap_text *t, int line, struct errbuf *err, const char *fmt,
                  va_list ap) __attribute__((format(printf, 4, 0)));

static int bad_at(const struct mocap_text *t, int line, struct errbuf *err, const char *fmt,
                  va_list ap)
{
    char what[192];
    vsnprintf(what, sizeof(what), fmt, ap);
    return errbuf_set(err, -EBADMSG, "%s:%d: %s", t->path, line, what);
}

int mocap_bad(const struct mocap_text *t, struct errbuf *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = bad_at(t, t->line, err, fmt, ap);
    va_end(ap);
    return r;
}

int mocap_bad_line(const struct mocap_text *t, int line, struct errbuf *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = bad_at(t, line, err, fmt, ap);
    va_end(ap);
    return r;
}

int mocap_number(const struct mocap_text *t, const char *word, double limit, const char *what,
                 double *ret_value, struct errbuf *err)
{
    char *end = NULL;
    errno = 0;
    double v = word ? strtod(word, &end) : 0;
    if (!word || end == word || *end)
        return mocap_bad(t, err, "%s '%.32s' is not a number", what, word ? word : "(missing)");
    if (!isfinite(v) || fabs(v) > limit)
        return mocap_bad(t, err, "%s %.32s is out of range (at most %g)", what, word, limit);
    *ret_value = v;
    return 0;
}

/* ---- rotations ------------------------------------------------------------- */

void mocap_identity(double r[3][3])
{
    memset(r, 0, 9 * sizeof(double));
    r[0][0] = r[1][1] = r[2][2] = 1;
}

void mocap_rotation_axis(double r[3][3], int axis, double degrees)
{
    double a = degrees * (M_PI / 180.0), c = cos(a), s = sin(a);
    int i = (axis + 1) % 3, k = (axis + 2) % 3;
    mocap_identity(r);
    r[i][i] = c;
    r[i][k] = -s;
    r[k][i] = s;
    r[k][k] = c;
}

void mocap_matmul(double out[3][3], double a[3][3], double b[3][3])
{
    double m[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            m[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
    memcpy(out, m, sizeof(m));
}

void mocap_matvec(double out[3], double r[3][3], const double v[3])
{
    double o[3];
    for (int i = 0; i < 3; i++)
        o[i] = r[i][0] * v[0] + r[i][1] * v[1] + r[i][2] * v[2];
    memcpy(out, o, sizeof(o));
}

/* ---- the clip -------------------------------------------------------------- */

int mocap_clip_begin(struct mocap_clip *clip, int n_joints, const struct mocap_text *t,
                     struct errbuf *err)
{
    if (n_joints < 1 || n_joints > MOCAP_MAX_JOINTS)
        return mocap_bad(t, err, "%d joints (a skeleton has 1 to %d)", n_joints, MOCAP_MAX_JOINTS);
    clip->names = calloc((size_t)n_joints, sizeof(*clip->names));
    clip->parent = calloc((size_t)n_joints, sizeof(*clip->parent));
    if (!clip->names || !clip->parent)
        return errbuf_set(err, -ENOMEM, "%s: out of memory", t->path);
    clip->n_joints = n_joints;
    return 0;
}

int mocap_clip_add_frame(struct mocap_clip *clip, const struct mocap_text *t, float (**ret)[3],
                         struct errbuf *err)
{
    size_t n = (size_t)clip->n_joints;
    if (clip->frames >= MOCAP_MAX_FRAMES ||
        (size_t)(clip->frames + 1) * n > (size_t)MOCAP_MAX_SAMPLES)
        return mocap_bad(t, err,
                         "more than %d frames of %d joints (the cap is %d frames, %d samples)",
                         clip->frames, clip->n_joints, MOCAP_MAX_FRAMES, MOCAP_MAX_SAMPLES);
    /* Capacity doubles at each power of two, so the array is realloc'd
     * log2(frames) times. */
    size_t f = (size_t)clip->frames;
    if (f == 0 || (f & (f - 1)) == 0) {
        size_t cap = f ? 2 * f : 1;
        float(*p)[3] = realloc(clip->positions, cap * n * sizeof(*p));
        if (!p)
            return errbuf_set(err, -ENOMEM, "%s: out of memory for %zu frames", t->path, cap);
        clip->positions = p;
    }
    *ret = clip->positions + f * n;
    clip->frames++;
    return 0;
}

/* Units a file may be in, far enough apart (factor 2.2 or more) that one
 * height range [1.2, 2.4] m matches at most one of them. */
static const struct {
    const char *name;
    double metres;
} units[] = {
    {"metres", 1.0},    {"centimetres", 0.01}, {"millimetres", 0.001},
    {"inches", 0.0254}, {"feet", 0.3048},      {"CMU units (inches x 0.45)", MOCAP_SCALE_CMU},
};

int mocap_detect_scale(struct mocap_clip *clip, double (*rest)[3], int n, const char *path,
                       struct errbuf *err)
{
    /* A standing person's height is the rest pose's largest extent: the
     * arms of a T-pose span about as much, and the up axis need not be Y. */
    double height = 0;
    for (int a = 0; a < 3; a++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int j = 0; j < n; j++) {
            lo = fmin(lo, rest[j][a]);
            hi = fmax(hi, rest[j][a]);
        }
        height = fmax(height, hi - lo);
    }
    for (size_t u = 0; u < ARRAY_SIZE(units); u++) {
        double m = height * units[u].metres;
        if (m >= 1.2 && m <= 2.4) {
            clip->scale = units[u].metres;
            snprintf(clip->unit, sizeof(clip->unit), "%s (detected: rest pose %.2f m tall)",
                     units[u].name, m);
            return 0;
        }
    }
    return errbuf_set(err, -EBADMSG,
                      "%s: the file states no unit and a rest pose %g units tall is no standing "
                      "adult in m, cm, mm, inches, feet or CMU units; pass the scale",
                      path, height);
}
