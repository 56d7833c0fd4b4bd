/* bearer.c: bearer-token API calls shared by the OAuth providers (Google, Outlook): refresh with
 * rotation, one refresh after a 401, bounded retries with Retry-After and jittered back-off.
 * Tokens are never logged: log lines name the provider, method, host/path and status only. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bearer.h"
#include "crypto.h"
#include "log.h"

static void set_error(struct prov_ctx *c, const char *msg)
{
	str_copy(c->error, msg, sizeof(c->error));
}

enum prov_status bearer_init(struct bearer *b, struct prov_ctx *c, const struct bearer_kind *k)
{
	char err[200];
	long ms;

	b->c = c;
	b->k = k;
	if (conf_get_long(b->c->conf, "TF_HTTP_BACKOFF_MS", 1000, 0, 600000, &ms, err, sizeof(err)) < 0) {
		log_warn("%s: %s; using 1000 ms", b->k->tag, err);
		ms = 1000;
	}
	b->backoff_ms = ms;
	memset(&b->refresh_error, 0, sizeof(b->refresh_error));
	if (!json_is_object(b->c->creds)) {
		log_warn("%s: integration %lld has no credentials", b->k->tag, b->c->integration_id);
		set_error(b->c, b->k->msgs.auth);
		return PROV_AUTH;
	}
	return PROV_OK;
}

time_t bearer_now(const struct bearer *b)
{
	time_t t = time(NULL);

	return b->c->now > t ? b->c->now : t;
}

static const char *cred(const struct bearer *b, const char *key)
{
	return json_string_value(json_object_get(b->c->creds, key));
}

enum prov_status bearer_refresh(struct bearer *b)
{
	struct oauth_tokens t;
	struct oauth_error *e = &b->refresh_error;
	const char *rt = cred(b, "refresh_token");
	enum oauth_result r;

	memset(e, 0, sizeof(*e));
	if (!rt || !*rt) {
		log_warn("%s: integration %lld has no refresh token", b->k->tag, b->c->integration_id);
		set_error(b->c, b->k->msgs.auth);
		return PROV_AUTH;
	}
	r = oauth_refresh(&b->ep, rt, bearer_now(b), &b->c->requests, &t, e);
	switch (r) {
	case OAUTH_OK:
		json_object_set_new(b->c->creds, "access_token", json_string(t.access_token));
		/* rotation: the answer's refresh token replaces ours (oauth_refresh keeps ours when none came) */
		json_object_set_new(b->c->creds, "refresh_token", json_string(t.refresh_token));
		json_object_set_new(b->c->creds, "expires_at",
				    json_integer(t.expires_at ? (json_int_t)t.expires_at : (json_int_t)bearer_now(b) + 3600));
		if (t.scope && *t.scope)
			json_object_set_new(b->c->creds, "scope", json_string(t.scope));
		b->c->creds_changed = 1;
		oauth_tokens_free(&t);
		if (b->c->creds_save && b->c->creds_save(b->c) == TF_OK)
			b->c->creds_changed = 0;
		log_info("%s: integration %lld: access token refreshed", b->k->tag, b->c->integration_id);
		return PROV_OK;
	case OAUTH_INVALID_GRANT:
		log_warn("%s: integration %lld: refresh refused (%s): re-consent needed", b->k->tag, b->c->integration_id,
			 e->error);
		set_error(b->c, b->k->msgs.auth);
		return PROV_AUTH;
	case OAUTH_INVALID_CLIENT:
		log_error("%s: the token endpoint refused our client (%s): check the client id and secret", b->k->tag,
			  e->error);
		set_error(b->c, b->k->msgs.config);
		return PROV_ERROR;
	case OAUTH_RETRY:
		set_error(b->c, b->k->msgs.retry);
		return PROV_RETRY;
	default:
		log_warn("%s: integration %lld: refresh failed (%s)", b->k->tag, b->c->integration_id, e->error);
		set_error(b->c, b->k->msgs.error);
		return PROV_ERROR;
	}
}

