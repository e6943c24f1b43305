#!/usr/bin/env bash
# paas-proxy: loopback clients reach a target through it (small and large bodies, a
# half-closed request), bind and spec errors reach the ready fd, it dies with its parent
# (PDEATHSIG), and the shim owns it: started before the container, kept across a restart,
# stopped with the shim (SIGTERM) and gone with a SIGKILLed shim. Runs with paas-runtime only.
set -u
. "$(dirname "$0")/shim-lib.sh"
PROXY=${PAAS_PROXY:-$here/../build/paas-proxy}
PAAS_SHIM_RUNTIMES=${PAAS_SHIM_RUNTIMES:-paas-runtime}
shim_setup
[ -x "$PROXY" ] || { not_ok "$PROXY not built"; exit 0; }

# ports of our own: a kernel-chosen free port each
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup_pids() { local p; for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; }
trap 'cleanup_pids; shim_cleanup' EXIT

# --- a target: busybox httpd on 127.0.0.1 ----------------------------------------------------
www=$T/www
mkdir -p "$www"
echo hello-proxy >"$www/index.html"
head -c 3000000 /dev/urandom >"$www/big"
tport=$(free_port)
busybox httpd -f -p "127.0.0.1:$tport" -h "$www" &
PIDS+=($!)
wait_until 5 busybox wget -q -O /dev/null "http://127.0.0.1:$tport/"

# --- proxying ---------------------------------------------------------------------------------
pport=$(free_port)
"$PROXY" --id test-proxy --ready-fd 3 "tcp:127.0.0.1:$pport:127.0.0.1:$tport" 3>"$T/ready" &
proxy=$!
PIDS+=($proxy)
wait_until 5 grep -q . "$T/ready"
check "ready fd says ok (got: $(cat "$T/ready"))" test "$(cat "$T/ready")" = ok
check "a GET through the proxy" test "$(timeout 10 busybox wget -q -O- "http://127.0.0.1:$pport/")" = hello-proxy
timeout 30 busybox wget -q -O "$T/big.out" "http://127.0.0.1:$pport/big"
check "3 MB through the proxy, byte for byte" cmp -s "$www/big" "$T/big.out"
half=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 busybox nc 127.0.0.1 "$pport" | tail -n1)
check "a request ended by a half-close gets its answer (got: $half)" test "$half" = hello-proxy
getters=()
for i in 1 2 3 4 5 6 7 8; do
  timeout 30 busybox wget -q -O "$T/par$i" "http://127.0.0.1:$pport/big" &
  getters+=($!)
done
wait "${getters[@]}"
ok8=0; for i in 1 2 3 4 5 6 7 8; do cmp -s "$www/big" "$T/par$i" && ok8=$((ok8 + 1)); done
check "8 parallel downloads intact (got $ok8)" test "$ok8" = 8
check "no fd leaked after the connections closed" \
  test "$(ls /proc/$proxy/fd | wc -l)" -le 8

# --- a full fd table: connections past it are shed, not left to spin the loop ------------------
# With 16 descriptors the proxy holds a few pairs; the connections after them cannot be
# accepted (EMFILE) and the listener stays readable: without its reserve descriptor the proxy
# spun in epoll_wait and those clients hung in the backlog. Now each gets EOF at once, and the
# proxy serves again once the held clients go.
lport=$(free_port)
prlimit --nofile=16:16 "$PROXY" --id low "tcp:127.0.0.1:$lport:127.0.0.1:$tport" &
low=$!
PIDS+=($low)
wait_until 5 busybox wget -q -O /dev/null "http://127.0.0.1:$lport/"
shed=$(timeout 20 python3 - "$lport" <<'PY'
import select, socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(12)]
eof, deadline = set(), time.monotonic() + 3
while len(eof) < len(held) and time.monotonic() < deadline:
    ready, _, _ = select.select([s for s in held if s not in eof], [], [], 0.2)
    for s in ready:
        if s.recv(1) == b"":
            eof.add(s)
print(len(eof))
PY
)
check "connections past a full fd table are shed with EOF (got ${shed:-none} of 12)" \
  sh -c "[ '${shed:-0}' -ge 3 ] && [ '${shed:-0}' -lt 12 ]"
check "... and the proxy serves again once they are gone" \
  test "$(timeout 10 busybox wget -q -O- "http://127.0.0.1:$lport/")" = hello-proxy
kill -TERM "$low"

