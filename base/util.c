/* util: clocks, small string helpers and environment switches. */
#include "base.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct timespec timespec_deadline(clockid_t clock, double seconds)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    if (!(seconds > 0))
        return ts;
    double whole = floor(seconds);
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += (long)((seconds - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

double time_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int str_copy(char *dst, size_t size, const char *src)
{
    if (size == 0)
        return -ENAMETOOLONG;
    size_t len = strlen(src);
    if (len >= size) {
        memcpy(dst, src, size - 1);
        dst[size - 1] = '\0';
        return -ENAMETOOLONG;
    }
    memcpy(dst, src, len + 1);
    return 0;
}

int url_mask_password(char *dst, size_t size, const char *url)
{
    /* userinfo sits between "://" and the first '@' before the path. */
    const char *scheme_end = strstr(url, "://");
    if (!scheme_end)
        return str_copy(dst, size, url);
    const char *authority = scheme_end + 3;
    size_t authority_len = strcspn(authority, "/?#");
    const char *at = NULL;
    for (const char *p = authority; p < authority + authority_len; p++)
        if (*p == '@')
            at = p; /* the last '@': passwords may contain an unescaped '@' */
    if (!at)
        return str_copy(dst, size, url);
    const char *colon = memchr(authority, ':', (size_t)(at - authority));
    if (!colon)
        return str_copy(dst, size, url);

    int n = snprintf(dst, size, "%.*s:***%s", (int)(colon - url), url, at);
    if (n < 0)
        return -EINVAL;
    return (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int mkdir_parents(const char *path, unsigned mode)
{
    char buf[4096];
    if (str_copy(buf, sizeof(buf), path) < 0)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}
