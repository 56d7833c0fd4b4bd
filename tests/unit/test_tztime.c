/* test_tztime.c: DST gaps and repeated hours in Europe/Berlin, agreement with glibc over many zones,
 * civil date arithmetic, strict parsers and formatters. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tztime.h"
#include "util.h"

#define BERLIN "Europe/Berlin"

static time_t utc(int y, int mo, int d, int h, int mi)
{
	return (time_t)(civil_to_days(y, mo, d) * 86400L + h * 3600 + mi * 60);
}

static int to_utc(const char *tz, int y, int mo, int d, int h, int mi, time_t *out)
{
	struct civil c = { y, mo, d, h, mi };
	return tz_local_to_utc(tz, &c, out);
}

static void berlin_march_gap(void **state)
{
	time_t t;
	(void)state;
	/* last Sunday of March 2026 (29th) and 2025 (30th): 02:00..02:59 do not exist */
	assert_int_equal(to_utc(BERLIN, 2026, 3, 29, 2, 30, &t), -1);
	assert_int_equal(to_utc(BERLIN, 2026, 3, 29, 2, 0, &t), -1);
	assert_int_equal(to_utc(BERLIN, 2026, 3, 29, 2, 59, &t), -1);
	assert_int_equal(to_utc(BERLIN, 2025, 3, 30, 2, 30, &t), -1);
	assert_int_equal(to_utc(BERLIN, 2026, 3, 29, 1, 59, &t), 0);
	assert_int_equal(t, utc(2026, 3, 29, 0, 59));
	assert_int_equal(to_utc(BERLIN, 2026, 3, 29, 3, 0, &t), 0);
	assert_int_equal(t, utc(2026, 3, 29, 1, 0));
	/* a week earlier 02:30 exists (winter time) */
	assert_int_equal(to_utc(BERLIN, 2026, 3, 22, 2, 30, &t), 0);
	assert_int_equal(t, utc(2026, 3, 22, 1, 30));
}

static void berlin_october_repeat(void **state)
{
	time_t t;
	struct civil c;
	(void)state;
	/* 2026-10-25: 02:30 happens twice; the first (summer time, 00:30Z) is chosen */
	assert_int_equal(to_utc(BERLIN, 2026, 10, 25, 2, 30, &t), 0);
	assert_int_equal(t, utc(2026, 10, 25, 0, 30));
	assert_int_equal(to_utc(BERLIN, 2025, 10, 26, 2, 30, &t), 0);
	assert_int_equal(t, utc(2025, 10, 26, 0, 30));
	assert_int_equal(to_utc(BERLIN, 2026, 10, 25, 2, 0, &t), 0);
	assert_int_equal(t, utc(2026, 10, 25, 0, 0));
	assert_int_equal(to_utc(BERLIN, 2026, 10, 25, 3, 0, &t), 0);
	assert_int_equal(t, utc(2026, 10, 25, 2, 0));
	/* both instants of the repeated hour show as 02:30 */
	assert_int_equal(tz_utc_to_local(BERLIN, utc(2026, 10, 25, 0, 30), &c), 0);
	assert_int_equal(c.hour * 100 + c.minute, 230);
	assert_int_equal(tz_utc_to_local(BERLIN, utc(2026, 10, 25, 1, 30), &c), 0);
	assert_int_equal(c.hour * 100 + c.minute, 230);
	assert_int_equal(c.day, 25);
	/* the March day is 23 hours long, the October day 25 */
	time_t a, b;
	assert_int_equal(to_utc(BERLIN, 2026, 3, 29, 0, 0, &a), 0);
	assert_int_equal(to_utc(BERLIN, 2026, 3, 30, 0, 0, &b), 0);
	assert_int_equal(b - a, 23 * 3600);
	assert_int_equal(to_utc(BERLIN, 2026, 10, 25, 0, 0, &a), 0);
	assert_int_equal(to_utc(BERLIN, 2026, 10, 26, 0, 0, &b), 0);
	assert_int_equal(b - a, 25 * 3600);
}

