"""radicale.py: a private Radicale CalDAV server in a directory, for the tests and the dev stack (stdlib only).

Library use:
    from radicale import Radicale
    r = Radicale("/tmp/x")                        # DIR holds config, users, collections/, radicale.log
    r.add_user("ana", "secret")                   # plain htpasswd line (before or after start)
    r.create_calendar("ana", "praxis")            # a VEVENT calendar straight in storage
    r.create_calendar("ana", "tasks", components=("VTODO",), displayname="Erinnerungen")
    r.seed("ana", "praxis", "ev1.ics", ics_text)  # an .ics file straight into the calendar's folder
    r.start()                                     # free port on 127.0.0.1; waits until it answers
    r.url                                         # "http://127.0.0.1:PORT"
    r.mkcalendar("ana", "secret", "neu")          # MKCALENDAR over HTTP (the server must run)
    r.stop()

Command line (the stack scripts and the test wrappers use it):
    python3 tests/lib/radicale.py start DIR [--user NAME:PASSWORD]... [--calendar USER/CAL[:COMP,COMP]]...
                                                   # prints the URL (http://127.0.0.1:PORT)
    python3 tests/lib/radicale.py stop DIR
    python3 tests/lib/radicale.py status DIR       # exit 0 when running, 1 otherwise
    python3 tests/lib/radicale.py url DIR          # the running server's URL
    python3 tests/lib/radicale.py seed DIR USER/CAL FILE...   # copy .ics files into storage

Storage layout (Radicale's multifilesystem): DIR/collections/collection-root/USER/CAL/ with a
.Radicale.props JSON ({"C:supported-calendar-component-set": "VEVENT", "tag": "VCALENDAR", ...})
and one .ics file per object. Files written there are seen on the next request (Radicale reads the
folder; its item cache is keyed by file content). Auth is a plain-text htpasswd file (test
passwords only), rights owner_only, auth delay 0 so a wrong password answers at once.
Radicale itself redirects /.well-known/caldav to / (301) and serves current-user-principal,
calendar-home-set, getctag, sync-token and sync-collection.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def _python_with_radicale():
    """An interpreter that can import radicale (Debian's python3, even when PATH has another)."""
    cands = [os.environ.get("PYTHON3"), sys.executable, "/usr/bin/python3", shutil.which("python3")]
    for c in cands:
        if not c or not os.access(c, os.X_OK):
            continue
        r = subprocess.run([c, "-c", "import radicale"], capture_output=True)
        if r.returncode == 0:
            return c
    raise RuntimeError("radicale is not importable by any python3 found; apt-get install radicale")


def available():
    """True when Radicale can be started here."""
    try:
        _python_with_radicale()
        return True
    except RuntimeError:
        return False


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Radicale:
    def __init__(self, dir):
        self.dir = os.path.abspath(dir)
        self.config = os.path.join(self.dir, "config")
        self.users_file = os.path.join(self.dir, "users")
        self.storage = os.path.join(self.dir, "collections")
        self.logfile = os.path.join(self.dir, "radicale.log")
        self.pidfile = os.path.join(self.dir, "radicale.pid")
        self.urlfile = os.path.join(self.dir, "url")
        self.proc = None

    # ------------------------------------------------------------------ storage helpers
    def add_user(self, name, password):
        """Add (or replace) a user in the plain htpasswd file. Radicale reads it on every login."""
        if not name or any(c in name for c in ":/\n") or "\n" in password:
            raise ValueError(f"bad user name or password for {name!r}")
        os.makedirs(self.dir, exist_ok=True)
        lines = []
        if os.path.exists(self.users_file):
            with open(self.users_file, encoding="utf-8") as f:
                lines = [l for l in f.read().splitlines() if l and not l.startswith(name + ":")]
        lines.append(f"{name}:{password}")
        with open(self.users_file, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    def calendar_dir(self, user, cal):
        return os.path.join(self.storage, "collection-root", user, cal)

    def create_calendar(self, user, cal, components=("VEVENT",), displayname=None, color=None):
        """Create a calendar collection straight in storage (works before start and while running).
        Returns its path on the server ("/USER/CAL/")."""
        for part in (user, cal):
            if not part or "/" in part or part.startswith("."):
                raise ValueError(f"bad collection name {part!r}")
        d = self.calendar_dir(user, cal)
        os.makedirs(d, exist_ok=True)
        props = {"C:supported-calendar-component-set": ",".join(components), "tag": "VCALENDAR"}
        if displayname is not None:
            props["D:displayname"] = displayname
        if color is not None:
            props["ICAL:calendar-color"] = color
        with open(os.path.join(d, ".Radicale.props"), "w", encoding="utf-8") as f:
            json.dump(props, f)
        return f"/{user}/{cal}/"

    def seed(self, user, cal, name, ics_text):
        """Write one object (ics_text, str or bytes) as NAME into the calendar's storage folder."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"bad object name {name!r}")
        d = self.calendar_dir(user, cal)
        if not os.path.isdir(d):
            raise RuntimeError(f"calendar {user}/{cal} does not exist (create_calendar first)")
        data = ics_text.encode("utf-8") if isinstance(ics_text, str) else ics_text
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)

    def remove_object(self, user, cal, name):
        os.unlink(os.path.join(self.calendar_dir(user, cal), name))

    # ------------------------------------------------------------------ HTTP helpers
    def request(self, method, path, user=None, password=None, body=None, headers=None):
        """One HTTP request to the running server. Returns (status, headers dict, body bytes)."""
        req = urllib.request.Request(self.url + path, data=body, method=method)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if user is not None:
            tok = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
            req.add_header("Authorization", "Basic " + tok)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def mkcalendar(self, user, password, cal, components=("VEVENT",), displayname=None):
        """Create a calendar over HTTP with MKCALENDAR. Returns the HTTP status (201 on success)."""
        comps = "".join(f'<C:comp name="{c}"/>' for c in components)
        name = f"<D:displayname>{displayname}</D:displayname>" if displayname else ""
        body = ('<?xml version="1.0" encoding="utf-8"?>'
                '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
                f"<D:set><D:prop>{name}<C:supported-calendar-component-set>{comps}"
                "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>")
        st, _, _ = self.request("MKCALENDAR", f"/{user}/{cal}/", user, password, body.encode(),
                                {"Content-Type": "application/xml; charset=utf-8"})
        return st

    # ------------------------------------------------------------------ lifecycle
    def pid(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    @property
    def url(self):
        with open(self.urlfile) as f:
            return f.read().strip()

    def answers(self):
        try:
            url = self.url
        except OSError:
            return False
        try:
            req = urllib.request.Request(url + "/.well-known/caldav", method="GET")
            opener = urllib.request.build_opener(_NoRedirect)
            opener.open(req, timeout=2)
            return True
        except urllib.error.HTTPError:
            return True          # any HTTP answer (the 301) means it is up
        except (urllib.error.URLError, OSError):
            return False

    def _write_config(self, port):
        os.makedirs(self.storage, exist_ok=True)
        if not os.path.exists(self.users_file):
            open(self.users_file, "a").close()
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(f"""[server]
hosts = 127.0.0.1:{port}
max_connections = 20
max_content_length = 100000000
timeout = 30

[encoding]
request = utf-8
stock = utf-8

[auth]
type = htpasswd
htpasswd_filename = {self.users_file}
htpasswd_encryption = plain
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {self.storage}

[web]
type = none

[logging]
level = info
mask_passwords = True
""")

    def start(self, timeout=30):
        """Start the server on a free loopback port (reuses a running one from DIR). Returns self."""
        os.makedirs(self.dir, exist_ok=True)
        if self.pid() and self.answers():
            return self
        port = _free_port()
        self._write_config(port)
        with open(self.urlfile, "w") as f:
            f.write(f"http://127.0.0.1:{port}\n")
        log = open(self.logfile, "ab")
        with open(os.devnull, "rb") as devnull:
            self.proc = subprocess.Popen([_python_with_radicale(), "-m", "radicale", "-C", self.config],
                                         stdin=devnull, stdout=log, stderr=log,
                                         start_new_session=True, cwd=self.dir)
        log.close()
        with open(self.pidfile, "w") as f:
            f.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"radicale exited with {self.proc.returncode}; log:\n" + self.log_tail())
            if self.answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"radicale did not answer within {timeout} s; log:\n" + self.log_tail())

    def log_tail(self, lines=40):
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout=10):
        """Stop the server (SIGTERM, then SIGKILL). Idempotent."""
        pid = self.proc.pid if self.proc and self.proc.poll() is None else self.pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pid = None
        if pid:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc and self.proc.pid == pid:
                    if self.proc.poll() is not None:
                        break
                else:
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        break
                time.sleep(0.05)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        try:
            os.unlink(self.pidfile)
        except OSError:
            pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main(argv):
    usage = ("usage: radicale.py start DIR [--user NAME:PASSWORD]... [--calendar USER/CAL[:COMP,...]]...\n"
             "       radicale.py stop|status|url DIR\n"
             "       radicale.py seed DIR USER/CAL FILE...")
    if len(argv) < 3:
        print(usage, file=sys.stderr)
        return 2
    cmd, r = argv[1], Radicale(argv[2])
    rest = argv[3:]
    if cmd == "start":
        i = 0
        while i < len(rest):
            if rest[i] == "--user" and i + 1 < len(rest) and ":" in rest[i + 1]:
                name, pw = rest[i + 1].split(":", 1)
                r.add_user(name, pw)
            elif rest[i] == "--calendar" and i + 1 < len(rest) and "/" in rest[i + 1]:
                spec, _, comps = rest[i + 1].partition(":")
                user, cal = spec.split("/", 1)
                r.create_calendar(user, cal, tuple(comps.split(",")) if comps else ("VEVENT",))
            else:
                print(usage, file=sys.stderr)
                return 2
            i += 2
        try:
            r.start()
        except RuntimeError as e:
            print(f"radicale.py: {e}", file=sys.stderr)
            return 1
        print(r.url)
        return 0
    if cmd == "stop":
        r.stop()
        return 0
    if cmd == "status":
        return 0 if r.pid() and r.answers() else 1
    if cmd == "url":
        if not (r.pid() and r.answers()):
            return 1
        print(r.url)
        return 0
    if cmd == "seed" and len(rest) >= 2 and "/" in rest[0]:
        user, cal = rest[0].split("/", 1)
        for path in rest[1:]:
            with open(path, "rb") as f:
                r.seed(user, cal, os.path.basename(path), f.read())
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
