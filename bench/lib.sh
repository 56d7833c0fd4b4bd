# lib.sh: sourced by the bench/*.sh scripts: the source tree, the optimised build they share, the wrk check, Debian's python3.
#
#   . "$(dirname "$0")/lib.sh"      # sets TOP (the source tree, found from $0) and PY
#   bench_need_wrk                  # exit 1 with a hint when wrk is not installed
#   bench_build DIR TARGET...       # the optimised, sanitizer-free tree in DIR: see below
# PY is Debian's /usr/bin/python3 (radicale, python3-aiosmtpd, python3-caldav, python3-cryptography)
# even when another python3 comes first in PATH; python3 when there is none.
# The callers run under set -eu, so a failing step ends the benchmark.

TOP=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

bench_need_wrk() {
	command -v wrk >/dev/null || { echo "bench: wrk missing (scripts/deps.sh installs it)" >&2; exit 1; }
}

# bench_build DIR TARGET...: autoreconf the source tree when configure is missing or older than
# configure.ac / Makefile.am, configure DIR with CFLAGS="-O2 -g" (no --enable-sanitizers) when it has
# no Makefile or configure changed, then make -j2 the TARGETs quietly. Returns in $TOP.
bench_build() {
	bench_dir=$1
	shift
	cd "$TOP"
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
		autoreconf -fi >/dev/null
	fi
	mkdir -p "$bench_dir"
	cd "$bench_dir"
	if [ ! -f Makefile ] || [ "$TOP/configure" -nt config.status ]; then
		"$TOP/configure" -q CFLAGS="-O2 -g"
	fi
	make -s -j2 "$@" >/dev/null
	cd "$TOP"
}
