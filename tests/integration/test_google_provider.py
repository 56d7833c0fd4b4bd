#!/usr/bin/python3
"""test_google_provider.py: the Google provider and the OAuth client (through tests/unit/google-check) against
tests/fakes/google.py: PKCE code exchange, refresh before expiry and after a 401, invalid_grant, calendars, push
(privacy, Meet pending -> link, idempotent insert, patch, 412, delete twice), pull over pages, syncToken, 410,
busy rules, own events, rate-limit retries with Retry-After, quotaExceeded, revoke. No secret reaches a log."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

srcdir = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
builddir = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(srcdir, "tests", "lib"))
sys.path.insert(0, os.path.join(srcdir, "tests", "fakes"))
from tap import Tap  # noqa: E402

prog = os.path.join(builddir, "tests", "unit", "google-check")
if not os.path.exists(os.path.join(srcdir, "tests", "fakes", "google.py")):
	print("1..0 # SKIP tests/fakes/google.py not there")
	sys.exit(0)
from google import FakeGoogle  # noqa: E402

t = Tap()
if not os.access(prog, os.X_OK):
	t.bail(f"{prog} not built (make check builds it)")

EMAIL = "ana@example.com"
g = FakeGoogle(port=0).start()
base = g.base_url
env = dict(os.environ)
env.update(g.env())
env.update({"GOOGLE_CLIENT_ID": FakeGoogle.DEFAULT_CLIENT_ID, "GOOGLE_CLIENT_SECRET": FakeGoogle.DEFAULT_CLIENT_SECRET,
	    "GOOGLE_REDIRECT_URI": g.redirect_uris[0], "GOOGLE_USERINFO_URI": base + "/oauth2/v3/userinfo",
	    "BASE_URL": "https://praxis.example", "TF_HTTP_BACKOFF_MS": "20", "TF_LOG_LEVEL": "debug"})
for k in ("TF_CONFIG",):
	env.pop(k, None)
stderr_all = []
secrets_seen = set()


def run(op, **kw):
	p = subprocess.run([prog], input=json.dumps({"op": op, **kw}), capture_output=True, text=True, env=env,
			   timeout=120)
	stderr_all.append(p.stderr)
	if p.returncode != 0 or not p.stdout.strip():
		raise RuntimeError(f"google-check {op}: rc {p.returncode}: {p.stderr[-2000:]}")
	out = json.loads(p.stdout)
	for key in ("access_token", "refresh_token"):
		if isinstance(out.get("creds"), dict) and out["creds"].get(key):
			secrets_seen.add(out["creds"][key])
	return out


def creds_from(answer):
	return {"access_token": answer["access_token"], "refresh_token": answer.get("refresh_token"),
		"expires_at": int(time.time()) + int(answer.get("expires_in", 3600)), "scope": answer.get("scope", "")}


def fresh_creds():
	c = creds_from(g.issue_tokens(EMAIL))
	secrets_seen.update([c["access_token"], c["refresh_token"]])
	return c


class NoRedirect(urllib.request.HTTPRedirectHandler):
	def redirect_request(self, *a, **kw):
		return None


def authorize(url):
	opener = urllib.request.build_opener(NoRedirect)
	try:
		opener.open(url, timeout=10)
	except urllib.error.HTTPError as e:
		if e.code in (302, 303):
			return urllib.parse.parse_qs(urllib.parse.urlsplit(e.headers["Location"]).query)
		raise
	raise RuntimeError("no redirect from the authorization endpoint")


def log_since(n, prefix="/calendar/v3/"):
	return g.request_log(since=n, path_prefix=prefix)


def nlog():
	return len(g.request_log())


now = int(time.time())
DAY = 86400
primary = EMAIL

# ---------------------------------------------------------------- OAuth with PKCE
with t.case("authorization URL carries every parameter; consent; code exchange with the PKCE verifier"):
	g.set_knobs(consent="approve")
	a = run("authurl")
	q = urllib.parse.parse_qs(urllib.parse.urlsplit(a["url"]).query)
	for k, v in (("response_type", "code"), ("code_challenge_method", "S256"), ("access_type", "offline"),
		     ("prompt", "consent"), ("client_id", FakeGoogle.DEFAULT_CLIENT_ID)):
		assert q.get(k) == [v], (k, q.get(k))
	assert "https://www.googleapis.com/auth/calendar.events" in q["scope"][0].split()
	back = authorize(a["url"])
	assert back["state"] == [a["state"]], back
	code = back["code"][0]
	secrets_seen.update([code, a["verifier"]])
	x = run("exchange", code=code, verifier=a["verifier"])
	assert x["oauth"] == "ok", x
	tok = x["tokens"]
	assert tok["access_token"] and tok["refresh_token"], tok
	assert "https://www.googleapis.com/auth/calendar.events" in tok["scope"].split(), tok
	assert tok["expires_at"] > now, tok
	secrets_seen.update([tok["access_token"], tok["refresh_token"]])
	# the code is single use
	x2 = run("exchange", code=code, verifier=a["verifier"])
	assert x2["oauth"] == "invalid_grant", x2
	creds = {k: tok[k] for k in ("access_token", "refresh_token", "expires_at", "scope")}

with t.case("code exchange with a wrong verifier is invalid_grant"):
	a = run("authurl")
	code = authorize(a["url"])["code"][0]
	secrets_seen.add(code)
	x = run("exchange", code=code, verifier="A" * 43)
	assert x["oauth"] == "invalid_grant", x

with t.case("wrong client secret is invalid_client"):
	a = run("authurl")
	code = authorize(a["url"])["code"][0]
	saved = env["GOOGLE_CLIENT_SECRET"]
	env["GOOGLE_CLIENT_SECRET"] = "GOCSPX-wrong"
	try:
		x = run("exchange", code=code, verifier=a["verifier"])
	finally:
		env["GOOGLE_CLIENT_SECRET"] = saved
	assert x["oauth"] == "invalid_client", x

with t.case("userinfo gives the account e-mail"):
	u = run("userinfo", creds=creds)
	assert u["status"] == "ok" and u["email"] == EMAIL, u

# ---------------------------------------------------------------- calendars
with t.case("calendarList: primary, Praxis writable, holidays read-only"):
	r = run("list", creds=creds)
	assert r["status"] == "ok", r
	by = {c["name"]: c for c in r["calendars"]}
	assert by[EMAIL]["id"] == EMAIL and by[EMAIL]["can_write"], by
	assert by["Praxis"]["can_write"] and by["Praxis"]["id"].endswith("@group.calendar.google.com"), by
	assert not by["Feiertage in Deutschland"]["can_write"], by
	assert by["Praxis"]["color"].startswith("#"), by
	assert r["creds_changed"] is False and r["requests"] == 1, r
	praxis = by["Praxis"]["id"]

# ---------------------------------------------------------------- token lifecycle
with t.case("refresh before expiry (expires_at within 60 s): new access token, refresh token kept"):
	c = dict(creds, expires_at=int(time.time()) + 30)
	n0 = nlog()
	r = run("list", creds=c)
	assert r["status"] == "ok" and r["creds_changed"] is True, r
	assert r["creds"]["access_token"] != creds["access_token"], "not refreshed"
	assert r["creds"]["refresh_token"] == creds["refresh_token"], "refresh token lost"
	assert r["creds"]["expires_at"] > int(time.time()) + 3000, r["creds"]["expires_at"]
	paths = [x["path"] for x in g.request_log(since=n0)]
	assert paths[0].startswith("/token"), paths
	creds = r["creds"]

with t.case("a 401 (token expired at Google) refreshes once and retries"):
	g.expire_access_tokens()
	n0 = nlog()
	r = run("list", creds=creds)
	assert r["status"] == "ok" and r["creds_changed"] is True, r
	paths = [x["path"].split("?")[0] for x in g.request_log(since=n0)]
	assert paths == ["/calendar/v3/users/me/calendarList", "/token", "/calendar/v3/users/me/calendarList"], paths
	creds = r["creds"]

with t.case("invalid_grant on refresh: PROV_AUTH with a German message, no loop"):
	c = fresh_creds()
	g.revoke_user(EMAIL)
	c["expires_at"] = 0
	n0 = nlog()
	r = run("list", creds=c)
	assert r["status"] == "auth", r
	assert "erneut" in r["error"], r["error"]
	assert len(g.request_log(since=n0)) == 1, g.request_log(since=n0)
	creds = fresh_creds()   # revoke_user removed the grant: a new consent
	g.set_knobs(consent="approve")

# ---------------------------------------------------------------- push
APPT = 4711
ev = {"appointment_id": APPT, "start": now + 2 * DAY, "end": now + 2 * DAY + 1800, "sequence": 0,
      "summary": "Termin (TerminFinder)", "description": "https://praxis.example/p/dr-ana", "location": "Praxisweg 1"}
with t.case("insert: deterministic base32hex id, private appointmentId, no patient fields sent"):
	n0 = nlog()
	r = run("upsert", creds=creds, cal=praxis, event=ev)
	assert r["status"] == "ok", r
	eid = r["event_id"]
	assert r["remote_id"] == eid and len(eid) >= 5 and all(ch in "0123456789abcdefghijklmnopqrstuv" for ch in eid), r
	assert r["etag"], r
	stored = [e for e in g.events(EMAIL, praxis) if e["id"] == eid]
	assert len(stored) == 1, stored
	assert stored[0]["extendedProperties"]["private"]["appointmentId"] == str(APPT), stored
	assert stored[0]["summary"] == "Termin (TerminFinder)", stored
	posts = [x for x in g.request_log(since=n0) if x["method"] == "POST"]
	assert len(posts) == 1, posts
	body = json.dumps(posts[0].get("body"))
	for field in ("attendees", "email", "phone", "@"):
		assert field not in body.replace("tfInstance", ""), (field, body)
	first_etag = r["etag"]

with t.case("insert again (a crash before the mapping was stored): 409 converges, one event"):
	r = run("upsert", creds=creds, cal=praxis, event=dict(ev, start=ev["start"] + 3600, end=ev["end"] + 3600))
	assert r["status"] == "ok" and r["remote_id"] == eid, r
	live = [e for e in g.events(EMAIL, praxis) if e["id"] == eid and e.get("status") != "cancelled"]
	assert len(live) == 1, live
	assert live[0]["start"]["dateTime"].startswith(time.strftime("%Y-%m-%dT", time.gmtime(ev["start"] + 3600))), live

with t.case("update: PATCH with If-Match; a stale etag re-reads and patches"):
	cur = [e for e in g.events(EMAIL, praxis) if e["id"] == eid][0]
	n0 = nlog()
	r = run("upsert", creds=creds, cal=praxis, event=dict(ev, start=ev["start"] + 7200, end=ev["end"] + 7200, sequence=1),
		remote_id=eid, etag=cur["etag"])
	assert r["status"] == "ok" and r["etag"] != cur["etag"], r
	methods = [x["method"] for x in g.request_log(since=n0)]
	assert methods == ["PATCH"], methods
	# stale etag (first_etag): 412 -> GET -> PATCH
	n0 = nlog()
	r = run("upsert", creds=creds, cal=praxis, event=dict(ev, start=ev["start"] + 10800, end=ev["end"] + 10800, sequence=2),
		remote_id=eid, etag=first_etag)
	assert r["status"] == "ok", r
	methods = [x["method"] for x in g.request_log(since=n0)]
	assert methods == ["PATCH", "GET", "PATCH"], methods
	upd_etag = r["etag"]

with t.case("Meet: pending, then the link"):
	g.set_knobs(meet_mode="pending", meet_pending_reads=1)
	r = run("upsert", creds=creds, cal=primary, event=dict(ev, appointment_id=APPT + 1, create_meet=True))
	assert r["status"] == "ok", r
	assert r["video_link"] and r["video_link"].startswith("https://meet.google.com/"), r
	assert r["ctx_video_link"] == r["video_link"] and r["video_pending"] is False, r
	stored = [e for e in g.events(EMAIL, primary) if e["id"] == r["remote_id"]][0]
	assert stored["conferenceData"]["createRequest"]["conferenceSolutionKey"]["type"] == "hangoutsMeet", stored
	meet_id = r["remote_id"]

with t.case("no Meet asked for: no conference, no link"):
	r = run("upsert", creds=creds, cal=primary, event=dict(ev, appointment_id=APPT + 2))
	assert r["status"] == "ok" and r["video_link"] is None, r
	assert r["ctx_video_link"] is None and r["video_pending"] is False, r
	stored = [e for e in g.events(EMAIL, primary) if e["id"] == r["remote_id"]][0]
	assert "conferenceData" not in stored, stored

with t.case("deleted in the calendar, then updated by us: not found (flag for review)"):
	r0 = run("upsert", creds=creds, cal=praxis, event=dict(ev, appointment_id=APPT + 3))
	g.delete_event(EMAIL, praxis, r0["remote_id"])
	r = run("upsert", creds=creds, cal=praxis, event=dict(ev, appointment_id=APPT + 3, sequence=1),
		remote_id=r0["remote_id"], etag=r0["etag"])
	assert r["status"] == "not_found", r

with t.case("delete, then delete again (410): both ok"):
	r = run("delete", creds=creds, cal=primary, remote_id=meet_id)
	assert r["status"] == "ok", r
	assert [e.get("status") for e in g.events(EMAIL, primary) if e["id"] == meet_id] in ([], ["cancelled"])
	n0 = nlog()
	r = run("delete", creds=creds, cal=primary, remote_id=meet_id)
	assert r["status"] == "ok", r
	assert [x["status"] for x in g.request_log(since=n0)] in ([410], [404]), g.request_log(since=n0)

# ---------------------------------------------------------------- pull
pullcal = g.add_calendar(EMAIL, summary="Pull")["id"]


def gev(start, end, **kw):
	def dt(x):
		return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(x))
	return {"summary": "extern", "start": {"dateTime": dt(start)}, "end": {"dateTime": dt(end)}, **kw}


with t.case("full pull over several pages: busy, transparent, declined, all-day, own events"):
	base_t = (now // 3600 + 24) * 3600
	ids = {}
	for i in range(5):
		ids[f"busy{i}"] = g.create_event(EMAIL, pullcal, gev(base_t + i * 3600, base_t + i * 3600 + 1800))["id"]
	ids["free"] = g.create_event(EMAIL, pullcal, gev(base_t, base_t + 3600, transparency="transparent"))["id"]
	ids["declined"] = g.create_event(EMAIL, pullcal, gev(base_t, base_t + 3600, attendees=[
		{"email": EMAIL, "self": True, "responseStatus": "declined"}]))["id"]
	day = time.strftime("%Y-%m-%d", time.gmtime(now + 3 * DAY))
	day2 = time.strftime("%Y-%m-%d", time.gmtime(now + 4 * DAY))
	ids["allday"] = g.create_event(EMAIL, pullcal, {"summary": "Urlaub", "start": {"date": day}, "end": {"date": day2}})["id"]
	own = run("upsert", creds=creds, cal=pullcal, event=dict(ev, appointment_id=APPT + 9))
	assert own["status"] == "ok", own
	ids["own"] = own["remote_id"]
	gone = g.create_event(EMAIL, pullcal, gev(base_t, base_t + 60))["id"]
	g.delete_event(EMAIL, pullcal, gone)
	g.set_knobs(page_sizes=[2, 0, 3])
	n0 = nlog()
	r = run("pull", creds=creds, cal=pullcal)
	g.set_knobs(page_sizes=None)
	assert r["status"] == "ok" and r["full"] and r["full_ended"], r
	lists = log_since(n0)
	assert len(lists) >= 4, lists
	q = lists[0]["query"]
	assert q.get("singleEvents") == ["true"] and "timeMin" in q and "timeMax" in q and "syncToken" not in q, q
	assert all("pageToken" in x["query"] for x in lists[1:]), [x["query"] for x in lists]
	by = {u["id"]: u for u in r["upserts"]}
	assert set(by) == set(ids.values()), (sorted(by), ids)
	for i in range(5):
		assert by[ids[f"busy{i}"]]["busy"] == [[base_t + i * 3600, base_t + i * 3600 + 1800]], by[ids[f"busy{i}"]]
	assert by[ids["free"]]["busy"] == [] and by[ids["declined"]]["busy"] == [], by
	assert by[ids["own"]]["own"] == APPT + 9 and by[ids["own"]]["busy"] == [], by[ids["own"]]
	assert by[ids["own"]]["own_start"] == ev["start"], by[ids["own"]]
	ad = by[ids["allday"]]["busy"]
	assert len(ad) == 1 and ad[0][1] - ad[0][0] in (82800, 86400, 90000), ad
	assert gone not in by and r["removes"] == [], r
	cursor = json.loads(r["cursor"])
	assert cursor["sync_token"] and cursor["window_end"] > now + 90 * DAY, cursor

with t.case("unchanged objects are skipped in a full listing when the etag is known"):
	known = {u["id"]: u["etag"] for u in r["upserts"]}
	r2 = run("pull", creds=creds, cal=pullcal, known=known)
	assert r2["status"] == "ok" and r2["upserts"] == [] and r2["full"], r2

with t.case("incremental pull with the syncToken: new, changed and deleted events only"):
	newid = g.create_event(EMAIL, pullcal, gev(base_t + 20 * 3600, base_t + 21 * 3600))["id"]
	g.delete_event(EMAIL, pullcal, ids["busy0"])
	g.patch_event(EMAIL, pullcal, ids["free"], {"transparency": "opaque"})
	n0 = nlog()
	r3 = run("pull", creds=creds, cal=pullcal, cursor=r["cursor"])
	assert r3["status"] == "ok" and not r3["full"], r3
	by = {u["id"]: u for u in r3["upserts"]}
	assert set(by) == {newid, ids["free"]}, by
	assert by[ids["free"]]["busy"] == [[base_t, base_t + 3600]], by
	assert r3["removes"] == [ids["busy0"]], r3
	q = log_since(n0)[0]["query"]
	assert q.get("singleEvents") == ["true"] and "syncToken" in q and "timeMin" not in q, q
	# nothing changed: one request, nothing reported
	n0 = nlog()
	r4 = run("pull", creds=creds, cal=pullcal, cursor=r3["cursor"])
	assert r4["status"] == "ok" and r4["upserts"] == [] and r4["removes"] == [], r4
	assert len(log_since(n0)) == 1, log_since(n0)

with t.case("410 on the syncToken: PROV_TOKEN_INVALID"):
	g.expire_sync_tokens()
	r5 = run("pull", creds=creds, cal=pullcal, cursor=r4["cursor"])
	assert r5["status"] == "token_invalid" and r5["cursor"] is None, r5

with t.case("a cursor whose window the horizon passed lists in full again"):
	c = json.loads(r4["cursor"])
	c["window_end"] = now + 10 * DAY
	r6 = run("pull", creds=creds, cal=pullcal, cursor=json.dumps(c))
	assert r6["status"] == "ok" and r6["full"], r6

# ---------------------------------------------------------------- rate limits
with t.case("429 with Retry-After is retried after the wait, then OK"):
	g.set_knobs(retry_after=1)
	g.fail("rateLimit429", count=2)
	t0 = time.time()
	r = run("list", creds=creds)
	dt = time.time() - t0
	assert r["status"] == "ok" and r["requests"] == 3, r
	assert dt >= 2.0, dt

with t.case("403 rateLimitExceeded / userRateLimitExceeded and 5xx: back-off, then OK"):
	g.set_knobs(retry_after=None)
	g.fail("rateLimitExceeded", count=1)
	g.fail("userRateLimitExceeded", count=1)
	g.fail("backendError", count=1)
	r = run("list", creds=creds)
	assert r["status"] == "ok" and r["requests"] == 4, r

with t.case("bounded: a service that stays down ends in PROV_RETRY after 5 attempts"):
	g.fail("backendError", count=10)
	r = run("list", creds=creds)
	g.clear_failures()
	assert r["status"] == "retry" and r["requests"] == 5, r

with t.case("quotaExceeded: no retry, PROV_ERROR with a German reason"):
	g.fail("quotaExceeded", count=1)
	r = run("upsert", creds=creds, cal=praxis, event=dict(ev, appointment_id=APPT + 20))
	g.clear_failures()
	assert r["status"] == "error" and r["requests"] == 1, r
	assert "kontingent" in r["error"], r

# ---------------------------------------------------------------- revoke
with t.case("revoke: the refresh token stops working"):
	c = fresh_creds()
	x = run("revoke", token=c["refresh_token"])
	assert x["oauth"] == "ok", x
	x = run("refresh", token=c["refresh_token"])
	assert x["oauth"] == "invalid_grant", x
	x = run("revoke", token=c["refresh_token"])
	assert x["oauth"] == "ok", x   # already revoked counts as done

with t.case("no token, code or verifier in any log line"):
	logs = "\n".join(stderr_all)
	leaked = [s for s in secrets_seen if s and len(s) >= 8 and s in logs]
	assert not leaked, f"{len(leaked)} secret(s) in the logs"
	assert "google:" in logs   # the logs were captured at all

g.stop()
t.done()
