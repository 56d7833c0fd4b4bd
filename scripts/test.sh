#!/bin/sh
# test.sh: run every test (unit, fuzz replay, integration, browser) in build/test with -Werror and ASan+UBSan; one summary line.
#
# Usage: scripts/test.sh [extra configure flags...]
# Installs missing packages (scripts/deps.sh), runs autoreconf when needed, configures build/test with
# --enable-werror --enable-sanitizers (and --with-testdata=../shared/testdata when that exists),
# builds with make -j2, runs make check, prints the logs of failing tests, and ends with
#   N passed, N failed, N skipped
# counted over TAP points (every test point of every test), not over test programs.
# Exit status: 0 when nothing failed, 1 otherwise. Environment: JOBS (default 2), BUILD_DIR.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$TOP/build/test}
JOBS=${JOBS:-2}

say() { printf '%s\n' "test.sh: $*"; }
# A step before make check failed: still end with the summary line.
broken() { say "$1 failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

"$TOP/scripts/deps.sh" || broken "installing packages (scripts/deps.sh)"

cd "$TOP"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	say "autoreconf -fi"
	autoreconf -fi || broken autoreconf
fi

flags="--enable-werror --enable-sanitizers"
if [ -d "$TOP/../shared/testdata" ]; then
	flags="$flags --with-testdata=$(cd "$TOP/../shared/testdata" && pwd)"
fi
# Debian's python3 is the one scripts/deps.sh installs modules for (python3-cryptography,
# python3-aiosmtpd); another python3 earlier in PATH (pyenv) may lack them.
if [ -x /usr/bin/python3 ]; then
	flags="$flags PYTHON3=/usr/bin/python3"
fi
flags="$flags $*"

mkdir -p "$BUILD"
cd "$BUILD"
# Reconfigure when configure changed or the flags differ from the last run's.
if [ ! -f Makefile ] || [ "$TOP/configure" -nt config.status ] ||
   [ "$(cat .test-flags 2>/dev/null || true)" != "$flags" ]; then
	say "configure $flags"
	# shellcheck disable=SC2086
	"$TOP/configure" -q $flags || broken configure
	printf '%s' "$flags" >.test-flags
fi

say "make -j$JOBS"
make -j"$JOBS" || broken "the build (make -j$JOBS)"

# Results of earlier runs must not be counted.
find . \( -name '*.trs' -o -name 'test-suite.log' \) -type f -exec rm -f {} +
rm -rf test-output

say "make check"
rc=0
make -j"$JOBS" check || rc=$?

# Count TAP points: tap-driver.sh writes one ":test-result: RESULT" line per point into each .trs.
trs=$(find . -name '*.trs' -type f | LC_ALL=C sort)
pass=0 fail=0 skip=0
if [ -n "$trs" ]; then
	# shellcheck disable=SC2086
	counts=$(cat $trs | awk '
		/^:test-result: (PASS|XFAIL)/ { p++ }
		/^:test-result: (FAIL|XPASS|ERROR)/ { f++ }
		/^:test-result: SKIP/ { s++ }
		END { printf "%d %d %d\n", p, f, s }')
	set -- $counts
	pass=$1 fail=$2 skip=$3
	# Logs of failing tests (a whole test can fail with no failed point, e.g. a crash after its plan).
	for t in $trs; do
		if grep -q -E '^:global-test-result: (FAIL|ERROR|XPASS)' "$t"; then
			log=${t%.trs}.log
			echo "==================== FAILED: ${t%.trs} ($log)"
			cat "$log" 2>/dev/null || true
			[ "$rc" -ne 0 ] || rc=1
		fi
	done
else
	say "no test results found"
	rc=1
fi
[ "$fail" -eq 0 ] || [ "$rc" -ne 0 ] || rc=1
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
	# make check failed without a failed point (build error, missing test program): count it.
	fail=1
fi
echo "$pass passed, $fail failed, $skip skipped"
exit "$rc"
