/* test_booking.c: booking and practice settings against a real MariaDB (TF_DB_SOCKET; only the offline checks without it). */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "booking.h"
#include "conf.h"
#include "crypto.h"
#include "db.h"
#include "doctor.h"
#include "log.h"
#include "practice.h"
#include "tztime.h"

#define BASE "https://praxis.example"

static struct conf *conf;
static struct db *db;
static char uniq[32];
static char enc_key[45];
static time_t NOW;   /* Monday 2030-01-07 06:00 UTC (07:00 in Berlin) */

/* ------------------------------------------------------------------ helpers */

static time_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return timegm(&tm);
}

static struct civil local(int y, int mo, int d, int h, int mi)
{
	struct civil c = { .year = y, .month = mo, .day = d, .hour = h, .minute = mi };

	return c;
}

/* A conf of its own (conf_get is not thread-safe across threads sharing one). */
static struct conf *make_conf(void)
{
	struct conf *c = conf_new();

	conf_set(c, "BASE_URL", BASE "/");
	conf_set(c, "CALENDAR_ENCRYPTION_KEY", enc_key);
	conf_set(c, "TF_BOOKING_HORIZON_DAYS", "400");
	return c;
}

static struct db *connect_with(struct conf *c)
{
	char err[512];
	struct db *d = db_connect(c, err, sizeof(err));

	if (!d)
		fail_msg("db_connect: %s", err);
	return d;
}

static int setup(void **state)
{
	(void)state;
	db = connect_with(conf);
	return db ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	db_close(db);
	db = NULL;
	return 0;
}

/* A new doctor (Europe/Berlin, Berlin holidays, Mon–Fri 08–12 and 14–18, "Sprechstunde" 30 min). */
static long long new_doctor(const char *tag)
{
	char email[128], slug[64], err[256];
	long long id = 0;

	snprintf(email, sizeof(email), "%s-%s@example.org", tag, uniq);
	snprintf(slug, sizeof(slug), "%s-%s", tag, uniq);
	if (doctor_create(db, email, "Dr. Erika Test", slug, "ein-langes-passwort", "Europe/Berlin",
			  &id, err, sizeof(err)) != TF_OK)
		fail_msg("doctor_create: %s", err);
	assert_true(id > 0);
	return id;
}

static struct booking_request request(long long doctor_id, struct civil start)
{
	struct booking_request q;

	memset(&q, 0, sizeof(q));
	q.doctor_id = doctor_id;
	q.service = "Sprechstunde";
	q.start = start;
	q.duration = 30;
	q.patient_name = "Erika Mustermann";
	q.patient_email = "erika@example.org";
	q.patient_phone = "+49 30 1234567";
	return q;
}

static long long count_at(long long doctor_id, time_t start)
{
	struct db_rows r;
	char when[20];
	long long n;

	utc_format_sql(start, when);
	assert_int_equal(db_query_one(db, STMT_TEST_BOOKING_COUNT_AT,
				      DB_ARGS(DBP_INT(doctor_id), DBP_TEXT(when)), &r), 1);
	n = db_cell_int(&r, 0, 0, -1);
	db_rows_free(&r);
	return n;
}

static long long count_doctor(long long doctor_id)
{
	struct db_rows r;
	long long n;

	assert_int_equal(db_query_one(db, STMT_TEST_BOOKING_COUNT_DOCTOR,
				      DB_ARGS(DBP_INT(doctor_id)), &r), 1);
	n = db_cell_int(&r, 0, 0, -1);
	db_rows_free(&r);
	return n;
}

/* The outbox actions of an appointment joined by ',' ("create,cancel"). */
static void outbox_of(long long appt, char *out, size_t outlen)
{
	struct db_rows r;
	struct buf b;
	size_t i;

	assert_int_equal(db_query(db, STMT_TEST_BOOKING_OUTBOX, DB_ARGS(DBP_INT(appt)), &r), TF_OK);
	buf_init(&b, 4096);
	for (i = 0; i < r.nrows; i++)
		buf_printf(&b, "%s%s", i ? "," : "", db_cell(&r, i, 0));
	str_copy(out, b.data ? b.data : "", outlen);
	buf_free(&b);
	db_rows_free(&r);
}

/* The queued mails "kind:seq,..." of an appointment. */
static void mails_of(long long appt, char *out, size_t outlen)
{
	struct db_rows r;
	struct buf b;
	size_t i;

	assert_int_equal(db_query(db, STMT_TEST_BOOKING_MAIL, DB_ARGS(DBP_INT(appt)), &r), TF_OK);
	buf_init(&b, 4096);
	for (i = 0; i < r.nrows; i++)
		buf_printf(&b, "%s%s:%s", i ? "," : "", db_cell(&r, i, 0), db_cell(&r, i, 1));
	str_copy(out, b.data ? b.data : "", outlen);
	buf_free(&b);
	db_rows_free(&r);
}

struct raw {
	char start[20], end[20], hash[65], status[16], cancelled_by[16];
	char *encrypted;
	long long reschedules;
	int reminded;
};

static void raw_of(long long appt, struct raw *w)
{
	struct db_rows r;

	memset(w, 0, sizeof(*w));
	assert_int_equal(db_query_one(db, STMT_TEST_BOOKING_APPT_RAW, DB_ARGS(DBP_INT(appt)), &r), 1);
	str_copy(w->start, db_cell(&r, 0, 0), sizeof(w->start));
	str_copy(w->end, db_cell(&r, 0, 1), sizeof(w->end));
	str_copy(w->hash, db_cell(&r, 0, 2), sizeof(w->hash));
	w->encrypted = db_cell(&r, 0, 3) ? strdup(db_cell(&r, 0, 3)) : NULL;
	str_copy(w->status, db_cell(&r, 0, 4), sizeof(w->status));
	w->reschedules = db_cell_int(&r, 0, 5, -1);
	w->reminded = db_cell(&r, 0, 6) != NULL;
	str_copy(w->cancelled_by, db_cell(&r, 0, 7) ? db_cell(&r, 0, 7) : "", sizeof(w->cancelled_by));
	db_rows_free(&r);
}

static const char *json_str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Book and expect success; returns the appointment id (token copied when tok != NULL). */
static long long book_ok(long long doctor_id, struct civil start, char *tok, size_t toklen)
{
	struct booking_request q = request(doctor_id, start);
	struct booking_result r;
	long long id;

	assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_OK);
	assert_int_equal(r.http_status, 201);
	id = r.appt.id;
	assert_true(id > 0);
	if (tok)
		str_copy(tok, r.cancel_token, toklen);
	booking_result_free(&r);
	return id;
}

/* ------------------------------------------------------------------ offline */

