/* tfjs: load a TensorFlow.js graph model, plan it once, run it without
 * allocating. See tfjs.h for the contract and docs/POSE.md for the ops. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "conv.h"
#include "tfjs.h"

enum tfjs_op {
    TFJS_OP_CONST,
    TFJS_OP_PLACEHOLDER,
    TFJS_OP_IDENTITY,
    TFJS_OP_CAST,
    TFJS_OP_ADD,
    TFJS_OP_SUB,
    TFJS_OP_MUL,
    TFJS_OP_REALDIV,
    TFJS_OP_FLOORDIV,
    TFJS_OP_SQDIFF,
    TFJS_OP_MAXIMUM,
    TFJS_OP_MINIMUM,
    TFJS_OP_SQRT,
    TFJS_OP_SIGMOID,
    TFJS_OP_RELU,
    TFJS_OP_RELU6,
    TFJS_OP_CONV2D,
    TFJS_OP_DEPTHWISE,
    TFJS_OP_RESIZE_BILINEAR,
    TFJS_OP_RESHAPE,
    TFJS_OP_EXPAND_DIMS,
    TFJS_OP_SQUEEZE,
    TFJS_OP_UNPACK,
    TFJS_OP_PACK,
    TFJS_OP_CONCAT,
    TFJS_OP_ARGMAX,
    TFJS_OP_GATHER_ND,
};

static const struct {
    const char *name;
    enum tfjs_op op;
} tfjs_ops[] = {
    {"Const", TFJS_OP_CONST},
    {"Placeholder", TFJS_OP_PLACEHOLDER},
    {"Identity", TFJS_OP_IDENTITY},
    {"Cast", TFJS_OP_CAST},
    {"Add", TFJS_OP_ADD},
    {"AddV2", TFJS_OP_ADD},
    {"Sub", TFJS_OP_SUB},
    {"Mul", TFJS_OP_MUL},
    {"RealDiv", TFJS_OP_REALDIV},
    {"FloorDiv", TFJS_OP_FLOORDIV},
    {"SquaredDifference", TFJS_OP_SQDIFF},
    {"Maximum", TFJS_OP_MAXIMUM},
    {"Minimum", TFJS_OP_MINIMUM},
    {"Sqrt", TFJS_OP_SQRT},
    {"Sigmoid", TFJS_OP_SIGMOID},
    {"Relu", TFJS_OP_RELU},
    {"Relu6", TFJS_OP_RELU6},
    {"Conv2D", TFJS_OP_CONV2D},
    {"_FusedConv2D", TFJS_OP_CONV2D},
    {"DepthwiseConv2dNative", TFJS_OP_DEPTHWISE},
    {"FusedDepthwiseConv2dNative", TFJS_OP_DEPTHWISE},
    {"ResizeBilinear", TFJS_OP_RESIZE_BILINEAR},
    {"Reshape", TFJS_OP_RESHAPE},
    {"ExpandDims", TFJS_OP_EXPAND_DIMS},
    {"Squeeze", TFJS_OP_SQUEEZE},
    {"Unpack", TFJS_OP_UNPACK},
    {"Pack", TFJS_OP_PACK},
    {"ConcatV2", TFJS_OP_CONCAT},
    {"ArgMax", TFJS_OP_ARGMAX},
    {"GatherNd", TFJS_OP_GATHER_ND},
};

struct tfjs_node {
    char *name;
    const char *op_name;
    enum tfjs_op op;
    int n_inputs;
    int *inputs; /* value indices; room for one more (a fused residual) */
    int first_output, n_outputs;
    int step; /* position in the run order, -1 when not run */
    bool folded;
    /* attributes, per op */
    bool same;
    int stride_h, stride_w;
    bool has_bias;
    enum conv_act act;
    int residual;   /* value added by a fused AddV2, or -1 */
    float *packed;  /* the filter packed for the AVX-512 GEMM, or NULL */
    int fused_dw;   /* Conv2D: the depthwise node it computes block by block, or -1 */
    int fused_into; /* depthwise: the Conv2D that computes it, or -1 */
    struct conv_geom geom;
    int oc;
    bool align_corners, half_pixel_centers;
    int axis, num;
    unsigned squeeze_mask;
    enum tfjs_dtype dst;
};

struct tfjs_value {
    int node;
    struct tfjs_shape shape;
    enum tfjs_dtype dtype;
    size_t bytes;
    void *const_data; /* weights or a folded result */
    int root;         /* the value whose buffer this one shares */
    int last_use;
    int consumers;
    size_t off_reuse, off_all;
};

struct tfjs_model {
    int n_nodes;
    struct tfjs_node *nodes;
    int n_values;
    struct tfjs_value *values;
    int *sorted; /* node indices sorted by name, for lookups */
    int n_steps;
    int *order; /* node indices to run, in order */
    int input, output;
    float *weights; /* every weight, dequantised, one allocation */
    int n_folded;
    void **folded;
    size_t scratch_floats;
    size_t arena_reuse, arena_all;
    double flops_dense, flops_depthwise;
    int fused_adds;
    int fused_depthwise;
};

struct tfjs_context {
    const struct tfjs_model *model;
    void *arena;
    float *scratch;
    void **ptr; /* per value */
    bool keep_all;
};

#define TFJS_ALIGN 64

static size_t align_up(size_t n)
{
    return (n + TFJS_ALIGN - 1) & ~(size_t)(TFJS_ALIGN - 1);
}

size_t tfjs_shape_size(const struct tfjs_shape *shape)
{
    size_t n = 1;

    for (int i = 0; i < shape->rank; i++)
        n *= (size_t)shape->dims[i];
    return n;
}

static void shape_format(char *buf, size_t size, const struct tfjs_shape *s)
{
    size_t used = 0;

    used += snprintf(buf + used, size - used, "[");
    for (int i = 0; i < s->rank && used < size; i++)
        used += snprintf(buf + used, size - used, "%s%d", i ? "," : "", s->dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static bool shape_equal(const struct tfjs_shape *a, const struct tfjs_shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

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

static json_t *node_attr(json_t *node, const char *name)
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
static int attr_string(json_t *node, const char *name, char *buf, size_t size)
{
    json_t *a = node_attr(node, name);

    buf[0] = '\0';
    if (!a)
        return 0;
    json_t *s = json_object_get(a, "s");
    if (!json_is_string(s))
        return -EBADMSG;
    return b64_decode(buf, size, json_string_value(s));
}

static int attr_int(json_t *node, const char *name, long long def, long long *ret)
{
    json_t *a = node_attr(node, name);

    if (!a) {
        *ret = def;
        return 0;
    }
    return json_int(json_object_get(a, "i"), ret);
}

static bool attr_bool(json_t *node, const char *name)
{
    return json_is_true(json_object_get(node_attr(node, name), "b"));
}

/* attr {"list": {"i": [...]}} into out[]; returns the count or a negative errno. */
static int attr_int_list(json_t *node, const char *name, long long *out, int max)
{
    json_t *list = json_object_get(json_object_get(node_attr(node, name), "list"), "i");
    size_t i;
    json_t *v;

    if (!list)
        return 0;
    if (!json_is_array(list) || (int)json_array_size(list) > max)
        return -EBADMSG;
    json_array_foreach(list, i, v) if (json_int(v, &out[i]) < 0) return -EBADMSG;
    return (int)json_array_size(list);
}

static int dtype_parse(const char *text, enum tfjs_dtype *ret)
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
    return -ENOTSUP;
}

static const char *dtype_name(enum tfjs_dtype d)
{
    return d == TFJS_FLOAT32 ? "float32" : "int32";
}

/* A shape in TensorFlow's JSON: {"dim": [{"size": "1"}, ...]}; no dim = scalar. */
static int tensor_shape_parse(json_t *shape, struct tfjs_shape *ret)
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
        if (n < 0 || n > (1 << 24))
            return -ERANGE;
        s.dims[s.rank++] = (int)n;
    }
    *ret = s;
    return 0;
}

