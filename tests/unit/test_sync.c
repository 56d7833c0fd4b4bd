/* test_sync.c: connections and the sync engine against a real MariaDB: an in-test provider for the
 * engine's rules, then the real CalDAV provider against Radicale (tests/integration/test_sync.sh). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "availability.h"
#include "booking.h"
#include "caldav.h"
#include "conf.h"
#include "crypto.h"
#include "db.h"
#include "doctor.h"
#include "http.h"
#include "ics.h"
#include "integration.h"
#include "log.h"
#include "provider.h"
#include "sync.h"
#include "tztime.h"

#define BASE "https://praxis.example"
#define PATIENT "Erika Mustermann"
#define PATIENT_MAIL "erika.mustermann@example.org"

static struct conf *conf;
static struct db *db;
static char uniq[32];
static char enc_key[45];

/* ------------------------------------------------------------------ helpers */

static long long q_int(enum db_stmt s, const struct db_param *p, size_t np, size_t col)
{
	struct db_rows rows;
	long long v;
	int q = db_query_one(db, s, p, np, &rows);

	assert_true(q >= 0);
	if (q == 0)
		return -1;
	v = db_cell_int(&rows, 0, col, -1);
	db_rows_free(&rows);
	return v;
}

/* A cell as a malloc'd string ("" for none). */
static char *q_str(enum db_stmt s, const struct db_param *p, size_t np, size_t col)
{
	struct db_rows rows;
	char *v;
	int q = db_query_one(db, s, p, np, &rows);

	assert_true(q >= 0);
	if (q == 0)
		return xstrdup("");
	v = xstrdup(db_cell(&rows, 0, col) ? db_cell(&rows, 0, col) : "");
	db_rows_free(&rows);
	return v;
}

static long long new_doctor(const char *tag)
{
	char email[128], slug[64], err[256];
	long long id = 0;

	snprintf(email, sizeof(email), "%s-%s@example.org", tag, uniq);
	snprintf(slug, sizeof(slug), "%s-%s", tag, uniq);
	if (doctor_create(db, email, "Dr. Erika Test", slug, "ein-langes-passwort", "Europe/Berlin", &id, err,
			  sizeof(err)) != TF_OK)
		fail_msg("doctor_create: %s", err);
	return id;
}

/* Book the first free weekday at hour:00 local, at least `days` days ahead. */
static long long book(long long doctor_id, int days, int hour, struct civil *when)
{
	struct booking_request q;
	struct booking_result r;
	struct civil day;
	long long id = 0;
	int i;

	tz_today("Europe/Berlin", time(NULL), &day);
	civil_add_days(&day, days);
	for (i = 0; i < 20 && !id; i++, civil_add_days(&day, 1)) {
		if (civil_weekday(&day) > 5)
			continue;
		memset(&q, 0, sizeof(q));
		q.doctor_id = doctor_id;
		q.service = "Sprechstunde";
		q.start = day;
		q.start.hour = hour;
		q.start.minute = 0;
		q.patient_name = PATIENT;
		q.patient_email = PATIENT_MAIL;
		q.patient_phone = "+49 30 1234567";
		memset(&r, 0, sizeof(r));
		if (booking_create(db, conf, &q, time(NULL), &r) == BOOKING_OK) {
			id = r.appt.id;
			if (when)
				*when = q.start;
		}
		booking_result_free(&r);
	}
	assert_true(id > 0);
	return id;
}

static void reschedule(long long doctor_id, long long appt, struct civil to)
{
	struct booking_result r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(booking_reschedule(db, conf, doctor_id, appt, &to, time(NULL), &r), BOOKING_OK);
	booking_result_free(&r);
}

static void cancel(long long doctor_id, long long appt)
{
	struct booking_result r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(booking_cancel_by_doctor(db, conf, doctor_id, appt, time(NULL), &r), BOOKING_OK);
	booking_result_free(&r);
}

static time_t appt_start(long long id)
{
	struct appointment a;

	assert_int_equal(appointment_by_id(db, id, &a), 1);
	return a.start;
}

static int sync_now(long long id, struct sync_stats *st)
{
	struct sync_stats dummy;

	return sync_integration(db, conf, id, time(NULL), st ? st : &dummy);
}

/* The calendar ids of a connection, in order. */
static size_t calendar_ids(long long doctor, long long integ, long long *out, size_t max)
{
	json_t *cals = NULL;
	size_t i, n;

	assert_int_equal(integration_calendars_json(db, doctor, integ, &cals), 1);
	n = json_array_size(cals);
	for (i = 0; i < n && i < max; i++)
		out[i] = json_integer_value(json_object_get(json_array_get(cals, i), "id"));
	json_decref(cals);
	return n;
}

static char *review_reason(long long appt)
{
	if (q_int(STMT_TEST_SYNC_REVIEW, DB_ARGS(DBP_INT(appt)), 0) != 1)
		return NULL;
	return q_str(STMT_TEST_SYNC_REVIEW, DB_ARGS(DBP_INT(appt)), 1);
}

/* ------------------------------------------------------------------ an in-test provider
 * A calendar server in memory: objects per calendar with etags; every listing is a full one
 * (begin_full, known_etag for each object, upsert of the changed ones, end_full), or, with
 * fake_incremental and a cursor, the changed objects and the removed hrefs. */

struct fobj {
	int used;
	char cal[128], href[512], etag[32], summary[300], desc[300];
	time_t start, end;
	long long own;
	struct interval busy[2];
	size_t nbusy;
};
static struct fobj fobjs[64];
static char fremoved[16][512];
static size_t nfremoved;
static int fake_etag_n;
static enum prov_status fake_push_status = PROV_OK, fake_pull_status = PROV_OK;
static int fake_stale_cursor, fake_incremental;
static unsigned fake_creates, fake_deletes, fake_pulls;
static void (*fake_during_pull)(void);   /* called once from the next pull, then cleared */

static void fake_reset(void)
{
	memset(fobjs, 0, sizeof(fobjs));
	nfremoved = 0;
	fake_push_status = fake_pull_status = PROV_OK;
	fake_stale_cursor = fake_incremental = 0;
	fake_creates = fake_deletes = fake_pulls = 0;
}

static struct fobj *fake_find(const char *href)
{
	size_t i;

	for (i = 0; i < TF_ARRAY_LEN(fobjs); i++)
		if (fobjs[i].used && strcmp(fobjs[i].href, href) == 0)
			return &fobjs[i];
	return NULL;
}

static size_t fake_count(const char *cal)
{
	size_t i, n = 0;

	for (i = 0; i < TF_ARRAY_LEN(fobjs); i++)
		if (fobjs[i].used && strcmp(fobjs[i].cal, cal) == 0)
			n++;
	return n;
}

static void fake_new_etag(struct fobj *o)
{
	snprintf(o->etag, sizeof(o->etag), "\"e%d\"", ++fake_etag_n);
}

static struct fobj *fake_add(const char *cal, const char *name)
{
	size_t i;

	for (i = 0; i < TF_ARRAY_LEN(fobjs) && fobjs[i].used; i++)
		;
	assert_true(i < TF_ARRAY_LEN(fobjs));
	memset(&fobjs[i], 0, sizeof(fobjs[i]));
	fobjs[i].used = 1;
	str_copy(fobjs[i].cal, cal, sizeof(fobjs[i].cal));
	snprintf(fobjs[i].href, sizeof(fobjs[i].href), "%s%s", cal, name);
	fake_new_etag(&fobjs[i]);
	return &fobjs[i];
}

static void fake_remove(struct fobj *o)
{
	if (nfremoved < TF_ARRAY_LEN(fremoved))
		str_copy(fremoved[nfremoved++], o->href, sizeof(fremoved[0]));
	o->used = 0;
}

static enum prov_status fake_list(struct prov_ctx *c, struct prov_calendar **out, size_t *n)
{
	(void)c;
	*out = NULL;
	*n = 0;
	return PROV_OK;
}

static enum prov_status fake_upsert(struct prov_ctx *c, const char *cal, const struct prov_event *e,
				    const char *remote_id, const char *etag, char **new_remote_id, char **new_etag)
{
	char href[512];
	struct fobj *o;

	(void)etag;
	c->requests++;
	if (fake_push_status != PROV_OK) {
		snprintf(c->error, sizeof(c->error), "Testkalender nicht erreichbar.");
		return fake_push_status;
	}
	if (remote_id)
		str_copy(href, remote_id, sizeof(href));
	else
		snprintf(href, sizeof(href), "%s%s.ics", cal, e->uid);
	o = fake_find(href);
	if (!o && remote_id)
		return PROV_NOT_FOUND;
	if (!o) {
		/* deterministic href from the UID: a repeated create lands on the same object */
		o = fake_add(cal, "");
		str_copy(o->href, href, sizeof(o->href));
		fake_creates++;
	}
	str_copy(o->summary, e->summary, sizeof(o->summary));
	str_copy(o->desc, e->description ? e->description : "", sizeof(o->desc));
	o->start = e->start;
	o->end = e->end;
	o->own = e->appointment_id;
	fake_new_etag(o);
	*new_remote_id = xstrdup(o->href);
	*new_etag = xstrdup(o->etag);
	return PROV_OK;
}

