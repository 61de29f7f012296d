"""crtd publishing to a real mosquitto broker on 127.0.0.1, checked with
mosquitto_sub: status and last will, retained activity (as the API says it),
state, Home Assistant discovery (and its removal), publishing on change only,
the broker going away and coming back, a password file and a wrong password;
every discovery payload checked field by field against Home Assistant's
documented schema (ha_mqtt_schema.py), its templates rendered with Jinja2 as
Home Assistant does, the privacy switch driven through its command topic,
and three instances on one broker, one of them killed.

Usage: mqtt_test.py --build DIR"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "reliability"))
from crtdtest import Checks, Crtd, free_port, parse_args, request, wait_until  # noqa: E402
import ha_mqtt_schema as ha  # noqa: E402

ROOT = os.path.normpath(os.path.join(here, "..", ".."))
NODE = "test-node"
P = f"crtd/{NODE}"  # the default prefix of client_id test-node

PASSWORD = "broker-Pa55word"


class Broker:
    """mosquitto on a free port with a configuration of its own."""

    def __init__(self, users=None, tls=False):
        self.dir = tempfile.mkdtemp(prefix="crtd-mqtt-")
        # mosquitto started by root reads its files as the mosquitto user.
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        conf = [f"listener {self.port} 127.0.0.1", "persistence false"]
        self.ca = None
        if tls:
            self.ca = make_certificates(self.dir)
            conf += [f"cafile {self.ca}", f"certfile {self.dir}/server.crt",
                     f"keyfile {self.dir}/server.key"]
        if users:
            passwd = os.path.join(self.dir, "passwd")
            for user, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b"] + (["-c"] if not os.path.exists(passwd)
                                                             else []) + [passwd, user, password],
                               check=True, capture_output=True)
            os.chmod(passwd, 0o644)
            conf += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            conf += ["allow_anonymous true"]
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.users = users
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not wait_until(lambda: self.answers(), 10):
            raise RuntimeError("mosquitto did not start")

    def answers(self):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def sub(self, topic, count=1, wait_s=5, retained_only=False, user=None):
        """Messages on topic (a list of (topic, payload)), at most count, waiting wait_s."""
        cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic, "-v",
               "-C", str(count), "-W", str(wait_s)]
        if retained_only:
            cmd.append("--retained-only")
        if user:
            cmd += ["-u", user, "-P", self.users[user]]
        if self.ca:
            cmd += ["--cafile", self.ca]
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
        return [tuple(line.split(" ", 1)) if " " in line else (line, "")
                for line in out.splitlines()]

    def retained(self, topic, user=None):
        got = self.sub(topic, wait_s=2, retained_only=True, user=user)
        return got[0][1] if got else None

    def retained_all(self, pattern):
        """Every retained message under pattern, as {topic: payload}."""
        return {topic: payload for topic, payload in
                self.sub(pattern, count=100000, wait_s=2, retained_only=True) if payload}

    def pub(self, topic, payload):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic,
                        "-m", payload], check=True, capture_output=True)


def make_certificates(dir):
    """A CA and a certificate for 127.0.0.1 signed by it; returns the CA's path."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=dir)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
            "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(dir, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt")
    for name in ("server.key", "server.crt", "ca.crt"):
        os.chmod(os.path.join(dir, name), 0o644)
    return os.path.join(dir, "ca.crt")


def check_tls(t, build):
    broker = Broker(tls=True)
    other = make_certificates(tempfile.mkdtemp(prefix="crtd-other-ca-"))
    stream = ["--stream", "kitchen=synthetic:script=Walk&segment_ms=50"]
    crtd = Crtd(build, model="none", args=stream,
                config=mqtt_config(broker, f"ca_file = {broker.ca}\n"))
    try:
        t.check("TLS: connected to a broker whose certificate the CA file signed",
                wait_until(lambda: crtd.get_json("/v1/streams")["mqtt"]["state"] == "connected",
                           10) and broker.retained(f"{P}/status") == "online")
        crtd.stop()
    finally:
        crtd.stop(timeout_s=5)
        crtd.remove()
    crtd = Crtd(build, model="none", args=stream,
                config=mqtt_config(broker, f"ca_file = {other}\n"))
    try:
        wait_until(lambda: "certificate verify failed" in
                   (crtd.get_json("/v1/streams")["mqtt"]["error"] or ""), 15)
        status = crtd.get_json("/v1/streams")["mqtt"]
        t.check(f"TLS: a broker the CA file did not sign is not trusted, and the API says why "
                f"({status['error']})",
                status["state"] != "connected" and "certificate verify failed" in
                (status["error"] or "") and crtd.get("/healthz").status == 200, str(status))
    finally:
        crtd.stop(timeout_s=5)
        crtd.remove()
        broker.remove()
        shutil.rmtree(os.path.dirname(other), ignore_errors=True)


