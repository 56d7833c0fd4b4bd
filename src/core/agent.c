/* agent.c: the booking assistant: its two tools on the core library, conversations in MariaDB, one turn by the LLM tool-call loop or the offline assistant. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "assistant.h"
#include "availability.h"
#include "booking.h"
#include "crypto.h"
#include "llm.h"
#include "log.h"
#include "nlp.h"
#include "practice.h"

#define AGENT_HISTORY_TURNS 20          /* turns of history sent to the model */
#define AGENT_REPLY_MAX     8000        /* bytes of a stored reply */
#define AGENT_META_MAX      60000       /* bytes of a stored metadata object (TEXT holds 65535) */
#define AGENT_SUGGEST_MAX   6           /* free times named in a refusal */
#define AGENT_SERVICES_MAX  64          /* services named in a prompt or a schema */

static const char *const weekdays_en[] = { "", "Monday", "Tuesday", "Wednesday", "Thursday",
					   "Friday", "Saturday", "Sunday" };
static const char *const months_en[] = { "", "January", "February", "March", "April", "May", "June",
					 "July", "August", "September", "October", "November",
					 "December" };

void agent_env_free(struct agent_env *env)
{
	if (!env)
		return;
	json_decref(env->appointment);
	env->appointment = NULL;
}

void agent_answer_free(struct agent_answer *a)
{
	if (!a)
		return;
	free(a->reply);
	json_decref(a->tool_calls);
	json_decref(a->appointment);
	a->reply = NULL;
	a->tool_calls = a->appointment = NULL;
}

/* ------------------------------------------------------------------ tool schemas */

json_t *agent_tool_schemas(const char *const *services, size_t nservices)
{
	json_t *svc, *check, *book, *names, *out;
	size_t i;

	svc = json_pack("{s:s, s:s}", "type", "string", "description",
			"The service, exactly as the practice names it.");
	if (!svc)
		return NULL;
	if (services && nservices > 0) {
		names = json_array();
		for (i = 0; i < nservices && i < AGENT_SERVICES_MAX; i++)
			json_array_append_new(names, json_string(services[i]));
		json_object_set_new(svc, "enum", names);
	}
	check = json_pack(
		"{s:s, s:{s:s, s:s, s:{s:s, s:{s:{s:s, s:s}, s:{s:s, s:i, s:i, s:s}}, s:[s], s:b}}}",
		"type", "function", "function",
		"name", "check_calendar_availability",
		"description", "Check the practice's free appointment times on one day. Always call "
		"this before proposing times; never invent free times.",
		"parameters", "type", "object", "properties",
		"date", "type", "string", "description",
		"The day as the patient said it (\"tomorrow\", \"next monday\", \"morgen\", "
		"\"завтра\") or ISO 2026-11-24.",
		"duration_minutes", "type", "integer", "minimum", PRACTICE_DURATION_MIN,
		"maximum", PRACTICE_DURATION_MAX, "description",
		"The appointment length in minutes (the service's duration).",
		"required", "date", "additionalProperties", 0);
	book = json_pack(
		"{s:s, s:{s:s, s:s, s:{s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}, s:o, s:{s:s, s:s}, "
		"s:{s:s, s:s}, s:{s:s, s:i, s:i, s:s}, s:{s:s, s:s}}, s:[s, s, s, s, s], s:b}}}",
		"type", "function", "function",
		"name", "book_appointment",
		"description", "Book an appointment. Only call this after the patient explicitly "
		"confirmed the summarised details (service, date, time, name, e-mail).",
		"parameters", "type", "object", "properties",
		"customer_name", "type", "string", "description", "The patient's full name.",
		"customer_email", "type", "string", "description",
		"The patient's e-mail address (the confirmation goes there).",
		"service", svc,
		"date", "type", "string", "description",
		"The day as the patient said it or ISO 2026-11-24.",
		"time", "type", "string", "description", "The start time, e.g. 14:00 or 2pm.",
		"duration_minutes", "type", "integer", "minimum", PRACTICE_DURATION_MIN,
		"maximum", PRACTICE_DURATION_MAX, "description",
		"The service's duration in minutes (may be left out).",
		"create_meet", "type", "boolean", "description",
		"true when the patient wants a video appointment link.",
		"required", "customer_name", "customer_email", "service", "date", "time",
		"additionalProperties", 0);
	if (!check || !book) {
		json_decref(check);
		json_decref(book);
		return NULL;
	}
	out = json_array();
	json_array_append_new(out, check);
	json_array_append_new(out, book);
	return out;
}

/* ------------------------------------------------------------------ tool helpers */

/* {"ok": false, "error": code, "field"?: field, "text": ...}; slots (stolen) added when not NULL. */
static json_t *tool_error(const char *code, const char *field, json_t *slots, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static json_t *tool_error(const char *code, const char *field, json_t *slots, const char *fmt, ...)
{
	char text[1200];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	o = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", code, "text", text);
	if (o && field)
		json_object_set_new(o, "field", json_string(field));
	if (o && slots)
		json_object_set_new(o, "slots", slots);
	else
		json_decref(slots);
	return o;
}

/* A string argument: 1 present and not blank (*out set), 0 absent/null/blank, -1 another type or
 * longer than max bytes. */
static int arg_string(json_t *args, const char *key, size_t max, const char **out)
{
	json_t *v = json_object_get(args, key);
	const char *s;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	s = json_string_value(v);
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (!*s)
		return 0;
	*out = s;
	return 1;
}

/* An integer argument in [min, max] (an integer, an integral number or a string of digits, as
 * models send them): 1 (*out set), 0 absent/null, -1 malformed or out of range. */
static int arg_int(json_t *args, const char *key, long min, long max, long *out)
{
	json_t *v = json_object_get(args, key);
	double d;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < min || json_integer_value(v) > max)
			return -1;
		*out = (long)json_integer_value(v);
		return 1;
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (d < (double)min || d > (double)max || d != (double)(long)d)
			return -1;
		*out = (long)d;
		return 1;
	}
	if (json_is_string(v))
		return str_to_long(json_string_value(v), min, max, out) == 0 ? 1 : -1;
	return -1;
}

/* "Tuesday, November 24 at 02:00 PM" (the seed's form). */
static void when_en(const struct civil *c, char *out, size_t outlen)
{
	int wd = civil_weekday(c), h = c->hour % 12 ? c->hour % 12 : 12;

	snprintf(out, outlen, "%s, %s %02d at %02d:%02d %s", weekdays_en[wd >= 1 && wd <= 7 ? wd : 0],
		 months_en[c->month >= 1 && c->month <= 12 ? c->month : 0], c->day, h, c->minute,
		 c->hour < 12 ? "AM" : "PM");
}

