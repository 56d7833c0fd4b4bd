/* test_assistant.c: the offline booking assistant against a fake tool function with a fixed calendar (no database). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent.h"
#include "assistant.h"
#include "tztime.h"
#include "util.h"

/*
 * The fake calendar: today is Saturday 2026-11-21. Every day is open 08:00–18:00 with slots every
 * 15 minutes, except Thursday 2026-11-26 (closed: no slots) and Tuesday 2026-12-01 .. Tuesday
 * 2026-12-08 (closed: eight days without slots). 2026-11-22 10:00–11:00 is taken. Bookings made
 * through the fake take their time too. The fake answers in agent_tool_run's result format.
 */

#define MAX_BOOKED 16

struct booked {
	char service[64], date[11], time[6], name[128], email[256];
	int duration, meet;
};

struct fake {
	const struct asst_service *services;
	size_t nservices;
	struct booked b[MAX_BOOKED];
	size_t nbooked;
	int checks, books;          /* tool calls seen */
	char last_check[11];        /* the last date asked for */
	int last_check_duration;
	int broken;                 /* every tool call fails with internal_error */
};

static const struct civil TODAY = { 2026, 11, 21, 0, 0 };

static const struct asst_service SALON[] = { { "Haircut", 60 }, { "Manicure", 60 } };
static const struct asst_service MEDICAL[] = {
	{ "Sprechstunde", 30 }, { "Impfung", 15 }, { "Videosprechstunde", 20 }
};
static const struct asst_service SINGLE[] = { { "Haircut", 60 } };

static int hhmm(const char *s)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return -1;
	return ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
}

static int day_closed(const struct civil *d)
{
	long n = civil_to_days(d->year, d->month, d->day);

	return n == civil_to_days(2026, 11, 26) ||
	       (n >= civil_to_days(2026, 12, 1) && n <= civil_to_days(2026, 12, 8));
}

/* Free starts of a date for a duration, into out (minutes), ascending. */
static size_t fake_slots(const struct fake *fk, const struct civil *d, int dur, int *out)
{
	char ds[11];
	size_t n = 0, i;
	int s;

	if (civil_to_days(d->year, d->month, d->day) < civil_to_days(TODAY.year, TODAY.month, TODAY.day) ||
	    day_closed(d))
		return 0;
	civil_format_date(d, ds);
	for (s = 8 * 60; s + dur <= 18 * 60; s += 15) {
		int busy = strcmp(ds, "2026-11-22") == 0 && s < 11 * 60 && s + dur > 10 * 60;

		for (i = 0; i < fk->nbooked; i++) {
			int bs = hhmm(fk->b[i].time);

			if (strcmp(fk->b[i].date, ds) == 0 && s < bs + fk->b[i].duration && s + dur > bs)
				busy = 1;
		}
		if (!busy)
			out[n++] = s;
	}
	return n;
}

static json_t *slot_array(const int *slots, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%02d:%02d", slots[i] / 60, slots[i] % 60);
		json_array_append_new(a, json_string(t));
	}
	return a;
}

static json_t *tool_fail(const char *code, const char *field, const char *text)
{
	json_t *r = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", code, "text", text);

	if (field)
		json_object_set_new(r, "field", json_string(field));
	return r;
}

