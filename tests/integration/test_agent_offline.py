#!/usr/bin/env python3
"""test_agent_offline.py: the offline booking assistant through POST /api/agent/chat: tf-calendar.fcgi in CGI mode
against a private MariaDB, no LLM configured (TAP).

Scripted dialogues in German, English, Ukrainian and Russian (the seed's among them); each one that books asserts the
appointment row it made (service, local start in Europe/Berlin, patient name and e-mail) and the answer's
"appointment"; the ones that must not book (a declined confirmation, a taken time, a missing or invalid e-mail)
assert that no row was made for the patient. Every dialogue gets a practice of its own (so dialogues never take each
other's times), open 7 days a week 08:00-18:00. Dates are computed here relative to today in Europe/Berlin; a
dialogue whose date has no such free time in the slots API (a public holiday of the practice's Bundesland) is
skipped with that reason instead of failing.
"""
import datetime
import json
import os
import sys
import zoneinfo

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))

from tap import Tap  # noqa: E402
from cgiapp import SECRET, CgiApp, CgiSetup, built, cgi_settings, skip_unless_ready  # noqa: E402

APP, ADMIN = built(BUILDDIR, "tf-calendar.fcgi", "tf-admin")
TZ = zoneinfo.ZoneInfo("Europe/Berlin")
PATH = "/api/agent/chat"

t = Tap()
skip_unless_ready(APP, ADMIN)

S = CgiSetup(t, "tf-agent-offline-")
sql = S.sql
S.start("MariaDB")

CONFIG = S.write_config(cgi_settings(S.db, SRCDIR, SECRET, fernet_key=S.fernet_key, smtp=True,
                                     TF_LEAD_TIME_MINUTES="0"))
A = CgiApp(APP, ADMIN, CONFIG)
IPS = iter(f"198.51.100.{i}" for i in range(1, 255))

SERVICES = {
    "salon": [("Haircut", 60, 0), ("Manicure", 60, 0)],
    "medical": [("Sprechstunde", 30, 0), ("Impfung", 15, 0), ("Videosprechstunde", 20, 1)],
    "single": [("Haircut", 60, 0)],
}
MONTHS_UK = ["січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня", "вересня", "жовтня",
             "листопада", "грудня"]
MONTHS_RU = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
             "ноября", "декабря"]


def today():
    return datetime.datetime.now(TZ).date()


def plus(n):
    return lambda: today() + datetime.timedelta(days=n)


def weekday(k):
    """The next such weekday after today (1 = Monday), as the assistant reads "Montag"/"next Monday"."""
    def f():
        d = today()
        ahead = (k - d.isoweekday()) % 7 or 7
        return d + datetime.timedelta(days=ahead)
    return f


with S.bail_on_error():
    A.admin("migrate")
    FIRST = S.add_doctor(A, "first@example.org", "Dr. First", "first")

_n = [0]
WANT = [0]   # appointments the dialogues that ran should have made


def practice(kind, closed=()):
    """A new practice with the services of kind, open daily 08:00-18:00, closed on the dates given: (id, slug)."""
    _n[0] += 1
    slug = f"p{_n[0]}-{kind}"
    sql(f"INSERT INTO doctors (email, name, slug, password_hash) SELECT '{slug}@example.org', 'Dr. {slug}', "
        f"'{slug}', password_hash FROM doctors WHERE id={FIRST}")
    did = int(sql(f"SELECT id FROM doctors WHERE slug='{slug}'"))
    sql("".join(f"INSERT INTO services (doctor_id, name, duration_minutes, is_video) VALUES ({did}, '{n}', {m}, {v});"
                for n, m, v in SERVICES[kind])
        + "".join(f"INSERT INTO opening_hours (doctor_id, weekday, start_minute, end_minute) "
                  f"VALUES ({did}, {d}, 480, 1080);" for d in range(1, 8))
        + "".join(f"INSERT INTO closures (doctor_id, start_date, end_date, reason) "
                  f"VALUES ({did}, '{c}', '{c}', 'Fortbildung');" for c in closed))
    return did, slug


def chat(slug, message, conversation, ip):
    body = {"message": message, "doctor": slug}
    if conversation:
        body["conversation_id"] = conversation
    return A.cgi("POST", PATH, body=json.dumps(body).encode(), ctype="application/json", remote=ip)