def check_safety(t, build):
    """Home Assistant's safety entities: a binary_sensor safety per camera (on
    while a fall alert is active), a binary_sensor occupancy, and an event
    entity on a non-retained topic for every alert change."""
    broker = Broker()
    rule = ("[rule \"fall\"]\nkind = fall\nseconds = 1\n"
            "[stream \"hall\"]\nurl = synthetic:script=Walk*20,Laydown@floor*60,Walk*1000"
            "&loop=0&segment_ms=50\n")
    events = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t",
                               f"{P}/hall/alert", "-v", "-C", "3", "-W", "30"],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    crtd = Crtd(build, model="none", config=mqtt_config(broker, rule))
    try:
        cfg = {}
        for suffix, component in (("safety", "binary_sensor"), ("occupancy", "binary_sensor"),
                                  ("alert", "event")):
            text = broker.retained(f"homeassistant/{component}/{NODE}/{NODE}_hall_{suffix}/config")
            cfg[suffix] = json.loads(text or "{}")
        t.check("discovery: a binary_sensor safety per camera, on crtd/<stream>/safety",
                cfg["safety"].get("device_class") == "safety"
                and cfg["safety"].get("state_topic") == f"{P}/hall/safety"
                and cfg["safety"].get("payload_on") == "ON"
                and cfg["safety"].get("device", {}).get("identifiers") == [f"{NODE}_hall"],
                str(cfg["safety"]))
        t.check("discovery: a binary_sensor occupancy per camera",
                cfg["occupancy"].get("device_class") == "occupancy"
                and cfg["occupancy"].get("state_topic") == f"{P}/hall/occupancy",
                str(cfg["occupancy"]))
        t.check("discovery: an event entity per camera for its alerts",
                cfg["alert"].get("state_topic") == f"{P}/hall/alert"
                and "raised" in cfg["alert"].get("event_types", []), str(cfg["alert"]))
        t.check("occupancy is on while somebody is in view",
                wait_until(lambda: broker.retained(f"{P}/hall/occupancy") == "ON", 5))
        t.check("safety is off before the fall",
                broker.retained(f"{P}/hall/safety") == "OFF")
        t.check("safety turns on when the fall alert is active",
                wait_until(lambda: broker.retained(f"{P}/hall/safety") == "ON", 15))
        t.check("... and off when the person is up again (the alert cleared)",
                wait_until(lambda: broker.retained(f"{P}/hall/safety") == "OFF", 15))
        out, _ = events.communicate(timeout=30)
        got = [json.loads(line.split(" ", 1)[1]) for line in out.splitlines() if " " in line]
        types = [g.get("event_type") for g in got]
        t.check(f"an event message for every change of the alert ({types}), each an event type "
                "the event entity declares",
                types[:3] == ["raised", "confirmed", "cleared"]
                and all(ty in cfg["alert"].get("event_types", []) for ty in types)
                and all(g.get("rule") == "fall" and g.get("id") == got[0]["id"] for g in got[:3]),
                out)
        t.check("alert events are not retained", broker.retained(f"{P}/hall/alert") is None)
    finally:
        events.kill()
        crtd.stop(timeout_s=5)
        crtd.remove()
        broker.remove()


def mqtt_config(broker, extra=""):
    return ("[daemon]\nhysteresis_s = 0\n[mqtt]\nhost = 127.0.0.1\n"
            f"port = {broker.port}\nclient_id = {NODE}\n{extra}")


