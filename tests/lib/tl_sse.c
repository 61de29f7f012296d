/* tl_sse: a Server-Sent Events stream over libcurl's multi interface, which
 * lets the test wait for the next event with a bound instead of blocking in
 * curl_easy_perform until the server closes (tl_sse.h). */
#include "tl_sse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "tl_http_internal.h"

/* Unparsed bytes a stream may hold: far more than one event of the daemon. */
#define TL_SSE_MAX_PENDING ((size_t)1 << 20)

struct tl_sse {
    CURLM *multi;
    CURL *easy;
    struct curl_slist *headers;
    struct tl_buf pending; /* received, not yet cut into events; no '\r' */
    bool head_done;        /* the response's blank line came */
    bool closed;           /* the transfer ended */
    CURLcode result;       /* how it ended */
    char curl_err[CURL_ERROR_SIZE];
    char *url; /* for the messages */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct tl_sse *s = arg;
    if ((size * n == 2 && p[0] == '\r' && p[1] == '\n') || (size * n == 1 && p[0] == '\n'))
        s->head_done = true;
    return size * n;
}

/* Drops '\r': the event stream allows CRLF line ends and the parser then
 * needs to know only '\n' (a lone CR as a line end is not supported; the
 * daemon ends lines with LF). */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct tl_sse *s = arg;
    size_t total = size * n, start = 0;
    for (size_t i = 0; i <= total; i++) {
        if (i == total || p[i] == '\r') {
            if (tl_buf_append(&s->pending, p + start, i - start) < 0)
                return 0;
            start = i + 1;
        }
    }
    return total;
}

/* Lets curl work for at most wait_ms; notes when the transfer ended. */
static void pump(struct tl_sse *s, int wait_ms)
{
    int running = 0, left;
    curl_multi_poll(s->multi, NULL, 0, wait_ms, NULL);
    curl_multi_perform(s->multi, &running);
    CURLMsg *m;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg == CURLMSG_DONE) {
            s->closed = true;
            s->result = m->data.result;
        }
    }
}

static int wait_ms_until(double deadline)
{
    double left = deadline - mono_s();
    return left <= 0 ? 0 : left > 0.05 ? 50 : (int)(left * 1000) + 1;
}

int tl_sse_open(const char *url, const char *token, const char *headers, double timeout_s,
                struct tl_sse **ret_sse, long *ret_status, struct errbuf *err)
{
    struct tl_sse *s = NULL;
    int r;

    if ((r = tl_curl_init()) < 0)
        return errbuf_set(err, r, "GET %s: libcurl could not start", url);
    s = calloc(1, sizeof(*s));
    if (!s)
        return errbuf_set(err, -ENOMEM, "GET %s: out of memory", url);
    s->pending.max = TL_SSE_MAX_PENDING;
    if (!(s->url = strdup(url)) || !(s->multi = curl_multi_init()) ||
        !(s->easy = curl_easy_init())) {
        r = errbuf_set(err, -ENOMEM, "GET %s: libcurl could not start", url);
        goto fail;
    }
    r = tl_http_header_list(token, headers, false, &s->headers);
    if (r < 0) {
        errbuf_set(err, r, "GET %s: bad header lines (each must end in \\r\\n)", url);
        goto fail;
    }
    struct curl_slist *more = curl_slist_append(s->headers, "Accept: text/event-stream");
    if (!more) {
        r = errbuf_set(err, -ENOMEM, "GET %s: out of memory", url);
        goto fail;
    }
    s->headers = more;
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_PROXY, "");
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->curl_err);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) {
        r = errbuf_set(err, -ENOMEM, "GET %s: libcurl could not start", url);
        goto fail;
    }

    double deadline = mono_s() + timeout_s;
    while (!s->head_done && !s->closed && mono_s() < deadline)
        pump(s, wait_ms_until(deadline));
    if (!s->head_done) {
        if (s->closed && s->result != CURLE_OK)
            r = errbuf_set(err, tl_curl_errno(s->result), "GET %s: %s", url,
                           s->curl_err[0] ? s->curl_err : curl_easy_strerror(s->result));
        else if (s->closed)
            r = errbuf_set(err, -EBADMSG, "GET %s: closed without a response", url);
        else
            r = errbuf_set(err, -ETIMEDOUT, "GET %s: no response within %.1f s", url, timeout_s);
        goto fail;
    }
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    *ret_sse = s;
    *ret_status = status;
    return 0;

