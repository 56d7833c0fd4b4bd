/* util.c: the error enum's texts, aborting allocators, the bounded buffer, bounded strings. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const tf_err_text[TF_ERR_MAX] = {
	[TF_OK] = "ok",
	[TF_ERR_NOMEM] = "out of memory",
	[TF_ERR_INVALID] = "invalid input",
	[TF_ERR_TOOBIG] = "input too large",
	[TF_ERR_NOTFOUND] = "not found",
	[TF_ERR_DB] = "database error",
	[TF_ERR_CRYPTO] = "cryptographic error",
	[TF_ERR_IO] = "input/output error",
	[TF_ERR_CONFIG] = "configuration error",
	[TF_ERR_AUTH] = "authentication failed",
};

const char *tf_strerror(enum tf_err e)
{
	if ((unsigned)e >= TF_ERR_MAX)
		return "unknown error";
	return tf_err_text[e];
}

static void oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory (%zu bytes)\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

size_t str_copy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);
	if (size) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t str_trim_copy(const char *s, char *out, size_t outlen)
{
	size_t len;

	if (!s)
		s = "";
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
			   s[len - 1] == '\n'))
		len--;
	if (len >= outlen)
		return (size_t)-1;
	memcpy(out, s, len);
	out[len] = '\0';
	return len;
}

int str_to_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

size_t utf8_seq_valid(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	/* the second byte's range rules out overlong forms, surrogates and code points > U+10FFFF */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		k = utf8_seq_valid(p + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

int utf8_text_valid(const char *s, size_t n, unsigned allowed)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	unsigned char c;

	while (i < n) {
		c = p[i];
		k = utf8_seq_valid(p + i, n - i);
		if (k == 0)
			return 0;
		if (c < 0x20 && !((c == '\t' && (allowed & UTF8_TAB)) || (c == '\n' && (allowed & UTF8_LF)) ||
				  (c == '\r' && (allowed & UTF8_CR))))
			return 0;
		if (c == 0x7f || (c == 0xc2 && p[i + 1] < 0xa0 && !(allowed & UTF8_C1)))
			return 0;
		i += k;
	}
	return 1;
}

int str_only_chars(const char *s, size_t maxlen, const char *allowed)
{
	size_t n = 0;

	if (!s || !*s)
		return 0;
	for (; s[n]; n++) {
		if (n >= maxlen || !strchr(allowed, s[n]))
			return 0;
	}
	return 1;
}

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *buf_detach(struct buf *b)
{
	char *p = b->data ? b->data : xstrdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

enum tf_err file_read_all(const char *path, size_t max, struct buf *out)
{
	char chunk[8192];
	size_t n;
	FILE *f;
	enum tf_err rc = TF_OK;

	buf_init(out, max);
	f = fopen(path, "rb");
	if (!f)
		return TF_ERR_IO;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(out, chunk, n) < 0) {
			rc = out->len + n > max ? TF_ERR_TOOBIG : TF_ERR_NOMEM;
			goto out;
		}
	}
	if (ferror(f))
		rc = TF_ERR_IO;
	else if (!out->data && buf_append(out, "", 0) < 0)
		rc = TF_ERR_NOMEM;
out:
	fclose(f);
	if (rc != TF_OK)
		buf_free(out);
	return rc;
}
