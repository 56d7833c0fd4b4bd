/* request.h: one HTTP request from CGI variables: method, normalised path, query, cookies, bounded body. */
#ifndef TF_REQUEST_H
#define TF_REQUEST_H

#include <stddef.h>

#include <jansson.h>

#include "auth.h"
#include "form.h"
#include "util.h"

#define REQ_MAX_PATH   2048           /* bytes in the (decoded) path */
#define REQ_MAX_QUERY  8192           /* bytes in QUERY_STRING */
#define REQ_MAX_BODY   (64 * 1024)    /* bytes in a request body; more → 413 unread */
#define REQ_MAX_BODY_LARGE (1024 * 1024) /* the same for routes flagged ROUTE_LARGE_BODY (Graph's
					    notification batches); nginx.conf.example's client_max_body_size */
#define REQ_MAX_PARAMS 2              /* path parameters of one route ("/x/{id}/y") */
#define REQ_PARAM_MAX  64             /* bytes in one path parameter's value */
#define REQ_IDEM_KEY_MAX 255          /* Idempotency-Key: 1..255 visible ASCII characters */

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
	HTTP_OPTIONS,
	HTTP_OTHER,
	HTTP_METHOD_MAX
};
const char *http_method_name(enum http_method m);

#define REQ_AFTER_MAX 16              /* connections one request may sync after its answer */

/* A connection to sync after the answer (request_sync_after). */
struct req_after {
	long long integration_id;
	int maintain;                 /* renew/recreate its push channels first */
};

/* A path parameter of the matched route, already checked against its allowlist by the router. */
struct req_param {
	const char *name;             /* "slug", "id", "token" (static) */
	char value[REQ_PARAM_MAX + 1];
};

/* Reads up to n body bytes into p; returns the count (0 at end of input) or -1 on an error. */
typedef long (*req_read_fn)(void *ud, char *p, size_t n);

struct request {
	char **envp;                  /* the CGI variables (not owned) */
	req_read_fn read_fn;          /* the body's source (set by the caller after request_init) */
	void *read_ud;
	enum http_method method;
	char path[REQ_MAX_PATH + 1];  /* decoded, normalised: starts with '/', no "//", no trailing '/' */
	int api;                      /* JSON answers: path under /api/ or an API route */
	struct kvlist query;
	struct kvlist cookies;
	struct kvlist form;           /* urlencoded body */
	json_t *json;                 /* JSON body (object) or NULL */
	const char *authorization;    /* HTTP_AUTHORIZATION */
	const char *content_type;
	const char *user_agent;
	const char *accept;
	const char *remote_addr;
	const char *idempotency_key;  /* HTTP_IDEMPOTENCY_KEY (unchecked; see request_idempotency_key) */
	size_t content_length;
	size_t max_body;              /* REQ_MAX_BODY, or REQ_MAX_BODY_LARGE (set by the router) */
	struct buf body;

	/* set by the router */
	long long doctor_id;          /* > 0 once authenticated */
	int via_bearer;               /* authenticated by an Authorization: Bearer token */
	const char *session_token;    /* the valid tf_session cookie (points into cookies) */
	char csrf_cookie[AUTH_TOKEN_MAX];
	int csrf_cookie_new;          /* csrf_cookie was made for this response: send Set-Cookie */
	struct req_param params[REQ_MAX_PARAMS];
	size_t nparams;
	const char *route;            /* the matched route's pattern ("/termin/absage/{token}"): what
					 logs show instead of the path, which may carry a secret token */

	/* set by a handler: after the answer is out, send the queued mails of this appointment */
	long long mail_after;
	/* set by a handler (request_sync_after): after the answer is out, sync these calendar
	 * connections (webhooks), each after renewing its channels when maintain is set */
	struct req_after after[REQ_AFTER_MAX];
	size_t nafter;

	/* Google push notification headers (X-Goog-Channel-ID, -Channel-Token, -Resource-State,
	 * -Resource-ID, -Message-Number), NULL when absent; unchecked (webhook-google.c checks) */
	const char *goog_channel_id;
	const char *goog_channel_token;
	const char *goog_resource_state;
	const char *goog_resource_id;
	const char *goog_message_number;
};

/* After the answer: sync connection integration_id (a webhook); maintain: renew or recreate its push
 * channels first (channels_maintain; a lifecycle event). A connection named twice is synced once
 * (maintain if either asked). Returns 0, or -1 when REQ_AFTER_MAX connections are queued already
 * (that one is left to the next tf-sync run). */
int request_sync_after(struct request *req, long long integration_id, int maintain);

/* Parse the CGI variables in envp (not copied; must outlive req). Returns 0, or the HTTP status
 * to answer with: 400 (bad path, query or Content-Length), 413 (Content-Length over
 * REQ_MAX_BODY_LARGE; nothing is read). req is always initialised and must be freed with request_free. */
int request_init(struct request *req, char **envp);
/* Read CONTENT_LENGTH body bytes through fn (req->read_fn) and decode them by content type (urlencoded → form,
 * application/json → json). Returns 0, or 400 (short or malformed body), 413 (over req->max_body:
 * nothing is read), 415 (other type). */
int request_read_body(struct request *req, req_read_fn fn, void *ud);
void request_free(struct request *req);
/* Nonzero when the body's type is application/x-www-form-urlencoded (a browser's form). */
int request_is_form(const struct request *req);

/* A CGI variable, or NULL. */
const char *request_env(const struct request *req, const char *name);
/* A body field: the urlencoded form's value, or a JSON body's string member; NULL when absent. */
const char *request_field(const struct request *req, const char *name);
const char *request_cookie(const struct request *req, const char *name);
/* The token of "Authorization: Bearer TOKEN", or NULL. */
const char *request_bearer(const struct request *req);
/* A path parameter set by the router, or NULL. */
const char *request_param(const struct request *req, const char *name);
/* The {id} path parameter as a number (the router allows 1..18 digits), or -1 when absent. */
long long request_param_id(const struct request *req);
/* The Idempotency-Key header: 0 absent (*key NULL), 1 present and valid (1..REQ_IDEM_KEY_MAX
 * visible ASCII characters), -1 present but malformed. */
int request_idempotency_key(const struct request *req, const char **key);

/* Exposed for tests: normalise a decoded path into out[outlen]. Returns 0, or -1 when it is
 * refused (empty, not starting with '/', control bytes or NUL, a ".." segment, too long). */
int request_normalise_path(const char *in, size_t len, char *out, size_t outlen);
/* Exposed for tests: strict Content-Length: digits only, fits size_t. 0 ok, -1 malformed. */
int request_parse_length(const char *s, size_t *out);

#endif
