/* server: the HTTP API on libmicrohttpd — route dispatch, bearer token,
 * request limits, JSON answers, and Server-Sent Events on /v1/events.
 *
 * One thread per connection: a slow client only holds its own thread, and an
 * SSE client can wait for events in its content reader. Per-request state is
 * allocated on the first call of the access handler and freed in the
 * completion callback. */
#include "server_internal.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

/* Statuses counted for /metrics; the last slot counts any other. */
static const unsigned counted_statuses[] = {200, 201, 204, 400, 401, 403, 404,
                                            405, 409, 413, 429, 500, 503, 0};
_Static_assert(ARRAY_SIZE(counted_statuses) == N_COUNTED, "N_COUNTED counts them");

struct sse_client {
    struct api_server *server;
    uint64_t last_id;
    char *pending;
    size_t pending_len, pending_off;
    int64_t last_send_ns;
};

bool api_token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    /* Walk the expected token's length whatever the guess is. */
    for (size_t i = 0; i < lb; i++) {
        unsigned char ca = i < la ? (unsigned char)a[i] : 0;
        diff |= (unsigned char)(ca ^ (unsigned char)b[i]);
    }
    return diff == 0;
}

static void count_status(struct api_server *s, unsigned status)
{
    size_t i = 0;
    while (i < N_COUNTED - 1 && counted_statuses[i] != status)
        i++;
    atomic_fetch_add(&s->requests[i], 1);
}

/* cors is replaced on SIGHUP (api_server_set_cors), under token_lock. */
static bool cors_allows(struct api_server *s, const char *origin)
{
    pthread_mutex_lock(&s->token_lock);
    bool ok = api_cors_allows(&s->cors, origin);
    pthread_mutex_unlock(&s->token_lock);
    return ok;
}

/* A listed origin may read the answer (errors too: a fleet view shows a
 * wrong token as such); any other gets no CORS header, so its page cannot. */
static void cors_headers(struct api_server *s, struct MHD_Connection *c, struct MHD_Response *resp)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin || !cors_allows(s, origin))
        return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(resp, "Vary", "Origin");
}

static enum MHD_Result queue(struct api_server *s, struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    if (!MHD_get_response_header(resp, "Cache-Control")) /* the dashboard's files set theirs */
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    cors_headers(s, c, resp);
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    count_status(s, status);
    return r;
}

enum MHD_Result respond_text(struct api_server *s, struct MHD_Connection *c, unsigned status,
                             const char *type, char *text, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, text, text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    if (type)
        MHD_add_response_header(resp, "Content-Type", type);
    return queue(s, c, status, resp);
}

/* Answers with json (the reference is taken) and status. */
enum MHD_Result respond_json(struct api_server *s, struct MHD_Connection *c, unsigned status,
                             json_t *json, const char *location)
{
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(json);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    text[len] = '\0';
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (location)
        MHD_add_response_header(resp, "Location", location);
    return queue(s, c, status, resp);
}

enum MHD_Result respond_error(struct api_server *s, struct MHD_Connection *c, int code,
                              const struct errbuf *err, const struct request *req)
{
    unsigned status = api_error_status(code);
    json_t *body = api_error_body(code, errbuf_text(err, code));
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(body);
    if (!text)
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"crtd\"");
    if (status == 405 && req) {
        char allow[64];
        api_route_allow_text(allow, sizeof(allow), req->match.allowed);
        MHD_add_response_header(resp, "Allow", allow);
    }
    return queue(s, c, status, resp);
}

enum MHD_Result respond_errno(struct api_server *s, struct MHD_Connection *c, int code,
                              const char *message, const struct request *req)
{
    struct errbuf err;
    errbuf_clear(&err);
    if (message)
        errbuf_set(&err, code, "%s", message);
    return respond_error(s, c, code, &err, req);
}

/* 0 when the request may go on; else the errno and message to answer with. */
static int check_auth(struct api_server *s, struct MHD_Connection *c, const struct request *req,
                      struct errbuf *err)
{
    bool change = req->match.method == API_METHOD_POST || req->match.method == API_METHOD_DELETE ||
                  req->match.method == API_METHOD_PUT;
    /* Probes, and the dashboard's own files (which hold no data: the page
     * asks for the token before it reads anything). */
    bool probe = req->match.route == API_ROUTE_HEALTHZ || req->match.route == API_ROUTE_READYZ ||
                 req->match.route == API_ROUTE_PAGE || req->match.route == API_ROUTE_ASSET;
    int r = 0;

