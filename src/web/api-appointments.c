/* api-appointments.c: POST /api/appointments: book from a JSON body (public; Idempotency-Key aware). */
#include "config.h"

#include <string.h>
#include <time.h>

#include "booking.h"
#include "log.h"
#include "web.h"

/* The JSON error code of a booking status. */
static const char *booking_code(enum booking_status st)
{
	switch (st) {
	case BOOKING_INVALID:    return "invalid_field";
	case BOOKING_NOT_FOUND:  return "not_found";
	case BOOKING_CONFLICT:   return "slot_taken";
	case BOOKING_GONE:       return "gone";
	case BOOKING_KEY_REUSED: return "idempotency_key_reused";
	default:                 return "internal_error";
	}
}

/* The HTTP status of a booking result (the core's choice when it made one). */
int booking_http_status(const struct booking_result *r)
{
	static const int statuses[BOOKING_STATUS_MAX] = {
		[BOOKING_OK] = 200, [BOOKING_INVALID] = 400, [BOOKING_NOT_FOUND] = 404,
		[BOOKING_CONFLICT] = 409, [BOOKING_GONE] = 410, [BOOKING_KEY_REUSED] = 422,
		[BOOKING_ERROR] = 500,
	};

	if (r->http_status >= 200 && r->http_status <= 599)
		return r->http_status;
	return (unsigned)r->status < BOOKING_STATUS_MAX ? statuses[r->status] : 500;
}

/* A string member: 1 present (*out set), 0 absent or null, -1 present with another type or
 * longer than max bytes. */
static int json_str(json_t *o, const char *key, size_t max, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*out = json_string_value(v);
	return 1;
}

static void field_error(struct response *rs, const char *field, const char *message)
{
	error_json_field(rs, 400, "invalid_field", field, message);
}

void api_appointments_post(struct app *app, struct request *req, struct response *rs)
{
	static const struct {
		const char *key;
		size_t max;
		int required;
		const char *missing, *bad;
	} fields[] = {
		{ "doctor", 64, 1, "Die Praxis (doctor) fehlt.", "Die Praxis (doctor) ist ungültig." },
		{ "service", BOOKING_SERVICE_MAX * 4, 0, NULL, "Die Leistung (service) ist ungültig." },
		{ "start", 32, 1, "Der Terminbeginn (start) fehlt.",
		  "Der Terminbeginn (start) ist ungültig: erwartet wird z. B. 2026-11-24T09:00." },
		{ "patient_name", BOOKING_NAME_MAX * 4, 1, "Der Name (patient_name) fehlt.",
		  "Der Name (patient_name) ist ungültig." },
		{ "patient_email", BOOKING_EMAIL_MAX, 1, "Die E-Mail-Adresse (patient_email) fehlt.",
		  "Die E-Mail-Adresse (patient_email) ist ungültig." },
		{ "patient_phone", BOOKING_PHONE_MAX * 4, 0, NULL,
		  "Die Telefonnummer (patient_phone) ist ungültig." },
	};
	const char *val[TF_ARRAY_LEN(fields)];
	struct booking_request br;
	struct booking_result r;
	const char *key = NULL;
	json_t *v;
	size_t i;
	int st;

	memset(&r, 0, sizeof(r));
	if (!req->json) {
		error_json_field(rs, req->body.len ? 415 : 400,
				 req->body.len ? "unsupported_media_type" : "invalid_body", NULL,
				 "Erwartet wird ein JSON-Objekt (Content-Type: application/json).");
		return;
	}
	if (request_idempotency_key(req, &key) < 0) {
		error_json_field(rs, 400, "invalid_header", "Idempotency-Key",
				 "Der Idempotency-Key muss aus 1 bis 255 sichtbaren ASCII-Zeichen bestehen.");
		return;
	}
	for (i = 0; i < TF_ARRAY_LEN(fields); i++) {
		st = json_str(req->json, fields[i].key, fields[i].max, &val[i]);
		if (st < 0 || (st == 1 && fields[i].required && !*val[i])) {
			field_error(rs, fields[i].key, fields[i].bad);
			return;
		}
		if (st == 0 && fields[i].required) {
			field_error(rs, fields[i].key, fields[i].missing);
			return;
		}
	}

	memset(&br, 0, sizeof(br));
	br.doctor_slug = val[0];
	br.service = val[1] && *val[1] ? val[1] : NULL;
	if (civil_parse_datetime(val[2], &br.start) < 0) {
		field_error(rs, "start", fields[2].bad);
		return;
	}
	v = json_object_get(req->json, "duration_minutes");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 5 || json_integer_value(v) > 600) {
			field_error(rs, "duration_minutes",
				    "Die Dauer (duration_minutes) muss eine ganze Zahl von 5 bis 600 sein.");
			return;
		}
		br.duration = (int)json_integer_value(v);
	}
	v = json_object_get(req->json, "create_meet");
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			field_error(rs, "create_meet", "create_meet muss true oder false sein.");
			return;
		}
		br.create_meet = json_is_true(v);
	}
	br.patient_name = val[3];
	br.patient_email = val[4];
	br.patient_phone = val[5];
	br.idempotency_key = key;

	booking_create(app_db(app), app->conf, &br, time(NULL), &r);
	st = booking_http_status(&r);
	if (r.status == BOOKING_OK || r.replayed) {
		if (r.json && resp_text(rs, st, "application/json; charset=utf-8", r.json,
					strlen(r.json)) == 0) {
			if (r.status == BOOKING_OK)
				req->mail_after = r.appt.id;
			goto out;
		}
		if (r.status == BOOKING_OK) {
			log_error("booking %lld: no answer body", r.appt.id);
			error_respond(app, req, rs, 500, NULL);
			goto out;
		}
	}
	if (r.status == BOOKING_ERROR) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		goto out;
	}
	error_json_field(rs, st, booking_code(r.status), r.status == BOOKING_INVALID ? r.field : NULL,
			 r.message[0] ? r.message :
			 r.status == BOOKING_CONFLICT ? MSG_SLOT_TAKEN : "Die Buchung ist nicht möglich.");
out:
	booking_result_free(&r);
}