/* The doctor's active services: count or -1; *out malloc'd (caller frees). */
static long active_services(struct agent_env *env, struct practice_service **out)
{
	return practice_services_list(env->db, env->doctor->id, 0, out);
}

/* The free times of date for svc (duration minutes): count or -1; slots as "HH:MM" strings into
 * *arr (a new array, at most max entries; max 0 = all) and the seed's summary into text (may be NULL). */
static long free_times(struct agent_env *env, const struct civil *date,
		       const struct practice_service *svc, int duration, size_t max, json_t **arr,
		       struct buf *text)
{
	time_t slots[AVAIL_MAX_SLOTS];
	char hm[6];
	long n, i;

	*arr = NULL;
	n = avail_service_day(env->db, env->conf, env->doctor, date, svc, duration, env->now, slots,
			      TF_ARRAY_LEN(slots));
	if (n < 0)
		return -1;
	*arr = json_array();
	for (i = 0; i < n && (max == 0 || (size_t)i < max); i++) {
		tz_format_hm(env->doctor->timezone, slots[i], hm);
		json_array_append_new(*arr, json_string(hm));
	}
	if (text && avail_summary(env->doctor->timezone, slots, (size_t)n, text) < 0)
		return -1;
	return n;
}

/* "09:00, 11:00" of an array of times into b. */
static void join_times(json_t *arr, struct buf *b)
{
	size_t i;

	for (i = 0; i < json_array_size(arr); i++)
		buf_printf(b, "%s%s", i ? ", " : "", json_string_value(json_array_get(arr, i)));
}

/* ------------------------------------------------------------------ check_calendar_availability */

static json_t *tool_check(struct agent_env *env, json_t *args)
{
	struct practice_service *list = NULL, *svc = NULL;
	struct civil date;
	struct buf text;
	json_t *slots = NULL, *out = NULL;
	const char *ds;
	char iso[11], today[11];
	long duration = 0, n, i;
	int st;

	buf_init(&text, 64 * 1024);
	st = arg_string(args, "date", NLP_INPUT_MAX, &ds);
	if (st <= 0) {
		out = tool_error("invalid_argument", "date", NULL,
				 "Missing or invalid date. Give the day as the patient said it "
				 "(e.g. \"tomorrow\", \"next monday\") or as YYYY-MM-DD.");
		goto out;
	}
	if (nlp_parse_date(ds, &env->today, &date) < 0) {
		out = tool_error("invalid_argument", "date", NULL,
				 "The date \"%s\" was not understood. Use YYYY-MM-DD (e.g. 2026-11-24), "
				 "DD.MM.YYYY, or words like tomorrow, next monday.", ds);
		goto out;
	}
	civil_format_date(&date, iso);
	civil_format_date(&env->today, today);
	if (civil_to_days(date.year, date.month, date.day) <
	    civil_to_days(env->today.year, env->today.month, env->today.day)) {
		out = tool_error("invalid_argument", "date", NULL,
				 "%s is in the past (today is %s). Ask the patient for a later day.",
				 iso, today);
		goto out;
	}
	st = arg_int(args, "duration_minutes", PRACTICE_DURATION_MIN, PRACTICE_DURATION_MAX, &duration);
	if (st < 0) {
		out = tool_error("invalid_argument", "duration_minutes", NULL,
				 "duration_minutes must be a whole number from %d to %d.",
				 PRACTICE_DURATION_MIN, PRACTICE_DURATION_MAX);
		goto out;
	}
	n = active_services(env, &list);
	if (n < 0) {
		out = tool_error("internal_error", NULL, NULL, "The calendar could not be read. Try again.");
		goto out;
	}
	/* the buffers of the service with this duration (else the first one) */
	for (i = 0; i < n && !svc; i++) {
		if (duration == 0 || list[i].duration == duration)
			svc = &list[i];
	}
	if (!svc && n > 0)
		svc = &list[0];
	if (!svc && duration == 0) {
		out = tool_error("invalid_argument", "duration_minutes", NULL,
				 "The practice offers no services online at the moment.");
		goto out;
	}
	if (duration == 0)
		duration = svc->duration;
	if (free_times(env, &date, svc, (int)duration, 0, &slots, &text) < 0) {
		out = tool_error("internal_error", NULL, NULL, "The calendar could not be read. Try again.");
		goto out;
	}
	out = json_pack("{s:b, s:s, s:i, s:O, s:s}", "ok", 1, "date", iso, "duration_minutes",
			(int)duration, "slots", slots, "text", text.data ? text.data : "");
out:
	json_decref(slots);
	free(list);
	buf_free(&text);
	return out;
}

/* ------------------------------------------------------------------ book_appointment */

/* 1 when [start, start + duration) lies inside one of the day's opening intervals, 0 when not,
 * -1 on a database error. */
static int within_hours(struct agent_env *env, const struct civil *date, int start, int duration)
{
	struct practice_week w;
	int wd = civil_weekday(date);
	size_t i;

	if (practice_hours_get(env->db, env->doctor->id, &w) != TF_OK)
		return -1;
	if (wd < 1 || wd > 7)
		return 0;
	for (i = 0; i < w.n[wd - 1]; i++) {
		if (start >= w.day[wd - 1][i].start && start + duration <= w.day[wd - 1][i].end)
			return 1;
	}
	return 0;
}

/* The refusal of a time that cannot be booked, naming up to AGENT_SUGGEST_MAX free times. */
static json_t *refuse_time(struct agent_env *env, const char *code, const struct civil *date,
			   const struct practice_service *svc, const char *why)
{
	struct buf b;
	json_t *slots = NULL, *out;
	char iso[11];

	civil_format_date(date, iso);
	buf_init(&b, 4096);
	if (free_times(env, date, svc, svc->duration, AGENT_SUGGEST_MAX, &slots, NULL) < 0) {
		json_decref(slots);
		buf_free(&b);
		return tool_error("internal_error", NULL, NULL, "The calendar could not be read. Try again.");
	}
	join_times(slots, &b);
	if (json_array_size(slots) > 0)
		out = tool_error(code, "time", slots, "%s Free times on %s for %s: %s.", why, iso,
				 svc->name, b.data);
	else
		out = tool_error(code, "time", slots, "%s There are no free times on %s for %s; "
				 "check another day with check_calendar_availability.", why, iso,
				 svc->name);
	buf_free(&b);
	return out;
}

