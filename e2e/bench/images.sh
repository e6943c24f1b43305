#!/usr/bin/env bash
# Base-image bootstrap time: `paas image bootstrap busybox` and `... node` into a fresh
# PAAS_ROOT each run (hyperfine), next to what the same bytes cost to pack with GNU tar and
# gzip (the floor for making a gzip layer of the same files). Cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v hyperfine >/dev/null || { echo "hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/paas-bench-images.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=$work/results.json
export PAAS_RUN=$work/run
runs=${RUNS:-5}

# The node layer's files, to time tar+gzip on the same bytes.
mkdir -p "$work/nodefs/usr/local/bin" "$work/nodefs/usr/local/lib/node_modules"
cp /usr/bin/node "$work/nodefs/usr/local/bin/"
cp -a /usr/lib/node_modules/npm "$work/nodefs/usr/local/lib/node_modules/" 2>/dev/null || true

hyperfine -N --runs "$runs" --export-json "$out" \
  --prepare "rm -rf $work/root" \
  -n 'paas image bootstrap busybox' "env PAAS_ROOT=$work/root bin/paas image bootstrap busybox" \
  -n 'paas image bootstrap busybox node' "env PAAS_ROOT=$work/root bin/paas image bootstrap busybox node" \
  -n 'tar -czf (node layer files)' "tar -czf $work/node.tgz -C $work/nodefs ." >/dev/null

node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
  console.log("| what | median (s) |");
  console.log("| --- | ---: |");
  for (const x of r) console.log(`| ${x.command} | ${x.median.toFixed(2)} |`);
' "$out"
