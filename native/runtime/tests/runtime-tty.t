#!/usr/bin/env bash
# Terminals (process.terminal, exec --tty) and the --console-socket protocol, side by side
# under paas-runtime, runc and crun (via crun-hybrid): build/test-recvtty (tests/recvtty.c)
# listens on the socket, receives the pty master, writes the input and collects what the
# container writes. Terminal output is compared without its carriage returns (ONLCR).
. "$(dirname "$0")/runtime-lib.sh"

[ "$(id -u)" = 0 ] || { skip "terminal tests" "needs root"; exit 0; }
[ -x "$PAAS_RUNTIME" ] || { not_ok "paas-runtime built at $PAAS_RUNTIME"; exit 1; }
RECVTTY=${RECVTTY:-$RT_HERE/../build/test-recvtty}
make -s -C "$RT_HERE/.." build/test-recvtty >/dev/null || { not_ok "build test-recvtty"; exit 1; }

TMP=$(mktemp -d /tmp/paas-rt-tty.XXXXXX)
chmod 755 "$TMP" # a non-root container user must reach the rootfs
CG=/paas-test-tty-$$
RECEIVERS=()
cleanup() {
  local p
  for p in "${RECEIVERS[@]}"; do kill -9 "$p" 2>/dev/null; done
  delete_containers "$TMP"
  wait 2>/dev/null
  cgroup_cleanup "$CG"
  rm -rf "$TMP"
}
trap cleanup EXIT
make_rootfs "$TMP/rootfs"

present_runtimes

N=0
# bundle_for RUNTIME JQ-FILTER ARGS...: a fresh bundle in $BUNDLE (terminal on unless the
# filter says otherwise), a fresh container id in $ID and socket path in $SOCK.
bundle_for() {
  local r=$1 filter=$2; shift 2
  N=$((N + 1))
  BUNDLE=$TMP/b-$r-$N ID=t$N SOCK=$TMP/s$N.sock
  mkdir -p "$BUNDLE"
  CFG_ROOT=$TMP/rootfs CFG_FILTER=".process.terminal=true | ${filter:-.}" \
    make_config "$CG/$r-$N" "$@" >"$BUNDLE/config.json"
}

# receive INPUT: starts the receiver on $SOCK (output in $SOCK.out, the fd's name in
# $SOCK.name) and waits until it listens. The last receiver's socket is removed first: one
# $SOCK serves several receivers (tty_create runs in a subshell, so N does not move on there;
# exec_tty receives twice), and a stale socket passed for a listening one, so the runtime
# connected to nobody (ECONNREFUSED, once in 30 runs)
receive() {
  rm -f "$SOCK" "$SOCK.tmp"
  "$RECVTTY" -t 20 -i "$1" -n "$SOCK.name" "$SOCK" >"$SOCK.out" 2>"$SOCK.err" &
  RECEIVER=$!
  RECEIVERS+=("$RECEIVER")
  for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.02; done
  echo "receiver not listening: $(cat "$SOCK.err")"; return 1
}

# $OUT: the receiver's output once the terminal is closed by its last process, without CRs.
# Not in a $(...) subshell: only this shell can wait for the receiver.
received() {
  wait "$RECEIVER" || echo "receiver failed: $(cat "$SOCK.err")"
  OUT=$(tr -d '\r' <"$SOCK.out")
}

# tty_create RUNTIME JQ-FILTER INPUT ARGS...: create (the master goes to the receiver), start,
# prints what the terminal showed.
tty_create() {
  local r=$1 filter=$2 input=$3; shift 3
  local cmd; cmd=$(runtime_cmd "$r")
  bundle_for "$r" "$filter" "$@"
  receive "$input" || return 1
  (cd "$BUNDLE" && $cmd --root "$TMP/root-$r" create --console-socket "$SOCK" "$ID" </dev/null) || return 1
  $cmd --root "$TMP/root-$r" start "$ID" || return 1
  received
  printf '%s\n' "$OUT"
  $cmd --root "$TMP/root-$r" delete --force "$ID" >/dev/null 2>&1
}

# same_everywhere DESC EXPECTED JQ-FILTER INPUT ARGS...
same_everywhere() {
  local desc=$1 expected=$2 filter=$3 input=$4; shift 4
  local r got
  for r in "${RUNTIMES[@]}"; do
    got=$(tty_create "$r" "$filter" "$input" "$@" 2>&1)
    if [ "$got" = "$expected" ]; then ok "$r: $desc"
    else not_ok "$r: $desc"; echo "expected: $(echo "$expected" | tr '\n' '|')"; echo "got:      $(echo "$got" | tr '\n' '|')"; fi
  done
}

