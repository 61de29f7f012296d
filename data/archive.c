/* archive: one stream's pose archive on disk (data.h, "the pose archive") —
 * the writer (a buffer of records, written as a chunk every few seconds to
 * the folder's newest file; retention and the size cap remove whole old
 * files) and the reader (every file's chunks in order, up to the first bad
 * one).
 *
 * Why files and not SQLite: a chunk is a few kilobytes appended every ten
 * seconds by a camera's thread, which must never wait on the state store's
 * lock; old keypoints go by deleting whole files, which gives the space back
 * at once (SQLite keeps its file's size until a VACUUM); and a per-chunk
 * checksum makes a torn tail harmless without a journal writing every page
 * twice. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data.h"

#define BUFFER_RECORDS  4096
#define FILE_MAX_BYTES  (4u << 20) /* a file is closed past this ... */
#define FILE_MIN_BYTES  (64u << 10)
#define FILE_MAX_S      3600.0 /* ... or once this old */
#define DEFAULT_CHUNK_S 10.0

static const uint8_t chunk_magic[4] = {'C', 'P', 'A', '1'};

struct file_entry {
    char name[40];
    uint64_t bytes;
    double mtime;
};

struct pose_archive {
    pthread_mutex_t lock;
    char dir[PATH_MAX];
    struct pose_archive_options opts;
    uint64_t file_max;
    struct pose_archive_record *buf;
    size_t n;
    /* the file written now (fd < 0: none yet) */
    int fd;
    char name[40];
    uint64_t size;
    double opened;
    /* the folder's other files, oldest first */
    struct file_entry *files;
    size_t n_files, cap_files;
    struct pose_archive_stats stats;
};

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
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u32(p, (uint32_t)u);
    put_u32(p + 4, (uint32_t)(u >> 32));
}

static double get_f64(const uint8_t *p)
{
    uint64_t u = (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static bool is_archive_file(const char *name)
{
    size_t len = strlen(name), sl = strlen(POSE_ARCHIVE_SUFFIX);
    return len > sl && len < sizeof(((struct file_entry *)0)->name) &&
           strcmp(name + len - sl, POSE_ARCHIVE_SUFFIX) == 0 && name[0] != '.';
}

static int entry_order(const void *a, const void *b)
{
    return strcmp(((const struct file_entry *)a)->name, ((const struct file_entry *)b)->name);
}

/* The folder's archive files, oldest (lowest name: the start time) first. */
static int list_files(const char *dir, struct file_entry **ret, size_t *ret_n, size_t *ret_cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? (*ret = NULL, *ret_n = 0, 0) : -errno;
    struct file_entry *files = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_archive_file(e->d_name))
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, 0) < 0 || !S_ISREG(sb.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            struct file_entry *f = realloc(files, cap * sizeof(*files));
            if (!f) {
                free(files);
                closedir(d);
                return -ENOMEM;
            }
            files = f;
        }
        str_copy(files[n].name, sizeof(files[n].name), e->d_name);
        files[n].bytes = (uint64_t)sb.st_size;
        files[n].mtime = (double)sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec * 1e-9;
        n++;
    }
    closedir(d);
    if (n)
        qsort(files, n, sizeof(*files), entry_order);
    *ret = files;
    *ret_n = n;
    if (ret_cap)
        *ret_cap = cap;
    return 0;
}

/* ---- the writer ----------------------------------------------------------- */

static uint64_t total_bytes(const struct pose_archive *a)
{
    uint64_t total = a->fd >= 0 ? a->size : 0;
    for (size_t i = 0; i < a->n_files; i++)
        total += a->files[i].bytes;
    return total;
}

static void remove_oldest(struct pose_archive *a)
{
    char path[PATH_MAX + 48];
    snprintf(path, sizeof(path), "%s/%s", a->dir, a->files[0].name);
    if (unlink(path) < 0 && errno != ENOENT)
        log_debug("pose archive: removing %s: %s", path, strerror(errno));
    memmove(a->files, a->files + 1, (a->n_files - 1) * sizeof(*a->files));
    a->n_files--;
    a->stats.pruned_files++;
}

