"""test_fake_microsoft.py: the fake Microsoft (tests/fakes/microsoft.py) is strict: every Microsoft behaviour of providers.md §6.

urllib only; a small local HTTP receiver plays the app's webhook (validation handshake, notifications,
lifecycle events). TAP through tests/lib/tap.py.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakes"))

from tap import Tap  # noqa: E402
from microsoft import FakeMicrosoft, PERSONAL_TID  # noqa: E402
from common import fetch as http, js  # noqa: E402

t = Tap()
REDIR = "http://127.0.0.1:8080/api/doctor/calendar-integrations/callback/outlook"
SCOPE = "openid offline_access User.Read Calendars.ReadWrite"
PROP = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name appointmentId"
UTC = timezone.utc


def b64url(raw):
	return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def wait_for(cond, timeout=10.0):
	end = time.time() + timeout
	while time.time() < end:
		v = cond()
		if v:
			return v
		time.sleep(0.05)
	return cond()


# ---------------------------------------------------------------- the receiver (the app's webhook)
class Receiver:
	"""Records POSTs; validation answers per .validation ("echo", "wrong", "html", "slow"); other POSTs
	get the next status of .statuses (default 202); .hang makes the next notification time out."""

	def __init__(self):
		self.lock = threading.Lock()
		self.hits = []
		self.validation = "echo"
		self.statuses = []
		rcv = self

		class H(BaseHTTPRequestHandler):
			protocol_version = "HTTP/1.1"

			def log_message(self, *a):
				pass

			def do_POST(self):
				n = int(self.headers.get("Content-Length") or 0)
				raw = self.rfile.read(n) if n else b""
				u = urllib.parse.urlsplit(self.path)
				q = urllib.parse.parse_qs(u.query)
				with rcv.lock:
					rcv.hits.append({"path": u.path, "query": q, "headers": dict(self.headers), "body": raw,
							 "time": time.time()})
					mode = rcv.validation
					st = rcv.statuses.pop(0) if rcv.statuses and "validationToken" not in q else 202
				if "validationToken" in q:
					tok = q["validationToken"][0]
					if mode == "slow":
						time.sleep(1.5)
					body, ctype = {"echo": (tok, "text/plain"), "slow": (tok, "text/plain"),
						       "wrong": (tok + "x", "text/plain"), "html": (tok, "text/html")}[mode]
					return self._send(200, body.encode(), ctype)
				if st == "hang":
					time.sleep(1.5)
					st = 202
				self._send(st, b"", None)

			def _send(self, st, body, ctype):
				self.send_response(st)
				if ctype:
					self.send_header("Content-Type", ctype)
				self.send_header("Content-Length", str(len(body)))
				self.end_headers()
				try:
					self.wfile.write(body)
				except OSError:     # the fake gave up waiting (timeout cases)
					pass

		self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
		self.server.daemon_threads = True
		self.server.handle_error = lambda *a: None
		self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
		threading.Thread(target=self.server.serve_forever, daemon=True).start()

	def posts(self, path, validation=False):
		with self.lock:
			return [h for h in self.hits if h["path"] == path and (("validationToken" in h["query"]) == validation)]

	def clear(self):
		with self.lock:
			self.hits = []


m = FakeMicrosoft(redirect_uris=[REDIR]).start()
B = m.base_url
ME = "ana@contoso.com"
rcv = Receiver()
HOOK, LIFE = rcv.url + "/webhooks/calendar/outlook", rcv.url + "/webhooks/calendar/outlook/lifecycle"


def auth_url(tenant="common", verifier="v" * 43, scope=SCOPE, state="st-1", redirect=REDIR, client=None, **extra):
	p = {"client_id": client or m.client_id, "redirect_uri": redirect, "response_type": "code", "scope": scope,
	     "state": state, "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
	     "code_challenge_method": "S256", "response_mode": "query"}
	p.update(extra)
	return f"{B}/{tenant}/oauth2/v2.0/authorize?" + urllib.parse.urlencode(p)


def get_code(tenant="common", **kw):
	m.consent = "approve"
	st, hd, raw = http("GET", auth_url(tenant, **kw))
	assert st == 302, (st, raw[:300])
	q = urllib.parse.parse_qs(urllib.parse.urlsplit(hd["Location"]).query)
	return q["code"][0], q


def exchange(code, tenant="common", verifier="v" * 43, secret=None, redirect=REDIR, basic=False):
	form = {"code": code, "client_id": m.client_id, "redirect_uri": redirect, "grant_type": "authorization_code",
		"code_verifier": verifier, "scope": "offline_access User.Read Calendars.ReadWrite"}
	h = {}
	if basic:
		h["Authorization"] = "Basic " + base64.b64encode(f"{m.client_id}:{secret or m.client_secret}".encode()).decode()
	else:
		form["client_secret"] = secret or m.client_secret
	st, _, raw = http("POST", f"{B}/{tenant}/oauth2/v2.0/token", form=form, headers=h)
	return st, js(raw)


def refresh(rt, tenant="common"):
	st, _, raw = http("POST", f"{B}/{tenant}/oauth2/v2.0/token", form={
		"client_id": m.client_id, "client_secret": m.client_secret, "grant_type": "refresh_token",
		"refresh_token": rt, "scope": "offline_access Calendars.ReadWrite User.Read"})
	return st, js(raw)


def tokens(tenant="common", scope=SCOPE):
	v = "w" * 50
	code, _ = get_code(tenant, verifier=v, scope=scope)
	st, j = exchange(code, tenant, verifier=v)
	assert st == 200, (st, j)
	return j


def aad_shape(j, error, code):
	assert j["error"] == error, j
	assert j["error_description"].startswith(f"AADSTS{code}: "), j["error_description"]
	assert j["error_codes"] == [code], j
	for k in ("timestamp", "trace_id", "correlation_id"):
		assert j.get(k), (k, j)


def api(method, path, tok, body=None, headers=None):
	h = {"Authorization": "Bearer " + tok} if tok else {}
	h.update(headers or {})
	st, hd, raw = http(method, B + "/v1.0" + path, body=body, headers=h)
	return st, hd, js(raw)


def code_of(j):
	try:
		return j["error"]["code"]
	except (TypeError, KeyError):
		return None


def q(s):
	return urllib.parse.quote(s, safe="")


def ev_body(start="2030-03-10T10:00:00", end="2030-03-10T10:30:00", tz="Europe/Berlin", **kw):
	b = {"subject": "Termin", "start": {"dateTime": start, "timeZone": tz}, "end": {"dateTime": end, "timeZone": tz}}
	b.update(kw)
	return b


def iso(dt):
	return dt.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


# ---------------------------------------------------------------- identity platform
with t.case("env(): MICROSOFT_AUTHORITY = {base}/common, MICROSOFT_GRAPH_BASE = {base}/v1.0"):
	assert m.env() == {"MICROSOFT_AUTHORITY": B + "/common", "MICROSOFT_GRAPH_BASE": B + "/v1.0"}, m.env()

with t.case("consent page: German, Zulassen/Ablehnen; Zulassen redirects with code + state"):
	m.consent = "page"
	st, hd, raw = http("GET", auth_url(state="abc"))
	page = raw.decode()
	assert st == 200 and "text/html" in hd["Content-Type"], st
	assert ">Zulassen</button>" in page and ">Ablehnen</button>" in page and 'lang="de"' in page, page
	import re
	txn = re.search(r'name="txn" value="([^"]+)"', page).group(1)
	action = re.search(r'action="([^"]+)"', page).group(1)
	st, hd, _ = http("POST", B + action, form={"txn": txn, "accept": "true"})
	assert st == 302, st
	loc = hd["Location"]
	qs = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
	assert loc.startswith(REDIR + "?") and qs["state"] == ["abc"] and qs["code"][0], loc
	st, _, _ = http("POST", B + action, form={"txn": txn, "accept": "true"})
	assert st == 400, "a consent transaction is single use"

with t.case("Ablehnen → error=access_denied with AADSTS65004 and the state"):
	m.consent = "page"
	st, hd, raw = http("GET", auth_url(state="den"))
	txn = re.search(r'name="txn" value="([^"]+)"', raw.decode()).group(1)
	st, hd, _ = http("POST", B + "/common/oauth2/v2.0/consent", form={"txn": txn, "accept": "false"})
	qs = urllib.parse.parse_qs(urllib.parse.urlsplit(hd["Location"]).query)
	assert st == 302 and qs["error"] == ["access_denied"] and qs["state"] == ["den"], hd["Location"]
	assert qs["error_description"][0].startswith("AADSTS65004:"), qs
	m.consent = "deny"
	st, hd, _ = http("GET", auth_url(state="d2"))
	assert st == 302 and "error=access_denied" in hd["Location"], hd["Location"]

with t.case("tenants: common, organizations, a tenant GUID (work) and consumers (personal) all issue tokens"):
	for ten in ("common", "organizations", "84bd8158-6d4d-4958-8b9f-9d6445542f95", "contoso.onmicrosoft.com"):
		j = tokens(ten)
		assert j["access_token"] and j["refresh_token"], ten
	m.add_account("max@outlook.de", "Max Muster", kind="personal", mail=False)
	m.account_email = "max@outlook.de"
	j = tokens("consumers")
	claims = json.loads(base64.urlsafe_b64decode(j["id_token"].split(".")[1] + "=="))
	assert claims["tid"] == PERSONAL_TID, claims
	st, hd, raw = http("GET", auth_url("organizations"))
	assert st == 400 and b"AADSTS50020" in raw, (st, raw[:200])
	m.account_email = ME
	st, hd, raw = http("GET", auth_url("consumers"))
	assert st == 400 and b"AADSTS50020" in raw, "a work account cannot sign in on /consumers"
	st, _, raw = http("GET", auth_url("no_such_tenant!"))
	assert st == 400 and b"AADSTS90002" in raw, raw[:200]

with t.case("wrong audience: single-tenant app on /common → AADSTS50194, org-only app on /consumers → AADSTS9002332"):
	m.consent = "approve"
	m.sign_in_audience = "AzureADMyOrg"
	st, hd, raw = http("GET", auth_url("common"))
	assert st == 400 and b"AADSTS50194" in raw and "Location" not in hd, (st, raw[:200])
	st, _, raw = http("GET", auth_url("84bd8158-6d4d-4958-8b9f-9d6445542f95"))
	assert st == 302, "a single-tenant app works on its tenant"
	st, j = exchange("x", "common")
	aad_shape(j, "invalid_request", 50194)
	m.sign_in_audience = "AzureADMultipleOrgs"
	st, _, raw = http("GET", auth_url("consumers"))
	assert st == 400 and b"AADSTS9002332" in raw, (st, raw[:200])
	m.sign_in_audience = "AzureADandPersonalMicrosoftAccount"

with t.case("unknown client → AADSTS700016 page, unregistered redirect_uri → AADSTS50011 page, never a redirect"):
	st, hd, raw = http("GET", auth_url(client="00000000-0000-0000-0000-000000000000"))
	assert st == 400 and b"AADSTS700016" in raw and "Location" not in hd, st
	st, hd, raw = http("GET", auth_url(redirect="https://evil.example/cb"))
	assert st == 400 and b"AADSTS50011" in raw and "Location" not in hd, st

with t.case("PKCE: a wrong code_verifier → invalid_grant AADSTS501481 in the exact body shape"):
	code, _ = get_code(verifier="a" * 43)
	st, j = exchange(code, verifier="b" * 43)
	assert st == 400, st
	aad_shape(j, "invalid_grant", 501481)
	assert "Trace ID:" in j["error_description"] and "Correlation ID:" in j["error_description"], j

with t.case("codes are single use: the second redemption → AADSTS54005"):
	code, _ = get_code()
	st, j = exchange(code)
	assert st == 200 and j["token_type"] == "Bearer" and j["expires_in"] > 0 and "ext_expires_in" in j, j
	st, j = exchange(code)
	assert st == 400, st
	aad_shape(j, "invalid_grant", 54005)

with t.case("client auth: secret in the body or HTTP Basic; a wrong secret → 401 invalid_client AADSTS7000215"):
	code, _ = get_code()
	st, j = exchange(code, basic=True)
	assert st == 200, (st, j)
	code, _ = get_code()
	st, j = exchange(code, secret="nope")
	assert st == 401, st
	aad_shape(j, "invalid_client", 7000215)

with t.case("no refresh token without offline_access; id_token only with openid; scope lists the Graph scopes"):
	j = tokens(scope="User.Read Calendars.ReadWrite")
	assert "refresh_token" not in j and "id_token" not in j, j
	assert set(j["scope"].split()) == {"User.Read", "Calendars.ReadWrite"}, j["scope"]
	j = tokens(scope="openid offline_access https://graph.microsoft.com/Calendars.ReadWrite")
	assert j.get("refresh_token") and j.get("id_token"), j

with t.case("rotation: every refresh answers a NEW refresh token; the old one → AADSTS70008 (grace 0)"):
	j = tokens()
	st, j2 = refresh(j["refresh_token"])
	assert st == 200 and j2["refresh_token"] and j2["refresh_token"] != j["refresh_token"], j2
	assert j2["access_token"] != j["access_token"], "a new access token"
	st, j3 = refresh(j2["refresh_token"])
	assert st == 200 and j3["refresh_token"] not in (j["refresh_token"], j2["refresh_token"]), j3
	st, jo = refresh(j["refresh_token"])
	assert st == 400, st
	aad_shape(jo, "invalid_grant", 70008)

with t.case("rotation grace knob: the old refresh token keeps working for refresh_grace seconds, then not"):
	m.refresh_grace = 1
	j = tokens()
	st, j2 = refresh(j["refresh_token"])
	st, j3 = refresh(j["refresh_token"])
	assert st == 200 and j3["refresh_token"] != j2["refresh_token"], (st, j3)
	time.sleep(1.2)
	st, jo = refresh(j["refresh_token"])
	assert st == 400 and jo["error_codes"] == [70008], jo
	m.refresh_grace = 0

with t.case("refresh: a scope subset still answers every consented scope; a scope beyond the consent → AADSTS65001"):
	j = tokens()
	st, j2 = refresh(j["refresh_token"])
	assert st == 200 and set(j2["scope"].split()) >= {"User.Read", "Calendars.ReadWrite"}, j2
	st, _, raw = http("POST", f"{B}/common/oauth2/v2.0/token", form={
		"client_id": m.client_id, "client_secret": m.client_secret, "grant_type": "refresh_token",
		"refresh_token": j2["refresh_token"], "scope": "offline_access MailboxSettings.Read"})
	assert st == 400, st
	aad_shape(js(raw), "invalid_grant", 65001)

with t.case("token endpoint throttling: 429 AADSTS50196 and 503 AADSTS90033 (temporarily_unavailable) with Retry-After"):
	m.fail("TooManyRequests", count=1, path_prefix="/common/oauth2/v2.0/token")
	code, _ = get_code()
	st, _, raw = http("POST", f"{B}/common/oauth2/v2.0/token", form={"code": code, "client_id": m.client_id})
	assert st == 429, st
	aad_shape(js(raw), "temporarily_unavailable", 50196)
	m.fail("serviceNotAvailable", count=1, path_prefix="/common/oauth2/v2.0/token")
	st, hd, raw = http("POST", f"{B}/common/oauth2/v2.0/token", form={"code": code, "client_id": m.client_id})
	assert st == 503 and hd["Retry-After"] == "2.128", st
	aad_shape(js(raw), "temporarily_unavailable", 90033)
	st, j = exchange(code)
	assert st == 200, "the code survives a throttled attempt that never reached the grant check"

for code, err in ((70008, "invalid_grant"), (700082, "invalid_grant"), (50173, "invalid_grant"), (50076, "interaction_required")):
	with t.case(f"refresh failure AADSTS{code} → 400 {err} with the exact body shape"):
		j = tokens()
		m.refresh_error(code, ME)
		st, je = refresh(j["refresh_token"])
		assert st == 400, st
		aad_shape(je, err, code)
		assert je["error_uri"].endswith(f"code={code}"), je

with t.case("Graph: expired access token → 401 InvalidAuthenticationToken with WWW-Authenticate: Bearer; none → 401"):
	j = tokens()
	st, hd, body = api("GET", "/me", j["access_token"])
	assert st == 200, st
	m.expire_access_tokens()
	st, hd, body = api("GET", "/me", j["access_token"])
	assert st == 401 and code_of(body) == "InvalidAuthenticationToken", (st, body)
	assert hd["WWW-Authenticate"].startswith("Bearer "), hd
	assert body["error"]["innerError"]["request-id"] and body["error"]["innerError"]["date"], body
	st, hd, body = api("GET", "/me", None)
	assert st == 401 and code_of(body) == "InvalidAuthenticationToken" and "WWW-Authenticate" in hd, st

TOK = tokens()["access_token"]

with t.case("/me: mail for a work account; mail null + userPrincipalName for a personal one"):
	st, _, me = api("GET", "/me", TOK)
	assert st == 200 and me["mail"] == ME and me["userPrincipalName"] == ME and me["id"], me
	ptok = m.issue_tokens("max@outlook.de")["access_token"]
	st, _, me = api("GET", "/me", ptok)
	assert st == 200 and me["mail"] is None and me["userPrincipalName"] == "max@outlook.de", me

with t.case("/me/calendars: default calendar, canEdit, allowedOnlineMeetingProviders; a missing scope → 403"):
	st, _, j = api("GET", "/me/calendars", TOK)
	cals = j["value"]
	default = [c for c in cals if c["isDefaultCalendar"]]
	assert st == 200 and len(default) == 1 and all(c["canEdit"] for c in cals), cals
	assert default[0]["allowedOnlineMeetingProviders"] == ["teamsForBusiness"], default
	CAL = default[0]["id"]
	PRAXIS = [c for c in cals if c["name"] == "Praxis"][0]["id"]
	st, _, one = api("GET", "/me/calendar", TOK)
	assert st == 200 and one["id"] == CAL, one
	ro = m.issue_tokens(ME, "User.Read")["access_token"]
	st, _, j = api("GET", "/me/calendars", ro)
	assert st == 403 and code_of(j) == "ErrorAccessDenied", (st, j)
	co = m.issue_tokens(ME, "Calendars.ReadWrite")["access_token"]
	st, _, j = api("GET", "/me", co)
	assert st == 403 and code_of(j) == "ErrorAccessDenied", "/me needs User.Read"

with t.case("POST /me/calendars/{id}/events → 201 with @odata.etag, changeKey, iCalUId, type singleInstance, no extended properties"):
	body = ev_body(transactionId="tx-A-1", singleValueExtendedProperties=[{"id": PROP, "value": "A-1"}])
	st, _, ev = api("POST", f"/me/calendars/{q(CAL)}/events", TOK, body)
	assert st == 201, (st, ev)
	assert ev["@odata.etag"] == f'W/"{ev["changeKey"]}"' and ev["iCalUId"] and ev["type"] == "singleInstance", ev
	assert ev["transactionId"] == "tx-A-1" and "singleValueExtendedProperties" not in ev, ev
	EV1 = ev["id"]

with t.case("a repeated transactionId does not create a second event (same id back)"):
	st, _, ev = api("POST", f"/me/calendars/{q(CAL)}/events", TOK, body)
	assert st == 201 and ev["id"] == EV1, (st, ev)
	assert len([e for e in m.events(ME) if e.get("transactionId") == "tx-A-1"]) == 1

with t.case("singleValueExtendedProperties: returned with $expand, filterable with $filter=...Any(...)"):
	exp = f"singleValueExtendedProperties($filter=id eq '{PROP}')"
	st, _, ev = api("GET", f"/me/events/{q(EV1)}?$expand=" + q(exp), TOK)
	assert st == 200 and ev["singleValueExtendedProperties"] == [{"id": PROP, "value": "A-1"}], ev
	flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value eq 'A-1')"
	st, _, j = api("GET", "/me/events?$filter=" + q(flt) + "&$expand=" + q(exp), TOK)
	assert st == 200 and [e["id"] for e in j["value"]] == [EV1], j
	flt2 = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value eq 'A-2')"
	st, _, j = api("GET", "/me/events?$filter=" + q(flt2), TOK)
	assert st == 200 and j["value"] == [], j

with t.case("Teams: isOnlineMeeting + teamsForBusiness → onlineMeeting.joinUrl on a work account"):
	st, _, ev = api("POST", "/me/events", TOK, ev_body(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness"))
	assert st == 201 and ev["isOnlineMeeting"] and ev["onlineMeeting"]["joinUrl"].startswith("https://teams.microsoft.com/l/meetup-join/"), ev

with t.case("Teams on a personal account: ignored (knob ignore) or 400 (knob fail)"):
	st, _, ev = api("POST", "/me/events", ptok, ev_body(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness"))
	assert st == 201 and ev["isOnlineMeeting"] is False and ev["onlineMeeting"] is None, ev
	m.personal_teams = "fail"
	st, _, j = api("POST", "/me/events", ptok, ev_body(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness"))
	assert st == 400 and code_of(j), (st, j)
	m.personal_teams = "ignore"

with t.case("Prefer: outlook.timezone converts start/end; default UTC; dateTime with 7 fractional digits"):
	st, _, ev = api("GET", f"/me/events/{q(EV1)}", TOK)
	assert ev["start"] == {"dateTime": "2030-03-10T09:00:00.0000000", "timeZone": "UTC"}, ev["start"]
	st, hd, ev = api("GET", f"/me/events/{q(EV1)}", TOK, headers={"Prefer": 'outlook.timezone="Europe/Berlin"'})
	assert ev["start"] == {"dateTime": "2030-03-10T10:00:00.0000000", "timeZone": "Europe/Berlin"}, ev["start"]
	st, hd, ev = api("GET", f"/me/events/{q(EV1)}", TOK, headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'})
	assert ev["start"]["dateTime"] == "2030-03-10T01:00:00.0000000", ev["start"]

with t.case("PATCH → 200 with a new changeKey; DELETE → 204; repeat DELETE/GET/PATCH → 404 ErrorItemNotFound"):
	st, _, old = api("GET", f"/me/events/{q(EV1)}", TOK)
	st, _, ev = api("PATCH", f"/me/events/{q(EV1)}", TOK, {"subject": "Neu", "showAs": "oof"})
	assert st == 200 and ev["subject"] == "Neu" and ev["showAs"] == "oof" and ev["changeKey"] != old["changeKey"], ev
	assert ev["start"] == old["start"], "a PATCH keeps what it does not name"
	st, _, _ = api("DELETE", f"/me/events/{q(EV1)}", TOK)
	assert st == 204, st
	for meth in ("DELETE", "GET", "PATCH"):
		st, _, j = api(meth, f"/me/events/{q(EV1)}", TOK, {"subject": "x"} if meth == "PATCH" else None)
		assert st == 404 and code_of(j) == "ErrorItemNotFound", (meth, st, j)

with t.case("all-day events: start/end at midnight (400 otherwise), rendered as whole days; calendarView lists the window"):
	st, _, j = api("POST", f"/me/calendars/{q(PRAXIS)}/events", TOK, ev_body("2030-04-01T10:00:00", "2030-04-02T00:00:00", isAllDay=True))
	assert st == 400 and code_of(j) == "ErrorPropertyValidationFailure", (st, j)
	st, _, ev = api("POST", f"/me/calendars/{q(PRAXIS)}/events", TOK, ev_body("2030-04-01T00:00:00", "2030-04-03T00:00:00", isAllDay=True))
	assert st == 201 and ev["isAllDay"] and ev["start"]["dateTime"] == "2030-04-01T00:00:00.0000000", ev
	assert ev["end"]["dateTime"] == "2030-04-03T00:00:00.0000000", ev
	st, _, j = api("GET", f"/me/calendars/{q(PRAXIS)}/calendarView?startDateTime=2030-04-02T00:00:00Z&endDateTime=2030-04-02T12:00:00Z", TOK)
	assert st == 200 and [e["id"] for e in j["value"]] == [ev["id"]], j
	st, _, j = api("GET", f"/me/calendars/{q(PRAXIS)}/calendarView?startDateTime=2030-04-04T00:00:00Z&endDateTime=2030-04-05T00:00:00Z", TOK)
	assert st == 200 and j["value"] == [], j
	api("DELETE", f"/me/events/{q(ev['id'])}", TOK)

with t.case("Graph answers carry request-id and echo client-request-id; end before start → 400"):
	st, hd, j = api("GET", "/me", TOK, headers={"client-request-id": "c0ffee00-1111-2222-3333-444455556666"})
	assert st == 200 and hd["client-request-id"] == "c0ffee00-1111-2222-3333-444455556666" and hd["request-id"], dict(hd)
	st, _, j = api("POST", "/me/events", TOK, ev_body("2030-03-10T11:00:00", "2030-03-10T10:00:00"))
	assert st == 400 and code_of(j), (st, j)

# ---------------------------------------------------------------- delta
W0, W1 = "2031-01-01T00:00:00Z", "2031-02-01T00:00:00Z"
DELTA = f"/me/calendars/{q(PRAXIS)}/calendarView/delta"
PREF = {"Prefer": 'odata.maxpagesize=2, outlook.timezone="UTC"'}


def delta_all(url):
	"""Follow nextLinks to the deltaLink: (items, pages, deltaLink)."""
	items, pages = [], 0
	while True:
		st, hd, raw = http("GET", url, headers={"Authorization": "Bearer " + TOK, **PREF})
		assert st == 200, (st, raw[:300])
		j = js(raw)
		pages += 1
		assert len(j["value"]) <= 2, "odata.maxpagesize honoured"
		items += j["value"]
		if "@odata.nextLink" in j:
			assert "@odata.deltaLink" not in j
			url = j["@odata.nextLink"]
			continue
		return items, pages, j["@odata.deltaLink"]


with t.case("calendarView/delta: nextLink pages honouring odata.maxpagesize, the deltaLink on the last page only"):
	ids = []
	for d in range(5):
		ids.append(m.create_event(ME, ev_body(f"2031-01-{10 + d}T10:00:00", f"2031-01-{10 + d}T11:00:00"), PRAXIS)["id"])
	m.create_event(ME, ev_body("2031-05-01T10:00:00", "2031-05-01T11:00:00"), PRAXIS)   # outside the window
	items, pages, DL = delta_all(B + "/v1.0" + DELTA + "?startDateTime=" + W0 + "&endDateTime=" + W1)
	assert pages == 3 and sorted(i["id"] for i in items) == sorted(ids), (pages, items)
	assert "$deltatoken=" in DL and all(i["start"]["dateTime"].endswith(".0000000") for i in items), DL

with t.case("delta round: a deletion and a move out of the window as @removed, a change and a new event in full"):
	m.delete_event(ME, ids[0])
	m.patch_event(ME, ids[1], {"start": {"dateTime": "2031-06-01T10:00:00", "timeZone": "UTC"},
				   "end": {"dateTime": "2031-06-01T11:00:00", "timeZone": "UTC"}})
	m.patch_event(ME, ids[2], {"subject": "geändert"})
	new = m.create_event(ME, ev_body("2031-01-20T10:00:00", "2031-01-20T11:00:00"), PRAXIS)["id"]
	out = m.create_event(ME, ev_body("2031-07-20T10:00:00", "2031-07-20T11:00:00"), PRAXIS)["id"]
	items, pages, DL2 = delta_all(DL)
	removed = {i["id"] for i in items if "@removed" in i}
	full = {i["id"]: i for i in items if "@removed" not in i}
	assert removed == {ids[0], ids[1], out}, (removed, items)
	assert set(full) == {ids[2], new} and full[ids[2]]["subject"] == "geändert", full
	assert all(i["@removed"] == {"reason": "deleted"} for i in items if "@removed" in i)
	items, _, DL3 = delta_all(DL2)
	assert items == [], "nothing changed → an empty round"

with t.case("delta_replay knob: the last round's items come again (replays allowed)"):
	m.delta_replay = True
	m.patch_event(ME, ids[3], {"subject": "r1"})
	items, _, d4 = delta_all(DL3)
	m.patch_event(ME, ids[4], {"subject": "r2"})
	items, _, d5 = delta_all(d4)
	assert {i["id"] for i in items} == {ids[3], ids[4]}, items
	m.delta_replay = False

with t.case("delta rejects $select (not supported on calendarView delta) and needs the window"):
	st, _, j = api("GET", DELTA + "?startDateTime=" + W0 + "&endDateTime=" + W1 + "&$select=subject", TOK)
	assert st == 400, (st, j)
	st, _, j = api("GET", DELTA, TOK)
	assert st == 400 and code_of(j) == "ErrorInvalidParameter", (st, j)

with t.case("delta token expiry: knob 410 → 410 with Location = the initial request; knob syncStateNotFound → 4xx"):
	m.expire_delta_tokens()
	st, hd, raw = http("GET", DL3, headers={"Authorization": "Bearer " + TOK})
	assert st == 410 and hd["Location"].startswith(B + "/v1.0" + DELTA + "?startDateTime="), (st, dict(hd))
	items, _, dl = delta_all(hd["Location"])
	assert sorted(i["id"] for i in items) == sorted([ids[2], ids[3], ids[4], new]), items
	m.delta_expiry = "syncStateNotFound"
	m.expire_delta_tokens()
	st, hd, raw = http("GET", dl, headers={"Authorization": "Bearer " + TOK})
	assert 400 <= st < 500 and code_of(js(raw)) == "syncStateNotFound", (st, raw)
	m.delta_expiry = "410"

with t.case("getSchedule: availabilityView digits and scheduleItems for work accounts; an error for personal ones"):
	m.create_event(ME, ev_body("2032-01-05T09:00:00", "2032-01-05T10:00:00", "UTC", showAs="busy"))
	m.create_event(ME, ev_body("2032-01-05T10:00:00", "2032-01-05T10:30:00", "UTC", showAs="tentative"))
	m.create_event(ME, ev_body("2032-01-05T11:00:00", "2032-01-05T11:30:00", "UTC", showAs="free"))
	sb = {"schedules": [ME], "startTime": {"dateTime": "2032-01-05T08:00:00", "timeZone": "UTC"},
	      "endTime": {"dateTime": "2032-01-05T12:00:00", "timeZone": "UTC"}, "availabilityViewInterval": 30}
	st, _, j = api("POST", "/me/calendar/getSchedule", TOK, sb)
	assert st == 200 and j["value"][0]["availabilityView"] == "00221000", j
	assert [i["status"] for i in j["value"][0]["scheduleItems"]] == ["busy", "tentative"], j
	st, _, j = api("POST", "/me/calendar/getSchedule", ptok, dict(sb, schedules=["max@outlook.de"]))
	assert st >= 400 and code_of(j), (st, j)

# ---------------------------------------------------------------- subscriptions


def sub_body(minutes=4000, **kw):
	b = {"changeType": "created,updated,deleted", "notificationUrl": HOOK, "lifecycleNotificationUrl": LIFE,
	     "resource": "me/events", "clientState": "cs-secret-1",
	     "expirationDateTime": iso(datetime.now(UTC) + timedelta(minutes=minutes))}
	b.update(kw)
	return b


with t.case("subscription create: validation POST to notificationUrl AND lifecycleNotificationUrl (validationToken, text/plain) → 201"):
	rcv.clear()
	st, _, sub = api("POST", "/subscriptions", TOK, sub_body())
	assert st == 201 and sub["id"] and sub["clientState"] == "cs-secret-1" and sub["resource"] == "me/events", (st, sub)
	for path in ("/webhooks/calendar/outlook", "/webhooks/calendar/outlook/lifecycle"):
		v = rcv.posts(path, validation=True)
		assert len(v) == 1, (path, rcv.hits)
		assert v[0]["query"]["validationToken"][0].startswith("Validation: Testing client application reachability"), v
		assert v[0]["headers"]["Content-Type"].startswith("text/plain"), v[0]["headers"]
	SUB = sub["id"]

for mode, why in (("wrong", "a body other than the token"), ("html", "a non-text/plain answer"), ("slow", "no answer within the timeout")):
	with t.case(f"validation fails on {why} → 400 InvalidRequest, no subscription"):
		rcv.validation = mode
		m.validation_timeout = 1.0
		n = len(m.subscription_list())
		st, _, j = api("POST", "/subscriptions", TOK, sub_body())
		assert st == 400 and code_of(j) == "InvalidRequest" and "validation request failed" in j["error"]["message"], (st, j)
		assert len(m.subscription_list()) == n
		rcv.validation = "echo"
		m.validation_timeout = 10.0

with t.case("validation of the lifecycle URL counts too: only that one failing → 400"):
	st, _, j = api("POST", "/subscriptions", TOK, sub_body(lifecycleNotificationUrl=rcv.url.replace("127.0.0.1", "127.0.0.1") + "/nowhere"))
	assert st == 201, "the receiver echoes on any path"
	st, _, j = api("POST", "/subscriptions", TOK, sub_body(lifecycleNotificationUrl="http://127.0.0.1:9/life"))
	assert st == 400 and code_of(j) == "InvalidRequest", (st, j)
	api("DELETE", "/subscriptions/" + [s for s in m.subscription_list() if s["lifecycleNotificationUrl"].endswith("/nowhere")][0]["id"], TOK)

with t.case("max expirationDateTime enforced (knob, default 10080 min) → 400; bad changeType/clientState → 400"):
	st, _, j = api("POST", "/subscriptions", TOK, sub_body(minutes=10090))
	assert st == 400 and "10080" in j["error"]["message"], (st, j)
	m.max_subscription_minutes = 4230
	st, _, j = api("POST", "/subscriptions", TOK, sub_body(minutes=4300))
	assert st == 400 and "4230" in j["error"]["message"], (st, j)
	m.max_subscription_minutes = 10080
	st, _, j = api("POST", "/subscriptions", TOK, sub_body(changeType="created,moved"))
	assert st == 400, st
	st, _, j = api("POST", "/subscriptions", TOK, sub_body(clientState="x" * 129))
	assert st == 400, st

with t.case("notifications: value[] with subscriptionId, clientState, changeType, resource, resourceData; several batched in one POST"):
	rcv.clear()
	m.notify_batch_ms = 1500             # both changes inside one batching window even on a loaded machine
	e1 = api("POST", "/me/events", TOK, ev_body())[2]["id"]
	api("PATCH", f"/me/events/{q(e1)}", TOK, {"subject": "x"})
	posts = wait_for(lambda: rcv.posts("/webhooks/calendar/outlook"))
	m.notify_batch_ms = 200
	time.sleep(0.5)
	posts = rcv.posts("/webhooks/calendar/outlook")
	assert len(posts) == 1, posts
	val = json.loads(posts[0]["body"])["value"]
	assert [v["changeType"] for v in val] == ["created", "updated"], val
	v = val[0]
	assert v["subscriptionId"] == SUB and v["clientState"] == "cs-secret-1" and v["resourceData"]["id"] == e1, v
	assert v["resource"].endswith("/Events/" + e1) and v["tenantId"] and v["subscriptionExpirationDateTime"], v
	assert posts[0]["headers"]["Content-Type"].startswith("application/json"), posts[0]["headers"]

with t.case("notification retried on 5xx and on a timeout (> notify_timeout), answered 202 at last"):
	rcv.clear()
	m.notify_retry_base = 0.2
	m.notify_timeout = 1.0
	rcv.statuses = [503, "hang", 202]
	api("DELETE", f"/me/events/{q(e1)}", TOK)
	posts = wait_for(lambda: len(rcv.posts("/webhooks/calendar/outlook")) >= 3 and rcv.posts("/webhooks/calendar/outlook"), 15)
	assert posts and len(posts) == 3, rcv.hits
	assert all(json.loads(p["body"])["value"][0]["changeType"] == "deleted" for p in posts)
	dels = lambda: [x for x in m.delivery_log() if x["kind"] == "notification" and  # noqa: E731
			x["body"]["value"][0]["changeType"] == "deleted"]
	d = wait_for(lambda: len(dels()) >= 3 and dels()) or dels()    # the log entry follows the receiver's answer
	assert [x["status"] for x in d] == [503, None, 202] and d[1]["error"], d

with t.case("a 4xx answer is not retried (dropped)"):
	rcv.clear()
	rcv.statuses = [400]
	api("POST", "/me/events", TOK, ev_body())
	wait_for(lambda: rcv.posts("/webhooks/calendar/outlook"))
	time.sleep(1.0)
	assert len(rcv.posts("/webhooks/calendar/outlook")) == 1, rcv.hits

with t.case("retries exhausted → the subscription gets a 'missed' lifecycle event"):
	rcv.clear()
	m.notify_max_attempts = 2
	rcv.statuses = [500, 500]
	api("POST", "/me/events", TOK, ev_body())
	life = wait_for(lambda: rcv.posts("/webhooks/calendar/outlook/lifecycle"), 10)
	assert len(rcv.posts("/webhooks/calendar/outlook")) == 2, rcv.hits
	v = json.loads(life[0]["body"])["value"][0]
	assert v["lifecycleEvent"] == "missed" and v["subscriptionId"] == SUB, v
	m.notify_max_attempts = 6

with t.case("at most max_subscriptions active per mailbox → 403 ExtensionError"):
	m.max_subscriptions = len([s for s in m.subscription_list() if s["active"] and s["account"] == ME])
	st, _, j = api("POST", "/subscriptions", TOK, sub_body())
	assert st == 403 and code_of(j) == "ExtensionError", (st, j)
	m.max_subscriptions = 1000

for ev in ("reauthorizationRequired", "missed", "subscriptionRemoved"):
	with t.case(f"lifecycle POST {ev} to the lifecycleNotificationUrl with subscriptionId and clientState"):
		rcv.clear()
		assert m.lifecycle(ev, SUB) == 1
		posts = wait_for(lambda: rcv.posts("/webhooks/calendar/outlook/lifecycle"))
		v = json.loads(posts[0]["body"])["value"][0]
		assert v["lifecycleEvent"] == ev and v["subscriptionId"] == SUB and v["clientState"] == "cs-secret-1", v
		if ev == "reauthorizationRequired":
			assert [s for s in m.subscription_list() if s["id"] == SUB][0]["reauthorizationRequired"]
			st, _, _ = api("POST", f"/subscriptions/{SUB}/reauthorize", TOK)
			assert st == 204 and not [s for s in m.subscription_list() if s["id"] == SUB][0]["reauthorizationRequired"]
		if ev == "subscriptionRemoved":
			st, _, j = api("GET", f"/subscriptions/{SUB}", TOK)
			assert st == 404, "a removed subscription is gone"

with t.case("PATCH renews (200, new expiry), DELETE → 204, then 404"):
	st, _, s = api("POST", "/subscriptions", TOK, sub_body(minutes=60))
	sid = s["id"]
	new = datetime.now(UTC) + timedelta(minutes=5000)
	st, _, s2 = api("PATCH", f"/subscriptions/{sid}", TOK, {"expirationDateTime": iso(new)})
	assert st == 200 and s2["expirationDateTime"].startswith(new.strftime("%Y-%m-%dT%H:%M")), (st, s2)
	st, _, j = api("PATCH", f"/subscriptions/{sid}", TOK, {"expirationDateTime": iso(datetime.now(UTC) + timedelta(minutes=20000))})
	assert st == 400, "the renewal limit too"
	st, _, _ = api("DELETE", f"/subscriptions/{sid}", TOK)
	assert st == 204
	st, _, j = api("DELETE", f"/subscriptions/{sid}", TOK)
	assert st == 404, st

with t.case("an expired subscription: PATCH → 404 and no more notifications"):
	st, _, s = api("POST", "/subscriptions", TOK, sub_body(resource=f"me/calendars/{PRAXIS}/events"))
	sid = s["id"]
	m.expire_subscriptions(sid)
	st, _, j = api("PATCH", f"/subscriptions/{sid}", TOK, {"expirationDateTime": iso(datetime.now(UTC) + timedelta(minutes=60))})
	assert st == 404, (st, j)
	rcv.clear()
	m.create_event(ME, ev_body(), PRAXIS)
	time.sleep(0.8)
	assert rcv.posts("/webhooks/calendar/outlook") == [], rcv.hits

# ---------------------------------------------------------------- throttling, latency, log, control, CLI
with t.case("throttling: 429 TooManyRequests with a fractional Retry-After; 503 with Retry-After"):
	m.fail("TooManyRequests", count=1)
	st, hd, j = api("GET", "/me/calendars", TOK)
	assert st == 429 and hd["Retry-After"] == "2.128" and code_of(j) == "TooManyRequests", (st, j)
	m.fail("serviceNotAvailable", count=1)
	st, hd, j = api("GET", "/me/calendars", TOK)
	assert st == 503 and hd["Retry-After"] and code_of(j) == "serviceNotAvailable", (st, j)
	st, _, _ = api("GET", "/me/calendars", TOK)
	assert st == 200, "count used up"

with t.case("latency knob delays every request"):
	m.latency_ms = 300
	t0 = time.time()
	api("GET", "/me", TOK)
	m.latency_ms = 0
	assert time.time() - t0 >= 0.3

with t.case("request log: method, path, status; secrets and bearer tokens shortened"):
	log = m.request_log(path_prefix="/common/oauth2/v2.0/token")
	assert log and all(r["status"] for r in log), log[:1]
	assert all(m.client_secret not in json.dumps(r) for r in m.request_log()), "client secret redacted"
	assert all(TOK not in json.dumps(r) for r in m.request_log()), "bearer redacted"

with t.case("/_fake/ control: knobs over HTTP (unknown → 400), requests, subscriptions, lifecycle"):
	st, _, raw = http("POST", B + "/_fake/knobs", body={"delta_page_size": 3})
	assert st == 200 and js(raw)["delta_page_size"] == 3 and m.delta_page_size == 3
	st, _, _ = http("POST", B + "/_fake/knobs", body={"nope": 1})
	assert st == 400
	st, _, raw = http("GET", B + "/_fake/requests?path=/v1.0/me")
	assert st == 200 and js(raw)["requests"], raw[:100]
	st, _, raw = http("POST", B + "/_fake/refresh-error", body={"code": 1})
	assert st == 400
	st, _, raw = http("GET", B + "/_fake/subscriptions")
	assert st == 200 and isinstance(js(raw)["value"], list)

with t.case("CLI: prints the base URL and the settings, serves, stops on SIGTERM"):
	p = subprocess.Popen([sys.executable, os.path.join(SRCDIR, "tests", "fakes", "microsoft.py"), "--port", "0",
			      "--auto-approve", "--tenant", "organizations"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
	try:
		base = p.stdout.readline().strip()
		env = dict(p.stderr.readline().strip().split("=", 1) for _ in range(2))
		assert env == {"MICROSOFT_AUTHORITY": base + "/organizations", "MICROSOFT_GRAPH_BASE": base + "/v1.0"}, env
		st, _, raw = http("GET", base + "/_fake/knobs")
		assert st == 200 and js(raw)["consent"] == "approve", raw
	finally:
		p.terminate()
		assert p.wait(timeout=10) == 0

m.stop()
rcv.server.shutdown()
t.done()
