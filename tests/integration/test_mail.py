"""test_mail.py: tf-remind and the mail queue end to end: a private MariaDB, a real SMTP server (smtpsink), parsed mails."""
import base64
import email
import email.policy
import email.utils
import hashlib
import html as htmlmod
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))

from tap import Tap  # noqa: E402
from cgiapp import SECRET, CgiSetup, cgi_settings  # noqa: E402

t = Tap()
REMIND = os.path.join(BUILDDIR, "tf-remind")
ADMIN = os.path.join(BUILDDIR, "tf-admin")
ICS_CHECK = os.path.join(BUILDDIR, "tests", "unit", "ics-check")
for prog in (REMIND, ADMIN, ICS_CHECK):
    if not os.access(prog, os.X_OK):
        t.bail(f"{prog} not built")
try:
    from cryptography.fernet import Fernet
    from smtpsink import SmtpSink, self_signed_cert
except ImportError as e:
    t.skip("mail tests", f"needs python3-aiosmtpd and python3-cryptography ({e}); run with $PYTHON3")
    t.done()

BASE_URL = "https://praxis.example"
MAIL_FROM_ADDR = "termine@praxis.example"
SMTP_PASSWORD = "Smtp-Geheimnis-4711"
WRONG_PASSWORD = "Falsches-Passwort-0815"
ENC_KEY = Fernet.generate_key().decode()
UTC = timezone.utc

S = CgiSetup(t, "tf-test-mail.", db_dir="mariadb")
tmp, db = S.tmp, S.db
S.start("MariaDB")

stderr_seen = []


def settings(**over):
    s = cgi_settings(db, SRCDIR, SECRET, BASE_URL, log_level=None, fernet_key=ENC_KEY,
                     MAIL_FROM=f"Praxis Dr. Schäfer <{MAIL_FROM_ADDR}>",
                     SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink_port), SMTP_STARTTLS="no")
    s.update(over)
    return {k: v for k, v in s.items() if v is not None}


def env_for(conf_settings, extra_env=None):
    # one file per distinct configuration, written once: runs started together must never read a
    # file that is being rewritten
    text = "".join(f"{k}='{v}'\n" for k, v in conf_settings.items())
    path = os.path.join(tmp, "conf-" + hashlib.sha256(text.encode()).hexdigest()[:16] + ".env")
    if not os.path.exists(path):
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("TF_") or k.startswith("SMTP_") or k in ("MAIL_FROM", "BASE_URL",
                                                                       "CALENDAR_ENCRYPTION_KEY"))}
    env["TF_CONFIG"] = path
    if extra_env:
        env.update(extra_env)
    return env


def remind(conf_settings=None, extra_env=None):
    env = env_for(conf_settings or settings(), extra_env)
    r = subprocess.run([REMIND], env=env, capture_output=True, text=True, timeout=180)
    stderr_seen.append(r.stderr)
    return r


