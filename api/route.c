/* route: the route table of the HTTP API and matching of method and path. */
#include "api.h"

#include <string.h>

static const struct {
    enum api_route_id id;
    const char *pattern;
    unsigned methods;
} route_table[] = {
    {API_ROUTE_STREAMS, "/v1/streams", API_METHOD_GET | API_METHOD_HEAD | API_METHOD_POST},
    {API_ROUTE_STREAM, "/v1/streams/{name}", API_METHOD_GET | API_METHOD_HEAD | API_METHOD_DELETE},
    {API_ROUTE_ACTIVITY, "/v1/streams/{name}/activity", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_HISTORY, "/v1/streams/{name}/history", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_EVENTS, "/v1/events", API_METHOD_GET},
    {API_ROUTE_MODEL, "/v1/model", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_HEALTHZ, "/healthz", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_READYZ, "/readyz", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_METRICS, "/metrics", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_POSE, "/v1/streams/{name}/pose", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_PAGE, "/", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_ASSET, "/ui/{name}", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_PEOPLE, "/v1/streams/{name}/people", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_ZONES, "/v1/streams/{name}/zones", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_ZONE, "/v1/streams/{name}/zones/{item}",
     API_METHOD_GET | API_METHOD_HEAD | API_METHOD_PUT | API_METHOD_DELETE},
    {API_ROUTE_ALERTS, "/v1/alerts", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_ALERT, "/v1/alerts/{item}", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_ALERT_ACK, "/v1/alerts/{item}/ack", API_METHOD_POST},
    {API_ROUTE_HISTORY_ALL, "/v1/history", API_METHOD_GET | API_METHOD_HEAD},
    {API_ROUTE_PAUSE, "/v1/streams/{name}/pause", API_METHOD_POST},
    {API_ROUTE_RESUME, "/v1/streams/{name}/resume", API_METHOD_POST},
    {API_ROUTE_LABELS, "/v1/labels", API_METHOD_GET | API_METHOD_HEAD | API_METHOD_POST},
    {API_ROUTE_LABEL, "/v1/labels/{item}",
     API_METHOD_GET | API_METHOD_HEAD | API_METHOD_PUT | API_METHOD_DELETE},
    {API_ROUTE_FINETUNE, "/v1/model/finetune",
     API_METHOD_GET | API_METHOD_HEAD | API_METHOD_POST | API_METHOD_DELETE},
    {API_ROUTE_FINETUNE_CANCEL, "/v1/model/finetune/cancel", API_METHOD_POST},
    {API_ROUTE_ROLLBACK, "/v1/model/rollback", API_METHOD_POST},
};
_Static_assert(ARRAY_SIZE(route_table) == API_ROUTE_COUNT, "one row per route");

static const char *const method_names[] = {"GET", "HEAD", "POST", "DELETE", "PUT"};

static unsigned method_parse(const char *method)
{
    for (size_t i = 0; i < ARRAY_SIZE(method_names); i++)
        if (strcmp(method, method_names[i]) == 0)
            return 1u << i;
    return 0;
}

/* Matches path against pattern; a "{name}" or "{item}" segment takes one
 * path segment, which must be a valid name. */
static bool pattern_match(const char *pattern, const char *path, char *name, char *item,
                          size_t size)
{
    const char *p = pattern, *s = path;
    while (*p) {
        bool is_name = strncmp(p, "{name}", 6) == 0;
        if (is_name || strncmp(p, "{item}", 6) == 0) {
            char *dst = is_name ? name : item;
            size_t len = strcspn(s, "/");
            if (len == 0 || len >= size)
                return false;
            memcpy(dst, s, len);
            dst[len] = '\0';
            if (!api_name_valid(dst))
                return false;
            s += len;
            p += 6;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    /* One trailing slash is forgiven: /v1/streams/ is /v1/streams. */
    return *s == '\0' || (s[0] == '/' && s[1] == '\0');
}

int api_route_find(const char *method, const char *path, struct api_route_match *ret_match)
{
    struct api_route_match m = {0};
    unsigned want = method_parse(method);

    for (size_t i = 0; i < ARRAY_SIZE(route_table); i++) {
        char name[API_NAME_MAX] = "", item[API_NAME_MAX] = "";
        if (!pattern_match(route_table[i].pattern, path, name, item, sizeof(name)))
            continue;
        m.route = route_table[i].id;
        m.allowed = route_table[i].methods;
        memcpy(m.name, name, sizeof(name));
        memcpy(m.item, item, sizeof(item));
        if (!(want & m.allowed)) {
            *ret_match = m;
            return -EOPNOTSUPP;
        }
        m.method = (enum api_method)want;
        *ret_match = m;
        return 0;
    }
    *ret_match = m;
    return -ENOENT;
}

void api_route_allow_text(char *dst, size_t size, unsigned methods)
{
    size_t off = 0;
    if (size == 0)
        return;
    dst[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(method_names); i++) {
        if (!(methods & (1u << i)))
            continue;
        int n = snprintf(dst + off, size - off, "%s%s", off ? ", " : "", method_names[i]);
        if (n < 0 || (size_t)n >= size - off)
            return;
        off += (size_t)n;
    }
}

const char *api_route_pattern(enum api_route_id route)
{
    for (size_t i = 0; i < ARRAY_SIZE(route_table); i++)
        if (route_table[i].id == route)
            return route_table[i].pattern;
    return NULL;
}
