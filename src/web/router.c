/* router.c: the one route table and the one function that enforces it before any handler runs. */
#include "config.h"

#include <string.h>
#include <time.h>

#include "auth.h"
#include "log.h"
#include "web.h"

struct route {
	enum http_method method;
	const char *path;
	route_handler handler;
	unsigned flags;
};

static const struct route routes[] = {
	{ HTTP_GET,  "/",                                 page_root_get,         0 },
	{ HTTP_GET,  "/doctor/login",                     page_login_get,        0 },
	{ HTTP_POST, "/doctor/login",                     page_login_post,       ROUTE_CSRF | ROUTE_DB },
	{ HTTP_POST, "/doctor/logout",                    page_logout_post,      ROUTE_CSRF | ROUTE_DB },
	{ HTTP_GET,  "/doctor/calendar-integrations",     page_integrations_get, ROUTE_LOGIN | ROUTE_DB },
	{ HTTP_GET,  "/api/doctor/calendar-integrations", api_integrations_get,
	  ROUTE_LOGIN | ROUTE_API | ROUTE_DB },
	{ HTTP_GET,  "/healthz",                          health_get,            ROUTE_API },
};

/* Find the route for path and method (HEAD uses GET's). *path_known is set when some route has
 * this path; allow gets its methods ("GET, HEAD, POST"). */
static const struct route *route_find(const char *path, enum http_method m, int *path_known,
				      struct buf *allow)
{
	const struct route *hit = NULL;
	enum http_method want = m == HTTP_HEAD ? HTTP_GET : m;
	size_t i;

	*path_known = 0;
	for (i = 0; i < TF_ARRAY_LEN(routes); i++) {
		if (strcmp(routes[i].path, path) != 0)
			continue;
		*path_known = 1;
		if (routes[i].method == want)
			hit = &routes[i];
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
	rt = route_find(req->path, req->method, &known, &allow);
	if (rt && (rt->flags & ROUTE_API))
		req->api = 1;
	if (!rt) {
		if (known) {
			resp_header(rs, "Allow", allow.data);
			error_respond(app, req, rs, 405, NULL);
		} else {
			error_respond(app, req, rs, 404, NULL);
		}
		goto out;
	}

	st = request_read_body(req, req->read_fn, req->read_ud);
	if (st) {
		error_respond(app, req, rs, st, NULL);
		goto out;
	}

	if (rt->flags & (ROUTE_DB | ROUTE_LOGIN)) {
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

	if ((rt->flags & ROUTE_CSRF) && !csrf_ok(app, req)) {
		log_info("csrf check failed for %s %s from %s", http_method_name(req->method), req->path,
			 req->remote_addr ? req->remote_addr : "-");
		error_csrf(app, req, rs);
		goto out;
	}

	rt->handler(app, req, rs);
	if (!rs->status) {
		log_error("handler for %s %s gave no answer", http_method_name(req->method), req->path);
		error_respond(app, req, rs, 500, NULL);
	}
out:
	buf_free(&allow);
}
