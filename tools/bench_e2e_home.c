/* crt bench e2e --workload home: a home's day for many cameras through the
 * real crtd. Each camera is a 640x480 substream at 15 fps, as home cameras
 * send them, made here by ffmpeg: a room (a still picture) under a lamp that
 * dims and flickers, with sensor noise, empty 70% of the time, a person
 * sitting still 20% (a photograph's crop), a person walking across 10%.
 * The day is compressed into a loop of DAY_S seconds; the cameras follow it
 * at HOME_FILES different phases, so they are never all busy at once. crtd
 * plays each file at its own speed in a loop, like a camera. Every N is run
 * with the motion gate (still_pose_fps 2, crtd's default) and beside it
 * with the gate off (still_pose_fps 0); the gate's labels are checked
 * against the ungated ones on the same videos with `crt classify`, which
 * runs the same gate code. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include "bench_e2e.h"
#include "commands.h"

#ifndef CRTD_SOURCE_ROOT
#define CRTD_SOURCE_ROOT "."
#endif

#define HOME_MAX   128 /* streams */
#define HOME_FILES 4   /* phases of the day */
#define DAY_S      60  /* 42 s empty, 12 s sitting, 6 s walking */

struct home_setup {
    const char *crtd, *model, *pose, *dir, *self;
    const char *videos; /* where the cameras' videos are (made when absent) */
    double seconds;
    char files[HOME_FILES][300];
};

struct home_run {
    int streams;
    double still_pose_fps;
    double fps_target, fps_min, fps_mean;
    double gated_share, pose_share; /* of the sampled frames */
    double p50, p95;                /* seconds */
    double cores, cpu_per_stream_s; /* CPU-seconds per stream-second */
    double ms_per_frame;            /* crtd's CPU per sampled frame */
    double at_goal;                 /* CPU-seconds per stream-second at the model's fps */
    bool keeps_up;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt bench e2e --workload home [--streams N] [--max N] [--seconds S]\n"
            "                     [--model FILE] [--pose-model FILE] [--crtd PATH] [--videos DIR]\n"
            "                     [--no-labels] [--json]\n\n"
            "A home's day for N cameras through crtd: 640x480 at 15 fps, each camera on\n"
            "its own phase of a %d s day (empty room with lighting changes and noise 70%%,\n"
            "a person sitting still 20%%, walking 10%%), played by crtd in a loop. Each N\n"
            "is run with the motion gate (still_pose_fps 2) and with it off (0); prints\n"
            "streams kept up, CPU per stream (CPU-seconds per stream-second: robust to\n"
            "other jobs on the machine), frames gated, pose frames and decision latency\n"
            "(p50, p95), and the gate's labels against the ungated ones (crt classify\n"
            "on the same videos).\n\n"
            "  --streams N        only N streams (default: 8, 16, 32, 48, 64, ... up to --max)\n"
            "  --max N            the largest N tried (default 64, at most %d)\n"
            "  --seconds S        measured seconds per run, after the warm-up (default 20)\n"
            "  --model FILE       segment model (default models/default.safetensors)\n"
            "  --pose-model FILE  MoveNet graph (default movenet-lightning.json)\n"
            "  --crtd PATH        the daemon (default: crtd beside crt in the build)\n"
            "  --videos DIR       keep the cameras' videos in DIR, made there only when absent\n"
            "                     (default: made afresh in a temporary folder)\n"
            "  --no-labels        skip the labels' check (crt classify with and without the\n"
            "                     gate on each camera's video: a few minutes on 2 cores)\n"
            "  --json             one JSON object on stdout\n",
            DAY_S, HOME_MAX);
}

static int run_shell(const char *cmd)
{
    int st = system(cmd);
    return st == 0 ? 0 : -EIO;
}

