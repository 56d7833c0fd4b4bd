/* response.c: one HTTP answer: status, checked headers, cookies, HTML or JSON body, security headers. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "escape.h"
#include "log.h"
#include "response.h"

#define CSP_HEAD "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
		 "form-action 'self'"
#define CSP_TAIL "; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
#define CSP CSP_HEAD CSP_TAIL
#define REDIRECT_EXTERNAL_MAX 4096

static const struct {
	int status;
	const char *text;
} status_texts[] = {
	{ 200, "OK" }, { 201, "Created" }, { 204, "No Content" },
	{ 301, "Moved Permanently" }, { 302, "Found" }, { 303, "See Other" },
	{ 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
	{ 405, "Method Not Allowed" }, { 409, "Conflict" }, { 410, "Gone" }, { 413, "Payload Too Large" },
	{ 415, "Unsupported Media Type" }, { 422, "Unprocessable Content" },
	{ 429, "Too Many Requests" }, { 500, "Internal Server Error" }, { 503, "Service Unavailable" },
};

const char *http_status_text(int status)
{
	size_t i;

	for (i = 0; i < TF_ARRAY_LEN(status_texts); i++) {
		if (status_texts[i].status == status)
			return status_texts[i].text;
	}
	return "Unknown";
}

void resp_init(struct response *rs)
{
	memset(rs, 0, sizeof(*rs));
	buf_init(&rs->headers, RESP_MAX_HEADERS);
	buf_init(&rs->body, RESP_MAX_BODY);
}

void resp_free(struct response *rs)
{
	buf_free(&rs->headers);
	buf_free(&rs->body);
}

void resp_reset(struct response *rs)
{
	buf_reset(&rs->headers);
	buf_reset(&rs->body);
	rs->status = 0;
	rs->content_type[0] = '\0';
	rs->has_cache = 0;
	rs->form_origin[0] = '\0';
}

static int header_name_ok(const char *s)
{
	return str_only_chars(s, 64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");
}

int resp_header(struct response *rs, const char *name, const char *value)
{
	if (!header_name_ok(name) || !value || !header_value_ok(value)) {
		log_warn("response: refused a header %s with an unsafe value",
			 header_name_ok(name) ? name : "(bad name)");
		return -1;
	}
	if (strcasecmp(name, "Content-Type") == 0) {
		if (strlen(value) >= sizeof(rs->content_type))
			return -1;
		str_copy(rs->content_type, value, sizeof(rs->content_type));
		return 0;
	}
	if (buf_printf(&rs->headers, "%s: %s\r\n", name, value) < 0)
		return -1;
	if (strcasecmp(name, "Cache-Control") == 0)
		rs->has_cache = 1;
	return 0;
}

int resp_redirect(struct response *rs, int status, const char *location)
{
	if (!location || location[0] != '/' || location[1] == '/' || location[1] == '\\' ||
	    !header_value_ok(location) || strchr(location, '\r') || strchr(location, '\n')) {
		log_warn("response: refused a redirect to a non-local target");
		return -1;
	}
	if (resp_header(rs, "Location", location) < 0)
		return -1;
	rs->status = status;
	buf_reset(&rs->body);
	return 0;
}

/* The length of url's "scheme://host[:port]" when it is an http(s) URL with a plain host
 * (letters, digits, '.', '-', ':' for the port, or a bracketed IPv6 literal), else 0. */
static size_t url_origin_len(const char *url)
{
	const char *h, *p;

	if (strncmp(url, "https://", 8) == 0)
		h = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		h = url + 7;
	else
		return 0;
	for (p = h; *p && *p != '/' && *p != '?' && *p != '#'; p++) {
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-:[]", *p))
			return 0;
	}
	if (p == h || *h == ':')
		return 0;
	return (size_t)(p - url);
}

int resp_redirect_external(struct response *rs, int status, const char *url)
{
	size_t n = url ? strlen(url) : 0;
	size_t i;

	if (n == 0 || n > REDIRECT_EXTERNAL_MAX || url_origin_len(url) == 0 || !header_value_ok(url)) {
		log_warn("response: refused an external redirect target");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return -1;
	}
	if (resp_header(rs, "Location", url) < 0)
		return -1;
	rs->status = status;
	buf_reset(&rs->body);
	return 0;
}

