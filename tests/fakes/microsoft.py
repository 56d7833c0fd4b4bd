#!/usr/bin/python3
"""microsoft.py: a protocol-faithful fake of the Microsoft identity platform (v2.0) + Graph calendar for the tests.

Stdlib only; follows docs/providers.md §3, §4 and §6 (the Microsoft part). One HTTP server serves both;
point the app at it with FakeMicrosoft.env():

    MICROSOFT_AUTHORITY  = {base}/common         ({authority}/oauth2/v2.0/authorize and /token)
    MICROSOFT_GRAPH_BASE = {base}/v1.0

Python:
    from microsoft import FakeMicrosoft      # sys.path += tests/fakes
    m = FakeMicrosoft(port=0, redirect_uris=["http://127.0.0.1:8080/cb"]).start()
    m.base_url; m.consent = "approve"; m.fail("TooManyRequests", count=2); m.requests; m.stop()
CLI:
    python3 tests/fakes/microsoft.py --port N [--latency-ms 50] [--redirect-uri URI]... [--auto-approve]
    prints the base URL on stdout, the settings on stderr, runs until SIGTERM/SIGINT.

Identity (§3): /{tenant}/oauth2/v2.0/authorize and /token for tenant common, organizations, consumers, a
GUID or a domain. The app's sign-in audience (knob sign_in_audience: AzureADandPersonalMicrosoftAccount |
AzureADMultipleOrgs | AzureADMyOrg) is enforced: single-tenant app on common/organizations/consumers →
AADSTS50194, org-only app on consumers → AADSTS9002332, personal account where only work accounts may sign
in (and the reverse on consumers) → AADSTS50020. Unknown client → AADSTS700016, unregistered redirect_uri
→ AADSTS50011 (error pages, no redirect). Knob consent: "page" (German consent page, "Zulassen"/"Ablehnen"),
"approve", "deny" (→ error=access_denied, AADSTS65004). Codes: single use (AADSTS54005 on reuse), code_ttl,
bound to client + redirect_uri (AADSTS70000 else), PKCE S256/plain (AADSTS501481 on mismatch or missing
verifier). Client auth: secret in the body or HTTP Basic (401 invalid_client AADSTS7000215). Refresh
token only with offline_access; refreshed access tokens carry every consented scope (a requested scope
beyond the consent → AADSTS65001); EVERY refresh answers a new refresh token (rotation); the old one stays
valid refresh_grace seconds (knob, default 0 → AADSTS70008 at once). refresh_error(code, email) makes the
live refresh tokens fail with 70008, 700082, 50173 (invalid_grant) or 50076 (interaction_required).
Error bodies: error, error_description "AADSTSnnnn: ... Trace ID: ... Correlation ID: ... Timestamp: ...",
error_codes, timestamp, trace_id, correlation_id, error_uri.

Graph (§4): /me, /me/calendars[/{id}], /me/calendar, events under /me/events, /me/calendar/events,
/me/calendars/{id}/events (GET list with $filter=singleValueExtendedProperties/Any(...) and $expand, POST,
GET/PATCH/DELETE one), calendarView and calendarView/delta (for /me = the default calendar, and per
calendar), /me/calendar/getSchedule (work accounts), /subscriptions. Errors {"error": {"code", "message",
"innerError": {"date", "request-id", "client-request-id"}}}; expired/unknown token → 401
InvalidAuthenticationToken + WWW-Authenticate; missing scope → 403 ErrorAccessDenied. Events: 201 with
@odata.etag, changeKey, iCalUId, type singleInstance; a repeated transactionId answers the first event;
singleValueExtendedProperties stored, returned only with $expand; isOnlineMeeting + teamsForBusiness →
onlineMeeting.joinUrl for "work" accounts, for "personal" ones knob personal_teams "ignore" (the event is
created without a meeting) or "fail" (400); Prefer: outlook.timezone converts start/end (IANA or a few
Windows names; default UTC), dateTime with 7 fractional digits. DELETE 204, then 404 ErrorItemNotFound.
Delta: Prefer odata.maxpagesize (default page size knob delta_page_size), @odata.nextLink pages
($skiptoken), final @odata.deltaLink ($deltatoken); deletions and changes outside the window as
@removed; knob delta_replay repeats the last round's items; expire_delta_tokens() → knob delta_expiry
"410" (410 + Location: the initial URL) or "syncStateNotFound" (400).
Subscriptions (§4.8): POST validates changeType/resource/expirationDateTime (≤ max_subscription_minutes,
default 10080)/clientState (≤ 128), then the validation POSTs to notificationUrl AND
lifecycleNotificationUrl (?validationToken=..., text/plain, validation_timeout 10 s; the answer must be
200, text/plain, body = the token) — failure → 400 InvalidRequest. PATCH renews, /reauthorize, DELETE;
expired/removed → 404 and silent; at most max_subscriptions (1000) active per mailbox → 403 ExtensionError.
Change notifications: value[] batched per notificationUrl within notify_batch_ms, retried on 5xx/timeout
(notify_timeout 3 s) with backoff, other non-2xx dropped; retries exhausted → a "missed" lifecycle event
(knob missed_on_drop).
Lifecycle POSTs (reauthorizationRequired, subscriptionRemoved, missed) via lifecycle().
Failures: fail(kind, count|fraction, path_prefix="/v1.0/", method): TooManyRequests (429),
ApplicationThrottled (429), serviceNotAvailable (503), generalException (500), gatewayTimeout (504);
429/503 carry Retry-After = knob retry_after (fractional string allowed); on identity-platform paths
(path_prefix="/common/oauth2/v2.0/token") the same kinds answer temporarily_unavailable in the token error
shape (429 AADSTS50196, else AADSTS90033). latency_ms delays every non-control request. Request log in .requests, deliveries in .deliveries, control under /_fake/.
Not reproduced: recurrence (series), attendees' invitations, $batch, resource data in notifications,
ImmutableId switching, If-Match.
"""
import base64
import copy
import hashlib
import hmac
import html
import json
import random
import re
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common import BaseHandler, FakeBase, Sender, b64url, cli_main, http_post

UTC = timezone.utc
GRAPH = "https://graph.microsoft.com/"
PERSONAL_TID = "9188040d-6c67-4c5b-b112-36a304b66dad"
WORK_TID = "84bd8158-6d4d-4958-8b9f-9d6445542f95"
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
GRAPH_SCOPES = {"User.Read", "Calendars.Read", "Calendars.ReadWrite", "Calendars.Read.Shared",
		"Calendars.ReadWrite.Shared", "MailboxSettings.Read"}
READ_SCOPES = {"Calendars.Read", "Calendars.ReadWrite"}
WRITE_SCOPES = {"Calendars.ReadWrite"}
ME_SCOPES = {"User.Read"}
AUDIENCES = ("AzureADandPersonalMicrosoftAccount", "AzureADMultipleOrgs", "AzureADMyOrg")
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DT_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})?$")
WINDOWS_ZONES = {"UTC": "UTC", "W. Europe Standard Time": "Europe/Berlin", "GMT Standard Time": "Europe/London",
		 "Romance Standard Time": "Europe/Paris", "Central Europe Standard Time": "Europe/Budapest",
		 "Eastern Standard Time": "America/New_York", "Pacific Standard Time": "America/Los_Angeles"}
SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
REFRESH_ERRORS = {
	70008: ("invalid_grant", "The provided authorization code or refresh token has expired due to inactivity. "
		"Send a new interactive authorization request for this user and resource."),
	700082: ("invalid_grant", "The refresh token has expired due to inactivity. The token was issued on "
		 "2024-07-31T08:00:26Z and was inactive for 90.00:00:00."),
	50173: ("invalid_grant", "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
		"The user might have changed or reset their password."),
	50076: ("interaction_required", "Due to a configuration change made by your administrator, or because you moved "
		"to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'."),
}
FAIL_KINDS = {
	"TooManyRequests": (429, "TooManyRequests", "Please retry again later.", True),
	"ApplicationThrottled": (429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.", True),
	"serviceNotAvailable": (503, "serviceNotAvailable", "Service Unavailable", True),
	"generalException": (500, "generalException", "An unspecified error has occurred.", False),
	"gatewayTimeout": (504, "UnknownError", "", False),
}
EVENT_RO = {"id", "@odata.etag", "changeKey", "createdDateTime", "lastModifiedDateTime", "iCalUId", "type",
	    "onlineMeeting", "organizer", "isOrganizer", "seriesMasterId", "webLink", "bodyPreview", "@odata.context"}
EVENT_FIELDS = {"subject", "body", "start", "end", "isAllDay", "showAs", "sensitivity", "importance", "categories",
		"location", "locations", "attendees", "isReminderOn", "reminderMinutesBeforeStart", "isOnlineMeeting",
		"onlineMeetingProvider", "transactionId", "singleValueExtendedProperties", "allowNewTimeProposals",
		"responseRequested", "isCancelled", "hideAttendees"}
KNOBS = ("latency_ms", "consent", "account_email", "sign_in_audience", "expires_in", "refresh_grace", "code_ttl",
	 "personal_teams", "delta_page_size", "delta_replay", "delta_expiry", "max_subscription_minutes",
	 "validation_timeout", "notify_batch_ms", "notify_timeout", "notify_retry_base", "notify_max_attempts",
	 "missed_on_drop", "max_subscriptions", "require_https", "retry_after", "log_requests", "redirect_uris")
REDACT_FORM = {"client_secret", "code", "code_verifier", "refresh_token", "access_token", "client_assertion"}


class GraphError(Exception):
	"""A Graph error answer (§4.9)."""

	def __init__(self, status, code, message, headers=None):
		super().__init__(message)
		self.status, self.code, self.message, self.headers = status, code, message, headers or {}

	def body(self, client_request_id=None):
		rid = str(uuid.uuid4())
		return {"error": {"code": self.code, "message": self.message,
				  "innerError": {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": rid,
						 "client-request-id": client_request_id or rid}}}


class AadError(Exception):
	"""A token-endpoint error (§3.4): error + AADSTS code."""

	def __init__(self, status, error, code, text, headers=None):
		super().__init__(text)
		self.status, self.error, self.code, self.text = status, error, code, text
		self.headers = headers or {}

	def body(self):
		ts = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
		trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
		return {"error": self.error,
			"error_description": f"AADSTS{self.code}: {self.text} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}",
			"error_codes": [self.code], "timestamp": ts, "trace_id": trace, "correlation_id": corr,
			"error_uri": f"https://login.microsoftonline.com/error?code={self.code}"}


class ErrorPage(Exception):
	"""An authorize error Microsoft shows on its own page instead of redirecting."""

	def __init__(self, status, code, text):
		super().__init__(text)
		self.status, self.code, self.text = status, code, text


# ---------------------------------------------------------------- time helpers

def now_utc():
	return datetime.now(UTC)


def zone(name):
	name = WINDOWS_ZONES.get(name, name)
	try:
		return ZoneInfo(name)
	except (ZoneInfoNotFoundError, ValueError, TypeError):
		raise ValueError("unknown time zone")


def fmt7(dt):
	"""Graph's dateTime: no offset, 7 fractional digits."""
	return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}0"


