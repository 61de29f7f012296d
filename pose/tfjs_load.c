/* tfjs_load: reading a TensorFlow.js graph model — model.json (Jansson), its
 * weight shards and their dequantisation, the nodes with their attributes —
 * into a struct tfjs_model that tfjs_plan.c then plans. See tfjs.h for the
 * contract and docs/POSE.md for the ops. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "tfjs_internal.h"

/* ---- JSON helpers ------------------------------------------------------------ */

/* An integer that TensorFlow's JSON writes as a string ("3") or a number. */
static int json_int(json_t *v, long long *ret)
{
    char *end;

    if (json_is_integer(v)) {
        *ret = json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -EBADMSG;
    errno = 0;
    long long x = strtoll(json_string_value(v), &end, 10);
    if (errno || end == json_string_value(v) || *end)
        return -EBADMSG;
    *ret = x;
    return 0;
}

json_t *tfjs_node_attr(json_t *node, const char *name)
{
    return json_object_get(json_object_get(node, "attr"), name);
}

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes base64 text into a NUL-terminated string of at most size-1 bytes. */
static int b64_decode(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;

    for (; *src && *src != '='; src++) {
        int v = b64_value((unsigned char)*src);
        if (v < 0)
            return -EBADMSG;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= size)
                return -EBADMSG;
            dst[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    dst[n] = '\0';
    return 0;
}

/* attr {"s": base64} as text; missing gives "". */
int tfjs_attr_string(json_t *node, const char *name, char *buf, size_t size)
{
    json_t *a = tfjs_node_attr(node, name);

    buf[0] = '\0';
    if (!a)
        return 0;
    json_t *s = json_object_get(a, "s");
    if (!json_is_string(s))
        return -EBADMSG;
    return b64_decode(buf, size, json_string_value(s));
}

int tfjs_attr_int(json_t *node, const char *name, long long def, long long *ret)
{
    json_t *a = tfjs_node_attr(node, name);

    if (!a) {
        *ret = def;
        return 0;
    }
    return json_int(json_object_get(a, "i"), ret);
}

bool tfjs_attr_bool(json_t *node, const char *name)
{
    return json_is_true(json_object_get(tfjs_node_attr(node, name), "b"));
}

/* attr {"list": {"i": [...]}} into out[]; returns the count or a negative errno. */
int tfjs_attr_int_list(json_t *node, const char *name, long long *out, int max)
{
    json_t *list = json_object_get(json_object_get(tfjs_node_attr(node, name), "list"), "i");
    size_t i;
    json_t *v;

    if (!list)
        return 0;
    if (!json_is_array(list) || (int)json_array_size(list) > max)
        return -EBADMSG;
    json_array_foreach(list, i, v) if (json_int(v, &out[i]) < 0) return -EBADMSG;
    return (int)json_array_size(list);
}

int tfjs_dtype_parse(const char *text, enum tfjs_dtype *ret)
{
    if (!text)
        return -EBADMSG;
    if (strcmp(text, "DT_FLOAT") == 0 || strcmp(text, "float32") == 0) {
        *ret = TFJS_FLOAT32;
        return 0;
    }
    if (strcmp(text, "DT_INT32") == 0 || strcmp(text, "int32") == 0) {
        *ret = TFJS_INT32;
        return 0;
    }
    if (strcmp(text, "DT_BOOL") == 0 || strcmp(text, "bool") == 0) {
        *ret = TFJS_BOOL;
        return 0;
    }
    return -ENOTSUP;
}

/* A shape in TensorFlow's JSON: {"dim": [{"size": "1"}, ...]}; no dim = scalar.
 * With ret_unknown, a size of -1 (unknown) is allowed: its bit is set there
 * and the dim reads 0. */
static int tensor_shape_parse(json_t *shape, struct tfjs_shape *ret, unsigned *ret_unknown)
{
    json_t *dims = json_object_get(shape, "dim");
    size_t i;
    json_t *d;
    struct tfjs_shape s = {0};

    if (!dims) {
        *ret = s;
        return 0;
    }
    if (!json_is_array(dims) || json_array_size(dims) > TFJS_MAX_DIMS)
        return -EBADMSG;
    json_array_foreach(dims, i, d)
    {
        long long n;
        if (json_int(json_object_get(d, "size"), &n) < 0)
            return -EBADMSG;
        if (n == -1 && ret_unknown) {
            *ret_unknown |= 1u << s.rank;
            n = 0;
        }
        if (n < 0 || n > (1 << 24))
            return -ERANGE;
        s.dims[s.rank++] = (int)n;
    }
    *ret = s;
    return 0;
}

/* ---- weights ----------------------------------------------------------------- */

struct tfjs_weight {
    const char *name; /* owned by the JSON */
    struct tfjs_shape shape;
    enum tfjs_dtype dtype;
    float *data; /* into model->weights (int32 stored bit-for-bit) */
};

static int read_file(const char *path, unsigned char **ret_data, size_t *ret_size,
                     struct errbuf *err)
{
    _cleanup_fclose_ FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    long size;

    if (!f)
        return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
        return errbuf_set(err, -EIO, "%s: cannot seek", path);
    data = malloc(size ? (size_t)size : 1);
    if (!data)
        return errbuf_set(err, -ENOMEM, "%s: out of memory", path);
    if (fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        return errbuf_set(err, -EIO, "%s: read failed", path);
    }
    *ret_data = data;
    *ret_size = (size_t)size;
    return 0;
}

/* Bytes one manifest entry occupies in its shard and its dequantisation. */
static int weight_spec(json_t *w, struct tfjs_weight *ret, size_t *ret_bytes, int *ret_kind,
                       double *ret_scale, double *ret_min, struct errbuf *err)
{
    const char *name = json_string_value(json_object_get(w, "name"));
    json_t *shape = json_object_get(w, "shape");
    json_t *q = json_object_get(w, "quantization");
    struct tfjs_weight out = {0};
    size_t i, elem = 4;
    json_t *d;
    int kind = 0; /* 0 raw, 1 float16, 2 uint8 affine, 3 uint16 affine */
    int r;

    if (!name || !json_is_array(shape) || json_array_size(shape) > TFJS_MAX_DIMS)
        return errbuf_set(err, -EBADMSG, "weights manifest: entry %s lacks a name or a shape",
                          name ? name : "(unnamed)");
    out.name = name;
    json_array_foreach(shape, i, d)
    {
        if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > (1 << 24))
            return errbuf_set(err, -EBADMSG, "weight '%s': bad shape in the manifest", name);
        out.shape.dims[out.shape.rank++] = (int)json_integer_value(d);
    }
    r = tfjs_dtype_parse(json_string_value(json_object_get(w, "dtype")), &out.dtype);
    if (r < 0)
        return errbuf_set(err, r, "weight '%s': dtype '%s' is not supported", name,
                          json_string_value(json_object_get(w, "dtype"))
                              ? json_string_value(json_object_get(w, "dtype"))
                              : "?");
    if (q) {
        const char *qd = json_string_value(json_object_get(q, "dtype"));
        if (qd && strcmp(qd, "float16") == 0 && out.dtype == TFJS_FLOAT32) {
            kind = 1;
            elem = 2;
        } else if (qd && (strcmp(qd, "uint8") == 0 || strcmp(qd, "uint16") == 0)) {
            json_t *scale = json_object_get(q, "scale"), *min = json_object_get(q, "min");
            if (!json_is_number(scale) || !json_is_number(min))
                return errbuf_set(err, -EBADMSG, "weight '%s': quantization lacks scale or min",
                                  name);
            kind = qd[4] == '8' ? 2 : 3;
            elem = kind == 2 ? 1 : 2;
            *ret_scale = json_number_value(scale);
            *ret_min = json_number_value(min);
        } else {
            return errbuf_set(err, -ENOTSUP, "weight '%s': quantization '%s' is not supported",
                              name, qd ? qd : "?");
        }
    }
    *ret = out;
    *ret_bytes = tfjs_shape_size(&out.shape) * elem;
    *ret_kind = kind;
    return 0;
}

static int weights_load(json_t *manifest, const char *dir, float **ret_weights,
                        struct tfjs_weight **ret_list, int *ret_count, struct errbuf *err)
{
    _cleanup_free_ struct tfjs_weight *list = NULL;
    float *weights = NULL;
    unsigned char *shard = NULL;
    size_t total = 0, gi, wi;
    json_t *group, *w;
    int count = 0, r;

    if (!json_is_array(manifest))
        return errbuf_set(err, -EBADMSG, "weightsManifest is missing or not an array");
    /* pass 1: count and size */
    json_array_foreach(manifest, gi, group)
    {
        json_t *ws = json_object_get(group, "weights");
        if (!json_is_array(ws) || !json_is_array(json_object_get(group, "paths")))
            return errbuf_set(err, -EBADMSG, "weightsManifest[%zu] lacks paths or weights", gi);
        json_array_foreach(ws, wi, w)
        {
            struct tfjs_weight spec;
            size_t bytes;
            int kind;
            double scale, min;
            r = weight_spec(w, &spec, &bytes, &kind, &scale, &min, err);
            if (r < 0)
                return r;
            total += tfjs_align_up(tfjs_shape_size(&spec.shape) * 4);
            count++;
        }
    }
    list = calloc(count ? (size_t)count : 1, sizeof(*list));
    if (!list || posix_memalign((void **)&weights, TFJS_ALIGN, total ? total : TFJS_ALIGN))
        return errbuf_set(err, -ENOMEM, "weights: out of memory");

    /* pass 2: read each group's shards, dequantise its entries in order */
    size_t woff = 0;
    int k = 0;
    json_array_foreach(manifest, gi, group)
    {
        json_t *paths = json_object_get(group, "paths"), *p;
        size_t pi, size = 0, used = 0;
        json_array_foreach(paths, pi, p)
        {
            char path[4096];
            unsigned char *part = NULL;
            size_t part_size = 0;
            /* A shard is a file beside the JSON: no directory, no hidden
             * file, so that a model file names nothing else on the disk. */
            const char *name = json_string_value(p);
            if (!name || !name[0] || name[0] == '.' || strchr(name, '/') ||
                snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
                r = errbuf_set(err, -EBADMSG,
                               "weightsManifest[%zu]: shard path '%s' is not a file name "
                               "beside the model",
                               gi, name ? name : "(not a string)");
                goto fail;
            }
            r = read_file(path, &part, &part_size, err);
            if (r < 0)
                goto fail;
            unsigned char *grown = realloc(shard, size + part_size + 1);
            if (!grown) {
                free(part);
                r = errbuf_set(err, -ENOMEM, "weights: out of memory");
                goto fail;
            }
            shard = grown;
            memcpy(shard + size, part, part_size);
            size += part_size;
            free(part);
        }
        json_array_foreach(json_object_get(group, "weights"), wi, w)
        {
            struct tfjs_weight spec;
            size_t bytes, n;
            int kind;
            double scale = 1, min = 0;
            r = weight_spec(w, &spec, &bytes, &kind, &scale, &min, err);
            if (r < 0)
                goto fail;
            if (bytes > size - used) {
                r = errbuf_set(err, -EBADMSG,
                               "weight '%s': needs %zu bytes at offset %zu but the shards of "
                               "weightsManifest[%zu] hold %zu (truncated .bin or wrong shape)",
                               spec.name, bytes, used, gi, size);
                goto fail;
            }
            n = tfjs_shape_size(&spec.shape);
            spec.data = (float *)((char *)weights + woff);
            const unsigned char *src = shard + used;
            for (size_t e = 0; e < n; e++) {
                if (kind == 0) {
                    memcpy(&spec.data[e], src + 4 * e, 4);
                } else if (kind == 1) {
                    uint16_t h;
                    memcpy(&h, src + 2 * e, 2);
                    spec.data[e] = f16_to_f32(h);
                } else {
                    double q;
                    if (kind == 2) {
                        q = src[e];
                    } else {
                        uint16_t u;
                        memcpy(&u, src + 2 * e, 2);
                        q = u;
                    }
                    double v = q * scale + min;
                    if (spec.dtype == TFJS_INT32) {
                        int32_t iv = (int32_t)lround(v);
                        memcpy(&spec.data[e], &iv, 4);
                    } else {
                        spec.data[e] = (float)v;
                    }
                }
            }
            used += bytes;
            woff += tfjs_align_up(n * 4);
            list[k++] = spec;
        }
        if (used != size) {
            r = errbuf_set(err, -EBADMSG,
                           "weightsManifest[%zu]: the manifest accounts for %zu bytes but the "
                           "shards hold %zu (wrong shapes in the manifest?)",
                           gi, used, size);
            goto fail;
        }
        free(shard);
        shard = NULL;
    }
    *ret_weights = weights;
    *ret_list = list;
    list = NULL;
    *ret_count = count;
    return 0;
fail:
    free(shard);
    free(weights);
    return r;
}

/* ---- graph ------------------------------------------------------------------- */

static int node_name_cmp(const void *a, const void *b, void *model)
{
    const struct tfjs_model *m = model;
    return strcmp(m->nodes[*(const int *)a].name, m->nodes[*(const int *)b].name);
}

static int node_find(const struct tfjs_model *m, const char *name, size_t len)
{
    int lo = 0, hi = m->n_nodes - 1;

    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const char *s = m->nodes[m->sorted[mid]].name;
        int c = strncmp(s, name, len);
        if (c == 0 && s[len] != '\0')
            c = 1;
        if (c == 0)
            return m->sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -ENOENT;
}

int tfjs_model_find(const struct tfjs_model *m, const char *name)
{
    const char *colon = strrchr(name, ':');
    size_t len = strlen(name);
    long k = 0;

    if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
        len = (size_t)(colon - name);
        k = strtol(colon + 1, NULL, 10);
    }
    int n = node_find(m, name, len);
    if (n < 0)
        return n;
    if (k >= m->nodes[n].n_outputs)
        return -ENOENT;
    return m->nodes[n].first_output + (int)k;
}