static void hours_parse_and_check(void **state)
{
	struct practice_interval iv[PRACTICE_HOURS_PER_DAY + 2];
	struct practice_err e;
	struct buf b;
	size_t n;

	(void)state;
	assert_int_equal(practice_hours_parse(1, "14:00-18:00, 08:00-12:00", iv, 8, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(iv[0].start, 480);
	assert_int_equal(iv[0].end, 720);
	assert_int_equal(iv[1].start, 840);
	assert_int_equal(iv[1].end, 1080);
	buf_init(&b, 256);
	assert_int_equal(practice_hours_format(iv, n, &b), 0);
	assert_string_equal(b.data, "08:00\xe2\x80\x93" "12:00, 14:00\xe2\x80\x93" "18:00");
	buf_free(&b);
	assert_int_equal(practice_hours_parse(2, "8-12; 13.30 \xe2\x80\x93 24:00", iv, 8, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(iv[1].start, 810);
	assert_int_equal(iv[1].end, 1440);
	assert_int_equal(practice_hours_parse(3, "  Geschlossen ", iv, 8, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(practice_hours_parse(3, "", iv, 8, &n, &e), 0);
	assert_int_equal(n, 0);
	/* Overlap, reversed, out of range, garbage: refused with the field and the weekday. */
	assert_int_equal(practice_hours_parse(1, "08:00-12:00, 11:00-13:00", iv, 8, &n, &e), -1);
	assert_string_equal(e.field, "hours");
	assert_non_null(strstr(e.message, "Montag"));
	assert_non_null(strstr(e.message, "überschneiden"));
	assert_int_equal(practice_hours_parse(2, "12:00-08:00", iv, 8, &n, &e), -1);
	assert_non_null(strstr(e.message, "Dienstag"));
	assert_int_equal(practice_hours_parse(2, "08:00-24:30", iv, 8, &n, &e), -1);
	assert_int_equal(practice_hours_parse(2, "08:60-09:00", iv, 8, &n, &e), -1);
	assert_int_equal(practice_hours_parse(2, "morgens", iv, 8, &n, &e), -1);
	assert_int_equal(practice_hours_parse(2, "8-9,9-10,10-11,11-12,12-13,13-14,14-15,15-16,16-17",
					      iv, 10, &n, &e), -1);
	assert_non_null(strstr(e.message, "höchstens 8"));
	/* Touching intervals are fine. */
	iv[0] = (struct practice_interval){ 480, 720 };
	iv[1] = (struct practice_interval){ 720, 780 };
	assert_int_equal(practice_hours_check(5, iv, 2, &e), 0);
	iv[1] = (struct practice_interval){ 0, 0 };
	assert_int_equal(practice_hours_check(5, iv, 2, &e), -1);
	assert_int_equal(practice_hours_check(8, iv, 1, &e), -1);
	assert_string_equal(e.field, "weekday");
}

static void text_and_service_checks(void **state)
{
	struct practice_service s;
	struct practice_err e;

	(void)state;
	assert_true(practice_text_valid("Grüße aus Köln – ✓"));
	assert_true(practice_text_valid(""));
	assert_false(practice_text_valid("a\x01" "b"));
	assert_false(practice_text_valid("tab\there"));
	assert_false(practice_text_valid("\xc3"));
	assert_false(practice_text_valid("\xc2\x85"));        /* C1 control NEL */
	assert_false(practice_text_valid("\xed\xa0\x80"));    /* surrogate */
	assert_false(practice_text_valid("\xc0\xaf"));        /* overlong */
	memset(&s, 0, sizeof(s));
	str_copy(s.name, "Videosprechstunde", sizeof(s.name));
	s.duration = 20;
	s.buffer_after = 5;
	assert_int_equal(practice_service_check(&s, &e), 0);
	s.duration = 4;
	assert_int_equal(practice_service_check(&s, &e), -1);
	assert_string_equal(e.field, "duration_minutes");
	s.duration = 601;
	assert_int_equal(practice_service_check(&s, &e), -1);
	s.duration = 600;
	s.buffer_before = 121;
	assert_int_equal(practice_service_check(&s, &e), -1);
	assert_string_equal(e.field, "buffer_before_minutes");
	s.buffer_before = 0;
	s.buffer_after = -1;
	assert_int_equal(practice_service_check(&s, &e), -1);
	assert_string_equal(e.field, "buffer_after_minutes");
	s.buffer_after = 0;
	str_copy(s.name, "   ", sizeof(s.name));
	assert_int_equal(practice_service_check(&s, &e), -1);
	assert_string_equal(e.field, "name");
	assert_string_equal(practice_weekday_name(7), "Sonntag");
}

/* ------------------------------------------------------------------ booking */

static void book_and_check(long long doc, struct civil when, const char *start_utc,
			   const char *end_utc, const char *start_iso, const char *end_iso)
{
	struct booking_request q = request(doc, when);
	struct booking_result r;
	struct fernet_keyring *kr;
	struct appointment a;
	struct raw w;
	char hash[65], buf[256], url[256];
	char *plain;
	size_t plen;
	json_t *j;

	assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_OK);
	assert_int_equal(r.http_status, 201);
	assert_int_equal(r.replayed, 0);
	assert_int_equal(strlen(r.cancel_token), 43);
	assert_string_equal(r.appt.status, "confirmed");
	raw_of(r.appt.id, &w);
	assert_string_equal(w.start, start_utc);
	assert_string_equal(w.end, end_utc);
	assert_string_equal(w.status, "confirmed");
	/* The token: only its SHA-256 and its Fernet encryption are stored. */
	sha256_hex(r.cancel_token, strlen(r.cancel_token), hash);
	assert_string_equal(w.hash, hash);
	assert_non_null(w.encrypted);
	assert_null(strstr(w.encrypted, r.cancel_token));
	kr = fernet_keyring_parse(enc_key, buf, sizeof(buf));
	assert_non_null(kr);
	plain = fernet_decrypt(kr, w.encrypted, &plen);
	assert_non_null(plain);
	assert_string_equal(plain, r.cancel_token);
	free(plain);
	fernet_keyring_free(kr);
	free(w.encrypted);
	/* The answer. */
	j = json_loads(r.json, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "id")), r.appt.id);
	assert_string_equal(json_str(j, "start"), start_iso);
	assert_string_equal(json_str(j, "end"), end_iso);
	assert_string_equal(json_str(j, "status"), "confirmed");
	snprintf(url, sizeof(url), "%s/termin/absage/%s", BASE, r.cancel_token);
	assert_string_equal(json_str(j, "cancel_url"), url);
	json_decref(j);
	assert_non_null(strstr(r.json, "\\/termin\\/absage\\/"));   /* JSON_ESCAPE_SLASH */
	/* Outbox and mail queue written in the same transaction. */
	outbox_of(r.appt.id, buf, sizeof(buf));
	assert_string_equal(buf, "create");
	mails_of(r.appt.id, buf, sizeof(buf));
	assert_string_equal(buf, "confirmation:0");
	/* Lookups. */
	assert_int_equal(appointment_by_cancel_token(db, r.cancel_token, &a), 1);
	assert_int_equal(a.id, r.appt.id);
	assert_int_equal(a.start, r.appt.start);
	assert_string_equal(a.patient_name, "Erika Mustermann");
	assert_string_equal(a.patient_phone, "+49 30 1234567");
	assert_string_equal(a.service_name, "Sprechstunde");
	assert_int_equal(a.end - a.start, 30 * 60);
	assert_int_equal(appointment_by_cancel_token(db, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &a),
			 0);
	assert_int_equal(appointment_by_cancel_token(db, "x'; --", &a), 0);
	booking_result_free(&r);
}

static void booking_winter_and_summer(void **state)
{
	long long doc = new_doctor("book");
	struct appointment *list = NULL;
	long n;

	(void)state;
	/* Winter: CET = UTC+1. Summer: CEST = UTC+2. */
	book_and_check(doc, local(2030, 1, 15, 9, 0), "2030-01-15 08:00", "2030-01-15 08:30",
		       "2030-01-15T09:00", "2030-01-15T09:30");
	book_and_check(doc, local(2030, 7, 16, 9, 0), "2030-07-16 07:00", "2030-07-16 07:30",
		       "2030-07-16T09:00", "2030-07-16T09:30");
	n = appointment_list_upcoming(db, doc, NOW, 0, 10, &list);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].start, utc(2030, 1, 15, 8, 0));
	assert_int_equal(list[1].start, utc(2030, 7, 16, 7, 0));
	free(list);
	n = appointment_list_upcoming(db, doc, utc(2030, 2, 1, 0, 0), 0, 10, &list);
	assert_int_equal(n, 1);
	free(list);
	assert_int_equal(appointment_list_upcoming(db, doc, NOW, 0, 1, &list), 1);
	free(list);
}

static void booking_by_slug_and_default_service(void **state)
{
	long long doc = new_doctor("slug");
	struct booking_request q = request(0, local(2030, 1, 15, 9, 0));
	struct booking_result r;
	char slug[64];

	(void)state;
	snprintf(slug, sizeof(slug), "slug-%s", uniq);
	q.doctor_slug = slug;
	q.service = NULL;      /* the only active service */
	q.duration = 0;        /* the service's */
	q.patient_phone = NULL;
	assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_OK);
	assert_int_equal(r.appt.doctor_id, doc);
	assert_int_equal(r.appt.end - r.appt.start, 30 * 60);
	assert_string_equal(r.appt.patient_phone, "");
	booking_result_free(&r);
	/* Service names are case-insensitive. */
	q = request(doc, local(2030, 1, 15, 10, 0));
	q.service = "sprechstunde";
	assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_OK);
	booking_result_free(&r);
	/* Without CALENDAR_ENCRYPTION_KEY the token is kept only hashed (the booking still works);
	 * without BASE_URL the cancel link is a path. */
	{
		struct conf *bare = conf_new();
		struct raw w;
		char hash[65];

		q = request(doc, local(2030, 1, 15, 11, 0));
		assert_int_equal(booking_create(db, bare, &q, NOW, &r), BOOKING_OK);
		raw_of(r.appt.id, &w);
		assert_null(w.encrypted);
		sha256_hex(r.cancel_token, strlen(r.cancel_token), hash);
		assert_string_equal(w.hash, hash);
		assert_non_null(strstr(r.json, "\"cancel_url\":\"\\/termin\\/absage\\/"));
		booking_result_free(&r);
		conf_free(bare);
	}
}

