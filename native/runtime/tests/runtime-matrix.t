#!/usr/bin/env bash
# The same busybox bundle under paas-runtime, runc and crun (via crun-hybrid): each case
# must give the same, expected output everywhere. Missing runc/crun => SKIP lines.
. "$(dirname "$0")/runtime-lib.sh"

[ "$(id -u)" = 0 ] || { skip "runtime matrix" "needs root"; exit 0; }
[ -x "$PAAS_RUNTIME" ] || { not_ok "paas-runtime built at $PAAS_RUNTIME"; exit 1; }

TMP=$(mktemp -d /tmp/paas-rt-matrix.XXXXXX)
chmod 755 "$TMP" # a user-namespaced root must reach the rootfs
CG=/paas-test-$$
STARTED_PIDS=()
cleanup() {
  local p
  delete_containers "$TMP"
  for p in "${STARTED_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  cgroup_cleanup "$CG"
  rm -rf "$TMP"
}
trap cleanup EXIT
make_rootfs "$TMP/rootfs"

present_runtimes

N=0
# bundle_for RUNTIME JQ-FILTER ARGS...: a fresh bundle dir in $BUNDLE, sharing the rootfs
# through an absolute root.path (runc refuses a symlinked rootfs).
bundle_for() {
  local r=$1 filter=$2; shift 2
  N=$((N + 1))
  BUNDLE=$TMP/b-$r-$N
  mkdir -p "$BUNDLE"
  CFG_ROOT=$TMP/rootfs CFG_FILTER=${filter:-.} CFG_ALLOW=${ALLOWLIST:-[]} \
    make_config "$CG/$r-$N" "$@" >"$BUNDLE/config.json"
  return 0
}

# run_in RUNTIME JQ-FILTER ARGS...: runs to completion; prints stdout+stderr then "rc=N".
run_in() {
  local r=$1 filter=$2; shift 2
  local b cmd out rc
  bundle_for "$r" "$filter" "$@"; b=$BUNDLE
  cmd=$(runtime_cmd "$r")
  out=$(cd "$b" && timeout 30 $cmd --root "$TMP/root-$r" run "c$N" 2>&1 </dev/null)
  rc=$?
  [ -n "$out" ] && printf '%s\n' "$out"
  printf 'rc=%s\n' "$rc"
}

# same_everywhere DESC EXPECTED JQ-FILTER ARGS...
same_everywhere() {
  local desc=$1 expected=$2 filter=$3; shift 3
  local r got
  for r in "${RUNTIMES[@]}"; do
    run_in "$r" "$filter" "$@" >"$TMP/out"; got=$(cat "$TMP/out")
    if [ "$got" = "$expected" ]; then ok "$r: $desc"
    else not_ok "$r: $desc"; echo "expected: $(echo "$expected" | tr '\n' '|')"; echo "got:      $(echo "$got" | tr '\n' '|')"; fi
  done
}

same_everywhere "pid 1 is the process" $'1\nrc=0' '' sh -c 'echo $$'
same_everywhere "hostname is set" $'paas-test\nrc=0' '' hostname
same_everywhere "host mounts invisible" $'0\nrc=0' '' \
  sh -c 'grep -cE " /(work|run|boot|home|var/lib)[ /]" /proc/self/mountinfo; true'
same_everywhere "host pids invisible" $'1\nrc=0' '' sh -c 'set -- /proc/[0-9]*; echo $#'
same_everywhere "/proc/timer_list masked (reads empty)" $'0\nrc=0' '' sh -c 'wc -c </proc/timer_list'
same_everywhere "/proc/sys read-only" $'ro\nrc=0' '' \
  sh -c 'echo x 2>/dev/null >/proc/sys/kernel/domainname && echo rw || echo ro'
same_everywhere "read-only root" $'ro\nrc=0' '' sh -c 'touch /x 2>/dev/null && echo rw || echo ro'
same_everywhere "writable root when readonly=false" $'rw\nrc=0' '.root.readonly=false' \
  sh -c 'touch /tmp/../x-$$ 2>/dev/null && rm /x-$$ && echo rw || echo ro'
same_everywhere "default caps: mount fails" $'denied\nrc=0' '' \
  sh -c 'mount -t tmpfs none /tmp 2>/dev/null && echo mounted || echo denied'
same_everywhere "default caps: sethostname fails" $'denied\nrc=0' '' \
  sh -c 'hostname other 2>/dev/null && echo set || echo denied'
same_everywhere "rlimit nofile applied" $'1234\nrc=0' \
  '.process.rlimits=[{type:"RLIMIT_NOFILE",soft:1234,hard:2345}]' sh -c 'ulimit -n'
same_everywhere "exit code propagates" $'rc=3' '' sh -c 'exit 3'
same_everywhere "env and cwd" $'/tmp bar\nrc=0' '.process.cwd="/tmp" | .process.env+=["FOO=bar"]' \
  sh -c 'echo $(pwd) $FOO'
same_everywhere "user and groups" $'65534 65534 65534 5\nrc=0' \
  '.process.user={uid:65534,gid:65534,additionalGids:[5]}' sh -c 'echo $(id -u) $(id -g) $(id -G)'
