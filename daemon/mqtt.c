/* mqtt: see mqtt.h. Topics (prefix "crtd" by default):
 *   crtd/status                    online / offline (retained; offline is the will)
 *   crtd/<stream>/activity         the activity JSON of /v1/streams/<stream>/activity (retained)
 *   crtd/<stream>/state            {"state", "error", "reconnects"} (retained)
 *   crtd/<stream>/people           how many people are in view, e.g. "2" (retained)
 *   homeassistant/sensor/<node>/<stream>/config   discovery (retained; emptied on removal)
 *   homeassistant/sensor/<node>/<stream>_people/config   the person-count sensor's */
#include "mqtt.h"

#include <ctype.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#ifndef CRTD_VERSION
#define CRTD_VERSION "0"
#endif

#define MQTT_MAX_FALLS 16

enum mqtt_state { MQTT_CONNECTING, MQTT_CONNECTED, MQTT_DISCONNECTED };
static const char *const state_names[] = {"connecting", "connected", "disconnected"};

/* What the client knows of one stream: the payloads it last published. */
struct known {
    char name[API_NAME_MAX];
    char *activity; /* JSON text, or NULL before the first */
    char *state;
    long long people;              /* in view; -1 before the first */
    int64_t falls[MQTT_MAX_FALLS]; /* fall alerts active or acknowledged: "safety" is on */
    unsigned n_falls;
};

struct mqtt {
    struct config_mqtt cfg;
    struct mosquitto *mosq;
    struct api_events *events;
    pthread_t thread;
    atomic_bool stopping;
    uint64_t after_id; /* the event the streams given to mqtt_start are as of */
    char node_id[128]; /* the client id as Home Assistant ids allow */
    char status_topic[160];

    pthread_mutex_t lock; /* guards everything below */
    enum mqtt_state state;
    char error[256];
    uint64_t reconnects, published;
    bool was_connected;
    struct known *streams;
    size_t n_streams;
};

/* ---- publishing ------------------------------------------------------------ */

static void publish(struct mqtt *m, const char *topic, const char *payload, bool retain)
{
    size_t len = payload ? strlen(payload) : 0;
    int rc = mosquitto_publish(m->mosq, NULL, topic, (int)len, payload, (int)m->cfg.qos, retain);
    if (rc == MOSQ_ERR_SUCCESS) {
        pthread_mutex_lock(&m->lock);
        m->published++;
        pthread_mutex_unlock(&m->lock);
    }
    /* Not connected: the payload is kept in struct known and published again
     * on the next connection. */
}

static void stream_topic(const struct mqtt *m, char *dst, size_t size, const char *stream,
                         const char *what)
{
    snprintf(dst, size, "%s/%s/%s", m->cfg.topic_prefix, stream, what);
}

/* Home Assistant ids: letters, digits, '_' and '-' only. */
static void ha_id(char *dst, size_t size, const char *text)
{
    size_t i = 0;
    for (; text[i] && i + 1 < size; i++)
        dst[i] = isalnum((unsigned char)text[i]) || text[i] == '-' ? text[i] : '_';
    dst[i] = '\0';
}

/* suffix "" for the activity sensor, "_people" for the person count. */
static void discovery_topic(const struct mqtt *m, char *dst, size_t size, const char *stream,
                            const char *suffix)
{
    char object[API_NAME_MAX];
    ha_id(object, sizeof(object), stream);
    snprintf(dst, size, "%s/sensor/%s/%s%s/config", m->cfg.discovery_prefix, m->node_id, object,
             suffix);
}

/* The safety entities of a camera (docs/MQTT.md): two binary sensors and an
 * event entity, each a component, an id suffix and its device class. */
static const struct {
    const char *component, *suffix, *device_class, *what;
} safety_entities[] = {
    {"binary_sensor", "_safety", "safety", "safety"},
    {"binary_sensor", "_occupancy", "occupancy", "occupancy"},
    {"event", "_alert", NULL, "alert"},
};

