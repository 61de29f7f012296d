/* mqtt_discovery: Home Assistant's MQTT discovery of crtd (docs/MQTT.md).
 *
 * One device for the crtd instance (its connectivity), and one device per
 * camera, via the instance's, in the camera's room. Each entity is one
 * retained config at <discovery_prefix>/<component>/<node>/<object>/config
 * whose object id and unique id both start with the instance, so that
 * instances never overwrite each other. Home Assistant names MQTT entities
 * with has_entity_name: the entity id is <domain>.<device name>_<entity
 * name>, slugified (sensor.kitchen_activity).
 *
 * Availability: every entity needs the instance online (<prefix>/status,
 * the last will says offline); those that come from the camera's frames
 * also need the camera delivering them (<prefix>/<stream>/available), with
 * availability_mode all. The privacy switch, the safety entities and the
 * counters keep only the first, so that a paused or dead camera can still
 * be resumed, and its alerts and reconnects still show. */
#include <string.h>

#include "mqtt_internal.h"

#ifndef CRTD_VERSION
#define CRTD_VERSION "0"
#endif

enum availability { AVAILABLE_WITH_CRTD, AVAILABLE_WITH_FRAMES };

/* The entities of a camera: one row each. */
static const struct entity {
    const char *component;
    const char *object; /* the id suffix: <node>_<stream>_<object> */
    const char *name;   /* the entity's name in Home Assistant, after the device's */
    const char *topic;  /* the state topic's last level (<prefix>/<stream>/<topic>) */
    enum availability availability;
    const char *device_class, *state_class, *unit, *icon;
    const char *value_template; /* NULL: the payload as it is */
    bool diagnostic;
} entities[] = {
    {"sensor", "activity", "Activity", "activity", AVAILABLE_WITH_FRAMES, "enum", NULL, NULL,
     "mdi:human", "{{ value_json.label if value_json.label else value_json.state }}", false},
    {"sensor", "people", "People", "people", AVAILABLE_WITH_FRAMES, NULL, "measurement", "people",
     "mdi:account-group", NULL, false},
    {"binary_sensor", "occupancy", "Occupancy", "occupancy", AVAILABLE_WITH_FRAMES, "occupancy",
     NULL, NULL, NULL, NULL, false},
    {"binary_sensor", "safety", "Safety", "safety", AVAILABLE_WITH_CRTD, "safety", NULL, NULL, NULL,
     NULL, false},
    {"event", "alert", "Alert", "alert", AVAILABLE_WITH_CRTD, NULL, NULL, NULL, "mdi:alarm-light",
     NULL, false},
    {"switch", "privacy", "Privacy", "paused", AVAILABLE_WITH_CRTD, NULL, NULL, NULL,
     "mdi:cctv-off", NULL, false},
    {"sensor", "fps", "Frame rate", "diagnostics", AVAILABLE_WITH_FRAMES, NULL, "measurement",
     "fps", "mdi:filmstrip", "{{ value_json.fps }}", true},
    {"sensor", "reconnects", "Reconnects", "diagnostics", AVAILABLE_WITH_CRTD, NULL,
     "total_increasing", NULL, "mdi:connection", "{{ value_json.reconnects }}", true},
    {"sensor", "pose_frames", "Pose frames", "diagnostics", AVAILABLE_WITH_CRTD, NULL,
     "total_increasing", NULL, "mdi:human-handsup", "{{ value_json.pose_frames }}", true},
    {"sensor", "gated_frames", "Gated frames", "diagnostics", AVAILABLE_WITH_CRTD, NULL,
     "total_increasing", NULL, "mdi:motion-pause", "{{ value_json.gated_frames }}", true},
    {"sensor", "gate", "Motion gate", "diagnostics", AVAILABLE_WITH_FRAMES, "enum", NULL, NULL,
     "mdi:motion-sensor", "{{ value_json.gate }}", true},
};

/* The states of the motion gate (pipeline_gate_name). */
static const char *const gate_states[] = {"off", "moved", "still", "empty"};
/* What the activity sensor shows besides the model's classes. */
static const char *const activity_states[] = {"nobody", "unknown"};
/* The alert event entity's event types (docs/SAFETY.md). */
static const char *const alert_changes[] = {"raised", "confirmed", "acknowledged", "cleared"};

