/* caldav.c: CalDAV (RFC 4791/6578/6764) and Apple iCloud as a provider: discovery, push, incremental pull.
 *
 * Where the credentials go (Basic auth): discovery sends them to the URL the doctor entered, to the
 * hosts its redirects lead to (same scheme or http -> https only), and to the principal and
 * calendar-home-set URLs the authenticated server names (iCloud's home sits on a partition host);
 * never over a downgrade from https to http. Those three URLs are kept in the connection state
 * ({"caldav_url", "principal_url", "home_url"}); every later request (list, push, pull) must go to
 * the scheme/host/port of one of them, or it is refused without sending anything. Redirects after
 * discovery keep the credentials only within the same origin (http.c's rule).
 *
 * Objects: a calendar is its collection URL; an object is its absolute URL (the server's href
 * resolved against the calendar, percent-encoding normalised). Our events live at
 * {calendar}/{UID with every character outside [A-Za-z0-9._-] replaced by '-'}.ics.
 *
 * The pull cursor is a small JSON object: {"sync_token": "..."} when the calendar is synced with
 * sync-collection (RFC 6578), {"ctag": "..."} (or {}) when it is synced by ctag + etag diff. The
 * state key "use_sync_collection": false forces the ctag path for servers whose sync-collection
 * is unreliable. An unchanged calendar costs one request on either path.
 *
 * Malformed objects (icsbusy_parse refuses them, or over the size limit) are logged and reported
 * with no busy time, so a previously busy object stops blocking; the pull goes on. */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libical/ical.h>

#include "caldav.h"
#include "davxml.h"
#include "http.h"
#include "ics.h"
#include "icsbusy.h"
#include "log.h"

#define CALDAV_BATCH        100                 /* hrefs per calendar-multiget */
#define CALDAV_MAX_CALS     500
#define CALDAV_MAX_ROUNDS   1000                /* sync-collection continuations (507) */
#define CALDAV_UID_PREFIX   "terminfinder-appointment-"
#define CALDAV_DEFAULT_TZ   "Europe/Berlin"

#define MSG_AUTH  "Die Anmeldung beim Kalender-Server ist fehlgeschlagen: Apple-ID bzw. Benutzername " \
		  "oder app-spezifisches Passwort ist falsch."
#define MSG_RETRY "Der Kalender-Server ist vorübergehend nicht erreichbar. Die Synchronisierung wird " \
		  "später erneut versucht."

struct dav {
	struct prov_ctx *c;
	const char *user, *pass;
	long timeout;
};

