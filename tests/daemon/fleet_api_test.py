"""What a fleet of crtd boxes reads from each one, against the real crtd:
GET /v1/history across streams (every filter checked against the
per-stream histories of the same daemon, pages that join up, bad filters
answered 400 naming the parameter) and CORS (an allowed origin's reads and
preflight, an unlisted origin left without CORS headers, '*' and a bad
origin refused at start, a changed list applied on SIGHUP).

Usage: fleet_api_test.py --build DIR"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "reliability"))
from crtdtest import Checks, Crtd, parse_args, request, wait_until  # noqa: E402

ALLOWED = "http://box1.example:8470"
CONFIG = f"""[daemon]
hysteresis_s = 0
[server]
cors_origins = {ALLOWED}, http://[::1]:9000
[stream "kitchen"]
url = synthetic:script=Walk*2,Sitdown*2&person=2:Readbook*3&segment_ms=40
site = Rose wing
room = Room 12
[stream "hall"]
url = synthetic:script=Readbook*2,none*1&segment_ms=50
site = Oak wing
room = Hall
[stream "porch"]
url = synthetic:script=Walk*1,none*2&segment_ms=60
site = Rose wing
room = Porch
"""


def q(params):
    return "/v1/history?" + urllib.parse.urlencode(params)


def history_tests(t, crtd):
    ok = wait_until(lambda: len(crtd.get_json("/v1/history?limit=1000")["intervals"]) >= 30, 30)
    t.check("intervals accumulate", ok)
    # Everything that began before `until` stays the same set from now on.
    until = crtd.get_json("/v1/history?limit=1")["intervals"][0]["start"]
    per_stream = {}
    for name in ("kitchen", "hall", "porch"):
        got = crtd.get_json(f"/v1/streams/{name}/history?limit=1000&until={until}")["intervals"]
        t.check(f"{name}'s own history carries an id on every interval",
                got and all(isinstance(i.get("id"), int) for i in got))
        per_stream[name] = {i["id"]: i for i in got}
    every = {k: v for name in per_stream for k, v in per_stream[name].items()}

    def ids(params):
        r = crtd.get(q(dict(params, until=until, limit=1000)))
        if r.status != 200:
            raise RuntimeError(f"{params}: {r.status} {r.body}")
        return [i["id"] for i in r.json()["intervals"]]

    all_ids = ids({})
    t.check("GET /v1/history holds every stream's intervals, once each",
            sorted(all_ids) == sorted(every) and len(set(all_ids)) == len(all_ids),
            f"{len(all_ids)} vs {len(every)}")
    t.check("newest first by id", all_ids == sorted(all_ids, reverse=True))
    t.check("streams=", set(ids({"streams": "kitchen,porch"})) ==
            set(per_stream["kitchen"]) | set(per_stream["porch"]))
    for label in ("Walk", "Readbook"):
        want = {k for k, v in every.items() if v["label"] == label}
        t.check(f"labels={label}", want and set(ids({"labels": label})) == want)
    want = {k for k, v in every.items() if v["label"] in ("Walk", "Sitdown")}
    t.check("labels=Walk,Sitdown", set(ids({"labels": "Walk,Sitdown"})) == want)
    tracks = {v["person"] for v in every.values() if v["person"]}
    for track in tracks:
        want = {k for k, v in every.items() if v["person"] == track}
        t.check(f"track={track}", set(ids({"track": track})) == want)
    want = {k for k, v in every.items() if v["site"] == "Rose wing"}
    t.check("site=Rose wing: kitchen and porch",
            set(ids({"site": "Rose wing"})) == want and
            want == set(per_stream["kitchen"]) | set(per_stream["porch"]))
    t.check("site and room together", set(ids({"site": "Rose wing", "room": "Porch"})) ==
            set(per_stream["porch"]))
    ordered = sorted(every.values(), key=lambda i: i["id"])
    since = ordered[len(ordered) // 2]["start"]
    want = {i["id"] for i in ordered if i["open"] or i["end"] >= since}
    t.check("since=", set(ids({"since": since})) == want)

    # Pages of 7 join up into the whole list.
    pages, before = [], None
    for _ in range(100):
        params = {"until": until, "limit": 7}
        if before:
            params["before_id"] = before
        body = crtd.get_json(q(params))
        pages += [i["id"] for i in body["intervals"]]
        before = body["next_before_id"]
        if before is None:
            break
    t.check("pages by next_before_id give the whole list, in order", pages == all_ids,
            f"{len(pages)} vs {len(all_ids)}")

    bad = [("streams", "Bad name!"), ("streams", "kitchen,,hall"), ("streams", ""),
           ("labels", ""), ("labels", "a b"), ("track", "0"), ("track", "two"),
           ("before_id", "-3"), ("limit", "0"), ("limit", "100000"), ("since", "yesterday"),
           ("until", "soon"), ("site", " Rose wing"), ("room", "x\x01"), ("colour", "red"),
           ("streams", ",".join(f"s{i}" for i in range(40)))]
    for key, value in bad:
        r = crtd.get(q({key: value}))
        t.check(f"{key}={value[:20]!r}: 400 naming '{key}'",
                r.status == 400 and f"'{key}'" in r.json()["error"]["message"],
                f"{r.status} {r.body}")
    r = crtd.get(q({"since": "2026-11-22T09:00:00Z", "until": "2026-11-22T08:00:00Z"}))
    t.check("until before since: 400", r.status == 400 and "'until'" in r.body, r.body)
    r = crtd.get("/v1/history", token=None)
    t.check("without the token: 401", r.status == 401)


def cors_tests(t, crtd):
    r = crtd.get("/v1/streams", headers={"Origin": ALLOWED})
    t.check("an allowed origin may read", r.status == 200 and
            r.headers.get("Access-Control-Allow-Origin") == ALLOWED and
            "Origin" in r.headers.get("Vary", ""), str(r.headers))
    r = crtd.get("/v1/streams", headers={"Origin": "http://evil.example"})
    t.check("an unlisted origin gets no CORS header",
            r.status == 200 and "Access-Control-Allow-Origin" not in r.headers, str(r.headers))
    r = crtd.get("/v1/streams", headers={"Origin": ALLOWED + "/"})
    t.check("origins are exact (a trailing slash is another)",
            "Access-Control-Allow-Origin" not in r.headers)
    r = crtd.get("/v1/streams", token=None, headers={"Origin": ALLOWED})
    t.check("the allowed origin reads a 401 too (a page says 'wrong token')",
            r.status == 401 and r.headers.get("Access-Control-Allow-Origin") == ALLOWED)
    pre = {"Origin": ALLOWED, "Access-Control-Request-Method": "GET",
           "Access-Control-Request-Headers": "authorization"}
    r = request(crtd.port, "OPTIONS", "/v1/history", headers=pre)
    allow_headers = [h.strip().lower() for h in
                     r.headers.get("Access-Control-Allow-Headers", "").split(",")]
    t.check("preflight: 204 with the methods and Authorization",
            r.status == 204 and r.headers.get("Access-Control-Allow-Origin") == ALLOWED and
            "GET" in r.headers.get("Access-Control-Allow-Methods", "") and
            "authorization" in allow_headers, f"{r.status} {r.headers}")
    r = request(crtd.port, "OPTIONS", "/v1/streams/kitchen/zones/sofa",
                headers=dict(pre, **{"Access-Control-Request-Method": "PUT"}))
    t.check("preflight of a PUT route lists PUT",
            r.status == 204 and "PUT" in r.headers.get("Access-Control-Allow-Methods", ""))
    r = request(crtd.port, "OPTIONS", "/v1/streams",
                headers=dict(pre, Origin="http://evil.example"))
    t.check("preflight from an unlisted origin: no Access-Control-* header",
            r.status == 204 and not any(h.lower().startswith("access-control-") for h in r.headers),
            str(r.headers))
    r = request(crtd.port, "OPTIONS", "/v1/nothing", headers=pre)
    t.check("preflight of no path: 404", r.status == 404)
    r = crtd.get("/ui/fleet.html")
    t.check("the fleet page may connect to other instances",
            r.status == 200 and "connect-src 'self' http: https:" in
            r.headers.get("Content-Security-Policy", ""))


def reload_tests(t, crtd):
    conf = os.path.join(crtd.dir, "crtd.conf")
    with open(conf, "w") as f:
        f.write(CONFIG.replace(ALLOWED, "https://box9.example"))
    crtd.proc.send_signal(signal.SIGHUP)

    def allowed(origin):
        r = crtd.get("/v1/streams", headers={"Origin": origin})
        return r.headers.get("Access-Control-Allow-Origin") == origin
    t.check("SIGHUP: a new origin applies at once, the old one goes",
            wait_until(lambda: allowed("https://box9.example"), 10) and not allowed(ALLOWED))


def refused(t, build, value, what):
    bin = os.path.join(build, "daemon", "crtd")
    d = tempfile.mkdtemp(prefix="crtd-cors-")
    with open(os.path.join(d, "crtd.conf"), "w") as f:
        f.write(f"[server]\ncors_origins = {value}\n")
    with open(os.path.join(d, "token"), "w") as f:
        f.write("cors-test-token-0123456789\n")
    os.chmod(os.path.join(d, "token"), 0o600)
    p = subprocess.run([bin, "--config", os.path.join(d, "crtd.conf"), "--token-file",
                        os.path.join(d, "token"), "--state-dir", os.path.join(d, "state"),
                        "--check-config"], capture_output=True, text=True, timeout=30)
    t.check(f"cors_origins = {value}: {what}", p.returncode != 0 and
            "cors_origins" in p.stderr, f"{p.returncode} {p.stderr}")
    shutil.rmtree(d, ignore_errors=True)


def main():
    build, _ = parse_args(sys.argv)
    t = Checks()
    crtd = Crtd(build, config=CONFIG, model="none")
    try:
        history_tests(t, crtd)
        cors_tests(t, crtd)
        reload_tests(t, crtd)
    finally:
        crtd.stop()
        if t.failed:
            print(crtd.log_text()[-3000:], file=sys.stderr)
        crtd.remove()
    refused(t, build, "*", "refused with a token")
    refused(t, build, "http://box1:8470/dashboard", "a path is not an origin")
    refused(t, build, "box1:8470", "a scheme is needed")
    t.finish()


if __name__ == "__main__":
    main()
