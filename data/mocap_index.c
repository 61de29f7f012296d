/* mocap_index: the index of a folder of motion-capture files, a TSV like
 * ../shared/mocap/index.tsv — which file is which clip, its Toyota
 * Smarthome activity, its capture rate, its subject and source, and the
 * ASF skeleton an AMC clip belongs to (docs/MOCAP.md). */
#include "data.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define INDEX_MAX_BYTES (16L << 20)
#define INDEX_MAX_ROWS  100000
#define INDEX_MAX_COLS  64

static const struct mocap_source_info sources[MOCAP_SOURCE_COUNT] = {
    [MOCAP_SOURCE_CMU] = {"cmu",
                          "The data used in this project was obtained from mocap.cs.cmu.edu. The "
                          "database was created with funding from NSF EIA-0196217.",
                          true},
    [MOCAP_SOURCE_HDM05] = {"hdm05",
                            "The data used in this project was obtained from HDM05 (M. Mueller et "
                            "al., Documentation Mocap Database HDM05, CG-2007-2, Universitaet "
                            "Bonn, 2007). CC BY-SA 3.0: for evaluation only, not for training "
                            "the shipped model.",
                            false},
};

const struct mocap_source_info *mocap_source_info(enum mocap_source source)
{
    return &sources[source < MOCAP_SOURCE_COUNT ? source : MOCAP_SOURCE_CMU];
}

int mocap_source_parse(const char *name, enum mocap_source *ret_source)
{
    for (int s = 0; s < MOCAP_SOURCE_COUNT; s++)
        if (strcasecmp(name, sources[s].name) == 0) {
            *ret_source = (enum mocap_source)s;
            return 0;
        }
    return -EINVAL;
}

void mocap_index_done(struct mocap_index *index)
{
    if (!index)
        return;
    free(index->rows);
    memset(index, 0, sizeof(*index));
}

static bool has_extension(const char *path, const char *ext)
{
    size_t n = strlen(path), m = strlen(ext);
    return n > m && strcasecmp(path + n - m, ext) == 0;
}

/* The last word of a cmu_subject_trial: "13_09", "HDM_mm_lieDownFloor_015_120", "mm". */
static const char *last_word(const char *text)
{
    const char *space = strrchr(text, ' ');
    return space ? space + 1 : text;
}

/* Subject of a trial: CMU "13_09" and "13" give 13, HDM05 "HDM_mm_..." and
 * "actor mm" give mm. */
static void trial_subject(char *out, size_t size, const char *trial)
{
    const char *w = last_word(trial);
    if (strncmp(w, "HDM_", 4) == 0)
        w += 4;
    size_t n = strcspn(w, "_");
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), w);
}

/* Splits line (modified in place) at tabs into at most max fields. */
static int split_tabs(char *line, char **fields, int max)
{
    int n = 0;
    for (char *p = line;; p++) {
        if (n < max)
            fields[n] = p;
        n++;
        p = strchr(p, '\t');
        if (!p)
            break;
        *p = '\0';
    }
    return n < max ? n : max;
}

static int column(char **header, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(header[i], name) == 0)
            return i;
    return -1;
}

static int row_parse(struct mocap_index_row *row, char **fields, int n, const int *cols,
                     const char *path, int line, struct errbuf *err)
{
    const char *file = cols[0] < n ? fields[cols[0]] : "";
    const char *trial = cols[1] < n ? fields[cols[1]] : "";
    const char *activity = cols[2] < n ? fields[cols[2]] : "";
    const char *fps = cols[3] < n ? fields[cols[3]] : "";
    const char *description = cols[4] >= 0 && cols[4] < n ? fields[cols[4]] : "";

    memset(row, 0, sizeof(*row));
    row->line = line;
    if (!file[0])
        return errbuf_set(err, -EBADMSG, "%s:%d: the row names no file", path, line);
    if (str_copy(row->file, sizeof(row->file), file) < 0 ||
        str_copy(row->trial, sizeof(row->trial), trial) < 0 ||
        str_copy(row->activity, sizeof(row->activity), activity) < 0)
        return errbuf_set(err, -EBADMSG, "%s:%d (%s): a field is too long", path, line, file);
    str_copy(row->description, sizeof(row->description), description);
    if (strcmp(activity, "skeleton") == 0) {
        row->class_index = -1;
    } else {
        row->class_index = mocap_class_index(activity);
        if (row->class_index < 0)
            return errbuf_set(err, -EBADMSG,
                              "%s:%d (%s): activity '%s' is not a Toyota Smarthome class (crt "
                              "classes lists them) nor 'Other' nor 'skeleton'",
                              path, line, file, activity);
    }
    if (fps[0]) {
        char *end = NULL;
        row->fps = strtod(fps, &end);
        if (end == fps || *end || !(row->fps > 0 && row->fps <= 10000))
            return errbuf_set(err, -EBADMSG, "%s:%d (%s): fps '%s' is not a rate in (0, 10000]",
                              path, line, file, fps);
    }
    trial_subject(row->subject, sizeof(row->subject), trial);
    row->source = strncmp(trial, "HDM05", 5) == 0 ? MOCAP_SOURCE_HDM05 : MOCAP_SOURCE_CMU;
    return 0;
}