/* ---- weights ----------------------------------------------------------------- */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    float f;

    if (exp == 0) {
        /* zero or subnormal: man * 2^-24 */
        f = (float)man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (man << 13);
    else
        bits = sign | ((exp + 112) << 23) | (man << 13);
    memcpy(&f, &bits, sizeof(f));
    return f;
}

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
    r = dtype_parse(json_string_value(json_object_get(w, "dtype")), &out.dtype);
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
            total += align_up(tfjs_shape_size(&spec.shape) * 4);
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
                    spec.data[e] = half_to_float(h);
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
            woff += align_up(n * 4);
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

static int const_scalar_int(const struct tfjs_model *m, int v, const struct tfjs_node *n,
                            const char *what, long long *ret, struct errbuf *err)
{
    const struct tfjs_value *val = &m->values[v];

    if (!val->const_data || val->dtype != TFJS_INT32 || tfjs_shape_size(&val->shape) != 1)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): %s must be a constant int32 scalar",
                          n->name, n->op_name, what);
    *ret = *(const int32_t *)val->const_data;
    return 0;
}

/* numpy-style broadcasting of two shapes */
static int broadcast_shape(const struct tfjs_shape *a, const struct tfjs_shape *b,
                           struct tfjs_shape *ret)
{
    struct tfjs_shape s = {0};

    s.rank = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < s.rank; i++) {
        int da = i - (s.rank - a->rank) >= 0 ? a->dims[i - (s.rank - a->rank)] : 1;
        int db = i - (s.rank - b->rank) >= 0 ? b->dims[i - (s.rank - b->rank)] : 1;
        if (da != db && da != 1 && db != 1)
            return -EINVAL;
        s.dims[i] = da == 1 ? db : da;
    }
    *ret = s;
    return 0;
}

/* Parses the attributes of one node and checks what the runner supports. */
static int node_parse_attrs(struct tfjs_node *n, json_t *jn, struct errbuf *err)
{
    char text[128];
    long long list[8], x;
    int count;

    n->residual = -1;
    n->fused_dw = -1;
    n->fused_into = -1;
    switch (n->op) {
    case TFJS_OP_CONV2D:
    case TFJS_OP_DEPTHWISE: {
        if (attr_string(jn, "padding", text, sizeof(text)) < 0)
            goto bad;
        if (strcmp(text, "SAME") == 0)
            n->same = true;
        else if (strcmp(text, "VALID") != 0)
            return errbuf_set(err, -ENOTSUP, "node '%s' (%s): padding '%s' is not supported",
                              n->name, n->op_name, text);
        if (attr_string(jn, "data_format", text, sizeof(text)) < 0)
            goto bad;
        if (text[0] && strcmp(text, "NHWC") != 0)
            return errbuf_set(err, -ENOTSUP, "node '%s' (%s): data_format '%s' is not supported",
                              n->name, n->op_name, text);
        count = attr_int_list(jn, "strides", list, 8);
        if (count != 4 || list[0] != 1 || list[3] != 1 || list[1] < 1 || list[2] < 1 ||
            list[1] > 64 || list[2] > 64)
            return errbuf_set(err, -ENOTSUP, "node '%s' (%s): strides must be [1,s,s,1]", n->name,
                              n->op_name);
        n->stride_h = (int)list[1];
        n->stride_w = (int)list[2];
        count = attr_int_list(jn, "dilations", list, 8);
        if (count < 0)
            goto bad;
        for (int i = 0; i < count; i++)
            if (list[i] != 1)
                return errbuf_set(err, -ENOTSUP, "node '%s' (%s): dilations are not supported",
                                  n->name, n->op_name);
        json_t *fused = json_object_get(json_object_get(node_attr(jn, "fused_ops"), "list"), "s");
        size_t i;
        json_t *f;
        json_array_foreach(fused, i, f)
        {
            if (!json_is_string(f) || b64_decode(text, sizeof(text), json_string_value(f)) < 0)
                goto bad;
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
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): expected %d inputs, found %d",
                              n->name, n->op_name, 2 + (n->has_bias ? 1 : 0), n->n_inputs);
        return 0;
    }
    case TFJS_OP_RESIZE_BILINEAR:
        n->align_corners = attr_bool(jn, "align_corners");
        n->half_pixel_centers = attr_bool(jn, "half_pixel_centers");
        return 0;
    case TFJS_OP_CAST:
        if (dtype_parse(json_string_value(json_object_get(node_attr(jn, "DstT"), "type")),
                        &n->dst) < 0)
            return errbuf_set(err, -ENOTSUP, "node '%s' (Cast): DstT is not float32 or int32",
                              n->name);
        return 0;
    case TFJS_OP_UNPACK:
        if (attr_int(jn, "num", -1, &x) < 0 || x < 1 || x > 4096)
            goto bad;
        n->num = (int)x;
        if (attr_int(jn, "axis", 0, &x) < 0 || x < -TFJS_MAX_DIMS || x >= TFJS_MAX_DIMS)
            goto bad;
        n->axis = (int)x;
        return 0;
    case TFJS_OP_PACK:
        if (attr_int(jn, "axis", 0, &x) < 0 || x < -TFJS_MAX_DIMS || x > TFJS_MAX_DIMS)
            goto bad;
        n->axis = (int)x;
        return 0;
    case TFJS_OP_SQUEEZE:
        count = attr_int_list(jn, "squeeze_dims", list, 8);
        if (count < 0)
            goto bad;
        for (int i = 0; i < count; i++) {
            if (list[i] < -TFJS_MAX_DIMS || list[i] >= TFJS_MAX_DIMS)
                goto bad;
            n->squeeze_mask |= 1u << ((list[i] + 2 * TFJS_MAX_DIMS) % (2 * TFJS_MAX_DIMS));
        }
        return 0;
    default:
        return 0;
    }
bad:
    return errbuf_set(err, -EBADMSG, "node '%s' (%s): malformed attributes", n->name, n->op_name);
}

