#!/bin/sh
# The unit files pass systemd-analyze verify, and the service's exposure
# score from systemd-analyze security is 2.0 or lower.
# Usage: systemd.sh CRTD_SERVICE_IN CRTD_SOCKET CRTD_BINARY
set -eu
service_in=$1 socket=$2 crtd=$3
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# verify checks that ExecStart exists: point it at the built binary.
sed "s|@sbindir@/crtd|$(cd "$(dirname "$crtd")" && pwd)/$(basename "$crtd")|" "$service_in" >"$dir/crtd.service"
cp "$socket" "$dir/crtd.socket"
grep -q '^Type=notify' "$dir/crtd.service"
grep -q '^WatchdogSec=' "$dir/crtd.service"
cd "$dir"
if ! out=$(systemd-analyze verify ./crtd.service ./crtd.socket 2>&1) || [ -n "$out" ]; then
    echo "systemd-analyze verify:"
    echo "$out"
    exit 1
fi
report=$(systemd-analyze security --offline=yes ./crtd.service 2>&1 || true)
echo "$report" | tail -1
# --threshold counts tenths: 20 is an exposure of 2.0.
if ! systemd-analyze security --offline=yes --threshold=20 ./crtd.service >/dev/null 2>&1; then
    echo "exposure above 2.0:"
    echo "$report" | grep '✗'
    exit 1
fi
echo "systemd units: verify clean, exposure within 2.0"