same_everywhere "seccomp: denied mkdir gets errnoRet" \
  $'mkdir: can\'t create directory \'/tmp/d\': Permission denied\nrc=1' \
  '.linux.seccomp={defaultAction:"SCMP_ACT_ALLOW",architectures:["SCMP_ARCH_X86_64"],syscalls:[{names:["mkdir","mkdirat"],action:"SCMP_ACT_ERRNO",errnoRet:13}]}' \
  mkdir /tmp/d
same_everywhere "seccomp: argument filters (EQ, MASKED_EQ)" \
  $'sig0-ok\nsh: can\'t kill pid 1: Operation not permitted\nsh: can\'t kill pid 1: Permission denied\nint-ok\nrc=0' \
  '.linux.seccomp={defaultAction:"SCMP_ACT_ALLOW",syscalls:[{names:["kill"],action:"SCMP_ACT_ERRNO",errnoRet:1,args:[{index:1,value:1,op:"SCMP_CMP_EQ"}]},{names:["kill"],action:"SCMP_ACT_ERRNO",errnoRet:13,args:[{index:1,value:8,valueTwo:8,op:"SCMP_CMP_MASKED_EQ"}]}]}' \
  sh -c 'exec 2>&1; kill -0 $$ && echo sig0-ok; kill -HUP $$; kill -USR2 $$; kill -CONT $$ && echo int-ok'

# A Docker-default-like denylist: busybox sh works, unshare fails with EPERM even with
# CAP_SYS_ADMIN (which would allow it without the filter).
DOCKERISH='.process.capabilities.bounding+=["CAP_SYS_ADMIN"] | .process.capabilities.effective+=["CAP_SYS_ADMIN"] | .process.capabilities.permitted+=["CAP_SYS_ADMIN"] | .linux.seccomp={defaultAction:"SCMP_ACT_ALLOW",architectures:["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],syscalls:[{names:["add_key","keyctl","request_key","unshare","mount","umount2","setns","pivot_root","ptrace","reboot","kexec_load","init_module","finit_module","delete_module","bpf","perf_event_open","userfaultfd","acct","swapon","swapoff","open_by_handle_at","no_such_syscall_42"],action:"SCMP_ACT_ERRNO"}]}'
same_everywhere "docker-like profile: sh works" $'a\nb\nrc=0' "$DOCKERISH" sh -c 'echo a | cat; echo b'
same_everywhere "docker-like profile: unshare EPERM" $'unshare: unshare(0x4000000): Operation not permitted\nrc=1' \
  "$DOCKERISH" unshare -u true
same_everywhere "control: unshare allowed without the filter" $'rc=0' \
  "$(echo "$DOCKERISH" | sed 's/ | .linux.seccomp=.*//')" unshare -u true

# Docker-default style the other way round: defaultAction ERRNO (EPERM) and an allowlist of
# common syscalls (with one unknown name, which must be skipped, not fatal).
ALLOWLIST=$(cat "$RT_HERE/runtime-docker-allowlist.json")
ALLOWED='.linux.seccomp={defaultAction:"SCMP_ACT_ERRNO",defaultErrnoRet:1,architectures:["SCMP_ARCH_X86_64"],syscalls:[{names:$allow,action:"SCMP_ACT_ALLOW"}]}'
same_everywhere "allowlist profile: sh, pipes, ls work; unshare and mount get EPERM" \
  $'a\nls-ok\nunshare: unshare(0x4000000): Operation not permitted\nmount: permission denied (are you root?)\nrc=0' \
  "$ALLOWED" sh -c 'exec 2>&1; echo a | cat; ls / >/dev/null && echo ls-ok; unshare -u true; mount -t tmpfs none /tmp; true'

# Joining a network namespace by path (as the engine hands one over): same netns inode.
HOLDER_NS=""
unshare -n sleep 300 </dev/null >/dev/null 2>&1 &
STARTED_PIDS+=($!)
HOLDER=$!
sleep 0.1
HOLDER_NS=$(readlink /proc/$HOLDER/ns/net)
same_everywhere "network namespace joined by path" "$HOLDER_NS"$'\nrc=0' \
  ".linux.namespaces[1].path=\"/proc/$HOLDER/ns/net\"" readlink /proc/self/ns/net

# User namespace with id mappings.
same_everywhere "user namespace with uid/gid mappings" $'0 0 100000 65536\nrc=0' \
  '.linux.namespaces+=[{type:"user"}] | .linux.uidMappings=[{containerID:0,hostID:100000,size:65536}] | .linux.gidMappings=[{containerID:0,hostID:100000,size:65536}]' \
  sh -c 'echo $(id -u) $(cat /proc/self/uid_map)'
# ... and a network namespace of the host's user namespace given by path (the engine's
# bridge): joined before the user namespace is made. Its sysfs can only be mounted by the
# netns' owner: paas-runtime mounts it before the clone and the container moves it into
# place, so /sys shows the container's interfaces alone (lo here), no host cgroup tree, and
# is read-only. runc refuses that sysfs mount and crun binds the host's /sys; with the
# bind the engine gave them before, /sys/class/net was the host's.
USERNS_NETNS=".linux.namespaces[1].path=\"/proc/$HOLDER/ns/net\" | .linux.namespaces+=[{type:\"user\"}] | .linux.uidMappings=[{containerID:0,hostID:100000,size:65536}] | .linux.gidMappings=[{containerID:0,hostID:100000,size:65536}]"
SYS_VIEW='readlink /proc/self/ns/net; id -u; echo $(ls /sys/class/net); ls -A /sys/fs/cgroup | wc -l
  awk "\$5 == \"/sys\" { sub(/.* - /, \"\"); print \$1, \$2 }" /proc/self/mountinfo
  awk "\$5 == \"/sys\" { print \$6 }" /proc/self/mountinfo'
