/* server_resources: the routes of the HTTP API's collections with their own
 * query and body handling — alerts, labels and the fine-tune job — beside
 * the dispatch in server.c. */
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

/* GET /v1/alerts: the query's filters, checked. */
enum MHD_Result serve_alerts(struct api_server *s, struct MHD_Connection *c,
                             const struct request *req)
{
    static const char *const states[] = {"pending", "active", "acknowledged", "cleared", "open"};
    struct api_alert_query q = {.since = -1, .limit = API_HISTORY_LIMIT_DEFAULT};
    struct errbuf err;
    json_t *json = NULL;
    int r;

    errbuf_clear(&err);
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
    if (v) {
        bool known = false;
        for (size_t i = 0; i < ARRAY_SIZE(states) && !known; i++)
            known = strcmp(v, states[i]) == 0;
        if (!known)
            return respond_errno(
                s, c, -EINVAL,
                "'state' must be pending, active, acknowledged, cleared or open (not cleared)",
                req);
        str_copy(q.state, sizeof(q.state), v);
    }
    const char *keys[] = {"stream", "rule"};
    char *dsts[] = {q.stream, q.rule};
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, keys[i]);
        if (v && !api_name_valid(v)) {
            errbuf_set(&err, -EINVAL, "'%s' must be a name", keys[i]);
            return respond_error(s, c, -EINVAL, &err, req);
        }
        if (v)
            str_copy(dsts[i], API_NAME_MAX, v);
    }
    if ((r = query_time(c, "since", &q.since, &err)) < 0)
        return respond_error(s, c, r, &err, req);
    const char *l = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    if (l) {
        char *end;
        unsigned long n = strtoul(l, &end, 10);
        if (*end || l[0] == '-' || n < 1 || n > s->config.history_limit_max) {
            errbuf_set(&err, -EINVAL, "'limit' must be from 1 to %u", s->config.history_limit_max);
            return respond_error(s, c, -EINVAL, &err, req);
        }
        q.limit = (unsigned)n;
    }
    r = s->backend->alerts_list(s->userdata, &q, &json, &err);
    if (r < 0)
        return respond_error(s, c, r, &err, req);
    return respond_json(s, c, 200, json, NULL);
}

/* An alert's or a label's id: the {item} of the path, a positive number. */
int item_id(const struct request *req, const char *what, int64_t *ret_id, struct errbuf *err)
{
    char *end;
    errno = 0;
    long long id = strtoll(req->match.item, &end, 10);
    if (errno || *end || id < 1)
        return errbuf_set(err, -ENOENT, "%s '%s' does not exist", what, req->match.item);
    *ret_id = id;
    return 0;
}

/* /v1/labels and /v1/labels/{id}. */
enum MHD_Result serve_labels(struct api_server *s, struct MHD_Connection *c,
                             const struct request *req)
{
    const struct api_backend *b = s->backend;
    const char *body = req->body ? req->body : "";
    struct errbuf err;
    json_t *json = NULL;
    int64_t id = 0;
    int r;
    errbuf_clear(&err);
    if (req->match.route == API_ROUTE_LABELS && req->match.method == API_METHOD_POST) {
        char location[48];
        if ((r = b->label_create(s->userdata, body, req->body_len, &id, &json, &err)) < 0)
            return respond_error(s, c, r, &err, req);
        snprintf(location, sizeof(location), "/v1/labels/%lld", (long long)id);
        return respond_json(s, c, 201, json, location);
    }
    if (req->match.route == API_ROUTE_LABELS) {
        struct api_label_query q;
#define ARG(key) MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key)
        r = api_label_query_parse(ARG("stream"), ARG("class"), ARG("track"), ARG("since"),
                                  ARG("until"), ARG("limit"), s->config.history_limit_max, &q,
                                  &err);
#undef ARG
        if (r >= 0)
            r = b->labels_list(s->userdata, &q, &json, &err);
    } else if ((r = item_id(req, "label", &id, &err)) >= 0) {
        if (req->match.method == API_METHOD_DELETE) {
            if ((r = b->label_delete(s->userdata, id, &err)) >= 0)
                return respond_text(s, c, 204, NULL, NULL, 0);
        } else if (req->match.method == API_METHOD_PUT) {
            r = b->label_put(s->userdata, id, body, req->body_len, &json, &err);
        } else {
            r = b->label_get(s->userdata, id, &json, &err);
        }
    }
    if (r < 0)
        return respond_error(s, c, r, &err, req);
    return respond_json(s, c, 200, json, NULL);
}

/* /v1/model/finetune, .../cancel and /v1/model/rollback. */
enum MHD_Result serve_finetune(struct api_server *s, struct MHD_Connection *c,
                               const struct request *req)
{
    const struct api_backend *b = s->backend;
    struct errbuf err;
    json_t *json = NULL;
    int r, status = 200;
    errbuf_clear(&err);
    if (req->match.route == API_ROUTE_ROLLBACK)
        r = b->model_rollback ? b->model_rollback(s->userdata, &json, &err) : -ENOSYS;
    else if (req->match.route == API_ROUTE_FINETUNE_CANCEL ||
             req->match.method == API_METHOD_DELETE)
        r = b->finetune_cancel ? b->finetune_cancel(s->userdata, &json, &err) : -ENOSYS;
    else if (req->match.method == API_METHOD_POST) {
        r = b->finetune_start ? b->finetune_start(s->userdata, req->body ? req->body : "",
                                                  req->body_len, &json, &err)
                              : -ENOSYS;
        status = 202;
    } else
        r = b->finetune_get ? b->finetune_get(s->userdata, &json, &err) : -ENOSYS;
    if (r < 0)
        return respond_error(s, c, r, &err, req);
    return respond_json(s, c, status, json, status == 202 ? "/v1/model/finetune" : NULL);
}
