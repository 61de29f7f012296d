/* crt classify: the activity timeline of one video, through the streaming
 * path the daemon uses: decode and sample at the model's rate, then either
 * (a single-person pose model) pose with the tracking crop, features frame by
 * frame and a segment step each L frames with one persistent memory, or (a
 * multi-person one) everyone in view through the people library — a track per
 * person, each with its own features and memory — and a timeline per track. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <libavutil/log.h>

#include "clip_pose.h"
#include "commands.h"
#include "crt.h"
#include "people.h"
#include "pose.h"
#include "pose_cli.h"

struct segment_result {
    double start, end; /* stream time of its first frame, and after its last */
    int label;
    float score;
    float presence; /* share of its frames with the person seen */
};

/* One person's segments. */
struct track_timeline {
    uint32_t id;
    double first_seen, last_seen; /* stream time */
    struct segment_result *segments;
    int n, cap;
};

struct classify_run {
    const struct crt_model *model;
    double fps, segment_start;
    int frames_in_segment, person_frames, n_segments;
    int error;
    /* one person: the whole video in one memory */
    struct crt_stream *stream;
    struct features_state features;
    float feat[FEATURES_V1_DIM];
    float *probs;
    /* everyone */
    struct people *people;
    struct people_result result;
    struct track_timeline *tracks;
    int n_tracks, cap_tracks;
};

/* The gate's view of who is in view: the people library's tracker. */
static enum video_pose_view people_view(void *ctx)
{
    const struct classify_run *run = ctx;
    return clip_pose_tracker_view(people_tracker(run->people));
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt classify [options] FILE\n\n"
            "The activity timeline of one video: start, end, label and mean score of\n"
            "each stretch of one activity, as crtd's streaming path sees it (one\n"
            "decision per segment). A single-person pose model gives one timeline with\n"
            "one persistent memory for the whole video; a multi-person one (--pose\n"
            "multipose) gives a timeline per person track, each with its own memory.\n\n"
            "options:\n"
            "  --model FILE      the segment model (default: models/default.safetensors)\n"
            "  --pose MODEL      lightning (default), thunder, multipose, or a movenet .json\n"
            "  --models DIR      where lightning, thunder and multipose are looked up\n"
            "  --side N          multipose: the input's long side, a multiple of 32 from %d\n"
            "                    to %d (default 256)\n"
            "  --max-people N    multipose: person tracks at once, 1 to %d (default 6)\n"
            "  --isa SET         the best pose kernel set: best (default), avx512, avx2,\n"
            "                    neon or portable\n"
            "  --no-gate         pose on every sampled frame (default: the motion gate, as\n"
            "                    crtd runs it: no pose while nobody is in view and nothing\n"
            "                    moves, --still-pose-fps on a person who keeps still)\n"
            "  --gate            the motion gate (the default)\n"
            "  --still-pose-fps F  pose rate on a still person, in (0, 60] (default 2)\n"
            "  --segments        also print every segment's decision\n"
            "  --json            print the timelines and the segments as JSON\n",
            POSE_PEOPLE_MIN_SIDE, POSE_PEOPLE_MAX_SIDE, PEOPLE_MAX);
}

static struct track_timeline *track_of(struct classify_run *run, uint32_t id, double first_seen)
{
    for (int i = 0; i < run->n_tracks; i++)
        if (run->tracks[i].id == id)
            return &run->tracks[i];
    if (run->n_tracks == run->cap_tracks) {
        int cap = run->cap_tracks ? 2 * run->cap_tracks : 16;
        void *grown = realloc(run->tracks, (size_t)cap * sizeof(*run->tracks));
        if (!grown)
            return NULL;
        run->tracks = grown;
        run->cap_tracks = cap;
    }
    struct track_timeline *t = &run->tracks[run->n_tracks++];
    *t = (struct track_timeline){.id = id, .first_seen = first_seen, .last_seen = first_seen};
    return t;
}

static int track_add(struct track_timeline *t, const struct segment_result *s)
{
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        void *grown = realloc(t->segments, (size_t)cap * sizeof(*t->segments));
        if (!grown)
            return -ENOMEM;
        t->segments = grown;
        t->cap = cap;
    }
    t->segments[t->n++] = *s;
    return 0;
}

