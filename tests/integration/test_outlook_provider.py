#!/usr/bin/python3
"""test_outlook_provider.py: the Outlook provider and the OAuth client (through tests/unit/outlook-check) against
tests/fakes/microsoft.py: authorization URL + PKCE exchange (scope on the token call, single-use code), /me e-mail
(work and personal), calendars, refresh-token rotation (the new one used next time, the old one never again),
AADSTS70008/700082/50173/interaction_required -> auth with German reasons, 401 -> one refresh, push (transactionId,
extended property, no patient fields, Prefer headers, idempotent create, Teams for work accounts, clean fallback
for personal ones), PATCH, DELETE twice, delta pull over pages (busy rules, all-day, cancelled, own events),
incremental delta, expired delta tokens (410 and syncStateNotFound), 429/503 with fractional Retry-After,
subscriptions (validation of both URLs, renew, reauthorize, delete twice). No secret reaches a log."""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

srcdir = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
builddir = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(srcdir, "tests", "lib"))
sys.path.insert(0, os.path.join(srcdir, "tests", "fakes"))
from tap import Tap  # noqa: E402

prog = os.path.join(builddir, "tests", "unit", "outlook-check")
if not os.path.exists(os.path.join(srcdir, "tests", "fakes", "microsoft.py")):
	print("1..0 # SKIP tests/fakes/microsoft.py not there")
	sys.exit(0)
from microsoft import FakeMicrosoft  # noqa: E402

t = Tap()
if not os.access(prog, os.X_OK):
	t.bail(f"{prog} not built (make check builds it)")

EMAIL = "ana@contoso.com"
PERSONAL = "bob@outlook.com"
BASE_URL = "https://praxis.example"
m = FakeMicrosoft(port=0, account_email=EMAIL).start()
m.add_account(PERSONAL, "Bob", kind="personal", mail=False)
env = dict(os.environ)
env.update(m.env())
env.update({"MICROSOFT_CLIENT_ID": FakeMicrosoft.DEFAULT_CLIENT_ID,
	    "MICROSOFT_CLIENT_SECRET": FakeMicrosoft.DEFAULT_CLIENT_SECRET,
	    "MICROSOFT_REDIRECT_URI": m.redirect_uris[0], "BASE_URL": BASE_URL, "TF_HTTP_BACKOFF_MS": "20",
	    "TF_LOG_LEVEL": "debug"})
env.pop("TF_CONFIG", None)
stderr_all = []
secrets_seen = set()
DAY = 86400
now = int(time.time())


def run(op, **kw):
	p = subprocess.run([prog], input=json.dumps({"op": op, **kw}), capture_output=True, text=True, env=env,
			   timeout=180)
	stderr_all.append(p.stderr)
	if p.returncode != 0 or not p.stdout.strip():
		raise RuntimeError(f"outlook-check {op}: rc {p.returncode}: {p.stderr[-2000:]}")
	out = json.loads(p.stdout)
	for src in (out.get("creds"), out.get("tokens")):
		if isinstance(src, dict):
			for key in ("access_token", "refresh_token"):
				if src.get(key):
					secrets_seen.add(src[key])
	return out


def fresh_creds(email=EMAIL):
	a = m.issue_tokens(email)
	c = {"access_token": a["access_token"], "refresh_token": a["refresh_token"],
	     "expires_at": int(time.time()) + int(a["expires_in"]), "scope": a["scope"]}
	secrets_seen.update([c["access_token"], c["refresh_token"]])
	return c


def nlog():
	return len(m.request_log())


def since(n, prefix=None):
	return m.request_log(since=n, path_prefix=prefix)


def redacted(tok):
	return tok[:8] + "…" if len(tok) > 8 else tok


class NoRedirect(urllib.request.HTTPRedirectHandler):
	def redirect_request(self, *a, **kw):
		return None


def authorize(url):
	opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)
	try:
		opener.open(url, timeout=10)
	except urllib.error.HTTPError as e:
		if e.code in (302, 303):
			return urllib.parse.parse_qs(urllib.parse.urlsplit(e.headers["Location"]).query)
		raise
	raise RuntimeError("no redirect from the authorization endpoint")


def qid(s):
	"""An id as it appears in a path: percent-encoded ('=' -> %3D)."""
	return urllib.parse.quote(s, safe="")


