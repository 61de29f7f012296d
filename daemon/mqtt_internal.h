/* mqtt_internal: what the MQTT client's files share — the client, what it
 * knows of each stream, and its topics (mqtt.c: the connection, crtd's
 * events, the privacy switch's commands; mqtt_discovery.c: Home
 * Assistant's discovery payloads). */
#ifndef CRTD_DAEMON_MQTT_INTERNAL_H
#define CRTD_DAEMON_MQTT_INTERNAL_H

#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>

#include "mqtt.h"

#define MQTT_MAX_FALLS 16
#define MQTT_TOPIC_MAX 800

/* What the client knows of one stream: the payloads it last published. */
struct known {
    char name[API_NAME_MAX];
    char site[API_NAME_MAX], room[API_NAME_MAX]; /* "": none */
    char *activity;                              /* JSON text, or NULL before the first */
    char *state;
    char *diagnostics;
    bool running;                  /* the camera delivers frames: its availability is online */
    bool paused;                   /* the privacy switch is on */
    long long people;              /* in view; -1 before the first */
    int64_t falls[MQTT_MAX_FALLS]; /* fall alerts active or acknowledged: "safety" is on */
    unsigned n_falls;
};

enum mqtt_state { MQTT_CONNECTING, MQTT_CONNECTED, MQTT_DISCONNECTED };

struct mqtt {
    struct config_mqtt cfg;
    struct mqtt_hooks hooks;
    struct mosquitto *mosq;
    struct api_events *events;
    pthread_t thread;
    atomic_bool stopping;
    uint64_t after_id; /* the event the streams given to mqtt_start are as of */
    char node_id[128]; /* the client id as Home Assistant ids allow: the instance */
    char prefix[160];  /* topic_prefix, or crtd/<node_id> */
    char status_topic[200];

    pthread_mutex_t lock; /* guards everything below */
    enum mqtt_state state;
    char error[256];
    uint64_t reconnects, published, commands;
    bool was_connected;
    json_t *classes; /* the model's class names */
    struct known *streams;
    size_t n_streams;
};

/* Publishes payload (NULL: empty, which removes a retained message). */
void mqtt_publish(struct mqtt *m, const char *topic, const char *payload, bool retain);
/* <prefix>/<stream>/<what>. */
void mqtt_stream_topic(const struct mqtt *m, char *dst, size_t size, const char *stream,
                       const char *what);
/* Home Assistant ids: letters, digits, '_' and '-' only. */
void mqtt_ha_id(char *dst, size_t size, const char *text);

/* ---- Home Assistant discovery (mqtt_discovery.c, docs/MQTT.md) ---- */

/* The crtd host's device: the one every camera's device is via. */
void mqtt_discovery_host(struct mqtt *m);
/* Every entity of a camera's device, with the classes of its activity
 * sensor; remove empties them instead (the stream is gone). k is a copy
 * the caller owns. */
void mqtt_discovery_stream(struct mqtt *m, const struct known *k, json_t *classes, bool remove);

#endif
