/* conf.c: the .env parser and the settings store (file values, overridden by the environment). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"

#ifndef TF_SYSCONFDIR
#define TF_SYSCONFDIR "/etc"
#endif
#define CONF_DEFAULT_PATH TF_SYSCONFDIR "/terminfinder.env"
#define CONF_STR_(x) #x
#define CONF_XSTR(x) CONF_STR_(x)

struct conf_entry {
	char *key;
	char *value;
};

struct conf_list {
	struct conf_entry *items;
	size_t n;
	size_t cap;
};

struct conf {
	struct conf_list file;   /* from the file and conf_set, sorted by key */
	struct conf_list env;    /* copies of environment values handed out by conf_get */
	char **old;              /* replaced values, kept so earlier conf_get pointers stay valid */
	size_t n_old;
	size_t cap_old;
};

struct conf *conf_new(void)
{
	return xcalloc(1, sizeof(struct conf));
}

static void list_free(struct conf_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->n = l->cap = 0;
}

void conf_free(struct conf *c)
{
	size_t i;

	if (!c)
		return;
	list_free(&c->file);
	list_free(&c->env);
	for (i = 0; i < c->n_old; i++)
		free(c->old[i]);
	free(c->old);
	free(c);
}

static void keep_old(struct conf *c, char *value)
{
	if (c->n_old == c->cap_old) {
		c->cap_old = c->cap_old ? c->cap_old * 2 : 8;
		c->old = xrealloc(c->old, c->cap_old * sizeof(*c->old));
	}
	c->old[c->n_old++] = value;
}

