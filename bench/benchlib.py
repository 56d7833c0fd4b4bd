"""benchlib.py: shared by the bench/*.py benchmarks: the source tree, import paths, a bench stack, wrk runs, concurrent keep-alive clients, latency figures, worker RSS, tf-sync's summary line, the scratch directory.

    import benchlib                     # sets benchlib.TOP; puts tests/lib on sys.path
    from benchlib import TOP, Stack     # tests/lib/stack.py's Stack
    benchlib.use_fakes()                # also tests/fakes (google.py, microsoft.py, openai.py)
    tmp = benchlib.scratch("booking")   # a fresh $TMPDIR/tf-bench-booking-XXXX
    st = benchlib.stack(os.path.join(tmp, "stack"), a.builddir, a.workers, {"TF_LOG_LEVEL": "warn"})
    w = benchlib.wrk(url, threads, connections, duration)          # {"rps", "p50", ..., "out"}
    lat, codes, results, took = benchlib.run_clients(st.port, items, clients, one)
    benchlib.latency_figures(lat, took, "bookings")                # "p50 1.2ms   p90 ...   9 bookings/s"
    benchlib.worker_rss(st)                                         # "5120 kB, 5200 kB"
    benchlib.finish(tmp, failed, "bench: stack directory kept: " + tmp)
"""
import http.client
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from stack import Stack  # noqa: E402,F401 - re-exported for the benchmarks

# tf-sync's last stdout line; groups: connections, pushed, pulled, requests, errors, seconds.
SYNC_SUMMARY = re.compile(r"tf-sync: connections=(\d+) pushed=(\d+) pulled=(\d+) requests=(\d+) errors=(\d+) "
                          r"seconds=([\d.]+)")


def use_fakes():
    """Put tests/fakes first on sys.path (FakeGoogle, FakeMicrosoft, FakeOpenAI). Not by default:
    its google.py and openai.py would hide real packages of those names."""
    sys.path.insert(0, os.path.join(TOP, "tests", "fakes"))


def scratch(name):
    """A new directory $TMPDIR/tf-bench-NAME-XXXXXXXX (default /tmp) for the benchmark's stacks."""
    return tempfile.mkdtemp(prefix=f"tf-bench-{name}-", dir=os.environ.get("TMPDIR", "/tmp"))


def finish(tmp, failed, kept, file=None):
    """Remove tmp after a clean run; after a failure keep it and print the line `kept` (to file,
    default stdout) so the logs can be read."""
    if failed:
        print(kept, file=file or sys.stdout)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def lifted_limits():
    """scripts/nginx-conf.sh arguments lifting nginx's tf_api and tf_booking rate limits: the
    benchmarks measure the app, not the limiter."""
    out = []
    for zone in ("tf_api", "tf_booking"):
        out += ["--rate", f"{zone}=100000r/s", "--burst", f"{zone}=100000"]
    return out


def stack(path, builddir, workers, settings, lift=True, **kw):
    """tests/lib/stack.py's Stack in path, from this source tree and the bench build, with nginx's
    rate limits lifted unless lift=False; kw go to Stack (smtp=False, caldav=False, ...). Not started."""
    return Stack(path, srcdir=TOP, builddir=builddir, workers=workers,
                 nginx_args=lifted_limits() if lift else None, settings=settings, **kw)


def pct(sorted_vals, p):
    """The p-th percentile (nearest rank) of an ascending list; nan when it is empty."""
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def latency_figures(lat, took, unit):
    """'p50 …ms   p90 …ms   p99 …ms   max …ms   N UNIT/s' for ascending latencies (seconds) measured
    in took seconds of wall time."""
    return (f"p50 {pct(lat, 50) * 1000:.1f}ms   p90 {pct(lat, 90) * 1000:.1f}ms   "
            f"p99 {pct(lat, 99) * 1000:.1f}ms   max {lat[-1] * 1000 if lat else 0:.1f}ms   "
            f"{len(lat) / took:.0f} {unit}/s")


def wrk(url, threads, connections, duration, script=None, script_args=(), timeout=900):
    """Run wrk -tT -cC -dD --latency [-s SCRIPT] URL [-- SCRIPT_ARGS...] and parse its report:
    {"rps", "p50", "p90", "p99", "total"} as printed ("?" when absent), "non2xx" (int, 0 when none),
    "errors" (the "Socket errors: ..." line, "" when none) and "out" (wrk's whole stdout)."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency"]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    if script_args:
        cmd += ["--", *script_args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout).stdout

    def grab(pattern):
        m = re.search(pattern, out, re.M)
        return m.group(1) if m else "?"
    non2xx = grab(r"Non-2xx or 3xx responses:\s+(\d+)")
    errs = grab(r"(Socket errors:.*)$")
    w = {"rps": grab(r"^Requests/sec:\s+([\d.]+)"), "total": grab(r"^\s+(\d+) requests in"),
         "non2xx": 0 if non2xx == "?" else int(non2xx), "errors": "" if errs == "?" else errs, "out": out}
    for q in (50, 90, 99):
        w[f"p{q}"] = grab(r"^\s+%d%%\s+(\S+)" % q)
    return w


def run_clients(port, items, clients, one, timeout=60):
    """Hand items out to `clients` threads, each with one keep-alive http.client connection to
    127.0.0.1:port, all starting together; one(conn, item) makes one request and returns
    (status, payload). An OSError or HTTPException counts as status = its class name (payload None)
    and that thread reconnects. Returns (latencies in seconds, ascending; {status: count};
    [(status, payload)] in the order they finished; wall seconds)."""
    work = queue.Queue()
    for item in items:
        work.put(item)
    lat, codes, results = [], {}, []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        barrier.wait()
        while True:
            try:
                item = work.get_nowait()
            except queue.Empty:
                break
            t0 = time.perf_counter()
            try:
                status, payload = one(conn, item)
            except (OSError, http.client.HTTPException) as e:
                status, payload = type(e).__name__, None
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            dt = time.perf_counter() - t0
            with lock:
                lat.append(dt)
                codes[status] = codes.get(status, 0) + 1
                results.append((status, payload))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    took = time.perf_counter() - t0
    lat.sort()
    return lat, codes, results, took


def worker_rss(st):
    """The FastCGI workers' VmRSS as "N kB, N kB, ..." (workers gone meanwhile are left out)."""
    out = []
    for pid in st.worker_pids():
        try:
            with open(f"/proc/{pid}/status") as f:
                out += [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("VmRSS")]
        except OSError:
            pass
    return ", ".join(out)
