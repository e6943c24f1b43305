#!/usr/bin/env bash
# OCI hooks (config.json "hooks") under paas-runtime, runc and crun (via crun-hybrid), side by
# side. Each hook is /bin/busybox with args[0] "sh" (busybox runs the applet argv[0] names, so
# a runtime that passed the path as argv[0] fails the hook) running hook.sh, which appends one
# line to a log: its kind, the status, id and pid of the state read from stdin, its mount
# namespace, its env. The runtime-namespace hooks use the host's hook.sh; startContainer's
# path resolves in the container (the spec), so the rootfs has a copy and its log is bind
# mounted at /out.
#
# Where the runtimes differ from each other (all checked below, the rest is the same):
#   - runc 1.1 runs poststart hooks during create (status "created"), crun and paas-runtime
#     after the user process is exec'd by start ("running"), as the spec says;
#   - crun shows "created" during create and "starting" to startContainer; paas-runtime
#     follows runc ("creating", then "created");
#   - the state's pid for createContainer and startContainer: runc gives the init's own
#     getpid() (1), crun 0, paas-runtime the init's pid as the host sees it (the spec);
#   - runc and paas-runtime run poststop after a failed create (the spec: a failing create
#     hook goes on to delete, then poststop); crun does not;
#   - a failing startContainer hook: all stop the container; runc and crun still exit 0 from
#     start (printing the error), paas-runtime fails start (the spec: generate an error);
#   - a failing poststop hook: runc 1.1 skips the next ones, crun and paas-runtime run them
#     (the spec: a warning, the remaining hooks continue);
#   - crun-hybrid runs crun in a mount namespace of its own: its runtime-namespace hooks see
#     that one, not the host's.
. "$(dirname "$0")/runtime-lib.sh"

[ "$(id -u)" = 0 ] || { skip "runtime hooks" "needs root"; exit 0; }
[ -x "$PAAS_RUNTIME" ] || { not_ok "paas-runtime built at $PAAS_RUNTIME"; exit 1; }

