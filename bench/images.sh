#!/usr/bin/env bash
# Image store benchmarks, berth side by side with Docker (Debian's docker.io),
# each daemon on its own root and socket: load and save of a multi-layer
# image, import of the Alpine rootfs, daemon idle RSS, binary size.
# Prints medians of N runs and berth/docker ratios. Run as root.
#
# usage: bench/images.sh [RUNS] [LAYERS] [MB_PER_LAYER]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}; layers=${2:-5}; mb=${3:-100}
export DEBIAN_FRONTEND=noninteractive
command -v dockerd >/dev/null || { apt-get update -q; apt-get install -y -q --no-install-recommends docker.io; }
cargo build --release -q
berth=$PWD/target/release/berth

work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
cleanup() {
    [ -n "${bpid:-}" ] && kill "$bpid" 2>/dev/null || true
    [ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null || true
    wait 2>/dev/null || true
    umount -R "$work"/docker-root/overlay2/*/merged 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

python3 bench/make-image.py "$work/big.tar" "$layers" "$mb"
echo "image: $layers layers, $(du -m "$work/big.tar" | cut -f1) MB"

"$berth" daemon --root "$work/berth-root" --exec-root "$work/berth-run" -H "unix://$work/berth.sock" --log-level warn >"$work/berth.log" 2>&1 &
bpid=$!
dockerd --data-root "$work/docker-root" --exec-root "$work/docker-run" -H "unix://$work/docker.sock" \
    --pidfile "$work/docker.pid" --bridge none --iptables=false --ip6tables=false --containerd-namespace berth-bench \
    --containerd-plugins-namespace berth-bench-plugins >"$work/docker.log" 2>&1 &
dpid=$!
for s in berth docker; do
    for _ in $(seq 200); do DOCKER_HOST=unix://$work/$s.sock docker version >/dev/null 2>&1 && break; sleep 0.1; done
done

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
sleep 2
echo "daemon idle RSS: berth $(( $(rss $bpid) / 1024 )) MiB, dockerd $(( $(rss $dpid) / 1024 )) MiB (plus containerd)"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# time_op DAEMON COMMAND...: median wall seconds of RUNS runs, resetting the store between runs.
time_op() {
    local sock=$1 reset=$2; shift 2
    for _ in $(seq "$runs"); do
        DOCKER_HOST=unix://$work/$sock.sock bash -c "$reset" >/dev/null 2>&1 || true
        sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
        local t0=$(date +%s.%N)
        DOCKER_HOST=unix://$work/$sock.sock "$@" >/dev/null
        echo "$(date +%s.%N) - $t0" | bc
    done | median
}
report() { printf '%-28s berth %7.3fs   docker %7.3fs   docker/berth %5.2fx\n' "$1" "$2" "$3" "$(echo "$3 / $2" | bc -l)"; }

rm_all='docker rmi -f $(docker images -qa) ; docker image prune -af'
b=$(time_op berth "$rm_all" docker load -i "$work/big.tar")
d=$(time_op docker "$rm_all" docker load -i "$work/big.tar")
report "load (${layers}x${mb}MB)" "$b" "$d"

for s in berth docker; do DOCKER_HOST=unix://$work/$s.sock docker load -i "$work/big.tar" >/dev/null; done
b=$(time_op berth "rm -f $work/out.tar" docker save -o "$work/out.tar" bench:big)
d=$(time_op docker "rm -f $work/out.tar" docker save -o "$work/out.tar" bench:big)
report "save" "$b" "$d"

alpine=crates/berth/tests/fixtures/alpine-minirootfs-3.20.3-x86_64.tar.gz
b=$(time_op berth "docker rmi -f alpine:bench; docker image prune -f" docker import "$alpine" alpine:bench)
d=$(time_op docker "docker rmi -f alpine:bench; docker image prune -f" docker import "$alpine" alpine:bench)
report "import alpine rootfs" "$b" "$d"

echo "daemon RSS after the runs: berth $(( $(rss $bpid) / 1024 )) MiB, dockerd $(( $(rss $dpid) / 1024 )) MiB (plus containerd)"
echo "berth binary: $(du -h "$berth" | cut -f1) ($(stat -c %s "$berth") bytes)"
