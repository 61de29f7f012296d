/* crt: the segment model — model card, parameter layout, loading and saving,
 * the forward step and the batched path over whole clips. The memory
 * mechanisms plug in through struct crt_memory_ops (crt_internal.h). */
#include "crt_internal.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#define FORMAT_VERSION "1"

/* ---- configuration -------------------------------------------------------- */

void crt_config_default(struct crt_config *cfg)
{
    *cfg = (struct crt_config){
        .architecture = "crt",
        .variant = "gru",
        .d_model = 128,
        .n_layers = 2,
        .n_heads = 4,
        .d_ff = 512,
        .n_features = FEATURES_V1_DIM,
        .feature_layout = FEATURES_LAYOUT_V1,
        .segment_len = 8,
        .fps = 10.0,
        .n_classes = 0, /* the caller's: the model does not know the data set */
        .layer_norm_eps = 1e-5f,
    };
}

static int check_range(const char *key, long value, long lo, long hi, struct errbuf *err)
{
    if (value < lo || value > hi)
        return errbuf_set(err, -EBADMSG, "metadata '%s': %ld outside %ld..%ld", key, value, lo, hi);
    return 0;
}

/* The sizes every architecture shares; then the mechanism's own checks. */
static int check_config(const struct crt_config *cfg, const struct crt_memory_ops **ret_ops,
                        struct errbuf *err)
{
    const struct crt_mechanism *mech = crt_mechanism_find(cfg->architecture);
    if (!mech) {
        char known[128] = "";
        for (int i = 0; i < crt_n_mechanisms; i++)
            snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", i ? ", " : "",
                     crt_mechanisms[i].architecture);
        return errbuf_set(err, -EBADMSG, "metadata 'architecture': '%.40s' unknown (known: %s)",
                          cfg->architecture, known);
    }
    int r;
    if ((r = check_range("d_model", cfg->d_model, 1, CRT_MAX_D, err)) < 0 ||
        (r = check_range("n_layers", cfg->n_layers, 1, CRT_MAX_LAYERS, err)) < 0 ||
        (r = check_range("n_heads", cfg->n_heads, 1, cfg->d_model, err)) < 0 ||
        (r = check_range("d_ff", cfg->d_ff, 1, 16 * CRT_MAX_D, err)) < 0 ||
        (r = check_range("n_features", cfg->n_features, 1, CRT_MAX_FEATURES, err)) < 0 ||
        (r = check_range("segment_len", cfg->segment_len, 1, CRT_MAX_SEGMENT, err)) < 0 ||
        (r = check_range("n_classes", cfg->n_classes, 1, CRT_MAX_CLASSES, err)) < 0)
        return r;
    if (cfg->d_model % cfg->n_heads != 0)
        return errbuf_set(err, -EBADMSG, "metadata 'n_heads': %d does not divide d_model %d",
                          cfg->n_heads, cfg->d_model);
    if (cfg->feature_layout != FEATURES_LAYOUT_V1)
        return errbuf_set(err, -EBADMSG, "metadata 'feature_layout': %d unknown (known: 1)",
                          cfg->feature_layout);
    if (cfg->n_features != FEATURES_V1_DIM)
        return errbuf_set(err, -EBADMSG,
                          "metadata 'n_features': %d, but feature layout 1 has %d features",
                          cfg->n_features, FEATURES_V1_DIM);
    if (!(cfg->fps > 0.0 && cfg->fps <= 1000.0))
        return errbuf_set(err, -EBADMSG, "metadata 'fps': %g outside (0, 1000]", cfg->fps);
    if (!(cfg->layer_norm_eps > 0.0f && cfg->layer_norm_eps < 1.0f))
        return errbuf_set(err, -EBADMSG, "metadata 'layer_norm_eps': %g outside (0, 1)",
                          (double)cfg->layer_norm_eps);
    r = mech->forward->check_config(cfg, err);
    if (r < 0)
        return r;
    *ret_ops = mech->forward;
    return 0;
}

/* ---- parameter layout ----------------------------------------------------- */

