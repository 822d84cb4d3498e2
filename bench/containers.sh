#!/usr/bin/env bash
# Container benchmarks, berth side by side with Docker (Debian's docker.io)
# and, when installed, Podman — each on its own root and socket, all driven
# by the same docker CLI: `run --rm true`, `run -d` + `stop`, `exec true`,
# `ps` with N running containers, daemon RSS idle and with N containers,
# shim RSS/PSS per container. Medians and ratios; run as root.
#
# usage: bench/containers.sh [RUNS] [CONTAINERS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}; many=${2:-50}
export DEBIAN_FRONTEND=noninteractive
command -v dockerd >/dev/null || { apt-get update -q; apt-get install -y -q --no-install-recommends docker.io; }
cargo build --release -q
berth=$PWD/target/release/berth
image=crates/berth/tests/fixtures/busybox-1.38.0-glibc-amd64.oci.tar

work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
pids=()
cleanup() {
    for s in berth docker; do
        DOCKER_HOST=unix://$work/$s.sock docker rm -f $(DOCKER_HOST=unix://$work/$s.sock docker ps -aq 2>/dev/null) >/dev/null 2>&1 || true
    done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    umount -R "$work"/docker-root/overlay2/*/merged 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$berth" daemon --root "$work/berth-root" --exec-root "$work/berth-run" -H "unix://$work/berth.sock" --log-level warn >"$work/berth.log" 2>&1 &
pids+=($!); bpid=$!
dockerd --data-root "$work/docker-root" --exec-root "$work/docker-run" -H "unix://$work/docker.sock" \
    --pidfile "$work/docker.pid" --bridge none --iptables=false --ip6tables=false \
    --containerd-namespace berth-bench --containerd-plugins-namespace berth-bench-plugins >"$work/docker.log" 2>&1 &
pids+=($!); dpid=$!
for s in berth docker; do
    for _ in $(seq 200); do DOCKER_HOST=unix://$work/$s.sock docker version >/dev/null 2>&1 && break; sleep 0.1; done
done
# Docker 20.10 cannot load an OCI layout: hand it berth's `docker save` of the image.
DOCKER_HOST=unix://$work/berth.sock docker load -q -i "$image" >/dev/null
DOCKER_HOST=unix://$work/berth.sock docker save -o "$work/image.tar" busybox:1.38.0-glibc
DOCKER_HOST=unix://$work/docker.sock docker load -q -i "$work/image.tar" >/dev/null
img=busybox:1.38.0-glibc

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# timed SOCK CMD...: median wall seconds over RUNS runs
timed() {
    local sock=$1; shift
    for _ in $(seq "$runs"); do
        local t0; t0=$(date +%s.%N)
        DOCKER_HOST=unix://$work/$sock.sock "$@" >/dev/null
        echo "$(date +%s.%N) - $t0" | bc
    done | median
}
report() { printf '%-34s berth %8.4fs   docker %8.4fs   docker/berth %6.2fx\n' "$1" "$2" "$3" "$(echo "$3 / $2" | bc -l)"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

echo "daemon idle RSS: berth $(( $(rss $bpid) / 1024 )) MiB, dockerd $(( $(rss $dpid) / 1024 )) MiB (plus containerd)"

b=$(timed berth docker run --rm --network none $img true)
d=$(timed docker docker run --rm --network none $img true)
report "docker run --rm true" "$b" "$d"

b=$(timed berth bash -c "docker stop -t 1 \$(docker run -d --network none $img sleep 100) && docker rm \$(docker ps -aq)")
d=$(timed docker bash -c "docker stop -t 1 \$(docker run -d --network none $img sleep 100) && docker rm \$(docker ps -aq)")
report "run -d + stop + rm" "$b" "$d"

for s in berth docker; do DOCKER_HOST=unix://$work/$s.sock docker run -d --name target --network none $img sleep 1000 >/dev/null; done
b=$(timed berth docker exec target true)
d=$(timed docker docker exec target true)
report "exec true" "$b" "$d"

for s in berth docker; do
    for i in $(seq "$many"); do DOCKER_HOST=unix://$work/$s.sock docker run -d --network none $img sleep 1000 >/dev/null; done
done
b=$(timed berth docker ps)
d=$(timed docker docker ps)
report "ps with $many running" "$b" "$d"
echo "daemon RSS with $many containers: berth $(( $(rss $bpid) / 1024 )) MiB, dockerd $(( $(rss $dpid) / 1024 )) MiB (plus containerd and one shim each)"
shim=$(pgrep -f "berth shim start $work" | head -1)
echo "one berth shim: RSS $(rss "$shim") kB, PSS $(awk '/^Pss:/ {print $2}' /proc/$shim/smaps_rollup) kB"
cshim=$(pgrep -f "containerd-shim.*berth-bench" | head -1 || true)
[ -n "$cshim" ] && echo "one containerd shim: RSS $(rss "$cshim") kB, PSS $(awk '/^Pss:/ {print $2}' /proc/$cshim/smaps_rollup) kB"