def body_of(entry):
	return entry.get("body") or {}


def token_refreshes(n0):
	"""The (redacted) refresh tokens sent to /token since n0."""
	out = []
	for x in since(n0):
		if x["path"].endswith("/oauth2/v2.0/token") and isinstance(x.get("body"), dict):
			out += x["body"].get("refresh_token", [])
	return out


# ---------------------------------------------------------------- OAuth with PKCE
with t.case("authorization URL under MICROSOFT_AUTHORITY with PKCE S256 and our scopes; code exchange"):
	m.set_knobs(consent="approve")
	a = run("authurl")
	u = urllib.parse.urlsplit(a["url"])
	assert a["url"].startswith(m.base_url + "/common/oauth2/v2.0/authorize?"), a["url"]
	q = urllib.parse.parse_qs(u.query)
	for k, v in (("response_type", "code"), ("code_challenge_method", "S256"), ("prompt", "select_account"),
		     ("client_id", FakeMicrosoft.DEFAULT_CLIENT_ID), ("redirect_uri", m.redirect_uris[0])):
		assert q.get(k) == [v], (k, q.get(k))
	assert set(q["scope"][0].split()) == {"offline_access", "Calendars.ReadWrite", "User.Read"}, q["scope"]
	assert "access_type" not in q, q   # a Google parameter
	back = authorize(a["url"])
	assert back["state"] == [a["state"]], back
	code = back["code"][0]
	secrets_seen.update([code, a["verifier"]])
	n0 = nlog()
	x = run("exchange", code=code, verifier=a["verifier"])
	assert x["oauth"] == "ok", x
	tok = x["tokens"]
	assert tok["access_token"] and tok["refresh_token"] and tok["expires_at"] > now, tok
	assert "Calendars.ReadWrite" in tok["scope"].split(), tok
	posts = since(n0, "/common/oauth2/v2.0/token")
	assert len(posts) == 1, posts
	form = body_of(posts[0])
	assert form["grant_type"] == ["authorization_code"] and "code_verifier" in form, form
	assert set(form["scope"][0].split()) == {"offline_access", "Calendars.ReadWrite", "User.Read"}, form
	x2 = run("exchange", code=code, verifier=a["verifier"])
	assert x2["oauth"] == "invalid_grant", x2   # AADSTS54005: single use
	creds = {k: tok[k] for k in ("access_token", "refresh_token", "expires_at", "scope")}

with t.case("a wrong PKCE verifier is invalid_grant (AADSTS501481)"):
	a = run("authurl")
	code = authorize(a["url"])["code"][0]
	secrets_seen.add(code)
	x = run("exchange", code=code, verifier="B" * 43)
	assert x["oauth"] == "invalid_grant", x

with t.case("account e-mail from /me: mail for work, userPrincipalName when mail is null (personal)"):
	r = run("userinfo", creds=creds)
	assert r["status"] == "ok" and r["email"] == EMAIL, r
	r = run("userinfo", creds=fresh_creds(PERSONAL))
	assert r["status"] == "ok" and r["email"] == PERSONAL, r

with t.case("/me/calendars: default Calendar and Praxis, writable, one request"):
	r = run("list", creds=creds)
	assert r["status"] == "ok", r
	by = {c["name"]: c for c in r["calendars"]}
	assert set(by) >= {"Calendar", "Praxis"} and by["Praxis"]["can_write"], by
	assert r["requests"] == 1 and r["creds_changed"] is False, r
	cal_default, praxis = by["Calendar"]["id"], by["Praxis"]["id"]

