/* mqtt: see mqtt.h. Topics, under the instance's prefix P (crtd/<client
 * id> unless topic_prefix says; docs/MQTT.md):
 *   P/status                    online / offline (retained; offline is the will)
 *   P/<stream>/activity         the activity JSON of /v1/streams/<stream>/activity,
 *                               with the stream's site and room (retained)
 *   P/<stream>/state            {"state", "error", "reconnects"} (retained)
 *   P/<stream>/available        online while the camera delivers frames (retained)
 *   P/<stream>/people           how many people are in view, e.g. "2" (retained)
 *   P/<stream>/occupancy, safety  ON / OFF (retained)
 *   P/<stream>/alert            each change of an alert (not retained)
 *   P/<stream>/paused           the privacy switch: ON / OFF (retained)
 *   P/<stream>/paused/set       its commands, from Home Assistant
 *   P/<stream>/diagnostics      fps, reconnects, pose and gated frames, gate (retained)
 * and Home Assistant's discovery (mqtt_discovery.c). */
#include "mqtt.h"

#include <ctype.h>
#include <string.h>
#include <unistd.h>

#include "mqtt_internal.h"

static const char *const state_names[] = {"connecting", "connected", "disconnected"};

/* ---- publishing ------------------------------------------------------------ */

void mqtt_publish(struct mqtt *m, const char *topic, const char *payload, bool retain)
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

void mqtt_stream_topic(const struct mqtt *m, char *dst, size_t size, const char *stream,
                       const char *what)
{
    snprintf(dst, size, "%s/%s/%s", m->prefix, stream, what);
}

void mqtt_ha_id(char *dst, size_t size, const char *text)
{
    size_t i = 0;
    for (; text[i] && i + 1 < size; i++)
        dst[i] = isalnum((unsigned char)text[i]) || text[i] == '-' ? text[i] : '_';
    dst[i] = '\0';
}

static void publish_text(struct mqtt *m, const char *stream, const char *what, const char *text,
                         bool retain)
{
    char topic[MQTT_TOPIC_MAX];
    mqtt_stream_topic(m, topic, sizeof(topic), stream, what);
    mqtt_publish(m, topic, text, retain);
}

static void publish_flag(struct mqtt *m, const char *name, const char *what, bool on)
{
    publish_text(m, name, what, on ? "ON" : "OFF", true);
}

static void publish_people(struct mqtt *m, const char *name, long long people)
{
    char text[32];
    snprintf(text, sizeof(text), "%lld", people);
    publish_text(m, name, "people", text, true);
    publish_flag(m, name, "occupancy", people > 0);
}

static void publish_running(struct mqtt *m, const struct known *k)
{
    publish_text(m, k->name, "available", k->running ? "online" : "offline", true);
    publish_flag(m, k->name, "paused", k->paused);
}

/* Publishes all that is known of one stream (k a copy the caller owns). */
static void publish_stream(struct mqtt *m, const struct known *k, json_t *classes)
{
    mqtt_discovery_stream(m, k, classes, false);
    if (k->people >= 0)
        publish_people(m, k->name, k->people);
    publish_flag(m, k->name, "safety", k->n_falls > 0);
    publish_running(m, k);
    if (k->state)
        publish_text(m, k->name, "state", k->state, true);
    if (k->activity)
        publish_text(m, k->name, "activity", k->activity, true);
    if (k->diagnostics)
        publish_text(m, k->name, "diagnostics", k->diagnostics, true);
}

/* A removed stream leaves no retained message behind. */
static void unpublish_stream(struct mqtt *m, const struct known *k)
{
    static const char *const topics[] = {"safety",   "occupancy", "state",  "people",
                                         "activity", "available", "paused", "diagnostics"};
    mqtt_discovery_stream(m, k, NULL, true);
    for (size_t i = 0; i < ARRAY_SIZE(topics); i++)
        publish_text(m, k->name, topics[i], NULL, true);
}

