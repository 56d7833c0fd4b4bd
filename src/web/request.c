/* request.c: one HTTP request from CGI variables: method, normalised path, query, cookies, bounded body. */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <fcgiapp.h>

#include "escape.h"
#include "request.h"

static const char *const method_names[HTTP_METHOD_MAX] = {
	[HTTP_GET] = "GET", [HTTP_HEAD] = "HEAD", [HTTP_POST] = "POST", [HTTP_PUT] = "PUT",
	[HTTP_PATCH] = "PATCH", [HTTP_DELETE] = "DELETE", [HTTP_OPTIONS] = "OPTIONS",
	[HTTP_OTHER] = "OTHER",
};

const char *http_method_name(enum http_method m)
{
	return (unsigned)m < HTTP_METHOD_MAX ? method_names[m] : "OTHER";
}

static enum http_method method_parse(const char *s)
{
	unsigned i;

	for (i = 0; s && i < HTTP_OTHER; i++) {
		if (strcmp(s, method_names[i]) == 0)
			return (enum http_method)i;
	}
	return HTTP_OTHER;
}

const char *request_env(const struct request *req, const char *name)
{
	return FCGX_GetParam(name, req->envp);
}

int request_parse_length(const char *s, size_t *out)
{
	size_t v = 0;
	unsigned d;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (SIZE_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int request_normalise_path(const char *in, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0, seg;

	if (len == 0 || in[0] != '/' || len > REQ_MAX_PATH || outlen < 2)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c == 0x7f)
			return -1;   /* NUL and other control bytes */
	}
	i = 0;
	while (i < len) {
		while (i < len && in[i] == '/')
			i++;
		seg = i;
		while (i < len && in[i] != '/')
			i++;
		if (i == seg)
			break;                        /* trailing slashes */
		if (i - seg == 1 && in[seg] == '.')
			continue;                     /* "." segments */
		if (i - seg == 2 && in[seg] == '.' && in[seg + 1] == '.')
			return -1;                    /* ".." is refused, not resolved */
		if (o + 1 + (i - seg) >= outlen)
			return -1;
		out[o++] = '/';
		memcpy(out + o, in + seg, i - seg);
		o += i - seg;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/* The request path: PATH_INFO (decoded by the server), else DOCUMENT_URI (decoded), else
 * REQUEST_URI without its query, percent-decoded here. */
static int path_from_env(struct request *req)
{
	const char *src = request_env(req, "PATH_INFO");
	struct buf dec;
	const char *q;
	int rc = 0;

	if (!src || !*src)
		src = request_env(req, "DOCUMENT_URI");
	if (src && *src)
		return request_normalise_path(src, strlen(src), req->path, sizeof(req->path));
	src = request_env(req, "REQUEST_URI");
	if (!src || !*src)
		return request_normalise_path("/", 1, req->path, sizeof(req->path));
	q = strchr(src, '?');
	buf_init(&dec, REQ_MAX_PATH);
	if (unesc_url(&dec, src, q ? (size_t)(q - src) : strlen(src), 0) < 0 || !dec.data ||
	    strlen(dec.data) != dec.len)
		rc = -1;   /* bad escape, too long, or %00 */
	else
		rc = request_normalise_path(dec.data, dec.len, req->path, sizeof(req->path));
	buf_free(&dec);
	return rc;
}

int request_init(struct request *req, char **envp)
{
	const char *qs, *cl, *ck;

	memset(req, 0, sizeof(*req));
	req->envp = envp;
	buf_init(&req->body, REQ_MAX_BODY_LARGE);
	req->max_body = REQ_MAX_BODY;
	req->method = method_parse(request_env(req, "REQUEST_METHOD"));
	req->authorization = request_env(req, "HTTP_AUTHORIZATION");
	req->content_type = request_env(req, "CONTENT_TYPE");
	req->user_agent = request_env(req, "HTTP_USER_AGENT");
	req->accept = request_env(req, "HTTP_ACCEPT");
	req->remote_addr = request_env(req, "REMOTE_ADDR");
	req->idempotency_key = request_env(req, "HTTP_IDEMPOTENCY_KEY");
	req->goog_channel_id = request_env(req, "HTTP_X_GOOG_CHANNEL_ID");
	req->goog_channel_token = request_env(req, "HTTP_X_GOOG_CHANNEL_TOKEN");
	req->goog_resource_state = request_env(req, "HTTP_X_GOOG_RESOURCE_STATE");
	req->goog_resource_id = request_env(req, "HTTP_X_GOOG_RESOURCE_ID");
	req->goog_message_number = request_env(req, "HTTP_X_GOOG_MESSAGE_NUMBER");

	if (path_from_env(req) < 0) {
		str_copy(req->path, "/", sizeof(req->path));
		return 400;
	}
	req->api = strncmp(req->path, "/api/", 5) == 0 || strcmp(req->path, "/api") == 0;

	ck = request_env(req, "HTTP_COOKIE");
	if (ck && *ck && cookie_parse(ck, &req->cookies) != TF_OK)
		kv_free(&req->cookies);   /* a broken Cookie header counts as no cookies */

	cl = request_env(req, "CONTENT_LENGTH");
	if (cl && *cl) {
		if (request_parse_length(cl, &req->content_length) < 0)
			return 400;
		if (req->content_length > REQ_MAX_BODY_LARGE)
			return 413;   /* over every route's limit (the router applies the route's) */
	}

	qs = request_env(req, "QUERY_STRING");
	if (qs && *qs) {
		if (strlen(qs) > REQ_MAX_QUERY)
			return 400;
		if (form_parse_urlencoded(qs, strlen(qs), &req->query) != TF_OK)
			return 400;
	}
	return 0;
}

/* The media type of CONTENT_TYPE without parameters, compared case-insensitively. */
static int content_type_is(const char *ct, const char *type)
{
	size_t n = strlen(type);

	if (!ct)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return strncasecmp(ct, type, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

int request_read_body(struct request *req, req_read_fn fn, void *ud)
{
	char chunk[8192];
	size_t left = req->content_length;
	enum tf_err rc;
	char err[128];
	long n;

	if (left > req->max_body)
		return 413;
	while (left > 0) {
		n = fn(ud, chunk, left < sizeof(chunk) ? left : sizeof(chunk));
		if (n <= 0)
			return 400;   /* the client sent less than it announced */
		if (buf_append(&req->body, chunk, (size_t)n) < 0)
			return 413;
		left -= (size_t)n;
	}
	if (req->body.len == 0)
		return 0;
	if (content_type_is(req->content_type, "application/x-www-form-urlencoded")) {
		if (form_parse_urlencoded(req->body.data, req->body.len, &req->form) != TF_OK)
			return 400;
		return 0;
	}
	if (content_type_is(req->content_type, "application/json")) {
		req->json = json_body_parse(req->body.data, req->body.len, req->max_body, &rc, err,
					    sizeof(err));
		if (!req->json)
			return rc == TF_ERR_TOOBIG ? 413 : 400;
		return 0;
	}
	return 415;
}

int request_is_form(const struct request *req)
{
	return content_type_is(req->content_type, "application/x-www-form-urlencoded");
}

void request_free(struct request *req)
{
	kv_free(&req->query);
	kv_free(&req->cookies);
	kv_free(&req->form);
	if (req->json)
		json_decref(req->json);
	req->json = NULL;
	buf_free(&req->body);
	memset(req->csrf_cookie, 0, sizeof(req->csrf_cookie));
}

const char *request_field(const struct request *req, const char *name)
{
	if (req->json)
		return json_string_value(json_object_get(req->json, name));
	return kv_get(&req->form, name);
}

const char *request_cookie(const struct request *req, const char *name)
{
	return kv_get(&req->cookies, name);
}

const char *request_bearer(const struct request *req)
{
	const char *a = req->authorization;

	if (!a || strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	return *a ? a : NULL;
}

const char *request_param(const struct request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nparams; i++) {
		if (strcmp(req->params[i].name, name) == 0)
			return req->params[i].value;
	}
	return NULL;
}

long long request_param_id(const struct request *req)
{
	const char *s = request_param(req, "id");
	long long v = 0;

	if (!s || !*s || strlen(s) > 18)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int request_idempotency_key(const struct request *req, const char **key)
{
	const char *k = req->idempotency_key;
	size_t n = 0;

	*key = NULL;
	if (!k)
		return 0;
	for (; k[n]; n++) {
		if ((unsigned char)k[n] < 0x21 || (unsigned char)k[n] > 0x7e)
			return -1;
	}
	if (n == 0 || n > REQ_IDEM_KEY_MAX)
		return -1;
	*key = k;
	return 1;
}

int request_sync_after(struct request *req, long long integration_id, int maintain)
{
	size_t i;

	if (integration_id <= 0)
		return 0;
	for (i = 0; i < req->nafter; i++) {
		if (req->after[i].integration_id == integration_id) {
			req->after[i].maintain |= maintain != 0;
			return 0;
		}
	}
	if (req->nafter >= REQ_AFTER_MAX)
		return -1;
	req->after[req->nafter].integration_id = integration_id;
	req->after[req->nafter].maintain = maintain != 0;
	req->nafter++;
	return 0;
}
