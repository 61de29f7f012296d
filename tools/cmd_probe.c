/* crt probe: opens a video source the way crtd's stream threads do and prints
 * every sampled frame's pts and size, then the stream's counters. */
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <jansson.h>

#include "commands.h"
#include "video.h"
#include "video_cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt probe [options] URL\n\n"
            "Read a video source as crtd does (decode, sample by timestamp, convert to RGB)\n"
            "and print each sampled frame's index, pts, size and decode time on stdout,\n"
            "then the stream's counters. URL: a file, rtsp://, http(s)://, v4l2:///dev/videoN,\n"
            "or lavfi:<graph>. Stops after --frames or --duration, at the end of a file, or\n"
            "on Ctrl-C.\n\n"
            "options:\n"
            "  --frames N          stop after N sampled frames\n"
            "  --duration S        stop after S seconds of wall-clock time\n"
            "  --summary           print only the counters, not every frame\n"
            "  --json              one JSON object per frame, then one with the counters\n");
    video_cli_usage(out);
}

/* Set by SIGINT, SIGTERM and the --duration timer (SIGALRM); the stream
 * looks at it like at video_stream_stop(). An atomic store is what a signal
 * handler may do. */
static atomic_bool probe_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    atomic_store(&probe_stop, true);
}

static void print_stats(const struct video_stream *s, bool as_json)
{
    struct video_stats st;
    video_stream_stats(s, &st);
    if (as_json) {
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:I, s:I, s:I, s:I, s:I, s:b, s:b, "
                      "s:s, s:f, s:I, s:s}",
                      "source", video_stream_name(s), "state", video_state_name(st.state), "codec",
                      st.codec, "source_width", st.source_width, "source_height", st.source_height,
                      "stream_fps", st.stream_fps, "decoded", (json_int_t)st.decoded, "sampled",
                      (json_int_t)st.sampled, "dropped", (json_int_t)st.dropped, "decode_errors",
                      (json_int_t)st.decode_errors, "reconnects", (json_int_t)st.reconnects,
                      "skipping_nonref", st.skipping_nonref, "hwaccel_active", st.hwaccel_active,
                      "last_error", st.last_error, "last_frame_at", st.last_frame_at, "late",
                      (json_int_t)st.late, "transport", video_transport_name(st.transport));
        json_dumpf(o, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(o);
        return;
    }
    printf("source %s\ncodec %s %dx%d, %.3g fps\nstate %s\n"
           "decoded %llu, sampled %llu, dropped %llu (late %llu), decode errors %llu, "
           "reconnects %llu\n"
           "non-reference frames skipped: %s, VAAPI: %s, RTSP transport: %s\n",
           video_stream_name(s), st.codec[0] ? st.codec : "-", st.source_width, st.source_height,
           st.stream_fps, video_state_name(st.state), (unsigned long long)st.decoded,
           (unsigned long long)st.sampled, (unsigned long long)st.dropped,
           (unsigned long long)st.late, (unsigned long long)st.decode_errors,
           (unsigned long long)st.reconnects, st.skipping_nonref ? "yes" : "no",
           st.hwaccel_active ? "yes" : "no",
           st.transport == VIDEO_TRANSPORT_AUTO ? "-" : video_transport_name(st.transport));
    if (st.last_error[0])
        printf("last error: %s\n", st.last_error);
}

int cmd_probe(int argc, char **argv)
{
    struct video_options opts;
    const char *url = NULL;
    long max_frames = -1;
    double duration = 0;
    bool summary = false, as_json = false;
    struct video_stream *s = NULL;
    struct errbuf err = {{0}};
    int status = 1, r;

    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    video_options_init(&opts);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        r = video_cli_option(&opts, argc, argv, &i, "probe");
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        if (strcmp(a, "--frames") == 0 && i + 1 < argc) {
            if (video_cli_number(argv[++i], 1, 1e12, "probe", "--frames", &duration) < 0)
                return EXIT_USAGE;
            max_frames = (long)duration;
            duration = 0;
        } else if (strcmp(a, "--duration") == 0 && i + 1 < argc) {
            if (video_cli_number(argv[++i], 0.001, 1e9, "probe", "--duration", &duration) < 0)
                return EXIT_USAGE;
        } else if (strcmp(a, "--summary") == 0) {
            summary = true;
        } else if (strcmp(a, "--json") == 0) {
            as_json = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            cli_error("probe", "unknown option '%s' (or it lacks its value)", a);
            usage(stderr);
            return EXIT_USAGE;
        } else if (!url) {
            url = a;
        } else {
            cli_error("probe", "one URL only ('%s' is extra)", a);
            return EXIT_USAGE;
        }
    }
    if (!url) {
        cli_error("probe", "no URL given");
        usage(stderr);
        return EXIT_USAGE;
    }
    atomic_store(&probe_stop, false);
    opts.stop_flag = &probe_stop;
    r = video_stream_new(url, &opts, &s, &err);
    if (r < 0) {
        cli_error("probe", "%s", errbuf_text(&err, r));
        return r == -EINVAL ? EXIT_USAGE : 1;
    }

    struct sigaction sa = {.sa_handler = on_stop_signal}, old_int, old_term, old_alrm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGALRM, &sa, &old_alrm);
    if (duration > 0) {
        struct itimerval timer = {
            .it_value = {.tv_sec = (time_t)duration,
                         .tv_usec = (suseconds_t)((duration - floor(duration)) * 1e6)},
        };
        setitimer(ITIMER_REAL, &timer, NULL);
    }

    struct video_frame f;
    long n = 0;
    while (max_frames < 0 || n < max_frames) {
        r = video_stream_read(s, &f, &err);
        if (r < 0)
            break;
        n++;
        if (summary)
            continue;
        if (as_json)
            printf("{\"index\":%lld,\"pts\":%.6f,\"width\":%d,\"height\":%d,\"stride\":%d,"
                   "\"decoded_at\":%.6f}\n",
                   (long long)f.index, f.pts, f.width, f.height, f.stride, f.decoded_at);
        else
            printf("%6lld  pts %10.3f s  %dx%d  decoded at %.3f\n", (long long)f.index, f.pts,
                   f.width, f.height, f.decoded_at);
    }
    if (max_frames >= 0 && n >= max_frames)
        r = 0;
    setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {0, 0}}, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGALRM, &old_alrm, NULL);

    print_stats(s, as_json);
    if (r == 0 || r == AVERROR_EOF || r == -ECANCELED)
        status = 0;
    else
        cli_error("probe", "%s", errbuf_text(&err, r));
    video_stream_free(s);
    return status;
}
