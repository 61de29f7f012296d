"""Load: wrk against a real crtd watching 8 live cameras, then event-stream
clients up to the limit and beyond.

- 8 cameras (ffmpeg serving a clip of a person over HTTP at real time) and
  crtd with the default model, MoveNet and a token;
- each stream's sampled fps measured through /v1/streams, first without
  load, then while wrk (1 thread, 8 connections each) asks for
  /v1/streams/cam0/activity and for /metrics at once;
- reported: requests per second, p50 and p99 latency, errors, and the fps
  before and during the load. Errors (socket errors and non-2xx answers)
  fail the test; the latency and fps goals (p99 under 10 ms, fps unchanged)
  are reported against, never asserted: speed is measured, not tested.
- then max_sse_clients event streams at once, all answered and all fed,
  and 10 more refused with 429 and a JSON error, while the API answers.

Usage: load.py --build DIR [--short]"""

import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crtdtest import Camera, Checks, Crtd, make_person_clip, parse_args, request, wait_until  # noqa: E402

STREAMS = 8
SSE_LIMIT = 40
CONNECTIONS = int(os.environ.get("LOAD_CONNECTIONS", "8"))


def sampled_counts(crtd):
    return {name: s["sampled"] for name, s in crtd.streams().items()}


def measure_fps(crtd, seconds, during=None):
    """Per-stream sampled fps over a while (running during() meanwhile)."""
    before, t0 = sampled_counts(crtd), time.monotonic()
    result = during() if during else time.sleep(seconds)
    after, t1 = sampled_counts(crtd), time.monotonic()
    return {n: (after[n] - before[n]) / (t1 - t0) for n in before}, result


def wrk_args(crtd, path, seconds):
    return ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency", "--timeout", "2s",
            "-H", f"Authorization: Bearer {Crtd.TOKEN}", f"http://127.0.0.1:{crtd.port}{path}"]


def to_ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    return {"rps": rps, "p50": p50, "p99": p99, "requests": total, "errors": errors}


def run_wrk(crtd, paths, seconds):
    """wrk on each path in turn, seconds each: one wrk at a time, so that the
    load generator takes at most one of the machine's cores."""
    return {p: subprocess.run(wrk_args(crtd, p, seconds), stdout=subprocess.PIPE,
                              text=True).stdout for p in paths}


def sse_open(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {Crtd.TOKEN}\r\n"
              "Accept: text/event-stream\r\n\r\n".encode())
    return s


def sse_status_and_body(s, timeout_s):
    s.settimeout(timeout_s)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    m = re.match(rb"HTTP/1\.[01] (\d+)", data)
    return (int(m.group(1)) if m else 0), data


def check_sse_clients(t, crtd):
    clients = [sse_open(crtd.port) for _ in range(SSE_LIMIT)]
    statuses = [sse_status_and_body(c, 5)[0] for c in clients]
    t.check(f"{SSE_LIMIT} event streams at once are all answered 200",
            statuses.count(200) == SSE_LIMIT, str(statuses))
    extra = [sse_open(crtd.port) for _ in range(10)]
    answers = [sse_status_and_body(c, 5) for c in extra]
    refused = [a for a in answers if a[0] == 429 and b'"too_many_clients"' in a[1]]
    t.check("10 more are refused with 429 too_many_clients", len(refused) == 10,
            str([a[0] for a in answers]))
    for c in extra:
        c.close()
    r = crtd.get("/v1/streams/cam0/activity")
    t.check("the API answers with the event streams full", r.status == 200, r.body[:200])
    # Every open stream is fed: each gets an event (or heartbeat) within a while.
    fed = 0
    for c in clients:
        c.settimeout(20)
        try:
            fed += 1 if c.recv(4096) else 0
        except socket.timeout:
            pass
    t.check(f"all {SSE_LIMIT} event streams receive data", fed == SSE_LIMIT,
            f"{fed} of {SSE_LIMIT}")
    for c in clients:
        c.close()
    ok = wait_until(lambda: sse_status_and_body(sse_open(crtd.port), 5)[0] == 200, 10, 0.5)
    t.check("a slot is free again once the clients leave", ok)


def main():
    build, short = parse_args(sys.argv)
    seconds = 10 if short else 60
    t = Checks()
    clip = make_person_clip(os.path.join(build, "reliability-person.mp4"))
    cameras = [Camera(clip) for _ in range(STREAMS)]
    args = []
    for i, cam in enumerate(cameras):
        args += ["--stream", f"cam{i}={cam.url}"]
    crtd = Crtd(build, config=f"[server]\nmax_sse_clients = {SSE_LIMIT}\nmax_connections = 64\n"
                "sse_heartbeat_s = 5\n", args=args)
    try:
        running = wait_until(lambda: all(s["state"] == "running" and s["sampled"] > 20
                                         for s in crtd.streams().values()), 60, 0.5)
        t.check(f"{STREAMS} live cameras running", running,
                str({n: s["state"] for n, s in crtd.streams().items()}))
        quiet_fps, _ = measure_fps(crtd, seconds / 2)
        cpu0 = crtd.cpu_s()
        paths = ["/v1/streams/cam0/activity", "/metrics"]
        busy_fps, outputs = measure_fps(crtd, seconds, lambda: run_wrk(crtd, paths, seconds / 2))
        cpu = (crtd.cpu_s() - cpu0) / seconds
        results = {}
        for path, out in outputs.items():
            try:
                results[path] = parse_wrk(out)
            except AttributeError:
                t.check(f"wrk output for {path} parses", False, out)
                continue
            r = results[path]
            t.check(f"{path}: {r['requests']} requests, no errors", r["errors"] == 0,
                    f"{r['errors']} errors")
        t.check("crtd still runs every stream after the load",
                all(s["state"] == "running" for s in crtd.streams().values()))
        print(f"\nload: {STREAMS} streams, wrk -t1 -c{CONNECTIONS} -d{seconds / 2:g}s on each path "
              "in turn; "
              f"crtd used {cpu:.2f} cores meanwhile")
        print(f"{'path':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  goal p99 < 10 ms")
        for path, r in results.items():
            goal = "met" if r["p99"] < 10 else "missed"
            print(f"{path:28} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} "
                  f"{r['errors']:7d}  {goal}")
        q = sum(quiet_fps.values()) / len(quiet_fps)
        b = sum(busy_fps.values()) / len(busy_fps)
        print(f"sampled fps per stream: {q:.2f} without load, {b:.2f} under load "
              f"(min {min(busy_fps.values()):.2f}); goal unchanged: "
              f"{'met' if b >= 0.95 * q else 'missed'} ({100 * b / q:.0f}%)\n")
        check_sse_clients(t, crtd)
        status = crtd.stop()
        t.check("crtd stops cleanly", status == 0, f"exit status {status}")
    finally:
        crtd.stop(timeout_s=5)
        for cam in cameras:
            cam.stop()
        if t.failed:
            print(crtd.log_text()[-3000:], file=sys.stderr)
        crtd.remove()
    t.finish()


if __name__ == "__main__":
    main()
