/* safetensors: the file format of crtd's models, checkpoints and pose
 * sequences. A reader that maps and checks a file, and a writer.
 *
 * The format, as this library reads and writes it:
 *
 *   bytes 0..7        N, the header's length: unsigned 64-bit little-endian
 *   bytes 8..8+N      the header: a JSON object, UTF-8, possibly padded
 *                     with trailing spaces
 *   bytes 8+N..end    the data section: every tensor's raw bytes
 *
 * Each key of the header but one names a tensor:
 *
 *   "name": {"dtype": "F32" | "F16" | "BF16",
 *            "shape": [d0, d1, ...],
 *            "data_offsets": [begin, end]}
 *
 * begin and end are byte offsets into the data section; end - begin is the
 * product of the shape times the element size (an empty shape is a scalar).
 * Tensors are little-endian and row-major, and together they cover the data
 * section exactly: no overlap, no gap. The one other key, "__metadata__",
 * maps strings to strings; crtd keeps its model card there (docs/MODEL.md
 * section 7, docs/FORMATS.md). This reader refuses a file where any of
 * this does not hold, naming the tensor or field. */
#ifndef CRTD_SAFETENSORS_H
#define CRTD_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base.h"

/* The element types the reader converts to float32. */
enum safetensors_dtype {
    SAFETENSORS_F32,
    SAFETENSORS_F16,
    SAFETENSORS_BF16,
};

#define SAFETENSORS_MAX_DIMS 8

struct safetensors_tensor {
    const char *name;
    enum safetensors_dtype dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    size_t numel;
    size_t offset; /* bytes from the start of the data section */
    size_t nbytes;
    const void *data; /* little-endian, not necessarily aligned */
};

/* An opened file (mapped read-only) or a parsed caller's buffer. Opening
 * checks the whole header: the JSON, every dtype, shape and byte range
 * against the file size, that the tensors tile the data without overlap or
 * hole, and that __metadata__ maps strings to strings. -EBADMSG names the
 * tensor or field that is wrong. */
struct safetensors;

int safetensors_open(const char *path, struct safetensors **ret_st, struct errbuf *err);
/* buf must outlive the result. */
int safetensors_parse(const void *buf, size_t size, struct safetensors **ret_st,
                      struct errbuf *err);
struct safetensors *safetensors_free(struct safetensors *st);

int safetensors_count(const struct safetensors *st);
const struct safetensors_tensor *safetensors_tensor(const struct safetensors *st, int index);
const struct safetensors_tensor *safetensors_find(const struct safetensors *st, const char *name);
/* A __metadata__ value, or NULL. */
const char *safetensors_metadata(const struct safetensors *st, const char *key);
int safetensors_metadata_count(const struct safetensors *st);
int safetensors_metadata_at(const struct safetensors *st, int index, const char **ret_key,
                            const char **ret_value);

/* -EBADMSG, naming the tensor and both shapes, unless t has this shape. */
int safetensors_tensor_check(const struct safetensors_tensor *t, int ndim, const int64_t *shape,
                             struct errbuf *err);
/* Converts the t->numel elements to float32. */
void safetensors_tensor_to_f32(const struct safetensors_tensor *t, float *out);

const char *safetensors_dtype_name(enum safetensors_dtype dtype);
size_t safetensors_dtype_size(enum safetensors_dtype dtype);
int safetensors_dtype_parse(const char *text, enum safetensors_dtype *ret_dtype);
/* "[128,64]" */
void safetensors_format_shape(char *buf, size_t size, int ndim, const int64_t *shape);
/* IEEE half and bfloat16, rounding to nearest even (half to single is
 * base.h's f16_to_f32). */
uint16_t safetensors_f32_to_f16(float f);
float safetensors_bf16_to_f32(uint16_t b);
uint16_t safetensors_f32_to_bf16(float f);

/* The writer keeps pointers to the caller's float32 data until it is saved
 * and converts on output; metadata and tensors are written in the order they
 * were added, the data 8-byte aligned. */
struct safetensors_writer;

struct safetensors_writer *safetensors_writer_new(void);
struct safetensors_writer *safetensors_writer_free(struct safetensors_writer *w);
int safetensors_writer_set_metadata(struct safetensors_writer *w, const char *key,
                                    const char *value);
int safetensors_writer_add(struct safetensors_writer *w, const char *name,
                           enum safetensors_dtype dtype, int ndim, const int64_t *shape,
                           const float *data);
/* The whole file in one malloc'ed buffer. */
int safetensors_writer_to_buffer(const struct safetensors_writer *w, void **ret_buf,
                                 size_t *ret_size);
/* Writes path atomically (a temporary file renamed over it). */
int safetensors_writer_save(const struct safetensors_writer *w, const char *path,
                            struct errbuf *err);

#endif
