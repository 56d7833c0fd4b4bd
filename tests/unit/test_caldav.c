/* test_caldav.c: the CalDAV provider against a real Radicale (started by tests/integration/test_caldav.sh):
 * discovery, wrong password, push create/update/delete with etags, convergence, 412, the credential
 * rule, pull by sync-collection and by ctag + etag diff with request counts, token invalidation.
 * Needs TF_RADICALE_URL and TF_RADICALE_DIR; skips without them. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "caldav.h"
#include "http.h"
#include "ics.h"
#include "log.h"
#include "provider.h"

#define USER "ana"
#define PASS "geheim-ana-123"
#define BASE "http://praxis.example"

static const char *rurl, *rdir;
static time_t t0;

/* ------------------------------------------------------------------ a sink that remembers */

#define MAXOBJ 300
struct obj {
	char id[1024];
	char etag[256];
	long long own;
	time_t own_start, own_end;
	size_t nbusy;
	time_t busy_start, busy_end;
	int seen;
};

struct sink {
	struct obj o[MAXOBJ];
	int n;
	int upserts, removes, fulls, full_removed;
	int in_full;
	char last_removed[1024];
};

static struct obj *find(struct sink *s, const char *id)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->o[i].id, id))
			return &s->o[i];
	return NULL;
}

static void drop(struct sink *s, struct obj *o)
{
	str_copy(s->last_removed, o->id, sizeof(s->last_removed));
	*o = s->o[--s->n];
}

static int sk_upsert(void *ud, const struct prov_object *po)
{
	struct sink *s = ud;
	struct obj *o = find(s, po->object_id);

	if (!o) {
		assert_true(s->n < MAXOBJ);
		o = &s->o[s->n++];
		memset(o, 0, sizeof(*o));
		str_copy(o->id, po->object_id, sizeof(o->id));
	}
	str_copy(o->etag, po->etag, sizeof(o->etag));
	o->own = po->own_appointment_id;
	o->own_start = po->own_start;
	o->own_end = po->own_end;
	o->nbusy = po->nbusy;
	o->busy_start = po->nbusy ? po->busy[0].start : 0;
	o->busy_end = po->nbusy ? po->busy[0].end : 0;
	o->seen = 1;
	s->upserts++;
	return 0;
}

static int sk_remove(void *ud, const char *id)
{
	struct sink *s = ud;
	struct obj *o = find(s, id);

	s->removes++;
	if (o)
		drop(s, o);
	return 0;
}

static int sk_begin(void *ud)
{
	struct sink *s = ud;

	for (int i = 0; i < s->n; i++)
		s->o[i].seen = 0;
	s->in_full = 1;
	s->fulls++;
	return 0;
}

static int sk_end(void *ud)
{
	struct sink *s = ud;

	for (int i = 0; i < s->n;) {
		if (!s->o[i].seen) {
			drop(s, &s->o[i]);
			s->full_removed++;
		} else {
			i++;
		}
	}
	s->in_full = 0;
	return 0;
}

static const char *sk_known(void *ud, const char *id)
{
	struct sink *s = ud;
	struct obj *o = find(s, id);

	if (!o)
		return NULL;
	o->seen = 1;             /* asked during a full listing = still there (provider.h) */
	return o->etag;
}

static struct prov_sink make_sink(struct sink *s)
{
	struct prov_sink k = { s, sk_upsert, sk_remove, sk_begin, sk_end, sk_known };

	memset(s, 0, sizeof(*s));
	return k;
}

/* ------------------------------------------------------------------ helpers */

static struct prov_ctx *ctx_new(const char *user, const char *pass)
{
	struct prov_ctx *c = calloc(1, sizeof(*c));

	c->conf = conf_new();
	conf_set(c->conf, "BASE_URL", BASE);
	conf_set(c->conf, "TF_HTTP_TIMEOUT", "10");
	c->creds = json_pack("{s:s, s:s}", "username", user, "password", pass);
	c->integration_id = 1;
	c->horizon_days = 120;
	c->now = t0;
	c->timezone = "Europe/Berlin";
	return c;
}

static void ctx_free(struct prov_ctx *c)
{
	conf_free(c->conf);
	json_decref(c->creds);
	json_decref(c->state);
	free(c);
}

static char *cal_url(const char *name)
{
	static char u[3][512];
	static int k;

	k = (k + 1) % 3;
	snprintf(u[k], sizeof(u[k]), "%s/%s/%s/", rurl, USER, name);
	return u[k];
}

/* A connection already discovered (state set). */
static struct prov_ctx *ctx_ready(void)
{
	struct prov_ctx *c = ctx_new(USER, PASS);
	struct prov_calendar *cals;
	size_t n;

	assert_int_equal(caldav_discover(c, rurl, &cals, &n), PROV_OK);
	prov_calendars_free(cals, n);
	return c;
}

