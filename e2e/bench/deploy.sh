#!/usr/bin/env bash
# The platform's deploy targets on a real `paas up` (one node on this host): git push to live
# with a cached rebuild (target < 5 s) and scale web 1 -> 10 until all ten serve (< 3 s).
# Median of RUNS runs (default 5), printed as a markdown table. Uses temporary roots, a bridge
# of its own and loopback only; removes everything at the end.
#
#   e2e/bench/deploy.sh            RUNS=10 e2e/bench/deploy.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node --import tsx e2e/bench/deploy-bench.ts
