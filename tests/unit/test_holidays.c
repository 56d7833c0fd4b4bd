/* test_holidays.c: Easter dates, full holiday lists for known state/year pairs, per-state rules. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "holidays.h"
#include "util.h"

static void easter_known_dates(void **state)
{
	static const struct {
		int y, m, d;
	} known[] = {
		{ 1583, 4, 10 }, { 1818, 3, 22 }, { 1943, 4, 25 }, { 2000, 4, 23 }, { 2008, 3, 23 },
		{ 2019, 4, 21 }, { 2024, 3, 31 }, { 2025, 4, 20 }, { 2026, 4, 5 }, { 2027, 3, 28 },
		{ 2038, 4, 25 }, { 2285, 3, 22 },
	};
	(void)state;
	for (size_t i = 0; i < TF_ARRAY_LEN(known); i++) {
		int m = 0, d = 0;
		easter_sunday(known[i].y, &m, &d);
		assert_int_equal(m, known[i].m);
		assert_int_equal(d, known[i].d);
	}
}

/* "MM-DD Name;MM-DD Name;..." of a state's year, for whole-list comparisons. */
static void list_text(int year, enum bundesland bl, char *out, size_t outlen)
{
	struct holiday h[20];
	size_t n = holidays_for_year(year, bl, h, TF_ARRAY_LEN(h)), pos = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + pos, outlen - pos, "%s%02d-%02d %s", i ? ";" : "", h[i].month,
				 h[i].day, h[i].name);
		assert_true(w > 0 && (size_t)w < outlen - pos);
		pos += (size_t)w;
	}
}

static void full_lists(void **state)
{
	char got[1024];

	(void)state;
	list_text(2026, BL_BY, got, sizeof(got));
	assert_string_equal(got,
		"01-01 Neujahr;01-06 Heilige Drei Könige;04-03 Karfreitag;04-06 Ostermontag;"
		"05-01 Tag der Arbeit;05-14 Christi Himmelfahrt;05-25 Pfingstmontag;06-04 Fronleichnam;"
		"08-15 Mariä Himmelfahrt;10-03 Tag der Deutschen Einheit;11-01 Allerheiligen;"
		"12-25 1. Weihnachtstag;12-26 2. Weihnachtstag");
	list_text(2025, BL_BE, got, sizeof(got));
	assert_string_equal(got,
		"01-01 Neujahr;03-08 Internationaler Frauentag;04-18 Karfreitag;04-21 Ostermontag;"
		"05-01 Tag der Arbeit;05-08 Tag der Befreiung;05-29 Christi Himmelfahrt;06-09 Pfingstmontag;"
		"10-03 Tag der Deutschen Einheit;12-25 1. Weihnachtstag;12-26 2. Weihnachtstag");
	list_text(2024, BL_SN, got, sizeof(got));
	assert_string_equal(got,
		"01-01 Neujahr;03-29 Karfreitag;04-01 Ostermontag;05-01 Tag der Arbeit;"
		"05-09 Christi Himmelfahrt;05-20 Pfingstmontag;10-03 Tag der Deutschen Einheit;"
		"10-31 Reformationstag;11-20 Buß- und Bettag;12-25 1. Weihnachtstag;12-26 2. Weihnachtstag");
	list_text(2027, BL_NW, got, sizeof(got));
	assert_string_equal(got,
		"01-01 Neujahr;03-26 Karfreitag;03-29 Ostermontag;05-01 Tag der Arbeit;"
		"05-06 Christi Himmelfahrt;05-17 Pfingstmontag;05-27 Fronleichnam;"
		"10-03 Tag der Deutschen Einheit;11-01 Allerheiligen;12-25 1. Weihnachtstag;"
		"12-26 2. Weihnachtstag");
	list_text(2026, BL_BB, got, sizeof(got));
	assert_string_equal(got,
		"01-01 Neujahr;04-03 Karfreitag;04-05 Ostersonntag;04-06 Ostermontag;05-01 Tag der Arbeit;"
		"05-14 Christi Himmelfahrt;05-24 Pfingstsonntag;05-25 Pfingstmontag;"
		"10-03 Tag der Deutschen Einheit;10-31 Reformationstag;12-25 1. Weihnachtstag;"
		"12-26 2. Weihnachtstag");
	list_text(2019, BL_TH, got, sizeof(got));
	assert_string_equal(got,
		"01-01 Neujahr;04-19 Karfreitag;04-22 Ostermontag;05-01 Tag der Arbeit;"
		"05-30 Christi Himmelfahrt;06-10 Pfingstmontag;09-20 Weltkindertag;"
		"10-03 Tag der Deutschen Einheit;10-31 Reformationstag;12-25 1. Weihnachtstag;"
		"12-26 2. Weihnachtstag");
	list_text(2025, BL_HH, got, sizeof(got));
	assert_string_equal(got,
		"01-01 Neujahr;04-18 Karfreitag;04-21 Ostermontag;05-01 Tag der Arbeit;"
		"05-29 Christi Himmelfahrt;06-09 Pfingstmontag;10-03 Tag der Deutschen Einheit;"
		"10-31 Reformationstag;12-25 1. Weihnachtstag;12-26 2. Weihnachtstag");
	/* 2008: Christi Himmelfahrt fell on 1 May; both are listed, in a fixed order */
	list_text(2008, BL_HB, got, sizeof(got));
	assert_string_equal(got,
		"01-01 Neujahr;03-21 Karfreitag;03-24 Ostermontag;05-01 Christi Himmelfahrt;"
		"05-01 Tag der Arbeit;05-12 Pfingstmontag;10-03 Tag der Deutschen Einheit;"
		"12-25 1. Weihnachtstag;12-26 2. Weihnachtstag");
}

