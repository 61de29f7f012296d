/* config: INI parsing with inih, drop-ins, validation. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <ini.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct parse_state {
    struct config *cfg;
    struct errbuf *err;
    int code;
};

void config_init(struct config *cfg)
{
    *cfg = (struct config){
        .max_body_bytes = 64 * 1024,
        .max_connections = 64,
        .max_sse_clients = 16,
        .sse_heartbeat_s = 15,
        .event_buffer = 1024,
        .history_limit_max = 1000,
        .log_level = LOG_LEVEL_INFO,
        .max_streams = 64,
        .mqtt = {.port = 1883,
                 .topic_prefix = "crtd",
                 .discovery_prefix = "homeassistant",
                 .qos = 1,
                 .keepalive_s = 30},
        .hysteresis_s = 2.0,
        .camera_timeout_s = 10,
        .checkpoint_segments = 10,
        .history_retention_days = 30,
        .top_k = 3,
        .restart_min_s = 1,
        .restart_max_s = 60,
        .max_people = 6,
        .multipose_side = 256,
    };
    str_copy(cfg->listen, sizeof(cfg->listen), CONFIG_DEFAULT_LISTEN);
    const char *state = getenv("STATE_DIRECTORY");
    const char *home = getenv("HOME");
    if (state && *state) {
        /* systemd may pass several, colon-separated: the first is ours. */
        size_t len = strcspn(state, ":");
        snprintf(cfg->state_directory, sizeof(cfg->state_directory), "%.*s", (int)len, state);
    } else if (geteuid() != 0 && home && *home) {
        snprintf(cfg->state_directory, sizeof(cfg->state_directory), "%s/.local/state/crtd", home);
    } else {
        str_copy(cfg->state_directory, sizeof(cfg->state_directory), "/var/lib/crtd");
    }
}

void config_done(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->streams);
    cfg->streams = NULL;
    cfg->n_streams = 0;
}

const struct config_stream *config_find_stream(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_streams; i++)
        if (strcmp(cfg->streams[i].name, name) == 0)
            return &cfg->streams[i];
    return NULL;
}

static int stream_get(struct config *cfg, const char *name, enum config_origin origin,
                      struct config_stream **ret, struct errbuf *err)
{
    for (size_t i = 0; i < cfg->n_streams; i++)
        if (strcmp(cfg->streams[i].name, name) == 0) {
            *ret = &cfg->streams[i];
            return 0;
        }
    if (!api_name_valid(name))
        return errbuf_set(err, -EINVAL,
                          "stream name '%.64s': use 1-63 letters, digits, '_', '-', '.'", name);
    if (cfg->n_streams >= CONFIG_MAX_STREAMS)
        return errbuf_set(err, -E2BIG, "more than %d streams", CONFIG_MAX_STREAMS);
    struct config_stream *grown = realloc(cfg->streams, (cfg->n_streams + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    cfg->streams = grown;
    struct config_stream *st = &cfg->streams[cfg->n_streams++];
    *st = (struct config_stream){.enabled = true, .origin = origin};
    str_copy(st->name, sizeof(st->name), name);
    *ret = st;
    return 0;
}

static int parse_bool(const char *v, bool *ret)
{
    static const char *const yes[] = {"1", "yes", "true", "on"};
    static const char *const no[] = {"0", "no", "false", "off"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_uint(const char *v, unsigned min, unsigned max, unsigned *ret)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n < min || n > max)
        return -EINVAL;
    *ret = (unsigned)n;
    return 0;
}

static int parse_double(const char *v, double min, double max, double *ret)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d) || d < min || d > max)
        return -EINVAL;
    *ret = d;
    return 0;
}

/* A topic prefix: one or more levels, no wildcard, no empty level. */
static bool topic_prefix_valid(const char *v)
{
    if (!v[0] || v[0] == '/' || v[strlen(v) - 1] == '/' || strstr(v, "//"))
        return false;
    for (const char *p = v; *p; p++)
        if (*p == '+' || *p == '#' || (unsigned char)*p < 0x20)
            return false;
    return true;
}

/* A multi-person model's input side: 32..640 in steps of 32. */
static int parse_side(const char *v, unsigned *ret)
{
    unsigned n;
    if (parse_uint(v, 32, 640, &n) < 0 || n % 32 != 0)
        return -EINVAL;
    *ret = n;
    return 0;
}

