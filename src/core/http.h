/* http.h: one small HTTP client (libcurl easy) for every provider: bounded, counted, never logs secrets. */
#ifndef TF_HTTP_H
#define TF_HTTP_H

#include <stddef.h>

#include "conf.h"
#include "util.h"

#define HTTP_DEFAULT_TIMEOUT   30                  /* seconds (TF_HTTP_TIMEOUT) */
#define HTTP_MAX_RESPONSE      (16 * 1024 * 1024)  /* default response body cap */
#define HTTP_MAX_URL           4096
#define HTTP_MAX_REDIRECTS     10

/* One request. Only http:// and https:// URLs are accepted; https verifies the certificate.
 * headers: NULL-terminated list of "Name: value" lines (a CR or LF in one is refused).
 * Credentials: Basic auth when user is set (sent with the first request, no challenge round),
 * or a bearer token. Redirects (301/302/303/307/308) are followed only when max_redirects > 0:
 * the method and body are kept (303 turns into GET without body), the new URL must keep the
 * scheme or go from http to https, and credentials go along only when the new URL has the same
 * scheme, host and port as the one before, or auth_any_host is set (the caller vouches for the
 * redirecting host, e.g. CalDAV discovery of the user's own server). */
struct http_request {
	const char *method;              /* "GET", "PUT", "PROPFIND", ...; NULL = GET */
	const char *url;
	const char *const *headers;
	const char *body;                /* may be NULL */
	size_t body_len;
	const char *user, *password;     /* Basic auth (user != NULL) */
	const char *bearer;              /* Authorization: Bearer (when set) */
	int max_redirects;               /* 0: a 3xx is returned as it is */
	int auth_any_host;
	long timeout;                    /* seconds, whole request; <= 0: HTTP_DEFAULT_TIMEOUT */
	size_t max_response;             /* body cap; 0: HTTP_MAX_RESPONSE */
	unsigned long *counter;          /* incremented for every request sent (each redirect hop) */
};

/* The answer. Header values are the last seen (www_authenticate: all challenges joined by "\n"). */
struct http_response {
	long status;                     /* 0 when no HTTP answer arrived */
	char url[HTTP_MAX_URL];          /* the URL that answered (after redirects) */
	char etag[512];
	char location[HTTP_MAX_URL];
	char retry_after[64];
	char content_type[256];
	char dav[512];
	char www_authenticate[1024];
	struct buf body;
};

/* Global libcurl initialisation; safe to call many times and from threads (http_do calls it). */
void http_global_init(void);

/* TF_HTTP_TIMEOUT from the configuration (1..600 s, default 30); -1 with err naming it if bad. */
long http_timeout_conf(struct conf *c, char *err, size_t errlen);

/* Perform rq; rs is initialised here and must be freed with http_response_free (also on error).
 * Returns TF_OK when an HTTP answer arrived (any status), TF_ERR_TOOBIG when the body exceeded
 * the cap, TF_ERR_INVALID for a refused URL/header/redirect, TF_ERR_IO for network errors and
 * timeouts (err says which, in English, without credentials or query strings). */
enum tf_err http_do(const struct http_request *rq, struct http_response *rs, char *err, size_t errlen);
void http_response_free(struct http_response *rs);

/* Resolve ref (absolute URL, absolute path or relative) against base into out[outlen] and normalise
 * its percent-encoding (unreserved characters decoded, hex digits upper case). Only http/https
 * results are accepted. Returns 0, or -1 when ref or base cannot be used. */
int http_url_resolve(const char *base, const char *ref, char *out, size_t outlen);

/* Nonzero when a and b have the same scheme, host (case-insensitive) and port (defaults applied). */
int http_same_origin(const char *a, const char *b);

/* The path part of url (with its query, if any) into out; "/" when empty. Returns 0 or -1. */
int http_url_path(const char *url, char *out, size_t outlen);

/* "host/path" of url for logs (no userinfo, no query) into out. */
void http_url_for_log(const char *url, char *out, size_t outlen);

#endif
