/* api-slots.c: GET /api/integrations/calendar/slots: a doctor's free times of one day (and the "09:00" formatter pages share). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "availability.h"
#include "doctor.h"
#include "log.h"
#include "nlp.h"
#include "practice.h"
#include "web.h"

void api_slots_get(struct app *app, struct request *req, struct response *rs)
{
	const char *slug = kv_get(&req->query, "doctor");
	const char *date_s = kv_get(&req->query, "date");
	const char *dur_s = kv_get(&req->query, "duration");
	const char *svc_s = kv_get(&req->query, "service");
	struct db *db = app_db(app);
	time_t slots[AVAIL_MAX_SLOTS], now = time(NULL);
	struct practice_service svc;
	struct civil today, date;
	struct doctor d;
	char day[11], hm[6];
	json_t *body = NULL, *arr;
	struct buf summary;
	long duration = 0, n, i;
	int r, have_svc;

	buf_init(&summary, 64 * 1024);
	if (slug && *slug) {
		r = doctor_slug_valid(slug) ? doctor_by_slug(db, slug, &d) : 0;
	} else if (req->doctor_id > 0) {
		r = doctor_by_id(db, req->doctor_id, &d);
	} else {
		error_json_field(rs, 400, "invalid_doctor", "doctor",
				 "Die Praxis fehlt: Bitte geben Sie doctor=KURZNAME an.");
		goto out;
	}
	if (r < 0)
		goto db_fail;
	if (r == 0) {
		error_json_field(rs, 404, "not_found", "doctor", "Diese Praxis gibt es nicht.");
		goto out;
	}
	memset(d.password_hash, 0, sizeof(d.password_hash));

	if (!date_s || !*date_s) {
		error_json_field(rs, 400, "invalid_date", "date",
				 "Das Datum (date) fehlt, z. B. date=2026-11-24 oder date=morgen.");
		goto out;
	}
	if (tz_today(d.timezone, now, &today) < 0 || nlp_parse_date(date_s, &today, &date) < 0) {
		error_json_field(rs, 400, "invalid_date", "date",
				 "Das Datum (date) wurde nicht verstanden. Beispiele: 2026-11-24, "
				 "24.11.2026, morgen, tomorrow, завтра.");
		goto out;
	}
	if (dur_s && *dur_s && str_to_long(dur_s, 5, 600, &duration) < 0) {
		error_json_field(rs, 400, "invalid_duration", "duration",
				 "Die Dauer (duration) muss eine ganze Zahl von 5 bis 600 Minuten sein.");
		goto out;
	}
	if (svc_s && (!*svc_s || strlen(svc_s) > PRACTICE_SERVICE_NAME_MAX * 4)) {
		error_json_field(rs, 400, "invalid_service", "service", "Die Leistung (service) ist ungültig.");
		goto out;
	}
	have_svc = practice_service_pick(db, d.id, svc_s, &svc);
	if (have_svc < 0)
		goto db_fail;
	if (!have_svc && (svc_s || duration == 0)) {
		error_json_field(rs, 404, "not_found", "service",
				 svc_s ? "Diese Leistung gibt es bei dieser Praxis nicht."
				       : "Diese Praxis bietet derzeit keine Online-Termine an.");
		goto out;
	}
	if (duration == 0)
		duration = svc.duration;

	n = avail_service_day(db, app->conf, &d, &date, have_svc ? &svc : NULL, (int)duration, now, slots,
			  TF_ARRAY_LEN(slots));
	if (n < 0)
		goto db_fail;
	if (avail_summary(d.timezone, slots, (size_t)n, &summary) < 0) {
		error_respond(app, req, rs, 500, NULL);
		goto out;
	}
	arr = json_array();
	for (i = 0; i < n; i++) {
		tz_format_hm(d.timezone, slots[i], hm);
		json_array_append_new(arr, json_string(hm));
	}
	civil_format_date(&date, day);
	body = json_pack("{s:s, s:i, s:o, s:s}", "date", day, "duration", (int)duration, "slots", arr,
			 "summary", summary.data ? summary.data : "");
	if (!body || resp_json(rs, 200, body) < 0)
		error_respond(app, req, rs, 500, NULL);
	goto out;
db_fail:
	error_respond(app, req, rs, app_db_error_status(app), NULL);
out:
	json_decref(body);
	buf_free(&summary);
}
