/* daemon_harness: a real crtd under test (daemon_harness.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tl_http.h"
#include "tl_proc.h"
#include "tl_sse.h"

#include "daemon_harness.h"

const char *td_crtd_path;
const char *td_example_conf;
struct tl_proc td_live;

void td_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void td_write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

char *td_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

void td_tmp_dir(struct td_crtd *d)
{
    memset(d, 0, sizeof(*d));
    strcpy(d->dir, "/tmp/crtd-test-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->log, sizeof(d->log), "%s/crtd.log", d->dir);
    snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
    char path[160];
    snprintf(path, sizeof(path), "%s/token", d->dir);
    td_write_file(path, TOKEN "\n", 0600);
}

void td_rm_dir(struct td_crtd *d)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
    assert_int_equal(system(cmd), 0);
}

/* Starts crtd with extra arguments (NULL-terminated) and environment
 * assignments ("K=V", NULL-terminated); listen_fd >= 0 is passed as fd 3. */
void td_start_env(struct td_crtd *d, const char *const *env, int listen_fd, const char *const *args)
{
    char token_path[160];
    const char *argv[64];
    size_t n = 0;
    snprintf(token_path, sizeof(token_path), "%s/token", d->dir);
    argv[n++] = td_crtd_path;
    argv[n++] = "--model"; /* the scripted test source needs none */
    argv[n++] = "none";
    argv[n++] = "--state-dir";
    argv[n++] = d->state;
    argv[n++] = "--config";
    char config[160];
    snprintf(config, sizeof(config), "%s/crtd.conf", d->dir);
    if (access(config, F_OK) < 0)
        td_write_file(config, "# empty\n", 0644);
    argv[n++] = config;
    for (size_t i = 0; args && args[i] && n < 60; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    /* Each run its own log, so that the port found is this run's. */
    char previous[160];
    snprintf(previous, sizeof(previous), "%s.previous", d->log);
    rename(d->log, previous);
    d->port = 0;
    /* A failed test leaves no daemon behind: it dies with this process. */
    const struct tl_proc_options opt = {.env = env,
                                        .log_path = d->log,
                                        .socket_activation = listen_fd >= 0,
                                        .listen_fd = listen_fd};
    assert_int_equal(tl_proc_spawn(&d->proc, argv, &opt), 0);
    td_live = d->proc;
}

void td_wait_port(struct td_crtd *d)
{
    for (int i = 0; i < 200 && !d->port; i++) {
        char *log = td_read_file(d->log);
        char *p = strstr(log, "(port ");
        if (p)
            d->port = (unsigned)atoi(p + 6);
        free(log);
        if (!d->port) {
            int status;
            if (tl_proc_wait(&d->proc, 0, &status) == 0) {
                char *text = td_read_file(d->log);
                fail_msg("crtd exited early (%s %d): %s",
                         WIFSIGNALED(status) ? "signal" : "exit status",
                         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), text);
            }
            td_sleep_ms(50);
        }
    }
    if (!d->port) {
        char *text = td_read_file(d->log);
        fail_msg("crtd did not report its port: %s", text);
    }
}

void td_start(struct td_crtd *d, const char *const *args)
{
    const char *const base[] = {"--listen", "127.0.0.1:0", NULL};
    const char *all[48];
    size_t n = 0;
    for (size_t i = 0; base[i]; i++)
        all[n++] = base[i];
    for (size_t i = 0; args && args[i] && n < 46; i++)
        all[n++] = args[i];
    all[n] = NULL;
    td_start_env(d, NULL, -1, all);
    td_wait_port(d);
}

/* Sends sig and waits (bounded) for the exit; returns the exit status. */
int td_stop(struct td_crtd *d, int sig)
{
    int status = 0;
    if (tl_proc_stop(&d->proc, sig, 6, &status) < 0)
        fail_msg("crtd did not stop within 6 s of signal %d", sig);
    return status;
}

/* ---- HTTP over tests/lib ------------------------------------------------- */

void td_response_done(struct td_response *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* One request; headers is extra header lines ("K: V\r\n"...). */
void td_http(unsigned port, const char *method, const char *path, const char *headers,
             const char *body, struct td_response *ret)
{
    char url[512];
    struct tl_http_response res;
    struct errbuf err = {{0}};
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    const struct tl_http_request req = {
        .method = method, .url = url, .headers = headers, .body = body};
    memset(ret, 0, sizeof(*ret));
    int r = tl_http_send(&req, &res, &err);
    if (r < 0)
        fail_msg("%s", errbuf_text(&err, r));
    ret->status = (int)res.status;
    ret->head = res.head;
    ret->body = res.body;
    if (ret->body[0] == '{' || ret->body[0] == '[')
        ret->json = json_loads(ret->body, 0, NULL);
}

json_t *td_get_json(unsigned port, const char *path, int want_status)
{
    struct td_response r;
    td_http(port, "GET", path, AUTH, NULL, &r);
    if (r.status != want_status)
        fail_msg("GET %s: status %d, expected %d: %s", path, r.status, want_status, r.body);
    json_t *j = json_incref(r.json);
    td_response_done(&r);
    assert_non_null(j);
    return j;
}

void td_expect_error(unsigned port, const char *method, const char *path, const char *headers,
                     const char *body, int status, const char *code)
{
    struct td_response r;
    td_http(port, method, path, headers, body, &r);
    if (r.status != status)
        fail_msg("%s %s: status %d, expected %d: %s", method, path, r.status, status, r.body);
    const char *got = NULL, *message = NULL;
    if (!r.json ||
        json_unpack(r.json, "{s:{s:s, s:s}}", "error", "code", &got, "message", &message) < 0)
        fail_msg("%s %s: not a JSON error: %s", method, path, r.body);
    assert_string_equal(got, code);
    assert_true(strlen(message) > 0);
    td_response_done(&r);
}

long long td_stream_int(unsigned port, const char *name, const char *key)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/streams/%s", name);
    json_t *j = td_get_json(port, path, 200);
    long long v = json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

char *td_stream_str(unsigned port, const char *name, const char *key)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/streams/%s", name);
    json_t *j = td_get_json(port, path, 200);
    const char *v = json_string_value(json_object_get(j, key));
    char *copy = strdup(v ? v : "");
    json_decref(j);
    return copy;
}

/* Waits (bounded) until a stream has done at least n segments. */
void td_wait_segments(unsigned port, const char *name, long long n)
{
    for (int i = 0; i < 600; i++) {
        if (td_stream_int(port, name, "segments") >= n)
            return;
        td_sleep_ms(25);
    }
    fail_msg("stream %s did not reach %lld segments", name, n);
}

void td_add_stream(unsigned port, const char *name, const char *url)
{
    struct td_response r;
    json_t *body = json_pack("{s:s, s:s}", "name", name, "url", url);
    char *text = json_dumps(body, 0);
    td_http(port, "POST", "/v1/streams", AUTH, text, &r);
    if (r.status != 201)
        fail_msg("POST %s: %d %s", name, r.status, r.body);
    td_response_done(&r);
    free(text);
    json_decref(body);
}
