/* libFuzzer target: what crtd's HTTP API makes of a request before any
 * backend sees it. An input is a method selector byte, a request target up to
 * the first newline, then a body. The target is percent-decoded as the
 * server decodes it, routed, and its stream name checked; the body is parsed
 * as a POST /v1/streams body and as a ?since= time. */
#include <stdlib.h>
#include <string.h>

#include "api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *text_of(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
    }
    return text;
}

/* A backend's own POST /v1/streams fields, as crtd's video options are. */
static const char *option_name(size_t i)
{
    static const char *const names[] = {"transport", "max_side"};
    return i < sizeof(names) / sizeof(names[0]) ? names[i] : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "DELETE", "PUT", "get", ""};
    if (size < 1)
        return 0;
    const char *method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
    data++, size--;

    const uint8_t *newline = memchr(data, '\n', size);
    size_t target_size = newline ? (size_t)(newline - data) : size;
    const uint8_t *body = newline ? newline + 1 : data + size;
    size_t body_size = size - (size_t)(body - data);

    char *target = text_of(data, target_size);
    if (!target)
        return 0;
    size_t len = api_url_unescape(target);
    if (len != strlen(target)) /* a NUL would have cut the path short */
        abort();
    struct api_route_match match;
    if (api_route_find(method, target, &match) >= 0 && match.name[0] && !api_name_valid(match.name))
        abort(); /* a route must never hand on a name that is not one */
    char allow[64];
    api_route_allow_text(allow, sizeof(allow), match.allowed);
    free(target);

    struct api_stream_spec spec;
    struct errbuf err = {0};
    if (api_stream_spec_parse((const char *)body, body_size, option_name, &spec, &err) == 0) {
        if (!api_name_valid(spec.name) || !spec.url[0])
            abort(); /* a parsed body always names a valid stream and a URL */
        const char *key;
        json_t *value;
        json_object_foreach(spec.options, key, value)
        {
            if (strcmp(key, "transport") != 0 && strcmp(key, "max_side") != 0)
                abort(); /* and hands on only the backend's own fields */
        }
        api_stream_spec_done(&spec);
    }

    char *time_text = text_of(body, body_size);
    double t;
    if (time_text)
        api_time_parse(time_text, &t);
    free(time_text);
    return 0;
}