def check_publishing(t, build):
    broker = Broker()
    # What a crtd before per-instance topics left retained on the broker.
    old = f"homeassistant/sensor/{NODE}/kitchen/config"
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", old, "-r",
                    "-m", '{"name": "kitchen activity", "state_topic": "crtd/kitchen/activity"}'],
                   check=True)
    # The script ends holding Sitdown: a stable activity to compare.
    crtd = Crtd(build, model="none", config=mqtt_config(broker), args=[
        "--stream",
        "kitchen=synthetic:script=Walk*3,Sitdown&person=2:Readbook&loop=0&segment_ms=50"])
    try:
        t.check("status is online", broker.retained(f"{P}/status") == "online")
        t.check("the discovery config of the old topic layout is emptied",
                wait_until(lambda: broker.retained(old) is None, 5))
        wait_until(lambda: crtd.get_json("/v1/streams/kitchen/activity")["label"] == "Sitdown", 10)
        api = crtd.get_json("/v1/streams/kitchen/activity")
        text = broker.retained(f"{P}/kitchen/activity")
        got = json.loads(text) if text else {}
        t.check(f"the retained activity is the API's (label {got.get('label')}, score "
                f"{got.get('score')}, since {got.get('since')})",
                got.get("label") == api["label"] == "Sitdown" and got["since"] == api["since"]
                and abs(got["score"] - api["score"]) < 1e-6 and len(got["top"]) == 3
                and "previous" not in got, text)
        state = json.loads(broker.retained(f"{P}/kitchen/state") or "{}")
        t.check("the retained state says running", state.get("state") == "running", str(state))
        config = json.loads(broker.retained(
            f"homeassistant/sensor/{NODE}/{NODE}_kitchen_activity/config") or "{}")
        avail = [a.get("topic") for a in config.get("availability", [])]
        t.check("Home Assistant discovery: a sensor on the activity topic, available with the "
                "instance's status and the camera's",
                config.get("state_topic") == f"{P}/kitchen/activity"
                and config.get("json_attributes_topic") == f"{P}/kitchen/activity"
                and avail == [f"{P}/status", f"{P}/kitchen/available"]
                and config.get("availability_mode") == "all"
                and config.get("unique_id") == f"{NODE}_kitchen_activity"
                and "value_json.label" in config.get("value_template", ""), str(config))
        people = json.loads(broker.retained(
            f"homeassistant/sensor/{NODE}/{NODE}_kitchen_people/config") or "{}")
        t.check("Home Assistant discovery: a person-count sensor per camera, on the same device",
                people.get("state_topic") == f"{P}/kitchen/people"
                and people.get("unique_id") == f"{NODE}_kitchen_people"
                and people.get("device", {}).get("identifiers") == [f"{NODE}_kitchen"],
                str(people))
        t.check("... and its state: two people in view",
                wait_until(lambda: broker.retained(f"{P}/kitchen/people") == "2", 5),
                str(broker.retained(f"{P}/kitchen/people")))
        # On change, not every segment: the activity holds while segments go on.
        segments = crtd.streams()["kitchen"]["segments"]
        fresh = broker.sub(f"{P}/kitchen/activity", count=5, wait_s=2)
        fresh = [m for m in fresh if m[1] != text]
        t.check("no activity message while it does not change (segments go on)",
                not fresh and crtd.streams()["kitchen"]["segments"] > segments + 10, str(fresh))

        r = request(crtd.port, "POST", "/v1/streams", token=Crtd.TOKEN,
                    body='{"name":"hall.2","url":"synthetic:script=Walk&segment_ms=50"}')
        t.check("a stream added through the API", r.status == 201, r.body)
        topic = f"homeassistant/sensor/{NODE}/{NODE}_hall_2_activity/config"
        t.check("... gets its discovery config",
                wait_until(lambda: broker.retained(topic) is not None, 5))
        request(crtd.port, "DELETE", "/v1/streams/hall.2", token=Crtd.TOKEN)
        t.check("... which is removed with the stream (and its activity and person count)",
                wait_until(lambda: broker.retained(topic) is None
                           and broker.retained(f"{P}/hall.2/activity") is None
                           and broker.retained(f"homeassistant/sensor/{NODE}/{NODE}_hall_2_people/"
                                               "config") is None
                           and broker.retained(f"{P}/hall.2/people") is None, 5))

        status = crtd.get_json("/v1/streams")["mqtt"]
        t.check("/v1/streams says connected", status["state"] == "connected"
                and status["broker"] == f"127.0.0.1:{broker.port}", str(status))
        t.check("/metrics has crtd_mqtt_connected 1",
                "crtd_mqtt_connected 1" in crtd.get("/metrics").body)

        broker.stop()
        down = wait_until(lambda: crtd.get_json("/v1/streams")["mqtt"]["state"] != "connected",
                          10)
        t.check("broker stopped: /v1/streams no longer says connected, crtd answers",
                down and crtd.get("/healthz").status == 200,
                str(crtd.get_json("/v1/streams")["mqtt"]))
        t.check("... and /metrics has crtd_mqtt_connected 0",
                "crtd_mqtt_connected 0" in crtd.get("/metrics").body)
        broker.start()  # a new broker: nothing retained until crtd publishes again
        back = wait_until(lambda: crtd.get_json("/v1/streams")["mqtt"]["state"] == "connected",
                          30, 0.5)
        status = crtd.get_json("/v1/streams")["mqtt"]
        t.check(f"broker back: connected again (reconnects {status['reconnects']})",
                back and status["reconnects"] >= 1, str(status))
        text = broker.retained(f"{P}/kitchen/activity")
        t.check("... and the current state was published again",
                broker.retained(f"{P}/status") == "online" and text
                and json.loads(text)["label"] == "Sitdown", str(text))

        crtd.stop(signal.SIGKILL)
        t.check("crtd killed: the last will says offline",
                wait_until(lambda: broker.retained(f"{P}/status") == "offline", 10))
    finally:
        crtd.stop(timeout_s=5)
        if t.failed:
            print(crtd.log_text()[-3000:], file=sys.stderr)
        crtd.remove()
        broker.remove()


