/* The pose archive (data/archive.c, archive_codec.c): records through the
 * codec and through files on disk and back, retention and the size cap, a
 * torn tail chunk (a kill in the middle of a write), a damaged byte, and a
 * write that fails half-way (a full disk, made real by RLIMIT_FSIZE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>

#include <cmocka.h>

#include "data.h"

/* A person moving about, as a pose estimator would give it. */
static void make_record(struct pose_archive_record *r, struct rng *rng, double wall, uint32_t track)
{
    r->wall = wall;
    r->track = track;
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
        r->keypoints[k].x =
            (float)(0.3 + 0.02 * k + 0.1 * sin(wall + track) + 0.002 * rng_normal(rng));
        r->keypoints[k].y = (float)(0.2 + 0.035 * k + 0.002 * rng_normal(rng));
        r->keypoints[k].score = (float)rng_uniform(rng);
    }
}

/* The worst difference between two records of the same frame; fails when
 * they are not the same frame. */
static double record_error(const struct pose_archive_record *a, const struct pose_archive_record *b)
{
    assert_int_equal(a->track, b->track);
    double worst = fabs(a->wall - b->wall) > 0.0011 ? INFINITY : 0;
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
        const double xy = POSE_ARCHIVE_XY_STEPS / 0.5, score = POSE_ARCHIVE_SCORE_STEPS / 0.5;
        worst = fmax(worst, fabs(a->keypoints[k].x - b->keypoints[k].x) * xy);
        worst = fmax(worst, fabs(a->keypoints[k].y - b->keypoints[k].y) * xy);
        worst = fmax(worst, fabs(a->keypoints[k].score - b->keypoints[k].score) * score);
    }
    return worst; /* in half quantisation steps: about 1 at most */
}

static int by_track_time(const void *pa, const void *pb)
{
    const struct pose_archive_record *a = pa, *b = pb;
    if (a->track != b->track)
        return a->track < b->track ? -1 : 1;
    return (a->wall > b->wall) - (a->wall < b->wall);
}

static void codec_round_trip_within_a_quantisation_step(void **state)
{
    enum { N = 600 };
    struct rng rng;
    rng_seed(&rng, 7);
    struct pose_archive_record *recs = calloc(N, sizeof(*recs)), *copy = calloc(N, sizeof(*copy));
    for (int i = 0; i < N; i++) /* three tracks, interleaved */
        make_record(&recs[i], &rng, 1.7e9 + 0.1 * (i / 3), (uint32_t)(1 + i % 3) * 1000);
    memcpy(copy, recs, N * sizeof(*recs));
    void *data;
    size_t size;
    double t_first;
    assert_int_equal(pose_archive_encode(recs, N, &data, &size, &t_first), 0);
    struct pose_archive_record *back;
    assert_int_equal(pose_archive_decode(data, size, N, t_first, &back, NULL), 0);
    qsort(copy, N, sizeof(*copy), by_track_time);
    double worst = 0;
    for (int i = 0; i < N; i++)
        worst = fmax(worst, record_error(&copy[i], &back[i]));
    printf("codec: %d records in %zu bytes (%.1f a record, %d raw); worst error %.2f half "
           "steps\n",
           N, size, (double)size / N, POSE_ARCHIVE_RECORD_RAW, worst);
    assert_true(worst <= 1.01); /* half a step, and float rounding */
    assert_true(size < (size_t)N * POSE_ARCHIVE_RECORD_RAW);
    /* A damaged payload does not decode as records. */
    ((unsigned char *)data)[size / 2] ^= 0x55;
    struct pose_archive_record *bad = NULL;
    struct errbuf err;
    int r = pose_archive_decode(data, size, N, t_first, &bad, &err);
    if (r == 0) /* zlib's own check missed it: the chunk's CRC is what catches it on disk */
        free(bad);
    free(back);
    free(data);
    free(recs);
    free(copy);
}

