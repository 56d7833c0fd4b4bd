#!/usr/bin/env python3
"""test_subscriptions.py: Outlook Graph subscriptions (TAP): channels / tf-renew / webhook-outlook.c against tests/fakes/microsoft.py.

A private MariaDB, the fake Microsoft Graph (with its validation POSTs, notification and lifecycle sender)
and tf-calendar.fcgi in CGI mode behind a small bridge (BASE_URL): every POST the fake makes to the
notificationUrl or lifecycleNotificationUrl runs the app as a CGI program, so the path fake -> webhook ->
sync is real. Checks: one subscription per connection (me/events, both URLs, clientState only as SHA-256,
the fake's validation of both URLs answered well within its timeout), the handshake itself, a change in
the mailbox syncs the connection after a 202, forged clientState / unknown subscription / malformed body
refused without a sync, lifecycle reauthorizationRequired (PATCH renew), subscriptionRemoved (a new
subscription, then a sync), missed (a full pull), tf-renew's 24 h window with PATCH, recreation of a
subscription that is gone, a failed renewal retried without a second subscription, disconnect deletes it.
"""
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakes"))

from tap import Tap  # noqa: E402
from cgiapp import CgiApp, sanitizer_trouble, skip_unless_ready  # noqa: E402
from provider_setup import (SECRET, BridgeHandler, CgiSetup, app_settings, built, microsoft_settings,  # noqa: E402
                            serve_bridge, wait_for)

APP, ADMIN, SYNC, RENEW = built(BUILDDIR, "tf-calendar.fcgi", "tf-admin", "tf-sync", "tf-renew")
EMAIL = "ana@contoso.com"
HOOK = "/webhooks/calendar/outlook"
LIFE = HOOK + "/lifecycle"

skip_unless_ready(APP, ADMIN, SYNC, RENEW, fernet=True)

from microsoft import FakeMicrosoft  # noqa: E402

t = Tap()

# ---------------------------------------------------------------- the bridge: BASE_URL for the fake's sender
A = None
bridge_log = []


class Bridge(BridgeHandler):
    def do_POST(self):
        body = self.body()
        path, _, query = self.path.partition("?")
        t0 = time.time()
        try:
            r = A.cgi("POST", path, query=query, body=body, ctype=self.headers.get("Content-Type") or "")
            status, ctype, out = r.status, r.header("content-type") or "", r.body.encode()
        except Exception as e:  # noqa: BLE001
            bridge_log.append(("error", path, repr(e)))
            status, ctype, out = 502, "text/plain", b""
        bridge_log.append((path, "validation" if "validationToken" in query else "post", status,
                           round(time.time() - t0, 3)))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


bridge, BASE_URL = serve_bridge(Bridge)

S = CgiSetup(t, "tf-subs-")
S.add_cleanup(bridge.shutdown)
m = FakeMicrosoft(port=0)
S.start("MariaDB or the fake Microsoft", m)
m.set_knobs(notify_batch_ms=100, notify_retry_base=0.2, notify_max_attempts=2)
DB = S.db
CONFIG = S.write_config(dict(app_settings(DB, SRCDIR, SECRET, BASE_URL, S.fernet_key, smtp=False),
                             **microsoft_settings(m)))
A = CgiApp(APP, ADMIN, CONFIG)
sql, count, tool, finish = S.sql, S.count_or_zero, S.tool, S.finish
DOC, TOKEN = S.prepare(A, ("eva",), tokens=("eva",))

# ---------------------------------------------------------------- an Outlook connection (as the callback stores it)
cals = {c["name"]: c["id"] for c in m.calendars(EMAIL)}
DEFAULT, PRAXIS = cals["Calendar"], cals["Praxis"]
IID, CAL_ID = S.connect_account(DOC, "outlook", EMAIL, m.issue_tokens(EMAIL), (
    (DEFAULT, "Calendar", 1, 1, 1), (PRAXIS, "Praxis", 1, 1, 0)))


