"""provider_setup.py: the set-up the calendar-provider tests share (Google, Outlook, CalDAV; CGI and whole stack).

CGI tests (tf-calendar.fcgi run as a CGI program per request, tests/lib/cgiapp.py):
    APP, ADMIN = built(BUILDDIR, "tf-calendar.fcgi", "tf-admin")
    CONNECT, CALLBACK = oauth_paths("google")      # the app's OAuth routes
    S = CgiSetup(t, "tf-googlecgi-")               # a temp dir, a private MariaDB, a Fernet key
    S.start("MariaDB or the fake Google", G)       # MariaDB + G.start(); on failure: stop all, bail
    S.add_cleanup(bridge.shutdown)                 # more to stop in S.finish()
    config = S.write_config(dict(app_settings(S.db, SRCDIR, SECRET, BASE_URL, S.fernet_key),
                                 **google_settings(G)))
    A = CgiApp(APP, ADMIN, config)
    EVA_ID, BOB_ID, EVA_TOKEN = S.prepare(A, ("eva", "bob"), tokens=("eva",))  # migrate, doctors, tokens
    S.sql(q), S.count(q), S.count_or_zero(q), S.tool(prog, *args)
    IID, CAL_ID = S.connect_account(EVA_ID, "google", account, tokens, calendars)  # rows as the callback stores them
    ...
    S.finish()                                     # the clean-ups, MariaDB, the temp dir
    F = OAuthFlow(A, "google", authorize_url, redirect_uri)  # F.connect(), F.follow(), F.callback(), F.page(), F.card()
    serve_bridge(Handler) -> (server, base_url)    # an HTTP server in a thread (BASE_URL for a fake's sender)

Whole-stack tests (tests/lib/stack.py, tests/lib/httpc.py):
    class Runner(StackRunner): ...                 # login, page, sql, count, slots, book, free_slot, tool, sync
    approve_consent(client, auth, account, accept, callback) -> the URL back to the app
    run_stack_test(t, main, programs, prefix, **stack_args)  # skip / start / main(st, seen) / stop / done
    stack_logs(st, tool_stderr) -> {where: text}; assert_not_logged(logs, seen)
    wait_for(pred, timeout, step) -> pred's last value (truthy unless it timed out)
"""
import datetime
import http.server
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import traceback
import urllib.parse

import cgiapp
from cgiapp import DOCTORS, PASSWORD, SECRET, built  # noqa: F401  (the provider tests import them from here)
from cgiapp import cgi_settings, redirect_location

INTEGRATIONS_API = "/api/doctor/calendar-integrations"
PROVIDER_ORDER = ("google", "outlook", "apple")     # the cards' order on /doctor/calendar-integrations


def oauth_paths(provider):
    """The app's connect and callback paths of an OAuth provider ("google", "outlook")."""
    return f"{INTEGRATIONS_API}/connect/{provider}", f"{INTEGRATIONS_API}/callback/{provider}"


