/* icloud-form.c: the iCloud/CalDAV connect form's rules: trimmed fields, size limits, a safe CalDAV URL. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "caldav.h"
#include "web.h"

/* Copy the field without leading/trailing spaces into out[outlen]. Returns the trimmed length,
 * or (size_t)-1 when it does not fit (out is then empty). */
static size_t trimmed(const char *v, char *out, size_t outlen)
{
	const char *e;
	size_t n;

	out[0] = '\0';
	if (!v)
		return 0;
	while (*v == ' ' || *v == '\t')
		v++;
	e = v + strlen(v);
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	n = (size_t)(e - v);
	if (n >= outlen)
		return (size_t)-1;
	memcpy(out, v, n);
	out[n] = '\0';
	return n;
}

static int is_local_host(const char *h, size_t n)
{
	return (n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
	       (n == 9 && memcmp(h, "127.0.0.1", 9) == 0) || (n == 5 && memcmp(h, "[::1]", 5) == 0);
}

const char *icloud_url_problem(struct app *app, const char *url)
{
	static const char bad[] = "Die CalDAV-Adresse ist ungültig. Bitte geben Sie eine Adresse wie "
				  "https://caldav.icloud.com an.";
	const char *host, *end, *p, *q, *port = NULL, *allow;
	size_t n = strlen(url), hn;
	int https;
	long pn;
	char digits[8];

	if (n > ICLOUD_URL_MAX)
		return "Die CalDAV-Adresse ist zu lang (höchstens 2048 Zeichen).";
	if (strncasecmp(url, "https://", 8) == 0)
		https = 1;
	else if (strncasecmp(url, "http://", 7) == 0)
		https = 0;
	else
		return "Die CalDAV-Adresse muss mit https:// beginnen.";
	for (p = url; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '\\')
			return bad;   /* spaces, controls, non-ASCII (IDNs must be given as punycode) */
	}
	host = url + (https ? 8 : 7);
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host)))
		return "Die CalDAV-Adresse darf keinen Benutzernamen und kein Passwort enthalten. "
		       "Bitte tragen Sie diese in die Felder Apple-ID und Passwort ein.";
	if (strchr(url, '#'))
		return bad;
	if (*host == '[') {
		p = memchr(host, ']', (size_t)(end - host));
		if (!p || p == host + 1)
			return bad;
		p++;
		if (p < end && *p != ':')
			return bad;
		if (p < end)
			port = p + 1;
		hn = (size_t)(p - host);
		for (q = host + 1; q < host + hn - 1; q++) {
			if (!strchr("0123456789abcdefABCDEF:.", *q))
				return bad;
		}
	} else {
		p = memchr(host, ':', (size_t)(end - host));
		hn = (size_t)((p ? p : end) - host);
		if (p)
			port = p + 1;
		if (hn == 0 || hn > 253)
			return bad;
		for (p = host; p < host + hn; p++) {
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", *p))
				return bad;
		}
	}
	if (port) {
		if (end - port < 1 || end - port > 5)
			return bad;
		memcpy(digits, port, (size_t)(end - port));
		digits[end - port] = '\0';
		if (str_to_long(digits, 1, 65535, &pn) < 0)
			return bad;
	}
	if (!https && !is_local_host(host, hn)) {
		allow = conf_get(app->conf, "TF_CALDAV_ALLOW_HTTP");
		if (!allow || strcmp(allow, "1") != 0)
			return "Unverschlüsselte Verbindungen (http://) sind nur zu einem Server auf diesem "
			       "Rechner erlaubt. Bitte verwenden Sie eine Adresse mit https://.";
	}
	return NULL;
}

int icloud_form_read(struct app *app, const struct request *req, struct icloud_form *f)
{
	size_t n;

	memset(f, 0, sizeof(*f));
	n = trimmed(request_field(req, "apple_id"), f->apple_id, sizeof(f->apple_id));
	f->field = "apple_id";
	if (n == (size_t)-1) {
		f->message = "Die Apple-ID ist zu lang (höchstens 254 Zeichen).";
		return -1;
	}
	if (n == 0) {
		f->message = "Bitte geben Sie Ihre Apple-ID (die E-Mail-Adresse Ihres Apple-Kontos) "
			     "bzw. den Benutzernamen des CalDAV-Servers an.";
		return -1;
	}
	if (!utf8_text_valid(f->apple_id, n, UTF8_C1) || strchr(f->apple_id, ':')) {
		f->message = "Die Apple-ID enthält unzulässige Zeichen (zum Beispiel einen Doppelpunkt).";
		return -1;
	}
	n = trimmed(request_field(req, "app_password"), f->password, sizeof(f->password));
	f->field = "app_password";
	if (n == (size_t)-1) {
		f->message = "Das Passwort ist zu lang (höchstens 128 Zeichen).";
		return -1;
	}
	if (n == 0) {
		f->message = "Bitte geben Sie das app-spezifische Passwort an.";
		return -1;
	}
	if (!utf8_text_valid(f->password, n, UTF8_C1)) {
		f->message = "Das Passwort enthält unzulässige Zeichen.";
		return -1;
	}
	n = trimmed(request_field(req, "caldav_url"), f->url, sizeof(f->url));
	f->field = "caldav_url";
	if (n == (size_t)-1) {
		f->message = "Die CalDAV-Adresse ist zu lang (höchstens 2048 Zeichen).";
		return -1;
	}
	if (n == 0)
		str_copy(f->url, CALDAV_DEFAULT_URL, sizeof(f->url));
	f->message = icloud_url_problem(app, f->url);
	if (f->message)
		return -1;
	f->field = NULL;
	return 0;
}
