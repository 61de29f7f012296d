/* crt_state: one stream's state — persistent memory and partial segment —
 * pushed a frame at a time, and its serialised form.
 *
 * State blob, version 1, little-endian (docs/MODEL.md, "State blob"):
 *   0  magic "CRTSTATE"          8 bytes
 *   8  version                   u32 = 1
 *  12  memory floats S           u32
 *  16  segment length L          u32
 *  20  features per frame F      u32
 *  24  frames pending P          u32, < L
 *  28  reserved                  u32 = 0
 *  32  model fingerprint         u64
 *  40  segments since reset      u64
 *  48  memory                    S x f32
 *      pending frames            P x F x f32
 *      CRC-32 (IEEE) of all the bytes before it   u32 */
#include "crt_internal.h"

#include <zlib.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STATE_MAGIC   "CRTSTATE"
#define STATE_VERSION 1
#define STATE_HEADER  48

struct crt_stream {
    const struct crt_model *model;
    struct crt_workspace *ws; /* one segment */
    float *mem;               /* [S] */
    float *partial;           /* [L, F] */
    int pending;
    uint64_t segments;
};

int crt_stream_new(const struct crt_model *m, struct crt_stream **ret_stream)
{
    struct crt_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->model = m;
    s->mem = calloc(m->state_floats, sizeof(float));
    s->partial = calloc((size_t)m->cfg.segment_len * m->cfg.n_features, sizeof(float));
    int r = s->mem && s->partial ? crt_workspace_new(m, 1, &s->ws) : -ENOMEM;
    if (r < 0) {
        crt_stream_free(s);
        return r;
    }
    crt_stream_reset(s);
    *ret_stream = s;
    return 0;
}

struct crt_stream *crt_stream_free(struct crt_stream *s)
{
    if (s) {
        crt_workspace_free(s->ws);
        free(s->mem);
        free(s->partial);
        free(s);
    }
    return NULL;
}

void crt_stream_reset(struct crt_stream *s)
{
    crt_model_initial_memory(s->model, s->mem);
    s->pending = 0;
    s->segments = 0;
}

int crt_stream_push(struct crt_stream *s, const float *features, float *ret_logits,
                    float *ret_probs)
{
    const struct crt_config *c = &s->model->cfg;
    memcpy(s->partial + (size_t)s->pending * c->n_features, features,
           (size_t)c->n_features * sizeof(float));
    if (++s->pending < c->segment_len)
        return 0;
    float *logits = ret_logits ? ret_logits : ret_probs;
    crt_model_step(s->model, s->ws, 1, s->partial, s->mem, s->mem, logits);
    if (ret_probs)
        crt_model_probs(s->model, ret_probs, logits ? logits : ret_probs);
    s->pending = 0;
    s->segments++;
    return 1;
}

const float *crt_stream_memory(const struct crt_stream *s)
{
    return s->mem;
}

int crt_stream_frames_pending(const struct crt_stream *s)
{
    return s->pending;
}

uint64_t crt_stream_segments(const struct crt_stream *s)
{
    return s->segments;
}

size_t crt_stream_memory_bytes(const struct crt_stream *s)
{
    return s->model->state_floats * sizeof(float);
}

size_t crt_stream_state_bytes(const struct crt_stream *s)
{
    const struct crt_config *c = &s->model->cfg;
    return crt_stream_memory_bytes(s) + (size_t)c->segment_len * c->n_features * sizeof(float);
}

size_t crt_stream_footprint_bytes(const struct crt_stream *s)
{
    return sizeof(*s) + crt_stream_state_bytes(s) + crt_workspace_bytes(s->ws);
}

/* ---- serialised state ------------------------------------------------------ */

/* The blob's checksum: zlib's CRC-32 (IEEE 802.3), as gzip and PNG use. */
static uint32_t blob_crc32(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32_z(crc32_z(0, Z_NULL, 0), p, n);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void put_floats(uint8_t *p, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof(bits));
        put_u32(p + 4 * i, bits);
    }
}

static void get_floats(float *x, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = get_u32(p + 4 * i);
        memcpy(&x[i], &bits, sizeof(bits));
    }
}

static size_t blob_size(size_t S, size_t pending, size_t F)
{
    return STATE_HEADER + 4 * (S + pending * F) + 4;
}

