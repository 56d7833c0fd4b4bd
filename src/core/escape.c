/* escape.c: the escapers for HTML, URL components, header values and JSON strings; bytes are unsigned. */
#include "config.h"

#include <string.h>

#include "escape.h"

static const char hexdig[] = "0123456789ABCDEF";

/* The entity for an HTML-special byte, or NULL. */
static const char *html_entity(unsigned char c)
{
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&#39;";
	case '`': return "&#96;";
	case '=': return "&#61;";
	default: return NULL;
	}
}

int esc_html(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = b->len, run = 0, i;
	const char *ent;

	for (i = 0; i < n; i++) {
		ent = html_entity(p[i]);
		if (!ent)
			continue;
		if (buf_append(b, p + run, i - run) < 0 || buf_puts(b, ent) < 0)
			goto fail;
		run = i + 1;
	}
	if (buf_append(b, p + run, n - run) < 0)
		goto fail;
	return 0;
fail:
	b->len = start;
	if (b->data)
		b->data[start] = '\0';
	return -1;
}

int esc_html_str(struct buf *b, const char *s)
{
	return esc_html(b, s, strlen(s));
}

static int url_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int esc_url(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = b->len;
	char pct[3];

	for (; *p; p++) {
		if (url_unreserved(*p)) {
			if (buf_putc(b, (char)*p) < 0)
				goto fail;
			continue;
		}
		pct[0] = '%';
		pct[1] = hexdig[*p >> 4];
		pct[2] = hexdig[*p & 0x0f];
		if (buf_append(b, pct, 3) < 0)
			goto fail;
	}
	if (!b->data && buf_append(b, "", 0) < 0)
		goto fail;
	return 0;
fail:
	b->len = start;
	if (b->data)
		b->data[start] = '\0';
	return -1;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A NUL (raw or as %00) is refused too: decoded values end up in C strings. */
int unesc_url(struct buf *b, const char *s, size_t n, int plus)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = b->len, i;
	int hi, lo;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = p[i];
		if (c == '%') {
			if (n - i < 3)
				goto fail;
			hi = hexval(p[i + 1]);
			lo = hexval(p[i + 2]);
			if (hi < 0 || lo < 0)
				goto fail;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (c == '\0' || buf_putc(b, (char)c) < 0)
			goto fail;
	}
	if (!b->data && buf_append(b, "", 0) < 0)
		goto fail;
	return 0;
fail:
	b->len = start;
	if (b->data)
		b->data[start] = '\0';
	return -1;
}

/* DEL (0x7f) is refused as well: RFC 9110 field values allow only VCHAR, SP, HTAB and obs-text. */
int header_value_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s)
		return 0;
	for (; *p; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return 0;
	}
	return 1;
}

/* Length of the valid UTF-8 sequence at p[0..n) (1..4), or 0 when invalid; *bad then gets the
 * length of the maximal invalid subpart to replace by one U+FFFD (WHATWG / Unicode 3.9). */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t *bad)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		*bad = 1;
		return 0;
	}
	for (i = 1; i < need; i++) {
		if (i >= n || p[i] < lo || p[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

/* Besides the header's rules, < > & and U+2028/U+2029 are written as \u escapes so the
 * result is inert inside an HTML <script> element and a JavaScript string. */
int esc_json(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), start = b->len, i = 0, run = 0, len, bad;
	char u[7];
	const char *rep;
	unsigned char c;

	while (i < n) {
		c = p[i];
		rep = NULL;
		len = 1;
		switch (c) {
		case '"': rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		case '/': rep = "\\/"; break;
		case '\b': rep = "\\b"; break;
		case '\f': rep = "\\f"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		case '<': rep = "\\u003c"; break;
		case '>': rep = "\\u003e"; break;
		case '&': rep = "\\u0026"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				u[0] = '\\';
				u[1] = 'u';
				u[2] = '0';
				u[3] = '0';
				u[4] = hexdig[c >> 4];
				u[5] = hexdig[c & 0x0f];
				u[6] = '\0';
				rep = u;
			} else if (c >= 0x80) {
				len = utf8_seq(p + i, n - i, &bad);
				if (!len) {
					rep = "\\ufffd";
					len = bad;
				} else if (len == 3 && c == 0xe2 && p[i + 1] == 0x80 &&
					   (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
					rep = p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
				}
			}
		}
		if (rep) {
			if (buf_append(b, p + run, i - run) < 0 || buf_puts(b, rep) < 0)
				goto fail;
			run = i + len;
		}
		i += len;
	}
	if (buf_append(b, p + run, n - run) < 0)
		goto fail;
	return 0;
fail:
	b->len = start;
	if (b->data)
		b->data[start] = '\0';
	return -1;
}
