#!/bin/sh
# booking.sh: booking benchmark: slots API requests/s (wrk through nginx) and booking latency p50/p99 with 50 concurrent clients.
#
# Usage: bench/booking.sh        (env: WORKERS=4 CLIENTS=50 BOOKINGS=1500 DOCTORS=10
#                                      DURATION=10s CONNECTIONS=16 THREADS=2)
# Builds an optimised, sanitizer-free tree in build/bench (as bench/web.sh), then runs bench/booking.py:
# a stack (MariaDB, spawn-fcgi with WORKERS workers, nginx from nginx.conf.example with the rate
# limits lifted, the SMTP sink), DOCTORS doctors; wrk against the slots API; CLIENTS threads booking
# BOOKINGS distinct free slots across days and doctors. Prints requests/s, latencies, 201/409 counts.
# Exit 1 when a request failed or fewer than 95 % of the bookings succeeded.
set -eu
. "$(dirname "$0")/lib.sh"

BUILD="$TOP/build/bench"
bench_need_wrk
bench_build "$BUILD" tf-calendar.fcgi tf-admin
exec "$PY" "$TOP/bench/booking.py" --builddir "$BUILD" --workers "${WORKERS:-4}" --clients "${CLIENTS:-50}" \
	--bookings "${BOOKINGS:-1500}" --doctors "${DOCTORS:-10}" --duration "${DURATION:-10s}" \
	--connections "${CONNECTIONS:-16}" --threads "${THREADS:-2}"
