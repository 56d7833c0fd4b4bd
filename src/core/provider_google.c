/* provider_google.c: Google Calendar API v3 as a provider: calendars, push with Meet, incremental pull.
 *
 * Tokens: c->creds is {"access_token", "refresh_token", "expires_at", "scope"}. A call first
 * refreshes when expires_at - 60 s has been reached, and once more after a 401; a refresh sets
 * c->creds_changed so the engine re-encrypts and stores the new credentials. invalid_grant on
 * refresh = PROV_AUTH (the connection needs a new consent).
 *
 * Retries: 429, 500/502/503/504, network failures and 403 rateLimitExceeded/userRateLimitExceeded
 * are retried at most GOOGLE_MAX_RETRIES times, waiting Retry-After (seconds or HTTP-date) when
 * sent, else exponential back-off with full jitter (random in [0, base * 2^attempt], base
 * TF_HTTP_BACKOFF_MS, default 1000 ms). A Retry-After over GOOGLE_MAX_WAIT_MS ends the call with
 * PROV_RETRY at once. 403 quotaExceeded is not retried: PROV_ERROR with the reason logged.
 *
 * Events: our event id is deterministic (google_event_id), so a repeated insert after a crash gets
 * 409 duplicate and converges with a PATCH on that id; extendedProperties.private carries
 * appointmentId and tfInstance (the installation hash) so a pull recognises our own events.
 * Updates PATCH with If-Match; a 412 re-reads the event (cancelled there = PROV_NOT_FOUND, the
 * doctor deleted it) and patches again with the fresh etag.
 *
 * URLs: GOOGLE_API_BASE is the Calendar API root (default https://www.googleapis.com/calendar/v3,
 * the fake's {base}/calendar/v3); userinfo comes from GOOGLE_USERINFO_URI.
 *
 * Pull: events.list singleEvents=true. The cursor is {"sync_token", "window_end"}: the first
 * (full) listing covers now - 1 day .. now + horizon + 30 days and ends with a nextSyncToken;
 * later runs list with syncToken (cancelled items → remove). When the horizon passes window_end
 * the calendar is listed in full again, so events that moved into the horizon are seen.
 * 410 on a syncToken = PROV_TOKEN_INVALID. Busy time: not cancelled, not transparent, not
 * declined by the account, not workingLocation; all-day events are whole local days. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bearer.h"
#include "http.h"
#include "log.h"
#include "oauth.h"
#include "provider_google.h"
#include "tztime.h"

#define GOOGLE_MAX_WAIT_MS     60000              /* longest Retry-After honoured within one run */
#define GOOGLE_MAX_PAGES       2000
#define GOOGLE_MAX_RESPONSE    (8 * 1024 * 1024)
#define GOOGLE_MEET_POLLS      3
#define GOOGLE_WINDOW_EXTRA    (30 * 86400)       /* listed beyond the horizon, so the cursor lasts a month */
#define GOOGLE_DEFAULT_TZ      "Europe/Berlin"
#define GOOGLE_CHANNEL_TTL     604800L            /* params.ttl asked for by events.watch (a week) */

#define MSG_AUTH  "Google hat den Zugriff auf den Kalender widerrufen oder abgelehnt. Bitte verbinden Sie " \
		  "Ihr Google-Konto erneut."
#define MSG_RETRY "Google Kalender ist vorübergehend nicht erreichbar oder begrenzt die Anfragen. Die " \
		  "Synchronisierung wird später erneut versucht."
#define MSG_QUOTA "Google Kalender hat das Nutzungskontingent dieses Kontos überschritten. Die " \
		  "Synchronisierung wird später erneut versucht."
#define MSG_CONFIG "Die Google-Anbindung ist nicht vollständig eingerichtet (GOOGLE_CLIENT_ID / " \
		   "GOOGLE_CLIENT_SECRET)."
#define MSG_ERROR "Google Kalender hat die Anfrage abgelehnt."

struct gctx {
	struct prov_ctx *c;
	struct bearer b;
	const char *api;
};


static __thread char last_link[512];
static __thread const struct prov_ctx *last_ctx;

const char *google_last_video_link(const struct prov_ctx *c)
{
	return c && c == last_ctx && last_link[0] ? last_link : NULL;
}

static void set_error(struct prov_ctx *c, const char *msg)
{
	str_copy(c->error, msg, sizeof(c->error));
}

