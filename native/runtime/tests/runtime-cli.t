#!/usr/bin/env bash
# CLI surface and concurrency: version, usage errors, signal names, --log json, list, and
# many containers created at once under a cgroup parent that does not exist yet (parents are
# created concurrently; cpuset levels must be initialised whoever wins).
. "$(dirname "$0")/runtime-lib.sh"

[ -x "$PAAS_RUNTIME" ] || { not_ok "paas-runtime built at $PAAS_RUNTIME"; exit 1; }
TMP=$(mktemp -d /tmp/paas-rt-cli.XXXXXX)
CG=/paas-test-$$
ROOT=$TMP/root
cleanup() {
  local id
  for id in $(ls "$ROOT" 2>/dev/null); do "$PAAS_RUNTIME" --root "$ROOT" delete --force "$id" >/dev/null 2>&1; done
  cgroup_cleanup "$CG"
  rm -rf "$TMP"
}
trap cleanup EXIT
rt() { "$PAAS_RUNTIME" --root "$ROOT" "$@"; }

check "--version" bash -c "'$PAAS_RUNTIME' --version | grep -q '^paas-runtime version '"
one_line_error() { # one_line_error EXPECTED CMD...: fails with exactly EXPECTED on stderr
  local want=$1 err; shift
  err=$("$@" 2>&1 >/dev/null) && return 1
  [ "$err" = "$want" ] || { echo "got: $err"; return 1; }
}
check "unknown verb" one_line_error "paas-runtime: unknown command \`frob\`" rt frob
check "state of a missing container" one_line_error "paas-runtime: container \`nope\` does not exist" rt state nope
check "invalid id" one_line_error "paas-runtime: invalid container id \`../x\`" rt state ../x
check "unknown signal" one_line_error "paas-runtime: unknown signal \`FOO\`" rt kill x FOO
check "--debug accepted" bash -c "'$PAAS_RUNTIME' --debug --root '$ROOT' list >/dev/null"
log_json() {
  rt --log "$TMP/log.json" --log-format json state nope 2>/dev/null && return 1
  jq -e '.level == "error" and (.msg | test("does not exist"))' "$TMP/log.json" >/dev/null
}
check "--log FILE --log-format json records the error" log_json

if [ "$(id -u)" != 0 ]; then skip "lifecycle checks" "needs root"; exit $((T_FAILS > 0)); fi
make_rootfs "$TMP/rootfs"

signals() {
  local b=$TMP/sig id=sig
  mkdir -p "$b"
  CFG_ROOT=$TMP/rootfs make_config "$CG/sig" sh -c 'trap "echo got-usr1" USR1; trap "echo got-hup" HUP; while :; do sleep 0.05; done' >"$b/config.json"
  (cd "$b" && rt create "$id" >"$TMP/sig.out" 2>&1 </dev/null) || return 1
  rt start "$id" || return 1
  sleep 0.3
  rt kill "$id" SIGUSR1 && sleep 0.2 && rt kill "$id" 1 && sleep 0.2 || return 1
  rt list | grep -qE "^$id +[0-9]+ +running" || { echo "list"; return 1; }
  rt delete --force "$id" || return 1
  [ "$(cat "$TMP/sig.out")" = $'got-usr1\ngot-hup' ] || { echo "out: $(cat "$TMP/sig.out")"; return 1; }
}
check "kill by name (SIGUSR1) and number (1); list shows it running" signals

