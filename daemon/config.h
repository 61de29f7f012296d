/* config: crtd's configuration — an INI file a person edits (with comments),
 * drop-ins (FILE.d, files ending .conf) read in name order after it, and the command
 * line on top. docs/SERVICE.md is the reference of every key. */
#ifndef CRTD_CONFIG_H
#define CRTD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "pose.h"
#include "safety.h"
#include "video.h"

#define CONFIG_DEFAULT_FILE   "/etc/crtd/crtd.conf"
#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8470"
#define CONFIG_MAX_STREAMS    1024

enum config_origin {
    CONFIG_ORIGIN_FILE,    /* a [stream "name"] section */
    CONFIG_ORIGIN_COMMAND, /* --stream NAME=URL */
    CONFIG_ORIGIN_API,     /* POST /v1/streams (kept in the state store) */
};

#define CONFIG_MAX_PEOPLE 16

/* A stream's archive = key: unset (the [daemon] value), yes or no. */
enum config_archive {
    CONFIG_ARCHIVE_DEFAULT,
    CONFIG_ARCHIVE_YES,
    CONFIG_ARCHIVE_NO,
}; /* max_people is 1..this (PIPELINE_MAX_PEOPLE) */

/* ---- a stream's video options (config_video.c) ----
 * The [stream] keys and the POST /v1/streams fields of the same names over
 * struct video_options (docs/SERVICE.md, "Video options"); one table of
 * them serves the file, the API, the state store and the stream's JSON. */
struct config_video {
    enum video_transport transport;
    int max_side, threads;
    enum video_hwaccel hwaccel;
    char hw_device[64];       /* "": FFmpeg's default; else /dev/dri/renderD<N> or card<N> */
    char format[64];          /* "": probe */
    char ffmpeg_options[512]; /* of the allow-list (video_ffmpeg_options_check_safe) */
    double open_timeout_s;    /* 0: [daemon] camera_timeout_s */
    double read_timeout_s;    /* 0: [daemon] camera_timeout_s */
    double backoff_min_s, backoff_max_s, max_lag_s;
    enum video_skip skip_nonref;
    enum video_reconnect reconnect; /* auto: cameras reconnect, files loop */
    int motion_height, motion_dilation;
    double motion_threshold, motion_min_area, motion_background_rate;
    uint32_t set; /* bit i: the table's option i was given */
};

/* The defaults, which are the video library's. */
void config_video_init(struct config_video *v);

/* Sets option key from its text in the file: -ENOENT when key is no video
 * option, -EINVAL or -EPERM with a message naming the key and what it takes. */
int config_video_set(struct config_video *v, const char *key, const char *value,
                     struct errbuf *err);

/* The same from a JSON value of the API (numbers as numbers, the rest as
 * strings), the message naming the field. */
int config_video_set_json(struct config_video *v, const char *key, const json_t *value,
                          struct errbuf *err);

/* Sets every field of a JSON object (the API's, or the state store's) with
 * config_video_set_json, then config_video_check; NULL sets nothing. */
int config_video_set_object(struct config_video *v, const json_t *obj, struct errbuf *err);

/* What single options cannot check: backoff_max_s >= backoff_min_s. */
int config_video_check(const struct config_video *v, struct errbuf *err);

bool config_video_equal(const struct config_video *a, const struct config_video *b);

/* Every option and its value (given_only: only those given, as the state
 * store keeps them); timeouts left at 0 show as camera_timeout_s. */
json_t *config_video_json(const struct config_video *v, bool given_only, double camera_timeout_s);

/* The name of option i, NULL past the last (for the API's field list). */
const char *config_video_name(size_t i);

/* Fills *ret_opts (video_options_init first) from v; timeouts left at 0 get
 * camera_timeout_s. The strings point into v. */
void config_video_apply(const struct config_video *v, double camera_timeout_s,
                        struct video_options *ret_opts);

struct config_stream {
    char name[API_NAME_MAX];
    char url[API_URL_MAX];
    double fps; /* 0: the model's */
    bool enabled;
    enum config_origin origin;
    /* 0 or "": the [daemon] value */
    char pose_model[PATH_MAX];
    unsigned max_people;
    unsigned multipose_side;
    double still_pose_fps; /* only when still_pose_fps_set */
    bool still_pose_fps_set;
    /* Where the camera is (api_place_valid; "": not said): shown in the
     * API, /metrics, MQTT (room: Home Assistant's suggested area) and kept
     * with each history interval. */
    char site[API_NAME_MAX];
    char room[API_NAME_MAX];
    struct config_video video;
    /* The pose archive (docs/SERVICE.md); 0 / unset: the [daemon] value. */
    enum config_archive archive;
    double archive_retention_days;
    unsigned archive_max_mb;
};

/* zone.NAME = KIND x,y x,y ... in a [stream "NAME"] section (docs/SAFETY.md). */
struct config_zone {
    char stream[API_NAME_MAX];
    struct zone zone;
};

/* ---- rules ([rule "NAME"], docs/SAFETY.md "Rules"; kinds in rules.c) ---- */

enum rule_kind {
    RULE_FALL,           /* the fall detector confirmed a fall */
    RULE_ON_FLOOR,       /* lying outside a bed or seat zone for seconds */
    RULE_STILL,          /* in view and not moving for seconds */
    RULE_IN_ZONE_LONGER, /* in zone for longer than seconds */
    RULE_ABSENT,         /* nobody in the zone (or camera) between from and until */
    RULE_CAMERA_DOWN,    /* no frame for seconds */
    RULE_KIND_COUNT,
};