/* Retention and the size cap, over the files not written now. */
static void prune(struct pose_archive *a, double now)
{
    double before = a->opts.retention_days > 0 ? now - a->opts.retention_days * 86400.0 : -1;
    while (a->n_files > 0 && a->files[0].mtime < before)
        remove_oldest(a);
    while (a->n_files > 0 && a->opts.max_bytes > 0 && total_bytes(a) > a->opts.max_bytes)
        remove_oldest(a);
    a->stats.bytes = total_bytes(a);
    a->stats.files = a->n_files + (a->fd >= 0);
}

/* Closes the file written now; it joins the old files. */
static void file_close(struct pose_archive *a)
{
    if (a->fd < 0)
        return;
    fdatasync(a->fd); /* the file is whole before it counts as old */
    close(a->fd);
    a->fd = -1;
    if (a->size == 0) {
        char path[PATH_MAX + 48];
        snprintf(path, sizeof(path), "%s/%s", a->dir, a->name);
        unlink(path);
        return;
    }
    if (a->n_files == a->cap_files) {
        size_t cap = a->cap_files ? 2 * a->cap_files : 16;
        struct file_entry *f = realloc(a->files, cap * sizeof(*f));
        if (!f)
            return; /* it stays on disk, uncounted until the next open */
        a->files = f;
        a->cap_files = cap;
    }
    struct file_entry *e = &a->files[a->n_files++];
    str_copy(e->name, sizeof(e->name), a->name);
    e->bytes = a->size;
    e->mtime = time_wall_s();
}

/* A new file named by the time it starts, in milliseconds (so that names
 * sort as times do). */
