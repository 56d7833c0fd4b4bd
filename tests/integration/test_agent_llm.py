#!/usr/bin/env python3
"""test_agent_llm.py: POST /api/agent/chat in LLM mode: tf-calendar.fcgi in CGI mode, a private MariaDB and the fake
OpenAI server (tests/fakes/openai.py) (TAP).

API shape and every error code and limit of the contract (400 per field, 415, 404, 409, 429 + Retry-After, 503),
the stored conversation and message rows with their metadata, the request the model got (tool schemas, system
prompt facts, tool results as tool messages after the assistant message replayed verbatim), several tool calls in
one turn, malformed calls answered with error results, a booking through the tool (appointment, outbox and
mail_queue rows, "appointment" in the answer), the same book_appointment twice → one appointment, 429 / timeout /
500 → 503 with nothing stored, the step limit, history replayed on the next turn, mode kept per conversation,
no secrets or message contents in the log, tf-remind's retention.
"""
import datetime
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import zoneinfo

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakes"))

from tap import Tap  # noqa: E402
from cgiapp import SECRET, CgiApp, CgiSetup, b64u, built, cgi_settings, skip_unless_ready  # noqa: E402
from openai import FakeOpenAI  # noqa: E402

APP, ADMIN, REMIND = built(BUILDDIR, "tf-calendar.fcgi", "tf-admin", "tf-remind")
TZ = zoneinfo.ZoneInfo("Europe/Berlin")
PATH = "/api/agent/chat"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")

t = Tap()
skip_unless_ready(APP, ADMIN, REMIND)

S = CgiSetup(t, "tf-agent-llm-")
sql, count = S.sql, S.count
FAKE = FakeOpenAI()
S.start("MariaDB or the fake OpenAI", FAKE)

CONFIG = S.write_config(cgi_settings(S.db, SRCDIR, SECRET, fernet_key=S.fernet_key, smtp=True,
                                     TF_LEAD_TIME_MINUTES="0", TF_LLM_TIMEOUT="3", **FAKE.env()))
A = CgiApp(APP, ADMIN, CONFIG)
IPS = iter(f"192.0.2.{i}" for i in range(1, 250))


def today():
    return datetime.datetime.now(TZ).date()


with S.bail_on_error():
    A.admin("migrate")
    SALON = S.add_doctor(A, "salon@example.org", "Dr. Olena Schmidt", "salon")
    OTHER = S.add_doctor(A, "other@example.org", "Dr. Other", "other")
    sql(f"UPDATE doctors SET practice_name='Studio Schmidt', practice_address='Lindenstr. 5, 10969 Berlin' "
        f"WHERE id={SALON}; UPDATE services SET active=0 WHERE doctor_id={SALON}; "
        f"INSERT INTO services (doctor_id, name, duration_minutes) VALUES ({SALON}, 'Haircut', 60), "
        f"({SALON}, 'Manicure', 60); DELETE FROM opening_hours WHERE doctor_id={SALON}; "
        + "".join(f"INSERT INTO opening_hours (doctor_id, weekday, start_minute, end_minute) "
                  f"VALUES ({SALON}, {d}, 480, 1080);" for d in range(1, 8)))


def chat(message, conversation=None, doctor="salon", ip=None, extra=None, body=None, ctype=None):
    if body is None:
        body = {"message": message, "doctor": doctor}
        if conversation is not None:
            body["conversation_id"] = conversation
        body = json.dumps(body).encode()
    return A.cgi("POST", PATH, body=body, ctype=ctype or "application/json", remote=ip or next(IPS), extra=extra)


def slots_api(date):
    r = A.cgi("GET", "/api/integrations/calendar/slots", query=f"doctor=salon&date={date}&duration=60")
    assert r.status == 200, r
    return r.json()


def conv_row(token):
    h = hashlib.sha256(token.encode()).hexdigest()
    row = sql(f"SELECT id, doctor_id, mode, language, turns, IFNULL(appointment_id, 0), client_hash, "
              f"IFNULL(HEX(state), '-') FROM agent_conversations WHERE token_hash='{h}'")
    if not row:
        return None
    f = row.split("\t")
    return {"id": int(f[0]), "doctor_id": int(f[1]), "mode": f[2], "language": f[3], "turns": int(f[4]),
            "appointment_id": int(f[5]), "client_hash": f[6],
            "state": bytes.fromhex(f[7]).decode() if f[7] != "-" else None}


def messages(conv_id):
    out = []
    for line in sql(f"SELECT role, HEX(content), IFNULL(HEX(metadata), ''), client_hash FROM agent_messages "
                    f"WHERE conversation_id={conv_id} ORDER BY id").splitlines():
        role, c, m, ch = line.split("\t")
        out.append({"role": role, "content": bytes.fromhex(c).decode(),
                    "metadata": json.loads(bytes.fromhex(m).decode()) if m else None, "client_hash": ch})
    return out


