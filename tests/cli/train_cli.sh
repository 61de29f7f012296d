#!/bin/sh
# crt synth, crt train and crt eval as a user runs them, on small data made
# here: a short training run from a fixed seed must reach the accuracy the
# README states, the recall task must show the memory at work, a resumed run
# must equal an uninterrupted one, and bad input must fail clearly.
# usage: train_cli.sh CRT WORKDIR PYTHON SOURCE_ROOT
# Prints "N passed, N failed" and exits non-zero on any failure.
crt="$1"
work="$2"
python="$3"
src="$4"
. "$(dirname "$0")/lib.sh"
rm -rf "$work"
mkdir -p "$work"

# A JSON number from a crt eval --json report.
json_field() { # FILE KEY
    "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

at_least() { # NAME VALUE MINIMUM
    if "$python" -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' \
        "$2" "$3"; then
        ok "$1: $2 >= $3"
    else
        bad "$1: $2 < $3"
    fi
}

at_most() { # NAME VALUE MAXIMUM
    if "$python" -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' \
        "$2" "$3"; then
        ok "$1: $2 <= $3"
    else
        bad "$1: $2 > $3"
    fi
}

# ---- synth: the same seed makes the same files ----
"$crt" synth --clips 40 --seed 5 --out "$work/a" >/dev/null 2>&1
"$crt" synth --clips 40 --seed 5 --jobs 1 --out "$work/b" >/dev/null 2>&1
if cmp -s "$work/a/activities-s5-000017.pose" "$work/b/activities-s5-000017.pose"; then
    ok "synth is reproducible across thread counts"
else
    bad "synth output differs between runs with the same seed"
fi
check synth_needs_out 2 "--out DIR is required" -- "$crt" synth --clips 3
check synth_bad_value 2 "invalid value 'many' for --clips" -- "$crt" synth --clips many --out "$work/x"
check synth_bad_task 2 "invalid value 'dance'" -- "$crt" synth --task dance --out "$work/x"

# ---- activities: a short run from a fixed seed ----
"$crt" synth --clips 1000 --seed 1 --out "$work/act/train" >/dev/null 2>&1
"$crt" synth --clips 300 --seed 2 --out "$work/act/test" >/dev/null 2>&1
check train_activities 0 "wrote" -- "$crt" train --data "$work/act/train" \
    --out "$work/act.model" --d 32 --heads 4 --epochs 6 --seed 1 --threads 2
"$crt" eval --model "$work/act.model" --protocol all --json --report "$work/act-report" \
    "$work/act/test" >"$work/act.json" 2>/dev/null
at_least "activities: held-out mean per-class accuracy" \
    "$(json_field "$work/act.json" mean_class_accuracy)" 0.80
for f in confusion.csv confusion.svg report.json; do
    if [ -s "$work/act-report/$f" ]; then ok "eval --report wrote $f"; else bad "no $f"; fi
done
check svg_names_classes 0 "Usetelephone" -- cat "$work/act-report/confusion.svg"
check eval_refuses_uncovered_protocol 1 "do not cover protocol cs (.* missing; --known-classes .*): Cook.Cleandishes" -- \
    "$crt" eval --model "$work/act.model" --protocol cs "$work/act/test"
mkdir -p "$work/empty"
check eval_empty_dir 1 "no clips to evaluate" -- \
    "$crt" eval --model "$work/act.model" --protocol all "$work/empty"
check eval_missing_dir 1 "No such file" -- \
    "$crt" eval --model "$work/act.model" --protocol all "$work/missing"

# ---- resume: a run paused after two of four epochs and resumed equals an
# uninterrupted run, weight for weight ----
"$crt" train --data "$work/act/train" --out "$work/p.model" --d 16 --heads 2 --epochs 4 \
    --seed 3 --threads 2 --checkpoint "$work/ckpt" --pause-after 2 >/dev/null 2>&1
"$crt" train --data "$work/act/train" --out "$work/p.model" --d 16 --heads 2 --epochs 4 \
    --seed 3 --threads 2 --resume "$work/ckpt" --checkpoint "$work/ckpt" >/dev/null 2>&1
"$crt" train --data "$work/act/train" --out "$work/u.model" --d 16 --heads 2 --epochs 4 \
    --seed 3 --threads 2 --checkpoint "$work/ckpt4" >/dev/null 2>&1
if "$python" - "$src/tests/ref" "$work/ckpt" "$work/ckpt4" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import crt_ref
a, _ = crt_ref.read_safetensors(sys.argv[2])
b, _ = crt_ref.read_safetensors(sys.argv[3])
assert set(a) == set(b)
worst = max(float(np.abs(a[k] - b[k]).max()) for k in a)
print(f"resumed vs uninterrupted: max weight difference {worst}")
sys.exit(0 if worst == 0.0 else 1)
PY
then ok "a paused and resumed run equals an uninterrupted one, bit for bit"; else bad "resume differs"; fi
check pause_needs_checkpoint 2 "--pause-after needs --checkpoint" -- \
    "$crt" train --data "$work/act/train" --out "$work/x.model" --pause-after 1

# ---- recall: the memory carries an event across K = 6 segments ----
"$crt" synth --task recall --recall-k 6 --clips 1500 --seed 1 --out "$work/rec/train" >/dev/null 2>&1
"$crt" synth --task recall --recall-k 6 --clips 300 --seed 2 --out "$work/rec/test" >/dev/null 2>&1
"$crt" train --data "$work/rec/train" --out "$work/rec.model" --d 32 --heads 4 --epochs 6 \
    --seed 1 --threads 2 >/dev/null 2>&1
"$crt" eval --model "$work/rec.model" --protocol all --json "$work/rec/test" \
    >"$work/rec.json" 2>/dev/null
at_least "recall K=6: CRT held-out accuracy" "$(json_field "$work/rec.json" accuracy)" 0.90
# Without memory the last segment alone cannot know the event: near chance (1/4).
"$crt" train --data "$work/rec/train" --out "$work/rec-none.model" --variant none-last --d 32 \
    --heads 4 --epochs 6 --seed 1 --threads 2 >/dev/null 2>&1
"$crt" eval --model "$work/rec-none.model" --protocol all --json "$work/rec/test" \
    >"$work/rec-none.json" 2>/dev/null
at_most "recall K=6: none-last (no memory) held-out accuracy" \
    "$(json_field "$work/rec-none.json" accuracy)" 0.45

# ---- errors ----
check train_needs_data 2 "give either --data DIR or --smarthome DIR" -- \
    "$crt" train --out "$work/x.model"
check train_needs_out 2 "--out MODEL is required" -- "$crt" train --data "$work/act/train"
check train_empty_dir 1 "no pose sequences" -- "$crt" train --data "$work/a/.." --out "$work/x.model"
check train_bad_variant 2 "unknown variant 'lstm'" -- \
    "$crt" train --data "$work/act/train" --out "$work/x.model" --variant lstm
check train_heads_divide 2 "not a multiple of --heads" -- \
    "$crt" train --data "$work/act/train" --out "$work/x.model" --d 30 --heads 4
check eval_missing_model 1 "No such file" -- \
    "$crt" eval --model "$work/none.model" --protocol all "$work/act/test"

finish
