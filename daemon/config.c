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
                 .topic_prefix = "", /* crtd/<client id>: see mqtt.c */
                 .discovery_prefix = "homeassistant",
                 .qos = 1,
                 .keepalive_s = 30,
                 .diagnostics_s = 10,
                 .privacy_switch = true},
        .hysteresis_s = 2.0,
        .camera_timeout_s = 10,
        .checkpoint_segments = 10,
        .history_retention_days = 30,
        .top_k = 3,
        .restart_min_s = 1,
        .restart_max_s = 60,
        .max_people = 6,
        .multipose_side = 256,
        .still_pose_fps = 2,
        .archive = true,
        .archive_retention_days = 7,
        .archive_max_mb = 512,
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
    free(cfg->zones);
    cfg->zones = NULL;
    cfg->n_zones = 0;
    free(cfg->rules);
    cfg->rules = NULL;
    cfg->n_rules = 0;
    free(cfg->webhooks);
    cfg->webhooks = NULL;
    cfg->n_webhooks = 0;
}

const struct config_stream *config_find_stream(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_streams; i++)
        if (strcmp(cfg->streams[i].name, name) == 0)
            return &cfg->streams[i];
    return NULL;
}

/* The pose archive's limits (docs/SERVICE.md, "The pose archive"). */
#define ARCHIVE_DAYS_MIN 0.0001
#define ARCHIVE_DAYS_MAX 36500.0
#define ARCHIVE_MB_MAX   1048576

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
    config_video_init(&st->video);
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

/* The name in a [WORD "name"] (or [WORD name]) section; -ENOENT when it is
 * no such section. */
static int named_section(const char *section, const char *word, char *name, size_t size)
{
    size_t wlen = strlen(word);
    if (strncmp(section, word, wlen) != 0 || !isspace((unsigned char)section[wlen]))
        return -ENOENT;
    const char *p = section + wlen;
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

/* An element of one of cfg's named lists (rules, webhooks), added when new. */
static void *named_get(void **list, size_t *n, size_t elem, const char *name, size_t name_size)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((char *)*list + i * elem, name) == 0)
            return (char *)*list + i * elem;
    if (*n >= CONFIG_MAX_STREAMS)
        return NULL;
    void *grown = realloc(*list, (*n + 1) * elem);
    if (!grown)
        return NULL;
    *list = grown;
    char *e = (char *)grown + (*n)++ * elem;
    memset(e, 0, elem);
    str_copy(e, name_size, name);
    return e;
}

/* zone.NAME = KIND x,y x,y ... of stream st. */
static int zone_key(struct parse_state *ps, const char *stream, const char *name, const char *value)
{
    struct config *cfg = ps->cfg;
    struct zone z = {0};
    char kind[16];
    if (!api_name_valid(name))
        return BAD("zone name '%.64s' (in zone.%.64s): use 1-63 letters, digits, '_', '-', '.'",
                   name, name);
    str_copy(z.name, sizeof(z.name), name);
    size_t klen = strcspn(value, " \t");
    if (klen >= sizeof(kind))
        klen = sizeof(kind) - 1;
    memcpy(kind, value, klen);
    kind[klen] = '\0';
    if (zone_kind_parse(kind, &z.kind) < 0)
        return BAD("zone.%s: unknown kind '%s' (bed, seat, floor, door, area, exclude)", name,
                   kind);
    struct errbuf e;
    errbuf_clear(&e);
    int r = zone_parse_points(&z, value + klen, &e);
    if (r < 0)
        return BAD("zone.%s: %s", name, errbuf_text(&e, r));
    struct config_zone *slot = NULL;
    for (size_t i = 0; i < cfg->n_zones && !slot; i++)
        if (strcmp(cfg->zones[i].stream, stream) == 0 && strcmp(cfg->zones[i].zone.name, name) == 0)
            slot = &cfg->zones[i];
    if (!slot) {
        struct config_zone *grown = realloc(cfg->zones, (cfg->n_zones + 1) * sizeof(*grown));
        if (!grown)
            return ps->code = -ENOMEM, 0;
        cfg->zones = grown;
        slot = &cfg->zones[cfg->n_zones++];
    }
    str_copy(slot->stream, sizeof(slot->stream), stream);
    slot->zone = z;
    return 1;
}