static void set_error(struct prov_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct prov_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

static enum prov_status dav_init(struct dav *d, struct prov_ctx *c)
{
	json_t *u = c->creds ? json_object_get(c->creds, "username") : NULL;
	json_t *p = c->creds ? json_object_get(c->creds, "password") : NULL;
	char err[200];

	memset(d, 0, sizeof(*d));
	d->c = c;
	c->error[0] = '\0';
	if (!json_is_string(u) || !json_is_string(p) || !*json_string_value(u) || !*json_string_value(p)) {
		set_error(c, "Die Zugangsdaten für den Kalender fehlen. Bitte verbinden Sie den Kalender neu.");
		return PROV_AUTH;
	}
	d->user = json_string_value(u);
	d->pass = json_string_value(p);
	d->timeout = c->conf ? http_timeout_conf(c->conf, err, sizeof(err)) : HTTP_DEFAULT_TIMEOUT;
	if (d->timeout < 0) {
		log_warn("caldav: %s; using %d s", err, HTTP_DEFAULT_TIMEOUT);
		d->timeout = HTTP_DEFAULT_TIMEOUT;
	}
	return PROV_OK;
}

/* One request with Basic auth. extra: one more header line (If-Match, If-None-Match) or NULL. */
static enum tf_err dav_do(struct dav *d, const char *method, const char *url, const char *depth,
			  const char *ctype, const char *extra, const char *body, size_t body_len,
			  int redirects, int auth_any_host, struct http_response *rs, char *err, size_t errlen)
{
	char hdepth[32], hctype[128];
	const char *hdrs[4];
	size_t nh = 0;
	struct http_request rq = { 0 };

	if (depth) {
		snprintf(hdepth, sizeof(hdepth), "Depth: %s", depth);
		hdrs[nh++] = hdepth;
	}
	if (ctype) {
		snprintf(hctype, sizeof(hctype), "Content-Type: %s", ctype);
		hdrs[nh++] = hctype;
	}
	if (extra)
		hdrs[nh++] = extra;
	hdrs[nh] = NULL;
	rq.method = method;
	rq.url = url;
	rq.headers = hdrs;
	rq.body = body;
	rq.body_len = body_len;
	rq.user = d->user;
	rq.password = d->pass;
	rq.max_redirects = redirects;
	rq.auth_any_host = auth_any_host;
	rq.timeout = d->timeout;
	rq.counter = &d->c->requests;
	return http_do(&rq, rs, err, errlen);
}

#define XML_CT "application/xml; charset=utf-8"

/* German message and provider status for a failed transfer or an unexpected HTTP status. */
static enum prov_status transfer_failed(struct prov_ctx *c, enum tf_err e, const char *err)
{
	log_warn("caldav: %s", err);
	if (e == TF_ERR_IO) {
		set_error(c, MSG_RETRY);
		return PROV_RETRY;
	}
	if (e == TF_ERR_TOOBIG) {
		set_error(c, "Die Antwort des Kalender-Servers war zu groß.");
		return PROV_ERROR;
	}
	set_error(c, "Die Anfrage an den Kalender-Server wurde abgelehnt (ungültige Adresse oder Weiterleitung).");
	return PROV_ERROR;
}

static enum prov_status status_failed(struct prov_ctx *c, const char *what, const char *url,
				      const struct http_response *rs)
{
	char where[512];

	http_url_for_log(url, where, sizeof(where));
	log_warn("caldav: %s %s: HTTP %ld", what, where, rs->status);
	if (rs->status == 401) {
		if (rs->www_authenticate[0] && !strcasestr(rs->www_authenticate, "basic"))
			set_error(c, "Der Kalender-Server verlangt ein Anmeldeverfahren, das nicht unterstützt wird.");
		else
			set_error(c, MSG_AUTH);
		return PROV_AUTH;
	}
	if (rs->status == 404 || rs->status == 410) {
		set_error(c, "Der Kalender wurde auf dem Server nicht gefunden (HTTP %ld).", rs->status);
		return PROV_NOT_FOUND;
	}
	if (rs->status == 412) {
		set_error(c, "Der Termin wurde inzwischen im Kalender geändert (HTTP 412).");
		return PROV_PRECONDITION;
	}
	if (rs->status == 429 || rs->status >= 500 || rs->status == 0) {
		set_error(c, MSG_RETRY);
		return PROV_RETRY;
	}
	if (rs->status == 403) {
		set_error(c, "Der Kalender-Server verweigert den Zugriff (HTTP 403). Bitte prüfen Sie die "
			  "Berechtigungen des Kalenders.");
		return PROV_ERROR;
	}
	set_error(c, "Unerwartete Antwort des Kalender-Servers (HTTP %ld).", rs->status);
	return PROV_ERROR;
}

static const char *state_str(struct prov_ctx *c, const char *key)
{
	json_t *v = c->state ? json_object_get(c->state, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* May the credentials go to url? (see the rule at the top) */
static int origin_trusted(struct prov_ctx *c, const char *url)
{
	static const char *const keys[] = { "caldav_url", "principal_url", "home_url" };

	for (size_t i = 0; i < TF_ARRAY_LEN(keys); i++) {
		const char *v = state_str(c, keys[i]);
		if (v && http_same_origin(v, url))
			return 1;
	}
	return 0;
}

static enum prov_status check_url(struct prov_ctx *c, const char *url)
{
	char where[512];

	if (url && origin_trusted(c, url))
		return PROV_OK;
	http_url_for_log(url ? url : "", where, sizeof(where));
	log_warn("caldav: refused to send credentials to %s (not a host of this connection)", where);
	set_error(c, "Die Kalender-Adresse gehört nicht zu diesem Konto.");
	return PROV_ERROR;
}

static int is_downgrade(const char *from, const char *to)
{
	return !strncasecmp(from, "https:", 6) && strncasecmp(to, "https:", 6) != 0;
}

/* Same URL, ignoring one trailing slash. */
static int same_url(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la && a[la - 1] == '/')
		la--;
	if (lb && b[lb - 1] == '/')
		lb--;
	return la == lb && !strncmp(a, b, la);
}

static char *cursor_json(const char *key, const char *value)
{
	json_t *o = json_object();
	char *s;

	if (key && value)
		json_object_set_new(o, key, json_string(value));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s ? s : xstrdup("{}");
}

/* ------------------------------------------------------------------ PROPFIND helpers */

/* PROPFIND url with the props in mask; on 207 parses into ms. rs is freed here. */
static enum prov_status propfind(struct dav *d, const char *url, const char *depth, unsigned mask,
				 int redirects, int auth_any_host, struct davxml_multistatus *ms,
				 char *final_url, size_t final_len, long *status)
{
	struct http_response rs;
	struct buf body;
	char err[300];
	enum tf_err e;
	enum prov_status ps = PROV_OK;

	memset(ms, 0, sizeof(*ms));
	buf_init(&body, 64 * 1024);
	davxml_build_propfind(&body, mask);
	e = dav_do(d, "PROPFIND", url, depth, XML_CT, NULL, body.data, body.len, redirects, auth_any_host,
		   &rs, err, sizeof(err));
	if (status)
		*status = rs.status;
	if (e != TF_OK) {
		ps = transfer_failed(d->c, e, err);
		goto out;
	}
	if (rs.status != 207) {
		ps = status_failed(d->c, "PROPFIND", url, &rs);
		goto out;
	}
	if (final_url)
		str_copy(final_url, rs.url, final_len);
	e = davxml_parse_multistatus(rs.body.data, rs.body.len, ms, err, sizeof(err));
	if (e != TF_OK) {
		char where[512];
		http_url_for_log(url, where, sizeof(where));
		log_warn("caldav: PROPFIND %s: bad multistatus: %s", where, err);
		set_error(d->c, "Der Kalender-Server hat eine unlesbare Antwort geschickt.");
		ps = PROV_ERROR;
	}
out:
	buf_free(&body);
	http_response_free(&rs);
	return ps;
}

/* The current etag of one object (malloc'd, "" when the server has none). */
static enum prov_status fetch_etag(struct dav *d, const char *href, char **etag)
{
	struct davxml_multistatus ms;
	enum prov_status ps;

	*etag = NULL;
	ps = propfind(d, href, "0", DAVXML_P_ETAG, 0, 0, &ms, NULL, 0, NULL);
	if (ps != PROV_OK)
		return ps;
	for (size_t i = 0; i < ms.n; i++)
		if (ms.responses[i].props.getetag) {
			*etag = xstrdup(ms.responses[i].props.getetag);
			break;
		}
	if (!*etag) {
		for (size_t i = 0; i < ms.n; i++)
			if (ms.responses[i].status == 404) {
				davxml_multistatus_free(&ms);
				return PROV_NOT_FOUND;
			}
		*etag = xstrdup("");
	}
	davxml_multistatus_free(&ms);
	return PROV_OK;
}

/* ------------------------------------------------------------------ calendars */

static char *calendar_color(const char *v)
{
	char out[8];

	if (!v || v[0] != '#' || (strlen(v) != 7 && strlen(v) != 9))
		return xstrdup("");
	for (size_t i = 1; i < strlen(v); i++)
		if (!strchr("0123456789abcdefABCDEF", v[i]))
			return xstrdup("");
	out[0] = '#';
	for (int i = 1; i < 7; i++)
		out[i] = (char)(v[i] >= 'A' && v[i] <= 'F' ? v[i] - 'A' + 'a' : v[i]);
	out[7] = '\0';
	return xstrdup(out);
}

static char *name_from_url(const char *url)
{
	char path[HTTP_MAX_URL], *s, *dec;
	size_t n;

	if (http_url_path(url, path, sizeof(path)) < 0)
		return xstrdup("");
	n = strlen(path);
	while (n && path[n - 1] == '/')
		path[--n] = '\0';
	s = strrchr(path, '/');
	dec = davxml_pct_decode(s ? s + 1 : path);
	return dec ? dec : xstrdup(s ? s + 1 : path);
}

/* PROPFIND Depth 1 on the calendar home: event calendars only. */
static enum prov_status list_home(struct dav *d, const char *home, struct prov_calendar **out, size_t *nout)
{
	struct davxml_multistatus ms;
	struct prov_calendar *cals = NULL;
	size_t n = 0;
	char base[HTTP_MAX_URL], url[HTTP_MAX_URL];
	enum prov_status ps;

	*out = NULL;
	*nout = 0;
	ps = propfind(d, home, "1", DAVXML_P_RESOURCETYPE | DAVXML_P_DISPLAYNAME | DAVXML_P_COLOR |
		      DAVXML_P_COMPS | DAVXML_P_PRIVS | DAVXML_P_CTAG | DAVXML_P_SYNC_TOKEN,
		      0, 0, &ms, base, sizeof(base), NULL);
	if (ps != PROV_OK)
		return ps;
	for (size_t i = 0; i < ms.n && n < CALDAV_MAX_CALS; i++) {
		const struct davxml_response *r = &ms.responses[i];
		const struct davxml_props *p = &r->props;

		if (http_url_resolve(base, r->href, url, sizeof(url)) < 0 || same_url(url, base))
			continue;
		if (!(p->resourcetype & DAVXML_RT_CALENDAR) ||
		    (p->resourcetype & (DAVXML_RT_SCHED_INBOX | DAVXML_RT_SCHED_OUTBOX)))
			continue;
		if ((p->found & DAVXML_P_COMPS) && !(p->comps & DAVXML_COMP_VEVENT))
			continue;     /* VTODO-only lists (iCloud Reminders) */
		if (!http_same_origin(url, base) || is_downgrade(base, url)) {
			log_warn("caldav: calendar on another host skipped");
			continue;
		}
		if (!cals)
			cals = xcalloc(CALDAV_MAX_CALS, sizeof(*cals));
		cals[n].remote_id = xstrdup(url);
		cals[n].name = p->displayname && *p->displayname ? xstrdup(p->displayname) : name_from_url(url);
		cals[n].color = calendar_color(p->calendar_color);
		cals[n].can_write = (p->found & DAVXML_P_PRIVS) ? (p->privs & DAVXML_PRIV_WRITE) != 0 : 1;
		cals[n].events = 1;
		n++;
	}
	davxml_multistatus_free(&ms);
	*out = cals;
	*nout = n;
	return PROV_OK;
}

static enum prov_status caldav_list_calendars(struct prov_ctx *c, struct prov_calendar **out, size_t *n)
{
	struct dav d;
	enum prov_status ps;
	const char *home = state_str(c, "home_url");

	*out = NULL;
	*n = 0;
	if ((ps = dav_init(&d, c)) != PROV_OK)
		return ps;
	if (!home) {
		set_error(c, "Die Verbindung ist unvollständig eingerichtet. Bitte verbinden Sie den Kalender neu.");
		return PROV_ERROR;
	}
	if ((ps = check_url(c, home)) != PROV_OK)
		return ps;
	return list_home(&d, home, out, n);
}

/* ------------------------------------------------------------------ discovery */

static const char *first_href(const struct davxml_multistatus *ms, int home)
{
	for (size_t i = 0; i < ms->n; i++) {
		const char *h = home ? ms->responses[i].props.calendar_home_set
				     : ms->responses[i].props.current_user_principal;
		if (h && *h)
			return h;
	}
	return NULL;
}

enum prov_status caldav_discover(struct prov_ctx *c, const char *url, struct prov_calendar **cals, size_t *n)
{
	struct dav d;
	struct davxml_multistatus ms;
	char base[HTTP_MAX_URL], wk[HTTP_MAX_URL], context[HTTP_MAX_URL], principal[HTTP_MAX_URL];
	char home[HTTP_MAX_URL], final[HTTP_MAX_URL], where[512];
	const char *href;
	enum prov_status ps;
	long st = 0;

	*cals = NULL;
	*n = 0;
	memset(&ms, 0, sizeof(ms));
	if ((ps = dav_init(&d, c)) != PROV_OK)
		return ps;
	if (!url || !*url)
		url = CALDAV_DEFAULT_URL;
	if (http_url_resolve(NULL, url, base, sizeof(base)) < 0) {
		set_error(c, "Die CalDAV-Adresse ist ungültig. Erlaubt sind Adressen mit https:// "
			  "(oder http:// für einen Server im eigenen Netz).");
		return PROV_ERROR;
	}
	http_url_for_log(base, where, sizeof(where));

	/* 1. /.well-known/caldav (RFC 6764) with redirects, also to another host of the same scheme */
	context[0] = '\0';
	if (http_url_resolve(base, "/.well-known/caldav", wk, sizeof(wk)) == 0) {
		ps = propfind(&d, wk, "0", DAVXML_P_CUP, HTTP_MAX_REDIRECTS, 1, &ms, final, sizeof(final), &st);
		if (ps == PROV_AUTH || ps == PROV_RETRY)
			goto fail;
		if (ps == PROV_OK && (href = first_href(&ms, 0)) != NULL) {
			str_copy(context, final, sizeof(context));
			if (http_url_resolve(final, href, principal, sizeof(principal)) < 0)
				context[0] = '\0';
		}
		davxml_multistatus_free(&ms);
	}
	/* 2. fallback: the URL itself (a context path or the principal) */
	if (!context[0]) {
		ps = propfind(&d, base, "0", DAVXML_P_CUP, HTTP_MAX_REDIRECTS, 1, &ms, final, sizeof(final), &st);
		if (ps != PROV_OK)
			goto fail_discovery;
		href = first_href(&ms, 0);
		if (!href || http_url_resolve(final, href, principal, sizeof(principal)) < 0) {
			davxml_multistatus_free(&ms);
			goto fail_discovery;
		}
		str_copy(context, final, sizeof(context));
		davxml_multistatus_free(&ms);
	}
	if (is_downgrade(base, context) || is_downgrade(context, principal)) {
		log_warn("caldav: discovery at %s: refused a downgrade from https to http", where);
		ps = PROV_ERROR;
		set_error(c, "Der Kalender-Server leitet auf eine unverschlüsselte Adresse um; das wird abgelehnt.");
		goto fail;
	}

	/* 3. the principal's calendar-home-set (may be absolute, on another host) */
	{
		json_t *st0 = json_pack("{s:s, s:s}", "caldav_url", context, "principal_url", principal);
		json_decref(c->state);
		c->state = st0;
	}
	ps = propfind(&d, principal, "0", DAVXML_P_HOME | DAVXML_P_DISPLAYNAME, HTTP_MAX_REDIRECTS, 0, &ms,
		      final, sizeof(final), &st);
	if (ps != PROV_OK)
		goto fail_discovery;
	href = first_href(&ms, 1);
	if (!href || http_url_resolve(final, href, home, sizeof(home)) < 0) {
		davxml_multistatus_free(&ms);
		log_warn("caldav: discovery at %s: the principal names no calendar-home-set", where);
		ps = PROV_ERROR;
		set_error(c, "Auf dem Server wurde kein Kalenderverzeichnis (calendar-home-set) gefunden.");
		goto fail;
	}
	davxml_multistatus_free(&ms);
	if (is_downgrade(principal, home)) {
		ps = PROV_ERROR;
		set_error(c, "Der Kalender-Server nennt eine unverschlüsselte Kalenderadresse; das wird abgelehnt.");
		goto fail;
	}
	json_object_set_new(c->state, "home_url", json_string(home));

	/* 4. the calendars */
	ps = list_home(&d, home, cals, n);
	if (ps != PROV_OK)
		goto fail;
	if (*n == 0) {
		set_error(c, "Im Konto wurde kein Kalender für Termine gefunden (nur Erinnerungen oder "
			  "Postfächer). Bitte legen Sie zuerst einen Kalender an.");
		ps = PROV_ERROR;
		goto fail;
	}
	log_info("caldav: discovery at %s: %zu calendar(s)", where, *n);
	return PROV_OK;

fail_discovery:
	if (ps == PROV_AUTH || ps == PROV_RETRY)
		goto fail;
	log_warn("caldav: discovery at %s failed (last HTTP status %ld)", where, st);
	ps = PROV_ERROR;
	set_error(c, "Unter dieser Adresse wurde kein CalDAV-Kalender gefunden. Bitte prüfen Sie die "
		  "CalDAV-Adresse (für iCloud: https://caldav.icloud.com).");
fail:
	prov_calendars_free(*cals, *n);
	*cals = NULL;
	*n = 0;
	json_decref(c->state);
	c->state = NULL;
	return ps;
}

/* ------------------------------------------------------------------ push */

/* {cal}/{safe uid}.ics */
static int object_url(const char *cal, const char *uid, char *out, size_t outlen)
{
	struct buf b;
	int rc = -1;

	buf_init(&b, HTTP_MAX_URL);
	if (buf_puts(&b, cal) < 0 || (b.len && b.data[b.len - 1] != '/' && buf_putc(&b, '/') < 0))
		goto out;
	for (size_t i = 0; i < 200 && uid[i]; i++) {
		char ch = uid[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			ch = '-';
		if (buf_putc(&b, ch) < 0)
			goto out;
	}
	if (buf_puts(&b, ".ics") < 0)
		goto out;
	rc = http_url_resolve(NULL, b.data, out, outlen);
out:
	buf_free(&b);
	return rc;
}

/* The UID of an iCalendar text (first VEVENT), into uid[len]; -1 if none. */
static int ics_uid_of(const char *data, char *uid, size_t len)
{
	icalcomponent *root = icalparser_parse_string(data), *ev;
	int rc = -1;

	if (!root)
		return -1;
	ev = icalcomponent_isa(root) == ICAL_VEVENT_COMPONENT ? root
		: icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT);
	if (ev && icalcomponent_get_uid(ev)) {
		str_copy(uid, icalcomponent_get_uid(ev), len);
		rc = 0;
	}
	icalcomponent_free(root);
	return rc;
}

static enum prov_status put_object(struct dav *d, const char *href, const char *ics, const char *cond,
				   char **etag_out, long *status)
{
	struct http_response rs;
	char err[300];
	enum tf_err e;
	enum prov_status ps = PROV_OK;

	*status = 0;
	e = dav_do(d, "PUT", href, NULL, "text/calendar; charset=utf-8", cond, ics, strlen(ics), 0, 0,
		   &rs, err, sizeof(err));
	if (e != TF_OK) {
		ps = transfer_failed(d->c, e, err);
		goto out;
	}
	*status = rs.status;
	if (rs.status >= 200 && rs.status < 300) {
		if (rs.etag[0] && strncmp(rs.etag, "W/", 2)) {
			*etag_out = xstrdup(rs.etag);
		} else {
			/* the server rewrote the data (or sends weak etags): ask for the stored etag */
			ps = fetch_etag(d, href, etag_out);
		}
		goto out;
	}
	if (rs.status == 412)
		ps = PROV_PRECONDITION;
	else if ((rs.status == 403 || rs.status == 409) && rs.body.len) {
		char cond2[64];
		if (davxml_error_condition(rs.body.data, rs.body.len, cond2, sizeof(cond2)) == 0 &&
		    !strcmp(cond2, "no-uid-conflict")) {
			log_warn("caldav: PUT: the event's UID already exists in another object of the calendar");
			set_error(d->c, "Der Termin existiert im Kalender bereits unter einer anderen Adresse.");
			ps = PROV_PRECONDITION;
		} else {
			ps = status_failed(d->c, "PUT", href, &rs);
		}
	} else {
		ps = status_failed(d->c, "PUT", href, &rs);
	}
out:
	http_response_free(&rs);
	return ps;
}

static int if_match(char *out, size_t outlen, const char *etag)
{
	return snprintf(out, outlen, "If-Match: %s", etag) < (int)outlen ? 0 : -1;
}

/* A create found something at our href: converge when it is ours (same UID). */
static enum prov_status converge(struct dav *d, const char *href, const char *uid, const char *ics,
				 char **etag_out)
{
	struct http_response rs;
	char err[300], found[512], hdr[1100];
	char *etag = NULL;
	enum tf_err e;
	enum prov_status ps;
	long st;

	e = dav_do(d, "GET", href, NULL, NULL, NULL, NULL, 0, 0, 0, &rs, err, sizeof(err));
	if (e != TF_OK) {
		ps = transfer_failed(d->c, e, err);
		http_response_free(&rs);
		return ps;
	}
	if (rs.status == 404) {
		http_response_free(&rs);
		/* gone again: create once more */
		ps = put_object(d, href, ics, "If-None-Match: *", etag_out, &st);
		return ps;
	}
	if (rs.status != 200) {
		ps = status_failed(d->c, "GET", href, &rs);
		http_response_free(&rs);
		return ps;
	}
	if (ics_uid_of(rs.body.data ? rs.body.data : "", found, sizeof(found)) < 0 || strcmp(found, uid)) {
		http_response_free(&rs);
		log_warn("caldav: PUT: another event occupies our object name");
		set_error(d->c, "Unter der Adresse des Termins liegt im Kalender ein fremder Eintrag.");
		return PROV_PRECONDITION;
	}
	if (rs.etag[0])
		etag = xstrdup(rs.etag);
	http_response_free(&rs);
	if (!etag && (ps = fetch_etag(d, href, &etag)) != PROV_OK)
		return ps;
	if (!*etag || if_match(hdr, sizeof(hdr), etag) < 0) {
		free(etag);
		set_error(d->c, "Der Kalender-Server liefert kein ETag für den Termin.");
		return PROV_ERROR;
	}
	free(etag);
	log_info("caldav: PUT: our event was already there (an earlier run); updating it");
	return put_object(d, href, ics, hdr, etag_out, &st);
}

static char *build_ics(struct prov_ctx *c, const struct prov_event *e)
{
	struct ics_event ie = { 0 };

	ie.uid = e->uid;
	ie.start = e->start;
	ie.end = e->end;
	ie.stamp = c->now ? c->now : time(NULL);
	ie.sequence = e->sequence;
	ie.summary = e->summary && *e->summary ? e->summary : "Termin (TerminFinder)";
	ie.description = e->description;
	ie.location = e->location;
	ie.url = e->video_link;
	/* no METHOD: calendar object resources must not carry one (RFC 4791 4.1); no attendees:
	 * the server shall not send invitations */
	return ics_build(&ie, NULL);
}

static enum prov_status caldav_push_upsert(struct prov_ctx *c, const char *cal, const struct prov_event *e,
					   const char *remote_id, const char *etag,
					   char **new_remote_id, char **new_etag)
{
	struct dav d;
	char href[HTTP_MAX_URL], hdr[1100];
	char *ics = NULL, *cur = NULL, *got = NULL;
	enum prov_status ps;
	long st;

	*new_remote_id = NULL;
	*new_etag = NULL;
	if ((ps = dav_init(&d, c)) != PROV_OK)
		return ps;
	if (!e || !e->uid || !*e->uid || e->end <= e->start) {
		set_error(c, "Interner Fehler: unvollständiger Termin.");
		return PROV_ERROR;
	}
	if ((ps = check_url(c, cal)) != PROV_OK)
		return ps;
	if (remote_id && *remote_id) {
		if ((ps = check_url(c, remote_id)) != PROV_OK)
			return ps;
		if (http_url_resolve(NULL, remote_id, href, sizeof(href)) < 0) {
			set_error(c, "Interner Fehler: ungültige Termin-Adresse.");
			return PROV_ERROR;
		}
	} else if (object_url(cal, e->uid, href, sizeof(href)) < 0) {
		set_error(c, "Interner Fehler: ungültige Kalender-Adresse.");
		return PROV_ERROR;
	}
	ics = build_ics(c, e);
	if (!ics) {
		set_error(c, "Interner Fehler: der Termin ließ sich nicht als iCalendar schreiben.");
		return PROV_ERROR;
	}

	if (!(remote_id && *remote_id)) {
		ps = put_object(&d, href, ics, "If-None-Match: *", &got, &st);
		if (ps == PROV_PRECONDITION && st == 412)
			ps = converge(&d, href, e->uid, ics, &got);
		goto out;
	}
	/* update: If-Match on the stored etag; without one, ask for the current etag first */
	if (etag && *etag) {
		cur = xstrdup(etag);
	} else if ((ps = fetch_etag(&d, href, &cur)) != PROV_OK) {
		goto out;
	}
	if (*cur && if_match(hdr, sizeof(hdr), cur) < 0) {
		ps = PROV_ERROR;
		set_error(c, "Interner Fehler: ungültiges ETag.");
		goto out;
	}
	ps = put_object(&d, href, ics, *cur ? hdr : NULL, &got, &st);
	if (ps == PROV_PRECONDITION && st == 412) {
		/* changed meanwhile: refetch the etag and retry once (our appointment's data wins) */
		free(cur);
		cur = NULL;
		if ((ps = fetch_etag(&d, href, &cur)) != PROV_OK)
			goto out;
		if (!*cur || if_match(hdr, sizeof(hdr), cur) < 0) {
			ps = PROV_PRECONDITION;
			goto out;
		}
		ps = put_object(&d, href, ics, hdr, &got, &st);
	}
out:
	if (ps == PROV_OK) {
		*new_remote_id = xstrdup(href);
		*new_etag = got ? got : xstrdup("");
		got = NULL;
		c->error[0] = '\0';
	}
	free(got);
	free(cur);
	free(ics);
	return ps;
}

static enum prov_status caldav_push_delete(struct prov_ctx *c, const char *cal, const char *remote_id,
					   const char *etag)
{
	struct dav d;
	struct http_response rs;
	char err[300], hdr[1100];
	char *cur = NULL;
	enum prov_status ps;
	enum tf_err e;

	if ((ps = dav_init(&d, c)) != PROV_OK)
		return ps;
	if (!remote_id || !*remote_id)
		return PROV_OK;
	if ((ps = check_url(c, remote_id)) != PROV_OK)
		return ps;
	(void)cal;
	for (int attempt = 0; attempt < 2; attempt++) {
		const char *tag = attempt == 0 ? etag : cur;
		int cond = tag && *tag && if_match(hdr, sizeof(hdr), tag) == 0;

		e = dav_do(&d, "DELETE", remote_id, NULL, NULL, cond ? hdr : NULL, NULL, 0, 0, 0, &rs, err, sizeof(err));
		if (e != TF_OK) {
			ps = transfer_failed(c, e, err);
			http_response_free(&rs);
			goto out;
		}
		if ((rs.status >= 200 && rs.status < 300) || rs.status == 404 || rs.status == 410) {
			http_response_free(&rs);
			ps = PROV_OK;
			goto out;
		}
		if (rs.status != 412 || attempt == 1) {
			ps = status_failed(c, "DELETE", remote_id, &rs);
			http_response_free(&rs);
			goto out;
		}
		http_response_free(&rs);
		/* changed since our write: it is still our event (the appointment is cancelled) */
		free(cur);
		cur = NULL;
		ps = fetch_etag(&d, remote_id, &cur);
		if (ps == PROV_NOT_FOUND) {
			ps = PROV_OK;
			goto out;
		}
		if (ps != PROV_OK)
			goto out;
	}
out:
	if (ps == PROV_OK)
		c->error[0] = '\0';
	free(cur);
	return ps;
}

/* ------------------------------------------------------------------ pull */

struct item {
	char *url;
	char *etag;
};

struct items {
	struct item *v;
	size_t n, cap;
};

static void items_add(struct items *it, const char *url, const char *etag)
{
	if (it->n == it->cap) {
		it->cap = it->cap ? it->cap * 2 : 64;
		it->v = xrealloc(it->v, it->cap * sizeof(*it->v));
	}
	it->v[it->n].url = xstrdup(url);
	it->v[it->n].etag = xstrdup(etag ? etag : "");
	it->n++;
}

static void items_clear(struct items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		free(it->v[i].url);
		free(it->v[i].etag);
	}
	free(it->v);
	memset(it, 0, sizeof(*it));
}

/* Our appointment id when uid is one of our UIDs (ics_uid_for_appointment), else 0. */
static long long own_appointment(struct prov_ctx *c, const char *uid)
{
	const char *p = uid, *at;
	char digits[24], expect[512];
	long id;
	size_t n;

	if (strncmp(p, CALDAV_UID_PREFIX, strlen(CALDAV_UID_PREFIX)))
		return 0;
	p += strlen(CALDAV_UID_PREFIX);
	at = strchr(p, '@');
	n = at ? (size_t)(at - p) : strlen(p);
	if (n == 0 || n >= sizeof(digits))
		return 0;
	memcpy(digits, p, n);
	digits[n] = '\0';
	if (str_to_long(digits, 1, LONG_MAX, &id) < 0)
		return 0;
	if (c->conf && conf_get(c->conf, "BASE_URL")) {
		ics_uid_for_appointment(id, conf_get(c->conf, "BASE_URL"), expect, sizeof(expect));
		if (strcmp(expect, uid))
			return 0;         /* another installation's event */
	}
	return id;
}

/* DTSTART/DTEND of the first VEVENT as UTC (for our own events). */
static int event_times(const char *data, time_t *s, time_t *e)
{
	icalcomponent *root = icalparser_parse_string(data), *ev;
	int rc = -1;

	if (!root)
		return -1;
	ev = icalcomponent_isa(root) == ICAL_VEVENT_COMPONENT ? root
		: icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT);
	if (ev) {
		struct icaltimetype ts = icalcomponent_get_dtstart(ev), te = icalcomponent_get_dtend(ev);
		icaltimezone *utc = icaltimezone_get_utc_timezone();
		if (!icaltime_is_null_time(ts)) {
			*s = icaltime_as_timet_with_zone(ts, ts.zone ? ts.zone : utc);
			*e = icaltime_is_null_time(te) ? *s : icaltime_as_timet_with_zone(te, te.zone ? te.zone : utc);
			rc = 0;
		}
	}
	icalcomponent_free(root);
	return rc;
}

