#!/bin/sh
# crt mocap as a user runs it: on two small BVH files written here (CMU's
# MotionBuilder joint names) with an index, and on two real clips of
# ../shared/mocap when that folder exists (skipped, saying so, when not).
# The files it writes must load: crt train --data trains on them for an
# epoch and crt eval scores them. Errors name the row or the file.
# usage: mocap_cli.sh CRT WORKDIR MOCAP_DIRS (candidates separated by ':')
# Prints "N passed, N failed" and exits non-zero on any failure.
crt="$1"
work="$2"
mocap_dirs="$3"
. "$(dirname "$0")/lib.sh"
rm -rf "$work"
mkdir -p "$work/in"

# A standing figure in metres, Y up, facing +Z, 61 frames at 30 fps; walk.bvh
# moves 4 cm a frame along +X, wave.bvh raises its right forearm.
figure() { # NAME MOTION(walk|wave)
    awk -v motion="$2" 'BEGIN {
        n = split("Hips:-1:0 0.95 0|LeftUpLeg:0:0.1 0 0|LeftLeg:1:0 -0.45 0|LeftFoot:2:0 -0.42 0|" \
            "RightUpLeg:0:-0.1 0 0|RightLeg:4:0 -0.45 0|RightFoot:5:0 -0.42 0|" \
            "Spine:0:0 0.3 0|Neck:7:0 0.2 0|Head:8:0 0.1 0|" \
            "LeftArm:7:0.18 0.18 0|LeftForeArm:10:0 -0.28 0|LeftHand:11:0 -0.25 0|" \
            "RightArm:7:-0.18 0.18 0|RightForeArm:13:0 -0.28 0|RightHand:14:0 -0.25 0", j, "|")
        for (i = 1; i <= n; i++) { split(j[i], f, ":"); name[i-1] = f[1]; parent[i-1] = f[2]; off[i-1] = f[3] }
        print "HIERARCHY"; emit(0, 0)
        print "MOTION"; print "Frames: 61"; print "Frame Time: 0.0333333"
        for (t = 0; t < 61; t++) {
            line = (motion == "walk" ? 0.04 * t : 0) " 0 0 0 0 0"
            for (k = 1; k < n; k++) {
                x = (motion == "wave" && name[k] == "RightForeArm") ? -120 * sin(t / 10) : 0
                line = line " 0 0 " x
            }
            print line
        }
    }
    function emit(k, d,   c, pad) {
        pad = sprintf("%" (2 * d + 1) "s", "")
        print pad (k ? "JOINT " : "ROOT ") name[k]; print pad "{"; print pad "  OFFSET " off[k]
        print pad "  CHANNELS " (k ? "3 Zrotation Yrotation Xrotation" : \
            "6 Xposition Yposition Zposition Zrotation Yrotation Xrotation")
        for (c = 1; c < n; c++) if (parent[c] == k) emit(c, d + 1)
        if (name[k] == "Head") { print pad "  End Site"; print pad "  {"; print pad "    OFFSET 0 0.12 0"; print pad "  }" }
        print pad "}"
    }' > "$work/in/$1"
}
figure walk.bvh walk
figure wave.bvh wave
tab=$(printf '\t')
{
    echo "file${tab}cmu_subject_trial${tab}cmu_description${tab}activity${tab}fps"
    echo "walk.bvh${tab}901_01${tab}walk across${tab}Walk${tab}30"
    echo "wave.bvh${tab}902_01${tab}wave${tab}Usetelephone${tab}30"
} > "$work/in/index.tsv"

check help 0 "usage: crt mocap --index FILE --out DIR" -- "$crt" mocap --help
check listed 0 "mocap .*motion-capture clips" -- "$crt" --help
check no_index 2 "--index FILE is required" -- "$crt" mocap --out "$work/x" "$work/in"
check no_input 2 "name at least one clip or folder" -- \
    "$crt" mocap --index "$work/in/index.tsv" --out "$work/x"
check bad_cameras 2 "invalid value '0' for --cameras" -- \
    "$crt" mocap --index "$work/in/index.tsv" --out "$work/x" --cameras 0 "$work/in"
check bad_relabel 2 "invalid value 'Drink=Walk' for --relabel" -- \
    "$crt" mocap --index "$work/in/index.tsv" --out "$work/x" --relabel Drink=Walk "$work/in"
check bad_source 2 "invalid value 'mit' for --exclude-source" -- \
    "$crt" mocap --index "$work/in/index.tsv" --out "$work/x" --exclude-source mit "$work/in"

