"""crtd's webhooks against a real HTTP server written for the test
(http.server on 127.0.0.1) that fails, stalls and recovers: every delivery is
a JSON POST signed with HMAC-SHA256 of its body, retried with backoff until
the receiver answers 2xx, at least once, with the alert id and change to
tell repeats apart; a receiver that stalls never holds the camera or the API;
one that never answers ends in dead letters.

Usage: webhook_test.py --build DIR"""

import hashlib
import hmac
import http.server
import json
import os
import signal
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "reliability"))
from crtdtest import Checks, Crtd, free_port, parse_args, request, wait_until  # noqa: E402

SECRET = "webhook-s3cret"


class Receiver:
    """An HTTP server whose answer the test sets: ok (204), fail (500) or
    stall (no answer for 5 s)."""

    def __init__(self):
        self.mode = "fail"
        self.lock = threading.Lock()
        self.attempts = []   # every POST seen: (alert id, change)
        self.delivered = []  # those answered 2xx: (alert id, change, body, signature ok)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sig = self.headers.get("X-Crtd-Signature", "")
                good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                key = (self.headers.get("X-Crtd-Alert-Id"), self.headers.get("X-Crtd-Alert-Change"))
                with receiver.lock:
                    receiver.attempts.append(key)
                    mode = receiver.mode
                if mode == "stall":
                    time.sleep(5)
                    return
                if mode == "fail":
                    self.send_response(500)
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.delivered.append((key[0], key[1], json.loads(body),
                                               hmac.compare_digest(sig, good),
                                               self.headers.get("Content-Type")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, mode):
        with self.lock:
            self.mode = mode

    def count(self, key=None):
        with self.lock:
            return len([a for a in self.attempts if key is None or a == key])

    def got(self, alert_id, change):
        with self.lock:
            return [d for d in self.delivered if d[0] == str(alert_id) and d[1] == change]

    def stop(self):
        self.server.shutdown()


def metric(crtd, name):
    text = crtd.get("/metrics").body
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def main():
    build, _ = parse_args(sys.argv)
    t = Checks()
    rx = Receiver()
    dead_port = free_port()  # nothing listens there
    tmp = tempfile.mkdtemp(prefix="crtd-webhook-")
    alive = os.path.join(tmp, "alive")
    open(alive, "w").close()
    config = (
        "[daemon]\nrestart_min_s = 0.2\nrestart_max_s = 0.2\n"
        f"[stream \"porch\"]\nurl = synthetic:script=Walk&segment_ms=50&alive={alive}\n"
        "[stream \"hall\"]\nurl = synthetic:script=Walk&segment_ms=50\n"
        "[rule \"down\"]\nkind = camera_down\nstream = porch\nseconds = 1\n"
        "[rule \"down2\"]\nkind = camera_down\nstream = porch\nseconds = 1\n"
        f"[webhook \"phone\"]\nurl = http://127.0.0.1:{rx.port}/hook\nsecret = {SECRET}\n"
        "rules = down\ntimeout_s = 1\nmax_attempts = 50\nretry_min_s = 0.2\nretry_max_s = 0.5\n"
        f"[webhook \"dead\"]\nurl = http://127.0.0.1:{dead_port}/\nmax_attempts = 2\n"
        "retry_min_s = 0.1\ntimeout_s = 1\n")
    crtd = Crtd(build, model="none", config=config)
    try:
        os.unlink(alive)
        t.check("the camera goes down: an alert", wait_until(
            lambda: crtd.get_json("/v1/alerts?state=active")["alerts"], 10))
        alert = crtd.get_json("/v1/alerts?state=active&rule=down")["alerts"][0]
        key = (str(alert["id"]), "raised")
        t.check("the receiver fails: crtd tries again, with backoff",
                wait_until(lambda: rx.count(key) >= 3, 10), str(rx.attempts))
        t.check("... counted as failed attempts",
                (metric(crtd, 'crtd_webhook_failed_attempts_total{webhook="phone"}') or 0) >= 2)
        t.check("... and shown as down",
                metric(crtd, 'crtd_webhook_up{webhook="phone"}') == 0)
        rx.set("ok")
        t.check("the receiver recovers: the alert is delivered",
                wait_until(lambda: rx.got(alert["id"], "raised"), 10), str(rx.delivered))
        d = rx.got(alert["id"], "raised")[0]
        t.check("a JSON POST carrying the alert id, signed with HMAC-SHA256 of the body",
                d[2]["id"] == alert["id"] and d[2]["rule"] == "down" and d[2]["state"] == "active"
                and d[2]["change"] == "raised" and d[3] and d[4] == "application/json", str(d))

        # Stalled: the camera comes back, the alert clears, the receiver hangs.
        rx.set("stall")
        segments = crtd.streams()["hall"]["segments"]
        open(alive, "w").close()
        t.check("the camera is back: the alert clears (while the webhook stalls)",
                wait_until(lambda: crtd.get_json(f"/v1/alerts/{alert['id']}")["state"]
                           == "cleared", 10))
        wait_until(lambda: rx.count((str(alert["id"]), "cleared")) >= 1, 5)
        started = time.monotonic()
        r = crtd.get("/v1/alerts", timeout=3)
        t.check("the API answers while the webhook stalls",
                r.status == 200 and time.monotonic() - started < 3)
        t.check("the cameras go on while the webhook stalls",
                wait_until(lambda: crtd.streams()["hall"]["segments"] > segments + 10, 5))
        rx.set("ok")
        t.check("the stalled delivery is retried and arrives",
                wait_until(lambda: rx.got(alert["id"], "cleared"), 15), str(rx.attempts))
        t.check("at least once: every change arrived; repeats carry the same id and change",
                {(x[0], x[1]) for x in rx.delivered} >=
                {(str(alert["id"]), "raised"), (str(alert["id"]), "cleared")})
        t.check("a webhook limited to some rules gets nothing of the others (down2 raised too)",
                crtd.get_json("/v1/alerts?rule=down2")["alerts"]
                and all(x[2]["rule"] == "down" for x in rx.delivered))
        t.check("a webhook nobody answers: its deliveries end as dead letters",
                wait_until(lambda: (metric(crtd, 'crtd_webhook_dead_letters_total{webhook="dead"}')
                                    or 0) >= 2, 10))
        t.check("... and crtd says so in its log", "a dead letter" in crtd.log_text())

        # SIGHUP: the webhook now takes down2's alerts; the one left as it was
        # keeps its counters.
        dead_before = metric(crtd, 'crtd_webhook_dead_letters_total{webhook="dead"}')
        with open(os.path.join(crtd.dir, "crtd.conf"), "w") as f:
            f.write(config.replace("rules = down\n", "rules = down2\n"))
        crtd.proc.send_signal(signal.SIGHUP)
        t.check("a reload is logged", wait_until(
            lambda: "webhook phone: removed or changed" in crtd.log_text(), 10))
        t.check("... an unchanged webhook keeps its counters",
                metric(crtd, 'crtd_webhook_dead_letters_total{webhook="dead"}') >= dead_before)
        os.unlink(alive)
        t.check("the camera goes down again: down2 is raised anew", wait_until(
            lambda: crtd.get_json("/v1/alerts?state=active&rule=down2")["alerts"], 10))
        again = crtd.get_json("/v1/alerts?state=active&rule=down2")["alerts"][0]
        t.check("... and the reloaded webhook delivers it",
                wait_until(lambda: rx.got(again["id"], "raised"), 10), str(rx.delivered))
        open(alive, "w").close()
        t.check("crtd stops cleanly", crtd.stop() == 0)
    finally:
        crtd.stop(timeout_s=5)
        crtd.remove()
        rx.stop()

    # A webhook URL that is not http(s) is a configuration error naming the key.
    crtd_bin = os.path.join(build, "daemon", "crtd")
    import subprocess
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write("[webhook \"x\"]\nurl = file:///etc/passwd\n")
    out = subprocess.run([crtd_bin, "--model", "none", "--check-config", "--config", conf],
                         capture_output=True, text=True, timeout=20)
    t.check("a webhook URL that is not http(s) is refused, naming the key",
            out.returncode == 1 and "[webhook \"x\"] url" in out.stderr, out.stderr)
    t.finish()


if __name__ == "__main__":
    main()