float *crt_layout_add(struct crt_layout *lay, unsigned flags, int ndim, int64_t d0, int64_t d1,
                      const char *fmt, ...)
{
    assert(lay->n < CRT_MAX_PARAMS && (ndim == 1 || ndim == 2));
    struct crt_param *p = &lay->params[lay->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->name, sizeof(p->name), fmt, ap);
    va_end(ap);
    p->flags = flags;
    p->ndim = ndim;
    p->shape[0] = d0;
    p->shape[1] = ndim == 2 ? d1 : 0;
    p->numel = (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
    lay->total = (lay->total + 15) & ~(size_t)15;
    p->offset = lay->total;
    lay->total += p->numel;
    return lay->base ? lay->base + p->offset : NULL;
}

void crt_layout_build(struct crt_model *m, float *base)
{
    const struct crt_config *cfg = &m->cfg;
    struct crt_layout *lay = &m->layout;
    struct crt_weights *w = &m->w;
    int64_t d = cfg->d_model, ff = cfg->d_ff;

    lay->n = 0;
    lay->total = 0;
    lay->base = base;
    w->in_w = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, d, cfg->n_features, "embed.weight");
    w->in_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "embed.bias");
    w->pos = crt_layout_add(lay, CRT_PARAM_PLAIN, 2, cfg->segment_len, d, "embed.pos");
    for (int l = 0; l < cfg->n_layers; l++) {
        struct crt_block_weights *b = &w->blk[l];
        b->ln1_w = crt_layout_add(lay, CRT_PARAM_NORM, 1, d, 0, "enc.%d.ln1.weight", l);
        b->ln1_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "enc.%d.ln1.bias", l);
        b->qkv_w = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, 3 * d, d, "enc.%d.attn.qkv.weight", l);
        b->qkv_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, 3 * d, 0, "enc.%d.attn.qkv.bias", l);
        b->proj_w = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, d, d, "enc.%d.attn.proj.weight", l);
        b->proj_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "enc.%d.attn.proj.bias", l);
        b->ln2_w = crt_layout_add(lay, CRT_PARAM_NORM, 1, d, 0, "enc.%d.ln2.weight", l);
        b->ln2_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "enc.%d.ln2.bias", l);
        b->fc1_w = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, ff, d, "enc.%d.ffn.fc1.weight", l);
        b->fc1_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, ff, 0, "enc.%d.ffn.fc1.bias", l);
        b->fc2_w = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, d, ff, "enc.%d.ffn.fc2.weight", l);
        b->fc2_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "enc.%d.ffn.fc2.bias", l);
    }
    w->lnf_w = crt_layout_add(lay, CRT_PARAM_NORM, 1, d, 0, "enc.ln_f.weight");
    w->lnf_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "enc.ln_f.bias");
    m->ops->layout(cfg, lay, m->mem_w);
    w->head_ln_w = crt_layout_add(lay, CRT_PARAM_NORM, 1, d, 0, "head.ln.weight");
    w->head_ln_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, d, 0, "head.ln.bias");
    w->head_w = crt_layout_add(lay, CRT_PARAM_MATRIX, 2, cfg->n_classes, d, "head.weight");
    w->head_b = crt_layout_add(lay, CRT_PARAM_PLAIN, 1, cfg->n_classes, 0, "head.bias");
    lay->total = (lay->total + 15) & ~(size_t)15;
}

/* ---- the model object ----------------------------------------------------- */

