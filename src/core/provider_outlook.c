/* provider_outlook.c: Outlook / Office 365 via Microsoft Graph v1.0: calendars, push with Teams, delta, subscriptions.
 *
 * Tokens (bearer.c, shared with Google): refreshed when expires_at - 60 s is reached and once after
 * a 401 InvalidAuthenticationToken. Microsoft rotates refresh tokens: every refresh answer carries a
 * new one, which replaces the old in c->creds (c->creds_changed = 1; the engine stores it encrypted
 * in one transaction), so the old one is never sent again. invalid_grant (AADSTS70008 expired or
 * revoked, 700082 inactive for 90 days, 50173 revoked after a password change, ...) and
 * interaction_required (50076: MFA / Conditional Access) = PROV_AUTH with a German reason.
 *
 * Retries: 429, 500/502/503/504 and network failures, at most OUTLOOK_MAX_RETRIES times, waiting
 * Retry-After (fractional seconds allowed) or jittered exponential back-off (TF_HTTP_BACKOFF_MS).
 *
 * Push: POST {graph}/me/calendars/{cal}/events with transactionId = outlook_transaction_id (Graph
 * drops a repeated create with the same id: a crash between the POST and storing the mapping cannot
 * make a second event) and our appointment id in a single-value extended property
 * (OUTLOOK_PROP_ID, value "<id>@<installation mark>"). Privacy as for CalDAV/Google: subject and body
 * come from the engine (no patient data, no attendees: Outlook would mail them). A video service
 * asks for a Teams meeting (isOnlineMeeting + teamsForBusiness); accounts without Teams (personal
 * Microsoft accounts, unlicensed mailboxes) either ignore it (no joinUrl in the answer) or refuse it
 * (400): then the event is created without it and no link is reported (ctx.video_link stays NULL,
 * video_pending 0: the confirmation goes without a link). Reschedule = PATCH; cancel = DELETE
 * (404 = already gone). Ids are requested as ImmutableId so they survive moves between folders.
 *
 * Pull: GET {graph}/me/calendars/{cal}/calendarView/delta?startDateTime&endDateTime (per calendar:
 * the doctor picks calendars; the v1.0 reference lists only /me/calendarView/delta for the default
 * one, the delta guide both), window now - 1 day .. now + horizon + 30 days, with
 * Prefer: odata.maxpagesize=100 and outlook.timezone="UTC";
 * @odata.nextLink pages are followed (only on the Graph origin: our token never goes elsewhere)
 * and the final @odata.deltaLink is the cursor {"delta_link", "window_end"}. Entries with @removed
 * are removed. 410 Gone, or syncStateNotFound / resyncRequired, on a stored deltaLink =
 * PROV_TOKEN_INVALID (the engine resyncs in full and diffs). When the horizon passes window_end the
 * calendar is read in full again. Busy rule: not isCancelled and showAs busy, oof, tentative or
 * workingElsewhere; free and unknown never block. All-day events are whole days in the doctor's
 * zone. Own events: delta cannot $expand extended properties, so they are recognised by our
 * transactionId (returned on every event created with one) or by the extended property when present.
 *
 * Subscriptions (watch): POST /subscriptions, changeType created,updated,deleted, resource
 * me/events (the whole mailbox: one per connection; channels.c treats Outlook as per-account) or
 * me/calendars/{cal}/events when a calendar is given, notificationUrl = address and
 * lifecycleNotificationUrl = address + "/lifecycle" (BASE_URL/webhooks/calendar/outlook), clientState
 * = our random token, expirationDateTime = now + MICROSOFT_SUBSCRIPTION_MINUTES. Graph validates both
 * URLs before it answers. unwatch = DELETE (404 = gone = ok).
 *
 * Disconnect: the Microsoft identity platform has no revocation endpoint for the authorization-code
 * flow, so there is no revoke op: disconnecting deletes the subscriptions (unwatch) and the
 * connection's row with its encrypted tokens; the grant itself stays listed in the account's app
 * permissions (account.microsoft.com / myapps.microsoft.com) until the doctor removes it there, and
 * the unused refresh token expires after 90 days. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bearer.h"
#include "http.h"
#include "log.h"
#include "provider_outlook.h"
#include "tztime.h"

#define OUTLOOK_MAX_WAIT_MS    60000
#define OUTLOOK_MAX_PAGES      2000
#define OUTLOOK_MAX_RESPONSE   (8 * 1024 * 1024)
#define OUTLOOK_PAGE_SIZE      100
#define OUTLOOK_WINDOW_EXTRA   (30 * 86400)
#define OUTLOOK_DEFAULT_TZ     "Europe/Berlin"

#define MSG_AUTH   "Microsoft hat den Zugriff auf den Outlook-Kalender widerrufen oder abgelehnt. Bitte " \
		   "verbinden Sie Ihr Outlook-Konto erneut."
#define MSG_70008  "Die Microsoft-Anmeldung ist abgelaufen oder wurde widerrufen. Bitte verbinden Sie Ihr " \
		   "Outlook-Konto erneut."
#define MSG_700082 "Die Microsoft-Anmeldung ist nach 90 Tagen ohne Nutzung abgelaufen. Bitte verbinden Sie " \
		   "Ihr Outlook-Konto erneut."
#define MSG_50173  "Die Microsoft-Anmeldung wurde widerrufen (zum Beispiel nach einer Passwortänderung). " \
		   "Bitte verbinden Sie Ihr Outlook-Konto erneut."
#define MSG_INTERACTION "Microsoft verlangt eine erneute Anmeldung (zum Beispiel eine mehrstufige " \
			"Authentifizierung). Bitte verbinden Sie Ihr Outlook-Konto erneut."
#define MSG_RETRY  "Outlook ist vorübergehend nicht erreichbar oder begrenzt die Anfragen. Die " \
		   "Synchronisierung wird später erneut versucht."
#define MSG_CONFIG "Die Outlook-Anbindung ist nicht vollständig eingerichtet (MICROSOFT_CLIENT_ID / " \
		   "MICROSOFT_CLIENT_SECRET)."
#define MSG_ERROR  "Outlook hat die Anfrage abgelehnt."
#define MSG_NOCAL  "Ein Outlook-Kalender dieser Verbindung ist nicht mehr vorhanden."


struct octx {
	struct prov_ctx *c;
	struct bearer b;
	const char *graph;
};

static void set_error(struct prov_ctx *c, const char *msg)
{
	str_copy(c->error, msg, sizeof(c->error));
}

/* ---------------------------------------------------------------- endpoints */

