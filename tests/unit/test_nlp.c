/* test_nlp.c: the natural-language date and time parsers, table-driven, as plain TAP (one line per case). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlp.h"
#include "tztime.h"

static int n_test, n_fail;

static void tap(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tap(int ok, const char *fmt, ...)
{
	va_list ap;

	n_test++;
	if (!ok)
		n_fail++;
	printf("%s %d - ", ok ? "ok" : "not ok", n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* The "todays" the cases are relative to. */
enum { T, S, Y };
static const struct civil todays[] = {
	[T] = { 2026, 11, 19, 0, 0 },   /* a Thursday */
	[S] = { 2026, 11, 22, 0, 0 },   /* a Sunday */
	[Y] = { 2026, 12, 30, 0, 0 },   /* a Wednesday at the end of the year */
};

struct date_case {
	const char *lang;
	int today;
	const char *in;
	const char *want;   /* YYYY-MM-DD */
};

static const struct date_case date_cases[] = {
	/* German */
	{ "de", T, "heute", "2026-11-19" },
	{ "de", T, "Heute.", "2026-11-19" },
	{ "de", T, "morgen", "2026-11-20" },
	{ "de", T, "MORGEN!", "2026-11-20" },
	{ "de", T, "übermorgen", "2026-11-21" },
	{ "de", T, "Übermorgen", "2026-11-21" },
	{ "de", T, "uebermorgen", "2026-11-21" },
	{ "de", T, "Montag", "2026-11-23" },
	{ "de", T, "Dienstag", "2026-11-24" },
	{ "de", T, "Mittwoch", "2026-11-25" },
	{ "de", T, "Donnerstag", "2026-11-26" },
	{ "de", T, "Freitag", "2026-11-20" },
	{ "de", T, "Samstag", "2026-11-21" },
	{ "de", T, "Sonnabend", "2026-11-21" },
	{ "de", T, "Sonntag", "2026-11-22" },
	{ "de", T, "am Dienstag", "2026-11-24" },
	{ "de", T, "nächsten Montag", "2026-11-23" },
	{ "de", T, "nächster Montag", "2026-11-23" },
	{ "de", T, "kommenden Freitag", "2026-11-20" },
	{ "de", T, "naechsten Mittwoch", "2026-11-25" },
	{ "de", T, "am nächsten Donnerstag", "2026-11-26" },
	{ "de", T, "NÄCHSTEN MONTAG", "2026-11-23" },
	{ "de", T, "diesen Samstag", "2026-11-21" },
	{ "de", T, "in 3 Tagen", "2026-11-22" },
	{ "de", T, "in einem Tag", "2026-11-20" },
	{ "de", T, "in einer Woche", "2026-11-26" },
	{ "de", T, "in zwei Wochen", "2026-12-03" },
	{ "de", T, "in 10 Tagen", "2026-11-29" },
	{ "de", T, "in 365 Tagen", "2027-11-19" },
	{ "de", T, "nächste Woche", "2026-11-23" },
	{ "de", T, "naechste Woche", "2026-11-23" },
	{ "de", T, "kommende Woche", "2026-11-23" },
	{ "de", T, "in der nächsten Woche", "2026-11-23" },
	{ "de", T, "15.11.2024", "2024-11-15" },
	{ "de", T, "15.11.", "2027-11-15" },
	{ "de", T, "19.11.", "2026-11-19" },
	{ "de", T, "24.11.", "2026-11-24" },
	{ "de", T, "am 24.11.", "2026-11-24" },
	{ "de", T, "15. November 2024", "2024-11-15" },
	{ "de", T, "15. November", "2027-11-15" },
	{ "de", T, "3. Dezember", "2026-12-03" },
	{ "de", T, "1. März 2027", "2027-03-01" },
	{ "de", T, "1. Maerz 2027", "2027-03-01" },
	{ "de", T, "am 6. Jan.", "2027-01-06" },
	{ "de", T, "2024-11-15", "2024-11-15" },
	{ "de", T, "24.12.2026", "2026-12-24" },
	{ "de", T, "5.1.2027", "2027-01-05" },
	{ "de", T, "29.02.2028", "2028-02-29" },
	{ "de", T, "  heute  ", "2026-11-19" },
	{ "de", T, "in  3\tTagen", "2026-11-22" },
	{ "de", S, "Montag", "2026-11-23" },
	{ "de", S, "Sonntag", "2026-11-29" },
	{ "de", S, "nächste Woche", "2026-11-23" },
	{ "de", S, "morgen", "2026-11-23" },
	{ "de", Y, "morgen", "2026-12-31" },
	{ "de", Y, "übermorgen", "2027-01-01" },
	{ "de", Y, "Freitag", "2027-01-01" },
	{ "de", Y, "nächste Woche", "2027-01-04" },
	{ "de", Y, "5.1.", "2027-01-05" },
	{ "de", Y, "30.12.", "2026-12-30" },
	{ "de", Y, "29.12.", "2027-12-29" },
	{ "de", Y, "in einer Woche", "2027-01-06" },
	{ "de", Y, "am 2. Januar", "2027-01-02" },

	/* English */
	{ "en", T, "today", "2026-11-19" },
	{ "en", T, "Today.", "2026-11-19" },
	{ "en", T, "tomorrow", "2026-11-20" },
	{ "en", T, "Tomorrow?", "2026-11-20" },
	{ "en", T, "day after tomorrow", "2026-11-21" },
	{ "en", T, "the day after tomorrow", "2026-11-21" },
	{ "en", T, "monday", "2026-11-23" },
	{ "en", T, "Tuesday", "2026-11-24" },
	{ "en", T, "wednesday", "2026-11-25" },
	{ "en", T, "thursday", "2026-11-26" },
	{ "en", T, "friday", "2026-11-20" },
	{ "en", T, "saturday", "2026-11-21" },
	{ "en", T, "SUNDAY", "2026-11-22" },
	{ "en", T, "on tuesday", "2026-11-24" },
	{ "en", T, "next tuesday", "2026-11-24" },
	{ "en", T, "this tuesday", "2026-11-24" },
	{ "en", T, "next thursday", "2026-11-26" },
	{ "en", T, "on next friday", "2026-11-20" },
	{ "en", T, "in 3 days", "2026-11-22" },
	{ "en", T, "in a day", "2026-11-20" },
	{ "en", T, "in one day", "2026-11-20" },
	{ "en", T, "in a week", "2026-11-26" },
	{ "en", T, "in 2 weeks", "2026-12-03" },
	{ "en", T, "in five days", "2026-11-24" },
	{ "en", T, "in 30 days", "2026-12-19" },
	{ "en", T, "in 52 weeks", "2027-11-18" },
	{ "en", T, "next week", "2026-11-23" },
	{ "en", T, "2024-11-15", "2024-11-15" },
	{ "en", T, "15/11/2024", "2024-11-15" },
	{ "en", T, "05/11/2026", "2026-11-05" },
	{ "en", T, "November 15", "2027-11-15" },
	{ "en", T, "November 15, 2024", "2024-11-15" },
	{ "en", T, "15 November", "2027-11-15" },
	{ "en", T, "15 November 2024", "2024-11-15" },
	{ "en", T, "November 24th", "2026-11-24" },
	{ "en", T, "1st December", "2026-12-01" },
	{ "en", T, "on 22nd November 2026", "2026-11-22" },
	{ "en", T, "Dec 3", "2026-12-03" },
	{ "en", T, "3 Dec. 2026", "2026-12-03" },
	{ "en", T, "on 2026-11-24", "2026-11-24" },
	{ "en", S, "monday", "2026-11-23" },
	{ "en", S, "next sunday", "2026-11-29" },
	{ "en", S, "next week", "2026-11-23" },
	{ "en", S, "today", "2026-11-22" },
	{ "en", Y, "tomorrow", "2026-12-31" },
	{ "en", Y, "day after tomorrow", "2027-01-01" },
	{ "en", Y, "next monday", "2027-01-04" },
	{ "en", Y, "in 3 days", "2027-01-02" },
	{ "en", Y, "January 5", "2027-01-05" },
	{ "en", Y, "next week", "2027-01-04" },
	{ "en", Y, "wednesday", "2027-01-06" },

	/* Ukrainian */
	{ "uk", T, "сьогодні", "2026-11-19" },
	{ "uk", T, "Сьогодні.", "2026-11-19" },
	{ "uk", T, "СЬОГОДНІ", "2026-11-19" },
	{ "uk", T, "завтра", "2026-11-20" },
	{ "uk", T, "на завтра", "2026-11-20" },
	{ "uk", T, "післязавтра", "2026-11-21" },
	{ "uk", T, "понеділок", "2026-11-23" },
	{ "uk", T, "у понеділок", "2026-11-23" },
	{ "uk", T, "вівторок", "2026-11-24" },
	{ "uk", T, "у вівторок", "2026-11-24" },
	{ "uk", T, "середа", "2026-11-25" },
	{ "uk", T, "в середу", "2026-11-25" },
	{ "uk", T, "четвер", "2026-11-26" },
	{ "uk", T, "п'ятниця", "2026-11-20" },
	{ "uk", T, "п’ятницю", "2026-11-20" },
	{ "uk", T, "у пʼятницю", "2026-11-20" },
	{ "uk", T, "НАСТУПНОЇ П'ЯТНИЦІ", "2026-11-20" },
	{ "uk", T, "субота", "2026-11-21" },
	{ "uk", T, "в суботу", "2026-11-21" },
	{ "uk", T, "неділя", "2026-11-22" },
	{ "uk", T, "у неділю", "2026-11-22" },
	{ "uk", T, "наступного понеділка", "2026-11-23" },
	{ "uk", T, "наступний понеділок", "2026-11-23" },
	{ "uk", T, "наступну середу", "2026-11-25" },
	{ "uk", T, "наступної середи", "2026-11-25" },
	{ "uk", T, "у наступний вівторок", "2026-11-24" },
	{ "uk", T, "наступного четверга", "2026-11-26" },
	{ "uk", T, "цієї суботи", "2026-11-21" },
	{ "uk", T, "через 3 дні", "2026-11-22" },
	{ "uk", T, "через 5 днів", "2026-11-24" },
	{ "uk", T, "через день", "2026-11-20" },
	{ "uk", T, "через тиждень", "2026-11-26" },
	{ "uk", T, "через два тижні", "2026-12-03" },
	{ "uk", T, "через п'ять днів", "2026-11-24" },
	{ "uk", T, "наступного тижня", "2026-11-23" },
	{ "uk", T, "на наступному тижні", "2026-11-23" },
	{ "uk", T, "наступний тиждень", "2026-11-23" },
	{ "uk", T, "15 листопада", "2027-11-15" },
	{ "uk", T, "24 листопада", "2026-11-24" },
	{ "uk", T, "15 листопада 2024", "2024-11-15" },
	{ "uk", T, "1 грудня 2026 року", "2026-12-01" },
	{ "uk", T, "1 грудня 2026 р.", "2026-12-01" },
	{ "uk", T, "на 3 грудня", "2026-12-03" },
	{ "uk", T, "15.11.2024", "2024-11-15" },
	{ "uk", T, "на 24.11.2026", "2026-11-24" },
	{ "uk", S, "понеділок", "2026-11-23" },
	{ "uk", S, "неділя", "2026-11-29" },
	{ "uk", S, "наступного тижня", "2026-11-23" },
	{ "uk", Y, "завтра", "2026-12-31" },
	{ "uk", Y, "післязавтра", "2027-01-01" },
	{ "uk", Y, "наступного понеділка", "2027-01-04" },
	{ "uk", Y, "5 січня", "2027-01-05" },
	{ "uk", Y, "через тиждень", "2027-01-06" },

	/* Russian */
	{ "ru", T, "сегодня", "2026-11-19" },
	{ "ru", T, "СЕГОДНЯ", "2026-11-19" },
	{ "ru", T, "завтра", "2026-11-20" },
	{ "ru", T, "Завтра!", "2026-11-20" },
	{ "ru", T, "послезавтра", "2026-11-21" },
	{ "ru", T, "понедельник", "2026-11-23" },
	{ "ru", T, "в понедельник", "2026-11-23" },
	{ "ru", T, "вторник", "2026-11-24" },
	{ "ru", T, "во вторник", "2026-11-24" },
	{ "ru", T, "ВО ВТОРНИК", "2026-11-24" },
	{ "ru", T, "среда", "2026-11-25" },
	{ "ru", T, "в среду", "2026-11-25" },
	{ "ru", T, "четверг", "2026-11-26" },
	{ "ru", T, "пятница", "2026-11-20" },
	{ "ru", T, "в пятницу", "2026-11-20" },
	{ "ru", T, "суббота", "2026-11-21" },
	{ "ru", T, "в субботу", "2026-11-21" },
	{ "ru", T, "воскресенье", "2026-11-22" },
	{ "ru", T, "в воскресенье", "2026-11-22" },
	{ "ru", T, "в следующий понедельник", "2026-11-23" },
	{ "ru", T, "следующий вторник", "2026-11-24" },
	{ "ru", T, "в следующую среду", "2026-11-25" },
	{ "ru", T, "следующая пятница", "2026-11-20" },
	{ "ru", T, "в следующее воскресенье", "2026-11-22" },
	{ "ru", T, "в эту субботу", "2026-11-21" },
	{ "ru", T, "через 3 дня", "2026-11-22" },
	{ "ru", T, "через 5 дней", "2026-11-24" },
	{ "ru", T, "через день", "2026-11-20" },
	{ "ru", T, "через неделю", "2026-11-26" },
	{ "ru", T, "через две недели", "2026-12-03" },
	{ "ru", T, "через 10 дней", "2026-11-29" },
	{ "ru", T, "на следующей неделе", "2026-11-23" },
	{ "ru", T, "следующая неделя", "2026-11-23" },
	{ "ru", T, "на следующую неделю", "2026-11-23" },
	{ "ru", T, "15 ноября", "2027-11-15" },
	{ "ru", T, "15 ноября 2024", "2024-11-15" },
	{ "ru", T, "24 ноября 2026 года", "2026-11-24" },
	{ "ru", T, "3 декабря 2026 г.", "2026-12-03" },
	{ "ru", T, "на 1 декабря", "2026-12-01" },
	{ "ru", T, "сЁгодня", "2026-11-19" },   /* ё folds to е */
	{ "ru", S, "понедельник", "2026-11-23" },
	{ "ru", S, "воскресенье", "2026-11-29" },
	{ "ru", S, "на следующей неделе", "2026-11-23" },
	{ "ru", Y, "завтра", "2026-12-31" },
	{ "ru", Y, "послезавтра", "2027-01-01" },
	{ "ru", Y, "в пятницу", "2027-01-01" },
	{ "ru", Y, "2 января", "2027-01-02" },
	{ "ru", Y, "через неделю", "2027-01-06" },
};

