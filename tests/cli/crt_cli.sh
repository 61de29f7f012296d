#!/bin/sh
# Runs the built crt as a user would and checks exit statuses and messages.
# Prints "N passed, N failed" and exits non-zero on any failure.
crt="$1"
passed=0
failed=0

check() { # check NAME EXPECTED_STATUS PATTERN -- command...
    name=$1 want=$2 pattern=$3
    shift 4
    out=$("$@" 2>&1)
    got=$?
    if [ "$got" -eq "$want" ] && printf '%s' "$out" | grep -q -- "$pattern"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name: exit $got (want $want); output:" >&2
        printf '%s\n' "$out" | head -20 >&2
    fi
}

check help 0 "commands:" -- "$crt" --help
check no_args 2 "usage: crt" -- "$crt"
check unknown_command 2 "unknown command 'frobnicate'" -- "$crt" frobnicate
check version 0 "^crt [0-9]" -- "$crt" --version
check classes 0 "Usetelephone" -- "$crt" classes
check classes_json 0 '"cross_view": false' -- "$crt" classes --json
check classes_bad_option 2 "unknown option '--xml'" -- "$crt" classes --xml
check bench_help 0 "targets:" -- "$crt" bench --help
check bench_unknown 2 "unknown target 'warp'" -- "$crt" bench warp

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
