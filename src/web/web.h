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
};

typedef void (*route_handler)(struct app *app, struct request *req, struct response *rs);

/* Run one request through the route table (router.c). rs is filled; the caller sends it. */
void router_dispatch(struct app *app, struct request *req, struct response *rs);

/* errors.c: an error answer for status: JSON {"error": {"code", "message"}} when req is an API
 * request, else the German error page. message NULL = the status's standard German text.
 * 405 answers should carry their Allow header already. */
void error_respond(struct app *app, struct request *req, struct response *rs, int status,
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

/* handlers */
void page_login_get(struct app *app, struct request *req, struct response *rs);
void page_login_post(struct app *app, struct request *req, struct response *rs);
void page_logout_post(struct app *app, struct request *req, struct response *rs);
void page_root_get(struct app *app, struct request *req, struct response *rs);
void page_integrations_get(struct app *app, struct request *req, struct response *rs);
void api_integrations_get(struct app *app, struct request *req, struct response *rs);
void health_get(struct app *app, struct request *req, struct response *rs);

#define COOKIE_SESSION "tf_session"
#define COOKIE_CSRF    "tf_csrf"

#endif
