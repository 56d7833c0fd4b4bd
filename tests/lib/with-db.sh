#!/bin/sh
# with-db.sh PROGRAM: run a TAP test program (relative to the build dir) against a private MariaDB
# migrated by tf-admin; TAP passes through, the program's stderr follows as TAP comments.
# Used by the tests/integration/test_*.sh wrappers of the database-backed C tests.
set -u

prog=${1:?usage: with-db.sh PROGRAM}
srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${TF_BUILDDIR:-$(pwd)}
python=${PYTHON3:-python3}

bail() {
	echo "Bail out! $*"
	exit 1
}

for p in mariadbd mariadb-install-db mariadb; do
	if ! command -v "$p" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$p" ]; then
		echo "1..0 # SKIP $p not installed"
		exit 0
	fi
done
[ -x "$builddir/$prog" ] || bail "$builddir/$prog not built (make check builds it)"
[ -x "$builddir/tf-admin" ] || bail "$builddir/tf-admin not built"

tmp=$(mktemp -d /tmp/tf-test-db.XXXXXX) || bail "mktemp failed"
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

CMOCKA_MESSAGE_OUTPUT=TAP "$builddir/$prog" 2>"$tmp/stderr"
rc=$?
sed 's/^/# /' "$tmp/stderr"
exit $rc
