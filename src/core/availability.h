/* availability.h: free slots = opening hours - closures - holidays - appointments (with buffers) - busy blocks. */
#ifndef TF_AVAILABILITY_H
#define TF_AVAILABILITY_H

#include <stddef.h>
#include <time.h>

#include "db.h"
#include "holidays.h"
#include "tztime.h"

struct conf;
struct doctor;
struct practice_service;

#define AVAIL_MAX_SLOTS        (24 * 60 / 5)   /* one day at a 5-minute step */
#define AVAIL_STEP_DEFAULT     15              /* TF_SLOT_STEP_MINUTES */
#define AVAIL_LEAD_DEFAULT     120             /* TF_LEAD_TIME_MINUTES */
#define AVAIL_HORIZON_DEFAULT  180             /* TF_BOOKING_HORIZON_DAYS: no slots further ahead */

/* A half-open UTC interval [start, end). */
struct interval {
	time_t start, end;
};

/* Everything the engine needs for one local date, loaded by the caller (or avail_load).
 * Rule: a slot at local start s with duration d occupies [s - buffer_before, s + d + buffer_after);
 * an existing appointment occupies [its start - its buffer_before, its end + its buffer_after).
 * A slot is free when [s, s + d) lies inside one opening interval of that weekday, the date is not
 * closed and not a holiday, s >= now + lead, and its occupied interval overlaps no appointment's
 * occupied interval and no busy block. Slots start at opening-interval start + k * step. Local times
 * that do not exist (DST gap) are skipped; an interval crossing a DST change is measured in real
 * elapsed minutes (UTC), so a 60-minute slot is 60 real minutes. */
struct avail_day {
	const char *tz;
	struct civil date;                 /* the local date asked for */
	int open_from[8], open_to[8];      /* opening intervals of that weekday, minutes after local midnight */
	size_t nopen;
	int closed;                        /* a closure covers the date */
	int holiday;                       /* a public holiday in the doctor's Bundesland */
	const struct interval *busy;       /* appointments (already widened by their buffers) and busy blocks */
	size_t nbusy;
};
struct avail_query {
	int duration;                      /* minutes, 5..600 */
	int buffer_before, buffer_after;   /* of the service asked for */
	int step;                          /* minutes, 5..60 */
	int lead;                          /* minutes */
	time_t now;
};

/* Compute the free slot starts (UTC) of the day, ascending, into out[max]; returns how many. */
size_t avail_slots(const struct avail_day *day, const struct avail_query *q, time_t *out, size_t max);

/* Load a doctor's day from the database (opening hours, closures, holidays of the doctor's
 * Bundesland, confirmed appointments and busy blocks overlapping the day widened by 24 h) and
 * compute its slots. exclude_appointment: an appointment id to ignore (rescheduling), or 0.
 * Returns the count (>= 0) or -1 on a database error. Use inside the booking transaction too. */
struct doctor;
long avail_doctor_day(struct db *db, const struct doctor *d, const struct civil *date,
		      const struct avail_query *q, long long exclude_appointment, time_t *out, size_t max);

/* The seed's summary text: "Available times: 9:00 AM, 11:00 AM" (local times, 12-hour clock);
 * "No available times." when n == 0. Appends to b; 0 or -1. */
struct buf;
int avail_summary(const char *tz, const time_t *slots, size_t n, struct buf *b);

/* Booking limits from the configuration: TF_SLOT_STEP_MINUTES (5..60, default 15),
 * TF_LEAD_TIME_MINUTES (0..43200, default 120), TF_BOOKING_HORIZON_DAYS (1..3650, default 180).
 * 0, or -1 with a log line naming the malformed setting. */
struct avail_limits {
	long step, lead, horizon_days;
};
int avail_limits_get(struct conf *c, struct avail_limits *out);

/* The free slot starts (UTC) of a doctor's local date for a service (its buffers; duration > 0
 * overrides its duration; svc NULL = no buffers) into out[max], with the configured limits. Dates
 * before today or beyond the horizon have none. Returns the count, or -1 (database or settings).
 * The one slot query of pages, the slots API and the booking assistant. */
long avail_service_day(struct db *db, struct conf *c, const struct doctor *d,
		       const struct civil *date, const struct practice_service *svc, int duration,
		       time_t now, time_t *out, size_t max);

#endif