struct time_case {
	const char *in;
	int hour, minute;
};

static const struct time_case time_cases[] = {
	{ "14:00", 14, 0 }, { "14 Uhr", 14, 0 }, { "14.30 Uhr", 14, 30 }, { "14:30 Uhr", 14, 30 },
	{ "2pm", 14, 0 }, { "2 pm", 14, 0 }, { "2:00 PM", 14, 0 }, { "2:00 pm", 14, 0 },
	{ "10am", 10, 0 }, { "10:30", 10, 30 }, { "9:05 a.m.", 9, 5 }, { "9:05 A.M.", 9, 5 },
	{ "3 p.m.", 15, 0 }, { "12am", 0, 0 }, { "12pm", 12, 0 }, { "12:30 am", 0, 30 },
	{ "12:45 PM", 12, 45 }, { "11:59 pm", 23, 59 }, { "1am", 1, 0 }, { "0:00", 0, 0 },
	{ "00:00", 0, 0 }, { "23:59", 23, 59 }, { "09:05", 9, 5 }, { "8:15", 8, 15 },
	{ "um 14 Uhr", 14, 0 }, { "um 14:00", 14, 0 }, { "Um 9.15 Uhr", 9, 15 }, { "at 2pm", 14, 0 },
	{ "at 14:00", 14, 0 }, { "At 7:30 PM", 19, 30 }, { "о 14:00", 14, 0 }, { "О 9:30", 9, 30 },
	{ "об 11:00", 11, 0 }, { "в 14:00", 14, 0 }, { "на 14:00", 14, 0 }, { "noon", 12, 0 },
	{ "at noon", 12, 0 }, { "midnight", 0, 0 }, { "at midnight", 0, 0 }, { "12 noon", 12, 0 },
	{ "  14:00  ", 14, 0 }, { "14:00.", 14, 0 }, { "7 Uhr", 7, 0 }, { "7uhr", 7, 0 },
	{ "0 Uhr", 0, 0 }, { "6:00am", 6, 0 }, { "18:45", 18, 45 }, { "В 18:45", 18, 45 },
};

