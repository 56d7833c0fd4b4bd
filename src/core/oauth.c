/* oauth.c: OAuth 2.0 authorization-code flow with PKCE S256: states in the DB, URLs, token endpoint calls.
 *
 * Secrets (codes, verifiers, tokens, the client secret) are never logged: error logs name the
 * endpoint's host/path, the HTTP status and the RFC 6749 error code only. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "crypto.h"
#include "http.h"
#include "log.h"
#include "oauth.h"

static const char *const state_result_names[] = {
	[OAUTH_STATE_OK] = "ok",
	[OAUTH_STATE_UNKNOWN] = "unknown",
	[OAUTH_STATE_EXPIRED] = "expired",
	[OAUTH_STATE_OTHER_DOCTOR] = "other_doctor",
	[OAUTH_STATE_OTHER_SESSION] = "other_session",
	[OAUTH_STATE_OTHER_PROVIDER] = "other_provider",
	[OAUTH_STATE_MALFORMED] = "malformed",
	[OAUTH_STATE_ERROR] = "error",
};

const char *oauth_state_result_name(enum oauth_state_result r)
{
	if ((unsigned)r >= TF_ARRAY_LEN(state_result_names))
		return "unknown";
	return state_result_names[r];
}

static const char *const result_names[] = {
	[OAUTH_OK] = "ok",
	[OAUTH_INVALID_GRANT] = "invalid_grant",
	[OAUTH_INVALID_CLIENT] = "invalid_client",
	[OAUTH_INVALID_REQUEST] = "invalid_request",
	[OAUTH_RETRY] = "retry",
	[OAUTH_ERROR] = "error",
};

const char *oauth_result_name(enum oauth_result r)
{
	if ((unsigned)r >= TF_ARRAY_LEN(result_names))
		return "unknown";
	return result_names[r];
}

void oauth_pkce_challenge(const char *verifier, char out[OAUTH_TOKEN_LEN])
{
	uint8_t h[32];

	sha256(verifier, strlen(verifier), h);
	b64_encode(h, sizeof(h), 1, 0, out, OAUTH_TOKEN_LEN);
}

/* 1 when s is a 43-character base64url token (what we issue for states). */
static int token_ok(const char *s)
{
	return s && strlen(s) == OAUTH_TOKEN_LEN - 1 &&
	       str_only_chars(s, OAUTH_TOKEN_LEN - 1,
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

static int hash_ok(const char *s)
{
	return s && strlen(s) == 64 && str_only_chars(s, 64, "0123456789abcdef");
}

static int provider_ok(const char *p)
{
	return p && (!strcmp(p, "google") || !strcmp(p, "outlook"));
}

static struct fernet_keyring *state_keyring(struct conf *c, char *err, size_t errlen)
{
	const char *keys = conf_get(c, "CALENDAR_ENCRYPTION_KEY");
	struct fernet_keyring *kr;
	char why[200];

	if (!keys || !*keys) {
		err_set(err, errlen, "CALENDAR_ENCRYPTION_KEY is not set");
		return NULL;
	}
	if (!(kr = fernet_keyring_parse(keys, why, sizeof(why))))
		err_set(err, errlen, "CALENDAR_ENCRYPTION_KEY is malformed: %s", why);
	return kr;
}

enum tf_err oauth_state_create(struct db *db, struct conf *c, long long doctor_id, const char *session_hash,
			       const char *provider, time_t now, char state[OAUTH_TOKEN_LEN],
			       char verifier[OAUTH_TOKEN_LEN], char challenge[OAUTH_TOKEN_LEN],
			       char *err, size_t errlen)
{
	struct fernet_keyring *kr = NULL;
	char state_hash[65];
	char *enc = NULL;
	enum tf_err rc = TF_ERR_INVALID;

	state[0] = verifier[0] = challenge[0] = '\0';
	if (doctor_id <= 0 || !hash_ok(session_hash) || !provider_ok(provider)) {
		err_set(err, errlen, "bad doctor, session hash or provider");
		return TF_ERR_INVALID;
	}
	if (!(kr = state_keyring(c, err, errlen)))
		return TF_ERR_CONFIG;
	crypto_random_token(32, state, OAUTH_TOKEN_LEN);
	crypto_random_token(32, verifier, OAUTH_TOKEN_LEN);
	oauth_pkce_challenge(verifier, challenge);
	sha256_hex(state, strlen(state), state_hash);
	if (!(enc = fernet_encrypt_at(kr, verifier, strlen(verifier), (uint64_t)now, NULL))) {
		err_set(err, errlen, "could not encrypt the PKCE verifier");
		rc = TF_ERR_CRYPTO;
		goto out;
	}
	rc = TF_ERR_DB;
	if (db_exec(db, STMT_OAUTH_STATE_PURGE, DB_ARGS(DBP_INT((long long)now)), NULL, NULL) != TF_OK ||
	    db_exec(db, STMT_OAUTH_STATE_INSERT,
		    DB_ARGS(DBP_TEXT(state_hash), DBP_INT(doctor_id), DBP_TEXT(session_hash), DBP_TEXT(provider),
			    DBP_TEXT(enc), DBP_INT((long long)now), DBP_INT((long long)now + OAUTH_STATE_TTL)),
		    NULL, NULL) != TF_OK) {
		err_set(err, errlen, "could not store the OAuth state");
		goto out;
	}
	rc = TF_OK;
out:
	if (rc != TF_OK) {
		explicit_bzero(state, OAUTH_TOKEN_LEN);
		explicit_bzero(verifier, OAUTH_TOKEN_LEN);
		state[0] = verifier[0] = challenge[0] = '\0';
	}
	free(enc);
	fernet_keyring_free(kr);
	return rc;
}

enum oauth_state_result oauth_state_consume(struct db *db, struct conf *c, const char *state, long long doctor_id,
					    const char *session_hash, const char *provider, time_t now,
					    char verifier[OAUTH_TOKEN_LEN])
{
	struct fernet_keyring *kr = NULL;
	struct db_rows r = { 0 };
	char state_hash[65], kerr[256];
	unsigned long long affected = 0;
	enum oauth_state_result res = OAUTH_STATE_ERROR;
	char *plain = NULL;
	size_t plen = 0;
	int in_tx = 0, found;

	verifier[0] = '\0';
	if (!token_ok(state) || !hash_ok(session_hash) || !provider_ok(provider))
		return OAUTH_STATE_MALFORMED;
	if (!(kr = state_keyring(c, kerr, sizeof(kerr)))) {
		log_error("oauth: %s", kerr);
		return OAUTH_STATE_ERROR;
	}
	sha256_hex(state, strlen(state), state_hash);
	if (db_begin(db) != TF_OK)
		goto out;
	in_tx = 1;
	found = db_query_one(db, STMT_OAUTH_STATE_LOCK, DB_ARGS(DBP_TEXT(state_hash)), &r);
	if (found < 0)
		goto out;
	if (found == 0) {
		res = OAUTH_STATE_UNKNOWN;
		goto out;
	}
	/* whatever the checks say, a presented state is used up */
	if (db_exec(db, STMT_OAUTH_STATE_DELETE, DB_ARGS(DBP_INT(db_cell_int(&r, 0, 0, 0))), &affected, NULL) != TF_OK)
		goto out;
	if (affected != 1) {
		res = OAUTH_STATE_UNKNOWN;
		goto out;
	}
	if (db_commit(db) != TF_OK)
		goto out;
	in_tx = 0;

	if (db_cell_int(&r, 0, 1, 0) != doctor_id)
		res = OAUTH_STATE_OTHER_DOCTOR;
	else if (!ct_streq(db_cell(&r, 0, 2) ? db_cell(&r, 0, 2) : "", session_hash))
		res = OAUTH_STATE_OTHER_SESSION;
	else if (strcmp(db_cell(&r, 0, 3) ? db_cell(&r, 0, 3) : "", provider) != 0)
		res = OAUTH_STATE_OTHER_PROVIDER;
	else if (db_cell_int(&r, 0, 5, 0) <= (long long)now)
		res = OAUTH_STATE_EXPIRED;
	else if (!(plain = fernet_decrypt_at(kr, db_cell(&r, 0, 4) ? db_cell(&r, 0, 4) : "", 0, (uint64_t)now,
					     &plen)) || plen != OAUTH_TOKEN_LEN - 1) {
		log_error("oauth: a stored PKCE verifier cannot be decrypted with CALENDAR_ENCRYPTION_KEY");
		res = OAUTH_STATE_ERROR;
	} else {
		memcpy(verifier, plain, plen + 1);
		res = OAUTH_STATE_OK;
	}
out:
	if (in_tx)
		db_rollback(db);
	if (plain) {
		explicit_bzero(plain, plen);
		free(plain);
	}
	db_rows_free(&r);
	fernet_keyring_free(kr);
	return res;
}

int oauth_form_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			if (buf_putc(b, (char)*p) < 0)
				return -1;
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			if (buf_append(b, e, 3) < 0)
				return -1;
		}
	}
	return 0;
}