static enum prov_status report_object(struct dav *d, const struct prov_sink *sink, const char *url,
				      const char *etag, const struct davxml_props *p)
{
	struct prov_ctx *c = d->c;
	struct prov_object o = { 0 };
	struct interval *iv = NULL;
	char uid[512] = "", perr[256] = "", where[512];
	int horizon = c->horizon_days > 0 ? c->horizon_days : 120;
	time_t now = c->now ? c->now : time(NULL);
	long nb = -1;

	if (p->calendar_data_too_big)
		str_copy(perr, "object over the size limit", sizeof(perr));
	else
		nb = icsbusy_parse(p->calendar_data, p->calendar_data_len,
				   c->timezone && *c->timezone ? c->timezone : CALDAV_DEFAULT_TZ,
				   now - 86400, now + (time_t)horizon * 86400, &iv, uid, sizeof(uid),
				   perr, sizeof(perr));
	o.object_id = url;
	o.etag = etag ? etag : "";
	if (nb < 0) {
		http_url_for_log(url, where, sizeof(where));
		log_warn("caldav: skipped malformed object %s: %s", where, perr);
		free(iv);
		iv = NULL;
		nb = 0;
		uid[0] = '\0';
	}
	o.busy = iv;
	o.nbusy = (size_t)nb;
	if (uid[0] && (o.own_appointment_id = own_appointment(c, uid)) > 0) {
		if (nb == 1) {
			o.own_start = iv[0].start;
			o.own_end = iv[0].end;
		} else if (event_times(p->calendar_data, &o.own_start, &o.own_end) < 0) {
			o.own_start = o.own_end = 0;
		}
	}
	int rc = sink->upsert(sink->ud, &o);
	free(iv);
	if (rc != 0) {
		set_error(c, "Interner Fehler beim Speichern der Kalenderdaten.");
		return PROV_ERROR;
	}
	return PROV_OK;
}

