#!/usr/bin/env bash
# Malformed or hostile config.json: paas-runtime must fail with ONE line on stderr naming the
# field, exit non-zero, and leave nothing behind: no mount (no new mount point in our private
# mount namespace), no cgroup dir, no state dir, no process.
. "$(dirname "$0")/runtime-lib.sh"

[ "$(id -u)" = 0 ] || { skip "bad configs" "needs root"; exit 0; }
[ -x "$PAAS_RUNTIME" ] || { not_ok "paas-runtime built at $PAAS_RUNTIME"; exit 1; }

# A private mount namespace: any mount the runtime leaked would show up in our mountinfo,
# and mounts made by other tests running meanwhile do not.
if [ -z "${PAAS_BADCONFIG_INNER:-}" ]; then
  PAAS_BADCONFIG_INNER=1 exec unshare -m --propagation private "$0" "$@"
fi

TMP=$(mktemp -d /tmp/paas-rt-bad.XXXXXX)
CG=/paas-test-$$
ROOT=$TMP/root
trap 'cgroup_cleanup "$CG"; rm -rf "$TMP"' EXIT
make_rootfs "$TMP/rootfs"
B=$TMP/bundle
mkdir -p "$B"
ln -s ../rootfs "$B/rootfs"

N=0
# bad DESC EXPECTED-SUBSTRING (JQ-FILTER | @raw:TEXT) [verb]
# The runtime runs under "${WRAP[@]}" (a command prefix, empty by default) and must also
# write the error to its --log.
WRAP=()
bad() {
  local desc=$1 want=$2 edit=$3 verb=${4:-create}
  N=$((N + 1))
  local id=bad$N before after err rc
  if [ "$edit" = "@none" ]; then
    rm -f "$B/config.json"
  elif [ "${edit#@raw:}" != "$edit" ]; then
    printf '%s' "${edit#@raw:}" >"$B/config.json"
  else
    make_config "$CG/$id" sh -c 'exit 0' >"$B/config.json"
    jq_edit "$B/config.json" "$edit"
  fi
  before=$(cat /proc/self/mountinfo | awk '{print $5}' | sort)
  rm -f "$TMP/log"
  # stderr goes to a file: a container wrongly left running would hold a pipe open.
  (cd "$B" && timeout 20 "${WRAP[@]}" "$PAAS_RUNTIME" --root "$ROOT" --log "$TMP/log" "$verb" "$id" \
    >/dev/null 2>"$TMP/stderr" </dev/null)
  rc=$?
  err=$(cat "$TMP/stderr")
  after=$(cat /proc/self/mountinfo | awk '{print $5}' | sort)
  local lines problems=""
  lines=$(printf '%s\n' "$err" | grep -c .)
  [ "$rc" -ne 0 ] || problems+=" exit status 0;"
  [ "$lines" -eq 1 ] || problems+=" $lines lines on stderr;"
  [ "${err#paas-runtime: }" != "$err" ] || problems+=" no 'paas-runtime:' prefix;"
  case "$err" in *"$want"*) ;; *) problems+=" message lacks '$want';" ;; esac
  grep -qF -- "$want" "$TMP/log" 2>/dev/null || problems+=" --log lacks '$want';"
  # New mount points only: other tests deleting their own mount point directories make
  # mounts vanish from every namespace, ours included.
  local added
  added=$(comm -13 <(echo "$before") <(echo "$after"))
  [ -z "$added" ] || problems+=" new mounts: $(echo "$added" | head -3 | tr '\n' ' ');"
  [ -z "$(cgroup_dirs "$CG/$id")" ] || problems+=" cgroup left: $(cgroup_dirs "$CG/$id" | head -1);"
  [ -z "$(ls -A "$ROOT" 2>/dev/null)" ] || problems+=" state left: $(ls -A "$ROOT");"
  [ -z "$(procs_with "--root $ROOT")" ] || problems+=" process left: $(procs_with "--root $ROOT");"
  if [ -z "$problems" ]; then ok "$desc"; else not_ok "$desc:$problems"; echo "stderr: $err"; fi
  # A runtime that wrongly succeeded leaves a container waiting for `start`: remove it.
  [ "$rc" -ne 0 ] || "$PAAS_RUNTIME" --root "$ROOT" delete --force "$id" >/dev/null 2>&1
}

