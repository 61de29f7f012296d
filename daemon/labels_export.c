/* labels_export: labels as pose sequences (labels_export.h). */
#include "labels_export.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_FPS         10.0
#define DEFAULT_MIN_SECONDS 1.0

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void labels_export_classes_free(char **classes, int n)
{
    for (int i = 0; i < n; i++)
        free(classes[i]);
    free(classes);
}

static int labels_of(struct store *store, const char *stream, struct store_label **ret,
                     size_t *ret_n, struct errbuf *err)
{
    struct store_label_query q = {.track = -1, .since = -1, .until = -1};
    if (stream)
        str_copy(q.stream, sizeof(q.stream), stream);
    return store_labels_query(store, &q, ret, ret_n, err);
}

int labels_export_classes(struct store *store, const char *stream, char ***ret_classes, int *ret_n,
                          struct errbuf *err)
{
    _cleanup_free_ struct store_label *labels = NULL;
    size_t n_labels;
    int r = labels_of(store, stream, &labels, &n_labels, err);
    if (r < 0)
        return r;
    char **classes = calloc(n_labels ? n_labels : 1, sizeof(*classes));
    int n = 0;
    if (!classes)
        return -ENOMEM;
    for (size_t i = 0; i < n_labels; i++) {
        if (labels[i].negative)
            continue;
        bool seen = false;
        for (int c = 0; c < n && !seen; c++)
            seen = strcmp(classes[c], labels[i].class_name) == 0;
        if (seen)
            continue;
        if (n >= POSE_SEQUENCE_MAX_CLASSES) {
            labels_export_classes_free(classes, n);
            return errbuf_set(err, -E2BIG, "labels: more than %d classes",
                              POSE_SEQUENCE_MAX_CLASSES);
        }
        if (!(classes[n++] = strdup(labels[i].class_name))) {
            labels_export_classes_free(classes, n);
            return -ENOMEM;
        }
    }
    qsort(classes, (size_t)n, sizeof(*classes), compare_strings);
    *ret_classes = classes;
    *ret_n = n;
    return 0;
}

void labels_export_sequences_free(struct labels_export_sequence *seqs, int n)
{
    for (int i = 0; i < n; i++)
        pose_sequence_done(&seqs[i].seq);
    free(seqs);
}

/* One track's records (recs[0..n), sorted by time) on the grid. */
static int track_sequence(const struct pose_archive_record *recs, size_t n, double fps,
                          const struct store_label *l, const char *const *classes, int n_classes,
                          struct pose_sequence *seq, struct errbuf *err)
{
    double t0 = recs[0].wall, t1 = recs[n - 1].wall;
    int frames = (int)floor((t1 - t0) * fps + 1e-6) + 1;
    int r = pose_sequence_init(seq, frames, fps, classes, n_classes, err);
    if (r < 0)
        return r;
    int label = -1;
    for (int c = 0; c < n_classes && !l->negative; c++)
        if (strcmp(classes[c], l->class_name) == 0)
            label = c;
    seq->label = label;
    size_t j = 0;
    for (int f = 0; f < frames; f++) {
        double t = t0 + f / fps;
        while (j + 1 < n && fabs(recs[j + 1].wall - t) <= fabs(recs[j].wall - t))
            j++;
        if (fabs(recs[j].wall - t) <= 0.5 / fps + 1e-6)
            memcpy(seq->keypoints[f], recs[j].keypoints, sizeof(seq->keypoints[f]));
        seq->labels[f] = label;
    }
    snprintf(seq->source, sizeof(seq->source), "crtd label %lld: stream %s, track %u, %s%s",
             (long long)l->id, l->stream, (unsigned)recs[0].track, l->negative ? "not " : "",
             l->class_name);
    return 0;
}

