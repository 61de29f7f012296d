#!/bin/bash
# scripts/slurm on a real one-node Slurm that this test starts: munged with a
# key made here, slurmctld and slurmd with a slurm.conf written here (state,
# spool, logs and sockets in the work folder, ports of its own). The array job
# of scripts/slurm/submit poses a Smarthome look-alike tree that ffmpeg makes
# here, shard by shard; its merge job's cache must equal, byte for byte, the
# cache of one `crt extract` of the same tree on this machine, and its eval
# the same `crt eval` run here.
# usage: slurm_array.sh CRT SOURCE_ROOT WORKDIR
# Needs root (slurmd starts jobs as their user); exits 77 (skipped) otherwise.
set -u
crt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$2
work=$3
. "$src/tests/cli/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: a one-node Slurm needs root (slurmd runs each job as its user)"
    exit 77
fi
for tool in munged mungekey slurmctld slurmd sbatch scontrol sinfo ffmpeg; do
    command -v $tool >/dev/null || {
        echo "FAIL: $tool not found (scripts/setup installs slurm-wlm and munge)" >&2
        exit 1
    }
done

rm -rf "$work"
mkdir -p "$work"/{clips,munge-key,run,ctld,spool,log,logs}
chmod 755 "$work" "$work/run" # munged wants its socket's folders open to all
chmod 700 "$work/munge-key"
pids=()
cleanup() {
    # Only the daemons this test started, newest first.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    done
}
trap cleanup EXIT
show_logs() {
    for f in "$work"/log/*.log "$work"/logs/*; do
        [ -f "$f" ] && { echo "---- $f" >&2; tail -15 "$f" >&2; }
    done
}

# ---- the tree: two activities on three cameras, a name that does not
# parse and a file that does not decode ----
make_clip() { # NAME PHOTO MOTION
    ffmpeg -v error -y -loop 1 -i "$src/third_party/images/$2" \
        -vf "scale=640:480,$3,format=yuv420p" -r 20 -t 1.7 -c:v libx264 "$work/clips/$1" ||
        bad "ffmpeg could not make $1"
}
i=0
for cam in 01 05 02 02; do
    i=$((i + 1))
    make_clip "Walk_p03_r0${i}_v00_c$cam.mp4" messi5.jpg \
        "crop=560:420:'40+30*sin(2*t+$i)':30,scale=640:480"
    make_clip "Sitdown_p04_r0${i}_v00_c$cam.mp4" basketball1.png \
        "zoompan=z='1+0.0$i*on':d=1:s=640x480:fps=20"
done
make_clip "holiday-video.mp4" messi5.jpg "crop=560:420:0:0,scale=640:480"
head -c 20000 /dev/urandom >"$work/clips/Drink.Fromcup_p02_r00_v00_c02.mp4"

# ---- munge and Slurm, on ports nobody listens on ----
mungekey -c -k "$work/munge-key/munge.key" || { bad "mungekey"; finish; exit; }
munged -F --key-file="$work/munge-key/munge.key" --socket="$work/run/munge.sock" \
    --pid-file="$work/run/munged.pid" --seed-file="$work/munge-key/seed" \
    --log-file="$work/log/munged.log" 2>>"$work/log/munged.log" &
pids+=($!)
read -r ctld_port slurmd_port < <(/usr/bin/python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
export SLURM_CONF="$work/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=crtdtest$$
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/run/munge.sock
StateSaveLocation=$work/ctld
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
for _ in $(seq 50); do [ -S "$work/run/munge.sock" ] && break; sleep 0.1; done
slurmctld -D -f "$SLURM_CONF" >>"$work/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >>"$work/log/slurmd.out" 2>&1 &
pids+=($!)
state=
for _ in $(seq 120); do
    state=$(sinfo -h -n localhost -o %T 2>/dev/null)
    [ "$state" = idle ] && break
    sleep 0.5
done
if [ "$state" = idle ]; then
    ok "one-node Slurm is up (slurmctld on port $ctld_port, slurmd on $slurmd_port)"
else
    bad "the node never came up (state '$state')"
    show_logs
    finish
    exit
fi

# ---- the array job and its merge (and eval) job ----
model="$src/models/default.safetensors"
jobs=$("$src/scripts/slurm/submit" --shards 3 --cpus 1 --crt "$crt" --logs "$work/logs" \
    --model "$model" --protocol cv1 --known-classes "$work/clips" "$work/slurm-cache")
read -r extract_job merge_job <<<"$jobs"
[ -n "$merge_job" ] && ok "submitted: array job $extract_job, merge job $merge_job" ||
    bad "submit printed '$jobs'"
job_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | sort -u | tr '\n' ' '; }
# A bound on waiting only, so that a stuck job fails the test instead of hanging it.
for _ in $(seq 600); do
    case $(job_state "$merge_job") in
    *PENDING* | *RUNNING* | *CONFIGURING* | *COMPLETING* | "") sleep 0.5 ;;
    *) break ;;
    esac
done
st=$(job_state "$extract_job")
[ "$st" = "JobState=COMPLETED " ] && ok "all three array tasks completed" ||
    bad "array job: $st"
st=$(job_state "$merge_job")
[ "$st" = "JobState=COMPLETED " ] && ok "the merge job completed" || { bad "merge job: $st"; show_logs; }
n=$(grep -l "crt-extract: shard [123] of 3" "$work"/logs/crt-extract-*.out 2>/dev/null | wc -l)
[ "$n" = 3 ] && ok "each task ran its own shard" || bad "$n task logs name their shard"
for s in 1 2 3; do
    [ -f "$work/slurm-cache/manifest-$s-of-3.json" ] || bad "shard $s wrote no manifest"
done

# ---- the one-machine cache, made here, is the reference ----
"$crt" extract "$work/clips" --out "$work/one-cache" --jobs 2 >"$work/one.out" 2>&1 ||
    bad "one-machine crt extract: $(tail -3 "$work/one.out")"
for f in manifest.json report.json; do
    cmp -s "$work/slurm-cache/$f" "$work/one-cache/$f" && ok "merged $f equals the one-machine $f" ||
        bad "merged $f differs from the one-machine $f"
done
one=$(cd "$work/one-cache" && ls -- *.pose)
merged=$(cd "$work/slurm-cache" && ls -- *.pose)
[ -n "$one" ] && [ "$one" = "$merged" ] && ok "the same $(echo "$one" | wc -l) pose files" ||
    bad "pose files: one machine [$one], merged [$merged]"
differ=$(cd "$work/one-cache" && for f in *.pose; do cmp -s "$f" "$work/slurm-cache/$f" || echo "$f"; done)
[ -z "$differ" ] && ok "every pose file is byte for byte the one-machine file" ||
    bad "pose files differ: $differ"

# ---- the eval in the merge job is the eval here ----
"$crt" eval --model "$model" --protocol cv1 --known-classes "$work/one-cache" \
    >"$work/one-eval.txt" 2>/dev/null || bad "crt eval on the one-machine cache failed"
log="$work/logs/crt-eval-$merge_job.out"
# crt eval prints its report on stdout at the end; progress goes to stderr.
lines=$(wc -l <"$work/one-eval.txt")
grep -q "mean per-class accuracy" "$work/one-eval.txt" &&
    tail -n "$lines" "$log" 2>/dev/null | cmp -s - "$work/one-eval.txt" &&
    ok "the merge job's eval prints the one-machine eval" ||
    bad "eval in the merge job: $(tail -5 "$log" 2>/dev/null)"

finish
