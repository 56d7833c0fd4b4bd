/* page-auth.c: the doctor's login page, the login form's POST (rate-limited) and logout. */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "auth.h"
#include "doctor.h"
#include "log.h"
#include "web.h"

#define MSG_MISSING   "Bitte geben Sie E-Mail-Adresse und Passwort ein."
#define MSG_WRONG     "E-Mail-Adresse oder Passwort ist falsch."
#define MSG_LIMITED   "Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie 15 Minuten " \
		      "und versuchen Sie es dann erneut."

/* The login page with an optional error message and the e-mail typed before. */
static void login_page(struct app *app, struct request *req, struct response *rs, int status,
		       const char *error, const char *email)
{
	json_t *ctx = page_context(app, req, rs, "Anmeldung", 1);

	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	if (email)
		json_object_set_new(ctx, "email", json_string(email));
	page_render(app, rs, status, "login", ctx);
	json_decref(ctx);
}

void page_login_get(struct app *app, struct request *req, struct response *rs)
{
	login_page(app, req, rs, 200, NULL, NULL);
}

/* Trim spaces and lower-case ASCII letters of s into out[outlen]; -1 when it does not fit. */
static int email_normalise(const char *s, char *out, size_t outlen)
{
	size_t n, i;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= outlen)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	return 0;
}

void page_login_post(struct app *app, struct request *req, struct response *rs)
{
	const char *email = request_field(req, "email");
	const char *password = request_field(req, "password");
	const char *ip = req->remote_addr ? req->remote_addr : "";
	char em[DOCTOR_EMAIL_MAX + 1];
	char token[AUTH_TOKEN_MAX];
	struct db *db = app_db(app);
	long long id = 0;
	int r;

	if (!email || !password || !*password || email_normalise(email, em, sizeof(em)) < 0 || !*em) {
		if (email && *email && password && *password) {
			/* an over-long e-mail cannot belong to an account */
			login_page(app, req, rs, 401, MSG_WRONG, NULL);
			return;
		}
		login_page(app, req, rs, 400, MSG_MISSING, email && strlen(email) <= DOCTOR_EMAIL_MAX ?
			   email : NULL);
		return;
	}
	if (strlen(password) > DOCTOR_PASSWORD_MAX) {
		login_page(app, req, rs, 401, MSG_WRONG, em);
		return;
	}

	r = auth_login_limited(db, em, ip);
	if (r < 0)
		goto fail;
	if (r > 0) {
		log_info("login: rate limit for %s from %s", em, ip);
		login_page(app, req, rs, 429, MSG_LIMITED, em);
		return;
	}

	r = auth_login_check(db, em, password, &id);
	if (r < 0)
		goto fail;
	if (r == 0) {
		log_info("login: failed for %s from %s", em, ip);
		if (auth_login_record(db, em, ip, 0) != TF_OK)
			goto fail;
		login_page(app, req, rs, 401, MSG_WRONG, em);
		return;
	}

	if (auth_login_record(db, em, ip, 1) != TF_OK ||
	    auth_session_create(db, id, app->session_ttl, ip, req->user_agent, token,
				sizeof(token)) != TF_OK)
		goto fail;
	log_info("login: doctor %lld from %s", id, ip);
	resp_cookie(rs, COOKIE_SESSION, token, app->session_ttl, app->secure_cookies);
	memset(token, 0, sizeof(token));
	resp_redirect(rs, 303, "/doctor/calendar-integrations");
	return;
fail:
	error_respond(app, req, rs, app_db_error_status(app), NULL);
}

void page_logout_post(struct app *app, struct request *req, struct response *rs)
{
	const char *token = request_cookie(req, COOKIE_SESSION);

	if (token && auth_session_delete(app_db(app), token) != TF_OK) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	if (token)
		resp_cookie(rs, COOKIE_SESSION, "", 0, app->secure_cookies);
	resp_redirect(rs, 303, "/doctor/login");
}