/* The room, the person, and the day at each phase. */
static int make_videos(struct home_setup *su)
{
    char room[300], person[300], cmd[4096];
    snprintf(room, sizeof(room), "%s/room.png", su->videos);
    snprintf(person, sizeof(person), "%s/person.png", su->videos);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=640x480 "
             "-vf eq=contrast=0.8,gblur=sigma=1 -frames:v 1 '%s' && "
             "ffmpeg -nostdin -v error -y -i '%s/third_party/images/messi5.jpg' "
             "-vf crop=200:300:'(iw-200)/2':'(ih-300)/2' '%s'",
             room, CRTD_SOURCE_ROOT, person);
    if (run_shell(cmd) < 0)
        return -EIO;
    for (int k = 0; k < HOME_FILES; k++) {
        double off = (double)k * DAY_S / HOME_FILES;
        snprintf(su->files[k], sizeof(su->files[k]), "%s/camera%d.mp4", su->videos, k);
        if (access(su->files[k], R_OK) == 0)
            continue; /* made by an earlier run into --videos */
                      /* p: the time of day. Sitting at 21..33 s, walking at 54..60 s; the
                       * lamp dims by 0.08 over 20 s and flickers by 0.03 at 1.3 Hz; the
                       * sensor's noise is temporal. */
#define P "mod(t+%g,%d)"
        snprintf(cmd, sizeof(cmd),
                 "ffmpeg -nostdin -v error -y -loop 1 -framerate 15 -i '%s' "
                 "-loop 1 -framerate 15 -i '%s' -t %d -filter_complex \""
                 "[0][1]overlay=x=380:y=140:enable='between(" P ",21,33)'[a];"
                 "[a][1]overlay=x='-200+(" P "-54)*140':y='140+8*sin(7*t)':"
                 "enable='gte(" P ",54)',"
                 "eq=brightness='0.08*sin(2*PI*t/20)+0.03*sin(2*PI*1.3*t)':eval=frame,"
                 "noise=alls=6:allf=t,format=yuv420p\" "
                 "-c:v libx264 -preset veryfast -bf 0 -g 30 -r 15 '%s'",
                 room, person, DAY_S, off, DAY_S, off, DAY_S, off, DAY_S, su->files[k]);
#undef P
        fprintf(stderr, "crt bench e2e: making camera %d of %d...\n", k + 1, HOME_FILES);
        if (run_shell(cmd) < 0)
            return -EIO;
    }
    return 0;
}

