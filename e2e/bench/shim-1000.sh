#!/usr/bin/env bash
# Starts N (default 1000) `sleep 3600` busybox containers, each under its own paas-shim, then
# stops and removes them all and verifies that nothing remains.
#
#   e2e/bench/shim-1000.sh [N]
#   PAAS_RUNTIME=/usr/bin/runc e2e/bench/shim-1000.sh 50
#
# Env: PAAS_RUNTIME  runtime binary (default: native/runtime/build/paas-runtime if a smoke test
#                    passes with it, else runc)
#      PARALLEL      concurrent starts/stops (default 2 x cores)
#      PAAS_SHIM     shim binary (default: native/runtime/build/paas-shim, built if missing)
#
# All containers share one read-only rootfs; each has its own bundle dir (config.json whose
# root.path points at the shared rootfs) and state dir. Everything lives under one temp dir and
# one cgroup parent (paas-shim-bench-<pid>), removed on exit even after a failure. Only pids
# read from our own state dirs are ever signalled. Runs as root.
set -euo pipefail

N=${1:-1000}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
SHIM=${PAAS_SHIM:-$repo/native/runtime/build/paas-shim}
PARALLEL=${PARALLEL:-$(($(nproc) * 2))}

die() { echo "shim-1000: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -gt 0 ] || die "N must be a positive integer"
command -v jq >/dev/null || die "needs jq"
[ -x /bin/busybox ] || die "needs /bin/busybox (busybox-static)"
[ -x "$SHIM" ] || make -s -C "$repo/native/runtime" build/paas-shim >&2 || die "cannot build paas-shim"

# Each container costs two pids (shim + sleep) while running and a few more while starting.
pid_max=$(cat /proc/sys/kernel/pid_max)
threads_max=$(cat /proc/sys/kernel/threads-max)
in_use=$(cut -d" " -f4 /proc/loadavg | cut -d/ -f2) # threads in use, all processes
need=$((2 * N + 50 * PARALLEL))
if [ $((in_use + need)) -gt "$pid_max" ] || [ $((in_use + need)) -gt "$threads_max" ]; then
  die "need ~$need more pids: pid_max=$pid_max threads-max=$threads_max in use=$in_use"
fi

W=$(mktemp -d /tmp/paas-shim-bench.XXXXXX)
CG=paas-shim-bench-$$
ROOTFS=$W/rootfs
RTROOT=$W/runtime-root

ids() { seq -f "b$$-%g" 1 "$N"; }

# Pid of a container's shim, only if /proc says it is our shim for that state dir.
shim_pid_of() {
  local dir=$W/state/$1 pid
  pid=$(cat "$dir/shim.pid" 2>/dev/null) || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--state-dir $dir " || return 1
  echo "$pid"
}

cleanup() {
  local id pid
  set +e
  if [ -d "$W/state" ]; then
    for id in $(ids); do
      pid=$(shim_pid_of "$id") && kill -KILL "$pid" 2>/dev/null
    done
    for id in $(ids); do
      [ -d "$W/state/$id" ] && "$RUNTIME" --root "$RTROOT" delete --force "$id" >/dev/null 2>&1
    done
  fi
  for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  rm -rf "$W"
}
RUNTIME=${PAAS_RUNTIME:-}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$ROOTFS"/{bin,proc,dev,sys,tmp,etc} "$W/bundles" "$W/state"
cp /bin/busybox "$ROOTFS/bin/busybox"
for c in sh sleep true; do ln -s busybox "$ROOTFS/bin/$c"; done

write_bundle() { # write_bundle ID ARGS_JSON
  mkdir -p "$W/bundles/$1"
  jq -n --arg root "$ROOTFS" --arg cg "/$CG/$1" --argjson args "$2" '{
    ociVersion: "1.0.2",
    process: {terminal: false, user: {uid: 0, gid: 0}, args: $args, cwd: "/", env: ["PATH=/bin"],
      capabilities: {bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"]},
      noNewPrivileges: true},
    root: {path: $root, readonly: true},
    hostname: "bench",
    mounts: [
      {destination: "/proc", type: "proc", source: "proc"},
      {destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755", "size=1024k"]}
    ],
    linux: {cgroupsPath: $cg,
      namespaces: [{type: "pid"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}, {type: "network"}],
      resources: {devices: [{allow: false, access: "rwm"}]}}
  }' >"$W/bundles/$1/config.json"
}

start_one() { # start_one ID
  "$SHIM" --runtime "$RUNTIME" --runtime-root "$RTROOT" --bundle "$W/bundles/$1" --id "$1" \
    --state-dir "$W/state/$1" --stop-signal KILL --stop-timeout 5 >/dev/null
}

# Runtime: explicit, or paas-runtime if it can run a container under the shim, else runc.
if [ -z "$RUNTIME" ]; then
  candidate=$repo/native/runtime/build/paas-runtime
  RUNTIME=$(command -v runc || true)
  if [ -x "$candidate" ]; then
    write_bundle smoke-$$ '["true"]'
    save=$RUNTIME
    RUNTIME=$candidate
    if start_one smoke-$$ 2>"$W/smoke.err" \
      && for _ in $(seq 100); do [ -e "$W/state/smoke-$$/exit.json" ] && break; sleep 0.05; done \
      && [ "$(jq -r .exitCode "$W/state/smoke-$$/exit.json" 2>/dev/null)" = 0 ]; then
      :
    else
      echo "paas-runtime failed the smoke test ($(head -c 300 "$W/smoke.err")); using runc" >&2
      RUNTIME=$save
    fi
    "$candidate" --root "$RTROOT" delete --force smoke-$$ >/dev/null 2>&1 || true
    rm -rf "$W/state/smoke-$$" "$W/bundles/smoke-$$"
  fi
fi
[ -n "$RUNTIME" ] && [ -x "$RUNTIME" ] || die "no runtime (set PAAS_RUNTIME)"
export -f start_one
export SHIM RUNTIME RTROOT W

echo "runtime:   $RUNTIME"
echo "shim:      $SHIM ($(stat -c %s "$SHIM") bytes)"
echo "N=$N parallel=$PARALLEL pid_max=$pid_max threads-max=$threads_max"

write_bundle @ID@ '["sleep","3600"]'
template=$(<"$W/bundles/@ID@/config.json")
for id in $(ids); do
  mkdir -p "$W/bundles/$id"
  printf '%s\n' "${template//@ID@/$id}" >"$W/bundles/$id/config.json"
done
rm -rf "$W/bundles/@ID@"
mem_avail() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
sync
avail_before=$(mem_avail)

# --- start ---------------------------------------------------------------------------------
t0=$(date +%s%N)
if ! ids | xargs -P "$PARALLEL" -I{} bash -c 'start_one "$1"' _ {}; then
  echo "some containers failed to start" >&2
fi
t1=$(date +%s%N)
start_ms=$(((t1 - t0) / 1000000))

# --- measure -------------------------------------------------------------------------------
# Bash builtins only in this loop: forking tools 1000 times would take longer than the start.
kb_field() { # kb_field FILE KEY -> value in kB (0 if missing)
  local k v _
  while read -r k v _; do [ "$k" = "$2" ] && { echo "$v"; return; }; done <"$1" 2>/dev/null
  echo 0
}
running=0 shim_rss=0 shim_pss=0 ctr_rss=0 leftovers=0
for id in $(ids); do
  dir=$W/state/$id
  read -r pid <"$dir/shim.pid" 2>/dev/null || continue
  read -r cmd <"/proc/$pid/cmdline" 2>/dev/null || true
  [ -n "${cmd:-}" ] || continue
  cpid=0
  read -r cpid <"$dir/container.pid" 2>/dev/null || true # no trailing newline: status 1, value set
  read -r st <"$dir/status.json" 2>/dev/null || st=
  [[ $st == '{"status":"running"'* ]] && running=$((running + 1))
  shim_rss=$((shim_rss + $(kb_field "/proc/$pid/status" VmRSS:)))
  shim_pss=$((shim_pss + $(kb_field "/proc/$pid/smaps_rollup" Pss:)))
  [ "$cpid" -gt 0 ] && ctr_rss=$((ctr_rss + $(kb_field "/proc/$cpid/status" VmRSS:)))
  # Anything else the runtime left behind is a child of the shim (the shim is its subreaper).
  children=()
  read -r -a children <"/proc/$pid/task/$pid/children" 2>/dev/null || true
  for child in "${children[@]}"; do
    [ "$child" = "$cpid" ] || leftovers=$((leftovers + 1))
  done
done
avail_after=$(mem_avail)

echo
echo "started:   $running/$N running in $(awk -v ms=$start_ms 'BEGIN{printf "%.1f", ms/1000}') s" \
  "($(awk -v ms=$start_ms -v n=$N 'BEGIN{printf "%.1f ms/container, %.1f containers/s", ms/n, n*1000/ms}'))"
if [ "$running" -gt 0 ]; then
  echo "per container:"
  echo "  shim VmRSS          $((shim_rss / running)) kB (PSS $((shim_pss / running)) kB: the static binary's pages are shared)"
  echo "  container init RSS  $((ctr_rss / running)) kB (busybox sleep)"
  echo "  runtime leftovers   $leftovers processes in total"
  echo "  MemAvailable drop   $(((avail_before - avail_after) / running)) kB (shim + container + kernel: cgroups, namespaces)"
fi

# --- stop and remove -----------------------------------------------------------------------
stop_one() {
  local dir=$W/state/$1 pid
  pid=$(cat "$dir/shim.pid" 2>/dev/null) || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--state-dir $dir " || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  # Done when the shim is gone or a zombie (empty cmdline) waiting for whoever adopted it.
  for _ in $(seq 400); do [ -s "/proc/$pid/cmdline" ] || return 0; sleep 0.02; done
  echo "shim of $1 did not stop" >&2
}
export -f stop_one
t2=$(date +%s%N)
ids | xargs -P "$((PARALLEL * 4))" -I{} bash -c 'stop_one "$1"' _ {}
t3=$(date +%s%N)
stop_ms=$(((t3 - t2) / 1000000))
bad_exit=0
for id in $(ids); do
  [ "$(jq -r '"\(.status) \(.stoppedByUser)"' "$W/state/$id/exit.json" 2>/dev/null)" = "exited true" ] \
    || bad_exit=$((bad_exit + 1))
done
echo "stopped:   $N in $(awk -v ms=$stop_ms 'BEGIN{printf "%.1f", ms/1000}') s (runtime delete included); exit.json missing/wrong: $bad_exit"

# --- verify nothing remains ----------------------------------------------------------------
shims=0
for id in $(ids); do shim_pid_of "$id" >/dev/null && shims=$((shims + 1)); done
shims_ps=$(pgrep -fc -- "--state-dir $W/state/" || true)
known=$("$RUNTIME" --root "$RTROOT" list -q 2>/dev/null | grep -c . || true)
cgroups=0
for d in /sys/fs/cgroup/*/"$CG"; do
  [ -d "$d" ] && cgroups=$((cgroups + $(find "$d" -mindepth 1 -type d | wc -l)))
done
rm -rf "$W/state"
state_left=$([ -e "$W/state" ] && echo 1 || echo 0)
echo "remaining: shims $shims (ps: $shims_ps), runtime containers $known, cgroups $cgroups, state dirs $state_left"
echo "total:     $(((t3 - t0) / 1000000)) ms from the first start to the last stop; script ${SECONDS} s"
if [ "$shims" = 0 ] && [ "$shims_ps" = 0 ] && [ "$known" = 0 ] && [ "$cgroups" = 0 ] \
  && [ "$state_left" = 0 ] && [ "$running" = "$N" ] && [ "$bad_exit" = 0 ]; then
  echo "result:    OK"
else
  echo "result:    FAILED"
  exit 1
fi
