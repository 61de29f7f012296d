"""Faults: a real crtd with one healthy camera beside cameras that misbehave,
then a full disk under its state directory, then model files that break at
reload. Through all of it the API must answer, the healthy stream must keep
going, and each fault must be reported (state, error, reconnects, log).

The misbehaving cameras are HTTP servers written here (HostileCamera), each
serving a real MPEG-TS clip made by ffmpeg in its own wrong way:
  stall        the header and 64 KiB, then silence on an open connection
  garbage      the header, then random bytes
  header-only  the header, then the connection closes
  switch       640x480 H.264 that turns into 320x240 MPEG-2 mid-stream
  flap         2 s of video, then the port refuses connections for 3 s, again

Usage: faults.py --build DIR [--short]"""

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crtdtest import ROOT, Camera, Checks, Crtd, free_port, make_person_clip, parse_args, request, wait_until  # noqa: E402

HEADER = b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n"


def make_ts(path, size, codec, seconds=6):
    if not os.path.exists(path):
        image = os.path.join(ROOT, "third_party", "images", "messi5.jpg")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", image, "-t",
                        str(seconds), "-vf", f"scale={size}", "-r", "10", "-c:v", codec,
                        "-pix_fmt", "yuv420p", "-f", "mpegts", path], check=True)
    with open(path, "rb") as f:
        return f.read()