static int run_home(const struct home_setup *su, int n, double still_pose_fps, struct home_run *ret)
{
    char log[400], state[400], conf[400], (*args)[400] = calloc((size_t)n, sizeof(*args));
    const char *argv[2 * HOME_MAX + 16];
    struct e2e_sample *s0 = calloc((size_t)n, sizeof(*s0)), *s1 = calloc((size_t)n, sizeof(*s1));
    char *m0 = NULL, *m1 = NULL;
    pid_t crtd = 0;
    unsigned port = 0;
    int r = -EIO;

    *ret = (struct home_run){.streams = n, .still_pose_fps = still_pose_fps};
    if (!args || !s0 || !s1) {
        r = -ENOMEM;
        goto finish;
    }
    snprintf(log, sizeof(log), "%s/crtd-%d-%g.log", su->dir, n, still_pose_fps);
    snprintf(state, sizeof(state), "%s/state-%d-%g", su->dir, n, still_pose_fps);
    snprintf(conf, sizeof(conf), "%s/crtd-%g.conf", su->dir, still_pose_fps);
    FILE *f = fopen(conf, "w");
    if (!f) {
        cli_error(BENCH, "%s: %s", conf, strerror(errno));
        goto finish;
    }
    fprintf(f, "[daemon]\nstill_pose_fps = %g\nmax_streams = %d\n", still_pose_fps, n);
    fclose(f);
    size_t a = 0;
    const char *fixed[] = {su->crtd, "--listen", "127.0.0.1:0", "--state-dir",  state,   "--config",
                           conf,     "--model",  su->model,     "--pose-model", su->pose};
    for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
        argv[a++] = fixed[i];
    for (int i = 0; i < n; i++) {
        snprintf(args[i], sizeof(args[i]), "c%d=%s", i, su->files[i % HOME_FILES]);
        argv[a++] = "--stream";
        argv[a++] = args[i];
    }
    argv[a] = NULL;
    if (e2e_start_crtd(argv, log, &crtd, &port) < 0)
        goto finish;
    char *card = e2e_http_get(port, "/v1/model");
    json_t *j = card ? json_loads(card, 0, NULL) : NULL;
    ret->fps_target = j ? json_number_value(json_object_get(j, "fps")) : 0;
    json_decref(j);
    free(card);
    if (ret->fps_target <= 0) {
        cli_error(BENCH, "crtd has no model card; see %s", log);
        goto finish;
    }
    e2e_warm_up(port, n);
    double t0 = time_mono_ns() / 1e9, c0 = e2e_cpu_seconds(crtd);
    m0 = e2e_http_get(port, "/metrics");
    e2e_sleep_s(su->seconds);
    double t1 = time_mono_ns() / 1e9, c1 = e2e_cpu_seconds(crtd);
    m1 = e2e_http_get(port, "/metrics");
    if (!m0 || !m1) {
        cli_error(BENCH, "crtd's /metrics did not answer");
        goto finish;
    }
    double dt = t1 - t0, sampled = 0, gated = 0, posed = 0;
    struct e2e_sample all0 = {0}, all1 = {0};
    ret->fps_min = INFINITY;
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", i);
        e2e_read_sample(m0, name, &s0[i]);
        e2e_read_sample(m1, name, &s1[i]);
        double fps = (s1[i].sampled - s0[i].sampled) / dt;
        if (!(fps >= 0))
            fps = 0;
        ret->fps_min = fmin(ret->fps_min, fps);
        ret->fps_mean += fps / n;
        sampled += s1[i].sampled - s0[i].sampled;
        gated += e2e_metric(m1, "crtd_stream_gated_frames_total", name) -
                 e2e_metric(m0, "crtd_stream_gated_frames_total", name);
        posed += e2e_metric(m1, "crtd_stream_pose_frames_total", name) -
                 e2e_metric(m0, "crtd_stream_pose_frames_total", name);
        all0.n_buckets = s0[i].n_buckets;
        all1.n_buckets = s1[i].n_buckets;
        for (int b = 0; b < s1[i].n_buckets && b < s0[i].n_buckets; b++) {
            all0.le[b] = s0[i].le[b];
            all1.le[b] = s1[i].le[b];
            all0.cum[b] += s0[i].cum[b];
            all1.cum[b] += s1[i].cum[b];
        }
    }
    ret->gated_share = sampled > 0 ? gated / sampled : NAN;
    ret->pose_share = sampled > 0 ? posed / sampled : NAN;
    ret->p50 = e2e_quantile(&all0, &all1, 0.50);
    ret->p95 = e2e_quantile(&all0, &all1, 0.95);
    ret->cores = (c1 - c0) / dt;
    ret->cpu_per_stream_s = ret->cores / n;
    /* A stream that fell behind did less work: its cost at the full rate is
     * the cost per sampled frame times the model's fps. */
    ret->ms_per_frame = sampled > 0 ? (c1 - c0) / sampled * 1e3 : NAN;
    ret->at_goal = ret->ms_per_frame * 1e-3 * ret->fps_target;
    ret->keeps_up = ret->fps_min >= KEEP_UP * ret->fps_target;
    r = 0;
finish:
    e2e_reap(crtd, SIGTERM);
    free(m0);
    free(m1);
    free(s0);
    free(s1);
    free(args);
    return r;
}

/* crt classify --json on one video, gated or not; the parsed output. */
static json_t *classify(const struct home_setup *su, const char *file, bool gate)
{
    char out[400];
    snprintf(out, sizeof(out), "%s/classify-%s.json", su->dir, gate ? "gate" : "nogate");
    const char *argv[] = {su->self,  "classify", "--json", "--model",
                          su->model, "--pose",   su->pose, gate ? "--gate" : "--no-gate",
                          file,      NULL};
    pid_t pid = e2e_spawn(argv, out);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        return NULL;
    return json_load_file(out, 0, NULL);
}