/* Must fail: 'd' for the date parser (today = T), 't' for the time parser. */
struct fail_case {
	char kind;
	const char *in;
};

static const struct fail_case fail_cases[] = {
	{ 'd', "bald" }, { 'd', "someday" }, { 'd', "32.13.2024" }, { 'd', "32.12.2024" },
	{ 'd', "31.11.2026" }, { 'd', "29.02.2027" }, { 'd', "29.02." }, { 'd', "in 400 days" },
	{ 'd', "in 366 Tagen" }, { 'd', "in 0 days" }, { 'd', "in 53 weeks" }, { 'd', "next next monday" },
	{ 'd', "nächste nächste Woche" }, { 'd', "morgen morgen" }, { 'd', "" }, { 'd', "   " },
	{ 'd', "." }, { 'd', "next Montag" }, { 'd', "am heute" }, { 'd', "in 3 дні" },
	{ 'd', "через 3 days" }, { 'd', "15/11" }, { 'd', "11/15/2024" }, { 'd', "15.11.24" },
	{ 'd', "2024-13-01" }, { 'd', "2024-11-31" }, { 'd', "2024-1-5" }, { 'd', "15nd November" },
	{ 'd', "in -3 days" }, { 'd', "in 3" }, { 'd', "days" }, { 'd', "next" }, { 'd', "tuesday next" },
	{ 'd', "heute morgen" }, { 'd', "понеділок вівторок" }, { 'd', "через" },
	{ 'd', "в понедельник 15 ноября" }, { 'd', "monday!!" }, { 'd', "\xfc" "bermorgen" },
	{ 'd', "heute\x01" }, { 'd', "morgen 14:00" }, { 'd', "15 листопада 2024 року року" },
	{ 'd', "1.2.3.4" }, { 'd', "in a Tag" }, { 'd', "this week" }, { 'd', "übernächste Woche" },
	{ 'd', "на 15th November" }, { 'd', "в 15 ноября" }, { 'd', "15 ноября 1850" },
	{ 'd', "in 007 days" }, { 'd', "next weeks" }, { 'd', "nächste Wochen" },
	{ 'd', "15. листопада" }, { 'd', "am morgen" }, { 'd', "on 15/11" }, { 'd', "15..11.2024" },
	{ 't', "25:00" }, { 't', "24:00" }, { 't', "14:60" }, { 't', "13pm" }, { 't', "0am" },
	{ 't', "14" }, { 't', "14.30" }, { 't', "2" }, { 't', "14:5" }, { 't', "14:000" }, { 't', "pm" },
	{ 't', "uhr" }, { 't', "at" }, { 't', "um 2pm" }, { 't', "at 14 Uhr" }, { 't', "о 2pm" },
	{ 't', "14:00:00" }, { 't', "halb drei" }, { 't', "2 o'clock" }, { 't', "noon tomorrow" },
	{ 't', "-1:00" }, { 't', "14h30" }, { 't', "14:00 Uhr pm" }, { 't', "1:00 pmx" },
	{ 't', "123:00" }, { 't', "12:30 Uhr am" }, { 't', "um midnight" }, { 't', "" },
	{ 't', "14:00\x7f" }, { 't', "14 uhr 30" }, { 't', "14:00 pm" }, { 't', "2.30 pm" },
};

