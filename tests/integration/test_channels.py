#!/usr/bin/env python3
"""test_channels.py: Google push channels (TAP): channels_ensure / tf-renew / the webhook against tests/fakes/google.py.

A private MariaDB, the fake Google (OAuth + Calendar v3 + its push sender) and tf-calendar.fcgi in CGI mode
behind a small bridge (BASE_URL): the fake's notifications are POSTed to the bridge, which runs the app as a
CGI program per request, so the whole path push sender -> webhook -> sync is real. Checks: channels for the
blocking calendars only (rows, token only as SHA-256, the fake's "sync" message accepted), a notification with
the right token syncs the connection after the answer (the fake's new event becomes a busy block), forged
token / wrong resource / unknown channel refused and no sync run, "sync" only confirms, renewal (new channel
first, then the old one stopped: the fake's request log order), a failed renewal reported (exit 1, last_error)
and retried by the next run, disconnect stops the channels.
"""
import datetime
import hashlib
import os
import subprocess
import sys
import time
import urllib.parse

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakes"))

from tap import Tap  # noqa: E402
from cgiapp import CgiApp, sanitizer_trouble, skip_unless_ready  # noqa: E402
from provider_setup import (SECRET, BridgeHandler, CgiSetup, app_settings, built, google_settings,  # noqa: E402
                            serve_bridge, wait_for)

APP, ADMIN, SYNC, RENEW = built(BUILDDIR, "tf-calendar.fcgi", "tf-admin", "tf-sync", "tf-renew")
EMAIL = "ana@example.com"
HOOK = "/webhooks/calendar/google"

skip_unless_ready(APP, ADMIN, SYNC, RENEW, fernet=True)

from google import FakeGoogle  # noqa: E402

t = Tap()

# ---------------------------------------------------------------- the bridge: BASE_URL for the push sender
A = None
bridge_log = []