/* ---- attributes, per op (the parse column of tfjs_ops) --------------------- */

static int attrs_bad(const struct tfjs_node *n, struct errbuf *err)
{
    return errbuf_set(err, -EBADMSG, "node '%s' (%s): malformed attributes", n->name, n->op_name);
}

/* Conv2D and DepthwiseConv2dNative, plain or fused with a bias and Relu. */
int tfjs_parse_conv(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    char text[128];
    long long list[8];
    int count;

    if (tfjs_attr_string(jn, "padding", text, sizeof(text)) < 0)
        return attrs_bad(n, err);
    if (strcmp(text, "SAME") == 0)
        n->same = true;
    else if (strcmp(text, "VALID") != 0)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): padding '%s' is not supported", n->name,
                          n->op_name, text);
    if (tfjs_attr_string(jn, "data_format", text, sizeof(text)) < 0)
        return attrs_bad(n, err);
    if (text[0] && strcmp(text, "NHWC") != 0)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): data_format '%s' is not supported",
                          n->name, n->op_name, text);
    count = tfjs_attr_int_list(jn, "strides", list, 8);
    if (count != 4 || list[0] != 1 || list[3] != 1 || list[1] < 1 || list[2] < 1 || list[1] > 64 ||
        list[2] > 64)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): strides must be [1,s,s,1]", n->name,
                          n->op_name);
    n->stride_h = (int)list[1];
    n->stride_w = (int)list[2];
    count = tfjs_attr_int_list(jn, "dilations", list, 8);
    if (count < 0)
        return attrs_bad(n, err);
    for (int i = 0; i < count; i++)
        if (list[i] != 1)
            return errbuf_set(err, -ENOTSUP, "node '%s' (%s): dilations are not supported", n->name,
                              n->op_name);
    json_t *fused = json_object_get(json_object_get(tfjs_node_attr(jn, "fused_ops"), "list"), "s");
    size_t i;
    json_t *f;
    json_array_foreach(fused, i, f)
    {
        if (!json_is_string(f) || b64_decode(text, sizeof(text), json_string_value(f)) < 0)
            return attrs_bad(n, err);
        if (i == 0 && strcmp(text, "BiasAdd") == 0)
            n->has_bias = true;
        else if (i == 1 && strcmp(text, "Relu") == 0)
            n->act = CONV_ACT_RELU;
        else if (i == 1 && strcmp(text, "Relu6") == 0)
            n->act = CONV_ACT_RELU6;
        else
            return errbuf_set(err, -ENOTSUP, "node '%s' (%s): fused op '%s' is not supported",
                              n->name, n->op_name, text);
    }
    if (n->n_inputs != 2 + (n->has_bias ? 1 : 0))
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): expected %d inputs, found %d", n->name,
                          n->op_name, 2 + (n->has_bias ? 1 : 0), n->n_inputs);
    return 0;
}