def check_passwords(t, build):
    broker = Broker(users={"crtd": PASSWORD, "reader": "reader-password"})
    good = os.path.join(broker.dir, "crtd-password")
    bad = os.path.join(broker.dir, "wrong-password")
    for path, text in ((good, PASSWORD), (bad, "not-the-password")):
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, 0o600)
    stream = ["--stream", "kitchen=synthetic:script=Walk&segment_ms=50"]
    crtd = Crtd(build, model="none", args=stream, config=mqtt_config(
        broker, f"username = crtd\npassword_file = {good}\n"))
    try:
        t.check("password file: connected to a broker that wants one",
                wait_until(lambda: crtd.get_json("/v1/streams")["mqtt"]["state"] == "connected",
                           10) and broker.retained(f"{P}/status", user="reader") == "online")
        status = crtd.stop()
        t.check("a clean stop says offline", status == 0 and
                broker.retained(f"{P}/status", user="reader") == "offline")
        t.check("the password appears nowhere in the log", PASSWORD not in crtd.log_text())
    finally:
        crtd.stop(timeout_s=5)
        crtd.remove()
    crtd = Crtd(build, model="none", args=stream, config=mqtt_config(
        broker, f"username = crtd\npassword_file = {bad}\n"))
    try:
        refused = wait_until(lambda: crtd.get_json("/v1/streams")["mqtt"]["error"] is not None,
                             10)
        status = crtd.get_json("/v1/streams")["mqtt"]
        t.check(f"wrong password: the API says why ({status['error']})",
                refused and status["state"] != "connected"
                and "not authori" in (status["error"] or ""), str(status))
        t.check("wrong password: a clear line in the log",
                "refused the connection: Connection Refused: not authorised" in crtd.log_text(),
                crtd.log_text()[-500:])
        n = crtd.streams()["kitchen"]["segments"]
        t.check("wrong password: crtd keeps serving and classifying",
                wait_until(lambda: crtd.streams()["kitchen"]["segments"] > n + 5, 10)
                and crtd.get("/healthz").status == 200)
        t.check("wrong password: crtd stops cleanly", crtd.stop() == 0)
    finally:
        crtd.stop(timeout_s=5)
        crtd.remove()
        broker.remove()
    # A password file that cannot be read is a start-up error naming it.
    out = subprocess.run([os.path.join(build, "daemon", "crtd"), "--model", "none", "--listen",
                          "127.0.0.1:0", "--state-dir", tempfile.mkdtemp(), "--config",
                          write_temp(f"[mqtt]\nhost = 127.0.0.1\npassword_file = /nonexistent/pw\n")],
                         capture_output=True, text=True, timeout=20)
    t.check("an unreadable password file stops crtd with a message naming it",
            out.returncode == 1 and "/nonexistent/pw" in out.stderr, out.stderr[-300:])