static int rule_key(struct parse_state *ps, const char *name, const char *key, const char *value)
{
    struct config *cfg = ps->cfg;
    struct config_rule *rule =
        named_get((void **)&cfg->rules, &cfg->n_rules, sizeof(*rule), name, API_NAME_MAX);
    if (!rule)
        return ps->code = -ENOMEM, 0;
    if (!rule->kind_set && rule->from == 0 && rule->until == 0 && rule->duration_s == 0) {
        rule->from = rule->until = -1;
        rule->duration_s = -1;
    }
    double d;
    int r = 0;
    if (strcmp(key, "kind") == 0) {
        if (rule_kind_parse(value, &rule->kind) < 0)
            return BAD("[rule \"%s\"] kind: unknown kind '%.64s' (fall, on_floor, still, "
                       "in_zone_longer, absent, camera_down)",
                       name, value);
        rule->kind_set = true;
    } else if (strcmp(key, "stream") == 0) {
        if (!api_name_valid(value))
            return BAD("[rule \"%s\"] stream: '%.64s' is not a stream name", name, value);
        str_copy(rule->stream, sizeof(rule->stream), value);
    } else if (strcmp(key, "zone") == 0) {
        if (!api_name_valid(value))
            return BAD("[rule \"%s\"] zone: '%.64s' is not a zone name", name, value);
        str_copy(rule->zone, sizeof(rule->zone), value);
    } else if (strcmp(key, "seconds") == 0 || strcmp(key, "minutes") == 0) {
        if (parse_double(value, 0, 7 * 86400, &d) < 0)
            return BAD("[rule \"%s\"] %s: bad value '%.64s' (a number of %s)", name, key, value,
                       key);
        rule->duration_s = key[0] == 'm' ? d * 60 : d;
    } else if (strcmp(key, "motion") == 0) {
        if (parse_double(value, 0, 1, &d) < 0)
            return BAD("[rule \"%s\"] motion: bad value '%.64s' (0 to 1, of the image)", name,
                       value);
        rule->motion = (float)d;
    } else if (strcmp(key, "from") == 0 || strcmp(key, "until") == 0) {
        if (rule_time_parse(value, key[0] == 'f' ? &rule->from : &rule->until) < 0)
            return BAD("[rule \"%s\"] %s: '%.64s' is not a time of day (HH:MM)", name, key, value);
    } else if (strcmp(key, "schedule") == 0) {
        if (rule_schedule_parse(value, rule) < 0)
            return BAD("[rule \"%s\"] schedule: '%.64s' is not a list of HH:MM-HH:MM", name, value);
    } else {
        return BAD("unknown key '%s' in [rule \"%s\"] (kind, stream, zone, seconds, minutes, "
                   "motion, from, until, schedule)",
                   key, name);
    }
    return r < 0 ? 0 : 1;
}

static int webhook_key(struct parse_state *ps, const char *name, const char *key, const char *value)
{
    struct config *cfg = ps->cfg;
    struct config_webhook *w =
        named_get((void **)&cfg->webhooks, &cfg->n_webhooks, sizeof(*w), name, API_NAME_MAX);
    if (!w)
        return ps->code = -ENOMEM, 0;
    if (!w->max_attempts) {
        w->timeout_s = 5;
        w->max_attempts = 8;
        w->retry_min_s = 1;
        w->retry_max_s = 300;
        w->queue = 1000;
    }
    int r = 0;
    if (strcmp(key, "url") == 0) {
        if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
            return BAD("[webhook \"%s\"] url: '%.200s' is not an http:// or https:// URL", name,
                       value);
        r = copy_value(w->url, sizeof(w->url), value);
    } else if (strcmp(key, "rules") == 0) {
        char buf[1024];
        w->n_rules = 0;
        str_copy(buf, sizeof(buf), value);
        char *save = NULL;
        for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
            if (!api_name_valid(t) || w->n_rules >= WEBHOOK_MAX_RULES)
                return BAD("[webhook \"%s\"] rules: '%.64s' is not a rule name (or more than "
                           "%d)",
                           name, t, WEBHOOK_MAX_RULES);
            str_copy(w->rules[w->n_rules++], API_NAME_MAX, t);
        }
    } else if (strcmp(key, "secret") == 0) {
        r = copy_value(w->secret, sizeof(w->secret), value);
    } else if (strcmp(key, "timeout_s") == 0) {
        r = parse_double(value, 0.1, 300, &w->timeout_s);
    } else if (strcmp(key, "max_attempts") == 0) {
        r = parse_uint(value, 1, 1000, &w->max_attempts);
    } else if (strcmp(key, "retry_min_s") == 0) {
        r = parse_double(value, 0.01, 3600, &w->retry_min_s);
    } else if (strcmp(key, "retry_max_s") == 0) {
        r = parse_double(value, 0.01, 86400, &w->retry_max_s);
    } else if (strcmp(key, "queue") == 0) {
        r = parse_uint(value, 1, 1000000, &w->queue);
    } else {
        return BAD("unknown key '%s' in [webhook \"%s\"] (url, rules, secret, timeout_s, "
                   "max_attempts, retry_min_s, retry_max_s, queue)",
                   key, name);
    }
    if (r < 0)
        return BAD("[webhook \"%s\"] bad value '%.200s' for %s", name, value, key);
    return 1;
}

