/* nlp.c: natural-language dates and times in German, English, Ukrainian and Russian; no locale, no guessing. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nlp.h"

/*
 * How it works: the input is normalised (UTF-8 checked, ASCII, Latin-1 and Cyrillic capitals
 * folded to small letters by table, ё -> е, the apostrophes ’ and ʼ -> ', commas and runs of white
 * space -> one space, one final '.', '!' or '?' dropped), split into at most NLP_MAX_TOKENS words,
 * and matched against a fixed set of phrase shapes. Every word carries the languages it belongs to;
 * a phrase is understood only when one language has all its words ("next Montag" is refused).
 *
 * Decisions written down here because a reader would otherwise have to guess them:
 * - A weekday alone, and with next/this/nächsten/diesen/наступного/цього/следующий/этот in any of
 *   their forms, is the next such day after today: 1..7 days ahead, never today.
 * - "next week" and its translations are the Monday of the following week.
 * - "in N days/weeks" and "через N ..." take N from 1 to 365 days (weeks: up to 52); words for
 *   one to ten are understood ("in zwei Tagen", "через два дні").
 * - Numeric dates are day first, as everywhere in Europe: 05/11/2026 is 5 November. Years have
 *   four digits (1900..2200); 15.11.26 is refused rather than guessed.
 * - A date without a year (15.11., 15. November, 15 листопада) is this year, or next year when
 *   it is already past; a day that does not exist in that year (29.02. in 2027) is refused.
 * - "15.11" is read as "15.11." (a final '.' is punctuation, so the two cannot be told apart);
 *   "15/11" without a year is refused.
 * - Times: H:MM (0..23), "H Uhr", "H.MM Uhr" (a bare "14.30" or "14" is refused), H[:MM] am/pm with
 *   H 1..12 (12am = 00:00, 12pm = 12:00, "13pm" refused), noon, midnight. Fuzzy German times
 *   ("halb drei", "viertel nach") are not understood.
 * - Inputs longer than NLP_INPUT_MAX bytes, invalid UTF-8 and control characters are refused.
 */

enum {
	L_DE = 1,
	L_EN = 2,
	L_UK = 4,
	L_RU = 8,
	L_CYR = L_UK | L_RU,
	L_ANY = L_DE | L_EN | L_UK | L_RU,
};

#define NLP_MAX_TOKENS 8
#define NLP_MAX_DAYS 365
#define NLP_MAX_WEEKS 52
#define NLP_YEAR_MIN 1900
#define NLP_YEAR_MAX 2200

struct word {
	const char *w;
	int val;
	unsigned lang;
};

static const struct word rel_days[] = {
	{ "heute", 0, L_DE }, { "today", 0, L_EN }, { "сьогодні", 0, L_UK }, { "сегодня", 0, L_RU },
	{ "morgen", 1, L_DE }, { "tomorrow", 1, L_EN }, { "завтра", 1, L_CYR },
	{ "übermorgen", 2, L_DE }, { "uebermorgen", 2, L_DE },
	{ "післязавтра", 2, L_UK }, { "послезавтра", 2, L_RU },
};

static const struct word weekdays[] = {
	{ "montag", 1, L_DE }, { "dienstag", 2, L_DE }, { "mittwoch", 3, L_DE },
	{ "donnerstag", 4, L_DE }, { "freitag", 5, L_DE }, { "samstag", 6, L_DE },
	{ "sonnabend", 6, L_DE }, { "sonntag", 7, L_DE },
	{ "monday", 1, L_EN }, { "tuesday", 2, L_EN }, { "wednesday", 3, L_EN },
	{ "thursday", 4, L_EN }, { "friday", 5, L_EN }, { "saturday", 6, L_EN }, { "sunday", 7, L_EN },
	/* Ukrainian: nominative, accusative and genitive */
	{ "понеділок", 1, L_UK }, { "понеділка", 1, L_UK },
	{ "вівторок", 2, L_UK }, { "вівторка", 2, L_UK },
	{ "середа", 3, L_UK }, { "середу", 3, L_UK }, { "середи", 3, L_UK },
	{ "четвер", 4, L_UK }, { "четверга", 4, L_UK },
	{ "п'ятниця", 5, L_UK }, { "п'ятницю", 5, L_UK }, { "п'ятниці", 5, L_UK },
	{ "субота", 6, L_UK }, { "суботу", 6, L_UK }, { "суботи", 6, L_UK },
	{ "неділя", 7, L_UK }, { "неділю", 7, L_UK }, { "неділі", 7, L_UK },
	/* Russian: nominative and accusative */
	{ "понедельник", 1, L_RU }, { "вторник", 2, L_RU }, { "среда", 3, L_RU }, { "среду", 3, L_RU },
	{ "четверг", 4, L_RU }, { "пятница", 5, L_RU }, { "пятницу", 5, L_RU },
	{ "суббота", 6, L_RU }, { "субботу", 6, L_RU }, { "воскресенье", 7, L_RU },
};