static void berlin_round_trips(void **state)
{
	(void)state;
	/* every 15 minutes through 2026 and the far future (footer rule): UTC -> local -> UTC */
	for (time_t t = utc(2026, 1, 1, 0, 0); t < utc(2027, 1, 1, 0, 0); t += 900) {
		struct civil c;
		time_t back;
		assert_int_equal(tz_utc_to_local(BERLIN, t, &c), 0);
		assert_int_equal(tz_local_to_utc(BERLIN, &c, &back), 0);
		/* only the second instance of the October hour maps to an earlier instant */
		if (back != t) {
			assert_int_equal(back, t - 3600);
			assert_int_equal(c.month, 10);
			assert_int_equal(c.hour, 2);
		}
	}
	struct civil c;
	assert_int_equal(tz_utc_to_local(BERLIN, utc(2090, 7, 1, 10, 0), &c), 0);
	assert_int_equal(c.hour, 12);
	assert_int_equal(tz_utc_to_local(BERLIN, utc(2090, 12, 1, 10, 0), &c), 0);
	assert_int_equal(c.hour, 11);
	time_t t;
	assert_int_equal(to_utc(BERLIN, 2090, 3, 26, 2, 30, &t), -1);   /* last Sunday of March 2090 */
	assert_int_equal(to_utc("UTC", 2026, 3, 29, 2, 30, &t), 0);
	assert_int_equal(t, utc(2026, 3, 29, 2, 30));
}

/* Our reader against glibc's localtime_r for many zones and instants (TZ switched in the test only). */
static void agrees_with_glibc(void **state)
{
	static const char *const zones[] = {
		"Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Sao_Paulo",
		"Asia/Kolkata", "Pacific/Chatham", "Europe/Dublin", "America/Santiago",
		"Africa/Casablanca", "Asia/Tehran", "Australia/Lord_Howe", "Antarctica/Troll",
		"Europe/London", "Pacific/Apia", "America/St_Johns", "Etc/GMT-14", "UTC",
	};
	const char *old = getenv("TZ");
	char *saved = old ? xstrdup(old) : NULL;
	uint64_t rnd = 0x9e3779b97f4a7c15ULL;
	long checked = 0;

	(void)state;
	for (size_t zi = 0; zi < TF_ARRAY_LEN(zones); zi++) {
		assert_int_equal(tz_valid(zones[zi]), 1);
		setenv("TZ", zones[zi], 1);
		tzset();
		for (int i = 0; i < 4000; i++) {
			struct tm tm;
			struct civil c;
			time_t t, back;
			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			/* 1970..2150 (after 2037 the zone files' footer rules), whole minutes */
			t = (time_t)(rnd % (180ULL * 365 * 86400)) / 60 * 60;
			assert_non_null(localtime_r(&t, &tm));
			assert_int_equal(tz_utc_to_local(zones[zi], t, &c), 0);
			if (tm.tm_gmtoff % 60 != 0)
				continue;   /* local mean time with seconds */
			assert_int_equal(c.year, tm.tm_year + 1900);
			assert_int_equal(c.month, tm.tm_mon + 1);
			assert_int_equal(c.day, tm.tm_mday);
			assert_int_equal(c.hour, tm.tm_hour);
			assert_int_equal(c.minute, tm.tm_min);
			/* and back: t, or an earlier instant with the same wall-clock time */
			assert_int_equal(tz_local_to_utc(zones[zi], &c, &back), 0);
			assert_true(back <= t && t - back <= 3 * 3600);
			if (back != t) {
				struct tm b2;
				localtime_r(&back, &b2);
				assert_int_equal(b2.tm_hour, tm.tm_hour);
				assert_int_equal(b2.tm_min, tm.tm_min);
				assert_int_equal(b2.tm_mday, tm.tm_mday);
			}
			checked++;
		}
		/* every hour across each year's changes 2024..2027 */
		for (time_t t = utc(2024, 1, 1, 0, 0); t < utc(2028, 1, 1, 0, 0); t += 1800) {
			struct tm tm;
			struct civil c;
			localtime_r(&t, &tm);
			assert_int_equal(tz_utc_to_local(zones[zi], t, &c), 0);
			assert_int_equal(c.hour * 60 + c.minute, tm.tm_hour * 60 + tm.tm_min);
			assert_int_equal(c.day, tm.tm_mday);
			checked++;
		}
	}
	if (saved) {
		setenv("TZ", saved, 1);
		free(saved);
	} else {
		unsetenv("TZ");
	}
	tzset();
	assert_true(checked > 50000);
}

