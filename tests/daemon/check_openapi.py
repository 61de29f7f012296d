#!/usr/bin/python3
"""Checks api/openapi.yaml against the code and the running daemon.

1. The spec lists exactly the routes and methods of api/route.c.
2. A real crtd on 127.0.0.1 answers every documented operation; each status
   is one the spec documents for that operation, and each JSON body (and each
   SSE event's data) is valid against the documented schema.

Usage: check_openapi.py OPENAPI_YAML ROUTE_C CRTD_BINARY [MODEL]
With MODEL (a model file that exists), GET /v1/model is also checked with
that model loaded.
The schema checker is a small subset of JSON Schema written here: type
(with "null"), enum, required, properties, additionalProperties, items,
minimum/maximum, minItems/maxItems, pattern, format date-time, oneOf, allOf,
$ref.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import yaml

TOKEN = "openapi-test-token-0123456789"
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


# ---- a small JSON Schema subset ---------------------------------------------

DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def resolve(spec, schema):
    while "$ref" in schema:
        path = schema["$ref"].lstrip("#/").split("/")
        node = spec
        for p in path:
            node = node[p]
        schema = node
    return schema


def type_ok(value, t):
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    raise ValueError("unknown type " + t)


def validate(spec, schema, value, where):
    """Returns a list of problems."""
    schema = resolve(spec, schema)
    problems = []
    if "oneOf" in schema:
        matches = sum(1 for s in schema["oneOf"] if not validate(spec, s, value, where))
        if matches != 1:
            problems.append(f"{where}: {value!r} matches {matches} of oneOf")
        return problems
    for s in schema.get("allOf", []):
        problems += validate(spec, s, value, where)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(value, t) for t in types):
            return problems + [f"{where}: {value!r} is not {types}"]
    if value is None:
        return problems
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if schema.get("format") == "date-time" and not DATE_TIME.match(value):
            problems.append(f"{where}: {value!r} is not a date-time")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                problems += validate(spec, schema["items"], item, f"{where}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{where}: missing '{key}'")
        for key, item in value.items():
            if key in props:
                problems += validate(spec, props[key], item, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{where}: unexpected '{key}'")
    return problems


# ---- the spec against the route table ---------------------------------------

def routes_in_code(route_c):
    text = open(route_c).read()
    routes = {}
    for pattern, methods in re.findall(r'\{API_ROUTE_\w+, "([^"]+)",\s*([A-Z_| \n]+)\}', text):
        routes[pattern] = {m.lower() for m in re.findall(r"API_METHOD_(\w+)", methods)} - {"head"}
    return routes


def check_routes(spec, route_c):
    code = routes_in_code(route_c)
    if len(code) < 9:
        fail(f"found only {len(code)} routes in {route_c}")
    documented = {p: {m for m in ops if m in ("get", "post", "delete", "put", "patch")}
                  for p, ops in spec["paths"].items()}
    for path in sorted(set(code) | set(documented)):
        if code.get(path) != documented.get(path):
            fail(f"{path}: code has {sorted(code.get(path, []))}, "
                 f"openapi.yaml has {sorted(documented.get(path, []))}")


# ---- the running daemon ------------------------------------------------------

class Daemon:
    def __init__(self, crtd, tmp, model="none"):
        self.tmp = tmp
        token = os.path.join(tmp, "token")
        with open(token, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(token, 0o600)
        conf = os.path.join(tmp, "crtd.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\nhysteresis_s = 0\n[server]\nsse_heartbeat_s = 0.2\n"
                    "max_sse_clients = 1\nmax_connections = 8\n"
                    "[rule \"lounging\"]\nkind = in_zone_longer\nzone = whole\nseconds = 0.2\n")
        self.log = open(os.path.join(tmp, "crtd.log"), "w+")
        self.proc = subprocess.Popen(
            [crtd, "--config", conf, "--model", model, "--listen", "127.0.0.1:0", "--state-dir",
             os.path.join(tmp, "state"), "--token-file", token, "--stream",
             "conf=synthetic:script=Walk*2,none*2&person=2:Sitdown*4&segment_ms=40&loop=0"],
            stdout=self.log, stderr=self.log)
        self.port = None
        for _ in range(200):
            self.log.seek(0)
            m = re.search(r"\(port (\d+)\)", self.log.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not self.port:
            self.log.seek(0)
            raise SystemExit("crtd did not start: " + self.log.read())

    def request(self, method, path, body=None, token=True, headers=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=body.encode() if body is not None else None)
        if token:
            req.add_header("Authorization", "Bearer " + TOKEN)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("crtd did not stop on SIGTERM")
            return
        if code != 0:
            fail(f"crtd exited {code}")


def check_response(spec, path, method, status, headers, body, seen):
    op = spec["paths"][path][method]
    seen.add((path, method, str(status)))
    responses = op["responses"]
    if str(status) not in responses:
        fail(f"{method.upper()} {path}: status {status} is not documented ({sorted(responses)})")
        return
    response = resolve(spec, responses[str(status)])
    content = response.get("content")
    if not content:
        if body:
            fail(f"{method.upper()} {path} {status}: documented without a body, got {body!r}")
        return
    ctype = headers.get("Content-Type", "").split(";")[0]
    if ctype not in content:
        fail(f"{method.upper()} {path} {status}: Content-Type {ctype}, documented {list(content)}")
        return
    if ctype == "application/json":
        problems = validate(spec, content[ctype]["schema"], json.loads(body),
                            f"{method.upper()} {path} {status}")
        for p in problems:
            fail(p)


def check_events(spec, d):
    """Reads the event stream until an activity, a status and a stream event came."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    s.sendall(f"GET /v1/events HTTP/1.0\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, buf = buf.split(b"\r\n\r\n", 1)
    if b" 200 " not in head.split(b"\r\n")[0] or b"text/event-stream" not in head:
        fail(f"/v1/events: {head!r}")
        return
    # A second client is over max_sse_clients = 1.
    status, headers, body = d.request("GET", "/v1/events")
    check_response(spec, "/v1/events", "get", status, headers, body, set())
    if status != 429:
        fail(f"second SSE client: {status}, expected 429")
    d.request("POST", "/v1/streams",
              json.dumps({"name": "ev", "url": "synthetic:script=Walk*100,none&segment_ms=30&loop=0"}))
    kinds = {"activity": "ActivityEvent", "status": "StatusEvent", "stream": "StreamEvent",
             "person": "PersonEvent", "alert": "Alert"}
    # An alert event: a zone over the whole picture of the new stream.
    threading.Timer(0.3, lambda: d.request(
        "PUT", "/v1/streams/ev/zones/whole",
        '{"kind":"area","points":"0,0 1,0 1,1 0,1"}')).start()
    got = set()
    heartbeat = False
    deadline = time.monotonic() + 15
    while len(got) < len(kinds) and time.monotonic() < deadline:
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            lines = block.decode().split("\n")
            if lines and lines[0].startswith(": heartbeat"):
                heartbeat = True
            fields = dict(line.split(": ", 1) for line in lines if ": " in line
                          and not line.startswith(":"))
            if "event" not in fields:
                continue
            if not fields.get("id", "").isdigit():
                fail(f"event without a numeric id: {block!r}")
            kind = fields["event"]
            if kind not in kinds:
                fail(f"undocumented event type {kind}")
                continue
            got.add(kind)
            for p in validate(spec, {"$ref": "#/components/schemas/" + kinds[kind]},
                              json.loads(fields["data"]), f"event {kind}"):
                fail(p)
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    if got != set(kinds):
        fail(f"events seen: {sorted(got)}, expected {sorted(kinds)}")
    # Let a heartbeat come (0.2 s without events).
    s.settimeout(5)
    deadline = time.monotonic() + 5
    while not heartbeat and time.monotonic() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            break
        heartbeat = b": heartbeat" in chunk
    if not heartbeat:
        fail("no SSE heartbeat")
    s.close()


