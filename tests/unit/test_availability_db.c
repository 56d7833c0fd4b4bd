/* test_availability_db.c: avail_doctor_day against a real MariaDB (TF_DB_SOCKET; run by
 * tests/integration/test_availability_db.sh): opening hours, closures, holidays of the doctor's
 * Bundesland, appointments with buffers, cancelled appointments, busy blocks, exclusion, DST. */
#include "config.h"

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

#include "availability.h"
#include "conf.h"
#include "crypto.h"
#include "db.h"
#include "doctor.h"
#include "log.h"
#include "util.h"

#define BERLIN "Europe/Berlin"

static struct conf *conf;
static struct db *db;
static struct doctor doc;
static long long appt_base;   /* ids of the fixture appointments: appt_base + 1, + 2 */

static time_t utc(int y, int mo, int d, int h, int mi)
{
	return (time_t)(civil_to_days(y, mo, d) * 86400L + h * 3600 + mi * 60);
}

/* Run trusted fixture SQL (built here from constants and integer ids only). */
static void fixture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fixture(const char *fmt, ...)
{
	char sql[4096], err[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(sql));
	if (db_exec_script(db, sql, strlen(sql), err, sizeof(err)) != TF_OK)
		fail_msg("fixture SQL failed: %s", err);
}

static void reload_doctor(void)
{
	assert_int_equal(doctor_by_id(db, doc.id, &doc), 1);
}

static int setup(void **state)
{
	char err[512], email[128], slug[64];
	long long id = 0;
	long uniq = (long)time(NULL) % 100000 * 100 + (long)getpid() % 100;

	(void)state;
	db = db_connect(conf, err, sizeof(err));
	if (!db) {
		fprintf(stderr, "db_connect: %s\n", err);
		return -1;
	}
	snprintf(email, sizeof(email), "avail-%ld@example.org", uniq);
	snprintf(slug, sizeof(slug), "avail-%ld", uniq);
	/* Mon-Fri 08:00-12:00 and 14:00-18:00, Europe/Berlin, service "Sprechstunde" 30 min */
	if (doctor_create(db, email, "Dr. Verfügbar", slug, "a long enough password", BERLIN, &id, err,
			  sizeof(err)) != TF_OK) {
		fprintf(stderr, "doctor_create: %s\n", err);
		return -1;
	}
	doc.id = id;
	appt_base = id * 1000;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	db_close(db);
	db = NULL;
	return 0;
}

/* Slots of a local date as "HH:MM HH:MM ...", or "ERROR". */
static const char *day_slots(int y, int m, int d, int duration, int step, int bb, int ba,
			     long long exclude)
{
	static char out[4096];
	struct civil date = { y, m, d, 0, 0 };
	struct avail_query q = {
		.duration = duration, .step = step, .buffer_before = bb, .buffer_after = ba, .lead = 120,
		.now = utc(2025, 12, 1, 0, 0),
	};
	time_t s[AVAIL_MAX_SLOTS];
	long n = avail_doctor_day(db, &doc, &date, &q, exclude, s, AVAIL_MAX_SLOTS);
	size_t pos = 0;

	if (n < 0)
		return "ERROR";
	out[0] = '\0';
	for (long i = 0; i < n; i++) {
		struct civil c;
		assert_int_equal(tz_utc_to_local(doc.timezone, s[i], &c), 0);
		assert_int_equal(c.day, d);
		pos += (size_t)snprintf(out + pos, sizeof(out) - pos, "%s%02d:%02d", i ? " " : "", c.hour,
					c.minute);
		assert_true(pos < sizeof(out));
	}
	return out;
}

#define FULL_DAY_30 "08:00 08:30 09:00 09:30 10:00 10:30 11:00 11:30 " \
	"14:00 14:30 15:00 15:30 16:00 16:30 17:00 17:30"

static void plain_days(void **state)
{
	(void)state;
	reload_doctor();
	assert_string_equal(doc.bundesland, "BE");   /* the schema's default */
	assert_string_equal(day_slots(2026, 11, 23, 30, 30, 0, 0, 0), FULL_DAY_30);   /* Monday */
	assert_string_equal(day_slots(2026, 11, 28, 30, 30, 0, 0, 0), "");           /* Saturday */
	assert_string_equal(day_slots(2026, 11, 29, 30, 30, 0, 0, 0), "");           /* Sunday */
	/* a 60-minute service at a 60-minute step */
	assert_string_equal(day_slots(2026, 11, 23, 60, 60, 0, 0, 0),
			    "08:00 09:00 10:00 11:00 14:00 15:00 16:00 17:00");
}