int labels_export_sequences(struct store *store, const struct store_label *l,
                            const struct labels_export_options *opts, const char *const *classes,
                            int n_classes, struct labels_export_sequence **ret_seqs, int *ret_n,
                            struct errbuf *err)
{
    double fps = opts && opts->fps > 0 ? opts->fps : DEFAULT_FPS;
    double min_s = opts && opts->min_seconds > 0 ? opts->min_seconds : DEFAULT_MIN_SECONDS;
    _cleanup_free_ void *data = NULL;
    size_t size;
    int r = store_label_keypoints(store, l->id, &data, &size, err);
    if (r < 0)
        return r;
    _cleanup_free_ struct pose_archive_record *recs = NULL;
    if ((r = pose_archive_decode(data, size, l->records, l->t_first, &recs, err)) < 0)
        return errbuf_set(err, r, "label %lld: its keypoints do not decode: %s", (long long)l->id,
                          err ? err->msg : "");
    struct labels_export_sequence *seqs = calloc(l->records, sizeof(*seqs));
    int n = 0;
    if (!seqs)
        return -ENOMEM;
    /* The records are sorted by track, then time. */
    for (size_t i = 0; i < l->records;) {
        size_t k = i;
        while (k < l->records && recs[k].track == recs[i].track)
            k++;
        if (recs[k - 1].wall - recs[i].wall >= min_s - 1e-6) {
            seqs[n].track = recs[i].track;
            if ((r = track_sequence(recs + i, k - i, fps, l, classes, n_classes, &seqs[n].seq,
                                    err)) < 0) {
                labels_export_sequences_free(seqs, n);
                return r;
            }
            n++;
        }
        i = k;
    }
    *ret_seqs = seqs;
    *ret_n = n;
    return 0;
}

int labels_export(struct store *store, const char *out_dir,
                  const struct labels_export_options *opts, struct labels_export_report *ret,
                  struct errbuf *err)
{
    struct labels_export_report rep = {0};
    const char *stream = opts && opts->stream && opts->stream[0] ? opts->stream : NULL;
    char neg_dir[PATH_MAX];
    if (snprintf(neg_dir, sizeof(neg_dir), "%s/%s", out_dir, LABELS_EXPORT_NEGATIVE_DIR) >=
        (int)sizeof(neg_dir))
        return errbuf_set(err, -ENAMETOOLONG, "'%s': path too long", out_dir);
    int r = mkdir_parents(out_dir, 0755);
    if (r < 0)
        return errbuf_set(err, r, "'%s': %s", out_dir, strerror(-r));
    char **classes = NULL;
    int n_classes = 0;
    _cleanup_free_ struct store_label *labels = NULL;
    size_t n_labels;
    if ((r = labels_export_classes(store, stream, &classes, &n_classes, err)) < 0)
        return r;
    if ((r = labels_of(store, stream, &labels, &n_labels, err)) < 0)
        goto out;
    rep.labels = (unsigned)n_labels;
    rep.n_classes = n_classes;
    for (size_t i = 0; i < n_labels; i++) {
        const struct store_label *l = &labels[i];
        struct labels_export_sequence *seqs;
        int n;
        r = labels_export_sequences(store, l, opts, (const char *const *)classes, n_classes, &seqs,
                                    &n, err);
        if (r < 0)
            goto out;
        /* The tracks with too few frames for a sequence. */
        unsigned tracks = l->tracks[0] ? 1 : 0;
        for (const char *p = l->tracks; *p; p++)
            tracks += *p == ',';
        rep.short_tracks += tracks - (unsigned)n;
        if (n > 0 && l->negative && (r = mkdir_parents(neg_dir, 0755)) < 0) {
            r = errbuf_set(err, r, "'%s': %s", neg_dir, strerror(-r));
            labels_export_sequences_free(seqs, n);
            goto out;
        }
        for (int k = 0; k < n && r >= 0; k++) {
            char path[PATH_MAX + 64];
            snprintf(path, sizeof(path), "%.*s/label-%06lld-track-%u.pose", PATH_MAX - 1,
                     l->negative ? neg_dir : out_dir, (long long)l->id, (unsigned)seqs[k].track);
            r = pose_sequence_save(&seqs[k].seq, path, err);
            if (r >= 0 && l->negative)
                rep.negatives++;
            else if (r >= 0)
                rep.files++;
        }
        labels_export_sequences_free(seqs, n);
        if (r < 0)
            goto out;
    }
    if (ret)
        *ret = rep;
    r = 0;
out:
    labels_export_classes_free(classes, n_classes);
    return r;
}