/* The answer object of a booked appointment (agent.h); cancel_url from the booking's answer. */
static json_t *appointment_json(struct agent_env *env, const struct booking_result *r)
{
	const struct appointment *a = &r->appt;
	char start[17], end[17];
	json_t *body = r->json ? json_loads(r->json, 0, NULL) : NULL, *o = NULL;

	tz_format_iso_local(env->doctor->timezone, a->start, start);
	tz_format_iso_local(env->doctor->timezone, a->end, end);
	if (start[0] && end[0])
		o = json_pack("{s:I, s:s, s:s, s:s, s:i, s:s, s:s, s:b, s:s?, s:s, s:s?}",
			      "id", (json_int_t)a->id, "service", a->service_name, "start", start, "end", end,
			      "duration_minutes", (int)((a->end - a->start) / 60), "customer_name",
			      a->patient_name, "customer_email", a->patient_email, "create_meet",
			      a->create_meet, "video_link", a->video_link[0] ? a->video_link : NULL,
			      "status", a->status[0] ? a->status : "confirmed", "cancel_url",
			      json_string_value(json_object_get(body, "cancel_url")));
	json_decref(body);
	return o;
}

static json_t *tool_book(struct agent_env *env, json_t *args)
{
	struct practice_service svc;
	struct booking_request br;
	struct booking_result r;
	struct civil date;
	struct buf canon, text, names;
	struct practice_service *list = NULL;
	const char *s_name, *s_email, *s_service, *s_date, *s_time;
	char name[BOOKING_NAME_MAX + 1], email[BOOKING_EMAIL_MAX + 1], iso[11], when[80];
	char hash[65], key[BOOKING_IDEM_KEY_MAX + 1];
	json_t *v, *appt = NULL, *out = NULL;
	long duration = 0, n, i;
	int hour, minute, meet = 0, found;
	size_t k;

	memset(&r, 0, sizeof(r));
	buf_init(&canon, 4096);
	buf_init(&text, 4096);
	buf_init(&names, 8192);

	if (arg_string(args, "customer_name", BOOKING_NAME_MAX * 4, &s_name) <= 0 ||
	    str_trim_copy(s_name, name, sizeof(name)) == (size_t)-1 || !practice_text_valid(name)) {
		out = tool_error("invalid_argument", "customer_name", NULL,
				 "customer_name is missing or invalid (at most %d characters of text). "
				 "Ask the patient for their full name.", BOOKING_NAME_MAX);
		goto out;
	}
	if (arg_string(args, "customer_email", BOOKING_EMAIL_MAX * 2, &s_email) <= 0 ||
	    str_trim_copy(s_email, email, sizeof(email)) == (size_t)-1 || !doctor_email_valid(email)) {
		out = tool_error("invalid_argument", "customer_email", NULL,
				 "customer_email is missing or not a valid e-mail address. Ask the "
				 "patient for their e-mail address.");
		goto out;
	}
	for (k = 0; email[k]; k++) {
		if (email[k] >= 'A' && email[k] <= 'Z')
			email[k] = (char)(email[k] - 'A' + 'a');
	}
	if (arg_string(args, "service", PRACTICE_SERVICE_NAME_MAX * 4, &s_service) <= 0)
		s_service = NULL;
	found = s_service ? practice_service_pick(env->db, env->doctor->id, s_service, &svc) : 0;
	if (found < 0) {
		out = tool_error("internal_error", NULL, NULL, "The calendar could not be read. Try again.");
		goto out;
	}
	if (found == 0) {
		n = active_services(env, &list);
		for (i = 0; i < n; i++)
			buf_printf(&names, "%s%s (%d min)", i ? ", " : "", list[i].name, list[i].duration);
		out = tool_error("unknown_service", "service", NULL,
				 "%s. The practice offers: %s.",
				 s_service ? "This service is not offered" : "service is missing",
				 names.data ? names.data : "no services online");
		goto out;
	}
	if (arg_string(args, "date", NLP_INPUT_MAX, &s_date) <= 0 ||
	    nlp_parse_date(s_date, &env->today, &date) < 0) {
		out = tool_error("invalid_argument", "date", NULL,
				 "The date is missing or was not understood. Use YYYY-MM-DD or words "
				 "like tomorrow, next monday.");
		goto out;
	}
	if (arg_string(args, "time", NLP_INPUT_MAX, &s_time) <= 0 ||
	    nlp_parse_time(s_time, &hour, &minute) < 0) {
		out = tool_error("invalid_argument", "time", NULL,
				 "The time is missing or was not understood. Use HH:MM (e.g. 14:00).");
		goto out;
	}
	if (arg_int(args, "duration_minutes", PRACTICE_DURATION_MIN, PRACTICE_DURATION_MAX,
		    &duration) < 0 || (duration != 0 && duration != svc.duration)) {
		out = tool_error("invalid_argument", "duration_minutes", NULL,
				 "%s takes %d minutes: give duration_minutes %d or leave it out.",
				 svc.name, svc.duration, svc.duration);
		goto out;
	}
	v = json_object_get(args, "create_meet");
	if (v && !json_is_null(v) && !json_is_boolean(v)) {
		out = tool_error("invalid_argument", "create_meet", NULL, "create_meet must be true or false.");
		goto out;
	}
	meet = json_is_true(v) ? 1 : 0;
	date.hour = hour;
	date.minute = minute;
	civil_format_date(&date, iso);

	found = within_hours(env, &date, hour * 60 + minute, svc.duration);
	if (found < 0) {
		out = tool_error("internal_error", NULL, NULL, "The calendar could not be read. Try again.");
		goto out;
	}
	if (found == 0) {
		out = refuse_time(env, "outside_hours", &date, &svc,
				  "That time is outside the practice's opening hours.");
		goto out;
	}

	/* the idempotency key: the same call in the same conversation books once */
	if (buf_printf(&canon, "agent-book-v1\n%zu:%s\n%s\n%02d:%02d\n%zu:%s\n%zu:%s\n%d\n",
		       strlen(svc.name), svc.name, iso, hour, minute, strlen(name), name, strlen(email),
		       email, meet) < 0) {
		out = tool_error("internal_error", NULL, NULL, "Internal error. Try again.");
		goto out;
	}
	sha256_hex(canon.data, canon.len, hash);
	snprintf(key, sizeof(key), "agent:%s:%s", env->conversation ? env->conversation : "-", hash);

	memset(&br, 0, sizeof(br));
	br.doctor_id = env->doctor->id;
	br.service = svc.name;
	br.start = date;
	br.patient_name = name;
	br.patient_email = email;
	br.create_meet = meet;
	br.idempotency_key = key;
	booking_create(env->db, env->conf, &br, env->now, &r);
	switch (r.status) {
	case BOOKING_OK:
		break;
	case BOOKING_CONFLICT:
		out = refuse_time(env, "slot_taken", &date, &svc, "That time is not free.");
		goto out;
	case BOOKING_INVALID:
		if (r.field && strcmp(r.field, "start") == 0)
			out = refuse_time(env, "slot_taken", &date, &svc,
					  "That time cannot be booked (in the past, too soon or too far ahead).");
		else
			out = tool_error("invalid_argument", r.field && strcmp(r.field, "patient_email") == 0 ?
					 "customer_email" : r.field && strcmp(r.field, "patient_name") == 0 ?
					 "customer_name" : r.field, NULL,
					 "The booking was refused: %s", r.message);
		goto out;
	default:
		log_error("agent: book_appointment failed (%s)", r.status == BOOKING_ERROR ?
			  "database error" : "unexpected booking status");
		out = tool_error("internal_error", NULL, NULL,
				 "The booking could not be completed because of a technical problem. "
				 "Nothing was booked; apologise and suggest trying again later.");
		goto out;
	}

	if (r.replayed && strcmp(r.appt.status, "confirmed") != 0) {
		out = tool_error("slot_taken", "time", NULL,
				 "This very booking was made earlier in this conversation and has been "
				 "cancelled since; it cannot be booked again here. Offer another time or the "
				 "booking form.");
		goto out;
	}
	appt = appointment_json(env, &r);
	if (!appt || tz_utc_to_local(env->doctor->timezone, r.appt.start, &date) < 0) {
		out = NULL;
		goto out;
	}
	when_en(&date, when, sizeof(when));
	buf_printf(&text, "✅ Appointment booked successfully!\n\n📅 %s for %s\n🕐 %s\n⏱️ Duration: %d "
		   "minutes\n", r.appt.service_name, r.appt.patient_name, when,
		   (int)((r.appt.end - r.appt.start) / 60));
	if (r.appt.video_link[0])
		buf_printf(&text, "🎥 Video link: %s\n", r.appt.video_link);
	buf_printf(&text, "📧 Confirmation email sent to %s", r.appt.patient_email);
	out = json_pack("{s:b, s:O, s:s}", "ok", 1, "appointment", appt, "text",
			text.data ? text.data : "");
	if (out) {
		env->booked_id = r.appt.id;
		json_decref(env->appointment);
		env->appointment = json_incref(appt);
	}
out:
	json_decref(appt);
	booking_result_free(&r);
	free(list);
	buf_free(&canon);
	buf_free(&text);
	buf_free(&names);
	return out;
}

