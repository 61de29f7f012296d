/* pipeline_model: the shared, read-only models of the daemon — MoveNet for
 * pose and the segment model (CRT) — and the model card. */
#include "pipeline.h"

#include <inttypes.h>
#include <string.h>

#include "data.h"
#include "pose.h"
#include "crt.h"
#include "pipeline_internal.h"

int pipeline_model_load(const char *path, const char *pose_path, enum pose_isa pose_isa,
                        struct pipeline_model **ret_model, struct errbuf *err)
{
    struct pipeline_model *m = calloc(1, sizeof(*m));
    int r;
    if (!m)
        return -ENOMEM;
    if (!path || !*path) {
        *ret_model = m;
        return 0;
    }
    str_copy(m->path, sizeof(m->path), path);
    /* Each stream is a thread of its own: OpenBLAS must not add its pool. */
    blas_set_threads(1);
    r = crt_model_load(path, &m->crt, err);
    if (r < 0)
        goto fail;
    const struct crt_config *cfg = crt_model_config(m->crt);
    if (cfg->feature_layout != FEATURES_LAYOUT_V1 || cfg->n_features != FEATURES_V1_DIM) {
        r = errbuf_set(err, -EBADMSG,
                       "model '%s': feature layout %d (%d floats) is not one crtd "
                       "computes (layout 1, %d floats)",
                       path, cfg->feature_layout, cfg->n_features, FEATURES_V1_DIM);
        goto fail;
    }
    if (cfg->n_classes > PIPELINE_MAX_CLASSES) {
        r = errbuf_set(err, -EBADMSG, "model '%s': %d classes, crtd reports at most %d", path,
                       cfg->n_classes, PIPELINE_MAX_CLASSES);
        goto fail;
    }
    if (!pose_path || !*pose_path) {
        r = errbuf_set(err, -EINVAL, "model '%s' needs a pose model: set pose_model= in [daemon]",
                       path);
        goto fail;
    }
    str_copy(m->pose_path, sizeof(m->pose_path), pose_path);
    /* pose_isa= in [daemon] caps the kernel sets, as --isa does in the tools
     * (docs/POSE.md) */
    struct pose_options pose_options = {.max_isa = pose_isa};
    r = pose_model_load_opts(pose_path, &pose_options, &m->pose, err);
    if (r < 0)
        goto fail;
    snprintf(m->kind, sizeof(m->kind), "crt:%016" PRIx64, crt_model_fingerprint(m->crt));
    *ret_model = m;
    return 0;
fail:
    pipeline_model_free(m);
    return r;
}

struct pipeline_model *pipeline_model_free(struct pipeline_model *m)
{
    if (!m)
        return NULL;
    crt_model_free(m->crt);
    pose_model_free(m->pose);
    free(m);
    return NULL;
}

bool pipeline_model_loaded(const struct pipeline_model *m)
{
    return m && m->crt;
}

unsigned pipeline_model_n_classes(const struct pipeline_model *m)
{
    if (pipeline_model_loaded(m))
        return (unsigned)crt_model_config(m->crt)->n_classes;
    return SMARTHOME_NUM_CLASSES;
}

const char *pipeline_model_class(const struct pipeline_model *m, unsigned index)
{
    if (index >= pipeline_model_n_classes(m))
        return NULL;
    if (pipeline_model_loaded(m))
        return crt_model_class(m->crt, (int)index);
    return smarthome_classes[index];
}

const char *pipeline_model_label(const struct pipeline_model *m, int label)
{
    if (label == PIPELINE_LABEL_UNKNOWN)
        return CRT_UNKNOWN_NAME;
    return label >= 0 ? pipeline_model_class(m, (unsigned)label) : NULL;
}

int pipeline_model_card(const struct pipeline_model *m, json_t **ret_card)
{
    if (!pipeline_model_loaded(m))
        return -ENOENT;
    const struct crt_config *cfg = crt_model_config(m->crt);
    json_t *classes = json_array(), *metadata = json_object(), *finetune = json_object();
    if (!classes || !metadata || !finetune)
        goto oom;
    for (int i = 0; i < cfg->n_classes; i++)
        json_array_append_new(classes, json_string(crt_model_class(m->crt, i)));
    for (int i = 0; i < crt_model_metadata_count(m->crt); i++) {
        const char *key, *value;
        if (crt_model_metadata_at(m->crt, i, &key, &value) >= 0 &&
            strncmp(key, "provenance", 10) == 0)
            json_object_set_new(metadata, key, json_string(value));
        /* A fine-tune's record (docs/TRAINING.md): its JSON values as JSON. */
        else if (crt_model_metadata_at(m->crt, i, &key, &value) >= 0 &&
                 strncmp(key, "finetune.", 9) == 0) {
            json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
            json_object_set_new(finetune, key + 9, v ? v : json_string(value));
        }
    }
    json_t *card = json_pack(
        "{s:s, s:s, s:s, s:f, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:s, s:i, s:o, s:o, s:o}",
        "file", m->path, "architecture", cfg->architecture, "variant", cfg->variant, "fps",
        cfg->fps, "segment_frames", cfg->segment_len, "d_model", cfg->d_model, "n_layers",
        cfg->n_layers, "n_heads", cfg->n_heads, "n_features", cfg->n_features, "feature_layout",
        cfg->feature_layout, "parameters", (json_int_t)crt_model_num_parameters(m->crt),
        "memory_floats", (json_int_t)crt_model_memory_floats(m->crt), "pose_model", m->pose_path,
        "pose_input", pose_model_input_size(m->pose), "classes", classes, "provenance", metadata,
        "finetune", json_object_size(finetune) ? finetune : (json_decref(finetune), json_null()));
    if (!card)
        return -ENOMEM;
    *ret_card = card;
    return 0;
oom:
    json_decref(classes);
    json_decref(metadata);
    json_decref(finetune);
    return -ENOMEM;
}