static enum prov_status fake_delete(struct prov_ctx *c, const char *cal, const char *remote_id, const char *etag)
{
	struct fobj *o = fake_find(remote_id);

	(void)cal;
	(void)etag;
	c->requests++;
	if (fake_push_status != PROV_OK)
		return fake_push_status;
	if (o) {
		fake_remove(o);
		fake_deletes++;
	}
	return PROV_OK;
}

static int fake_report(const struct prov_sink *sink, struct fobj *o)
{
	struct prov_object po;

	memset(&po, 0, sizeof(po));
	po.object_id = o->href;
	po.etag = o->etag;
	if (o->own) {
		po.own_appointment_id = o->own;
		po.own_start = o->start;
		po.own_end = o->end;
	} else {
		po.busy = o->busy;
		po.nbusy = o->nbusy;
	}
	return sink->upsert(sink->ud, &po);
}

static enum prov_status fake_pull(struct prov_ctx *c, const char *cal, const char *cursor,
				  const struct prov_sink *sink, char **new_cursor)
{
	const char *known;
	size_t i;

	c->requests++;
	fake_pulls++;
	if (fake_during_pull) {
		void (*hook)(void) = fake_during_pull;

		fake_during_pull = NULL;
		hook();
	}
	if (fake_pull_status != PROV_OK) {
		snprintf(c->error, sizeof(c->error), "Testkalender antwortet nicht.");
		return fake_pull_status;
	}
	if (cursor && fake_stale_cursor) {
		fake_stale_cursor = 0;
		return PROV_TOKEN_INVALID;
	}
	if (cursor && fake_incremental) {
		for (i = 0; i < TF_ARRAY_LEN(fobjs); i++) {
			if (!fobjs[i].used || strcmp(fobjs[i].cal, cal) != 0)
				continue;
			known = sink->known_etag(sink->ud, fobjs[i].href);
			if ((!known || strcmp(known, fobjs[i].etag) != 0) && fake_report(sink, &fobjs[i]) < 0)
				return PROV_ERROR;
		}
		for (i = 0; i < nfremoved; i++) {
			if (!fremoved[i][0] || strncmp(fremoved[i], cal, strlen(cal)) != 0)
				continue;
			if (sink->remove(sink->ud, fremoved[i]) < 0)
				return PROV_ERROR;
			fremoved[i][0] = '\0';
		}
	} else {
		if (sink->begin_full(sink->ud) < 0)
			return PROV_ERROR;
		for (i = 0; i < TF_ARRAY_LEN(fobjs); i++) {
			if (!fobjs[i].used || strcmp(fobjs[i].cal, cal) != 0)
				continue;
			known = sink->known_etag(sink->ud, fobjs[i].href);
			if ((!known || strcmp(known, fobjs[i].etag) != 0) && fake_report(sink, &fobjs[i]) < 0)
				return PROV_ERROR;
		}
		if (sink->end_full(sink->ud) < 0)
			return PROV_ERROR;
	}
	*new_cursor = xstrdup("cursor-1");
	return PROV_OK;
}

static unsigned fake_revokes;

static enum prov_status fake_revoke(struct prov_ctx *c)
{
	assert_non_null(c->creds);
	fake_revokes++;
	return PROV_OK;
}

static const struct provider_ops fake_ops = {
	.name = "apple",
	.list_calendars = fake_list,
	.push_upsert = fake_upsert,
	.push_delete = fake_delete,
	.pull = fake_pull,
	.revoke = fake_revoke,
};

#define CAL_A "https://fake.example/cal/a/"
#define CAL_B "https://fake.example/cal/b/"
#define CAL_RO "https://fake.example/cal/ro/"

/* A connection with the in-test provider: calendars A (writable), B (writable), RO (read-only),
 * and a task list (not offered). */
static long long fake_connection(long long doctor, const char *account)
{
	struct prov_calendar cals[4] = {
		{ .remote_id = (char *)"https://fake.example/cal/tasks/", .name = (char *)"Aufgaben",
		  .color = (char *)"", .can_write = 1, .events = 0 },
		{ .remote_id = (char *)CAL_RO, .name = (char *)"Feiertage", .color = (char *)"#ff0000",
		  .can_write = 0, .events = 1 },
		{ .remote_id = (char *)CAL_A, .name = (char *)"Praxis", .color = (char *)"", .can_write = 1,
		  .events = 1 },
		{ .remote_id = (char *)CAL_B, .name = (char *)"Privat", .color = (char *)"", .can_write = 1,
		  .events = 1 },
	};
	json_t *creds = json_pack("{s:s, s:s}", "username", account, "password", "sehr-geheimes-passwort");
	json_t *state = json_pack("{s:s}", "caldav_url", "https://fake.example/");
	char err[256];
	long long id = 0;
	int rec = -1;

	assert_int_equal(integration_create(db, conf, doctor, "apple", account, creds, state, cals, 4, &id, &rec,
					    err, sizeof(err)), TF_OK);
	assert_int_equal(rec, 0);
	json_decref(creds);
	json_decref(state);
	return id;
}

/* ------------------------------------------------------------------ connections */

static void test_create_defaults(void **state)
{
	long long doc = new_doctor("create"), other = new_doctor("create-other"), id, ids[8];
	struct integration_conn conn;
	json_t *cals = NULL, *creds;
	char *token, err[256];
	size_t n;

	(void)state;
	id = fake_connection(doc, "ana@example.org");
	/* the event calendars in order: RO, A, B; all block; A (first writable) receives */
	assert_int_equal(integration_calendars_json(db, doc, id, &cals), 1);
	assert_int_equal(json_array_size(cals), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(cals, 0), "name")), "Feiertage");
	assert_true(json_is_true(json_object_get(json_array_get(cals, 0), "blocks_availability")));
	assert_true(json_is_false(json_object_get(json_array_get(cals, 0), "receives_appointments")));
	assert_true(json_is_false(json_object_get(json_array_get(cals, 0), "can_write")));
	assert_true(json_is_true(json_object_get(json_array_get(cals, 1), "receives_appointments")));
	assert_true(json_is_true(json_object_get(json_array_get(cals, 2), "blocks_availability")));
	assert_true(json_is_false(json_object_get(json_array_get(cals, 2), "receives_appointments")));
	json_decref(cals);
	/* another doctor sees nothing */
	assert_int_equal(integration_calendars_json(db, other, id, &cals), 0);
	assert_null(cals);
	/* credentials: Fernet, no plain text; they decrypt back */
	token = q_str(STMT_TEST_SYNC_INTEGRATION, DB_ARGS(DBP_INT(id)), 2);
	assert_true(strncmp(token, "gAAAAA", 6) == 0);
	assert_null(strstr(token, "sehr-geheimes"));
	free(token);
	token = q_str(STMT_TEST_SYNC_INTEGRATION, DB_ARGS(DBP_INT(id)), 3);
	assert_string_equal(token, "https://fake.example/");
	free(token);
	assert_int_equal(integration_load(db, conf, id, &conn, err, sizeof(err)), 1);
	assert_int_equal(conn.doctor_id, doc);
	assert_string_equal(json_string_value(json_object_get(conn.creds, "password")), "sehr-geheimes-passwort");
	assert_string_equal(json_string_value(json_object_get(conn.state, "caldav_url")), "https://fake.example/");
	assert_string_equal(conn.timezone, "Europe/Berlin");
	integration_conn_free(&conn);
	/* reconnect: same row, choices kept, vanished calendar gone */
	n = calendar_ids(doc, id, ids, 8);
	assert_int_equal(n, 3);
	{
		long long blocking[1] = { ids[0] };
		struct prov_calendar again[2] = {
			{ .remote_id = (char *)CAL_RO, .name = (char *)"Feiertage", .color = (char *)"",
			  .can_write = 0, .events = 1 },
			{ .remote_id = (char *)CAL_B, .name = (char *)"Privat neu", .color = (char *)"",
			  .can_write = 1, .events = 1 },
		};
		long long id2 = 0;
		int rec = 0;

		assert_int_equal(integration_set_choices(db, doc, id, blocking, 1, ids[2], 1, err, sizeof(err)), TF_OK);
		creds = json_pack("{s:s, s:s}", "username", "ana@example.org", "password", "neues-passwort-1");
		assert_int_equal(integration_create(db, conf, doc, "apple", "ana@example.org", creds, NULL, again, 2,
						    &id2, &rec, err, sizeof(err)), TF_OK);
		json_decref(creds);
		assert_int_equal(id2, id);
		assert_int_equal(rec, 1);
		assert_int_equal(integration_calendars_json(db, doc, id, &cals), 1);
		assert_int_equal(json_array_size(cals), 2);
		assert_true(json_is_true(json_object_get(json_array_get(cals, 0), "blocks_availability")));
		assert_true(json_is_false(json_object_get(json_array_get(cals, 1), "blocks_availability")));
		assert_true(json_is_true(json_object_get(json_array_get(cals, 1), "receives_appointments")));
		assert_string_equal(json_string_value(json_object_get(json_array_get(cals, 1), "name")), "Privat neu");
		json_decref(cals);
	}
	/* bad input */
	assert_int_equal(integration_create(db, conf, doc, "myspace", "a@b.de", NULL, NULL, NULL, 0, &id, NULL, err,
					    sizeof(err)), TF_ERR_INVALID);
	creds = json_pack("{s:s}", "username", "x");
	assert_int_equal(integration_create(db, conf, doc, "apple", "", creds, NULL, NULL, 0, &id, NULL, err,
					    sizeof(err)), TF_ERR_INVALID);
	{
		struct conf *nokey = conf_new();
		char *saved = xstrdup(getenv("CALENDAR_ENCRYPTION_KEY"));

		unsetenv("CALENDAR_ENCRYPTION_KEY");
		assert_int_equal(integration_create(db, nokey, doc, "apple", "b@example.org", creds, NULL, NULL, 0, &id,
						    NULL, err, sizeof(err)), TF_ERR_CONFIG);
		setenv("CALENDAR_ENCRYPTION_KEY", saved, 1);
		free(saved);
		assert_non_null(strstr(err, "CALENDAR_ENCRYPTION_KEY"));
		conf_free(nokey);
	}
	json_decref(creds);
}

