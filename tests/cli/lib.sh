# tests/cli/lib.sh: what the command-line test scripts share. Source it:
#   . "$(dirname "$0")/lib.sh"
# then call check/ok/bad, and finish at the end, which prints the closing
# "N passed, N failed" line and sets the exit status.
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1" >&2; }

# check NAME EXPECTED_STATUS PATTERN -- command...
# Runs the command; passes when it exits with EXPECTED_STATUS and its output
# (stdout and stderr) contains PATTERN (a grep pattern).
check() {
    name=$1 want=$2 pattern=$3
    shift 4
    out=$("$@" 2>&1)
    got=$?
    if [ "$got" -eq "$want" ] && printf '%s' "$out" | grep -q -- "$pattern"; then
        ok "$name"
    else
        bad "$name: exit $got (want $want); output:"
        printf '%s\n' "$out" | tail -20 >&2
    fi
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
