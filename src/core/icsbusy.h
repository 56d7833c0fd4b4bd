/* icsbusy.h: iCalendar import (libical): busy intervals of a calendar object, recurrences expanded. */
#ifndef TF_ICSBUSY_H
#define TF_ICSBUSY_H

#include <stddef.h>
#include <time.h>

#include "availability.h"

#define ICSBUSY_MAX_INPUT     (4 * 1024 * 1024)  /* bigger objects are refused (logged, skipped) */
#define ICSBUSY_MAX_INTERVALS 5000               /* per object, after expansion */

/* The busy time of one iCalendar object (a VCALENDAR with one or more VEVENTs: a master, its
 * RECURRENCE-ID overrides). Rules: only VEVENTs; STATUS:CANCELLED and TRANSP:TRANSPARENT are not
 * busy; all-day (VALUE=DATE) events cover whole local days in tz (the doctor's zone); recurrences
 * (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides incl. cancelled or moved instances) are expanded
 * within [from, to); TZIDs resolved from the object's VTIMEZONEs, IANA names and Windows zone
 * names ("W. Europe Standard Time"); floating times are taken in tz; DTEND missing → DURATION, or
 * the start (zero length: not busy) / one day for all-day. Intervals are UTC, sorted, merged.
 * uid_out (optional, uid_len): the object's UID (for recognising our own events): the first
 * master's (a VEVENT without RECURRENCE-ID), else the first VEVENT's; "" when there is none.
 * Returns the number of intervals (>= 0, at most ICSBUSY_MAX_INTERVALS); *out is then a malloc'd
 * array the caller frees (NULL when 0). -1 when the object cannot be used (err says why, in
 * English, for the log): too big, not iCalendar, not a VCALENDAR/VEVENT, or VEVENTs of which
 * none is usable. Decisions on malformed input are listed at the top of icsbusy.c. Thread-safe. */
long icsbusy_parse(const char *data, size_t len, const char *tz, time_t from, time_t to,
		   struct interval **out, char *uid_out, size_t uid_len, char *err, size_t errlen);

/* Map a Windows time zone name to IANA ("W. Europe Standard Time" → "Europe/Berlin"); NULL if unknown. */
const char *icsbusy_windows_zone(const char *name);

#endif
