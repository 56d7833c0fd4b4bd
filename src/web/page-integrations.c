/* page-integrations.c: the doctor's page /doctor/calendar-integrations: a card per provider, its connections and their forms. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "caldav.h"
#include "integration.h"
#include "log.h"
#include "web.h"

#define INTEGRATIONS_PATH "/doctor/calendar-integrations"

static const char *const descriptions[INTEGRATION_PROVIDER_MAX] = {
	[INTEGRATION_GOOGLE] = "Termine mit Google Calendar abgleichen. Die Anmeldung läuft über "
			       "Google; der Zugriff lässt sich jederzeit widerrufen.",
	[INTEGRATION_OUTLOOK] = "Microsoft Outlook und Office 365 über Microsoft Graph verbinden.",
	[INTEGRATION_APPLE] = "Apple iCloud oder einen anderen CalDAV-Server mit einem "
			      "app-spezifischen Passwort verbinden.",
};

/* The connect button of an OAuth provider's card (api-oauth.c does the rest). */
static const struct {
	const char *brand;          /* "Mit Google verbinden", "Erneut mit Outlook verbinden" */
	const char *account;        /* "Weiteres Google-Konto verbinden" */
	const char *hint;
} oauth_cards[INTEGRATION_PROVIDER_MAX] = {
	[INTEGRATION_GOOGLE] = { "Google", "Google-Konto", "Sie werden zu Google weitergeleitet und "
				 "bestätigen dort den Zugriff auf Ihre Kalender. TerminFinder liest "
				 "belegte Zeiten und trägt Termine ein; Ihr Passwort sieht TerminFinder "
				 "nie." },
	[INTEGRATION_OUTLOOK] = { "Outlook", "Microsoft-Konto", "Sie werden zu Microsoft "
				  "weitergeleitet und melden sich dort mit Ihrem Arbeits- oder "
				  "Schulkonto (Microsoft 365) oder Ihrem privaten Microsoft-Konto "
				  "(Outlook.com) an. TerminFinder liest belegte Zeiten und trägt Termine "
				  "ein; Ihr Passwort sieht TerminFinder nie." },
};

/* Notices after a redirect: the URL carries only the code; the text is fixed here. */
static const struct {
	const char *code, *text;
} notices[] = {
	{ "connected",    "Der Kalender wurde verbunden. Wählen Sie unten, welche Kalender Termine "
			  "blockieren und welcher neue Termine erhält." },
	{ "synced",       "Die Synchronisierung ist abgeschlossen." },
	{ "sync-errors",  "Die Synchronisierung ist mit Fehlern abgeschlossen. Details stehen bei der "
			  "Verbindung unter „Letzter Fehler“." },
	{ "sync-failed",  "Die Synchronisierung konnte nicht ausgeführt werden. Details stehen bei der "
			  "Verbindung unter „Letzter Fehler“." },
	{ "disconnected", "Die Verbindung wurde getrennt. Zugangsdaten und belegte Zeiten aus diesem "
			  "Kalender wurden gelöscht." },
	{ "disconnected-partly", "Die Verbindung wurde getrennt. Zugangsdaten und belegte Zeiten "
			  "wurden gelöscht; einige unserer Termine ließen sich nicht aus dem Kalender "
			  "entfernen." },
	{ "sync-running", "Diese Verbindung wird gerade schon synchronisiert. Bitte versuchen Sie es "
			  "gleich noch einmal." },
	{ "settings",     "Die Kalender-Einstellungen wurden gespeichert." },
	{ "policy",       "Die Einstellung für ausgefallene Kalender-Verbindungen wurde gespeichert." },
};

