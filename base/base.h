/* base: what every part of crtd needs — error returns with messages,
 * leveled logging, cleanup helpers, clocks and small string helpers.
 *
 * Conventions (docs/ARCHITECTURE.md): a function that can fail returns 0 or a
 * negative errno; results go through ret_ out-parameters left untouched on
 * failure; libraries explain failures in a caller-provided struct errbuf and
 * never print above debug level. */
#ifndef CRTD_BASE_H
#define CRTD_BASE_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- errors --------------------------------------------------------------- */

/* A message slot that a library fills when it fails, so the caller can say
 * which tensor, field or URL was wrong instead of only "Invalid argument". */
struct errbuf {
    char msg[256];
};

/* Formats the message into err (when err is non-NULL) and returns code, so a
 * failure site reads: return errbuf_set(err, -EINVAL, "shape %d", n); */
int errbuf_set(struct errbuf *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int errbuf_setv(struct errbuf *err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void errbuf_clear(struct errbuf *err);

/* The filled message, or strerror(-code) when nothing more specific was said. */
const char *errbuf_text(const struct errbuf *err, int code);

/* ---- logging -------------------------------------------------------------- */

/* Levels share syslog's numbers so that journald reads them from the "<N>"
 * prefix when stderr is connected to the journal. */
enum log_level {
    LOG_LEVEL_ERROR = 3,
    LOG_LEVEL_WARNING = 4,
    LOG_LEVEL_NOTICE = 5,
    LOG_LEVEL_INFO = 6,
    LOG_LEVEL_DEBUG = 7,
};

void log_set_ident(const char *ident);
void log_set_max_level(enum log_level level);
enum log_level log_get_max_level(void);
/* Accepts error, warning, notice, info, debug (or their syslog numbers). */
int log_level_parse(const char *text, enum log_level *ret_level);
const char *log_level_name(enum log_level level);

/* Writes one line to stderr as a single write, so lines from stream threads
 * never interleave mid-line. */
void log_printf(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...)   log_printf(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_printf(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...)  log_printf(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)    log_printf(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)   log_printf(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* ---- cleanup -------------------------------------------------------------- */

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
    free(*(void **)p);
}

static inline void fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}

static inline void closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_close_  _cleanup_(closep)

/* Hands ownership out of a _cleanup_ variable: return TAKE_PTR(obj); */
#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) taken_ = (p);                                                                \
        (p) = NULL;                                                                                \
        taken_;                                                                                    \
    })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- clocks --------------------------------------------------------------- */

int64_t time_mono_ns(void); /* CLOCK_MONOTONIC, for durations and deadlines */
double time_wall_s(void);   /* CLOCK_REALTIME, seconds since the epoch */

/* The absolute time `seconds` from now on `clock`, as pthread_cond_timedwait
 * (CLOCK_MONOTONIC with a condattr) or pthread_mutex_timedlock (always
 * CLOCK_REALTIME) take it. */
struct timespec timespec_deadline(clockid_t clock, double seconds);

/* ---- hashing and numbers -------------------------------------------------- */

/* FNV-1a, continuing from h: start with FNV1A32_INIT / FNV1A64_INIT. Small,
 * fast and the same on every machine, for names and checksums that are
 * not security. */
#define FNV1A32_INIT 2166136261u
#define FNV1A64_INIT 14695981039346656037ull
uint32_t fnv1a32(uint32_t h, const void *data, size_t size);
uint64_t fnv1a64(uint64_t h, const void *data, size_t size);

/* IEEE 754 half precision to single, exactly (subnormals, infinities, NaN). */
float f16_to_f32(uint16_t h);

/* ---- BLAS (blas.c) -------------------------------------------------------- */

/* How many threads OpenBLAS may use (at least 1). */
void blas_set_threads(int n);
/* The kernel set OpenBLAS picked: "Haswell", "SkylakeX", ... */
const char *blas_core_name(void);

/* ---- CPU features --------------------------------------------------------- */

/* What the CPU (and the OS, which must save the registers) supports, for the
 * kernels that pick a vectorised form at run time (base/cpu.c).
 * cpu_has_avx512: AVX-512 F, DQ, BW and VL, GCC's x86-64-v4 level. */
bool cpu_has_avx512(void);
bool cpu_has_avx2_fma(void);

/* ---- strings -------------------------------------------------------------- */

/* Copies at most size-1 bytes and always terminates; returns -ENAMETOOLONG
 * (after copying what fits) when src did not fit. */
int str_copy(char *dst, size_t size, const char *src);

/* Whether the environment variable name is set to anything but "" or "0":
 * the one reading of the on/off switches the tools and the daemon take. */
bool env_flag(const char *name);

/* Creates a directory and any missing parents, like mkdir -p. */
int mkdir_parents(const char *path, unsigned mode);

/* Copies url with the password of any user:password@ part replaced by "***",
 * so that logs, API answers and metrics never show a camera's password. */
int url_mask_password(char *dst, size_t size, const char *url);

#endif
