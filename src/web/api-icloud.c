/* api-icloud.c: POST /api/doctor/calendar-integrations/icloud: connect Apple iCloud or any CalDAV server (JSON or the page's form). */
#include "config.h"

#include <string.h>
#include <time.h>

#include "caldav.h"
#include "integration.h"
#include "log.h"
#include "web.h"

#define MSG_NO_KEY "Die Zugangsdaten können nicht verschlüsselt gespeichert werden: " \
		   "CALENDAR_ENCRYPTION_KEY fehlt oder ist ungültig. Bitte wenden Sie sich an die " \
		   "Administration."

/* A refusal: the page again with the German message (form) or JSON {"error": {code, message[, field]}}. */
static void refuse(struct app *app, struct request *req, struct response *rs, int status,
		   const char *code, const char *field, const char *message, const struct icloud_form *f)
{
	struct integrations_view v = { status, message, f->apple_id, f->url[0] ? f->url : NULL };

	if (req->api)
		error_json_field(rs, status, code, field, message);
	else
		integrations_page(app, req, rs, &v);
}

/* The 201 body: the new connection and its calendars. */
static json_t *created_json(struct app *app, long long doctor_id, long long id, const char *account)
{
	json_t *cals = NULL, *out, *cal;
	size_t i;

	if (integration_calendars_json(app_db(app), doctor_id, id, &cals) != 1)
		return NULL;
	out = json_array();
	json_array_foreach(cals, i, cal) {
		json_array_append_new(out, json_pack("{s:O, s:O, s:O, s:O, s:O}",
			"id", json_object_get(cal, "id"), "name", json_object_get(cal, "name"),
			"blocks_availability", json_object_get(cal, "blocks_availability"),
			"receives_appointments", json_object_get(cal, "receives_appointments"),
			"can_write", json_object_get(cal, "can_write")));
	}
	json_decref(cals);
	return json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)id, "provider", "apple",
			 "account_email", account, "calendars", out);
}

void api_icloud_post(struct app *app, struct request *req, struct response *rs)
{
	struct prov_calendar *cals = NULL;
	struct prov_ctx ctx;
	struct icloud_form f;
	const char *key;
	enum prov_status ps;
	long long id = 0;
	int reconnected = 0;
	char err[256];
	enum tf_err rc;
	json_t *body;
	size_t n = 0;

	memset(&ctx, 0, sizeof(ctx));
	if (!req->api && !request_is_form(req)) {
		error_respond(app, req, rs, 415, NULL);
		return;
	}
	if (req->api && !req->json) {
		error_json_field(rs, req->body.len ? 415 : 400, req->body.len ? "unsupported_media_type" :
				 "bad_request", NULL, "Bitte senden Sie apple_id, app_password und "
				 "caldav_url als JSON-Objekt.");
		return;
	}
	if (icloud_form_read(app, req, &f) < 0) {
		refuse(app, req, rs, 400, "invalid_field", f.field, f.message, &f);
		goto out;
	}
	key = conf_get(app->conf, "CALENDAR_ENCRYPTION_KEY");
	if (!key || !*key) {
		log_error("CALENDAR_ENCRYPTION_KEY is not set: calendar connections cannot be stored");
		error_respond(app, req, rs, 500, MSG_NO_KEY);
		goto out;
	}

	/* discovery checks the password before anything is stored */
	ctx.conf = app->conf;
	ctx.now = time(NULL);
	ctx.creds = json_pack("{s:s, s:s}", "username", f.apple_id, "password", f.password);
	if (!ctx.creds) {
		error_respond(app, req, rs, 500, NULL);
		goto out;
	}
	ps = caldav_discover(&ctx, f.url, &cals, &n);
	if (ps != PROV_OK) {
		log_info("caldav discovery for doctor %lld failed: %s", req->doctor_id,
			 prov_status_name(ps));
		refuse(app, req, rs, 422, ps == PROV_AUTH ? "caldav_auth_failed" :
		       "caldav_discovery_failed", NULL, ctx.error[0] ? ctx.error : ps == PROV_AUTH ?
		       "Die Anmeldung wurde abgelehnt. Bitte prüfen Sie Apple-ID und app-spezifisches "
		       "Passwort." : "Unter dieser Adresse wurde kein CalDAV-Kalender gefunden.", &f);
		goto out;
	}
	if (n == 0) {
		refuse(app, req, rs, 422, "caldav_discovery_failed", NULL, "Das Konto hat keinen "
		       "Kalender für Termine. Bitte legen Sie zuerst einen Kalender an.", &f);
		goto out;
	}
	rc = integration_create(app_db(app), app->conf, req->doctor_id, "apple", f.apple_id,
				ctx.creds, ctx.state, cals, n, &id, &reconnected, err, sizeof(err));
	if (rc != TF_OK) {
		log_error("storing the caldav connection of doctor %lld failed: %s (%s)",
			  req->doctor_id, tf_strerror(rc), err);
		if (rc == TF_ERR_INVALID)
			refuse(app, req, rs, 400, "invalid_field", "apple_id", "Die Apple-ID wurde nicht "
			       "angenommen. Bitte prüfen Sie die Eingabe.", &f);
		else
			error_respond(app, req, rs, rc == TF_ERR_CONFIG ? 500 : app_db_error_status(app),
				      rc == TF_ERR_CONFIG ? MSG_NO_KEY : NULL);
		goto out;
	}
	log_info("doctor %lld %s caldav integration %lld (%zu calendars)", req->doctor_id,
		 reconnected ? "reconnected" : "connected", id, n);
	if (!req->api) {
		char loc[96];

		snprintf(loc, sizeof(loc), "/doctor/calendar-integrations?ok=connected#verbindung-%lld", id);
		resp_redirect(rs, 303, loc);
		goto out;
	}
	body = created_json(app, req->doctor_id, id, f.apple_id);
	if (!body || resp_json(rs, 201, body) < 0)
		error_respond(app, req, rs, app_db_error_status(app), NULL);
	json_decref(body);
out:
	prov_calendars_free(cals, n);
	json_decref(ctx.creds);
	json_decref(ctx.state);
	explicit_bzero(f.password, sizeof(f.password));
}