static int copy_value(char *dst, size_t size, const char *v)
{
    return str_copy(dst, size, v) < 0 ? -ENAMETOOLONG : 0;
}

/* The name in a [stream "name"] section, or NULL when it is no such section. */
static int stream_section_name(const char *section, char *name, size_t size)
{
    if (strncmp(section, "stream", 6) != 0 || !isspace((unsigned char)section[6]))
        return -ENOENT;
    const char *p = section + 6;
    while (isspace((unsigned char)*p))
        p++;
    size_t len = strlen(p);
    if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
        p++;
        len -= 2;
    }
    if (len == 0 || len >= size)
        return -EINVAL;
    memcpy(name, p, len);
    name[len] = '\0';
    return 0;
}

#define BAD(fmt, ...) (ps->code = errbuf_set(ps->err, -EINVAL, fmt, __VA_ARGS__), 0)

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct parse_state *ps = user;
    struct config *cfg = ps->cfg;
    char name[API_NAME_MAX + 2];
    int r = 0;

    if (!key) /* a section header alone */
        return 1;

    if (strcmp(section, "server") == 0) {
        if (strcmp(key, "listen") == 0)
            r = copy_value(cfg->listen, sizeof(cfg->listen), value);
        else if (strcmp(key, "token_file") == 0)
            r = copy_value(cfg->token_file, sizeof(cfg->token_file), value);
        else if (strcmp(key, "max_body_bytes") == 0) {
            unsigned n;
            r = parse_uint(value, 1024, 16 << 20, &n);
            cfg->max_body_bytes = n;
        } else if (strcmp(key, "max_connections") == 0)
            r = parse_uint(value, 4, 10000, &cfg->max_connections);
        else if (strcmp(key, "max_sse_clients") == 0)
            r = parse_uint(value, 1, 10000, &cfg->max_sse_clients);
        else if (strcmp(key, "sse_heartbeat_s") == 0)
            r = parse_double(value, 0.05, 3600, &cfg->sse_heartbeat_s);
        else if (strcmp(key, "event_buffer") == 0)
            r = parse_uint(value, 16, 1000000, &cfg->event_buffer);
        else if (strcmp(key, "history_limit_max") == 0)
            r = parse_uint(value, 1, 100000, &cfg->history_limit_max);
        else if (strcmp(key, "api_local_sources") == 0)
            r = parse_bool(value, &cfg->api_local_sources);
        else
            return BAD("unknown key '%s' in [server]", key);
    } else if (strcmp(section, "daemon") == 0) {
        if (strcmp(key, "state_directory") == 0)
            r = copy_value(cfg->state_directory, sizeof(cfg->state_directory), value);
        else if (strcmp(key, "model") == 0)
            r = copy_value(cfg->model, sizeof(cfg->model), value);
        else if (strcmp(key, "pose_model") == 0)
            r = copy_value(cfg->pose_model, sizeof(cfg->pose_model), value);
        else if (strcmp(key, "log_level") == 0)
            r = log_level_parse(value, &cfg->log_level);
        else if (strcmp(key, "max_streams") == 0)
            r = parse_uint(value, 1, CONFIG_MAX_STREAMS, &cfg->max_streams);
        else if (strcmp(key, "hysteresis_s") == 0)
            r = parse_double(value, 0, 3600, &cfg->hysteresis_s);
        else if (strcmp(key, "camera_timeout_s") == 0)
            r = parse_double(value, 0.5, 600, &cfg->camera_timeout_s);
        else if (strcmp(key, "checkpoint_segments") == 0)
            r = parse_uint(value, 1, 1000000, &cfg->checkpoint_segments);
        else if (strcmp(key, "history_retention_days") == 0)
            r = parse_double(value, 0.0001, 36500, &cfg->history_retention_days);
        else if (strcmp(key, "top_k") == 0)
            r = parse_uint(value, 1, 5, &cfg->top_k);
        else if (strcmp(key, "restart_min_s") == 0)
            r = parse_double(value, 0.01, 3600, &cfg->restart_min_s);
        else if (strcmp(key, "restart_max_s") == 0)
            r = parse_double(value, 0.01, 86400, &cfg->restart_max_s);
        else if (strcmp(key, "max_people") == 0)
            r = parse_uint(value, 1, CONFIG_MAX_PEOPLE, &cfg->max_people);
        else if (strcmp(key, "multipose_side") == 0)
            r = parse_side(value, &cfg->multipose_side);
        else
            return BAD("unknown key '%s' in [daemon]", key);
    } else if ((r = stream_section_name(section, name, sizeof(name))) != -ENOENT) {
        struct config_stream *st;
        if (r < 0)
            return BAD("bad stream section [%s]: write [stream \"name\"]", section);
        r = stream_get(cfg, name, CONFIG_ORIGIN_FILE, &st, ps->err);
        if (r < 0) {
            ps->code = r;
            return 0;
        }
        if (strcmp(key, "url") == 0) {
            r = copy_value(st->url, sizeof(st->url), value);
        } else if (strcmp(key, "fps") == 0) {
            r = parse_double(value, 0, 60, &st->fps);
        } else if (strcmp(key, "enabled") == 0) {
            r = parse_bool(value, &st->enabled);
        } else if (strcmp(key, "pose_model") == 0) {
            r = copy_value(st->pose_model, sizeof(st->pose_model), value);
        } else if (strcmp(key, "max_people") == 0) {
            r = parse_uint(value, 1, CONFIG_MAX_PEOPLE, &st->max_people);
        } else if (strcmp(key, "multipose_side") == 0) {
            r = parse_side(value, &st->multipose_side);
        } else {
            return BAD("unknown key '%s' in [stream \"%s\"] (url, fps, enabled, pose_model, "
                       "max_people, multipose_side)",
                       key, name);
        }
    } else if (strcmp(section, "mqtt") == 0) {
        struct config_mqtt *m = &cfg->mqtt;
        if (strcmp(key, "host") == 0)
            r = copy_value(m->host, sizeof(m->host), value);
        else if (strcmp(key, "port") == 0)
            r = parse_uint(value, 1, 65535, &m->port);
        else if (strcmp(key, "client_id") == 0)
            r = copy_value(m->client_id, sizeof(m->client_id), value);
        else if (strcmp(key, "username") == 0)
            r = copy_value(m->username, sizeof(m->username), value);
        else if (strcmp(key, "password_file") == 0)
            r = copy_value(m->password_file, sizeof(m->password_file), value);
        else if (strcmp(key, "ca_file") == 0)
            r = copy_value(m->ca_file, sizeof(m->ca_file), value);
        else if (strcmp(key, "topic_prefix") == 0)
            r = topic_prefix_valid(value)
                    ? copy_value(m->topic_prefix, sizeof(m->topic_prefix), value)
                    : -EINVAL;
        else if (strcmp(key, "discovery_prefix") == 0)
            r = !value[0] || topic_prefix_valid(value)
                    ? copy_value(m->discovery_prefix, sizeof(m->discovery_prefix), value)
                    : -EINVAL;
        else if (strcmp(key, "qos") == 0)
            r = parse_uint(value, 0, 2, &m->qos);
        else if (strcmp(key, "keepalive_s") == 0)
            r = parse_uint(value, 5, 3600, &m->keepalive_s);
        else
            return BAD("unknown key '%s' in [mqtt] (host, port, client_id, username, "
                       "password_file, ca_file, topic_prefix, discovery_prefix, qos, keepalive_s)",
                       key);
    } else {
        return BAD("unknown section [%s] (server, daemon, mqtt, stream \"name\")", section);
    }
    if (r < 0 && strcmp(key, "multipose_side") == 0)
        return BAD("bad value '%.200s' for multipose_side: a multiple of 32 from 32 to 640", value);
    if (r < 0 && strcmp(key, "max_people") == 0)
        return BAD("bad value '%.200s' for max_people: 1 to %d", value, CONFIG_MAX_PEOPLE);
    if (r < 0)
        return BAD("bad value '%.200s' for %s", value, key);
    return 1;
}

