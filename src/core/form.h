/* form.h: decoding of untrusted request input: query strings, urlencoded bodies, cookies, JSON bodies. */
#ifndef TF_FORM_H
#define TF_FORM_H

#include <stddef.h>

#include <jansson.h>

#include "util.h"

#define FORM_MAX_FIELDS   64          /* more fields than this: TF_ERR_TOOBIG */
#define FORM_MAX_NAME     64          /* bytes in a decoded name */
#define FORM_MAX_VALUE    (16 * 1024) /* bytes in a decoded value */
#define COOKIE_MAX_HEADER (8 * 1024)
#define JSON_MAX_DEPTH    16

/* An ordered list of decoded name/value pairs (values may contain NUL-free UTF-8 text only;
 * a value with a NUL byte after decoding is refused as TF_ERR_INVALID). */
struct kv {
	char *name;
	char *value;
};
struct kvlist {
	struct kv *items;
	size_t n;
};

/* Decode "a=1&b=x%20y" ('+' is a space, for forms and queries alike).
 * Empty pairs and pairs with an empty name ("=x") are skipped; a name without '=' gets the empty
 * value. Names and values must decode to NUL-free, well-formed UTF-8. Returns TF_OK, TF_ERR_TOOBIG
 * (more than FORM_MAX_FIELDS fields, a name over FORM_MAX_NAME or a value over FORM_MAX_VALUE bytes)
 * or TF_ERR_INVALID (bad %-escape, NUL, bad UTF-8); TF_ERR_NOMEM when memory runs out (form and
 * cookie decoding never abort). On error the list is empty. Free with kv_free. */
enum tf_err form_parse_urlencoded(const char *s, size_t len, struct kvlist *out);
/* Parse a Cookie header "a=1; b=2" (values taken as-is, surrounding quotes removed).
 * Lenient like browsers (RFC 6265 section 5.4): pairs are split at ';', blanks around names and
 * values are trimmed, and a malformed pair (no '=', a name that is not an RFC 9110 token or longer
 * than FORM_MAX_NAME, a control character, '"' or '\' inside the value) is ignored rather than failing
 * the whole header, since other sites on the same domain may set odd cookies. Empty values are kept.
 * header NULL gives an empty list. TF_ERR_TOOBIG when the header is over COOKIE_MAX_HEADER bytes or
 * holds more than FORM_MAX_FIELDS well-formed cookies. Free with kv_free. */
enum tf_err cookie_parse(const char *header, struct kvlist *out);
/* First value for name (duplicates are kept in order), or NULL. */
const char *kv_get(const struct kvlist *l, const char *name);
void kv_free(struct kvlist *l);

/* Parse a JSON request body: must be an object, at most max bytes, nesting at most JSON_MAX_DEPTH,
 * valid UTF-8, no duplicate keys. Returns the object (caller decrefs) or NULL with *rc set to
 * TF_ERR_TOOBIG or TF_ERR_INVALID and a short English reason in err. */
json_t *json_body_parse(const char *s, size_t len, size_t max, enum tf_err *rc, char *err, size_t errlen);

#endif
