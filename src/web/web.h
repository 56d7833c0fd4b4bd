/* web.h: the web application's process state, the route flags and every handler of the route table. */
#ifndef TF_WEB_H
#define TF_WEB_H

#include <limits.h>
#include <time.h>

#include <jansson.h>

#include "conf.h"
#include "db.h"
#include "request.h"
#include "response.h"

/* Process-wide state, set up once in main and shared by every request. */
struct app {
	struct conf *conf;
	struct db *db;              /* NULL until the first request that needs it connects */
	const char *secret;         /* TF_SECRET_KEY (owned by conf) */
	int secure_cookies;         /* BASE_URL starts with https:// */
	long session_ttl;           /* TF_SESSION_TTL */
	char tmpl_dir[PATH_MAX];    /* TF_DATA_DIR/templates */
};

/* The database connection, connecting on first use. NULL when the server is unreachable (logged;
 * the next call tries again). Never exits. */
struct db *app_db(struct app *app);
/* The status for a failed database call: 503 when the server is unreachable now, else 500. */
int app_db_error_status(struct app *app);

/* Route flags: what the router enforces before a handler runs. */
enum {
	ROUTE_LOGIN = 1 << 0,   /* needs a doctor: session cookie (pages) or also a bearer token (API) */
	ROUTE_CSRF  = 1 << 1,   /* POST form: csrf_token must match the tf_csrf cookie (not for bearer) */
	ROUTE_API   = 1 << 2,   /* JSON errors; bearer tokens accepted */
	ROUTE_DB    = 1 << 3,   /* needs the database: 503 when it is unreachable */
	ROUTE_AUTH_OPT = 1 << 4,/* public, but a doctor's good session or bearer token is recognised */
	ROUTE_FORM_HTML = 1 << 5,/* an API route that also takes the page's urlencoded form: then the
				    answers are HTML (error pages, no session → login redirect) */
	ROUTE_WEBHOOK = 1 << 9, /* a provider's notification: no session, no CSRF (the handler checks the
				   provider's own token), JSON errors without detail, never a cookie */
	ROUTE_HTML = 1 << 8,    /* a route under /api/ that a browser navigates to (OAuth callback):
				   HTML answers, no session → login redirect */
	ROUTE_LARGE_BODY = 1 << 10, /* bodies up to REQ_MAX_BODY_LARGE instead of REQ_MAX_BODY */
};

typedef void (*route_handler)(struct app *app, struct request *req, struct response *rs);

/* Run one request through the route table (router.c). rs is filled; the caller sends it. */
void router_dispatch(struct app *app, struct request *req, struct response *rs);

/* errors.c: an error answer for status: JSON {"error": {"code", "message"}} when req is an API
 * request, else the German error page. message NULL = the status's standard German text.
 * 405 answers should carry their Allow header already. */
void error_respond(struct app *app, struct request *req, struct response *rs, int status,
		   const char *message);
/* A JSON error naming the offending field: {"error": {"code", "message", "field"}} (field may be
 * NULL: left out). For API answers whose code is more specific than the status's. */
void error_json_field(struct response *rs, int status, const char *code, const char *field,
		      const char *message);
/* The 403 for a failed CSRF check ("Sicherheitsprüfung"). */
void error_csrf(struct app *app, struct request *req, struct response *rs);
/* A minimal German error page built without templates or configuration (start-up failures). */
void error_builtin(struct response *rs, int status);

/* Pages: a template context with the fields every page uses (title, doctor when logged in) and,
 * when with_form is set, csrf_token (setting the tf_csrf cookie when the request had none).
 * Returns a new object (caller decrefs). */
json_t *page_context(struct app *app, struct request *req, struct response *rs, const char *title,
		     int with_form);
/* Render templates/NAME.mustache with ctx as the answer (status). On a template failure the
 * answer becomes the built-in 500 page (logged). */
void page_render(struct app *app, struct response *rs, int status, const char *name, json_t *ctx);

/* German dates for pages: "Dienstag, 24. November 2026" into out[outlen]. */
struct civil;
void page_date_de(const struct civil *c, char *out, size_t outlen);
/* A fresh random token (base64url, 43 characters) into out[outlen >= AUTH_TOKEN_MAX] for hidden
 * per-render form keys. */
void page_random_token(char *out, size_t outlen);

