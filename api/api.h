/* api: the HTTP/JSON API of crtd on libmicrohttpd and Jansson. It knows the
 * daemon only through the narrow interface declared here. */
#ifndef CRTD_API_H
#define CRTD_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base.h"

/* ---- errors (error.c) ----------------------------------------------------- */

/* The HTTP status that answers a negative errno from the layers below. */
unsigned api_error_status(int code);

/* A short machine-readable code for the error, e.g. "not_found". */
const char *api_error_code(int code);

/* {"error": {"code": ..., "message": ...}}; a new reference, NULL on ENOMEM. */
json_t *api_error_body(int code, const char *message);

/* ---- names and requests (request.c) --------------------------------------- */

#define API_NAME_MAX 64   /* a stream name, with its terminating NUL */
#define API_URL_MAX  1024 /* a stream URL, with its terminating NUL */

/* Whether text is a stream name: 1 to 63 characters of [A-Za-z0-9_.-],
 * starting with a letter or digit. */
bool api_name_valid(const char *text);
/* A stream's site or room (docs/SERVICE.md): free text a person reads
 * ("Rose wing", "Room 12"), 1-63 bytes, no control character and no
 * leading or trailing space. */
bool api_place_valid(const char *text);
/* Percent-decodes a request's path or query value in place and returns its
 * new length, as libmicrohttpd would, except that "%00" stays encoded: a NUL
 * would cut the path short (/v1/streams/%00/history read as /v1/streams/),
 * while "%00" is a name no stream has, so the request is refused. */
size_t api_url_unescape(char *text);

/* What POST /v1/streams asks for, validated. */
struct api_stream_spec {
    char name[API_NAME_MAX];
    char url[API_URL_MAX];
    double fps;              /* 0: the model's rate */
    bool enabled;            /* default true */
    char site[API_NAME_MAX]; /* "": none (api_place_valid otherwise) */
    char room[API_NAME_MAX];
    /* The backend's own fields (its stream_option_name's), as given: an
     * object (a new reference) for the backend to check; NULL when none. */
    json_t *options;
};

/* Parses a POST /v1/streams body: an object with name and url, optional fps
 * (0 < fps <= 60), enabled, site and room, the backend's fields
 * (option_name(i) for i = 0, 1, ... until NULL; option_name may be NULL),
 * and nothing else. -EBADMSG for JSON that does not parse, -EINVAL for a
 * field that is wrong, each with a message. api_stream_spec_done() releases
 * the result. */
int api_stream_spec_parse(const char *body, size_t size, const char *(*option_name)(size_t i),
                          struct api_stream_spec *ret_spec, struct errbuf *err);
void api_stream_spec_done(struct api_stream_spec *spec);

/* Parses a time given as seconds since the epoch ("1732262400.5") or as RFC
 * 3339 ("2026-11-22T08:00:00Z", "...+01:00"); -EINVAL otherwise. */
int api_time_parse(const char *text, double *ret_time);

/* Formats seconds since the epoch as RFC 3339 UTC with milliseconds. */
void api_time_format(char *dst, size_t size, double t);

/* A new JSON string of api_time_format(t), or JSON null when t < 0. */
json_t *api_time_json(double t);

/* ---- cross-origin reads (cors.c) ----------------------------------------- */

/* The origins allowed to read the API from a browser ([server] cors_origins,
 * docs/SERVICE.md): exact origins, or any (a lone '*'). */
struct api_cors {
    char **origins;
    size_t n;
    bool any;
};

/* Parses "http://box1:8470, https://box2" (NULL or "": none). '*' is refused
 * when have_token (a page anywhere could then use a token a person typed
 * into it); anything that is not scheme://host[:port] is -EINVAL with a
 * message naming it. */
int api_cors_parse(const char *text, bool have_token, struct api_cors *ret_cors,
                   struct errbuf *err);
void api_cors_done(struct api_cors *cors);
/* Whether a request with this Origin header (NULL: none) may be read. */
bool api_cors_allows(const struct api_cors *cors, const char *origin);

