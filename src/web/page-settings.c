/* page-settings.c: the doctor's page /doctor/settings ("Praxis & Termine") and its POST actions. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "booking.h"
#include "doctor.h"
#include "holidays.h"
#include "integration.h"
#include "log.h"
#include "nlp.h"
#include "practice.h"
#include "web.h"

#define SETTINGS_PATH      "/doctor/settings"
#define MAX_APPOINTMENTS   200   /* upcoming appointments listed */
#define MAX_CLOSURES       200

/* Success notices: the redirect carries only the code; the text is fixed here (nothing from the
 * URL is ever shown). */
static const struct {
	const char *code, *text;
} notices[] = {
	{ "profile",   "Die Praxisangaben wurden gespeichert." },
	{ "hours",     "Die Sprechzeiten wurden gespeichert." },
	{ "closure",   "Die Schließzeit wurde eingetragen." },
	{ "closure-deleted", "Die Schließzeit wurde gelöscht." },
	{ "service",   "Die Leistung wurde angelegt." },
	{ "service-saved", "Die Leistung wurde gespeichert." },
	{ "service-off", "Die Leistung wurde deaktiviert und wird nicht mehr angeboten." },
	{ "cancelled", "Der Termin wurde abgesagt. Die Patientin oder der Patient wird per E-Mail informiert." },
	{ "moved",     "Der Termin wurde verschoben. Die Patientin oder der Patient wird per E-Mail informiert." },
	{ "reviewed",  "Der Hinweis wurde als gesehen markiert." },
};

/* An error to show on the page again, with the section it belongs to; the form's fields are
 * shown as they were sent. */
struct settings_error {
	int status;
	const char *section;          /* "profile", "hours", "closures", "services", "appointments" */
	const char *message;
	long long service_id;         /* the service whose edit failed (0: the new-service form) */
};

static const char *field_or(struct request *req, const char *name, const char *def)
{
	const char *v = request_field(req, name);

	return v ? v : def;
}

static json_t *profile_json(struct request *req, const struct doctor *d, const struct settings_error *e)
{
	int sent = e && strcmp(e->section, "profile") == 0;
	const char *bl = sent ? field_or(req, "bundesland", d->bundesland) : d->bundesland;
	json_t *o, *states = json_array();
	unsigned i;

	for (i = 0; i < BL_MAX; i++)
		json_array_append_new(states, json_pack("{s:s, s:s, s:b}", "code",
							bundesland_code((enum bundesland)i), "name",
							bundesland_name((enum bundesland)i), "selected",
							strcasecmp(bl, bundesland_code((enum bundesland)i)) == 0));
	o = json_pack("{s:s, s:s, s:s, s:o}",
		      "practice_name", sent ? field_or(req, "practice_name", "") : d->practice_name,
		      "practice_address", sent ? field_or(req, "practice_address", "") : d->practice_address,
		      "timezone", sent ? field_or(req, "timezone", "") : d->timezone, "states", states);
	return o;
}

static json_t *hours_json(struct app *app, struct request *req, const struct doctor *d,
			  const struct settings_error *e, int *fail)
{
	int sent = e && strcmp(e->section, "hours") == 0;
	struct practice_week w;
	json_t *days = json_array();
	struct buf b;
	char name[16];
	int wd;

	if (practice_hours_get(app_db(app), d->id, &w) != TF_OK) {
		*fail = 1;
		return days;
	}
	buf_init(&b, 4096);
	for (wd = 1; wd <= 7; wd++) {
		snprintf(name, sizeof(name), "hours_%d", wd);
		buf_reset(&b);
		practice_hours_format(w.day[wd - 1], w.n[wd - 1], &b);
		json_array_append_new(days, json_pack("{s:i, s:s, s:s, s:s}", "weekday", wd, "name",
						      practice_weekday_name(wd), "field", name, "text",
						      sent ? field_or(req, name, "") : (b.data ? b.data : "")));
	}
	buf_free(&b);
	return days;
}