same_everywhere "the process's terminal is /dev/pts/0, stdin a tty, /dev/console bound to it" \
  $'/dev/pts/0\nstdin-tty\nstdout-tty\n88:0' '' '' \
  sh -c 'tty; test -t 0 && echo stdin-tty; test -t 1 && echo stdout-tty; stat -c %t:%T /dev/console'
same_everywhere "consoleSize gives the window size" $'33 111' \
  '.process.consoleSize={height:33,width:111}' '' stty size
same_everywhere "input written to the master is read by the process" $'hello\ngot:hello' \
  '' $'hello\n' sh -c 'read x; echo got:$x'
same_everywhere "it is the controlling terminal (of a session it leads)" $'ctty\nleader' '' '' \
  sh -c 'exec 3</dev/tty && echo ctty; [ "$(cut -d" " -f6 /proc/$$/stat)" = $$ ] && echo leader'
same_everywhere "a non-root user owns its terminal (the group stays tty)" $'65534 5' \
  '.process.user={uid:65534,gid:65534}' '' sh -c 'stat -c "%u %g" $(tty)'
same_everywhere "in a user namespace (the terminal owned by the mapped root)" $'/dev/pts/0\n0 0' \
  '.linux.namespaces+=[{type:"user"}] | .linux.uidMappings=[{containerID:0,hostID:100000,size:65536}] | .linux.gidMappings=[{containerID:0,hostID:100000,size:65536}] | .mounts=[.mounts[] | if .destination=="/dev/pts" then .options-=["gid=5"] else . end]' \
  '' sh -c 'tty; stat -c "%u %g" $(tty)'

name_sent() {
  local r=$1
  tty_create "$r" '' '' true >/dev/null || return 1
  [ "$(cat "$SOCK.name")" = /dev/ptmx ] || { echo "name: $(cat "$SOCK.name")"; return 1; }
}
for r in paas runc; do
  [ -n "$(runtime_cmd $r)" ] && check "$r: the master comes with the name /dev/ptmx" name_sent "$r"
done

# nothing_left RUNTIME: no state dir and no cgroup of the last bundle.
nothing_left() {
  [ -z "$(ls "$TMP/root-$1" 2>/dev/null)" ] || { echo "state left: $(ls "$TMP/root-$1")"; return 1; }
  [ -z "$(cgroup_dirs "$CG/$1-$N")" ] || { echo "cgroup left: $(cgroup_dirs "$CG/$1-$N" | head -1)"; return 1; }
}

# A terminal without a console socket is refused by create (runc's rule), nothing created.
no_socket() {
  local r=$1 cmd err
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" '' true
  err=$(cd "$BUNDLE" && $cmd --root "$TMP/root-$r" create "$ID" 2>&1 </dev/null) && { echo "created"; return 1; }
  if [ "$r" = paas ]; then
    [ "$err" = "paas-runtime: invalid \`process.terminal\`: a terminal needs \`--console-socket PATH\` (the socket that receives the pty master)" ] \
      || { echo "error: $err"; return 1; }
  fi
  nothing_left "$r"
}
for r in "${RUNTIMES[@]}"; do check "$r: terminal without --console-socket refused" no_socket "$r"; done

# ... and a console socket for a process without a terminal (runc refuses it too).
socket_no_tty() {
  local r=$1 cmd err
  cmd=$(runtime_cmd "$r")
  bundle_for "$r" '.process.terminal=false' true
  receive '' || return 1
  err=$(cd "$BUNDLE" && $cmd --root "$TMP/root-$r" create --console-socket "$SOCK" "$ID" 2>&1 </dev/null) && { echo "created"; return 1; }
  if [ "$r" = paas ]; then
    [ "$err" = "paas-runtime: invalid \`--console-socket\`: the process has no terminal (\`process.terminal\` is false)" ] \
      || { echo "error: $err"; return 1; }
  fi
  kill "$RECEIVER" 2>/dev/null
  nothing_left "$r"
}
for r in paas runc; do
  [ -n "$(runtime_cmd $r)" ] && check "$r: --console-socket without a terminal refused" socket_no_tty "$r"
done

