/* log.c: one-line log events to stderr or syslog, with secrets and secret-looking values masked. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LOG_MAX_MSG     4096          /* bytes of message text in one event */
#define LOG_MAX_FORMAT  (64 * 1024)   /* a formatted message is cut here before redaction */
#define LOG_MIN_SECRET  6
#define LOG_REDACTED        "[redacted]"
#define LOG_TRUNCATED   " [truncated]"

static char log_ident[64];
static int log_use_syslog;
static int log_ready;
static enum log_level log_min = LOG_LVL_INFO;

/* Registered secrets, longest first so a secret that contains another is masked whole. */
static char **log_secrets;
static size_t log_n_secrets;

static const char *const log_level_names[LOG_LVL_MAX] = {
	[LOG_LVL_ERROR] = "ERROR",
	[LOG_LVL_WARN] = "WARN",
	[LOG_LVL_INFO] = "INFO",
	[LOG_LVL_DEBUG] = "DEBUG",
};

int log_level_parse(const char *s)
{
	if (!s)
		return -1;
	if (strcasecmp(s, "error") == 0)
		return LOG_LVL_ERROR;
	if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		return LOG_LVL_WARN;
	if (strcasecmp(s, "info") == 0)
		return LOG_LVL_INFO;
	if (strcasecmp(s, "debug") == 0)
		return LOG_LVL_DEBUG;
	return -1;
}