/* Append "&name=value" (no '&' when first). */
static int put_param(struct buf *b, int *first, const char *name, const char *value)
{
	if (!*first && buf_putc(b, '&') < 0)
		return -1;
	*first = 0;
	if (buf_puts(b, name) < 0 || buf_putc(b, '=') < 0)
		return -1;
	return oauth_form_escape(b, value);
}

int oauth_authorization_url(const struct oauth_endpoints *ep, const char *state, const char *challenge,
			    struct buf *out)
{
	int first = 1;

	if (!ep->auth_uri || !*ep->auth_uri || !ep->client_id || !*ep->client_id || !ep->redirect_uri ||
	    !*ep->redirect_uri || !ep->scopes || !*ep->scopes || !state || !*state || !challenge || !*challenge)
		return -1;
	if (buf_puts(out, ep->auth_uri) < 0 || buf_putc(out, strchr(ep->auth_uri, '?') ? '&' : '?') < 0)
		return -1;
	if (put_param(out, &first, "client_id", ep->client_id) < 0 ||
	    put_param(out, &first, "redirect_uri", ep->redirect_uri) < 0 ||
	    put_param(out, &first, "response_type", "code") < 0 ||
	    put_param(out, &first, "scope", ep->scopes) < 0 ||
	    put_param(out, &first, "state", state) < 0 ||
	    put_param(out, &first, "code_challenge", challenge) < 0 ||
	    put_param(out, &first, "code_challenge_method", "S256") < 0 ||
	    put_param(out, &first, "prompt", ep->prompt && *ep->prompt ? ep->prompt : "consent") < 0)
		return -1;
	if (ep->access_type_offline && put_param(out, &first, "access_type", "offline") < 0)
		return -1;
	if (ep->login_hint && *ep->login_hint && put_param(out, &first, "login_hint", ep->login_hint) < 0)
		return -1;
	return 0;
}