static void free_strings(char **list, int n)
{
    if (!list)
        return;
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

struct crt_model *crt_model_free(struct crt_model *m)
{
    if (!m)
        return NULL;
    free(m->params);
    free(m->packed);
    free(m->mem_w);
    free_strings(m->classes, m->cfg.n_classes);
    free_strings(m->meta_keys, m->n_meta);
    free_strings(m->meta_values, m->n_meta);
    free(m);
    return NULL;
}

/* FNV-1a over 64-bit words (bytes for the tail), then a final mix: the
 * fingerprint of a few MB of weights in well under a millisecond. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t size)
{
    const uint8_t *p = data;
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof(w));
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < size; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

void crt_model_params_changed(struct crt_model *m)
{
    const struct crt_config *c = &m->cfg;
    char text[512];
    int n = snprintf(text, sizeof(text), "crtd-model|%s|%s|%d|%d|%d|%d|%d|%d|%d|%.9g|%d|%.9g|",
                     c->architecture, c->variant, c->d_model, c->n_layers, c->n_heads, c->d_ff,
                     c->n_features, c->feature_layout, c->segment_len, c->fps, c->n_classes,
                     (double)c->layer_norm_eps);
    uint64_t h = hash_bytes(0xcbf29ce484222325ull, text, (size_t)n);
    for (int i = 0; i < c->n_classes; i++)
        h = hash_bytes(h, m->classes[i], strlen(m->classes[i]) + 1);
    for (int i = 0; i < m->layout.n; i++) {
        const struct crt_param *p = &m->layout.params[i];
        h = hash_bytes(h, p->name, strlen(p->name) + 1);
        h = hash_bytes(h, m->params + p->offset, p->numel * sizeof(float));
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    m->fingerprint = h;

    for (int i = 0; i < m->layout.n; i++) {
        const struct crt_param *p = &m->layout.params[i];
        if (p->ndim == 2)
            kernel_transpose(m->packed + p->offset, m->params + p->offset, (int)p->shape[0],
                             (int)p->shape[1]);
        else
            memcpy(m->packed + p->offset, m->params + p->offset, p->numel * sizeof(float));
    }
}

/* A model for cfg, its classes copied and its parameters laid out; the
 * weight buffers come from model_alloc_params, so that a file's tensors can be
 * checked against the layout before a header can make us allocate. */
static int model_alloc(const struct crt_config *cfg, const char *const *classes,
                       struct crt_model **ret_model, struct errbuf *err)
{
    const struct crt_memory_ops *ops = NULL;
    int r = check_config(cfg, &ops, err);
    if (r < 0)
        return r;
    struct crt_model *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->cfg = *cfg;
    m->ops = ops;
    m->mem_w = calloc(1, ops->weights_size ? ops->weights_size : 1);
    m->classes = calloc((size_t)cfg->n_classes, sizeof(char *));
    if (!m->mem_w || !m->classes)
        goto nomem;
    for (int i = 0; i < cfg->n_classes; i++) {
        if (classes)
            m->classes[i] = strdup(classes[i]);
        else if (asprintf(&m->classes[i], "class%d", i) < 0)
            m->classes[i] = NULL;
        if (!m->classes[i])
            goto nomem;
    }
    crt_calibration_init(m);
    crt_layout_build(m, NULL);
    m->state_floats = ops->state_floats(cfg);
    m->n_tokens = ops->n_tokens(cfg);
    *ret_model = m;
    return 0;
nomem:
    crt_model_free(m);
    return errbuf_set(err, -ENOMEM, "out of memory");
}

/* The zeroed parameter buffer and its packed copy, and the pointers into it. */
static int model_alloc_params(struct crt_model *m, struct errbuf *err)
{
    size_t bytes = m->layout.total * sizeof(float);
    m->params = aligned_alloc(64, bytes);
    m->packed = aligned_alloc(64, bytes);
    if (!m->params || !m->packed)
        return errbuf_set(err, -ENOMEM, "out of memory for %zu parameters",
                          crt_model_num_parameters(m));
    memset(m->params, 0, bytes);
    memset(m->packed, 0, bytes);
    crt_layout_build(m, m->params);
    return 0;
}

int crt_model_new(const struct crt_config *cfg, const char *const *classes,
                  struct crt_model **ret_model, struct errbuf *err)
{
    struct crt_model *m;
    int r = model_alloc(cfg, classes, &m, err);
    if (r < 0)
        return r;
    if ((r = model_alloc_params(m, err)) < 0) {
        crt_model_free(m);
        return r;
    }
    crt_model_params_changed(m);
    *ret_model = m;
    return 0;
}

int crt_model_set_metadata(struct crt_model *m, const char *key, const char *value)
{
    if (crt_calibration_set(m, key, value) < 0)
        return -EINVAL;
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta_keys[i], key) == 0) {
            char *v = strdup(value);
            if (!v)
                return -ENOMEM;
            free(m->meta_values[i]);
            m->meta_values[i] = v;
            return 0;
        }
    char **keys = realloc(m->meta_keys, (size_t)(m->n_meta + 1) * sizeof(char *));
    if (!keys)
        return -ENOMEM;
    m->meta_keys = keys;
    char **values = realloc(m->meta_values, (size_t)(m->n_meta + 1) * sizeof(char *));
    if (!values)
        return -ENOMEM;
    m->meta_values = values;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    m->meta_keys[m->n_meta] = k;
    m->meta_values[m->n_meta] = v;
    m->n_meta++;
    return 0;
}

/* ---- reading the model card ----------------------------------------------- */

static int meta_string(const struct safetensors *st, const char *key, const char **ret,
                       struct errbuf *err)
{
    const char *v = safetensors_metadata(st, key);
    if (!v)
        return errbuf_set(err, -EBADMSG, "metadata '%s' missing", key);
    *ret = v;
    return 0;
}

