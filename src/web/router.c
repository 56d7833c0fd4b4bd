/* router.c: the one route table and the one function that enforces it before any handler runs. */
#include "config.h"

#include <string.h>
#include <time.h>

#include "auth.h"
#include "doctor.h"
#include "log.h"
#include "web.h"

struct route {
	enum http_method method;
	const char *path;           /* literal segments and {slug}, {id}, {token} parameters */
	route_handler handler;
	unsigned flags;
};

#define LOGIN_FORM (ROUTE_LOGIN | ROUTE_CSRF | ROUTE_DB)
/* a doctor's API write: bearer, or the session with X-CSRF-Token */
#define API_WRITE  (ROUTE_LOGIN | ROUTE_API | ROUTE_CSRF | ROUTE_DB)

static const struct route routes[] = {
	{ HTTP_GET,  "/",                                 page_root_get,         0 },
	{ HTTP_GET,  "/doctor/login",                     page_login_get,        0 },
	{ HTTP_POST, "/doctor/login",                     page_login_post,       ROUTE_CSRF | ROUTE_DB },
	{ HTTP_POST, "/doctor/logout",                    page_logout_post,      ROUTE_CSRF | ROUTE_DB },
	{ HTTP_GET,  "/doctor/calendar-integrations",     page_integrations_get, ROUTE_LOGIN | ROUTE_DB },
	{ HTTP_GET,  "/api/doctor/calendar-integrations", api_integrations_get,
	  ROUTE_LOGIN | ROUTE_API | ROUTE_DB },
	{ HTTP_GET,  "/healthz",                          health_get,            ROUTE_API },
	/* push notifications from calendar providers (the handler checks channel and token) */
	{ HTTP_POST, "/webhooks/calendar/google",         webhook_google_post,   ROUTE_WEBHOOK | ROUTE_DB },
	/* Microsoft Graph: the validation handshake needs no database (the handler connects later) */
	{ HTTP_POST, "/webhooks/calendar/outlook",        webhook_outlook_post,
	  ROUTE_WEBHOOK | ROUTE_LARGE_BODY },
	{ HTTP_POST, "/webhooks/calendar/outlook/lifecycle", webhook_outlook_lifecycle_post,
	  ROUTE_WEBHOOK | ROUTE_LARGE_BODY },

	/* calendar connections (CalDAV issue): connect iCloud/CalDAV (JSON or the page's form), sync
	 * now, disconnect, per-connection settings */
	{ HTTP_POST, "/api/doctor/calendar-integrations/icloud", api_icloud_post,
	  API_WRITE | ROUTE_FORM_HTML },
	/* OAuth providers (issues 5, 6): connect (JSON or the page's form → 303 to the provider), the
	 * OAuth callback; the handlers take the provider from the last segment */
	{ HTTP_POST, "/api/doctor/calendar-integrations/connect/google", api_oauth_connect_post,
	  API_WRITE | ROUTE_FORM_HTML },
	{ HTTP_GET,  "/api/doctor/calendar-integrations/callback/google", api_oauth_callback_get,
	  ROUTE_LOGIN | ROUTE_DB | ROUTE_HTML },
	{ HTTP_POST, "/api/doctor/calendar-integrations/connect/outlook", api_oauth_connect_post,
	  API_WRITE | ROUTE_FORM_HTML },
	{ HTTP_GET,  "/api/doctor/calendar-integrations/callback/outlook", api_oauth_callback_get,
	  ROUTE_LOGIN | ROUTE_DB | ROUTE_HTML },
	{ HTTP_POST, "/api/doctor/calendar-integrations/{id}/sync", api_integration_sync_post, API_WRITE },
	{ HTTP_DELETE, "/api/doctor/calendar-integrations/{id}", api_integration_delete, API_WRITE },
	{ HTTP_POST, "/doctor/calendar-integrations/policy", page_integrations_policy_post, LOGIN_FORM },
	{ HTTP_POST, "/doctor/calendar-integrations/{id}/sync", page_integration_sync_post, LOGIN_FORM },
	{ HTTP_POST, "/doctor/calendar-integrations/{id}/disconnect", page_integration_disconnect_post,
	  LOGIN_FORM },
	{ HTTP_POST, "/doctor/calendar-integrations/{id}/settings", page_integration_settings_post,
	  LOGIN_FORM },

	/* booking: the public slots API and booking API (the trailing '/' is normalised away) */
	{ HTTP_GET,  "/api/integrations/calendar/slots",  api_slots_get,
	  ROUTE_AUTH_OPT | ROUTE_API | ROUTE_DB },
	{ HTTP_POST, "/api/appointments",                 api_appointments_post, ROUTE_API | ROUTE_DB },
	/* the booking assistant (issue 7): public, JSON, no cookies, no CSRF */
	{ HTTP_POST, "/api/agent/chat",                   api_agent_chat_post,   ROUTE_API | ROUTE_DB },

	/* patient pages */
	{ HTTP_GET,  "/termin/{slug}",                    page_booking_get,      ROUTE_DB },
	{ HTTP_POST, "/termin/{slug}",                    page_booking_post,     ROUTE_CSRF | ROUTE_DB },
	{ HTTP_GET,  "/termin/absage/{token}",            page_cancel_get,       ROUTE_DB },
	{ HTTP_POST, "/termin/absage/{token}",            page_cancel_post,      ROUTE_CSRF | ROUTE_DB },

	/* the doctor's settings page and its actions */
	{ HTTP_GET,  "/doctor/settings",                  page_settings_get,     ROUTE_LOGIN | ROUTE_DB },
	{ HTTP_POST, "/doctor/settings/profile",          settings_profile_post, LOGIN_FORM },
	{ HTTP_POST, "/doctor/settings/hours",            settings_hours_post,   LOGIN_FORM },
	{ HTTP_POST, "/doctor/settings/closures",         settings_closure_add_post, LOGIN_FORM },
	{ HTTP_POST, "/doctor/settings/closures/{id}/delete", settings_closure_delete_post, LOGIN_FORM },
	{ HTTP_POST, "/doctor/settings/services",         settings_service_add_post, LOGIN_FORM },
	{ HTTP_POST, "/doctor/settings/services/{id}",    settings_service_edit_post, LOGIN_FORM },
	{ HTTP_POST, "/doctor/settings/services/{id}/delete", settings_service_delete_post, LOGIN_FORM },
	{ HTTP_POST, "/doctor/appointments/{id}/cancel",  settings_appointment_cancel_post, LOGIN_FORM },
	{ HTTP_POST, "/doctor/appointments/{id}/reschedule", settings_appointment_reschedule_post,
	  LOGIN_FORM },
	{ HTTP_POST, "/doctor/appointments/{id}/reviewed", settings_appointment_reviewed_post,
	  LOGIN_FORM },
};