static void test_choices(void **state)
{
	long long doc = new_doctor("choices"), other = new_doctor("choices-other"), id, ids[4], none[1] = { 0 };
	char err[256];

	(void)state;
	id = fake_connection(doc, "choices@example.org");
	assert_int_equal(calendar_ids(doc, id, ids, 4), 3);
	/* read-only cannot receive (German), foreign ids and doctors are not found */
	assert_int_equal(integration_set_choices(db, doc, id, ids, 3, ids[0], 0, err, sizeof(err)), TF_ERR_INVALID);
	assert_non_null(strstr(err, "Lesezugriff"));
	none[0] = 999999999;
	assert_int_equal(integration_set_choices(db, doc, id, none, 1, ids[1], 0, err, sizeof(err)), TF_ERR_NOTFOUND);
	assert_int_equal(integration_set_choices(db, doc, id, ids, 3, 999999999, 0, err, sizeof(err)), TF_ERR_NOTFOUND);
	assert_int_equal(integration_set_choices(db, other, id, ids, 3, ids[1], 0, err, sizeof(err)), TF_ERR_NOTFOUND);
	assert_int_equal(integration_set_choices(db, doc, id, NULL, 0, 0, 1, err, sizeof(err)), TF_OK);
	assert_int_equal(q_int(STMT_INTEG_OWNER, DB_ARGS(DBP_INT(id)), 1), 1);
}

/* ------------------------------------------------------------------ the engine with the in-test provider */

static void test_push_create_update_cancel(void **state)
{
	long long doc = new_doctor("push"), id, appt;
	struct sync_stats st;
	struct civil when;
	struct fobj *o;
	char href[600], uid[300];
	char *s;

	(void)state;
	fake_reset();
	sync_set_provider_override(&fake_ops);
	id = fake_connection(doc, "push@example.org");
	appt = book(doc, 3, 9, &when);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(st.pushed, 1);
	assert_string_equal(st.status, "active");
	assert_int_equal(fake_count(CAL_A), 1);
	ics_uid_for_appointment(appt, BASE, uid, sizeof(uid));
	snprintf(href, sizeof(href), "%s%s.ics", CAL_A, uid);
	o = fake_find(href);
	assert_non_null(o);
	assert_string_equal(o->summary, "Termin (TerminFinder)");
	assert_null(strstr(o->desc, "Erika"));
	assert_int_equal(o->start, appt_start(appt));
	assert_int_equal(q_int(STMT_TEST_SYNC_OUTBOX_OPEN, DB_ARGS(DBP_INT(appt)), 0), 0);
	s = q_str(STMT_TEST_SYNC_MAPPING, DB_ARGS(DBP_INT(appt), DBP_INT(id)), 0);
	assert_string_equal(s, "synced");
	free(s);
	/* nothing new: nothing pushed, one pull per calendar (3 blocking) */
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(st.pushed, 0);
	assert_int_equal(fake_creates, 1);
	/* the name only with the opt-in, on the next change */
	{
		long long ids[4];

		calendar_ids(doc, id, ids, 4);
		assert_int_equal(integration_set_choices(db, doc, id, ids, 3, ids[1], 1, NULL, 0), TF_OK);
	}
	when.hour = 10;
	reschedule(doc, appt, when);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(st.pushed, 1);
	assert_int_equal(fake_count(CAL_A), 1);
	assert_int_equal(fake_creates, 1);
	o = fake_find(href);
	assert_non_null(o);
	assert_string_equal(o->summary, "Termin: " PATIENT " (TerminFinder)");
	assert_int_equal(o->start, appt_start(appt));
	assert_null(strstr(o->desc, PATIENT_MAIL));
	/* cancel → deleted, mapping deleted */
	cancel(doc, appt);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(st.pushed, 1);
	assert_int_equal(fake_count(CAL_A), 0);
	s = q_str(STMT_TEST_SYNC_MAPPING, DB_ARGS(DBP_INT(appt), DBP_INT(id)), 0);
	assert_string_equal(s, "deleted");
	free(s);
	assert_int_equal(q_int(STMT_TEST_SYNC_OUTBOX_OPEN, DB_ARGS(DBP_INT(appt)), 0), 0);
	sync_set_provider_override(NULL);
}

static void test_push_retry_and_crash(void **state)
{
	long long doc = new_doctor("retry"), id, appt, attempts, next;
	struct sync_stats st;
	char *s;
	time_t t;

	(void)state;
	fake_reset();
	sync_set_provider_override(&fake_ops);
	id = fake_connection(doc, "retry@example.org");
	appt = book(doc, 3, 11, NULL);
	fake_push_status = PROV_RETRY;
	t = time(NULL);
	assert_int_equal(sync_integration(db, conf, id, t, &st), 1);
	assert_int_equal(st.errors, 1);
	assert_string_equal(st.status, "error");
	assert_string_equal(st.last_error, "Testkalender nicht erreichbar.");
	s = q_str(STMT_TEST_SYNC_INTEGRATION, DB_ARGS(DBP_INT(id)), 0);
	assert_string_equal(s, "error");
	free(s);
	attempts = q_int(STMT_TEST_SYNC_OUTBOX_ROW, DB_ARGS(DBP_INT(appt)), 0);
	next = q_int(STMT_TEST_SYNC_OUTBOX_ROW, DB_ARGS(DBP_INT(appt)), 1);
	assert_int_equal(attempts, 1);
	assert_true(next >= t + 60 && next <= t + 180);
	/* not due yet: the next run does not try it (backoff), even with the server back */
	fake_push_status = PROV_OK;
	assert_int_equal(sync_integration(db, conf, id, t + 5, &st), 0);
	assert_int_equal(st.pushed, 0);
	assert_int_equal(fake_creates, 0);
	assert_string_equal(st.status, "active");
	/* once due: pushed */
	assert_int_equal(sync_integration(db, conf, id, t + 200, &st), 0);
	assert_int_equal(st.pushed, 1);
	assert_int_equal(fake_creates, 1);
	assert_int_equal(q_int(STMT_TEST_SYNC_OUTBOX_OPEN, DB_ARGS(DBP_INT(appt)), 0), 0);
	/* crash after the PUT, before the mapping was updated: converges, no duplicate */
	assert_int_equal(db_exec(db, STMT_TEST_SYNC_MAPPING_RESET, DB_ARGS(DBP_INT(appt)), NULL, NULL), TF_OK);
	assert_int_equal(db_exec(db, STMT_TEST_SYNC_OUTBOX_REOPEN, DB_ARGS(DBP_INT(appt)), NULL, NULL), TF_OK);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(fake_count(CAL_A), 1);
	assert_int_equal(fake_creates, 1);
	s = q_str(STMT_TEST_SYNC_MAPPING, DB_ARGS(DBP_INT(appt), DBP_INT(id)), 0);
	assert_string_equal(s, "synced");
	free(s);
	assert_int_equal(q_int(STMT_TEST_SYNC_OUTBOX_OPEN, DB_ARGS(DBP_INT(appt)), 0), 0);
	/* crash before the mapping existed at all (catch-up path, no outbox row) */
	assert_int_equal(db_exec(db, STMT_TEST_SYNC_MAPPING_RESET, DB_ARGS(DBP_INT(appt)), NULL, NULL), TF_OK);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(fake_count(CAL_A), 1);
	assert_int_equal(fake_creates, 1);
	sync_set_provider_override(NULL);
}