static int meta_int(const struct safetensors *st, const char *key, int *ret, struct errbuf *err)
{
    const char *v = NULL;
    int r = meta_string(st, key, &v, err);
    if (r < 0)
        return r;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end || errno || n < -1000000000L || n > 1000000000L)
        return errbuf_set(err, -EBADMSG, "metadata '%s': '%.40s' is not an integer", key, v);
    *ret = (int)n;
    return 0;
}

static int meta_double(const struct safetensors *st, const char *key, double *ret,
                       struct errbuf *err)
{
    const char *v = NULL;
    int r = meta_string(st, key, &v, err);
    if (r < 0)
        return r;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x))
        return errbuf_set(err, -EBADMSG, "metadata '%s': '%.40s' is not a number", key, v);
    *ret = x;
    return 0;
}

static int meta_name(const struct safetensors *st, const char *key, char *out, struct errbuf *err)
{
    const char *v = NULL;
    int r = meta_string(st, key, &v, err);
    if (r < 0)
        return r;
    if (!*v || str_copy(out, CRT_NAME_MAX, v) < 0)
        return errbuf_set(err, -EBADMSG, "metadata '%s': '%.40s' is empty or too long", key, v);
    return 0;
}

static int config_from_metadata(const struct safetensors *st, struct crt_config *cfg,
                                struct errbuf *err)
{
    if (safetensors_metadata_count(st) == 0)
        return errbuf_set(err, -EBADMSG,
                          "no __metadata__: not a crtd model file (the model card is missing)");
    const char *version = NULL;
    double eps;
    int r;
    if ((r = meta_string(st, "format_version", &version, err)) < 0)
        return r;
    if (strcmp(version, FORMAT_VERSION) != 0)
        return errbuf_set(err, -EBADMSG, "metadata 'format_version': '%.20s' unknown (known: %s)",
                          version, FORMAT_VERSION);
    if ((r = meta_name(st, "architecture", cfg->architecture, err)) < 0 ||
        (r = meta_name(st, "variant", cfg->variant, err)) < 0 ||
        (r = meta_int(st, "d_model", &cfg->d_model, err)) < 0 ||
        (r = meta_int(st, "n_layers", &cfg->n_layers, err)) < 0 ||
        (r = meta_int(st, "n_heads", &cfg->n_heads, err)) < 0 ||
        (r = meta_int(st, "d_ff", &cfg->d_ff, err)) < 0 ||
        (r = meta_int(st, "n_features", &cfg->n_features, err)) < 0 ||
        (r = meta_int(st, "feature_layout", &cfg->feature_layout, err)) < 0 ||
        (r = meta_int(st, "segment_len", &cfg->segment_len, err)) < 0 ||
        (r = meta_double(st, "fps", &cfg->fps, err)) < 0 ||
        (r = meta_double(st, "layer_norm_eps", &eps, err)) < 0 ||
        (r = meta_int(st, "n_classes", &cfg->n_classes, err)) < 0)
        return r;
    cfg->layer_norm_eps = (float)eps;
    static const char *const provenance[] = {"provenance.data", "provenance.recipe",
                                             "provenance.date"};
    for (size_t i = 0; i < ARRAY_SIZE(provenance); i++) {
        const char *v = NULL;
        if ((r = meta_string(st, provenance[i], &v, err)) < 0)
            return r;
    }
    return 0;
}

/* metadata "classes": a JSON array of n distinct, non-empty names. */
static int classes_from_metadata(const struct safetensors *st, int n, char ***ret_classes,
                                 struct errbuf *err)
{
    const char *text = NULL;
    int r = meta_string(st, "classes", &text, err);
    if (r < 0)
        return r;
    json_error_t jerr;
    json_t *list = json_loads(text, 0, &jerr);
    char **classes = NULL;
    if (!json_is_array(list)) {
        r = errbuf_set(err, -EBADMSG, "metadata 'classes' is not a JSON array of names");
        goto done;
    }
    if (json_array_size(list) != (size_t)n) {
        r = errbuf_set(err, -EBADMSG, "metadata 'classes' has %zu names, n_classes is %d",
                       json_array_size(list), n);
        goto done;
    }
    classes = calloc((size_t)n, sizeof(char *));
    if (!classes) {
        r = -ENOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        json_t *name = json_array_get(list, (size_t)i);
        if (!json_is_string(name) || json_string_length(name) == 0 ||
            json_string_length(name) > 255) {
            r = errbuf_set(err, -EBADMSG, "metadata 'classes': entry %d is not a name", i);
            goto done;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(classes[j], json_string_value(name)) == 0) {
                r = errbuf_set(err, -EBADMSG, "metadata 'classes': '%.60s' appears twice",
                               classes[j]);
                goto done;
            }
        classes[i] = strdup(json_string_value(name));
        if (!classes[i]) {
            r = -ENOMEM;
            goto done;
        }
    }
    *ret_classes = classes;
    classes = NULL;
    r = 0;
done:
    free_strings(classes, n);
    json_decref(list);
    return r;
}

