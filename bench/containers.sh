#!/usr/bin/env bash
# Container benchmarks: berth side by side with Docker and Podman, each on
# its own root and socket, all driven by the same docker CLI (bench/engines.sh):
# `run --rm true` (and berth's own CLI against bare `runc run`), `run -d` +
# `stop -t 0` (a kill) + `rm`, `exec true`, `ps` with 100 running
# containers, daemon RSS idle and with 50 containers, per-container
# supervisor memory (berth shim, containerd-shim, conmon). Medians of RUNS
# runs, and how many times slower Docker and Podman are. Run as root.
#
# usage: bench/containers.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
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

# berth's own CLI, and the floor: bare `runc run` of a bundle made from the
# same image (no daemon, no image store, no log, no supervisor).
mkdir -p "$work/bundle/rootfs"
rootfs_of=$(on berth docker create $img)
on berth docker export "$rootfs_of" | tar -x -C "$work/bundle/rootfs"
on berth docker rm "$rootfs_of" >/dev/null
(cd "$work/bundle" && runc spec && python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
json.dump(c, open("config.json", "w"))
PY
)
berth_cli=$(timed berth "$berth" run --rm --network none $img true)
runc_run=$(for i in $(seq "$runs"); do
    t0=$(date +%s.%N)
    runc --root "$work/runc" run --bundle "$work/bundle" "bench-$i" >/dev/null || bench_failed runc run
    echo "$(date +%s.%N) - $t0" | bc
done | median)
printf '%-30s berth %8.4fs   bare runc run %8.4fs (berth %5.2fx of it)\n' "berth run --rm true" \
    "$berth_cli" "$runc_run" "$(echo "$berth_cli / $runc_run" | bc -l)"
compare "run -d + stop -t 0 + rm" bash -c "docker stop -t 0 \$(docker run -d --network none $img sleep 100) && docker rm \$(docker ps -aq)"
for e in "${engines[@]}"; do on "$e" docker run -d --name target --network none $img sleep 1000 >/dev/null; done
compare "exec true" docker exec target true
# start_more N: N more containers on every engine, in parallel batches
start_more() {
    for e in "${engines[@]}"; do
        seq "$1" | xargs -P 4 -I{} env DOCKER_HOST="unix://$work/$e.sock" \
            docker run -d --network none $img sleep 1000 >/dev/null
    done
}
start_more 49
echo "daemon RSS with 50 containers: $(daemons_rss)"
start_more 50
compare "ps with 100 running" docker ps
sleep 3   # berth's shims trim their memory after 2 s idle
supervisor "one berth shim" "$(pgrep -f "berth shim start $work" | head -1)"
supervisor "one containerd-shim" "$(pgrep -f "containerd-shim.*berth-bench" | head -1)"
supervisor "one conmon" "$(pgrep -f "conmon.*$work/podman" | head -1)"
