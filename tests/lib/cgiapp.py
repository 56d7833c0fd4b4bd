"""cgiapp.py: run tf-calendar.fcgi in plain CGI mode, one process per request, and parse its answers.

Shared by tests/integration/test_cgi.py and test_booking_cgi.py:
    from cgiapp import CgiApp, Resp
    app = CgiApp(app_path, admin_path, config_path)
    r = app.cgi("GET", "/doctor/login")            # a Resp: status, headers, body, cookies
    r = app.cgi("POST", "/x", form={...}, cookies={...})
    app.admin("add-doctor", "a@b.example", "--name", "A", stdin="password\\n")
Every answer is kept in app.responses (for checks over all of them, e.g. security headers).

Also shared by the OAuth tests (test_google_cgi.py, test_outlook_cgi.py): skip_unless_ready(),
closed_port(), oauth_settings() (the settings every such test starts from), app.login() (a
doctor's session cookies and CSRF token) and redirect_location() (where a provider's
authorization page sends the browser).

The set-up every CGI-mode test shares (tests/lib/provider_setup.py adds the providers' part):
    APP, ADMIN = built(BUILDDIR, "tf-calendar.fcgi", "tf-admin")
    skip_unless_ready(APP, ADMIN)
    S = CgiSetup(t, "tf-cgi-")                     # a temp dir (S.tmp), a private MariaDB (S.db), a Fernet key
    S.start("MariaDB", *services)                  # on failure: stop all, bail out
    config = S.write_config(cgi_settings(S.db, SRCDIR, SECRET, fernet_key=S.fernet_key, smtp=True))
    A = CgiApp(APP, ADMIN, config)
    EVA_ID, BOB_ID = S.prepare(A, ("eva", "bob"))  # migrate, the DOCTORS (password PASSWORD), tokens
    with S.bail_on_error():                        # more set-up: on failure S.finish(), bail out
        ID = S.add_doctor(A, "x@example.org", "Dr. X", "x")
    S.sql(q), S.count(q), S.count_or_zero(q), S.tool(prog, *args), S.bail(reason)
    S.finish()                                     # the clean-ups, MariaDB, the temp dir
"""
import base64
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from mariadb import MariaDB

SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
PASSWORD = "richtig-geheim-123"
BASE_URL = "http://localhost:8080"
DOCTORS = {"eva": ("eva@example.org", "Dr. Eva Ernst", "eva-ernst"),
           "bob": ("bob@example.org", "Dr. Bob Berg", "bob-berg")}