/* Error messages after a redirect (err=CODE): fixed texts, shown as the page's alert. */
static const struct {
	const char *code, *text;
} error_notices[] = {
	{ "google-denied", "Sie haben den Zugriff auf Ihren Google-Kalender abgelehnt. Es wurde nichts "
			   "verbunden. Sie können die Verbindung jederzeit erneut starten." },
	{ "google-error",  "Google hat die Anmeldung abgebrochen. Es wurde nichts verbunden. Bitte "
			   "versuchen Sie es erneut." },
	{ "google-scope",  "Google hat den Zugriff auf Ihre Kalender nicht freigegeben: Auf der "
			   "Google-Seite wurde mindestens eine Kalender-Berechtigung abgewählt. Ohne sie "
			   "kann TerminFinder weder Termine eintragen noch belegte Zeiten lesen, daher "
			   "wurde nichts verbunden. Bitte verbinden Sie erneut und lassen Sie alle "
			   "Kalender-Berechtigungen ausgewählt." },
	{ "google-offline", "Google hat keinen dauerhaften Zugriff gewährt. Bitte verbinden Sie erneut "
			    "und bestätigen Sie alle Berechtigungen." },
	{ "google-no-calendar", "Das Google-Konto hat keinen Kalender, in den TerminFinder Termine "
				"eintragen oder aus dem es belegte Zeiten lesen kann." },
	{ "outlook-denied", "Sie haben den Zugriff auf Ihren Outlook-Kalender abgelehnt. Es wurde "
			    "nichts verbunden. Sie können die Verbindung jederzeit erneut starten." },
	{ "outlook-error",  "Microsoft hat die Anmeldung abgebrochen. Es wurde nichts verbunden. Bitte "
			    "versuchen Sie es erneut. Bei einem Arbeits- oder Schulkonto muss unter "
			    "Umständen die IT-Administration Ihrer Organisation der App zustimmen." },
	{ "outlook-scope",  "Microsoft hat den Zugriff auf Ihre Kalender nicht freigegeben: Die "
			    "Berechtigung „Kalender lesen und schreiben“ (Calendars.ReadWrite) oder "
			    "„Profil lesen“ (User.Read) fehlt. Ohne sie kann TerminFinder weder Termine "
			    "eintragen noch belegte Zeiten lesen, daher wurde nichts verbunden. Bitte "
			    "verbinden Sie erneut und stimmen Sie allen Berechtigungen zu; bei einem "
			    "Arbeits- oder Schulkonto muss sie unter Umständen Ihre IT-Administration "
			    "freigeben." },
	{ "outlook-offline", "Microsoft hat keinen dauerhaften Zugriff gewährt (offline_access). Bitte "
			     "verbinden Sie erneut und bestätigen Sie alle Berechtigungen." },
	{ "outlook-no-calendar", "Das Microsoft-Konto hat keinen Kalender, in den TerminFinder Termine "
				 "eintragen oder aus dem es belegte Zeiten lesen kann." },
};

/* "A, B fehlen" / "A fehlt" for the hint of an unconfigured provider. */
static json_t *missing_text(const char **names, size_t n)
{
	struct buf b;
	json_t *s;
	size_t i;

	buf_init(&b, 1024);
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
	buf_puts(&b, n == 1 ? " fehlt" : " fehlen");
	s = json_string(b.data ? b.data : "");
	buf_free(&b);
	return s;
}

/* One card's context: the provider, its configuration state, the doctor's connections to it and,
 * for Apple, the connect form (with the values of a refused attempt). */
static json_t *provider_card(struct app *app, enum integration_provider p, json_t *list,
			     const struct integrations_view *v)
{
	const char *missing[4];
	size_t n, i;
	json_t *card, *mine, *item;
	const char *key = integration_provider_key(p);

	n = integration_provider_missing(app->conf, p, missing, TF_ARRAY_LEN(missing));
	mine = json_array();
	json_array_foreach(list, i, item) {
		if (strcmp(json_string_value(json_object_get(item, "provider")) ?: "", key) == 0)
			json_array_append(mine, item);
	}
	card = json_pack("{s:s, s:s, s:s, s:b, s:b}", "key", key, "title",
			 integration_provider_title(p), "description", descriptions[p], "configured",
			 n == 0, "has_connections", json_array_size(mine) > 0);
	json_object_set_new(card, "connections", mine);
	if (n)
		json_object_set_new(card, "missing_text", missing_text(missing, n));
	if (n == 0 && oauth_cards[p].brand && web_oauth_auth_uri(app->conf, key))
		json_object_set_new(card, "connect_oauth", json_pack("{s:s, s:s, s:s, s:s}", "key", key,
			"brand", oauth_cards[p].brand, "account", oauth_cards[p].account, "hint",
			oauth_cards[p].hint));
	if (p == INTEGRATION_APPLE)
		json_object_set_new(card, "connect_form", json_pack("{s:s, s:s}",
			"apple_id", v && v->apple_id ? v->apple_id : "",
			"caldav_url", v && v->caldav_url ? v->caldav_url : CALDAV_DEFAULT_URL));
	return card;
}