/* The allowlist of a path parameter by its name: 1 when value may reach a handler. */
static int param_ok(const char *name, size_t nlen, const char *value)
{
	size_t n = strlen(value), i;

	if (nlen == 4 && memcmp(name, "slug", 4) == 0)
		return doctor_slug_valid(value);
	if (nlen == 2 && memcmp(name, "id", 2) == 0) {
		if (n == 0 || n > 18)
			return 0;
		for (i = 0; i < n; i++) {
			if (value[i] < '0' || value[i] > '9')
				return 0;
		}
		return 1;
	}
	if (nlen == 5 && memcmp(name, "token", 5) == 0)
		return n == 43 && str_only_chars(value, 43, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
						 "abcdefghijklmnopqrstuvwxyz0123456789-_");
	return 0;
}

/* The static name of a parameter (the request keeps a pointer to it). */
static const char *param_name(const char *name, size_t nlen)
{
	static const char *const names[] = { "slug", "id", "token" };
	size_t i;

	for (i = 0; i < TF_ARRAY_LEN(names); i++) {
		if (strlen(names[i]) == nlen && memcmp(names[i], name, nlen) == 0)
			return names[i];
	}
	return NULL;
}

/* Match a normalised path against a pattern segment by segment. A {name} segment takes one whole
 * path segment that passes its allowlist. Returns 1 with params[*np] filled, else 0. */
static int route_match(const char *pattern, const char *path, struct req_param *params, size_t *np)
{
	const char *p = pattern, *q = path, *pe, *qe;
	size_t plen, qlen;

	*np = 0;
	while (*p == '/' && *q == '/') {
		p++;
		q++;
		pe = strchrnul(p, '/');
		qe = strchrnul(q, '/');
		plen = (size_t)(pe - p);
		qlen = (size_t)(qe - q);
		if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (*np >= REQ_MAX_PARAMS || qlen == 0 || qlen > REQ_PARAM_MAX)
				return 0;
			memcpy(params[*np].value, q, qlen);
			params[*np].value[qlen] = '\0';
			params[*np].name = param_name(p + 1, plen - 2);
			if (!params[*np].name || !param_ok(p + 1, plen - 2, params[*np].value))
				return 0;
			(*np)++;
		} else if (plen != qlen || memcmp(p, q, plen) != 0) {
			return 0;
		}
		p = pe;
		q = qe;
	}
	return *p == '\0' && *q == '\0';
}

/* Find the route for the request's path and method (HEAD uses GET's); on a hit the route's path
 * parameters are stored in req. *path_known is set when some route matches this path; allow gets
 * their methods ("GET, HEAD, POST"). */
static const struct route *route_find(struct request *req, int *path_known, struct buf *allow)
{
	const struct route *hit = NULL;
	enum http_method want = req->method == HTTP_HEAD ? HTTP_GET : req->method;
	struct req_param params[REQ_MAX_PARAMS];
	size_t i, np;

	*path_known = 0;
	for (i = 0; i < TF_ARRAY_LEN(routes); i++) {
		if (!route_match(routes[i].path, req->path, params, &np))
			continue;
		*path_known = 1;
		if (routes[i].method == want && !hit) {
			hit = &routes[i];
			memcpy(req->params, params, sizeof(params));
			req->nparams = np;
			req->route = routes[i].path;
		}
		if (allow->len)
			buf_puts(allow, ", ");
		buf_puts(allow, http_method_name(routes[i].method));
		if (routes[i].method == HTTP_GET)
			buf_puts(allow, ", HEAD");
	}
	return hit;
}

