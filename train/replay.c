/* replay: pose sequences of a model's own training distribution, mixed into
 * a fine-tune so that the model keeps what it knew. A model trained on
 * `crt synth` data says so on its card, and the generator makes fresh clips
 * of the same kind on the spot (other seeds than the original data's); any
 * other model needs a folder of its training data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

static int class_in(const char *name, const struct crt_model *model)
{
    for (int c = 0; c < crt_model_config(model)->n_classes; c++)
        if (strcmp(crt_model_class(model, c), name) == 0)
            return c;
    return -1;
}

int train_replay_recipe(const struct crt_model *model, struct train_replay *ret_replay,
                        struct errbuf *err)
{
    struct train_replay rp = {0};
    synth_options_default(&rp.synth);
    const char *said = crt_model_metadata(model, TRAIN_REPLAY_KEY);
    const char *data = crt_model_metadata(model, "provenance.data");
    char task[32] = "";
    if (said) {
        /* "synth:<task>" */
        if (strncmp(said, "synth:", 6) != 0 || synth_task_parse(said + 6, &rp.synth.task) < 0)
            return errbuf_set(err, -EBADMSG,
                              "metadata '%s' is '%s': expected synth:activities (or another "
                              "task of crt synth)",
                              TRAIN_REPLAY_KEY, said);
    } else if (data && strncmp(data, "synthetic motion", 16) == 0 &&
               strstr(data, "(crt synth --task ") &&
               sscanf(strstr(data, "(crt synth --task "), "(crt synth --task %31[a-z]", task) ==
                   1 &&
               synth_task_parse(task, &rp.synth.task) == 0) {
        /* Models whose card does not say it outright, such as the default
         * model: their provenance starts with the generator's task (the
         * synthetic part of what they learned, beside any motion capture). */
    } else {
        return errbuf_set(err, -ENOENT,
                          "the model's card does not say what it was trained on (no '%s', and "
                          "provenance.data is not crt synth's): give a folder of its training "
                          "data to replay",
                          TRAIN_REPLAY_KEY);
    }
    int n;
    const char *const *classes = synth_task_classes(rp.synth.task, &n);
    for (int c = 0; c < n; c++)
        if (class_in(classes[c], model) < 0)
            return errbuf_set(err, -EBADMSG,
                              "the model's card says it learned crt synth --task %s, but '%s' "
                              "is not one of its classes",
                              synth_task_name(rp.synth.task), classes[c]);
    snprintf(rp.spec, sizeof(rp.spec), "synth:%s", synth_task_name(rp.synth.task));
    *ret_replay = rp;
    return 0;
}

int train_replay_make(struct dataset *ds, const struct train_replay *replay,
                      const struct crt_model *model, uint64_t seed, int n, struct errbuf *err)
{
    struct synth_options so = replay->synth;
    so.seed = seed;
    so.fps = crt_model_config(model)->fps;
    int n_task;
    const char *const *task_classes = synth_task_classes(so.task, &n_task);
    int map[POSE_SEQUENCE_MAX_CLASSES];
    for (int c = 0; c < n_task; c++)
        map[c] = class_in(task_classes[c], model);

    memset(ds, 0, sizeof(*ds));
    ds->clips = calloc((size_t)(n > 0 ? n : 1), sizeof(*ds->clips));
    if (!ds->clips)
        return errbuf_set(err, -ENOMEM, "out of memory for the replay");
    for (int i = 0; i < n; i++) {
        struct synth_clip clip;
        int r = synth_clip_generate(&clip, &so, (uint64_t)i, err);
        if (r < 0) {
            dataset_done(ds);
            return r;
        }
        struct dataset_clip *c = &ds->clips[ds->n++];
        char name[64];
        snprintf(name, sizeof(name), "replay-%s-s%llu-%06d", synth_task_name(so.task),
                 (unsigned long long)seed, i);
        c->path = strdup(name);
        c->frames = clip.frames;
        c->label = clip.label >= 0 ? map[clip.label] : -1;
        c->features =
            malloc((size_t)(clip.frames ? clip.frames : 1) * FEATURES_V1_DIM * sizeof(float));
        c->frame_labels = malloc((size_t)(clip.frames ? clip.frames : 1) * sizeof(int));
        if (!c->path || !c->features || !c->frame_labels) {
            synth_clip_done(&clip);
            dataset_done(ds);
            return errbuf_set(err, -ENOMEM, "out of memory for the replay");
        }
        for (int f = 0; f < clip.frames; f++)
            c->frame_labels[f] = clip.labels[f] >= 0 ? map[clip.labels[f]] : -1;
        dataset_features(c->features,
                         (const struct pose_keypoint(*)[POSE_NUM_KEYPOINTS])clip.keypoints,
                         clip.frames);
        synth_clip_done(&clip);
    }
    return 0;
}