static json_t *closures_json(struct app *app, const struct doctor *d, int *fail)
{
	struct practice_closure *list = NULL;
	json_t *arr = json_array();
	struct civil today;
	char from[80], to[80];
	long n, i;

	if (tz_today(d->timezone, time(NULL), &today) < 0) {
		*fail = 1;
		return arr;
	}
	n = practice_closures_upcoming(app_db(app), d->id, &today, MAX_CLOSURES, &list);
	if (n < 0) {
		*fail = 1;
		return arr;
	}
	for (i = 0; i < n; i++) {
		page_date_de(&list[i].start, from, sizeof(from));
		page_date_de(&list[i].end, to, sizeof(to));
		json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:b}", "id",
						     (json_int_t)list[i].id, "from", from, "to", to,
						     "reason", list[i].reason, "one_day",
						     list[i].start.year == list[i].end.year &&
						     list[i].start.month == list[i].end.month &&
						     list[i].start.day == list[i].end.day));
	}
	free(list);
	return arr;
}

static json_t *service_json(const struct practice_service *s)
{
	return json_pack("{s:I, s:s, s:i, s:i, s:i, s:b, s:b}", "id", (json_int_t)s->id, "name", s->name,
			 "duration", s->duration, "buffer_before", s->buffer_before, "buffer_after",
			 s->buffer_after, "video", s->is_video, "active", s->active);
}

/* The fields of a service form as sent (for showing a refused edit again). */
static json_t *service_json_sent(struct request *req, long long id, int active)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:b}", "id", (json_int_t)id,
			 "name", field_or(req, "name", ""),
			 "duration", field_or(req, "duration_minutes", ""),
			 "buffer_before", field_or(req, "buffer_before_minutes", ""),
			 "buffer_after", field_or(req, "buffer_after_minutes", ""),
			 "video", request_field(req, "is_video") != NULL, "active", active);
}

static json_t *services_json(struct app *app, struct request *req, const struct doctor *d,
			     const struct settings_error *e, int *fail)
{
	struct practice_service *list = NULL;
	int sent = e && strcmp(e->section, "services") == 0;
	json_t *arr = json_array();
	long n, i;

	n = practice_services_list(app_db(app), d->id, 1, &list);
	if (n < 0) {
		*fail = 1;
		return arr;
	}
	for (i = 0; i < n; i++) {
		if (sent && e->service_id == list[i].id)
			json_array_append_new(arr, service_json_sent(req, list[i].id, list[i].active));
		else
			json_array_append_new(arr, service_json(&list[i]));
	}
	free(list);
	return arr;
}

static json_t *appointments_json(struct app *app, const struct doctor *d, int *fail)
{
	struct appointment *list = NULL;
	json_t *arr = json_array();
	struct civil s;
	char date[80], from[6], to[6], iso[11];
	long n, i;

	n = appointment_list_upcoming(app_db(app), d->id, time(NULL), 0, MAX_APPOINTMENTS, &list);
	if (n < 0) {
		*fail = 1;
		return arr;
	}
	for (i = 0; i < n; i++) {
		if (tz_utc_to_local(d->timezone, list[i].start, &s) < 0)
			memset(&s, 0, sizeof(s));
		page_date_de(&s, date, sizeof(date));
		civil_format_date(&s, iso);
		tz_format_hm(d->timezone, list[i].start, from);
		tz_format_hm(d->timezone, list[i].end, to);
		json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
						     "id", (json_int_t)list[i].id, "date", date,
						     "date_iso", iso, "start", from, "end", to,
						     "service", list[i].service_name,
						     "patient_name", list[i].patient_name,
						     "patient_email", list[i].patient_email,
						     "patient_phone", list[i].patient_phone,
						     "video_link", list[i].video_link));
	}
	free(list);
	return arr;
}

/* Date and times of an appointment in the doctor's zone into o (date, start, end). */
static void when_json(json_t *o, const char *tz, long long start, long long end)
{
	struct civil s;
	char date[80], from[6], to[6];

	if (tz_utc_to_local(tz, (time_t)start, &s) < 0)
		memset(&s, 0, sizeof(s));
	page_date_de(&s, date, sizeof(date));
	tz_format_hm(tz, (time_t)start, from);
	tz_format_hm(tz, (time_t)end, to);
	json_object_set_new(o, "date", json_string(date));
	json_object_set_new(o, "start", json_string(from));
	json_object_set_new(o, "end", json_string(to));
}