def live_rows():
    out = sql(f"SELECT provider, IFNULL(calendar_id, 'NULL'), channel_id, token_hash, resource_id,"
              f" UNIX_TIMESTAMP(expiration), renew_requested FROM push_channels"
              f" WHERE integration_id = {IID} AND stopped_at IS NULL ORDER BY id")
    return [line.split("\t") for line in out.splitlines() if line]


def active_subs(account=EMAIL):
    return {s["id"]: s for s in m.subscription_list() if s["active"] and s["account"] == account}


def runs():
    return count(f"SELECT COUNT(*) FROM sync_runs WHERE integration_id = {IID}")


def graph_log(since, method=None, suffix=None):
    return [x for x in m.request_log(since=since, path_prefix="/v1.0/subscriptions")
            if (method is None or x["method"] == method) and (suffix is None or x["path"].endswith(suffix))]


def notify(items, path=HOOK):
    return A.cgi("POST", path, json_body={"value": items}, ctype="application/json; charset=utf-8")


def item(sub, client_state, change="updated"):
    return {"subscriptionId": sub, "subscriptionExpirationDateTime": "2030-01-01T00:00:00.0000000+00:00",
            "clientState": client_state, "changeType": change, "resource": "Users/x/Events/AAMk",
            "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": "AAMk"}}


def busy_at(start, end):
    return count(f"SELECT COUNT(*) FROM busy_blocks WHERE integration_id = {IID}"
                 f" AND start_utc = '{start:%Y-%m-%d %H:%M:%S}' AND end_utc = '{end:%Y-%m-%d %H:%M:%S}'")


def slot(days, hour):
    s = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0)
    return s, s + datetime.timedelta(hours=1)


def event(subject, start, end):
    return {"subject": subject, "showAs": "busy",
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}}


# ---------------------------------------------------------------- the subscription
with t.case("tf-renew opens one subscription for the connection (me/events); a second run has nothing to do"):
    r = tool(RENEW)
    assert r.returncode == 0 and "tf-renew: channels=1 renewed=1 failed=0" in r.stdout, (r.stdout, r.stderr[-3000:])
    r = tool(RENEW)
    assert r.returncode == 0 and "tf-renew: channels=0 renewed=0 failed=0" in r.stdout, (r.stdout, r.stderr[-3000:])
    rows = live_rows()
    assert len(rows) == 1 and rows[0][0] == "outlook" and rows[0][1] == "NULL", rows

