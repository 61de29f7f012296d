"""crtdtest: what the reliability tests share — a real crtd process started
from a build tree, HTTP requests to it, camera servers made of ffmpeg, and
the check/finish bookkeeping of the test scripts.

Run by /usr/bin/python3 (standard library only)."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Checks:
    """Counts passed and failed checks; finish() prints the closing line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""), file=sys.stderr, flush=True)
        return ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body)


def request(port, method, path, token=None, body=None, headers=None, timeout=10):
    """One HTTP request; any status is an answer, only no answer raises."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, r.read().decode(errors="replace"), dict(r.headers))
    except urllib.error.HTTPError as e:
        return Response(e.code, e.read().decode(errors="replace"), dict(e.headers))


def sse_read(port, token, seconds):
    """The raw text of /v1/events for a while."""
    s = socket.create_connection(("127.0.0.1", port), timeout=seconds + 2)
    s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode())
    s.settimeout(0.2)
    chunks, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
        except socket.timeout:
            pass
    s.close()
    return b"".join(chunks).decode(errors="replace")


class Crtd:
    """A crtd process with its own state directory, token and log."""

    TOKEN = "reliability-test-token-0123456789"

    def __init__(self, build, config="", args=(), env=None, binary=None, model=None):
        self.dir = tempfile.mkdtemp(prefix="crtd-reliability-")
        self.log_path = os.path.join(self.dir, "crtd.log")
        self.state = os.path.join(self.dir, "state")
        token_file = os.path.join(self.dir, "token")
        with open(token_file, "w") as f:
            f.write(self.TOKEN + "\n")
        os.chmod(token_file, 0o600)
        conf = os.path.join(self.dir, "crtd.conf")
        with open(conf, "w") as f:
            f.write(config)
        cmd = [binary or os.path.join(build, "daemon", "crtd"), "--config", conf,
               "--listen", "127.0.0.1:0", "--state-dir", self.state, "--token-file", token_file]
        if model:
            cmd += ["--model", model]
        cmd += list(args)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **(env or {})))
        self.port = self._wait_for_port()

    def _wait_for_port(self, timeout_s=30):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = re.search(r"\(port (\d+)\)", self.log_text())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"crtd did not start; its log:\n{self.log_text()}")

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def get(self, path, token=TOKEN, **kw):
        return request(self.port, "GET", path, token=token, **kw)

    def get_json(self, path):
        r = self.get(path)
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status} {r.body}")
        return r.json()

    def streams(self):
        return {s["name"]: s for s in self.get_json("/v1/streams")["streams"]}

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_s(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, sig=signal.SIGTERM, timeout_s=60):
        """Stops crtd; returns its exit status (negative: killed by a signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_until(predicate, timeout_s, step_s=0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()


def make_person_clip(path, seconds=10, size="640x480", fps=30):
    """A clip of a person (a photograph Debian ships, panned slowly), H.264."""
    if os.path.exists(path):
        return path
    image = os.path.join(ROOT, "third_party", "images", "messi5.jpg")
    w, h = size.split("x")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", image, "-t", str(seconds),
                    "-vf", f"scale={w}:{h},crop=iw-8:ih-8:mod(n\\,8):0,scale={w}:{h}",
                    "-r", str(fps), "-c:v", "libx264", "-preset", "veryfast", "-g", str(fps),
                    "-pix_fmt", "yuv420p", path], check=True)
    return path


class Camera:
    """A live camera: ffmpeg serving a clip over HTTP as MPEG-TS at real time,
    looping forever. ffmpeg -listen 1 serves one client and exits when it
    goes, so a shell loop starts it again for the next connection."""

    def __init__(self, clip):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/live.ts"
        serve = (f"ffmpeg -v error -re -stream_loop -1 -i '{clip}' -c copy -f mpegts "
                 f"-listen 1 {self.url}")
        self.proc = subprocess.Popen(["bash", "-c", f"while :; do {serve}; sleep 0.1; done"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def parse_args(argv):
    """--build DIR and --short, as scripts/reliability passes them."""
    build, short = os.path.join(ROOT, "build-reliability"), False
    i = 1
    while i < len(argv):
        if argv[i] == "--build":
            build = argv[i + 1]
            i += 1
        elif argv[i] == "--short":
            short = True
        else:
            sys.exit(f"unknown argument '{argv[i]}' (expected --build DIR, --short)")
        i += 1
    return os.path.abspath(build), short
