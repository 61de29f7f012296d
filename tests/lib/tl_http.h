/* tl_http: the tests' HTTP client, libcurl underneath, so that the daemon's
 * tests speak to it as any real client would (chunked bodies, keep-alive
 * rules, header folding: curl's concern, not each test's).
 *
 * One request per call on a fresh connection; nothing is reused between
 * calls, so a test that kills the server never sees a stale connection. */
#ifndef CRTD_TESTS_TL_HTTP_H
#define CRTD_TESTS_TL_HTTP_H

#include <stddef.h>

#include "base.h"

struct tl_http_request {
    const char *method;  /* "GET", "POST", "PUT", "DELETE", ... */
    const char *url;     /* "http://127.0.0.1:PORT/path?query" */
    const char *token;   /* sent as "Authorization: Bearer TOKEN"; NULL: none */
    const char *headers; /* more header lines, each ending in "\r\n"; NULL: none */
    const char *body;    /* sent as application/json with its length; NULL: none */
    double idle_s;       /* how long the server may send nothing; 0: 10 s */
};

struct tl_http_response {
    long status;
    char *head; /* the status line and the header lines, as received */
    char *body; /* NUL-terminated; "" when there was none */
    size_t body_len;
};

/* Sends one request and reads the whole response into *ret (free it with
 * tl_http_response_done). Returns 0, or a negative errno with the reason in
 * err (refused, timed out, malformed response); *ret is then untouched. */
int tl_http_send(const struct tl_http_request *req, struct tl_http_response *ret,
                 struct errbuf *err);

/* The same for a request of method, url, token and body alone. */
int tl_http(const char *method, const char *url, const char *token, const char *body,
            struct tl_http_response *ret, struct errbuf *err);

/* Frees what the response holds and clears it; a cleared one may be done again. */
void tl_http_response_done(struct tl_http_response *r);

#endif
