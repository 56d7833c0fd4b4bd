#!/usr/bin/python3
"""test_outlook_sync.py: the sync engine with Outlook (tf-sync, tf-remind) against tests/fakes/microsoft.py, a private
MariaDB and the SMTP sink: the push (transactionId, no patient data, Teams link stored on the appointment), busy time
pulled by delta, refresh-token rotation through the engine (the rotated token stored encrypted, sent next time, the
old one never again), kill -9 during a push (no second event), AADSTS700082 -> reauth_required with one mail (the provider's specific German reason, e.g. "nach 90 Tagen ohne
Nutzung", is in ctx.error and test_outlook_provider.py; the engine shows its own reauth text)."""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakes"))

from tap import Tap  # noqa: E402
from mariadb import MariaDB  # noqa: E402

t = Tap()
SYNC = os.path.join(BUILDDIR, "tf-sync")
REMIND = os.path.join(BUILDDIR, "tf-remind")
ADMIN = os.path.join(BUILDDIR, "tf-admin")
for prog in (SYNC, REMIND, ADMIN):
	if not os.access(prog, os.X_OK):
		t.bail(f"{prog} not built")
try:
	from cryptography.fernet import Fernet
	from microsoft import FakeMicrosoft
	from smtpsink import SmtpSink
except ImportError as e:
	t.skip("outlook sync tests", f"needs python3-aiosmtpd and python3-cryptography ({e}); run with $PYTHON3")
	t.done()

UTC = timezone.utc
ENC_KEY = Fernet.generate_key().decode()
FERNET = Fernet(ENC_KEY.encode())
ANA = "ana@contoso.com"


class Hook(BaseHTTPRequestHandler):
	"""The app's webhook as far as Graph's validation handshake needs it (the subscriptions' own tests are elsewhere)."""

	def do_POST(self):
		n = int(self.headers.get("Content-Length") or 0)
		if n:
			self.rfile.read(n)
		tok = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("validationToken", [None])[0]
		data = (tok or "").encode()
		self.send_response(200 if tok is not None else 202)
		self.send_header("Content-Type", "text/plain")
		self.send_header("Content-Length", str(len(data)))
		self.end_headers()
		self.wfile.write(data)

	def log_message(self, *a):
		pass


tmp = tempfile.mkdtemp(prefix="tf-test-osync.")
db = MariaDB(os.path.join(tmp, "mariadb"))
try:
	db.start()
except Exception as e:  # noqa: BLE001
	t.bail(f"cannot start MariaDB: {e}")
sink = SmtpSink(os.path.join(tmp, "mail")).start()
m = FakeMicrosoft(port=0, account_email=ANA).start()
m.set_knobs(retry_after="0.05")
hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()
stderr_seen = []

conf = {"TF_DB_SOCKET": db.socket, "TF_DB_USER": "root", "TF_DB_NAME": "terminfinder", "TF_DATA_DIR": SRCDIR,
	"TF_SECRET_KEY": "test-secret-key-0123456789-abcdefghijklmnop", "CALENDAR_ENCRYPTION_KEY": ENC_KEY,
	"BASE_URL": f"http://127.0.0.1:{hook.server_address[1]}", "MAIL_FROM": "Praxis <termine@praxis.example>",
	"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port), "SMTP_STARTTLS": "no",
	"MICROSOFT_CLIENT_ID": FakeMicrosoft.DEFAULT_CLIENT_ID, "MICROSOFT_CLIENT_SECRET": FakeMicrosoft.DEFAULT_CLIENT_SECRET,
	"MICROSOFT_REDIRECT_URI": m.redirect_uris[0], "TF_HTTP_BACKOFF_MS": "20", "TF_VIDEO_LINK_WAIT_MINUTES": "10",
	"TF_LOG_LEVEL": "debug"}
conf.update(m.env())
cpath = os.path.join(tmp, "outlook.env")
with open(cpath, "w") as f:
	f.write("".join(f"{k}='{v}'\n" for k, v in conf.items()))
ENV = {k: v for k, v in os.environ.items() if not (k.startswith("TF_") or k.startswith("MICROSOFT_"))}
ENV["TF_CONFIG"] = cpath


