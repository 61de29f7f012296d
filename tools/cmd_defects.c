/* crt defects: what MoveNet gets wrong on real footage, through crtd's own
 * path (pose_run_people, the person tracker) — keypoint jitter and its
 * spectrum, scores by joint and by person size, dropouts, left/right swaps
 * and gaps (people.h, people_defects) — to set synth's defect model from.
 * An input of one frame is a photo: its people count for scores, sizes and
 * dropouts only. */
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

struct defects_run {
    struct people *people;
    struct people_defects_state *state;
    long max_frames, frames;
    struct pose_person first[POSE_MAX_PEOPLE];
    int n_first, width, height;
    int error;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt defects [options] VIDEO_OR_IMAGE...\n\n"
            "Runs crtd's MoveNet path with person tracking over the inputs and prints\n"
            "the estimator's defects, measured on confirmed tracks in the frames they are\n"
            "seen (a photo: on every person found): per-joint jitter (the distance from\n"
            "the centred mean over %d frames, in box heights: median and p90), the\n"
            "residual's energy in %d frequency bands up to the Nyquist frequency beside\n"
            "white noise's, scores by joint and by box height (median, p10), dropouts (a\n"
            "joint scored below %.1f), left/right swaps per 1000 track-frames, and\n"
            "gaps (a confirmed track unseen, then seen again).\n\n"
            "options:\n"
            "  --model MODEL     multipose (default), lightning, thunder, or a movenet .json\n"
            "  --models DIR      where the named models are looked up\n"
            "  --side N          the input's long side, a multiple of 32 from %d to %d\n"
            "                    (default 256)\n"
            "  --fps F           frames sampled per second (default 10)\n"
            "  --max-frames N    at most N sampled frames of each input\n"
            "  --isa SET         the best pose kernel set: best (default), avx512, avx2,\n"
            "                    neon or portable\n"
            "  --json            one JSON object on stdout\n",
            PEOPLE_DEFECT_WINDOW, PEOPLE_DEFECT_BANDS, (double)POSE_MIN_SCORE, POSE_PEOPLE_MIN_SIDE,
            POSE_PEOPLE_MAX_SIDE);
}

static int on_people(void *ctx, const struct video_frame *frame, const struct pose_person *people,
                     int n)
{
    struct defects_run *run = ctx;
    if (run->frames == 0) {
        run->n_first = n < POSE_MAX_PEOPLE ? n : POSE_MAX_PEOPLE;
        memcpy(run->first, people, (size_t)run->n_first * sizeof(*people));
        run->width = frame->width;
        run->height = frame->height;
    }
    people_frame(run->people, people, n, frame->pts, frame->pts, NULL);
    if ((run->error = people_defects_frame(run->state, people_tracker(run->people), frame->width,
                                           frame->height)) < 0)
        return 1;
    return run->max_frames && ++run->frames >= run->max_frames;
}

static json_t *joints_json(const struct people_defects *d)
{
    json_t *a = json_array();
    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
        const struct people_defect_joint *o = &d->joints[j];
        json_array_append_new(a, json_pack("{s:s, s:I, s:f, s:f, s:f, s:I, s:f, s:f}", "joint",
                                           pose_keypoint_names[j], "seen", (json_int_t)o->seen,
                                           "score_median", o->score_median, "score_p10",
                                           o->score_p10, "dropout", o->dropout, "jitter_n",
                                           (json_int_t)o->jitter_n, "jitter_median",
                                           o->jitter_median, "jitter_p90", o->jitter_p90));
    }
    return a;
}

