#!/usr/bin/env bash
# Container start in a user namespace (--userns=auto: a range of the pool, the image's layers
# idmapped under overlay, the bridge's netns joined before the user namespace) against the
# same start without one (--userns=host), side by side in one run: `paas run --rm` of busybox
# `true` on the bridge (an instance's path: netns, veth, lease, shim, runtime) and without a
# network, with an image of several layers (one idmapped mount each); and a one-step build
# (`RUN` in a user namespace: idmapped lowers and upper, the range taken and given back).
#   RUNS=30 e2e/bench/userns.sh
# A private PAAS_ROOT and PAAS_RUN under /var/tmp (searchable: a user-namespaced root reaches
# its bundle there) and a bridge of its own; everything is removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
RUNS=${RUNS:-30}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for tool in hyperfine jq; do command -v $tool >/dev/null || { echo "$tool is missing" >&2; exit 1; }; done

work=$(mktemp -d /var/tmp/paas-bench-userns.XXXXXX)
chmod 711 "$work"
export PAAS_ROOT=$work/root PAAS_RUN=$work/run
export PAAS_BRIDGE=pbu$(($$ % 100000)) PAAS_SUBNET=10.$((200 + $$ % 50)).$(($$ % 250)).0/24 PAAS_IP_FORWARD=0
paas="$repo/bin/paas"
cleanup() {
  ids=$("$paas" ps -aq 2>/dev/null || true)
  [ -n "$ids" ] && "$paas" rm -f $ids >/dev/null 2>&1
  "$paas" network prune >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$paas" image bootstrap busybox >/dev/null
# five layers: the idmapped mounts are one per layer
ctx=$work/ctx && mkdir -p "$ctx"
printf 'FROM busybox\nRUN echo 1 > /1\nRUN echo 2 > /2\nRUN echo 3 > /3\nRUN echo 4 > /4\n' >"$ctx/Dockerfile"
"$paas" build -q --network none -t layered "$ctx" >/dev/null

# one RUN step, built again each time
step=$work/step && mkdir -p "$step"
printf 'FROM busybox\nRUN echo hi > /f\n' >"$step/Dockerfile"

hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/userns.json" \
  -n 'build, one RUN, --userns=host' "$paas build -q --no-cache --network none --userns=host $step" \
  -n 'build, one RUN, --userns=auto' "$paas build -q --no-cache --network none --userns=auto $step" \
  -n 'bridge, --userns=host' "$paas run --rm busybox true" \
  -n 'bridge, --userns=auto' "$paas run --rm --userns=auto busybox true" \
  -n 'none, 5 layers, --userns=host' "$paas run --rm --network none layered true" \
  -n 'none, 5 layers, --userns=auto' "$paas run --rm --network none --userns=auto layered true" >/dev/null
echo "| \`paas run --rm IMAGE true\`, \`paas build\` | median (ms) |"
echo "| --- | ---: |"
jq -r '.results[] | "| \(.command) | \(.median * 1000 | . * 10 | round / 10) |"' "$work/userns.json"