# ---------------------------------------------------------------- token rotation
with t.case("rotation: a refresh stores the new refresh token; the next refresh sends it, the old one never again"):
	c0 = dict(creds, expires_at=int(time.time()) + 30)
	old_rt = c0["refresh_token"]
	n0 = nlog()
	r1 = run("list", creds=c0)
	assert r1["status"] == "ok" and r1["creds_changed"] is True, r1
	rt1 = r1["creds"]["refresh_token"]
	assert rt1 != old_rt and r1["creds"]["access_token"] != c0["access_token"], "not rotated"
	assert token_refreshes(n0) == [redacted(old_rt)], token_refreshes(n0)
	refresh_form = body_of(since(n0, "/common/oauth2/v2.0/token")[0])
	assert "scope" in refresh_form and "client_secret" in refresh_form, refresh_form
	n1 = nlog()
	r2 = run("list", creds=dict(r1["creds"], expires_at=0))
	assert r2["status"] == "ok" and r2["creds_changed"] is True, r2
	assert token_refreshes(n1) == [redacted(rt1)], token_refreshes(n1)
	assert redacted(old_rt) not in token_refreshes(n1), "the old refresh token was sent again"
	# the fake has no grace: the old one is dead, as it would be for a client that kept it
	r3 = run("list", creds=dict(c0, expires_at=0))
	assert r3["status"] == "auth" and "erneut" in r3["error"], r3
	creds = r2["creds"]

with t.case("401 InvalidAuthenticationToken: one refresh, then the call again"):
	m.expire_access_tokens(EMAIL)
	n0 = nlog()
	r = run("list", creds=creds)
	assert r["status"] == "ok" and r["creds_changed"] is True, r
	paths = [x["path"] for x in since(n0)]
	assert paths == ["/v1.0/me/calendars", "/common/oauth2/v2.0/token", "/v1.0/me/calendars"], paths
	assert [x["status"] for x in since(n0)] == [401, 200, 200], since(n0)
	creds = r["creds"]

for code, word in ((70008, "abgelaufen oder wurde widerrufen"), (700082, "90 Tagen"), (50173, "Passwortänderung"),
		   (50076, "mehrstufige")):
	with t.case(f"refresh refused with AADSTS{code}: auth, a German reason, one request, no loop"):
		c = fresh_creds()
		m.refresh_error(code, EMAIL)
		c["expires_at"] = 0
		n0 = nlog()
		r = run("list", creds=c)
		assert r["status"] == "auth", r
		assert word in r["error"] and "erneut" in r["error"], r["error"]
		assert len(since(n0)) == 1 and r["creds_changed"] is False, since(n0)
creds = fresh_creds()   # refresh_error poisoned the live tokens: a new consent

# ---------------------------------------------------------------- push
APPT = 4711
ev = {"appointment_id": APPT, "start": now + 2 * DAY, "end": now + 2 * DAY + 1800, "sequence": 0,
      "summary": "Termin (TerminFinder)", "description": BASE_URL + "/p/dr-ana", "location": "Praxisweg 1"}


def iso(x):
	return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(x))


def stored(cal, rid, email=EMAIL):
	return [e for e in m.events(email, cal) if e["id"] == rid]


with t.case("create: transactionId from the appointment id, our extended property, no patient fields, Prefer"):
	n0 = nlog()
	r = run("upsert", creds=creds, cal=praxis, event=ev)
	assert r["status"] == "ok" and r["remote_id"] and r["etag"], r
	txn = r["event_id"]
	assert txn.startswith("tf-") and txn.endswith(f"-{APPT}"), txn
	posts = [x for x in since(n0) if x["method"] == "POST"]
	assert len(posts) == 1 and posts[0]["path"] == f"/v1.0/me/calendars/{qid(praxis)}/events", posts
	b = posts[0]["body"]
	assert b["transactionId"] == txn, b
	props = b["singleValueExtendedProperties"]
	assert len(props) == 1 and props[0]["value"].startswith(f"{APPT}@"), props
	assert "attendees" not in b and b["subject"] == "Termin (TerminFinder)", b
	text = json.dumps(b)
	for bad in ("attendee", "phone", "mailto", "@contoso", "@example"):
		assert bad not in text, (bad, text)
	assert b["start"] == {"dateTime": iso(ev["start"]), "timeZone": "UTC"}, b["start"]
	assert 'outlook.timezone="UTC"' in posts[0]["headers"].get("Prefer", ""), posts[0]["headers"]
	s = stored(praxis, r["remote_id"])
	assert len(s) == 1 and s[0]["transactionId"] == txn, s
	assert s[0]["singleValueExtendedProperties"][0]["value"] == props[0]["value"], s
	assert s[0]["showAs"] == "busy" and s[0]["isOnlineMeeting"] is False, s
	eid = r["remote_id"]

