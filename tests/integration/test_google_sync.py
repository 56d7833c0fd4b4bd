#!/usr/bin/python3
"""test_google_sync.py: the sync engine with Google (tf-sync, tf-remind) against tests/fakes/google.py, a private
MariaDB and the SMTP sink: the Meet link stored on the appointment and in the confirmation (which waits for it), a
link still pending (mapping kept pending, re-pushed, the confirmation after TF_VIDEO_LINK_WAIT_MINUTES says a
further mail follows, then the 'video_link' mail), refreshed tokens re-encrypted, invalid_grant -> reauth_required
with ONE mail to the doctor and the per-doctor busy-time policy (keep / free), quotaExceeded ends the run."""
import base64
import email
import email.policy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

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
	from google import FakeGoogle
	from smtpsink import SmtpSink
except ImportError as e:
	t.skip("google sync tests", f"needs python3-aiosmtpd and python3-cryptography ({e}); run with $PYTHON3")
	t.done()

UTC = timezone.utc
ENC_KEY = Fernet.generate_key().decode()
FERNET = Fernet(ENC_KEY.encode())
ANA = "ana@example.com"
BERT = "bert@example.com"
CARL = "carl@example.com"

tmp = tempfile.mkdtemp(prefix="tf-test-gsync.")
db = MariaDB(os.path.join(tmp, "mariadb"))
try:
	db.start()
except Exception as e:  # noqa: BLE001
	t.bail(f"cannot start MariaDB: {e}")
sink = SmtpSink(os.path.join(tmp, "mail")).start()
g = FakeGoogle(port=0).start()
g.set_knobs(retry_after=None)
stderr_seen = []


def settings(**over):
	s = {"TF_DB_SOCKET": db.socket, "TF_DB_USER": "root", "TF_DB_NAME": "terminfinder", "TF_DATA_DIR": SRCDIR,
	     "TF_SECRET_KEY": "test-secret-key-0123456789-abcdefghijklmnop", "CALENDAR_ENCRYPTION_KEY": ENC_KEY,
	     "BASE_URL": "https://praxis.example", "MAIL_FROM": "Praxis <termine@praxis.example>",
	     "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port), "SMTP_STARTTLS": "no",
	     "GOOGLE_CLIENT_ID": FakeGoogle.DEFAULT_CLIENT_ID, "GOOGLE_CLIENT_SECRET": FakeGoogle.DEFAULT_CLIENT_SECRET,
	     "GOOGLE_REDIRECT_URI": g.redirect_uris[0], "GOOGLE_USERINFO_URI": g.base_url + "/oauth2/v3/userinfo",
	     "TF_HTTP_BACKOFF_MS": "20", "TF_VIDEO_LINK_WAIT_MINUTES": "10", "TF_LOG_LEVEL": "debug"}
	s.update(g.env())
	s.update(over)
	return s


def env_for(conf):
	text = "".join(f"{k}='{v}'\n" for k, v in conf.items())
	path = os.path.join(tmp, "conf-" + hashlib.sha256(text.encode()).hexdigest()[:16] + ".env")
	if not os.path.exists(path):
		with open(path, "w") as f:
			f.write(text)
	env = {k: v for k, v in os.environ.items() if not (k.startswith("TF_") or k.startswith("GOOGLE_"))}
	env["TF_CONFIG"] = path
	return env


ENV = env_for(settings())


def run(prog, *args, stdin=None):
	r = subprocess.run([prog, *args], env=ENV, input=stdin, capture_output=True, text=True, timeout=300)
	stderr_seen.append(r.stderr)
	return r


def sync(integ):
	return run(SYNC, "--integration", str(integ))


def remind():
	r = run(REMIND)
	assert r.returncode in (0, 1), r.stderr[-2000:]
	return r


def q(sql):
	return db.sql(sql).strip()


def sqlstr(s):
	return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Inbox:
	def __init__(self):
		self.seen = 0

	def new(self):
		msgs = sink.messages()
		out = [email.message_from_bytes(raw, policy=email.policy.default) for _, raw in msgs[self.seen:]]
		self.seen = len(msgs)
		return out


inbox = Inbox()


def text_of(m):
	for p in m.walk():
		if p.get_content_type() == "text/plain":
			return p.get_content()
	return ""


def creds_for(addr):
	a = g.issue_tokens(addr)
	return {"access_token": a["access_token"], "refresh_token": a["refresh_token"],
		"expires_at": int(time.time()) + int(a.get("expires_in", 3600)), "scope": a.get("scope", "")}


def new_doctor(tag, policy="keep"):
	r = run(ADMIN, "add-doctor", f"arzt-{tag}@praxis.example", "--name", f"Dr. {tag.capitalize()}", "--slug",
		f"dr-{tag}", stdin="Kaffee-und-Kuchen-42\n")
	assert r.returncode == 0, r.stderr
	did = int(r.stdout.strip().split()[-1])
	q(f"UPDATE doctors SET broken_calendar_policy = '{policy}', practice_name = 'Praxis {tag}' WHERE id = {did}")
	return did


