/* util.h: shared basics: the error enum, aborting allocators, a bounded growable buffer, bounded strings. */
#ifndef TF_UTIL_H
#define TF_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define TF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* One result enum for the whole project; tf_strerror() gives an English text for logs. */
enum tf_err {
	TF_OK = 0,
	TF_ERR_NOMEM,     /* allocation failed */
	TF_ERR_INVALID,   /* malformed input */
	TF_ERR_TOOBIG,    /* input over its size limit */
	TF_ERR_NOTFOUND,  /* no such thing */
	TF_ERR_DB,        /* database error */
	TF_ERR_CRYPTO,    /* bad key, bad token, failed signature */
	TF_ERR_IO,        /* file or network I/O */
	TF_ERR_CONFIG,    /* missing or bad setting */
	TF_ERR_AUTH,      /* authentication refused */
	TF_ERR_MAX
};
const char *tf_strerror(enum tf_err e);

/* Allocators for code that may abort on exhaustion (cron programs, start-up, tests).
 * They never return NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Copy src into dst[size] always NUL-terminating; returns strlen(src) (truncated if >= size). */
size_t str_copy(char *dst, const char *src, size_t size);
/* Copy s (NULL = "") without surrounding blanks (space, tab, CR, LF) into out[outlen]. Returns
 * the trimmed length, or (size_t)-1 when it does not fit (out untouched). */
size_t str_trim_copy(const char *s, char *out, size_t outlen);
/* Parse a whole decimal string into [min,max]. Returns 0 on success, -1 otherwise (no partial parse). */
int str_to_long(const char *s, long min, long max, long *out);
/* Write a formatted message into err[errlen] when err is not NULL (the usual err/errlen out-pair). */
void err_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Number of UTF-8 characters in s (continuation bytes not counted). */
size_t utf8_chars(const char *s);
/* Length (1..4) of the well-formed UTF-8 sequence at s, n bytes available (shortest form, no
 * surrogate, at most U+10FFFF; any ASCII byte is 1), or 0 when there is none. */
size_t utf8_seq_valid(const unsigned char *s, size_t n);
/* 1 when s[n] is well-formed UTF-8, else 0. */
int utf8_valid(const char *s, size_t n);
/* 1 when s[n] is well-formed UTF-8 without control characters, else 0. Control characters are
 * C0 (NUL included), DEL and C1 (U+0080..U+009F); allowed lets some through. */
enum { UTF8_TAB = 1, UTF8_LF = 2, UTF8_CR = 4, UTF8_C1 = 8 };
int utf8_text_valid(const char *s, size_t n, unsigned allowed);
/* Nonzero when s is non-empty, at most maxlen bytes, and every byte is in allowed (a NUL-terminated set). */
int str_only_chars(const char *s, size_t maxlen, const char *allowed);

/* A growable byte buffer with a hard maximum. data is always NUL-terminated (not counted in len).
 * Appends return 0, or -1 when the result would exceed max or memory runs out (buffer unchanged). */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};
void buf_init(struct buf *b, size_t max);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_reset(struct buf *b);                 /* len = 0, keeps memory */
char *buf_detach(struct buf *b);               /* caller owns the string (never NULL); b is emptied */
void buf_free(struct buf *b);

/* Read a whole file (at most max bytes) into out (initialised here). Returns TF_OK, TF_ERR_IO,
 * TF_ERR_TOOBIG or TF_ERR_NOMEM. */
enum tf_err file_read_all(const char *path, size_t max, struct buf *out);

#endif