json_t *agent_tool_run(struct agent_env *env, const char *name, json_t *args)
{
	json_t *empty = NULL, *out;

	if (!args || json_is_null(args))
		args = empty = json_object();
	if (!json_is_object(args)) {
		out = tool_error("invalid_argument", NULL, NULL,
				 "The arguments must be a JSON object.");
	} else if (name && strcmp(name, "check_calendar_availability") == 0) {
		out = tool_check(env, args);
	} else if (name && strcmp(name, "book_appointment") == 0) {
		out = tool_book(env, args);
	} else {
		out = tool_error("unknown_tool", NULL, NULL,
				 "Unknown tool. The tools are check_calendar_availability and "
				 "book_appointment.");
	}
	json_decref(empty);
	return out;
}

/* ------------------------------------------------------------------ one turn */

/* What one turn works with. */
struct turn {
	struct agent_env env;
	json_t *calls;                   /* the recorded calls of this turn */
	int refused;                     /* calls over AGENT_TOOL_CALLS_MAX */
};

/* Run a tool and record the call: a new reference to the result (never NULL). args is the
 * arguments object, or the raw string when malformed (then result is given). */
static json_t *turn_call(struct turn *t, const char *id, const char *name, json_t *args,
			 json_t *result)
{
	json_t *rec;

	if (json_array_size(t->calls) >= AGENT_TOOL_CALLS_MAX) {
		json_decref(result);
		t->refused++;
		return tool_error("invalid_argument", NULL, NULL,
				  "Too many tool calls in this turn; answer the patient now.");
	}
	if (!result)
		result = agent_tool_run(&t->env, name, args);
	if (!result)
		result = tool_error("internal_error", NULL, NULL, "Internal error.");
	if (!result)
		return json_object();
	rec = json_pack("{s:s, s:O, s:O}", "function", name ? name : "", "arguments",
			args ? args : json_null(), "result", result);
	if (rec && id)
		json_object_set_new(rec, "id", json_string(id));
	if (rec)
		json_array_append_new(t->calls, rec);
	return result;
}

/* The offline assistant's tool function. */
static json_t *offline_tool(void *ud, const char *name, json_t *args)
{
	return turn_call(ud, NULL, name, args, NULL);
}

/* Copy at most max bytes of s into a new string, not cutting a UTF-8 character. */
static char *utf8_dup_max(const char *s, size_t max)
{
	size_t n = strlen(s);
	char *out;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	out = malloc(n + 1);
	if (out) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return out;
}

/* The apology when the model did not finish within its steps. */
static const char *apology(enum asst_lang l)
{
	switch (l) {
	case ASST_EN:
		return "Sorry, I could not finish that. Please rephrase your request or use the "
		       "booking form.";
	case ASST_UK:
		return "Вибачте, мені не вдалося це завершити. Будь ласка, сформулюйте запит інакше "
		       "або скористайтеся формою запису.";
	case ASST_RU:
		return "Извините, мне не удалось это завершить. Пожалуйста, переформулируйте запрос "
		       "или воспользуйтесь формой записи.";
	default:
		return "Entschuldigung, das konnte ich nicht abschließen. Bitte formulieren Sie Ihre "
		       "Anfrage anders oder nutzen Sie das Buchungsformular.";
	}
}

/* The system prompt (English, for the model). */
static int system_prompt(const struct agent_env *env, const struct practice_service *svc, long n,
			 struct buf *b)
{
	const struct doctor *d = env->doctor;
	int wd = civil_weekday(&env->today), rc = 0;
	char iso[11];
	long i;

