#!/usr/bin/python3
"""google.py: a protocol-faithful fake of Google OAuth 2.0 + Calendar API v3 + push for the tests (stdlib only).

Follows docs/providers.md §1, §2 and §6 (the Google part). One HTTP server serves everything under
its base URL; point the app at it with

    GOOGLE_AUTH_URI   = {base}/o/oauth2/v2/auth
    GOOGLE_TOKEN_URI  = {base}/token
    GOOGLE_REVOKE_URI = {base}/revoke
    GOOGLE_API_BASE   = {base}/calendar/v3        (Calendar API root, like https://www.googleapis.com/calendar/v3)

Also served: {base}/oauth2/v3/userinfo and {base}/v1/userinfo (OIDC userinfo, bearer), {base}/tokeninfo,
{base}/signin/oauth/consent (the consent form's target). FakeGoogle.env() returns the four values.

Python:
    from google import FakeGoogle            # sys.path += tests/fakes
    g = FakeGoogle(port=0, redirect_uris=["http://127.0.0.1:8080/cb"]).start()
    g.base_url; g.consent = "approve"; g.fail("rateLimit429", count=2); g.requests; g.stop()
CLI:
    python3 tests/fakes/google.py --port N [--latency-ms 50] [--redirect-uri URI]... [--auto-approve]
    prints the base URL on stdout (one line), the four settings on stderr, runs until SIGTERM/SIGINT.
Control over HTTP (JSON, no auth; bind to 127.0.0.1): see CONTROL below / the README of tests/fakes.

OAuth (§1): GET /o/oauth2/v2/auth checks client_id (unknown → dead-end page 401 invalid_client),
redirect_uri registered (else dead-end 400 redirect_uri_mismatch; knob redirect_uri_mismatch forces
it), response_type=code, scope, code_challenge_method (S256|plain; plain when a challenge comes
without one), prompt (none|consent|select_account; none alone). knob consent: "page" (default: an
HTML consent page in German with per-scope checkboxes for the calendar scopes, buttons "Zulassen" /
"Ablehnen"), "approve" or "deny" (no page). Redirect: ?state&code&scope&authuser=0&prompt=consent or
?error=access_denied&state. Knob deny_scopes: scopes the user unticks (granular consent).
POST /token: form body only; client auth in the body or HTTP Basic (401 invalid_client); grant_type
authorization_code (code single use, 10 min, bound to client + redirect_uri, PKCE S256/plain
verifier) and refresh_token; refresh_token issued only with access_type=offline on the first
consent of that user for this client or with prompt=consent; refresh answers carry no
refresh_token; errors in RFC 6749 §5.2 shape. Knobs expires_in, refresh_token_ttl ("Testing" 7-day
expiry), code_ttl. id_token (when openid was granted) is HS256-signed with the client secret
(Google signs RS256 with published keys; read the e-mail from userinfo or trust the TLS channel).
POST /revoke (token in the form body or ?token=) kills the whole grant: refresh token and every
access token derived from it; unknown → 400 invalid_token.
API authentication: no/unknown/expired/revoked bearer → 401 authError JSON + WWW-Authenticate;
missing scope → 403 insufficientPermissions. Scopes accepted: calendarList needs calendar,
calendar.readonly, calendar.calendarlist(.readonly); event reads need calendar(.readonly) or
calendar.events(.readonly|.owned); event writes need calendar, calendar.events or
calendar.events.owned; freeBusy also calendar.freebusy / calendar.events.freebusy.

Calendar (§2): calendarList.list/get, calendars.get, events.insert/get/patch/update/delete/list/
instances, events.watch, channels.stop, freeBusy.query. Errors: {"error": {"errors": [{"domain",
"reason", "message"[, "locationType", "location"]}], "code", "message", "status"}} ("status" is the
gRPC name, unverified per §8.4). Supported recurrence (singleEvents expansion, instances, freeBusy):
one RRULE with FREQ=DAILY|WEEKLY|MONTHLY|YEARLY, INTERVAL, COUNT, UNTIL, BYDAY (plain weekdays, for
DAILY/WEEKLY), BYMONTHDAY (MONTHLY), WKST; EXDATE and RDATE (UTC, TZID or floating date-times, or
VALUE=DATE for all-day events). Anything else (BYSETPOS, BYMONTH, numbered BYDAY, EXRULE, ...) is
refused with 400 "invalid" and a message saying the fake does not support it. Unbounded series are
expanded up to 730 days after max(now, series start) and at most 2500 instances per series.
Instance ids are {seriesId}_{YYYYMMDDTHHMMSSZ} (timed) or {seriesId}_{YYYYMMDD} (all-day); changing
or deleting an instance stores an exception (cancelled for delete).
Not reproduced: batch, ACLs/sharing, attachments, colors, sendUpdates e-mails, maxAttendees,
the timeZone list parameter, updatedMinTooLongAgo, If-None-Match on lists, event moves.

Push (§2.9): events.watch answers {kind, id, resourceId, resourceUri, token, expiration (ms string)}
and then POSTs a "sync" notification (message number 1, empty body, X-Goog-* headers); every later
change of the calendar POSTs "exists" with increasing, non-consecutive numbers; deleting the
calendar (helper) POSTs "not_exists". Expired or stopped channels are silent; channels.stop with an
unknown id or a wrong resourceId → 404. Receiver 500/502/503/504 or no answer → retried with
exponential backoff (push_retry_base, push_max_attempts); any other non-2xx → dropped. Addresses
may be http:// (local receivers) unless require_https_address is set.

Knobs for failures: fail(kind, count=N | fraction=p, path_prefix="/calendar/v3/", method=None):
kinds rateLimitExceeded (403), userRateLimitExceeded (403), rateLimit429 (429, Retry-After),
quotaExceeded (403), backendError (500), serviceUnavailable (503, Retry-After). latency_ms delays
every non-control request.
"""
import base64
import copy
import email.utils
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
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common import BaseHandler, FakeBase, Sender, b64url, cli_main, http_post

UTC = timezone.utc
EXPANSION_DAYS = 730
MAX_INSTANCES = 2500
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
SCOPE_ALIASES = {"email": SCOPE_PREFIX + "userinfo.email", "profile": SCOPE_PREFIX + "userinfo.profile"}
BASIC_SCOPES = {"openid", SCOPE_PREFIX + "userinfo.email", SCOPE_PREFIX + "userinfo.profile"}
KNOWN_SCOPES = BASIC_SCOPES | {SCOPE_PREFIX + s for s in (
	"calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly", "calendar.events.owned",
	"calendar.events.owned.readonly", "calendar.calendarlist", "calendar.calendarlist.readonly",
	"calendar.freebusy", "calendar.events.freebusy", "calendar.settings.readonly")}
SCOPES_CALLIST = {SCOPE_PREFIX + s for s in ("calendar", "calendar.readonly", "calendar.calendarlist",
					      "calendar.calendarlist.readonly")}
SCOPES_EV_READ = {SCOPE_PREFIX + s for s in ("calendar", "calendar.readonly", "calendar.events",
					     "calendar.events.readonly", "calendar.events.owned",
					     "calendar.events.owned.readonly")}
SCOPES_EV_WRITE = {SCOPE_PREFIX + s for s in ("calendar", "calendar.events", "calendar.events.owned")}
SCOPES_FREEBUSY = SCOPES_EV_READ | {SCOPE_PREFIX + "calendar.freebusy", SCOPE_PREFIX + "calendar.events.freebusy"}
SCOPE_LABELS = {
	SCOPE_PREFIX + "calendar": "Alle Kalender in Google Kalender ansehen, bearbeiten, teilen und dauerhaft löschen",
	SCOPE_PREFIX + "calendar.readonly": "Alle Kalender in Google Kalender ansehen und herunterladen",
	SCOPE_PREFIX + "calendar.events": "Termine in allen Kalendern ansehen und bearbeiten",
	SCOPE_PREFIX + "calendar.events.readonly": "Termine in allen Kalendern ansehen",
	SCOPE_PREFIX + "calendar.calendarlist.readonly": "Liste der abonnierten Kalender ansehen",
}
GRPC_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	       409: "ALREADY_EXISTS", 410: "FAILED_PRECONDITION", 412: "FAILED_PRECONDITION",
	       429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