/* "next" and "this" before a weekday (val 1 = also before "week": next week). */
static const struct word next_words[] = {
	{ "next", 1, L_EN },
	{ "nächste", 1, L_DE }, { "nächsten", 1, L_DE }, { "nächster", 1, L_DE },
	{ "naechste", 1, L_DE }, { "naechsten", 1, L_DE }, { "naechster", 1, L_DE },
	{ "kommende", 1, L_DE }, { "kommenden", 1, L_DE }, { "kommender", 1, L_DE },
	{ "наступний", 1, L_UK }, { "наступного", 1, L_UK }, { "наступну", 1, L_UK },
	{ "наступної", 1, L_UK }, { "наступна", 1, L_UK }, { "наступному", 1, L_UK },
	{ "следующий", 1, L_RU }, { "следующую", 1, L_RU }, { "следующая", 1, L_RU },
	{ "следующее", 1, L_RU }, { "следующего", 1, L_RU }, { "следующей", 1, L_RU },
	{ "this", 0, L_EN }, { "diesen", 0, L_DE }, { "dieser", 0, L_DE }, { "diese", 0, L_DE },
	{ "цей", 0, L_UK }, { "цього", 0, L_UK }, { "цю", 0, L_UK }, { "цієї", 0, L_UK }, { "ця", 0, L_UK },
	{ "этот", 0, L_RU }, { "эту", 0, L_RU }, { "это", 0, L_RU }, { "эта", 0, L_RU },
};

/* Words for "week": val 1 = singular (fits "next week" and a count), 0 = plural (count only). */
static const struct word week_words[] = {
	{ "week", 1, L_EN }, { "weeks", 0, L_EN },
	{ "woche", 1, L_DE }, { "wochen", 0, L_DE },
	{ "тиждень", 1, L_UK }, { "тижня", 1, L_UK }, { "тижні", 1, L_UK }, { "тижнів", 0, L_UK },
	{ "неделя", 1, L_RU }, { "неделю", 1, L_RU }, { "неделе", 1, L_RU },
	{ "недели", 0, L_RU }, { "недель", 0, L_RU },
};

static const struct word day_words[] = {
	{ "day", 1, L_EN }, { "days", 0, L_EN },
	{ "tag", 1, L_DE }, { "tage", 0, L_DE }, { "tagen", 0, L_DE },
	{ "день", 1, L_CYR }, { "дні", 0, L_UK }, { "днів", 0, L_UK },
	{ "дня", 0, L_CYR }, { "дней", 0, L_RU },
};

static const struct word number_words[] = {
	{ "a", 1, L_EN }, { "an", 1, L_EN }, { "one", 1, L_EN }, { "two", 2, L_EN },
	{ "three", 3, L_EN }, { "four", 4, L_EN }, { "five", 5, L_EN }, { "six", 6, L_EN },
	{ "seven", 7, L_EN }, { "eight", 8, L_EN }, { "nine", 9, L_EN }, { "ten", 10, L_EN },
	{ "ein", 1, L_DE }, { "eine", 1, L_DE }, { "einem", 1, L_DE }, { "einen", 1, L_DE },
	{ "einer", 1, L_DE }, { "zwei", 2, L_DE }, { "drei", 3, L_DE }, { "vier", 4, L_DE },
	{ "fünf", 5, L_DE }, { "fuenf", 5, L_DE }, { "sechs", 6, L_DE }, { "sieben", 7, L_DE },
	{ "acht", 8, L_DE }, { "neun", 9, L_DE }, { "zehn", 10, L_DE },
	{ "один", 1, L_CYR }, { "одну", 1, L_CYR }, { "два", 2, L_CYR }, { "дві", 2, L_UK },
	{ "две", 2, L_RU }, { "три", 3, L_CYR }, { "чотири", 4, L_UK }, { "четыре", 4, L_RU },
	{ "п'ять", 5, L_UK }, { "пять", 5, L_RU }, { "шість", 6, L_UK }, { "шесть", 6, L_RU },
	{ "сім", 7, L_UK }, { "семь", 7, L_RU }, { "вісім", 8, L_UK }, { "восемь", 8, L_RU },
	{ "дев'ять", 9, L_UK }, { "девять", 9, L_RU }, { "десять", 10, L_CYR },
};

