/* page-booking.c: the patients' pages: /termin/{slug} (pick service, day, time; book) and /termin/absage/{token}. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "availability.h"
#include "booking.h"
#include "doctor.h"
#include "log.h"
#include "practice.h"
#include "web.h"

#define SEARCH_DAYS 14   /* the default day: the first with free times within this many days */

#define MSG_SERVICE   "Bitte wählen Sie eine Leistung."
#define MSG_DATE      "Bitte wählen Sie ein gültiges Datum."
#define MSG_TIME      "Bitte wählen Sie eine freie Uhrzeit."
#define MSG_NAME      "Bitte geben Sie Ihren Namen ein (höchstens 200 Zeichen)."
#define MSG_EMAIL     "Bitte geben Sie eine gültige E-Mail-Adresse ein."
#define MSG_PHONE     "Die Telefonnummer ist zu lang (höchstens 40 Zeichen)."
#define MSG_CONSENT   "Bitte willigen Sie in die Verarbeitung Ihrer Daten zur Terminvereinbarung ein."
#define MSG_FORMKEY   "Das Formular ist unvollständig. Bitte laden Sie die Seite neu."
#define MSG_KEY_USED  "Dieses Formular wurde bereits mit anderen Angaben abgeschickt. Bitte prüfen " \
		      "Sie Ihre Angaben und senden Sie das Formular erneut."

/* What the patient entered (POST) or chose (GET query); all pointers into the request. */
struct booking_form {
	long long service_id;      /* 0 = the first active service */
	const char *date;          /* "YYYY-MM-DD" or NULL */
	const char *time;          /* "HH:MM" or NULL */
	const char *name, *email, *phone;
	int consent;
	const char *error;         /* German message for the page, or NULL */
	const char *error_field;   /* "name", "email", ... (marks the input) */
};

/* The doctor of the {slug} parameter: 1 found, 0 unknown (answered 404), -1 (answered 500/503). */
static int doctor_of_slug(struct app *app, struct request *req, struct response *rs,
			  struct doctor *d)
{
	int r = doctor_by_slug(app_db(app), request_param(req, "slug"), d);

	if (r < 0)
		error_respond(app, req, rs, app_db_error_status(app), NULL);
	else if (r == 0)
		error_respond(app, req, rs, 404, "Diese Praxis nimmt keine Online-Termine an oder die "
				"Adresse ist falsch.");
	else
		memset(d->password_hash, 0, sizeof(d->password_hash));
	return r;
}

static json_t *practice_json(const struct doctor *d)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "name", d->practice_name[0] ? d->practice_name : d->name,
			 "doctor_name", d->name, "address", d->practice_address, "slug", d->slug);
}

/* An appointment's details for the confirmation and cancel pages (local times in the doctor's zone). */
static json_t *appointment_json(const struct appointment *a, const struct doctor *d)
{
	struct civil s;
	char date[80], from[6], to[6];

	if (tz_utc_to_local(d->timezone, a->start, &s) < 0)
		memset(&s, 0, sizeof(s));
	page_date_de(&s, date, sizeof(date));
	tz_format_hm(d->timezone, a->start, from);
	tz_format_hm(d->timezone, a->end, to);
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:b}", "service", a->service_name,
			 "date", date, "start", from, "end", to, "duration",
			 (int)((a->end - a->start) / 60), "patient_email", a->patient_email,
			 "video_link", a->video_link, "cancelled",
			 strcmp(a->status, "cancelled") == 0);
}

/* Strict "HH:MM" (00:00..23:59): 0, or -1. */
static int parse_hm(const char *s, int *hour, int *minute)
{
	if (strlen(s) != 5 || s[2] != ':' || !str_only_chars(s, 5, "0123456789:") || s[0] == ':' ||
	    s[1] == ':' || s[3] == ':' || s[4] == ':')
		return -1;
	*hour = (s[0] - '0') * 10 + (s[1] - '0');
	*minute = (s[3] - '0') * 10 + (s[4] - '0');
	return *hour <= 23 && *minute <= 59 ? 0 : -1;
}

