/* form.c: decoding of urlencoded forms and queries, Cookie headers and JSON request bodies. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "form.h"

/* Request-time code: no aborting allocators. Takes ownership of name and value (freed on failure). */
static enum tf_err kv_push(struct kvlist *l, char *name, char *value)
{
	struct kv *items;

	if (!name || !value)
		goto fail;
	items = realloc(l->items, (l->n + 1) * sizeof(*l->items));
	if (!items)
		goto fail;
	l->items = items;
	l->items[l->n].name = name;
	l->items[l->n].value = value;
	l->n++;
	return TF_OK;
fail:
	free(name);
	free(value);
	return TF_ERR_NOMEM;
}

void kv_free(struct kvlist *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->items[i].name);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

const char *kv_get(const struct kvlist *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->items[i].name, name) == 0)
			return l->items[i].value;
	}
	return NULL;
}

/* Percent-decode s[n] into a new string of at most max bytes (NUL-free UTF-8). */
static enum tf_err decode_part(const char *s, size_t n, size_t max, char **out)
{
	struct buf b;

	/* The decoded text is never longer than the raw text, so only malformed input fails here. */
	buf_init(&b, n);
	if (unesc_url(&b, s, n, 1) < 0) {
		buf_free(&b);
		return TF_ERR_INVALID;
	}
	if (b.len > max) {
		buf_free(&b);
		return TF_ERR_TOOBIG;
	}
	if (!utf8_valid(b.data, b.len)) {
		buf_free(&b);
		return TF_ERR_INVALID;
	}
	*out = b.data ? b.data : strdup("");  /* NULL only when out of memory: kv_push reports it */
	return TF_OK;
}

enum tf_err form_parse_urlencoded(const char *s, size_t len, struct kvlist *out)
{
	enum tf_err rc = TF_OK;
	size_t pos = 0;

	out->items = NULL;
	out->n = 0;
	while (pos < len) {
		const char *pair = s + pos;
		const char *amp = memchr(pair, '&', len - pos);
		size_t plen = amp ? (size_t)(amp - pair) : len - pos;
		const char *eq = memchr(pair, '=', plen);
		size_t nlen = eq ? (size_t)(eq - pair) : plen;
		char *name = NULL, *value = NULL;

		pos += plen + (amp ? 1 : 0);
		if (nlen == 0)
			continue;  /* "&&" or "=value": nothing to name */
		if (out->n == FORM_MAX_FIELDS) {
			rc = TF_ERR_TOOBIG;
			goto out;
		}
		rc = decode_part(pair, nlen, FORM_MAX_NAME, &name);
		if (rc != TF_OK)
			goto out;
		if (eq)
			rc = decode_part(eq + 1, plen - nlen - 1, FORM_MAX_VALUE, &value);
		else
			value = strdup("");
		if (rc != TF_OK) {
			free(name);
			goto out;
		}
		rc = kv_push(out, name, value);
		if (rc != TF_OK)
			goto out;
	}
out:
	if (rc != TF_OK)
		kv_free(out);
	return rc;
}

/* RFC 9110 token characters (cookie names). */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 6265 cookie-octet, plus space and comma, which browsers pass through in practice. */
static int is_cookie_char(unsigned char c)
{
	return c >= 0x20 && c != 0x7f && c != '"' && c != ';' && c != '\\';
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

enum tf_err cookie_parse(const char *header, struct kvlist *out)
{
	size_t len, pos = 0;
	enum tf_err rc = TF_OK;

	out->items = NULL;
	out->n = 0;
	if (!header)
		return TF_OK;
	len = strnlen(header, COOKIE_MAX_HEADER + 1);
	if (len > COOKIE_MAX_HEADER)
		return TF_ERR_TOOBIG;
	while (pos < len) {
		const char *pair = header + pos;
		const char *semi = memchr(pair, ';', len - pos);
		size_t plen = semi ? (size_t)(semi - pair) : len - pos;
		size_t a = 0, b = plen, ne, vs, i;
		const char *eq;

		pos += plen + (semi ? 1 : 0);
		while (a < b && is_ows(pair[a]))
			a++;
		while (b > a && is_ows(pair[b - 1]))
			b--;
		eq = memchr(pair + a, '=', b - a);
		if (!eq)
			continue;  /* malformed: no '=' */
		ne = (size_t)(eq - pair);
		vs = ne + 1;
		while (ne > a && is_ows(pair[ne - 1]))
			ne--;
		while (vs < b && is_ows(pair[vs]))
			vs++;
		if (ne == a || ne - a > FORM_MAX_NAME)
			continue;  /* malformed: empty or overlong name */
		for (i = a; i < ne && is_tchar((unsigned char)pair[i]); i++)
			;
		if (i < ne)
			continue;  /* malformed: name is not a token */
		if (b - vs >= 2 && pair[vs] == '"' && pair[b - 1] == '"') {
			vs++;
			b--;
		}
		for (i = vs; i < b && is_cookie_char((unsigned char)pair[i]); i++)
			;
		if (i < b)
			continue;  /* malformed: control character, quote or backslash in the value */
		if (out->n == FORM_MAX_FIELDS) {
			rc = TF_ERR_TOOBIG;
			goto out;
		}
		rc = kv_push(out, strndup(pair + a, ne - a), strndup(pair + vs, b - vs));
		if (rc != TF_OK)
			goto out;
	}
out:
	if (rc != TF_OK)
		kv_free(out);
	return rc;
}

/* 1 when v nests at most max levels (an object or array counts one level). */
static int json_depth_ok(json_t *v, int max)
{
	const char *key;
	json_t *child;
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return 1;
	if (max < 1)
		return 0;
	if (json_is_object(v)) {
		json_object_foreach(v, key, child) {
			if (!json_depth_ok(child, max - 1))
				return 0;
		}
	} else {
		json_array_foreach(v, i, child) {
			if (!json_depth_ok(child, max - 1))
				return 0;
		}
	}
	return 1;
}

json_t *json_body_parse(const char *s, size_t len, size_t max, enum tf_err *rc, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root;

	if (len > max) {
		*rc = TF_ERR_TOOBIG;
		snprintf(err, errlen, "request body larger than %zu bytes", max);
		return NULL;
	}
	root = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!root) {
		char *near = strstr(je.text, " near ");

		/* jansson quotes the offending input after " near "; it may be a password: drop it. */
		if (near)
			*near = '\0';
		*rc = TF_ERR_INVALID;
		snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		*rc = TF_ERR_INVALID;
		snprintf(err, errlen, "request body is not a JSON object");
		goto fail;
	}
	if (!json_depth_ok(root, JSON_MAX_DEPTH)) {
		*rc = TF_ERR_INVALID;
		snprintf(err, errlen, "JSON nested deeper than %d levels", JSON_MAX_DEPTH);
		goto fail;
	}
	*rc = TF_OK;
	return root;
fail:
	json_decref(root);
	return NULL;
}