/* A row due at once carries the server's UTC_TIMESTAMP(); a run whose time() still says the previous
 * second (time() is a coarse clock, a few milliseconds behind) must push it all the same. */
static void test_push_due_with_lagging_clock(void **state)
{
	long long doc = new_doctor("lag"), id, appt, due;
	struct sync_stats st;

	(void)state;
	fake_reset();
	sync_set_provider_override(&fake_ops);
	id = fake_connection(doc, "lag@example.org");
	appt = book(doc, 3, 14, NULL);
	due = q_int(STMT_TEST_SYNC_OUTBOX_ROW, DB_ARGS(DBP_INT(appt)), 1);
	assert_true(due > 0);
	assert_int_equal(sync_integration(db, conf, id, (time_t)due - 1, &st), 0);
	assert_int_equal(st.pushed, 1);
	assert_int_equal(fake_creates, 1);
	assert_int_equal(q_int(STMT_TEST_SYNC_OUTBOX_OPEN, DB_ARGS(DBP_INT(appt)), 0), 0);
	sync_set_provider_override(NULL);
}

/* A push notification while a run holds the connection: the call from another session is skipped,
 * and the running sync passes once more when it is done (the notified change may have come after
 * its pull). */
static long long during_id;
static struct sync_stats during_st;
static int during_rc;

static void sync_from_other_session(void)
{
	char err[256];
	struct db *other = db_connect(conf, err, sizeof(err));

	assert_non_null(other);
	during_rc = sync_integration(other, conf, during_id, time(NULL), &during_st);
	db_close(other);
}

static long long sync_run_rows(long long id)
{
	struct db_rows rows;
	long long n;

	assert_int_equal(db_query_one(db, STMT_TEST_SYNC_COUNT_ROWS,
				      DB_ARGS(DBP_INT(id), DBP_INT(id), DBP_INT(id), DBP_INT(id)), &rows), 1);
	n = db_cell_int(&rows, 0, 3, -1);
	db_rows_free(&rows);
	return n;
}

static void test_request_during_run(void **state)
{
	long long doc = new_doctor("during"), id, runs;
	struct sync_stats st;
	unsigned pulls;

	(void)state;
	fake_reset();
	sync_set_provider_override(&fake_ops);
	id = fake_connection(doc, "during@example.org");
	assert_int_equal(sync_now(id, &st), 0);          /* first full sync */
	runs = sync_run_rows(id);
	pulls = fake_pulls;
	/* nobody asks during the run: one pass */
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(sync_run_rows(id), runs + 1);
	assert_true(fake_pulls > pulls);
	pulls = fake_pulls - pulls;                      /* pulls of one pass */
	/* a notification during the run: skipped there, a second pass here */
	during_id = id;
	memset(&during_st, 0, sizeof(during_st));
	fake_during_pull = sync_from_other_session;
	runs = sync_run_rows(id);
	{
		unsigned before = fake_pulls;

		assert_int_equal(sync_now(id, &st), 0);
		assert_null(fake_during_pull);
		assert_int_equal(during_rc, 0);
		assert_int_equal(during_st.skipped, 1);
		assert_int_equal(st.skipped, 0);
		assert_int_equal(sync_run_rows(id), runs + 2);
		assert_int_equal(fake_pulls - before, 2 * pulls);
		assert_string_equal(st.status, "active");
	}
	/* and the next call is one pass again */
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(sync_run_rows(id), runs + 3);
	sync_set_provider_override(NULL);
}

static void test_auth_and_claims(void **state)
{
	long long doc = new_doctor("auth"), id, *ids = NULL;
	struct sync_stats st;
	char err[256];
	long n, i;
	int found;
	char *s;
	time_t t = time(NULL);

	(void)state;
	fake_reset();
	sync_set_provider_override(&fake_ops);
	id = fake_connection(doc, "auth@example.org");
	/* a new connection is due */
	n = sync_due(db, t, 100000, &ids);
	for (i = 0, found = 0; i < n; i++)
		found |= ids[i] == id;
	free(ids);
	assert_true(found);
	/* a live run (another session holding the connection's lock) → skipped; its claim left behind
	 * by a killed run (no session any more) is taken over at once */
	{
		struct db *other = db_connect(conf, err, sizeof(err));
		struct db_rows rows;

		assert_non_null(other);
		assert_int_equal(db_query_one(other, STMT_SYNC_NAMED_LOCK, DB_ARGS(DBP_INT(id)), &rows), 1);
		assert_int_equal(db_cell_int(&rows, 0, 0, 0), 1);
		db_rows_free(&rows);
		assert_int_equal(db_exec(db, STMT_TEST_SYNC_SET_CLAIM, DB_ARGS(DBP_INT((long long)t - 60), DBP_INT(id)),
					 NULL, NULL), TF_OK);
		assert_int_equal(sync_integration(db, conf, id, t, &st), 0);
		assert_int_equal(st.skipped, 1);
		assert_int_equal(st.pushed + st.pulled + st.requests, 0);
		db_close(other);   /* the "killed" run's session ends */
	}
	/* the server drops the lock when it has processed the session's end (asynchronously: under
	 * load a moment later) */
	for (i = 0; i < 100; i++) {
		assert_int_equal(sync_integration(db, conf, id, t, &st), 0);
		if (!st.skipped)
			break;
		usleep(20000);
	}
	assert_int_equal(st.skipped, 0);
	assert_true(st.requests > 0);
	assert_int_equal(q_int(STMT_TEST_SYNC_INTEGRATION, DB_ARGS(DBP_INT(id)), 7), 1);   /* released */
	/* synced: not due again until the interval passed */
	n = sync_due(db, t, 100000, &ids);
	for (i = 0, found = 0; i < n; i++)
		found |= ids[i] == id;
	free(ids);
	assert_false(found);
	/* refused credentials → reauth_required, German message, not due any more */
	fake_pull_status = PROV_AUTH;
	assert_int_equal(sync_now(id, &st), 1);
	assert_string_equal(st.status, "reauth_required");
	s = q_str(STMT_TEST_SYNC_INTEGRATION, DB_ARGS(DBP_INT(id)), 1);
	/* the German message and the doctor's busy-time policy (default keep) */
	assert_string_equal(s, "Anmeldung beim Kalender fehlgeschlagen – bitte erneut verbinden. Die zuletzt bekannten "
			       "belegten Zeiten dieses Kalenders bleiben blockiert, bis die Verbindung erneuert ist.");
	free(s);
	/* one mail to the doctor for this outage, however often it is synced meanwhile */
	assert_int_equal(q_int(STMT_TEST_SYNC_MAIL_COUNT, DB_ARGS(DBP_INT(id)), 0), 1);
	assert_int_equal(sync_now(id, &st), 1);
	assert_int_equal(q_int(STMT_TEST_SYNC_MAIL_COUNT, DB_ARGS(DBP_INT(id)), 0), 1);
	n = sync_due(db, t + 86400, 100000, &ids);
	for (i = 0, found = 0; i < n; i++)
		found |= ids[i] == id;
	free(ids);
	assert_false(found);
	/* unknown connection */
	assert_int_equal(sync_integration(db, conf, 999999999, t, &st), -1);
	/* credentials that cannot be decrypted → reauth_required */
	assert_int_equal(db_exec(db, STMT_TEST_SYNC_SET_CREDS, DB_ARGS(DBP_TEXT("gAAAAAkaputt"), DBP_INT(id)), NULL,
				 NULL), TF_OK);
	fake_pull_status = PROV_OK;
	assert_int_equal(sync_now(id, &st), 1);
	assert_string_equal(st.status, "reauth_required");
	sync_set_provider_override(NULL);
}