int crt_model_from_safetensors(const struct safetensors *st, struct crt_model **ret_model,
                               struct errbuf *err)
{
    struct crt_config cfg = {0};
    char **classes = NULL;
    struct crt_model *m = NULL;
    int r = config_from_metadata(st, &cfg, err);
    if (r < 0)
        return r;
    if ((r = check_range("n_classes", cfg.n_classes, 1, CRT_MAX_CLASSES, err)) < 0)
        return r;
    if ((r = classes_from_metadata(st, cfg.n_classes, &classes, err)) < 0)
        return r;
    r = model_alloc(&cfg, (const char *const *)classes, &m, err);
    free_strings(classes, cfg.n_classes);
    if (r < 0)
        return r;

    /* Every tensor the layout names, with its shape ... */
    for (int i = 0; i < m->layout.n; i++) {
        const struct crt_param *p = &m->layout.params[i];
        const struct safetensors_tensor *t = safetensors_find(st, p->name);
        if (!t) {
            r = errbuf_set(err, -EBADMSG, "tensor '%s' missing (%s/%s needs it)", p->name,
                           cfg.architecture, cfg.variant);
            goto fail;
        }
        if ((r = safetensors_tensor_check(t, p->ndim, p->shape, err)) < 0)
            goto fail;
    }
    /* ... and nothing else. Only now, with the weights known to be in the
     * file, is the buffer for them allocated. */
    for (int i = 0; i < safetensors_count(st); i++) {
        const struct safetensors_tensor *t = safetensors_tensor(st, i);
        bool known = false;
        for (int k = 0; !known && k < m->layout.n; k++)
            known = strcmp(m->layout.params[k].name, t->name) == 0;
        if (!known) {
            r = errbuf_set(err, -EBADMSG, "unexpected tensor '%.100s' (not part of %s/%s)", t->name,
                           cfg.architecture, cfg.variant);
            goto fail;
        }
    }
    if ((r = model_alloc_params(m, err)) < 0)
        goto fail;
    for (int i = 0; i < m->layout.n; i++) {
        const struct crt_param *p = &m->layout.params[i];
        float *dst = m->params + p->offset;
        safetensors_tensor_to_f32(safetensors_find(st, p->name), dst);
        for (size_t k = 0; k < p->numel; k++)
            if (!isfinite(dst[k])) {
                r = errbuf_set(err, -EBADMSG, "tensor '%s': element %zu is %s", p->name, k,
                               isnan(dst[k]) ? "NaN" : "infinite");
                goto fail;
            }
    }
    for (int i = 0; i < safetensors_metadata_count(st); i++) {
        const char *key, *value;
        safetensors_metadata_at(st, i, &key, &value);
        if ((r = crt_model_set_metadata(m, key, value)) == -EINVAL) {
            r = errbuf_set(err, -EBADMSG, "metadata '%s': '%.40s' is not a number in %g..%g", key,
                           value, strcmp(key, CRT_META_THRESHOLD) ? CRT_TEMPERATURE_MIN : 0.0,
                           strcmp(key, CRT_META_THRESHOLD) ? CRT_TEMPERATURE_MAX : 1.0);
            goto fail;
        }
        if (r < 0)
            goto fail;
    }
    crt_model_params_changed(m);
    *ret_model = m;
    return 0;
fail:
    crt_model_free(m);
    return r;
}

int crt_model_load(const char *path, struct crt_model **ret_model, struct errbuf *err)
{
    struct safetensors *st;
    int r = safetensors_open(path, &st, err);
    if (r < 0)
        return r;
    struct errbuf inner = {0};
    r = crt_model_from_safetensors(st, ret_model, &inner);
    safetensors_free(st);
    if (r < 0)
        return errbuf_set(err, r, "%s: %s", path, errbuf_text(&inner, r));
    return 0;
}

/* ---- writing -------------------------------------------------------------- */

