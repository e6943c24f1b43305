#!/usr/bin/env bash
# Builds and runs the cgroup v2 writer unit test (runtime-cgroup-v2-test.c) against a temporary
# directory tree, then checks the same writer end to end: a container created with
# PAAS_CGROUP_ROOT=<tmp> gets its limits and pid written there.
. "$(dirname "$0")/runtime-lib.sh"
SRC=$RT_HERE/..
TMP=$(mktemp -d /tmp/paas-rt-cg2.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

if ! cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$SRC/src/common" -I"$SRC/src/runtime" \
    $(pkg-config --cflags jansson) -o "$TMP/cgroup-v2-test" "$RT_HERE/runtime-cgroup-v2-test.c" \
    "$SRC"/src/runtime/cgroup.c "$SRC"/src/runtime/cgroup-v1.c "$SRC"/src/runtime/cgroup-v2.c \
    "$SRC"/src/runtime/cgroup-v2-devices.c \
    "$SRC"/src/runtime/config.c "$SRC"/src/common/*.c $(pkg-config --libs jansson) 2>"$TMP/cc.log"; then
  not_ok "build the cgroup v2 unit test"; cat "$TMP/cc.log"; exit 1
fi
ok "build the cgroup v2 unit test"
"$TMP/cgroup-v2-test" || T_FAILS=$((T_FAILS + 1))

# End to end through the CLI (needs root for namespaces).
if [ "$(id -u)" = 0 ] && [ -x "$PAAS_RUNTIME" ]; then
  e2e() {
    local b=$TMP/bundle cgr=$TMP/cgroot pid
    mkdir -p "$b" "$cgr"
    make_rootfs "$b/rootfs"
    make_config /paas-e2e/c sleep 30 >"$b/config.json"
    jq_edit "$b/config.json" '.linux.resources={memory:{limit:50000000},cpu:{shares:512,quota:20000,period:100000},pids:{limit:32}}'
    (cd "$b" && PAAS_CGROUP_ROOT=$cgr "$PAAS_RUNTIME" --root "$TMP/root" create --pid-file "$TMP/pid" c) || return 1
    pid=$(cat "$TMP/pid")
    local fail=0
    [ "$(cat "$cgr/paas-e2e/c/memory.max")" = 50000000 ] || { echo memory.max; fail=1; }
    [ "$(cat "$cgr/paas-e2e/c/cpu.weight")" = 20 ] || { echo cpu.weight; fail=1; }
    [ "$(cat "$cgr/paas-e2e/c/cpu.max")" = "20000 100000" ] || { echo cpu.max; fail=1; }
    [ "$(cat "$cgr/paas-e2e/c/pids.max")" = 32 ] || { echo pids.max; fail=1; }
    [ "$(cat "$cgr/paas-e2e/c/cgroup.procs")" = "$pid" ] || { echo cgroup.procs; fail=1; }
    jq -e --arg p "$cgr/paas-e2e/c/memory.events" '.memoryEventsPath==$p' "$TMP/root/c/state.json" >/dev/null || { echo memoryEventsPath; fail=1; }
    PAAS_CGROUP_ROOT=$cgr "$PAAS_RUNTIME" --root "$TMP/root" delete --force c || fail=1
    [ ! -e "$cgr/paas-e2e/c" ] || { echo "leaf left"; fail=1; }
    rmdir "$cgr/paas-e2e" 2>/dev/null
    return $fail
  }
  check "create with PAAS_CGROUP_ROOT writes the v2 tree; delete removes it" e2e
  # The real v2 backend on a real cgroup2 mount (the unified hierarchy of this hybrid host,
  # or /sys/fs/cgroup on a pure v2 host): the container is cloned straight into its cgroup
  # (CLONE_INTO_CGROUP) and its cgroup namespace is rooted there.
  UNIFIED=
  for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
    [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ] && { UNIFIED=$d; break; }
  done
  if [ -n "$UNIFIED" ]; then
    real_v2() {
      local b=$TMP/bundle2 cg=paas-test-$$ pid fail=0
      mkdir -p "$b"
      ln -s "$TMP/bundle/rootfs" "$b/rootfs"
      make_config "/$cg/v2" sh -c 'cat /proc/self/cgroup | grep "^0::"; sleep 30' >"$b/config.json"
      jq_edit "$b/config.json" '.linux.namespaces+=[{type:"cgroup"}]'
      (cd "$b" && PAAS_CGROUP_ROOT=$UNIFIED "$PAAS_RUNTIME" --root "$TMP/root" create --pid-file "$TMP/pid2" v2 >"$TMP/v2.out") || return 1
      pid=$(cat "$TMP/pid2")
      grep -q "^0::/$cg/v2\$" /proc/$pid/cgroup || { echo "not in cgroup: $(grep ^0:: /proc/$pid/cgroup)"; fail=1; }
      [ "$(cat "$UNIFIED/$cg/v2/cgroup.procs")" = "$pid" ] || { echo "cgroup.procs"; fail=1; }
      PAAS_CGROUP_ROOT=$UNIFIED "$PAAS_RUNTIME" --root "$TMP/root" start v2 || fail=1
      sleep 0.2
      [ "$(cat "$TMP/v2.out")" = "0::/" ] || { echo "cgroupns: $(cat "$TMP/v2.out")"; fail=1; }
      PAAS_CGROUP_ROOT=$UNIFIED "$PAAS_RUNTIME" --root "$TMP/root" delete --force v2 || fail=1
      [ ! -e "$UNIFIED/$cg/v2" ] || { echo "leaf left"; fail=1; }
      rmdir "$UNIFIED/$cg" 2>/dev/null
      return $fail
    }
    check "v2 backend on a real cgroup2 mount: CLONE_INTO_CGROUP, cgroupns, delete" real_v2
  else
    skip "v2 backend on a real cgroup2 mount" "no cgroup2 mount"
  fi
else
  skip "v2 writer end to end" "needs root and a built paas-runtime"
fi
exit $((T_FAILS > 0))