/* Raw HTTP as another client would do it (the doctor's phone). */
static long raw(const char *method, const char *url, const char *body, const char *cond, char *etag_out,
		struct buf *out)
{
	struct http_request rq = { 0 };
	struct http_response rs;
	const char *hdrs[3] = { "Content-Type: text/calendar; charset=utf-8", cond, NULL };
	char err[200];
	long st;

	rq.method = method;
	rq.url = url;
	rq.headers = hdrs;
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	rq.user = USER;
	rq.password = PASS;
	assert_int_equal(http_do(&rq, &rs, err, sizeof(err)), TF_OK);
	st = rs.status;
	if (etag_out)
		str_copy(etag_out, rs.etag, 256);
	if (out) {
		buf_reset(out);
		buf_append(out, rs.body.data ? rs.body.data : "", rs.body.len);
	}
	http_response_free(&rs);
	return st;
}

static char *vevent(const char *uid, time_t start, int minutes, const char *extra)
{
	char s[32], e[32];
	time_t end = start + minutes * 60;
	struct tm tm;
	struct buf b;

	gmtime_r(&start, &tm);
	strftime(s, sizeof(s), "%Y%m%dT%H%M%SZ", &tm);
	gmtime_r(&end, &tm);
	strftime(e, sizeof(e), "%Y%m%dT%H%M%SZ", &tm);
	buf_init(&b, 8192);
	buf_printf(&b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Phone//EN\r\nBEGIN:VEVENT\r\n"
		   "UID:%s\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:Privat\r\n%s"
		   "END:VEVENT\r\nEND:VCALENDAR\r\n", uid, s, e, extra ? extra : "");
	return buf_detach(&b);
}