/* Infers the output shapes of node n from its inputs (tfjs semantics). */
static int node_infer(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    struct tfjs_value *out = &m->values[n->first_output];
    struct tfjs_value *in0 = n->n_inputs > 0 ? &m->values[n->inputs[0]] : NULL;
    char sa[64], sb[64];
    int arity = -1;

    switch (n->op) {
    case TFJS_OP_IDENTITY:
    case TFJS_OP_SQRT:
    case TFJS_OP_SIGMOID:
    case TFJS_OP_RELU:
    case TFJS_OP_RELU6:
    case TFJS_OP_CAST:
        arity = 1;
        break;
    case TFJS_OP_ADD:
    case TFJS_OP_SUB:
    case TFJS_OP_MUL:
    case TFJS_OP_REALDIV:
    case TFJS_OP_FLOORDIV:
    case TFJS_OP_SQDIFF:
    case TFJS_OP_MAXIMUM:
    case TFJS_OP_MINIMUM:
    case TFJS_OP_RESIZE_BILINEAR:
    case TFJS_OP_RESHAPE:
    case TFJS_OP_EXPAND_DIMS:
    case TFJS_OP_ARGMAX:
    case TFJS_OP_GATHER_ND:
        arity = 2;
        break;
    default:
        break;
    }
    if (arity >= 0 && n->n_inputs != arity)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): expected %d inputs, found %d", n->name,
                          n->op_name, arity, n->n_inputs);
    if ((n->op == TFJS_OP_UNPACK || n->op == TFJS_OP_SQUEEZE) && n->n_inputs != 1)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): expected 1 input", n->name, n->op_name);
    if ((n->op == TFJS_OP_PACK || n->op == TFJS_OP_CONCAT) &&
        n->n_inputs < 1 + (n->op == TFJS_OP_CONCAT))
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): too few inputs", n->name, n->op_name);

    switch (n->op) {
    case TFJS_OP_CONST:
    case TFJS_OP_PLACEHOLDER:
        return 0; /* set at load */
    case TFJS_OP_IDENTITY:
    case TFJS_OP_RELU:
    case TFJS_OP_RELU6:
    case TFJS_OP_SQRT:
    case TFJS_OP_SIGMOID:
        out->shape = in0->shape;
        out->dtype = in0->dtype;
        if (n->op != TFJS_OP_IDENTITY && in0->dtype != TFJS_FLOAT32)
            return errbuf_set(err, -ENOTSUP, "node '%s' (%s): int32 input is not supported",
                              n->name, n->op_name);
        return 0;
    case TFJS_OP_CAST:
        out->shape = in0->shape;
        out->dtype = n->dst;
        return 0;
    case TFJS_OP_ADD:
    case TFJS_OP_SUB:
    case TFJS_OP_MUL:
    case TFJS_OP_REALDIV:
    case TFJS_OP_FLOORDIV:
    case TFJS_OP_SQDIFF:
    case TFJS_OP_MAXIMUM:
    case TFJS_OP_MINIMUM: {
        struct tfjs_value *in1 = &m->values[n->inputs[1]];
        if (in0->dtype != in1->dtype)
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): inputs are %s and %s", n->name,
                              n->op_name, dtype_name(in0->dtype), dtype_name(in1->dtype));
        if (broadcast_shape(&in0->shape, &in1->shape, &out->shape) < 0) {
            shape_format(sa, sizeof(sa), &in0->shape);
            shape_format(sb, sizeof(sb), &in1->shape);
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): shapes %s and %s do not broadcast",
                              n->name, n->op_name, sa, sb);
        }
        out->dtype = in0->dtype;
        if (n->op == TFJS_OP_SQDIFF && in0->dtype != TFJS_FLOAT32)
            return errbuf_set(err, -ENOTSUP, "node '%s' (%s): int32 is not supported", n->name,
                              n->op_name);
        return 0;
    }
    case TFJS_OP_CONV2D:
    case TFJS_OP_DEPTHWISE: {
        struct tfjs_value *f = &m->values[n->inputs[1]];
        bool dw = n->op == TFJS_OP_DEPTHWISE;
        if (in0->shape.rank != 4 || in0->shape.dims[0] != 1 || in0->dtype != TFJS_FLOAT32) {
            shape_format(sa, sizeof(sa), &in0->shape);
            return errbuf_set(err, -ENOTSUP, "node '%s' (%s): input %s is not float32 [1,H,W,C]",
                              n->name, n->op_name, sa);
        }
        if (!f->const_data || f->shape.rank != 4 || f->dtype != TFJS_FLOAT32 ||
            f->shape.dims[2] != in0->shape.dims[3] || (dw && f->shape.dims[3] != 1) ||
            f->shape.dims[0] < 1 || f->shape.dims[1] < 1) {
            shape_format(sa, sizeof(sa), &f->shape);
            shape_format(sb, sizeof(sb), &in0->shape);
            return errbuf_set(
                err, -EBADMSG, "node '%s' (%s): filter %s does not fit input %s (%s expected)",
                n->name, n->op_name, sa, sb, dw ? "constant [KH,KW,C,1]" : "constant [KH,KW,C,O]");
        }
        n->oc = dw ? in0->shape.dims[3] : f->shape.dims[3];
        if (n->has_bias) {
            struct tfjs_value *b = &m->values[n->inputs[2]];
            if (!b->const_data || b->dtype != TFJS_FLOAT32 ||
                tfjs_shape_size(&b->shape) != (size_t)n->oc) {
                shape_format(sa, sizeof(sa), &b->shape);
                return errbuf_set(err, -EBADMSG, "node '%s' (%s): bias %s, expected [%d]", n->name,
                                  n->op_name, sa, n->oc);
            }
        }
        struct conv_geom *g = &n->geom;
        g->h = in0->shape.dims[1];
        g->w = in0->shape.dims[2];
        g->c = in0->shape.dims[3];
        g->kh = f->shape.dims[0];
        g->kw = f->shape.dims[1];
        g->stride_h = n->stride_h;
        g->stride_w = n->stride_w;
        if (!n->same && (g->h < g->kh || g->w < g->kw))
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): window larger than the input",
                              n->name, n->op_name);
        conv_geom_pad(g, n->same);
        out->shape = (struct tfjs_shape){4, {1, g->oh, g->ow, n->oc}};
        out->dtype = TFJS_FLOAT32;
        double taps = (double)g->oh * g->ow * g->kh * g->kw;
        if (dw)
            m->flops_depthwise += 2.0 * taps * g->c;
        else
            m->flops_dense += 2.0 * taps * g->c * n->oc;
        return 0;
    }
    case TFJS_OP_RESIZE_BILINEAR: {
        struct tfjs_value *size = &m->values[n->inputs[1]];
        if (in0->shape.rank != 4 || in0->shape.dims[0] != 1 || in0->dtype != TFJS_FLOAT32 ||
            !size->const_data || size->dtype != TFJS_INT32 || tfjs_shape_size(&size->shape) != 2)
            return errbuf_set(err, -ENOTSUP,
                              "node '%s' (%s): needs a float32 [1,H,W,C] image and a constant "
                              "int32 size [2]",
                              n->name, n->op_name);
        const int32_t *sz = size->const_data;
        if (sz[0] < 1 || sz[1] < 1 || sz[0] > 16384 || sz[1] > 16384)
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): size %dx%d", n->name, n->op_name,
                              sz[0], sz[1]);
        out->shape = (struct tfjs_shape){4, {1, sz[0], sz[1], in0->shape.dims[3]}};
        out->dtype = TFJS_FLOAT32;
        return 0;
    }
    case TFJS_OP_RESHAPE: {
        struct tfjs_value *sv = &m->values[n->inputs[1]];
        size_t total = tfjs_shape_size(&in0->shape), known = 1;
        int infer = -1;
        if (!sv->const_data || sv->dtype != TFJS_INT32 || sv->shape.rank > 1 ||
            tfjs_shape_size(&sv->shape) > TFJS_MAX_DIMS)
            return errbuf_set(err, -ENOTSUP,
                              "node '%s' (%s): shape must be a constant int32 vector", n->name,
                              n->op_name);
        const int32_t *d = sv->const_data;
        struct tfjs_shape s = {.rank = (int)tfjs_shape_size(&sv->shape)};
        for (int i = 0; i < s.rank; i++) {
            if (d[i] == -1 && infer < 0) {
                infer = i;
                continue;
            }
            if (d[i] < 0)
                goto reshape_bad;
            s.dims[i] = d[i];
            known *= (size_t)d[i];
        }
        if (infer >= 0) {
            if (known == 0 || total % known)
                goto reshape_bad;
            s.dims[infer] = (int)(total / known);
            known *= (size_t)s.dims[infer];
        }
        if (known != total)
            goto reshape_bad;
        out->shape = s;
        out->dtype = in0->dtype;
        return 0;
    reshape_bad:
        shape_format(sa, sizeof(sa), &in0->shape);
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): cannot reshape %s as requested", n->name,
                          n->op_name, sa);
    }
    case TFJS_OP_EXPAND_DIMS: {
        long long dim;
        int r = const_scalar_int(m, n->inputs[1], n, "dim", &dim, err);
        if (r < 0)
            return r;
        if (dim < 0)
            dim += in0->shape.rank + 1;
        if (dim < 0 || dim > in0->shape.rank || in0->shape.rank >= TFJS_MAX_DIMS)
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): dim out of range", n->name,
                              n->op_name);
        struct tfjs_shape s = {.rank = in0->shape.rank + 1};
        for (int i = 0, j = 0; i < s.rank; i++)
            s.dims[i] = i == dim ? 1 : in0->shape.dims[j++];
        out->shape = s;
        out->dtype = in0->dtype;
        return 0;
    }
    case TFJS_OP_SQUEEZE: {
        struct tfjs_shape s = {0};
        for (int i = 0; i < in0->shape.rank; i++) {
            bool listed = n->squeeze_mask & (1u << i) ||
                          n->squeeze_mask & (1u << (i - in0->shape.rank + 2 * TFJS_MAX_DIMS));
            if (n->squeeze_mask ? listed : in0->shape.dims[i] == 1) {
                if (in0->shape.dims[i] != 1)
                    return errbuf_set(err, -EBADMSG, "node '%s' (%s): dimension %d is not 1",
                                      n->name, n->op_name, i);
                continue;
            }
            s.dims[s.rank++] = in0->shape.dims[i];
        }
        out->shape = s;
        out->dtype = in0->dtype;
        return 0;
    }
    case TFJS_OP_UNPACK: {
        int axis = n->axis < 0 ? n->axis + in0->shape.rank : n->axis;
        if (axis < 0 || axis >= in0->shape.rank || in0->shape.dims[axis] != n->num)
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): num %d does not match the input",
                              n->name, n->op_name, n->num);
        n->axis = axis;
        for (int k = 0; k < n->num; k++) {
            struct tfjs_value *o = &m->values[n->first_output + k];
            o->shape.rank = 0;
            for (int i = 0; i < in0->shape.rank; i++)
                if (i != axis)
                    o->shape.dims[o->shape.rank++] = in0->shape.dims[i];
            o->dtype = in0->dtype;
        }
        return 0;
    }
    case TFJS_OP_PACK:
    case TFJS_OP_CONCAT: {
        bool pack = n->op == TFJS_OP_PACK;
        int parts = pack ? n->n_inputs : n->n_inputs - 1;
        long long axis;
        if (pack) {
            axis = n->axis;
            if (axis < 0)
                axis += in0->shape.rank + 1;
            if (axis < 0 || axis > in0->shape.rank || in0->shape.rank >= TFJS_MAX_DIMS)
                goto pack_bad;
        } else {
            int r = const_scalar_int(m, n->inputs[n->n_inputs - 1], n, "axis", &axis, err);
            if (r < 0)
                return r;
            if (axis < 0)
                axis += in0->shape.rank;
            if (axis < 0 || axis >= in0->shape.rank)
                goto pack_bad;
        }
        n->axis = (int)axis;
        struct tfjs_shape s = in0->shape;
        int along = 0;
        for (int k = 0; k < parts; k++) {
            struct tfjs_value *v = &m->values[n->inputs[k]];
            if (v->dtype != in0->dtype || v->shape.rank != in0->shape.rank)
                goto pack_bad;
            for (int i = 0; i < s.rank; i++)
                if (v->shape.dims[i] != in0->shape.dims[i] && (pack || i != axis))
                    goto pack_bad;
            along += pack ? 1 : v->shape.dims[axis];
        }
        if (pack) {
            s.rank++;
            for (int i = s.rank - 1; i > axis; i--)
                s.dims[i] = s.dims[i - 1];
        }
        s.dims[axis] = along;
        out->shape = s;
        out->dtype = in0->dtype;
        return 0;
    pack_bad:
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): inputs do not stack along axis %d",
                          n->name, n->op_name, n->axis);
    }
    case TFJS_OP_ARGMAX: {
        long long axis;
        int r = const_scalar_int(m, n->inputs[1], n, "dimension", &axis, err);
        if (r < 0)
            return r;
        if (axis < 0)
            axis += in0->shape.rank;
        if (axis < 0 || axis >= in0->shape.rank || in0->dtype != TFJS_FLOAT32)
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): bad dimension or dtype", n->name,
                              n->op_name);
        n->axis = (int)axis;
        out->shape.rank = 0;
        for (int i = 0; i < in0->shape.rank; i++)
            if (i != axis)
                out->shape.dims[out->shape.rank++] = in0->shape.dims[i];
        out->dtype = TFJS_INT32;
        return 0;
    }
    case TFJS_OP_GATHER_ND: {
        struct tfjs_value *idx = &m->values[n->inputs[1]];
        int d = idx->shape.rank ? idx->shape.dims[idx->shape.rank - 1] : 0;
        if (idx->dtype != TFJS_INT32 || idx->shape.rank < 1 || d < 1 || d > in0->shape.rank ||
            idx->shape.rank - 1 + in0->shape.rank - d > TFJS_MAX_DIMS) {
            shape_format(sa, sizeof(sa), &in0->shape);
            shape_format(sb, sizeof(sb), &idx->shape);
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): indices %s do not fit params %s",
                              n->name, n->op_name, sb, sa);
        }
        out->shape.rank = 0;
        for (int i = 0; i < idx->shape.rank - 1; i++)
            out->shape.dims[out->shape.rank++] = idx->shape.dims[i];
        for (int i = d; i < in0->shape.rank; i++)
            out->shape.dims[out->shape.rank++] = in0->shape.dims[i];
        out->dtype = in0->dtype;
        return 0;
    }
    }
    return errbuf_set(err, -ENOTSUP, "node '%s': op '%s' has no shape rule", n->name, n->op_name);
}