static void fmt_date(const struct civil *c, char *out, size_t len)
{
	snprintf(out, len, "%04d-%02d-%02d", c->year, c->month, c->day);
}

static void run_date_cases(int *per_lang)
{
	static const char *const langs[] = { "de", "en", "uk", "ru" };
	size_t i, k;

	for (i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]); i++) {
		const struct date_case *c = &date_cases[i];
		struct civil out = { -1, -1, -1, -1, -1 };
		char got[32] = "(not understood)", tbuf[16];
		int rc = nlp_parse_date(c->in, &todays[c->today], &out);
		int ok;

		if (rc == 0)
			fmt_date(&out, got, sizeof(got));
		fmt_date(&todays[c->today], tbuf, sizeof(tbuf));
		ok = rc == 0 && strcmp(got, c->want) == 0 && out.hour == 0 && out.minute == 0;
		tap(ok, "date %s \"%s\" (today %s) -> %s", c->lang, c->in, tbuf, c->want);
		if (!ok)
			printf("#   got %s\n", got);
		for (k = 0; k < 4; k++)
			if (strcmp(c->lang, langs[k]) == 0)
				per_lang[k]++;
	}
}

static void run_time_cases(void)
{
	size_t i;

	for (i = 0; i < sizeof(time_cases) / sizeof(time_cases[0]); i++) {
		const struct time_case *c = &time_cases[i];
		int h = -1, m = -1;
		int rc = nlp_parse_time(c->in, &h, &m);

		tap(rc == 0 && h == c->hour && m == c->minute, "time \"%s\" -> %02d:%02d", c->in,
		    c->hour, c->minute);
		if (rc != 0 || h != c->hour || m != c->minute)
			printf("#   got rc %d, %d:%d\n", rc, h, m);
	}
}

