#!/usr/bin/env bash
# Autoscale (#24) on a real `paas up` (one node on this host, two router workers): a Node app
# whose answers take 80 ms, web `--min 1 --max 8 --concurrency 5 --idle 30s`, under a step load
# through the router (wrk -c1 for 20 s, -c50 for 60 s, -c1 again), sampled every 500 ms: the
# reaction times up and down, an ASCII plot of connections and instances, the series as a CSV
# ($CSV, default /var/tmp/paas-bench-autoscale.csv); then each step's wrk summary and a wrk
# started on the app asleep (min 0): non-2xx answers and socket errors while it scales up,
# scales down and wakes (target 0 and 0; exits 1 otherwise). About 4 minutes; prints markdown
# tables. Uses temporary roots, a bridge of its own and loopback only; removes everything at
# the end. ACCESS_LOG=1 turns the router's access log on and prints, by phase, the requests
# not 2xx or slower than 500 ms.
#
#   e2e/bench/autoscale.sh            CSV=/tmp/step.csv e2e/bench/autoscale.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "autoscale: wrk is missing (apt-get install wrk)" >&2; exit 1; }
exec node --import tsx e2e/bench/autoscale-bench.ts