int tfjs_parse_resize(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    (void)err;
    n->align_corners = tfjs_attr_bool(jn, "align_corners");
    n->half_pixel_centers = tfjs_attr_bool(jn, "half_pixel_centers");
    return 0;
}

int tfjs_parse_cast(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    if (tfjs_dtype_parse(json_string_value(json_object_get(tfjs_node_attr(jn, "DstT"), "type")),
                         &n->dst) < 0)
        return errbuf_set(err, -ENOTSUP, "node '%s' (Cast): DstT is not float32, int32 or bool",
                          n->name);
    return 0;
}

int tfjs_parse_unpack(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    long long x;

    if (tfjs_attr_int(jn, "num", -1, &x) < 0 || x < 1 || x > 4096)
        return attrs_bad(n, err);
    n->num = (int)x;
    if (tfjs_attr_int(jn, "axis", 0, &x) < 0 || x < -TFJS_MAX_DIMS || x >= TFJS_MAX_DIMS)
        return attrs_bad(n, err);
    n->axis = (int)x;
    return 0;
}

int tfjs_parse_pack(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    long long x;

    if (tfjs_attr_int(jn, "axis", 0, &x) < 0 || x < -TFJS_MAX_DIMS || x > TFJS_MAX_DIMS)
        return attrs_bad(n, err);
    n->axis = (int)x;
    return 0;
}

