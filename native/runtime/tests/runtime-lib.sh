# Helpers sourced by tests/runtime-*.t (bash). Every test gets its own temp dir, state roots
# and cgroup names, and cleans them up on exit (even on failure).
set -uo pipefail

RT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PAAS_RUNTIME=${PAAS_RUNTIME:-$RT_HERE/../build/paas-runtime}
CRUN_HYBRID=${CRUN_HYBRID:-/work/shared/tools/crun-hybrid}
RUNC_BIN=$(command -v runc || true)
[ -x /usr/sbin/runc ] && RUNC_BIN=/usr/sbin/runc
CRUN_BIN=$(command -v crun || true)

T_FAILS=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; T_FAILS=$((T_FAILS + 1)); }
skip() { echo "ok - $1 # SKIP $2"; }
# check DESC CMD...: ok when CMD succeeds
check() { local _check_desc=$1; shift; if "$@"; then ok "$_check_desc"; else not_ok "$_check_desc"; fi; }

# A busybox rootfs: /bin/busybox plus one symlink per applet.
make_rootfs() {
  local r=$1
  mkdir -p "$r"/{bin,proc,sys,dev,tmp,etc,root,sbin,usr/bin,var}
  cp /bin/busybox "$r/bin/busybox"
  # One perl process instead of ~400 ln: tests build several rootfs.
  "$r/bin/busybox" --list | perl -ne 'chomp; symlink "busybox", "'"$r"'/bin/$_" unless -e "'"$r"'/bin/$_"'
  echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
  echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>"$r/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$r/etc/group"
  chmod 1777 "$r/tmp"
}

# make_config CGROUP_PATH ARGS...: the `crun spec` default, terminal off, with args and
# cgroupsPath, written to stdout. One jq process: $CFG_FILTER (a jq filter, may use
# $allow = $CFG_ALLOW JSON) is applied on top, and $CFG_ROOT (if set) becomes root.path.
# json_strings ARGS...: a JSON array of the arguments (jq would take "-c" as its own option).
json_strings() {
  local out="" a sep=""
  for a in "$@"; do
    a=${a//\\/\\\\}; a=${a//\"/\\\"}; a=${a//$'\n'/\\n}; a=${a//$'\t'/\\t}
    out+="$sep\"$a\""; sep=,
  done
  printf '[%s]' "$out"
}

make_config() {
  local cg=$1; shift
  jq -n --arg cg "$cg" --arg root "${CFG_ROOT:-rootfs}" --argjson allow "${CFG_ALLOW:-[]}" \
    --argjson args "$(json_strings "$@")" '{
    ociVersion: "1.0.0",
    process: {
      terminal: false, user: {uid: 0, gid: 0}, args: $args,
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: {
        bounding: ["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
        effective: ["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
        inheritable: [],
        permitted: ["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
        ambient: ["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]
      },
      rlimits: [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}],
      noNewPrivileges: true
    },
    root: {path: $root, readonly: true},
    hostname: "paas-test",
    mounts: [
      {destination: "/proc", type: "proc", source: "proc"},
      {destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid","strictatime","mode=755","size=65536k"]},
      {destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
      {destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid","noexec","nodev","mode=1777","size=65536k"]},
      {destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid","noexec","nodev"]},
      {destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid","noexec","nodev","ro"]},
      {destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid","noexec","nodev","relatime","ro"]},
      {destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid","nodev","mode=1777"]}
    ],
    linux: {
      cgroupsPath: $cg,
      resources: {devices: [{allow: false, access: "rwm"}]},
      namespaces: [{type: "pid"}, {type: "network"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}],
      maskedPaths: ["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats",
        "/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],
      readonlyPaths: ["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]
    }
  } | '"${CFG_FILTER:-.}"
}

# jq_edit FILE FILTER [jq args...]: edits a JSON file in place.
jq_edit() {
  local f=$1 filter=$2; shift 2
  local tmp
  tmp=$(mktemp)
  jq "$@" "$filter" "$f" >"$tmp" && mv "$tmp" "$f"
}

# procs_with TEXT: pids whose command line contains TEXT (a leaked container init keeps the
# runtime's argv, which names its --root).
procs_with() {
  # The pattern comes from a file so that grep's own command line does not match.
  grep -l -s -a -F -f <(printf '%s\n' "$1") /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3
}

# Removes every cgroup directory named by PATH (relative to the hierarchies), deepest first.
cgroup_cleanup() {
  local p=$1 d
  for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do
    [ -d "$d${p#/}" ] || continue
    find "$d${p#/}" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
}

# Lists every existing cgroup dir for PATH (empty output = none).
cgroup_dirs() {
  local p=$1 d
  for d in /sys/fs/cgroup/*/; do
    [ -d "$d${p#/}" ] && echo "$d${p#/}"
  done
  return 0
}

# runtime_cmd NAME: the command line for one runtime of the matrix ("" if missing).
runtime_cmd() {
  case $1 in
    paas) echo "$PAAS_RUNTIME" ;;
    runc) [ -n "$RUNC_BIN" ] && echo "$RUNC_BIN" ;;
    crun) [ -n "$CRUN_BIN" ] && [ -x "$CRUN_HYBRID" ] && echo "$CRUN_HYBRID" ;;
  esac
  return 0
}

# delete_containers DIR: force-deletes every container each runtime of the matrix keeps under
# DIR/root-NAME (the side-by-side tests' cleanup).
delete_containers() {
  local r id cmd
  for r in paas runc crun; do
    cmd=$(runtime_cmd $r)
    [ -n "$cmd" ] || continue
    for id in $(ls "$1/root-$r" 2>/dev/null); do
      $cmd --root "$1/root-$r" delete --force "$id" >/dev/null 2>&1
    done
  done
}

# present_runtimes: RUNTIMES=(the matrix's runtimes installed here); a SKIP line for each missing.
present_runtimes() {
  local r
  RUNTIMES=()
  for r in paas runc crun; do
    if [ -n "$(runtime_cmd $r)" ]; then RUNTIMES+=("$r"); else skip "$r present" "$r not installed"; fi
  done
}