/* Month names: English and German in the nominative (with the usual abbreviations; a final '.'
 * on an abbreviation is dropped before the lookup), Ukrainian and Russian in the genitive. */
static const struct word months[] = {
	{ "january", 1, L_EN }, { "february", 2, L_EN }, { "march", 3, L_EN }, { "april", 4, L_EN | L_DE },
	{ "may", 5, L_EN }, { "june", 6, L_EN }, { "july", 7, L_EN }, { "august", 8, L_EN | L_DE },
	{ "september", 9, L_EN | L_DE }, { "october", 10, L_EN }, { "november", 11, L_EN | L_DE },
	{ "december", 12, L_EN },
	{ "jan", 1, L_EN | L_DE }, { "feb", 2, L_EN | L_DE }, { "mar", 3, L_EN }, { "apr", 4, L_EN | L_DE },
	{ "jun", 6, L_EN | L_DE }, { "jul", 7, L_EN | L_DE }, { "aug", 8, L_EN | L_DE },
	{ "sep", 9, L_EN | L_DE }, { "sept", 9, L_EN | L_DE }, { "oct", 10, L_EN }, { "nov", 11, L_EN | L_DE },
	{ "dec", 12, L_EN },
	{ "januar", 1, L_DE }, { "jänner", 1, L_DE }, { "februar", 2, L_DE }, { "märz", 3, L_DE },
	{ "maerz", 3, L_DE }, { "mär", 3, L_DE }, { "mrz", 3, L_DE }, { "mai", 5, L_DE },
	{ "juni", 6, L_DE }, { "juli", 7, L_DE }, { "oktober", 10, L_DE }, { "okt", 10, L_DE },
	{ "dezember", 12, L_DE }, { "dez", 12, L_DE },
	{ "січня", 1, L_UK }, { "лютого", 2, L_UK }, { "березня", 3, L_UK }, { "квітня", 4, L_UK },
	{ "травня", 5, L_UK }, { "червня", 6, L_UK }, { "липня", 7, L_UK }, { "серпня", 8, L_UK },
	{ "вересня", 9, L_UK }, { "жовтня", 10, L_UK }, { "листопада", 11, L_UK }, { "грудня", 12, L_UK },
	{ "января", 1, L_RU }, { "февраля", 2, L_RU }, { "марта", 3, L_RU }, { "апреля", 4, L_RU },
	{ "мая", 5, L_RU }, { "июня", 6, L_RU }, { "июля", 7, L_RU }, { "августа", 8, L_RU },
	{ "сентября", 9, L_RU }, { "октября", 10, L_RU }, { "ноября", 11, L_RU }, { "декабря", 12, L_RU },
};

/* "year" after a year number: "15 листопада 2026 року", "15 ноября 2026 г." */
static const struct word year_words[] = {
	{ "року", 0, L_UK }, { "р", 0, L_UK }, { "года", 0, L_RU }, { "г", 0, L_RU },
};

/* Prepositions before a date phrase. val: P_ON (am/on: weekdays and dates), P_V (у/в/во:
 * weekdays only), P_NA (на: relative days, weekdays, dates, next week). */
enum { P_NONE, P_ON, P_V, P_NA };
static const struct word date_preps[] = {
	{ "am", P_ON, L_DE }, { "on", P_ON, L_EN }, { "у", P_V, L_UK }, { "в", P_V, L_CYR },
	{ "во", P_V, L_RU }, { "на", P_NA, L_CYR },
};

