/* holidays.c: German statewide public holidays per Bundesland, computed from fixed dates and Easter. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "holidays.h"
#include "util.h"

/*
 * The rules (statewide holidays only; holidays of single municipalities such as the Augsburger
 * Friedensfest, or Fronleichnam in parts of Sachsen and Thüringen, are not included).
 * Sources: the states' holiday laws — BW FTG § 1, BayFTG Art. 1, BE FeiertagsG § 1, BB FTG § 2,
 * HB FeiertagsG § 1, HH FeiertagsG § 1, HFeiertagsG § 1, MV FTG § 2, NFeiertagsG § 2, NW FTG § 2,
 * RP LFtG § 2, SL FTG § 2, SächsSFG § 1, ST FeiertG § 2, SH SFTG § 2, ThürFtG § 2 — and the
 * one-off laws named below.
 *
 *   Neujahr (1 Jan), Karfreitag (Easter - 2), Ostermontag (Easter + 1), Tag der Arbeit (1 May),
 *   Christi Himmelfahrt (Easter + 39), Pfingstmontag (Easter + 50), 1. and 2. Weihnachtstag
 *   (25/26 Dec): everywhere.
 *   Tag der Deutschen Einheit (3 Oct): everywhere since 1990.
 *   Heilige Drei Könige (6 Jan): BW, BY, ST.
 *   Internationaler Frauentag (8 Mar): BE since 2019, MV since 2023.
 *   Ostersonntag, Pfingstsonntag (Easter, Easter + 49): BB and HE (both name them in their laws;
 *   they are Sundays anyway).
 *   Fronleichnam (Easter + 60): BW, BY, HE, NW, RP, SL.
 *   Mariä Himmelfahrt (15 Aug): SL; and BY. In Bayern the law makes it a holiday only in the
 *   municipalities with a mainly Catholic population — about 1,700 of 2,056, Munich, Augsburg,
 *   Regensburg and most practices' towns among them — so we count it for the whole state: offering
 *   slots on a day most Bavarian practices are closed is the worse error of the two.
 *   Weltkindertag (20 Sep): TH since 2019.
 *   Reformationstag (31 Oct): BB, MV, SN, ST, TH (always); HB, HH, NI, SH since 2018; in 2017 (the
 *   500th anniversary) in every state.
 *   Allerheiligen (1 Nov): BW, BY, NW, RP, SL.
 *   Buß- und Bettag (the Wednesday before 23 Nov): SN; in every state up to 1994 (abolished from
 *   1995 to fund the Pflegeversicherung, except in Sachsen).
 *   One-off: Tag der Befreiung (8 May) in BE in 2020 (75th anniversary, Gesetz vom 30.01.2020) and
 *   2025 (80th anniversary, Gesetz vom 12.12.2024).
 * The rules describe the law since German unity; years before 1991 follow the same rules and are
 * not historically exact (the GDR and the old Federal Republic had their own calendars).
 */

static const char *const bl_codes[BL_MAX] = {
	[BL_BW] = "BW", [BL_BY] = "BY", [BL_BE] = "BE", [BL_BB] = "BB",
	[BL_HB] = "HB", [BL_HH] = "HH", [BL_HE] = "HE", [BL_MV] = "MV",
	[BL_NI] = "NI", [BL_NW] = "NW", [BL_RP] = "RP", [BL_SL] = "SL",
	[BL_SN] = "SN", [BL_ST] = "ST", [BL_SH] = "SH", [BL_TH] = "TH",
};

static const char *const bl_names[BL_MAX] = {
	[BL_BW] = "Baden-Württemberg", [BL_BY] = "Bayern", [BL_BE] = "Berlin",
	[BL_BB] = "Brandenburg", [BL_HB] = "Bremen", [BL_HH] = "Hamburg", [BL_HE] = "Hessen",
	[BL_MV] = "Mecklenburg-Vorpommern", [BL_NI] = "Niedersachsen",
	[BL_NW] = "Nordrhein-Westfalen", [BL_RP] = "Rheinland-Pfalz", [BL_SL] = "Saarland",
	[BL_SN] = "Sachsen", [BL_ST] = "Sachsen-Anhalt", [BL_SH] = "Schleswig-Holstein",
	[BL_TH] = "Thüringen",
};

int bundesland_parse(const char *code)
{
	if (!code)
		return -1;
	for (int i = 0; i < BL_MAX; i++)
		if (strcasecmp(code, bl_codes[i]) == 0)
			return i;
	return -1;
}

const char *bundesland_code(enum bundesland bl)
{
	return (unsigned)bl < BL_MAX ? bl_codes[bl] : "";
}

const char *bundesland_name(enum bundesland bl)
{
	return (unsigned)bl < BL_MAX ? bl_names[bl] : "";
}