bad "invalid JSON reports line:column" "line 3 column" $'@raw:{\n  "ociVersion": "1.0.0",\n  "process": }\n'
bad "not a JSON object" "expected a JSON object" '@raw:[1,2]'
bad "missing config.json" "open \`config.json\`: No such file or directory" '@none'
bad "missing ociVersion" "\`ociVersion\`: missing" 'del(.ociVersion)'
bad "missing process" "\`process\`: missing" 'del(.process)'
bad "missing root" "\`root\`: missing" 'del(.root)'
bad "process.args not an array" "\`process.args\`: expected an array" '.process.args="sh -c true"'
bad "process.args[1] not a string" "\`process.args[1]\`: expected a string" '.process.args=["sh",1]'
bad "process.args empty" "\`process.args\`: must not be empty" '.process.args=[]'
bad "root.path escaping the bundle" "\`root.path\`: \`../../etc\` escapes the bundle" '.root.path="../../etc"'
bad "root.path sneaking out" "escapes the bundle" '.root.path="rootfs/../../x"'
bad "unknown namespace" "\`linux.namespaces[2].type\`: unknown namespace \`foo\`" '.linux.namespaces[2].type="foo"'
bad "namespaces not an array" "\`linux.namespaces\`: expected an array" '.linux.namespaces={type:"pid"}'
bad "duplicate namespace" "duplicate namespace" '.linux.namespaces+=[{type:"pid"}]'
bad "memory limit of the wrong type" "\`linux.resources.memory.limit\`: expected an integer" '.linux.resources.memory={limit:"32M"}'
bad "negative memory limit" "\`linux.resources.memory.limit\`: must be -1" '.linux.resources.memory={limit:-5}'
bad "swappiness above 100" "\`linux.resources.memory.swappiness\`: 101 out of range (0 to 100)" \
  '.linux.resources.memory={swappiness:101}'
bad "disableOOMKiller not a boolean" "\`linux.resources.memory.disableOOMKiller\`: expected a boolean" \
  '.linux.resources.memory={disableOOMKiller:1}'
bad "cpu shares of the wrong type" "\`linux.resources.cpu.shares\`: expected an integer" '.linux.resources.cpu={shares:"x"}'
bad "unknown rlimit" "\`process.rlimits[0].type\`: unknown rlimit" '.process.rlimits=[{type:"RLIMIT_FOO",soft:1,hard:1}]'
bad "uid of the wrong type" "\`process.user.uid\`: expected an integer" '.process.user.uid="root"'
bad "unknown seccomp action" "\`linux.seccomp.syscalls[0].action\`: unknown seccomp action" \
  '.linux.seccomp={defaultAction:"SCMP_ACT_ALLOW",syscalls:[{names:["mkdir"],action:"SCMP_ACT_BOOM"}]}'
bad "unknown seccomp architecture" "unknown architecture \`SCMP_ARCH_PDP11\`" \
  '.linux.seccomp={defaultAction:"SCMP_ACT_ALLOW",architectures:["SCMP_ARCH_PDP11"]}'
bad "mount destination relative" "\`mounts[0].destination\`: must be an absolute path" '.mounts[0].destination="proc"'
bad "sysctl key escaping /proc/sys" "\`linux.sysctl\`: invalid key \`kernel/../../self/x\`" '.linux.sysctl={"kernel/../../self/x":"1"}'
bad "masked path not absolute" "\`linux.maskedPaths\`" '.linux.maskedPaths+=["proc/kcore"]'
bad "devices: unknown type" "\`linux.devices[0].type\`: unknown device type" '.linux.devices=[{path:"/dev/x",type:"z",major:1,minor:1}]'
bad "uidMappings without user namespace data" "needs uidMappings" '.linux.namespaces+=[{type:"user"}]'
bad "hostname without uts namespace" "\`hostname\`" 'del(.linux.namespaces[3])'
bad "terminal=true without --console-socket" "a terminal needs \`--console-socket PATH\`" '.process.terminal=true'
bad "consoleSize not an object" "\`process.consoleSize\`: expected an object" '.process.consoleSize="24x80"'
bad "consoleSize without width" "\`process.consoleSize.width\`: missing" '.process.consoleSize={height:24}'
bad "consoleSize height negative" "\`process.consoleSize.height\`: -1 out of range" '.process.consoleSize={height:-1,width:80}'
bad "consoleSize width of the wrong type" "\`process.consoleSize.width\`: expected an integer" '.process.consoleSize={height:24,width:"80"}'
bad "systemd-style cgroupsPath" "\`linux.cgroupsPath\`" '.linux.cgroupsPath="system.slice:paas:x"'
bad "cgroupsPath with .." "\`linux.cgroupsPath\`" '.linux.cgroupsPath="/a/../../b"'
bad "namespace path missing" "open network namespace \`/nonexistent/ns\`" '.linux.namespaces[1].path="/nonexistent/ns"'
bad "unknown rootfsPropagation" "\`linux.rootfsPropagation\`: unknown propagation \`bogus\`" \
  '.linux.rootfsPropagation="bogus"'