const char *rule_kind_name(enum rule_kind kind);
int rule_kind_parse(const char *text, enum rule_kind *ret_kind);
/* "HH:MM" or "HH:MM:SS" as seconds after midnight. */
int rule_time_parse(const char *text, int *ret_seconds);

#define RULE_MAX_WINDOWS 8

/* A time of day window, seconds after midnight; from > until runs past
 * midnight. */
struct rule_window {
    int from, until;
};

struct config_rule {
    char name[API_NAME_MAX];
    enum rule_kind kind;
    bool kind_set;
    char stream[API_NAME_MAX]; /* "": every stream */
    char zone[ZONE_NAME_MAX];  /* "": the whole image */
    double duration_s;         /* seconds or minutes; < 0: the kind's default */
    float motion;              /* still: most keypoint movement that is still */
    int from, until;           /* absent: the window, seconds after midnight; -1 unset */
    struct rule_window schedule[RULE_MAX_WINDOWS];
    unsigned n_schedule; /* 0: always */
};

/* Parses "HH:MM-HH:MM[, HH:MM-HH:MM ...]" into rule->schedule. */
int rule_schedule_parse(const char *text, struct config_rule *rule);

/* [webhook "NAME"]: alerts POSTed as JSON (docs/SAFETY.md "Webhooks"). */
#define WEBHOOK_MAX_RULES 16
struct config_webhook {
    char name[API_NAME_MAX];
    char url[API_URL_MAX];
    char rules[WEBHOOK_MAX_RULES][API_NAME_MAX]; /* none: every rule */
    unsigned n_rules;
    char secret[256]; /* HMAC-SHA256 key; "" unsigned */
    double timeout_s;
    unsigned max_attempts;
    double retry_min_s, retry_max_s;
    unsigned queue; /* deliveries waiting at most */
};

struct config {
    /* [server] */
    char listen[128];
    char token_file[PATH_MAX];
    size_t max_body_bytes;
    unsigned max_connections;
    unsigned max_sse_clients;
    double sse_heartbeat_s;
    unsigned event_buffer;
    unsigned history_limit_max;
    bool api_local_sources;  /* may POST /v1/streams name files and devices? */
    char cors_origins[1024]; /* pages that may read the API from a browser */
    /* [daemon] */
    char state_directory[PATH_MAX];
    char model[PATH_MAX];
    char pose_model[PATH_MAX];
    enum pose_isa pose_isa; /* the cap on the pose kernel sets (docs/POSE.md) */
    enum log_level log_level;
    unsigned max_streams;
    double hysteresis_s;
    double camera_timeout_s;
    unsigned checkpoint_segments;
    double history_retention_days;
    unsigned top_k;
    double restart_min_s, restart_max_s;
    unsigned max_people;     /* person tracks per stream (1..16, 6) */
    unsigned multipose_side; /* a multi-person model's input side (32..640, multiple of 32; 256) */
    double still_pose_fps;   /* pose rate on a still person in view (0..60, 2; 0: no gate) */
    bool archive;            /* keep a pose archive per stream (yes) */
    double archive_retention_days; /* its files last this long (7) */
    unsigned archive_max_mb;       /* and take at most this many MiB a stream (512) */
    char timezone[128]; /* a TZ database name for the rules' times of day; "": the system's */
    /* [mqtt] (docs/MQTT.md): off unless a broker host is set */
    struct config_mqtt {
        char host[256];
        unsigned port;
        char client_id[128]; /* default crtd-<hostname> */
        char username[128];
        char password_file[PATH_MAX];
        char ca_file[PATH_MAX];     /* set: TLS, checking the broker against it */
        char topic_prefix[128];     /* "": crtd/<client id>, one per instance */
        char discovery_prefix[128]; /* homeassistant; "" for no discovery */
        unsigned qos;
        unsigned keepalive_s;
        unsigned diagnostics_s; /* how often the diagnostic entities are updated (10) */
        bool privacy_switch;    /* may the broker pause cameras (P/<stream>/paused/set)? */
    } mqtt;
    /* [stream "name"] sections and --stream */
    struct config_stream *streams;
    size_t n_streams;
    /* zone.NAME keys of the [stream] sections, [rule "name"], [webhook "name"] */
    struct config_zone *zones;
    size_t n_zones;
    struct config_rule *rules;
    size_t n_rules;
    struct config_webhook *webhooks;
    size_t n_webhooks;
};

/* Defaults (state directory from $STATE_DIRECTORY, else /var/lib/crtd for
 * root, else ~/.local/state/crtd). */
void config_init(struct config *cfg);
void config_done(struct config *cfg);

/* Reads path and then the .conf files of path.d. A missing path is an error only when
 * required. Errors name the file and line. */
int config_load(struct config *cfg, const char *path, bool required, struct errbuf *err);

/* Adds a --stream NAME=URL. */
int config_add_stream_arg(struct config *cfg, const char *arg, struct errbuf *err);

/* Checks what single keys cannot: unique names, limits that fit together. */
int config_validate(const struct config *cfg, struct errbuf *err);

const struct config_stream *config_find_stream(const struct config *cfg, const char *name);

/* Reads a token file: its first line, without surrounding white space. */
int config_read_token(const char *path, char **ret_token, struct errbuf *err);

#endif