def free_times(slug, date, duration):
    r = A.cgi("GET", "/api/integrations/calendar/slots", query=f"doctor={slug}&date={date.isoformat()}&duration={duration}")
    assert r.status == 200, r
    return r.json()["slots"]


def rows(did, email=None):
    """The practice's confirmed appointments: [(service, local start 'YYYY-MM-DD HH:MM', name, e-mail)]."""
    q = (f"SELECT service_name, DATE_FORMAT(start_utc, '%Y-%m-%d %H:%i:%s'), HEX(patient_name), patient_email "
         f"FROM appointments WHERE doctor_id={did} AND status='confirmed'")
    if email:
        q += f" AND patient_email='{email}'"
    out = []
    for line in sql(q + " ORDER BY id").splitlines():
        svc, start, name, mail = line.split("\t")
        utc = datetime.datetime.strptime(start, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
        out.append((svc, utc.astimezone(TZ).strftime("%Y-%m-%d %H:%M"), bytes.fromhex(name).decode(), mail))
    return out


def fill(text, d):
    return text.format(dm=d.strftime("%d.%m."), dmy=d.strftime("%d.%m.%Y"), iso=d.isoformat(), day=d.day,
                       mon_uk=MONTHS_UK[d.month - 1], mon_ru=MONTHS_RU[d.month - 1])


def talk(slug, turns, d, checks=None):
    """Run the turns as one conversation: the list of answers (JSON). Asserts 200, mode offline, the same
    conversation_id throughout, the reply checks {turn index: [substrings]}."""
    conv, ip, out = None, next(IPS), []
    for i, msg in enumerate(turns):
        r = chat(slug, fill(msg, d), conv, ip)
        assert r.status == 200, r
        j = r.json()
        assert j["mode"] == "offline" and j["reply"], j
        if conv:
            assert j["conversation_id"] == conv, j
        conv = j["conversation_id"]
        for want in (checks or {}).get(i, []):
            assert fill(want, d) in j["reply"], (i, want, j["reply"])
        out.append(j)
    return out


def dialogue(title, kind, date, turns, expect=None, checks=None, setup=None, closed=(), absent=None, needs=None):
    """One scripted dialogue in a practice of its own. expect = (service, "HH:MM", name, email): the one row it must
    make; absent = an e-mail that must have no row (a dialogue that must not book), needs = (service, "HH:MM") the
    dialogue relies on being free before it starts. setup: dialogues run first in the same practice (to take a
    time). closed: day offsets the practice is closed on."""
    d = date()
    did, slug = practice(kind, [(today() + datetime.timedelta(days=c)).isoformat() for c in closed])
    need = expect[:2] if expect else needs
    if need:
        dur = dict((n, m) for n, m, _ in SERVICES[kind])[need[0]]
        if need[1] not in free_times(slug, d, dur):
            t.skip(title, f"{d} has no free {need[1]} for {need[0]} in the slots API (a public holiday?)")
            return
    with t.case(title):
        for s in setup or []:
            talk(slug, s, d)
        before = rows(did)
        assert len(before) == len(setup or []), before      # each set-up dialogue booked its time
        WANT[0] += len(before) + (1 if expect else 0)
        answers = talk(slug, turns, d, checks)
        if expect:
            svc, hm, name, email = expect
            want = (svc, f"{d.isoformat()} {hm}", name, email)
            new = [x for x in rows(did) if x not in before]
            assert new == [want], (new, want, [a["reply"] for a in answers])
            booked = [a for a in answers if "appointment" in a]
            assert len(booked) == 1 and booked[-1] is answers[-1], [a["reply"] for a in answers]
            ap = booked[0]["appointment"]
            assert ap["service"] == svc and ap["start"] == f"{d.isoformat()}T{hm}", ap
            assert ap["customer_name"] == name and ap["customer_email"] == email, ap
            calls = [c["function"] for c in answers[-1]["tool_calls"]]
            assert calls[-1] == "book_appointment", calls
        if absent:
            assert rows(did, absent) == [], rows(did, absent)
            assert all("appointment" not in a for a in answers), [a["reply"] for a in answers]


try:
    # ------------------------------------------------------------------ Ukrainian (the seed's language)
    dialogue("uk: the seed: 'Хочу записатися на стрижку завтра' → times → '14:00 підходить. John Doe, john@…' → booked",
             "salon", plus(1), ["Хочу записатися на стрижку завтра", "14:00 підходить. John Doe, john@example.com"],
             ("Haircut", "14:00", "John Doe", "john@example.com"),
             checks={0: ["14:00", "Який час вам підходить?"], 1: ["Готово! Записав вас: Haircut", "о 14:00",
                                                                    "john@example.com"]})
    dialogue("uk: the seed's one-shot 'Запишіть Марію Коваленко (maria@…) на манікюр на наступний понеділок о 10:00'",
             "salon", weekday(1),
             ["Запишіть Марію Коваленко (maria@example.com) на манікюр на наступний понеділок о 10:00"],
             ("Manicure", "10:00", "Марія Коваленко", "maria@example.com"),
             checks={0: ["Manicure, понеділок, {day} {mon_uk} о 10:00", "maria@example.com"]})
    dialogue("uk: the seed's 'Хочу на манікюр' → 'На який день?' → 'Завтра' → times → time, name, e-mail",
             "salon", plus(1), ["Хочу на манікюр", "Завтра", "11:00", "Оксана Мельник, oksana@example.com"],
             ("Manicure", "11:00", "Оксана Мельник", "oksana@example.com"),
             checks={0: ["На який день?"], 1: ["{day} {mon_uk}", "11:00"], 2: ["ім'я та e-mail"]})
    dialogue("uk: 'Які вільні слоти на вівторок?' → times → '15:00 підходить' → asks name and e-mail → booked",
             "salon", weekday(2), ["Які вільні слоти на вівторок?", "15:00 підходить",
                                   "Стрижка. Тарас Бульба, taras@example.com"],
             ("Haircut", "15:00", "Тарас Бульба", "taras@example.com"),
             checks={0: ["вівторок, {day} {mon_uk}", "15:00"], 1: ["ім'я та e-mail"]})
    dialogue("uk: all details without a command → summary → 'Так' → booked",
             "salon", plus(2), ["Хочу на стрижку післязавтра о 9:00, мене звати Ірина Шевченко, iryna@example.com",
                                "Так"],
             ("Haircut", "09:00", "Ірина Шевченко", "iryna@example.com"), checks={0: ["Записати вас?"]})
    dialogue("uk: medical: 'щеплення' is Impfung (15 min), 12:15", "medical", plus(1),
             ["Потрібне щеплення завтра о 12:15. Андрій Ткаченко, andriy@example.com", "так"],
             ("Impfung", "12:15", "Андрій Ткаченко", "andriy@example.com"))
    dialogue("uk: 'Запишіть Івана Петренка на консультацію в четвер' → the name in the nominative, Sprechstunde",
             "medical", weekday(4), ["Запишіть Івана Петренка на консультацію в четвер о 16:00, ivan@example.com"],
             ("Sprechstunde", "16:00", "Іван Петренко", "ivan@example.com"))
    dialogue("uk: single-service practice: no question about the service; 'через 3 дні', name and e-mail asked apart",
             "single", plus(3), ["Добрий день! Чи є час через 3 дні?", "О 10:00", "Олег Бондар", "oleg@example.com"],
             ("Haircut", "10:00", "Олег Бондар", "oleg@example.com"), checks={2: ["e-mail"]})
    dialogue("uk: 'Онлайн консультація на п'ятницю' → Videosprechstunde, confirmed in the same message",
             "medical", weekday(5),
             ["Онлайн консультація на п'ятницю о 13:00, Наталія Лисенко, natalia@example.com, підтверджую"],
             ("Videosprechstunde", "13:00", "Наталія Лисенко", "natalia@example.com"))
    dialogue("uk: 'Запишіть мене … DD.MM.YYYY о 17:00' with the name next to the e-mail", "salon", plus(5),
             ["Запишіть мене на манікюр {dmy} о 17:00. Софія Гнатюк, sofia@example.com"],
             ("Manicure", "17:00", "Софія Гнатюк", "sofia@example.com"))
    dialogue("uk: a date with the month's name ('27 листопада'), a question → summary → 'Так, записуйте'",
             "salon", plus(6), ["Стрижка {day} {mon_uk} о 8:00, Богдан Коваль, bohdan@example.com. Записати?",
                                "Так, записуйте"],
             ("Haircut", "08:00", "Богдан Коваль", "bohdan@example.com"))
    dialogue("uk: a taken time → other times offered → 'Тоді о 16:00' → booked", "salon", plus(1),
             ["Стрижка завтра о 14:00, Ганна Руденко, hanna@example.com, запишіть", "Тоді о 16:00"],
             ("Haircut", "16:00", "Ганна Руденко", "hanna@example.com"),
             setup=[["Запишіть Лесю Українку (lesya@example.com) на стрижку завтра о 14:00"]],
             checks={0: ["вже зайнято", "15:00"]})

    # ------------------------------------------------------------------ Russian
    dialogue("ru: 'Хочу записаться на стрижку завтра' → times → '14:00 подходит. Иван Иванов, ivan@…' → booked",
             "salon", plus(1), ["Хочу записаться на стрижку завтра", "14:00 подходит. Иван Иванов, ivan@example.com"],
             ("Haircut", "14:00", "Иван Иванов", "ivan@example.com"),
             checks={0: ["Какое время вам подходит?"], 1: ["Готово! Записал вас: Haircut", "{day} {mon_ru} в 14:00"]})
    dialogue("ru: one-shot 'Запишите Анну Смирнову (anna@…) на маникюр в следующий понедельник в 10:00'",
             "salon", weekday(1), ["Запишите Анну Смирнову (anna@example.com) на маникюр в следующий понедельник в 10:00"],
             ("Manicure", "10:00", "Анна Смирнова", "anna@example.com"),
             checks={0: ["Manicure, понедельник, {day} {mon_ru} в 10:00"]})
    dialogue("ru: 'Хочу на маникюр' → 'На какой день?' → 'Завтра' → time → name and e-mail", "salon", plus(1),
             ["Хочу на маникюр", "Завтра", "11:00", "Ольга Кузнецова, olga@example.com"],
             ("Manicure", "11:00", "Ольга Кузнецова", "olga@example.com"), checks={0: ["На какой день?"]})
    dialogue("ru: 'Какие свободные окна во вторник?' → '15:00 подходит' → service, name, e-mail", "salon", weekday(2),
             ["Какие свободные окна во вторник?", "15:00 подходит", "Стрижка. Петр Сидоров, petr@example.com"],
             ("Haircut", "15:00", "Петр Сидоров", "petr@example.com"),
             checks={0: ["вторник, {day} {mon_ru}"], 1: ["имя и e-mail"]})
    dialogue("ru: all details, 'меня зовут' → summary → 'Да' → booked", "salon", plus(2),
             ["Хочу на стрижку послезавтра в 9:00, меня зовут Елена Попова, elena@example.com", "Да"],
             ("Haircut", "09:00", "Елена Попова", "elena@example.com"), checks={0: ["Записать вас?"]})
    dialogue("ru: medical: 'прививка' is Impfung, 12:30", "medical", plus(1),
             ["Нужна прививка завтра в 12:30. Сергей Волков, sergey@example.com", "да"],
             ("Impfung", "12:30", "Сергей Волков", "sergey@example.com"))
    dialogue("ru: 'Запишите Дмитрия Соколова на консультацию' → 'Дмитрий Соколов', Sprechstunde", "medical", weekday(4),
             ["Запишите Дмитрия Соколова на консультацию в четверг в 16:00, dmitry@example.com"],
             ("Sprechstunde", "16:00", "Дмитрий Соколов", "dmitry@example.com"))
    dialogue("ru: single-service practice, 'через 3 дня', name and e-mail in separate messages", "single", plus(3),
             ["Добрый день! Есть время через 3 дня?", "В 10:00", "Мария Морозова", "maria.m@example.com"],
             ("Haircut", "10:00", "Мария Морозова", "maria.m@example.com"))
    dialogue("ru: 'Онлайн консультация в пятницу' → Videosprechstunde, 'подтверждаю'", "medical", weekday(5),
             ["Онлайн консультация в пятницу в 13:00, Наталья Лебедева, natalya@example.com, подтверждаю"],
             ("Videosprechstunde", "13:00", "Наталья Лебедева", "natalya@example.com"))
    dialogue("ru: 'Запишите меня … DD.MM.YYYY в 17:00'", "salon", plus(5),
             ["Запишите меня на маникюр {dmy} в 17:00. Ксения Новикова, ksenia@example.com"],
             ("Manicure", "17:00", "Ксения Новикова", "ksenia@example.com"))
    dialogue("ru: a date with the month's name → summary → 'Да, записывайте'", "salon", plus(6),
             ["Стрижка {day} {mon_ru} в 8:00, Борис Орлов, boris@example.com", "Да, записывайте"],
             ("Haircut", "08:00", "Борис Орлов", "boris@example.com"))

    # ------------------------------------------------------------------ German
    dialogue("de: 'Ich möchte einen Haarschnitt morgen' → times → 'Um 14 Uhr passt. Anna Schmidt, anna@…'", "salon",
             plus(1), ["Ich möchte einen Haarschnitt morgen", "Um 14 Uhr passt. Anna Schmidt, anna.schmidt@example.de"],
             ("Haircut", "14:00", "Anna Schmidt", "anna.schmidt@example.de"),
             checks={0: ["Welche Uhrzeit passt Ihnen?", "14:00"], 1: ["Ihr Termin ist gebucht: Haircut am",
                                                                     "um 14:00", "anna.schmidt@example.de"]})
    dialogue("de: 'Bitte buchen Sie eine Maniküre übermorgen um 10 Uhr für Petra Müller, petra@…' → booked at once",
             "salon", plus(2), ["Bitte buchen Sie eine Maniküre übermorgen um 10 Uhr für Petra Müller, petra@example.de"],
             ("Manicure", "10:00", "Petra Müller", "petra@example.de"))
    dialogue("de: step by step: service, day, time, name, e-mail in separate messages", "salon", weekday(1),
             ["Hallo, ich hätte gern einen Termin", "Haarschnitt bitte", "am Montag", "15:00", "Jörg Weiß",
              "joerg@example.de"],
             ("Haircut", "15:00", "Jörg Weiß", "joerg@example.de"),
             checks={0: ["Haircut oder Manicure"], 1: ["An welchem Tag"], 2: ["Montag, {day}."],
                     3: ["Namen und Ihre E-Mail-Adresse"], 4: ["E-Mail-Adresse"]})
    dialogue("de: all details as DD.MM. → summary ('Soll ich den Termin so buchen?') → 'Ja, bitte'", "salon", plus(4),
             ["Maniküre am {dm} um 11 Uhr, Lisa Wagner, lisa@example.de", "Ja, bitte"],
             ("Manicure", "11:00", "Lisa Wagner", "lisa@example.de"), checks={0: ["Soll ich den Termin so buchen?"]})
    dialogue("de: medical: Impfung at 9:30, 'Ja. Mein Name ist …'", "medical", plus(1),
             ["Ich brauche eine Impfung morgen um 9:30 Uhr", "Ja. Mein Name ist Klaus Becker, klaus@example.de"],
             ("Impfung", "09:30", "Klaus Becker", "klaus@example.de"))
    dialogue("de: 'Videosprechstunde am Freitag um 16 Uhr bitte buchen' → Videosprechstunde", "medical", weekday(5),
             ["Videosprechstunde am Freitag um 16 Uhr bitte buchen, Sabine Koch, sabine@example.de"],
             ("Videosprechstunde", "16:00", "Sabine Koch", "sabine@example.de"))
    dialogue("de: single-service practice: 'Termin morgen um 12 Uhr?' → name, e-mail → summary → 'ja'", "single",
             plus(1), ["Termin morgen um 12 Uhr?", "Ich heiße Max Mustermann, max@example.de", "ja"],
             ("Haircut", "12:00", "Max Mustermann", "max@example.de"), checks={0: ["ist frei"]})
    dialogue("de: declined summary, then another time → summary → 'Ja' → booked at the new time", "salon", plus(3),
             ["Haarschnitt in 3 Tagen um 9 Uhr, Tom Braun, tom@example.de", "Nein", "Lieber um 13 Uhr", "Ja"],
             ("Haircut", "13:00", "Tom Braun", "tom@example.de"), checks={1: ["nichts gebucht"]})
    dialogue("de: the practice is closed tomorrow → the next day with free times is offered", "salon", plus(2),
             ["Maniküre morgen", "10 Uhr passt, Eva Klein, eva@example.de"],
             ("Manicure", "10:00", "Eva Klein", "eva@example.de"), closed=(1,),
             checks={0: ["ist leider nichts frei", "{day}. "]})
    dialogue("de: capitals and umlauts: 'GUTEN TAG, ICH MÖCHTE EINE SPRECHSTUNDE AM DIENSTAG'", "medical", weekday(2),
             ["GUTEN TAG, ICH MÖCHTE EINE SPRECHSTUNDE AM DIENSTAG", "10 Uhr passt", "Jürgen Öztürk jurgen@example.de"],
             ("Sprechstunde", "10:00", "Jürgen Öztürk", "jurgen@example.de"))
    dialogue("de: a question with DD.MM.YYYY and 'Mein Name ist' → summary → 'Ja gerne'", "salon", plus(5),
             ["Können Sie mir für den {dmy} um 8 Uhr einen Haarschnitt buchen? Mein Name ist Ute Lang, ute@example.de",
              "Ja gerne"],
             ("Haircut", "08:00", "Ute Lang", "ute@example.de"))

    # ------------------------------------------------------------------ English
    dialogue("en: 'I'd like a haircut tomorrow' → times → '2pm works. John Doe, john@…'", "salon", plus(1),
             ["I'd like a haircut tomorrow", "2pm works. John Doe, john@example.com"],
             ("Haircut", "14:00", "John Doe", "john@example.com"),
             checks={0: ["Which time suits you?"], 1: ["Done! Your appointment is booked: Haircut on", "at 14:00"]})
    dialogue("en: 'Please book a manicure for Jane Roe (jane@…) on Monday at 10am' → booked at once", "salon",
             weekday(1), ["Please book a manicure for Jane Roe (jane@example.com) on Monday at 10am"],
             ("Manicure", "10:00", "Jane Roe", "jane@example.com"), checks={0: ["Monday, {day} "]})
    dialogue("en: 'What times are free on Wednesday?' → '11:00 is fine' → service, name, e-mail", "salon", weekday(3),
             ["What times are free on Wednesday?", "11:00 is fine", "Haircut please. My name is Tom Lee, tom@example.com"],
             ("Haircut", "11:00", "Tom Lee", "tom@example.com"), checks={1: ["name and e-mail"]})
    dialogue("en: 'the day after tomorrow at 3 pm' in a question → summary → 'yes'", "salon", plus(2),
             ["Can I get a manicure the day after tomorrow at 3 pm? Emma Stone, emma@example.com", "yes"],
             ("Manicure", "15:00", "Emma Stone", "emma@example.com"), checks={0: ["Shall I book it?"]})
    dialogue("en: medical: vaccination in 2 days at 9:15 am, 'Sure. Name: …'", "medical", plus(2),
             ["I need a vaccination in 2 days at 9:15 am", "Sure. Name: Oliver Twist, oliver@example.com"],
             ("Impfung", "09:15", "Oliver Twist", "oliver@example.com"))
    dialogue("en: 'video consultation next Thursday at 4pm … please book it' → Videosprechstunde", "medical",
             weekday(4), ["video consultation next Thursday at 4pm for Mia Wong, mia@example.com, please book it"],
             ("Videosprechstunde", "16:00", "Mia Wong", "mia@example.com"))
    dialogue("en: single-service practice: 'Anything free tomorrow?' → '5pm' → name and e-mail", "single", plus(1),
             ["Hi! Anything free tomorrow?", "5pm", "Sam Hill, sam@example.com"],
             ("Haircut", "17:00", "Sam Hill", "sam@example.com"))
    dialogue("en: a taken time → offered others → '3pm then' → booked", "salon", plus(1),
             ["Haircut tomorrow at 2pm please, book it for Ann Lee, ann@example.com", "3pm then"],
             ("Haircut", "15:00", "Ann Lee", "ann@example.com"),
             setup=[["Please book a manicure tomorrow at 2pm for Bea Kim, bea@example.com"]],
             checks={0: ["is not available", "15:00"]})
    dialogue("en: 'Book me a manicure on YYYY-MM-DD at 16:00. I'm Grace Hopper, grace@…'", "salon", plus(6),
             ["Book me a manicure on {iso} at 16:00. I'm Grace Hopper, grace@example.com"],
             ("Manicure", "16:00", "Grace Hopper", "grace@example.com"))
    dialogue("en: one word at a time: 'hello', 'haircut', 'friday', '9am', name + e-mail", "salon", weekday(5),
             ["hello", "haircut", "friday", "9am", "Alan Turing alan@example.com"],
             ("Haircut", "09:00", "Alan Turing", "alan@example.com"))
    dialogue("en: a changed service before the summary → 'yes' → booked with the new service", "salon", plus(1),
             ["I want a haircut tomorrow at 1pm", "Actually make it a manicure. Ada King, ada@example.com", "yes"],
             ("Manicure", "13:00", "Ada King", "ada@example.com"), checks={1: ["Manicure on"]})

    # ------------------------------------------------------------------ dialogues that must not book
    dialogue("no booking (de): the summary declined with 'Nein, danke'", "salon", plus(1),
             ["Haarschnitt morgen um 10 Uhr, Eva Roth, eva.roth@example.de", "Nein, danke"],
             absent="eva.roth@example.de", needs=("Haircut", "10:00"), checks={1: ["nichts gebucht"]})
    dialogue("no booking (en): the summary declined with 'no'", "salon", weekday(1),
             ["Manicure on Monday at 2pm for Bob Ray, bob@example.com", "no"],
             absent="bob@example.com", needs=("Manicure", "14:00"), checks={1: ["haven't booked anything"]})
    dialogue("no booking (uk): the summary declined with 'Ні'", "salon", plus(1),
             ["Стрижка завтра о 15:00, Ігор Сало, ihor@example.com", "Ні"],
             absent="ihor@example.com", needs=("Haircut", "15:00"), checks={1: ["нічого не бронював"]})
    dialogue("no booking (ru): the summary declined with 'Нет'", "salon", plus(1),
             ["Маникюр завтра в 15:00, Игорь Салов, igor@example.com", "Нет"],
             absent="igor@example.com", needs=("Manicure", "15:00"), checks={1: ["ничего не бронировал"]})
    dialogue("no booking (de): a taken time, even with 'buchen Sie' → 'nicht frei' and other times", "salon", plus(1),
             ["Bitte buchen Sie einen Haarschnitt morgen um 11 Uhr für Karl Ulm, karl@example.de"],
             absent="karl@example.de", needs=("Haircut", "12:00"), setup=[["Bitte buchen Sie eine Maniküre morgen um 11 Uhr für Ida Ost, ida@example.de"]],
             checks={0: ["um 11:00 ist leider nichts frei", "12:00"]})
    dialogue("no booking (ru): a taken time with 'Запишите' → 'уже занято'", "salon", plus(1),
             ["Запишите Ивана Серова (serov@example.com) на стрижку завтра в 9:00"],
             absent="serov@example.com", needs=("Haircut", "09:00"), setup=[["Запишите Олега Белова (belov@example.com) на маникюр завтра в 9:00"]],
             checks={0: ["уже занято"]})
    dialogue("no booking (en): no e-mail given → it is asked for", "salon", plus(1),
             ["Please book a haircut tomorrow at 4pm for John Smith"], absent="john.smith@example.com",
             needs=("Haircut", "16:00"),
             checks={0: ["e-mail address"]})
    dialogue("no booking (uk): 'Запишіть Олену Пчілку …' without an e-mail → asks for it", "salon", plus(1),
             ["Запишіть Олену Пчілку на стрижку завтра о 16:00"], absent="olena@example.com",
             needs=("Haircut", "16:00"),
             checks={0: ["вкажіть ваш e-mail"]})
    dialogue("no booking (de): an invalid e-mail address → asked to check it", "salon", plus(1),
             ["Haarschnitt morgen um 9 Uhr, Max Muster, max@beispiel", "ja"], absent="max@beispiel",
             needs=("Haircut", "09:00"),
             checks={0: ["scheint nicht gültig"]})

    with t.case("no dialogue above booked anything it was not asked to (as many rows as bookings expected)"):
        n = int(sql("SELECT COUNT(*) FROM appointments"))
        assert n == WANT[0], (n, WANT[0])
        assert int(sql("SELECT COUNT(*) FROM agent_conversations WHERE mode <> 'offline'")) == 0

    with t.case("the stored state of a conversation is the assistant's object (language, phase, fields)"):
        did, slug = practice("salon")
        j = talk(slug, ["Хочу на манікюр"], today())[0]
        st = json.loads(sql("SELECT state FROM agent_conversations ORDER BY id DESC LIMIT 1"))
        assert st["lang"] == "uk" and st["service"] == "Manicure" and st["phase"] == "collect" and st["v"] == 1, st
        assert j["tool_calls"] == [], j
finally:
    S.finish()
t.done()
