/* auth.h: doctor authentication: sessions, CSRF tokens, login rate limit, password login, bearer JWTs. */
#ifndef TF_AUTH_H
#define TF_AUTH_H

#include <stddef.h>
#include <time.h>

#include "db.h"
#include "util.h"

#define AUTH_TOKEN_BYTES          32          /* session and CSRF cookie tokens: 256 random bits */
#define AUTH_TOKEN_MAX            64          /* buffer for a base64url token (43 chars + NUL) */
#define AUTH_SESSION_TTL_DEFAULT  43200L      /* TF_SESSION_TTL default, seconds */
#define AUTH_LOGIN_MAX_FAILURES   5           /* failures per e-mail AND IP ... */
#define AUTH_LOGIN_WINDOW         (15 * 60)   /* ... within this many seconds → limited */
#define AUTH_IP_MAX               45          /* sessions.ip / login_attempts.ip */
#define AUTH_USER_AGENT_MAX       255         /* sessions.user_agent (longer ones are cut) */

/* 1 when s looks like one of our tokens (base64url, 16..AUTH_TOKEN_MAX-1 chars), else 0.
 * Cookies failing this are treated as absent before they reach the database or the HMAC. */
int auth_token_syntax_ok(const char *s);

/* Create a session for doctor_id that expires ttl seconds from now. A fresh 256-bit token is
 * written to token[toklen] (base64url; the cookie value); only its SHA-256 hex is stored, together
 * with ip and user_agent (either may be NULL; both are cut to their column sizes). Expired sessions
 * are pruned on the way. Returns TF_OK, TF_ERR_INVALID (toklen too small, ttl <= 0) or TF_ERR_DB. */
enum tf_err auth_session_create(struct db *db, long long doctor_id, long ttl, const char *ip,
				const char *user_agent, char *token, size_t toklen);

/* Look up a session by its cookie token (by hash, so timing reveals nothing about stored tokens).
 * Returns 1 with *doctor_id set when valid, 0 when unknown, malformed or expired (an expired row is
 * deleted), -1 on a database error. last_seen_at is refreshed at most every five minutes. */
int auth_session_lookup(struct db *db, const char *token, long long *doctor_id);

/* Delete the session with this cookie token (none is fine). TF_OK or TF_ERR_DB. */
enum tf_err auth_session_delete(struct db *db, const char *token);

/* A new random value for the tf_csrf cookie into out[outlen] (outlen >= AUTH_TOKEN_MAX). */
void auth_csrf_cookie_new(char *out, size_t outlen);
/* The form token for a tf_csrf cookie value: base64url(HMAC-SHA256(secret, "csrf:" + cookie)),
 * unpadded, into out[outlen] (>= AUTH_TOKEN_MAX). Returns 0, or -1 when the cookie is malformed. */
int auth_csrf_token(const char *secret, const char *cookie, char *out, size_t outlen);
/* 1 when token is the form token for cookie (constant-time compare), 0 otherwise (also when
 * either is NULL or malformed). */
int auth_csrf_verify(const char *secret, const char *cookie, const char *token);

/* Login rate limit: 1 when email+ip had AUTH_LOGIN_MAX_FAILURES or more failed attempts in the
 * last AUTH_LOGIN_WINDOW seconds, 0 when not, -1 on a database error. */
int auth_login_limited(struct db *db, const char *email, const char *ip);
/* Record one attempt. A success clears the failures of that email+ip; rows older than a day are
 * pruned. TF_OK or TF_ERR_DB. */
enum tf_err auth_login_record(struct db *db, const char *email, const char *ip, int success);

/* Check an e-mail and password: 1 with *doctor_id set when they match a doctor, 0 when not,
 * -1 on a database error. The password KDF runs even for an unknown e-mail, so the answer takes
 * about as long either way. */
int auth_login_check(struct db *db, const char *email, const char *password, long long *doctor_id);

/* A bearer token (HS256 JWT signed with secret, sub = doctor id as a string): 1 with *doctor_id
 * set when the signature and expiry are good and the doctor exists, 0 when the token is refused,
 * -1 on a database error. */
int auth_bearer_doctor(struct db *db, const char *secret, const char *jwt, time_t now,
		       long long *doctor_id);

#endif
