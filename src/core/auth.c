/* auth.c: doctor authentication: sessions, CSRF tokens, login rate limit, password login, bearer JWTs. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "auth.h"
#include "crypto.h"
#include "doctor.h"
#include "log.h"

#define B64URL_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

int auth_token_syntax_ok(const char *s)
{
	return s && strlen(s) >= 16 && str_only_chars(s, AUTH_TOKEN_MAX - 1, B64URL_CHARS);
}

/* Copy at most max bytes of s (NULL → "") into out[outlen], not splitting a UTF-8 sequence. */
static void cut_copy(char *out, size_t outlen, const char *s, size_t max)
{
	size_t n;

	if (!s)
		s = "";
	n = strlen(s);
	if (n > max)
		n = max;
	if (n >= outlen)
		n = outlen - 1;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;   /* s[n] is a continuation byte: cut before its sequence starts */
	memcpy(out, s, n);
	out[n] = '\0';
}

enum tf_err auth_session_create(struct db *db, long long doctor_id, long ttl, const char *ip,
				const char *user_agent, char *token, size_t toklen)
{
	char hash[65];
	char ipbuf[AUTH_IP_MAX + 1];
	char uabuf[AUTH_USER_AGENT_MAX + 1];
	enum tf_err rc;

	if (toklen < AUTH_TOKEN_MAX || ttl <= 0)
		return TF_ERR_INVALID;
	crypto_random_token(AUTH_TOKEN_BYTES, token, toklen);
	sha256_hex(token, strlen(token), hash);
	cut_copy(ipbuf, sizeof(ipbuf), ip, AUTH_IP_MAX);
	cut_copy(uabuf, sizeof(uabuf), user_agent, AUTH_USER_AGENT_MAX);

	/* Best effort: a failed prune must not stop the login. */
	if (db_exec(db, STMT_SESSION_PRUNE, DB_NOARGS, NULL, NULL) != TF_OK)
		log_warn("auth: pruning expired sessions failed");
	rc = db_exec(db, STMT_SESSION_INSERT,
		     DB_ARGS(DBP_TEXT(hash), DBP_INT(doctor_id), DBP_INT(ttl), DBP_TEXT(ipbuf),
			     DBP_TEXT(uabuf)),
		     NULL, NULL);
	if (rc != TF_OK) {
		memset(token, 0, toklen);
		return TF_ERR_DB;
	}
	return TF_OK;
}

int auth_session_lookup(struct db *db, const char *token, long long *doctor_id)
{
	struct db_rows rows;
	char hash[65];
	long long id;
	int r;

	if (!auth_token_syntax_ok(token))
		return 0;
	sha256_hex(token, strlen(token), hash);
	r = db_query_one(db, STMT_SESSION_LOOKUP, DB_ARGS(DBP_TEXT(hash)), &rows);
	if (r <= 0)
		return r;
	id = db_cell_int(&rows, 0, 0, 0);
	*doctor_id = db_cell_int(&rows, 0, 1, 0);
	if (db_cell_int(&rows, 0, 2, 1) != 0) {
		/* expired: forget it */
		if (db_exec(db, STMT_SESSION_DELETE_ID, DB_ARGS(DBP_INT(id)), NULL, NULL) != TF_OK)
			log_warn("auth: deleting an expired session failed");
		r = 0;
	} else if (db_cell_int(&rows, 0, 3, 0) != 0) {
		if (db_exec(db, STMT_SESSION_TOUCH, DB_ARGS(DBP_INT(id)), NULL, NULL) != TF_OK)
			log_warn("auth: refreshing a session's last_seen_at failed");
	}
	db_rows_free(&rows);
	if (r == 0)
		*doctor_id = 0;
	return r;
}

enum tf_err auth_session_delete(struct db *db, const char *token)
{
	char hash[65];

	if (!auth_token_syntax_ok(token))
		return TF_OK;
	sha256_hex(token, strlen(token), hash);
	return db_exec(db, STMT_SESSION_DELETE_TOKEN, DB_ARGS(DBP_TEXT(hash)), NULL, NULL);
}

void auth_csrf_cookie_new(char *out, size_t outlen)
{
	crypto_random_token(AUTH_TOKEN_BYTES, out, outlen);
}

