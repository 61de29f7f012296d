/* tl_sse: a Server-Sent Events stream read by the tests, event by event,
 * over libcurl (the tests' HTTP client, tl_http.h). The events are parsed as
 * the HTML standard's "event stream" says: fields per line, a blank line ends
 * an event, comment lines (": heartbeat") are no event. */
#ifndef CRTD_TESTS_TL_SSE_H
#define CRTD_TESTS_TL_SSE_H

#include <stddef.h>

#include "base.h"

struct tl_sse;

struct tl_sse_event {
    char type[64]; /* the "event:" field; "message" when it had none */
    char id[64];   /* the "id:" field; "" when it had none */
    char *data;    /* the "data:" lines joined by "\n"; NULL when it had none */
};

/* Opens url (GET) with an optional bearer token and more header lines (each
 * ending in "\r\n", e.g. "Last-Event-ID: 12\r\n"), and waits at most
 * timeout_s for the response's head. Returns 0 with the stream in *ret_sse
 * and the status code in *ret_status, or a negative errno with the reason in
 * err. A status other than 200 still opens: the caller decides. */
int tl_sse_open(const char *url, const char *token, const char *headers, double timeout_s,
                struct tl_sse **ret_sse, long *ret_status, struct errbuf *err);

/* Waits at most timeout_s for the next whole event. Returns 0 with it in
 * *ret (free it with tl_sse_event_done), -ETIMEDOUT, or -EPIPE when the
 * server closed the stream (err says more). */
int tl_sse_next(struct tl_sse *s, double timeout_s, struct tl_sse_event *ret, struct errbuf *err);

void tl_sse_event_done(struct tl_sse_event *ev);

/* Closes the connection; accepts NULL; returns NULL. */
struct tl_sse *tl_sse_free(struct tl_sse *s);

#endif
