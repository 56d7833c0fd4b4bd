/* escape.h: one escaper per output context: HTML text, HTML attribute, URL component, header value, JSON. */
#ifndef TF_ESCAPE_H
#define TF_ESCAPE_H

#include <stddef.h>

#include "util.h"

/* Each appends to b and returns 0, or -1 when b's limit is reached. Input is treated as bytes
 * (unsigned); invalid UTF-8 is passed through as bytes except in JSON where it is replaced by U+FFFD. */
/* HTML text and attributes (both quote styles): & < > " ' ` = escaped as entities. */
int esc_html(struct buf *b, const char *s, size_t n);
int esc_html_str(struct buf *b, const char *s);
/* URL path segment or query component: everything but unreserved [A-Za-z0-9-._~] as %XX. */
int esc_url(struct buf *b, const char *s);
/* Percent-decode (and '+' → ' ' when plus=1) s[n] into b; -1 on a malformed escape or limit. */
int unesc_url(struct buf *b, const char *s, size_t n, int plus);
/* 1 when s can go into an HTTP header value: no CR, LF, NUL or other C0 controls except TAB. */
int header_value_ok(const char *s);
/* JSON string contents (no surrounding quotes) with "/" escaped as "\/" so it may sit in HTML. */
int esc_json(struct buf *b, const char *s);

#endif
