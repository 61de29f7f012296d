/* log: leveled lines on stderr, in the journal's format when run by systemd. */
#include "base.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static const char *log_ident = "crtd";
static atomic_int log_max_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_WARNING] = "warning", [LOG_LEVEL_NOTICE] = "notice",
    [LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_DEBUG] = "debug",
};

void log_set_ident(const char *ident)
{
    log_ident = ident;
}

void log_set_max_level(enum log_level level)
{
    atomic_store(&log_max_level, (int)level);
}

enum log_level log_get_max_level(void)
{
    return (enum log_level)atomic_load(&log_max_level);
}

const char *log_level_name(enum log_level level)
{
    if (level < LOG_LEVEL_ERROR || level > LOG_LEVEL_DEBUG)
        return "unknown";
    return level_names[level];
}

int log_level_parse(const char *text, enum log_level *ret_level)
{
    if (!text)
        return -EINVAL;
    for (int l = LOG_LEVEL_ERROR; l <= LOG_LEVEL_DEBUG; l++) {
        char digit[2] = {(char)('0' + l), '\0'};
        if (strcasecmp(text, level_names[l]) == 0 || strcmp(text, digit) == 0) {
            *ret_level = (enum log_level)l;
            return 0;
        }
    }
    if (strcasecmp(text, "warn") == 0) {
        *ret_level = LOG_LEVEL_WARNING;
        return 0;
    }
    return -EINVAL;
}

/* journald sets JOURNAL_STREAM for services whose stderr it reads; there a
 * "<N>" prefix carries the priority and the journal adds time and name. */
static bool stderr_is_journal(void)
{
    static int cached = -1;
    if (cached < 0)
        cached = getenv("JOURNAL_STREAM") != NULL;
    return cached;
}

void log_printf(enum log_level level, const char *fmt, ...)
{
    char line[1024];
    int n;
    va_list ap;

    if ((int)level > atomic_load(&log_max_level))
        return;

    if (stderr_is_journal())
        n = snprintf(line, sizeof(line), "<%d>", (int)level);
    else
        n = snprintf(line, sizeof(line), "%s: %s: ", log_ident, log_level_name(level));
    if (n < 0)
        return;

    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;

    size_t len = strnlen(line, sizeof(line) - 2);
    line[len++] = '\n';
    /* One write per line: concurrent threads' lines stay whole. */
    ssize_t unused = write(STDERR_FILENO, line, len);
    (void)unused;
}