/* Prepositions before a time. */
static const struct word time_preps[] = {
	{ "um", 0, L_DE }, { "at", 0, L_EN }, { "о", 0, L_UK }, { "об", 0, L_UK }, { "в", 0, L_CYR },
	{ "на", 0, L_CYR },
};

static const struct word *word_find(const struct word *tab, size_t n, const char *tok)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(tab[i].w, tok) == 0)
			return &tab[i];
	return NULL;
}

#define FIND(tab, tok) word_find(tab, sizeof(tab) / sizeof((tab)[0]), tok)

/* Decode one strict UTF-8 sequence (shortest form, no surrogates, at most U+10FFFF) from s.
 * Returns its length in bytes, or 0 when the bytes are not valid UTF-8. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		c = s[0] & 0x1F;
		len = 2;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		c = s[0] & 0x0F;
		len = 3;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		c = s[0] & 0x07;
		len = 4;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)   /* also stops at the NUL */
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

static size_t utf8_encode(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* Small letter for the capitals we know: ASCII, Latin-1 (Ä Ö Ü ...), Cyrillic А..Я, Ѐ..Џ (Ё Є І Ї)
 * and Ґ; ё becomes е. Everything else is returned unchanged. */
static uint32_t fold(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 0x20;
	if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
		return c + 0x20;
	if (c >= 0x410 && c <= 0x42F)
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40F)
		c += 0x50;
	if (c == 0x490)
		return 0x491;
	if (c == 0x451)   /* ё */
		return 0x435;   /* е */
	return c;
}

static int is_space(uint32_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 || c == 0x202F ||
	       c == 0x2009 || c == ',';
}

/* Normalise s into out[NLP_INPUT_MAX + 1] (see the top of the file). Returns the length, or -1 for
 * NULL, over-long, invalid UTF-8 or control characters. The result is never longer than s. */
static int normalise(const char *s, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, n = 0;
	int pending_space = 0;

	if (!s)
		return -1;
	len = strnlen(s, NLP_INPUT_MAX + 1);
	if (len > NLP_INPUT_MAX)
		return -1;
	while (*p) {
		uint32_t c;
		size_t k = utf8_decode(p, &c);

		if (k == 0)
			return -1;
		p += k;
		if (is_space(c)) {
			pending_space = n > 0;
			continue;
		}
		if (c < 0x20 || (c >= 0x7F && c < 0xA0))
			return -1;
		if (c == 0x2019 || c == 0x02BC)
			c = '\'';
		c = fold(c);
		if (pending_space)
			out[n++] = ' ';
		pending_space = 0;
		n += utf8_encode(c, out + n);   /* folding never makes a letter longer */
	}
	if (n > 0 && (out[n - 1] == '.' || out[n - 1] == '!' || out[n - 1] == '?')) {
		n--;
		if (n > 0 && out[n - 1] == ' ')
			n--;
	}
	out[n] = '\0';
	return (int)n;
}

/* Split s in place at its single spaces. Returns the number of words, or -1 when there are more
 * than max (no phrase we understand is that long). */
static int tokenise(char *s, char **tok, int max)
{
	int n = 0;

	if (!*s)
		return 0;
	for (;;) {
		char *sp = strchr(s, ' ');

		if (n == max)
			return -1;
		tok[n++] = s;
		if (!sp)
			return n;
		*sp = '\0';
		s = sp + 1;
	}
}

