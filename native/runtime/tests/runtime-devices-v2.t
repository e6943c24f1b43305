#!/usr/bin/env bash
# The device cgroup on cgroup v2 (cgroup-v2-devices.c): the rule compiler's instructions; the
# program on a real cgroup2 directory (a loop device node refused, /dev/null not); then the
# runtime end to end on the v2 backend only (PAAS_CGROUP_ROOT=<cgroup2 mount>, as on a
# v2-only host): a container with CAP_MKNOD cannot read the host's "disk" through a node it
# makes, and a host that forbids BPF makes `create` fail, leaving nothing behind.
. "$(dirname "$0")/runtime-lib.sh"
SRC=$RT_HERE/..
TMP=$(mktemp -d /tmp/paas-rt-dev2.XXXXXX)
CG=/paas-devtest-$$
ROOT=$TMP/root
LOOP=
cleanup() {
  local id
  for id in $(ls "$ROOT" 2>/dev/null); do
    PAAS_CGROUP_ROOT=$UNIFIED "$PAAS_RUNTIME" --root "$ROOT" delete --force "$id" >/dev/null 2>&1
  done
  cgroup_cleanup "$CG"
  [ -z "$LOOP" ] || losetup --detach "$LOOP"
  rm -rf "$TMP"
}
UNIFIED=
trap cleanup EXIT

T=$TMP/devices-v2-test
if ! cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$SRC/src/common" -I"$SRC/src/runtime" \
    $(pkg-config --cflags jansson) -o "$T" "$RT_HERE/runtime-devices-v2-test.c" \
    "$SRC/src/runtime/cgroup-v2-devices.c" "$SRC"/src/common/*.c 2>"$TMP/cc.log"; then
  not_ok "build the device program test"; cat "$TMP/cc.log"; exit 1
fi
ok "build the device program test"
"$T" compile || T_FAILS=$((T_FAILS + 1))

[ "$(id -u)" = 0 ] || { skip "device programs on a real cgroup" "needs root"; exit $((T_FAILS > 0)); }
for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
  [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ] && { UNIFIED=$d; break; }
done
[ -n "$UNIFIED" ] || { skip "device programs on a real cgroup" "no cgroup2 mount"; exit $((T_FAILS > 0)); }

# The host's "disk": a loop device over a file holding a secret, and a node of our own for it.
printf 'HOST-SECRET-%s\n' $$ >"$TMP/disk"
truncate -s 1M "$TMP/disk"
LOOP=$(losetup --find --show "$TMP/disk") || { not_ok "losetup"; LOOP=; exit 1; }
MAJ=$((0x$(stat -c %t "$LOOP"))) MIN=$((0x$(stat -c %T "$LOOP")))
mkdir -p "$TMP/nodes"
mknod "$TMP/nodes/disk" b "$MAJ" "$MIN"
mkdir -p "$UNIFIED$CG/prog"
"$T" kernel "$UNIFIED$CG/prog" "$TMP/nodes/disk" || T_FAILS=$((T_FAILS + 1))
rmdir "$UNIFIED$CG/prog"

[ -x "$PAAS_RUNTIME" ] || { not_ok "paas-runtime built at $PAAS_RUNTIME"; exit 1; }
make_rootfs "$TMP/rootfs"
B=$TMP/bundle
mkdir -p "$B"
ln -s ../rootfs "$B/rootfs"
N=0
# Docker's default device policy (deny all, then the runtime's defaults) plus CAP_MKNOD, a
# default capability of Docker and of paas.
MKNOD='.process.capabilities.bounding+=["CAP_MKNOD"] | .process.capabilities.effective+=["CAP_MKNOD"] | .process.capabilities.permitted+=["CAP_MKNOD"]'
ATTACK='echo x >/dev/null && echo null-ok; mknod /tmp/disk b '"$MAJ $MIN"' && echo mknod-ok
head -c 12 /tmp/disk 2>/tmp/err; echo " rc=$?"; cat /tmp/err'

# container FILTER: runs ATTACK on the v2 backend; its output in $OUT.
container() {
  N=$((N + 1))
  CFG_FILTER="$MKNOD | $1" make_config "$CG/c$N" sh -c "$ATTACK" >"$B/config.json"
  # /tmp without nodev: the node must be refused by the device policy, not by the mount.
  jq_edit "$B/config.json" '(.mounts[] | select(.destination == "/tmp") | .options) = ["nosuid","mode=1777"]'
  OUT=$(cd "$B" && PAAS_CGROUP_ROOT=$UNIFIED timeout 30 "$PAAS_RUNTIME" --root "$ROOT" run "c$N" 2>&1 </dev/null)
}

attack_refused() {
  container '.'
  case "$OUT" in
    *null-ok*mknod-ok*" rc=1"*"Operation not permitted"*) ;;
    *) echo "output: $OUT"; return 1 ;;
  esac
  case "$OUT" in *HOST-SECRET*) echo "read the host's disk: $OUT"; return 1 ;; esac
}
check "v2 only: a node made with CAP_MKNOD for the host's disk cannot be read; /dev/null can" attack_refused

allowed() {
  container ".linux.resources.devices += [{allow: true, type: \"b\", major: $MAJ, minor: $MIN, access: \"r\"}]"
  case "$OUT" in *"HOST-SECRET- rc=0"*) ;; *) echo "output: $OUT"; return 1 ;; esac
}
check "v2 only: an allow rule for the loop device's major:minor lets the container read it" allowed

privileged() { # what --privileged asks for: allow everything (an 'a' rule resets to allow-all)
  container '.linux.resources.devices = [{allow: true, access: "rwm"}]'
  case "$OUT" in *"HOST-SECRET- rc=0"*) ;; *) echo "output: $OUT"; return 1 ;; esac
}
check "v2 only: an allow-all rule (--privileged) reads it" privileged

# Fail closed: on a host that forbids BPF (here bpf(2) fails with EPERM under a seccomp
# filter), create fails with one line naming the devices policy and leaves nothing.
fail_closed() {
  local id=nobpf err rc problems=""
  make_config "$CG/$id" sh -c 'exit 0' >"$B/config.json"
  (cd "$B" && PAAS_CGROUP_ROOT=$UNIFIED timeout 20 "$T" no-bpf "$PAAS_RUNTIME" --root "$ROOT" \
    create "$id" >/dev/null 2>"$TMP/stderr" </dev/null)
  rc=$?
  err=$(cat "$TMP/stderr")
  echo "# $err"
  [ "$rc" -ne 0 ] || problems+=" exit status 0;"
  [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] || problems+=" not one line on stderr;"
  case "$err" in
    "paas-runtime: "*"apply \`linux.resources.devices\` to cgroup \`$UNIFIED$CG/$id\`: load the device cgroup program"*"Operation not permitted") ;;
    *) problems+=" message;" ;;
  esac
  [ ! -e "$UNIFIED$CG/$id" ] || problems+=" cgroup left;"
  [ -z "$(ls -A "$ROOT" 2>/dev/null)" ] || problems+=" state left: $(ls -A "$ROOT");"
  [ -z "$(procs_with "--root $ROOT")" ] || problems+=" process left;"
  [ "$rc" -ne 0 ] || PAAS_CGROUP_ROOT=$UNIFIED "$PAAS_RUNTIME" --root "$ROOT" delete --force "$id" >/dev/null 2>&1
  [ -z "$problems" ] || { echo "$problems"; return 1; }
}
check "v2 only: without BPF, create fails closed and leaves no cgroup, state or process" fail_closed
exit $((T_FAILS > 0))