enum prov_status bearer_ensure_token(struct bearer *b)
{
	json_t *exp = json_object_get(b->c->creds, "expires_at");
	const char *at = cred(b, "access_token");

	if (!at || !*at || !json_is_integer(exp) ||
	    json_integer_value(exp) - BEARER_REFRESH_MARGIN <= (json_int_t)bearer_now(b))
		return bearer_refresh(b);
	return PROV_OK;
}

json_t *bearer_creds_from_tokens(const struct oauth_tokens *t)
{
	return json_pack("{s:s, s:s?, s:I, s:s}", "access_token", t->access_token, "refresh_token",
			 t->refresh_token, "expires_at", (json_int_t)t->expires_at, "scope", t->scope ? t->scope : "");
}

long bearer_retry_after_ms(const char *v)
{
	char *end;
	double d;
	struct tm tm;

	while (*v == ' ')
		v++;
	if (!*v)
		return -1;
	errno = 0;
	d = strtod(v, &end);
	if (end != v && !errno && (*end == '\0' || *end == ' ') && d >= 0 && d < 86400.0 * 365)
		return (long)(d * 1000.0 + 0.5);
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end) {
		time_t at = timegm(&tm), now = time(NULL);

		return at > now ? (long)(at - now) * 1000 : 0;
	}
	return -1;
}

void bearer_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

long bearer_jitter_ms(long base, int attempt)
{
	unsigned long cap = (unsigned long)base << (attempt < 16 ? attempt : 16);
	uint32_t r;

	if (!cap)
		return 0;
	crypto_random(&r, sizeof(r));
	return (long)(r % (cap + 1));
}

enum prov_status bearer_send(struct bearer *b, const char *method, const char *url, const char *const *headers,
			     const char *body, struct http_response *rs)
{
	char err[256], where[512];
	int refreshed = 0;
	enum prov_status ps;

	memset(rs, 0, sizeof(*rs));
	buf_init(&rs->body, 1);
	http_url_for_log(url, where, sizeof(where));
	for (int attempt = 0;; attempt++) {
		struct http_request rq = { 0 };
		long wait;

		if ((ps = bearer_ensure_token(b)) != PROV_OK)
			return ps;
		rq.method = method;
		rq.url = url;
		rq.headers = headers;
		rq.body = body;
		rq.body_len = body ? strlen(body) : 0;
		rq.bearer = cred(b, "access_token");
		rq.timeout = b->ep.timeout;
		rq.max_response = b->k->max_response;
		rq.counter = &b->c->requests;
		http_response_free(rs);
		if (http_do(&rq, rs, err, sizeof(err)) != TF_OK) {
			log_warn("%s: %s %s: %s", b->k->tag, method, where, err);
			rs->status = 0;
		}
		if (rs->status == 401 && !refreshed) {
			refreshed = 1;
			log_info("%s: %s %s: 401, refreshing the access token once", b->k->tag, method, where);
			if ((ps = bearer_refresh(b)) != PROV_OK)
				return ps;
			attempt--;
			continue;
		}
		if (!b->k->retryable(rs) || attempt >= b->k->max_retries)
			return PROV_OK;
		wait = rs->retry_after[0] ? bearer_retry_after_ms(rs->retry_after) : -1;
		if (wait > b->k->max_wait_ms) {
			log_warn("%s: %s %s: HTTP %ld, Retry-After %s s is beyond this run", b->k->tag, method, where,
				 rs->status, rs->retry_after);
			return PROV_OK;
		}
		if (wait < 0)
			wait = bearer_jitter_ms(b->backoff_ms, attempt);
		log_info("%s: %s %s: HTTP %ld, retry %d in %ld ms", b->k->tag, method, where, rs->status, attempt + 1, wait);
		bearer_sleep_ms(wait);
	}
}
