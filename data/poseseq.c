/* poseseq: pose-sequence files, keypoints per frame with labels, stored as
 * safetensors so that one checked reader serves models and data alike. */
#include "data.h"
#include "safetensors.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#define POSE_SEQUENCE_FORMAT  "crtd-pose-sequence"
#define POSE_SEQUENCE_VERSION "1"
/* A day of video at 30 fps: more than any clip or cached stream. */
#define POSE_SEQUENCE_MAX_FRAMES (30 * 86400)

int pose_sequence_init(struct pose_sequence *seq, int frames, double fps,
                       const char *const *classes, int n_classes, struct errbuf *err)
{
    memset(seq, 0, sizeof(*seq));
    seq->label = -1;
    if (frames < 0 || frames > POSE_SEQUENCE_MAX_FRAMES)
        return errbuf_set(err, -EINVAL, "pose sequence: %d frames is out of range", frames);
    if (n_classes < 0 || n_classes > POSE_SEQUENCE_MAX_CLASSES)
        return errbuf_set(err, -EINVAL, "pose sequence: %d classes is out of range", n_classes);
    seq->events.fall_at = seq->events.up_at = -1;
    seq->frames = frames;
    seq->fps = fps;
    seq->keypoints = calloc((size_t)(frames ? frames : 1), sizeof(*seq->keypoints));
    seq->labels = calloc((size_t)(frames ? frames : 1), sizeof(*seq->labels));
    seq->classes = calloc((size_t)(n_classes ? n_classes : 1), sizeof(*seq->classes));
    if (!seq->keypoints || !seq->labels || !seq->classes)
        goto nomem;
    seq->n_classes = n_classes;
    for (int c = 0; c < n_classes; c++) {
        seq->classes[c] = strdup(classes[c]);
        if (!seq->classes[c])
            goto nomem;
    }
    for (int f = 0; f < frames; f++)
        seq->labels[f] = -1;
    return 0;
nomem:
    pose_sequence_done(seq);
    return errbuf_set(err, -ENOMEM, "pose sequence: out of memory for %d frames", frames);
}

void pose_sequence_done(struct pose_sequence *seq)
{
    if (!seq)
        return;
    for (int c = 0; seq->classes && c < seq->n_classes; c++)
        free(seq->classes[c]);
    free(seq->classes);
    free(seq->keypoints);
    free(seq->labels);
    memset(seq, 0, sizeof(*seq));
    seq->label = -1;
    seq->events.fall_at = seq->events.up_at = -1;
}

/* The zones as metadata: [{"name": ..., "kind": ..., "points": [[x, y], ...]}]. */
static char *zones_dump(const struct pose_events *ev)
{
    json_t *list = json_array();
    for (int i = 0; list && i < ev->n_zones; i++) {
        const struct pose_zone *z = &ev->zones[i];
        json_t *points = json_array();
        for (int k = 0; k < z->n; k++)
            json_array_append_new(
                points, json_pack("[f, f]", (double)z->points[k][0], (double)z->points[k][1]));
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:o}", "name", z->name, "kind", z->kind, "points", points));
    }
    char *text = list ? json_dumps(list, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(list);
    return text;
}

static int events_save(struct safetensors_writer *w, const struct pose_events *ev)
{
    char number[64];
    int r = 0;
    if (ev->scene[0] && (r = safetensors_writer_set_metadata(w, "scene", ev->scene)) < 0)
        return r;
    if (ev->fall_at >= 0) {
        snprintf(number, sizeof(number), "%.17g", ev->fall_at);
        if ((r = safetensors_writer_set_metadata(w, "fall_at", number)) < 0)
            return r;
    }
    if (ev->up_at >= 0) {
        snprintf(number, sizeof(number), "%.17g", ev->up_at);
        if ((r = safetensors_writer_set_metadata(w, "up_at", number)) < 0)
            return r;
    }
    if (ev->n_zones > 0) {
        char *text = zones_dump(ev);
        if (!text)
            return -ENOMEM;
        r = safetensors_writer_set_metadata(w, "zones", text);
        free(text);
    }
    return r;
}