int tfjs_parse_squeeze(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    long long list[8];
    int count = tfjs_attr_int_list(jn, "squeeze_dims", list, 8);

    if (count < 0)
        return attrs_bad(n, err);
    for (int i = 0; i < count; i++) {
        if (list[i] < -TFJS_MAX_DIMS || list[i] >= TFJS_MAX_DIMS)
            return attrs_bad(n, err);
        n->squeeze_mask |= 1u << ((list[i] + 2 * TFJS_MAX_DIMS) % (2 * TFJS_MAX_DIMS));
    }
    return 0;
}

int tfjs_parse_strided_slice(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    long long v[5];
    static const char *const names[5] = {"begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                         "shrink_axis_mask"};

    for (int i = 0; i < 5; i++)
        if (tfjs_attr_int(jn, names[i], 0, &v[i]) < 0 || v[i] < 0 || v[i] >= (1 << 16))
            return attrs_bad(n, err);
    n->begin_mask = (int)v[0];
    n->end_mask = (int)v[1];
    n->ellipsis_mask = (int)v[2];
    n->new_axis_mask = (int)v[3];
    n->shrink_mask = (int)v[4];
    /* TensorFlow allows one ellipsis */
    if (n->ellipsis_mask & (n->ellipsis_mask - 1))
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): more than one ellipsis", n->name,
                          n->op_name);
    return 0;
}