# Without a mount namespace (runc runs those too) the mounts land in the caller's table:
# masking or read-only paths there would change the host's, and are refused (as runc does).
NO_MNTNS='del(.linux.namespaces[4])'
bad "no mount namespace: maskedPaths refused" "\`linux.maskedPaths\`: needs a mount namespace" "$NO_MNTNS"
bad "no mount namespace: readonlyPaths refused" "\`linux.readonlyPaths\`: needs a mount namespace" \
  "$NO_MNTNS | del(.linux.maskedPaths)"
# Failures after things exist: the runtime must roll back the cgroup, state dir and process.
bad "missing executable (rolled back)" "exec \`/no/such/binary\`: No such file or directory" '.process.args=["/no/such/binary"]'
bad "bind source missing (rolled back)" "stat \`/no/such/source\`" \
  '.mounts+=[{destination:"/mnt",type:"bind",source:"/no/such/source",options:["rbind"]}]'
bad "bad sysctl (rolled back)" "set sysctl \`kernel.no_such_key\`" '.linux.sysctl={"kernel.no_such_key":"1"}'
bad "rlimit above the hard limit we may set (rolled back)" "setrlimit \`RLIMIT_NOFILE\`: Operation not permitted" \
  '.process.rlimits=[{type:"RLIMIT_NOFILE",soft:1048576,hard:1048576}]'
bad "no mount namespace, missing executable (mounts removed)" "exec \`/no/such/binary\`" \
  "$NO_MNTNS | del(.linux.maskedPaths) | del(.linux.readonlyPaths) | .process.args=[\"/no/such/binary\"]"
bad "no mount namespace, bad sysctl (mounts removed)" "set sysctl \`kernel.no_such_key\`" \
  "$NO_MNTNS | del(.linux.maskedPaths) | del(.linux.readonlyPaths) | .linux.sysctl={\"kernel.no_such_key\":\"1\"}"
# Hooks: malformed entries name the field; a hook that cannot run, fails or hangs fails
# create after things exist, which are rolled back.
bad "hooks not an object" "\`hooks\`: expected an object" '.hooks=[]'
bad "hooks.prestart not an array" "\`hooks.prestart\`: expected an array" '.hooks={prestart:{path:"/bin/true"}}'
bad "hook entry not an object" "\`hooks.createRuntime[0]\`: expected an object" '.hooks={createRuntime:["/bin/true"]}'
bad "hook without path" "\`hooks.poststop[1].path\`: missing" '.hooks={poststop:[{path:"/bin/true"},{args:["true"]}]}'
bad "hook path relative" "\`hooks.prestart[0].path\`: \`bin/true\` is not an absolute path" '.hooks={prestart:[{path:"bin/true"}]}'
bad "hook args not strings" "\`hooks.createContainer[0].args[1]\`: expected a string" '.hooks={createContainer:[{path:"/bin/true",args:["true",1]}]}'
bad "hook env not strings" "\`hooks.startContainer[0].env[0]\`: expected a string" '.hooks={startContainer:[{path:"/bin/true",env:[{A:"1"}]}]}'
bad "hook timeout zero" "\`hooks.poststart[0].timeout\`: must be greater than zero" '.hooks={poststart:[{path:"/bin/true",timeout:0}]}'
bad "hook timeout negative" "\`hooks.prestart[0].timeout\`: must be greater than zero" '.hooks={prestart:[{path:"/bin/true",timeout:-5}]}'
bad "hook timeout not an integer" "\`hooks.prestart[0].timeout\`: expected an integer" '.hooks={prestart:[{path:"/bin/true",timeout:"5"}]}'
bad "missing hook (rolled back)" "hook \`hooks.createRuntime[0]\`: exec \`/no/such/hook\`: No such file or directory" \
  '.hooks={createRuntime:[{path:"/no/such/hook"}]}'