def wait_for(pred, timeout=30, step=0.2):
    """Call pred until it returns something true or timeout seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# ---------------------------------------------------------------------------------------- CGI tests
def app_settings(db, srcdir, secret, base_url, fernet_key, log_level="info", backoff_ms="20", smtp=True):
    """The settings a provider test's app starts from: the private MariaDB, the source tree as data dir,
    the encryption key, HTTP timeout (and back-off unless backoff_ms is None), and (smtp) mail to a
    closed port."""
    more = {"TF_HTTP_TIMEOUT": "20"}
    if backoff_ms is not None:
        more["TF_HTTP_BACKOFF_MS"] = backoff_ms
    return cgi_settings(db, srcdir, secret, base_url, log_level, fernet_key, smtp, **more)


def google_settings(g):
    """The settings that point the app at a running FakeGoogle g (its first redirect URI)."""
    return dict(g.env(), GOOGLE_CLIENT_ID=g.DEFAULT_CLIENT_ID, GOOGLE_CLIENT_SECRET=g.DEFAULT_CLIENT_SECRET,
                GOOGLE_REDIRECT_URI=g.redirect_uris[0], GOOGLE_USERINFO_URI=g.base_url + "/oauth2/v3/userinfo")


def microsoft_settings(m):
    """The settings that point the app at a running FakeMicrosoft m (its first redirect URI)."""
    return dict(m.env(), MICROSOFT_CLIENT_ID=m.DEFAULT_CLIENT_ID, MICROSOFT_CLIENT_SECRET=m.DEFAULT_CLIENT_SECRET,
                MICROSOFT_REDIRECT_URI=m.redirect_uris[0])


class CgiSetup(cgiapp.CgiSetup):
    """cgiapp.CgiSetup (temp dir, private MariaDB, Fernet key, prepare, sql, tool, finish) and a
    provider connection stored as the OAuth callback does (connect_account)."""

    def connect_account(self, doctor_id, provider, account, tokens, calendars):
        """Store a connection as the OAuth callback does: a calendar_integrations row with the Fernet-
        encrypted credentials (tokens' access/refresh token and scope, valid for 3000 s) and one
        integration_calendars row per (remote_id, display_name, can_write, blocks_availability,
        receives_appointments). Returns (integration id, {remote_id: integration_calendars id})."""
        from cryptography.fernet import Fernet
        creds = {"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
                 "expires_at": int(time.time()) + 3000, "scope": tokens["scope"]}
        enc = Fernet(self.fernet_key.encode()).encrypt(json.dumps(creds).encode()).decode()
        self.sql(f"INSERT INTO calendar_integrations (doctor_id, provider, account_email, credentials_encrypted) "
                 f"VALUES ({doctor_id}, '{provider}', '{account}', '{enc}')")
        iid = int(self.sql("SELECT MAX(id) FROM calendar_integrations"))
        for rid, name, write, blocks, recv in calendars:
            self.sql(f"INSERT INTO integration_calendars (integration_id, remote_id, remote_id_hash, display_name,"
                     f" can_write, blocks_availability, receives_appointments) VALUES ({iid}, '{rid}',"
                     f" SHA2('{rid}', 256), '{name}', {write}, {blocks}, {recv})")
        cal_ids = {c[0]: int(self.sql(f"SELECT id FROM integration_calendars WHERE remote_id = '{c[0]}'"))
                   for c in calendars}
        return iid, cal_ids


class BridgeHandler(http.server.BaseHTTPRequestHandler):
    """Base of a bridge's request handler: quiet, with the request body at hand."""

    def log_message(self, *a):
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""


def serve_bridge(handler):
    """Serve handler (a BridgeHandler) on a free loopback port in a daemon thread: (server, base URL)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def card(body, provider):
    """The part of the integrations page that is provider's card (up to the next card)."""
    rest = body[body.index("provider-" + provider):]
    nxt = PROVIDER_ORDER[PROVIDER_ORDER.index(provider) + 1:]
    return rest[:rest.index("provider-" + nxt[0])] if nxt else rest


def integrations_page(app, cookies, query="", config=None):
    """GET /doctor/calendar-integrations through the CGI app (must answer 200)."""
    r = app.cgi("GET", "/doctor/calendar-integrations", query=query, cookies=cookies, config=config)
    assert r.status == 200, r
    return r


def security_headers_ok(responses, nosniff=False):
    """Assert every answer carries the CSP and X-Frame-Options DENY (and nosniff), HTML answers no-store."""
    for resp in responses:
        assert resp.header("content-security-policy") and resp.header("x-frame-options") == "DENY", resp
        if nosniff:
            assert resp.header("x-content-type-options") == "nosniff", resp
        if (resp.header("content-type") or "").startswith("text/html"):
            assert resp.header("cache-control") == "no-store", resp


class OAuthFlow:
    """A provider's OAuth connect flow through the CGI app: connect form → the fake's authorization URL
    (authorize) → its redirect to redirect_uri → the app's callback."""

    def __init__(self, app, provider, authorize, redirect_uri):
        self.app = app
        self.provider = provider
        self.authorize = authorize
        self.redirect_uri = redirect_uri
        self.connect_path, self.callback_path = oauth_paths(provider)

    def follow(self, url):
        """GET the authorization URL on the fake (consent knob decides) → the Location it redirects to."""
        assert url.startswith(self.authorize + "?"), url
        return redirect_location(url)

    def connect(self, cookies, tok, config=None):
        """The card's form: 303 to the provider. Returns the authorization URL."""
        r = self.app.cgi("POST", self.connect_path, form={"csrf_token": tok}, cookies=cookies, config=config)
        assert r.status == 303, r
        return r.header("location")

    def callback(self, location, cookies, config=None):
        """Deliver the provider's redirect (a URL under redirect_uri) to the app's callback."""
        assert location.startswith(self.redirect_uri + "?"), location
        return self.app.cgi("GET", self.callback_path, query=location.split("?", 1)[1], cookies=cookies,
                            config=config)

    def page(self, cookies, query=""):
        return integrations_page(self.app, cookies, query)

    def card(self, body):
        return card(body, self.provider)


# ---------------------------------------------------------------------------------------- whole-stack tests
class StackRunner:
    """The doctor's and the patient's side of a running Stack st through nginx (httpc.Client), and its tools.
    Subclasses set PATIENT and PATIENT_MAIL (the default patient of book()). Every tool's stderr is
    appended to tool_stderr (checked for secrets at the end)."""

    PATIENT = None
    PATIENT_MAIL = None

    def __init__(self, st, tool_stderr=None):
        from httpc import Client
        self.st = st
        self.cl = Client(st.port, timeout=120)
        self.token = st.admin("token", st.email, check=True).stdout.strip()
        self.bearer = {"Authorization": "Bearer " + self.token}
        self.jar = {}
        self.csrf = None
        self.tool_stderr = tool_stderr if tool_stderr is not None else []

    def login(self):
        """Log the demo doctor in (self.jar: tf_csrf, tf_session) and keep the page's CSRF token."""
        from httpc import csrf_of
        r = self.cl.request("GET", "/doctor/login")
        self.jar = {"tf_csrf": r.cookies()["tf_csrf"][0]}
        r = self.cl.request("POST", "/doctor/login", body={"email": self.st.email, "password": self.st.password,
                                                           "csrf_token": csrf_of(r)}, cookies=self.jar)
        assert r.status == 303, r
        self.jar["tf_session"] = r.cookies()["tf_session"][0]
        self.csrf = csrf_of(self.page())
        assert self.csrf, "no csrf_token on the integrations page"

    def page(self, query=""):
        r = self.cl.request("GET", "/doctor/calendar-integrations" + query, cookies=self.jar)
        assert r.status == 200, r
        return r

    def sql(self, q):
        return self.st.db.sql(q).strip()

    def count(self, q):
        return int(self.sql(q) or "0")

    def slots(self, day):
        qs = urllib.parse.urlencode({"doctor": self.st.slug, "date": day.isoformat(), "duration": 30})
        r = self.cl.request("GET", f"/api/integrations/calendar/slots/?{qs}")
        assert r.status == 200, r
        return r.json()["slots"]

    def book_json(self, start, create_meet=False, name=None, mail=None):
        """POST /api/appointments (must answer 201) for start (YYYY-MM-DDTHH:MM): the answer's JSON."""
        r = self.cl.request("POST", "/api/appointments", json_body={
            "doctor": self.st.slug, "service": "Sprechstunde", "start": start, "duration_minutes": 30,
            "patient_name": name or self.PATIENT, "patient_email": mail or self.PATIENT_MAIL,
            "create_meet": create_meet})
        assert r.status == 201, r
        return r.json()

    def book(self, start, create_meet=False, name=None, mail=None):
        """book_json()'s appointment id."""
        return self.book_json(start, create_meet, name, mail)["id"]

    def free_slot(self, skip=0):
        """A free start (YYYY-MM-DDTHH:MM) from the slots API, on a weekday 3+ days ahead."""
        d = datetime.date.today() + datetime.timedelta(days=3)
        for _ in range(60):
            if d.weekday() < 5:
                s = self.slots(d)
                if len(s) > skip:
                    return f"{d.isoformat()}T{s[skip]}"
            d += datetime.timedelta(days=1)
        raise AssertionError("no free slot")

    def tool(self, prog, *args, env=None):
        """Run a built program with the stack's settings (plus env)."""
        e = self.st.env()
        e.update(env or {})
        r = subprocess.run([os.path.join(self.st.builddir, prog), *args], env=e, text=True,
                           capture_output=True, timeout=300)
        self.tool_stderr.append(r.stderr)
        return r

    def sync(self, integ):
        """tf-sync --integration INTEG until it really ran: a push notification (ours cause them too:
        every insert is a change of the calendar) may have started a webhook sync that holds the
        connection for a moment; then tf-sync skips it ("was not synced") and is run again."""
        for _ in range(60):
            r = self.tool("tf-sync", "--integration", str(integ))
            if r.returncode != 0 or "was not synced" not in r.stderr:
                return r
            time.sleep(0.5)
        raise AssertionError("tf-sync kept finding the connection busy: " + r.stderr[-1000:])

    def busy_blocks(self, integ):
        return self.count(f"SELECT COUNT(*) FROM busy_blocks WHERE integration_id = {integ}")

    def callback(self, back):
        """GET the provider's redirect back (a URL under the app's callback) through nginx: 303 to the
        page with the new connection; returns its id."""
        b = urllib.parse.urlsplit(back)
        r = self.cl.request("GET", b.path + "?" + b.query, cookies=self.jar)
        assert r.status == 303, r
        m = re.fullmatch(r"/doctor/calendar-integrations\?ok=connected#verbindung-(\d+)", r.header("Location") or "")
        assert m, (r, r.header("Location"), r.text[:2000])
        return int(m.group(1))


def approve_consent(client, auth, account, accept, callback, hidden_only=False):
    """On a fake provider's German consent page (auth, fetched through client): check it names account,
    post its form ("Zulassen": the form's fields, only the hidden ones with hidden_only, plus
    accept=true). Returns the Location back to the app, checked to be callback?...code=..."""
    from httpc import parse_forms
    u = urllib.parse.urlsplit(auth)
    r = client.request("GET", u.path + "?" + u.query)
    assert r.status == 200 and "Zulassen" in r.text and account in r.text, r
    p = parse_forms(r.text)
    fields = [(i["name"], i.get("value", "")) for i in p.inputs
              if i.get("name") and (not hidden_only or i.get("type") == "hidden")]
    fields.append((accept, "true"))
    r = client.request("POST", p.forms[0]["action"], body=urllib.parse.urlencode(fields).encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status in (302, 303), r
    back = r.header("Location")
    assert back.startswith(callback + "?") and "code=" in back, back
    return back


def stack_logs(st, tool_stderr):
    """{where: text} of the app's log, the tools' stderr and nginx's logs (those that exist)."""
    logs = {"app": st.app_log_text(), "tools": "\n".join(tool_stderr)}
    for p in (st.nginx_access_log, st.nginx_error_log):
        try:
            logs[os.path.basename(p)] = open(p, encoding="utf-8", errors="replace").read()
        except OSError:
            pass
    return logs


def assert_not_logged(logs, seen):
    """No value of seen ({name: secret}) in any of logs ({where: text})."""
    for name, value in seen.items():
        for where, text in logs.items():
            assert value not in text, f"{name} in {where}"


def run_stack_test(t, main, programs, prefix, **stack_args):
    """Skip (TAP plan 1..0) unless programs are built; start a Stack (workers=2, **stack_args) in a temp
    dir (bail out when it does not start); main(st, seen) (an exception is one failed point); stop;
    keep the dir when a point failed; t.done()."""
    from stack import Stack
    for prog in programs:
        b = os.environ.get("TF_BUILDDIR") or os.getcwd()
        if not os.access(os.path.join(b, prog), os.X_OK):
            print(f"1..0 # SKIP {prog} not built")
            return 0
    tmp = tempfile.mkdtemp(prefix=prefix)
    seen = {}
    try:
        st = Stack(os.path.join(tmp, "stack"), workers=2, **stack_args).start()
    except Exception as e:  # noqa: BLE001
        t.bail(f"the stack did not start: {e}")
    try:
        main(st, seen)
    except Exception:  # noqa: BLE001
        t.ok(False, "the test ran to its end", traceback.format_exc())
    finally:
        st.stop()
    if t.failed:
        t.diag(f"stack directory kept: {tmp}")
    else:
        subprocess.run(["rm", "-rf", tmp])
    t.done()
