/* bench_bandwidth: the cost of reading a buffer the size of a model's
 * weights, again and again, with nothing else to do: when a step takes
 * about this long, the cache or memory that holds its weights bounds it. */
#include "bench_bandwidth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base.h"

typedef float read_v16 __attribute__((vector_size(64)));
typedef float read_v8 __attribute__((vector_size(32)));
typedef float read_v4 __attribute__((vector_size(16)));

/* Sums n floats (n a multiple of 64) in four independent chains. */
#define READ_LOOP(V, LANES)                                                                        \
    V a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                                                      \
    for (size_t i = 0; i < n; i += 4 * (LANES)) {                                                  \
        V x0, x1, x2, x3;                                                                          \
        memcpy(&x0, p + i, sizeof(V));                                                             \
        memcpy(&x1, p + i + (LANES), sizeof(V));                                                   \
        memcpy(&x2, p + i + 2 * (LANES), sizeof(V));                                               \
        memcpy(&x3, p + i + 3 * (LANES), sizeof(V));                                               \
        a0 += x0;                                                                                  \
        a1 += x1;                                                                                  \
        a2 += x2;                                                                                  \
        a3 += x3;                                                                                  \
    }                                                                                              \
    V s = a0 + a1 + a2 + a3;                                                                       \
    float sum = 0;                                                                                 \
    for (int l = 0; l < (LANES); l++)                                                              \
        sum += s[l];                                                                               \
    return sum;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static float read_avx512(const float *p, size_t n)
{
    READ_LOOP(read_v16, 16)
}

__attribute__((target("avx2"))) static float read_avx2(const float *p, size_t n)
{
    READ_LOOP(read_v8, 8)
}
#endif

static float read_plain(const float *p, size_t n)
{
    READ_LOOP(read_v4, 4)
}

static int64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double bench_read_us(size_t bytes, double *ret_gb_per_s)
{
    size_t n = (bytes / sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, n * sizeof(float));
    if (!p)
        return -1;
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(i % 7);
    float (*read)(const float *, size_t) = read_plain;
#if defined(__x86_64__)
    if (cpu_has_avx512())
        read = read_avx512;
    else if (cpu_has_avx2_fma())
        read = read_avx2;
#endif
    volatile float sink = 0;
    for (int i = 0; i < 20; i++)
        sink += read(p, n);
    double best = 1e30;
    for (int run = 0; run < 9; run++) {
        int64_t t0 = thread_ns();
        for (int i = 0; i < 100; i++)
            sink += read(p, n);
        double us = (double)(thread_ns() - t0) / 1e3 / 100;
        if (us < best)
            best = us;
    }
    (void)sink;
    free(p);
    if (ret_gb_per_s)
        *ret_gb_per_s = (double)n * sizeof(float) / best / 1e3;
    return best;
}
