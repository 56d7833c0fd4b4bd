/* api-google.c: "Mit Google verbinden": POST .../connect/google (form → 303 to Google, JSON → the URL) and the OAuth callback. */
#include "config.h"

#include <string.h>
#include <time.h>

#include "crypto.h"
#include "integration.h"
#include "log.h"
#include "oauth.h"
#include "provider_google.h"
#include "web.h"

#define CALLBACK_CODE_MAX 2048      /* longest authorization code accepted from the query */

#define MSG_NOT_CONFIGURED "Google Calendar ist auf diesem Server nicht eingerichtet. Bitte wenden " \
			   "Sie sich an die Administration."
#define MSG_NO_KEY "Die Zugangsdaten können nicht verschlüsselt gespeichert werden: " \
		   "CALENDAR_ENCRYPTION_KEY fehlt oder ist ungültig. Bitte wenden Sie sich an die " \
		   "Administration."
#define MSG_SESSION "Die Verbindung mit Google wird im Browser hergestellt: Bitte melden Sie sich " \
		    "an und starten Sie sie auf der Seite „Kalender-Integrationen“."
#define MSG_STATE "Diese Anmeldung bei Google ist ungültig oder wurde schon verwendet. Bitte " \
		  "starten Sie die Verbindung auf der Seite „Kalender-Integrationen“ erneut."
#define MSG_STATE_EXPIRED "Die Anmeldung bei Google hat zu lange gedauert (mehr als 10 Minuten). " \
			  "Bitte starten Sie die Verbindung erneut."
#define MSG_STATE_SESSION "Diese Anmeldung bei Google wurde in einer anderen Sitzung begonnen. " \
			  "Bitte starten Sie die Verbindung in diesem Browser erneut."
#define MSG_NO_CODE "Google hat keinen Anmeldecode übermittelt. Bitte starten Sie die Verbindung " \
		    "erneut."
#define MSG_CODE_REFUSED "Google hat den Anmeldecode nicht angenommen (abgelaufen oder schon " \
			 "verwendet). Bitte starten Sie die Verbindung erneut."
#define MSG_GOOGLE_DOWN "Google ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen " \
			"Minuten noch einmal."
#define MSG_CLIENT "Google hat die Zugangsdaten dieses Servers (GOOGLE_CLIENT_ID, " \
		   "GOOGLE_CLIENT_SECRET) abgelehnt. Bitte wenden Sie sich an die Administration."

/* SHA-256 hex of the request's session cookie into out; 0, or -1 without a session (bearer). */
static int session_hash(const struct request *req, char out[65])
{
	if (req->via_bearer || !req->session_token)
		return -1;
	sha256_hex(req->session_token, strlen(req->session_token), out);
	return 0;
}

/* A refusal of the connect route: the page with the message (form) or JSON. */
static void connect_refuse(struct app *app, struct request *req, struct response *rs, int status,
			   const char *code, const char *message)
{
	struct integrations_view v = { status, message, NULL, NULL };

	if (req->api)
		error_json_field(rs, status, code, NULL, message);
	else
		integrations_page(app, req, rs, &v);
}

void api_google_connect_post(struct app *app, struct request *req, struct response *rs)
{
	struct oauth_endpoints ep;
	char state[OAUTH_TOKEN_LEN], verifier[OAUTH_TOKEN_LEN], challenge[OAUTH_TOKEN_LEN];
	char shash[65], err[256];
	const char *missing[4];
	struct buf url;
	enum tf_err rc;
	json_t *body;

	buf_init(&url, 8192);
	if (integration_provider_missing(app->conf, INTEGRATION_GOOGLE, missing,
					 TF_ARRAY_LEN(missing)) > 0 ||
	    google_endpoints(app->conf, &ep, err, sizeof(err)) < 0) {
		connect_refuse(app, req, rs, 503, "not_configured", MSG_NOT_CONFIGURED);
		goto out;
	}
	if (session_hash(req, shash) < 0) {
		connect_refuse(app, req, rs, 400, "session_required", MSG_SESSION);
		goto out;
	}
	rc = oauth_state_create(app_db(app), app->conf, req->doctor_id, shash, "google", time(NULL),
				state, verifier, challenge, err, sizeof(err));
	explicit_bzero(verifier, sizeof(verifier));
	if (rc == TF_ERR_CONFIG) {
		log_error("google connect: %s", err);
		connect_refuse(app, req, rs, 500, "not_configured", MSG_NO_KEY);
		goto out;
	}
	if (rc != TF_OK) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		goto out;
	}
	if (oauth_authorization_url(&ep, state, challenge, &url) < 0) {
		log_error("google connect: the authorization URL could not be built");
		error_respond(app, req, rs, 500, NULL);
		goto out;
	}
	log_info("doctor %lld starts connecting google", req->doctor_id);
	if (!req->api) {
		if (resp_redirect_external(rs, 303, url.data) < 0)
			error_respond(app, req, rs, 500, NULL);
		goto out;
	}
	body = json_pack("{s:s, s:s}", "authorization_url", url.data, "state", state);
	if (!body || resp_json(rs, 200, body) < 0)
		error_respond(app, req, rs, 500, NULL);
	json_decref(body);
