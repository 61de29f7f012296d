/* extract_merge: the shards of a `crt extract --shard I/N` run, written into
 * one cache by several machines (a Slurm array job), made into the cache one
 * machine would have written: manifest.json and report.json, clips in the
 * same order, byte for byte. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "extract.h"

#define MERGE_MAX_SHARDS 100000

int extract_write_json(const char *path, json_t *value, struct errbuf *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (json_dump_file(value, tmp, JSON_INDENT(2)) < 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return errbuf_set(err, -EIO, "%s: cannot write", path);
    }
    return 0;
}

/* The shard count N of the cache's manifest-I-of-N.json files; fails when
 * there are none or when two splits are mixed. */
static int shard_count(const char *cache, int *ret_n, struct errbuf *err)
{
    DIR *d = opendir(cache);
    if (!d)
        return errbuf_set(err, -errno, "%s: %s", cache, strerror(errno));
    struct dirent *e;
    int n = 0, r = 0;
    char first[256] = "";
    while ((e = readdir(d)) && r == 0) {
        int i, count;
        char tail;
        if (sscanf(e->d_name, "manifest-%d-of-%d.jso%c", &i, &count, &tail) != 3 || tail != 'n')
            continue;
        if (count < 2 || count > MERGE_MAX_SHARDS || i < 1 || i > count)
            continue;
        if (n == 0) {
            n = count;
            str_copy(first, sizeof(first), e->d_name);
        } else if (count != n) {
            r = errbuf_set(err, -EINVAL,
                           "%s: shards of two splits (%s and %s): remove the stale manifests",
                           cache, first, e->d_name);
        }
    }
    closedir(d);
    if (r == 0 && n == 0)
        r = errbuf_set(err, -ENOENT, "%s: no shard manifests (manifest-I-of-N.json) to merge",
                       cache);
    if (r == 0)
        *ret_n = n;
    return r;
}

static int compare_clips(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "clip"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "clip"));
    return strcmp(x ? x : "", y ? y : "");
}

