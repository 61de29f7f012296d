#!/bin/sh
# crt classify with a multi-person pose model: a timeline per person track,
# on a clip ffmpeg makes here from a photograph of two basketball players
# (third_party/images/basketball1.png), padded and panned slowly so that
# both move across the frame for 6 s at 10 fps. Two tracks, each from the
# start to the end (ids that hold); a single-person model still gives the
# one timeline of before. Prints "N passed, N failed".
crt="$1"
root="$2"
tmp="$3"
. "$(dirname "$0")/lib.sh"

models="$root/third_party/models"
clip="$tmp/classify_two_people.mp4"
mkdir -p "$tmp"
ffmpeg -v error -y -loop 1 -i "$root/third_party/images/basketball1.png" -t 6 -r 10 \
    -vf "pad=800:480:80:0,crop=720:480:'80*t/6':0" -c:v libx264 -pix_fmt yuv420p "$clip" ||
    bad "ffmpeg could not make $clip"

json() { /usr/bin/python3 -c "import json, sys; v = json.load(open(sys.argv[1])); print($2)" "$1"; }

check classify_help 0 "multipose" -- "$crt" classify --help
check classify_bad_side 2 "crt classify: --side must be a multiple of 32" -- \
    "$crt" classify --pose multipose --side 100 "$clip"
check classify_bad_people 2 "crt classify: --max-people must be from 1 to 16" -- \
    "$crt" classify --pose multipose --max-people 0 "$clip"
check classify_people_text 0 "multipose at side 256: 2 tracks" -- \
    "$crt" classify --models "$models" --pose multipose "$clip"

"$crt" classify --models "$models" --pose multipose --json "$clip" >"$tmp/people.json" \
    2>"$tmp/people.err" || bad "classify --json: $(cat "$tmp/people.err")"
n=$(json "$tmp/people.json" 'len(v["tracks"])')
[ "$n" = 2 ] && ok "two tracks" || bad "$n tracks, expected 2"
ids=$(json "$tmp/people.json" '" ".join(str(t["id"]) for t in v["tracks"])')
[ "$ids" = "1 2" ] && ok "ids 1 and 2" || bad "ids '$ids', expected '1 2'"
# Each track lives from the first frames to the last segment, through every
# segment after its confirmation: no id was lost or given twice.
span=$(json "$tmp/people.json" 'all(t["first_seen"] <= 0.5 and t["last_seen"] >= 5.0 and len(t["segments"]) >= 6 for t in v["tracks"])')
[ "$span" = True ] && ok "both tracks span the clip" ||
    bad "tracks do not span the clip: $(json "$tmp/people.json" '[(t["id"], t["first_seen"], t["last_seen"], len(t["segments"])) for t in v["tracks"]]')"
stretches=$(json "$tmp/people.json" 'all(len(t["timeline"]) >= 1 and all(s["end"] > s["start"] and 0 <= s["score"] <= 1 for s in t["timeline"]) for t in v["tracks"])')
[ "$stretches" = True ] && ok "each track has its timeline" || bad "a track's timeline is malformed"

# labels_in_view counts the segments with their person in view, by label
# ("unknown" among them): as many as the tracks' segments of presence >= 0.5.
shares=$(json "$tmp/people.json" 'sum(v["labels_in_view"].values()) == sum(1 for t in v["tracks"] for s in t["segments"] if s["presence"] >= 0.5)')
[ "$shares" = True ] && ok "labels_in_view counts the segments in view" || bad "labels_in_view: $shares"
labels=$(json "$tmp/people.json" 'sorted(set(v["labels_in_view"]) - set(s["label"] for t in v["tracks"] for s in t["segments"] if s["presence"] >= 0.5))')
[ "$labels" = "[]" ] && ok "labels_in_view names the segments' labels" || bad "labels_in_view has $labels"
check classify_shares 0 "labels of the [0-9]* segments with their person in view:" -- \
    "$crt" classify --models "$models" --pose multipose "$clip"

# A single-person model: the one timeline of before, as one track.
"$crt" classify --models "$models" --json "$clip" >"$tmp/single.json" 2>"$tmp/single.err" ||
    bad "classify (lightning): $(cat "$tmp/single.err")"
single=$(json "$tmp/single.json" 'len(v["tracks"]) == 1 and len(v["segments"]) == 7 and v["tracks"][0]["segments"] == v["segments"]')
[ "$single" = True ] && ok "lightning: one track, the video's timeline" || bad "lightning: $single"

finish
