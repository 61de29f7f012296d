#!/bin/sh
# Runs the built crt as a user would and checks exit statuses and messages.
# Prints "N passed, N failed" and exits non-zero on any failure.
crt="$1"
. "$(dirname "$0")/lib.sh"

check help 0 "commands:" -- "$crt" --help
check no_args 2 "usage: crt" -- "$crt"
check unknown_command 2 "unknown command 'frobnicate'" -- "$crt" frobnicate
check version 0 "^crt [0-9]" -- "$crt" --version
check classes 0 "Usetelephone" -- "$crt" classes
check classes_json 0 '"cross_view": false' -- "$crt" classes --json
check classes_bad_option 2 "unknown option '--xml'" -- "$crt" classes --xml
check bench_help 0 "targets:" -- "$crt" bench --help
check bench_unknown 2 "unknown target 'warp'" -- "$crt" bench warp
check probe_help 0 "usage: crt probe" -- "$crt" probe --help
check probe_no_url 2 "crt probe: no URL given" -- "$crt" probe
check probe_bad_fps 2 "crt probe: --fps 'x'" -- "$crt" probe --fps x lavfi:testsrc
check probe_bad_transport 2 "crt probe: --transport 'quic': expected auto, tcp or udp" -- "$crt" probe --transport quic lavfi:testsrc
check probe_missing 1 "crt probe: 'no-such-clip.mp4': cannot open: No such file" -- "$crt" probe no-such-clip.mp4
check probe_lavfi 0 "pts      0.400 s  160x120" -- "$crt" probe --fps 5 --frames 3 lavfi:testsrc2=size=160x120
check probe_json 0 '"sampled":2' -- "$crt" probe --json --frames 2 lavfi:testsrc2=size=160x120
check bench_decode_help 0 "usage: crt bench decode" -- "$crt" bench decode --help
check bench_decode_no_file 2 "crt bench decode: no FILE given" -- "$crt" bench decode
check probe_duration 0 "state stopped" -- "$crt" probe --summary --duration 0.5 lavfi:testsrc2=size=160x120

check model_info_help 0 "usage: crt model-info FILE" -- "$crt" model-info --help
check model_info_no_file 2 "crt model-info: no model file given" -- "$crt" model-info
check model_info_missing 1 "crt model-info: no-such.safetensors: No such file" -- "$crt" model-info no-such.safetensors
check model_info_not_file 1 "crt model-info: /dev/null: not a regular file" -- "$crt" model-info /dev/null
check model_info_not_model 1 "crt model-info: .*crt_cli.sh: header length" -- "$crt" model-info "$0"
check bench_model_help 0 "usage: crt bench model" -- "$crt" bench model --help
check bench_model_bad 2 "crt bench model: --segments: 'x'" -- "$crt" bench model --segments x
check bench_tracker_help 0 "usage: crt bench tracker" -- "$crt" bench tracker --help
check bench_tracker_bad 2 "crt bench tracker: --frames must be 100..10000000" -- "$crt" bench tracker --frames 5
check bench_tracker_runs 0 "people   us/frame" -- "$crt" bench tracker --frames 200 --model none

finish