static void print_json(const struct people_defects *d, const char *pose_path, long side, double fps)
{
    json_t *bands = json_array(), *sizes = json_array(), *swaps = json_array();
    for (int b = 0; b < PEOPLE_DEFECT_BANDS; b++)
        json_array_append_new(bands, json_pack("{s:f, s:f, s:f, s:f}", "lo_hz",
                                               fps / 2 * b / PEOPLE_DEFECT_BANDS, "hi_hz",
                                               fps / 2 * (b + 1) / PEOPLE_DEFECT_BANDS, "energy",
                                               d->band[b], "white", d->band_white[b]));
    for (int b = 0; b < PEOPLE_DEFECT_SIZES; b++) {
        const struct people_defect_size *o = &d->sizes[b];
        json_array_append_new(sizes, json_pack("{s:f, s:f, s:I, s:f, s:f, s:f}", "lo", o->lo, "hi",
                                               o->hi, "people", (json_int_t)o->people,
                                               "score_median", o->score_median, "score_p10",
                                               o->score_p10, "dropout", o->dropout));
    }
    for (int p = 0; p < PEOPLE_DEFECT_PAIRS; p++)
        json_array_append_new(swaps, json_pack("{s:s, s:I, s:I}", "pair", d->pair_names[p], "swaps",
                                               (json_int_t)d->swaps[p], "checks",
                                               (json_int_t)d->swap_checks[p]));
    json_t *out = json_pack(
        "{s:s, s:i, s:f, s:I, s:I, s:I, s:{s:f, s:f}, s:o, s:{s:I, s:o}, s:o, s:{s:f, s:I, s:I, "
        "s:o}, s:{s:I, s:f, s:f}}",
        "pose", pose_path, "side", (json_int_t)side, "fps", fps, "frames", (json_int_t)d->frames,
        "observations", (json_int_t)d->observations, "stills", (json_int_t)d->stills, "jitter",
        "median", d->jitter_median, "p90", d->jitter_p90, "joints", joints_json(d), "spectrum",
        "windows", (json_int_t)d->spectrum_windows, "bands", bands, "sizes", sizes, "swaps",
        "per_1000_frames", d->swaps_per_1000, "track_frames", (json_int_t)d->track_frames,
        "torso_turns", (json_int_t)d->torso_turns, "pairs", swaps, "gaps", "count",
        (json_int_t)d->gaps, "mean_frames", d->gap_mean_frames, "per_1000_frames",
        d->gaps_per_1000);
    json_dumpf(out, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(out);
}

static void print_text(const struct people_defects *d, double fps)
{
    printf("%llu frames, %llu person observations (%llu from photos)\n",
           (unsigned long long)d->frames, (unsigned long long)d->observations,
           (unsigned long long)d->stills);
    printf("jitter (box heights): median %.4f, p90 %.4f\n", (double)d->jitter_median,
           (double)d->jitter_p90);
    printf("%-15s %8s %7s %7s %7s %8s %8s\n", "joint", "seen", "score", "p10", "dropout", "jitter",
           "p90");
    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++) {
        const struct people_defect_joint *o = &d->joints[j];
        printf("%-15s %8llu %7.3f %7.3f %7.3f %8.4f %8.4f\n", pose_keypoint_names[j],
               (unsigned long long)o->seen, (double)o->score_median, (double)o->score_p10,
               (double)o->dropout, (double)o->jitter_median, (double)o->jitter_p90);
    }
    printf("spectrum of the residual (%llu runs of %d frames): energy by band, white noise's\n",
           (unsigned long long)d->spectrum_windows, PEOPLE_DEFECT_DFT);
    for (int b = 0; b < PEOPLE_DEFECT_BANDS; b++)
        printf("  %4.2f-%4.2f Hz  %5.3f  (white %5.3f)\n", fps / 2 * b / PEOPLE_DEFECT_BANDS,
               fps / 2 * (b + 1) / PEOPLE_DEFECT_BANDS, d->band[b], d->band_white[b]);
    printf("scores by box height (fraction of the frame's):\n");
    for (int b = 0; b < PEOPLE_DEFECT_SIZES; b++) {
        const struct people_defect_size *o = &d->sizes[b];
        printf("  %.1f-%.1f  %7llu people  score %.3f  p10 %.3f  dropout %.3f\n", (double)o->lo,
               (double)o->hi, (unsigned long long)o->people, (double)o->score_median,
               (double)o->score_p10, (double)o->dropout);
    }
    printf("left/right swaps: %.2f per 1000 track-frames (%llu track-frames, %llu torso turns)\n",
           d->swaps_per_1000, (unsigned long long)d->track_frames,
           (unsigned long long)d->torso_turns);
    for (int p = 0; p < PEOPLE_DEFECT_PAIRS; p++)
        printf("  %-7s %llu of %llu\n", d->pair_names[p], (unsigned long long)d->swaps[p],
               (unsigned long long)d->swap_checks[p]);
    printf("gaps: %llu (%.2f per 1000 track-frames), mean %.1f frames\n",
           (unsigned long long)d->gaps, d->gaps_per_1000, d->gap_mean_frames);
}

int cmd_defects(int argc, char **argv)
{
    static const struct option longopts[] = {
        POSE_CLI_PEOPLE_OPTIONS,
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct pose_cli_people o;
    char pose_path[4096];
    bool as_json = false;
    struct pose_model *pose = NULL;
    struct pose_context *context = NULL;
    struct defects_run run = {0};
    struct errbuf err = {0};
    int c, r, status = 1;

    pose_cli_people_default(&o);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int shared = pose_cli_people_option(&o, c, optarg, "defects");
        if (shared < 0)
            return EXIT_USAGE;
        if (shared)
            continue;
        switch (c) {
        case 'j':
            as_json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            cli_error("defects", "unknown or incomplete option '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind == argc) {
        cli_error("defects", "a video or image is required");
        usage(stderr);
        return EXIT_USAGE;
    }
    blas_set_threads(1);
    av_log_set_level(AV_LOG_FATAL);

    if ((r = pose_cli_open(o.pose_name, o.models_dir, pose_path, sizeof(pose_path), &pose, &context,
                           &err)) < 0 ||
        (r = people_defects_new(&run.state)) < 0) {
        cli_error("defects", "%s", errbuf_text(&err, r));
        goto done;
    }
    run.max_frames = o.max_frames;
    for (int i = optind; i < argc; i++) {
        const char *file = argv[i];
        run.people = people_free(run.people);
        if ((r = people_new(NULL, 0, &run.people, &err)) < 0) {
            cli_error("defects", "%s", errbuf_text(&err, r));
            goto done;
        }
        people_defects_reset(run.state);
        run.frames = run.n_first = 0;
        r = clip_pose_read_people(file, o.fps, context, (int)o.side, NULL, on_people, &run, &err);
        if (r == 1 && run.error >= 0) /* a photo */
            run.error =
                people_defects_still(run.state, run.first, run.n_first, run.width, run.height);
        if (r < 0 || run.error < 0) {
            cli_error("defects", "%s", errbuf_text(&err, r < 0 ? r : run.error));
            goto done;
        }
    }
    struct people_defects d;
    if ((r = people_defects_summary(run.state, &d)) < 0) {
        cli_error("defects", "%s", errbuf_text(&err, r));
        goto done;
    }
    if (as_json)
        print_json(&d, pose_path, o.side, o.fps);
    else
        print_text(&d, o.fps);
    status = 0;
done:
    people_defects_free(run.state);
    people_free(run.people);
    pose_context_free(context);
    pose_model_free(pose);
    return status;
}
