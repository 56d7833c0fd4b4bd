"""caldav-bench.py: the CalDAV benchmark behind bench/caldav.sh: tf-sync against a 5,000-event Radicale calendar, and python3-caldav fetching the same.

Usage: python3 bench/caldav-bench.py --builddir DIR [--events 5000] [--timeout 300] [--seed 42]
Starts a stack (tests/lib/stack.py: MariaDB, the app under spawn-fcgi, nginx, Radicale through
tests/lib/radicale.py) with TF_HTTP_TIMEOUT=--timeout, writes EVENTS events straight into
Radicale's storage (a calendar "gross" of the user praxis: single events, all-day events and
weekly series over the next 110 days, UTC times), lists the calendar twice over HTTP (the first
listing fills Radicale's item cache: cold vs warm), connects the calendar through the app's API
(POST /api/doctor/calendar-integrations/icloud with a tf-admin token) with only "gross" blocking,
then measures with the built tf-sync (--integration ID):
  1. full sync: seconds (wall clock of the process), requests (sync_runs.requests), busy blocks
  2. a sync with nothing changed
  3. incremental sync after one event was moved (HTTP PUT by another client)
and the same fetch with Debian's python3-caldav (principal -> calendar -> events(), then
objects_by_sync_token(load_objects=True) in full and after one change), its requests counted from
Radicale's access log (one "... request for ..." line per request).
Prints a table; exit 1 when a step failed (tf-sync exit status, wrong busy block count).
"""
import argparse
import datetime
import os
import random
import re
import sys
import time
import urllib.parse

import benchlib
from benchlib import SYNC_SUMMARY
from httpc import Client  # tests/lib/httpc.py (benchlib put tests/lib on sys.path)

CAL = "gross"


def ics_utc(dt):
    return dt.strftime("%Y%m%dT%H%M%SZ")


def make_events(n, seed):
    """n events as {file name: .ics bytes}: 85 % single timed events, 10 % all-day, 5 % weekly
    series of 6; expected busy intervals are not computed here (the count of busy blocks is
    checked to be at least the number of objects inside the horizon)."""
    rnd = random.Random(seed)
    now = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
    stamp = ics_utc(now)
    out = {}
    for i in range(n):
        uid = f"bench-{i:05d}@radicale.local"
        day = now + datetime.timedelta(days=rnd.randrange(1, 110))
        kind = rnd.random()
        if kind < 0.10:
            d = day.date()
            when = (f"DTSTART;VALUE=DATE:{d:%Y%m%d}\r\n"
                    f"DTEND;VALUE=DATE:{d + datetime.timedelta(days=1):%Y%m%d}\r\n")
        else:
            start = day.replace(hour=rnd.randrange(6, 18), minute=rnd.choice((0, 15, 30, 45)))
            end = start + datetime.timedelta(minutes=rnd.choice((15, 30, 45, 60, 90, 120)))
            when = f"DTSTART:{ics_utc(start)}\r\nDTEND:{ics_utc(end)}\r\n"
            if kind > 0.95:
                when += "RRULE:FREQ=WEEKLY;COUNT=6\r\n"
        body = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//TerminFinder Bench//DE\r\nBEGIN:VEVENT\r\n"
                f"UID:{uid}\r\nDTSTAMP:{stamp}\r\n{when}SUMMARY:Privater Termin {i}\r\n"
                "END:VEVENT\r\nEND:VCALENDAR\r\n")
        out[f"bench-{i:05d}.ics"] = body.encode()
    return out


class LogCounter:
    """Counts Radicale's request log lines (one per HTTP request) written since mark()."""

    def __init__(self, path):
        self.path = path
        self.pos = 0

    def mark(self):
        self.pos = os.path.getsize(self.path)

    def count(self):
        time.sleep(0.2)         # the log line of the last request is written after its answer
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            return sum(1 for ln in f.read().decode("utf-8", "replace").splitlines() if " request for " in ln)


