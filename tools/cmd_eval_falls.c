/* crt eval --falls: the fall detector's figures on a folder of labelled pose
 * sequences (safety/fall_eval.c computes them; this file reads and prints). */
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "crt.h"
#include "data.h"
#include "falls_gate.h"
#include "safety.h"

#define MAX_LISTED 20 /* misses and false alarms named by file */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt eval --falls DIR [options]\n\n"
            "Run the fall detector (the daemon's code) over every pose sequence (*.pose)\n"
            "in DIR, one person each, with the sequence's zones, and score it against\n"
            "the sequence's fall_at and up_at (as `crt synth --task falls` writes them;\n"
            "a sequence without fall_at is activity without a fall). Reports recall of\n"
            "falls, false alarms per 24 hours of activity without a fall, the median\n"
            "and p95 time from the fall to the alert, and a table per scene.\n\n"
            "options:\n"
            "  --confirm-s S        fall_confirm_s (default 20)\n"
            "  --descent-window S   the descent's window, seconds (default 4)\n"
            "  --min-descent X      of the body's height within the window (0.1)\n"
            "  --max-tilt D         torso degrees from horizontal that count as lying (40)\n"
            "  --up-tilt D          torso degrees from which the person is up again (55)\n"
            "  --min-rise X         rise of the body centre that is up again (0.2)\n"
            "  --settle-s S         lying may follow the descent by this much (3)\n"
            "  --lost-s S           unseen this long while suspected: dropped (5)\n"
            "  --stand-legs X       ankles this many torso rises below the hips: standing (1.2)\n"
            "  --max-jump X         body heights the centre may jump between frames (1)\n"
            "  --lying-hold S       on the floor this long after a descent: suspected (0.6)\n"
            "  --floor-hips X       hips within this share of their height above the ankles\n"
            "                       before the descent, torso below up-tilt: on the floor\n"
            "                       too (0.3; 0: off)\n"
            "  --hold-end S         the person stays as in the last frame S more seconds\n"
            "                       (a take that ends on the floor; motion capture)\n"
            "  --model FILE         a segment model with a Fall class: its P(Fall) per\n"
            "                       segment confirms the detector's suspected falls\n"
            "  --min-p X            the P(Fall) that confirms (default 0.5 with --model)\n"
            "  --model-alone        the model by itself: P(Fall) >= min-p for confirm-s\n"
            "                       outside a bed or seat zone is the alert\n"
            "  --no-zones           ignore the sequences' zones (a home where none are drawn)\n"
            "  --still-pose-fps F   behind crtd's motion gate: pose at F on a still person,\n"
            "                       the detections held in between (the motion taken from\n"
            "                       the keypoints; docs/SAFETY.md)\n"
            "  --gate-motion X      with --still-pose-fps: a keypoint this far (of the\n"
            "                       frame's height) from its running average moved (0.01)\n"
            "  --json               print the figures as JSON instead of the table\n"
            "  --trace FILE         print the detector's report per frame for that file of DIR\n");
}

static int parse_number(const char *text, double *ret)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !isfinite(v))
        return -EINVAL;
    *ret = v;
    return 0;
}

