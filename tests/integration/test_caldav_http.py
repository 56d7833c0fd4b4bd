"""test_caldav_http.py: CalDAV end to end through nginx + spawn-fcgi, real MariaDB, a real Radicale, the SMTP sink and the built tf-sync (TAP).

The stack (tests/lib/stack.py) runs Radicale with the user "praxis" and the calendars Praxis and
Privat. Connecting: a wrong password through the API and the page form (422, German, no row), the
API (201 with the calendars; then DELETE), the page form (303), and the API again (a reconnect of
the same row). A patient books through POST /api/appointments, tf-sync (the binary, with the stack's
config) pushes it: the event is on Radicale (PROPFIND + GET: SUMMARY "Termin (TerminFinder)", no
patient name or e-mail, the booked UTC times); the cancel link cancels it and the next tf-sync
deletes it. An event PUT into Radicale by another client makes the slot disappear from the slots
API after tf-sync, and deleting it brings the slot back. "Jetzt synchronisieren" through the API;
a second sync of unchanged calendars costs one request per blocking calendar (the JSON's requests
field and sync_runs.requests). kill -9 in the middle of a push (tf-sync is stopped the moment
Radicale has stored the new .ics, the mapping state recorded, then SIGKILL): the next run leaves
exactly one object for the appointment and the mapping synced. Two tf-sync processes started at
once: no duplicate objects (one may exit 3, "lock held"). Disconnecting with remove_events=1
deletes our events (another client's event stays) and the connection row. At the end: no secret in
any log, no sanitizer report.
"""
import datetime
import os
import re
import signal
import sys
import tempfile
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import Tap  # noqa: E402
from stack import Stack  # noqa: E402
import radicale as radicale_lib  # noqa: E402
from httpc import csrf_of, parse_forms  # noqa: E402
from provider_setup import StackRunner  # noqa: E402

t = Tap()
TZ = zoneinfo.ZoneInfo("Europe/Berlin")
ICLOUD = "/api/doctor/calendar-integrations/icloud"
SUMMARY_LINE = re.compile(r"^tf-sync: connections=(\d+) pushed=(\d+) pulled=(\d+) requests=(\d+) "
                          r"errors=(\d+) seconds=[\d.]+$", re.M)
SYNC_ERR = []          # every tf-sync stderr, checked for secrets and sanitizer reports at the end
PATIENT = "Paula Privat-Patientin"
PATIENT_MAIL = "paula.privat@example.org"


# ---------------------------------------------------------------------- helpers
def q(s):
    return "'" + str(s).replace("\\", "\\\\").replace("'", "''") + "'"


def to_utc(day, hhmm):
    h, m = map(int, hhmm.split(":"))
    return datetime.datetime(day.year, day.month, day.day, h, m, tzinfo=TZ).astimezone(datetime.timezone.utc)


def ics_utc(dt):
    return dt.strftime("%Y%m%dT%H%M%SZ")


def unfold(text):
    return re.sub(r"\r?\n[ \t]", "", text)


def prop(text, name):
    """The first value of property NAME in an .ics text (unfolded), or None."""
    m = re.search(rf"^{name}(;[^:\r\n]*)?:(.*?)\r?$", unfold(text), re.M)
    return m.group(2) if m else None