static json_t *strings_json(const char *const *list, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(list[i]));
    return a;
}

/* The model's classes, then nobody and unknown, each once. */
static bool has_string(json_t *array, const char *text)
{
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v)
    {
        if (strcmp(json_string_value(v), text) == 0)
            return true;
    }
    return false;
}

/* The model's classes, then nobody and unknown, each once (a model may know
 * a class "unknown" for what it cannot tell). */
static json_t *activity_options(json_t *classes)
{
    json_t *options = json_array(), *c;
    size_t i;
    json_array_foreach(classes, i, c)
    {
        if (options && json_is_string(c) && !has_string(options, json_string_value(c)))
            json_array_append(options, c);
    }
    for (size_t k = 0; options && k < ARRAY_SIZE(activity_states); k++)
        if (!has_string(options, activity_states[k]))
            json_array_append_new(options, json_string(activity_states[k]));
    return options;
}

static json_t *origin_json(void)
{
    return json_pack("{s:s, s:s}", "name", "crtd", "sw_version", CRTD_VERSION);
}

static json_t *host_device_json(const struct mqtt *m)
{
    return json_pack("{s:[s], s:s, s:s, s:s, s:s}", "identifiers", m->node_id, "name",
                     m->cfg.client_id, "manufacturer", "crtd", "model",
                     "activity recognition (Toyota Smarthome classes)", "sw_version", CRTD_VERSION);
}

static void camera_id(const struct mqtt *m, char *dst, size_t size, const char *stream)
{
    char object[API_NAME_MAX];
    mqtt_ha_id(object, sizeof(object), stream);
    snprintf(dst, size, "%s_%s", m->node_id, object);
}

static json_t *camera_device_json(const struct mqtt *m, const struct known *k)
{
    char id[300];
    camera_id(m, id, sizeof(id), k->name);
    json_t *d = json_pack("{s:[s], s:s, s:s, s:s, s:s, s:s}", "identifiers", id, "name", k->name,
                          "manufacturer", "crtd", "model", "camera", "sw_version", CRTD_VERSION,
                          "via_device", m->node_id);
    if (d && k->room[0])
        json_object_set_new(d, "suggested_area", json_string(k->room));
    return d;
}

static json_t *availability_json(const struct mqtt *m, const char *stream,
                                 enum availability availability)
{
    char topic[MQTT_TOPIC_MAX];
    json_t *list = json_pack("[{s:s, s:s, s:s}]", "topic", m->status_topic, "payload_available",
                             "online", "payload_not_available", "offline");
    if (list && availability == AVAILABLE_WITH_FRAMES) {
        mqtt_stream_topic(m, topic, sizeof(topic), stream, "available");
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s}", "topic", topic, "payload_available",
                                        "online", "payload_not_available", "offline"));
    }
    return list;
}

static void entity_topic(const struct mqtt *m, char *dst, size_t size, const struct known *k,
                         const struct entity *e)
{
    char id[300];
    camera_id(m, id, sizeof(id), k->name);
    snprintf(dst, size, "%s/%s/%s/%s_%s/config", m->cfg.discovery_prefix, e->component, m->node_id,
             id, e->object);
}

