/* labels_export: the labels of the state store as pose sequences
 * (docs/FORMATS.md), what `crt export-labels` writes and what a fine-tune
 * reads (docs/TRAINING.md, "Training on your own labels"). Each label keeps
 * its own keypoints (store.h), so this needs the state store only, not the
 * pose archive nor a running crtd. */
#ifndef CRTD_LABELS_EXPORT_H
#define CRTD_LABELS_EXPORT_H

#include "data.h"
#include "store.h"

#define LABELS_EXPORT_NEGATIVE_DIR "not" /* where the "not this" labels go */

struct labels_export_options {
    double fps;         /* the sequences' frame rate (0: 10, the default model's) */
    double min_seconds; /* a track's stretch shorter than this is left out (0: 1 s) */
    const char *stream; /* NULL or "": every stream's labels */
};

/* The class names of the store's labels that are not "not this", sorted
 * and unique: the class list every exported file carries, so that `crt
 * train` reads one list from the first. New malloc'd strings. */
int labels_export_classes(struct store *store, const char *stream, char ***ret_classes, int *ret_n,
                          struct errbuf *err);
void labels_export_classes_free(char **classes, int n);

/* One label's pose sequences, one per track it keeps keypoints of (in the
 * order of l->tracks), on a grid of fps from the track's first frame to its
 * last: each frame takes the track's record nearest to it within half a
 * frame, or none (zero scores). Every frame is labelled with the label's
 * class's index in classes (-1 for a "not this" label, or a class not in
 * classes); source says which label it was. Tracks with fewer than
 * min_seconds of frames are left out. A new malloc'd array of *ret_n. */
struct labels_export_sequence {
    uint32_t track;
    struct pose_sequence seq;
};
int labels_export_sequences(struct store *store, const struct store_label *l,
                            const struct labels_export_options *opts, const char *const *classes,
                            int n_classes, struct labels_export_sequence **ret_seqs, int *ret_n,
                            struct errbuf *err);
void labels_export_sequences_free(struct labels_export_sequence *seqs, int n);

struct labels_export_report {
    unsigned labels;    /* read from the store */
    unsigned files;     /* written to out_dir (class labels) */
    unsigned negatives; /* written to out_dir/not/ */
    unsigned short_tracks;
    int n_classes;
};

/* Writes every label of the store (or of opts->stream) to out_dir (made
 * when missing) as label-<id>-track-<track>.pose, the "not this" ones under
 * out_dir/not/ (so that `crt train --data out_dir` never reads them as the
 * class). Files are written atomically; a file of the same name is
 * replaced. */
int labels_export(struct store *store, const char *out_dir,
                  const struct labels_export_options *opts, struct labels_export_report *ret_report,
                  struct errbuf *err);

#endif