	civil_format_date(&env->today, iso);
	rc |= buf_printf(b, "You are the booking assistant of the medical practice \"%s\"",
			 d->practice_name[0] ? d->practice_name : d->name);
	if (d->practice_address[0])
		rc |= buf_printf(b, ", %s", d->practice_address);
	rc |= buf_printf(b, ". The doctor is %s.\nToday is %s, %s (time zone %s).\n", d->name,
			 weekdays_en[wd >= 1 && wd <= 7 ? wd : 0], iso, d->timezone);
	rc |= buf_puts(b, "Services that can be booked:\n");
	for (i = 0; i < n; i++)
		rc |= buf_printf(b, "- %s: %d minutes%s\n", svc[i].name, svc[i].duration,
				 svc[i].is_video ? " (video appointment)" : "");
	if (n == 0)
		rc |= buf_puts(b, "- none at the moment (no online booking)\n");
	rc |= buf_puts(b,
		"Rules:\n"
		"- Answer in the patient's language (German, English, Ukrainian, Russian, ...).\n"
		"- Never invent free times: call check_calendar_availability for the day and offer "
		"only the times it returns.\n"
		"- Ask for the patient's full name and e-mail address.\n"
		"- Before calling book_appointment, summarise service, date, time, name and e-mail, "
		"and get the patient's explicit confirmation.\n"
		"- Pass dates and times as the patient said them or as ISO (YYYY-MM-DD, HH:MM).\n"
		"- When a tool answers with \"ok\": false, read its text and act on it.\n"
		"- Do not give medical advice; keep answers short.\n");
	return rc ? -1 : 0;
}

/* A stored assistant message's calls replayed for the model: an assistant message with
 * tool_calls and one tool message per call, appended to msgs. */
static void replay_calls(json_t *msgs, json_t *calls, int *seq)
{
	json_t *tc = json_array(), *am, *c, *args;
	const char *id;
	char idbuf[32], *argtext, *restext;
	size_t i;

	json_array_foreach(calls, i, c) {
		id = json_string_value(json_object_get(c, "id"));
		if (!id) {
			snprintf(idbuf, sizeof(idbuf), "call_h%d", ++*seq);
			id = idbuf;
			json_object_set_new(c, "id", json_string(id));
		}
		args = json_object_get(c, "arguments");
		argtext = json_is_string(args) ? strdup(json_string_value(args)) :
			  json_dumps(args ? args : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
		json_array_append_new(tc, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type",
						    "function", "function", "name",
						    json_string_value(json_object_get(c, "function")) ?
						    json_string_value(json_object_get(c, "function")) : "",
						    "arguments", argtext ? argtext : "{}"));
		free(argtext);
	}
	am = json_pack("{s:s, s:n, s:o}", "role", "assistant", "content", "tool_calls", tc);
	json_array_append_new(msgs, am);
	json_array_foreach(calls, i, c) {
		restext = json_dumps(json_object_get(c, "result") ? json_object_get(c, "result") :
				     json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
		json_array_append_new(msgs, json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id",
						      json_string_value(json_object_get(c, "id")),
						      "content", restext ? restext : "null"));
		free(restext);
	}
}

/* The stored history (the last AGENT_HISTORY_TURNS turns) appended to msgs. 0 or -1. */
static int load_history(struct db *db, long long conv_id, json_t *msgs)
{
	struct db_rows rows;
	json_t *meta, *calls;
	const char *role, *content;
	size_t i, first;
	int seq = 0;

	if (db_query(db, STMT_AGENT_MSG_HISTORY, DB_ARGS(DBP_INT(conv_id),
							 DBP_INT(AGENT_HISTORY_TURNS * 2)), &rows) != TF_OK)
		return -1;
	/* rows are newest first: start at the oldest user message */
	first = rows.nrows;
	while (first > 0 && strcmp(db_cell(&rows, first - 1, 0) ? db_cell(&rows, first - 1, 0) : "",
				   "user") != 0)
		first--;
	for (i = first; i > 0; i--) {
		role = db_cell(&rows, i - 1, 0);
		content = db_cell(&rows, i - 1, 1);
		if (!role || !content)
			continue;
		if (strcmp(role, "user") == 0) {
			json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content",
							      content));
			continue;
		}
		meta = db_cell(&rows, i - 1, 2) ? json_loads(db_cell(&rows, i - 1, 2), 0, NULL) : NULL;
		calls = json_object_get(meta, "function_calls");
		if (json_is_array(calls) && json_array_size(calls) > 0)
			replay_calls(msgs, calls, &seq);
		json_decref(meta);
		json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "assistant", "content",
						      content));
	}
	db_rows_free(&rows);
	return 0;
}

/* The parsed arguments of one tool call of the model: the object (new reference), or NULL with
 * *why set when malformed. */
static json_t *call_args(json_t *fn, const char **why)
{
	json_t *a = json_object_get(fn, "arguments"), *o;

	*why = NULL;
	if (json_is_object(a))          /* some servers send an object instead of a string */
		return json_incref(a);
	if (!json_is_string(a)) {
		*why = "The tool call's arguments are missing; send them as a JSON object.";
		return NULL;
	}
	if (json_string_length(a) == 0)
		return json_object();
	o = json_loadb(json_string_value(a), json_string_length(a), 0, NULL);
	if (!o) {
		*why = "The tool call's arguments are not valid JSON; send a JSON object.";
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		*why = "The tool call's arguments must be a JSON object.";
		return NULL;
	}
	return o;
}

/* The LLM turn. Returns AGENT_OK (reply filled), AGENT_UNAVAILABLE (a->retry_after), AGENT_ERROR. */
static enum agent_status llm_turn(struct turn *t, struct conf *c, long long conv_id,
				  const struct practice_service *svc, long nsvc, const char *message,
				  enum asst_lang lang, struct buf *reply, char *model, size_t modellen,
				  struct agent_answer *a)
{
	struct llm_config cfg;
	struct llm_error e;
	struct buf sys;
	const char *names[AGENT_SERVICES_MAX], *id, *name, *why, *content;
	json_t *msgs = NULL, *tools = NULL, *msg = NULL, *copy, *calls, *call, *fn, *args, *res,
	       *raw;
	char err[300], idbuf[80], *restext;
	enum agent_status st = AGENT_ERROR;
	enum tf_err rc;
	time_t deadline;
	long i;
	size_t k;
	int step;