/* ---- kernels of the small ops ------------------------------------------------ */

/* The project builds with -O2, where GCC only vectorises loops it needs no
 * remainder for; these element-wise loops (the input normalisation and the
 * keypoint decoding run them over 40-110 thousand elements a frame) are
 * compiled with the full cost model, and without errno for sqrtf, so that
 * they use the vector units. Nothing here reads or sets errno. */
#pragma GCC push_options
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", "no-math-errno")

/* Strides of a (broadcast) input against the output's dims: 0 where it repeats. */
static void broadcast_strides(const struct tfjs_shape *in, const struct tfjs_shape *out,
                              size_t *strides)
{
    size_t s = 1;

    for (int i = out->rank - 1; i >= 0; i--) {
        int j = i - (out->rank - in->rank);
        int d = j >= 0 ? in->dims[j] : 1;
        strides[i] = d == 1 ? 0 : s;
        s *= (size_t)d;
    }
}

static inline float binary_f32(enum tfjs_op op, float a, float b)
{
    switch (op) {
    case TFJS_OP_ADD:
        return a + b;
    case TFJS_OP_SUB:
        return a - b;
    case TFJS_OP_MUL:
        return a * b;
    case TFJS_OP_REALDIV:
        return a / b;
    case TFJS_OP_FLOORDIV:
        return floorf(a / b);
    case TFJS_OP_SQDIFF:
        return (a - b) * (a - b);
    case TFJS_OP_MAXIMUM:
        return a > b ? a : b;
    default:
        return a < b ? a : b;
    }
}

static int32_t binary_i32(enum tfjs_op op, int32_t a, int32_t b)
{
    switch (op) {
    case TFJS_OP_ADD:
        return (int32_t)((uint32_t)a + (uint32_t)b);
    case TFJS_OP_SUB:
        return (int32_t)((uint32_t)a - (uint32_t)b);
    case TFJS_OP_MUL:
        return (int32_t)((uint32_t)a * (uint32_t)b);
    case TFJS_OP_REALDIV:
    case TFJS_OP_FLOORDIV: {
        if (b == 0 || (a == INT32_MIN && b == -1))
            return 0;
        int32_t q = a / b;
        if (op == TFJS_OP_FLOORDIV && (a % b != 0) && ((a < 0) != (b < 0)))
            q--;
        return q;
    }
    case TFJS_OP_MAXIMUM:
        return a > b ? a : b;
    default:
        return a < b ? a : b;
    }
}

/* o[i] = a[i] OP b[i % nb] (or a[i % na] OP b[i]) over n elements; the
 * switch stays outside the loops so that each loop vectorises. */
#define BINARY_LOOP(EXPR)                                                                          \
    if (period == 1 && a_rep) {                                                                    \
        float x = a[0];                                                                            \
        for (size_t i = 0; i < n; i++) {                                                           \
            float y = b[i];                                                                        \
            o[i] = (EXPR);                                                                         \
        }                                                                                          \
    } else if (period == 1) {                                                                      \
        float y = b[0];                                                                            \
        for (size_t i = 0; i < n; i++) {                                                           \
            float x = a[i];                                                                        \
            o[i] = (EXPR);                                                                         \
        }                                                                                          \
    } else if (a_rep) {                                                                            \
        for (size_t i0 = 0; i0 < n; i0 += period)                                                  \
            for (size_t j = 0; j < period; j++) {                                                  \
                float x = a[j], y = b[i0 + j];                                                     \
                o[i0 + j] = (EXPR);                                                                \
            }                                                                                      \
    } else {                                                                                       \
        for (size_t i0 = 0; i0 < n; i0 += period)                                                  \
            for (size_t j = 0; j < period; j++) {                                                  \
                float x = a[i0 + j], y = b[j];                                                     \
                o[i0 + j] = (EXPR);                                                                \
            }                                                                                      \
    }

