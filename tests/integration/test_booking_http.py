"""test_booking_http.py: booking end to end through nginx + spawn-fcgi (4 workers), real MariaDB, real SMTP sink (TAP).

The race (50 concurrent POST /api/appointments for one slot: one 201, 49 x 409, one row), the
Idempotency-Key (10 concurrent identical requests: identical answers, one row; another body: 422),
the slots API before and after, the confirmation mail parsed with Python's email package (MIME
structure, decoded German headers, German text, cancel link, .ics with the right UTC times in winter
and in summer), the cancel link through nginx (page, CSRF, POST; cancellation mail with
METHOD:CANCEL; the slot is free again), tf-remind run twice (overlapping) sending one reminder for an
appointment 20 h ahead (inserted with SQL, its cancel token Fernet-encrypted here with Python's
cryptography), and an SMTP sink that is down at booking time (201 anyway; a later tf-remind run
sends the mail). At the end: no secret or cancel token in any log, no sanitizer report.

nginx: the test stack raises the tf_booking burst to 200 (scripts/nginx-conf.sh --burst), so that
all 50 concurrent bookings from 127.0.0.1 reach the app; test_http.py checks the production limit
(burst 20) of nginx.conf.example as it is.
"""
import datetime
import hashlib
import os
import re
import secrets
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import Tap  # noqa: E402
from stack import Stack  # noqa: E402
from httpc import Client, csrf_of, parse_forms, security_header_problems  # noqa: E402

t = Tap()
TZ = zoneinfo.ZoneInfo("Europe/Berlin")
SERVICE = "Sprechstunde"          # tf-admin add-doctor's default service: 30 minutes
DURATION = 30
PRACTICE_NAME = "Praxis Dr. Demo Beispiel"
PRACTICE_ADDRESS = "Müllerstraße 12, 13353 Berlin"
TAKEN_MSG = "Dieser Termin ist leider nicht mehr frei. Bitte wählen Sie eine andere Uhrzeit."
MONTHS_DE = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
             "Oktober", "November", "Dezember"]
RACE = 50
IDEM = 10
WORKERS = 4


# ---------------------------------------------------------------------- helpers
def q(s):
    """An SQL string literal (test data only: no user input)."""
    return "'" + str(s).replace("\\", "\\\\").replace("'", "''") + "'"


def to_utc(day, hhmm):
    h, m = map(int, hhmm.split(":"))
    local = datetime.datetime(day.year, day.month, day.day, h, m, tzinfo=TZ)
    return local.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def sqlts(dt):
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def german_dates(day):
    return [f"{day.day:02d}.{day.month:02d}.{day.year}", f"{day.day}.{day.month}.{day.year}",
            f"{day.day}. {MONTHS_DE[day.month - 1]} {day.year}",
            f"{day.day:02d}. {MONTHS_DE[day.month - 1]} {day.year}"]


class Booker:
    def __init__(self, st, cl):
        self.st = st
        self.cl = cl

    def slots(self, day, duration=DURATION, path="/api/integrations/calendar/slots/"):
        qs = urllib.parse.urlencode({"doctor": self.st.slug, "date": day.isoformat(),
                                     "duration": duration})
        return self.cl.request("GET", f"{path}?{qs}")

    def free(self, day):
        r = self.slots(day)
        j = r.json_or_none() or {}
        return r, (j.get("slots") if isinstance(j.get("slots"), list) else None)

    def body(self, day, hhmm, name, email, **extra):
        b = {"doctor": self.st.slug, "service": SERVICE, "start": f"{day.isoformat()}T{hhmm}",
             "duration_minutes": DURATION, "patient_name": name, "patient_email": email,
             "create_meet": False}
        b.update(extra)
        return b

    def book(self, body, key=None, conn=None):
        h = {"Idempotency-Key": key} if key else None
        return self.cl.request("POST", "/api/appointments", json_body=body, headers=h, conn=conn)