with t.case("create again (crash before the mapping was stored): the same event, moved, never a second one"):
	moved = dict(ev, start=ev["start"] + 3600, end=ev["end"] + 3600)
	n0 = nlog()
	r = run("upsert", creds=creds, cal=praxis, event=moved)
	assert r["status"] == "ok" and r["remote_id"] == eid, r
	mine = [e for e in m.events(EMAIL, praxis) if e.get("transactionId") == txn]
	assert len(mine) == 1, mine
	assert mine[0]["start"]["dateTime"].startswith(iso(moved["start"])), mine[0]["start"]
	assert [x["method"] for x in since(n0)] == ["POST", "PATCH"], [x["method"] for x in since(n0)]

with t.case("reschedule: PATCH on the event id, times only"):
	n0 = nlog()
	r = run("upsert", creds=creds, cal=praxis, event=dict(ev, start=ev["start"] + 7200, end=ev["end"] + 7200),
		remote_id=eid, etag="x")
	assert r["status"] == "ok" and r["remote_id"] == eid, r
	reqs = since(n0)
	assert [x["method"] for x in reqs] == ["PATCH"] and reqs[0]["path"] == f"/v1.0/me/events/{qid(eid)}", reqs
	assert "transactionId" not in reqs[0]["body"], reqs[0]["body"]
	assert stored(praxis, eid)[0]["start"]["dateTime"].startswith(iso(ev["start"] + 7200))

with t.case("Teams: a work account gets the joinUrl (ctx.video_link)"):
	r = run("upsert", creds=creds, cal=cal_default, event=dict(ev, appointment_id=APPT + 1, create_meet=True))
	assert r["status"] == "ok", r
	assert r["video_link"] and r["video_link"].startswith("https://teams.microsoft.com/l/meetup-join/"), r
	assert r["ctx_video_link"] == r["video_link"] and r["video_pending"] is False, r
	s = stored(cal_default, r["remote_id"])[0]
	assert s["isOnlineMeeting"] and s["onlineMeetingProvider"] == "teamsForBusiness", s
	teams_id = r["remote_id"]

with t.case("no video service: no Teams meeting asked for, no link"):
	n0 = nlog()
	r = run("upsert", creds=creds, cal=cal_default, event=dict(ev, appointment_id=APPT + 2))
	assert r["status"] == "ok" and r["ctx_video_link"] is None, r
	assert "isOnlineMeeting" not in [x for x in since(n0) if x["method"] == "POST"][0]["body"]

pcreds = fresh_creds(PERSONAL)
pcal = [c for c in m.calendars(PERSONAL) if c["isDefaultCalendar"]][0]["id"]
with t.case("personal account, Teams ignored: the event without a meeting, no link, no pending"):
	m.set_knobs(personal_teams="ignore")
	r = run("upsert", creds=pcreds, cal=pcal, event=dict(ev, appointment_id=APPT + 3, create_meet=True))
	assert r["status"] == "ok" and r["ctx_video_link"] is None and r["video_pending"] is False, r
	assert len(stored(pcal, r["remote_id"], PERSONAL)) == 1

with t.case("personal account, Teams refused (400): created again without it; one event, no link"):
	m.set_knobs(personal_teams="fail")
	n0 = nlog()
	r = run("upsert", creds=pcreds, cal=pcal, event=dict(ev, appointment_id=APPT + 4, create_meet=True))
	m.set_knobs(personal_teams="ignore")
	assert r["status"] == "ok" and r["ctx_video_link"] is None and r["error"] == "", r
	posts = [x for x in since(n0) if x["method"] == "POST"]
	assert [x["status"] for x in posts] == [400, 201], posts
	assert posts[0]["body"].get("isOnlineMeeting") is True and "isOnlineMeeting" not in posts[1]["body"], posts
	assert len([e for e in m.events(PERSONAL, pcal) if e.get("transactionId") == r["event_id"]]) == 1

with t.case("deleted in Outlook, then rescheduled by us: not found (flag for review)"):
	r0 = run("upsert", creds=creds, cal=praxis, event=dict(ev, appointment_id=APPT + 5))
	m.delete_event(EMAIL, r0["remote_id"])
	r = run("upsert", creds=creds, cal=praxis, event=dict(ev, appointment_id=APPT + 5, sequence=1),
		remote_id=r0["remote_id"], etag=r0["etag"])
	assert r["status"] == "not_found", r