TMP=$(mktemp -d /tmp/paas-rt-hooks.XXXXXX)
chmod 755 "$TMP"
CG=/paas-test-hooks-$$
MARK=98765$$ # a sleeping hook's argument: finds it (or its leftovers) among processes
cleanup() {
  local p
  delete_containers "$TMP"
  for p in $(procs_with "$MARK"); do kill -9 "$p" 2>/dev/null; done
  cgroup_cleanup "$CG"
  rm -rf "$TMP"
}
trap cleanup EXIT
make_rootfs "$TMP/rootfs"
cat >"$TMP/hook.sh" <<'EOF'
#!/bin/sh
# hook.sh KIND LOG [EXIT]: "KIND status id pid=PID MNTNS env=HOOK_ENV leak=LEAK"
s=$(tr -d '\n\t ')
st=${s#*\"status\":\"}; st=${st%%\"*}
id=${s#*\"id\":\"}; id=${id%%\"*}
pid=none; case $s in *\"pid\":*) pid=${s#*\"pid\":}; pid=${pid%%[,\}]*} ;; esac
echo "$1 $st $id pid=$pid $(readlink /proc/self/ns/mnt) env=${HOOK_ENV:-none} leak=${LEAK:-none}" >>"$2"
exit "${3:-0}"
EOF
chmod 755 "$TMP/hook.sh"
cp "$TMP/hook.sh" "$TMP/rootfs/hook.sh"
HOST_MNT=$(readlink /proc/self/ns/mnt)
export LEAK=from-the-runtime # must not reach any hook

present_runtimes

# hook KIND LOG [EXIT]: one hook entry (JSON).
hook() {
  local script=$TMP/hook.sh
  [ "$1" = startContainer ] && script=/hook.sh
  printf '{"path":"/bin/busybox","args":["sh","%s","%s","%s","%s"],"env":["HOOK_ENV=e-%s"]}' \
    "$script" "$1" "$2" "${3:-0}" "$1"
}
# all_hooks DIR [FAILING-KIND [EXIT]]: a "hooks" object with two hooks of each kind logging
# to DIR/log (/out/log in the container), the first of FAILING-KIND exiting with EXIT.
all_hooks() {
  local dir=$1 fail=${2:-} code=${3:-3} k out="" sep="" log
  for k in prestart createRuntime createContainer startContainer poststart poststop; do
    log=$dir/log
    [ $k = startContainer ] && log=/out/log
    local c=0
    [ "$k" = "$fail" ] && c=$code
    out+="$sep\"$k\":[$(hook $k "$log" $c),$(hook $k "$log")]"
    sep=,
  done
  printf '{%s}' "$out"
}

N=0
# bundle RUNTIME HOOKS-JSON JQ-FILTER ARGS...: a bundle in $BUNDLE, container id $ID, its
# log dir $OUT (bind mounted at /out, where the process may write too).
bundle() {
  local r=$1 hooks=$2 filter=${3:-.}
  shift 3
  N=$((N + 1))
  BUNDLE=$TMP/b-$r-$N OUT=$TMP/o-$r-$N ID=h$N
  mkdir -p "$BUNDLE" "$OUT"
  : >"$OUT/log"
  chmod 666 "$OUT/log"
  CFG_ROOT=$TMP/rootfs CFG_FILTER=".mounts+=[{destination:\"/out\",type:\"bind\",source:\"$OUT\",options:[\"rbind\"]}] | $filter" \
    make_config "$CG/$r-$N" "$@" >"$BUNDLE/config.json"
  jq_edit "$BUNDLE/config.json" '.hooks=$h' --argjson h "$hooks"
}

# rt RUNTIME VERB ARGS...: the runtime on its own root; stdio from/to files (a created
# container keeps create's stdio).
rt() {
  local r=$1
  shift
  (cd "$BUNDLE" && timeout 60 $(runtime_cmd "$r") --root "$TMP/root-$r" "$@" </dev/null \
    >"$TMP/stdout" 2>"$TMP/stderr")
}
status_of() { $(runtime_cmd "$1") --root "$TMP/root-$1" state "$2" 2>/dev/null | jq -r .status; }
wait_stopped() {
  for _ in $(seq 200); do
    [ "$(status_of "$1" "$2")" = stopped ] && return 0
    sleep 0.05
  done
  return 1
}
# nothing_left RUNTIME: no state, cgroup or process of the container (or of a hook).
nothing_left() {
  local problems=""
  [ -z "$(ls -A "$TMP/root-$1" 2>/dev/null)" ] || problems+=" state: $(ls -A "$TMP/root-$1");"
  [ -z "$(cgroup_dirs "$CG/$1-$N")" ] || problems+=" cgroup: $(cgroup_dirs "$CG/$1-$N" | head -1);"
  [ -z "$(procs_with "--root $TMP/root-$1")" ] || problems+=" process: $(procs_with "--root $TMP/root-$1");"
  [ -z "$(procs_with "$MARK")" ] || problems+=" hook process: $(procs_with "$MARK");"
  [ -z "$problems" ] || { echo "left behind:$problems"; return 1; }
}
# same DESC GOT WANT
same() {
  if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "expected: $3"; echo "got:      $2"; fi
}
# kinds: the kinds column of the log, one line.
kinds() { awk '{print $1}' "$OUT/log" | tr '\n' ' '; }

# ---- the whole lifecycle: order, namespaces, state, env, args ----
lifecycle() {
  local r=$1 pid cmnt
  bundle "$r" "$(all_hooks "$TMP/o-$r-$((N + 1))")" . sh -c 'echo main >>/out/log'
  rt "$r" create "$ID" || { echo "create: $(cat "$TMP/stderr")"; return 1; }
  pid=$($(runtime_cmd "$r") --root "$TMP/root-$r" state "$ID" | jq .pid)
  cmnt=$(readlink "/proc/$pid/ns/mnt")
  rt "$r" start "$ID" || { echo "start: $(cat "$TMP/stderr")"; return 1; }
  wait_stopped "$r" "$ID" || { echo "never stopped"; return 1; }
  rt "$r" delete "$ID" || { echo "delete: $(cat "$TMP/stderr")"; return 1; }
  # Namespaces by name: the container's, the host's, or another (crun-hybrid's).
  awk -v c="$cmnt" -v h="$HOST_MNT" -v p="pid=$pid" 'NF > 1 {
    $5 = $5 == c ? "ctr" : $5 == h ? "host" : "other"; if ($4 == p) $4 = "pid=init" } { print }' \
    "$OUT/log" >"$TMP/log-$r"
  LOGS[$r]=$TMP/log-$r
}
declare -A LOGS
for r in "${RUNTIMES[@]}"; do check "$r: create, start, delete with every kind of hook" lifecycle "$r"; done

# Columns: 1 kind, 2 status, 3 id, 4 pid, 5 namespace, 6 env, 7 leak.
view() { # view RUNTIME AWK-PROGRAM: the runtime's log through awk, one line
  awk "$2" "${LOGS[$1]}" | tr '\n' ' ' | sed 's/ $//'
}
COMMON='prestart prestart createRuntime createRuntime createContainer createContainer startContainer startContainer poststop poststop'
for r in "${!LOGS[@]}"; do
  got=$(view "$r" '$1 != "poststart" && $1 != "main" {print $1}')
  same "$r: hooks run in the spec's order (two of each kind, in order)" "$got" "$COMMON"
  got=$(view "$r" '$1 != "main" {print $1 "=" $6 "," $7}' | tr ' ' '\n' | sort -u | tr '\n' ' ')
  want="createContainer=env=e-createContainer,leak=none createRuntime=env=e-createRuntime,leak=none poststart=env=e-poststart,leak=none poststop=env=e-poststop,leak=none prestart=env=e-prestart,leak=none startContainer=env=e-startContainer,leak=none "
  same "$r: each hook has its own env and nothing of the runtime's; args[0] is argv[0]" "$got" "$want"
  got=$(view "$r" '$1 != "main" {print $1 ":" $3 ":" ($5 == "ctr" ? "ctr" : "rt")}' | tr ' ' '\n' | sort -u | tr '\n' ' ')
  want="createContainer:h1:ctr createRuntime:h1:rt poststart:h1:rt poststop:h1:rt prestart:h1:rt startContainer:h1:ctr "
  want=${want//h1/$(awk 'NR==1 {print $3}' "${LOGS[$r]}")}
  same "$r: createContainer and startContainer in the container's mount namespace, the rest in the runtime's; the state's id" "$got" "$want"
  case $r in
    crun) ;;
    *)
      got=$(view "$r" '$1 != "poststart" && $1 != "main" {print $2}' | tr ' ' '\n' | uniq | tr '\n' ' ')
      same "$r: state status: creating (prestart, createRuntime, createContainer), created (startContainer), stopped (poststop)" \
        "$got" "creating created stopped "
      ;;
  esac
  case $r in
    runc) skip "$r: poststart after startContainer, status running" "runc 1.1 runs poststart during create" ;;
    crun) # runs them as start returns, while the init may still run startContainer
      got=$(view "$r" '$1 == "startContainer" || $1 == "poststart" {print $1 "/" $2}' | tr ' ' '\n' | sort -u | tr '\n' ' ')
      same "$r: poststart by start, status running" "$got" "poststart/running startContainer/starting "
      ;;
    *)
      got=$(view "$r" '$1 == "startContainer" || $1 == "poststart" || $1 == "poststop" {print $1 "/" $2}')
      want="startContainer/created startContainer/created poststart/running poststart/running poststop/stopped poststop/stopped"
      same "$r: poststart once the process is exec'd (after startContainer), status running" "$got" "$want"
      ;;
  esac
