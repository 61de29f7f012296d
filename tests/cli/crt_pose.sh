#!/bin/sh
# crt pose and crt bench pose as a user runs them: help, usage errors, a
# photograph as text, JSON and a picture. Needs scripts/setup's third_party/.
# Prints "N passed, N failed" and exits non-zero on any failure.
crt="$1"
root="$2"
tmp="$3"
. "$(dirname "$0")/lib.sh"

photo="$root/third_party/images/messi5.jpg"
models="$root/third_party/models"
check pose_help 0 "usage: crt pose" -- "$crt" pose --help
check pose_no_input 2 "crt pose: no image or video given" -- "$crt" pose
check pose_bad_option 2 "crt pose: unknown or incomplete option '--frobnicate'" -- "$crt" pose --frobnicate x.jpg
check pose_bad_fps 2 "crt pose: --fps must be" -- "$crt" pose --fps x "$photo"
check pose_missing 1 "crt pose: no-such.jpg: cannot open" -- "$crt" pose --models "$models" no-such.jpg
check pose_bad_model 1 "crt pose: model 'nope' is not lightning" -- "$crt" pose --model nope "$photo"
check pose_text 0 "left_shoulder   x=0\.[45]" -- "$crt" pose --models "$models" "$photo"
check pose_json 0 '"person": true' -- "$crt" pose --models "$models" --json "$photo"
check pose_bad_isa 2 "crt pose: --isa must be best, avx512, avx2, neon or portable, not 'sse9'" -- "$crt" pose --isa sse9 "$photo"
check pose_isa_portable 0 "left_shoulder   x=0\.[45]" -- "$crt" pose --models "$models" --isa portable "$photo"
rm -f "$tmp/crt_pose_messi.png"
check pose_draw 0 "person=yes" -- "$crt" pose --models "$models" --draw "$tmp/crt_pose_messi.png" "$photo"
check pose_draw_png 0 "PNG" -- head -c 8 "$tmp/crt_pose_messi.png"
people="$root/third_party/images/basketball2.png"
check pose_multi_json 0 '"people": \[{"score": 0\.[0-9]*, "box": {"x0"' -- "$crt" pose --models "$models" --model multipose --json "$people"
check pose_multi_text 0 "people=2" -- "$crt" pose --models "$models" --model multipose --side 384 "$people"
check pose_multi_bad_side 2 "crt pose: --side must be a multiple of 32" -- "$crt" pose --model multipose --side 100 "$people"
rm -f "$tmp/crt_pose_people.png"
check pose_multi_draw 0 "person 1" -- "$crt" pose --models "$models" --model multipose --draw "$tmp/crt_pose_people.png" "$people"
check pose_multi_draw_png 0 "PNG" -- head -c 8 "$tmp/crt_pose_people.png"
check bench_pose_help 0 "usage: crt bench pose" -- "$crt" bench pose --help
check bench_pose_bad 2 "crt bench pose: --frames must be" -- "$crt" bench pose --frames 0
check bench_pose_bad_isa 2 "crt bench pose: --isa must be" -- "$crt" bench pose --isa avx1024

finish
