#!/usr/bin/env python3
"""test_outlook_cgi.py: connecting Outlook / Office 365 through tf-calendar.fcgi in CGI mode (TAP).

A private MariaDB and the fake Microsoft identity platform + Graph (tests/fakes/microsoft.py) with
the consent knob on "approve" (or "deny"). Checks the Outlook card ("Mit Outlook verbinden", CSRF,
a CSP whose form-action lets the connect form reach Microsoft's authority next to Google's), the
connect route as a form (303 to {MICROSOFT_AUTHORITY}/oauth2/v2.0/authorize with PKCE S256 and the
scopes offline_access Calendars.ReadWrite User.Read; a stored state hash) and as JSON
({"authorization_url", "state"}), the callback (code exchange with the verifier and scope, tokens
Fernet-encrypted, account e-mail from /me: mail for a work account, userPrincipalName for a
personal one without mail, calendars with defaults), access denied, replayed, expired, forged,
other-session and other-doctor states, a refused code, Calendars.ReadWrite or offline_access
missing from the grant (not connected, German explanation), Graph unavailable, a refused client
secret, the unconfigured card, and the reauth_required card with its reconnect button.
"""
import json
import os
import re
import sys
import urllib.parse

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakes"))

from tap import Tap  # noqa: E402
from cgiapp import CgiApp, skip_unless_ready  # noqa: E402
from provider_setup import (PASSWORD, SECRET, CgiSetup, OAuthFlow, app_settings, built,  # noqa: E402
                            microsoft_settings, oauth_paths, security_headers_ok)
from microsoft import FakeMicrosoft  # noqa: E402

APP, ADMIN = built(BUILDDIR, "tf-calendar.fcgi", "tf-admin")
BASE_URL = "http://localhost:8080"
CONNECT, CALLBACK = oauth_paths("outlook")
REDIRECT_URI = BASE_URL + CALLBACK
WORK = "ana@contoso.com"
PERSONAL = "max.muster@outlook.de"

t = Tap()

skip_unless_ready(APP, ADMIN, fernet=True)
from cryptography.fernet import Fernet  # noqa: E402


S = CgiSetup(t, "tf-outlookcgi-")
M = FakeMicrosoft(port=0, redirect_uris=[REDIRECT_URI], account_email=WORK)
S.start("MariaDB or the fake Microsoft", M)
M.add_account(PERSONAL, "Max Muster", kind="personal", mail=False)
M.set_knobs(consent="approve", retry_after="0.01")
AUTHORIZE = M.base_url + "/common/oauth2/v2.0/authorize"

DB, FERNET_KEY = S.db, S.fernet_key
BASE_SETTINGS = app_settings(DB, SRCDIR, SECRET, BASE_URL, FERNET_KEY)
MS_SETTINGS = microsoft_settings(M)
# Google configured too (its default authorization endpoint): the page's CSP must allow both origins
GOOGLE_SETTINGS = {"GOOGLE_CLIENT_ID": "g-client", "GOOGLE_CLIENT_SECRET": "g-secret",
                   "GOOGLE_REDIRECT_URI": BASE_URL + "/api/doctor/calendar-integrations/callback/google"}
CONFIG = S.write_config(dict(BASE_SETTINGS, **MS_SETTINGS, **GOOGLE_SETTINGS))
BARE = S.write_config(BASE_SETTINGS, "bare.env")          # no MICROSOFT_* settings at all
# MICROSOFT_AUTHORITY not an http(s) URL
BADAUTH = S.write_config(dict(BASE_SETTINGS, **dict(MS_SETTINGS, MICROSOFT_AUTHORITY="login.example/common")),
                         "badauth.env")
BADSECRET = S.write_config(dict(BASE_SETTINGS, **dict(MS_SETTINGS, MICROSOFT_CLIENT_SECRET="wrong~secret")),
                           "badsecret.env")
A = CgiApp(APP, ADMIN, CONFIG)
cgi = A.cgi
sql, count = S.sql, S.count
EVA_ID, BOB_ID, EVA_TOKEN = S.prepare(A, ("eva", "bob"), tokens=("eva",))
F = OAuthFlow(A, "outlook", AUTHORIZE, REDIRECT_URI)
follow_microsoft, connect, callback, page, outlook_card = F.follow, F.connect, F.callback, F.page, F.card


def login(email):
    return A.login(email, PASSWORD)


