"""test_http.py: the web app end to end through nginx (nginx.conf.example) and spawn-fcgi, against a real MariaDB (TAP).

Login + CSRF, wrong password, the app's login lockout and nginx's rate limit, cookies, the
integrations page and API (session and bearer token), session expiry, logout, error pages and JSON,
limits, security headers, static files, /healthz, many requests on one FastCGI worker, and at the end
that no secret reached a log. Standard library only; redirects are never followed.
"""
import hashlib
import os
import re
import sys
import tempfile
import time
import http.client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import Tap  # noqa: E402
from stack import Stack  # noqa: E402
from httpc import CSP, Client, csrf_of, is_json_error, parse_forms, security_header_problems  # noqa: E402

t = Tap()


def check_security_headers(resp, what, html_page):
    problems = security_header_problems(resp, html_page)
    t.ok(not problems, f"security headers on {what}", "\n".join(problems) + f"\n{resp!r}")


# ---------------------------------------------------------------------- the tests
def login_page(cl, jar=None):
    r = cl.request("GET", "/doctor/login", cookies=jar)
    jar = dict(jar or {})
    c = r.cookies()
    if "tf_csrf" in c:
        jar["tf_csrf"] = c["tf_csrf"][0]
    return r, jar, csrf_of(r)


def do_login(cl, email, password):
    _, jar, token = login_page(cl)
    r = cl.request("POST", "/doctor/login",
                   body={"email": email, "password": password, "csrf_token": token or ""}, cookies=jar)
    c = r.cookies()
    if "tf_session" in c and c["tf_session"][0]:
        jar["tf_session"] = c["tf_session"][0]
    return r, jar