/* The sequence's zones as the detector takes them; the message names the file. */
static int zones_of(const struct pose_sequence *seq, struct zone *zones, const char *path,
                    struct errbuf *err)
{
    for (int i = 0; i < seq->events.n_zones; i++) {
        const struct pose_zone *pz = &seq->events.zones[i];
        struct zone *z = &zones[i];
        memset(z, 0, sizeof(*z));
        str_copy(z->name, sizeof(z->name), pz->name);
        if (zone_kind_parse(pz->kind, &z->kind) < 0)
            return errbuf_set(err, -EBADMSG, "%s: zone '%s' has an unknown kind '%s'", path,
                              pz->name, pz->kind);
        z->n = pz->n;
        memcpy(z->points, pz->points, sizeof(pz->points[0]) * (size_t)pz->n);
        struct errbuf inner = {0};
        int r = zone_check(z, &inner);
        if (r < 0)
            return errbuf_set(err, r, "%s: %s", path, inner.msg);
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.pose files of a folder, sorted. */
static int list_sequences(const char *dir, char ***ret_names, int *ret_n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    char **names = NULL;
    int n = 0, cap = 0, r = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".pose") != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            char **grown = realloc(names, (size_t)cap * sizeof(*names));
            if (!grown) {
                r = -ENOMEM;
                break;
            }
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name))) {
            r = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (r < 0) {
        for (int i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return r;
    }
    qsort(names, (size_t)n, sizeof(*names), by_name);
    *ret_names = names;
    *ret_n = n;
    return 0;
}

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static void print_table(const struct fall_eval_summary *s, const struct fall_options *o,
                        const char *dir)
{
    printf("falls in %s: %d sequences, %d falls, %.2f h without a fall (confirm %g s)\n", dir,
           s->cases, s->falls, s->normal_hours, o->confirm_s);
    printf("recall %.1f%% (%d of %d falls)\n", 100 * s->recall, s->detected, s->falls);
    printf("false alarms %d, %.2f per 24 h\n", s->false_alarms, s->false_alarms_per_24h);
    printf("time to alert: median %.1f s, p95 %.1f s\n", s->latency_median, s->latency_p95);
    printf("suspected (a pending alert) in %d of %d sequences\n", s->suspected, s->cases);
    printf("\n%-16s %6s %6s %9s %7s %8s %9s %9s %9s\n", "scene", "cases", "falls", "detected",
           "alerts", "false", "suspected", "median_s", "max_s");
    for (int i = 0; i < s->n_rows; i++) {
        const struct fall_eval_row *r = &s->rows[i];
        printf("%-16s %6d %6d %9d %7d %8d %9d %9.1f %9.1f\n", r->scene, r->cases, r->falls,
               r->detected, r->alerts, r->false_alarms, r->suspected, r->latency_median,
               r->latency_max);
    }
}

static json_t *summary_json(const struct fall_eval_summary *s, const struct fall_options *o)
{
    json_t *rows = json_array();
    for (int i = 0; i < s->n_rows; i++) {
        const struct fall_eval_row *r = &s->rows[i];
        json_array_append_new(
            rows, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:o, s:o}", "scene", r->scene,
                            "cases", r->cases, "falls", r->falls, "detected", r->detected, "alerts",
                            r->alerts, "false_alarms", r->false_alarms, "suspected", r->suspected,
                            "normal_hours", r->normal_s / 3600, "latency_median_s",
                            number_or_null(r->latency_median), "latency_max_s",
                            number_or_null(r->latency_max)));
    }
    return json_pack("{s:f, s:i, s:i, s:i, s:i, s:f, s:o, s:o, s:o, s:o, s:o}", "confirm_s",
                     o->confirm_s, "sequences", s->cases, "falls", s->falls, "detected",
                     s->detected, "false_alarms", s->false_alarms, "normal_hours", s->normal_hours,
                     "recall", number_or_null(s->recall), "false_alarms_per_24h",
                     number_or_null(s->false_alarms_per_24h), "latency_median_s",
                     number_or_null(s->latency_median), "latency_p95_s",
                     number_or_null(s->latency_p95), "scenes", rows);
}

/* The segment model behind --model: its Fall class, and one stream run
 * over each sequence from its first frame, as the daemon runs a track. */
struct fall_model {
    struct crt_model *model;
    struct crt_stream *stream;
    int fall_class;
    float *probs;
};

static int fall_model_open(struct fall_model *fm, const char *path, struct errbuf *err)
{
    int r = crt_model_load(path, &fm->model, err);
    if (r < 0)
        return r;
    const struct crt_config *cfg = crt_model_config(fm->model);
    fm->fall_class = -1;
    for (int c = 0; c < cfg->n_classes; c++)
        if (strcmp(crt_model_class(fm->model, c), "Fall") == 0)
            fm->fall_class = c;
    if (fm->fall_class < 0)
        return errbuf_set(err, -EINVAL, "%s: the model has no class 'Fall'", path);
    if (cfg->n_features != FEATURES_V1_DIM)
        return errbuf_set(err, -EINVAL, "%s: the model's features are not layout 1", path);
    fm->probs = calloc((size_t)cfg->n_classes, sizeof(*fm->probs));
    if (!fm->probs || crt_stream_new(fm->model, &fm->stream) < 0)
        return errbuf_set(err, -ENOMEM, "out of memory for the model");
    return 0;
}