done
if [ -n "${LOGS[paas]:-}" ]; then
  got=$(view paas '$1 != "main" && $1 != "poststop" && $1 != "startContainer" && $1 != "createContainer" {print $5}' | tr ' ' '\n' | sort -u | tr -d '\n')
  same "paas: runtime-namespace hooks run in the host's mount namespace" "$got" host
  got=$(view paas '$1 != "main" {print $1 "=" $4}' | tr ' ' '\n' | sort -u | tr '\n' ' ')
  want="createContainer=pid=init createRuntime=pid=init poststart=pid=init poststop=pid=0 prestart=pid=init startContainer=pid=init "
  same "paas: every hook's state has the init's pid as the host sees it (0 once stopped)" "$got" "$want"
fi

# ---- run: the same hooks around one verb ----
run_verb() {
  local r=$1 got
  bundle "$r" "$(all_hooks "$TMP/o-$r-$((N + 1))")" . sh -c 'echo main >>/out/log'
  rt "$r" run "$ID" || { echo "run: $(cat "$TMP/stderr")"; return 1; }
  got=$(awk '$1 != "poststart" {print $1}' "$OUT/log" | uniq | tr '\n' ' ')
  [ "$got" = "prestart createRuntime createContainer startContainer main poststop " ] || { echo "got: $got"; return 1; }
  [ "$r" = paas ] || return 0 # runc: poststart during create; crun: racing startContainer
  got=$(awk '$1 == "poststart" || $1 == "startContainer" {print $1}' "$OUT/log" | uniq | tr '\n' ' ')
  [ "$got" = "startContainer poststart " ] || { echo "got: $got"; return 1; }
  nothing_left "$r"
}
for r in "${RUNTIMES[@]}"; do check "$r: run runs every hook in order and leaves nothing" run_verb "$r"; done