def connect(doctor, account, cals):
	"""A Google connection as the callback stores it: encrypted tokens, calendars (first receives)."""
	enc = FERNET.encrypt(json.dumps(creds_for(account)).encode()).decode()
	q(f"INSERT INTO calendar_integrations (doctor_id, provider, account_email, credentials_encrypted)"
	  f" VALUES ({doctor}, 'google', {sqlstr(account)}, {sqlstr(enc)})")
	integ = int(q("SELECT MAX(id) FROM calendar_integrations"))
	for i, cal in enumerate(cals):
		h = hashlib.sha256(cal.encode()).hexdigest()
		q(f"INSERT INTO integration_calendars (integration_id, remote_id, remote_id_hash, display_name, can_write,"
		  f" blocks_availability, receives_appointments) VALUES ({integ}, {sqlstr(cal)}, '{h}', {sqlstr(cal)}, 1, 1,"
		  f" {1 if i == 0 else 0})")
	return integ


def book(doctor, days=3, video=True, confirm_mail=True):
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
	if confirm_mail:
		q(f"INSERT INTO mail_queue (appointment_id, kind, seq) VALUES ({appt}, 'confirmation', 0)")
	return appt


def mail_row(appt, kind):
	out = q(f"SELECT status, attempts, IFNULL(last_error, '-') FROM mail_queue WHERE appointment_id = {appt}"
		f" AND kind = '{kind}' ORDER BY id DESC LIMIT 1")
	if not out:
		return None
	st, att, err = out.split("\t")
	return {"status": st, "attempts": int(att), "last_error": "" if err == "-" else err}


def integ_row(integ):
	st, err, enc = q(f"SELECT sync_status, IFNULL(last_error, ''), IFNULL(credentials_encrypted, '')"
			 f" FROM calendar_integrations WHERE id = {integ}").split("\t")
	return st, err, enc


def busy_count(integ):
	return int(q(f"SELECT COUNT(*) FROM busy_blocks WHERE integration_id = {integ}"))


def busy_event(addr, cal, days=5):
	start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=days)
	return g.create_event(addr, cal, {"summary": "Privat", "start": {"dateTime": start.isoformat()},
					  "end": {"dateTime": (start + timedelta(hours=1)).isoformat()}})


r = run(ADMIN, "migrate")
if r.returncode != 0:
	t.bail(f"tf-admin migrate failed: {r.stderr}")