static void fall_model_close(struct fall_model *fm)
{
    fm->stream = crt_stream_free(fm->stream);
    fm->model = crt_model_free(fm->model);
    free(fm->probs);
    fm->probs = NULL;
}

/* p[f]: P(Fall) of the last segment complete at frame f, NAN before the
 * first; a frame without a person seen feeds the model as unseen. */
static int fall_model_run(struct fall_model *fm, const struct pose_sequence *seq, float *p,
                          const char *path, struct errbuf *err)
{
    const struct crt_config *cfg = crt_model_config(fm->model);
    if (fabs(cfg->fps - seq->fps) > 1e-6)
        return errbuf_set(err, -EINVAL, "%s: %g fps, the model expects %g", path, seq->fps,
                          cfg->fps);
    struct features_state st;
    float feat[FEATURES_V1_DIM];
    float last = NAN;
    features_state_init(&st);
    crt_stream_reset(fm->stream);
    for (int f = 0; f < seq->frames; f++) {
        const struct pose_keypoint *kp = seq->keypoints[f];
        bool anyone = false;
        for (int j = 0; j < POSE_NUM_KEYPOINTS && !anyone; j++)
            anyone = kp[j].score >= FEATURES_SCORE_MIN;
        features_v1(feat, &st, anyone ? kp : NULL);
        if (crt_stream_push(fm->stream, feat, NULL, fm->probs) == 1)
            last = fm->probs[fm->fall_class];
        p[f] = last;
    }
    return 0;
}

/* fall_model_run into *p, grown to the sequence's frames. */
static int model_frames(struct fall_model *fm, const struct pose_sequence *seq, float **p,
                        const char *path, struct errbuf *err)
{
    float *grown = realloc(*p, (size_t)(seq->frames ? seq->frames : 1) * sizeof(**p));
    if (!grown)
        return errbuf_set(err, -ENOMEM, "out of memory for %d frames", seq->frames);
    *p = grown;
    return fall_model_run(fm, seq, grown, path, err);
}

/* The person stays as in the last frame for seconds more (--hold-end). */
static int hold_last_frame(struct pose_sequence *seq, double seconds)
{
    int extra = (int)lround(seconds * seq->fps);
    if (extra <= 0 || seq->frames <= 0)
        return 0;
    int n = seq->frames + extra;
    void *kp = realloc(seq->keypoints, (size_t)n * sizeof(*seq->keypoints));
    if (!kp)
        return -ENOMEM;
    seq->keypoints = kp;
    if (seq->labels) {
        int *labels = realloc(seq->labels, (size_t)n * sizeof(*seq->labels));
        if (!labels)
            return -ENOMEM;
        seq->labels = labels;
        for (int f = seq->frames; f < n; f++)
            seq->labels[f] = seq->labels[seq->frames - 1];
    }
    for (int f = seq->frames; f < n; f++)
        memcpy(seq->keypoints[f], seq->keypoints[seq->frames - 1], sizeof(seq->keypoints[f]));
    seq->frames = n;
    return 0;
}

/* The sequence as the motion gate would have passed it on (--still-pose-fps),
 * its frames counted into *counts. */
static int gate_sequence(const struct falls_gate_options *gate, struct pose_sequence *seq,
                         struct falls_gate_counts *counts, const char *path, struct errbuf *err)
{
    if (!(seq->fps > 0))
        return errbuf_set(err, -EINVAL, "%s: no frame rate to gate at", path);
    struct falls_gate_counts c;
    falls_gate_apply(gate, seq->keypoints, seq->frames, seq->fps, &c);
    counts->frames += c.frames;
    counts->posed += c.posed;
    counts->held += c.held;
    counts->empty += c.empty;
    return 0;
}

/* A false alarm, with what the person was doing when its descent began
 * (from the sequence's per-frame classes, where it has them). */