/* The entries of array sorted by their "clip", as one run lists them. */
static json_t *sorted_by_clip(json_t *array)
{
    size_t n = json_array_size(array);
    json_t **items = calloc(n ? n : 1, sizeof(*items));
    json_t *out = json_array();
    if (!items || !out) {
        free(items);
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(array, i);
    qsort(items, n, sizeof(*items), compare_clips);
    for (size_t i = 0; i < n; i++)
        json_array_append(out, items[i]);
    free(items);
    return out;
}

/* Adds one shard's manifest clips to all (checking each entry and that its
 * pose file is there), and its report's entries to left_out. */
static int merge_shard(const char *cache, int i, int n, json_t *all, json_t *left_out,
                       const char **source, double *fps, struct errbuf *err)
{
    char path[4200], pose[4200];
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/manifest-%d-of-%d.json", cache, i, n);
    json_t *manifest = json_load_file(path, 0, &jerr);
    if (!manifest)
        return errbuf_set(err, -EBADMSG, "%s:%d: %s", path, jerr.line, jerr.text);
    int r = 0;
    const char *src = NULL;
    double shard_fps = 0;
    json_t *clips = NULL;
    if (json_unpack_ex(manifest, &jerr, 0, "{s:s, s:F, s:o}", "source", &src, "fps", &shard_fps,
                       "clips", &clips) < 0 ||
        !json_is_array(clips)) {
        r = errbuf_set(err, -EBADMSG, "%s: not a crt extract manifest (%s)", path, jerr.text);
        goto done;
    }
    if (!*source) {
        *source = strdup(src);
        *fps = shard_fps;
        if (!*source) {
            r = errbuf_set(err, -ENOMEM, "out of memory");
            goto done;
        }
    } else if (strcmp(*source, src) != 0 || *fps != shard_fps) {
        r = errbuf_set(err, -EINVAL, "%s: shard of %s at %g fps, the others are of %s at %g fps",
                       path, src, shard_fps, *source, *fps);
        goto done;
    }
    size_t k;
    json_t *clip;
    json_array_foreach(clips, k, clip)
    {
        const char *name = json_string_value(json_object_get(clip, "clip"));
        const char *file = json_string_value(json_object_get(clip, "pose"));
        if (!name || !file || strchr(file, '/')) {
            r = errbuf_set(err, -EBADMSG, "%s: clip %zu has no clip or pose name", path, k + 1);
            goto done;
        }
        snprintf(pose, sizeof(pose), "%s/%s", cache, file);
        if (access(pose, R_OK) != 0) {
            r = errbuf_set(err, -ENOENT, "%s: listed in %s but missing", pose, path);
            goto done;
        }
        json_array_append(all, clip);
    }

    /* The shard's report is there only when it left clips out. */
    snprintf(path, sizeof(path), "%s/report-%d-of-%d.json", cache, i, n);
    if (access(path, F_OK) == 0) {
        json_t *report = json_load_file(path, 0, &jerr);
        if (!report || !json_is_array(report)) {
            r = errbuf_set(err, -EBADMSG, "%s:%d: %s", path, jerr.line,
                           report ? "not an array" : jerr.text);
            json_decref(report);
            goto done;
        }
        json_array_extend(left_out, report);
        json_decref(report);
    }
done:
    json_decref(manifest);
    return r;
}

/* A clip listed twice means two splits of different clip lists were mixed. */
static int check_unique(json_t *sorted, const char *cache, struct errbuf *err)
{
    for (size_t k = 1; k < json_array_size(sorted); k++)
        if (compare_clips(&(json_t *){json_array_get(sorted, k - 1)},
                          &(json_t *){json_array_get(sorted, k)}) == 0)
            return errbuf_set(
                err, -EINVAL, "%s: clip %s is in two shards", cache,
                json_string_value(json_object_get(json_array_get(sorted, k), "clip")));
    return 0;
}

int extract_merge(const char *cache, struct extract_merge_summary *ret_summary, struct errbuf *err)
{
    struct extract_merge_summary summary = {0};
    json_t *all = json_array(), *left_out = json_array(), *clips = NULL, *report = NULL;
    json_t *manifest = NULL;
    const char *source = NULL;
    double fps = 0;
    char path[4200];
    int n = 0;

    int r = shard_count(cache, &n, err);
    /* Every shard is there before any is read: a failed task is the likely
     * cause, and the one to name. */
    for (int i = 1; r == 0 && i <= n; i++) {
        snprintf(path, sizeof(path), "%s/manifest-%d-of-%d.json", cache, i, n);
        if (access(path, F_OK) != 0)
            r = errbuf_set(err, -ENOENT, "%s: shard %d of %d is missing (did its job fail?)", path,
                           i, n);
    }
    for (int i = 1; r == 0 && i <= n; i++)
        r = merge_shard(cache, i, n, all, left_out, &source, &fps, err);
    if (r < 0)
        goto done;
    clips = sorted_by_clip(all);
    report = sorted_by_clip(left_out);
    if (!clips || !report) {
        r = errbuf_set(err, -ENOMEM, "out of memory");
        goto done;
    }
    if ((r = check_unique(clips, cache, err)) < 0)
        goto done;
    /* The same object, in the same key order, as a single run writes. */
    manifest = json_pack("{s:s, s:f, s:O}", "source", source, "fps", fps, "clips", clips);
    snprintf(path, sizeof(path), "%s/manifest.json", cache);
    r = extract_write_json(path, manifest, err);
    if (r == 0 && json_array_size(report) > 0) {
        snprintf(path, sizeof(path), "%s/report.json", cache);
        r = extract_write_json(path, report, err);
    }
    if (r == 0) {
        summary.shards = n;
        summary.clips = (int)json_array_size(clips);
        summary.left_out = (int)json_array_size(report);
        *ret_summary = summary;
    }
done:
    free((char *)source);
    json_decref(manifest);
    json_decref(clips);
    json_decref(report);
    json_decref(all);
    json_decref(left_out);
    return r;
}
