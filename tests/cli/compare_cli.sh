#!/bin/sh
# crt compare as a user runs it, with a tiny budget: every memory mechanism
# trains, evaluates and gets a row with its costs; a second run with --reuse
# keeps the models; bad options fail clearly. Accuracy is not asserted here
# (tests/cli/train_cli.sh does that for the CRT and the no-memory baseline).
# usage: compare_cli.sh CRT WORKDIR
# Prints "N passed, N failed" and exits non-zero on any failure.
crt="$1"
work="$2"
passed=0
failed=0
rm -rf "$work"
mkdir -p "$work"

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1" >&2; }

small="--tasks recall2 --train-clips 40 --test-clips 12 --epochs 1 --d 16 --heads 2 --threads 2"
# shellcheck disable=SC2086
if "$crt" compare --out "$work/c" $small >"$work/table.md" 2>"$work/err"; then
    ok "compare runs every variant"
else
    bad "compare failed: $(tail -3 "$work/err")"
fi
rows=$(grep -c '^| [a-z]' "$work/table.md")
for v in gru ncgru none none-last rmt xl full brt brt-lstm srformer; do
    if grep -q "^| $v |" "$work/table.md"; then ok "row $v"; else bad "no row for $v"; fi
done
[ "$rows" -ge 11 ] && ok "table header and rows ($rows)" || bad "table has $rows rows"

# shellcheck disable=SC2086
"$crt" compare --out "$work/c" $small --reuse --variants gru,none-last --json >"$work/t.json" \
    2>"$work/err2"
if grep -q '"microseconds_per_step"' "$work/t.json" && ! grep -q "training" "$work/err2"; then
    ok "--reuse keeps the models; --json"
else
    bad "--reuse or --json: $(tail -3 "$work/err2")"
fi

out=$("$crt" compare --out "$work/x" --variants lstm 2>&1)
[ $? -eq 2 ] && printf '%s' "$out" | grep -q "unknown variant 'lstm'" && ok "bad variant" ||
    bad "bad variant: $out"
out=$("$crt" compare --out "$work/x" --tasks recall0 2>&1)
[ $? -eq 2 ] && printf '%s' "$out" | grep -q "unknown task 'recall0'" && ok "bad task" ||
    bad "bad task: $out"
out=$("$crt" compare 2>&1)
[ $? -eq 2 ] && printf '%s' "$out" | grep -q -- "--out DIR is required" && ok "needs --out" ||
    bad "needs --out: $out"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
