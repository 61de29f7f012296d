#!/bin/bash
# The Debian package. Short form (the default, for CI): scripts/package
# builds the .deb from this tree; its files are checked (the model files as
# in the source tree), its maintainer scripts enable and start nothing, and
# its crtd and crt run from the unpacked package (on this machine's
# libraries): crtd --check-config with the shipped example and model, crt
# pose with the shipped MoveNet as the source tree's build poses.
#
# Long form (--long, or CRTD_DEB_LONG=1), then: in a clean Debian 12 made by
# debootstrap (minbase bookworm, plus systemd as every box that runs the
# service has it; made once and kept as a tarball under the build folder),
# apt-get installs the .deb with its dependencies; there crtd --check-config,
# systemd-analyze verify on the installed units, nothing enabled by the
# installation, crt pose; then systemd-nspawn boots the tree, where
# crtd.service, enabled as README.md says, answers /healthz.
# usage: deb_install.sh SOURCE_ROOT BUILD_DIR CRT [--long]
# Needs root (debootstrap, chroot, mounts, and the package's file owners);
# exits 77 (skipped) otherwise.
set -u
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
host_crt=$3
long=${CRTD_DEB_LONG:-0}
[ "${4:-}" = --long ] && long=1
. "$src/tests/cli/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: building and installing the package needs root"
    exit 77
fi
tools="dpkg-buildpackage dh dpkg-deb"
[ "$long" = 1 ] && tools="$tools debootstrap systemd-nspawn nsenter chroot tar curl"
for tool in $tools; do
    command -v $tool >/dev/null || {
        echo "FAIL: $tool not found (scripts/setup installs debhelper, debootstrap and" \
            "systemd-container)" >&2
        exit 1
    }
done

work=$build/tests/deb-install
cache=$build/deb-cache # the base tree and downloaded packages, kept between runs
mkdir -p "$work"
mounts=()
nspawn_pid=
cleanup() {
    [ -z "$nspawn_pid" ] || { kill -TERM "$nspawn_pid" 2>/dev/null; wait "$nspawn_pid" 2>/dev/null; }
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null; done
}
trap cleanup EXIT
phase_start=$(date +%s)
phase() { # the time each part took, for the record (never checked)
    local now
    now=$(date +%s)
    echo "time: $1 $((now - phase_start)) s"
    phase_start=$now
}

# Compares a `crt pose --json` of messi5.jpg with the source tree build's.
"$host_crt" pose --json "$src/third_party/images/messi5.jpg" >"$work/pose-build.json" 2>/dev/null
same_pose() { # JSON WHAT
    local verdict
    verdict=$(/usr/bin/python3 - "$1" "$work/pose-build.json" <<'PY'
import json, sys
def points(v):
    out = []
    def walk(x):
        if isinstance(x, dict):
            if "x" in x and "y" in x and "score" in x:
                out.append((x["x"], x["y"], x["score"]))
            for y in x.values():
                walk(y)
        elif isinstance(x, list):
            for y in x:
                walk(y)
    walk(v)
    return out
try:
    a, b = (points(json.load(open(p))) for p in sys.argv[1:3])
except Exception as e:
    print("unreadable: %s" % e); sys.exit()
if len(a) != 17 or len(a) != len(b):
    print("keypoints: %d from the package, %d from the build" % (len(a), len(b))); sys.exit()
worst = max(abs(p - q) for u, v in zip(a, b) for p, q in zip(u, v))
print("agrees" if worst < 1e-3 else "worst difference %.2e" % worst)
PY
    )
    [ "$verdict" = agrees ] && ok "$2 agrees with the build's" || bad "$2: $verdict"
}

# ---- the package, from this tree ----
if deb=$("$src/scripts/package" --out "$work/package" 2>"$work/package.log"); then
    ok "scripts/package made $(basename "$deb")"
else
    bad "scripts/package failed: $(tail -5 "$work/package.log")"
    finish
    exit
fi
case $(basename "$deb") in
crtd_*_"$(dpkg --print-architecture)".deb) ok "named crtd_<version>_<arch>.deb" ;;
*) bad "package name $(basename "$deb")" ;;
esac
phase "package"

# ---- short form: the package's files and scripts, its binaries unpacked ----
x=$work/unpacked
rm -rf "$x" "$work/control"
dpkg-deb -x "$deb" "$x" && dpkg-deb -e "$deb" "$work/control" || bad "dpkg-deb cannot unpack $deb"
for f in usr/sbin/crtd usr/bin/crt etc/crtd/crtd.conf.example lib/systemd/system/crtd.service \
    lib/systemd/system/crtd.socket usr/share/crtd/slurm/submit; do
    [ -f "$x/$f" ] || bad "/$f not in the package"
