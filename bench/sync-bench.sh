#!/bin/sh
# sync-bench.sh: sync benchmark of one provider (google|outlook): tf-sync over 2,000 connections against the provider's fake with 50 ms added latency per request, wall time next to the ideal.
#
# Usage: bench/sync-bench.sh google|outlook   (env: CONNECTIONS=2000 LATENCY_MS=50 CONCURRENCY="4 16" EVENTS=1
#                                              BENCH_BUILD=build/bench)
# bench/google.sh and bench/outlook.sh are this script with the provider filled in.
# Builds an optimised, sanitizer-free tree in BENCH_BUILD (default build/bench, as bench/web.sh,
# bench/caldav.sh), then runs bench/sync-bench.py: a private MariaDB, the provider's fake
# (tests/fakes/google.py or tests/fakes/microsoft.py) with LATENCY_MS per request, CONNECTIONS
# doctors each with one connection (tokens from the fake's issue_tokens, Fernet-encrypted like the
# OAuth callback stores them), EVENTS busy events per calendar; then tf-sync over all of them: the
# first sync (Google: full list + push channel; Outlook: delta + subscription) at the first
# CONCURRENCY, an incremental sync (syncToken / deltaLink) at each CONCURRENCY
# (TF_SYNC_CONCURRENCY), and one after every access token expired at the fake (401, refresh, list)
# at the last CONCURRENCY. Prints wall time, requests (the fake's log and sync_runs.requests) and the
# ideal requests × latency ÷ concurrency. Exit 1 when a run failed, 2 on a usage error.
set -eu
. "$(dirname "$0")/lib.sh"

case "${1:-}" in
google|outlook) PROVIDER=$1 ;;
*) echo "usage: $0 google|outlook" >&2; exit 2 ;;
esac
BUILD=${BENCH_BUILD:-"$TOP/build/bench"}
bench_build "$BUILD" tf-admin tf-sync
set --
for c in ${CONCURRENCY:-4 16}; do
	set -- "$@" --concurrency "$c"
done
exec "$PY" "$TOP/bench/sync-bench.py" --provider "$PROVIDER" --builddir "$BUILD" \
	--connections "${CONNECTIONS:-2000}" --latency-ms "${LATENCY_MS:-50}" --events "${EVENTS:-1}" "$@"