static void test_pull_busy_review_full(void **state)
{
	long long doc = new_doctor("pull"), id, appt, appt2, ids[4], n;
	struct sync_stats st;
	struct fobj *ext, *own;
	char href[600], uid[300], *s;
	struct civil when;
	time_t t0;
	json_t *j;

	(void)state;
	fake_reset();
	sync_set_provider_override(&fake_ops);
	id = fake_connection(doc, "pull@example.org");
	appt = book(doc, 3, 9, &when);
	appt2 = book(doc, 3, 14, NULL);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(st.pushed, 2);
	/* an external event in B overlapping the first appointment: busy block + conflict */
	t0 = appt_start(appt);
	ext = fake_add(CAL_B, "extern-1.ics");
	ext->busy[0].start = t0 - 1800;
	ext->busy[0].end = t0 + 1800;
	ext->nbusy = 1;
	assert_int_equal(sync_now(id, &st), 0);
	assert_true(st.pulled >= 1);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_AT, DB_ARGS(DBP_INT(id), DBP_INT((long long)t0 - 1800),
							      DBP_INT((long long)t0 + 1800)), 0), 1);
	j = integration_conflicts_json(db, doc, time(NULL), 50);
	assert_non_null(j);
	assert_int_equal(json_array_size(j), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "appointment_id")), appt);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "calendar_name")), "Privat");
	json_decref(j);
	/* the event changes: its busy time is replaced */
	ext->busy[0].start = t0 + 7200;
	ext->busy[0].end = t0 + 9000;
	fake_new_etag(ext);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_COUNT, DB_ARGS(DBP_INT(id)), 0), 1);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_AT, DB_ARGS(DBP_INT(id), DBP_INT((long long)t0 + 7200),
							      DBP_INT((long long)t0 + 9000)), 0), 1);
	j = integration_conflicts_json(db, doc, time(NULL), 50);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	/* deleted (full listing): busy block gone */
	fake_remove(ext);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_COUNT, DB_ARGS(DBP_INT(id)), 0), 0);
	/* our event moved in the calendar → review (German), nothing cancelled */
	ics_uid_for_appointment(appt, BASE, uid, sizeof(uid));
	snprintf(href, sizeof(href), "%s%s.ics", CAL_A, uid);
	own = fake_find(href);
	assert_non_null(own);
	own->start += 3600;
	own->end += 3600;
	fake_new_etag(own);
	assert_int_equal(sync_now(id, &st), 0);
	s = review_reason(appt);
	assert_non_null(s);
	assert_true(strncmp(s, "Im Kalender verschoben auf ", 27) == 0);
	assert_non_null(strstr(s, "10:00–10:30 Uhr"));
	free(s);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_COUNT, DB_ARGS(DBP_INT(id)), 0), 0);   /* ours: no busy */
	j = integration_review_json(db, doc, 50);
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "status")), "confirmed");
	json_decref(j);
	assert_int_equal(integration_review_clear(db, new_doctor("pull-other"), appt), 0);
	assert_int_equal(integration_review_clear(db, doc, appt), 1);
	/* our other event deleted in the calendar (incremental remove) → review; not re-created */
	ics_uid_for_appointment(appt2, BASE, uid, sizeof(uid));
	snprintf(href, sizeof(href), "%s%s.ics", CAL_A, uid);
	own = fake_find(href);
	assert_non_null(own);
	fake_incremental = 1;
	fake_remove(own);
	assert_int_equal(sync_now(id, &st), 0);
	s = review_reason(appt2);
	assert_non_null(s);
	assert_string_equal(s, "Im Kalender gelöscht");
	free(s);
	s = q_str(STMT_TEST_SYNC_MAPPING, DB_ARGS(DBP_INT(appt2), DBP_INT(id)), 0);
	assert_string_equal(s, "deleted");
	free(s);
	assert_int_equal(sync_now(id, &st), 0);
	assert_null(fake_find(href));
	assert_int_equal(fake_creates, 2);
	/* a stale cursor: full resync in the same run */
	ext = fake_add(CAL_B, "extern-2.ics");
	ext->busy[0].start = t0 + 86400;
	ext->busy[0].end = t0 + 86400 + 600;
	ext->nbusy = 1;
	fake_stale_cursor = 1;
	n = fake_pulls;
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(fake_pulls - n, 4);   /* three calendars, one of them twice */
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_COUNT, DB_ARGS(DBP_INT(id)), 0), 1);
	/* a failing calendar: the others still sync; status error with the provider's German text */
	fake_pull_status = PROV_ERROR;
	assert_int_equal(sync_now(id, &st), 1);
	assert_string_equal(st.status, "error");
	assert_int_equal(st.errors, 3);
	assert_string_equal(st.last_error, "Testkalender antwortet nicht.");
	fake_pull_status = PROV_OK;
	/* unchecking B deletes its busy time at once, and the engine keeps it empty */
	n = (long long)calendar_ids(doc, id, ids, 4);
	assert_int_equal(n, 3);
	assert_true(q_int(STMT_TEST_SYNC_BUSY_CAL, DB_ARGS(DBP_INT(ids[2])), 0) == 1);
	assert_int_equal(integration_set_choices(db, doc, id, ids, 2, ids[1], 0, NULL, 0), TF_OK);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_CAL, DB_ARGS(DBP_INT(ids[2])), 0), 0);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_COUNT, DB_ARGS(DBP_INT(id)), 0), 0);
	/* checking it again pulls it whole */
	assert_int_equal(integration_set_choices(db, doc, id, ids, 3, ids[1], 0, NULL, 0), TF_OK);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_COUNT, DB_ARGS(DBP_INT(id)), 0), 1);
	/* statistics */
	assert_int_equal(integration_stats_json(db, doc, id, time(NULL), &j), 1);
	assert_true(json_integer_value(json_object_get(j, "runs")) >= 10);
	assert_true(json_integer_value(json_object_get(j, "errors_24h")) >= 3);
	assert_true(json_is_object(json_object_get(j, "last_run")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "last_run"), "errors")), 0);
	json_decref(j);
	assert_int_equal(integration_detail_json(db, doc, id, time(NULL), &j), 1);
	assert_string_equal(json_string_value(json_object_get(j, "provider")), "apple");
	assert_int_equal(json_array_size(json_object_get(j, "calendars")), 3);
	assert_true(json_is_false(json_object_get(j, "show_patient_names")));
	json_decref(j);
	assert_int_equal(integration_stats_json(db, new_doctor("pull-x"), id, time(NULL), &j), 0);
	(void)when;
	sync_set_provider_override(NULL);
}

static void test_disconnect(void **state)
{
	long long doc = new_doctor("disc"), other = new_doctor("disc-other"), id, id2, appt;
	unsigned failed = 99;
	char err[256];

	(void)state;
	fake_reset();
	fake_revokes = 0;
	sync_set_provider_override(&fake_ops);
	id = fake_connection(doc, "disc@example.org");
	appt = book(doc, 4, 9, NULL);
	assert_int_equal(sync_now(id, NULL), 0);
	assert_int_equal(fake_count(CAL_A), 1);
	assert_int_equal(integration_disconnect(db, conf, other, id, 1, &failed, err, sizeof(err)), TF_ERR_NOTFOUND);
	assert_int_equal(fake_count(CAL_A), 1);
	assert_int_equal(fake_revokes, 0);
	assert_int_equal(integration_disconnect(db, conf, doc, id, 1, &failed, err, sizeof(err)), TF_OK);
	assert_int_equal(failed, 0);
	assert_int_equal(fake_revokes, 1);   /* the credentials are revoked at the provider */
	assert_int_equal(fake_count(CAL_A), 0);
	assert_int_equal(q_int(STMT_TEST_SYNC_COUNT_ROWS, DB_ARGS(DBP_INT(id), DBP_INT(id), DBP_INT(id), DBP_INT(id)),
			       0), 0);
	assert_int_equal(q_int(STMT_TEST_SYNC_COUNT_ROWS, DB_ARGS(DBP_INT(id), DBP_INT(id), DBP_INT(id), DBP_INT(id)),
			       1), 0);
	assert_int_equal(q_int(STMT_TEST_SYNC_COUNT_ROWS, DB_ARGS(DBP_INT(id), DBP_INT(id), DBP_INT(id), DBP_INT(id)),
			       3), 0);
	assert_int_equal(q_int(STMT_TEST_SYNC_INTEGRATION, DB_ARGS(DBP_INT(id)), 0), -1);
	/* without removing the events: they stay */
	id2 = fake_connection(doc, "disc2@example.org");
	assert_int_equal(sync_now(id2, NULL), 0);
	assert_int_equal(fake_count(CAL_A), 1);
	assert_int_equal(integration_disconnect(db, conf, doc, id2, 0, &failed, err, sizeof(err)), TF_OK);
	assert_int_equal(fake_count(CAL_A), 1);
	assert_int_equal(fake_revokes, 2);
	assert_int_equal(integration_disconnect(db, conf, doc, id2, 0, &failed, err, sizeof(err)), TF_ERR_NOTFOUND);
	(void)appt;
	sync_set_provider_override(NULL);
}

