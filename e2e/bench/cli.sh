#!/usr/bin/env bash
# CLI start-up: `bin/paas version` (one esbuild bundle) beside bare `node -e 0` (the floor
# for any Node CLI) and the Docker client's `docker --version` (a Go binary), in one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v hyperfine >/dev/null || { echo "hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cmds=('bin/paas version' 'node -e 0')
command -v docker >/dev/null && cmds+=('docker --version')
hyperfine -N --warmup 5 --runs "${RUNS:-30}" --export-json "$out" "${cmds[@]}" >/dev/null
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
  const base = r.find((x) => x.command === "node -e 0").median;
  console.log("| command | median (ms) | vs node -e 0 |");
  console.log("| --- | ---: | ---: |");
  for (const x of r) console.log(`| \`${x.command}\` | ${(x.median * 1000).toFixed(1)} | ${(x.median / base).toFixed(2)}x |`);
' "$out"