done
same=0
for f in "$src/models/default.safetensors" "$src"/third_party/models/movenet-*; do
    cmp -s "$f" "$x/usr/share/crtd/models/$(basename "$f")" && same=$((same + 1)) ||
        bad "/usr/share/crtd/models/$(basename "$f") is not the source tree's"
done
[ "$same" -eq 7 ] && ok "the default model and the six MoveNet files, as in the source tree" ||
    bad "$same of 7 model files as in the source tree"
grep -qx /etc/crtd/crtd.conf.example "$work/control/conffiles" &&
    ok "/etc/crtd/crtd.conf.example is a conffile" ||
    bad "conffiles: $(cat "$work/control/conffiles" 2>&1)"
# Starts nothing by surprise: no start or restart (try-restart, of a
# running crtd on upgrade, is fine); an enable only of what was enabled
# before an upgrade (behind deb-systemd-helper was-enabled). Removal stops it.
scripts=$(cat "$work"/control/{preinst,postinst,prerm,postrm} 2>/dev/null)
unguarded=$(printf '%s\n' "$scripts" | grep 'deb-systemd-invoke *\(start\|restart\)\b\|invoke-rc.d\|systemctl.*\(start\|enable\)')
grep -q '"$1" = remove' "$work/control/prerm" 2>/dev/null &&
    grep -q "deb-systemd-invoke stop crtd.socket crtd.service" "$work/control/prerm" &&
    ok "removing the package stops crtd (prerm)" || bad "prerm does not stop crtd on removal"
enables=$(printf '%s\n' "$scripts" | grep -c 'deb-systemd-helper enable')
guards=$(printf '%s\n' "$scripts" | grep -c 'deb-systemd-helper --quiet was-enabled')
[ -z "$unguarded" ] && [ "$enables" -eq "$guards" ] &&
    ok "the maintainer scripts start nothing and enable only what was enabled" ||
    bad "maintainer scripts: $unguarded ($enables enables, $guards behind was-enabled)"
check shipped_check_config 0 "configuration OK.*$x/usr/share/crtd/models/default.safetensors" -- \
    "$x/usr/sbin/crtd" --check-config --config "$x/etc/crtd/crtd.conf.example" \
    --model "$x/usr/share/crtd/models/default.safetensors"
"$x/usr/bin/crt" pose --json --models "$x/usr/share/crtd/models" \
    "$src/third_party/images/messi5.jpg" >"$work/pose-shipped.json" 2>"$work/pose.err"
same_pose "$work/pose-shipped.json" "the shipped crt pose with the shipped MoveNet"
phase "short form checks"
if [ "$long" != 1 ]; then
    echo "short form done (--long or CRTD_DEB_LONG=1: install in a clean Debian 12 and boot it)"
    finish
    exit
fi

