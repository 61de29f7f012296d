#!/bin/sh
# crt extract, eval, train --smarthome and classify on a Smarthome look-alike
# tree of clips made here by ffmpeg from two photographs of people (the real
# dataset is not redistributable). Checks naming, resumability, sharding,
# reports of bad clips, protocol splits and the timeline.
# usage: smarthome_cli.sh CRT WORKDIR PYTHON SOURCE_ROOT
# Prints "N passed, N failed" and exits non-zero on any failure.
crt="$1"
work="$2"
python="$3"
src="$4"
. "$(dirname "$0")/lib.sh"
rm -rf "$work"
mkdir -p "$work/clips"

json() { # FILE EXPRESSION (Python, on the parsed value v)
    "$python" -c 'import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# Two activities, each from its own photograph with its own motion; cameras
# c01 (cv1 train), c05 (cv1 validation), c02 (cv1 test).
make_clip() { # NAME PHOTO MOTION
    ffmpeg -v error -y -loop 1 -i "$src/third_party/images/$2" \
        -vf "scale=640:480,$3,format=yuv420p" -r 20 -t 1.7 -c:v libx264 "$work/clips/$1" ||
        bad "ffmpeg could not make $1"
}
i=0
for cam in 01 01 01 05 02 02; do
    i=$((i + 1))
    make_clip "Walk_p03_r0${i}_v00_c$cam.mp4" messi5.jpg \
        "crop=560:420:'40+30*sin(2*t+$i)':30,scale=640:480"
    make_clip "Sitdown_p04_r0${i}_v00_c$cam.mp4" basketball1.png \
        "zoompan=z='1+0.0$i*on':d=1:s=640x480:fps=20"
done
make_clip "holiday-video.mp4" messi5.jpg "crop=560:420:0:0,scale=640:480"
head -c 20000 /dev/urandom >"$work/clips/Drink.Fromcup_p02_r00_v00_c02.mp4"

# ---- extract ----
check extract 0 "12 extracted, 0 already cached, 1 with unparsable names, 1 failed" -- \
    "$crt" extract "$work/clips" --out "$work/cache"
check extract_report_unparsable 0 "holiday-video.mp4" -- cat "$work/cache/report.json"
check extract_report_undecodable 0 "Drink.Fromcup_p02_r00_v00_c02.mp4" -- cat "$work/cache/report.json"
n=$(json "$work/cache/manifest.json" 'len(v["clips"])')
[ "$n" = 12 ] && ok "manifest lists 12 clips" || bad "manifest lists $n clips"
check manifest_fields 0 "Sitdown 4 2" -- \
    json "$work/cache/manifest.json" \
    '" ".join(str(c[k]) for c in v["clips"] if c["clip"].startswith("Sitdown_p04_r05") for k in ("label","subject","camera"))'
check extract_resumes 0 "0 extracted, 12 already cached" -- \
    "$crt" extract "$work/clips" --out "$work/cache"
touch "$work/clips/Walk_p03_r01_v00_c01.mp4"
printf 'x' >>"$work/clips/Walk_p03_r02_v00_c01.mp4"
check extract_redoes_changed_video 0 "1 extracted, 11 already cached" -- \
    "$crt" extract "$work/clips" --out "$work/cache"

# ---- shards split the folder exactly ----
"$crt" extract "$work/clips" --out "$work/shards" --shard 1/3 --jobs 1 >/dev/null 2>&1
"$crt" extract "$work/clips" --out "$work/shards" --shard 2/3 --jobs 1 >/dev/null 2>&1
"$crt" extract "$work/clips" --out "$work/shards" --shard 3/3 --jobs 1 >/dev/null 2>&1
whole=$(json "$work/cache/manifest.json" 'sorted(c["clip"] for c in v["clips"])')
merged=$("$python" -c '
import glob, json, sys
clips = []
for p in glob.glob(sys.argv[1] + "/manifest-*-of-3.json"):
    clips += [c["clip"] for c in json.load(open(p))["clips"]]
print(sorted(clips))' "$work/shards")
[ "$whole" = "$merged" ] && ok "three shards make the whole manifest" || bad "shards: $merged"
check shard_bad 2 "wants I/N" -- "$crt" extract "$work/clips" --shard 4/3

# ---- the shards merged are the one-run cache, byte for byte ----
check merge 0 "merged 3 shards: 12 clips, 2 left out" -- "$crt" extract --merge "$work/shards"
for f in manifest.json report.json; do
    cmp -s "$work/shards/$f" "$work/cache/$f" && ok "merged $f is the one-run $f" ||
        bad "merged $f differs from the one-run $f"
done
differ=$(cd "$work/cache" && for f in *.pose; do cmp -s "$f" "$work/shards/$f" || echo "$f"; done)
[ -z "$differ" ] && ok "shards' pose files are the one-run files" || bad "pose files differ: $differ"
mkdir -p "$work/two-of-three"
cp "$work/shards/manifest-1-of-3.json" "$work/shards/manifest-3-of-3.json" "$work/two-of-three/"
check merge_missing_shard 1 "manifest-2-of-3.json: shard 2 of 3 is missing" -- \
    "$crt" extract --merge "$work/two-of-three"
cp "$work/shards/manifest-2-of-3.json" "$work/two-of-three/"
check merge_missing_pose 1 "listed in .*manifest-1-of-3.json but missing" -- \
    "$crt" extract --merge "$work/two-of-three"
mv "$work/two-of-three/manifest-2-of-3.json" "$work/two-of-three/manifest-2-of-4.json"
check merge_mixed_splits 1 "shards of two splits" -- "$crt" extract --merge "$work/two-of-three"
check merge_nothing 1 "no shard manifests" -- "$crt" extract --merge "$work/clips"
check merge_with_out 2 "takes only the cache folder" -- \
    "$crt" extract --merge --out "$work/x" "$work/shards"

# ---- eval with the protocol's split and classes ----
"$python" "$src/tests/ref/mechanisms_ref.py" models --out "$work/ref" crt/gru >/dev/null
check eval_cv1 0 "mean per-class accuracy" -- \
    "$crt" eval --model "$work/ref/crt_gru.safetensors" --protocol cv1 --report "$work/report" \
    "$work/cache"
n=$(json "$work/report/report.json" 'v["clips"]')
[ "$n" = 4 ] && ok "cv1 test split: the 4 c02 clips that decode" || bad "cv1 evaluated $n clips"
n=$(json "$work/report/report.json" 'v["classes_scored"]')
[ "$n" = 2 ] && ok "two classes have test samples" || bad "classes_scored $n"
check eval_on_clips 0 "4 clips" -- \
    "$crt" eval --model "$work/ref/crt_gru.safetensors" --protocol cv1 --cache "$work/cache2" \
    "$work/clips"
check eval_cs_split 1 "no clips to evaluate in the protocol's test split" -- \
    "$crt" eval --model "$work/ref/crt_gru.safetensors" --protocol cs "$work/cache"

# ---- eval --known-classes: the default model knows fewer classes than cs ----
# Test subjects of cs (p02, p10, p11, p14), clips of classes the default model
# knows and of classes it lacks, and two of a train subject (one in cv1's test).
mkdir -p "$work/cs"
make_cs_clip() { # NAME PHOTO
    ffmpeg -v error -y -loop 1 -i "$src/third_party/images/$2" \
        -vf "scale=640:480,crop=560:420:'40+30*sin(3*t)':30,scale=640:480,format=yuv420p" \
        -r 20 -t 1.7 -c:v libx264 "$work/cs/$1" || bad "ffmpeg could not make $1"
}
make_cs_clip Walk_p02_r00_v00_c03.mp4 messi5.jpg
make_cs_clip Sitdown_p10_r00_v00_c04.mp4 basketball1.png
make_cs_clip Drink.Fromcup_p11_r00_v00_c01.mp4 messi5.jpg
make_cs_clip Cook.Cut_p14_r00_v00_c03.mp4 basketball1.png
make_cs_clip Eat.Snack_p02_r01_v00_c02.mp4 messi5.jpg
make_cs_clip Walk_p03_r00_v00_c03.mp4 messi5.jpg
make_cs_clip Sitdown_p03_r01_v00_c02.mp4 basketball1.png
"$crt" extract "$work/cs" --out "$work/cs-pose" >/dev/null 2>&1
model="$src/models/default.safetensors"
check eval_refuses_fewer_classes 1 "do not cover protocol cs.*--known-classes" -- \
    "$crt" eval --model "$model" --protocol cs "$work/cs-pose"
check eval_known_classes 0 "known-classes: scored" -- \
    "$crt" eval --model "$model" --protocol cs --known-classes --report "$work/known" \
    "$work/cs-pose"
check eval_known_classes_all 2 "needs a Smarthome protocol" -- \
    "$crt" eval --model "$model" --protocol all --known-classes "$work/cs-pose"
# What the report must say, worked out from the protocol's and the model's own
# class lists (crt classes, crt model-info) and the clip names made above.
"$crt" classes --json >"$work/classes.json"
"$crt" model-info --json "$model" >"$work/model.json"
for protocol in cs cv1; do
    "$crt" eval --model "$model" --protocol $protocol --known-classes --json "$work/cs-pose" \
        >"$work/known-$protocol.json" 2>"$work/known-$protocol.err" ||
        bad "eval --known-classes --protocol $protocol: $(tail -3 "$work/known-$protocol.err")"
    verdict=$("$python" - "$work/known-$protocol.json" "$work/classes.json" "$work/model.json" \
        "$work/cs" $protocol <<'PY'
import json, math, os, sys
report, classes, model = (json.load(open(p)) for p in sys.argv[1:4])
clips, protocol = sorted(os.listdir(sys.argv[4])), sys.argv[5]
known = model["classes"]
proto = [c["name"] for c in classes if protocol == "cs" or c["cross_view"]]
problems = []
def want(what, got, expected):
    if got != expected:
        problems.append("%s: %r, expected %r" % (what, got, expected))
want("scored", report["protocol_classes_scored"], [c for c in known if c in proto])
want("left out", report["protocol_classes_left_out"], [c for c in proto if c not in known])
cs_test = {2, 10, 11, 14, 16, 18, 20}
def is_test(name):
    fields = name[:-4].split("_")
    if protocol == "cs":
        return int(fields[1][1:]) in cs_test
    return int(fields[4][1:]) == 2
test = [n for n in clips if n.split("_")[0] in proto and is_test(n)]
want("clips", report["clips"], sum(n.split("_")[0] in known for n in test))
want("clips left out", report["clips_of_classes_left_out"],
     sum(n.split("_")[0] not in known for n in test))
# The mean per-class accuracy over the scored classes that have samples,
# recomputed from the confusion matrix.
recalls = []
for i, name in enumerate(known):
    row = report["confusion"][i]
    if name in report["protocol_classes_scored"] and sum(row) > 0:
        recalls.append(row[i] / sum(row))
mca = report["mean_class_accuracy"]
expected = sum(recalls) / len(recalls) if recalls else None
if (mca is None) != (expected is None) or (mca is not None and abs(mca - expected) > 1e-9):
    problems.append("mean class accuracy %r, the matrix gives %r" % (mca, expected))
want("classes counted", report["classes_scored"], len(recalls))
print("; ".join(problems) if problems else "agrees")
PY
    )
    [ "$verdict" = agrees ] && ok "eval --known-classes --protocol $protocol report agrees" ||
        bad "eval --known-classes --protocol $protocol: $verdict"
done

# ---- train on the protocol's splits; the test pass follows ----
check train_smarthome 0 "test split (protocol cv1, 4 clips)" -- \
    "$crt" train --smarthome "$work/cache" --protocol cv1 --out "$work/cv1.model" \
    --d 16 --heads 2 --epochs 2 --batch 4
check train_model_card 0 "Walk" -- "$crt" model-info "$work/cv1.model"

# ---- classify: the timeline of one video ----
"$crt" classify --model "$work/cv1.model" --json "$work/clips/Walk_p03_r05_v00_c02.mp4" \
    >"$work/timeline.json" 2>"$work/classify.err"
n=$(json "$work/timeline.json" 'len(v["segments"])')
[ "$n" -ge 1 ] && ok "classify gives $n segments" || bad "classify: $(cat "$work/classify.err")"
check classify_text 0 "segments (model" -- \
    "$crt" classify --model "$work/cv1.model" "$work/clips/Sitdown_p04_r05_v00_c02.mp4"
check classify_bad_file 1 "Drink.Fromcup_p02_r00_v00_c02.mp4" -- \
    "$crt" classify --model "$work/cv1.model" "$work/clips/Drink.Fromcup_p02_r00_v00_c02.mp4"
check classify_missing 1 "No such file" -- "$crt" classify --model "$work/cv1.model" "$work/none.mp4"

finish