static void zone_names(void **state)
{
	(void)state;
	assert_int_equal(tz_valid("Europe/Berlin"), 1);
	assert_int_equal(tz_valid("America/Argentina/Buenos_Aires"), 1);
	assert_int_equal(tz_valid("Etc/GMT+5"), 1);
	assert_int_equal(tz_valid("UTC"), 1);
	assert_int_equal(tz_valid("Europe/Nowhere"), 0);
	assert_int_equal(tz_valid("Europe"), 0);              /* a directory */
	assert_int_equal(tz_valid("../../../etc/passwd"), 0);
	assert_int_equal(tz_valid("Europe/../Europe/Berlin"), 0);
	assert_int_equal(tz_valid("/etc/localtime"), 0);
	assert_int_equal(tz_valid("Europe//Berlin"), 0);
	assert_int_equal(tz_valid("Europe/Berlin "), 0);
	assert_int_equal(tz_valid("zone.tab"), 0);
	assert_int_equal(tz_valid("right/Europe/Berlin"), 0);  /* leap seconds: refused */
	assert_int_equal(tz_valid(""), 0);
	assert_int_equal(tz_valid(NULL), 0);
	char longname[100];
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(tz_valid(longname), 0);
	time_t t;
	assert_int_equal(to_utc("Europe/Nowhere", 2026, 1, 1, 0, 0, &t), -1);
	struct civil c;
	assert_int_equal(tz_utc_to_local("../x", 0, &c), -1);
	/* more zones than the cache holds still work */
	static const char *const many[] = {
		"Europe/Paris", "Europe/Rome", "Europe/Madrid", "Europe/Vienna", "Europe/Zurich",
		"Europe/Prague", "Europe/Warsaw", "Europe/Lisbon", "Europe/Oslo", "Europe/Helsinki",
		"Europe/Athens", "Europe/Kyiv", "Asia/Tokyo", "Asia/Dubai", "America/Chicago",
		"America/Denver", "America/Los_Angeles", "Africa/Cairo", "Asia/Singapore",
	};
	for (size_t i = 0; i < TF_ARRAY_LEN(many); i++) {
		assert_int_equal(to_utc(many[i], 2026, 1, 15, 12, 0, &t), 0);
		assert_true(t > utc(2026, 1, 14, 23, 0) && t < utc(2026, 1, 16, 1, 0));
	}
	assert_int_equal(to_utc("Asia/Tokyo", 2026, 1, 15, 12, 0, &t), 0);
	assert_int_equal(t, utc(2026, 1, 15, 3, 0));
	/* invalid local times */
	assert_int_equal(to_utc(BERLIN, 2026, 2, 29, 12, 0, &t), -1);
	assert_int_equal(to_utc(BERLIN, 2026, 1, 1, 24, 0, &t), -1);
	assert_int_equal(to_utc(BERLIN, 2026, 1, 1, 12, 60, &t), -1);
}

static void today_in_zone(void **state)
{
	struct civil c;
	(void)state;
	/* 2026-03-28T23:30Z is already the 29th in Berlin, still the 28th in New York */
	assert_int_equal(tz_today(BERLIN, utc(2026, 3, 28, 23, 30), &c), 0);
	assert_int_equal(c.year * 10000 + c.month * 100 + c.day, 20260329);
	assert_int_equal(c.hour + c.minute, 0);
	assert_int_equal(tz_today("America/New_York", utc(2026, 3, 28, 23, 30), &c), 0);
	assert_int_equal(c.day, 28);
}

