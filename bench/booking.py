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
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from stack import Stack  # noqa: E402


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def get_json(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        return r.status, (json.loads(body) if r.status == 200 else None)
    finally:
        c.close()


def wrk(url, a):
    out = subprocess.run(["wrk", f"-t{a.threads}", f"-c{a.connections}", f"-d{a.duration}", "--latency", url],
                         capture_output=True, text=True, timeout=600).stdout
    def grab(pattern):
        m = re.search(pattern, out, re.M)
        return m.group(1) if m else "?"
    non2xx = grab(r"Non-2xx or 3xx responses:\s+(\d+)")
    errs = grab(r"(Socket errors:.*)$")
    return {"rps": grab(r"^Requests/sec:\s+([\d.]+)"), "p50": grab(r"^\s+50%\s+(\S+)"),
            "p99": grab(r"^\s+99%\s+(\S+)"), "total": grab(r"^\s+(\d+) requests in"),
            "non2xx": 0 if non2xx == "?" else int(non2xx), "errors": "" if errs == "?" else errs}


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

    lift = []
    for zone in ("tf_api", "tf_booking"):
        lift += ["--rate", f"{zone}=100000r/s", "--burst", f"{zone}=100000"]
    tmp = tempfile.mkdtemp(prefix="tf-bench-booking-", dir=os.environ.get("TMPDIR", "/tmp"))
    st = Stack(os.path.join(tmp, "stack"), srcdir=TOP, builddir=a.builddir, workers=a.workers,
               nginx_args=lift, settings={"TF_LOG_LEVEL": "warn"})
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
        w = wrk(sample_url, a)
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
        rss = []
        for pid in st.worker_pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    rss += [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("VmRSS")]
            except OSError:
                pass
        print(f"  worker RSS after the run: {', '.join(rss)}")
    finally:
        st.stop()
        if not failed:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"bench: stack directory kept: {tmp}")
    return 1 if failed else 0


def book_run(st, todo, clients):
    """Book every (slug, day, HH:MM) of todo with `clients` threads (one keep-alive connection each),
    print latency figures and answer counts; True when an answer was neither 201 nor 409 or fewer
    than 95 % were 201."""
    work = queue.Queue()
    for n, item in enumerate(todo):
        work.put((n, item))
    lat = []
    codes = {}
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=60)
        barrier.wait()
        while True:
            try:
                n, (slug, d, hhmm) = work.get_nowait()
            except queue.Empty:
                break
            body = json.dumps({"doctor": slug, "service": "Sprechstunde", "start": f"{d.isoformat()}T{hhmm}",
                               "duration_minutes": 30, "patient_name": f"Bench Patient {clients}-{n}",
                               "patient_email": f"bench{clients}-{n}@example.org", "create_meet": False})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/appointments", body=body,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                code = r.status
            except (OSError, http.client.HTTPException) as e:
                code = type(e).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=60)
            dt = time.perf_counter() - t0
            with lock:
                lat.append(dt)
                codes[code] = codes.get(code, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    took = time.perf_counter() - t0
    lat.sort()
    ok = codes.get(201, 0)
    conflicts = codes.get(409, 0)
    other = {k: v for k, v in codes.items() if k not in (201, 409)}
    label = "1 client" if clients == 1 else f"{clients} concurrent clients"
    print(f"POST /api/appointments ({label}, {len(todo)} bookings): "
          f"p50 {pct(lat, 50) * 1000:.1f}ms   p90 {pct(lat, 90) * 1000:.1f}ms   "
          f"p99 {pct(lat, 99) * 1000:.1f}ms   max {lat[-1] * 1000 if lat else 0:.1f}ms   "
          f"{len(lat) / took:.0f} bookings/s")
    print(f"  {ok} x 201, {conflicts} x 409 (slot taken), other {other or 'none'}")
    return bool(other) or ok < 0.95 * len(todo)


if __name__ == "__main__":
    sys.exit(main())