/* Authenticate: a bearer token (API routes only; a bad one is final) or the session cookie.
 * Returns 1 authenticated, 0 not, -1 database error. */
static int authenticate(struct app *app, struct request *req, struct db *db, unsigned flags)
{
	const char *bearer = request_bearer(req);
	const char *token;
	long long id = 0;
	int r;

	if ((flags & ROUTE_API) && bearer) {
		r = auth_bearer_doctor(db, app->secret, bearer, time(NULL), &id);
		if (r == 1) {
			req->doctor_id = id;
			req->via_bearer = 1;
		}
		return r;
	}
	token = request_cookie(req, COOKIE_SESSION);
	if (!token)
		return 0;
	r = auth_session_lookup(db, token, &id);
	if (r == 1) {
		req->doctor_id = id;
		req->session_token = token;
	}
	return r;
}

/* The CSRF check of a POST form: csrf_token (form field or X-CSRF-Token header) against the
 * tf_csrf cookie. Bearer-authenticated requests need none. */
static int csrf_ok(struct app *app, struct request *req)
{
	const char *token;

	if (req->via_bearer)
		return 1;
	token = request_field(req, "csrf_token");
	if (!token)
		token = request_env(req, "HTTP_X_CSRF_TOKEN");
	return auth_csrf_verify(app->secret, request_cookie(req, COOKIE_CSRF), token);
}

void router_dispatch(struct app *app, struct request *req, struct response *rs)
{
	const struct route *rt;
	struct buf allow;
	struct db *db = NULL;
	int known, st, r;

	buf_init(&allow, 256);
	rs->head_only = req->method == HTTP_HEAD;
	rt = route_find(req, &known, &allow);
	if (rt && (rt->flags & (ROUTE_API | ROUTE_WEBHOOK)))
		req->api = 1;
	if (rt && (rt->flags & ROUTE_FORM_HTML) && request_is_form(req))
		req->api = 0;   /* the page's form: answers are pages and redirects */
	if (rt && (rt->flags & ROUTE_HTML))
		req->api = 0;   /* a browser navigation under /api/ (OAuth callback) */
	/* the body limit first, as the contract says, whatever the route: the route's own limit, else
	 * the default one */
	if (req->content_length > (rt && (rt->flags & ROUTE_LARGE_BODY) ? REQ_MAX_BODY_LARGE : REQ_MAX_BODY)) {
		error_respond(app, req, rs, 413, NULL);
		goto out;
	}
	if (!rt) {
		if (known) {
			resp_header(rs, "Allow", allow.data);
			error_respond(app, req, rs, 405, NULL);
		} else {
			error_respond(app, req, rs, 404, NULL);
		}
		goto out;
	}

	if (rt->flags & ROUTE_LARGE_BODY)
		req->max_body = REQ_MAX_BODY_LARGE;
	st = request_read_body(req, req->read_fn, req->read_ud);
	if (st) {
		error_respond(app, req, rs, st, NULL);
		goto out;
	}

	if (rt->flags & (ROUTE_DB | ROUTE_LOGIN | ROUTE_AUTH_OPT)) {
		db = app_db(app);
		if (!db) {
			error_respond(app, req, rs, 503, NULL);
			goto out;
		}
	}

	if (rt->flags & ROUTE_LOGIN) {
		r = authenticate(app, req, db, rt->flags);
		if (r < 0) {
			error_respond(app, req, rs, app_db_error_status(app), NULL);
			goto out;
		}
		if (r == 0) {
			if (req->api) {
				resp_header(rs, "WWW-Authenticate", "Bearer");
				error_respond(app, req, rs, 401, NULL);
			} else {
				if (request_cookie(req, COOKIE_SESSION))
					resp_cookie(rs, COOKIE_SESSION, "", 0, app->secure_cookies);
				resp_redirect(rs, 303, "/doctor/login");
			}
			goto out;
		}
	}

	if ((rt->flags & ROUTE_AUTH_OPT) && !(rt->flags & ROUTE_LOGIN)) {
		/* optional: a doctor's credentials are used when good, ignored otherwise */
		r = authenticate(app, req, db, rt->flags);
		if (r < 0) {
			error_respond(app, req, rs, app_db_error_status(app), NULL);
			goto out;
		}
	}

	if ((rt->flags & ROUTE_CSRF) && !csrf_ok(app, req)) {
		log_info("csrf check failed for %s %s from %s", http_method_name(req->method), rt->path,
			 req->remote_addr ? req->remote_addr : "-");
		error_csrf(app, req, rs);
		goto out;
	}

	rt->handler(app, req, rs);
	if (!rs->status) {
		log_error("handler for %s %s gave no answer", http_method_name(req->method), rt->path);
		error_respond(app, req, rs, 500, NULL);
	}
out:
	buf_free(&allow);
}