static json_t *fake_tool(void *ud, const char *name, json_t *args)
{
	struct fake *fk = ud;
	int slots[200];
	struct civil d;
	size_t n, i;

	assert_true(json_is_object(args));
	if (fk->broken)
		return tool_fail("internal_error", NULL, "Something went wrong.");
	if (strcmp(name, "check_calendar_availability") == 0) {
		json_t *dur = json_object_get(args, "duration_minutes");

		fk->checks++;
		if (civil_parse_date(json_string_value(json_object_get(args, "date")), &d) < 0)
			return tool_fail("invalid_argument", "date", "The date was not understood.");
		if (!json_is_integer(dur) || json_integer_value(dur) < 5 || json_integer_value(dur) > 600)
			return tool_fail("invalid_argument", "duration_minutes", "Bad duration.");
		str_copy(fk->last_check, json_string_value(json_object_get(args, "date")), sizeof(fk->last_check));
		fk->last_check_duration = (int)json_integer_value(dur);
		n = fake_slots(fk, &d, (int)json_integer_value(dur), slots);
		return json_pack("{s:b, s:s, s:I, s:o, s:s}", "ok", 1, "date", fk->last_check,
				 "duration_minutes", json_integer_value(dur), "slots", slot_array(slots, n),
				 "text", n ? "Available times: ..." : "No available times.");
	}
	if (strcmp(name, "book_appointment") == 0) {
		const char *cn = json_string_value(json_object_get(args, "customer_name"));
		const char *ce = json_string_value(json_object_get(args, "customer_email"));
		const char *sv = json_string_value(json_object_get(args, "service"));
		const char *ds = json_string_value(json_object_get(args, "date"));
		const char *ts = json_string_value(json_object_get(args, "time"));
		json_t *dur = json_object_get(args, "duration_minutes");
		int known = 0, t = hhmm(ts), free_ = 0;
		struct booked *b;

		fk->books++;
		if (!cn || !*cn)
			return tool_fail("invalid_argument", "customer_name", "customer_name is required.");
		if (!ce || !strchr(ce, '@'))
			return tool_fail("invalid_argument", "customer_email", "customer_email is not valid.");
		for (i = 0; sv && i < fk->nservices; i++)
			known |= strcmp(fk->services[i].name, sv) == 0;
		if (!known)
			return tool_fail("unknown_service", "service", "Unknown service.");
		if (civil_parse_date(ds, &d) < 0 || t < 0 || !json_is_integer(dur))
			return tool_fail("invalid_argument", "date", "The date was not understood.");
		n = fake_slots(fk, &d, (int)json_integer_value(dur), slots);
		for (i = 0; i < n; i++)
			free_ |= slots[i] == t;
		if (!free_) {
			json_t *r = tool_fail("slot_taken", NULL, "That time is no longer free.");

			json_object_set_new(r, "slots", slot_array(slots, n));
			return r;
		}
		assert_true(fk->nbooked < MAX_BOOKED);
		b = &fk->b[fk->nbooked++];
		str_copy(b->service, sv, sizeof(b->service));
		str_copy(b->date, ds, sizeof(b->date));
		str_copy(b->time, ts, sizeof(b->time));
		str_copy(b->name, cn, sizeof(b->name));
		str_copy(b->email, ce, sizeof(b->email));
		b->duration = (int)json_integer_value(dur);
		b->meet = json_is_true(json_object_get(args, "create_meet"));
		return json_pack("{s:b, s:{s:I, s:s, s:s}, s:s}", "ok", 1, "appointment", "id",
				 (json_int_t)(100 + fk->nbooked), "service", sv, "status", "confirmed", "text",
				 "✅ Appointment booked successfully!");
	}
	return tool_fail("unknown_tool", NULL, "Unknown tool.");
}

/* ------------------------------------------------------------------ a conversation */

struct conv {
	struct fake fk;
	struct asst_ctx ctx;
	json_t *state;
	struct buf reply;
};

static void conv_open(struct conv *cv, const struct asst_service *svc, size_t n)
{
	memset(cv, 0, sizeof(*cv));
	cv->fk.services = svc;
	cv->fk.nservices = n;
	cv->ctx.today = &TODAY;
	cv->ctx.services = svc;
	cv->ctx.nservices = n;
	cv->ctx.tool = fake_tool;
	cv->ctx.tool_ud = &cv->fk;
	cv->state = json_object();
	buf_init(&cv->reply, 8192);
}

static void conv_close(struct conv *cv)
{
	json_decref(cv->state);
	buf_free(&cv->reply);
}

/* One turn; returns the reply (valid UTF-8, non-empty). */
static const char *say(struct conv *cv, const char *msg)
{
	json_t *s;

	buf_reset(&cv->reply);
	assert_int_equal(asst_turn(&cv->ctx, cv->state, msg, &cv->reply), 0);
	assert_non_null(cv->reply.data);
	assert_true(cv->reply.len > 0);
	s = json_string(cv->reply.data);    /* NULL when not valid UTF-8 */
	assert_non_null(s);
	json_decref(s);
	if (getenv("ASST_VERBOSE"))
		fprintf(stderr, "> %s\n< %s\n", msg, cv->reply.data);
	return cv->reply.data;
}

static const char *st(struct conv *cv, const char *key)
{
	return json_string_value(json_object_get(cv->state, key));
}

#define assert_has(hay, needle) do { \
	const char *h_ = (hay); \
	if (!strstr(h_, (needle))) \
		fail_msg("\"%s\" not in \"%s\"", (needle), h_); \
} while (0)

#define assert_lacks(hay, needle) do { \
	const char *h_ = (hay); \
	if (strstr(h_, (needle))) \
		fail_msg("\"%s\" unexpectedly in \"%s\"", (needle), h_); \
} while (0)

static void assert_booked(const struct conv *cv, size_t i, const char *svc, const char *date,
			  const char *time, const char *name, const char *email)
{
	assert_true(cv->fk.nbooked > i);
	assert_string_equal(cv->fk.b[i].service, svc);
	assert_string_equal(cv->fk.b[i].date, date);
	assert_string_equal(cv->fk.b[i].time, time);
	assert_string_equal(cv->fk.b[i].name, name);
	assert_string_equal(cv->fk.b[i].email, email);
}

/* ------------------------------------------------------------------ language */

static void test_lang_code(void **unused)
{
	(void)unused;
	assert_string_equal(asst_lang_code(ASST_DE), "de");
	assert_string_equal(asst_lang_code(ASST_EN), "en");
	assert_string_equal(asst_lang_code(ASST_UK), "uk");
	assert_string_equal(asst_lang_code(ASST_RU), "ru");
}

