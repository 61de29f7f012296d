/* libFuzzer target: what crtd's HTTP API makes of a request before any
 * backend sees it. An input is a method selector byte, a request target up to
 * the first newline, then a body. The target is percent-decoded as the
 * server decodes it, routed, and its stream name checked; the body is parsed
 * as a POST /v1/streams body, as a ?since= time, as a cors_origins list and
 * as the query of GET /v1/history ("k=v&k=v"). */
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

static void fuzz_cors(const char *text)
{
    struct api_cors cors;
    struct errbuf err = {0};
    if (api_cors_parse(text, true, &cors, &err) == 0) {
        if (cors.any)
            abort(); /* '*' is never taken beside a token */
        for (size_t i = 0; i < cors.n; i++)
            if (!api_cors_allows(&cors, cors.origins[i]))
                abort();
        api_cors_done(&cors);
    }
}

/* text as a query string: '&' between parameters, '=' before a value. */
static void fuzz_history_query(char *text)
{
    const char *keys[64], *values[64];
    size_t n = 0;
    for (char *p = text; n < 64;) {
        char *amp = strchr(p, '&'), *eq;
        if (amp)
            *amp = '\0';
        eq = strchr(p, '=');
        if (eq)
            *eq = '\0';
        keys[n] = p;
        values[n++] = eq ? eq + 1 : NULL;
        if (!amp)
            break;
        p = amp + 1;
    }
    struct api_history_query q;
    struct errbuf err = {0};
    if (api_history_query_parse(keys, values, n, 1000, &q, &err) == 0) {
        if (q.limit < 1 || q.limit > 1000 || q.n_streams > API_HISTORY_FILTER_MAX ||
            q.n_labels > API_HISTORY_FILTER_MAX || q.track < 0 || q.before_id < 0)
            abort();
        for (size_t i = 0; i < q.n_streams; i++)
            if (!api_name_valid(q.streams[i]))
                abort(); /* only names reach the store */
    }
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
    if (time_text) {
        api_time_parse(time_text, &t);
        fuzz_cors(time_text);
        fuzz_history_query(time_text);
    }
    free(time_text);
    return 0;
}
