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

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$TOP/build/bench"
cd "$TOP"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi >/dev/null
fi
mkdir -p "$BUILD"
cd "$BUILD"
if [ ! -f Makefile ] || [ "$TOP/configure" -nt config.status ]; then
	"$TOP/configure" -q CFLAGS="-O2 -g"
fi
make -s -j2 tf-calendar.fcgi tf-admin tf-sync >/dev/null
cd "$TOP"
# Debian's python3 (radicale, python3-caldav) even when another python3 comes first in PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$TOP/bench/caldav-bench.py" --builddir "$BUILD" --events "${EVENTS:-5000}" --timeout "${TIMEOUT:-300}"