static void fronleichnam_per_state(void **state)
{
	/* Fronleichnam 2026 is 4 June */
	static const int has[BL_MAX] = {
		[BL_BW] = 1, [BL_BY] = 1, [BL_HE] = 1, [BL_NW] = 1, [BL_RP] = 1, [BL_SL] = 1,
	};
	(void)state;
	for (int bl = 0; bl < BL_MAX; bl++) {
		const char *name = NULL;
		int r = holiday_is(2026, 6, 4, (enum bundesland)bl, &name);
		assert_int_equal(r, has[bl]);
		if (r)
			assert_string_equal(name, "Fronleichnam");
	}
}

static void allerheiligen_and_three_kings(void **state)
{
	static const int ah[BL_MAX] = {
		[BL_BW] = 1, [BL_BY] = 1, [BL_NW] = 1, [BL_RP] = 1, [BL_SL] = 1,
	};
	static const int hdk[BL_MAX] = { [BL_BW] = 1, [BL_BY] = 1, [BL_ST] = 1 };
	static const int mh[BL_MAX] = { [BL_BY] = 1, [BL_SL] = 1 };
	(void)state;
	for (int bl = 0; bl < BL_MAX; bl++) {
		assert_int_equal(holiday_is(2025, 11, 1, (enum bundesland)bl, NULL), ah[bl]);
		assert_int_equal(holiday_is(2027, 1, 6, (enum bundesland)bl, NULL), hdk[bl]);
		assert_int_equal(holiday_is(2026, 8, 15, (enum bundesland)bl, NULL), mh[bl]);
	}
}

static void reformationstag_by_year(void **state)
{
	static const int always[BL_MAX] = {
		[BL_BB] = 1, [BL_MV] = 1, [BL_SN] = 1, [BL_ST] = 1, [BL_TH] = 1,
	};
	static const int since2018[BL_MAX] = {
		[BL_HB] = 1, [BL_HH] = 1, [BL_NI] = 1, [BL_SH] = 1,
	};
	(void)state;
	for (int bl = 0; bl < BL_MAX; bl++) {
		enum bundesland b = (enum bundesland)bl;
		const char *name = NULL;
		assert_int_equal(holiday_is(2016, 10, 31, b, NULL), always[bl]);
		assert_int_equal(holiday_is(2017, 10, 31, b, &name), 1);   /* 500 years: everywhere */
		assert_string_equal(name, "Reformationstag");
		assert_int_equal(holiday_is(2018, 10, 31, b, NULL), always[bl] | since2018[bl]);
		assert_int_equal(holiday_is(2026, 10, 31, b, NULL), always[bl] | since2018[bl]);
	}
}

static void state_specific_start_years(void **state)
{
	(void)state;
	/* Frauentag: Berlin since 2019, Mecklenburg-Vorpommern since 2023, nowhere else */
	assert_int_equal(holiday_is(2018, 3, 8, BL_BE, NULL), 0);
	assert_int_equal(holiday_is(2019, 3, 8, BL_BE, NULL), 1);
	assert_int_equal(holiday_is(2022, 3, 8, BL_MV, NULL), 0);
	assert_int_equal(holiday_is(2023, 3, 8, BL_MV, NULL), 1);
	assert_int_equal(holiday_is(2026, 3, 8, BL_BB, NULL), 0);
	/* Weltkindertag: Thüringen since 2019 */
	assert_int_equal(holiday_is(2018, 9, 20, BL_TH, NULL), 0);
	assert_int_equal(holiday_is(2019, 9, 20, BL_TH, NULL), 1);
	assert_int_equal(holiday_is(2026, 9, 20, BL_SN, NULL), 0);
	/* Tag der Befreiung: Berlin, 2020 and 2025 only */
	assert_int_equal(holiday_is(2020, 5, 8, BL_BE, NULL), 1);
	assert_int_equal(holiday_is(2021, 5, 8, BL_BE, NULL), 0);
	assert_int_equal(holiday_is(2025, 5, 8, BL_BE, NULL), 1);
	assert_int_equal(holiday_is(2026, 5, 8, BL_BE, NULL), 0);
	assert_int_equal(holiday_is(2025, 5, 8, BL_BB, NULL), 0);
	/* Buß- und Bettag: Sachsen (Wednesday 16..22 Nov); everywhere up to 1994 */
	assert_int_equal(holiday_is(2023, 11, 22, BL_SN, NULL), 1);
	assert_int_equal(holiday_is(2025, 11, 19, BL_SN, NULL), 1);
	assert_int_equal(holiday_is(2026, 11, 18, BL_SN, NULL), 1);
	assert_int_equal(holiday_is(2027, 11, 17, BL_SN, NULL), 1);
	assert_int_equal(holiday_is(2026, 11, 18, BL_BY, NULL), 0);
	assert_int_equal(holiday_is(1994, 11, 16, BL_BY, NULL), 1);
	assert_int_equal(holiday_is(1995, 11, 22, BL_BY, NULL), 0);
	/* Ostersonntag/Pfingstsonntag: Brandenburg and Hessen */
	assert_int_equal(holiday_is(2025, 4, 20, BL_BB, NULL), 1);
	assert_int_equal(holiday_is(2025, 4, 20, BL_HE, NULL), 1);
	assert_int_equal(holiday_is(2025, 4, 20, BL_BE, NULL), 0);
	assert_int_equal(holiday_is(2025, 6, 8, BL_BB, NULL), 1);
	/* Tag der Deutschen Einheit from 1990 */
	assert_int_equal(holiday_is(1989, 10, 3, BL_BE, NULL), 0);
	assert_int_equal(holiday_is(1990, 10, 3, BL_BE, NULL), 1);
	/* an ordinary day, and a day after a holiday */
	assert_int_equal(holiday_is(2026, 11, 24, BL_BY, NULL), 0);
	assert_int_equal(holiday_is(2026, 12, 27, BL_BY, NULL), 0);
}