def fmt_stamp(dt):
	return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}0Z"


def parse_dt(s, tzname=None):
	"""Aware UTC datetime from a Graph/ISO dateTime; without an offset in zone tzname (default UTC)."""
	m = DT_RE.match(s) if isinstance(s, str) else None
	if not m:
		raise ValueError("bad dateTime")
	y, mo, d, h, mi, se = (int(x) for x in m.groups()[:6])
	frac = m.group(7)
	us = int((frac[1:] + "000000")[:6]) if frac else 0
	naive = datetime(y, mo, d, h, mi, se, us)
	off = m.group(8)
	if off is None:
		return naive.replace(tzinfo=zone(tzname or "UTC")).astimezone(UTC)
	if off == "Z":
		return naive.replace(tzinfo=UTC)
	sign = 1 if off[0] == "+" else -1
	return naive.replace(tzinfo=timezone(sign * timedelta(hours=int(off[1:3]), minutes=int(off[4:6])))).astimezone(UTC)


def prefer(headers):
	"""The Prefer preferences of a request (repeated headers and comma-joined values): {name: value}."""
	out = {}
	for h in headers.get_all("Prefer") or []:
		for part in re.findall(r'(?:[^,"]|"[^"]*")+', h):
			k, _, v = part.strip().partition("=")
			if k:
				out[k.strip()] = v.strip().strip('"')
	return out