# Runtime-namespace hooks stay in the runtime's pid namespace when the container joins
# another one by path (the runtime enters it only to create the init).
pidns_join() {
  local r=$1 a pida got h
  bundle "$r" '{}' . sleep 60
  a=$ID
  rt "$r" create "$a" || { echo "create: $(cat "$TMP/stderr")"; return 1; }
  pida=$($(runtime_cmd "$r") --root "$TMP/root-$r" state "$a" | jq .pid)
  h="{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"readlink /proc/self/ns/pid >>$TMP/o-$r-$((N + 1))/log\"]}"
  bundle "$r" "{\"prestart\":[$h],\"createRuntime\":[$h],\"poststart\":[$h],\"poststop\":[$h]}" \
    ".linux.namespaces |= map(if .type == \"pid\" then .path = \"/proc/$pida/ns/pid\" else . end)" true
  rt "$r" run "$ID" || { echo "run: $(cat "$TMP/stderr")"; return 1; }
  rt "$r" delete --force "$a"
  got=$(sort -u "$OUT/log" | tr '\n' ' ')
  [ "$got" = "$(readlink /proc/self/ns/pid) " ] || { echo "hooks' pid namespaces: $got"; return 1; }
  [ "$(wc -l <"$OUT/log")" = 4 ] || { echo "$(wc -l <"$OUT/log") hooks ran"; return 1; }
}
for r in "${RUNTIMES[@]}"; do
  check "$r: with a pid namespace joined by path, runtime-namespace hooks run in the runtime's" pidns_join "$r"
done

# ---- failures ----
# A failing create-step hook fails create, and the container is gone as if never created.
create_fails() {
  local r=$1 kind=$2 got want
  bundle "$r" "$(all_hooks "$TMP/o-$r-$((N + 1))" "$kind")" . true
  rt "$r" create "$ID" && { echo "create succeeded"; return 1; }
  nothing_left "$r" || return 1
  got=$(kinds)
  case $kind in
    prestart) want="prestart" ;;
    createRuntime) want="prestart prestart createRuntime" ;;
    createContainer) want="prestart prestart createRuntime createRuntime createContainer" ;;
  esac
  [ "$r" != crun ] && want+=" poststop poststop"
  [ "$got" = "$want " ] || { echo "hooks run: $got (expected $want)"; return 1; }
}
for kind in prestart createRuntime createContainer; do
  for r in "${RUNTIMES[@]}"; do
    check "$r: a failing $kind hook fails create and leaves nothing" create_fails "$r" "$kind"
  done
done
bundle paas "$(all_hooks "$TMP/o-paas-$((N + 1))" createRuntime 7)" . true
rt paas create "$ID"
check "paas: create's error names the hook and its exit status" \
  grep -q 'hooks.createRuntime\[0\]` (`/bin/busybox`): exited with status 7' "$TMP/stderr"

# A hook past its timeout is killed and fails create.
timeout_kills() {
  local r=$1
  bundle "$r" "{\"createRuntime\":[{\"path\":\"/bin/sleep\",\"args\":[\"sleep\",\"$MARK\"],\"timeout\":1}]}" . true
  rt "$r" create "$ID" && { echo "create succeeded"; return 1; }
  nothing_left "$r"
}
for r in "${RUNTIMES[@]}"; do check "$r: a hook past its timeout is killed and fails create" timeout_kills "$r"; done
# paas-runtime kills the hook's process group: what a hook script started goes too.
timeout_group() {
  bundle paas "{\"prestart\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"sleep $MARK; true\"],\"timeout\":1}]}" . true
  rt paas create "$ID" && { echo "create succeeded"; return 1; }
  grep -q "hooks.prestart\[0\]\` (\`/bin/sh\`): timed out after 1 s" "$TMP/stderr" || { cat "$TMP/stderr"; return 1; }
  nothing_left paas
}
check "paas: a timeout kills the hook's children too, and the error says so" timeout_group