def remind_popen(conf_settings=None):
    env = env_for(conf_settings or settings())
    return subprocess.Popen([REMIND], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def q(sql):
    return db.sql(sql).strip()


def sqlstr(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def utc_sql(dt):
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def now_utc():
    # the database clock (what tf-remind compares with), to the second
    return datetime.strptime(q("SELECT UTC_TIMESTAMP()"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


counter = [0]


def add_appointment(start, minutes=30, name="Erika Müller", email_addr="erika@example.org",
                    token=True, status="confirmed", service="Sprechstunde"):
    """Insert an appointment (start: aware UTC datetime). Returns (id, token or None)."""
    counter[0] += 1
    tok = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=") if token else None
    h = hashlib.sha256((tok or f"none-{counter[0]}-{time.time_ns()}").encode()).hexdigest()
    enc = sqlstr(Fernet(ENC_KEY.encode()).encrypt(tok.encode()).decode()) if tok else "NULL"
    end = start + timedelta(minutes=minutes)
    q(f"INSERT INTO appointments (doctor_id, service_id, service_name, start_utc, end_utc,"
      f" patient_name, patient_email, status, cancel_token_hash, cancel_token_encrypted)"
      f" VALUES ({doctor_id}, NULL, {sqlstr(service)}, '{utc_sql(start)}', '{utc_sql(end)}',"
      f" {sqlstr(name)}, {sqlstr(email_addr)}, '{status}', '{h}', {enc})")
    return int(q("SELECT MAX(id) FROM appointments")), tok


def enqueue(appt, kind, seq=0):
    q(f"INSERT INTO mail_queue (appointment_id, kind, seq) VALUES ({appt}, '{kind}', {seq})")


def row(appt, kind):
    out = q(f"SELECT status, attempts, IFNULL(last_error, ''), next_attempt_at > UTC_TIMESTAMP(),"
            f" sent_at IS NOT NULL FROM mail_queue WHERE appointment_id = {appt} AND kind = '{kind}'"
            f" ORDER BY id DESC LIMIT 1")
    if not out:
        return None
    st, att, err, future, sent = out.split("\t")
    return {"status": st, "attempts": int(att), "last_error": err, "future": future == "1",
            "sent": sent == "1"}


class Inbox:
    def __init__(self, sink):
        self.sink = sink
        self.seen = 0

    def new(self):
        """Messages received since the last call, parsed."""
        msgs = self.sink.messages()
        out = [email.message_from_bytes(raw, policy=email.policy.default) for _, raw in msgs[self.seen:]]
        self.seen = len(msgs)
        return out


def for_rcpt(msgs, addr):
    return [m for m in msgs if m["X-Sink-Rcpt-To"] == f"<{addr}>"]


def ics_fields(m):
    part = [p for p in m.walk() if p.get_content_type() == "text/calendar"][0]
    raw = part.get_payload(decode=True)
    r = subprocess.run([ICS_CHECK], input=raw, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    fields = dict(line.split("=", 1) for line in r.stdout.decode().splitlines())
    return fields, raw.decode()


def tree(m):
    return [p.get_content_type() for p in m.walk()]


# ---------------------------------------------------------------------------------------- setup
sink_dir = os.path.join(tmp, "mail")
sink = SmtpSink(sink_dir).start()
S.add_cleanup(sink.stop)
sink_port = sink.port
inbox = Inbox(sink)

r = subprocess.run([ADMIN, "migrate"], env=env_for(settings()), capture_output=True, text=True, timeout=120)
if r.returncode != 0:
    S.bail(f"tf-admin migrate failed: {r.stderr}")
r = subprocess.run([ADMIN, "add-doctor", "arzt@praxis.example", "--name", "Dr. Anna Schäfer",
                    "--slug", "dr-schaefer"], input="Kaffee-und-Kuchen-42\n",
                   env=env_for(settings()), capture_output=True, text=True, timeout=120)
if r.returncode != 0:
    S.bail(f"tf-admin add-doctor failed: {r.stderr}")
doctor_id = int(r.stdout.strip().split()[-1])
q(f"UPDATE doctors SET practice_name = 'Praxis Dr. Schäfer',"
  f" practice_address = 'Hauptstraße 1, 10115 Berlin' WHERE id = {doctor_id}")

try:
    # ------------------------------------------------------------------------ program basics
    with t.case("tf-remind --help and --version"):
        r = subprocess.run([REMIND, "--help"], capture_output=True, text=True)
        assert r.returncode == 0 and "never send the same mail twice" in r.stdout, r.stdout
        r = subprocess.run([REMIND, "--version"], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.startswith("tf-remind"), r.stdout
        r = subprocess.run([REMIND, "--bogus"], capture_output=True, text=True)
        assert r.returncode == 2, r.returncode

    with t.case("a missing setting is exit 2 naming it"):
        r = remind(settings(MAIL_FROM=None))
        assert r.returncode == 2 and "MAIL_FROM" in r.stderr, (r.returncode, r.stderr)
        r = remind(settings(SMTP_HOST=None))
        assert r.returncode == 2 and "SMTP_HOST" in r.stderr, (r.returncode, r.stderr)
        r = remind(settings(SMTP_STARTTLS="sometimes"))
        assert r.returncode == 2 and "SMTP_STARTTLS" in r.stderr, (r.returncode, r.stderr)

    with t.case("database down is exit 3"):
        r = remind(settings(TF_DB_SOCKET=os.path.join(tmp, "nope.sock")))
        assert r.returncode == 3 and "database" in r.stderr, (r.returncode, r.stderr)

    with t.case("nothing due: exit 0, no mail"):
        r = remind()
        assert r.returncode == 0, r.stderr
        assert inbox.new() == []

    # ------------------------------------------------------------------------ confirmations
    # winter: 2027-01-12 10:00 CET = 09:00 UTC; summer: 2027-07-13 09:00 CEST = 07:00 UTC
    winter = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)
    summer = datetime(2027, 7, 13, 7, 0, tzinfo=UTC)
    a_w, tok_w = add_appointment(winter, 30, name="Erika Müller", email_addr="erika@example.org")
    a_s, tok_s = add_appointment(summer, 45, name="Jürgen O'Neil", email_addr="juergen@example.org")
    enqueue(a_w, "confirmation")
    enqueue(a_s, "confirmation")
    r = remind()
    got = inbox.new()
    t.eq(r.returncode, 0, "queued confirmations: tf-remind exits 0")
    t.eq(len(got), 2, "two confirmations received by the SMTP server")
    mw = (for_rcpt(got, "erika@example.org") or [None])[0]
    ms = (for_rcpt(got, "juergen@example.org") or [None])[0]

    with t.case("MIME tree: mixed { alternative { plain, html }, calendar }"):
        assert tree(mw) == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html",
                            "text/calendar"], tree(mw)
        cal = [p for p in mw.walk() if p.get_content_type() == "text/calendar"][0]
        assert cal.get_param("method") == "REQUEST", cal["Content-Type"]
        assert cal.get_param("charset") == "utf-8"
        assert cal.get_filename() == "termin.ics"
        assert cal.get_content_disposition() == "attachment"
        for p in mw.walk():
            if p.get_content_type().startswith("text/"):
                assert p.get_content_charset() == "utf-8"

    with t.case("headers: Subject (German, decoded), From, To, Date, Message-ID, Auto-Submitted"):
        assert str(mw["Subject"]) == "Terminbestätigung: Sprechstunde am 12.01.2027 um 10:00", mw["Subject"]
        assert "=?UTF-8?B?" in mw.as_bytes().decode("ascii").split("\r\n\r\n", 1)[0] or \
            "=?utf-8?b?" in mw.as_bytes().decode("ascii").split("\n\n", 1)[0].lower()
        assert mw["From"].addresses[0].addr_spec == MAIL_FROM_ADDR
        assert mw["From"].addresses[0].display_name == "Praxis Dr. Schäfer"
        assert mw["To"].addresses[0].addr_spec == "erika@example.org"
        assert mw["To"].addresses[0].display_name == "Erika Müller"
        d = email.utils.parsedate_to_datetime(str(mw["Date"]))
        assert abs((d - now_utc()).total_seconds()) < 600, d
        assert re.fullmatch(r"<[A-Za-z0-9_.-]+@praxis\.example>", str(mw["Message-ID"])), mw["Message-ID"]
        assert mw["MIME-Version"] == "1.0"
        assert mw["Auto-Submitted"] == "auto-generated"
        assert mw["X-Sink-Mail-From"] == f"<{MAIL_FROM_ADDR}>"
        assert str(ms["Subject"]) == "Terminbestätigung: Sprechstunde am 13.07.2027 um 09:00", ms["Subject"]
        assert ms["To"].addresses[0].display_name == "Jürgen O'Neil"

    cancel_w = f"{BASE_URL}/termin/absage/{tok_w}"
    with t.case("plain text part: German details, cancel link, Google link"):
        text = mw.get_body(("plain",)).get_content()
        for s in ("Guten Tag Erika Müller,", "Ihr Termin ist bestätigt", "Sprechstunde",
                  "Dienstag, 12. Januar 2027", "10:00 – 10:30 Uhr (30 Minuten)",
                  "Praxis Dr. Schäfer", "Hauptstraße 1, 10115 Berlin", cancel_w,
                  "Zu Google Kalender hinzufügen"):
            assert s in text, (s, text)
        g = re.search(r"https://calendar\.google\.com/calendar/render\?\S+", text)
        assert g, text
        assert "action=TEMPLATE" in g.group(0)
        assert "dates=20270112T090000Z/20270112T093000Z" in g.group(0), g.group(0)
        assert "text=Sprechstunde%20%E2%80%93%20Praxis%20Dr.%20Sch%C3%A4fer" in g.group(0), g.group(0)
        assert "location=Hauptstra%C3%9Fe%201%2C%2010115%20Berlin" in g.group(0), g.group(0)

    with t.case("HTML part: German details, escaped values, cancel and Google links"):
        html = mw.get_body(("html",)).get_content()
        for s in ("<html lang=\"de\">", "Ihr Termin ist bestätigt", "Dienstag, 12. Januar 2027",
                  "10:00 – 10:30 Uhr", "Hauptstraße 1<br>10115 Berlin",
                  f"href=\"{cancel_w}\"", "Zu Google Kalender hinzufügen</a>"):
            assert s in html, (s, html)
        hrefs = [htmlmod.unescape(h) for h in re.findall(r'href="([^"]*)"', html)]
        g = [h for h in hrefs if h.startswith("https://calendar.google.com/calendar/render?")]
        assert len(g) == 1, hrefs
        assert "action=TEMPLATE&text=Sprechstunde" in g[0], g[0]
        assert "&dates=20270112T090000Z/20270112T093000Z&" in g[0], g[0]
        html_s = ms.get_body(("html",)).get_content()
        assert "Jürgen O&#39;Neil" in html_s, html_s

    with t.case(".ics (winter) read by libical: REQUEST, UID, UTC times, SEQUENCE, STATUS"):
        f, raw = ics_fields(mw)
        assert f["METHOD"] == "REQUEST", f
        assert f["UID"] == f"terminfinder-appointment-{a_w}@praxis.example", f
        assert int(f["DTSTART"]) == int(winter.timestamp()) and f["DTSTART_UTC"] == "1", f
        assert int(f["DTEND"]) == int((winter + timedelta(minutes=30)).timestamp()), f
        assert f["SEQUENCE"] == "0" and f["STATUS"] == "CONFIRMED", f
        assert f["ATTENDEE"] == "mailto:erika@example.org", f
        assert f["ORGANIZER"] == f"mailto:{MAIL_FROM_ADDR}", f
        assert f["ERRORS"] == "0", f
        assert "DTSTART:20270112T090000Z\r\n" in raw and "DTEND:20270112T093000Z\r\n" in raw, raw
        assert all(len(line.encode()) <= 75 for line in raw.split("\r\n")), raw

    with t.case(".ics (summer) has the summer-time UTC offset: 09:00 CEST = 07:00Z"):
        f, raw = ics_fields(ms)
        assert "DTSTART:20270713T070000Z\r\n" in raw and "DTEND:20270713T074500Z\r\n" in raw, raw
        assert int(f["DTSTART"]) == int(summer.timestamp()), f
        text = ms.get_body(("plain",)).get_content()
        assert "Dienstag, 13. Juli 2027" in text and "09:00 – 09:45 Uhr (45 Minuten)" in text, text

    with t.case("the queue rows are 'sent' after one attempt"):
        for a in (a_w, a_s):
            rw = row(a, "confirmation")
            assert rw["status"] == "sent" and rw["attempts"] == 1 and rw["sent"], rw

    with t.case("a second run sends nothing again"):
        r = remind()
        assert r.returncode == 0, r.stderr
        assert inbox.new() == []

    # ------------------------------------------------------------------------ reminders
    now = now_utc()
    a_r, _ = add_appointment(now + timedelta(hours=20), email_addr="rem@example.org")
    a_far, _ = add_appointment(now + timedelta(hours=30), email_addr="far@example.org")
    a_soon, _ = add_appointment(now + timedelta(minutes=4), email_addr="soon@example.org")
    a_canc, _ = add_appointment(now + timedelta(hours=10), email_addr="canc@example.org",
                                status="cancelled")
    r1 = remind()
    r2 = remind()
    got = inbox.new()
    with t.case("reminder 20 h ahead: tf-remind run twice sends exactly one"):
        assert r1.returncode == 0 and r2.returncode == 0, (r1.stderr, r2.stderr)
        rem = for_rcpt(got, "rem@example.org")
        assert len(rem) == 1, [m["X-Sink-Rcpt-To"] for m in got]
        assert str(rem[0]["Subject"]).startswith("Terminerinnerung: Sprechstunde am "), rem[0]["Subject"]
        assert "wir möchten Sie an Ihren Termin erinnern" in rem[0].get_body(("plain",)).get_content()
        assert q(f"SELECT reminder_sent_at IS NOT NULL FROM appointments WHERE id = {a_r}") == "1"
        assert q(f"SELECT COUNT(*) FROM mail_queue WHERE appointment_id = {a_r}") == "1"
    with t.case("no reminder 30 h ahead, 4 minutes ahead, or for a cancelled appointment"):
        assert for_rcpt(got, "far@example.org") == [] and for_rcpt(got, "soon@example.org") == []
        assert for_rcpt(got, "canc@example.org") == []
        for a in (a_far, a_soon, a_canc):
            assert q(f"SELECT COUNT(*) FROM mail_queue WHERE appointment_id = {a}") == "0", a
        assert len(got) == 1, len(got)

    with t.case("overlapping runs: 4 tf-remind at once, 8 appointments, one reminder each"):
        now = now_utc()
        addrs = [f"race{i}@example.org" for i in range(8)]
        for i, addr in enumerate(addrs):
            add_appointment(now + timedelta(hours=19, minutes=7 * i), email_addr=addr)
        procs = [remind_popen() for _ in range(4)]
        codes = []
        for p in procs:
            out, err = p.communicate(timeout=180)
            stderr_seen.append(err)
            codes.append(p.returncode)
        got = inbox.new()
        assert codes == [0, 0, 0, 0], codes
        for addr in addrs:
            assert len(for_rcpt(got, addr)) == 1, (addr, len(for_rcpt(got, addr)))
        assert len(got) == len(addrs), len(got)

    with t.case("moved within the window after the reminder: no second reminder"):
        q(f"UPDATE appointments SET start_utc = start_utc + INTERVAL 2 HOUR,"
          f" end_utc = end_utc + INTERVAL 2 HOUR, reschedule_count = reschedule_count + 1 WHERE id = {a_r}")
        r = remind()
        assert r.returncode == 0 and for_rcpt(inbox.new(), "rem@example.org") == []

    with t.case("moved away (> 24 h, reminder_sent_at cleared) and back: one new reminder"):
        q(f"UPDATE appointments SET start_utc = start_utc + INTERVAL 2 DAY, end_utc = end_utc + INTERVAL 2 DAY,"
          f" reschedule_count = reschedule_count + 1, reminder_sent_at = NULL WHERE id = {a_r}")
        r = remind()
        assert r.returncode == 0 and for_rcpt(inbox.new(), "rem@example.org") == []
        q(f"UPDATE appointments SET start_utc = UTC_TIMESTAMP() + INTERVAL 22 HOUR,"
          f" end_utc = UTC_TIMESTAMP() + INTERVAL 22 HOUR + INTERVAL 30 MINUTE,"
          f" reschedule_count = reschedule_count + 1 WHERE id = {a_r}")
        r1 = remind()
        r2 = remind()
        got = for_rcpt(inbox.new(), "rem@example.org")
        assert r1.returncode == 0 and r2.returncode == 0
        assert len(got) == 1, len(got)
        assert q(f"SELECT COUNT(*) FROM mail_queue WHERE appointment_id = {a_r} AND kind = 'reminder'"
                 f" AND status = 'sent'") == "2"

    # ------------------------------------------------------------------------ cancellation, reschedule
    with t.case("cancellation mail: METHOD:CANCEL, STATUS:CANCELLED, higher SEQUENCE, German text"):
        q(f"UPDATE appointments SET status = 'cancelled', cancelled_by = 'patient',"
          f" cancelled_at = UTC_TIMESTAMP() WHERE id = {a_w}")
        enqueue(a_w, "cancellation")
        r = remind()
        got = for_rcpt(inbox.new(), "erika@example.org")
        assert r.returncode == 0 and len(got) == 1, (r.stderr, len(got))
        m = got[0]
        assert str(m["Subject"]) == "Terminabsage: Sprechstunde am 12.01.2027 um 10:00", m["Subject"]
        assert tree(m)[-1] == "text/calendar"
        cal = [p for p in m.walk() if p.get_content_type() == "text/calendar"][0]
        assert cal.get_param("method") == "CANCEL", cal["Content-Type"]
        f, raw = ics_fields(m)
        assert f["METHOD"] == "CANCEL" and f["STATUS"] == "CANCELLED", f
        assert int(f["SEQUENCE"]) > 0, f
        assert f["UID"] == f"terminfinder-appointment-{a_w}@praxis.example", f
        text = m.get_body(("plain",)).get_content()
        assert "hiermit bestätigen wir die Absage Ihres Termins" in text, text
        assert f"{BASE_URL}/termin/dr-schaefer" in text and "/termin/absage/" not in text, text

    with t.case("a reminder queued for a cancelled appointment is not sent"):
        enqueue(a_w, "reminder", 0)
        r = remind()
        assert r.returncode == 0 and for_rcpt(inbox.new(), "erika@example.org") == []
        rw = row(a_w, "reminder")
        assert rw["status"] == "failed" and "cancelled" in rw["last_error"], rw

    with t.case("reschedule mail: Terminänderung and SEQUENCE = reschedule_count"):
        q(f"UPDATE appointments SET start_utc = start_utc + INTERVAL 1 DAY, end_utc = end_utc + INTERVAL 1 DAY,"
          f" reschedule_count = 1 WHERE id = {a_s}")
        enqueue(a_s, "reschedule", 1)
        r = remind()
        got = for_rcpt(inbox.new(), "juergen@example.org")
        assert r.returncode == 0 and len(got) == 1, (r.stderr, len(got))
        assert str(got[0]["Subject"]) == "Terminänderung: Sprechstunde jetzt am 14.07.2027 um 09:00", got[0]["Subject"]
        f, raw = ics_fields(got[0])
        assert f["METHOD"] == "REQUEST" and f["SEQUENCE"] == "1", f
        assert "DTSTART:20270714T070000Z\r\n" in raw, raw

    # ------------------------------------------------------------------------ SMTP down, retry
    a_down, _ = add_appointment(datetime(2027, 3, 2, 13, 0, tzinfo=UTC), email_addr="down@example.org")
    with t.case("SMTP down: exit 1, row pending with attempts=1, last_error, later attempt"):
        sink.stop()
        enqueue(a_down, "confirmation")
        r = remind()
        assert r.returncode == 1, (r.returncode, r.stderr)
        rw = row(a_down, "confirmation")
        assert rw["status"] == "pending" and rw["attempts"] == 1, rw
        assert f"127.0.0.1:{sink_port}" in rw["last_error"], rw
        assert rw["future"], rw
        wait = int(q(f"SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), next_attempt_at) FROM mail_queue"
                     f" WHERE appointment_id = {a_down}"))
        assert 45 <= wait <= 60, f"first back-off {wait} s, want about 60"
    with t.case("SMTP back, but before next_attempt_at: nothing sent yet"):
        sink = SmtpSink(sink_dir, port=sink_port).start()
        inbox.sink = sink
        r = remind()
        assert r.returncode == 0, r.stderr
        assert for_rcpt(inbox.new(), "down@example.org") == []
        assert row(a_down, "confirmation")["status"] == "pending"
    with t.case("next_attempt_at passed: the retry is sent"):
        q(f"UPDATE mail_queue SET next_attempt_at = UTC_TIMESTAMP() - INTERVAL 1 SECOND"
          f" WHERE appointment_id = {a_down}")
        r = remind()
        got = for_rcpt(inbox.new(), "down@example.org")
        assert r.returncode == 0 and len(got) == 1, (r.stderr, len(got))
        rw = row(a_down, "confirmation")
        assert rw["status"] == "sent" and rw["attempts"] == 2 and rw["last_error"] == "", rw

    with t.case("a 'sending' row older than 15 minutes (crashed sender) is taken over"):
        a_st, _ = add_appointment(datetime(2027, 3, 3, 13, 0, tzinfo=UTC), email_addr="stale@example.org")
        q(f"INSERT INTO mail_queue (appointment_id, kind, seq, status, attempts, claimed_at)"
          f" VALUES ({a_st}, 'confirmation', 0, 'sending', 1, UTC_TIMESTAMP() - INTERVAL 16 MINUTE)")
        a_fr, _ = add_appointment(datetime(2027, 3, 4, 13, 0, tzinfo=UTC), email_addr="fresh@example.org")
        q(f"INSERT INTO mail_queue (appointment_id, kind, seq, status, attempts, claimed_at)"
          f" VALUES ({a_fr}, 'confirmation', 0, 'sending', 1, UTC_TIMESTAMP() - INTERVAL 5 MINUTE)")
        r = remind()
        got = inbox.new()
        assert r.returncode == 0, r.stderr
        assert len(for_rcpt(got, "stale@example.org")) == 1
        assert for_rcpt(got, "fresh@example.org") == []
        assert row(a_fr, "confirmation")["status"] == "sending"
        q(f"DELETE FROM mail_queue WHERE appointment_id = {a_fr}")

    # ------------------------------------------------------------------------ AUTH
    sink.stop()
    sink = SmtpSink(sink_dir, port=sink_port, auth=("praxis", SMTP_PASSWORD)).start()
    inbox.sink = sink
    with t.case("SMTP AUTH with the right password: sent"):
        a_auth, _ = add_appointment(datetime(2027, 3, 5, 13, 0, tzinfo=UTC), email_addr="auth@example.org")
        enqueue(a_auth, "confirmation")
        r = remind(settings(SMTP_USER="praxis", SMTP_PASSWORD=SMTP_PASSWORD))
        got = for_rcpt(inbox.new(), "auth@example.org")
        assert r.returncode == 0 and len(got) == 1, (r.stderr, len(got))
        assert got[0]["X-Sink-Auth"] == "praxis"
    with t.case("SMTP AUTH with a wrong password: exit 1, clear error, no password anywhere"):
        a_bad, _ = add_appointment(datetime(2027, 3, 6, 13, 0, tzinfo=UTC), email_addr="bad@example.org")
        enqueue(a_bad, "confirmation")
        r = remind(settings(SMTP_USER="praxis", SMTP_PASSWORD=WRONG_PASSWORD))
        assert r.returncode == 1, r.returncode
        assert for_rcpt(inbox.new(), "bad@example.org") == []
        rw = row(a_bad, "confirmation")
        assert rw["status"] == "pending" and "authentication failed" in rw["last_error"], rw
        assert WRONG_PASSWORD not in rw["last_error"] and WRONG_PASSWORD not in r.stderr
        assert "authentication failed" in r.stderr, r.stderr
    with t.case("the 10th failed attempt gives up: status 'failed', not tried again"):
        q(f"UPDATE mail_queue SET attempts = 9, next_attempt_at = UTC_TIMESTAMP() WHERE appointment_id = {a_bad}")
        r = remind(settings(SMTP_USER="praxis", SMTP_PASSWORD=WRONG_PASSWORD))
        rw = row(a_bad, "confirmation")
        assert r.returncode == 1 and rw["status"] == "failed" and rw["attempts"] == 10, (r.returncode, rw)
        q(f"UPDATE mail_queue SET next_attempt_at = UTC_TIMESTAMP() - INTERVAL 1 DAY WHERE appointment_id = {a_bad}")
        r = remind(settings(SMTP_USER="praxis", SMTP_PASSWORD=SMTP_PASSWORD))
        assert r.returncode == 0 and row(a_bad, "confirmation")["attempts"] == 10
        assert for_rcpt(inbox.new(), "bad@example.org") == []
        q(f"UPDATE mail_queue SET status = 'pending', attempts = 1 WHERE appointment_id = {a_bad}")

    with t.case("without AUTH against a server that wants it: exit 1, the server's refusal kept"):
        q(f"UPDATE mail_queue SET next_attempt_at = UTC_TIMESTAMP() WHERE appointment_id = {a_bad}")
        r = remind()
        rw = row(a_bad, "confirmation")
        assert r.returncode == 1, r.returncode
        assert "530" in rw["last_error"] and rw["attempts"] == 2, rw
        q(f"DELETE FROM mail_queue WHERE appointment_id = {a_bad}")

    # ------------------------------------------------------------------------ STARTTLS
    sink.stop()
    cert, key = self_signed_cert(os.path.join(tmp, "tls"))
    sink = SmtpSink(sink_dir, host="localhost", port=sink_port, tls_cert=cert, tls_key=key,
                    require_starttls=True, auth=("praxis", SMTP_PASSWORD)).start()
    inbox.sink = sink
    tls_settings = settings(SMTP_HOST="localhost", SMTP_STARTTLS="required", SMTP_USER="praxis",
                            SMTP_PASSWORD=SMTP_PASSWORD)
    with t.case("STARTTLS=required with an untrusted certificate: refused, exit 1"):
        a_tls, _ = add_appointment(datetime(2027, 3, 8, 13, 0, tzinfo=UTC), email_addr="tls@example.org")
        enqueue(a_tls, "confirmation")
        r = remind(tls_settings)
        assert r.returncode == 1, r.returncode
        assert for_rcpt(inbox.new(), "tls@example.org") == []
        assert "not trusted" in row(a_tls, "confirmation")["last_error"], row(a_tls, "confirmation")
        q(f"UPDATE mail_queue SET next_attempt_at = UTC_TIMESTAMP() WHERE appointment_id = {a_tls}")
    with t.case("STARTTLS=required, certificate trusted through SMTP_CA_FILE: 6 sessions, all sent over TLS with AUTH"):
        # one SMTP session per mail: several in a row also catch a session that stalls
        more = []
        for i in range(5):
            a, _ = add_appointment(datetime(2027, 3, 8, 14 + i, 0, tzinfo=UTC), email_addr=f"tls-{i}@example.org")
            enqueue(a, "confirmation")
            more.append(f"tls-{i}@example.org")
        started = time.monotonic()
        r = remind(dict(tls_settings, SMTP_CA_FILE=cert))
        took = time.monotonic() - started
        got = inbox.new()
        assert r.returncode == 0, r.stderr
        for addr in ["tls@example.org"] + more:
            m = for_rcpt(got, addr)
            assert len(m) == 1, (addr, len(m))
            assert m[0]["X-Sink-TLS"] == "yes" and m[0]["X-Sink-Auth"] == "praxis"
        assert took < 20, f"took {took:.1f} s (a stalled session?)"
    with t.case("STARTTLS=required, trusted through SSL_CERT_FILE (OpenSSL's default store): sent"):
        a_tls2, _ = add_appointment(datetime(2027, 3, 9, 13, 0, tzinfo=UTC), email_addr="tls2@example.org")
        enqueue(a_tls2, "confirmation")
        r = remind(tls_settings, extra_env={"SSL_CERT_FILE": cert})
        got = for_rcpt(inbox.new(), "tls2@example.org")
        assert r.returncode == 0 and len(got) == 1, (r.stderr, len(got))
    with t.case("STARTTLS=required against a server without STARTTLS: refused"):
        sink.stop()
        sink = SmtpSink(sink_dir, port=sink_port).start()
        inbox.sink = sink
        a_nt, _ = add_appointment(datetime(2027, 3, 10, 13, 0, tzinfo=UTC), email_addr="notls@example.org")
        enqueue(a_nt, "confirmation")
        r = remind(settings(SMTP_STARTTLS="required"))
        assert r.returncode == 1 and for_rcpt(inbox.new(), "notls@example.org") == []
        assert "STARTTLS" in row(a_nt, "confirmation")["last_error"], row(a_nt, "confirmation")

    with t.case("no secret in any stderr"):
        for err in stderr_seen:
            for secret in (SMTP_PASSWORD, WRONG_PASSWORD, ENC_KEY):
                assert secret not in err, (secret, err)
finally:
    S.finish()

t.done()