static void run_fail_cases(void)
{
	size_t i;

	for (i = 0; i < sizeof(fail_cases) / sizeof(fail_cases[0]); i++) {
		const struct fail_case *c = &fail_cases[i];
		struct civil out = { 0, 0, 0, 0, 0 };
		int h = 0, m = 0, rc;

		if (c->kind == 'd')
			rc = nlp_parse_date(c->in, &todays[T], &out);
		else
			rc = nlp_parse_time(c->in, &h, &m);
		tap(rc == -1, "%s refuses \"%s\"", c->kind == 'd' ? "date" : "time", c->in);
		if (rc != -1)
			printf("#   got rc %d: %04d-%02d-%02d %02d:%02d\n", rc, out.year, out.month, out.day,
			       h, m);
	}
}

/* Limits and arguments: the NLP_INPUT_MAX boundary, NULL pointers, a bad "today". */
static void run_limits(void)
{
	char s[NLP_INPUT_MAX + 2];
	struct civil out, bad_today = { 2026, 2, 30, 0, 0 };
	int h, m;

	memset(s, ' ', sizeof(s));
	memcpy(s, "heute", 5);
	s[NLP_INPUT_MAX] = '\0';
	tap(nlp_parse_date(s, &todays[T], &out) == 0 && out.day == 19,
	    "date: exactly NLP_INPUT_MAX (%d) bytes are read", NLP_INPUT_MAX);
	s[NLP_INPUT_MAX] = ' ';
	s[NLP_INPUT_MAX + 1] = '\0';
	tap(nlp_parse_date(s, &todays[T], &out) == -1, "date: NLP_INPUT_MAX + 1 bytes are refused");
	memset(s, ' ', sizeof(s));
	memcpy(s + NLP_INPUT_MAX - 5, "14:00", 5);
	s[NLP_INPUT_MAX] = '\0';
	tap(nlp_parse_time(s, &h, &m) == 0 && h == 14, "time: exactly NLP_INPUT_MAX bytes are read");
	s[NLP_INPUT_MAX] = ' ';
	s[NLP_INPUT_MAX + 1] = '\0';
	tap(nlp_parse_time(s, &h, &m) == -1, "time: NLP_INPUT_MAX + 1 bytes are refused");
	tap(nlp_parse_date(NULL, &todays[T], &out) == -1, "date: NULL input");
	tap(nlp_parse_date("heute", NULL, &out) == -1, "date: NULL today");
	tap(nlp_parse_date("heute", &todays[T], NULL) == -1, "date: NULL out");
	tap(nlp_parse_date("heute", &bad_today, &out) == -1, "date: an invalid today is refused");
	tap(nlp_parse_time(NULL, &h, &m) == -1, "time: NULL input");
	tap(nlp_parse_time("14:00", NULL, &m) == -1 && nlp_parse_time("14:00", &h, NULL) == -1,
	    "time: NULL outputs");
}