static void closures(void **state)
{
	(void)state;
	fixture("INSERT INTO closures (doctor_id, start_date, end_date, reason)"
		" VALUES (%lld, '2026-11-25', '2026-11-26', 'Fortbildung');", doc.id);
	assert_string_equal(day_slots(2026, 11, 24, 30, 30, 0, 0, 0), FULL_DAY_30);
	assert_string_equal(day_slots(2026, 11, 25, 30, 30, 0, 0, 0), "");
	assert_string_equal(day_slots(2026, 11, 26, 30, 30, 0, 0, 0), "");
	assert_string_equal(day_slots(2026, 11, 27, 30, 30, 0, 0, 0), FULL_DAY_30);
	/* another doctor's closure does not count */
	fixture("INSERT INTO closures (doctor_id, start_date, end_date) SELECT id, '2026-11-27', '2026-11-27'"
		" FROM doctors WHERE id <> %lld;", doc.id);
	assert_string_equal(day_slots(2026, 11, 27, 30, 30, 0, 0, 0), FULL_DAY_30);
}

static void appointments_and_busy_blocks(void **state)
{
	(void)state;
	/* Tue 2026-11-24 (UTC+1): 09:00-09:30 with 15 minutes before and after, so 08:45-09:45 is
	 * taken; a cancelled one at 10:00; a busy block 15:00-16:00 local */
	fixture("INSERT INTO appointments (id, doctor_id, service_name, start_utc, end_utc,"
		" buffer_before_minutes, buffer_after_minutes, patient_name, patient_email, status,"
		" cancel_token_hash) VALUES"
		" (%lld, %lld, 'Sprechstunde', '2026-11-24 08:00:00', '2026-11-24 08:30:00', 15, 15,"
		" 'Erika Mustermann', 'erika@example.org', 'confirmed', SHA2('a%lld', 256)),"
		" (%lld, %lld, 'Sprechstunde', '2026-11-24 09:00:00', '2026-11-24 09:30:00', 0, 0,"
		" 'Max Mustermann', 'max@example.org', 'cancelled', SHA2('b%lld', 256));"
		"INSERT INTO calendar_integrations (doctor_id, provider, account_email)"
		" VALUES (%lld, 'google', 'praxis@example.org');"
		"INSERT INTO busy_blocks (integration_id, doctor_id, external_id, start_utc, end_utc)"
		" SELECT id, doctor_id, 'ev-1', '2026-11-24 14:00:00', '2026-11-24 15:00:00'"
		" FROM calendar_integrations WHERE doctor_id = %lld;",
		appt_base + 1, doc.id, appt_base, appt_base + 2, doc.id, appt_base, doc.id, doc.id);
	assert_string_equal(day_slots(2026, 11, 24, 30, 15, 0, 0, 0),
			    "08:00 08:15 09:45 10:00 10:15 10:30 10:45 11:00 11:15 11:30 "
			    "14:00 14:15 14:30 16:00 16:15 16:30 16:45 17:00 17:15 17:30");
	/* the service's own buffers widen the new slot too */
	assert_string_equal(day_slots(2026, 11, 24, 30, 15, 10, 5, 0),
			    "08:00 10:00 10:15 10:30 10:45 11:00 11:15 11:30 "
			    "14:00 14:15 16:15 16:30 16:45 17:00 17:15 17:30");
	/* rescheduling that appointment: it does not block itself */
	assert_string_equal(day_slots(2026, 11, 24, 30, 30, 0, 0, appt_base + 1),
			    "08:00 08:30 09:00 09:30 10:00 10:30 11:00 11:30 14:00 14:30 16:00 16:30 17:00 17:30");
	/* the neighbouring days are untouched */
	assert_string_equal(day_slots(2026, 11, 23, 30, 30, 0, 0, 0), FULL_DAY_30);
	/* a busy block over midnight (Mon 23:00 - Tue 08:30 local) reaches into the morning */
	fixture("INSERT INTO busy_blocks (integration_id, doctor_id, external_id, start_utc, end_utc)"
		" SELECT id, doctor_id, 'ev-2', '2026-11-23 22:00:00', '2026-11-24 07:30:00'"
		" FROM calendar_integrations WHERE doctor_id = %lld;", doc.id);
	assert_string_equal(day_slots(2026, 11, 24, 30, 30, 0, 0, appt_base + 1),
			    "08:30 09:00 09:30 10:00 10:30 11:00 11:30 14:00 14:30 16:00 16:30 17:00 17:30");
}