/* ------------------------------------------------------------------ the real CalDAV provider against Radicale */

static const char *rad_url, *rad_user, *rad_pass;

static int radicale_ready(void)
{
	if (!rad_url || !provider_find("apple")) {
		print_message("# SKIP no Radicale (TF_RADICALE_URL) or no CalDAV provider\n");
		return 0;
	}
	return 1;
}

/* An HTTP request to Radicale as the test user; returns the status, body in *body (may be NULL). */
static long rad(const char *method, const char *url, const char *data, const char *ctype, char **body)
{
	const char *hdrs[3] = { NULL, NULL, NULL };
	char h[128];
	struct http_request rq;
	struct http_response rs;
	char err[256];
	long status;

	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	if (ctype) {
		snprintf(h, sizeof(h), "Content-Type: %s", ctype);
		hdrs[0] = h;
	}
	rq.headers = hdrs;
	rq.body = data;
	rq.body_len = data ? strlen(data) : 0;
	rq.user = rad_user;
	rq.password = rad_pass;
	assert_int_equal(http_do(&rq, &rs, err, sizeof(err)), TF_OK);
	status = rs.status;
	if (body)
		*body = xstrdup(rs.body.data ? rs.body.data : "");
	http_response_free(&rs);
	return status;
}

static long long rad_connection(long long doctor, const char *user, const char *password)
{
	struct prov_ctx ctx;
	struct prov_calendar *cals = NULL;
	size_t n = 0;
	long long id = 0;
	char err[256];

	memset(&ctx, 0, sizeof(ctx));
	ctx.conf = conf;
	ctx.creds = json_pack("{s:s, s:s}", "username", user, "password", password);
	ctx.now = time(NULL);
	ctx.timezone = "Europe/Berlin";
	ctx.horizon_days = 120;
	if (caldav_discover(&ctx, rad_url, &cals, &n) != PROV_OK)
		fail_msg("discovery failed: %s", ctx.error);
	assert_int_equal(integration_create(db, conf, doctor, "apple", user, ctx.creds, ctx.state, cals, n, &id,
					    NULL, err, sizeof(err)), TF_OK);
	json_decref(ctx.creds);
	json_decref(ctx.state);
	prov_calendars_free(cals, n);
	return id;
}

/* The calendar id and URL of the connection's calendar whose URL ends with suffix ("/praxis/"). */
static long long rad_cal(long long doctor, long long id, const char *suffix, char *url, size_t urllen)
{
	struct db_rows rows;
	long long cid = 0;
	size_t i, ls = strlen(suffix);

	(void)doctor;
	assert_int_equal(db_query(db, STMT_SYNC_CALENDARS, DB_ARGS(DBP_INT(id)), &rows), TF_OK);
	for (i = 0; i < rows.nrows; i++) {
		const char *u = db_cell(&rows, i, 1);
		size_t lu = strlen(u);

		if (lu >= ls && strcmp(u + lu - ls, suffix) == 0) {
			cid = db_cell_int(&rows, i, 0, 0);
			if (url)
				str_copy(url, u, urllen);
		}
	}
	db_rows_free(&rows);
	assert_true(cid > 0);
	return cid;
}

static char *mapping_href(long long appt, long long id)
{
	return q_str(STMT_TEST_SYNC_MAPPING, DB_ARGS(DBP_INT(appt), DBP_INT(id)), 1);
}

/* An absolute URL for an href (absolute already, or a path on the Radicale server). */
static void abs_url(const char *href, char *out, size_t outlen)
{
	if (strncmp(href, "http", 4) == 0)
		str_copy(out, href, outlen);
	else
		snprintf(out, outlen, "%s%s", rad_url, href);
}

