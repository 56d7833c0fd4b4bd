#!/usr/bin/env python3
"""test_google_cgi.py: connecting Google Calendar through tf-calendar.fcgi in CGI mode (TAP).

A private MariaDB and the fake Google (tests/fakes/google.py) with the consent knob on "approve"
(or "deny"). Checks the Google card (button, CSRF, the CSP that lets its form reach Google), the
connect route as a form (303 to the authorization URL with PKCE S256, offline access, consent
prompt, the calendar scopes; a stored state hash) and as JSON ({"authorization_url", "state"}),
the callback (tokens Fernet-encrypted, account e-mail from userinfo, calendars with defaults,
303 with a notice), access denied, replayed, expired, forged, other-session and other-doctor
states, a refused code, a missing calendar scope (not connected, German explanation, the grant
revoked), the unconfigured card, and the reauth_required card with its reconnect button.
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
                            google_settings, oauth_paths, security_headers_ok)
from google import FakeGoogle  # noqa: E402

APP, ADMIN = built(BUILDDIR, "tf-calendar.fcgi", "tf-admin")
BASE_URL = "http://localhost:8080"
CONNECT, CALLBACK = oauth_paths("google")
REDIRECT_URI = BASE_URL + CALLBACK
SCOPE = "https://www.googleapis.com/auth/"
ACCOUNT = "ana@example.com"

t = Tap()

skip_unless_ready(APP, ADMIN, fernet=True)
from cryptography.fernet import Fernet  # noqa: E402


S = CgiSetup(t, "tf-googlecgi-")
G = FakeGoogle(port=0, redirect_uris=[REDIRECT_URI])
S.start("MariaDB or the fake Google", G)
G.set_knobs(consent="approve")

DB, FERNET_KEY = S.db, S.fernet_key
BASE_SETTINGS = app_settings(DB, SRCDIR, SECRET, BASE_URL, FERNET_KEY)
CONFIG = S.write_config(dict(BASE_SETTINGS, **google_settings(G)))
BARE = S.write_config(BASE_SETTINGS, "bare.env")          # no GOOGLE_* settings at all
A = CgiApp(APP, ADMIN, CONFIG)
cgi = A.cgi
sql, count = S.sql, S.count
EVA_ID, BOB_ID, EVA_TOKEN = S.prepare(A, ("eva", "bob"), tokens=("eva",))
F = OAuthFlow(A, "google", G.base_url + "/o/oauth2/v2/auth", REDIRECT_URI)
follow_google, connect, callback, page, google_card = F.follow, F.connect, F.callback, F.page, F.card


def login(email):
    return A.login(email, PASSWORD)


def n_google(doctor=EVA_ID):
    return count(f"SELECT COUNT(*) FROM calendar_integrations WHERE provider='google' AND doctor_id={doctor}")


try:
    EVA, EVA_TOK = login("eva@example.org")
    EVA2, EVA2_TOK = login("eva@example.org")   # a second session of the same doctor
    BOB, BOB_TOK = login("bob@example.org")

    with t.case("Google card: 'Mit Google verbinden' form with CSRF; the page's CSP lets that form reach Google only"):
        r = page(EVA)
        b = google_card(r.body)
        assert f'action="{CONNECT}"' in b and "Mit Google verbinden" in b, b[:3000]
        assert f'name="csrf_token" value="{EVA_TOK}"' in b
        assert "Nicht eingerichtet" not in b
        csp = r.header("content-security-policy")
        assert f"form-action 'self' {G.base_url};" in csp, csp
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
        r = cgi("GET", "/doctor/login")
        assert "form-action 'self';" in r.header("content-security-policy"), r.header("content-security-policy")

    with t.case("unconfigured: the card names the missing settings, no button; connect → 503 not_configured"):
        r = cgi("GET", "/doctor/calendar-integrations", cookies=EVA, config=BARE)
        assert r.status == 200, r
        b = google_card(r.body)
        assert ("Nicht eingerichtet: GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, GOOGLE_REDIRECT_URI fehlen in der "
                "Konfiguration.") in b, b
        assert CONNECT not in b
        assert "form-action 'self';" in r.header("content-security-policy")
        r = cgi("POST", CONNECT, json_body={}, headers={"X-CSRF-Token": EVA_TOK}, cookies=EVA, config=BARE)
        assert r.status == 503 and r.json()["error"]["code"] == "not_configured", r
        assert count("SELECT COUNT(*) FROM oauth_states") == 0

    with t.case("connect without CSRF → 403; without a session → login redirect (form) / 401 (JSON)"):
        r = cgi("POST", CONNECT, form={"csrf_token": "x" * 43}, cookies=EVA)
        assert r.status == 403 and "Sicherheitsprüfung" in r.body, r
        r = cgi("POST", CONNECT, form={"csrf_token": EVA_TOK}, cookies={"tf_csrf": EVA["tf_csrf"]})
        assert r.status == 303 and r.header("location") == "/doctor/login", r
        r = cgi("POST", CONNECT, json_body={})
        assert r.status == 401 and r.json()["error"]["code"] == "unauthorized", r
        assert count("SELECT COUNT(*) FROM oauth_states") == 0

    with t.case("form connect → 303 to the authorization URL (PKCE S256, offline, consent, scopes); state stored hashed"):
        url = connect(EVA, EVA_TOK)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        assert url.startswith(G.base_url + "/o/oauth2/v2/auth?"), url
        assert q["client_id"] == [FakeGoogle.DEFAULT_CLIENT_ID] and q["redirect_uri"] == [REDIRECT_URI], q
        assert q["response_type"] == ["code"] and q["code_challenge_method"] == ["S256"], q
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", q["code_challenge"][0]), q
        assert q["access_type"] == ["offline"] and q["prompt"] == ["consent"], q
        scopes = q["scope"][0].split()
        assert SCOPE + "calendar.events" in scopes and SCOPE + "calendar.readonly" in scopes, scopes
        assert SCOPE + "calendar" not in scopes, "the full calendar scope is broader than needed"
        state = q["state"][0]
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", state), state
        rows = sql(f"SELECT state_hash, doctor_id, provider FROM oauth_states")
        assert rows.count("\n") == 0 and f"\t{EVA_ID}\tgoogle" in rows, rows
        assert state not in rows, "the state is stored in clear"
        FIRST_URL = url

    with t.case("JSON connect (session + X-CSRF-Token) → 200 {authorization_url, state}; bearer → 400 session_required"):
        r = cgi("POST", CONNECT, json_body={}, headers={"X-CSRF-Token": EVA_TOK}, cookies=EVA)
        assert r.status == 200, r
        j = r.json()
        assert set(j) == {"authorization_url", "state"}, j
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(j["authorization_url"]).query)
        assert q["state"] == [j["state"]], (q, j)
        JSON_URL = j["authorization_url"]
        r = cgi("POST", CONNECT, json_body={}, headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 400 and r.json()["error"]["code"] == "session_required", r
        assert "Kalender-Integrationen" in r.json()["error"]["message"], r

    with t.case("callback with another doctor's state → 400 German page, nothing stored; the state is used up"):
        loc = follow_google(JSON_URL)
        r = callback(loc, BOB)
        assert r.status == 400 and "ungültig oder wurde schon verwendet" in r.body, r
        assert (r.header("content-type") or "").startswith("text/html"), r
        assert n_google(BOB_ID) == 0 and n_google() == 0
        r = callback(loc, EVA)
        assert r.status == 400 and "ungültig oder wurde schon verwendet" in r.body, r
        assert n_google() == 0

    with t.case("callback: code exchange, userinfo, calendars → 303 with notice; row with Fernet-encrypted tokens"):
        G.clear_requests()
        loc = follow_google(FIRST_URL)
        r = callback(loc, EVA)
        assert r.status == 303, r
        m = re.fullmatch(r"/doctor/calendar-integrations\?ok=connected#verbindung-(\d+)", r.header("location") or "")
        assert m, r
        GID = int(m.group(1))
        row = sql(f"SELECT provider, account_email, sync_status, doctor_id FROM calendar_integrations WHERE id={GID}")
        assert row == f"google\t{ACCOUNT}\tactive\t{EVA_ID}", row
        enc = sql(f"SELECT credentials_encrypted FROM calendar_integrations WHERE id={GID}")
        assert enc.startswith("gAAAAA") and "ya29" not in enc and "1//" not in enc, enc[:80]
        creds = json.loads(Fernet(FERNET_KEY.encode()).decrypt(enc.encode()))
        assert creds["access_token"].startswith("ya29.") and creds["refresh_token"].startswith("1//"), creds.keys()
        assert creds["expires_at"] > 0 and SCOPE + "calendar.events" in creds["scope"], creds["scope"]
        TOKENS = (creds["access_token"], creds["refresh_token"])
        # the token request carried the PKCE verifier and the exact redirect_uri
        toks = [x for x in G.request_log() if x["path"] == "/token"]
        assert len(toks) == 1 and toks[0]["status"] == 200, toks
        assert toks[0]["body"]["grant_type"] == ["authorization_code"], toks[0]["body"]
        assert toks[0]["body"]["redirect_uri"] == [REDIRECT_URI] and "code_verifier" in toks[0]["body"], toks[0]
        assert any(x["path"] == "/oauth2/v3/userinfo" for x in G.request_log()), "userinfo not asked"
        assert count("SELECT COUNT(*) FROM oauth_states") == 0, "the used state is still stored"

    with t.case("the connection's calendars: primary, Praxis (writable), holidays (read-only, not blocking); one receiver"):
        cals = sql(f"SELECT display_name, can_write, blocks_availability, receives_appointments, remote_id FROM integration_calendars "
                   f"WHERE integration_id={GID} ORDER BY id").split("\n")
        names = [c.split("\t")[0] for c in cals]
        assert ACCOUNT in names and "Praxis" in names and "Feiertage in Deutschland" in names, cals
        hol = [c for c in cals if c.startswith("Feiertage")][0].split("\t")
        assert hol[1] == "0" and hol[2] == "0" and hol[3] == "0", hol
        assert all(c.split("\t")[2] == "1" for c in cals if not c.startswith("Feiertage")), cals
        assert sum(int(c.split("\t")[3]) for c in cals) == 1, cals
        assert "de.german#holiday@group.v.calendar.google.com" in [c.split("\t")[4] for c in cals], cals

    with t.case("the page after connecting: notice, Google card with the account, status aktiv, calendar choices"):
        r = page(EVA, "ok=connected")
        assert "Der Kalender wurde verbunden." in r.body, r.body[:2000]
        b = google_card(r.body)
        assert f'id="verbindung-{GID}"' in b and ACCOUNT in b and ">aktiv<" in b, b[:3000]
        assert f'action="/doctor/calendar-integrations/{GID}/settings"' in b and "Praxis" in b
        assert "Weiteres Google-Konto verbinden" in b
        r = cgi("GET", "/api/doctor/calendar-integrations", headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 200, r
        j = r.json()
        assert [i["provider"] for i in j["integrations"]] == ["google"], j
        assert j["providers"]["google"] == {"configured": True, "missing": []}, j

    with t.case("replaying the used callback → 400, still one connection"):
        r = callback(loc, EVA)
        assert r.status == 400 and "ungültig oder wurde schon verwendet" in r.body, r
        assert n_google() == 1

    with t.case("access denied on Google's page → 303 to the page with a German message; nothing stored"):
        G.set_knobs(consent="deny")
        loc = follow_google(connect(EVA, EVA_TOK))
        assert "error=access_denied" in loc, loc
        r = callback(loc, EVA)
        assert r.status == 303 and r.header("location") == "/doctor/calendar-integrations?err=google-denied", r
        r = page(EVA, "err=google-denied")
        assert "Sie haben den Zugriff auf Ihren Google-Kalender abgelehnt." in r.body, r.body[:2000]
        assert n_google() == 1 and count("SELECT COUNT(*) FROM oauth_states") == 0
        G.set_knobs(consent="approve")

    with t.case("expired state (older than 10 minutes) → 400 German page, nothing stored"):
        loc = follow_google(connect(EVA, EVA_TOK))
        DB.sql("UPDATE oauth_states SET expires_at = UTC_TIMESTAMP() - INTERVAL 1 MINUTE")
        r = callback(loc, EVA)
        assert r.status == 400 and "zu lange gedauert" in r.body, r
        assert n_google() == 1 and count("SELECT COUNT(*) FROM oauth_states") == 0

    with t.case("state of another session of the same doctor → 400 German page; the state is used up"):
        loc = follow_google(connect(EVA, EVA_TOK))
        r = callback(loc, EVA2)
        assert r.status == 400 and "anderen Sitzung" in r.body, r
        r = callback(loc, EVA)
        assert r.status == 400 and "ungültig oder wurde schon verwendet" in r.body, r
        assert n_google() == 1

    with t.case("forged, missing and malformed states → 400; no token request is made"):
        G.clear_requests()
        for query in ("state=" + "A" * 43 + "&code=4/0Afake", "code=4/0Afake", "state=%3Cscript%3E&code=x",
                      "state=" + "x" * 5000):
            r = cgi("GET", CALLBACK, query=query, cookies=EVA)
            assert r.status == 400 and "<script>" not in r.body, (query, r)
        assert not [x for x in G.request_log() if x["path"] == "/token"], G.request_log()

    with t.case("callback without a session → login redirect, state untouched"):
        url = connect(EVA, EVA_TOK)
        loc = follow_google(url)
        r = cgi("GET", CALLBACK, query=loc.split("?", 1)[1])
        assert r.status == 303 and r.header("location") == "/doctor/login", r
        assert count("SELECT COUNT(*) FROM oauth_states") == 1
        HELD = loc

    with t.case("a code Google refuses (used/expired) → 400 German page, nothing stored"):
        G.set_knobs(code_ttl=0)
        r = callback(follow_google(connect(EVA, EVA_TOK)), EVA)
        G.set_knobs(code_ttl=600)
        assert r.status == 400 and "Anmeldecode nicht angenommen" in r.body, r
        assert n_google() == 1
        r = callback(HELD, EVA)                # the state held back above still works
        assert r.status == 303 and "ok=connected" in r.header("location"), r
        assert n_google() == 1, "a reconnect of the same account made a second row"

    with t.case("calendar scope unticked → not connected, German explanation, the partial grant revoked"):
        G.clear_requests()
        G.set_knobs(deny_scopes=[SCOPE + "calendar.events"], account_email="zoe@example.com")
        loc = follow_google(connect(EVA, EVA_TOK))
        r = callback(loc, EVA)
        G.set_knobs(deny_scopes=[], account_email=ACCOUNT)
        assert r.status == 303 and r.header("location") == "/doctor/calendar-integrations?err=google-scope", r
        assert count(f"SELECT COUNT(*) FROM calendar_integrations WHERE account_email='zoe@example.com'") == 0
        revokes = [x for x in G.request_log() if x["path"] == "/revoke"]
        assert len(revokes) == 1 and revokes[0]["status"] == 200, revokes
        r = page(EVA, "err=google-scope")
        assert "Kalender-Berechtigung abgewählt" in r.body and "nichts verbunden" in r.body, r.body[:2000]

    with t.case("reauth_required: 'erneut verbinden', German warning, reconnect button; reconnecting makes it active"):
        DB.sql(f"UPDATE calendar_integrations SET sync_status='reauth_required', last_error='Google hat den Zugriff "
               f"widerrufen.' WHERE id={GID}")
        b = google_card(page(EVA).body)
        li = b[b.index(f'id="verbindung-{GID}"'):]
        assert "erneut verbinden" in li and "muss erneut verbunden werden" in li, li[:3000]
        assert "Erneut mit Google verbinden" in li and f'action="{CONNECT}"' in li, li[:3000]
        assert f'name="login_hint" value="{ACCOUNT}"' in li, li[:3000]
        r = cgi("POST", CONNECT, form={"csrf_token": EVA_TOK, "login_hint": ACCOUNT}, cookies=EVA)
        assert r.status == 303, r
        loc = r.header("location")
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query).get("login_hint") == [ACCOUNT], loc
        bad = cgi("POST", CONNECT, form={"csrf_token": EVA_TOK, "login_hint": "nicht <da>"}, cookies=EVA)
        assert bad.status == 400 and "login_hint" in bad.body, bad
        r = callback(follow_google(loc), EVA)
        assert r.status == 303 and f"verbindung-{GID}" in r.header("location"), r
        assert sql(f"SELECT sync_status, last_error IS NULL FROM calendar_integrations WHERE id={GID}") == "active\t1"
        assert "Erneut mit Google verbinden" not in page(EVA).body

    with t.case("broken-calendar policy: default 'keep' (checked, reauth card says the busy time stays blocked)"):
        assert sql(f"SELECT broken_calendar_policy FROM doctors WHERE id={EVA_ID}") == "keep"
        DB.sql(f"UPDATE calendar_integrations SET sync_status='reauth_required' WHERE id={GID}")
        r = page(EVA)
        assert re.search(r'id="policy-keep" name="broken_calendar_policy" type="radio" value="keep" checked', r.body), r.body
        assert not re.search(r'value="free" checked', r.body)
        assert 'action="/doctor/calendar-integrations/policy"' in r.body
        li = r.body[r.body.index(f'id="verbindung-{GID}"'):]
        assert "bleiben gesperrt" in li and "wurden freigegeben" not in li, li[:3000]

    with t.case("policy 'free' saved through the form; the reauth card says the busy time is released"):
        r = cgi("POST", "/doctor/calendar-integrations/policy", form={"csrf_token": EVA_TOK,
                "broken_calendar_policy": "free"}, cookies=EVA)
        assert r.status == 303 and r.header("location") == "/doctor/calendar-integrations?ok=policy", r
        assert sql(f"SELECT broken_calendar_policy FROM doctors WHERE id={EVA_ID}") == "free"
        assert sql(f"SELECT broken_calendar_policy FROM doctors WHERE id={BOB_ID}") == "keep"
        r = page(EVA, "ok=policy")
        assert "ausgefallene Kalender-Verbindungen wurde gespeichert" in r.body, r.body[:2000]
        assert re.search(r'value="free" checked', r.body) and not re.search(r'value="keep" checked', r.body)
        li = r.body[r.body.index(f'id="verbindung-{GID}"'):]
        assert "wurden freigegeben" in li and "bleiben gesperrt" not in li, li[:3000]

    with t.case("policy: unknown value → 400, missing CSRF → 403, no session → login; the value is unchanged"):
        r = cgi("POST", "/doctor/calendar-integrations/policy", form={"csrf_token": EVA_TOK,
                "broken_calendar_policy": "'; DROP TABLE doctors; --"}, cookies=EVA)
        assert r.status == 400 and "ausgefallenen Kalender-Verbindung" in r.body, r
        r = cgi("POST", "/doctor/calendar-integrations/policy", form={"broken_calendar_policy": "keep"}, cookies=EVA)
        assert r.status == 403, r
        r = cgi("POST", "/doctor/calendar-integrations/policy", form={"csrf_token": EVA_TOK,
                "broken_calendar_policy": "keep"}, cookies={"tf_csrf": EVA["tf_csrf"]})
        assert r.status == 303 and r.header("location") == "/doctor/login", r
        assert sql(f"SELECT broken_calendar_policy FROM doctors WHERE id={EVA_ID}") == "free"
        DB.sql(f"UPDATE calendar_integrations SET sync_status='active' WHERE id={GID}")

    with t.case("Bob sees none of Eva's Google connection"):
        r = page(BOB)
        assert ACCOUNT not in r.body and f"verbindung-{GID}" not in r.body

    with t.case("every answer carries the security headers; HTML is no-store"):
        security_headers_ok(A.responses)

    with t.case("no token, code or state reaches the app's stderr (logs)"):
        enc = sql(f"SELECT credentials_encrypted FROM calendar_integrations WHERE id={GID}")
        creds = json.loads(Fernet(FERNET_KEY.encode()).decrypt(enc.encode()))
        secrets_ = set(TOKENS) | {creds["access_token"], creds["refresh_token"], state}
        for resp in A.responses:
            for s in secrets_:
                assert s not in resp.stderr, resp.stderr[-500:]
            assert "4/0A" not in resp.stderr, resp.stderr[-500:]
finally:
    S.finish()
t.done()
