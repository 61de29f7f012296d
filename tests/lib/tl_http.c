/* tl_http: one HTTP request per call over libcurl (tl_http.h). */
#include "tl_http.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "tl_http_internal.h"

/* Larger than anything the daemon answers (its /metrics with many streams);
 * a test that gets more has found a bug. */
#define TL_HTTP_MAX_BODY ((size_t)64 << 20)
#define TL_HTTP_MAX_HEAD ((size_t)64 << 10)

int tl_buf_append(struct tl_buf *b, const void *p, size_t n)
{
    if (n > b->max - b->len)
        return -EFBIG;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data)
            return -ENOMEM;
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void tl_buf_free(struct tl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int tl_curl_init(void)
{
    pthread_once(&curl_once, curl_init_once);
    return curl_init_result == CURLE_OK ? 0 : -ENOMEM;
}

int tl_http_header_list(const char *token, const char *headers, bool json_body,
                        struct curl_slist **ret_list)
{
    struct curl_slist *list = NULL, *next;
    char line[1024];
    int r = 0;

    /* The tests send exactly the headers they name: no "Expect:
     * 100-continue" (curl's default for large bodies), so that a server that
     * refuses a body before reading it is tested as a plain client meets it. */
    if (!(next = curl_slist_append(list, "Expect:")))
        goto fail_nomem;
    list = next;
    if (token) {
        if (snprintf(line, sizeof(line), "Authorization: Bearer %s", token) >= (int)sizeof(line)) {
            r = -EINVAL;
            goto fail;
        }
        if (!(next = curl_slist_append(list, line)))
            goto fail_nomem;
        list = next;
    }
    if (json_body) {
        if (!(next = curl_slist_append(list, "Content-Type: application/json")))
            goto fail_nomem;
        list = next;
    }
    for (const char *p = headers; p && *p;) {
        const char *end = strstr(p, "\r\n");
        if (!end || (size_t)(end - p) >= sizeof(line)) {
            r = -EINVAL;
            goto fail;
        }
        memcpy(line, p, (size_t)(end - p));
        line[end - p] = '\0';
        if (!(next = curl_slist_append(list, line)))
            goto fail_nomem;
        list = next;
        p = end + 2;
    }
    *ret_list = list;
    return 0;

fail_nomem:
    r = -ENOMEM;
fail:
    curl_slist_free_all(list);
    return r;
}

int tl_curl_errno(CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return 0;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_WRITE_ERROR: /* a callback refused: the buffer's cap */
        return -EFBIG;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return -EINVAL;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
        return -EBADMSG;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
        return -ECONNRESET;
    default:
        return -EIO;
    }
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    return tl_buf_append(arg, p, size * n) < 0 ? 0 : size * n;
}

int tl_http_send(const struct tl_http_request *req, struct tl_http_response *ret,
                 struct errbuf *err)
{
    struct tl_buf head = {.max = TL_HTTP_MAX_HEAD}, body = {.max = TL_HTTP_MAX_BODY};
    struct curl_slist *list = NULL;
    char curl_err[CURL_ERROR_SIZE] = "";
    CURL *curl = NULL;
    long status = 0;
    long idle = req->idle_s > 0 ? (long)(req->idle_s + 0.999) : 10;
    int r;

    if ((r = tl_curl_init()) < 0 || !(curl = curl_easy_init())) {
        r = errbuf_set(err, -ENOMEM, "%s %s: libcurl could not start", req->method, req->url);
        goto out;
    }
    r = tl_http_header_list(req->token, req->headers, req->body != NULL, &list);
    if (r < 0) {
        errbuf_set(err, r, "%s %s: bad header lines (each must end in \\r\\n)", req->method,
                   req->url);
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    /* The daemon on 127.0.0.1, never a proxy from the environment. */
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, idle);
    /* A bound on silence rather than on the whole exchange: a slow answer is
     * not a failure (tests never assert on time), a hang is. */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, idle);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &head);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    if (req->body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req->body));
    }
    if (strcmp(req->method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);

    CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
        r = errbuf_set(err, tl_curl_errno(code), "%s %s: %s", req->method, req->url,
                       curl_err[0] ? curl_err : curl_easy_strerror(code));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    /* Empty parts still come back as "" so that callers can strstr them. */
    if ((r = tl_buf_append(&head, "", 0)) < 0 || (r = tl_buf_append(&body, "", 0)) < 0) {
        errbuf_set(err, r, "%s %s: out of memory", req->method, req->url);
        goto out;
    }
    ret->status = status;
    ret->head = head.data;
    ret->body = body.data;
    ret->body_len = body.len;
    head.data = body.data = NULL;
    r = 0;

out:
    tl_buf_free(&head);
    tl_buf_free(&body);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return r;
}

int tl_http(const char *method, const char *url, const char *token, const char *body,
            struct tl_http_response *ret, struct errbuf *err)
{
    const struct tl_http_request req = {.method = method, .url = url, .token = token, .body = body};
    return tl_http_send(&req, ret, err);
}

void tl_http_response_done(struct tl_http_response *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}
