"""stack.py: the whole stack for tests (MariaDB, tf-admin migrate + demo doctor, the app under spawn-fcgi, nginx, SMTP sink, Radicale) in one directory.

Library use (from a test; make check sets TF_SRCDIR and TF_BUILDDIR):
    from stack import Stack
    with Stack("/tmp/dir") as st:          # or st = Stack(dir).start() ... st.stop()
        st.base_url                         # http://127.0.0.1:PORT (nginx, from nginx.conf.example)
        st.email, st.password               # the demo doctor
        st.secret_key, st.encryption_key    # the generated secrets (for leak checks)
        st.admin("token", st.email)         # runs tf-admin with the stack's config, returns CompletedProcess
        st.db.sql("SELECT ...")             # tests/lib/mariadb.py's helper
        st.app_log, st.nginx_access_log, st.nginx_error_log   # paths
        st.worker_pids()                    # pids of the FastCGI workers
        st.slug                             # the demo doctor's slug (patient page /termin/SLUG)
        st.mails()                          # every mail the SMTP sink received: [Mail], oldest first
        st.wait_mails(pred, count=1)        # wait until `count` received mails satisfy pred(Mail)
        st.smtp_stop(), st.smtp_start()     # take the sink down / up again (same port)
        st.remind()                         # runs tf-remind (from the build) with the stack's config
        st.sync("--integration", "7")       # runs tf-sync (from the build) with the stack's config
        st.sync_popen(...)                  # ... without waiting (stdout/stderr pipes)
        st.radicale                         # tests/lib/radicale.py's Radicale (None with caldav=False)
        st.caldav_url, st.caldav_user, st.caldav_password   # its URL and the user "praxis"
        st.caldav_calendars                 # {"praxis": "Praxis", "privat": "Privat"} (VEVENT calendars)
        st.google                           # tests/fakes/google.py's FakeGoogle (None unless google=True)
        st.google_url                       # its base URL (OAuth, Calendar API, /_fake/ control)
        st.microsoft                        # tests/fakes/microsoft.py's FakeMicrosoft (None unless microsoft=True)
        st.microsoft_url                    # its base URL (identity platform, Graph, /_fake/ control)

Stack(dir, workers=N, settings={...}, smtp=True, caldav=True, google=False, microsoft=False, nginx_args=[...]): settings are extra
lines of the app's config file; smtp=False runs no sink (and sets no SMTP_*); caldav=False runs no
Radicale; nginx_args go to scripts/nginx-conf.sh (e.g. ["--burst", "tf_booking=200"] to let a test's
concurrent bookings through).
The SMTP sink is tests/lib/smtpsink.py (aiosmtpd; one file per message in DIR/mail/) on a free
port; the config names it in SMTP_HOST/SMTP_PORT (SMTP_STARTTLS=no) with MAIL_FROM set.
The CalDAV server is a real Radicale through tests/lib/radicale.py (DIR/radicale/, a free loopback
port; storage in DIR/radicale/collections/collection-root/praxis/) with the user "praxis" (random
password) and two VEVENT calendars, "praxis" (Praxis) and "privat" (Privat); nothing is connected:
tests connect through the app. The config sets TF_LOCK_DIR=DIR/run (tf-sync's lock file) and
TF_HTTP_TIMEOUT=20; http://127.0.0.1 CalDAV URLs are allowed by the app without TF_CALDAV_ALLOW_HTTP.
google=True runs the fake Google (tests/fakes/google.py, in this process, a free loopback port; the
consent knob on "page": the German consent page with "Zulassen") and points the app at it:
GOOGLE_CLIENT_ID/SECRET (the fake's client), GOOGLE_REDIRECT_URI = BASE_URL + the callback path (the
one redirect URI the fake accepts), GOOGLE_AUTH_URI/TOKEN_URI/REVOKE_URI/API_BASE/USERINFO_URI and
TF_HTTP_BACKOFF_MS=50. BASE_URL is nginx's address, so the fake's push sender reaches the app's
webhook (BASE_URL/webhooks/calendar/google) through nginx like Google would.
microsoft=True runs the fake Microsoft (tests/fakes/microsoft.py, the same way; consent knob "page": the
German consent page with "Zulassen") and points the app at it: MICROSOFT_CLIENT_ID/SECRET (the fake's app),
MICROSOFT_REDIRECT_URI = BASE_URL + the Outlook callback path, MICROSOFT_AUTHORITY ({fake}/common) and
MICROSOFT_GRAPH_BASE ({fake}/v1.0), TF_HTTP_BACKOFF_MS=50. The subscriptions' notificationUrl and
lifecycleNotificationUrl are under BASE_URL, so the fake's validation POSTs, notifications and lifecycle
events reach the app's webhook (BASE_URL/webhooks/calendar/outlook[/lifecycle]) through nginx.

Command line:
    python3 tests/lib/stack.py serve DIR [--workers N] [--builddir DIR] [--info FILE] [--no-smtp]
                                         [--no-caldav] [--google] [--microsoft] [--set KEY=VALUE]... [--nginx-arg ARG]...
        starts the stack, prints one JSON line (base_url, email, password, slug, mail_dir, logs,
        pids, caldav_url, caldav_user, caldav_password, caldav_storage, google_url,
        microsoft_url) to stdout
        (and to FILE when given), then waits until SIGTERM or SIGINT and stops it.

The nginx configuration is derived from nginx.conf.example by scripts/nginx-conf.sh (the same
transform scripts/stack.sh uses); nginx runs with `user root;` when the tests run as root.
Inherited settings (TF_*, BASE_URL, GOOGLE_*, ...) are removed from the environment so that only
the stack's own config file counts.
"""
import base64
import email
import email.policy
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mariadb import MariaDB  # noqa: E402
import radicale as radicale_lib  # noqa: E402

