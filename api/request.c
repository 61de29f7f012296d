/* request: stream names, POST /v1/streams bodies and times in queries. */
#include "api.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <time.h>

bool api_name_valid(const char *text)
{
    if (!text || !isalnum((unsigned char)text[0]))
        return false;
    size_t n = 0;
    for (const char *p = text; *p; p++, n++) {
        if (n >= API_NAME_MAX - 1)
            return false;
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return false;
    }
    return true;
}

bool api_place_valid(const char *text)
{
    size_t n = text ? strlen(text) : 0;
    if (n == 0 || n >= API_NAME_MAX || text[0] == ' ' || text[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
            return false;
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t api_url_unescape(char *text)
{
    char *out = text;
    for (const char *in = text; *in;) {
        int hi = in[0] == '%' ? hex_digit(in[1]) : -1;
        int lo = hi >= 0 ? hex_digit(in[2]) : -1;
        if (lo >= 0 && (hi | lo) != 0) {
            *out++ = (char)(hi * 16 + lo);
            in += 3;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
    return (size_t)(out - text);
}

void api_stream_spec_done(struct api_stream_spec *spec)
{
    if (!spec)
        return;
    json_decref(spec->options);
    spec->options = NULL;
}

static bool option_known(const char *(*option_name)(size_t i), const char *key)
{
    for (size_t i = 0; option_name && option_name(i); i++)
        if (strcmp(option_name(i), key) == 0)
            return true;
    return false;
}

int api_stream_spec_parse(const char *body, size_t size, const char *(*option_name)(size_t i),
                          struct api_stream_spec *ret_spec, struct errbuf *err)
{
    struct api_stream_spec spec = {.enabled = true};
    json_error_t jerr;
    json_t *root = NULL, *value;
    const char *key;
    int r = 0;

    root = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return errbuf_set(err, -EBADMSG, "body is not JSON: %s (line %d)", jerr.text, jerr.line);
    if (!json_is_object(root)) {
        r = errbuf_set(err, -EINVAL, "body must be a JSON object");
        goto finish;
    }
    json_object_foreach(root, key, value)
    {
        if (strcmp(key, "name") == 0) {
            if (!json_is_string(value) || !api_name_valid(json_string_value(value))) {
                r = errbuf_set(err, -EINVAL,
                               "'name' must be 1-63 characters of letters, digits, '_', '-', "
                               "'.', starting with a letter or digit");
                goto finish;
            }
            str_copy(spec.name, sizeof(spec.name), json_string_value(value));
        } else if (strcmp(key, "url") == 0) {
            const char *url = json_string_value(value);
            if (!url || url[0] == '\0' || strlen(url) >= sizeof(spec.url)) {
                r = errbuf_set(err, -EINVAL,
                               "'url' must be a non-empty string of at most %zu bytes",
                               sizeof(spec.url) - 1);
                goto finish;
            }
            for (const char *p = url; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                    r = errbuf_set(err, -EINVAL, "'url' contains a control character");
                    goto finish;
                }
            str_copy(spec.url, sizeof(spec.url), url);
        } else if (strcmp(key, "fps") == 0) {
            double fps = json_is_number(value) ? json_number_value(value) : -1;
            if (!(fps >= 0 && fps <= 60) || !isfinite(fps)) {
                r = errbuf_set(err, -EINVAL, "'fps' must be a number from 0 (the model's) to 60");
                goto finish;
            }
            spec.fps = fps;
        } else if (strcmp(key, "enabled") == 0) {
            if (!json_is_boolean(value)) {
                r = errbuf_set(err, -EINVAL, "'enabled' must be true or false");
                goto finish;
            }
            spec.enabled = json_is_true(value);
        } else if (strcmp(key, "site") == 0 || strcmp(key, "room") == 0) {
            const char *text = json_string_value(value);
            if (!api_place_valid(text)) {
                r = errbuf_set(err, -EINVAL,
                               "'%s' must be a string of 1-63 bytes without control characters "
                               "or surrounding spaces",
                               key);
                goto finish;
            }
            str_copy(key[0] == 's' ? spec.site : spec.room, sizeof(spec.site), text);
        } else if (option_known(option_name, key)) {
            if (!spec.options && !(spec.options = json_object())) {
                r = -ENOMEM;
                goto finish;
            }
            json_object_set(spec.options, key, value);
        } else {
            char fields[512] = "name, url, fps, enabled, site, room";
            for (size_t i = 0; option_name && option_name(i); i++) {
                size_t len = strlen(fields);
                snprintf(fields + len, sizeof(fields) - len, ", %s", option_name(i));
            }
            r = errbuf_set(err, -EINVAL, "unknown field '%.64s' (%s)", key, fields);
            goto finish;
        }
    }
    if (spec.name[0] == '\0' || spec.url[0] == '\0') {
        r = errbuf_set(err, -EINVAL, "'name' and 'url' are required");
        goto finish;
    }
    *ret_spec = spec;
    spec.options = NULL;
finish:
    json_decref(spec.options);
    json_decref(root);
    return r;
}

int api_time_parse(const char *text, double *ret_time)
{
    char *end;
    if (!text || !*text)
        return -EINVAL;
    double t = strtod(text, &end);
    if (*end == '\0' && isfinite(t) && t >= 0 && isdigit((unsigned char)text[0])) {
        *ret_time = t;
        return 0;
    }

    struct tm tm = {0};
    const char *p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -EINVAL;
    double frac = 0;
    if (*p == '.') {
        frac = strtod(p, &end);
        if (end == p + 1)
            return -EINVAL;
        p = end;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm, n = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5 || hh > 23 || mm > 59)
            return -EINVAL;
        offset = (hh * 3600L + mm * 60L) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p != '\0')
        return -EINVAL;
    time_t secs = timegm(&tm);
    if (secs == (time_t)-1)
        return -EINVAL;
    *ret_time = (double)(secs - offset) + frac;
    return 0;
}

void api_time_format(char *dst, size_t size, double t)
{
    time_t secs = (time_t)floor(t);
    int ms = (int)((t - (double)secs) * 1000.0);
    if (ms > 999)
        ms = 999;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(dst, size, "%s.%03dZ", base, ms);
}

json_t *api_time_json(double t)
{
    char text[48];
    if (t < 0)
        return json_null();
    api_time_format(text, sizeof(text), t);
    return json_string(text);
}

int api_label_query_parse(const char *stream, const char *class_name, const char *track,
                          const char *since, const char *until, const char *limit,
                          unsigned limit_max, struct api_label_query *ret, struct errbuf *err)
{
    struct api_label_query q = {.track = -1, .since = -1, .until = -1, .limit = limit_max};
    if (stream && !api_name_valid(stream))
        return errbuf_set(err, -EINVAL, "'stream' must be a stream name");
    if (stream)
        str_copy(q.stream, sizeof(q.stream), stream);
    if (class_name && (!*class_name || strlen(class_name) >= sizeof(q.class_name)))
        return errbuf_set(err, -EINVAL, "'class' must be 1 to %zu bytes", sizeof(q.class_name) - 1);
    if (class_name)
        str_copy(q.class_name, sizeof(q.class_name), class_name);
    if (track) {
        char *end;
        errno = 0;
        long long v = strtoll(track, &end, 10);
        if (errno || *end || !isdigit((unsigned char)track[0]) || v > UINT32_MAX)
            return errbuf_set(err, -EINVAL,
                              "'track' must be a track id, or 0 for the camera's own labels");
        q.track = v;
    }
    const char *times[] = {since, until};
    const char *names[] = {"since", "until"};
    double *dsts[] = {&q.since, &q.until};
    for (int i = 0; i < 2; i++)
        if (times[i] && api_time_parse(times[i], dsts[i]) < 0)
            return errbuf_set(err, -EINVAL,
                              "'%s' must be seconds since the epoch or an RFC 3339 time", names[i]);
    if (q.since >= 0 && q.until >= 0 && q.until < q.since)
        return errbuf_set(err, -EINVAL, "'until' is before 'since'");
    if (limit) {
        char *end;
        unsigned long v = strtoul(limit, &end, 10);
        if (*end || limit[0] == '-' || v < 1 || v > limit_max)
            return errbuf_set(err, -EINVAL, "'limit' must be from 1 to %u", limit_max);
        q.limit = (unsigned)v;
    }
    *ret = q;
    return 0;
}