	buf_init(&sys, 64 * 1024);
	if (llm_config_load(c, &cfg, err, sizeof(err)) < 0) {
		log_error("agent: %s", err);
		st = AGENT_UNAVAILABLE;
		goto out;
	}
	str_copy(model, cfg.model, modellen);
	for (i = 0; i < nsvc && i < AGENT_SERVICES_MAX; i++)
		names[i] = svc[i].name;
	tools = agent_tool_schemas(names, (size_t)(nsvc < AGENT_SERVICES_MAX ? nsvc : AGENT_SERVICES_MAX));
	msgs = json_array();
	if (!tools || !msgs || system_prompt(&t->env, svc, nsvc, &sys) < 0)
		goto out;
	json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", sys.data));
	if (conv_id > 0 && load_history(t->env.db, conv_id, msgs) < 0)
		goto out;
	json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", message));

	deadline = time(NULL) + cfg.turn_timeout;
	for (step = 0; step < cfg.max_steps; step++) {
		rc = llm_chat(&cfg, msgs, tools, deadline, &msg, &e);
		if (rc != TF_OK) {
			log_warn("agent: the LLM call failed (%s): %s", tf_strerror(rc), e.message);
			if (t->env.booked_id > 0)
				goto booked;
			a->retry_after = e.retry_after;
			st = AGENT_UNAVAILABLE;
			goto out;
		}
		calls = json_object_get(msg, "tool_calls");
		if (!json_is_array(calls) || json_array_size(calls) == 0) {
			content = json_string_value(json_object_get(msg, "content"));
			if (content && *content)
				buf_puts(reply, content);
			else if (t->env.booked_id > 0)
				goto booked;
			else
				buf_puts(reply, apology(lang));
			st = AGENT_OK;
			goto out;
		}
		/* the assistant message as the model sent it (ids filled in when missing), then one
		 * tool message per call */
		copy = json_deep_copy(msg);
		if (!copy)
			goto out;
		if (!json_object_get(copy, "content"))
			json_object_set_new(copy, "content", json_null());
		calls = json_object_get(copy, "tool_calls");
		json_array_append_new(msgs, copy);
		json_array_foreach(calls, k, call) {
			id = json_string_value(json_object_get(call, "id"));
			if (!id) {
				snprintf(idbuf, sizeof(idbuf), "call_missing_%d_%zu", step, k);
				json_object_set_new(call, "id", json_string(idbuf));
				id = json_string_value(json_object_get(call, "id"));
				if (!id)
					id = idbuf;
			}
			fn = json_object_get(call, "function");
			name = json_string_value(json_object_get(fn, "name"));
			if (!json_is_object(call) || !name || !*name) {
				res = tool_error("unknown_tool", NULL, NULL,
						 "The tool call has no function name. The tools are "
						 "check_calendar_availability and book_appointment.");
				raw = json_object_get(fn, "arguments");
				res = turn_call(t, id, name, raw, res);
			} else if (!(args = call_args(fn, &why))) {
				res = tool_error("invalid_argument", NULL, NULL, "%s", why);
				raw = json_object_get(fn, "arguments");
				res = turn_call(t, id, name, raw, res);
			} else {
				res = turn_call(t, id, name, args, NULL);
				json_decref(args);
			}
			restext = json_dumps(res, JSON_COMPACT);
			json_decref(res);
			json_array_append_new(msgs, json_pack("{s:s, s:s, s:s}", "role", "tool",
							      "tool_call_id", id, "content",
							      restext ? restext : "{}"));
			free(restext);
		}
		json_decref(msg);
		msg = NULL;
	}
	/* the model did not finish within its steps */
	if (t->env.booked_id > 0)
		goto booked;
	buf_puts(reply, apology(lang));
	st = AGENT_OK;
	goto out;
booked:
	/* never lose a booking: its confirmation is the reply */
	buf_reset(reply);
	for (k = json_array_size(t->calls); k > 0; k--) {
		res = json_object_get(json_array_get(t->calls, k - 1), "result");
		if (json_is_true(json_object_get(res, "ok")) && json_object_get(res, "appointment")) {
			buf_puts(reply, json_string_value(json_object_get(res, "text")));
			break;
		}
	}
	st = AGENT_OK;
out:
	json_decref(msg);
	json_decref(msgs);
	json_decref(tools);
	buf_free(&sys);
	return st;
}

static enum agent_status answer_fail(struct agent_answer *a, enum agent_status st,
				     const char *field, const char *msg)
{
	a->status = st;
	a->field = field;
	str_copy(a->message, msg, sizeof(a->message));
	return st;
}

/* Messages of this client in the window: count and the oldest's time. 0 or -1. */
static int rate_count(struct db *db, const char *client, time_t since, long *count, time_t *oldest)
{
	struct db_rows rows;
	int r = db_query_one(db, STMT_AGENT_RATE, DB_ARGS(DBP_TEXT(client), DBP_INT(since)), &rows);

	*count = 0;
	*oldest = since;
	if (r < 0)
		return -1;
	if (r > 0) {
		*count = (long)db_cell_int(&rows, 0, 0, 0);
		*oldest = (time_t)db_cell_int(&rows, 0, 1, since);
		db_rows_free(&rows);
	}
	return 0;
}

/* The stored metadata of the assistant message: a JSON text within AGENT_META_MAX (malloc'd). */
static char *metadata_text(json_t *calls, const char *mode, const char *model)
{
	json_t *meta = json_pack("{s:s, s:O}", "mode", mode, "function_calls", calls), *c, *r;
	char *out;
	size_t i;

	if (!meta)
		return NULL;
	if (model)
		json_object_set_new(meta, "model", json_string(model));
	out = json_dumps(meta, JSON_COMPACT);
	if (out && strlen(out) > AGENT_META_MAX) {
		/* too large for the column: keep the calls, shorten the results */
		free(out);
		json_array_foreach(json_object_get(meta, "function_calls"), i, c) {
			r = json_object_get(c, "result");
			json_object_set_new(c, "result", json_pack("{s:O?, s:O?, s:O?}", "ok",
								   json_object_get(r, "ok"), "error",
								   json_object_get(r, "error"), "appointment",
								   json_object_get(r, "appointment")));
			if (json_is_string(json_object_get(c, "arguments")) &&
			    json_string_length(json_object_get(c, "arguments")) > 2000)
				json_object_set_new(c, "arguments", json_string("(too long)"));
		}
		out = json_dumps(meta, JSON_COMPACT);
	}
	json_decref(meta);
	return out;
}

