/* cors: the origins whose pages may read this crtd's API from a browser
 * (cross-origin resource sharing), so that one crtd's dashboard can show the
 * cameras of several (the fleet view, docs/DASHBOARD.md). Origins are exact:
 * scheme, host and port as the browser sends them in its Origin header. */
#include "api.h"

#include <ctype.h>
#include <string.h>

void api_cors_done(struct api_cors *cors)
{
    if (!cors)
        return;
    for (size_t i = 0; i < cors->n; i++)
        free(cors->origins[i]);
    free(cors->origins);
    *cors = (struct api_cors){0};
}

/* Whether text (len bytes) is an origin: http:// or https://, a host of
 * letters, digits, '.', '-' (or an [IPv6] address), an optional :port, and
 * nothing after (a browser never sends a path or a trailing slash). */
static bool origin_valid(const char *text, size_t len)
{
    size_t i;
    if (len > 7 && strncmp(text, "http://", 7) == 0)
        i = 7;
    else if (len > 8 && strncmp(text, "https://", 8) == 0)
        i = 8;
    else
        return false;
    size_t host = i;
    if (text[i] == '[') {
        while (i < len && text[i] != ']') {
            if (!isxdigit((unsigned char)text[i]) && text[i] != ':' && text[i] != '[')
                return false;
            i++;
        }
        if (i == len)
            return false;
        i++;
    } else {
        while (i < len && (isalnum((unsigned char)text[i]) || text[i] == '.' || text[i] == '-'))
            i++;
    }
    if (i == host)
        return false;
    if (i < len && text[i] == ':') {
        size_t digits = ++i;
        while (i < len && isdigit((unsigned char)text[i]))
            i++;
        if (i == digits || i - digits > 5)
            return false;
    }
    return i == len;
}

int api_cors_parse(const char *text, bool have_token, struct api_cors *ret_cors, struct errbuf *err)
{
    struct api_cors cors = {0};
    const char *p = text ? text : "";
    int r = 0;

    while (*p) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (!len)
            break;
        if (len == 1 && p[0] == '*') {
            if (have_token) {
                r = errbuf_set(err, -EINVAL,
                               "cors_origins: '*' would let any web page use the token a person "
                               "gave it; list the dashboards' origins instead");
                goto fail;
            }
            cors.any = true;
        } else if (!origin_valid(p, len)) {
            r = errbuf_set(err, -EINVAL,
                           "cors_origins: '%.*s' is not an origin (scheme://host[:port], e.g. "
                           "http://box1:8470, with no path)",
                           (int)(len > 200 ? 200 : len), p);
            goto fail;
        } else {
            char **grown = realloc(cors.origins, (cors.n + 1) * sizeof(*grown));
            if (!grown || !(grown[cors.n] = strndup(p, len))) {
                if (grown)
                    cors.origins = grown;
                r = -ENOMEM;
                goto fail;
            }
            cors.origins = grown;
            cors.n++;
        }
        p += len;
        p += strcspn(p, ",");
    }
    *ret_cors = cors;
    return 0;
fail:
    api_cors_done(&cors);
    return r;
}

bool api_cors_allows(const struct api_cors *cors, const char *origin)
{
    if (!origin || !*origin)
        return false;
    if (cors->any)
        return true;
    for (size_t i = 0; i < cors->n; i++)
        if (strcmp(cors->origins[i], origin) == 0)
            return true;
    return false;
}
