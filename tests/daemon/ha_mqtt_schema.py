"""Home Assistant's MQTT discovery schema, as Home Assistant documents it, for
checking crtd's discovery payloads field by field (tests/daemon/mqtt_test.py).

Written from Home Assistant's documentation, not from crtd's output:
- home-assistant.io/integrations/mqtt/ ("Discovery topic", "Discovery
  payload", "Adding information about the origin of a discovery message",
  "Naming of MQTT Entities": every MQTT entity has has_entity_name true);
- home-assistant.io/integrations/sensor.mqtt/, binary_sensor.mqtt/,
  switch.mqtt/, event.mqtt/ (their "Configuration Variables");
- home-assistant.io/integrations/sensor/ and binary_sensor/ ("Device class")
  and developers.home-assistant.io/docs/core/entity/sensor (state classes).

Each platform's options are listed with their type; options a platform does
not document are reported, like a missing required one, a wrong type, or a
rule the documentation states in words (options only with device_class enum,
availability and availability_topic not together, ...)."""

import re

# Types: "str", "int", "bool", "list", "map", "str|null", "str|list".
_AVAILABILITY_ITEM = {
    "topic": ("str", True),
    "payload_available": ("str", False),
    "payload_not_available": ("str", False),
    "value_template": ("str", False),
}
# The device map (identifiers: a list of ids or one; via_device: the
# identifier of the device this one talks through).
_DEVICE = {
    "configuration_url": ("str", False),
    "connections": ("list", False),
    "hw_version": ("str", False),
    "identifiers": ("str|list", False),
    "manufacturer": ("str", False),
    "model": ("str", False),
    "model_id": ("str", False),
    "name": ("str", False),
    "serial_number": ("str", False),
    "suggested_area": ("str", False),
    "sw_version": ("str", False),
    "via_device": ("str", False),
}
# origin: name is required.
_ORIGIN = {
    "name": ("str", True),
    "sw_version": ("str", False),
    "support_url": ("str", False),
}

# Options every platform here documents.
_COMMON = {
    "availability": ("list", False),
    "availability_mode": ("str", False),
    "availability_template": ("str", False),
    "availability_topic": ("str", False),
    "device": ("map", False),
    "enabled_by_default": ("bool", False),
    "encoding": ("str", False),
    "entity_category": ("str", False),
    "entity_picture": ("str", False),
    "icon": ("str", False),
    "json_attributes_template": ("str", False),
    "json_attributes_topic": ("str", False),
    "name": ("str|null", False),
    "object_id": ("str", False),
    "default_entity_id": ("str", False),
    "origin": ("map", False),
    "payload_available": ("str", False),
    "payload_not_available": ("str", False),
    "qos": ("int", False),
    "unique_id": ("str", False),
}

PLATFORMS = {
    "sensor": dict(_COMMON, **{
        "device_class": ("str|null", False),
        "expire_after": ("int", False),
        "force_update": ("bool", False),
        "last_reset_value_template": ("str", False),
        "options": ("list", False),
        "suggested_display_precision": ("int", False),
        "state_class": ("str", False),
        "state_topic": ("str", True),
        "unit_of_measurement": ("str|null", False),
        "value_template": ("str", False),
    }),
    "binary_sensor": dict(_COMMON, **{
        "device_class": ("str|null", False),
        "expire_after": ("int", False),
        "force_update": ("bool", False),
        "off_delay": ("int", False),
        "payload_off": ("str", False),
        "payload_on": ("str", False),
        "state_topic": ("str", True),
        "value_template": ("str", False),
    }),
    "switch": dict(_COMMON, **{
        "command_template": ("str", False),
        "command_topic": ("str", False),
        "device_class": ("str|null", False),
        "optimistic": ("bool", False),
        "payload_off": ("str", False),
        "payload_on": ("str", False),
        "retain": ("bool", False),
        "state_off": ("str", False),
        "state_on": ("str", False),
        "state_topic": ("str", False),
        "value_template": ("str", False),
    }),
    "event": dict(_COMMON, **{
        "device_class": ("str|null", False),
        "event_types": ("list", True),
        "state_topic": ("str", True),
        "value_template": ("str", False),
    }),
}

DEVICE_CLASSES = {
    "sensor": {
        "absolute_humidity", "apparent_power", "aqi", "area", "atmospheric_pressure", "battery",
        "blood_glucose_concentration", "carbon_dioxide", "carbon_monoxide", "current",
        "data_rate", "data_size", "date", "distance", "duration", "energy", "energy_distance",
        "energy_storage", "enum", "frequency", "gas", "humidity", "illuminance", "irradiance",
        "moisture", "monetary", "nitrogen_dioxide", "nitrogen_monoxide", "nitrous_oxide",
        "ozone", "ph", "pm1", "pm25", "pm10", "power_factor", "power", "precipitation",
        "precipitation_intensity", "pressure", "reactive_energy", "reactive_power",
        "signal_strength", "sound_pressure", "speed", "sulphur_dioxide", "temperature",
        "timestamp", "volatile_organic_compounds", "volatile_organic_compounds_parts",
        "voltage", "volume", "volume_flow_rate", "volume_storage", "water", "weight",
        "wind_direction", "wind_speed"},
    "binary_sensor": {
        "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
        "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
        "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
        "smoke", "sound", "tamper", "update", "vibration", "window"},
    "switch": {"outlet", "switch"},
    "event": {"button", "doorbell", "motion"},
}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
ENTITY_CATEGORIES = {"config", "diagnostic"}
AVAILABILITY_MODES = {"all", "any", "latest"}
# <node_id> and <object_id> of a discovery topic.
ID_CHARS = re.compile(r"^[a-zA-Z0-9_-]+$")