static void test_detect(void **unused)
{
	static const struct { const char *msg; enum asst_lang fb, want; } cases[] = {
		{ "Хочу записатися на стрижку завтра", ASST_DE, ASST_UK },
		{ "14:00 підходить. John Doe, john@example.com", ASST_EN, ASST_UK },
		{ "Запишіть Марію Коваленко (maria@example.com) на манікюр на наступний понеділок о 10:00", ASST_DE, ASST_UK },
		{ "Які вільні слоти на вівторок?", ASST_EN, ASST_UK },
		{ "ЯКІ ВІЛЬНІ СЛОТИ НА ВІВТОРОК?", ASST_EN, ASST_UK },
		{ "Хочу записаться на маникюр завтра", ASST_UK, ASST_RU },
		{ "Свободные слоты на вторник?", ASST_DE, ASST_RU },
		{ "Меня зовут Иван", ASST_UK, ASST_RU },
		{ "Ich möchte morgen einen Haarschnitt", ASST_EN, ASST_DE },
		{ "MÖCHTE EINEN TERMIN", ASST_EN, ASST_DE },
		{ "Übermorgen", ASST_EN, ASST_DE },
		{ "I would like a haircut tomorrow", ASST_DE, ASST_EN },
		{ "Ich heiße Марія Коваленко", ASST_EN, ASST_DE },
		/* no cue: the fallback */
		{ "14:00", ASST_EN, ASST_EN },
		{ "14:00", ASST_RU, ASST_RU },
		{ "ok", ASST_UK, ASST_UK },
		{ "john@example.com", ASST_DE, ASST_DE },
		{ "John Doe", ASST_RU, ASST_RU },
		{ "", ASST_EN, ASST_EN },
		/* Cyrillic without a Ukrainian or Russian cue: the Cyrillic fallback, else Ukrainian */
		{ "Завтра", ASST_RU, ASST_RU },
		{ "Завтра", ASST_UK, ASST_UK },
		{ "Завтра", ASST_DE, ASST_UK },
	};
	size_t i;

	(void)unused;
	for (i = 0; i < TF_ARRAY_LEN(cases); i++) {
		enum asst_lang got = asst_detect_language(cases[i].msg, cases[i].fb);

		if (got != cases[i].want)
			fail_msg("\"%s\": %s, want %s", cases[i].msg, asst_lang_code(got),
				 asst_lang_code(cases[i].want));
	}
	assert_int_equal(asst_detect_language(NULL, ASST_RU), ASST_RU);
}

/* ------------------------------------------------------------------ the seed's dialogues */

static void test_seed_haircut_tomorrow(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Хочу записатися на стрижку завтра");
	assert_int_equal(cv.fk.checks, 1);
	assert_string_equal(cv.fk.last_check, "2026-11-22");
	assert_int_equal(cv.fk.last_check_duration, 60);
	assert_has(r, "На неділю, 22 листопада вільні, зокрема, такі години: 08:00, 09:00, 11:00");
	assert_has(r, "14:00");
	assert_lacks(r, "10:00");                /* taken */
	assert_has(r, "Який час вам підходить?");
	assert_string_equal(st(&cv, "service"), "Haircut");
	assert_string_equal(st(&cv, "phase"), "offered");
	assert_int_equal(cv.fk.nbooked, 0);
	r = say(&cv, "14:00 підходить. John Doe, john@example.com");
	assert_booked(&cv, 0, "Haircut", "2026-11-22", "14:00", "John Doe", "john@example.com");
	assert_int_equal(cv.fk.b[0].duration, 60);
	assert_int_equal(cv.fk.b[0].meet, 0);
	assert_has(r, "Готово");
	assert_has(r, "Haircut, неділя, 22 листопада о 14:00");
	assert_has(r, "john@example.com");
	assert_string_equal(st(&cv, "phase"), "booked");
	assert_int_equal(json_integer_value(json_object_get(cv.state, "booked_id")), 101);
	/* a thank-you books nothing more */
	r = say(&cv, "Дякую!");
	assert_int_equal(cv.fk.nbooked, 1);
	assert_has(r, "Ваш запис підтверджено");
	conv_close(&cv);
}

static void test_seed_one_shot(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Запишіть Марію Коваленко (maria@example.com) на манікюр на наступний понеділок о 10:00");
	assert_booked(&cv, 0, "Manicure", "2026-11-23", "10:00", "Марія Коваленко", "maria@example.com");
	assert_has(r, "Manicure, понеділок, 23 листопада о 10:00");
	assert_has(r, "maria@example.com");
	conv_close(&cv);
}