static void utc_ics(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static char *event_ics(const char *uid, time_t start, time_t end, const char *summary)
{
	char a[17], b[17], *s;
	struct buf bf;

	utc_ics(start, a);
	utc_ics(end, b);
	buf_init(&bf, 4096);
	buf_printf(&bf, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Sync//DE\r\nBEGIN:VEVENT\r\nUID:%s\r\n"
		   "DTSTAMP:20260101T000000Z\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:%s\r\nEND:VEVENT\r\n"
		   "END:VCALENDAR\r\n", uid, a, b, summary);
	s = buf_detach(&bf);
	return s;
}

static void test_radicale_push_pull(void **state)
{
	long long doc, id, appt, ids[8];
	long long praxis, privat;
	char praxis_url[1024], privat_url[1024], url[2048], *href, *body, *ics, *s;
	struct sync_stats st;
	struct doctor d;
	struct civil when, day;
	struct avail_query aq;
	time_t slots[AVAIL_MAX_SLOTS], t0;
	long nslots, nslots2;
	size_t i, n;

	(void)state;
	if (!radicale_ready())
		skip();
	doc = new_doctor("rad");
	id = rad_connection(doc, rad_user, rad_pass);
	praxis = rad_cal(doc, id, "/praxis/", praxis_url, sizeof(praxis_url));
	privat = rad_cal(doc, id, "/privat/", privat_url, sizeof(privat_url));
	n = calendar_ids(doc, id, ids, 8);
	assert_true(n >= 2);
	/* the praxis calendar receives */
	{
		long long blocking[8];

		for (i = 0; i < n; i++)
			blocking[i] = ids[i];
		assert_int_equal(integration_set_choices(db, doc, id, blocking, n, praxis, 0, NULL, 0), TF_OK);
	}
	appt = book(doc, 5, 9, &when);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(st.pushed, 1);
	assert_true(st.requests > 0);
	href = mapping_href(appt, id);
	assert_true(href[0] != '\0');
	abs_url(href, url, sizeof(url));
	assert_int_equal(rad("GET", url, NULL, NULL, &body), 200);
	assert_non_null(strstr(body, "SUMMARY:Termin (TerminFinder)"));
	assert_null(strstr(body, "Erika"));
	assert_null(strstr(body, "Mustermann"));
	assert_null(strstr(body, "example.org"));
	assert_null(strstr(body, "1234567"));
	free(body);

	/* opt-in, then a reschedule: the name appears, same object */
	assert_int_equal(integration_set_choices(db, doc, id, ids, n, praxis, 1, NULL, 0), TF_OK);
	when.hour = 10;
	reschedule(doc, appt, when);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(st.pushed, 1);
	s = mapping_href(appt, id);
	assert_string_equal(s, href);
	free(s);
	assert_int_equal(rad("GET", url, NULL, NULL, &body), 200);
	assert_non_null(strstr(body, "Termin: Erika Mustermann (TerminFinder)"));
	assert_null(strstr(body, "example.org"));
	assert_non_null(strstr(body, "SEQUENCE:1"));
	free(body);

	/* an unchanged account: a few requests only */
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(st.pulled, 0);
	assert_true(st.requests <= n);

	/* an external event in privat → busy block → the slot is gone */
	assert_int_equal(doctor_by_id(db, doc, &d), 1);
	memset(&aq, 0, sizeof(aq));
	aq.duration = 30;
	aq.step = 30;
	aq.lead = 0;
	aq.now = time(NULL);
	day = when;
	nslots = avail_doctor_day(db, &d, &day, &aq, 0, slots, AVAIL_MAX_SLOTS);
	assert_true(nslots > 0);
	{
		struct civil at = when;

		at.hour = 15;
		assert_int_equal(tz_local_to_utc("Europe/Berlin", &at, &t0), 0);
	}
	ics = event_ics("extern-zahnarzt@test", t0, t0 + 3600, "Zahnarzt");
	snprintf(url, sizeof(url), "%s%s", strncmp(privat_url, "http", 4) == 0 ? "" : rad_url, privat_url);
	str_copy(url + strlen(url), "extern-zahnarzt.ics", sizeof(url) - strlen(url));
	assert_int_equal(rad("PUT", url, ics, "text/calendar; charset=utf-8", NULL) / 100, 2);
	free(ics);
	assert_int_equal(sync_now(id, &st), 0);
	assert_true(st.pulled >= 1);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_AT, DB_ARGS(DBP_INT(id), DBP_INT((long long)t0),
							      DBP_INT((long long)t0 + 3600)), 0), 1);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_CAL, DB_ARGS(DBP_INT(privat)), 0), 1);
	nslots2 = avail_doctor_day(db, &d, &day, &aq, 0, slots, AVAIL_MAX_SLOTS);
	assert_int_equal(nslots2, nslots - 2);
	for (i = 0; i < (size_t)nslots2; i++)
		assert_true(slots[i] + 1800 <= t0 || slots[i] >= t0 + 3600);
	/* deleted remotely → busy block gone */
	assert_int_equal(rad("DELETE", url, NULL, NULL, NULL) / 100, 2);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_CAL, DB_ARGS(DBP_INT(privat)), 0), 0);
	assert_int_equal(avail_doctor_day(db, &d, &day, &aq, 0, slots, AVAIL_MAX_SLOTS), nslots);

	/* an external event over the appointment: a conflict */
	{
		time_t a0 = appt_start(appt);
		json_t *j;

		ics = event_ics("extern-konflikt@test", a0, a0 + 900, "Fortbildung");
		snprintf(url, sizeof(url), "%s%sextern-konflikt.ics", strncmp(privat_url, "http", 4) == 0 ? "" : rad_url,
			 privat_url);
		assert_int_equal(rad("PUT", url, ics, "text/calendar; charset=utf-8", NULL) / 100, 2);
		free(ics);
		assert_int_equal(sync_now(id, &st), 0);
		j = integration_conflicts_json(db, doc, time(NULL), 50);
		assert_int_equal(json_array_size(j), 1);
		assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "appointment_id")), appt);
		json_decref(j);
		/* unchecking privat: its blocks go, the conflict too */
		{
			long long only[1] = { praxis };

			assert_int_equal(integration_set_choices(db, doc, id, only, 1, praxis, 1, NULL, 0), TF_OK);
		}
		assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_CAL, DB_ARGS(DBP_INT(privat)), 0), 0);
		assert_int_equal(sync_now(id, &st), 0);
		assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_CAL, DB_ARGS(DBP_INT(privat)), 0), 0);
		j = integration_conflicts_json(db, doc, time(NULL), 50);
		assert_int_equal(json_array_size(j), 0);
		json_decref(j);
		assert_int_equal(integration_set_choices(db, doc, id, ids, n, praxis, 1, NULL, 0), TF_OK);
		assert_int_equal(sync_now(id, &st), 0);
		assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_CAL, DB_ARGS(DBP_INT(privat)), 0), 1);
		assert_int_equal(rad("DELETE", url, NULL, NULL, NULL) / 100, 2);
	}

	/* our event moved in the calendar → review */
	{
		char uid[300];
		time_t a0 = appt_start(appt);

		ics_uid_for_appointment(appt, BASE, uid, sizeof(uid));
		ics = event_ics(uid, a0 + 7200, a0 + 9000, "Termin (TerminFinder)");
		abs_url(href, url, sizeof(url));
		assert_int_equal(rad("PUT", url, ics, "text/calendar; charset=utf-8", NULL) / 100, 2);
		free(ics);
		assert_int_equal(sync_now(id, &st), 0);
		s = review_reason(appt);
		assert_non_null(s);
		assert_true(strncmp(s, "Im Kalender verschoben auf ", 27) == 0);
		free(s);
		assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_CAL, DB_ARGS(DBP_INT(praxis)), 0), 0);
		assert_int_equal(integration_review_clear(db, doc, appt), 1);
		/* deleted there → review, not re-created */
		assert_int_equal(rad("DELETE", url, NULL, NULL, NULL) / 100, 2);
		assert_int_equal(sync_now(id, &st), 0);
		s = review_reason(appt);
		assert_non_null(s);
		assert_string_equal(s, "Im Kalender gelöscht");
		free(s);
		assert_int_equal(sync_now(id, &st), 0);
		assert_int_equal(rad("GET", url, NULL, NULL, NULL), 404);
	}
	free(href);

	/* cancel → the event is deleted on the server */
	{
		long long a2 = book(doc, 6, 11, NULL);

		assert_int_equal(sync_now(id, &st), 0);
		href = mapping_href(a2, id);
		abs_url(href, url, sizeof(url));
		free(href);
		assert_int_equal(rad("GET", url, NULL, NULL, NULL), 200);
		cancel(doc, a2);
		assert_int_equal(sync_now(id, &st), 0);
		assert_int_equal(st.pushed, 1);
		assert_int_equal(rad("GET", url, NULL, NULL, NULL), 404);
	}
	(void)privat_url;
}

/* Count the .ics objects in a collection (PROPFIND Depth 1). */
static int rad_count(const char *cal_url)
{
	char *body, *p;
	int n = 0;
	const char *hdrs[] = { "Depth: 1", "Content-Type: application/xml; charset=utf-8", NULL };
	struct http_request rq;
	struct http_response rs;
	char err[256];
	const char *q = "<?xml version=\"1.0\"?><d:propfind xmlns:d=\"DAV:\"><d:prop><d:getetag/></d:prop></d:propfind>";

	memset(&rq, 0, sizeof(rq));
	rq.method = "PROPFIND";
	rq.url = cal_url;
	rq.headers = hdrs;
	rq.body = q;
	rq.body_len = strlen(q);
	rq.user = rad_user;
	rq.password = rad_pass;
	assert_int_equal(http_do(&rq, &rs, err, sizeof(err)), TF_OK);
	assert_int_equal(rs.status, 207);
	body = xstrdup(rs.body.data ? rs.body.data : "");
	http_response_free(&rs);
	for (p = body; (p = strstr(p, ".ics<")) != NULL; p++)
		n++;
	free(body);
	return n;
}