static void safety_discovery_topic(const struct mqtt *m, char *dst, size_t size, const char *stream,
                                   size_t e)
{
    char object[API_NAME_MAX];
    ha_id(object, sizeof(object), stream);
    snprintf(dst, size, "%s/%s/%s/%s%s/config", m->cfg.discovery_prefix,
             safety_entities[e].component, m->node_id, object, safety_entities[e].suffix);
}

static char *safety_discovery_config(const struct mqtt *m, const char *stream, size_t e)
{
    char object[API_NAME_MAX], unique[300], topic[400], name[128];
    ha_id(object, sizeof(object), stream);
    snprintf(unique, sizeof(unique), "%s_%s%s", m->node_id, object, safety_entities[e].suffix);
    stream_topic(m, topic, sizeof(topic), stream, safety_entities[e].what);
    snprintf(name, sizeof(name), "%s %s", stream, safety_entities[e].what);
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:[s], s:s, s:s, s:s, s:s}}", "name", name,
                  "unique_id", unique, "state_topic", topic, "availability_topic", m->status_topic,
                  "payload_available", "online", "payload_not_available", "offline", "device",
                  "identifiers", m->node_id, "name", m->node_id, "manufacturer", "crtd", "model",
                  "activity recognition (Toyota Smarthome classes)", "sw_version", CRTD_VERSION);
    if (j && safety_entities[e].device_class) {
        json_object_set_new(j, "device_class", json_string(safety_entities[e].device_class));
        json_object_set_new(j, "payload_on", json_string("ON"));
        json_object_set_new(j, "payload_off", json_string("OFF"));
    }
    if (j && !safety_entities[e].device_class) {
        json_object_set_new(
            j, "event_types",
            json_pack("[s, s, s, s]", "raised", "confirmed", "acknowledged", "cleared"));
        json_object_set_new(j, "icon", json_string("mdi:alarm-light"));
    }
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

static void publish_flag(struct mqtt *m, const char *name, const char *what, bool on)
{
    char topic[400];
    stream_topic(m, topic, sizeof(topic), name, what);
    publish(m, topic, on ? "ON" : "OFF", true);
}

/* The person-count sensor of a camera, on the same device. */
static char *discovery_people_config(const struct mqtt *m, const char *stream)
{
    char object[API_NAME_MAX], unique[300], topic[400], name[128];
    ha_id(object, sizeof(object), stream);
    snprintf(unique, sizeof(unique), "%s_%s_people", m->node_id, object);
    stream_topic(m, topic, sizeof(topic), stream, "people");
    snprintf(name, sizeof(name), "%s people", stream);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:[s], s:s, s:s, s:s, "
        "s:s}}",
        "name", name, "unique_id", unique, "state_topic", topic, "unit_of_measurement", "people",
        "state_class", "measurement", "availability_topic", m->status_topic, "payload_available",
        "online", "payload_not_available", "offline", "icon", "mdi:account-group", "device",
        "identifiers", m->node_id, "name", m->node_id, "manufacturer", "crtd", "model",
        "activity recognition (Toyota Smarthome classes)", "sw_version", CRTD_VERSION);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

static void publish_people(struct mqtt *m, const char *name, long long people)
{
    char topic[400], text[32];
    stream_topic(m, topic, sizeof(topic), name, "people");
    snprintf(text, sizeof(text), "%lld", people);
    publish(m, topic, text, true);
    publish_flag(m, name, "occupancy", people > 0);
}

static char *discovery_config(const struct mqtt *m, const char *stream)
{
    char object[API_NAME_MAX], unique[300], activity[400], name[128];
    ha_id(object, sizeof(object), stream);
    snprintf(unique, sizeof(unique), "%s_%s", m->node_id, object);
    stream_topic(m, activity, sizeof(activity), stream, "activity");
    snprintf(name, sizeof(name), "%s activity", stream);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:[s], s:s, s:s, s:s, s:s}}", "name",
        name, "unique_id", unique, "state_topic", activity, "value_template",
        "{{ value_json.label if value_json.label else value_json.state }}", "json_attributes_topic",
        activity, "availability_topic", m->status_topic, "payload_available", "online",
        "payload_not_available", "offline", "icon", "mdi:human", "device", "identifiers",
        m->node_id, "name", m->node_id, "manufacturer", "crtd", "model",
        "activity recognition (Toyota Smarthome classes)", "sw_version", CRTD_VERSION);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