static int on_frame(void *ctx, const struct video_frame *frame, const struct pose_result *pose)
{
    struct classify_run *run = ctx;
    const struct crt_config *cfg = crt_model_config(run->model);
    if (run->frames_in_segment == 0)
        run->segment_start = frame->pts;
    run->frames_in_segment++;
    run->person_frames += pose->person;
    struct track_timeline *t = track_of(run, 1, frame->pts);
    if (!t) {
        run->error = -ENOMEM;
        return 1;
    }
    if (pose->person)
        t->last_seen = frame->pts;

    /* A frame without a person: its features say so, and the next frame's
     * velocities start again from zero. */
    features_v1(run->feat, &run->features, pose->person ? pose->keypoints : NULL);
    if (crt_stream_push(run->stream, run->feat, NULL, run->probs) != 1)
        return 0;

    int best = 0;
    for (int c = 1; c < cfg->n_classes; c++)
        if (run->probs[c] > run->probs[best])
            best = c;
    struct segment_result s = {
        .start = run->segment_start,
        .end = frame->pts + 1.0 / run->fps,
        .label = crt_model_decide(run->model, run->probs),
        .score = run->probs[best],
        .presence = (float)run->person_frames / (float)run->frames_in_segment,
    };
    run->n_segments++;
    run->frames_in_segment = 0;
    run->person_frames = 0;
    if ((run->error = track_add(t, &s)) < 0)
        return 1;
    return 0;
}

static int on_people(void *ctx, const struct video_frame *frame, const struct pose_person *people,
                     int n)
{
    struct classify_run *run = ctx;
    if (run->frames_in_segment++ == 0)
        run->segment_start = frame->pts;
    /* The tool's clock is the stream's: first and last seen in stream time. */
    if (people_frame(run->people, people, n, frame->pts, frame->pts, &run->result) != 1)
        return 0;
    run->frames_in_segment = 0;
    run->n_segments++;
    for (unsigned i = 0; i < run->result.n; i++) {
        const struct people_person *p = &run->result.people[i];
        struct track_timeline *t = track_of(run, p->id, p->first_seen);
        struct segment_result s = {
            .start = run->segment_start,
            .end = frame->pts + 1.0 / run->fps,
            .label = p->label,
            .score = p->score,
            .presence = (float)p->seen_frames / (float)run->result.segment_frames,
        };
        if (!t || track_add(t, &s) < 0) {
            run->error = -ENOMEM;
            return 1;
        }
        t->last_seen = p->last_seen;
    }
    return 0;
}

static void format_time(char *buf, size_t size, double t)
{
    int minutes = (int)(t / 60);
    snprintf(buf, size, "%02d:%04.1f", minutes, t - 60.0 * minutes);
}

/* A track's timeline (consecutive segments of one label make one interval)
 * and segments as JSON, printed as text too unless as_json. */
static void track_report(const struct crt_model *model, const struct track_timeline *t,
                         const char *indent, bool as_json, bool show_segments,
                         json_t **ret_timeline, json_t **ret_segments)
{
    json_t *timeline = json_array(), *segments = json_array();
    for (int i = 0; i < t->n;) {
        int j = i;
        double sum = 0;
        while (j < t->n && t->segments[j].label == t->segments[i].label)
            sum += t->segments[j++].score;
        const char *label = crt_model_label(model, t->segments[i].label);
        double start = t->segments[i].start, end = t->segments[j - 1].end;
        json_array_append_new(timeline, json_pack("{s:f, s:f, s:s, s:f}", "start", start, "end",
                                                  end, "label", label, "score", sum / (j - i)));
        if (!as_json) {
            char a[32], b[32];
            format_time(a, sizeof(a), start);
            format_time(b, sizeof(b), end);
            printf("%s%s - %s  %-22s %.2f\n", indent, a, b, label, sum / (j - i));
        }
        i = j;
    }
    for (int i = 0; i < t->n; i++) {
        const struct segment_result *s = &t->segments[i];
        json_array_append_new(segments,
                              json_pack("{s:f, s:f, s:s, s:f, s:f}", "start", s->start, "end",
                                        s->end, "label", crt_model_label(model, s->label), "score",
                                        s->score, "presence", s->presence));
        if (show_segments && !as_json)
            printf("%s  segment %3d  %7.2f s  %-22s %.2f  person in %.0f%% of frames\n", indent, i,
                   s->start, crt_model_label(model, s->label), s->score, 100 * s->presence);
    }
    *ret_timeline = timeline;
    *ret_segments = segments;
}