/* A copy of k that outlives the lock (free with known_copy_free). */
static struct known known_copy(const struct known *k)
{
    struct known c = *k;
    c.activity = k->activity ? strdup(k->activity) : NULL;
    c.state = k->state ? strdup(k->state) : NULL;
    c.diagnostics = k->diagnostics ? strdup(k->diagnostics) : NULL;
    return c;
}

static void known_copy_free(struct known *c)
{
    free(c->activity);
    free(c->state);
    free(c->diagnostics);
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
    known_copy_free(k);
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

/* Takes a stream's site and room from a stream's JSON or its "added" event. */
static void known_place(struct known *k, json_t *from)
{
    const char *site = json_string_value(json_object_get(from, "site"));
    const char *room = json_string_value(json_object_get(from, "room"));
    str_copy(k->site, sizeof(k->site), site ? site : "");
    str_copy(k->room, sizeof(k->room), room ? room : "");
}

/* The camera's state: whether it delivers frames, whether it is paused.
 * Returns whether either changed. */
static bool known_running(struct known *k, const char *state)
{
    bool running = state && strcmp(state, "running") == 0;
    bool paused = state && strcmp(state, "paused") == 0;
    bool changed = running != k->running || paused != k->paused;
    k->running = running;
    k->paused = paused;
    return changed;
}

static json_t *state_payload(json_t *from)
{
    return json_pack("{s:O?, s:O?, s:O?}", "state", json_object_get(from, "state"), "error",
                     json_object_get(from, "error"), "reconnects",
                     json_object_get(from, "reconnects"));
}

/* The activity as /v1/streams/<name>/activity gives it, with where the
 * camera is (an event adds "previous", which a retained message has no use
 * for). */
static json_t *activity_payload(const struct known *k, json_t *from)
{
    json_t *copy = json_copy(from);
    if (copy) {
        json_object_del(copy, "previous");
        json_object_set_new(copy, "site", k->site[0] ? json_string(k->site) : json_null());
        json_object_set_new(copy, "room", k->room[0] ? json_string(k->room) : json_null());
    }
    return copy;
}

/* The diagnostic entities' payload, from a stream's JSON. */
static json_t *diagnostics_payload(json_t *s)
{
    json_t *gate = json_object_get(s, "gate");
    double fps = json_number_value(json_object_get(s, "fps_measured"));
    return json_pack("{s:f, s:O?, s:O?, s:O?, s:O?}", "fps",
                     (double)(long long)(fps * 10 + 0.5) / 10, "reconnects",
                     json_object_get(s, "reconnects"), "pose_frames",
                     json_object_get(gate, "pose_frames"), "gated_frames",
                     json_object_get(gate, "gated"), "gate", json_object_get(gate, "state"));
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
    json_t *payload = json_copy(data);
    if (payload) {
        json_object_set(payload, "event_type", json_object_get(data, "change"));
        char *text = json_dumps(payload, JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (text)
            publish_text(m, name, "alert", text, false);
        free(text);
        json_decref(payload);
    }
    if (changed)
        publish_flag(m, name, "safety", fall);
}

/* A stream added (its discovery and what is known) or removed (all emptied). */
static void on_stream(struct mqtt *m, const char *name, json_t *data)
{
    const char *action = json_string_value(json_object_get(data, "action"));
    bool removed = action && strcmp(action, "removed") == 0;
    struct known copy = {0};
    json_t *classes = NULL;
    pthread_mutex_lock(&m->lock);
    struct known *k = known_find_locked(m, name, true);
    if (k) {
        if (!removed)
            known_place(k, data);
        copy = known_copy(k);
        if (removed)
            known_forget_locked(m, name);
    }
    classes = json_incref(m->classes);
    pthread_mutex_unlock(&m->lock);
    if (k && removed)
        unpublish_stream(m, &copy);
    else if (k && action && strcmp(action, "added") == 0)
        publish_stream(m, &copy, classes);
    known_copy_free(&copy);
    json_decref(classes);
}

/* Applies one event to what is known, then publishes what it changed. */
static void on_event(struct mqtt *m, const char *type, json_t *data)
{
    const char *name = json_string_value(json_object_get(data, "stream"));
    if (!name)
        return;
    if (strcmp(type, "alert") == 0) {
        on_alert(m, name, data);
        return;
    }
    if (strcmp(type, "stream") == 0) {
        on_stream(m, name, data);
        return;
    }
    char *activity = NULL, *state = NULL;
    long long people = -1;
    bool running_changed = false;
    struct known copy = {0};
    pthread_mutex_lock(&m->lock);
    struct known *k = known_find_locked(m, name, true);
    json_t *payload = NULL;
    if (k && strcmp(type, "activity") == 0) {
        known_set(&k->activity, payload = activity_payload(k, data));
        activity = k->activity ? strdup(k->activity) : NULL;
    } else if (k && strcmp(type, "status") == 0) {
        known_set(&k->state, payload = state_payload(data));
        state = k->state ? strdup(k->state) : NULL;
        running_changed = known_running(k, json_string_value(json_object_get(data, "state")));
    }
    json_decref(payload);
    /* The person count, from activity and person events, on change. */
    json_t *count = json_object_get(data, "people");
    if (k && json_is_integer(count) && json_integer_value(count) != k->people)
        people = k->people = json_integer_value(count);
    if (k && running_changed)
        copy = known_copy(k);
    pthread_mutex_unlock(&m->lock);

    if (people >= 0)
        publish_people(m, name, people);
    if (activity)
        publish_text(m, name, "activity", activity, true);
    if (state)
        publish_text(m, name, "state", state, true);
    if (running_changed)
        publish_running(m, &copy);
    known_copy_free(&copy);
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

/* The diagnostic entities' figures change with every frame, not as events:
 * they are read from the streams every diagnostics_s and published when
 * they changed. */
static void update_diagnostics(struct mqtt *m)
{
    json_t *root = NULL;
    if (!m->hooks.streams_json || m->hooks.streams_json(m->hooks.userdata, &root) < 0)
        return;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(root, "streams"), i, s)
    {
        const char *name = json_string_value(json_object_get(s, "name"));
        json_t *payload = name ? diagnostics_payload(s) : NULL;
        char *text = payload ? json_dumps(payload, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
        json_decref(payload);
        bool changed = false;
        pthread_mutex_lock(&m->lock);
        struct known *k = text ? known_find_locked(m, name, false) : NULL;
        if (k && (!k->diagnostics || strcmp(k->diagnostics, text) != 0)) {
            free(k->diagnostics);
            k->diagnostics = strdup(text);
            changed = k->diagnostics != NULL;
        }
        pthread_mutex_unlock(&m->lock);
        if (changed)
            publish_text(m, name, "diagnostics", text, true);
        free(text);
    }
    json_decref(root);
}

static void *follow_events(void *arg)
{
    struct mqtt *m = arg;
    uint64_t last = m->after_id;
    int64_t next_diagnostics = 0;
    while (!atomic_load(&m->stopping)) {
        int64_t now = time_mono_ns();
        if (now >= next_diagnostics) {
            update_diagnostics(m);
            next_diagnostics = now + (int64_t)m->cfg.diagnostics_s * 1000000000;
        }
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

/* ---- publishing everything --------------------------------------------------- */

/* "online", the host's discovery and all that is known of every stream: on
 * every connection, and when Home Assistant says it (re)started. */
static void publish_all(struct mqtt *m)
{
    pthread_mutex_lock(&m->lock);
    size_t n = m->n_streams;
    struct known *copy = calloc(n ? n : 1, sizeof(*copy));
    for (size_t i = 0; copy && i < n; i++)
        copy[i] = known_copy(&m->streams[i]);
    json_t *classes = json_incref(m->classes);
    pthread_mutex_unlock(&m->lock);
    mqtt_publish(m, m->status_topic, "online", true);
    mqtt_discovery_host(m);
    for (size_t i = 0; copy && i < n; i++) {
        publish_stream(m, &copy[i], classes);
        known_copy_free(&copy[i]);
    }
    free(copy);
    json_decref(classes);
}

/* ---- what comes in: the privacy switch's commands, Home Assistant's birth ---- */

/* P/<stream>/paused/set with ON (pause) or OFF (resume). */
static void on_command(struct mqtt *m, const struct mosquitto_message *msg)
{
    size_t plen = strlen(m->prefix);
    const char *topic = msg->topic;
    static const char suffix[] = "/paused/set";
    size_t len = strlen(topic);
    if (len <= plen + 1 + strlen(suffix) || strncmp(topic, m->prefix, plen) != 0 ||
        topic[plen] != '/' || strcmp(topic + len - strlen(suffix), suffix) != 0)
        return;
    char name[API_NAME_MAX];
    size_t nlen = len - plen - 1 - strlen(suffix);
    if (nlen >= sizeof(name))
        return;
    memcpy(name, topic + plen + 1, nlen);
    name[nlen] = '\0';
    char payload[8] = "";
    if (msg->payloadlen > 0 && (size_t)msg->payloadlen < sizeof(payload))
        memcpy(payload, msg->payload, (size_t)msg->payloadlen);
    bool on = strcmp(payload, "ON") == 0;
    if (!on && strcmp(payload, "OFF") != 0) {
        log_warning("mqtt: %s: payload '%.*s' is neither ON nor OFF; ignored", topic,
                    msg->payloadlen > 32 ? 32 : msg->payloadlen, (const char *)msg->payload);
        return;
    }
    struct errbuf err;
    errbuf_clear(&err);
    int r = m->hooks.pause ? m->hooks.pause(m->hooks.userdata, name, on, &err) : -ENOTSUP;
    if (r < 0) {
        log_warning("mqtt: %s %s: %s", topic, payload, errbuf_text(&err, r));
        return;
    }
    pthread_mutex_lock(&m->lock);
    m->commands++;
    pthread_mutex_unlock(&m->lock);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    struct mqtt *m = obj;
    (void)mosq;
    char birth[160];
    snprintf(birth, sizeof(birth), "%s/status", m->cfg.discovery_prefix);
    if (m->cfg.discovery_prefix[0] && strcmp(msg->topic, birth) == 0) {
        /* Home Assistant (re)started: it asks for discovery again, as its
         * documentation recommends answering, even where retained messages
         * were lost. */
        if (msg->payloadlen == 6 && memcmp(msg->payload, "online", 6) == 0) {
            log_info("mqtt: Home Assistant is online; publishing discovery again");
            publish_all(m);
        }
        return;
    }
    if (m->cfg.privacy_switch)
        on_command(m, msg);
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
    pthread_mutex_unlock(&m->lock);

    log_notice("mqtt: connected to %s:%u; publishing under %s/", m->cfg.host, m->cfg.port,
               m->prefix);
    char commands[200];
    snprintf(commands, sizeof(commands), "%s/+/paused/set", m->prefix);
    if (m->cfg.privacy_switch &&
        mosquitto_subscribe(m->mosq, NULL, commands, (int)m->cfg.qos) != MOSQ_ERR_SUCCESS)
        log_warning("mqtt: cannot subscribe to %s: the privacy switches do nothing", commands);
    char birth[160];
    snprintf(birth, sizeof(birth), "%s/status", m->cfg.discovery_prefix);
    if (m->cfg.discovery_prefix[0])
        mosquitto_subscribe(m->mosq, NULL, birth, (int)m->cfg.qos);
    publish_all(m);
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
        known_place(k, s);
        known_running(k, json_string_value(json_object_get(s, "state")));
        json_t *state = state_payload(s),
               *activity = activity_payload(k, json_object_get(s, "activity")),
               *diagnostics = diagnostics_payload(s);
        known_set(&k->state, state);
        known_set(&k->activity, activity);
        known_set(&k->diagnostics, diagnostics);
        json_t *count = json_object_get(json_object_get(s, "activity"), "people");
        if (json_is_integer(count))
            k->people = json_integer_value(count);
        json_decref(state);
        json_decref(activity);
        json_decref(diagnostics);
    }
}

/* Frees what mqtt_start made (its threads already stopped). */
static void destroy(struct mqtt *m)
{
    if (m->mosq)
        mosquitto_destroy(m->mosq);
    mosquitto_lib_cleanup();
    for (size_t i = 0; i < m->n_streams; i++)
        known_copy_free(&m->streams[i]);
    free(m->streams);
    json_decref(m->classes);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int mqtt_start(const struct config_mqtt *cfg, const struct mqtt_hooks *hooks,
               struct api_events *events, uint64_t after_id, json_t *streams, json_t *alerts,
               struct mqtt **ret_mqtt, struct errbuf *err)
{
    *ret_mqtt = NULL;
    if (!cfg->host[0])
        return 0;
    struct mqtt *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->cfg = *cfg;
    if (hooks)
        m->hooks = *hooks;
    m->classes = json_incref(m->hooks.classes);
    m->hooks.classes = NULL;
    m->events = events;
    m->after_id = after_id;
    pthread_mutex_init(&m->lock, NULL);
    if (!m->cfg.client_id[0]) {
        char host[64] = "localhost";
        gethostname(host, sizeof(host) - 1);
        snprintf(m->cfg.client_id, sizeof(m->cfg.client_id), "crtd-%s", host);
    }
    if (m->cfg.diagnostics_s == 0)
        m->cfg.diagnostics_s = 10;
    mqtt_ha_id(m->node_id, sizeof(m->node_id), m->cfg.client_id);
    /* Each instance under its own prefix: one instance's will never marks
     * another's entities unavailable. */
    if (m->cfg.topic_prefix[0])
        str_copy(m->prefix, sizeof(m->prefix), m->cfg.topic_prefix);
    else
        snprintf(m->prefix, sizeof(m->prefix), "crtd/%s", m->node_id);
    snprintf(m->status_topic, sizeof(m->status_topic), "%s/status", m->prefix);
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
    mosquitto_message_callback_set(m->mosq, on_message);
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
             m->cfg.client_id, m->prefix);
    *ret_mqtt = m;
    return 0;
fail:
    explicit_bzero(password, sizeof(password));
    destroy(m);
    return r;
}

void mqtt_set_classes(struct mqtt *m, json_t *classes)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    json_decref(m->classes);
    m->classes = json_incref(classes);
    size_t n = m->n_streams;
    struct known *copy = calloc(n ? n : 1, sizeof(*copy));
    for (size_t i = 0; copy && i < n; i++)
        copy[i] = known_copy(&m->streams[i]);
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; copy && i < n; i++) {
        mqtt_discovery_stream(m, &copy[i], classes, false);
        known_copy_free(&copy[i]);
    }
    free(copy);
}

struct mqtt *mqtt_stop(struct mqtt *m)
{
    if (!m)
        return NULL;
    atomic_store(&m->stopping, true);
    pthread_join(m->thread, NULL);
    /* A clean disconnect sends no will: say offline first. */
    mqtt_publish(m, m->status_topic, "offline", true);
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
    json_t *j = json_pack("{s:s, s:s, s:s?, s:I, s:I, s:I, s:s}", "state", state_names[m->state],
                          "broker", broker, "error", m->error[0] ? m->error : NULL, "reconnects",
                          (json_int_t)m->reconnects, "published", (json_int_t)m->published,
                          "commands", (json_int_t)m->commands, "prefix", m->prefix);
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