fail:
    tl_sse_free(s);
    return r;
}

/* Appends one field's value to the event; 0 or -ENOMEM. */
static int take_field(struct tl_sse_event *ev, const char *field, size_t flen, const char *value,
                      size_t vlen)
{
    if (flen == 5 && memcmp(field, "event", 5) == 0) {
        snprintf(ev->type, sizeof(ev->type), "%.*s", (int)vlen, value);
    } else if (flen == 2 && memcmp(field, "id", 2) == 0) {
        snprintf(ev->id, sizeof(ev->id), "%.*s", (int)vlen, value);
    } else if (flen == 4 && memcmp(field, "data", 4) == 0) {
        size_t old = ev->data ? strlen(ev->data) : 0;
        char *data = realloc(ev->data, old + vlen + 2);
        if (!data)
            return -ENOMEM;
        if (ev->data)
            data[old++] = '\n';
        memcpy(data + old, value, vlen);
        data[old + vlen] = '\0';
        ev->data = data;
    }
    /* "retry" and unknown fields: nothing a test reads. */
    return 0;
}

/* Cuts the first whole event out of s->pending into *ret. Returns 1 with an
 * event, 0 when no whole one is there, -ENOMEM. Blocks without data (the
 * daemon's greeting and heartbeats are comments) dispatch nothing, as the
 * standard says, and are skipped. */
static int cut_event(struct tl_sse *s, struct tl_sse_event *ret)
{
    for (;;) {
        char *text = s->pending.data;
        char *end = text ? strstr(text, "\n\n") : NULL;
        if (!end)
            return 0;
        struct tl_sse_event ev = {.type = "message"};
        int r = 0;
        for (char *line = text; line < end && r == 0;) {
            char *eol = memchr(line, '\n', (size_t)(end - line));
            size_t len = eol ? (size_t)(eol - line) : (size_t)(end - line);
            if (len > 0 && line[0] != ':') {
                char *colon = memchr(line, ':', len);
                size_t flen = colon ? (size_t)(colon - line) : len;
                const char *value = colon ? colon + 1 : line + len;
                size_t vlen = len - flen - (colon ? 1 : 0);
                if (vlen > 0 && value[0] == ' ') {
                    value++;
                    vlen--;
                }
                r = take_field(&ev, line, flen, value, vlen);
            }
            line += len + 1;
        }
        size_t used = (size_t)(end - text) + 2;
        memmove(text, text + used, s->pending.len - used + 1);
        s->pending.len -= used;
        if (r < 0) {
            tl_sse_event_done(&ev);
            return r;
        }
        if (ev.data) {
            *ret = ev;
            return 1;
        }
    }
}

int tl_sse_next(struct tl_sse *s, double timeout_s, struct tl_sse_event *ret, struct errbuf *err)
{
    double deadline = mono_s() + timeout_s;
    for (;;) {
        int r = cut_event(s, ret);
        if (r < 0)
            return errbuf_set(err, r, "GET %s: out of memory", s->url);
        if (r == 1)
            return 0;
        if (s->closed) {
            if (s->result == CURLE_WRITE_ERROR)
                return errbuf_set(err, -EFBIG, "GET %s: more than %zu bytes without an event end",
                                  s->url, (size_t)TL_SSE_MAX_PENDING);
            return errbuf_set(err, -EPIPE, "GET %s: the server closed the stream (%s)", s->url,
                              s->curl_err[0] ? s->curl_err : curl_easy_strerror(s->result));
        }
        if (mono_s() >= deadline)
            return errbuf_set(err, -ETIMEDOUT, "GET %s: no event within %.1f s", s->url, timeout_s);
        pump(s, wait_ms_until(deadline));
    }
}

void tl_sse_event_done(struct tl_sse_event *ev)
{
    free(ev->data);
    memset(ev, 0, sizeof(*ev));
}

struct tl_sse *tl_sse_free(struct tl_sse *s)
{
    if (!s)
        return NULL;
    if (s->multi && s->easy)
        curl_multi_remove_handle(s->multi, s->easy);
    curl_easy_cleanup(s->easy);
    curl_multi_cleanup(s->multi);
    curl_slist_free_all(s->headers);
    tl_buf_free(&s->pending);
    free(s->url);
    free(s);
    return NULL;
}
