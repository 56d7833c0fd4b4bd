#!/usr/bin/env python3
"""test_google_http.py: Google Calendar end to end through nginx + spawn-fcgi, real MariaDB, the fake Google (tests/fakes/google.py), the SMTP sink and the built tf-sync / tf-remind / tf-renew (TAP).

The stack (tests/lib/stack.py, google=True) points the app at the fake; BASE_URL is nginx's address,
so the fake's push sender reaches the webhook through nginx. Connecting: the card's form (303 to the
fake's authorization URL), the fake's German consent page, "Zulassen" posted with http.client
(redirects followed by hand), Google's redirect to the callback through nginx, 303 to the page with
the Google card connected. Pull: five busy events read over several pages (page_sizes knob). Push: a
booking pushed by tf-sync (no patient field in any request the fake received), a video booking with a
Meet link on the appointment and in the confirmation mail. Push channels: the fake's "exists"
notification through nginx syncs the connection (a new busy block without tf-sync), a forged token
403, an unknown channel 404; a 410 on the sync token → full resync, the deleted event's block gone.
Rate limits (429 with Retry-After, 403 userRateLimitExceeded) retried. tf-renew (channel_max_ttl knob:
channels expire within 48 h): new channel first, then the old one stopped. kill -9 during an insert,
re-run: one event. Disconnect: channels stopped, the grant revoked. No token in any log.
"""
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import Tap  # noqa: E402
from httpc import Client, security_header_problems  # noqa: E402
from provider_setup import (StackRunner, approve_consent, assert_not_logged, oauth_paths, run_stack_test,  # noqa: E402
                            stack_logs, wait_for)

t = Tap()
TZ = zoneinfo.ZoneInfo("Europe/Berlin")
UTC = datetime.timezone.utc
CONNECT, CALLBACK = oauth_paths("google")
HOOK = "/webhooks/calendar/google"
ACCOUNT = "ana@example.com"
PATIENT = "Gisela Google-Patientin"
PATIENT_MAIL = "gisela.patientin@example.org"
ERR = []          # stderr of every tool run, checked for secrets at the end


class Runner(StackRunner):
    PATIENT = PATIENT
    PATIENT_MAIL = PATIENT_MAIL

    def __init__(self, st):
        super().__init__(st, ERR)
        self.g = st.google
        self.gport = urllib.parse.urlsplit(st.google_url).port
        self.gcl = Client(self.gport, timeout=60)

    def ours(self, cal, appt):
        return [e for e in self.g.events(ACCOUNT, cal) if e.get("status") != "cancelled" and
                (e.get("extendedProperties") or {}).get("private", {}).get("appointmentId") == str(appt)]


def events_path(entry):
    """Whether a logged request went to the primary calendar's events collection (the path as sent,
    percent-encoded or not)."""
    return urllib.parse.unquote(entry["path"]) == f"/calendar/v3/calendars/{ACCOUNT}/events"


def busy_event(g, cal, day_offset, hour, summary="Privat"):
    start = datetime.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + datetime.timedelta(days=day_offset)
    start = start.replace(hour=hour)
    return g.create_event(ACCOUNT, cal, {"summary": summary, "start": {"dateTime": start.isoformat()},
                                         "end": {"dateTime": (start + datetime.timedelta(hours=1)).isoformat()}})