expected_sys="$HOLDER_NS"$'\n0\nlo\n0\nsysfs sysfs\nro,nosuid,nodev,noexec,relatime\nrc=0'
for r in "${RUNTIMES[@]}"; do
  [ "$r" = paas ] || continue # runc: "operation not permitted" mounting sysfs
  run_in "$r" "$USERNS_NETNS" sh -c "$SYS_VIEW" >"$TMP/out"; got=$(cat "$TMP/out")
  if [ "$got" = "$expected_sys" ]; then ok "$r: user namespace with a network namespace joined by path: its own sysfs"
  else not_ok "$r: user namespace with a network namespace joined by path: its own sysfs"; echo "expected: $(echo "$expected_sys" | tr '\n' '|')"; echo "got:      $(echo "$got" | tr '\n' '|')"; fi
done
# A user namespace sharing the runtime's netns cannot have a sysfs of its own: the host's /sys
# is bound instead (Docker's --userns with --net=host), read-only all the way down (the cgroup
# hierarchies under it included), not just its top mount.
# first option (rw/ro) of every mount at or below /sys, once each; and how many are below it
SYS_REC='awk '"'"'$5 ~ /^\/sys(\/|$)/ { split($6, o, ","); print o[1] }'"'"' /proc/self/mountinfo | sort -u
  awk '"'"'$5 ~ /^\/sys\/fs\/cgroup\// { n++ } END { print (n > 0) ? "submounts" : "none" }'"'"' /proc/self/mountinfo'
for r in "${RUNTIMES[@]}"; do
  [ "$r" = paas ] || continue # runc refuses the sysfs mount; crun binds /sys writable below
  run_in "$r" '.linux.namespaces|=map(select(.type!="network")) | .linux.namespaces+=[{type:"user"}] | .linux.uidMappings=[{containerID:0,hostID:100000,size:65536}] | .linux.gidMappings=[{containerID:0,hostID:100000,size:65536}]' \
    sh -c "$SYS_REC" >"$TMP/out"; got=$(cat "$TMP/out")
  if [ "$got" = $'ro\nsubmounts\nrc=0' ]; then ok "$r: user namespace in the runtime's netns: the host's /sys read-only recursively"
  else not_ok "$r: user namespace in the runtime's netns: the host's /sys read-only recursively"; echo "got: $(echo "$got" | tr '\n' '|')"; fi
done
same_everywhere "user namespace with a network namespace joined by path" \
  "$HOLDER_NS"$'\n0\nrc=0' \
  "$USERNS_NETNS | .mounts|=map(if .destination==\"/sys\" then {destination:\"/sys\",type:\"bind\",source:\"/sys\",options:[\"rbind\",\"nosuid\",\"noexec\",\"nodev\",\"ro\"]} else . end)" \
  sh -c 'readlink /proc/self/ns/net; id -u'

# Bind mounts with options (ro, nosuid) and propagation.
mkdir -p "$TMP/data" && echo hello >"$TMP/data/f"
same_everywhere "bind mount ro,nosuid,rprivate" $'hello\nro\nrc=0' \
  ".mounts+=[{destination:\"/data\",type:\"bind\",source:\"$TMP/data\",options:[\"rbind\",\"ro\",\"nosuid\",\"nodev\",\"rprivate\"]}]" \
  sh -c 'cat /data/f; touch /data/g 2>/dev/null && echo rw || echo ro'

same_everywhere "pids.limit stops a fork bomb" $'sh: can\'t fork: Resource temporarily unavailable\nrc=2' \
  '.linux.resources.pids={limit:8}' sh -c 'i=0; while [ $i -lt 20 ]; do sleep 3 & i=$((i+1)); done; echo unlimited'

same_everywhere "non-root user: ambient capabilities survive exec" \
  $'CapInh:\t0000000000000400\nCapPrm:\t0000000000000400\nCapEff:\t0000000000000400\nCapBnd:\t0000000000000420\nCapAmb:\t0000000000000400\nrc=0' \
  '.process.user={uid:1000,gid:1000} | .process.capabilities={bounding:["CAP_NET_BIND_SERVICE","CAP_KILL"],effective:["CAP_NET_BIND_SERVICE"],permitted:["CAP_NET_BIND_SERVICE"],inheritable:["CAP_NET_BIND_SERVICE"],ambient:["CAP_NET_BIND_SERVICE"]}' \
  sh -c 'grep ^Cap /proc/self/status'
same_everywhere "non-root user without ambient: no capabilities after exec" $'CapEff:\t0000000000000000\nrc=0' \
  '.process.user={uid:1000,gid:1000} | .process.capabilities.effective=["CAP_NET_BIND_SERVICE"] | .process.capabilities.permitted=["CAP_NET_BIND_SERVICE"] | .process.capabilities.ambient=[]' \
  sh -c 'grep CapEff /proc/self/status'
