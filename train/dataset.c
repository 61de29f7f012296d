/* dataset: folders of pose sequences loaded for evaluation and training. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

void dataset_features(float *out, const struct pose_keypoint (*keypoints)[POSE_NUM_KEYPOINTS],
                      int frames)
{
    struct features_state st;
    features_state_init(&st);
    for (int f = 0; f < frames; f++) {
        /* The pose estimator's rule for a person in view: at least five
         * keypoints seen (pose_result.person); the live path uses the same. */
        int seen = 0;
        for (int j = 0; j < POSE_NUM_KEYPOINTS; j++)
            seen += keypoints[f][j].score >= POSE_MIN_SCORE;
        features_v1(out + (size_t)f * FEATURES_V1_DIM, &st, seen >= 5 ? keypoints[f] : NULL);
    }
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

static int list_pose_files(const char *dir, char ***ret_names, int *ret_n, struct errbuf *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errbuf_set(err, -errno, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!has_suffix(e->d_name, ".pose"))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            char **grown = realloc(names, (size_t)cap * sizeof(*names));
            if (!grown)
                goto nomem;
            names = grown;
        }
        names[n] = strdup(e->d_name);
        if (!names[n])
            goto nomem;
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(*names), compare_names);
    *ret_names = names;
    *ret_n = n;
    return 0;
nomem:
    closedir(d);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return errbuf_set(err, -ENOMEM, "%s: out of memory listing files", dir);
}

static int class_in(const char *name, const char *const *classes, int n)
{
    for (int c = 0; c < n; c++)
        if (strcmp(classes[c], name) == 0)
            return c;
    return -1;
}

/* Fills clip from a loaded sequence; returns -ENOENT (with a message) when a
 * class of the file is not one of the model's. */
static int clip_from_sequence(struct dataset_clip *clip, const struct pose_sequence *seq,
                              const char *const *classes, int n_classes, struct errbuf *err)
{
    int map[POSE_SEQUENCE_MAX_CLASSES];
    for (int c = 0; c < seq->n_classes; c++)
        map[c] = class_in(seq->classes[c], classes, n_classes);
    clip->frames = seq->frames;
    clip->features =
        malloc((size_t)(seq->frames ? seq->frames : 1) * FEATURES_V1_DIM * sizeof(float));
    clip->frame_labels = malloc((size_t)(seq->frames ? seq->frames : 1) * sizeof(int));
    if (!clip->features || !clip->frame_labels)
        return errbuf_set(err, -ENOMEM, "out of memory");
    for (int f = 0; f < seq->frames; f++) {
        int l = seq->labels[f];
        if (l >= 0 && map[l] < 0)
            return errbuf_set(err, -ENOENT, "class '%s' is not one of the model's",
                              seq->classes[l]);
        clip->frame_labels[f] = l >= 0 ? map[l] : -1;
    }
    if (seq->label >= 0 && map[seq->label] < 0)
        return errbuf_set(err, -ENOENT, "class '%s' is not one of the model's",
                          seq->classes[seq->label]);
    clip->label = seq->label >= 0 ? map[seq->label] : -1;
    dataset_features(clip->features,
                     (const struct pose_keypoint(*)[POSE_NUM_KEYPOINTS])seq->keypoints,
                     seq->frames);
    return 0;
}

void dataset_clip_done(struct dataset_clip *clip)
{
    free(clip->path);
    free(clip->features);
    free(clip->frame_labels);
    memset(clip, 0, sizeof(*clip));
}

