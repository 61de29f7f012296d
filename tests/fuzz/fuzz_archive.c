/* libFuzzer target: pose archive files (.cpa, data/archive.c) on any bytes.
 * The reader must stop at the first bad chunk without a fault, and what it
 * gives keeps the archive's promises: coordinates and scores in [0, 1],
 * sorted by track and time. The same bytes also go straight to the chunk
 * decoder with a record count taken from them. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_files.h"
#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct pose_archive_record *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
            const struct pose_keypoint *p = &recs[i].keypoints[k];
            if (!(p->x >= 0 && p->x <= 1 && p->y >= 0 && p->y <= 1 && p->score >= 0 &&
                  p->score <= 1))
                abort();
        }
        if (i > 0 && (recs[i].track < recs[i - 1].track ||
                      (recs[i].track == recs[i - 1].track && recs[i].wall < recs[i - 1].wall)))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/archive", fuzz_dir());
    mkdir(dir, 0700);
    fuzz_write("archive/0000000000001.cpa", data, size);
    struct pose_archive_record *recs = NULL;
    size_t n = 0;
    if (pose_archive_read(dir, -1e300, 1e300, 0, &recs, &n, NULL, NULL) == 0)
        check(recs, n);
    free(recs);

    if (size >= 2) {
        size_t records = 1 + (((size_t)data[0] | (size_t)data[1] << 8) % 4096);
        if (pose_archive_decode(data + 2, size - 2, records, 1e9, &recs, NULL) == 0) {
            check(recs, records);
            free(recs);
        }
    }
    return 0;
}
