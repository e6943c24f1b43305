#!/usr/bin/env bash
# Registry throughput over loopback: push and pull of a ~200 MB one-layer image (random data,
# so gzip cannot shrink it) with `paas push/pull`, side by side with skopeo against the same
# `paas registry serve` (skopeo copy oci-archive -> docker:// and docker:// -> oci:).
# skopeo's push includes reading the oci-archive tar; paas pushes from its content store.
#   SIZE_MB=200 e2e/bench/registry.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v skopeo >/dev/null || { echo "skopeo is missing (apt-get install skopeo)" >&2; exit 1; }
SIZE_MB=${SIZE_MB:-200}
base=$(mktemp -d /tmp/paas-bench-registry.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$base"
}
trap cleanup EXIT
export PAAS_ROOT=$base/root PAAS_RUN=$base/run
mkdir -p "$base/data"
for i in $(seq 1 $((SIZE_MB / 50))); do head -c $((50 * 1024 * 1024)) /dev/urandom >"$base/data/blob$i"; done
bin/paas image import "$base/data" bench/big:1 >/dev/null
bin/paas save bench/big:1 -o "$base/big.tar"

# an open registry on loopback, asked for explicitly: skopeo copies without logging in
bin/paas registry serve --auth none --addr 127.0.0.1:0 --root "$base/registry" >"$base/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$base/serve.log" && break; sleep 0.1; done
host=$(sed -n 's#.*listening on http://\([^ ]*\).*#\1#p' "$base/serve.log")
[ -n "$host" ] || { cat "$base/serve.log" >&2; exit 1; }

bytes=$(stat -c %s "$base/big.tar")
now() { date +%s.%N; }
rate() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.1f", b / 1048576 / t }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

bin/paas tag bench/big:1 "$host/bench/paas:1"
t0=$(now); bin/paas push -q "$host/bench/paas:1" >/dev/null; t1=$(now)
paas_push=$(secs "$t0" "$t1")
t0=$(now); PAAS_ROOT=$base/root2 PAAS_RUN=$base/run2 bin/paas pull -q "$host/bench/paas:1" >/dev/null; t1=$(now)
paas_pull=$(secs "$t0" "$t1")

t0=$(now)
skopeo copy -q --preserve-digests --dest-tls-verify=false "oci-archive:$base/big.tar:1" "docker://$host/bench/skopeo:1"
t1=$(now)
skopeo_push=$(secs "$t0" "$t1")
t0=$(now); skopeo copy -q --src-tls-verify=false "docker://$host/bench/skopeo:1" "oci:$base/skopeo-out:1"; t1=$(now)
skopeo_pull=$(secs "$t0" "$t1")

echo "image: $((bytes / 1048576)) MB (archive size), registry http://$host"
echo "| operation | paas | skopeo | paas/skopeo |"
echo "| --- | ---: | ---: | ---: |"
for op in push pull; do
  p=paas_$op; s=skopeo_$op
  echo "| $op | $(rate "${!p}") MB/s (${!p} s) | $(rate "${!s}") MB/s (${!s} s) | $(awk -v a="${!s}" -v b="${!p}" 'BEGIN { printf "%.2fx", a / b }') |"
done