/* Publishes all that is known of one stream (payloads copied by the caller). */
static void publish_stream(struct mqtt *m, const char *name, const char *activity,
                           const char *state, long long people, bool fall)
{
    char topic[400];
    if (m->cfg.discovery_prefix[0]) {
        for (size_t e = 0; e < ARRAY_SIZE(safety_entities); e++) {
            char *config = safety_discovery_config(m, name, e);
            safety_discovery_topic(m, topic, sizeof(topic), name, e);
            if (config)
                publish(m, topic, config, true);
            free(config);
        }
        char *config = discovery_config(m, name);
        discovery_topic(m, topic, sizeof(topic), name, "");
        if (config)
            publish(m, topic, config, true);
        free(config);
        config = discovery_people_config(m, name);
        discovery_topic(m, topic, sizeof(topic), name, "_people");
        if (config)
            publish(m, topic, config, true);
        free(config);
    }
    if (people >= 0)
        publish_people(m, name, people);
    publish_flag(m, name, "safety", fall);
    if (state) {
        stream_topic(m, topic, sizeof(topic), name, "state");
        publish(m, topic, state, true);
    }
    if (activity) {
        stream_topic(m, topic, sizeof(topic), name, "activity");
        publish(m, topic, activity, true);
    }
}

/* A removed stream leaves no retained message behind. */
static void unpublish_stream(struct mqtt *m, const char *name)
{
    char topic[400];
    if (m->cfg.discovery_prefix[0]) {
        discovery_topic(m, topic, sizeof(topic), name, "");
        publish(m, topic, NULL, true);
        discovery_topic(m, topic, sizeof(topic), name, "_people");
        publish(m, topic, NULL, true);
        for (size_t e = 0; e < ARRAY_SIZE(safety_entities); e++) {
            safety_discovery_topic(m, topic, sizeof(topic), name, e);
            publish(m, topic, NULL, true);
        }
    }
    stream_topic(m, topic, sizeof(topic), name, "safety");
    publish(m, topic, NULL, true);
    stream_topic(m, topic, sizeof(topic), name, "occupancy");
    publish(m, topic, NULL, true);
    stream_topic(m, topic, sizeof(topic), name, "state");
    publish(m, topic, NULL, true);
    stream_topic(m, topic, sizeof(topic), name, "people");
    publish(m, topic, NULL, true);
    stream_topic(m, topic, sizeof(topic), name, "activity");
    publish(m, topic, NULL, true);
}

/* ---- what is known of the streams (lock held) ----------------------------- */

