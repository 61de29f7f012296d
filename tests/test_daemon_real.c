/* Integration test of crtd's real pipeline: two live MPEG-TS streams served
 * by ffmpeg over HTTP (a clip made at test time from a photograph of a
 * person), MoveNet pose, pose features and a CRT segment model (random
 * weights, made here: the test checks the plumbing, not the accuracy). One
 * camera is killed: the other keeps reporting and the killed one shows its
 * reconnect state. A restart brings each stream's CRT memory back.
 * Usage: test_daemon_real CRTD MOVENET_JSON PHOTO */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "safetensors.h"
#include "crt.h"
#include "data.h"
#include "tl_http.h"
#include "tl_port.h"
#include "tl_proc.h"

static const char *crtd_path, *movenet_path, *photo_path;
static char dir[64];

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Nothing outlives a failed test: tl_proc's children die with it. */
static struct tl_proc spawn(const char *const *argv, const char *log)
{
    struct tl_proc p;
    const struct tl_proc_options opt = {.log_path = log, .stdin_null = true};
    assert_int_equal(tl_proc_spawn(&p, argv, &opt), 0);
    return p;
}

static int wait_exit(struct tl_proc *p, int sig)
{
    int status = 0;
    pid_t pid = p->pid;
    if (tl_proc_stop(p, sig, 10, &status) < 0)
        fail_msg("process %d did not stop", (int)pid);
    return status;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 1 << 18);
    if (f) {
        size_t n = fread(buf, 1, (1 << 18) - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

/* GET path (this daemon has no token); the parsed JSON body (status must be 200). */
static json_t *get(unsigned port, const char *path)
{
    char url[256];
    struct tl_http_response res;
    struct errbuf err = {{0}};
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    int r = tl_http("GET", url, NULL, NULL, &res, &err);
    if (r < 0)
        fail_msg("%s", errbuf_text(&err, r));
    if (res.status != 200)
        fail_msg("GET %s: %ld %.200s", path, res.status, res.body);
    json_t *j = json_loads(res.body, 0, NULL);
    tl_http_response_done(&res);
    assert_non_null(j);
    return j;
}

static long long field_int(unsigned port, const char *stream, const char *key)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/streams/%s", stream);
    json_t *j = get(port, path);
    long long v = json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

static bool state_is(unsigned port, const char *stream, const char *state)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/streams/%s", stream);
    json_t *j = get(port, path);
    bool same = strcmp(json_string_value(json_object_get(j, "state")), state) == 0;
    json_decref(j);
    return same;
}

static void wait_segments(unsigned port, const char *stream, long long n)
{
    for (int i = 0; i < 1200; i++) { /* generous: pose runs on shared cores */
        if (field_int(port, stream, "segments") >= n)
            return;
        sleep_ms(50);
    }
    fail_msg("stream %s did not reach %lld segments", stream, n);
}

struct camera {
    struct tl_proc proc;
    unsigned port;
    char url[64];
};

static void camera_start(struct camera *c, const char *clip, const char *name)
{
    char log[128];
    int port = tl_port_free();
    assert_true(port > 0);
    c->port = (unsigned)port;
    snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%u/live.ts", c->port);
    snprintf(log, sizeof(log), "%s/ffmpeg-%s.log", dir, name);
    const char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-re",  "-stream_loop",
                          "-1",     "-i",       clip,        "-c",    "copy", "-f",
                          "mpegts", "-listen",  "1",         c->url,  NULL};
    c->proc = spawn(argv, log);
}

static unsigned crtd_start(struct tl_proc *ret_proc, const char *model, const char *state,
                           const char *a, const char *b)
{
    char log[128], sa[160], sb[160];
    snprintf(log, sizeof(log), "%s/crtd.log", dir);
    snprintf(sa, sizeof(sa), "a=%s", a);
    snprintf(sb, sizeof(sb), "b=%s", b);
    const char *argv[] = {crtd_path,     "--log-level", "info",    "--listen", "127.0.0.1:0",
                          "--state-dir", state,         "--model", model,      "--pose-model",
                          movenet_path,  "--stream",    sa,        "--stream", sb,
                          NULL};
    unlink(log); /* so that the port read is this run's */
    *ret_proc = spawn(argv, log);
    for (int i = 0; i < 400; i++) {
        char *text = read_file(log);
        char *p = strstr(text, "(port ");
        unsigned port = p ? (unsigned)atoi(p + 6) : 0;
        free(text);
        if (port)
            return port;
        int status;
        if (tl_proc_wait(ret_proc, 0, &status) == 0)
            fail_msg("crtd exited: %s", read_file(log));
        sleep_ms(50);
    }
    fail_msg("crtd did not start: %s", read_file(log));
    return 0;
}

