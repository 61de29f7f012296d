#!/bin/sh
# The motion gate in crt classify and crt extract, against the ungated path.
# Clips made here by ffmpeg: an empty room (a still picture) under a
# flickering lamp, breathing exposure and sensor noise; the same room where
# a person (a photograph's crop) walks in at 2 s; a person sitting still
# (the photograph held, with the same light and noise); and 30 s of real
# footage (third_party/images/vtest.avi). Checks:
#   - the empty room: pose on the first frame only (it starts the
#     background), none after, with or without the person's model;
#   - the walk-in: pose on the first frame, then on every frame from the
#     first one with motion (the sampled frame at 2.0 s) to the end;
#   - on every clip, the gate's labels equal the ungated ones within the
#     tolerance of docs/VIDEO.md: the same clip label (the most common
#     segment label) and at least 80% of the segments with the same label;
#   - crt extract --gate caches as many frames as without, and counts them.
# usage: gate_cli.sh CRT SOURCE_ROOT WORKDIR. Prints "N passed, N failed".
crt="$1"
root="$2"
tmp="$3"
. "$(dirname "$0")/lib.sh"
rm -rf "$tmp"
mkdir -p "$tmp/clips"
py=/usr/bin/python3
img="$root/third_party/images"
models="$root/third_party/models"
ff() { ffmpeg -nostdin -v error -y "$@"; }
# The lamp (brightness +-0.1 at 1.3 Hz), the exposure (contrast +-15% at
# 0.4 Hz) and the sensor's noise.
light="eq=brightness='0.1*sin(2*PI*1.3*t)':contrast='1+0.15*sin(2*PI*0.4*t)':eval=frame,noise=alls=12:allf=t"

ff -f lavfi -i testsrc2=size=640x480 -vf eq=contrast=0.8 -frames:v 1 "$tmp/room.png" &&
    ff -loop 1 -framerate 30 -i "$tmp/room.png" -t 4 -vf "$light" -c:v libx264 \
        -preset veryfast -pix_fmt yuv420p "$tmp/clips/empty.mp4" ||
    bad "ffmpeg could not make the empty room"
# The person: the photograph's centre, 200x300, entering from the left at
# 1.95 s at 300 px/s, so that the frame sampled at 2.0 s is the first to
# show it (15 px of it) and every later one shows it moving.
ff -loop 1 -framerate 30 -i "$tmp/room.png" -loop 1 -framerate 30 -i "$img/messi5.jpg" -t 4 \
    -filter_complex "[1]crop=200:300:'(iw-200)/2':'(ih-300)/2'[p];[0][p]overlay=x='if(lt(t,1.95),-400,-200+(t-1.95)*300)':y=120,$light" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p "$tmp/clips/walk_in.mp4" ||
    bad "ffmpeg could not make the walk-in"
ff -loop 1 -framerate 30 -i "$img/messi5.jpg" -t 8 -vf "scale=640:480,$light" -c:v libx264 \
    -preset veryfast -pix_fmt yuv420p "$tmp/clips/sitting.mp4" ||
    bad "ffmpeg could not make the sitting clip"
ff -i "$img/vtest.avi" -t 30 -c copy "$tmp/clips/vtest.avi" || bad "ffmpeg could not cut vtest.avi"