static void test_seed_manicure_which_day(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Хочу на манікюр");
	assert_string_equal(r, "На який день?");
	assert_int_equal(cv.fk.checks, 0);
	assert_string_equal(st(&cv, "service"), "Manicure");
	r = say(&cv, "Завтра");
	assert_string_equal(cv.fk.last_check, "2026-11-22");
	assert_has(r, "На неділю, 22 листопада");
	assert_string_equal(st(&cv, "service"), "Manicure");
	assert_string_equal(st(&cv, "date"), "2026-11-22");
	assert_string_equal(st(&cv, "lang"), "uk");
	/* the Russian spelling of the seed */
	conv_close(&cv);
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Хочу на маникюр");
	assert_string_equal(r, "На какой день?");
	assert_string_equal(st(&cv, "service"), "Manicure");
	conv_close(&cv);
}

static void test_free_slots_tuesday(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Які вільні слоти на вівторок?");
	assert_string_equal(cv.fk.last_check, "2026-11-24");
	assert_has(r, "вівторок, 24 листопада");
	assert_has(r, "15:00");
	r = say(&cv, "15:00 підходить");
	assert_int_equal(cv.fk.nbooked, 0);
	assert_has(r, "ім'я та e-mail");
	assert_has(r, "Haircut або Manicure");       /* the service is still open */
	r = say(&cv, "Манікюр. Олена Бондар, olena@example.com");
	assert_booked(&cv, 0, "Manicure", "2026-11-24", "15:00", "Олена Бондар", "olena@example.com");
	assert_has(r, "Готово");
	conv_close(&cv);
}

/* ------------------------------------------------------------------ rules */

static void test_confirm_then_yes_de(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Guten Tag, ich hätte gern einen Haarschnitt am Montag um 9 Uhr. Anna Schmidt, anna@example.de");
	assert_int_equal(cv.fk.nbooked, 0);
	assert_has(r, "Haircut am Montag, 23. November um 09:00 für Anna Schmidt (anna@example.de)");
	assert_has(r, "Soll ich den Termin so buchen?");
	assert_string_equal(st(&cv, "phase"), "confirm");
	r = say(&cv, "Ja, bitte.");
	assert_booked(&cv, 0, "Haircut", "2026-11-23", "09:00", "Anna Schmidt", "anna@example.de");
	assert_has(r, "Ihr Termin ist gebucht: Haircut am Montag, 23. November um 09:00");
	conv_close(&cv);
}

static void test_declined(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "I'd like a manicure on Monday at 11:00. My name is Jane Roe, jane@example.com");
	assert_has(r, "Manicure on Monday, 23 November at 11:00 for Jane Roe (jane@example.com). Shall I book it?");
	r = say(&cv, "No");
	assert_int_equal(cv.fk.nbooked, 0);
	assert_int_equal(cv.fk.books, 0);
	assert_has(r, "haven't booked anything");
	assert_string_equal(st(&cv, "phase"), "collect");
	/* a new time after the refusal: summarised again, booked on yes */
	r = say(&cv, "at 3pm then");
	assert_has(r, "at 15:00 for Jane Roe");
	r = say(&cv, "yes");
	assert_booked(&cv, 0, "Manicure", "2026-11-23", "15:00", "Jane Roe", "jane@example.com");
	conv_close(&cv);
}

static void test_taken_time(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Please book a haircut tomorrow at 10:00 for John Doe, john@example.com");
	assert_int_equal(cv.fk.nbooked, 0);
	assert_int_equal(cv.fk.books, 0);
	assert_has(r, "Sorry, Sunday, 22 November at 10:00 is not available.");
	assert_has(r, "11:00");
	assert_string_equal(st(&cv, "phase"), "offered");
	r = say(&cv, "11:00 works");
	assert_booked(&cv, 0, "Haircut", "2026-11-22", "11:00", "John Doe", "john@example.com");
	conv_close(&cv);
}

static void test_taken_between_turns(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	say(&cv, "Haircut tomorrow please");
	/* someone else books 14:00 meanwhile */
	str_copy(cv.fk.b[0].service, "Manicure", sizeof(cv.fk.b[0].service));
	str_copy(cv.fk.b[0].date, "2026-11-22", sizeof(cv.fk.b[0].date));
	str_copy(cv.fk.b[0].time, "14:00", sizeof(cv.fk.b[0].time));
	cv.fk.b[0].duration = 60;
	cv.fk.nbooked = 1;
	r = say(&cv, "14:00 is fine. John Doe, john@example.com");
	assert_int_equal(cv.fk.nbooked, 1);      /* nothing new */
	assert_int_equal(cv.fk.books, 1);        /* tried, refused as slot_taken */
	assert_has(r, "14:00 is not available");
	assert_lacks(r, "14:00,");
	conv_close(&cv);
}

static void test_missing_email(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Please book a haircut tomorrow at 14:00 for John Doe");
	assert_int_equal(cv.fk.books, 0);
	assert_has(r, "Great, Sunday, 22 November at 14:00 is free. Please tell me your e-mail address");
	assert_string_equal(st(&cv, "name"), "John Doe");
	r = say(&cv, "john@example.com");
	assert_booked(&cv, 0, "Haircut", "2026-11-22", "14:00", "John Doe", "john@example.com");
	conv_close(&cv);
}