int resp_csp_form_action(struct response *rs, const char *url)
{
	size_t n = url ? url_origin_len(url) : 0, have = strlen(rs->form_origin);
	const char *p = rs->form_origin, *e;

	if (n == 0)
		return -1;
	while (*p) {                /* already listed: nothing to add */
		e = strchrnul(p, ' ');
		if ((size_t)(e - p) == n && strncasecmp(p, url, n) == 0)
			return 0;
		p = *e ? e + 1 : e;
	}
	if (have + (have ? 1 : 0) + n >= sizeof(rs->form_origin))
		return -1;
	if (have)
		rs->form_origin[have++] = ' ';
	memcpy(rs->form_origin + have, url, n);
	rs->form_origin[have + n] = '\0';
	return 0;
}

int resp_cookie(struct response *rs, const char *name, const char *value, long max_age, int secure)
{
	static const char safe[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
	struct buf line;
	int rc = -1;

	if (!str_only_chars(name, 64, safe) || (max_age != 0 && !str_only_chars(value, 512, safe)))
		return -1;
	buf_init(&line, 1024);
	if (buf_printf(&line, "%s=%s; Path=/; HttpOnly; SameSite=Lax", name,
		       max_age == 0 ? "" : value) < 0)
		goto out;
	if (secure && buf_puts(&line, "; Secure") < 0)
		goto out;
	if (max_age >= 0 && buf_printf(&line, "; Max-Age=%ld", max_age) < 0)
		goto out;
	rc = resp_header(rs, "Set-Cookie", line.data);
out:
	buf_free(&line);
	return rc;
}

int resp_text(struct response *rs, int status, const char *content_type, const char *text, size_t n)
{
	buf_reset(&rs->body);
	if (buf_append(&rs->body, text, n) < 0)
		return -1;
	if (resp_header(rs, "Content-Type", content_type) < 0)
		return -1;
	rs->status = status;
	return 0;
}

int resp_json(struct response *rs, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT | JSON_ESCAPE_SLASH);
	int rc;

	if (!s)
		return -1;
	rc = resp_text(rs, status, "application/json; charset=utf-8", s, strlen(s));
	free(s);
	return rc;
}

int resp_send(struct response *rs, resp_write_fn fn, void *ud)
{
	struct buf head;
	int status = rs->status ? rs->status : 500;
	int rc = -1;

	buf_init(&head, RESP_MAX_HEADERS + 4096);
	if (buf_printf(&head, "Status: %d %s\r\n", status, http_status_text(status)) < 0 ||
	    (rs->headers.len && buf_append(&head, rs->headers.data, rs->headers.len) < 0) ||
	    (rs->form_origin[0] ?
	     buf_printf(&head, "Content-Security-Policy: %s %s%s\r\n", CSP_HEAD, rs->form_origin,
			CSP_TAIL) :
	     buf_puts(&head, "Content-Security-Policy: " CSP "\r\n")) < 0 ||
	    buf_puts(&head, "X-Content-Type-Options: nosniff\r\n"
			    "Referrer-Policy: same-origin\r\n"
			    "X-Frame-Options: DENY\r\n") < 0 ||
	    (!rs->has_cache && buf_puts(&head, "Cache-Control: no-store\r\n") < 0) ||
	    buf_printf(&head, "Content-Type: %s\r\n",
		       rs->content_type[0] ? rs->content_type : "text/plain; charset=utf-8") < 0 ||
	    buf_printf(&head, "Content-Length: %zu\r\n\r\n", rs->body.len) < 0)
		goto out;
	if (fn(ud, head.data, head.len) < 0)
		goto out;
	if (!rs->head_only && rs->body.len && fn(ud, rs->body.data, rs->body.len) < 0)
		goto out;
	rc = 0;
out:
	buf_free(&head);
	return rc;
}
