/* api-oauth.c: "Mit Google/Outlook verbinden": POST .../connect/{provider} and the OAuth callback, one flow for every OAuth provider. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bearer.h"
#include "crypto.h"
#include "doctor.h"
#include "integration.h"
#include "log.h"
#include "oauth.h"
#include "provider_google.h"
#include "provider_outlook.h"
#include "web.h"

#define CALLBACK_CODE_MAX 2048      /* longest authorization code accepted from the query */
#define MSG_MAX           512

/* What differs between the OAuth providers; the flow itself is the same for all of them. */
struct oauth_provider {
	const char *key;            /* "google": route segment, provider column, state's provider */
	enum integration_provider id;
	const char *company;        /* "Google": who the doctor's browser talks to (German texts) */
	const char *settings;       /* "GOOGLE": prefix of its CLIENT_ID/CLIENT_SECRET settings */
	/* the OAuth client from the settings: 0, or -1 (err names the missing setting) */
	int (*endpoints)(struct conf *c, struct oauth_endpoints *ep, char *err, size_t errlen);
	/* 1 when the granted scopes (space-separated) cover every call the provider makes */
	int (*scopes_ok)(const char *granted);
	/* the account's e-mail address with the new tokens in c->creds */
	enum prov_status (*account_email)(struct prov_ctx *c, char *email, size_t len);
	const struct provider_ops *ops;
};

static int google_scopes_ok(const char *granted)
{
	return oauth_scope_has(granted, GOOGLE_SCOPE_EVENTS) &&
	       oauth_scope_has(granted, GOOGLE_SCOPE_READONLY);
}

/* A Graph permission in the granted list: its short name ("Calendars.ReadWrite") or the full one
 * ("https://graph.microsoft.com/Calendars.ReadWrite"). */
static int graph_scope_has(const char *granted, const char *scope)
{
	char full[96];

	snprintf(full, sizeof(full), "https://graph.microsoft.com/%s", scope);
	return oauth_scope_has(granted, scope) || oauth_scope_has(granted, full);
}

/* Calendars.ReadWrite (calendars, events, delta, subscriptions) and User.Read (/me). A narrower
 * grant (a tenant policy, or Calendars.Read only) cannot work. */
static int outlook_scopes_ok(const char *granted)
{
	return graph_scope_has(granted, OUTLOOK_SCOPE_CALENDARS) && graph_scope_has(granted, "User.Read");
}

static const struct oauth_provider oauth_providers[] = {
	{ "google", INTEGRATION_GOOGLE, "Google", "GOOGLE", google_endpoints, google_scopes_ok,
	  google_userinfo_email, &google_provider },
	{ "outlook", INTEGRATION_OUTLOOK, "Microsoft", "MICROSOFT", outlook_endpoints, outlook_scopes_ok,
	  outlook_account_email, &outlook_provider },
};

/* The provider of a key ("google"), or NULL. */
static const struct oauth_provider *oauth_provider_find(const char *key)
{
	size_t i;

	for (i = 0; key && i < TF_ARRAY_LEN(oauth_providers); i++) {
		if (strcmp(oauth_providers[i].key, key) == 0)
			return &oauth_providers[i];
	}
	return NULL;
}

/* The provider a connect/callback route names: its last path segment (the route is literal). */
static const struct oauth_provider *route_provider(const struct request *req)
{
	const char *slash = req->route ? strrchr(req->route, '/') : NULL;

	return oauth_provider_find(slash ? slash + 1 : NULL);
}

const char *web_oauth_auth_uri(struct conf *c, const char *key)
{
	const struct oauth_provider *p = oauth_provider_find(key);
	struct oauth_endpoints ep;
	const char *missing[4];
	char err[128];

	if (!p || integration_provider_missing(c, p->id, missing, TF_ARRAY_LEN(missing)) > 0 ||
	    p->endpoints(c, &ep, err, sizeof(err)) < 0)
		return NULL;
	return ep.auth_uri;
}

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

static const char msg_no_key[] = "Die Zugangsdaten können nicht verschlüsselt gespeichert werden: "
	"CALENDAR_ENCRYPTION_KEY fehlt oder ist ungültig. Bitte wenden Sie sich an die Administration.";

