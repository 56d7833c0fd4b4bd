#!/usr/bin/env python3
"""test_outlook_http.py: Outlook end to end through nginx + spawn-fcgi, real MariaDB, the fake Microsoft (tests/fakes/microsoft.py) and the built tf-sync (TAP).

The stack (tests/lib/stack.py, microsoft=True) points the app at the fake; BASE_URL is nginx's address, so
the fake's validation POSTs, change notifications and lifecycle events reach the app's webhook through
nginx. Connecting: the card's form (303 to the fake's /common/oauth2/v2.0/authorize), the fake's German
consent page, "Zulassen" posted with http.client (redirects followed by hand), the redirect to the callback
through nginx, 303 to the page with the Outlook card connected. The subscription (me/events) is created
with both URLs under BASE_URL: the fake's validation POSTs to both went through nginx and were echoed.
Push: a booking pushed by tf-sync (transactionId, no patient field in any request the fake received), a
video booking with a Teams link on the appointment (work account). Webhook: a change in the mailbox →
the fake's notification through nginx → a sync (new busy block) without tf-sync; a forged clientState
403, no sync. kill -9 during the POST of an event, re-run: exactly one event. A personal account
(reconnected after the work one is removed): a video booking gets its event and no link, cleanly.
"""
import datetime
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import Tap  # noqa: E402
from httpc import Client  # noqa: E402
from provider_setup import (StackRunner, approve_consent, assert_not_logged, oauth_paths, run_stack_test,  # noqa: E402
                            stack_logs, wait_for)

t = Tap()
UTC = datetime.timezone.utc
CONNECT, CALLBACK = oauth_paths("outlook")
HOOK = "/webhooks/calendar/outlook"
WORK = "ana@contoso.com"
PERSONAL = "paul.privat@outlook.com"
PATIENT = "Olga Outlook-Patientin"
PATIENT_MAIL = "olga.patientin@example.org"
ERR = []          # stderr of every tool run, checked for secrets at the end


class Runner(StackRunner):
    PATIENT = PATIENT
    PATIENT_MAIL = PATIENT_MAIL

    def __init__(self, st):
        super().__init__(st, ERR)
        self.m = st.microsoft
        self.mcl = Client(urllib.parse.urlsplit(st.microsoft_url).port, timeout=60)

    def connect(self, account, seen):
        """The whole dance by hand: connect form, the fake's consent page, "Zulassen", the callback through
        nginx. Returns the new connection's id."""
        r = self.cl.request("POST", CONNECT, body={"csrf_token": self.csrf}, cookies=self.jar)
        assert r.status == 303, r
        auth = r.header("Location")
        assert auth.startswith(self.st.microsoft_url + "/common/oauth2/v2.0/authorize?"), auth
        qs = urllib.parse.parse_qs(urllib.parse.urlsplit(auth).query)
        assert qs["code_challenge_method"] == ["S256"] and qs["redirect_uri"] == [self.st.base_url + CALLBACK], qs
        assert sorted(qs["scope"][0].split()) == ["Calendars.ReadWrite", "User.Read", "offline_access"], qs["scope"]
        seen["oauth state " + account] = qs["state"][0]
        back = approve_consent(self.mcl, auth, account, "accept", self.st.base_url + CALLBACK, hidden_only=True)
        seen["authorization code " + account] = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["code"][0]
        return self.callback(back)

    def receiving(self, integ):
        return self.sql(f"SELECT remote_id FROM integration_calendars WHERE integration_id = {integ}"
                        f" AND receives_appointments = 1")

    def ours(self, account, cal, appt):
        return [e for e in self.m.events(account, cal) if (e.get("transactionId") or "").endswith(f"-{appt}")]

    def runs(self, integ):
        return self.count(f"SELECT COUNT(*) FROM sync_runs WHERE integration_id = {integ}")


def busy_event(m, account, cal, day_offset, hour, subject="Privat"):
    start = (datetime.datetime.now(UTC) + datetime.timedelta(days=day_offset)).replace(
        hour=hour, minute=0, second=0, microsecond=0)
    fmt = "%Y-%m-%dT%H:%M:%S"
    return m.create_event(account, {"subject": subject, "showAs": "busy",
                                    "start": {"dateTime": start.strftime(fmt), "timeZone": "UTC"},
                                    "end": {"dateTime": (start + datetime.timedelta(hours=1)).strftime(fmt),
                                            "timeZone": "UTC"}}, cal_id=cal)