struct bad_case {
	const char *what;
	const char *field;
	void (*mutate)(struct booking_request *q);
};

static void m_name_empty(struct booking_request *q) { q->patient_name = "   "; }
static void m_name_ctrl(struct booking_request *q) { q->patient_name = "Erika\x01Muster"; }
static void m_name_newline(struct booking_request *q) { q->patient_name = "Erika\nMuster"; }
static void m_name_long(struct booking_request *q)
{
	static char longname[260];

	memset(longname, 'a', 201);
	longname[201] = '\0';
	q->patient_name = longname;
}
static void m_name_null(struct booking_request *q) { q->patient_name = NULL; }
static void m_email_bad(struct booking_request *q) { q->patient_email = "kein-at.example.org"; }
static void m_email_space(struct booking_request *q) { q->patient_email = "a b@example.org"; }
static void m_email_null(struct booking_request *q) { q->patient_email = NULL; }
static void m_phone_letters(struct booking_request *q) { q->patient_phone = "030-CALL-ME"; }
static void m_phone_long(struct booking_request *q)
{
	q->patient_phone = "01234567890123456789012345678901234567890";   /* 41 */
}
static void m_service_unknown(struct booking_request *q) { q->service = "Hausbesuch"; }
static void m_duration(struct booking_request *q) { q->duration = 45; }
static void m_date_invalid(struct booking_request *q) { q->start = local(2030, 2, 30, 9, 0); }
static void m_time_invalid(struct booking_request *q) { q->start = local(2030, 1, 15, 24, 0); }
static void m_dst_gap(struct booking_request *q) { q->start = local(2030, 3, 31, 2, 30); }
static void m_past(struct booking_request *q) { q->start = local(2030, 1, 4, 9, 0); }
static void m_lead(struct booking_request *q) { q->start = local(2030, 1, 7, 8, 0); }   /* 1 h ahead */
static void m_horizon(struct booking_request *q) { q->start = local(2031, 3, 4, 9, 0); }
static void m_no_doctor(struct booking_request *q)
{
	q->doctor_id = 0;
	q->doctor_slug = NULL;
}
static void m_key_bad(struct booking_request *q) { q->idempotency_key = "mit leerzeichen"; }