class FakeMicrosoft(FakeBase):
	"""The fake: state, knobs, helpers and the HTTP server. Every public method takes the lock."""
	KNOBS = KNOBS
	FAIL_KINDS = FAIL_KINDS
	FAIL_PREFIX = "/v1.0/"

	DEFAULT_CLIENT_ID = "00001111-aaaa-2222-bbbb-3333cccc4444"
	DEFAULT_CLIENT_SECRET = "tf~test~secret~Qx8Q"

	def __init__(self, port=0, host="127.0.0.1", client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET,
		     redirect_uris=None, latency_ms=0, account_email="ana@contoso.com", seed=1):
		self.host, self.port = host, port
		self.lock = threading.RLock()
		self.rng = random.Random(seed)
		self.client_id, self.client_secret = client_id, client_secret
		self.clients = {client_id: client_secret}
		# knobs (KNOBS; attributes or POST /_fake/knobs)
		self.latency_ms = latency_ms
		self.consent = "page"                 # "page" | "approve" | "deny"
		self.account_email = account_email     # who signs in on the authorize page
		self.sign_in_audience = "AzureADandPersonalMicrosoftAccount"
		self.expires_in = 3599
		self.refresh_grace = 0                # seconds a rotated refresh token stays valid
		self.code_ttl = 600
		self.personal_teams = "ignore"        # "ignore" | "fail"
		self.delta_page_size = 10
		self.delta_replay = False
		self.delta_expiry = "410"             # "410" | "syncStateNotFound"
		self.max_subscription_minutes = 10080
		self.validation_timeout = 10.0
		self.notify_batch_ms = 200
		self.notify_timeout = 3.0
		self.notify_retry_base = 0.5
		self.notify_max_attempts = 6
		self.missed_on_drop = True           # retries exhausted → a "missed" lifecycle event
		self.max_subscriptions = 1000        # active subscriptions per mailbox (all apps)
		self.require_https = False
		self.retry_after = "2.128"
		self.log_requests = True
		self.redirect_uris = list(redirect_uris or ["http://127.0.0.1:8080/api/doctor/calendar-integrations/callback/outlook"])
		self.server = None
		self.base_url = None
		self._thread = None
		self.sender = Sender(self._deliver)
		self._reset_state()

	# ------------------------------------------------------------ state

	def _reset_state(self):
		with self.lock:
			self.accounts = {}
			self.codes, self.txns = {}, {}
			self.refresh_tokens, self.access_tokens = {}, {}
			self.delta_states, self.page_sessions = {}, {}
			self.subscriptions = {}
			self.batches = {}
			self.requests, self.deliveries = [], []
			self.failures = []
			self.seq, self.delta_gen = 0, 0
			self.add_account(self.account_email, "Ana Beispiel", kind="work")

	def reset(self):
		"""Forget everything (accounts, tokens, events, subscriptions, logs); knobs stay."""
		self._reset_state()

	def add_account(self, email, name=None, kind="work", mail=True, teams=True):
		"""An account ("work" or "personal") with its default calendar "Calendar" and a second one "Praxis".
		mail=False: /me has mail null (as for many personal accounts). teams: Teams-licensed (work only)."""
		if kind not in ("work", "personal"):
			raise ValueError("kind: work or personal")
		with self.lock:
			if email in self.accounts:
				return self.accounts[email]
			acct = {"email": email, "name": name or email.split("@")[0], "kind": kind, "id": str(uuid.uuid4()),
				"tid": WORK_TID if kind == "work" else PERSONAL_TID, "mail": bool(mail),
				"teams": bool(teams) and kind == "work", "calendars": {}, "events": {}, "txids": {}}
			self.accounts[email] = acct
			self.add_calendar(email, "Calendar", default=True)
			self.add_calendar(email, "Praxis")
			return acct

	def add_calendar(self, email, name, default=False, can_edit=True):
		with self.lock:
			acct = self.accounts[email]
			cid = "AAMkAG" + b64url(secrets.token_bytes(30)) + "="
			provs = (["teamsForBusiness"] if acct["teams"] else []) if acct["kind"] == "work" else ["skypeForConsumer"]
			cal = {"id": cid, "name": name, "color": "auto", "hexColor": "", "isDefaultCalendar": bool(default),
			       "changeKey": b64url(secrets.token_bytes(12)), "canShare": True, "canViewPrivateItems": True,
			       "canEdit": bool(can_edit), "allowedOnlineMeetingProviders": provs,
			       "defaultOnlineMeetingProvider": provs[0] if provs else "unknown",
			       "isTallyingResponses": True, "isRemovable": not default,
			       "owner": {"name": acct["name"], "address": acct["email"]}}
			acct["calendars"][cid] = cal
			return dict(cal)

	def _cal(self, acct, cid):
		if cid is None:
			cid = next(c["id"] for c in acct["calendars"].values() if c["isDefaultCalendar"])
		cal = acct["calendars"].get(cid)
		if cal is None:
			raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
		return cal

	def _next_seq(self):
		self.seq += 1
		return self.seq

	# ------------------------------------------------------------ helpers for tests

	def env(self, tenant="common"):
		"""The settings that point the app at this fake."""
		return {"MICROSOFT_AUTHORITY": f"{self.base_url}/{tenant}", "MICROSOFT_GRAPH_BASE": f"{self.base_url}/v1.0"}

	def _check_knob(self, k, v):
		if k == "consent" and v not in ("page", "approve", "deny"):
			raise ValueError("consent: page, approve or deny")
		if k == "sign_in_audience" and v not in AUDIENCES:
			raise ValueError("sign_in_audience: " + ", ".join(AUDIENCES))
		if k == "personal_teams" and v not in ("ignore", "fail"):
			raise ValueError("personal_teams: ignore or fail")
		if k == "delta_expiry" and v not in ("410", "syncStateNotFound"):
			raise ValueError("delta_expiry: 410 or syncStateNotFound")

	def _failure(self, method, path):
		kind = self._match_failure(method, path)
		if kind is None:
			return None
		status, code, msg, retry = FAIL_KINDS[kind]
		hdr = {"Retry-After": str(self.retry_after)} if retry and self.retry_after is not None else {}
		return GraphError(status, code, msg, hdr)

	def issue_tokens(self, email, scope="offline_access User.Read Calendars.ReadWrite"):
		"""Tokens as after a consent, without the browser (benches, seeding)."""
		with self.lock:
			acct = self.accounts[email]
			return self._token_answer(acct, self.client_id, self._norm_scopes(scope))

	def expire_access_tokens(self, email=None):
		with self.lock:
			for rec in self.access_tokens.values():
				if email is None or rec["email"] == email:
					rec["expires"] = 0

	def refresh_error(self, code, email=None):
		"""Make every live refresh token (of email, or all) fail with AADSTS code 70008, 700082, 50173 or 50076."""
		code = int(code)
		if code not in REFRESH_ERRORS:
			raise ValueError("code: one of " + ", ".join(str(c) for c in REFRESH_ERRORS))
		with self.lock:
			for rec in self.refresh_tokens.values():
				if email is None or rec["email"] == email:
					rec["error"] = code

	def expire_delta_tokens(self):
		"""Every delta/skip token issued so far answers per knob delta_expiry."""
		with self.lock:
			self.delta_gen += 1

	def expire_subscriptions(self, sub_id=None):
		with self.lock:
			for s in self.subscriptions.values():
				if sub_id is None or s["id"] == sub_id:
					s["expires"] = now_utc() - timedelta(seconds=1)

	def create_event(self, email, event, cal_id=None):
		"""Create an event as the mailbox owner would (same validation as POST .../events). Returns it."""
		with self.lock:
			acct = self.accounts[email]
			ev = self._create(acct, self._cal(acct, cal_id), event)
			return self._render(acct, ev, "UTC", expand_all=True)

	def patch_event(self, email, event_id, patch):
		with self.lock:
			acct = self.accounts[email]
			return self._render(acct, self._patch(acct, event_id, patch), "UTC", expand_all=True)

	def delete_event(self, email, event_id):
		with self.lock:
			self._delete(self.accounts[email], event_id)

	def events(self, email, cal_id=None, include_deleted=False):
		"""The stored events of one calendar (default: the default calendar), extended properties included."""
		with self.lock:
			acct = self.accounts[email]
			cal = self._cal(acct, cal_id)
			return [self._render(acct, e, "UTC", expand_all=True) | ({"deleted": True} if e["deleted"] else {})
				for e in acct["events"].values() if e["cal"] == cal["id"] and (include_deleted or not e["deleted"])]

	def calendars(self, email):
		with self.lock:
			return [dict(c) for c in self.accounts[email]["calendars"].values()]

	def subscription_list(self):
		with self.lock:
			return [self._sub_json(s) | {"active": self._sub_active(s), "account": s["email"],
						     "reauthorizationRequired": s["reauth"]} for s in self.subscriptions.values()]

	# ------------------------------------------------------------ identity platform

	def _tenant_ok(self, tenant):
		return tenant in ("common", "organizations", "consumers") or GUID_RE.match(tenant) or \
			re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", tenant)

	def _audience_check(self, tenant, page):
		"""The app registration's audience against the tenant segment (AADSTS50194 / 9002332)."""
		aud = self.sign_in_audience
		err = None
		if aud == "AzureADMyOrg" and tenant in ("common", "organizations", "consumers"):
			err = (50194, "Application '%s' is not configured as a multi-tenant application. Usage of the /common "
			       "endpoint is not supported for such applications created after '10/15/2018'. Use a "
			       "tenant-specific endpoint or configure the application to be multi-tenant." % self.client_id)
		elif aud == "AzureADMultipleOrgs" and tenant == "consumers":
			err = (9002332, "Application '%s' is configured for use by Azure Active Directory users only. Please "
			       "do not use the /consumers endpoint to serve this request." % self.client_id)
		if err:
			if page:
				raise ErrorPage(400, *err)
			raise AadError(400, "invalid_request", *err)

	def _norm_scopes(self, scope):
		out = set()
		for s in (scope or "").split():
			if s.startswith(GRAPH):
				s = s[len(GRAPH):]
			if s not in OIDC_SCOPES and s not in GRAPH_SCOPES and s != ".default":
				raise AadError(400, "invalid_scope", 70011, f"The provided request must include a 'scope' input "
					       f"parameter. The provided value for the input parameter 'scope' is not valid ({s}).")
			out.add(s)
		return out

	def _authorize(self, tenant, q):
		"""("page", html) | ("redirect", url); ErrorPage for errors shown by Microsoft itself."""
		one = lambda n: (q.get(n) or [None])[0]  # noqa: E731
		client, redirect = one("client_id"), one("redirect_uri")
		if not self._tenant_ok(tenant):
			raise ErrorPage(400, 90002, f"Tenant '{tenant}' not found.")
		if client not in self.clients:
			raise ErrorPage(400, 700016, f"Application with identifier '{client}' was not found in the directory.")
		if redirect not in self.redirect_uris:
			raise ErrorPage(400, 50011, f"The redirect URI '{redirect}' specified in the request does not match the "
					"redirect URIs configured for the application.")
		self._audience_check(tenant, True)
		state = one("state")
		if one("response_type") != "code":
			return "redirect", self._redirect(redirect, {"error": "unsupported_response_type", "error_description":
								     "AADSTS700054: response_type is not supported."}, state)
		if one("response_mode") not in (None, "query"):
			return "redirect", self._redirect(redirect, {"error": "invalid_request", "error_description":
								     "fake: only response_mode=query is supported"}, state)
		try:
			scopes = self._norm_scopes(one("scope"))
		except AadError as e:
			return "redirect", self._redirect(redirect, {"error": "invalid_scope", "error_description":
								     f"AADSTS{e.code}: {e.text}"}, state)
		if not scopes:
			return "redirect", self._redirect(redirect, {"error": "invalid_request", "error_description":
								     "AADSTS900144: The request body must contain the following parameter: 'scope'."}, state)
		chal, meth = one("code_challenge"), one("code_challenge_method")
		if chal and meth is None:
			meth = "plain"
		if meth is not None and (meth not in ("S256", "plain") or not chal):
			return "redirect", self._redirect(redirect, {"error": "invalid_request", "error_description":
								     "AADSTS501491: Invalid size of Code_Challenge parameter."}, state)
		acct = self.accounts.get(self.account_email)
		if acct is None:
			raise ErrorPage(400, 50034, "The user account does not exist in the directory.")
		if (tenant == "consumers" and acct["kind"] == "work") or (
				acct["kind"] == "personal" and (tenant == "organizations" or self.sign_in_audience != AUDIENCES[0])):
			raise ErrorPage(400, 50020, f"User account '{acct['email']}' from identity provider "
					"'live.com' does not exist in tenant and cannot access the application.")
		txn = {"client": client, "redirect": redirect, "scopes": scopes, "state": state, "challenge": chal,
		       "method": meth, "email": acct["email"], "tenant": tenant, "prompt": one("prompt")}
		if self.consent == "approve":
			return "redirect", self._grant(txn)
		if self.consent == "deny":
			return "redirect", self._deny(txn)
		tid = b64url(secrets.token_bytes(18))
		self.txns[tid] = txn
		return "page", self._consent_page(tid, txn)

	def _redirect(self, uri, params, state):
		if state is not None:
			params = dict(params, state=state)
		return uri + ("&" if "?" in uri else "?") + urllib.parse.urlencode(params)

	def _grant(self, txn):
		code = "0.A" + b64url(secrets.token_bytes(60))
		self.codes[code] = dict(txn, expires=time.time() + self.code_ttl, used=False)
		return self._redirect(txn["redirect"], {"code": code, "session_state": str(uuid.uuid4())}, txn["state"])

	def _deny(self, txn):
		return self._redirect(txn["redirect"], {"error": "access_denied", "error_description":
							"AADSTS65004: User declined to consent to access the app."}, txn["state"])

	def _consent(self, form):
		tid = (form.get("txn") or [""])[0]
		txn = self.txns.pop(tid, None)
		if txn is None:
			raise ErrorPage(400, 90014, "The request is missing or has an expired consent transaction.")
		if (form.get("accept") or [""])[0] == "true":
			return self._grant(txn)
		return self._deny(txn)

	def _consent_page(self, tid, txn):
		x = html.escape
		labels = {"Calendars.ReadWrite": "Vollzugriff auf Ihre Kalender", "Calendars.Read": "Ihre Kalender lesen",
			  "User.Read": "Anmelden und Ihr Profil lesen",
			  "offline_access": "Zugriff auf Daten beibehalten, für die Sie Zugriff erteilt haben"}
		items = "".join(f"<li>{x(labels.get(s, s))}</li>" for s in sorted(txn["scopes"]) if s in labels)
		return ("<!DOCTYPE html>\n<html lang=\"de\"><head><meta charset=\"utf-8\"><title>Berechtigungen angefordert"
			"</title></head><body><h1>Berechtigungen angefordert</h1>"
			f"<p id=\"account\">{x(txn['email'])}</p><p>Diese App möchte:</p><ul>{items}</ul>"
			f"<form method=\"post\" action=\"/{x(txn['tenant'])}/oauth2/v2.0/consent\">"
			f"<input type=\"hidden\" name=\"txn\" value=\"{x(tid)}\">"
			"<button type=\"submit\" name=\"accept\" value=\"true\">Zulassen</button>"
			"<button type=\"submit\" name=\"accept\" value=\"false\">Ablehnen</button>"
			"</form></body></html>\n")

	def _token_answer(self, acct, client, scopes, family=None):
		now = time.time()
		access = ("eyJ0eXAiOiJKV1QiLCJub25jZSI6" if acct["kind"] == "work" else "EwB4A8l6BAAU") + \
			b64url(secrets.token_bytes(48))
		self.access_tokens[access] = {"email": acct["email"], "client": client, "scopes": set(scopes),
					      "expires": now + self.expires_in}
		graph = sorted(s for s in scopes if s in GRAPH_SCOPES)
		ans = {"token_type": "Bearer", "scope": " ".join(graph + sorted(s for s in scopes if s in ("openid", "profile", "email"))),
		       "expires_in": self.expires_in, "ext_expires_in": self.expires_in, "access_token": access}
		if "offline_access" in scopes:
			refresh = "0.A" + b64url(secrets.token_bytes(80))
			self.refresh_tokens[refresh] = {"email": acct["email"], "client": client, "scopes": set(scopes),
							"rotated_at": None, "error": None, "family": family or str(uuid.uuid4())}
			ans["refresh_token"] = refresh
		if "openid" in scopes:
			ans["id_token"] = self._id_token(acct, client)
		return ans

	def _id_token(self, acct, client):
		now = int(time.time())
		claims = {"aud": client, "iss": f"https://login.microsoftonline.com/{acct['tid']}/v2.0", "iat": now,
			  "nbf": now, "exp": now + 3600, "name": acct["name"], "oid": acct["id"], "tid": acct["tid"],
			  "preferred_username": acct["email"], "email": acct["email"], "sub": b64url(acct["id"].encode()), "ver": "2.0"}
		head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
		body = b64url(json.dumps(claims).encode())
		sig = hmac.new(self.clients[client].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
		return f"{head}.{body}.{b64url(sig)}"

	def _token(self, tenant, headers, form):
		one = lambda n: (form.get(n) or [None])[0]  # noqa: E731
		if not self._tenant_ok(tenant):
			raise AadError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
		client, secret = one("client_id"), one("client_secret")
		auth = headers.get("Authorization") or ""
		if auth.startswith("Basic "):
			try:
				u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
				client, secret = urllib.parse.unquote(u), urllib.parse.unquote(p)
			except (ValueError, UnicodeDecodeError):
				raise AadError(401, "invalid_client", 7000215, "Invalid client secret provided.")
		if not client:
			raise AadError(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		if client not in self.clients:
			raise AadError(400, "unauthorized_client", 700016, f"Application with identifier '{client}' was not "
				       "found in the directory.")
		if not secret:
			raise AadError(401, "invalid_client", 7000218, "The request body must contain the following parameter: "
				       "'client_assertion' or 'client_secret'.")
		if not hmac.compare_digest(secret.encode(), self.clients[client].encode()):
			raise AadError(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being "
				       f"sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client}'.")
		self._audience_check(tenant, False)
		grant = one("grant_type")
		if grant == "authorization_code":
			code = one("code")
			rec = self.codes.get(code or "")
			if rec is None:
				raise AadError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
			if rec["used"]:
				raise AadError(400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please "
					       "retry with a new valid code or use an existing refresh token.")
			rec["used"] = True
			if time.time() > rec["expires"]:
				raise AadError(400, "invalid_grant", 70008, "The provided authorization code or refresh token has "
					       "expired due to inactivity. Send a new interactive authorization request for this user and resource.")
			if rec["client"] != client or rec["redirect"] != one("redirect_uri"):
				raise AadError(400, "invalid_grant", 70000, "The request was denied because one or more grants are "
					       "invalid: the redirect_uri does not match the one of the authorization request.")
			if rec["challenge"]:
				ver = one("code_verifier") or ""
				calc = b64url(hashlib.sha256(ver.encode()).digest()) if rec["method"] == "S256" else ver
				if not ver or not hmac.compare_digest(calc.encode(), rec["challenge"].encode()):
					raise AadError(400, "invalid_grant", 501481, "The Code_Verifier does not match the "
						       "code_challenge supplied in the authorization request.")
			return self._token_answer(self.accounts[rec["email"]], client, rec["scopes"])
		if grant == "refresh_token":
			rt = one("refresh_token") or ""
			rec = self.refresh_tokens.get(rt)
			if rec is None or rec["client"] != client:
				raise AadError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
			if rec["error"]:
				err, text = REFRESH_ERRORS[rec["error"]]
				raise AadError(400, err, rec["error"], text)
			if rec["rotated_at"] is not None and time.time() > rec["rotated_at"] + (self.refresh_grace or 0):
				raise AadError(400, "invalid_grant", 70008, "The refresh token has expired or is invalid due to "
					       "sign-in frequency checks by conditional access. The token was issued before a newer one replaced it.")
			scopes = self._norm_scopes(one("scope")) if one("scope") else set(rec["scopes"])
			extra = {s for s in scopes if s in GRAPH_SCOPES} - rec["scopes"]
			if extra:
				raise AadError(400, "invalid_grant", 65001, "The user or administrator has not consented to use the "
					       f"application with ID '{client}'. Send an interactive authorization request for this user and resource.")
			if rec["rotated_at"] is None:
				rec["rotated_at"] = time.time()
			# the new tokens carry every consented scope (as Microsoft's scp does), not only the requested subset
			return self._token_answer(self.accounts[rec["email"]], client, rec["scopes"], rec["family"])
		if not grant:
			raise AadError(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		raise AadError(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'.")

	# ------------------------------------------------------------ Graph: auth

	def _bearer(self, headers, need):
		auth = headers.get("Authorization") or ""
		www = {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
		       'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'}
		if not auth.startswith("Bearer ") or not auth[7:].strip():
			raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", www)
		rec = self.access_tokens.get(auth[7:].strip())
		if rec is None:
			raise GraphError(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed, there are no dots (.).", www)
		if time.time() >= rec["expires"]:
			raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.", www)
		if need and not (rec["scopes"] & need):
			raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
		return rec

	# ------------------------------------------------------------ Graph: events

	def _when(self, v, what, all_day):
		if not isinstance(v, dict) or not isinstance(v.get("dateTime"), str):
			raise GraphError(400, "ErrorInvalidRequest", f"Your request can't be completed. '{what}' is missing or invalid.")
		tzname = v.get("timeZone") or "UTC"
		try:
			zone(tzname)
		except ValueError:
			raise GraphError(400, "TimeZoneNotSupportedException", f"A valid TimeZone value must be specified. "
					 f"The following TimeZone value is not supported: '{tzname}'.")
		try:
			t = parse_dt(v["dateTime"], tzname)
		except ValueError:
			raise GraphError(400, "UnableToDeserializePostBody", f"were unable to deserialize {what}.dateTime")
		if all_day:
			local = t.astimezone(zone(tzname))
			if (local.hour, local.minute, local.second, local.microsecond) != (0, 0, 0, 0):
				raise GraphError(400, "ErrorPropertyValidationFailure", "Your request can't be completed. If the event "
						 "is an all-day event, the start and end time must be at midnight.")
			return {"date": local.date(), "tz": tzname, "utc": t}
		return {"utc": t, "tz": tzname}

	def _validate(self, acct, cal, ev):
		all_day = bool(ev.get("isAllDay"))
		for k in ("start", "end"):
			ev["_" + k] = self._when(ev.get(k), k, all_day)
		if ev["_end"]["utc"] < ev["_start"]["utc"] or (all_day and ev["_end"]["utc"] == ev["_start"]["utc"]):
			raise GraphError(400, "ErrorInvalidRequest", "Your request can't be completed. The end time must be after the start time.")
		if ev.get("showAs", "busy") not in SHOW_AS:
			raise GraphError(400, "UnableToDeserializePostBody", "were unable to deserialize showAs")
		for p in ev.get("singleValueExtendedProperties") or []:
			if not isinstance(p, dict) or not re.match(r"^String \{[0-9a-fA-F-]{36}\} Name \S+$", str(p.get("id", ""))) \
					or not isinstance(p.get("value"), str):
				raise GraphError(400, "ErrorInvalidProperty", "The extended property id or value is invalid.")
		tx = ev.get("transactionId")
		if tx is not None and (not isinstance(tx, str) or not tx or len(tx) > 255):
			raise GraphError(400, "ErrorInvalidRequest", "transactionId must be a non-empty string.")

	def _meeting(self, acct, cal, ev):
		if not ev.get("isOnlineMeeting"):
			return
		prov = ev.get("onlineMeetingProvider") or cal["defaultOnlineMeetingProvider"]
		if prov not in ("teamsForBusiness", "skypeForBusiness", "skypeForConsumer", "unknown"):
			raise GraphError(400, "UnableToDeserializePostBody", "were unable to deserialize onlineMeetingProvider")
		if prov not in cal["allowedOnlineMeetingProviders"]:
			if acct["kind"] == "personal" and self.personal_teams == "fail":
				raise GraphError(400, "ErrorInvalidRequest", "Your request can't be completed. Online meeting provider "
						 f"'{prov}' is not supported for this mailbox.")
			ev["isOnlineMeeting"], ev["onlineMeetingProvider"], ev["onlineMeeting"] = False, "unknown", None
			return
		ev["onlineMeetingProvider"] = prov
		if prov == "teamsForBusiness":
			mid = "19%3ameeting_" + b64url(secrets.token_bytes(30)) + "%40thread.v2"
			ev["onlineMeeting"] = {"joinUrl": f"https://teams.microsoft.com/l/meetup-join/{mid}/0?context=%7b%22Tid%22%3a%22{acct['tid']}%22%7d",
					       "conferenceId": str(self.rng.randint(10 ** 8, 10 ** 9)), "tollNumber": "+49 69 365003026"}
		else:
			ev["onlineMeeting"] = {"joinUrl": "https://join.skype.com/" + b64url(secrets.token_bytes(9))}

	def _touch(self, acct, ev, change):
		now = now_utc()
		ev["seq"] = self._next_seq()
		ev["changeKey"] = b64url(secrets.token_bytes(21))
		ev["lastModifiedDateTime"] = fmt_stamp(now)
		self._notify(acct, ev, change)

	def _create(self, acct, cal, body):
		if not isinstance(body, dict):
			raise GraphError(400, "UnableToDeserializePostBody", "were unable to deserialize ")
		if not cal["canEdit"]:
			raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
		tx = body.get("transactionId")
		if isinstance(tx, str) and tx in acct["txids"]:
			old = acct["events"].get(acct["txids"][tx])
			if old is not None and not old["deleted"]:
				return old
		unknown = set(body) - EVENT_FIELDS - EVENT_RO
		if unknown:
			raise GraphError(400, "RequestBodyRead", f"The property '{sorted(unknown)[0]}' does not exist on type "
					 "'microsoft.graph.event'. Make sure to only use property names that are defined by the type.")
		ev = {k: copy.deepcopy(v) for k, v in body.items() if k in EVENT_FIELDS}
		ev.setdefault("showAs", "busy")
		self._validate(acct, cal, ev)
		self._meeting(acct, cal, ev)
		eid = "AAMkAG" + b64url(secrets.token_bytes(45)) + "="
		now = now_utc()
		ev.update(id=eid, cal=cal["id"], deleted=False, createdDateTime=fmt_stamp(now),
			  iCalUId="040000008200E00074C5B7101A82E008" + secrets.token_hex(40).upper(),
			  type="singleInstance", isOrganizer=True, isCancelled=bool(body.get("isCancelled", False)),
			  organizer={"emailAddress": {"name": acct["name"], "address": acct["email"]}})
		acct["events"][eid] = ev
		if isinstance(tx, str):
			acct["txids"][tx] = eid
		self._touch(acct, ev, "created")
		return ev

	def _event(self, acct, eid, cal=None):
		ev = acct["events"].get(eid)
		if ev is None or ev["deleted"] or (cal is not None and ev["cal"] != cal["id"]):
			raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
		return ev

	def _patch(self, acct, eid, body, cal=None):
		ev = self._event(acct, eid, cal)
		if not isinstance(body, dict):
			raise GraphError(400, "UnableToDeserializePostBody", "were unable to deserialize ")
		unknown = set(body) - EVENT_FIELDS - EVENT_RO
		if unknown:
			raise GraphError(400, "RequestBodyRead", f"The property '{sorted(unknown)[0]}' does not exist on type "
					 "'microsoft.graph.event'.")
		if "transactionId" in body and body["transactionId"] != ev.get("transactionId"):
			raise GraphError(400, "ErrorInvalidRequest", "transactionId cannot be changed.")
		if ev.get("isOnlineMeeting") and "onlineMeetingProvider" in body and \
				body["onlineMeetingProvider"] != ev.get("onlineMeetingProvider"):
			raise GraphError(400, "ErrorInvalidRequest", "onlineMeetingProvider cannot be changed once set.")
		new = copy.deepcopy(ev)
		for k, v in body.items():
			if k == "singleValueExtendedProperties":
				props = {p.get("id"): p for p in new.get(k) or []}
				for p in v or []:
					props[p.get("id") if isinstance(p, dict) else None] = p
				new[k] = list(props.values())
			elif k in EVENT_FIELDS:
				new[k] = copy.deepcopy(v)
		if ("start" in body or "end" in body or "isAllDay" in body):
			for k in ("start", "end"):
				if k not in body:
					new[k] = self._render_when(ev["_" + k], ev["_" + k]["tz"], bool(ev.get("isAllDay")))
		self._validate(acct, self.accounts[acct["email"]]["calendars"][ev["cal"]], new)
		if body.get("isOnlineMeeting") and not ev.get("isOnlineMeeting"):
			self._meeting(acct, acct["calendars"][ev["cal"]], new)
		ev.clear()
		ev.update(new)
		self._touch(acct, ev, "updated")
		return ev

	def _delete(self, acct, eid, cal=None):
		ev = self._event(acct, eid, cal)
		ev["deleted"] = True
		self._touch(acct, ev, "deleted")

	def _render_when(self, w, tzname, all_day):
		if all_day:
			d = w["date"]
			return {"dateTime": f"{d.isoformat()}T00:00:00.0000000", "timeZone": w["tz"]}
		try:
			z = zone(tzname)
		except ValueError:
			tzname, z = "UTC", UTC
		return {"dateTime": fmt7(w["utc"].astimezone(z)), "timeZone": tzname}

	def _render(self, acct, ev, tzname, expand=None, expand_all=False):
		out = {"@odata.etag": f'W/"{ev["changeKey"]}"', "id": ev["id"],
		       "createdDateTime": ev["createdDateTime"], "lastModifiedDateTime": ev["lastModifiedDateTime"],
		       "changeKey": ev["changeKey"], "categories": ev.get("categories") or [],
		       "transactionId": ev.get("transactionId"), "originalStartTimeZone": ev["_start"]["tz"],
		       "originalEndTimeZone": ev["_end"]["tz"], "iCalUId": ev["iCalUId"],
		       "reminderMinutesBeforeStart": ev.get("reminderMinutesBeforeStart", 15),
		       "isReminderOn": ev.get("isReminderOn", True), "subject": ev.get("subject", ""),
		       "bodyPreview": re.sub(r"<[^>]*>", "", (ev.get("body") or {}).get("content", ""))[:255],
		       "importance": ev.get("importance", "normal"), "sensitivity": ev.get("sensitivity", "normal"),
		       "isAllDay": bool(ev.get("isAllDay")), "isCancelled": bool(ev.get("isCancelled")),
		       "isOrganizer": ev["isOrganizer"], "showAs": ev.get("showAs", "busy"), "type": ev["type"],
		       "webLink": f"https://outlook.office365.com/owa/?itemid={urllib.parse.quote(ev['id'])}&exvsurl=1&path=/calendar/item",
		       "isOnlineMeeting": bool(ev.get("isOnlineMeeting")),
		       "onlineMeetingProvider": ev.get("onlineMeetingProvider", "unknown"),
		       "body": ev.get("body") or {"contentType": "html", "content": ""},
		       "start": self._render_when(ev["_start"], tzname, bool(ev.get("isAllDay"))),
		       "end": self._render_when(ev["_end"], tzname, bool(ev.get("isAllDay"))),
		       "location": ev.get("location") or {"displayName": "", "locationType": "default"},
		       "locations": ev.get("locations") or [], "attendees": ev.get("attendees") or [],
		       "organizer": ev["organizer"], "onlineMeeting": ev.get("onlineMeeting")}
		if out["transactionId"] is None:
			del out["transactionId"]
		props = ev.get("singleValueExtendedProperties") or []
		if expand_all:
			out["singleValueExtendedProperties"] = copy.deepcopy(props)
		elif expand is not None:
			out["singleValueExtendedProperties"] = [p for p in props if expand == "*" or p.get("id", "").lower() == expand.lower()]
		return out

	def _expand_arg(self, q):
		"""$expand=singleValueExtendedProperties[($filter=id eq '...')] → "*" | id | None; other → 400."""
		v = (q.get("$expand") or [None])[0]
		if v is None:
			return None
		m = re.fullmatch(r"singleValueExtendedProperties(?:\(\$filter=id eq '([^']+)'\))?", v.strip())
		if not m:
			raise GraphError(400, "BadRequest", f"fake: $expand={v} is not supported")
		return m.group(1) or "*"

	def _filter_arg(self, q):
		v = (q.get("$filter") or [None])[0]
		if v is None:
			return None
		m = re.fullmatch(r"singleValueExtendedProperties/Any\((\w+): \1/id eq '([^']+)' and \1/value eq '([^']*)'\)",
				 v.strip())
		if not m:
			raise GraphError(400, "BadRequest", f"fake: $filter={v} is not supported")
		return m.group(2).lower(), m.group(3)

	def _list(self, acct, cal, q, tzname):
		flt, exp = self._filter_arg(q), self._expand_arg(q)
		out = []
		for ev in acct["events"].values():
			if ev["deleted"] or (cal is not None and ev["cal"] != cal["id"]):
				continue
			if flt and not any(p.get("id", "").lower() == flt[0] and p.get("value") == flt[1]
					   for p in ev.get("singleValueExtendedProperties") or []):
				continue
			out.append(self._render(acct, ev, tzname, exp))
		return out

	@staticmethod
	def _in_window(ev, lo, hi):
		return ev["_start"]["utc"] < hi and ev["_end"]["utc"] > lo

	def _window(self, q):
		try:
			lo = parse_dt((q.get("startDateTime") or [""])[0])
			hi = parse_dt((q.get("endDateTime") or [""])[0])
		except ValueError:
			raise GraphError(400, "ErrorInvalidParameter", "This request requires a time window specified by the query "
					 "string parameters StartDateTime and EndDateTime.")
		return lo, hi

	def _calendar_view(self, acct, cal, q, tzname):
		lo, hi = self._window(q)
		evs = [e for e in acct["events"].values() if not e["deleted"] and e["cal"] == cal["id"] and self._in_window(e, lo, hi)]
		evs.sort(key=lambda e: e["_start"]["utc"])
		return [self._render(acct, e, tzname, self._expand_arg(q)) for e in evs]

	# ------------------------------------------------------------ Graph: delta

	def _delta(self, acct, cal, q, path, tzname, page_size):
		"""One calendarView/delta page: the initial request, a $skiptoken page or a $deltatoken round."""
		base = self.base_url + "/v1.0/" + path
		if "$skiptoken" in q:
			sess = self.page_sessions.get(q["$skiptoken"][0])
			if sess is None or sess["email"] != acct["email"]:
				raise GraphError(400, "BadRequest", "The skip token is invalid.")
			if sess["gen"] != self.delta_gen:
				self._expired(sess["initial"])
			return self._page(acct, sess, base, tzname, page_size)
		if "$deltatoken" in q:
			st = self.delta_states.get(q["$deltatoken"][0])
			if st is None or st["email"] != acct["email"] or st["cal"] != cal["id"]:
				raise GraphError(400, "BadRequest", "The delta token is invalid.")
			if st["gen"] != self.delta_gen:
				self._expired(st["initial"])
			since, lo, hi = st["seq"], st["lo"], st["hi"]
			items = []
			changed = sorted((e for e in acct["events"].values() if e["cal"] == cal["id"] and e["seq"] > since),
					 key=lambda e: e["seq"])
			ids = [e["id"] for e in changed]
			if self.delta_replay:
				ids = [i for i in st["last_ids"] if i not in ids] + ids
			for i in ids:
				e = acct["events"][i]
				items.append(("full", copy.deepcopy(e)) if not e["deleted"] and self._in_window(e, lo, hi) else ("removed", e["id"]))
			initial = st["initial"]
		else:
			for k in ("$select", "$filter", "$expand", "$orderby", "$search", "$top"):
				if k in q:
					raise GraphError(400, "ErrorInvalidUrlQuery", f"The following parameters are not supported with "
							 f"change tracking over the 'CalendarView' resource: '{k}'.")
			lo, hi = self._window(q)
			evs = sorted((e for e in acct["events"].values() if not e["deleted"] and e["cal"] == cal["id"]
				      and self._in_window(e, lo, hi)), key=lambda e: e["_start"]["utc"])
			items = [("full", copy.deepcopy(e)) for e in evs]
			initial = base + "?" + urllib.parse.urlencode({"startDateTime": q["startDateTime"][0],
									"endDateTime": q["endDateTime"][0]})
		sess = {"email": acct["email"], "cal": cal["id"], "items": items, "pos": 0, "seq": self.seq, "lo": lo, "hi": hi,
			"gen": self.delta_gen, "initial": initial}
		return self._page(acct, sess, base, tzname, page_size)

	def _expired(self, initial):
		if self.delta_expiry == "410":
			raise GraphError(410, "resyncRequired", "Resync required. Replace any local cache with the server's "
					 "version (if any) and use the returned delta link.", {"Location": initial})
		raise GraphError(400, "syncStateNotFound", "The sync state is not found or has expired. Perform a full sync "
				 "without a delta token.")

	def _page(self, acct, sess, base, tzname, page_size):
		chunk = sess["items"][sess["pos"]:sess["pos"] + page_size]
		sess["pos"] += len(chunk)
		value = []
		for kind, e in chunk:
			if kind == "full":
				value.append({"@odata.type": "#microsoft.graph.event"} | self._render(acct, e, tzname))
			else:
				value.append({"@odata.type": "#microsoft.graph.event", "id": e, "@removed": {"reason": "deleted"}})
		ans = {"@odata.context": f"{self.base_url}/v1.0/$metadata#Collection(event)", "value": value}
		if sess["pos"] < len(sess["items"]):
			tok = b64url(secrets.token_bytes(24))
			self.page_sessions[tok] = sess
			ans["@odata.nextLink"] = base + "?$skiptoken=" + tok
		else:
			tok = b64url(secrets.token_bytes(24))
			self.delta_states[tok] = {"email": acct["email"], "cal": sess["cal"], "seq": sess["seq"], "lo": sess["lo"],
						  "hi": sess["hi"], "gen": sess["gen"], "initial": sess["initial"],
						  "last_ids": [e["id"] if k == "full" else e for k, e in sess["items"]]}
			ans["@odata.deltaLink"] = base + "?$deltatoken=" + tok
		return ans

	# ------------------------------------------------------------ Graph: getSchedule

	def _schedule(self, acct, body):
		if acct["kind"] == "personal":
			raise GraphError(400, "ErrorInvalidRequest", "Your request can't be completed. getSchedule is not "
					 "supported for consumer (personal) accounts.")
		try:
			lo = parse_dt(body["startTime"]["dateTime"], body["startTime"].get("timeZone"))
			hi = parse_dt(body["endTime"]["dateTime"], body["endTime"].get("timeZone"))
			ivl = int(body.get("availabilityViewInterval", 30))
			who = list(body["schedules"])
		except (KeyError, TypeError, ValueError):
			raise GraphError(400, "ErrorInvalidRequest", "The request is invalid: schedules, startTime and endTime are required.")
		if not 5 <= ivl <= 1440 or hi <= lo:
			raise GraphError(400, "ErrorInvalidParameter", "availabilityViewInterval must be 5..1440 and endTime after startTime.")
		digit = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4", "unknown": "0"}
		out = []
		for addr in who:
			a = self.accounts.get(addr)
			if a is None:
				out.append({"scheduleId": addr, "availabilityView": "", "error": {"message": "The user could not be found.",
												   "responseCode": "ErrorMailRecipientNotFound"}})
				continue
			evs = [e for e in a["events"].values() if not e["deleted"] and not e.get("isCancelled")
			       and a["calendars"][e["cal"]]["isDefaultCalendar"] and self._in_window(e, lo, hi)]
			view, t = "", lo
			while t < hi:
				t2 = t + timedelta(minutes=ivl)
				ds = [digit[e.get("showAs", "busy")] for e in evs if self._in_window(e, t, t2)]
				view += max(ds) if ds else "0"
				t = t2
			items = [{"isPrivate": e.get("sensitivity") == "private", "status": e.get("showAs", "busy"),
				  "subject": e.get("subject", ""), "location": (e.get("location") or {}).get("displayName", ""),
				  "start": self._render_when(e["_start"], "UTC", False), "end": self._render_when(e["_end"], "UTC", False)}
				 for e in evs if e.get("showAs", "busy") != "free"]
			out.append({"scheduleId": addr, "availabilityView": view, "scheduleItems": items,
				    "workingHours": {"daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
						     "startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000",
						     "timeZone": {"name": "W. Europe Standard Time"}}})
		return {"@odata.context": f"{self.base_url}/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)", "value": out}

	# ------------------------------------------------------------ Graph: subscriptions

	def _sub_active(self, s):
		return not s["removed"] and s["expires"] > now_utc()

	def _sub_json(self, s):
		return {"@odata.context": f"{self.base_url}/v1.0/$metadata#subscriptions/$entity", "id": s["id"],
			"resource": s["resource"], "applicationId": s["client"], "changeType": s["changeType"],
			"clientState": s["clientState"], "notificationUrl": s["notificationUrl"],
			"lifecycleNotificationUrl": s["lifecycleNotificationUrl"],
			"expirationDateTime": s["expires"].strftime("%Y-%m-%dT%H:%M:%SZ"), "creatorId": s["creator"],
			"includeResourceData": False, "latestSupportedTlsVersion": s["tls"], "encryptionCertificate": None,
			"encryptionCertificateId": None, "notificationUrlAppId": None}

	def _expiry(self, v):
		try:
			exp = parse_dt(v)
		except ValueError:
			raise GraphError(400, "InvalidRequest", "expirationDateTime is missing or invalid.")
		now = now_utc()
		if exp <= now:
			raise GraphError(400, "InvalidRequest", "Subscription expiration must be in the future.")
		if exp > now + timedelta(minutes=self.max_subscription_minutes):
			raise GraphError(400, "InvalidRequest", f"Subscription expiration can only be {self.max_subscription_minutes} "
					 "minutes in the future.")
		return exp

	def _sub_check(self, acct, tok, body):
		"""Validated subscription fields (no network yet)."""
		if not isinstance(body, dict):
			raise GraphError(400, "InvalidRequest", "The request body is invalid.")
		ct = body.get("changeType")
		parts = ct.split(",") if isinstance(ct, str) else []
		if not parts or any(p.strip() not in ("created", "updated", "deleted") for p in parts):
			raise GraphError(400, "InvalidRequest", f"Invalid 'changeType' attribute: '{ct}'.")
		res = str(body.get("resource") or "").strip("/")
		cal = None
		m = re.fullmatch(r"(?i)(?:me|users/([^/]+))/(?:calendars/([^/]+)/|calendar/)?events", res)
		if not m or (m.group(1) and m.group(1) not in (acct["id"], acct["email"])):
			raise GraphError(400, "InvalidRequest", f"Resource '{res}' is not supported or the user is not the signed-in user.")
		if m.group(2):
			cal = self._cal(acct, urllib.parse.unquote(m.group(2)))["id"]
		elif "/calendar/" in res.lower():
			cal = self._cal(acct, None)["id"]
		urls = {}
		for k in ("notificationUrl", "lifecycleNotificationUrl"):
			u = body.get(k)
			if u is None and k == "lifecycleNotificationUrl":
				continue
			if not isinstance(u, str) or not u.startswith(("https://", "http://")) or \
					(self.require_https and not u.startswith("https://")):
				raise GraphError(400, "InvalidRequest", f"The {k} must be a valid HTTPS URL.")
			urls[k] = u
		cs = body.get("clientState")
		if cs is not None and (not isinstance(cs, str) or len(cs) > 128):
			raise GraphError(400, "InvalidRequest", "clientState must be a string of at most 128 characters.")
		if body.get("includeResourceData"):
			raise GraphError(400, "InvalidRequest", "A subscription with resource data needs encryptionCertificate "
					 "(not supported by the fake).")
		exp = self._expiry(body.get("expirationDateTime"))
		if sum(1 for s in self.subscriptions.values() if s["email"] == acct["email"] and self._sub_active(s)) >= self.max_subscriptions:
			raise GraphError(403, "ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; Reason: The "
					 "maximum number of subscriptions for this mailbox has been reached.]")
		return {"id": str(uuid.uuid4()), "email": acct["email"], "client": tok["client"], "resource": res, "cal": cal,
			"changeType": ",".join(p.strip() for p in parts), "clientState": cs,
			"notificationUrl": urls["notificationUrl"], "lifecycleNotificationUrl": urls.get("lifecycleNotificationUrl"),
			"expires": exp, "creator": acct["id"], "tls": body.get("latestSupportedTlsVersion") or "v1_2",
			"removed": False, "reauth": False}

	def _validate_url(self, url):
		"""The validation POST to one URL (no lock held). True when the receiver echoed the token correctly."""
		token = "Validation: Testing client application reachability for subscription Request-Id: " + str(uuid.uuid4())
		full = url + ("&" if "?" in url else "?") + "validationToken=" + urllib.parse.quote(token)
		t0 = time.time()
		st, hd, data, err = http_post(full, b"", {"Content-Type": "text/plain; charset=utf-8", "Content-Length": "0",
							  "User-Agent": "Microsoft-Graph-Validation"}, self.validation_timeout)
		ok = st == 200 and (hd.get("content-type") or "").lower().startswith("text/plain") and \
			data.decode("utf-8", "replace") == token
		with self.lock:
			self.deliveries.append({"kind": "validation", "url": url, "status": st, "error": err, "ok": ok,
						"seconds": round(time.time() - t0, 3), "time": t0})
		return ok

	def _sub_get(self, acct, sid):
		s = self.subscriptions.get(sid)
		if s is None or s["email"] != acct["email"] or not self._sub_active(s):
			raise GraphError(404, "ResourceNotFound", f"The object was not found. Subscription '{sid}' does not exist.")
		return s

	def _notify(self, acct, ev, change):
		for s in self.subscriptions.values():
			if s["email"] != acct["email"] or not self._sub_active(s) or change not in s["changeType"].split(","):
				continue
			if s["cal"] is not None and s["cal"] != ev["cal"]:
				continue
			res = f"Users/{acct['id']}/Events/{ev['id']}"
			item = {"subscriptionId": s["id"], "subscriptionExpirationDateTime": s["expires"].strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00"),
				"changeType": change, "resource": res, "tenantId": acct["tid"],
				"resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": res,
						 "@odata.etag": f'W/"{ev["changeKey"]}"', "id": ev["id"]}}
			if s["clientState"] is not None:
				item["clientState"] = s["clientState"]
			self._batch(s["notificationUrl"], item, "notification")

	def _batch(self, url, item, kind):
		key = (kind, url)
		b = self.batches.get(key)
		if b is None:
			b = self.batches[key] = {"url": url, "kind": kind, "items": []}
			self.sender.schedule(time.time() + self.notify_batch_ms / 1000.0, {"batch": key, "attempt": 1})
		b["items"].append(item)

	def _life_item(self, s, event):
		return {"subscriptionId": s["id"], "subscriptionExpirationDateTime": s["expires"].strftime("%Y-%m-%dT%H:%M:%SZ"),
			"tenantId": self.accounts[s["email"]]["tid"], "clientState": s["clientState"], "lifecycleEvent": event}

	def lifecycle(self, event, sub_id=None):
		"""Send lifecycle event (reauthorizationRequired | subscriptionRemoved | missed) for one or all active
		subscriptions that have a lifecycleNotificationUrl. subscriptionRemoved also removes them."""
		if event not in ("reauthorizationRequired", "subscriptionRemoved", "missed"):
			raise ValueError("event: reauthorizationRequired, subscriptionRemoved or missed")
		with self.lock:
			n = 0
			for s in self.subscriptions.values():
				if (sub_id is not None and s["id"] != sub_id) or not self._sub_active(s):
					continue
				item = self._life_item(s, event)
				if event == "reauthorizationRequired":
					s["reauth"] = True
				elif event == "subscriptionRemoved":
					s["removed"] = True
				if s["lifecycleNotificationUrl"]:
					self._batch(s["lifecycleNotificationUrl"], item, "lifecycle")
					n += 1
			return n

	def _deliver(self, job):
		with self.lock:
			if "batch" in job:
				b = self.batches.pop(job["batch"], None)
				if b is None:
					return
				job = {"url": b["url"], "kind": b["kind"], "body": json.dumps({"value": b["items"]}).encode(),
				       "items": len(b["items"]), "attempt": 1}
			timeout = self.notify_timeout
		t0 = time.time()
		st, _, _, err = http_post(job["url"], job["body"], {"Content-Type": "application/json; charset=utf-8",
								    "User-Agent": "Microsoft-Graph-ChangeTracking"}, timeout)
		rec = {"kind": job["kind"], "url": job["url"], "items": job["items"], "attempt": job["attempt"], "status": st,
		       "error": err, "time": t0, "seconds": round(time.time() - t0, 3),
		       "body": json.loads(job["body"])}
		with self.lock:
			self.deliveries.append(rec)
			failed = st is None or st >= 500
			retry = failed and job["attempt"] < self.notify_max_attempts
			base = self.notify_retry_base
			if failed and not retry and job["kind"] == "notification" and self.missed_on_drop:
				# given up: the subscriptions concerned get a "missed" lifecycle event
				for sid in dict.fromkeys(i["subscriptionId"] for i in rec["body"]["value"]):
					s = self.subscriptions.get(sid)
					if s is not None and self._sub_active(s) and s["lifecycleNotificationUrl"]:
						self._batch(s["lifecycleNotificationUrl"], self._life_item(s, "missed"), "lifecycle")
		if retry:
			self.sender.schedule(time.time() + base * 2 ** (job["attempt"] - 1), dict(job, attempt=job["attempt"] + 1))



def _error_page(e):
	x = html.escape
	return ("<!DOCTYPE html>\n<html lang=\"de\"><head><meta charset=\"utf-8\"><title>Anmeldung</title></head><body>"
		"<h1>Leider kann Ihre Anmeldung nicht abgeschlossen werden.</h1>"
		f"<p id=\"error\">AADSTS{e.code}: {x(e.text)}</p></body></html>\n").encode()


class _Handler(BaseHandler):
	server_version = "Microsoft-IIS/10.0"
	json_type = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	redact_form = REDACT_FORM

	def _send(self, status, body=b"", ctype=None, headers=None):
		"""Graph answers carry request-id and echo client-request-id."""
		if self.path.startswith("/v1.0/"):
			rid = str(uuid.uuid4())
			headers = {"request-id": rid, "client-request-id": self.headers.get("client-request-id") or rid} | (headers or {})
		super()._send(status, body, ctype, headers)

	def _too_large(self):
		self._json(413, GraphError(413, "RequestEntityTooLarge", "The request is too large.").body())

	def _internal_error(self):
		self._json(500, GraphError(500, "generalException", "An unspecified error has occurred.").body())

	def _answer(self, e):
		if isinstance(e, GraphError):
			crid = self.headers.get("client-request-id")
			self._json(e.status, e.body(crid), e.headers)
		elif isinstance(e, AadError):
			self._json(e.status, e.body(), {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"} | e.headers)
		elif isinstance(e, ErrorPage):
			self._send(e.status, _error_page(e), "text/html; charset=utf-8", {"Cache-Control": "no-store"})
		else:
			return False
		return True

	def _serve(self, method, path, q, body):
		f = self.fake
		if not path.startswith("/v1.0/"):     # Graph paths fail after authentication (in _graph)
			with f.lock:
				fail = f._failure(method, path)
			if fail is not None:
				raise self._aad_failure(fail)
		self._route(method, path, q, body)

	@staticmethod
	def _aad_failure(fail):
		"""A fail() knob on the identity platform's paths, in its own error shape."""
		if fail.status == 429:
			return AadError(429, "temporarily_unavailable", 50196, "The server terminated an operation because it "
					"encountered a client request loop. Please contact your app vendor.", fail.headers)
		return AadError(fail.status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.",
				fail.headers)

	def _route(self, method, path, q, body):
		f = self.fake
		m = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/(authorize|token|consent)", path)
		if m:
			tenant, what = urllib.parse.unquote(m.group(1)), m.group(2)
			if what == "authorize":
				if method != "GET":
					raise ErrorPage(405, 900561, "The endpoint only accepts GET requests.")
				with f.lock:
					kind, val = f._authorize(tenant, q)
				if kind == "page":
					return self._send(200, val.encode(), "text/html; charset=utf-8",
							  {"Cache-Control": "no-store", "X-Frame-Options": "DENY"})
				return self._send(302, b"", None, {"Location": val, "Cache-Control": "no-store"})
			if what == "consent":
				if method != "POST":
					raise ErrorPage(405, 900561, "The endpoint only accepts POST requests.")
				with f.lock:
					url = f._consent(self._form(body))
				return self._send(302, b"", None, {"Location": url, "Cache-Control": "no-store"})
			if method != "POST":
				raise AadError(405, "invalid_request", 900561, "The endpoint only accepts POST, OPTIONS requests. Received a GET request.")
			ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
			if ctype != "application/x-www-form-urlencoded":
				raise AadError(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
			with f.lock:
				ans = f._token(tenant, self.headers, self._form(body))
			return self._json(200, ans, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})
		m = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", path)
		if m and method == "GET":
			a = f"{f.base_url}/{m.group(1)}"
			return self._json(200, {"authorization_endpoint": a + "/oauth2/v2.0/authorize",
						"token_endpoint": a + "/oauth2/v2.0/token", "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
						"response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
						"scopes_supported": ["openid", "profile", "email", "offline_access"],
						"code_challenge_methods_supported": ["plain", "S256"]})
		if path.startswith("/v1.0/"):
			return self._graph(method, path[len("/v1.0/"):], q, body)
		raise GraphError(404, "BadRequest", f"Resource not found for the segment '{path.strip('/').split('/')[0]}'.")

	def _jbody(self, body):
		if not body:
			return {}
		try:
			return json.loads(body.decode("utf-8"))
		except ValueError:
			raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header "
					 "is set and payload is of valid JSON format.")

	def _graph(self, method, rel, q, body):
		f = self.fake
		segs = [urllib.parse.unquote(s) for s in rel.strip("/").split("/")]
		segs[0] = segs[0].lower()
		n = len(segs)
		route, need, cal_id = None, READ_SCOPES, "-"
		# normalise the calendar prefix: me/calendar/... (default) and me/calendars/{id}/...
		rest = None
		if segs[:2] == ["me", "calendar"]:
			cal_id, rest = None, segs[2:]
		elif segs[:2] == ["me", "calendars"] and n >= 3:
			cal_id, rest = segs[2], segs[3:]
		if segs == ["me"] and method == "GET":
			route, need = "me", ME_SCOPES
		elif segs == ["me", "calendars"] and method == "GET":
			route = "calendars"
		elif rest == [] and method == "GET":
			route = "calendar"
		elif rest == ["events"] or segs == ["me", "events"]:
			route, need = ("list", READ_SCOPES) if method == "GET" else ("create", WRITE_SCOPES) if method == "POST" else (None, None)
		elif (rest is not None and len(rest) == 2 and rest[0] == "events") or (segs[:2] == ["me", "events"] and n == 3):
			eid = rest[1] if rest is not None else segs[2]
			route = {"GET": "get", "PATCH": "patch", "DELETE": "delete"}.get(method)
			need = READ_SCOPES if method == "GET" else WRITE_SCOPES
		elif (rest == ["calendarView"] or segs == ["me", "calendarView"]) and method == "GET":
			route = "view"
		elif (rest == ["calendarView", "delta"] or segs == ["me", "calendarView", "delta"]) and method == "GET":
			route = "delta"
		elif rest == ["getSchedule"] and cal_id is None and method == "POST":
			route = "schedule"
		elif segs == ["subscriptions"] and method in ("GET", "POST"):
			route = "subs" if method == "GET" else "sub_create"
		elif segs[0] == "subscriptions" and n == 2 and method in ("GET", "PATCH", "DELETE"):
			route = "sub_" + method.lower()
		elif segs[0] == "subscriptions" and n == 3 and segs[2] == "reauthorize" and method == "POST":
			route = "sub_reauth"
		if route is None:
			raise GraphError(405 if segs[0] in ("me", "subscriptions") and n <= 5 else 400,
					 "BadRequest" if segs[0] not in ("me", "subscriptions") else "ErrorInvalidRequest",
					 f"Unsupported request: {method} /{rel}")
		pref = prefer(self.headers)
		tzname = pref.get("outlook.timezone") or "UTC"
		try:
			page_size = max(1, min(1000, int(pref["odata.maxpagesize"]))) if "odata.maxpagesize" in pref else None
		except ValueError:
			page_size = None
		with f.lock:
			tok = f._bearer(self.headers, need)
			fail = f._failure(method, "/v1.0/" + rel)
		if fail is not None:
			raise fail
		hdr = {"Preference-Applied": f'outlook.timezone="{tzname}"'} if "outlook.timezone" in pref else {}
		if route == "sub_create":
			with f.lock:
				s = f._sub_check(f.accounts[tok["email"]], tok, self._jbody(body))
			for k in ("notificationUrl", "lifecycleNotificationUrl"):
				if s[k] and not f._validate_url(s[k]):
					raise GraphError(400, "InvalidRequest", "Subscription validation request failed. Notification "
							 "endpoint must respond with 200 OK to validation request.")
			with f.lock:
				f.subscriptions[s["id"]] = s
				return self._json(201, f._sub_json(s))
		with f.lock:
			acct = f.accounts[tok["email"]]
			cal = f._cal(acct, cal_id) if cal_id != "-" else None
			if route == "me":
				return self._json(200, {"@odata.context": f"{f.base_url}/v1.0/$metadata#users/$entity",
							"businessPhones": [], "displayName": acct["name"], "givenName": acct["name"].split()[0],
							"jobTitle": None, "mail": acct["email"] if acct["mail"] else None,
							"mobilePhone": None, "officeLocation": None, "preferredLanguage": "de-DE",
							"surname": acct["name"].split()[-1], "userPrincipalName": acct["email"], "id": acct["id"]})
			if route == "calendars":
				return self._json(200, {"@odata.context": f"{f.base_url}/v1.0/$metadata#users('{acct['id']}')/calendars",
							"value": [dict(c) for c in acct["calendars"].values()]})
			if route == "calendar":
				return self._json(200, dict(cal))
			if route == "list":
				return self._json(200, {"@odata.context": f"{f.base_url}/v1.0/$metadata#users('{acct['id']}')/events",
							"value": f._list(acct, cal, q, tzname)}, hdr)
			if route == "create":
				ev = f._create(acct, cal or f._cal(acct, None), self._jbody(body))
				return self._json(201, {"@odata.context": f"{f.base_url}/v1.0/$metadata#users('{acct['id']}')/events/$entity"}
						  | f._render(acct, ev, tzname), hdr)
			if route == "get":
				return self._json(200, f._render(acct, f._event(acct, eid, cal), tzname, f._expand_arg(q)), hdr)
			if route == "patch":
				return self._json(200, f._render(acct, f._patch(acct, eid, self._jbody(body), cal), tzname), hdr)
			if route == "delete":
				f._delete(acct, eid, cal)
				return self._send(204)
			if route == "view":
				return self._json(200, {"value": f._calendar_view(acct, cal or f._cal(acct, None), q, tzname)}, hdr)
			if route == "delta":
				ans = f._delta(acct, cal or f._cal(acct, None), q, rel.split("?")[0], tzname, page_size or f.delta_page_size)
				if page_size:
					hdr["Preference-Applied"] = ", ".join(filter(None, [hdr.get("Preference-Applied"), f"odata.maxpagesize={page_size}"]))
				return self._json(200, ans, hdr)
			if route == "schedule":
				return self._json(200, f._schedule(acct, self._jbody(body)), hdr)
			if route == "subs":
				return self._json(200, {"value": [f._sub_json(s) for s in f.subscriptions.values()
								  if s["email"] == acct["email"] and f._sub_active(s)]})
			s = f._sub_get(acct, segs[1])
			if route == "sub_get":
				return self._json(200, f._sub_json(s))
			if route == "sub_patch":
				j = self._jbody(body)
				if set(j) - {"expirationDateTime", "notificationUrl"}:
					raise GraphError(400, "InvalidRequest", "Only expirationDateTime and notificationUrl can be updated.")
				s["expires"] = f._expiry(j.get("expirationDateTime"))
				s["reauth"] = False
				return self._json(200, f._sub_json(s))
			if route == "sub_reauth":
				s["reauth"] = False
				return self._send(204)
			if route == "sub_delete":
				s["removed"] = True
				return self._send(204)

	# ------------------------------------------------------------ CONTROL (/_fake/, JSON)
	#   common.BaseHandler._control_common: requests, knobs, fail, deliveries, reset
	#   POST /_fake/accounts {"email", "name", "kind": "work"|"personal", "mail": bool, "teams": bool}
	#   POST /_fake/calendars {"account", "name", "canEdit"}     GET /_fake/calendars?account=
	#   GET  /_fake/events?account=&calendarId=&deleted=1
	#   POST /_fake/events {"account", "calendarId", "event"}
	#   POST /_fake/events/patch {"account", "eventId", "patch"}    POST /_fake/events/delete {"account", "eventId"}
	#   POST /_fake/tokens {"email", "scope"}                tokens without the browser (benches)
	#   POST /_fake/expire {"what": "access" | "delta" | "subscriptions", "email", "subscriptionId"}
	#   POST /_fake/refresh-error {"code": 70008|700082|50173|50076, "email"}
	#   POST /_fake/lifecycle {"event", "subscriptionId"}
	#   GET  /_fake/subscriptions
	# "account" defaults to the knob account_email, "calendarId" to the default calendar.

	def _control(self, method, path, q, j):
		f = self.fake
		acct = j.get("account") or (q.get("account") or [f.account_email])[0]
		cid = j.get("calendarId") or (q.get("calendarId") or [None])[0]
		key = (method, path)
		if key == ("POST", "/_fake/accounts"):
			a = f.add_account(j["email"], j.get("name"), j.get("kind", "work"), j.get("mail", True), j.get("teams", True))
			return self._json(200, {"email": a["email"], "id": a["id"], "kind": a["kind"], "calendars": list(a["calendars"])})
		if key == ("POST", "/_fake/calendars"):
			return self._json(200, f.add_calendar(acct, j.get("name", "Kalender"), can_edit=bool(j.get("canEdit", True))))
		if key == ("GET", "/_fake/calendars"):
			return self._json(200, {"value": f.calendars(acct)})
		if key == ("GET", "/_fake/events"):
			return self._json(200, {"value": f.events(acct, cid, bool((q.get("deleted") or [""])[0]))})
		if key == ("POST", "/_fake/events"):
			return self._json(200, f.create_event(acct, j["event"], cid))
		if key == ("POST", "/_fake/events/patch"):
			return self._json(200, f.patch_event(acct, j["eventId"], j["patch"]))
		if key == ("POST", "/_fake/events/delete"):
			f.delete_event(acct, j["eventId"])
			return self._json(200, {})
		if key == ("POST", "/_fake/tokens"):
			return self._json(200, f.issue_tokens(j.get("email") or acct, j.get("scope") or
							      "offline_access User.Read Calendars.ReadWrite"))
		if key == ("POST", "/_fake/expire"):
			what = j["what"]
			{"access": lambda: f.expire_access_tokens(j.get("email")), "delta": f.expire_delta_tokens,
			 "subscriptions": lambda: f.expire_subscriptions(j.get("subscriptionId"))}[what]()
			return self._json(200, {})
		if key == ("POST", "/_fake/refresh-error"):
			f.refresh_error(j["code"], j.get("email"))
			return self._json(200, {})
		if key == ("POST", "/_fake/lifecycle"):
			return self._json(200, {"sent": f.lifecycle(j["event"], j.get("subscriptionId"))})
		if key == ("GET", "/_fake/subscriptions"):
			return self._json(200, {"value": f.subscription_list()})
		return self._json(404, {"error": f"no control endpoint {method} {path}"})


FakeMicrosoft.HANDLER = _Handler


def main(argv=None):
	return cli_main(FakeMicrosoft, "Fake Microsoft identity platform + Graph calendar for tests.", "ana@contoso.com", argv,
			lambda ap: ap.add_argument("--tenant", default="common",
						   help="tenant segment of the printed MICROSOFT_AUTHORITY"),
			lambda fake, a: fake.env(a.tenant))

if __name__ == "__main__":
	sys.exit(main())
