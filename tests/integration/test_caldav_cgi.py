#!/usr/bin/env python3
"""test_caldav_cgi.py: connecting iCloud/CalDAV through tf-calendar.fcgi in CGI mode (TAP).

A private MariaDB and a real Radicale (tests/lib/radicale.py). Checks the connect form (help text,
CSRF), the connect route as a form (303, page with 422) and as JSON (201 / 422 shapes), field and
URL checks (nothing stored on any failure), the stored credentials (a Fernet token without the
password in clear), the per-connection settings form, "sync now" (the booked appointment appears
on Radicale), disconnect (with and without removing our events), another doctor's ids (404),
CSRF, and the conflict and review sections of /doctor/settings (escaped).
"""
import base64
import datetime
import json
import os
import re
import sys
import urllib.error
import urllib.request
import zoneinfo

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))

from tap import Tap  # noqa: E402
from cgiapp import CgiApp, closed_port, skip_unless_ready  # noqa: E402
from provider_setup import (PASSWORD, SECRET, CgiSetup, app_settings, built, card as provider_card,  # noqa: E402
                            integrations_page, security_headers_ok)
import radicale  # noqa: E402

APP, ADMIN = built(BUILDDIR, "tf-calendar.fcgi", "tf-admin")
BASE_URL = "http://localhost:8080"
APPLE_PW = "abcd-efgh-ijkl-mnop"
BOB_PW = "bobs-kalender-pw"
TZ = zoneinfo.ZoneInfo("Europe/Berlin")
EVIL = '<b>"x" & y</b>'

t = Tap()

skip_unless_ready(APP, ADMIN)
if not radicale.available():
    print("1..0 # SKIP radicale not installed")
    sys.exit(0)
skip_unless_ready(fernet=True)
from cryptography.fernet import Fernet  # noqa: E402


S = CgiSetup(t, "tf-caldavcgi-")
TMP, DB, FERNET_KEY = S.tmp, S.db, S.fernet_key
RAD = radicale.Radicale(os.path.join(TMP, "radicale"))


def radicale_users():
    RAD.add_user("eva", APPLE_PW)
    RAD.add_user("bob", BOB_PW)
    RAD.create_calendar("eva", "praxis", displayname="Praxis " + EVIL)
    RAD.create_calendar("eva", "privat", displayname="Privat")
    RAD.create_calendar("eva", "tasks", components=("VTODO",), displayname="Erinnerungen")
    RAD.create_calendar("bob", "bobcal", displayname="Bobs Kalender")
    RAD.start()


S.add_cleanup(RAD.stop)
S.start("MariaDB or Radicale", then=radicale_users)

CONFIG = S.write_config(app_settings(DB, SRCDIR, SECRET, BASE_URL, FERNET_KEY, log_level="error", backoff_ms=None))
A = CgiApp(APP, ADMIN, CONFIG)
cgi = A.cgi
RURL = RAD.url
sql, count = S.sql, S.count
EVA_ID, BOB_ID, EVA_TOKEN, BOB_TOKEN = S.prepare(A, ("eva", "bob"), tokens=("eva", "bob"))


def login(email):
    return A.login(email, PASSWORD)


def page(cookies):
    return integrations_page(A, cookies)


def apple_card(body):
    return provider_card(body, "apple")


def rad_get(href, user="eva", pw=APPLE_PW):
    """GET an object on Radicale by its href (path or absolute URL): (status, body text)."""
    url = href if href.startswith("http") else RURL + href
    req = urllib.request.Request(url, method="GET")
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def free_slots(n):
    """n (date, time) pairs of free slots of Eva's, on different days where possible."""
    out = []
    d = datetime.datetime.now(TZ).date() + datetime.timedelta(days=1)
    for _ in range(30):
        r = cgi("GET", "/api/integrations/calendar/slots", query=f"doctor=eva-ernst&date={d.isoformat()}")
        if r.status == 200 and len(r.json()["slots"]) >= 4:
            out.append((d.isoformat(), r.json()["slots"][2]))
            if len(out) == n:
                return out
        d += datetime.timedelta(days=1)
    raise AssertionError(f"only {len(out)} bookable days found")