static int count_ics(const char *cal)
{
	char path[1024], cmd[1200];
	FILE *f;
	int n = -1;

	snprintf(path, sizeof(path), "%s/collections/collection-root/%s/%s", rdir, USER, cal);
	snprintf(cmd, sizeof(cmd), "ls -1 '%s' | grep -c '\\.ics$'", path);
	f = popen(cmd, "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static struct prov_event event(long long id, time_t start, char *uid, size_t uidlen)
{
	struct prov_event e = { 0 };

	ics_uid_for_appointment(id, BASE, uid, uidlen);
	e.appointment_id = id;
	e.uid = uid;
	e.start = start;
	e.end = start + 1800;
	e.summary = "Termin (TerminFinder)";
	e.description = "Details: " BASE "/doctor/settings";
	return e;
}

static int setup(void **state)
{
	(void)state;
	rurl = getenv("TF_RADICALE_URL");
	rdir = getenv("TF_RADICALE_DIR");
	if (!rurl || !rdir || !*rurl || !*rdir)
		return -1;
	return 0;
}

#define NEED_SERVER() do { if (!rurl || !rdir) { skip(); } } while (0)

/* ------------------------------------------------------------------ discovery */

static void discovery_from_base_url(void **state)
{
	struct prov_ctx *c;
	struct prov_calendar *cals;
	size_t n;
	int praxis = 0, privat = 0;

	(void)state;
	NEED_SERVER();
	c = ctx_new(USER, PASS);
	assert_int_equal(caldav_discover(c, rurl, &cals, &n), PROV_OK);
	assert_string_equal(c->error, "");
	assert_non_null(c->state);
	const char *home = json_string_value(json_object_get(c->state, "home_url"));
	const char *principal = json_string_value(json_object_get(c->state, "principal_url"));
	assert_non_null(home);
	assert_non_null(principal);
	char want[512];
	snprintf(want, sizeof(want), "%s/%s/", rurl, USER);
	assert_string_equal(home, want);
	assert_string_equal(principal, want);
	assert_int_equal(n, 3);      /* praxis, privat, massen; the VTODO list "aufgaben" is skipped */
	for (size_t i = 0; i < n; i++) {
		assert_true(cals[i].events);
		assert_true(cals[i].can_write);
		if (!strcmp(cals[i].remote_id, cal_url("praxis"))) {
			praxis = 1;
			assert_string_equal(cals[i].name, "Praxis");
			assert_string_equal(cals[i].color, "#3366cc");
		}
		if (!strcmp(cals[i].remote_id, cal_url("privat"))) {
			privat = 1;
			/* no displayname: Radicale names it by its path, we by the last segment */
			assert_non_null(strstr(cals[i].name, "privat"));
		}
		assert_null(strstr(cals[i].remote_id, "aufgaben"));
	}
	assert_true(praxis && privat);
	/* well-known (redirect hop counted) + root + principal + home */
	assert_true(c->requests >= 4);
	prov_calendars_free(cals, n);

	/* list_calendars from the stored state gives the same */
	unsigned long before = c->requests;
	assert_int_equal(caldav_provider.list_calendars(c, &cals, &n), PROV_OK);
	assert_int_equal(n, 3);
	assert_int_equal(c->requests - before, 1);
	prov_calendars_free(cals, n);
	ctx_free(c);

	/* the principal URL itself also works as the entered address */
	c = ctx_new(USER, PASS);
	assert_int_equal(caldav_discover(c, want, &cals, &n), PROV_OK);
	assert_int_equal(n, 3);
	prov_calendars_free(cals, n);
	ctx_free(c);
}

static void discovery_wrong_password(void **state)
{
	struct prov_ctx *c;
	struct prov_calendar *cals = (void *)1;
	size_t n = 7;

	(void)state;
	NEED_SERVER();
	c = ctx_new(USER, "falsch-falsch");
	assert_int_equal(caldav_discover(c, rurl, &cals, &n), PROV_AUTH);
	assert_null(cals);
	assert_int_equal(n, 0);
	assert_null(c->state);
	assert_non_null(strstr(c->error, "Anmeldung"));
	assert_non_null(strstr(c->error, "app-spezifisches Passwort"));
	ctx_free(c);

	/* an unknown user too */
	c = ctx_new("niemand", "whatever-123");
	assert_int_equal(caldav_discover(c, rurl, &cals, &n), PROV_AUTH);
	ctx_free(c);
}

static void discovery_bad_addresses(void **state)
{
	struct prov_ctx *c;
	struct prov_calendar *cals;
	size_t n;

	(void)state;
	NEED_SERVER();
	c = ctx_new(USER, PASS);
	assert_int_equal(caldav_discover(c, "ftp://example.org/", &cals, &n), PROV_ERROR);
	assert_non_null(strstr(c->error, "ungültig"));
	assert_int_equal(c->requests, 0);
	assert_int_equal(caldav_discover(c, "http://user:pw@127.0.0.1/", &cals, &n), PROV_ERROR);
	assert_int_equal(c->requests, 0);
	/* nothing listens on port 1 */
	assert_int_equal(caldav_discover(c, "http://127.0.0.1:1/", &cals, &n), PROV_RETRY);
	assert_non_null(strstr(c->error, "nicht erreichbar"));
	ctx_free(c);

	/* missing credentials */
	c = ctx_new(USER, PASS);
	json_object_del(c->creds, "password");
	assert_int_equal(caldav_discover(c, rurl, &cals, &n), PROV_AUTH);
	assert_int_equal(c->requests, 0);
	ctx_free(c);
}

/* ------------------------------------------------------------------ push */

static void push_create_update_delete(void **state)
{
	struct prov_ctx *c;
	char uid[256], *rid = NULL, *etag = NULL, *rid2 = NULL, *etag2 = NULL, tag[256];
	struct prov_event e;
	struct buf body;

	(void)state;
	NEED_SERVER();
	c = ctx_ready();
	e = event(101, t0 + 2 * 86400, uid, sizeof(uid));
	assert_int_equal(caldav_provider.push_upsert(c, cal_url("praxis"), &e, NULL, NULL, &rid, &etag), PROV_OK);
	assert_non_null(rid);
	assert_non_null(etag);
	assert_true(etag[0] == '"');
	assert_int_equal(strncmp(rid, cal_url("praxis"), strlen(cal_url("praxis"))), 0);
	assert_non_null(strstr(rid, "terminfinder-appointment-101-praxis.example.ics"));

	buf_init(&body, 1 << 20);
	assert_int_equal(raw("GET", rid, NULL, NULL, tag, &body), 200);
	assert_string_equal(tag, etag);
	assert_non_null(strstr(body.data, "UID:terminfinder-appointment-101@praxis.example"));
	assert_non_null(strstr(body.data, "SUMMARY:Termin (TerminFinder)"));
	assert_null(strstr(body.data, "METHOD:"));
	assert_null(strstr(body.data, "ATTENDEE"));

	/* reschedule: If-Match with the stored etag */
	e.start += 3600;
	e.end += 3600;
	e.sequence = 1;
	assert_int_equal(caldav_provider.push_upsert(c, cal_url("praxis"), &e, rid, etag, &rid2, &etag2), PROV_OK);
	assert_string_equal(rid2, rid);
	assert_string_not_equal(etag2, etag);
	assert_int_equal(raw("GET", rid, NULL, NULL, tag, &body), 200);
	assert_string_equal(tag, etag2);
	assert_non_null(strstr(body.data, "SEQUENCE:1"));

	/* delete with If-Match; a second delete (gone already) is fine too */
	assert_int_equal(caldav_provider.push_delete(c, cal_url("praxis"), rid, etag2), PROV_OK);
	assert_int_equal(raw("GET", rid, NULL, NULL, NULL, NULL), 404);
	assert_int_equal(caldav_provider.push_delete(c, cal_url("praxis"), rid, etag2), PROV_OK);
	/* an update of a deleted event says so */
	free(etag);
	etag = NULL;
	free(rid2);
	rid2 = NULL;
	assert_int_equal(caldav_provider.push_upsert(c, cal_url("praxis"), &e, rid, etag2, &rid2, &etag), PROV_NOT_FOUND);
	assert_null(rid2);
	buf_free(&body);
	free(rid);
	free(etag2);
	ctx_free(c);
}

/* A crash between the PUT and storing the mapping: the next create must not duplicate. */
static void create_twice_converges(void **state)
{
	struct prov_ctx *c;
	char uid[256], *rid = NULL, *etag = NULL, *rid2 = NULL, *etag2 = NULL;
	struct prov_event e;
	int before;

	(void)state;
	NEED_SERVER();
	c = ctx_ready();
	before = count_ics("praxis");
	e = event(102, t0 + 3 * 86400, uid, sizeof(uid));
	assert_int_equal(caldav_provider.push_upsert(c, cal_url("praxis"), &e, NULL, NULL, &rid, &etag), PROV_OK);
	e.sequence = 1;
	e.start += 1800;
	e.end += 1800;
	unsigned long r0 = c->requests;
	assert_int_equal(caldav_provider.push_upsert(c, cal_url("praxis"), &e, NULL, NULL, &rid2, &etag2), PROV_OK);
	assert_string_equal(rid2, rid);
	assert_string_not_equal(etag2, etag);
	assert_true(c->requests - r0 >= 3);      /* PUT 412, GET, PUT If-Match */
	assert_int_equal(count_ics("praxis"), before + 1);

	/* someone else's event at our name is not overwritten */
	char other[256], *rid3 = NULL, *etag3 = NULL, *ics;
	struct prov_event e2 = event(103, t0 + 4 * 86400, other, sizeof(other));
	char url[512];
	snprintf(url, sizeof(url), "%sterminfinder-appointment-103-praxis.example.ics", cal_url("praxis"));
	ics = vevent("fremd-123", t0 + 4 * 86400, 30, NULL);
	assert_int_equal(raw("PUT", url, ics, NULL, NULL, NULL), 201);
	free(ics);
	assert_int_equal(caldav_provider.push_upsert(c, cal_url("praxis"), &e2, NULL, NULL, &rid3, &etag3),
			 PROV_PRECONDITION);
	assert_null(rid3);
	assert_true(c->error[0] != '\0');
	assert_int_equal(raw("DELETE", url, NULL, NULL, NULL, NULL), 200);

	assert_int_equal(caldav_provider.push_delete(c, cal_url("praxis"), rid, etag2), PROV_OK);
	free(rid);
	free(etag);
	free(rid2);
	free(etag2);
	ctx_free(c);
}

/* The event changed on the phone: 412 on our update, refetch, retry once. */
static void update_after_external_change(void **state)
{
	struct prov_ctx *c;
	char uid[256], *rid = NULL, *etag = NULL, *rid2 = NULL, *etag2 = NULL, phone_tag[256];
	struct prov_event e;
	struct buf body;
	char *ics;

	(void)state;
	NEED_SERVER();
	c = ctx_ready();
	e = event(104, t0 + 5 * 86400, uid, sizeof(uid));
	assert_int_equal(caldav_provider.push_upsert(c, cal_url("praxis"), &e, NULL, NULL, &rid, &etag), PROV_OK);
	ics = vevent(uid, t0 + 5 * 86400 + 7200, 30, "LOCATION:Telefon\r\n");
	assert_true(raw("PUT", rid, ics, NULL, phone_tag, NULL) / 100 == 2);
	free(ics);
	e.sequence = 1;
	unsigned long r0 = c->requests;
	assert_int_equal(caldav_provider.push_upsert(c, cal_url("praxis"), &e, rid, etag, &rid2, &etag2), PROV_OK);
	assert_int_equal(c->requests - r0, 3);    /* PUT 412, PROPFIND getetag, PUT */
	buf_init(&body, 1 << 20);
	assert_int_equal(raw("GET", rid, NULL, NULL, NULL, &body), 200);
	assert_null(strstr(body.data, "LOCATION:Telefon"));
	assert_non_null(strstr(body.data, "SUMMARY:Termin (TerminFinder)"));
	buf_free(&body);

	/* a stale etag on delete: refetch and delete anyway (our cancelled appointment) */
	assert_int_equal(caldav_provider.push_delete(c, cal_url("praxis"), rid, etag), PROV_OK);
	assert_int_equal(raw("GET", rid, NULL, NULL, NULL, NULL), 404);
	free(rid);
	free(etag);
	free(rid2);
	free(etag2);
	ctx_free(c);
}

/* Credentials never go to a host that is not the connection's. */
static void foreign_host_refused(void **state)
{
	struct prov_ctx *c;
	char uid[256], *rid = NULL, *etag = NULL, *cur = NULL;
	struct prov_event e;
	static struct sink s;
	struct prov_sink k = make_sink(&s);

	(void)state;
	NEED_SERVER();
	c = ctx_ready();
	unsigned long r0 = c->requests;
	e = event(105, t0 + 86400, uid, sizeof(uid));
	assert_int_equal(caldav_provider.push_upsert(c, "http://127.0.0.2:9/ana/praxis/", &e, NULL, NULL, &rid, &etag),
			 PROV_ERROR);
	assert_int_equal(caldav_provider.push_delete(c, cal_url("praxis"), "https://evil.example/x.ics", NULL),
			 PROV_ERROR);
	assert_int_equal(caldav_provider.pull(c, "http://localhost:1/ana/praxis/", NULL, &k, &cur), PROV_ERROR);
	assert_int_equal(c->requests, r0);
	assert_null(cur);
	ctx_free(c);
}

/* ------------------------------------------------------------------ pull */

static void pull_sync_collection(void **state)
{
	struct prov_ctx *c;
	static struct sink s;
	struct prov_sink k = make_sink(&s);
	char *cur = NULL, *cur2 = NULL, url1[512], url2[512], url3[512], *ics, uid[256];
	char *rid = NULL, *etag = NULL;
	struct prov_event e;
	unsigned long r0;

	(void)state;
	NEED_SERVER();
	c = ctx_ready();
	/* two external events, one transparent (free), and one of ours */
	snprintf(url1, sizeof(url1), "%sphone-1.ics", cal_url("privat"));
	snprintf(url2, sizeof(url2), "%sphone-2.ics", cal_url("privat"));
	snprintf(url3, sizeof(url3), "%sphone-3.ics", cal_url("privat"));
	ics = vevent("phone-1", t0 + 86400, 60, NULL);
	assert_int_equal(raw("PUT", url1, ics, NULL, NULL, NULL), 201);
	free(ics);
	ics = vevent("phone-2", t0 + 2 * 86400, 90, NULL);
	assert_int_equal(raw("PUT", url2, ics, NULL, NULL, NULL), 201);
	free(ics);
	ics = vevent("phone-3", t0 + 3 * 86400, 30, "TRANSP:TRANSPARENT\r\n");
	assert_int_equal(raw("PUT", url3, ics, NULL, NULL, NULL), 201);
	free(ics);
	e = event(201, t0 + 4 * 86400, uid, sizeof(uid));
	assert_int_equal(caldav_provider.push_upsert(c, cal_url("privat"), &e, NULL, NULL, &rid, &etag), PROV_OK);

	/* first pull: full listing by sync-collection */
	r0 = c->requests;
	assert_int_equal(caldav_provider.pull(c, cal_url("privat"), NULL, &k, &cur), PROV_OK);
	assert_non_null(cur);
	assert_non_null(strstr(cur, "\"sync_token\""));
	assert_int_equal(s.fulls, 1);
	assert_int_equal(s.n, 4);
	assert_int_equal(c->requests - r0, 3);    /* PROPFIND props, REPORT sync-collection, multiget */
	struct obj *o = find(&s, url1);
	assert_non_null(o);
	assert_int_equal(o->nbusy, 1);
	assert_int_equal(o->busy_start, t0 + 86400);
	assert_int_equal(o->busy_end, t0 + 86400 + 3600);
	assert_int_equal(o->own, 0);
	o = find(&s, url3);
	assert_non_null(o);
	assert_int_equal(o->nbusy, 0);            /* transparent: not busy */
	o = find(&s, rid);
	assert_non_null(o);
	assert_int_equal(o->own, 201);
	assert_int_equal(o->own_start, e.start);
	assert_int_equal(o->own_end, e.end);
	assert_string_equal(o->etag, etag);

	/* unchanged: exactly one request, nothing reported */
	s.upserts = s.removes = 0;
	r0 = c->requests;
	assert_int_equal(caldav_provider.pull(c, cal_url("privat"), cur, &k, &cur2), PROV_OK);
	assert_int_equal(c->requests - r0, 1);
	assert_int_equal(s.upserts + s.removes, 0);
	assert_string_equal(cur2, cur);
	free(cur2);
	cur2 = NULL;

	/* one changed, one deleted on the phone, our event moved there */
	ics = vevent("phone-2", t0 + 2 * 86400 + 3600, 45, NULL);
	assert_int_equal(raw("PUT", url2, ics, NULL, NULL, NULL) / 100, 2);
	free(ics);
	assert_int_equal(raw("DELETE", url1, NULL, NULL, NULL, NULL), 200);
	ics = vevent(uid, t0 + 4 * 86400 + 7200, 30, NULL);
	assert_int_equal(raw("PUT", rid, ics, NULL, NULL, NULL) / 100, 2);
	free(ics);
	r0 = c->requests;
	assert_int_equal(caldav_provider.pull(c, cal_url("privat"), cur, &k, &cur2), PROV_OK);
	assert_int_equal(c->requests - r0, 2);    /* REPORT sync-collection, one multiget */
	assert_int_equal(s.upserts, 2);
	assert_int_equal(s.removes, 1);
	assert_null(find(&s, url1));
	o = find(&s, url2);
	assert_int_equal(o->busy_start, t0 + 2 * 86400 + 3600);
	assert_int_equal(o->busy_end, t0 + 2 * 86400 + 3600 + 45 * 60);
	o = find(&s, rid);
	assert_int_equal(o->own, 201);
	assert_int_equal(o->own_start, e.start + 7200);
	assert_string_not_equal(cur2, cur);

	/* a stale token: the engine is told to resync in full */
	char *cur3 = NULL;
	assert_int_equal(caldav_provider.pull(c, cal_url("privat"),
					      "{\"sync_token\":\"http://radicale.org/ns/sync/0000\"}", &k, &cur3),
			 PROV_TOKEN_INVALID);
	assert_null(cur3);

	/* a calendar that is gone */
	assert_int_equal(caldav_provider.pull(c, cal_url("weg"), NULL, &k, &cur3), PROV_NOT_FOUND);

	/* clean up for the other tests */
	raw("DELETE", url2, NULL, NULL, NULL, NULL);
	raw("DELETE", url3, NULL, NULL, NULL, NULL);
	raw("DELETE", rid, NULL, NULL, NULL, NULL);
	free(cur);
	free(cur2);
	free(rid);
	free(etag);
	ctx_free(c);
}

/* Servers without sync-collection: ctag short-circuit, etag diff, removals through end_full. */
static void pull_ctag_etag_diff(void **state)
{
	struct prov_ctx *c;
	static struct sink s;
	struct prov_sink k = make_sink(&s);
	char *cur = NULL, *cur2 = NULL, url[8][512], *ics;
	unsigned long r0;

	(void)state;
	NEED_SERVER();
	c = ctx_ready();
	json_object_set_new(c->state, "use_sync_collection", json_false());
	for (int i = 0; i < 8; i++) {
		char uid[32];
		snprintf(uid, sizeof(uid), "diff-%d", i);
		snprintf(url[i], sizeof(url[i]), "%s%s.ics", cal_url("praxis"), uid);
		ics = vevent(uid, t0 + (i + 1) * 86400, 30, NULL);
		assert_int_equal(raw("PUT", url[i], ics, NULL, NULL, NULL), 201);
		free(ics);
	}
	r0 = c->requests;
	assert_int_equal(caldav_provider.pull(c, cal_url("praxis"), NULL, &k, &cur), PROV_OK);
	assert_non_null(strstr(cur, "\"ctag\""));
	assert_int_equal(c->requests - r0, 3);    /* PROPFIND ctag, PROPFIND Depth 1, multiget */
	assert_int_equal(s.n, 8);
	assert_int_equal(s.fulls, 1);

	/* unchanged: the ctag answers it in one request */
	s.upserts = 0;
	r0 = c->requests;
	assert_int_equal(caldav_provider.pull(c, cal_url("praxis"), cur, &k, &cur2), PROV_OK);
	assert_int_equal(c->requests - r0, 1);
	assert_int_equal(s.upserts, 0);
	assert_int_equal(s.fulls, 1);
	assert_string_equal(cur2, cur);
	free(cur2);
	cur2 = NULL;

	/* one changed, one deleted: only the changed one is fetched, the deleted one disappears */
	ics = vevent("diff-3", t0 + 10 * 86400, 60, NULL);
	assert_int_equal(raw("PUT", url[3], ics, NULL, NULL, NULL) / 100, 2);
	free(ics);
	assert_int_equal(raw("DELETE", url[5], NULL, NULL, NULL, NULL), 200);
	r0 = c->requests;
	assert_int_equal(caldav_provider.pull(c, cal_url("praxis"), cur, &k, &cur2), PROV_OK);
	assert_int_equal(c->requests - r0, 3);
	assert_int_equal(s.upserts, 1);
	assert_int_equal(s.full_removed, 1);
	assert_int_equal(s.n, 7);
	assert_null(find(&s, url[5]));
	assert_int_equal(find(&s, url[3])->busy_start, t0 + 10 * 86400);
	assert_string_not_equal(cur2, cur);

	for (int i = 0; i < 8; i++)
		raw("DELETE", url[i], NULL, NULL, NULL, NULL);
	free(cur);
	free(cur2);
	ctx_free(c);
}

/* Many objects: the multiget goes in batches, a malformed one is skipped. */
static void pull_batches(void **state)
{
	struct prov_ctx *c;
	static struct sink s;
	struct prov_sink k = make_sink(&s);
	char *cur = NULL, path[1024];
	unsigned long r0;
	const int N = 230;

	(void)state;
	NEED_SERVER();
	c = ctx_ready();
	/* straight into Radicale's storage (as the bench does) */
	for (int i = 0; i < N; i++) {
		char uid[32];
		char *ics;
		FILE *f;
		snprintf(uid, sizeof(uid), "bulk-%03d", i);
		snprintf(path, sizeof(path), "%s/collections/collection-root/%s/massen/%s.ics", rdir, USER, uid);
		ics = vevent(uid, t0 + 86400 + i * 3600, 30, NULL);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(ics, f);
		fclose(f);
		free(ics);
	}
	r0 = c->requests;
	assert_int_equal(caldav_provider.pull(c, cal_url("massen"), NULL, &k, &cur), PROV_OK);
	assert_int_equal(s.n, N);
	assert_int_equal(c->requests - r0, 2 + (N + 99) / 100);
	for (int i = 0; i < s.n; i++)
		assert_int_equal(s.o[i].nbusy, 1);
	free(cur);
	ctx_free(c);
}


/* ------------------------------------------------------------------ iCloud quirks (tests/lib/icloudfake.py) */

static void icloud_quirks(void **state)
{
	const char *url = getenv("TF_ICLOUD_URL");
	struct prov_ctx *c;
	struct prov_calendar *cals;
	size_t n;
	static struct sink s;
	struct prov_sink k = make_sink(&s);
	char *cur = NULL, *cur2 = NULL, cal[512], uid[256], *rid = NULL, *etag = NULL, obj[600];
	unsigned long r0;

	(void)state;
	if (!url || !*url)
		skip();
	/* a wrong app-specific password: the 401 offers X-MobileMe-AuthToken and Basic */
	c = ctx_new("12345@icloud.example", "falsch-falsch-falsch");
	assert_int_equal(caldav_discover(c, url, &cals, &n), PROV_AUTH);
	assert_non_null(strstr(c->error, "app-spezifisches Passwort"));
	ctx_free(c);
	/* no Basic offered at all */
	c = ctx_new("mobileme", "whatever-123");
	assert_int_equal(caldav_discover(c, url, &cals, &n), PROV_AUTH);
	assert_non_null(strstr(c->error, "nicht unterstützt"));
	ctx_free(c);

	/* discovery: principal on the entry host, home on the partition host */
	c = ctx_new("12345@icloud.example", "abcd-efgh-ijkl-mnop");
	assert_int_equal(caldav_discover(c, url, &cals, &n), PROV_OK);
	const char *home = json_string_value(json_object_get(c->state, "home_url"));
	assert_non_null(home);
	assert_false(http_same_origin(home, url));
	assert_int_equal(n, 1);          /* tasks (VTODO), inbox, outbox, notification skipped */
	assert_string_equal(cals[0].name, "Privat");
	assert_string_equal(cals[0].color, "#ff2968");
	assert_true(cals[0].can_write);
	assert_true(http_same_origin(cals[0].remote_id, home));
	str_copy(cal, cals[0].remote_id, sizeof(cal));
	prov_calendars_free(cals, n);

	/* full pull: sync-collection truncated once (507), the collection's own entry ignored,
	 * CDATA calendar-data, a broken object reported without busy time */
	r0 = c->requests;
	assert_int_equal(caldav_provider.pull(c, cal, NULL, &k, &cur), PROV_OK);
	assert_int_equal(c->requests - r0, 5);   /* PROPFIND, 2 x (REPORT + multiget) */
	assert_int_equal(s.n, 4);
	assert_null(find(&s, cal));
	snprintf(obj, sizeof(obj), "%sapple-0.ics", cal);
	assert_non_null(find(&s, obj));
	assert_int_equal(find(&s, obj)->nbusy, 1);
	assert_int_equal(find(&s, obj)->busy_end - find(&s, obj)->busy_start, 3600);
	snprintf(obj, sizeof(obj), "%sbroken.ics", cal);
	assert_non_null(find(&s, obj));
	assert_int_equal(find(&s, obj)->nbusy, 0);

	/* unchanged: one request */
	r0 = c->requests;
	assert_int_equal(caldav_provider.pull(c, cal, cur, &k, &cur2), PROV_OK);
	assert_int_equal(c->requests - r0, 1);
	free(cur2);
	cur2 = NULL;

	/* push: the PUT answer has no ETag (the server rewrote the data): getetag is fetched */
	struct prov_event e = event(301, t0 + 6 * 86400, uid, sizeof(uid));
	r0 = c->requests;
	assert_int_equal(caldav_provider.push_upsert(c, cal, &e, NULL, NULL, &rid, &etag), PROV_OK);
	assert_int_equal(c->requests - r0, 2);
	assert_true(etag[0] == '"');
	assert_true(http_same_origin(rid, home));

	/* this fake forgets old tokens: the engine is told to resync */
	assert_int_equal(caldav_provider.pull(c, cal, cur, &k, &cur2), PROV_TOKEN_INVALID);
	assert_int_equal(caldav_provider.push_delete(c, cal, rid, etag), PROV_OK);
	free(cur);
	free(rid);
	free(etag);
	ctx_free(c);
}


/* ------------------------------------------------------------------ the HTTP client's rules */

static long get(const char *url, int redirects, int any_host, size_t max, struct buf *out, unsigned long *counter,
		enum tf_err *rc)
{
	struct http_request rq = { 0 };
	struct http_response rs;
	char err[200];
	long st;

	rq.url = url;
	rq.user = "12345@icloud.example";
	rq.password = "abcd-efgh-ijkl-mnop";
	rq.max_redirects = redirects;
	rq.auth_any_host = any_host;
	rq.max_response = max;
	rq.counter = counter;
	*rc = http_do(&rq, &rs, err, sizeof(err));
	st = rs.status;
	if (out) {
		buf_reset(out);
		buf_append(out, rs.body.data ? rs.body.data : "", rs.body.len);
	}
	http_response_free(&rs);
	return st;
}

static void http_client_rules(void **state)
{
	const char *entry = getenv("TF_ICLOUD_URL");
	char part[256], url[1024], home[512];
	struct buf b;
	unsigned long n = 0;
	enum tf_err rc;
	struct prov_ctx *c;
	struct prov_calendar *cals;
	size_t ncal;

	(void)state;
	if (!entry || !*entry)
		skip();
	/* the partition host's origin from discovery */
	c = ctx_new("12345@icloud.example", "abcd-efgh-ijkl-mnop");
	assert_int_equal(caldav_discover(c, entry, &cals, &ncal), PROV_OK);
	prov_calendars_free(cals, ncal);
	str_copy(home, json_string_value(json_object_get(c->state, "home_url")), sizeof(home));
	ctx_free(c);
	assert_int_equal(http_url_resolve(home, "/", part, sizeof(part)), 0);
	part[strlen(part) - 1] = '\0';

	buf_init(&b, 1 << 16);
	/* direct: credentials arrive, headers captured */
	snprintf(url, sizeof(url), "%s/echo-auth", part);
	assert_int_equal(get(url, 0, 0, 0, &b, &n, &rc), 200);
	assert_string_equal(b.data, "auth=yes");
	assert_int_equal(n, 1);
	/* a redirect is not followed unless asked */
	snprintf(url, sizeof(url), "%s/redirect?to=%s/echo-auth", entry, part);
	assert_int_equal(get(url, 0, 0, 0, &b, &n, &rc), 307);
	assert_int_equal(n, 2);
	/* followed to another origin: the credentials stay behind ... */
	assert_int_equal(get(url, 3, 0, 0, &b, &n, &rc), 200);
	assert_string_equal(b.data, "auth=no");
	assert_int_equal(n, 4);                  /* each hop counted */
	/* ... unless the caller vouches for the redirecting host (discovery) */
	assert_int_equal(get(url, 3, 1, 0, &b, &n, &rc), 200);
	assert_string_equal(b.data, "auth=yes");
	/* only http and https, also as redirect targets */
	snprintf(url, sizeof(url), "%s/redirect?to=ftp://127.0.0.1/x", entry);
	assert_int_equal(get(url, 3, 1, 0, &b, &n, &rc), 307);
	assert_int_equal(rc, TF_ERR_INVALID);
	unsigned long before = n;
	get("ftp://127.0.0.1/x", 0, 0, 0, &b, &n, &rc);
	assert_int_equal(rc, TF_ERR_INVALID);
	get("http://user:pw@127.0.0.1/x", 0, 0, 0, &b, &n, &rc);
	assert_int_equal(rc, TF_ERR_INVALID);
	assert_int_equal(n, before);             /* nothing sent */
	/* the response cap */
	snprintf(url, sizeof(url), "%s/echo-auth", part);
	get(url, 0, 0, 4, &b, &n, &rc);
	assert_int_equal(rc, TF_ERR_TOOBIG);
	/* a header with CR/LF is refused before sending */
	{
		struct http_request rq = { 0 };
		struct http_response rs;
		const char *hdrs[] = { "X-Test: a\r\nInjected: 1", NULL };
		char err[200];
		rq.url = url;
		rq.headers = hdrs;
		rq.counter = &n;
		before = n;
		assert_int_equal(http_do(&rq, &rs, err, sizeof(err)), TF_ERR_INVALID);
		http_response_free(&rs);
		assert_int_equal(n, before);
	}
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(discovery_from_base_url),
		cmocka_unit_test(discovery_wrong_password),
		cmocka_unit_test(discovery_bad_addresses),
		cmocka_unit_test(push_create_update_delete),
		cmocka_unit_test(create_twice_converges),
		cmocka_unit_test(update_after_external_change),
		cmocka_unit_test(foreign_host_refused),
		cmocka_unit_test(pull_sync_collection),
		cmocka_unit_test(pull_ctag_etag_diff),
		cmocka_unit_test(pull_batches),
		cmocka_unit_test(icloud_quirks),
		cmocka_unit_test(http_client_rules),
	};

	log_init("test_caldav", 0, LOG_LVL_WARN);
	t0 = time(NULL);
	t0 -= t0 % 3600;
	if (!getenv("TF_RADICALE_URL") || !getenv("TF_RADICALE_DIR")) {
		printf("1..0 # SKIP TF_RADICALE_URL/TF_RADICALE_DIR not set (run tests/integration/test_caldav.sh)\n");
		return 0;
	}
	return cmocka_run_group_tests_name("caldav", tests, setup, NULL);
}