/* s[0..len) is 1..maxdigits ASCII digits: *out gets their value. */
static int parse_digits(const char *s, size_t len, size_t maxdigits, int *out)
{
	size_t i;
	int v = 0;

	if (len == 0 || len > maxdigits)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Set *out to year-month-day when it is a real date in our year range. */
static int make_date(int year, int month, int day, struct civil *out)
{
	if (year < NLP_YEAR_MIN || year > NLP_YEAR_MAX || month < 1 || month > 12 || day < 1 ||
	    day > 31 || !civil_date_valid(year, month, day))
		return -1;
	memset(out, 0, sizeof(*out));
	out->year = year;
	out->month = month;
	out->day = day;
	return 0;
}

/* A day and month without a year: this year, or next year when that day is already past. */
static int make_date_noyear(const struct civil *today, int month, int day, struct civil *out)
{
	int year = today->year;

	if (month < today->month || (month == today->month && day < today->day))
		year++;
	return make_date(year, month, day, out);
}

static void add_days(const struct civil *today, int days, struct civil *out)
{
	memset(out, 0, sizeof(*out));
	out->year = today->year;
	out->month = today->month;
	out->day = today->day;
	civil_add_days(out, days);
}

/* One numeric token: 2026-11-15, 15.11.2026, 15.11., 15.11 (the final '.' may have been dropped
 * as punctuation), 15/11/2026 (day first). */
static int numeric_date(const char *t, const struct civil *today, struct civil *out)
{
	size_t len = strlen(t), start[3], plen[3];
	int v[3], parts = 0;
	char sep = 0;
	size_t i = 0;

	if (len == 10 && t[4] == '-' && t[7] == '-') {
		if (parse_digits(t, 4, 4, &v[0]) < 0 || parse_digits(t + 5, 2, 2, &v[1]) < 0 ||
		    parse_digits(t + 8, 2, 2, &v[2]) < 0)
			return -1;
		return make_date(v[0], v[1], v[2], out);
	}
	/* digits (sep digits){1,2} with sep '.' or '/', and for '.' an optional final '.' */
	while (i < len) {
		size_t j = i;

		while (j < len && t[j] >= '0' && t[j] <= '9')
			j++;
		if (j == i || parts == 3)
			return -1;
		start[parts] = i;
		plen[parts] = j - i;
		parts++;
		if (j == len)
			break;
		if (t[j] != '.' && t[j] != '/')
			return -1;
		if (sep && t[j] != sep)
			return -1;
		sep = t[j];
		i = j + 1;
		if (i == len && sep == '.' && parts == 2)
			break;   /* "15.11." */
		if (i == len)
			return -1;
	}
	if (parts < 2 || !sep)
		return -1;
	for (i = 0; i < (size_t)parts; i++)
		if (parse_digits(t + start[i], plen[i], i == 2 ? 4 : 2, &v[i]) < 0)
			return -1;
	if (parts == 3) {
		if (plen[2] != 4)
			return -1;
		return make_date(v[2], v[1], v[0], out);
	}
	if (sep != '.')
		return -1;   /* 15/11 without a year: not a European habit, refused */
	return make_date_noyear(today, v[1], v[0], out);
}

/* A day of the month in a phrase: "15", "15." (German), "15th" (English, the right suffix only). */
static int day_token(const char *t, int *day, unsigned *lang)
{
	size_t len = strlen(t), d = 0;
	const char *suf;

	while (d < len && t[d] >= '0' && t[d] <= '9')
		d++;
	if (parse_digits(t, d, 2, day) < 0 || *day < 1 || *day > 31)
		return -1;
	if (d == len)
		return 0;
	if (strcmp(t + d, ".") == 0) {
		*lang &= L_DE;
		return 0;
	}
	if (*day % 10 == 1 && *day != 11)
		suf = "st";
	else if (*day % 10 == 2 && *day != 12)
		suf = "nd";
	else if (*day % 10 == 3 && *day != 13)
		suf = "rd";
	else
		suf = "th";
	if (strcmp(t + d, suf) != 0)
		return -1;
	*lang &= L_EN;
	return 0;
}

static int month_token(const char *t, int *month, unsigned *lang)
{
	char tmp[32];
	size_t len = strlen(t);
	const struct word *w;

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, t, len + 1);
	if (tmp[len - 1] == '.')   /* "Nov." */
		tmp[len - 1] = '\0';
	w = FIND(months, tmp);
	if (!w || (tmp[len - 1] == '\0' && strlen(w->w) > 4))
		return -1;   /* only abbreviations take a dot */
	*month = w->val;
	*lang &= w->lang;
	return 0;
}

static int year_token(const char *t, int *year)
{
	return strlen(t) == 4 ? parse_digits(t, 4, 4, year) : -1;
}

/* "15 November [2026]", "15. November [2026]", "15 листопада [2026 [року]]",
 * "November 15[th] [2026]". */