static json_t *entity_config(const struct mqtt *m, const struct known *k, const struct entity *e,
                             json_t *classes)
{
    char id[300], unique[MQTT_TOPIC_MAX], topic[MQTT_TOPIC_MAX];
    camera_id(m, id, sizeof(id), k->name);
    snprintf(unique, sizeof(unique), "%s_%s", id, e->object);
    mqtt_stream_topic(m, topic, sizeof(topic), k->name, e->topic);
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:i}", "name", e->name, "unique_id",
                          unique, "state_topic", topic, "availability",
                          availability_json(m, k->name, e->availability), "availability_mode",
                          "all", "device", camera_device_json(m, k), "origin", origin_json(), "qos",
                          (int)m->cfg.qos);
    if (!j)
        return NULL;
    if (e->device_class)
        json_object_set_new(j, "device_class", json_string(e->device_class));
    if (e->state_class)
        json_object_set_new(j, "state_class", json_string(e->state_class));
    if (e->unit)
        json_object_set_new(j, "unit_of_measurement", json_string(e->unit));
    if (e->icon)
        json_object_set_new(j, "icon", json_string(e->icon));
    if (e->value_template)
        json_object_set_new(j, "value_template", json_string(e->value_template));
    if (e->diagnostic)
        json_object_set_new(j, "entity_category", json_string("diagnostic"));
    if (strcmp(e->object, "activity") == 0) {
        json_object_set_new(j, "options", activity_options(classes));
        json_object_set_new(j, "json_attributes_topic", json_string(topic));
    } else if (strcmp(e->object, "gate") == 0) {
        json_object_set_new(j, "options", strings_json(gate_states, ARRAY_SIZE(gate_states)));
    } else if (strcmp(e->object, "fps") == 0) {
        json_object_set_new(j, "suggested_display_precision", json_integer(1));
    } else if (strcmp(e->component, "binary_sensor") == 0) {
        json_object_set_new(j, "payload_on", json_string("ON"));
        json_object_set_new(j, "payload_off", json_string("OFF"));
    } else if (strcmp(e->component, "event") == 0) {
        json_object_set_new(j, "event_types",
                            strings_json(alert_changes, ARRAY_SIZE(alert_changes)));
    } else if (strcmp(e->component, "switch") == 0) {
        char command[MQTT_TOPIC_MAX + 8];
        snprintf(command, sizeof(command), "%s/set", topic);
        json_object_set_new(j, "command_topic", json_string(command));
        json_object_set_new(j, "payload_on", json_string("ON"));
        json_object_set_new(j, "payload_off", json_string("OFF"));
        json_object_set_new(j, "optimistic", json_false());
        json_object_set_new(j, "retain", json_false());
    }
    return j;
}

static void publish_json(struct mqtt *m, const char *topic, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (text)
        mqtt_publish(m, topic, text, true);
    free(text);
    json_decref(j);
}

void mqtt_discovery_host(struct mqtt *m)
{
    if (!m->cfg.discovery_prefix[0])
        return;
    char topic[MQTT_TOPIC_MAX];
    snprintf(topic, sizeof(topic), "%s/binary_sensor/%s/%s_status/config", m->cfg.discovery_prefix,
             m->node_id, m->node_id);
    char unique[200];
    snprintf(unique, sizeof(unique), "%s_status", m->node_id);
    /* No availability: the will turns it off rather than unavailable. */
    publish_json(m, topic,
                 json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:i}", "name", "Status",
                           "unique_id", unique, "state_topic", m->status_topic, "device_class",
                           "connectivity", "payload_on", "online", "payload_off", "offline",
                           "entity_category", "diagnostic", "device", host_device_json(m), "origin",
                           origin_json(), "qos", (int)m->cfg.qos));
}

/* The discovery topics of crtd before topics were per instance: emptied, so
 * that an upgraded instance leaves no entity of the old layout behind. */
static void remove_old_layout(struct mqtt *m, const char *stream)
{
    static const struct {
        const char *component, *suffix;
    } old[] = {{"sensor", ""},
               {"sensor", "_people"},
               {"binary_sensor", "_safety"},
               {"binary_sensor", "_occupancy"},
               {"event", "_alert"}};
    char object[API_NAME_MAX], topic[MQTT_TOPIC_MAX];
    mqtt_ha_id(object, sizeof(object), stream);
    for (size_t i = 0; i < ARRAY_SIZE(old); i++) {
        snprintf(topic, sizeof(topic), "%s/%s/%s/%s%s/config", m->cfg.discovery_prefix,
                 old[i].component, m->node_id, object, old[i].suffix);
        mqtt_publish(m, topic, NULL, true);
    }
}

void mqtt_discovery_stream(struct mqtt *m, const struct known *k, json_t *classes, bool remove)
{
    if (!m->cfg.discovery_prefix[0])
        return;
    char topic[MQTT_TOPIC_MAX];
    for (size_t e = 0; e < ARRAY_SIZE(entities); e++) {
        entity_topic(m, topic, sizeof(topic), k, &entities[e]);
        /* Without the switch, no entity offers it. */
        bool offered = m->cfg.privacy_switch || strcmp(entities[e].component, "switch") != 0;
        if (remove || !offered)
            mqtt_publish(m, topic, NULL, true);
        else
            publish_json(m, topic, entity_config(m, k, &entities[e], classes));
    }
    remove_old_layout(m, k->name);
}
