/* crtd: the service — configuration, state store, stream supervisor, HTTP
 * API, and the systemd protocols, held together by a main loop that waits
 * for signals and pings the watchdog while everything is healthy. */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_internal.h"
#include "notify.h"

#ifndef CRTD_VERSION
#define CRTD_VERSION "0"
#endif
#ifndef CRTD_DATADIR
#define CRTD_DATADIR "/usr/share/crtd"
#endif
#ifndef CRTD_SOURCE_ROOT
#define CRTD_SOURCE_ROOT "."
#endif

#define RETENTION_EVERY_S 3600

struct options {
    const char *config_path;
    bool config_required;
    const char *listen;
    const char *state_dir;
    const char *model;
    const char *pose_model;
    const char *token_file;
    const char *log_level;
    char **streams;
    size_t n_streams;
    bool check_config;
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: crtd [OPTIONS]\n"
               "Watches camera streams and says, live, which activity each one sees.\n"
               "\n"
               "  -c, --config FILE       configuration file (default " CONFIG_DEFAULT_FILE ",\n"
               "                          or $CONFIGURATION_DIRECTORY/crtd.conf), with drop-ins\n"
               "                          in FILE.d/*.conf\n"
               "  -s, --stream NAME=URL   watch a stream (repeatable)\n"
               "  -l, --listen ADDR:PORT  HTTP address (default " CONFIG_DEFAULT_LISTEN ")\n"
               "      --state-dir DIR     where the state database lives\n"
               "      --model FILE        segment model file (safetensors; default: the project's\n"
               "                          models/default.safetensors; 'none': test sources only)\n"
               "      --pose-model FILE   MoveNet graph (movenet-lightning.json; default: beside\n"
               "                          the model, else the project's third_party/models)\n"
               "      --token-file FILE   bearer token for the API\n"
               "      --log-level LEVEL   error, warning, notice, info or debug\n"
               "      --check-config      check the configuration and exit\n"
               "  -h, --help              this help\n"
               "      --version           the version\n"
               "\n"
               "URLs: rtsp://, http(s)://, files, v4l2:///dev/videoN, lavfi:...; synthetic:... is\n"
               "a scripted test source (see docs/SERVICE.md), not recognition.\n"
               "Each [stream] takes the video options (transport = auto|tcp|udp, max_side,\n"
               "hwaccel, format, ffmpeg_options, timeouts, backoff, ...; docs/SERVICE.md).\n"
               "Documentation: docs/SERVICE.md; API: api/openapi.yaml.\n");
}

/* ---- configuration -------------------------------------------------------- */

static bool first_existing(char *dst, size_t size, const char *const *candidates, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (candidates[i][0] && access(candidates[i], R_OK) == 0) {
            str_copy(dst, size, candidates[i]);
            return true;
        }
    return false;
}

/* The default model when none is named: the installed one, then the source
 * tree's (a build run in place); "none" asks for no model at all (only
 * synthetic: test sources then). MoveNet: beside the model, then installed,
 * then the source tree's third_party/models. */
static void resolve_models(struct config *cfg)
{
    if (strcmp(cfg->model, "none") == 0) {
        cfg->model[0] = '\0';
        return;
    }
    if (!cfg->model[0]) {
        static const char *const models[] = {
            CRTD_DATADIR "/models/default.safetensors",
            CRTD_SOURCE_ROOT "/models/default.safetensors",
        };
        if (!first_existing(cfg->model, sizeof(cfg->model), models, ARRAY_SIZE(models)))
            return;
    }
    if (!cfg->pose_model[0]) {
        char beside[PATH_MAX];
        const char *slash = strrchr(cfg->model, '/');
        snprintf(beside, sizeof(beside), "%.*s/movenet-lightning.json",
                 slash ? (int)(slash - cfg->model) : 1, slash ? cfg->model : ".");
        const char *const poses[] = {
            beside,
            CRTD_DATADIR "/models/movenet-lightning.json",
            CRTD_SOURCE_ROOT "/third_party/models/movenet-lightning.json",
        };
        if (!first_existing(cfg->pose_model, sizeof(cfg->pose_model), poses, ARRAY_SIZE(poses)))
            str_copy(cfg->pose_model, sizeof(cfg->pose_model), beside);
    }
}