static int month_date(char **t, int n, const struct civil *today, unsigned *lang, struct civil *out)
{
	int day, month, year = 0, rest;

	if (n < 2)
		return -1;
	if (day_token(t[0], &day, lang) == 0 && month_token(t[1], &month, lang) == 0) {
		rest = 2;
	} else if (month_token(t[0], &month, lang) == 0 && day_token(t[1], &day, lang) == 0) {
		*lang &= L_EN;
		rest = 2;
	} else {
		return -1;
	}
	if (rest < n) {
		if (year_token(t[rest], &year) < 0)
			return -1;
		rest++;
		if (rest < n) {
			const struct word *w = FIND(year_words, t[rest]);

			if (!w)
				return -1;
			*lang &= w->lang;
			rest++;
		}
	}
	if (rest != n || !*lang)
		return -1;
	return year ? make_date(year, month, day, out) : make_date_noyear(today, month, day, out);
}

/* A count: digits 1..999 or a number word. */
static int count_token(const char *t, int *v, unsigned *lang)
{
	const struct word *w = FIND(number_words, t);

	if (w) {
		*v = w->val;
		*lang &= w->lang;
		return 0;
	}
	if (t[0] == '0')
		return -1;
	return parse_digits(t, strlen(t), 3, v);
}

/* "in 3 days", "in einer Woche", "через 5 днів", "через тиждень" (no count: one). */
static int count_phrase(char **t, int n, const struct civil *today, unsigned *lang, struct civil *out)
{
	const struct word *w;
	int count = 1, unit;
	long days;

	if (strcmp(t[0], "in") == 0) {
		*lang &= L_DE | L_EN;
		if (n != 3 || count_token(t[1], &count, lang) < 0)
			return -1;
	} else if (strcmp(t[0], "через") == 0) {
		*lang &= L_CYR;
		if (n == 3) {
			if (count_token(t[1], &count, lang) < 0)
				return -1;
		} else if (n != 2) {
			return -1;
		}
	} else {
		return -1;
	}
	if ((w = FIND(day_words, t[n - 1])) != NULL)
		unit = 1;
	else if ((w = FIND(week_words, t[n - 1])) != NULL)
		unit = 7;
	else
		return -1;
	*lang &= w->lang;
	if (!*lang || count < 1 || (unit == 7 && count > NLP_MAX_WEEKS))
		return -1;
	days = (long)count * unit;
	if (days > NLP_MAX_DAYS)
		return -1;
	add_days(today, (int)days, out);
	return 0;
}

/* [next|this] weekday: the next such day after today (1..7 days ahead). */
static int weekday_phrase(char **t, int n, const struct civil *today, unsigned *lang, struct civil *out)
{
	const struct word *w;
	int delta;

	if (n == 2) {
		if (!(w = FIND(next_words, t[0])))
			return -1;
		*lang &= w->lang;
		t++;
	} else if (n != 1) {
		return -1;
	}
	if (!(w = FIND(weekdays, t[0])))
		return -1;
	*lang &= w->lang;
	if (!*lang)
		return -1;
	delta = (w->val - civil_weekday(today) + 7) % 7;
	add_days(today, delta ? delta : 7, out);
	return 0;
}

/* next week: the Monday of the following week. */
static int next_week(char **t, int n, const struct civil *today, unsigned *lang, struct civil *out)
{
	const struct word *nw, *ww;

	if (n != 2 || !(nw = FIND(next_words, t[0])) || nw->val != 1 ||
	    !(ww = FIND(week_words, t[1])) || ww->val != 1)
		return -1;
	*lang &= nw->lang & ww->lang;
	if (!*lang)
		return -1;
	add_days(today, 8 - civil_weekday(today), out);
	return 0;
}