void oauth_tokens_free(struct oauth_tokens *t)
{
	if (!t)
		return;
	if (t->access_token) {
		explicit_bzero(t->access_token, strlen(t->access_token));
		free(t->access_token);
	}
	if (t->refresh_token) {
		explicit_bzero(t->refresh_token, strlen(t->refresh_token));
		free(t->refresh_token);
	}
	free(t->scope);
	memset(t, 0, sizeof(*t));
}

/* A token string: printable ASCII without spaces, 1..OAUTH_MAX_TOKEN bytes (it goes into headers). */
static int token_value_ok(const char *s)
{
	size_t n;

	if (!s || !(n = strlen(s)) || n > OAUTH_MAX_TOKEN)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static enum oauth_result map_error(const char *error)
{
	if (!strcmp(error, "invalid_grant") || !strcmp(error, "interaction_required") ||
	    !strcmp(error, "consent_required") || !strcmp(error, "login_required"))
		return OAUTH_INVALID_GRANT;
	if (!strcmp(error, "invalid_client") || !strcmp(error, "unauthorized_client"))
		return OAUTH_INVALID_CLIENT;
	if (!strcmp(error, "invalid_request") || !strcmp(error, "unsupported_grant_type") ||
	    !strcmp(error, "invalid_scope") || !strcmp(error, "redirect_uri_mismatch"))
		return OAUTH_INVALID_REQUEST;
	if (!strcmp(error, "temporarily_unavailable") || !strcmp(error, "server_error"))
		return OAUTH_RETRY;
	return OAUTH_ERROR;
}

enum oauth_result oauth_parse_token_response(long status, const char *body, size_t len, time_t now,
					     struct oauth_tokens *out, struct oauth_error *e)
{
	json_t *j = NULL, *v;
	enum oauth_result res = OAUTH_ERROR;
	const char *s;

	memset(out, 0, sizeof(*out));
	memset(e, 0, sizeof(*e));
	e->http_status = status;
	if (body && len)
		j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (status != 200) {
		if (json_is_object(j) && (s = json_string_value(json_object_get(j, "error")))) {
			str_copy(e->error, s, sizeof(e->error));
			if ((s = json_string_value(json_object_get(j, "error_description"))))
				str_copy(e->description, s, sizeof(e->description));
			res = map_error(e->error);
		} else {
			str_copy(e->error, "no_error_code", sizeof(e->error));
		}
		if (status == 429 || status >= 500 || status == 0)
			res = OAUTH_RETRY;
		else if (status == 401 && res == OAUTH_ERROR)
			res = OAUTH_INVALID_CLIENT;
		goto out;
	}
	if (!json_is_object(j)) {
		str_copy(e->error, "malformed_response", sizeof(e->error));
		goto out;
	}
	s = json_string_value(json_object_get(j, "token_type"));
	if (!token_value_ok(json_string_value(json_object_get(j, "access_token"))) || !s ||
	    strcasecmp(s, "Bearer") != 0) {
		str_copy(e->error, "malformed_response", sizeof(e->error));
		goto out;
	}
	str_copy(out->token_type, "Bearer", sizeof(out->token_type));
	out->access_token = xstrdup(json_string_value(json_object_get(j, "access_token")));
	v = json_object_get(j, "refresh_token");
	if (v && !json_is_null(v)) {
		if (!token_value_ok(json_string_value(v))) {
			str_copy(e->error, "malformed_response", sizeof(e->error));
			oauth_tokens_free(out);
			goto out;
		}
		out->refresh_token = xstrdup(json_string_value(v));
	}
	s = json_string_value(json_object_get(j, "scope"));
	out->scope = xstrdup(s && strlen(s) <= 4096 ? s : "");
	v = json_object_get(j, "expires_in");
	if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 366LL * 86400)
		out->expires_at = now + (time_t)json_integer_value(v);
	else if (json_is_string(v)) {   /* some servers send it as a string */
		long n;

		if (str_to_long(json_string_value(v), 1, 366L * 86400, &n) == 0)
			out->expires_at = now + n;
	}
	res = OAUTH_OK;
out:
	json_decref(j);
	return res;
}