/* calendar-multiget of it->v[from .. from+count) and report each object. */
static enum prov_status fetch_batch(struct dav *d, const char *cal, struct items *it, size_t from,
				    size_t count, const struct prov_sink *sink)
{
	struct http_response rs;
	struct davxml_multistatus ms;
	struct buf body;
	const char **paths = xcalloc(count, sizeof(*paths));
	char (*pathbuf)[HTTP_MAX_URL] = xcalloc(count, HTTP_MAX_URL);
	char *done = xcalloc(count, 1);
	char err[300], url[HTTP_MAX_URL];
	enum tf_err e;
	enum prov_status ps = PROV_OK;

	memset(&ms, 0, sizeof(ms));
	buf_init(&body, 4 * 1024 * 1024);
	for (size_t i = 0; i < count; i++) {
		if (http_url_path(it->v[from + i].url, pathbuf[i], HTTP_MAX_URL) < 0)
			str_copy(pathbuf[i], "/", HTTP_MAX_URL);
		paths[i] = pathbuf[i];
	}
	if (davxml_build_multiget(&body, paths, count) < 0) {
		set_error(d->c, "Interner Fehler: Anfrage zu groß.");
		ps = PROV_ERROR;
		memset(&rs, 0, sizeof(rs));
		goto out;
	}
	e = dav_do(d, "REPORT", cal, "1", XML_CT, NULL, body.data, body.len, 0, 0, &rs, err, sizeof(err));
	if (e != TF_OK) {
		ps = transfer_failed(d->c, e, err);
		goto out;
	}
	if (rs.status != 207) {
		ps = status_failed(d->c, "REPORT calendar-multiget", cal, &rs);
		goto out;
	}
	if (davxml_parse_multistatus(rs.body.data, rs.body.len, &ms, err, sizeof(err)) != TF_OK) {
		log_warn("caldav: calendar-multiget: bad multistatus: %s", err);
		set_error(d->c, "Der Kalender-Server hat eine unlesbare Antwort geschickt.");
		ps = PROV_ERROR;
		goto out;
	}
	for (size_t r = 0; r < ms.n && ps == PROV_OK; r++) {
		const struct davxml_response *resp = &ms.responses[r];
		size_t k;

		if (http_url_resolve(cal, resp->href, url, sizeof(url)) < 0)
			continue;
		for (k = 0; k < count; k++)
			if (!done[k] && !strcmp(it->v[from + k].url, url))
				break;
		if (k == count)
			continue;         /* not asked for */
		done[k] = 1;
		if (resp->status == 404 || (!resp->props.calendar_data && !resp->props.calendar_data_too_big)) {
			if (sink->remove(sink->ud, url) != 0) {
				set_error(d->c, "Interner Fehler beim Speichern der Kalenderdaten.");
				ps = PROV_ERROR;
			}
			continue;
		}
		ps = report_object(d, sink, url, resp->props.getetag ? resp->props.getetag : it->v[from + k].etag,
				   &resp->props);
	}
	for (size_t k = 0; k < count && ps == PROV_OK; k++)
		if (!done[k]) {
			char where[512];
			http_url_for_log(it->v[from + k].url, where, sizeof(where));
			log_warn("caldav: calendar-multiget did not answer for %s", where);
		}
out:
	davxml_multistatus_free(&ms);
	http_response_free(&rs);
	buf_free(&body);
	free(paths);
	free(pathbuf);
	free(done);
	return ps;
}