# --- errors -------------------------------------------------------------------------------------
out=$("$PROXY" --id t --ready-fd 1 "tcp:127.0.0.1:$pport:127.0.0.1:$tport" 2>/dev/null)
check "a bound port: error on the ready fd (got: $out)" \
  grep -q "^error bind \`127.0.0.1:$pport\`: Address already in use" <<<"$out"
out=$("$PROXY" --id t --ready-fd 1 "udp:127.0.0.1:1:127.0.0.1:2" 2>/dev/null)
check "udp is refused with a reason (got: $out)" grep -q "^error parse \`udp:.*only tcp" <<<"$out"
out=$("$PROXY" --id t --ready-fd 1 "tcp:127.0.0.1:99999:1.2.3.4:80" 2>/dev/null)
check "a bad port is refused (got: $out)" grep -q "^error parse" <<<"$out"
kill -TERM "$proxy"
check "SIGTERM ends it" wait_until 5 sh -c "! kill -0 $proxy 2>/dev/null"

# --- PDEATHSIG: the parent SIGKILLed, the proxy goes too ----------------------------------------
pport2=$(free_port)
sh -c "\"$PROXY\" --id orphan tcp:127.0.0.1:$pport2:127.0.0.1:$tport & echo \$! >$T/orphan.pid; wait" &
parent=$!
PIDS+=($parent)
wait_until 5 test -s "$T/orphan.pid"
orphan=$(cat "$T/orphan.pid")
PIDS+=($orphan)
wait_until 5 busybox wget -q -O /dev/null "http://127.0.0.1:$pport2/"
kill -KILL "$parent"
check "parent SIGKILLed: the proxy is gone" wait_until 5 sh -c "! kill -0 $orphan 2>/dev/null"

# --- owned by the shim ----------------------------------------------------------------------
proxy_of() { # the pid of the paas-proxy whose parent is the shim of RT NAME
  local shim
  shim=$(shim_pid "$1" "$2") || return 1
  pgrep -P "$shim" -f "^paas-proxy --id $(ctr_id "$1" "$2") " | head -n1
}
while read -r rt _; do
  diag_mark "$rt"
  sport=$(free_port)
  make_bundle "$rt" pub '["sh","-c","sleep 0.5; exit 1"]' >/dev/null
  start_shim "$rt" pub --restart always --publish "tcp:127.0.0.1:$sport:127.0.0.1:$tport"
  check "[$rt] shim with --publish starts" test "$SHIM_RC" = 0
  p1=$(proxy_of "$rt" pub)
  check "[$rt] the shim runs a paas-proxy" test -n "$p1"
  check "[$rt] served while the shim runs" test "$(busybox wget -q -O- "http://127.0.0.1:$sport/")" = hello-proxy
  wait_until 20 sh -c "[ \$(jq -r .restartCount '$(state_dir "$rt" pub)/status.json') -ge 2 ]"
  check "[$rt] the same proxy across restarts" test "$(proxy_of "$rt" pub)" = "$p1"
  check "[$rt] still served" test "$(timeout 10 busybox wget -q -O- "http://127.0.0.1:$sport/")" = hello-proxy
  kill -TERM "$(shim_pid "$rt" pub)"
  check "[$rt] shim stopped: the proxy is gone" wait_until 20 shim_gone "$rt" pub
  check "[$rt] ... with it" sh -c "[ -n '$p1' ] && ! kill -0 '$p1' 2>/dev/null"
  check "[$rt] and the port is free" sh -c "! busybox wget -q -O /dev/null http://127.0.0.1:$sport/"

  make_bundle "$rt" pubkill '["sleep","600"]' >/dev/null
  start_shim "$rt" pubkill --publish "tcp:127.0.0.1:$sport:127.0.0.1:$tport"
  p2=$(proxy_of "$rt" pubkill)
  check "[$rt] a second shim gets the port again" test -n "$p2"
  kill -KILL "$(shim_pid "$rt" pubkill)"
  check "[$rt] shim SIGKILLed: the proxy is gone" wait_until 5 sh -c "[ -n '$p2' ] && ! kill -0 '$p2' 2>/dev/null"

  make_bundle "$rt" pubbusy '["sleep","600"]' >/dev/null
  start_shim "$rt" pubbusy --publish "tcp:127.0.0.1:$tport:127.0.0.1:1"
  check "[$rt] a port in use fails the start with the reason (got: ${SHIM_OUT:0:160})" \
    grep -q "publish on loopback: bind \`127.0.0.1:$tport\`: Address already in use" <<<"$SHIM_OUT"
  check "[$rt] ... and nothing runs" wait_until 5 shim_gone "$rt" pubbusy
done < <(shim_runtimes)
diag_mark