static char *tmp_dir(const char *name)
{
    const char *base = getenv("CRTD_TEST_TMP");
    char *dir = malloc(4096);
    snprintf(dir, 4096, "%s/archive-%s-%d", base ? base : "/tmp", name, (int)getpid());
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return dir;
}

/* The archive files of dir, oldest first, into names (at most 64). */
static int list_archive(const char *dir, char names[][256])
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    if (!d)
        return 0;
    while ((e = readdir(d)) && n < 64)
        if (strstr(e->d_name, POSE_ARCHIVE_SUFFIX))
            snprintf(names[n++], 256, "%.190s/%.60s", dir, e->d_name);
    closedir(d);
    qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
    return n;
}

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

/* Writes `chunks` chunks of `per` records (two tracks) at 10 fps from t0. */
static void write_chunks(struct pose_archive *a, struct rng *rng, double t0, int chunks, int per,
                         struct pose_archive_record *keep)
{
    for (int c = 0; c < chunks; c++) {
        for (int i = 0; i < per; i++) {
            struct pose_archive_record r;
            make_record(&r, rng, t0 + 0.1 * (c * per + i) / 2, 1 + (uint32_t)(i % 2));
            if (keep)
                keep[c * per + i] = r;
            assert_int_equal(pose_archive_append(a, &r), 0);
        }
        assert_int_equal(pose_archive_flush(a, NULL), 0);
    }
}

static void files_round_trip_and_reopen(void **state)
{
    char *dir = tmp_dir("round");
    struct pose_archive_options opts = {.retention_days = 7, .max_bytes = 64 << 20};
    struct pose_archive *a;
    struct errbuf err;
    struct rng rng;
    rng_seed(&rng, 11);
    double t0 = time_wall_s() - 100;
    struct pose_archive_record keep[2 * 300];
    assert_int_equal(pose_archive_open(dir, &opts, &a, &err), 0);
    write_chunks(a, &rng, t0, 3, 100, keep);
    a = pose_archive_close(a);
    /* A second run (a restart) writes a file of its own. */
    assert_int_equal(pose_archive_open(dir, &opts, &a, &err), 0);
    write_chunks(a, &rng, t0 + 20, 3, 100, keep + 300);
    struct pose_archive_stats st;
    pose_archive_stats(a, &st);
    assert_int_equal(st.chunks, 3);
    assert_int_equal(st.records, 300);
    a = pose_archive_close(a);
    char names[64][256];
    assert_int_equal(list_archive(dir, names), 2);

    struct pose_archive_record *back;
    size_t n;
    struct pose_archive_read_report rep;
    assert_int_equal(pose_archive_read(dir, t0 - 1, t0 + 1000, 0, &back, &n, &rep, &err), 0);
    assert_int_equal(n, 600);
    assert_int_equal(rep.chunks, 6);
    assert_int_equal(rep.bad_chunks, 0);
    qsort(keep, 600, sizeof(keep[0]), by_track_time);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, record_error(&keep[i], &back[i]));
    assert_true(worst <= 1.01); /* half a step, and float rounding */
    free(back);

    /* A window and a track. */
    assert_int_equal(pose_archive_read(dir, t0 + 5, t0 + 10, 2, &back, &n, NULL, &err), 0);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++)
        assert_true(back[i].track == 2 && back[i].wall >= t0 + 5 && back[i].wall <= t0 + 10);
    size_t expect = 0;
    for (int i = 0; i < 600; i++)
        expect += keep[i].track == 2 && keep[i].wall >= t0 + 5 && keep[i].wall <= t0 + 10;
    assert_int_equal(n, expect);
    free(back);
    /* A folder that is not there holds nothing. */
    assert_int_equal(pose_archive_read("/nonexistent/crtd", 0, 1e12, 0, &back, &n, NULL, &err), 0);
    assert_int_equal(n, 0);
    free(dir);
}