int pose_sequence_save(const struct pose_sequence *seq, const char *path, struct errbuf *err)
{
    struct safetensors_writer *w = NULL;
    float *labels = NULL;
    json_t *classes = NULL;
    char *classes_text = NULL;
    char number[64];
    int r = -ENOMEM;

    w = safetensors_writer_new();
    labels = malloc((size_t)(seq->frames ? seq->frames : 1) * sizeof(*labels));
    classes = json_array();
    if (!w || !labels || !classes)
        goto fail;
    for (int c = 0; c < seq->n_classes; c++)
        if (json_array_append_new(classes, json_string(seq->classes[c])) < 0)
            goto fail;
    classes_text = json_dumps(classes, JSON_COMPACT);
    if (!classes_text)
        goto fail;
    for (int f = 0; f < seq->frames; f++)
        labels[f] = (float)seq->labels[f];

    int64_t kp_shape[3] = {seq->frames, POSE_NUM_KEYPOINTS, 3};
    int64_t label_shape[1] = {seq->frames};
    snprintf(number, sizeof(number), "%.17g", seq->fps);
    if ((r = safetensors_writer_add(w, "keypoints", SAFETENSORS_F32, 3, kp_shape,
                                    (const float *)seq->keypoints)) < 0 ||
        (r = safetensors_writer_add(w, "labels", SAFETENSORS_F32, 1, label_shape, labels)) < 0 ||
        (r = safetensors_writer_set_metadata(w, "format", POSE_SEQUENCE_FORMAT)) < 0 ||
        (r = safetensors_writer_set_metadata(w, "version", POSE_SEQUENCE_VERSION)) < 0 ||
        (r = safetensors_writer_set_metadata(w, "fps", number)) < 0 ||
        (r = safetensors_writer_set_metadata(w, "classes", classes_text)) < 0 ||
        (r = safetensors_writer_set_metadata(
             w, "label",
             seq->label >= 0 && seq->label < seq->n_classes ? seq->classes[seq->label] : "")) < 0 ||
        (r = safetensors_writer_set_metadata(w, "source", seq->source)) < 0 ||
        (seq->source_checksum[0] &&
         (r = safetensors_writer_set_metadata(w, "source_checksum", seq->source_checksum)) < 0) ||
        (seq->acknowledgement[0] &&
         (r = safetensors_writer_set_metadata(w, "acknowledgement", seq->acknowledgement)) < 0) ||
        (r = events_save(w, &seq->events)) < 0)
        goto fail;
    r = safetensors_writer_save(w, path, err);
    goto done;
fail:
    r = errbuf_set(err, r, "%s: cannot write pose sequence: %s", path, strerror(-r));
done:
    free(classes_text);
    json_decref(classes);
    free(labels);
    safetensors_writer_free(w);
    return r;
}

static int parse_classes(struct pose_sequence *seq, const char *text, const char *path,
                         struct errbuf *err)
{
    json_error_t jerr;
    json_t *list = json_loads(text, 0, &jerr);
    int r = 0;

    if (!json_is_array(list) || json_array_size(list) > POSE_SEQUENCE_MAX_CLASSES) {
        r = errbuf_set(err, -EBADMSG, "%s: metadata 'classes' is not a JSON list of names", path);
        goto done;
    }
    size_t n = json_array_size(list);
    seq->classes = calloc(n ? n : 1, sizeof(*seq->classes));
    if (!seq->classes) {
        r = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_array_get(list, i));
        if (!name || !name[0]) {
            r = errbuf_set(err, -EBADMSG, "%s: metadata 'classes' entry %zu is not a name", path,
                           i);
            goto done;
        }
        seq->classes[i] = strdup(name);
        if (!seq->classes[i]) {
            r = -ENOMEM;
            goto done;
        }
        seq->n_classes = (int)i + 1;
    }
done:
    json_decref(list);
    return r;
}