# ---- long form: the clean Debian 12 tree (made once) ----
tree=$work/root
base=$cache/bookworm-minbase.tar
mkdir -p "$cache/archives/partial"
in_tree() { chroot "$tree" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources \
    2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
if [ ! -f "$base" ]; then
    echo "making the base tree once: debootstrap --variant=minbase bookworm ($mirror)"
    new=$cache/tree.new
    rm -rf "$new"
    if debootstrap --variant=minbase bookworm "$new" "$mirror" >"$cache/debootstrap.log" 2>&1 &&
        cp /etc/resolv.conf "$new/etc/resolv.conf" &&
        chroot "$new" apt-get update -qq >>"$cache/debootstrap.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive chroot "$new" apt-get install -y -qq \
            --no-install-recommends systemd >>"$cache/debootstrap.log" 2>&1 &&
        chroot "$new" apt-get clean && tar -C "$new" -cf "$base.tmp" . && mv "$base.tmp" "$base"; then
        rm -rf "$new"
    else
        bad "making the base tree failed: $(tail -5 "$cache/debootstrap.log")"
        finish
        exit
    fi
    phase "debootstrap (once)"
fi
rm -rf "$tree"
mkdir -p "$tree"
tar -C "$tree" -xf "$base" || { bad "cannot unpack $base"; finish; exit; }
cp /etc/resolv.conf "$tree/etc/resolv.conf"
# A throw-away tree: dpkg need not sync every file it unpacks.
echo force-unsafe-io >"$tree/etc/dpkg/dpkg.cfg.d/crtd-test-unsafe-io"
mount --bind "$cache/archives" "$tree/var/cache/apt/archives" &&
    mounts+=("$tree/var/cache/apt/archives")
mount -t proc proc "$tree/proc" && mounts+=("$tree/proc")
phase "fresh tree"

# ---- apt-get install ./crtd.deb with its dependencies ----
cp "$deb" "$src/third_party/images/messi5.jpg" "$tree/tmp/"
if in_tree apt-get update -qq >"$work/apt.log" 2>&1 &&
    in_tree env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "/tmp/$(basename "$deb")" >>"$work/apt.log" 2>&1; then
    ok "apt-get installed the package and its dependencies"
else
    bad "apt-get install: $(tail -8 "$work/apt.log")"
    finish
    exit
fi
phase "install"

enabled=$(find "$tree/etc/systemd/system" -name 'crtd*' 2>/dev/null)
[ -z "$enabled" ] && ok "installing enabled nothing" || bad "enabled on installation: $enabled"
check check_config 0 "configuration OK.*model /usr/share/crtd/models/default.safetensors" -- \
    in_tree crtd --check-config
check check_config_example 0 "configuration OK" -- \
    in_tree crtd --check-config --config /etc/crtd/crtd.conf.example
printf '[server]\nlisten = 127.0.0.1:8470\n[daemon]\nno_such_key = 1\n' >"$tree/tmp/bad.conf"
check check_config_bad 1 "bad.conf.*no_such_key" -- in_tree crtd --check-config --config /tmp/bad.conf
if out=$(in_tree systemd-analyze verify /lib/systemd/system/crtd.service \
    /lib/systemd/system/crtd.socket 2>&1) && [ -z "$out" ]; then
    ok "systemd-analyze verify: the installed units are clean"
else
    bad "systemd-analyze verify: $out"
fi
in_tree crt pose --json /tmp/messi5.jpg >"$work/pose-installed.json" 2>"$work/pose.err"
same_pose "$work/pose-installed.json" "installed crt pose (MoveNet from /usr/share/crtd)"
phase "checks in the tree"

# ---- booted: systemd starts crtd.service, which answers /healthz ----
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[server]\nlisten = 127.0.0.1:%s\n' "$port" >"$tree/etc/crtd/crtd.conf"
# What README.md tells the administrator to do, done offline.
in_tree systemctl enable crtd.service >/dev/null 2>&1 || bad "systemctl enable crtd.service"
# nspawn mounts what the booted system needs itself.
for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}"; done
mounts=()
# --register=no --keep-unit: no machined or system bus needed on the host.
systemd-nspawn -D "$tree" -b --register=no --keep-unit -q >"$work/nspawn.log" 2>&1 </dev/null &
nspawn_pid=$!
health=
for _ in $(seq 240); do
    health=$(curl -s -m 2 "http://127.0.0.1:$port/healthz") && break
    kill -0 "$nspawn_pid" 2>/dev/null || break
    sleep 0.5
done
printf '%s' "$health" | grep -q '"status":"ok"' &&
    ok "booted with systemd-nspawn: crtd.service answers /healthz ($health)" ||
    bad "no /healthz from the booted tree: '$health'; $(tail -5 "$work/nspawn.log")"
init=$(pgrep -P "$nspawn_pid" | head -1)
state=$([ -n "$init" ] && nsenter -t "$init" -a systemctl show -p ActiveState -p DynamicUser \
    crtd.service 2>&1 | tr '\n' ' ')
case $state in
*ActiveState=active*)
    case $state in
    *DynamicUser=yes*) ok "crtd.service active under systemd ($state)" ;;
    *) bad "crtd.service not run as a dynamic user: $state" ;;
    esac
    ;;
*) bad "crtd.service in the booted tree: $state" ;;
esac
# Removing the package stops the running service.
if [ -n "$init" ] && nsenter -t "$init" -a env DEBIAN_FRONTEND=noninteractive \
    apt-get remove -y crtd >"$work/remove.log" 2>&1; then
    after=$(curl -s -m 2 "http://127.0.0.1:$port/healthz")
    state=$(nsenter -t "$init" -a systemctl show -p ActiveState crtd.service 2>&1)
    [ -z "$after" ] && [ "$state" != ActiveState=active ] &&
        ok "apt-get remove crtd stopped the service ($state)" ||
        bad "after apt-get remove: $state, /healthz '$after'"
else
    bad "apt-get remove crtd in the booted tree: $(tail -3 "$work/remove.log")"
fi
kill -TERM "$nspawn_pid"
wait "$nspawn_pid"
nspawn_pid=
phase "boot"

# The installed tree is kept only to look into a failure.
[ "$failed" -eq 0 ] && rm -rf "$tree"
finish