def main(st):
    cl = Client(st.port)
    seen_secrets = {"TF_SECRET_KEY": st.secret_key, "CALENDAR_ENCRYPTION_KEY": st.encryption_key,
                    "demo password": st.password}

    # --- login page and CSRF cookie
    r, jar, token = login_page(cl)
    t.eq(r.status, 200, "GET /doctor/login answers 200")
    f = parse_forms(r.text)
    names = {i.get("name") for i in f.inputs}
    t.ok({"email", "password", "csrf_token"} <= names, "login form has email, password, csrf_token",
         f"inputs: {sorted(n for n in names if n)}")
    t.ok(any(i.get("name") == "csrf_token" and i.get("type") == "hidden" for i in f.inputs),
         "csrf_token is a hidden input")
    t.ok(any((fm.get("method") or "").lower() == "post" for fm in f.forms), "login form posts")
    csrf_cookie = r.cookies().get("tf_csrf")
    t.ok(csrf_cookie and csrf_cookie[0] and "httponly" in csrf_cookie[1]
         and "samesite=lax" in csrf_cookie[1], "tf_csrf cookie set, HttpOnly, SameSite=Lax",
         repr(csrf_cookie))
    t.ok(token and len(token) >= 32, "csrf_token is filled in", repr(token))
    t.ok('lang="de"' in r.text or "Anmelden" in r.text or "Passwort" in r.text, "login page is German")
    check_security_headers(r, "the login page", html_page=True)
    t.ok((r.header("Content-Type") or "").startswith("text/html"), "login page is text/html",
         r.header("Content-Type"))

    # --- POST without / with a wrong CSRF token: 403
    r = cl.request("POST", "/doctor/login", body={"email": st.email, "password": st.password},
                   cookies=jar)
    t.eq(r.status, 403, "login without csrf_token: 403")
    t.ok("Sicherheitsprüfung" in r.text, "403 page names the Sicherheitsprüfung", r.text[:500])
    check_security_headers(r, "the 403 page", html_page=True)
    r = cl.request("POST", "/doctor/login",
                   body={"email": st.email, "password": st.password, "csrf_token": "A" * 43},
                   cookies=jar)
    t.eq(r.status, 403, "login with a forged csrf_token: 403")
    r = cl.request("POST", "/doctor/login",
                   body={"email": st.email, "password": st.password, "csrf_token": token})
    t.eq(r.status, 403, "login with a token but without its tf_csrf cookie: 403")
    t.ok("tf_session" not in r.cookies(), "no session cookie after a refused login")

    # --- wrong password: 401 with the German message
    r = cl.request("POST", "/doctor/login",
                   body={"email": st.email, "password": "falsch-" + st.password, "csrf_token": token},
                   cookies=jar)
    t.eq(r.status, 401, "wrong password: 401")
    t.ok("E-Mail-Adresse oder Passwort ist falsch." in r.text, "401 page says the German message",
         r.text[:500])
    t.ok("tf_session" not in r.cookies(), "no session cookie after a wrong password")
    r = cl.request("POST", "/doctor/login",
                   body={"email": "niemand@praxis-beispiel.de", "password": st.password,
                         "csrf_token": token}, cookies=jar)
    t.eq(r.status, 401, "unknown e-mail: 401 with the same answer")
    t.ok("E-Mail-Adresse oder Passwort ist falsch." in r.text, "unknown e-mail: same German message")

    # --- lockout after 5 failures (own doctor, so the demo doctor stays usable)
    rl_email = "sperre@praxis-beispiel.de"
    rl_password = "Sperre-Test-12345"
    st.admin("add-doctor", rl_email, "--name", "Dr. Sperre", input=rl_password + "\n", check=True)
    seen_secrets["second doctor's password"] = rl_password
    statuses = []
    for _ in range(5):
        r = cl.request("POST", "/doctor/login",
                       body={"email": rl_email, "password": "nicht-richtig", "csrf_token": token},
                       cookies=jar)
        statuses.append(r.status)
    t.eq(statuses, [401] * 5, "five wrong passwords: 401 each")
    r = cl.request("POST", "/doctor/login",
                   body={"email": rl_email, "password": rl_password, "csrf_token": token}, cookies=jar)
    t.eq(r.status, 429, "sixth try, right password: 429")
    t.ok("Zu viele fehlgeschlagene Anmeldeversuche" in r.text, "429 page explains in German",
         r.text[:500])
    t.ok("tf_session" not in r.cookies(), "no session cookie while locked out")

    # --- successful login
    r, jar = do_login(cl, st.email, st.password)
    t.eq(r.status, 303, "right password: 303")
    loc = r.header("Location") or ""
    t.ok(loc == "/doctor/calendar-integrations" or loc == st.base_url + "/doctor/calendar-integrations",
         "redirect to /doctor/calendar-integrations", loc)
    sc = r.cookies().get("tf_session")
    t.ok(sc is not None and len(sc[0]) >= 43, "tf_session cookie set (256-bit token)", repr(sc))
    attrs = sc[1] if sc else []
    t.ok("httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs,
         "tf_session is HttpOnly, SameSite=Lax, Path=/", repr(sc))
    t.ok("secure" not in attrs, "no Secure flag for an http BASE_URL", repr(sc))
    session = jar.get("tf_session", "")
    seen_secrets["session cookie"] = session
    token_hash = hashlib.sha256(session.encode()).hexdigest()
    n = st.db.sql(f"SELECT COUNT(*) FROM sessions WHERE token_hash = '{token_hash}'").strip()
    t.eq(n, "1", "sessions holds the SHA-256 of the cookie")
    n = st.db.sql(f"SELECT COUNT(*) FROM sessions WHERE token_hash = '{session}'").strip()
    t.eq(n, "0", "the raw token is not stored")

    # --- the integrations page
    st.db.sql("INSERT INTO calendar_integrations (doctor_id, provider, account_email, sync_status, "
              "last_error) SELECT id, 'apple', 'praxis@icloud.example', 'error', "
              "'Anmeldung <b>abgelehnt</b>' FROM doctors WHERE email = 'demo@praxis-beispiel.de'")
    r = cl.request("GET", "/doctor/calendar-integrations", cookies=jar)
    t.eq(r.status, 200, "integrations page with a session: 200")
    t.ok("Kalender-Integrationen" in r.text, "page titled Kalender-Integrationen")
    t.ok("Google" in r.text and "Outlook" in r.text and ("iCloud" in r.text or "Apple" in r.text),
         "cards for Google, Outlook and iCloud")
    plain = " ".join(re.sub(r"<[^>]+>", " ", r.text).split())
    t.ok(re.search(r"Nicht eingerichtet: .{0,40}GOOGLE_CLIENT_ID.{0,40}GOOGLE_CLIENT_SECRET.{0,80}fehlen", plain),
         "Google card names the missing settings in German", plain[:3000])
    t.ok(re.search(r"Nicht eingerichtet: .{0,40}MICROSOFT_CLIENT_ID.{0,40}MICROSOFT_CLIENT_SECRET", plain),
         "Outlook card names the missing settings in German")
    t.ok("praxis@icloud.example" in r.text and "Fehler" in r.text,
         "the stored connection is listed with its German status")
    t.ok("<b>abgelehnt</b>" not in r.text and "&lt;b&gt;abgelehnt&lt;/b&gt;" in r.text,
         "the last error is HTML-escaped")
    forms = parse_forms(r.text).forms
    t.ok(any((fm.get("action") or "").endswith("/doctor/logout") for fm in forms),
         "a logout form is on the page")
    page_csrf = csrf_of(r)
    t.ok(page_csrf, "the logout form carries csrf_token")
    check_security_headers(r, "the integrations page", html_page=True)

    r = cl.request("GET", "/doctor/calendar-integrations")
    t.eq(r.status, 303, "integrations page without a session: 303")
    t.ok((r.header("Location") or "").endswith("/doctor/login"), "... to /doctor/login",
         r.header("Location"))

    # --- the API
    r = cl.request("GET", "/api/doctor/calendar-integrations", cookies={"tf_session": session})
    t.eq(r.status, 200, "API with the session cookie: 200")
    try:
        j = r.json()
    except ValueError:
        j = {}
    t.ok((r.header("Content-Type") or "").startswith("application/json"), "API answers JSON",
         r.header("Content-Type"))
    integ = j.get("integrations") or []
    t.ok(len(integ) == 1 and integ[0].get("provider") == "apple"
         and integ[0].get("account_email") == "praxis@icloud.example"
         and integ[0].get("sync_status") == "error"
         and {"id", "sync_enabled", "last_sync_at", "last_error", "created_at"} <= set(integ[0]),
         "API lists the connection with its fields", repr(j)[:800])
    prov = j.get("providers") or {}
    g = prov.get("google") or {}
    t.ok(g.get("configured") is False and "GOOGLE_CLIENT_ID" in (g.get("missing") or [])
         and "GOOGLE_CLIENT_SECRET" in (g.get("missing") or []),
         "providers.google: not configured, missing settings named", repr(prov))
    t.ok((prov.get("outlook") or {}).get("configured") is False, "providers.outlook: not configured")
    t.ok(prov.get("apple") == {"configured": True, "missing": []}, "providers.apple: configured",
         repr(prov.get("apple")))
    check_security_headers(r, "an API response", html_page=False)

    tok = st.admin("token", st.email)
    bearer = tok.stdout.strip()
    t.ok(tok.returncode == 0 and bearer.count(".") == 2, "tf-admin token prints a JWT",
         f"exit {tok.returncode}: {tok.stderr.strip()}")
    seen_secrets["bearer token"] = bearer
    r = cl.request("GET", "/api/doctor/calendar-integrations",
                   headers={"Authorization": f"Bearer {bearer}"})
    t.eq(r.status, 200, "API with the bearer token: 200")
    try:
        t.eq(len(r.json().get("integrations") or []), 1, "bearer token sees the doctor's connection")
    except ValueError:
        t.ok(False, "bearer token sees the doctor's connection", repr(r))
    r = cl.request("GET", "/api/doctor/calendar-integrations")
    t.eq(r.status, 401, "API without auth: 401")
    t.ok(is_json_error(r, "unauthorized"), "401 is JSON with code unauthorized", repr(r))
    check_security_headers(r, "the API 401", html_page=False)
    r = cl.request("GET", "/api/doctor/calendar-integrations",
                   headers={"Authorization": "Bearer " + bearer[:-4] + "AAAA"})
    t.eq(r.status, 401, "API with a tampered bearer token: 401")

    # --- errors
    r = cl.request("GET", "/gibt-es-nicht")
    t.eq(r.status, 404, "unknown page: 404")
    t.ok((r.header("Content-Type") or "").startswith("text/html") and "nicht gefunden" in r.text.lower(),
         "404 is a German HTML page", repr(r))
    check_security_headers(r, "the 404 page", html_page=True)
    r = cl.request("GET", "/api/gibt-es-nicht")
    t.eq(r.status, 404, "unknown API path: 404")
    t.ok(is_json_error(r, "not_found"), "API 404 is JSON with code not_found", repr(r))
    check_security_headers(r, "the API 404", html_page=False)

    r = cl.request("PUT", "/doctor/login", body=b"x", headers={"Content-Type": "text/plain"})
    t.eq(r.status, 405, "PUT /doctor/login: 405")
    allow = (r.header("Allow") or "").replace(" ", "").split(",")
    t.ok("GET" in allow and "POST" in allow, "405 carries Allow: GET, POST", r.header("Allow"))
    check_security_headers(r, "the 405 page", html_page=True)
    r = cl.request("DELETE", "/api/doctor/calendar-integrations", cookies={"tf_session": session})
    t.eq(r.status, 405, "DELETE on the API list: 405")
    t.ok(is_json_error(r, "method_not_allowed") and "GET" in (r.header("Allow") or ""),
         "API 405 is JSON with an Allow header", repr(r) + f" Allow={r.header('Allow')!r}")

    big = b"email=" + b"a" * (70 * 1024)
    r = cl.request("POST", "/doctor/login", body=big, cookies=jar,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    t.eq(r.status, 413, "70 KB login POST: 413 from the app (nginx lets 1 MiB through)")
    t.ok((r.header("Content-Type") or "").startswith("text/html") and r.header("Content-Security-Policy") == CSP,
         "413 is the app's HTML page", repr(r))
    check_security_headers(r, "the 413 page", html_page=True)
    r = cl.request("POST", "/api/doctor/calendar-integrations", body=b"{" + b" " * (70 * 1024) + b"}",
                   headers={"Content-Type": "application/json", "Authorization": f"Bearer {bearer}"})
    t.eq(r.status, 413, "70 KB API POST: 413")
    t.ok(is_json_error(r, "payload_too_large"), "API 413 is JSON with code payload_too_large", repr(r))
    r = cl.request("POST", "/doctor/login", body=b"a" * (2 * 1024 * 1024),
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    t.eq(r.status, 413, "2 MiB POST: 413 (nginx's client_max_body_size)")

    # --- static files and health
    css = os.path.join(st.srcdir, "www", "style.css")
    r = cl.request("GET", "/static/style.css")
    if os.path.exists(css):
        with open(css, "rb") as fh:
            want = fh.read()
        t.ok(r.status == 200 and r.body == want, "/static/style.css is www/style.css", repr(r)[:200])
        t.ok((r.header("Content-Type") or "").startswith("text/css"), "style sheet is text/css",
             r.header("Content-Type"))
        check_security_headers(r, "a static file", html_page=False)
    else:
        t.skip("/static/style.css is www/style.css", "www/style.css not in the source tree")
    r = cl.request("GET", "/static/../nginx.conf.example")
    t.ok(r.status in (400, 404) and b"fastcgi_pass" not in r.body, "no files outside www/ via /static/",
         repr(r)[:200])

    r = cl.request("GET", "/healthz")
    t.eq(r.status, 200, "/healthz: 200")
    try:
        t.eq(r.json(), {"status": "ok", "database": "ok"}, "/healthz JSON")
    except ValueError:
        t.ok(False, "/healthz JSON", repr(r))
    check_security_headers(r, "/healthz", html_page=False)

    # --- session expiry
    st.db.sql(f"UPDATE sessions SET expires_at = UTC_TIMESTAMP() - INTERVAL 1 MINUTE "
              f"WHERE token_hash = '{token_hash}'")
    r = cl.request("GET", "/doctor/calendar-integrations", cookies={"tf_session": session})
    t.eq(r.status, 303, "expired session: page redirects to the login")
    r = cl.request("GET", "/api/doctor/calendar-integrations", cookies={"tf_session": session})
    t.eq(r.status, 401, "expired session: API 401")

    # --- logout
    r, jar2 = do_login(cl, st.email, st.password)
    t.eq(r.status, 303, "second login: 303")
    session2 = jar2.get("tf_session", "")
    seen_secrets["second session cookie"] = session2
    hash2 = hashlib.sha256(session2.encode()).hexdigest()
    r = cl.request("GET", "/doctor/calendar-integrations", cookies=jar2)
    logout_csrf = csrf_of(r)
    r = cl.request("POST", "/doctor/logout", body={"csrf_token": "x"}, cookies=jar2)
    t.eq(r.status, 403, "logout with a wrong csrf_token: 403")
    t.eq(st.db.sql(f"SELECT COUNT(*) FROM sessions WHERE token_hash = '{hash2}'").strip(), "1",
         "... and the session stays")
    r = cl.request("POST", "/doctor/logout", body={"csrf_token": logout_csrf or ""}, cookies=jar2)
    t.eq(r.status, 303, "logout: 303")
    t.ok((r.header("Location") or "").endswith("/doctor/login"), "logout redirects to /doctor/login",
         r.header("Location"))
    cleared = r.cookies().get("tf_session")
    t.ok(cleared is not None and (cleared[0] == "" or "max-age=0" in cleared[1]
                                  or any(a.startswith("expires=thu, 01 jan 1970") for a in cleared[1])),
         "logout clears the cookie", repr(cleared))
    t.eq(st.db.sql(f"SELECT COUNT(*) FROM sessions WHERE token_hash = '{hash2}'").strip(), "0",
         "logout deletes the session row")
    r = cl.request("GET", "/doctor/calendar-integrations", cookies={"tf_session": session2})
    t.eq(r.status, 303, "old cookie after logout: page redirects to the login")
    r = cl.request("GET", "/api/doctor/calendar-integrations", cookies={"tf_session": session2})
    t.eq(r.status, 401, "old cookie after logout: API 401")

    # --- an OAuth-style query string never reaches the access log
    cl.request("GET", "/api/doctor/calendar-integrations/callback/google?code=OAUTHCODE4711geheim&state=zz")
    seen_secrets["OAuth code in a query string"] = "OAUTHCODE4711geheim"

    # --- one worker keeps serving (FastCGI loop, not one process per request)
    pids_before = st.worker_pids()
    conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=30)
    bad = []
    start = time.monotonic()
    for i in range(200):
        path = "/healthz" if i % 2 == 0 else "/doctor/login"
        try:
            r = cl.request("GET", path, conn=conn)
            if r.status != 200:
                bad.append((i, path, r.status))
        except (OSError, http.client.HTTPException) as e:
            bad.append((i, path, repr(e)))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=30)
    conn.close()
    took = time.monotonic() - start
    t.ok(not bad, f"200 requests on one keep-alive connection all answer 200 ({took:.2f} s)",
         repr(bad[:10]))
    t.ok(pids_before and st.worker_pids() == pids_before,
         "the same FastCGI worker served them all (no restart)",
         f"before {pids_before}, after {st.worker_pids()}")

    # --- nginx's own rate limit on POST /doctor/login (zone tf_login, burst 20)
    codes = []
    for _ in range(40):
        codes.append(cl.request("POST", "/doctor/login", body={"email": "x@y.de", "password": "z"}).status)
    t.ok(429 in codes and set(codes) <= {403, 429}, "nginx limits login POSTs (429 after the burst)",
         repr(codes))
    r = cl.request("GET", "/doctor/login")
    t.eq(r.status, 200, "GET /doctor/login is not rate limited")

    # --- nginx's limit on public booking POSTs (zone tf_booking, 30/min, burst 20), as configured in
    # nginx.conf.example (this stack does not change it; test_booking_http.py raises the burst)
    codes = [cl.request("POST", "/api/appointments", body=b"{}",
                        headers={"Content-Type": "application/json"}).status for _ in range(30)]
    t.ok(codes[0] != 429 and 429 in codes and 201 not in codes,
         "nginx limits POST /api/appointments (429 after the burst of 20)", repr(codes))
    t.eq(codes[:20].count(429), 0, "... the first 20 reach the app")
    r = cl.request("POST", f"/termin/{st.slug}", body={"x": "y"})
    t.eq(r.status, 429, "POST /termin/SLUG shares the booking limit: 429")
    codes = [cl.request("GET", f"/termin/{st.slug}").status for _ in range(5)]
    t.ok(429 not in codes, "GET /termin/SLUG is not rate limited", repr(codes))

    return seen_secrets