static int parse_zone(struct pose_zone *z, json_t *item, int index, const char *path,
                      struct errbuf *err)
{
    const char *name = NULL, *kind = NULL;
    json_t *points = NULL;
    memset(z, 0, sizeof(*z));
    if (json_unpack(item, "{s:s, s:s, s:o}", "name", &name, "kind", &kind, "points", &points) < 0 ||
        !name[0] || strlen(name) >= sizeof(z->name) || !kind[0] || strlen(kind) >= sizeof(z->kind))
        return errbuf_set(err, -EBADMSG,
                          "%s: metadata 'zones' entry %d needs a name, a kind and points", path,
                          index);
    str_copy(z->name, sizeof(z->name), name);
    str_copy(z->kind, sizeof(z->kind), kind);
    size_t n = json_is_array(points) ? json_array_size(points) : 0;
    if (n < 3 || n > POSE_ZONE_MAX_POINTS)
        return errbuf_set(err, -EBADMSG, "%s: zone '%s' has %zu points (3..%d)", path, name, n,
                          POSE_ZONE_MAX_POINTS);
    for (size_t k = 0; k < n; k++) {
        double x, y;
        if (json_unpack(json_array_get(points, k), "[F, F]", &x, &y) < 0 || !(x >= 0 && x <= 1) ||
            !(y >= 0 && y <= 1))
            return errbuf_set(err, -EBADMSG, "%s: zone '%s' point %zu is not [x, y] in [0, 1]",
                              path, name, k + 1);
        z->points[k][0] = (float)x;
        z->points[k][1] = (float)y;
    }
    z->n = (int)n;
    return 0;
}

/* scene, fall_at, up_at and zones, each optional. */
static int events_load(struct pose_events *ev, const struct safetensors *st, double seconds,
                       const char *path, struct errbuf *err)
{
    static const char *const times[] = {"fall_at", "up_at"};
    double *slots[] = {&ev->fall_at, &ev->up_at};
    const char *value = safetensors_metadata(st, "scene");
    str_copy(ev->scene, sizeof(ev->scene), value ? value : "");
    for (int i = 0; i < 2; i++) {
        value = safetensors_metadata(st, times[i]);
        *slots[i] = -1;
        if (!value || !value[0])
            continue;
        char *end = NULL;
        double v = strtod(value, &end);
        if (end == value || *end || !(v >= 0 && v <= seconds))
            return errbuf_set(err, -EBADMSG, "%s: metadata '%s' is '%s', not a time in 0..%g s",
                              path, times[i], value, seconds);
        *slots[i] = v;
    }
    if (ev->up_at >= 0 && !(ev->fall_at >= 0 && ev->up_at >= ev->fall_at))
        return errbuf_set(err, -EBADMSG, "%s: metadata 'up_at' comes without a fall before it",
                          path);
    value = safetensors_metadata(st, "zones");
    ev->n_zones = 0;
    if (!value || !value[0])
        return 0;
    json_error_t jerr;
    json_t *list = json_loads(value, 0, &jerr);
    int r = 0;
    if (!json_is_array(list) || json_array_size(list) > POSE_SEQUENCE_MAX_ZONES) {
        r = errbuf_set(err, -EBADMSG, "%s: metadata 'zones' is not a list of at most %d zones",
                       path, POSE_SEQUENCE_MAX_ZONES);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        if ((r = parse_zone(&ev->zones[i], json_array_get(list, i), (int)i + 1, path, err)) < 0)
            goto done;
        ev->n_zones = (int)i + 1;
    }
done:
    json_decref(list);
    return r;
}