/* ---- routes (route.c) ----------------------------------------------------- */

enum api_route_id {
    API_ROUTE_STREAMS,         /* /v1/streams */
    API_ROUTE_STREAM,          /* /v1/streams/{name} */
    API_ROUTE_ACTIVITY,        /* /v1/streams/{name}/activity */
    API_ROUTE_HISTORY,         /* /v1/streams/{name}/history */
    API_ROUTE_EVENTS,          /* /v1/events */
    API_ROUTE_MODEL,           /* /v1/model */
    API_ROUTE_HEALTHZ,         /* /healthz */
    API_ROUTE_READYZ,          /* /readyz */
    API_ROUTE_METRICS,         /* /metrics */
    API_ROUTE_POSE,            /* /v1/streams/{name}/pose */
    API_ROUTE_PAGE,            /* / : the dashboard */
    API_ROUTE_ASSET,           /* /ui/{name} : its scripts and styles */
    API_ROUTE_PEOPLE,          /* /v1/streams/{name}/people */
    API_ROUTE_ZONES,           /* /v1/streams/{name}/zones */
    API_ROUTE_ZONE,            /* /v1/streams/{name}/zones/{item} */
    API_ROUTE_ALERTS,          /* /v1/alerts */
    API_ROUTE_ALERT,           /* /v1/alerts/{item} */
    API_ROUTE_ALERT_ACK,       /* /v1/alerts/{item}/ack */
    API_ROUTE_PAUSE,           /* /v1/streams/{name}/pause */
    API_ROUTE_RESUME,          /* /v1/streams/{name}/resume */
    API_ROUTE_LABELS,          /* /v1/labels */
    API_ROUTE_LABEL,           /* /v1/labels/{item} */
    API_ROUTE_HISTORY_ALL,     /* /v1/history : every stream's */
    API_ROUTE_FINETUNE,        /* /v1/model/finetune */
    API_ROUTE_FINETUNE_CANCEL, /* /v1/model/finetune/cancel */
    API_ROUTE_ROLLBACK,        /* /v1/model/rollback */
    API_ROUTE_COUNT,
};

enum api_method {
    API_METHOD_GET = 1 << 0,
    API_METHOD_HEAD = 1 << 1,
    API_METHOD_POST = 1 << 2,
    API_METHOD_DELETE = 1 << 3,
    API_METHOD_PUT = 1 << 4,
};

struct api_route_match {
    enum api_route_id route;
    enum api_method method;
    char name[API_NAME_MAX]; /* the {name} part, when the route has one */
    char item[API_NAME_MAX]; /* the {item} part: a zone's name, an alert's id */
    unsigned allowed;        /* the methods the path allows (enum api_method bits) */
};

/* Finds the route of method and path. -ENOENT for a path no route has (or a
 * {name} that is not a valid name), -EOPNOTSUPP for a method the path does
 * not allow; in both cases *ret_match still says which methods are allowed
 * (0 when none). */
int api_route_find(const char *method, const char *path, struct api_route_match *ret_match);

/* The "GET, HEAD, POST" text of an Allow header for a set of methods. */
void api_route_allow_text(char *dst, size_t size, unsigned methods);

/* The route's path pattern, e.g. "/v1/streams/{name}/activity". */
const char *api_route_pattern(enum api_route_id route);

/* ---- text for /metrics (text.c) ------------------------------------------- */

/* A growable text buffer with a cap; once the cap is hit, further appends are
 * dropped and failed is set, so a writer checks once at the end. */
struct api_text {
    char *data;
    size_t len, size, cap;
    bool failed;
};