enum agent_status agent_chat(struct db *db, struct conf *c, const struct agent_request *rq,
			     struct agent_answer *a)
{
	struct practice_service *svc = NULL;
	struct asst_service *asvc = NULL;
	struct doctor doctor;
	struct turn t;
	struct db_rows conv;
	struct buf reply;
	struct asst_ctx actx;
	char msg[AGENT_MESSAGE_MAX + 1], token_hash[65], client[65], model[256] = "";
	const char *secret = conf_get(c, "TF_SECRET_KEY"), *mode, *p, *stored_lang = NULL;
	char *meta_text = NULL, *state_text = NULL;
	uint8_t mac[32];
	json_t *state = NULL, *calls_out;
	long long conv_id = 0, appt_param;
	long nsvc = 0, rate_min, rate_day, count, i, turns = 0;
	time_t oldest;
	enum asst_lang lang;
	enum agent_status st;
	size_t n, k;
	int found, have_conv = 0, in_tx = 0;

	memset(a, 0, sizeof(*a));
	memset(&t, 0, sizeof(t));
	memset(&conv, 0, sizeof(conv));
	buf_init(&reply, 64 * 1024);
	a->status = AGENT_ERROR;

	/* the input */
	if (!rq->message) {
		st = answer_fail(a, AGENT_INVALID, "message", "Die Nachricht (message) fehlt.");
		goto out;
	}
	p = rq->message;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n == 0 || n > AGENT_MESSAGE_MAX || !utf8_text_valid(p, n, UTF8_TAB | UTF8_LF)) {
		st = answer_fail(a, AGENT_INVALID, "message", n == 0 ?
				 "Die Nachricht (message) ist leer." : n > AGENT_MESSAGE_MAX ?
				 "Die Nachricht (message) ist zu lang: höchstens 1000 Bytes." :
				 "Die Nachricht (message) enthält ungültige Zeichen.");
		goto out;
	}
	memcpy(msg, p, n);
	msg[n] = '\0';
	if (!rq->doctor_slug || !doctor_slug_valid(rq->doctor_slug)) {
		st = answer_fail(a, AGENT_INVALID, "doctor", rq->doctor_slug ?
				 "Die Praxis (doctor) ist ungültig." : "Die Praxis (doctor) fehlt.");
		goto out;
	}
	if (rq->conversation && (strlen(rq->conversation) != AGENT_TOKEN_LEN ||
				 !str_only_chars(rq->conversation, AGENT_TOKEN_LEN,
						 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
						 "0123456789-_"))) {
		st = answer_fail(a, AGENT_INVALID, "conversation_id",
				 "Die Gesprächskennung (conversation_id) ist ungültig.");
		goto out;
	}
	if (!secret || strlen(secret) < 32) {
		log_error("agent: TF_SECRET_KEY is missing or shorter than 32 characters");
		st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
		goto out;
	}
	if (conf_get_long(c, "TF_AGENT_RATE_PER_MINUTE", AGENT_RATE_MINUTE, 1, 1000000, &rate_min,
			  model, sizeof(model)) < 0 ||
	    conf_get_long(c, "TF_AGENT_RATE_PER_DAY", AGENT_RATE_DAY, 1, 100000000, &rate_day,
			  model, sizeof(model)) < 0) {
		log_error("agent: %s", model);
		st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
		goto out;
	}
	model[0] = '\0';

	/* the doctor and the conversation */
	found = doctor_by_slug(db, rq->doctor_slug, &doctor);
	if (found < 0) {
		st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
		goto out;
	}
	if (found == 0) {
		st = answer_fail(a, AGENT_NOT_FOUND, "doctor", "Diese Praxis gibt es nicht.");
		goto out;
	}
	explicit_bzero(doctor.password_hash, sizeof(doctor.password_hash));
	hmac_sha256(secret, strlen(secret), rq->client_ip ? rq->client_ip : "",
		    rq->client_ip ? strlen(rq->client_ip) : 0, mac);
	for (k = 0; k < 32; k++)
		snprintf(client + 2 * k, 3, "%02x", mac[k]);
	if (rq->conversation) {
		sha256_hex(rq->conversation, strlen(rq->conversation), token_hash);
		found = db_query_one(db, STMT_AGENT_CONV_GET, DB_ARGS(DBP_TEXT(token_hash),
								      DBP_INT(doctor.id)), &conv);
		if (found < 0) {
			st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
			goto out;
		}
		if (found == 0) {
			st = answer_fail(a, AGENT_NOT_FOUND, "conversation_id",
					 "Dieses Gespräch gibt es nicht (mehr). Bitte beginnen Sie ein "
					 "neues Gespräch.");
			goto out;
		}
		have_conv = 1;
		conv_id = db_cell_int(&conv, 0, 0, 0);
		turns = (long)db_cell_int(&conv, 0, 4, 0);
		if (turns >= AGENT_TURNS_MAX) {
			st = answer_fail(a, AGENT_TOO_LONG, NULL,
					 "Dieses Gespräch ist zu lang. Bitte beginnen Sie ein neues "
					 "Gespräch.");
			goto out;
		}
		str_copy(a->conversation, rq->conversation, sizeof(a->conversation));
	} else {
		crypto_random_token(32, a->conversation, sizeof(a->conversation));
		sha256_hex(a->conversation, strlen(a->conversation), token_hash);
	}

	/* the per-IP rates */
	if (rate_count(db, client, rq->now - 60, &count, &oldest) < 0) {
		st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
		goto out;
	}
	if (count >= rate_min) {
		a->retry_after = oldest + 61 - rq->now > 0 ? (long)(oldest + 61 - rq->now) : 1;
		st = answer_fail(a, AGENT_RATE_LIMITED, NULL,
				 "Zu viele Nachrichten. Bitte warten Sie einen Moment.");
		goto out;
	}
	if (rate_count(db, client, rq->now - 86400, &count, &oldest) < 0) {
		st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
		goto out;
	}
	if (count >= rate_day) {
		a->retry_after = oldest + 86401 - rq->now > 0 ? (long)(oldest + 86401 - rq->now) : 1;
		st = answer_fail(a, AGENT_RATE_LIMITED, NULL,
				 "Zu viele Nachrichten heute. Bitte nutzen Sie das Buchungsformular.");
		goto out;
	}

	/* the turn */
	mode = have_conv ? (strcmp(db_cell(&conv, 0, 1) ? db_cell(&conv, 0, 1) : "", "llm") == 0 ?
			    "llm" : "offline") : (llm_configured(c) ? "llm" : "offline");
	a->mode = mode;
	if (have_conv)
		stored_lang = db_cell(&conv, 0, 2);
	lang = ASST_DE;
	if (stored_lang) {
		for (int l = ASST_DE; l <= ASST_RU; l++) {
			if (strcmp(asst_lang_code((enum asst_lang)l), stored_lang) == 0)
				lang = (enum asst_lang)l;
		}
	}
	lang = asst_detect_language(msg, lang);
	t.env.db = db;
	t.env.conf = c;
	t.env.doctor = &doctor;
	t.env.now = rq->now;
	t.env.conversation = a->conversation;
	if (tz_today(doctor.timezone, rq->now, &t.env.today) < 0) {
		st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
		goto out;
	}
	t.calls = json_array();
	nsvc = practice_services_list(db, doctor.id, 0, &svc);
	if (nsvc < 0 || !t.calls) {
		st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
		goto out;
	}
	if (strcmp(mode, "llm") == 0) {
		st = llm_turn(&t, c, conv_id, svc, nsvc, msg, lang, &reply, model, sizeof(model), a);
		if (st == AGENT_UNAVAILABLE) {
			answer_fail(a, AGENT_UNAVAILABLE, NULL,
				    "Der Assistent ist gerade nicht erreichbar. Bitte nutzen Sie das "
				    "Buchungsformular.");
			goto out;
		}
		if (st != AGENT_OK) {
			st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
			goto out;
		}
	} else {
		state = have_conv && db_cell(&conv, 0, 3) ? json_loads(db_cell(&conv, 0, 3), 0, NULL) : NULL;
		if (!json_is_object(state)) {
			json_decref(state);
			state = json_object();
		}
		asvc = calloc((size_t)nsvc + 1, sizeof(*asvc));
		if (!asvc || !state) {
			st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
			goto out;
		}
		for (i = 0; i < nsvc; i++) {
			asvc[i].name = svc[i].name;
			asvc[i].duration = svc[i].duration;
		}
		memset(&actx, 0, sizeof(actx));
		actx.today = &t.env.today;
		actx.services = asvc;
		actx.nservices = (size_t)nsvc;
		actx.tool = offline_tool;
		actx.tool_ud = &t;
		if (asst_turn(&actx, state, msg, &reply) < 0) {
			st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
			goto out;
		}
		state_text = json_dumps(state, JSON_COMPACT);
	}
	a->reply = utf8_dup_max(reply.data ? reply.data : "", AGENT_REPLY_MAX);
	meta_text = metadata_text(t.calls, mode, model[0] ? model : NULL);
	if (!a->reply || !meta_text) {
		st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
		goto out;
	}

	/* store the turn: conversation, user message, assistant message in one transaction */
	appt_param = t.env.booked_id;
	if (db_begin(db) != TF_OK)
		goto store_fail;
	in_tx = 1;
	if (!have_conv) {
		unsigned long long id = 0;

		if (db_exec(db, STMT_AGENT_CONV_INSERT,
			    DB_ARGS(DBP_TEXT(token_hash), DBP_INT(doctor.id), DBP_TEXT(client),
				    DBP_TEXT(mode), DBP_TEXT(asst_lang_code(lang)), DBP_TEXT(state_text),
				    appt_param > 0 ? DBP_INT(appt_param) : DBP_NULL, DBP_INT(rq->now),
				    DBP_INT(rq->now)), NULL, &id) != TF_OK)
			goto store_fail;
		conv_id = (long long)id;
	} else if (db_exec(db, STMT_AGENT_CONV_UPDATE,
			   DB_ARGS(DBP_TEXT(asst_lang_code(lang)), DBP_TEXT(state_text),
				   appt_param > 0 ? DBP_INT(appt_param) : DBP_NULL, DBP_INT(rq->now),
				   DBP_INT(conv_id)), NULL, NULL) != TF_OK) {
		goto store_fail;
	}
	if (db_exec(db, STMT_AGENT_MSG_INSERT,
		    DB_ARGS(DBP_INT(conv_id), DBP_TEXT("user"), DBP_TEXT(msg), DBP_NULL, DBP_TEXT(client),
			    DBP_INT(rq->now)), NULL, NULL) != TF_OK ||
	    db_exec(db, STMT_AGENT_MSG_INSERT,
		    DB_ARGS(DBP_INT(conv_id), DBP_TEXT("assistant"), DBP_TEXT(a->reply),
			    DBP_TEXT(meta_text), DBP_TEXT(client), DBP_INT(rq->now)), NULL, NULL) != TF_OK ||
	    db_commit(db) != TF_OK)
		goto store_fail;
	in_tx = 0;
	goto answer;

