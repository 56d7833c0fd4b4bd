/* bearer.h: the API-call machinery every OAuth provider shares: token refresh with rotation, one
 * refresh after a 401, bounded retries honouring Retry-After (fractional seconds) with jittered back-off. */
#ifndef TF_BEARER_H
#define TF_BEARER_H

#include <stddef.h>

#include "http.h"
#include "oauth.h"
#include "provider.h"

#define BEARER_REFRESH_MARGIN 60      /* refresh when the access token expires within this many seconds */

/* The German texts a provider shows for the outcomes bearer_refresh maps. */
struct bearer_msgs {
	const char *auth;     /* re-consent needed */
	const char *config;   /* our client was refused (configuration) */
	const char *retry;    /* transient */
	const char *error;    /* anything else */
};

/* What a provider's calls are like (one static table per provider). */
struct bearer_kind {
	const char *tag;                  /* log prefix: "google", "outlook" */
	struct bearer_msgs msgs;
	int max_retries;                  /* retries after a transient answer (attempts = max_retries + 1) */
	long max_wait_ms;                 /* a longer Retry-After ends the call at once */
	size_t max_response;
	/* 1 when the answer (status 0 = none arrived) is transient and worth another attempt */
	int (*retryable)(const struct http_response *rs);
};

/* One provider's calls for one prov_ctx. c->creds holds {"access_token", "refresh_token",
 * "expires_at" (Unix seconds), "scope"}. */
struct bearer {
	struct prov_ctx *c;
	const struct bearer_kind *k;
	struct oauth_endpoints ep;        /* filled by the provider (its *_endpoints function) */
	long backoff_ms;                  /* TF_HTTP_BACKOFF_MS (default 1000) */
	struct oauth_error refresh_error; /* the token endpoint's error of the last failed refresh */
};

/* Binds b (whose ep the provider has filled) to c and k, reads TF_HTTP_BACKOFF_MS and checks that
 * c->creds is an object (PROV_AUTH with k->msgs.auth otherwise). */
enum prov_status bearer_init(struct bearer *b, struct prov_ctx *c, const struct bearer_kind *k);

/* The larger of c->now and the clock. */
time_t bearer_now(const struct bearer *b);

/* The refresh grant with c->creds' refresh token. On success the access token, expiry, scope and
 * the refresh token the endpoint returned (rotation: the new one replaces the old, which is never
 * sent again; kept when none came back) are set in c->creds and c->creds_changed = 1.
 * invalid_grant (and interaction_required & co., see oauth.c) → PROV_AUTH, invalid_client →
 * PROV_ERROR (config), 429/5xx/network → PROV_RETRY; c->error set from msgs; b->refresh_error says why. */
enum prov_status bearer_refresh(struct bearer *b);

/* bearer_refresh when the access token is missing or expires within BEARER_REFRESH_MARGIN. */
enum prov_status bearer_ensure_token(struct bearer *b);

/* Send one request with the bearer token: refreshes first when due, once more after a 401, and
 * retries transient answers (b->retryable) at most b->max_retries times, waiting Retry-After
 * (delta-seconds with decimals, or an HTTP-date) when sent, else full-jitter back-off in
 * [0, backoff_ms * 2^attempt]. headers: NULL-terminated extra lines (Authorization is added).
 * rs is initialised here (free it, also on failure). Returns PROV_OK when the last answer is in
 * rs (any status; 0 = no answer) for the caller to map, or the failure of a token refresh. */
enum prov_status bearer_send(struct bearer *b, const char *method, const char *url, const char *const *headers,
			     const char *body, struct http_response *rs);

/* The credentials JSON of a token answer: {"access_token", "refresh_token" (when sent),
 * "expires_at", "scope"} (caller decrefs). */
json_t *bearer_creds_from_tokens(const struct oauth_tokens *t);

/* Retry-After in ms (-1 when absent or unreadable): delta-seconds (decimals allowed) or HTTP-date. */
long bearer_retry_after_ms(const char *v);
/* Random in [0, base * 2^attempt] ms. */
long bearer_jitter_ms(long base, int attempt);
void bearer_sleep_ms(long ms);

#endif