static enum prov_status fetch_all(struct dav *d, const char *cal, struct items *it, const struct prov_sink *sink)
{
	for (size_t i = 0; i < it->n; i += CALDAV_BATCH) {
		size_t cnt = it->n - i < CALDAV_BATCH ? it->n - i : CALDAV_BATCH;
		enum prov_status ps = fetch_batch(d, cal, it, i, cnt, sink);
		if (ps != PROV_OK)
			return ps;
	}
	return PROV_OK;
}

/* Is this member new or changed (compared with what the engine stored)? */
static int changed(const struct prov_sink *sink, const char *url, const char *etag)
{
	const char *known = sink->known_etag ? sink->known_etag(sink->ud, url) : NULL;

	return !known || !etag || strcmp(known, etag) != 0;
}

/* sync-collection from token ("" = initial: lists everything); *newtok malloc'd. */
static enum prov_status sync_collection(struct dav *d, const char *cal, const char *token, int full,
					const struct prov_sink *sink, char **newtok)
{
	char *tok = xstrdup(token ? token : "");
	struct items it = { 0 };
	enum prov_status ps = PROV_OK;
	char err[300], url[HTTP_MAX_URL];

	*newtok = NULL;
	for (int round = 0; round < CALDAV_MAX_ROUNDS; round++) {
		struct http_response rs;
		struct davxml_multistatus ms;
		struct buf body;
		int truncated = 0;
		enum tf_err e;

		buf_init(&body, 64 * 1024);
		if (davxml_build_sync_collection(&body, tok) < 0) {
			buf_free(&body);
			set_error(d->c, "Interner Fehler: ungültiges Synchronisierungs-Token.");
			ps = PROV_TOKEN_INVALID;
			break;
		}
		e = dav_do(d, "REPORT", cal, "0", XML_CT, NULL, body.data, body.len, 0, 0, &rs, err, sizeof(err));
		buf_free(&body);
		if (e != TF_OK) {
			http_response_free(&rs);
			ps = transfer_failed(d->c, e, err);
			break;
		}
		if (rs.status != 207) {
			char cond[64] = "";
			if (*tok && (rs.status == 403 || rs.status == 409 || rs.status == 410)) {
				if (rs.status != 403 ||
				    (davxml_error_condition(rs.body.data, rs.body.len, cond, sizeof(cond)) == 0 &&
				     !strcmp(cond, "valid-sync-token"))) {
					log_info("caldav: sync token no longer valid (HTTP %ld): full resync", rs.status);
					ps = PROV_TOKEN_INVALID;
					http_response_free(&rs);
					break;
				}
			}
			ps = status_failed(d->c, "REPORT sync-collection", cal, &rs);
			http_response_free(&rs);
			break;
		}
		if (davxml_parse_multistatus(rs.body.data, rs.body.len, &ms, err, sizeof(err)) != TF_OK) {
			http_response_free(&rs);
			log_warn("caldav: sync-collection: bad multistatus: %s", err);
			set_error(d->c, "Der Kalender-Server hat eine unlesbare Antwort geschickt.");
			ps = PROV_ERROR;
			break;
		}
		http_response_free(&rs);
		for (size_t i = 0; i < ms.n && ps == PROV_OK; i++) {
			const struct davxml_response *r = &ms.responses[i];
			if (http_url_resolve(cal, r->href, url, sizeof(url)) < 0)
				continue;
			if (same_url(url, cal)) {
				if (r->status == 507)
					truncated = 1;
				continue;     /* the collection itself (iCloud lists it) */
			}
			if (r->status == 404) {
				if (!full && sink->remove(sink->ud, url) != 0) {
					set_error(d->c, "Interner Fehler beim Speichern der Kalenderdaten.");
					ps = PROV_ERROR;
				}
				continue;
			}
			if (r->status && (r->status < 200 || r->status >= 300))
				continue;
			if (!(r->props.found & DAVXML_P_ETAG) && !r->props.getetag)
				continue;
			if (changed(sink, url, r->props.getetag))
				items_add(&it, url, r->props.getetag);
		}
		if (ps == PROV_OK)
			ps = fetch_all(d, cal, &it, sink);
		items_clear(&it);
		if (ps == PROV_OK && !ms.sync_token) {
			set_error(d->c, "Der Kalender-Server hat kein Synchronisierungs-Token geschickt.");
			ps = PROV_ERROR;
		}
		if (ps != PROV_OK) {
			davxml_multistatus_free(&ms);
			break;
		}
		int again = truncated && strcmp(ms.sync_token, tok) != 0;
		free(tok);
		tok = ms.sync_token;
		ms.sync_token = NULL;
		davxml_multistatus_free(&ms);
		if (!again)
			break;
	}
	if (ps == PROV_OK) {
		*newtok = tok;
		tok = NULL;
	}
	free(tok);
	return ps;
}