    pthread_mutex_lock(&s->token_lock);
    if (!s->token) {
        if (change)
            r = errbuf_set(err, -EPERM,
                           "changes need a bearer token: set token_file in the [server] section");
    } else if (!probe) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!auth)
            r = errbuf_set(err, -EACCES, "missing 'Authorization: Bearer <token>'");
        else if (strncasecmp(auth, "Bearer ", 7) != 0 || !api_token_equal(auth + 7, s->token))
            r = errbuf_set(err, -EACCES, "wrong bearer token");
    }
    pthread_mutex_unlock(&s->token_lock);
    return r;
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *text)
{
    (void)cls;
    (void)c;
    return api_url_unescape(text);
}

/* ---- Server-Sent Events --------------------------------------------------- */

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sse_client *cl = cls;
    struct api_server *s = cl->server;
    unsigned heartbeat = s->config.sse_heartbeat_ms ? s->config.sse_heartbeat_ms : 15000;

    for (;;) {
        if (cl->pending && cl->pending_off < cl->pending_len) {
            size_t n = cl->pending_len - cl->pending_off;
            if (n > max)
                n = max;
            memcpy(buf, cl->pending + cl->pending_off, n);
            cl->pending_off += n;
            cl->last_send_ns = time_mono_ns();
            return (ssize_t)n;
        }
        free(cl->pending);
        cl->pending = NULL;
        if (atomic_load(&s->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;

        char *message = NULL;
        uint64_t id = 0;
        int r = api_events_next(s->events, cl->last_id, SSE_POLL_MS, &message, &id);
        if (r == 0) {
            cl->pending = message;
            cl->last_id = id;
        } else if (r == -EAGAIN) {
            if (time_mono_ns() - cl->last_send_ns < (int64_t)heartbeat * 1000000)
                continue;
            cl->pending = strdup(": heartbeat\n\n");
        } else {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (!cl->pending)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        cl->pending_len = strlen(cl->pending);
        cl->pending_off = 0;
    }
}

static void sse_free(void *cls)
{
    struct sse_client *cl = cls;
    if (!cl)
        return;
    atomic_fetch_sub(&cl->server->sse_clients, 1);
    free(cl->pending);
    free(cl);
}

static enum MHD_Result serve_events(struct api_server *s, struct MHD_Connection *c,
                                    const struct request *req)
{
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (!last)
        last = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last_event_id");
    uint64_t last_id = api_events_last_id(s->events);
    if (last && *last) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(last, &end, 10);
        if (errno || *end || last[0] == '-')
            return respond_errno(s, c, -EINVAL, "Last-Event-ID must be an event id (a number)",
                                 req);
        /* An id from the future (another instance, a typo) replays nothing. */
        if (v < last_id)
            last_id = v;
    }

    if (atomic_fetch_add(&s->sse_clients, 1) >= s->config.max_sse_clients) {
        atomic_fetch_sub(&s->sse_clients, 1);
        return respond_errno(s, c, -EUSERS, "too many event stream clients", req);
    }
    struct sse_client *cl = calloc(1, sizeof(*cl));
    if (!cl) {
        atomic_fetch_sub(&s->sse_clients, 1);
        return MHD_NO;
    }
    cl->server = s;
    cl->last_id = last_id;
    cl->pending = strdup(": crtd events\nretry: 2000\n\n");
    cl->pending_len = cl->pending ? strlen(cl->pending) : 0;
    cl->last_send_ns = time_mono_ns();

    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, cl, sse_free);
    if (!resp) {
        sse_free(cl);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return queue(s, c, 200, resp);
}

/* ---- the routes ----------------------------------------------------------- */

int query_time(struct MHD_Connection *c, const char *key, double *ret, struct errbuf *err)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    *ret = -1;
    if (!v)
        return 0;
    if (api_time_parse(v, ret) < 0)
        return errbuf_set(err, -EINVAL, "'%s' must be seconds since the epoch or an RFC 3339 time",
                          key);
    return 0;
}

