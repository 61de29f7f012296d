#!/bin/sh
# crt train --finetune as a user runs it, on labelled stretches of a
# synthetic home made here (crt synth --task home): a short fine-tune of the
# default model prints its summary and, when accepted, writes a model whose
# card names its parent (the fingerprint crt model-info prints for the
# parent) and the new class; too few labels say how many are needed; bad
# options fail clearly; crt bench finetune lists itself.
# usage: finetune_cli.sh CRT WORKDIR PYTHON SOURCE_ROOT
crt="$1"
work="$2"
python="$3"
src="$4"
. "$(dirname "$0")/lib.sh"
rm -rf "$work"
mkdir -p "$work"
model="$src/models/default.safetensors"

# A JSON field of a file (dotted path).
json_field() { # FILE KEY
    "$python" -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$1" "$2"
}

"$crt" synth --task home --home 3 --clips 72 --seed 8 --out "$work/labels" >/dev/null 2>&1
"$crt" train --finetune "$model" --labels "$work/labels" --out "$work/new.safetensors" \
    --epochs 3 --replay-clips 60 --threads 2 --nice 5 --json \
    >"$work/summary.json" 2>"$work/progress.txt"
status=$?
if [ "$status" -eq 0 ] || [ "$status" -eq 3 ]; then
    ok "finetune ran (exit $status)"
else
    bad "finetune exit $status"
    tail -5 "$work/progress.txt" >&2
fi
check finetune_progress 0 "fine-tune: epoch 3/3" -- cat "$work/progress.txt"
accepted=$(json_field "$work/summary.json" accepted)
written=$(json_field "$work/summary.json" written)
if [ "$accepted" = "$written" ]; then ok "written exactly when accepted ($accepted)"; else
    bad "accepted $accepted but written $written"; fi
if [ "$status" -eq 0 ] && [ "$accepted" = "True" ] || [ "$status" -eq 3 ] && [ "$accepted" = "False" ]; then
    ok "exit status says the verdict"
else
    bad "exit $status with accepted $accepted"
fi
"$crt" model-info --json "$model" >"$work/parent.json"
parent=$(json_field "$work/parent.json" fingerprint)
if [ "$(json_field "$work/summary.json" parent)" = "$parent" ]; then ok "summary names the parent"; else
    bad "summary's parent is not $parent"; fi

# The card of a written model (forced when this short run was not accepted).
if [ "$written" != "True" ]; then
    "$crt" train --finetune "$model" --labels "$work/labels" --out "$work/new.safetensors" \
        --epochs 3 --replay-clips 60 --threads 2 --write-rejected >/dev/null 2>&1
fi
"$crt" model-info --json "$work/new.safetensors" >"$work/child.json"
if grep -q "\"finetune.parent\": \"$parent\"" "$work/child.json"; then
    ok "the card names the parent's fingerprint"
else
    bad "no finetune.parent $parent in the card"
fi
check card_has_new_class 0 "Feed.Cat" -- cat "$work/child.json"
check card_labels_per_class 0 "finetune.labels" -- "$crt" model-info "$work/new.safetensors"
check card_validation 0 "held_out_before" -- "$crt" model-info "$work/new.safetensors"

# A fine-tune of the fine-tuned model: its card's replay recipe, no class
# to add, the next generation; and a replay from a folder instead.
"$crt" train --finetune "$work/new.safetensors" --labels "$work/labels" \
    --out "$work/second.safetensors" --epochs 1 --replay-clips 40 --write-rejected \
    >"$work/second.txt" 2>&1
# The child has its parent's classes and Feed.Cat: one more than the parent.
n_parent=$("$crt" model-info "$model" | awk '$1 == "classes" {print $2; exit}')
check second_adds_nothing 0 "$((n_parent + 1)) classes, 0 added" -- cat "$work/second.txt"
check second_generation 0 "finetune.generation = 2" -- "$crt" model-info "$work/second.safetensors"
"$crt" synth --clips 40 --seed 12 --out "$work/replay" >/dev/null 2>&1
"$crt" train --finetune "$model" --labels "$work/labels" --out "$work/folder.safetensors" \
    --replay "$work/replay" --epochs 1 --write-rejected >"$work/folder.txt" 2>&1
check replay_folder 0 "the folder $work/replay" -- "$crt" model-info "$work/folder.safetensors"

# Plain text summary and bad input.
"$crt" synth --task home --home 3 --clips 12 --seed 9 --out "$work/few" >/dev/null 2>&1
check too_few_labels 1 "a fine-tune needs at least 5 labelled stretches per class" -- \
    "$crt" train --finetune "$model" --labels "$work/few" --out "$work/few.safetensors"
if [ -e "$work/few.safetensors" ]; then bad "too few labels wrote a model"; else
    ok "too few labels wrote nothing"; fi
check needs_labels 2 "needs --labels DIR and --out NEW" -- \
    "$crt" train --finetune "$model" --out "$work/x.safetensors"
check bad_holdout 2 "invalid value '2' for --holdout" -- \
    "$crt" train --finetune "$model" --labels "$work/labels" --out "$work/x" --holdout 2
mkdir -p "$work/empty"
check no_labels 1 "no labelled stretches" -- \
    "$crt" train --finetune "$model" --labels "$work/empty" --out "$work/x"
check missing_model 1 "No such file" -- \
    "$crt" train --finetune "$work/none.safetensors" --labels "$work/labels" --out "$work/x"
check finetune_help 0 "crt train --finetune MODEL --labels DIR --out NEW" -- \
    "$crt" train --finetune --help
check train_help_mentions 0 "--finetune MODEL" -- "$crt" train --help
check bench_lists_finetune 0 "finetune" -- "$crt" bench --help
check bench_finetune_help 0 "labelled stretches per class" -- "$crt" bench finetune --help
check bench_bad_k 2 "invalid value '2'" -- "$crt" bench finetune --k 2
finish