int crt_model_save(const struct crt_model *m, const char *path, enum safetensors_dtype dtype,
                   struct errbuf *err)
{
    const struct crt_config *c = &m->cfg;
    struct safetensors_writer *w = safetensors_writer_new();
    char *classes = NULL;
    int r = -ENOMEM;
    if (!w)
        goto done;

    json_t *list = json_array();
    for (int i = 0; list && i < c->n_classes; i++)
        json_array_append_new(list, json_string(m->classes[i]));
    classes = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    if (!classes)
        goto done;

    char num[12][32];
    snprintf(num[0], sizeof(num[0]), "%d", c->d_model);
    snprintf(num[1], sizeof(num[1]), "%d", c->n_layers);
    snprintf(num[2], sizeof(num[2]), "%d", c->n_heads);
    snprintf(num[3], sizeof(num[3]), "%d", c->d_ff);
    snprintf(num[4], sizeof(num[4]), "%d", c->n_features);
    snprintf(num[5], sizeof(num[5]), "%d", c->feature_layout);
    snprintf(num[6], sizeof(num[6]), "%d", c->segment_len);
    snprintf(num[7], sizeof(num[7]), "%.9g", c->fps);
    snprintf(num[8], sizeof(num[8]), "%.9g", (double)c->layer_norm_eps);
    snprintf(num[9], sizeof(num[9]), "%d", c->n_classes);
    const char *const card[][2] = {
        {"format_version", FORMAT_VERSION},
        {"architecture", c->architecture},
        {"variant", c->variant},
        {"d_model", num[0]},
        {"n_layers", num[1]},
        {"n_heads", num[2]},
        {"d_ff", num[3]},
        {"n_features", num[4]},
        {"feature_layout", num[5]},
        {"segment_len", num[6]},
        {"fps", num[7]},
        {"layer_norm_eps", num[8]},
        {"n_classes", num[9]},
        {"classes", classes},
    };
    for (size_t i = 0; i < ARRAY_SIZE(card); i++)
        if ((r = safetensors_writer_set_metadata(w, card[i][0], card[i][1])) < 0)
            goto done;
    static const char *const provenance[] = {"provenance.data", "provenance.recipe",
                                             "provenance.date"};
    for (size_t i = 0; i < ARRAY_SIZE(provenance); i++) {
        const char *v = crt_model_metadata(m, provenance[i]);
        if ((r = safetensors_writer_set_metadata(w, provenance[i], v ? v : "unknown")) < 0)
            goto done;
    }
    /* Whatever else the model carries, except what the card above computes. */
    for (int i = 0; i < m->n_meta; i++) {
        bool computed = false;
        for (size_t k = 0; !computed && k < ARRAY_SIZE(card); k++)
            computed = strcmp(card[k][0], m->meta_keys[i]) == 0;
        for (size_t k = 0; !computed && k < ARRAY_SIZE(provenance); k++)
            computed = strcmp(provenance[k], m->meta_keys[i]) == 0;
        if (!computed &&
            (r = safetensors_writer_set_metadata(w, m->meta_keys[i], m->meta_values[i])) < 0)
            goto done;
    }
    for (int i = 0; i < m->layout.n; i++) {
        const struct crt_param *p = &m->layout.params[i];
        if ((r = safetensors_writer_add(w, p->name, dtype, p->ndim, p->shape,
                                        m->params + p->offset)) < 0)
            goto done;
    }
    r = safetensors_writer_save(w, path, err);
    w = safetensors_writer_free(w);
    free(classes);
    return r;
done:
    safetensors_writer_free(w);
    free(classes);
    return errbuf_set(err, r, "%s: %s", path, strerror(-r));
}

/* ---- accessors ------------------------------------------------------------ */

const struct crt_config *crt_model_config(const struct crt_model *m)
{
    return &m->cfg;
}

const char *crt_model_class(const struct crt_model *m, int index)
{
    return index >= 0 && index < m->cfg.n_classes ? m->classes[index] : NULL;
}

const char *crt_model_metadata(const struct crt_model *m, const char *key)
{
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta_keys[i], key) == 0)
            return m->meta_values[i];
    return NULL;
}

int crt_model_metadata_count(const struct crt_model *m)
{
    return m->n_meta;
}

int crt_model_metadata_at(const struct crt_model *m, int index, const char **ret_key,
                          const char **ret_value)
{
    if (index < 0 || index >= m->n_meta)
        return -ENOENT;
    *ret_key = m->meta_keys[index];
    *ret_value = m->meta_values[index];
    return 0;
}