/* POST the form in body to url; parse with oauth_parse_token_response (or just the status for revoke). */
static enum oauth_result token_post(const struct oauth_endpoints *ep, const char *url, struct buf *body,
				    time_t now, unsigned long *counter, struct oauth_tokens *out,
				    struct oauth_error *e, const char *what)
{
	static const char *const headers[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json",
		NULL,
	};
	struct http_request rq = { 0 };
	struct http_response rs;
	struct oauth_tokens dummy;
	char err[256], where[512];
	enum oauth_result res;

	memset(e, 0, sizeof(*e));
	if (out)
		memset(out, 0, sizeof(*out));
	http_url_for_log(url, where, sizeof(where));
	rq.method = "POST";
	rq.url = url;
	rq.headers = headers;
	rq.body = body->data;
	rq.body_len = body->len;
	rq.timeout = ep->timeout;
	rq.max_response = OAUTH_MAX_RESPONSE;
	rq.counter = counter;
	if (http_do(&rq, &rs, err, sizeof(err)) != TF_OK) {
		log_warn("oauth: %s at %s: %s", what, where, err);
		str_copy(e->error, "network", sizeof(e->error));
		http_response_free(&rs);
		return OAUTH_RETRY;
	}
	res = oauth_parse_token_response(rs.status, rs.body.data, rs.body.len, now, out ? out : &dummy, e);
	if (!out)
		oauth_tokens_free(&dummy);
	if (res != OAUTH_OK && !(res == OAUTH_ERROR && !out && rs.status >= 200 && rs.status < 300))
		log_warn("oauth: %s at %s: HTTP %ld, error %s", what, where, rs.status, e->error);
	http_response_free(&rs);
	return res;
}

static int endpoint_ok(const struct oauth_endpoints *ep)
{
	return ep->token_uri && *ep->token_uri && ep->client_id && *ep->client_id && ep->client_secret &&
	       *ep->client_secret;
}

enum oauth_result oauth_exchange_code(const struct oauth_endpoints *ep, const char *code, const char *verifier,
				      time_t now, unsigned long *counter, struct oauth_tokens *out,
				      struct oauth_error *e)
{
	struct buf b;
	int first = 1;
	enum oauth_result res = OAUTH_INVALID_REQUEST;