void api_oauth_connect_post(struct app *app, struct request *req, struct response *rs)
{
	const struct oauth_provider *p = route_provider(req);
	struct oauth_endpoints ep;
	char state[OAUTH_TOKEN_LEN], verifier[OAUTH_TOKEN_LEN], challenge[OAUTH_TOKEN_LEN];
	char shash[65], err[256], msg[MSG_MAX];
	const char *missing[4], *hint;
	struct buf url;
	enum tf_err rc;
	json_t *body;

	state[0] = '\0';
	buf_init(&url, 8192);
	if (!p) {
		error_respond(app, req, rs, 404, NULL);
		goto out;
	}
	if (integration_provider_missing(app->conf, p->id, missing, TF_ARRAY_LEN(missing)) > 0 ||
	    p->endpoints(app->conf, &ep, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "%s ist auf diesem Server nicht eingerichtet. Bitte wenden Sie "
			 "sich an die Administration.", integration_provider_title(p->id));
		connect_refuse(app, req, rs, 503, "not_configured", msg);
		goto out;
	}
	if (session_hash(req, shash) < 0) {
		snprintf(msg, sizeof(msg), "Die Verbindung mit %s wird im Browser hergestellt: Bitte "
			 "melden Sie sich an und starten Sie sie auf der Seite „Kalender-Integrationen“.",
			 p->company);
		connect_refuse(app, req, rs, 400, "session_required", msg);
		goto out;
	}
	/* a reconnect names the account (the card's hidden field): the provider pre-selects it */
	hint = request_field(req, "login_hint");
	if (hint && *hint) {
		if (!doctor_email_valid(hint)) {
			connect_refuse(app, req, rs, 400, "invalid_field",
				       "Das Konto (login_hint) ist keine gültige E-Mail-Adresse.");
			goto out;
		}
		ep.login_hint = hint;
	}
	rc = oauth_state_create(app_db(app), app->conf, req->doctor_id, shash, p->key, time(NULL),
				state, verifier, challenge, err, sizeof(err));
	explicit_bzero(verifier, sizeof(verifier));
	if (rc == TF_ERR_CONFIG) {
		log_error("%s connect: %s", p->key, err);
		connect_refuse(app, req, rs, 500, "not_configured", msg_no_key);
		goto out;
	}
	if (rc != TF_OK) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		goto out;
	}
	if (oauth_authorization_url(&ep, state, challenge, &url) < 0) {
		log_error("%s connect: the authorization URL could not be built", p->key);
		error_respond(app, req, rs, 500, NULL);
		goto out;
	}
	log_info("doctor %lld starts connecting %s", req->doctor_id, p->key);
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

/* 303 back to the page with the error notice "<provider>-<what>" (texts in page-integrations.c). */
static void back_error(struct response *rs, const struct oauth_provider *p, const char *what)
{
	char code[48];

	snprintf(code, sizeof(code), "%s-%s", p->key, what);
	integrations_back_error(rs, code);
}

/* The connection itself once the tokens are in hand: scopes, account, calendars, row. */
static void callback_connect(struct app *app, struct request *req, struct response *rs,
			     const struct oauth_provider *p, const struct oauth_endpoints *ep,
			     struct oauth_tokens *tok)
{
	struct prov_calendar *cals = NULL;
	struct oauth_error oe;
	struct prov_ctx ctx;
	char email[255], err[256], msg[MSG_MAX];
	enum prov_status ps;
	long long id = 0;
	int reconnected = 0;
	enum tf_err rc;
	size_t n = 0;