# A failing startContainer hook stops the container before the process runs; delete still
# runs poststop.
start_fails() {
  local r=$1 rc
  bundle "$r" "$(all_hooks "$TMP/o-$r-$((N + 1))" startContainer)" . sh -c 'echo main >>/out/log'
  rt "$r" create "$ID" || { echo "create: $(cat "$TMP/stderr")"; return 1; }
  rt "$r" start "$ID"
  rc=$?
  grep -q 'startContainer' "$TMP/stderr" || grep -qi 'hook' "$TMP/stderr" || { echo "no error: $(cat "$TMP/stderr")"; return 1; }
  [ "$r" != paas ] || [ $rc -ne 0 ] || { echo "start exited 0"; return 1; }
  wait_stopped "$r" "$ID" || { echo "not stopped"; return 1; }
  rt "$r" delete "$ID" || { echo "delete: $(cat "$TMP/stderr")"; return 1; }
  nothing_left "$r" || return 1
  local got
  got=$(awk '$1 != "poststart" || r == "paas" {print $1}' r="$r" "$OUT/log" | tr '\n' ' ')
  [ "$got" = "prestart prestart createRuntime createRuntime createContainer createContainer startContainer poststop poststop " ] ||
    { echo "hooks run: $got"; return 1; }
}
for r in "${RUNTIMES[@]}"; do check "$r: a failing startContainer hook stops the container before its process" start_fails "$r"; done

# poststart and poststop failures are warnings: the verb succeeds.
poststart_warns() {
  local r=$1
  bundle "$r" "$(all_hooks "$TMP/o-$r-$((N + 1))" poststart)" . sh -c 'echo main >>/out/log; sleep 1'
  rt "$r" create "$ID" || { echo "create: $(cat "$TMP/stderr")"; return 1; }
  rt "$r" start "$ID" || { echo "start: $(cat "$TMP/stderr")"; return 1; }
  grep -q poststart "$TMP/stderr" || [ "$r" = crun ] || { echo "no warning: $(cat "$TMP/stderr")"; return 1; }
  wait_stopped "$r" "$ID" && rt "$r" delete "$ID" || return 1
  [ "$(awk '$1 == "poststart"' "$OUT/log" | wc -l)" = 2 ] || { echo "hooks run: $(kinds)"; return 1; }
  grep -q main "$OUT/log" || { echo "the process did not run"; return 1; }
}
for r in "${RUNTIMES[@]}"; do
  if [ "$r" = runc ]; then skip "$r: a failing poststart hook is a warning" "runc 1.1 runs poststart during create and fails it"
  else check "$r: a failing poststart hook is a warning, the next one still runs" poststart_warns "$r"; fi
done
poststop_warns() {
  local r=$1
  bundle "$r" "$(all_hooks "$TMP/o-$r-$((N + 1))" poststop)" . true
  rt "$r" create "$ID" && rt "$r" start "$ID" && wait_stopped "$r" "$ID" || { echo "lifecycle: $(cat "$TMP/stderr")"; return 1; }
  rt "$r" delete "$ID" || { echo "delete failed: $(cat "$TMP/stderr")"; return 1; }
  nothing_left "$r" || return 1
  cp "$TMP/stderr" "$TMP/stderr-poststop-$r"
  [ "$r" = crun ] || grep -q hook "$TMP/stderr" || { echo "no warning: $(cat "$TMP/stderr")"; return 1; }
  [ "$r" = runc ] && return 0 # runc 1.1 stops at the first failure
  [ "$(awk '$1 == "poststop"' "$OUT/log" | wc -l)" = 2 ] || { echo "hooks run: $(kinds)"; return 1; }
}
for r in "${RUNTIMES[@]}"; do check "$r: a failing poststop hook is a warning: delete succeeds and removes everything" poststop_warns "$r"; done
if [ -n "$(runtime_cmd paas)" ]; then
  check "paas: the poststop warning is one line naming the hook" \
    grep -qx 'paas-runtime: warning: hook `hooks.poststop\[0\]` (`/bin/busybox`): exited with status 3' \
    "$TMP/stderr-poststop-paas"
fi

# Kinds the spec does not define are ignored (unknown properties).
unknown_kind() {
  bundle "$1" '{"preBoot":[{"path":"/no/such/hook"}],"poststop":[]}' . true
  rt "$1" run "$ID" || { echo "run: $(cat "$TMP/stderr")"; return 1; }
  nothing_left "$1"
}
for r in "${RUNTIMES[@]}"; do check "$r: an unknown kind of hook is ignored" unknown_kind "$r"; done

exit $((T_FAILS > 0))