int nlp_parse_date(const char *s, const struct civil *today, struct civil *out)
{
	char buf[NLP_INPUT_MAX + 1];
	char *tok[NLP_MAX_TOKENS];
	char **t = tok;
	const struct word *w;
	unsigned lang = L_ANY, l;
	int n, prep = P_NONE;
	struct civil res;

	if (!today || !out || !civil_date_valid(today->year, today->month, today->day))
		return -1;
	if (normalise(s, buf) < 0 || (n = tokenise(buf, tok, NLP_MAX_TOKENS)) <= 0)
		return -1;

	/* English "[the] day after tomorrow" and German "in der nächsten Woche" */
	if (n >= 3 && strcmp(t[n - 3], "day") == 0 && strcmp(t[n - 2], "after") == 0 &&
	    strcmp(t[n - 1], "tomorrow") == 0 && (n == 3 || (n == 4 && strcmp(t[0], "the") == 0))) {
		add_days(today, 2, &res);
		goto ok;
	}
	if (n == 4 && strcmp(t[0], "in") == 0 && strcmp(t[1], "der") == 0) {
		l = L_DE;
		if (next_week(t + 2, 2, today, &l, &res) == 0)
			goto ok;
		return -1;
	}

	if (n >= 2 && (w = FIND(date_preps, t[0])) != NULL) {
		prep = w->val;
		lang &= w->lang;
		t++;
		n--;
	}
	if (n == 1 && (w = FIND(rel_days, t[0])) != NULL) {
		if ((prep != P_NONE && prep != P_NA) || !(lang & w->lang))
			return -1;
		add_days(today, w->val, &res);
		goto ok;
	}
	/* each shape gets its own copy of the language mask, so a failed try narrows nothing */
	l = lang;
	if (weekday_phrase(t, n, today, &l, &res) == 0)
		goto ok;
	l = lang;
	if ((prep == P_NONE || prep == P_NA) && next_week(t, n, today, &l, &res) == 0)
		goto ok;
	l = lang;
	if (prep == P_NONE && count_phrase(t, n, today, &l, &res) == 0)
		goto ok;
	if (prep != P_V) {
		if (n == 1 && numeric_date(t[0], today, &res) == 0)
			goto ok;
		l = lang;
		if (month_date(t, n, today, &l, &res) == 0)
			goto ok;
	}
	return -1;
ok:
	*out = res;
	return 0;
}

/* The time after any preposition: H[:MM] or H.MM, then nothing, "uhr", "am"/"pm" or "a.m"/"p.m"
 * (with or without the final dot), with or without a space before it. */
int nlp_parse_time(const char *s, int *hour, int *minute)
{
	char buf[NLP_INPUT_MAX + 1];
	unsigned lang = L_ANY;
	const char *p = buf, *suf;
	size_t d;
	int h, m = 0, have_min = 0, ampm = 0;
	char sep = 0;

	if (!hour || !minute || normalise(s, buf) <= 0)
		return -1;
	suf = strchr(p, ' ');
	if (suf) {
		char first[16];
		size_t flen = (size_t)(suf - p);

		if (flen < sizeof(first)) {
			const struct word *w;

			memcpy(first, p, flen);
			first[flen] = '\0';
			if ((w = FIND(time_preps, first)) != NULL) {
				lang &= w->lang;
				p = suf + 1;
			}
		}
	}
	if (strcmp(p, "noon") == 0 || strcmp(p, "12 noon") == 0 || strcmp(p, "midnight") == 0) {
		if (!(lang & L_EN))
			return -1;
		*hour = p[0] == 'm' ? 0 : 12;
		*minute = 0;
		return 0;
	}
	for (d = 0; p[d] >= '0' && p[d] <= '9'; d++)
		;
	if (parse_digits(p, d, 2, &h) < 0)
		return -1;
	p += d;
	if ((*p == ':' || *p == '.') && p[1] >= '0' && p[1] <= '9') {
		sep = *p;
		if (parse_digits(p + 1, 2, 2, &m) < 0 || (p[3] >= '0' && p[3] <= '9'))
			return -1;
		have_min = 1;
		p += 3;
	}
	if (*p == ' ')
		p++;
	if (*p == '\0') {
		if (!have_min || sep != ':')
			return -1;   /* a bare "14" or "14.30" is not a time */
	} else if (strcmp(p, "uhr") == 0) {
		lang &= L_DE;
	} else if (strcmp(p, "am") == 0 || strcmp(p, "a.m") == 0 || strcmp(p, "a.m.") == 0) {
		lang &= L_EN;
		ampm = 1;
	} else if (strcmp(p, "pm") == 0 || strcmp(p, "p.m") == 0 || strcmp(p, "p.m.") == 0) {
		lang &= L_EN;
		ampm = 2;
	} else {
		return -1;
	}
	if (!lang || m > 59)
		return -1;
	if (sep == '.' && strcmp(p, "uhr") != 0)
		return -1;   /* 14.30 only as "14.30 Uhr" */
	if (ampm) {
		if (h < 1 || h > 12)
			return -1;
		h = h % 12 + (ampm == 2 ? 12 : 0);
	} else if (h > 23) {
		return -1;
	}
	*hour = h;
	*minute = m;
	return 0;
}