/* "1,2 s" / "850 ms" for a run's duration. */
static json_t *duration_text(long long ms)
{
	char s[48];

	if (ms < 1000)
		snprintf(s, sizeof(s), "%lld ms", ms < 0 ? 0 : ms);
	else
		snprintf(s, sizeof(s), "%lld,%lld s", ms / 1000, (ms % 1000) / 100);
	return json_string(s);
}

/* A connection that needs a new consent: the flag for its warning and, for a configured OAuth
 * provider, its reconnect button {"key", "brand"}. */
static void reauth_view(struct app *app, json_t *conn)
{
	const char *st = json_string_value(json_object_get(conn, "sync_status"));
	const char *prov = json_string_value(json_object_get(conn, "provider"));
	enum integration_provider p = integration_provider_parse(prov);
	int reauth = st && strcmp(st, "reauth_required") == 0;

	json_object_set_new(conn, "reauth", json_boolean(reauth));
	if (reauth && p < INTEGRATION_PROVIDER_MAX && oauth_cards[p].brand &&
	    web_oauth_auth_uri(app->conf, prov))
		json_object_set_new(conn, "reconnect", json_pack("{s:s, s:s}", "key", prov, "brand",
								 oauth_cards[p].brand));
}

/* The page object of one connection: integration_detail_json plus what the template needs
 * (blocks/receives per calendar, has_calendars, has_receiver, stats in words). NULL on a
 * database error; a connection gone meanwhile comes back as the list's object. */
static json_t *connection_view(struct app *app, long long doctor_id, json_t *item, time_t now)
{
	long long id = json_integer_value(json_object_get(item, "id"));
	json_t *conn = NULL, *cals, *cal, *st, *last, *stats;
	int has_receiver = 0, r;
	size_t i;

	r = integration_detail_json(app_db(app), doctor_id, id, now, &conn);
	if (r < 0)
		return NULL;
	if (r == 0)
		return json_incref(item);
	cals = json_object_get(conn, "calendars");
	json_array_foreach(cals, i, cal) {
		json_object_set(cal, "blocks", json_object_get(cal, "blocks_availability"));
		json_object_set(cal, "receives", json_object_get(cal, "receives_appointments"));
		if (json_is_true(json_object_get(cal, "receives_appointments")))
			has_receiver = 1;
	}
	json_object_set_new(conn, "has_calendars", json_boolean(json_array_size(cals) > 0));
	json_object_set_new(conn, "has_receiver", json_boolean(has_receiver));
	st = json_object_get(conn, "stats");
	last = json_object_get(st, "last_run");
	stats = json_pack("{s:I, s:I, s:b}",
			  "runs", (json_int_t)json_integer_value(json_object_get(st, "runs")),
			  "errors", (json_int_t)json_integer_value(json_object_get(st, "errors_24h")),
			  "has_last", json_is_object(last));
	if (json_is_object(last)) {
		json_object_set_new(stats, "pushed", json_integer(json_integer_value(
			json_object_get(last, "pushed"))));
		json_object_set_new(stats, "pulled", json_integer(json_integer_value(
			json_object_get(last, "pulled"))));
		json_object_set_new(stats, "requests", json_integer(json_integer_value(
			json_object_get(last, "requests"))));
		json_object_set_new(stats, "duration", duration_text(json_integer_value(
			json_object_get(last, "duration_ms"))));
	}
	json_object_set_new(conn, "stats", stats);
	if (!json_is_true(json_object_get(conn, "show_patient_names")))
		json_object_set_new(conn, "show_patient_names", json_false());
	reauth_view(app, conn);
	return conn;
}

