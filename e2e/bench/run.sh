#!/usr/bin/env bash
# `paas run --rm busybox true` side by side in one run with `podman run --rm` on the same
# busybox image (loaded from our `paas save`) and bare `crun run` / `paas-runtime run` of a
# busybox bundle (the floor: no image store, no CLI). Then N detached `sleep` containers:
# total time, memory per container, `paas ps` with N running; then all are removed.
#   RUNS=30 N=1000 e2e/bench/run.sh
# Everything runs in one private mount namespace where the cgroup2 controller list reads
# empty (crun refuses hybrid hosts otherwise), with a private PAAS_ROOT and podman store.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
RUNS=${RUNS:-30}
N=${N:-1000}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for tool in hyperfine jq; do command -v $tool >/dev/null || { echo "$tool is missing" >&2; exit 1; }; done

if [ -z "${PAAS_BENCH_INNER:-}" ]; then
  work=$(mktemp -d /var/tmp/paas-bench-run.XXXXXX)
  empty=$(mktemp /tmp/paas-bench-empty.XXXXXX)
  status=0
  PAAS_BENCH_INNER=1 PAAS_BENCH_WORK=$work unshare -m bash -c '
    mount --make-rprivate /
    list=/sys/fs/cgroup/unified/cgroup.controllers
    [ -e "$list" ] && mount --bind "$1" "$list"
    exec "$2"' _ "$empty" "$0" || status=$?
  rm -rf "$work" "$empty"
  exit $status
fi

work=$PAAS_BENCH_WORK
export PAAS_ROOT=$work/root PAAS_RUN=$work/run
paas="$repo/bin/paas"
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --runtime runc --cgroup-manager cgroupfs --log-level error)
cleanup() {
  ids=$("$paas" ps -aq 2>/dev/null || true)
  [ -n "$ids" ] && "$paas" rm -f $ids >/dev/null 2>&1
  command -v podman >/dev/null && "${podman[@]}" rm -af >/dev/null 2>&1
  "$paas" network prune >/dev/null 2>&1
  # the bare bundles' parent cgroup (runtimes remove only their own leaf)
  for d in /sys/fs/cgroup/*/"paas-bench-run-$$" /sys/fs/cgroup/"paas-bench-run-$$"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  true
}
trap cleanup EXIT

"$paas" image bootstrap busybox >/dev/null
"$paas" save busybox -o "$work/busybox.tar"

. "$repo/native/runtime/tests/runtime-lib.sh"
make_rootfs "$work/bundle/rootfs"
make_config "/paas-bench-run-$$/crun" true >"$work/bundle/config.json"
cp -r "$work/bundle" "$work/bundle-paas"
jq_edit "$work/bundle-paas/config.json" '.linux.cgroupsPath=$p' --arg p "/paas-bench-run-$$/paas"

cmds=(-n 'paas run --rm busybox true' "$paas run --rm --network none busybox true")
if command -v podman >/dev/null && "${podman[@]}" load -q -i "$work/busybox.tar" >/dev/null 2>&1; then
  cmds+=(-n 'podman run --rm busybox true'
    "${podman[*]} run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 busybox true")
fi
cmds+=(-n 'paas-runtime run (bare bundle)' "$repo/native/runtime/build/paas-runtime --root $work/rt-paas run --bundle $work/bundle-paas bench")
command -v crun >/dev/null && cmds+=(-n 'crun run (bare bundle)' "crun --root $work/rt-crun run --bundle $work/bundle bench")

hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/run.json" "${cmds[@]}" >/dev/null
echo "| command | median (ms) | vs crun |"
echo "| --- | ---: | ---: |"
jq -r '(.results | map(select(.command | startswith("crun"))) | .[0].median) as $c
  | .results[] | "| `\(.command)` | \(.median * 1000 | . * 10 | round / 10) | \(if $c then (.median / $c * 100 | round / 100 | tostring) + "x" else "" end) |"' "$work/run.json"

# N detached containers
avail() { awk '/MemAvailable/ {print $2}' /proc/meminfo; }
before=$(avail)
start=$(date +%s.%N)
for i in $(seq 1 "$N"); do "$paas" run -d --name "bench-$i" busybox sleep 3600 >/dev/null; done
end=$(date +%s.%N)
after=$(avail)
ps_start=$(date +%s.%N)
running=$("$paas" ps -q | wc -l)
ps_end=$(date +%s.%N)
rm_start=$(date +%s.%N)
"$paas" rm -f $("$paas" ps -aq) >/dev/null
rm_end=$(date +%s.%N)
awk -v n="$N" -v s="$start" -v e="$end" -v b="$before" -v a="$after" -v r="$running" -v ps="$ps_start" -v pe="$ps_end" -v rs="$rm_start" -v re="$rm_end" 'BEGIN {
  printf "\n| %d x `paas run -d busybox sleep 3600` | value |\n| --- | ---: |\n", n
  printf "| total start time | %.1f s (%.1f ms each) |\n", e - s, (e - s) * 1000 / n
  printf "| memory per container (MemAvailable drop) | %.2f MB |\n", (b - a) / 1024 / n
  printf "| `paas ps` with %d running | %.0f ms |\n", r, (pe - ps) * 1000
  printf "| `paas rm -f` of all | %.1f s |\n", re - rs
}'