static void torn_tail_and_damaged_chunk_stop_the_reader(void **state)
{
    char *dir = tmp_dir("torn");
    struct pose_archive_options opts = {0};
    struct pose_archive *a;
    struct rng rng;
    rng_seed(&rng, 3);
    double t0 = time_wall_s() - 100;
    assert_int_equal(pose_archive_open(dir, &opts, &a, NULL), 0);
    write_chunks(a, &rng, t0, 4, 50, NULL);
    a = pose_archive_close(a);
    char names[64][256];
    assert_int_equal(list_archive(dir, names), 1);
    off_t whole = file_size(names[0]);

    /* A kill in the middle of the last chunk: the file ends inside it. */
    for (off_t cut = 1; cut < 60; cut += 7) {
        char tmp[600];
        snprintf(tmp, sizeof(tmp), "cp '%s' '%s.keep'", names[0], names[0]);
        assert_int_equal(system(tmp), 0);
        assert_int_equal(truncate(names[0], whole - cut), 0);
        struct pose_archive_record *back;
        size_t n;
        struct pose_archive_read_report rep;
        assert_int_equal(pose_archive_read(dir, 0, 1e12, 0, &back, &n, &rep, NULL), 0);
        assert_int_equal(rep.chunks, 3);
        assert_int_equal(rep.bad_chunks, 1);
        assert_int_equal(n, 150);
        free(back);
        snprintf(tmp, sizeof(tmp), "mv '%s.keep' '%s'", names[0], names[0]);
        assert_int_equal(system(tmp), 0);
    }

    /* The writer after the kill starts a file of its own: what it writes is
     * read although the old file's tail is torn. */
    assert_int_equal(truncate(names[0], whole - 5), 0);
    assert_int_equal(pose_archive_open(dir, &opts, &a, NULL), 0);
    write_chunks(a, &rng, t0 + 50, 2, 50, NULL);
    a = pose_archive_close(a);
    struct pose_archive_record *back;
    size_t n;
    struct pose_archive_read_report rep;
    assert_int_equal(pose_archive_read(dir, 0, 1e12, 0, &back, &n, &rep, NULL), 0);
    assert_int_equal(n, 150 + 100);
    assert_int_equal(rep.bad_chunks, 1);
    free(back);

    /* One flipped byte in the second chunk of the first file: the reader
     * keeps the first chunk only of that file. */
    FILE *f = fopen(names[0], "r+b");
    assert_non_null(f);
    long second = 0;
    unsigned char hdr[POSE_ARCHIVE_CHUNK_HEADER];
    assert_int_equal(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
    second = (long)sizeof(hdr) + (long)(hdr[12] | hdr[13] << 8 | hdr[14] << 16 | hdr[15] << 24);
    fseek(f, second + POSE_ARCHIVE_CHUNK_HEADER + 3, SEEK_SET);
    int c = fgetc(f);
    fseek(f, second + POSE_ARCHIVE_CHUNK_HEADER + 3, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
    assert_int_equal(pose_archive_read(dir, 0, 1e12, 0, &back, &n, &rep, NULL), 0);
    assert_int_equal(n, 50 + 100);
    assert_int_equal(rep.bad_chunks, 1);
    free(back);
    free(dir);
}

static void retention_and_size_cap_remove_old_files(void **state)
{
    char *dir = tmp_dir("cap");
    struct rng rng;
    rng_seed(&rng, 5);
    double t0 = time_wall_s() - 100;
    /* Five runs, a file each. */
    for (int run = 0; run < 5; run++) {
        struct pose_archive_options opts = {0};
        struct pose_archive *a;
        assert_int_equal(pose_archive_open(dir, &opts, &a, NULL), 0);
        write_chunks(a, &rng, t0 + 20 * run, 2, 200, NULL);
        a = pose_archive_close(a);
    }
    char names[64][256];
    assert_int_equal(list_archive(dir, names), 5);
    off_t total = 0;
    for (int i = 0; i < 5; i++)
        total += file_size(names[i]);

    /* A cap of a bit more than three files keeps the newest three. */
    off_t three = file_size(names[2]) + file_size(names[3]) + file_size(names[4]);
    struct pose_archive_options capped = {.max_bytes = (uint64_t)three + 16};
    struct pose_archive *a;
    assert_int_equal(pose_archive_open(dir, &capped, &a, NULL), 0);
    struct pose_archive_stats st;
    pose_archive_stats(a, &st);
    assert_int_equal(st.pruned_files, 2);
    assert_true(st.bytes <= capped.max_bytes);
    a = pose_archive_close(a);
    char left[64][256];
    assert_int_equal(list_archive(dir, left), 3);
    assert_string_equal(left[0], names[2]);
    printf("size cap: %lld of %lld bytes kept under a cap of %llu\n", (long long)three,
           (long long)total, (unsigned long long)capped.max_bytes);

    /* Retention: the oldest file's last write made two days old. */
    struct timespec old[2] = {{.tv_sec = (time_t)(time_wall_s() - 2 * 86400)},
                              {.tv_sec = (time_t)(time_wall_s() - 2 * 86400)}};
    assert_int_equal(utimensat(AT_FDCWD, left[0], old, 0), 0);
    struct pose_archive_options keep_one_day = {.retention_days = 1};
    assert_int_equal(pose_archive_open(dir, &keep_one_day, &a, NULL), 0);
    pose_archive_stats(a, &st);
    assert_int_equal(st.pruned_files, 1);
    a = pose_archive_close(a);
    assert_int_equal(list_archive(dir, left), 2);
    assert_string_equal(left[0], names[3]);
    /* Removed with its folder; a folder that is not there is fine. */
    assert_int_equal(pose_archive_remove(dir, NULL), 0);
    assert_int_equal(access(dir, F_OK), -1);
    assert_int_equal(pose_archive_remove(dir, NULL), 0);
    free(dir);
}

/* A full disk, for real: the file size limit makes write() fail half-way
 * through a chunk, as ENOSPC would. The writer counts it, cuts the torn
 * chunk off, and goes on once there is room. */
static void failed_write_leaves_the_file_readable(void **state)
{
    char *dir = tmp_dir("full");
    struct pose_archive_options opts = {0};
    struct pose_archive *a;
    struct rng rng;
    rng_seed(&rng, 9);
    double t0 = time_wall_s() - 100;
    assert_int_equal(pose_archive_open(dir, &opts, &a, NULL), 0);
    write_chunks(a, &rng, t0, 2, 200, NULL);
    char names[64][256];
    assert_int_equal(list_archive(dir, names), 1);
    off_t good = file_size(names[0]);

    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)good + 50; /* room for a header and a bit */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    for (int i = 0; i < 200; i++) {
        struct pose_archive_record r;
        make_record(&r, &rng, t0 + 30 + 0.05 * i, 1);
        pose_archive_append(a, &r);
    }
    struct errbuf err;
    assert_true(pose_archive_flush(a, &err) < 0);
    printf("full disk: %s\n", err.msg);
    struct pose_archive_stats st;
    pose_archive_stats(a, &st);
    assert_int_equal(st.failed_writes, 1);
    assert_int_equal(st.dropped, 200);
    assert_true(st.error[0] != '\0');
    assert_int_equal(file_size(names[0]), good); /* the torn chunk was cut off */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);

    /* Room again: the next chunk follows the whole ones. */
    write_chunks(a, &rng, t0 + 60, 1, 100, NULL);
    pose_archive_stats(a, &st);
    assert_true(st.error[0] == '\0');
    a = pose_archive_close(a);
    struct pose_archive_record *back;
    size_t n;
    struct pose_archive_read_report rep;
    assert_int_equal(pose_archive_read(dir, 0, 1e12, 0, &back, &n, &rep, NULL), 0);
    assert_int_equal(n, 400 + 100);
    assert_int_equal(rep.bad_chunks, 0);
    free(back);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_round_trip_within_a_quantisation_step),
        cmocka_unit_test(files_round_trip_and_reopen),
        cmocka_unit_test(torn_tail_and_damaged_chunk_stop_the_reader),
        cmocka_unit_test(retention_and_size_cap_remove_old_files),
        cmocka_unit_test(failed_write_leaves_the_file_readable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
