#!/usr/bin/env bash
# OCI runtime start-up: `run` of a busybox `true` container under paas-runtime, crun and runc,
# side by side in one benchmark run, same bundle (`crun spec` defaults, no terminal, its own
# cgroupsPath). Prints medians and the ratio to crun. Needs root, hyperfine and jq.
# The runs are split into ROUNDS hyperfine rounds with the contenders in rotating order and
# pooled, so that load from elsewhere on a shared machine hits every contender alike.
#
# crun refuses hybrid cgroup hosts; as /work/shared/tools/crun-hybrid does, everything runs in
# one private mount namespace where the unified hierarchy's cgroup.controllers reads empty,
# so no contender pays for an extra unshare per run.
#   RUNS=200 ROUNDS=5 e2e/bench/runtime.sh    PAAS_RUNTIME=/path/to/paas-runtime ...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PAAS_RUNTIME=${PAAS_RUNTIME:-$repo/native/runtime/build/paas-runtime}
RUNS=${RUNS:-100}
command -v hyperfine >/dev/null || { echo "hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq is missing (apt-get install jq)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
[ -x "$PAAS_RUNTIME" ] || make -C "$repo/native/runtime" build/paas-runtime >/dev/null

work=$(mktemp -d /tmp/paas-bench-runtime.XXXXXX)
cg=/paas-bench-$$
cleanup() {
  local r
  for r in paas crun runc; do
    [ -d "$work/root-$r" ] || continue
    for id in $(ls "$work/root-$r"); do
      case $r in
        paas) "$PAAS_RUNTIME" --root "$work/root-$r" delete --force "$id" ;;
        *) "$r" --root "$work/root-$r" delete --force "$id" ;;
      esac >/dev/null 2>&1 || true
    done
  done
  for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [ -d "$d${cg#/}" ] && find "$d${cg#/}" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

# The bundle: busybox and its applet links, config as `crun spec` writes it (terminal off).
. "$repo/native/runtime/tests/runtime-lib.sh"
make_rootfs "$work/bundle/rootfs"
make_config "$cg/X" true >"$work/bundle/config.json"
for r in paas crun runc; do
  mkdir -p "$work/b-$r"
  ln -s ../bundle/rootfs "$work/b-$r/rootfs"
  sed "s#$cg/X#$cg/$r#" "$work/bundle/config.json" >"$work/b-$r/config.json"
done
# runc refuses a symlinked rootfs: give it an absolute root.path.
jq_edit "$work/b-runc/config.json" '.root.path=$p' --arg p "$work/bundle/rootfs"

cmds=("$PAAS_RUNTIME --root $work/root-paas run --bundle $work/b-paas bench")
names=(paas-runtime)
if command -v crun >/dev/null; then cmds+=("$(command -v crun) --root $work/root-crun run --bundle $work/b-crun bench"); names+=(crun); fi
RUNC=$(command -v runc || true)
if [ -n "$RUNC" ]; then cmds+=("$RUNC --root $work/root-runc run --bundle $work/b-runc bench"); names+=(runc); fi

list=/sys/fs/cgroup/unified/cgroup.controllers
touch "$work/empty"
# Several hyperfine rounds with the contenders in rotating order, pooled: on a shared, busy
# machine a load change then hits every contender alike instead of whichever ran last.
ROUNDS=${ROUNDS:-5}
per_round=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
# shellcheck disable=SC2016
unshare -m bash -c '
  list=$1 empty=$2 work=$3 rounds=$4 runs=$5; shift 5
  [ -e "$list" ] && mount --bind "$empty" "$list"
  n=$#
  for ((round = 0; round < rounds; round++)); do
    order=()
    for ((i = 0; i < n; i++)); do order+=("${@:$(( (i + round) % n + 1 )):1}"); done
    hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/round-$round.json" "${order[@]}" >&2
  done
' _ "$list" "$work/empty" "$work" "$ROUNDS" "$per_round" "${cmds[@]}"

echo
echo "## OCI runtime: run \`true\` (busybox bundle, $((per_round * ROUNDS)) runs each in $ROUNDS rounds, $(nproc) cores)"
echo
jq -s -r --argjson names "$(printf '%s\n' "${names[@]}" | jq -R . | jq -s .)" \
   --argjson cmds "$(printf '%s\n' "${cmds[@]}" | jq -R . | jq -s .)" '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def mean: add / length;
  def sd: mean as $m | (map((. - $m) * (. - $m)) | add / length) | sqrt;
  [.[].results[]] as $all
  | [range(0; $cmds | length) as $i
      | { name: $names[$i], times: [$all[] | select(.command == $cmds[$i]) | .times[]] } ] as $r
  | ($r | map(select(.name == "crun")) | first | .times | if . then median else null end) as $crun
  | "| runtime | median (ms) | mean ± σ (ms) | vs crun |",
    "| --- | ---: | ---: | ---: |",
    ( $r[] | (.times | median) as $med
      | "| \(.name) | \($med * 1000 * 100 | round / 100) | \(.times | mean * 1000 * 10 | round / 10) ± \(.times | sd * 1000 * 10 | round / 10) | \(if $crun then (($med / $crun) * 100 | round / 100 | tostring) + "x" else "n/a" end) |" )
' "$work"/round-*.json

# ---------------------------------------------------------------------------------------
# paas-shim: 1,000 `sleep` containers (memory / start-up per container).
# Reserved for the paas-shim engineer: add that part here (or call e2e/bench/shim-1000.sh),
# reusing $work/bundle (busybox rootfs + config) and $PAAS_RUNTIME; `cleanup` above removes
# $work and every cgroup under $cg on exit.
# ---------------------------------------------------------------------------------------