uint64_t crt_model_fingerprint(const struct crt_model *m)
{
    return m->fingerprint;
}

int crt_model_param_count(const struct crt_model *m)
{
    return m->layout.n;
}

int crt_model_param_info(const struct crt_model *m, int index, const char **ret_name, int *ret_ndim,
                         const int64_t **ret_shape, size_t *ret_numel)
{
    if (index < 0 || index >= m->layout.n)
        return -ENOENT;
    const struct crt_param *p = &m->layout.params[index];
    if (ret_name)
        *ret_name = p->name;
    if (ret_ndim)
        *ret_ndim = p->ndim;
    if (ret_shape)
        *ret_shape = p->shape;
    if (ret_numel)
        *ret_numel = p->numel;
    return 0;
}

size_t crt_model_num_parameters(const struct crt_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->layout.n; i++)
        n += m->layout.params[i].numel;
    return n;
}

float *crt_model_param(struct crt_model *m, const char *name)
{
    for (int i = 0; i < m->layout.n; i++)
        if (strcmp(m->layout.params[i].name, name) == 0)
            return m->params + m->layout.params[i].offset;
    return NULL;
}

size_t crt_model_memory_floats(const struct crt_model *m)
{
    return m->state_floats;
}

void crt_model_initial_memory(const struct crt_model *m, float *mem)
{
    if (m->ops->initial_memory)
        m->ops->initial_memory(m, mem);
    else
        memset(mem, 0, m->state_floats * sizeof(float));
}

double crt_model_flops_per_segment(const struct crt_model *m)
{
    const struct crt_config *c = &m->cfg;
    double d = c->d_model, ff = c->d_ff, L = c->segment_len, nt = m->n_tokens, T = nt + L;
    double f = 2.0 * L * c->n_features * d; /* input embedding */
    for (int l = 0; l < c->n_layers; l++) {
        double nq = l == c->n_layers - 1 ? nt : T; /* the last block keeps nq outputs */
        f += 2.0 * T * d * 3.0 * d;                /* q, k, v */
        f += 2.0 * 2.0 * nq * T * d;               /* scores and weighted values */
        f += 2.0 * nq * d * d;                     /* output projection */
        f += 2.0 * 2.0 * nq * d * ff;              /* FFN */
    }
    f += m->ops->flops(c);
    f += 2.0 * d * c->n_classes; /* classifier */
    return f;
}

/* ---- random weights ------------------------------------------------------- */

float crt_random_uniform(struct crt_random *r, float lo, float hi)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return lo + (hi - lo) * (float)((double)(z >> 40) * 0x1.0p-24);
}

void crt_model_init_random(struct crt_model *m, uint64_t seed)
{
    struct crt_random rnd = {seed};
    for (int i = 0; i < m->layout.n; i++) {
        const struct crt_param *p = &m->layout.params[i];
        float *x = m->params + p->offset;
        bool norm = p->flags & CRT_PARAM_NORM;
        float a = p->flags & CRT_PARAM_FAN_IN ? 1.0f / sqrtf((float)p->shape[1]) : 0.1f;
        for (size_t k = 0; k < p->numel; k++)
            x[k] = (norm ? 1.0f : 0.0f) + crt_random_uniform(&rnd, -a, a);
    }
    if (m->ops->init_random)
        m->ops->init_random(m, seed);
    crt_model_params_changed(m);
}

/* ---- the forward step ----------------------------------------------------- */

int crt_workspace_new(const struct crt_model *m, int max_batch, struct crt_workspace **ret_ws)
{
    const struct crt_config *c = &m->cfg;
    if (max_batch < 1)
        return -EINVAL;
    size_t B = (size_t)max_batch, d = (size_t)c->d_model, nt = (size_t)m->n_tokens;
    size_t T = nt + (size_t)c->segment_len;
    size_t sizes[] = {
        B * T * d,
        B * T * d,
        B * T * 3 * d,
        B * T * d,
        B * (size_t)c->n_heads * T * T,
        B * T * (size_t)c->d_ff,
        B * nt * d,
        B * nt * d,
        B * d,
        B * d,
        B * (m->ops->scratch_floats ? m->ops->scratch_floats(c) : 0),
        B * (size_t)c->n_classes,
        B * (size_t)c->segment_len * (size_t)c->n_features,
        B * m->state_floats,
    };
    size_t total = 0;
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
        total += (sizes[i] + 15) & ~(size_t)15;
    struct crt_workspace *ws = calloc(1, sizeof(*ws));
    float *buf = aligned_alloc(64, total * sizeof(float));
    if (!ws || !buf) {
        free(ws);
        free(buf);
        return -ENOMEM;
    }
    memset(buf, 0, total * sizeof(float));
    float **slots[] = {&ws->x,       &ws->ln,     &ws->qkv,   &ws->atty,    &ws->att,
                       &ws->fch,     &ws->xk,     &ws->h,     &ws->readout, &ws->hln,
                       &ws->scratch, &ws->logits, &ws->feats, &ws->mem};
    _Static_assert(ARRAY_SIZE(slots) == ARRAY_SIZE(sizes), "one size per slot");
    float *p = buf;
    for (size_t i = 0; i < ARRAY_SIZE(slots); i++) {
        *slots[i] = p;
        p += (sizes[i] + 15) & ~(size_t)15;
    }
    ws->model = m;
    ws->max_batch = max_batch;
    ws->bytes = sizeof(*ws) + total * sizeof(float);
    *ret_ws = ws;
    return 0;
}

