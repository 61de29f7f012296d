/* tl_http_internal: what tl_http.c and tl_sse.c share and the tests need not
 * see: a growing buffer for what curl hands over, the request's header list
 * and curl's results as negative errnos. */
#ifndef CRTD_TESTS_TL_HTTP_INTERNAL_H
#define CRTD_TESTS_TL_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

/* A NUL-terminated byte buffer that grows up to max bytes. */
struct tl_buf {
    char *data;
    size_t len, cap, max;
};

/* Appends n bytes; -ENOMEM, or -EFBIG past b->max (a runaway server must
 * fail the test, not exhaust the machine). */
int tl_buf_append(struct tl_buf *b, const void *p, size_t n);
void tl_buf_free(struct tl_buf *b);

/* curl_global_init once per process; 0 or -ENOMEM. */
int tl_curl_init(void);

/* The header list of a request: the bearer token, the caller's lines
 * ("K: V\r\n"...), and for a JSON body its content type. 0 or -ENOMEM
 * (-EINVAL for a line without its "\r\n"). */
int tl_http_header_list(const char *token, const char *headers, bool json_body,
                        struct curl_slist **ret_list);

/* A curl result as a negative errno (0 for CURLE_OK). */
int tl_curl_errno(CURLcode code);

#endif