/* PROPFIND Depth 1 getetag: every member; changed ones fetched (begin_full/end_full by the caller). */
static enum prov_status etag_diff(struct dav *d, const char *cal, const struct prov_sink *sink)
{
	struct davxml_multistatus ms;
	struct items it = { 0 };
	char url[HTTP_MAX_URL];
	enum prov_status ps;

	ps = propfind(d, cal, "1", DAVXML_P_ETAG | DAVXML_P_RESOURCETYPE, 0, 0, &ms, NULL, 0, NULL);
	if (ps != PROV_OK)
		return ps;
	for (size_t i = 0; i < ms.n; i++) {
		const struct davxml_response *r = &ms.responses[i];
		if (http_url_resolve(cal, r->href, url, sizeof(url)) < 0 || same_url(url, cal))
			continue;
		if (r->props.resourcetype & DAVXML_RT_COLLECTION)
			continue;
		if (!r->props.getetag)
			continue;
		if (changed(sink, url, r->props.getetag))
			items_add(&it, url, r->props.getetag);
	}
	davxml_multistatus_free(&ms);
	ps = fetch_all(d, cal, &it, sink);
	items_clear(&it);
	return ps;
}

static enum prov_status caldav_pull(struct prov_ctx *c, const char *cal, const char *cursor,
				    const struct prov_sink *sink, char **new_cursor)
{
	struct dav d;
	struct davxml_multistatus ms;
	json_t *cj = NULL;
	const char *tok = NULL, *ctag = NULL;
	char *newtok = NULL, *cur_ctag = NULL;
	enum prov_status ps;
	int use_sc;

	*new_cursor = NULL;
	if ((ps = dav_init(&d, c)) != PROV_OK)
		return ps;
	if ((ps = check_url(c, cal)) != PROV_OK)
		return ps;
	if (cursor && *cursor) {
		cj = json_loads(cursor, 0, NULL);
		if (json_is_object(cj)) {
			tok = json_string_value(json_object_get(cj, "sync_token"));
			ctag = json_string_value(json_object_get(cj, "ctag"));
		}
	}
	if (tok && *tok) {
		/* incremental: one REPORT when nothing changed */
		ps = sync_collection(&d, cal, tok, 0, sink, &newtok);
		if (ps == PROV_OK)
			*new_cursor = cursor_json("sync_token", newtok);
		goto out;
	}

	ps = propfind(&d, cal, "0", DAVXML_P_CTAG | DAVXML_P_SYNC_TOKEN | DAVXML_P_REPORTS, 0, 0, &ms, NULL, 0, NULL);
	if (ps != PROV_OK)
		goto out;
	if (ms.n && ms.responses[0].props.getctag)
		cur_ctag = xstrdup(ms.responses[0].props.getctag);
	use_sc = ms.n && ms.responses[0].props.sync_collection;
	davxml_multistatus_free(&ms);
	if (json_is_false(json_object_get(c->state, "use_sync_collection")))
		use_sc = 0;
	if (!use_sc && ctag && cur_ctag && !strcmp(ctag, cur_ctag)) {
		*new_cursor = cursor_json("ctag", cur_ctag);   /* unchanged: one request */
		goto out;
	}
	if (sink->begin_full(sink->ud) != 0) {
		set_error(c, "Interner Fehler beim Speichern der Kalenderdaten.");
		ps = PROV_ERROR;
		goto out;
	}
	if (use_sc)
		ps = sync_collection(&d, cal, "", 1, sink, &newtok);
	else
		ps = etag_diff(&d, cal, sink);
	if (ps != PROV_OK)
		goto out;
	if (sink->end_full(sink->ud) != 0) {
		set_error(c, "Interner Fehler beim Speichern der Kalenderdaten.");
		ps = PROV_ERROR;
		goto out;
	}
	*new_cursor = use_sc ? cursor_json("sync_token", newtok) : cursor_json("ctag", cur_ctag);
out:
	if (ps == PROV_OK)
		c->error[0] = '\0';
	free(newtok);
	free(cur_ctag);
	json_decref(cj);
	return ps;
}

const struct provider_ops caldav_provider = {
	.name = "apple",
	.list_calendars = caldav_list_calendars,
	.push_upsert = caldav_push_upsert,
	.push_delete = caldav_push_delete,
	.pull = caldav_pull,
};
