/* crt track: how the multi-person path follows the people of one video —
 * pose_run_people on every sampled frame, the people library's tracker
 * (tracks only: no segment model), and its tracking figures (people.h,
 * people_stats): people per frame, tracks started and confirmed, how long
 * confirmed tracks live, and re-identifications per minute, the stand-in for
 * id switches without ground truth. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <libavutil/log.h>

#include "clip_pose.h"
#include "commands.h"
#include "people.h"
#include "pose.h"
#include "pose_cli.h"

struct track_run {
    struct people *people;
    struct people_stats *stats;
    long max_frames, frames;
    int error;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt track [options] FILE\n\n"
            "Follows every person of one video as crtd does (pose_run_people, then the\n"
            "person tracker) and prints tracking figures: people per frame (mean, median,\n"
            "max), tracks started and confirmed, the mean life of a confirmed track, and\n"
            "re-identifications per minute: a confirmed track that ends while a new one\n"
            "starts within %.0f s of its last sighting where its box was heading (a proxy\n"
            "for id switches, as there is no ground truth).\n\n"
            "options:\n"
            "  --pose MODEL      multipose (default), lightning, thunder, or a movenet .json\n"
            "  --models DIR      where the named models are looked up\n"
            "  --side N          the input's long side, a multiple of 32 from %d to %d\n"
            "                    (default 256; small people need more)\n"
            "  --fps F           frames sampled per second (default 10)\n"
            "  --max-frames N    stop after N sampled frames\n"
            "  --max-people N    person tracks at once, 1 to %d (default 6)\n"
            "  --isa SET         the best pose kernel set: best (default), avx512, avx2,\n"
            "                    neon or portable\n"
            "  --json            one JSON object on stdout\n",
            PEOPLE_REID_WINDOW_S, POSE_PEOPLE_MIN_SIDE, POSE_PEOPLE_MAX_SIDE, PEOPLE_MAX);
}

static int on_people(void *ctx, const struct video_frame *frame, const struct pose_person *people,
                     int n)
{
    struct track_run *run = ctx;
    people_frame(run->people, people, n, frame->pts, frame->pts, NULL);
    if ((run->error = people_stats_frame(run->stats, run->people, n)) < 0)
        return 1;
    return run->max_frames && ++run->frames >= run->max_frames;
}

int cmd_track(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pose", required_argument, NULL, 'p'},
        {"models", required_argument, NULL, 'd'},
        {"side", required_argument, NULL, 'S'},
        {"fps", required_argument, NULL, 'f'},
        {"max-frames", required_argument, NULL, 'n'},
        {"max-people", required_argument, NULL, 'P'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct pose_cli_people o;
    char pose_path[4096];
    bool as_json = false;
    long max_people = 0;
    struct pose_model *pose = NULL;
    struct pose_context *context = NULL;
    struct track_run run = {0};
    struct errbuf err = {0};
    int c, r, status = 1;

    pose_cli_people_default(&o);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int shared = pose_cli_people_option(&o, c, optarg, "track");
        if (shared < 0)
            return EXIT_USAGE;
        if (shared)
            continue;
        switch (c) {
        case 'P':
            if (!cli_parse_long(optarg, 1, PEOPLE_MAX, &max_people)) {
                cli_error("track", "--max-people must be from 1 to %d", PEOPLE_MAX);
                return EXIT_USAGE;
            }
            break;
        case 'j':
            as_json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            cli_error("track", "unknown or incomplete option '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_error("track", optind == argc ? "a video file is required" : "one video at a time");
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *file = argv[optind];
    blas_set_threads(1);
    av_log_set_level(AV_LOG_FATAL);

    if ((r = pose_cli_open(o.pose_name, o.models_dir, pose_path, sizeof(pose_path), &pose, &context,
                           &err)) < 0 ||
        (r = people_new(NULL, (unsigned)max_people, &run.people, &err)) < 0 ||
        (r = people_stats_new(&run.stats)) < 0) {
        cli_error("track", "%s", errbuf_text(&err, r));
        goto done;
    }
    run.max_frames = o.max_frames;
    int64_t t0 = time_mono_ns();
    r = clip_pose_read_people(file, o.fps, context, (int)o.side, NULL, on_people, &run, &err);
    double elapsed = (double)(time_mono_ns() - t0) / 1e9;
    if (r < 0 || run.error < 0) {
        cli_error("track", "%s", errbuf_text(&err, r < 0 ? r : run.error));
        goto done;
    }
    struct people_tracking t;
    people_stats_summary(run.stats, &t);
    double ms = t.frames ? 1000 * elapsed / (double)t.frames : 0;
    bool multi = pose_model_is_multi(pose);
    if (as_json) {
        json_t *out = json_pack(
            "{s:s, s:s, s:b, s:i, s:f, s:I, s:f, s:f, s:{s:f, s:i, s:i}, s:i, s:i, s:f, s:i, s:f}",
            "file", file, "pose", pose_path, "multi", multi, "side", (json_int_t)o.side, "fps",
            o.fps, "frames", (json_int_t)t.frames, "seconds", t.seconds, "ms_per_frame", ms,
            "people_per_frame", "mean", t.people_mean, "median", (json_int_t)t.people_median, "max",
            (json_int_t)t.people_max, "tracks_started", (json_int_t)t.tracks_started,
            "tracks_confirmed", (json_int_t)t.tracks_confirmed, "confirmed_life_s",
            t.confirmed_life_s, "reidentifications", (json_int_t)t.reids,
            "reidentifications_per_minute", t.reids_per_minute);
        json_dumpf(out, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(out);
    } else {
        printf("%s: %llu frames at %g fps (%.1f s), %s", file, (unsigned long long)t.frames, o.fps,
               t.seconds, multi ? "multipose" : "single-person pose");
        if (multi)
            printf(" at side %ld", o.side);
        printf(", %.1f ms per frame (decode and pose)\n", ms);
        printf("people per frame: mean %.2f, median %d, max %d\n", t.people_mean, t.people_median,
               t.people_max);
        printf("tracks: %u started, %u confirmed, mean confirmed life %.1f s\n", t.tracks_started,
               t.tracks_confirmed, t.confirmed_life_s);
        printf("re-identifications: %u (%.2f per minute)\n", t.reids, t.reids_per_minute);
    }
    status = 0;
done:
    people_stats_free(run.stats);
    people_free(run.people);
    pose_context_free(context);
    pose_model_free(pose);
    return status;
}