static void test_bad_email(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Haarschnitt morgen um 14 Uhr, Max Muster, max@beispiel");
	assert_int_equal(cv.fk.books, 0);
	assert_has(r, "„max@beispiel“ scheint nicht gültig");
	r = say(&cv, "max@beispiel.de");
	assert_has(r, "Soll ich den Termin so buchen?");
	r = say(&cv, "passt");
	assert_booked(&cv, 0, "Haircut", "2026-11-22", "14:00", "Max Muster", "max@beispiel.de");
	conv_close(&cv);
}

static void test_full_day_lookahead(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Maniküre am Donnerstag");
	assert_has(r, "Am Donnerstag, 26. November ist leider nichts frei.");
	assert_has(r, "Am Freitag, 27. November sind unter anderem diese Zeiten frei: 08:00, 09:00");
	assert_string_equal(st(&cv, "date"), "2026-11-27");
	r = say(&cv, "Um 9 Uhr, Eva Klein, eva@example.de");
	assert_booked(&cv, 0, "Manicure", "2026-11-27", "09:00", "Eva Klein", "eva@example.de");
	/* a week without any free time */
	conv_close(&cv);
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Хочу записаться на стрижку 01.12.2026");
	assert_has(r, "На вторник, 1 декабря, к сожалению, свободного времени нет. К сожалению, с 2 декабря по 8 декабря свободного времени нет.");
	assert_int_equal(cv.fk.checks, 8);
	assert_null(json_object_get(cv.state, "date"));
	conv_close(&cv);
}

static void test_compact_offer(void **unused)
{
	struct conv cv;
	const char *r;
	size_t commas = 0;
	const char *p;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Haircut on Monday?");
	/* 37 starts (08:00..17:00 every 15 minutes): 8 full hours spread over the day */
	assert_has(r, "among others: 08:00, 09:00, 10:00, 11:00, 13:00, 14:00, 15:00, 17:00.");
	for (p = r; (p = strstr(p, ", ")) != NULL; p++)
		commas++;
	assert_int_equal(json_array_size(json_object_get(cv.state, "offered")), 8);
	/* a time between the offered ones is free too: checked again; picking it after the offer
	 * is the patient's decision */
	r = say(&cv, "12:15 please, Tom Lee tom@example.com");
	assert_int_equal(cv.fk.checks, 2);
	assert_booked(&cv, 0, "Haircut", "2026-11-23", "12:15", "Tom Lee", "tom@example.com");
	assert_has(r, "Done! Your appointment is booked: Haircut on Monday, 23 November at 12:15.");
	(void)commas;
	conv_close(&cv);
}

static void test_russian_flow(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Здравствуйте! Хочу записаться на маникюр послезавтра в 15:00, меня зовут Иван Петров, ivan@example.com");
	assert_has(r, "Manicure, понедельник, 23 ноября в 15:00, на имя Иван Петров (ivan@example.com). Записать вас?");
	r = say(&cv, "Да");
	assert_booked(&cv, 0, "Manicure", "2026-11-23", "15:00", "Иван Петров", "ivan@example.com");
	assert_has(r, "Готово! Записал вас: Manicure, понедельник, 23 ноября в 15:00. Подтверждение отправлено на ivan@example.com.");
	conv_close(&cv);
}

static void test_accusative_names(void **unused)
{
	static const struct { const char *msg, *name; } cases[] = {
		{ "Запишіть Івана Шевченка (ivan@example.com) на стрижку завтра о 11:00", "Іван Шевченко" },
		{ "Запишите Анну Толстую anna@example.com на маникюр завтра в 11:00", "Анна Толстая" },
		{ "Запишіть Андрія Коваля, andriy@example.com, на стрижку завтра о 12:00", "Андрій Коваль" },
		{ "Запишіть Петра Вишневського petro@example.com на стрижку завтра о 13:00", "Петро Вишневський" },
		{ "Запишіть Олену Вишневську olena@example.com на манікюр завтра о 13:00", "Олена Вишневська" },
		{ "Запишите Олега Петрова oleg@example.com на стрижку завтра в 16:00", "Олег Петров" },
		{ "Запишіть Наталю Шевчук natalia@example.com на манікюр завтра о 16:00", "Наталя Шевчук" },
		/* not after a booking verb: as written */
		{ "Мене звати Марія Коваленко, maria@example.com. Запишіть на манікюр завтра о 9:00", "Марія Коваленко" },
	};
	size_t i;

	(void)unused;
	for (i = 0; i < TF_ARRAY_LEN(cases); i++) {
		struct conv cv;

		conv_open(&cv, SALON, 2);
		say(&cv, cases[i].msg);
		assert_int_equal(cv.fk.nbooked, 1);
		if (strcmp(cv.fk.b[0].name, cases[i].name) != 0)
			fail_msg("\"%s\": name \"%s\", want \"%s\"", cases[i].msg, cv.fk.b[0].name, cases[i].name);
		conv_close(&cv);
	}
}

