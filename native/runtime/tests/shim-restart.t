#!/usr/bin/env bash
# paas-shim restart policies: no, on-failure[:N], always; exponential back-off; a stop
# request ends restarting. Runs once per available runtime.
set -u
. "$(dirname "$0")/shim-lib.sh"
shim_setup
skip_missing_runtimes

runs() { jq -r 'select(.l=="run") | .t' "$1/container.log" 2>/dev/null | wc -l; }
restart_count_at_least() { [ "$(jfield "$(state_dir "$1" "$2")/status.json" .restartCount)" -ge "$3" ] 2>/dev/null; }

while read -r rt _; do
  diag_mark "$rt"
  # --- no ----------------------------------------------------------------------------------
  make_bundle "$rt" no '["sh","-c","echo run; exit 1"]' >/dev/null
  start_shim "$rt" no --restart no
  dir=$(state_dir "$rt" no)
  wait_until 10 shim_gone "$rt" no
  check "[$rt] no: one run, restartCount 0" test \
    "$(runs "$dir"):$(jfield "$dir/exit.json" '"\(.restartCount):\(.status)"')" = "1:0:exited"

  # --- on-failure:3 ------------------------------------------------------------------------
  make_bundle "$rt" onfail '["sh","-c","echo run; exit 2"]' >/dev/null
  start_shim "$rt" onfail --restart on-failure:3
  dir=$(state_dir "$rt" onfail)
  check "[$rt] on-failure:3: the shim gives up" wait_until 30 shim_gone "$rt" onfail
  check "[$rt] on-failure:3: exactly 4 runs (got $(runs "$dir"))" test "$(runs "$dir")" = 4
  check "[$rt] on-failure:3: exit.json restartCount 3, exited" test \
    "$(jq -c '[.restartCount,.status,.exitCode]' "$dir/exit.json")" = '[3,"exited",2]'
  check "[$rt] on-failure:3: status.json exited, restartCount 3" test \
    "$(jq -c '[.status,.restartCount,.restartPolicy]' "$dir/status.json")" = '["exited",3,"on-failure:3"]'
  delays=$(grep -o 'in [0-9]* ms' "$dir/shim.log" | awk '{print $2}' | tr '\n' ' ')
  check "[$rt] back-off doubles: 100 200 400 ms (got: $delays)" test "$delays" = "100 200 400 "
  first=$(jq -r 'select(.l=="run") | .t' "$dir/container.log" | head -n1)
  last=$(jq -r 'select(.l=="run") | .t' "$dir/container.log" | tail -n1)
  span=$(($(date -d "$last" +%s%N) - $(date -d "$first" +%s%N)))
  check "[$rt] back-off really waited (first to last run: $((span / 1000000)) ms >= 700)" \
    test "$span" -ge 700000000

  # --- on-failure: a clean exit is not a failure ------------------------------------------
  make_bundle "$rt" onfail0 '["sh","-c","echo run; exit 0"]' >/dev/null
  start_shim "$rt" onfail0 --restart on-failure
  dir=$(state_dir "$rt" onfail0)
  wait_until 10 shim_gone "$rt" onfail0
  check "[$rt] on-failure: exit 0 is not restarted" test "$(runs "$dir")" = 1

  # --- always: restarts after exit 0 until stopped -----------------------------------------
  make_bundle "$rt" always '["sh","-c","echo run; exit 0"]' >/dev/null
  start_shim "$rt" always --restart always
  dir=$(state_dir "$rt" always)
  check "[$rt] always: restarts after exit 0" wait_until 20 restart_count_at_least "$rt" always 3
  kill -TERM "$(shim_pid "$rt" always)"
  check "[$rt] always: SIGTERM ends the shim" wait_until 20 shim_gone "$rt" always
  n1=$(runs "$dir")
  sleep 1
  check "[$rt] always: no run after the stop ($n1 runs)" test "$(runs "$dir")" = "$n1"
  check "[$rt] always: final state exited, stoppedByUser" test \
    "$(jq -c '[.status,.stoppedByUser]' "$dir/exit.json"):$(jq -c '[.status,.stoppedByUser,.pid]' "$dir/status.json")" \
    = '["exited",true]:["exited",true,0]'

  # --- unless-stopped: restarts a running container; a stop while waiting to restart ----------
  make_bundle "$rt" unless '["sh","-c","echo run; sleep 0.3; exit 5"]' >/dev/null
  start_shim "$rt" unless --restart unless-stopped
  dir=$(state_dir "$rt" unless)
  check "[$rt] unless-stopped: restarts" wait_until 20 restart_count_at_least "$rt" unless 1
  wait_until 10 status_is "$rt" unless restarting
  kill -TERM "$(shim_pid "$rt" unless)"
  check "[$rt] unless-stopped: stop during back-off ends the shim" wait_until 10 shim_gone "$rt" unless
  check "[$rt] unless-stopped: exit.json no longer says restarting" test \
    "$(jq -c '[.status,.stoppedByUser,.exitCode]' "$dir/exit.json")" = '["exited",true,5]'

  check "[$rt] nothing left behind (shims, containers, cgroups)" leftovers "$rt"
done < <(shim_runtimes)
diag_mark