def with_scope(url, scope):
    """The authorization URL with another scope: what a narrower consent (or tenant policy) grants."""
    parts = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(parts.query)
    q["scope"] = [scope]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q, doseq=True)))


def n_outlook(doctor=EVA_ID):
    return count(f"SELECT COUNT(*) FROM calendar_integrations WHERE provider='outlook' AND doctor_id={doctor}")


def token_requests():
    return [x for x in M.request_log() if x["path"].endswith("/oauth2/v2.0/token")]


def creds_of(iid):
    enc = sql(f"SELECT credentials_encrypted FROM calendar_integrations WHERE id={iid}")
    assert enc.startswith("gAAAAA"), enc[:80]
    return enc, json.loads(Fernet(FERNET_KEY.encode()).decrypt(enc.encode()))


SEEN = set()      # every token, code and state handed out: none may reach the app's logs

try:
    EVA, EVA_TOK = login("eva@example.org")
    EVA2, EVA2_TOK = login("eva@example.org")   # a second session of the same doctor
    BOB, BOB_TOK = login("bob@example.org")

    with t.case("Outlook card: 'Mit Outlook verbinden' form with CSRF; form-action allows Microsoft's and Google's origins"):
        r = page(EVA)
        b = outlook_card(r.body)
        assert f'action="{CONNECT}"' in b and "Mit Outlook verbinden" in b, b[:3000]
        assert 'id="outlook-verbinden"' in b and "Arbeits- oder" in b and "privaten Microsoft-Konto" in b, b[:3000]
        assert f'name="csrf_token" value="{EVA_TOK}"' in b
        assert "Nicht eingerichtet" not in b
        csp = r.header("content-security-policy")
        assert f"form-action 'self' https://accounts.google.com {M.base_url};" in csp, csp
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
        r = cgi("GET", "/doctor/login")
        assert "form-action 'self';" in r.header("content-security-policy"), r.header("content-security-policy")

    with t.case("unconfigured: the card names the missing settings, no button; connect → 503 (JSON and the page)"):
        r = cgi("GET", "/doctor/calendar-integrations", cookies=EVA, config=BARE)
        assert r.status == 200, r
        b = outlook_card(r.body)
        assert ("Nicht eingerichtet: MICROSOFT_CLIENT_ID, MICROSOFT_CLIENT_SECRET, MICROSOFT_REDIRECT_URI fehlen "
                "in der Konfiguration.") in b, b
        assert CONNECT not in b
        assert "form-action 'self';" in r.header("content-security-policy")
        r = cgi("POST", CONNECT, json_body={}, headers={"X-CSRF-Token": EVA_TOK}, cookies=EVA, config=BARE)
        assert r.status == 503 and r.json()["error"]["code"] == "not_configured", r
        assert "Microsoft Outlook ist auf diesem Server nicht eingerichtet" in r.json()["error"]["message"], r
        r = cgi("POST", CONNECT, form={"csrf_token": EVA_TOK}, cookies=EVA, config=BARE)
        assert r.status == 503 and "Microsoft Outlook ist auf diesem Server nicht eingerichtet" in r.body, r
        assert "Kalender-Integrationen" in r.body, r
        assert count("SELECT COUNT(*) FROM oauth_states") == 0

    with t.case("MICROSOFT_AUTHORITY unusable: German hint instead of the button, no form-action origin; connect → 503"):
        r = cgi("GET", "/doctor/calendar-integrations", cookies=EVA, config=BADAUTH)
        assert r.status == 200, r
        b = outlook_card(r.body)
        assert "Anmelde-Adresse dieses Anbieters ist in der Konfiguration ungültig" in b and CONNECT not in b, b
        assert "form-action 'self';" in r.header("content-security-policy"), r.header("content-security-policy")
        r = cgi("POST", CONNECT, form={"csrf_token": EVA_TOK}, cookies=EVA, config=BADAUTH)
        assert r.status == 503 and "nicht eingerichtet" in r.body, r
        assert count("SELECT COUNT(*) FROM oauth_states") == 0

    with t.case("connect without CSRF → 403; without a session → login redirect (form) / 401 (JSON)"):
        r = cgi("POST", CONNECT, form={"csrf_token": "x" * 43}, cookies=EVA)
        assert r.status == 403 and "Sicherheitsprüfung" in r.body, r
        r = cgi("POST", CONNECT, json_body={}, cookies=EVA)
        assert r.status == 403, r
        r = cgi("POST", CONNECT, form={"csrf_token": EVA_TOK}, cookies={"tf_csrf": EVA["tf_csrf"]})
        assert r.status == 303 and r.header("location") == "/doctor/login", r
        r = cgi("POST", CONNECT, json_body={})
        assert r.status == 401 and r.json()["error"]["code"] == "unauthorized", r
        r = cgi("GET", CONNECT, cookies=EVA)
        assert r.status == 405 and "POST" in (r.header("allow") or ""), r
        assert count("SELECT COUNT(*) FROM oauth_states") == 0

    with t.case("form connect → 303 to the authority's authorize URL (PKCE S256, Graph scopes); state stored hashed"):
        url = connect(EVA, EVA_TOK)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        assert url.startswith(AUTHORIZE + "?"), url
        assert q["client_id"] == [FakeMicrosoft.DEFAULT_CLIENT_ID] and q["redirect_uri"] == [REDIRECT_URI], q
        assert q["response_type"] == ["code"] and q["code_challenge_method"] == ["S256"], q
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", q["code_challenge"][0]), q
        assert sorted(q["scope"][0].split()) == ["Calendars.ReadWrite", "User.Read", "offline_access"], q["scope"]
        assert "access_type" not in q, "access_type is Google's parameter"
        assert q["prompt"] == ["select_account"], "a forced consent fails where only an admin may consent"
        state = q["state"][0]
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", state), state
        rows = sql("SELECT state_hash, doctor_id, provider FROM oauth_states")
        assert rows.count("\n") == 0 and f"\t{EVA_ID}\toutlook" in rows, rows
        assert state not in rows, "the state is stored in clear"
        SEEN.add(state)
        FIRST_URL = url

    with t.case("JSON connect (session + X-CSRF-Token) → 200 {authorization_url, state}; bearer → 400 session_required"):
        r = cgi("POST", CONNECT, json_body={}, headers={"X-CSRF-Token": EVA_TOK}, cookies=EVA)
        assert r.status == 200 and r.header("content-type").startswith("application/json"), r
        j = r.json()
        assert set(j) == {"authorization_url", "state"}, j
        assert j["authorization_url"].startswith(AUTHORIZE + "?"), j
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(j["authorization_url"]).query)
        assert q["state"] == [j["state"]], (q, j)
        assert count("SELECT COUNT(*) FROM oauth_states WHERE provider='outlook'") == 2
        SEEN.add(j["state"])
        JSON_URL = j["authorization_url"]
        r = cgi("POST", CONNECT, json_body={}, headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 400 and r.json()["error"]["code"] == "session_required", r
        assert "Microsoft" in r.json()["error"]["message"], r

    with t.case("callback with another doctor's state → 400 German page, nothing stored; the state is used up"):
        loc = follow_microsoft(JSON_URL)
        r = callback(loc, BOB)
        assert r.status == 400 and "Anmeldung bei Microsoft ist ungültig oder wurde schon verwendet" in r.body, r
        assert (r.header("content-type") or "").startswith("text/html"), r
        assert n_outlook(BOB_ID) == 0 and n_outlook() == 0
        r = callback(loc, EVA)
        assert r.status == 400 and "ungültig oder wurde schon verwendet" in r.body, r
        assert n_outlook() == 0 and not token_requests(), token_requests()

    with t.case("callback (work account): code exchange with verifier + scope, /me, calendars → 303; tokens encrypted"):
        M.clear_requests()
        loc = follow_microsoft(FIRST_URL)
        r = callback(loc, EVA)
        assert r.status == 303, r
        m = re.fullmatch(r"/doctor/calendar-integrations\?ok=connected#verbindung-(\d+)", r.header("location") or "")
        assert m, r
        OID = int(m.group(1))
        row = sql(f"SELECT provider, account_email, sync_status, doctor_id FROM calendar_integrations WHERE id={OID}")
        assert row == f"outlook\t{WORK}\tactive\t{EVA_ID}", row
        enc, creds = creds_of(OID)
        assert creds["access_token"] not in enc and creds["refresh_token"] not in enc
        assert creds["access_token"].startswith("eyJ0eX") and creds["refresh_token"].startswith("0.A"), creds.keys()
        assert creds["expires_at"] > 0 and "Calendars.ReadWrite" in creds["scope"].split(), creds["scope"]
        SEEN.update((creds["access_token"], creds["refresh_token"]))
        toks = token_requests()
        assert len(toks) == 1 and toks[0]["status"] == 200, toks
        body = toks[0]["body"]
        assert body["grant_type"] == ["authorization_code"] and body["redirect_uri"] == [REDIRECT_URI], body
        assert "code_verifier" in body and "Calendars.ReadWrite" in body["scope"][0].split(), body
        assert toks[0]["path"] == "/common/oauth2/v2.0/token", toks[0]["path"]
        paths = [x["path"] for x in M.request_log()]
        assert "/v1.0/me" in paths and "/v1.0/me/calendars" in paths, paths
        assert count("SELECT COUNT(*) FROM oauth_states") == 0, "the used state is still stored"

    with t.case("the work account's calendars: 'Calendar' (default) and 'Praxis', both blocking, one receiver"):
        cals = sql(f"SELECT display_name, can_write, blocks_availability, receives_appointments, remote_id "
                   f"FROM integration_calendars WHERE integration_id={OID} ORDER BY id").split("\n")
        assert sorted(c.split("\t")[0] for c in cals) == ["Calendar", "Praxis"], cals
        assert all(c.split("\t")[1] == "1" and c.split("\t")[2] == "1" for c in cals), cals
        assert sum(int(c.split("\t")[3]) for c in cals) == 1, cals
        assert sorted(c.split("\t")[4] for c in cals) == sorted(c["id"] for c in M.calendars(WORK)), cals

    with t.case("the page after connecting: notice, Outlook card with the account, aktiv; the API lists it"):
        r = page(EVA, "ok=connected")
        assert "Der Kalender wurde verbunden." in r.body, r.body[:2000]
        b = outlook_card(r.body)
        assert f'id="verbindung-{OID}"' in b and WORK in b and ">aktiv<" in b, b[:3000]
        assert f'action="/doctor/calendar-integrations/{OID}/settings"' in b and "Praxis" in b
        assert "Weiteres Microsoft-Konto verbinden" in b
        r = cgi("GET", "/api/doctor/calendar-integrations", headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 200, r
        j = r.json()
        assert [(i["provider"], i["account_email"]) for i in j["integrations"]] == [("outlook", WORK)], j
        assert j["providers"]["outlook"] == {"configured": True, "missing": []}, j

    with t.case("replaying the used callback → 400, still one connection, no second code redemption"):
        M.clear_requests()
        r = callback(loc, EVA)
        assert r.status == 400 and "ungültig oder wurde schon verwendet" in r.body, r
        assert n_outlook() == 1 and not token_requests()

    with t.case("personal Microsoft account (mail null in /me): e-mail from userPrincipalName, a second connection"):
        M.set_knobs(account_email=PERSONAL)
        r = callback(follow_microsoft(connect(EVA, EVA_TOK)), EVA)
        M.set_knobs(account_email=WORK)
        assert r.status == 303 and "ok=connected" in r.header("location"), r
        PID = int(r.header("location").rsplit("-", 1)[1])
        assert PID != OID and n_outlook() == 2
        assert sql(f"SELECT account_email, sync_status FROM calendar_integrations WHERE id={PID}") == f"{PERSONAL}\tactive"
        _, pcreds = creds_of(PID)
        assert pcreds["access_token"].startswith("EwB") and pcreds["refresh_token"].startswith("0.A"), pcreds.keys()
        SEEN.update((pcreds["access_token"], pcreds["refresh_token"]))
        assert count(f"SELECT COUNT(*) FROM integration_calendars WHERE integration_id={PID}") == 2
        b = outlook_card(page(EVA).body)
        assert WORK in b and PERSONAL in b, b[:3000]

    with t.case("access denied on Microsoft's page → 303 to the page with a German message; nothing stored"):
        M.set_knobs(consent="deny")
        loc = follow_microsoft(connect(EVA, EVA_TOK))
        M.set_knobs(consent="approve")
        assert "error=access_denied" in loc and "AADSTS65004" in urllib.parse.unquote_plus(loc), loc
        r = callback(loc, EVA)
        assert r.status == 303 and r.header("location") == "/doctor/calendar-integrations?err=outlook-denied", r
        r = page(EVA, "err=outlook-denied")
        assert "Sie haben den Zugriff auf Ihren Outlook-Kalender abgelehnt." in r.body, r.body[:2000]
        assert "AADSTS" not in r.body, "the provider's error_description is echoed"
        assert n_outlook() == 2 and count("SELECT COUNT(*) FROM oauth_states") == 0

    with t.case("another authorization error (consent_required) → 303 with the general German message"):
        url = connect(EVA, EVA_TOK)
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
        r = cgi("GET", CALLBACK, query=urllib.parse.urlencode({"error": "consent_required", "error_description":
                "AADSTS65001: <b>admin</b>", "state": state}), cookies=EVA)
        assert r.status == 303 and r.header("location") == "/doctor/calendar-integrations?err=outlook-error", r
        r = page(EVA, "err=outlook-error")
        assert "Microsoft hat die Anmeldung abgebrochen" in r.body and "IT-Administration" in r.body, r.body[:2000]
        assert count("SELECT COUNT(*) FROM oauth_states") == 0
        r = cgi("GET", CALLBACK, query=urllib.parse.urlencode({"error": "access_denied", "state": "B" * 43}),
                cookies=EVA)
        assert r.status == 400 and "ungültig" in r.body, "an error answer with a forged state was taken"

    with t.case("expired state (older than 10 minutes) → 400 German page, nothing stored"):
        loc = follow_microsoft(connect(EVA, EVA_TOK))
        DB.sql("UPDATE oauth_states SET expires_at = UTC_TIMESTAMP() - INTERVAL 1 MINUTE")
        r = callback(loc, EVA)
        assert r.status == 400 and "Die Anmeldung bei Microsoft hat zu lange gedauert" in r.body, r
        assert n_outlook() == 2 and count("SELECT COUNT(*) FROM oauth_states") == 0

    with t.case("state of another session of the same doctor → 400 German page; the state is used up"):
        loc = follow_microsoft(connect(EVA, EVA_TOK))
        r = callback(loc, EVA2)
        assert r.status == 400 and "anderen Sitzung" in r.body, r
        r = callback(loc, EVA)
        assert r.status == 400 and "ungültig oder wurde schon verwendet" in r.body, r
        assert n_outlook() == 2

    with t.case("a Google state at the Outlook callback → 400; forged, missing and malformed states → 400, no token request"):
        M.clear_requests()
        r = cgi("POST", "/api/doctor/calendar-integrations/connect/google", json_body={},
                headers={"X-CSRF-Token": EVA_TOK}, cookies=EVA)
        assert r.status == 200, r
        gstate = r.json()["state"]
        r = cgi("GET", CALLBACK, query=urllib.parse.urlencode({"state": gstate, "code": "0.Afake"}), cookies=EVA)
        assert r.status == 400 and "ungültig" in r.body, r
        for query in ("state=" + "A" * 43 + "&code=0.Afake", "code=0.Afake", "state=%3Cscript%3E&code=x",
                      "state=" + "x" * 5000):
            r = cgi("GET", CALLBACK, query=query, cookies=EVA)
            assert r.status == 400 and "<script>" not in r.body, (query, r)
        assert not token_requests(), token_requests()
        DB.sql("DELETE FROM oauth_states")

    with t.case("callback without a session → login redirect, state untouched"):
        loc = follow_microsoft(connect(EVA, EVA_TOK))
        r = cgi("GET", CALLBACK, query=loc.split("?", 1)[1])
        assert r.status == 303 and r.header("location") == "/doctor/login", r
        assert count("SELECT COUNT(*) FROM oauth_states") == 1
        HELD = loc

    with t.case("a code Microsoft refuses (AADSTS70008 expired) → 400 German page, nothing stored"):
        M.set_knobs(code_ttl=0)
        r = callback(follow_microsoft(connect(EVA, EVA_TOK)), EVA)
        M.set_knobs(code_ttl=600)
        assert r.status == 400 and "Microsoft hat den Anmeldecode nicht angenommen" in r.body, r
        assert n_outlook() == 2
        r = callback(HELD, EVA)                # the state held back above still works: a reconnect
        assert r.status == 303 and f"verbindung-{OID}" in r.header("location"), r
        assert n_outlook() == 2, "a reconnect of the same account made a second row"

    with t.case("Calendars.ReadWrite not granted (Calendars.Read only) → not connected, German explanation"):
        M.clear_requests()
        M.add_account("zoe@contoso.com", "Zoe", kind="work")
        M.set_knobs(account_email="zoe@contoso.com")
        url = with_scope(connect(EVA, EVA_TOK), "offline_access Calendars.Read User.Read")
        r = callback(follow_microsoft(url), EVA)
        M.set_knobs(account_email=WORK)
        assert r.status == 303 and r.header("location") == "/doctor/calendar-integrations?err=outlook-scope", r
        assert count("SELECT COUNT(*) FROM calendar_integrations WHERE account_email='zoe@contoso.com'") == 0
        assert not [x for x in M.request_log() if x["path"].startswith("/v1.0/")], "Graph called without the scope"
        r = page(EVA, "err=outlook-scope")
        assert "Calendars.ReadWrite" in r.body and "nichts verbunden" in r.body, r.body[:2000]

    with t.case("offline_access not granted (no refresh token) → not connected, German explanation"):
        M.set_knobs(account_email="zoe@contoso.com")
        url = with_scope(connect(EVA, EVA_TOK), "Calendars.ReadWrite User.Read")
        r = callback(follow_microsoft(url), EVA)
        M.set_knobs(account_email=WORK)
        assert r.status == 303 and r.header("location") == "/doctor/calendar-integrations?err=outlook-offline", r
        assert count("SELECT COUNT(*) FROM calendar_integrations WHERE account_email='zoe@contoso.com'") == 0
        assert "dauerhaften Zugriff" in page(EVA, "err=outlook-offline").body

    with t.case("Graph unavailable during the callback (503, Retry-After) → 503 German page, nothing stored"):
        M.set_knobs(account_email="zoe@contoso.com")
        loc = follow_microsoft(connect(EVA, EVA_TOK))
        M.fail("serviceNotAvailable", count=20, path_prefix="/v1.0/me")
        r = callback(loc, EVA)
        M.clear_failures()
        M.set_knobs(account_email=WORK)
        assert r.status == 503 and "<html" in r.body.lower() and "nicht erreichbar" in r.body, r
        assert count("SELECT COUNT(*) FROM calendar_integrations WHERE account_email='zoe@contoso.com'") == 0

    with t.case("client secret refused (AADSTS7000215) → 500 German page naming MICROSOFT_CLIENT_ID/SECRET"):
        loc = follow_microsoft(connect(EVA, EVA_TOK, config=BADSECRET))
        r = callback(loc, EVA, config=BADSECRET)
        assert r.status == 500 and "MICROSOFT_CLIENT_ID, MICROSOFT_CLIENT_SECRET" in r.body, r
        assert "wrong~secret" not in r.body and "wrong~secret" not in r.stderr
        assert n_outlook() == 2

    with t.case("reauth_required: 'erneut verbinden', German warning, 'Erneut mit Outlook verbinden'; reconnect → active"):
        DB.sql(f"UPDATE calendar_integrations SET sync_status='reauth_required', last_error='Microsoft hat den "
               f"Zugriff widerrufen (AADSTS70008).' WHERE id={OID}")
        b = outlook_card(page(EVA).body)
        li = b[b.index(f'id="verbindung-{OID}"'):]
        li = li[:li.index("</li>")]
        assert "erneut verbinden" in li and "muss erneut verbunden werden" in li, li
        assert "Erneut mit Outlook verbinden" in li and f'action="{CONNECT}"' in li, li
        assert "Erneut mit Google" not in li
        pli = b[b.index(f'id="verbindung-{PID}"'):]
        assert "Erneut mit Outlook verbinden" not in pli[:pli.index("</li>")], "the active connection got a button"
        M.clear_requests()
        r = callback(follow_microsoft(connect(EVA, EVA_TOK)), EVA)
        assert r.status == 303 and f"verbindung-{OID}" in r.header("location"), r
        assert sql(f"SELECT sync_status, last_error IS NULL FROM calendar_integrations WHERE id={OID}") == "active\t1"
        _, creds2 = creds_of(OID)
        assert creds2["refresh_token"] != creds["refresh_token"], "the reconnect kept the old refresh token"
        SEEN.update((creds2["access_token"], creds2["refresh_token"]))
        assert "Erneut mit Outlook verbinden" not in page(EVA).body
        assert n_outlook() == 2

    with t.case("Bob sees none of Eva's Outlook connections"):
        r = page(BOB)
        assert WORK not in r.body and PERSONAL not in r.body and f"verbindung-{OID}" not in r.body
        assert "Mit Outlook verbinden" in outlook_card(r.body)

    with t.case("every answer carries the security headers; HTML is no-store"):
        security_headers_ok(A.responses, nosniff=True)

    with t.case("no token, code, state or client secret reaches the app's stderr (logs)"):
        secrets_ = SEEN | {FakeMicrosoft.DEFAULT_CLIENT_SECRET}
        for resp in A.responses:
            for s in secrets_:
                assert s not in resp.stderr, resp.stderr[-500:]
            assert "code=0.A" not in resp.stderr, resp.stderr[-500:]
finally:
    S.finish()
t.done()