static struct known *known_find_locked(struct mqtt *m, const char *name, bool add)
{
    for (size_t i = 0; i < m->n_streams; i++)
        if (strcmp(m->streams[i].name, name) == 0)
            return &m->streams[i];
    if (!add)
        return NULL;
    struct known *grown = realloc(m->streams, (m->n_streams + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    m->streams = grown;
    struct known *k = &m->streams[m->n_streams++];
    *k = (struct known){.people = -1};
    str_copy(k->name, sizeof(k->name), name);
    return k;
}

static void known_forget_locked(struct mqtt *m, const char *name)
{
    struct known *k = known_find_locked(m, name, false);
    if (!k)
        return;
    free(k->activity);
    free(k->state);
    size_t i = (size_t)(k - m->streams);
    memmove(k, k + 1, (m->n_streams - i - 1) * sizeof(*k));
    m->n_streams--;
}

static void known_set(char **slot, json_t *payload)
{
    char *text = payload ? json_dumps(payload, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    if (text) {
        free(*slot);
        *slot = text;
    }
}

static json_t *state_payload(json_t *from)
{
    return json_pack("{s:O?, s:O?, s:O?}", "state", json_object_get(from, "state"), "error",
                     json_object_get(from, "error"), "reconnects",
                     json_object_get(from, "reconnects"));
}

/* The activity as /v1/streams/<name>/activity gives it (an event adds
 * "previous", which a retained message has no use for). */
static json_t *activity_payload(json_t *from)
{
    json_t *copy = json_copy(from);
    if (copy)
        json_object_del(copy, "previous");
    return copy;
}

/* ---- following crtd's events ---------------------------------------------- */

/* Whether an alert makes its camera's "safety" sensor on: a fall that is
 * active or acknowledged (a pending one is not confirmed yet). Returns
 * whether the sensor changed (lock held). */
static bool falls_update_locked(struct known *k, json_t *alert)
{
    const char *kind = json_string_value(json_object_get(alert, "kind"));
    const char *state = json_string_value(json_object_get(alert, "state"));
    int64_t id = json_integer_value(json_object_get(alert, "id"));
    if (!kind || !state || strcmp(kind, "fall") != 0)
        return false;
    bool on = strcmp(state, "active") == 0 || strcmp(state, "acknowledged") == 0;
    bool before = k->n_falls > 0;
    unsigned i = 0;
    while (i < k->n_falls && k->falls[i] != id)
        i++;
    if (on && i == k->n_falls && k->n_falls < MQTT_MAX_FALLS)
        k->falls[k->n_falls++] = id;
    else if (!on && i < k->n_falls)
        k->falls[i] = k->falls[--k->n_falls];
    return before != (k->n_falls > 0);
}

/* An alert event: the event entity's message (not retained), and the safety
 * sensor when it changed. */
static void on_alert(struct mqtt *m, const char *name, json_t *data)
{
    pthread_mutex_lock(&m->lock);
    struct known *k = known_find_locked(m, name, true);
    bool changed = k && falls_update_locked(k, data);
    bool fall = k && k->n_falls > 0;
    pthread_mutex_unlock(&m->lock);
    char topic[400];
    json_t *payload = json_copy(data);
    if (payload) {
        json_object_set(payload, "event_type", json_object_get(data, "change"));
        char *text = json_dumps(payload, JSON_COMPACT | JSON_REAL_PRECISION(6));
        stream_topic(m, topic, sizeof(topic), name, "alert");
        if (text)
            publish(m, topic, text, false);
        free(text);
        json_decref(payload);
    }
    if (changed)
        publish_flag(m, name, "safety", fall);
}

/* Applies one event to what is known, then publishes what it changed. */
static void on_event(struct mqtt *m, const char *type, json_t *data)
{
    const char *name = json_string_value(json_object_get(data, "stream"));
    if (!name)
        return;
    char *activity = NULL, *state = NULL;
    bool removed = false, added = false;
    long long people = -1;

    if (strcmp(type, "alert") == 0) {
        on_alert(m, name, data);
        return;
    }
    pthread_mutex_lock(&m->lock);
    if (strcmp(type, "stream") == 0) {
        const char *action = json_string_value(json_object_get(data, "action"));
        removed = action && strcmp(action, "removed") == 0;
        added = action && strcmp(action, "added") == 0;
        if (removed)
            known_forget_locked(m, name);
        else if (added)
            known_find_locked(m, name, true);
    } else {
        struct known *k = known_find_locked(m, name, true);
        json_t *payload = NULL;
        if (k && strcmp(type, "activity") == 0) {
            known_set(&k->activity, payload = activity_payload(data));
            activity = k->activity ? strdup(k->activity) : NULL;
        } else if (k && strcmp(type, "status") == 0) {
            known_set(&k->state, payload = state_payload(data));
            state = k->state ? strdup(k->state) : NULL;
        }
        json_decref(payload);
        /* The person count, from activity and person events, on change. */
        json_t *count = json_object_get(data, "people");
        if (k && json_is_integer(count) && json_integer_value(count) != k->people)
            people = k->people = json_integer_value(count);
    }
    pthread_mutex_unlock(&m->lock);

    char topic[400];
    if (people >= 0)
        publish_people(m, name, people);
    if (removed) {
        unpublish_stream(m, name);
    } else if (added) {
        publish_stream(m, name, NULL, NULL, -1, false);
    } else if (activity) {
        stream_topic(m, topic, sizeof(topic), name, "activity");
        publish(m, topic, activity, true);
    } else if (state) {
        stream_topic(m, topic, sizeof(topic), name, "state");
        publish(m, topic, state, true);
    }
    free(activity);
    free(state);
}

/* An SSE message, "id: ..\nevent: TYPE\ndata: JSON\n\n", taken apart. */
static void on_message_text(struct mqtt *m, const char *message)
{
    const char *event = strstr(message, "event: "), *data = strstr(message, "data: ");
    if (!event || !data)
        return;
    char type[32];
    size_t len = strcspn(event + 7, "\n");
    if (len >= sizeof(type))
        return;
    memcpy(type, event + 7, len);
    type[len] = '\0';
    json_t *json = json_loadb(data + 6, strcspn(data + 6, "\n"), 0, NULL);
    if (json)
        on_event(m, type, json);
    json_decref(json);
}

static void *follow_events(void *arg)
{
    struct mqtt *m = arg;
    uint64_t last = m->after_id;
    while (!atomic_load(&m->stopping)) {
        char *message = NULL;
        uint64_t id;
        int r = api_events_next(m->events, last, 250, &message, &id);
        if (r == -ESHUTDOWN)
            break;
        if (r < 0)
            continue;
        last = id;
        on_message_text(m, message);
        free(message);
    }
    return NULL;
}

/* ---- the connection --------------------------------------------------------- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct mqtt *m = obj;
    (void)mosq;
    if (rc != 0) {
        /* Refused (bad credentials, ...): libmosquitto tries again with backoff. */
        const char *why = mosquitto_connack_string(rc);
        pthread_mutex_lock(&m->lock);
        bool news = strcmp(m->error, why) != 0;
        str_copy(m->error, sizeof(m->error), why);
        m->state = MQTT_DISCONNECTED;
        pthread_mutex_unlock(&m->lock);
        if (news)
            log_error("mqtt: broker %s:%u refused the connection: %s", m->cfg.host, m->cfg.port,
                      why);
        return;
    }
    pthread_mutex_lock(&m->lock);
    m->state = MQTT_CONNECTED;
    m->error[0] = '\0';
    m->was_connected = true;
    size_t n = m->n_streams;
    struct known *copy = calloc(n ? n : 1, sizeof(*copy));
    for (size_t i = 0; copy && i < n; i++) {
        copy[i] = m->streams[i];
        copy[i].activity = m->streams[i].activity ? strdup(m->streams[i].activity) : NULL;
        copy[i].state = m->streams[i].state ? strdup(m->streams[i].state) : NULL;
    }
    pthread_mutex_unlock(&m->lock);

    log_notice("mqtt: connected to %s:%u; publishing under %s/", m->cfg.host, m->cfg.port,
               m->cfg.topic_prefix);
    publish(m, m->status_topic, "online", true);
    for (size_t i = 0; copy && i < n; i++) {
        publish_stream(m, copy[i].name, copy[i].activity, copy[i].state, copy[i].people,
                       copy[i].n_falls > 0);
        free(copy[i].activity);
        free(copy[i].state);
    }
    free(copy);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    struct mqtt *m = obj;
    (void)mosq;
    if (rc == 0)
        return; /* asked for: crtd is stopping */
    pthread_mutex_lock(&m->lock);
    bool was = m->state == MQTT_CONNECTED;
    if (was) {
        m->reconnects++;
        str_copy(m->error, sizeof(m->error), "connection lost");
    }
    m->state = MQTT_DISCONNECTED;
    pthread_mutex_unlock(&m->lock);
    if (was)
        log_warning("mqtt: lost the broker %s:%u; reconnecting with backoff", m->cfg.host,
                    m->cfg.port);
}

/* libmosquitto says why a connection could not be made (TLS: "certificate
 * verify failed") only in its log: that becomes the error shown. */
static void on_log(struct mosquitto *mosq, void *obj, int level, const char *text)
{
    struct mqtt *m = obj;
    (void)mosq;
    if (!(level & MOSQ_LOG_ERR))
        return;
    pthread_mutex_lock(&m->lock);
    bool news = m->state != MQTT_CONNECTED && strcmp(m->error, text) != 0;
    if (news) {
        str_copy(m->error, sizeof(m->error), text);
        m->state = MQTT_DISCONNECTED;
    }
    pthread_mutex_unlock(&m->lock);
    if (news)
        log_error("mqtt: broker %s:%u: %s", m->cfg.host, m->cfg.port, text);
}

static int read_password(const char *path, char *dst, size_t size, struct errbuf *err)
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return errbuf_set(err, -errno, "mqtt: password file %s: %s", path, strerror(errno));
    if (!fgets(dst, (int)size, f))
        return errbuf_set(err, -EINVAL, "mqtt: password file %s is empty", path);
    dst[strcspn(dst, "\r\n")] = '\0';
    return 0;
}