printf '#!/bin/sh\nexit 0\n' >"$TMP/not-executable"
chmod 644 "$TMP/not-executable"
bad "hook not executable (rolled back)" "hook \`hooks.prestart[0]\`: exec \`$TMP/not-executable\`: Permission denied" \
  ".hooks={prestart:[{path:\"$TMP/not-executable\"}]}"
bad "failing hook, its output quoted (rolled back)" "hook \`hooks.createRuntime[1]\` (\`/bin/sh\`): exited with status 4: no network for you" \
  '.hooks={createRuntime:[{path:"/bin/true"},{path:"/bin/sh",args:["sh","-c","echo no network; echo for you >&2; exit 4"]}]}'
bad "failing hook in the container's namespace (rolled back)" "hook \`hooks.createContainer[0]\` (\`/bin/false\`): exited with status 1" \
  '.hooks={createContainer:[{path:"/bin/false"}]}'
bad "hook past its timeout (rolled back)" "hook \`hooks.prestart[0]\` (\`/bin/sleep\`): timed out after 1 s, killed" \
  '.hooks={prestart:[{path:"/bin/sleep",args:["sleep","60"],timeout:1}]}'
bad "run: failing hook rolled back" "hook \`hooks.createRuntime[0]\` (\`/bin/false\`): exited with status 1" \
  '.hooks={createRuntime:[{path:"/bin/false"}]}' run
bad "run: same checks" "\`process.args\`: expected an array" '.process.args="x"' run
bad "run: rolled back" "exec \`/no/such/binary\`" '.process.args=["/no/such/binary"]' run

# Fail closed: a security setting the kernel refuses fails create (and run) and leaves
# nothing, as runc does; it is never printed at start while the container runs anyway.
# The runtime runs without a capability in its bounding set, so it cannot grant it.
NO_BIND=(setpriv --bounding-set -net_bind_service)
WRAP=("${NO_BIND[@]}")
bad "capability the runtime lacks (create)" "set capabilities: Operation not permitted" '.'
bad "capability the runtime lacks (run)" "set capabilities: Operation not permitted" '.' run
bad "capability the runtime lacks, non-root user" "set capabilities: Operation not permitted" \
  '.process.user={uid:65534,gid:65534}'
# Without CAP_SETGID the supplementary groups cannot be set: the container would keep the
# runtime's own (root's) groups.
WRAP=(setpriv --bounding-set -setgid)
bad "supplementary groups the runtime cannot set" "setgroups: Operation not permitted" \
  '.process.user={uid:0,gid:0}'
bad "additionalGids the runtime cannot set" "setgroups: Operation not permitted" \
  '.process.user={uid:65534,gid:65534,additionalGids:[5]}'
WRAP=(setpriv --bounding-set -setuid)
bad "uid the runtime cannot switch to" "setresuid \`65534\`: Operation not permitted" \
  '.process.user={uid:65534,gid:65534}'
# A seccomp profile the kernel refuses (its per-thread filter budget is used up).
STACK=$TMP/seccomp-stack
if cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$STACK" "$RT_HERE/seccomp-stack.c" 2>"$TMP/cc.log"; then
  WRAP=("$STACK")
  SCMP='.linux.seccomp={defaultAction:"SCMP_ACT_ALLOW",syscalls:[{names:["mkdir"],action:"SCMP_ACT_ERRNO"}]}'
  bad "seccomp filter the kernel refuses (no_new_privs)" "install seccomp filter: Cannot allocate memory" "$SCMP"
  bad "seccomp filter the kernel refuses (without no_new_privs)" "install seccomp filter: Cannot allocate memory" \
    "$SCMP | .process.noNewPrivileges=false"
  bad "seccomp filter the kernel refuses (run)" "install seccomp filter: Cannot allocate memory" "$SCMP" run
else
  not_ok "build tests/seccomp-stack.c"; cat "$TMP/cc.log"
fi
WRAP=()
# Paths that cannot be masked or made read-only (a symlink loop in the image).
ln -s loop "$TMP/rootfs/loop"
bad "masked path that cannot be masked" "stat \`/loop\`: Too many levels of symbolic links" \
  '.linux.maskedPaths+=["/loop"]'
