#!/bin/sh
# crt synth --task falls and crt eval --falls on a small, easy set (clean
# keypoints): the figures are printed, recall is high, and bad input is
# refused by name.
# usage: falls_cli.sh CRT WORKDIR
# Prints "N passed, N failed" and exits non-zero on any failure.
crt="$1"
work="$2"
. "$(dirname "$0")/lib.sh"
rm -rf "$work"
mkdir -p "$work"

check synth_falls 0 "wrote 32 falls clips" -- \
    "$crt" synth --task falls --clips 32 --seed 7 --noise 0 --jobs 2 --out "$work/falls"
out=$("$crt" eval --falls "$work/falls" 2>/dev/null)
for figure in "^recall " "^false alarms .* per 24 h" "^time to alert: median .* s, p95 .* s" \
    "^fall-forward " "^tie-shoe " "^bed "; do
    printf '%s\n' "$out" | grep -q -- "$figure" && ok "prints '$figure'" ||
        bad "no '$figure' in: $out"
done
recall=$(printf '%s\n' "$out" | sed -n 's/^recall \([0-9.]*\)%.*/\1/p')
awk -v r="$recall" 'BEGIN { exit !(r >= 75) }' && ok "recall $recall% on an easy set" ||
    bad "recall '$recall' below 75% on an easy set"
check eval_falls_json 0 '"recall"' -- "$crt" eval --falls "$work/falls" --json
check eval_falls_bad_option 2 "invalid value 'x' for --confirm-s" -- \
    "$crt" eval --falls "$work/falls" --confirm-s x
check eval_falls_missing_dir 1 "cannot read" -- "$crt" eval --falls "$work/nothing-here"
finish