def main(st, seen):
    R = Runner(st)
    m = st.microsoft
    seen["bearer token"] = R.token
    m.set_knobs(consent="page", retry_after="0.2")
    R.login()
    seen["session cookie"] = R.jar["tf_session"]

    # ------------------------------------------------------------------ connecting through the consent page
    with t.case("the Outlook card offers 'Mit Outlook verbinden'; its form posts to the connect endpoint"):
        b = R.page().text
        card = b[b.index("provider-outlook"):]
        assert f'action="{CONNECT}"' in card and "Mit Outlook verbinden" in card, card[:3000]

    with t.case("connect → the fake's consent page → 'Zulassen' → callback through nginx → Outlook card 'aktiv'"):
        integ = R.connect(WORK, seen)
        b = R.page("?ok=connected").text
        assert "Der Kalender wurde verbunden." in b
        card = b[b.index("provider-outlook"):]
        assert f'id="verbindung-{integ}"' in card and WORK in card and ">aktiv<" in card, card[:3000]
        assert R.sql(f"SELECT provider, account_email, sync_status FROM calendar_integrations WHERE id = {integ}") == \
            f"outlook\t{WORK}\tactive"
        tok = [x for x in m.request_log(path_prefix="/common/oauth2/v2.0/token")
               if (x["body"] or {}).get("grant_type") in (["authorization_code"], "authorization_code")]
        assert len(tok) == 1 and tok[0]["status"] == 200 and "code_verifier" in tok[0]["body"], tok

    # ------------------------------------------------------------------ first sync: subscription, validation
    with t.case("tf-sync: the subscription (me/events) is created; the validation POSTs went through nginx"):
        cal = R.receiving(integ)
        assert cal, "no receiving calendar"
        busy_event(m, WORK, cal, 10, 9)
        r = R.sync(integ)
        assert r.returncode == 0, r.stderr[-3000:]
        subs = [s for s in m.subscription_list() if s["active"] and s["account"] == WORK]
        assert len(subs) == 1, m.subscription_list()
        sub = subs[0]
        assert sub["notificationUrl"] == st.base_url + HOOK, sub
        assert sub["lifecycleNotificationUrl"] == st.base_url + HOOK + "/lifecycle", sub
        assert sub["resource"] in ("me/events", "/me/events"), sub
        vals = [d for d in m.delivery_log() if d["kind"] == "validation"]
        for url in (st.base_url + HOOK, st.base_url + HOOK + "/lifecycle"):
            ok = [d for d in vals if d["url"] == url and d["ok"] and d["status"] == 200]
            assert ok and all(d["seconds"] < 10 for d in ok), vals
        acc = open(st.nginx_access_log, encoding="utf-8", errors="replace").read()
        assert f'"POST {HOOK} HTTP/1.1" 200' in acc and f'"POST {HOOK}/lifecycle HTTP/1.1" 200' in acc, acc[-2000:]
        assert "validationToken" not in acc, "the validation token in nginx's log"
        assert R.busy_blocks(integ) >= 1, R.busy_blocks(integ)
        seen["client state"] = sub["clientState"]

    # ------------------------------------------------------------------ push: transactionId, privacy, Teams
    with t.case("a booking → tf-sync → one event with transactionId; no patient field sent to Microsoft"):
        appt = R.book(R.free_slot())
        n0 = len(m.request_log())
        r = R.sync(integ)
        assert r.returncode == 0, r.stderr[-3000:]
        evs = R.ours(WORK, cal, appt)
        assert len(evs) == 1, R.m.events(WORK, cal)
        posts = [x for x in m.request_log(since=n0) if x["method"] == "POST" and x["path"].endswith("/events")]
        assert len(posts) == 1 and (posts[0]["body"] or {}).get("transactionId") == evs[0]["transactionId"], posts
        sent = json.dumps(m.request_log(since=n0))
        for s in (PATIENT, PATIENT_MAIL, "Olga"):
            assert s not in sent, s
        assert R.sql(f"SELECT state FROM event_mappings WHERE appointment_id = {appt}") == "synced"

    with t.case("a video booking (work account): Teams link on the event and stored on the appointment"):
        vappt = R.book(R.free_slot(skip=2), create_meet=True, name="Viktor Video", mail="viktor@example.org")
        r = R.sync(integ)
        assert r.returncode == 0, r.stderr[-3000:]
        link = R.sql(f"SELECT IFNULL(video_link, '') FROM appointments WHERE id = {vappt}")
        evs = R.ours(WORK, cal, vappt)
        assert len(evs) == 1 and evs[0].get("isOnlineMeeting") is True, evs
        assert link.startswith("https://teams.microsoft.com/") and evs[0]["onlineMeeting"]["joinUrl"] == link, link

    # ------------------------------------------------------------------ webhook through nginx
    with t.case("a change in the mailbox → the fake's notification through nginx (202) → a sync, new busy block"):
        before = R.busy_blocks(integ)
        runs = R.runs(integ)
        n0 = len(m.delivery_log())
        busy_event(m, WORK, cal, 20, 10, subject="Neu in Outlook")
        assert wait_for(lambda: R.busy_blocks(integ) == before + 1, 60), (before, R.busy_blocks(integ),
                                                                           m.delivery_log()[-3:])
        assert R.runs(integ) > runs
        notes = [d for d in m.delivery_log()[n0:] if d["kind"] == "notification" and d["url"] == st.base_url + HOOK]
        assert notes and all(d["status"] == 202 for d in notes), notes

    with t.case("webhook: a forged clientState → 403, no sync run; an unknown subscription → 404"):
        runs = R.runs(integ)
        item = {"subscriptionId": sub["id"], "clientState": "gefaelscht-" + "x" * 30, "changeType": "created",
                "resource": "Users/x/Events/y", "tenantId": "t"}
        r = R.cl.request("POST", HOOK, json_body={"value": [item]})
        assert r.status == 403, r
        assert sub["clientState"] not in r.text
        item.update(subscriptionId="00000000-0000-0000-0000-000000000000", clientState=sub["clientState"])
        r = R.cl.request("POST", HOOK, json_body={"value": [item]})
        assert r.status == 404, r
        time.sleep(1)
        assert R.runs(integ) == runs, (runs, R.runs(integ))

    # ------------------------------------------------------------------ kill -9 during a push
    with t.case("kill -9 while the POST of the event is on its way; the re-run leaves exactly one event"):
        kappt = R.book(R.free_slot(skip=4), name="Karl Kill", mail="karl@example.org")
        m.set_knobs(latency_ms=1500)
        try:
            n0 = len(m.request_log())
            p = subprocess.Popen([os.path.join(st.builddir, "tf-sync"), "--integration", str(integ)],
                                 env=st.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

            def post_seen():
                return [x for x in m.request_log(since=n0) if x["method"] == "POST" and
                        x["path"].endswith("/events") and
                        ((x["body"] or {}).get("transactionId") or "").endswith(f"-{kappt}")]
            got = wait_for(post_seen, 60, 0.05)
            os.kill(p.pid, signal.SIGKILL)
            _, err = p.communicate(timeout=30)
            ERR.append(err)
            assert got, "the POST never reached the fake"
            assert p.returncode == -signal.SIGKILL, p.returncode
            assert wait_for(lambda: len(R.ours(WORK, cal, kappt)) == 1, 15), "the fake did not store the event"
        finally:
            m.set_knobs(latency_ms=0)
        assert R.sql(f"SELECT IFNULL(MAX(state), '-') FROM event_mappings WHERE appointment_id = {kappt}") != "synced"
        r = R.sync(integ)
        assert r.returncode == 0, r.stderr[-3000:]
        assert wait_for(lambda: R.sql(f"SELECT state FROM event_mappings WHERE appointment_id = {kappt}")
                        == "synced", 30), R.sql(f"SELECT state FROM event_mappings WHERE appointment_id = {kappt}")
        assert len(R.ours(WORK, cal, kappt)) == 1, R.ours(WORK, cal, kappt)

    # ------------------------------------------------------------------ personal account: no Teams, clean
    with t.case("a personal account (after the work one is removed): video booking → event, no link, synced"):
        r = R.cl.request("DELETE", f"/api/doctor/calendar-integrations/{integ}", headers=R.bearer)
        assert r.status == 200, r
        assert not [s for s in m.subscription_list() if s["active"] and s["account"] == WORK], m.subscription_list()
        m.add_account(PERSONAL, "Paul Privat", kind="personal", mail=False)
        m.set_knobs(account_email=PERSONAL)
        pinteg = R.connect(PERSONAL, seen)
        assert R.sql(f"SELECT provider, account_email, sync_status FROM calendar_integrations"
                     f" WHERE id = {pinteg}") == f"outlook\t{PERSONAL}\tactive"
        pcal = R.receiving(pinteg)
        pappt = R.book(R.free_slot(skip=6), create_meet=True, name="Petra Privat", mail="petra@example.org")
        r = R.sync(pinteg)
        assert r.returncode == 0, r.stderr[-3000:]
        evs = R.ours(PERSONAL, pcal, pappt)
        assert len(evs) == 1 and not (evs[0].get("onlineMeeting") or {}).get("joinUrl"), evs
        assert R.sql(f"SELECT IFNULL(video_link, '') FROM appointments WHERE id = {pappt}") == ""
        assert R.sql(f"SELECT state FROM event_mappings WHERE appointment_id = {pappt}") == "synced"
        assert R.sql(f"SELECT sync_status FROM calendar_integrations WHERE id = {pinteg}") == "active"

    with t.case("no token, code, state, clientState or secret in the app's log, nginx's logs or the tools' stderr"):
        logs = stack_logs(st, ERR)
        seen["secret key"] = st.secret_key
        seen["encryption key"] = st.encryption_key
        seen["client secret"] = m.client_secret
        assert_not_logged(logs, seen)
        for where, text in logs.items():
            assert "eyJ0eXAiOiJKV1QiLCJub25jZSI6" not in text and "EwB4A8l6BAAU" not in text, f"a token in {where}"
            assert "ERROR: AddressSanitizer" not in text and "runtime error:" not in text, where


def run():
    return run_stack_test(t, main, ("tf-calendar.fcgi", "tf-admin", "tf-sync"), "tf-outlook-http.",
                          caldav=False, microsoft=True)


if __name__ == "__main__":
    sys.exit(run())
