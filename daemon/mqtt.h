/* mqtt: every stream's activity, published to an MQTT broker for home
 * automation (docs/MQTT.md), with Home Assistant discovery: a device per
 * camera, via a device for the crtd instance.
 *
 * The client follows crtd's own event log (the one /v1/events serves), so
 * no camera thread ever waits for the broker: it keeps the last activity and
 * state of each stream, publishes changes as they come, and on every
 * (re)connection publishes "online" and all it knows again. libmosquitto's
 * thread connects, reconnects with backoff, holds the last will and takes
 * the privacy switch's commands. Every topic is under the instance's own
 * prefix, so that several instances share a broker. */
#ifndef CRTD_DAEMON_MQTT_H
#define CRTD_DAEMON_MQTT_H

#include <jansson.h>

#include "api.h"
#include "config.h"

struct mqtt;

/* What the client asks of the daemon. */
struct mqtt_hooks {
    json_t *classes; /* the model's class names (borrowed; the client keeps a reference) */
    /* Pauses or resumes a stream (the privacy switch); runs on libmosquitto's thread. */
    int (*pause)(void *userdata, const char *stream, bool paused, struct errbuf *err);
    /* GET /v1/streams' body, for the diagnostic entities (a new reference). */
    int (*streams_json)(void *userdata, json_t **ret_json);
    void *userdata;
};

/* Starts the client when cfg->host is set (*ret_mqtt stays NULL otherwise).
 * streams is GET /v1/streams' "streams" array (borrowed), taken after event
 * after_id: what to publish first; the events after that id follow. alerts
 * (borrowed) are the open alerts then, as the API shows them: their falls
 * turn the cameras' safety sensors on. Fails only on a configuration
 * that cannot work (an unreadable password file, a bad CA file); a broker that is down is not an
 * error: the client keeps trying. */
int mqtt_start(const struct config_mqtt *cfg, const struct mqtt_hooks *hooks,
               struct api_events *events, uint64_t after_id, json_t *streams, json_t *alerts,
               struct mqtt **ret_mqtt, struct errbuf *err);
/* Another model serves (SIGHUP): the activity sensors' discovery again, with
 * its classes (borrowed). Does nothing for NULL. */
void mqtt_set_classes(struct mqtt *mqtt, json_t *classes);
/* Publishes "offline", disconnects and stops. */
struct mqtt *mqtt_stop(struct mqtt *mqtt);

/* {"state": "connecting" | "connected" | "disconnected", "broker", "error",
 * "reconnects", "published", "commands", "prefix"}, or {"state":
 * "disabled"} for NULL. */
json_t *mqtt_status_json(struct mqtt *mqtt);
/* crtd_mqtt_* lines for /metrics (nothing for NULL). */
void mqtt_metrics(struct mqtt *mqtt, struct api_text *out);

#endif
