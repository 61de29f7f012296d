#!/bin/sh
# "unknown" as a user meets it: crt synth --task open (the ten activities and
# Other), a small model trained on it, crt calibrate fitting the temperature
# and threshold on validation clips, crt model-info and crt eval saying what
# they do, and the errors of crt calibrate.
# usage: unknown_cli.sh CRT WORKDIR
# Prints "N passed, N failed" and exits non-zero on any failure.
crt="$1"
work="$2"
. "$(dirname "$0")/lib.sh"
rm -rf "$work"
mkdir -p "$work"

check synth_open 0 "wrote 330 open clips" -- \
    "$crt" synth --task open --seed 1 --clips 330 --out "$work/train"
grep -q 'WatchTV[^A-Za-z]*Other' "$work/train/open-s1-000000.pose" && ok "Other in the open task's classes" ||
    bad "no Other in open-s1-000000.pose"
"$crt" synth --task open --seed 2 --clips 110 --out "$work/val" >/dev/null 2>&1
"$crt" synth --task open --seed 3 --clips 110 --noise-model measured --out "$work/test" >/dev/null 2>&1
grep -q "noise-model measured" "$work/test/open-s3-000000.pose" &&
    ok "--noise-model measured in the provenance" || bad "no noise model in the provenance"
check train 0 "" -- "$crt" train --data "$work/train" --val "$work/val" --out "$work/m.safetensors" \
    --epochs 2 --d 16 --layers 1 --heads 2 --batch 16 --threads 1
check info_before 0 "unknown .*when the top class is Other" -- "$crt" model-info "$work/m.safetensors"

check help 0 "usage: crt calibrate --model FILE --data DIR" -- "$crt" calibrate --help
check listed 0 "calibrate .*unknown threshold" -- "$crt" --help
check no_data 2 "--data DIR is required" -- "$crt" calibrate --model "$work/m.safetensors"
check bad_threshold 2 "invalid value '2' for --threshold" -- \
    "$crt" calibrate --model "$work/m.safetensors" --data "$work/val" --threshold 2
check no_model 1 "nothing.safetensors" -- \
    "$crt" calibrate --model "$work/nothing.safetensors" --data "$work/val"
check calibrate 0 "temperature .*threshold 0\.[0-9][0-9]" -- "$crt" calibrate \
    --model "$work/m.safetensors" --data "$work/val" --out "$work/c.safetensors"
check info_after 0 "calibration.temperature = " -- "$crt" model-info "$work/c.safetensors"
check fixed 0 "threshold 0.50" -- "$crt" calibrate --model "$work/m.safetensors" \
    --data "$work/val" --out "$work/f.safetensors" --threshold 0.5 --figures "test figures"
check info_fixed 0 "below a calibrated probability of 0.50" -- "$crt" model-info "$work/f.safetensors"
check card 0 "card.figures = test figures" -- "$crt" model-info "$work/f.safetensors"

# Fine-tuning a calibrated model drops its calibration until it is fitted again.
"$crt" train --data "$work/train" --val "$work/val" --init "$work/f.safetensors" \
    --out "$work/tuned.safetensors" --epochs 1 --batch 16 --threads 1 >/dev/null 2>&1
check tuned 0 "calibration.threshold = 0$" -- "$crt" model-info "$work/tuned.safetensors"

# crt eval: the trade-off table; at threshold 0.9 at least as many clips
# are unknown as at 0, and the JSON report has it.
check eval 0 "known: unknown" -- "$crt" eval --model "$work/f.safetensors" --protocol all "$work/test"
"$crt" eval --model "$work/f.safetensors" --protocol all --json "$work/test" >"$work/r.json" 2>/dev/null
grep -q '"tradeoff"' "$work/r.json" && ok "trade-off in the JSON report" || bad "no trade-off in JSON"
out=$("$crt" eval --model "$work/f.safetensors" --protocol all "$work/test" 2>/dev/null)
at0=$(printf '%s\n' "$out" | awk '$1 == "0.00" { print $3 + 0; exit }')
at9=$(printf '%s\n' "$out" | awk '$1 == "0.90" { print $3 + 0; exit }')
[ -n "$at0" ] && [ -n "$at9" ] && awk -v a="$at0" -v b="$at9" 'BEGIN { exit !(b >= a) }' &&
    ok "more known clips are unknown at 0.9 ($at9%) than at 0 ($at0%)" ||
    bad "trade-off rows: '$at0' '$at9'"
finish
