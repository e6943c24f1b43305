#!/usr/bin/env bash
# A pull from a registry mirror, side by side in one run: `paas run --rm` of an image present
# only in a mirror (`PAAS_REGISTRY_MIRRORS`, a fresh PAAS_ROOT each time: the pull, the unpack
# and the container) against `skopeo copy docker://... oci:DIR` of the same image (the pull
# alone, into a fresh directory each time); `paas pull` alone too, to tell the pull from the rest;
# and `skopeo copy ... containers-storage:` (podman's store, overlay driver, in a fresh root each
# time), which pulls *and unpacks* as a run must: the like-for-like peer of `paas run`. The image
# is busybox plus a ~SIZE_MB layer of random data, served by `paas registry serve --auth none` on
# loopback as library/pullbench.
#   RUNS=5 SIZE_MB=100 e2e/bench/pull.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-5}
SIZE_MB=${SIZE_MB:-100}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for tool in hyperfine jq skopeo; do command -v $tool >/dev/null || { echo "$tool is missing" >&2; exit 1; }; done
paas="$repo/bin/paas"
work=$(mktemp -d /var/tmp/paas-bench-pull.XXXXXX)
server_pid=
cleanup() {
  # containers-storage bind-mounts its overlay directory on itself
  if mountpoint -q "$work/cs/root/overlay" 2>/dev/null; then umount "$work/cs/root/overlay" || true; fi
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  PAAS_ROOT=$work/client PAAS_RUN=$work/client-run "$paas" network prune >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

export PAAS_ROOT=$work/root PAAS_RUN=$work/run
mkdir -p "$work/ctx/data"
for i in $(seq 1 $((SIZE_MB / 25))); do head -c $((25 * 1024 * 1024)) /dev/urandom >"$work/ctx/data/blob$i"; done
printf 'FROM busybox\nCOPY data /data\n' >"$work/ctx/Dockerfile"
"$paas" image bootstrap busybox >/dev/null
"$paas" build -q -t pullbench:1 "$work/ctx" >/dev/null

"$paas" registry serve --auth none --addr 127.0.0.1:0 --root "$work/registry" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.1; done
host=$(sed -n 's#.*listening on http://\([^ ]*\).*#\1#p' "$work/serve.log")
[ -n "$host" ] || { cat "$work/serve.log" >&2; exit 1; }
"$paas" tag pullbench:1 "$host/library/pullbench:1"
"$paas" push -q "$host/library/pullbench:1" >/dev/null

# the client side: nothing local, the mirror in front of "Docker Hub"
export PAAS_ROOT=$work/client PAAS_RUN=$work/client-run PAAS_REGISTRY_MIRRORS=http://$host
hyperfine -N --runs "$RUNS" --export-json "$work/pull.json" \
  -n 'paas run --rm (pull from mirror + run)' \
  --prepare "rm -rf $work/client" "$paas run --rm --network none pullbench:1 true" \
  -n 'paas pull (from mirror)' \
  --prepare "rm -rf $work/client" "$paas pull -q pullbench:1" \
  -n 'skopeo copy docker:// -> oci:' \
  --prepare "rm -rf $work/skopeo" "skopeo copy -q --src-tls-verify=false docker://$host/library/pullbench:1 oci:$work/skopeo:1" \
  -n 'skopeo copy docker:// -> containers-storage: (pull + unpack)' \
  --prepare "sh -c 'if mountpoint -q $work/cs/root/overlay; then umount $work/cs/root/overlay; fi; rm -rf $work/cs'" \
  "skopeo copy -q --src-tls-verify=false docker://$host/library/pullbench:1 containers-storage:[overlay@$work/cs/root+$work/cs/run]pullbench:1" \
  >/dev/null
echo "image: busybox + ${SIZE_MB} MB random layer, mirror http://$host, $RUNS runs each"
echo "| command | median (s) |"
echo "| --- | ---: |"
jq -r '.results[] | "| `\(.command)` | \(.median * 100 | round / 100) |"' "$work/pull.json"
jq -r '"run/skopeo: \(.results[0].median / .results[2].median * 100 | round / 100)x, pull/skopeo: \(.results[1].median / .results[2].median * 100 | round / 100)x, run/skopeo-unpacked: \(.results[0].median / .results[3].median * 100 | round / 100)x"' "$work/pull.json"