static int form_key_ok(const char *k)
{
	return k && strlen(k) == 43 &&
	       str_only_chars(k, 43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

/* Render the booking page for doctor d with the form f (status 200, or the error's status). */
static void booking_page(struct app *app, struct request *req, struct response *rs,
			 const struct doctor *d, const struct booking_form *f, int status)
{
	struct practice_service *svcs = NULL, *svc = NULL;
	time_t slots[AVAIL_MAX_SLOTS], now = time(NULL);
	struct civil today, date, last;
	char buf[80], hm[6], key[AUTH_TOKEN_MAX];
	json_t *ctx = NULL, *list, *slot_list, *form;
	int date_given = 0, k;
	long n, i, ns = 0;
	struct avail_limits lim;

	n = practice_services_list(app_db(app), d->id, 0, &svcs);
	if (n < 0 || tz_today(d->timezone, now, &today) < 0 || avail_limits_get(app->conf, &lim) < 0)
		goto fail;
	/* the service chosen, else the first active one */
	for (i = 0; i < n; i++) {
		if (!svcs[i].active)
			continue;
		if (!svc || svcs[i].id == f->service_id)
			svc = &svcs[i];
		if (svcs[i].id == f->service_id)
			break;
	}

	ctx = page_context(app, req, rs, "Termin buchen", 1);
	json_object_set_new(ctx, "practice", practice_json(d));

	if (svc) {
		if (f->date && civil_parse_date(f->date, &date) == 0) {
			date_given = 1;
		} else {
			/* the first day with free times within SEARCH_DAYS, else tomorrow */
			date = today;
			for (k = 0; k < SEARCH_DAYS; k++) {
				ns = avail_service_day(app_db(app), app->conf, d, &date, svc, 0, now, slots,
						       TF_ARRAY_LEN(slots));
				if (ns < 0)
					goto fail;
				if (ns > 0)
					break;
				civil_add_days(&date, 1);
			}
			if (ns == 0) {
				date = today;
				civil_add_days(&date, 1);
				json_object_set_new(ctx, "none_soon", json_true());
			}
		}
		if (date_given || ns == 0) {
			ns = avail_service_day(app_db(app), app->conf, d, &date, svc, 0, now, slots,
						       TF_ARRAY_LEN(slots));
			if (ns < 0)
				goto fail;
		}
		list = json_array();
		for (i = 0; i < n; i++) {
			if (!svcs[i].active)
				continue;
			json_array_append_new(list, json_pack("{s:I, s:s, s:i, s:b, s:b}", "id",
							      (json_int_t)svcs[i].id, "name", svcs[i].name,
							      "duration", svcs[i].duration, "video",
							      svcs[i].is_video, "selected", &svcs[i] == svc));
		}
		json_object_set_new(ctx, "services", list);
		json_object_set_new(ctx, "service", json_pack("{s:I, s:s, s:i, s:b}", "id",
							      (json_int_t)svc->id, "name", svc->name,
							      "duration", svc->duration, "video",
							      svc->is_video));
		civil_format_date(&date, buf);
		json_object_set_new(ctx, "date", json_string(buf));
		civil_format_date(&today, buf);
		json_object_set_new(ctx, "min_date", json_string(buf));
		last = today;
		civil_add_days(&last, (int)lim.horizon_days);
		civil_format_date(&last, buf);
		json_object_set_new(ctx, "max_date", json_string(buf));
		page_date_de(&date, buf, sizeof(buf));
		json_object_set_new(ctx, "date_de", json_string(buf));

		slot_list = json_array();
		for (i = 0; i < ns; i++) {
			tz_format_hm(d->timezone, slots[i], hm);
			json_array_append_new(slot_list, json_pack("{s:s, s:s, s:b}", "value", hm, "id",
								   hm, "checked", f->time &&
								   strcmp(f->time, hm) == 0));
		}
		json_object_set_new(ctx, "slots", slot_list);
		json_object_set_new(ctx, "has_slots", json_boolean(ns > 0));
	}
	json_object_set_new(ctx, "bookable", json_boolean(svc != NULL));

	form = json_pack("{s:s, s:s, s:s, s:b}", "name", f->name ? f->name : "", "email",
			 f->email ? f->email : "", "phone", f->phone ? f->phone : "", "consent",
			 f->consent);
	json_object_set_new(ctx, "form", form);
	if (f->error) {
		json_object_set_new(ctx, "error", json_string(f->error));
		if (f->error_field) {
			snprintf(buf, sizeof(buf), "error_%s", f->error_field);
			json_object_set_new(ctx, buf, json_true());
		}
	}
	page_random_token(key, sizeof(key));
	json_object_set_new(ctx, "form_key", json_string(key));
	page_render(app, rs, status, "booking", ctx);
	goto out;
fail:
	error_respond(app, req, rs, app_db_error_status(app), NULL);
out:
	json_decref(ctx);
	free(svcs);
}

void page_booking_get(struct app *app, struct request *req, struct response *rs)
{
	struct booking_form f;
	struct civil c;
	struct doctor d;
	const char *s;
	long v;
	int status = 200;

	if (doctor_of_slug(app, req, rs, &d) != 1)
		return;
	memset(&f, 0, sizeof(f));
	s = kv_get(&req->query, "service");
	if (s && *s) {
		if (str_to_long(s, 1, 0x7fffffffL, &v) == 0) {
			f.service_id = v;
		} else {
			f.error = MSG_SERVICE;
			f.error_field = "service";
			status = 400;
		}
	}
	s = kv_get(&req->query, "date");
	if (s && *s) {
		if (civil_parse_date(s, &c) == 0) {
			f.date = s;
		} else {
			f.error = MSG_DATE;
			f.error_field = "date";
			status = 400;
		}
	}
	booking_page(app, req, rs, &d, &f, status);
}

/* The confirmation page after a booking (fresh or replayed): details from the appointment row,
 * the cancel link from the booking's answer. */
static void booking_done(struct app *app, struct request *req, struct response *rs,
			 const struct doctor *d, struct booking_result *r)
{
	json_t *ans = NULL, *ctx;
	struct appointment a;
	long long id = r->appt.id;
	const char *cancel_url = NULL;

	if (r->json)
		ans = json_loads(r->json, 0, NULL);
	if (ans) {
		cancel_url = json_string_value(json_object_get(ans, "cancel_url"));
		if (id <= 0 && json_is_integer(json_object_get(ans, "id")))
			id = json_integer_value(json_object_get(ans, "id"));
	}
	if (id <= 0 || appointment_by_id(app_db(app), id, &a) != 1) {
		log_error("booking page: appointment %lld of a successful booking not found", id);
		error_respond(app, req, rs, 500, NULL);
		goto out;
	}
	ctx = page_context(app, req, rs, "Ihr Termin ist gebucht", 0);
	json_object_set_new(ctx, "practice", practice_json(d));
	json_object_set_new(ctx, "appointment", appointment_json(&a, d));
	if (cancel_url)
		json_object_set_new(ctx, "cancel_url", json_string(cancel_url));
	page_render(app, rs, 200, "booking-done", ctx);
	json_decref(ctx);
	if (!r->replayed)
		req->mail_after = id;
out:
	json_decref(ans);
}

void page_booking_post(struct app *app, struct request *req, struct response *rs)
{
	struct practice_service svc;
	struct booking_request br;
	struct booking_result r;
	struct booking_form f;
	char idem[AUTH_TOKEN_MAX + 16];
	const char *s, *key;
	struct doctor d;
	struct civil c;
	int hour = -1, minute = -1, status = 400, rr;
	long v;

	memset(&r, 0, sizeof(r));
	if (doctor_of_slug(app, req, rs, &d) != 1)
		return;
	memset(&f, 0, sizeof(f));
	s = request_field(req, "service");
	if (s && str_to_long(s, 1, 0x7fffffffL, &v) == 0)
		f.service_id = v;
	f.date = request_field(req, "date");
	f.time = request_field(req, "time");
	f.name = request_field(req, "name");
	f.email = request_field(req, "email");
	f.phone = request_field(req, "phone");
	s = request_field(req, "consent");
	f.consent = s && *s;
	key = request_field(req, "form_key");

	/* never echo over-long input back into the page */
	if (f.name && strlen(f.name) > BOOKING_NAME_MAX * 4)
		f.name = NULL;
	if (f.email && strlen(f.email) > BOOKING_EMAIL_MAX)
		f.email = NULL;
	if (f.phone && strlen(f.phone) > BOOKING_PHONE_MAX * 4)
		f.phone = NULL;
	if (f.date && civil_parse_date(f.date, &c) < 0)
		f.date = NULL;
	if (f.time && parse_hm(f.time, &hour, &minute) < 0)
		f.time = NULL;

	if (f.service_id <= 0) {
		f.error = MSG_SERVICE, f.error_field = "service";
	} else if (!f.date) {
		f.error = MSG_DATE, f.error_field = "date";
	} else if (!f.time) {
		f.error = MSG_TIME, f.error_field = "time";
	} else if (!f.name || !*f.name || utf8_chars(f.name) > BOOKING_NAME_MAX) {
		f.error = MSG_NAME, f.error_field = "name";
	} else if (!f.email || !doctor_email_valid(f.email)) {
		f.error = MSG_EMAIL, f.error_field = "email";
	} else if (f.phone && utf8_chars(f.phone) > BOOKING_PHONE_MAX) {
		f.error = MSG_PHONE, f.error_field = "phone";
	} else if (!f.consent) {
		f.error = MSG_CONSENT, f.error_field = "consent";
	} else if (!form_key_ok(key)) {
		f.error = MSG_FORMKEY;
	}
	if (f.error) {
		booking_page(app, req, rs, &d, &f, 400);
		return;
	}

	rr = practice_service_by_id(app_db(app), d.id, f.service_id, &svc);
	if (rr < 0) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	if (rr == 0 || !svc.active) {
		f.error = MSG_SERVICE, f.error_field = "service";
		booking_page(app, req, rs, &d, &f, 400);
		return;
	}

	memset(&br, 0, sizeof(br));
	br.doctor_id = d.id;
	br.service = svc.name;
	br.start = c;
	br.start.hour = hour;
	br.start.minute = minute;
	br.patient_name = f.name;
	br.patient_email = f.email;
	br.patient_phone = f.phone && *f.phone ? f.phone : NULL;
	snprintf(idem, sizeof(idem), "termin:%s", key);
	br.idempotency_key = idem;

	booking_create(app_db(app), app->conf, &br, time(NULL), &r);
	switch (r.status) {
	case BOOKING_OK:
		booking_done(app, req, rs, &d, &r);
		goto out;
	case BOOKING_INVALID:
		f.error = r.message[0] ? r.message : "Bitte prüfen Sie Ihre Angaben.";
		f.error_field = r.field;
		break;
	case BOOKING_CONFLICT:
		f.error = r.message[0] ? r.message : MSG_SLOT_TAKEN;
		f.time = NULL;
		status = 409;
		break;
	case BOOKING_KEY_REUSED:
		f.error = MSG_KEY_USED;
		status = 422;
		break;
	case BOOKING_NOT_FOUND:
		f.error = MSG_SERVICE, f.error_field = "service";
		break;
	default:
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		goto out;
	}
	booking_page(app, req, rs, &d, &f, status);
out:
	booking_result_free(&r);
}

/* ------------------------------------------------------------------ cancel link */

/* The cancel page in one of its states: form (200), done (200), gone (410). */
static void cancel_page(struct app *app, struct request *req, struct response *rs, int status,
			const struct appointment *a, const char *state)
{
	struct doctor d;
	json_t *ctx;
	int r = doctor_by_id(app_db(app), a->doctor_id, &d);

	if (r != 1) {
		error_respond(app, req, rs, r < 0 ? app_db_error_status(app) : 404, NULL);
		return;
	}
	memset(d.password_hash, 0, sizeof(d.password_hash));
	ctx = page_context(app, req, rs, strcmp(state, "done") == 0 ? "Termin abgesagt" : "Termin absagen",
			   strcmp(state, "form") == 0);
	json_object_set_new(ctx, "practice", practice_json(&d));
	json_object_set_new(ctx, "appointment", appointment_json(a, &d));
	json_object_set_new(ctx, state, json_true());
	json_object_set_new(ctx, "token", json_string(request_param(req, "token")));
	page_render(app, rs, status, "cancel", ctx);
	json_decref(ctx);
}

#define MSG_NO_APPOINTMENT "Diesen Termin gibt es nicht. Bitte prüfen Sie den Link aus Ihrer E-Mail."

void page_cancel_get(struct app *app, struct request *req, struct response *rs)
{
	struct appointment a;
	int r = appointment_by_cancel_token(app_db(app), request_param(req, "token"), &a);

	if (r < 0) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	if (r == 0) {
		error_respond(app, req, rs, 404, MSG_NO_APPOINTMENT);
		return;
	}
	if (strcmp(a.status, "cancelled") == 0)
		cancel_page(app, req, rs, 410, &a, "gone");
	else if (a.start <= time(NULL))
		cancel_page(app, req, rs, 410, &a, "past");
	else
		cancel_page(app, req, rs, 200, &a, "form");
}

void page_cancel_post(struct app *app, struct request *req, struct response *rs)
{
	const char *token = request_param(req, "token");
	struct booking_result r;
	struct appointment a;
	int found;

	memset(&r, 0, sizeof(r));
	booking_cancel_by_token(app_db(app), app->conf, token, time(NULL), &r);
	switch (r.status) {
	case BOOKING_OK:
		if (r.appt.id > 0) {
			a = r.appt;
		} else if ((found = appointment_by_cancel_token(app_db(app), token, &a)) != 1) {
			error_respond(app, req, rs, found < 0 ? app_db_error_status(app) : 500, NULL);
			break;
		}
		req->mail_after = a.id;
		cancel_page(app, req, rs, 200, &a, "done");
		break;
	case BOOKING_GONE:
		found = appointment_by_cancel_token(app_db(app), token, &a);
		if (found == 1)
			cancel_page(app, req, rs, 410, &a, strcmp(a.status, "cancelled") == 0 ? "gone" : "past");
		else
			error_respond(app, req, rs, found < 0 ? app_db_error_status(app) : 404, NULL);
		break;
	case BOOKING_NOT_FOUND:
		error_respond(app, req, rs, 404, MSG_NO_APPOINTMENT);
		break;
	default:
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		break;
	}
	booking_result_free(&r);
}