static void test_radicale_crash_and_auth(void **state)
{
	long long doc, id, appt, praxis;
	char praxis_url[1024], url[2048], *s;
	struct sync_stats st;
	int before;

	(void)state;
	if (!radicale_ready())
		skip();
	doc = new_doctor("radcrash");
	id = rad_connection(doc, rad_user, rad_pass);
	praxis = rad_cal(doc, id, "/praxis/", praxis_url, sizeof(praxis_url));
	{
		long long ids[8];
		size_t n = calendar_ids(doc, id, ids, 8);

		assert_int_equal(integration_set_choices(db, doc, id, ids, n, praxis, 0, NULL, 0), TF_OK);
	}
	abs_url(praxis_url, url, sizeof(url));
	before = rad_count(url);
	appt = book(doc, 7, 15, NULL);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(rad_count(url), before + 1);
	/* the PUT happened, the mapping update did not (crash): the re-run converges, one object */
	assert_int_equal(db_exec(db, STMT_TEST_SYNC_MAPPING_RESET, DB_ARGS(DBP_INT(appt)), NULL, NULL), TF_OK);
	assert_int_equal(db_exec(db, STMT_TEST_SYNC_OUTBOX_REOPEN, DB_ARGS(DBP_INT(appt)), NULL, NULL), TF_OK);
	assert_int_equal(sync_now(id, &st), 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal(rad_count(url), before + 1);
	s = q_str(STMT_TEST_SYNC_MAPPING, DB_ARGS(DBP_INT(appt), DBP_INT(id)), 0);
	assert_string_equal(s, "synced");
	free(s);
	assert_int_equal(q_int(STMT_TEST_SYNC_OUTBOX_OPEN, DB_ARGS(DBP_INT(appt)), 0), 0);

	/* a wrong password → reauth_required with the German message */
	{
		json_t *bad = json_pack("{s:s, s:s}", "username", rad_user, "password", "falsches-passwort");
		char err[256];

		assert_int_equal(integration_store_credentials(db, conf, id, bad, err, sizeof(err)), TF_OK);
		json_decref(bad);
	}
	assert_int_equal(sync_now(id, &st), 1);
	assert_string_equal(st.status, "reauth_required");
	s = q_str(STMT_TEST_SYNC_INTEGRATION, DB_ARGS(DBP_INT(id)), 1);
	assert_non_null(strstr(s, "Anmeldung beim Kalender fehlgeschlagen – bitte erneut verbinden. "));
	free(s);
	assert_int_equal(q_int(STMT_TEST_SYNC_MAIL_COUNT, DB_ARGS(DBP_INT(id)), 0), 1);

	/* disconnect with removal: our events leave the calendar */
	{
		json_t *good = json_pack("{s:s, s:s}", "username", rad_user, "password", rad_pass);
		char err[256];
		unsigned failed = 9;

		assert_int_equal(integration_store_credentials(db, conf, id, good, err, sizeof(err)), TF_OK);
		json_decref(good);
		assert_int_equal(integration_disconnect(db, conf, doc, id, 1, &failed, err, sizeof(err)), TF_OK);
		assert_int_equal(failed, 0);
		assert_int_equal(rad_count(url), before);
	}
}

/* Every file of $TF_TESTDATA/ics in a calendar of its own: one sync completes, busy blocks for the
 * well-formed ones, the broken ones skipped. */
static void test_radicale_testdata(void **state)
{
	const char *td = getenv("TF_TESTDATA"), *imp = getenv("TF_RADICALE_IMPORT_USER");
	long long doc, id, cal, busy;
	struct sync_stats st;
	struct conf *wide;
	char url[1024];
	time_t then;
	int rc;

	(void)state;
	if (!radicale_ready())
		skip();
	if (!td || !*td || !imp || !*imp) {
		print_message("# SKIP no TF_TESTDATA / seeded import calendar\n");
		skip();
	}
	doc = new_doctor("radimport");
	id = rad_connection(doc, imp, rad_pass);
	cal = rad_cal(doc, id, "/import/", url, sizeof(url));
	/* the files' events lie mostly in 2007..2024: sync "on" 2014-01-01 with a ten-year horizon */
	wide = conf_new();
	conf_set(wide, "BASE_URL", BASE "/");
	conf_set(wide, "CALENDAR_ENCRYPTION_KEY", enc_key);
	conf_set(wide, "TF_SYNC_HORIZON_DAYS", "3650");
	then = 1388534400;
	rc = sync_integration(db, wide, id, then, &st);
	busy = q_int(STMT_TEST_SYNC_BUSY_CAL, DB_ARGS(DBP_INT(cal)), 0);
	print_message("# import: pulled %lu, requests %lu, errors %lu, busy blocks %lld\n", st.pulled, st.requests,
		      st.errors, busy);
	assert_int_equal(rc, 0);
	assert_int_equal(st.errors, 0);
	assert_true(st.pulled >= 10);
	assert_true(busy >= 10);
	/* the second run: nothing changed, nothing fetched */
	assert_int_equal(sync_integration(db, wide, id, then + 60, &st), 0);
	assert_int_equal(st.pulled, 0);
	assert_int_equal(q_int(STMT_TEST_SYNC_BUSY_CAL, DB_ARGS(DBP_INT(cal)), 0), busy);
	conf_free(wide);
}

/* ------------------------------------------------------------------ tf-sync */

static int run_tf_sync(const char *args, char *out, size_t outlen)
{
	const char *bd = getenv("TF_BUILDDIR");
	char cmd[2048];
	FILE *p;
	size_t n;
	int rc;

	snprintf(cmd, sizeof(cmd), "'%s/tf-sync' %s 2>/dev/null", bd ? bd : ".", args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	rc = pclose(p);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_tf_sync_binary(void **state)
{
	const char *bd = getenv("TF_BUILDDIR"), *imp = getenv("TF_RADICALE_IMPORT_USER");
	long long doc, id;
	char out[4096], path[1024];
	int rc, i, expect;

	(void)state;
	if (!radicale_ready() || !bd)
		skip();
	snprintf(path, sizeof(path), "%s/tf-sync", bd);
	if (access(path, X_OK) != 0)
		skip();
	/* the in-test provider's connections point nowhere: not due for the real one */
	assert_int_equal(db_exec(db, STMT_TEST_SYNC_PARK_ALL, DB_ARGS(DBP_INT((long long)time(NULL) + 86400)), NULL,
				 NULL), TF_OK);
	doc = new_doctor("bin");
	id = rad_connection(doc, rad_user, rad_pass);
	book(doc, 8, 9, NULL);
	expect = 1;
	if (imp && *imp) {
		/* more connections (to the recurrence-heavy import calendar): the workers run at once */
		for (i = 0; i < 4; i++) {
			char tag[16];

			snprintf(tag, sizeof(tag), "bin%d", i);
			rad_connection(new_doctor(tag), imp, rad_pass);
			expect++;
		}
	}
	rc = run_tf_sync("", out, sizeof(out));
	print_message("# %s", out);
	assert_int_equal(rc, 0);
	snprintf(path, sizeof(path), "tf-sync: connections=%d ", expect);
	assert_non_null(strstr(out, path));
	assert_non_null(strstr(out, " errors=0 "));
	assert_non_null(strstr(out, " pushed="));
	assert_non_null(strstr(out, " seconds="));
	/* this connection is not due any more; --integration syncs it anyway */
	snprintf(path, sizeof(path), "--integration %lld", id);
	rc = run_tf_sync(path, out, sizeof(out));
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "tf-sync: connections=1 pushed=0 "));
	assert_int_equal(run_tf_sync("--integration abc", out, sizeof(out)), 2);
	assert_int_equal(run_tf_sync("--bogus", out, sizeof(out)), 2);
	assert_int_equal(run_tf_sync("--integration 999999999", out, sizeof(out)), 1);
	assert_int_equal(run_tf_sync("--help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "usage: tf-sync"));
	/* the lock: a held lock file → 3 */
	{
		char cmd[3000];

		snprintf(cmd, sizeof(cmd), "cd \"${TF_LOCK_DIR:-/tmp}\" && f=$(ls tf-sync-*.lock | head -1) && "
			 "flock -n \"$f\" sh -c '\"%s/tf-sync\" --integration %lld >/dev/null 2>&1; exit $?'",
			 bd, id);
		rc = system(cmd);
		assert_true(WIFEXITED(rc));
		assert_int_equal(WEXITSTATUS(rc), 3);
	}
	/* a missing setting → 2 naming it */
	{
		char cmd[3000];

		snprintf(cmd, sizeof(cmd), "CALENDAR_ENCRYPTION_KEY= '%s/tf-sync' 2>&1 | grep -q CALENDAR_ENCRYPTION_KEY"
			 " && CALENDAR_ENCRYPTION_KEY= '%s/tf-sync' >/dev/null 2>&1; exit $?", bd, bd);
		rc = system(cmd);
		assert_int_equal(WEXITSTATUS(rc), 2);
	}
}

/* ------------------------------------------------------------------ main */

int main(void)
{
	const struct CMUnitTest db_tests[] = {
		cmocka_unit_test(test_create_defaults),
		cmocka_unit_test(test_choices),
		cmocka_unit_test(test_push_create_update_cancel),
		cmocka_unit_test(test_push_retry_and_crash),
		cmocka_unit_test(test_push_due_with_lagging_clock),
		cmocka_unit_test(test_request_during_run),
		cmocka_unit_test(test_auth_and_claims),
		cmocka_unit_test(test_pull_busy_review_full),
		cmocka_unit_test(test_disconnect),
		cmocka_unit_test(test_radicale_push_pull),
		cmocka_unit_test(test_radicale_crash_and_auth),
		cmocka_unit_test(test_radicale_testdata),
		cmocka_unit_test(test_tf_sync_binary),
	};
	char err[256];
	int rc;

	log_init("test_sync", 0, LOG_LVL_INFO);
	if (crypto_init() != TF_OK)
		return 1;
	if (!getenv("TF_DB_SOCKET") && !getenv("TF_DB_HOST")) {
		printf("1..0 # SKIP no database (run tests/integration/test_sync.sh)\n");
		return 0;
	}
	snprintf(uniq, sizeof(uniq), "%ld-%d", (long)time(NULL), (int)getpid());
	fernet_generate_key(enc_key);
	/* the tf-sync binary reads the same settings from the environment */
	if (!getenv("CALENDAR_ENCRYPTION_KEY"))
		setenv("CALENDAR_ENCRYPTION_KEY", enc_key, 1);
	else
		str_copy(enc_key, getenv("CALENDAR_ENCRYPTION_KEY"), sizeof(enc_key));
	setenv("BASE_URL", BASE "/", 1);
	conf = conf_new();
	conf_set(conf, "BASE_URL", BASE "/");
	conf_set(conf, "CALENDAR_ENCRYPTION_KEY", enc_key);
	conf_set(conf, "TF_BOOKING_HORIZON_DAYS", "400");
	rad_url = getenv("TF_RADICALE_URL");
	rad_user = getenv("TF_RADICALE_USER");
	rad_pass = getenv("TF_RADICALE_PASSWORD");
	if (!rad_user || !rad_pass)
		rad_url = NULL;
	db = db_connect(conf, err, sizeof(err));
	if (!db) {
		printf("Bail out! db_connect: %s\n", err);
		return 1;
	}
	rc = cmocka_run_group_tests_name("sync", db_tests, NULL, NULL);
	db_close(db);
	conf_free(conf);
	return rc;
}