def check_logs(st, seen):
    logs = {}
    for name, path in (("app stderr", st.app_log), ("nginx access log", st.nginx_access_log),
                       ("nginx error log", st.nginx_error_log)):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                logs[name] = f.read()
        except OSError:
            logs[name] = ""
    t.ok(logs["nginx access log"].count("\n") > 100, "the access log was written",
         f"{len(logs['nginx access log'])} bytes")
    for what, value in seen.items():
        if not value:
            t.ok(False, f"no {what} in any log", "the value was never seen (earlier failure)")
            continue
        found = [n for n, text in logs.items() if value in text]
        t.ok(not found, f"no {what} in any log", f"found in {found}")
    t.ok("?" not in "".join(re.findall(r'"[A-Z]+ [^"]*"', logs["nginx access log"])),
         "access log lines carry no query strings")
    bad = [ln for ln in logs["app stderr"].splitlines()
           if "AddressSanitizer" in ln or "runtime error:" in ln or "LeakSanitizer" in ln]
    t.ok(not bad, "no sanitizer report in the app's stderr", "\n".join(bad[:20]))


def run():
    tmp = tempfile.mkdtemp(prefix="tf-http-", dir=os.environ.get("TMPDIR", "/tmp"))
    st = Stack(tmp, smtp=False)
    try:
        st.start()
    except Exception as e:  # noqa: BLE001 - report any start failure as a bail-out
        t.bail(f"stack did not start: {e}")
    seen = {}
    try:
        seen = main(st)
    except Exception as e:  # noqa: BLE001
        import traceback
        t.ok(False, "the HTTP tests ran to the end", traceback.format_exc())
        seen = {"TF_SECRET_KEY": st.secret_key, "CALENDAR_ENCRYPTION_KEY": st.encryption_key,
                "demo password": st.password}
        del e
    finally:
        st.stop()
    check_logs(st, seen)
    if t.failed:
        t.diag(f"stack directory kept for inspection: {tmp}")
    else:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    run()