/* A CRT model file with random weights, in dir. */
static void make_model(char *path, size_t size)
{
    struct crt_model *m = NULL;
    struct crt_config cfg;
    struct errbuf err;

    crt_config_default(&cfg);
    cfg.n_classes = SMARTHOME_NUM_CLASSES;
    assert_int_equal(crt_model_new(&cfg, smarthome_classes, &m, &err), 0);
    crt_model_init_random(m, 7);
    snprintf(path, size, "%s/crt-random.safetensors", dir);
    assert_int_equal(crt_model_save(m, path, SAFETENSORS_F32, &err), 0);
    crt_model_free(m);
}

static void real_streams_one_camera_killed_then_restart(void **state)
{
    char clip[128], model[128], statedir[128], cmd[512];

    make_model(model, sizeof(model));

    /* A 640x480 clip of a person (a still photograph, so pose sees one). */
    snprintf(clip, sizeof(clip), "%s/person.ts", dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -loop 1 -i '%s' -t 6 -r 25 "
             "-vf scale=640:480,format=yuv420p -c:v libx264 -preset ultrafast -g 25 "
             "-f mpegts '%s'",
             photo_path, clip);
    assert_int_equal(system(cmd), 0);

    struct camera ca, cb;
    camera_start(&ca, clip, "a");
    camera_start(&cb, clip, "b");
    snprintf(statedir, sizeof(statedir), "%s/state", dir);
    struct tl_proc crtd;
    unsigned port = crtd_start(&crtd, model, statedir, ca.url, cb.url);

    /* The model card is the file's. */
    json_t *card = get(port, "/v1/model");
    assert_string_equal(json_string_value(json_object_get(card, "architecture")), "crt");
    assert_int_equal(json_array_size(json_object_get(card, "classes")), 31);
    json_decref(card);

    wait_segments(port, "a", 2);
    wait_segments(port, "b", 2);
    json_t *act = get(port, "/v1/streams/a/activity");
    const char *st = json_string_value(json_object_get(act, "state"));
    assert_true(strcmp(st, "activity") == 0 || strcmp(st, "nobody") == 0);
    assert_int_equal(json_array_size(json_object_get(act, "top")), 3);
    json_decref(act);
    assert_true(field_int(port, "a", "frames") >= 16);

    /* Camera a dies. */
    wait_exit(&ca.proc, SIGKILL);
    bool reconnecting = false;
    for (int i = 0; i < 600 && !reconnecting; i++) {
        reconnecting =
            state_is(port, "a", "reconnecting") && field_int(port, "a", "reconnects") >= 1;
        if (!reconnecting)
            sleep_ms(50);
    }
    if (!reconnecting)
        fail_msg("stream a never showed its reconnect state");
    long long b_before = field_int(port, "b", "segments");
    wait_segments(port, "b", b_before + 2);
    assert_true(state_is(port, "b", "running"));

    /* Restart crtd: stream b's CRT memory comes back from the state store. */
    assert_int_equal(wait_exit(&crtd, SIGTERM), 0);
    wait_exit(&cb.proc, SIGKILL);
    camera_start(&cb, clip, "b2");
    port = crtd_start(&crtd, model, statedir, ca.url, cb.url);
    wait_segments(port, "b", 1);
    json_t *j = get(port, "/v1/streams/b");
    json_t *memory = json_object_get(j, "memory");
    assert_true(json_is_true(json_object_get(memory, "restored")));
    assert_true(json_integer_value(json_object_get(memory, "segments")) >= b_before + 3);
    json_decref(j);
    assert_int_equal(wait_exit(&crtd, SIGTERM), 0);
    wait_exit(&cb.proc, SIGKILL);
}

/* A stream's motion gate as /v1/streams/{name} shows it. */
struct gate {
    char state[16];
    long long gated, pose_frames, sampled;
};

static struct gate gate_of(unsigned port, const char *stream)
{
    char path[128];
    struct gate g = {0};
    snprintf(path, sizeof(path), "/v1/streams/%s", stream);
    json_t *j = get(port, path);
    json_t *gate = json_object_get(j, "gate");
    assert_non_null(gate);
    snprintf(g.state, sizeof(g.state), "%s", json_string_value(json_object_get(gate, "state")));
    g.gated = json_integer_value(json_object_get(gate, "gated"));
    g.pose_frames = json_integer_value(json_object_get(gate, "pose_frames"));
    g.sampled = json_integer_value(json_object_get(j, "sampled"));
    json_decref(j);
    return g;
}

/* The id of the stream's first person track in view, 0 when none. */
static long long person_in_view(unsigned port, const char *stream)
{
    char path[128];
    long long id = 0;
    snprintf(path, sizeof(path), "/v1/streams/%s/people", stream);
    json_t *j = get(port, path);
    json_t *tracks = json_object_get(j, "people");
    for (size_t i = 0; i < json_array_size(tracks) && !id; i++) {
        json_t *t = json_array_get(tracks, i);
        if (json_is_true(json_object_get(t, "in_view")))
            id = json_integer_value(json_object_get(t, "id"));
    }
    json_decref(j);
    return id;
}