static int index_parse(struct mocap_index *index, char *text, const char *path, struct errbuf *err)
{
    static const char *const required[] = {"file", "cmu_subject_trial", "activity", "fps"};
    char *fields[INDEX_MAX_COLS];
    int cols[5], line = 0, n_header = 0, cap = 0;

    for (char *next = text; next && *next;) {
        char *s = next;
        char *nl = strchr(s, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        size_t len = strlen(s);
        if (len && s[len - 1] == '\r')
            s[--len] = '\0';
        line++;
        if (!s[0])
            continue;
        if (n_header == 0) {
            n_header = split_tabs(s, fields, INDEX_MAX_COLS);
            for (int c = 0; c < 4; c++)
                if ((cols[c] = column(fields, n_header, required[c])) < 0)
                    return errbuf_set(err, -EBADMSG, "%s:%d: the header has no column '%s'", path,
                                      line, required[c]);
            cols[4] = column(fields, n_header, "cmu_description");
            continue;
        }
        if (index->n == INDEX_MAX_ROWS)
            return errbuf_set(err, -EFBIG, "%s: more than %d rows", path, INDEX_MAX_ROWS);
        if (index->n == cap) {
            cap = cap ? 2 * cap : 64;
            struct mocap_index_row *grown = realloc(index->rows, (size_t)cap * sizeof(*grown));
            if (!grown)
                return errbuf_set(err, -ENOMEM, "%s: out of memory", path);
            index->rows = grown;
        }
        int n = split_tabs(s, fields, INDEX_MAX_COLS);
        int r = row_parse(&index->rows[index->n], fields, n, cols, path, line, err);
        if (r < 0)
            return r;
        index->n++;
    }
    if (n_header == 0)
        return errbuf_set(err, -EBADMSG, "%s: empty (a header line of column names is expected)",
                          path);
    return 0;
}

int mocap_index_load(const char *path, struct mocap_index *ret_index, struct errbuf *err)
{
    _cleanup_fclose_ FILE *f = fopen(path, "rb");
    _cleanup_free_ char *text = NULL;
    struct mocap_index index = {0};
    struct stat st;

    if (!f || fstat(fileno(f), &st) < 0)
        return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_size > INDEX_MAX_BYTES)
        return errbuf_set(err, -EINVAL, "%s: not a regular file of at most %ld bytes", path,
                          INDEX_MAX_BYTES);
    text = malloc((size_t)st.st_size + 1);
    if (!text)
        return errbuf_set(err, -ENOMEM, "%s: out of memory", path);
    size_t got = fread(text, 1, (size_t)st.st_size, f);
    text[got] = '\0';
    if (memchr(text, '\0', got))
        return errbuf_set(err, -EBADMSG, "%s: holds a NUL byte (not a TSV file)", path);

    str_copy(index.path, sizeof(index.path), path);
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(index.dir, sizeof(index.dir), "%.*s", (int)(slash - path), path);
    else
        str_copy(index.dir, sizeof(index.dir), ".");
    if (!index.dir[0])
        str_copy(index.dir, sizeof(index.dir), "/");
    int r = index_parse(&index, text, path, err);
    if (r < 0) {
        mocap_index_done(&index);
        return r;
    }
    *ret_index = index;
    return 0;
}

int mocap_index_row_path(const struct mocap_index *index, int row, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", index->dir, index->rows[row].file);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int mocap_index_select(const struct mocap_index *index, const char *path, bool *selected,
                       int *ret_count, struct errbuf *err)
{
    char want[PATH_MAX], dir[PATH_MAX], full[PATH_MAX + 1024], real[PATH_MAX];
    struct stat st;
    if (!realpath(path, want) || stat(want, &st) < 0)
        return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
    if (!realpath(index->dir, dir))
        return errbuf_set(err, -errno, "%s: %s", index->dir, strerror(errno));
    bool folder = S_ISDIR(st.st_mode);
    size_t want_len = strlen(want);
    int count = 0;
    for (int i = 0; i < index->n; i++) {
        if (index->rows[i].class_index < 0)
            continue;
        snprintf(full, sizeof(full), "%s/%s", dir, index->rows[i].file);
        bool match;
        if (folder) /* by name, so a listed file that is missing is still chosen, and named */
            match = strcmp(want, "/") == 0 ||
                    (strncmp(full, want, want_len) == 0 && full[want_len] == '/');
        else
            match = realpath(full, real) && strcmp(real, want) == 0;
        if (match) {
            count += !selected[i];
            selected[i] = true;
        }
    }
    if (count == 0 && !folder) {
        for (int i = 0; i < index->n; i++) {
            snprintf(full, sizeof(full), "%s/%s", dir, index->rows[i].file);
            if (index->rows[i].class_index < 0 && realpath(full, real) && strcmp(real, want) == 0)
                return errbuf_set(err, -EINVAL, "%s: a skeleton (%s:%d), not a clip", path,
                                  index->path, index->rows[i].line);
        }
        return errbuf_set(err, -ENOENT, "%s: not a clip of %s", path, index->path);
    }
    *ret_count = count;
    return 0;
}