static void report_false_alarm(const char *name, const char *scene, const struct pose_sequence *seq,
                               double at)
{
    int f = (int)(at * seq->fps);
    const char *now = NULL, *before = NULL;
    if (seq->labels && f >= 0 && f < seq->frames) {
        int c = seq->labels[f];
        now = c >= 0 && c < seq->n_classes ? seq->classes[c] : NULL;
        for (int k = f; k >= 0 && !before; k--)
            if (seq->labels[k] != c && seq->labels[k] >= 0 && seq->labels[k] < seq->n_classes)
                before = seq->classes[seq->labels[k]];
    }
    fprintf(stderr, "%s (%s): false alarm, its descent at %.1f s", name,
            scene[0] ? scene : "normal", at);
    if (now)
        fprintf(stderr, " during %s%s%s", now, before ? " after " : "", before ? before : "");
    fputc('\n', stderr);
}

static void trace_case(const struct fall_options *o, const struct fall_case *fc)
{
    struct fall_detector *det = NULL;
    if (fall_detector_new(o, &det, NULL) < 0)
        return;
    printf("# fall_at %g up_at %g zones %d\n", fc->fall_at, fc->up_at, fc->n_zones);
    for (int f = 0; f < fc->frames; f++) {
        struct fall_report rep;
        fall_detector_update(det, f / fc->fps, fc->keypoints[f], fc->zones, fc->n_zones, &rep);
        const struct pose_keypoint *k = fc->keypoints[f];
        printf(
            "%7.1f %-9s tilt %6.1f lying %d floor %d low %d standing %d%s hip %.3f shoulder %.3f "
            "ankle %.3f\n",
            f / fc->fps, fall_state_name(rep.state), (double)rep.torso_tilt, rep.lying,
            rep.on_floor, rep.hips_low, rep.standing, rep.restarted ? " restart" : "",
            (double)(k[11].y + k[12].y) / 2, (double)(k[5].y + k[6].y) / 2,
            (double)(k[15].y + k[16].y) / 2);
    }
    fall_detector_free(det);
}