void api_text_init(struct api_text *t, size_t cap);
void api_text_done(struct api_text *t);
void api_text_printf(struct api_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A Prometheus histogram with fixed bucket bounds (seconds); not locked: the
 * owner serialises observe and write. */
#define API_HISTOGRAM_BUCKETS 18
struct api_histogram {
    uint64_t counts[API_HISTOGRAM_BUCKETS + 1]; /* the last one is +Inf */
    uint64_t count;
    double sum;
};

extern const double api_histogram_bounds[API_HISTOGRAM_BUCKETS];

void api_histogram_observe(struct api_histogram *h, double value);
/* Writes the _bucket, _sum and _count lines of name{labels} (labels may be
 * empty, e.g. "stream=\"kitchen\""). */
void api_histogram_write(const struct api_histogram *h, struct api_text *t, const char *name,
                         const char *labels);

/* Escapes a label value for the text format (backslash, quote, newline). */
void api_text_label_escape(char *dst, size_t size, const char *value);

/* ---- events for Server-Sent Events (events.c) ----------------------------- */

/* A bounded, thread-safe log of recent events with consecutive ids. The
 * daemon publishes; each SSE client reads from the id it has seen. Ids start
 * at a seed (the daemon uses the wall clock in microseconds, so ids keep
 * growing across restarts). */
struct api_events;

int api_events_new(size_t capacity, uint64_t first_id, struct api_events **ret_events);
struct api_events *api_events_free(struct api_events *events);

/* Publishes {type, data}; data is borrowed (serialised at once). Returns the
 * new event's id in ret_id (may be NULL). */
int api_events_publish(struct api_events *events, const char *type, json_t *data, uint64_t *ret_id);

/* The id of the newest event (first_id - 1 when none yet). */
uint64_t api_events_last_id(struct api_events *events);

/* Formats the first event after after_id as an SSE message ("id: ..\nevent:
 * ..\ndata: ..\n\n") into a new malloc'd string. Waits up to timeout_ms for
 * one to be published; -EAGAIN when none came, -ESHUTDOWN after
 * api_events_shutdown. When after_id is older than what is kept, replay starts
 * at the oldest kept event. */
int api_events_next(struct api_events *events, uint64_t after_id, int timeout_ms,
                    char **ret_message, uint64_t *ret_id);

/* Wakes every waiter and makes api_events_next fail with -ESHUTDOWN. */
void api_events_shutdown(struct api_events *events);

/* ---- the dashboard's files (web/, embedded at build time) ----------------- */

struct api_asset {
    const char *name;         /* "index.html", "dashboard.js", ... */
    const char *content_type; /* with its charset */
    const unsigned char *data;
    size_t size;
    const char *etag; /* a hash of data, quoted */
};

/* The embedded file of that name, or NULL: only these names are served, and
 * no request path ever reaches the filesystem. */
const struct api_asset *api_asset_find(const char *name);

/* ---- the server (server.c) ------------------------------------------------ */

/* GET /v1/alerts?state=&stream=&rule=&since=&limit= */
struct api_alert_query {
    char state[16]; /* "" for any */
    char stream[API_NAME_MAX];
    char rule[API_NAME_MAX];
    double since; /* < 0: any; else alerts that started or changed since */
    unsigned limit;
};

/* GET /v1/history: intervals of any stream, filtered (docs/SERVICE.md). */
#define API_HISTORY_FILTER_MAX 32 /* names in one comma list */
struct api_history_query {
    char streams[API_HISTORY_FILTER_MAX][API_NAME_MAX]; /* none: any */
    size_t n_streams;
    char labels[API_HISTORY_FILTER_MAX][API_NAME_MAX]; /* none: any */
    size_t n_labels;
    int64_t track;                               /* 0: any */
    char site[API_NAME_MAX], room[API_NAME_MAX]; /* "": any */
    double since, until;                         /* < 0: open-ended */
    int64_t before_id; /* 0: from the newest; else ids below it (the next page) */
    unsigned limit;
};

/* Reads the query parameters (n keys and values, a value NULL when the
 * parameter came without '=') into *ret_query: -EINVAL with a message naming
 * the parameter for a bad value, a repeated list beyond its cap, or an
 * unknown parameter. */
int api_history_query_parse(const char *const *keys, const char *const *values, size_t n,
                            unsigned limit_max, struct api_history_query *ret_query,
                            struct errbuf *err);
/* The same, from a request's query parameters. */
struct MHD_Connection;
int api_history_query_read(struct MHD_Connection *c, unsigned limit_max,
                           struct api_history_query *ret_query, struct errbuf *err);

/* GET /v1/labels?stream=&class=&track=&since=&until=&limit= */
struct api_label_query {
    char stream[API_NAME_MAX]; /* "" for any */
    char class_name[64];       /* "" for any */
    int64_t track;             /* < 0: any; 0: the camera's labels; > 0: that track's */
    double since, until;       /* < 0: open; else labels overlapping them */
    unsigned limit;
};

/* Checks the query's values (each NULL when not given); the message names
 * the parameter. */
int api_label_query_parse(const char *stream, const char *class_name, const char *track,
                          const char *since, const char *until, const char *limit,
                          unsigned limit_max, struct api_label_query *ret_query,
                          struct errbuf *err);

/* What the daemon answers with. Every call may come from several connection
 * threads at once. Each returns 0 with a new reference in ret_json, or a
 * negative errno with a message in err (which becomes the JSON error). */
struct api_backend {
    int (*streams_list)(void *userdata, json_t **ret_json, struct errbuf *err);
    int (*stream_get)(void *userdata, const char *name, json_t **ret_json, struct errbuf *err);
    int (*stream_add)(void *userdata, const struct api_stream_spec *spec, json_t **ret_json,
                      struct errbuf *err);
    int (*stream_delete)(void *userdata, const char *name, struct errbuf *err);
    /* The privacy pause (docs/SERVICE.md): on or off, then the Stream. */
    int (*stream_pause)(void *userdata, const char *name, bool paused, json_t **ret_json,
                        struct errbuf *err);
    /* The names of POST /v1/streams fields beyond name, url, fps and
     * enabled that stream_add takes (in spec->options); NULL past the last.
     * May be NULL: none. */
    const char *(*stream_option_name)(size_t i);
    int (*activity_get)(void *userdata, const char *name, json_t **ret_json, struct errbuf *err);
    int (*pose_get)(void *userdata, const char *name, json_t **ret_json, struct errbuf *err);
    int (*people_get)(void *userdata, const char *name, json_t **ret_json, struct errbuf *err);
    /* since/until: seconds since the epoch, or < 0 when not given. */
    int (*history_get)(void *userdata, const char *name, double since, double until, unsigned limit,
                       json_t **ret_json, struct errbuf *err);
    /* GET /v1/history: newest first (by id), at most q->limit. */
    int (*history_search)(void *userdata, const struct api_history_query *q, json_t **ret_json,
                          struct errbuf *err);
    int (*model_get)(void *userdata, json_t **ret_json, struct errbuf *err);
    /* Zones of a stream (docs/SAFETY.md): the list, one, one put from a JSON
     * body (created: *ret_created), one removed. */
    int (*zones_list)(void *userdata, const char *stream, json_t **ret_json, struct errbuf *err);
    int (*zone_get)(void *userdata, const char *stream, const char *zone, json_t **ret_json,
                    struct errbuf *err);
    int (*zone_put)(void *userdata, const char *stream, const char *zone, const char *body,
                    size_t size, bool *ret_created, json_t **ret_json, struct errbuf *err);
    int (*zone_delete)(void *userdata, const char *stream, const char *zone, struct errbuf *err);
    /* Alerts: the list filtered by the query, one by id, one acknowledged
     * (body: optional {"by": "..."}). */
    int (*alerts_list)(void *userdata, const struct api_alert_query *query, json_t **ret_json,
                       struct errbuf *err);
    int (*alert_get)(void *userdata, int64_t id, json_t **ret_json, struct errbuf *err);
    int (*alert_ack)(void *userdata, int64_t id, const char *body, size_t size, json_t **ret_json,
                     struct errbuf *err);
    /* Labels (docs/SERVICE.md "Labels"): the list, one created from a JSON
     * body (its id in *ret_id), one, one changed by a JSON body, one removed. */
    int (*labels_list)(void *userdata, const struct api_label_query *query, json_t **ret_json,
                       struct errbuf *err);
    int (*label_create)(void *userdata, const char *body, size_t size, int64_t *ret_id,
                        json_t **ret_json, struct errbuf *err);
    int (*label_get)(void *userdata, int64_t id, json_t **ret_json, struct errbuf *err);
    int (*label_put)(void *userdata, int64_t id, const char *body, size_t size, json_t **ret_json,
                     struct errbuf *err);
    int (*label_delete)(void *userdata, int64_t id, struct errbuf *err);
    /* The fine-tune on the box (docs/SERVICE.md "Fine-tuning"): one
     * started from an optional JSON body (the job's state, answered 202),
     * the job's state, a cancel, and the previous model served again. Each
     * may be NULL: not implemented. */
    int (*finetune_start)(void *userdata, const char *body, size_t size, json_t **ret_json,
                          struct errbuf *err);
    int (*finetune_get)(void *userdata, json_t **ret_json, struct errbuf *err);
    int (*finetune_cancel)(void *userdata, json_t **ret_json, struct errbuf *err);
    int (*model_rollback)(void *userdata, json_t **ret_json, struct errbuf *err);
    /* 0 when ready, -EAGAIN with the reason otherwise. */
    int (*ready)(void *userdata, struct errbuf *err);
    /* Appends the daemon's metrics in the Prometheus text format. */
    void (*metrics)(void *userdata, struct api_text *out);
    /* Adds what /healthz reports beside its status to obj; false when crtd
     * runs degraded (e.g. its state store cannot write). May be NULL. */
    bool (*health)(void *userdata, json_t *obj);
};

struct api_server_config {
    const char *listen;         /* "127.0.0.1:8470", "[::1]:8470"; port 0 picks one */
    int listen_fd;              /* >= 0: an already listening socket (systemd) */
    size_t max_body;            /* bytes of a request body */
    unsigned max_connections;   /* open connections, SSE ones included */
    unsigned max_sse_clients;   /* concurrent /v1/events clients */
    unsigned sse_heartbeat_ms;  /* comment line to idle SSE clients */
    unsigned timeout_s;         /* idle connection timeout */
    unsigned history_limit_max; /* cap of ?limit= on history */
    const char *cors_origins;   /* api_cors_parse's text; NULL: none */
};

#define API_HISTORY_LIMIT_DEFAULT 100

struct api_server;

/* Reads "ADDRESS:PORT" or "[IPv6]:PORT" (numeric, or localhost) into a
 * socket address; -EINVAL with a message naming the address otherwise. */
int api_listen_parse(const char *listen, struct sockaddr_storage *ret_addr, socklen_t *ret_len,
                     struct errbuf *err);

/* Starts listening and serving on its own threads. The token (may be NULL or
 * empty: no token) is copied; events is borrowed and must outlive the server. */
int api_server_new(const struct api_server_config *config, const struct api_backend *backend,
                   void *userdata, struct api_events *events, const char *token,
                   struct api_server **ret_server, struct errbuf *err);
/* Stops: SSE clients are ended, connections closed, threads joined. */
struct api_server *api_server_free(struct api_server *server);

/* Replaces the bearer token (NULL or "" removes it). */
int api_server_set_token(struct api_server *server, const char *token);

/* Replaces the origins that may read the API (api_cors_parse, with the
 * token now set); on an error the old ones stay. */
int api_server_set_cors(struct api_server *server, const char *cors_origins, struct errbuf *err);

/* The port actually bound (useful with port 0). */
unsigned api_server_port(struct api_server *server);

/* Asks the server its own /healthz over loopback. 0 when it answered 200 (or
 * when every connection slot is in use, which is load, not a hang), a
 * negative errno otherwise. */
int api_server_probe(struct api_server *server, int timeout_ms);

/* Whether two tokens are equal, in time that depends only on their lengths. */
bool api_token_equal(const char *a, const char *b);

/* Appends the server's own metrics (requests by status, connections, SSE). */
void api_server_metrics(struct api_server *server, struct api_text *out);

#endif