static void binary_f32_repeat(enum tfjs_op op, float *o, const float *a, const float *b, size_t n,
                              size_t period, bool a_rep)
{
    /* a short period (a per-channel constant of an RGB image, a scalar):
     * repeat it to 16 periods so that the loops run long and vectorise */
    float tiled[16 * 64];
    if (period > 1 && period < 64 && n % (period * 16) == 0) {
        const float *src = a_rep ? a : b;
        for (size_t i = 0; i < period * 16; i++)
            tiled[i] = src[i % period];
        if (a_rep)
            a = tiled;
        else
            b = tiled;
        period *= 16;
    }
    switch (op) {
    case TFJS_OP_ADD:
        BINARY_LOOP(x + y);
        break;
    case TFJS_OP_SUB:
        BINARY_LOOP(x - y);
        break;
    case TFJS_OP_MUL:
        BINARY_LOOP(x * y);
        break;
    case TFJS_OP_REALDIV:
        BINARY_LOOP(x / y);
        break;
    case TFJS_OP_SQDIFF:
        BINARY_LOOP((x - y) * (x - y));
        break;
    default:
        BINARY_LOOP(binary_f32(op, x, y));
        break;
    }
}

/* Whether small (right-aligned against out) is out's trailing dims with only
 * 1s before them, so that it repeats with period size(small). */
static bool repeats_trailing(const struct tfjs_shape *small, const struct tfjs_shape *out)
{
    int lead = 0;

    while (lead < small->rank && small->dims[lead] == 1)
        lead++;
    for (int i = lead; i < small->rank; i++)
        if (small->dims[i] != out->dims[out->rank - small->rank + i])
            return false;
    return true;
}

static void exec_binary(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr)
{
    const struct tfjs_value *va = &m->values[n->inputs[0]], *vb = &m->values[n->inputs[1]];
    const struct tfjs_value *vo = &m->values[n->first_output];
    size_t total = tfjs_shape_size(&vo->shape);
    size_t sa[TFJS_MAX_DIMS], sb[TFJS_MAX_DIMS];
    int idx[TFJS_MAX_DIMS] = {0};
    bool f32 = vo->dtype == TFJS_FLOAT32;
    const void *a = ptr[n->inputs[0]], *b = ptr[n->inputs[1]];
    void *o = ptr[n->first_output];

    if (f32) {
        size_t na = tfjs_shape_size(&va->shape), nb = tfjs_shape_size(&vb->shape);
        if (na == total && nb > 0 && repeats_trailing(&vb->shape, &vo->shape)) {
            binary_f32_repeat(n->op, o, a, b, total, nb, false);
            return;
        }
        if (nb == total && na > 0 && repeats_trailing(&va->shape, &vo->shape)) {
            binary_f32_repeat(n->op, o, a, b, total, na, true);
            return;
        }
    }
    broadcast_strides(&va->shape, &vo->shape, sa);
    broadcast_strides(&vb->shape, &vo->shape, sb);
    /* the last dimension as a strided loop, the others as an odometer */
    int rank = vo->shape.rank;
    size_t inner = rank ? (size_t)vo->shape.dims[rank - 1] : 1;
    size_t sa_in = rank ? sa[rank - 1] : 0, sb_in = rank ? sb[rank - 1] : 0;
    size_t ia = 0, ib = 0;
    for (size_t i0 = 0; i0 < total; i0 += inner) {
        if (f32 && (sa_in == 1 || sb_in == 1)) {
            /* a row against a row or a scalar: the vectorised loops */
            const float *fa = (const float *)a + ia, *fb = (const float *)b + ib;
            binary_f32_repeat(n->op, (float *)o + i0, fa, fb, inner, sa_in && sb_in ? inner : 1,
                              sa_in == 0);
        } else if (f32) {
            const float *fa = (const float *)a + ia, *fb = (const float *)b + ib;
            for (size_t j = 0; j < inner; j++)
                ((float *)o)[i0 + j] = binary_f32(n->op, fa[j * sa_in], fb[j * sb_in]);
        } else {
            const int32_t *xa = (const int32_t *)a + ia, *xb = (const int32_t *)b + ib;
            for (size_t j = 0; j < inner; j++)
                ((int32_t *)o)[i0 + j] = binary_i32(n->op, xa[j * sa_in], xb[j * sb_in]);
        }
        for (int d = rank - 2; d >= 0; d--) {
            ia += sa[d];
            ib += sb[d];
            if (++idx[d] < vo->shape.dims[d])
                break;
            ia -= sa[d] * (size_t)vo->shape.dims[d];
            ib -= sb[d] * (size_t)vo->shape.dims[d];
            idx[d] = 0;
        }
    }
}

/* Products of the dims before and after axis. */
static void split_at(const struct tfjs_shape *s, int axis, size_t *ret_outer, size_t *ret_inner)
{
    size_t outer = 1, inner = 1;

    for (int i = 0; i < axis; i++)
        outer *= (size_t)s->dims[i];
    for (int i = axis + 1; i < s->rank; i++)
        inner *= (size_t)s->dims[i];
    *ret_outer = outer;
    *ret_inner = inner;
}