with t.case("cancel: DELETE 204; again: 404 ErrorItemNotFound counts as gone"):
	n0 = nlog()
	r = run("delete", creds=creds, cal=cal_default, remote_id=teams_id)
	assert r["status"] == "ok", r
	r = run("delete", creds=creds, cal=cal_default, remote_id=teams_id)
	assert r["status"] == "ok" and r["error"] == "", r
	assert [(x["method"], x["status"]) for x in since(n0)] == [("DELETE", 204), ("DELETE", 404)], since(n0)

# ---------------------------------------------------------------- pull
pullcal = m.add_calendar(EMAIL, "Pull")["id"]
base_t = (now // 3600 + 24) * 3600


def gev(start, end, **kw):
	return {"subject": "extern", "start": {"dateTime": iso(start), "timeZone": "UTC"},
		"end": {"dateTime": iso(end), "timeZone": "UTC"}, **kw}


with t.case("full delta over several pages: Prefer headers, busy rule, all-day, cancelled, own events"):
	ids = {}
	for show in ("busy", "oof", "tentative", "workingElsewhere", "free", "unknown"):
		ids[show] = m.create_event(EMAIL, gev(base_t, base_t + 1800, showAs=show), pullcal)["id"]
	ids["cancelled"] = m.create_event(EMAIL, gev(base_t, base_t + 1800, isCancelled=True), pullcal)["id"]
	day = time.strftime("%Y-%m-%d", time.gmtime(now + 3 * DAY))
	day2 = time.strftime("%Y-%m-%d", time.gmtime(now + 4 * DAY))
	ids["allday"] = m.create_event(EMAIL, {"subject": "Urlaub", "isAllDay": True, "showAs": "oof",
					      "start": {"dateTime": day + "T00:00:00", "timeZone": "Europe/Berlin"},
					      "end": {"dateTime": day2 + "T00:00:00", "timeZone": "Europe/Berlin"}}, pullcal)["id"]
	filler = [m.create_event(EMAIL, gev(base_t + 86400 + i * 60, base_t + 86400 + i * 60 + 30), pullcal)["id"]
		  for i in range(205)]
	own = run("upsert", creds=creds, cal=pullcal, event=dict(ev, appointment_id=APPT + 9))
	assert own["status"] == "ok", own
	ids["own"] = own["remote_id"]
	n0 = nlog()
	r = run("pull", creds=creds, cal=pullcal)
	assert r["status"] == "ok" and r["full"] and r["full_ended"], {k: r[k] for k in ("status", "error", "full")}
	reqs = since(n0, "/v1.0/")
	assert len(reqs) == 3, [x["path"] + str(x["query"]) for x in reqs]
	assert reqs[0]["path"] == f"/v1.0/me/calendars/{qid(pullcal)}/calendarView/delta", reqs[0]["path"]
	assert "startDateTime" in reqs[0]["query"] and "endDateTime" in reqs[0]["query"], reqs[0]["query"]
	assert all("$skiptoken" in x["query"] for x in reqs[1:]), [x["query"] for x in reqs]
	for x in reqs:
		pref = x["headers"].get("Prefer", "")
		assert "odata.maxpagesize=100" in pref and 'outlook.timezone="UTC"' in pref, pref
	by = {u["id"]: u for u in r["upserts"]}
	assert len(by) == 205 + 9, len(by)
	for show in ("busy", "oof", "tentative", "workingElsewhere"):
		assert by[ids[show]]["busy"] == [[base_t, base_t + 1800]], (show, by[ids[show]])
	for show in ("free", "unknown", "cancelled"):
		assert by[ids[show]]["busy"] == [], (show, by[ids[show]])
	ad = by[ids["allday"]]["busy"]
	berlin_midnight = int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())
	assert len(ad) == 1 and ad[0][0] in (berlin_midnight - 3600, berlin_midnight - 7200), (ad, berlin_midnight)
	assert ad[0][1] - ad[0][0] in (82800, 86400, 90000), ad
	o = by[ids["own"]]
	assert o["own"] == APPT + 9 and o["busy"] == [] and o["own_start"] == ev["start"], o
	cur = json.loads(r["cursor"])
	assert "$deltatoken=" in cur["delta_link"] and cur["window_end"] > now + 90 * DAY, cur

