"""Soak: crtd built with AddressSanitizer and UndefinedBehaviorSanitizer
watches 4 live cameras for a long while (10 minutes; 90 s with --short).

Every cycle (a minute; 20 s with --short) each stream is removed and added
again through the API and crtd reloads its configuration (SIGHUP); an
event-stream client stays connected throughout and the API is asked
something every second. crtd's resident memory is sampled all along.

Passes when: no sanitizer report (ASan, UBSan, LeakSanitizer at exit), no
error line in the log, a clean exit, every stream running again after each
restart, and memory flat: the median resident size of the last cycle within
10% of the second cycle's (the first is warm-up: MoveNet's arena, SQLite's
cache, the allocators' pools).

Usage: soak.py --build DIR [--short] [--asan DIR]"""

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crtdtest import ROOT, Camera, Checks, Crtd, make_person_clip, parse_args, request, wait_until  # noqa: E402

STREAMS = 4
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehavior")


def asan_build(path):
    """The sanitizer build of crtd (scripts/test's build-asan), made if missing."""
    if not os.path.exists(os.path.join(path, "build.ninja")):
        subprocess.run(["meson", "setup", path, "-Dbuildtype=debug",
                        "-Db_sanitize=address,undefined", "-Db_lundef=false"], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", path, "daemon/crtd"], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(path, "daemon", "crtd")


class EventReader(threading.Thread):
    """One /v1/events client for the whole soak, counting the events."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.events = 0
        self.stopping = False

    def run(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {Crtd.TOKEN}"
                  "\r\n\r\n".encode())
        s.settimeout(1)
        while not self.stopping:
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            self.events += data.count(b"\nid: ") + data.startswith(b"id: ")
        s.close()


def add(crtd, name, url):
    r = request(crtd.port, "POST", "/v1/streams", token=Crtd.TOKEN,
                body='{"name":"%s","url":"%s"}' % (name, url))
    return r.status == 201


def main():
    argv, asan = list(sys.argv), os.path.join(ROOT, "build-asan")
    if "--asan" in argv:
        i = argv.index("--asan")
        asan = os.path.abspath(argv[i + 1])
        del argv[i:i + 2]
    build, short = parse_args(argv)
    total_s, cycle_s = (90, 20) if short else (600, 60)
    t = Checks()
    binary = asan_build(asan)
    clip = make_person_clip(os.path.join(build, "reliability-person.mp4"))
    cameras = [Camera(clip) for _ in range(STREAMS)]
    env = {"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=16:abort_on_error=0",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
    crtd = Crtd(build, binary=binary, env=env, config="[daemon]\ncheckpoint_segments = 2\n")
    reader = None
    try:
        added = all(add(crtd, f"cam{i}", c.url) for i, c in enumerate(cameras))
        t.check(f"{STREAMS} cameras added through the API", added)
        reader = EventReader(crtd.port)
        reader.start()
        start = time.monotonic()
        samples = []  # (seconds since start, RSS KiB)
        restarts = failed_restarts = asked = bad_answers = 0
        next_cycle = start + cycle_s
        while time.monotonic() - start < total_s:
            now = time.monotonic()
            samples.append((now - start, crtd.rss_kib()))
            for path in ("/v1/streams", "/v1/streams/cam0/activity", "/v1/streams/cam1/history",
                         "/metrics"):
                asked += 1
                bad_answers += crtd.get(path).status != 200
            if now >= next_cycle and now - start < total_s - 1:
                next_cycle += cycle_s
                crtd.proc.send_signal(signal.SIGHUP)
                for i, cam in enumerate(cameras):
                    request(crtd.port, "DELETE", f"/v1/streams/cam{i}", token=Crtd.TOKEN)
                    restarts += 1
                    failed_restarts += not add(crtd, f"cam{i}", cam.url)
                running = wait_until(lambda: all(s["state"] == "running" and s["sampled"] > 0
                                                 for s in crtd.streams().values()), 30, 0.5)
                if not running:
                    failed_restarts += 1
                print(f"soak: {now - start:4.0f} s, RSS {samples[-1][1] / 1024:.1f} MiB, "
                      f"{reader.events} events, streams restarted", flush=True)
            time.sleep(1)
        segments = sum(s["segments"] for s in crtd.streams().values())
        reader.stopping = True
        t.check(f"{restarts} stream restarts, each running again", failed_restarts == 0,
                f"{failed_restarts} failed")
        t.check(f"{asked} API answers during the soak, all 200", bad_answers == 0,
                f"{bad_answers} not 200")
        t.check("the event stream received events", reader.events > 0)
        cycles = [[kib for at, kib in samples if c * cycle_s <= at < (c + 1) * cycle_s]
                  for c in range(int(total_s // cycle_s) + 1)]
        cycles = [c for c in cycles if c]
        second, last = statistics.median(cycles[1]), statistics.median(cycles[-1])
        growth = (last - second) / second
        t.check(f"memory flat: median RSS {second / 1024:.1f} MiB in the second cycle, "
                f"{last / 1024:.1f} MiB in the last ({100 * growth:+.1f}%)", growth < 0.10)
        status = crtd.stop(timeout_s=120)
        t.check("crtd exits cleanly, LeakSanitizer finding no leak", status == 0,
                f"exit status {status}")
        log = crtd.log_text()
        marks = [line for line in log.splitlines() if any(m in line for m in SANITIZER_MARKS)]
        t.check("no sanitizer report in the log", not marks, "\n".join(marks[:10]))
        errors = [line for line in log.splitlines() if line.startswith("crtd: error:")]
        t.check("no error in the log", not errors, "\n".join(errors[:10]))
        print(f"\nsoak: {total_s} s under ASan+UBSan, {STREAMS} streams, {restarts} restarts, "
              f"{segments} segments after the last restart, {reader.events} events, "
              f"RSS {samples[0][1] / 1024:.1f} MiB at start, {second / 1024:.1f} MiB (median, "
              f"second cycle), {last / 1024:.1f} MiB (median, last cycle), "
              f"max {max(k for _, k in samples) / 1024:.1f} MiB\n")
    finally:
        if reader:
            reader.stopping = True
        crtd.stop(timeout_s=10)
        for cam in cameras:
            cam.stop()
        if t.failed:
            print(crtd.log_text()[-4000:], file=sys.stderr)
        crtd.remove()
    t.finish()


if __name__ == "__main__":
    main()