FAIL_KINDS = {
	"rateLimitExceeded": (403, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded", False),
	"userRateLimitExceeded": (403, "usageLimits", "userRateLimitExceeded", "User Rate Limit Exceeded", False),
	"rateLimit429": (429, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded", True),
	"quotaExceeded": (403, "usageLimits", "quotaExceeded", "Calendar usage limits exceeded.", False),
	"backendError": (500, "global", "backendError", "Backend Error", False),
	"serviceUnavailable": (503, "global", "backendError", "The service is currently unavailable.", True),
}
EVENT_ID_RE = re.compile(r"^[a-v0-9]{5,1024}$")
CHANNEL_ID_RE = re.compile(r"^[A-Za-z0-9\-_+/=]{1,64}$")
RFC3339_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
READ_ONLY = {"kind", "etag", "htmlLink", "created", "updated", "creator", "organizer", "hangoutLink",
	     "recurringEventId", "originalStartTime", "privateCopy", "iCalUID", "id", "conferenceData"}
WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
B32HEX = "0123456789abcdefghijklmnopqrstuv"
REDACT_FORM = {"client_secret", "code", "code_verifier", "refresh_token", "token", "access_token"}


class ApiError(Exception):
	"""A Calendar API error answer (§2.10)."""

	def __init__(self, code, reason, message, domain="global", location=None, location_type=None, headers=None):
		super().__init__(message)
		self.code, self.reason, self.message, self.domain = code, reason, message, domain
		self.location, self.location_type, self.headers = location, location_type, headers or {}

	def body(self):
		item = {"domain": self.domain, "reason": self.reason, "message": self.message}
		if self.location:
			item["locationType"] = self.location_type or "parameter"
			item["location"] = self.location
		err = {"errors": [item], "code": self.code, "message": self.message}
		if self.code in GRPC_STATUS:
			err["status"] = GRPC_STATUS[self.code]
		return {"error": err}


class OAuthError(Exception):
	"""A token-endpoint error answer (RFC 6749 §5.2)."""

	def __init__(self, status, error, description):
		super().__init__(description)
		self.status, self.error, self.description = status, error, description


class DeadEnd(Exception):
	"""An authorization error Google shows on its own page instead of redirecting (§1.2)."""

	def __init__(self, status, error, detail):
		super().__init__(detail)
		self.status, self.error, self.detail = status, error, detail


# ---------------------------------------------------------------- time helpers

def now_utc():
	return datetime.now(UTC)


def fmt_ts(dt):
	"""RFC 3339 UTC with milliseconds, as Google writes created/updated."""
	dt = dt.astimezone(UTC)
	return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def fmt_utc(dt):
	return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(s, tzname=None):
	"""Aware datetime from RFC 3339; without an offset tzname must name the zone; else ValueError."""
	m = RFC3339_RE.match(s) if isinstance(s, str) else None
	if not m:
		raise ValueError("not RFC 3339")
	y, mo, d, h, mi, se = (int(x) for x in m.groups()[:6])
	frac = m.group(7)
	us = int((frac[1:] + "000000")[:6]) if frac else 0
	naive = datetime(y, mo, d, h, mi, se, us)
	off = m.group(8)
	if off is None:
		if not tzname:
			raise ValueError("no offset")
		return naive.replace(tzinfo=zone(tzname))
	if off in ("Z", "z"):
		return naive.replace(tzinfo=UTC)
	sign = 1 if off[0] == "+" else -1
	return naive.replace(tzinfo=timezone(sign * timedelta(hours=int(off[1:3]), minutes=int(off[4:6]))))


def parse_date(s):
	m = DATE_RE.match(s) if isinstance(s, str) else None
	if not m:
		raise ValueError("not a date")
	return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def zone(name):
	try:
		return ZoneInfo(name)
	except (ZoneInfoNotFoundError, ValueError, TypeError):
		raise ValueError("unknown time zone")


def day_start(d, tzname):
	return datetime(d.year, d.month, d.day, tzinfo=zone(tzname)).astimezone(UTC)


def rand_b32hex(n):
	return "".join(secrets.choice(B32HEX) for _ in range(n))


# ---------------------------------------------------------------- recurrence

def _rr_dt(value, params, tzname, is_date):
	"""One RRULE UNTIL / EXDATE / RDATE value: date for all-day events, aware UTC datetime else."""
	if params.get("VALUE", "").upper() == "DATE" or re.fullmatch(r"\d{8}", value):
		if not is_date:
			raise ApiError(400, "invalid", "fake: a date value (UNTIL/EXDATE/RDATE) in a timed event is not supported")
		d = date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
		return d
	m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)", value)
	if not m:
		raise ApiError(400, "invalid", "Invalid recurrence rule.")
	naive = datetime(*(int(x) for x in m.groups()[:6]))
	if is_date:
		return naive.date()
	if m.group(7):
		return naive.replace(tzinfo=UTC)
	return naive.replace(tzinfo=zone(params.get("TZID") or tzname)).astimezone(UTC)


def parse_recurrence(lines, tzname, is_date):
	"""(rule dict, exdates, rdates) from an event's recurrence lines; ApiError on anything unsupported."""
	if not isinstance(lines, list) or not lines:
		raise ApiError(400, "invalid", "Invalid recurrence rule.")
	rule, ex, rd = None, [], []
	for line in lines:
		if not isinstance(line, str) or ":" not in line:
			raise ApiError(400, "invalid", "Invalid recurrence rule.")
		name, _, value = line.partition(":")
		parts = name.split(";")
		prop = parts[0].strip().upper()
		params = {}
		for p in parts[1:]:
			k, _, v = p.partition("=")
			params[k.upper()] = v
		try:
			if prop == "RRULE":
				if rule is not None:
					raise ApiError(400, "invalid", "fake: more than one RRULE is not supported")
				rule = parse_rrule(value, tzname, is_date)
			elif prop in ("EXDATE", "RDATE"):
				vals = [_rr_dt(v.strip(), params, tzname, is_date) for v in value.split(",") if v.strip()]
				(ex if prop == "EXDATE" else rd).extend(vals)
			elif prop == "EXRULE":
				raise ApiError(400, "invalid", "fake: EXRULE is not supported")
			else:
				raise ApiError(400, "invalid", "Invalid recurrence rule.")
		except ValueError:
			raise ApiError(400, "invalid", "Invalid recurrence rule.")
	if rule is None and not rd:
		raise ApiError(400, "invalid", "Invalid recurrence rule.")
	return rule, ex, rd


def parse_rrule(value, tzname, is_date):
	r = {"freq": None, "interval": 1, "count": None, "until": None, "byday": None, "bymonthday": None, "wkst": 0}
	for part in value.split(";"):
		if not part:
			continue
		k, _, v = part.partition("=")
		k = k.upper()
		v = v.strip()
		if k == "FREQ":
			if v.upper() not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
				raise ApiError(400, "invalid", f"fake: FREQ={v} is not supported")
			r["freq"] = v.upper()
		elif k == "INTERVAL":
			if not v.isdigit() or int(v) < 1:
				raise ApiError(400, "invalid", "Invalid recurrence rule.")
			r["interval"] = int(v)
		elif k == "COUNT":
			if not v.isdigit() or int(v) < 1:
				raise ApiError(400, "invalid", "Invalid recurrence rule.")
			r["count"] = int(v)
		elif k == "UNTIL":
			r["until"] = _rr_dt(v, {}, tzname, is_date)
		elif k == "BYDAY":
			days = []
			for d in v.upper().split(","):
				if d not in WEEKDAYS:
					raise ApiError(400, "invalid", f"fake: BYDAY={d} is not supported (plain weekdays only)")
				days.append(WEEKDAYS[d])
			r["byday"] = sorted(set(days))
		elif k == "BYMONTHDAY":
			try:
				md = [int(x) for x in v.split(",")]
			except ValueError:
				raise ApiError(400, "invalid", "Invalid recurrence rule.")
			if any(x == 0 or abs(x) > 31 for x in md):
				raise ApiError(400, "invalid", "Invalid recurrence rule.")
			r["bymonthday"] = md
		elif k == "WKST":
			if v.upper() not in WEEKDAYS:
				raise ApiError(400, "invalid", "Invalid recurrence rule.")
			r["wkst"] = WEEKDAYS[v.upper()]
		else:
			raise ApiError(400, "invalid", f"fake: RRULE part {k} is not supported")
	if r["freq"] is None:
		raise ApiError(400, "invalid", "Invalid recurrence rule.")
	if r["count"] is not None and r["until"] is not None:
		raise ApiError(400, "invalid", "Invalid recurrence rule.")
	if r["byday"] is not None and r["freq"] not in ("DAILY", "WEEKLY"):
		raise ApiError(400, "invalid", f"fake: BYDAY with FREQ={r['freq']} is not supported")
	if r["bymonthday"] is not None and r["freq"] != "MONTHLY":
		raise ApiError(400, "invalid", f"fake: BYMONTHDAY with FREQ={r['freq']} is not supported")
	return r


def _gen(rule, start):
	"""Candidate starts (naive datetime or date) of rule in order, before COUNT/UNTIL."""
	step, iv = 0, rule["interval"]
	is_date = not isinstance(start, datetime)
	sd = start if is_date else start.date()

	def at(d):
		return d if is_date else datetime.combine(d, start.time())
	while step < 200000:
		if rule["freq"] == "DAILY":
			d = sd + timedelta(days=step * iv)
			if rule["byday"] is None or d.weekday() in rule["byday"]:
				yield at(d)
		elif rule["freq"] == "WEEKLY":
			wk = rule["wkst"]
			week0 = sd - timedelta(days=(sd.weekday() - wk) % 7)
			base = week0 + timedelta(weeks=step * iv)
			for wd in sorted(rule["byday"] or [sd.weekday()], key=lambda x: (x - wk) % 7):
				d = base + timedelta(days=(wd - wk) % 7)
				if d >= sd:
					yield at(d)
		elif rule["freq"] == "MONTHLY":
			mi = sd.month - 1 + step * iv
			y, m = sd.year + mi // 12, mi % 12 + 1
			last = (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)).day
			days = sorted({(x if x > 0 else last + x + 1) for x in (rule["bymonthday"] or [sd.day])})
			for md in days:
				if 1 <= md <= last:
					d = date(y, m, md)
					if d >= sd:
						yield at(d)
		else:
			try:
				d = date(sd.year + step * iv, sd.month, sd.day)
				yield at(d)
			except ValueError:
				pass
		step += 1


def expand(ev, cal_tz, lo, hi):
	"""Occurrences of a recurring event overlapping [lo, hi) (aware UTC; None = unbounded, capped):
	list of (original_start, start, end) where the values are aware datetimes (timed) or dates."""
	s, e = ev["start"], ev["end"]
	is_date = "date" in s
	if is_date:
		tzname = s.get("timeZone") or cal_tz
		start, end = parse_date(s["date"]), parse_date(e["date"])
	else:
		tzname = s["timeZone"]
		tz = zone(tzname)
		start = parse_rfc3339(s["dateTime"], tzname).astimezone(tz).replace(tzinfo=None)
		dur = parse_rfc3339(e["dateTime"], e.get("timeZone") or tzname) - parse_rfc3339(s["dateTime"], tzname)
	rule, exd, rdd = parse_recurrence(ev["recurrence"], tzname, is_date)
	horizon = max(now_utc(), day_start(start, tzname) if is_date else start.replace(tzinfo=tz).astimezone(UTC))
	horizon += timedelta(days=EXPANSION_DAYS)
	limit_hi = min(hi, horizon) if hi is not None else horizon

	def as_utc(x):
		return day_start(x, tzname) if is_date else x.replace(tzinfo=tz).astimezone(UTC)
	starts = []
	if rule is not None:
		n = 0
		for cand in _gen(rule, start):
			u = as_utc(cand)
			if rule["count"] is not None and n >= rule["count"]:
				break
			if rule["until"] is not None and (cand > rule["until"] if is_date else u > rule["until"]):
				break
			if u >= limit_hi or len(starts) >= MAX_INSTANCES:
				break
			n += 1
			starts.append(cand)
	for r in rdd:
		cand = r if is_date else r.astimezone(tz).replace(tzinfo=None)
		if cand not in starts:
			starts.append(cand)
	exk = set(exd) if is_date else {x.astimezone(UTC) for x in exd}
	out = []
	for cand in sorted(starts):
		if (cand if is_date else as_utc(cand)) in exk:
			continue
		if is_date:
			b, en = cand, cand + (end - start)
			bu, eu = day_start(b, tzname), day_start(en, tzname)
			os_, st, et = b, b, en
		else:
			st = cand.replace(tzinfo=tz)
			et = (st.astimezone(UTC) + dur).astimezone(tz)
			bu, eu, os_ = st.astimezone(UTC), et.astimezone(UTC), st
		if hi is not None and bu >= hi:
			continue
		if lo is not None and eu <= lo:
			continue
		out.append((os_, st, et))
		if len(out) >= MAX_INSTANCES:
			break
	return out


def instance_suffix(orig):
	if isinstance(orig, datetime):
		return orig.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
	return orig.strftime("%Y%m%d")


def when_of(v, tzname):
	if isinstance(v, datetime):
		return {"dateTime": v.isoformat(), "timeZone": tzname}
	return {"date": v.isoformat()}


def merge_patch(target, patch):
	"""Google's patch semantics: objects merge recursively, arrays and scalars replace, null removes."""
	out = copy.deepcopy(target)
	for k, v in patch.items():
		if v is None:
			out.pop(k, None)
		elif isinstance(v, dict) and isinstance(out.get(k), dict):
			out[k] = merge_patch(out[k], v)
		else:
			out[k] = copy.deepcopy(v)
	return out


def public(ev):
	return {k: copy.deepcopy(v) for k, v in ev.items() if not k.startswith("_")}


def minimal_cancelled(ev):
	out = {"kind": "calendar#event", "etag": ev["etag"], "id": ev["id"], "status": "cancelled"}
	for k in ("recurringEventId", "originalStartTime"):
		if k in ev:
			out[k] = copy.deepcopy(ev[k])
	return out


def _check_when(ev, which):
	w = ev.get(which)
	if w is None:
		raise ApiError(400, "required", f"Missing {which} time.")
	if not isinstance(w, dict):
		raise ApiError(400, "invalid", f"Invalid {which} time.")
	tzname = w.get("timeZone")
	if tzname is not None:
		try:
			zone(tzname)
		except ValueError:
			raise ApiError(400, "invalid", f"Invalid time zone definition for {which} time.")
	if "date" in w and "dateTime" in w:
		raise ApiError(400, "invalid", f"Invalid {which} time.")
	if "date" in w:
		try:
			parse_date(w["date"])
		except ValueError:
			raise ApiError(400, "invalid", f"Invalid {which} time.")
	elif "dateTime" in w:
		try:
			parse_rfc3339(w["dateTime"], tzname)
		except ValueError:
			if isinstance(w["dateTime"], str) and RFC3339_RE.match(w["dateTime"]) and not tzname:
				raise ApiError(400, "required", f"Missing time zone definition for {which} time.")
			raise ApiError(400, "invalid", f"Invalid {which} time.")
	else:
		raise ApiError(400, "required", f"Missing {which} time.")