/* Max and Sum: keep_dims (the axes are an input). */
int tfjs_parse_reduce(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    (void)err;
    n->keep_dims = tfjs_attr_bool(jn, "keep_dims");
    return 0;
}

int tfjs_parse_maxpool(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    char text[32];
    long long k[8], st[8];

    if (tfjs_attr_string(jn, "padding", text, sizeof(text)) < 0)
        return attrs_bad(n, err);
    if (strcmp(text, "SAME") == 0)
        n->same = true;
    else if (strcmp(text, "VALID") != 0)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): padding '%s' is not supported", n->name,
                          n->op_name, text);
    if (tfjs_attr_string(jn, "data_format", text, sizeof(text)) < 0)
        return attrs_bad(n, err);
    if (text[0] && strcmp(text, "NHWC") != 0)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): data_format '%s' is not supported",
                          n->name, n->op_name, text);
    if (tfjs_attr_int_list(jn, "ksize", k, 8) != 4 ||
        tfjs_attr_int_list(jn, "strides", st, 8) != 4 || k[0] != 1 || k[3] != 1 || st[0] != 1 ||
        st[3] != 1 || k[1] < 1 || k[2] < 1 || k[1] > 64 || k[2] > 64 || st[1] < 1 || st[2] < 1 ||
        st[1] > 64 || st[2] > 64)
        return errbuf_set(err, -ENOTSUP,
                          "node '%s' (%s): ksize and strides must be [1,k,k,1] and [1,s,s,1]",
                          n->name, n->op_name);
    n->geom.kh = (int)k[1];
    n->geom.kw = (int)k[2];
    n->stride_h = (int)st[1];
    n->stride_w = (int)st[2];
    return 0;
}

int tfjs_parse_topk(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    (void)err;
    /* TensorFlow's default is sorted; the graph says it explicitly */
    json_t *a = tfjs_node_attr(jn, "sorted");
    n->sorted = !a || tfjs_attr_bool(jn, "sorted");
    return 0;
}

int tfjs_parse_split(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    long long x;

    if (tfjs_attr_int(jn, "num_split", -1, &x) < 0 || x < 1 || x > 4096)
        return attrs_bad(n, err);
    n->num = (int)x;
    return 0;
}

/* Range: the output dtype is Tidx (float32 or int32). */
int tfjs_parse_range(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    json_t *t = json_object_get(tfjs_node_attr(jn, "Tidx"), "type");

    n->dst = TFJS_INT32;
    if (t && (tfjs_dtype_parse(json_string_value(t), &n->dst) < 0 || n->dst == TFJS_BOOL))
        return errbuf_set(err, -ENOTSUP, "node '%s' (Range): Tidx is not float32 or int32",
                          n->name);
    return 0;
}