/* Strings built from settings that must outlive every caller: kept for the process (a handful). */
static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
struct interned {
	struct interned *next;
	char s[];
};
static struct interned *interned_head;

static const char *intern(const char *s)
{
	struct interned *i;
	size_t n = strlen(s);

	pthread_mutex_lock(&intern_lock);
	for (i = interned_head; i; i = i->next)
		if (!strcmp(i->s, s))
			break;
	if (!i) {
		i = xmalloc(sizeof(*i) + n + 1);
		memcpy(i->s, s, n + 1);
		i->next = interned_head;
		interned_head = i;
	}
	pthread_mutex_unlock(&intern_lock);
	return i->s;
}

int outlook_endpoints(struct conf *c, struct oauth_endpoints *ep, char *err, size_t errlen)
{
	const char *auth = conf_get_default(c, "MICROSOFT_AUTHORITY", OUTLOOK_DEFAULT_AUTHORITY);
	char url[HTTP_MAX_URL], terr[200];
	size_t n = strlen(auth);
	long timeout;

	memset(ep, 0, sizeof(*ep));
	while (n && auth[n - 1] == '/')
		n--;
	if ((strncmp(auth, "https://", 8) && strncmp(auth, "http://", 7)) || n + 40 >= sizeof(url) ||
	    strchr(auth, '?') || strchr(auth, '#')) {
		err_set(err, errlen, "MICROSOFT_AUTHORITY is not an http(s) URL");
		return -1;
	}
	snprintf(url, sizeof(url), "%.*s/oauth2/v2.0/authorize", (int)n, auth);
	ep->auth_uri = intern(url);
	snprintf(url, sizeof(url), "%.*s/oauth2/v2.0/token", (int)n, auth);
	ep->token_uri = intern(url);
	ep->revoke_uri = NULL;
	ep->client_id = conf_get(c, "MICROSOFT_CLIENT_ID");
	ep->client_secret = conf_get(c, "MICROSOFT_CLIENT_SECRET");
	ep->redirect_uri = conf_get(c, "MICROSOFT_REDIRECT_URI");
	ep->scopes = OUTLOOK_SCOPES;
	ep->scope_on_token = 1;
	/* not prompt=consent: in tenants where only an admin may consent, a forced user consent fails
	 * even after the admin granted it; Microsoft returns a refresh token on every code exchange */
	ep->prompt = "select_account";
	timeout = http_timeout_conf(c, terr, sizeof(terr));
	ep->timeout = timeout > 0 ? timeout : HTTP_DEFAULT_TIMEOUT;
	if (!ep->client_id || !*ep->client_id) {
		err_set(err, errlen, "MICROSOFT_CLIENT_ID is not set");
		return -1;
	}
	if (!ep->client_secret || !*ep->client_secret) {
		err_set(err, errlen, "MICROSOFT_CLIENT_SECRET is not set");
		return -1;
	}
	return 0;
}

void outlook_transaction_id(struct conf *c, long long appointment_id, char out[OUTLOOK_TXN_MAX])
{
	char mark[PROV_MARK_LEN];

	prov_instance_mark(c, mark);
	snprintf(out, OUTLOOK_TXN_MAX, "tf-%s-%lld", mark, appointment_id);
}

/* ---------------------------------------------------------------- calls */

/* error.code of a Graph error body ("" when none). */
static void error_code(const struct http_response *rs, char *code, size_t len)
{
	json_t *j;
	const char *s;

	code[0] = '\0';
	if (!rs->body.len)
		return;
	j = json_loadb(rs->body.data, rs->body.len, 0, NULL);
	s = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
	if (s)
		str_copy(code, s, len);
	json_decref(j);
}

