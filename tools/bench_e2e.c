/* crt bench e2e: the whole daemon on this machine — N live streams of a
 * 640x480 clip (each served by its own `ffmpeg -re ... -listen 1` over HTTP,
 * at real time) watched by one crtd with the model, measured through crtd's
 * own /metrics: per-stream sampled fps achieved against the model's fps,
 * frame drops, decode-to-activity latency (p50, p95, interpolated in the
 * latency histogram), and crtd's CPU use from /proc. Without --streams it
 * tries 1, 2, 4, 6, 8, 12, 16, 20, 24, ... and reports the largest N that
 * keeps up (every stream at 95% of the model's fps or more). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include "commands.h"
#include "safetensors.h"
#include "crt.h"
#include "data.h"
#include "bench_e2e.h"

#ifndef CRTD_SOURCE_ROOT
#define CRTD_SOURCE_ROOT "."
#endif

#define MAX_STREAMS 64

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: crt bench e2e [--workload clip|home] [--streams N] [--max N] [--seconds S]\n"
        "                     [--model FILE] [--pose-model FILE] [--clip FILE] [--crtd PATH]\n"
        "                     [--json]\n\n"
        "N live streams of a 640x480 clip, each at real time, watched by one crtd;\n"
        "prints per-stream sampled fps, frames missed (sampling slots lost to falling\n"
        "behind) and skipped (decoded but not sampled: the rate conversion),\n"
        "decode-to-activity latency (p50, p95)\n"
        "and crtd's CPU use, then the largest N that keeps up (every stream at %.0f%%\n"
        "of the model's fps or more).\n\n"
        "  --streams N        only N streams (default: 1, 2, 4, 6, 8, 12, 16, ... up to --max)\n"
        "  --max N            the largest N tried (default 32)\n"
        "  --seconds S        measured seconds per N, after 4 s of warm-up (default 10)\n"
        "  --model FILE       segment model (default: random weights of the default\n"
        "                     sizes; speed does not depend on the weights)\n"
        "  --pose-model FILE  MoveNet graph (default "
        "%s/third_party/models/movenet-lightning.json)\n"
        "  --clip FILE        the clip (default: made from third_party/images/messi5.jpg)\n"
        "  --still-pose-fps F crtd's still_pose_fps (default crtd's, 2; 0: no motion gate)\n"
        "  --crtd PATH        the daemon (default: crtd beside crt in the build, then $PATH)\n"
        "  --json             one JSON object on stdout\n"
        "  --workload home    a home's day of many cameras instead, the motion gate on\n"
        "                     and off (crt bench e2e --workload home --help)\n",
        KEEP_UP * 100, CRTD_SOURCE_ROOT);
}

void e2e_sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

pid_t e2e_spawn(const char *const *argv, const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* an interrupted bench leaves nothing running */
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

void e2e_reap(pid_t pid, int sig)
{
    int status;
    if (pid <= 0)
        return;
    kill(pid, sig);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return;
        e2e_sleep_s(0.02);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* GET path from crtd; a malloc'd body, or NULL. */
char *e2e_http_get(unsigned port, const char *path)
{
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return NULL;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || send(fd, req, (size_t)n, 0) != n) {
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10000) != 1)
            break;
        ssize_t got = recv(fd, buf + len, cap - 1 - len, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
        if (len == cap - 1) {
            char *grown = realloc(buf, cap * 2);
            if (!grown)
                break;
            buf = grown;
            cap *= 2;
        }
    }
    close(fd);
    if (!buf)
        return NULL;
    buf[len] = '\0';
    char *body = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 9, "200", 3) != 0 || !body) {
        free(buf);
        return NULL;
    }
    memmove(buf, body + 4, strlen(body + 4) + 1);
    return buf;
}

