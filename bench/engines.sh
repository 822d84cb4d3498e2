# Sourced by the bench scripts: starts berth, Docker (Debian's docker.io)
# and Podman (Debian's podman, serving the Docker API) each on its own root,
# exec root and socket under $work, so all three are driven by the same
# docker CLI; stops them and removes their state on exit. Also the timing
# helpers. Needs: $work set, `set -euo pipefail`, root.

engines=(berth docker podman)
declare -A pid

on() { DOCKER_HOST=unix://$work/$1.sock "${@:2}"; }

# The cgroup parents Docker and Podman make; only those that did not exist
# before the run are removed after it.
engine_cgroups() { ls -d /sys/fs/cgroup/*/docker /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/docker \
    /sys/fs/cgroup/libpod_parent 2>/dev/null || true; }
cgroups_before=$(engine_cgroups)

stop_engines() {
    for e in "${engines[@]}"; do
        on "$e" docker rm -f $(on "$e" docker ps -aq 2>/dev/null) >/dev/null 2>&1 || true
    done
    for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; done
    # Podman's exec sessions leave their conmon waiting five minutes.
    pkill -f "conmon.*$work" 2>/dev/null || true
    wait 2>/dev/null || true
    for d in $(engine_cgroups); do
        grep -qx "$d" <<<"$cgroups_before" || find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
    umount -R "$work"/docker-root/overlay2/*/merged "$work"/podman-root/overlay 2>/dev/null || true
    rm -rf "$work"
}
trap stop_engines EXIT
trap 'exit 1' TERM INT

export DEBIAN_FRONTEND=noninteractive
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v podman >/dev/null || missing+=(podman)
# crun cannot run on a hybrid cgroup v1/v2 host; runc can.
command -v runc >/dev/null || missing+=(runc)
command -v bc >/dev/null || missing+=(bc)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
cargo build --release -q
berth=$PWD/target/release/berth

podman_service() {
    CONTAINERS_CONF=$work/containers.conf podman --root "$work/podman-root" --runroot "$work/podman-run" \
        --tmpdir "$work/podman-tmp" --storage-driver overlay --cgroup-manager cgroupfs --events-backend file \
        system service --time=0 "unix://$work/podman.sock" >>"$work/podman.log" 2>&1 &
    pid[podman]=$!
}

wait_ready() {
    for _ in $(seq 200); do on "$1" docker version >/dev/null 2>&1 && return; sleep 0.1; done
    echo "$1 did not start" >&2; exit 1
}

start_engines() {
    echo '{}' >"$work/berth.json"
    "$berth" daemon --root "$work/berth-root" --exec-root "$work/berth-run" -H "unix://$work/berth.sock" \
        --config-file "$work/berth.json" --log-level warn >"$work/berth.log" 2>&1 &
    pid[berth]=$!
    dockerd --data-root "$work/docker-root" --exec-root "$work/docker-run" -H "unix://$work/docker.sock" \
        --pidfile "$work/docker.pid" --bridge none --iptables=false --ip6tables=false \
        --containerd-namespace berth-bench --containerd-plugins-namespace berth-bench-plugins \
        >"$work/docker.log" 2>&1 &
    pid[docker]=$!
    # Podman's defaults ask containers for more open files and processes than
    # the service itself may have on hosts with low hard limits (and then
    # fail with EPERM): give containers the service's own limits.
    printf '[engine]\nruntime = "runc"\n' >"$work/containers.conf"
    podman_service
    wait_ready podman
    local nofile nproc ulimits=()
    nofile=$(awk '/^Max open files/ {print $5}' "/proc/${pid[podman]}/limits")
    nproc=$(awk '/^Max processes/ {print $4}' "/proc/${pid[podman]}/limits")
    [ "$nofile" != unlimited ] && ulimits+=("\"nofile=$nofile:$nofile\"")
    [ "$nproc" != unlimited ] && ulimits+=("\"nproc=$nproc:$nproc\"")
    kill "${pid[podman]}"; wait "${pid[podman]}" 2>/dev/null || true
    printf '[containers]\ndefault_ulimits = [%s]\n[engine]\nruntime = "runc"\n' \
        "$(IFS=,; echo "${ulimits[*]}")" >"$work/containers.conf"
    podman_service
    for e in "${engines[@]}"; do wait_ready "$e"; done
}

rss_mib() { echo $(( $(awk '/VmRSS/ {print $2}' "/proc/$1/status") / 1024 )); }
daemons_rss() { echo "berth $(rss_mib "${pid[berth]}") MiB, dockerd $(rss_mib "${pid[docker]}") MiB (plus containerd), podman service $(rss_mib "${pid[podman]}") MiB"; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# A timed command that fails ends the whole run: a median of the runs that
# happened to succeed would be a wrong figure.
bench_failed() { echo "failed on $1: ${*:2}" >&2; kill -TERM $$; }

# report NAME BERTH DOCKER PODMAN: seconds and how many times slower the others are.
report() {
    printf '%-30s berth %8.4fs   docker %8.4fs (%5.2fx)   podman %8.4fs (%5.2fx)\n' "$1" "$2" "$3" \
        "$(echo "$3 / $2" | bc -l)" "$4" "$(echo "$4 / $2" | bc -l)"
}
