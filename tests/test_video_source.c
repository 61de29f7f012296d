/* Unit tests of video source classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "video.h"

static void urls_are_classified(void **state)
{
    static const struct {
        const char *url;
        enum video_source_kind kind;
    } cases[] = {
        {"rtsp://cam.local/stream", VIDEO_SOURCE_RTSP},
        {"RTSP://cam.local/stream", VIDEO_SOURCE_RTSP},
        {"http://cam/mjpeg", VIDEO_SOURCE_HTTP},
        {"https://cam/live.m3u8", VIDEO_SOURCE_HTTP},
        {"/dev/video0", VIDEO_SOURCE_DEVICE},
        {"v4l2:///dev/video1", VIDEO_SOURCE_DEVICE},
        {"lavfi:testsrc2=size=640x480:rate=20", VIDEO_SOURCE_LAVFI},
        {"clips/Walk_p02_r00_v02_c03.mp4", VIDEO_SOURCE_FILE},
        {"file:///tmp/a.mkv", VIDEO_SOURCE_FILE},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        enum video_source_kind kind;
        assert_int_equal(video_source_kind_of(cases[i].url, &kind, NULL), 0);
        assert_int_equal(kind, cases[i].kind);
    }
}

static void unknown_scheme_is_named_with_password_masked(void **state)
{
    struct errbuf err = {0};
    enum video_source_kind kind = VIDEO_SOURCE_LAVFI;
    assert_int_equal(video_source_kind_of("gopher://u:hunter2@cam/x", &kind, &err),
                     -EPROTONOSUPPORT);
    assert_non_null(strstr(err.msg, "unsupported scheme"));
    assert_null(strstr(err.msg, "hunter2"));
    assert_int_equal(kind, VIDEO_SOURCE_LAVFI);
    assert_int_equal(video_source_kind_of("", &kind, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls_are_classified),
        cmocka_unit_test(unknown_scheme_is_named_with_password_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