def book(date, time_, name="Paula Patientin"):
    r = cgi("POST", "/api/appointments", json_body={
        "doctor": "eva-ernst", "service": "Sprechstunde", "start": f"{date}T{time_}", "duration_minutes": 30,
        "patient_name": name, "patient_email": "paula@example.org", "create_meet": False})
    assert r.status == 201, r
    return r.json()["id"]


def n_integrations(doctor=None):
    q = "SELECT COUNT(*) FROM calendar_integrations"
    return count(q + (f" WHERE doctor_id={doctor}" if doctor else ""))


try:
    EVA, EVA_TOK = login("eva@example.org")
    BOB, BOB_TOK = login("bob@example.org")
    ICLOUD = "/api/doctor/calendar-integrations/icloud"

    def connect_form(fields, cookies=EVA, tok=EVA_TOK, **kw):
        f = dict(fields)
        if tok is not None:
            f["csrf_token"] = tok
        return cgi("POST", ICLOUD, form=f, cookies=cookies, **kw)

    # ------------------------------------------------------------------ the form
    with t.case("iCloud card: connect form with apple_id, app_password, caldav_url (prefilled), CSRF, German help"):
        b = apple_card(page(EVA).body)
        assert f'action="{ICLOUD}"' in b, b[:2000]
        assert re.search(r'name="apple_id"[^>]*maxlength="254"', b), b
        assert re.search(r'name="app_password" type="password"[^>]*maxlength="128"', b), b
        assert re.search(r'name="caldav_url"[^>]*value="https://caldav.icloud.com"', b), b
        assert f'name="csrf_token" value="{EVA_TOK}"' in b
        for text in ("appleid.apple.com", "Anmeldung und Sicherheit", "App-spezifische Passwörter",
                     "xxxx-xxxx-xxxx-xxxx", "Mit iCloud verbinden"):
            assert text in b, text
        assert "Verbindung wird in Kürze freigeschaltet." not in b

    with t.case("Google and Outlook cards keep their hints"):
        b = page(EVA).body
        assert "Nicht eingerichtet: GOOGLE_CLIENT_ID" in b and "Nicht eingerichtet: MICROSOFT_CLIENT_ID" in b

    GOOD = {"apple_id": "eva", "app_password": APPLE_PW, "caldav_url": RURL}

    with t.case("connect form without CSRF → 403 Sicherheitsprüfung, nothing stored"):
        r = connect_form(GOOD, tok=None)
        assert r.status == 403 and "Sicherheitsprüfung" in r.body, r
        assert r.header("content-type").startswith("text/html"), r
        assert n_integrations() == 0

    with t.case("connect form without a session → 303 to the login"):
        r = cgi("POST", ICLOUD, form=dict(GOOD, csrf_token=EVA_TOK), cookies={"tf_csrf": EVA["tf_csrf"]})
        assert r.status == 303 and r.header("location") == "/doctor/login", r

    with t.case("wrong password (form) → 422 page with a German message, Apple ID kept, password not echoed, no row"):
        r = connect_form(dict(GOOD, app_password="falsch-falsch-falsch"))
        assert r.status == 422, r
        assert r.header("content-type").startswith("text/html"), r
        assert 'role="alert"' in r.body and "Passwort" in r.body, r.body[:3000]
        assert re.search(r'name="apple_id"[^>]*value="eva"', r.body), "Apple ID not kept"
        assert "falsch-falsch-falsch" not in r.body
        assert n_integrations() == 0

    with t.case("wrong password (JSON, bearer) → 422 caldav_auth_failed with a German message, no row"):
        r = cgi("POST", ICLOUD, json_body=dict(GOOD, app_password="nope"),
                headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 422, r
        e = r.json()["error"]
        assert e["code"] == "caldav_auth_failed" and e["message"], e
        assert re.search(r"[äöüß]|Passwort|Anmeldung", e["message"]), e
        assert n_integrations() == 0

    with t.case("no CalDAV server at the URL → 422 caldav_discovery_failed, no row"):
        r = cgi("POST", ICLOUD, json_body=dict(GOOD, caldav_url=f"http://127.0.0.1:{closed_port()}"),
                headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 422 and r.json()["error"]["code"] == "caldav_discovery_failed", r
        assert r.json()["error"]["message"], r
        assert n_integrations() == 0

    bad_fields = [
        ("ftp:// URL", {"caldav_url": "ftp://caldav.icloud.com"}, "caldav_url"),
        ("user name in the URL", {"caldav_url": RURL.replace("http://", "http://eva:pw@")}, "caldav_url"),
        ("URL over 2048", {"caldav_url": "https://caldav.icloud.com/" + "a" * 2030}, "caldav_url"),
        ("http to a remote host", {"caldav_url": "http://caldav.example.org/"}, "caldav_url"),
        ("a URL with spaces", {"caldav_url": "https://cal dav.example.org/"}, "caldav_url"),
        ("a bad port", {"caldav_url": "https://caldav.example.org:99999/"}, "caldav_url"),
        ("no Apple ID", {"apple_id": "  "}, "apple_id"),
        ("Apple ID over 254", {"apple_id": "a" * 250 + "@x.de"}, "apple_id"),
        ("Apple ID with a colon", {"apple_id": "eva:x"}, "apple_id"),
        ("no password", {"app_password": ""}, "app_password"),
        ("password over 128", {"app_password": "p" * 129}, "app_password"),
    ]
    for name, change, field in bad_fields:
        with t.case(f"JSON: {name} → 400 invalid_field naming {field}, German message, no row"):
            r = cgi("POST", ICLOUD, json_body=dict(GOOD, **change),
                    headers={"Authorization": "Bearer " + EVA_TOKEN})
            assert r.status == 400, r
            e = r.json()["error"]
            assert e["code"] == "invalid_field" and e["field"] == field and e["message"], e
            assert n_integrations() == 0

    with t.case("http to [::1] and, with TF_CALDAV_ALLOW_HTTP=1, to any host passes the URL check (then 422: no server)"):
        r = cgi("POST", ICLOUD, json_body=dict(GOOD, caldav_url=f"http://[::1]:{closed_port()}/"),
                headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 422 and r.json()["error"]["code"] == "caldav_discovery_failed", r
        r = cgi("POST", ICLOUD, json_body=dict(GOOD, caldav_url="http://caldav.example.invalid/"),
                headers={"Authorization": "Bearer " + EVA_TOKEN}, extra={"TF_CALDAV_ALLOW_HTTP": "1"})
        assert r.status == 422 and r.json()["error"]["code"] == "caldav_discovery_failed", r
        r = cgi("POST", ICLOUD, json_body=dict(GOOD, caldav_url="http://caldav.example.invalid/"),
                headers={"Authorization": "Bearer " + EVA_TOKEN}, extra={"TF_CALDAV_ALLOW_HTTP": "0"})
        assert r.status == 400 and r.json()["error"]["field"] == "caldav_url", r
        assert n_integrations() == 0

    with t.case("form: ftp:// URL → 400 page with the German message and the URL shown again (escaped)"):
        r = connect_form(dict(GOOD, caldav_url='ftp://x.example/"><script>'))
        assert r.status == 400 and "https://" in r.body and 'role="alert"' in r.body, r
        assert "<script>" not in r.body and "ftp://x.example/&quot;&gt;&lt;script&gt;" in r.body, r.body[:3000]
        assert n_integrations() == 0

    with t.case("JSON with a session but without X-CSRF-Token → 403; a form-less non-JSON body → 415"):
        r = cgi("POST", ICLOUD, json_body=GOOD, cookies=EVA)
        assert r.status == 403 and r.json()["error"]["code"] == "forbidden", r
        r = cgi("POST", ICLOUD, body=b"<x/>", ctype="application/xml",
                headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 415, r
        assert n_integrations() == 0

    with t.case("without CALENDAR_ENCRYPTION_KEY → 500 naming the setting, nothing stored"):
        nokey = os.path.join(TMP, "nokey.env")
        with open(CONFIG) as f:
            lines = [l for l in f if not l.startswith("CALENDAR_ENCRYPTION_KEY=")]
        with open(nokey, "w") as f:
            f.writelines(lines)
        r = cgi("POST", ICLOUD, json_body=GOOD, headers={"Authorization": "Bearer " + EVA_TOKEN}, config=nokey)
        assert r.status == 500 and "CALENDAR_ENCRYPTION_KEY" in r.json()["error"]["message"], r
        assert n_integrations() == 0

    # ------------------------------------------------------------------ connect
    with t.case("connect form with the right password (spaces around it) → 303 back with a notice"):
        r = connect_form(dict(GOOD, app_password=f"  {APPLE_PW}  ", apple_id=" eva "))
        assert r.status == 303, r
        assert r.header("location").startswith("/doctor/calendar-integrations?ok=connected"), r
        EVA_INT = int(sql(f"SELECT id FROM calendar_integrations WHERE doctor_id={EVA_ID}"))

    with t.case("the row: provider apple, account eva, caldav_url, active; calendars stored (VTODO list skipped)"):
        row = sql(f"SELECT provider, account_email, caldav_url, sync_enabled FROM calendar_integrations "
                  f"WHERE id={EVA_INT}")
        assert row.split("\t")[:2] == ["apple", "eva"], row
        assert row.split("\t")[2].startswith(RURL), row
        cals = sql(f"SELECT display_name FROM integration_calendars WHERE integration_id={EVA_INT} ORDER BY id")
        names = cals.splitlines()
        assert sorted(names) == sorted(["Praxis " + EVIL, "Privat"]), names

    with t.case("credentials_encrypted is a Fernet token with the password inside, not in clear"):
        tok = sql(f"SELECT credentials_encrypted FROM calendar_integrations WHERE id={EVA_INT}")
        assert tok.startswith("gAAAAA"), tok[:20]
        assert APPLE_PW not in tok and "eva" not in tok
        plain = Fernet(FERNET_KEY.encode()).decrypt(tok.encode()).decode()
        assert APPLE_PW in plain, "password not in the decrypted credentials"
        assert "  " + APPLE_PW not in plain, "password was not trimmed"

    with t.case("the notice and the connection's card: account, status, calendars (escaped), both checkboxes, privacy, buttons"):
        r = cgi("GET", "/doctor/calendar-integrations", query="ok=connected", cookies=EVA)
        b = r.body
        assert "Der Kalender wurde verbunden." in b, b[:2000]
        card = apple_card(b)
        assert ">aktiv<" in card and "eva" in card
        assert "Praxis &lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;" in card and EVIL not in card
        assert card.count("blockiert Termine") == 2 and card.count("erhält neue Termine") == 2, card
        assert "Patientennamen im Kalender anzeigen" in card
        for text in ("Jetzt synchronisieren", "Trennen", "Unsere Termine aus diesem Kalender entfernen"):
            assert text in card, text
        assert f'action="/doctor/calendar-integrations/{EVA_INT}/sync"' in card
        assert f'action="/doctor/calendar-integrations/{EVA_INT}/disconnect"' in card
        assert f'action="/doctor/calendar-integrations/{EVA_INT}/settings"' in card

    with t.case("the list API shows the connection"):
        r = cgi("GET", "/api/doctor/calendar-integrations", headers={"Authorization": "Bearer " + EVA_TOKEN})
        ints = r.json()["integrations"]
        assert [i["id"] for i in ints] == [EVA_INT] and ints[0]["provider"] == "apple", ints

    with t.case("JSON connect (bearer) → 201 {id, provider, account_email, calendars[...]}"):
        r = cgi("POST", ICLOUD, json_body={"apple_id": "bob", "app_password": BOB_PW, "caldav_url": RURL + "/"},
                headers={"Authorization": "Bearer " + BOB_TOKEN})
        assert r.status == 201, r
        j = r.json()
        assert set(j) == {"id", "provider", "account_email", "calendars"}, j
        assert j["provider"] == "apple" and j["account_email"] == "bob", j
        assert len(j["calendars"]) == 1, j
        c = j["calendars"][0]
        assert set(c) == {"id", "name", "blocks_availability", "receives_appointments", "can_write"}, c
        assert c["name"] == "Bobs Kalender" and c["can_write"] is True and c["blocks_availability"] is True, c
        assert c["receives_appointments"] is True, "the first writable calendar receives by default"
        BOB_INT = j["id"]
        assert count(f"SELECT COUNT(*) FROM calendar_integrations WHERE id={BOB_INT} AND doctor_id={BOB_ID}") == 1

    # ------------------------------------------------------------------ settings form
    CAL = dict((n, int(i)) for i, n in (l.split("\t") for l in sql(
        f"SELECT id, display_name FROM integration_calendars WHERE integration_id={EVA_INT}").splitlines()))
    PRAXIS, PRIVAT = CAL["Praxis " + EVIL], CAL["Privat"]
    SETTINGS = f"/doctor/calendar-integrations/{EVA_INT}/settings"

    def choices():
        return sql(f"SELECT id, blocks_availability, receives_appointments FROM integration_calendars "
                   f"WHERE integration_id={EVA_INT} ORDER BY id")

    with t.case("settings form: only Praxis blocks, Praxis receives, names shown → rows updated, 303 with notice"):
        r = cgi("POST", SETTINGS, form={"csrf_token": EVA_TOK, f"block_{PRAXIS}": "1", "receive": str(PRAXIS),
                                        "show_patient_names": "1"}, cookies=EVA)
        assert r.status == 303 and "ok=settings" in r.header("location"), r
        rows = dict((int(l.split("\t")[0]), l.split("\t")[1:]) for l in choices().splitlines())
        assert rows[PRAXIS] == ["1", "1"] and rows[PRIVAT] == ["0", "0"], rows
        assert sql(f"SELECT show_patient_names FROM calendar_integrations WHERE id={EVA_INT}") == "1"

    with t.case("the page shows the choices checked"):
        card = apple_card(page(EVA).body)
        assert re.search(rf'id="block-{PRAXIS}"[^>]*checked', card) and not re.search(rf'id="block-{PRIVAT}"[^>]*checked', card)
        assert re.search(rf'id="receive-{PRAXIS}"[^>]*checked', card), card
        assert re.search(rf'id="names-{EVA_INT}"[^>]*checked', card), card

    with t.case("settings form: both block, Privat receives, names off"):
        r = cgi("POST", SETTINGS, form={"csrf_token": EVA_TOK, f"block_{PRAXIS}": "1", f"block_{PRIVAT}": "1",
                                        "receive": str(PRIVAT)}, cookies=EVA)
        assert r.status == 303, r
        rows = dict((int(l.split("\t")[0]), l.split("\t")[1:]) for l in choices().splitlines())
        assert rows[PRAXIS] == ["1", "0"] and rows[PRIVAT] == ["1", "1"], rows
        assert sql(f"SELECT show_patient_names FROM calendar_integrations WHERE id={EVA_INT}") == "0"

    with t.case("settings form: receive = another connection's calendar → 400, nothing changed"):
        before = choices()
        bobcal = int(sql(f"SELECT id FROM integration_calendars WHERE integration_id={BOB_INT}"))
        r = cgi("POST", SETTINGS, form={"csrf_token": EVA_TOK, "receive": str(bobcal)}, cookies=EVA)
        assert r.status == 400, r
        assert choices() == before

    with t.case("settings form without CSRF → 403, nothing changed"):
        before = choices()
        r = cgi("POST", SETTINGS, form={"receive": str(PRAXIS)}, cookies=EVA)
        assert r.status == 403 and "Sicherheitsprüfung" in r.body, r
        assert choices() == before

    # back to Praxis receiving for the push test
    cgi("POST", SETTINGS, form={"csrf_token": EVA_TOK, f"block_{PRAXIS}": "1", f"block_{PRIVAT}": "1",
                                "receive": str(PRAXIS)}, cookies=EVA)

    # ------------------------------------------------------------------ another doctor's ids
    with t.case("another doctor's connection → 404 for sync, disconnect, settings (forms) and the API"):
        for path in (f"/doctor/calendar-integrations/{BOB_INT}/sync",
                     f"/doctor/calendar-integrations/{BOB_INT}/disconnect",
                     f"/doctor/calendar-integrations/{BOB_INT}/settings"):
            r = cgi("POST", path, form={"csrf_token": EVA_TOK, "remove_events": "1"}, cookies=EVA)
            assert r.status == 404, (path, r)
        r = cgi("POST", f"/api/doctor/calendar-integrations/{BOB_INT}/sync",
                headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 404 and r.json()["error"]["code"] == "not_found", r
        r = cgi("DELETE", f"/api/doctor/calendar-integrations/{BOB_INT}",
                headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 404, r
        r = cgi("DELETE", "/api/doctor/calendar-integrations/999999",
                headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 404, r
        assert count(f"SELECT COUNT(*) FROM calendar_integrations WHERE id={BOB_INT}") == 1

    with t.case("routes: a non-numeric id → 404; GET on the DELETE route → 405 with Allow"):
        r = cgi("POST", "/api/doctor/calendar-integrations/abc/sync", headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 404, r
        r = cgi("GET", f"/api/doctor/calendar-integrations/{EVA_INT}", headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 405 and "DELETE" in (r.header("allow") or ""), r

    # ------------------------------------------------------------------ sync now
    (D1, T1), (D2, T2) = free_slots(2)
    APPT = book(D1, T1)

    with t.case("sync API without auth → 401; with a session but no X-CSRF-Token → 403"):
        r = cgi("POST", f"/api/doctor/calendar-integrations/{EVA_INT}/sync")
        assert r.status == 401, r
        r = cgi("POST", f"/api/doctor/calendar-integrations/{EVA_INT}/sync", cookies=EVA)
        assert r.status == 403, r

    with t.case("sync API (session + X-CSRF-Token) → 200 {status, pushed, pulled, requests, errors, duration_ms, last_error}"):
        r = cgi("POST", f"/api/doctor/calendar-integrations/{EVA_INT}/sync", cookies=EVA,
                headers={"X-CSRF-Token": EVA_TOK})
        assert r.status == 200, r
        j = r.json()
        assert set(j) == {"status", "pushed", "pulled", "requests", "errors", "duration_ms", "last_error"}, j
        assert j["status"] == "active" and j["errors"] == 0 and j["last_error"] is None, j
        assert j["pushed"] >= 1 and j["requests"] >= 1 and j["duration_ms"] >= 0, j

    with t.case("the booked appointment is an event on Radicale (HTTP GET), without the patient's name"):
        href = sql(f"SELECT remote_id FROM event_mappings WHERE appointment_id={APPT} AND integration_id={EVA_INT}")
        assert href, "no mapping"
        st, body = rad_get(href)
        assert st == 200, (st, body[:500])
        assert "BEGIN:VEVENT" in body and "TerminFinder" in body, body
        assert "Paula" not in body and "paula@example.org" not in body, body
        assert "/eva/praxis/" in href, href
        EVENT_HREF = href

    with t.case("sync form → 303 with a notice; the card shows statistics and last sync"):
        r = cgi("POST", f"/doctor/calendar-integrations/{EVA_INT}/sync", form={"csrf_token": EVA_TOK}, cookies=EVA)
        assert r.status == 303 and "ok=synced" in r.header("location"), r
        r = cgi("GET", "/doctor/calendar-integrations", query="ok=synced", cookies=EVA)
        assert "Die Synchronisierung ist abgeschlossen." in r.body
        card = apple_card(r.body)
        m = re.search(r"(\d+) Synchronisierungen", card)
        assert m and int(m.group(1)) >= 2, card
        assert "noch nie" not in card and " Uhr</dd>" in card, card

    with t.case("sync form without CSRF → 403; sync API with a bearer token → 200"):
        r = cgi("POST", f"/doctor/calendar-integrations/{EVA_INT}/sync", form={}, cookies=EVA)
        assert r.status == 403, r
        r = cgi("POST", f"/api/doctor/calendar-integrations/{EVA_INT}/sync",
                headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 200 and r.json()["pushed"] == 0, r

    # ------------------------------------------------------------------ conflicts and review
    APPT2 = book(D2, T2, name="Zweite Patientin")
    with t.case("privacy opt-in through the settings form: the next pushed event carries the name, never the e-mail"):
        r = cgi("POST", SETTINGS, form={"csrf_token": EVA_TOK, f"block_{PRAXIS}": "1", f"block_{PRIVAT}": "1",
                                        "receive": str(PRAXIS), "show_patient_names": "1"}, cookies=EVA)
        assert r.status == 303, r
        r = cgi("POST", f"/api/doctor/calendar-integrations/{EVA_INT}/sync",
                headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 200 and r.json()["pushed"] >= 1, r
        href2 = sql(f"SELECT remote_id FROM event_mappings WHERE appointment_id={APPT2} AND integration_id={EVA_INT}")
        st, body = rad_get(href2)
        assert st == 200 and "Zweite Patientin" in body and "paula@example.org" not in body, (st, body)

    sql(f"INSERT INTO busy_blocks (integration_id, doctor_id, calendar_id, external_id, start_utc, end_utc) "
        f"SELECT {EVA_INT}, doctor_id, {PRIVAT}, SHA2('x', 256), start_utc - INTERVAL 15 MINUTE, "
        f"start_utc + INTERVAL 15 MINUTE FROM appointments WHERE id={APPT}")
    sql(f"UPDATE appointments SET needs_review=1, review_reason='Im Kalender verschoben {EVIL}' WHERE id={APPT2}")
    sql(f"UPDATE services SET name='Sprechstunde {EVIL}' WHERE doctor_id={EVA_ID}")
    sql(f"UPDATE appointments SET service_name='Sprechstunde {EVIL}' WHERE id={APPT}")

    def local(appt):
        s = sql(f"SELECT start_utc FROM appointments WHERE id={appt}")
        dt = datetime.datetime.fromisoformat(s).replace(tzinfo=datetime.timezone.utc).astimezone(TZ)
        return dt

    with t.case("settings page: Konflikte lists the overlapping appointment (date, time, service; escaped)"):
        r = cgi("GET", "/doctor/settings", cookies=EVA)
        assert r.status == 200, r
        b = r.body
        sec = b[b.index('id="konflikte"'):b.index('id="pruefung"')]
        dt = local(APPT)
        assert "Konflikte" in sec and dt.strftime("%H:%M") in sec, sec
        assert f"{dt.day}. " in sec and str(dt.year) in sec, sec
        assert "Sprechstunde &lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;" in sec and EVIL not in b, sec
        assert "Zweite" not in sec

    with t.case("settings page: Zur Prüfung lists the flagged appointment with its reason (escaped) and a Gesehen button"):
        b = r.body
        sec = b[b.index('id="pruefung"'):b.index('id="termine"')]
        assert "Zur Prüfung" in sec and local(APPT2).strftime("%H:%M") in sec, sec
        assert "Im Kalender verschoben &lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;" in sec, sec
        assert f'action="/doctor/appointments/{APPT2}/reviewed"' in sec and "Gesehen" in sec, sec

    with t.case("Gesehen: without CSRF → 403; Bob on Eva's appointment → 404; Eva → 303, needs_review cleared"):
        r = cgi("POST", f"/doctor/appointments/{APPT2}/reviewed", form={}, cookies=EVA)
        assert r.status == 403, r
        r = cgi("POST", f"/doctor/appointments/{APPT2}/reviewed", form={"csrf_token": BOB_TOK}, cookies=BOB)
        assert r.status == 404, r
        assert sql(f"SELECT needs_review FROM appointments WHERE id={APPT2}") == "1"
        r = cgi("POST", f"/doctor/appointments/{APPT2}/reviewed", form={"csrf_token": EVA_TOK}, cookies=EVA)
        assert r.status == 303 and "ok=reviewed" in r.header("location"), r
        assert sql(f"SELECT needs_review FROM appointments WHERE id={APPT2}") == "0"
        r = cgi("GET", "/doctor/settings", cookies=EVA)
        sec = r.body[r.body.index('id="pruefung"'):r.body.index('id="termine"')]
        assert f"/doctor/appointments/{APPT2}/reviewed" not in sec and "Nichts zu prüfen." in sec, sec

    with t.case("Bob's settings page shows none of Eva's flags"):
        r = cgi("GET", "/doctor/settings", cookies=BOB)
        assert r.status == 200 and "Sprechstunde &lt;b&gt;" not in r.body and "Keine Konflikte." in r.body, r

    # ------------------------------------------------------------------ disconnect
    with t.case("DELETE with a session but no X-CSRF-Token → 403, row kept"):
        r = cgi("DELETE", f"/api/doctor/calendar-integrations/{BOB_INT}", cookies=BOB)
        assert r.status == 403, r
        assert count(f"SELECT COUNT(*) FROM calendar_integrations WHERE id={BOB_INT}") == 1

    with t.case("DELETE (bearer) → 200 {deleted: true}; row, calendars and credentials gone"):
        r = cgi("DELETE", f"/api/doctor/calendar-integrations/{BOB_INT}", headers={"Authorization": "Bearer " + BOB_TOKEN})
        assert r.status == 200 and r.json() == {"deleted": True}, r
        assert count(f"SELECT COUNT(*) FROM calendar_integrations WHERE id={BOB_INT}") == 0
        assert count(f"SELECT COUNT(*) FROM integration_calendars WHERE integration_id={BOB_INT}") == 0

    with t.case("disconnect form without CSRF → 403, row kept"):
        r = cgi("POST", f"/doctor/calendar-integrations/{EVA_INT}/disconnect", form={"remove_events": "1"}, cookies=EVA)
        assert r.status == 403, r
        assert n_integrations(EVA_ID) == 1

    with t.case("disconnect form with remove_events=1 → 303; row and busy blocks gone; the event is gone from Radicale"):
        r = cgi("POST", f"/doctor/calendar-integrations/{EVA_INT}/disconnect",
                form={"csrf_token": EVA_TOK, "remove_events": "1"}, cookies=EVA)
        assert r.status == 303 and "ok=disconnected" in r.header("location"), r
        assert n_integrations(EVA_ID) == 0
        assert count(f"SELECT COUNT(*) FROM busy_blocks WHERE doctor_id={EVA_ID}") == 0
        st, body = rad_get(EVENT_HREF)
        assert st == 404, (st, body[:300])

    with t.case("the page after disconnecting: notice, no connection, the connect form again"):
        r = cgi("GET", "/doctor/calendar-integrations", query="ok=disconnected", cookies=EVA)
        assert "Die Verbindung wurde getrennt." in r.body and "Sie haben noch keinen Kalender verbunden." in r.body
        assert "Mit iCloud verbinden" in r.body and "Jetzt synchronisieren" not in r.body

    with t.case("reconnect, sync, disconnect without remove_events → the event stays on Radicale"):
        r = cgi("POST", ICLOUD, json_body=GOOD, headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 201, r
        iid = r.json()["id"]
        r = cgi("POST", f"/api/doctor/calendar-integrations/{iid}/sync", headers={"Authorization": "Bearer " + EVA_TOKEN})
        assert r.status == 200 and r.json()["pushed"] >= 1, r
        href = sql(f"SELECT remote_id FROM event_mappings WHERE appointment_id={APPT} AND integration_id={iid}")
        assert rad_get(href)[0] == 200, href
        r = cgi("POST", f"/doctor/calendar-integrations/{iid}/disconnect", form={"csrf_token": EVA_TOK}, cookies=EVA)
        assert r.status == 303, r
        assert n_integrations(EVA_ID) == 0
        assert rad_get(href)[0] == 200, "the event was removed although remove_events was not set"

    with t.case("every answer carries the security headers; HTML is no-store"):
        security_headers_ok(A.responses)

    with t.case("the app password never reaches the app's stderr (logs)"):
        for resp in A.responses:
            assert APPLE_PW not in resp.stderr and BOB_PW not in resp.stderr, resp.stderr[-500:]
finally:
    S.finish()
t.done()