def propfind_all(st):
    body = (b'<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/>'
            b'</d:prop></d:propfind>')
    t0 = time.monotonic()
    code, _, data = st.caldav_request("PROPFIND", f"/{st.caldav_user}/{CAL}/", body,
                                      {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
    took = time.monotonic() - t0
    if code != 207:
        raise RuntimeError(f"PROPFIND of the calendar answered {code}")
    return took, data.count(b"<D:response>") + data.count(b"<d:response>") + data.count(b"<response>")


def main():
    p = argparse.ArgumentParser(prog="bench/caldav-bench.py")
    p.add_argument("--builddir", required=True)
    p.add_argument("--events", type=int, default=5000)
    p.add_argument("--timeout", type=int, default=300, help="TF_HTTP_TIMEOUT for the app and tf-sync")
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    try:
        import caldav  # Debian's python3-caldav (the seed's library), used at the end
    except ImportError:
        print("bench: python3-caldav is missing (scripts/deps.sh installs it)", file=sys.stderr)
        return 1

    tmp = benchlib.scratch("caldav")
    st = benchlib.stack(os.path.join(tmp, "stack"), a.builddir, 2,
                        {"TF_HTTP_TIMEOUT": str(a.timeout), "TF_LOG_LEVEL": "warn"}, lift=False, smtp=False)
    failed = 0
    rows = []
    try:
        st.start()
        user = st.caldav_user
        log = LogCounter(st.radicale.logfile)

        # --- seed straight into storage, then list it twice (cold: Radicale fills its item cache)
        t0 = time.monotonic()
        st.radicale.create_calendar(user, CAL, displayname=f"Gross ({a.events})")
        events = make_events(a.events, a.seed)
        for name, data in events.items():
            st.radicale.seed(user, CAL, name, data)
        print(f"bench: seeded {len(events)} events into {st.caldav_dir(CAL)} in {time.monotonic() - t0:.1f} s")
        cold, n1 = propfind_all(st)
        warm, n2 = propfind_all(st)
        print(f"bench: PROPFIND Depth 1 of the calendar: cold {cold:.1f} s, warm {warm:.2f} s "
              f"({n2 - 1} objects listed)")

        # --- connect through the app's API; only "gross" blocks and receives
        token = st.admin("token", st.email, check=True).stdout.strip()
        cl = Client(st.port, timeout=a.timeout * 4)
        t0 = time.monotonic()
        r = cl.request("POST", "/api/doctor/calendar-integrations/icloud",
                       json_body={"apple_id": user, "app_password": st.caldav_password, "caldav_url": st.caldav_url},
                       headers={"Authorization": "Bearer " + token})
        if r.status != 201:
            raise RuntimeError(f"connect answered {r}")
        iid = r.json()["id"]
        print(f"bench: connected through the API in {time.monotonic() - t0:.2f} s (connection {iid})")
        st.db.sql(f"UPDATE integration_calendars SET blocks_availability = (display_name LIKE 'Gross%'), "
                  f"receives_appointments = (display_name LIKE 'Gross%') WHERE integration_id = {iid}")

        def tf_sync(label):
            nonlocal failed
            t0 = time.monotonic()
            r = st.sync("--integration", str(iid), env={"TF_HTTP_TIMEOUT": str(a.timeout)}, timeout=a.timeout * 10)
            took = time.monotonic() - t0
            m = SYNC_SUMMARY.search(r.stdout)
            req = st.db.sql(f"SELECT requests FROM sync_runs WHERE integration_id = {iid} "
                            f"ORDER BY id DESC LIMIT 1").strip()
            if r.returncode != 0 or not m:
                failed = 1
                print(f"bench: tf-sync ({label}) exited {r.returncode}: {r.stdout.strip()} {r.stderr[-2000:]}")
            pulled = m.group(3) if m else "?"
            rows.append((f"tf-sync: {label}", took, req, f"pulled {pulled}"))
            return r

        log.mark()
        tf_sync(f"full sync of {a.events} events")
        radicale_full = log.count()
        blocks = int(st.db.sql(f"SELECT COUNT(*) FROM busy_blocks WHERE integration_id = {iid}").strip())
        print(f"bench: after the full sync: {blocks} busy blocks; Radicale logged {radicale_full} requests")
        if blocks < a.events * 0.85:
            failed = 1
            print(f"bench: too few busy blocks ({blocks})")
        tf_sync("nothing changed")

        def move_one(i, hours):
            name = f"bench-{i:05d}.ics"
            text = events[name].decode()
            m = re.search(r"DTSTART:(\d{8}T\d{6}Z)\r\nDTEND:(\d{8}T\d{6}Z)", text)
            s = datetime.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ") + datetime.timedelta(hours=hours)
            e = datetime.datetime.strptime(m.group(2), "%Y%m%dT%H%M%SZ") + datetime.timedelta(hours=hours)
            text = text.replace(m.group(0), f"DTSTART:{ics_utc(s)}\r\nDTEND:{ics_utc(e)}")
            code, _, _ = st.caldav_request("PUT", f"/{user}/{CAL}/{name}", text.encode(),
                                           {"Content-Type": "text/calendar; charset=utf-8"})
            if code not in (201, 204):
                raise RuntimeError(f"PUT of {name} answered {code}")
            events[name] = text.encode()
            return s

        timed = [int(n[6:11]) for n, d in events.items() if b"DTSTART:" in d and b"RRULE" not in d]
        moved = move_one(timed[0], 1)
        tf_sync("incremental after 1 change")
        n = int(st.db.sql(f"SELECT COUNT(*) FROM busy_blocks WHERE integration_id = {iid} "
                          f"AND start_utc = '{moved:%Y-%m-%d %H:%M:%S}'").strip())
        if n < 1:
            failed = 1
            print("bench: the moved event's new busy block is missing")

        # --- the same fetch with python3-caldav (the seed's library)
        log.mark()
        t0 = time.monotonic()
        client = caldav.DAVClient(url=st.caldav_url + "/", username=user, password=st.caldav_password,
                                  timeout=a.timeout)
        principal = client.principal()
        cal = next(c for c in principal.calendars()
                   if urllib.parse.unquote(str(c.url)).rstrip("/").endswith("/" + CAL))
        evs = cal.events()
        took = time.monotonic() - t0
        rows.append(("python3-caldav: principal, calendar, events()", took, log.count(), f"{len(evs)} events"))

        log.mark()
        t0 = time.monotonic()
        coll = cal.objects_by_sync_token(load_objects=True)
        objs = list(coll)
        took = time.monotonic() - t0
        rows.append(("python3-caldav: objects_by_sync_token full", took, log.count(), f"{len(objs)} objects"))

        move_one(timed[1], 2)
        log.mark()
        t0 = time.monotonic()
        coll2 = cal.objects_by_sync_token(sync_token=coll.sync_token, load_objects=True)
        objs2 = list(coll2)
        took = time.monotonic() - t0
        rows.append(("python3-caldav: objects_by_sync_token after 1 change", took, log.count(),
                     f"{len(objs2)} objects"))
        tf_sync("incremental after that change")
    except Exception as e:  # noqa: BLE001 - reported, exit 1
        import traceback
        traceback.print_exc()
        print(f"bench: {e}", file=sys.stderr)
        failed = 1
    finally:
        st.stop()

    print()
    print(f"{'what':58} {'seconds':>9} {'requests':>9}  notes")
    for what, secs, req, note in rows:
        print(f"{what:58} {secs:9.2f} {str(req):>9}  {note}")
    print(f"({os.cpu_count()} cores; tf-sync from {a.builddir}; requests: sync_runs.requests for tf-sync, "
          "Radicale's log lines for python3-caldav)")
    benchlib.finish(tmp, failed, f"bench: directory kept: {tmp}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