static void exec_node(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                      float *scratch, bool fuse)
{
    const struct tfjs_value *in0 = n->n_inputs ? &m->values[n->inputs[0]] : NULL;
    const struct tfjs_value *out = &m->values[n->first_output];
    void *o = ptr[n->first_output];
    const void *a = n->n_inputs ? ptr[n->inputs[0]] : NULL;
    size_t total = tfjs_shape_size(&out->shape);

    switch (n->op) {
    case TFJS_OP_CONST:
    case TFJS_OP_PLACEHOLDER:
        return;
    case TFJS_OP_IDENTITY:
    case TFJS_OP_RESHAPE:
    case TFJS_OP_EXPAND_DIMS:
    case TFJS_OP_SQUEEZE:
        if (o != a)
            memcpy(o, a, total * 4);
        return;
    case TFJS_OP_CAST:
        if (in0->dtype == n->dst) {
            if (o != a)
                memcpy(o, a, total * 4);
        } else if (n->dst == TFJS_FLOAT32) {
            for (size_t i = 0; i < total; i++)
                ((float *)o)[i] = (float)((const int32_t *)a)[i];
        } else {
            for (size_t i = 0; i < total; i++) {
                float x = ((const float *)a)[i];
                ((int32_t *)o)[i] = isfinite(x) && fabsf(x) < 2147483647.0f ? (int32_t)x : 0;
            }
        }
        return;
    case TFJS_OP_ADD:
    case TFJS_OP_SUB:
    case TFJS_OP_MUL:
    case TFJS_OP_REALDIV:
    case TFJS_OP_FLOORDIV:
    case TFJS_OP_SQDIFF:
    case TFJS_OP_MAXIMUM:
    case TFJS_OP_MINIMUM:
        exec_binary(m, n, ptr);
        return;
    case TFJS_OP_SQRT:
        for (size_t i = 0; i < total; i++)
            ((float *)o)[i] = sqrtf(((const float *)a)[i]);
        return;
    case TFJS_OP_SIGMOID:
        conv_sigmoid_forward(o, a, total);
        return;
    case TFJS_OP_RELU:
    case TFJS_OP_RELU6:
        for (size_t i = 0; i < total; i++) {
            float x = ((const float *)a)[i];
            x = x > 0 ? x : 0;
            if (n->op == TFJS_OP_RELU6 && x > 6)
                x = 6;
            ((float *)o)[i] = x;
        }
        return;
    case TFJS_OP_CONV2D:
        if (fuse && n->fused_dw >= 0) {
            const struct tfjs_node *d = &m->nodes[n->fused_dw];
            conv_dw_pointwise_forward(o, scratch, ptr[d->inputs[0]], ptr[d->inputs[1]],
                                      d->has_bias ? ptr[d->inputs[2]] : NULL, &d->geom, d->act,
                                      ptr[n->inputs[1]], n->packed,
                                      n->has_bias ? ptr[n->inputs[2]] : NULL,
                                      n->residual >= 0 ? ptr[n->residual] : NULL, n->oc, n->act);
            return;
        }
        conv2d_forward(o, scratch, a, ptr[n->inputs[1]], n->packed,
                       n->has_bias ? ptr[n->inputs[2]] : NULL,
                       n->residual >= 0 ? ptr[n->residual] : NULL, &n->geom, n->oc, n->act);
        return;
    case TFJS_OP_DEPTHWISE:
        conv_depthwise_forward(o, a, ptr[n->inputs[1]], n->has_bias ? ptr[n->inputs[2]] : NULL,
                               &n->geom, n->act);
        return;
    case TFJS_OP_RESIZE_BILINEAR:
        conv_resize_bilinear_forward(o, a, in0->shape.dims[1], in0->shape.dims[2],
                                     in0->shape.dims[3], out->shape.dims[1], out->shape.dims[2],
                                     n->align_corners, n->half_pixel_centers);
        return;
    case TFJS_OP_UNPACK: {
        size_t outer, inner;
        split_at(&in0->shape, n->axis, &outer, &inner);
        for (int k = 0; k < n->num; k++) {
            char *dst = ptr[n->first_output + k];
            if ((const void *)dst == a)
                continue; /* num 1: an alias */
            for (size_t i = 0; i < outer; i++)
                memcpy(dst + i * inner * 4, (const char *)a + ((i * n->num + k) * inner) * 4,
                       inner * 4);
        }
        return;
    }
    case TFJS_OP_PACK:
    case TFJS_OP_CONCAT: {
        bool pack = n->op == TFJS_OP_PACK;
        int parts = pack ? n->n_inputs : n->n_inputs - 1;
        size_t outer, inner;
        split_at(&out->shape, n->axis, &outer, &inner);
        char *dst = o;
        for (size_t i = 0; i < outer; i++) {
            for (int k = 0; k < parts; k++) {
                const struct tfjs_value *v = &m->values[n->inputs[k]];
                size_t chunk = pack ? inner : inner * (size_t)v->shape.dims[n->axis];
                memcpy(dst, (const char *)ptr[n->inputs[k]] + i * chunk * 4, chunk * 4);
                dst += chunk * 4;
            }
        }
        return;
    }
    case TFJS_OP_ARGMAX: {
        size_t outer, inner;
        int len = in0->shape.dims[n->axis];
        const float *x = a;
        split_at(&in0->shape, n->axis, &outer, &inner);
        for (size_t i = 0; i < outer; i++) {
            for (size_t j = 0; j < inner; j++) {
                const float *p = x + i * len * inner + j;
                float best = p[0];
                int32_t arg = 0;
                for (int k = 1; k < len; k++)
                    if (p[(size_t)k * inner] > best) {
                        best = p[(size_t)k * inner];
                        arg = k;
                    }
                ((int32_t *)o)[i * inner + j] = arg;
            }
        }
        return;
    }
    case TFJS_OP_GATHER_ND: {
        const struct tfjs_value *iv = &m->values[n->inputs[1]];
        const int32_t *idx = ptr[n->inputs[1]];
        int d = iv->shape.dims[iv->shape.rank - 1];
        size_t count = tfjs_shape_size(&iv->shape) / (size_t)d;
        size_t slice = 1, strides[TFJS_MAX_DIMS];
        for (int i = d; i < in0->shape.rank; i++)
            slice *= (size_t)in0->shape.dims[i];
        size_t s = slice;
        for (int i = d - 1; i >= 0; i--) {
            strides[i] = s;
            s *= (size_t)in0->shape.dims[i];
        }
        for (size_t c = 0; c < count; c++) {
            size_t off = 0;
            bool ok = true;
            for (int i = 0; i < d; i++) {
                int32_t k = idx[c * d + i];
                if (k < 0 || k >= in0->shape.dims[i])
                    ok = false;
                else
                    off += (size_t)k * strides[i];
            }
            /* an index out of range yields zeros (TensorFlow's GPU rule) */
            if (ok)
                memcpy((char *)o + c * slice * 4, (const char *)a + off * 4, slice * 4);
            else
                memset((char *)o + c * slice * 4, 0, slice * 4);
        }
        return;
    }
    }
}

#pragma GCC pop_options

/* ---- planning ---------------------------------------------------------------- */

/* Depth-first post-order from the output; -ELOOP on a cycle. */
static int plan_visit(struct tfjs_model *m, int node, char *mark, struct errbuf *err)
{
    struct tfjs_node *n = &m->nodes[node];

    if (mark[node] == 2)
        return 0;
    if (mark[node] == 1)
        return errbuf_set(err, -EBADMSG, "node '%s': the graph has a cycle", n->name);
    mark[node] = 1;
    for (int i = 0; i < n->n_inputs; i++) {
        int r = plan_visit(m, m->values[n->inputs[i]].node, mark, err);
        if (r < 0)
            return r;
    }
    mark[node] = 2;
    m->order[m->n_steps++] = node;
    return 0;
}

static bool value_is_alias_op(const struct tfjs_node *n)
{
    return n->op == TFJS_OP_IDENTITY || n->op == TFJS_OP_RESHAPE || n->op == TFJS_OP_EXPAND_DIMS ||
           n->op == TFJS_OP_SQUEEZE || (n->op == TFJS_OP_UNPACK && n->num == 1);
}

/* Folds a node whose inputs are all constant: runs it now, keeps the result. */
static int plan_fold(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    void **ptr = calloc((size_t)m->n_values, sizeof(*ptr));
    void **grown = realloc(m->folded, (size_t)(m->n_folded + n->n_outputs) * sizeof(*grown));

    if (!ptr || !grown) {
        free(ptr);
        if (grown)
            m->folded = grown;
        return errbuf_set(err, -ENOMEM, "node '%s': out of memory", n->name);
    }
    m->folded = grown;
    for (int i = 0; i < n->n_inputs; i++)
        ptr[n->inputs[i]] = m->values[n->inputs[i]].const_data;
    for (int k = 0; k < n->n_outputs; k++) {
        struct tfjs_value *v = &m->values[n->first_output + k];
        void *data = calloc(1, v->bytes ? v->bytes : 4);
        if (!data) {
            free(ptr);
            return errbuf_set(err, -ENOMEM, "node '%s': out of memory", n->name);
        }
        m->folded[m->n_folded++] = data;
        v->const_data = data;
        ptr[n->first_output + k] = data;
    }
    exec_node(m, n, ptr, NULL, false);
    free(ptr);
    n->folded = true;
    return 0;
}

/* AddV2(conv(x), r) -> conv(x) with r added before the activation, when the
 * convolution's output feeds only that add and r is ready before the
 * convolution runs. The add becomes an alias of the convolution's output. */
static void plan_fuse_residuals(struct tfjs_model *m)
{
    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *n = &m->nodes[m->order[s]];
        if (n->op != TFJS_OP_ADD || n->folded || m->values[n->first_output].dtype != TFJS_FLOAT32)
            continue;
        const struct tfjs_value *out = &m->values[n->first_output];
        for (int side = 0; side < 2; side++) {
            int x = n->inputs[side], r = n->inputs[1 - side];
            const struct tfjs_value *vx = &m->values[x], *vr = &m->values[r];
            struct tfjs_node *p = &m->nodes[vx->node];
            if (!shape_equal(&vx->shape, &out->shape) || !shape_equal(&vr->shape, &out->shape))
                continue;
            if (p->op != TFJS_OP_CONV2D || p->folded || p->act != CONV_ACT_NONE ||
                p->residual >= 0 || vx->consumers != 1 || x == m->output || vr->const_data)
                continue;
            if (m->nodes[vr->node].step >= p->step)
                continue;
            p->residual = r;
            p->inputs[p->n_inputs++] = r;
            n->op = TFJS_OP_IDENTITY;
            n->inputs[0] = x;
            n->n_inputs = 1;
            m->fused_adds++;
            break;
        }
    }
}

