/* response.h: one HTTP answer: status, checked headers, cookies, HTML or JSON body, security headers. */
#ifndef TF_RESPONSE_H
#define TF_RESPONSE_H

#include <stddef.h>

#include <jansson.h>

#include "util.h"

#define RESP_MAX_BODY    (2 * 1024 * 1024)
#define RESP_MAX_HEADERS (16 * 1024)

/* Writes n bytes of p to the client; returns 0 or -1. */
typedef int (*resp_write_fn)(void *ud, const char *p, size_t n);

struct response {
	int status;           /* 0 until a handler answered */
	struct buf headers;   /* "Name: value\r\n" lines */
	struct buf body;
	int head_only;        /* HEAD: headers only */
	char content_type[64];/* empty: text/plain */
	int has_cache;        /* a Cache-Control was set */
	char form_origin[512];/* extra form-action sources, space-separated (resp_csp_form_action), or "" */
};

void resp_init(struct response *rs);
void resp_free(struct response *rs);
/* Drop status, headers and body (keeps head_only): start the answer over. */
void resp_reset(struct response *rs);

/* The reason phrase for a status ("Not Found"). */
const char *http_status_text(int status);

/* Add a header. The name must be a token; the value must pass header_value_ok (no CR/LF/controls).
 * Returns 0, or -1 when refused (logged; nothing added). */
int resp_header(struct response *rs, const char *name, const char *value);
/* Redirect (301/302/303/307/308) to a local path: must start with exactly one '/' (not "//" or
 * "/\"), and no CR/LF/controls. Returns 0, or -1 when the target is refused (rs unchanged). */
int resp_redirect(struct response *rs, int status, const char *location);
/* Redirect (302/303) to an absolute http(s) URL of another site (an OAuth authorization
 * endpoint): scheme http or https, a host, no CR/LF/controls/spaces, at most 4096 bytes.
 * Returns 0, or -1 when refused (rs unchanged). */
int resp_redirect_external(struct response *rs, int status, const char *url);
/* Allow the page's forms to end at origin (its POST answers with a 303 to that site, which
 * browsers check against form-action): origin is the scheme://host[:port] of url (path dropped).
 * The CSP becomes "... form-action 'self' ORIGIN [ORIGIN2 ...]; ...": each call adds one origin
 * (one already listed is not repeated). Returns 0, or -1 when url has no acceptable origin or
 * the list is full (the CSP stays as it was). */
int resp_csp_form_action(struct response *rs, const char *url);

/* Set-Cookie: NAME=VALUE; Path=/; HttpOnly; SameSite=Lax [; Secure][; Max-Age=N].
 * max_age < 0: a browser-session cookie; 0: delete it (empty value, Max-Age=0). The value must be
 * cookie-safe (base64url); returns 0, or -1 when refused. */
int resp_cookie(struct response *rs, const char *name, const char *value, long max_age, int secure);

/* Body setters. The body is replaced; Content-Type and status are set. */
int resp_text(struct response *rs, int status, const char *content_type, const char *text, size_t n);
/* JSON (json_dumps with JSON_ESCAPE_SLASH | JSON_COMPACT); the object is not consumed. */
int resp_json(struct response *rs, int status, json_t *body);

/* Write the whole answer through fn: "Status: N Text", the headers, the security headers every
 * response carries (CSP, nosniff, Referrer-Policy, X-Frame-Options; Cache-Control: no-store unless
 * set), Content-Length, a blank line and, unless head_only, the body. Returns 0 or -1. */
int resp_send(struct response *rs, resp_write_fn fn, void *ud);

#endif
