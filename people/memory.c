/* memory: the container of a stream's per-track memories (the format is in
 * people.h): encode, and a decode that checks everything before it hands out
 * a single entry. */
#include "people.h"

#include <string.h>
#include <zlib.h>

static const uint8_t magic[4] = {'C', 'R', 'T', 'P'};

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f64(uint8_t *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    put_u32(p, (uint32_t)bits);
    put_u32(p + 4, (uint32_t)(bits >> 32));
}

static double get_f64(const uint8_t *p)
{
    uint64_t bits = (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

static void put_f32(uint8_t *p, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof(bits));
    put_u32(p, bits);
}

static float get_f32(const uint8_t *p)
{
    uint32_t bits = get_u32(p);
    float v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

static uint32_t checksum(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32_z(crc32_z(0, Z_NULL, 0), p, n);
}

size_t people_memory_size(const struct people_memory *m)
{
    size_t size = PEOPLE_MEMORY_HEADER + 4;
    for (unsigned i = 0; i < m->n; i++)
        size += PEOPLE_MEMORY_ENTRY + m->entries[i].size;
    return size;
}

void people_memory_encode(const struct people_memory *m, uint8_t *buf)
{
    uint8_t *p = buf;
    memcpy(p, magic, 4);
    put_u32(p + 4, PEOPLE_MEMORY_VERSION);
    put_u32(p + 8, m->n);
    put_u32(p + 12, m->next_id);
    put_f64(p + 16, m->saved);
    p += PEOPLE_MEMORY_HEADER;
    for (unsigned i = 0; i < m->n; i++) {
        const struct people_memory_entry *e = &m->entries[i];
        put_u32(p, e->id);
        put_u32(p + 4, (uint32_t)e->size);
        put_f64(p + 8, e->first_seen);
        put_f64(p + 16, e->last_seen);
        for (int k = 0; k < 4; k++)
            put_f32(p + 24 + 4 * k, e->box[k]);
        p += PEOPLE_MEMORY_ENTRY;
        if (e->size)
            memcpy(p, e->data, e->size);
        p += e->size;
    }
    put_u32(p, checksum(buf, (size_t)(p - buf)));
}

int people_memory_decode(const void *data, size_t size, struct people_memory *ret,
                         struct errbuf *err)
{
    const uint8_t *buf = data;
    struct people_memory m = {0};

    if (size < PEOPLE_MEMORY_HEADER + 4 || memcmp(buf, magic, 4) != 0)
        return errbuf_set(err, -EBADMSG, "people memory: not a container (%zu bytes)", size);
    uint32_t version = get_u32(buf + 4);
    if (version != PEOPLE_MEMORY_VERSION)
        return errbuf_set(err, -EBADMSG, "people memory: version %u, this crtd reads %u", version,
                          PEOPLE_MEMORY_VERSION);
    uint32_t stored = get_u32(buf + size - 4), computed = checksum(buf, size - 4);
    if (stored != computed)
        return errbuf_set(err, -EBADMSG, "people memory: checksum %08x, expected %08x", computed,
                          stored);
    uint32_t n = get_u32(buf + 8);
    if (n > ARRAY_SIZE(m.entries))
        return errbuf_set(err, -EBADMSG, "people memory: %u tracks, at most %zu", n,
                          ARRAY_SIZE(m.entries));
    m.n = n;
    m.next_id = get_u32(buf + 12);
    m.saved = get_f64(buf + 16);
    size_t off = PEOPLE_MEMORY_HEADER, end = size - 4;
    for (uint32_t i = 0; i < n; i++) {
        if (end - off < PEOPLE_MEMORY_ENTRY)
            return errbuf_set(err, -EBADMSG, "people memory: track %u is cut short", i);
        const uint8_t *p = buf + off;
        struct people_memory_entry *e = &m.entries[i];
        e->id = get_u32(p);
        e->size = get_u32(p + 4);
        e->first_seen = get_f64(p + 8);
        e->last_seen = get_f64(p + 16);
        for (int k = 0; k < 4; k++)
            e->box[k] = get_f32(p + 24 + 4 * k);
        off += PEOPLE_MEMORY_ENTRY;
        if (end - off < e->size)
            return errbuf_set(err, -EBADMSG, "people memory: track %u: %zu bytes past the end",
                              e->id, e->size);
        e->data = buf + off;
        off += e->size;
        for (uint32_t j = 0; j < i; j++)
            if (m.entries[j].id == e->id)
                return errbuf_set(err, -EBADMSG, "people memory: track %u twice", e->id);
    }
    if (off != end)
        return errbuf_set(err, -EBADMSG, "people memory: %zu bytes after the last track",
                          end - off);
    *ret = m;
    return 0;
}