/* Parses the attributes of one node and checks what the runner supports. */
static int node_parse_attrs(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    n->residual = -1;
    n->fused_dw = -1;
    n->fused_into = -1;
    return tfjs_ops[n->op].parse ? tfjs_ops[n->op].parse(n, jn, err) : 0;
}

/* The op a graph's name designates, or -ENOTSUP. */
static int op_from_name(const char *name, const char **ret_name)
{
    for (int op = 0; op < TFJS_OP_COUNT; op++)
        for (size_t k = 0; k < ARRAY_SIZE(tfjs_ops[op].names) && tfjs_ops[op].names[k]; k++)
            if (strcmp(name, tfjs_ops[op].names[k]) == 0) {
                *ret_name = tfjs_ops[op].names[k];
                return op;
            }
    return -ENOTSUP;
}

/* ---- the graph and its constants ---------------------------------------------- */

static int model_build_nodes(struct tfjs_model *m, json_t *jnodes, struct errbuf *err)
{
    size_t i;
    json_t *jn;
    int values = 0;

    m->n_nodes = (int)json_array_size(jnodes);
    m->nodes = calloc((size_t)m->n_nodes, sizeof(*m->nodes));
    m->sorted = calloc((size_t)m->n_nodes, sizeof(*m->sorted));
    m->order = calloc((size_t)m->n_nodes, sizeof(*m->order));
    if (!m->nodes || !m->sorted || !m->order)
        return errbuf_set(err, -ENOMEM, "graph: out of memory");
    json_array_foreach(jnodes, i, jn)
    {
        struct tfjs_node *n = &m->nodes[i];
        const char *name = json_string_value(json_object_get(jn, "name"));
        const char *op = json_string_value(json_object_get(jn, "op"));
        json_t *ins = json_object_get(jn, "input");
        n->step = -1;
        if (!name || !op)
            return errbuf_set(err, -EBADMSG, "modelTopology.node[%zu] lacks a name or an op", i);
        if (ins && !json_is_array(ins))
            return errbuf_set(err, -EBADMSG, "node '%s': input is not an array", name);
        n->name = strdup(name);
        if (!n->name)
            return errbuf_set(err, -ENOMEM, "graph: out of memory");
        int kind = op_from_name(op, &n->op_name);
        if (kind < 0)
            return errbuf_set(err, -ENOTSUP, "node '%s': op '%s' is not supported", name, op);
        n->op = (enum tfjs_op)kind;
        const struct tfjs_op_desc *desc = &tfjs_ops[n->op];
        n->n_outputs = desc->n_outputs ? desc->n_outputs : 1;
        if (desc->outputs_attr) {
            long long num;
            if (tfjs_attr_int(jn, desc->outputs_attr, -1, &num) < 0 || num < 1 || num > 4096)
                return errbuf_set(err, -EBADMSG, "node '%s' (%s): bad %s", name, op,
                                  desc->outputs_attr);
            n->n_outputs = (int)num;
        }
        n->first_output = values;
        values += n->n_outputs;
        n->inputs = calloc(json_array_size(ins) + 1, sizeof(int));
        if (!n->inputs)
            return errbuf_set(err, -ENOMEM, "graph: out of memory");
        m->sorted[i] = (int)i;
    }
    qsort_r(m->sorted, (size_t)m->n_nodes, sizeof(int), node_name_cmp, m);
    for (int k = 1; k < m->n_nodes; k++)
        if (strcmp(m->nodes[m->sorted[k]].name, m->nodes[m->sorted[k - 1]].name) == 0)
            return errbuf_set(err, -EBADMSG, "node '%s' is defined twice",
                              m->nodes[m->sorted[k]].name);
    m->n_values = values;
    m->values = calloc((size_t)values, sizeof(*m->values));
    if (!m->values)
        return errbuf_set(err, -ENOMEM, "graph: out of memory");
    for (int k = 0; k < m->n_nodes; k++)
        for (int j = 0; j < m->nodes[k].n_outputs; j++)
            m->values[m->nodes[k].first_output + j].node = k;

    /* inputs: "name", "name:k"; "^name" is a control edge, ignored */
    json_array_foreach(jnodes, i, jn)
    {
        struct tfjs_node *n = &m->nodes[i];
        size_t k;
        json_t *in;
        json_array_foreach(json_object_get(jn, "input"), k, in)
        {
            const char *s = json_string_value(in);
            if (!s)
                return errbuf_set(err, -EBADMSG, "node '%s': input %zu is not a string", n->name,
                                  k);
            if (s[0] == '^')
                continue;
            int v = tfjs_model_find(m, s);
            if (v < 0)
                return errbuf_set(err, -EBADMSG, "node '%s': input '%s' names no node output",
                                  n->name, s);
            n->inputs[n->n_inputs++] = v;
        }
        int r = node_parse_attrs(n, jn, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The signature's input shape, which fills a Placeholder's unknown dims for
 * the plan made at load; false when there is none or it is not fully known. */
static bool signature_input_shape(json_t *root, struct tfjs_shape *ret)
{
    json_t *ins = json_object_get(json_object_get(root, "signature"), "inputs");
    const char *key;
    json_t *val;
    unsigned unknown = 0;

    json_object_foreach(ins, key, val)
    {
        json_t *shape = json_object_get(val, "tensorShape");
        return shape && tensor_shape_parse(shape, ret, &unknown) == 0 && !unknown;
    }
    return false;
}

static int model_bind_consts(struct tfjs_model *m, json_t *root, json_t *jnodes,
                             struct tfjs_weight *weights, int n_weights, struct errbuf *err)
{
    size_t i;
    json_t *jn;
    char sa[64], sb[64];

    m->input = -1;
    json_array_foreach(jnodes, i, jn)
    {
        struct tfjs_node *n = &m->nodes[i];
        struct tfjs_value *v = &m->values[n->first_output];
        if (n->op == TFJS_OP_CONST) {
            struct tfjs_weight *w = NULL;
            for (int k = 0; k < n_weights && !w; k++)
                if (strcmp(weights[k].name, n->name) == 0)
                    w = &weights[k];
            if (!w)
                return errbuf_set(err, -EBADMSG,
                                  "node '%s' (Const): no weights in the manifest (inline "
                                  "constants are not supported)",
                                  n->name);
            json_t *tensor = json_object_get(tfjs_node_attr(jn, "value"), "tensor");
            struct tfjs_shape declared;
            if (json_object_get(tensor, "tensorShape") &&
                tensor_shape_parse(json_object_get(tensor, "tensorShape"), &declared, NULL) == 0 &&
                !tfjs_shape_equal(&declared, &w->shape)) {
                tfjs_shape_format(sa, sizeof(sa), &w->shape);
                tfjs_shape_format(sb, sizeof(sb), &declared);
                return errbuf_set(err, -EBADMSG,
                                  "weight '%s': manifest shape %s but the graph declares %s",
                                  n->name, sa, sb);
            }
            enum tfjs_dtype dt;
            const char *dts =
                json_string_value(json_object_get(tfjs_node_attr(jn, "dtype"), "type"));
            if (dts && tfjs_dtype_parse(dts, &dt) == 0 && dt != w->dtype)
                return errbuf_set(err, -EBADMSG,
                                  "weight '%s': manifest dtype %s but the graph declares %s",
                                  n->name, tfjs_dtype_name(w->dtype), tfjs_dtype_name(dt));
            v->shape = w->shape;
            v->dtype = w->dtype;
            v->const_data = w->data;
        } else if (n->op == TFJS_OP_PLACEHOLDER) {
            if (m->input >= 0)
                return errbuf_set(err, -ENOTSUP, "node '%s': only one Placeholder is supported",
                                  n->name);
            json_t *shape = json_object_get(tfjs_node_attr(jn, "shape"), "shape");
            if (!shape || tensor_shape_parse(shape, &v->shape, &m->dynamic) < 0 ||
                v->shape.rank == 0)
                return errbuf_set(err, -ENOTSUP,
                                  "node '%s' (Placeholder): needs a known rank and shape", n->name);
            if (m->dynamic) {
                /* planned at load for the signature's size; other sizes get
                 * their own plans (tfjs_model_plan_input) */
                struct tfjs_shape sig;
                bool fits = signature_input_shape(root, &sig) && sig.rank == v->shape.rank;
                for (int d = 0; fits && d < sig.rank; d++)
                    fits = (m->dynamic & (1u << d)) ? sig.dims[d] > 0
                                                    : sig.dims[d] == v->shape.dims[d];
                if (!fits)
                    return errbuf_set(err, -ENOTSUP,
                                      "node '%s' (Placeholder): unknown dims and no signature "
                                      "input shape that fills them",
                                      n->name);
                v->shape = sig;
            }
            if (tfjs_dtype_parse(
                    json_string_value(json_object_get(tfjs_node_attr(jn, "dtype"), "type")),
                    &v->dtype) < 0)
                return errbuf_set(err, -ENOTSUP,
                                  "node '%s' (Placeholder): dtype is not float32 or int32",
                                  n->name);
            m->input = n->first_output;
        }
        v->bytes = tfjs_shape_size(&v->shape) * 4;
    }
    if (m->input < 0)
        return errbuf_set(err, -EBADMSG, "the graph has no Placeholder input");
    return 0;
}

static int model_find_output(struct tfjs_model *m, json_t *root, struct errbuf *err)
{
    json_t *outs = json_object_get(json_object_get(root, "signature"), "outputs");
    const char *name = "Identity";
    char buf[512];
    const char *key;
    json_t *val;

    json_object_foreach(outs, key, val)
    {
        const char *s = json_string_value(json_object_get(val, "name"));
        name = s ? s : key;
        break;
    }
    str_copy(buf, sizeof(buf), name);
    size_t len = strlen(buf);
    if (len > 2 && strcmp(buf + len - 2, ":0") == 0)
        buf[len - 2] = '\0';
    int v = tfjs_model_find(m, buf);
    if (v < 0)
        return errbuf_set(err, -EBADMSG, "output '%s' names no node", name);
    m->output = v;
    return 0;
}

int tfjs_model_load(const char *json_path, const struct tfjs_options *options,
                    struct tfjs_model **ret_model, struct errbuf *err)
{
    struct tfjs_model *m = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    _cleanup_free_ struct tfjs_weight *weights = NULL;
    _cleanup_free_ char *dir = NULL;
    int n_weights = 0, r;

    if (access(json_path, R_OK) < 0)
        return errbuf_set(err, -errno, "%s: %s", json_path, strerror(errno));
    root = json_load_file(json_path, 0, &jerr);
    if (!root)
        return errbuf_set(err, -EBADMSG, "%s: line %d: %s", json_path, jerr.line, jerr.text);
    m = calloc(1, sizeof(*m));
    dir = strdup(json_path);
    if (!m || !dir) {
        r = errbuf_set(err, -ENOMEM, "%s: out of memory", json_path);
        goto fail;
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    json_t *jnodes = json_object_get(json_object_get(root, "modelTopology"), "node");
    if (!json_is_array(jnodes) || json_array_size(jnodes) == 0) {
        r = errbuf_set(err, -EBADMSG, "%s: modelTopology.node is missing or empty", json_path);
        goto fail;
    }
    r = model_build_nodes(m, jnodes, err);
    if (r < 0)
        goto fail;
    r = weights_load(json_object_get(root, "weightsManifest"), dir, &m->weights, &weights,
                     &n_weights, err);
    if (r < 0)
        goto fail;
    r = model_bind_consts(m, root, jnodes, weights, n_weights, err);
    if (r < 0)
        goto fail;
    r = model_find_output(m, root, err);
    if (r < 0)
        goto fail;
    m->isa = conv_isa_pick(options ? options->max_isa : POSE_ISA_BEST);
    if (m->dynamic) {
        r = tfjs_model_keep_proto(m, err);
        if (r < 0)
            goto fail;
    }
    r = tfjs_model_plan(m, options, err);
    if (r < 0)
        goto fail;
    json_decref(root);
    *ret_model = m;
    return 0;
fail:
    json_decref(root);
    tfjs_model_free(m);
    return r;
}

struct tfjs_model *tfjs_model_free(struct tfjs_model *m)
{
    if (!m)
        return NULL;
    for (int i = 0; m->nodes && i < m->n_nodes; i++) {
        if (!m->parent) {
            free(m->nodes[i].name);
            free(m->nodes[i].packed);
        }
        free(m->nodes[i].inputs);
    }
    for (int i = 0; m->proto_nodes && i < m->n_nodes; i++)
        free(m->proto_nodes[i].inputs);
    for (int i = 0; i < m->n_folded; i++)
        free(m->folded[i]);
    free(m->folded);
    free(m->nodes);
    free(m->values);
    free(m->proto_nodes);
    free(m->proto_values);
    if (!m->parent) {
        free(m->sorted);
        free(m->weights);
    }
    free(m->order);
    free(m);
    return NULL;
}
