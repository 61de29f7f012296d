#!/bin/sh
# crt track as a user runs it (help, errors, --json on a two-person clip
# ffmpeg makes here), then on real footage: third_party/images/vtest.avi
# (opencv-doc's fixed camera over a campus road, 768x576, 10 fps, 79.5 s,
# 5-12 small people walking) at --side 384. The bounds follow from what the
# tracker should achieve, not from this clip (docs/POSE.md, "Tracking on real
# footage"): several people found per frame (median >= 2), more than one
# confirmed track, confirmed tracks that outlive twice the 2 s an unseen
# person is held (mean life >= 4 s), and at most one re-identification per
# person in view per minute (re-identifications per minute <= the mean number
# of people per frame). Prints "N passed, N failed".
crt="$1"
root="$2"
tmp="$3"
. "$(dirname "$0")/lib.sh"

models="$root/third_party/models"
vtest="$root/third_party/images/vtest.avi"
clip="$tmp/track_two_people.mp4"
mkdir -p "$tmp"
ffmpeg -v error -y -loop 1 -i "$root/third_party/images/basketball1.png" -t 6 -r 10 \
    -vf "pad=800:480:80:0,crop=720:480:'80*t/6':0" -c:v libx264 -pix_fmt yuv420p "$clip" ||
    bad "ffmpeg could not make $clip"

json() { /usr/bin/python3 -c "import json, sys; v = json.load(open(sys.argv[1])); print($2)" "$1"; }

check track_help 0 "usage: crt track" -- "$crt" track --help
check track_no_file 2 "crt track: a video file is required" -- "$crt" track
check track_bad_side 2 "crt track: --side must be a multiple of 32" -- "$crt" track --side 300 "$clip"
check track_bad_frames 2 "crt track: --max-frames must be" -- "$crt" track --max-frames 0 "$clip"
check track_bad_option 2 "crt track: unknown or incomplete option '--frob'" -- "$crt" track --frob "$clip"
check track_missing 1 "crt track: .*no-such.mp4" -- "$crt" track --models "$models" "$tmp/no-such.mp4"
check track_text 0 "tracks: 2 started, 2 confirmed" -- "$crt" track --models "$models" "$clip"
check track_max_frames 0 "30 frames at 10 fps" -- "$crt" track --models "$models" --max-frames 30 "$clip"

"$crt" track --models "$models" --json "$clip" >"$tmp/two.json" 2>"$tmp/two.err" ||
    bad "track --json: $(cat "$tmp/two.err")"
two=$(json "$tmp/two.json" 'v["frames"] == 60 and v["tracks_confirmed"] == 2 and v["reidentifications"] == 0 and v["people_per_frame"]["median"] == 2')
[ "$two" = True ] && ok "two people: two tracks, no re-identification" || bad "two people: $(cat "$tmp/two.json")"

# ---- real footage ----
[ -f "$vtest" ] || bad "$vtest is missing (scripts/setup fetches it)"
"$crt" track --models "$models" --side 384 --json "$vtest" >"$tmp/vtest.json" 2>"$tmp/vtest.err" ||
    bad "track vtest.avi: $(cat "$tmp/vtest.err")"
cat "$tmp/vtest.json"
figure() { json "$tmp/vtest.json" "$1"; }
[ "$(figure 'v["people_per_frame"]["median"] >= 2')" = True ] &&
    ok "vtest: median $(figure 'v["people_per_frame"]["median"]') people per frame" ||
    bad "vtest: median $(figure 'v["people_per_frame"]["median"]') people per frame, expected >= 2"
[ "$(figure 'v["tracks_confirmed"] > 1')" = True ] &&
    ok "vtest: $(figure 'v["tracks_confirmed"]') confirmed tracks" ||
    bad "vtest: $(figure 'v["tracks_confirmed"]') confirmed tracks, expected more than 1"
[ "$(figure 'v["confirmed_life_s"] >= 4')" = True ] &&
    ok "vtest: confirmed tracks live $(figure 'round(v["confirmed_life_s"], 1)') s on average" ||
    bad "vtest: confirmed tracks live $(figure 'v["confirmed_life_s"]') s on average, expected >= 4"
[ "$(figure 'v["reidentifications_per_minute"] <= v["people_per_frame"]["mean"]')" = True ] &&
    ok "vtest: $(figure 'round(v["reidentifications_per_minute"], 2)') re-identifications per minute" ||
    bad "vtest: $(figure 'v["reidentifications_per_minute"]') re-identifications per minute, expected <= $(figure 'v["people_per_frame"]["mean"]') (one per person in view)"

finish