/* A still picture looped into a camera, with noise on every frame. */
static void make_still_clip(const char *picture, const char *clip)
{
    char cmd[768];
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -loop 1 -i '%s' -t 6 -r 25 "
             "-vf scale=640:480,noise=alls=12:allf=t,format=yuv420p -c:v libx264 -preset "
             "ultrafast -g 25 -f mpegts '%s'",
             picture, clip);
    assert_int_equal(system(cmd), 0);
}

/* The motion gate in crtd (default still_pose_fps 2, at the model's 10
 * fps): an empty, still room gets pose on its first frame only; a person
 * who keeps still gets pose at about 2 of every 10 frames and stays in
 * view on the held detections. */
static void real_motion_gate_spares_pose(void **state)
{
    char model[128], statedir[128], room_png[128], room[128], person[128], cmd[512];

    make_model(model, sizeof(model));
    snprintf(room_png, sizeof(room_png), "%s/room.png", dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=640x480 "
             "-vf eq=contrast=0.8 -frames:v 1 '%s'",
             room_png);
    assert_int_equal(system(cmd), 0);
    snprintf(room, sizeof(room), "%s/room.ts", dir);
    snprintf(person, sizeof(person), "%s/still-person.ts", dir);
    make_still_clip(room_png, room);
    make_still_clip(photo_path, person);

    struct camera ca, cb;
    camera_start(&ca, room, "room");
    camera_start(&cb, person, "person");
    snprintf(statedir, sizeof(statedir), "%s/state-gate", dir);
    struct tl_proc crtd;
    unsigned port = crtd_start(&crtd, model, statedir, ca.url, cb.url);

    /* The person is confirmed (pose at the still rate confirms a track
     * that started on the first frame). */
    long long id = 0;
    for (int i = 0; i < 1200 && !id; i++) {
        id = person_in_view(port, "b");
        if (!id)
            sleep_ms(50);
    }
    if (!id)
        fail_msg("the still person never came into view");
    struct gate b0 = gate_of(port, "b");
    long long segments = field_int(port, "b", "segments");
    wait_segments(port, "b", segments + 5);
    struct gate b1 = gate_of(port, "b");
    double rate = (double)(b1.pose_frames - b0.pose_frames) / (double)(b1.sampled - b0.sampled);
    printf("still person: %lld pose frames of %lld sampled (%.2f; 2 fps of 10 is 0.20), "
           "gated %lld, gate %s\n",
           b1.pose_frames - b0.pose_frames, b1.sampled - b0.sampled, rate, b1.gated, b1.state);
    assert_string_equal(b1.state, "still");
    if (rate < 0.1 || rate > 0.3)
        fail_msg("pose on %.2f of a still person's frames, expected about 0.2", rate);
    assert_int_equal(person_in_view(port, "b"), id); /* the same track, never dropped */

    /* The empty room: pose on the first frame (the gate's background starts
     * there), none after. */
    wait_segments(port, "a", 5);
    struct gate a = gate_of(port, "a");
    printf("empty room: %lld pose frames, %lld gated of %lld sampled, gate %s\n", a.pose_frames,
           a.gated, a.sampled, a.state);
    assert_string_equal(a.state, "empty");
    assert_int_equal(a.pose_frames, 1);
    assert_int_equal(a.gated, a.sampled - 1);
    assert_int_equal(person_in_view(port, "a"), 0);

    /* /metrics has the same. */
    struct tl_http_response res;
    struct errbuf err = {{0}};
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
    assert_int_equal(tl_http("GET", url, NULL, NULL, &res, &err), 0);
    assert_non_null(strstr(res.body, "crtd_stream_pose_frames_total{stream=\"a\"} 1\n"));
    assert_non_null(strstr(res.body, "crtd_stream_gate_state{stream=\"a\",state=\"empty\"} 1\n"));
    assert_non_null(strstr(res.body, "crtd_stream_gate_state{stream=\"b\",state=\"still\"} 1\n"));
    tl_http_response_done(&res);

    assert_int_equal(wait_exit(&crtd, SIGTERM), 0);
    wait_exit(&ca.proc, SIGKILL);
    wait_exit(&cb.proc, SIGKILL);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_daemon_real CRTD MOVENET_JSON PHOTO\n");
        return 2;
    }
    crtd_path = argv[1];
    movenet_path = argv[2];
    photo_path = argv[3];
    if (access(movenet_path, R_OK) < 0 || access(photo_path, R_OK) < 0) {
        fprintf(stderr, "skipped: %s or %s missing (run scripts/setup)\n", movenet_path,
                photo_path);
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    strcpy(dir, "/tmp/crtd-real-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_streams_one_camera_killed_then_restart),
        cmocka_unit_test(real_motion_gate_spares_pose),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (r == 0 && system(cmd) != 0)
        return 1;
    if (r != 0)
        fprintf(stderr, "logs kept in %s\n", dir);
    return r;
}
