/* crt classify: the activity timeline of one video, through the streaming
 * path the daemon uses: decode and sample at the model's rate, pose with the
 * tracking crop, features frame by frame, a segment step each L frames with
 * one persistent memory. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <libavutil/log.h>

#include "clip_pose.h"
#include "commands.h"
#include "pose.h"
#include "crt.h"
#include "pose_cli.h"

struct segment_result {
    double start, end; /* stream time of its first frame, and after its last */
    int label;
    float score;
    float presence; /* share of its frames with a person */
};

struct classify_run {
    struct crt_stream *stream;
    const struct crt_model *model;
    struct features_state features;
    float feat[FEATURES_V1_DIM];
    float *probs;
    double fps, segment_start;
    int frames_in_segment, person_frames;
    struct segment_result *segments;
    int n_segments, cap;
    int error;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: crt classify [options] FILE\n\n"
                 "The activity timeline of one video: start, end, label and mean score of\n"
                 "each stretch of one activity, as crtd's streaming path sees it (one\n"
                 "decision per segment, one persistent memory for the whole video).\n\n"
                 "options:\n"
                 "  --model FILE    the segment model (default: models/default.safetensors)\n"
                 "  --pose MODEL    lightning (default), thunder, or a movenet .json file\n"
                 "  --segments      also print every segment's decision\n"
                 "  --json          print the timeline and the segments as JSON\n");
}

static int on_frame(void *ctx, const struct video_frame *frame, const struct pose_result *pose)
{
    struct classify_run *run = ctx;
    const struct crt_config *cfg = crt_model_config(run->model);
    if (run->frames_in_segment == 0)
        run->segment_start = frame->pts;
    run->frames_in_segment++;
    run->person_frames += pose->person;

    /* A frame without a person: its features say so, and the next frame's
     * velocities start again from zero. */
    features_v1(run->feat, &run->features, pose->person ? pose->keypoints : NULL);
    if (crt_stream_push(run->stream, run->feat, NULL, run->probs) != 1)
        return 0;

    if (run->n_segments == run->cap) {
        int cap = run->cap ? 2 * run->cap : 64;
        void *grown = realloc(run->segments, (size_t)cap * sizeof(*run->segments));
        if (!grown) {
            run->error = -ENOMEM;
            return 1;
        }
        run->segments = grown;
        run->cap = cap;
    }
    int best = 0;
    for (int c = 1; c < cfg->n_classes; c++)
        if (run->probs[c] > run->probs[best])
            best = c;
    run->segments[run->n_segments++] = (struct segment_result){
        .start = run->segment_start,
        .end = frame->pts + 1.0 / run->fps,
        .label = best,
        .score = run->probs[best],
        .presence = (float)run->person_frames / (float)run->frames_in_segment,
    };
    run->frames_in_segment = 0;
    run->person_frames = 0;
    return 0;
}

static void format_time(char *buf, size_t size, double t)
{
    int minutes = (int)(t / 60);
    snprintf(buf, size, "%02d:%04.1f", minutes, t - 60.0 * minutes);
}