def main():
    openapi, route_c, crtd = sys.argv[1:4]
    spec = yaml.safe_load(open(openapi))
    if not str(spec.get("openapi", "")).startswith("3."):
        fail("not an OpenAPI 3 document")
    check_routes(spec, route_c)

    seen = set()
    with tempfile.TemporaryDirectory() as tmp:
        d = Daemon(crtd, tmp)
        try:
            def call(method, path, spec_path=None, body=None, token=True, want=None, headers=None):
                status, headers_, text = d.request(method.upper(), path, body, token, headers)
                check_response(spec, spec_path or path.split("?")[0], method, status, headers_,
                               text, seen)
                if want is not None and status != want:
                    fail(f"{method.upper()} {path}: {status}, expected {want}: {text}")
                return status, text

            call("get", "/healthz", token=False, want=200)
            call("get", "/readyz", token=False, want=200)
            call("get", "/v1/streams", token=False, want=401)
            call("post", "/v1/streams", body='{"name":"api1","url":"synthetic:script=Sitdown'
                 '&segment_ms=40&loop=0"}', want=201)
            call("post", "/v1/streams", body='{"name":"api1","url":"synthetic:script=Walk"}',
                 want=409)
            call("post", "/v1/streams", body='{"name":', want=400)
            call("post", "/v1/streams", body='{"name":"x","url":"y","extra":1}', want=400)
            # The video options: a body the spec accepts is one the daemon
            # takes, and one the spec refuses the daemon refuses too.
            request = {"$ref": "#/components/schemas/StreamRequest"}
            good = {"name": "api2", "url": "synthetic:script=Walk&segment_ms=40",
                    "transport": "udp", "max_side": 320, "ffmpeg_options": "probesize=32768",
                    "backoff_min_s": 0.5}
            for p in validate(spec, request, good, "StreamRequest"):
                fail(p)
            call("post", "/v1/streams", body=json.dumps(good), want=201)
            for field, value in (("transport", "quic"), ("max_side", "640"),
                                 ("hwaccel", "cuda"), ("motion_dilation", 17)):
                bad = {"name": "bad", "url": "synthetic:script=Walk", field: value}
                if not validate(spec, request, bad, "StreamRequest"):
                    fail(f"the spec takes {field} = {value!r}, which crtd refuses")
                call("post", "/v1/streams", body=json.dumps(bad), want=400)
            call("post", "/v1/streams", body="[" + " " * 70000 + "]", want=413)
            time.sleep(0.5)
            call("get", "/v1/streams", want=200)
            for name in ("conf", "api1", "api2"):
                call("get", f"/v1/streams/{name}", "/v1/streams/{name}", want=200)
                call("get", f"/v1/streams/{name}/activity", "/v1/streams/{name}/activity",
                     want=200)
                call("get", f"/v1/streams/{name}/history?since=0&limit=5",
                     "/v1/streams/{name}/history", want=200)
            call("get", "/v1/streams/conf/pose", "/v1/streams/{name}/pose", want=200)
            call("get", "/v1/streams/nope/pose", "/v1/streams/{name}/pose", want=404)
            call("get", "/v1/streams/conf/people", "/v1/streams/{name}/people", want=200)
            call("get", "/v1/streams/nope/people", "/v1/streams/{name}/people", want=404)
            call("get", "/", token=False, want=200)
            call("get", "/ui/dashboard.js", "/ui/{name}", token=False, want=200)
            call("get", "/ui/dashboard.css", "/ui/{name}", token=False, want=200)
            call("get", "/ui/nope.js", "/ui/{name}", token=False, want=404)
            call("get", "/v1/streams/nope", "/v1/streams/{name}", want=404)
            call("get", "/v1/streams/nope/activity", "/v1/streams/{name}/activity", want=404)
            call("get", "/v1/streams/conf/history?until=soon", "/v1/streams/{name}/history",
                 want=400)
            call("get", "/v1/streams/nope/history", "/v1/streams/{name}/history", want=404)
            call("get", "/v1/history?streams=conf&limit=5", "/v1/history", want=200)
            call("get", "/v1/history?since=0&labels=Walk,Sitdown&site=x&room=y&track=1",
                 "/v1/history", want=200)
            call("get", "/v1/history?before_id=x", "/v1/history", want=400)
            call("get", "/v1/history?color=red", "/v1/history", want=400)
            call("delete", "/v1/streams/conf", "/v1/streams/{name}", want=403)
            call("delete", "/v1/streams/nope", "/v1/streams/{name}", want=404)
            call("get", "/v1/model", want=404)
            zp = "/v1/streams/{name}/zones/{item}"
            call("get", "/v1/streams/conf/zones", "/v1/streams/{name}/zones", want=200)
            call("get", "/v1/streams/nope/zones", "/v1/streams/{name}/zones", want=404)
            call("put", "/v1/streams/conf/zones/bed", zp,
                 body='{"kind":"bed","points":[[0.1,0.5],[0.4,0.5],[0.4,0.9]]}', want=201)
            call("put", "/v1/streams/conf/zones/bed", zp,
                 body='{"kind":"seat","points":"0.1,0.5 0.4,0.5 0.4,0.9"}', want=200)
            call("put", "/v1/streams/conf/zones/bad", zp,
                 body='{"kind":"bed","points":"0.1,0.1 0.5,0.5 0.5,0.1 0.1,0.5"}', want=400)
            call("put", "/v1/streams/nope/zones/bed", zp,
                 body='{"kind":"bed","points":"0.1,0.5 0.4,0.5 0.4,0.9"}', want=404)
            call("get", "/v1/streams/conf/zones/bed", zp, want=200)
            call("get", "/v1/streams/conf/zones/nope", zp, want=404)
            call("delete", "/v1/streams/conf/zones/bed", zp, want=204)
            call("delete", "/v1/streams/conf/zones/bed", zp, want=404)
            call("get", "/v1/alerts?state=open&limit=5", want=200)
            call("get", "/v1/alerts?state=sideways", want=400)
            call("get", "/v1/alerts/12345", "/v1/alerts/{item}", want=404)
            call("post", "/v1/alerts/12345/ack", "/v1/alerts/{item}/ack", body="{}", want=404)
            # A zone over the whole picture: the rule raises an alert.
            call("put", "/v1/streams/conf/zones/whole", zp,
                 body='{"kind":"area","points":"0,0 1,0 1,1 0,1"}', want=201)
            alert = None
            for _ in range(100):
                alerts = json.loads(d.request("GET", "/v1/alerts?rule=lounging")[2])["alerts"]
                if alerts:
                    alert = alerts[0]
                    break
                time.sleep(0.1)
            if not alert:
                fail("no alert from the in_zone_longer rule")
            else:
                ap = "/v1/alerts/{item}"
                call("get", f"/v1/alerts/{alert['id']}", ap, want=200)
                call("post", f"/v1/alerts/{alert['id']}/ack", ap + "/ack",
                     body='{"by":"openapi"}', want=200)
                call("post", f"/v1/alerts/{alert['id']}/ack", ap + "/ack", body='{"who":1}',
                     want=400)
                call("get", "/v1/alerts?rule=lounging&since=0", want=200)
            status, text = call("get", "/metrics", want=200)
            if "crtd_alerts_active{rule=\"lounging\"}" not in text:
                fail("/metrics lacks crtd_alerts_active of the rule")
            call("delete", "/v1/streams/conf/zones/whole", zp, want=204)
            status, text = call("get", "/metrics", want=200)
            for family in ("crtd_stream_frames_total", "crtd_stream_dropped_frames_total",
                           "crtd_stream_reconnects_total", "crtd_stream_fps",
                           "crtd_activity_latency_seconds_bucket", "crtd_http_requests_total"):
                if family not in text:
                    fail(f"/metrics lacks {family}")
            call("post", "/v1/streams/conf/pause", "/v1/streams/{name}/pause", want=200)
            call("post", "/v1/streams/nope/pause", "/v1/streams/{name}/pause", want=404)
            call("post", "/v1/streams/conf/resume", "/v1/streams/{name}/resume", want=200)
            call("post", "/v1/streams/nope/resume", "/v1/streams/{name}/resume", want=404)
            # Labels on the archive of the conf stream (docs/SERVICE.md, "Labels").
            lp = "/v1/labels/{item}"
            now = time.time()
            label = ('{"stream":"conf","start":%.3f,"end":%.3f,"class":"Walk"}'
                     % (now - 2, now))
            status, text = call("post", "/v1/labels", body=label, want=201)
            call("post", "/v1/labels", body=label, want=409)
            call("post", "/v1/labels", body=label, token=False, want=401)
            call("post", "/v1/labels", body='{"stream":"conf","start":1,"end":2,"class":"W"}',
                 want=422)
            call("post", "/v1/labels", body='{"stream":"nope","start":1,"end":2,"class":"W"}',
                 want=404)
            call("post", "/v1/labels", body='{"stream":"conf"}', want=400)
            call("get", "/v1/labels?stream=conf&class=Walk&track=0&since=0&limit=5", want=200)
            call("get", "/v1/labels?track=x", want=400)
            if status == 201:
                lid = json.loads(text)["id"]
                call("get", f"/v1/labels/{lid}", lp, want=200)
                call("put", f"/v1/labels/{lid}", lp, body='{"class":"Feeds the cat"}', want=200)
                call("put", f"/v1/labels/{lid}", lp, body='{"start":1,"end":2}', want=422)
                call("put", f"/v1/labels/{lid}", lp, body='{"not":"yes"}', want=400)
                call("delete", f"/v1/labels/{lid}", lp, want=204)
                call("delete", f"/v1/labels/{lid}", lp, want=404)
                call("put", f"/v1/labels/{lid}", lp, body='{"class":"W"}', want=404)
            call("get", "/v1/labels/12345", lp, want=404)
            # The fine-tune job and the roll-back (docs/SERVICE.md, "Fine-tuning"):
            # with no model serving, every start is refused before it begins.
            call("get", "/v1/model/finetune", want=200)
            call("post", "/v1/model/finetune", body='{"epochs":0}', want=400)
            call("post", "/v1/model/finetune", body='{"bogus":1}', want=400)
            call("post", "/v1/model/finetune", body='{"epochs":1}', token=False, want=401)
            call("post", "/v1/model/finetune", body='{"epochs":1}', want=422)
            call("delete", "/v1/model/finetune", want=409)
            call("post", "/v1/model/finetune/cancel", want=409)
            call("post", "/v1/model/rollback", want=409)
            call("get", "/v1/events", headers={"Last-Event-ID": "x"}, want=400)
            check_events(spec, d)
            call("delete", "/v1/streams/api1", "/v1/streams/{name}", want=204)
        finally:
            d.stop()

    model = sys.argv[4] if len(sys.argv) > 4 else ""
    if model and os.path.exists(model):
        with tempfile.TemporaryDirectory() as tmp:
            d = Daemon(crtd, tmp, model)
            try:
                status, headers, text = d.request("GET", "/v1/model")
                check_response(spec, "/v1/model", "get", status, headers, text, seen)
                if status != 200:
                    fail(f"GET /v1/model with {model}: {status} {text}")
                # A model, but no labels: 422 before any job starts.
                status, headers, text = d.request("POST", "/v1/model/finetune", "{}")
                check_response(spec, "/v1/model/finetune", "post", status, headers, text, seen)
                if status != 422 or "no labels" not in text:
                    fail(f"POST /v1/model/finetune without labels: {status} {text}")
                # Five stretches of person 2 (who stays in view), then a tiny
                # fine-tune: its 202, its state while it runs and at its end,
                # and the model card after, each against its schema.
                t0 = time.time()
                time.sleep(7)
                for i in range(5):
                    d.request("POST", "/v1/labels", json.dumps({
                        "stream": "conf", "track": 2, "start": t0 + 1.3 * i,
                        "end": t0 + 1.3 * i + 1.2, "class": "Feeds the cat"}))
                status, headers, text = d.request("POST", "/v1/model/finetune", json.dumps(
                    {"min_labels": 2, "epochs": 1, "replay_clips": 8}))
                check_response(spec, "/v1/model/finetune", "post", status, headers, text, seen)
                if status != 202:
                    fail(f"POST /v1/model/finetune with labels: {status} {text}")
                for _ in range(600):
                    status, headers, text = d.request("GET", "/v1/model/finetune")
                    check_response(spec, "/v1/model/finetune", "get", status, headers, text, seen)
                    if status != 200 or json.loads(text)["state"] != "running":
                        break
                    time.sleep(0.1)
                if json.loads(text)["state"] in ("running", "idle", "failed"):
                    fail(f"the fine-tune did not end as it should: {text}")
                status, headers, text = d.request("GET", "/v1/model")
                check_response(spec, "/v1/model", "get", status, headers, text, seen)
            finally:
                d.stop()
    else:
        print(f"(no model file '{model}': GET /v1/model 200 not checked)")

    # Every documented operation was exercised at least once.
    for path, ops in spec["paths"].items():
        for method in ops:
            if method in ("get", "post", "delete", "put") and path != "/v1/events":
                if not any(p == path and m == method for p, m, _ in seen):
                    fail(f"{method.upper()} {path} was never exercised")
    if failures:
        print(f"{len(failures)} problems")
        return 1
    print(f"openapi.yaml: {len(seen)} (operation, status) pairs checked against the daemon")
    return 0


if __name__ == "__main__":
    sys.exit(main())