# ---- Home Assistant, as it expects ------------------------------------------

def render(template, payload):
    """A value template rendered as Home Assistant renders it: Jinja2, with
    value (the payload) and value_json (the payload as JSON)."""
    import jinja2
    try:
        value_json = json.loads(payload)
    except ValueError:
        value_json = None
    return jinja2.Environment().from_string(template).render(value=payload,
                                                             value_json=value_json).strip()


def discovered(broker, node):
    """The discovery configs of one instance: {topic: (component, config)}."""
    out = {}
    for topic, payload in broker.retained_all("homeassistant/#").items():
        parsed = ha.parse_topic(topic)
        if parsed and parsed[1] == node:
            out[topic] = (parsed[0], json.loads(payload))
    return out


def available(config, retained):
    """Whether Home Assistant shows the entity available, from what the broker
    retains: availability_mode all needs payload_available on every topic."""
    items = config.get("availability") or []
    got = [retained.get(a["topic"]) == a.get("payload_available", "online") for a in items]
    mode = config.get("availability_mode", "latest")
    return all(got) if mode == "all" else any(got) if mode == "any" else got[-1] if got else True


def check_home_assistant(t, build):
    """Every discovery payload against Home Assistant's documented schema;
    devices, availability, the enum sensor's options, entity ids as docs/MQTT.md
    lists them, the diagnostic entities, site and room, and the privacy
    switch through its command topic."""
    broker = Broker()
    model = os.path.join(ROOT, "models", "default.safetensors")
    rooms = ('[stream "kitchen"]\nurl = synthetic:script=Walk*3,Sitdown&person=2:Readbook'
             '&loop=0&segment_ms=50\nsite = Rose wing\nroom = Kitchen\n'
             '[stream "hall.2"]\nurl = synthetic:script=Walk&segment_ms=50\n')
    crtd = Crtd(build, model=model, config=mqtt_config(broker, "diagnostics_s = 1\n" + rooms))
    try:
        version = subprocess.run([os.path.join(build, "daemon", "crtd"), "--version"],
                                 capture_output=True, text=True).stdout.split()[-1]
        classes = crtd.get_json("/v1/model")["classes"]
        wait_until(lambda: broker.retained(f"{P}/kitchen/available") == "online"
                   and broker.retained(f"{P}/kitchen/diagnostics") is not None, 15)
        configs = discovered(broker, NODE)
        problems = [p for topic, (_, c) in configs.items() for p in ha.check(topic, c)]
        t.check(f"{len(configs)} discovery payloads, each valid against Home Assistant's "
                "documented schema", len(configs) >= 23 and not problems,
                "\n".join(problems[:20]))
        by_object = {topic.split("/")[3]: (comp, c) for topic, (comp, c) in configs.items()}
        t.check("object ids and unique ids start with the instance, and no two are alike",
                all(o.startswith(NODE + "_") and c.get("unique_id", "").startswith(NODE + "_")
                    for o, (_, c) in by_object.items())
                and len({c.get("unique_id") for _, c in by_object.values()}) == len(by_object),
                str(sorted(by_object)))
        host = [c for comp, c in by_object.values() if c["device"].get("identifiers") == [NODE]]
        t.check("the crtd host is a device of its own (a connectivity sensor on the status topic)",
                len(host) == 1 and host[0].get("device_class") == "connectivity"
                and host[0].get("state_topic") == f"{P}/status"
                and broker.retained(f"{P}/status") == host[0].get("payload_on"), str(host))
        kitchen = {o[len(NODE) + len("_kitchen_"):]: (comp, c) for o, (comp, c) in
                   by_object.items() if o.startswith(f"{NODE}_kitchen_")}
        devices = [c["device"] for _, c in kitchen.values()]
        t.check(f"one device per camera ({len(kitchen)} entities), via the host's, in the room "
                "the configuration names",
                len(kitchen) >= 11
                and all(d.get("identifiers") == [f"{NODE}_kitchen"] and d.get("name") == "kitchen"
                        and d.get("via_device") == NODE and d.get("suggested_area") == "Kitchen"
                        for d in devices), json.dumps(devices[:1]))
        hall = [c["device"] for o, (_, c) in by_object.items() if o.startswith(f"{NODE}_hall_2_")]
        t.check("a camera without a room suggests no area",
                hall and all("suggested_area" not in d and d.get("name") == "hall.2"
                             for d in hall), json.dumps(hall[:1]))
        t.check(f"every payload has an origin block: crtd {version}",
                all(c.get("origin") == {"name": "crtd", "sw_version": version}
                    for _, c in by_object.values()))
        with_frames = {"activity", "people", "occupancy", "fps", "gate"}
        wrong = [o for o, (_, c) in kitchen.items()
                 if c.get("availability_mode") != "all"
                 or [a["topic"] for a in c.get("availability", [])]
                 != [f"{P}/status"] + ([f"{P}/kitchen/available"] if o in with_frames else [])]
        t.check("availability: the instance's status, and the camera's for what comes from its "
                "frames, with availability_mode all", not wrong, str(wrong))

        activity = kitchen["activity"][1]
        t.check(f"the activity sensor is an enum of the model's {len(classes)} classes, nobody "
                "and unknown",
                activity.get("device_class") == "enum"
                and sorted(activity.get("options", [])) == sorted(set(classes) |
                                                                  {"nobody", "unknown"}),
                str(activity.get("options")))
        wait_until(lambda: json.loads(broker.retained(f"{P}/kitchen/activity") or "{}")
                   .get("label") is not None, 10)
        retained = broker.retained_all(f"{P}/#")
        states = {}
        for o, (comp, c) in kitchen.items():
            payload = retained.get(c["state_topic"])
            if comp == "event" or payload is None:
                continue
            states[o] = render(c["value_template"], payload) if "value_template" in c \
                else payload
        api = crtd.streams()["kitchen"]
        t.check(f"the activity sensor's state, rendered as Home Assistant does, is one of its "
                f"options ({states.get('activity')}) and the API's label",
                states.get("activity") in activity.get("options", [])
                and states.get("activity") == api["activity"]["label"], str(states))
        t.check(f"the motion gate's state is one of its options ({states.get('gate')})",
                states.get("gate") in kitchen["gate"][1].get("options", []), str(states))
        t.check("binary sensors are ON or OFF as they declare",
                all(states.get(o) in (kitchen[o][1]["payload_on"], kitchen[o][1]["payload_off"])
                    for o in ("occupancy", "safety")), str(states))
        diagnostic = {o for o, (_, c) in kitchen.items()
                      if c.get("entity_category") == "diagnostic"}
        t.check(f"diagnostic entities: {sorted(diagnostic)}",
                diagnostic == {"fps", "reconnects", "pose_frames", "gated_frames", "gate"})
        t.check(f"diagnostics: fps {states.get('fps')}, reconnects {states.get('reconnects')}, "
                f"the API's {api['fps_measured']:.1f} and {api['reconnects']}",
                float(states.get("fps", -1)) > 0 and int(states.get("reconnects", -1))
                == api["reconnects"] and int(states.get("pose_frames", -1)) >= 0
                and int(states.get("gated_frames", -1)) >= 0, str(states))
        attributes = json.loads(retained.get(activity["json_attributes_topic"], "{}"))
        t.check("the activity's attributes say where the camera is",
                attributes.get("site") == "Rose wing" and attributes.get("room") == "Kitchen",
                str(attributes)[:300])
        t.check("... and so do the API and /metrics",
                api["site"] == "Rose wing" and api["room"] == "Kitchen"
                and 'crtd_stream_up{stream="kitchen",site="Rose wing",room="Kitchen"} 1'
                in crtd.get("/metrics").body
                and 'crtd_stream_up{stream="hall.2"}' in crtd.get("/metrics").body)
        history = crtd.get_json("/v1/streams/kitchen/history")["intervals"]
        t.check("... and every history interval",
                history and all(i.get("site") == "Rose wing" and i.get("room") == "Kitchen"
                                for i in history), str(history[-1:]))

        ids = {o: ha.entity_id(comp, c) for o, (comp, c) in kitchen.items()}
        with open(os.path.join(ROOT, "docs", "MQTT.md")) as f:
            doc = f.read()
        documented = set(re.findall(r"\b(?:sensor|binary_sensor|switch|event)\.kitchen_\w+", doc))
        # Home Assistant's birth message asks for discovery again.
        topic = next(tp for tp in configs if tp.endswith(f"{NODE}_kitchen_activity/config"))
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic,
                        "-r", "-n"], check=True)
        gone = broker.retained(topic) is None
        broker.pub("homeassistant/status", "online")
        t.check("Home Assistant's birth message (homeassistant/status online) has discovery "
                "published again", gone and wait_until(lambda: broker.retained(topic), 5))

        t.check(f"docs/MQTT.md lists the entity ids Home Assistant makes ({len(ids)}), and no "
                "other", set(ids.values()) == documented,
                f"made {sorted(ids.values())}, documented {sorted(documented)}")

        # The privacy switch, through its command topic, as Home Assistant sends it.
        switch = kitchen["privacy"][1]
        t.check("the privacy switch: a command topic, its state retained OFF",
                switch.get("command_topic") == f"{P}/kitchen/paused/set"
                and retained.get(switch["state_topic"]) == switch.get("payload_off"),
                str(switch))
        broker.pub(switch["command_topic"], switch["payload_on"])
        paused = wait_until(lambda: crtd.streams()["kitchen"]["paused"]
                            and broker.retained(switch["state_topic"]) == "ON", 10)
        api = crtd.streams()["kitchen"]
        t.check(f"switched on: the stream is paused (state {api['state']}) and the switch says so",
                paused and api["state"] == "paused", str(api["state"]))
        segments = api["segments"]
        time.sleep(1.5)
        retained = broker.retained_all(f"{P}/#")
        t.check("... no segment is classified while paused",
                crtd.streams()["kitchen"]["segments"] == segments)
        t.check("... the camera's entities are unavailable, the switch and the safety sensor "
                "are not",
                not available(activity, retained) and available(switch, retained)
                and available(kitchen["safety"][1], retained)
                and available(kitchen["reconnects"][1], retained))
        broker.pub(switch["command_topic"], "neither")
        broker.pub(switch["command_topic"], switch["payload_off"])
        resumed = wait_until(lambda: crtd.streams()["kitchen"]["state"] == "running"
                             and broker.retained(f"{P}/kitchen/available") == "online", 15)
        t.check("switched off: running again, available again, the bad payload named in the log",
                resumed and not crtd.streams()["kitchen"]["paused"]
                and broker.retained(switch["state_topic"]) == "OFF"
                and "payload 'neither' is neither ON nor OFF" in crtd.log_text())
        t.check("... and the pause is a gap in the history",
                any(not i["open"] for i in crtd.get_json("/v1/streams/kitchen/history")
                    ["intervals"]))
    finally:
        crtd.stop(timeout_s=5)
        if t.failed:
            print(crtd.log_text()[-3000:], file=sys.stderr)
        crtd.remove()
        broker.remove()