void easter_sunday(int year, int *month, int *day)
{
	int a = year % 19, b = year / 100, c = year % 100;
	int d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3;
	int h = (19 * a + b - d - g + 15) % 30;
	int i = c / 4, k = c % 4;
	int l = (32 + 2 * e + 2 * i - h - k) % 7;
	int m = (a + 11 * h + 22 * l) / 451;
	int n = h + l - 7 * m + 114;

	*month = n / 31;
	*day = n % 31 + 1;
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Day of the year (1-based) and back. */
static int yday_of(int y, int m, int d)
{
	int n = d;
	for (int i = 1; i < m; i++)
		n += month_days(y, i);
	return n;
}

static void from_yday(int y, int yd, int *m, int *d)
{
	int i = 1;
	while (yd > month_days(y, i)) {
		yd -= month_days(y, i);
		i++;
	}
	*m = i;
	*d = yd;
}

/* Weekday with 0 = Sunday (Sakamoto). */
static int weekday0(int y, int m, int d)
{
	static const int t[12] = { 0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4 };
	if (m < 3)
		y--;
	return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

#define S(bl) (1u << (bl))
#define ALL ((1u << BL_MAX) - 1)

struct list {
	struct holiday *out;
	size_t max, n;
};

static void add(struct list *l, int m, int d, const char *name)
{
	if (l->n < l->max)
		l->out[l->n] = (struct holiday){ .month = m, .day = d, .name = name };
	l->n++;
}

static int cmp_holiday(const void *a, const void *b)
{
	const struct holiday *x = a, *y = b;
	if (x->month != y->month)
		return x->month - y->month;
	if (x->day != y->day)
		return x->day - y->day;
	return strcmp(x->name, y->name);
}

size_t holidays_for_year(int year, enum bundesland bl, struct holiday *out, size_t max)
{
	struct holiday tmp[24];
	struct list l = { .out = tmp, .max = TF_ARRAY_LEN(tmp), .n = 0 };
	unsigned me;
	int em, ed, eyd;

	if ((unsigned)bl >= BL_MAX || year < 1583 || year > 9999 || !out)
		return 0;
	me = S(bl);
	easter_sunday(year, &em, &ed);
	eyd = yday_of(year, em, ed);

	/* Easter-relative holidays: offset from Easter Sunday, states. */
	static const struct {
		int offset;
		unsigned states;
		const char *name;
	} movable[] = {
		{ -2, ALL, "Karfreitag" },
		{ 0, S(BL_BB) | S(BL_HE), "Ostersonntag" },
		{ 1, ALL, "Ostermontag" },
		{ 39, ALL, "Christi Himmelfahrt" },
		{ 49, S(BL_BB) | S(BL_HE), "Pfingstsonntag" },
		{ 50, ALL, "Pfingstmontag" },
		{ 60, S(BL_BW) | S(BL_BY) | S(BL_HE) | S(BL_NW) | S(BL_RP) | S(BL_SL), "Fronleichnam" },
	};
	for (size_t i = 0; i < TF_ARRAY_LEN(movable); i++) {
		int m, d;
		if (!(movable[i].states & me))
			continue;
		from_yday(year, eyd + movable[i].offset, &m, &d);
		add(&l, m, d, movable[i].name);
	}

	/* Fixed dates: month, day, states, first and last year (0 = open). */
	static const struct {
		int month, day;
		unsigned states;
		int from, to;
		const char *name;
	} fixed[] = {
		{ 1, 1, ALL, 0, 0, "Neujahr" },
		{ 1, 6, S(BL_BW) | S(BL_BY) | S(BL_ST), 0, 0, "Heilige Drei Könige" },
		{ 3, 8, S(BL_BE), 2019, 0, "Internationaler Frauentag" },
		{ 3, 8, S(BL_MV), 2023, 0, "Internationaler Frauentag" },
		{ 5, 1, ALL, 0, 0, "Tag der Arbeit" },
		{ 5, 8, S(BL_BE), 2020, 2020, "Tag der Befreiung" },
		{ 5, 8, S(BL_BE), 2025, 2025, "Tag der Befreiung" },
		{ 8, 15, S(BL_BY) | S(BL_SL), 0, 0, "Mariä Himmelfahrt" },
		{ 9, 20, S(BL_TH), 2019, 0, "Weltkindertag" },
		{ 10, 3, ALL, 1990, 0, "Tag der Deutschen Einheit" },
		{ 10, 31, S(BL_BB) | S(BL_MV) | S(BL_SN) | S(BL_ST) | S(BL_TH), 0, 0, "Reformationstag" },
		{ 10, 31, S(BL_HB) | S(BL_HH) | S(BL_NI) | S(BL_SH), 2018, 0, "Reformationstag" },
		{ 10, 31, ALL & ~(S(BL_BB) | S(BL_MV) | S(BL_SN) | S(BL_ST) | S(BL_TH)), 2017, 2017,
		  "Reformationstag" },
		{ 11, 1, S(BL_BW) | S(BL_BY) | S(BL_NW) | S(BL_RP) | S(BL_SL), 0, 0, "Allerheiligen" },
		{ 12, 25, ALL, 0, 0, "1. Weihnachtstag" },
		{ 12, 26, ALL, 0, 0, "2. Weihnachtstag" },
	};
	for (size_t i = 0; i < TF_ARRAY_LEN(fixed); i++) {
		if (!(fixed[i].states & me))
			continue;
		if ((fixed[i].from && year < fixed[i].from) || (fixed[i].to && year > fixed[i].to))
			continue;
		add(&l, fixed[i].month, fixed[i].day, fixed[i].name);
	}

	/* Buß- und Bettag: the Wednesday in 16..22 November. */
	if (bl == BL_SN || year <= 1994) {
		int d = 16;
		while (weekday0(year, 11, d) != 3)
			d++;
		add(&l, 11, d, "Buß- und Bettag");
	}

	qsort(tmp, l.n, sizeof(tmp[0]), cmp_holiday);
	size_t n = l.n < max ? l.n : max;
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[i];
	return n;
}

int holiday_is(int year, int month, int day, enum bundesland bl, const char **name)
{
	struct holiday h[24];
	size_t n;

	if (month < 1 || month > 12 || day < 1 || year < 1583 || year > 9999 ||
	    day > month_days(year, month))
		return 0;
	n = holidays_for_year(year, bl, h, TF_ARRAY_LEN(h));
	for (size_t i = 0; i < n; i++) {
		if (h[i].month == month && h[i].day == day) {
			if (name)
				*name = h[i].name;
			return 1;
		}
	}
	return 0;
}