void log_init(const char *ident, int use_syslog, enum log_level min)
{
	const char *env = getenv("TF_LOG_LEVEL");
	int lvl = -1;

	str_copy(log_ident, ident && *ident ? ident : "terminfinder", sizeof(log_ident));
	if (log_use_syslog && !use_syslog)
		closelog();
	log_use_syslog = use_syslog;
	if (use_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_min = (unsigned)min < LOG_LVL_MAX ? min : LOG_LVL_INFO;
	log_ready = 1;
	if (env && *env) {
		lvl = log_level_parse(env);
		if (lvl >= 0)
			log_min = (enum log_level)lvl;
		else
			log_warn("TF_LOG_LEVEL is not one of error, warn, info, debug; using %s",
				 log_level_names[log_min]);
	}
}

void log_set_level(enum log_level min)
{
	if ((unsigned)min < LOG_LVL_MAX)
		log_min = min;
}

void log_add_secret(const char *value)
{
	size_t len, i;

	if (!value || (len = strlen(value)) < LOG_MIN_SECRET)
		return;
	for (i = 0; i < log_n_secrets; i++) {
		if (strcmp(log_secrets[i], value) == 0)
			return;
	}
	log_secrets = xrealloc(log_secrets, (log_n_secrets + 1) * sizeof(*log_secrets));
	for (i = log_n_secrets; i > 0 && strlen(log_secrets[i - 1]) < len; i--)
		log_secrets[i] = log_secrets[i - 1];
	log_secrets[i] = xstrdup(value);
	log_n_secrets++;
}

void log_clear_secrets(void)
{
	size_t i;

	for (i = 0; i < log_n_secrets; i++) {
		/* Do not leave the secret in freed memory. */
		explicit_bzero(log_secrets[i], strlen(log_secrets[i]));
		free(log_secrets[i]);
	}
	free(log_secrets);
	log_secrets = NULL;
	log_n_secrets = 0;
}

/* ---------------------------------------------------------------- redaction */

static int is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* Characters of a setting or parameter name. */
static int is_name_char(char ch)
{
	return is_alnum(ch) || ch == '_' || ch == '-' || ch == '.';
}

/* Characters of base64url and JWT/Fernet tokens. */
static int is_token_char(char ch)
{
	return is_alnum(ch) || ch == '_' || ch == '-' || ch == '=' || ch == '.' || ch == '+' || ch == '/' ||
	       ch == '~';
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Where an unquoted value after "name=" ends. */
static int ends_value(char ch)
{
	return ch == '\0' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '&' || ch == ';' ||
	       ch == ',' || ch == ')' || ch == ']' || ch == '}' || ch == '"' || ch == '\'' || ch == '<' ||
	       ch == '>';
}

static int ends_with_ci(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

/* A parameter name whose value is masked: password, passwd, secret, token, key, session (also as
 * a suffix: client_secret, access_token, TF_SECRET_KEY, db_password) and code. */
static int secret_name(const char *s, size_t n)
{
	static const char *const suffixes[] = { "password", "passwd", "secret", "token", "key", "session" };
	size_t i;

	if (n == 4 && strncasecmp(s, "code", 4) == 0)
		return 1;
	for (i = 0; i < TF_ARRAY_LEN(suffixes); i++) {
		if (ends_with_ci(s, n, suffixes[i]))
			return 1;
	}
	return 0;
}

static size_t match_ci(const char *s, const char *word)
{
	size_t n = strlen(word);

	return strncasecmp(s, word, n) == 0 ? n : 0;
}

/* Pass 1: every registered secret becomes LOG_REDACTED. */
static int redact_secrets(const char *in, struct buf *out)
{
	size_t i, k;

	for (i = 0; in[i];) {
		for (k = 0; k < log_n_secrets; k++) {
			size_t n = strlen(log_secrets[k]);

			if (strncmp(in + i, log_secrets[k], n) == 0)
				break;
		}
		if (k < log_n_secrets) {
			if (buf_puts(out, LOG_REDACTED) < 0)
				return -1;
			i += strlen(log_secrets[k]);
		} else {
			if (buf_putc(out, in[i]) < 0)
				return -1;
			i++;
		}
	}
	return 0;
}

/* Pass 2: header values, name=value and "name": "value" pairs, bearer, Fernet and JWT tokens. */
static int redact_patterns(const char *t, struct buf *out)
{
	static const char *const headers[] = { "proxy-authorization:", "authorization:", "set-cookie:", "cookie:" };
	size_t i = 0, j, k, n, hk;
	int r = 0;

	while (t[i] && r == 0) {
		int boundary = i == 0 || !is_alnum(t[i - 1]);

		/* Header lines: mask the rest of the line (keeping an authorization scheme word). */
		n = 0;
		if (boundary) {
			for (hk = 0; hk < TF_ARRAY_LEN(headers); hk++) {
				n = match_ci(t + i, headers[hk]);
				if (n)
					break;
			}
		}
		if (n) {
			j = i + n;
			while (is_blank(t[j]))
				j++;
			if (hk < 2) {
				for (k = j; is_alnum(t[k]); k++)
					;
				if (k > j && is_blank(t[k])) {
					j = k;
					while (is_blank(t[j]))
						j++;
				}
			}
			r |= buf_append(out, t + i, j - i);
			for (k = j; t[k] && t[k] != '\r' && t[k] != '\n'; k++)
				;
			if (k > j)
				r |= buf_puts(out, LOG_REDACTED);
			i = k;
			continue;
		}

		/* JSON-style "name": "value". */
		if (t[i] == '"') {
			for (j = i + 1; is_name_char(t[j]); j++)
				;
			if (t[j] == '"' && j > i + 1 && secret_name(t + i + 1, j - i - 1)) {
				k = j + 1;
				while (is_blank(t[k]))
					k++;
				if (t[k] == ':') {
					k++;
					while (is_blank(t[k]))
						k++;
					if (t[k] == '"') {
						r |= buf_append(out, t + i, k + 1 - i);
						for (j = k + 1; t[j] && t[j] != '"'; j++) {
							if (t[j] == '\\' && t[j + 1])
								j++;
						}
						r |= buf_puts(out, LOG_REDACTED);
						i = j;
						continue;
					}
				}
			}
		}

		/* A Fernet token or a JWT. */
		if (is_token_char(t[i]) && (i == 0 || !is_token_char(t[i - 1]))) {
			size_t dots = 0;

			for (j = i; is_token_char(t[j]); j++)
				dots += t[j] == '.';
			if ((strncmp(t + i, "gAAAAA", 6) == 0 && j - i >= 32) ||
			    (strncmp(t + i, "eyJ", 3) == 0 && dots >= 2 && j - i >= 20)) {
				r |= buf_puts(out, LOG_REDACTED);
				i = j;
				continue;
			}
		}

		/* A name: "Bearer TOKEN", a secret-looking name=value, or a name copied whole. */
		if (is_name_char(t[i]) && (i == 0 || !is_name_char(t[i - 1]))) {
			for (j = i; is_name_char(t[j]); j++)
				;
			if (j - i == 6 && strncasecmp(t + i, "bearer", 6) == 0 && is_blank(t[j])) {
				k = j;
				while (is_blank(t[k]))
					k++;
				if (is_token_char(t[k])) {
					r |= buf_append(out, t + i, k - i);
					r |= buf_puts(out, LOG_REDACTED);
					while (is_token_char(t[k]))
						k++;
					i = k;
					continue;
				}
			}
			if (secret_name(t + i, j - i)) {
				k = j;
				while (is_blank(t[k]))
					k++;
				if (t[k] == '=' && t[k + 1] != '=') {
					char q = t[k + 1];

					k++;
					r |= buf_append(out, t + i, k - i);
					if (strncmp(t + k, LOG_REDACTED, sizeof(LOG_REDACTED) - 1) == 0) {
						/* already masked by pass 1 */
					} else if (q == '"' || q == '\'') {
						r |= buf_putc(out, q);
						for (k++; t[k] && t[k] != q; k++)
							;
						r |= buf_puts(out, LOG_REDACTED);
					} else if (!ends_value(t[k])) {
						while (!ends_value(t[k]))
							k++;
						r |= buf_puts(out, LOG_REDACTED);
					}
					i = k;
					continue;
				}
			}
			/* Not secret: copy the whole name so its tail is not matched again. */
			r |= buf_append(out, t + i, j - i);
			i = j;
			continue;
		}
		r |= buf_putc(out, t[i]);
		i++;
	}
	return r ? -1 : 0;
}

void log_redact(const char *in, char *out, size_t outlen)
{
	size_t inlen = strlen(in);
	size_t max;
	struct buf a, b;

	if (!outlen)
		return;
	/* Worst case growth: a 1-byte value after "key=" becomes the 10 bytes of LOG_REDACTED. */
	if (inlen > (SIZE_MAX - LOG_MAX_MSG) / sizeof(LOG_REDACTED)) {
		str_copy(out, "[log message dropped: too long]", outlen);
		return;
	}
	max = inlen * sizeof(LOG_REDACTED) + LOG_MAX_MSG;
	buf_init(&a, max);
	buf_init(&b, max);
	if (redact_secrets(in, &a) < 0 || buf_append(&a, "", 0) < 0 || redact_patterns(a.data, &b) < 0 ||
	    buf_append(&b, "", 0) < 0)
		str_copy(out, "[log message dropped: redaction failed]", outlen);
	else
		str_copy(out, b.data, outlen);
	if (a.data)
		explicit_bzero(a.data, a.len);
	buf_free(&a);
	buf_free(&b);
}

/* ---------------------------------------------------------------- output */

/* CR, LF and other control characters become spaces; cut at LOG_MAX_MSG on a UTF-8 boundary. */
static void fold_and_cut(char *s)
{
	size_t i, len;

	for (i = 0; s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			s[i] = ' ';
	}
	len = i;
	if (len > LOG_MAX_MSG) {
		size_t cut = LOG_MAX_MSG - (sizeof(LOG_TRUNCATED) - 1);

		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
		memcpy(s + cut, LOG_TRUNCATED, sizeof(LOG_TRUNCATED));
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[LOG_LVL_MAX] = {
		[LOG_LVL_ERROR] = LOG_ERR, [LOG_LVL_WARN] = LOG_WARNING,
		[LOG_LVL_INFO] = LOG_INFO, [LOG_LVL_DEBUG] = LOG_DEBUG,
	};
	char red[LOG_MAX_MSG * 2];
	char line[LOG_MAX_MSG * 2 + 128];
	char stamp[32];
	char *raw;
	va_list ap;
	int n, saved_errno = errno;
	size_t len;
	struct tm tm;
	time_t now;

	if (!log_ready)
		log_init(program_invocation_short_name, 0, LOG_LVL_INFO);
	if ((unsigned)lvl >= LOG_LVL_MAX || lvl > log_min)
		goto out;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out;
	len = (size_t)n < LOG_MAX_FORMAT ? (size_t)n : LOG_MAX_FORMAT;
	raw = malloc(len + 1);
	if (!raw)
		goto out;  /* a log line is never worth aborting a request */
	va_start(ap, fmt);
	vsnprintf(raw, len + 1, fmt, ap);
	va_end(ap);
	log_redact(raw, red, sizeof(red));
	explicit_bzero(raw, len);
	free(raw);
	fold_and_cut(red);

	if (log_use_syslog) {
		syslog(prio[lvl], "%s", red);
		goto out;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s %s[%ld] %s: %s\n", stamp, log_ident, (long)getpid(),
		     log_level_names[lvl], red);
	if (n > 0) {
		const char *p = line;
		size_t left = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;

		while (left > 0) {
			ssize_t w = write(STDERR_FILENO, p, left);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			p += w;
			left -= (size_t)w;
		}
	}
out:
	errno = saved_errno;
}
