#!/usr/bin/env bash
# Image store benchmarks: berth side by side with Docker and Podman, each on
# its own root and socket (bench/engines.sh): load and save of a multi-layer
# image, import of the Alpine rootfs, daemon idle RSS, binary size. Medians
# of RUNS runs, and how many times slower Docker and Podman are. Run as root.
#
# usage: bench/images.sh [RUNS] [LAYERS] [MB_PER_LAYER]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}; layers=${2:-5}; mb=${3:-100}
work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
source bench/engines.sh

python3 bench/make-image.py "$work/big.tar" "$layers" "$mb"
echo "image: $layers layers, $(du -m "$work/big.tar" | cut -f1) MB"
start_engines
sleep 2
echo "daemon idle RSS: $(daemons_rss)"

# time_op ENGINE RESET COMMAND...: median wall seconds of RUNS runs, with
# RESET and a dropped page cache before each.
time_op() {
    local engine=$1 reset=$2; shift 2
    for _ in $(seq "$runs"); do
        on "$engine" bash -c "$reset" >/dev/null 2>&1 || true
        sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
        local t0; t0=$(date +%s.%N)
        on "$engine" "$@" >/dev/null || bench_failed "$engine" "$@"
        echo "$(date +%s.%N) - $t0" | bc
    done | median
}
# compare NAME RESET COMMAND...: the same on every engine
compare() {
    local name=$1 reset=$2; shift 2
    report "$name" "$(time_op berth "$reset" "$@")" "$(time_op docker "$reset" "$@")" \
        "$(time_op podman "$reset" "$@")"
}

rm_all='docker rmi -f $(docker images -qa) ; docker image prune -af'
compare "load (${layers}x${mb}MB)" "$rm_all" docker load -i "$work/big.tar"
for e in "${engines[@]}"; do on "$e" docker load -i "$work/big.tar" >/dev/null; done
compare "save" "rm -f $work/out.tar" docker save -o "$work/out.tar" bench:big
alpine=crates/berth/tests/fixtures/alpine-minirootfs-3.20.3-x86_64.tar.gz
compare "import alpine rootfs" "docker rmi -f alpine:bench; docker image prune -f" docker import "$alpine" alpine:bench
echo "daemon RSS after the runs: $(daemons_rss)"
echo "berth binary: $(du -h "$berth" | cut -f1) ($(stat -c %s "$berth") bytes)"