static int transient(long status)
{
	return status == 0 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static int o_retryable(const struct http_response *rs)
{
	return transient(rs->status);
}

/* The German reason of a refused refresh, by the AADSTS code at the start of its description. */
static void refine_auth_error(struct octx *o)
{
	const struct oauth_error *e = &o->b.refresh_error;
	long code = 0;

	if (!e->error[0])
		return;
	if (!strncmp(e->description, "AADSTS", 6)) {
		char num[16];
		size_t k = 0;

		while (k < sizeof(num) - 1 && e->description[6 + k] >= '0' && e->description[6 + k] <= '9') {
			num[k] = e->description[6 + k];
			k++;
		}
		num[k] = '\0';
		if (str_to_long(num, 1, 99999999, &code) < 0)
			code = 0;
	}
	log_warn("outlook: integration %lld: the token endpoint answered %s (AADSTS%ld)", o->c->integration_id,
		 e->error, code);
	if (!strcmp(e->error, "interaction_required"))
		set_error(o->c, MSG_INTERACTION);
	else if (code == 70008)
		set_error(o->c, MSG_70008);
	else if (code == 700082)
		set_error(o->c, MSG_700082);
	else if (code == 50173)
		set_error(o->c, MSG_50173);
}

static const struct bearer_kind outlook_kind = {
	.tag = "outlook",
	.msgs = { .auth = MSG_AUTH, .config = MSG_CONFIG, .retry = MSG_RETRY, .error = MSG_ERROR },
	.max_retries = OUTLOOK_MAX_RETRIES,
	.max_wait_ms = OUTLOOK_MAX_WAIT_MS,
	.max_response = OUTLOOK_MAX_RESPONSE,
	.retryable = o_retryable,
};

static enum prov_status o_init(struct octx *o, struct prov_ctx *c)
{
	char err[200];

	memset(o, 0, sizeof(*o));
	o->c = c;
	c->error[0] = '\0';
	if (outlook_endpoints(c->conf, &o->b.ep, err, sizeof(err)) < 0) {
		log_error("outlook: %s", err);
		set_error(c, MSG_CONFIG);
		return PROV_ERROR;
	}
	o->graph = conf_get_default(c->conf, "MICROSOFT_GRAPH_BASE", OUTLOOK_DEFAULT_GRAPH_BASE);
	return bearer_init(&o->b, c, &outlook_kind);
}

/* One Graph call. url: absolute. prefer: extra Prefer values (NULL = none). *reply: the JSON of a
 * 2xx answer (NULL when empty). code: Graph's error.code of a failure. The mapped status; callers
 * look at rs->status for details. */
static enum prov_status o_call(struct octx *o, const char *method, const char *url, json_t *body,
			       const char *prefer, struct http_response *rs, json_t **reply, char code[64])
{
	const char *headers[6];
	char pref[300], where[512];
	char *text = NULL;
	int nh = 0;
	enum prov_status ps;

	code[0] = '\0';
	if (reply)
		*reply = NULL;
	http_url_for_log(url, where, sizeof(where));
	if (body)
		text = json_dumps(body, JSON_COMPACT);
	headers[nh++] = "Accept: application/json";
	if (text)
		headers[nh++] = "Content-Type: application/json";
	/* one Prefer header, the preferences comma-joined (RFC 7240) */
	snprintf(pref, sizeof(pref), "Prefer: IdType=\"ImmutableId\"%s%s", prefer ? ", " : "", prefer ? prefer : "");
	headers[nh++] = pref;
	headers[nh] = NULL;
	if ((ps = bearer_send(&o->b, method, url, headers, text, rs)) != PROV_OK) {
		if (ps == PROV_AUTH)
			refine_auth_error(o);
		goto out;
	}
	error_code(rs, code, 64);
	if (rs->status >= 200 && rs->status < 300) {
		if (reply && rs->body.len) {
			*reply = json_loadb(rs->body.data, rs->body.len, JSON_REJECT_DUPLICATES, NULL);
			if (!json_is_object(*reply)) {
				json_decref(*reply);
				*reply = NULL;
				log_warn("outlook: %s %s: the answer is not a JSON object", method, where);
				set_error(o->c, MSG_ERROR);
				ps = PROV_ERROR;
				goto out;
			}
		}
		ps = PROV_OK;
		goto out;
	}
	if (rs->status == 404 || rs->status == 410) {
		ps = PROV_NOT_FOUND;
		goto out;
	}
	if (rs->status == 409 || rs->status == 412) {
		ps = PROV_PRECONDITION;
		goto out;
	}
	log_warn("outlook: %s %s: HTTP %ld %s", method, where, rs->status, code);
	if (rs->status == 401 || (rs->status == 403 && (!strcmp(code, "ErrorAccessDenied") ||
							 !strcmp(code, "accessDenied") ||
							 !strcmp(code, "Authorization_RequestDenied")))) {
		set_error(o->c, MSG_AUTH);
		ps = PROV_AUTH;
	} else if (transient(rs->status)) {
		set_error(o->c, MSG_RETRY);
		ps = PROV_RETRY;
	} else {
		set_error(o->c, MSG_ERROR);
		ps = PROV_ERROR;
	}
out:
	free(text);
	return ps;
}

/* graph + path (+ escaped segment + rest) into b. */
static void graph_url(struct octx *o, struct buf *b, const char *path, const char *seg, const char *rest)
{
	buf_init(b, HTTP_MAX_URL);
	buf_puts(b, o->graph);
	buf_puts(b, path);
	if (seg)
		oauth_form_escape(b, seg);
	if (rest)
		buf_puts(b, rest);
}

/* A link the server handed us (nextLink, deltaLink): only followed on the Graph origin. */
static int link_ok(struct octx *o, const char *link)
{
	return link && *link && strlen(link) < HTTP_MAX_URL && http_same_origin(link, o->graph);
}

/* ---------------------------------------------------------------- calendars, account */

static enum prov_status outlook_list_calendars(struct prov_ctx *c, struct prov_calendar **out, size_t *n)
{
	struct octx o;
	struct prov_calendar *cals = NULL;
	size_t count = 0;
	char code[64], *next = NULL;
	enum prov_status ps;

	*out = NULL;
	*n = 0;
	if ((ps = o_init(&o, c)) != PROV_OK)
		return ps;
	for (int p = 0; p < 50; p++) {
		struct http_response rs;
		struct buf url;
		json_t *j = NULL, *it;
		size_t i;
		const char *nl;

		if (next) {
			buf_init(&url, HTTP_MAX_URL);
			buf_puts(&url, next);
		} else {
			graph_url(&o, &url, "/me/calendars?$top=100", NULL, NULL);
		}
		ps = o_call(&o, "GET", url.data, NULL, NULL, &rs, &j, code);
		buf_free(&url);
		http_response_free(&rs);
		if (ps == PROV_NOT_FOUND) {
			set_error(c, MSG_ERROR);
			ps = PROV_ERROR;
		}
		if (ps == PROV_OK && !j)
			ps = PROV_ERROR;
		if (ps != PROV_OK) {
			json_decref(j);
			goto fail;
		}
		json_array_foreach(json_object_get(j, "value"), i, it) {
			const char *id = json_string_value(json_object_get(it, "id"));
			const char *name = json_string_value(json_object_get(it, "name"));
			const char *color = json_string_value(json_object_get(it, "hexColor"));

			if (!id || !*id || strlen(id) > 1024 || count >= 500)
				continue;
			prov_calendars_push(&cals, &count, id, name, color,
					    json_is_true(json_object_get(it, "canEdit")));
		}
		free(next);
		next = NULL;
		nl = json_string_value(json_object_get(j, "@odata.nextLink"));
		if (nl && link_ok(&o, nl))
			next = xstrdup(nl);
		json_decref(j);
		if (!next)
			break;
	}
	free(next);
	*out = cals;
	*n = count;
	return PROV_OK;
fail:
	free(next);
	prov_calendars_free(cals, count);
	return ps;
}

enum prov_status outlook_account_email(struct prov_ctx *c, char *email, size_t len)
{
	struct octx o;
	struct http_response rs;
	struct buf url;
	json_t *j = NULL;
	char code[64];
	const char *s;
	enum prov_status ps;

	email[0] = '\0';
	if ((ps = o_init(&o, c)) != PROV_OK)
		return ps;
	graph_url(&o, &url, "/me", NULL, NULL);
	ps = o_call(&o, "GET", url.data, NULL, NULL, &rs, &j, code);
	buf_free(&url);
	http_response_free(&rs);
	if (ps == PROV_OK) {
		s = json_string_value(json_object_get(j, "mail"));
		if (!s || !strchr(s, '@'))
			s = json_string_value(json_object_get(j, "userPrincipalName"));
		if (!s || !*s || strlen(s) >= len || !strchr(s, '@')) {
			set_error(c, "Microsoft hat keine E-Mail-Adresse des Kontos übermittelt.");
			ps = PROV_ERROR;
		} else {
			str_copy(email, s, len);
		}
	} else if (ps == PROV_NOT_FOUND) {
		ps = PROV_ERROR;
	}
	json_decref(j);
	return ps;
}

/* ---------------------------------------------------------------- times */

/* A dateTimeTimeZone ("2025-03-10T10:00:00.0000000" + timeZone) to UTC. all_day: the date part as
 * local midnight in tz (the doctor's zone). Returns 0 or -1. */
static int graph_time(json_t *dtz, int all_day, const char *tz, time_t *out)
{
	const char *dt = json_string_value(json_object_get(dtz, "dateTime"));
	const char *zone = json_string_value(json_object_get(dtz, "timeZone"));
	int y, mo, d, h, mi, sec, n = 0;
	struct civil cv;
	const char *p;

	if (!dt || sscanf(dt, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19 ||
	    !civil_date_valid(y, mo, d) || h > 23 || mi > 59 || sec > 59)
		return -1;
	p = dt + n;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z')
		p++;
	if (*p)
		return -1;
	cv.year = y;
	cv.month = mo;
	cv.day = d;
	cv.hour = cv.minute = 0;
	if (all_day)
		return tz_local_to_utc(tz, &cv, out) == 0 ? 0 : -1;
	if (!zone || !*zone || !strcmp(zone, "UTC") || !strcmp(zone, "Etc/UTC") ||
	    !strcmp(zone, "tzone://Microsoft/Utc")) {
		*out = (time_t)(civil_to_days(y, mo, d) * 86400L + h * 3600L + mi * 60L + sec);
		return 0;
	}
	if (!tz_valid(zone))
		return -1;   /* we ask for UTC; a Windows zone name here is not something we guess at */
	cv.hour = h;
	cv.minute = mi;
	if (tz_local_to_utc(zone, &cv, out) < 0)
		return -1;
	*out += sec;
	return 0;
}

static json_t *time_json(time_t t)
{
	char iso[21];

	utc_format_iso(t, iso);
	iso[19] = '\0';   /* no 'Z': the zone is its own field */
	return json_pack("{s:s, s:s}", "dateTime", iso, "timeZone", "UTC");
}

/* ---------------------------------------------------------------- push */

/* The event body: create = with transactionId and our property; teams = ask for a Teams meeting. */
static json_t *event_body(struct octx *o, const struct prov_event *e, int create, int teams)
{
	char txn[OUTLOOK_TXN_MAX], mark[PROV_MARK_LEN], val[48];
	json_t *b;

	b = json_pack("{s:s, s:{s:s, s:s}, s:o, s:o, s:s, s:b, s:b}",
		      "subject", e->summary ? e->summary : "Termin (TerminFinder)",
		      "body", "contentType", "text", "content", e->description ? e->description : "",
		      "start", time_json(e->start), "end", time_json(e->end),
		      "showAs", "busy", "isReminderOn", 0, "allowNewTimeProposals", 0);
	if (!b)
		return NULL;
	if (e->location && *e->location)
		json_object_set_new(b, "location", json_pack("{s:s}", "displayName", e->location));
	else if (!create)
		json_object_set_new(b, "location", json_pack("{s:s}", "displayName", ""));
	if (create) {
		outlook_transaction_id(o->c->conf, e->appointment_id, txn);
		prov_instance_mark(o->c->conf, mark);
		snprintf(val, sizeof(val), "%lld@%s", e->appointment_id, mark);
		json_object_set_new(b, "transactionId", json_string(txn));
		json_object_set_new(b, "singleValueExtendedProperties",
				    json_pack("[{s:s, s:s}]", "id", OUTLOOK_PROP_ID, "value", val));
	}
	if (teams) {
		json_object_set_new(b, "isOnlineMeeting", json_true());
		json_object_set_new(b, "onlineMeetingProvider", json_string("teamsForBusiness"));
	}
	return b;
}

/* The Teams join URL of an event into out: 1 found, 0 none. */
static int teams_link(json_t *ev, char *out, size_t len)
{
	const char *u = json_string_value(json_object_get(json_object_get(ev, "onlineMeeting"), "joinUrl"));

	out[0] = '\0';
	if (u && !strncmp(u, "https://", 8) && strlen(u) < len && !strpbrk(u, " \r\n\"<>")) {
		str_copy(out, u, len);
		return 1;
	}
	return 0;
}

static void event_url(struct octx *o, struct buf *b, const char *cal, const char *eid)
{
	if (eid) {
		graph_url(o, b, "/me/events/", eid, NULL);
		return;
	}
	graph_url(o, b, "/me/calendars/", cal, "/events");
}

/* POST the create body; the answer in *ev. */
static enum prov_status create_event(struct octx *o, const char *cal, const struct prov_event *e, int teams,
				     json_t **ev, long *status)
{
	struct http_response rs;
	struct buf url;
	json_t *body = event_body(o, e, 1, teams);
	char code[64];
	enum prov_status ps;

	if (!body)
		return PROV_ERROR;
	event_url(o, &url, cal, NULL);
	ps = o_call(o, "POST", url.data, body, "outlook.timezone=\"UTC\"", &rs, ev, code);
	*status = rs.status;
	buf_free(&url);
	http_response_free(&rs);
	json_decref(body);
	if (ps == PROV_OK && !*ev)
		ps = PROV_ERROR;
	return ps;
}

static enum prov_status patch_event(struct octx *o, const char *eid, json_t *body, json_t **ev)
{
	struct http_response rs;
	struct buf url;
	char code[64];
	enum prov_status ps;

	event_url(o, &url, NULL, eid);
	ps = o_call(o, "PATCH", url.data, body, "outlook.timezone=\"UTC\"", &rs, ev, code);
	buf_free(&url);
	http_response_free(&rs);
	if (ps == PROV_OK && !*ev)
		ps = PROV_ERROR;
	return ps;
}

/* Our event for e in cal, found by the extended property (a create refused as a duplicate). */
static enum prov_status find_own(struct octx *o, const char *cal, const struct prov_event *e, json_t **ev)
{
	struct http_response rs;
	struct buf url, f;
	char mark[PROV_MARK_LEN], code[64];
	json_t *j = NULL, *first;
	enum prov_status ps;

	*ev = NULL;
	prov_instance_mark(o->c->conf, mark);
	buf_init(&f, 1024);
	buf_printf(&f, "singleValueExtendedProperties/Any(ep: ep/id eq '%s' and ep/value eq '%lld@%s')",
		   OUTLOOK_PROP_ID, e->appointment_id, mark);
	graph_url(o, &url, "/me/calendars/", cal, "/events?$filter=");
	oauth_form_escape(&url, f.data);
	buf_free(&f);
	ps = o_call(o, "GET", url.data, NULL, "outlook.timezone=\"UTC\"", &rs, &j, code);
	buf_free(&url);
	http_response_free(&rs);
	if (ps == PROV_OK) {
		first = json_array_get(json_object_get(j, "value"), 0);
		if (json_is_object(first))
			*ev = json_incref(first);
		else
			ps = PROV_NOT_FOUND;
	}
	json_decref(j);
	return ps;
}

/* 1 when the event's start/end are ours. */
static int times_match(json_t *ev, const struct prov_event *e)
{
	time_t s, t;

	return graph_time(json_object_get(ev, "start"), 0, "UTC", &s) == 0 &&
	       graph_time(json_object_get(ev, "end"), 0, "UTC", &t) == 0 && s == e->start && t == e->end;
}

static enum prov_status outlook_push_upsert(struct prov_ctx *c, const char *cal, const struct prov_event *e,
					    const char *remote_id, const char *etag, char **new_remote_id,
					    char **new_etag)
{
	struct octx o;
	char link[512];
	json_t *body = NULL, *ev = NULL;
	const char *id, *tag;
	long status = 0;
	int teams = e->create_meet;
	enum prov_status ps;

	(void)etag;   /* Graph's If-Match on events is not dependable; our write wins, as for CalDAV moves */
	*new_remote_id = *new_etag = NULL;
	free(c->video_link);
	c->video_link = NULL;
	c->video_pending = 0;
	if ((ps = o_init(&o, c)) != PROV_OK)
		return ps;
	if (!remote_id || !*remote_id) {
		ps = create_event(&o, cal, e, teams, &ev, &status);
		if (teams && (ps == PROV_ERROR || ps == PROV_PRECONDITION) && status >= 400 && status < 500) {
			/* the account cannot have Teams meetings: the event without one */
			log_info("outlook: appointment %lld: a Teams meeting was refused (HTTP %ld); created without",
				 e->appointment_id, status);
			teams = 0;
			json_decref(ev);
			ev = NULL;
			c->error[0] = '\0';
			ps = create_event(&o, cal, e, 0, &ev, &status);
		}
		if (ps == PROV_PRECONDITION) {
			/* refused as a duplicate of an earlier try: converge on that event */
			log_info("outlook: appointment %lld: the event exists already; updating it", e->appointment_id);
			json_decref(ev);
			c->error[0] = '\0';
			ps = find_own(&o, cal, e, &ev);
		}
		if (ps != PROV_OK)
			goto out;
		/* a repeated transactionId hands back the event of the first try: bring its times up to date */
		if (!times_match(ev, e)) {
			json_t *ev2 = NULL;

			id = json_string_value(json_object_get(ev, "id"));
			body = event_body(&o, e, 0, 0);
			if (!id || !body || (ps = patch_event(&o, id, body, &ev2)) != PROV_OK) {
				json_decref(ev2);
				if (ps == PROV_OK)
					ps = PROV_ERROR;
				goto out;
			}
			json_decref(ev);
			ev = ev2;
		}
	} else {
		body = event_body(&o, e, 0, 0);
		if (!body) {
			ps = PROV_ERROR;
			goto out;
		}
		ps = patch_event(&o, remote_id, body, &ev);
		if (ps != PROV_OK)
			goto out;   /* 404: deleted in the calendar (flag for review) */
		if (teams && !teams_link(ev, link, sizeof(link)) &&
		    !json_is_true(json_object_get(ev, "isOnlineMeeting"))) {
			json_t *only = json_pack("{s:b, s:s}", "isOnlineMeeting", 1, "onlineMeetingProvider",
						 "teamsForBusiness"), *ev2 = NULL;

			if (patch_event(&o, remote_id, only, &ev2) == PROV_OK) {
				json_decref(ev);
				ev = ev2;
			} else {
				json_decref(ev2);
				c->error[0] = '\0';
				log_info("outlook: appointment %lld: no Teams meeting for this account", e->appointment_id);
			}
			json_decref(only);
		}
	}
	id = json_string_value(json_object_get(ev, "id"));
	if (!id || !*id || strlen(id) > 1024) {
		log_warn("outlook: appointment %lld: the answer has no event id", e->appointment_id);
		set_error(c, MSG_ERROR);
		ps = PROV_ERROR;
		goto out;
	}
	if (e->create_meet) {
		if (teams_link(ev, link, sizeof(link)))
			c->video_link = xstrdup(link);
		else
			log_info("outlook: appointment %lld: no Teams link (the account has no Teams)", e->appointment_id);
	}
	tag = json_string_value(json_object_get(ev, "@odata.etag"));
	if (!tag)
		tag = json_string_value(json_object_get(ev, "changeKey"));
	*new_remote_id = xstrdup(id);
	*new_etag = xstrdup(tag ? tag : "");
out:
	json_decref(body);
	json_decref(ev);
	return ps;
}

static enum prov_status outlook_push_delete(struct prov_ctx *c, const char *cal, const char *remote_id,
					    const char *etag)
{
	struct octx o;
	struct http_response rs;
	struct buf url;
	char code[64];
	enum prov_status ps;

	(void)cal;
	(void)etag;
	if (!remote_id || !*remote_id)
		return PROV_OK;
	if ((ps = o_init(&o, c)) != PROV_OK)
		return ps;
	event_url(&o, &url, NULL, remote_id);
	ps = o_call(&o, "DELETE", url.data, NULL, NULL, &rs, NULL, code);
	buf_free(&url);
	http_response_free(&rs);
	if (ps == PROV_NOT_FOUND) {   /* ErrorItemNotFound: already gone */
		c->error[0] = '\0';
		ps = PROV_OK;
	}
	return ps;
}

/* ---------------------------------------------------------------- pull */

struct pull_run {
	struct octx *o;
	const struct prov_sink *sink;
	const char *tz;
	time_t win_start, win_end;
	int full;
	char txn_prefix[16];   /* "tf-<mark>-" */
	char mark[PROV_MARK_LEN];
};

/* Our appointment id of an event (0 when not ours): by transactionId, else the extended property. */
static long own_id(struct pull_run *pr, json_t *ev)
{
	const char *txn = json_string_value(json_object_get(ev, "transactionId"));
	json_t *props = json_object_get(ev, "singleValueExtendedProperties"), *p;
	size_t n = strlen(pr->txn_prefix), i;
	long id;

	if (txn && !strncmp(txn, pr->txn_prefix, n) && str_to_long(txn + n, 1, 0x7fffffffL, &id) == 0)
		return id;
	json_array_foreach(props, i, p) {
		const char *pid = json_string_value(json_object_get(p, "id"));
		const char *v = json_string_value(json_object_get(p, "value"));
		const char *at;
		char num[24];

		if (!pid || strcasecmp(pid, OUTLOOK_PROP_ID) || !v || !(at = strchr(v, '@')) || strcmp(at + 1, pr->mark) ||
		    (size_t)(at - v) >= sizeof(num))
			continue;
		memcpy(num, v, (size_t)(at - v));
		num[at - v] = '\0';
		if (str_to_long(num, 1, 0x7fffffffL, &id) == 0)
			return id;
	}
	return 0;
}

static int blocks(json_t *ev)
{
	const char *show = json_string_value(json_object_get(ev, "showAs"));

	if (json_is_true(json_object_get(ev, "isCancelled")) || !show)
		return 0;
	return !strcmp(show, "busy") || !strcmp(show, "oof") || !strcmp(show, "tentative") ||
	       !strcmp(show, "workingElsewhere");
}

/* Report one delta entry. Returns 0, or -1 when the sink failed. */
static int report_event(struct pull_run *pr, json_t *ev)
{
	const char *id = json_string_value(json_object_get(ev, "id"));
	const char *etag = json_string_value(json_object_get(ev, "@odata.etag"));
	int all_day = json_is_true(json_object_get(ev, "isAllDay"));
	time_t s, e;

	if (!id || !*id || strlen(id) > 1024)
		return 0;
	if (json_object_get(ev, "@removed")) {
		if (pr->full)
			return 0;   /* end_full removes what was not reported */
		return pr->sink->remove(pr->sink->ud, id) ? -1 : 0;
	}
	if (prov_object_unchanged(pr->sink, pr->full, id, etag))
		return 0;
	if (graph_time(json_object_get(ev, "start"), all_day, pr->tz, &s) < 0 ||
	    graph_time(json_object_get(ev, "end"), all_day, pr->tz, &e) < 0 || e < s) {
		log_warn("outlook: integration %lld: event without readable start/end; no busy time",
			 pr->o->c->integration_id);
		s = e = 0;
	}
	return prov_report_object(pr->sink, id, etag, own_id(pr, ev), s, e, blocks(ev), pr->win_start, pr->win_end);
}

static enum prov_status outlook_pull(struct prov_ctx *c, const char *cal, const char *cursor,
				     const struct prov_sink *sink, char **new_cursor)
{
	struct octx o;
	struct pull_run pr = { 0 };
	json_t *cur = NULL, *nc;
	const char *link = NULL;
	char *next = NULL, *delta = NULL, prefer[64], tmin[21], tmax[21];
	json_int_t window_end = 0;
	enum prov_status ps;
	time_t now;

	*new_cursor = NULL;
	if ((ps = o_init(&o, c)) != PROV_OK)
		return ps;
	now = bearer_now(&o.b);
	pr.o = &o;
	pr.sink = sink;
	pr.tz = c->timezone && tz_valid(c->timezone) ? c->timezone : OUTLOOK_DEFAULT_TZ;
	prov_instance_mark(c->conf, pr.mark);
	snprintf(pr.txn_prefix, sizeof(pr.txn_prefix), "tf-%s-", pr.mark);
	pr.win_start = now - 86400;
	pr.win_end = now + (time_t)(c->horizon_days > 0 ? c->horizon_days : 365) * 86400;
	if (cursor && *cursor && (cur = json_loads(cursor, 0, NULL))) {
		link = json_string_value(json_object_get(cur, "delta_link"));
		window_end = json_integer_value(json_object_get(cur, "window_end"));
	}
	if (link && !link_ok(&o, link)) {
		log_warn("outlook: integration %lld: stored deltaLink is not on the Graph origin; full sync",
			 c->integration_id);
		link = NULL;
	}
	if (!link || window_end < (json_int_t)pr.win_end) {
		struct buf url;

		pr.full = 1;
		window_end = (json_int_t)(pr.win_end + OUTLOOK_WINDOW_EXTRA);
		if (sink->begin_full && sink->begin_full(sink->ud)) {
			ps = PROV_ERROR;
			goto out;
		}
		utc_format_iso(pr.win_start, tmin);
		utc_format_iso((time_t)window_end, tmax);
		graph_url(&o, &url, "/me/calendars/", cal, "/calendarView/delta?startDateTime=");
		buf_puts(&url, tmin);
		buf_puts(&url, "&endDateTime=");
		buf_puts(&url, tmax);
		next = xstrdup(url.data);
		buf_free(&url);
	} else {
		next = xstrdup(link);
	}
	snprintf(prefer, sizeof(prefer), "odata.maxpagesize=%d, outlook.timezone=\"UTC\"", OUTLOOK_PAGE_SIZE);
	for (int p = 0; next; p++) {
		struct http_response rs;
		json_t *j = NULL, *it;
		const char *nl, *dl;
		char code[64];
		size_t i;

		if (p >= OUTLOOK_MAX_PAGES) {
			log_warn("outlook: integration %lld: more than %d pages; stopped", c->integration_id, p);
			set_error(c, MSG_ERROR);
			ps = PROV_ERROR;
			goto out;
		}
		ps = o_call(&o, "GET", next, NULL, prefer, &rs, &j, code);
		if (!pr.full && (rs.status == 410 || !strcmp(code, "syncStateNotFound") ||
				 !strcmp(code, "resyncRequired"))) {
			log_info("outlook: integration %lld: delta token no longer valid (HTTP %ld %s): full resync",
				 c->integration_id, rs.status, code);
			c->error[0] = '\0';
			ps = PROV_TOKEN_INVALID;
		} else if (ps == PROV_NOT_FOUND) {
			set_error(c, MSG_NOCAL);
		} else if (ps == PROV_OK && !j) {
			set_error(c, MSG_ERROR);
			ps = PROV_ERROR;
		}
		http_response_free(&rs);
		free(next);
		next = NULL;
		if (ps != PROV_OK) {
			json_decref(j);
			goto out;
		}
		json_array_foreach(json_object_get(j, "value"), i, it) {
			if (report_event(&pr, it) < 0) {
				json_decref(j);
				ps = PROV_ERROR;
				goto out;
			}
		}
		nl = json_string_value(json_object_get(j, "@odata.nextLink"));
		dl = json_string_value(json_object_get(j, "@odata.deltaLink"));
		if (nl && *nl) {
			if (!link_ok(&o, nl)) {
				log_warn("outlook: integration %lld: a nextLink off the Graph origin refused",
					 c->integration_id);
				set_error(c, MSG_ERROR);
				ps = PROV_ERROR;
				json_decref(j);
				goto out;
			}
			next = xstrdup(nl);
		} else if (dl && link_ok(&o, dl)) {
			delta = xstrdup(dl);
		}
		json_decref(j);
	}
	if (!delta) {
		log_warn("outlook: integration %lld: the delta ended without a usable deltaLink", c->integration_id);
		set_error(c, MSG_ERROR);
		ps = PROV_ERROR;
		goto out;
	}
	if (pr.full && sink->end_full && sink->end_full(sink->ud)) {
		ps = PROV_ERROR;
		goto out;
	}
	nc = json_pack("{s:s, s:I}", "delta_link", delta, "window_end", window_end);
	*new_cursor = json_dumps(nc, JSON_COMPACT);
	json_decref(nc);
	ps = PROV_OK;
out:
	free(next);
	free(delta);
	json_decref(cur);
	return ps;
}

/* ---------------------------------------------------------------- subscriptions */

static void expiry(struct octx *o, char out[32], time_t *at)
{
	char err[200], iso[21];
	long minutes;

	if (conf_get_long(o->c->conf, "MICROSOFT_SUBSCRIPTION_MINUTES", OUTLOOK_SUBSCRIPTION_MINUTES, 60, 10080,
			  &minutes, err, sizeof(err)) < 0) {
		log_warn("outlook: %s; using %d", err, OUTLOOK_SUBSCRIPTION_MINUTES);
		minutes = OUTLOOK_SUBSCRIPTION_MINUTES;
	}
	*at = bearer_now(&o->b) + (time_t)minutes * 60;
	utc_format_iso(*at, iso);
	snprintf(out, 32, "%.19s.0000000Z", iso);
}

/* expirationDateTime of a subscription answer, else fallback. */
static time_t answer_expiry(json_t *ans, time_t fallback)
{
	json_t *d = json_pack("{s:O, s:s}", "dateTime", json_object_get(ans, "expirationDateTime"), "timeZone", "UTC");
	const char *s = json_string_value(json_object_get(ans, "expirationDateTime"));
	char trimmed[40];
	time_t t;
	size_t n;

	if (!d || !s || (n = strlen(s)) >= sizeof(trimmed)) {
		json_decref(d);
		return fallback;
	}
	/* "2025-03-16T10:00:00Z" or "...+00:00": graph_time wants no offset */
	str_copy(trimmed, s, sizeof(trimmed));
	if (n > 6 && !strcmp(trimmed + n - 6, "+00:00"))
		trimmed[n - 6] = '\0';
	json_object_set_new(d, "dateTime", json_string(trimmed));
	if (graph_time(d, 0, "UTC", &t) < 0)
		t = fallback;
	json_decref(d);
	return t;
}

static enum prov_status outlook_watch(struct prov_ctx *c, const char *cal, const char *address,
				      const char *channel_id, const char *token, char **resource_id,
				      time_t *expires)
{
	struct octx o;
	struct http_response rs;
	struct buf url, res, life;
	char code[64], exp[32];
	json_t *body, *ans = NULL;
	const char *sid;
	time_t at;
	enum prov_status ps;

	(void)channel_id;   /* Graph names the subscription itself: its id comes back as *resource_id */
	*resource_id = NULL;
	*expires = 0;
	if (!address || !*address || !token || !*token || strlen(token) > 128)
		return PROV_ERROR;
	if ((ps = o_init(&o, c)) != PROV_OK)
		return ps;
	expiry(&o, exp, &at);
	buf_init(&res, 2048);
	if (cal && *cal) {
		buf_puts(&res, "me/calendars/");
		oauth_form_escape(&res, cal);
		buf_puts(&res, "/events");
	} else {
		buf_puts(&res, "me/events");
	}
	buf_init(&life, HTTP_MAX_URL);
	buf_puts(&life, address);
	buf_puts(&life, "/lifecycle");
	body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "changeType", "created,updated,deleted",
			 "notificationUrl", address, "lifecycleNotificationUrl", life.data, "resource", res.data,
			 "expirationDateTime", exp, "clientState", token, "latestSupportedTlsVersion", "v1_2");
	buf_free(&res);
	buf_free(&life);
	if (!body) {
		set_error(c, MSG_ERROR);
		return PROV_ERROR;
	}
	graph_url(&o, &url, "/subscriptions", NULL, NULL);
	ps = o_call(&o, "POST", url.data, body, NULL, &rs, &ans, code);
	buf_free(&url);
	if (ps != PROV_OK)
		log_warn("outlook: integration %lld: subscription refused (HTTP %ld %s)", c->integration_id, rs.status,
			 code);
	http_response_free(&rs);
	json_decref(body);
	if (ps == PROV_NOT_FOUND)
		set_error(c, MSG_NOCAL);
	if (ps != PROV_OK)
		goto out;
	sid = json_string_value(json_object_get(ans, "id"));
	if (!sid || !*sid || strlen(sid) > 255) {
		log_warn("outlook: integration %lld: the subscription answer has no id", c->integration_id);
		set_error(c, MSG_ERROR);
		ps = PROV_ERROR;
		goto out;
	}
	*resource_id = xstrdup(sid);
	*expires = answer_expiry(ans, at);
out:
	json_decref(ans);
	return ps;
}

/* DELETE /subscriptions/{id}: 404 (expired, deleted) = done. */
static enum prov_status outlook_unwatch(struct prov_ctx *c, const char *channel_id, const char *resource_id)
{
	struct octx o;
	struct http_response rs;
	struct buf url;
	char code[64];
	enum prov_status ps;

	(void)channel_id;
	if (!resource_id || !*resource_id)
		return PROV_OK;
	if ((ps = o_init(&o, c)) != PROV_OK)
		return ps;
	graph_url(&o, &url, "/subscriptions/", resource_id, NULL);
	ps = o_call(&o, "DELETE", url.data, NULL, NULL, &rs, NULL, code);
	buf_free(&url);
	http_response_free(&rs);
	if (ps == PROV_NOT_FOUND) {
		c->error[0] = '\0';
		ps = PROV_OK;
	}
	return ps;
}

enum prov_status outlook_subscription_renew(struct prov_ctx *c, const char *resource_id, time_t *expires)
{
	struct octx o;
	struct http_response rs;
	struct buf url;
	char code[64], exp[32];
	json_t *body, *ans = NULL;
	time_t at;
	enum prov_status ps;

	*expires = 0;
	if (!resource_id || !*resource_id)
		return PROV_NOT_FOUND;
	if ((ps = o_init(&o, c)) != PROV_OK)
		return ps;
	expiry(&o, exp, &at);
	body = json_pack("{s:s}", "expirationDateTime", exp);
	graph_url(&o, &url, "/subscriptions/", resource_id, NULL);
	ps = o_call(&o, "PATCH", url.data, body, NULL, &rs, &ans, code);
	buf_free(&url);
	http_response_free(&rs);
	json_decref(body);
	if (ps == PROV_OK)
		*expires = answer_expiry(ans, at);
	json_decref(ans);
	return ps;
}

enum prov_status outlook_subscription_reauthorize(struct prov_ctx *c, const char *resource_id)
{
	struct octx o;
	struct http_response rs;
	struct buf url;
	char code[64];
	enum prov_status ps;

	if (!resource_id || !*resource_id)
		return PROV_NOT_FOUND;
	if ((ps = o_init(&o, c)) != PROV_OK)
		return ps;
	graph_url(&o, &url, "/subscriptions/", resource_id, "/reauthorize");
	ps = o_call(&o, "POST", url.data, NULL, NULL, &rs, NULL, code);
	buf_free(&url);
	http_response_free(&rs);
	return ps;
}

const struct provider_ops outlook_provider = {
	.name = "outlook",
	.list_calendars = outlook_list_calendars,
	.push_upsert = outlook_push_upsert,
	.push_delete = outlook_push_delete,
	.pull = outlook_pull,
	.watch = outlook_watch,
	.unwatch = outlook_unwatch,
	.revoke = NULL,
};