double e2e_metric(const char *text, const char *family, const char *stream)
{
    char key[160];
    snprintf(key, sizeof(key), "%s{stream=\"%s\"} ", family, stream);
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

void e2e_read_sample(const char *text, const char *stream, struct e2e_sample *s)
{
    char key[160];
    memset(s, 0, sizeof(*s));
    s->sampled = e2e_metric(text, "crtd_stream_sampled_frames_total", stream);
    s->dropped = e2e_metric(text, "crtd_stream_dropped_frames_total", stream);
    snprintf(key, sizeof(key), "crtd_activity_latency_seconds_bucket{stream=\"%s\",le=\"", stream);
    for (const char *p = strstr(text, key); p && s->n_buckets < HIST_BUCKETS;
         p = strstr(p + 1, key)) {
        const char *v = p + strlen(key);
        s->le[s->n_buckets] = strncmp(v, "+Inf", 4) == 0 ? INFINITY : strtod(v, NULL);
        const char *close = strstr(v, "} ");
        s->cum[s->n_buckets] = close ? strtod(close + 2, NULL) : 0;
        s->n_buckets++;
    }
}

/* A quantile of the histogram difference b - a, linear within a bucket. */
double e2e_quantile(const struct e2e_sample *a, const struct e2e_sample *b, double q)
{
    int n = b->n_buckets;
    if (n == 0 || a->n_buckets != n)
        return NAN;
    double total = b->cum[n - 1] - a->cum[n - 1];
    if (total <= 0)
        return NAN;
    double want = q * total, prev = 0, lo = 0;
    for (int i = 0; i < n; i++) {
        double c = b->cum[i] - a->cum[i];
        if (c >= want) {
            if (isinf(b->le[i]))
                return lo;
            double in = c - prev;
            return in > 0 ? lo + (b->le[i] - lo) * (want - prev) / in : b->le[i];
        }
        prev = c;
        lo = b->le[i];
    }
    return lo;
}

double e2e_cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return NAN;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    /* fields after the name: state is 3rd; utime is 14th, stime 15th */
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return NAN;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

int e2e_start_crtd(const char *const *argv, const char *log, pid_t *ret_pid, unsigned *ret_port)
{
    pid_t crtd = e2e_spawn(argv, log);
    unsigned port = 0;
    /* The port line comes after a line per stream: 64 KB hold 128 streams'. */
    static char buf[1 << 16];
    for (int i = 0; i < 600 && !port; i++) {
        e2e_sleep_s(0.05);
        FILE *f = fopen(log, "r");
        buf[0] = '\0';
        if (f) {
            size_t got = fread(buf, 1, sizeof(buf) - 1, f);
            buf[got] = '\0';
            fclose(f);
        }
        char *p = strstr(buf, "(port ");
        if (p)
            port = (unsigned)atoi(p + 6);
        int status;
        if (waitpid(crtd, &status, WNOHANG) == crtd) {
            cli_error(BENCH, "crtd exited at start; see %s", log);
            *ret_pid = 0;
            return -EIO;
        }
    }
    *ret_pid = crtd;
    if (!port) {
        cli_error(BENCH, "crtd did not start; see %s", log);
        return -EIO;
    }
    *ret_port = port;
    return 0;
}

void e2e_warm_up(unsigned port, int n)
{
    /* Every stream connected and past its first segments, then 2 s more so
     * that start-up backlogs are gone from the measured window. */
    for (int i = 0; i < 600; i++) {
        char *list = e2e_http_get(port, "/v1/streams");
        json_t *jl = list ? json_loads(list, 0, NULL) : NULL;
        json_t *streams = json_object_get(jl, "streams"), *item;
        size_t k, ready = 0;
        json_array_foreach(streams, k, item)
        {
            if (json_integer_value(json_object_get(item, "segments")) >= 2)
                ready++;
        }
        json_decref(jl);
        free(list);
        if (ready == (size_t)n)
            break;
        e2e_sleep_s(0.1);
    }
    e2e_sleep_s(2);
}

struct run_result {
    int streams;
    double fps_target;
    double fps_min, fps_mean;
    double skipped_per_s; /* decoded, not sampled (rate conversion) */
    double missed_per_s;  /* sampling slots below the goal: frames lost to falling behind */
    double p50, p95;      /* seconds, over all streams */
    double cpu;           /* cores */
    bool keeps_up;
    double fps[MAX_STREAMS];     /* per stream */
    double skipped[MAX_STREAMS]; /* per stream, per second */
};

struct setup {
    const char *crtd, *model, *pose, *clip, *dir;
    double seconds;
    double still_pose_fps; /* < 0: crtd's default */
    char conf[300];        /* the [daemon] setting, when given */
};

static int run_n(const struct setup *su, int n, struct run_result *ret)
{
    pid_t cams[MAX_STREAMS] = {0}, crtd = 0;
    char urls[MAX_STREAMS][64], args[MAX_STREAMS][128], log[300], state[300];
    const char *argv[2 * MAX_STREAMS + 16];
    struct e2e_sample *s0 = calloc((size_t)n, sizeof(*s0)), *s1 = calloc((size_t)n, sizeof(*s1));
    char *m0 = NULL, *m1 = NULL;
    unsigned port = 0;
    int r = -EIO;

    if (!s0 || !s1) {
        r = -ENOMEM;
        goto finish;
    }
    for (int i = 0; i < n; i++) {
        unsigned p = free_port();
        snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%u/live.ts", p);
        const char *ff[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-re",  "-stream_loop",
                            "-1",     "-i",       su->clip,    "-c",    "copy", "-f",
                            "mpegts", "-listen",  "1",         urls[i], NULL};
        cams[i] = e2e_spawn(ff, NULL);
    }
    snprintf(log, sizeof(log), "%s/crtd-%d.log", su->dir, n);
    snprintf(state, sizeof(state), "%s/state-%d", su->dir, n);
    size_t a = 0;
    argv[a++] = su->crtd;
    argv[a++] = "--listen";
    argv[a++] = "127.0.0.1:0";
    argv[a++] = "--state-dir";
    argv[a++] = state;
    argv[a++] = "--model";
    argv[a++] = su->model;
    argv[a++] = "--pose-model";
    argv[a++] = su->pose;
    if (su->conf[0]) {
        argv[a++] = "--config";
        argv[a++] = su->conf;
    }
    for (int i = 0; i < n; i++) {
        snprintf(args[i], sizeof(args[i]), "s%d=%.64s", i, urls[i]);
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
    double dt = t1 - t0;
    struct e2e_sample all0 = {0}, all1 = {0};
    ret->streams = n;
    ret->fps_min = INFINITY;
    ret->fps_mean = 0;
    ret->skipped_per_s = 0;
    ret->missed_per_s = 0;
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        e2e_read_sample(m0, name, &s0[i]);
        e2e_read_sample(m1, name, &s1[i]);
        double fps = (s1[i].sampled - s0[i].sampled) / dt;
        if (!(fps >= 0))
            fps = 0;
        ret->fps[i] = fps;
        ret->fps_min = fmin(ret->fps_min, fps);
        ret->fps_mean += fps / n;
        double skipped = (s1[i].dropped - s0[i].dropped) / dt;
        ret->skipped[i] = skipped >= 0 ? skipped : 0;
        if (skipped >= 0)
            ret->skipped_per_s += skipped / n;
        /* Pool the histograms of every stream. */
        all0.n_buckets = s0[i].n_buckets;
        all1.n_buckets = s1[i].n_buckets;
        for (int b = 0; b < s1[i].n_buckets && b < s0[i].n_buckets; b++) {
            all0.le[b] = s0[i].le[b];
            all1.le[b] = s1[i].le[b];
            all0.cum[b] += s0[i].cum[b];
            all1.cum[b] += s1[i].cum[b];
        }
    }
    ret->p50 = e2e_quantile(&all0, &all1, 0.50);
    ret->p95 = e2e_quantile(&all0, &all1, 0.95);
    ret->missed_per_s = fmax(0, ret->fps_target - ret->fps_mean);
    ret->cpu = (c1 - c0) / dt;
    ret->keeps_up = ret->fps_min >= KEEP_UP * ret->fps_target;
    r = 0;
finish:
    e2e_reap(crtd, SIGTERM);
    for (int i = 0; i < n; i++)
        e2e_reap(cams[i], SIGTERM);
    free(m0);
    free(m1);
    free(s0);
    free(s1);
    return r;
}

int e2e_make_model(const char *path, struct errbuf *err)
{
    struct crt_config cfg;
    struct crt_model *m = NULL;
    crt_config_default(&cfg);
    cfg.n_classes = SMARTHOME_NUM_CLASSES;
    int r = crt_model_new(&cfg, smarthome_classes, &m, err);
    if (r < 0)
        return r;
    crt_model_init_random(m, 1);
    r = crt_model_save(m, path, SAFETENSORS_F32, err);
    crt_model_free(m);
    return r;
}

int bench_e2e(int argc, char **argv)
{
    struct setup su = {.seconds = 10, .still_pose_fps = -1};
    int only = 0, max = 32;
    bool json = false;
    char dir[] = "/tmp/crt-bench-e2e-XXXXXX", model[128], clip[128], crtd[4096];
    char pose[4096];
    struct errbuf err;

    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--workload") == 0) {
            if (strcmp(argv[i + 1], "home") == 0)
                return bench_e2e_home(argc, argv);
            if (strcmp(argv[i + 1], "clip") != 0) {
                cli_error(BENCH, "--workload '%s': expected clip (the default) or home",
                          argv[i + 1]);
                return EXIT_USAGE;
            }
        }
    snprintf(pose, sizeof(pose), "%s/third_party/models/movenet-lightning.json", CRTD_SOURCE_ROOT);
    su.pose = pose;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (has && strcmp(a, "--workload") == 0) {
            i++; /* clip */
        } else if (has && strcmp(a, "--streams") == 0) {
            only = atoi(argv[++i]);
            if (only < 1 || only > MAX_STREAMS) {
                cli_error(BENCH, "--streams must be 1..%d", MAX_STREAMS);
                return EXIT_USAGE;
            }
        } else if (has && strcmp(a, "--max") == 0) {
            max = atoi(argv[++i]);
            if (max < 1 || max > MAX_STREAMS) {
                cli_error(BENCH, "--max must be 1..%d", MAX_STREAMS);
                return EXIT_USAGE;
            }
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
        } else if (has && strcmp(a, "--still-pose-fps") == 0) {
            char *end;
            su.still_pose_fps = strtod(argv[++i], &end);
            if (*end || !(su.still_pose_fps >= 0 && su.still_pose_fps <= 60)) {
                cli_error(BENCH, "--still-pose-fps must be 0 (no motion gate) to 60");
                return EXIT_USAGE;
            }
        } else if (has && strcmp(a, "--clip") == 0) {
            su.clip = argv[++i];
        } else if (has && strcmp(a, "--crtd") == 0) {
            su.crtd = argv[++i];
        } else {
            cli_error(BENCH, "unknown option '%s' (try --help)", a);
            return EXIT_USAGE;
        }
    }
    if (access(su.pose, R_OK) < 0) {
        cli_error(BENCH, "%s: %s (run scripts/setup, or give --pose-model)", su.pose,
                  strerror(errno));
        return 1;
    }
    if (!su.crtd) {
        /* crtd sits in ../daemon/ of the build directory that holds crt. */
        char self[3800];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        snprintf(crtd, sizeof(crtd), "%s/../daemon/crtd", self);
        su.crtd = access(crtd, X_OK) == 0 ? crtd : "crtd";
    }
    if (!mkdtemp(dir)) {
        cli_error(BENCH, "temporary directory: %s", strerror(errno));
        return 1;
    }
    su.dir = dir;
    if (su.still_pose_fps >= 0) {
        snprintf(su.conf, sizeof(su.conf), "%s/crtd.conf", dir);
        FILE *f = fopen(su.conf, "w");
        if (!f || fprintf(f, "[daemon]\nstill_pose_fps = %g\n", su.still_pose_fps) < 0 ||
            fclose(f) != 0) {
            cli_error(BENCH, "%s: cannot write", su.conf);
            return 1;
        }
    }
    errbuf_clear(&err);
    if (!su.model) {
        snprintf(model, sizeof(model), "%s/crt-random.safetensors", dir);
        int r = e2e_make_model(model, &err);
        if (r < 0) {
            cli_error(BENCH, "%s", errbuf_text(&err, r));
            return 1;
        }
        su.model = model;
    }
    if (!su.clip) {
        char cmd[1024];
        snprintf(clip, sizeof(clip), "%s/clip.ts", dir);
        snprintf(cmd, sizeof(cmd),
                 "ffmpeg -nostdin -loglevel error -loop 1 -i '%s/third_party/images/messi5.jpg' "
                 "-t 10 -r 25 -vf scale=640:480,format=yuv420p -c:v libx264 -preset veryfast "
                 "-g 25 -f mpegts '%s'",
                 CRTD_SOURCE_ROOT, clip);
        if (system(cmd) != 0) {
            cli_error(BENCH, "could not make the clip with ffmpeg (give --clip)");
            return 1;
        }
        su.clip = clip;
    }

    static const int ramp[] = {1, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32, 40, 48, 64};
    struct run_result results[ARRAY_SIZE(ramp)];
    int n_results = 0, best = 0, r = 0;
    if (!json)
        printf("%7s %8s %9s %9s %9s %9s %8s %8s %6s  %s\n", "streams", "fps/goal", "fps(min)",
               "fps(mean)", "missed/s", "skipped/s", "p50(ms)", "p95(ms)", "cores", "keeps up");
    for (size_t k = 0; k < ARRAY_SIZE(ramp); k++) {
        int n = only ? only : ramp[k];
        if (n > max && !only)
            break;
        struct run_result *res = &results[n_results];
        fprintf(stderr, "crt bench e2e: %d stream%s for %.0f s...\n", n, n == 1 ? "" : "s",
                su.seconds);
        r = run_n(&su, n, res);
        if (r < 0)
            break;
        n_results++;
        if (!json)
            printf("%7d %8.1f %9.2f %9.2f %9.2f %9.2f %8.1f %8.1f %6.2f  %s\n", n, res->fps_target,
                   res->fps_min, res->fps_mean, res->missed_per_s, res->skipped_per_s,
                   res->p50 * 1e3, res->p95 * 1e3, res->cpu, res->keeps_up ? "yes" : "no");
        if (only && !json)
            for (int i = 0; i < n; i++)
                printf("        stream s%-3d sampled %.2f fps, skipped %.2f/s\n", i, res->fps[i],
                       res->skipped[i]);
        fflush(stdout);
        if (res->keeps_up)
            best = n;
        if (only || !res->keeps_up)
            break;
    }
    if (json) {
        json_t *runs = json_array();
        for (int i = 0; i < n_results; i++) {
            const struct run_result *x = &results[i];
            json_t *per = json_array();
            for (int k = 0; k < x->streams; k++)
                json_array_append_new(
                    per, json_pack("{s:f, s:f}", "fps", x->fps[k], "skipped_per_s", x->skipped[k]));
            json_array_append_new(
                runs,
                json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:b, s:o}", "streams",
                          x->streams, "fps_target", x->fps_target, "fps_min", x->fps_min,
                          "fps_mean", x->fps_mean, "missed_per_s", x->missed_per_s, "skipped_per_s",
                          x->skipped_per_s, "latency_p50_s", isnan(x->p50) ? -1 : x->p50,
                          "latency_p95_s", isnan(x->p95) ? -1 : x->p95, "cpu_cores", x->cpu,
                          "keeps_up", x->keeps_up, "per_stream", per));
        }
        json_t *root = json_pack("{s:o, s:i, s:f}", "runs", runs, "largest_keeping_up", best,
                                 "seconds", su.seconds);
        char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(root);
    } else if (n_results > 0) {
        printf("largest N that keeps up: %d (%ld cores; crtd's CPU is user+system time of its "
               "process)\n",
               best, sysconf(_SC_NPROCESSORS_ONLN));
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (r == 0 && system(cmd) != 0)
        fprintf(stderr, "crt bench e2e: could not remove %s\n", dir);
    return r < 0 ? 1 : 0;
}
