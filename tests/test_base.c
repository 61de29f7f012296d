/* Unit tests of base/: errbuf, log levels, str_copy, url_mask_password, CPU features. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <cmocka.h>

#include "base.h"

static void errbuf_set_returns_code_and_formats(void **state)
{
    struct errbuf err = {0};
    assert_int_equal(errbuf_set(&err, -EINVAL, "tensor '%s': bad", "w"), -EINVAL);
    assert_string_equal(err.msg, "tensor 'w': bad");
    assert_string_equal(errbuf_text(&err, -EINVAL), "tensor 'w': bad");
    errbuf_clear(&err);
    assert_string_equal(errbuf_text(&err, -ENOENT), strerror(ENOENT));
}

static void errbuf_accepts_null(void **state)
{
    assert_int_equal(errbuf_set(NULL, -ENOMEM, "x"), -ENOMEM);
    assert_string_equal(errbuf_text(NULL, -ENOMEM), strerror(ENOMEM));
}

static void errbuf_truncates_long_messages(void **state)
{
    struct errbuf err;
    char big[1000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    errbuf_set(&err, -EINVAL, "%s", big);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
}

static void log_levels_parse(void **state)
{
    enum log_level level;
    assert_int_equal(log_level_parse("debug", &level), 0);
    assert_int_equal(level, LOG_LEVEL_DEBUG);
    assert_int_equal(log_level_parse("WARN", &level), 0);
    assert_int_equal(level, LOG_LEVEL_WARNING);
    assert_int_equal(log_level_parse("3", &level), 0);
    assert_int_equal(level, LOG_LEVEL_ERROR);
    level = LOG_LEVEL_INFO;
    assert_int_equal(log_level_parse("loud", &level), -EINVAL);
    assert_int_equal(level, LOG_LEVEL_INFO); /* untouched on failure */
    assert_string_equal(log_level_name(LOG_LEVEL_NOTICE), "notice");
}

static void log_max_level_filters(void **state)
{
    enum log_level saved = log_get_max_level();
    log_set_max_level(LOG_LEVEL_ERROR);
    assert_int_equal(log_get_max_level(), LOG_LEVEL_ERROR);
    log_info("this line is filtered out");
    log_set_max_level(saved);
}

static void str_copy_truncates_and_terminates(void **state)
{
    char buf[5];
    assert_int_equal(str_copy(buf, sizeof(buf), "abcd"), 0);
    assert_string_equal(buf, "abcd");
    assert_int_equal(str_copy(buf, sizeof(buf), "abcdef"), -ENAMETOOLONG);
    assert_string_equal(buf, "abcd");
}

static void url_mask_hides_passwords(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"rtsp://admin:secret@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"},
        {"rtsp://admin:p@ss@cam/x", "rtsp://admin:***@cam/x"},
        {"rtsp://admin@cam/x", "rtsp://admin@cam/x"},
        {"http://cam/a@b", "http://cam/a@b"},
        {"/home/me/clip.mp4", "/home/me/clip.mp4"},
        {"https://u:pw@host", "https://u:***@host"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char out[128];
        assert_int_equal(url_mask_password(out, sizeof(out), cases[i].in), 0);
        assert_string_equal(out, cases[i].out);
    }
    char small[10];
    assert_int_equal(url_mask_password(small, sizeof(small), "rtsp://a:b@host/long/path"),
                     -ENAMETOOLONG);
    assert_null(strstr(small, ":b@"));
}

static void clocks_move_forward(void **state)
{
    int64_t a = time_mono_ns();
    int64_t b = time_mono_ns();
    assert_true(b >= a);
    assert_true(time_wall_s() > 1.6e9);
}

/* FNV-1a: the published vectors of its authors for "a" and "foobar", and a
 * hash continued over two pieces equals the hash of the whole. */
static void fnv1a_matches_its_definition(void **state)
{
    (void)state;
    assert_int_equal(fnv1a32(FNV1A32_INIT, "a", 1), 0xe40c292cu);
    assert_int_equal(fnv1a32(FNV1A32_INIT, "foobar", 6), 0xbf9cf968u);
    assert_true(fnv1a64(FNV1A64_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
    assert_true(fnv1a64(FNV1A64_INIT, "foobar", 6) == 0x85944171f73967e8ull);
    assert_int_equal(fnv1a32(fnv1a32(FNV1A32_INIT, "foo", 3), "bar", 3),
                     fnv1a32(FNV1A32_INIT, "foobar", 6));
    assert_true(fnv1a64(fnv1a64(FNV1A64_INIT, "foo", 3), "bar", 3) ==
                fnv1a64(FNV1A64_INIT, "foobar", 6));
}

/* Every one of the 65536 halves converts as the compiler's own _Float16 does
 * (NaNs only need to stay NaNs of the same sign). GCC has _Float16 on x86-64;
 * a compiler without it (clang 14, which builds the fuzz targets) skips. */
static void f16_to_f32_agrees_with_the_compiler(void **state)
{
    (void)state;
#ifndef __FLT16_MAX__
    skip();
#else
    int wrong = 0;
    for (uint32_t h = 0; h <= 0xffff; h++) {
        __extension__ _Float16 x;
        uint16_t bits = (uint16_t)h;
        memcpy(&x, &bits, sizeof(x));
        float want = (float)x, got = f16_to_f32(bits);
        bool same = isnan(want) ? isnan(got) && signbit(got) == signbit(want)
                                : memcmp(&want, &got, sizeof(float)) == 0;
        wrong += !same;
    }
    print_message("# f16_to_f32: %d of 65536 differ from _Float16\n", wrong);
    assert_int_equal(wrong, 0);
#endif
}

/* Deadlines are normalised and lie ahead by what was asked. */
static void timespec_deadline_is_ahead_and_normalised(void **state)
{
    (void)state;
    const double asked[] = {0.0, 0.001, 0.999999, 1.5, 30.25};
    for (size_t i = 0; i < ARRAY_SIZE(asked); i++) {
        struct timespec now, at;
        clock_gettime(CLOCK_MONOTONIC, &now);
        at = timespec_deadline(CLOCK_MONOTONIC, asked[i]);
        assert_true(at.tv_nsec >= 0 && at.tv_nsec < 1000000000L);
        double ahead = (double)(at.tv_sec - now.tv_sec) + (double)(at.tv_nsec - now.tv_nsec) * 1e-9;
        assert_true(ahead >= asked[i] - 1e-6);
    }
}

/* base/cpu.c must say what GCC's own detection says, on any machine. */
static void cpu_features_match_gcc(void **state)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    bool avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    assert_int_equal(cpu_has_avx512(), avx512);
    assert_int_equal(cpu_has_avx2_fma(), avx2_fma);
#else
    assert_false(cpu_has_avx512());
    assert_false(cpu_has_avx2_fma());
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errbuf_set_returns_code_and_formats),
        cmocka_unit_test(errbuf_accepts_null),
        cmocka_unit_test(errbuf_truncates_long_messages),
        cmocka_unit_test(log_levels_parse),
        cmocka_unit_test(log_max_level_filters),
        cmocka_unit_test(str_copy_truncates_and_terminates),
        cmocka_unit_test(url_mask_hides_passwords),
        cmocka_unit_test(clocks_move_forward),
        cmocka_unit_test(fnv1a_matches_its_definition),
        cmocka_unit_test(f16_to_f32_agrees_with_the_compiler),
        cmocka_unit_test(timespec_deadline_is_ahead_and_normalised),
        cmocka_unit_test(cpu_features_match_gcc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
