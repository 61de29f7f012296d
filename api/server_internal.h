/* server_internal: what the HTTP API's server shares between its files —
 * the server and per-request state, and its ways of answering
 * (server.c); the resource routes of server_resources.c use them. */
#ifndef CRTD_API_SERVER_INTERNAL_H
#define CRTD_API_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "api.h"

/* Statuses counted for /metrics (server.c's counted_statuses); the last
 * slot counts any other. */
#define N_COUNTED 14

#define SSE_POLL_MS 250

struct api_server {
    struct MHD_Daemon *mhd;
    const struct api_backend *backend;
    void *userdata;
    struct api_events *events;
    struct api_server_config config;

    pthread_mutex_t token_lock;
    char *token; /* NULL: none */
    struct api_cors cors;

    struct sockaddr_storage addr;
    socklen_t addr_len;
    unsigned port;

    atomic_uint connections;
    atomic_uint sse_clients;
    atomic_bool stopping;
    atomic_ullong requests[N_COUNTED];
};

struct request {
    struct api_route_match match;
    int route_error;
    char *body;
    size_t body_len;
    bool too_big;
};

/* Answers (server.c): text or nothing (text is freed with the answer),
 * JSON (json's reference is taken), an error with its message, an errno
 * alone. */
enum MHD_Result respond_text(struct api_server *s, struct MHD_Connection *c, unsigned status,
                             const char *type, char *text, size_t len);
enum MHD_Result respond_json(struct api_server *s, struct MHD_Connection *c, unsigned status,
                             json_t *json, const char *location);
enum MHD_Result respond_error(struct api_server *s, struct MHD_Connection *c, int code,
                              const struct errbuf *err, const struct request *req);
enum MHD_Result respond_errno(struct api_server *s, struct MHD_Connection *c, int code,
                              const char *message, const struct request *req);
/* A query parameter as a time (epoch seconds or RFC 3339); -1 when absent. */
int query_time(struct MHD_Connection *c, const char *key, double *ret, struct errbuf *err);

/* The resource routes (server_resources.c). */
enum MHD_Result serve_alerts(struct api_server *s, struct MHD_Connection *c,
                             const struct request *req);
enum MHD_Result serve_labels(struct api_server *s, struct MHD_Connection *c,
                             const struct request *req);
enum MHD_Result serve_finetune(struct api_server *s, struct MHD_Connection *c,
                               const struct request *req);
int item_id(const struct request *req, const char *what, int64_t *ret_id, struct errbuf *err);

#endif