def main(st, seen):
    R = Runner(st)
    g = st.google
    seen["bearer token"] = R.token
    g.set_knobs(consent="page", channel_max_ttl=3600, retry_after=1, page_sizes=[2])
    R.login()
    seen["session cookie"] = R.jar["tf_session"]
    # five busy events in the primary calendar before the first sync: read over pages of two
    first_busy = [busy_event(g, ACCOUNT, 10 + i, 9 + i) for i in range(5)]

    # ------------------------------------------------------------------ connecting through the consent page
    with t.case("the Google card offers 'Mit Google verbinden'; the CSP lets that form reach the fake's origin only"):
        r = R.page()
        b = r.text
        assert f'action="{CONNECT}"' in b and "Mit Google verbinden" in b, b[:3000]
        assert not security_header_problems(r, True, form_origins=[st.google_url]), security_header_problems(
            r, True, form_origins=[st.google_url])
        assert f"form-action 'self' {st.google_url};" in r.header("Content-Security-Policy")

    with t.case("connect form → 303 to the fake's authorization URL (S256, offline, consent, narrow scopes)"):
        r = R.cl.request("POST", CONNECT, body={"csrf_token": R.csrf}, cookies=R.jar)
        assert r.status == 303, r
        auth = r.header("Location")
        assert auth.startswith(st.google_url + "/o/oauth2/v2/auth?"), auth
        qs = urllib.parse.parse_qs(urllib.parse.urlsplit(auth).query)
        assert qs["code_challenge_method"] == ["S256"] and qs["access_type"] == ["offline"], qs
        assert qs["prompt"] == ["consent"] and qs["redirect_uri"] == [st.base_url + CALLBACK], qs
        scopes = qs["scope"][0].split()
        assert "https://www.googleapis.com/auth/calendar" not in scopes, scopes
        state = qs["state"][0]
        seen["oauth state"] = state

    with t.case("the fake's consent page (German, 'Zulassen'); posting it redirects to the callback with a code"):
        back = approve_consent(R.gcl, auth, ACCOUNT, "submit_access", st.base_url + CALLBACK)
        seen["authorization code"] = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["code"][0]

    with t.case("the callback through nginx → 303 to the page; the Google card shows the account, 'aktiv'"):
        integ = R.callback(back)
        b = R.page("?ok=connected").text
        assert "Der Kalender wurde verbunden." in b
        card = b[b.index("provider-google"):b.index("provider-outlook")]
        assert f'id="verbindung-{integ}"' in card and ACCOUNT in card and ">aktiv<" in card, card[:3000]
        assert R.sql(f"SELECT provider, account_email, sync_status FROM calendar_integrations WHERE id = {integ}") == \
            f"google\t{ACCOUNT}\tactive"
        assert not R.count("SELECT COUNT(*) FROM oauth_states")
        recv = R.sql(f"SELECT remote_id FROM integration_calendars WHERE integration_id = {integ}"
                     f" AND receives_appointments = 1")
        assert recv == ACCOUNT, recv

    # ------------------------------------------------------------------ first sync: pages, channels
    with t.case("tf-sync: the five busy events over several pages become busy blocks"):
        n0 = len(g.request_log())
        r = R.sync(integ)
        assert r.returncode == 0, r.stderr[-3000:]
        lists = [x for x in g.request_log(since=n0) if x["method"] == "GET" and
                 events_path(x)]
        assert sum(1 for x in lists if "pageToken" in x["query"]) >= 2, [x["query"] for x in lists]
        assert R.busy_blocks(integ) >= 5, R.busy_blocks(integ)
        g.set_knobs(page_sizes=None)

    with t.case("after the pull every blocking calendar has a push channel to BASE_URL/webhooks/calendar/google"):
        blocking = R.count(f"SELECT COUNT(*) FROM integration_calendars WHERE integration_id = {integ}"
                           f" AND blocks_availability = 1")
        chans = [c for c in g.channel_list() if c["active"]]
        assert blocking >= 1 and len(chans) == blocking, (blocking, chans)
        assert all(c["address"] == st.base_url + HOOK for c in chans), chans
        # the fake's "sync" message went through nginx and was answered 200
        ok = wait_for(lambda: len([d for d in g.delivery_log() if d["state"] == "sync" and d["status"] == 200])
                      >= blocking, 30)
        assert ok, g.delivery_log()

    # ------------------------------------------------------------------ push: booking, privacy, Meet
    with t.case("a booking → tf-sync → one event on the receiving calendar; no patient field sent to Google"):
        appt = R.book(R.free_slot())
        n0 = len(g.request_log())
        r = R.sync(integ)
        assert r.returncode == 0, r.stderr[-3000:]
        evs = R.ours(ACCOUNT, appt)
        assert len(evs) == 1, evs
        sent = json.dumps(g.request_log(since=n0))
        for s in (PATIENT, PATIENT_MAIL, "Gisela"):
            assert s not in sent, s
        assert R.sql(f"SELECT state FROM event_mappings WHERE appointment_id = {appt}") == "synced"

    with t.case("a video booking: Meet link on the appointment and in the confirmation mail"):
        g.set_knobs(meet_mode="success")
        vappt = R.book(R.free_slot(skip=2), create_meet=True, name="Viktor Video", mail="viktor@example.org")
        r = R.sync(integ)
        assert r.returncode == 0, r.stderr[-3000:]
        link = R.sql(f"SELECT IFNULL(video_link, '') FROM appointments WHERE id = {vappt}")
        assert link.startswith("https://meet.google.com/"), link
        evs = R.ours(ACCOUNT, vappt)
        assert len(evs) == 1 and evs[0].get("hangoutLink") == link, evs
        r = R.tool("tf-remind")
        assert r.returncode == 0, r.stderr[-2000:]
        mails = st.wait_mails(lambda m: "viktor@example.org" in m.to, timeout=30)
        assert mails and any(link in (m.text() or "") for m in mails), [(m.subject, m.text()) for m in mails]

    # ------------------------------------------------------------------ webhook through nginx
    with t.case("a change in Google → the fake's 'exists' push through nginx → the app syncs (new busy block)"):
        before = R.busy_blocks(integ)
        runs = R.count(f"SELECT COUNT(*) FROM sync_runs WHERE integration_id = {integ}")
        busy_event(g, ACCOUNT, 20, 10, summary="Neu in Google")
        assert wait_for(lambda: R.busy_blocks(integ) == before + 1, 60), (before, R.busy_blocks(integ),
                                                                           g.delivery_log()[-3:])
        assert R.count(f"SELECT COUNT(*) FROM sync_runs WHERE integration_id = {integ}") > runs
        assert [d for d in g.delivery_log() if d["state"] == "exists" and d["status"] == 200]
        acc = open(st.nginx_access_log, encoding="utf-8", errors="replace").read()
        assert f'"POST {HOOK} HTTP/1.1" 200' in acc, acc[-2000:]

    with t.case("webhook: a forged token → 403, an unknown channel → 404, no sync run"):
        ch = [c for c in g.channel_list() if c["active"]][0]
        runs = R.count(f"SELECT COUNT(*) FROM sync_runs WHERE integration_id = {integ}")
        h = {"X-Goog-Channel-ID": ch["id"], "X-Goog-Channel-Token": "gefaelscht-" + "x" * 30,
             "X-Goog-Resource-ID": ch["resourceId"], "X-Goog-Resource-State": "exists",
             "X-Goog-Message-Number": "99"}
        r = R.cl.request("POST", HOOK, body=b"", headers=h)
        assert r.status == 403, r
        assert ch["token"] not in r.text
        h["X-Goog-Channel-ID"] = "unbekannter-kanal-0000"
        h["X-Goog-Channel-Token"] = ch["token"]
        r = R.cl.request("POST", HOOK, body=b"", headers=h)
        assert r.status == 404, r
        time.sleep(1)
        assert R.count(f"SELECT COUNT(*) FROM sync_runs WHERE integration_id = {integ}") == runs
        seen["channel token"] = ch["token"]

    with t.case("410 on the sync token → full resync; an event deleted meanwhile loses its busy block"):
        g.expire_sync_tokens()
        n0 = len(g.request_log())
        before = R.busy_blocks(integ)
        g.delete_event(ACCOUNT, ACCOUNT, first_busy[0]["id"])
        wait_for(lambda: R.busy_blocks(integ) == before - 1, 30)
        r = R.sync(integ)
        assert r.returncode == 0, r.stderr[-3000:]
        log = [x for x in g.request_log(since=n0) if events_path(x) and x["method"] == "GET"]
        gone = [i for i, x in enumerate(log) if x["status"] == 410 and "syncToken" in x["query"]]
        assert gone, [(x["status"], sorted(x["query"])) for x in log]
        full = [x for x in log[gone[0] + 1:] if "syncToken" not in x["query"] and x["status"] == 200]
        assert full, "no full list after the 410"
        assert R.busy_blocks(integ) == before - 1, (before, R.busy_blocks(integ))

    # ------------------------------------------------------------------ rate limits
    with t.case("rate limits (429 with Retry-After, 403 userRateLimitExceeded) are retried; the run succeeds"):
        g.fail("rateLimit429", count=1)
        g.fail("userRateLimitExceeded", count=1)
        n0 = len(g.request_log())
        t0 = time.monotonic()
        r = R.sync(integ)
        took = time.monotonic() - t0
        g.clear_failures()
        assert r.returncode == 0, r.stderr[-3000:]
        log = [x for x in g.request_log(since=n0) if x["path"].startswith("/calendar/v3/")]
        codes = [x["status"] for x in log]
        assert 429 in codes and 403 in codes, codes
        assert codes[-1] == 200 or codes[-1] == 204, codes
        assert took >= 1.0, f"Retry-After: 1 not honoured ({took:.2f} s)"
        assert R.sql(f"SELECT sync_status FROM calendar_integrations WHERE id = {integ}") == "active"

    # ------------------------------------------------------------------ tf-renew
    with t.case("tf-renew (channels expire within 48 h): new channel first, then the old one stopped"):
        old = {c["id"] for c in g.channel_list() if c["active"]}
        n0 = len(g.request_log())
        r = R.tool("tf-renew")
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr[-2000:])
        m = re.search(r"^tf-renew: channels=(\d+) renewed=(\d+) failed=(\d+)$", r.stdout, re.M)
        assert m and int(m.group(1)) == len(old) and int(m.group(2)) == len(old) and m.group(3) == "0", r.stdout
        log = g.request_log(since=n0)
        watches = [i for i, x in enumerate(log) if x["path"].endswith("/events/watch")]
        stops = [i for i, x in enumerate(log) if x["path"].endswith("/channels/stop")]
        assert len(watches) == len(old) and len(stops) == len(old), [x["path"] for x in log]
        for w, s in zip(watches, stops):
            assert w < s, [x["path"] for x in log]
        now = {c["id"] for c in g.channel_list() if c["active"]}
        assert len(now) == len(old) and not (now & old), (old, now)

    with t.case("the renewed channel works: a change in Google syncs the connection through nginx"):
        before = R.busy_blocks(integ)
        busy_event(g, ACCOUNT, 21, 11, summary="Nach der Erneuerung")
        assert wait_for(lambda: R.busy_blocks(integ) == before + 1, 60), (before, R.busy_blocks(integ))

    # ------------------------------------------------------------------ kill -9 during a push
    with t.case("kill -9 while the insert is on its way; the re-run leaves exactly one event"):
        kappt = R.book(R.free_slot(skip=4), name="Karl Kill", mail="karl@example.org")
        g.set_knobs(latency_ms=1500)
        try:
            n0 = len(g.request_log())
            p = subprocess.Popen([os.path.join(st.builddir, "tf-sync"), "--integration", str(integ)],
                                 env=st.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

            def insert_seen():
                return [x for x in g.request_log(since=n0) if x["method"] == "POST" and
                        events_path(x) and
                        ((x["body"] or {}).get("extendedProperties") or {}).get("private", {})
                        .get("appointmentId") == str(kappt)]
            got = wait_for(insert_seen, 60, 0.05)
            os.kill(p.pid, signal.SIGKILL)
            _, err = p.communicate(timeout=30)
            ERR.append(err)
            assert got, "the insert never reached the fake"
            assert p.returncode == -signal.SIGKILL, p.returncode
            # the fake finishes the insert after its latency (its answer then hits a closed socket)
            assert wait_for(lambda: len(R.ours(ACCOUNT, kappt)) == 1, 15), "Google did not store the event"
        finally:
            g.set_knobs(latency_ms=0)
        assert R.sql(f"SELECT IFNULL(MAX(state), '-') FROM event_mappings WHERE appointment_id = {kappt}") != "synced"
        r = R.sync(integ)           # the re-run (see Runner.sync: a webhook sync may be running)
        assert r.returncode == 0, r.stderr[-3000:]
        assert wait_for(lambda: R.sql(f"SELECT state FROM event_mappings WHERE appointment_id = {kappt}")
                        == "synced", 30), R.sql(f"SELECT state FROM event_mappings WHERE appointment_id = {kappt}")
        assert len(R.ours(ACCOUNT, kappt)) == 1, R.ours(ACCOUNT, kappt)

    # ------------------------------------------------------------------ disconnect
    with t.case("disconnect: channels stopped, then the grant revoked at Google; the row is gone"):
        n0 = len(g.request_log())
        nchan = len([c for c in g.channel_list() if c["active"]])
        r = R.cl.request("DELETE", f"/api/doctor/calendar-integrations/{integ}", headers=R.bearer)
        assert r.status == 200, r
        log = g.request_log(since=n0)
        revokes = [i for i, x in enumerate(log) if x["path"] == "/revoke" and x["status"] == 200]
        stops = [i for i, x in enumerate(log) if x["path"].endswith("/channels/stop")]
        assert len(revokes) == 1 and len(stops) == nchan and all(s < revokes[0] for s in stops), \
            [(x["path"], x["status"]) for x in log]
        assert not [c for c in g.channel_list() if c["active"]], g.channel_list()
        assert R.count(f"SELECT COUNT(*) FROM calendar_integrations WHERE id = {integ}") == 0
        assert R.count(f"SELECT COUNT(*) FROM google_channels WHERE integration_id = {integ}"
                       f" AND stopped_at IS NULL") == 0

    with t.case("no token, code, state or secret in the app's log, nginx's logs or the tools' stderr"):
        logs = stack_logs(st, ERR)
        seen["secret key"] = st.secret_key
        seen["encryption key"] = st.encryption_key
        seen["client secret"] = g.client_secret
        assert_not_logged(logs, seen)
        for where, text in logs.items():
            assert "ya29." not in text and "1//" not in text, f"a Google token in {where}"
            assert "ERROR: AddressSanitizer" not in text and "runtime error:" not in text, where


def run():
    return run_stack_test(t, main, ("tf-calendar.fcgi", "tf-admin", "tf-sync", "tf-remind", "tf-renew"),
                          "tf-google-http.", caldav=False, google=True)


if __name__ == "__main__":
    sys.exit(run())
