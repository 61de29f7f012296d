"""The security checks of docs/RELIABILITY.md, against a real crtd:

- the bearer token on every route of api/openapi.yaml and every method it
  lists (none, a wrong one, another scheme: 401; the right one: answered);
- names from requests never reach the filesystem: hostile stream names in
  paths and bodies are refused, and the state directory holds only crtd.db;
- the API adds no local source (file, concat:, device, lavfi);
- a camera password appears nowhere crtd speaks: log, every GET answer,
  /metrics, the event stream, the answer to the POST that added it;
- the systemd unit's exposure score (systemd-analyze security), recorded.

Usage: security.py --build DIR [--short]"""

import os
import re
import socket
import subprocess
import sys
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crtdtest import ROOT, Checks, Crtd, free_port, parse_args, request, sse_read, wait_until  # noqa: E402

SECRET = "Sup3rSecretPw"


def openapi_operations():
    with open(os.path.join(ROOT, "api", "openapi.yaml")) as f:
        spec = yaml.safe_load(f)
    for path, item in spec["paths"].items():
        for method in item:
            if method in ("get", "post", "delete", "put", "patch", "head"):
                # security: [] marks what needs no token (probes, the dashboard's files)
                yield method.upper(), path, item[method].get("security") == []


def concrete(path):
    if path == "/ui/{name}":
        return "/ui/dashboard.js"
    return path.replace("{name}", "cam").replace("{item}", "1")


def check_tokens(t, crtd):
    for method, path, open_to_all in openapi_operations():
        url = concrete(path)
        body = '{"name":"tok","url":"rtsp://127.0.0.1:1/x"}' if method == "POST" else None
        if url == "/v1/events":  # a stream: only its status line matters
            statuses = {name: sse_status(crtd.port, token) for name, token in
                        (("none", None), ("wrong", "wrong-token-0123456789"),
                         ("right", Crtd.TOKEN))}
        else:
            statuses = {
                "none": request(crtd.port, method, url, body=body).status,
                "wrong": request(crtd.port, method, url, token="x" + Crtd.TOKEN[1:],
                                 body=body).status,
                "basic": request(crtd.port, method, url, body=body,
                                 headers={"Authorization": "Basic " + Crtd.TOKEN}).status,
            }
        if open_to_all:
            t.check(f"{method} {path} answers without a token (a probe or the dashboard)",
                    statuses["none"] == 200, str(statuses))
            continue
        t.check(f"{method} {path}: no token, a wrong one, another scheme -> 401",
                all(s == 401 for k, s in statuses.items() if k != "right"), str(statuses))
        if url == "/v1/events":
            t.check(f"{method} {path}: the right token -> 200", statuses["right"] == 200,
                    str(statuses))
    # The right token is let through: only the changes, whose effect is seen.
    r = request(crtd.port, "POST", "/v1/streams", token=Crtd.TOKEN,
                body='{"name":"tok","url":"rtsp://127.0.0.1:1/x"}')
    t.check("POST /v1/streams with the right token -> 201", r.status == 201, r.body)
    r = request(crtd.port, "DELETE", "/v1/streams/tok", token=Crtd.TOKEN)
    t.check("DELETE /v1/streams/tok with the right token -> 204", r.status == 204, r.body)


