#!/bin/sh
# outlook.sh: Outlook benchmark: tf-sync over 2,000 Outlook connections against the fake Microsoft (tests/fakes/microsoft.py) with 50 ms added latency per request, wall time next to the ideal.
#
# Usage: bench/outlook.sh       (env: CONNECTIONS=2000 LATENCY_MS=50 CONCURRENCY="4 16" EVENTS=1 BENCH_BUILD=build/bench)
# bench/sync-bench.sh outlook: see there (first sync with calendarView/delta + a Graph subscription,
# incremental syncs with the stored deltaLink, one after every access token expired).
exec "$(dirname "$0")/sync-bench.sh" outlook
