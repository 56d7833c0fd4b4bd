#!/usr/bin/env python3
"""test_booking_cgi.py: the booking side of tf-calendar.fcgi in CGI mode against a private MariaDB (TAP).

Slots API (dates in four languages, errors naming the field, a logged-in doctor), POST
/api/appointments (201 shape, 400 per field, 409, Idempotency-Key), the patient pages /termin/{slug}
and /termin/absage/{token}, the doctor's settings page and every POST action on it, path
parameters in the router (allowlists, 404/405), and HTML escaping of patient input.
"""
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import time
import zoneinfo

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))

from tap import Tap  # noqa: E402
from cgiapp import (BASE_URL, PASSWORD, SECRET, CgiApp, CgiSetup, b64u, built, cgi_settings,  # noqa: E402
                    skip_unless_ready)

APP, ADMIN = built(BUILDDIR, "tf-calendar.fcgi", "tf-admin")
EVIL = '<script>alert("p")</script> & Co'
TZ = zoneinfo.ZoneInfo("Europe/Berlin")
CONSENT = "Ich willige in die Verarbeitung meiner Daten zur Terminvereinbarung ein."
SLOT_TAKEN = "Dieser Termin ist leider nicht mehr frei. Bitte wählen Sie eine andere Uhrzeit."

t = Tap()

skip_unless_ready(APP, ADMIN)

S = CgiSetup(t, "tf-bcgi-")
sql, count = S.sql, S.count
S.start("MariaDB")

# mail goes nowhere: a port nobody listens on (the answer must not care)
CONFIG = S.write_config(cgi_settings(S.db, SRCDIR, SECRET, log_level="error", fernet_key=S.fernet_key, smtp=True))
A = CgiApp(APP, ADMIN, CONFIG)
cgi = A.cgi


def today_berlin():
    return datetime.datetime.now(TZ).date()


EVA_ID, BOB_ID = S.prepare(A, ("eva", "bob"))
with S.bail_on_error():
    sql(f"UPDATE doctors SET practice_name='Praxis Ernst', practice_address='Hauptstr. 1\\n10115 Berlin' "
        f"WHERE id={EVA_ID}")


def slots(date, slug="eva-ernst", extra=""):
    q = f"doctor={slug}&date={date}" + extra
    return cgi("GET", "/api/integrations/calendar/slots", query=q)


def login(email="eva@example.org"):
    r = cgi("GET", "/doctor/login")
    ck = r.cookie_value("tf_csrf")
    tok = r.field("csrf_token")
    r = cgi("POST", "/doctor/login", form={"email": email, "password": PASSWORD, "csrf_token": tok},
            cookies={"tf_csrf": ck})
    assert r.status == 303, r
    return {"tf_session": r.cookie_value("tf_session"), "tf_csrf": ck}, tok


def booking_body(start_, **kw):
    b = {"doctor": "eva-ernst", "service": "Sprechstunde", "start": start_, "duration_minutes": 30,
         "patient_name": "Paula Patientin", "patient_email": "paula@example.org", "create_meet": False}
    b.update(kw)
    return {k: v for k, v in b.items() if v is not ...}