def run(prog, *args, stdin=None):
	r = subprocess.run([prog, *args], env=ENV, input=stdin, capture_output=True, text=True, timeout=300)
	stderr_seen.append(r.stderr)
	return r


def sync(integ):
	return run(SYNC, "--integration", str(integ))


def q(sql):
	return db.sql(sql).strip()


def sqlstr(s):
	return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def redacted(tok):
	return tok[:8] + "…"


def creds_in_db(integ):
	enc = q(f"SELECT credentials_encrypted FROM calendar_integrations WHERE id = {integ}")
	return json.loads(FERNET.decrypt(enc.encode()))


def refreshes(n0):
	out = []
	for x in m.request_log(since=n0):
		if x["path"].endswith("/oauth2/v2.0/token") and isinstance(x.get("body"), dict):
			out += x["body"].get("refresh_token", [])
	return out


def book(doctor, days=3, video=True):
	start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=days, hours=2)
	end = start + timedelta(minutes=30)
	tok = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
	h = hashlib.sha256(tok.encode()).hexdigest()
	enc = FERNET.encrypt(tok.encode()).decode()
	q(f"INSERT INTO appointments (doctor_id, service_name, start_utc, end_utc, patient_name, patient_email,"
	  f" patient_phone, status, cancel_token_hash, cancel_token_encrypted, is_video, created_at)"
	  f" VALUES ({doctor}, 'Videosprechstunde', '{start:%Y-%m-%d %H:%M:%S}', '{end:%Y-%m-%d %H:%M:%S}',"
	  f" 'Erika Mustermann', 'erika@example.org', '+49 30 123456', 'confirmed', '{h}', {sqlstr(enc)},"
	  f" {1 if video else 0}, UTC_TIMESTAMP())")
	appt = int(q("SELECT MAX(id) FROM appointments"))
	q(f"INSERT INTO outbox (appointment_id, doctor_id, action) VALUES ({appt}, {doctor}, 'create')")
	return appt


def ours(appt, cal):
	return [e for e in m.events(ANA, cal) if (e.get("transactionId") or "").endswith(f"-{appt}")]


r = run(ADMIN, "migrate")
if r.returncode != 0:
	t.bail(f"tf-admin migrate failed: {r.stderr}")