int auth_csrf_token(const char *secret, const char *cookie, char *out, size_t outlen)
{
	char msg[5 + AUTH_TOKEN_MAX];
	uint8_t mac[32];
	int n;

	if (!secret || !auth_token_syntax_ok(cookie) || outlen < AUTH_TOKEN_MAX)
		return -1;
	n = snprintf(msg, sizeof(msg), "csrf:%s", cookie);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -1;
	hmac_sha256(secret, strlen(secret), msg, (size_t)n, mac);
	if (b64_encode(mac, sizeof(mac), 1, 0, out, outlen) < 0)
		return -1;
	return 0;
}

int auth_csrf_verify(const char *secret, const char *cookie, const char *token)
{
	char want[AUTH_TOKEN_MAX];

	if (!token || auth_csrf_token(secret, cookie, want, sizeof(want)) < 0)
		return 0;
	return ct_streq(want, token);
}

int auth_login_limited(struct db *db, const char *email, const char *ip)
{
	struct db_rows rows;
	long long n;
	int r;

	r = db_query_one(db, STMT_LOGIN_FAILURES_COUNT,
			 DB_ARGS(DBP_TEXT(email), DBP_TEXT(ip ? ip : ""), DBP_INT(AUTH_LOGIN_WINDOW)),
			 &rows);
	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	n = db_cell_int(&rows, 0, 0, 0);
	db_rows_free(&rows);
	return n >= AUTH_LOGIN_MAX_FAILURES;
}

enum tf_err auth_login_record(struct db *db, const char *email, const char *ip, int success)
{
	char ipbuf[AUTH_IP_MAX + 1];
	char embuf[DOCTOR_EMAIL_MAX + 1];

	cut_copy(ipbuf, sizeof(ipbuf), ip, AUTH_IP_MAX);
	cut_copy(embuf, sizeof(embuf), email, DOCTOR_EMAIL_MAX);
	if (db_exec(db, STMT_LOGIN_ATTEMPTS_PRUNE, DB_NOARGS, NULL, NULL) != TF_OK)
		log_warn("auth: pruning old login attempts failed");
	if (success && db_exec(db, STMT_LOGIN_FAILURES_CLEAR,
			       DB_ARGS(DBP_TEXT(embuf), DBP_TEXT(ipbuf)), NULL, NULL) != TF_OK)
		return TF_ERR_DB;
	return db_exec(db, STMT_LOGIN_ATTEMPT_INSERT,
		       DB_ARGS(DBP_TEXT(embuf), DBP_TEXT(ipbuf), DBP_INT(success ? 1 : 0)), NULL, NULL);
}

int auth_login_check(struct db *db, const char *email, const char *password, long long *doctor_id)
{
	char scratch[PASSWORD_HASH_MAX];
	struct doctor d;
	int r, ok;

	*doctor_id = 0;
	if (!email || !password)
		return 0;
	r = doctor_by_email(db, email, &d);
	if (r < 0)
		return -1;
	if (r == 0) {
		/* the same KDF work as a real check (one PBKDF2 at the default count), so the answer
		 * does not tell whether the account exists; no per-process set-up that CGI would pay */
		(void)password_hash(password, 0, scratch, sizeof(scratch));
		memset(scratch, 0, sizeof(scratch));
		return 0;
	}
	ok = password_verify(password, d.password_hash);
	memset(d.password_hash, 0, sizeof(d.password_hash));
	if (!ok)
		return 0;
	*doctor_id = d.id;
	return 1;
}

int auth_bearer_doctor(struct db *db, const char *secret, const char *jwt, time_t now,
		       long long *doctor_id)
{
	struct doctor d;
	json_t *claims;
	const char *sub;
	long id;
	int r = 0;

	*doctor_id = 0;
	if (!secret || !jwt)
		return 0;
	claims = jwt_verify_hs256(secret, jwt, now);
	if (!claims)
		return 0;
	sub = json_string_value(json_object_get(claims, "sub"));
	if (!sub || str_to_long(sub, 1, LONG_MAX, &id) < 0)
		goto out;
	r = doctor_by_id(db, id, &d);
	if (r == 1)
		*doctor_id = d.id;
out:
	json_decref(claims);
	return r;
}
