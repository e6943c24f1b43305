#!/usr/bin/env bash
# paas-shim log writer: JSON lines with stream tags and escapes, long lines split, partial
# lines flushed at EOF, size-based rotation. Runs once per available runtime.
set -u
. "$(dirname "$0")/shim-lib.sh"
shim_setup
skip_missing_runtimes

json_lines() { jq -e . "$1" >/dev/null; }
rfc3339nano='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$'

while read -r rt _; do
  diag_mark "$rt"
  # --- stream tags and escapes ---------------------------------------------------------------
  script='echo plain-out; echo plain-err >&2
printf "quote\" back\\\\ tab\t cr\r bell\a esc\033 del\177 utf8 é ü 日本 😀\n"
printf "bad\377utf8\n" >&2
printf "no-newline-at-eof"'
  make_bundle "$rt" escapes "$(jq -cn --arg s "$script" '["sh","-c",$s]')" >/dev/null
  start_shim "$rt" escapes
  check "[$rt] shim reports the start" test "$SHIM_RC" = 0 -a "${SHIM_OUT%% *}" = started
  dir=$(state_dir "$rt" escapes)
  wait_until 10 shim_gone "$rt" escapes
  log=$dir/container.log
  check "[$rt] every log line is a JSON object" json_lines "$log"
  check "[$rt] stdout line tagged stdout" \
    test "$(jq -r 'select(.l=="plain-out") | .s' "$log")" = stdout
  check "[$rt] stderr line tagged stderr" \
    test "$(jq -r 'select(.l=="plain-err") | .s' "$log")" = stderr
  want=$(printf 'quote" back\\ tab\t cr\r bell\a esc\033 del\177 utf8 é ü 日本 😀')
  got=$(jq -r 'select(.l | startswith("quote")) | .l' "$log")
  check "[$rt] quotes, backslash, control chars and UTF-8 round-trip" test "$got" = "$want"
  raw=$(grep quote "$log")
  check "[$rt] control chars are escaped in the file" \
    grep -qF '\u0007 esc\u001b del\u007f utf8 é ü 日本 😀' <<<"$raw"
  check "[$rt] invalid UTF-8 becomes U+FFFD" \
    test "$(jq -r 'select(.l|startswith("bad")) | .l' "$log")" = "bad�utf8"
  check "[$rt] partial line at EOF flushed with p:true" \
    test "$(jq -r 'select(.l=="no-newline-at-eof") | .p' "$log")" = true
  check "[$rt] timestamps are RFC 3339 with nanoseconds, UTC" \
    test "$(jq -r .t "$log" | grep -cvE "$rfc3339nano")" = 0

  # --- long lines --------------------------------------------------------------------------
  make_bundle "$rt" long '["sh","-c","head -c 40000 /dev/zero | tr \"\\\\0\" a; echo; echo after"]' >/dev/null
  start_shim "$rt" long
  wait_until 10 shim_gone "$rt" long
  log=$(state_dir "$rt" long)/container.log
  lens=$(jq -r 'select(.s=="stdout") | "\(.l|length):\(.p // false)"' "$log" | tr '\n' ' ')
  check "[$rt] a 40000-byte line is split at 16 KiB (got: $lens)" \
    test "$lens" = "16384:true 16384:true 7232:false 5:false "

  # --- rotation ----------------------------------------------------------------------------
  make_bundle "$rt" rotate '["sh","-c","for i in $(seq 1 300); do echo \"line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; done"]' >/dev/null
  start_shim "$rt" rotate --log-max-size 2k --log-max-files 3
  wait_until 10 shim_gone "$rt" rotate
  dir=$(state_dir "$rt" rotate)
  files=$(cd "$dir" && ls container.log* | tr '\n' ' ')
  check "[$rt] rotation keeps exactly 3 files (got: $files)" \
    test "$files" = "container.log container.log.1 container.log.2 "
  big=0
  for f in "$dir"/container.log*; do [ "$(stat -c %s "$f")" -le 2048 ] || big=1; done
  check "[$rt] rotated files stay under the max size" test $big = 0
  check "[$rt] the newest file ends with the last line" \
    test "$(tail -n1 "$dir/container.log" | jq -r .l | cut -d' ' -f1-2)" = "line 300"
  check "[$rt] lines continue across files" test \
    "$(( $(tail -n1 "$dir/container.log.1" | jq -r .l | cut -d' ' -f2) + 1 ))" = \
    "$(head -n1 "$dir/container.log" | jq -r .l | cut -d' ' -f2)"

  # --- the next shim of the same container (the engine's `start`): the log is kept ---------
  # The engine clears the state dir but the log before each start; the new shim appends and
  # carries the rotation on from the size of the file it finds.
  rerun() { # rerun ARGS_JSON: one more run on the state dir of "rerun"
    make_bundle "$rt" rerun "$1" >/dev/null
    find "$(state_dir "$rt" rerun)" -mindepth 1 -maxdepth 1 ! -name 'container.log*' -exec rm -rf {} + 2>/dev/null
    start_shim "$rt" rerun --log-max-size 2k --log-max-files 3
    wait_until 10 shim_gone "$rt" rerun
  }
  dir=$(state_dir "$rt" rerun)
  rerun '["sh","-c","echo first"]'
  rerun '["sh","-c","echo second"]'
  check "[$rt] a second run appends to the first run's log" \
    test "$(jq -r .l "$dir/container.log" | tr '\n' ' ')" = "first second "
  rerun '["sh","-c","for i in $(seq 1 300); do echo \"again $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; done"]'
  rerun '["sh","-c","for i in $(seq 1 20); do echo \"third $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; done"]'
  files=$(cd "$dir" && ls container.log* | tr '\n' ' ')
  check "[$rt] rotation across runs still keeps exactly 3 files (got: $files)" \
    test "$files" = "container.log container.log.1 container.log.2 "
  big=0
  for f in "$dir"/container.log*; do [ "$(stat -c %s "$f")" -le 2048 ] || big=1; done
  check "[$rt] files appended to by a later run stay under the max size" test $big = 0
  check "[$rt] the newest file ends with the last run's last line" \
    test "$(tail -n1 "$dir/container.log" | jq -r .l | cut -d' ' -f1-2)" = "third 20"

  # --- RSS after the worst case: 16 KiB records of bytes that escape to six ----------------
  make_bundle "$rt" heavy '["sh","-c","for i in $(seq 1 20); do head -c 40000 /dev/zero | tr \"\\0\" \"\\1\"; echo; done; echo done; sleep 600"]' >/dev/null
  start_shim "$rt" heavy --stop-signal KILL
  dir=$(state_dir "$rt" heavy)
  wait_until 20 grep -q '"l":"done"' "$dir/container.log"
  pid=$(shim_pid "$rt" heavy)
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/${pid:-0}/status" 2>/dev/null)
  check "[$rt] RSS under 1 MiB after 800 KB of worst-case escapes (VmRSS ${rss:-?} kB, log $(stat -c %s "$dir/container.log") bytes)" \
    test "${rss:-99999}" -lt 1024
  kill -TERM "${pid:-0}" 2>/dev/null
  wait_until 10 shim_gone "$rt" heavy

  check "[$rt] nothing left behind (shims, containers, cgroups)" leftovers "$rt"
done < <(shim_runtimes)
diag_mark