/* The doctor's broken_calendar_policy: "keep" or "free" into out; 0, or -1 on a database error. */
static int broken_policy(struct app *app, long long doctor_id, char out[8])
{
	struct db_rows r;
	int rc = db_query_one(app_db(app), STMT_WEB_BROKEN_POLICY_GET, DB_ARGS(DBP_INT(doctor_id)), &r);

	if (rc < 0)
		return -1;
	str_copy(out, rc == 1 && db_cell(&r, 0, 0) && strcmp(db_cell(&r, 0, 0), "free") == 0 ?
		 "free" : "keep", 8);
	if (rc == 1)
		db_rows_free(&r);
	return 0;
}

void integrations_page(struct app *app, struct request *req, struct response *rs,
		       const struct integrations_view *v)
{
	const char *ok = kv_get(&req->query, "ok");
	const char *err = kv_get(&req->query, "err");
	const char *auth_uri;
	char policy[8];
	json_t *ctx, *list, *cards, *conn, *view;
	time_t now = time(NULL);
	unsigned p;
	size_t i;

	list = broken_policy(app, req->doctor_id, policy) < 0 ? NULL :
	       integration_list_json(app_db(app), req->doctor_id, 1);
	if (!list) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	json_array_foreach(list, i, conn) {
		view = connection_view(app, req->doctor_id, conn, now);
		if (!view) {
			json_decref(list);
			error_respond(app, req, rs, app_db_error_status(app), NULL);
			return;
		}
		json_array_set_new(list, i, view);
	}
	ctx = page_context(app, req, rs, "Kalender-Integrationen", 1);
	cards = json_array();
	for (p = 0; p < INTEGRATION_PROVIDER_MAX; p++)
		json_array_append_new(cards, provider_card(app, (enum integration_provider)p, list, v));
	json_object_set_new(ctx, "providers", cards);
	json_object_set_new(ctx, "has_integrations", json_boolean(json_array_size(list) > 0));
	json_object_set_new(ctx, "policy_keep", json_boolean(strcmp(policy, "keep") == 0));
	json_object_set_new(ctx, "policy_free", json_boolean(strcmp(policy, "free") == 0));
	if (v && v->error) {
		json_object_set_new(ctx, "error", json_string(v->error));
	} else if (err) {
		for (i = 0; i < TF_ARRAY_LEN(error_notices); i++) {
			if (strcmp(err, error_notices[i].code) == 0)
				json_object_set_new(ctx, "error", json_string(error_notices[i].text));
		}
	} else if (ok) {
		for (i = 0; i < TF_ARRAY_LEN(notices); i++) {
			if (strcmp(ok, notices[i].code) == 0)
				json_object_set_new(ctx, "notice", json_string(notices[i].text));
		}
	}
	/* the connect forms answer with a 303 to the provider: form-action must allow its origin */
	for (p = 0; p < INTEGRATION_PROVIDER_MAX; p++) {
		auth_uri = web_oauth_auth_uri(app->conf, integration_provider_key(p));
		if (auth_uri && resp_csp_form_action(rs, auth_uri) < 0)
			log_warn("the %s authorization endpoint has no usable origin: its connect form "
				 "cannot reach it", integration_provider_key(p));
	}
	page_render(app, rs, v && v->status ? v->status : 200, "integrations", ctx);
	json_decref(ctx);
	json_decref(list);
}

void page_integrations_get(struct app *app, struct request *req, struct response *rs)
{
	integrations_page(app, req, rs, NULL);
}

void integrations_back(struct response *rs, const char *code, long long id)
{
	char loc[128];

	if (id > 0)
		snprintf(loc, sizeof(loc), INTEGRATIONS_PATH "?ok=%s#verbindung-%lld", code, id);
	else
		snprintf(loc, sizeof(loc), INTEGRATIONS_PATH "?ok=%s", code);
	resp_redirect(rs, 303, loc);
}

void integrations_back_error(struct response *rs, const char *code)
{
	char loc[128];

	snprintf(loc, sizeof(loc), INTEGRATIONS_PATH "?err=%s", code);
	resp_redirect(rs, 303, loc);
}

