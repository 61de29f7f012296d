/* extract: a folder of clips into a pose cache, as `crt extract` does it and
 * as `crt eval` does it first when handed a folder of clips. */
#ifndef CRTD_TOOLS_EXTRACT_H
#define CRTD_TOOLS_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base.h"

struct extract_options {
    const char *dir, *out; /* clip folder, cache folder */
    double fps;
    const char *pose; /* lightning, thunder or a movenet .json */
    int jobs;
    int shard, shards; /* 1-based shard of N */
    bool progress;     /* a progress line on stderr */
    /* The motion gate (clip_pose.h) at this pose rate on a still person; 0:
     * pose on every sampled frame. */
    double still_pose_fps;
};

struct extract_summary {
    int clips, extracted, already_done, unparsable, failed;
    double seconds;       /* wall time of the run */
    double video_seconds; /* of the clips extracted in this run, at the sampling rate */
    uint64_t frames, gated, pose_frames; /* of the clips extracted in this run */
    json_t *left_out;                    /* [{clip, problem, message}], owned by the caller */
};

int extract_folder(const struct extract_options *opts, struct extract_summary *ret_summary,
                   struct errbuf *err);
bool extract_folder_has_videos(const char *dir);

struct extract_merge_summary {
    int shards, clips, left_out;
};

/* Merges the shard manifests and reports that `--shard I/N` runs wrote into
 * one cache (manifest-I-of-N.json, report-I-of-N.json) into its
 * manifest.json and report.json, as one run over the whole folder writes
 * them. Fails, writing nothing, when a shard is missing, two splits are
 * mixed, shards disagree on the source or the rate, a clip is in two shards,
 * or a listed pose file is not in the cache. */
int extract_merge(const char *cache, struct extract_merge_summary *ret_summary, struct errbuf *err);
/* Writes value as indented JSON to path, atomically. */
int extract_write_json(const char *path, json_t *value, struct errbuf *err);
/* DIR-pose beside DIR. */
void extract_default_cache(char *buf, size_t size, const char *dir);

#endif