static void validation_names_the_field(void **state)
{
	static const struct bad_case cases[] = {
		{ "empty name", "patient_name", m_name_empty },
		{ "control char in name", "patient_name", m_name_ctrl },
		{ "newline in name", "patient_name", m_name_newline },
		{ "201-byte name", "patient_name", m_name_long },
		{ "no name", "patient_name", m_name_null },
		{ "e-mail without @", "patient_email", m_email_bad },
		{ "e-mail with space", "patient_email", m_email_space },
		{ "no e-mail", "patient_email", m_email_null },
		{ "phone with letters", "patient_phone", m_phone_letters },
		{ "41-character phone", "patient_phone", m_phone_long },
		{ "unknown service", "service", m_service_unknown },
		{ "duration not the service's", "duration_minutes", m_duration },
		{ "30 February", "start", m_date_invalid },
		{ "hour 24", "start", m_time_invalid },
		{ "DST gap 02:30", "start", m_dst_gap },
		{ "in the past", "start", m_past },
		{ "inside the lead time", "start", m_lead },
		{ "beyond the horizon", "start", m_horizon },
		{ "no doctor", "doctor", m_no_doctor },
		{ "bad Idempotency-Key", "idempotency_key", m_key_bad },
	};
	long long doc = new_doctor("valid");
	size_t i;

	(void)state;
	for (i = 0; i < TF_ARRAY_LEN(cases); i++) {
		struct booking_request q = request(doc, local(2030, 1, 15, 9, 0));
		struct booking_result r;
		json_t *j, *e;

		cases[i].mutate(&q);
		print_message("# %s\n", cases[i].what);
		assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_INVALID);
		assert_int_equal(r.http_status, 400);
		assert_non_null(r.field);
		assert_string_equal(r.field, cases[i].field);
		assert_true(strlen(r.message) > 5);
		j = json_loads(r.json, 0, NULL);
		assert_non_null(j);
		e = json_object_get(j, "error");
		assert_string_equal(json_str(e, "code"), "invalid_field");
		assert_string_equal(json_str(e, "field"), cases[i].field);
		assert_string_equal(json_str(e, "message"), r.message);
		json_decref(j);
		booking_result_free(&r);
	}
	assert_int_equal(count_doctor(doc), 0);
	/* An unknown doctor is 404. */
	{
		struct booking_request q = request(0, local(2030, 1, 15, 9, 0));
		struct booking_result r;

		q.doctor_slug = "gibt-es-nicht-xyz";
		assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_NOT_FOUND);
		assert_int_equal(r.http_status, 404);
		assert_non_null(strstr(r.json, "\"not_found\""));
		booking_result_free(&r);
		q.doctor_slug = NULL;
		q.doctor_id = 999999999;
		assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_NOT_FOUND);
		booking_result_free(&r);
	}
}

static void expect_conflict(long long doc, struct civil when)
{
	struct booking_request q = request(doc, when);
	struct booking_result r;
	json_t *j;

	assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_CONFLICT);
	assert_int_equal(r.http_status, 409);
	assert_string_equal(r.message, "Dieser Termin ist leider nicht mehr frei. Bitte wählen Sie "
			    "eine andere Uhrzeit.");
	j = json_loads(r.json, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_str(json_object_get(j, "error"), "code"), "slot_taken");
	assert_string_equal(json_str(json_object_get(j, "error"), "message"), r.message);
	json_decref(j);
	booking_result_free(&r);
}

static void taken_slot_conflicts(void **state)
{
	long long doc = new_doctor("taken");

	(void)state;
	book_ok(doc, local(2030, 1, 16, 10, 0), NULL, 0);
	expect_conflict(doc, local(2030, 1, 16, 10, 0));
	expect_conflict(doc, local(2030, 1, 16, 10, 15));   /* overlaps */
	expect_conflict(doc, local(2030, 1, 16, 9, 45));    /* overlaps its end into 10:00-10:30 */
	expect_conflict(doc, local(2030, 1, 16, 10, 5));    /* off the 15-minute grid */
	expect_conflict(doc, local(2030, 1, 16, 11, 45));   /* would end after 12:00 */
	expect_conflict(doc, local(2030, 1, 16, 12, 30));   /* lunch break */
	expect_conflict(doc, local(2030, 1, 19, 10, 0));    /* Saturday */
	assert_int_equal(count_at(doc, utc(2030, 1, 16, 9, 0)), 1);
	assert_int_equal(count_doctor(doc), 1);
	book_ok(doc, local(2030, 1, 16, 10, 30), NULL, 0);  /* right after it is free */
	book_ok(doc, local(2030, 1, 16, 9, 30), NULL, 0);   /* right before it too */
	assert_int_equal(count_doctor(doc), 3);
}

static void busy_block_conflicts(void **state)
{
	long long doc = new_doctor("busy");
	unsigned long long integ = 0;
	char s[20], e[20];

	(void)state;
	assert_int_equal(db_exec(db, STMT_TEST_BOOKING_INTEGRATION,
				 DB_ARGS(DBP_INT(doc), DBP_TEXT("cal@example.org")), NULL, &integ),
			 TF_OK);
	/* Busy 09:00–10:00 Berlin on Thursday 2030-01-17 (08:00–09:00 UTC). */
	utc_format_sql(utc(2030, 1, 17, 8, 0), s);
	utc_format_sql(utc(2030, 1, 17, 9, 0), e);
	assert_int_equal(db_exec(db, STMT_TEST_BOOKING_BUSY,
				 DB_ARGS(DBP_INT(integ), DBP_INT(doc), DBP_TEXT("evt-1"), DBP_TEXT(s),
					 DBP_TEXT(e)), NULL, NULL), TF_OK);
	expect_conflict(doc, local(2030, 1, 17, 9, 30));
	expect_conflict(doc, local(2030, 1, 17, 8, 45));
	assert_int_equal(count_doctor(doc), 0);
	book_ok(doc, local(2030, 1, 17, 10, 0), NULL, 0);
	book_ok(doc, local(2030, 1, 17, 8, 30), NULL, 0);
}

static void closure_and_holiday_conflict(void **state)
{
	long long doc = new_doctor("closed"), cid = 0;
	struct civil a = local(2030, 1, 21, 0, 0), b = local(2030, 1, 25, 0, 0);
	struct practice_err e;

	(void)state;
	assert_int_equal(practice_closure_add(db, doc, &a, &b, "Fortbildung", &cid, &e), TF_OK);
	assert_true(cid > 0);
	expect_conflict(doc, local(2030, 1, 22, 9, 0));
	expect_conflict(doc, local(2030, 1, 25, 15, 0));
	/* Tag der Arbeit (statewide), Karfreitag 2030 (19 April): holidays in Berlin. */
	expect_conflict(doc, local(2030, 5, 1, 9, 0));
	expect_conflict(doc, local(2030, 4, 19, 9, 0));
	assert_int_equal(count_doctor(doc), 0);
	/* The day after the closure is bookable; deleting the closure frees it. */
	book_ok(doc, local(2030, 1, 28, 9, 0), NULL, 0);
	assert_int_equal(practice_closure_delete(db, doc, cid), TF_OK);
	book_ok(doc, local(2030, 1, 22, 9, 0), NULL, 0);
}