static enum MHD_Result serve_history(struct api_server *s, struct MHD_Connection *c,
                                     const struct request *req)
{
    struct errbuf err;
    double since, until;
    unsigned limit = API_HISTORY_LIMIT_DEFAULT;
    json_t *json = NULL;
    int r;

    errbuf_clear(&err);
    if ((r = query_time(c, "since", &since, &err)) < 0 ||
        (r = query_time(c, "until", &until, &err)) < 0)
        return respond_error(s, c, r, &err, req);
    if (since >= 0 && until >= 0 && until < since)
        return respond_errno(s, c, -EINVAL, "'until' is before 'since'", req);
    const char *l = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    if (l) {
        char *end;
        unsigned long v = strtoul(l, &end, 10);
        if (*end || l[0] == '-' || v < 1 || v > s->config.history_limit_max) {
            errbuf_set(&err, -EINVAL, "'limit' must be from 1 to %u", s->config.history_limit_max);
            return respond_error(s, c, -EINVAL, &err, req);
        }
        limit = (unsigned)v;
    }
    r = s->backend->history_get(s->userdata, req->match.name, since, until, limit, &json, &err);
    if (r < 0)
        return respond_error(s, c, r, &err, req);
    return respond_json(s, c, 200, json, NULL);
}

/* GET /v1/history: every stream's intervals, filtered. */
static enum MHD_Result serve_history_all(struct api_server *s, struct MHD_Connection *c,
                                         const struct request *req)
{
    struct api_history_query q;
    struct errbuf err;
    json_t *json = NULL;

    errbuf_clear(&err);
    int r = api_history_query_read(c, s->config.history_limit_max, &q, &err);
    if (r >= 0)
        r = s->backend->history_search(s->userdata, &q, &json, &err);
    if (r < 0)
        return respond_error(s, c, r, &err, req);
    return respond_json(s, c, 200, json, NULL);
}

/* OPTIONS: the browser's preflight before a cross-origin request that sends
 * Authorization. It carries no token, so it is answered without one; a
 * listed origin learns what it may send, any other gets no CORS header. */
static enum MHD_Result serve_preflight(struct api_server *s, struct MHD_Connection *c,
                                       const struct request *req)
{
    char allow[64];
    if (req->route_error == -ENOENT)
        return respond_errno(s, c, -ENOENT, "no such path", req);
    api_route_allow_text(allow, sizeof(allow), req->match.allowed);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Allow", allow);
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (cors_allows(s, origin)) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, Last-Event-ID");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    return queue(s, c, 204, resp);
}

static enum MHD_Result serve_metrics(struct api_server *s, struct MHD_Connection *c,
                                     const struct request *req)
{
    struct api_text t;
    api_text_init(&t, 8 << 20);
    api_server_metrics(s, &t);
    if (s->backend->metrics)
        s->backend->metrics(s->userdata, &t);
    if (t.failed || !t.data) {
        api_text_done(&t);
        return respond_errno(s, c, -ENOMEM, "metrics did not fit", req);
    }
    return respond_text(s, c, 200, "text/plain; version=0.0.4; charset=utf-8", t.data, t.len);
}

/* One of the dashboard's embedded files, cached by ETag, under a policy
 * that lets the page load nothing but from crtd itself. */