def check_three_instances(t, build):
    """Three crtd instances, each with a camera called kitchen, publish to one
    broker; killing one (its last will fires) makes its entities unavailable
    and only its."""
    broker = Broker()
    nodes = ["node-a", "node-b", "node-c"]
    instances = {}
    try:
        for node in nodes:
            instances[node] = Crtd(build, model="none", args=[
                "--stream", "kitchen=synthetic:script=Walk,Sitdown&segment_ms=50"],
                config=mqtt_config(broker).replace(f"client_id = {NODE}", f"client_id = {node}"))
        ports = {node: c.port for node, c in instances.items()}
        up = wait_until(lambda: all(broker.retained(f"crtd/{n}/kitchen/available") == "online"
                                    for n in nodes), 15)
        configs = {n: discovered(broker, n) for n in nodes}
        unique = [c.get("unique_id") for n in nodes for _, c in configs[n].values()]
        t.check(f"three instances on loopback ports {sorted(ports.values())}, each with its "
                f"own {len(configs['node-a'])} entities under its own topics",
                up and len(set(ports.values())) == 3
                and all(len(configs[n]) == len(configs["node-a"]) >= 12 for n in nodes)
                and len(set(unique)) == len(unique), str({n: len(c) for n, c in configs.items()}))
        retained = broker.retained_all("crtd/#")
        t.check("all of them available",
                all(available(c, retained) for n in nodes for _, c in configs[n].values()))

        instances["node-b"].stop(signal.SIGKILL)
        t.check("node-b killed: its last will says offline",
                wait_until(lambda: broker.retained("crtd/node-b/status") == "offline", 10))
        retained = broker.retained_all("crtd/#")
        gone = [c["unique_id"] for _, c in configs["node-b"].values()
                if c.get("availability") and available(c, retained)]
        stayed = [c["unique_id"] for n in ("node-a", "node-c") for _, c in configs[n].values()
                  if not available(c, retained)]
        t.check("... every entity of node-b is unavailable (but its connectivity sensor, which "
                "shows disconnected)", not gone, str(gone))
        host_b = [c for _, c in configs["node-b"].values() if not c.get("availability")]
        t.check("... which says disconnected",
                len(host_b) == 1 and retained.get(host_b[0]["state_topic"])
                == host_b[0]["payload_off"])
        t.check("... and every entity of node-a and node-c stays available", not stayed,
                str(stayed))
    finally:
        for c in instances.values():
            c.stop(timeout_s=5)
            c.remove()
        broker.remove()