size_t crt_stream_save_size(const struct crt_model *m)
{
    return blob_size(m->state_floats, (size_t)m->cfg.segment_len - 1, (size_t)m->cfg.n_features);
}

int crt_stream_save(const struct crt_stream *s, void *buf, size_t size, size_t *ret_len)
{
    const struct crt_config *c = &s->model->cfg;
    size_t S = s->model->state_floats, F = (size_t)c->n_features;
    size_t len = blob_size(S, (size_t)s->pending, F);
    if (size < len)
        return -ENOBUFS;
    uint8_t *p = buf;
    memcpy(p, STATE_MAGIC, 8);
    put_u32(p + 8, STATE_VERSION);
    put_u32(p + 12, (uint32_t)S);
    put_u32(p + 16, (uint32_t)c->segment_len);
    put_u32(p + 20, (uint32_t)F);
    put_u32(p + 24, (uint32_t)s->pending);
    put_u32(p + 28, 0);
    put_u64(p + 32, s->model->fingerprint);
    put_u64(p + 40, s->segments);
    put_floats(p + STATE_HEADER, s->mem, S);
    put_floats(p + STATE_HEADER + 4 * S, s->partial, (size_t)s->pending * F);
    put_u32(p + len - 4, blob_crc32(p, len - 4));
    *ret_len = len;
    return 0;
}

int crt_stream_restore(struct crt_stream *s, const void *buf, size_t len, struct errbuf *err)
{
    const struct crt_config *c = &s->model->cfg;
    const uint8_t *p = buf;
    size_t S = s->model->state_floats, F = (size_t)c->n_features;

    if (len < STATE_HEADER + 4 || memcmp(p, STATE_MAGIC, 8) != 0)
        return errbuf_set(err, -EBADMSG, "not a crtd stream state (%zu bytes, no CRTSTATE magic)",
                          len);
    uint32_t version = get_u32(p + 8);
    if (version != STATE_VERSION)
        return errbuf_set(err, -EBADMSG, "state version %u unknown (known: %d)", version,
                          STATE_VERSION);
    uint32_t crc = get_u32(p + len - 4), want = blob_crc32(p, len - 4);
    if (crc != want)
        return errbuf_set(err, -EBADMSG,
                          "state checksum 0x%08x does not match its bytes (0x%08x): damaged "
                          "or truncated",
                          crc, want);
    uint64_t fingerprint = get_u64(p + 32);
    if (fingerprint != s->model->fingerprint)
        return errbuf_set(err, -ESTALE,
                          "state belongs to another model (fingerprint %016llx, this model "
                          "%016llx)",
                          (unsigned long long)fingerprint,
                          (unsigned long long)s->model->fingerprint);
    uint32_t s_floats = get_u32(p + 12), seg = get_u32(p + 16), feat = get_u32(p + 20);
    uint32_t pending = get_u32(p + 24);
    if (s_floats != S || seg != (uint32_t)c->segment_len || feat != F)
        return errbuf_set(err, -EBADMSG,
                          "state sizes (memory %u, L %u, F %u) differ from the model's (%zu, %d, "
                          "%zu)",
                          s_floats, seg, feat, S, c->segment_len, F);
    if (pending >= seg)
        return errbuf_set(err, -EBADMSG, "state holds %u pending frames, a segment is %u", pending,
                          seg);
    if (len != blob_size(S, pending, F))
        return errbuf_set(err, -EBADMSG, "state is %zu bytes, %zu expected for %u pending frames",
                          len, blob_size(S, pending, F), pending);
    /* Checked whole before the stream changes: a state that is refused
     * leaves the stream as it was. */
    size_t n = S + (size_t)pending * F;
    float *values = malloc(n * sizeof(float) + 1);
    if (!values)
        return -ENOMEM;
    get_floats(values, p + STATE_HEADER, n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(values[i])) {
            free(values);
            return errbuf_set(err, -EBADMSG, "state: value %zu is not a finite number", i);
        }
    const struct crt_memory_ops *ops = s->model->ops;
    int r = ops->check_memory ? ops->check_memory(s->model, values, err) : 0;
    if (r < 0) {
        free(values);
        return r;
    }
    memcpy(s->mem, values, S * sizeof(float));
    memcpy(s->partial, values + S, (size_t)pending * F * sizeof(float));
    free(values);
    s->pending = (int)pending;
    s->segments = get_u64(p + 40);
    return 0;
}