same_everywhere "oomScoreAdj applied" $'500\nrc=0' '.process.oomScoreAdj=500' cat /proc/self/oom_score_adj
same_everywhere "sysctl applied (in the container netns)" $'1\nrc=0' \
  '.linux.sysctl={"net.ipv4.ip_forward":"1"}' cat /proc/sys/net/ipv4/ip_forward
same_everywhere "umask from process.user" $'0027\nrc=0' '.process.user.umask=23' sh -c umask
same_everywhere "linux.devices created" $'a:e5 666\nrc=0' \
  '.linux.devices=[{path:"/dev/fuse",type:"c",major:10,minor:229,fileMode:438,uid:0,gid:0}]' \
  stat -c '%t:%T %a' /dev/fuse
same_everywhere "seccomp without noNewPrivileges" $'mkdir: can\'t create directory \'/tmp/d\': Operation not permitted\nrc=1' \
  '.process.noNewPrivileges=false | .linux.seccomp={defaultAction:"SCMP_ACT_ALLOW",syscalls:[{names:["mkdir","mkdirat"],action:"SCMP_ACT_ERRNO"}]}' \
  mkdir /tmp/d
same_everywhere "rootfsPropagation rslave, no /dev in mounts (runtime default /dev)" $'null zero\nrc=0' \
  '.linux.rootfsPropagation="rslave" | .mounts=[.mounts[] | select(.destination | startswith("/dev") | not)]' \
  sh -c 'echo $(ls /dev | grep -E "^(null|zero)$")'

# linux.rootfsPropagation, read from the container's /proc/self/mountinfo (the optional tag
# of "/", its peer group number dropped). The rootfs sits on a shared tmpfs, in a private
# mount namespace of the test's own (gone with it): pivot_root refuses a shared parent, and
# no mount the container makes may propagate back (leaked= counts those left under it).
PROBE_ROOT='awk '"'"'$5=="/" {t=$7; sub(/:.*/, "", t); print t == "-" ? "private" : t}'"'"' /proc/self/mountinfo'
prop_run() {
  local r=$1 prop=$2 cmd
  cmd=$(runtime_cmd "$r")
  mkdir -p "$TMP/prop"
  bundle_for "$r" ".linux.rootfsPropagation=\"$prop\" | .root.path=\"$TMP/prop/rootfs\"" sh -c "$PROBE_ROOT"
  unshare -m --propagation private bash -c '
    mount -t tmpfs tmpfs "$1" && mount --make-shared "$1" && cp -a "$2" "$1/rootfs" || exit 99
    out=$(cd "$3" && timeout 30 "${@:6}" --root "$4" run "$5" 2>&1 </dev/null); rc=$?
    [ -n "$out" ] && printf "%s\n" "$out"
    echo "leaked=$(awk -v p="$1/" '"'"'index($5, p) == 1'"'"' /proc/self/mountinfo | wc -l) rc=$rc"' \
    _ "$TMP/prop" "$TMP/rootfs" "$BUNDLE" "$TMP/root-$r" "prop$N" $cmd
}
RUNC_VERSION=$([ -n "$RUNC_BIN" ] && "$RUNC_BIN" --version | awk 'NR==1 {print $3}')
runc_before() { [ "$(printf '%s\n%s\n' "$1" "${RUNC_VERSION%%[+-]*}" | sort -V | head -1)" != "$1" ]; }
for case in "shared shared" "slave master" "rslave master" "private private" "unbindable unbindable"; do
  set -- $case
  for r in "${RUNTIMES[@]}"; do
    desc="$r: rootfsPropagation $1 (\"/\" is $2 inside, nothing propagates out)"
    if [ "$r" = runc ] && { [ "$1" = shared ] || [ "$1" = unbindable ]; } && runc_before 1.3.0; then
      skip "$desc" "runc $RUNC_VERSION applies it to the host's root only (opencontainers/runc#4724)"; continue
    fi
    if [ "$r" = runc ] && [ "$1" = slave ]; then
      skip "$desc" "runc makes a shared parent of the rootfs private first: its root ends up private"; continue
    fi
    if [ "$r" = crun ] && [ "${1#r}" = slave ]; then
      skip "$desc" "crun-hybrid runs crun in a mount namespace of its own, all private"; continue
    fi
    got=$(prop_run "$r" "$1")
    if [ "$got" = "$2"$'\nleaked=0 rc=0' ]; then ok "$desc"; else not_ok "$desc"; echo "got: $(echo "$got" | tr '\n' '|')"; fi
  done
done

# Configs without a mount namespace (runc runs them): the container shares the caller's mount
# namespace, chrooted into its rootfs (no pivot_root), the config's mounts made there. All in a
# private mount namespace of the test's own: runc leaves its mounts behind (and makes `/` a
# slave), which must not reach the host.
NO_MNTNS='.linux.namespaces=[.linux.namespaces[] | select(.type != "mount")] | del(.linux.maskedPaths) | del(.linux.readonlyPaths)'
nomnt_run() {
  local r=$1 cmd; shift
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" "$NO_MNTNS" "$@"
  unshare -m --propagation private bash -c '
    out=$(cd "$1" && timeout 30 "${@:4}" --root "$2" run "$3" 2>&1 </dev/null); rc=$?
    [ -n "$out" ] && printf "%s\n" "$out"
    echo "rc=$rc"' _ "$BUNDLE" "$TMP/root-$r" "nomnt$N" $cmd
}
for r in "${RUNTIMES[@]}"; do
  got=$(nomnt_run "$r" sh -c "echo \$\$; hostname; [ -e '$TMP' ] && echo host-root || echo chrooted; stat -f -c %T /proc /tmp /dev")
  want=$'1\npaas-test\nchrooted\nproc\ntmpfs\ntmpfs\nrc=0'
  if [ "$got" = "$want" ]; then ok "$r: no mount namespace: chroot into the rootfs, its mounts made"
  else not_ok "$r: no mount namespace: chroot into the rootfs, its mounts made"; echo "got: $(echo "$got" | tr '\n' '|')"; fi
