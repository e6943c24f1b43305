#!/usr/bin/env bash
# Add-ons on a real `paas up` (one node on this host): `paas addons:create postgres|redis` until
# the database accepts connections at its URL (target for PostgreSQL: < 5 s). Median of RUNS
# add-ons of each type (default 5), printed as a markdown table. Uses temporary roots, a bridge
# of its own and loopback only; removes everything at the end.
#
#   e2e/bench/addons.sh            RUNS=10 e2e/bench/addons.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node --import tsx e2e/bench/addons-bench.ts