class Runner(StackRunner):
    PATIENT = PATIENT
    PATIENT_MAIL = PATIENT_MAIL

    def __init__(self, st):
        super().__init__(st, SYNC_ERR)
        self.doc = int(st.doctor_id)

    # --- the app
    def form(self, path, fields):
        return self.cl.request("POST", path, body=dict(fields, csrf_token=self.csrf), cookies=self.jar)

    def api(self, method, path, body=None):
        return self.cl.request(method, path, json_body=body, headers=self.bearer)

    def book(self, day, hhmm, name=PATIENT, mail=PATIENT_MAIL):
        return self.book_json(f"{day.isoformat()}T{hhmm}", False, name, mail)

    # --- tf-sync
    def tf_sync(self, *args):
        r = self.st.sync(*args)
        SYNC_ERR.append(r.stderr)
        return r

    # --- Radicale (HTTP)
    def objects(self, cal):
        """{href: .ics text} of every object in the user's calendar CAL (PROPFIND Depth 1, then GET)."""
        body = (b'<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop>'
                b'<d:getetag/></d:prop></d:propfind>')
        path = f"/{self.st.caldav_user}/{cal}/"
        status, _, data = self.st.caldav_request("PROPFIND", path, body,
                                                 {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
        assert status == 207, (status, data[:500])
        out = {}
        for resp in ET.fromstring(data).iter("{DAV:}response"):
            href = urllib.parse.unquote(resp.findtext("{DAV:}href") or "")
            if href.rstrip("/") == path.rstrip("/"):
                continue
            st, _, ics = self.st.caldav_request("GET", href)
            assert st == 200, (href, st)
            out[href] = ics.decode("utf-8", "replace")
        return out

    def uid(self, appt_id):
        host = urllib.parse.urlsplit(self.st.base_url).hostname
        return f"terminfinder-appointment-{appt_id}@{host}"

    def objects_of(self, appt_id, cal="praxis"):
        return {h: x for h, x in self.objects(cal).items() if prop(x, "UID") == self.uid(appt_id)}


def weekdays(first, n):
    out, d = [], first
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += datetime.timedelta(days=1)
    return out


def cancel(R, cancel_url):
    path = urllib.parse.urlsplit(cancel_url).path
    r = R.cl.request("GET", path)
    assert r.status == 200, r
    jar = {"tf_csrf": r.cookies()["tf_csrf"][0]} if "tf_csrf" in r.cookies() else {}
    fields = {i.get("name"): i.get("value") or "" for i in parse_forms(r.text).inputs if i.get("name")}
    fields["csrf_token"] = csrf_of(r)
    r = R.cl.request("POST", path, body=fields, cookies=jar)
    assert r.status == 200 and "Ihr Termin wurde abgesagt." in r.text, r


def external_event(uid, start, end, summary="Zahnarzt (privat)"):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Anderer Client//DE\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:{ics_utc(datetime.datetime.now(datetime.timezone.utc))}\r\n"
            f"DTSTART:{ics_utc(start)}\r\nDTEND:{ics_utc(end)}\r\nSUMMARY:{summary}\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n").encode()


def summary_of(r):
    m = SUMMARY_LINE.search(r.stdout)
    return tuple(int(x) for x in m.groups()) if m else None


# ---------------------------------------------------------------------- the test
def main(st, seen):
    R = Runner(st)
    seen["bearer token"] = R.token
    R.login()
    seen["session cookie"] = R.jar["tf_session"]
    user, pw, url = st.caldav_user, st.caldav_password, st.caldav_url

    # ------------------------------------------------------------------ connecting
    with t.case("the iCloud card offers the connect form (apple_id, app_password, caldav_url, German help)"):
        b = R.page().text
        for s in ('name="apple_id"', 'name="app_password"', 'name="caldav_url"', "App-spezifische Passwörter",
                  f'action="{ICLOUD}"'):
            assert s in b, s

    with t.case("API: a wrong password → 422 caldav_auth_failed, German message, no row"):
        r = R.api("POST", ICLOUD, {"apple_id": user, "app_password": pw + "-falsch", "caldav_url": url})
        assert r.status == 422, r
        e = r.json()["error"]
        assert e["code"] == "caldav_auth_failed", e
        assert "Passwort" in e["message"] and re.search(r"[äöüß]|fehlgeschlagen", e["message"]), e
        assert R.count("SELECT COUNT(*) FROM calendar_integrations") == 0

    with t.case("page form: a wrong password → 422 German page with the error, no row, password not echoed"):
        r = R.form(ICLOUD, {"apple_id": user, "app_password": "ganz-falsch-123", "caldav_url": url})
        assert r.status == 422 and (r.header("Content-Type") or "").startswith("text/html"), r
        assert 'role="alert"' in r.text and "Passwort" in r.text, r.text[:2000]
        assert "ganz-falsch-123" not in r.text
        assert R.count("SELECT COUNT(*) FROM calendar_integrations") == 0

    with t.case("API: the right password → 201 {id, provider apple, account, calendars Praxis + Privat}"):
        r = R.api("POST", ICLOUD, {"apple_id": user, "app_password": pw, "caldav_url": url})
        assert r.status == 201, r
        j = r.json()
        assert j["provider"] == "apple" and j["account_email"] == user, j
        assert sorted(c["name"] for c in j["calendars"]) == ["Praxis", "Privat"], j
        assert all(c["can_write"] and c["blocks_availability"] for c in j["calendars"]), j
        assert sum(1 for c in j["calendars"] if c["receives_appointments"]) == 1, j
        assert R.count(f"SELECT COUNT(*) FROM calendar_integrations WHERE id = {int(j['id'])} "
                       f"AND doctor_id = {R.doc}") == 1
        first = int(j["id"])

    with t.case("DELETE /api/doctor/calendar-integrations/{id} (events kept) → 200 {deleted: true}, row gone"):
        r = R.api("DELETE", f"/api/doctor/calendar-integrations/{first}")
        assert r.status == 200 and r.json() == {"deleted": True}, r
        assert R.count("SELECT COUNT(*) FROM calendar_integrations") == 0

    iid = None
    with t.case("page form: the right password → 303 back to the page with a notice; one row"):
        r = R.form(ICLOUD, {"apple_id": user, "app_password": pw, "caldav_url": url})
        assert r.status == 303, r
        assert (r.header("Location") or "").startswith("/doctor/calendar-integrations?ok=connected"), r
        iid = int(R.sql(f"SELECT id FROM calendar_integrations WHERE doctor_id = {R.doc} AND provider = 'apple'"))
        r = R.page("?ok=connected")
        assert "Der Kalender wurde verbunden." in r.text, r.text[:2000]
        card = r.text[r.text.index("provider-apple"):]
        assert "Praxis" in card and "Privat" in card and ">aktiv<" in card, card[:3000]
    if iid is None:
        t.bail("could not connect through the page form")

    with t.case("API: connecting the same account again → 201 with both calendars; the same row (reconnect)"):
        r = R.api("POST", ICLOUD, {"apple_id": user, "app_password": pw, "caldav_url": url + "/"})
        assert r.status == 201, r
        j = r.json()
        assert j["id"] == iid and sorted(c["name"] for c in j["calendars"]) == ["Praxis", "Privat"], j
        assert R.count("SELECT COUNT(*) FROM calendar_integrations") == 1

    cals = dict((n, int(i)) for i, n in (ln.split("\t") for ln in R.sql(
        f"SELECT id, display_name FROM integration_calendars WHERE integration_id = {iid}").splitlines()))
    with t.case("settings form: both calendars block, Praxis receives → 303; stored"):
        r = R.form(f"/doctor/calendar-integrations/{iid}/settings",
                   {f"block_{cals['Praxis']}": "1", f"block_{cals['Privat']}": "1", "receive": str(cals["Praxis"])})
        assert r.status == 303, r
        rows = R.sql(f"SELECT display_name, blocks_availability, receives_appointments FROM integration_calendars "
                     f"WHERE integration_id = {iid} ORDER BY display_name")
        assert rows.splitlines() == ["Praxis\t1\t1", "Privat\t1\t0"], rows

    with t.case("tf-sync --integration ID (first run): exit 0 and the summary line"):
        r = R.tf_sync("--integration", str(iid))
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr[-2000:])
        s = summary_of(r)
        assert s and s[0] == 1 and s[4] == 0, r.stdout

    # ------------------------------------------------------------------ push: book, sync, cancel, sync
    today = datetime.datetime.now(TZ).date()
    days = []
    for d in weekdays(today + datetime.timedelta(days=2), 25):
        free = R.slots(d)
        if {"08:00", "09:00", "10:00", "11:00", "14:00", "15:00", "16:00"} <= set(free):
            days.append(d)
        if len(days) == 4:
            break
    if len(days) < 4:
        t.bail(f"not enough weekdays with free hours (found {days})")
    d_push, d_ext, d_kill, d_two = days

    appt = R.book(d_push, "09:00")
    seen["cancel token"] = appt["cancel_url"].rsplit("/", 1)[-1]
    aid = appt["id"]
    with t.case("booking → tf-sync pushes it (pushed=1, exit 0)"):
        r = R.tf_sync("--integration", str(iid))
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr[-2000:])
        s = summary_of(r)
        assert s and s[1] == 1 and s[4] == 0, r.stdout

    href = R.sql(f"SELECT remote_id FROM event_mappings WHERE appointment_id = {aid} AND integration_id = {iid}")
    with t.case("the event is on Radicale in Praxis (PROPFIND + GET), mapping synced with its etag"):
        objs = R.objects("praxis")
        assert list(objs) == [urllib.parse.urlsplit(href).path], (list(objs), href)
        assert R.objects("privat") == {}, "nothing pushed to the non-receiving calendar"
        row = R.sql(f"SELECT state, etag <> '' FROM event_mappings WHERE appointment_id = {aid}")
        assert row == "synced\t1", row

    with t.case("the event: SUMMARY 'Termin (TerminFinder)', our UID, the booked UTC times, no patient name/e-mail"):
        text = next(iter(R.objects("praxis").values()))
        assert prop(text, "SUMMARY") == "Termin (TerminFinder)", text
        assert prop(text, "UID") == R.uid(aid), text
        start = to_utc(d_push, "09:00")
        assert prop(text, "DTSTART") == ics_utc(start), (prop(text, "DTSTART"), ics_utc(start))
        assert prop(text, "DTEND") == ics_utc(start + datetime.timedelta(minutes=30)), text
        for secret in (PATIENT, "Paula", PATIENT_MAIL, "example.org"):
            assert secret not in unfold(text), f"{secret!r} in the pushed event"

    with t.case("cancel link → tf-sync → the event is gone from Radicale, mapping deleted"):
        cancel(R, appt["cancel_url"])
        r = R.tf_sync("--integration", str(iid))
        assert r.returncode == 0 and summary_of(r) and summary_of(r)[1] == 1, (r.stdout, r.stderr[-2000:])
        assert R.objects("praxis") == {}, R.objects("praxis")
        st_, _, _ = st.caldav_request("GET", urllib.parse.urlsplit(href).path)
        assert st_ == 404, st_
        assert R.sql(f"SELECT state FROM event_mappings WHERE appointment_id = {aid}") in ("deleted", ""), \
            R.sql(f"SELECT state FROM event_mappings WHERE appointment_id = {aid}")

    # ------------------------------------------------------------------ pull: an external event blocks
    ext_start, ext_end = to_utc(d_ext, "10:00"), to_utc(d_ext, "11:00")
    ext_path = f"/{user}/privat/zahnarzt-extern.ics"
    with t.case(f"another client PUTs an event {d_ext} 10:00-11:00 into Privat; tf-sync pulls it: 10:00-10:45 gone"):
        before = R.slots(d_ext)
        assert {"09:30", "10:00", "10:30", "11:00"} <= set(before), before
        code, _, _ = st.caldav_request("PUT", ext_path, external_event("zahnarzt-extern-1", ext_start, ext_end),
                                       {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"})
        assert code == 201, code
        r = R.tf_sync("--integration", str(iid))
        assert r.returncode == 0 and summary_of(r)[2] >= 1, (r.stdout, r.stderr[-2000:])
        after = R.slots(d_ext)
        for gone in ("09:45", "10:00", "10:15", "10:30", "10:45"):
            assert gone not in after, (gone, after)
        for kept in ("09:00", "09:30", "11:00", "11:30"):
            assert kept in after, (kept, after)
        n = R.count(f"SELECT COUNT(*) FROM busy_blocks WHERE integration_id = {iid} "
                    f"AND start_utc = '{ext_start:%Y-%m-%d %H:%M:%S}' AND end_utc = '{ext_end:%Y-%m-%d %H:%M:%S}'")
        assert n == 1, n
        assert "Zahnarzt" not in R.sql("SELECT * FROM busy_blocks"), "a title was stored"

    with t.case("the external event deleted → tf-sync → the slots are back, no busy block"):
        code, _, _ = st.caldav_request("DELETE", ext_path)
        assert code in (200, 204), code
        r = R.tf_sync("--integration", str(iid))
        assert r.returncode == 0, (r.stdout, r.stderr[-2000:])
        after = R.slots(d_ext)
        assert {"09:45", "10:00", "10:30", "10:45"} <= set(after), after
        assert R.count(f"SELECT COUNT(*) FROM busy_blocks WHERE integration_id = {iid}") == 0

    # ------------------------------------------------------------------ "Jetzt synchronisieren"
    with t.case("POST /api/doctor/calendar-integrations/{id}/sync → 200 with the statistics JSON"):
        r = R.api("POST", f"/api/doctor/calendar-integrations/{iid}/sync")
        assert r.status == 200, r
        j = r.json()
        assert set(j) == {"status", "pushed", "pulled", "requests", "errors", "duration_ms", "last_error"}, j
        assert j["status"] == "active" and j["errors"] == 0 and j["last_error"] is None, j

    with t.case("a second sync of unchanged calendars costs one request per blocking calendar (2)"):
        r = R.api("POST", f"/api/doctor/calendar-integrations/{iid}/sync")
        j = r.json()
        assert r.status == 200 and (j["pushed"], j["pulled"], j["requests"]) == (0, 0, 2), j
        last = R.sql(f"SELECT requests FROM sync_runs WHERE integration_id = {iid} ORDER BY id DESC LIMIT 1")
        assert last == "2", last

    with t.case("the page's 'Jetzt synchronisieren' form → 303 with a notice; the card shows the last sync"):
        r = R.form(f"/doctor/calendar-integrations/{iid}/sync", {})
        assert r.status == 303 and "ok=synced" in (r.header("Location") or ""), r
        r = R.page("?ok=synced")
        assert "Die Synchronisierung ist abgeschlossen." in r.text
        card = r.text[r.text.index("provider-apple"):]
        assert " Uhr" in card and "Synchronisierungen" in card, card[:3000]

    # ------------------------------------------------------------------ kill -9 in the middle of a push
    kdir = st.caldav_dir("praxis")

    def listing():
        return {n for n in os.listdir(kdir) if not n.startswith(".")}

    killed = None
    kill_notes = []
    kill_appts = []
    for attempt, hhmm in enumerate(("08:00", "10:00", "14:00", "16:00")):
        kappt = R.book(d_kill, hhmm, name="Karl Kill")
        kid = kappt["id"]
        kill_appts.append(kid)
        before = listing()
        p = st.sync_popen("--integration", str(iid))
        state = None
        while p.poll() is None:
            if listing() - before:
                os.kill(p.pid, signal.SIGSTOP)
                state = R.sql(f"SELECT state FROM event_mappings WHERE appointment_id = {kid}") or "(none)"
                os.kill(p.pid, signal.SIGKILL)
                break
        p.wait()
        _, err = p.communicate()
        SYNC_ERR.append(err)
        if state is None:
            kill_notes.append(f"try {attempt + 1}: tf-sync ended (exit {p.returncode}) before the kill")
            continue
        kill_notes.append(f"try {attempt + 1}: stopped after Radicale stored the .ics; mapping {state}; SIGKILL")
        if state == "pending":
            killed = kid
            break
    t.diag("\n".join(kill_notes))
    t.ok(killed is not None, "kill -9 landed after Radicale stored the event and before the mapping was synced",
         "\n".join(kill_notes))
    with t.case("after the kill the next tf-sync exits 0: exactly one object per appointment, mappings synced"):
        r = R.tf_sync("--integration", str(iid))
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr[-3000:])
        objs = R.objects("praxis")
        for kid in kill_appts:
            mine = [h for h, x in objs.items() if prop(x, "UID") == R.uid(kid)]
            assert len(mine) == 1, (kid, mine)
            row = R.sql(f"SELECT state, remote_id FROM event_mappings WHERE appointment_id = {kid} "
                        f"AND integration_id = {iid}").split("\t")
            assert row[0] == "synced" and urllib.parse.urlsplit(row[1]).path == mine[0], (row, mine)
        assert len(objs) == len(kill_appts), sorted(objs)

    # ------------------------------------------------------------------ two tf-sync processes at once
    two = [R.book(d_two, hh, name="Zora Zweifach")["id"] for hh in ("08:00", "10:00", "14:00")]
    with t.case("two tf-sync started at once (connection due): exit 0 or 3 (lock held), every booking pushed once"):
        R.sql(f"UPDATE calendar_integrations SET next_sync_at = NULL WHERE id = {iid}")
        procs = [st.sync_popen(), st.sync_popen()]
        outs = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
        SYNC_ERR.extend(o[1] for o in outs)
        codes = sorted(o[2] for o in outs)
        assert codes in ([0, 0], [0, 3]), (codes, outs)
        for o in outs:
            if o[2] == 3:
                assert "lock" in o[1].lower(), o[1]
        pushed = sum(summary_of(type("R", (), {"stdout": o[0]}))[1] for o in outs if o[2] == 0)
        assert pushed == 3, ([o[0] for o in outs], pushed)
        objs = R.objects("praxis")
        for aid2 in two + kill_appts:
            mine = [h for h, x in objs.items() if prop(x, "UID") == R.uid(aid2)]
            assert len(mine) == 1, (aid2, mine)
        assert len(objs) == len(two) + len(kill_appts), sorted(objs)
        t.diag(f"exit statuses {codes}: " + " | ".join(o[0].strip() for o in outs))

    # ------------------------------------------------------------------ disconnect, removing our events
    other = f"/{user}/praxis/anderer-client.ics"
    code, _, _ = st.caldav_request("PUT", other, external_event("anderer-client-1", ext_start, ext_end),
                                   {"Content-Type": "text/calendar; charset=utf-8"})
    with t.case("DELETE /api/doctor/calendar-integrations/{id}?remove_events=1 → 200; our events gone, "
                "another client's event stays, the row gone"):
        assert code == 201, code
        r = R.api("DELETE", f"/api/doctor/calendar-integrations/{iid}?remove_events=1")
        assert r.status == 200 and r.json() == {"deleted": True}, r
        objs = R.objects("praxis")
        assert list(objs) == [other], sorted(objs)
        assert R.count(f"SELECT COUNT(*) FROM calendar_integrations WHERE id = {iid}") == 0
        assert R.count(f"SELECT COUNT(*) FROM busy_blocks WHERE integration_id = {iid}") == 0
        assert R.count(f"SELECT COUNT(*) FROM event_mappings WHERE integration_id = {iid}") == 0
        r = R.page()
        assert "Jetzt synchronisieren" not in r.text, "the connection's card is still shown"


def check_logs(st, seen):
    logs = {}
    for name, path in (("app stderr", st.app_log), ("nginx access log", st.nginx_access_log),
                       ("nginx error log", st.nginx_error_log),
                       ("radicale log", st.radicale.logfile if st.radicale else "")):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                logs[name] = f.read()
        except OSError:
            logs[name] = ""
    logs["tf-sync stderr"] = "\n".join(SYNC_ERR)
    for what, value in seen.items():
        if not value:
            continue
        found = [n for n, text in logs.items() if value in text]
        t.ok(not found, f"no {what} in any log", f"found in {found}")
    bad = [ln for n in ("app stderr", "tf-sync stderr") for ln in logs[n].splitlines()
           if "AddressSanitizer" in ln or "runtime error:" in ln or "LeakSanitizer" in ln]
    t.ok(not bad, "no sanitizer report from the app or tf-sync", "\n".join(bad[:20]))


def run():
    if not radicale_lib.available():
        print("1..0 # SKIP radicale not installed")
        sys.exit(0)
    tmp = tempfile.mkdtemp(prefix="tf-caldav-http-", dir=os.environ.get("TMPDIR", "/tmp"))
    st = Stack(tmp, workers=2)
    if not os.access(st.sync_bin, os.X_OK):
        t.bail(f"{st.sync_bin} not built")
    try:
        st.start()
    except Exception as e:  # noqa: BLE001 - any start failure is a bail-out
        t.bail(f"stack did not start: {e}")
    seen = {"TF_SECRET_KEY": st.secret_key, "CALENDAR_ENCRYPTION_KEY": st.encryption_key,
            "CalDAV password": st.caldav_password}
    try:
        main(st, seen)
    except SystemExit:
        st.stop()
        raise
    except Exception:  # noqa: BLE001
        t.ok(False, "the CalDAV tests ran to the end", traceback.format_exc())
    finally:
        st.stop()
    check_logs(st, seen)
    if t.failed:
        t.diag(f"stack directory kept for inspection: {tmp}")
    else:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    run()
