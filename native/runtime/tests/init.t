#!/usr/bin/env bash
# paas-init: exit status, signal forwarding and zombie reaping, as pid 1 of a new pid
# namespace (unshare) the way a container runs it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
init=$here/../build/paas-init
[ -x "$init" ] || { echo "not ok - paas-init is built"; exit 1; }
ns() { timeout 20 unshare --fork --pid --mount-proc "$init" -- "$@"; }
check() { if [ "$1" = "$2" ]; then echo "ok - $3"; else echo "not ok - $3 (got '$1', want '$2')"; fi; }

ns sh -c 'exit 7'
check "$?" 7 "passes the command's exit status through"

ns /no/such/command 2>/dev/null
check "$?" 127 "127 for a command that does not exist"

ns sh -c 'kill -KILL $$'
check "$?" 137 "128+N when a signal kills the command"

# The command ignores nothing: pid 1 forwards TERM, the child (not pid 1) dies of it.
out=$(mktemp)
timeout 20 unshare --fork --pid --mount-proc "$init" -- sleep 30 &
outer=$!
sleep 0.5
kill -TERM "$(pgrep -P "$(pgrep -P $outer)" -x paas-init 2>/dev/null || pgrep -n -x paas-init)" 2>/dev/null
wait $outer
check "$?" 143 "forwards SIGTERM to the command"
rm -f "$out"

# Orphans re-parented to pid 1 are reaped: a shell leaves 20 background children that exit
# on their own; none is left a zombie while the command still runs.
zombies=$(ns sh -c 'for i in $(seq 20); do (sleep 0.1 &) ; done; sleep 1; grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l')
check "$zombies" 0 "reaps re-parented orphans"

# Idle, pid 1 sleeps until a signal comes: it never wakes on a clock (a thousand idle
# containers' inits woke each second). Its voluntary context switches while the command
# sleeps stay at none or one (the start); a one-second tick would give two or more.
timeout 20 unshare --fork --pid --mount-proc "$init" -- sleep 4.0371 &
outer=$!
idle=""
for _ in $(seq 200); do
  idle=$(pgrep -x -f "$init -- sleep 4.0371" 2>/dev/null | head -1 || true)
  [ -n "$idle" ] && break
  sleep 0.02
done
sleep 0.3
before=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$idle/status" 2>/dev/null)
sleep 2.5
after=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$idle/status" 2>/dev/null)
wait $outer
check "$(( ${after:-99} - ${before:-0} <= 1 ))" 1 "sleeps while idle: no wake-up on a clock (${before:-?} -> ${after:-?} switches)"