int google_endpoints(struct conf *c, struct oauth_endpoints *ep, char *err, size_t errlen)
{
	long timeout;
	char terr[200];

	memset(ep, 0, sizeof(*ep));
	ep->auth_uri = conf_get_default(c, "GOOGLE_AUTH_URI", GOOGLE_DEFAULT_AUTH_URI);
	ep->token_uri = conf_get_default(c, "GOOGLE_TOKEN_URI", GOOGLE_DEFAULT_TOKEN_URI);
	ep->revoke_uri = conf_get_default(c, "GOOGLE_REVOKE_URI", GOOGLE_DEFAULT_REVOKE_URI);
	ep->client_id = conf_get(c, "GOOGLE_CLIENT_ID");
	ep->client_secret = conf_get(c, "GOOGLE_CLIENT_SECRET");
	ep->redirect_uri = conf_get(c, "GOOGLE_REDIRECT_URI");
	ep->scopes = GOOGLE_SCOPES;
	ep->access_type_offline = 1;
	timeout = http_timeout_conf(c, terr, sizeof(terr));
	ep->timeout = timeout > 0 ? timeout : HTTP_DEFAULT_TIMEOUT;
	if (!ep->client_id || !*ep->client_id) {
		err_set(err, errlen, "GOOGLE_CLIENT_ID is not set");
		return -1;
	}
	if (!ep->client_secret || !*ep->client_secret) {
		err_set(err, errlen, "GOOGLE_CLIENT_SECRET is not set");
		return -1;
	}
	return 0;
}