static int load_one(struct config *cfg, const char *path, struct errbuf *err)
{
    struct parse_state ps = {.cfg = cfg, .err = err};
    FILE *f = fopen(path, "re");
    if (!f)
        return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
    int line = ini_parse_file(f, on_key, &ps);
    fclose(f);
    if (line == 0)
        return 0;
    if (line < 0)
        return errbuf_set(err, -EIO, "%s: cannot be read", path);
    if (ps.code == 0)
        return errbuf_set(err, -EINVAL, "%s:%d: syntax error (or a line too long)", path, line);
    char message[sizeof(err->msg)];
    str_copy(message, sizeof(message), err->msg);
    return errbuf_set(err, ps.code, "%s:%d: %s", path, line, message);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int config_load(struct config *cfg, const char *path, bool required, struct errbuf *err)
{
    char dir[PATH_MAX];
    int r;

    if (access(path, F_OK) < 0) {
        if (required)
            return errbuf_set(err, -ENOENT, "%s: %s", path, strerror(errno));
    } else if ((r = load_one(cfg, path, err)) < 0) {
        return r;
    }

    if (snprintf(dir, sizeof(dir), "%s.d", path) >= (int)sizeof(dir))
        return errbuf_set(err, -ENAMETOOLONG, "%s: path too long", path);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char **names = NULL;
    size_t n = 0;
    r = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0)
            continue;
        char **grown = realloc(names, (n + 1) * sizeof(*names));
        if (!grown || !(grown[n] = strdup(e->d_name))) {
            names = grown ? grown : names;
            r = -ENOMEM;
            break;
        }
        names = grown;
        n++;
    }
    closedir(d);
    if (r == 0)
        qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n && r == 0; i++) {
        char file[PATH_MAX];
        if (snprintf(file, sizeof(file), "%s/%s", dir, names[i]) >= (int)sizeof(file))
            r = errbuf_set(err, -ENAMETOOLONG, "%s/%s: path too long", dir, names[i]);
        else
            r = load_one(cfg, file, err);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return r;
}