def concurrently(n, fn):
    """Run fn(i, conn) in n threads released together; each thread has its own connection, opened
    before the start. Returns [result or exception] by index."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def worker(i, conn):
        try:
            conn.connect()
            barrier.wait(timeout=30)
            results[i] = fn(i, conn)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            results[i] = e
        finally:
            conn.close()

    threads = []
    for i in range(n):
        conn = CL.connect()
        th = threading.Thread(target=worker, args=(i, conn))
        th.start()
        threads.append(th)
    for th in threads:
        th.join(timeout=120)
    return results


def unfold_ics(text):
    return text.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "").replace("\n\t", "")


def ics_props(text):
    """[(NAME, {PARAM: value}, value)] of an .ics text (unfolded)."""
    out = []
    for line in unfold_ics(text).replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        head, _, value = line.partition(":")
        name, *params = head.split(";")
        p = {}
        for kv in params:
            k, _, v = kv.partition("=")
            p[k.upper()] = v.strip('"')
        out.append((name.upper(), p, value))
    return out


def ics_time_utc(params, value):
    """An .ics DATE-TIME as naive UTC, or None when it is floating (neither Z nor TZID)."""
    if value.endswith("Z"):
        return datetime.datetime.strptime(value, "%Y%m%dT%H%M%SZ")
    if "TZID" in params:
        local = datetime.datetime.strptime(value, "%Y%m%dT%H%M%S")
        return local.replace(tzinfo=zoneinfo.ZoneInfo(params["TZID"])).astimezone(
            datetime.timezone.utc).replace(tzinfo=None)
    return None


def calendar_part(mail):
    for ctype, p in mail.parts():
        if ctype == "text/calendar":
            return p
    return None


def check_mail_structure(mail, what):
    """MIME: multipart/mixed { multipart/alternative { text/plain, text/html }, text/calendar .ics }."""
    m = mail.msg
    t.eq(m.get_content_type(), "multipart/mixed", f"{what}: multipart/mixed")
    kids = list(m.iter_parts()) if m.is_multipart() else []
    alt = kids[0] if kids else None
    t.ok(alt is not None and alt.get_content_type() == "multipart/alternative",
         f"{what}: first part multipart/alternative", repr([k.get_content_type() for k in kids]))
    sub = [p.get_content_type() for p in alt.iter_parts()] if alt is not None and alt.is_multipart() else []
    t.eq(sub, ["text/plain", "text/html"], f"{what}: alternative = text/plain, then text/html")
    cal = [k for k in kids[1:] if k.get_content_type() == "text/calendar"]
    t.ok(len(cal) == 1 and (cal[0].get_filename() or "").endswith(".ics"),
         f"{what}: a text/calendar .ics attachment",
         repr([(k.get_content_type(), k.get_filename()) for k in kids]))
    # Headers: 7-bit on the wire (RFC 2047 for the German subject), decoded by the email package.
    raw_head = mail.raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in mail.raw else mail.raw.split(b"\n\n", 1)[0]
    t.ok(all(b < 128 for b in raw_head), f"{what}: header section is ASCII (encoded words)",
         raw_head[:600])
    t.ok(mail.subject and "=?" not in mail.subject and "Termin" in mail.subject,
         f"{what}: Subject decodes to German text", repr(mail.subject))
    t.ok("termine@praxis-beispiel.de" in str(m.get("From", "")), f"{what}: From is MAIL_FROM",
         repr(m.get("From")))
    t.ok(m.get("Date") and m.get("Message-ID") and str(m.get("MIME-Version", "")).strip() == "1.0",
         f"{what}: Date, Message-ID, MIME-Version 1.0",
         repr((m.get("Date"), m.get("Message-ID"), m.get("MIME-Version"))))
    return cal[0] if cal else None


def check_ics(part, what, method, start_utc, end_utc):
    raw = part.get_payload(decode=True) or b""
    text = raw.decode("utf-8", "replace")
    props = ics_props(text)
    names = [n for n, _, _ in props]
    t.ok(b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n"), f"{what}: .ics lines end in CRLF")
    t.ok(names[:1] == ["BEGIN"] and ("BEGIN", {}, "VEVENT") in props and ("END", {}, "VCALENDAR") in props
         and "UID" in names and "DTSTAMP" in names and "SUMMARY" in names,
         f"{what}: .ics has VCALENDAR, VEVENT, UID, DTSTAMP, SUMMARY", text[:800])
    t.ok(("METHOD", {}, method) in props, f"{what}: .ics METHOD:{method}",
         [p for p in props if p[0] == "METHOD"])
    got = {}
    for n, p, v in props:
        if n in ("DTSTART", "DTEND") and n not in got:
            got[n] = ics_time_utc(p, v)
    t.eq((got.get("DTSTART"), got.get("DTEND")), (start_utc, end_utc),
         f"{what}: .ics DTSTART/DTEND are {start_utc:%H:%M}Z-{end_utc:%H:%M}Z")
    return text


def count(st, sql):
    try:
        return int(st.db.sql(sql).strip() or "0")
    except ValueError:
        return -1


# ---------------------------------------------------------------------- the test
def main(st, seen):
    """The tests; every secret met on the way goes into seen (checked against the logs at the end)."""
    global CL
    CL = Client(st.port)
    bk = Booker(st, CL)
    doc = int(st.doctor_id)
    st.db.sql(f"UPDATE doctors SET practice_name = {q(PRACTICE_NAME)}, "
              f"practice_address = {q(PRACTICE_ADDRESS)} WHERE id = {doc}")

    # --- find a winter and a summer weekday with 09:00 free (the slots API knows the holidays)
    today = datetime.datetime.now(TZ).date()
    horizon = 180 - 2
    winter = summer = None
    tried = 0
    for off in range(2, horizon):
        day = today + datetime.timedelta(days=off)
        if day.weekday() >= 5:
            continue
        noon = datetime.datetime(day.year, day.month, day.day, 12, tzinfo=TZ)
        offset = noon.utcoffset()
        want = (winter is None and offset == datetime.timedelta(hours=1)) or \
            (summer is None and offset == datetime.timedelta(hours=2))
        if not want:
            continue
        tried += 1
        r, free = bk.free(day)
        if tried == 1:
            t.eq(r.status, 200, f"slots API for {day}: 200")
            j = r.json_or_none() or {}
            t.ok(j.get("date") == day.isoformat() and j.get("duration") == DURATION
                 and isinstance(j.get("slots"), list) and isinstance(j.get("summary"), str),
                 "slots API answers date, duration, slots, summary", repr(r))
            t.ok((r.header("Content-Type") or "").startswith("application/json"), "slots API is JSON")
            p = security_header_problems(r, html_page=False)
            t.ok(not p, "slots API: security headers", "\n".join(p))
            if free:
                h0, m0 = map(int, free[0].split(":"))
                ampm = f"{(h0 - 1) % 12 + 1}:{m0:02d} {'AM' if h0 < 12 else 'PM'}"
                t.ok(j["summary"].startswith("Available times: ") and ampm in j["summary"],
                     "summary in the seed's form ('Available times: 9:00 AM, ...')", j.get("summary"))
            r2 = bk.slots(day, path="/api/integrations/calendar/slots")
            t.eq((r2.status, r2.json_or_none()), (r.status, j), "slots API without the trailing slash: same answer")
        if free and "09:00" in free:
            if offset == datetime.timedelta(hours=1):
                winter = (day, free)
            else:
                summer = (day, free)
        if winter and summer or tried > 30:
            break
    if winter is None:
        t.bail("no winter weekday with 09:00 free within the booking horizon (slots API broken?)")
    day, free = winter
    t.ok(all(re.fullmatch(r"\d\d:\d\d", s) for s in free) and free == sorted(free)
         and {"08:00", "09:00", "11:30", "14:00", "17:30"} <= set(free) and "12:00" not in free
         and "18:00" not in free,
         f"{day}: the demo week's hours give 08:00..11:30 and 14:00..17:30 (30 min, step 15)", repr(free))
    r = CL.request("GET", "/api/integrations/calendar/slots/?doctor=" + st.slug + "&date=irgendwann&duration=30")
    j = r.json_or_none() or {}
    t.ok(r.status == 400 and (j.get("error") or {}).get("field") == "date",
         "slots API: a date it does not understand is 400 naming the field date", repr(r))
    r = CL.request("GET", "/api/integrations/calendar/slots/?doctor=gibt-es-nicht&date=" + day.isoformat())
    t.eq(r.status, 404, "slots API: unknown doctor 404")

    # --- the race: 50 concurrent bookings of one slot
    body = [bk.body(day, "09:00", f"Patient Nummer {i}", f"patient{i}@example.org") for i in range(RACE)]
    t0 = time.monotonic()
    res = concurrently(RACE, lambda i, conn: bk.book(body[i], conn=conn))
    took = time.monotonic() - t0
    errors = [repr(x) for x in res if isinstance(x, Exception)]
    statuses = [x.status if not isinstance(x, Exception) else "exc" for x in res]
    t.ok(not errors, f"{RACE} concurrent POST /api/appointments all answered ({took:.2f} s)", "\n".join(errors[:5]))
    t.eq((statuses.count(201), statuses.count(409)), (1, RACE - 1),
         f"the race: exactly one 201 and {RACE - 1} x 409", )
    if statuses.count(201) != 1 or statuses.count(409) != RACE - 1:
        t.diag(f"statuses: {statuses}")
    conflicts = [x for x in res if not isinstance(x, Exception) and x.status == 409]
    bad = [x for x in conflicts if (x.json_or_none() or {}).get("error", {}).get("code") != "slot_taken"
           or (x.json_or_none() or {}).get("error", {}).get("message") != TAKEN_MSG]
    t.ok(conflicts and not bad, "every 409 is slot_taken with the German message", repr(bad[:3]))
    win_utc = to_utc(day, "09:00")
    n = count(st, f"SELECT COUNT(*) FROM appointments WHERE doctor_id = {doc} AND start_utc = '{sqlts(win_utc)}'")
    t.eq(n, 1, f"one row in appointments for {day} 09:00 (start_utc {sqlts(win_utc)})")
    winner_i = next((i for i, x in enumerate(res) if not isinstance(x, Exception) and x.status == 201), None)
    winner = res[winner_i] if winner_i is not None else None
    wj = (winner.json_or_none() or {}) if winner else {}
    cancel_url = wj.get("cancel_url") or ""
    token = cancel_url.rsplit("/", 1)[-1]
    seen["cancel token (race winner)"] = token
    t.ok(wj.get("status") == "confirmed" and wj.get("start") == f"{day.isoformat()}T09:00"
         and wj.get("end") == f"{day.isoformat()}T09:30" and isinstance(wj.get("id"), int),
         "201 answers id, start, end (local), status confirmed", repr(wj))
    t.ok(cancel_url.startswith(st.base_url + "/termin/absage/") and re.fullmatch(r"[A-Za-z0-9_-]{43}", token),
         "cancel_url is BASE_URL/termin/absage/<43 base64url chars>", cancel_url)
    appt_id = wj.get("id") or 0
    t.eq(st.db.sql(f"SELECT action FROM outbox WHERE appointment_id = {int(appt_id)}").split(), ["create"],
         "one outbox 'create' row for it")
    t.eq(count(st, f"SELECT COUNT(*) FROM appointments WHERE cancel_token_hash = "
                   f"'{hashlib.sha256(token.encode()).hexdigest()}'"), 1,
         "the cancel token is stored as its SHA-256")

    r, free2 = bk.free(day)
    t.ok(free2 is not None and "09:00" not in free2 and "08:45" not in free2 and "09:30" in free2
         and "08:30" in free2, "the slots API no longer lists 09:00 (nor 08:45, which overlaps)", repr(free2))

    # --- Idempotency-Key: 10 concurrent identical requests
    key = "idem-" + secrets.token_hex(8)
    ibody = bk.body(day, "10:00", "Ida Idempotenz", "ida@example.org")
    res = concurrently(IDEM, lambda i, conn: bk.book(ibody, key=key, conn=conn))
    answers = {(x.status, x.body) if not isinstance(x, Exception) else ("exc", repr(x)) for x in res}
    t.ok(len(answers) == 1, f"{IDEM} concurrent requests with one Idempotency-Key: identical answers",
         repr(sorted(answers, key=repr))[:1500])
    first = res[0] if not isinstance(res[0], Exception) else None
    t.eq(first.status if first else None, 201, "... and the answer is 201")
    idem_utc = to_utc(day, "10:00")
    t.eq(count(st, f"SELECT COUNT(*) FROM appointments WHERE doctor_id = {doc} AND start_utc = '{sqlts(idem_utc)}'"),
         1, "... and one row")
    ij = (first.json_or_none() or {}) if first else {}
    seen["cancel token (idempotent booking)"] = (ij.get("cancel_url") or "").rsplit("/", 1)[-1]
    r = bk.book(ibody, key=key)
    t.eq((r.status, r.body), (first.status, first.body) if first else None, "a later repeat replays the same answer")
    r = bk.book(dict(ibody, patient_name="Ida Anders"), key=key)
    t.eq(r.status, 422, "the same key with another body: 422")
    r = bk.book(ibody, key="idem-" + secrets.token_hex(8))
    t.eq(r.status, 409, "the same body with a new key: 409 (the slot is taken)")
    t.eq(count(st, "SELECT COUNT(*) FROM idempotency_keys"), 2, "idempotency_keys holds the two keys' answers")
    got = st.wait_mails(lambda m: "ida@example.org" in m.to, 1, timeout=30)
    time.sleep(0.5)
    t.eq(len([m for m in st.mails() if "ida@example.org" in m.to]), 1,
         f"one confirmation mail for the {IDEM} + 3 requests with that body")

    # --- the confirmation mail of the race winner
    wmail = f"patient{winner_i}@example.org" if winner_i is not None else "nobody@invalid"
    got = st.wait_mails(lambda m: wmail in m.to, 1, timeout=30)
    t.eq(len(got), 1, f"the confirmation mail reached the SMTP sink ({wmail})")
    if got:
        m = got[0]
        cal = check_mail_structure(m, "confirmation")
        plain = m.text("plain") or ""
        html = m.text("html") or ""
        flat = " ".join(plain.split())
        t.ok(SERVICE in plain and ("09:00" in plain) and any(d in plain for d in german_dates(day))
             and "30 Minuten" in flat and PRACTICE_NAME in plain and PRACTICE_ADDRESS in flat,
             "text/plain (German): service, date, 09:00, 30 Minuten, practice name and address", plain[:2000])
        t.ok(cancel_url and cancel_url in plain and cancel_url in html,
             "the cancel link is in the text and in the HTML", plain[:2000])
        t.ok("Zu Google Kalender hinzufügen" in html and "calendar.google.com" in html,
             "the HTML has 'Zu Google Kalender hinzufügen' (calendar.google.com)", html[:3000])
        t.ok("Müllerstraße" in html and "Patient Nummer" in html + plain,
             "the HTML carries the German umlauts intact and the patient's name", html[:1500])
        if cal is not None:
            check_ics(cal, "confirmation", "REQUEST", win_utc, win_utc + datetime.timedelta(minutes=30))
    t.eq(count(st, f"SELECT COUNT(*) FROM mail_queue WHERE appointment_id = {int(appt_id)} "
                   f"AND kind = 'confirmation' AND status = 'sent'"), 1, "mail_queue: the confirmation is 'sent'")
    losers = [m for m in st.mails() if re.search(r"patient\d+@example\.org", m.to) and wmail not in m.to]
    t.eq(len(losers), 0, f"no mail to the {RACE - 1} patients who got 409")

    # --- the cancel link through nginx
    path = urllib.parse.urlsplit(cancel_url).path if cancel_url else "/termin/absage/x"
    r = CL.request("GET", path)
    t.eq(r.status, 200, "GET the cancel link: 200")
    t.ok("Termin absagen" in r.text and SERVICE in r.text, "the page shows the appointment and 'Termin absagen'",
         r.text[:1500])
    p = security_header_problems(r, html_page=True)
    t.ok(not p, "cancel page: security headers", "\n".join(p))
    jar = {}
    if "tf_csrf" in r.cookies():
        jar["tf_csrf"] = r.cookies()["tf_csrf"][0]
    tok = csrf_of(r)
    t.ok(tok and jar, "the cancel form carries csrf_token and the tf_csrf cookie is set")
    r2 = CL.request("POST", path, body={"csrf_token": "A" * 43}, cookies=jar)
    t.eq(r2.status, 403, "POST the cancel form with a wrong csrf_token: 403")
    t.eq(st.db.sql(f"SELECT status FROM appointments WHERE id = {int(appt_id)}").strip(), "confirmed",
         "... and the appointment stays confirmed")
    fields = {i.get("name"): i.get("value") or "" for i in parse_forms(r.text).inputs if i.get("name")}
    fields["csrf_token"] = tok or ""
    r2 = CL.request("POST", path, body=fields, cookies=jar)
    t.eq(r2.status, 200, "POST the cancel form: 200")
    t.ok("Ihr Termin wurde abgesagt." in r2.text, "'Ihr Termin wurde abgesagt.'", r2.text[:1500])
    t.eq(st.db.sql(f"SELECT status, cancelled_by FROM appointments WHERE id = {int(appt_id)}").split(),
         ["cancelled", "patient"], "the appointment is cancelled by the patient")
    t.eq(st.db.sql(f"SELECT action FROM outbox WHERE appointment_id = {int(appt_id)} ORDER BY id").split(),
         ["create", "cancel"], "outbox: create, then cancel")
    r3 = CL.request("POST", path, body=fields, cookies=jar)
    t.eq(r3.status, 410, "cancelling again: 410")
    r3 = CL.request("GET", "/termin/absage/" + "B" * 43)
    t.eq(r3.status, 404, "an unknown cancel token: 404")
    got = st.wait_mails(lambda m: wmail in m.to and (calendar_part(m) is not None) and
                        b"METHOD:CANCEL" in (calendar_part(m).get_payload(decode=True) or b""), 1, timeout=30)
    t.eq(len(got), 1, "a cancellation mail arrives with METHOD:CANCEL")
    if got:
        m = got[0]
        cal = check_mail_structure(m, "cancellation")
        plain = m.text("plain") or ""
        t.ok("abgesagt" in plain.lower() or "absage" in plain.lower(), "the cancellation mail says 'abgesagt'",
             plain[:1500])
        if cal is not None:
            check_ics(cal, "cancellation", "CANCEL", win_utc, win_utc + datetime.timedelta(minutes=30))
    r, free3 = bk.free(day)
    t.ok(free3 is not None and "09:00" in free3 and "08:45" in free3, "the freed 09:00 is listed again", repr(free3))

    # --- a summer date: 09:00 CEST is 07:00Z
    if summer is None:
        t.skip("summer date: .ics DTSTART 07:00Z", "no summer weekday with 09:00 free within the horizon")
    else:
        sday = summer[0]
        r = bk.book(bk.body(sday, "09:00", "Sommer Patientin", "sommer@example.org"))
        t.eq(r.status, 201, f"booking the summer date {sday} 09:00: 201")
        seen["cancel token (summer)"] = ((r.json_or_none() or {}).get("cancel_url") or "").rsplit("/", 1)[-1]
        got = st.wait_mails(lambda m: "sommer@example.org" in m.to, 1, timeout=30)
        t.eq(len(got), 1, "the summer confirmation arrives")
        if got and calendar_part(got[0]) is not None:
            s_utc = to_utc(sday, "09:00")
            t.eq(s_utc.hour, 7, "(09:00 Europe/Berlin in summer is 07:00 UTC)")
            check_ics(calendar_part(got[0]), "summer", "REQUEST", s_utc, s_utc + datetime.timedelta(minutes=30))

    # --- tf-remind: one reminder for an appointment 20 h ahead, two overlapping runs and a third
    if not os.access(st.remind_bin, os.X_OK):
        t.ok(False, "tf-remind is built", st.remind_bin)
    else:
        from cryptography.fernet import Fernet
        rtoken = secrets.token_urlsafe(32)
        seen["cancel token (reminder)"] = rtoken
        enc = Fernet(st.encryption_key.split(",")[0].encode()).encrypt(rtoken.encode()).decode()
        start = (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, second=0, microsecond=0)
                 + datetime.timedelta(hours=20))
        sid = st.db.sql(f"SELECT id FROM services WHERE doctor_id = {doc} AND name = {q(SERVICE)}").strip()
        st.db.sql("INSERT INTO appointments (doctor_id, service_id, service_name, start_utc, end_utc, "
                  "patient_name, patient_email, status, cancel_token_hash, cancel_token_encrypted) VALUES "
                  f"({doc}, {sid or 'NULL'}, {q(SERVICE)}, '{sqlts(start)}', "
                  f"'{sqlts(start + datetime.timedelta(minutes=30))}', 'Erika Erinnerung', "
                  f"'erinnerung@example.org', 'confirmed', '{hashlib.sha256(rtoken.encode()).hexdigest()}', "
                  f"{q(enc)})")
        before = len(st.mails())
        procs = [st.remind_popen(), st.remind_popen()]
        outs = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
        third = st.remind()
        outs.append((third.stdout, third.stderr, third.returncode))
        t.eq([o[2] for o in outs], [0, 0, 0], "tf-remind: two overlapping runs and a third exit 0",
             ) or t.diag("\n".join(o[1] for o in outs))
        REMIND_ERR.extend(o[1] for o in outs)
        got = st.wait_mails(lambda m: "erinnerung@example.org" in m.to, 1, timeout=10)
        time.sleep(1)
        got = [m for m in st.mails() if "erinnerung@example.org" in m.to]
        t.eq(len(got), 1, "exactly one reminder mail")
        t.eq(len(st.mails()) - before, 1, "... and no other mail (the other appointments are days ahead)")
        if got:
            m = got[0]
            plain = m.text("plain") or ""
            t.ok("Termin" in m.subject and "=?" not in m.subject, "reminder: German subject", m.subject)
            t.ok(f"{st.base_url}/termin/absage/{rtoken}" in plain,
                 "reminder: the cancel link decrypted from the Fernet token Python made", plain[:1500])
            local = start.replace(tzinfo=datetime.timezone.utc).astimezone(TZ)
            t.ok(local.strftime("%H:%M") in plain, f"reminder: the local time {local:%H:%M}", plain[:1500])
            cal = calendar_part(m)
            if cal is not None:
                check_ics(cal, "reminder", "REQUEST", start, start + datetime.timedelta(minutes=30))

    # --- the SMTP sink is down at booking time
    st.smtp_stop()
    down_body = bk.body(day, "11:00", "Otto Offline", "offline@example.org")
    t0 = time.monotonic()
    r = bk.book(down_body)
    took = time.monotonic() - t0
    t.eq(r.status, 201, "SMTP down: the booking still answers 201")
    t.ok(took < 10, f"... without waiting for the mail ({took:.2f} s)")
    did = int((r.json_or_none() or {}).get("id") or 0)
    seen["cancel token (SMTP down)"] = ((r.json_or_none() or {}).get("cancel_url") or "").rsplit("/", 1)[-1]
    row = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        row = st.db.sql(f"SELECT status, attempts, last_error IS NOT NULL FROM mail_queue "
                        f"WHERE appointment_id = {did} AND kind = 'confirmation'").split()
        # attempts counts up when a sender claims the row ('sending'); the failure then puts it back
        if len(row) == 3 and row[0] == "pending" and row[1] != "0" and row[2] == "1":
            break
        time.sleep(0.2)
    t.ok(len(row) == 3 and row[0] == "pending" and int(row[1]) >= 1 and row[2] == "1",
         "the failed send is recorded: pending, attempts >= 1, last_error", repr(row))
    t.eq(st.db.sql(f"SELECT status FROM appointments WHERE id = {did}").strip(), "confirmed",
         "... and the appointment stands")
    st.smtp_start()
    # The back-off's first minute passes:
    st.db.sql(f"UPDATE mail_queue SET next_attempt_at = UTC_TIMESTAMP() WHERE appointment_id = {did}")
    rr = st.remind()
    REMIND_ERR.append(rr.stderr)
    t.eq(rr.returncode, 0, "tf-remind after the sink is back: exit 0", ) or t.diag(rr.stderr)
    got = st.wait_mails(lambda m: "offline@example.org" in m.to, 1, timeout=20)
    t.eq(len(got), 1, "... and it sends the delayed confirmation")
    t.eq(st.db.sql(f"SELECT status FROM mail_queue WHERE appointment_id = {did} AND kind = 'confirmation'").strip(),
         "sent", "mail_queue: now 'sent'")


REMIND_ERR = []
CL = None


def check_logs(st, seen):
    logs = {}
    for name, path in (("app stderr", st.app_log), ("nginx access log", st.nginx_access_log),
                       ("nginx error log", st.nginx_error_log), ("SMTP sink log", st.smtp_log)):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                logs[name] = f.read()
        except OSError:
            logs[name] = ""
    logs["tf-remind stderr"] = "\n".join(REMIND_ERR)
    for what, value in seen.items():
        if not value:
            continue
        found = [n for n, text in logs.items() if value in text]
        t.ok(not found, f"no {what} in any log", f"found in {found}")
    bad = [ln for n in ("app stderr", "tf-remind stderr") for ln in logs[n].splitlines()
           if "AddressSanitizer" in ln or "runtime error:" in ln or "LeakSanitizer" in ln]
    t.ok(not bad, "no sanitizer report from the app or tf-remind", "\n".join(bad[:20]))


def run():
    tmp = tempfile.mkdtemp(prefix="tf-booking-http-", dir=os.environ.get("TMPDIR", "/tmp"))
    st = Stack(tmp, workers=WORKERS, nginx_args=["--burst", "tf_booking=200"])
    try:
        st.start()
    except Exception as e:  # noqa: BLE001 - any start failure is a bail-out
        t.bail(f"stack did not start: {e}")
    seen = {"TF_SECRET_KEY": st.secret_key, "CALENDAR_ENCRYPTION_KEY": st.encryption_key}
    try:
        main(st, seen)
    except SystemExit:
        st.stop()
        raise
    except Exception:  # noqa: BLE001
        t.ok(False, "the booking tests ran to the end", traceback.format_exc())
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