try:
	r = run(ADMIN, "add-doctor", "arzt-ana@praxis.example", "--name", "Dr. Ana", "--slug", "dr-ana",
		stdin="Kaffee-und-Kuchen-42\n")
	assert r.returncode == 0, r.stderr
	doc = int(r.stdout.strip().split()[-1])
	cal = [c for c in m.calendars(ANA) if c["isDefaultCalendar"]][0]["id"]
	a = m.issue_tokens(ANA)
	creds = {"access_token": a["access_token"], "refresh_token": a["refresh_token"],
		 "expires_at": int(time.time()) + 3000, "scope": a["scope"]}
	q(f"INSERT INTO calendar_integrations (doctor_id, provider, account_email, credentials_encrypted)"
	  f" VALUES ({doc}, 'outlook', {sqlstr(ANA)}, {sqlstr(FERNET.encrypt(json.dumps(creds).encode()).decode())})")
	integ = int(q("SELECT MAX(id) FROM calendar_integrations"))
	q(f"INSERT INTO integration_calendars (integration_id, remote_id, remote_id_hash, display_name, can_write,"
	  f" blocks_availability, receives_appointments) VALUES ({integ}, {sqlstr(cal)},"
	  f" '{hashlib.sha256(cal.encode()).hexdigest()}', 'Calendar', 1, 1, 1)")
	start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=5)
	m.create_event(ANA, {"subject": "Privat", "showAs": "busy",
			     "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
			     "end": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}},
		       cal)

	with t.case("tf-sync: our event with transactionId and Teams, the link on the appointment, busy time pulled"):
		appt = book(doc)
		n0 = len(m.request_log())
		r = sync(integ)
		assert r.returncode == 0, r.stderr[-3000:]
		evs = ours(appt, cal)
		assert len(evs) == 1, evs
		link = q(f"SELECT IFNULL(video_link, '') FROM appointments WHERE id = {appt}")
		assert link.startswith("https://teams.microsoft.com/") and evs[0]["onlineMeeting"]["joinUrl"] == link, link
		posts = [x for x in m.request_log(since=n0) if x["method"] == "POST" and x["path"].endswith("/events")]
		assert len(posts) == 1, posts
		body = json.dumps(posts[0]["body"])
		assert "Erika" not in body and "erika@example.org" not in body and "123456" not in body, body
		assert q(f"SELECT state FROM event_mappings WHERE appointment_id = {appt}") == "synced"
		assert q(f"SELECT COUNT(*) FROM busy_blocks WHERE integration_id = {integ}") == "1"
		assert q(f"SELECT sync_status FROM calendar_integrations WHERE id = {integ}") == "active"

	with t.case("rotation through the engine: the new refresh token stored encrypted, sent next, the old never again"):
		old = creds_in_db(integ)
		m.expire_access_tokens()
		n0 = len(m.request_log())
		r = sync(integ)
		assert r.returncode == 0, r.stderr[-3000:]
		new = creds_in_db(integ)
		assert new["refresh_token"] != old["refresh_token"] and new["access_token"] != old["access_token"], "not stored"
		assert refreshes(n0) == [redacted(old["refresh_token"])], refreshes(n0)
		m.expire_access_tokens()
		n1 = len(m.request_log())
		r = sync(integ)
		assert r.returncode == 0, r.stderr[-3000:]
		assert refreshes(n1) == [redacted(new["refresh_token"])], refreshes(n1)
		assert redacted(old["refresh_token"]) not in refreshes(n1)
		assert q(f"SELECT sync_status FROM calendar_integrations WHERE id = {integ}") == "active"
		logs = "".join(stderr_seen)
		assert old["refresh_token"] not in logs and new["refresh_token"] not in logs

	with t.case("kill -9 during the push: the next run converges on the same event (transactionId), no second one"):
		appt2 = book(doc, days=4, video=False)
		m.set_knobs(latency_ms=2500)
		n0 = len(m.request_log())
		p = subprocess.Popen([SYNC, "--integration", str(integ)], env=ENV, stdout=subprocess.DEVNULL,
				     stderr=subprocess.DEVNULL)
		deadline = time.time() + 60
		while time.time() < deadline and not any(
				x["method"] == "POST" and x["path"].endswith("/events") for x in m.request_log(since=n0)):
			time.sleep(0.05)
		p.kill()
		p.wait()
		m.set_knobs(latency_ms=0)
		time.sleep(3)   # the fake finishes the create the killed client sent
		assert len(ours(appt2, cal)) == 1, "the POST did not reach the fake"
		r = sync(integ)
		assert r.returncode == 0, r.stderr[-3000:]
		evs = ours(appt2, cal)
		assert len(evs) == 1, evs
		assert q(f"SELECT state FROM event_mappings WHERE appointment_id = {appt2}") == "synced"
		assert q(f"SELECT remote_id FROM event_mappings WHERE appointment_id = {appt2}") == evs[0]["id"]

	with t.case("AADSTS700082 on refresh: reauth_required, the engine's German message, one mail to the doctor"):
		m.refresh_error(700082)
		m.expire_access_tokens()
		r = sync(integ)
		assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
		st, err = q(f"SELECT sync_status, IFNULL(last_error, '') FROM calendar_integrations WHERE id = {integ}").split("\t")
		assert st == "reauth_required" and "erneut verbinden" in err, (st, err)
		assert "AADSTS700082" in "".join(stderr_seen[-1:]), "the AADSTS code is not in the log"
		sync(integ)
		assert q(f"SELECT COUNT(*) FROM mail_queue WHERE integration_id = {integ} AND kind = 'reauth'") == "1"
		run(REMIND)
		msgs = sink.messages()
		assert len([1 for _, raw in msgs if b"arzt-ana@praxis.example" in raw]) == 1, len(msgs)
finally:
	hook.shutdown()
	m.stop()
	sink.stop()
	db.stop()
t.done()
