/* page.c: what every HTML page shares: the template context (title, doctor, CSRF token) and rendering. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "crypto.h"
#include "doctor.h"
#include "log.h"
#include "template.h"
#include "tztime.h"
#include "web.h"

/* Make sure req has a tf_csrf value: the request's cookie when well-formed, else a new one that
 * this response sets. */
static void csrf_cookie_ensure(struct app *app, struct request *req, struct response *rs)
{
	const char *c;

	if (req->csrf_cookie[0])
		return;
	c = request_cookie(req, COOKIE_CSRF);
	if (auth_token_syntax_ok(c)) {
		str_copy(req->csrf_cookie, c, sizeof(req->csrf_cookie));
		return;
	}
	auth_csrf_cookie_new(req->csrf_cookie, sizeof(req->csrf_cookie));
	req->csrf_cookie_new = 1;
	resp_cookie(rs, COOKIE_CSRF, req->csrf_cookie, -1, app->secure_cookies);
}

json_t *page_context(struct app *app, struct request *req, struct response *rs, const char *title,
		     int with_form)
{
	json_t *ctx = json_object();
	char token[AUTH_TOKEN_MAX];
	struct doctor d;

	json_object_set_new(ctx, "title", json_string(title));
	if (req->doctor_id > 0 && app->db && doctor_by_id(app->db, req->doctor_id, &d) == 1) {
		memset(d.password_hash, 0, sizeof(d.password_hash));
		json_object_set_new(ctx, "doctor", json_pack("{s:s, s:s}", "name", d.name, "email",
							     d.email));
		with_form = 1;   /* the header carries the logout form */
	}
	if (with_form) {
		csrf_cookie_ensure(app, req, rs);
		if (auth_csrf_token(app->secret, req->csrf_cookie, token, sizeof(token)) == 0)
			json_object_set_new(ctx, "csrf_token", json_string(token));
	}
	return ctx;
}

void page_render(struct app *app, struct response *rs, int status, const char *name, json_t *ctx)
{
	char err[256];
	enum tf_err rc;

	err[0] = '\0';
	buf_reset(&rs->body);
	rc = tmpl_render_file(app->tmpl_dir, name, ctx, &rs->body, err, sizeof(err));
	if (rc != TF_OK) {
		log_error("template %s in %s: %s (%s)", name, app->tmpl_dir, tf_strerror(rc), err);
		error_builtin(rs, 500);
		return;
	}
	resp_header(rs, "Content-Type", "text/html; charset=utf-8");
	rs->status = status;
}

void page_root_get(struct app *app, struct request *req, struct response *rs)
{
	resp_redirect(rs, 303, "/doctor/calendar-integrations");
}

void page_date_de(const struct civil *c, char *out, size_t outlen)
{
	static const char *const weekdays[] = { "Montag", "Dienstag", "Mittwoch", "Donnerstag",
						"Freitag", "Samstag", "Sonntag" };
	static const char *const months[] = { "Januar", "Februar", "März", "April", "Mai", "Juni",
					      "Juli", "August", "September", "Oktober", "November",
					      "Dezember" };
	int wd = civil_weekday(c);

	if (wd < 1 || wd > 7 || c->month < 1 || c->month > 12) {
		snprintf(out, outlen, "%04d-%02d-%02d", c->year, c->month, c->day);
		return;
	}
	snprintf(out, outlen, "%s, %d. %s %d", weekdays[wd - 1], c->day, months[c->month - 1], c->year);
}

void page_random_token(char *out, size_t outlen)
{
	crypto_random_token(AUTH_TOKEN_BYTES, out, outlen);
}
