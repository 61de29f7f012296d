/* crt archive: what crtd's pose archive costs on disk for one video — every
 * confirmed track's keypoints of every sampled frame (pose_run_people, then
 * the person tracker, as crtd runs them) written by the archive's own writer
 * (data.h, "the pose archive"), and the bytes per camera-hour beside what
 * zlib makes of the same records kept as plain floats. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <libavutil/log.h>

#include "clip_pose.h"
#include "commands.h"
#include "data.h"
#include "people.h"
#include "pose.h"
#include "pose_cli.h"

/* A plain record, as a store without quantising would keep it: time,
 * track, 17 x (x, y, score) as floats. */
#define PLAIN_RECORD (8 + 4 + POSE_NUM_KEYPOINTS * 3 * 4)

struct archive_run {
    struct people *people;
    struct pose_archive *archive;
    double wall0; /* the wall clock a frame's pts counts from */
    long max_frames, frames;
    uint64_t records;
    unsigned char *plain; /* every record as plain floats, for the peer */
    size_t plain_size, plain_cap;
    int error;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: crt archive [options] --out DIR FILE\n\n"
                 "Writes the pose archive crtd would keep of one video into DIR (every\n"
                 "confirmed person track's keypoints of every sampled frame, quantised and\n"
                 "compressed in chunks), then prints its size per camera-hour beside zlib\n"
                 "of the same records as plain floats. DIR should be new or empty.\n\n"
                 "options:\n"
                 "  --out DIR         where the archive goes (required)\n"
                 "  --model MODEL     multipose (default), lightning, thunder, or a movenet .json\n"
                 "  --models DIR      where the named models are looked up\n"
                 "  --side N          the input's long side, a multiple of 32 (default 256)\n"
                 "  --fps F           frames sampled per second (default 10)\n"
                 "  --max-frames N    stop after N sampled frames\n");
}

static int plain_add(struct archive_run *run, const struct pose_archive_record *r)
{
    if (run->plain_size + PLAIN_RECORD > run->plain_cap) {
        size_t cap = run->plain_cap ? 2 * run->plain_cap : 1 << 20;
        unsigned char *p = realloc(run->plain, cap);
        if (!p)
            return -ENOMEM;
        run->plain = p;
        run->plain_cap = cap;
    }
    unsigned char *p = run->plain + run->plain_size;
    memcpy(p, &r->wall, 8);
    memcpy(p + 8, &r->track, 4);
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
        float v[3] = {r->keypoints[k].x, r->keypoints[k].y, r->keypoints[k].score};
        memcpy(p + 12 + 12 * k, v, sizeof(v));
    }
    run->plain_size += PLAIN_RECORD;
    return 0;
}

static int on_people(void *ctx, const struct video_frame *frame, const struct pose_person *people,
                     int n)
{
    struct archive_run *run = ctx;
    people_frame(run->people, people, n, frame->pts, frame->pts, NULL);
    /* Without a segment model the people library keeps tracks only: its
     * tracker's confirmed tracks seen in this frame are what crtd archives. */
    const struct pose_tracker *tracker = people_tracker(run->people);
    for (int i = 0; i < pose_tracker_count(tracker); i++) {
        const struct pose_track *t = pose_tracker_track(tracker, i);
        if (!t->confirmed || !t->seen)
            continue;
        struct pose_archive_record rec = {.wall = run->wall0 + frame->pts, .track = t->id};
        memcpy(rec.keypoints, t->person.keypoints, sizeof(rec.keypoints));
        if ((run->error = plain_add(run, &rec)) < 0 ||
            (run->error = pose_archive_append(run->archive, &rec)) < 0)
            return 1;
        run->records++;
    }
    return run->max_frames && ++run->frames >= run->max_frames;
}

int cmd_archive(int argc, char **argv)
{
    static const struct option longopts[] = {
        POSE_CLI_PEOPLE_OPTIONS,
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct pose_cli_people o;
    char pose_path[4096];
    const char *out = NULL;
    struct pose_model *pose = NULL;
    struct pose_context *context = NULL;
    struct archive_run run = {0};
    struct errbuf err = {0};
    int c, r, status = 1;

    pose_cli_people_default(&o);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int shared = pose_cli_people_option(&o, c, optarg, "archive");
        if (shared < 0)
            return EXIT_USAGE;
        if (shared)
            continue;
        if (c == 'o') {
            out = optarg;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            cli_error("archive", "unknown or incomplete option '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !out) {
        cli_error("archive", !out             ? "--out DIR is required"
                             : optind == argc ? "a video file is required"
                                              : "one video at a time");
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *file = argv[optind];
    blas_set_threads(1);
    av_log_set_level(AV_LOG_FATAL);

    struct pose_archive_options aopts = {0};
    if ((r = pose_cli_open(o.pose_name, o.models_dir, pose_path, sizeof(pose_path), &pose, &context,
                           &err)) < 0 ||
        (r = people_new(NULL, 0, &run.people, &err)) < 0 ||
        (r = pose_archive_open(out, &aopts, &run.archive, &err)) < 0) {
        cli_error("archive", "%s", errbuf_text(&err, r));
        goto done;
    }
    run.max_frames = o.max_frames;
    run.wall0 = time_wall_s();
    r = clip_pose_read_people(file, o.fps, context, (int)o.side, NULL, on_people, &run, &err);
    if (r < 0 || run.error < 0) {
        cli_error("archive", "%s", errbuf_text(&err, r < 0 ? r : run.error));
        goto done;
    }
    long frames = r;
    struct pose_archive_stats st;
    if ((r = pose_archive_flush(run.archive, &err)) < 0) {
        cli_error("archive", "%s", errbuf_text(&err, r));
        goto done;
    }
    pose_archive_stats(run.archive, &st);
    /* The peer: zlib (the same level) over the plain records. */
    uLongf zsize = compressBound((uLong)run.plain_size);
    unsigned char *z = malloc(zsize ? zsize : 1);
    if (!z || compress2(z, &zsize, run.plain ? run.plain : (const Bytef *)"", run.plain_size, 6) !=
                  Z_OK) {
        free(z);
        cli_error("archive", "zlib of the plain records failed");
        goto done;
    }
    free(z);
    double seconds = frames / o.fps;
    double per_hour = seconds > 0 ? (double)st.bytes * 3600.0 / seconds : 0;
    double plain_hour = seconds > 0 ? (double)zsize * 3600.0 / seconds : 0;
    printf("%s: %ld frames at %g fps (%.1f s), %llu track frames (%.2f people per frame)\n", file,
           frames, o.fps, seconds, (unsigned long long)run.records,
           frames ? (double)run.records / (double)frames : 0);
    printf("archive: %llu bytes in %llu chunks, %.1f bytes per track frame, %.2f MB per "
           "camera-hour\n",
           (unsigned long long)st.bytes, (unsigned long long)st.chunks,
           run.records ? (double)st.bytes / (double)run.records : 0, per_hour / 1e6);
    printf("zlib of plain floats: %lu bytes, %.1f bytes per track frame, %.2f MB per "
           "camera-hour\n",
           (unsigned long)zsize, run.records ? (double)zsize / (double)run.records : 0,
           plain_hour / 1e6);
    status = 0;
done:
    free(run.plain);
    pose_archive_close(run.archive);
    people_free(run.people);
    pose_context_free(context);
    pose_model_free(pose);
    return status;
}
