"""test_fake_google.py: the fake Google (tests/fakes/google.py) is strict: every Google behaviour of providers.md §6.

urllib only; a small local HTTP receiver takes the push notifications. TAP through tests/lib/tap.py.
"""
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakes"))

from tap import Tap  # noqa: E402
from google import FakeGoogle  # noqa: E402
from common import fetch as http, js  # noqa: E402

t = Tap()
REDIR = "http://127.0.0.1:8080/api/doctor/calendar-integrations/callback/google"
SP = "https://www.googleapis.com/auth/"
SCOPE = f"openid email {SP}calendar.readonly {SP}calendar.events"


def b64url(raw):
	return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


g = FakeGoogle(redirect_uris=[REDIR]).start()
B = g.base_url
ME = "ana@example.com"


def api(method, path, tok, body=None, query=None, headers=None):
	url = B + "/calendar/v3" + path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
	h = {"Authorization": "Bearer " + tok} if tok else {}
	h.update(headers or {})
	st, hd, raw = http(method, url, body=body, headers=h)
	return st, hd, js(raw)


def reason(j):
	try:
		return j["error"]["errors"][0]["reason"]
	except (TypeError, KeyError, IndexError):
		return None


def auth_url(verifier="v" * 43, scope=SCOPE, state="st-1", access_type="offline", prompt="consent", redirect=REDIR, **extra):
	p = {"client_id": g.client_id, "redirect_uri": redirect, "response_type": "code", "scope": scope, "state": state,
	     "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()), "code_challenge_method": "S256"}
	if access_type:
		p["access_type"] = access_type
	if prompt:
		p["prompt"] = prompt
	p.update(extra)
	return B + "/o/oauth2/v2/auth?" + urllib.parse.urlencode(p)


def get_code(**kw):
	g.consent = "approve"
	st, hd, _ = http("GET", auth_url(**kw))
	assert st == 302, st
	q = urllib.parse.parse_qs(urllib.parse.urlsplit(hd["Location"]).query)
	return q["code"][0], q


def exchange(code, verifier="v" * 43, secret=None, redirect=REDIR, grant="authorization_code"):
	st, _, raw = http("POST", B + "/token", form={"code": code, "client_id": g.client_id,
						     "client_secret": secret or g.client_secret, "redirect_uri": redirect,
						     "grant_type": grant, "code_verifier": verifier})
	return st, js(raw)


def tokens(**kw):
	v = "w" * 50
	code, _ = get_code(verifier=v, **kw)
	st, j = exchange(code, verifier=v)
	assert st == 200, (st, j)
	return j


# ---------------------------------------------------------------- OAuth
with t.case("consent page: German form with Zulassen/Ablehnen; Zulassen redirects with state+code+scope"):
	g.consent = "page"
	st, hd, raw = http("GET", auth_url(state="abc"))
	page = raw.decode()
	assert st == 200 and "text/html" in hd["Content-Type"], st
	assert ">Zulassen</button>" in page and ">Ablehnen</button>" in page and 'lang="de"' in page
	txn = re.search(r'name="txn" value="([^"]+)"', page).group(1)
	scopes = re.findall(r'name="scope" value="([^"]+)"', page)
	st, hd, _ = http("POST", B + "/signin/oauth/consent", form=[("txn", txn), ("submit_access", "true")] +
			 [("scope", s) for s in scopes])
	assert st == 302, st
	loc = hd["Location"]
	assert loc.startswith(REDIR + "?state=abc&code="), loc
	q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
	assert SP + "calendar.events" in q["scope"][0].split(), q
	st, _, _ = http("POST", B + "/signin/oauth/consent", form={"txn": txn, "submit_access": "true"})
	assert st == 400, "a consent form is single use"

with t.case("consent page: Ablehnen → error=access_denied with state"):
	st, hd, raw = http("GET", auth_url(state="xyz"))
	txn = re.search(r'name="txn" value="([^"]+)"', raw.decode()).group(1)
	st, hd, _ = http("POST", B + "/signin/oauth/consent", form={"txn": txn, "submit_access": "false"})
	assert st == 302 and hd["Location"] == REDIR + "?state=xyz&error=access_denied", hd["Location"]

with t.case("consent=deny knob → access_denied without a page"):
	g.consent = "deny"
	st, hd, _ = http("GET", auth_url(state="s2"))
	assert st == 302 and "error=access_denied" in hd["Location"] and "state=s2" in hd["Location"]

with t.case("unregistered redirect_uri and the redirect_uri_mismatch knob: dead-end page, no redirect"):
	g.consent = "approve"
	st, hd, raw = http("GET", auth_url(redirect="http://127.0.0.1:8080/other"))
	assert st == 400 and hd.get("Location") is None and b"redirect_uri_mismatch" in raw, st
	g.redirect_uri_mismatch = True
	st, hd, raw = http("GET", auth_url())
	g.redirect_uri_mismatch = False
	assert st == 400 and hd.get("Location") is None and b"redirect_uri_mismatch" in raw, st

with t.case("unknown client_id: dead-end 401 invalid_client page"):
	st, hd, raw = http("GET", auth_url().replace(urllib.parse.quote(g.client_id), "nope"))
	assert st == 401 and b"invalid_client" in raw and hd.get("Location") is None

with t.case("token: wrong client_secret → 401 invalid_client"):
	code, _ = get_code()
	st, j = exchange(code, secret="wrong")
	assert st == 401 and j["error"] == "invalid_client", (st, j)

with t.case("token: bad grant_type → 400 unsupported_grant_type; form body required"):
	st, j = exchange(code, grant="password")
	assert st == 400 and j["error"] == "unsupported_grant_type", (st, j)
	st, _, raw = http("POST", B + "/token", body={"grant_type": "authorization_code"})
	assert st == 400 and js(raw)["error"] == "invalid_request"

with t.case("token: PKCE code_verifier mismatch → 400 invalid_grant"):
	st, j = exchange(code, verifier="x" * 43)
	assert st == 400 and j["error"] == "invalid_grant", (st, j)
	st, j = exchange(code, verifier=None or "")
	assert st == 400 and j["error"] == "invalid_grant", (st, j)

with t.case("token: redirect_uri differing from the authorization request → refused"):
	st, j = exchange(code, redirect="http://127.0.0.1:8080/other")
	assert st == 400 and j["error"] in ("redirect_uri_mismatch", "invalid_grant"), (st, j)

with t.case("token: good exchange answers access+refresh+scope+id_token; the code is single use"):
	st, j = exchange(code)
	assert st == 200 and j["token_type"] == "Bearer" and j["refresh_token"] and j["expires_in"] == 3599, j
	assert "id_token" in j and SP + "calendar.events" in j["scope"].split()
	claims = json.loads(base64.urlsafe_b64decode(j["id_token"].split(".")[1] + "=="))
	assert claims["email"] == ME and claims["aud"] == g.client_id
	st, j2 = exchange(code)
	assert st == 400 and j2["error"] == "invalid_grant", (st, j2)
	TOK = j

with t.case("refresh_token only with access_type=offline on first consent or prompt=consent"):
	g.revoke_user(ME)
	j = tokens(access_type="online", prompt=None)
	assert "refresh_token" not in j, j
	g.revoke_user(ME)
	j = tokens(prompt=None)
	assert "refresh_token" in j, "first consent with offline"
	j = tokens(prompt=None)
	assert "refresh_token" not in j, "second consent without prompt=consent"
	j = tokens(prompt="consent")
	assert "refresh_token" in j, "prompt=consent"
	TOK = j

with t.case("refresh: 200 without refresh_token; the new access token works"):
	st, _, raw = http("POST", B + "/token", form={"client_id": g.client_id, "client_secret": g.client_secret,
						      "refresh_token": TOK["refresh_token"], "grant_type": "refresh_token"})
	j = js(raw)
	assert st == 200 and "refresh_token" not in j and j["access_token"] != TOK["access_token"], j
	st, _, _ = api("GET", "/users/me/calendarList", j["access_token"])
	assert st == 200, st

with t.case("userinfo answers the account e-mail and sub (bearer)"):
	st, _, raw = http("GET", B + "/oauth2/v3/userinfo", headers={"Authorization": "Bearer " + TOK["access_token"]})
	j = js(raw)
	assert st == 200 and j["email"] == ME and j["email_verified"] is True and j["sub"], j
	st, hd, _ = http("GET", B + "/oauth2/v3/userinfo")
	assert st == 401 and "Bearer" in hd["WWW-Authenticate"]

with t.case("granular consent knob: a withheld calendar scope is missing in scope, the API answers 403"):
	g.deny_scopes = [SP + "calendar.events"]
	j = tokens()
	g.deny_scopes = []
	assert SP + "calendar.events" not in j["scope"].split(), j["scope"]
	st, _, e = api("POST", "/calendars/primary/events", j["access_token"],
		       {"start": {"dateTime": "2030-01-01T10:00:00Z"}, "end": {"dateTime": "2030-01-01T11:00:00Z"}})
	assert st == 403 and reason(e) == "insufficientPermissions", (st, e)

with t.case("revoke: 200; then refresh → 400 invalid_grant 'Token has been expired or revoked.'; access token → 401"):
	j = tokens()
	st, _, _ = http("POST", B + "/revoke", form={"token": j["refresh_token"]})
	assert st == 200, st
	st, _, raw = http("POST", B + "/token", form={"client_id": g.client_id, "client_secret": g.client_secret,
						      "refresh_token": j["refresh_token"], "grant_type": "refresh_token"})
	assert st == 400 and js(raw) == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
	st, _, e = api("GET", "/users/me/calendarList", j["access_token"])
	assert st == 401 and reason(e) == "authError", (st, e)
	st, _, raw = http("POST", B + "/revoke", form={"token": j["refresh_token"]})
	assert st == 400 and js(raw)["error"] == "invalid_token"

with t.case("7-day Testing expiry knob: refresh → invalid_grant"):
	j = tokens()
	g.expire_refresh_tokens()
	st, _, raw = http("POST", B + "/token", form={"client_id": g.client_id, "client_secret": g.client_secret,
						      "refresh_token": j["refresh_token"], "grant_type": "refresh_token"})
	assert st == 400 and js(raw)["error"] == "invalid_grant"

with t.case("expires_in knob: expired access token → 401 authError JSON + WWW-Authenticate"):
	g.expires_in = 1
	j = tokens()
	g.expires_in = 3599
	assert j["expires_in"] == 1
	time.sleep(1.2)
	st, hd, e = api("GET", "/users/me/calendarList", j["access_token"])
	assert st == 401 and reason(e) == "authError" and e["error"]["code"] == 401, e
	assert e["error"]["status"] == "UNAUTHENTICATED" and "invalid_token" in hd["WWW-Authenticate"]
	assert e["error"]["errors"][0]["domain"] == "global" and e["error"]["message"] == "Invalid Credentials"

AT = tokens()["access_token"]

# ---------------------------------------------------------------- calendars
with t.case("calendarList: primary flagged, writer/reader roles, id with '#' reachable percent-encoded"):
	st, _, j = api("GET", "/users/me/calendarList", AT)
	ids = {c["id"]: c for c in j["items"]}
	assert st == 200 and ids[ME]["primary"] is True and "nextSyncToken" in j, j
	hol = [c for c in j["items"] if "#" in c["id"]][0]
	assert hol["accessRole"] == "reader" and "primary" not in hol
	st, _, j = api("GET", "/calendars/" + urllib.parse.quote(hol["id"], safe="") + "/events", AT)
	assert st == 200 and j["kind"] == "calendar#events", st
	st, _, e = api("POST", "/calendars/" + urllib.parse.quote(hol["id"], safe="") + "/events", AT,
		       {"start": {"date": "2030-01-01"}, "end": {"date": "2030-01-02"}})
	assert st == 403, (st, e)


def ev_body(start, minutes=30, **kw):
	s = datetime.fromisoformat(start)
	b = {"summary": "Termin", "start": {"dateTime": s.isoformat(), "timeZone": "Europe/Berlin"},
	     "end": {"dateTime": (s + timedelta(minutes=minutes)).isoformat(), "timeZone": "Europe/Berlin"}}
	b.update(kw)
	return b


with t.case("insert with a client id: 200, twice → 409 duplicate"):
	body = ev_body("2030-03-11T10:00:00+01:00", id="appt00001abc", extendedProperties={"private": {"appointmentId": "1"}})
	st, hd, ev = api("POST", "/calendars/primary/events", AT, body)
	assert st == 200 and ev["id"] == "appt00001abc" and hd["ETag"] == ev["etag"] and ev["status"] == "confirmed", ev
	assert ev["iCalUID"] == "appt00001abc@google.com" and ev["organizer"]["self"] is True
	st, _, e = api("POST", "/calendars/primary/events", AT, body)
	assert st == 409 and reason(e) == "duplicate" and e["error"]["message"] == "The requested identifier already exists."

with t.case("insert with a bad id (charset, length) → 400; missing end → 400 required; end before start → timeRangeEmpty"):
	for bad in ("APPT00001", "appwx0001", "ab12", "appt-0001", "a" * 1025):
		st, _, e = api("POST", "/calendars/primary/events", AT, ev_body("2030-03-11T10:00:00+01:00", id=bad))
		assert st == 400 and reason(e) == "invalid", (bad, st, e)
	st, _, e = api("POST", "/calendars/primary/events", AT, {"start": {"dateTime": "2030-03-11T10:00:00Z"}})
	assert st == 400 and reason(e) == "required", e
	st, _, e = api("POST", "/calendars/primary/events", AT, ev_body("2030-03-11T10:00:00+01:00", minutes=-5))
	assert st == 400 and reason(e) == "timeRangeEmpty", e

with t.case("conferenceDataVersion=0 ignores conferenceData"):
	cd = {"createRequest": {"requestId": "req-0", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
	st, _, ev = api("POST", "/calendars/primary/events", AT, ev_body("2030-03-12T10:00:00+01:00", conferenceData=cd))
	assert st == 200 and "conferenceData" not in ev and "hangoutLink" not in ev, ev

with t.case("Meet: conferenceDataVersion=1 → pending, then success with hangoutLink and a video entry point"):
	g.meet_mode, g.meet_pending_reads = "pending", 1
	cd = {"createRequest": {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
	st, _, ev = api("POST", "/calendars/primary/events", AT, ev_body("2030-03-12T11:00:00+01:00", conferenceData=cd),
			{"conferenceDataVersion": "1"})
	assert st == 200 and ev["conferenceData"]["createRequest"]["status"]["statusCode"] == "pending", ev
	assert "entryPoints" not in ev["conferenceData"] and "hangoutLink" not in ev
	st, _, ev1 = api("GET", f"/calendars/primary/events/{ev['id']}", AT)
	assert ev1["conferenceData"]["createRequest"]["status"]["statusCode"] == "pending", "one read still pending"
	st, _, ev2 = api("GET", f"/calendars/primary/events/{ev['id']}", AT)
	cdat = ev2["conferenceData"]
	assert cdat["createRequest"]["status"]["statusCode"] == "success", cdat
	video = [p for p in cdat["entryPoints"] if p["entryPointType"] == "video"][0]
	assert re.fullmatch(r"https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}", video["uri"]), video
	assert ev2["hangoutLink"] == video["uri"] and cdat["conferenceId"] == video["uri"].rsplit("/", 1)[1]
	assert ev2["etag"] != ev["etag"]
	MEET = ev2

with t.case("Meet: a repeated requestId is ignored; a new one makes a new conference"):
	st, _, ev = api("PATCH", f"/calendars/primary/events/{MEET['id']}", AT, {"conferenceData": cd},
			{"conferenceDataVersion": "1"})
	assert st == 200 and ev["conferenceData"]["conferenceId"] == MEET["conferenceData"]["conferenceId"], ev
	g.meet_mode = "success"
	cd2 = {"createRequest": {"requestId": "req-2", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
	st, _, ev = api("PATCH", f"/calendars/primary/events/{MEET['id']}", AT, {"conferenceData": cd2},
			{"conferenceDataVersion": "1"})
	assert ev["conferenceData"]["conferenceId"] != MEET["conferenceData"]["conferenceId"], ev

with t.case("Meet: failure mode → statusCode failure, no entry points"):
	g.meet_mode, g.meet_pending_reads = "failure", 0
	cd3 = {"createRequest": {"requestId": "req-3", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
	st, _, ev = api("POST", "/calendars/primary/events", AT, ev_body("2030-03-12T12:00:00+01:00", conferenceData=cd3),
			{"conferenceDataVersion": "1"})
	st, _, ev = api("GET", f"/calendars/primary/events/{ev['id']}", AT)
	g.meet_mode = "pending"
	assert ev["conferenceData"]["createRequest"]["status"]["statusCode"] == "failure" and "hangoutLink" not in ev, ev

with t.case("PATCH merges (other fields and other private keys kept); PUT replaces (omitted fields gone)"):
	body = ev_body("2030-03-13T10:00:00+01:00", description="Beschreibung", location="Praxis",
		       extendedProperties={"private": {"appointmentId": "7", "other": "x"}})
	st, _, ev = api("POST", "/calendars/primary/events", AT, body)
	st, _, p = api("PATCH", f"/calendars/primary/events/{ev['id']}", AT,
		       {"summary": "Neu", "extendedProperties": {"private": {"appointmentId": "8"}}})
	assert p["summary"] == "Neu" and p["description"] == "Beschreibung" and p["location"] == "Praxis", p
	assert p["extendedProperties"]["private"] == {"appointmentId": "8", "other": "x"}, p["extendedProperties"]
	st, _, u = api("PUT", f"/calendars/primary/events/{ev['id']}", AT, ev_body("2030-03-13T11:00:00+01:00", summary="Ersetzt"))
	assert st == 200 and u["summary"] == "Ersetzt" and "description" not in u and "extendedProperties" not in u, u
	assert u["sequence"] > ev["sequence"] and len({ev["etag"], p["etag"], u["etag"]}) == 3
	st, _, e = api("PUT", f"/calendars/primary/events/{ev['id']}", AT, {"summary": "ohne Zeiten"})
	assert st == 400 and reason(e) == "required", e
	PE = u

with t.case("If-Match: stale etag → 412 conditionNotMet; current etag → 200"):
	st, _, e = api("PATCH", f"/calendars/primary/events/{PE['id']}", AT, {"summary": "x"}, headers={"If-Match": '"1"'})
	assert st == 412 and reason(e) == "conditionNotMet", (st, e)
	st, _, ok = api("PATCH", f"/calendars/primary/events/{PE['id']}", AT, {"summary": "x"}, headers={"If-Match": PE["etag"]})
	assert st == 200 and ok["summary"] == "x"
	st, _, _ = api("GET", f"/calendars/primary/events/{PE['id']}", AT, headers={"If-None-Match": ok["etag"]})
	assert st == 304, st

with t.case("DELETE → 204; again → 410 deleted; GET → 200 status cancelled; unknown → 404"):
	st, _, _ = api("DELETE", f"/calendars/primary/events/{PE['id']}", AT)
	assert st == 204, st
	st, _, e = api("DELETE", f"/calendars/primary/events/{PE['id']}", AT)
	assert st == 410 and reason(e) == "deleted", (st, e)
	st, _, ev = api("GET", f"/calendars/primary/events/{PE['id']}", AT)
	assert st == 200 and ev["status"] == "cancelled", ev
	st, _, e = api("GET", "/calendars/primary/events/nosuchevent0", AT)
	assert st == 404 and reason(e) == "notFound"

# ---------------------------------------------------------------- lists and sync
acct2 = "bob@example.com"
g.add_account(acct2)
AT2 = g.issue_tokens(acct2)["access_token"]
for i in range(5):
	g.create_event(acct2, acct2, ev_body(f"2030-04-0{i + 1}T09:00:00+02:00", id=f"list{i:04d}a",
					     extendedProperties={"private": {"appointmentId": str(100 + i)}}))

with t.case("pagination: short and empty pages carry nextPageToken; nextSyncToken only on the last page"):
	g.page_sizes = [2, 0]
	pages, q = [], {}
	while True:
		st, _, j = api("GET", "/calendars/primary/events", AT2, query=q)
		assert st == 200, j
		pages.append(j)
		if "nextPageToken" not in j:
			break
		assert "nextSyncToken" not in j
		q = {"pageToken": j["nextPageToken"]}
	g.page_sizes = None
	sizes = [len(p["items"]) for p in pages]
	assert sizes == [2, 0, 2, 0, 1], sizes
	assert "nextSyncToken" in pages[-1] and "nextPageToken" not in pages[-1]
	SYNC = pages[-1]["nextSyncToken"]

with t.case("empty_last_page knob: the last page is empty and carries nextSyncToken"):
	g.empty_last_page = True
	st, _, j = api("GET", "/calendars/primary/events", AT2, query={"maxResults": "5"})
	st, _, j2 = api("GET", "/calendars/primary/events", AT2, query={"pageToken": j["nextPageToken"]})
	g.empty_last_page = False
	assert len(j["items"]) == 5 and "nextSyncToken" not in j and j2["items"] == [] and "nextSyncToken" in j2

with t.case("syncToken with timeMin/timeMax/q/orderBy/iCalUID/updatedMin/privateExtendedProperty → 400"):
	for k, v in (("timeMin", "2030-01-01T00:00:00Z"), ("timeMax", "2030-01-01T00:00:00Z"), ("q", "x"),
		     ("orderBy", "updated"), ("iCalUID", "x"), ("updatedMin", "2030-01-01T00:00:00Z"),
		     ("privateExtendedProperty", "appointmentId=1")):
		st, _, e = api("GET", "/calendars/primary/events", AT2, query={"syncToken": SYNC, k: v})
		assert st == 400 and reason(e) == "invalid", (k, st, e)

with t.case("incremental list: only changes, a deleted event as cancelled (id only)"):
	g.patch_event(acct2, acct2, "list0001a", {"summary": "geändert"})
	g.delete_event(acct2, acct2, "list0002a")
	st, _, j = api("GET", "/calendars/primary/events", AT2, query={"syncToken": SYNC})
	got = {e["id"]: e for e in j["items"]}
	assert set(got) == {"list0001a", "list0002a"}, got
	assert got["list0002a"]["status"] == "cancelled" and "summary" not in got["list0002a"]
	assert got["list0001a"]["summary"] == "geändert" and "nextSyncToken" in j
	st, _, j2 = api("GET", "/calendars/primary/events", AT2, query={"syncToken": j["nextSyncToken"]})
	assert j2["items"] == [], j2

with t.case("sync-token expiry knob → 410 fullSyncRequired"):
	g.expire_sync_tokens()
	st, _, e = api("GET", "/calendars/primary/events", AT2, query={"syncToken": j["nextSyncToken"]})
	assert st == 410 and reason(e) == "fullSyncRequired", (st, e)

with t.case("timeMin filters on end (exclusive), timeMax on start (exclusive); timeMax <= timeMin → 400 timeRangeEmpty"):
	# list0000x: 2030-04-01 09:00-09:30 +02:00 = 07:00-07:30Z
	def ids(**q):
		return {e["id"] for e in api("GET", "/calendars/primary/events", AT2, query=q)[2]["items"]}
	assert "list0000a" not in ids(timeMin="2030-04-01T07:30:00Z"), "end == timeMin is out"
	assert "list0000a" in ids(timeMin="2030-04-01T07:29:59Z")
	assert "list0000a" not in ids(timeMax="2030-04-01T07:00:00Z"), "start == timeMax is out"
	assert "list0000a" in ids(timeMax="2030-04-01T07:00:01Z")
	st, _, e = api("GET", "/calendars/primary/events", AT2, query={"timeMin": "2030-04-01T07:00:00Z",
									  "timeMax": "2030-04-01T07:00:00Z"})
	assert st == 400 and reason(e) == "timeRangeEmpty", e
	st, _, e = api("GET", "/calendars/primary/events", AT2, query={"timeMin": "2030-04-01T07:00:00"})
	assert st == 400, "timeMin without offset"

with t.case("privateExtendedProperty=appointmentId=... filters"):
	st, _, j = api("GET", "/calendars/primary/events", AT2, query={"privateExtendedProperty": "appointmentId=103"})
	assert [e["id"] for e in j["items"]] == ["list0003a"], j["items"]
	st, _, j = api("GET", "/calendars/primary/events", AT2, query={"privateExtendedProperty": ["appointmentId=103", "x=y"]})
	assert j["items"] == []

with t.case("orderBy=startTime without singleEvents → 400"):
	st, _, e = api("GET", "/calendars/primary/events", AT2, query={"orderBy": "startTime"})
	assert st == 400 and reason(e) == "invalid", e

with t.case("singleEvents: WEEKLY BYDAY COUNT with EXDATE → instances with recurringEventId/originalStartTime (DST-safe)"):
	body = ev_body("2030-03-25T10:00:00+02:00", id="series0001",
		       recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6", "EXDATE;TZID=Europe/Berlin:20300327T100000"])
	body["start"] = {"dateTime": "2030-03-25T10:00:00", "timeZone": "Europe/Berlin"}
	body["end"] = {"dateTime": "2030-03-25T10:30:00", "timeZone": "Europe/Berlin"}
	st, _, ev = api("POST", "/calendars/primary/events", AT2, body)
	assert st == 200, ev
	st, _, j = api("GET", "/calendars/primary/events", AT2, query={"singleEvents": "true", "orderBy": "startTime",
									  "timeMin": "2030-03-20T00:00:00Z"})
	inst = [e for e in j["items"] if e.get("recurringEventId") == "series0001"]
	assert len(inst) == 5, [e["id"] for e in inst]
	assert inst[0]["id"] == "series0001_20300325T090000Z" and inst[0]["originalStartTime"]["dateTime"] == "2030-03-25T10:00:00+01:00"
	assert inst[1]["start"]["dateTime"] == "2030-04-01T10:00:00+02:00", "after the DST change still 10:00"
	assert all(e["start"]["dateTime"][11:16] == "10:00" for e in inst), [e["start"] for e in inst]
	assert "series0001_20300327T090000Z" not in {e["id"] for e in inst}, "EXDATE"
	assert not any(e["id"] == "series0001" for e in j["items"]), "master omitted"
	st, _, j = api("GET", "/calendars/primary/events", AT2, query={"timeMin": "2030-03-20T00:00:00Z"})
	assert [e for e in j["items"] if e["id"] == "series0001"][0]["recurrence"], "master without singleEvents"

with t.case("singleEvents: DAILY INTERVAL=2 UNTIL; deleting an instance → cancelled instance in incremental sync"):
	body = ev_body("2030-05-01T08:00:00+02:00", id="series0002",
		       recurrence=["RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20300507T060000Z"])
	api("POST", "/calendars/primary/events", AT2, body)
	st, _, j = api("GET", "/calendars/primary/events", AT2, query={"singleEvents": "true", "timeMin": "2030-04-30T00:00:00Z"})
	days = [e["start"]["dateTime"][:10] for e in j["items"] if e.get("recurringEventId") == "series0002"]
	assert days == ["2030-05-01", "2030-05-03", "2030-05-05", "2030-05-07"], days
	sync = j["nextSyncToken"]
	st, _, _ = api("DELETE", "/calendars/primary/events/series0002_20300503T060000Z", AT2)
	assert st == 204, st
	st, _, j = api("GET", "/calendars/primary/events", AT2, query={"singleEvents": "true", "syncToken": sync})
	assert [(e["id"], e["status"], e["recurringEventId"]) for e in j["items"]] == \
		[("series0002_20300503T060000Z", "cancelled", "series0002")], j["items"]
	st, _, e = api("POST", "/calendars/primary/events", AT2,
		       ev_body("2030-05-01T08:00:00+02:00", recurrence=["RRULE:FREQ=MONTHLY;BYSETPOS=1;BYDAY=MO"]))
	assert st == 400 and "fake" in e["error"]["message"], "unsupported rules are refused clearly"

with t.case("freeBusy: transparent and cancelled events excluded; unknown calendar → per-calendar errors, HTTP 200"):
	g.create_event(acct2, acct2, ev_body("2030-06-01T09:00:00+02:00", transparency="transparent"))
	x = g.create_event(acct2, acct2, ev_body("2030-06-01T11:00:00+02:00"))
	g.delete_event(acct2, acct2, x["id"])
	g.create_event(acct2, acct2, ev_body("2030-06-01T13:00:00+02:00", minutes=60))
	st, _, j = api("POST", "/freeBusy", AT2, {"timeMin": "2030-06-01T00:00:00Z", "timeMax": "2030-06-02T00:00:00Z",
						  "items": [{"id": "primary"}, {"id": "nobody@example.com"}]})
	assert st == 200 and j["calendars"]["primary"]["busy"] == [{"start": "2030-06-01T11:00:00Z", "end": "2030-06-01T12:00:00Z"}], j
	assert j["calendars"]["nobody@example.com"]["errors"][0]["reason"] == "notFound"


# ---------------------------------------------------------------- push
class Receiver:
	def __init__(self):
		self.got, self.codes = [], []
		rec = self

		class H(BaseHTTPRequestHandler):
			def log_message(self, *a):
				pass

			def do_POST(self):
				n = int(self.headers.get("Content-Length") or 0)
				body = self.rfile.read(n)
				code = rec.codes.pop(0) if rec.codes else 200
				rec.got.append((self.headers, body, code))
				self.send_response(code)
				self.send_header("Content-Length", "0")
				self.end_headers()
		self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
		threading.Thread(target=self.srv.serve_forever, daemon=True).start()
		self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/webhooks/calendar/google"

	def wait(self, n, timeout=5.0):
		end = time.time() + timeout
		while len(self.got) < n and time.time() < end:
			time.sleep(0.02)
		return len(self.got) >= n


rcv = Receiver()
g.push_retry_base = 0.05

with t.case("events.watch: resourceId + expiration (ms string), then a sync notification (number 1, empty body)"):
	st, _, ch = api("POST", "/calendars/primary/events/watch", AT2,
			{"id": "chan-1", "type": "web_hook", "address": rcv.url, "token": "tok-1"})
	assert st == 200 and ch["kind"] == "api#channel" and ch["resourceId"] and isinstance(ch["expiration"], str), ch
	assert int(ch["expiration"]) > time.time() * 1000 + 6 * 86400 * 1000
	assert rcv.wait(1)
	h, body, _ = rcv.got[0]
	assert body == b"" and h["X-Goog-Resource-State"] == "sync" and h["X-Goog-Message-Number"] == "1", h
	assert h["X-Goog-Channel-ID"] == "chan-1" and h["X-Goog-Channel-Token"] == "tok-1"
	assert h["X-Goog-Resource-ID"] == ch["resourceId"] and h["X-Goog-Channel-Expiration"].endswith("GMT")
	assert h["Content-Length"] == "0" and h["User-Agent"].startswith("APIs-Google")
	st, _, e = api("POST", "/calendars/primary/events/watch", AT2, {"id": "chan-1", "type": "web_hook", "address": rcv.url})
	assert st == 400, "channel ids are unique"
	CH = ch

with t.case("changes → exists notifications with increasing, non-consecutive message numbers"):
	api("POST", "/calendars/primary/events", AT2, ev_body("2030-07-01T09:00:00+02:00"))
	g.create_event(acct2, acct2, ev_body("2030-07-02T09:00:00+02:00"))
	assert rcv.wait(3)
	nums = sorted(int(h["X-Goog-Message-Number"]) for h, _, _ in rcv.got[1:3])
	assert all(h["X-Goog-Resource-State"] == "exists" for h, _, _ in rcv.got[1:3])
	assert 1 < nums[0] < nums[1] and nums[0] - 1 > 1 and nums[1] - nums[0] > 1, nums

with t.case("channels.stop with a wrong resourceId → 404; right → 204; a stopped channel is silent"):
	st, _, e = api("POST", "/channels/stop", AT2, {"id": "chan-1", "resourceId": "wrong"})
	assert st == 404 and reason(e) == "notFound", (st, e)
	st, _, _ = api("POST", "/channels/stop", AT2, {"id": "chan-1", "resourceId": CH["resourceId"]})
	assert st == 204, st
	n = len(rcv.got)
	g.create_event(acct2, acct2, ev_body("2030-07-03T09:00:00+02:00"))
	time.sleep(0.3)
	assert len(rcv.got) == n, "no notification after stop"
	st, _, _ = api("POST", "/channels/stop", AT2, {"id": "chan-1", "resourceId": CH["resourceId"]})
	assert st == 404

with t.case("channel expiry: no notifications after expiration"):
	api("POST", "/calendars/primary/events/watch", AT2, {"id": "chan-2", "type": "web_hook", "address": rcv.url})
	assert rcv.wait(len(rcv.got) + 1) or True
	time.sleep(0.2)
	n = len(rcv.got)
	g.expire_channels("chan-2")
	g.create_event(acct2, acct2, ev_body("2030-07-04T09:00:00+02:00"))
	time.sleep(0.3)
	assert len(rcv.got) == n, "expired channel is silent"

with t.case("receiver 503 → retried with backoff; receiver 404 → dropped"):
	rcv.got.clear()
	rcv.codes = [503, 502]
	api("POST", "/calendars/primary/events/watch", AT2, {"id": "chan-3", "type": "web_hook", "address": rcv.url})
	assert rcv.wait(3), len(rcv.got)
	assert [c for _, _, c in rcv.got[:3]] == [503, 502, 200] and all(h["X-Goog-Message-Number"] == "1" for h, _, _ in rcv.got[:3])
	att = [d for d in g.delivery_log() if d["channel"] == "chan-3"]
	assert [d["attempt"] for d in att] == [1, 2, 3] and att[2]["time"] - att[1]["time"] >= 0.09, att
	rcv.got.clear()
	rcv.codes = [404]
	g.create_event(acct2, acct2, ev_body("2030-07-05T09:00:00+02:00"))
	time.sleep(0.5)
	assert len(rcv.got) == 1 and rcv.got[0][2] == 404, rcv.got

# ---------------------------------------------------------------- rate limits, latency, log, control
with t.case("rate-limit knobs: 429 with Retry-After; 403 rateLimitExceeded/userRateLimitExceeded/quotaExceeded; 500 backendError"):
	g.retry_after = 3
	g.fail("rateLimit429", count=1)
	st, hd, e = api("GET", "/users/me/calendarList", AT2)
	assert st == 429 and hd["Retry-After"] == "3" and reason(e) == "rateLimitExceeded", (st, e)
	for kind, code in (("rateLimitExceeded", 403), ("userRateLimitExceeded", 403), ("quotaExceeded", 403),
			   ("backendError", 500)):
		g.fail(kind, count=1)
		st, _, e = api("GET", "/users/me/calendarList", AT2)
		assert st == code and reason(e) == kind, (kind, st, e)
		assert e["error"]["errors"][0]["domain"] == ("global" if kind == "backendError" else "usageLimits")
	st, _, _ = api("GET", "/users/me/calendarList", AT2)
	assert st == 200, "count consumed"
	g.fail("backendError", fraction=1.0, path_prefix="/calendar/v3/freeBusy")
	st1 = api("GET", "/users/me/calendarList", AT2)[0]
	st2 = api("POST", "/freeBusy", AT2, {"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": []})[0]
	g.clear_failures()
	assert (st1, st2) == (200, 500), (st1, st2)
	g.fail("serviceUnavailable", count=1, path_prefix="/token")
	st, hd, _ = http("POST", B + "/token", form={"grant_type": "refresh_token"})
	assert st == 503 and hd["Retry-After"] == "3", "failures on the token endpoint too"

with t.case("latency knob delays each request"):
	g.latency_ms = 150
	t0 = time.monotonic()
	api("GET", "/users/me/calendarList", AT2)
	dt = time.monotonic() - t0
	g.latency_ms = 0
	assert dt >= 0.15, dt

with t.case("request log: method, path, query, JSON body; Authorization cut to 8 characters; form secrets cut"):
	g.clear_requests()
	api("POST", "/calendars/primary/events", AT2, ev_body("2030-08-01T09:00:00+02:00", summary="Log"), {"sendUpdates": "none"})
	exchange("4/0Anonsense")
	r = g.request_log()
	assert r[0]["method"] == "POST" and r[0]["path"] == "/calendar/v3/calendars/primary/events", r[0]
	assert r[0]["query"] == {"sendUpdates": ["none"]} and r[0]["body"]["summary"] == "Log" and r[0]["status"] == 200
	assert r[0]["headers"]["Authorization"] == "Bearer y…", r[0]["headers"]["Authorization"]
	assert r[1]["body"]["client_secret"] == [g.client_secret[:8] + "…"], r[1]["body"]

with t.case("control over HTTP: knobs, events, requests"):
	st, _, raw = http("POST", B + "/_fake/knobs", body={"latency_ms": 0, "meet_mode": "success"})
	assert st == 200 and js(raw)["meet_mode"] == "success"
	st, _, raw = http("POST", B + "/_fake/knobs", body={"nope": 1})
	assert st == 400
	st, _, raw = http("POST", B + "/_fake/events", body={"account": acct2, "event": ev_body("2030-09-01T09:00:00+02:00", id="ctl00001")})
	assert st == 200 and js(raw)["id"] == "ctl00001"
	st, _, raw = http("GET", B + "/_fake/requests?path=/calendar/v3/")
	assert st == 200 and js(raw)["requests"] and all(x["path"].startswith("/calendar/v3/") for x in js(raw)["requests"])
	st, _, raw = http("POST", B + "/_fake/tokens", body={"email": acct2})
	assert st == 200 and api("GET", "/calendars/primary/events/ctl00001", js(raw)["access_token"])[0] == 200

with t.case("CLI: --port 0 prints the base URL; the fake answers"):
	p = subprocess.Popen([sys.executable, os.path.join(SRCDIR, "tests", "fakes", "google.py"), "--port", "0",
			      "--latency-ms", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
	try:
		url = p.stdout.readline().strip()
		assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
		st, _, raw = http("GET", url + "/calendar/v3/users/me/calendarList")
		assert st == 401 and js(raw)["error"]["errors"][0]["reason"] == "required"
	finally:
		p.terminate()
		p.wait(timeout=10)

g.stop()
t.done()