def sse_status(port, token):
    """The status of a /v1/events answer, without reading the stream."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
    line = s.recv(200).split(b"\r\n", 1)[0].decode()
    s.close()
    m = re.match(r"HTTP/1\.[01] (\d+)", line)
    return int(m.group(1)) if m else 0


def check_names(t, crtd):
    hostile = ["..", "%2e%2e", "..%2f..%2fetc%2fpasswd", "a%2fb", "%00", "a%00b", ".hidden",
               "x" * 300, "%c3%a9t%c3%a9", "crtd.db", "..%5c..%5cwindows", "%252e%252e"]
    for name in hostile:
        for suffix in ("", "/activity", "/history"):
            r = crtd.get(f"/v1/streams/{name}{suffix}")
            t.check(f"GET /v1/streams/{name[:20]}{suffix} -> 400 or 404",
                    r.status in (400, 404) and '"error"' in r.body, f"{r.status} {r.body[:200]}")
    for name in ["../x", "a/b", ".hidden", "a b", "", "x" * 300, "crtd.db;rm -rf /", "é"]:
        body = '{"name":%s,"url":"rtsp://127.0.0.1:1/x"}' % repr(name).replace("'", '"')
        r = request(crtd.port, "POST", "/v1/streams", token=Crtd.TOKEN, body=body)
        t.check(f"POST name {name[:20]!r} -> 400", r.status == 400, f"{r.status} {r.body[:200]}")
    for url in ["/etc/passwd", "file:/etc/passwd", "concat:/etc/passwd|/etc/group",
                "v4l2:///dev/video0", "/dev/video0", "lavfi:movie=/etc/passwd"]:
        r = request(crtd.port, "POST", "/v1/streams", token=Crtd.TOKEN,
                    body='{"name":"local","url":"%s"}' % url)
        t.check(f"POST url {url} -> 403", r.status == 403, f"{r.status} {r.body[:200]}")
    # The dashboard serves its embedded files by name, nothing from the disk.
    for path in ["/ui/..%2f..%2fetc%2fpasswd", "/ui/%2e%2e", "/ui/index.html%00.js", "/ui/",
                 "/ui/.hidden", "/ui/crtd.db", "/ui/dashboard.js/x", "/../etc/passwd"]:
        r = request(crtd.port, "GET", path)
        t.check(f"GET {path} -> 400 or 404", r.status in (400, 404), f"{r.status} {r.body[:100]}")
    # Beside the store, only the pose archive's folder (one folder per
    # stream that exists) and the fine-tuned models' folder may be there.
    left = sorted(f for f in os.listdir(crtd.state)
                  if not f.startswith("crtd.db") and f not in ("archive", "models"))
    t.check("the state directory holds only crtd.db, its journal, archive/ and models/",
            not left, str(left))
    archive = os.path.join(crtd.state, "archive")
    streams = {s["name"] for s in crtd.get_json("/v1/streams")["streams"]}
    folders = sorted(os.listdir(archive)) if os.path.isdir(archive) else []
    t.check("archive/ holds a folder per stream that exists, nothing else",
            all(f in streams and os.path.isdir(os.path.join(archive, f)) for f in folders),
            f"{folders} against {sorted(streams)}")


def check_passwords(t, crtd, short):
    dead = free_port()
    r = request(crtd.port, "POST", "/v1/streams", token=Crtd.TOKEN,
                body='{"name":"api-cam","url":"rtsp://admin:%s@127.0.0.1:%d/live"}'
                % (SECRET, dead))
    t.check("POST with a password in the URL -> 201, password masked in the answer",
            r.status == 201 and SECRET not in r.body and "***" in r.body, r.body)
    wait_until(lambda: all(s["reconnects"] >= 1 for s in crtd.streams().values()), 30)
    events = sse_read(crtd.port, Crtd.TOKEN, 2 if short else 5)
    spoken = {"event stream": events}
    for path in ["/v1/streams", "/v1/streams/cam", "/v1/streams/web", "/v1/streams/api-cam",
                 "/v1/streams/cam/activity", "/v1/streams/cam/history", "/v1/model",
                 "/metrics", "/healthz", "/readyz"]:
        spoken[path] = crtd.get(path).body
    t.check("the failing cameras' errors are logged with the URL masked",
            re.search(r"rtsp://admin:\*\*\*@127\.0\.0\.1:\d+/live.*cannot open",
                      crtd.log_text()) is not None, crtd.log_text()[-1000:])
    for where, text in spoken.items():
        t.check(f"no password in {where}", SECRET not in text,
                text[max(0, text.find(SECRET) - 100):text.find(SECRET) + 40])
    check = subprocess.run([os.path.join(crtd.build, "daemon", "crtd"), "--check-config",
                            "--model", "none", "--stream",
                            f"cam=rtsp://admin:{SECRET}@127.0.0.1:{dead}/live"],
                           capture_output=True, text=True)
    t.check("no password in crtd --check-config", SECRET not in check.stdout + check.stderr,
            check.stdout + check.stderr)
    return dead


def exposure_score(t):
    service = os.path.join(ROOT, "systemd", "crtd.service.in")
    with open(service) as f:
        text = f.read().replace("@sbindir@/crtd", "/usr/sbin/crtd")
    path = os.path.join("/tmp", f"crtd-security-{os.getpid()}.service")
    with open(path, "w") as f:
        f.write(text)
    try:
        out = subprocess.run(["systemd-analyze", "security", "--offline=yes", path],
                             capture_output=True, text=True).stdout
    except FileNotFoundError:
        t.check("systemd-analyze is installed", False)
        return
    finally:
        os.unlink(path)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+) (\S+)", out)
    t.check("systemd-analyze security gives an exposure score", m is not None, out[-300:])
    if m:
        print(f"figure: systemd-analyze security exposure {m.group(1)} {m.group(2)}")


def main():
    build, short = parse_args(sys.argv)
    t = Checks()
    dead = free_port()
    crtd = Crtd(build, config="[daemon]\nrestart_min_s = 0.2\nrestart_max_s = 1\n",
                args=["--stream", f"cam=rtsp://admin:{SECRET}@127.0.0.1:{dead}/live",
                      "--stream", f"web=http://admin:{SECRET}@127.0.0.1:{dead}/live.ts",
                      "--log-level", "debug"])
    crtd.build = build
    try:
        check_tokens(t, crtd)
        check_names(t, crtd)
        check_passwords(t, crtd, short)
        status = crtd.stop()
        t.check("crtd stops cleanly after all of it", status == 0, f"exit status {status}")
        log = crtd.log_text()
        t.check("no password in the log (debug level)", SECRET not in log,
                "\n".join(line for line in log.splitlines() if SECRET in line)[:500])
    finally:
        crtd.stop(timeout_s=5)
        if t.failed:
            print(crtd.log_text()[-3000:], file=sys.stderr)
        crtd.remove()
    exposure_score(t)
    t.finish()


if __name__ == "__main__":
    main()