check small 0 "wrote 6 pose sequences (2 clips" -- \
    "$crt" mocap --index "$work/in/index.tsv" --out "$work/small" --cameras 3 "$work/in"
for f in Walk_s901_c01_901_01 Walk_s901_c03_901_01 Usetelephone_s902_c02_902_01; do
    [ -f "$work/small/$f.pose" ] && ok "wrote $f.pose" || bad "no $f.pose in: $(ls "$work/small")"
done
check progress 0 "1/2 walk.bvh (Walk): 20 frames x 3 cameras" -- \
    "$crt" mocap --index "$work/in/index.tsv" --out "$work/again" --cameras 3 "$work/in"
cmp -s "$work/small/Walk_s901_c02_901_01.pose" "$work/again/Walk_s901_c02_901_01.pose" &&
    ok "the same seed writes the same file" || bad "two runs of one seed differ"
"$crt" mocap --index "$work/in/index.tsv" --out "$work/seed2" --cameras 1 --seed 2 \
    "$work/in/walk.bvh" >/dev/null 2>&1
cmp -s "$work/small/Walk_s901_c01_901_01.pose" "$work/seed2/Walk_s901_c01_901_01.pose" &&
    bad "another seed wrote the same file" || ok "another seed, another camera"
grep -q "crt mocap --seed 1 --fps 10 --noise 1: walk.bvh" "$work/small/Walk_s901_c01_901_01.pose" &&
    ok "provenance in the metadata" || bad "no provenance in Walk_s901_c01_901_01.pose"

# The files are pose sequences that crt train and crt eval read.
check train_small 0 "" -- "$crt" train --data "$work/small" --val "$work/small" \
    --out "$work/small.safetensors" --epochs 1 --d 16 --layers 1 --heads 2 --batch 4 --threads 1
check eval_small 0 "mean per-class accuracy" -- \
    "$crt" eval --model "$work/small.safetensors" --protocol all "$work/small"

# Errors name the row or the file.
{
    cat "$work/in/index.tsv"
    echo "dance.bvh${tab}903_01${tab}dance${tab}Dancing${tab}30"
} > "$work/in/bad.tsv"
check unknown_activity 1 "bad.tsv:4 (dance.bvh): activity 'Dancing' is not a Toyota Smarthome" -- \
    "$crt" mocap --index "$work/in/bad.tsv" --out "$work/x" "$work/in"
{
    cat "$work/in/index.tsv"
    echo "gone.bvh${tab}904_01${tab}walk${tab}Walk${tab}30"
} > "$work/in/missing.tsv"
check missing_file 1 "gone.bvh: No such file or directory" -- \
    "$crt" mocap --index "$work/in/missing.tsv" --out "$work/x" "$work/in"
check not_indexed 1 "not a clip of" -- \
    "$crt" mocap --index "$work/in/index.tsv" --out "$work/x" "$work/in/bad.tsv"
check no_such_input 1 "nothing.bvh: No such file" -- \
    "$crt" mocap --index "$work/in/index.tsv" --out "$work/x" "$work/in/nothing.bvh"

# The real-motion protocol's split and class lists: subject 35 trains
# (cameras 1-3; camera 4 is held out), subject 2 is a held-out subject;
# Other is a class an index may name.
{
    echo "file${tab}cmu_subject_trial${tab}cmu_description${tab}activity${tab}fps"
    echo "walk.bvh${tab}35_90${tab}walk across${tab}Walk${tab}30"
    echo "wave.bvh${tab}02_90${tab}wave${tab}Other${tab}30"
} > "$work/in/split.tsv"
classes=Walk,Sitdown,Other
check split_train 0 "wrote 3 pose sequences (1 clips" -- "$crt" mocap --index "$work/in/split.tsv" \
    --out "$work/split-train" --split train --classes "$classes" "$work/in"
[ "$(ls "$work/split-train" | tr '\n' ' ')" = \
    "Walk_s35_c01_35_90.pose Walk_s35_c02_35_90.pose Walk_s35_c03_35_90.pose " ] &&
    ok "--split train: subject 35 through cameras 1-3" || bad "--split train wrote: $(ls "$work/split-train")"
check split_subjects 0 "wrote 4 pose sequences (1 clips" -- "$crt" mocap \
    --index "$work/in/split.tsv" --out "$work/split-all" --classes "$classes" --split subjects "$work/in"
