#!/usr/bin/env bash
# Layer pack and unpack throughput, side by side in one run on the same ~200 MB tree
# (system libraries: many small files; plus random data: incompressible big files):
#   unpack  @paas/layers extractLayer  vs  GNU `tar -xzf`  vs  `umoci raw unpack`
#   pack    @paas/layers tarDirectory  vs  GNU `tar -czf` (gzip -6, its default) and gzip -1
# Prints a markdown table of medians (hyperfine, RUNS runs each, page cache warm).
# Throughput is MB of uncompressed tar per second; times include process start-up
# (node + tsx for ours, about 0.3 s). Needs root (umoci unpack, ownership) and hyperfine.
# BENCH_DIR (default /var/tmp) holds the tree and the outputs; /dev/shm takes the disk out.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in hyperfine tar gzip; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install $tool)" >&2; exit 1; }
done
have_umoci=0
command -v umoci >/dev/null && have_umoci=1
runs=${RUNS:-3}
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/paas-bench-layers.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/src
mkdir -p "$src/sys" "$src/random"

echo "# making the tree in $work" >&2
# Up to ~130 MB of real files (libraries, share data) and their symlinks.
find /usr/lib /usr/share -xdev \( -type f -size -4M -o -type l \) -print0 2>/dev/null |
  head -z -n 30000 | tar --null -T - -cf - 2>/dev/null | head -c 130M | tar -xf - -C "$src/sys" 2>/dev/null || true
# 60 MB of incompressible big files and 10 MB of small ones.
for i in 1 2 3; do head -c 20M /dev/urandom >"$src/random/big$i"; done
mkdir -p "$src/random/small"
for i in $(seq 1 1250); do head -c 8K /dev/urandom >"$src/random/small/f$i"; done

bench() { node --import tsx e2e/bench/layers-bench.ts "$@"; }
bench pack "$src" "$work/ours.tar.gz" >"$work/pack.json"
tar_bytes=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).tarBytes)' "$work/pack.json")
files=$(find "$src" | wc -l)
echo "# tree: $files files, $((tar_bytes / 1000000)) MB of tar" >&2

cmds=(
  "unpack ours|node --import tsx e2e/bench/layers-bench.ts unpack $work/ours.tar.gz $work/dest"
  "unpack tar|tar -xzf $work/ours.tar.gz -C $work/dest"
)
if [ $have_umoci -eq 1 ]; then
  # umoci needs an OCI layout; add-layer takes the uncompressed tar and gzips it itself.
  gzip -dc "$work/ours.tar.gz" >"$work/layer.tar"
  umoci init --layout "$work/oci" >/dev/null
  umoci new --image "$work/oci:bench" >/dev/null
  umoci raw add-layer --image "$work/oci:bench" "$work/layer.tar" >/dev/null
  rm -f "$work/layer.tar"
  cmds+=("unpack umoci|umoci raw unpack --image $work/oci:bench $work/dest")
fi
cmds+=(
  "pack ours (gzip -1)|node --import tsx e2e/bench/layers-bench.ts pack $src $work/out.tar.gz"
  "pack tar (gzip -1)|tar -I 'gzip -1' -cf $work/out.tar.gz -C $src ."
  "pack tar (gzip -6)|tar -czf $work/out.tar.gz -C $src ."
)

args=()
for c in "${cmds[@]}"; do args+=(-n "${c%%|*}" "${c#*|}"); done
hyperfine -N --runs "$runs" --prepare "sh -c 'rm -rf $work/dest $work/out.tar.gz && mkdir $work/dest && sync'" \
  --export-json "$work/results.json" "${args[@]}" >&2

node -e '
  const [file, bytes, ours, theirs] = process.argv.slice(1);
  const r = JSON.parse(require("fs").readFileSync(file, "utf8")).results;
  const mb = Number(bytes) / 1e6;
  const size = (f) => { try { return require("fs").statSync(f).size; } catch { return 0; } };
  console.log(`| command | median (s) | MB/s of tar |`);
  console.log(`| --- | ---: | ---: |`);
  for (const x of r) console.log(`| ${x.command} | ${x.median.toFixed(2)} | ${(mb / x.median).toFixed(0)} |`);
  console.log(`\n${mb.toFixed(0)} MB of tar; our gzip -1 layer: ${(size(ours) / 1e6).toFixed(0)} MB`);
' "$work/results.json" "$tar_bytes" "$work/ours.tar.gz"
