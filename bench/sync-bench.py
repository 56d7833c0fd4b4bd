"""sync-bench.py: the sync benchmark behind bench/sync-bench.sh (bench/google.sh, bench/outlook.sh): tf-sync over N connections of one provider against its fake with added latency per request.

Usage: python3 bench/sync-bench.py --provider google|outlook --builddir DIR [--connections 2000]
                                   [--latency-ms 50] [--concurrency 4] [--concurrency 16 ...] [--events 1]
A private MariaDB (tests/lib/mariadb.py) migrated by tf-admin; the provider's fake (google:
tests/fakes/google.py, outlook: tests/fakes/microsoft.py) with latency_ms per request (every OAuth
and API request sleeps that long before it is answered); N doctors, each with one connection made
the way the OAuth callback stores it: tokens from the fake's issue_tokens (no browser),
Fernet-encrypted credentials, the account's primary (Outlook: default) calendar blocking and
receiving; EVENTS busy events per calendar. BASE_URL is a local HTTP server answering 200 (and
echoing Graph's validationToken as text/plain), so the fake's push sender (Google: events.watch →
"sync" message) and Graph's subscription validation POSTs have a receiver. Then the built tf-sync
(all due connections, TF_SYNC_CONCURRENCY=C):
  1. first sync of every connection (Google: full events.list + push channel via events.watch;
     Outlook: calendarView/delta + a Graph subscription) at the first C
  2. incremental sync (Google: events.list with the syncToken; Outlook: the stored deltaLink) of
     every connection, once per C given
  3. incremental sync after every access token expired at the fake (401, token refresh, the new tokens re-encrypted
     and stored, then the list/delta) at the last C
For each run: wall time, requests the fake received (its request log) and sync_runs.requests,
the ideal wall time requests × latency ÷ concurrency, and the ratio. Exit 1 when a run failed
(exit status, a connection not synced, busy blocks missing).
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

import benchlib
from benchlib import SYNC_SUMMARY, TOP

benchlib.use_fakes()
from mariadb import MariaDB  # noqa: E402 - tests/lib/mariadb.py
from google import FakeGoogle  # noqa: E402 - tests/fakes/google.py
from microsoft import FakeMicrosoft  # noqa: E402 - tests/fakes/microsoft.py


class Ok(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        # Graph's subscription validation: echo validationToken as text/plain (Google never sends one)
        tok = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("validationToken", [""])[0]
        data = tok.encode()
        self.send_response(200)
        if tok:
            self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def sqlstr(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Google:
    """Google: the fake, its settings, one connection's seeding and the runs' labels."""
    name, title, fake_title, env_prefix = "google", "Google", "fake Google", "GOOGLE_"
    labels = ("first sync (full list + watch)", "incremental (syncToken)", "tokens expired (401, refresh, list)")
    chan_word = "channels"

    def __init__(self):
        self.f = FakeGoogle(port=0).start()
        self.f.set_knobs(push_max_attempts=1)

    def conf(self):
        c = {"GOOGLE_CLIENT_ID": FakeGoogle.DEFAULT_CLIENT_ID, "GOOGLE_CLIENT_SECRET": FakeGoogle.DEFAULT_CLIENT_SECRET,
             "GOOGLE_REDIRECT_URI": "http://127.0.0.1:8080/api/doctor/calendar-integrations/callback/google",
             "GOOGLE_USERINFO_URI": self.f.base_url + "/oauth2/v3/userinfo"}
        c.update(self.f.env())
        return c

    def seed(self, acct, starts):
        """Tokens for acct and its busy events; returns (token answer, calendar id)."""
        tok = self.f.issue_tokens(acct)
        for s in starts:
            self.f.create_event(acct, acct, {"summary": "Privat", "start": {"dateTime": s.isoformat()},
                                             "end": {"dateTime": (s + timedelta(minutes=45)).isoformat()}})
        return tok, acct


class Outlook:
    """Outlook: the fake Microsoft identity platform + Graph, its settings, one connection's seeding and the labels."""
    name, title, fake_title, env_prefix = "outlook", "Outlook", "fake Microsoft", "MICROSOFT_"
    labels = ("first sync (delta + subscription)", "incremental (deltaLink)", "tokens expired (401, refresh, delta)")
    chan_word = "subscriptions"

    def __init__(self):
        self.f = FakeMicrosoft(port=0).start()
        self.f.set_knobs(notify_max_attempts=1, missed_on_drop=False)

    def conf(self):
        c = {"MICROSOFT_CLIENT_ID": FakeMicrosoft.DEFAULT_CLIENT_ID,
             "MICROSOFT_CLIENT_SECRET": FakeMicrosoft.DEFAULT_CLIENT_SECRET,
             "MICROSOFT_REDIRECT_URI": self.f.redirect_uris[0]}
        c.update(self.f.env())
        return c

    def seed(self, acct, starts):
        self.f.add_account(acct, f"Bench {acct}", kind="work")
        tok = self.f.issue_tokens(acct)
        cal = [c for c in self.f.calendars(acct) if c["isDefaultCalendar"]][0]["id"]
        for s in starts:
            e = s + timedelta(minutes=45)
            self.f.create_event(acct, {"subject": "Privat", "showAs": "busy",
                                       "start": {"dateTime": s.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                                       "end": {"dateTime": e.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}}, cal)
        return tok, cal


PROVIDERS = {"google": Google, "outlook": Outlook}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--provider", choices=sorted(PROVIDERS), required=True)
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--concurrency", type=int, action="append")
    ap.add_argument("--events", type=int, default=1)
    a = ap.parse_args()
    concs = a.concurrency or [4, 16]
    P = PROVIDERS[a.provider]
    tag = f"{P.name}-bench"
    try:
        from cryptography.fernet import Fernet
    except ImportError:
        print(f"{tag}: needs python3-cryptography (scripts/deps.sh)", file=sys.stderr)
        return 1
    sync_bin = os.path.join(a.builddir, "tf-sync")
    admin_bin = os.path.join(a.builddir, "tf-admin")
    tmp = benchlib.scratch(P.name)
    db = MariaDB(os.path.join(tmp, "mariadb")).start()
    prov = P()
    g = prov.f
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    key = Fernet.generate_key()
    fernet = Fernet(key)
    conf = {"TF_DB_SOCKET": db.socket, "TF_DB_USER": "root", "TF_DB_NAME": db.database, "TF_DATA_DIR": TOP,
            "TF_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "CALENDAR_ENCRYPTION_KEY": key.decode(), "BASE_URL": f"http://127.0.0.1:{hook.server_address[1]}",
            "TF_LOG_LEVEL": "warn", "TF_LOCK_DIR": tmp, "TF_HTTP_TIMEOUT": "60"}
    conf.update(prov.conf())
    path = os.path.join(tmp, "terminfinder.env")
    with open(path, "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in conf.items()))
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("TF_") or k.startswith("GOOGLE_") or k.startswith("MICROSOFT_"))}
    env["TF_CONFIG"] = path
    rc = 0
    try:
        r = subprocess.run([admin_bin, "migrate"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("tf-admin migrate: " + r.stderr)
        n = a.connections
        t0 = time.monotonic()
        print(f"{tag}: seeding {n} doctors, {P.title} connections and {a.events} busy event(s) each ...",
              flush=True)
        start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
        stmts = []
        for i in range(n):
            acct = f"arzt{i:05d}@example.com"
            tok, cal = prov.seed(acct, [start + timedelta(days=e % 60, hours=(i + e) % 10) for e in range(a.events)])
            creds = {"access_token": tok["access_token"], "refresh_token": tok["refresh_token"],
                     "expires_at": int(time.time()) + int(tok["expires_in"]), "scope": tok["scope"]}
            enc = fernet.encrypt(json.dumps(creds).encode()).decode()
            h = hashlib.sha256(cal.encode()).hexdigest()
            stmts.append(
                f"INSERT INTO doctors (email, name, slug, password_hash) VALUES ({sqlstr(acct)}, 'Dr. Bench {i}',"
                f" 'dr-bench-{i}', 'x');\n"
                f"INSERT INTO calendar_integrations (doctor_id, provider, account_email, credentials_encrypted)"
                f" VALUES (LAST_INSERT_ID(), '{P.name}', {sqlstr(acct)}, {sqlstr(enc)});\n"
                f"INSERT INTO integration_calendars (integration_id, remote_id, remote_id_hash, display_name,"
                f" can_write, blocks_availability, receives_appointments) VALUES (LAST_INSERT_ID(), {sqlstr(cal)},"
                f" '{h}', {sqlstr(acct)}, 1, 1, 1);\n")
        for k in range(0, n, 500):
            db.sql("START TRANSACTION;\n" + "".join(stmts[k:k + 500]) + "COMMIT;\n")
        got = int(db.sql(f"SELECT COUNT(*) FROM calendar_integrations WHERE provider = '{P.name}'").strip())
        if got != n:
            raise RuntimeError(f"seeded {got} connections, wanted {n}")
        print(f"{tag}: seeded in {time.monotonic() - t0:.1f} s; fake latency {a.latency_ms:g} ms per request",
              flush=True)
        g.set_knobs(latency_ms=a.latency_ms)

        rows = []
        first, incr, expired = P.labels
        runs = [(first, conc) for conc in concs[:1]] + [(incr, c) for c in concs] + [(expired, concs[-1])]
        for label, conc in runs:
            if label == expired:
                g.expire_access_tokens()
            db.sql("UPDATE calendar_integrations SET next_sync_at = NULL")
            db.sql("DELETE FROM sync_runs")
            n0 = len(g.request_log())
            e = dict(env, TF_SYNC_CONCURRENCY=str(conc))
            t1 = time.monotonic()
            r = subprocess.run([sync_bin], env=e, capture_output=True, text=True, timeout=3600)
            wall = time.monotonic() - t1
            reqs = len(g.request_log(since=n0))
            m = SYNC_SUMMARY.search(r.stdout)
            runs_db = db.sql("SELECT COUNT(*), IFNULL(SUM(requests), 0), IFNULL(SUM(errors), 0) FROM sync_runs"
                             ).split()
            ideal = reqs * a.latency_ms / 1000.0 / conc
            ok = r.returncode == 0 and m and int(m.group(1)) == n and int(runs_db[0]) == n and runs_db[2] == "0"
            if not ok:
                rc = 1
                print(f"{tag}: {label} at concurrency {conc} FAILED (exit {r.returncode}): "
                      f"{r.stdout.strip()} {r.stderr[-1500:]}", flush=True)
            rows.append((label, conc, wall, reqs, int(runs_db[1]), ideal, m.group(0) if m else "-"))
            print(f"{tag}: {label}, concurrency {conc}: {wall:.1f} s, {reqs} requests"
                  f" (ideal {ideal:.1f} s)", flush=True)
        busy = int(db.sql("SELECT COUNT(*) FROM busy_blocks").strip())
        chans = int(db.sql(f"SELECT COUNT(*) FROM push_channels WHERE provider = '{P.name}'"
                           f" AND stopped_at IS NULL").strip())
        if busy < n * a.events or chans != n:
            rc = 1
            print(f"{tag}: expected {n * a.events} busy blocks and {n} {P.chan_word}, got {busy} and {chans}")

        print()
        print(f"tf-sync over {n} {P.title} connections, {P.fake_title} with {a.latency_ms:g} ms per request")
        print(f"{'run':36} {'conc':>4} {'wall s':>8} {'requests':>9} {'sync_runs':>9} {'ideal s':>8} {'wall/ideal':>10}")
        for label, conc, wall, reqs, rq_db, ideal, _ in rows:
            print(f"{label:36} {conc:>4} {wall:>8.1f} {reqs:>9} {rq_db:>9} {ideal:>8.1f} {wall / ideal if ideal else 0:>10.2f}")
        print(f"ideal = requests × {a.latency_ms:g} ms ÷ concurrency; busy blocks {busy}, live {P.chan_word} {chans}")
        for label, conc, *_, line in rows:
            print(f"  {label} (concurrency {conc}): {line}")
    except Exception as ex:  # noqa: BLE001
        print(f"{tag}: {ex}", file=sys.stderr)
        rc = 1
    finally:
        g.stop()
        hook.shutdown()
        db.stop()
        benchlib.finish(tmp, rc, f"{tag}: kept {tmp}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
