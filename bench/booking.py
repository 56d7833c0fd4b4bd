"""booking.py: the booking benchmark behind bench/booking.sh (slots API requests/s with wrk; booking latency with N concurrent clients).

Usage: python3 bench/booking.py --builddir DIR [--workers 4] [--clients 50] [--bookings 1500] [--single 100]
                                [--doctors 10] [--duration 10s] [--connections 16] [--threads 2]
Starts a stack (tests/lib/stack.py: MariaDB, spawn-fcgi with WORKERS workers, nginx, the SMTP sink)
with nginx's rate limits lifted (--rate/--burst for tf_api and tf_booking: the benchmark measures
the app, not the limiter), adds DOCTORS doctors (tf-admin add-doctor: Mon-Fri 08-12 and 14-18,
"Sprechstunde" 30 min), asks the slots API for their free times on the next weekdays, and then
  1. wrk --latency against GET /api/integrations/calendar/slots/?doctor=...&date=...&duration=30
  2. one client books SINGLE slots alone (the service time without queueing), then
     CLIENTS threads (http.client, one keep-alive connection each) POST /api/appointments for
     distinct free, non-overlapping slots across those days and doctors, each a different patient;
     prints p50/p90/p99/max latency, bookings/s, and how many answered 201 / 409 / other.
Every confirmation mail goes to the SMTP sink after the response (as in production).
Exit 1 when a request failed (neither 201 nor 409, or a wrk error), or when fewer than 95 % of the
bookings succeeded.
"""
import argparse
import datetime
import http.client
import json
import os
import sys
import time
import urllib.parse

import benchlib
from benchlib import latency_figures, worker_rss


def get_json(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        return r.status, (json.loads(body) if r.status == 200 else None)
    finally:
        c.close()


def main():
    p = argparse.ArgumentParser(prog="bench/booking.py")
    p.add_argument("--builddir", required=True)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--bookings", type=int, default=1500)
    p.add_argument("--single", type=int, default=100, help="bookings by one client alone, first")
    p.add_argument("--doctors", type=int, default=10)
    p.add_argument("--duration", default="10s")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    tmp = benchlib.scratch("booking")
    st = benchlib.stack(os.path.join(tmp, "stack"), a.builddir, a.workers, {"TF_LOG_LEVEL": "warn"})
    failed = False
    try:
        st.start()
        slugs = [st.slug]
        for i in range(1, a.doctors):
            st.admin("add-doctor", f"bench{i}@praxis-beispiel.de", "--name", f"Dr. Bench {i}",
                     "--slug", f"bench-{i}", input="Bench-Passwort-12345\n", check=True)
            slugs.append(f"bench-{i}")

        # Free, non-overlapping 30-minute slots (on the hour and half hour) on the next weekdays.
        todo = []
        day = datetime.date.today() + datetime.timedelta(days=2)
        sample_url = None
        days = 0
        while len(todo) < a.bookings + a.single and days < 170:
            if day.weekday() < 5:
                for slug in slugs:
                    qs = urllib.parse.urlencode({"doctor": slug, "date": day.isoformat(), "duration": 30})
                    status, j = get_json(st.port, f"/api/integrations/calendar/slots/?{qs}")
                    if status != 200:
                        raise RuntimeError(f"slots API answered {status} for {slug} {day}")
                    if sample_url is None and j["slots"]:
                        sample_url = f"{st.base_url}/api/integrations/calendar/slots/?{qs}"
                    todo += [(slug, day, s) for s in j["slots"] if s.endswith((":00", ":30"))]
            day += datetime.timedelta(days=1)
            days += 1
        todo = todo[:a.bookings + a.single]
        print(f"bench: {st.base_url}, {a.workers} FastCGI workers, {a.doctors} doctors, "
              f"{os.cpu_count()} cores; non-sanitizer build {a.builddir}")

        # 1. the slots API
        w = benchlib.wrk(sample_url, a.threads, a.connections, a.duration, timeout=600)
        print(f"GET slots API (wrk -t{a.threads} -c{a.connections} -d{a.duration}): "
              f"{w['rps']} req/s   p50 {w['p50']}   p99 {w['p99']}   ({w['total']} requests, "
              f"{w['non2xx']} non-2xx){'  ' + w['errors'] if w['errors'] else ''}")
        if w["non2xx"] or w["errors"]:
            failed = True

        # 2. bookings: one client alone first (the service time without queueing), then CLIENTS
        failed |= book_run(st, todo[:a.single], 1)
        failed |= book_run(st, todo[a.single:], a.clients)
        rows = st.db.sql("SELECT COUNT(*) FROM appointments WHERE status = 'confirmed'").strip()
        time.sleep(2)
        sent = st.db.sql("SELECT COUNT(*) FROM mail_queue WHERE status = 'sent'").strip()
        print(f"  {rows} confirmed rows in appointments; confirmation mails sent so far: {sent} "
              f"(SMTP sink: {len(os.listdir(st.mail_dir))} files)")
        print(f"  worker RSS after the run: {worker_rss(st)}")
    finally:
        st.stop()
        benchlib.finish(tmp, failed, f"bench: stack directory kept: {tmp}")
    return 1 if failed else 0


def book_run(st, todo, clients):
    """Book every (slug, day, HH:MM) of todo with `clients` threads (one keep-alive connection each),
    print latency figures and answer counts; True when an answer was neither 201 nor 409 or fewer
    than 95 % were 201."""
    bodies = [json.dumps({"doctor": slug, "service": "Sprechstunde", "start": f"{d.isoformat()}T{hhmm}",
                          "duration_minutes": 30, "patient_name": f"Bench Patient {clients}-{n}",
                          "patient_email": f"bench{clients}-{n}@example.org", "create_meet": False})
              for n, (slug, d, hhmm) in enumerate(todo)]

    def book(conn, body):
        conn.request("POST", "/api/appointments", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        return r.status, None

    lat, codes, _, took = benchlib.run_clients(st.port, bodies, clients, book)
    ok = codes.get(201, 0)
    conflicts = codes.get(409, 0)
    other = {k: v for k, v in codes.items() if k not in (201, 409)}
    label = "1 client" if clients == 1 else f"{clients} concurrent clients"
    print(f"POST /api/appointments ({label}, {len(todo)} bookings): {latency_figures(lat, took, 'bookings')}")
    print(f"  {ok} x 201, {conflicts} x 409 (slot taken), other {other or 'none'}")
    return bool(other) or ok < 0.95 * len(todo)


if __name__ == "__main__":
    sys.exit(main())