static int load_config(const struct options *o, struct config *ret_cfg, struct errbuf *err)
{
    struct config cfg;
    int r;

    config_init(&cfg);
    r = config_load(&cfg, o->config_path, o->config_required, err);
    for (size_t i = 0; r >= 0 && i < o->n_streams; i++)
        r = config_add_stream_arg(&cfg, o->streams[i], err);
    if (r >= 0 && o->listen && str_copy(cfg.listen, sizeof(cfg.listen), o->listen) < 0)
        r = errbuf_set(err, -EINVAL, "--listen: too long");
    if (r >= 0 && o->state_dir)
        str_copy(cfg.state_directory, sizeof(cfg.state_directory), o->state_dir);
    if (r >= 0 && o->model)
        str_copy(cfg.model, sizeof(cfg.model), o->model);
    if (r >= 0 && o->pose_model)
        str_copy(cfg.pose_model, sizeof(cfg.pose_model), o->pose_model);
    if (r >= 0)
        resolve_models(&cfg);
    if (r >= 0 && o->token_file)
        str_copy(cfg.token_file, sizeof(cfg.token_file), o->token_file);
    if (r >= 0 && o->log_level && log_level_parse(o->log_level, &cfg.log_level) < 0)
        r = errbuf_set(err, -EINVAL, "--log-level '%s': use error, warning, notice, info, debug",
                       o->log_level);
    /* systemd's LoadCredential=token:... when no token_file is set. */
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    if (r >= 0 && !cfg.token_file[0] && creds && *creds) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/token", creds) < (int)sizeof(path) &&
            access(path, R_OK) == 0)
            str_copy(cfg.token_file, sizeof(cfg.token_file), path);
    }
    if (r >= 0)
        r = config_validate(&cfg, err);
    if (r < 0) {
        config_done(&cfg);
        return r;
    }
    *ret_cfg = cfg;
    return 0;
}

static void prune_history(struct daemon *d)
{
    struct errbuf err;
    double before = time_wall_s() - d->cfg.history_retention_days * 86400.0;
    int r = store_history_prune(d->store, before, &err);
    if (r < 0)
        log_warning("history retention: %s", errbuf_text(&err, r));
    else if (r > 0)
        log_info("history retention: %d old intervals deleted", r);
    /* Cleared alerts go the same way; open ones stay, however old. */
    r = store_alerts_prune(d->store, before, &err);
    if (r < 0)
        log_warning("alert retention: %s", errbuf_text(&err, r));
    else if (r > 0)
        log_info("alert retention: %d old cleared alerts deleted", r);
}

/* SIGHUP: the configuration is read again from the same files and options;
 * one that does not load leaves the running one in place. */
static void reload(struct daemon *d, const struct options *o)
{
    struct errbuf err;
    struct config cfg;

    notify_send("RELOADING=1");
    errbuf_clear(&err);
    int r = load_config(o, &cfg, &err);
    if (r < 0)
        log_error("reload: %s; keeping the running configuration", errbuf_text(&err, r));
    else
        daemon_reload(d, &cfg);
    notify_send("READY=1");
}

/* ---- main ----------------------------------------------------------------- */

enum {
    OPT_STATE_DIR = 256,
    OPT_MODEL,
    OPT_POSE_MODEL,
    OPT_TOKEN_FILE,
    OPT_LOG_LEVEL,
    OPT_CHECK,
    OPT_VERSION
};

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"stream", required_argument, NULL, 's'},
        {"listen", required_argument, NULL, 'l'},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"model", required_argument, NULL, OPT_MODEL},
        {"pose-model", required_argument, NULL, OPT_POSE_MODEL},
        {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:s:l:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config_path = optarg;
            o->config_required = true;
            break;
        case 's': {
            char **grown = realloc(o->streams, (o->n_streams + 1) * sizeof(*grown));
            if (!grown)
                return -ENOMEM;
            o->streams = grown;
            o->streams[o->n_streams++] = optarg;
            break;
        }
        case 'l':
            o->listen = optarg;
            break;
        case OPT_STATE_DIR:
            o->state_dir = optarg;
            break;
        case OPT_MODEL:
            o->model = optarg;
            break;
        case OPT_POSE_MODEL:
            o->pose_model = optarg;
            break;
        case OPT_TOKEN_FILE:
            o->token_file = optarg;
            break;
        case OPT_LOG_LEVEL:
            o->log_level = optarg;
            break;
        case OPT_CHECK:
            o->check_config = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case OPT_VERSION:
            printf("crtd %s\n", CRTD_VERSION);
            return 1;
        case ':':
            fprintf(stderr, "crtd: option '%s' needs a value (try --help)\n", argv[optind - 1]);
            return -EINVAL;
        default:
            fprintf(stderr, "crtd: unknown option '%s' (try --help)\n", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "crtd: unexpected argument '%s' (try --help)\n", argv[optind]);
        return -EINVAL;
    }
    return 0;
}

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char byte = (unsigned char)sig;
    ssize_t unused = write(signal_pipe[1], &byte, 1);
    (void)unused;
    errno = saved;
}