static void holidays_of_the_state(void **state)
{
	(void)state;
	/* 25 Dec 2026 is a Friday: a holiday everywhere */
	assert_string_equal(day_slots(2026, 12, 25, 30, 30, 0, 0, 0), "");
	assert_string_equal(day_slots(2026, 12, 28, 30, 30, 0, 0, 0), FULL_DAY_30);
	/* 6 Jan 2026 (Tuesday): Heilige Drei Könige in Bayern, not in Berlin */
	assert_string_equal(day_slots(2026, 1, 6, 30, 30, 0, 0, 0), FULL_DAY_30);
	fixture("UPDATE doctors SET bundesland = 'BY' WHERE id = %lld;", doc.id);
	reload_doctor();
	assert_string_equal(day_slots(2026, 1, 6, 30, 30, 0, 0, 0), "");
	/* Fronleichnam (4 June 2026) in Bayern too */
	assert_string_equal(day_slots(2026, 6, 4, 30, 30, 0, 0, 0), "");
	/* an unknown state code: only nationwide holidays */
	fixture("UPDATE doctors SET bundesland = 'XX' WHERE id = %lld;", doc.id);
	reload_doctor();
	assert_string_equal(day_slots(2026, 1, 6, 30, 30, 0, 0, 0), FULL_DAY_30);
	assert_string_equal(day_slots(2026, 12, 25, 30, 30, 0, 0, 0), "");
	fixture("UPDATE doctors SET bundesland = 'BE' WHERE id = %lld;", doc.id);
	reload_doctor();
}

static void dst_day_from_the_database(void **state)
{
	(void)state;
	/* Sunday hours 00:00-06:00; 29 March 2026 has no 02:00-03:00, 25 October 2026 has it twice */
	fixture("INSERT INTO opening_hours (doctor_id, weekday, start_minute, end_minute)"
		" VALUES (%lld, 7, 0, 360);", doc.id);
	assert_string_equal(day_slots(2026, 3, 29, 60, 60, 0, 0, 0), "00:00 01:00 03:00 04:00 05:00");
	assert_string_equal(day_slots(2026, 10, 25, 60, 60, 0, 0, 0),
			    "00:00 01:00 02:00 03:00 04:00 05:00");
	assert_string_equal(day_slots(2026, 11, 1, 60, 60, 0, 0, 0),
			    "00:00 01:00 02:00 03:00 04:00 05:00");
}

static void lead_time_and_errors(void **state)
{
	struct civil date = { 2026, 11, 23, 0, 0 };
	struct avail_query q = { .duration = 30, .step = 30, .lead = 120 };
	time_t s[AVAIL_MAX_SLOTS];
	struct doctor bad;

	(void)state;
	/* now = Monday 07:30 local: the earliest start is 09:30 */
	q.now = utc(2026, 11, 23, 6, 30);
	assert_int_equal(avail_doctor_day(db, &doc, &date, &q, 0, s, AVAIL_MAX_SLOTS), 13);
	assert_int_equal(s[0], utc(2026, 11, 23, 8, 30));
	/* a doctor with a broken time zone is an error, not an empty day */
	bad = doc;
	str_copy(bad.timezone, "Mars/Olympus", sizeof(bad.timezone));
	assert_int_equal(avail_doctor_day(db, &bad, &date, &q, 0, s, AVAIL_MAX_SLOTS), -1);
	date.day = 31;
	assert_int_equal(avail_doctor_day(db, &doc, &date, &q, 0, s, AVAIL_MAX_SLOTS), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_days),
		cmocka_unit_test(closures),
		cmocka_unit_test(appointments_and_busy_blocks),
		cmocka_unit_test(holidays_of_the_state),
		cmocka_unit_test(dst_day_from_the_database),
		cmocka_unit_test(lead_time_and_errors),
	};
	const char *sock = getenv("TF_DB_SOCKET");
	int rc;

	log_init("test_availability_db", 0, LOG_LVL_ERROR);
	if (!sock || !*sock) {
		printf("1..0 # SKIP TF_DB_SOCKET not set (tests/integration/test_availability_db.sh sets it)\n");
		return 0;
	}
	if (crypto_init() != TF_OK)
		return 1;
	conf = conf_new();
	rc = cmocka_run_group_tests_name("availability_db", tests, setup, teardown);
	conf_free(conf);
	return rc ? 1 : 0;
}
