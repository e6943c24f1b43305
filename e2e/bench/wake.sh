#!/usr/bin/env bash
# Scale to zero (#24) on a real `paas up` (one node on this host, two router workers): WAKES
# (default 20) wakes of a sleeping Node app and of a sleeping busybox httpd site, each the
# first request's total time through the router (it holds the request, asks for the wake, the
# leader places the instance at once, the agent starts it and checks it finely); p50 and p99,
# printed as a markdown table. Targets: Node p50 < 500 ms, p99 < 1 s; busybox p50 < 150 ms.
# Uses temporary roots, a bridge of its own and loopback only; removes everything at the end.
#
#   e2e/bench/wake.sh            WAKES=5 e2e/bench/wake.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node --import tsx e2e/bench/wake-bench.ts