with t.case("a full delta skips objects whose etag is known"):
	known = {u["id"]: u["etag"] for u in r["upserts"]}
	r2 = run("pull", creds=creds, cal=pullcal, known=known)
	assert r2["status"] == "ok" and r2["full"] and r2["upserts"] == [], len(r2["upserts"])

with t.case("incremental: the stored deltaLink; new, changed and @removed; unchanged = one request"):
	newid = m.create_event(EMAIL, gev(base_t + 7200, base_t + 9000), pullcal)["id"]
	m.delete_event(EMAIL, ids["busy"])
	m.patch_event(EMAIL, ids["free"], {"showAs": "busy"})
	n0 = nlog()
	r3 = run("pull", creds=creds, cal=pullcal, cursor=r["cursor"])
	assert r3["status"] == "ok" and not r3["full"], r3
	reqs = since(n0, "/v1.0/")
	assert len(reqs) == 1 and "$deltatoken" in reqs[0]["query"], reqs
	assert 'outlook.timezone="UTC"' in reqs[0]["headers"].get("Prefer", ""), reqs[0]["headers"]
	by = {u["id"]: u for u in r3["upserts"]}
	assert set(by) == {newid, ids["free"]}, sorted(by)
	assert by[ids["free"]]["busy"] == [[base_t, base_t + 1800]], by[ids["free"]]
	assert r3["removes"] == [ids["busy"]], r3["removes"]
	n0 = nlog()
	r4 = run("pull", creds=creds, cal=pullcal, cursor=r3["cursor"])
	assert r4["status"] == "ok" and r4["upserts"] == [] and r4["removes"] == [], r4
	assert len(since(n0)) == 1, since(n0)

for mode in ("410", "syncStateNotFound"):
	with t.case(f"an expired delta token ({mode}): token_invalid, no cursor (the engine resyncs in full)"):
		m.set_knobs(delta_expiry=mode)
		m.expire_delta_tokens()
		r5 = run("pull", creds=creds, cal=pullcal, cursor=r4["cursor"])
		assert r5["status"] == "token_invalid" and r5["cursor"] is None, r5
		r6 = run("pull", creds=creds, cal=pullcal)
		assert r6["status"] == "ok" and r6["full"], r6["status"]
		r4 = r6

with t.case("a deltaLink off the Graph origin is never followed with our token"):
	c = json.loads(r4["cursor"])
	c["delta_link"] = "http://127.0.0.2:9/v1.0/me/calendarView/delta?$deltatoken=x"
	n0 = nlog()
	r7 = run("pull", creds=creds, cal=pullcal, cursor=json.dumps(c))
	assert r7["status"] == "ok" and r7["full"], r7["status"]
	assert "startDateTime" in since(n0, "/v1.0/")[0]["query"], since(n0)

# ---------------------------------------------------------------- throttling
with t.case("429 with a fractional Retry-After: waited, retried, then OK"):
	m.set_knobs(retry_after="0.6")
	m.fail("TooManyRequests", count=2)
	t0 = time.time()
	r = run("list", creds=creds)
	dt = time.time() - t0
	assert r["status"] == "ok" and r["requests"] == 3, r
	assert dt >= 1.2, dt

with t.case("503 serviceNotAvailable and 500: back-off, then OK"):
	m.set_knobs(retry_after="0.1")
	m.fail("serviceNotAvailable", count=1)
	m.fail("generalException", count=1)
	r = run("list", creds=creds)
	assert r["status"] == "ok" and r["requests"] == 3, r

with t.case("bounded: a service that stays down ends in retry after 5 attempts"):
	m.fail("generalException", count=20)
	r = run("list", creds=creds)
	m.clear_failures()
	assert r["status"] == "retry" and r["requests"] == 5 and "später" in r["error"], r

# ---------------------------------------------------------------- subscriptions
hits = []