/* The most common label of an array of segments. */
static const char *top_label(json_t *segments)
{
    json_t *counts = json_object(), *s;
    size_t i;
    const char *best = NULL;
    json_int_t most = 0;
    json_array_foreach(segments, i, s)
    {
        const char *l = json_string_value(json_object_get(s, "label"));
        if (!l)
            continue;
        json_int_t c = json_integer_value(json_object_get(counts, l)) + 1;
        json_object_set_new(counts, l, json_integer(c));
        if (c > most) {
            most = c;
            best = json_string_value(json_object_get(s, "label"));
        }
    }
    json_decref(counts);
    return best;
}

/* The gate's labels against the ungated ones on each camera's video:
 * segments that agree, and whether the clip labels are the same. */
static int check_labels(const struct home_setup *su, int files, bool as_json, json_t *report)
{
    int worst_same = 0, worst_total = 1, clips_same = 0;
    for (int k = 0; k < files; k++) {
        fprintf(stderr, "crt bench e2e: labels of camera %d with and without the gate...\n", k);
        json_t *on = classify(su, su->files[k], true), *off = classify(su, su->files[k], false);
        json_t *a = json_object_get(on, "segments"), *b = json_object_get(off, "segments");
        if (!a || !b) {
            json_decref(on);
            json_decref(off);
            cli_error(BENCH, "crt classify failed on %s", su->files[k]);
            return -EIO;
        }
        size_t n =
            json_array_size(a) < json_array_size(b) ? json_array_size(a) : json_array_size(b);
        int same = 0;
        for (size_t i = 0; i < n; i++)
            same += strcmp(json_string_value(json_object_get(json_array_get(a, i), "label")),
                           json_string_value(json_object_get(json_array_get(b, i), "label"))) == 0;
        const char *ta = top_label(a), *tb = top_label(b);
        bool clip_same =
            ta && tb && strcmp(ta, tb) == 0 && json_array_size(a) == n && json_array_size(b) == n;
        clips_same += clip_same;
        if ((double)same / (double)(n ? n : 1) < (double)worst_same / worst_total || k == 0) {
            worst_same = same;
            worst_total = n ? (int)n : 1;
        }
        json_t *gate = json_object_get(on, "gate");
        json_array_append_new(report, json_pack("{s:i, s:i, s:i, s:s, s:s, s:O}", "camera", k,
                                                "segments", (int)n, "agree", same, "label_gate",
                                                ta ? ta : "", "label_ungated", tb ? tb : "", "gate",
                                                gate ? gate : json_null()));
        if (!as_json)
            printf("labels camera%d: %d of %zu segments agree (%.1f%%), clip label %s / %s, "
                   "pose on %lld of %lld frames\n",
                   k, same, n, 100.0 * same / (double)(n ? n : 1), ta ? ta : "-", tb ? tb : "-",
                   (long long)json_integer_value(json_object_get(gate, "pose_frames")),
                   (long long)json_integer_value(json_object_get(on, "frames")));
        json_decref(on);
        json_decref(off);
    }
    if (!as_json)
        printf("labels: worst camera %.1f%% of segments agree, clip labels equal on %d of %d\n",
               100.0 * worst_same / worst_total, clips_same, files);
    return 0;
}

static void print_run(const struct home_run *x)
{
    printf("%7d %5s %8.1f %8.2f %9.2f %7.1f %6.1f %8.1f %8.1f %6.2f %8.4f %8.2f %8.4f  %s\n",
           x->streams, x->still_pose_fps > 0 ? "on" : "off", x->fps_target, x->fps_min, x->fps_mean,
           100 * x->gated_share, 100 * x->pose_share, x->p50 * 1e3, x->p95 * 1e3, x->cores,
           x->cpu_per_stream_s, x->ms_per_frame, x->at_goal, x->keeps_up ? "yes" : "no");
    fflush(stdout);
}

