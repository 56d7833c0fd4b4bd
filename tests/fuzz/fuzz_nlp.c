/* fuzz_nlp.c: nlp_parse_date and nlp_parse_time on arbitrary bytes: results in range, and the same
 * answer for the input with ASCII letters in capitals and with a space appended. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nlp.h"
#include "tztime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct civil todays[] = {
	{ 2026, 11, 19, 0, 0 },   /* Thursday */
	{ 2026, 11, 22, 0, 0 },   /* Sunday */
	{ 2026, 12, 30, 0, 0 },   /* end of the year */
	{ 2028, 2, 29, 0, 0 },    /* leap day */
};

static int same_date(const struct civil *a, const struct civil *b)
{
	return a->year == b->year && a->month == b->month && a->day == b->day &&
	       a->hour == b->hour && a->minute == b->minute;
}

/* Parse s both ways and check the results; *rd / *rt get the return codes. */
static void check(const char *s, size_t ti, int *rd, struct civil *d, int *rt, int *h, int *m)
{
	*rd = nlp_parse_date(s, &todays[ti], d);
	if (*rd != 0 && *rd != -1)
		abort();
	if (*rd == 0 && (!civil_date_valid(d->year, d->month, d->day) || d->hour != 0 || d->minute != 0 ||
			 d->year < 1900 || d->year > 2200))
		abort();
	*rt = nlp_parse_time(s, h, m);
	if (*rt != 0 && *rt != -1)
		abort();
	if (*rt == 0 && (*h < 0 || *h > 23 || *m < 0 || *m > 59))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *v;
	size_t i, ti;

	if (size > 4 * NLP_INPUT_MAX)
		return 0;
	s = malloc(size + 1);
	v = malloc(size + 2);
	if (!s || !v)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	for (ti = 0; ti < sizeof(todays) / sizeof(todays[0]); ti++) {
		struct civil d1, d2;
		int rd1, rd2, rt1, rt2, h1, h2, m1, m2;

		check(s, ti, &rd1, &d1, &rt1, &h1, &m1);
		/* ASCII capitals: the same answer */
		for (i = 0; i <= size; i++)
			v[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 0x20) : s[i];
		check(v, ti, &rd2, &d2, &rt2, &h2, &m2);
		if (rd1 != rd2 || rt1 != rt2 || (rd1 == 0 && !same_date(&d1, &d2)) ||
		    (rt1 == 0 && (h1 != h2 || m1 != m2)))
			abort();
		/* a trailing space: the same answer while within the size limit */
		if (strlen(s) + 1 <= NLP_INPUT_MAX) {
			size_t len = strlen(s);

			memcpy(v, s, len);
			v[len] = ' ';
			v[len + 1] = '\0';
			check(v, ti, &rd2, &d2, &rt2, &h2, &m2);
			if (rd1 != rd2 || rt1 != rt2 || (rd1 == 0 && !same_date(&d1, &d2)) ||
			    (rt1 == 0 && (h1 != h2 || m1 != m2)))
				abort();
		}
	}
	free(s);
	free(v);
	return 0;
}