int dataset_load(struct dataset *ds, const char *dir, const struct dataset_filter *filter,
                 const char *const *model_classes, int n_model_classes,
                 const struct dataset_report *report, struct errbuf *err)
{
    static const struct dataset_report quiet = {0};
    if (!report)
        report = &quiet;
    char **names = NULL;
    int n_names = 0;
    int r = list_pose_files(dir, &names, &n_names, err);
    if (r < 0)
        return r;

    memset(ds, 0, sizeof(*ds));
    int first = filter->first < n_names ? filter->first : n_names;
    int last =
        filter->count > 0 && first + filter->count < n_names ? first + filter->count : n_names;
    ds->clips = calloc((size_t)(last - first + 1), sizeof(*ds->clips));
    if (!ds->clips) {
        r = errbuf_set(err, -ENOMEM, "%s: out of memory", dir);
        goto done;
    }
    int64_t start = time_mono_ns(), last_report = 0;
    for (int i = first; i < last; i++) {
        struct dataset_clip clip = {.label = -1};
        struct pose_sequence seq;
        struct errbuf why = {0};
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);

        if (filter->smarthome) {
            if (smarthome_clip_name_parse(names[i], &clip.name, &why) < 0) {
                if (report->skipped)
                    report->skipped(report->user, path, why.msg);
                ds->skipped++;
                continue;
            }
            clip.has_name = true;
            if (smarthome_clip_split(filter->protocol, &clip.name) != filter->split)
                continue;
            if (filter->known_classes && class_in(smarthome_classes[clip.name.class_index],
                                                  model_classes, n_model_classes) < 0) {
                ds->unknown++;
                continue;
            }
        } else {
            clip.has_name = smarthome_clip_name_parse(names[i], &clip.name, NULL) == 0;
        }
        if (filter->mocap && mocap_split_of_name(names[i]) != filter->mocap_split)
            continue;

        r = pose_sequence_load(path, &seq, &why);
        if (r < 0) {
            if (report->skipped)
                report->skipped(report->user, NULL, errbuf_text(&why, r));
            ds->skipped++;
            continue;
        }
        r = clip_from_sequence(&clip, &seq, model_classes, n_model_classes, &why);
        pose_sequence_done(&seq);
        if (r == 0 && filter->smarthome) {
            /* The file name is the truth for Smarthome clips. */
            int c =
                class_in(smarthome_classes[clip.name.class_index], model_classes, n_model_classes);
            if (c < 0)
                r = errbuf_set(&why, -ENOENT, "class '%s' is not one of the model's",
                               smarthome_classes[clip.name.class_index]);
            clip.label = c;
        }
        if (r == 0 && !(clip.path = strdup(path)))
            r = -ENOMEM;
        if (r == -ENOMEM) {
            dataset_clip_done(&clip);
            r = errbuf_set(err, r, "%s: out of memory", path);
            goto done;
        }
        if (r < 0) {
            if (report->skipped)
                report->skipped(report->user, path, errbuf_text(&why, r));
            dataset_clip_done(&clip);
            ds->skipped++;
            continue;
        }
        ds->clips[ds->n++] = clip;

        int64_t now = time_mono_ns();
        if (report->progress && now - last_report > 500000000) {
            report->progress(report->user, dir, i - first + 1, last - first);
            last_report = now;
        }
    }
    if (report->loaded)
        report->loaded(report->user, dir, ds->n, ds->skipped,
                       (double)(time_mono_ns() - start) * 1e-9);
    r = 0;
done:
    for (int i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    if (r < 0)
        dataset_done(ds);
    return r;
}

void dataset_done(struct dataset *ds)
{
    if (!ds)
        return;
    for (int i = 0; i < ds->n; i++)
        dataset_clip_done(&ds->clips[i]);
    free(ds->clips);
    memset(ds, 0, sizeof(*ds));
}

/* FNV-1a of the base name, the seed mixed into its start: a clip's side of
 * the split depends on its name and the seed alone. */
static uint32_t hash_name(const char *s, uint32_t seed)
{
    const char *base = strrchr(s, '/');
    base = base ? base + 1 : s;
    return fnv1a32(FNV1A32_INIT ^ seed, base, strlen(base));
}

int dataset_split_validation(struct dataset *train, struct dataset *ret_val, double fraction,
                             uint32_t seed)
{
    struct dataset val = {0};
    val.clips = calloc((size_t)(train->n ? train->n : 1), sizeof(*val.clips));
    if (!val.clips)
        return -ENOMEM;
    int kept = 0;
    for (int i = 0; i < train->n; i++) {
        bool to_val =
            (hash_name(train->clips[i].path, seed) % 10000) < (uint32_t)(fraction * 10000);
        if (to_val)
            val.clips[val.n++] = train->clips[i];
        else
            train->clips[kept++] = train->clips[i];
    }
    train->n = kept;
    *ret_val = val;
    return 0;
}

int dataset_classes_of_dir(const char *dir, char ***ret_classes, int *ret_n, struct errbuf *err)
{
    char path[4096];
    /* The sorted first *.pose file decides; others must use names from it. */
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        return errbuf_set(err, -errno, "%s: %s", dir, strerror(errno));
    int r = -ENOENT;
    for (int i = 0; i < n; i++) {
        if (r == -ENOENT && has_suffix(names[i]->d_name, ".pose")) {
            struct pose_sequence seq;
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
            r = pose_sequence_load(path, &seq, err);
            if (r == 0) {
                *ret_classes = seq.classes;
                *ret_n = seq.n_classes;
                seq.classes = NULL;
                seq.n_classes = 0;
                pose_sequence_done(&seq);
            }
        }
        free(names[i]);
    }
    free(names);
    if (r == -ENOENT)
        return errbuf_set(err, r, "%s: no pose sequences (*.pose) here", dir);
    return r;
}
