#!/bin/sh
# crtd answered with curl, as a user would: the README's commands, the token,
# a POST, an error, the event stream with Last-Event-ID, history across
# streams page by page, a CORS preflight.
# Usage: curl.sh CRTD_BINARY
set -eu
crtd=$1
command -v curl >/dev/null || { echo "curl missing"; exit 77; }
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/log" ] && cat "$dir/log"; exit 1; }

printf 'curl-test-token-0123456789\n' >"$dir/token"
chmod 600 "$dir/token"
printf '[daemon]\nhysteresis_s = 0\n[server]\ncors_origins = http://dash.example:8470\n' >"$dir/crtd.conf"
"$crtd" --config "$dir/crtd.conf" --model none --listen 127.0.0.1:0 --state-dir "$dir/state" \
    --token-file "$dir/token" --stream 'kitchen=synthetic:script=Walk*3,none*3&segment_ms=40' \
    2>"$dir/log" &
pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$dir/log" | head -1)
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || fail "crtd did not start"
base="http://127.0.0.1:$port"
auth="Authorization: Bearer curl-test-token-0123456789"

curl -sf "$base/healthz" | grep -q '"status":"ok"' || fail healthz
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/streams")
[ "$code" = 401 ] || fail "no token: $code"
curl -sf -H "$auth" "$base/v1/streams/kitchen/activity" | grep -q '"stream":"kitchen"' ||
    fail activity
curl -sf -H "$auth" -d '{"name":"hall","url":"synthetic:script=Sitdown&segment_ms=40"}' \
    "$base/v1/streams" | grep -q '"origin":"api"' || fail POST
code=$(curl -s -o "$dir/err" -w '%{http_code}' -H "$auth" "$base/v1/streams/nope")
[ "$code" = 404 ] && grep -q '"code":"not_found"' "$dir/err" || fail "404: $code"

# Events: the first id, then a replay after it (bounded by --max-time).
curl -sN -H "$auth" --max-time 2 "$base/v1/events" >"$dir/events" || true
first=$(sed -n 's/^id: //p' "$dir/events" | head -1)
[ -n "$first" ] || fail "no events in 2 s"
curl -sN -H "$auth" -H "Last-Event-ID: $first" --max-time 1 "$base/v1/events" >"$dir/replay" || true
second=$(sed -n 's/^id: //p' "$dir/replay" | head -1)
[ -n "$second" ] && [ "$second" -gt "$first" ] || fail "replay after $first gave '$second'"

# History across streams, a page and the next; a bad filter named.
curl -sf -H "$auth" "$base/v1/history?streams=kitchen&limit=1" >"$dir/page" || fail history
next=$(sed -n 's/.*"next_before_id":\([0-9]*\).*/\1/p' "$dir/page")
[ -n "$next" ] || fail "no next_before_id in $(cat "$dir/page")"
curl -sf -H "$auth" "$base/v1/history?streams=kitchen&limit=1&before_id=$next" |
    grep -q '"stream":"kitchen"' || fail "history page before $next"
code=$(curl -s -o "$dir/err" -w '%{http_code}' -H "$auth" "$base/v1/history?track=none")
[ "$code" = 400 ] && grep -q "'track'" "$dir/err" || fail "history bad track: $code"

# A browser's preflight from the listed origin, and from another.
curl -si -X OPTIONS -H 'Origin: http://dash.example:8470' -H 'Access-Control-Request-Method: GET' \
    -H 'Access-Control-Request-Headers: authorization' "$base/v1/streams" >"$dir/pre"
grep -qi '^access-control-allow-headers:.*Authorization' "$dir/pre" || fail "preflight: $(cat "$dir/pre")"
curl -si -X OPTIONS -H 'Origin: http://other.example' "$base/v1/streams" >"$dir/pre"
! grep -qi '^access-control-' "$dir/pre" || fail "preflight of another origin: $(cat "$dir/pre")"

curl -sf -H "$auth" "$base/metrics" | grep -q '^crtd_stream_segments_total{stream="kitchen"}' ||
    fail metrics
curl -sf -H "$auth" -X DELETE "$base/v1/streams/hall" -o /dev/null || fail DELETE
kill "$pid"
wait "$pid" || fail "crtd exit status $?"
pid=
echo "curl: every check passed"
