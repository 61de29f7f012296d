#!/bin/bash
# Runs every libFuzzer target (tests/fuzz/fuzz_*.c) for a set time and
# prints, per target, the inputs executed, executions per second, coverage
# and new inputs found; fails on a crash, a leak or a hang, keeping the input
# that caused it and saying how to replay it.
#
#   tests/reliability/fuzz.sh [--short] [--seconds N] [--merge] [--build DIR]
#
# The targets are a clang build of their own, build-fuzz/ (the tree
# scripts/test uses too), made when missing; --build names crtd's ordinary
# build (scripts/reliability passes it) and is not needed here. Each target
# starts from its committed seeds, tests/fuzz/corpus/<target>/, and writes
# what it finds into build-fuzz/fuzz-corpus/<target>/, never into the source
# tree; --merge then adds the inputs that reach new code to the committed
# seeds. --seconds is per target: 180 by default, 15 with --short.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

seconds=180
merge=0
while [ $# -gt 0 ]; do
    case "$1" in
    --short) seconds=15 ;;
    --seconds)
        seconds=${2:?--seconds needs a number}
        shift
        ;;
    --merge) merge=1 ;;
    --build) shift ;; # crtd's own build: the fuzz targets need their own
    -h | --help)
        sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "fuzz.sh: unknown option '$1' (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done

if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
    clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
    echo "fuzz.sh: clang with libFuzzer is missing (scripts/setup installs clang and libclang-rt-14-dev)" >&2
    exit 1
fi

build=build-fuzz
if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dfuzz=true -Dbuildtype=debugoptimized -Db_lundef=false >/dev/null
fi
targets=()
for source in tests/fuzz/fuzz_*.c; do
    name=$(basename "$source" .c)
    [ "$name" = fuzz_files ] || targets+=("$name")
done
if ! ninja -C "$build" "${targets[@]/#/tests/fuzz/}" >"$build/fuzz-build.log" 2>&1; then
    # Say why, or a failed build looks like a silent failure of the fuzzers.
    grep -E 'error|FAILED|undefined reference' "$build/fuzz-build.log" | head -20 >&2
    echo "fuzz.sh: building the fuzz targets failed (the whole log: $build/fuzz-build.log)" >&2
    exit 1
fi

# Inputs larger than these reach nothing more in their parsers.
max_len() {
    case "$1" in
    fuzz_http) echo 2048 ;;
    fuzz_config) echo 8192 ;;
    fuzz_state) echo 16384 ;;
    fuzz_poseseq | fuzz_archive) echo 32768 ;;
    fuzz_bvh | fuzz_asf_amc) echo 16384 ;;
    *) echo 131072 ;;
    esac
}

# What a run's log says, or nothing (a crash ends it before its statistics).
stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

failed=()
printf '%-18s %10s %10s %8s %8s %s\n' target executions "execs/s" cov "new" result
for target in "${targets[@]}"; do
    name=${target#fuzz_}
    seeds=tests/fuzz/corpus/$name
    found=$build/fuzz-corpus/$name
    artifacts=$build/fuzz-artifacts/$name
    log=$build/fuzz-logs/$name.log
    mkdir -p "$found" "$artifacts" "$(dirname "$log")"
    status=0
    nice -n 10 "$build/tests/fuzz/$target" -max_total_time="$seconds" -max_len="$(max_len "$target")" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$found" "$seeds" >"$log" 2>&1 || status=$?
    runs=$(stat_of number_of_executed_units "$log")
    rate=$(stat_of average_exec_per_sec "$log")
    added=$(stat_of new_units_added "$log")
    cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
    if [ $status -eq 0 ]; then
        result=ok
    else
        artifact=$( (ls -t "$artifacts" 2>/dev/null || true) | head -1)
        result="FAILED: $(grep -m1 -E 'ERROR|runtime error|SUMMARY' "$log" || echo "exit $status")"
        [ -n "$artifact" ] && result="$result; replay: $build/tests/fuzz/$target $artifacts/$artifact"
        failed+=("$target")
    fi
    printf '%-18s %10s %10s %8s %8s %s\n' "$target" "${runs:-?}" "${rate:-?}" "${cov:-?}" \
        "${added:-?}" "$result"
    if [ $merge -eq 1 ] && [ $status -eq 0 ]; then
        "$build/tests/fuzz/$target" -merge=1 -max_len="$(max_len "$target")" "$seeds" "$found" \
            >>"$log" 2>&1
    fi
done
echo "fuzz: $seconds s per target; logs in $build/fuzz-logs/"

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (the crashing input is the replay path above; add it to" \
        "tests/fuzz/corpus/<target>/ once fixed)" >&2
    exit 1
fi