try:
    # ------------------------------------------------------------------ find bookable days
    DAYS = []   # (date, slots) with free times, within the next 3 weeks
    d = today_berlin() + datetime.timedelta(days=1)
    for _ in range(21):
        r = slots(d.isoformat())
        if r.status == 200 and len(r.json()["slots"]) >= 12:
            DAYS.append((d.isoformat(), r.json()["slots"]))
        d += datetime.timedelta(days=1)
    if len(DAYS) < 3:
        t.bail(f"fewer than 3 bookable days found: {DAYS!r}")
    D1, S1 = DAYS[0]
    D2, S2 = DAYS[1]
    D3, S3 = DAYS[2]

    # ------------------------------------------------------------------ slots API
    with t.case("slots: ISO date → 200 with date, duration, local HH:MM slots within opening hours, summary"):
        r = slots(D1, extra="&duration=60")
        assert r.status == 200, r
        j = r.json()
        assert set(j) == {"date", "duration", "slots", "summary"}, j
        assert j["date"] == D1 and j["duration"] == 60, j
        assert j["slots"] and all(re.fullmatch(r"\d\d:\d\d", s) for s in j["slots"]), j
        for s in j["slots"]:
            m = int(s[:2]) * 60 + int(s[3:])
            assert (480 <= m and m + 60 <= 720) or (840 <= m and m + 60 <= 1080), s
        assert j["slots"][0] == "08:00" and "11:00" in j["slots"] and "11:15" not in j["slots"], j["slots"]

    with t.case("slots: summary in the seed's form (12-hour clock) matches the slots"):
        j = r.json()

        def twelve(s):
            h, m = int(s[:2]), s[3:]
            return f"{(h % 12) or 12}:{m} {'AM' if h < 12 else 'PM'}"
        assert j["summary"] == "Available times: " + ", ".join(twelve(s) for s in j["slots"]), j["summary"]

    with t.case("slots: duration defaults to the service's (30), the path with a trailing slash works"):
        r = cgi("GET", "/api/integrations/calendar/slots/", query=f"doctor=eva-ernst&date={D1}")
        assert r.status == 200 and r.json()["duration"] == 30, r
        assert "11:30" in r.json()["slots"] and "11:45" not in r.json()["slots"], r.json()

    tomorrow = (today_berlin() + datetime.timedelta(days=1)).isoformat()
    for word in ("morgen", "tomorrow", "завтра", "Morgen"):
        with t.case(f"slots: date={word} → tomorrow ({tomorrow})"):
            r = slots(word)
            assert r.status == 200 and r.json()["date"] == tomorrow, r

    with t.case("slots: dd.mm.yyyy date form"):
        y, m, dd = D1.split("-")
        r = slots(f"{dd}.{m}.{y}")
        assert r.status == 200 and r.json()["date"] == D1, r

    with t.case("slots: a date not understood → 400 naming date (invalid_date)"):
        r = slots("irgendwann")
        assert r.status == 400, r
        e = r.json()["error"]
        assert e["code"] == "invalid_date" and e["field"] == "date" and e["message"], e
        r = slots("")
        assert r.status == 400 and r.json()["error"]["field"] == "date", r

    with t.case("slots: bad duration → 400 naming duration"):
        for bad in ("0", "abc", "601", "-5"):
            r = slots(D1, extra=f"&duration={bad}")
            assert r.status == 400 and r.json()["error"]["field"] == "duration", (bad, r)
            assert r.json()["error"]["code"] == "invalid_duration"

    with t.case("slots: unknown doctor → 404; malformed slug → 404; unknown service → 404"):
        r = slots(D1, slug="niemand-hier")
        assert r.status == 404 and r.json()["error"]["code"] == "not_found", r
        r = slots(D1, slug="BAD%20SLUG")
        assert r.status == 404, r
        r = slots(D1, extra="&service=Akupunktur")
        assert r.status == 404 and r.json()["error"]["field"] == "service", r

    with t.case("slots: no doctor and not logged in → 400 naming doctor"):
        r = cgi("GET", "/api/integrations/calendar/slots", query=f"date={D1}")
        assert r.status == 400 and r.json()["error"]["field"] == "doctor", r

    EVA_COOKIES, EVA_TOK = login()
    BOB_COOKIES, BOB_TOK = login("bob@example.org")

    with t.case("slots: a logged-in doctor may leave out doctor= (session cookie)"):
        r = cgi("GET", "/api/integrations/calendar/slots", query=f"date={D1}",
                cookies={"tf_session": EVA_COOKIES["tf_session"]})
        assert r.status == 200 and r.json()["date"] == D1 and r.json()["slots"], r

    with t.case("slots: a bearer token also stands for doctor=; a bad one is ignored (400 naming doctor)"):
        tok = A.admin("token", "bob@example.org")
        r = cgi("GET", "/api/integrations/calendar/slots", query=f"date={D1}",
                headers={"Authorization": "Bearer " + tok})
        assert r.status == 200 and r.json()["slots"], r
        r = cgi("GET", "/api/integrations/calendar/slots", query=f"date={D1}",
                headers={"Authorization": "Bearer " + tok[:-3] + "AAA"})
        assert r.status == 400 and r.json()["error"]["field"] == "doctor", r

    with t.case("slots: a past date and a date beyond the horizon have no slots"):
        past = (today_berlin() - datetime.timedelta(days=3)).isoformat()
        r = slots(past)
        assert r.status == 200 and r.json()["slots"] == [] and r.json()["summary"] == "No available times.", r
        far = (today_berlin() + datetime.timedelta(days=400)).isoformat()
        r = slots(far)
        assert r.status == 200 and r.json()["slots"] == [], r

    with t.case("slots: POST → 405 with Allow: GET, HEAD (JSON)"):
        r = cgi("POST", "/api/integrations/calendar/slots", json_body={})
        assert r.status == 405 and r.header("allow") == "GET, HEAD", r
        assert r.json()["error"]["code"] == "method_not_allowed"

    # ------------------------------------------------------------------ POST /api/appointments
    START1 = f"{D1}T{S1[2]}"
    with t.case("POST /api/appointments → 201 {id, start, end, status, cancel_url}"):
        r = cgi("POST", "/api/appointments", json_body=booking_body(START1))
        assert r.status == 201, r
        j = r.json()
        assert set(j) >= {"id", "start", "end", "status", "cancel_url"}, j
        assert j["status"] == "confirmed" and j["start"].startswith(START1), j
        h, m = int(S1[2][:2]), int(S1[2][3:]) + 30
        assert j["end"].startswith(f"{D1}T{h + m // 60:02d}:{m % 60:02d}"), j
        mm = re.fullmatch(re.escape(BASE_URL) + r"/termin/absage/([A-Za-z0-9_-]{43})", j["cancel_url"])
        assert mm, j["cancel_url"]
        API_ID, API_TOKEN = j["id"], mm.group(1)

    with t.case("the booking is one confirmed row with an outbox row and a queued mail; SMTP down did not matter"):
        row = sql(f"SELECT doctor_id, status, patient_name, patient_email FROM appointments WHERE id={API_ID}")
        assert row == f"{EVA_ID}\tconfirmed\tPaula Patientin\tpaula@example.org", row
        assert count(f"SELECT COUNT(*) FROM outbox WHERE appointment_id={API_ID} AND action='create'") == 1
        assert count(f"SELECT COUNT(*) FROM mail_queue WHERE appointment_id={API_ID} AND kind='confirmation'") == 1
        st = sql(f"SELECT status, attempts FROM mail_queue WHERE appointment_id={API_ID}")
        assert st.split("\t")[0] in ("pending", "failed") and int(st.split("\t")[1]) >= 1, \
            f"the mail was not tried after the answer: {st}"

    with t.case("the booked slot is gone from the slots API"):
        r = slots(D1)
        assert S1[2] not in r.json()["slots"], r.json()

    with t.case("the same slot again → 409 slot_taken with the German message"):
        r = cgi("POST", "/api/appointments", json_body=booking_body(START1, patient_email="otto@example.org"))
        assert r.status == 409, r
        e = r.json()["error"]
        assert e["code"] == "slot_taken" and e["message"] == SLOT_TAKEN, e

    field_cases = [
        ("patient_email missing", {"patient_email": ...}, "patient_email"),
        ("patient_email malformed", {"patient_email": "kein-at-zeichen"}, "patient_email"),
        ("patient_name a number", {"patient_name": 5}, "patient_name"),
        ("patient_name missing", {"patient_name": ...}, "patient_name"),
        ("patient_name empty", {"patient_name": ""}, "patient_name"),
        ("start malformed", {"start": "24.11.2026 9 Uhr"}, "start"),
        ("start a number", {"start": 1234}, "start"),
        ("start missing", {"start": ...}, "start"),
        ("duration_minutes a string", {"duration_minutes": "30"}, "duration_minutes"),
        ("duration_minutes out of range", {"duration_minutes": 9999}, "duration_minutes"),
        ("create_meet a string", {"create_meet": "yes"}, "create_meet"),
        ("doctor missing", {"doctor": ...}, "doctor"),
        ("doctor a list", {"doctor": ["eva-ernst"]}, "doctor"),
        ("patient_phone a number", {"patient_phone": 123}, "patient_phone"),
    ]
    for name, change, field in field_cases:
        with t.case(f"POST /api/appointments: {name} → 400 invalid_field naming {field}"):
            r = cgi("POST", "/api/appointments", json_body=booking_body(f"{D1}T{S1[4]}", **change))
            assert r.status == 400, r
            e = r.json()["error"]
            assert e["code"] == "invalid_field" and e["field"] == field and e["message"], e

    with t.case("POST /api/appointments: unknown doctor → 404; a service not offered → 400 naming service"):
        r = cgi("POST", "/api/appointments", json_body=booking_body(f"{D1}T{S1[4]}", doctor="niemand-hier"))
        assert r.status == 404 and r.json()["error"]["code"] == "not_found", r
        r = cgi("POST", "/api/appointments", json_body=booking_body(f"{D1}T{S1[4]}", service="Akupunktur"))
        assert r.status == 400 and r.json()["error"]["field"] == "service", r

    with t.case("POST /api/appointments: a form body → 415; no body → 400; not an object → 400"):
        r = cgi("POST", "/api/appointments", form={"doctor": "eva-ernst"})
        assert r.status == 415, r
        r = cgi("POST", "/api/appointments")
        assert r.status == 400, r
        r = cgi("POST", "/api/appointments", body=b"[1,2]", ctype="application/json")
        assert r.status == 400, r

    with t.case("POST /api/appointments: a start outside opening hours → 409"):
        r = cgi("POST", "/api/appointments", json_body=booking_body(f"{D1}T03:00"))
        assert r.status == 409, r

    n_before = count("SELECT COUNT(*) FROM appointments")
    KEY = "key-" + b64u(os.urandom(9))
    START2 = f"{D1}T{S1[6]}"
    with t.case("Idempotency-Key: a repeat gives the same status and body and no second row"):
        r1 = cgi("POST", "/api/appointments", json_body=booking_body(START2), headers={"Idempotency-Key": KEY})
        r2 = cgi("POST", "/api/appointments", json_body=booking_body(START2), headers={"Idempotency-Key": KEY})
        assert r1.status == 201 and r2.status == 201, (r1, r2)
        assert r1.body == r2.body, (r1.body, r2.body)
        assert count("SELECT COUNT(*) FROM appointments") == n_before + 1

    with t.case("Idempotency-Key reused with another body → 422"):
        r = cgi("POST", "/api/appointments", json_body=booking_body(f"{D1}T{S1[8]}"),
                headers={"Idempotency-Key": KEY})
        assert r.status == 422, r
        assert count("SELECT COUNT(*) FROM appointments") == n_before + 1

    with t.case("Idempotency-Key malformed (over 255 characters) → 400"):
        r = cgi("POST", "/api/appointments", json_body=booking_body(f"{D1}T{S1[8]}"),
                headers={"Idempotency-Key": "k" * 256})
        assert r.status == 400 and r.json()["error"]["field"] == "Idempotency-Key", r

    with t.case("a stalled SMTP server does not delay the answer: the 201 is complete before the mail is tried"):
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(5)   # accepts, never greets: the mail would wait for libesmtp's timeout
        body = json.dumps(booking_body(f"{D1}T{S1[10]}", patient_email="stall@example.org")).encode()
        env = {k: os.environ[k] for k in ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS") if k in os.environ}
        env.update({"TF_CONFIG": CONFIG, "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST",
                    "PATH_INFO": "/api/appointments", "REQUEST_URI": "/api/appointments", "QUERY_STRING": "",
                    "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_ADDR": "127.0.0.1", "SMTP_HOST": "127.0.0.1",
                    "SMTP_PORT": str(lsock.getsockname()[1])})
        t0 = time.monotonic()
        p = subprocess.Popen([APP], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        try:
            p.stdin.write(body)
            p.stdin.close()
            out = p.stdout.read()          # EOF when the app closed its answer
            elapsed = time.monotonic() - t0
            still_running = p.poll() is None
        finally:
            p.kill()
            p.wait()
            lsock.close()
        assert out.startswith(b"Status: 201"), out[:300]
        assert elapsed < 15, f"answer took {elapsed:.1f}s"
        assert still_running, "the app had already finished: the mail was not tried after the answer"
        assert count("SELECT COUNT(*) FROM appointments WHERE patient_email='stall@example.org'") == 1

    # ------------------------------------------------------------------ patient page
    with t.case("GET /termin/{slug}: practice, service and date form, free times as radio buttons, consent"):
        r = cgi("GET", "/termin/eva-ernst", query=f"date={D2}")
        assert r.status == 200, r
        b = r.body
        assert "Praxis Ernst" in b and "Hauptstr. 1" in b, b[:2000]
        assert 'type="date"' in b and f'value="{D2}"' in b and 'name="service"' in b
        dd = datetime.date.fromisoformat(D2)
        wd = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"][dd.weekday()]
        months = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
                  "Oktober", "November", "Dezember"]
        assert f"{wd}, {dd.day}. {months[dd.month - 1]} {dd.year}" in b, "German date missing"
        radios = re.findall(r'type="radio" name="time" id="[^"]+" value="(\d\d:\d\d)"', b)
        assert radios == S2, (radios, S2)
        assert CONSENT in b and 'name="consent"' in b and 'name="form_key"' in b and 'name="csrf_token"' in b
        # no inline script or style (CSP script-src 'self'); only the chat widget's file (issue 7)
        scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", b, re.S)
        assert b.count("<script") == len(scripts) == 1 and scripts == [""], scripts
        assert '<script src="/static/chat.js" defer></script>' in b and "style=" not in b
        PAGE = r

    with t.case("GET /termin/{slug} without a date picks the first day with free times"):
        r = cgi("GET", "/termin/eva-ernst")
        assert r.status == 200 and f'value="{D1}"' in r.body, r.body[:3000]

    with t.case("GET /termin/{unknown} → 404 German page; a malformed slug → 404"):
        r = cgi("GET", "/termin/niemand-hier")
        assert r.status == 404 and '<html lang="de">' in r.body, r
        for bad in ("/termin/Eva_Ernst", "/termin/-eva", "/termin/" + "a" * 70):
            r = cgi("GET", bad)
            assert r.status == 404, (bad, r)

    def page_form(r, **kw):
        f = {"csrf_token": r.field("csrf_token"), "form_key": r.field("form_key"),
             "service": r.field("service"), "date": r.field("date"), "name": "Petra Page",
             "email": "petra@example.org", "phone": "030 1234", "consent": "ja"}
        f.update(kw)
        return {k: v for k, v in f.items() if v is not None}

    CK = {"tf_csrf": PAGE.cookie_value("tf_csrf")}
    with t.case("POST /termin/{slug} without consent → 400 with the German message and the values kept (escaped)"):
        r = cgi("POST", "/termin/eva-ernst", form=page_form(PAGE, consent=None, time=S2[1], name=EVIL), cookies=CK)
        assert r.status == 400, r
        assert "Bitte willigen Sie in die Verarbeitung Ihrer Daten zur Terminvereinbarung ein." in r.body
        assert "&lt;script&gt;alert(&quot;p&quot;)&lt;/script&gt; &amp; Co" in r.body
        assert "<script>" not in r.body
        assert re.search(r'value="%s" required checked' % S2[1], r.body), "chosen time not kept"

    with t.case("POST /termin/{slug} without CSRF → 403"):
        r = cgi("POST", "/termin/eva-ernst", form=page_form(PAGE, time=S2[1], csrf_token=None), cookies=CK)
        assert r.status == 403 and "Sicherheitsprüfung" in r.body, r

    with t.case("POST /termin/{slug} without a time → 400; with a bad e-mail → 400"):
        r = cgi("POST", "/termin/eva-ernst", form=page_form(PAGE), cookies=CK)
        assert r.status == 400 and "Bitte wählen Sie eine freie Uhrzeit." in r.body, r
        r = cgi("POST", "/termin/eva-ernst", form=page_form(PAGE, time=S2[1], email="x@"), cookies=CK)
        assert r.status == 400 and "gültige E-Mail-Adresse" in r.body, r

    n_before = count("SELECT COUNT(*) FROM appointments")
    with t.case("POST /termin/{slug} → 200 'Ihr Termin ist gebucht' with details and the cancel link"):
        form = page_form(PAGE, time=S2[1])
        r = cgi("POST", "/termin/eva-ernst", form=form, cookies=CK)
        assert r.status == 200, r
        assert "Ihr Termin ist gebucht" in r.body and "Sprechstunde" in r.body and S2[1] in r.body
        m = re.search(r'href="' + re.escape(BASE_URL) + r'/termin/absage/([A-Za-z0-9_-]{43})"', r.body)
        assert m, r.body
        PAGE_TOKEN = m.group(1)
        assert count("SELECT COUNT(*) FROM appointments") == n_before + 1

    with t.case("the same form posted twice → one appointment, the same confirmation"):
        r = cgi("POST", "/termin/eva-ernst", form=form, cookies=CK)
        assert r.status == 200 and "Ihr Termin ist gebucht" in r.body and PAGE_TOKEN in r.body, r
        assert count("SELECT COUNT(*) FROM appointments") == n_before + 1
        assert count(f"SELECT COUNT(*) FROM appointments WHERE patient_email='petra@example.org'") == 1

    with t.case("another form for a taken time → 409 with the German message, form shown again"):
        r = cgi("GET", "/termin/eva-ernst", query=f"date={D2}")
        r = cgi("POST", "/termin/eva-ernst", form=page_form(r, time=S2[1], email="zweite@example.org"),
                cookies={"tf_csrf": r.cookie_value("tf_csrf")})
        assert r.status == 409 and SLOT_TAKEN in r.body, r
        assert 'value="zweite@example.org"' in r.body and S2[1] + " Uhr" not in r.body

    # ------------------------------------------------------------------ cancel link
    with t.case("GET /termin/absage/{token}: the appointment and a 'Termin absagen' button"):
        r = cgi("GET", "/termin/absage/" + PAGE_TOKEN)
        assert r.status == 200, r
        assert "Termin absagen" in r.body and S2[1] in r.body and f'action="/termin/absage/{PAGE_TOKEN}"' in r.body
        CCK = {"tf_csrf": r.cookie_value("tf_csrf")}
        CTOK = r.field("csrf_token")

    with t.case("POST /termin/absage/{token} without CSRF → 403, nothing cancelled"):
        r = cgi("POST", "/termin/absage/" + PAGE_TOKEN, form={}, cookies=CCK)
        assert r.status == 403, r
        assert sql(f"SELECT status FROM appointments WHERE patient_email='petra@example.org'") == "confirmed"

    with t.case("the cancel token never reaches the log (debug level, failed CSRF check)"):
        r1 = cgi("GET", "/termin/absage/" + PAGE_TOKEN, extra={"TF_LOG_LEVEL": "debug"})
        r2 = cgi("POST", "/termin/absage/" + PAGE_TOKEN, form={}, cookies=CCK, extra={"TF_LOG_LEVEL": "debug"})
        assert r1.status == 200 and r2.status == 403, (r1, r2)
        assert "csrf check failed" in r2.stderr, r2.stderr
        assert PAGE_TOKEN not in r1.stderr + r2.stderr, r1.stderr + r2.stderr

    with t.case("POST /termin/absage/{token} → 'Ihr Termin wurde abgesagt.', row cancelled by the patient"):
        r = cgi("POST", "/termin/absage/" + PAGE_TOKEN, form={"csrf_token": CTOK}, cookies=CCK)
        assert r.status == 200 and "Ihr Termin wurde abgesagt." in r.body, r
        row = sql("SELECT status, cancelled_by FROM appointments WHERE patient_email='petra@example.org'")
        assert row == "cancelled\tpatient", row
        aid = sql("SELECT id FROM appointments WHERE patient_email='petra@example.org'")
        assert count(f"SELECT COUNT(*) FROM outbox WHERE appointment_id={aid} AND action='cancel'") == 1

    with t.case("cancelling again → 410; GET → 410"):
        r = cgi("POST", "/termin/absage/" + PAGE_TOKEN, form={"csrf_token": CTOK}, cookies=CCK)
        assert r.status == 410 and "bereits abgesagt" in r.body, r
        r = cgi("GET", "/termin/absage/" + PAGE_TOKEN)
        assert r.status == 410, r

    with t.case("the freed time is offered again"):
        assert S2[1] in slots(D2).json()["slots"]

    with t.case("cancel link: unknown token → 404; malformed token → 404"):
        r = cgi("GET", "/termin/absage/" + b64u(os.urandom(32)))
        assert r.status == 404, r
        for bad in ("abc", PAGE_TOKEN + "x", PAGE_TOKEN[:-1] + "!"):
            r = cgi("GET", "/termin/absage/" + bad)
            assert r.status == 404, (bad, r)

    with t.case("the API's cancel link works too"):
        r = cgi("GET", "/termin/absage/" + API_TOKEN)
        assert r.status == 200 and "Termin absagen" in r.body, r

    # ------------------------------------------------------------------ router: path parameters
    with t.case("PUT /termin/{slug} → 405 Allow: GET, HEAD, POST; HEAD → 200 without body"):
        r = cgi("PUT", "/termin/eva-ernst")
        assert r.status == 405 and r.header("allow") == "GET, HEAD, POST", r
        r = cgi("HEAD", "/termin/eva-ernst")
        assert r.status == 200 and r.body == "", r

    with t.case("id parameters: letters, 19 digits → 404; GET on a POST-only id route → 405"):
        for bad in ("/doctor/settings/services/abc/delete", "/doctor/settings/services/" + "1" * 19,
                    "/doctor/appointments/1x/cancel"):
            r = cgi("POST", bad, form={}, cookies=EVA_COOKIES)
            assert r.status == 404, (bad, r)
        r = cgi("GET", "/doctor/appointments/1/cancel", cookies=EVA_COOKIES)
        assert r.status == 405 and r.header("allow") == "POST", r

    # ------------------------------------------------------------------ doctor settings
    with t.case("GET /doctor/settings without a session → 303 to the login"):
        r = cgi("GET", "/doctor/settings")
        assert r.status == 303 and r.header("location") == "/doctor/login", r

    with t.case("GET /doctor/settings: all sections, nav links, upcoming appointments with Absagen/Verschieben"):
        r = cgi("GET", "/doctor/settings", cookies=EVA_COOKIES)
        assert r.status == 200, r
        b = r.body
        for s in ("Praxis &amp; Termine", "Kalender-Integrationen", 'href="/doctor/settings"',
                  'href="/doctor/calendar-integrations"', 'name="practice_name"', 'name="bundesland"',
                  'name="timezone"', 'name="hours_1"', 'name="hours_7"', 'action="/doctor/settings/closures"',
                  'action="/doctor/settings/services"', "Absagen", "Verschieben", "Paula Patientin",
                  'value="08:00–12:00, 14:00–18:00"'):
            assert s in b, s
        assert f'action="/doctor/appointments/{API_ID}/cancel"' in b

    with t.case("the integrations page header links both doctor pages"):
        r = cgi("GET", "/doctor/calendar-integrations", cookies=EVA_COOKIES)
        assert 'href="/doctor/settings"' in r.body and "Praxis &amp; Termine" in r.body, r

    def post(path, form, cookies=EVA_COOKIES, tok=None):
        f = dict(form)
        f["csrf_token"] = tok or (EVA_TOK if cookies is EVA_COOKIES else BOB_TOK)
        return cgi("POST", path, form=f, cookies=cookies)

    with t.case("profile: CSRF missing → 403, nothing changed"):
        r = cgi("POST", "/doctor/settings/profile", form={"practice_name": "X", "bundesland": "BY",
                                                          "timezone": "Europe/Berlin"}, cookies=EVA_COOKIES)
        assert r.status == 403, r
        assert sql(f"SELECT practice_name FROM doctors WHERE id={EVA_ID}") == "Praxis Ernst"

    with t.case("profile: saved → 303 with a fixed notice; the row changed"):
        r = post("/doctor/settings/profile", {"practice_name": "Praxis am Markt", "practice_address": "Markt 2",
                                              "bundesland": "BY", "timezone": "Europe/Berlin"})
        assert r.status == 303 and r.header("location").startswith("/doctor/settings?ok=profile"), r
        assert sql(f"SELECT practice_name, practice_address, bundesland FROM doctors WHERE id={EVA_ID}") == \
            "Praxis am Markt\tMarkt 2\tBY"
        r = cgi("GET", "/doctor/settings", query="ok=profile", cookies=EVA_COOKIES)
        assert "Die Praxisangaben wurden gespeichert." in r.body

    with t.case("notice codes never echo URL text"):
        r = cgi("GET", "/doctor/settings", query="ok=%3Cb%3Ehallo%3C%2Fb%3E", cookies=EVA_COOKIES)
        assert r.status == 200 and "hallo" not in r.body and 'role="status"' not in r.body, r

    with t.case("profile: unknown Bundesland → 400 with a German message, Bob's row untouched"):
        r = post("/doctor/settings/profile", {"practice_name": "P", "bundesland": "XX", "timezone": "Europe/Berlin"})
        assert r.status == 400 and 'class="alert"' in r.body, r
        assert sql(f"SELECT bundesland FROM doctors WHERE id={EVA_ID}") == "BY"

    with t.case("hours: saved → rows replaced (several intervals a day)"):
        form = {f"hours_{i}": "08:00-12:00, 13:00-17:00" for i in range(1, 6)}
        form["hours_6"] = "09:00-11:00"
        form["hours_7"] = ""
        r = post("/doctor/settings/hours", form)
        assert r.status == 303 and "ok=hours" in r.header("location"), r
        rows = sql(f"SELECT weekday, start_minute, end_minute FROM opening_hours WHERE doctor_id={EVA_ID} "
                   f"ORDER BY weekday, start_minute").splitlines()
        assert len(rows) == 11 and rows[0] == "1\t480\t720" and rows[1] == "1\t780\t1020" and rows[-1] == "6\t540\t660", rows
        assert count(f"SELECT COUNT(*) FROM opening_hours WHERE doctor_id={BOB_ID}") == 10

    with t.case("hours: overlapping intervals → 400 with a German message naming the day; nothing changed"):
        r = post("/doctor/settings/hours", {"hours_1": "08:00-12:00, 11:00-13:00"})
        assert r.status == 400 and "Montag" in r.body and 'class="alert"' in r.body, r
        assert 'value="08:00-12:00, 11:00-13:00"' in r.body, "typed text not kept"
        assert count(f"SELECT COUNT(*) FROM opening_hours WHERE doctor_id={EVA_ID}") == 11

    with t.case("closures: add → row; the closed day has no slots"):
        r = post("/doctor/settings/closures", {"start_date": D3, "end_date": D3, "reason": "Fortbildung"})
        assert r.status == 303 and "ok=closure" in r.header("location"), r
        CL_ID = int(sql(f"SELECT id FROM closures WHERE doctor_id={EVA_ID} AND start_date='{D3}'"))
        assert slots(D3).json()["slots"] == []

    with t.case("closures: end before start → 400 German; another doctor's closure → 404"):
        r = post("/doctor/settings/closures", {"start_date": D3, "end_date": D1})
        assert r.status == 400 and 'class="alert"' in r.body, r
        r = post(f"/doctor/settings/closures/{CL_ID}/delete", {}, cookies=BOB_COOKIES)
        assert r.status == 404, r
        assert count(f"SELECT COUNT(*) FROM closures WHERE id={CL_ID}") == 1

    with t.case("closures: delete → row gone"):
        r = post(f"/doctor/settings/closures/{CL_ID}/delete", {})
        assert r.status == 303, r
        assert count(f"SELECT COUNT(*) FROM closures WHERE id={CL_ID}") == 0

    with t.case("services: add → row with buffers and video"):
        r = post("/doctor/settings/services", {"name": "Videosprechstunde", "duration_minutes": "20",
                                               "buffer_before_minutes": "5", "buffer_after_minutes": "10",
                                               "is_video": "1"})
        assert r.status == 303, r
        row = sql(f"SELECT id, duration_minutes, buffer_before_minutes, buffer_after_minutes, is_video, active "
                  f"FROM services WHERE doctor_id={EVA_ID} AND name='Videosprechstunde'")
        SV_ID, *rest = row.split("\t")
        assert rest == ["20", "5", "10", "1", "1"], row

    with t.case("services: bad duration → 400 German, the typed name kept"):
        r = post("/doctor/settings/services", {"name": "Kurz", "duration_minutes": "2"})
        assert r.status == 400 and "Dauer" in r.body and 'value="Kurz"' in r.body, r

    with t.case("services: edit → row changed"):
        r = post(f"/doctor/settings/services/{SV_ID}", {"name": "Video-Termin", "duration_minutes": "25",
                                                        "buffer_before_minutes": "0", "buffer_after_minutes": "0",
                                                        "active_shown": "1", "active": "1"})
        assert r.status == 303, r
        assert sql(f"SELECT name, duration_minutes, is_video FROM services WHERE id={SV_ID}") == "Video-Termin\t25\t0"

    with t.case("services: another doctor's service → 404 for edit and deactivate"):
        r = post(f"/doctor/settings/services/{SV_ID}", {"name": "X", "duration_minutes": "30"}, cookies=BOB_COOKIES)
        assert r.status == 404, r
        r = post(f"/doctor/settings/services/{SV_ID}/delete", {}, cookies=BOB_COOKIES)
        assert r.status == 404, r
        assert sql(f"SELECT name, active FROM services WHERE id={SV_ID}") == "Video-Termin\t1"

    with t.case("services: deactivate → active = 0, no longer on the patient page"):
        r = post(f"/doctor/settings/services/{SV_ID}/delete", {})
        assert r.status == 303 and "ok=service-off" in r.header("location"), r
        assert sql(f"SELECT active FROM services WHERE id={SV_ID}") == "0"
        r = cgi("GET", "/termin/eva-ernst")
        assert "Video-Termin" not in r.body

    # appointments: book one with an evil patient name for the escaping check
    BOOK = None
    with t.case("a patient's name is HTML-escaped on the doctor's page"):
        r = cgi("POST", "/api/appointments", json_body=booking_body(f"{D2}T{S2[3]}", patient_name=EVIL,
                                                                     patient_email="evil@example.org"))
        assert r.status == 201, r
        BOOK = r.json()["id"]
        r = cgi("GET", "/doctor/settings", cookies=EVA_COOKIES)
        assert "&lt;script&gt;alert(&quot;p&quot;)&lt;/script&gt; &amp; Co" in r.body
        assert "<script>" not in r.body

    with t.case("reschedule: another doctor's appointment → 404, cancel likewise"):
        r = post(f"/doctor/appointments/{BOOK}/reschedule", {"date": D2, "time": S2[5]}, cookies=BOB_COOKIES)
        assert r.status == 404, r
        r = post(f"/doctor/appointments/{BOOK}/cancel", {}, cookies=BOB_COOKIES)
        assert r.status == 404, r
        assert sql(f"SELECT status FROM appointments WHERE id={BOOK}") == "confirmed"

    with t.case("reschedule: CSRF missing → 403"):
        r = cgi("POST", f"/doctor/appointments/{BOOK}/reschedule", form={"date": D2, "time": S2[5]},
                cookies=EVA_COOKIES)
        assert r.status == 403, r

    with t.case("reschedule: onto a taken time → 409 German; a bad time → 400"):
        r = post(f"/doctor/appointments/{BOOK}/reschedule", {"date": D1, "time": S1[2]})
        assert r.status == 409 and 'class="alert"' in r.body, r
        r = post(f"/doctor/appointments/{BOOK}/reschedule", {"date": D2, "time": "25:99"})
        assert r.status == 400, r

    with t.case("reschedule → 303, start moved, outbox row"):
        r = post(f"/doctor/appointments/{BOOK}/reschedule", {"date": D2, "time": S2[5]})
        assert r.status == 303 and "ok=moved" in r.header("location"), r
        want = datetime.datetime.fromisoformat(f"{D2}T{S2[5]}").replace(tzinfo=TZ).astimezone(datetime.timezone.utc)
        got = sql(f"SELECT start_utc FROM appointments WHERE id={BOOK}")
        assert got == want.strftime("%Y-%m-%d %H:%M:%S"), (got, want)
        assert count(f"SELECT COUNT(*) FROM outbox WHERE appointment_id={BOOK} AND action='reschedule'") == 1

    with t.case("cancel by the doctor → 303, row cancelled by the doctor; again → 409"):
        r = post(f"/doctor/appointments/{BOOK}/cancel", {})
        assert r.status == 303 and "ok=cancelled" in r.header("location"), r
        assert sql(f"SELECT status, cancelled_by FROM appointments WHERE id={BOOK}") == "cancelled\tdoctor"
        r = post(f"/doctor/appointments/{BOOK}/cancel", {})
        assert r.status == 409, r

    with t.case("settings POST with a bearer-less API call is refused: no session → 303 login"):
        r = cgi("POST", "/doctor/settings/hours", form={"hours_1": ""})
        assert r.status == 303 and r.header("location") == "/doctor/login", r

    with t.case("every answer carries the security headers; HTML is no-store"):
        for resp in A.responses:
            assert resp.header("content-security-policy", ) and resp.header("x-frame-options") == "DENY", resp
            if (resp.header("content-type") or "").startswith("text/html"):
                assert resp.header("cache-control") == "no-store", resp
finally:
    S.finish()
t.done()