def check_pause_outlasts_restart(t, build):
    """A camera paused through the switch stays paused when crtd restarts on
    the same state directory, until it is switched off."""
    broker = Broker()
    state = tempfile.mkdtemp(prefix="crtd-mqtt-state-")
    args = ["--state-dir", state, "--stream", "kitchen=synthetic:script=Walk&segment_ms=50"]
    crtd = Crtd(build, model="none", args=args, config=mqtt_config(broker))
    try:
        wait_until(lambda: broker.retained(f"{P}/kitchen/available") == "online", 10)
        broker.pub(f"{P}/kitchen/paused/set", "ON")
        t.check("paused through the switch",
                wait_until(lambda: crtd.streams()["kitchen"]["paused"], 10))
        crtd.stop()
        crtd.remove()
        crtd = Crtd(build, model="none", args=args, config=mqtt_config(broker))
        kitchen = crtd.streams()["kitchen"]
        t.check(f"after a restart the camera is still paused (state {kitchen['state']}), and "
                "the switch says so",
                kitchen["paused"] and kitchen["state"] == "paused" and kitchen["segments"] == 0
                and wait_until(lambda: broker.retained(f"{P}/kitchen/paused") == "ON", 5)
                and broker.retained(f"{P}/kitchen/available") == "offline", str(kitchen))
        broker.pub(f"{P}/kitchen/paused/set", "OFF")
        t.check("... until it is switched off",
                wait_until(lambda: crtd.streams()["kitchen"]["state"] == "running", 10))
    finally:
        crtd.stop(timeout_s=5)
        crtd.remove()
        broker.remove()
        shutil.rmtree(state, ignore_errors=True)