class Resp:
    """One CGI answer: status, headers (lower-case names, in order), body (text)."""

    def __init__(self, rc, out, err):
        self.rc = rc
        self.stderr = err.decode("utf-8", "replace")
        self.raw = out
        head, sep, body = out.partition(b"\r\n\r\n")
        self.headers = []
        for line in head.decode("latin-1").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                self.headers.append((k.strip().lower(), v.strip()))
        st = self.header("status") or "0"
        self.status = int(st.split()[0])
        self.body = body.decode("utf-8", "replace")
        self.complete = bool(sep)

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def all(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    def cookie(self, name):
        """The Set-Cookie header for name (whole line) or None."""
        for v in self.all("set-cookie"):
            if v.startswith(name + "="):
                return v
        return None

    def cookie_value(self, name):
        c = self.cookie(name)
        return c.split(";", 1)[0].split("=", 1)[1] if c else None

    def json(self):
        return json.loads(self.body)

    def field(self, name):
        """The value attribute of the first input named name in an HTML body, or None."""
        m = re.search(r'name="%s"[^>]*value="([^"]*)"' % re.escape(name), self.body)
        return m.group(1) if m else None

    def __repr__(self):
        return f"<{self.status} {self.headers!r} {self.body[:300]!r} stderr={self.stderr[-500:]!r}>"


def sanitizer_trouble(text):
    return ("ERROR: AddressSanitizer" in text or "ERROR: LeakSanitizer" in text
            or "runtime error:" in text)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def skip_unless_ready(*programs, fernet=False):
    """Print the TAP plan of a skipped test and exit when a program is not built, MariaDB is not
    installed, or (fernet) python3-cryptography is missing."""
    for prog in programs:
        if not os.access(prog, os.X_OK):
            print(f"1..0 # SKIP {prog} not built")
            sys.exit(0)
    if not (shutil.which("mariadbd") or os.access("/usr/sbin/mariadbd", os.X_OK)):
        print("1..0 # SKIP mariadbd not installed")
        sys.exit(0)
    if fernet:
        try:
            import cryptography.fernet  # noqa: F401
        except ImportError:
            print("1..0 # SKIP python3-cryptography not installed")
            sys.exit(0)


def closed_port():
    """A local TCP port nothing listens on (an SMTP server that is not there)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def built(builddir, *programs):
    """The paths of programs in the build directory (tf-calendar.fcgi, tf-admin, ...)."""
    return [os.path.join(builddir, p) for p in programs]


def cgi_settings(db, srcdir, secret, base_url=BASE_URL, log_level="info", fernet_key=None, smtp=False, **more):
    """The settings a CGI test's app starts from: the private MariaDB db (as root), the source tree as
    data dir, the secret key, BASE_URL, the log level (left out when None), the encryption key (when
    given), (smtp) mail to a closed port from praxis@example.org, and more."""
    s = {"TF_DB_SOCKET": db.socket, "TF_DB_USER": "root", "TF_DB_NAME": "terminfinder",
         "TF_DATA_DIR": srcdir, "TF_SECRET_KEY": secret, "BASE_URL": base_url}
    if log_level is not None:
        s["TF_LOG_LEVEL"] = log_level
    if fernet_key is not None:
        s["CALENDAR_ENCRYPTION_KEY"] = fernet_key
    if smtp:
        s.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(closed_port()), "MAIL_FROM": "praxis@example.org"})
    s.update(more)
    return s


def oauth_settings(db, srcdir, secret, base_url, fernet_key):
    """The settings an OAuth connect test starts from: the private MariaDB, the source tree as data
    dir, the encryption key, fast HTTP back-off, and mail to a closed port."""
    return cgi_settings(db, srcdir, secret, base_url, "info", fernet_key, smtp=True,
                        TF_HTTP_TIMEOUT="20", TF_HTTP_BACKOFF_MS="20")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def redirect_location(url, status=302):
    """GET url (a fake provider's authorization URL) without following its redirect: the Location
    it answers with (the answer must be a redirect with that status)."""
    try:
        with _OPENER.open(url, timeout=30) as resp:
            raise AssertionError(f"{url} answered {resp.status}, not a redirect: {resp.read()[:500]!r}")
    except urllib.error.HTTPError as e:
        assert e.code == status, (e.code, e.read()[:500])
        return e.headers["Location"]


def write_config(path, settings):
    with open(path, "w") as f:
        for k, v in settings.items():
            f.write(f"{k}={v}\n")


class CgiApp:
    def __init__(self, app, admin, config):
        self.app = app
        self.admin_path = admin
        self.config = config
        self.responses = []

    def run(self, env_vars, body=None, config=None, expect_rc=0):
        env = {k: os.environ[k] for k in ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
               if k in os.environ}
        env["TF_CONFIG"] = config or self.config
        env["GATEWAY_INTERFACE"] = "CGI/1.1"
        env["SERVER_PROTOCOL"] = "HTTP/1.1"
        env.update({k: v for k, v in env_vars.items() if v is not None})
        if body is None:
            r = subprocess.run([self.app], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=120)
        else:
            r = subprocess.run([self.app], env=env, input=body, capture_output=True, timeout=120)
        resp = Resp(r.returncode, r.stdout, r.stderr)
        if expect_rc is not None and (r.returncode != expect_rc or sanitizer_trouble(resp.stderr)):
            raise AssertionError(f"app exited {r.returncode} (want {expect_rc}):\n{resp.stderr[-3000:]}")
        self.responses.append(resp)
        return resp

    def cgi(self, method, path, query="", form=None, body=None, ctype=None, cookies=None,
            headers=None, remote="127.0.0.1", extra=None, use_uri=False, config=None, expect_rc=0,
            json_body=None):
        env = {"REQUEST_METHOD": method, "QUERY_STRING": query, "REMOTE_ADDR": remote}
        if use_uri:
            env["REQUEST_URI"] = path + ("?" + query if query else "")
        else:
            env["PATH_INFO"] = path
            env["REQUEST_URI"] = path + ("?" + query if query else "")
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            ctype = ctype or "application/x-www-form-urlencoded"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            ctype = ctype or "application/json"
        if body is not None:
            env["CONTENT_LENGTH"] = str(len(body))
            env["CONTENT_TYPE"] = ctype or ""
        if cookies:
            env["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        for k, v in (headers or {}).items():
            env["HTTP_" + k.upper().replace("-", "_")] = v
        env.update(extra or {})
        return self.run(env, body=body, config=config, expect_rc=expect_rc)

    def login(self, email, password):
        """Log a doctor in through the login form: (cookies {tf_session, tf_csrf}, csrf_token)."""
        r = self.cgi("GET", "/doctor/login")
        ck, tok = r.cookie_value("tf_csrf"), r.field("csrf_token")
        r = self.cgi("POST", "/doctor/login", form={"email": email, "password": password, "csrf_token": tok},
                     cookies={"tf_csrf": ck})
        assert r.status == 303, r
        return {"tf_session": r.cookie_value("tf_session"), "tf_csrf": ck}, tok

    def admin(self, *args, stdin=None):
        env = dict(os.environ, TF_CONFIG=self.config)
        r = subprocess.run([self.admin_path, *args], env=env, input=(stdin or "").encode(),
                           capture_output=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"tf-admin {' '.join(args)} failed ({r.returncode}): {r.stderr.decode()}")
        return r.stdout.decode().strip()


class CgiSetup:
    """A temp dir (S.tmp) with a private MariaDB (S.db, in S.tmp/db_dir) and a random Fernet key
    (S.fernet_key) for one test, plus whatever else it starts; S.finish() stops it all and removes the dir."""

    def __init__(self, t, prefix, db_dir="db"):
        self.t = t
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.db = MariaDB(os.path.join(self.tmp, db_dir))
        self.fernet_key = b64u(os.urandom(32)) + "="
        self.config = None
        self._cleanups = []

    def add_cleanup(self, fn):
        """fn() is called by finish() (in the order added, before MariaDB stops)."""
        self._cleanups.append(fn)

    def start(self, what, *services, then=None):
        """Start MariaDB, then each service (an object with start() and stop(), stopped by finish()),
        then call then(); on any failure stop everything and bail out with "{what} did not start"."""
        for s in services:
            self.add_cleanup(s.stop)
        try:
            self.db.start()
            for s in services:
                s.start()
            if then is not None:
                then()
        except Exception as e:  # noqa: BLE001
            self.bail(f"{what} did not start: {e}")

    def bail(self, reason):
        """finish(), then bail out of the test plan with reason."""
        self.finish()
        self.t.bail(reason)

    @contextlib.contextmanager
    def bail_on_error(self, what="set-up failed"):
        """A block of set-up: an exception in it finishes and bails out with "{what}: {exception}"."""
        try:
            yield
        except Exception as e:  # noqa: BLE001
            self.bail(f"{what}: {e}")

    def write_config(self, settings, name="terminfinder.env"):
        """Write a config file into the temp dir; returns its path (the first one is S.config)."""
        path = os.path.join(self.tmp, name)
        write_config(path, settings)
        if self.config is None:
            self.config = path
        return path

    def add_doctor(self, app, email, name, slug=None, password=PASSWORD):
        """tf-admin add-doctor (with --slug when given) through app: the new doctor's id."""
        args = ["add-doctor", email, "--name", name] + (["--slug", slug] if slug else [])
        return int(app.admin(*args, stdin=password + "\n"))

    def prepare(self, app, doctors=("eva",), tokens=()):
        """tf-admin migrate, add the doctors (keys of DOCTORS, password PASSWORD), issue a token for each
        of tokens; bails out (after finish()) on failure. Returns the doctors' ids, then the tokens."""
        with self.bail_on_error():
            app.admin("migrate")
            out = [self.add_doctor(app, *DOCTORS[d]) for d in doctors]
            out += [app.admin("token", DOCTORS[d][0]) for d in tokens]
        return out

    def sql(self, q):
        return self.db.sql(q).strip()

    def count(self, q):
        return int(self.sql(q))

    def count_or_zero(self, q):
        return int(self.sql(q) or 0)

    def tool(self, prog, *args):
        """Run a built program (tf-sync, tf-renew) with S.config; no sanitizer report allowed."""
        r = subprocess.run([prog, *args], env=dict(os.environ, TF_CONFIG=self.config), capture_output=True,
                           text=True, timeout=300)
        assert not sanitizer_trouble(r.stderr), r.stderr[-3000:]
        return r

    def finish(self):
        for fn in self._cleanups:
            fn()
        self._cleanups = []
        self.db.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