store_fail:
	if (in_tx)
		db_rollback(db);
	in_tx = 0;
	log_error("agent: the turn of conversation %lld could not be stored", conv_id);
	if (t.env.booked_id <= 0) {
		st = answer_fail(a, AGENT_ERROR, NULL, "Interner Fehler.");
		goto out;
	}
	/* a booking happened: the patient must learn of it even so */
answer:
	/* the API's tool_calls: function, arguments, result (the model's ids stay in metadata) */
	calls_out = json_deep_copy(t.calls);
	for (k = 0; k < json_array_size(calls_out); k++)
		json_object_del(json_array_get(calls_out, k), "id");
	a->tool_calls = calls_out ? calls_out : json_array();
	a->appointment = t.env.appointment;
	t.env.appointment = NULL;
	a->booked_id = t.env.booked_id;
	a->status = st = AGENT_OK;
out:
	if (st != AGENT_OK) {
		free(a->reply);
		a->reply = NULL;
		/* a booking made in a turn that then failed is still mailed */
		a->booked_id = t.env.booked_id;
	}
	agent_env_free(&t.env);
	json_decref(t.calls);
	json_decref(state);
	free(state_text);
	free(meta_text);
	free(asvc);
	free(svc);
	if (have_conv)
		db_rows_free(&conv);
	buf_free(&reply);
	return st;
}

long agent_prune(struct db *db, struct conf *c, time_t now)
{
	unsigned long long n = 0;
	char err[200];
	long days;

	if (conf_get_long(c, "TF_AGENT_RETENTION_DAYS", AGENT_RETENTION_DAYS, 1, 3650, &days, err,
			  sizeof(err)) < 0) {
		log_error("agent: %s", err);
		return -1;
	}
	if (db_exec(db, STMT_AGENT_PRUNE, DB_ARGS(DBP_INT(now - (time_t)days * 86400)), &n,
		    NULL) != TF_OK)
		return -1;
	return (long)n;
}