DEMO_EMAIL = "demo@praxis-beispiel.de"
DEMO_NAME = "Dr. Demo Beispiel"
MAIL_FROM = "Praxis Dr. Demo <termine@praxis-beispiel.de>"

# Settings the app reads (conf_get: environment overrides the file), scrubbed from the inherited
# environment so a developer's shell cannot change what the tests see.
_SETTING_PREFIXES = ("TF_DB_", "GOOGLE_", "MICROSOFT_", "SMTP_", "OPENAI_", "TF_SYNC_")
_SETTINGS = ("TF_CONFIG", "TF_DATA_DIR", "TF_SECRET_KEY", "TF_SESSION_TTL", "TF_LOG_LEVEL",
             "TF_TIMEZONE", "CALENDAR_ENCRYPTION_KEY", "BASE_URL", "MAIL_FROM",
             "TF_SLOT_STEP_MINUTES", "TF_LEAD_TIME_MINUTES", "TF_BOOKING_HORIZON_DAYS",
             "TF_HTTP_TIMEOUT", "TF_LOCK_DIR", "TF_CALDAV_ALLOW_HTTP", "TF_HTTP_BACKOFF_MS",
             "TF_VIDEO_LINK_WAIT_MINUTES")
CALDAV_USER = "praxis"
CALDAV_CALENDARS = {"praxis": "Praxis", "privat": "Privat"}
GOOGLE_CALLBACK = "/api/doctor/calendar-integrations/callback/google"
MICROSOFT_CALLBACK = "/api/doctor/calendar-integrations/callback/outlook"


def debian_python():
    """The interpreter with Debian's python3-aiosmtpd and python3-cryptography: $PYTHON3 (make check
    sets it), else /usr/bin/python3, else this one."""
    for cand in (os.environ.get("PYTHON3"), "/usr/bin/python3"):
        if cand and os.access(cand, os.X_OK):
            return cand
    return sys.executable