# The user switch happens before `create` returns (so that a refusal fails create): the
# container then waits for `start` as that user, and in a user namespace, on exec.fifo.
as_user() { # as_user NAME JQ-FILTER EXPECTED
  local b=$TMP/$1 id=$1
  mkdir -p "$b"
  CFG_ROOT=$TMP/rootfs CFG_FILTER=$2 make_config "$CG/$id" sh -c 'echo $(id -u) $(id -G)' >"$b/config.json"
  (cd "$b" && rt create "$id" >"$TMP/$id.out" 2>&1 </dev/null) || return 1
  rt state "$id" | jq -e '.status == "created"' >/dev/null || return 1
  rt start "$id" || return 1
  for _ in $(seq 100); do [ -s "$TMP/$id.out" ] && break; sleep 0.05; done
  rt delete --force "$id" || return 1
  [ "$(cat "$TMP/$id.out")" = "$3" ] || { echo "out: $(cat "$TMP/$id.out")"; return 1; }
}
check "create/start as a non-root user with additionalGids" \
  as_user nobody '.process.user={uid:65534,gid:65534,additionalGids:[5]}' '65534 65534 5'
chmod 755 "$TMP" # a user-namespaced root must reach the rootfs
check "create/start in a user namespace" as_user userns \
  '.linux.namespaces+=[{type:"user"}] | .linux.uidMappings=[{containerID:0,hostID:100000,size:65536}] | .linux.gidMappings=[{containerID:0,hostID:100000,size:65536}]' '0 0'

# 16 `run`s at once, plus 8 create/start/delete, under a parent nobody created yet.
parallel() {
  local b=$TMP/par pids=() i fail=0
  mkdir -p "$b"
  for i in $(seq 16); do
    mkdir -p "$b/r$i"
    CFG_ROOT=$TMP/rootfs make_config "$CG/par/r$i" sh -c 'echo $$' >"$b/r$i/config.json"
    (cd "$b/r$i" && rt run "r$i" >"$b/r$i/out" 2>&1 </dev/null) &
    pids+=($!)
  done
  for i in $(seq 8); do
    mkdir -p "$b/c$i"
    CFG_ROOT=$TMP/rootfs make_config "$CG/par/c$i" sleep 10 >"$b/c$i/config.json"
    (cd "$b/c$i" && rt create "c$i" </dev/null >/dev/null 2>"$b/c$i/err" && rt start "c$i" && rt delete --force "c$i") &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail=1; done
  for i in $(seq 16); do [ "$(cat "$b/r$i/out")" = 1 ] || { echo "r$i: $(cat "$b/r$i/out")"; fail=1; }; done
  for i in $(seq 8); do [ -s "$b/c$i/err" ] && { echo "c$i: $(cat "$b/c$i/err")"; fail=1; }; done
  [ -z "$(ls -A "$ROOT")" ] || { echo "state left: $(ls "$ROOT")"; fail=1; }
  for d in $(cgroup_dirs "$CG/par"); do
    [ -z "$(find "$d" -mindepth 1 -type d)" ] || { echo "cgroups left in $d"; fail=1; }
  done
  return $fail
}
check "24 containers at once under a new cgroup parent" parallel

# The runtime SIGKILLed at any point of create (a test timeout, an OOM-killed caller):
# `delete --force` must still remove the state dir, the cgroup and the container process.
killed_mid_create() {
  local b=$TMP/kill fail=0 i delay pid
  mkdir -p "$b"
  CFG_ROOT=$TMP/rootfs make_config "$CG/killed" sleep 30 >"$b/config.json"
  for i in $(seq 12); do
    delay=$(printf '0.%03d' $(( (i - 1) * 2 )))
    (cd "$b" && exec "$PAAS_RUNTIME" --root "$ROOT" create k >/dev/null 2>&1 </dev/null) &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rt delete --force k >/dev/null 2>&1
    if [ -e "$ROOT/k" ] || [ -n "$(cgroup_dirs "$CG/killed")" ] || [ -n "$(procs_with "--root $ROOT create k")" ]; then
      echo "after kill at ${delay}s: state=$(ls "$ROOT") cgroups=$(cgroup_dirs "$CG/killed" | head -1)"
      fail=1
    fi
  done
  return $fail
}
check "runtime killed mid-create: delete --force removes state, cgroup and process" killed_mid_create

exit $((T_FAILS > 0))