/* handlers */
void page_login_get(struct app *app, struct request *req, struct response *rs);
void page_login_post(struct app *app, struct request *req, struct response *rs);
void page_logout_post(struct app *app, struct request *req, struct response *rs);
void page_root_get(struct app *app, struct request *req, struct response *rs);
void page_integrations_get(struct app *app, struct request *req, struct response *rs);
void api_integrations_get(struct app *app, struct request *req, struct response *rs);
void health_get(struct app *app, struct request *req, struct response *rs);
/* booking (api-slots.c, api-appointments.c, page-booking.c, page-settings.c) */
void api_slots_get(struct app *app, struct request *req, struct response *rs);
void api_appointments_post(struct app *app, struct request *req, struct response *rs);
/* the booking assistant (api-agent.c, issue 7) */
void api_agent_chat_post(struct app *app, struct request *req, struct response *rs);
void page_booking_get(struct app *app, struct request *req, struct response *rs);
void page_booking_post(struct app *app, struct request *req, struct response *rs);
void page_cancel_get(struct app *app, struct request *req, struct response *rs);
void page_cancel_post(struct app *app, struct request *req, struct response *rs);
void page_settings_get(struct app *app, struct request *req, struct response *rs);
void settings_profile_post(struct app *app, struct request *req, struct response *rs);
void settings_hours_post(struct app *app, struct request *req, struct response *rs);
void settings_closure_add_post(struct app *app, struct request *req, struct response *rs);
void settings_closure_delete_post(struct app *app, struct request *req, struct response *rs);
void settings_service_add_post(struct app *app, struct request *req, struct response *rs);
void settings_service_edit_post(struct app *app, struct request *req, struct response *rs);
void settings_service_delete_post(struct app *app, struct request *req, struct response *rs);
void settings_appointment_cancel_post(struct app *app, struct request *req, struct response *rs);
void settings_appointment_reschedule_post(struct app *app, struct request *req, struct response *rs);
void settings_appointment_reviewed_post(struct app *app, struct request *req, struct response *rs);
/* calendar connections (api-icloud.c, api-integrations.c, page-integrations.c) */
void api_icloud_post(struct app *app, struct request *req, struct response *rs);
void api_integration_sync_post(struct app *app, struct request *req, struct response *rs);
void api_integration_delete(struct app *app, struct request *req, struct response *rs);
void page_integration_sync_post(struct app *app, struct request *req, struct response *rs);
void page_integration_disconnect_post(struct app *app, struct request *req, struct response *rs);
void page_integration_settings_post(struct app *app, struct request *req, struct response *rs);
/* push notifications (webhook-google.c) */
void webhook_google_post(struct app *app, struct request *req, struct response *rs);
/* webhook-outlook.c: Graph change notifications and lifecycle events (validation handshake too) */
void webhook_outlook_post(struct app *app, struct request *req, struct response *rs);
void webhook_outlook_lifecycle_post(struct app *app, struct request *req, struct response *rs);
/* OAuth providers (api-oauth.c; Google, Outlook): POST .../connect/{google,outlook} (form → 303
 * to the provider, JSON → {"authorization_url", "state"}) and GET .../callback/{google,outlook}.
 * The provider is the route's last path segment. */
void api_oauth_connect_post(struct app *app, struct request *req, struct response *rs);
void api_oauth_callback_get(struct app *app, struct request *req, struct response *rs);
/* The authorization endpoint of OAuth provider key ("google", "outlook") when it is configured
 * (a pointer into c), else NULL (not an OAuth provider, or a setting missing). */
const char *web_oauth_auth_uri(struct conf *c, const char *key);
/* the doctor's broken-calendar policy (page-integrations.c) */
void page_integrations_policy_post(struct app *app, struct request *req, struct response *rs);

/* The integrations page (status 200, or the iCloud form's refusal with its German message and the
 * typed Apple ID and URL shown again; the password never is). */
struct integrations_view {
	int status;
	const char *error;          /* German, or NULL */
	const char *apple_id;       /* the form's values to show again, or NULL */
	const char *caldav_url;
};
void integrations_page(struct app *app, struct request *req, struct response *rs,
		       const struct integrations_view *v);
/* 303 back to the integrations page with a notice code (fixed texts in page-integrations.c) and
 * the connection's anchor (id > 0). */
void integrations_back(struct response *rs, const char *code, long long id);
/* 303 back to the integrations page with an error code (fixed German texts in
 * page-integrations.c, shown as the page's alert). */
void integrations_back_error(struct response *rs, const char *code);
/* Connection {id} when it is the doctor's: 1 (cals, when not NULL, gets its calendars; caller
 * decrefs); else answered 404 (another doctor's or unknown) and 0, or answered 5xx and -1. */
int integration_own(struct app *app, struct request *req, struct response *rs, long long id,
		    json_t **cals);

/* The iCloud/CalDAV connect form's fields, checked and trimmed (api-icloud.c). */
#define ICLOUD_ID_MAX       254
#define ICLOUD_PASSWORD_MAX 128
#define ICLOUD_URL_MAX      2048
struct icloud_form {
	char apple_id[ICLOUD_ID_MAX + 1];
	char password[ICLOUD_PASSWORD_MAX + 1];
	char url[ICLOUD_URL_MAX + 1];
	const char *field;          /* on failure: the offending field */
	const char *message;        /* on failure: German text */
};
/* Read apple_id, app_password and caldav_url from the request (form or JSON): spaces trimmed,
 * lengths checked, the URL https (http only for 127.0.0.1, localhost, ::1 or with
 * TF_CALDAV_ALLOW_HTTP=1), no user name or password in it; empty URL = CALDAV_DEFAULT_URL.
 * Returns 0, or -1 with field and message set. */
int icloud_form_read(struct app *app, const struct request *req, struct icloud_form *f);
/* The same check for one URL: NULL when acceptable, else the German reason. */
const char *icloud_url_problem(struct app *app, const char *url);

/* The HTTP status for a booking result (api-appointments.c): the core's choice, else by status. */
struct booking_result;
int booking_http_status(const struct booking_result *r);
#define MSG_SLOT_TAKEN "Dieser Termin ist leider nicht mehr frei. Bitte wählen Sie eine andere Uhrzeit."


#define COOKIE_SESSION "tf_session"
#define COOKIE_CSRF    "tf_csrf"

#endif