struct crt_workspace *crt_workspace_free(struct crt_workspace *ws)
{
    if (ws) {
        free(ws->x); /* the one allocation starts at x */
        free(ws);
    }
    return NULL;
}

size_t crt_workspace_bytes(const struct crt_workspace *ws)
{
    return ws->bytes;
}

void crt_model_step(const struct crt_model *m, struct crt_workspace *ws, int B, const float *feats,
                    const float *mem_in, float *mem_out, float *logits)
{
    assert(ws->model == m && B >= 1 && B <= ws->max_batch);
    crt_encoder_forward(m, ws, NULL, B, feats, mem_in, mem_out, logits ? logits : ws->logits);
}

/* ---- whole clips, batched -------------------------------------------------- */

struct clip_order {
    int clip, segments;
};

static int compare_segments(const void *a, const void *b)
{
    const struct clip_order *x = a, *y = b;
    if (x->segments != y->segments)
        return y->segments - x->segments; /* longest first */
    return x->clip - y->clip;
}

int crt_model_run_clips(const struct crt_model *m, struct crt_workspace *ws, int n_clips,
                        const float *const *feats, const int *n_frames, float *const *ret_logits,
                        float *const *ret_probs, float *const *ret_memory)
{
    const struct crt_config *c = &m->cfg;
    int L = c->segment_len, F = c->n_features, C = c->n_classes;
    size_t S = m->state_floats;
    if (n_clips < 0 || ws->model != m)
        return -EINVAL;
    for (int i = 0; i < n_clips; i++)
        if (n_frames[i] < 0)
            return -EINVAL;

    _cleanup_free_ struct clip_order *order = calloc((size_t)n_clips + 1, sizeof(*order));
    float *logits = ws->logits;
    if (!order)
        return -ENOMEM;
    for (int i = 0; i < n_clips; i++)
        order[i] = (struct clip_order){i, n_frames[i] / L};
    qsort(order, (size_t)n_clips, sizeof(*order), compare_segments);

    for (int first = 0; first < n_clips; first += ws->max_batch) {
        int count = n_clips - first < ws->max_batch ? n_clips - first : ws->max_batch;
        const struct clip_order *chunk = order + first;
        for (int k = 0; k < count; k++)
            crt_model_initial_memory(m, ws->mem + (size_t)k * S);
        /* Longest first, so the clips still running are always a prefix. */
        for (int n = 0; n < chunk[0].segments; n++) {
            int B = 0;
            while (B < count && chunk[B].segments > n)
                B++;
            for (int k = 0; k < B; k++)
                memcpy(ws->feats + (size_t)k * L * F, feats[chunk[k].clip] + (size_t)n * L * F,
                       (size_t)L * F * sizeof(float));
            crt_model_step(m, ws, B, ws->feats, ws->mem, ws->mem, logits);
            for (int k = 0; k < B; k++) {
                int clip = chunk[k].clip;
                const float *lg = logits + (size_t)k * C;
                if (ret_logits && ret_logits[clip])
                    memcpy(ret_logits[clip] + (size_t)n * C, lg, (size_t)C * sizeof(float));
                if (ret_probs && ret_probs[clip])
                    crt_model_probs(m, ret_probs[clip] + (size_t)n * C, lg);
                if (ret_memory && ret_memory[clip])
                    memcpy(ret_memory[clip] + (size_t)n * S, ws->mem + (size_t)k * S,
                           S * sizeof(float));
            }
        }
    }
    return 0;
}
