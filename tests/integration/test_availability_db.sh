#!/bin/sh
# test_availability_db.sh: run tests/unit/test_availability_db against a private MariaDB migrated by
# tf-admin (TAP passes through). Same shape as tests/integration/test_db.sh.
set -u

srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${TF_BUILDDIR:-$(pwd)}
python=${PYTHON3:-python3}

bail() {
	echo "Bail out! $*"
	exit 1
}

for prog in mariadbd mariadb-install-db mariadb; do
	if ! command -v "$prog" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$prog" ]; then
		echo "1..0 # SKIP $prog not installed"
		exit 0
	fi
done
[ -x "$builddir/tests/unit/test_availability_db" ] ||
	bail "$builddir/tests/unit/test_availability_db not built (make check builds it)"
[ -x "$builddir/tf-admin" ] || bail "$builddir/tf-admin not built"

tmp=$(mktemp -d /tmp/tf-test-avail.XXXXXX) || bail "mktemp failed"
cleanup() {
	"$python" "$srcdir/tests/lib/mariadb.py" stop "$tmp/mariadb" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

sock=$("$python" "$srcdir/tests/lib/mariadb.py" start "$tmp/mariadb" 2>"$tmp/start.err") || {
	sed 's/^/# /' "$tmp/start.err"
	bail "could not start MariaDB"
}

# An empty config file: every setting comes from the environment here.
: >"$tmp/tf.env"
export TF_CONFIG="$tmp/tf.env" TF_DATA_DIR="$srcdir" TF_DB_SOCKET="$sock" TF_DB_USER=root
unset TF_DB_HOST TF_DB_PORT TF_DB_PASSWORD TF_DB_NAME

"$builddir/tf-admin" migrate >"$tmp/migrate.out" 2>&1 || {
	sed 's/^/# /' "$tmp/migrate.out"
	bail "tf-admin migrate failed"
}
sed 's/^/# /' "$tmp/migrate.out"

# the expected error logs (a broken time zone) go to stderr: shown as TAP comments after the results
CMOCKA_MESSAGE_OUTPUT=TAP "$builddir/tests/unit/test_availability_db" 2>"$tmp/stderr"
rc=$?
echo
sed 's/^/# /' "$tmp/stderr"
exit $rc