done
# paas-runtime also removes those mounts again: at delete (after create/start/exec), and when
# `run` ends; the container's mount namespace is the caller's.
nomnt_lifecycle() {
  bundle_for paas "$NO_MNTNS" sleep 30
  unshare -m --propagation private bash -c '
    rt=$1 root=$2 b=$3 rootfs=$4
    under() { awk -v p="$rootfs" '"'"'$5 == p || index($5, p "/") == 1'"'"' /proc/self/mountinfo | wc -l; }
    (cd "$b" && "$rt" --root "$root" create nm </dev/null >/dev/null 2>&1) || { echo "create failed"; exit 1; }
    pid=$("$rt" --root "$root" state nm | jq -r .pid)
    [ "$(readlink /proc/$pid/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ] || { echo "mount namespace not inherited"; exit 1; }
    [ "$(readlink /proc/$pid/root)" = "$rootfs" ] || { echo "root $(readlink /proc/$pid/root)"; exit 1; }
    [ "$(under)" -gt 3 ] || { echo "mounts under the rootfs: $(under)"; exit 1; }
    "$rt" --root "$root" start nm || exit 1
    ex=$("$rt" --root "$root" exec nm sh -c "hostname; [ -e /proc/1 ] && [ ! -e \"$root\" ] && echo chrooted" 2>&1)
    [ "$ex" = $'"'"'paas-test\nchrooted'"'"' ] || { echo "exec: $ex"; exit 1; }
    "$rt" --root "$root" delete --force nm || exit 1
    [ "$(under)" = 0 ] || { echo "left after delete: $(under)"; exit 1; }
    jq ".process.args=[\"true\"]" "$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
    (cd "$b" && "$rt" --root "$root" run nm2 </dev/null) || { echo "run failed"; exit 1; }
    [ "$(under)" = 0 ] || { echo "left after run: $(under)"; exit 1; }
  ' _ "$PAAS_RUNTIME" "$TMP/root-paas" "$BUNDLE" "$TMP/rootfs"
}
check "paas: no mount namespace: create/state/exec/delete and run, mounts removed after" nomnt_lifecycle

# The caller's extra descriptors do not leak into the container (fd 7 here); with
# --preserve-fds 1, fd 3 is passed on.
fds() {
  local r=$1 cmd out probe='for f in 3 7; do [ -e /proc/self/fd/$f ] && echo "open $f"; done; echo end'
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" '' sh -c "$probe"
  out=$(cd "$BUNDLE" && $cmd --root "$TMP/root-$r" run "fd$N" 3</dev/null 7</dev/null 2>&1 </dev/null)
  [ "$out" = "end" ] || { echo "leaked: $out"; return 1; }
  bundle_for "$r" '' sh -c "$probe"
  out=$(cd "$BUNDLE" && $cmd --root "$TMP/root-$r" run --preserve-fds 1 "fd$N" 3</dev/null 7</dev/null 2>&1 </dev/null)
  [ "$out" = $'open 3\nend' ] || { echo "preserve-fds: $out"; return 1; }
}
for r in "${RUNTIMES[@]}"; do check "$r: caller's fds closed, --preserve-fds passes them" fds "$r"; done

# Memory limit -> OOM kill (SIGKILL => 137) everywhere. The shell grows a string itself, with
# no child process: with `$(head | tr)` the OOM killer may pick a child first, and the shell
# then prints "Killed" before it is killed too (seen once with crun).
OOM='.linux.resources.memory={limit:33554432}'
same_everywhere "memory limit: OOM kill exits 137" $'rc=137' "$OOM" \
  sh -c 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done; echo survived'

# ... and, for a created/started container, the cgroup keeps the OOM record until delete
# (memory.oom_control "oom_kill N"); paas-runtime also reports it in `state` (annotation
# paas.oom_kill) and names the file in state.json (memoryEventsPath): the monitor contract.
oom_record() {
  local r=$1 cmd b id=oom$$ st n=0 ctl
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" "$OOM" sh -c 'x=$(head -c 200000000 /dev/zero | tr "\0" a)'; b=$BUNDLE
  ctl=/sys/fs/cgroup/memory$CG/$r-$N/memory.oom_control
  (cd "$b" && $cmd --root "$TMP/root-$r" create "$id" </dev/null >/dev/null 2>&1) || return 1
  $cmd --root "$TMP/root-$r" start "$id" || return 1
  while [ $n -lt 200 ]; do
    st=$($cmd --root "$TMP/root-$r" state "$id" | jq -r .status)
    [ "$st" = stopped ] && break
    sleep 0.05; n=$((n + 1))
  done
  [ "$st" = stopped ] || { echo "still $st"; return 1; }
  grep -q '^oom_kill [1-9]' "$ctl" || { echo "no oom_kill in $ctl"; return 1; }
  if [ "$r" = paas ]; then
    local kills
    kills=$($cmd --root "$TMP/root-$r" state "$id" | jq -r '.annotations["paas.oom_kill"]')
    [ "$kills" -ge 1 ] || { echo "annotation paas.oom_kill=$kills"; return 1; }
    [ "$(jq -r .memoryEventsPath "$TMP/root-$r/$id/state.json")" = "$ctl" ] || { echo "memoryEventsPath"; return 1; }
  fi
  $cmd --root "$TMP/root-$r" delete "$id" || return 1
  [ ! -e "$ctl" ]
}
for r in "${RUNTIMES[@]}"; do
  check "$r: OOM kill recorded in the cgroup until delete" oom_record "$r"
done

# CPU weight and quota on cgroup v1: shares go to cpu.shares as given (the v2 conversion to
# cpu.weight is in runtime-cgroup-v2.t), quota and period to the CFS files, the same everywhere.
cpu_v1() {
  local r=$1 cmd b id=cpu$$ dir fail=0
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" '.linux.resources.cpu={shares:512,quota:20000,period:50000}' sleep 30; b=$BUNDLE
  dir=/sys/fs/cgroup/cpu$CG/$r-$N
  (cd "$b" && $cmd --root "$TMP/root-$r" create "$id" </dev/null >/dev/null 2>&1) || return 1
  [ "$(cat "$dir/cpu.shares")" = 512 ] || { echo "cpu.shares $(cat "$dir/cpu.shares")"; fail=1; }
  [ "$(cat "$dir/cpu.cfs_quota_us")" = 20000 ] || { echo "cfs_quota_us $(cat "$dir/cpu.cfs_quota_us")"; fail=1; }
  [ "$(cat "$dir/cpu.cfs_period_us")" = 50000 ] || { echo "cfs_period_us $(cat "$dir/cpu.cfs_period_us")"; fail=1; }
  $cmd --root "$TMP/root-$r" delete --force "$id" || fail=1
  [ ! -e "$dir" ] || { echo "$dir left"; fail=1; }
  return $fail
}
if [ "$(stat -f -c %T /sys/fs/cgroup/cpu 2>/dev/null)" = cgroupfs ]; then
  for r in "${RUNTIMES[@]}"; do check "$r: cgroup v1 cpu.shares, cfs quota and period" cpu_v1 "$r"; done
else
  skip "cgroup v1 cpu.shares" "no cgroup v1 cpu controller"
fi

# Memory swappiness and disableOOMKiller on cgroup v1: written to memory.swappiness and
# memory.oom_control (the host default, 60 and 0, would read back otherwise). A swappiness
# above 100 (the spec's range) is refused and leaves no container behind, as runc does; crun
# hands it to the kernel, which takes up to 200 since Linux 5.8.
memory_v1() {
  local r=$1 cmd b id dir sw fail=0
  cmd=$(runtime_cmd "$r")
  for sw in 10 50 100; do
    id=mem$$-$sw
    bundle_for "$r" ".linux.resources.memory={swappiness:$sw,disableOOMKiller:$([ $sw = 10 ] && echo true || echo false)}" sleep 30; b=$BUNDLE
    dir=/sys/fs/cgroup/memory$CG/$r-$N
    (cd "$b" && $cmd --root "$TMP/root-$r" create "$id" </dev/null >/dev/null 2>&1) || { echo "create $sw failed"; return 1; }
    [ "$(cat "$dir/memory.swappiness")" = "$sw" ] || { echo "swappiness $(cat "$dir/memory.swappiness") want $sw"; fail=1; }
    if [ "$sw" = 10 ]; then
      grep -qx 'oom_kill_disable 1' "$dir/memory.oom_control" || { echo "oom_control: $(head -1 "$dir/memory.oom_control")"; fail=1; }
    else
      grep -qx 'oom_kill_disable 0' "$dir/memory.oom_control" || { echo "oom_control (false): $(head -1 "$dir/memory.oom_control")"; fail=1; }
    fi
    $cmd --root "$TMP/root-$r" delete --force "$id" || fail=1
  done
  return $fail
}
swappiness_refused() {
  local r=$1 cmd b id=memx$$
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" '.linux.resources.memory={swappiness:101}' true; b=$BUNDLE
  if (cd "$b" && $cmd --root "$TMP/root-$r" create "$id" </dev/null >/dev/null 2>&1); then
    echo "accepted swappiness 101"; $cmd --root "$TMP/root-$r" delete --force "$id"; return 1
  fi
  ! $cmd --root "$TMP/root-$r" state "$id" >/dev/null 2>&1 && [ -z "$(cgroup_dirs "$CG/$r-$N")" ]
}
if [ "$(stat -f -c %T /sys/fs/cgroup/memory 2>/dev/null)" = cgroupfs ]; then
  for r in "${RUNTIMES[@]}"; do
    check "$r: cgroup v1 memory.swappiness 10/50/100 and disableOOMKiller" memory_v1 "$r"
    if [ "$r" = crun ]; then skip "crun: swappiness 101 refused" "crun passes it to the kernel"
    else check "$r: swappiness 101 refused, nothing left" swappiness_refused "$r"; fi
  done
else
  skip "cgroup v1 memory.swappiness" "no cgroup v1 memory controller"
fi

# Lifecycle: create/start/state/exec/kill/delete, and kill by signal propagates.
lifecycle() {
  local r=$1 cmd b id=life$$ st
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" '' sh -c 'echo marker-$$ >/tmp/m; echo to-stdout; echo to-stderr >&2; exec sleep 100'; b=$BUNDLE
  # create's stdio is the container's: a monitor holding these pipes/files gets the output.
  (cd "$b" && $cmd --root "$TMP/root-$r" create "$id" </dev/null >"$TMP/out-$r" 2>"$TMP/err-$r") || { echo "create failed"; return 1; }
  st=$($cmd --root "$TMP/root-$r" state "$id" | jq -r .status)
  [ "$st" = created ] || { echo "after create: $st"; return 1; }
  local pid; pid=$($cmd --root "$TMP/root-$r" state "$id" | jq -r .pid)
  [ "$(jq -r .id <($cmd --root "$TMP/root-$r" state "$id"))" = "$id" ] || return 1
  [ "$(jq -r .bundle <($cmd --root "$TMP/root-$r" state "$id"))" = "$b" ] || { echo bundle; return 1; }
  $cmd --root "$TMP/root-$r" start "$id" || return 1
  st=$($cmd --root "$TMP/root-$r" state "$id" | jq -r .status)
  [ "$st" = running ] || { echo "after start: $st"; return 1; }
  local ex
  for _ in $(seq 50); do # pid 1 writes the marker right after start
    ex=$($cmd --root "$TMP/root-$r" exec "$id" sh -c 'hostname; cat /tmp/m 2>/dev/null; echo $$' 2>&1)
    [ "$ex" != "${ex/marker-1/}" ] && break
    sleep 0.05
  done
  [ "$ex" != "${ex/paas-test/}" ] && [ "$ex" != "${ex/marker-1/}" ] || { echo "exec: $ex"; return 1; }
  [ "$(cat "$TMP/out-$r")" = to-stdout ] && [ "$(cat "$TMP/err-$r")" = to-stderr ] || { echo "stdio: $(cat "$TMP/out-$r" "$TMP/err-$r")"; return 1; }
  $cmd --root "$TMP/root-$r" exec "$id" sh -c 'exit 5'; [ $? = 5 ] || { echo "exec rc"; return 1; }
  jq -n '{args:["sh","-c","echo via-process $FOO $(id -u)"],cwd:"/tmp",env:["PATH=/bin","FOO=bar"],user:{uid:65534,gid:65534}}' >"$b/process.json"
  ex=$($cmd --root "$TMP/root-$r" exec --process "$b/process.json" "$id" 2>&1)
  [ "$ex" = "via-process bar 65534" ] || { echo "exec --process: $ex"; return 1; }
  $cmd --root "$TMP/root-$r" list | grep -q "$id" || { echo "list"; return 1; }
  $cmd --root "$TMP/root-$r" delete "$id" 2>/dev/null && { echo "deleted a running container"; return 1; }
  $cmd --root "$TMP/root-$r" kill --all "$id" KILL || return 1
  for _ in $(seq 100); do
    st=$($cmd --root "$TMP/root-$r" state "$id" | jq -r .status); [ "$st" = stopped ] && break; sleep 0.05
  done
  [ "$st" = stopped ] || { echo "after kill: $st"; return 1; }
  # Gone, or a zombie waiting for whoever adopted it (the state says stopped either way).
  [ ! -e /proc/$pid/stat ] || [ "$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)" != S ] || { echo "pid alive"; return 1; }
  $cmd --root "$TMP/root-$r" delete "$id" || return 1
  ! $cmd --root "$TMP/root-$r" state "$id" >/dev/null 2>&1
}
for r in "${RUNTIMES[@]}"; do check "$r: create/start/state/exec/kill/delete lifecycle" lifecycle "$r"; done

# Between create and start: status created with the init's pid, and that pid's namespaces are
# readable, usable (nsenter) and new for those asked for. The caller runs create in a process
# group of its own and then SIGKILLs that group (as a harness or `timeout` may): the container
# has a session of its own and survives it (it was seen stopped with pid 0 otherwise).
created_ns() {
  local r=$1 cmd b id=ns$$ st pid ns fail=0
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" '' sleep 30; b=$BUNDLE
  # (In a subshell: bash would report the killed job on our stderr.)
  (setsid -w bash -c 'cd "$1" && "${@:4}" --root "$2" create --pid-file "$1/pid" "$3" </dev/null >/dev/null 2>&1; kill -KILL 0' \
    _ "$b" "$TMP/root-$r" "$id" $cmd; true) 2>/dev/null
  st=$($cmd --root "$TMP/root-$r" state "$id") || { echo "no state"; return 1; }
  pid=$(jq -r .pid <<<"$st")
  [ "$(jq -r .status <<<"$st")" = created ] && [ "$pid" -gt 0 ] && [ "$pid" = "$(cat "$b/pid")" ] \
    || { echo "after create: $(jq -c '[.status,.pid]' <<<"$st") pid-file $(cat "$b/pid")"; fail=1; }
  for ns in pid net ipc uts mnt; do
    [ "$(readlink "/proc/$pid/ns/$ns")" != "$(readlink /proc/self/ns/$ns)" ] && [ -n "$(readlink "/proc/$pid/ns/$ns")" ] \
      || { echo "ns $ns: '$(readlink "/proc/$pid/ns/$ns")'"; fail=1; }
  done
  [ "$(readlink "/proc/$pid/ns/user")" = "$(readlink /proc/self/ns/user)" ] || { echo "user ns not asked for"; fail=1; }
  [ "$(nsenter --uts="/proc/$pid/ns/uts" hostname)" = paas-test ] || { echo "nsenter uts"; fail=1; }
  $cmd --root "$TMP/root-$r" start "$id" || fail=1
  [ "$($cmd --root "$TMP/root-$r" state "$id" | jq -r .status)" = running ] || { echo "not running after start"; fail=1; }
  $cmd --root "$TMP/root-$r" delete --force "$id" || fail=1
  return $fail
}
for r in "${RUNTIMES[@]}"; do
  check "$r: created container: state pid, namespaces readable, survives its caller's group" created_ns "$r"
done

# The same for a process started by `exec --detach`: it has a session of its own and survives
# the SIGKILL of its caller's process group.
exec_detached_group() {
  local r=$1 cmd b id=xg$$ pid sid group fail=0
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" '' sleep 30; b=$BUNDLE
  (cd "$b" && $cmd --root "$TMP/root-$r" run --detach "$id" </dev/null >/dev/null 2>&1) || { echo "run -d failed"; return 1; }
  (setsid -w bash -c 'echo $$ >"$1/group"; "${@:4}" --root "$2" exec --detach --pid-file "$1/xpid" "$3" sleep 30 </dev/null >/dev/null 2>&1; kill -KILL 0' \
    _ "$b" "$TMP/root-$r" "$id" $cmd; true) 2>/dev/null
  pid=$(cat "$b/xpid"); group=$(cat "$b/group")
  sid=$(awk '{print $6}' "/proc/$pid/stat" 2>/dev/null)
  [ -n "$sid" ] && [ "$sid" != "$group" ] && kill -0 "$pid" 2>/dev/null || { echo "exec'd process: sid '$sid' (caller's group $group)"; fail=1; }
  $cmd --root "$TMP/root-$r" delete --force "$id" || fail=1
  return $fail
}
for r in "${RUNTIMES[@]}"; do
  check "$r: exec --detach process survives its caller's group" exec_detached_group "$r"
done

# run in the background, killed from outside: 137 for KILL, 143 for a TERM the app handles.
killed_run() {
  local r=$1 sig=$2 want=$3 b cmd id=k$$-$2 rc
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" '' sh -c 'trap "exit 143" TERM; sleep 100 & wait'; b=$BUNDLE
  (cd "$b" && exec $cmd --root "$TMP/root-$r" run "$id" </dev/null >/dev/null 2>&1) &
  local bg=$!
  STARTED_PIDS+=("$bg")
  # Running, and its init has forked `sleep` (so the TERM trap is set).
  local pid=""
  for _ in $(seq 200); do
    pid=$($cmd --root "$TMP/root-$r" state "$id" 2>/dev/null | jq -r 'select(.status=="running") | .pid')
    [ -n "$pid" ] && [ -n "$(cat /proc/$pid/task/$pid/children 2>/dev/null)" ] && break
    sleep 0.05
  done
  $cmd --root "$TMP/root-$r" kill "$id" "$sig"
  wait "$bg"; rc=$?
  [ "$rc" = "$want" ] || { echo "rc=$rc want $want"; return 1; }
  [ ! -d "$TMP/root-$r/$id" ]
}
for r in "${RUNTIMES[@]}"; do
  check "$r: run killed by KILL exits 137 and cleans up" killed_run "$r" KILL 137
  check "$r: run killed by TERM (handled) exits 143" killed_run "$r" TERM 143
done

# run --detach returns once the process runs; state works; delete --force stops and cleans.
detached() {
  local r=$1 cmd b id=d$$ st
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" '' sleep 100; b=$BUNDLE
  (cd "$b" && timeout 10 $cmd --root "$TMP/root-$r" run --detach "$id" </dev/null >/dev/null 2>&1) || { echo "run -d failed"; return 1; }
  st=$($cmd --root "$TMP/root-$r" state "$id" | jq -r .status)
  [ "$st" = running ] || { echo "status $st"; return 1; }
  $cmd --root "$TMP/root-$r" delete --force "$id" || return 1
  ! $cmd --root "$TMP/root-$r" state "$id" >/dev/null 2>&1 && [ -z "$(cgroup_dirs "$CG/$r-$N")" ]
}
for r in "${RUNTIMES[@]}"; do check "$r: run --detach, then delete --force" detached "$r"; done

# No leftovers: every cgroup and state dir of the runs is gone.
leftovers() {
  local d
  for d in $(cgroup_dirs "$CG"); do
    [ -z "$(find "$d" -mindepth 1 -type d)" ] || { echo "left: $(find "$d" -mindepth 1 -type d | head -3)"; return 1; }
  done
  [ -z "$(ls "$TMP/root-paas" 2>/dev/null)" ]
}
check "paas: no cgroup or state dir left after runs" leftovers

exit $((T_FAILS > 0))