static void date_arithmetic(void **state)
{
	struct civil c = { 2026, 12, 31, 9, 15 };
	(void)state;
	civil_add_days(&c, 1);
	assert_int_equal(c.year * 10000 + c.month * 100 + c.day, 20270101);
	assert_int_equal(c.hour * 100 + c.minute, 915);
	civil_add_days(&c, -1);
	assert_int_equal(c.year * 10000 + c.month * 100 + c.day, 20261231);
	c = (struct civil){ 2024, 2, 28, 0, 0 };
	civil_add_days(&c, 1);
	assert_int_equal(c.month * 100 + c.day, 229);
	civil_add_days(&c, 1);
	assert_int_equal(c.month * 100 + c.day, 301);
	c = (struct civil){ 2100, 2, 28, 0, 0 };   /* 2100 is no leap year */
	civil_add_days(&c, 1);
	assert_int_equal(c.month * 100 + c.day, 301);
	c = (struct civil){ 2000, 2, 28, 0, 0 };   /* 2000 is */
	civil_add_days(&c, 1);
	assert_int_equal(c.month * 100 + c.day, 229);
	c = (struct civil){ 2026, 1, 31, 0, 0 };
	civil_add_days(&c, 365);
	assert_int_equal(c.year * 10000 + c.month * 100 + c.day, 20270131);
	c = (struct civil){ 2026, 11, 24, 0, 0 };
	civil_add_days(&c, 180);
	assert_int_equal(c.year * 10000 + c.month * 100 + c.day, 20270523);

	assert_int_equal(civil_to_days(1970, 1, 1), 0);
	assert_int_equal(civil_to_days(1969, 12, 31), -1);
	assert_int_equal(civil_to_days(2000, 3, 1), 11017);
	assert_int_equal(civil_to_days(1, 1, 1), -719162);
	for (long d = -800000; d < 3000000; d += 7) {
		struct civil x;
		civil_from_days(d, &x);
		assert_true(civil_date_valid(x.year, x.month, x.day) || x.year < 1 || x.year > 9999);
		assert_int_equal(civil_to_days(x.year, x.month, x.day), d);
	}
	struct civil w = { 2026, 11, 24, 0, 0 };   /* a Tuesday */
	assert_int_equal(civil_weekday(&w), 2);
	w = (struct civil){ 2026, 3, 29, 0, 0 };    /* a Sunday */
	assert_int_equal(civil_weekday(&w), 7);
	w = (struct civil){ 1970, 1, 1, 0, 0 };     /* a Thursday */
	assert_int_equal(civil_weekday(&w), 4);
	w = (struct civil){ 1969, 12, 29, 0, 0 };   /* a Monday */
	assert_int_equal(civil_weekday(&w), 1);

	assert_int_equal(civil_days_in_month(2024, 2), 29);
	assert_int_equal(civil_days_in_month(2025, 2), 28);
	assert_int_equal(civil_days_in_month(1900, 2), 28);
	assert_int_equal(civil_days_in_month(2026, 4), 30);
	assert_int_equal(civil_days_in_month(2026, 13), 0);
	assert_int_equal(civil_date_valid(2026, 2, 29), 0);
	assert_int_equal(civil_date_valid(2028, 2, 29), 1);
	assert_int_equal(civil_date_valid(2026, 4, 31), 0);
	assert_int_equal(civil_date_valid(2026, 0, 1), 0);
	assert_int_equal(civil_date_valid(2026, 1, 0), 0);
}

