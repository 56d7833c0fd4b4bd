#!/bin/sh
# test_sync.sh: tests/unit/test_sync (TAP) against a private MariaDB (tests/lib/with-db.sh) and a private
# Radicale (tests/lib/radicale.py): user doc with the VEVENT calendars "praxis" and "privat" and a
# VTODO-only list; user imp with a calendar "import" holding every file of $TF_TESTDATA/ics that
# Radicale accepts over PUT (the ones it refuses are listed as comments). Also runs the tf-sync binary.
set -u

srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${TF_BUILDDIR:-$(pwd)}
python=${PYTHON3:-python3}

bail() {
	echo "Bail out! $*"
	exit 1
}

"$python" -c "import sys; sys.path.insert(0, '$srcdir/tests/lib'); import radicale; sys.exit(0 if radicale.available() else 1)" \
	2>/dev/null || { echo "1..0 # SKIP radicale not installed"; exit 0; }
[ -x "$builddir/tests/unit/test_sync" ] || bail "tests/unit/test_sync not built (make check builds it)"
[ -x "$builddir/tf-sync" ] || bail "tf-sync not built"

tmp=$(mktemp -d /tmp/tf-test-sync.XXXXXX) || bail "mktemp failed"
cleanup() {
	"$python" "$srcdir/tests/lib/radicale.py" stop "$tmp/radicale" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

password=geheim-sync-123
url=$("$python" - "$srcdir/tests/lib" "$tmp/radicale" "$password" "${TF_TESTDATA:-}" <<'PYEOF' 2>"$tmp/start.err"
import glob, os, sys
sys.path.insert(0, sys.argv[1])
from radicale import Radicale
r = Radicale(sys.argv[2])
pw, testdata = sys.argv[3], sys.argv[4]
r.add_user("doc", pw)
r.add_user("imp", pw)
r.create_calendar("doc", "praxis", displayname="Praxis")
r.create_calendar("doc", "privat", displayname="Privat")
r.create_calendar("doc", "aufgaben", components=("VTODO",), displayname="Aufgaben")
r.create_calendar("imp", "import", displayname="Import")
r.start()
files = sorted(glob.glob(os.path.join(testdata, "ics", "*.ics"))) if testdata else []
ok = 0
for f in files:
    with open(f, "rb") as fh:
        data = fh.read()
    st, _, body = r.request("PUT", "/imp/import/" + os.path.basename(f), "imp", pw, data,
                            {"Content-Type": "text/calendar; charset=utf-8"})
    if st in (200, 201, 204):
        ok += 1
    else:
        print(f"Radicale refused {os.path.basename(f)}: {st}", file=sys.stderr)
print(f"seeded {ok} of {len(files)} testdata files", file=sys.stderr)
print(r.url)
PYEOF
) || {
	sed 's/^/# /' "$tmp/start.err"
	bail "could not start Radicale"
}
sed 's/^/# /' "$tmp/start.err"

mkdir -p "$tmp/lock"
if [ -n "${TF_TESTDATA:-}" ] && [ -d "$TF_TESTDATA/ics" ]; then
	TF_RADICALE_IMPORT_USER=imp
	export TF_RADICALE_IMPORT_USER
fi
TF_RADICALE_URL=$url TF_RADICALE_USER=doc TF_RADICALE_PASSWORD=$password TF_LOCK_DIR="$tmp/lock" \
	TF_HTTP_TIMEOUT=10 TF_SYNC_CONCURRENCY=2 \
	sh "$srcdir/tests/lib/with-db.sh" tests/unit/test_sync
rc=$?
if [ $rc -ne 0 ]; then
	echo "# radicale log:"
	tail -n 30 "$tmp/radicale/radicale.log" | sed 's/^/# /'
fi
exit $rc
