/* history_query: the filters of GET /v1/history, read from the request's
 * query parameters and checked, each error naming its parameter. */
#include "api.h"

#include <microhttpd.h>
#include <string.h>

/* Splits a comma list into names; each must be valid (check), at most
 * API_HISTORY_FILTER_MAX of them. */
static int name_list(const char *key, const char *value, bool (*check)(const char *),
                     char (*dst)[API_NAME_MAX], size_t *ret_n, struct errbuf *err)
{
    size_t n = 0;
    const char *p = value;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (n == API_HISTORY_FILTER_MAX)
            return errbuf_set(err, -EINVAL, "'%s' lists more than %d names", key,
                              API_HISTORY_FILTER_MAX);
        if (len == 0 || len >= API_NAME_MAX)
            return errbuf_set(err, -EINVAL,
                              "'%s' must be a comma list of names (an empty one in "
                              "'%.100s')",
                              key, value);
        memcpy(dst[n], p, len);
        dst[n][len] = '\0';
        if (!check(dst[n]))
            return errbuf_set(err, -EINVAL, "'%s': '%s' is not a name", key, dst[n]);
        n++;
        if (!p[len])
            break;
        p += len + 1;
    }
    *ret_n = n;
    return 0;
}

/* A positive integer below 2^53 (what JSON carries exactly). */
static int positive_id(const char *key, const char *value, int64_t *ret, struct errbuf *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || !*value || *end || value[0] == '-' || value[0] == '+' || v < 1 || v > (1LL << 53))
        return errbuf_set(err, -EINVAL, "'%s' must be a positive whole number", key);
    *ret = v;
    return 0;
}

static bool label_valid(const char *text)
{
    return api_name_valid(text);
}

int api_history_query_parse(const char *const *keys, const char *const *values, size_t n,
                            unsigned limit_max, struct api_history_query *ret_query,
                            struct errbuf *err)
{
    struct api_history_query q = {.since = -1, .until = -1, .limit = API_HISTORY_LIMIT_DEFAULT};
    int r = 0;

    for (size_t i = 0; i < n && r == 0; i++) {
        const char *k = keys[i], *v = values[i] ? values[i] : "";
        if (strcmp(k, "streams") == 0)
            r = name_list(k, v, api_name_valid, q.streams, &q.n_streams, err);
        else if (strcmp(k, "labels") == 0)
            r = name_list(k, v, label_valid, q.labels, &q.n_labels, err);
        else if (strcmp(k, "track") == 0)
            r = positive_id(k, v, &q.track, err);
        else if (strcmp(k, "before_id") == 0)
            r = positive_id(k, v, &q.before_id, err);
        else if (strcmp(k, "site") == 0 || strcmp(k, "room") == 0) {
            if (!api_place_valid(v))
                r = errbuf_set(err, -EINVAL,
                               "'%s' must be 1-63 bytes, no control character, no space at "
                               "either end",
                               k);
            else
                str_copy(k[0] == 's' ? q.site : q.room, API_NAME_MAX, v);
        } else if (strcmp(k, "since") == 0 || strcmp(k, "until") == 0) {
            if (api_time_parse(v, k[0] == 's' ? &q.since : &q.until) < 0)
                r = errbuf_set(err, -EINVAL,
                               "'%s' must be seconds since the epoch or an RFC 3339 time", k);
        } else if (strcmp(k, "limit") == 0) {
            char *end;
            unsigned long l = strtoul(v, &end, 10);
            if (!*v || *end || v[0] == '-' || l < 1 || l > limit_max)
                r = errbuf_set(err, -EINVAL, "'limit' must be from 1 to %u", limit_max);
            q.limit = (unsigned)l;
        } else {
            r = errbuf_set(err, -EINVAL,
                           "unknown parameter '%.64s' (known: streams, labels, track, site, "
                           "room, since, until, limit, before_id)",
                           k);
        }
    }
    if (r < 0)
        return r;
    if (q.since >= 0 && q.until >= 0 && q.until < q.since)
        return errbuf_set(err, -EINVAL, "'until' is before 'since'");
    *ret_query = q;
    return 0;
}

struct query_args {
    const char *keys[2 * API_HISTORY_FILTER_MAX], *values[2 * API_HISTORY_FILTER_MAX];
    size_t n;
    bool too_many;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct query_args *a = cls;
    (void)kind;
    if (a->n == ARRAY_SIZE(a->keys)) {
        a->too_many = true;
        return MHD_NO;
    }
    a->keys[a->n] = key;
    a->values[a->n++] = value;
    return MHD_YES;
}

int api_history_query_read(struct MHD_Connection *c, unsigned limit_max,
                           struct api_history_query *ret_query, struct errbuf *err)
{
    struct query_args args = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
    if (args.too_many)
        return errbuf_set(err, -EINVAL, "more than %zu query parameters", ARRAY_SIZE(args.keys));
    return api_history_query_parse(args.keys, args.values, args.n, limit_max, ret_query, err);
}