def check_no_privacy_switch(t, build):
    """privacy_switch = no: no switch is offered and the broker cannot pause
    a camera."""
    broker = Broker()
    crtd = Crtd(build, model="none", args=["--stream", "kitchen=synthetic:script=Walk&segment_ms=50"],
                config=mqtt_config(broker, "privacy_switch = no\n"))
    try:
        wait_until(lambda: broker.retained(f"{P}/kitchen/available") == "online", 10)
        configs = discovered(broker, NODE)
        t.check("privacy_switch = no: no switch among the camera's entities",
                configs and not any(comp == "switch" for comp, _ in configs.values()))
        broker.pub(f"{P}/kitchen/paused/set", "ON")
        time.sleep(1)
        kitchen = crtd.streams()["kitchen"]
        t.check("... and a command does not pause the camera",
                not kitchen["paused"] and kitchen["state"] == "running"
                and crtd.get_json("/v1/streams")["mqtt"]["commands"] == 0, str(kitchen["state"]))
    finally:
        crtd.stop(timeout_s=5)
        crtd.remove()
        broker.remove()


def write_temp(text):
    fd, path = tempfile.mkstemp(suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def main():
    build, _ = parse_args(sys.argv)
    if not shutil.which("mosquitto") or not shutil.which("mosquitto_sub"):
        print("mosquitto and mosquitto-clients are missing (scripts/setup installs them)")
        sys.exit(77)
    try:
        import jinja2  # noqa: F401
    except ImportError:
        print("python3-jinja2 is missing (scripts/setup installs it)")
        sys.exit(77)
    t = Checks()
    check_publishing(t, build)
    check_home_assistant(t, build)
    check_three_instances(t, build)
    check_pause_outlasts_restart(t, build)
    check_no_privacy_switch(t, build)
    check_safety(t, build)
    check_passwords(t, build)
    check_tls(t, build)
    t.finish()


if __name__ == "__main__":
    main()
