#!/usr/bin/env bash
# Runs every executable tests/*.t (scripts or binaries). Each prints TAP-style lines:
#   ok - description | not ok - description | ok - description # SKIP reason
# Anything else is passed through as diagnostics. Prints one summary line at the end and
# exits non-zero if a test failed or a test file exited non-zero without reporting.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0 skip=0
for t in "$here"/*.t; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  echo "# $name"
  out=$(mktemp)
  "$t" >"$out" 2>&1
  rc=$?
  while IFS= read -r line; do
    case "$line" in
      "not ok"*) fail=$((fail + 1)); echo "$line" ;;
      "ok"*"# SKIP"*) skip=$((skip + 1)); echo "$line" ;;
      "ok"*) pass=$((pass + 1)); echo "$line" ;;
      *) echo "    $line" ;;
    esac
  done <"$out"
  rm -f "$out"
  if [ $rc -ne 0 ]; then echo "not ok - $name exited with status $rc"; fail=$((fail + 1)); fi
done
echo "native: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
