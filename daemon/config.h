/* config: crtd's configuration — an INI file a person edits (with comments),
 * drop-ins (FILE.d, files ending .conf) read in name order after it, and the command
 * line on top. docs/SERVICE.md is the reference of every key. */
#ifndef CRTD_CONFIG_H
#define CRTD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "api.h"

#define CONFIG_DEFAULT_FILE   "/etc/crtd/crtd.conf"
#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8470"
#define CONFIG_MAX_STREAMS    1024

enum config_origin {
    CONFIG_ORIGIN_FILE,    /* a [stream "name"] section */
    CONFIG_ORIGIN_COMMAND, /* --stream NAME=URL */
    CONFIG_ORIGIN_API,     /* POST /v1/streams (kept in the state store) */
};

#define CONFIG_MAX_PEOPLE 16 /* max_people is 1..this (PIPELINE_MAX_PEOPLE) */

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
    bool api_local_sources; /* may POST /v1/streams name files and devices? */
    /* [daemon] */
    char state_directory[PATH_MAX];
    char model[PATH_MAX];
    char pose_model[PATH_MAX];
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
    /* [mqtt] (docs/MQTT.md): off unless a broker host is set */
    struct config_mqtt {
        char host[256];
        unsigned port;
        char client_id[128]; /* default crtd-<hostname> */
        char username[128];
        char password_file[PATH_MAX];
        char ca_file[PATH_MAX];     /* set: TLS, checking the broker against it */
        char topic_prefix[128];     /* crtd */
        char discovery_prefix[128]; /* homeassistant; "" for no discovery */
        unsigned qos;
        unsigned keepalive_s;
    } mqtt;
    /* [stream "name"] sections and --stream */
    struct config_stream *streams;
    size_t n_streams;
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