/* Binary search: index of key, or the insertion point with *found = 0. */
static size_t list_find(const struct conf_list *l, const char *key, int *found)
{
	size_t lo = 0, hi = l->n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(key, l->items[mid].key);

		if (cmp == 0) {
			*found = 1;
			return mid;
		}
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Takes ownership of value. */
static const char *list_put(struct conf *c, struct conf_list *l, const char *key, char *value)
{
	int found;
	size_t i = list_find(l, key, &found);

	if (found) {
		keep_old(c, l->items[i].value);
		l->items[i].value = value;
		return value;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	memmove(&l->items[i + 1], &l->items[i], (l->n - i) * sizeof(*l->items));
	l->items[i].key = xstrdup(key);
	l->items[i].value = value;
	l->n++;
	return value;
}

void conf_set(struct conf *c, const char *key, const char *value)
{
	list_put(c, &c->file, key, xstrdup(value));
}

const char *conf_get(struct conf *c, const char *key)
{
	const char *env = getenv(key);
	int found;
	size_t i;

	if (env) {
		i = list_find(&c->env, key, &found);
		if (found && strcmp(c->env.items[i].value, env) == 0)
			return c->env.items[i].value;
		return list_put(c, &c->env, key, xstrdup(env));
	}
	i = list_find(&c->file, key, &found);
	return found ? c->file.items[i].value : NULL;
}

const char *conf_get_default(struct conf *c, const char *key, const char *def)
{
	const char *v = conf_get(c, key);

	return v && *v ? v : def;
}

int conf_get_long(struct conf *c, const char *key, long def, long min, long max, long *out,
		  char *err, size_t errlen)
{
	const char *v = conf_get(c, key);

	if (!v || !*v) {
		*out = def;
		return 0;
	}
	if (str_to_long(v, min, max, out) < 0) {
		snprintf(err, errlen, "setting %s must be a whole number between %ld and %ld", key, min, max);
		return -1;
	}
	return 0;
}

int conf_require(struct conf *c, const char *const *keys, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; keys[i]; i++) {
		const char *v = conf_get(c, keys[i]);

		if (!v || !*v) {
			snprintf(err, errlen, "missing required setting: %s", keys[i]);
			return -1;
		}
	}
	return 0;
}

void conf_each(struct conf *c, void (*fn)(const char *key, const char *value, void *ud), void *ud)
{
	size_t i;

	for (i = 0; i < c->file.n; i++)
		fn(c->file.items[i].key, c->file.items[i].value, ud);
}

void conf_register_secrets(struct conf *c)
{
	static const char *const secret_keys[] = {
		"TF_SECRET_KEY", "TF_DB_PASSWORD", "CALENDAR_ENCRYPTION_KEY", "GOOGLE_CLIENT_SECRET",
		"MICROSOFT_CLIENT_SECRET", "SMTP_PASSWORD", "OPENAI_API_KEY",
	};
	const char *keys, *p;
	size_t i;

	for (i = 0; i < TF_ARRAY_LEN(secret_keys); i++) {
		const char *v = conf_get(c, secret_keys[i]);

		if (v && *v)
			log_add_secret(v);
	}
	/* Each key of a rotation list is a secret on its own too. */
	keys = conf_get(c, "CALENDAR_ENCRYPTION_KEY");
	for (p = keys; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *one;
		size_t a = 0, b = n;

		while (a < b && (p[a] == ' ' || p[a] == '\t'))
			a++;
		while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
			b--;
		one = xstrndup(p + a, b - a);
		log_add_secret(one);
		free(one);
		p = end ? end + 1 : p + n;
	}
}

/* ---------------------------------------------------------------- the parser */

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int is_key_start(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

static int is_key_char(char ch)
{
	return is_key_start(ch) || (ch >= '0' && ch <= '9');
}

/* A control character other than TAB (CR is only allowed at the end of a line, removed before). */
static int is_bad_ctl(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

/* Parse the value part p[0..n) (after '=' and leading blanks) into val. Returns NULL or a reason. */
static const char *parse_value(const char *p, size_t n, struct buf *val)
{
	size_t i;

	if (n > 0 && p[0] == '\'') {
		for (i = 1; i < n && p[i] != '\''; i++) {
			if (is_bad_ctl((unsigned char)p[i]))
				return "control character in value";
		}
		if (i == n)
			return "unterminated single quote";
		if (buf_append(val, p + 1, i - 1) < 0)
			return "value longer than " CONF_XSTR(CONF_MAX_VALUE) " bytes";
		i++;
	} else if (n > 0 && p[0] == '"') {
		for (i = 1; i < n && p[i] != '"'; i++) {
			char ch = p[i];

			if (ch == '\\') {
				if (i + 1 == n)
					return "unterminated double quote";
				switch (p[++i]) {
				case 'n': ch = '\n'; break;
				case 'r': ch = '\r'; break;
				case 't': ch = '\t'; break;
				case '"': ch = '"'; break;
				case '\\': ch = '\\'; break;
				default:
					return "unknown escape in double-quoted value (use \\n \\r \\t \\\" \\\\)";
				}
			} else if (is_bad_ctl((unsigned char)ch)) {
				return "control character in value";
			}
			if (buf_putc(val, ch) < 0)
				return "value longer than " CONF_XSTR(CONF_MAX_VALUE) " bytes";
		}
		if (i == n)
			return "unterminated double quote";
		i++;
	} else {
		size_t end = n;

		/* Unquoted: a '#' after a blank starts a comment; then trim trailing blanks. */
		for (i = 0; i < n; i++) {
			if (p[i] == '#' && (i == 0 || is_blank(p[i - 1]))) {
				end = i;
				break;
			}
			if (is_bad_ctl((unsigned char)p[i]))
				return "control character in value";
		}
		while (end > 0 && is_blank(p[end - 1]))
			end--;
		if (buf_append(val, p, end) < 0)
			return "value longer than " CONF_XSTR(CONF_MAX_VALUE) " bytes";
		return NULL;
	}
	/* After a closing quote: only blanks and an optional comment. */
	while (i < n && is_blank(p[i]))
		i++;
	if (i < n && p[i] != '#')
		return "unexpected text after closing quote";
	return NULL;
}

/* One line (without its line end). Returns NULL or a reason; a setting goes into c. */
static const char *parse_line(struct conf *c, const char *p, size_t n)
{
	char key[CONF_MAX_KEY + 1];
	size_t i = 0, k;
	struct buf val;
	const char *why;

	while (i < n && is_blank(p[i]))
		i++;
	if (i == n || p[i] == '#')
		return NULL;
	if (n - i > 7 && memcmp(p + i, "export", 6) == 0 && is_blank(p[i + 6])) {
		i += 7;
		while (i < n && is_blank(p[i]))
			i++;
	}
	if (i == n || !is_key_start(p[i]))
		return "invalid key name";
	for (k = i; k < n && is_key_char(p[k]); k++)
		;
	if (k - i > CONF_MAX_KEY)
		return "key longer than " CONF_XSTR(CONF_MAX_KEY) " bytes";
	memcpy(key, p + i, k - i);
	key[k - i] = '\0';
	i = k;
	if (i < n && !is_blank(p[i]) && p[i] != '=')
		return "invalid key name";
	while (i < n && is_blank(p[i]))
		i++;
	if (i == n || p[i] != '=')
		return "missing '=' after key";
	i++;
	while (i < n && is_blank(p[i]))
		i++;
	buf_init(&val, CONF_MAX_VALUE);
	why = parse_value(p + i, n - i, &val);
	if (!why)
		list_put(c, &c->file, key, buf_detach(&val));
	buf_free(&val);
	return why;
}

struct conf *conf_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct conf *c;
	size_t pos = 0, line = 1;

	if (len > CONF_MAX_FILE) {
		snprintf(err, errlen, "file larger than %d bytes", CONF_MAX_FILE);
		return NULL;
	}
	c = conf_new();
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;  /* UTF-8 byte order mark */
	while (pos < len) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		const char *why;

		pos += n + (nl ? 1 : 0);
		if (memchr(start, '\0', n)) {
			why = "NUL byte";
		} else {
			if (n > 0 && start[n - 1] == '\r')
				n--;
			why = parse_line(c, start, n);
		}
		if (why) {
			snprintf(err, errlen, "line %zu: %s", line, why);
			conf_free(c);
			return NULL;
		}
		line++;
	}
	return c;
}

struct conf *conf_load(const char *path, char *err, size_t errlen)
{
	const char *env = getenv("TF_CONFIG");
	int named = 1;
	struct buf b;
	struct conf *c;
	enum tf_err rc;
	char why[256];

	if (!path) {
		if (env && *env) {
			path = env;
		} else {
			path = CONF_DEFAULT_PATH;
			named = 0;
		}
	}
	errno = 0;
	rc = file_read_all(path, CONF_MAX_FILE, &b);
	if (rc == TF_ERR_IO) {
		int e = errno;

		if (e == ENOENT && !named)
			return conf_new();
		snprintf(err, errlen, "cannot read config file %s: %s", path,
			 e ? strerror(e) : "input/output error");
		return NULL;
	}
	if (rc == TF_ERR_TOOBIG) {
		snprintf(err, errlen, "config file %s is larger than %d bytes", path, CONF_MAX_FILE);
		return NULL;
	}
	if (rc != TF_OK) {
		snprintf(err, errlen, "cannot read config file %s: %s", path, tf_strerror(rc));
		return NULL;
	}
	c = conf_parse(b.data, b.len, why, sizeof(why));
	if (!c)
		snprintf(err, errlen, "%s: %s", path, why);
	buf_free(&b);
	return c;
}