/* Every weekday word, for seven consecutive todays: 1..7 days ahead, on that weekday. */
static void run_weekday_property(void)
{
	static const char *const names[4][7] = {
		{ "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag" },
		{ "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday" },
		{ "понеділок", "вівторок", "середа", "четвер", "п'ятниця", "субота", "неділя" },
		{ "понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье" },
	};
	int lang, wd, d;

	for (lang = 0; lang < 4; lang++) {
		int bad = 0;

		for (d = 0; d < 7; d++) {
			struct civil today = todays[T];

			civil_add_days(&today, d);
			for (wd = 0; wd < 7; wd++) {
				struct civil out;
				long ahead;

				if (nlp_parse_date(names[lang][wd], &today, &out) != 0) {
					bad++;
					continue;
				}
				ahead = civil_to_days(out.year, out.month, out.day) -
					civil_to_days(today.year, today.month, today.day);
				if (ahead < 1 || ahead > 7 || civil_weekday(&out) != wd + 1)
					bad++;
			}
		}
		tap(bad == 0, "weekday names (%s...) are 1..7 days ahead on the right weekday, 7 todays",
		    names[lang][0]);
	}
}

int main(void)
{
	int per_lang[4] = { 0, 0, 0, 0 };
	size_t n_date = sizeof(date_cases) / sizeof(date_cases[0]);
	size_t n_time = sizeof(time_cases) / sizeof(time_cases[0]);
	size_t n_fail_cases = sizeof(fail_cases) / sizeof(fail_cases[0]);

	printf("1..%zu\n", n_date + n_time + n_fail_cases + 10 + 4);
	run_date_cases(per_lang);
	run_time_cases();
	run_fail_cases();
	run_limits();
	run_weekday_property();
	printf("# date cases: %zu (de %d, en %d, uk %d, ru %d); time cases: %zu; must-fail cases: %zu\n",
	       n_date, per_lang[0], per_lang[1], per_lang[2], per_lang[3], n_time, n_fail_cases);
	return n_fail ? 1 : 0;
}