static void idempotency_key(void **state)
{
	long long doc = new_doctor("idem");
	struct booking_request q = request(doc, local(2030, 1, 15, 9, 0));
	struct booking_result r1, r2, r3;
	char key[64];

	(void)state;
	snprintf(key, sizeof(key), "key-%s-1", uniq);
	q.idempotency_key = key;
	assert_int_equal(booking_create(db, conf, &q, NOW, &r1), BOOKING_OK);
	assert_int_equal(r1.replayed, 0);
	/* The same request again: the same answer, no second booking — even hours later, when the
	 * slot is inside the lead time. */
	assert_int_equal(booking_create(db, conf, &q, NOW + 3600, &r2), BOOKING_OK);
	assert_int_equal(r2.replayed, 1);
	assert_int_equal(r2.http_status, 201);
	assert_string_equal(r2.json, r1.json);
	assert_string_equal(r2.cancel_token, r1.cancel_token);
	assert_int_equal(r2.appt.id, r1.appt.id);
	booking_result_free(&r2);
	assert_int_equal(booking_create(db, conf, &q, utc(2030, 1, 15, 7, 0), &r2), BOOKING_OK);
	assert_string_equal(r2.json, r1.json);
	booking_result_free(&r2);
	assert_int_equal(count_doctor(doc), 1);
	/* The same key with another body: 422, nothing booked. */
	q.patient_name = "Max Mustermann";
	assert_int_equal(booking_create(db, conf, &q, NOW, &r3), BOOKING_KEY_REUSED);
	assert_int_equal(r3.http_status, 422);
	assert_non_null(strstr(r3.json, "idempotency_key_reused"));
	booking_result_free(&r3);
	q.patient_name = "Erika Mustermann";
	q.start = local(2030, 1, 15, 10, 0);
	assert_int_equal(booking_create(db, conf, &q, NOW, &r3), BOOKING_KEY_REUSED);
	booking_result_free(&r3);
	assert_int_equal(count_doctor(doc), 1);
	/* A 409 is stored too: another key on the taken slot, repeated, gives the same 409. */
	snprintf(key, sizeof(key), "key-%s-2", uniq);
	q = request(doc, local(2030, 1, 15, 9, 0));
	q.patient_name = "Max Mustermann";
	q.idempotency_key = key;
	assert_int_equal(booking_create(db, conf, &q, NOW, &r2), BOOKING_CONFLICT);
	assert_int_equal(r2.replayed, 0);
	assert_int_equal(booking_create(db, conf, &q, NOW, &r3), BOOKING_CONFLICT);
	assert_int_equal(r3.replayed, 1);
	assert_int_equal(r3.http_status, 409);
	assert_string_equal(r3.json, r2.json);
	booking_result_free(&r2);
	booking_result_free(&r3);
	/* A 400 is not stored: the corrected request with the same key books. */
	snprintf(key, sizeof(key), "key-%s-3", uniq);
	q = request(doc, local(2030, 1, 15, 11, 0));
	q.idempotency_key = key;
	q.patient_email = "falsch";
	assert_int_equal(booking_create(db, conf, &q, NOW, &r2), BOOKING_INVALID);
	booking_result_free(&r2);
	assert_int_equal(booking_create(db, conf, &q, NOW, &r2), BOOKING_INVALID);
	assert_int_equal(r2.replayed, 0);
	booking_result_free(&r2);
	booking_result_free(&r1);
	assert_int_equal(count_doctor(doc), 1);
}

/* ------------------------------------------------------------------ races */

struct racer {
	pthread_barrier_t *bar;
	long long doctor;
	struct civil start;
	const char *key;
	enum booking_status status;
	int http;
	char *json;
	char err[256];
};

static void *race_one(void *arg)
{
	struct racer *x = arg;
	struct conf *c = make_conf();
	struct booking_request q = request(x->doctor, x->start);
	struct booking_result r;
	struct db *d;

	d = db_connect(c, x->err, sizeof(x->err));
	pthread_barrier_wait(x->bar);
	if (!d) {
		x->status = BOOKING_STATUS_MAX;
		conf_free(c);
		return NULL;
	}
	q.idempotency_key = x->key;
	x->status = booking_create(d, c, &q, NOW, &r);
	x->http = r.http_status;
	x->json = r.json;
	r.json = NULL;
	booking_result_free(&r);
	db_close(d);
	conf_free(c);
	return NULL;
}

static void run_race(long long doc, struct civil start, const char *key, size_t n,
		     struct racer *rs)
{
	pthread_barrier_t bar;
	pthread_t th[32];
	size_t i;