static void nationwide_everywhere(void **state)
{
	(void)state;
	for (int year = 1995; year <= 2100; year++) {
		int em, ed;
		easter_sunday(year, &em, &ed);
		for (int bl = 0; bl < BL_MAX; bl++) {
			struct holiday h[20];
			size_t n = holidays_for_year(year, (enum bundesland)bl, h, TF_ARRAY_LEN(h));
			const char *name = NULL;

			assert_true(n >= 9 && n <= 20);
			for (size_t i = 1; i < n; i++)   /* date order */
				assert_true(h[i - 1].month < h[i].month ||
					    (h[i - 1].month == h[i].month && h[i - 1].day <= h[i].day));
			assert_int_equal(holiday_is(year, 1, 1, (enum bundesland)bl, &name), 1);
			assert_string_equal(name, "Neujahr");
			assert_int_equal(holiday_is(year, 12, 25, (enum bundesland)bl, NULL), 1);
			assert_int_equal(holiday_is(year, 12, 26, (enum bundesland)bl, NULL), 1);
			assert_int_equal(holiday_is(year, 10, 3, (enum bundesland)bl, NULL), 1);
			assert_int_equal(holiday_is(year, em, ed, (enum bundesland)bl, NULL),
					 bl == BL_BB || bl == BL_HE);
		}
	}
}

static void small_output_and_bad_input(void **state)
{
	struct holiday h[3];

	(void)state;
	assert_int_equal(holidays_for_year(2026, BL_BY, h, 3), 3);   /* the first three by date */
	assert_string_equal(h[2].name, "Karfreitag");
	assert_int_equal(holidays_for_year(2026, BL_MAX, h, 3), 0);
	assert_int_equal(holidays_for_year(1500, BL_BY, h, 3), 0);
	assert_int_equal(holiday_is(2026, 2, 30, BL_BY, NULL), 0);
	assert_int_equal(holiday_is(2026, 13, 1, BL_BY, NULL), 0);
	assert_int_equal(holiday_is(2026, 1, 1, (enum bundesland)-1, NULL), 0);
}

static void state_codes(void **state)
{
	(void)state;
	assert_int_equal(bundesland_parse("BY"), BL_BY);
	assert_int_equal(bundesland_parse("by"), BL_BY);
	assert_int_equal(bundesland_parse("Th"), BL_TH);
	assert_int_equal(bundesland_parse("XX"), -1);
	assert_int_equal(bundesland_parse(""), -1);
	assert_int_equal(bundesland_parse("BYX"), -1);
	assert_int_equal(bundesland_parse(NULL), -1);
	for (int bl = 0; bl < BL_MAX; bl++) {
		assert_int_equal(bundesland_parse(bundesland_code((enum bundesland)bl)), bl);
		assert_true(strlen(bundesland_name((enum bundesland)bl)) > 3);
	}
	assert_string_equal(bundesland_name(BL_TH), "Thüringen");
	assert_string_equal(bundesland_code(BL_MAX), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(easter_known_dates),
		cmocka_unit_test(full_lists),
		cmocka_unit_test(fronleichnam_per_state),
		cmocka_unit_test(allerheiligen_and_three_kings),
		cmocka_unit_test(reformationstag_by_year),
		cmocka_unit_test(state_specific_start_years),
		cmocka_unit_test(nationwide_everywhere),
		cmocka_unit_test(small_output_and_bad_input),
		cmocka_unit_test(state_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