static void strict_parsers(void **state)
{
	struct civil c = { 0 };
	time_t t;
	(void)state;
	assert_int_equal(civil_parse_date("2026-11-24", &c), 0);
	assert_int_equal(c.year * 10000 + c.month * 100 + c.day, 20261124);
	assert_int_equal(civil_parse_date("2028-02-29", &c), 0);
	static const char *const bad_dates[] = {
		"2026-02-30", "2026-1-5", "2026-01-5", "2026-13-01", "2026-00-10", "2026-04-31",
		"2026-11-24 ", " 2026-11-24", "2026-11-24x", "2026/11/24", "20261124", "", "2026-11-2a",
		"+026-11-24", "0000-01-01", "2026-11-24T09:00",
	};
	for (size_t i = 0; i < TF_ARRAY_LEN(bad_dates); i++)
		assert_int_equal(civil_parse_date(bad_dates[i], &c), -1);
	assert_int_equal(civil_parse_date(NULL, &c), -1);

	assert_int_equal(civil_parse_datetime("2026-11-24T09:05", &c), 0);
	assert_int_equal(c.hour * 100 + c.minute, 905);
	assert_int_equal(civil_parse_datetime("2026-11-24T23:59", &c), 0);
	static const char *const bad_dt[] = {
		"2026-11-24T24:00", "2026-11-24T09:60", "2026-11-24 09:00", "2026-11-24T9:00",
		"2026-11-24T09:00:00", "2026-11-24T09:00Z", "2026-02-30T09:00", "2026-11-24", "",
		"2026-11-24T09-00",
	};
	for (size_t i = 0; i < TF_ARRAY_LEN(bad_dt); i++)
		assert_int_equal(civil_parse_datetime(bad_dt[i], &c), -1);

	assert_int_equal(utc_parse_sql("2026-11-24 08:00:00", &t), 0);
	assert_int_equal(t, utc(2026, 11, 24, 8, 0));
	assert_int_equal(utc_parse_sql("1970-01-01 00:00:01", &t), 0);
	assert_int_equal(t, 1);
	assert_int_equal(utc_parse_sql("2026-11-24 08:00:00.000000", &t), 0);
	assert_int_equal(t, utc(2026, 11, 24, 8, 0));
	static const char *const bad_sql[] = {
		"2026-11-24T08:00:00", "2026-11-24 08:00", "2026-11-24 08:00:60", "2026-11-24 08:00:00.",
		"2026-11-24 08:00:00x", "2026-02-30 08:00:00", "2026-11-24 08:00:00.1234567",
	};
	for (size_t i = 0; i < TF_ARRAY_LEN(bad_sql); i++)
		assert_int_equal(utc_parse_sql(bad_sql[i], &t), -1);
	assert_int_equal(utc_parse_sql(NULL, &t), -1);
}

static void formatters(void **state)
{
	char d[11], iso[21], sql[20];
	struct civil c = { 2026, 3, 9, 0, 0 };
	(void)state;
	civil_format_date(&c, d);
	assert_string_equal(d, "2026-03-09");
	utc_format_iso(utc(2026, 11, 24, 8, 0) + 7, iso);
	assert_string_equal(iso, "2026-11-24T08:00:07Z");
	utc_format_sql(utc(2026, 11, 24, 8, 0), sql);
	assert_string_equal(sql, "2026-11-24 08:00:00");
	utc_format_iso(-1, iso);
	assert_string_equal(iso, "1969-12-31T23:59:59Z");
	time_t back;
	utc_format_sql(utc(2028, 2, 29, 23, 59) + 59, sql);
	assert_int_equal(utc_parse_sql(sql, &back), 0);
	assert_int_equal(back, utc(2028, 2, 29, 23, 59) + 59);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(berlin_march_gap),
		cmocka_unit_test(berlin_october_repeat),
		cmocka_unit_test(berlin_round_trips),
		cmocka_unit_test(agrees_with_glibc),
		cmocka_unit_test(zone_names),
		cmocka_unit_test(today_in_zone),
		cmocka_unit_test(date_arithmetic),
		cmocka_unit_test(strict_parsers),
		cmocka_unit_test(formatters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