static void dirname_of(char *out, size_t size, const char *file)
{
    const char *slash = strrchr(file, '/');
    snprintf(out, size, "%.*s", slash ? (int)(slash - file) : 0, file);
}

int mocap_index_skeleton(const struct mocap_index *index, int row, struct errbuf *err)
{
    const struct mocap_index_row *clip = &index->rows[row];
    char folder[512], other[512];
    int elsewhere = -1;
    dirname_of(folder, sizeof(folder), clip->file);
    for (int i = 0; i < index->n; i++) {
        const struct mocap_index_row *r = &index->rows[i];
        if (r->class_index >= 0 || !has_extension(r->file, ".asf") || r->source != clip->source ||
            strcmp(r->subject, clip->subject) != 0)
            continue;
        dirname_of(other, sizeof(other), r->file);
        if (strcmp(other, folder) == 0)
            return i;
        if (elsewhere < 0)
            elsewhere = i;
    }
    if (elsewhere >= 0) /* the same person's skeleton from another copy of the source */
        return elsewhere;
    return errbuf_set(err, -ENOENT, "%s:%d (%s): no skeleton row (an .asf of %s subject '%s')",
                      index->path, clip->line, clip->file, mocap_source_info(clip->source)->name,
                      clip->subject);
}

int mocap_index_load_clip(const struct mocap_index *index, int row, struct mocap_clip *ret_clip,
                          struct errbuf *err)
{
    const struct mocap_index_row *clip = &index->rows[row];
    char path[PATH_MAX], asf[PATH_MAX];
    if (mocap_index_row_path(index, row, path, sizeof(path)) < 0)
        return errbuf_set(err, -ENAMETOOLONG, "%s:%d: the path of '%s' is too long", index->path,
                          clip->line, clip->file);
    if (has_extension(clip->file, ".bvh"))
        return mocap_bvh_load(path, MOCAP_SCALE_AUTO, ret_clip, err);
    if (!has_extension(clip->file, ".amc"))
        return errbuf_set(err, -EINVAL, "%s:%d (%s): neither a .bvh nor an .amc file", index->path,
                          clip->line, clip->file);
    if (!(clip->fps > 0))
        return errbuf_set(err, -EINVAL,
                          "%s:%d (%s): no fps (AMC files do not store their capture rate)",
                          index->path, clip->line, clip->file);
    int s = mocap_index_skeleton(index, row, err);
    if (s < 0)
        return s;
    if (mocap_index_row_path(index, s, asf, sizeof(asf)) < 0)
        return errbuf_set(err, -ENAMETOOLONG, "%s:%d: the path of '%s' is too long", index->path,
                          index->rows[s].line, index->rows[s].file);
    return mocap_asf_amc_load(asf, path, clip->fps, MOCAP_SCALE_AUTO, ret_clip, err);
}

int mocap_index_pose_name(const struct mocap_index_row *row, const char *activity, int camera,
                          char *out, size_t size)
{
    char subject[sizeof(row->subject)], trial[sizeof(row->trial)];
    /* Letters, digits, '.', '-'; anything else (spaces, '_' in a subject)
     * would blur the name's fields. */
    str_copy(subject, sizeof(subject), row->subject);
    for (char *p = subject; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            *p = '-';
    str_copy(trial, sizeof(trial), last_word(row->trial));
    if (!trial[0]) { /* no trial named: the file's name without its extension */
        const char *base = strrchr(row->file, '/');
        str_copy(trial, sizeof(trial), base ? base + 1 : row->file);
        char *dot = strrchr(trial, '.');
        if (dot && dot != trial)
            *dot = '\0';
    }
    for (char *p = trial; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            *p = '-';
    int n = snprintf(out, size, "%s_s%s_c%02d_%s.pose", activity, subject[0] ? subject : "x",
                     camera, trial);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
