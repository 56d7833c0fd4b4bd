#!/usr/bin/env python3
"""test_cgi.py: tf-calendar.fcgi in plain CGI mode against a private MariaDB (TAP).

Runs the real binary once per request with CGI variables in its environment and the body on
stdin, parses its CGI output (Status: line, headers, body) and checks the web contract: login with
CSRF and rate limit, sessions (only the hash stored), the integrations page and API, bearer tokens,
error pages and JSON errors, limits, security headers, escaping, /healthz and start-up errors.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.parse

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))

from tap import Tap  # noqa: E402
from cgiapp import (PASSWORD, SECRET, CgiApp, CgiSetup, Resp, b64u, built, cgi_settings,  # noqa: E402
                    sanitizer_trouble, skip_unless_ready, write_config)

APP, ADMIN = built(BUILDDIR, "tf-calendar.fcgi", "tf-admin")
EVIL_NAME = 'Dr. Eva <script>alert("x")</script> & Söhne'

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
# the integrations page with Google configured: its connect form ends at Google (303)
CSP_GOOGLE_FORM = CSP.replace("form-action 'self'", "form-action 'self' https://accounts.google.com")

t = Tap()


def run_app(env_vars, body=None, config=None, expect_rc=0):
    return APPRUN.run(env_vars, body=body, config=config, expect_rc=expect_rc)


def cgi(method, path, query="", **kw):
    return APPRUN.cgi(method, path, query=query, **kw)


# ------------------------------------------------------------------ a tiny FastCGI client (stdlib)
FCGI_BEGIN, FCGI_END, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6


def _fcgi_record(rtype, content, req_id=1):
    return struct.pack("!BBHHBx", 1, rtype, req_id, len(content), 0) + content


def _fcgi_len(n):
    return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)


def fcgi(sock_path, method, path, body=b"", ctype=None, cookies=None, extra=None):
    """One request to a FastCGI responder on a unix socket; returns a Resp."""
    params = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": method,
              "PATH_INFO": path, "REQUEST_URI": path, "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
              "CONTENT_LENGTH": str(len(body)) if body else ""}
    if ctype:
        params["CONTENT_TYPE"] = ctype
    if cookies:
        params["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    params.update(extra or {})
    pairs = b"".join(_fcgi_len(len(k.encode())) + _fcgi_len(len(v.encode())) + k.encode() + v.encode()
                     for k, v in params.items())
    msg = _fcgi_record(FCGI_BEGIN, struct.pack("!HB5x", 1, 0))
    for i in range(0, len(pairs), 65535):
        msg += _fcgi_record(FCGI_PARAMS, pairs[i:i + 65535])
    msg += _fcgi_record(FCGI_PARAMS, b"")
    for i in range(0, len(body), 65535):
        msg += _fcgi_record(FCGI_STDIN, body[i:i + 65535])
    msg += _fcgi_record(FCGI_STDIN, b"")
    out = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(sock_path)
        s.sendall(msg)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("FastCGI connection closed before END_REQUEST")
            buf += chunk
            while len(buf) >= 8:
                _, rtype, _, clen, plen = struct.unpack("!BBHHBx", buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
                if rtype == FCGI_STDOUT:
                    out += content
                elif rtype == FCGI_END:
                    resp = Resp(0, out, b"")
                    responses.append(resp)
                    return resp


def login_form():
    """GET the login page: (csrf cookie value, csrf_token field)."""
    r = cgi("GET", "/doctor/login")
    assert r.status == 200, r
    m = re.search(r'name="csrf_token" value="([^"]+)"', r.body)
    assert m, "no csrf_token field"
    return r.cookie_value("tf_csrf"), m.group(1)


def login(email, password, remote="127.0.0.1"):
    ck, tok = login_form()
    return cgi("POST", "/doctor/login", form={"email": email, "password": password, "csrf_token": tok},
               cookies={"tf_csrf": ck}, remote=remote), ck, tok


def make_jwt(claims, secret=SECRET):
    h = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = b64u(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64u(sig)}"


def admin(*args, stdin=None):
    return APPRUN.admin(*args, stdin=stdin)


# ---------------------------------------------------------------------------------------- setup
skip_unless_ready(APP, ADMIN)
S = CgiSetup(t, "tf-cgi-")
TMP, DB, sql = S.tmp, S.db, S.sql
S.start("MariaDB")

BASE = cgi_settings(DB, SRCDIR, SECRET, log_level="warn")
CONFIG = S.write_config(BASE)
APPRUN = CgiApp(APP, ADMIN, CONFIG)
responses = APPRUN.responses   # every response, for the security-header check at the end

with S.bail_on_error():
    admin("migrate")
    EVA_ID = S.add_doctor(APPRUN, "eva@example.org", EVIL_NAME)
    BOB_ID = S.add_doctor(APPRUN, "bob@example.org", "Dr. Bob Berg")

try:
    # ------------------------------------------------------------------------------ login page
    with t.case("GET /doctor/login: German form with email, password, csrf_token; sets tf_csrf"):
        r = cgi("GET", "/doctor/login")
        assert r.status == 200, r
        assert '<html lang="de">' in r.body
        for field in ('name="email"', 'name="password"', 'name="csrf_token"', 'for="email"', 'for="password"'):
            assert field in r.body, field
        c = r.cookie("tf_csrf")
        assert c and "HttpOnly" in c and "SameSite=Lax" in c and "Path=/" in c, c
        assert "Secure" not in c, c
        assert r.header("content-type") == "text/html; charset=utf-8"
        assert '<link rel="stylesheet" href="/static/style.css">' in r.body
        assert "<script" not in r.body and "style=" not in r.body

    with t.case("login page keeps an existing tf_csrf cookie and derives the token from it"):
        ck, tok = login_form()
        r = cgi("GET", "/doctor/login", cookies={"tf_csrf": ck})
        assert r.cookie("tf_csrf") is None, "cookie set again"
        want = b64u(hmac.new(SECRET.encode(), b"csrf:" + ck.encode(), hashlib.sha256).digest())
        assert f'value="{want}"' in r.body, "token is not HMAC(secret, csrf:cookie)"

    with t.case("HEAD /doctor/login: 200, headers, no body"):
        r = cgi("HEAD", "/doctor/login")
        assert r.status == 200 and r.body == "", r
        assert int(r.header("content-length")) > 0

    with t.case("REQUEST_URI without PATH_INFO routes by path, ignores the query"):
        r = cgi("GET", "/doctor/login", query="next=%2Fx", use_uri=True)
        assert r.status == 200, r

    with t.case("GET / redirects to the integrations page"):
        r = cgi("GET", "/")
        assert r.status == 303 and r.header("location") == "/doctor/calendar-integrations", r

    # ------------------------------------------------------------------------------ CSRF
    with t.case("POST /doctor/login without CSRF cookie and token → 403 Sicherheitsprüfung"):
        r = cgi("POST", "/doctor/login", form={"email": "eva@example.org", "password": PASSWORD})
        assert r.status == 403, r
        assert "Sicherheitsprüfung" in r.body
        assert r.cookie("tf_session") is None

    with t.case("POST /doctor/login with a wrong csrf_token → 403"):
        ck, tok = login_form()
        bad = ("A" if tok[0] != "A" else "B") + tok[1:]
        r = cgi("POST", "/doctor/login", form={"email": "eva@example.org", "password": PASSWORD,
                                               "csrf_token": bad}, cookies={"tf_csrf": ck})
        assert r.status == 403 and "Sicherheitsprüfung" in r.body, r

    with t.case("POST /doctor/login with a token of another cookie → 403"):
        ck1, tok1 = login_form()
        ck2, tok2 = login_form()
        r = cgi("POST", "/doctor/login", form={"email": "eva@example.org", "password": PASSWORD,
                                               "csrf_token": tok1}, cookies={"tf_csrf": ck2})
        assert r.status == 403, r

    # ------------------------------------------------------------------------------ login
    with t.case("wrong password → 401, login page with the German message"):
        r, _, _ = login("eva@example.org", "falsch-falsch")
        assert r.status == 401, r
        assert "E-Mail-Adresse oder Passwort ist falsch." in r.body
        assert 'value="eva@example.org"' in r.body
        assert r.cookie("tf_session") is None

    with t.case("unknown e-mail → 401 with the same message"):
        r, _, _ = login("niemand@example.org", PASSWORD)
        assert r.status == 401 and "E-Mail-Adresse oder Passwort ist falsch." in r.body, r

    with t.case("empty password → 400 asking for both fields"):
        ck, tok = login_form()
        r = cgi("POST", "/doctor/login", form={"email": "eva@example.org", "password": "",
                                               "csrf_token": tok}, cookies={"tf_csrf": ck})
        assert r.status == 400 and "Bitte geben Sie E-Mail-Adresse und Passwort ein." in r.body, r

    with t.case("5 failures for e-mail+IP, then 429 even with the right password"):
        ip = "192.0.2.77"
        for i in range(5):
            r, _, _ = login("bob@example.org", f"falsch-{i}", remote=ip)
            assert r.status == 401, (i, r)
        r, _, _ = login("bob@example.org", PASSWORD, remote=ip)
        assert r.status == 429, r
        assert "Zu viele fehlgeschlagene Anmeldeversuche" in r.body
        assert r.cookie("tf_session") is None
        n = sql("SELECT COUNT(*) FROM login_attempts WHERE email='bob@example.org' AND ip='192.0.2.77' AND success=0")
        assert n == "5", n

    with t.case("the limit is per e-mail AND IP: same e-mail from another IP logs in"):
        r, _, _ = login("bob@example.org", PASSWORD, remote="192.0.2.78")
        assert r.status == 303, r

    with t.case("the limit is per e-mail AND IP: another e-mail from that IP is not limited"):
        r, _, _ = login("eva@example.org", "falsch", remote="192.0.2.77")
        assert r.status == 401, r

    with t.case("success → 303 to the integrations page, tf_session cookie, sessions row"):
        r, csrf_ck, csrf_tok = login("EVA@example.org ", PASSWORD)
        assert r.status == 303, r
        assert r.header("location") == "/doctor/calendar-integrations"
        c = r.cookie("tf_session")
        assert c and "HttpOnly" in c and "SameSite=Lax" in c and "Path=/" in c and "Max-Age=43200" in c, c
        assert "Secure" not in c
        SESSION = r.cookie_value("tf_session")
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", SESSION), SESSION
        CSRF_CK, CSRF_TOK = csrf_ck, csrf_tok

    with t.case("sessions row stores only the SHA-256 of the token"):
        rows = sql(f"SELECT token_hash, doctor_id, ip, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), expires_at) "
                   f"FROM sessions WHERE doctor_id={EVA_ID}").splitlines()
        assert len(rows) == 1, rows
        th, did, ip, ttl = rows[0].split("\t")
        assert th == hashlib.sha256(SESSION.encode()).hexdigest(), th
        assert int(did) == EVA_ID and ip == "127.0.0.1"
        assert 43100 < int(ttl) <= 43200, ttl
        dump = sql("SELECT * FROM sessions")
        assert SESSION not in dump, "the raw token is in the table"

    # ------------------------------------------------------------------------------ integrations page
    with t.case("integrations page without a session → 303 to /doctor/login"):
        r = cgi("GET", "/doctor/calendar-integrations")
        assert r.status == 303 and r.header("location") == "/doctor/login", r

    with t.case("integrations page: three cards, hints naming missing settings, logout form"):
        r = cgi("GET", "/doctor/calendar-integrations", cookies={"tf_session": SESSION, "tf_csrf": CSRF_CK})
        assert r.status == 200, r
        b = r.body
        assert "<title>Kalender-Integrationen" in b and "<h1>Kalender-Integrationen</h1>" in b
        for title in ("Google Calendar", "Microsoft Outlook", "Apple iCloud"):
            assert title in b, title
        assert ("Nicht eingerichtet: GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, GOOGLE_REDIRECT_URI "
                "fehlen in der Konfiguration.") in b
        assert ("Nicht eingerichtet: MICROSOFT_CLIENT_ID, MICROSOFT_CLIENT_SECRET, "
                "MICROSOFT_REDIRECT_URI fehlen in der Konfiguration.") in b
        apple = b[b.index('provider-apple'):]
        assert "Nicht eingerichtet" not in apple and "Mit iCloud verbinden" in apple
        assert 'action="/api/doctor/calendar-integrations/icloud"' in apple
        assert 'action="/doctor/logout"' in b and f'value="{CSRF_TOK}"' in b
        assert "Sie haben noch keinen Kalender verbunden." in b
        assert b.count("<button") == 2, "the logout and the iCloud button only (no dead connect buttons)"

    with t.case("the doctor's name is HTML-escaped on the page"):
        assert "Dr. Eva &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Söhne" in r.body, r.body[:1500]
        assert "<script>" not in r.body

    with t.case("with GOOGLE_* set there is no hint for Google"):
        r = cgi("GET", "/doctor/calendar-integrations", cookies={"tf_session": SESSION},
                extra={"GOOGLE_CLIENT_ID": "id.apps.example", "GOOGLE_CLIENT_SECRET": "sekret-google",
                       "GOOGLE_REDIRECT_URI": "http://localhost:8080/api/doctor/calendar-integrations/callback/google"})
        assert r.status == 200, r
        google = r.body[r.body.index("provider-google"):r.body.index("provider-outlook")]
        assert "Nicht eingerichtet" not in google and "Mit Google verbinden" in google, google
        assert 'action="/api/doctor/calendar-integrations/connect/google"' in google, google
        # the connect form's POST answers with a 303 to Google: the page's form-action allows that origin
        assert r.header("content-security-policy") == CSP.replace(
            "form-action 'self'", "form-action 'self' https://accounts.google.com"), r
        assert "Nicht eingerichtet: MICROSOFT_CLIENT_ID" in r.body

    with t.case("only the missing Google setting is named"):
        r = cgi("GET", "/doctor/calendar-integrations", cookies={"tf_session": SESSION},
                extra={"GOOGLE_CLIENT_ID": "id.apps.example", "GOOGLE_CLIENT_SECRET": "sekret-google"})
        assert "Nicht eingerichtet: GOOGLE_REDIRECT_URI fehlt in der Konfiguration." in r.body, r

    sql(f"INSERT INTO calendar_integrations (doctor_id, provider, account_email, sync_status, last_sync_at, "
        f"last_error, created_at) VALUES ({EVA_ID}, 'google', 'praxis@gmail.example', 'error', "
        f"'2026-11-21 10:00:00', 'Token abgelaufen <b>jetzt</b>', '2026-11-20 09:30:00'), "
        f"({EVA_ID}, 'apple', 'eva@icloud.example', 'active', NULL, NULL, '2026-11-20 09:31:00'), "
        f"({BOB_ID}, 'outlook', 'bob@outlook.example', 'reauth_required', NULL, NULL, '2026-11-20 09:32:00')")

    with t.case("connections are listed with account, German status, last sync (local time), last error"):
        r = cgi("GET", "/doctor/calendar-integrations", cookies={"tf_session": SESSION})
        b = r.body
        google = b[b.index("provider-google"):b.index("provider-outlook")]
        assert "praxis@gmail.example" in google and ">Fehler<" in google, google
        assert "21.11.2026, 11:00 Uhr" in google, google          # 10:00 UTC = 11:00 in Berlin (CET)
        assert "Token abgelaufen &lt;b&gt;jetzt&lt;/b&gt;" in google
        apple = b[b.index("provider-apple"):]
        assert "eva@icloud.example" in apple and ">aktiv<" in apple and "noch nie" in apple
        assert "bob@outlook.example" not in b, "another doctor's connection shown"
        assert "Sie haben noch keinen Kalender verbunden." not in b

    # ------------------------------------------------------------------------------ API
    with t.case("API without auth → 401 JSON unauthorized"):
        r = cgi("GET", "/api/doctor/calendar-integrations")
        assert r.status == 401, r
        assert r.header("content-type").startswith("application/json")
        assert r.json()["error"]["code"] == "unauthorized"

    with t.case("API with the session cookie → 200 with integrations and providers"):
        r = cgi("GET", "/api/doctor/calendar-integrations", cookies={"tf_session": SESSION})
        assert r.status == 200, r
        j = r.json()
        ints = j["integrations"]
        assert [i["provider"] for i in ints] == ["google", "apple"], ints
        g = ints[0]
        assert set(g) == {"id", "provider", "account_email", "sync_enabled", "sync_status",
                          "last_sync_at", "last_error", "created_at"}, g
        assert g["last_sync_at"] == "2026-11-21T10:00:00Z" and g["created_at"] == "2026-11-20T09:30:00Z"
        assert g["sync_enabled"] is True and g["sync_status"] == "error" and isinstance(g["id"], int)
        assert ints[1]["last_sync_at"] is None and ints[1]["last_error"] is None
        assert j["providers"]["google"] == {"configured": False, "missing": [
            "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "GOOGLE_REDIRECT_URI"]}, j["providers"]
        assert j["providers"]["outlook"]["configured"] is False
        assert j["providers"]["apple"] == {"configured": True, "missing": []}

    with t.case("API with a bearer token from tf-admin token → 200"):
        tok = admin("token", "bob@example.org")
        r = cgi("GET", "/api/doctor/calendar-integrations", headers={"Authorization": f"Bearer {tok}"})
        assert r.status == 200, r
        assert [i["account_email"] for i in r.json()["integrations"]] == ["bob@outlook.example"]
        BOB_TOKEN = tok

    with t.case("API with a bearer token made by Python's hmac (interop) → 200"):
        now = int(time.time())
        tok = make_jwt({"sub": str(EVA_ID), "email": "eva@example.org", "iat": now, "exp": now + 600})
        r = cgi("GET", "/api/doctor/calendar-integrations", headers={"Authorization": f"Bearer {tok}"})
        assert r.status == 200 and len(r.json()["integrations"]) == 2, r

    with t.case("API with a tampered bearer token → 401 JSON"):
        h, p, s = BOB_TOKEN.split(".")
        claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        claims["sub"] = str(EVA_ID)
        forged = f"{h}.{b64u(json.dumps(claims).encode())}.{s}"
        r = cgi("GET", "/api/doctor/calendar-integrations", headers={"Authorization": f"Bearer {forged}"})
        assert r.status == 401 and r.json()["error"]["code"] == "unauthorized", r

    with t.case("API with an expired bearer token → 401 JSON"):
        now = int(time.time())
        tok = make_jwt({"sub": str(EVA_ID), "email": "eva@example.org", "iat": now - 7200, "exp": now - 3600})
        r = cgi("GET", "/api/doctor/calendar-integrations", headers={"Authorization": f"Bearer {tok}"})
        assert r.status == 401 and r.json()["error"]["code"] == "unauthorized", r

    with t.case("API with a token signed by another key → 401; a bad bearer does not fall back to the cookie"):
        now = int(time.time())
        tok = make_jwt({"sub": str(EVA_ID), "iat": now, "exp": now + 600}, secret="x" * 40)
        r = cgi("GET", "/api/doctor/calendar-integrations", headers={"Authorization": f"Bearer {tok}"},
                cookies={"tf_session": SESSION})
        assert r.status == 401, r

    with t.case("API with a valid token for a deleted doctor → 401"):
        now = int(time.time())
        tok = make_jwt({"sub": "999999", "iat": now, "exp": now + 600})
        r = cgi("GET", "/api/doctor/calendar-integrations", headers={"Authorization": f"Bearer {tok}"})
        assert r.status == 401, r

    # ------------------------------------------------------------------------------ expiry and logout
    with t.case("expired session → 303 to login, row deleted, cookie cleared"):
        r2, ck2, _ = login("bob@example.org", PASSWORD)
        s2 = r2.cookie_value("tf_session")
        h2 = hashlib.sha256(s2.encode()).hexdigest()
        sql(f"UPDATE sessions SET expires_at = UTC_TIMESTAMP() - INTERVAL 1 MINUTE WHERE token_hash='{h2}'")
        r = cgi("GET", "/doctor/calendar-integrations", cookies={"tf_session": s2})
        assert r.status == 303 and r.header("location") == "/doctor/login", r
        assert "Max-Age=0" in (r.cookie("tf_session") or ""), r
        assert sql(f"SELECT COUNT(*) FROM sessions WHERE token_hash='{h2}'") == "0"
        r = cgi("GET", "/api/doctor/calendar-integrations", cookies={"tf_session": s2})
        assert r.status == 401, r

    with t.case("logout without csrf_token → 403, session kept"):
        r = cgi("POST", "/doctor/logout", form={}, cookies={"tf_session": SESSION, "tf_csrf": CSRF_CK})
        assert r.status == 403, r
        assert sql(f"SELECT COUNT(*) FROM sessions WHERE doctor_id={EVA_ID}") == "1"

    with t.case("logout deletes the session row, clears the cookie, 303 to login"):
        r = cgi("POST", "/doctor/logout", form={"csrf_token": CSRF_TOK},
                cookies={"tf_session": SESSION, "tf_csrf": CSRF_CK})
        assert r.status == 303 and r.header("location") == "/doctor/login", r
        c = r.cookie("tf_session")
        assert c and c.startswith("tf_session=;") and "Max-Age=0" in c, c
        assert sql(f"SELECT COUNT(*) FROM sessions WHERE doctor_id={EVA_ID}") == "0"
        r = cgi("GET", "/doctor/calendar-integrations", cookies={"tf_session": SESSION})
        assert r.status == 303, r

    # ------------------------------------------------------------------------------ errors and limits
    with t.case("404: German page; JSON under /api/"):
        r = cgi("GET", "/gibt/es/nicht")
        assert r.status == 404 and "Seite nicht gefunden" in r.body and '<html lang="de">' in r.body, r
        r = cgi("GET", "/api/gibt/es/nicht")
        assert r.status == 404 and r.json()["error"]["code"] == "not_found", r
        assert r.json()["error"]["message"]

    with t.case("405 with Allow: page and JSON"):
        r = cgi("POST", "/doctor/calendar-integrations", form={"a": "b"})
        assert r.status == 405 and r.header("allow") == "GET, HEAD", r
        assert "Methode nicht erlaubt" in r.body
        r = cgi("DELETE", "/api/doctor/calendar-integrations")
        assert r.status == 405 and r.header("allow") == "GET, HEAD", r
        assert r.json()["error"]["code"] == "method_not_allowed"
        r = cgi("PUT", "/doctor/login")
        assert r.status == 405 and r.header("allow") == "GET, HEAD, POST", r

    with t.case("413 for CONTENT_LENGTH 70000 without reading the body"):
        r = cgi("POST", "/doctor/login", extra={"CONTENT_LENGTH": "70000",
                                                "CONTENT_TYPE": "application/x-www-form-urlencoded"})
        assert r.status == 413 and "Anfrage zu groß" in r.body, r
        r = cgi("POST", "/api/doctor/calendar-integrations", extra={"CONTENT_LENGTH": "70000",
                                                                    "CONTENT_TYPE": "application/json"})
        assert r.status == 413 and r.json()["error"]["code"] == "payload_too_large", r

    with t.case("a malformed or overflowing CONTENT_LENGTH → 400"):
        for bad in ("12abc", "-1", "99999999999999999999999", " 5"):
            r = cgi("POST", "/doctor/login", extra={"CONTENT_LENGTH": bad})
            assert r.status == 400, (bad, r)

    with t.case("a body shorter than CONTENT_LENGTH → 400"):
        r = cgi("POST", "/doctor/login", body=b"email=a", ctype="application/x-www-form-urlencoded",
                extra={"CONTENT_LENGTH": "100"})
        assert r.status == 400, r

    with t.case("an unsupported body type → 415"):
        r = cgi("POST", "/doctor/login", body=b"<xml/>", ctype="text/xml")
        assert r.status == 415, r

    with t.case("paths with .., NUL or control bytes, or over 2 KiB → 400"):
        for p in ("/doctor/../etc/passwd", "/doctor/%2e%2e/login"):
            r = cgi("GET", p, use_uri=True)
            assert r.status == 400, (p, r)
        r = cgi("GET", "/doctor/login%00x", use_uri=True)
        assert r.status == 400, r
        r = cgi("GET", "/doctor/login%0d%0aSet-Cookie:x=1", use_uri=True)
        assert r.status == 400 and r.cookie("x") is None, r
        r = cgi("GET", "/" + "a" * 2100)
        assert r.status == 400, r

    with t.case("double and trailing slashes are normalised"):
        r = cgi("GET", "//doctor///login/")
        assert r.status == 200, r

    with t.case("a broken Cookie header is ignored (login page still works)"):
        r = cgi("GET", "/doctor/login", headers={"Cookie": "\x01;;;==;tf_csrf"})
        assert r.status == 200, r

    with t.case("HTTPS BASE_URL → Secure cookies"):
        cfg = os.path.join(TMP, "https.env")
        write_config(cfg, dict(BASE, BASE_URL="https://praxis.example"))
        r = cgi("GET", "/doctor/login", config=cfg)
        assert "Secure" in r.cookie("tf_csrf"), r

    # ------------------------------------------------------------------------------ health and start-up
    with t.case("/healthz → 200 ok"):
        r = cgi("GET", "/healthz")
        assert r.status == 200 and r.json() == {"status": "ok", "database": "ok"}, r

    with t.case("/healthz with a bad DB socket → 503 unreachable; pages needing the DB → 503, no crash"):
        cfg = os.path.join(TMP, "baddb.env")
        write_config(cfg, dict(BASE, TF_DB_SOCKET=os.path.join(TMP, "nope.sock")))
        r = cgi("GET", "/healthz", config=cfg)
        assert r.status == 503 and r.json() == {"status": "error", "database": "unreachable"}, r
        r = cgi("GET", "/doctor/calendar-integrations", config=cfg, cookies={"tf_session": "x" * 43})
        assert r.status == 503 and "Dienst nicht verfügbar" in r.body, r
        r = cgi("GET", "/doctor/login", config=cfg)
        assert r.status == 200, "the login form does not need the database"

    with t.case("missing BASE_URL → exit 2, stderr names it, German 500 page"):
        cfg = os.path.join(TMP, "nobase.env")
        write_config(cfg, {k: v for k, v in BASE.items() if k != "BASE_URL"})
        r = cgi("GET", "/doctor/login", config=cfg, expect_rc=2)
        assert "BASE_URL" in r.stderr, r.stderr
        assert r.status == 500 and "Interner Fehler" in r.body and '<html lang="de">' in r.body, r

    with t.case("missing or short TF_SECRET_KEY → exit 2 naming it; the value is never printed"):
        cfg = os.path.join(TMP, "nokey.env")
        write_config(cfg, {k: v for k, v in BASE.items() if k != "TF_SECRET_KEY"})
        r = cgi("GET", "/doctor/login", config=cfg, expect_rc=2)
        assert "TF_SECRET_KEY" in r.stderr, r.stderr
        write_config(cfg, dict(BASE, TF_SECRET_KEY="kurz-und-geheim"))
        r = cgi("GET", "/doctor/login", config=cfg, expect_rc=2)
        assert "TF_SECRET_KEY" in r.stderr and "kurz-und-geheim" not in r.stderr, r.stderr

    with t.case("--help and --version"):
        r = subprocess.run([APP, "--version"], capture_output=True, timeout=30)
        assert r.returncode == 0 and b"tf-calendar.fcgi" in r.stdout
        r = subprocess.run([APP, "--help"], capture_output=True, timeout=30)
        assert r.returncode == 0 and b"BASE_URL" in r.stdout
        r = subprocess.run([APP, "--bogus"], capture_output=True, timeout=30)
        assert r.returncode == 2


    # ------------------------------------------------------------------------------ FastCGI mode
    # The same binary with a listening unix socket as its stdin (what spawn-fcgi does).
    sock_path = os.path.join(TMP, "app.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(sock_path)
    lsock.listen(16)
    wenv = {k: os.environ[k] for k in ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS") if k in os.environ}
    wenv["TF_CONFIG"] = CONFIG
    worker = subprocess.Popen([APP], stdin=lsock.fileno(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=wenv)
    lsock.close()
    try:
        with t.case("FastCGI: one worker answers 300 mixed requests in turn"):
            r, fck, ftok = login("bob@example.org", PASSWORD)
            fsess = r.cookie_value("tf_session")
            want = {"/doctor/login": 200, "/healthz": 200, "/doctor/calendar-integrations": 200,
                    "/api/doctor/calendar-integrations": 200, "/nope": 404, "/api/nope": 404}
            for i in range(50):
                for path, st in want.items():
                    r = fcgi(sock_path, "GET", path, cookies={"tf_session": fsess, "tf_csrf": fck})
                    assert r.status == st, (path, r)
            assert worker.poll() is None, "worker died"

        with t.case("FastCGI: POST bodies are read from the stream (login, 405, 413, logout)"):
            ck, tok = login_form()
            body = urllib.parse.urlencode({"email": "bob@example.org", "password": PASSWORD,
                                           "csrf_token": tok}).encode()
            r = fcgi(sock_path, "POST", "/doctor/login", body=body,
                     ctype="application/x-www-form-urlencoded", cookies={"tf_csrf": ck})
            assert r.status == 303 and r.cookie("tf_session"), r
            s3 = r.cookie_value("tf_session")
            r = fcgi(sock_path, "POST", "/doctor/calendar-integrations", body=b"a=b",
                     ctype="application/x-www-form-urlencoded")
            assert r.status == 405, r
            r = fcgi(sock_path, "POST", "/doctor/login", extra={"CONTENT_LENGTH": "70000"})
            assert r.status == 413, r
            r = fcgi(sock_path, "POST", "/doctor/logout", body=f"csrf_token={tok}".encode(),
                     ctype="application/x-www-form-urlencoded", cookies={"tf_csrf": ck, "tf_session": s3})
            assert r.status == 303, r
            h3 = hashlib.sha256(s3.encode()).hexdigest()
            assert sql(f"SELECT COUNT(*) FROM sessions WHERE token_hash='{h3}'") == "0"

        with t.case("FastCGI: the worker survives a database outage (503) and recovers"):
            DB.stop()
            r = fcgi(sock_path, "GET", "/healthz")
            assert r.status == 503 and r.json()["database"] == "unreachable", r
            r = fcgi(sock_path, "GET", "/doctor/calendar-integrations", cookies={"tf_session": fsess})
            assert r.status == 503 and "Dienst nicht verfügbar" in r.body, r
            r = fcgi(sock_path, "GET", "/api/doctor/calendar-integrations", cookies={"tf_session": fsess})
            assert r.status == 503 and r.json()["error"]["code"] == "service_unavailable", r
            r = fcgi(sock_path, "GET", "/doctor/login")
            assert r.status == 200, r
            DB.start()
            r = fcgi(sock_path, "GET", "/healthz")
            assert r.status == 200, r
            r = fcgi(sock_path, "GET", "/doctor/calendar-integrations", cookies={"tf_session": fsess})
            assert r.status == 200, r
            assert worker.poll() is None, "worker died"

        with t.case("FastCGI: SIGTERM ends the worker cleanly (exit 0, no sanitizer or leak report)"):
            worker.send_signal(signal.SIGTERM)
            rc = worker.wait(timeout=60)
            err = worker.stderr.read().decode("utf-8", "replace")
            assert rc == 0 and not sanitizer_trouble(err), (rc, err[-3000:])
            assert SECRET not in err and PASSWORD not in err
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        worker.stderr.close()

    with t.case("every response carried the security headers"):
        assert len(responses) > 40, len(responses)
        for r in responses:
            if not r.complete:
                raise AssertionError(f"incomplete CGI output: {r!r}")
            assert r.header("content-security-policy") in (CSP, CSP_GOOGLE_FORM), r
            if r.header("content-security-policy") == CSP_GOOGLE_FORM:
                assert "/api/doctor/calendar-integrations/connect/google" in r.body, r
            assert r.header("x-content-type-options") == "nosniff", r
            assert r.header("referrer-policy") == "same-origin", r
            assert r.header("x-frame-options") == "DENY", r
            if (r.header("content-type") or "").startswith("text/html"):
                assert r.header("cache-control") == "no-store", r

    with t.case("no secret in any response or log line"):
        for r in responses:
            assert SECRET not in r.body and SECRET not in r.stderr, r
            assert PASSWORD not in r.stderr, r
finally:
    S.finish()

t.done()