static void test_services_medical(void **unused)
{
	static const struct { const char *msg, *svc; int dur, meet; } cases[] = {
		{ "Ich brauche eine Videosprechstunde morgen", "Videosprechstunde", 20, 1 },
		{ "Ich brauche eine Sprechstunde morgen", "Sprechstunde", 30, 0 },
		{ "Impfung am Montag bitte", "Impfung", 15, 0 },
		{ "I need a vaccination tomorrow", "Impfung", 15, 0 },
		{ "video consultation tomorrow", "Videosprechstunde", 20, 1 },
		{ "Хочу на консультацію завтра", "Sprechstunde", 30, 0 },
		{ "Нужна прививка завтра", "Impfung", 15, 0 },
		{ "Потрібне щеплення завтра", "Impfung", 15, 0 },
		{ "Запишите на приём завтра", "Sprechstunde", 30, 0 },
		{ "Онлайн консультація завтра", "Videosprechstunde", 20, 1 },
		{ "Ich brauche eine Grippeimpfung morgen", "Impfung", 15, 0 },
		{ "Einen Impftermin für morgen bitte", "Impfung", 15, 0 },
		{ "Akutsprechstunde morgen", "Sprechstunde", 30, 0 },
	};
	size_t i;

	(void)unused;
	for (i = 0; i < TF_ARRAY_LEN(cases); i++) {
		struct conv cv;
		const char *s;

		conv_open(&cv, MEDICAL, 3);
		say(&cv, cases[i].msg);
		s = st(&cv, "service");
		if (!s || strcmp(s, cases[i].svc) != 0)
			fail_msg("\"%s\": service %s, want %s", cases[i].msg, s ? s : "(none)", cases[i].svc);
		assert_int_equal(cv.fk.last_check_duration, cases[i].dur);
		say(&cv, "12:00, Max Muster, max@example.de, ok");
		assert_int_equal(cv.fk.nbooked, 1);
		assert_string_equal(cv.fk.b[0].service, cases[i].svc);
		assert_int_equal(cv.fk.b[0].meet, cases[i].meet);
		conv_close(&cv);
	}
}

static void test_single_service(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SINGLE, 1);
	r = say(&cv, "Hallo");
	assert_string_equal(r, "An welchem Tag möchten Sie kommen?");
	r = say(&cv, "morgen um 16 Uhr");
	assert_has(r, "Gut, am Sonntag, 22. November um 16:00 ist frei. Bitte nennen Sie mir Ihren Namen und Ihre E-Mail-Adresse.");
	assert_string_equal(st(&cv, "service"), "Haircut");
	r = say(&cv, "Ich heiße Jörg Weiß, joerg@example.de");
	assert_has(r, "Haircut am Sonntag, 22. November um 16:00 für Jörg Weiß (joerg@example.de). Soll ich den Termin so buchen?");
	r = say(&cv, "JA");
	assert_booked(&cv, 0, "Haircut", "2026-11-22", "16:00", "Jörg Weiß", "joerg@example.de");
	conv_close(&cv);
}

static void test_ask_service(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Hello, I need an appointment");
	assert_has(r, "Which service would you like (Haircut or Manicure), and on which day?");
	r = say(&cv, "Can I get a massage?");
	assert_has(r, "Which service would you like (Haircut or Manicure)");
	conv_close(&cv);
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Ich möchte eine Impfung");
	assert_has(r, "Diese Leistung bieten wir leider nicht an. Möglich sind: Haircut oder Manicure.");
	conv_close(&cv);
}

static void test_past_date(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	r = say(&cv, "Haarschnitt am 15.03.2025");
	assert_has(r, "Vergangenheit");
	assert_int_equal(cv.fk.checks, 0);
	conv_close(&cv);
}

static void test_new_booking_after_one(void **unused)
{
	struct conv cv;

	(void)unused;
	conv_open(&cv, SALON, 2);
	say(&cv, "Book a haircut on Monday at 9am for Kim Park, kim@example.com");
	assert_int_equal(cv.fk.nbooked, 1);
	say(&cv, "Also a manicure on Monday at 10am please, book it");
	assert_booked(&cv, 1, "Manicure", "2026-11-23", "10:00", "Kim Park", "kim@example.com");
	conv_close(&cv);
}

