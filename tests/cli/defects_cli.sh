#!/bin/sh
# crt defects as a user runs it (help, errors), then on real footage: the
# first 60 sampled frames of third_party/images/vtest.avi (people walking
# past a fixed camera, 768x576, 10 fps) at --side 384, and one photograph.
# The checks are of sanity, not of this clip: every figure prints, scores and
# rates lie in 0..1, the spectrum's bands add up to 1, jitter is a small
# fraction of a box height, and a photo counts for scores only. Prints
# "N passed, N failed".
crt="$1"
root="$2"
tmp="$3"
. "$(dirname "$0")/lib.sh"

models="$root/third_party/models"
vtest="$root/third_party/images/vtest.avi"
photo="$root/third_party/images/basketball1.png"
mkdir -p "$tmp"
[ -f "$vtest" ] || bad "$vtest is missing (scripts/setup fetches it)"

json() { /usr/bin/python3 -c "import json, sys; v = json.load(open(sys.argv[1])); print($2)" "$1"; }

check defects_help 0 "usage: crt defects" -- "$crt" defects --help
check defects_no_input 2 "crt defects: a video or image is required" -- "$crt" defects
check defects_bad_side 2 "crt defects: --side must be a multiple of 32" -- "$crt" defects --side 300 "$vtest"
check defects_bad_frames 2 "crt defects: --max-frames must be" -- "$crt" defects --max-frames 0 "$vtest"
check defects_missing 1 "crt defects: .*no-such.mp4" -- "$crt" defects --models "$models" "$tmp/no-such.mp4"
check defects_text 0 "left/right swaps: .* per 1000 track-frames" -- \
    "$crt" defects --models "$models" --side 384 --max-frames 20 "$vtest"

"$crt" defects --models "$models" --model multipose --side 384 --max-frames 60 --json "$vtest" \
    >"$tmp/vtest.json" 2>"$tmp/vtest.err" || bad "defects vtest.avi: $(cat "$tmp/vtest.err")"
cat "$tmp/vtest.json"
figure() { json "$tmp/vtest.json" "$1"; }
unit='lambda x: 0 <= x <= 1'
[ "$(figure 'v["frames"] == 60 and v["observations"] > 60 and v["stills"] == 0')" = True ] &&
    ok "vtest: 60 frames, $(figure 'v["observations"]') person observations" ||
    bad "vtest: $(figure 'v["frames"]') frames, $(figure 'v["observations"]') observations"
[ "$(figure "all(($unit)(j[k]) for j in v['joints'] for k in ('score_median', 'score_p10', 'dropout'))")" = True ] &&
    ok "vtest: per-joint scores and dropouts in 0..1" || bad "vtest: a per-joint score or dropout outside 0..1"
[ "$(figure "all(j['score_p10'] <= j['score_median'] and j['jitter_median'] <= j['jitter_p90'] for j in v['joints'])")" = True ] &&
    ok "vtest: p10 <= median <= p90" || bad "vtest: quantiles out of order"
[ "$(figure 'v["jitter"]["median"] > 0 and v["jitter"]["p90"] < 0.5')" = True ] &&
    ok "vtest: jitter median $(figure 'round(v["jitter"]["median"], 4)') box heights" ||
    bad "vtest: jitter $(figure 'v["jitter"]'), expected above 0 and p90 below half a box height"
[ "$(figure 'v["spectrum"]["windows"] > 0 and abs(sum(b["energy"] for b in v["spectrum"]["bands"]) - 1) < 1e-6 and abs(sum(b["white"] for b in v["spectrum"]["bands"]) - 1) < 1e-6')" = True ] &&
    ok "vtest: spectrum bands add up to 1" || bad "vtest: spectrum $(figure 'v["spectrum"]')"
[ "$(figure "sum(s['people'] for s in v['sizes']) == v['observations'] and all(($unit)(s[k]) for s in v['sizes'] for k in ('score_median', 'score_p10', 'dropout'))")" = True ] &&
    ok "vtest: size bins hold every observation, scores in 0..1" || bad "vtest: sizes $(figure 'v["sizes"]')"
[ "$(figure "v['swaps']['track_frames'] > 0 and 0 <= v['swaps']['per_1000_frames'] <= 1000 and all(p['swaps'] <= p['checks'] for p in v['swaps']['pairs'])")" = True ] &&
    ok "vtest: $(figure 'round(v["swaps"]["per_1000_frames"], 1)') swaps per 1000 track-frames" ||
    bad "vtest: swaps $(figure 'v["swaps"]')"
[ "$(figure 'v["gaps"]["per_1000_frames"] <= 1000 and (v["gaps"]["count"] == 0 or v["gaps"]["mean_frames"] >= 1)')" = True ] &&
    ok "vtest: gaps $(figure 'v["gaps"]')" || bad "vtest: gaps $(figure 'v["gaps"]')"

"$crt" defects --models "$models" --side 384 --json "$photo" >"$tmp/photo.json" 2>"$tmp/photo.err" ||
    bad "defects photo: $(cat "$tmp/photo.err")"
[ "$(json "$tmp/photo.json" 'v["frames"] == 1 and v["stills"] >= 1 and v["stills"] == v["observations"] and v["jitter"]["median"] == 0 and v["swaps"]["track_frames"] == 0')" = True ] &&
    ok "photo: $(json "$tmp/photo.json" 'v["stills"]') people, scores only" || bad "photo: $(cat "$tmp/photo.json")"

finish
