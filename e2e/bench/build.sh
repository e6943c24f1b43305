#!/usr/bin/env bash
# The seed's build scenario, `paas build` next to `podman build --layers`, on the same 6-step
# Dockerfile (FROM busybox; ENV, COPY, RUN, WORKDIR; last step a RUN): a first build (no
# cache), a fully cached rebuild, and a rebuild after changing only the last RUN. The busybox
# image podman uses is ours (`paas save` | `podman load`): nothing comes from a registry.
#
# Also shown: the CLI's start-up (`paas version`) and the build measured inside one process
# (build-bench.ts), so that what the build costs and what starting node costs are apart.
# podman runs with runc (crun refuses hybrid cgroups here) and no network. Cleans up.
#
#   e2e/bench/build.sh            RUNS=20 e2e/bench/build.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v hyperfine >/dev/null || { echo "hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/paas-bench-build.XXXXXX)
podman_cmd=""
cleanup() {
  if [ -n "$podman_cmd" ]; then $podman_cmd system reset -f >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
runs=${RUNS:-10}
export PAAS_ROOT=$work/root PAAS_RUN=$work/run
paas=$PWD/bin/paas

bin/paas image bootstrap busybox >/dev/null

make_context() {
  mkdir -p "$1"
  echo "hello from the context" >"$1/app.txt"
  cat >"$1/Dockerfile" <<'DOCKERFILE'
FROM busybox
ENV APP_HOME=/app GREETING=hello
COPY app.txt /app/app.txt
RUN echo "$GREETING" > /app/greeting.txt
WORKDIR /app
RUN echo first > last.txt
DOCKERFILE
}
# A new last RUN for every run of the last-step scenario (the rest of the file stays).
bump='sed -i "s/^RUN echo .* > last.txt$/RUN echo $(date +%s%N) > last.txt/" '

make_context "$work/ctx-paas"
args=(-N --warmup 1 --export-json "$work/paas.json")
hyperfine "${args[@]}" --runs "$runs" \
  -n 'paas: CLI start-up (paas version)' "$paas version" \
  -n 'paas: first build (--no-cache)' "$paas build -q --no-cache -t bench $work/ctx-paas" \
  -n 'paas: cached rebuild' "$paas build -q -t bench $work/ctx-paas" >/dev/null
hyperfine -N --export-json "$work/paas-last.json" --runs "$runs" --prepare "$bump $work/ctx-paas/Dockerfile" \
  -n 'paas: last RUN changed' "$paas build -q -t bench $work/ctx-paas" >/dev/null
inproc=$(node --import tsx e2e/bench/build-bench.ts "$work/ctx-paas" "$runs")

have_podman=0
if command -v podman >/dev/null; then
  podman_cmd="podman --root $work/podman/root --runroot $work/podman/run --storage-driver overlay --cgroup-manager cgroupfs --events-backend none --runtime /usr/sbin/runc"
  bin/paas save -o "$work/busybox.tar" busybox
  if $podman_cmd load -i "$work/busybox.tar" >/dev/null 2>&1; then
    make_context "$work/ctx-podman"
    pb="$podman_cmd build --layers --network none -q -t bench"
    if $pb "$work/ctx-podman" >/dev/null 2>&1; then
      have_podman=1
      hyperfine -N --warmup 1 --export-json "$work/podman.json" --runs "$runs" \
        -n 'podman: first build (--no-cache)' "$pb --no-cache $work/ctx-podman" \
        -n 'podman: cached rebuild' "$pb $work/ctx-podman" >/dev/null
      hyperfine -N --export-json "$work/podman-last.json" --runs "$runs" \
        --prepare "$bump $work/ctx-podman/Dockerfile" \
        -n 'podman: last RUN changed' "$pb $work/ctx-podman" >/dev/null
    else
      echo "podman build does not work on this host; measuring paas alone" >&2
    fi
  fi
fi

node -e '
  const fs = require("fs");
  const [dir, havePodman, inproc] = process.argv.slice(1);
  const load = (f) => JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8")).results;
  const all = [...load("paas.json"), ...load("paas-last.json")];
  if (havePodman === "1") all.push(...load("podman.json"), ...load("podman-last.json"));
  const ms = (name) => { const r = all.find((x) => x.command === name); return r ? r.median * 1000 : undefined; };
  const startup = ms("paas: CLI start-up (paas version)");
  const inp = JSON.parse(inproc);
  const f = (v) => (v === undefined ? "n/a" : `${v.toFixed(0)} ms`);
  console.log(`CLI start-up (paas version): ${f(startup)} median\n`);
  console.log("| scenario | paas build (CLI) | paas, build alone (in-process) | podman build --layers | paas / podman |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  const rows = [
    ["first build (no cache)", "first build (--no-cache)", undefined],
    ["fully cached rebuild", "cached rebuild", inp.cachedMs],
    ["last RUN changed", "last RUN changed", inp.lastStepMs],
  ];
  for (const [label, key, alone] of rows) {
    const p = ms(`paas: ${key}`);
    const q = ms(`podman: ${key}`);
    console.log(`| ${label} | ${f(p)} | ${f(alone)} | ${f(q)} | ${q ? (p / q).toFixed(2) + "x" : "n/a"} |`);
  }
' "$work" "$have_podman" "$inproc"