static json_t *run_json(const struct home_run *x)
{
    json_t *o = json_pack(
        "{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:b}", "streams", x->streams,
        "still_pose_fps", x->still_pose_fps, "fps_target", x->fps_target, "fps_min", x->fps_min,
        "fps_mean", x->fps_mean, "gated_share", x->gated_share, "pose_share", x->pose_share,
        "latency_p50_s", isnan(x->p50) ? -1 : x->p50, "latency_p95_s", isnan(x->p95) ? -1 : x->p95,
        "cpu_cores", x->cores, "cpu_s_per_stream_s", x->cpu_per_stream_s, "keeps_up", x->keeps_up);
    json_object_set_new(o, "ms_per_frame", json_real(x->ms_per_frame));
    json_object_set_new(o, "cpu_s_per_stream_s_at_goal", json_real(x->at_goal));
    return o;
}

int bench_e2e_home(int argc, char **argv)
{
    struct home_setup su = {.seconds = 20};
    char dir[] = "/tmp/crt-bench-home-XXXXXX", pose[4096], model[4096], crtd[4096], self[4096];
    int only = 0, max = 64;
    bool as_json = false, labels_check = true;

    snprintf(pose, sizeof(pose), "%s/third_party/models/movenet-lightning.json", CRTD_SOURCE_ROOT);
    snprintf(model, sizeof(model), "%s/models/default.safetensors", CRTD_SOURCE_ROOT);
    su.pose = pose;
    su.model = model;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            as_json = true;
        } else if (strcmp(a, "--no-labels") == 0) {
            labels_check = false;
        } else if (has && strcmp(a, "--workload") == 0) {
            i++; /* "home", checked by bench_e2e */
        } else if (has && (strcmp(a, "--streams") == 0 || strcmp(a, "--max") == 0)) {
            int v = atoi(argv[++i]);
            if (v < 1 || v > HOME_MAX) {
                cli_error(BENCH, "%s must be 1..%d", a, HOME_MAX);
                return EXIT_USAGE;
            }
            *(strcmp(a, "--max") == 0 ? &max : &only) = v;
        } else if (has && strcmp(a, "--seconds") == 0) {
            su.seconds = atof(argv[++i]);
            if (!(su.seconds >= 1 && su.seconds <= 600)) {
                cli_error(BENCH, "--seconds must be 1..600");
                return EXIT_USAGE;
            }
        } else if (has && strcmp(a, "--model") == 0) {
            su.model = argv[++i];
        } else if (has && strcmp(a, "--pose-model") == 0) {
            su.pose = argv[++i];
        } else if (has && strcmp(a, "--crtd") == 0) {
            su.crtd = argv[++i];
        } else if (has && strcmp(a, "--videos") == 0) {
            su.videos = argv[++i];
            if (mkdir_parents(su.videos, 0755) < 0) {
                cli_error(BENCH, "--videos '%s': cannot create it", su.videos);
                return 1;
            }
        } else {
            cli_error(BENCH, "unknown option '%s' (try --workload home --help)", a);
            return EXIT_USAGE;
        }
    }
    const char *need[] = {su.pose, su.model};
    for (size_t i = 0; i < ARRAY_SIZE(need); i++)
        if (access(need[i], R_OK) < 0) {
            cli_error(BENCH, "%s: %s (run scripts/setup, or give --pose-model / --model)", need[i],
                      strerror(errno));
            return 1;
        }
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[len > 0 ? len : 0] = '\0';
    su.self = self;
    if (!su.crtd) {
        snprintf(crtd, sizeof(crtd), "%s", self);
        char *slash = strrchr(crtd, '/');
        if (slash)
            snprintf(slash, sizeof(crtd) - (size_t)(slash - crtd), "/../daemon/crtd");
        su.crtd = access(crtd, X_OK) == 0 ? crtd : "crtd";
    }
    if (!mkdtemp(dir)) {
        cli_error(BENCH, "temporary directory: %s", strerror(errno));
        return 1;
    }
    su.dir = dir;
    if (!su.videos)
        su.videos = dir;
    if (make_videos(&su) < 0) {
        cli_error(BENCH, "could not make the cameras' videos with ffmpeg (see above)");
        return 1;
    }

    json_t *runs = json_array(), *labels = json_array();
    int largest = (only ? only : max), files = largest < HOME_FILES ? largest : HOME_FILES;
    int r = labels_check ? check_labels(&su, files, as_json, labels) : 0;
    static const int ramp[] = {8, 16, 32, 48, 64, 80, 96, 128};
    int best_on = 0, best_off = 0;
    struct home_run last_on = {0}, last_off = {0};
    bool off_fell = false;
    if (r == 0 && !as_json)
        printf("%7s %5s %8s %8s %9s %7s %6s %8s %8s %6s %8s %8s %8s  %s\n", "streams", "gate",
               "fps/goal", "fps(min)", "fps(mean)", "gated%", "pose%", "p50(ms)", "p95(ms)",
               "cores", "cpu-s/s", "ms/frame", "at goal", "keeps up");
    for (size_t k = 0; r == 0 && k < ARRAY_SIZE(ramp); k++) {
        int n = only ? only : ramp[k];
        if (!only && n > max)
            break;
        struct home_run on, off;
        fprintf(stderr, "crt bench e2e: %d home cameras, gate on, for %.0f s...\n", n, su.seconds);
        if ((r = run_home(&su, n, 2, &on)) < 0)
            break;
        if (!as_json)
            print_run(&on);
        json_array_append_new(runs, run_json(&on));
        best_on = on.keeps_up ? n : best_on;
        last_on = on;
        /* The gate off beside it, until it no longer keeps up. */
        if (!off_fell) {
            fprintf(stderr, "crt bench e2e: %d home cameras, gate off, for %.0f s...\n", n,
                    su.seconds);
            if ((r = run_home(&su, n, 0, &off)) < 0)
                break;
            if (!as_json)
                print_run(&off);
            json_array_append_new(runs, run_json(&off));
            best_off = off.keeps_up ? n : best_off;
            last_off = off;
            off_fell = !off.keeps_up;
        }
        if (only || !on.keeps_up)
            break;
    }
    if (r == 0 && as_json) {
        json_t *root = json_pack("{s:s, s:o, s:o, s:i, s:i, s:f, s:i}", "workload", "home", "runs",
                                 runs, "labels", labels, "largest_keeping_up_gate", best_on,
                                 "largest_keeping_up_no_gate", best_off, "seconds", su.seconds,
                                 "cores", (int)sysconf(_SC_NPROCESSORS_ONLN));
        char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(root);
    } else {
        json_decref(runs);
        json_decref(labels);
        if (r == 0)
            printf("largest N that keeps up: %d with the gate, %d without (%ld cores; cpu-s/s is "
                   "crtd's user+system CPU-seconds per stream-second, 'at goal' the same at the "
                   "model's fps: a stream that fell behind did less)\n",
                   best_on, best_off, sysconf(_SC_NPROCESSORS_ONLN));
        if (r == 0 && last_on.at_goal > 0)
            printf("on %ld free cores: about %.0f streams with the gate, %.0f without (cores / "
                   "CPU-seconds per stream-second at the goal, of the last runs)\n",
                   sysconf(_SC_NPROCESSORS_ONLN), sysconf(_SC_NPROCESSORS_ONLN) / last_on.at_goal,
                   last_off.at_goal > 0 ? sysconf(_SC_NPROCESSORS_ONLN) / last_off.at_goal : NAN);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (r == 0 && system(cmd) != 0)
        fprintf(stderr, "crt bench e2e: could not remove %s\n", dir);
    return r < 0 ? 1 : 0;
}
