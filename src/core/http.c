/* http.c: the HTTP client of all providers on libcurl's easy interface (see http.h for the rules). */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void http_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_global_init(void)
{
	pthread_once(&http_once, http_init_once);
}

long http_timeout_conf(struct conf *c, char *err, size_t errlen)
{
	long t;

	if (conf_get_long(c, "TF_HTTP_TIMEOUT", HTTP_DEFAULT_TIMEOUT, 1, 600, &t, err, errlen) < 0)
		return -1;
	return t;
}

/* ------------------------------------------------------------------ URLs */

static int url_parts(const char *url, char *scheme, size_t slen, char *host, size_t hlen, long *port)
{
	CURLU *u = curl_url();
	char *s = NULL, *h = NULL, *p = NULL;
	int rc = -1;

	if (!u)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_USER, &s, 0) == CURLUE_OK)
		goto out;              /* credentials never travel inside URLs */
	if (curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	if (scheme)
		str_copy(scheme, s, slen);
	if (host)
		str_copy(host, h, hlen);
	if (port && str_to_long(p, 1, 65535, port) < 0)
		goto out;
	rc = 0;
out:
	curl_free(s);
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

static int scheme_ok(const char *scheme)
{
	return !strcasecmp(scheme, "http") || !strcasecmp(scheme, "https");
}

int http_same_origin(const char *a, const char *b)
{
	char sa[16], sb[16], ha[256], hb[256];
	long pa, pb;

	if (!a || !b || url_parts(a, sa, sizeof(sa), ha, sizeof(ha), &pa) < 0 ||
	    url_parts(b, sb, sizeof(sb), hb, sizeof(hb), &pb) < 0)
		return 0;
	return !strcasecmp(sa, sb) && !strcasecmp(ha, hb) && pa == pb;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX of unreserved characters, upper-case the others' hex digits. */
static int pct_normalise(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; in[i]; i++) {
		char c = in[i];
		if (c == '%' && hexval((unsigned char)in[i + 1]) >= 0 && hexval((unsigned char)in[i + 2]) >= 0) {
			int v = hexval((unsigned char)in[i + 1]) * 16 + hexval((unsigned char)in[i + 2]);
			if (isalnum(v) || v == '-' || v == '.' || v == '_' || v == '~') {
				c = (char)v;
				i += 2;
			} else {
				if (o + 3 >= outlen)
					return -1;
				out[o++] = '%';
				out[o++] = (char)toupper((unsigned char)in[i + 1]);
				out[o++] = (char)toupper((unsigned char)in[i + 2]);
				i += 2;
				continue;
			}
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	return 0;
}

int http_url_resolve(const char *base, const char *ref, char *out, size_t outlen)
{
	CURLU *u = curl_url();
	char *res = NULL, *user = NULL, *scheme = NULL;
	int rc = -1;

	if (!u || !ref || strlen(ref) >= HTTP_MAX_URL || (base && strlen(base) >= HTTP_MAX_URL))
		goto out;
	for (const char *p = ref; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			goto out;
	if (base && curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		goto out;              /* no credentials inside URLs */
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme_ok(scheme))
		goto out;
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &res, 0) != CURLUE_OK)
		goto out;
	if (pct_normalise(res, out, outlen) < 0)
		goto out;
	rc = 0;
out:
	curl_free(res);
	curl_free(user);
	curl_free(scheme);
	if (u)
		curl_url_cleanup(u);
	return rc;
}

int http_url_path(const char *url, char *out, size_t outlen)
{
	CURLU *u = curl_url();
	char *path = NULL, *query = NULL;
	int rc = -1;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK)
		query = NULL;
	if (snprintf(out, outlen, "%s%s%s", *path ? path : "/", query ? "?" : "",
		     query ? query : "") >= (int)outlen)
		goto out;
	rc = 0;
out:
	curl_free(path);
	curl_free(query);
	if (u)
		curl_url_cleanup(u);
	return rc;
}

void http_url_for_log(const char *url, char *out, size_t outlen)
{
	CURLU *u = curl_url();
	char *host = NULL, *path = NULL, *port = NULL;

	str_copy(out, "(bad url)", outlen);
	if (!u || !url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	snprintf(out, outlen, "%s%s%s%s", host, port ? ":" : "", port ? port : "", path);
out:
	curl_free(host);
	curl_free(path);
	curl_free(port);
	if (u)
		curl_url_cleanup(u);
}

/* ------------------------------------------------------------------ one request */

struct xfer {
	struct http_response *rs;
	int toobig;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;

	if (buf_append(&x->rs->body, p, len) < 0) {
		x->toobig = 1;
		return 0;
	}
	return len;
}

static void header_value(char *dst, size_t dstlen, const char *v, size_t vlen, int append)
{
	size_t have = append ? strlen(dst) : 0;

	if (append && have && have + 1 < dstlen)
		dst[have++] = '\n';
	if (have >= dstlen)
		return;
	if (vlen > dstlen - have - 1)
		vlen = dstlen - have - 1;
	memcpy(dst + have, v, vlen);
	dst[have + vlen] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	struct http_response *rs = x->rs;
	size_t len = size * n, nl;
	const char *colon, *v;

	if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
		/* a new response (after 100 Continue, or a redirect hop): forget the last one's headers */
		rs->etag[0] = rs->location[0] = rs->retry_after[0] = '\0';
		rs->content_type[0] = rs->dav[0] = rs->www_authenticate[0] = '\0';
		return len;
	}
	colon = memchr(p, ':', len);
	if (!colon)
		return len;
	nl = (size_t)(colon - p);
	v = colon + 1;
	while (v < p + len && (*v == ' ' || *v == '\t'))
		v++;
	size_t vlen = (size_t)(p + len - v);
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
#define HDR_IS(name) (nl == sizeof(name) - 1 && !strncasecmp(p, name, nl))
	if (HDR_IS("etag"))
		header_value(rs->etag, sizeof(rs->etag), v, vlen, 0);
	else if (HDR_IS("location"))
		header_value(rs->location, sizeof(rs->location), v, vlen, 0);
	else if (HDR_IS("retry-after"))
		header_value(rs->retry_after, sizeof(rs->retry_after), v, vlen, 0);
	else if (HDR_IS("content-type"))
		header_value(rs->content_type, sizeof(rs->content_type), v, vlen, 0);
	else if (HDR_IS("dav"))
		header_value(rs->dav, sizeof(rs->dav), v, vlen, rs->dav[0] != '\0');
	else if (HDR_IS("www-authenticate"))
		header_value(rs->www_authenticate, sizeof(rs->www_authenticate), v, vlen,
			     rs->www_authenticate[0] != '\0');
#undef HDR_IS
	return len;
}

static int method_ok(const char *m)
{
	if (!*m || strlen(m) > 16)
		return 0;
	for (; *m; m++)
		if (!isupper((unsigned char)*m))
			return 0;
	return 1;
}

static int is_redirect(long st)
{
	return st == 301 || st == 302 || st == 303 || st == 307 || st == 308;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

enum tf_err http_do(const struct http_request *rq, struct http_response *rs, char *err, size_t errlen)
{
	char url[HTTP_MAX_URL], next[HTTP_MAX_URL], scheme[16], nscheme[16], where[512];
	const char *method = rq->method ? rq->method : "GET";
	const char *body = rq->body;
	size_t body_len = rq->body_len;
	long timeout = rq->timeout > 0 ? rq->timeout : HTTP_DEFAULT_TIMEOUT;
	int send_auth = rq->user != NULL;
	struct curl_slist *hdrs = NULL;
	struct xfer x = { .rs = rs };
	enum tf_err rc = TF_ERR_INVALID;
	CURL *h = NULL;

	memset(rs, 0, sizeof(*rs));
	buf_init(&rs->body, rq->max_response ? rq->max_response : HTTP_MAX_RESPONSE);
	http_global_init();

	if (!rq->url || str_copy(url, rq->url, sizeof(url)) >= sizeof(url)) {
		err_set(err, errlen, "URL missing or too long");
		goto out;
	}
	if (!method_ok(method)) {
		err_set(err, errlen, "bad HTTP method");
		goto out;
	}
	for (const char *const *hp = rq->headers; hp && *hp; hp++) {
		if (strpbrk(*hp, "\r\n") || !strchr(*hp, ':')) {
			err_set(err, errlen, "bad request header");
			goto out;
		}
		hdrs = curl_slist_append(hdrs, *hp);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (rq->bearer) {
		struct buf a;
		buf_init(&a, 8192);
		if (strpbrk(rq->bearer, "\r\n") || buf_printf(&a, "Authorization: Bearer %s", rq->bearer) < 0) {
			buf_free(&a);
			err_set(err, errlen, "bad bearer token");
			goto out;
		}
		hdrs = curl_slist_append(hdrs, a.data);
		buf_free(&a);
	}
	if (!hdrs) {
		rc = TF_ERR_NOMEM;
		err_set(err, errlen, "out of memory");
		goto out;
	}
	h = curl_easy_init();
	if (!h) {
		rc = TF_ERR_NOMEM;
		err_set(err, errlen, "curl_easy_init failed");
		goto out;
	}

	for (int hop = 0;; hop++) {
		struct timespec t0;
		char errbuf[CURL_ERROR_SIZE] = "";
		CURLcode cc;

		http_url_for_log(url, where, sizeof(where));
		if (url_parts(url, scheme, sizeof(scheme), NULL, 0, NULL) < 0 || !scheme_ok(scheme)) {
			err_set(err, errlen, "refused URL %s (only http and https)", where);
			rc = TF_ERR_INVALID;
			goto out;
		}
		curl_easy_reset(h);
		buf_reset(&rs->body);
		x.toobig = 0;
		rs->status = 0;
		curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
		curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout < 15 ? timeout : 15L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "TerminFinder-Kalender/" PACKAGE_VERSION);
		curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
		if (send_auth) {
			curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(h, CURLOPT_USERNAME, rq->user);
			curl_easy_setopt(h, CURLOPT_PASSWORD, rq->password ? rq->password : "");
		}
		if (!strcmp(method, "GET") && !body) {
			curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		} else if (!strcmp(method, "HEAD")) {
			curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		} else {
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
			if (body) {
				curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
				curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
			}
		}

		clock_gettime(CLOCK_MONOTONIC, &t0);
		cc = curl_easy_perform(h);
		if (rq->counter)
			(*rq->counter)++;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
		if (x.toobig) {
			log_warn("http: %s %s: response over %zu bytes", method, where, rs->body.max);
			err_set(err, errlen, "%s %s: response larger than %zu bytes", method, where, rs->body.max);
			rc = TF_ERR_TOOBIG;
			goto out;
		}
		if (cc != CURLE_OK) {
			log_warn("http: %s %s: %s (%ld ms)", method, where,
				 cc == CURLE_OPERATION_TIMEDOUT ? "timeout" : curl_easy_strerror(cc), elapsed_ms(&t0));
			if (cc == CURLE_OPERATION_TIMEDOUT)
				err_set(err, errlen, "%s %s: no answer within %ld s", method, where, timeout);
			else
				err_set(err, errlen, "%s %s: %s", method, where, curl_easy_strerror(cc));
			rs->status = 0;
			rc = TF_ERR_IO;
			goto out;
		}
		log_debug("http: %s %s -> %ld (%ld ms, %zu bytes)", method, where, rs->status,
			  elapsed_ms(&t0), rs->body.len);

		if (!is_redirect(rs->status) || hop >= rq->max_redirects || !rs->location[0])
			break;
		if (http_url_resolve(url, rs->location, next, sizeof(next)) < 0 ||
		    url_parts(next, nscheme, sizeof(nscheme), NULL, 0, NULL) < 0 ||
		    !(!strcasecmp(scheme, nscheme) || (!strcasecmp(scheme, "http") && !strcasecmp(nscheme, "https")))) {
			err_set(err, errlen, "%s %s: refused redirect (scheme change or bad Location)", method, where);
			rc = TF_ERR_INVALID;
			goto out;
		}
		if (!rq->auth_any_host && !http_same_origin(url, next))
			send_auth = 0;
		if (rs->status == 303 && strcmp(method, "HEAD")) {
			method = "GET";
			body = NULL;
			body_len = 0;
		}
		str_copy(url, next, sizeof(url));
	}
	str_copy(rs->url, url, sizeof(rs->url));
	rc = TF_OK;
out:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return rc;
}

void http_response_free(struct http_response *rs)
{
	if (rs)
		buf_free(&rs->body);
}
