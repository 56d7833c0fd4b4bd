/* oauth.h: provider-neutral OAuth 2.0 authorization-code flow with PKCE S256 (Google now, Outlook later). */
#ifndef TF_OAUTH_H
#define TF_OAUTH_H

#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "util.h"

#define OAUTH_STATE_TTL      600    /* seconds a state (and its verifier) is valid */
#define OAUTH_TOKEN_LEN      44     /* 32 random bytes as base64url (43) + NUL: state and verifier */
#define OAUTH_MAX_TOKEN      4096   /* longest access/refresh token accepted from a token endpoint */
#define OAUTH_MAX_RESPONSE   (64 * 1024)

/* One provider's OAuth client. Every string is borrowed. scopes: space-separated. */
struct oauth_endpoints {
	const char *auth_uri, *token_uri, *revoke_uri;
	const char *client_id, *client_secret, *redirect_uri;
	const char *scopes;
	int access_type_offline;   /* add access_type=offline (Google) */
	int scope_on_token;        /* send scope with the code and refresh grants too (Microsoft v2.0) */
	const char *prompt;        /* the authorization request's prompt; NULL = "consent" (Google: only a
				      forced consent returns a new refresh token) */
	long timeout;              /* seconds per request; <= 0: http.c's default */
	const char *login_hint;    /* the account to pre-select (a reconnect), or NULL */
};

/* ---------------------------------------------------------------- PKCE (RFC 7636) */

/* challenge = BASE64URL(SHA-256(verifier)) without padding into out[OAUTH_TOKEN_LEN]. */
void oauth_pkce_challenge(const char *verifier, char out[OAUTH_TOKEN_LEN]);

/* ---------------------------------------------------------------- state storage (oauth_states) */

enum oauth_state_result {
	OAUTH_STATE_OK,
	OAUTH_STATE_UNKNOWN,         /* never issued, or already used (single use: replay lands here) */
	OAUTH_STATE_EXPIRED,         /* older than OAUTH_STATE_TTL */
	OAUTH_STATE_OTHER_DOCTOR,    /* issued to another doctor */
	OAUTH_STATE_OTHER_SESSION,   /* issued to another session of the doctor */
	OAUTH_STATE_OTHER_PROVIDER,  /* issued for another provider */
	OAUTH_STATE_MALFORMED,       /* not a state we could have issued (length, characters) */
	OAUTH_STATE_ERROR            /* database or key error (logged) */
};
const char *oauth_state_result_name(enum oauth_state_result r);

/* A new state for doctor_id's session (session_hash: SHA-256 hex of the tf_session token) and
 * provider ("google" | "outlook"): 256 random bits as base64url into state, a new PKCE verifier
 * into verifier and its S256 challenge into challenge. Stored: SHA-256 of the state, the verifier
 * Fernet-encrypted with CALENDAR_ENCRYPTION_KEY, expiry now + OAUTH_STATE_TTL. Expired states of
 * every doctor are purged first. Returns TF_OK, TF_ERR_INVALID (bad provider/session hash),
 * TF_ERR_CONFIG (key missing or malformed; err names it), TF_ERR_DB. */
enum tf_err oauth_state_create(struct db *db, struct conf *c, long long doctor_id, const char *session_hash,
			       const char *provider, time_t now, char state[OAUTH_TOKEN_LEN],
			       char verifier[OAUTH_TOKEN_LEN], char challenge[OAUTH_TOKEN_LEN],
			       char *err, size_t errlen);

/* Use state once: in one transaction the row is locked, checked against doctor_id, session_hash,
 * provider and now, and deleted (affected rows must be 1) whatever the outcome, so a state
 * presented twice, or by the wrong party, is gone. On OAUTH_STATE_OK the decrypted verifier is in
 * verifier. Nothing about the state or verifier is logged. */
enum oauth_state_result oauth_state_consume(struct db *db, struct conf *c, const char *state, long long doctor_id,
					    const char *session_hash, const char *provider, time_t now,
					    char verifier[OAUTH_TOKEN_LEN]);

/* ---------------------------------------------------------------- authorization URL */

/* Append ep->auth_uri?client_id&redirect_uri&response_type=code&scope&state&code_challenge&
 * code_challenge_method=S256&prompt=(ep->prompt or consent)[&access_type=offline][&login_hint] (every value percent-encoded,
 * spaces in scope as %20) to out. Returns 0, or -1 when a field is missing or out is full. */
int oauth_authorization_url(const struct oauth_endpoints *ep, const char *state, const char *challenge,
			    struct buf *out);

/* ---------------------------------------------------------------- token endpoint */

enum oauth_result {
	OAUTH_OK,
	OAUTH_INVALID_GRANT,     /* code/refresh token refused, or interaction_required / consent_required /
				    login_required (Microsoft): the connection needs a new consent */
	OAUTH_INVALID_CLIENT,    /* client id/secret refused: configuration */
	OAUTH_INVALID_REQUEST,   /* invalid_request, unsupported_grant_type, invalid_scope, redirect_uri_mismatch, ... */
	OAUTH_RETRY,             /* 429, 5xx, network: try again later */
	OAUTH_ERROR              /* anything else (malformed answer, ...) */
};
const char *oauth_result_name(enum oauth_result r);

/* What a token endpoint answered (malloc'd strings; free with oauth_tokens_free). */
struct oauth_tokens {
	char *access_token;
	char *refresh_token;     /* NULL when the answer had none (a refresh keeps the old one) */
	char *scope;             /* granted scopes, space-separated ("" when not sent) */
	char token_type[32];
	time_t expires_at;       /* now + expires_in (0 when not sent) */
};
void oauth_tokens_free(struct oauth_tokens *t);

/* RFC 6749 §5.2 error as received (for logs: never contains tokens). */
struct oauth_error {
	long http_status;
	char error[64];
	char description[256];
};

/* Parse a token endpoint answer (status, body). 200 needs access_token and token_type Bearer;
 * other statuses map error to the enum (429/5xx → OAUTH_RETRY, whatever the body). */
enum oauth_result oauth_parse_token_response(long status, const char *body, size_t len, time_t now,
					     struct oauth_tokens *out, struct oauth_error *e);

/* The authorization-code grant with the PKCE verifier. counter: requests made (may be NULL). */
enum oauth_result oauth_exchange_code(const struct oauth_endpoints *ep, const char *code, const char *verifier,
				      time_t now, unsigned long *counter, struct oauth_tokens *out,
				      struct oauth_error *e);
/* The refresh grant. out->refresh_token is the new one, or a copy of refresh_token when the
 * answer carried none. */
enum oauth_result oauth_refresh(const struct oauth_endpoints *ep, const char *refresh_token, time_t now,
				unsigned long *counter, struct oauth_tokens *out, struct oauth_error *e);
/* Revoke token (refresh or access). A 400 invalid_token (already revoked) counts as OAUTH_OK. */
enum oauth_result oauth_revoke(const struct oauth_endpoints *ep, const char *token, unsigned long *counter,
			       struct oauth_error *e);

/* 1 when the space-separated list granted contains scope exactly, else 0. */
int oauth_scope_has(const char *granted, const char *scope);

/* Append s percent-encoded for application/x-www-form-urlencoded and query strings (unreserved
 * characters kept, everything else %XX, space as %20). Returns 0 or -1 when b is full. */
int oauth_form_escape(struct buf *b, const char *s);

#endif