/* A depthwise convolution whose output only feeds a 1x1 stride-1
 * convolution runs inside it, block of rows by block of rows (contexts that
 * keep every tensor run the two apart, so that both outputs can be read). */
static void plan_fuse_depthwise(struct tfjs_model *m)
{
    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *p = &m->nodes[m->order[s]];
        if (p->op != TFJS_OP_CONV2D || p->folded)
            continue;
        const struct conv_geom *g = &p->geom;
        if (g->kh != 1 || g->kw != 1 || g->stride_h != 1 || g->stride_w != 1 || g->pad_top ||
            g->pad_left || g->oh != g->h || g->ow != g->w)
            continue;
        int x = p->inputs[0];
        struct tfjs_node *d = &m->nodes[m->values[x].node];
        if (d->op != TFJS_OP_DEPTHWISE || d->folded || m->values[x].consumers != 1 ||
            x == m->output || x == m->input)
            continue;
        p->fused_dw = m->values[x].node;
        d->fused_into = m->order[s];
        size_t need = conv_dw_pointwise_scratch_floats(&d->geom, p->oc);
        if (need > m->scratch_floats)
            m->scratch_floats = need;
        m->fused_depthwise++;
    }
}

/* Packs every convolution's filter for the AVX-512 GEMM when the CPU has
 * AVX-512 (and CRTD_POSE_NO_AVX512 is not set, which keeps OpenBLAS). */
static int plan_pack_filters(struct tfjs_model *m, struct errbuf *err)
{
    const char *off = getenv("CRTD_POSE_NO_AVX512");

    if ((off && *off && strcmp(off, "0") != 0) || !cpu_has_avx512())
        return 0;
    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *n = &m->nodes[m->order[s]];
        if (n->op != TFJS_OP_CONV2D || n->folded)
            continue;
        int k = n->geom.kh * n->geom.kw * n->geom.c;
        size_t bytes = align_up(conv_packed_floats(k, n->oc) * sizeof(float));
        if (posix_memalign((void **)&n->packed, TFJS_ALIGN, bytes)) {
            n->packed = NULL;
            return errbuf_set(err, -ENOMEM, "node '%s': out of memory", n->name);
        }
        conv_pack_weights(n->packed, m->values[n->inputs[1]].const_data, k, n->oc);
    }
    return 0;
}

struct plan_block {
    size_t off, size;
};

/* Best-fit allocation of activation buffers in run order, each freed after
 * the last step that reads it (or any alias of it). */
static int plan_buffers(struct tfjs_model *m, struct errbuf *err)
{
    int nv = m->n_values;
    _cleanup_free_ int *last = malloc((size_t)nv * sizeof(int));
    _cleanup_free_ struct plan_block *free_list = malloc((size_t)(nv + 1) * sizeof(*free_list));
    int n_free = 0;
    size_t top = 0, all = 0;

    if (!last || !free_list)
        return errbuf_set(err, -ENOMEM, "plan: out of memory");
    for (int v = 0; v < nv; v++) {
        m->values[v].root = v;
        last[v] = m->nodes[m->values[v].node].step;
    }
    /* roots resolve in run order, so chains of aliases end at a real buffer */
    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *n = &m->nodes[m->order[s]];
        for (int k = 0; k < n->n_outputs; k++) {
            struct tfjs_value *val = &m->values[n->first_output + k];
            val->root = (!val->const_data && value_is_alias_op(n)) ? m->values[n->inputs[0]].root
                                                                   : n->first_output + k;
        }
        for (int i = 0; i < n->n_inputs; i++) {
            int r = m->values[n->inputs[i]].root;
            if (last[r] < s)
                last[r] = s;
        }
        /* a convolution that computes its depthwise input also reads that
         * node's inputs, at its own step */
        const struct tfjs_node *d = n->fused_dw >= 0 ? &m->nodes[n->fused_dw] : NULL;
        for (int i = 0; d && i < d->n_inputs; i++) {
            int r = m->values[d->inputs[i]].root;
            if (last[r] < s)
                last[r] = s;
        }
    }
    last[m->values[m->input].root] = INT32_MAX;
    last[m->values[m->output].root] = INT32_MAX;

    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *n = &m->nodes[m->order[s]];
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->first_output + k;
            struct tfjs_value *val = &m->values[v];
            if (val->const_data || val->root != v)
                continue;
            size_t need = align_up(val->bytes ? val->bytes : 4);
            int best = -1;
            for (int b = 0; b < n_free; b++)
                if (free_list[b].size >= need &&
                    (best < 0 || free_list[b].size < free_list[best].size))
                    best = b;
            if (best >= 0) {
                val->off_reuse = free_list[best].off;
                free_list[best].off += need;
                free_list[best].size -= need;
                if (free_list[best].size == 0)
                    free_list[best] = free_list[--n_free];
            } else {
                val->off_reuse = top;
                top += need;
            }
            val->off_all = all;
            all += need;
        }
        for (int v = 0; v < nv; v++) {
            struct tfjs_value *val = &m->values[v];
            if (val->root != v || val->const_data || last[v] != s || m->nodes[val->node].step < 0)
                continue;
            struct plan_block blk = {val->off_reuse, align_up(val->bytes ? val->bytes : 4)};
            /* merge with neighbours so that large buffers can be reused */
            for (int b = 0; b < n_free;) {
                if (free_list[b].off + free_list[b].size == blk.off) {
                    blk.off = free_list[b].off;
                    blk.size += free_list[b].size;
                } else if (blk.off + blk.size == free_list[b].off) {
                    blk.size += free_list[b].size;
                } else {
                    b++;
                    continue;
                }
                free_list[b] = free_list[--n_free];
            }
            free_list[n_free++] = blk;
        }
    }
    for (int v = 0; v < nv; v++)
        m->values[v].last_use = last[v];
    size_t scratch = align_up(m->scratch_floats * sizeof(float));
    m->arena_reuse = top + scratch;
    m->arena_all = all + scratch;
    return 0;
}

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
        for (size_t k = 0; k < ARRAY_SIZE(tfjs_ops); k++)
            if (strcmp(op, tfjs_ops[k].name) == 0) {
                n->op_name = tfjs_ops[k].name;
                n->op = tfjs_ops[k].op;
            }
        if (!n->op_name)
            return errbuf_set(err, -ENOTSUP, "node '%s': op '%s' is not supported", name, op);
        n->n_outputs = 1;
        if (n->op == TFJS_OP_UNPACK) {
            long long num;
            if (attr_int(jn, "num", -1, &num) < 0 || num < 1 || num > 4096)
                return errbuf_set(err, -EBADMSG, "node '%s' (Unpack): bad num", name);
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

static int model_bind_consts(struct tfjs_model *m, json_t *jnodes, struct tfjs_weight *weights,
                             int n_weights, struct errbuf *err)
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
            json_t *tensor = json_object_get(node_attr(jn, "value"), "tensor");
            struct tfjs_shape declared;
            if (json_object_get(tensor, "tensorShape") &&
                tensor_shape_parse(json_object_get(tensor, "tensorShape"), &declared) == 0 &&
                !shape_equal(&declared, &w->shape)) {
                shape_format(sa, sizeof(sa), &w->shape);
                shape_format(sb, sizeof(sb), &declared);
                return errbuf_set(err, -EBADMSG,
                                  "weight '%s': manifest shape %s but the graph declares %s",
                                  n->name, sa, sb);
            }
            enum tfjs_dtype dt;
            const char *dts = json_string_value(json_object_get(node_attr(jn, "dtype"), "type"));
            if (dts && dtype_parse(dts, &dt) == 0 && dt != w->dtype)
                return errbuf_set(err, -EBADMSG,
                                  "weight '%s': manifest dtype %s but the graph declares %s",
                                  n->name, dtype_name(w->dtype), dtype_name(dt));
            v->shape = w->shape;
            v->dtype = w->dtype;
            v->const_data = w->data;
        } else if (n->op == TFJS_OP_PLACEHOLDER) {
            if (m->input >= 0)
                return errbuf_set(err, -ENOTSUP, "node '%s': only one Placeholder is supported",
                                  n->name);
            json_t *shape = json_object_get(node_attr(jn, "shape"), "shape");
            if (!shape || tensor_shape_parse(shape, &v->shape) < 0 || v->shape.rank == 0)
                return errbuf_set(err, -ENOTSUP,
                                  "node '%s' (Placeholder): needs a fixed, known shape", n->name);
            if (dtype_parse(json_string_value(json_object_get(node_attr(jn, "dtype"), "type")),
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

static int model_plan(struct tfjs_model *m, struct errbuf *err)
{
    _cleanup_free_ char *mark = calloc((size_t)m->n_nodes, 1);
    int r;

    if (!mark)
        return errbuf_set(err, -ENOMEM, "plan: out of memory");
    r = plan_visit(m, m->values[m->output].node, mark, err);
    if (r < 0)
        return r;
    if (m->nodes[m->values[m->input].node].step < 0 && !mark[m->values[m->input].node])
        return errbuf_set(err, -EBADMSG, "the output does not depend on the input");
    for (int s = 0; s < m->n_steps; s++)
        m->nodes[m->order[s]].step = s;
    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *n = &m->nodes[m->order[s]];
        bool all_const = n->op != TFJS_OP_PLACEHOLDER && n->op != TFJS_OP_CONST;
        r = node_infer(m, n, err);
        if (r < 0)
            return r;
        for (int k = 0; k < n->n_outputs; k++) {
            struct tfjs_value *v = &m->values[n->first_output + k];
            v->bytes = tfjs_shape_size(&v->shape) * 4;
        }
        for (int i = 0; i < n->n_inputs; i++) {
            m->values[n->inputs[i]].consumers++;
            if (!m->values[n->inputs[i]].const_data)
                all_const = false;
        }
        if (n->op == TFJS_OP_CONV2D) {
            size_t need = conv2d_scratch_floats(&n->geom, n->oc);
            if (need > m->scratch_floats)
                m->scratch_floats = need;
        }
        if (all_const && n->op != TFJS_OP_CONV2D && n->op != TFJS_OP_DEPTHWISE) {
            r = plan_fold(m, n, err);
            if (r < 0)
                return r;
        }
    }
    plan_fuse_residuals(m);
    plan_fuse_depthwise(m);
    r = plan_pack_filters(m, err);
    if (r < 0)
        return r;
    return plan_buffers(m, err);
}

int tfjs_model_load(const char *json_path, struct tfjs_model **ret_model, struct errbuf *err)
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
    r = model_bind_consts(m, jnodes, weights, n_weights, err);
    if (r < 0)
        goto fail;
    r = model_find_output(m, root, err);
    if (r < 0)
        goto fail;
    r = model_plan(m, err);
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
        free(m->nodes[i].name);
        free(m->nodes[i].inputs);
        free(m->nodes[i].packed);
    }
    for (int i = 0; i < m->n_folded; i++)
        free(m->folded[i]);
    free(m->folded);
    free(m->nodes);
    free(m->values);
    free(m->sorted);
    free(m->order);
    free(m->weights);
    free(m);
    return NULL;
}