# Failures after the socket was reached leave nothing either: a socket nobody listens on,
# a container without devpts (its own /dev, empty).
unreachable() {
  local cmd err
  cmd=$(runtime_cmd paas)
  bundle_for paas '' true
  err=$(cd "$BUNDLE" && $cmd --root "$TMP/root-paas" create --console-socket "$TMP/nobody.sock" "$ID" 2>&1 </dev/null) && { echo "created"; return 1; }
  [ "$err" = "paas-runtime: connect \`--console-socket\` \`$TMP/nobody.sock\`: No such file or directory" ] || { echo "error: $err"; return 1; }
  nothing_left paas
}
check "paas: unreachable console socket fails create, nothing left" unreachable
no_devpts() {
  local cmd err
  cmd=$(runtime_cmd paas)
  mkdir -p "$TMP/emptydev"
  bundle_for paas ".mounts=[.mounts[] | select(.destination | startswith(\"/dev\") | not)] + [{destination:\"/dev\",type:\"bind\",source:\"$TMP/emptydev\",options:[\"rbind\"]}]" true
  receive '' || return 1
  err=$(cd "$BUNDLE" && $cmd --root "$TMP/root-paas" create --console-socket "$SOCK" "$ID" 2>&1 </dev/null) && { echo "created"; return 1; }
  kill "$RECEIVER" 2>/dev/null
  [ "$err" = "paas-runtime: open \`/dev/ptmx\` for the terminal (a devpts mount on /dev/pts is needed): No such file or directory" ] || { echo "error: $err"; return 1; }
  [ -z "$(procs_with "$BUNDLE")" ] || { echo "process left"; return 1; }
  nothing_left paas
}
check "paas: no devpts in the container fails create, nothing left" no_devpts

# run in the foreground with a console socket (runc wants --detach for that): the exit
# status passes through.
run_fg() {
  local out rc
  bundle_for paas '' sh -c 'read x; echo got:$x; exit 7'
  receive $'in\n' || return 1
  (cd "$BUNDLE" && timeout 20 "$PAAS_RUNTIME" --root "$TMP/root-paas" run --console-socket "$SOCK" "$ID" </dev/null)
  rc=$?
  received; out=$OUT
  [ "$rc" = 7 ] && [ "$out" = $'in\ngot:in' ] || { echo "rc=$rc out=$(echo "$out" | tr '\n' '|')"; return 1; }
  nothing_left paas
}
check "paas: run --console-socket in the foreground returns the exit status" run_fg

# exec --tty into a container without a terminal (paas in the foreground, returning the exit
# status; runc and crun with --detach); exec --process with terminal and consoleSize.
exec_tty() {
  local r=$1 cmd detach=() out rc
  cmd=$(runtime_cmd "$r")
  [ "$r" = paas ] || detach=(--detach)
  bundle_for "$r" '.process.terminal=false' sleep 100
  (cd "$BUNDLE" && $cmd --root "$TMP/root-$r" run --detach "$ID" </dev/null >/dev/null 2>&1) || { echo "run -d"; return 1; }
  receive $'typed\n' || return 1
  $cmd --root "$TMP/root-$r" exec --tty "${detach[@]}" --console-socket "$SOCK" "$ID" \
    sh -c 'read x; tty; test -t 0 && echo stdin-tty; echo got:$x; exit 5' </dev/null
  rc=$?
  received; out=$OUT
  [ "$out" = $'typed\n/dev/pts/0\nstdin-tty\ngot:typed' ] || { echo "out: $(echo "$out" | tr '\n' '|')"; return 1; }
  if [ "$r" = paas ]; then [ "$rc" = 5 ] || { echo "rc=$rc"; return 1; }; fi
  jq -n '{terminal:true,consoleSize:{height:12,width:34},args:["stty","size"],cwd:"/",env:["PATH=/bin"]}' >"$BUNDLE/process.json"
  receive '' || return 1
  $cmd --root "$TMP/root-$r" exec "${detach[@]}" --process "$BUNDLE/process.json" --console-socket "$SOCK" "$ID" </dev/null || { echo "exec --process"; return 1; }
  received; out=$OUT
  if [ "$out" != "12 34" ]; then
    # crun sets a detached exec's consoleSize after its process has started: now and then
    # busybox's `stty size` runs first, finds no size and says only this (about one run in
    # fifteen, crun 1.8). crun's race, not asserted; paas and runc set it before the exec
    [ "$r" = crun ] && [ "$out" = "stty: standard input" ] || { echo "exec --process: $out"; return 1; }
    echo "crun: its exec's consoleSize came after the process ran (crun's race)"
  fi
  $cmd --root "$TMP/root-$r" delete --force "$ID"
}
for r in "${RUNTIMES[@]}"; do check "$r: exec --tty and exec --process with terminal" exec_tty "$r"; done

exec_no_socket() {
  local err
  bundle_for paas '.process.terminal=false' sleep 100
  (cd "$BUNDLE" && "$PAAS_RUNTIME" --root "$TMP/root-paas" run --detach "$ID" </dev/null >/dev/null 2>&1) || return 1
  err=$("$PAAS_RUNTIME" --root "$TMP/root-paas" exec --tty "$ID" true 2>&1) && { echo "exec ran"; return 1; }
  "$PAAS_RUNTIME" --root "$TMP/root-paas" delete --force "$ID"
  [ "$err" = "paas-runtime: invalid \`process.terminal\`: a terminal needs \`--console-socket PATH\` (the socket that receives the pty master)" ] || { echo "error: $err"; return 1; }
}
check "paas: exec --tty without --console-socket refused" exec_no_socket

exit $((T_FAILS > 0))
