/* crt bench decode: crtd's video pipeline (decode, sample by pts, convert the
 * sampled frames to RGB) beside `ffmpeg -threads 1 -i FILE -vf fps=N -f null -`
 * on the same file, in the same run, each with one decoding thread; and the
 * pipeline with the motion gate, converting only the frames that moved: the
 * gate's cost per frame and the conversions it saves. */
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <jansson.h>

#include "commands.h"
#include "video.h"
#include "video_cli.h"

extern char **environ;

struct measure {
    const char *label;
    double wall_s; /* best of the runs */
    double cpu_s;  /* of the best run */
    long long decoded, sampled;
    struct video_stats stats; /* of the best run */
    bool ok;
};

/* The pipelines of crtd measured, in the order of the table. */
enum pipeline { PIPE_SKIP, PIPE_ALL, PIPE_GATE, PIPE_FFMPEG, PIPE_COUNT };

static void usage(FILE *out)
{
    fprintf(out, "usage: crt bench decode [options] FILE\n\n"
                 "Decode FILE with crtd's pipeline (sampling at --fps, RGB conversion of the\n"
                 "sampled frames, long side capped) twice, skipping non-reference frames and\n"
                 "decoding all of them, and with `ffmpeg -threads 1 -i FILE -vf fps=N -f null -`,\n"
                 "all with one decoding thread; prints frames per second of each, best of --runs.\n"
                 "A third crtd pipeline runs the motion gate on every sampled frame and converts\n"
                 "only those that moved: the gate's CPU time per frame and the conversions saved\n"
                 "are printed beside the others.\n\n"
                 "options:\n"
                 "  --fps N        target sampling rate (default 10)\n"
                 "  --max-side N   long side of crtd's RGB frames (default 640)\n"
                 "  --runs N       repetitions, the fastest counts (default 3)\n"
                 "  --ffmpeg PATH  the reference program (default ffmpeg)\n"
                 "  --json         the figures as JSON on stdout\n");
}