def event_span(ev, cal_tz):
	"""(start, end) as aware UTC datetimes of a stored non-recurring event or instance."""
	s, e = ev["start"], ev["end"]
	if "date" in s:
		tzn = s.get("timeZone") or cal_tz
		return day_start(parse_date(s["date"]), tzn), day_start(parse_date(e["date"]), tzn)
	return (parse_rfc3339(s["dateTime"], s.get("timeZone")).astimezone(UTC),
		parse_rfc3339(e["dateTime"], e.get("timeZone") or s.get("timeZone")).astimezone(UTC))


KNOBS = ("latency_ms", "consent", "account_email", "deny_scopes", "redirect_uri_mismatch", "expires_in",
	 "refresh_token_ttl", "code_ttl", "meet_mode", "meet_pending_reads", "page_sizes", "empty_last_page",
	 "channel_max_ttl", "push_retry_base", "push_max_attempts", "push_timeout", "require_https_address",
	 "retry_after", "log_requests", "redirect_uris")


class FakeGoogle(FakeBase):
	"""The fake: state, knobs, helpers and the HTTP server. Every public method takes the lock."""
	KNOBS = KNOBS
	FAIL_KINDS = FAIL_KINDS
	FAIL_PREFIX = "/calendar/v3/"

	DEFAULT_CLIENT_ID = "tf-test-client.apps.googleusercontent.com"
	DEFAULT_CLIENT_SECRET = "GOCSPX-tf-test-secret"

	def __init__(self, port=0, host="127.0.0.1", client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET,
		     redirect_uris=None, latency_ms=0, account_email="ana@example.com", seed=1):
		self.host, self.port = host, port
		self.lock = threading.RLock()
		self.rng = random.Random(seed)
		self.clients = {client_id: client_secret}
		self.client_id, self.client_secret = client_id, client_secret
		# knobs (see KNOBS; all settable as attributes or through POST /_fake/knobs)
		self.latency_ms = latency_ms
		self.consent = "page"            # "page" | "approve" | "deny"
		self.account_email = account_email
		self.deny_scopes = []            # scopes the user unticks on the consent page (granular consent)
		self.redirect_uri_mismatch = False
		self.expires_in = 3599
		self.refresh_token_ttl = None    # seconds; 604800 = the 7-day "Testing" publishing status
		self.code_ttl = 600
		self.meet_mode = "pending"       # "pending" (then success) | "success" (at once) | "failure"
		self.meet_pending_reads = 0      # reads after the insert that still see "pending"
		self.page_sizes = None           # e.g. [2, 0, 1]: page sizes cycled (capped by maxResults)
		self.empty_last_page = False     # the nextSyncToken comes on an extra, empty page
		self.channel_max_ttl = 604800
		self.push_retry_base = 0.5
		self.push_max_attempts = 6
		self.push_timeout = 5.0
		self.require_https_address = False
		self.retry_after = 2             # Retry-After seconds on 429/503 failures (None: no header)
		self.log_requests = True
		self.redirect_uris = list(redirect_uris or ["http://127.0.0.1:8080/api/doctor/calendar-integrations/callback/google"])
		self.server = None
		self._thread = None
		self.sender = Sender(self._deliver)
		self._reset_state()

	# ------------------------------------------------------------ state

	def _reset_state(self):
		with self.lock:
			self.accounts = {}
			self.codes, self.txns, self.grants = {}, {}, {}
			self.refresh_tokens, self.access_tokens = {}, {}
			self.sync_tokens, self.page_sessions = {}, {}
			self.channels = {}
			self.requests, self.deliveries = [], []
			self.failures = []
			self.seq, self.sync_gen, self._etag_last = 0, 0, 0
			self.add_account(self.account_email, "Ana Beispiel", seed_calendars=True)

	def reset(self):
		"""Forget everything (accounts, tokens, events, channels, log); knobs stay."""
		self._reset_state()

	def _next_seq(self):
		self.seq += 1
		return self.seq

	def _etag(self):
		us = time.time_ns() // 1000
		self._etag_last = max(us, self._etag_last + 1)
		return f'"{self._etag_last}"'

	def add_account(self, email, name=None, seed_calendars=False):
		"""An account with its primary calendar (id = e-mail); seed_calendars adds "Praxis" (owner) and a
		read-only holiday calendar whose id contains '#'. Returns the account dict (internal)."""
		with self.lock:
			if email in self.accounts:
				return self.accounts[email]
			acct = {"email": email, "sub": str(100000000000000000000 + self.rng.randrange(10 ** 19)),
				"name": name or email.split("@")[0].capitalize(), "calendars": {}}
			self.accounts[email] = acct
			self.add_calendar(email, email, summary=email, primary=True)
			if seed_calendars:
				self.add_calendar(email, f"praxis{rand_b32hex(10)}@group.calendar.google.com", summary="Praxis")
				self.add_calendar(email, "de.german#holiday@group.v.calendar.google.com",
						  summary="Feiertage in Deutschland", access_role="reader", conference_types=())
			return acct

	def _acct(self, email):
		acct = self.accounts.get(email)
		return acct if acct is not None else self.add_account(email)

	def add_calendar(self, email, cal_id=None, summary="Kalender", time_zone="Europe/Berlin", access_role="owner",
			 primary=False, conference_types=("hangoutsMeet",)):
		"""A calendar in email's calendar list (created when new). Returns its calendarList entry."""
		if access_role not in ("freeBusyReader", "reader", "writer", "owner"):
			raise ValueError("access_role")
		zone(time_zone)
		with self.lock:
			acct = self._acct(email)
			cal_id = cal_id or f"{rand_b32hex(26)}@group.calendar.google.com"
			cal = {"id": cal_id, "summary": summary, "timeZone": time_zone, "accessRole": access_role,
			       "primary": primary, "conference_types": list(conference_types), "events": {},
			       "resource_id": b64url(secrets.token_bytes(15)).replace("-", "a").replace("_", "b"),
			       "etag": self._etag(), "seq": self._next_seq(), "deleted": False, "email": email,
			       "colorId": str(1 + len(acct["calendars"]) % 24)}
			acct["calendars"][cal_id] = cal
			return self._callist_entry(cal)

	def delete_calendar(self, email, cal_id):
		"""Remove a calendar (as if deleted in Google's UI): its channels get a not_exists notification."""
		with self.lock:
			cal = self._cal(self.accounts[email], cal_id)
			cal["deleted"] = True
			cal["seq"] = self._next_seq()
			cal["etag"] = self._etag()
			for ch in list(self.channels.values()):
				if ch["cal"] is cal and self._channel_active(ch):
					self._enqueue(ch, "not_exists")

	def _callist_entry(self, cal):
		e = {"kind": "calendar#calendarListEntry", "etag": cal["etag"], "id": cal["id"], "summary": cal["summary"],
		     "timeZone": cal["timeZone"], "colorId": cal["colorId"], "backgroundColor": "#9fe1e7",
		     "foregroundColor": "#000000", "selected": True, "accessRole": cal["accessRole"],
		     "defaultReminders": ([{"method": "popup", "minutes": 10}] if cal["accessRole"] in ("owner", "writer")
					  else []),
		     "conferenceProperties": {"allowedConferenceSolutionTypes": list(cal["conference_types"])}}
		if cal["primary"]:
			e["primary"] = True
		if cal["deleted"]:
			e["deleted"] = True
		return e

	def _cal(self, acct, cid, writable=False):
		if cid == "primary":
			cid = acct["email"]
		cal = acct["calendars"].get(cid)
		if cal is None or cal["deleted"]:
			raise ApiError(404, "notFound", "Not Found")
		if writable and cal["accessRole"] not in ("writer", "owner"):
			raise ApiError(403, "requiredAccessLevel", "You need to have writer access to this calendar.")
		return cal

	def _touch(self, cal, ev):
		ev["etag"] = self._etag()
		ev["updated"] = fmt_ts(now_utc())
		ev["_seq"] = self._next_seq()
		self._notify(cal)

	# ------------------------------------------------------------ helpers for tests

	def env(self):
		"""The four settings that point the app at this fake."""
		b = self.base_url
		return {"GOOGLE_AUTH_URI": b + "/o/oauth2/v2/auth", "GOOGLE_TOKEN_URI": b + "/token",
			"GOOGLE_REVOKE_URI": b + "/revoke", "GOOGLE_API_BASE": b + "/calendar/v3"}

	def _check_knob(self, k, v):
		if k == "consent" and v not in ("page", "approve", "deny"):
			raise ValueError("consent: page, approve or deny")
		if k == "meet_mode" and v not in ("pending", "success", "failure"):
			raise ValueError("meet_mode: pending, success or failure")
		if k == "page_sizes" and v is not None and (not isinstance(v, list) or not v or
							     not all(isinstance(x, int) and x >= 0 for x in v) or not any(v)):
			raise ValueError("page_sizes: a list of non-negative ints with one positive")

	def create_event(self, email, cal_id, event, conference_data_version=0):
		"""Insert an event as the account's owner would (same validation as events.insert). Returns it."""
		with self.lock:
			acct = self.accounts[email]
			cal = self._cal(acct, cal_id)
			return self._insert(acct, cal, event, conference_data_version)

	def patch_event(self, email, cal_id, event_id, patch):
		with self.lock:
			acct = self.accounts[email]
			cal = self._cal(acct, cal_id)
			return self._modify(acct, cal, event_id, patch, 0, "patch", None)

	def delete_event(self, email, cal_id, event_id):
		with self.lock:
			acct = self.accounts[email]
			self._delete(self._cal(acct, cal_id), event_id, None)

	def events(self, email, cal_id):
		"""Every stored event of a calendar (including cancelled ones and exceptions), as Google stores them."""
		with self.lock:
			return [public(e) for e in self._cal(self.accounts[email], cal_id)["events"].values()]

	def issue_tokens(self, email, scope=None, offline=True):
		"""Tokens as after a consent, without the browser dance (for benches and seeding)."""
		scope = scope or f"openid email {SCOPE_PREFIX}calendar.readonly {SCOPE_PREFIX}calendar.events"
		with self.lock:
			self._acct(email)
			scopes = {SCOPE_ALIASES.get(s, s) for s in scope.split()}
			self.grants[(email, self.client_id)] = set(scopes)
			return self._token_answer(email, self.client_id, scopes, offline)

	def expire_access_tokens(self):
		with self.lock:
			for rec in self.access_tokens.values():
				rec["expires"] = 0

	def expire_refresh_tokens(self):
		"""As the 7-day "Testing" expiry: every refresh token (and its access tokens) stops working."""
		with self.lock:
			for rec in self.refresh_tokens.values():
				rec["expires"] = 0

	def revoke_user(self, email):
		"""The user removed the app's access in their Google account settings."""
		with self.lock:
			for rec in list(self.refresh_tokens.values()) + list(self.access_tokens.values()):
				if rec["email"] == email:
					rec["revoked"] = True
			for key in [k for k in self.grants if k[0] == email]:
				del self.grants[key]

	def expire_sync_tokens(self):
		"""Every sync token issued so far answers 410 fullSyncRequired."""
		with self.lock:
			self.sync_gen += 1

	def expire_channels(self, channel_id=None):
		with self.lock:
			for ch in self.channels.values():
				if channel_id is None or ch["id"] == channel_id:
					ch["expiration"] = int(time.time() * 1000) - 1

	def channel_list(self):
		with self.lock:
			return [{k: v for k, v in ch.items() if k != "cal"} | {"calendarId": ch["cal"]["id"],
									      "active": self._channel_active(ch)}
				for ch in self.channels.values()]

	# ------------------------------------------------------------ OAuth

	def _authorize(self, q):
		"""GET /o/oauth2/v2/auth: ("page", html) | ("redirect", url); DeadEnd for Google's error pages."""
		def one(name):
			v = q.get(name)
			if v is not None and len(v) > 1:
				raise DeadEnd(400, "invalid_request", f"Parameter {name} is duplicated.")
			return v[0] if v else None
		client_id, redirect_uri = one("client_id"), one("redirect_uri")
		if not client_id or client_id not in self.clients:
			raise DeadEnd(401, "invalid_client", "The OAuth client was not found.")
		if not redirect_uri or redirect_uri not in self.redirect_uris or self.redirect_uri_mismatch:
			raise DeadEnd(400, "redirect_uri_mismatch",
				      "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. "
				      f"redirect_uri={redirect_uri or ''}")
		state = one("state")
		if one("response_type") != "code":
			return "redirect", self._redirect(redirect_uri, [("error", "unsupported_response_type")], state)
		scope = one("scope")
		if not scope or not scope.split():
			raise DeadEnd(400, "invalid_request", "Missing required parameter: scope")
		scopes = []
		for s in scope.split():
			s = SCOPE_ALIASES.get(s, s)
			if s not in KNOWN_SCOPES:
				raise DeadEnd(400, "invalid_scope", f"Some requested scopes were invalid. {{invalid=[{s}]}}")
			if s not in scopes:
				scopes.append(s)
		challenge, method = one("code_challenge"), one("code_challenge_method")
		if method is not None and challenge is None:
			raise DeadEnd(400, "invalid_request", "code_challenge_method without code_challenge")
		if challenge is not None:
			method = method or "plain"
			if method not in ("S256", "plain"):
				raise DeadEnd(400, "invalid_request", "Invalid code_challenge_method")
			if not re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", challenge):
				raise DeadEnd(400, "invalid_request", "Invalid code_challenge")
		access_type = one("access_type") or "online"
		if access_type not in ("online", "offline"):
			raise DeadEnd(400, "invalid_request", "Invalid access_type")
		prompt = (one("prompt") or "").split()
		if any(p not in ("none", "consent", "select_account") for p in prompt) or ("none" in prompt and len(prompt) > 1):
			raise DeadEnd(400, "invalid_request", "Invalid prompt")
		email = self.account_email
		hint = one("login_hint")
		if hint and "@" in hint:
			email = hint
		acct = self._acct(email)
		txn = {"client_id": client_id, "redirect_uri": redirect_uri, "state": state, "scopes": scopes,
		       "challenge": challenge, "method": method, "access_type": access_type, "prompt": prompt,
		       "email": acct["email"], "include_granted": one("include_granted_scopes") == "true",
		       "created": time.time()}
		if "none" in prompt:
			prev = self.grants.get((acct["email"], client_id))
			if not prev or not set(scopes) <= prev:
				return "redirect", self._redirect(redirect_uri, [("error", "consent_required")], state)
			return "redirect", self._grant(txn, set(scopes))
		if self.consent == "approve":
			return "redirect", self._grant(txn, set(scopes) - {SCOPE_ALIASES.get(s, s) for s in self.deny_scopes})
		if self.consent == "deny":
			return "redirect", self._redirect(redirect_uri, [("error", "access_denied")], state)
		tid = b64url(secrets.token_bytes(18))
		self.txns[tid] = txn
		return "page", self._consent_page(tid, txn)

	def _redirect(self, uri, params, state):
		if state is not None:
			params = [("state", state)] + params
		sep = "&" if "?" in uri else "?"
		return uri + sep + urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="/:")

	def _grant(self, txn, granted):
		"""The user said yes: a code bound to client, redirect_uri, PKCE challenge and the granted scopes."""
		key = (txn["email"], txn["client_id"])
		prev = self.grants.get(key)
		first = prev is None
		if txn["include_granted"] and prev:
			granted = granted | prev
		self.grants[key] = set(granted) | (prev or set())
		code = "4/0A" + b64url(secrets.token_bytes(30))
		self.codes[code] = {"client_id": txn["client_id"], "redirect_uri": txn["redirect_uri"], "scopes": set(granted),
				    "challenge": txn["challenge"], "method": txn["method"], "email": txn["email"],
				    "refresh": txn["access_type"] == "offline" and (first or "consent" in txn["prompt"]),
				    "expires": time.time() + self.code_ttl, "used": False}
		return self._redirect(txn["redirect_uri"], [("code", code), ("scope", " ".join(sorted(granted))),
							    ("authuser", "0"), ("prompt", "consent")], txn["state"])

	def _consent(self, form):
		"""POST /signin/oauth/consent from the consent page: ("redirect", url); DeadEnd on a stale form."""
		tid = (form.get("txn") or [None])[0]
		txn = self.txns.pop(tid, None) if tid else None
		if txn is None or time.time() - txn["created"] > 600:
			raise DeadEnd(400, "invalid_request", "Die Anfrage ist abgelaufen. Bitte starten Sie die Anmeldung erneut.")
		if (form.get("submit_access") or [""])[0] != "true":
			return "redirect", self._redirect(txn["redirect_uri"], [("error", "access_denied")], txn["state"])
		ticked = set(form.get("scope") or [])
		granted = {s for s in txn["scopes"] if s in BASIC_SCOPES or s in ticked}
		granted -= {SCOPE_ALIASES.get(s, s) for s in self.deny_scopes}
		return "redirect", self._grant(txn, granted)

	def _consent_page(self, tid, txn):
		e = html.escape
		rows = []
		for s in txn["scopes"]:
			label = SCOPE_LABELS.get(s, s)
			if s in BASIC_SCOPES:
				rows.append(f"<li>{e(label if s != 'openid' else 'Sie mit Ihren Google-Kontodaten verknüpfen')}</li>")
			else:
				rows.append(f'<li><label><input type="checkbox" name="scope" value="{e(s)}" checked> {e(label)}</label></li>')
		return ("<!DOCTYPE html>\n<html lang=\"de\"><head><meta charset=\"utf-8\"><title>Anmelden – Google Konten</title>"
			"</head><body><main><h1>TerminFinder möchte auf Ihr Google-Konto zugreifen</h1>"
			f"<p id=\"account\">{e(txn['email'])}</p><p>Dadurch erhält TerminFinder folgende Berechtigungen:</p>"
			f"<form method=\"post\" action=\"/signin/oauth/consent\"><ul>{''.join(rows)}</ul>"
			f"<input type=\"hidden\" name=\"txn\" value=\"{e(tid)}\">"
			"<button type=\"submit\" name=\"submit_access\" value=\"false\" id=\"deny\">Ablehnen</button> "
			"<button type=\"submit\" name=\"submit_access\" value=\"true\" id=\"allow\">Zulassen</button>"
			"</form></main></body></html>\n")

	def _token_answer(self, email, client_id, scopes, with_refresh, refresh=None):
		now = time.time()
		if with_refresh:
			refresh = "1//0g" + b64url(secrets.token_bytes(40))
			self.refresh_tokens[refresh] = {"email": email, "client": client_id, "scopes": set(scopes), "revoked": False,
							"expires": now + self.refresh_token_ttl if self.refresh_token_ttl else None}
		access = "ya29.a0" + b64url(secrets.token_bytes(48))
		self.access_tokens[access] = {"email": email, "client": client_id, "scopes": set(scopes), "revoked": False,
					      "expires": now + self.expires_in, "refresh": refresh}
		out = {"access_token": access, "expires_in": self.expires_in,
		       "scope": " ".join(sorted(scopes)), "token_type": "Bearer"}
		if with_refresh:
			out["refresh_token"] = refresh
		if "openid" in scopes:
			out["id_token"] = self._id_token(email, client_id, scopes)
		return out

	def _id_token(self, email, client_id, scopes):
		acct = self.accounts[email]
		now = int(time.time())
		claims = {"iss": "https://accounts.google.com", "azp": client_id, "aud": client_id, "sub": acct["sub"],
			  "iat": now, "exp": now + 3600}
		if SCOPE_PREFIX + "userinfo.email" in scopes:
			claims.update(email=email, email_verified=True)
		head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
		body = b64url(json.dumps(claims).encode())
		sig = hmac.new(self.clients[client_id].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
		return f"{head}.{body}.{b64url(sig)}"

	def _refresh_valid(self, rec):
		return rec and not rec["revoked"] and (rec["expires"] is None or rec["expires"] > time.time())

	def _token(self, headers, form):
		"""POST /token: the JSON answer; OAuthError otherwise."""
		ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
		if ctype != "application/x-www-form-urlencoded":
			raise OAuthError(400, "invalid_request", "Invalid Content-Type; expected application/x-www-form-urlencoded")
		for k, v in form.items():
			if len(v) > 1:
				raise OAuthError(400, "invalid_request", f"Parameter {k} is duplicated.")
		f = {k: v[0] for k, v in form.items()}
		client_id, secret = f.get("client_id"), f.get("client_secret")
		auth = headers.get("Authorization") or ""
		if auth.startswith("Basic "):
			if secret is not None:
				raise OAuthError(400, "invalid_request", "Client credentials given twice.")
			try:
				cid, _, sec = base64.b64decode(auth[6:], validate=True).decode().partition(":")
			except ValueError:
				raise OAuthError(401, "invalid_client", "Unauthorized")
			client_id, secret = urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(sec)
		if not client_id:
			raise OAuthError(400, "invalid_request", "Could not determine client ID from request.")
		if client_id not in self.clients:
			raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
		if secret is None or not hmac.compare_digest(secret.encode(), self.clients[client_id].encode()):
			raise OAuthError(401, "invalid_client", "Unauthorized")
		gt = f.get("grant_type")
		if not gt:
			raise OAuthError(400, "invalid_request", "Required parameter is missing: grant_type")
		if gt == "authorization_code":
			code = f.get("code")
			if not code:
				raise OAuthError(400, "invalid_request", "Missing required parameter: code")
			rec = self.codes.get(code)
			if rec is None:
				raise OAuthError(400, "invalid_grant", "Malformed auth code.")
			if rec["used"] or rec["expires"] < time.time() or rec["client_id"] != client_id:
				raise OAuthError(400, "invalid_grant", "Bad Request")
			ru = f.get("redirect_uri")
			if not ru:
				raise OAuthError(400, "invalid_request", "Missing parameter: redirect_uri")
			if ru not in self.redirect_uris:
				raise OAuthError(400, "redirect_uri_mismatch", "Bad Request")
			if ru != rec["redirect_uri"]:
				raise OAuthError(400, "invalid_grant", "Bad Request")
			if rec["challenge"] is not None:
				ver = f.get("code_verifier")
				if not ver:
					raise OAuthError(400, "invalid_grant", "Missing code verifier.")
				calc = b64url(hashlib.sha256(ver.encode()).digest()) if rec["method"] == "S256" else ver
				if not re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", ver) or not hmac.compare_digest(calc, rec["challenge"]):
					raise OAuthError(400, "invalid_grant", "Invalid code verifier.")
			rec["used"] = True
			return self._token_answer(rec["email"], client_id, rec["scopes"], rec["refresh"])
		if gt == "refresh_token":
			rt = f.get("refresh_token")
			if not rt:
				raise OAuthError(400, "invalid_request", "Missing required parameter: refresh_token")
			rec = self.refresh_tokens.get(rt)
			if not self._refresh_valid(rec):
				raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
			if rec["client"] != client_id:
				raise OAuthError(400, "unauthorized_client", "Unauthorized")
			return self._token_answer(rec["email"], client_id, rec["scopes"], False, refresh=rt)
		raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {gt}")

	def _revoke(self, token):
		"""POST /revoke: kills the grant behind token (refresh token and every derived access token)."""
		rec = self.refresh_tokens.get(token) or self.access_tokens.get(token)
		if not token or rec is None or rec["revoked"] or (rec is self.access_tokens.get(token) and
								    not self._access_valid(rec)):
			raise OAuthError(400, "invalid_token", "Token expired or revoked")
		rt = token if token in self.refresh_tokens else rec.get("refresh")
		rec["revoked"] = True
		if rt:
			self.refresh_tokens[rt]["revoked"] = True
			for a in self.access_tokens.values():
				if a["refresh"] == rt:
					a["revoked"] = True
		self.grants.pop((rec["email"], rec["client"]), None)

	def _access_valid(self, rec):
		if rec is None or rec["revoked"] or rec["expires"] <= time.time():
			return False
		if rec["refresh"] and not self._refresh_valid(self.refresh_tokens.get(rec["refresh"])):
			return False
		return True

	def _bearer(self, headers, need, oauth_style=False):
		"""The access token record behind Authorization: Bearer; ApiError 401/403 otherwise."""
		www = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'}
		h = headers.get("Authorization")
		if not h:
			raise ApiError(401, "required", "Login Required.", location="Authorization", location_type="header",
				       headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
		m = re.fullmatch(r"Bearer +(\S+)", h)
		rec = self.access_tokens.get(m.group(1)) if m else None
		if not self._access_valid(rec):
			raise ApiError(401, "authError", "Invalid Credentials", location="Authorization",
				       location_type="header", headers=www)
		if need and not (rec["scopes"] & need):
			raise ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.",
				       headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
						'error="insufficient_scope"'})
		return rec

	def _userinfo(self, rec):
		acct = self.accounts[rec["email"]]
		out = {"sub": acct["sub"]}
		if SCOPE_PREFIX + "userinfo.profile" in rec["scopes"]:
			out.update(name=acct["name"], given_name=acct["name"].split()[0], picture="https://lh3.googleusercontent.com/a/fake")
		if SCOPE_PREFIX + "userinfo.email" in rec["scopes"]:
			out.update(email=acct["email"], email_verified=True)
		return out

	# ------------------------------------------------------------ Calendar: events

	def _validate_fields(self, ev, old):
		for k in ("summary", "description", "location", "colorId"):
			if k in ev and not isinstance(ev[k], str):
				raise ApiError(400, "invalid", f"Invalid value for: {k}")
		enums = {"status": ("confirmed", "tentative", "cancelled"), "transparency": ("opaque", "transparent"),
			 "visibility": ("default", "public", "private", "confidential"),
			 "eventType": ("default", "outOfOffice", "focusTime", "workingLocation", "fromGmail", "birthday")}
		for k, allowed in enums.items():
			if k in ev and ev[k] not in allowed:
				raise ApiError(400, "invalid", f"Invalid value for: {k}")
		_check_when(ev, "start")
		_check_when(ev, "end")
		s, e = ev["start"], ev["end"]
		if ("date" in s) != ("date" in e):
			raise ApiError(400, "invalid", "Start and end times must either both be date or both be dateTime.")
		if "date" in s:
			if parse_date(e["date"]) <= parse_date(s["date"]):
				raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
		elif parse_rfc3339(e["dateTime"], e.get("timeZone") or s.get("timeZone")) < parse_rfc3339(s["dateTime"], s.get("timeZone")):
			raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
		if "recurrence" in ev:
			if old is not None and "recurringEventId" in old:
				raise ApiError(400, "invalid", "Invalid recurrence rule.")
			if "dateTime" in s and not (s.get("timeZone") and e.get("timeZone")):
				which = "start" if not s.get("timeZone") else "end"
				raise ApiError(400, "required", f"Missing time zone definition for {which} time.")
			parse_recurrence(ev["recurrence"], s.get("timeZone"), "date" in s)
		if "attendees" in ev:
			if not isinstance(ev["attendees"], list):
				raise ApiError(400, "invalid", "Invalid value for: attendees")
			for a in ev["attendees"]:
				if not isinstance(a, dict) or not isinstance(a.get("email"), str) or "@" not in a["email"]:
					raise ApiError(400, "required", "Missing attendee email.")
				a.setdefault("responseStatus", "needsAction")
				if a["responseStatus"] not in ("needsAction", "declined", "tentative", "accepted"):
					raise ApiError(400, "invalid", "Invalid attendee response status.")
		if "reminders" in ev:
			r = ev["reminders"]
			ov = r.get("overrides") if isinstance(r, dict) else None
			if not isinstance(r, dict) or (ov is not None and not isinstance(ov, list)):
				raise ApiError(400, "invalid", "Invalid value for: reminders")
			if r.get("useDefault") and ov:
				raise ApiError(400, "cannotUseDefaultRemindersAndSpecifyOverride",
					       "Cannot specify both default reminders and overrides at the same time.")
			if ov and len(ov) > 5:
				raise ApiError(400, "invalid", "The maximum number of override reminders is 5.")
			for o in ov or []:
				if (not isinstance(o, dict) or o.get("method") not in ("email", "popup") or
				    not isinstance(o.get("minutes"), int) or not 0 <= o["minutes"] <= 40320):
					raise ApiError(400, "invalid", "Invalid reminder.")
		if "extendedProperties" in ev:
			xp = ev["extendedProperties"]
			if not isinstance(xp, dict) or any(k not in ("private", "shared") for k in xp):
				raise ApiError(400, "invalid", "Invalid value for: extendedProperties")
			for part in xp.values():
				if not isinstance(part, dict) or len(part) > 300:
					raise ApiError(400, "invalid", "Invalid value for: extendedProperties")
				for k, v in part.items():
					if not isinstance(v, str) or len(k) > 44 or len(v) > 1024 or not k:
						raise ApiError(400, "invalid", "Invalid extended property value.")
		if "sequence" in ev:
			if not isinstance(ev["sequence"], int) or ev["sequence"] < 0:
				raise ApiError(400, "invalid", "Invalid sequence value.")
			if old is not None and ev["sequence"] < old.get("sequence", 0):
				raise ApiError(400, "invalid", "Invalid sequence value. The specified sequence number is below "
					       "the current sequence number of the resource.")

	def _build(self, acct, cal, src, conf, cdv, old, eid, mode):
		"""A stored event from src (full resource for insert/put, merged for patch). conf: the body's
		conferenceData (the string "missing" when absent). Caller stores and touches it."""
		ev = {k: copy.deepcopy(v) for k, v in src.items() if k not in READ_ONLY and not k.startswith("_") and v is not None}
		self._validate_fields(ev, old)
		ev["kind"], ev["id"] = "calendar#event", eid
		ev.setdefault("status", "confirmed")
		ev.setdefault("eventType", "default")
		ev.setdefault("reminders", {"useDefault": True})
		if old is not None:
			for k in ("created", "iCalUID", "creator", "organizer", "htmlLink", "recurringEventId", "originalStartTime"):
				if k in old:
					ev[k] = copy.deepcopy(old[k])
			seq = max(ev.get("sequence", old.get("sequence", 0)), old.get("sequence", 0))
			if "sequence" not in src or src.get("sequence") == old.get("sequence"):
				if any(ev.get(k) != old.get(k) for k in ("start", "end", "recurrence")):
					seq += 1
			ev["sequence"] = seq
			ev["_created"] = old.get("_created") or self._next_seq()
		else:
			ev["created"] = fmt_ts(now_utc())
			ev["iCalUID"] = src.get("iCalUID") if isinstance(src.get("iCalUID"), str) else eid + "@google.com"
			me = {"email": acct["email"], "self": True}
			ev["creator"] = me
			ev["organizer"] = (me if cal["primary"] else
					   {"email": cal["id"], "displayName": cal["summary"], "self": True})
			ev["htmlLink"] = ("https://www.google.com/calendar/event?eid=" +
					  b64url(f"{eid} {cal['id']}".encode()))
			ev.setdefault("sequence", 0)
			ev["_created"] = self._next_seq()
		ev["_request_ids"] = set(old.get("_request_ids", ())) if old else set()
		self._apply_conference(cal, ev, conf, cdv, old, mode)
		return ev

	def _apply_conference(self, cal, ev, conf, cdv, old, mode):
		def keep():
			for k in ("conferenceData", "hangoutLink", "_meet"):
				if old is not None and k in old:
					ev[k] = copy.deepcopy(old[k])
		if cdv == 0 or (conf == "missing" and mode == "patch"):
			keep()
			return
		if conf == "missing" or conf is None:
			return
		if not isinstance(conf, dict):
			raise ApiError(400, "invalid", "Invalid conference data.")
		cr = conf.get("createRequest")
		if cr is None:
			ev["conferenceData"] = copy.deepcopy(conf)
			video = [p for p in conf.get("entryPoints") or [] if isinstance(p, dict) and p.get("entryPointType") == "video"]
			if video and (conf.get("conferenceSolution") or {}).get("key", {}).get("type") == "hangoutsMeet":
				ev["hangoutLink"] = video[0].get("uri")
			return
		if not isinstance(cr, dict):
			raise ApiError(400, "invalid", "Invalid conference create request.")
		rid = cr.get("requestId")
		if not isinstance(rid, str) or not rid:
			raise ApiError(400, "invalid", "Invalid conference create request: missing requestId.")
		typ = (cr.get("conferenceSolutionKey") or {}).get("type")
		if typ not in ("hangoutsMeet", "eventHangout", "eventNamedHangout", "addOn"):
			raise ApiError(400, "invalid", "Invalid conference type value.")
		if rid in ev["_request_ids"]:
			keep()                      # a repeated requestId is ignored
			return
		ev["_request_ids"].add(rid)
		mode_ = self.meet_mode if typ in cal["conference_types"] else "failure"
		ev.pop("hangoutLink", None)
		if mode_ == "success":
			ev["conferenceData"] = self._meet(rid, typ)
			ev["hangoutLink"] = ev["conferenceData"]["entryPoints"][0]["uri"]
			return
		ev["conferenceData"] = {"createRequest": {"requestId": rid, "conferenceSolutionKey": {"type": typ},
							  "status": {"statusCode": "pending"}}}
		ev["_meet"] = {"result": "success" if mode_ == "pending" else "failure", "reads_left": self.meet_pending_reads}

	def _meet(self, rid, typ):
		letters = "abcdefghijklmnopqrstuvwxyz"
		code = "-".join("".join(self.rng.choice(letters) for _ in range(n)) for n in (3, 4, 3))
		return {"createRequest": {"requestId": rid, "conferenceSolutionKey": {"type": typ}, "status": {"statusCode": "success"}},
			"entryPoints": [
				{"entryPointType": "video", "uri": f"https://meet.google.com/{code}", "label": f"meet.google.com/{code}"},
				{"entryPointType": "more", "uri": f"https://tel.meet/{code}?pin=1234567890123", "pin": "1234567890123"},
				{"entryPointType": "phone", "uri": "tel:+49-30-1234-5678", "label": "+49 30 12345678",
				 "pin": "123456789", "regionCode": "DE"}],
			"conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet",
					       "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png"},
			"conferenceId": code}

	def _resolve_meet(self, cal, ev):
		m = ev.get("_meet")
		if not m:
			return
		if m["reads_left"] > 0:
			m["reads_left"] -= 1
			return
		del ev["_meet"]
		cr = ev["conferenceData"]["createRequest"]
		if m["result"] == "success":
			ev["conferenceData"] = self._meet(cr["requestId"], cr["conferenceSolutionKey"]["type"])
			ev["hangoutLink"] = ev["conferenceData"]["entryPoints"][0]["uri"]
		else:
			cr["status"] = {"statusCode": "failure"}
		self._touch(cal, ev)

	def _insert(self, acct, cal, body, cdv):
		if not isinstance(body, dict):
			raise ApiError(400, "parseError", "Parse Error")
		eid = body.get("id")
		if eid is not None:
			if not isinstance(eid, str) or not EVENT_ID_RE.match(eid):
				raise ApiError(400, "invalid", "Invalid resource id value.")
			if "iCalUID" in body:
				raise ApiError(400, "invalid", "Do not set both id and iCalUID.")
			if eid in cal["events"]:
				raise ApiError(409, "duplicate", "The requested identifier already exists.")
		else:
			eid = rand_b32hex(26)
		ev = self._build(acct, cal, body, body.get("conferenceData", "missing"), cdv, None, eid, "insert")
		cal["events"][eid] = ev
		self._touch(cal, ev)
		return public(ev)

	def _lookup(self, cal, eid, materialize):
		"""The stored event eid, or an instance of a series (stored as an exception when materialize)."""
		ev = cal["events"].get(eid)
		if ev is not None:
			return ev
		sid, _, suffix = eid.rpartition("_")
		series = cal["events"].get(sid)
		if not sid or series is None or "recurrence" not in series:
			raise ApiError(404, "notFound", "Not Found")
		for orig, st, et in self._occurrences(cal, series, suffix):
			if instance_suffix(orig) == suffix:
				inst = self._virtual(cal, series, eid, orig, st, et)
				if not materialize:
					return inst
				inst["_created"] = self._next_seq()
				inst["_request_ids"] = set(series.get("_request_ids", ()))
				cal["events"][eid] = inst
				return inst
		raise ApiError(404, "notFound", "Not Found")

	def _occurrences(self, cal, series, suffix):
		try:
			if "T" in suffix:
				t = datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
			else:
				t = day_start(datetime.strptime(suffix, "%Y%m%d").date(), series["start"].get("timeZone") or cal["timeZone"])
		except ValueError:
			return []
		return expand(series, cal["timeZone"], t - timedelta(days=400), t + timedelta(days=1))

	def _virtual(self, cal, series, iid, orig, st, et):
		tzname = series["start"].get("timeZone")
		inst = public(series)
		inst.pop("recurrence", None)
		inst.update(id=iid, recurringEventId=series["id"], originalStartTime=when_of(orig, tzname),
			    start=when_of(st, tzname), end=when_of(et, tzname))
		inst["_seq"] = series["_seq"]
		return inst

	def _check_if_match(self, ev, if_match):
		if if_match is not None and if_match.strip() != "*" and if_match.strip() != ev["etag"]:
			raise ApiError(412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header")

	def _modify(self, acct, cal, eid, body, cdv, mode, if_match):
		if not isinstance(body, dict):
			raise ApiError(400, "parseError", "Parse Error")
		old = self._lookup(cal, eid, materialize=False)
		self._check_if_match(old, if_match)
		if mode == "patch":
			src = merge_patch(public(old), {k: v for k, v in body.items() if k != "conferenceData"})
		else:
			src = dict(body)
		ev = self._build(acct, cal, src, body.get("conferenceData", "missing"), cdv, old, old["id"], mode)
		cal["events"][old["id"]] = ev
		self._touch(cal, ev)
		return public(ev)

	def _delete(self, cal, eid, if_match):
		ev = self._lookup(cal, eid, materialize=True)
		self._check_if_match(ev, if_match)
		if ev["status"] == "cancelled":
			raise ApiError(410, "deleted", "Resource has been deleted")
		ev["status"] = "cancelled"
		self._touch(cal, ev)

	# ------------------------------------------------------------ Calendar: lists

	@staticmethod
	def _one(q, name):
		v = q.get(name)
		return v[0] if v else None

	def _bool(self, q, name):
		v = self._one(q, name)
		if v is None:
			return False
		if v not in ("true", "false"):
			raise ApiError(400, "invalid", f"Invalid boolean value: '{v}'.", location=name)
		return v == "true"

	def _int(self, q, name, default, lo, hi):
		v = self._one(q, name)
		if v is None:
			return default
		if not re.fullmatch(r"-?\d{1,9}", v) or int(v) < lo:
			raise ApiError(400, "invalid", f"Invalid value '{v}'. Values must be within the range: [{lo}, {hi}]",
				       location=name)
		return min(int(v), hi)

	def _time(self, q, name):
		v = self._one(q, name)
		if v is None:
			return None
		try:
			return parse_rfc3339(v).astimezone(UTC)
		except ValueError:
			raise ApiError(400, "badRequest", "Bad Request")

	def _list_params(self, q):
		p = {"singleEvents": self._bool(q, "singleEvents"), "showDeleted": self._bool(q, "showDeleted"),
		     "maxResults": self._int(q, "maxResults", 250, 1, 2500),
		     "timeMin": self._time(q, "timeMin"), "timeMax": self._time(q, "timeMax"),
		     "updatedMin": self._time(q, "updatedMin"), "orderBy": self._one(q, "orderBy"),
		     "syncToken": self._one(q, "syncToken"), "iCalUID": self._one(q, "iCalUID"), "q": self._one(q, "q"),
		     "eventTypes": q.get("eventTypes") or ["default", "focusTime", "outOfOffice", "fromGmail"]}
		if p["syncToken"] is not None:
			for n in ("iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin",
				  "timeMax", "updatedMin"):
				if n in q:
					raise ApiError(400, "invalid", f"The syncToken parameter cannot be combined with {n}.", location=n)
		if p["timeMin"] and p["timeMax"] and p["timeMax"] <= p["timeMin"]:
			raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.", location="timeMax")
		if p["orderBy"] not in (None, "startTime", "updated"):
			raise ApiError(400, "invalid", "Invalid value for: orderBy", location="orderBy")
		if p["orderBy"] == "startTime" and not p["singleEvents"]:
			raise ApiError(400, "invalid", "The requested ordering is not available for the particular query.",
				       location="orderBy")
		for t in p["eventTypes"]:
			if t not in ("default", "outOfOffice", "focusTime", "workingLocation", "fromGmail", "birthday"):
				raise ApiError(400, "invalid", "Invalid value for: eventTypes", location="eventTypes")
		for kind in ("privateExtendedProperty", "sharedExtendedProperty"):
			pairs = []
			for v in q.get(kind) or []:
				k, eq, val = v.partition("=")
				if not eq or not k:
					raise ApiError(400, "invalid", f"Invalid {kind} value: {v}", location=kind)
				pairs.append((k, val))
			p[kind] = pairs
		return p

	def _instances(self, cal, series, lo, hi):
		"""Instances of series overlapping [lo, hi): stored exceptions replace generated ones; exceptions
		moved into the window are included."""
		out, seen = [], set()
		for orig, st, et in expand(series, cal["timeZone"], lo, hi):
			iid = series["id"] + "_" + instance_suffix(orig)
			seen.add(iid)
			exc = cal["events"].get(iid)
			out.append(exc if exc is not None else self._virtual(cal, series, iid, orig, st, et))
		for ev in cal["events"].values():
			if ev.get("recurringEventId") == series["id"] and ev["id"] not in seen:
				out.append(ev)
		res = []
		for ev in out:
			if ev is not None and ev.get("recurringEventId") == series["id"] and ev["id"] in cal["events"]:
				s, e = event_span(ev, cal["timeZone"])
				if (hi is not None and s >= hi) or (lo is not None and e <= lo):
					continue
			res.append(ev)
		return res

	def _collect(self, cal, p, since):
		single = p["singleEvents"]
		show_deleted = p["showDeleted"] or since is not None or p["updatedMin"] is not None
		lo, hi = p["timeMin"], p["timeMax"]
		cand = []          # (resource, cancelled)
		events = cal["events"]
		for ev in sorted(events.values(), key=lambda e: e["_created"]):
			is_exc = "recurringEventId" in ev
			if single and is_exc and ev["recurringEventId"] in events:
				continue                        # through its series
			if single and "recurrence" in ev:
				series_cancelled = ev["status"] == "cancelled"
				series_changed = since is None or ev["_seq"] > since
				for inst in self._instances(cal, ev, lo, hi):
					if since is not None and not series_changed and inst.get("_seq", 0) <= since:
						continue
					c = series_cancelled or inst["status"] == "cancelled"
					if c and not show_deleted:
						continue
					cand.append((inst, c))
				continue
			if since is not None and ev["_seq"] <= since:
				continue
			c = ev["status"] == "cancelled"
			if c and not show_deleted and not (is_exc and not single):
				continue
			if lo is not None or hi is not None:
				if "recurrence" in ev:
					if not expand(ev, cal["timeZone"], lo, hi):
						continue
				else:
					s, e = event_span(ev, cal["timeZone"])
					if (hi is not None and s >= hi) or (lo is not None and e <= lo):
						continue
			cand.append((ev, c))
		out = []
		for ev, c in cand:
			if p["updatedMin"] is not None and parse_rfc3339(ev["updated"]) < p["updatedMin"]:
				continue
			if ev.get("eventType", "default") not in p["eventTypes"]:
				continue
			if p["iCalUID"] is not None and ev.get("iCalUID") != p["iCalUID"]:
				continue
			xp = ev.get("extendedProperties") or {}
			if any((xp.get("private") or {}).get(k) != v for k, v in p["privateExtendedProperty"]):
				continue
			if any((xp.get("shared") or {}).get(k) != v for k, v in p["sharedExtendedProperty"]):
				continue
			if p["q"] is not None:
				text = " ".join(str(ev.get(k, "")) for k in ("summary", "description", "location")).lower()
				if not all(w in text for w in p["q"].lower().split()):
					continue
			out.append((ev, c))
		if p["orderBy"] == "updated":
			out.sort(key=lambda x: x[0]["updated"])
		elif single:
			out.sort(key=lambda x: event_span(x[0], cal["timeZone"])[0])
		return [minimal_cancelled(ev) if c else public(ev) for ev, c in out]

	def _paginate(self, envelope, items, size, sync):
		sess = {"items": items, "size": size, "sync": sync, "env": envelope}
		return self._page(sess, 0, 0)

	def _page(self, sess, pos, k):
		size = sess["size"]
		if self.page_sizes:
			size = min(size, self.page_sizes[k % len(self.page_sizes)])
		items = sess["items"]
		chunk = items[pos:pos + size]
		npos = pos + len(chunk)
		out = dict(sess["env"])
		out["etag"] = self._etag()
		more = npos < len(items) or (self.empty_last_page and chunk and npos == len(items))
		if more:
			tok = "Cg" + b64url(secrets.token_bytes(24))
			self.page_sessions[tok] = (sess, npos, k + 1)
			out["nextPageToken"] = tok
		elif sess["sync"] is not None:
			out["nextSyncToken"] = sess["sync"]
		out["items"] = chunk
		return out

	def _page_token(self, tok):
		ent = self.page_sessions.get(tok)
		if ent is None:
			raise ApiError(400, "invalid", "Invalid page token value.", location="pageToken")
		return self._page(*ent)

	def _new_sync_token(self, what, key, single=False):
		tok = "CP" + b64url(secrets.token_bytes(18)) + "="
		self.sync_tokens[tok] = {"what": what, "key": key, "seq": self.seq, "gen": self.sync_gen, "single": single}
		return tok

	def _use_sync_token(self, tok, what, key):
		if not re.fullmatch(r"[A-Za-z0-9_\-=]{1,512}", tok):
			raise ApiError(400, "invalid", "Invalid sync token value.", location="syncToken")
		rec = self.sync_tokens.get(tok)
		if rec is None or rec["gen"] != self.sync_gen or rec["what"] != what or rec["key"] != key:
			raise ApiError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.",
				       location="syncToken")
		return rec["seq"]

	def _events_envelope(self, cal):
		ups = [e["updated"] for e in cal["events"].values()]
		return {"kind": "calendar#events", "etag": "", "summary": cal["summary"], "description": "",
			"updated": max(ups) if ups else fmt_ts(now_utc()), "timeZone": cal["timeZone"],
			"accessRole": cal["accessRole"],
			"defaultReminders": [{"method": "popup", "minutes": 10}] if cal["accessRole"] in ("owner", "writer") else []}

	def _list_events(self, acct, cal, q):
		if self._one(q, "pageToken") is not None:
			return self._page_token(self._one(q, "pageToken"))
		p = self._list_params(q)
		since = None
		if p["syncToken"] is not None:
			since = self._use_sync_token(p["syncToken"], "events", (acct["email"], cal["id"]))
		for ev in list(cal["events"].values()):
			self._resolve_meet(cal, ev)
		items = self._collect(cal, p, since)
		sync = self._new_sync_token("events", (acct["email"], cal["id"]), p["singleEvents"])
		return self._paginate(self._events_envelope(cal), items, p["maxResults"], sync)

	def _list_instances(self, acct, cal, eid, q):
		if self._one(q, "pageToken") is not None:
			return self._page_token(self._one(q, "pageToken"))
		series = cal["events"].get(eid)
		if series is None or "recurrence" not in series:
			raise ApiError(404, "notFound", "Not Found")
		lo, hi = self._time(q, "timeMin"), self._time(q, "timeMax")
		show = self._bool(q, "showDeleted")
		items = [minimal_cancelled(i) if i["status"] == "cancelled" else public(i)
			 for i in self._instances(cal, series, lo, hi)
			 if show or (i["status"] != "cancelled" and series["status"] != "cancelled")]
		items.sort(key=lambda r: r["originalStartTime"].get("dateTime") or r["originalStartTime"].get("date"))
		env = self._events_envelope(cal)
		return self._paginate(env, items, self._int(q, "maxResults", 250, 1, 2500), None)

	def _list_calendars(self, acct, q):
		if self._one(q, "pageToken") is not None:
			return self._page_token(self._one(q, "pageToken"))
		st = self._one(q, "syncToken")
		mar = self._one(q, "minAccessRole")
		roles = ["freeBusyReader", "reader", "writer", "owner"]
		if mar is not None and mar not in roles:
			raise ApiError(400, "invalid", "Invalid value for: minAccessRole", location="minAccessRole")
		if st is not None and mar is not None:
			raise ApiError(400, "invalid", "The syncToken parameter cannot be combined with minAccessRole.",
				       location="minAccessRole")
		since = self._use_sync_token(st, "calendarList", acct["email"]) if st is not None else None
		show_deleted = self._bool(q, "showDeleted") or since is not None
		size = self._int(q, "maxResults", 100, 1, 250)
		items = []
		for cal in acct["calendars"].values():
			if since is not None and cal["seq"] <= since:
				continue
			if cal["deleted"] and not show_deleted:
				continue
			if mar is not None and roles.index(cal["accessRole"]) < roles.index(mar):
				continue
			items.append(self._callist_entry(cal))
		sync = self._new_sync_token("calendarList", acct["email"])
		return self._paginate({"kind": "calendar#calendarList", "etag": ""}, items, size, sync)

	def _freebusy(self, acct, body):
		if not isinstance(body, dict):
			raise ApiError(400, "parseError", "Parse Error")
		try:
			lo = parse_rfc3339(body["timeMin"]).astimezone(UTC) if "timeMin" in body else None
			hi = parse_rfc3339(body["timeMax"]).astimezone(UTC) if "timeMax" in body else None
		except ValueError:
			raise ApiError(400, "badRequest", "Bad Request")
		if lo is None:
			raise ApiError(400, "required", "Missing timeMin parameter.", location="timeMin")
		if hi is None:
			raise ApiError(400, "required", "Missing timeMax parameter.", location="timeMax")
		if hi <= lo:
			raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.", location="timeMax")
		items = body.get("items")
		if not isinstance(items, list):
			raise ApiError(400, "required", "Missing items.")
		cem = body.get("calendarExpansionMax", 50)
		if not isinstance(cem, int) or not 1 <= cem <= 50:
			raise ApiError(400, "invalid", "Invalid value for: calendarExpansionMax")
		cals = {}
		for n, it in enumerate(items):
			cid = it.get("id") if isinstance(it, dict) else None
			if not isinstance(cid, str):
				raise ApiError(400, "invalid", "Invalid calendar id.")
			if n >= cem:
				cals[cid] = {"errors": [{"domain": "global", "reason": "tooManyCalendarsRequested"}], "busy": []}
				continue
			try:
				cal = self._cal(acct, cid)
			except ApiError:
				cals[cid] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
				continue
			p = {"singleEvents": True, "showDeleted": False, "timeMin": lo, "timeMax": hi, "updatedMin": None,
			     "orderBy": None, "iCalUID": None, "q": None, "privateExtendedProperty": [],
			     "sharedExtendedProperty": [], "eventTypes": ["default", "focusTime", "outOfOffice", "fromGmail"]}
			spans = []
			for ev in self._collect(cal, p, None):
				if ev.get("status") == "cancelled" or ev.get("transparency") == "transparent":
					continue
				s, e = event_span(ev, cal["timeZone"])
				spans.append([max(s, lo), min(e, hi)])
			spans.sort()
			merged = []
			for s, e in spans:
				if merged and s <= merged[-1][1]:
					merged[-1][1] = max(merged[-1][1], e)
				else:
					merged.append([s, e])
			cals[cid] = {"busy": [{"start": fmt_utc(s), "end": fmt_utc(e)} for s, e in merged]}
		return {"kind": "calendar#freeBusy", "timeMin": fmt_ts(lo), "timeMax": fmt_ts(hi), "calendars": cals}

	# ------------------------------------------------------------ push channels

	def _watch(self, acct, tok, cal, body):
		if not isinstance(body, dict):
			raise ApiError(400, "parseError", "Parse Error")
		cid = body.get("id")
		if not isinstance(cid, str) or not CHANNEL_ID_RE.match(cid):
			raise ApiError(400, "invalid", "Invalid channel id.", location="id")
		if cid in self.channels:
			raise ApiError(400, "channelIdNotUnique", f"Channel id {cid} not unique")
		if body.get("type") not in ("web_hook", "webhook"):
			raise ApiError(400, "invalid", "Invalid channel type.", location="type")
		addr = body.get("address")
		u = urllib.parse.urlsplit(addr) if isinstance(addr, str) else None
		if (u is None or not u.hostname or u.scheme not in ("http", "https") or
		    (self.require_https_address and u.scheme != "https")):
			raise ApiError(400, "push.webhookUrlNotHttps", "WebHook callback must be HTTPS: " + str(addr))
		token = body.get("token")
		if token is not None and (not isinstance(token, str) or len(token) > 256):
			raise ApiError(400, "invalid", "Invalid channel token.", location="token")
		now_ms = int(time.time() * 1000)
		exp = now_ms + int(self.channel_max_ttl * 1000)
		params = body.get("params") or {}
		if isinstance(params, dict) and "ttl" in params:
			try:
				exp = min(exp, now_ms + int(params["ttl"]) * 1000)
			except (TypeError, ValueError):
				raise ApiError(400, "invalid", "Invalid ttl.", location="params.ttl")
		if "expiration" in body:
			try:
				req = int(body["expiration"])
			except (TypeError, ValueError):
				raise ApiError(400, "invalid", "Invalid expiration.", location="expiration")
			if req <= now_ms:
				raise ApiError(400, "invalid", "Invalid expiration: in the past.", location="expiration")
			exp = min(exp, req)
		ch = {"id": cid, "resourceId": cal["resource_id"],
		      "resourceUri": f"{self.base_url}/calendar/v3/calendars/{urllib.parse.quote(cal['id'], safe='@')}/events?alt=json",
		      "token": token, "address": addr, "expiration": exp, "email": acct["email"], "client": tok["client"],
		      "cal": cal, "stopped": False, "msgno": 0}
		self.channels[cid] = ch
		self._enqueue(ch, "sync")
		out = {"kind": "api#channel", "id": cid, "resourceId": ch["resourceId"], "resourceUri": ch["resourceUri"],
		       "expiration": str(exp)}
		if token is not None:
			out["token"] = token
		return out

	def _stop(self, acct, tok, body):
		if not isinstance(body, dict):
			raise ApiError(400, "parseError", "Parse Error")
		cid, rid = body.get("id"), body.get("resourceId")
		if not isinstance(cid, str) or not cid:
			raise ApiError(400, "required", "Required", location="id")
		if not isinstance(rid, str) or not rid:
			raise ApiError(400, "required", "Required", location="resourceId")
		ch = self.channels.get(cid)
		if (ch is None or ch["stopped"] or ch["resourceId"] != rid or ch["email"] != acct["email"] or
		    ch["client"] != tok["client"] or ch["expiration"] <= time.time() * 1000):
			raise ApiError(404, "notFound", f"Channel '{cid}' not found for project '1234567890'")
		ch["stopped"] = True

	def _channel_active(self, ch):
		return not ch["stopped"] and ch["expiration"] > time.time() * 1000

	def _notify(self, cal):
		for ch in self.channels.values():
			if ch["cal"] is cal and self._channel_active(ch):
				self._enqueue(ch, "exists")

	def _enqueue(self, ch, state):
		if state == "sync":
			ch["msgno"] = 1
		else:
			ch["msgno"] += self.rng.randint(2, 17)
		self.sender.schedule(time.time(), {"ch": ch, "state": state, "num": ch["msgno"], "attempt": 1})

	def _deliver(self, job):
		ch = job["ch"]
		rec = {"channel": ch["id"], "state": job["state"], "number": job["num"], "attempt": job["attempt"],
		       "address": ch["address"], "time": time.time(), "status": None}
		if not self._channel_active(ch):
			rec["status"] = "silent: channel stopped or expired"
			with self.lock:
				self.deliveries.append(rec)
			return
		h = {"User-Agent": "APIs-Google (+https://developers.google.com/webmasters/APIs-Google.html)",
		     "Content-Type": "application/json; utf-8", "X-Goog-Channel-ID": ch["id"],
		     "X-Goog-Channel-Expiration": email.utils.formatdate(ch["expiration"] / 1000, usegmt=True),
		     "X-Goog-Resource-ID": ch["resourceId"], "X-Goog-Resource-URI": ch["resourceUri"],
		     "X-Goog-Resource-State": job["state"], "X-Goog-Message-Number": str(job["num"])}
		if ch["token"] is not None:
			h["X-Goog-Channel-Token"] = ch["token"]
		status, _, _, err = http_post(ch["address"], b"", h, self.push_timeout)
		if err:                         # refused, timeout: Google retries like a 5xx
			rec["error"] = err
		rec["status"] = status
		with self.lock:
			self.deliveries.append(rec)
		if status in (500, 502, 503, 504, None) and job["attempt"] < self.push_max_attempts:
			j = dict(job, attempt=job["attempt"] + 1)
			self.sender.schedule(time.time() + self.push_retry_base * 2 ** (job["attempt"] - 1), j)

	# ------------------------------------------------------------ server

	def _failure(self, method, path):
		kind = self._match_failure(method, path)
		if kind is None:
			return None
		code, domain, reason, msg, retry = FAIL_KINDS[kind]
		hdr = {"Retry-After": str(self.retry_after)} if retry and self.retry_after is not None else {}
		return ApiError(code, reason, msg, domain=domain, headers=hdr)



