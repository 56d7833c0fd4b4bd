/* conf.h: settings from one KEY=VALUE (.env syntax) file, overridden by the environment. */
#ifndef TF_CONF_H
#define TF_CONF_H

#include <stddef.h>

#include "util.h"

#define CONF_MAX_FILE   (256 * 1024)  /* a config file larger than this is refused */
#define CONF_MAX_KEY    64
#define CONF_MAX_VALUE  8192

struct conf;

/* Parse .env text: KEY=VALUE lines, '#' comments, blank lines, optional `export `, values in
 * single quotes (literal) or double quotes (\n \" \\ escapes), unquoted values trimmed and cut at
 * " #". Keys are [A-Za-z_][A-Za-z0-9_]*. A later duplicate replaces an earlier one.
 * On a syntax error returns NULL and writes "line N: reason" into err. Caller frees with conf_free. */
struct conf *conf_parse(const char *text, size_t len, char *err, size_t errlen);

/* Load path, or $TF_CONFIG, or the compiled-in default ($sysconfdir/terminfinder.env) when path is NULL.
 * A missing file is not an error when neither path nor TF_CONFIG named it (environment only). */
struct conf *conf_load(const char *path, char *err, size_t errlen);

/* An empty conf (environment only); never NULL. */
struct conf *conf_new(void);

/* Value of key: the environment variable if set, else the file's value, else NULL.
 * The pointer stays valid until conf_free (environment values are copied into conf). */
const char *conf_get(struct conf *c, const char *key);
/* Like conf_get, but def when unset or empty. */
const char *conf_get_default(struct conf *c, const char *key, const char *def);
/* Integer setting in [min,max]; def when unset. Returns 0, or -1 (message naming key in err) if malformed. */
int conf_get_long(struct conf *c, const char *key, long def, long min, long max, long *out,
		  char *err, size_t errlen);
/* Check that every key in the NULL-terminated list is set and non-empty. Returns 0, or -1 with
 * "missing required setting: KEY" in err (the first missing one). */
int conf_require(struct conf *c, const char *const *keys, char *err, size_t errlen);
/* Set (or replace) a value in memory; for tests and defaults. */
void conf_set(struct conf *c, const char *key, const char *value);
/* Iterate over the file's keys in sorted order (for golden tests): calls fn(key, value, ud). */
void conf_each(struct conf *c, void (*fn)(const char *key, const char *value, void *ud), void *ud);
/* Hand every secret setting's value to log_add_secret (TF_SECRET_KEY, TF_DB_PASSWORD,
 * CALENDAR_ENCRYPTION_KEY and each of its comma-separated keys, GOOGLE_CLIENT_SECRET,
 * MICROSOFT_CLIENT_SECRET, SMTP_PASSWORD, OPENAI_API_KEY). Every program calls it after loading. */
void conf_register_secrets(struct conf *c);
void conf_free(struct conf *c);

#endif
