/* archive_codec: a chunk's records as bytes and back (data.h, "the pose
 * archive"). Keypoints move little from one frame to the next, so each field
 * is kept as the difference from the same track's previous record, and the
 * bytes of each field sit together (byte planes): zlib then finds long runs
 * of near-zero bytes instead of interleaved coordinates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data.h"

/* The fields of a record as integers: track, ms, then x, y, score per
 * keypoint. */
#define FIELDS (2 + 3 * POSE_NUM_KEYPOINTS)

static unsigned field_bytes(int f)
{
    if (f < 2)
        return 4;
    return (f - 2) % 3 == 2 ? 1 : 2;
}

static uint32_t quantise(float v, uint32_t max)
{
    if (!(v > 0)) /* also NaN */
        return 0;
    if (v >= 1)
        return max;
    return (uint32_t)lrintf(v * (float)max);
}

static void record_fields(const struct pose_archive_record *r, double t_first, uint32_t *out)
{
    out[0] = r->track;
    double ms = round((r->wall - t_first) * 1000.0);
    out[1] = ms <= 0 ? 0 : ms >= 4294967295.0 ? UINT32_MAX : (uint32_t)ms;
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
        out[2 + 3 * k] = quantise(r->keypoints[k].x, POSE_ARCHIVE_XY_STEPS);
        out[3 + 3 * k] = quantise(r->keypoints[k].y, POSE_ARCHIVE_XY_STEPS);
        out[4 + 3 * k] = quantise(r->keypoints[k].score, POSE_ARCHIVE_SCORE_STEPS);
    }
}

static int record_order(const void *pa, const void *pb)
{
    const struct pose_archive_record *a = pa, *b = pb;
    if (a->track != b->track)
        return a->track < b->track ? -1 : 1;
    return (a->wall > b->wall) - (a->wall < b->wall);
}

int pose_archive_encode(struct pose_archive_record *recs, size_t n, void **ret_data,
                        size_t *ret_size, double *ret_t_first)
{
    if (n == 0 || n > POSE_ARCHIVE_CHUNK_MAX)
        return -EINVAL;
    qsort(recs, n, sizeof(*recs), record_order);
    double t_first = recs[0].wall;
    for (size_t i = 1; i < n; i++)
        t_first = fmin(t_first, recs[i].wall);
    t_first = floor(t_first * 1000.0) / 1000.0;

    size_t raw_size = n * POSE_ARCHIVE_RECORD_RAW;
    _cleanup_free_ uint8_t *raw = malloc(raw_size);
    _cleanup_free_ uint32_t(*vals)[FIELDS] = malloc(n * sizeof(*vals));
    if (!raw || !vals)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        record_fields(&recs[i], t_first, vals[i]);
    size_t plane = 0;
    /* One pass per field keeps each field's planes together. */
    for (int f = 0; f < FIELDS; f++) {
        unsigned nb = field_bytes(f);
        for (size_t i = 0; i < n; i++) {
            bool same = i > 0 && vals[i][0] == vals[i - 1][0];
            /* tracks: the difference from the last record's; the others from
             * the same track's last record */
            uint32_t base = f == 0 ? (i > 0 ? vals[i - 1][0] : 0) : same ? vals[i - 1][f] : 0;
            uint32_t d = vals[i][f] - base; /* wraps: undone the same way */
            for (unsigned b = 0; b < nb; b++)
                raw[(plane + b) * n + i] = (uint8_t)(d >> (8 * b));
        }
        plane += nb;
    }

    uLongf packed_size = compressBound((uLong)raw_size);
    uint8_t *packed = malloc(packed_size);
    if (!packed)
        return -ENOMEM;
    if (compress2(packed, &packed_size, raw, (uLong)raw_size, 6) != Z_OK) {
        free(packed);
        return -EIO;
    }
    *ret_data = packed;
    *ret_size = packed_size;
    *ret_t_first = t_first;
    return 0;
}

int pose_archive_decode(const void *data, size_t size, size_t n, double t_first,
                        struct pose_archive_record **ret_recs, struct errbuf *err)
{
    if (n == 0 || n > POSE_ARCHIVE_CHUNK_MAX)
        return errbuf_set(err, -EBADMSG, "pose archive: %zu records in a chunk (1 to %d)", n,
                          POSE_ARCHIVE_CHUNK_MAX);
    uLongf raw_size = (uLongf)(n * POSE_ARCHIVE_RECORD_RAW);
    _cleanup_free_ uint8_t *raw = malloc(raw_size);
    struct pose_archive_record *recs = calloc(n, sizeof(*recs));
    uint32_t(*vals)[FIELDS] = calloc(n, sizeof(*vals));
    if (!raw || !recs || !vals) {
        free(recs);
        free(vals);
        return -ENOMEM;
    }
    uLongf got = raw_size;
    if (uncompress(raw, &got, data, (uLong)size) != Z_OK || got != raw_size) {
        free(recs);
        free(vals);
        return errbuf_set(err, -EBADMSG, "pose archive: a chunk does not inflate to %zu records",
                          n);
    }
    size_t plane = 0;
    for (int f = 0; f < FIELDS; f++) {
        unsigned nb = field_bytes(f);
        for (size_t i = 0; i < n; i++) {
            uint32_t d = 0;
            for (unsigned b = 0; b < nb; b++)
                d |= (uint32_t)raw[(plane + b) * n + i] << (8 * b);
            /* The track is known before the other fields: field 0 first. */
            bool same = i > 0 && vals[i][0] == vals[i - 1][0];
            uint32_t base = f == 0 ? (i > 0 ? vals[i - 1][0] : 0) : same ? vals[i - 1][f] : 0;
            uint32_t v = d + base;
            if (nb == 2)
                v &= 0xffff;
            else if (nb == 1)
                v &= 0xff;
            vals[i][f] = v;
        }
        plane += nb;
    }
    for (size_t i = 0; i < n; i++)
        for (int f = 2; f < FIELDS; f++)
            if (vals[i][f] >
                ((f - 2) % 3 == 2 ? POSE_ARCHIVE_SCORE_STEPS : POSE_ARCHIVE_XY_STEPS)) {
                free(recs);
                free(vals);
                return errbuf_set(err, -EBADMSG, "pose archive: record %zu: a value out of range",
                                  i);
            }
    for (size_t i = 0; i < n; i++) {
        recs[i].track = vals[i][0];
        recs[i].wall = t_first + vals[i][1] / 1000.0;
        for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
            recs[i].keypoints[k].x = (float)vals[i][2 + 3 * k] / POSE_ARCHIVE_XY_STEPS;
            recs[i].keypoints[k].y = (float)vals[i][3 + 3 * k] / POSE_ARCHIVE_XY_STEPS;
            recs[i].keypoints[k].score = (float)vals[i][4 + 3 * k] / POSE_ARCHIVE_SCORE_STEPS;
        }
    }
    free(vals);
    *ret_recs = recs;
    return 0;
}
