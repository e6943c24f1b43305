# Shared helpers for tests/shim-*.t (sourced, not run). Everything a test creates lives under
# one temporary directory and one cgroup parent, and is removed by the EXIT trap even when a
# test fails half-way: shims stopped (only the pids found in our own state dirs), containers
# deleted through their runtime, cgroups removed, directories removed.
#
#   shim_setup                      -> $T (temp dir), $ROOTFS, $SHIM, $CG_PARENT, trap
#   shim_runtimes                   -> lines "name path" of the runtimes to test, or SKIP lines
#   make_bundle RT NAME ARGS_JSON [JQ_FILTER]   -> prints the bundle dir
#   start_shim RT NAME [SHIM_OPTS...]           -> $SHIM_OUT, $SHIM_RC; state in $(state_dir RT NAME)
#   ok / not_ok / check COND DESC / skip DESC REASON
#   wait_until SECS COMMAND...      -> 0 when COMMAND succeeded within SECS

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SHIM=${PAAS_SHIM:-$here/../build/paas-shim}
CRUN_HYBRID=${PAAS_CRUN_HYBRID:-/work/shared/tools/crun-hybrid}

FAILED=0
ok() { echo "ok - $*"; }
not_ok() {
  echo "not ok - $*"
  FAILED=$((FAILED + 1))
}
skip() { echo "ok - $1 # SKIP $2"; }
check() { # check "description" command...
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

wait_until() {
  local secs=$1
  shift
  local end=$((SECONDS + secs))
  while ! "$@"; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.05
  done
  return 0
}

# Runtime command line by name (crun through the hybrid-cgroup wrapper on this host).
runtime_path() {
  case $1 in
    paas-runtime) echo "$here/../build/paas-runtime" ;;
    runc) command -v runc ;;
    crun) if [ -x "$CRUN_HYBRID" ]; then echo "$CRUN_HYBRID"; else command -v crun; fi ;;
  esac
}

# Prints "name path" for each runtime to test and a SKIP line for each missing one.
# PAAS_SHIM_RUNTIMES="runc crun" restricts the list.
shim_runtimes() {
  local rt path
  for rt in ${PAAS_SHIM_RUNTIMES:-paas-runtime runc crun}; do
    path=$(runtime_path "$rt")
    if [ -n "$path" ] && [ -x "$path" ]; then
      echo "$rt $path"
    fi
  done
}

skip_missing_runtimes() {
  local rt path
  for rt in ${PAAS_SHIM_RUNTIMES:-paas-runtime runc crun}; do
    path=$(runtime_path "$rt")
    if [ -z "$path" ] || [ ! -x "$path" ]; then
      skip "[$rt] $(basename "$0")" "runtime $rt not available"
    fi
  done
}

shim_setup() {
  if [ "$(id -u)" != 0 ]; then
    skip "$(basename "$0")" "needs root"
    exit 0
  fi
  for tool in jq /bin/busybox; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      skip "$(basename "$0")" "needs $tool"
      exit 0
    fi
  done
  if [ ! -x "$SHIM" ]; then
    not_ok "$(basename "$0"): $SHIM not built (make build/paas-shim)"
    exit 0
  fi
  T=$(mktemp -d /tmp/paas-shim-test.XXXXXX)
  CG_PARENT=paas-shim-test-$$
  ROOTFS=$T/rootfs
  STARTED_IDS=()
  trap shim_cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$ROOTFS"/{bin,proc,dev,sys,tmp,etc,run}
  cp /bin/busybox "$ROOTFS/bin/busybox"
  local c
  for c in sh echo printf sleep tail cat true false kill head tr seq yes wc env; do
    ln -s busybox "$ROOTFS/bin/$c"
  done
  echo "root:x:0:0:root:/:/bin/sh" >"$ROOTFS/etc/passwd"
}