/* A time zone of the TZ database: a file under $TZDIR or /usr/share/zoneinfo. */
static int timezone_check(const char *name)
{
    char path[PATH_MAX];
    const char *dir = getenv("TZDIR");
    if (!name[0] || name[0] == '/' || strstr(name, ".."))
        return -EINVAL;
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -ENOENT;
}

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
        else if (strcmp(key, "cors_origins") == 0)
            r = copy_value(cfg->cors_origins, sizeof(cfg->cors_origins), value);
        else
            return BAD("unknown key '%s' in [server]", key);
    } else if (strcmp(section, "daemon") == 0) {
        if (strcmp(key, "state_directory") == 0)
            r = copy_value(cfg->state_directory, sizeof(cfg->state_directory), value);
        else if (strcmp(key, "model") == 0)
            r = copy_value(cfg->model, sizeof(cfg->model), value);
        else if (strcmp(key, "pose_model") == 0)
            r = copy_value(cfg->pose_model, sizeof(cfg->pose_model), value);
        else if (strcmp(key, "pose_isa") == 0)
            r = pose_isa_parse(value, &cfg->pose_isa);
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
        else if (strcmp(key, "still_pose_fps") == 0)
            r = parse_double(value, 0, 60, &cfg->still_pose_fps);
        else if (strcmp(key, "archive") == 0)
            r = parse_bool(value, &cfg->archive);
        else if (strcmp(key, "archive_retention_days") == 0)
            r = parse_double(value, ARCHIVE_DAYS_MIN, ARCHIVE_DAYS_MAX,
                             &cfg->archive_retention_days);
        else if (strcmp(key, "archive_max_mb") == 0)
            r = parse_uint(value, 1, ARCHIVE_MB_MAX, &cfg->archive_max_mb);
        else if (strcmp(key, "timezone") == 0) {
            if (timezone_check(value) < 0)
                return BAD("timezone: '%.128s' is not a time zone of the TZ database (e.g. "
                           "Europe/Paris, UTC)",
                           value);
            r = copy_value(cfg->timezone, sizeof(cfg->timezone), value);
        } else
            return BAD("unknown key '%s' in [daemon]", key);
    } else if ((r = named_section(section, "rule", name, sizeof(name))) != -ENOENT) {
        if (r < 0 || !api_name_valid(name))
            return BAD("bad rule section [%s]: write [rule \"name\"]", section);
        return rule_key(ps, name, key, value);
    } else if ((r = named_section(section, "webhook", name, sizeof(name))) != -ENOENT) {
        if (r < 0 || !api_name_valid(name))
            return BAD("bad webhook section [%s]: write [webhook \"name\"]", section);
        return webhook_key(ps, name, key, value);
    } else if ((r = named_section(section, "stream", name, sizeof(name))) != -ENOENT) {
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
        } else if (strcmp(key, "still_pose_fps") == 0) {
            r = parse_double(value, 0, 60, &st->still_pose_fps);
            st->still_pose_fps_set = r >= 0;
        } else if (strcmp(key, "site") == 0 || strcmp(key, "room") == 0) {
            if (!api_place_valid(value))
                return BAD("[stream \"%s\"] %s: '%.200s' is not a place name (1-63 bytes, no "
                           "control characters or surrounding spaces)",
                           name, key, value);
            r = copy_value(key[0] == 's' ? st->site : st->room, sizeof(st->site), value);
        } else if (strcmp(key, "archive") == 0) {
            bool on = false;
            r = parse_bool(value, &on);
            if (r >= 0)
                st->archive = on ? CONFIG_ARCHIVE_YES : CONFIG_ARCHIVE_NO;
        } else if (strcmp(key, "archive_retention_days") == 0) {
            r = parse_double(value, ARCHIVE_DAYS_MIN, ARCHIVE_DAYS_MAX,
                             &st->archive_retention_days);
        } else if (strcmp(key, "archive_max_mb") == 0) {
            r = parse_uint(value, 1, ARCHIVE_MB_MAX, &st->archive_max_mb);
        } else if (strncmp(key, "zone.", 5) == 0) {
            return zone_key(ps, name, key + 5, value);
        } else if ((r = config_video_set(&st->video, key, value, ps->err)) != -ENOENT) {
            if (r < 0)
                ps->code = r;
            return r < 0 ? 0 : 1;
        } else {
            return BAD("unknown key '%s' in [stream \"%s\"] (url, fps, enabled, pose_model, "
                       "max_people, multipose_side, still_pose_fps, site, room, archive, "
                       "archive_retention_days, archive_max_mb, zone.NAME, and the video options "
                       "of docs/SERVICE.md: transport, max_side, ...)",
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
        else if (strcmp(key, "diagnostics_s") == 0)
            r = parse_uint(value, 1, 3600, &m->diagnostics_s);
        else if (strcmp(key, "privacy_switch") == 0)
            r = parse_bool(value, &m->privacy_switch);
        else
            return BAD("unknown key '%s' in [mqtt] (host, port, client_id, username, "
                       "password_file, ca_file, topic_prefix, discovery_prefix, qos, keepalive_s, "
                       "diagnostics_s, privacy_switch)",
                       key);
    } else {
        return BAD("unknown section [%s] (server, daemon, mqtt, stream \"name\", rule \"name\", "
                   "webhook \"name\")",
                   section);
    }
    if (r < 0 && strcmp(key, "multipose_side") == 0)
        return BAD("bad value '%.200s' for multipose_side: a multiple of 32 from 32 to 640", value);
    if (r < 0 && strcmp(key, "still_pose_fps") == 0)
        return BAD("bad value '%.200s' for still_pose_fps: 0 (no motion gate) to 60", value);
    if (r < 0 && strcmp(key, "archive_retention_days") == 0)
        return BAD("bad value '%.200s' for archive_retention_days: %g to %g days", value,
                   ARCHIVE_DAYS_MIN, ARCHIVE_DAYS_MAX);
    if (r < 0 && strcmp(key, "archive_max_mb") == 0)
        return BAD("bad value '%.200s' for archive_max_mb: 1 to %d MiB", value, ARCHIVE_MB_MAX);
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
        struct errbuf e;
        errbuf_clear(&e);
        int r = config_video_check(&st->video, &e);
        if (r < 0)
            return errbuf_set(err, r, "stream '%s': %s", st->name, errbuf_text(&e, r));
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
    struct api_cors cors;
    int rc = api_cors_parse(cfg->cors_origins, cfg->token_file[0] != '\0', &cors, err);
    if (rc < 0)
        return rc;
    api_cors_done(&cors);
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const struct config_rule *rule = &cfg->rules[i];
        if (!rule->kind_set)
            return errbuf_set(err, -EINVAL, "[rule \"%s\"] has no kind", rule->name);
        if (rule->kind == RULE_IN_ZONE_LONGER && !rule->zone[0])
            return errbuf_set(err, -EINVAL, "[rule \"%s\"] (in_zone_longer) needs zone",
                              rule->name);
        if (rule->kind == RULE_ABSENT && (rule->from < 0 || rule->until < 0))
            return errbuf_set(err, -EINVAL, "[rule \"%s\"] (absent) needs from and until",
                              rule->name);
        if (rule->zone[0] && rule->stream[0]) {
            bool found = false;
            for (size_t j = 0; j < cfg->n_zones && !found; j++)
                found = strcmp(cfg->zones[j].stream, rule->stream) == 0 &&
                        strcmp(cfg->zones[j].zone.name, rule->zone) == 0;
            if (!found)
                log_notice("[rule \"%s\"]: stream %s has no zone '%s' in the configuration "
                           "(yet: the API may add it)",
                           rule->name, rule->stream, rule->zone);
        }
    }
    for (size_t i = 0; i < cfg->n_webhooks; i++) {
        const struct config_webhook *w = &cfg->webhooks[i];
        if (!w->url[0])
            return errbuf_set(err, -EINVAL, "[webhook \"%s\"] has no url", w->name);
        if (w->retry_max_s < w->retry_min_s)
            return errbuf_set(err, -EINVAL, "[webhook \"%s\"] retry_max_s is below retry_min_s",
                              w->name);
        for (unsigned j = 0; j < w->n_rules; j++) {
            bool found = false;
            for (size_t k = 0; k < cfg->n_rules && !found; k++)
                found = strcmp(cfg->rules[k].name, w->rules[j]) == 0;
            if (!found)
                return errbuf_set(err, -EINVAL, "[webhook \"%s\"] rules: no rule '%s'", w->name,
                                  w->rules[j]);
        }
    }
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
