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
def put(name, data):
    st, _, _ = r.request("PUT", "/imp/import/" + name, "imp", pw, data,
                         {"Content-Type": "text/calendar; charset=utf-8"})
    return st in (200, 201, 204)

def split_by_uid(data):
    """A calendar client stores one object per UID: the VEVENTs grouped by UID, each group with
    the file's other top-level lines and its VTIMEZONEs."""
    text = data.decode("utf-8", "replace").lstrip("\ufeff")
    lines = text.replace("\r\n", "\n").split("\n")
    head, tzs, groups, order, cur, kind = [], [], {}, [], None, None
    for ln in lines:
        if kind is None and ln.startswith("BEGIN:VTIMEZONE"):
            kind, cur = "tz", [ln]
        elif kind is None and ln.startswith("BEGIN:VEVENT"):
            kind, cur = "ev", [ln]
        elif kind is not None:
            cur.append(ln)
            if ln.startswith("END:VTIMEZONE") and kind == "tz":
                tzs.append(cur); kind = None
            elif ln.startswith("END:VEVENT") and kind == "ev":
                uid = next((l[4:] for l in cur if l.startswith("UID:")), "")
                if uid not in groups:
                    groups[uid] = []; order.append(uid)
                groups[uid].append(cur); kind = None
        elif ln and not ln.startswith("END:VCALENDAR"):
            head.append(ln)
    out = []
    for uid in order:
        body = head + [l for t in tzs for l in t] + [l for e in groups[uid] for l in e] + ["END:VCALENDAR"]
        out.append("\r\n".join(body).encode("utf-8") + b"\r\n")
    return out

files = sorted(glob.glob(os.path.join(testdata, "ics", "*.ics"))) if testdata else []
whole = parts = refused = 0
for f in files:
    name = os.path.basename(f)
    with open(f, "rb") as fh:
        data = fh.read()
    if put(name, data):
        whole += 1
        continue
    pieces = split_by_uid(data)
    okp = sum(put(f"{name[:-4]}-{i}.ics", p) for i, p in enumerate(pieces))
    if okp:
        parts += okp
    else:
        refused += 1
        print(f"Radicale refused {name} (broken)", file=sys.stderr)
print(f"seeded {len(files)} testdata files: {whole} whole, {parts} objects split by UID, {refused} refused",
      file=sys.stderr)
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
