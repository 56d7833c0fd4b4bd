#!/bin/sh
# google.sh: Google benchmark: tf-sync over 2,000 Google connections against the fake Google with 50 ms added latency per request, wall time next to the ideal.
#
# Usage: bench/google.sh        (env: CONNECTIONS=2000 LATENCY_MS=50 CONCURRENCY="4 16" EVENTS=1 BENCH_BUILD=build/bench)
# bench/sync-bench.sh google: see there (first sync with full list + events.watch channel,
# incremental syncs with the syncToken, one after every access token expired).
exec "$(dirname "$0")/sync-bench.sh" google