int config_add_stream_arg(struct config *cfg, const char *arg, struct errbuf *err)
{
    const char *eq = strchr(arg, '=');
    char name[API_NAME_MAX];
    struct config_stream *st;
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(name) || !eq[1])
        return errbuf_set(err, -EINVAL, "--stream '%s': expected NAME=URL", arg);
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    if (config_find_stream(cfg, name))
        return errbuf_set(err, -EEXIST, "--stream '%s': stream '%s' is already defined", arg, name);
    int r = stream_get(cfg, name, CONFIG_ORIGIN_COMMAND, &st, err);
    if (r < 0)
        return r;
    if (str_copy(st->url, sizeof(st->url), eq + 1) < 0)
        return errbuf_set(err, -ENAMETOOLONG, "--stream '%s': URL too long", name);
    return 0;
}

int config_validate(const struct config *cfg, struct errbuf *err)
{
    for (size_t i = 0; i < cfg->n_streams; i++) {
        const struct config_stream *st = &cfg->streams[i];
        if (!st->url[0])
            return errbuf_set(err, -EINVAL, "stream '%s' has no url", st->name);
        if (st->pose_model[0] && access(st->pose_model, R_OK) < 0)
            return errbuf_set(err, -errno, "stream '%s': pose_model '%s': %s", st->name,
                              st->pose_model, strerror(errno));
    }
    if (cfg->n_streams > cfg->max_streams)
        return errbuf_set(err, -EINVAL, "%zu streams configured, max_streams is %u", cfg->n_streams,
                          cfg->max_streams);
    if (cfg->restart_max_s < cfg->restart_min_s)
        return errbuf_set(err, -EINVAL, "restart_max_s is below restart_min_s");
    if (cfg->max_sse_clients >= cfg->max_connections)
        return errbuf_set(err, -EINVAL,
                          "max_sse_clients (%u) must be below max_connections (%u), so that "
                          "event clients cannot take every connection",
                          cfg->max_sse_clients, cfg->max_connections);
    if (!cfg->state_directory[0])
        return errbuf_set(err, -EINVAL, "state_directory is empty");
    return 0;
}

int config_read_token(const char *path, char **ret_token, struct errbuf *err)
{
    char line[512];
    struct stat st;
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return errbuf_set(err, -errno, "token file %s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0004))
        return errbuf_set(err, -EPERM, "token file %s is readable by everyone (chmod 600 it)",
                          path);
    if (!fgets(line, sizeof(line), f))
        return errbuf_set(err, -EINVAL, "token file %s is empty", path);
    char *p = line;
    while (isspace((unsigned char)*p))
        p++;
    size_t len = strlen(p);
    while (len && isspace((unsigned char)p[len - 1]))
        p[--len] = '\0';
    if (len < 16)
        return errbuf_set(err, -EINVAL, "token file %s: the token is shorter than 16 characters",
                          path);
    char *token = strdup(p);
    if (!token)
        return -ENOMEM;
    *ret_token = token;
    return 0;
}
