#!/usr/bin/env bash
# Container benchmarks: berth side by side with Docker and Podman, each on
# its own root and socket, all driven by the same docker CLI (bench/engines.sh):
# `run --rm true`, `run -d` + `stop -t 0` (a kill) + `rm`, `exec true`, `ps` with N running
# containers, daemon RSS idle and with N containers, per-container
# supervisor memory (berth shim, containerd-shim, conmon). Medians of RUNS
# runs, and how many times slower Docker and Podman are. Run as root.
#
# usage: bench/containers.sh [RUNS] [CONTAINERS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}; many=${2:-50}
work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
source bench/engines.sh
start_engines

# Docker 20.10 cannot load an OCI layout: the others load berth's `docker save` of it.
img=busybox:1.38.0-glibc
on berth docker load -q -i crates/berth/tests/fixtures/busybox-1.38.0-glibc-amd64.oci.tar >/dev/null
on berth docker save -o "$work/image.tar" $img
on docker docker load -q -i "$work/image.tar" >/dev/null
on podman docker load -q -i "$work/image.tar" >/dev/null

# timed ENGINE CMD...: median wall seconds over RUNS runs
timed() {
    local engine=$1; shift
    for _ in $(seq "$runs"); do
        local t0; t0=$(date +%s.%N)
        on "$engine" "$@" >/dev/null || bench_failed "$engine" "$@"
        echo "$(date +%s.%N) - $t0" | bc
    done | median
}
# compare NAME CMD...: the same command on every engine
compare() {
    local name=$1; shift
    report "$name" "$(timed berth "$@")" "$(timed docker "$@")" "$(timed podman "$@")"
}
kb() { awk "/^$2:/ {print \$2}" "/proc/$1/$3"; }
supervisor() { echo "$1: RSS $(kb "$2" VmRSS status) kB, PSS $(kb "$2" Pss smaps_rollup) kB"; }

echo "daemon idle RSS: $(daemons_rss)"
compare "docker run --rm true" docker run --rm --network none $img true
compare "run -d + stop -t 0 + rm" bash -c "docker stop -t 0 \$(docker run -d --network none $img sleep 100) && docker rm \$(docker ps -aq)"
for e in "${engines[@]}"; do on "$e" docker run -d --name target --network none $img sleep 1000 >/dev/null; done
compare "exec true" docker exec target true
for e in "${engines[@]}"; do
    for _ in $(seq "$many"); do on "$e" docker run -d --network none $img sleep 1000 >/dev/null; done
done
compare "ps with $many running" docker ps
echo "daemon RSS with $many containers: $(daemons_rss)"
sleep 3   # berth's shims trim their memory after 2 s idle
supervisor "one berth shim" "$(pgrep -f "berth shim start $work" | head -1)"
supervisor "one containerd-shim" "$(pgrep -f "containerd-shim.*berth-bench" | head -1)"
supervisor "one conmon" "$(pgrep -f "conmon.*$work/podman" | head -1)"
