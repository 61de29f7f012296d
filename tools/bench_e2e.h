/* bench_e2e: what `crt bench e2e` and its home workload (bench_e2e_home.c)
 * share: child processes, crtd's HTTP API and /metrics, CPU time. */
#ifndef CRTD_TOOLS_BENCH_E2E_H
#define CRTD_TOOLS_BENCH_E2E_H

#include <stdbool.h>
#include <sys/types.h>

#include "base.h"

#define BENCH        "bench e2e"
#define KEEP_UP      0.95 /* a stream keeps up at this share of the model's fps */
#define HIST_BUCKETS 32

/* What one /metrics read says about one stream. */
struct e2e_sample {
    double sampled, dropped;
    double le[HIST_BUCKETS];
    double cum[HIST_BUCKETS]; /* cumulative counts; le[i] = +Inf as INFINITY */
    int n_buckets;
};

void e2e_sleep_s(double s);
/* Runs argv with stdout and stderr to log (NULL: nowhere); killed with us. */
pid_t e2e_spawn(const char *const *argv, const char *log);
/* Signals pid, waits up to 10 s, then kills it. */
void e2e_reap(pid_t pid, int sig);
/* GET path from crtd on the loopback; a malloc'd body, or NULL. */
char *e2e_http_get(unsigned port, const char *path);
/* family{stream="name"} in a /metrics text; NAN when absent. */
double e2e_metric(const char *text, const char *family, const char *stream);
void e2e_read_sample(const char *text, const char *stream, struct e2e_sample *s);
/* A quantile of the latency histogram difference b - a. */
double e2e_quantile(const struct e2e_sample *a, const struct e2e_sample *b, double q);
/* User + system CPU seconds of a process. */
double e2e_cpu_seconds(pid_t pid);
/* A segment model of the default sizes with random weights. */
int e2e_make_model(const char *path, struct errbuf *err);
/* Starts crtd (argv listens on port 0) and reads its port from log (up to 30 s). */
int e2e_start_crtd(const char *const *argv, const char *log, pid_t *ret_pid, unsigned *ret_port);
/* Until all n streams have 2 segments (at most 60 s), then 2 s more. */
void e2e_warm_up(unsigned port, int n);

/* `crt bench e2e --workload home`: argv after "e2e". */
int bench_e2e_home(int argc, char **argv);

#endif
