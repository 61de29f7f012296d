/* grow: a model with more classes than its parent, for fine-tuning on names
 * the parent never learned. Everything but the classifier's new rows is the
 * parent's, so before any training the old classes' logits are exactly the
 * parent's and a new class starts as the least likely one. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "train.h"

/* Metadata the model card computes from the model itself; the rest of the
 * parent's card (provenance, earlier fine-tunes) is carried over. */
static bool computed_key(const char *key)
{
    return strcmp(key, "classes") == 0 || strcmp(key, "n_classes") == 0;
}

static bool is_head(const char *name)
{
    return strcmp(name, "head.weight") == 0 || strcmp(name, "head.bias") == 0;
}

/* splitmix64 to a uniform float in [-a, a). */
static float small_uniform(uint64_t *state, float a)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return a * (2.0f * (float)((double)(z >> 40) * 0x1.0p-24) - 1.0f);
}

int train_model_grow_classes(const struct crt_model *model, const char *const *new_classes,
                             int n_new, uint64_t seed, struct crt_model **ret_model,
                             struct errbuf *err)
{
    struct crt_config cfg = *crt_model_config(model);
    int C = cfg.n_classes;
    if (n_new < 0 || C + n_new > TRAIN_MAX_CLASSES)
        return errbuf_set(err, -EINVAL, "%d classes and %d new ones: more than %d", C, n_new,
                          TRAIN_MAX_CLASSES);
    const char *names[TRAIN_MAX_CLASSES];
    for (int c = 0; c < C; c++)
        names[c] = crt_model_class(model, c);
    for (int k = 0; k < n_new; k++) {
        if (!new_classes[k][0])
            return errbuf_set(err, -EINVAL, "a new class has an empty name");
        for (int c = 0; c < C + k; c++)
            if (strcmp(names[c], new_classes[k]) == 0)
                return errbuf_set(err, -EEXIST, "class '%s' is already one of the model's",
                                  new_classes[k]);
        names[C + k] = new_classes[k];
    }
    cfg.n_classes = C + n_new;

    struct crt_model *grown = NULL;
    int r = crt_model_new(&cfg, names, &grown, err);
    if (r < 0)
        return r;
    /* Both models lay out the same tensors by name; only the classifier's
     * shape depends on the class count. */
    struct crt_model *parent = (struct crt_model *)model; /* read only below */
    float lowest_bias = INFINITY;
    for (int i = 0; i < crt_model_param_count(grown); i++) {
        const char *name;
        size_t numel;
        crt_model_param_info(grown, i, &name, NULL, NULL, &numel);
        float *dst = crt_model_param(grown, name);
        const float *src = crt_model_param(parent, name);
        size_t old_numel = 0;
        for (int k = 0; src && k < crt_model_param_count(parent); k++) {
            const char *pname;
            size_t pn;
            crt_model_param_info(parent, k, &pname, NULL, NULL, &pn);
            if (strcmp(pname, name) == 0)
                old_numel = pn;
        }
        if (!src || (old_numel != numel && !is_head(name))) {
            r = errbuf_set(err, -ENOTSUP,
                           "tensor '%s' of %s/%s depends on the class count: cannot add classes",
                           name, cfg.architecture, cfg.variant);
            goto fail;
        }
        memcpy(dst, src, old_numel * sizeof(float));
        if (strcmp(name, "head.bias") == 0)
            for (int c = 0; c < C; c++)
                lowest_bias = fminf(lowest_bias, src[c]);
    }
    /* New rows: small seeded weights (so that new classes differ from one
     * another and learn apart), and the lowest of the old biases, so that a
     * new class starts below the old ones rather than stealing their clips. */
    float *w = crt_model_param(grown, "head.weight");
    float *b = crt_model_param(grown, "head.bias");
    int d = cfg.d_model;
    uint64_t state = seed ^ 0x67726f77ull;
    for (int k = 0; k < n_new; k++) {
        for (int j = 0; j < d; j++)
            w[(size_t)(C + k) * d + j] = small_uniform(&state, 0.1f / sqrtf((float)d));
        b[C + k] = lowest_bias;
    }
    crt_model_params_changed(grown);

    for (int i = 0; i < crt_model_metadata_count(model); i++) {
        const char *key, *value;
        if (crt_model_metadata_at(model, i, &key, &value) == 0 && !computed_key(key) &&
            (r = crt_model_set_metadata(grown, key, value)) < 0) {
            r = errbuf_set(err, r, "out of memory");
            goto fail;
        }
    }
    *ret_model = grown;
    return 0;
fail:
    crt_model_free(grown);
    return r;
}
