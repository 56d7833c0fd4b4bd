/* tztime.h: civil dates and local wall-clock time in a named IANA zone <-> UTC, DST exact. */
#ifndef TF_TZTIME_H
#define TF_TZTIME_H

#include <time.h>

struct civil {
	int year, month, day;     /* proleptic Gregorian */
	int hour, minute;         /* 0..23, 0..59 */
};

/* 1 when tz names a zone this machine knows (e.g. "Europe/Berlin"), else 0. */
int tz_valid(const char *tz);
/* Local wall-clock time in tz -> UTC seconds. Returns 0, or -1 when the local time does not exist
 * (it falls into a DST gap, e.g. 02:30 on the last Sunday of March in Europe/Berlin) or tz is unknown.
 * An ambiguous time (the repeated hour in October) maps to its first (summer time) occurrence. */
int tz_local_to_utc(const char *tz, const struct civil *local, time_t *out);
/* UTC seconds -> local wall-clock time in tz. Returns 0 or -1. */
int tz_utc_to_local(const char *tz, time_t t, struct civil *out);
/* Today's date in tz at time now. */
int tz_today(const char *tz, time_t now, struct civil *out);

/* Calendar arithmetic on dates (hour/minute untouched): add days, weekday (1 = Monday .. 7 = Sunday),
 * days in month, validity. */
void civil_add_days(struct civil *c, int days);
int civil_weekday(const struct civil *c);
int civil_days_in_month(int year, int month);
int civil_date_valid(int year, int month, int day);
/* Days since 1970-01-01 for a date (may be negative); and back. */
long civil_to_days(int year, int month, int day);
void civil_from_days(long days, struct civil *out);

/* "2026-11-24" <-> date; "2026-11-24T09:00" (local) parse; "%Y-%m-%dT%H:%M:%SZ" formatting of UTC.
 * Parsers return 0 or -1 (strict: exact lengths, valid ranges). */
int civil_parse_date(const char *s, struct civil *out);
int civil_parse_datetime(const char *s, struct civil *out);
void civil_format_date(const struct civil *c, char out[11]);
/* "09:00": the local wall-clock time of t in tz ("--:--" when tz is unusable). */
void tz_format_hm(const char *tz, time_t t, char out[6]);
/* "2026-11-24T09:00": the local date and time of t in tz ("" when tz is unusable). */
void tz_format_iso_local(const char *tz, time_t t, char out[17]);
void utc_format_iso(time_t t, char out[21]);           /* 2026-11-24T08:00:00Z */
void utc_format_sql(time_t t, char out[20]);           /* 2026-11-24 08:00:00 (DATETIME) */
int utc_parse_sql(const char *s, time_t *out);         /* DATETIME text -> seconds; 0 or -1 */

#endif