static void test_bare_hour(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	/* "на 10" after a time preposition is 10:00; "на завтра" stays the date */
	r = say(&cv, "Можна на стрижку на завтра на 11?");
	assert_non_null(st(&cv, "time"));
	assert_string_equal(st(&cv, "date"), "2026-11-22");
	assert_string_equal(st(&cv, "time"), "11:00");
	assert_has(r, "Чудово, неділя, 22 листопада о 11:00 вільно. Будь ласка, вкажіть ваше ім'я та e-mail.");
	/* the name alone when asked; "is free" is not repeated; the known free time is not checked again */
	r = say(&cv, "Олег Бондар");
	assert_string_equal(r, "Будь ласка, вкажіть ваш e-mail для підтвердження.");
	assert_int_equal(cv.fk.checks, 1);
	say(&cv, "oleg@example.com");
	r = say(&cv, "так");
	assert_booked(&cv, 0, "Haircut", "2026-11-22", "11:00", "Олег Бондар", "oleg@example.com");
	conv_close(&cv);
	conv_open(&cv, SALON, 2);
	say(&cv, "Хочу записаться на маникюр на 10 декабря");
	assert_string_equal(st(&cv, "date"), "2026-12-10");
	assert_null(json_object_get(cv.state, "time"));
	say(&cv, "в 12");
	assert_non_null(st(&cv, "time"));
	assert_string_equal(st(&cv, "time"), "12:00");
	conv_close(&cv);
	conv_open(&cv, SALON, 2);
	say(&cv, "Haarschnitt morgen um 12 bitte");
	assert_non_null(st(&cv, "time"));
	assert_string_equal(st(&cv, "time"), "12:00");
	conv_close(&cv);
	/* not hours: a count of days, a number out of 6..22 */
	conv_open(&cv, SALON, 2);
	say(&cv, "Стрижка на 2 дні");
	assert_null(json_object_get(cv.state, "time"));
	say(&cv, "Haircut tomorrow at 3");
	assert_null(json_object_get(cv.state, "time"));
	conv_close(&cv);
}

static void test_names_small_letters(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	/* after a strong marker, and when the assistant asked for the name: small letters are fine */
	conv_open(&cv, SALON, 2);
	say(&cv, "haircut on monday at 9am, my name is john doe, john@example.com, book it");
	assert_booked(&cv, 0, "Haircut", "2026-11-23", "09:00", "john doe", "john@example.com");
	conv_close(&cv);
	conv_open(&cv, SALON, 2);
	r = say(&cv, "манікюр завтра о 12:00");
	assert_has(r, "ім'я та e-mail");
	say(&cv, "олена коваль, olena@example.com");
	assert_string_equal(st(&cv, "name"), "олена коваль");
	conv_close(&cv);
	/* a weak marker needs the capital: "for a haircut" is no name */
	conv_open(&cv, SALON, 2);
	r = say(&cv, "I'm looking for a haircut tomorrow at 11:00");
	assert_null(json_object_get(cv.state, "name"));
	assert_has(r, "name and e-mail");
	conv_close(&cv);
}

static void test_part_of_day(void **unused)
{
	static const struct { const char *msg, *want, *not; } cases[] = {
		{ "I need a haircut on monday afternoon", "12:00, 13:00, 14:00, 15:00, 16:00.", "11:00" },
		{ "Maniküre am Montag vormittags", "frei: 08:00, 09:00, 10:00, 11:00. Welche", "12:00" },
		{ "Стрижка в понеділок ввечері", "16:00, 16:15, 16:30, 16:45, 17:00.", "15:00" },
		{ "Маникюр в понедельник утром", "08:00", "13:00" },
		/* a greeting is no wish */
		{ "Guten Abend, Haarschnitt am Montag", "08:00, 09:00", "16:15" },
	};
	size_t i;

	(void)unused;
	for (i = 0; i < TF_ARRAY_LEN(cases); i++) {
		struct conv cv;
		const char *r;

		conv_open(&cv, SALON, 2);
		r = say(&cv, cases[i].msg);
		assert_has(r, cases[i].want);
		assert_lacks(r, cases[i].not);
		conv_close(&cv);
	}
}

/* ------------------------------------------------------------------ limits and state */

static void test_state_refused(void **unused)
{
	static const char *const bad[] = {
		"{\"v\": 1, \"lang\": \"de\", \"phase\": \"offered\", \"decided\": false, \"evil\": 1}",
		"{\"v\": 2, \"lang\": \"de\", \"phase\": \"collect\", \"decided\": false}",
		"{\"v\": 1, \"lang\": \"xx\", \"phase\": \"collect\", \"decided\": false}",
		"{\"v\": 1, \"lang\": \"de\", \"phase\": \"weird\", \"decided\": false}",
		"{\"v\": 1, \"lang\": \"de\", \"phase\": \"collect\", \"decided\": 1}",
		"{\"v\": 1, \"lang\": \"de\", \"phase\": \"collect\", \"decided\": true, \"date\": \"2026-02-30\"}",
		"{\"v\": 1, \"lang\": \"de\", \"phase\": \"collect\", \"decided\": true, \"time\": \"25:00\"}",
		"{\"v\": 1, \"lang\": \"de\", \"phase\": \"collect\", \"decided\": true, \"email\": \"nope\"}",
		"{\"v\": 1, \"lang\": \"de\", \"phase\": \"collect\", \"decided\": true, \"name\": \"a\\u0001b\"}",
		"{\"v\": 1, \"lang\": \"de\", \"phase\": \"offered\", \"decided\": true, \"offered\": [\"09:00\"]}",
		"{\"v\": 1, \"lang\": \"de\", \"phase\": \"offered\", \"decided\": true, \"offer_date\": \"2026-11-22\","
		" \"offer_minutes\": 60, \"offered\": [\"09:00\",\"10:00\",\"11:00\",\"12:00\",\"13:00\",\"14:00\","
		"\"15:00\",\"16:00\",\"17:00\",\"17:15\"]}",
	};
	size_t i;

	(void)unused;
	for (i = 0; i < TF_ARRAY_LEN(bad); i++) {
		struct conv cv;
		json_error_t je;

		conv_open(&cv, SALON, 2);
		json_decref(cv.state);
		cv.state = json_loads(bad[i], 0, &je);
		assert_non_null(cv.state);
		/* a decided, dated state would book at once; refused, it starts afresh */
		say(&cv, "14:00 John Doe john@example.com");
		assert_int_equal(cv.fk.books, 0);
		assert_null(json_object_get(cv.state, "evil"));
		assert_int_equal(json_integer_value(json_object_get(cv.state, "v")), 1);
		assert_string_equal(st(&cv, "phase"), "collect");
		conv_close(&cv);
	}
}