#define MAX_FLAGS 200   /* conflicts and review flags listed */

/* Conflicts (confirmed appointments overlapping external busy time) and appointments flagged for
 * review, with their display fields; has_flags when the doctor has a calendar connection or
 * anything to show. External events have no titles: only our appointment's date, time, service. */
static void flags_json(struct app *app, const struct doctor *d, json_t *ctx, int *fail)
{
	json_t *conflicts, *reviews, *list, *o, *arr;
	size_t i;

	conflicts = integration_conflicts_json(app_db(app), d->id, time(NULL), MAX_FLAGS);
	reviews = integration_review_json(app_db(app), d->id, MAX_FLAGS);
	list = integration_list_json(app_db(app), d->id, 0);
	if (!conflicts || !reviews || !list) {
		*fail = 1;
		goto out;
	}
	arr = json_array();
	json_array_foreach(conflicts, i, o) {
		json_t *c = json_pack("{s:O, s:s, s:O}", "id", json_object_get(o, "appointment_id"),
				      "service", json_string_value(json_object_get(o, "service_name")) ?: "",
				      "calendar", json_object_get(o, "calendar_name") ?: json_null());

		when_json(c, d->timezone, json_integer_value(json_object_get(o, "start_unix")),
			  json_integer_value(json_object_get(o, "end_unix")));
		json_array_append_new(arr, c);
	}
	json_object_set_new(ctx, "conflicts", arr);
	arr = json_array();
	json_array_foreach(reviews, i, o) {
		json_t *c = json_pack("{s:O, s:s, s:s, s:b}", "id", json_object_get(o, "appointment_id"),
				      "service", json_string_value(json_object_get(o, "service_name")) ?: "",
				      "reason", json_string_value(json_object_get(o, "review_reason")) ?: "",
				      "cancelled", strcmp(json_string_value(json_object_get(o, "status")) ?: "",
							  "cancelled") == 0);

		when_json(c, d->timezone, json_integer_value(json_object_get(o, "start_unix")),
			  json_integer_value(json_object_get(o, "end_unix")));
		json_array_append_new(arr, c);
	}
	json_object_set_new(ctx, "reviews", arr);
	json_object_set_new(ctx, "has_flags", json_boolean(json_array_size(list) ||
							   json_array_size(conflicts) ||
							   json_array_size(reviews)));
out:
	json_decref(conflicts);
	json_decref(reviews);
	json_decref(list);
}