int tfjs_model_input(const struct tfjs_model *m)
{
    return m->input;
}

int tfjs_model_output(const struct tfjs_model *m)
{
    return m->output;
}

void tfjs_model_value_info(const struct tfjs_model *m, int value, struct tfjs_shape *ret_shape,
                           enum tfjs_dtype *ret_dtype)
{
    if (ret_shape)
        *ret_shape = m->values[value].shape;
    if (ret_dtype)
        *ret_dtype = m->values[value].dtype;
}

double tfjs_model_flops(const struct tfjs_model *m, double *ret_dense, double *ret_depthwise)
{
    if (ret_dense)
        *ret_dense = m->flops_dense;
    if (ret_depthwise)
        *ret_depthwise = m->flops_depthwise;
    return m->flops_dense + m->flops_depthwise;
}

bool tfjs_model_packed(const struct tfjs_model *m)
{
    for (int s = 0; s < m->n_steps; s++)
        if (m->nodes[m->order[s]].packed)
            return true;
    return false;
}

size_t tfjs_model_arena_bytes(const struct tfjs_model *m, bool keep_all)
{
    return keep_all ? m->arena_all : m->arena_reuse;
}

void tfjs_model_plan_stats(const struct tfjs_model *m, int *ret_steps, int *ret_folded,
                           int *ret_fused_adds)
{
    int folded = 0;

    for (int s = 0; s < m->n_steps; s++)
        folded += m->nodes[m->order[s]].folded;
    if (ret_steps)
        *ret_steps = m->n_steps;
    if (ret_folded)
        *ret_folded = folded;
    if (ret_fused_adds)
        *ret_fused_adds = m->fused_adds;
}

/* ---- contexts ---------------------------------------------------------------- */

int tfjs_context_new(const struct tfjs_model *m, bool keep_all, struct tfjs_context **ret_context,
                     struct errbuf *err)
{
    struct tfjs_context *c = calloc(1, sizeof(*c));
    size_t bytes = keep_all ? m->arena_all : m->arena_reuse;
    size_t scratch = align_up(m->scratch_floats * sizeof(float));

    if (!c)
        return errbuf_set(err, -ENOMEM, "context: out of memory");
    c->model = m;
    c->keep_all = keep_all;
    c->ptr = calloc((size_t)m->n_values, sizeof(*c->ptr));
    if (!c->ptr || posix_memalign(&c->arena, TFJS_ALIGN, bytes ? bytes : TFJS_ALIGN)) {
        tfjs_context_free(c);
        return errbuf_set(err, -ENOMEM, "context: out of memory for a %zu-byte arena", bytes);
    }
    memset(c->arena, 0, bytes);
    c->scratch = (float *)((char *)c->arena + bytes - scratch);
    for (int v = 0; v < m->n_values; v++) {
        const struct tfjs_value *val = &m->values[v];
        if (val->const_data)
            c->ptr[v] = val->const_data;
        else if (m->nodes[val->node].step >= 0) {
            const struct tfjs_value *root = &m->values[val->root];
            c->ptr[v] = (char *)c->arena + (keep_all ? root->off_all : root->off_reuse);
        }
    }
    *ret_context = c;
    return 0;
}

struct tfjs_context *tfjs_context_free(struct tfjs_context *c)
{
    if (!c)
        return NULL;
    free(c->arena);
    free(c->ptr);
    free(c);
    return NULL;
}

void *tfjs_context_input(struct tfjs_context *c)
{
    return c->ptr[c->model->input];
}

void tfjs_context_run(struct tfjs_context *c)
{
    const struct tfjs_model *m = c->model;

    for (int s = 0; s < m->n_steps; s++) {
        const struct tfjs_node *n = &m->nodes[m->order[s]];
        if (n->folded || (!c->keep_all && n->fused_into >= 0))
            continue;
        exec_node(m, n, c->ptr, c->scratch, !c->keep_all);
    }
}

const void *tfjs_context_value(const struct tfjs_context *c, int value)
{
    const struct tfjs_model *m = c->model;

    if (value < 0 || value >= m->n_values)
        return NULL;
    if (m->values[value].const_data || c->keep_all)
        return c->ptr[value];
    int root = m->values[value].root;
    if (root == m->values[m->input].root || root == m->values[m->output].root)
        return c->ptr[value];
    return NULL;
}