int integration_own(struct app *app, struct request *req, struct response *rs, long long id,
		    json_t **cals)
{
	json_t *c = NULL;
	int r = integration_calendars_json(app_db(app), req->doctor_id, id, &c);

	if (r == 0)
		error_respond(app, req, rs, 404, "Diese Kalender-Verbindung gibt es nicht.");
	else if (r < 0)
		error_respond(app, req, rs, app_db_error_status(app), NULL);
	if (r == 1 && cals)
		*cals = c;
	else
		json_decref(c);
	return r;
}

void page_integration_disconnect_post(struct app *app, struct request *req, struct response *rs)
{
	long long id = request_param_id(req);
	const char *rm = request_field(req, "remove_events");
	unsigned failed = 0;
	char err[256];
	enum tf_err rc;

	if (integration_own(app, req, rs, id, NULL) != 1)
		return;
	rc = integration_disconnect(app_db(app), app->conf, req->doctor_id, id,
				    rm && strcmp(rm, "1") == 0, &failed, err, sizeof(err));
	if (rc == TF_OK)
		integrations_back(rs, failed ? "disconnected-partly" : "disconnected", 0);
	else if (rc == TF_ERR_NOTFOUND)
		error_respond(app, req, rs, 404, "Diese Kalender-Verbindung gibt es nicht.");
	else
		error_respond(app, req, rs, app_db_error_status(app), NULL);
}

void page_integration_settings_post(struct app *app, struct request *req, struct response *rs)
{
	static const char not_writable[] = "Dieser Kalender kann keine neuen Termine erhalten (nur "
					   "lesbar oder nicht Teil dieser Verbindung).";
	long long id = request_param_id(req), cid, receive = 0;
	long long blocking[INTEGRATION_MAX_CALENDARS];
	const char *recv = request_field(req, "receive");
	json_t *cals = NULL, *cal;
	size_t i, nb = 0;
	char name[40], err[300];
	int receive_ok;
	enum tf_err rc;
	long v;

	if (integration_own(app, req, rs, id, &cals) != 1)
		return;
	if (recv && *recv) {
		if (str_to_long(recv, 0, 2147483647L, &v) < 0) {
			json_decref(cals);
			error_respond(app, req, rs, 400, not_writable);
			return;
		}
		receive = v;
	}
	receive_ok = receive == 0;
	json_array_foreach(cals, i, cal) {
		cid = json_integer_value(json_object_get(cal, "id"));
		snprintf(name, sizeof(name), "block_%lld", cid);
		if (request_field(req, name) && nb < TF_ARRAY_LEN(blocking))
			blocking[nb++] = cid;
		if (cid == receive && json_is_true(json_object_get(cal, "can_write")))
			receive_ok = 1;
	}
	json_decref(cals);
	if (!receive_ok) {
		error_respond(app, req, rs, 400, not_writable);
		return;
	}
	err[0] = '\0';
	rc = integration_set_choices(app_db(app), req->doctor_id, id, blocking, nb, receive,
				     request_field(req, "show_patient_names") != NULL, err, sizeof(err));
	if (rc == TF_OK)
		integrations_back(rs, "settings", id);
	else if (rc == TF_ERR_INVALID)
		error_respond(app, req, rs, 400, err[0] ? err : not_writable);
	else if (rc == TF_ERR_NOTFOUND)
		error_respond(app, req, rs, 404, "Diese Kalender-Verbindung gibt es nicht.");
	else
		error_respond(app, req, rs, app_db_error_status(app), NULL);
}

void page_integrations_policy_post(struct app *app, struct request *req, struct response *rs)
{
	const char *v = request_field(req, "broken_calendar_policy");
	unsigned long long affected = 0;

	if (!v || (strcmp(v, "keep") != 0 && strcmp(v, "free") != 0)) {
		error_respond(app, req, rs, 400, "Bitte wählen Sie, was mit den belegten Zeiten einer "
			      "ausgefallenen Kalender-Verbindung geschehen soll.");
		return;
	}
	if (db_exec(app_db(app), STMT_WEB_BROKEN_POLICY_SET, DB_ARGS(DBP_TEXT(v), DBP_INT(req->doctor_id)),
		    &affected, NULL) != TF_OK) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	log_info("doctor %lld: broken calendar policy %s", req->doctor_id, v);
	integrations_back(rs, "policy", 0);
}