static double cpu_seconds(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

/* With `gate`, the motion gate runs on every sampled frame and only the
 * frames that moved (or start its background) are converted, as the daemon
 * will ask for RGB only when pose runs. */
static int run_crtd(const char *file, double fps, int max_side, enum video_skip skip, bool gate,
                    double *ret_wall, double *ret_cpu, struct video_stats *ret_stats,
                    struct errbuf *err)
{
    struct video_options opts;
    struct video_stream *s = NULL;
    struct video_frame f;
    struct video_stats st;
    volatile unsigned sink = 0;
    int r;

    video_options_init(&opts);
    opts.fps = fps;
    opts.max_side = max_side;
    opts.threads = 1;
    opts.skip_nonref = skip;
    opts.reconnect = VIDEO_RECONNECT_NEVER;
    opts.motion = gate;
    opts.convert_on_demand = gate;
    r = video_stream_new(file, &opts, &s, err);
    if (r < 0)
        return r;
    /* This thread's CPU only: the pipeline runs here, with one decoding
     * thread, and no other thread of the process (a BLAS pool) is counted. */
    double cpu0 = cpu_seconds(RUSAGE_THREAD);
    int64_t t0 = time_mono_ns();
    while ((r = video_stream_read(s, &f, err)) == 0) {
        if (gate && !f.motion.moved && !f.motion.reset)
            continue; /* nothing moved: no pose, no RGB */
        if (!f.data && (r = video_stream_convert(s, &f, err)) < 0)
            break;
        sink += f.data[(f.height / 2) * f.stride + f.width / 2 * 3]; /* touch the frame */
    }
    int64_t t1 = time_mono_ns();
    double cpu1 = cpu_seconds(RUSAGE_THREAD);
    (void)sink;
    video_stream_stats(s, &st);
    video_stream_free(s);
    if (r != AVERROR_EOF)
        return r;
    *ret_wall = (double)(t1 - t0) * 1e-9;
    *ret_cpu = cpu1 - cpu0;
    *ret_stats = st;
    return 0;
}

/* Runs the reference; its sampled count comes from -progress's last frame=. */
static int run_ffmpeg(const char *ffmpeg, const char *file, double fps, double *ret_wall,
                      double *ret_cpu, long long *ret_sampled, struct errbuf *err)
{
    char filter[64];
    snprintf(filter, sizeof(filter), "fps=%g", fps);
    char *argv[] = {(char *)ffmpeg,
                    "-hide_banner",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-nostats",
                    "-threads",
                    "1",
                    "-i",
                    (char *)file,
                    "-vf",
                    filter,
                    "-f",
                    "null",
                    "-progress",
                    "pipe:1",
                    "-",
                    NULL};
    int fds[2];
    posix_spawn_file_actions_t actions;
    pid_t pid;
    int r;

    if (pipe(fds) < 0)
        return errbuf_set(err, -errno, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    double cpu0 = cpu_seconds(RUSAGE_CHILDREN);
    int64_t t0 = time_mono_ns();
    r = posix_spawnp(&pid, ffmpeg, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (r != 0) {
        close(fds[0]);
        return errbuf_set(err, -r, "cannot run %s: %s", ffmpeg, strerror(r));
    }
    FILE *out = fdopen(fds[0], "r");
    long long frames = -1;
    char line[256];
    while (out && fgets(line, sizeof(line), out))
        if (strncmp(line, "frame=", 6) == 0)
            frames = atoll(line + 6);
    if (out)
        fclose(out);
    else
        close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    int64_t t1 = time_mono_ns();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || frames < 0)
        return errbuf_set(err, -EIO, "%s failed on '%s' (exit status %d)", ffmpeg, file,
                          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    *ret_wall = (double)(t1 - t0) * 1e-9;
    *ret_cpu = cpu_seconds(RUSAGE_CHILDREN) - cpu0;
    *ret_sampled = frames;
    return 0;
}

static void keep_best(struct measure *m, double wall, double cpu, const struct video_stats *st)
{
    if (!m->ok || wall < m->wall_s) {
        m->wall_s = wall;
        m->cpu_s = cpu;
        if (st)
            m->stats = *st;
    }
    m->ok = true;
}

static double per_frame_us(uint64_t ns, uint64_t frames)
{
    return frames ? (double)ns / 1e3 / (double)frames : 0;
}

int bench_decode(int argc, char **argv)
{
    const char *file = NULL, *ffmpeg = "ffmpeg";
    double fps = 10, max_side = 640, runs = 3;
    bool as_json = false;
    struct errbuf err = {{0}};
    int r;

    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--fps") == 0 && i + 1 < argc) {
            if (video_cli_number(argv[++i], 0.01, 1000, "bench decode", a, &fps) < 0)
                return EXIT_USAGE;
        } else if (strcmp(a, "--max-side") == 0 && i + 1 < argc) {
            if (video_cli_number(argv[++i], 0, 16384, "bench decode", a, &max_side) < 0)
                return EXIT_USAGE;
        } else if (strcmp(a, "--runs") == 0 && i + 1 < argc) {
            if (video_cli_number(argv[++i], 1, 100, "bench decode", a, &runs) < 0)
                return EXIT_USAGE;
        } else if (strcmp(a, "--ffmpeg") == 0 && i + 1 < argc) {
            ffmpeg = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            as_json = true;
        } else if (a[0] == '-') {
            cli_error("bench decode", "unknown option '%s' (or it lacks its value)", a);
            usage(stderr);
            return EXIT_USAGE;
        } else if (!file) {
            file = a;
        } else {
            cli_error("bench decode", "one FILE only ('%s' is extra)", a);
            return EXIT_USAGE;
        }
    }
    if (!file) {
        cli_error("bench decode", "no FILE given");
        usage(stderr);
        return EXIT_USAGE;
    }

    char ref_label[96];
    snprintf(ref_label, sizeof(ref_label), "ffmpeg -threads 1 -vf fps=%g", fps);
    struct measure m[PIPE_COUNT] = {
        [PIPE_SKIP] = {.label = "crtd, skip non-ref (auto)"},
        [PIPE_ALL] = {.label = "crtd, decode every frame"},
        [PIPE_GATE] = {.label = "crtd, skip auto + motion gate"},
        [PIPE_FFMPEG] = {.label = ref_label},
    };
    long long all_frames = 0;
    for (int run = 0; run < (int)runs; run++) {
        fprintf(stderr, "crt bench decode: run %d of %d\n", run + 1, (int)runs);
        static const enum video_skip modes[PIPE_FFMPEG] = {VIDEO_SKIP_AUTO, VIDEO_SKIP_OFF,
                                                           VIDEO_SKIP_AUTO};
        for (int k = 0; k < PIPE_FFMPEG; k++) {
            double wall = 0, cpu = 0;
            struct video_stats st;
            r = run_crtd(file, fps, (int)max_side, modes[k], k == PIPE_GATE, &wall, &cpu, &st,
                         &err);
            if (r < 0) {
                cli_error("bench decode", "%s", errbuf_text(&err, r));
                return 1;
            }
            keep_best(&m[k], wall, cpu, &st);
            m[k].decoded = (long long)st.decoded;
            m[k].sampled = (long long)st.sampled;
        }
        all_frames = m[PIPE_ALL].decoded;
        double wall = 0, cpu = 0;
        long long sampled = 0;
        r = run_ffmpeg(ffmpeg, file, fps, &wall, &cpu, &sampled, &err);
        if (r < 0) {
            cli_error("bench decode", "%s", errbuf_text(&err, r));
            return 1;
        }
        keep_best(&m[PIPE_FFMPEG], wall, cpu, NULL);
        m[PIPE_FFMPEG].decoded = all_frames; /* ffmpeg decodes every frame */
        m[PIPE_FFMPEG].sampled = sampled;
    }
    /* The gate's own CPU time per gated frame, the conversion's per converted
     * frame (from the pipeline that converts every sampled frame), and what
     * converting only the moved frames saved. */
    const struct video_stats *gs = &m[PIPE_GATE].stats, *cs = &m[PIPE_SKIP].stats;
    double gate_us = per_frame_us(gs->gate_ns, gs->sampled);
    double convert_us = per_frame_us(cs->convert_ns, cs->converted);
    long long saved = (long long)gs->sampled - (long long)gs->converted;
    double saved_us = gs->sampled ? saved * convert_us / (double)gs->sampled : 0;

    if (as_json) {
        json_t *list = json_array();
        for (int k = 0; k < PIPE_COUNT; k++)
            json_array_append_new(
                list,
                json_pack("{s:s, s:f, s:f, s:I, s:I, s:f, s:f, s:f}", "pipeline", m[k].label,
                          "wall_s", m[k].wall_s, "cpu_s", m[k].cpu_s, "decoded",
                          (json_int_t)m[k].decoded, "sampled", (json_int_t)m[k].sampled,
                          "input_frames_per_s", all_frames / m[k].wall_s, "decoded_per_s",
                          m[k].decoded / m[k].wall_s, "sampled_per_s", m[k].sampled / m[k].wall_s));
        json_t *gate =
            json_pack("{s:f, s:f, s:I, s:I, s:I, s:I, s:f}", "gate_us_per_frame", gate_us,
                      "convert_us_per_frame", convert_us, "sampled", (json_int_t)gs->sampled,
                      "still", (json_int_t)gs->gated, "converted", (json_int_t)gs->converted,
                      "conversions_saved", (json_int_t)saved, "saved_us_per_frame", saved_us);
        json_t *o = json_pack("{s:s, s:f, s:i, s:I, s:o, s:o, s:f}", "file", file, "fps", fps,
                              "runs", (int)runs, "input_frames", (json_int_t)all_frames, "results",
                              list, "motion_gate", gate, "speedup_vs_ffmpeg",
                              m[PIPE_FFMPEG].wall_s / m[PIPE_SKIP].wall_s);
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(o);
        return 0;
    }
    printf("%s: %lld frames, sampled at %g fps, one decoding thread, best of %d\n", file,
           all_frames, fps, (int)runs);
    printf("%-30s %10s %8s %10s %8s %10s %7s %7s\n", "pipeline", "input/s", "decoded", "decoded/s",
           "sampled", "sampled/s", "wall s", "cpu s");
    for (int k = 0; k < PIPE_COUNT; k++)
        printf("%-30s %10.1f %8lld %10.1f %8lld %10.1f %7.3f %7.3f\n", m[k].label,
               all_frames / m[k].wall_s, m[k].decoded, m[k].decoded / m[k].wall_s, m[k].sampled,
               m[k].sampled / m[k].wall_s, m[k].wall_s, m[k].cpu_s);
    printf("crtd (skip auto) vs ffmpeg: %.2fx the speed; crtd decode-all vs ffmpeg: %.2fx\n",
           m[PIPE_FFMPEG].wall_s / m[PIPE_SKIP].wall_s, m[PIPE_FFMPEG].wall_s / m[PIPE_ALL].wall_s);
    printf("motion gate: %.1f us CPU per sampled frame; RGB conversion: %.1f us per frame\n"
           "with the gate: %llu of %llu frames still, %llu converted, %lld conversions saved: "
           "%.1f us per sampled frame, %+.1f us net of the gate\n",
           gate_us, convert_us, (unsigned long long)gs->gated, (unsigned long long)gs->sampled,
           (unsigned long long)gs->converted, saved, saved_us, saved_us - gate_us);
    return 0;
}