	memset(&ctx, 0, sizeof(ctx));
	if (!p->scopes_ok(tok->scope ? tok->scope : "")) {
		/* a calendar permission was unticked (Google's granular consent) or withheld: not
		 * connected; a grant we cannot use is given back at once where the provider can
		 * revoke (Microsoft has no revocation endpoint for this flow: the unused tokens
		 * are dropped here and expire) */
		log_info("doctor %lld: %s granted without the calendar scopes; not connected",
			 req->doctor_id, p->key);
		memset(&oe, 0, sizeof(oe));
		if (ep->revoke_uri && *ep->revoke_uri &&
		    oauth_revoke(ep, tok->refresh_token ? tok->refresh_token : tok->access_token, NULL,
				 &oe) != OAUTH_OK)
			log_warn("doctor %lld: revoking the partial %s grant failed", req->doctor_id, p->key);
		back_error(rs, p, "scope");
		goto out;
	}
	if (!tok->refresh_token) {
		log_warn("doctor %lld: %s answered without a refresh token", req->doctor_id, p->key);
		back_error(rs, p, "offline");
		goto out;
	}
	ctx.conf = app->conf;
	ctx.now = time(NULL);
	ctx.creds = bearer_creds_from_tokens(tok);
	if (!ctx.creds) {
		error_respond(app, req, rs, 500, NULL);
		goto out;
	}
	ps = p->account_email(&ctx, email, sizeof(email));
	if (ps == PROV_OK)
		ps = p->ops->list_calendars(&ctx, &cals, &n);
	if (ps != PROV_OK) {
		log_info("doctor %lld: %s account or calendar list failed: %s", req->doctor_id, p->key,
			 prov_status_name(ps));
		snprintf(msg, sizeof(msg), "%s ist gerade nicht erreichbar. Bitte versuchen Sie es in "
			 "einigen Minuten noch einmal.", p->company);
		error_respond(app, req, rs, ps == PROV_RETRY ? 503 : 502, ctx.error[0] ? ctx.error : msg);
		goto out;
	}
	if (n == 0) {
		back_error(rs, p, "no-calendar");
		goto out;
	}
	/* the tokens may have been refreshed meanwhile (ctx.creds_changed): ctx.creds is current */
	rc = integration_create(app_db(app), app->conf, req->doctor_id, p->key, email, ctx.creds,
				NULL, cals, n, &id, &reconnected, err, sizeof(err));
	if (rc != TF_OK) {
		log_error("storing the %s connection of doctor %lld failed: %s (%s)", p->key,
			  req->doctor_id, tf_strerror(rc), err);
		snprintf(msg, sizeof(msg), "%s hat ein unbrauchbares Konto gemeldet.", p->company);
		error_respond(app, req, rs, rc == TF_ERR_CONFIG ? 500 : rc == TF_ERR_INVALID ? 502 :
			      app_db_error_status(app), rc == TF_ERR_CONFIG ? msg_no_key :
			      rc == TF_ERR_INVALID ? msg : NULL);
		goto out;
	}
	log_info("doctor %lld %s %s integration %lld (%zu calendars)", req->doctor_id,
		 reconnected ? "reconnected" : "connected", p->key, id, n);
	integrations_back(rs, "connected", id);
out:
	prov_calendars_free(cals, n);
	json_decref(ctx.creds);
	json_decref(ctx.state);
	free(ctx.video_link);
}

/* The German page for a state the callback refuses. */
static void state_refused(struct app *app, struct request *req, struct response *rs,
			  const struct oauth_provider *p, enum oauth_state_result sr)
{
	char msg[MSG_MAX];

	if (sr == OAUTH_STATE_ERROR) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	log_info("doctor %lld: %s callback state refused: %s", req->doctor_id, p->key,
		 oauth_state_result_name(sr));
	if (sr == OAUTH_STATE_EXPIRED)
		snprintf(msg, sizeof(msg), "Die Anmeldung bei %s hat zu lange gedauert (mehr als 10 "
			 "Minuten). Bitte starten Sie die Verbindung erneut.", p->company);
	else if (sr == OAUTH_STATE_OTHER_SESSION)
		snprintf(msg, sizeof(msg), "Diese Anmeldung bei %s wurde in einer anderen Sitzung "
			 "begonnen. Bitte starten Sie die Verbindung in diesem Browser erneut.", p->company);
	else
		snprintf(msg, sizeof(msg), "Diese Anmeldung bei %s ist ungültig oder wurde schon "
			 "verwendet. Bitte starten Sie die Verbindung auf der Seite "
			 "„Kalender-Integrationen“ erneut.", p->company);
	error_respond(app, req, rs, 400, msg);
}