def _type_ok(value, kind):
    for k in kind.split("|"):
        if k == "null" and value is None:
            return True
        if k == "str" and isinstance(value, str):
            return True
        if k == "int" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if k == "bool" and isinstance(value, bool):
            return True
        if k == "list" and isinstance(value, list):
            return True
        if k == "map" and isinstance(value, dict):
            return True
    return False


def _check_map(where, value, schema, problems):
    for key, (kind, required) in schema.items():
        if required and key not in value:
            problems.append(f"{where}: required option '{key}' is missing")
    for key, v in value.items():
        if key not in schema:
            problems.append(f"{where}: '{key}' is not a documented option")
        elif not _type_ok(v, schema[key][0]):
            problems.append(f"{where}: '{key}' should be {schema[key][0]}, is {v!r}")


def parse_topic(topic, discovery_prefix="homeassistant"):
    """(component, node_id, object_id) of a discovery topic, or None."""
    parts = topic.split("/")
    if parts[0] != discovery_prefix or parts[-1] != "config" or len(parts) not in (4, 5):
        return None
    node = parts[2] if len(parts) == 5 else None
    return parts[1], node, parts[-2]


def check(topic, config, discovery_prefix="homeassistant"):
    """The problems of one single-component discovery message (a list of text)."""
    problems = []
    parsed = parse_topic(topic, discovery_prefix)
    if not parsed:
        return [f"{topic}: not <prefix>/<component>/[<node_id>/]<object_id>/config"]
    component, node, obj = parsed
    if component not in PLATFORMS:
        return [f"{topic}: '{component}' is not one of the platforms checked here"]
    for part in (node, obj):
        if part is not None and not ID_CHARS.match(part):
            problems.append(f"{topic}: '{part}' has characters outside [a-zA-Z0-9_-]")
    if not isinstance(config, dict):
        return problems + [f"{topic}: the payload is not a JSON object"]
    where = f"{component} {obj}"
    _check_map(where, config, PLATFORMS[component], problems)

    if "availability" in config and "availability_topic" in config:
        problems.append(f"{where}: availability must not be used with availability_topic")
    for i, item in enumerate(config.get("availability") or []):
        if not isinstance(item, dict):
            problems.append(f"{where}: availability[{i}] is not a map")
        else:
            _check_map(f"{where}: availability[{i}]", item, _AVAILABILITY_ITEM, problems)
    mode = config.get("availability_mode")
    if mode is not None and mode not in AVAILABILITY_MODES:
        problems.append(f"{where}: availability_mode '{mode}' is not all, any or latest")
    device = config.get("device")
    if isinstance(device, dict):
        _check_map(f"{where}: device", device, _DEVICE, problems)
        if "identifiers" not in device and "connections" not in device:
            problems.append(f"{where}: device needs identifiers or connections")
        if "unique_id" not in config:
            problems.append(f"{where}: device only works with unique_id set")
    origin = config.get("origin")
    if isinstance(origin, dict):
        _check_map(f"{where}: origin", origin, _ORIGIN, problems)
    qos = config.get("qos")
    if isinstance(qos, int) and qos not in (0, 1, 2):
        problems.append(f"{where}: qos {qos} is not 0, 1 or 2")
    dc = config.get("device_class")
    if dc is not None and dc not in DEVICE_CLASSES[component]:
        problems.append(f"{where}: device_class '{dc}' is not one of the {component} classes")
    cat = config.get("entity_category")
    if cat is not None and cat not in ENTITY_CATEGORIES:
        problems.append(f"{where}: entity_category '{cat}' is not config or diagnostic")
    if component == "sensor":
        if cat is not None and cat != "diagnostic":
            problems.append(f"{where}: a sensor's entity_category must be diagnostic")
        sc = config.get("state_class")
        if sc is not None and sc not in STATE_CLASSES:
            problems.append(f"{where}: state_class '{sc}' is not a state class")
        if "options" in config:
            opts = config["options"]
            if not opts:
                problems.append(f"{where}: options must not be empty")
            if dc != "enum":
                problems.append(f"{where}: options need device_class enum")
            if "state_class" in config or "unit_of_measurement" in config:
                problems.append(f"{where}: options cannot go with state_class or "
                                "unit_of_measurement")
            if any(not isinstance(o, str) for o in opts) or len(set(opts)) != len(opts):
                problems.append(f"{where}: options must be distinct strings")
    if component == "event":
        types = config.get("event_types")
        if isinstance(types, list) and (not types or any(not isinstance(t, str) for t in types)):
            problems.append(f"{where}: event_types must be a list of strings")
    return problems


def slugify(text):
    """Home Assistant's slugify for entity ids: lower case ASCII, every run of
    other characters one '_', none at either end ("unknown" when empty)."""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug or "unknown"


def entity_id(component, config):
    """The entity id Home Assistant makes for a discovered entity of a
    device: has_entity_name is true for MQTT entities, so the friendly name
    is "<device name> <entity name>" (the device name alone for name null),
    and the entity id is <domain>.<that, slugified>; object_id would
    override it."""
    if config.get("object_id"):
        return f"{component}.{slugify(config['object_id'])}"
    device = (config.get("device") or {}).get("name") or ""
    name = config.get("name")
    return f"{component}.{slugify(device + (' ' + name if name else ''))}"