with t.case("the row matches the fake's subscription: both URLs, me/events, clientState only as SHA-256, expiry"):
    subs = active_subs()
    assert len(subs) == 1, subs
    s = next(iter(subs.values()))
    prov, cal, chan, token_hash, sid, exp, rr = live_rows()[0]
    assert s["id"] == sid and s["resource"] == "me/events", (s, sid)
    assert s["notificationUrl"] == BASE_URL + HOOK and s["lifecycleNotificationUrl"] == BASE_URL + LIFE, s
    assert s["changeType"] == "created,updated,deleted", s
    cs = s["clientState"]
    assert len(cs) >= 43 and hashlib.sha256(cs.encode()).hexdigest() == token_hash, s
    assert cs not in sql("SELECT GROUP_CONCAT(token_hash, channel_id, resource_id) FROM push_channels")
    fake_exp = datetime.datetime.strptime(s["expirationDateTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    assert abs(int(exp) - fake_exp) <= 1 and fake_exp > time.time() + 6 * 86400, (exp, s)
    SUB, CS = sid, cs

with t.case("the fake's validation POSTs to both URLs were answered 200 text/plain with the token, well within 10 s"):
    v = [d for d in m.delivery_log() if d["kind"] == "validation"]
    assert {d["url"] for d in v} == {BASE_URL + HOOK, BASE_URL + LIFE}, v
    assert all(d["ok"] and d["status"] == 200 and d["seconds"] < 5 for d in v), v

with t.case("the handshake itself: ?validationToken= on both URLs → 200 text/plain, exactly the decoded token"):
    tokq = "Validation%3a+Testing+client+application+reachability+for+subscription+Request-Id%3a+4f3c-9a"
    want = "Validation: Testing client application reachability for subscription Request-Id: 4f3c-9a"
    for path in (HOOK, LIFE):
        r = A.cgi("POST", path, query="validationToken=" + tokq, body=b"", ctype="text/plain; charset=utf-8")
        assert r.status == 200 and r.header("content-type").startswith("text/plain"), r
        assert r.body == want, r.body
        assert r.header("x-content-type-options") == "nosniff" and not r.cookie("tf_csrf"), r
    assert A.cgi("POST", HOOK, query="validationToken=a%0Db", body=b"", ctype="text/plain").status == 400
    assert A.cgi("POST", HOOK, query="validationToken=" + "a" * 1100, body=b"", ctype="text/plain").status == 400
    assert A.cgi("GET", HOOK, query="validationToken=x").status == 405

# ---------------------------------------------------------------- notifications
with t.case("a change in the mailbox: the fake's notification → 202, then the sync stores the busy block"):
    n0 = runs()
    start, end = slot(3, 9)
    m.create_event(EMAIL, event("Zahnarzt privat", start, end), cal_id=PRAXIS)
    assert wait_for(lambda: busy_at(start, end) == 1, 60), (bridge_log[-5:], m.delivery_log()[-3:])
    assert runs() > n0
    d = [x for x in m.delivery_log() if x["kind"] == "notification"]
    assert d and d[-1]["status"] == 202 and d[-1]["body"]["value"][0]["subscriptionId"] == SUB, d[-1:]

with t.case("the answer goes out before the sync: stdout is complete while the sync still runs"):
    m.set_knobs(latency_ms=400)
    env = {k: os.environ[k] for k in ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS") if k in os.environ}
    body = json.dumps({"value": [item(SUB, CS)]}).encode()
    env.update({"TF_CONFIG": CONFIG, "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "PATH_INFO": HOOK,
                "REQUEST_URI": HOOK, "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json; charset=utf-8",
                "REMOTE_ADDR": "127.0.0.1"})
    n0 = runs()
    t0 = time.time()
    p = subprocess.Popen([APP], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(body)
    p.stdin.close()
    out = p.stdout.read()
    t_answer = time.time() - t0
    err = p.stderr.read()
    p.wait(timeout=120)
    t_exit = time.time() - t0
    m.set_knobs(latency_ms=0)
    assert out.startswith(b"Status: 202"), out[:300]
    assert p.returncode == 0 and not sanitizer_trouble(err.decode("utf-8", "replace")), err[-2000:]
    assert runs() == n0 + 1, (runs(), n0)
    assert t_exit - t_answer >= 0.7, (t_answer, t_exit)   # two delta requests at 400 ms came after

with t.case("a forged clientState → 403 and no sync; unknown subscription → 404; a bad body → 400"):
    n0 = runs()
    r = notify([item(SUB, "x" * 43)])
    assert r.status == 403 and r.header("content-type").startswith("application/json"), r
    assert "clientstate" not in r.body.lower() and not r.cookie("tf_csrf"), r
    assert notify([item(SUB, CS[:-1])]).status == 403
    assert notify([{k: v for k, v in item(SUB, CS).items() if k != "clientState"}]).status == 403
    assert notify([item("0bd4b9b3-0000-4000-8000-000000000000", CS)]).status == 404
    assert notify([item("../../etc", CS)]).status == 404
    assert notify([]).status == 400
    assert A.cgi("POST", HOOK, json_body={"nothing": 1}).status == 400
    assert A.cgi("POST", HOOK, body=b"{not json", ctype="application/json").status == 400
    assert runs() == n0, (runs(), n0)

with t.case("a batch with a forged and a good item: 202, the connection synced once"):
    n0 = runs()
    r = notify([item(SUB, "forged-" + "y" * 36), item(SUB, CS, "created"), item(SUB, CS, "deleted")])
    assert r.status == 202, r
    assert runs() == n0 + 1, (runs(), n0)

with t.case("one POST naming two connections' subscriptions: 202, both connections synced after the answer"):
    other = "bo@contoso.com"
    m.add_account(other, "Bo Beispiel", kind="personal")
    ocal = next(c["id"] for c in m.calendars(other) if c["name"] == "Calendar")
    IID2, _ = S.connect_account(DOC, "outlook", other, m.issue_tokens(other), ((ocal, "Calendar", 1, 1, 0),))
    r = tool(RENEW)
    assert r.returncode == 0 and "tf-renew: channels=1 renewed=1 failed=0" in r.stdout, (r.stdout, r.stderr[-3000:])
    osub = next(iter(active_subs(other).values()))
    n1, n2 = runs(), count(f"SELECT COUNT(*) FROM sync_runs WHERE integration_id = {IID2}")
    r = notify([item(SUB, CS), item(osub["id"], osub["clientState"], "created"), item(SUB, CS, "deleted")])
    assert r.status == 202, r
    assert runs() == n1 + 1 and count(f"SELECT COUNT(*) FROM sync_runs WHERE integration_id = {IID2}") == n2 + 1
    # and each connection's subscription only with its own clientState
    assert notify([item(osub["id"], CS)]).status == 403

with t.case("a batch over 64 KiB (Graph batches notifications): 202 and one sync; over 1 MiB → 413, nothing synced"):
    n0 = runs()
    batch = [item(SUB, CS, "updated") for _ in range(300)]
    body = json.dumps({"value": batch}).encode()
    assert 64 * 1024 < len(body) < 1024 * 1024, len(body)
    r = A.cgi("POST", HOOK, body=body, ctype="application/json")
    assert r.status == 202, r
    assert runs() == n0 + 1, (runs(), n0)
    big = json.dumps({"value": [item(SUB, CS)] * 3000}).encode()
    assert len(big) > 1024 * 1024, len(big)
    r = A.cgi("POST", HOOK, body=big, ctype="application/json")
    assert r.status == 413, r
    assert runs() == n0 + 1, (runs(), n0)
    # other routes keep the 64 KiB limit
    r = A.cgi("POST", "/api/appointments", body=body, ctype="application/json")
    assert r.status == 413, r

# ---------------------------------------------------------------- lifecycle events
with t.case("lifecycle reauthorizationRequired → 202, the subscription renewed (PATCH) after the answer, then a sync"):
    n0 = runs()
    mark = len(m.request_log())
    old_exp = int(live_rows()[0][5])
    time.sleep(1.1)   # the renewed expiry is later by at least a second
    assert m.lifecycle("reauthorizationRequired", SUB) == 1
    assert wait_for(lambda: graph_log(mark, "PATCH") and runs() > n0 and
                    any(x["kind"] == "lifecycle" for x in m.delivery_log()), 60), (bridge_log[-5:], m.delivery_log()[-2:])
    d = [x for x in m.delivery_log() if x["kind"] == "lifecycle"]
    assert d[-1]["status"] == 202 and d[-1]["body"]["value"][0]["lifecycleEvent"] == "reauthorizationRequired", d[-1:]
    assert not graph_log(mark, "POST"), graph_log(mark)   # no new subscription
    rows = live_rows()
    assert len(rows) == 1 and rows[0][4] == SUB and rows[0][6] == "0" and int(rows[0][5]) > old_exp, (rows, old_exp)
    assert not active_subs()[SUB]["reauthorizationRequired"]

with t.case("lifecycle subscriptionRemoved → a new subscription (validated again), the old row stopped, then a sync"):
    n0 = runs()
    mark = len(m.request_log())
    assert m.lifecycle("subscriptionRemoved", SUB) == 1
    assert wait_for(lambda: len(active_subs()) == 1 and runs() > n0, 60), (bridge_log[-5:], m.delivery_log()[-2:])
    assert graph_log(mark, "POST") and not graph_log(mark, "DELETE"), graph_log(mark)
    rows = live_rows()
    new_sub = next(iter(active_subs()))
    assert len(rows) == 1 and rows[0][4] == new_sub != SUB, (rows, new_sub)
    assert sql(f"SELECT stopped_at IS NOT NULL FROM push_channels WHERE resource_id = '{SUB}'") == "1"
    # the sync ran after the new subscription existed (fills the gap)
    post_t = graph_log(mark, "POST")[0]["time"]
    assert any(x["time"] > post_t for x in m.request_log(since=mark, path_prefix="/v1.0/me/calendars/")), \
        m.request_log(since=mark)
    # the old subscription's notifications are refused now
    assert notify([item(SUB, CS)]).status == 404
    SUB, CS = new_sub, active_subs()[new_sub]["clientState"]

with t.case("lifecycle missed → 202, the cursors cleared and a full pull (no deltatoken) after the answer"):
    tool(SYNC, "--integration", str(IID))
    assert count(f"SELECT COUNT(*) FROM integration_calendars WHERE integration_id = {IID}"
                 f" AND sync_token IS NOT NULL") == 2
    n0 = runs()
    mark = len(m.request_log())
    assert m.lifecycle("missed", SUB) == 1
    assert wait_for(lambda: runs() > n0, 60), (bridge_log[-5:], m.delivery_log()[-2:])
    delta = [x for x in m.request_log(since=mark) if x["path"].endswith("/calendarView/delta")]
    assert delta and not any("$deltatoken" in x["query"] for x in delta), delta
    assert len(active_subs()) == 1 and len(live_rows()) == 1

with t.case("lifecycle with a forged clientState: refused (403), nothing renewed"):
    mark = len(m.request_log())
    r = notify([{"subscriptionId": SUB, "clientState": "nope", "lifecycleEvent": "subscriptionRemoved"}], LIFE)
    assert r.status == 403, r
    assert notify([{"subscriptionId": SUB, "clientState": CS, "lifecycleEvent": "bogus"}], LIFE).status == 404
    assert len(live_rows()) == 1 and live_rows()[0][4] == SUB and not graph_log(mark)

# ---------------------------------------------------------------- tf-renew
with t.case("tf-renew: a subscription expiring within 24 h is renewed in place (PATCH), one beyond is left"):
    sql(f"UPDATE push_channels SET expiration = UTC_TIMESTAMP() + INTERVAL 30 HOUR WHERE resource_id = '{SUB}'")
    r = tool(RENEW)
    assert r.returncode == 0 and "tf-renew: channels=0 renewed=0 failed=0" in r.stdout, (r.stdout, r.stderr[-3000:])
    sql(f"UPDATE push_channels SET expiration = UTC_TIMESTAMP() + INTERVAL 10 HOUR WHERE resource_id = '{SUB}'")
    mark = len(m.request_log())
    r = tool(RENEW)
    assert r.returncode == 0 and "tf-renew: channels=1 renewed=1 failed=0" in r.stdout, (r.stdout, r.stderr[-3000:])
    log = graph_log(mark)
    assert [x["method"] for x in log] == ["PATCH"] and log[0]["path"].endswith("/" + SUB), log
    rows = live_rows()
    assert len(rows) == 1 and rows[0][4] == SUB and int(rows[0][5]) > time.time() + 6 * 86400, rows

with t.case("tf-renew: a renewal that fails (503) is counted, no second subscription; the next run renews"):
    sql(f"UPDATE push_channels SET expiration = UTC_TIMESTAMP() + INTERVAL 5 HOUR WHERE resource_id = '{SUB}'")
    m.fail("serviceNotAvailable", count=20, path_prefix="/v1.0/subscriptions", method="PATCH")
    m.set_knobs(retry_after="0.05")
    mark = len(m.request_log())
    r = tool(RENEW)
    m.clear_failures()
    assert r.returncode == 1 and "tf-renew: channels=1 renewed=0 failed=1" in r.stdout, (r.stdout, r.stderr[-3000:])
    assert not graph_log(mark, "POST") and len(active_subs()) == 1, graph_log(mark)
    r = tool(RENEW)
    assert r.returncode == 0 and "tf-renew: channels=1 renewed=1 failed=0" in r.stdout, (r.stdout, r.stderr[-3000:])
    assert live_rows()[0][4] == SUB

with t.case("tf-renew: a subscription that is gone (404 on PATCH) is recreated; the old row stopped"):
    m.expire_subscriptions(SUB)
    sql(f"UPDATE push_channels SET expiration = UTC_TIMESTAMP() + INTERVAL 1 HOUR WHERE resource_id = '{SUB}'")
    mark = len(m.request_log())
    r = tool(RENEW)
    assert r.returncode == 0 and "tf-renew: channels=1 renewed=1 failed=0" in r.stdout, (r.stdout, r.stderr[-3000:])
    assert [x["method"] for x in graph_log(mark)] == ["PATCH", "POST"], graph_log(mark)
    subs = active_subs()
    rows = live_rows()
    assert len(subs) == 1 and len(rows) == 1 and rows[0][4] in subs and rows[0][4] != SUB, (subs, rows)
    assert sql(f"SELECT stopped_at IS NOT NULL FROM push_channels WHERE resource_id = '{SUB}'") == "1"
    SUB = rows[0][4]

with t.case("tf-sync keeps the subscription (nothing opened while it lives)"):
    mark = len(m.request_log())
    r = tool(SYNC, "--integration", str(IID))
    assert r.returncode == 0, r.stderr[-3000:]
    assert not graph_log(mark) and len(live_rows()) == 1, graph_log(mark)

with t.case("tf-renew deletes rows of channels stopped more than 30 days ago, keeps younger ones"):
    stopped = count(f"SELECT COUNT(*) FROM push_channels WHERE integration_id = {IID} AND stopped_at IS NOT NULL")
    assert stopped >= 2, stopped
    oldest = sql(f"SELECT MIN(id) FROM push_channels WHERE integration_id = {IID} AND stopped_at IS NOT NULL")
    sql(f"UPDATE push_channels SET stopped_at = UTC_TIMESTAMP() - INTERVAL 31 DAY WHERE id = {oldest}")
    r = tool(RENEW)
    assert r.returncode == 0, (r.stdout, r.stderr[-3000:])
    assert count(f"SELECT COUNT(*) FROM push_channels WHERE id = {oldest}") == 0
    assert count(f"SELECT COUNT(*) FROM push_channels WHERE integration_id = {IID} AND stopped_at IS NOT NULL") \
        == stopped - 1
    assert len(live_rows()) == 1

with t.case("disconnect deletes the subscription at Graph and the rows go"):
    mark = len(m.request_log())
    r = A.cgi("DELETE", f"/api/doctor/calendar-integrations/{IID}", headers={"Authorization": "Bearer " + TOKEN})
    assert r.status in (200, 204), r
    assert [x["path"] for x in graph_log(mark, "DELETE")] == ["/v1.0/subscriptions/" + SUB], graph_log(mark)
    assert not active_subs()
    assert count(f"SELECT COUNT(*) FROM push_channels WHERE integration_id = {IID}") == 0

with t.case("no sanitizer report and no clientState in any app answer or log"):
    secrets_ = [s["clientState"] for s in m.subscription_list()]
    for resp in A.responses:
        assert not sanitizer_trouble(resp.stderr), resp.stderr[-2000:]
        for x in secrets_:
            assert x not in resp.stderr and x not in resp.body

finish()
t.done()
