#!/usr/bin/env bash
# paas-shim lifecycle: start errors reach the caller, exit code / signal / OOM kill recorded,
# the shim outlives its caller, SIGTERM to the shim stops the container for good, stdin,
# RSS under 1 MiB. Runs once per available runtime.
set -u
. "$(dirname "$0")/shim-lib.sh"
shim_setup
skip_missing_runtimes

alive() { kill -0 "$1" 2>/dev/null; }
exit_is() { [ "$(jfield "$(state_dir "$1" "$2")/exit.json" "$3")" = "$4" ]; }

while read -r rt _; do
  diag_mark "$rt"
  # --- start failure: the caller gets the runtime's message and a non-zero status -----------
  make_bundle "$rt" missing '["/bin/does-not-exist"]' >/dev/null
  start_shim "$rt" missing
  check "[$rt] failed start: non-zero status" test "$SHIM_RC" != 0
  check "[$rt] failed start: message names the container (got: ${SHIM_OUT:0:200})" \
    grep -q "container \`$(ctr_id "$rt" missing)\`" <<<"$SHIM_OUT"
  check "[$rt] failed start: status.json says failed" status_is "$rt" missing failed
  check "[$rt] failed start: no shim left" wait_until 5 shim_gone "$rt" missing

  # --- exit code ---------------------------------------------------------------------------
  make_bundle "$rt" exit3 '["sh","-c","exit 3"]' >/dev/null
  start_shim "$rt" exit3
  check "[$rt] start prints the container pid" grep -qE '^started pid [0-9]+$' <<<"$SHIM_OUT"
  wait_until 10 shim_gone "$rt" exit3
  f=$(state_dir "$rt" exit3)/exit.json
  check "[$rt] exit code 3 recorded" exit_is "$rt" exit3 .exitCode 3
  check "[$rt] no signal, not OOM-killed" \
    test "$(jq -c '[.signal, .oomKilled, .status, .restartCount]' "$f")" = '[null,false,"exited",0]'
  check "[$rt] status.json final" test \
    "$(jq -c '[.status,.pid,.exitCode]' "$(state_dir "$rt" exit3)/status.json")" = '["exited",0,3]'
  check "[$rt] shim.pid removed when the shim exits" test ! -e "$(state_dir "$rt" exit3)/shim.pid"

  # --- signal: forwarded SIGHUP kills a process that is not a pid-namespace init ---------------
  make_bundle "$rt" hup '["sleep","600"]' '.linux.namespaces |= map(select(.type != "pid"))' >/dev/null
  start_shim "$rt" hup
  pid=$(shim_pid "$rt" hup)
  kill -HUP "$pid"
  wait_until 10 shim_gone "$rt" hup
  check "[$rt] signal recorded (HUP, 129)" \
    test "$(jq -c '[.signal,.exitCode]' "$(state_dir "$rt" hup)/exit.json")" = '["HUP",129]'

  # --- OOM kill ----------------------------------------------------------------------------
  make_bundle "$rt" oom '["tail","/dev/zero"]' '.linux.resources.memory = {limit: 33554432}' >/dev/null
  start_shim "$rt" oom
  wait_until 30 shim_gone "$rt" oom
  check "[$rt] OOM kill recorded (got: $(cat "$(state_dir "$rt" oom)/exit.json" 2>/dev/null))" \
    test "$(jq -c '[.oomKilled,.signal,.exitCode]' "$(state_dir "$rt" oom)/exit.json")" = '[true,"KILL",137]'

  # --- the caller dies; the shim and the container live on -----------------------------------
  make_bundle "$rt" orphan '["sleep","600"]' >/dev/null
  STARTED_IDS+=("$rt orphan")
  flag=$T/orphan-$rt.started
  setsid bash -c '"$0" --runtime "$1" --runtime-root "$2" --bundle "$3" --id "$4" --state-dir "$5" \
      --stop-timeout 2 >/dev/null 2>&1 && touch "$6"; exec sleep 600' "$SHIM" "$(runtime_path "$rt")" "$T/rt-$rt" \
    "$T/bundles/$rt-orphan" "$(ctr_id "$rt" orphan)" "$(state_dir "$rt" orphan)" "$flag" &
  caller=$!
  wait_until 20 test -e "$flag"
  kill -KILL -- -"$caller" 2>/dev/null # the caller's whole process group
  wait "$caller" 2>/dev/null
  spid=$(shim_pid "$rt" orphan)
  cpid=$(cat "$(state_dir "$rt" orphan)/container.pid" 2>/dev/null)
  check "[$rt] caller killed: shim still running" alive "${spid:-0}"
  check "[$rt] caller killed: container still running" alive "${cpid:-0}"
  check "[$rt] shim is in its own session" \
    test "$(ps -o sid= -p "${spid:-0}" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')"
  check "[$rt] status.json names both pids" test \
    "$(jq -c '[.status,.shimPid,.pid]' "$(state_dir "$rt" orphan)/status.json")" = "[\"running\",$spid,$cpid]"

  # --- one shim per state directory ---------------------------------------------------------
  start_shim "$rt" orphan
  check "[$rt] a second shim on the same state dir is refused (got: $SHIM_OUT)" \
    test "$SHIM_RC" != 0 -a -n "$(grep -o 'another shim' <<<"$SHIM_OUT")"
  check "[$rt] ... and leaves the first one's state alone" test \
    "$(jq -c '[.status,.shimPid]' "$(state_dir "$rt" orphan)/status.json"):$(shim_pid "$rt" orphan)" \
    = "[\"running\",$spid]:$spid"

  # --- RSS ---------------------------------------------------------------------------------
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/${spid:-0}/status" 2>/dev/null)
  check "[$rt] shim RSS under 1 MiB (VmRSS ${rss:-?} kB)" test "${rss:-99999}" -lt 1024

  # --- stop: found from the state dir; sleep as pid 1 ignores SIGTERM -> SIGKILL after timeout
  kill -TERM "$spid"
  check "[$rt] SIGTERM: status stopping" wait_until 5 status_is "$rt" orphan stopping
  check "[$rt] SIGTERM: container killed after the stop timeout" wait_until 20 shim_gone "$rt" orphan
  check "[$rt] stop recorded (KILL, stoppedByUser)" test \
    "$(jq -c '[.signal,.stoppedByUser,.status]' "$(state_dir "$rt" orphan)/exit.json")" = '["KILL",true,"exited"]'

  # --- stop forwards SIGTERM and does not restart even under "always" -----------------------
  make_bundle "$rt" stop '["sh","-c","trap \"echo got-term; exit 143\" TERM; echo ready; while :; do sleep 0.1; done"]' >/dev/null
  start_shim "$rt" stop --restart always --stop-timeout 30
  dir=$(state_dir "$rt" stop)
  wait_until 10 grep -q ready "$dir/container.log"
  kill -TERM "$(shim_pid "$rt" stop)"
  wait_until 20 shim_gone "$rt" stop
  check "[$rt] SIGTERM forwarded to the container" grep -q got-term "$dir/container.log"
  check "[$rt] exit after SIGTERM recorded, no restart" test \
    "$(jq -c '[.exitCode,.status,.restartCount,.stoppedByUser]' "$dir/exit.json")" = '[143,"exited",0,true]'
  check "[$rt] status.json after stop" test \
    "$(jq -c '[.status,.restartCount,.stoppedByUser]' "$dir/status.json")" = '["exited",0,true]'

  # --- stdin -------------------------------------------------------------------------------
  make_bundle "$rt" stdin '["sh","-c","while read -r l; do echo \"got:$l\"; done; echo stdin-closed"]' >/dev/null
  start_shim "$rt" stdin --stdin
  dir=$(state_dir "$rt" stdin)
  if [ -p "$dir/stdin" ]; then
    printf 'one\ntwo\n' >"$dir/stdin"
    wait_until 10 shim_gone "$rt" stdin
  fi
  check "[$rt] --stdin: fifo lines reach the container, EOF closes its stdin" test \
    "$(jq -r .l "$dir/container.log" 2>/dev/null | tr '\n' ' ')" = "got:one got:two stdin-closed "

  check "[$rt] nothing left behind (shims, containers, cgroups)" leftovers "$rt"
done < <(shim_runtimes)
diag_mark
