/* holidays.h: German public holidays per Bundesland, computed (fixed dates and Easter-based). */
#ifndef TF_HOLIDAYS_H
#define TF_HOLIDAYS_H

#include <stddef.h>

/* The 16 states by their official two-letter codes. */
enum bundesland {
	BL_BW, BL_BY, BL_BE, BL_BB, BL_HB, BL_HH, BL_HE, BL_MV,
	BL_NI, BL_NW, BL_RP, BL_SL, BL_SN, BL_ST, BL_SH, BL_TH,
	BL_MAX
};

/* "BY" -> BL_BY (case-insensitive); -1 when unknown. */
int bundesland_parse(const char *code);
const char *bundesland_code(enum bundesland bl);   /* "BY" */
const char *bundesland_name(enum bundesland bl);   /* "Bayern" */

struct holiday {
	int month, day;
	const char *name;   /* German, static: "Karfreitag" */
};

/* Easter Sunday (Gregorian, anonymous algorithm) of year (1583..9999). */
void easter_sunday(int year, int *month, int *day);
/* The statewide public holidays of year in bl, in date order, into out[max]; returns how many
 * (at most 20). Rules and their first years are listed at the top of holidays.c. */
size_t holidays_for_year(int year, enum bundesland bl, struct holiday *out, size_t max);
/* 1 when y-m-d is a public holiday in bl (*name set when name != NULL), else 0. */
int holiday_is(int year, int month, int day, enum bundesland bl, const char **name);

#endif