/* How the segments with their person in view (seen in at least half of the
 * segment's frames) were labelled, over every track: a video's answer in
 * one line, and in the JSON as "labels_in_view" {label: segments}. */
static json_t *label_shares(const struct crt_model *model, const struct classify_run *run,
                            bool print)
{
    int C = crt_model_config(model)->n_classes, total = 0;
    int *count = calloc((size_t)C + 1, sizeof(int)); /* [C]: unknown */
    json_t *shares = json_object();
    if (!count || !shares) {
        free(count);
        return shares;
    }
    for (int i = 0; i < run->n_tracks; i++)
        for (int k = 0; k < run->tracks[i].n; k++) {
            const struct segment_result *s = &run->tracks[i].segments[k];
            if (s->presence < 0.5f)
                continue;
            count[s->label == CRT_LABEL_UNKNOWN ? C : s->label]++;
            total++;
        }
    if (print)
        printf("labels of the %d segments with their person in view:", total);
    for (int n = 0; n < total;) { /* most common first */
        int best = 0;
        for (int c = 1; c <= C; c++)
            best = count[c] > count[best] ? c : best;
        if (count[best] == 0)
            break;
        const char *name = best == C ? CRT_UNKNOWN_NAME : crt_model_class(model, best);
        if (print)
            printf(" %s %.1f%% (%d)", name, 100.0 * count[best] / total, count[best]);
        json_object_set_new(shares, name, json_integer(count[best]));
        n += count[best];
        count[best] = 0;
    }
    if (print)
        printf("\n");
    free(count);
    return shares;
}

static bool parse_int(const char *s, int lo, int hi, int *ret)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return false;
    *ret = (int)v;
    return true;
}