static void test_state_roundtrip(void **unused)
{
	struct conv cv;
	char *dump;
	json_error_t je;

	(void)unused;
	conv_open(&cv, SALON, 2);
	say(&cv, "Haircut tomorrow");
	/* stored as text between turns, as agent.c does */
	dump = json_dumps(cv.state, JSON_COMPACT);
	json_decref(cv.state);
	cv.state = json_loads(dump, 0, &je);
	free(dump);
	say(&cv, "14:00 passt, John Doe john@example.com");
	assert_booked(&cv, 0, "Haircut", "2026-11-22", "14:00", "John Doe", "john@example.com");
	conv_close(&cv);
}

static void test_limits(void **unused)
{
	struct conv cv;
	char *big;
	const char *r;

	(void)unused;
	conv_open(&cv, SALON, 2);
	big = malloc(AGENT_MESSAGE_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', AGENT_MESSAGE_MAX + 1);
	big[AGENT_MESSAGE_MAX + 1] = '\0';
	r = say(&cv, big);
	assert_has(r, "Ihre Nachricht ist zu lang.");
	assert_int_equal(cv.fk.checks, 0);
	/* exactly at the limit is read */
	big[AGENT_MESSAGE_MAX] = '\0';
	memcpy(big, "Haircut tomorrow ", 17);
	r = say(&cv, big);
	assert_int_equal(cv.fk.checks, 1);
	free(big);
	/* invalid UTF-8 and stray bytes do not break the reply */
	r = say(&cv, "\xff\xfe Хочу \xd0 на стрижку");
	conv_close(&cv);
	/* the tool failing: an apology, nothing booked */
	conv_open(&cv, SALON, 2);
	cv.fk.broken = 1;
	r = say(&cv, "Запишіть Марію Коваленко (maria@example.com) на манікюр на наступний понеділок о 10:00");
	assert_has(r, "Вибачте, сталася помилка");
	assert_int_equal(cv.fk.nbooked, 0);
	conv_close(&cv);
	/* bad arguments */
	conv_open(&cv, SALON, 2);
	assert_int_equal(asst_turn(&cv.ctx, NULL, "x", &cv.reply), -1);
	assert_int_equal(asst_turn(&cv.ctx, cv.state, NULL, &cv.reply), -1);
	conv_close(&cv);
}

static void test_no_services(void **unused)
{
	struct conv cv;
	const char *r;

	(void)unused;
	conv_open(&cv, NULL, 0);
	r = say(&cv, "Haircut tomorrow");
	assert_has(r, "Online booking is not available");
	assert_int_equal(cv.fk.checks, 0);
	conv_close(&cv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lang_code),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_seed_haircut_tomorrow),
		cmocka_unit_test(test_seed_one_shot),
		cmocka_unit_test(test_seed_manicure_which_day),
		cmocka_unit_test(test_free_slots_tuesday),
		cmocka_unit_test(test_confirm_then_yes_de),
		cmocka_unit_test(test_declined),
		cmocka_unit_test(test_taken_time),
		cmocka_unit_test(test_taken_between_turns),
		cmocka_unit_test(test_missing_email),
		cmocka_unit_test(test_bad_email),
		cmocka_unit_test(test_full_day_lookahead),
		cmocka_unit_test(test_compact_offer),
		cmocka_unit_test(test_russian_flow),
		cmocka_unit_test(test_accusative_names),
		cmocka_unit_test(test_services_medical),
		cmocka_unit_test(test_single_service),
		cmocka_unit_test(test_ask_service),
		cmocka_unit_test(test_past_date),
		cmocka_unit_test(test_new_booking_after_one),
		cmocka_unit_test(test_bare_hour),
		cmocka_unit_test(test_names_small_letters),
		cmocka_unit_test(test_part_of_day),
		cmocka_unit_test(test_state_refused),
		cmocka_unit_test(test_state_roundtrip),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_no_services),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