/* Takes what the streams are now from GET /v1/streams' array. */
static void know_streams(struct mqtt *m, json_t *streams)
{
    size_t i;
    json_t *s;
    json_array_foreach(streams, i, s)
    {
        const char *name = json_string_value(json_object_get(s, "name"));
        struct known *k = name ? known_find_locked(m, name, true) : NULL;
        if (!k)
            continue;
        json_t *state = state_payload(s),
               *activity = activity_payload(json_object_get(s, "activity"));
        known_set(&k->state, state);
        known_set(&k->activity, activity);
        json_t *count = json_object_get(json_object_get(s, "activity"), "people");
        if (json_is_integer(count))
            k->people = json_integer_value(count);
        json_decref(state);
        json_decref(activity);
    }
}

/* Frees what mqtt_start made (its threads already stopped). */
static void destroy(struct mqtt *m)
{
    if (m->mosq)
        mosquitto_destroy(m->mosq);
    mosquitto_lib_cleanup();
    for (size_t i = 0; i < m->n_streams; i++) {
        free(m->streams[i].activity);
        free(m->streams[i].state);
    }
    free(m->streams);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int mqtt_start(const struct config_mqtt *cfg, struct api_events *events, uint64_t after_id,
               json_t *streams, json_t *alerts, struct mqtt **ret_mqtt, struct errbuf *err)
{
    *ret_mqtt = NULL;
    if (!cfg->host[0])
        return 0;
    struct mqtt *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->cfg = *cfg;
    m->events = events;
    m->after_id = after_id;
    pthread_mutex_init(&m->lock, NULL);
    if (!m->cfg.client_id[0]) {
        char host[64] = "localhost";
        gethostname(host, sizeof(host) - 1);
        snprintf(m->cfg.client_id, sizeof(m->cfg.client_id), "crtd-%s", host);
    }
    ha_id(m->node_id, sizeof(m->node_id), m->cfg.client_id);
    snprintf(m->status_topic, sizeof(m->status_topic), "%s/status", m->cfg.topic_prefix);
    know_streams(m, streams);
    size_t ai;
    json_t *alert;
    json_array_foreach(alerts, ai, alert)
    {
        const char *stream = json_string_value(json_object_get(alert, "stream"));
        struct known *k = stream ? known_find_locked(m, stream, true) : NULL;
        if (k)
            falls_update_locked(k, alert);
    }

    char password[256] = "";
    int r = 0;
    mosquitto_lib_init();
    m->mosq = mosquitto_new(m->cfg.client_id, true, m);
    if (!m->mosq) {
        r = errbuf_set(err, -ENOMEM, "mqtt: cannot make a client");
        goto fail;
    }
    if (m->cfg.password_file[0] &&
        (r = read_password(m->cfg.password_file, password, sizeof(password), err)) < 0)
        goto fail;
    if ((m->cfg.username[0] || password[0]) &&
        mosquitto_username_pw_set(m->mosq, m->cfg.username[0] ? m->cfg.username : NULL,
                                  password[0] ? password : NULL) != MOSQ_ERR_SUCCESS) {
        r = errbuf_set(err, -EINVAL, "mqtt: username or password not accepted");
        goto fail;
    }
    explicit_bzero(password, sizeof(password));
    if (m->cfg.ca_file[0] &&
        mosquitto_tls_set(m->mosq, m->cfg.ca_file, NULL, NULL, NULL, NULL) != MOSQ_ERR_SUCCESS) {
        r = errbuf_set(err, -EINVAL, "mqtt: ca_file %s cannot be used", m->cfg.ca_file);
        goto fail;
    }
    mosquitto_will_set(m->mosq, m->status_topic, 7, "offline", (int)m->cfg.qos, true);
    mosquitto_reconnect_delay_set(m->mosq, 1, 60, true);
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_log_callback_set(m->mosq, on_log);
    /* Not reaching the broker now is no failure: the loop keeps trying. */
    int rc =
        mosquitto_connect_async(m->mosq, m->cfg.host, (int)m->cfg.port, (int)m->cfg.keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
        /* The first try may fail right here (refused, a TLS handshake); what
         * the log callback said is the better reason ("certificate verify
         * failed" beats "A TLS error occurred."). */
        pthread_mutex_lock(&m->lock);
        if (!m->error[0])
            str_copy(m->error, sizeof(m->error), mosquitto_strerror(rc));
        m->state = MQTT_DISCONNECTED;
        pthread_mutex_unlock(&m->lock);
        log_warning("mqtt: broker %s:%u: %s; retrying with backoff", m->cfg.host, m->cfg.port,
                    mosquitto_strerror(rc));
    }
    if (mosquitto_loop_start(m->mosq) != MOSQ_ERR_SUCCESS) {
        r = errbuf_set(err, -EIO, "mqtt: cannot start the client's thread");
        goto fail;
    }
    r = pthread_create(&m->thread, NULL, follow_events, m);
    if (r != 0) {
        mosquitto_loop_stop(m->mosq, true);
        r = errbuf_set(err, -r, "mqtt: cannot start a thread: %s", strerror(r));
        goto fail;
    }
    log_info("mqtt: broker %s:%u, client id %s, topics %s/", m->cfg.host, m->cfg.port,
             m->cfg.client_id, m->cfg.topic_prefix);
    *ret_mqtt = m;
    return 0;
fail:
    explicit_bzero(password, sizeof(password));
    destroy(m);
    return r;
}

struct mqtt *mqtt_stop(struct mqtt *m)
{
    if (!m)
        return NULL;
    atomic_store(&m->stopping, true);
    pthread_join(m->thread, NULL);
    /* A clean disconnect sends no will: say offline first. */
    publish(m, m->status_topic, "offline", true);
    mosquitto_disconnect(m->mosq);
    mosquitto_loop_stop(m->mosq, false);
    destroy(m);
    return NULL;
}

json_t *mqtt_status_json(struct mqtt *m)
{
    if (!m)
        return json_pack("{s:s}", "state", "disabled");
    char broker[300];
    pthread_mutex_lock(&m->lock);
    snprintf(broker, sizeof(broker), "%s:%u", m->cfg.host, m->cfg.port);
    json_t *j = json_pack("{s:s, s:s, s:s?, s:I, s:I}", "state", state_names[m->state], "broker",
                          broker, "error", m->error[0] ? m->error : NULL, "reconnects",
                          (json_int_t)m->reconnects, "published", (json_int_t)m->published);
    pthread_mutex_unlock(&m->lock);
    return j;
}

void mqtt_metrics(struct mqtt *m, struct api_text *out)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    int connected = m->state == MQTT_CONNECTED;
    unsigned long long published = m->published, reconnects = m->reconnects;
    pthread_mutex_unlock(&m->lock);
    api_text_printf(out,
                    "# HELP crtd_mqtt_connected 1 while connected to the MQTT broker.\n"
                    "# TYPE crtd_mqtt_connected gauge\n"
                    "crtd_mqtt_connected %d\n"
                    "# HELP crtd_mqtt_messages_published_total Messages handed to the broker.\n"
                    "# TYPE crtd_mqtt_messages_published_total counter\n"
                    "crtd_mqtt_messages_published_total %llu\n"
                    "# HELP crtd_mqtt_reconnects_total Connections to the broker lost.\n"
                    "# TYPE crtd_mqtt_reconnects_total counter\n"
                    "crtd_mqtt_reconnects_total %llu\n",
                    connected, published, reconnects);
}
