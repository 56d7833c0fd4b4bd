/* availability.c: free slots of a doctor's day = opening hours - closures - holidays - appointments - busy blocks. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "availability.h"
#include "conf.h"
#include "doctor.h"
#include "log.h"
#include "practice.h"
#include "util.h"

#define AVAIL_MAX_OPEN      8
#define AVAIL_MAX_BUFFER    (24 * 60)   /* minutes; buffers beyond a day are refused */
#define AVAIL_BUSY_STACK    64
#define AVAIL_ROWS_MAX      10000       /* appointments or busy blocks read for one day */
#define AVAIL_CAND_MAX      (AVAIL_MAX_OPEN * (24 * 60 / 5 + 1))

/* UTC instant of local minute m (0 .. 1440, may reach into the next day) of date; -1 when that
 * local time does not exist (DST gap). */
static int local_minute(const char *tz, const struct civil *date, int m, time_t *out)
{
	struct civil c = *date;

	c.hour = 0;
	c.minute = 0;
	if (m >= 24 * 60) {
		civil_add_days(&c, m / (24 * 60));
		m %= 24 * 60;
	}
	c.hour = m / 60;
	c.minute = m % 60;
	return tz_local_to_utc(tz, &c, out);
}

/* An opening interval's boundary: the instant of local minute m, or, when m falls into a DST gap,
 * the end of the gap (the first local minute after it that exists). */
static int boundary(const char *tz, const struct civil *date, int m, time_t *out)
{
	for (int k = 0; k <= 180; k++)
		if (local_minute(tz, date, m + k, out) == 0)
			return 0;
	return -1;
}