class Hook(BaseHTTPRequestHandler):
	def do_POST(self):
		q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
		n = int(self.headers.get("Content-Length") or 0)
		if n:
			self.rfile.read(n)
		hits.append(self.path.split("?")[0])
		tok = (q.get("validationToken") or [None])[0]
		if tok is not None:
			data = tok.encode()
			self.send_response(200)
			self.send_header("Content-Type", "text/plain")
			self.send_header("Content-Length", str(len(data)))
			self.end_headers()
			self.wfile.write(data)
			return
		self.send_response(202)
		self.send_header("Content-Length", "0")
		self.end_headers()

	def log_message(self, *a):
		pass


hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()
address = f"http://127.0.0.1:{hook.server_address[1]}/webhooks/calendar/outlook"
CLIENT_STATE = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg"

with t.case("watch: POST /subscriptions for me/events; both URLs validated; clientState; the longest expiry"):
	n0 = nlog()
	r = run("watch", creds=creds, address=address, channel_id="ignored", token=CLIENT_STATE)
	assert r["status"] == "ok" and r["resource_id"], r
	sid = r["resource_id"]
	post = [x for x in since(n0) if x["path"] == "/v1.0/subscriptions"][0]["body"]
	assert post["resource"] == "me/events" and post["changeType"] == "created,updated,deleted", post
	assert post["notificationUrl"] == address and post["lifecycleNotificationUrl"] == address + "/lifecycle", post
	assert post["clientState"] == CLIENT_STATE, post
	assert sorted(set(hits)) == ["/webhooks/calendar/outlook", "/webhooks/calendar/outlook/lifecycle"], hits
	assert now + 10000 * 60 <= r["expires"] <= int(time.time()) + 10080 * 60, (r["expires"], now)
	subs = {s["id"]: s for s in m.subscription_list()}
	assert subs[sid]["active"] and subs[sid]["clientState"] == CLIENT_STATE, subs[sid]

with t.case("a limit of 4,230 minutes at the service: the watch fails cleanly (400), no subscription"):
	m.set_knobs(max_subscription_minutes=4230)
	before = len(m.subscription_list())
	r = run("watch", creds=creds, address=address, channel_id="x", token=CLIENT_STATE)
	assert r["status"] == "error" and r["resource_id"] is None, r
	assert len(m.subscription_list()) == before
	env["MICROSOFT_SUBSCRIPTION_MINUTES"] = "4200"
	r = run("watch", creds=creds, address=address, channel_id="x", token=CLIENT_STATE, cal=praxis)
	del env["MICROSOFT_SUBSCRIPTION_MINUTES"]
	m.set_knobs(max_subscription_minutes=10080)
	assert r["status"] == "ok" and r["expires"] <= int(time.time()) + 4200 * 60, r
	post = [x for x in m.request_log() if x["path"] == "/v1.0/subscriptions"][-1]["body"]
	assert post["resource"] == f"me/calendars/{qid(praxis)}/events", post
	cal_sub = r["resource_id"]

with t.case("renew (PATCH expirationDateTime) and reauthorize; a gone subscription is not_found"):
	n0 = nlog()
	r = run("renew", creds=creds, resource_id=sid)
	assert r["status"] == "ok" and r["expires"] > now + 10000 * 60, r
	x = since(n0)[0]
	assert x["method"] == "PATCH" and x["path"] == f"/v1.0/subscriptions/{sid}" and "expirationDateTime" in x["body"], x
	r = run("reauthorize", creds=creds, resource_id=sid)
	assert r["status"] == "ok", r
	m.expire_subscriptions(cal_sub)
	r = run("renew", creds=creds, resource_id=cal_sub)
	assert r["status"] == "not_found", r

with t.case("unwatch: DELETE; again (404) counts as done"):
	n0 = nlog()
	r = run("unwatch", creds=creds, channel_id="x", resource_id=sid)
	assert r["status"] == "ok", r
	r = run("unwatch", creds=creds, channel_id="x", resource_id=sid)
	assert r["status"] == "ok", r
	assert [(x["method"], x["status"]) for x in since(n0)] == [("DELETE", 204), ("DELETE", 404)], since(n0)

with t.case("no token, code or verifier in any log line"):
	logs = "\n".join(stderr_all)
	leaked = [s for s in secrets_seen if s and len(s) >= 8 and s in logs]
	assert not leaked, f"{len(leaked)} secret(s) in the logs"
	assert "outlook:" in logs

hook.shutdown()
m.stop()
t.done()
