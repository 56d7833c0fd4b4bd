#!/bin/sh
# caldav.sh: CalDAV benchmark: tf-sync's full and incremental sync of a 5,000-event Radicale calendar, and python3-caldav fetching the same.
#
# Usage: bench/caldav.sh         (env: EVENTS=5000 TIMEOUT=300)
# Builds an optimised, sanitizer-free tree in build/bench (as bench/web.sh), then runs bench/caldav-bench.py:
# a stack (MariaDB, the app, nginx, Radicale via tests/lib/radicale.py) with EVENTS events written
# straight into Radicale's storage, Radicale's item cache warmed by a first listing (a cold listing
# of 5,000 items takes long), the calendar connected through the app's API, TF_HTTP_TIMEOUT=TIMEOUT;
# then tf-sync --integration ID: full sync, nothing changed, incremental after one change (seconds and
# requests, from sync_runs.requests), and Debian's python3-caldav (the seed's library): principal ->
# calendar -> events(), objects_by_sync_token in full and after one change (seconds; requests counted
# in Radicale's log). Exit 1 when a step failed.
set -eu
. "$(dirname "$0")/lib.sh"

BUILD="$TOP/build/bench"
bench_build "$BUILD" tf-calendar.fcgi tf-admin tf-sync
exec "$PY" "$TOP/bench/caldav-bench.py" --builddir "$BUILD" --events "${EVENTS:-5000}" --timeout "${TIMEOUT:-300}"