"$crt" mocap --index "$work/in/split.tsv" --out "$work/split-all" --classes "$classes" "$work/in" \
    >/dev/null 2>&1
[ -f "$work/split-all/Other_s02_c04_02_90.pose" ] && ok "Other in a file name" ||
    bad "no Other_s02_c04_02_90.pose in: $(ls "$work/split-all")"
# The class list is a JSON array inside the metadata string: Walk, Sitdown, Other and nothing else.
grep -q 'classes":"\[\\"Walk\\",\\"Sitdown\\",\\"Other\\"\]"' "$work/split-all/Walk_s35_c01_35_90.pose" &&
    ok "--classes is the files' class list" || bad "--classes not in the file"
check split_bad 2 "invalid value 'test' for --split" -- "$crt" mocap --index "$work/in/split.tsv" \
    --out "$work/x" --split test "$work/in"
check classes_missing 1 "class 'Other' is not in --classes" -- "$crt" mocap \
    --index "$work/in/split.tsv" --out "$work/x" --classes Walk "$work/in"
check classes_bad 2 "invalid value 'Walk,Dancing' for --classes" -- "$crt" mocap \
    --index "$work/in/split.tsv" --out "$work/x" --classes Walk,Dancing "$work/in"
check noise_model_bad 2 "invalid value 'loud' for --noise-model" -- "$crt" mocap \
    --index "$work/in/split.tsv" --out "$work/x" --noise-model loud "$work/in"
"$crt" mocap --index "$work/in/split.tsv" --out "$work/measured" --classes "$classes" \
    --noise-model measured "$work/in" >/dev/null 2>&1
grep -q "noise-model measured" "$work/measured/Walk_s35_c01_35_90.pose" &&
    ! cmp -s "$work/measured/Walk_s35_c01_35_90.pose" "$work/split-all/Walk_s35_c01_35_90.pose" &&
    ok "--noise-model measured: other keypoints, said in the provenance" ||
    bad "--noise-model measured changed nothing"
# crt eval scores one part of the protocol, by the file names.
"$crt" train --data "$work/split-all" --val "$work/split-all" --out "$work/split.safetensors" \
    --epochs 1 --d 16 --layers 1 --heads 2 --batch 4 --threads 1 >/dev/null 2>&1
check eval_subjects 0 "protocol mocap-subjects, 4 clips" -- "$crt" eval \
    --model "$work/split.safetensors" --protocol mocap-subjects "$work/split-all"
check eval_cameras 0 "protocol mocap-cameras, 1 clips" -- "$crt" eval \
    --model "$work/split.safetensors" --protocol mocap-cameras "$work/split-all"
check eval_other 0 "4 of Other (outside the repertoire)" -- "$crt" eval \
    --model "$work/split.safetensors" --protocol mocap-subjects "$work/split-all"
check eval_hdm05_none 1 "no clips to evaluate" -- "$crt" eval \
    --model "$work/split.safetensors" --protocol hdm05 "$work/split-all"

# Two real CMU clips, when ../shared/mocap is here (never copied into the tree).
real=""
IFS=:
for d in $mocap_dirs; do
    [ -z "$real" ] && [ -f "$d/index.tsv" ] && real="$d"
done
unset IFS
if [ -n "$real" ]; then
    check real 0 "wrote 4 pose sequences (2 clips" -- \
        "$crt" mocap --index "$real/index.tsv" --out "$work/real" --cameras 2 \
        "$real/Faisalkhalidsi__nCode/35_01.amc" "$real/Faisalkhalidsi__TDBNComb/13_09.amc"
    for f in Walk_s35_c01_35_01 Drink.Frombottle_s13_c02_13_09; do
        [ -f "$work/real/$f.pose" ] && ok "wrote $f.pose" || bad "no $f.pose in: $(ls "$work/real")"
    done
    grep -q "obtained from mocap.cs.cmu.edu" "$work/real/Walk_s35_c01_35_01.pose" &&
        ok "CMU acknowledgement in the metadata" || bad "no CMU acknowledgement"
    check train_real 0 "" -- "$crt" train --data "$work/real" --val "$work/real" \
        --out "$work/real.safetensors" --epochs 1 --d 16 --layers 1 --heads 2 --batch 4 --threads 1
    check eval_real 0 "Drink.Frombottle .* 2 " -- \
        "$crt" eval --model "$work/real.safetensors" --protocol all "$work/real"
else
    echo "SKIPPED real clips: no index.tsv in '$mocap_dirs' (../shared/mocap is not on this machine)"
fi
finish