int cmd_classify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'}, {"pose", required_argument, NULL, 'p'},
        {"segments", no_argument, NULL, 's'},    {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *model_arg = NULL, *pose_name = "lightning";
    char model_path[4096], pose_path[4096];
    bool as_json = false, show_segments = false;
    struct crt_model *model = NULL;
    struct pose_model *pose = NULL;
    struct pose_context *context = NULL;
    struct classify_run run = {0};
    struct errbuf err = {0};
    int c, status = 1;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model_arg = optarg;
            break;
        case 'p':
            pose_name = optarg;
            break;
        case 's':
            show_segments = true;
            break;
        case 'j':
            as_json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            cli_error("classify", "unknown option '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_error("classify", optind == argc ? "a video file is required" : "one video at a time");
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *file = argv[optind];
    blas_set_threads(1);
    av_log_set_level(AV_LOG_FATAL);

    int r = 0;
    if (model_arg)
        r = str_copy(model_path, sizeof(model_path), model_arg);
    else
        r = pose_cli_source_path(model_path, sizeof(model_path), "models/default.safetensors",
                                 &err);
    if (r < 0) {
        cli_error("classify", "no model given and models/default.safetensors not found: %s",
                  errbuf_text(&err, r));
        return 1;
    }
    struct pose_options options = pose_cli_options();
    if ((r = crt_model_load(model_path, &model, &err)) < 0 ||
        (r = pose_cli_model_path(pose_path, sizeof(pose_path), pose_name, NULL, &err)) < 0 ||
        (r = pose_model_load_opts(pose_path, &options, &pose, &err)) < 0 ||
        (r = pose_context_new(pose, &context, &err)) < 0) {
        cli_error("classify", "%s", errbuf_text(&err, r));
        goto done;
    }
    const struct crt_config *cfg = crt_model_config(model);
    run.model = model;
    run.fps = cfg->fps;
    run.probs = calloc((size_t)cfg->n_classes, sizeof(float));
    if (!run.probs || crt_stream_new(model, &run.stream) < 0) {
        cli_error("classify", "out of memory");
        goto done;
    }
    features_state_init(&run.features);

    r = clip_pose_read(file, cfg->fps, context, on_frame, &run, &err);
    if (r < 0 || run.error < 0) {
        cli_error("classify", "%s", errbuf_text(&err, r < 0 ? r : run.error));
        goto done;
    }
    int frames = r;

    /* Consecutive segments of one label make one interval. */
    json_t *timeline = json_array(), *segments = json_array();
    if (!as_json)
        printf("%s: %d frames at %g fps, %d segments (model %s)\n", file, frames, cfg->fps,
               run.n_segments, model_path);
    for (int i = 0; i < run.n_segments;) {
        int j = i;
        double sum = 0;
        while (j < run.n_segments && run.segments[j].label == run.segments[i].label)
            sum += run.segments[j++].score;
        const char *label = crt_model_class(model, run.segments[i].label);
        double start = run.segments[i].start, end = run.segments[j - 1].end;
        json_array_append_new(timeline, json_pack("{s:f, s:f, s:s, s:f}", "start", start, "end",
                                                  end, "label", label, "score", sum / (j - i)));
        if (!as_json) {
            char a[32], b[32];
            format_time(a, sizeof(a), start);
            format_time(b, sizeof(b), end);
            printf("%s - %s  %-22s %.2f\n", a, b, label, sum / (j - i));
        }
        i = j;
    }
    for (int i = 0; i < run.n_segments; i++) {
        const struct segment_result *s = &run.segments[i];
        json_array_append_new(segments,
                              json_pack("{s:f, s:f, s:s, s:f, s:f}", "start", s->start, "end",
                                        s->end, "label", crt_model_class(model, s->label), "score",
                                        s->score, "presence", s->presence));
        if (show_segments && !as_json)
            printf("  segment %3d  %7.2f s  %-22s %.2f  person in %.0f%% of frames\n", i, s->start,
                   crt_model_class(model, s->label), s->score, 100 * s->presence);
    }
    if (as_json) {
        json_t *out = json_pack("{s:s, s:s, s:i, s:f, s:i, s:o, s:o}", "file", file, "model",
                                model_path, "frames", frames, "fps", cfg->fps, "segment_frames",
                                cfg->segment_len, "timeline", timeline, "segments", segments);
        json_dumpf(out, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(out);
    } else {
        json_decref(timeline);
        json_decref(segments);
    }
    if (run.n_segments == 0)
        fprintf(stderr, "crt classify: %s is shorter than one segment (%d frames at %g fps)\n",
                file, cfg->segment_len, cfg->fps);
    status = 0;
done:
    free(run.segments);
    free(run.probs);
    crt_stream_free(run.stream);
    pose_context_free(context);
    pose_model_free(pose);
    crt_model_free(model);
    return status;
}
