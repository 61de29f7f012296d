/* source: what kind of input a URL names. */
#include "video.h"

#include <string.h>
#include <strings.h>

static bool has_prefix(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int video_source_kind_of(const char *url, enum video_source_kind *ret_kind, struct errbuf *err)
{
    static const struct {
        const char *prefix;
        enum video_source_kind kind;
    } prefixes[] = {
        {"rtsp://", VIDEO_SOURCE_RTSP},   {"rtsps://", VIDEO_SOURCE_RTSP},
        {"http://", VIDEO_SOURCE_HTTP},   {"https://", VIDEO_SOURCE_HTTP},
        {"v4l2://", VIDEO_SOURCE_DEVICE}, {"/dev/video", VIDEO_SOURCE_DEVICE},
        {"lavfi:", VIDEO_SOURCE_LAVFI},   {"file:", VIDEO_SOURCE_FILE},
    };

    if (!url || !url[0])
        return errbuf_set(err, -EINVAL, "empty URL");
    for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
        if (has_prefix(url, prefixes[i].prefix)) {
            *ret_kind = prefixes[i].kind;
            return 0;
        }
    const char *scheme_end = strstr(url, "://");
    if (scheme_end) {
        char masked[512];
        url_mask_password(masked, sizeof(masked), url);
        return errbuf_set(err, -EPROTONOSUPPORT,
                          "'%s': unsupported scheme (use rtsp, http, https, v4l2, lavfi or a file)",
                          masked);
    }
    *ret_kind = VIDEO_SOURCE_FILE;
    return 0;
}

const char *video_source_kind_name(enum video_source_kind kind)
{
    switch (kind) {
    case VIDEO_SOURCE_FILE:
        return "file";
    case VIDEO_SOURCE_RTSP:
        return "rtsp";
    case VIDEO_SOURCE_HTTP:
        return "http";
    case VIDEO_SOURCE_DEVICE:
        return "device";
    case VIDEO_SOURCE_LAVFI:
        return "lavfi";
    }
    return "unknown";
}

bool video_source_kind_is_live(enum video_source_kind kind)
{
    return kind == VIDEO_SOURCE_RTSP || kind == VIDEO_SOURCE_HTTP || kind == VIDEO_SOURCE_DEVICE;
}