/* The whole settings page: from the database, with e's form shown as it was sent. */
static void settings_page(struct app *app, struct request *req, struct response *rs,
			  const struct settings_error *e)
{
	const char *ok = kv_get(&req->query, "ok");
	struct doctor d;
	json_t *ctx;
	char key[40];
	size_t i;
	int fail = 0, r;

	r = doctor_by_id(app_db(app), req->doctor_id, &d);
	if (r != 1) {
		error_respond(app, req, rs, r < 0 ? app_db_error_status(app) : 404, NULL);
		return;
	}
	memset(d.password_hash, 0, sizeof(d.password_hash));
	ctx = page_context(app, req, rs, "Praxis & Termine", 1);
	json_object_set_new(ctx, "slug", json_string(d.slug));
	json_object_set_new(ctx, "profile", profile_json(req, &d, e));
	json_object_set_new(ctx, "days", hours_json(app, req, &d, e, &fail));
	json_object_set_new(ctx, "closures", closures_json(app, &d, &fail));
	json_object_set_new(ctx, "services", services_json(app, req, &d, e, &fail));
	json_object_set_new(ctx, "appointments", appointments_json(app, &d, &fail));
	flags_json(app, &d, ctx, &fail);
	if (fail) {
		json_decref(ctx);
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	if (e && strcmp(e->section, "closures") == 0)
		json_object_set_new(ctx, "new_closure", json_pack("{s:s, s:s, s:s}",
			"start_date", field_or(req, "start_date", ""),
			"end_date", field_or(req, "end_date", ""), "reason", field_or(req, "reason", "")));
	if (e && strcmp(e->section, "services") == 0 && e->service_id == 0)
		json_object_set_new(ctx, "new_service", service_json_sent(req, 0, 1));
	if (e) {
		json_object_set_new(ctx, "error", json_string(e->message));
		snprintf(key, sizeof(key), "error_%s", e->section);
		json_object_set_new(ctx, key, json_string(e->message));
	} else if (ok) {
		for (i = 0; i < TF_ARRAY_LEN(notices); i++) {
			if (strcmp(ok, notices[i].code) == 0)
				json_object_set_new(ctx, "notice", json_string(notices[i].text));
		}
	}
	page_render(app, rs, e ? e->status : 200, "settings", ctx);
	json_decref(ctx);
}

void page_settings_get(struct app *app, struct request *req, struct response *rs)
{
	settings_page(app, req, rs, NULL);
}

/* 303 back to the page with a notice code. */
static void done(struct response *rs, const char *code, const char *anchor)
{
	char loc[128];

	snprintf(loc, sizeof(loc), SETTINGS_PATH "?ok=%s#%s", code, anchor);
	resp_redirect(rs, 303, loc);
}

static void refuse(struct app *app, struct request *req, struct response *rs, int status,
		   const char *section, const char *message, long long service_id)
{
	struct settings_error e = { status, section, message, service_id };

	settings_page(app, req, rs, &e);
}

/* A failed core call: TF_ERR_INVALID → the page with the message (400); NOTFOUND → 404; else 5xx. */
static void core_failed(struct app *app, struct request *req, struct response *rs, enum tf_err rc,
			const char *section, const struct practice_err *pe, long long service_id)
{
	if (rc == TF_ERR_INVALID)
		refuse(app, req, rs, 400, section, pe->message[0] ? pe->message :
		       "Bitte prüfen Sie Ihre Eingaben.", service_id);
	else if (rc == TF_ERR_NOTFOUND)
		error_respond(app, req, rs, 404, NULL);
	else
		error_respond(app, req, rs, app_db_error_status(app), NULL);
}

void settings_profile_post(struct app *app, struct request *req, struct response *rs)
{
	struct practice_profile p = {
		.practice_name = field_or(req, "practice_name", ""),
		.practice_address = field_or(req, "practice_address", ""),
		.bundesland = field_or(req, "bundesland", ""),
		.timezone = field_or(req, "timezone", ""),
	};
	struct practice_err pe = { 0 };
	enum tf_err rc = practice_profile_update(app_db(app), req->doctor_id, &p, &pe);

	if (rc == TF_OK)
		done(rs, "profile", "praxis");
	else
		core_failed(app, req, rs, rc, "profile", &pe, 0);
}

void settings_hours_post(struct app *app, struct request *req, struct response *rs)
{
	struct practice_week w;
	struct practice_err pe = { 0 };
	char name[16];
	enum tf_err rc;
	int wd;

	memset(&w, 0, sizeof(w));
	for (wd = 1; wd <= 7; wd++) {
		snprintf(name, sizeof(name), "hours_%d", wd);
		if (practice_hours_parse(wd, field_or(req, name, ""), w.day[wd - 1],
					 PRACTICE_HOURS_PER_DAY, &w.n[wd - 1], &pe) < 0) {
			refuse(app, req, rs, 400, "hours", pe.message, 0);
			return;
		}
	}
	rc = practice_hours_set_week(app_db(app), req->doctor_id, &w, &pe);
	if (rc == TF_OK)
		done(rs, "hours", "sprechzeiten");
	else
		core_failed(app, req, rs, rc, "hours", &pe, 0);
}

void settings_closure_add_post(struct app *app, struct request *req, struct response *rs)
{
	const char *from = field_or(req, "start_date", ""), *to = field_or(req, "end_date", "");
	struct practice_err pe = { 0 };
	struct civil a, b;
	long long id = 0;
	enum tf_err rc;

	if (civil_parse_date(from, &a) < 0) {
		refuse(app, req, rs, 400, "closures", "Bitte geben Sie ein gültiges erstes Datum der "
		       "Schließzeit an.", 0);
		return;
	}
	if (!*to)
		b = a;   /* one day */
	else if (civil_parse_date(to, &b) < 0) {
		refuse(app, req, rs, 400, "closures", "Bitte geben Sie ein gültiges letztes Datum der "
		       "Schließzeit an.", 0);
		return;
	}
	rc = practice_closure_add(app_db(app), req->doctor_id, &a, &b, field_or(req, "reason", ""), &id,
				  &pe);
	if (rc == TF_OK)
		done(rs, "closure", "schliesszeiten");
	else
		core_failed(app, req, rs, rc, "closures", &pe, 0);
}

void settings_closure_delete_post(struct app *app, struct request *req, struct response *rs)
{
	enum tf_err rc = practice_closure_delete(app_db(app), req->doctor_id, request_param_id(req));

	if (rc == TF_OK)
		done(rs, "closure-deleted", "schliesszeiten");
	else
		core_failed(app, req, rs, rc, "closures", &(struct practice_err){ 0 }, 0);
}

/* Read a service form into s. 0, or -1 with a German message in *msg. */
static int service_form(struct request *req, struct practice_service *s, const char **msg)
{
	static const struct {
		const char *field;
		long min, max;
		const char *msg;
	} nums[] = {
		{ "duration_minutes", PRACTICE_DURATION_MIN, PRACTICE_DURATION_MAX,
		  "Die Dauer muss eine ganze Zahl von 5 bis 600 Minuten sein." },
		{ "buffer_before_minutes", 0, PRACTICE_BUFFER_MAX,
		  "Die Pufferzeit vorher muss eine ganze Zahl von 0 bis 120 Minuten sein." },
		{ "buffer_after_minutes", 0, PRACTICE_BUFFER_MAX,
		  "Die Pufferzeit nachher muss eine ganze Zahl von 0 bis 120 Minuten sein." },
	};
	int *dst[] = { &s->duration, &s->buffer_before, &s->buffer_after };
	const char *name = field_or(req, "name", "");
	const char *v;
	long n;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (str_copy(s->name, name, sizeof(s->name)) >= sizeof(s->name)) {
		*msg = "Der Name der Leistung ist zu lang (höchstens 120 Zeichen).";
		return -1;
	}
	for (i = 0; i < TF_ARRAY_LEN(nums); i++) {
		v = request_field(req, nums[i].field);
		if (i > 0 && (!v || !*v))
			v = "0";
		if (!v || str_to_long(v, nums[i].min, nums[i].max, &n) < 0) {
			*msg = nums[i].msg;
			return -1;
		}
		*dst[i] = (int)n;
	}
	s->is_video = request_field(req, "is_video") != NULL;
	s->active = 1;
	return 0;
}

void settings_service_add_post(struct app *app, struct request *req, struct response *rs)
{
	struct practice_err pe = { 0 };
	struct practice_service s;
	const char *msg = NULL;
	long long id = 0;
	enum tf_err rc;

	if (service_form(req, &s, &msg) < 0) {
		refuse(app, req, rs, 400, "services", msg, 0);
		return;
	}
	rc = practice_service_add(app_db(app), req->doctor_id, &s, &id, &pe);
	if (rc == TF_OK)
		done(rs, "service", "leistungen");
	else
		core_failed(app, req, rs, rc, "services", &pe, 0);
}

void settings_service_edit_post(struct app *app, struct request *req, struct response *rs)
{
	long long id = request_param_id(req);
	struct practice_err pe = { 0 };
	struct practice_service s, cur;
	const char *msg = NULL;
	enum tf_err rc;
	int r;

	r = practice_service_by_id(app_db(app), req->doctor_id, id, &cur);
	if (r <= 0) {
		error_respond(app, req, rs, r < 0 ? app_db_error_status(app) : 404, NULL);
		return;
	}
	if (service_form(req, &s, &msg) < 0) {
		refuse(app, req, rs, 400, "services", msg, id);
		return;
	}
	s.id = id;
	rc = practice_service_update(app_db(app), req->doctor_id, &s, &pe);
	if (rc == TF_OK && request_field(req, "active_shown")) {
		/* the edit form carries the "active" checkbox: reactivate or deactivate */
		int want = request_field(req, "active") != NULL;

		if (want != cur.active)
			rc = practice_service_set_active(app_db(app), req->doctor_id, id, want);
	}
	if (rc == TF_OK)
		done(rs, "service-saved", "leistungen");
	else
		core_failed(app, req, rs, rc, "services", &pe, id);
}

void settings_service_delete_post(struct app *app, struct request *req, struct response *rs)
{
	enum tf_err rc = practice_service_set_active(app_db(app), req->doctor_id,
						     request_param_id(req), 0);

	if (rc == TF_OK)
		done(rs, "service-off", "leistungen");
	else
		core_failed(app, req, rs, rc, "services", &(struct practice_err){ 0 }, 0);
}

/* A refused cancel or reschedule: 404 for an unknown (or another doctor's) appointment, the page
 * with the German message for the rest. */
static void booking_failed(struct app *app, struct request *req, struct response *rs,
			   const struct booking_result *r)
{
	int st = booking_http_status(r);

	switch (r->status) {
	case BOOKING_NOT_FOUND:
		error_respond(app, req, rs, 404, "Diesen Termin gibt es nicht.");
		break;
	case BOOKING_INVALID:
		refuse(app, req, rs, 400, "appointments", r->message[0] ? r->message :
		       "Bitte prüfen Sie Datum und Uhrzeit.", 0);
		break;
	case BOOKING_CONFLICT:
		refuse(app, req, rs, 409, "appointments", r->message[0] ? r->message :
		       "Zu dieser Zeit ist kein Termin frei.", 0);
		break;
	case BOOKING_GONE:
		refuse(app, req, rs, 409, "appointments", r->message[0] ? r->message :
		       "Dieser Termin ist bereits abgesagt oder vorbei.", 0);
		break;
	default:
		error_respond(app, req, rs, st >= 500 ? app_db_error_status(app) : st, NULL);
		break;
	}
}

void settings_appointment_cancel_post(struct app *app, struct request *req, struct response *rs)
{
	struct booking_result r;
	long long id = request_param_id(req);

	memset(&r, 0, sizeof(r));
	booking_cancel_by_doctor(app_db(app), app->conf, req->doctor_id, id, time(NULL), &r);
	if (r.status == BOOKING_OK) {
		req->mail_after = id;
		done(rs, "cancelled", "termine");
	} else {
		booking_failed(app, req, rs, &r);
	}
	booking_result_free(&r);
}

void settings_appointment_reschedule_post(struct app *app, struct request *req, struct response *rs)
{
	const char *date = field_or(req, "date", ""), *tm = field_or(req, "time", "");
	long long id = request_param_id(req);
	struct booking_result r;
	struct civil today, c;
	struct appointment a;
	struct doctor d;
	int h, m, found;

	memset(&r, 0, sizeof(r));
	found = appointment_by_id(app_db(app), id, &a);
	if (found < 0 || (found == 1 && doctor_by_id(app_db(app), req->doctor_id, &d) < 0)) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	if (found == 0 || a.doctor_id != req->doctor_id) {
		error_respond(app, req, rs, 404, "Diesen Termin gibt es nicht.");
		return;
	}
	if (tz_today(d.timezone, time(NULL), &today) < 0 || nlp_parse_date(date, &today, &c) < 0) {
		refuse(app, req, rs, 400, "appointments", "Bitte geben Sie ein gültiges neues Datum an.", 0);
		return;
	}
	if (nlp_parse_time(tm, &h, &m) < 0) {
		refuse(app, req, rs, 400, "appointments", "Bitte geben Sie eine gültige neue Uhrzeit an, "
		       "z. B. 14:30.", 0);
		return;
	}
	c.hour = h;
	c.minute = m;
	booking_reschedule(app_db(app), app->conf, req->doctor_id, id, &c, time(NULL), &r);
	if (r.status == BOOKING_OK) {
		req->mail_after = id;
		done(rs, "moved", "termine");
	} else {
		booking_failed(app, req, rs, &r);
	}
	booking_result_free(&r);
}

void settings_appointment_reviewed_post(struct app *app, struct request *req, struct response *rs)
{
	int r = integration_review_clear(app_db(app), req->doctor_id, request_param_id(req));

	if (r == 1)
		done(rs, "reviewed", "pruefung");
	else if (r == 0)
		error_respond(app, req, rs, 404, "Diesen Termin gibt es nicht.");
	else
		error_respond(app, req, rs, app_db_error_status(app), NULL);
}