/* The MQTT client's privacy switch and diagnostic entities (docs/MQTT.md). */
static int mqtt_pause(void *userdata, const char *stream, bool paused, struct errbuf *err)
{
    struct daemon *d = userdata;
    return supervisor_pause(d->sup, stream, paused, err);
}

static int mqtt_streams(void *userdata, json_t **ret_json)
{
    struct daemon *d = userdata;
    return supervisor_streams_json(d->sup, ret_json);
}

static int run(struct daemon *d, const struct options *o)
{
    struct errbuf err;
    char *token = NULL;
    int listen_fd = -1, r;

    errbuf_clear(&err);
    /* Libraries may have started threads before main (OpenBLAS does), so a
     * signal can land on any thread: a handler turns it into a byte on a pipe
     * that the main loop waits on. */
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        r = -errno;
        log_error("signal pipe: %s", strerror(-r));
        return r;
    }
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((r = mkdir_parents(d->cfg.state_directory, 0750)) < 0) {
        log_error("state directory %s: %s", d->cfg.state_directory, strerror(-r));
        return r;
    }
    if ((r = store_open(d->cfg.state_directory, &d->store, &err)) < 0) {
        log_error("%s", errbuf_text(&err, r));
        return r;
    }
    prune_history(d);
    if ((r = daemon_model_load(d, &err)) < 0) {
        log_error("%s", errbuf_text(&err, r));
        return r;
    }
    if ((r = daemon_finetune_new(d)) < 0) {
        log_error("the fine-tune job: %s", strerror(-r));
        return r;
    }
    /* Event ids from the clock keep growing across restarts. */
    uint64_t first_event = (uint64_t)(time_wall_s() * 1e6);
    if ((r = api_events_new(d->cfg.event_buffer, first_event, &d->events)) < 0) {
        log_error("event log (event_buffer = %u): %s", d->cfg.event_buffer, strerror(-r));
        return r;
    }
    if ((r = alerts_new(d->store, d->events, &d->alerts, &err)) < 0 ||
        (r = zones_new(&d->cfg, d->store, &d->zones, &err)) < 0 ||
        (r = rules_new(&d->cfg, d->alerts, &d->rules, &err)) < 0 ||
        (r = webhooks_new(&d->cfg, &d->webhooks, &err)) < 0) {
        log_error("%s", errbuf_text(&err, r));
        return r;
    }
    alerts_add_listener(d->alerts, webhooks_on_alert, d->webhooks);
    struct supervisor_settings settings = daemon_supervisor_settings(&d->cfg);
    if ((r = supervisor_new(&settings, d->store, d->events, d->model, &d->sup)) < 0) {
        log_error("stream supervisor: %s", strerror(-r));
        return r;
    }
    supervisor_set_safety(d->sup, d->zones, d->rules);
    if (d->cfg.token_file[0] && (r = config_read_token(d->cfg.token_file, &token, &err)) < 0) {
        log_error("%s", errbuf_text(&err, r));
        return r;
    }

    /* Streams start before the listener, so that the first answer lists them all. */
    supervisor_apply(d->sup, &d->cfg);
    struct store_stream *saved = NULL;
    size_t n_saved = 0;
    if ((r = store_streams_load(d->store, &saved, &n_saved, &err)) < 0) {
        log_error("%s", errbuf_text(&err, r));
        return r;
    }
    for (size_t i = 0; i < n_saved; i++) {
        struct config_stream cs = {
            .fps = saved[i].fps, .enabled = saved[i].enabled, .origin = CONFIG_ORIGIN_API};
        str_copy(cs.name, sizeof(cs.name), saved[i].name);
        str_copy(cs.url, sizeof(cs.url), saved[i].url);
        str_copy(cs.site, sizeof(cs.site), saved[i].site);
        str_copy(cs.room, sizeof(cs.room), saved[i].room);
        config_video_init(&cs.video);
        json_t *options = json_loads(saved[i].options, 0, NULL);
        errbuf_clear(&err);
        r = options ? config_video_set_object(&cs.video, options, &err)
                    : errbuf_set(&err, -EBADMSG, "its video options are not JSON");
        json_decref(options);
        if (r < 0) {
            log_error("stream %s: not started: %s", cs.name, errbuf_text(&err, r));
            continue;
        }
        if (config_find_stream(&d->cfg, cs.name)) {
            log_warning("stream %s: in the configuration and in the state store; the "
                        "configuration wins",
                        cs.name);
            continue;
        }
        errbuf_clear(&err);
        if ((r = supervisor_add(d->sup, &cs, &err)) < 0)
            log_error("stream %s: %s", cs.name, errbuf_text(&err, r));
    }
    free(saved);

    uint64_t events_seen = api_events_last_id(d->events);
    json_t *streams = NULL;
    if ((r = supervisor_streams_json(d->sup, &streams)) < 0) {
        log_error("the stream list for MQTT: %s", strerror(-r));
        return r;
    }
    json_t *open_alerts = NULL;
    struct api_alert_query aq = {.state = "open", .since = -1, .limit = 10000};
    if ((r = alerts_query_json(d->alerts, &aq, &open_alerts, &err)) < 0) {
        json_decref(streams);
        log_error("the open alerts for MQTT: %s", errbuf_text(&err, r));
        return r;
    }
    struct mqtt_hooks hooks = {.classes = daemon_model_classes(d->model),
                               .pause = mqtt_pause,
                               .streams_json = mqtt_streams,
                               .userdata = d};
    r = mqtt_start(&d->cfg.mqtt, &hooks, d->events, events_seen,
                   json_object_get(streams, "streams"), json_object_get(open_alerts, "alerts"),
                   &d->mqtt, &err);
    json_decref(hooks.classes);
    json_decref(streams);
    json_decref(open_alerts);
    if (r < 0) {
        log_error("%s", errbuf_text(&err, r));
        return r;
    }

    struct api_server_config sc = {
        .listen = d->cfg.listen,
        .listen_fd = -1,
        .max_body = d->cfg.max_body_bytes,
        .max_connections = d->cfg.max_connections,
        .max_sse_clients = d->cfg.max_sse_clients,
        .sse_heartbeat_ms = (unsigned)(d->cfg.sse_heartbeat_s * 1000),
        .history_limit_max = d->cfg.history_limit_max,
        .cors_origins = d->cfg.cors_origins,
    };
    if (notify_listen_fd(&listen_fd) >= 0)
        sc.listen_fd = listen_fd;
    r = api_server_new(&sc, &daemon_backend, d, d->events, token, &d->server, &err);
    free(token);
    if (r < 0) {
        log_error("%s", errbuf_text(&err, r));
        return r;
    }
    if (listen_fd >= 0)
        log_info("listening on the socket passed by systemd (port %u)", api_server_port(d->server));
    else
        log_info("listening on %s (port %u)", d->cfg.listen, api_server_port(d->server));

    atomic_store(&d->ready, true);
    char status[160];
    supervisor_status(d->sup, status, sizeof(status));
    char message[256];
    snprintf(message, sizeof(message), "READY=1\nSTATUS=%s", status);
    notify_send(message);
    log_notice("crtd %s ready", CRTD_VERSION);

    uint64_t watchdog_usec = notify_watchdog_usec();
    int64_t tick_ns = watchdog_usec ? (int64_t)watchdog_usec * 1000 / 2 : 1000000000;
    if (tick_ns > 500000000) /* the rules of the clock (camera_down, absent) run each tick */
        tick_ns = 500000000;
    int64_t next_status = 0, next_prune = time_mono_ns() + (int64_t)RETENTION_EVERY_S * 1000000000;
    for (;;) {
        struct pollfd pfd = {.fd = signal_pipe[0], .events = POLLIN};
        int sig = 0;
        unsigned char byte;
        if (poll(&pfd, 1, (int)(tick_ns / 1000000)) == 1 && read(signal_pipe[0], &byte, 1) == 1)
            sig = byte;
        if (sig == SIGTERM || sig == SIGINT) {
            log_notice("signal %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (sig == SIGHUP) {
            log_notice("SIGHUP: reloading the configuration");
            reload(d, o);
        }
        int64_t now = time_mono_ns();
        if (watchdog_usec) {
            int timeout_ms = (int)(watchdog_usec / 4000);
            if (timeout_ms < 50)
                timeout_ms = 50;
            int hs = supervisor_check(d->sup, timeout_ms);
            int hh = hs < 0 ? hs : api_server_probe(d->server, timeout_ms);
            if (hs >= 0 && hh >= 0)
                notify_send("WATCHDOG=1");
            else
                log_warning("unhealthy (%s: %s): not pinging the watchdog",
                            hs < 0 ? "supervisor" : "HTTP server", strerror(-(hs < 0 ? hs : hh)));
        }
        supervisor_poll(d->sup);
        rules_tick(d->rules, time_wall_s());
        if (now >= next_status) {
            supervisor_status(d->sup, status, sizeof(status));
            snprintf(message, sizeof(message), "STATUS=%s", status);
            notify_send(message);
            next_status = now + 5000000000LL;
        }
        if (now >= next_prune) {
            prune_history(d);
            next_prune = now + (int64_t)RETENTION_EVERY_S * 1000000000;
        }
    }
    notify_send("STOPPING=1");
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    struct daemon d = {0};
    pthread_rwlock_init(&d.model_lock, NULL);
    pthread_mutex_init(&d.model_swap_lock, NULL);
    struct errbuf err;
    char default_path[PATH_MAX];
    int r;

    log_set_ident("crtd");
    errbuf_clear(&err);
    r = parse_args(argc, argv, &o);
    if (r != 0) {
        free(o.streams);
        return r > 0 ? 0 : 2;
    }
    if (!o.config_path) {
        const char *dir = getenv("CONFIGURATION_DIRECTORY");
        if (dir && *dir) {
            snprintf(default_path, sizeof(default_path), "%.*s/crtd.conf", (int)strcspn(dir, ":"),
                     dir);
            o.config_path = default_path;
        } else {
            o.config_path = CONFIG_DEFAULT_FILE;
        }
    }

    r = load_config(&o, &d.cfg, &err);
    if (r < 0) {
        fprintf(stderr, "crtd: %s\n", errbuf_text(&err, r));
        free(o.streams);
        return 1;
    }
    log_set_max_level(d.cfg.log_level);
    /* The rules' times of day are in this zone; set before any thread of
     * ours reads the clock (a change needs a restart). */
    if (d.cfg.timezone[0]) {
        setenv("TZ", d.cfg.timezone, 1);
        tzset();
    }

    if (o.check_config) {
        char *token = NULL;
        struct pipeline_model *model = NULL;
        if (d.cfg.token_file[0])
            r = config_read_token(d.cfg.token_file, &token, &err);
        if (r >= 0)
            r = pipeline_model_load(d.cfg.model[0] ? d.cfg.model : NULL, d.cfg.pose_model,
                                    d.cfg.pose_isa, &model, &err);
        for (size_t i = 0; r >= 0 && i < d.cfg.n_streams; i++) {
            struct errbuf e;
            errbuf_clear(&e);
            int q = pipeline_url_check(model, d.cfg.streams[i].url, &e);
            if (q < 0)
                r = errbuf_set(&err, q, "stream '%s': %s", d.cfg.streams[i].name,
                               errbuf_text(&e, q));
        }
        free(token);
        pipeline_model_free(model);
        if (r < 0)
            fprintf(stderr, "crtd: %s\n", errbuf_text(&err, r));
        else
            printf("configuration OK: %zu streams, listen %s, state directory %s, model %s\n",
                   d.cfg.n_streams, d.cfg.listen, d.cfg.state_directory,
                   d.cfg.model[0] ? d.cfg.model : "none (test sources only)");
        config_done(&d.cfg);
        free(o.streams);
        return r < 0 ? 1 : 0;
    }

    r = run(&d, &o);

    /* HTTP first, so that nothing new arrives while streams checkpoint. */
    d.server = api_server_free(d.server);
    daemon_finetune_free(&d); /* a running fine-tune is cancelled; the model stays */
    d.mqtt = mqtt_stop(d.mqtt);
    d.sup = supervisor_free(d.sup);
    d.rules = rules_free(d.rules);
    d.webhooks = webhooks_free(d.webhooks);
    d.zones = zones_free(d.zones);
    d.alerts = alerts_free(d.alerts);
    d.events = api_events_free(d.events);
    d.model = pipeline_model_free(d.model);
    pthread_rwlock_destroy(&d.model_lock);
    pthread_mutex_destroy(&d.model_swap_lock);
    d.store = store_free(d.store);
    config_done(&d.cfg);
    free(o.streams);
    if (r >= 0)
        log_info("stopped");
    return r < 0 ? 1 : 0;
}