bad "read-only path that cannot be bound" "bind mount \`/loop\`: Too many levels of symbolic links" \
  '.linux.readonlyPaths+=["/loop"]'
# Lowering oom_score_adj needs CAP_SYS_RESOURCE.
WRAP=(setpriv --bounding-set -sys_resource)
bad "oom_score_adj the runtime may not set" "oom_score_adj" '.process.oomScoreAdj=-900'
WRAP=()
# This host's hard RLIMIT_NOFILE may be as low as 20000 without CAP_SYS_RESOURCE: never clamp.
bad "rlimit above the runtime's hard limit" "setrlimit \`RLIMIT_NOFILE\`: Operation not permitted" \
  ".process.rlimits=[{type:\"RLIMIT_NOFILE\",soft:$(( $(ulimit -Hn) + 10000 )),hard:$(( $(ulimit -Hn) + 10000 ))}]"
# Labels for a security module this host does not run cannot be applied (runc and crun refuse).
if ! grep -qs Y /sys/module/apparmor/parameters/enabled; then
  bad "apparmorProfile without AppArmor" "\`process.apparmorProfile\`: AppArmor is not enabled" \
    '.process.apparmorProfile="docker-default"'
else
  skip "apparmorProfile without AppArmor" "AppArmor is enabled here"
fi
if [ ! -e /sys/fs/selinux/enforce ]; then
  bad "selinuxLabel without SELinux" "\`process.selinuxLabel\`: SELinux is not enabled" \
    '.process.selinuxLabel="system_u:system_r:container_t:s0"'
  bad "mountLabel without SELinux" "\`linux.mountLabel\`: SELinux is not enabled" \
    '.linux.mountLabel="system_u:object_r:container_file_t:s0"'
else
  skip "selinuxLabel without SELinux" "SELinux is enabled here"
fi
# A limit for a cgroup v1 controller that is not mounted (hidden in a mount namespace of
# its own): refused, never run without the limit.
if [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ] && [ -d /sys/fs/cgroup/pids ]; then
  HIDE_PIDS='mkdir -p "$1/cg" && mount --rbind /sys/fs/cgroup "$1/cg" && mount -t tmpfs none /sys/fs/cgroup && for c in "$1"/cg/*; do n=${c##*/}; [ "$n" = pids ] && continue; if [ -L "$c" ]; then ln -s "$(readlink "$c")" "/sys/fs/cgroup/$n"; else mkdir "/sys/fs/cgroup/$n" && mount --bind "$c" "/sys/fs/cgroup/$n"; fi; done && shift && exec "$@"'
  WRAP=(unshare -m --propagation private sh -c "$HIDE_PIDS" hide "$TMP")
  bad "pids limit without a pids controller" "\`linux.resources.pids\`: the \`pids\` controller is not mounted" \
    '.linux.resources.pids={limit:10}'
  WRAP=()
else
  skip "pids limit without a pids controller" "not a cgroup v1 host"
fi

# An existing id is refused without touching the existing container's state.
dup() {
  make_config "$CG/dup" sleep 10 >"$B/config.json"
  (cd "$B" && "$PAAS_RUNTIME" --root "$ROOT" create dup) || return 1
  local err
  err=$(cd "$B" && "$PAAS_RUNTIME" --root "$ROOT" create dup 2>&1)
  local rc=$?
  "$PAAS_RUNTIME" --root "$ROOT" state dup | jq -e '.status=="created"' >/dev/null || { echo "state broken"; return 1; }
  "$PAAS_RUNTIME" --root "$ROOT" delete dup || return 1
  [ $rc -ne 0 ] && [ "$err" = "paas-runtime: container \`dup\` already exists" ] && [ -z "$(ls -A "$ROOT")" ] \
    && [ -z "$(cgroup_dirs "$CG/dup")" ]
}
check "duplicate id refused; delete of a created container cleans up" dup
systemd_flag() {
  local err
  err=$("$PAAS_RUNTIME" --systemd-cgroup --root "$ROOT" list 2>&1) && return 1
  case $err in *"systemd cgroup manager is not supported"*) return 0 ;; esac
  return 1
}
check "--systemd-cgroup refused with a clear error" systemd_flag

exit $((T_FAILS > 0))