class Bridge(BridgeHandler):
    def do_POST(self):
        body = self.body()
        headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-goog-")}
        try:
            r = A.cgi("POST", self.path, headers=headers, body=body,
                      ctype=self.headers.get("Content-Type") or "")
            status = r.status
        except Exception as e:  # noqa: BLE001
            bridge_log.append(("error", repr(e)))
            status = 502
        bridge_log.append((headers.get("X-Goog-Resource-State"), status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


bridge, BASE_URL = serve_bridge(Bridge)

S = CgiSetup(t, "tf-channels-")
S.add_cleanup(bridge.shutdown)
g = FakeGoogle(port=0)
S.start("MariaDB or the fake Google", g)
g.set_knobs(push_retry_base=0.2, push_max_attempts=2)
DB = S.db
CONFIG = S.write_config(dict(app_settings(DB, SRCDIR, SECRET, BASE_URL, S.fernet_key, smtp=False),
                             **google_settings(g)))
A = CgiApp(APP, ADMIN, CONFIG)
sql, count, tool, finish = S.sql, S.count_or_zero, S.tool, S.finish
DOC, TOKEN = S.prepare(A, ("eva",), tokens=("eva",))

# ---------------------------------------------------------------- a Google connection (as the callback stores it)
cals = {c["summary"]: c["id"] for c in (g._callist_entry(c) for c in g.accounts[EMAIL]["calendars"].values())}
PRIMARY, PRAXIS, HOLIDAY = EMAIL, cals["Praxis"], cals["Feiertage in Deutschland"]
IID, CAL_ID = S.connect_account(DOC, "google", EMAIL, g.issue_tokens(EMAIL), (
    (PRIMARY, EMAIL, 1, 1, 1), (PRAXIS, "Praxis", 1, 1, 0), (HOLIDAY, "Feiertage", 0, 0, 0)))


def live_rows():
    out = sql(f"SELECT calendar_id, channel_id, token_hash, resource_id, UNIX_TIMESTAMP(expiration)"
              f" FROM google_channels WHERE integration_id = {IID} AND stopped_at IS NULL ORDER BY id")
    return [line.split("\t") for line in out.splitlines() if line]


def fake_channels(active=True):
    return {c["id"]: c for c in g.channel_list() if c["active"] == active}


def hook(channel_id, token, state="exists", resource=None, number="42"):
    h = {"X-Goog-Channel-ID": channel_id, "X-Goog-Resource-State": state, "X-Goog-Message-Number": number}
    if token is not None:
        h["X-Goog-Channel-Token"] = token
    if resource is not None:
        h["X-Goog-Resource-ID"] = resource
    return A.cgi("POST", HOOK, headers=h, body=b"", ctype="application/json; utf-8")


def runs():
    return count(f"SELECT COUNT(*) FROM sync_runs WHERE integration_id = {IID}")


ENGINE_WIRED = "channels_ensure" in open(os.path.join(SRCDIR, "src", "core", "sync.c")).read()
DISCONNECT_WIRED = "channels_stop_all" in open(os.path.join(SRCDIR, "src", "core", "sync.c")).read()

# ---------------------------------------------------------------- channels after a sync
if ENGINE_WIRED:
    with t.case("tf-sync opens one channel per blocking calendar (not the non-blocking one)"):
        r = tool(SYNC, "--integration", str(IID))
        assert r.returncode == 0, r.stderr[-3000:]
        rows = live_rows()
        assert sorted(int(x[0]) for x in rows) == sorted([CAL_ID[PRIMARY], CAL_ID[PRAXIS]]), rows
else:
    t.skip("tf-sync opens one channel per blocking calendar", "sync.c does not call channels_ensure yet")

with t.case("tf-renew opens the missing channels (channels=2 renewed=2); a second run has nothing to do"):
    r = tool(RENEW)
    if ENGINE_WIRED:
        assert r.returncode == 0 and "tf-renew: channels=0 renewed=0 failed=0" in r.stdout, (r.stdout, r.stderr)
    else:
        assert r.returncode == 0 and "tf-renew: channels=2 renewed=2 failed=0" in r.stdout, (r.stdout, r.stderr)
    rows = live_rows()
    assert sorted(int(x[0]) for x in rows) == sorted([CAL_ID[PRIMARY], CAL_ID[PRAXIS]]), rows

with t.case("the rows match the fake's channels: address, token stored only as its SHA-256, resource id, expiry"):
    rows = live_rows()
    fc = fake_channels()
    assert len(fc) == 2, fc
    for cal_id, chan, token_hash, resource, exp in rows:
        c = fc[chan]
        assert c["address"] == BASE_URL + HOOK, c
        assert len(c["token"]) == 43 and hashlib.sha256(c["token"].encode()).hexdigest() == token_hash, c
        assert c["token"] not in sql("SELECT GROUP_CONCAT(token_hash, channel_id, resource_id) FROM google_channels")
        assert c["resourceId"] == resource, (c, resource)
        assert abs(int(exp) - c["expiration"] // 1000) <= 1, (exp, c["expiration"])
        assert {CAL_ID[PRIMARY]: PRIMARY, CAL_ID[PRAXIS]: PRAXIS}[int(cal_id)] == c["calendarId"]
    watches = [x for x in g.request_log(path_prefix="/calendar/v3/") if x["path"].endswith("/events/watch")]
    assert watches and all(w["body"]["type"] == "web_hook" and w["body"]["params"] == {"ttl": "604800"}
                           for w in watches), watches

with t.case("the fake's 'sync' messages reached the webhook and were answered 200"):
    assert wait_for(lambda: sum(1 for d in g.delivery_log() if d["state"] == "sync" and d["status"] == 200) >= 2), \
        (g.delivery_log(), bridge_log)

# ---------------------------------------------------------------- notifications
praxis_chan = next(c for c in fake_channels().values() if c["calendarId"] == PRAXIS)
start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)).replace(
    hour=9, minute=0, second=0, microsecond=0)
end = start + datetime.timedelta(hours=1)

with t.case("a change in the calendar: the push sender's 'exists' → 200, then the sync stores the busy block"):
    n0 = runs()
    g.create_event(EMAIL, PRAXIS, {"summary": "Zahnarzt privat", "start": {"dateTime": start.isoformat()},
                                   "end": {"dateTime": end.isoformat()}})
    assert wait_for(lambda: count(f"SELECT COUNT(*) FROM busy_blocks WHERE calendar_id = {CAL_ID[PRAXIS]}"
                                  f" AND start_utc = '{start:%Y-%m-%d %H:%M:%S}'"
                                  f" AND end_utc = '{end:%Y-%m-%d %H:%M:%S}'") == 1, 60), \
        (bridge_log, g.delivery_log()[-3:])
    assert runs() > n0
    assert any(d["state"] == "exists" and d["status"] == 200 for d in g.delivery_log()), g.delivery_log()

with t.case("the answer goes out before the sync: stdout is complete while the sync still runs"):
    g.set_knobs(latency_ms=400)
    env = {k: os.environ[k] for k in ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS") if k in os.environ}
    env.update({"TF_CONFIG": CONFIG, "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "PATH_INFO": HOOK,
                "REQUEST_URI": HOOK, "CONTENT_LENGTH": "0", "CONTENT_TYPE": "application/json; utf-8",
                "HTTP_X_GOOG_CHANNEL_ID": praxis_chan["id"], "HTTP_X_GOOG_CHANNEL_TOKEN": praxis_chan["token"],
                "HTTP_X_GOOG_RESOURCE_ID": praxis_chan["resourceId"], "HTTP_X_GOOG_RESOURCE_STATE": "exists",
                "HTTP_X_GOOG_MESSAGE_NUMBER": "77", "REMOTE_ADDR": "127.0.0.1"})
    n0 = runs()
    t0 = time.time()
    p = subprocess.Popen([APP], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()          # returns at EOF: the app closed its answer
    t_answer = time.time() - t0
    err = p.stderr.read()
    p.wait(timeout=120)
    t_exit = time.time() - t0
    g.set_knobs(latency_ms=0)
    assert out.startswith(b"Status: 200"), out[:300]
    assert p.returncode == 0 and not sanitizer_trouble(err.decode("utf-8", "replace")), err[-2000:]
    assert runs() == n0 + 1, (runs(), n0)
    assert t_exit - t_answer >= 0.8, (t_answer, t_exit)   # the sync (several requests at 400 ms) came after

with t.case("a forged token → 403, no sync run; the right token on another channel id → 404"):
    n0 = runs()
    r = hook(praxis_chan["id"], "x" * 43, resource=praxis_chan["resourceId"])
    assert r.status == 403 and r.header("content-type").startswith("application/json"), r
    assert "token" not in r.body.lower() and not r.cookie("tf_csrf"), r
    r = hook(praxis_chan["id"], None, resource=praxis_chan["resourceId"])
    assert r.status == 403, r
    r = hook(praxis_chan["id"], praxis_chan["token"][:-1], resource=praxis_chan["resourceId"])
    assert r.status == 403, r
    r = hook("0bd4b9b3-0000-4000-8000-000000000000", praxis_chan["token"], resource=praxis_chan["resourceId"])
    assert r.status == 404, r
    assert runs() == n0, (runs(), n0)

with t.case("the right token with another resource id → 403; a malformed channel id or state → 404/400"):
    n0 = runs()
    assert hook(praxis_chan["id"], praxis_chan["token"], resource="someOtherResource").status == 403
    assert hook("../../etc", praxis_chan["token"]).status == 404
    assert hook("a" * 65, praxis_chan["token"]).status == 404
    assert hook(praxis_chan["id"], praxis_chan["token"], state="bogus").status == 400
    assert A.cgi("GET", HOOK).status == 405
    assert runs() == n0

with t.case("'sync' only confirms the channel: 200, no sync run"):
    n0 = runs()
    r = hook(praxis_chan["id"], praxis_chan["token"], state="sync", resource=praxis_chan["resourceId"], number="1")
    assert r.status == 200, r
    assert runs() == n0

# ---------------------------------------------------------------- renewal
with t.case("tf-renew: channels expiring within 48 h are replaced, new channel first, then the old one stopped"):
    old = {x[1]: x for x in live_rows()}
    assert len(old) == 2
    # 10 hours left (as if the week had passed)
    sql(f"UPDATE google_channels SET expiration = UTC_TIMESTAMP() + INTERVAL 10 HOUR"
        f" WHERE integration_id = {IID} AND stopped_at IS NULL")
    mark = len(g.request_log())
    r = tool(RENEW)
    assert r.returncode == 0 and "tf-renew: channels=2 renewed=2 failed=0" in r.stdout, (r.stdout, r.stderr[-3000:])
    log = [x for x in g.request_log(since=mark) if x["path"].startswith("/calendar/v3/")]
    cal_of_path = {f"/calendar/v3/calendars/{rid}/events/watch": CAL_ID[rid] for rid in (PRIMARY, PRAXIS)}
    order = []   # (kind, calendar id)
    for x in log:
        if x["path"].endswith("/events/watch"):
            p = urllib.parse.unquote(x["path"])
            order.append(("watch", cal_of_path.get(p, p)))
        elif x["path"].endswith("/channels/stop"):
            order.append(("stop", int(old[x["body"]["id"]][0])))
    assert sorted(c for k, c in order if k == "stop") == sorted(int(x[0]) for x in old.values()), order
    assert sorted(c for k, c in order if k == "watch") == sorted([CAL_ID[PRIMARY], CAL_ID[PRAXIS]]), order
    # per calendar: its new channel's watch comes before its old channel's stop
    for i, (k, c) in enumerate(order):
        if k == "stop":
            assert ("watch", c) in order[:i], order
    new = {x[1]: x for x in live_rows()}
    assert len(new) == 2 and not set(new) & set(old), (new, old)
    for cid in old:
        assert sql(f"SELECT stopped_at IS NOT NULL FROM google_channels WHERE channel_id = '{cid}'") == "1", cid
    fc = fake_channels()
    assert set(fc) == set(new), (fc.keys(), new.keys())

with t.case("an old (stopped) channel's notification is refused; the new one is accepted"):
    oldc = [c for c in g.channel_list() if not c["active"]][0]
    assert hook(oldc["id"], oldc["token"], resource=oldc["resourceId"], state="sync").status == 404
    newc = next(iter(fake_channels().values()))
    assert hook(newc["id"], newc["token"], resource=newc["resourceId"], state="sync").status == 200

with t.case("a failed renewal: exit 1, failed=2 counted, the calendars left without a channel in last_error"):
    # Google's channels expired meanwhile (as the fake sees it, and as we recorded it)
    g.expire_channels()
    sql(f"UPDATE google_channels SET expiration = UTC_TIMESTAMP() - INTERVAL 1 MINUTE"
        f" WHERE integration_id = {IID} AND stopped_at IS NULL")
    g.fail("backendError", count=10, path_prefix="/calendar/v3/calendars/", method="POST")
    r = tool(RENEW)
    g.clear_failures()
    assert r.returncode == 1 and "tf-renew: channels=2 renewed=0 failed=2" in r.stdout, (r.stdout, r.stderr[-3000:])
    st = sql(f"SELECT sync_status, last_error FROM calendar_integrations WHERE id = {IID}").split("\t")
    assert st[0] == "error" and "Benachrichtigungskanal" in st[1], st
    assert len(live_rows()) == 2   # the expired rows stay until a replacement exists

with t.case("the next run retries: renewed=2 failed=0, the expired rows marked stopped"):
    mark = len(g.request_log())
    r = tool(RENEW)
    assert r.returncode == 0 and "tf-renew: channels=2 renewed=2 failed=0" in r.stdout, (r.stdout, r.stderr[-3000:])
    assert len(fake_channels()) == 2
    rows = live_rows()
    assert len(rows) == 2 and all(int(x[4]) > time.time() + 86400 for x in rows), rows
    # expired channels are not stopped at Google (it answers 404): only marked
    assert not [x for x in g.request_log(since=mark) if x["path"].endswith("/channels/stop")]
    if ENGINE_WIRED:
        r = tool(SYNC, "--integration", str(IID))
        assert sql(f"SELECT sync_status FROM calendar_integrations WHERE id = {IID}") == "active"

# ---------------------------------------------------------------- disconnect
if DISCONNECT_WIRED:
    with t.case("disconnect stops every channel at Google (channels.stop) and the rows go"):
        live = {x[1] for x in live_rows()}
        mark = len(g.request_log())
        r = A.cgi("DELETE", f"/api/doctor/calendar-integrations/{IID}", headers={"Authorization": "Bearer " + TOKEN})
        assert r.status in (200, 204), r
        stopped = {x["body"]["id"] for x in g.request_log(since=mark) if x["path"].endswith("/channels/stop")}
        assert stopped == live, (stopped, live)
        assert not fake_channels()
        assert count(f"SELECT COUNT(*) FROM google_channels WHERE integration_id = {IID}") == 0
else:
    t.skip("disconnect stops every channel", "sync.c's disconnect does not call channels_stop_all yet")

with t.case("no sanitizer report and no token in any app answer or log"):
    toks = [c["token"] for c in g.channel_list()]
    for resp in A.responses:
        assert not sanitizer_trouble(resp.stderr), resp.stderr[-2000:]
        for x in toks:
            assert x not in resp.stderr and x not in resp.body

finish()
t.done()