static enum MHD_Result serve_asset(struct api_server *s, struct MHD_Connection *c, const char *name,
                                   const struct request *req)
{
    const struct api_asset *a = api_asset_find(name);
    if (!a)
        return respond_errno(s, c, -ENOENT, "no such file", req);
    const char *match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    bool fresh = match && strcmp(match, a->etag) == 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        fresh ? 0 : a->size, fresh ? NULL : (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", a->content_type);
    MHD_add_response_header(resp, "ETag", a->etag);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    /* The fleet page reads other crtd instances, at addresses a person types
     * into it; its scripts still come from crtd alone. */
    char csp[320];
    snprintf(csp, sizeof(csp),
             "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'%s; "
             "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
             strcmp(name, "fleet.html") == 0 ? " http: https:" : "");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    return queue(s, c, fresh ? 304 : 200, resp);
}

static enum MHD_Result dispatch(struct api_server *s, struct MHD_Connection *c, struct request *req)
{
    const struct api_backend *b = s->backend;
    struct errbuf err;
    json_t *json = NULL;
    int r = 0;

    errbuf_clear(&err);
    switch (req->match.route) {
    case API_ROUTE_STREAMS:
        if (req->match.method == API_METHOD_POST) {
            struct api_stream_spec spec;
            char location[API_NAME_MAX + 16];
            r = api_stream_spec_parse(req->body ? req->body : "", req->body_len,
                                      b->stream_option_name, &spec, &err);
            if (r < 0)
                break;
            r = b->stream_add(s->userdata, &spec, &json, &err);
            api_stream_spec_done(&spec);
            if (r < 0)
                break;
            snprintf(location, sizeof(location), "/v1/streams/%s", spec.name);
            return respond_json(s, c, 201, json, location);
        }
        r = b->streams_list(s->userdata, &json, &err);
        break;
    case API_ROUTE_STREAM:
        if (req->match.method == API_METHOD_DELETE) {
            r = b->stream_delete(s->userdata, req->match.name, &err);
            if (r < 0)
                break;
            return respond_text(s, c, 204, NULL, NULL, 0);
        }
        r = b->stream_get(s->userdata, req->match.name, &json, &err);
        break;
    case API_ROUTE_ACTIVITY:
        r = b->activity_get(s->userdata, req->match.name, &json, &err);
        break;
    case API_ROUTE_POSE:
        r = b->pose_get(s->userdata, req->match.name, &json, &err);
        break;
    case API_ROUTE_PEOPLE:
        r = b->people_get(s->userdata, req->match.name, &json, &err);
        break;
    case API_ROUTE_ZONES:
        r = b->zones_list(s->userdata, req->match.name, &json, &err);
        break;
    case API_ROUTE_ZONE:
        if (req->match.method == API_METHOD_DELETE) {
            r = b->zone_delete(s->userdata, req->match.name, req->match.item, &err);
            if (r < 0)
                break;
            return respond_text(s, c, 204, NULL, NULL, 0);
        }
        if (req->match.method == API_METHOD_PUT) {
            bool created = false;
            r = b->zone_put(s->userdata, req->match.name, req->match.item,
                            req->body ? req->body : "", req->body_len, &created, &json, &err);
            if (r < 0)
                break;
            return respond_json(s, c, created ? 201 : 200, json, NULL);
        }
        r = b->zone_get(s->userdata, req->match.name, req->match.item, &json, &err);
        break;
    case API_ROUTE_ALERTS:
        return serve_alerts(s, c, req);
    case API_ROUTE_ALERT:
    case API_ROUTE_ALERT_ACK: {
        int64_t id = 0;
        r = item_id(req, "alert", &id, &err);
        if (r >= 0 && req->match.route == API_ROUTE_ALERT)
            r = b->alert_get(s->userdata, id, &json, &err);
        else if (r >= 0)
            r = b->alert_ack(s->userdata, id, req->body ? req->body : "", req->body_len, &json,
                             &err);
        break;
    }
    case API_ROUTE_PAUSE:
    case API_ROUTE_RESUME:
        r = b->stream_pause(s->userdata, req->match.name, req->match.route == API_ROUTE_PAUSE,
                            &json, &err);
        break;
    case API_ROUTE_LABELS:
    case API_ROUTE_LABEL:
        return serve_labels(s, c, req);
    case API_ROUTE_FINETUNE:
    case API_ROUTE_FINETUNE_CANCEL:
    case API_ROUTE_ROLLBACK:
        return serve_finetune(s, c, req);
    case API_ROUTE_PAGE:
        return serve_asset(s, c, "index.html", req);
    case API_ROUTE_ASSET:
        return serve_asset(s, c, req->match.name, req);
    case API_ROUTE_HISTORY:
        return serve_history(s, c, req);
    case API_ROUTE_HISTORY_ALL:
        return serve_history_all(s, c, req);
    case API_ROUTE_EVENTS:
        return serve_events(s, c, req);
    case API_ROUTE_MODEL:
        r = b->model_get(s->userdata, &json, &err);
        break;
    case API_ROUTE_HEALTHZ:
        /* Alive answers 200 whatever the details say: restarting crtd would
         * not free a full disk. */
        json = json_object();
        bool healthy = !b->health || b->health(s->userdata, json);
        json_object_set_new(json, "status", json_string(healthy ? "ok" : "degraded"));
        break;
    case API_ROUTE_READYZ:
        r = b->ready(s->userdata, &err);
        if (r >= 0)
            json = json_pack("{s:s}", "status", "ready");
        break;
    case API_ROUTE_METRICS:
        return serve_metrics(s, c, req);
    case API_ROUTE_COUNT:
        r = -ENOENT;
        break;
    }
    if (r < 0)
        return respond_error(s, c, r, &err, req);
    if (!json)
        return respond_errno(s, c, -ENOMEM, NULL, req);
    return respond_json(s, c, 200, json, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct api_server *s = cls;
    struct request *req = *con_cls;

    if (!req) {
        req = calloc(1, sizeof(*req));
        if (!req)
            return MHD_NO;
        *con_cls = req;
        req->route_error = api_route_find(method, url, &req->match);
        if (strcmp(method, "OPTIONS") == 0)
            return serve_preflight(s, c, req);
        const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (length && strtoull(length, NULL, 10) > s->config.max_body) {
            char message[96];
            snprintf(message, sizeof(message), "request body over %zu bytes", s->config.max_body);
            return respond_errno(s, c, -E2BIG, message, req);
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_big ||
            (req->match.method != API_METHOD_POST && req->match.method != API_METHOD_PUT))
            return MHD_YES; /* read and dropped */
        if (req->body_len + n > s->config.max_body) {
            req->too_big = true;
            free(req->body);
            req->body = NULL;
            return MHD_YES;
        }
        char *body = realloc(req->body, req->body_len + n + 1);
        if (!body)
            return MHD_NO;
        memcpy(body + req->body_len, upload_data, n);
        req->body = body;
        req->body_len += n;
        req->body[req->body_len] = '\0';
        return MHD_YES;
    }

    if (req->route_error == -ENOENT)
        return respond_errno(s, c, -ENOENT, "no such path", req);
    if (req->route_error == -EOPNOTSUPP) {
        char message[192], allow[64];
        api_route_allow_text(allow, sizeof(allow), req->match.allowed);
        snprintf(message, sizeof(message), "method %s not allowed here (allowed: %s)", method,
                 allow);
        return respond_errno(s, c, -EOPNOTSUPP, message, req);
    }
    struct errbuf err;
    errbuf_clear(&err);
    int r = check_auth(s, c, req, &err);
    if (r < 0)
        return respond_error(s, c, r, &err, req);
    if (req->too_big) {
        char message[96];
        snprintf(message, sizeof(message), "request body over %zu bytes", s->config.max_body);
        return respond_errno(s, c, -E2BIG, message, req);
    }
    return dispatch(s, c, req);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request *req = *con_cls;
    if (!req)
        return;
    free(req->body);
    free(req);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct api_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->connections, 1);
    else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_sub(&s->connections, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_debug("http: %s", line);
}

/* ---- lifecycle ------------------------------------------------------------ */

int api_server_new(const struct api_server_config *config, const struct api_backend *backend,
                   void *userdata, struct api_events *events, const char *token,
                   struct api_server **ret_server, struct errbuf *err)
{
    struct api_server *s;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    int r;

    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->backend = backend;
    s->userdata = userdata;
    s->events = events;
    s->config = *config;
    s->config.listen = NULL;
    if (!s->config.max_body)
        s->config.max_body = 64 * 1024;
    if (!s->config.max_connections)
        s->config.max_connections = 64;
    if (!s->config.timeout_s)
        s->config.timeout_s = 60;
    if (!s->config.history_limit_max)
        s->config.history_limit_max = 1000;
    pthread_mutex_init(&s->token_lock, NULL);
    if (token && *token && !(s->token = strdup(token))) {
        r = -ENOMEM;
        goto fail;
    }
    if ((r = api_cors_parse(config->cors_origins, s->token != NULL, &s->cors, err)) < 0)
        goto fail;
    s->config.cors_origins = NULL;

    if (config->listen_fd >= 0) {
        s->addr_len = sizeof(s->addr);
        if (getsockname(config->listen_fd, (struct sockaddr *)&s->addr, &s->addr_len) < 0) {
            r = errbuf_set(err, -errno, "passed listening socket: %s", strerror(errno));
            goto fail;
        }
        if (s->addr.ss_family == AF_INET6)
            flags |= MHD_USE_IPv6;
        s->mhd = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
            MHD_OPTION_LISTEN_SOCKET, config->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
            s->config.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, s->config.timeout_s,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
            on_connection, s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
            MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    } else {
        r = api_listen_parse(config->listen ? config->listen : "127.0.0.1:8470", &s->addr,
                             &s->addr_len, err);
        if (r < 0)
            goto fail;
        if (s->addr.ss_family == AF_INET6)
            flags |= MHD_USE_IPv6;
        s->mhd = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&s->addr, MHD_OPTION_LISTENING_ADDRESS_REUSE,
            1u, MHD_OPTION_CONNECTION_LIMIT, s->config.max_connections,
            MHD_OPTION_CONNECTION_TIMEOUT, s->config.timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
            on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_UNESCAPE_CALLBACK,
            unescape, NULL, MHD_OPTION_END);
    }
    if (!s->mhd) {
        r = errbuf_set(err, -EADDRNOTAVAIL, "cannot listen on %s (address in use or not available)",
                       config->listen_fd >= 0 ? "the passed socket" : config->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    if (s->addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&s->addr)->sin_port = htons((uint16_t)s->port);
    else if (s->addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&s->addr)->sin6_port = htons((uint16_t)s->port);
    *ret_server = s;
    return 0;
fail:
    api_cors_done(&s->cors);
    free(s->token);
    pthread_mutex_destroy(&s->token_lock);
    free(s);
    return r;
}

struct api_server *api_server_free(struct api_server *s)
{
    if (!s)
        return NULL;
    atomic_store(&s->stopping, true);
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    api_cors_done(&s->cors);
    free(s->token);
    pthread_mutex_destroy(&s->token_lock);
    free(s);
    return NULL;
}

int api_server_set_token(struct api_server *s, const char *token)
{
    char *copy = NULL;
    if (token && *token && !(copy = strdup(token)))
        return -ENOMEM;
    pthread_mutex_lock(&s->token_lock);
    free(s->token);
    s->token = copy;
    pthread_mutex_unlock(&s->token_lock);
    return 0;
}

int api_server_set_cors(struct api_server *s, const char *cors_origins, struct errbuf *err)
{
    struct api_cors cors, old;
    pthread_mutex_lock(&s->token_lock);
    int r = api_cors_parse(cors_origins, s->token != NULL, &cors, err);
    if (r == 0) {
        old = s->cors;
        s->cors = cors;
    }
    pthread_mutex_unlock(&s->token_lock);
    if (r == 0)
        api_cors_done(&old);
    return r;
}

unsigned api_server_port(struct api_server *s)
{
    return s->port;
}

int api_server_probe(struct api_server *s, int timeout_ms)
{
    struct sockaddr_storage addr = s->addr;
    char buf[64];
    size_t got = 0;
    int r;

    if (atomic_load(&s->connections) >= s->config.max_connections)
        return 0;
    /* An unspecified bind address is reached over loopback. */
    if (addr.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&addr;
        if (in->sin_addr.s_addr == htonl(INADDR_ANY))
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            in6->sin6_addr = in6addr_loopback;
    }
    _cleanup_close_ int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&addr, s->addr_len) < 0 && errno != EINPROGRESS)
        return -errno;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, timeout_ms) != 1)
        return -ETIMEDOUT;
    static const char request[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                                  "Connection: close\r\n\r\n";
    if (send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(request) - 1))
        return -EIO;
    int64_t deadline = time_mono_ns() + (int64_t)timeout_ms * 1000000;
    while (got < 12) {
        int64_t left = (deadline - time_mono_ns()) / 1000000;
        if (left <= 0)
            return -ETIMEDOUT;
        p = (struct pollfd){.fd = fd, .events = POLLIN};
        r = poll(&p, 1, (int)left);
        if (r <= 0)
            return r < 0 ? -errno : -ETIMEDOUT;
        ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0)
            return -EIO;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return strncmp(buf + 9, "200", 3) == 0 ? 0 : -EIO;
}

void api_server_metrics(struct api_server *s, struct api_text *t)
{
    api_text_printf(t, "# HELP crtd_http_requests_total HTTP responses by status.\n"
                       "# TYPE crtd_http_requests_total counter\n");
    for (size_t i = 0; i < N_COUNTED; i++) {
        unsigned long long n = atomic_load(&s->requests[i]);
        if (counted_statuses[i])
            api_text_printf(t, "crtd_http_requests_total{code=\"%u\"} %llu\n", counted_statuses[i],
                            n);
        else
            api_text_printf(t, "crtd_http_requests_total{code=\"other\"} %llu\n", n);
    }
    api_text_printf(t,
                    "# HELP crtd_http_connections Open HTTP connections.\n"
                    "# TYPE crtd_http_connections gauge\n"
                    "crtd_http_connections %u\n"
                    "# HELP crtd_sse_clients Connected /v1/events clients.\n"
                    "# TYPE crtd_sse_clients gauge\n"
                    "crtd_sse_clients %u\n",
                    atomic_load(&s->connections), atomic_load(&s->sse_clients));
}