# A minimal OCI config every runtime here understands. ARGS_JSON: '["sh","-c","..."]'.
make_bundle() {
  local rt=$1 name=$2 args=$3 filter=${4:-.}
  local dir=$T/bundles/$rt-$name
  mkdir -p "$dir"
  jq -n --arg root "$ROOTFS" --argjson args "$args" --arg cg "/$CG_PARENT/$rt-$name" '{
    ociVersion: "1.0.2",
    process: {
      terminal: false, user: {uid: 0, gid: 0}, args: $args, cwd: "/",
      env: ["PATH=/bin", "HOME=/"],
      capabilities: {
        bounding: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
        effective: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
        permitted: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
      },
      rlimits: [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}],
      noNewPrivileges: true
    },
    root: {path: $root, readonly: true},
    hostname: "shimtest",
    mounts: [
      {destination: "/proc", type: "proc", source: "proc"},
      {destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
      {destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
      {destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
      {destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]},
      {destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"]}
    ],
    linux: {
      cgroupsPath: $cg,
      namespaces: [{type: "pid"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}, {type: "network"}],
      resources: {devices: [{allow: false, access: "rwm"}]},
      maskedPaths: ["/proc/kcore", "/proc/keys", "/proc/timer_list"],
      readonlyPaths: ["/proc/sys", "/proc/sysrq-trigger"]
    }
  }' | jq "$filter" >"$dir/config.json"
  echo "$dir"
}

state_dir() { echo "$T/state/$1-$2"; }
ctr_id() { echo "shimtest-$$-$1-$2"; }

# start_shim RT NAME [opts...]: bundle must exist. Sets SHIM_OUT (stdout+stderr) and SHIM_RC.
start_shim() {
  local rt=$1 name=$2
  shift 2
  local path
  path=$(runtime_path "$rt")
  STARTED_IDS+=("$rt $name")
  SHIM_OUT=$(timeout 30 "$SHIM" --runtime "$path" --runtime-root "$T/rt-$rt" \
    --bundle "$T/bundles/$rt-$name" --id "$(ctr_id "$rt" "$name")" \
    --state-dir "$(state_dir "$rt" "$name")" --runtime-timeout 20 "$@" 2>&1)
  SHIM_RC=$?
}

# Pid of the shim of RT NAME if it is alive and really our shim (pid files can go stale).
shim_pid() {
  local dir
  dir=$(state_dir "$1" "$2")
  local pid
  pid=$(cat "$dir/shim.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--state-dir $dir " || return 1
  echo "$pid"
}

shim_gone() { ! shim_pid "$1" "$2" >/dev/null; }

jfield() { jq -r "$2" "$1" 2>/dev/null; } # jfield FILE FILTER
status_is() { [ "$(jfield "$(state_dir "$1" "$2")/status.json" .status)" = "$3" ]; }

shim_cleanup() {
  local entry rt name pid path dir i
  [ -n "${T:-}" ] && [ -d "$T" ] || return 0
  for entry in "${STARTED_IDS[@]}"; do
    read -r rt name <<<"$entry"
    if pid=$(shim_pid "$rt" "$name"); then
      kill -TERM "$pid" 2>/dev/null
      for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  for entry in "${STARTED_IDS[@]}"; do
    read -r rt name <<<"$entry"
    path=$(runtime_path "$rt")
    [ -n "$path" ] && "$path" --root "$T/rt-$rt" delete --force "$(ctr_id "$rt" "$name")" >/dev/null 2>&1
  done
  for dir in /sys/fs/cgroup/*/"$CG_PARENT" /sys/fs/cgroup/"$CG_PARENT"; do
    [ -d "$dir" ] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  rm -rf "$T"
}

# Nothing of ours left: no shim alive, runtime knows no container, no cgroup below our parent.
leftovers() {
  local rt=$1 entry r name path n=0
  path=$(runtime_path "$rt")
  for entry in "${STARTED_IDS[@]}"; do
    read -r r name <<<"$entry"
    [ "$r" = "$rt" ] || continue
    if shim_pid "$r" "$name" >/dev/null; then echo "shim of $name alive"; n=$((n + 1)); fi
    if "$path" --root "$T/rt-$rt" state "$(ctr_id "$r" "$name")" >/dev/null 2>&1; then
      echo "container $name still known to $rt"
      n=$((n + 1))
    fi
  done
  local d
  for d in /sys/fs/cgroup/*/"$CG_PARENT"/"$rt"-*; do
    [ -d "$d" ] && { echo "cgroup $d left"; n=$((n + 1)); }
  done
  [ $n -eq 0 ]
}

# After a failure: the state files of every container of runtime RT, as diagnostics.
diag_runtime() {
  local rt=$1 entry r name dir f
  for entry in "${STARTED_IDS[@]}"; do
    read -r r name <<<"$entry"
    [ "$r" = "$rt" ] || continue
    dir=$(state_dir "$r" "$name")
    for f in status.json exit.json shim.log; do
      [ -f "$dir/$f" ] && sed "s|^|# $name/$f: |" "$dir/$f" | tail -n 5
    done
  done
}

# Call at the start of each runtime's iteration; dumps diagnostics at the next call/exit if
# that iteration failed.
diag_mark() {
  if [ -n "${DIAG_RT:-}" ] && [ "$FAILED" != "$DIAG_FAILED" ]; then diag_runtime "$DIAG_RT"; fi
  DIAG_RT=${1:-}
  DIAG_FAILED=$FAILED
}
