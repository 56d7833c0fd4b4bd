#!/bin/sh
# test_caldav.sh: runs tests/unit/test_caldav (TAP) against a private Radicale started by tests/lib/radicale.py:
# user ana with a VEVENT calendar "praxis" (display name, colour), "privat", "massen" and a VTODO-only
# list "aufgaben"; user bob with his own calendar. Also starts tests/lib/icloudfake.py (iCloud's quirks).
# Skips when Radicale is not installed.
set -u

srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${TF_BUILDDIR:-$(pwd)}
python=${PYTHON3:-python3}
prog="$builddir/tests/unit/test_caldav"

bail() {
	echo "Bail out! $*"
	exit 1
}

"$python" -c "import sys; sys.path.insert(0, '$srcdir/tests/lib'); import radicale; sys.exit(0 if radicale.available() else 1)" \
	2>/dev/null || { echo "1..0 # SKIP radicale not installed"; exit 0; }
[ -x "$prog" ] || bail "$prog not built (make check builds it)"

tmp=$(mktemp -d /tmp/tf-test-caldav.XXXXXX) || bail "mktemp failed"
fakepid=
cleanup() {
	"$python" "$srcdir/tests/lib/radicale.py" stop "$tmp/radicale" >/dev/null 2>&1
	[ -n "$fakepid" ] && kill "$fakepid" 2>/dev/null && wait "$fakepid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

url=$("$python" - "$srcdir/tests/lib" "$tmp/radicale" <<'PYEOF' 2>"$tmp/start.err"
import sys
sys.path.insert(0, sys.argv[1])
from radicale import Radicale
r = Radicale(sys.argv[2])
r.add_user("ana", "geheim-ana-123")
r.add_user("bob", "geheim-bob-456")
r.create_calendar("ana", "praxis", displayname="Praxis", color="#3366CCFF")
r.create_calendar("ana", "privat")
r.create_calendar("ana", "massen", displayname="Massen")
r.create_calendar("ana", "aufgaben", components=("VTODO",), displayname="Aufgaben")
r.create_calendar("bob", "kalender")
r.start()
print(r.url)
PYEOF
) || {
	sed 's/^/# /' "$tmp/start.err"
	bail "could not start Radicale"
}

# the iCloud fake (entry host + partition host)
"$python" "$srcdir/tests/lib/icloudfake.py" "$tmp/icloud" 2>"$tmp/icloud.err" &
fakepid=$!
i=0
while [ ! -s "$tmp/icloud/url" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -s "$tmp/icloud/url" ] || { sed 's/^/# /' "$tmp/icloud.err"; bail "could not start the iCloud fake"; }
TF_ICLOUD_URL=$(cat "$tmp/icloud/url")
export TF_ICLOUD_URL

TF_RADICALE_URL=$url TF_RADICALE_DIR="$tmp/radicale" CMOCKA_MESSAGE_OUTPUT=TAP "$prog" 2>"$tmp/stderr"
rc=$?
sed 's/^/# /' "$tmp/stderr"
if [ $rc -ne 0 ]; then
	echo "# radicale log:"
	tail -n 30 "$tmp/radicale/radicale.log" | sed 's/^/# /'
fi
exit $rc