class Mail:
    """One message the SMTP sink stored: path, raw bytes, msg (email.message.EmailMessage, policy
    default: headers decoded), and shortcuts to, subject."""

    def __init__(self, path, raw):
        self.path = path
        self.raw = raw
        self.msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.to = str(self.msg.get("To", ""))
        self.subject = str(self.msg.get("Subject", ""))

    def parts(self):
        """Every MIME part, depth first: [(content_type, part)]."""
        return [(p.get_content_type(), p) for p in self.msg.walk()]

    def text(self, subtype="plain"):
        """The decoded text of the first text/SUBTYPE part (str), or None."""
        for ctype, p in self.parts():
            if ctype == f"text/{subtype}" and not p.is_multipart():
                return p.get_content()
        return None

    def __repr__(self):
        return f"<Mail {os.path.basename(self.path)} to={self.to!r} subject={self.subject!r}>"


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill_wait(pids, sig=signal.SIGTERM, timeout=10):
    pids = [p for p in pids if p and _pid_alive(p)]
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
        time.sleep(0.05)
    for p in pids:
        if _pid_alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Stack:
    def __init__(self, dir, srcdir=None, builddir=None, workers=1, settings=None, smtp=True,
                 nginx_args=None, caldav=True, google=False, microsoft=False):
        self.dir = os.path.abspath(dir)
        self.srcdir = os.path.abspath(srcdir or os.environ.get("TF_SRCDIR")
                                      or os.path.join(os.path.dirname(__file__), "..", ".."))
        self.builddir = os.path.abspath(builddir or os.environ.get("TF_BUILDDIR") or self.srcdir)
        self.workers = workers
        self.settings = dict(settings or {})
        self.smtp = smtp
        self.nginx_args = list(nginx_args or [])
        self.app = os.path.join(self.builddir, "tf-calendar.fcgi")
        self.admin_bin = os.path.join(self.builddir, "tf-admin")
        self.remind_bin = os.path.join(self.builddir, "tf-remind")
        self.sync_bin = os.path.join(self.builddir, "tf-sync")
        self.caldav = caldav
        self.radicale = None
        self.caldav_url = None
        self.caldav_user = CALDAV_USER
        self.caldav_password = None
        self.caldav_calendars = dict(CALDAV_CALENDARS)
        self.want_google = google
        self.google = None
        self.google_url = None
        self.want_microsoft = microsoft
        self.microsoft = None
        self.microsoft_url = None
        self.run_dir = os.path.join(self.dir, "run")
        self.log_dir = os.path.join(self.dir, "log")
        self.nginx_dir = os.path.join(self.dir, "nginx")
        self.socket = os.path.join(self.run_dir, "tf-calendar.sock")
        self.app_pidfile = os.path.join(self.run_dir, "tf-calendar.pid")
        self.app_log = os.path.join(self.log_dir, "tf-calendar.stderr.log")
        self.nginx_access_log = os.path.join(self.log_dir, "nginx-access.log")
        self.nginx_error_log = os.path.join(self.log_dir, "nginx-error.log")
        self.config = os.path.join(self.dir, "terminfinder.env")
        self.mail_dir = os.path.join(self.dir, "mail")
        self.smtp_log = os.path.join(self.log_dir, "smtpsink.log")
        self.smtp_port = None
        self.smtp_proc = None
        self.smtp_sink = os.path.join(self.srcdir, "tests", "lib", "smtpsink.py")
        self.mail_from = MAIL_FROM
        self.slug = None
        self.email = DEMO_EMAIL
        self.password = None
        self.secret_key = None
        self.encryption_key = None
        self.port = None
        self.base_url = None
        self.db = None
        self.nginx = None
        self.doctor_id = None

    # ------------------------------------------------------------------ environment
    def env(self):
        """The environment for the stack's programs: inherited, minus settings, plus TF_CONFIG."""
        env = {k: v for k, v in os.environ.items()
               if k not in _SETTINGS and not k.startswith(_SETTING_PREFIXES)}
        env["TF_CONFIG"] = self.config
        return env

    def admin(self, *args, input=None, check=False, timeout=60):
        """Run tf-admin with the stack's configuration; returns subprocess.CompletedProcess (text)."""
        r = subprocess.run([self.admin_bin, *args], input=input, env=self.env(), text=True,
                           capture_output=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"tf-admin {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
        return r

    def remind(self, *args, timeout=120):
        """Run tf-remind with the stack's configuration; returns subprocess.CompletedProcess (text)."""
        return subprocess.run([self.remind_bin, *args], env=self.env(), text=True,
                              capture_output=True, timeout=timeout)

    def remind_popen(self, *args):
        """Start tf-remind without waiting (for overlapping runs); stdout/stderr are pipes (text)."""
        return subprocess.Popen([self.remind_bin, *args], env=self.env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def sync(self, *args, timeout=300, env=None):
        """Run tf-sync with the stack's configuration; returns subprocess.CompletedProcess (text).
        env: extra environment variables (e.g. {"TF_HTTP_TIMEOUT": "60"})."""
        e = self.env()
        e.update(env or {})
        return subprocess.run([self.sync_bin, *args], env=e, text=True, capture_output=True,
                              timeout=timeout)

    def sync_popen(self, *args, env=None):
        """Start tf-sync without waiting; stdout/stderr are pipes (text)."""
        e = self.env()
        e.update(env or {})
        return subprocess.Popen([self.sync_bin, *args], env=e, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    # ------------------------------------------------------------------ CalDAV (Radicale)
    def caldav_start(self):
        """Start Radicale (tests/lib/radicale.py) in DIR/radicale with the user and its calendars."""
        if not radicale_lib.available():
            raise RuntimeError("radicale is not installed (scripts/deps.sh installs it)")
        self.radicale = radicale_lib.Radicale(os.path.join(self.dir, "radicale"))
        self.caldav_password = "cal-" + secrets.token_urlsafe(12)
        self.radicale.add_user(self.caldav_user, self.caldav_password)
        for cal, name in self.caldav_calendars.items():
            self.radicale.create_calendar(self.caldav_user, cal, displayname=name)
        self.radicale.start()
        self.caldav_url = self.radicale.url

    def caldav_dir(self, cal="praxis"):
        """The storage folder of one of the user's calendars (one .ics file per object)."""
        return self.radicale.calendar_dir(self.caldav_user, cal)

    def caldav_request(self, method, path, body=None, headers=None):
        """One authenticated request to Radicale as the stack's user: (status, headers, body bytes)."""
        return self.radicale.request(method, path, self.caldav_user, self.caldav_password, body, headers)

    # ------------------------------------------------------------------ Google (tests/fakes/google.py)
    def google_start(self):
        """Start the fake Google with BASE_URL's callback as its one redirect URI; returns the settings
        that point the app at it."""
        sys.path.insert(0, os.path.join(self.srcdir, "tests", "fakes"))
        from google import FakeGoogle
        self.google = FakeGoogle(port=0, redirect_uris=[self.base_url + GOOGLE_CALLBACK]).start()
        self.google_url = self.google.base_url
        s = {"GOOGLE_CLIENT_ID": FakeGoogle.DEFAULT_CLIENT_ID,
             "GOOGLE_CLIENT_SECRET": FakeGoogle.DEFAULT_CLIENT_SECRET,
             "GOOGLE_REDIRECT_URI": self.base_url + GOOGLE_CALLBACK,
             "GOOGLE_USERINFO_URI": self.google_url + "/oauth2/v3/userinfo",
             "TF_HTTP_BACKOFF_MS": "50"}
        s.update(self.google.env())
        return s

    # ------------------------------------------------------------------ Microsoft (tests/fakes/microsoft.py)
    def microsoft_start(self):
        """Start the fake Microsoft with BASE_URL's Outlook callback as its one redirect URI; returns the
        settings that point the app at it."""
        sys.path.insert(0, os.path.join(self.srcdir, "tests", "fakes"))
        from microsoft import FakeMicrosoft
        self.microsoft = FakeMicrosoft(port=0, redirect_uris=[self.base_url + MICROSOFT_CALLBACK]).start()
        self.microsoft_url = self.microsoft.base_url
        s = {"MICROSOFT_CLIENT_ID": FakeMicrosoft.DEFAULT_CLIENT_ID,
             "MICROSOFT_CLIENT_SECRET": FakeMicrosoft.DEFAULT_CLIENT_SECRET,
             "MICROSOFT_REDIRECT_URI": self.base_url + MICROSOFT_CALLBACK,
             "TF_HTTP_BACKOFF_MS": "50"}
        s.update(self.microsoft.env())
        return s

    # ------------------------------------------------------------------ SMTP sink
    def smtp_start(self, timeout=20):
        """Start tests/lib/smtpsink.py on self.smtp_port (picked once), storing into self.mail_dir."""
        if self.smtp_proc is not None and self.smtp_proc.poll() is None:
            return
        if self.smtp_port is None:
            self.smtp_port = free_port()
        os.makedirs(self.mail_dir, exist_ok=True)
        sink = self.smtp_sink
        if not os.path.exists(sink):
            raise RuntimeError(f"{sink} is missing")
        log = open(self.smtp_log, "ab")
        try:
            self.smtp_proc = subprocess.Popen(
                [debian_python(), sink, "--host", "127.0.0.1", "--port", str(self.smtp_port),
                 "--dir", self.mail_dir],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.smtp_proc.poll() is not None:
                raise RuntimeError(f"smtpsink.py exited with {self.smtp_proc.returncode}: "
                                   + self._tail(self.smtp_log))
            try:
                socket.create_connection(("127.0.0.1", self.smtp_port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"smtpsink.py does not listen on {self.smtp_port}: " + self._tail(self.smtp_log))

    def smtp_stop(self):
        """Stop the SMTP sink (its port then refuses connections). Idempotent."""
        if self.smtp_proc is None:
            return
        if self.smtp_proc.poll() is None:
            self.smtp_proc.terminate()
            try:
                self.smtp_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.smtp_proc.kill()
                self.smtp_proc.wait()
        self.smtp_proc = None

    def mails(self):
        """Every message in the sink's directory, oldest first (by modification time, then name).
        Files whose names start with '.' or end in .tmp (being written) are left out."""
        out = []
        try:
            names = os.listdir(self.mail_dir)
        except OSError:
            return out
        paths = []
        for n in names:
            p = os.path.join(self.mail_dir, n)
            if n.startswith(".") or n.endswith(".tmp") or not os.path.isfile(p):
                continue
            paths.append(p)
        paths.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))
        for p in paths:
            with open(p, "rb") as f:
                out.append(Mail(p, f.read()))
        return out

    def wait_mails(self, pred=lambda m: True, count=1, timeout=30):
        """Wait until at least `count` received mails satisfy pred; returns the matching ones (maybe
        fewer than count after the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            got = [m for m in self.mails() if pred(m)]
            if len(got) >= count or time.monotonic() >= deadline:
                return got
            time.sleep(0.1)

    @staticmethod
    def _tail(path, lines=30):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def _write_config(self):
        lines = [
            "# terminfinder.env written by tests/lib/stack.py",
            f"TF_DATA_DIR={self.srcdir}",
            f"TF_DB_SOCKET={self.db.socket}",
            "TF_DB_USER=root",
            f"TF_DB_NAME={self.db.database}",
            f"TF_SECRET_KEY={self.secret_key}",
            f"CALENDAR_ENCRYPTION_KEY={self.encryption_key}",
            f"BASE_URL={self.base_url}",
            "TF_LOG_LEVEL=info",
        ]
        for k, v in (("TF_LOCK_DIR", self.run_dir), ("TF_HTTP_TIMEOUT", "20")):
            if k not in self.settings:
                lines.append(f"{k}={v}")
        if self.smtp:
            lines += ["SMTP_HOST=127.0.0.1", f"SMTP_PORT={self.smtp_port}", "SMTP_STARTTLS=no",
                      f"MAIL_FROM={self.mail_from}"]
        for k, v in self.settings.items():
            lines.append(f"{k}={v}")
        fd = os.open(self.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout=60):
        for prog in (self.app, self.admin_bin):
            if not os.access(prog, os.X_OK):
                raise RuntimeError(f"{prog} not built")
        for d in (self.dir, self.run_dir, self.log_dir, self.nginx_dir):
            os.makedirs(d, exist_ok=True)
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout):
        self.db = MariaDB(os.path.join(self.dir, "mariadb")).start()
        self.secret_key = secrets.token_urlsafe(32)
        self.encryption_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        self.password = "Demo-" + secrets.token_urlsafe(12)
        self.port = free_port()
        self.base_url = self.settings.pop("BASE_URL", None) or f"http://127.0.0.1:{self.port}"
        if self.smtp:
            self.smtp_start()
        if self.caldav:
            self.caldav_start()
        if self.want_google:
            for k, v in self.google_start().items():
                self.settings.setdefault(k, v)
        if self.want_microsoft:
            for k, v in self.microsoft_start().items():
                self.settings.setdefault(k, v)
        self._write_config()

        self.admin("migrate", check=True)
        r = self.admin("add-doctor", self.email, "--name", DEMO_NAME, input=self.password + "\n",
                       check=True)
        self.doctor_id = r.stdout.strip()
        self.slug = self.db.sql(f"SELECT slug FROM doctors WHERE id = {int(self.doctor_id)}").strip()

        self._start_app()
        self._start_nginx()
        self._wait_ready(timeout)

    def _start_app(self):
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        # spawn-fcgi points the children's stderr at /dev/null; a shell in front keeps it in a log.
        cmd = ["spawn-fcgi", "-s", self.socket, "-M", "0660", "-F", str(self.workers),
               "-P", self.app_pidfile, "--",
               "/bin/sh", "-c", 'exec "$0" 2>>"$1"', self.app, self.app_log]
        r = subprocess.run(cmd, env=self.env(), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"spawn-fcgi failed ({r.returncode}): {r.stderr.strip()}")

    def _nginx_conf(self):
        conf = os.path.join(self.nginx_dir, "nginx.conf")
        r = subprocess.run([os.path.join(self.srcdir, "scripts", "nginx-conf.sh"),
                            "--port", str(self.port), "--run", self.run_dir, "--log", self.log_dir,
                            "--tmp", os.path.join(self.nginx_dir, "tmp"), "--data", self.srcdir,
                            *self.nginx_args],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"scripts/nginx-conf.sh failed: {r.stderr.strip()}")
        with open(conf, "w") as f:
            f.write(r.stdout)
        return conf

    def _start_nginx(self):
        conf = self._nginx_conf()
        cmd = ["nginx", "-p", self.nginx_dir, "-c", conf, "-e", self.nginx_error_log,
               "-g", "daemon off;"]
        self.nginx = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, start_new_session=True)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                err = self.nginx.stderr.read().decode("utf-8", "replace")
                raise RuntimeError(f"nginx exited with {self.nginx.returncode}: {err.strip()}")
            if not self.worker_pids():
                raise RuntimeError("the FastCGI app is not running; its stderr:\n" + self.app_log_text())
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/healthz")
                resp = c.getresponse()
                resp.read()
                c.close()
                if resp.status == 200:
                    return
                last = f"/healthz answered {resp.status}"
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        raise RuntimeError(f"stack not ready within {timeout} s: {last}; app stderr:\n"
                           + self.app_log_text())

    def worker_pids(self):
        """Pids of the live FastCGI workers (spawn-fcgi's children)."""
        try:
            with open(self.app_pidfile) as f:
                pids = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return []
        return [p for p in pids if _pid_alive(p)]

    def app_log_text(self):
        try:
            with open(self.app_log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """Stop nginx, the workers and MariaDB. Idempotent; the directory (and logs) stay."""
        if self.nginx is not None:
            if self.nginx.poll() is None:
                self.nginx.send_signal(signal.SIGQUIT)
                try:
                    self.nginx.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.nginx.kill()
                    self.nginx.wait()
            self.nginx = None
        _kill_wait(self.worker_pids())
        self.smtp_stop()
        if self.radicale is not None:
            self.radicale.stop()
        if self.google is not None:
            self.google.stop()
            self.google = None
        if self.microsoft is not None:
            self.microsoft.stop()
            self.microsoft = None
        if self.db is not None:
            self.db.stop()
            self.db = None

    def info(self):
        return {"base_url": self.base_url, "email": self.email, "password": self.password,
                "doctor_id": self.doctor_id, "slug": self.slug, "config": self.config,
                "mail_dir": self.mail_dir if self.smtp else None, "smtp_port": self.smtp_port,
                "db_socket": self.db.socket if self.db else None, "app_log": self.app_log,
                "nginx_access_log": self.nginx_access_log, "nginx_error_log": self.nginx_error_log,
                "worker_pids": self.worker_pids(), "dir": self.dir,
                "caldav_url": self.caldav_url, "caldav_user": self.caldav_user if self.caldav else None,
                "caldav_password": self.caldav_password,
                "caldav_calendars": self.caldav_calendars if self.caldav else None,
                "caldav_storage": (os.path.dirname(self.caldav_dir()) if self.radicale else None),
                "google_url": self.google_url, "microsoft_url": self.microsoft_url}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def _serve(argv):
    import argparse
    p = argparse.ArgumentParser(prog="stack.py serve")
    p.add_argument("dir")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--builddir")
    p.add_argument("--srcdir")
    p.add_argument("--info", help="also write the JSON line to this file (written last, atomically)")
    p.add_argument("--no-smtp", action="store_true", help="run no SMTP sink")
    p.add_argument("--no-caldav", action="store_true", help="run no Radicale")
    p.add_argument("--google", action="store_true", help="run the fake Google and point the app at it")
    p.add_argument("--microsoft", action="store_true", help="run the fake Microsoft and point the app at it")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an extra line for the app's config file")
    p.add_argument("--nginx-arg", action="append", default=[], metavar="ARG",
                   help="passed to scripts/nginx-conf.sh (e.g. --nginx-arg=--burst --nginx-arg=tf_booking=200)")
    a = p.parse_args(argv)
    settings = {}
    for kv in a.set:
        k, sep, v = kv.partition("=")
        if not sep or not k:
            p.error(f"--set needs KEY=VALUE: {kv!r}")
        settings[k] = v

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    st = Stack(a.dir, srcdir=a.srcdir, builddir=a.builddir, workers=a.workers, settings=settings,
               smtp=not a.no_smtp, nginx_args=a.nginx_arg, caldav=not a.no_caldav, google=a.google,
               microsoft=a.microsoft)
    try:
        st.start()
        line = json.dumps(st.info())
        print(line, flush=True)
        if a.info:
            tmp = a.info + ".tmp"
            with open(tmp, "w") as f:
                f.write(line + "\n")
            os.rename(tmp, a.info)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    except RuntimeError as e:
        print(f"stack.py: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        st.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        sys.exit(_serve(sys.argv[2:]))
    print(__doc__.split("Command line:")[1].split("The nginx")[0].strip(), file=sys.stderr)
    sys.exit(2)
