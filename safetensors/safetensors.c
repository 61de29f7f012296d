/* safetensors: reader (mapped file or caller's buffer) and writer.
 *
 * The format: an 8-byte little-endian header length N, N bytes of a JSON
 * object, then the data. Every key of the object but "__metadata__" is a
 * tensor {"dtype", "shape", "data_offsets": [begin, end]} with offsets
 * relative to the data. "__metadata__" maps strings to strings. As the
 * reference implementation does, the reader insists that the tensors tile the
 * data exactly: no overlap, no hole, nothing after the last one. */
#include "safetensors.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <jansson.h>

/* Caps on what a file can make the reader allocate. */
#define HEADER_MAX   (100u << 20) /* the reference implementation's limit */
#define NAME_MAX_LEN 1024

struct safetensors {
    void *map; /* the mapping when opened from a file, else NULL */
    size_t map_size;
    const uint8_t *data; /* the data section */
    size_t data_size;
    int n_tensors;
    struct safetensors_tensor *tensors;
    int n_meta;
    char **meta_keys;
    char **meta_values;
};

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [SAFETENSORS_F32] = {"F32", 4},
    [SAFETENSORS_F16] = {"F16", 2},
    [SAFETENSORS_BF16] = {"BF16", 2},
};

const char *safetensors_dtype_name(enum safetensors_dtype dtype)
{
    return (unsigned)dtype < ARRAY_SIZE(dtypes) ? dtypes[dtype].name : "?";
}

size_t safetensors_dtype_size(enum safetensors_dtype dtype)
{
    return (unsigned)dtype < ARRAY_SIZE(dtypes) ? dtypes[dtype].size : 0;
}

int safetensors_dtype_parse(const char *text, enum safetensors_dtype *ret_dtype)
{
    for (size_t i = 0; i < ARRAY_SIZE(dtypes); i++)
        if (strcmp(text, dtypes[i].name) == 0) {
            *ret_dtype = (enum safetensors_dtype)i;
            return 0;
        }
    return -EINVAL;
}

