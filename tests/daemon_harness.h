/* daemon_harness: a real crtd under test, for tests/test_daemon*.c — its
 * temporary state directory, start and stop with a bound, its port read from
 * its log, and requests to it through tests/lib's libcurl client, failing
 * the running cmocka test on anything unexpected. */
#ifndef CRTD_TESTS_DAEMON_HARNESS_H
#define CRTD_TESTS_DAEMON_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "tl_proc.h"

#define TOKEN "test-token-0123456789abcdef"
#define AUTH  "Authorization: Bearer " TOKEN "\r\n"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

extern const char *td_crtd_path;
extern const char *td_example_conf; /* daemon/crtd.conf.example, when given */
extern struct tl_proc td_live;      /* the daemon of the running test, for the teardown */

struct td_crtd {
    struct tl_proc proc;
    char dir[64];
    char log[128];
    char state[128];
    unsigned port;
};

struct td_response {
    int status;
    char *head; /* status line and header lines */
    char *body;
    json_t *json;
};

void td_sleep_ms(int ms);
void td_write_file(const char *path, const char *text, mode_t mode);
char *td_read_file(const char *path);
void td_tmp_dir(struct td_crtd *d);
void td_rm_dir(struct td_crtd *d);
void td_start_env(struct td_crtd *d, const char *const *env, int listen_fd,
                  const char *const *args);
void td_wait_port(struct td_crtd *d);
void td_start(struct td_crtd *d, const char *const *args);
/* Sends sig and waits (bounded) for the exit; returns the exit status. */
int td_stop(struct td_crtd *d, int sig);
void td_response_done(struct td_response *r);
/* One request; headers is extra header lines ("K: V\r\n"...). */
void td_http(unsigned port, const char *method, const char *path, const char *headers,
             const char *body, struct td_response *ret);
json_t *td_get_json(unsigned port, const char *path, int want_status);
void td_expect_error(unsigned port, const char *method, const char *path, const char *headers,
                     const char *body, int status, const char *code);
long long td_stream_int(unsigned port, const char *name, const char *key);
char *td_stream_str(unsigned port, const char *name, const char *key);
/* Waits (bounded) until a stream has done at least n segments. */
void td_wait_segments(unsigned port, const char *name, long long n);
void td_add_stream(unsigned port, const char *name, const char *url);

#endif