/* The 4xx/5xx page for a code exchange the token endpoint did not complete. */
static void exchange_failed(struct app *app, struct request *req, struct response *rs,
			    const struct oauth_provider *p, enum oauth_result orc)
{
	char msg[MSG_MAX];

	if (orc == OAUTH_INVALID_GRANT)
		snprintf(msg, sizeof(msg), "%s hat den Anmeldecode nicht angenommen (abgelaufen oder "
			 "schon verwendet). Bitte starten Sie die Verbindung erneut.", p->company);
	else if (orc == OAUTH_INVALID_CLIENT)
		snprintf(msg, sizeof(msg), "%s hat die Zugangsdaten dieses Servers (%s_CLIENT_ID, "
			 "%s_CLIENT_SECRET) abgelehnt. Bitte wenden Sie sich an die Administration.",
			 p->company, p->settings, p->settings);
	else
		snprintf(msg, sizeof(msg), "%s ist gerade nicht erreichbar. Bitte versuchen Sie es in "
			 "einigen Minuten noch einmal.", p->company);
	error_respond(app, req, rs, orc == OAUTH_INVALID_GRANT ? 400 : orc == OAUTH_RETRY ? 503 :
		      orc == OAUTH_INVALID_CLIENT ? 500 : 502, msg);
}

void api_oauth_callback_get(struct app *app, struct request *req, struct response *rs)
{
	const struct oauth_provider *p = route_provider(req);
	const char *state = kv_get(&req->query, "state");
	const char *code = kv_get(&req->query, "code");
	const char *error = kv_get(&req->query, "error");
	char verifier[OAUTH_TOKEN_LEN], shash[65], err[256], msg[MSG_MAX];
	struct oauth_endpoints ep;
	struct oauth_tokens tok;
	struct oauth_error oe;
	enum oauth_state_result sr;
	enum oauth_result orc;
	int denied;

	memset(&tok, 0, sizeof(tok));
	verifier[0] = '\0';
	if (!p) {
		error_respond(app, req, rs, 404, NULL);
		return;
	}
	if (p->endpoints(app->conf, &ep, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "%s ist auf diesem Server nicht eingerichtet. Bitte wenden Sie "
			 "sich an die Administration.", integration_provider_title(p->id));
		error_respond(app, req, rs, 503, msg);
		return;
	}
	if (session_hash(req, shash) < 0 || !state || !*state) {
		state_refused(app, req, rs, p, session_hash(req, shash) < 0 ?
			      OAUTH_STATE_OTHER_SESSION : OAUTH_STATE_MALFORMED);
		return;
	}
	/* the state is used up whatever happens next: a refusal, too, cannot be replayed */
	sr = oauth_state_consume(app_db(app), app->conf, state, req->doctor_id, shash, p->key,
				 time(NULL), verifier);
	if (sr != OAUTH_STATE_OK) {
		/* an error answer, too, counts only with our state: no notice for a forged one */
		state_refused(app, req, rs, p, sr);
		goto out;
	}
	if (error) {
		/* the provider's page ended the authorization; its error_description is not shown
		 * (not ours to echo) */
		denied = strcmp(error, "access_denied") == 0;
		log_info("doctor %lld: %s authorization ended with %s", req->doctor_id, p->key,
			 denied ? "access_denied" : "an error");
		back_error(rs, p, denied ? "denied" : "error");
		goto out;
	}
	if (!code || !*code || strlen(code) > CALLBACK_CODE_MAX) {
		snprintf(msg, sizeof(msg), "%s hat keinen Anmeldecode übermittelt. Bitte starten Sie die "
			 "Verbindung erneut.", p->company);
		error_respond(app, req, rs, 400, msg);
		goto out;
	}
	memset(&oe, 0, sizeof(oe));
	orc = oauth_exchange_code(&ep, code, verifier, time(NULL), NULL, &tok, &oe);
	if (orc != OAUTH_OK) {
		log_warn("doctor %lld: %s code exchange failed: %s (HTTP %ld %s)", req->doctor_id, p->key,
			 oauth_result_name(orc), oe.http_status, oe.error);
		exchange_failed(app, req, rs, p, orc);
		goto out;
	}
	callback_connect(app, req, rs, p, &ep, &tok);
out:
	explicit_bzero(verifier, sizeof(verifier));
	oauth_tokens_free(&tok);
}
