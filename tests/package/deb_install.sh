#!/bin/bash
# The Debian package in a clean Debian 12: scripts/package builds the .deb
# from this tree; debootstrap makes a minbase bookworm tree (made once and
# kept as a tarball under the build folder, with systemd as every Debian box
# that would run the service has it); apt-get installs the .deb there with
# its dependencies. Then, in that tree: crtd --check-config, systemd-analyze
# verify on the installed units, nothing enabled or started by the
# installation, the model files as shipped, crt posing a photograph with the
# installed MoveNet as the source tree's build does.
# --boot (or CRTD_DEB_BOOT=1) also boots the tree with systemd-nspawn,
# enables and starts crtd.service there and asks its /healthz.
# usage: deb_install.sh SOURCE_ROOT BUILD_DIR CRT [--boot]
# Needs root (debootstrap, chroot, mounts); exits 77 (skipped) otherwise.
set -u
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
host_crt=$3
boot=${CRTD_DEB_BOOT:-0}
[ "${4:-}" = --boot ] && boot=1
. "$src/tests/cli/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: debootstrap, chroot and the package's installation need root"
    exit 77
fi
for tool in debootstrap dpkg-buildpackage dh chroot tar curl; do
    command -v $tool >/dev/null || {
        echo "FAIL: $tool not found (scripts/setup installs debhelper and debootstrap)" >&2
        exit 1
    }
done

work=$build/tests/deb-install
cache=$build/deb-cache # the base tree and downloaded packages, kept between runs
tree=$work/root
base=$cache/bookworm-minbase.tar
mkdir -p "$work" "$cache/archives/partial"
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
in_tree() { chroot "$tree" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

# ---- the package, from this tree ----
[ -n "${CC:-}" ] || ! command -v ccache >/dev/null || export CC="ccache gcc"
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

# ---- the clean Debian 12 tree (made once) ----
mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources \
    2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
if [ ! -f "$base" ]; then
    echo "making the base tree once: debootstrap --variant=minbase bookworm ($mirror)"
    rm -rf "$cache/tree.new"
    if debootstrap --variant=minbase bookworm "$cache/tree.new" "$mirror" >"$cache/debootstrap.log" 2>&1 &&
        cp /etc/resolv.conf "$cache/tree.new/etc/resolv.conf" &&
        chroot "$cache/tree.new" apt-get update -qq >>"$cache/debootstrap.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive chroot "$cache/tree.new" apt-get install -y -qq \
            --no-install-recommends systemd >>"$cache/debootstrap.log" 2>&1 &&
        chroot "$cache/tree.new" apt-get clean &&
        tar -C "$cache/tree.new" -cf "$base.tmp" . && mv "$base.tmp" "$base"; then
        rm -rf "$cache/tree.new"
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
mount --bind "$cache/archives" "$tree/var/cache/apt/archives" && mounts+=("$tree/var/cache/apt/archives")
mount -t proc proc "$tree/proc" && mounts+=("$tree/proc")
phase "fresh tree"

# ---- apt-get install ./crtd.deb with its dependencies ----
cp "$deb" "$tree/tmp/"
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

# ---- what is installed ----
for f in usr/sbin/crtd usr/bin/crt etc/crtd/crtd.conf.example lib/systemd/system/crtd.service \
    lib/systemd/system/crtd.socket; do
    [ -f "$tree/$f" ] || bad "/$f not installed"
done
same=0
for f in "$src/models/default.safetensors" "$src"/third_party/models/movenet-*; do
    cmp -s "$f" "$tree/usr/share/crtd/models/$(basename "$f")" && same=$((same + 1)) ||
        bad "/usr/share/crtd/models/$(basename "$f") is not the source tree's"
done
[ "$same" -eq 7 ] && ok "the default model and the six MoveNet files, as in the source tree" ||
    bad "$same of 7 model files as in the source tree"

# Starts nothing by surprise: no unit enabled, no start in the scripts.
enabled=$(find "$tree/etc/systemd/system" -name 'crtd*' 2>/dev/null)
[ -z "$enabled" ] && ok "installing enabled nothing" || bad "enabled on installation: $enabled"
if grep -qs 'deb-systemd-invoke\|systemctl.*start\|invoke-rc.d' "$tree/var/lib/dpkg/info/crtd.postinst"; then
    bad "crtd.postinst starts a unit: $(grep 'deb-systemd-invoke\|start' "$tree/var/lib/dpkg/info/crtd.postinst")"
else
    ok "crtd.postinst starts nothing"
fi

# ---- crtd --check-config ----
check check_config 0 "configuration OK.*model /usr/share/crtd/models/default.safetensors" -- \
    in_tree crtd --check-config
check check_config_example 0 "configuration OK" -- \
    in_tree crtd --check-config --config /etc/crtd/crtd.conf.example
printf '[server]\nlisten = 127.0.0.1:8470\n[daemon]\nno_such_key = 1\n' >"$tree/tmp/bad.conf"
check check_config_bad 1 "bad.conf.*no_such_key" -- in_tree crtd --check-config --config /tmp/bad.conf

# ---- systemd-analyze verify on the installed units ----
if out=$(in_tree systemd-analyze verify /lib/systemd/system/crtd.service \
    /lib/systemd/system/crtd.socket 2>&1) && [ -z "$out" ]; then
    ok "systemd-analyze verify: the installed units are clean"
else
    bad "systemd-analyze verify: $out"
fi

# ---- crt with the installed MoveNet poses as the source tree's build does ----
cp "$src/third_party/images/messi5.jpg" "$tree/tmp/"
in_tree crt pose --json /tmp/messi5.jpg >"$work/pose-installed.json" 2>"$work/pose.err"
"$host_crt" pose --json "$src/third_party/images/messi5.jpg" >"$work/pose-host.json" 2>/dev/null
verdict=$(/usr/bin/python3 - "$work/pose-installed.json" "$work/pose-host.json" <<'PY'
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
    print("keypoints: %d installed, %d from the build" % (len(a), len(b))); sys.exit()
worst = max(abs(p - q) for u, v in zip(a, b) for p, q in zip(u, v))
print("agrees" if worst < 1e-3 else "worst difference %.2e" % worst)
PY
)
[ "$verdict" = agrees ] && ok "installed crt pose agrees with the build's (MoveNet from /usr/share/crtd)" ||
    bad "installed crt pose: $verdict $(tail -2 "$work/pose.err")"
phase "checks"

# ---- booted: systemd starts crtd.service, which answers /healthz ----
if [ "$boot" = 1 ]; then
    if ! command -v systemd-nspawn >/dev/null; then
        bad "--boot: systemd-nspawn not found (scripts/setup installs systemd-container)"
    else
        port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        printf '[server]\nlisten = 127.0.0.1:%s\n' "$port" >"$tree/etc/crtd/crtd.conf"
        # What README.md tells the administrator to do, offline.
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
        state=$([ -n "$init" ] && nsenter -t "$init" -a systemctl show -p ActiveState -p User \
            -p DynamicUser crtd.service 2>&1 | tr '\n' ' ')
        case $state in
        *ActiveState=active*) case $state in
            *DynamicUser=yes*) ok "crtd.service active under systemd ($state)" ;;
            *) bad "crtd.service not run as a dynamic user: $state" ;;
            esac ;;
        *) bad "crtd.service in the booted tree: $state" ;;
        esac
        kill -TERM "$nspawn_pid"
        wait "$nspawn_pid"
        nspawn_pid=
        phase "boot"
    fi
else
    echo "not booting the tree (--boot or CRTD_DEB_BOOT=1 boots it with systemd-nspawn)"
fi

finish