static int file_new(struct pose_archive *a, double now)
{
    long long ms = (long long)(now * 1000.0);
    for (int tries = 0; tries < 100; tries++, ms++) {
        char path[PATH_MAX + 48];
        snprintf(a->name, sizeof(a->name), "%013lld%s", ms, POSE_ARCHIVE_SUFFIX);
        snprintf(path, sizeof(path), "%s/%s", a->dir, a->name);
        a->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (a->fd >= 0) {
            a->size = 0;
            a->opened = now;
            return 0;
        }
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -ENOSPC;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes the buffer as one chunk (lock held). A write that fails is cut off
 * the file again, so that later chunks follow a whole one; when even that
 * fails the file is closed and the next chunk starts a new one. */
static int flush_locked(struct pose_archive *a, struct errbuf *err)
{
    if (a->n == 0)
        return 0;
    double now = time_wall_s();
    size_t n = a->n;
    a->n = 0;
    _cleanup_free_ void *packed = NULL;
    size_t packed_size;
    double t_first;
    int r = pose_archive_encode(a->buf, n, &packed, &packed_size, &t_first);
    if (r < 0)
        goto fail;
    double t_last = a->buf[0].wall;
    for (size_t i = 1; i < n; i++)
        t_last = fmax(t_last, a->buf[i].wall);

    uint8_t hdr[POSE_ARCHIVE_CHUNK_HEADER];
    memcpy(hdr, chunk_magic, 4);
    put_u32(hdr + 4, (uint32_t)n);
    put_u32(hdr + 8, (uint32_t)(n * POSE_ARCHIVE_RECORD_RAW));
    put_u32(hdr + 12, (uint32_t)packed_size);
    put_f64(hdr + 16, t_first);
    put_f64(hdr + 24, t_last);
    uLong crc = crc32(0, hdr, 32);
    crc = crc32(crc, packed, (uInt)packed_size);
    put_u32(hdr + 32, (uint32_t)crc);

    if (a->fd >= 0 && (a->size >= a->file_max || now - a->opened >= FILE_MAX_S)) {
        file_close(a);
        prune(a, now);
    }
    if (a->fd < 0 && (r = file_new(a, now)) < 0)
        goto fail;
    if ((r = write_all(a->fd, hdr, sizeof(hdr))) < 0 ||
        (r = write_all(a->fd, packed, packed_size)) < 0) {
        if (ftruncate(a->fd, (off_t)a->size) < 0) {
            close(a->fd);
            a->fd = -1;
        } else {
            lseek(a->fd, (off_t)a->size, SEEK_SET);
        }
        goto fail;
    }
    a->size += sizeof(hdr) + packed_size;
    a->stats.chunks++;
    a->stats.records += n;
    a->stats.error[0] = '\0';
    prune(a, now);
    return 0;
fail:
    a->stats.failed_writes++;
    a->stats.dropped += n;
    char what[PATH_MAX + 128];
    snprintf(what, sizeof(what), "writing %s/%s: %s", a->dir, a->name, strerror(-r));
    str_copy(a->stats.error, sizeof(a->stats.error), what);
    return errbuf_set(err, r, "pose archive: %s", a->stats.error);
}

int pose_archive_open(const char *dir, const struct pose_archive_options *opts,
                      struct pose_archive **ret, struct errbuf *err)
{
    int r;
    if (strlen(dir) >= PATH_MAX - 48)
        return errbuf_set(err, -ENAMETOOLONG, "pose archive '%s': path too long", dir);
    if ((r = mkdir_parents(dir, 0750)) < 0)
        return errbuf_set(err, r, "pose archive '%s': %s", dir, strerror(-r));
    struct pose_archive *a = calloc(1, sizeof(*a));
    if (!a || !(a->buf = malloc(BUFFER_RECORDS * sizeof(*a->buf)))) {
        free(a);
        return -ENOMEM;
    }
    pthread_mutex_init(&a->lock, NULL);
    str_copy(a->dir, sizeof(a->dir), dir);
    a->opts = *opts;
    if (!(a->opts.chunk_s > 0))
        a->opts.chunk_s = DEFAULT_CHUNK_S;
    /* A file is an eighth of the cap at most, so the cap removes little at a
     * time. */
    a->file_max = FILE_MAX_BYTES;
    if (a->opts.max_bytes > 0 && a->opts.max_bytes / 8 < a->file_max)
        a->file_max =
            a->opts.max_bytes / 8 > FILE_MIN_BYTES ? a->opts.max_bytes / 8 : FILE_MIN_BYTES;
    a->fd = -1;
    if ((r = list_files(dir, &a->files, &a->n_files, &a->cap_files)) < 0) {
        r = errbuf_set(err, r, "pose archive '%s': %s", dir, strerror(-r));
        pose_archive_close(a);
        return r;
    }
    prune(a, time_wall_s());
    *ret = a;
    return 0;
}

struct pose_archive *pose_archive_close(struct pose_archive *a)
{
    if (!a)
        return NULL;
    pthread_mutex_lock(&a->lock);
    flush_locked(a, NULL);
    file_close(a);
    pthread_mutex_unlock(&a->lock);
    pthread_mutex_destroy(&a->lock);
    free(a->files);
    free(a->buf);
    free(a);
    return NULL;
}

int pose_archive_append(struct pose_archive *a, const struct pose_archive_record *rec)
{
    int r = 0;
    pthread_mutex_lock(&a->lock);
    a->buf[a->n++] = *rec;
    if (a->n == BUFFER_RECORDS || fabs(rec->wall - a->buf[0].wall) >= a->opts.chunk_s)
        r = flush_locked(a, NULL);
    pthread_mutex_unlock(&a->lock);
    return r;
}

int pose_archive_flush(struct pose_archive *a, struct errbuf *err)
{
    pthread_mutex_lock(&a->lock);
    int r = flush_locked(a, err);
    pthread_mutex_unlock(&a->lock);
    return r;
}

void pose_archive_stats(struct pose_archive *a, struct pose_archive_stats *ret)
{
    pthread_mutex_lock(&a->lock);
    *ret = a->stats;
    pthread_mutex_unlock(&a->lock);
}

int pose_archive_remove(const char *dir, struct errbuf *err)
{
    struct file_entry *files;
    size_t n;
    int r = list_files(dir, &files, &n, NULL);
    if (r < 0)
        return errbuf_set(err, r, "pose archive '%s': %s", dir, strerror(-r));
    for (size_t i = 0; i < n && r >= 0; i++) {
        char path[PATH_MAX + 48];
        snprintf(path, sizeof(path), "%.*s/%s", PATH_MAX - 1, dir, files[i].name);
        if (unlink(path) < 0 && errno != ENOENT)
            r = errbuf_set(err, -errno, "pose archive: removing %s: %s", path, strerror(errno));
    }
    free(files);
    if (r >= 0 && rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY)
        r = errbuf_set(err, -errno, "pose archive: removing %s: %s", dir, strerror(errno));
    return r;
}

/* ---- the reader ----------------------------------------------------------- */

struct records {
    struct pose_archive_record *v;
    size_t n, cap;
};

static int records_take(struct records *out, const struct pose_archive_record *recs, size_t n,
                        double since, double until, uint32_t track)
{
    for (size_t i = 0; i < n; i++) {
        const struct pose_archive_record *r = &recs[i];
        if (r->wall < since || r->wall > until || (track && r->track != track))
            continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? 2 * out->cap : 1024;
            struct pose_archive_record *v = realloc(out->v, cap * sizeof(*v));
            if (!v)
                return -ENOMEM;
            out->v = v;
            out->cap = cap;
        }
        out->v[out->n++] = *r;
    }
    return 0;
}

/* Reads one file's chunks up to the first bad one. */
static int read_file(const char *path, double since, double until, uint32_t track,
                     struct records *out, struct pose_archive_read_report *rep)
{
    _cleanup_fclose_ FILE *f = fopen(path, "rbe");
    if (!f)
        return errno == ENOENT ? 0 : -errno; /* removed by retention meanwhile */
    rep->files++;
    for (;;) {
        uint8_t hdr[POSE_ARCHIVE_CHUNK_HEADER];
        size_t got = fread(hdr, 1, sizeof(hdr), f);
        if (got == 0 && feof(f))
            return 0;
        uint32_t n = got == sizeof(hdr) ? get_u32(hdr + 4) : 0;
        uint32_t packed_size = got == sizeof(hdr) ? get_u32(hdr + 12) : 0;
        if (got != sizeof(hdr) || memcmp(hdr, chunk_magic, 4) != 0 || n == 0 ||
            n > POSE_ARCHIVE_CHUNK_MAX || get_u32(hdr + 8) != n * POSE_ARCHIVE_RECORD_RAW ||
            packed_size > compressBound(n * POSE_ARCHIVE_RECORD_RAW)) {
            rep->bad_chunks++;
            return 0;
        }
        _cleanup_free_ uint8_t *packed = malloc(packed_size ? packed_size : 1);
        if (!packed)
            return -ENOMEM;
        if (fread(packed, 1, packed_size, f) != packed_size) {
            rep->bad_chunks++;
            return 0;
        }
        uLong crc = crc32(crc32(0, hdr, 32), packed, packed_size);
        if ((uint32_t)crc != get_u32(hdr + 32)) {
            rep->bad_chunks++;
            return 0;
        }
        rep->chunks++;
        double t_first = get_f64(hdr + 16), t_last = get_f64(hdr + 24);
        if (t_last < since || t_first > until)
            continue;
        struct pose_archive_record *recs;
        if (pose_archive_decode(packed, packed_size, n, t_first, &recs, NULL) < 0) {
            rep->bad_chunks++;
            return 0;
        }
        int r = records_take(out, recs, n, since, until, track);
        free(recs);
        if (r < 0)
            return r;
    }
}

static int record_order(const void *pa, const void *pb)
{
    const struct pose_archive_record *a = pa, *b = pb;
    if (a->track != b->track)
        return a->track < b->track ? -1 : 1;
    return (a->wall > b->wall) - (a->wall < b->wall);
}

int pose_archive_read(const char *dir, double since, double until, uint32_t track,
                      struct pose_archive_record **ret_recs, size_t *ret_n,
                      struct pose_archive_read_report *report, struct errbuf *err)
{
    struct pose_archive_read_report rep = {0};
    struct records out = {0};
    _cleanup_free_ struct file_entry *files = NULL;
    size_t n_files;
    int r = list_files(dir, &files, &n_files, NULL);
    if (r < 0)
        return errbuf_set(err, r, "pose archive '%s': %s", dir, strerror(-r));
    for (size_t i = 0; i < n_files; i++) {
        /* A file last written before since holds nothing newer: its records
         * were stamped before they were written (the daemon's clock). */
        if (files[i].mtime < since - 1)
            continue;
        char path[PATH_MAX + 48];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        if ((r = read_file(path, since, until, track, &out, &rep)) < 0) {
            free(out.v);
            return errbuf_set(err, r, "pose archive '%s': %s", path, strerror(-r));
        }
    }
    if (out.n)
        qsort(out.v, out.n, sizeof(*out.v), record_order);
    if (report)
        *report = rep;
    *ret_recs = out.v;
    *ret_n = out.n;
    return 0;
}