out:
	explicit_bzero(state, sizeof(state));
	buf_free(&url);
}

/* The callback's failure answer: the German error page (status) with message. */
static void callback_fail(struct app *app, struct request *req, struct response *rs, int status,
			  const char *message)
{
	error_respond(app, req, rs, status, message);
}

/* The connection itself once the tokens are in hand: scopes, account, calendars, row. */
static void callback_connect(struct app *app, struct request *req, struct response *rs,
			     const struct oauth_endpoints *ep, struct oauth_tokens *tok)
{
	struct prov_calendar *cals = NULL;
	struct oauth_error oe;
	struct prov_ctx ctx;
	char email[255], err[256];
	enum prov_status ps;
	long long id = 0;
	int reconnected = 0;
	enum tf_err rc;
	size_t n = 0;

	memset(&ctx, 0, sizeof(ctx));
	if (!oauth_scope_has(tok->scope, GOOGLE_SCOPE_EVENTS) ||
	    !oauth_scope_has(tok->scope, GOOGLE_SCOPE_READONLY)) {
		/* granular consent: a calendar permission was unticked. Not connected; the grant we
		 * cannot use is given back at once. */
		log_info("doctor %lld: google granted without the calendar scopes; not connected",
			 req->doctor_id);
		memset(&oe, 0, sizeof(oe));
		if (oauth_revoke(ep, tok->refresh_token ? tok->refresh_token : tok->access_token, NULL,
				 &oe) != OAUTH_OK)
			log_warn("doctor %lld: revoking the partial google grant failed", req->doctor_id);
		integrations_back_error(rs, "google-scope");
		goto out;
	}
	if (!tok->refresh_token) {
		log_warn("doctor %lld: google answered without a refresh token", req->doctor_id);
		integrations_back_error(rs, "google-offline");
		goto out;
	}
	ctx.conf = app->conf;
	ctx.now = time(NULL);
	ctx.creds = google_creds_from_tokens(tok);
	if (!ctx.creds) {
		callback_fail(app, req, rs, 500, NULL);
		goto out;
	}
	ps = google_userinfo_email(&ctx, email, sizeof(email));
	if (ps == PROV_OK)
		ps = google_provider.list_calendars(&ctx, &cals, &n);
	if (ps != PROV_OK) {
		log_info("doctor %lld: google account or calendar list failed: %s", req->doctor_id,
			 prov_status_name(ps));
		callback_fail(app, req, rs, ps == PROV_RETRY ? 503 : 502,
			      ctx.error[0] ? ctx.error : MSG_GOOGLE_DOWN);
		goto out;
	}
	if (n == 0) {
		integrations_back_error(rs, "google-no-calendar");
		goto out;
	}
	rc = integration_create(app_db(app), app->conf, req->doctor_id, "google", email, ctx.creds,
				NULL, cals, n, &id, &reconnected, err, sizeof(err));
	if (rc != TF_OK) {
		log_error("storing the google connection of doctor %lld failed: %s (%s)",
			  req->doctor_id, tf_strerror(rc), err);
		callback_fail(app, req, rs, rc == TF_ERR_CONFIG ? 500 : rc == TF_ERR_INVALID ? 502 :
			      app_db_error_status(app), rc == TF_ERR_CONFIG ? MSG_NO_KEY :
			      rc == TF_ERR_INVALID ? "Google hat ein unbrauchbares Konto gemeldet." : NULL);
		goto out;
	}
	log_info("doctor %lld %s google integration %lld (%zu calendars)", req->doctor_id,
		 reconnected ? "reconnected" : "connected", id, n);
	integrations_back(rs, "connected", id);
out:
	prov_calendars_free(cals, n);
	json_decref(ctx.creds);
	json_decref(ctx.state);
	free(ctx.video_link);
}