json() { "$py" -c 'import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

check gate_help 0 "still-pose-fps" -- "$crt" classify --help
check extract_gate_help 0 "still-pose-fps" -- "$crt" extract --help
check gate_bad_rate 2 "crt classify: --still-pose-fps '0': expected a rate in (0, 60]" -- \
    "$crt" classify --still-pose-fps 0 "$tmp/clips/empty.mp4"
check bench_bad_workload 2 "crt bench e2e: --workload 'office': expected clip (the default) or home" -- \
    "$crt" bench e2e --workload office
check bench_home_help 0 "still_pose_fps 2" -- "$crt" bench e2e --workload home --help
check extract_bad_rate 2 "crt extract: --still-pose-fps 'x': expected a rate in (0, 60]" -- \
    "$crt" extract --gate --still-pose-fps x "$tmp/clips"

classify() { # NAME CLIP OUT [options]
    name=$1 clip=$2 out=$3
    shift 3
    "$crt" classify --models "$models" --json "$@" "$clip" >"$out" 2>"$out.err" ||
        bad "$name: crt classify $*: $(cat "$out.err")"
}

# ---- the empty room: pose on the background's first frame only ----
for pose in lightning multipose; do
    classify "empty $pose" "$tmp/clips/empty.mp4" "$tmp/empty-$pose.json" --pose $pose
    got=$(json "$tmp/empty-$pose.json" '(v["frames"], v["gate"]["pose_frames"], v["gate"]["gated"])')
    want=$(json "$tmp/empty-$pose.json" '(v["frames"], 1, v["frames"] - 1)')
    [ "$got" = "$want" ] && ok "empty room ($pose): pose on the first frame only, $got" ||
        bad "empty room ($pose): (frames, pose, gated) $got, expected $want"
done
classify "empty, no gate" "$tmp/clips/empty.mp4" "$tmp/empty-off.json" --no-gate
off=$(json "$tmp/empty-off.json" 'v["gate"]["on"] == False and v["gate"]["pose_frames"] == v["frames"] == 40')
[ "$off" = True ] && ok "--no-gate: pose on all 40 frames" || bad "--no-gate: $(cat "$tmp/empty-off.json" | head -c 300)"
check gate_text 0 "motion gate: 39 of 40 frames still, pose on 1 (still_pose_fps 2)" -- \
    "$crt" classify --models "$models" "$tmp/clips/empty.mp4"

# ---- a person walks in: pose from the first frame with motion ----
classify "walk-in" "$tmp/clips/walk_in.mp4" "$tmp/walk.json"
# Sampled frames 0..19 (up to 1.9 s) are the empty room; 20 (2.0 s) is the
# first with the person; pose on frame 0 and on 20 to the end.
got=$(json "$tmp/walk.json" '(v["gate"]["pose_frames"], v["gate"]["gated"])')
want=$(json "$tmp/walk.json" '(1 + v["frames"] - 20, 19)')
[ "$got" = "$want" ] && ok "walk-in: pose on frame 0 and from frame 20 on, (pose, gated) $got" ||
    bad "walk-in: (pose, gated) $got, expected $want"

# ---- labels with the gate equal labels without it ----
for c in walk_in sitting vtest empty; do
    clip=$(ls "$tmp/clips/$c".*)
    classify "$c gated" "$clip" "$tmp/$c-on.json"
    classify "$c ungated" "$clip" "$tmp/$c-off.json" --no-gate
    "$py" - "$tmp/$c-on.json" "$tmp/$c-off.json" "$c" >"$tmp/$c-cmp.txt" <<'EOF'
import collections, json, sys
on, off = (json.load(open(p)) for p in sys.argv[1:3])
a = [s["label"] for s in on["segments"]]
b = [s["label"] for s in off["segments"]]
same = sum(x == y for x, y in zip(a, b))
top = lambda l: collections.Counter(l).most_common(1)[0][0] if l else None
good = len(a) == len(b) > 0 and same >= 0.8 * len(a) and top(a) == top(b)
print("%s %s: %d of %d segments agree (%.0f%%), clip label %s / %s, pose on %d of %d frames" % (
    "ok" if good else "FAIL", sys.argv[3], same, len(a), 100.0 * same / max(len(a), 1),
    top(a), top(b), on["gate"]["pose_frames"], on["frames"]))
EOF
    line=$(cat "$tmp/$c-cmp.txt")
    case "$line" in
    ok*) ok "labels: ${line#ok }" ;;
    *) bad "labels: $line" ;;
    esac
done
# The sitting person keeps still: pose at about still_pose_fps, not on all.
fewer=$(json "$tmp/sitting-on.json" 'v["gate"]["pose_frames"] <= v["frames"] // 2')
[ "$fewer" = True ] && ok "sitting: pose on at most half the frames" ||
    bad "sitting: pose on $(json "$tmp/sitting-on.json" 'v["gate"]')"

# ---- crt extract --gate ----
mkdir -p "$tmp/sh"
cp "$tmp/clips/sitting.mp4" "$tmp/sh/Sitdown_p01_r00_v00_c01.mp4"
cp "$tmp/clips/empty.mp4" "$tmp/sh/Walk_p01_r00_v00_c01.mp4"
"$crt" extract --jobs 1 --json "$tmp/sh" --out "$tmp/cache-off" >"$tmp/x-off.json" 2>/dev/null ||
    bad "extract without the gate"
"$crt" extract --jobs 1 --gate --json "$tmp/sh" --out "$tmp/cache-on" >"$tmp/x-on.json" 2>/dev/null ||
    bad "extract --gate"
got=$(json "$tmp/x-on.json" '(v["gate"], v["frames"], v["pose_frames"] < v["frames"], v["gated"] > 0)')
want=$(json "$tmp/x-off.json" '(True, v["frames"], True, True)')
[ "$got" = "$want" ] && ok "extract --gate: the same frames, fewer pose runs $got" ||
    bad "extract --gate: $got, expected $want"
check extract_gate_text 0 "motion gate: .* frames still, pose on" -- \
    "$crt" extract --jobs 1 --gate "$tmp/sh" --out "$tmp/cache-text"

finish