static int cmp_interval(const void *a, const void *b)
{
	const struct interval *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

static int cmp_time(const void *a, const void *b)
{
	time_t x = *(const time_t *)a, y = *(const time_t *)b;
	return (x > y) - (x < y);
}

/* Sort and merge the busy intervals in place (empty ones dropped); returns the new count. */
static size_t merge_busy(struct interval *v, size_t n)
{
	size_t k = 0;

	qsort(v, n, sizeof(*v), cmp_interval);
	for (size_t i = 0; i < n; i++) {
		if (v[i].end <= v[i].start)
			continue;
		if (k > 0 && v[i].start <= v[k - 1].end) {
			if (v[i].end > v[k - 1].end)
				v[k - 1].end = v[i].end;
		} else {
			v[k++] = v[i];
		}
	}
	return k;
}

/* A cursor over the busy time: merged and sorted (fast path, queries with ascending starts), or,
 * when no scratch memory could be had, the caller's raw list scanned whole for each query. */
struct busy_cursor {
	const struct interval *v;
	size_t n, j;
	int merged;
};

static int busy_overlaps(struct busy_cursor *c, time_t a, time_t b)
{
	if (!c->merged) {
		for (size_t i = 0; i < c->n; i++)
			if (c->v[i].start < b && a < c->v[i].end)
				return 1;
		return 0;
	}
	while (c->j < c->n && c->v[c->j].end <= a)
		c->j++;
	return c->j < c->n && c->v[c->j].start < b;
}

static int query_ok(const struct avail_query *q)
{
	return q && q->duration >= 5 && q->duration <= 600 && q->step >= 5 && q->step <= 60 &&
	       q->lead >= 0 && q->lead <= 366 * 24 * 60 && q->buffer_before >= 0 &&
	       q->buffer_before <= AVAIL_MAX_BUFFER && q->buffer_after >= 0 &&
	       q->buffer_after <= AVAIL_MAX_BUFFER;
}

size_t avail_slots(const struct avail_day *day, const struct avail_query *q, time_t *out, size_t max)
{
	struct interval stack_busy[AVAIL_BUSY_STACK], *scratch = NULL;
	struct busy_cursor cur = { 0 };
	time_t *cand = NULL;
	size_t ncand = 0, n = 0;
	time_t earliest;

	if (!day || !out || max == 0 || !query_ok(q) || day->closed || day->holiday ||
	    day->nopen == 0 || day->nopen > AVAIL_MAX_OPEN || (day->nbusy && !day->busy) ||
	    !civil_date_valid(day->date.year, day->date.month, day->date.day))
		return 0;
	cand = malloc(AVAIL_CAND_MAX * sizeof(*cand));
	if (!cand) {
		log_error("availability: out of memory");
		return 0;
	}

	/* busy time: merged copy when possible, O(busy log busy) once, then one pass per interval */
	cur.v = day->busy;
	cur.n = day->nbusy;
	if (day->nbusy <= AVAIL_BUSY_STACK)
		scratch = stack_busy;
	else
		scratch = malloc(day->nbusy * sizeof(*scratch));
	if (scratch) {
		if (day->nbusy)
			memcpy(scratch, day->busy, day->nbusy * sizeof(*scratch));
		cur.v = scratch;
		cur.n = merge_busy(scratch, day->nbusy);
		cur.merged = 1;
	}

	earliest = q->now + (time_t)q->lead * 60;
	for (size_t i = 0; i < day->nopen; i++) {
		int from = day->open_from[i], to = day->open_to[i];
		time_t ustart, ustop;

		if (from < 0 || to > 24 * 60 || from >= to)
			continue;
		if (boundary(day->tz, &day->date, from, &ustart) < 0 ||
		    boundary(day->tz, &day->date, to, &ustop) < 0)
			continue;
		cur.j = 0;
		/* whether the slot fits is decided in real time (ustop), not in local minutes */
		for (int m = from; m < to; m += q->step) {
			time_t s, e;

			/* local times in a DST gap are no slot starts */
			if (local_minute(day->tz, &day->date, m, &s) < 0)
				continue;
			e = s + (time_t)q->duration * 60;   /* real minutes */
			if (s < ustart || e > ustop)
				continue;
			if (s < earliest)
				continue;
			if (busy_overlaps(&cur, s - (time_t)q->buffer_before * 60,
					  e + (time_t)q->buffer_after * 60))
				continue;
			if (ncand < AVAIL_CAND_MAX)
				cand[ncand++] = s;
		}
	}

	/* several intervals may be given in any order or overlap: ascending, each start once */
	qsort(cand, ncand, sizeof(*cand), cmp_time);
	for (size_t i = 0; i < ncand && n < max; i++)
		if (n == 0 || cand[i] != out[n - 1])
			out[n++] = cand[i];

	if (scratch && scratch != stack_busy)
		free(scratch);
	free(cand);
	return n;
}

/* A public holiday of the doctor's state; with an unknown state code only the nationwide ones
 * (those of every state) count. */
static int doctor_holiday(const struct doctor *d, const struct civil *date)
{
	int bl = bundesland_parse(d->bundesland);

	if (bl >= 0)
		return holiday_is(date->year, date->month, date->day, (enum bundesland)bl, NULL);
	log_warn("availability: doctor %lld has an unknown Bundesland; only nationwide holidays apply",
		 d->id);
	for (int i = 0; i < BL_MAX; i++)
		if (!holiday_is(date->year, date->month, date->day, (enum bundesland)i, NULL))
			return 0;
	return 1;
}

/* Read rows of (start_utc, end_utc[, buffer_before, buffer_after]) into busy[*nbusy ..], widened
 * by the buffers when with_buffers. Returns 0 or -1. */
static int add_busy_rows(const struct db_rows *r, int with_buffers, struct interval *busy,
			 size_t *nbusy, size_t cap)
{
	for (size_t i = 0; i < r->nrows; i++) {
		time_t s, e;
		if (*nbusy >= cap)
			return -1;
		if (utc_parse_sql(db_cell(r, i, 0), &s) < 0 || utc_parse_sql(db_cell(r, i, 1), &e) < 0) {
			log_error("availability: unreadable time in a busy row");
			return -1;
		}
		if (with_buffers) {
			s -= (time_t)db_cell_int(r, i, 2, 0) * 60;
			e += (time_t)db_cell_int(r, i, 3, 0) * 60;
		}
		busy[(*nbusy)++] = (struct interval){ .start = s, .end = e };
	}
	return 0;
}

long avail_doctor_day(struct db *db, const struct doctor *d, const struct civil *date,
		      const struct avail_query *q, long long exclude_appointment, time_t *out, size_t max)
{
	struct db_rows hours = { 0 }, closed = { 0 }, appts = { 0 }, blocks = { 0 };
	struct avail_day day = { 0 };
	struct interval *busy = NULL;
	size_t nbusy = 0;
	char date_s[11], from_s[20], to_s[20];
	time_t day_start, day_end;
	long rc = -1;

	if (!db || !d || !date || !q || !out ||
	    !civil_date_valid(date->year, date->month, date->day))
		return -1;
	if (!tz_valid(d->timezone)) {
		log_error("availability: doctor %lld has an unknown time zone", d->id);
		return -1;
	}
	day.tz = d->timezone;
	day.date = (struct civil){ .year = date->year, .month = date->month, .day = date->day };
	civil_format_date(&day.date, date_s);
	if (boundary(day.tz, &day.date, 0, &day_start) < 0 ||
	    boundary(day.tz, &day.date, 24 * 60, &day_end) < 0) {
		log_error("availability: cannot place %s in %s", date_s, day.tz);
		return -1;
	}

	/* opening hours of the weekday (1 = Monday, as in opening_hours.weekday) */
	if (db_query(db, STMT_AVAIL_OPENING_HOURS,
		     DB_ARGS(DBP_INT(d->id), DBP_INT(civil_weekday(&day.date))), &hours) != TF_OK)
		goto out;
	if (hours.nrows > AVAIL_MAX_OPEN)
		log_warn("availability: doctor %lld has more than %d intervals on weekday %d; the first %d count",
			 d->id, AVAIL_MAX_OPEN, civil_weekday(&day.date), AVAIL_MAX_OPEN);
	for (size_t i = 0; i < hours.nrows && day.nopen < AVAIL_MAX_OPEN; i++) {
		day.open_from[day.nopen] = (int)db_cell_int(&hours, i, 0, -1);
		day.open_to[day.nopen] = (int)db_cell_int(&hours, i, 1, -1);
		day.nopen++;
	}
	if (db_query(db, STMT_AVAIL_CLOSED, DB_ARGS(DBP_INT(d->id), DBP_TEXT(date_s), DBP_TEXT(date_s)),
		     &closed) != TF_OK)
		goto out;
	day.closed = closed.nrows > 0 && db_cell_int(&closed, 0, 0, 0) > 0;
	day.holiday = doctor_holiday(d, &day.date);
	if (day.nopen == 0 || day.closed || day.holiday) {
		rc = 0;
		goto out;
	}

	/* appointments (widened by their own buffers) and busy blocks near the day */
	utc_format_sql(day_start - 86400, from_s);
	utc_format_sql(day_end + 86400, to_s);
	if (db_query(db, STMT_AVAIL_APPOINTMENTS,
		     DB_ARGS(DBP_INT(d->id), DBP_INT(exclude_appointment), DBP_TEXT(to_s), DBP_TEXT(from_s)),
		     &appts) != TF_OK)
		goto out;
	if (db_query(db, STMT_AVAIL_BUSY_BLOCKS,
		     DB_ARGS(DBP_INT(d->id), DBP_TEXT(to_s), DBP_TEXT(from_s)), &blocks) != TF_OK)
		goto out;
	if (appts.nrows > AVAIL_ROWS_MAX || blocks.nrows > AVAIL_ROWS_MAX) {
		log_error("availability: doctor %lld has more than %d appointments or busy blocks around %s",
			  d->id, AVAIL_ROWS_MAX, date_s);
		goto out;
	}
	busy = malloc((appts.nrows + blocks.nrows + 1) * sizeof(*busy));
	if (!busy) {
		log_error("availability: out of memory");
		goto out;
	}
	if (add_busy_rows(&appts, 1, busy, &nbusy, appts.nrows + blocks.nrows) < 0 ||
	    add_busy_rows(&blocks, 0, busy, &nbusy, appts.nrows + blocks.nrows) < 0)
		goto out;
	day.busy = busy;
	day.nbusy = nbusy;
	rc = (long)avail_slots(&day, q, out, max);
out:
	db_rows_free(&hours);
	db_rows_free(&closed);
	db_rows_free(&appts);
	db_rows_free(&blocks);
	free(busy);
	return rc;
}

int avail_summary(const char *tz, const time_t *slots, size_t n, struct buf *b)
{
	if (!b || (n && !slots))
		return -1;
	if (n == 0)
		return buf_puts(b, "No available times.");
	if (buf_puts(b, "Available times: ") < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct civil c;
		int h12;
		if (tz_utc_to_local(tz, slots[i], &c) < 0)
			return -1;
		h12 = c.hour % 12 == 0 ? 12 : c.hour % 12;
		if (buf_printf(b, "%s%d:%02d %s", i ? ", " : "", h12, c.minute, c.hour < 12 ? "AM" : "PM") < 0)
			return -1;
	}
	return 0;
}

int avail_limits_get(struct conf *c, struct avail_limits *out)
{
	char err[256];

	err[0] = '\0';
	if (conf_get_long(c, "TF_SLOT_STEP_MINUTES", AVAIL_STEP_DEFAULT, 5, 60, &out->step, err,
			  sizeof(err)) < 0 ||
	    conf_get_long(c, "TF_LEAD_TIME_MINUTES", AVAIL_LEAD_DEFAULT, 0, 43200, &out->lead, err,
			  sizeof(err)) < 0 ||
	    conf_get_long(c, "TF_BOOKING_HORIZON_DAYS", AVAIL_HORIZON_DEFAULT, 1, 3650,
			  &out->horizon_days, err, sizeof(err)) < 0) {
		log_error("booking settings: %s", err);
		return -1;
	}
	return 0;
}

long avail_service_day(struct db *db, struct conf *c, const struct doctor *d,
		       const struct civil *date, const struct practice_service *svc, int duration,
		       time_t now, time_t *out, size_t max)
{
	struct avail_limits lim;
	struct avail_query q;
	struct civil today;
	long days;

	if (avail_limits_get(c, &lim) < 0 || tz_today(d->timezone, now, &today) < 0)
		return -1;
	days = civil_to_days(date->year, date->month, date->day) -
	       civil_to_days(today.year, today.month, today.day);
	if (days < 0 || days > lim.horizon_days)
		return 0;
	memset(&q, 0, sizeof(q));
	q.duration = duration > 0 ? duration : (svc ? svc->duration : 0);
	q.buffer_before = svc ? svc->buffer_before : 0;
	q.buffer_after = svc ? svc->buffer_after : 0;
	q.step = (int)lim.step;
	q.lead = (int)lim.lead;
	q.now = now;
	if (q.duration < 5 || q.duration > 600)
		return 0;
	return avail_doctor_day(db, d, date, &q, 0, out, max);
}
