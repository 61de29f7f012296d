#!/bin/sh
# crt archive and crt export-labels as a user runs them: help, errors, then
# the archive of the first 40 sampled frames of third_party/images/vtest.avi
# read back by its own checks (the size printed is the folder's, smaller
# than zlib of the same records as floats). Prints "N passed, N failed".
crt="$1"
root="$2"
tmp="$3"
. "$(dirname "$0")/lib.sh"

models="$root/third_party/models"
vtest="$root/third_party/images/vtest.avi"
rm -rf "$tmp"
mkdir -p "$tmp"
[ -f "$vtest" ] || bad "$vtest is missing (scripts/setup fetches it)"

check archive_help 0 "usage: crt archive" -- "$crt" archive --help
check archive_no_out 2 "crt archive: --out DIR is required" -- "$crt" archive "$vtest"
check archive_no_input 2 "crt archive: a video file is required" -- "$crt" archive --out "$tmp/a"
check archive_missing 1 "crt archive: .*no-such.mp4" -- \
    "$crt" archive --models "$models" --out "$tmp/a" "$tmp/no-such.mp4"
check archive_vtest 0 "archive: [0-9]* bytes in [0-9]* chunks" -- \
    "$crt" archive --models "$models" --max-frames 40 --out "$tmp/vtest" "$vtest"
out=$("$crt" archive --models "$models" --max-frames 40 --out "$tmp/vtest2" "$vtest" 2>&1)
ours=$(printf '%s\n' "$out" | sed -n 's/^archive: \([0-9]*\) bytes.*/\1/p')
plain=$(printf '%s\n' "$out" | sed -n 's/^zlib of plain floats: \([0-9]*\) bytes.*/\1/p')
ondisk=$(cat "$tmp"/vtest2/*.cpa | wc -c)
[ -n "$ours" ] && [ "$ours" -eq "$ondisk" ] && ok "the bytes printed are the folder's ($ondisk)" ||
    bad "printed '$ours' bytes, the folder has $ondisk"
[ -n "$plain" ] && [ "$ours" -lt "$plain" ] && ok "smaller than zlib of plain floats ($ours < $plain)" ||
    bad "archive $ours bytes, zlib of plain floats $plain"

check export_help 0 "usage: crt export-labels" -- "$crt" export-labels --help
check export_no_out 2 "crt export-labels: --out DIR is missing" -- "$crt" export-labels --state "$tmp"
check export_bad_fps 2 "crt export-labels: --fps '0'" -- \
    "$crt" export-labels --state "$tmp" --out "$tmp/x" --fps 0
check export_unknown 2 "unknown option '--frobnicate'" -- "$crt" export-labels --frobnicate
check export_no_db 1 "crt export-labels: state store '$tmp/crtd.db'" -- \
    "$crt" export-labels --state "$tmp" --out "$tmp/x"
printf 'not a database' >"$tmp/crtd.db"
check export_not_db 1 "crt export-labels: state store '$tmp/crtd.db'" -- \
    "$crt" export-labels --state "$tmp" --out "$tmp/x"
finish