	memset(out, 0, sizeof(*out));
	memset(e, 0, sizeof(*e));
	if (!endpoint_ok(ep) || !ep->redirect_uri || !code || !*code || strlen(code) > OAUTH_MAX_TOKEN ||
	    !verifier || !*verifier) {
		str_copy(e->error, "invalid_request", sizeof(e->error));
		return res;
	}
	buf_init(&b, 64 * 1024);
	if (put_param(&b, &first, "grant_type", "authorization_code") < 0 ||
	    put_param(&b, &first, "code", code) < 0 ||
	    put_param(&b, &first, "redirect_uri", ep->redirect_uri) < 0 ||
	    put_param(&b, &first, "client_id", ep->client_id) < 0 ||
	    put_param(&b, &first, "client_secret", ep->client_secret) < 0 ||
	    put_param(&b, &first, "code_verifier", verifier) < 0 ||
	    (ep->scope_on_token && ep->scopes && put_param(&b, &first, "scope", ep->scopes) < 0)) {
		str_copy(e->error, "invalid_request", sizeof(e->error));
		goto out;
	}
	res = token_post(ep, ep->token_uri, &b, now, counter, out, e, "code exchange");
out:
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	return res;
}

enum oauth_result oauth_refresh(const struct oauth_endpoints *ep, const char *refresh_token, time_t now,
				unsigned long *counter, struct oauth_tokens *out, struct oauth_error *e)
{
	struct buf b;
	int first = 1;
	enum oauth_result res = OAUTH_INVALID_REQUEST;

	memset(out, 0, sizeof(*out));
	memset(e, 0, sizeof(*e));
	if (!endpoint_ok(ep) || !token_value_ok(refresh_token)) {
		str_copy(e->error, "invalid_request", sizeof(e->error));
		return res;
	}
	buf_init(&b, 64 * 1024);
	if (put_param(&b, &first, "grant_type", "refresh_token") < 0 ||
	    put_param(&b, &first, "refresh_token", refresh_token) < 0 ||
	    put_param(&b, &first, "client_id", ep->client_id) < 0 ||
	    put_param(&b, &first, "client_secret", ep->client_secret) < 0 ||
	    (ep->scope_on_token && ep->scopes && put_param(&b, &first, "scope", ep->scopes) < 0)) {
		str_copy(e->error, "invalid_request", sizeof(e->error));
		goto out;
	}
	res = token_post(ep, ep->token_uri, &b, now, counter, out, e, "token refresh");
	if (res == OAUTH_OK && !out->refresh_token)
		out->refresh_token = xstrdup(refresh_token);   /* refresh answers usually carry none: keep ours */
out:
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	return res;
}

enum oauth_result oauth_revoke(const struct oauth_endpoints *ep, const char *token, unsigned long *counter,
			       struct oauth_error *e)
{
	struct buf b;
	int first = 1;
	enum oauth_result res = OAUTH_INVALID_REQUEST;

	memset(e, 0, sizeof(*e));
	if (!ep->revoke_uri || !*ep->revoke_uri || !token_value_ok(token)) {
		str_copy(e->error, "invalid_request", sizeof(e->error));
		return res;
	}
	buf_init(&b, 64 * 1024);
	if (put_param(&b, &first, "token", token) < 0) {
		str_copy(e->error, "invalid_request", sizeof(e->error));
		goto out;
	}
	res = token_post(ep, ep->revoke_uri, &b, 0, counter, NULL, e, "revoke");
	/* 200 with any (or no) body is success; already revoked is success too */
	if (e->http_status >= 200 && e->http_status < 300)
		res = OAUTH_OK;
	else if (e->http_status == 400 && !strcmp(e->error, "invalid_token"))
		res = OAUTH_OK;
out:
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	return res;
}

int oauth_scope_has(const char *granted, const char *scope)
{
	size_t n = strlen(scope);
	const char *p = granted;

	if (!granted || !n)
		return 0;
	while (*p) {
		const char *end;

		while (*p == ' ')
			p++;
		end = p;
		while (*end && *end != ' ')
			end++;
		if ((size_t)(end - p) == n && !memcmp(p, scope, n))
			return 1;
		p = end;
	}
	return 0;
}