void api_google_callback_get(struct app *app, struct request *req, struct response *rs)
{
	const char *state = kv_get(&req->query, "state");
	const char *code = kv_get(&req->query, "code");
	const char *error = kv_get(&req->query, "error");
	char verifier[OAUTH_TOKEN_LEN], shash[65], err[256];
	struct oauth_endpoints ep;
	struct oauth_tokens tok;
	struct oauth_error oe;
	enum oauth_state_result sr;
	enum oauth_result orc;

	memset(&tok, 0, sizeof(tok));
	verifier[0] = '\0';
	if (google_endpoints(app->conf, &ep, err, sizeof(err)) < 0) {
		callback_fail(app, req, rs, 503, MSG_NOT_CONFIGURED);
		return;
	}
	if (session_hash(req, shash) < 0) {
		callback_fail(app, req, rs, 400, MSG_STATE_SESSION);
		return;
	}
	if (!state || !*state) {
		callback_fail(app, req, rs, 400, MSG_STATE);
		return;
	}
	/* the state is used up whatever happens next: a refusal, too, cannot be replayed */
	sr = oauth_state_consume(app_db(app), app->conf, state, req->doctor_id, shash, "google",
				 time(NULL), verifier);
	if (error) {
		log_info("doctor %lld: google authorization ended with %s", req->doctor_id,
			 strcmp(error, "access_denied") == 0 ? "access_denied" : "an error");
		integrations_back_error(rs, strcmp(error, "access_denied") == 0 ? "google-denied" :
					"google-error");
		goto out;
	}
	switch (sr) {
	case OAUTH_STATE_OK:
		break;
	case OAUTH_STATE_ERROR:
		callback_fail(app, req, rs, app_db_error_status(app), NULL);
		goto out;
	case OAUTH_STATE_EXPIRED:
		log_info("doctor %lld: google callback with an expired state", req->doctor_id);
		callback_fail(app, req, rs, 400, MSG_STATE_EXPIRED);
		goto out;
	case OAUTH_STATE_OTHER_SESSION:
		log_info("doctor %lld: google callback with another session's state", req->doctor_id);
		callback_fail(app, req, rs, 400, MSG_STATE_SESSION);
		goto out;
	default:
		log_info("doctor %lld: google callback state refused: %s", req->doctor_id,
			 oauth_state_result_name(sr));
		callback_fail(app, req, rs, 400, MSG_STATE);
		goto out;
	}
	if (!code || !*code || strlen(code) > CALLBACK_CODE_MAX) {
		callback_fail(app, req, rs, 400, MSG_NO_CODE);
		goto out;
	}
	memset(&oe, 0, sizeof(oe));
	orc = oauth_exchange_code(&ep, code, verifier, time(NULL), NULL, &tok, &oe);
	if (orc != OAUTH_OK) {
		log_warn("doctor %lld: google code exchange failed: %s (HTTP %ld %s)", req->doctor_id,
			 oauth_result_name(orc), oe.http_status, oe.error);
		callback_fail(app, req, rs, orc == OAUTH_INVALID_GRANT ? 400 : orc == OAUTH_RETRY ? 503 :
			      orc == OAUTH_INVALID_CLIENT ? 500 : 502,
			      orc == OAUTH_INVALID_GRANT ? MSG_CODE_REFUSED : orc == OAUTH_INVALID_CLIENT ?
			      MSG_CLIENT : MSG_GOOGLE_DOWN);
		goto out;
	}
	callback_connect(app, req, rs, &ep, &tok);
out:
	explicit_bzero(verifier, sizeof(verifier));
	oauth_tokens_free(&tok);
}
