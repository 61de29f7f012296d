/* Helpers of the video integration tests: fixture clips made by the ffmpeg
 * command at test time, listeners on 127.0.0.1. Child processes, free ports
 * and the reader thread are tests/lib's, included here for every video test.
 * Header-only: each test includes it once. */
#ifndef CRTD_TESTS_VIDEO_HELPERS_H
#define CRTD_TESTS_VIDEO_HELPERS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tl_port.h"
#include "tl_proc.h"
#include "tl_reader.h"

/* The directory for this test's clips, from CRTD_VIDEO_FIXTURES (set by
 * meson) or /tmp, with `sub` appended; created when missing. */
static inline const char *fixture_dir(const char *sub)
{
    static char dir[1024];
    const char *base = getenv("CRTD_VIDEO_FIXTURES");
    if (!base || !base[0])
        base = "/tmp/crtd-video-fixtures";
    mkdir(base, 0755);
    snprintf(dir, sizeof(dir), "%s/%s", base, sub);
    mkdir(dir, 0755);
    return dir;
}

/* Runs a shell command; returns its exit status (or -1). */
static inline int run_shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int run_shell(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int status = system(cmd);
    if (status == -1 || !WIFEXITED(status)) {
        fprintf(stderr, "command failed to run: %s\n", cmd);
        return -1;
    }
    if (WEXITSTATUS(status) != 0)
        fprintf(stderr, "command exited %d: %s\n", WEXITSTATUS(status), cmd);
    return WEXITSTATUS(status);
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* A socket listening on 127.0.0.1 that never accepts: connections complete
 * in the kernel's backlog and then nothing ever answers — a dead camera on a
 * live network. Returns the fd and sets *ret_port. */
static inline int silent_listener(int *ret_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *ret_port = ntohs(a.sin_port);
    return fd;
}

/* Waits at most timeout_s for something to listen on 127.0.0.1:port. */
static inline bool wait_port(int port, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int r = fd >= 0 ? connect(fd, (struct sockaddr *)&a, sizeof(a)) : -1;
        if (fd >= 0)
            close(fd);
        if (r == 0)
            return true;
        sleep_s(0.05);
    }
    return false;
}

#endif