class HostileCamera(threading.Thread):
    """One misbehaving camera on a port of its own."""

    def __init__(self, mode, ts, ts_path):
        super().__init__(daemon=True)
        self.mode, self.ts, self.ts_path = mode, ts, ts_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/live.ts"
        self.connections = 0
        self.stopping = False
        self.open_sockets = []

    def listen(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(4)
        s.settimeout(0.2)
        return s

    def run(self):
        server = self.listen()
        up_since = time.monotonic()
        while not self.stopping:
            if self.mode == "flap" and time.monotonic() - up_since > 2.5:
                server.close()  # gone: connections are refused for a while
                time.sleep(3)
                server, up_since = self.listen(), time.monotonic()
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            self.connections += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()
        server.close()

    def paced(self, conn, data, seconds):
        """Sends data spread over seconds, as a camera at real time would."""
        chunk = max(1, len(data) // (seconds * 20))
        for i in range(0, len(data), chunk):
            if self.stopping:
                return
            conn.sendall(data[i:i + chunk])
            time.sleep(0.05)

    def relay(self, conn, seconds):
        """The clip at real time, paced by its timestamps (ffmpeg -re), for
        a while: a camera that works, until it goes away."""
        ffmpeg = subprocess.Popen(["ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", "-i",
                                   self.ts_path, "-c", "copy", "-f", "mpegts", "pipe:1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end and not self.stopping:
                data = ffmpeg.stdout.read1(65536)
                if not data:
                    break
                conn.sendall(data)
        finally:
            ffmpeg.kill()
            ffmpeg.wait()

    def serve(self, conn):
        try:
            conn.recv(4096)  # the request
            conn.sendall(HEADER)
            if self.mode == "stall":
                conn.sendall(self.ts[:65536])
                self.open_sockets.append(conn)  # kept open, never written again
                return
            if self.mode == "garbage":
                rng = random.Random(self.connections)
                while not self.stopping:
                    conn.sendall(bytes(rng.getrandbits(8) for _ in range(4096)))
                    time.sleep(0.02)
            elif self.mode == "switch":
                self.paced(conn, self.ts, 12)
            elif self.mode == "flap":
                self.relay(conn, 2)
        except OSError:
            pass
        conn.close()

    def stop(self):
        self.stopping = True
        for c in self.open_sockets:
            c.close()


def check_hostile_cameras(t, build, short):
    clip = make_person_clip(os.path.join(build, "reliability-person.mp4"))
    big = make_ts(os.path.join(build, "reliability-640.ts"), "640:480", "libx264")
    small = make_ts(os.path.join(build, "reliability-320-mpeg2.ts"), "320:240", "mpeg2video")
    healthy = Camera(clip)
    big_path = os.path.join(build, "reliability-640.ts")
    hostile = {mode: HostileCamera(mode, big + small if mode == "switch" else big, big_path)
               for mode in ("stall", "garbage", "header-only", "switch", "flap")}
    for cam in hostile.values():
        cam.start()
    args = ["--stream", f"healthy={healthy.url}"]
    for mode, cam in hostile.items():
        args += ["--stream", f"{mode}={cam.url}"]
    # A stall must become an error in bounded time: 3 s here (default 10).
    crtd = Crtd(build, args=args,
                config="[daemon]\nrestart_min_s = 0.5\nrestart_max_s = 2\ncamera_timeout_s = 3\n")
    window = 40 if short else 120
    try:
        wait_until(lambda: crtd.streams()["healthy"]["sampled"] > 0, 30, 0.5)
        seen = {mode: {"errors": set(), "states": set()} for mode in hostile}
        healthy_progress, api_failures, started = [], 0, time.monotonic()
        stall_detected_at = None
        last = crtd.streams()["healthy"]["sampled"]
        while time.monotonic() - started < window:
            time.sleep(5)
            try:
                ok = crtd.get("/healthz").status == 200
                streams = crtd.streams()
            except Exception as e:  # noqa: BLE001 - any failure to answer counts
                api_failures += 1
                print(f"API did not answer: {e}", file=sys.stderr)
                continue
            api_failures += not ok
            now = streams["healthy"]["sampled"]
            healthy_progress.append(now - last)
            last = now
            for mode in hostile:
                s = streams[mode]
                seen[mode]["states"].add(s["state"])
                if s["error"]:
                    seen[mode]["errors"].add(s["error"])
                if mode == "stall" and stall_detected_at is None and s["reconnects"] > 0:
                    stall_detected_at = time.monotonic() - started
        final = crtd.streams()
        t.check(f"the API answered every 5 s for {window} s", api_failures == 0,
                f"{api_failures} failures")
        t.check("the healthy camera kept going through every 5 s slice",
                all(p > 0 for p in healthy_progress), str(healthy_progress))
        print(f"healthy camera: sampled frames per 5 s slice {healthy_progress}")
        for mode in ("stall", "garbage", "header-only", "flap"):
            s = final[mode]
            t.check(f"{mode}: reported (reconnects {s['reconnects']}, states "
                    f"{sorted(seen[mode]['states'])}, errors {sorted(seen[mode]['errors'])[:2]})",
                    s["reconnects"] > 0 and (seen[mode]["errors"] or
                                             "reconnecting" in seen[mode]["states"]))
        t.check("stall: the silent connection became an error and a reconnect",
                stall_detected_at is not None)
        if stall_detected_at is not None:
            print(f"figure: stall detected within {stall_detected_at:.0f} s "
                  f"(read timeout 3 s, polled every 5 s)")
        t.check(f"flap: came back after each absence ({hostile['flap'].connections} connections)",
                hostile["flap"].connections >= 2 and final["flap"]["sampled"] > 0)
        t.check(f"switch: frames after the change of size and codec (sampled "
                f"{final['switch']['sampled']}, reconnects {final['switch']['reconnects']})",
                final["switch"]["sampled"] > 0)
        status = crtd.stop()
        t.check("crtd stops cleanly after the faults", status == 0, f"exit status {status}")
        log = crtd.log_text()
        for mode in ("stall", "garbage", "header-only", "flap"):
            t.check(f"{mode}: named in the log", f"stream {mode}" in log or f"'{mode}'" in log)
    finally:
        crtd.stop(timeout_s=5)
        healthy.stop()
        for cam in hostile.values():
            cam.stop()
        if t.failed:
            print(crtd.log_text()[-4000:], file=sys.stderr)
        crtd.remove()


def archive_chunks(root):
    """Counts the pose archive's chunks under root that are whole (header,
    payload, CRC-32 as docs/SERVICE.md describes) and those that are not."""
    whole = bad = 0
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".cpa"):
                continue
            data = open(os.path.join(folder, name), "rb").read()
            at = 0
            while at < len(data):
                head = data[at:at + 36]
                if len(head) < 36 or head[:4] != b"CPA1":
                    bad += 1
                    break
                records, raw, packed = struct.unpack_from("<III", head, 4)
                payload = data[at + 36:at + 36 + packed]
                crc = zlib.crc32(payload, zlib.crc32(head[:32]))
                if (len(payload) < packed or crc != struct.unpack_from("<I", head, 32)[0] or
                        len(zlib.decompress(payload)) != raw or raw != records * 93):
                    bad += 1
                    break
                whole += 1
                at += 36 + packed
    return whole, bad


def check_full_disk(t, build):
    mount = os.path.join(build, "reliability-full-disk")
    os.makedirs(mount, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mount],
                      capture_output=True).returncode != 0:
        t.check("full disk: a small tmpfs can be mounted (needs root)", False,
                "mount -t tmpfs failed: run as root")
        return
    crtd = None
    try:
        crtd = Crtd(build, model="none", args=[
            "--state-dir", mount, "--stream", "a=synthetic:script=Walk,Sitdown&segment_ms=20",
            "--stream", "b=synthetic:script=Sitdown*2,none&segment_ms=20"],
            config="[daemon]\nhysteresis_s = 0\ncheckpoint_segments = 1\n")
        wait_until(lambda: crtd.streams()["a"]["segments"] > 5, 10)
        started = time.time()
        with open(os.path.join(mount, "filler"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass  # the disk is full
        degraded = wait_until(lambda: crtd.get_json("/healthz")["status"] == "degraded", 10)
        health = crtd.get_json("/healthz")
        t.check(f"full disk: /healthz says degraded ({health['store']['error']})",
                degraded and "full" in (health["store"]["error"] or ""), str(health))
        metrics = crtd.get("/metrics").body
        t.check("full disk: /metrics has crtd_store_writable 0",
                "crtd_store_writable 0" in metrics)
        before = {n: s["segments"] for n, s in crtd.streams().items()}
        time.sleep(1)
        after = {n: s["segments"] for n, s in crtd.streams().items()}
        t.check("full disk: both streams keep classifying",
                all(after[n] > before[n] for n in before), f"{before} -> {after}")
        r = request(crtd.port, "GET", "/v1/streams/a/activity", token=Crtd.TOKEN)
        t.check("full disk: the API answers activity", r.status == 200, r.body[:200])
        # A label makes the pose archive write its buffer: on the full disk
        # that fails, is counted and said, and refuses nothing else.
        label = json.dumps({"stream": "a", "start": started - 60, "end": time.time(),
                            "class": "Walk"})
        r = request(crtd.port, "POST", "/v1/labels", token=Crtd.TOKEN, body=label)
        archive = crtd.streams()["a"]["archive"]
        t.check(f"full disk: the pose archive's failed write is counted and said "
                f"({archive['error']}); the label gets {r.status}",
                archive["failed_writes"] >= 1 and "space" in (archive["error"] or "") and
                r.status in (422, 507), f"{archive} {r.status} {r.body[:200]}")
        os.unlink(os.path.join(mount, "filler"))
        recovered = wait_until(lambda: crtd.get_json("/healthz")["status"] == "ok", 10)
        t.check("full disk: writes succeed again once there is room", recovered,
                str(crtd.get_json("/healthz")))
        time.sleep(0.5)
        label = json.dumps({"stream": "a", "start": time.time() - 0.4, "end": time.time(),
                            "class": "Walk"})
        r = request(crtd.port, "POST", "/v1/labels", token=Crtd.TOKEN, body=label)
        t.check("full disk: once there is room the archive writes again and a label takes its "
                "keypoints", r.status == 201 and r.json()["frames"] > 0, f"{r.status} {r.body}")
        status = crtd.stop()
        t.check("full disk: crtd stops cleanly", status == 0, f"exit status {status}")
        log = crtd.log_text()
        t.check("full disk: one error line when writes start failing, one notice when they "
                "succeed again",
                log.count("state store: writes fail") == 1 and "writes succeed again" in log)
        db = sqlite3.connect(os.path.join(mount, "crtd.db"))
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        rows = db.execute("SELECT count(*) FROM history").fetchone()[0]
        db.close()
        t.check(f"full disk: crtd.db intact afterwards ({integrity}, {rows} history rows)",
                integrity == "ok" and rows > 0)
        whole, bad = archive_chunks(os.path.join(mount, "archive"))
        t.check(f"full disk: every pose archive chunk whole afterwards ({whole} chunks, "
                f"checked with Python's zlib)", whole > 0 and bad == 0, f"{bad} bad")
    finally:
        if crtd:
            crtd.stop(timeout_s=5)
            if t.failed:
                print(crtd.log_text()[-3000:], file=sys.stderr)
            crtd.remove()
        subprocess.run(["umount", mount])


def check_model_reload(t, build):
    work = os.path.join(build, "reliability-models")
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "model.safetensors")
    shutil.copy(os.path.join(ROOT, "models", "default.safetensors"), model)
    pose = os.path.join(ROOT, "third_party", "models", "movenet-lightning.json")
    crtd = Crtd(build, model=model, args=[
        "--pose-model", pose, "--stream", "a=synthetic:script=none*2,none&segment_ms=20"])
    try:
        card = crtd.get_json("/v1/model")
        segments = lambda: crtd.streams()["a"]["segments"]  # noqa: E731

        def reload_with(content):
            os.unlink(model)  # a new file, as an upgrade writes one
            with open(model, "wb") as f:
                f.write(content)
            crtd.proc.send_signal(signal.SIGHUP)
            time.sleep(1)

        with open(model, "rb") as f:
            good = f.read()
        for what, content in (("truncated", good[:len(good) // 3]),
                              ("not a model", b"this is not a model file\n")):
            n = segments()
            reload_with(content)
            now = crtd.get_json("/v1/model")
            t.check(f"reload of a {what} file: the old model keeps serving, the error is shown "
                    f"({(now['reload_error'] or '')[:70]})",
                    now["parameters"] == card["parameters"] and now["reload_error"])
            t.check(f"reload of a {what} file: the stream keeps going",
                    wait_until(lambda: segments() > n + 5, 10))
        metrics = crtd.get("/metrics").body
        t.check("reload failures are counted in /metrics",
                "crtd_model_reload_failures_total 2" in metrics)
        tiny = os.path.join(ROOT, "tests", "fuzz", "corpus", "safetensors",
                            "tiny_gru_f32.safetensors")
        with open(tiny, "rb") as f:
            reload_with(f.read())
        now = crtd.get_json("/v1/model")
        t.check(f"reload of a good model: /v1/model shows it (d_model {now['d_model']}, "
                f"classes {now['classes']})",
                now["d_model"] != card["d_model"] and now["reload_error"] is None)
        n = segments()
        t.check("the stream runs on the new model",
                wait_until(lambda: segments() > n + 5, 10) and
                crtd.streams()["a"]["state"] == "running")
        status = crtd.stop()
        t.check("crtd stops cleanly after the reloads", status == 0, f"exit status {status}")
        log = crtd.log_text()
        t.check("each failed reload is one error line in the log",
                log.count("the model loaded before keeps serving") == 2)
    finally:
        crtd.stop(timeout_s=5)
        if t.failed:
            print(crtd.log_text()[-3000:], file=sys.stderr)
        crtd.remove()
        shutil.rmtree(work, ignore_errors=True)


def main():
    build, short = parse_args(sys.argv)
    t = Checks()
    check_model_reload(t, build)
    check_full_disk(t, build)
    check_hostile_cameras(t, build, short)
    t.finish()


if __name__ == "__main__":
    main()