void safetensors_format_shape(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t used = 0;
    int n = snprintf(buf, size, "[");
    used = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < ndim && used < size; i++) {
        n = snprintf(buf + used, size - used, "%s%" PRId64, i ? "," : "", shape[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

/* ---- reading ------------------------------------------------------------- */

struct safetensors *safetensors_free(struct safetensors *st)
{
    if (!st)
        return NULL;
    for (int i = 0; i < st->n_tensors; i++)
        free((char *)st->tensors[i].name);
    free(st->tensors);
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    if (st->map)
        munmap(st->map, st->map_size);
    free(st);
    return NULL;
}

static int parse_u64(json_t *value, uint64_t *ret)
{
    if (!json_is_integer(value) || json_integer_value(value) < 0)
        return -EINVAL;
    *ret = (uint64_t)json_integer_value(value);
    return 0;
}

static int parse_metadata(struct safetensors *st, json_t *meta, struct errbuf *err)
{
    if (!json_is_object(meta))
        return errbuf_set(err, -EBADMSG, "__metadata__ is not an object of strings");
    size_t n = json_object_size(meta);
    st->meta_keys = calloc(n ? n : 1, sizeof(char *));
    st->meta_values = calloc(n ? n : 1, sizeof(char *));
    if (!st->meta_keys || !st->meta_values)
        return -ENOMEM;
    const char *key;
    json_t *value;
    json_object_foreach(meta, key, value)
    {
        if (!json_is_string(value))
            return errbuf_set(err, -EBADMSG, "__metadata__ '%.100s' is not a string", key);
        st->meta_keys[st->n_meta] = strdup(key);
        st->meta_values[st->n_meta] = strdup(json_string_value(value));
        if (!st->meta_keys[st->n_meta] || !st->meta_values[st->n_meta]) {
            st->n_meta++;
            return -ENOMEM;
        }
        st->n_meta++;
    }
    return 0;
}

static int parse_tensor(struct safetensors_tensor *t, const char *name, json_t *desc,
                        size_t data_size, struct errbuf *err)
{
    if (strlen(name) > NAME_MAX_LEN)
        return errbuf_set(err, -EBADMSG, "tensor name '%.60s...' longer than %d bytes", name,
                          NAME_MAX_LEN);
    if (!json_is_object(desc))
        return errbuf_set(err, -EBADMSG, "tensor '%.100s' is not an object", name);

    json_t *dtype = json_object_get(desc, "dtype");
    if (!json_is_string(dtype))
        return errbuf_set(err, -EBADMSG, "tensor '%.100s': no dtype string", name);
    if (safetensors_dtype_parse(json_string_value(dtype), &t->dtype) < 0)
        return errbuf_set(err, -EBADMSG,
                          "tensor '%.100s': dtype '%.20s' not supported (F32, F16, BF16)", name,
                          json_string_value(dtype));

    json_t *shape = json_object_get(desc, "shape");
    if (!json_is_array(shape))
        return errbuf_set(err, -EBADMSG, "tensor '%.100s': no shape array", name);
    if (json_array_size(shape) > SAFETENSORS_MAX_DIMS)
        return errbuf_set(err, -EBADMSG, "tensor '%.100s': shape has %zu dimensions (at most %d)",
                          name, json_array_size(shape), SAFETENSORS_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    size_t numel = 1;
    bool overflow = false;
    for (int i = 0; i < t->ndim; i++) {
        uint64_t dim;
        if (parse_u64(json_array_get(shape, (size_t)i), &dim) < 0)
            return errbuf_set(err, -EBADMSG,
                              "tensor '%.100s': shape entry %d is not a non-negative integer", name,
                              i);
        t->shape[i] = (int64_t)dim;
        overflow |= dim > SIZE_MAX || __builtin_mul_overflow(numel, (size_t)dim, &numel);
    }
    size_t nbytes = 0;
    overflow |= __builtin_mul_overflow(numel, safetensors_dtype_size(t->dtype), &nbytes);
    char shape_text[96];
    safetensors_format_shape(shape_text, sizeof(shape_text), t->ndim, t->shape);
    if (overflow)
        return errbuf_set(err, -EBADMSG, "tensor '%.100s': shape %s is too large", name,
                          shape_text);

    json_t *offsets = json_object_get(desc, "data_offsets");
    uint64_t begin, end;
    if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
        parse_u64(json_array_get(offsets, 0), &begin) < 0 ||
        parse_u64(json_array_get(offsets, 1), &end) < 0)
        return errbuf_set(err, -EBADMSG,
                          "tensor '%.100s': data_offsets is not [begin, end] of non-negative "
                          "integers",
                          name);
    if (end < begin)
        return errbuf_set(err, -EBADMSG,
                          "tensor '%.100s': data_offsets [%" PRIu64 ", %" PRIu64
                          "] end before begin",
                          name, begin, end);
    if (end > data_size)
        return errbuf_set(err, -EBADMSG,
                          "tensor '%.100s': data_offsets [%" PRIu64 ", %" PRIu64
                          "] beyond the %zu bytes of data (truncated file?)",
                          name, begin, end, data_size);
    if (end - begin != nbytes)
        return errbuf_set(err, -EBADMSG,
                          "tensor '%.100s': data_offsets hold %" PRIu64
                          " bytes, but %s %s needs %zu",
                          name, end - begin, safetensors_dtype_name(t->dtype), shape_text, nbytes);
    t->numel = numel;
    t->offset = (size_t)begin;
    t->nbytes = nbytes;
    return 0;
}

static int compare_offset(const void *a, const void *b)
{
    const struct safetensors_tensor *const *x = a, *const *y = b;
    if ((*x)->offset != (*y)->offset)
        return (*x)->offset < (*y)->offset ? -1 : 1;
    /* Empty tensors first, so that a non-empty one at the same offset is the
     * one compared with what follows. */
    return (*x)->nbytes < (*y)->nbytes ? -1 : (*x)->nbytes > (*y)->nbytes;
}

/* The tensors must tile [0, data_size) exactly. */
static int check_tiling(struct safetensors *st, struct errbuf *err)
{
    _cleanup_free_ struct safetensors_tensor **order =
        calloc(st->n_tensors ? (size_t)st->n_tensors : 1, sizeof(*order));
    if (!order)
        return -ENOMEM;
    for (int i = 0; i < st->n_tensors; i++)
        order[i] = &st->tensors[i];
    qsort(order, (size_t)st->n_tensors, sizeof(*order), compare_offset);

    size_t covered = 0;
    const struct safetensors_tensor *last = NULL;
    for (int i = 0; i < st->n_tensors; i++) {
        const struct safetensors_tensor *t = order[i];
        if (t->offset < covered)
            return errbuf_set(err, -EBADMSG,
                              "tensors '%.80s' [%zu, %zu) and '%.80s' [%zu, %zu) overlap",
                              last->name, last->offset, last->offset + last->nbytes, t->name,
                              t->offset, t->offset + t->nbytes);
        if (t->offset > covered)
            return errbuf_set(err, -EBADMSG,
                              "data bytes [%zu, %zu) before tensor '%.100s' belong to no tensor",
                              covered, t->offset, t->name);
        if (t->nbytes > 0) {
            covered = t->offset + t->nbytes;
            last = t;
        }
    }
    if (covered != st->data_size)
        return errbuf_set(err, -EBADMSG,
                          "data bytes [%zu, %zu) after the last tensor belong to no tensor",
                          covered, st->data_size);
    return 0;
}

static int parse(struct safetensors *st, const uint8_t *buf, size_t size, struct errbuf *err)
{
    if (size < 8)
        return errbuf_set(err, -EBADMSG,
                          "%zu bytes: too short for a safetensors header length (8 bytes)", size);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | buf[i];
    if (header_len > size - 8)
        return errbuf_set(err, -EBADMSG,
                          "header length %" PRIu64 " larger than the file (%zu bytes after it)",
                          header_len, size - 8);
    if (header_len > HEADER_MAX)
        return errbuf_set(err, -EBADMSG, "header length %" PRIu64 " above the limit of %u bytes",
                          header_len, HEADER_MAX);
    if (header_len < 2 || buf[8] != '{')
        return errbuf_set(err, -EBADMSG, "header does not start with a JSON object");
    st->data = buf + 8 + header_len;
    st->data_size = size - 8 - (size_t)header_len;

    json_error_t jerr;
    json_t *root =
        json_loadb((const char *)buf + 8, (size_t)header_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return errbuf_set(err, -EBADMSG, "header is not valid JSON: %.120s (column %d)", jerr.text,
                          jerr.column);
    int r = 0;
    if (!json_is_object(root)) {
        r = errbuf_set(err, -EBADMSG, "header is not a JSON object");
        goto done;
    }

    size_t n = json_object_size(root);
    st->tensors = calloc(n ? n : 1, sizeof(*st->tensors));
    if (!st->tensors) {
        r = -ENOMEM;
        goto done;
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (strcmp(key, "__metadata__") == 0) {
            r = parse_metadata(st, value, err);
            if (r < 0)
                goto done;
            continue;
        }
        struct safetensors_tensor *t = &st->tensors[st->n_tensors];
        r = parse_tensor(t, key, value, st->data_size, err);
        if (r < 0)
            goto done;
        t->name = strdup(key);
        if (!t->name) {
            r = -ENOMEM;
            goto done;
        }
        t->data = st->data + t->offset;
        st->n_tensors++;
    }
    r = check_tiling(st, err);
done:
    json_decref(root);
    return r;
}

int safetensors_parse(const void *buf, size_t size, struct safetensors **ret_st, struct errbuf *err)
{
    struct safetensors *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    int r = parse(st, buf, size, err);
    if (r < 0) {
        safetensors_free(st);
        return r;
    }
    *ret_st = st;
    return 0;
}

int safetensors_open(const char *path, struct safetensors **ret_st, struct errbuf *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return errbuf_set(err, -EINVAL, "%s: not a regular file", path);
    if (sb.st_size < 8)
        return errbuf_set(err, -EBADMSG, "%s: %jd bytes: too short for a safetensors file", path,
                          (intmax_t)sb.st_size);

    struct safetensors *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->map_size = (size_t)sb.st_size;
    st->map = mmap(NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (st->map == MAP_FAILED) {
        int r = -errno;
        st->map = NULL;
        safetensors_free(st);
        return errbuf_set(err, r, "%s: mmap: %s", path, strerror(-r));
    }
    struct errbuf inner = {0};
    int r = parse(st, st->map, st->map_size, &inner);
    if (r < 0) {
        safetensors_free(st);
        if (r == -ENOMEM)
            return errbuf_set(err, r, "%s: out of memory", path);
        return errbuf_set(err, r, "%s: %s", path, errbuf_text(&inner, r));
    }
    *ret_st = st;
    return 0;
}

int safetensors_count(const struct safetensors *st)
{
    return st->n_tensors;
}

const struct safetensors_tensor *safetensors_tensor(const struct safetensors *st, int index)
{
    return index >= 0 && index < st->n_tensors ? &st->tensors[index] : NULL;
}

const struct safetensors_tensor *safetensors_find(const struct safetensors *st, const char *name)
{
    for (int i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

int safetensors_metadata_count(const struct safetensors *st)
{
    return st->n_meta;
}

int safetensors_metadata_at(const struct safetensors *st, int index, const char **ret_key,
                            const char **ret_value)
{
    if (index < 0 || index >= st->n_meta)
        return -ENOENT;
    *ret_key = st->meta_keys[index];
    *ret_value = st->meta_values[index];
    return 0;
}

const char *safetensors_metadata(const struct safetensors *st, const char *key)
{
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0)
            return st->meta_values[i];
    return NULL;
}

int safetensors_tensor_check(const struct safetensors_tensor *t, int ndim, const int64_t *shape,
                             struct errbuf *err)
{
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (same)
        return 0;
    char got[96], want[96];
    safetensors_format_shape(got, sizeof(got), t->ndim, t->shape);
    safetensors_format_shape(want, sizeof(want), ndim, shape);
    return errbuf_set(err, -EBADMSG, "tensor '%.100s': shape %s expected %s", t->name, got, want);
}

uint16_t safetensors_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof(x));
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t exp = (x >> 23) & 0xff;
    uint32_t mant = x & 0x7fffff;
    if (exp == 0xff) /* inf, nan (keep a mantissa bit for nan) */
        return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f) /* overflow */
        return (uint16_t)(sign | 0x7c00);
    if (e <= 0) { /* subnormal or zero in half */
        if (e < -10)
            return (uint16_t)sign;
        mant |= 0x800000;
        int shift = 14 - e;
        uint32_t half = mant >> shift;
        uint32_t rest = mant & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rest > mid || (rest == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
        half++; /* may carry into the exponent, which is still right */
    return (uint16_t)half;
}

float safetensors_bf16_to_f32(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

uint16_t safetensors_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof(x));
    if ((x & 0x7fffffff) > 0x7f800000) /* nan stays nan */
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1); /* round to nearest even */
    return (uint16_t)(x >> 16);
}

void safetensors_tensor_to_f32(const struct safetensors_tensor *t, float *out)
{
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case SAFETENSORS_F32:
        for (size_t i = 0; i < t->numel; i++) {
            uint32_t bits = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                            (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy(&out[i], &bits, sizeof(float));
        }
        break;
    case SAFETENSORS_F16:
        for (size_t i = 0; i < t->numel; i++)
            out[i] = f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    case SAFETENSORS_BF16:
        for (size_t i = 0; i < t->numel; i++)
            out[i] = safetensors_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    }
}

/* ---- writing ------------------------------------------------------------- */

struct writer_tensor {
    char *name;
    enum safetensors_dtype dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    size_t numel;
    const float *data;
};

struct safetensors_writer {
    json_t *metadata;
    int n_tensors, cap;
    struct writer_tensor *tensors;
};

struct safetensors_writer *safetensors_writer_new(void)
{
    struct safetensors_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->metadata = json_object();
    if (!w->metadata) {
        free(w);
        return NULL;
    }
    return w;
}

struct safetensors_writer *safetensors_writer_free(struct safetensors_writer *w)
{
    if (!w)
        return NULL;
    for (int i = 0; i < w->n_tensors; i++)
        free(w->tensors[i].name);
    free(w->tensors);
    json_decref(w->metadata);
    free(w);
    return NULL;
}

int safetensors_writer_set_metadata(struct safetensors_writer *w, const char *key,
                                    const char *value)
{
    if (strcmp(key, "") == 0)
        return -EINVAL;
    return json_object_set_new(w->metadata, key, json_string(value)) < 0 ? -EINVAL : 0;
}

int safetensors_writer_add(struct safetensors_writer *w, const char *name,
                           enum safetensors_dtype dtype, int ndim, const int64_t *shape,
                           const float *data)
{
    if (ndim < 0 || ndim > SAFETENSORS_MAX_DIMS || strcmp(name, "__metadata__") == 0 ||
        safetensors_dtype_size(dtype) == 0)
        return -EINVAL;
    for (int i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return -EEXIST;
    if (w->n_tensors == w->cap) {
        int cap = w->cap ? 2 * w->cap : 32;
        struct writer_tensor *t = realloc(w->tensors, (size_t)cap * sizeof(*t));
        if (!t)
            return -ENOMEM;
        w->tensors = t;
        w->cap = cap;
    }
    struct writer_tensor *t = &w->tensors[w->n_tensors];
    *t = (struct writer_tensor){.dtype = dtype, .ndim = ndim, .numel = 1, .data = data};
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return -EINVAL;
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    t->name = strdup(name);
    if (!t->name)
        return -ENOMEM;
    w->n_tensors++;
    return 0;
}

static void store_tensor(uint8_t *out, const struct writer_tensor *t)
{
    for (size_t i = 0; i < t->numel; i++) {
        uint32_t bits;
        uint16_t half;
        switch (t->dtype) {
        case SAFETENSORS_F32:
            memcpy(&bits, &t->data[i], sizeof(bits));
            for (int b = 0; b < 4; b++)
                out[4 * i + (size_t)b] = (uint8_t)(bits >> (8 * b));
            break;
        case SAFETENSORS_F16:
        case SAFETENSORS_BF16:
            half = t->dtype == SAFETENSORS_F16 ? safetensors_f32_to_f16(t->data[i])
                                               : safetensors_f32_to_bf16(t->data[i]);
            out[2 * i] = (uint8_t)half;
            out[2 * i + 1] = (uint8_t)(half >> 8);
            break;
        }
    }
}

int safetensors_writer_to_buffer(const struct safetensors_writer *w, void **ret_buf,
                                 size_t *ret_size)
{
    json_t *root = json_object();
    if (!root)
        return -ENOMEM;
    int r = -ENOMEM;
    char *header = NULL;
    if (json_object_size(w->metadata) > 0 && json_object_set(root, "__metadata__", w->metadata) < 0)
        goto fail;
    size_t offset = 0;
    for (int i = 0; i < w->n_tensors; i++) {
        const struct writer_tensor *t = &w->tensors[i];
        json_t *shape = json_array();
        for (int d = 0; shape && d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        size_t nbytes = t->numel * safetensors_dtype_size(t->dtype);
        json_t *desc =
            json_pack("{s:s, s:o, s:[I,I]}", "dtype", safetensors_dtype_name(t->dtype), "shape",
                      shape, "data_offsets", (json_int_t)offset, (json_int_t)(offset + nbytes));
        if (!desc || json_object_set_new(root, t->name, desc) < 0)
            goto fail;
        offset += nbytes;
    }
    header = json_dumps(root, JSON_COMPACT);
    if (!header)
        goto fail;
    /* Pad the header with spaces so that the data starts 8-byte aligned. */
    size_t header_len = strlen(header);
    size_t padded = (header_len + 7) & ~(size_t)7;
    size_t size = 8 + padded + offset;
    uint8_t *buf = malloc(size);
    if (!buf)
        goto fail;
    for (int b = 0; b < 8; b++)
        buf[b] = (uint8_t)((uint64_t)padded >> (8 * b));
    memcpy(buf + 8, header, header_len);
    memset(buf + 8 + header_len, ' ', padded - header_len);
    uint8_t *data = buf + 8 + padded;
    for (int i = 0; i < w->n_tensors; i++) {
        const struct writer_tensor *t = &w->tensors[i];
        store_tensor(data, t);
        data += t->numel * safetensors_dtype_size(t->dtype);
    }
    *ret_buf = buf;
    *ret_size = size;
    r = 0;
fail:
    free(header);
    json_decref(root);
    return r;
}

int safetensors_writer_save(const struct safetensors_writer *w, const char *path,
                            struct errbuf *err)
{
    _cleanup_free_ void *buf = NULL;
    size_t size;
    int r = safetensors_writer_to_buffer(w, &buf, &size);
    if (r < 0)
        return errbuf_set(err, r, "%s: %s", path, strerror(-r));

    /* Write a temporary file beside the target and rename it over, so that a
     * reader never sees half a model. */
    _cleanup_free_ char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
        return -ENOMEM;
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errbuf_set(err, -errno, "%s: %s", tmp, strerror(errno));
    const uint8_t *p = buf;
    size_t left = size;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            unlink(tmp);
            return errbuf_set(err, r, "%s: %s", tmp, strerror(-r));
        }
        p += n;
        left -= (size_t)n;
    }
    int synced = fsync(fd) < 0 ? -errno : 0;
    int closed = close(fd) < 0 ? -errno : 0;
    fd = -1;
    if (synced < 0 || closed < 0) {
        r = synced < 0 ? synced : closed;
        unlink(tmp);
        return errbuf_set(err, r, "%s: %s", tmp, strerror(-r));
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        r = -errno;
        unlink(tmp);
        return errbuf_set(err, r, "%s: %s", path, strerror(-r));
    }
    return 0;
}