def _dead_end_page(e):
	x = html.escape
	return ("<!DOCTYPE html>\n<html lang=\"de\"><head><meta charset=\"utf-8\"><title>Fehler</title></head><body>"
		f"<h1>Zugriff blockiert: Autorisierungsfehler</h1><p id=\"error\">Fehler {e.status}: {x(e.error)}</p>"
		f"<p>{x(e.detail)}</p></body></html>\n").encode()


class _Handler(BaseHandler):
	server_version = "ESF"
	redact_form = REDACT_FORM

	def _too_large(self):
		self._json(413, ApiError(413, "uploadTooLarge", "Request Entity Too Large").body())

	def _internal_error(self):
		self._json(500, ApiError(500, "backendError", "Backend Error").body())

	def _answer(self, e):
		if isinstance(e, ApiError):
			self._json(e.code, e.body(), e.headers)
		elif isinstance(e, OAuthError):
			self._json(e.status, {"error": e.error, "error_description": e.description},
				   {"Cache-Control": "no-store", "Pragma": "no-cache"})
		elif isinstance(e, DeadEnd):
			self._send(e.status, _dead_end_page(e), "text/html; charset=utf-8", {"Cache-Control": "no-store"})
		else:
			return False
		return True

	def _serve(self, method, path, q, body):
		f = self.fake
		if not path.startswith("/calendar/v3/"):     # API paths fail after authentication (in _api)
			with f.lock:
				fail = f._failure(method, path)
			if fail is not None:
				raise fail
		self._route(method, path, q, body)

	def _route(self, method, path, q, body):
		f = self.fake
		if path == "/o/oauth2/v2/auth":
			if method != "GET":
				raise DeadEnd(405, "invalid_request", "Method not allowed")
			with f.lock:
				kind, val = f._authorize(q)
			if kind == "page":
				self._send(200, val.encode(), "text/html; charset=utf-8",
					   {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
					    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"})
			else:
				self._send(302, b"", None, {"Location": val, "Cache-Control": "no-store"})
		elif path == "/signin/oauth/consent":
			if method != "POST":
				raise DeadEnd(405, "invalid_request", "Method not allowed")
			with f.lock:
				_, url = f._consent(self._form(body))
			self._send(302, b"", None, {"Location": url, "Cache-Control": "no-store"})
		elif path == "/token":
			if method != "POST":
				raise OAuthError(405, "invalid_request", "Method not allowed; use POST.")
			with f.lock:
				ans = f._token(self.headers, self._form(body))
			self._json(200, ans, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"})
		elif path == "/revoke":
			if method != "POST":
				raise OAuthError(405, "invalid_request", "Method not allowed; use POST.")
			tok = (self._form(body).get("token") or q.get("token") or [""])[0]
			with f.lock:
				f._revoke(tok)
			self._json(200, {})
		elif path == "/tokeninfo":
			tok = (q.get("access_token") or self._form(body).get("access_token") or [""])[0]
			with f.lock:
				rec = f.access_tokens.get(tok)
				if not f._access_valid(rec):
					raise OAuthError(400, "invalid_token", "Invalid Value")
				acct = f.accounts[rec["email"]]
				info = {"azp": rec["client"], "aud": rec["client"], "sub": acct["sub"], "scope": " ".join(sorted(rec["scopes"])),
					"exp": str(int(rec["expires"])), "expires_in": str(max(0, int(rec["expires"] - time.time()))),
					"access_type": "offline" if rec["refresh"] else "online"}
				if SCOPE_PREFIX + "userinfo.email" in rec["scopes"]:
					info.update(email=acct["email"], email_verified="true")
			self._json(200, info)
		elif path in ("/oauth2/v3/userinfo", "/v1/userinfo"):
			if method not in ("GET", "POST"):
				raise OAuthError(405, "invalid_request", "Method not allowed")
			with f.lock:
				try:
					rec = f._bearer(self.headers, None)
				except ApiError as e:
					self._json(401, {"error": "invalid_request", "error_description": "Invalid Credentials"},
						   {"WWW-Authenticate": e.headers.get("WWW-Authenticate", "Bearer")})
					return
				info = f._userinfo(rec)
			self._json(200, info)
		elif path.startswith("/calendar/v3/"):
			segs = [urllib.parse.unquote(s) for s in path[len("/calendar/v3/"):].split("/")]
			self._api(method, segs, q, body)
		else:
			self._send(404, b"<!DOCTYPE html><html><body><p>404. That\xe2\x80\x99s an error.</p></body></html>\n",
				   "text/html; charset=UTF-8")

	def _jbody(self, body):
		if not body:
			return {}
		try:
			return json.loads(body.decode("utf-8"))
		except ValueError:
			raise ApiError(400, "parseError", "Parse Error")

	def _api(self, method, segs, q, body):
		f = self.fake
		n = len(segs)
		route = None
		if segs[:3] == ["users", "me", "calendarList"] and n in (3, 4) and method == "GET":
			route, need = ("callist" if n == 3 else "callist_get"), SCOPES_CALLIST
		elif segs[0] == "calendars" and n == 2 and method == "GET":
			route, need = "cal_get", SCOPES_CALLIST | SCOPES_EV_READ
		elif segs[0] == "calendars" and n == 3 and segs[2] == "events" and method in ("GET", "POST"):
			route, need = ("list", SCOPES_EV_READ) if method == "GET" else ("insert", SCOPES_EV_WRITE)
		elif segs[0] == "calendars" and n == 4 and segs[2] == "events" and segs[3] == "watch" and method == "POST":
			route, need = "watch", SCOPES_EV_READ
		elif segs[0] == "calendars" and n == 4 and segs[2] == "events" and method in ("GET", "PUT", "PATCH", "DELETE"):
			route, need = method.lower(), (SCOPES_EV_READ if method == "GET" else SCOPES_EV_WRITE)
		elif segs[0] == "calendars" and n == 5 and segs[2] == "events" and segs[4] == "instances" and method == "GET":
			route, need = "instances", SCOPES_EV_READ
		elif segs == ["channels", "stop"] and method == "POST":
			route, need = "stop", SCOPES_EV_READ | SCOPES_CALLIST
		elif segs == ["freeBusy"] and method == "POST":
			route, need = "freebusy", SCOPES_FREEBUSY
		if route is None:
			raise ApiError(404, "notFound", "Not Found")
		with f.lock:
			tok = f._bearer(self.headers, need)
			fail = f._failure(method, "/calendar/v3/" + "/".join(segs))
		if fail is not None:
			raise fail
		cdv = f._int(q, "conferenceDataVersion", 0, 0, 1)
		if cdv > 1 or (f._one(q, "conferenceDataVersion") or "0") not in ("0", "1"):
			raise ApiError(400, "invalid", "Invalid conferenceDataVersion value.", location="conferenceDataVersion")
		su = f._one(q, "sendUpdates")
		if su is not None and su not in ("all", "externalOnly", "none"):
			raise ApiError(400, "invalid", "Invalid value for: sendUpdates", location="sendUpdates")
		if_match = self.headers.get("If-Match")
		with f.lock:
			acct = f.accounts[tok["email"]]
			if route == "callist":
				return self._json(200, f._list_calendars(acct, q))
			if route == "callist_get":
				cid = segs[3] if segs[3] != "primary" else acct["email"]
				return self._json(200, f._callist_entry(f._cal(acct, cid)))
			if route == "stop":
				f._stop(acct, tok, self._jbody(body))
				return self._send(204)
			if route == "freebusy":
				return self._json(200, f._freebusy(acct, self._jbody(body)))
			cal = f._cal(acct, segs[1], writable=route in ("insert", "put", "patch", "delete"))
			if route == "cal_get":
				return self._json(200, {"kind": "calendar#calendar", "etag": cal["etag"], "id": cal["id"],
							"summary": cal["summary"], "timeZone": cal["timeZone"],
							"conferenceProperties": {"allowedConferenceSolutionTypes": cal["conference_types"]}})
			if route == "list":
				return self._json(200, f._list_events(acct, cal, q))
			if route == "instances":
				return self._json(200, f._list_instances(acct, cal, segs[3], q))
			if route == "watch":
				return self._json(200, f._watch(acct, tok, cal, self._jbody(body)))
			if route == "insert":
				ev = f._insert(acct, cal, self._jbody(body), cdv)
				return self._json(200, ev, {"ETag": ev["etag"]})
			if route == "get":
				ev = f._lookup(cal, segs[3], materialize=False)
				if ev["id"] in cal["events"]:
					f._resolve_meet(cal, ev)
				inm = self.headers.get("If-None-Match")
				if inm is not None and inm.strip() == ev["etag"]:
					return self._send(304, b"", None, {"ETag": ev["etag"]})
				return self._json(200, public(ev), {"ETag": ev["etag"]})
			if route in ("put", "patch"):
				ev = f._modify(acct, cal, segs[3], self._jbody(body), cdv, route, if_match)
				return self._json(200, ev, {"ETag": ev["etag"]})
			if route == "delete":
				f._delete(cal, segs[3], if_match)
				return self._send(204)

	# ------------------------------------------------------------ CONTROL (/_fake/, JSON)
	#   common.BaseHandler._control_common: requests, knobs, fail, deliveries, reset
	#   POST /_fake/accounts {"email", "name", "seed": bool}
	#   POST /_fake/calendars {"account", "id", "summary", "timeZone", "accessRole", "primary", "conferenceTypes"}
	#   POST /_fake/calendars/delete {"account", "calendarId"}
	#   GET  /_fake/events?account=&calendarId=       every stored event (cancelled ones and exceptions too)
	#   POST /_fake/events {"account", "calendarId", "event", "conferenceDataVersion"}
	#   POST /_fake/events/patch {"account", "calendarId", "eventId", "patch"}
	#   POST /_fake/events/delete {"account", "calendarId", "eventId"}
	#   POST /_fake/tokens {"email", "scope", "offline"}   tokens without the browser (benches)
	#   POST /_fake/expire {"what": "access" | "refresh" | "sync" | "channels", "channelId"}
	#   POST /_fake/revoke-user {"email"}
	#   GET  /_fake/channels
	# "account" defaults to the knob account_email, "calendarId" to "primary".

	def _control(self, method, path, q, j):
		f = self.fake
		acct = j.get("account") or (q.get("account") or [f.account_email])[0]
		cid = j.get("calendarId") or (q.get("calendarId") or ["primary"])[0]
		if cid == "primary":
			cid = acct
		key = (method, path)
		if key == ("POST", "/_fake/accounts"):
			a = f.add_account(j["email"], j.get("name"), seed_calendars=bool(j.get("seed")))
			return self._json(200, {"email": a["email"], "sub": a["sub"], "calendars": list(a["calendars"])})
		if key == ("POST", "/_fake/calendars"):
			return self._json(200, f.add_calendar(acct, j.get("id"), j.get("summary", "Kalender"),
							  j.get("timeZone", "Europe/Berlin"), j.get("accessRole", "owner"),
							  bool(j.get("primary")), tuple(j.get("conferenceTypes", ["hangoutsMeet"]))))
		if key == ("POST", "/_fake/calendars/delete"):
			f.delete_calendar(acct, cid)
			return self._json(200, {})
		if key == ("GET", "/_fake/events"):
			return self._json(200, {"items": f.events(acct, cid)})
		if key == ("POST", "/_fake/events"):
			return self._json(200, f.create_event(acct, cid, j["event"], int(j.get("conferenceDataVersion", 0))))
		if key == ("POST", "/_fake/events/patch"):
			return self._json(200, f.patch_event(acct, cid, j["eventId"], j["patch"]))
		if key == ("POST", "/_fake/events/delete"):
			f.delete_event(acct, cid, j["eventId"])
			return self._json(200, {})
		if key == ("POST", "/_fake/tokens"):
			return self._json(200, f.issue_tokens(j.get("email") or acct, j.get("scope"), bool(j.get("offline", True))))
		if key == ("POST", "/_fake/expire"):
			what = j["what"]
			{"access": f.expire_access_tokens, "refresh": f.expire_refresh_tokens, "sync": f.expire_sync_tokens,
			 "channels": lambda: f.expire_channels(j.get("channelId"))}[what]()
			return self._json(200, {})
		if key == ("POST", "/_fake/revoke-user"):
			f.revoke_user(j.get("email") or acct)
			return self._json(200, {})
		if key == ("GET", "/_fake/channels"):
			return self._json(200, {"channels": f.channel_list()})
		return self._json(404, {"error": f"no control endpoint {method} {path}"})


FakeGoogle.HANDLER = _Handler


def main(argv=None):
	return cli_main(FakeGoogle, "Fake Google OAuth + Calendar API v3 + push sender for tests.", "ana@example.com", argv)

if __name__ == "__main__":
	sys.exit(main())