int cmd_classify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"pose", required_argument, NULL, 'p'},
        {"models", required_argument, NULL, 'd'},
        {"side", required_argument, NULL, 'S'},
        {"max-people", required_argument, NULL, 'P'},
        {"segments", no_argument, NULL, 's'},
        {"isa", required_argument, NULL, 'I'},
        {"gate", no_argument, NULL, 'g'},
        {"no-gate", no_argument, NULL, 'G'},
        {"still-pose-fps", required_argument, NULL, 'F'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model_arg = NULL, *pose_name = "lightning", *models_dir = NULL;
    char model_path[4096], pose_path[4096];
    bool as_json = false, show_segments = false, gated = true;
    struct clip_pose_gate gate = {.still_pose_fps = 2};
    int side = 256, max_people = 0;
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
        case 'd':
            models_dir = optarg;
            break;
        case 'S':
            if (!parse_int(optarg, POSE_PEOPLE_MIN_SIDE, POSE_PEOPLE_MAX_SIDE, &side) ||
                side % 32) {
                cli_error("classify", "--side must be a multiple of 32 from %d to %d",
                          POSE_PEOPLE_MIN_SIDE, POSE_PEOPLE_MAX_SIDE);
                return EXIT_USAGE;
            }
            break;
        case 'P':
            if (!parse_int(optarg, 1, PEOPLE_MAX, &max_people)) {
                cli_error("classify", "--max-people must be from 1 to %d", PEOPLE_MAX);
                return EXIT_USAGE;
            }
            break;
        case 's':
            show_segments = true;
            break;
        case 'I':
            if (pose_cli_isa_option(optarg, "classify") < 0)
                return EXIT_USAGE;
            break;
        case 'g':
        case 'G':
            gated = c == 'g';
            break;
        case 'F': {
            char *end;
            gate.still_pose_fps = strtod(optarg, &end);
            if (end == optarg || *end || !(gate.still_pose_fps > 0 && gate.still_pose_fps <= 60)) {
                cli_error("classify",
                          "--still-pose-fps '%s': expected a rate in (0, 60] (--no-gate "
                          "turns the gate off)",
                          optarg);
                return EXIT_USAGE;
            }
            break;
        }
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
    if ((r = crt_model_load(model_path, &model, &err)) < 0 ||
        (r = pose_cli_open(pose_name, models_dir, pose_path, sizeof(pose_path), &pose, &context,
                           &err)) < 0) {
        cli_error("classify", "%s", errbuf_text(&err, r));
        goto done;
    }
    const struct crt_config *cfg = crt_model_config(model);
    bool multi = pose_model_is_multi(pose);
    run.model = model;
    run.fps = cfg->fps;
    if (multi) {
        if ((r = people_new(model, (unsigned)max_people, &run.people, &err)) < 0) {
            cli_error("classify", "%s", errbuf_text(&err, r));
            goto done;
        }
        gate.view = people_view;
        r = clip_pose_read_people(file, cfg->fps, context, side, gated ? &gate : NULL, on_people,
                                  &run, &err);
    } else {
        run.probs = calloc((size_t)cfg->n_classes, sizeof(float));
        if (!run.probs || crt_stream_new(model, &run.stream) < 0) {
            cli_error("classify", "out of memory");
            goto done;
        }
        features_state_init(&run.features);
        r = clip_pose_read(file, cfg->fps, context, gated ? &gate : NULL, on_frame, &run, &err);
    }
    if (r < 0 || run.error < 0) {
        cli_error("classify", "%s", errbuf_text(&err, r < 0 ? r : run.error));
        goto done;
    }
    int frames = r;

    json_t *tracks = json_array();
    if (!as_json) {
        printf("%s: %d frames at %g fps, %d segments (model %s)", file, frames, cfg->fps,
               run.n_segments, model_path);
        if (multi)
            printf(", multipose at side %d: %d tracks", side, run.n_tracks);
        printf("\n");
        if (gated)
            printf("motion gate: %llu of %d frames still, pose on %llu (still_pose_fps %g)\n",
                   (unsigned long long)gate.gated, frames, (unsigned long long)gate.pose_frames,
                   gate.still_pose_fps);
        else
            printf("motion gate: off, pose on %d frames\n", frames);
    }
    json_t *timeline = NULL, *segments = NULL;
    for (int i = 0; i < run.n_tracks; i++) {
        const struct track_timeline *t = &run.tracks[i];
        if (multi && !as_json) {
            char a[32], b[32];
            format_time(a, sizeof(a), t->first_seen);
            format_time(b, sizeof(b), t->last_seen);
            printf("track %u: seen %s - %s, %d segments\n", t->id, a, b, t->n);
        }
        if (timeline) {
            json_decref(timeline);
            json_decref(segments);
        }
        track_report(model, t, multi ? "  " : "", as_json, show_segments, &timeline, &segments);
        json_array_append_new(tracks,
                              json_pack("{s:i, s:f, s:f, s:O, s:O}", "id", (json_int_t)t->id,
                                        "first_seen", t->first_seen, "last_seen", t->last_seen,
                                        "timeline", timeline, "segments", segments));
    }
    json_t *shares = label_shares(model, &run, !as_json);
    if (as_json) {
        json_t *out =
            json_pack("{s:s, s:s, s:s, s:i, s:f, s:i, s:o, s:o}", "file", file, "model", model_path,
                      "pose", pose_path, "frames", frames, "fps", cfg->fps, "segment_frames",
                      cfg->segment_len, "tracks", tracks, "labels_in_view", shares);
        json_object_set_new(
            out, "gate",
            gated ? json_pack("{s:b, s:f, s:I, s:I}", "on", 1, "still_pose_fps",
                              gate.still_pose_fps, "gated", (json_int_t)gate.gated, "pose_frames",
                              (json_int_t)gate.pose_frames)
                  : json_pack("{s:b, s:I}", "on", 0, "pose_frames", (json_int_t)frames));
        if (multi) {
            json_object_set_new(out, "side", json_integer(side));
        } else {
            /* One person: its timeline is the video's, as before tracks. */
            json_object_set_new(out, "timeline", timeline ? json_incref(timeline) : json_array());
            json_object_set_new(out, "segments", segments ? json_incref(segments) : json_array());
        }
        json_dumpf(out, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(out);
    } else {
        json_decref(tracks);
        json_decref(shares);
    }
    json_decref(timeline);
    json_decref(segments);
    if (run.n_segments == 0)
        fprintf(stderr, "crt classify: %s is shorter than one segment (%d frames at %g fps)\n",
                file, cfg->segment_len, cfg->fps);
    status = 0;
done:
    for (int i = 0; i < run.n_tracks; i++)
        free(run.tracks[i].segments);
    free(run.tracks);
    free(run.probs);
    crt_stream_free(run.stream);
    people_free(run.people);
    pose_context_free(context);
    pose_model_free(pose);
    crt_model_free(model);
    return status;
}