try:
	doc = new_doctor("ana")
	integ = connect(doc, ANA, [ANA])
	busy_event(ANA, ANA)

	with t.case("schema 006: policy default keep, mail_queue takes doctor mails"):
		assert q("SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_NAME = 'doctors'"
			 " AND COLUMN_NAME = 'broken_calendar_policy'").strip("'") == "keep"
		assert q("SELECT IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_NAME = 'mail_queue'"
			 " AND COLUMN_NAME = 'appointment_id'") == "YES"

	with t.case("a video booking's confirmation waits for the Meet link (no mail, attempt not counted)"):
		g.set_knobs(meet_mode="success")
		appt = book(doc)
		remind()
		row = mail_row(appt, "confirmation")
		assert row == {"status": "pending", "attempts": 0, "last_error": "waiting for the video link"}, row
		assert inbox.new() == []

	with t.case("tf-sync: event with Meet on Google, link stored on the appointment, busy time pulled"):
		n0 = len(g.request_log())
		r = sync(integ)
		assert r.returncode == 0, r.stderr[-3000:]
		link = q(f"SELECT IFNULL(video_link, '') FROM appointments WHERE id = {appt}")
		assert link.startswith("https://meet.google.com/"), link
		evs = [e for e in g.events(ANA, ANA) if (e.get("extendedProperties") or {}).get("private", {})
		       .get("appointmentId") == str(appt)]
		assert len(evs) == 1 and evs[0]["hangoutLink"] == link, evs
		inserts = [x for x in g.request_log(since=n0) if x["method"] == "POST" and x["path"].endswith("/events")]
		assert len(inserts) == 1 and inserts[0]["query"].get("conferenceDataVersion") == ["1"], inserts
		body = json.dumps(inserts[0])
		assert "Erika" not in body and "erika@example.org" not in body and "123456" not in body, body
		assert q(f"SELECT state FROM event_mappings WHERE appointment_id = {appt}") == "synced"
		assert busy_count(integ) == 1

	with t.case("the confirmation is due again at once when the link is stored, and goes with it"):
		assert q(f"SELECT next_attempt_at <= UTC_TIMESTAMP() FROM mail_queue WHERE appointment_id = {appt}"
			 f" AND kind = 'confirmation'") == "1"
		remind()
		msgs = [m for m in inbox.new() if m["To"].addresses[0].addr_spec == "erika@example.org"]
		assert len(msgs) == 1, [m["Subject"] for m in msgs]
		body = text_of(msgs[0])
		assert link in body and "weiteren E-Mail" not in body, body
		assert mail_row(appt, "confirmation")["status"] == "sent"
		assert mail_row(appt, "video_link") is None

	with t.case("Meet still pending: mapping stays pending with the event id, re-pushed until the link is there"):
		g.set_knobs(meet_mode="pending", meet_pending_reads=6)
		appt2 = book(doc, days=4)
		r = sync(integ)
		assert r.returncode == 0, r.stderr[-3000:]
		st, rid = q(f"SELECT state, remote_id FROM event_mappings WHERE appointment_id = {appt2}").split("\t")
		assert st == "pending" and rid, (st, rid)
		assert q(f"SELECT IFNULL(video_link, '') FROM appointments WHERE id = {appt2}") == ""
		assert q(f"SELECT COUNT(*) FROM outbox WHERE appointment_id = {appt2} AND processed_at IS NULL") == "1"

	with t.case("after TF_VIDEO_LINK_WAIT_MINUTES the confirmation goes, saying a further mail brings the link"):
		remind()
		assert mail_row(appt2, "confirmation")["status"] == "pending"
		assert inbox.new() == []
		q(f"UPDATE appointments SET created_at = created_at - INTERVAL 11 MINUTE WHERE id = {appt2}")
		q(f"UPDATE mail_queue SET next_attempt_at = UTC_TIMESTAMP() WHERE appointment_id = {appt2}")
		remind()
		msgs = inbox.new()
		assert len(msgs) == 1, [m["Subject"] for m in msgs]
		body = text_of(msgs[0])
		assert "Den Link zur Videosprechstunde erhalten Sie in einer weiteren E-Mail." in body, body

	with t.case("the link arrives on a later run: stored once, mapping synced, one 'video_link' mail"):
		for _ in range(6):
			r = sync(integ)
			assert r.returncode == 0, r.stderr[-3000:]
			link2 = q(f"SELECT IFNULL(video_link, '') FROM appointments WHERE id = {appt2}")
			if link2:
				break
		assert link2.startswith("https://meet.google.com/"), link2
		assert q(f"SELECT state FROM event_mappings WHERE appointment_id = {appt2}") == "synced"
		assert len([e for e in g.events(ANA, ANA) if (e.get("extendedProperties") or {}).get("private", {})
			    .get("appointmentId") == str(appt2)]) == 1
		assert mail_row(appt2, "video_link")["status"] == "pending"
		remind()
		msgs = inbox.new()
		assert len(msgs) == 1 and "Link zur Videosprechstunde" in msgs[0]["Subject"], [m["Subject"] for m in msgs]
		assert link2 in text_of(msgs[0])
		sync(integ)
		remind()
		assert inbox.new() == []

	with t.case("an expired access token is refreshed and the new tokens are stored encrypted"):
		_, _, enc_before = integ_row(integ)
		old = json.loads(FERNET.decrypt(enc_before.encode()))
		g.expire_access_tokens()
		n0 = len(g.request_log())
		r = sync(integ)
		assert r.returncode == 0, r.stderr[-3000:]
		st, err, enc_after = integ_row(integ)
		new = json.loads(FERNET.decrypt(enc_after.encode()))
		assert st == "active" and new["access_token"] != old["access_token"], (st, err)
		assert new["refresh_token"] == old["refresh_token"]
		assert any(x["path"] == "/token" for x in g.request_log(since=n0))
		assert old["access_token"] not in "".join(stderr_seen) and new["access_token"] not in "".join(stderr_seen)

	with t.case("invalid_grant: reauth_required, German message, busy time kept (policy keep), one mail"):
		before = busy_count(integ)
		assert before >= 1
		g.revoke_user(ANA)
		r = sync(integ)
		assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
		st, err, _ = integ_row(integ)
		assert st == "reauth_required", st
		assert "erneut verbinden" in err and "bleiben blockiert" in err, err
		assert busy_count(integ) == before
		assert q(f"SELECT COUNT(*) FROM mail_queue WHERE integration_id = {integ} AND kind = 'reauth'") == "1"
		sync(integ)
		assert q(f"SELECT COUNT(*) FROM mail_queue WHERE integration_id = {integ} AND kind = 'reauth'") == "1"
		remind()
		remind()
		msgs = inbox.new()
		assert len(msgs) == 1, [m["Subject"] for m in msgs]
		assert msgs[0]["To"].addresses[0].addr_spec == "arzt-ana@praxis.example"
		body = text_of(msgs[0])
		assert "Kalenderverbindung unterbrochen" in msgs[0]["Subject"] and ANA in body, body
		assert "https://praxis.example/doctor/calendar-integrations" in body and "gesperrt" in body, body

	with t.case("a new outage after reconnecting mails again (once per outage)"):
		enc = FERNET.encrypt(json.dumps(creds_for(ANA)).encode()).decode()
		q(f"UPDATE calendar_integrations SET sync_status = 'active', last_error = NULL,"
		  f" credentials_encrypted = {sqlstr(enc)} WHERE id = {integ}")
		assert sync(integ).returncode == 0
		g.expire_refresh_tokens()
		g.expire_access_tokens()
		sync(integ)
		assert integ_row(integ)[0] == "reauth_required"
		assert q(f"SELECT GROUP_CONCAT(seq ORDER BY seq) FROM mail_queue WHERE integration_id = {integ}"
			 f" AND kind = 'reauth'") == "1,2"
		remind()
		assert len(inbox.new()) == 1

	with t.case("policy free: the broken connection's busy time and cursors go"):
		doc_b = new_doctor("bert", policy="free")
		integ_b = connect(doc_b, BERT, [BERT])
		busy_event(BERT, BERT)
		assert sync(integ_b).returncode == 0
		assert busy_count(integ_b) == 1
		g.revoke_user(BERT)
		sync(integ_b)
		st, err, _ = integ_row(integ_b)
		assert st == "reauth_required" and "nicht berücksichtigt" in err, (st, err)
		assert busy_count(integ_b) == 0
		assert q(f"SELECT COUNT(*) FROM integration_calendars WHERE integration_id = {integ_b}"
			 f" AND sync_token IS NOT NULL") == "0"
		remind()
		msgs = inbox.new()
		assert len(msgs) == 1 and "nicht berücksichtigt" in text_of(msgs[0]), [text_of(m) for m in msgs]

	with t.case("after a pull every blocking calendar has a push channel (channels_ensure)"):
		chans = [c for c in g.channel_list() if c["active"] and c["calendarId"] == ANA]
		assert len(chans) == 1 and chans[0]["address"] == "https://praxis.example/webhooks/calendar/google", chans
		assert q(f"SELECT COUNT(*) FROM google_channels WHERE integration_id = {integ} AND stopped_at IS NULL") == "1"

	with t.case("quotaExceeded ends the connection's run: no further calendar requests, reason logged"):
		doc_c = new_doctor("carl")
		g.add_calendar(CARL, "zweit@group.calendar.google.com", summary="Zweit")
		integ_c = connect(doc_c, CARL, [CARL, "zweit@group.calendar.google.com"])
		g.fail("quotaExceeded", count=1)
		n0 = len(g.request_log())
		r = sync(integ_c)
		assert r.returncode == 1, r.returncode
		api = [x for x in g.request_log(since=n0) if x["path"].startswith("/calendar/v3/")]
		assert len(api) == 1, [x["path"] for x in api]
		st, err, _ = integ_row(integ_c)
		assert st == "error" and "Nutzungskontingent" in err, (st, err)
		assert "quotaExceeded" in r.stderr and "ended this run" in r.stderr, r.stderr[-2000:]
		assert sync(integ_c).returncode == 0
		assert integ_row(integ_c)[0] == "active"

	with t.case("disconnect (DELETE through the app in CGI mode): channels stopped, the grant revoked at Google"):
		app = os.path.join(BUILDDIR, "tf-calendar.fcgi")
		assert os.access(app, os.X_OK), app
		from cgiapp import CgiApp
		A = CgiApp(app, ADMIN, ENV["TF_CONFIG"])
		token = A.admin("token", "arzt-carl@praxis.example")
		enc = integ_row(integ_c)[2]
		refresh = json.loads(FERNET.decrypt(enc.encode()))["refresh_token"]
		n0 = len(g.request_log())
		r = A.cgi("DELETE", f"/api/doctor/calendar-integrations/{integ_c}",
			  headers={"Authorization": "Bearer " + token})
		assert r.status == 200, (r.status, r.body[:500])
		log = g.request_log(since=n0)
		revokes = [x for x in log if x["path"] == "/revoke"]
		assert len(revokes) == 1 and revokes[0]["status"] == 200, revokes
		stops = [i for i, x in enumerate(log) if x["path"].endswith("/channels/stop")]
		assert len(stops) == 2 and all(i < log.index(revokes[0]) for i in stops), [x["path"] for x in log]
		assert q(f"SELECT COUNT(*) FROM calendar_integrations WHERE id = {integ_c}") == "0"
		assert not [c for c in g.channel_list() if c["active"] and c["calendarId"] in (CARL,
			    "zweit@group.calendar.google.com")], g.channel_list()
		assert refresh not in r.stderr and refresh not in "".join(stderr_seen)
finally:
	g.stop()
	sink.stop()
	db.stop()
t.done()
