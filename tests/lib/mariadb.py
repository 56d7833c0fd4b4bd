"""mariadb.py: a private MariaDB server in a directory, for the tests and the dev stack (stdlib only).

Library use:
    from mariadb import MariaDB
    db = MariaDB("/tmp/x")          # DIR holds data/, mysql.sock, mariadb.pid, mariadb.err
    db.start()                      # initialises DIR/data once, starts mariadbd, creates `terminfinder`
    db.sql("SELECT 1")              # runs the `mariadb` client over the socket, returns stdout
    db.stop()

Command line (the stack scripts use it):
    python3 tests/lib/mariadb.py start DIR     # prints the socket path
    python3 tests/lib/mariadb.py stop DIR
    python3 tests/lib/mariadb.py status DIR    # exit 0 when running, 1 otherwise

The server listens only on DIR/mysql.sock (--skip-networking); root connects without a password
through that socket. Starting an already running server reuses it. DIR must not contain spaces
(mariadbd's option handling does not cope well with them).
"""
import os
import shutil
import signal
import subprocess
import sys
import time

DATABASE = "terminfinder"


def _find(names, extra_dirs=("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
        for d in extra_dirs:
            cand = os.path.join(d, name)
            if os.access(cand, os.X_OK):
                return cand
    raise RuntimeError(f"none of {', '.join(names)} found; install mariadb-server and mariadb-client")


class MariaDB:
    def __init__(self, dir, database=DATABASE):
        self.dir = os.path.abspath(dir)
        if any(c.isspace() for c in self.dir):
            raise ValueError(f"MariaDB directory must not contain white space: {self.dir!r}")
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysql.sock")
        self.pidfile = os.path.join(self.dir, "mariadb.pid")
        self.errlog = os.path.join(self.dir, "mariadb.err")
        # A private tmpdir: servers sharing /tmp can collide on their temporary table files.
        self.tmpdir = os.path.join(self.dir, "tmp")
        self.database = database
        self.proc = None

    # ------------------------------------------------------------------ helpers
    def _client(self):
        return _find(["mariadb", "mysql"])

    def _error_log_tail(self, lines=40):
        try:
            with open(self.errlog, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no error log)"

    def pid(self):
        """The server's pid if the pid file names a live process, else None."""
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

    def answers(self):
        """True when the server answers a query over the socket."""
        if not os.path.exists(self.socket):
            return False
        r = subprocess.run([self._client(), "--no-defaults", "--socket", self.socket, "-uroot",
                            "--connect-timeout=2", "-e", "SELECT 1"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        return r.returncode == 0

    def sql(self, query, database=None, check=True):
        """Run query (one or more statements) with the `mariadb` client as root over the socket.
        Returns stdout (tab-separated, no column names). Raises RuntimeError on failure when check."""
        args = [self._client(), "--no-defaults", "--socket", self.socket, "-uroot", "--batch",
                "--skip-column-names", "--default-character-set=utf8mb4"]
        if database is None:
            database = self.database
        if database:
            args.append(database)
        r = subprocess.run(args, input=query.encode("utf-8"), capture_output=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"mariadb client failed ({r.returncode}): "
                               f"{r.stderr.decode('utf-8', 'replace').strip()}")
        return r.stdout.decode("utf-8", "replace")

    # ------------------------------------------------------------------ lifecycle
    def initialised(self):
        return os.path.isdir(os.path.join(self.datadir, "mysql"))

    def start(self, timeout=60):
        """Start the server (initialising DIR/data first if needed) and create the database.
        Reuses a server that is already running from this directory. Returns self."""
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(self.tmpdir, exist_ok=True)
        if self.pid() and self.answers():
            self._create_database()
            return self
        if not self.initialised():
            os.makedirs(self.datadir, exist_ok=True)
            r = subprocess.run([_find(["mariadb-install-db", "mysql_install_db"]), "--no-defaults",
                                "--auth-root-authentication-method=normal",
                                f"--datadir={self.datadir}", "--user=root",
                                "--skip-test-db", "--skip-name-resolve",
                                f"--tmpdir={self.tmpdir}", "--innodb-buffer-pool-size=32M"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=300,
                               env=dict(os.environ, TMPDIR=self.tmpdir))
            if r.returncode != 0:
                raise RuntimeError("mariadb-install-db failed:\n"
                                   + r.stdout.decode("utf-8", "replace")
                                   + r.stderr.decode("utf-8", "replace"))
        for stale in (self.socket, self.socket + ".lock", self.pidfile):
            if os.path.exists(stale) and not self.pid():
                try:
                    os.unlink(stale)
                except OSError:
                    pass
        args = [_find(["mariadbd", "mysqld"]), "--no-defaults",
                f"--datadir={self.datadir}", f"--socket={self.socket}", "--skip-networking",
                f"--pid-file={self.pidfile}", f"--log-error={self.errlog}", "--user=root",
                f"--tmpdir={self.tmpdir}",
                "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M",
                "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
                "--skip-log-bin", "--sync-binlog=0", "--performance-schema=0",
                "--skip-name-resolve", "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci", "--max-connections=200",
                "--default-time-zone=+00:00"]
        # The server daemonises itself only with --daemonize; we keep it as our child in its own
        # session so that a test runner's Ctrl-C does not kill it half-way through a test.
        with open(os.devnull, "rb") as devnull:
            self.proc = subprocess.Popen(args, stdin=devnull, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self.proc.returncode}; error log:\n"
                                   + self._error_log_tail())
            if os.path.exists(self.socket) and self.answers():
                break
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"mariadbd did not answer within {timeout} s; error log:\n"
                               + self._error_log_tail())
        self._create_database()
        return self

    def _create_database(self):
        self.sql(f"CREATE DATABASE IF NOT EXISTS `{self.database}` "
                 "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", database="")

    def stop(self, timeout=60):
        """Stop the server (SIGTERM, then SIGKILL after timeout). Idempotent."""
        pid = self.proc.pid if self.proc and self.proc.poll() is None else self.pid()
        if not pid:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop", "status"):
        print("usage: mariadb.py start|stop|status DIR", file=sys.stderr)
        return 2
    db = MariaDB(argv[2])
    if argv[1] == "start":
        try:
            db.start()
        except RuntimeError as e:
            print(f"mariadb.py: {e}", file=sys.stderr)
            return 1
        # The server stays up after we exit: drop our handle without stopping it.
        db.proc = None
        print(db.socket)
        return 0
    if argv[1] == "stop":
        db.stop()
        return 0
    running = bool(db.pid()) and db.answers()
    print(f"{'running' if running else 'stopped'} {db.socket}")
    return 0 if running else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