	assert_true(n <= TF_ARRAY_LEN(th));
	assert_int_equal(pthread_barrier_init(&bar, NULL, (unsigned)n), 0);
	for (i = 0; i < n; i++) {
		memset(&rs[i], 0, sizeof(rs[i]));
		rs[i].bar = &bar;
		rs[i].doctor = doc;
		rs[i].start = start;
		rs[i].key = key;
		assert_int_equal(pthread_create(&th[i], NULL, race_one, &rs[i]), 0);
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	for (i = 0; i < n; i++)
		if (rs[i].status == BOOKING_STATUS_MAX)
			fail_msg("thread %zu could not connect: %s", i, rs[i].err);
}

static void race_twenty_for_one_slot(void **state)
{
	long long doc = new_doctor("race");
	struct racer rs[20];
	size_t i, ok = 0, conflict = 0;

	(void)state;
	run_race(doc, local(2030, 1, 18, 9, 0), NULL, 20, rs);
	for (i = 0; i < 20; i++) {
		if (rs[i].status == BOOKING_OK && rs[i].http == 201)
			ok++;
		else if (rs[i].status == BOOKING_CONFLICT && rs[i].http == 409)
			conflict++;
		else
			print_message("# thread %zu: status %d http %d\n", i, rs[i].status, rs[i].http);
		free(rs[i].json);
	}
	assert_int_equal(ok, 1);
	assert_int_equal(conflict, 19);
	assert_int_equal(count_at(doc, utc(2030, 1, 18, 8, 0)), 1);
	assert_int_equal(count_doctor(doc), 1);
}

static void race_ten_with_one_key(void **state)
{
	long long doc = new_doctor("racekey");
	struct racer rs[10];
	char key[64];
	size_t i;

	(void)state;
	snprintf(key, sizeof(key), "race-key-%s", uniq);
	run_race(doc, local(2030, 1, 18, 11, 0), key, 10, rs);
	for (i = 0; i < 10; i++) {
		assert_int_equal(rs[i].status, BOOKING_OK);
		assert_int_equal(rs[i].http, 201);
		assert_non_null(rs[i].json);
		assert_string_equal(rs[i].json, rs[0].json);
	}
	for (i = 0; i < 10; i++)
		free(rs[i].json);
	assert_int_equal(count_doctor(doc), 1);
}

/* ------------------------------------------------------------------ cancel, reschedule */

static void cancel_by_token_twice(void **state)
{
	long long doc = new_doctor("cancel"), id;
	struct booking_result r;
	struct appointment a;
	struct raw w;
	char tok[BOOKING_TOKEN_MAX], buf[256];

	(void)state;
	id = book_ok(doc, local(2030, 1, 15, 9, 0), tok, sizeof(tok));
	assert_int_equal(booking_cancel_by_token(db, conf, tok, NOW, &r), BOOKING_OK);
	assert_int_equal(r.http_status, 200);
	assert_int_equal(r.appt.id, id);
	assert_string_equal(r.appt.status, "cancelled");
	booking_result_free(&r);
	assert_int_equal(booking_cancel_by_token(db, conf, tok, NOW, &r), BOOKING_GONE);
	assert_int_equal(r.http_status, 410);
	assert_true(strlen(r.message) > 5);
	booking_result_free(&r);
	raw_of(id, &w);
	free(w.encrypted);
	assert_string_equal(w.status, "cancelled");
	assert_string_equal(w.cancelled_by, "patient");
	outbox_of(id, buf, sizeof(buf));
	assert_string_equal(buf, "create,cancel");
	mails_of(id, buf, sizeof(buf));
	assert_string_equal(buf, "confirmation:0,cancellation:0");
	assert_int_equal(appointment_by_id(db, id, &a), 1);
	assert_string_equal(a.status, "cancelled");
	/* The slot is free again. */
	book_ok(doc, local(2030, 1, 15, 9, 0), NULL, 0);
	/* Unknown and malformed tokens. */
	assert_int_equal(booking_cancel_by_token(db, conf, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
						 NOW, &r), BOOKING_NOT_FOUND);
	assert_int_equal(r.http_status, 404);
	booking_result_free(&r);
	assert_int_equal(booking_cancel_by_token(db, conf, "../../etc", NOW, &r), BOOKING_NOT_FOUND);
	booking_result_free(&r);
	assert_int_equal(booking_cancel_by_token(db, conf, NULL, NOW, &r), BOOKING_NOT_FOUND);
	booking_result_free(&r);
	/* An appointment that has begun cannot be cancelled. */
	id = book_ok(doc, local(2030, 1, 15, 10, 0), tok, sizeof(tok));
	assert_int_equal(booking_cancel_by_token(db, conf, tok, utc(2030, 1, 15, 9, 10), &r),
			 BOOKING_GONE);
	booking_result_free(&r);
}

static void cancel_by_doctor(void **state)
{
	long long doc = new_doctor("dcancel"), other = new_doctor("dother"), id;
	struct booking_result r;
	struct raw w;
	char buf[128];

	(void)state;
	id = book_ok(doc, local(2030, 1, 15, 9, 0), NULL, 0);
	assert_int_equal(booking_cancel_by_doctor(db, conf, other, id, NOW, &r), BOOKING_NOT_FOUND);
	assert_int_equal(r.http_status, 404);
	booking_result_free(&r);
	raw_of(id, &w);
	free(w.encrypted);
	assert_string_equal(w.status, "confirmed");
	assert_int_equal(booking_cancel_by_doctor(db, conf, doc, 987654321, NOW, &r),
			 BOOKING_NOT_FOUND);
	booking_result_free(&r);
	assert_int_equal(booking_cancel_by_doctor(db, conf, doc, id, NOW, &r), BOOKING_OK);
	booking_result_free(&r);
	raw_of(id, &w);
	free(w.encrypted);
	assert_string_equal(w.status, "cancelled");
	assert_string_equal(w.cancelled_by, "doctor");
	outbox_of(id, buf, sizeof(buf));
	assert_string_equal(buf, "create,cancel");
	assert_int_equal(booking_cancel_by_doctor(db, conf, doc, id, NOW, &r), BOOKING_GONE);
	booking_result_free(&r);
}

static void reschedule(void **state)
{
	long long doc = new_doctor("move"), other = new_doctor("moveother"), id;
	struct civil to = local(2030, 1, 15, 11, 0), taken = local(2030, 1, 15, 14, 0);
	struct booking_result r;
	struct raw w;
	char buf[256];
	json_t *j;

	(void)state;
	id = book_ok(doc, local(2030, 1, 15, 9, 0), NULL, 0);
	book_ok(doc, taken, NULL, 0);
	assert_int_equal(db_exec(db, STMT_TEST_BOOKING_SET_REMINDED, DB_ARGS(DBP_INT(id)), NULL, NULL),
			 TF_OK);
	/* Not the other doctor's. */
	assert_int_equal(booking_reschedule(db, conf, other, id, &to, NOW, &r), BOOKING_NOT_FOUND);
	booking_result_free(&r);
	/* To a free time (more than 24 h ahead: the reminder will be sent again). */
	assert_int_equal(booking_reschedule(db, conf, doc, id, &to, NOW, &r), BOOKING_OK);
	assert_int_equal(r.http_status, 200);
	assert_int_equal(r.appt.start, utc(2030, 1, 15, 10, 0));
	assert_int_equal(r.appt.reschedule_count, 1);
	j = json_loads(r.json, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_str(j, "start"), "2030-01-15T11:00");
	assert_string_equal(json_str(j, "end"), "2030-01-15T11:30");
	json_decref(j);
	booking_result_free(&r);
	raw_of(id, &w);
	free(w.encrypted);
	assert_string_equal(w.start, "2030-01-15 10:00");
	assert_string_equal(w.end, "2030-01-15 10:30");
	assert_int_equal(w.reschedules, 1);
	assert_false(w.reminded);
	outbox_of(id, buf, sizeof(buf));
	assert_string_equal(buf, "create,reschedule");
	mails_of(id, buf, sizeof(buf));
	assert_string_equal(buf, "confirmation:0,reschedule:1");
	/* The old time is free again. */
	assert_int_equal(count_at(doc, utc(2030, 1, 15, 8, 0)), 0);
	/* Onto a taken time: 409 and nothing changed. */
	assert_int_equal(booking_reschedule(db, conf, doc, id, &taken, NOW, &r), BOOKING_CONFLICT);
	assert_int_equal(r.http_status, 409);
	assert_non_null(strstr(r.json, "slot_taken"));
	booking_result_free(&r);
	raw_of(id, &w);
	free(w.encrypted);
	assert_string_equal(w.start, "2030-01-15 10:00");
	assert_int_equal(w.reschedules, 1);
	outbox_of(id, buf, sizeof(buf));
	assert_string_equal(buf, "create,reschedule");
	/* Overlapping its own current time is fine (it ignores itself); a second move is seq 2. */
	to = local(2030, 1, 15, 11, 15);
	assert_int_equal(booking_reschedule(db, conf, doc, id, &to, NOW, &r), BOOKING_OK);
	booking_result_free(&r);
	mails_of(id, buf, sizeof(buf));
	assert_string_equal(buf, "confirmation:0,reschedule:1,reschedule:2");
	/* Bad times. */
	to = local(2030, 3, 31, 2, 15);
	assert_int_equal(booking_reschedule(db, conf, doc, id, &to, NOW, &r), BOOKING_INVALID);
	assert_string_equal(r.field, "start");
	booking_result_free(&r);
	to = local(2030, 1, 6, 9, 0);
	assert_int_equal(booking_reschedule(db, conf, doc, id, &to, NOW, &r), BOOKING_INVALID);
	booking_result_free(&r);
	to = local(2030, 1, 15, 11, 15);
	assert_int_equal(booking_reschedule(db, conf, doc, id, &to, NOW, &r), BOOKING_INVALID);
	booking_result_free(&r);
	to = local(2030, 1, 19, 9, 0);   /* Saturday */
	assert_int_equal(booking_reschedule(db, conf, doc, id, &to, NOW, &r), BOOKING_CONFLICT);
	booking_result_free(&r);
	/* Within 24 h the reminder mark stays. */
	assert_int_equal(db_exec(db, STMT_TEST_BOOKING_SET_REMINDED, DB_ARGS(DBP_INT(id)), NULL, NULL),
			 TF_OK);
	to = local(2030, 1, 15, 15, 0);
	assert_int_equal(booking_reschedule(db, conf, doc, id, &to, utc(2030, 1, 14, 16, 0), &r),
			 BOOKING_OK);
	booking_result_free(&r);
	raw_of(id, &w);
	free(w.encrypted);
	assert_true(w.reminded);
	assert_int_equal(w.reschedules, 3);
	/* A cancelled appointment cannot be moved. */
	assert_int_equal(booking_cancel_by_doctor(db, conf, doc, id, NOW, &r), BOOKING_OK);
	booking_result_free(&r);
	to = local(2030, 1, 16, 9, 0);
	assert_int_equal(booking_reschedule(db, conf, doc, id, &to, NOW, &r), BOOKING_GONE);
	booking_result_free(&r);
}

/* ------------------------------------------------------------------ practice */

static void practice_settings(void **state)
{
	long long doc = new_doctor("prax"), other = new_doctor("praxother"), sid = 0, cid = 0, x;
	struct practice_interval iv[3] = { { 480, 720 }, { 700, 800 }, { 900, 960 } };
	struct practice_profile p = { "Praxis Dr. Test", "Hauptstr. 1\n10115 Berlin", "by",
				      "Europe/Berlin" };
	struct practice_service s, *list = NULL;
	struct practice_closure *cl = NULL;
	struct practice_week w;
	struct practice_err e;
	struct civil a, b;
	struct doctor d;
	char longtext[300];
	long n;

	(void)state;
	/* Profile. */
	assert_int_equal(practice_profile_update(db, doc, &p, &e), TF_OK);
	assert_int_equal(doctor_by_id(db, doc, &d), 1);
	assert_string_equal(d.practice_name, "Praxis Dr. Test");
	assert_string_equal(d.practice_address, "Hauptstr. 1\n10115 Berlin");
	assert_string_equal(d.bundesland, "BY");
	p.bundesland = "XX";
	assert_int_equal(practice_profile_update(db, doc, &p, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "bundesland");
	p.bundesland = "BE";
	p.timezone = "Mars/Olympus";
	assert_int_equal(practice_profile_update(db, doc, &p, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "timezone");
	p.timezone = "Europe/Berlin";
	memset(longtext, 'x', 201);
	longtext[201] = '\0';
	p.practice_name = longtext;
	assert_int_equal(practice_profile_update(db, doc, &p, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "practice_name");
	p.practice_name = "Praxis";
	p.practice_address = "Zeile\x07";
	assert_int_equal(practice_profile_update(db, doc, &p, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "practice_address");
	p.practice_address = "";
	assert_int_equal(practice_profile_update(db, 999999999, &p, &e), TF_ERR_NOTFOUND);
	assert_int_equal(doctor_by_id(db, doc, &d), 1);
	assert_string_equal(d.bundesland, "BY");   /* unchanged by the refused updates */

	/* Opening hours: overlapping refused and nothing changed; a valid day replaces only that day. */
	assert_int_equal(practice_hours_set_day(db, doc, 2, iv, 3, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "hours");
	assert_non_null(strstr(e.message, "Dienstag"));
	assert_int_equal(practice_hours_get(db, doc, &w), TF_OK);
	assert_int_equal(w.n[1], 2);
	iv[1] = (struct practice_interval){ 780, 840 };
	assert_int_equal(practice_hours_set_day(db, doc, 2, iv, 3, &e), TF_OK);
	assert_int_equal(practice_hours_get(db, doc, &w), TF_OK);
	assert_int_equal(w.n[1], 3);
	assert_int_equal(w.day[1][1].start, 780);
	assert_int_equal(w.n[0], 2);
	assert_int_equal(w.n[5], 0);
	/* The whole week: Saturday opens, Monday closes. */
	w.n[0] = 0;
	w.day[5][0] = (struct practice_interval){ 540, 780 };
	w.n[5] = 1;
	assert_int_equal(practice_hours_set_week(db, doc, &w, &e), TF_OK);
	assert_int_equal(practice_hours_get(db, doc, &w), TF_OK);
	assert_int_equal(w.n[0], 0);
	assert_int_equal(w.n[5], 1);
	assert_int_equal(w.day[5][0].end, 780);
	/* Saturday 2030-01-19 is now bookable, Monday 2030-01-14 not (Bayern: no holiday then). */
	book_ok(doc, local(2030, 1, 19, 9, 0), NULL, 0);
	expect_conflict(doc, local(2030, 1, 14, 9, 0));
	w.day[6][0] = (struct practice_interval){ 600, 1500 };
	w.n[6] = 1;
	assert_int_equal(practice_hours_set_week(db, doc, &w, &e), TF_ERR_INVALID);
	assert_non_null(strstr(e.message, "Sonntag"));
	assert_int_equal(practice_hours_set_day(db, 999999999, 1, iv, 1, &e), TF_ERR_NOTFOUND);

	/* Closures. */
	a = local(2030, 2, 10, 0, 0);
	b = local(2030, 2, 9, 0, 0);
	assert_int_equal(practice_closure_add(db, doc, &a, &b, "", &cid, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "end_date");
	b = local(2032, 2, 10, 0, 0);   /* two years and a day */
	assert_int_equal(practice_closure_add(db, doc, &a, &b, "", &cid, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "end_date");
	assert_non_null(strstr(e.message, "zwei Jahre"));
	b = local(2032, 2, 9, 0, 0);    /* exactly two years: allowed */
	assert_int_equal(practice_closure_add(db, doc, &a, &b, "Sabbatical", &x, &e), TF_OK);
	assert_int_equal(practice_closure_delete(db, doc, x), TF_OK);
	b = local(2030, 2, 31, 0, 0);
	assert_int_equal(practice_closure_add(db, doc, &a, &b, "", &cid, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "end_date");
	b = local(2030, 2, 14, 0, 0);
	assert_int_equal(practice_closure_add(db, doc, &a, &b, longtext, &cid, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "reason");
	assert_int_equal(practice_closure_add(db, doc, &a, &b, " Urlaub ", &cid, &e), TF_OK);
	a = local(2030, 1, 1, 0, 0);
	b = local(2030, 1, 2, 0, 0);
	assert_int_equal(practice_closure_add(db, doc, &a, &b, "Vorbei", &x, &e), TF_OK);
	a = local(2030, 1, 10, 0, 0);
	n = practice_closures_upcoming(db, doc, &a, 10, &cl);
	assert_int_equal(n, 1);
	assert_int_equal(cl[0].id, cid);
	assert_int_equal(cl[0].start.day, 10);
	assert_int_equal(cl[0].end.day, 14);
	assert_string_equal(cl[0].reason, "Urlaub");
	free(cl);
	assert_int_equal(practice_closure_delete(db, other, cid), TF_ERR_NOTFOUND);
	assert_int_equal(practice_closure_delete(db, doc, cid), TF_OK);
	assert_int_equal(practice_closure_delete(db, doc, cid), TF_ERR_NOTFOUND);

	/* Services. */
	memset(&s, 0, sizeof(s));
	str_copy(s.name, "Videosprechstunde", sizeof(s.name));
	s.duration = 20;
	s.buffer_after = 10;
	s.is_video = 1;
	assert_int_equal(practice_service_add(db, doc, &s, &sid, &e), TF_OK);
	assert_true(sid > 0);
	assert_int_equal(practice_service_add(db, doc, &s, &x, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "name");
	str_copy(s.name, "  SPRECHSTUNDE ", sizeof(s.name));
	assert_int_equal(practice_service_add(db, doc, &s, &x, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "name");
	/* The other doctor has a "Sprechstunde" of its own; a name new to it is fine. */
	assert_int_equal(practice_service_add(db, other, &s, &x, &e), TF_ERR_INVALID);
	str_copy(s.name, "Videosprechstunde", sizeof(s.name));
	assert_int_equal(practice_service_add(db, other, &s, &x, &e), TF_OK);
	s.duration = 3;
	assert_int_equal(practice_service_add(db, doc, &s, &x, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "duration_minutes");
	/* Update: renaming onto another service's name is refused; its own name is fine. */
	s.id = sid;
	s.duration = 25;
	str_copy(s.name, "sprechstunde", sizeof(s.name));
	assert_int_equal(practice_service_update(db, doc, &s, &e), TF_ERR_INVALID);
	assert_string_equal(e.field, "name");
	str_copy(s.name, "Videosprechstunde", sizeof(s.name));
	assert_int_equal(practice_service_update(db, doc, &s, &e), TF_OK);
	assert_int_equal(practice_service_update(db, other, &s, &e), TF_ERR_NOTFOUND);
	assert_int_equal(practice_service_by_id(db, doc, sid, &s), 1);
	assert_int_equal(s.duration, 25);
	assert_int_equal(s.buffer_after, 10);
	assert_true(s.is_video);
	assert_true(s.active);
	n = practice_services_list(db, doc, 0, &list);
	assert_int_equal(n, 2);
	free(list);
	/* Deactivated: listed only with inactive ones, and not bookable. */
	assert_int_equal(practice_service_set_active(db, other, sid, 0), TF_ERR_NOTFOUND);
	assert_int_equal(practice_service_set_active(db, doc, sid, 0), TF_OK);
	n = practice_services_list(db, doc, 0, &list);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "Sprechstunde");
	free(list);
	n = practice_services_list(db, doc, 1, &list);
	assert_int_equal(n, 2);
	free(list);
	{
		struct booking_request q = request(doc, local(2030, 1, 15, 9, 0));
		struct booking_result r;

		q.service = "Videosprechstunde";
		q.duration = 0;
		assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_INVALID);
		assert_string_equal(r.field, "service");
		booking_result_free(&r);
		assert_int_equal(practice_service_set_active(db, doc, sid, 1), TF_OK);
		assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_OK);
		assert_int_equal(r.appt.end - r.appt.start, 25 * 60);
		assert_int_equal(r.appt.buffer_after, 10);
		assert_true(r.appt.is_video);
		booking_result_free(&r);
		/* With two active services, one must be named. */
		q.service = NULL;
		q.start = local(2030, 1, 15, 10, 0);
		assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_INVALID);
		assert_string_equal(r.field, "service");
		booking_result_free(&r);
		/* The buffer after the video appointment (09:00–09:25 + 10) blocks 09:30. */
		q.service = "Sprechstunde";
		q.start = local(2030, 1, 15, 9, 30);
		assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_CONFLICT);
		booking_result_free(&r);
		q.start = local(2030, 1, 15, 9, 45);
		assert_int_equal(booking_create(db, conf, &q, NOW, &r), BOOKING_OK);
		booking_result_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest offline[] = {
		cmocka_unit_test(hours_parse_and_check),
		cmocka_unit_test(text_and_service_checks),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hours_parse_and_check),
		cmocka_unit_test(text_and_service_checks),
		cmocka_unit_test(booking_winter_and_summer),
		cmocka_unit_test(booking_by_slug_and_default_service),
		cmocka_unit_test(validation_names_the_field),
		cmocka_unit_test(taken_slot_conflicts),
		cmocka_unit_test(busy_block_conflicts),
		cmocka_unit_test(closure_and_holiday_conflict),
		cmocka_unit_test(idempotency_key),
		cmocka_unit_test(race_twenty_for_one_slot),
		cmocka_unit_test(race_ten_with_one_key),
		cmocka_unit_test(cancel_by_token_twice),
		cmocka_unit_test(cancel_by_doctor),
		cmocka_unit_test(reschedule),
		cmocka_unit_test(practice_settings),
	};
	const char *sock = getenv("TF_DB_SOCKET");
	int rc;

	log_init("test_booking", 0, LOG_LVL_WARN);
	if (crypto_init() != TF_OK)
		return 1;
	if (!sock || !*sock) {
		printf("# TF_DB_SOCKET not set: database tests skipped "
		       "(tests/integration/test_booking.sh runs them)\n");
		return cmocka_run_group_tests_name("booking-offline", offline, NULL, NULL) ? 1 : 0;
	}
	snprintf(uniq, sizeof(uniq), "%ld%ld", (long)time(NULL) % 100000, (long)getpid());
	fernet_generate_key(enc_key);
	NOW = utc(2030, 1, 7, 6, 0);
	conf = make_conf();
	rc = cmocka_run_group_tests_name("booking", tests, setup, teardown);
	conf_free(conf);
	return rc ? 1 : 0;
}