void google_event_id(struct conf *c, long long appointment_id, char out[GOOGLE_EVENT_ID_MAX])
{
	static const char alphabet[] = "0123456789abcdefghijklmnopqrstuv";
	char mark[PROV_MARK_LEN], in[64];
	int n, o = 0, bits = 0;
	unsigned acc = 0;

	prov_instance_mark(c, mark);
	n = snprintf(in, sizeof(in), "tfappt:%s:%lld", mark, appointment_id);
	for (int i = 0; i < n && o < GOOGLE_EVENT_ID_MAX - 1; i++) {
		acc = (acc << 8) | (unsigned char)in[i];
		bits += 8;
		while (bits >= 5 && o < GOOGLE_EVENT_ID_MAX - 1) {
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0 && o < GOOGLE_EVENT_ID_MAX - 1)
		out[o++] = alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

static time_t g_now(const struct gctx *g)
{
	return bearer_now(&g->b);
}

static int g_retryable(const struct http_response *rs);

static const struct bearer_kind google_kind = {
	.tag = "google",
	.msgs = { .auth = MSG_AUTH, .config = MSG_CONFIG, .retry = MSG_RETRY, .error = MSG_ERROR },
	.max_retries = GOOGLE_MAX_RETRIES,
	.max_wait_ms = GOOGLE_MAX_WAIT_MS,
	.max_response = GOOGLE_MAX_RESPONSE,
	.retryable = g_retryable,
};

static enum prov_status g_init(struct gctx *g, struct prov_ctx *c)
{
	char err[200];

	memset(g, 0, sizeof(*g));
	g->c = c;
	c->error[0] = '\0';
	if (google_endpoints(c->conf, &g->b.ep, err, sizeof(err)) < 0) {
		log_error("google: %s", err);
		set_error(c, MSG_CONFIG);
		return PROV_ERROR;
	}
	g->api = conf_get_default(c->conf, "GOOGLE_API_BASE", GOOGLE_DEFAULT_API_BASE);
	return bearer_init(&g->b, c, &google_kind);
}

static const char *cred(const struct gctx *g, const char *key)
{
	return json_string_value(json_object_get(g->c->creds, key));
}

/* errors[0].reason of a Google error body into reason ("" when none). */
static void error_reason(const struct http_response *rs, char *reason, size_t len)
{
	json_t *j, *errs;
	const char *s = NULL;

	reason[0] = '\0';
	if (!rs->body.len)
		return;
	j = json_loadb(rs->body.data, rs->body.len, 0, NULL);
	errs = json_object_get(json_object_get(j, "error"), "errors");
	if (json_is_array(errs))
		s = json_string_value(json_object_get(json_array_get(errs, 0), "reason"));
	if (!s)
		s = json_string_value(json_object_get(json_object_get(j, "error"), "status"));
	if (s)
		str_copy(reason, s, len);
	json_decref(j);
}

static int retryable(long status, const char *reason)
{
	return status == 0 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504 ||
	       (status == 403 && (!strcmp(reason, "rateLimitExceeded") || !strcmp(reason, "userRateLimitExceeded")));
}

static int g_retryable(const struct http_response *rs)
{
	char reason[64];

	error_reason(rs, reason, sizeof(reason));
	return retryable(rs->status, reason);
}

/* One API call with token refresh and retries. rs is always initialised (free it). *reply gets the
 * parsed JSON body of a 2xx answer when reply != NULL (NULL for an empty body). reason: Google's
 * errors[0].reason of a failure. Returns the mapped status; callers look at rs->status for
 * 409/410 details. */
static enum prov_status g_call(struct gctx *g, const char *method, const char *url, json_t *body,
			       const char *if_match, struct http_response *rs, json_t **reply, char reason[64])
{
	const char *headers[4];
	char ifm[600], where[512];
	char *text = NULL;
	int nh = 0;
	enum prov_status ps;

	reason[0] = '\0';
	if (reply)
		*reply = NULL;
	http_url_for_log(url, where, sizeof(where));
	if (body)
		text = json_dumps(body, JSON_COMPACT);
	headers[nh++] = "Accept: application/json";
	if (text)
		headers[nh++] = "Content-Type: application/json; charset=utf-8";
	if (if_match && *if_match && snprintf(ifm, sizeof(ifm), "If-Match: %s", if_match) < (int)sizeof(ifm))
		headers[nh++] = ifm;
	headers[nh] = NULL;
	if ((ps = bearer_send(&g->b, method, url, headers, text, rs)) != PROV_OK)
		goto out;
	error_reason(rs, reason, 64);
	if (rs->status >= 200 && rs->status < 300) {
		if (reply && rs->body.len) {
			*reply = json_loadb(rs->body.data, rs->body.len, JSON_REJECT_DUPLICATES, NULL);
			if (!*reply) {
				log_warn("google: %s %s: the answer is not JSON", method, where);
				set_error(g->c, MSG_ERROR);
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
	log_warn("google: %s %s: HTTP %ld %s", method, where, rs->status, reason);
	if (rs->status == 401 ||
	    (rs->status == 403 && (!strcmp(reason, "insufficientPermissions") ||
				   !strcmp(reason, "ACCESS_TOKEN_SCOPE_INSUFFICIENT") || !strcmp(reason, "authError")))) {
		set_error(g->c, MSG_AUTH);
		ps = PROV_AUTH;
	} else if (rs->status == 403 && !strcmp(reason, "quotaExceeded")) {
		log_error("google: integration %lld: quotaExceeded (Calendar usage limits exceeded): this run ends",
			  g->c->integration_id);
		set_error(g->c, MSG_QUOTA);
		g->c->stop_run = 1;
		ps = PROV_ERROR;
	} else if (retryable(rs->status, reason)) {
		set_error(g->c, MSG_RETRY);
		ps = PROV_RETRY;
	} else {
		set_error(g->c, MSG_ERROR);
		ps = PROV_ERROR;
	}
out:
	free(text);
	return ps;
}

/* api + "/calendar/v3/calendars/{cal}/events[/{eid}]" + query into b. */
static void events_url(struct gctx *g, struct buf *b, const char *cal, const char *eid, const char *query)
{
	buf_init(b, HTTP_MAX_URL);
	buf_puts(b, g->api);
	buf_puts(b, "/calendars/");
	oauth_form_escape(b, cal);
	buf_puts(b, "/events");
	if (eid) {
		buf_putc(b, '/');
		oauth_form_escape(b, eid);
	}
	if (query)
		buf_puts(b, query);
}

/* A calendar Google fills itself: public holidays ("de.german#holiday@group.v.calendar.google.com"),
 * contacts' birthdays ("addressbook#contacts@group.v.calendar.google.com"), week numbers
 * ("e_2_de#weeknum@group.v.calendar.google.com"). Its all-day entries should not block bookings
 * unless the doctor says so: the practice's own holidays come from its Bundesland already. */
static int google_generated_calendar(const char *id)
{
	static const char *const suffixes[] = {
		"#holiday@group.v.calendar.google.com", "#contacts@group.v.calendar.google.com",
		"#weeknum@group.v.calendar.google.com",
	};
	size_t n = strlen(id), i, k;

	for (i = 0; i < TF_ARRAY_LEN(suffixes); i++) {
		k = strlen(suffixes[i]);
		if (n > k && strcmp(id + n - k, suffixes[i]) == 0)
			return 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- calendars */

static enum prov_status google_list_calendars(struct prov_ctx *c, struct prov_calendar **out, size_t *n)
{
	struct gctx g;
	struct http_response rs;
	struct prov_calendar *cals = NULL;
	size_t count = 0;
	char reason[64], *page = NULL;
	enum prov_status ps;

	*out = NULL;
	*n = 0;
	if ((ps = g_init(&g, c)) != PROV_OK)
		return ps;
	for (int p = 0; p < 50; p++) {
		struct buf url;
		json_t *j = NULL, *items, *it;
		struct prov_calendar *k;
		size_t i;
		const char *next;

		buf_init(&url, HTTP_MAX_URL);
		buf_puts(&url, g.api);
		buf_puts(&url, "/users/me/calendarList?maxResults=250");
		if (page) {
			buf_puts(&url, "&pageToken=");
			oauth_form_escape(&url, page);
		}
		ps = g_call(&g, "GET", url.data, NULL, NULL, &rs, &j, reason);
		buf_free(&url);
		http_response_free(&rs);
		if (ps == PROV_NOT_FOUND) {
			set_error(c, MSG_ERROR);
			ps = PROV_ERROR;
		}
		if (ps != PROV_OK)
			goto fail;
		items = json_object_get(j, "items");
		json_array_foreach(items, i, it) {
			const char *id = json_string_value(json_object_get(it, "id"));
			const char *name = json_string_value(json_object_get(it, "summaryOverride"));
			const char *color = json_string_value(json_object_get(it, "backgroundColor"));
			const char *role = json_string_value(json_object_get(it, "accessRole"));

			if (!id || !*id || strlen(id) > 1024 || json_is_true(json_object_get(it, "deleted")))
				continue;
			if (count >= 500)
				break;
			if (!name)
				name = json_string_value(json_object_get(it, "summary"));
			k = prov_calendars_push(&cals, &count, id, name, color,
						role && (!strcmp(role, "owner") || !strcmp(role, "writer")));
			k->no_block = !k->can_write && google_generated_calendar(id);
		}
		free(page);
		page = NULL;
		next = json_string_value(json_object_get(j, "nextPageToken"));
		if (next && *next)
			page = xstrdup(next);
		json_decref(j);
		if (!page)
			break;
	}
	free(page);
	*out = cals;
	*n = count;
	return PROV_OK;
fail:
	free(page);
	prov_calendars_free(cals, count);
	return ps;
}

enum prov_status google_userinfo_email(struct prov_ctx *c, char *email, size_t len)
{
	struct gctx g;
	struct http_response rs;
	struct buf url;
	json_t *j = NULL;
	char reason[64];
	const char *s;
	enum prov_status ps;

	email[0] = '\0';
	if ((ps = g_init(&g, c)) != PROV_OK)
		return ps;
	buf_init(&url, HTTP_MAX_URL);
	buf_puts(&url, conf_get_default(c->conf, "GOOGLE_USERINFO_URI", GOOGLE_DEFAULT_USERINFO_URI));
	ps = g_call(&g, "GET", url.data, NULL, NULL, &rs, &j, reason);
	buf_free(&url);
	http_response_free(&rs);
	if (ps == PROV_OK) {
		s = json_string_value(json_object_get(j, "email"));
		if (!s || !*s || strlen(s) >= len || !strchr(s, '@')) {
			set_error(c, "Google hat keine E-Mail-Adresse des Kontos übermittelt.");
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

json_t *google_creds_from_tokens(const struct oauth_tokens *t)
{
	return bearer_creds_from_tokens(t);
}

/* ---------------------------------------------------------------- push */

static json_t *time_json(time_t t)
{
	char iso[21];

	utc_format_iso(t, iso);
	return json_pack("{s:s, s:s}", "dateTime", iso, "timeZone", "UTC");
}

/* The event body: id only on insert; conference createRequest when meet. */
static json_t *event_body(struct gctx *g, const struct prov_event *e, const char *id, int meet, int restore)
{
	char appt[32], mark[PROV_MARK_LEN], req[GOOGLE_EVENT_ID_MAX + 16];
	json_t *b;

	snprintf(appt, sizeof(appt), "%lld", e->appointment_id);
	prov_instance_mark(g->c->conf, mark);
	b = json_pack("{s:s, s:s, s:o, s:o, s:s, s:{s:{s:s, s:s}}}",
		      "summary", e->summary ? e->summary : "Termin (TerminFinder)",
		      "description", e->description ? e->description : "",
		      "start", time_json(e->start), "end", time_json(e->end),
		      "transparency", "opaque",
		      "extendedProperties", "private", "appointmentId", appt, "tfInstance", mark);
	if (!b)
		return NULL;
	if (id)
		json_object_set_new(b, "id", json_string(id));
	if (e->location && *e->location)
		json_object_set_new(b, "location", json_string(e->location));
	if (restore)
		json_object_set_new(b, "status", json_string("confirmed"));
	if (meet) {
		char eid[GOOGLE_EVENT_ID_MAX];

		google_event_id(g->c->conf, e->appointment_id, eid);
		snprintf(req, sizeof(req), "tf-%s-%d", eid, e->sequence);
		json_object_set_new(b, "conferenceData",
				    json_pack("{s:{s:s, s:{s:s}}}", "createRequest", "requestId", req,
					      "conferenceSolutionKey", "type", "hangoutsMeet"));
	}
	return b;
}

/* The Meet link of an event: 1 found (out filled), 0 pending, -1 none or failed. */
static int meet_link(json_t *ev, char *out, size_t len)
{
	json_t *cd = json_object_get(ev, "conferenceData"), *eps, *ep;
	const char *st, *uri = NULL;
	size_t i;

	out[0] = '\0';
	eps = json_object_get(cd, "entryPoints");
	json_array_foreach(eps, i, ep) {
		const char *type = json_string_value(json_object_get(ep, "entryPointType"));

		if (type && !strcmp(type, "video")) {
			uri = json_string_value(json_object_get(ep, "uri"));
			break;
		}
	}
	if (!uri)
		uri = json_string_value(json_object_get(ev, "hangoutLink"));
	if (uri && !strncmp(uri, "https://", 8) && strlen(uri) < len) {
		str_copy(out, uri, len);
		return 1;
	}
	st = json_string_value(json_object_get(json_object_get(json_object_get(cd, "createRequest"), "status"),
					       "statusCode"));
	if (st && !strcmp(st, "pending"))
		return 0;
	return -1;
}

/* GET one event (reply in *ev). */
static enum prov_status get_event(struct gctx *g, const char *cal, const char *eid, json_t **ev)
{
	struct http_response rs;
	struct buf url;
	char reason[64];
	enum prov_status ps;

	events_url(g, &url, cal, eid, NULL);
	ps = g_call(g, "GET", url.data, NULL, NULL, &rs, ev, reason);
	buf_free(&url);
	http_response_free(&rs);
	if (ps == PROV_OK && !*ev)
		ps = PROV_ERROR;
	return ps;
}

static int is_cancelled(json_t *ev)
{
	const char *st = json_string_value(json_object_get(ev, "status"));

	return st && !strcmp(st, "cancelled");
}

/* PATCH event eid with body (If-Match etag when set). */
static enum prov_status patch_event(struct gctx *g, const char *cal, const char *eid, json_t *body,
				    const char *etag, json_t **ev, long *status)
{
	struct http_response rs;
	struct buf url;
	char reason[64];
	enum prov_status ps;

	events_url(g, &url, cal, eid, "?conferenceDataVersion=1&sendUpdates=none");
	ps = g_call(g, "PATCH", url.data, body, etag, &rs, ev, reason);
	*status = rs.status;
	buf_free(&url);
	http_response_free(&rs);
	if (ps == PROV_OK && !*ev)
		ps = PROV_ERROR;
	return ps;
}

static enum prov_status google_push_upsert(struct prov_ctx *c, const char *cal, const struct prov_event *e,
					   const char *remote_id, const char *etag, char **new_remote_id,
					   char **new_etag)
{
	struct gctx g;
	struct http_response rs;
	struct buf url;
	char eid[GOOGLE_EVENT_ID_MAX], reason[64], link[512];
	json_t *body = NULL, *ev = NULL, *cur = NULL;
	const char *id, *tag;
	long status = 0;
	enum prov_status ps;
	int m;

	*new_remote_id = *new_etag = NULL;
	if (last_ctx == c)
		last_link[0] = '\0';
	if ((ps = g_init(&g, c)) != PROV_OK)
		return ps;
	google_event_id(c->conf, e->appointment_id, eid);
	if (!remote_id || !*remote_id) {
		body = event_body(&g, e, eid, e->create_meet, 0);
		events_url(&g, &url, cal, NULL, "?conferenceDataVersion=1&sendUpdates=none");
		ps = g_call(&g, "POST", url.data, body, NULL, &rs, &ev, reason);
		status = rs.status;
		buf_free(&url);
		http_response_free(&rs);
		json_decref(body);
		body = NULL;
		if (ps == PROV_PRECONDITION && status == 409) {
			/* our id exists already (an earlier run crashed before recording it): converge */
			log_info("google: insert of appointment %lld: the event is already there; patching it",
				 e->appointment_id);
			body = event_body(&g, e, NULL, e->create_meet, 1);
			ps = patch_event(&g, cal, eid, body, NULL, &ev, &status);
		} else if (ps == PROV_OK && !ev) {
			ps = PROV_ERROR;
		}
	} else {
		body = event_body(&g, e, NULL, 0, 0);
		if (!etag || !*etag) {
			if ((ps = get_event(&g, cal, remote_id, &cur)) != PROV_OK)
				goto out;
			if (is_cancelled(cur)) {
				ps = PROV_NOT_FOUND;
				goto out;
			}
			etag = json_string_value(json_object_get(cur, "etag"));
		}
		ps = patch_event(&g, cal, remote_id, body, etag, &ev, &status);
		if (ps == PROV_PRECONDITION && status == 412) {
			/* changed there since we wrote it: re-read; deleted by the doctor = not found */
			json_decref(cur);
			cur = NULL;
			if ((ps = get_event(&g, cal, remote_id, &cur)) != PROV_OK)
				goto out;
			if (is_cancelled(cur)) {
				ps = PROV_NOT_FOUND;
				goto out;
			}
			ps = patch_event(&g, cal, remote_id, body,
					 json_string_value(json_object_get(cur, "etag")), &ev, &status);
		}
		if (ps == PROV_OK && e->create_meet && !json_object_get(ev, "conferenceData")) {
			json_t *cd = event_body(&g, e, NULL, 1, 0), *ev2 = NULL;

			/* only the conference: the times were just written */
			json_t *only = json_pack("{s:O}", "conferenceData", json_object_get(cd, "conferenceData"));

			json_decref(cd);
			if (patch_event(&g, cal, remote_id, only, NULL, &ev2, &status) == PROV_OK) {
				json_decref(ev);
				ev = ev2;
			} else {
				json_decref(ev2);
				log_warn("google: appointment %lld: could not add a Meet conference", e->appointment_id);
			}
			json_decref(only);
		}
	}
	if (ps != PROV_OK)
		goto out;
	id = json_string_value(json_object_get(ev, "id"));
	/* Meet: created asynchronously; poll a few times while pending */
	m = e->create_meet ? meet_link(ev, link, sizeof(link)) : -1;
	for (int i = 0; m == 0 && i < GOOGLE_MEET_POLLS; i++) {
		json_t *again = NULL;

		bearer_sleep_ms(g.b.backoff_ms / 2 * (i + 1));
		if (get_event(&g, cal, id ? id : eid, &again) != PROV_OK) {
			json_decref(again);
			break;
		}
		json_decref(ev);
		ev = again;
		id = json_string_value(json_object_get(ev, "id"));
		m = meet_link(ev, link, sizeof(link));
	}
	if (m == 0)
		log_warn("google: appointment %lld: the Meet conference is still pending", e->appointment_id);
	last_ctx = c;
	str_copy(last_link, m == 1 ? link : "", sizeof(last_link));
	/* the engine stores the link on the appointment; pending: it pushes again on the next run */
	free(c->video_link);
	c->video_link = m == 1 ? xstrdup(link) : NULL;
	c->video_pending = m == 0;
	tag = json_string_value(json_object_get(ev, "etag"));
	*new_remote_id = xstrdup(id && *id ? id : (remote_id && *remote_id ? remote_id : eid));
	*new_etag = xstrdup(tag ? tag : "");
out:
	json_decref(body);
	json_decref(ev);
	json_decref(cur);
	return ps;
}

static enum prov_status google_push_delete(struct prov_ctx *c, const char *cal, const char *remote_id,
					   const char *etag)
{
	struct gctx g;
	struct http_response rs;
	struct buf url;
	char reason[64];
	enum prov_status ps;

	(void)etag;   /* a cancelled appointment goes, whatever changed there */
	if (!remote_id || !*remote_id)
		return PROV_OK;
	if ((ps = g_init(&g, c)) != PROV_OK)
		return ps;
	events_url(&g, &url, cal, remote_id, "?sendUpdates=none");
	ps = g_call(&g, "DELETE", url.data, NULL, NULL, &rs, NULL, reason);
	buf_free(&url);
	http_response_free(&rs);
	if (ps == PROV_NOT_FOUND)   /* 404, or 410 deleted: already gone */
		ps = PROV_OK;
	return ps;
}

/* ---------------------------------------------------------------- pull */

/* RFC 3339 date-time ("2025-03-10T10:00:00.123+01:00", "...Z") to Unix time; 0 or -1. */
static int parse_rfc3339(const char *s, time_t *out)
{
	int y, mo, d, h, mi, sec, n = 0;
	long off = 0;
	const char *p;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return -1;
	if (!civil_date_valid(y, mo, d) || h > 23 || mi > 59 || sec > 60)
		return -1;
	p = s + n;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, k = 0;

		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5 || oh > 23 || om > 59)
			return -1;
		off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*out = (time_t)(civil_to_days(y, mo, d) * 86400L + h * 3600L + mi * 60L + sec - off);
	return 0;
}

/* An EventDateTime to UTC: dateTime, or date (local midnight in tz). */
static int event_time(json_t *edt, const char *tz, time_t *out)
{
	const char *dt = json_string_value(json_object_get(edt, "dateTime"));
	const char *d = json_string_value(json_object_get(edt, "date"));
	struct civil cv;

	if (dt)
		return parse_rfc3339(dt, out);
	if (d && civil_parse_date(d, &cv) == 0) {
		cv.hour = cv.minute = 0;
		return tz_local_to_utc(tz, &cv, out) == 0 ? 0 : -1;
	}
	return -1;
}

static int declined_by_self(json_t *ev)
{
	json_t *att = json_object_get(ev, "attendees"), *a;
	size_t i;

	json_array_foreach(att, i, a) {
		const char *rsv = json_string_value(json_object_get(a, "responseStatus"));

		if (json_is_true(json_object_get(a, "self")) && rsv && !strcmp(rsv, "declined"))
			return 1;
	}
	return 0;
}

struct pull_run {
	struct gctx *g;
	const struct prov_sink *sink;
	const char *tz;
	time_t win_start, win_end;
	int full;
	char mark[PROV_MARK_LEN];
	char tzbuf[64];
};

/* Report one listed event through the sink. Returns 0, or -1 when the sink failed. */
static int report_event(struct pull_run *pr, json_t *ev)
{
	const char *id = json_string_value(json_object_get(ev, "id"));
	const char *etag = json_string_value(json_object_get(ev, "etag"));
	const char *transp = json_string_value(json_object_get(ev, "transparency"));
	const char *type = json_string_value(json_object_get(ev, "eventType"));
	json_t *priv = json_object_get(json_object_get(ev, "extendedProperties"), "private");
	const char *appt = json_string_value(json_object_get(priv, "appointmentId"));
	const char *inst = json_string_value(json_object_get(priv, "tfInstance"));
	time_t s, e;
	long aid;

	if (!id || !*id || strlen(id) > 1024)
		return 0;
	if (is_cancelled(ev)) {
		if (pr->full)
			return 0;   /* not reported: end_full removes what we had */
		return pr->sink->remove(pr->sink->ud, id) ? -1 : 0;
	}
	if (prov_object_unchanged(pr->sink, pr->full, id, etag))
		return 0;   /* unchanged since the last listing */
	if (event_time(json_object_get(ev, "start"), pr->tz, &s) < 0 ||
	    event_time(json_object_get(ev, "end"), pr->tz, &e) < 0 || e < s) {
		log_warn("google: integration %lld: event without readable start/end; no busy time",
			 pr->g->c->integration_id);
		s = e = 0;
	}
	if (!appt || str_to_long(appt, 1, 0x7fffffffL, &aid) < 0 || (inst && strcmp(inst, pr->mark)))
		aid = 0;
	return prov_report_object(pr->sink, id, etag, aid, s, e,
				  !(transp && !strcmp(transp, "transparent")) && !declined_by_self(ev) &&
				  !(type && !strcmp(type, "workingLocation")), pr->win_start, pr->win_end);
}

static enum prov_status google_pull(struct prov_ctx *c, const char *cal, const char *cursor,
				    const struct prov_sink *sink, char **new_cursor)
{
	struct gctx g;
	struct pull_run pr = { 0 };
	json_t *cur = NULL, *nc;
	const char *token = NULL;
	char *page = NULL, *sync_token = NULL, tmin[21], tmax[21], reason[64];
	json_int_t window_end = 0;
	enum prov_status ps;
	time_t now;

	*new_cursor = NULL;
	if ((ps = g_init(&g, c)) != PROV_OK)
		return ps;
	now = g_now(&g);
	pr.g = &g;
	pr.sink = sink;
	pr.tz = c->timezone && tz_valid(c->timezone) ? c->timezone : GOOGLE_DEFAULT_TZ;
	prov_instance_mark(c->conf, pr.mark);
	pr.win_start = now - 86400;
	pr.win_end = now + (time_t)(c->horizon_days > 0 ? c->horizon_days : 365) * 86400;
	if (cursor && *cursor && (cur = json_loads(cursor, 0, NULL))) {
		token = json_string_value(json_object_get(cur, "sync_token"));
		window_end = json_integer_value(json_object_get(cur, "window_end"));
	}
	if (!token || !*token || window_end < (json_int_t)pr.win_end) {
		pr.full = 1;
		token = NULL;
		window_end = (json_int_t)(pr.win_end + GOOGLE_WINDOW_EXTRA);
		if (sink->begin_full && sink->begin_full(sink->ud)) {
			ps = PROV_ERROR;
			goto out;
		}
	}
	utc_format_iso(pr.win_start, tmin);
	utc_format_iso((time_t)window_end, tmax);
	for (int p = 0;; p++) {
		struct http_response rs;
		struct buf url;
		json_t *j = NULL, *items, *it, *tzv;
		const char *next, *nsync;
		size_t i;

		if (p >= GOOGLE_MAX_PAGES) {
			log_warn("google: integration %lld: more than %d pages; stopped", c->integration_id, p);
			set_error(c, MSG_ERROR);
			ps = PROV_ERROR;
			goto out;
		}
		events_url(&g, &url, cal, NULL, "?singleEvents=true&maxResults=250");
		if (token) {
			buf_puts(&url, "&showDeleted=true&syncToken=");
			oauth_form_escape(&url, token);
		} else {
			buf_puts(&url, "&timeMin=");
			oauth_form_escape(&url, tmin);
			buf_puts(&url, "&timeMax=");
			oauth_form_escape(&url, tmax);
		}
		if (page) {
			buf_puts(&url, "&pageToken=");
			oauth_form_escape(&url, page);
		}
		ps = g_call(&g, "GET", url.data, NULL, NULL, &rs, &j, reason);
		if (ps == PROV_NOT_FOUND && rs.status == 410 && token) {
			log_info("google: integration %lld: sync token no longer valid (410 %s): full resync",
				 c->integration_id, reason);
			ps = PROV_TOKEN_INVALID;
		} else if (ps == PROV_NOT_FOUND) {
			set_error(c, "Ein Google-Kalender dieser Verbindung ist nicht mehr vorhanden.");
		} else if (ps == PROV_OK && !json_is_object(j)) {
			set_error(c, MSG_ERROR);
			ps = PROV_ERROR;
		}
		buf_free(&url);
		http_response_free(&rs);
		if (ps != PROV_OK) {
			json_decref(j);
			goto out;
		}
		/* all-day events are whole days in the calendar's own zone */
		if (p == 0 && (tzv = json_object_get(j, "timeZone")) && json_is_string(tzv) &&
		    json_string_length(tzv) < sizeof(pr.tzbuf) && tz_valid(json_string_value(tzv))) {
			str_copy(pr.tzbuf, json_string_value(tzv), sizeof(pr.tzbuf));
			pr.tz = pr.tzbuf;
		}
		items = json_object_get(j, "items");
		json_array_foreach(items, i, it) {
			if (report_event(&pr, it) < 0) {
				json_decref(j);
				ps = PROV_ERROR;
				goto out;
			}
		}
		free(page);
		page = NULL;
		next = json_string_value(json_object_get(j, "nextPageToken"));
		nsync = json_string_value(json_object_get(j, "nextSyncToken"));
		if (next && *next) {
			page = xstrdup(next);
		} else if (nsync && *nsync) {
			sync_token = xstrdup(nsync);
		}
		json_decref(j);
		if (!page)
			break;
	}
	if (!sync_token) {
		log_warn("google: integration %lld: the listing ended without nextSyncToken", c->integration_id);
		set_error(c, MSG_ERROR);
		ps = PROV_ERROR;
		goto out;
	}
	if (pr.full && sink->end_full && sink->end_full(sink->ud)) {
		ps = PROV_ERROR;
		goto out;
	}
	nc = json_pack("{s:s, s:I}", "sync_token", sync_token, "window_end", window_end);
	*new_cursor = json_dumps(nc, JSON_COMPACT);
	json_decref(nc);
	ps = PROV_OK;
out:
	free(page);
	free(sync_token);
	json_decref(cur);
	return ps;
}

/* ---------------------------------------------------------------- push channels, revoke */

/* events.watch: a web_hook channel to address with our id and token, asking for
 * GOOGLE_CHANNEL_TTL seconds (Google applies its own, shorter limit when it has one). */
static enum prov_status google_watch(struct prov_ctx *c, const char *cal, const char *address,
				     const char *channel_id, const char *token, char **resource_id,
				     time_t *expires)
{
	struct gctx g;
	struct http_response rs;
	struct buf url;
	char reason[64], ttl[24];
	json_t *body, *ans = NULL, *exp;
	const char *rid;
	long long ms = 0;
	long lms;
	enum prov_status ps;

	*resource_id = NULL;
	*expires = 0;
	if ((ps = g_init(&g, c)) != PROV_OK)
		return ps;
	snprintf(ttl, sizeof(ttl), "%ld", (long)GOOGLE_CHANNEL_TTL);
	body = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "id", channel_id, "type", "web_hook", "address",
			 address, "token", token, "params", "ttl", ttl);
	if (!body) {
		set_error(c, MSG_ERROR);
		return PROV_ERROR;
	}
	events_url(&g, &url, cal, "watch", NULL);
	ps = g_call(&g, "POST", url.data, body, NULL, &rs, &ans, reason);
	buf_free(&url);
	http_response_free(&rs);
	json_decref(body);
	if (ps == PROV_NOT_FOUND)
		set_error(c, "Ein Google-Kalender dieser Verbindung ist nicht mehr vorhanden.");
	if (ps != PROV_OK)
		goto out;
	rid = json_string_value(json_object_get(ans, "resourceId"));
	exp = json_object_get(ans, "expiration");
	/* int64 milliseconds, which JSON may carry as a string */
	if (json_is_integer(exp))
		ms = (long long)json_integer_value(exp);
	else if (json_is_string(exp) && str_to_long(json_string_value(exp), 1, 0x7fffffffffffffffL, &lms) == 0)
		ms = lms;
	if (!rid || !*rid || strlen(rid) > 255) {
		log_warn("google: integration %lld: the watch answer has no usable resourceId", c->integration_id);
		set_error(c, MSG_ERROR);
		ps = PROV_ERROR;
		goto out;
	}
	*resource_id = xstrdup(rid);
	*expires = ms > 0 ? (time_t)(ms / 1000) : 0;
out:
	json_decref(ans);
	return ps;
}

/* channels.stop: 404 (unknown, expired or already stopped) = PROV_NOT_FOUND. */
static enum prov_status google_unwatch(struct prov_ctx *c, const char *channel_id, const char *resource_id)
{
	struct gctx g;
	struct http_response rs;
	struct buf url;
	char reason[64];
	json_t *body;
	enum prov_status ps;

	if ((ps = g_init(&g, c)) != PROV_OK)
		return ps;
	body = json_pack("{s:s, s:s}", "id", channel_id, "resourceId", resource_id);
	if (!body)
		return PROV_ERROR;
	buf_init(&url, HTTP_MAX_URL);
	buf_puts(&url, g.api);
	buf_puts(&url, "/channels/stop");
	ps = g_call(&g, "POST", url.data, body, NULL, &rs, NULL, reason);
	buf_free(&url);
	http_response_free(&rs);
	json_decref(body);
	return ps;
}

/* Revoke the grant (the refresh token; Google then drops every access token derived from it).
 * Already revoked (400 invalid_token) = PROV_OK. */
static enum prov_status google_revoke(struct prov_ctx *c)
{
	struct gctx g;
	struct oauth_error e;
	const char *tok;
	enum prov_status ps;

	if ((ps = g_init(&g, c)) != PROV_OK)
		return ps;
	tok = cred(&g, "refresh_token");
	if (!tok || !*tok)
		tok = cred(&g, "access_token");
	if (!tok || !*tok)
		return PROV_OK;   /* nothing left to revoke */
	switch (oauth_revoke(&g.b.ep, tok, &c->requests, &e)) {
	case OAUTH_OK:
		log_info("google: integration %lld: access revoked", c->integration_id);
		return PROV_OK;
	case OAUTH_RETRY:
		set_error(c, MSG_RETRY);
		return PROV_RETRY;
	default:
		log_warn("google: integration %lld: revoke failed (HTTP %ld %s)", c->integration_id, e.http_status,
			 e.error);
		set_error(c, MSG_ERROR);
		return PROV_ERROR;
	}
}

const struct provider_ops google_provider = {
	.name = "google",
	.list_calendars = google_list_calendars,
	.push_upsert = google_push_upsert,
	.push_delete = google_push_delete,
	.pull = google_pull,
	.watch = google_watch,
	.unwatch = google_unwatch,
	.revoke = google_revoke,
};