int pose_sequence_load(const char *path, struct pose_sequence *ret_seq, struct errbuf *err)
{
    struct safetensors *st = NULL;
    struct pose_sequence seq = {.label = -1, .events = {.fall_at = -1, .up_at = -1}};
    float *labels = NULL;
    const char *value;
    int r = safetensors_open(path, &st, err);
    if (r < 0)
        return r;

    value = safetensors_metadata(st, "format");
    if (!value || strcmp(value, POSE_SEQUENCE_FORMAT) != 0) {
        r = errbuf_set(err, -EBADMSG, "%s: not a pose sequence (metadata 'format' is '%s')", path,
                       value ? value : "missing");
        goto fail;
    }
    value = safetensors_metadata(st, "version");
    if (!value || strcmp(value, POSE_SEQUENCE_VERSION) != 0) {
        r = errbuf_set(err, -EBADMSG, "%s: pose sequence version '%s' (this crt reads %s)", path,
                       value ? value : "missing", POSE_SEQUENCE_VERSION);
        goto fail;
    }
    value = safetensors_metadata(st, "fps");
    char *end = NULL;
    seq.fps = value ? strtod(value, &end) : 0;
    if (!value || end == value || *end || !(seq.fps > 0 && seq.fps <= 1000)) {
        r = errbuf_set(err, -EBADMSG, "%s: metadata 'fps' is '%s', not a rate in (0, 1000]", path,
                       value ? value : "missing");
        goto fail;
    }
    value = safetensors_metadata(st, "classes");
    if (!value) {
        r = errbuf_set(err, -EBADMSG, "%s: metadata 'classes' is missing", path);
        goto fail;
    }
    if ((r = parse_classes(&seq, value, path, err)) < 0)
        goto fail;

    const struct safetensors_tensor *kp = safetensors_find(st, "keypoints");
    const struct safetensors_tensor *lab = safetensors_find(st, "labels");
    if (!kp || !lab) {
        r = errbuf_set(err, -EBADMSG, "%s: tensor '%s' is missing", path,
                       kp ? "labels" : "keypoints");
        goto fail;
    }
    if (kp->ndim != 3 || kp->shape[0] < 0 || kp->shape[0] > POSE_SEQUENCE_MAX_FRAMES) {
        r = errbuf_set(err, -EBADMSG, "%s: tensor 'keypoints' must be [frames, 17, 3]", path);
        goto fail;
    }
    int64_t kp_shape[3] = {kp->shape[0], POSE_NUM_KEYPOINTS, 3};
    int64_t label_shape[1] = {kp->shape[0]};
    struct errbuf inner = {0};
    if ((r = safetensors_tensor_check(kp, 3, kp_shape, &inner)) < 0 ||
        (r = safetensors_tensor_check(lab, 1, label_shape, &inner)) < 0) {
        r = errbuf_set(err, r, "%s: %s", path, inner.msg);
        goto fail;
    }
    seq.frames = (int)kp->shape[0];
    seq.keypoints = calloc((size_t)(seq.frames ? seq.frames : 1), sizeof(*seq.keypoints));
    seq.labels = calloc((size_t)(seq.frames ? seq.frames : 1), sizeof(*seq.labels));
    labels = calloc((size_t)(seq.frames ? seq.frames : 1), sizeof(*labels));
    if (!seq.keypoints || !seq.labels || !labels) {
        r = errbuf_set(err, -ENOMEM, "%s: out of memory for %d frames", path, seq.frames);
        goto fail;
    }
    safetensors_tensor_to_f32(kp, (float *)seq.keypoints);
    safetensors_tensor_to_f32(lab, labels);

    for (int f = 0; f < seq.frames; f++) {
        float l = labels[f];
        if (!(l == -1 || (l >= 0 && l < (float)seq.n_classes && l == floorf(l)))) {
            r = errbuf_set(err, -EBADMSG, "%s: frame %d: label %g is not -1 or a class index", path,
                           f, (double)l);
            goto fail;
        }
        seq.labels[f] = (int)l;
        for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
            const struct pose_keypoint *k = &seq.keypoints[f][j];
            if (!isfinite(k->x) || !isfinite(k->y) || !isfinite(k->score)) {
                r = errbuf_set(err, -EBADMSG, "%s: frame %d keypoint %d is not finite", path, f, j);
                goto fail;
            }
        }
    }

    value = safetensors_metadata(st, "label");
    seq.label = -1;
    for (int c = 0; value && value[0] && c < seq.n_classes; c++)
        if (strcmp(seq.classes[c], value) == 0)
            seq.label = c;
    if (value && value[0] && seq.label < 0) {
        r = errbuf_set(err, -EBADMSG, "%s: label '%s' is not in the class list", path, value);
        goto fail;
    }
    value = safetensors_metadata(st, "source");
    str_copy(seq.source, sizeof(seq.source), value ? value : "");
    value = safetensors_metadata(st, "source_checksum");
    str_copy(seq.source_checksum, sizeof(seq.source_checksum), value ? value : "");
    value = safetensors_metadata(st, "acknowledgement");
    str_copy(seq.acknowledgement, sizeof(seq.acknowledgement), value ? value : "");
    if ((r = events_load(&seq.events, st, seq.frames / seq.fps, path, err)) < 0)
        goto fail;

    free(labels);
    safetensors_free(st);
    *ret_seq = seq;
    return 0;
fail:
    free(labels);
    pose_sequence_done(&seq);
    safetensors_free(st);
    return r;
}