int cmd_eval_falls(int argc, char **argv)
{
    enum {
        OPT_CONFIRM = 256,
        OPT_WINDOW,
        OPT_DESCENT,
        OPT_TILT,
        OPT_UP_TILT,
        OPT_RISE,
        OPT_SETTLE,
        OPT_LOST,
        OPT_STAND_LEGS,
        OPT_MAX_JUMP,
        OPT_LYING_HOLD,
        OPT_FLOOR_HIPS,
        OPT_HOLD_END,
        OPT_TRACE,
        OPT_JSON,
        OPT_NO_ZONES,
        OPT_MODEL,
        OPT_MIN_P,
        OPT_MODEL_ALONE,
        OPT_FALLS,
        OPT_STILL_POSE_FPS,
        OPT_GATE_MOTION,
        OPT_HELP
    };
    static const struct option longopts[] = {
        {"falls", required_argument, NULL, OPT_FALLS},
        {"confirm-s", required_argument, NULL, OPT_CONFIRM},
        {"descent-window", required_argument, NULL, OPT_WINDOW},
        {"min-descent", required_argument, NULL, OPT_DESCENT},
        {"max-tilt", required_argument, NULL, OPT_TILT},
        {"up-tilt", required_argument, NULL, OPT_UP_TILT},
        {"min-rise", required_argument, NULL, OPT_RISE},
        {"settle-s", required_argument, NULL, OPT_SETTLE},
        {"lost-s", required_argument, NULL, OPT_LOST},
        {"stand-legs", required_argument, NULL, OPT_STAND_LEGS},
        {"max-jump", required_argument, NULL, OPT_MAX_JUMP},
        {"lying-hold", required_argument, NULL, OPT_LYING_HOLD},
        {"floor-hips", required_argument, NULL, OPT_FLOOR_HIPS},
        {"hold-end", required_argument, NULL, OPT_HOLD_END},
        {"json", no_argument, NULL, OPT_JSON},
        {"no-zones", no_argument, NULL, OPT_NO_ZONES},
        {"model", required_argument, NULL, OPT_MODEL},
        {"min-p", required_argument, NULL, OPT_MIN_P},
        {"model-alone", no_argument, NULL, OPT_MODEL_ALONE},
        {"trace", required_argument, NULL, OPT_TRACE},
        {"still-pose-fps", required_argument, NULL, OPT_STILL_POSE_FPS},
        {"gate-motion", required_argument, NULL, OPT_GATE_MOTION},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct fall_options o;
    const char *dir = NULL, *trace = NULL, *model_path = NULL;
    bool as_json = false, no_zones = false;
    int c, longindex = 0, status = 1;
    double v = 0, hold_end = 0;
    struct falls_gate_options gate;
    struct falls_gate_counts gated = {0};

    fall_options_default(&o);
    falls_gate_options_init(&gate);
    for (int i = 1; i < argc; i++) /* --falls takes a value: `--falls --help` is help */
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, &longindex)) != -1) {
        if (c == OPT_FALLS) {
            dir = optarg;
            continue;
        }
        if (c == OPT_TRACE) {
            trace = optarg;
            continue;
        }
        if (c == OPT_JSON) {
            as_json = true;
            continue;
        }
        if (c == OPT_NO_ZONES) {
            no_zones = true;
            continue;
        }
        if (c == OPT_MODEL) {
            model_path = optarg;
            continue;
        }
        if (c == OPT_MODEL_ALONE) {
            o.model_alone = true;
            continue;
        }
        if (c == 'h' || c == OPT_HELP) {
            usage(stdout);
            return 0;
        }
        if (c == '?' || c == ':') {
            cli_error("eval", "unknown option or missing value '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (parse_number(optarg, &v) < 0) {
            cli_error("eval", "invalid value '%s' for --%s", optarg, longopts[longindex].name);
            return EXIT_USAGE;
        }
        switch (c) {
        case OPT_CONFIRM:
            o.confirm_s = v;
            break;
        case OPT_WINDOW:
            o.descent_window_s = v;
            break;
        case OPT_DESCENT:
            o.min_descent = (float)v;
            break;
        case OPT_TILT:
            o.max_torso_tilt = (float)v;
            break;
        case OPT_UP_TILT:
            o.up_tilt = (float)v;
            break;
        case OPT_RISE:
            o.min_rise = (float)v;
            break;
        case OPT_SETTLE:
            o.settle_s = v;
            break;
        case OPT_STAND_LEGS:
            o.stand_legs = (float)v;
            break;
        case OPT_MAX_JUMP:
            o.max_jump = (float)v;
            break;
        case OPT_LYING_HOLD:
            o.lying_hold_s = v;
            break;
        case OPT_FLOOR_HIPS:
            o.floor_hips = (float)v;
            break;
        case OPT_MIN_P:
            o.model_min_p = (float)v;
            break;
        case OPT_STILL_POSE_FPS:
            if (!(v > 0 && v <= 60)) {
                cli_error("eval", "--still-pose-fps %g is outside (0, 60]", v);
                return EXIT_USAGE;
            }
            gate.still_pose_fps = v;
            break;
        case OPT_GATE_MOTION:
            if (!(v > 0 && v < 1)) {
                cli_error("eval", "--gate-motion %g is outside (0, 1)", v);
                return EXIT_USAGE;
            }
            gate.motion = v;
            break;
        case OPT_HOLD_END:
            if (!(v >= 0 && v <= 3600)) {
                cli_error("eval", "--hold-end %g is outside 0..3600 s", v);
                return EXIT_USAGE;
            }
            hold_end = v;
            break;
        default:
            o.lost_s = v;
            break;
        }
    }
    if (!dir || optind < argc) {
        cli_error("eval", dir ? "unexpected argument '%s'" : "--falls DIR is required%s",
                  dir ? argv[optind] : "");
        return EXIT_USAGE;
    }
    struct errbuf err = {0};
    struct fall_model fm = {0};
    float *p_fall = NULL;
    if (model_path && !(o.model_min_p > 0))
        o.model_min_p = 0.5f;
    if (!model_path && (o.model_min_p > 0 || o.model_alone)) {
        cli_error("eval", "--min-p and --model-alone need --model FILE");
        return EXIT_USAGE;
    }
    struct fall_detector *probe = NULL;
    int r = fall_detector_new(&o, &probe, &err);
    fall_detector_free(probe);
    if (r < 0) {
        cli_error("eval", "%s", err.msg);
        return EXIT_USAGE;
    }

    if (model_path && (r = fall_model_open(&fm, model_path, &err)) < 0) {
        cli_error("eval", "%s", errbuf_text(&err, r));
        fall_model_close(&fm);
        return 1;
    }

    char **names = NULL;
    int n = 0;
    struct fall_case_result *results = NULL;
    const char **scenes = NULL;
    char(*scene_names)[32] = NULL;
    if ((r = list_sequences(dir, &names, &n)) < 0) {
        cli_error("eval", "cannot read '%s': %s", dir, strerror(-r));
        return 1;
    }
    if (n == 0) {
        cli_error("eval", "%s: no pose sequences (*.pose)", dir);
        goto done;
    }
    results = calloc((size_t)n, sizeof(*results));
    scenes = calloc((size_t)n, sizeof(*scenes));
    scene_names = calloc((size_t)n, sizeof(*scene_names));
    if (!results || !scenes || !scene_names) {
        cli_error("eval", "out of memory for %d sequences", n);
        goto done;
    }
    int listed = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct pose_sequence seq = {0};
        struct zone zones[POSE_SEQUENCE_MAX_ZONES];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if ((r = pose_sequence_load(path, &seq, &err)) < 0 ||
            (r = zones_of(&seq, zones, path, &err)) < 0 ||
            (r = hold_last_frame(&seq, hold_end)) < 0 ||
            (gate.still_pose_fps > 0 && (r = gate_sequence(&gate, &seq, &gated, path, &err)) < 0) ||
            (model_path && (r = model_frames(&fm, &seq, &p_fall, path, &err)) < 0)) {
            cli_error("eval", "%s", errbuf_text(&err, r));
            pose_sequence_done(&seq);
            goto done;
        }
        str_copy(scene_names[i], sizeof(scene_names[i]), seq.events.scene);
        scenes[i] = scene_names[i];
        struct fall_case fc = {.scene = scenes[i],
                               .fps = seq.fps,
                               .frames = seq.frames,
                               .keypoints =
                                   (const struct pose_keypoint(*)[POSE_NUM_KEYPOINTS])seq.keypoints,
                               .fall_at = seq.events.fall_at,
                               .up_at = seq.events.up_at,
                               .zones = zones,
                               .n_zones = no_zones ? 0 : seq.events.n_zones,
                               .p_fall = model_path ? p_fall : NULL};
        if (trace && strcmp(trace, names[i]) == 0)
            trace_case(&o, &fc);
        r = fall_eval_case(&o, &fc, &results[i], &err);
        if (r < 0) {
            cli_error("eval", "%s: %s", path, err.msg);
            pose_sequence_done(&seq);
            goto done;
        }
        const struct fall_case_result *res = &results[i];
        if (!as_json && listed < MAX_LISTED &&
            ((res->fall && !res->detected) || res->false_alarms)) {
            if (res->fall && !res->detected)
                fprintf(stderr, "%s (%s): fall missed\n", names[i], scenes[i]);
            else
                report_false_alarm(names[i], scenes[i], &seq, res->false_at);
            listed++;
        }
        pose_sequence_done(&seq);
    }
    struct fall_eval_summary summary;
    if (fall_eval_summarize(results, scenes, n, &summary) < 0) {
        cli_error("eval", "out of memory");
        goto done;
    }
    if (as_json) {
        json_t *j = summary_json(&summary, &o);
        if (gate.still_pose_fps > 0)
            json_object_set_new(j, "gate",
                                json_pack("{s:f, s:f, s:i, s:i, s:i, s:i}", "still_pose_fps",
                                          gate.still_pose_fps, "motion", gate.motion, "frames",
                                          gated.frames, "posed", gated.posed, "held", gated.held,
                                          "nobody", gated.empty));
        json_dumpf(j, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(j);
    } else {
        print_table(&summary, &o, dir);
        if (gate.still_pose_fps > 0 && gated.frames > 0)
            printf("behind the motion gate (still_pose_fps %g, motion %g): pose on %.1f %% of "
                   "%d frames, held on %.1f %%, nobody on %.1f %%\n",
                   gate.still_pose_fps, gate.motion, 100.0 * gated.posed / gated.frames,
                   gated.frames, 100.0 * gated.held / gated.frames,
                   100.0 * gated.empty / gated.frames);
    }
    status = 0;
done:
    fall_model_close(&fm);
    free(p_fall);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(results);
    free(scenes);
    free(scene_names);
    return status;
}