def totals():
    return (count("SELECT COUNT(*) FROM agent_conversations"), count("SELECT COUNT(*) FROM agent_messages"),
            count("SELECT COUNT(*) FROM appointments"))


def last_request():
    reqs = FAKE.chat_requests()
    assert reqs, "the fake got no request"
    return reqs[-1]


def err(r, status, code, field=None):
    assert r.status == status, r
    e = r.json()["error"]
    assert e["code"] == code and e["message"], e
    if field is not None:
        assert e.get("field") == field, e
    return e


try:
    # a bookable day (no holiday) within the next two weeks, and its free times
    DAY = None
    d = today() + datetime.timedelta(days=1)
    for _ in range(14):
        j = slots_api(d.isoformat())
        if len(j["slots"]) >= 8:
            DAY, DAY_SLOTS = d.isoformat(), j["slots"]
            break
        d += datetime.timedelta(days=1)
    if not DAY:
        t.bail("no bookable day in the next two weeks")
    TOMORROW = slots_api("tomorrow")

    # ------------------------------------------------------------------ API shape and storage
    FAKE.clear_requests()
    FAKE.queue_reply("Hallo! Für welche Leistung möchten Sie einen Termin?")
    IP1 = next(IPS)
    with t.case("a new conversation: 200 {conversation_id (43 base64url), reply, mode llm, tool_calls []}"):
        r = chat("Hallo, ich möchte einen Termin", ip=IP1)
        assert r.status == 200, r
        j = r.json()
        assert set(j) == {"conversation_id", "reply", "mode", "tool_calls"}, j
        assert TOKEN_RE.match(j["conversation_id"]) and j["mode"] == "llm" and j["tool_calls"] == [], j
        assert j["reply"] == "Hallo! Für welche Leistung möchten Sie einen Termin?", j
        assert r.header("content-type").startswith("application/json"), r.headers
        assert not r.cookie("tf_session") and not r.cookie("tf_csrf"), r.headers
        C1 = j["conversation_id"]

    with t.case("stored: the conversation (token only as SHA-256, client as HMAC of the IP, mode, turns 1)"):
        row = conv_row(C1)
        assert row and row["doctor_id"] == SALON and row["mode"] == "llm" and row["turns"] == 1, row
        want = hmac.new(SECRET.encode(), IP1.encode(), hashlib.sha256).hexdigest()
        assert row["client_hash"] == want, row
        assert count(f"SELECT COUNT(*) FROM agent_conversations WHERE token_hash='{C1}'") == 0
        assert IP1 not in sql("SELECT GROUP_CONCAT(client_hash) FROM agent_messages")

    with t.case("stored: user + assistant messages; the assistant's metadata {mode, model, function_calls []}"):
        ms = messages(row["id"])
        assert [m["role"] for m in ms] == ["user", "assistant"], ms
        assert ms[0]["content"] == "Hallo, ich möchte einen Termin" and ms[0]["metadata"] is None, ms
        assert ms[1]["content"] == j["reply"], ms
        assert ms[1]["metadata"] == {"mode": "llm", "model": "gpt-4o-mini", "function_calls": []}, ms[1]
        assert all(m["client_hash"] == row["client_hash"] for m in ms)

    with t.case("the request to the model: model, the key as bearer, temperature, tool_choice auto, the two tool schemas"):
        rq = last_request()
        assert rq["model"] == "gpt-4o-mini" and rq["tool_choice"] == "auto" and rq["temperature"] == 0.2, rq
        entry = FAKE.request_log(0, "/v1/chat/completions")[-1]
        # the fake checks the key (a wrong one is 401) and logs it shortened
        assert entry["status"] == 200 and entry["headers"]["Authorization"] == "Bearer s…", entry
        names = [x["function"]["name"] for x in rq["tools"]]
        assert names == ["check_calendar_availability", "book_appointment"], names
        chk, book = (x["function"]["parameters"] for x in rq["tools"])
        assert chk["type"] == "object" and chk["required"] == ["date"], chk
        assert chk["properties"]["duration_minutes"]["type"] == "integer", chk
        assert set(book["required"]) == {"customer_name", "customer_email", "service", "date", "time"}, book
        assert book["properties"]["service"]["enum"] == ["Haircut", "Manicure"], book
        assert book["properties"]["create_meet"]["type"] == "boolean", book

    with t.case("the system prompt: practice, address, doctor, today + weekday in Europe/Berlin, services, the rules"):
        sysmsg = rq["messages"][0]
        assert sysmsg["role"] == "system", sysmsg
        s = sysmsg["content"]
        for want in ("Studio Schmidt", "Lindenstr. 5", "Dr. Olena Schmidt", today().isoformat(),
                     today().strftime("%A"), "Europe/Berlin", "Haircut: 60 minutes", "Manicure: 60 minutes",
                     "check_calendar_availability", "confirmation", "language", "name and e-mail"):
            assert want in s, (want, s)
        assert "Sprechstunde" not in s, s
        assert rq["messages"][1:] == [{"role": "user", "content": "Hallo, ich möchte einen Termin"}], rq["messages"]

    # ------------------------------------------------------------------ tool calls
    FAKE.clear_requests()
    FAKE.queue_tool_calls(("check_calendar_availability", {"date": "tomorrow", "duration_minutes": 60}))
    FAKE.queue_reply("Morgen ist frei um ...")
    with t.case("check_calendar_availability through the model: result = the slots API's slots + the seed's text"):
        r = chat("Haarschnitt morgen bitte", conversation=C1, ip=IP1)
        assert r.status == 200, r
        j = r.json()
        assert j["conversation_id"] == C1 and j["reply"] == "Morgen ist frei um ...", j
        assert len(j["tool_calls"]) == 1, j
        tc = j["tool_calls"][0]
        assert set(tc) == {"function", "arguments", "result"}, tc
        assert tc["function"] == "check_calendar_availability", tc
        assert tc["arguments"] == {"date": "tomorrow", "duration_minutes": 60}, tc
        res = tc["result"]
        assert res["ok"] is True and res["date"] == TOMORROW["date"] and res["duration_minutes"] == 60, res
        assert res["slots"] == TOMORROW["slots"] and res["text"] == TOMORROW["summary"], res

    with t.case("the tool result went back: the assistant message verbatim (its id), then a tool message with the JSON"):
        reqs = FAKE.chat_requests()
        assert len(reqs) == 2, len(reqs)
        m2 = reqs[1]["messages"]
        am, tm = m2[-2], m2[-1]
        assert am["role"] == "assistant" and am["content"] is None and len(am["tool_calls"]) == 1, am
        call = am["tool_calls"][0]
        assert call["type"] == "function" and call["function"]["name"] == "check_calendar_availability", call
        assert json.loads(call["function"]["arguments"]) == {"date": "tomorrow", "duration_minutes": 60}, call
        assert tm["role"] == "tool" and tm["tool_call_id"] == call["id"], tm
        assert json.loads(tm["content"]) == res, tm

    with t.case("history replayed on the next turn: earlier user messages, the calls with results, the replies"):
        FAKE.clear_requests()
        FAKE.queue_reply("Gern.")
        r = chat("Danke", conversation=C1, ip=IP1)
        assert r.status == 200, r
        m = last_request()["messages"]
        roles = [x["role"] for x in m]
        assert roles == ["system", "user", "assistant", "user", "assistant", "tool", "assistant", "user"], roles
        assert m[1]["content"] == "Hallo, ich möchte einen Termin" and m[3]["content"] == "Haarschnitt morgen bitte"
        assert m[2]["content"] == "Hallo! Für welche Leistung möchten Sie einen Termin?", m[2]
        assert m[4]["tool_calls"][0]["function"]["name"] == "check_calendar_availability", m[4]
        assert m[5]["tool_call_id"] == m[4]["tool_calls"][0]["id"] and json.loads(m[5]["content"])["ok"] is True
        assert m[6]["content"] == "Morgen ist frei um ..." and m[7]["content"] == "Danke", m
        assert conv_row(C1)["turns"] == 3

    with t.case("stored metadata of a turn with a call: function, arguments, result and the model's id"):
        ms = messages(conv_row(C1)["id"])
        meta = ms[3]["metadata"]
        assert meta["mode"] == "llm" and meta["model"] == "gpt-4o-mini", meta
        fc = meta["function_calls"]
        assert len(fc) == 1 and fc[0]["function"] == "check_calendar_availability", fc
        assert fc[0]["arguments"] == {"date": "tomorrow", "duration_minutes": 60} and fc[0]["result"] == res, fc
        assert fc[0]["id"].startswith("call_"), fc

    FAKE.clear_requests()
    FAKE.queue_tool_calls(("check_calendar_availability", {"date": DAY, "duration_minutes": 60}),
                          ("check_calendar_availability", {"date": "in 3 days"}))
    FAKE.queue_reply("Hier sind die Zeiten.")
    with t.case("several tool calls in one turn: each run and answered with its own tool message, in order"):
        r = chat("Welche Zeiten gibt es?")
        assert r.status == 200, r
        j = r.json()
        assert [c["function"] for c in j["tool_calls"]] == ["check_calendar_availability"] * 2, j
        assert j["tool_calls"][0]["result"]["slots"] == DAY_SLOTS, j["tool_calls"][0]
        in3 = (today() + datetime.timedelta(days=3)).isoformat()
        assert j["tool_calls"][1]["result"]["date"] == in3, j["tool_calls"][1]
        assert j["tool_calls"][1]["result"]["duration_minutes"] == 60, j["tool_calls"][1]
        m = FAKE.chat_requests()[1]["messages"]
        ids = [c["id"] for c in m[-3]["tool_calls"]]
        assert [x["role"] for x in m[-3:]] == ["assistant", "tool", "tool"], m[-3:]
        assert [x["tool_call_id"] for x in m[-2:]] == ids and len(set(ids)) == 2, m[-3:]
        assert [json.loads(x["content"]) for x in m[-2:]] == [c["result"] for c in j["tool_calls"]]

    FAKE.clear_requests()
    FAKE.queue_raw_tool_calls({"name": "check_calendar_availability", "arguments": "{date: tomorrow"},
                              {"name": "delete_all_appointments", "arguments": "{}"},
                              {"name": "check_calendar_availability", "arguments": "[1, 2]"})
    FAKE.queue_reply("Entschuldigung, bitte nennen Sie das Datum noch einmal.")
    with t.case("malformed calls (arguments not JSON, not an object; an unknown tool) get error results, recorded"):
        r = chat("Termin?")
        assert r.status == 200, r
        tcs = r.json()["tool_calls"]
        assert len(tcs) == 3, tcs
        assert tcs[0]["arguments"] == "{date: tomorrow" and tcs[0]["result"]["ok"] is False, tcs[0]
        assert tcs[0]["result"]["error"] == "invalid_argument" and "JSON" in tcs[0]["result"]["text"], tcs[0]
        assert tcs[1]["function"] == "delete_all_appointments" and tcs[1]["result"]["error"] == "unknown_tool", tcs[1]
        assert tcs[2]["arguments"] == "[1, 2]" and tcs[2]["result"]["error"] == "invalid_argument", tcs[2]
        m = FAKE.chat_requests()[1]["messages"]
        assert [x["role"] for x in m[-4:]] == ["assistant", "tool", "tool", "tool"], m[-4:]
        assert m[-4]["tool_calls"][0]["function"]["arguments"] == "{date: tomorrow", m[-4]
        assert json.loads(m[-3]["content"])["error"] == "invalid_argument", m[-3]
        assert r.json()["reply"].startswith("Entschuldigung"), r.json()

    FAKE.clear_requests()
    FAKE.queue_tool_calls(*[("check_calendar_availability", {"date": DAY})] * 17)
    FAKE.queue_reply("Zu viele Abfragen.")
    with t.case("at most 16 tool calls recorded per turn; the 17th is answered with an error the model can read"):
        r = chat("Zeiten?")
        assert r.status == 200 and len(r.json()["tool_calls"]) == 16, r
        m = FAKE.chat_requests()[1]["messages"]
        assert [x["role"] for x in m[-18:]] == ["assistant"] + ["tool"] * 17, [x["role"] for x in m[-18:]]
        last = json.loads(m[-1]["content"])
        assert last["ok"] is False and "Too many tool calls" in last["text"], last
        meta = messages(conv_row(r.json()["conversation_id"])["id"])[1]["metadata"]
        assert len(meta["function_calls"]) == 16, meta

    FAKE.clear_requests()
    FAKE.queue_tool_calls(("check_calendar_availability", {"date": "irgendwann bald"}),
                          ("book_appointment", {"customer_name": "John Doe", "customer_email": "john(at)example",
                                                "service": "Haircut", "date": DAY, "time": "14:00"}),
                          ("book_appointment", {"customer_name": "John Doe", "customer_email": "john@example.com",
                                                "service": "Massage", "date": DAY, "time": "14:00"}),
                          ("book_appointment", {"customer_name": "John Doe", "customer_email": "john@example.com",
                                                "service": "Haircut", "date": DAY, "time": "19:00"}),
                          ("book_appointment", {"customer_name": "John Doe", "customer_email": "john@example.com",
                                                "service": "Haircut", "date": DAY, "time": "14:00",
                                                "duration_minutes": 30}))
    FAKE.queue_reply("Bitte prüfen Sie Ihre Angaben.")
    with t.case("argument validation: date not understood, bad e-mail, unknown service, outside hours, wrong duration"):
        before = totals()
        r = chat("Buchen")
        assert r.status == 200, r
        res = [c["result"] for c in r.json()["tool_calls"]]
        assert res[0]["error"] == "invalid_argument" and res[0]["field"] == "date", res[0]
        assert res[1]["error"] == "invalid_argument" and res[1]["field"] == "customer_email", res[1]
        assert res[2]["error"] == "unknown_service" and "Haircut" in res[2]["text"] and "Manicure" in res[2]["text"]
        assert res[3]["error"] == "outside_hours" and res[3]["slots"] == DAY_SLOTS[:6], res[3]
        assert all(s in res[3]["text"] for s in DAY_SLOTS[:6]), res[3]
        assert res[4]["error"] == "invalid_argument" and res[4]["field"] == "duration_minutes", res[4]
        assert totals()[2] == before[2], "an appointment was made"

    # ------------------------------------------------------------------ booking
    BOOK = {"customer_name": "John Doe", "customer_email": "john@example.com", "service": "Haircut",
            "date": DAY, "time": "14:00", "duration_minutes": 60, "create_meet": False}
    FAKE.clear_requests()
    FAKE.queue_tool_calls(("book_appointment", BOOK))
    FAKE.queue_reply("Gebucht! Bis dann.")
    IPB = next(IPS)
    with t.case("book_appointment through the model: 200 with the appointment; the seed's confirmation as result"):
        r = chat("Ja, bitte buchen: Haircut 14:00, John Doe, john@example.com", ip=IPB)
        assert r.status == 200, r
        j = r.json()
        assert set(j) == {"conversation_id", "reply", "mode", "tool_calls", "appointment"}, j
        ap = j["appointment"]
        assert set(ap) == {"id", "service", "start", "end", "duration_minutes", "customer_name", "customer_email",
                           "create_meet", "video_link", "status", "cancel_url"}, ap
        assert ap["service"] == "Haircut" and ap["start"] == DAY + "T14:00" and ap["end"] == DAY + "T15:00", ap
        assert ap["duration_minutes"] == 60 and ap["customer_email"] == "john@example.com", ap
        assert ap["status"] == "confirmed" and ap["video_link"] is None and ap["create_meet"] is False, ap
        assert re.match(r"^http://localhost:8080/termin/absage/[A-Za-z0-9_-]{43}$", ap["cancel_url"]), ap
        res = j["tool_calls"][0]["result"]
        assert res["ok"] is True and res["appointment"] == ap, res
        txt = res["text"]
        when = datetime.date.fromisoformat(DAY)
        assert txt.startswith("✅ Appointment booked successfully!\n\n📅 Haircut for John Doe\n🕐 "), txt
        assert f"{when.strftime('%A, %B %d')} at 02:00 PM" in txt and "⏱️ Duration: 60 minutes" in txt, txt
        assert txt.endswith("📧 Confirmation email sent to john@example.com"), txt
        assert j["reply"] == "Gebucht! Bis dann.", j
        CB = j["conversation_id"]
        APPT = ap["id"]

    with t.case("the appointment row is the booking API's: service, local start, patient, outbox 'create', mail_queue"):
        row = sql(f"SELECT doctor_id, service_name, patient_name, patient_email, status, "
                  f"TIMESTAMPDIFF(MINUTE, start_utc, end_utc) FROM appointments WHERE id={APPT}").split("\t")
        assert row == [str(SALON), "Haircut", "John Doe", "john@example.com", "confirmed", "60"], row
        start_utc = sql(f"SELECT start_utc FROM appointments WHERE id={APPT}")
        local = datetime.datetime.fromisoformat(start_utc).replace(tzinfo=datetime.timezone.utc).astimezone(TZ)
        assert local.strftime("%Y-%m-%dT%H:%M") == DAY + "T14:00", local
        assert count(f"SELECT COUNT(*) FROM outbox WHERE appointment_id={APPT} AND action='create'") == 1
        assert count(f"SELECT COUNT(*) FROM mail_queue WHERE appointment_id={APPT} AND kind='confirmation'") == 1
        # the mail was tried after the answer (the SMTP port is closed: it stays queued for tf-remind)
        assert count(f"SELECT attempts FROM mail_queue WHERE appointment_id={APPT}") >= 1

    with t.case("the conversation points at the appointment; the slot is gone from the slots API"):
        assert conv_row(CB)["appointment_id"] == APPT, conv_row(CB)
        assert "14:00" not in slots_api(DAY)["slots"]

    FAKE.clear_requests()
    FAKE.queue_tool_calls(("book_appointment", dict(BOOK, date=DAY, time="2pm")))
    FAKE.queue_reply("Schon gebucht.")
    with t.case("the same book_appointment again in the conversation → the same appointment, no second one"):
        before = count("SELECT COUNT(*) FROM appointments")
        r = chat("Bitte nochmal buchen", conversation=CB, ip=IPB)
        assert r.status == 200, r
        j = r.json()
        assert j["appointment"]["id"] == APPT and j["tool_calls"][0]["result"]["ok"] is True, j
        assert count("SELECT COUNT(*) FROM appointments") == before
        assert count(f"SELECT COUNT(*) FROM outbox WHERE appointment_id={APPT}") == 1

    FAKE.clear_requests()
    TWICE = dict(BOOK, time="11:00", customer_name="Ivan Petrenko", customer_email="ivan@example.com")
    FAKE.queue_tool_calls(("book_appointment", TWICE), ("book_appointment", TWICE))
    FAKE.queue_reply("Erledigt.")
    with t.case("the same book_appointment twice in one model answer → one appointment, both results name it"):
        before = count("SELECT COUNT(*) FROM appointments")
        r = chat("Ivan Petrenko, ivan@example.com, 11:00, ja")
        assert r.status == 200, r
        res = [c["result"] for c in r.json()["tool_calls"]]
        assert res[0]["ok"] is True and res[1]["ok"] is True, res
        assert res[0]["appointment"]["id"] == res[1]["appointment"]["id"] == r.json()["appointment"]["id"], res
        assert count("SELECT COUNT(*) FROM appointments") == before + 1
        assert count(f"SELECT COUNT(*) FROM mail_queue WHERE appointment_id={res[0]['appointment']['id']}") == 1

    FAKE.clear_requests()
    FAKE.queue_tool_calls(("book_appointment", dict(BOOK, customer_name="Jane Roe", customer_email="jane@example.com")))
    FAKE.queue_reply("Leider vergeben.")
    with t.case("the same slot for someone else → slot_taken with free times of that day; nothing booked"):
        before = count("SELECT COUNT(*) FROM appointments")
        r = chat("Jane Roe, jane@example.com, 14:00")
        assert r.status == 200, r
        res = r.json()["tool_calls"][0]["result"]
        assert res["ok"] is False and res["error"] == "slot_taken" and res["field"] == "time", res
        free = slots_api(DAY)["slots"]
        assert res["slots"] == free[:6] and "14:00" not in res["slots"], res
        assert "appointment" not in r.json() and count("SELECT COUNT(*) FROM appointments") == before

    # ------------------------------------------------------------------ failures of the endpoint
    def nothing_stored(fn):
        before = totals()
        r = fn()
        assert totals() == before, (before, totals())
        return r

    with t.case("429 from the endpoint with a long Retry-After → 503 assistant_unavailable + Retry-After, nothing stored"):
        FAKE.clear_requests()
        FAKE.queue_error(429, retry_after=40)
        r = nothing_stored(lambda: chat("Hallo"))
        err(r, 503, "assistant_unavailable")
        assert r.header("retry-after") == "40", r.headers
        assert len(FAKE.chat_requests()) == 1

    with t.case("429 with a short Retry-After is waited out once and the turn succeeds"):
        FAKE.clear_requests()
        FAKE.queue_error(429, retry_after=1)
        FAKE.queue_reply("Jetzt geht es.")
        r = chat("Hallo")
        assert r.status == 200 and r.json()["reply"] == "Jetzt geht es.", r
        assert len(FAKE.chat_requests()) == 2

    with t.case("500 twice (one retry) → 503, nothing stored; a continued conversation is unchanged"):
        FAKE.clear_requests()
        FAKE.queue_error(500)
        FAKE.queue_error(500)
        turns = conv_row(C1)["turns"]
        r = nothing_stored(lambda: chat("Noch da?", conversation=C1, ip=IP1))
        err(r, 503, "assistant_unavailable")
        assert conv_row(C1)["turns"] == turns and len(FAKE.chat_requests()) == 2

    with t.case("a timeout (slow answer beyond TF_LLM_TIMEOUT) → 503, nothing stored"):
        FAKE.queue_reply("zu spät", delay=4.5)
        r = nothing_stored(lambda: chat("Hallo"))
        err(r, 503, "assistant_unavailable")
        FAKE.script.clear()

    with t.case("the whole turn has a deadline (TF_LLM_TURN_TIMEOUT): slow steps that each fit TF_LLM_TIMEOUT → 503 in time"):
        FAKE.clear_requests()
        for _ in range(4):
            FAKE.queue_tool_calls(("check_calendar_availability", {"date": DAY}), delay=2.5)
        r = nothing_stored(lambda: chat("Zeiten?", extra={"TF_LLM_TURN_TIMEOUT": "5"}))
        err(r, 503, "assistant_unavailable")
        # without the deadline all four steps would be asked (10 s); with it no request starts after 5 s
        assert len(FAKE.chat_requests()) <= 2, FAKE.chat_requests()
        FAKE.script.clear()

    with t.case("a check that ran before the failure stores nothing either (no effect yet)"):
        FAKE.queue_tool_calls(("check_calendar_availability", {"date": DAY}))
        FAKE.queue_error(500)
        FAKE.queue_error(500)
        r = nothing_stored(lambda: chat("Zeiten?"))
        err(r, 503, "assistant_unavailable")

    with t.case("the endpoint fails after a booking → 200, the booking's confirmation as reply, stored, mailed"):
        FAKE.clear_requests()
        FAKE.queue_tool_calls(("book_appointment", dict(BOOK, time="09:00", customer_name="Maria Koval",
                                                        customer_email="maria@example.com")))
        FAKE.queue_error(500)
        FAKE.queue_error(500)
        r = chat("Maria Koval, maria@example.com, 9:00, ja")
        assert r.status == 200, r
        j = r.json()
        assert j["appointment"]["start"] == DAY + "T09:00", j
        assert j["reply"].startswith("✅ Appointment booked successfully!") and "Maria Koval" in j["reply"], j
        row = conv_row(j["conversation_id"])
        assert row["appointment_id"] == j["appointment"]["id"] and row["turns"] == 1, row
        assert count(f"SELECT COUNT(*) FROM mail_queue WHERE appointment_id={j['appointment']['id']}") == 1

    with t.case("a wrong key (401) → 503; the key never reaches the log"):
        r = nothing_stored(lambda: chat("Hallo", extra={"OPENAI_API_KEY": "sk-wrong-secret-key-0000"}))
        err(r, 503, "assistant_unavailable")
        assert "sk-wrong-secret-key-0000" not in r.stderr and "401" in r.stderr, r.stderr

    with t.case("the step limit (TF_LLM_MAX_STEPS=2): two model calls, then an apology in the patient's language"):
        FAKE.clear_requests()
        for _ in range(3):
            FAKE.queue_tool_calls(("check_calendar_availability", {"date": DAY}))
        r = chat("Hello, I would like an appointment tomorrow", extra={"TF_LLM_MAX_STEPS": "2"})
        assert r.status == 200, r
        j = r.json()
        assert len(FAKE.chat_requests()) == 2 and len(j["tool_calls"]) == 2, (len(FAKE.chat_requests()), j)
        assert j["reply"].startswith("Sorry"), j
        assert conv_row(j["conversation_id"])["language"] == "en"
        FAKE.script.clear()

    # ------------------------------------------------------------------ input errors and limits
    with t.case("415 when the body is not JSON"):
        r = chat(None, body=b"message=hallo&doctor=salon", ctype="text/plain")
        err(r, 415, "unsupported_media_type")

    for name, body, field in [
        ("message missing", {"doctor": "salon"}, "message"),
        ("message not a string", {"doctor": "salon", "message": 5}, "message"),
        ("message blank", {"doctor": "salon", "message": "  \n\t "}, "message"),
        ("message over 1000 bytes", {"doctor": "salon", "message": "ä" * 501}, "message"),
        ("message with a control character", {"doctor": "salon", "message": "hallo\u0007"}, "message"),
        ("doctor missing", {"message": "Hallo"}, "doctor"),
        ("doctor malformed", {"message": "Hallo", "doctor": "../etc"}, "doctor"),
        ("conversation_id malformed", {"message": "Hallo", "doctor": "salon", "conversation_id": "abc"},
         "conversation_id"),
        ("conversation_id not a string", {"message": "Hallo", "doctor": "salon", "conversation_id": 7},
         "conversation_id"),
    ]:
        with t.case(f"400 invalid_field ({name}) naming {field}; nothing stored, the model not asked"):
            FAKE.clear_requests()
            r = nothing_stored(lambda: chat(None, body=json.dumps(body).encode()))
            err(r, 400, "invalid_field", field)
            assert FAKE.chat_requests() == []

    with t.case("1000 bytes after trimming are fine; newlines and tabs are allowed"):
        FAKE.queue_reply("ok")
        r = chat("  " + "ä" * 498 + "\n\tx  ")
        assert r.status == 200, r

    with t.case("404: an unknown doctor; an unknown conversation; another practice's conversation"):
        err(chat("Hallo", doctor="niemand"), 404, "not_found", "doctor")
        err(chat("Hallo", conversation=b64u(os.urandom(32))), 404, "not_found", "conversation_id")
        err(chat("Hallo", conversation=C1, doctor="other"), 404, "not_found", "conversation_id")

    with t.case("409 conversation_too_long at 40 user messages"):
        sql(f"UPDATE agent_conversations SET turns=40 WHERE id={conv_row(C1)['id']}")
        r = nothing_stored(lambda: chat("Noch eine Frage", conversation=C1))
        e = err(r, 409, "conversation_too_long")
        assert e["message"] == "Bitte beginnen Sie ein neues Gespräch.", e

    with t.case("429 rate_limited per IP and minute (TF_AGENT_RATE_PER_MINUTE=2) with Retry-After; other IPs go on"):
        ip = next(IPS)
        lim = {"TF_AGENT_RATE_PER_MINUTE": "2"}
        for _ in range(2):
            FAKE.queue_reply("ok")
            assert chat("Hallo", ip=ip, extra=lim).status == 200
        r = nothing_stored(lambda: chat("Hallo", ip=ip, extra=lim))
        err(r, 429, "rate_limited")
        assert 1 <= int(r.header("retry-after")) <= 61, r.headers
        FAKE.queue_reply("ok")
        assert chat("Hallo", extra=lim).status == 200

    with t.case("429 per IP and day (TF_AGENT_RATE_PER_DAY=3), counted over all conversations of the IP"):
        ip = next(IPS)
        lim = {"TF_AGENT_RATE_PER_DAY": "3"}
        FAKE.queue_reply("ok")
        cid = chat("Hallo", ip=ip, extra=lim).json()["conversation_id"]
        for _ in range(2):
            FAKE.queue_reply("ok")
            assert chat("Hallo", ip=ip, conversation=cid, extra=lim).status == 200
        r = chat("Hallo", ip=ip, extra=lim)
        err(r, 429, "rate_limited")
        assert 60 < int(r.header("retry-after")) <= 86401, r.headers
        FAKE.script.clear()

    with t.case("405 for GET with Allow: POST"):
        r = A.cgi("GET", PATH)
        assert r.status == 405 and "POST" in (r.header("allow") or ""), r

    # ------------------------------------------------------------------ modes
    NOLLM = {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": ""}
    with t.case("offline mode without an endpoint: mode offline, state stored, the model never asked"):
        FAKE.clear_requests()
        ip = next(IPS)
        r = chat("Ich möchte einen Haarschnitt morgen", ip=ip, extra=NOLLM)
        assert r.status == 200, r
        j = r.json()
        assert j["mode"] == "offline" and j["reply"], j
        row = conv_row(j["conversation_id"])
        assert row["mode"] == "offline" and row["state"] and isinstance(json.loads(row["state"]), dict), row
        assert json.loads(row["state"]), row
        assert messages(row["id"])[1]["metadata"]["mode"] == "offline"
        assert "model" not in messages(row["id"])[1]["metadata"]
        assert FAKE.chat_requests() == []
        COFF = j["conversation_id"]

    with t.case("a conversation keeps its mode: the offline one stays offline with the endpoint configured"):
        r = chat("14:00", conversation=COFF, ip=ip)
        assert r.status == 200 and r.json()["mode"] == "offline", r
        assert FAKE.chat_requests() == [] and conv_row(COFF)["turns"] == 2

    with t.case("no message contents, e-mail addresses or the key in the app's log"):
        logs = "\n".join(x.stderr for x in A.responses)
        for secret in (FAKE.api_key, "john@example.com", "Haarschnitt morgen bitte", "John Doe", SECRET):
            assert secret not in logs, secret

    with t.case("every answer carries the security headers"):
        for x in A.responses:
            assert x.header("x-content-type-options") == "nosniff", x

    # ------------------------------------------------------------------ retention
    with t.case("tf-remind deletes conversations older than TF_AGENT_RETENTION_DAYS, with their messages, and old Idempotency-Keys"):
        old = conv_row(C1)["id"]
        sql(f"UPDATE agent_conversations SET updated_at = UTC_TIMESTAMP() - INTERVAL 31 DAY WHERE id={old}")
        keep = count("SELECT COUNT(*) FROM agent_conversations") - 1
        keys = count("SELECT COUNT(*) FROM idempotency_keys")
        assert keys >= 2, keys          # the assistant's bookings stored their keys
        stale = int(sql("SELECT MIN(id) FROM idempotency_keys"))
        sql(f"UPDATE idempotency_keys SET created_at = UTC_TIMESTAMP() - INTERVAL 8 DAY WHERE id={stale}")
        env = dict(os.environ, TF_CONFIG=CONFIG)
        p = subprocess.run([REMIND], env=env, capture_output=True, timeout=120)
        assert p.returncode in (0, 1), p      # 1: the queued mails could not be sent (closed SMTP port)
        assert count(f"SELECT COUNT(*) FROM agent_conversations WHERE id={old}") == 0
        assert count(f"SELECT COUNT(*) FROM agent_messages WHERE conversation_id={old}") == 0
        assert count("SELECT COUNT(*) FROM agent_conversations") == keep
        # and the stored answers of Idempotency-Keys older than 7 days (the younger ones stay)
        assert count(f"SELECT COUNT(*) FROM idempotency_keys WHERE id={stale}") == 0
        assert count("SELECT COUNT(*) FROM idempotency_keys") == keys - 1
finally:
    S.finish()
t.done()
