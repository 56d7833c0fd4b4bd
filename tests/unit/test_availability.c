/* test_availability.c: the slot engine without a database: edges of intervals, buffers, busy time,
 * lead time, closed days, steps, DST days in Europe/Berlin, and the summary text. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "availability.h"
#include "util.h"

#define BERLIN "Europe/Berlin"
#define HM(h, m) ((h) * 60 + (m))

static time_t utc(int y, int mo, int d, int h, int mi)
{
	return (time_t)(civil_to_days(y, mo, d) * 86400L + h * 3600 + mi * 60);
}

/* Berlin local time of a day -> UTC (must exist). */
static time_t berlin(int y, int mo, int d, int h, int mi)
{
	struct civil c = { y, mo, d, h, mi };
	time_t t;
	assert_int_equal(tz_local_to_utc(BERLIN, &c, &t), 0);
	return t;
}

/* A Tuesday in winter time (UTC+1). */
static struct avail_day tuesday(void)
{
	struct avail_day day = { .tz = BERLIN, .date = { 2026, 11, 24, 0, 0 } };
	return day;
}

static void open_add(struct avail_day *day, int from, int to)
{
	day->open_from[day->nopen] = from;
	day->open_to[day->nopen] = to;
	day->nopen++;
}

static struct avail_query query(int duration, int step)
{
	struct avail_query q = {
		.duration = duration, .step = step, .lead = 0, .now = utc(2026, 1, 1, 0, 0),
	};
	return q;
}

/* The slots as "HH:MM HH:MM ..." in Berlin local time. */
static char *local_list(const time_t *s, size_t n)
{
	static char out[4096];
	size_t pos = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		struct civil c;
		assert_int_equal(tz_utc_to_local(BERLIN, s[i], &c), 0);
		pos += (size_t)snprintf(out + pos, sizeof(out) - pos, "%s%02d:%02d", i ? " " : "", c.hour,
					c.minute);
		assert_true(pos < sizeof(out));
	}
	return out;
}

static size_t run(const struct avail_day *day, const struct avail_query *q, time_t *out)
{
	size_t n = avail_slots(day, q, out, AVAIL_MAX_SLOTS);
	for (size_t i = 1; i < n; i++)
		assert_true(out[i - 1] < out[i]);   /* ascending, no duplicates */
	return n;
}

static void interval_edges(void **state)
{
	struct avail_day day = tuesday();
	struct avail_query q = query(60, 15);
	time_t s[AVAIL_MAX_SLOTS];
	size_t n;

	(void)state;
	/* exactly fitting */
	open_add(&day, HM(9, 0), HM(10, 0));
	n = run(&day, &q, s);
	assert_int_equal(n, 1);
	assert_int_equal(s[0], utc(2026, 11, 24, 8, 0));
	/* one minute short: nothing */
	day.open_to[0] = HM(9, 59);
	assert_int_equal(run(&day, &q, s), 0);
	/* a slot ending at closing time is allowed, one a minute over is not */
	day.open_to[0] = HM(12, 0);
	q = query(30, 30);
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "09:00 09:30 10:00 10:30 11:00 11:30");
	day.open_to[0] = HM(10, 59);
	q = query(60, 60);
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "09:00");
	/* up to midnight */
	day.open_from[0] = HM(22, 0);
	day.open_to[0] = 24 * 60;
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "22:00 23:00");
}

static void buffers_both_sides(void **state)
{
	struct avail_day day = tuesday();
	struct avail_query q = query(30, 15);
	struct interval busy[] = { { berlin(2026, 11, 24, 10, 0), berlin(2026, 11, 24, 10, 30) } };
	time_t s[AVAIL_MAX_SLOTS];
	size_t n;

	(void)state;
	open_add(&day, HM(8, 0), HM(12, 0));
	day.busy = busy;
	day.nbusy = 1;
	q.buffer_before = 15;
	q.buffer_after = 15;
	/* occupied [s - 15, s + 45) must miss [10:00, 10:30) */
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n),
			    "08:00 08:15 08:30 08:45 09:00 09:15 10:45 11:00 11:15 11:30");
	/* without buffers the slot right before and right after touch the appointment */
	q.buffer_before = q.buffer_after = 0;
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n),
			    "08:00 08:15 08:30 08:45 09:00 09:15 09:30 10:30 10:45 11:00 11:15 11:30");
	/* only a buffer after: the slot before (09:30-10:00 + 10) collides */
	q.buffer_after = 10;
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n),
			    "08:00 08:15 08:30 08:45 09:00 09:15 10:30 10:45 11:00 11:15 11:30");
}

static void back_to_back(void **state)
{
	struct avail_day day = tuesday();
	struct avail_query q = query(30, 30);
	time_t s[AVAIL_MAX_SLOTS];
	size_t n;

	(void)state;
	open_add(&day, HM(9, 0), HM(11, 0));
	/* two appointments back to back, no buffers */
	struct interval busy[] = {
		{ berlin(2026, 11, 24, 9, 30), berlin(2026, 11, 24, 10, 0) },
		{ berlin(2026, 11, 24, 9, 0), berlin(2026, 11, 24, 9, 30) },
	};
	day.busy = busy;
	day.nbusy = 2;
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "10:00 10:30");
	/* the second appointment had a 10-minute buffer after it (the caller widens): 10:00 is gone */
	busy[0].end += 10 * 60;
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "10:30");
	/* and a 10-minute buffer before the new slot also reaches back into it */
	busy[0].end -= 10 * 60;
	q.buffer_before = 10;
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "10:30");
	q.buffer_before = 0;
	q.step = 15;
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "10:00 10:15 10:30");
}

static void busy_block_partial(void **state)
{
	struct avail_day day = tuesday();
	struct avail_query q = query(30, 15);
	struct interval busy[] = {
		{ berlin(2026, 11, 24, 8, 50), berlin(2026, 11, 24, 9, 10) },   /* starts before opening */
		{ berlin(2026, 11, 24, 10, 45), berlin(2026, 11, 24, 11, 30) }, /* reaches past closing */
	};
	time_t s[AVAIL_MAX_SLOTS];
	size_t n;

	(void)state;
	open_add(&day, HM(9, 0), HM(11, 0));
	day.busy = busy;
	day.nbusy = 2;
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "09:15 09:30 09:45 10:00 10:15");
	/* a block covering the whole day; a nested one inside it; an empty one */
	struct interval big[] = {
		{ berlin(2026, 11, 24, 9, 20), berlin(2026, 11, 24, 9, 25) },
		{ berlin(2026, 11, 24, 0, 0), berlin(2026, 11, 25, 0, 0) },
		{ berlin(2026, 11, 24, 12, 0), berlin(2026, 11, 24, 12, 0) },
	};
	day.busy = big;
	day.nbusy = 3;
	assert_int_equal(run(&day, &q, s), 0);
	/* an empty interval blocks nothing */
	day.busy = big + 2;
	day.nbusy = 1;
	assert_int_equal(run(&day, &q, s), 7);
}

static void lead_time(void **state)
{
	struct avail_day day = tuesday();
	struct avail_query q = query(30, 30);
	time_t s[AVAIL_MAX_SLOTS];
	size_t n;

	(void)state;
	open_add(&day, HM(8, 0), HM(12, 0));
	q.lead = 120;
	q.now = berlin(2026, 11, 24, 7, 0);   /* earliest start exactly 09:00 */
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "09:00 09:30 10:00 10:30 11:00 11:30");
	q.now += 1;
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "09:30 10:00 10:30 11:00 11:30");
	/* a past day, and today after closing */
	q.now = utc(2026, 11, 25, 9, 0);
	assert_int_equal(run(&day, &q, s), 0);
	q.now = berlin(2026, 11, 24, 11, 31);
	q.lead = 0;
	assert_int_equal(run(&day, &q, s), 0);
	q.now = berlin(2026, 11, 24, 11, 30);
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "11:30");
}

static void closed_and_holiday(void **state)
{
	struct avail_day day = tuesday();
	struct avail_query q = query(30, 30);
	time_t s[AVAIL_MAX_SLOTS];

	(void)state;
	open_add(&day, HM(8, 0), HM(12, 0));
	assert_int_equal(run(&day, &q, s), 8);
	day.closed = 1;
	assert_int_equal(run(&day, &q, s), 0);
	day.closed = 0;
	day.holiday = 1;
	assert_int_equal(run(&day, &q, s), 0);
	day.holiday = 0;
	day.nopen = 0;   /* no opening hours that weekday */
	assert_int_equal(run(&day, &q, s), 0);
}

static void several_intervals(void **state)
{
	struct avail_day day = tuesday();
	struct avail_query q = query(30, 30);
	time_t s[AVAIL_MAX_SLOTS];
	size_t n;

	(void)state;
	open_add(&day, HM(14, 0), HM(18, 0));   /* given out of order */
	open_add(&day, HM(8, 0), HM(12, 0));
	n = run(&day, &q, s);
	assert_int_equal(n, 16);
	assert_string_equal(local_list(s, 2), "08:00 08:30");
	assert_string_equal(local_list(s + 8, 2), "14:00 14:30");
	/* adjacent intervals: a slot must lie inside one of them */
	day.nopen = 0;
	open_add(&day, HM(8, 0), HM(10, 0));
	open_add(&day, HM(10, 0), HM(12, 0));
	q = query(60, 30);
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "08:00 08:30 09:00 10:00 10:30 11:00");
	/* overlapping intervals give each start once */
	day.nopen = 0;
	open_add(&day, HM(8, 0), HM(11, 0));
	open_add(&day, HM(9, 0), HM(12, 0));
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "08:00 08:30 09:00 09:30 10:00 10:30 11:00");
	/* eight intervals; bad ones (empty, reversed, past midnight) are ignored */
	day.nopen = 0;
	for (int h = 8; h < 16; h++)
		open_add(&day, HM(h, 0), HM(h, 45));
	day.open_from[7] = HM(16, 0);
	day.open_to[7] = HM(15, 0);
	day.open_to[6] = 24 * 60 + 30;
	q = query(45, 15);
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "08:00 09:00 10:00 11:00 12:00 13:00");
}

static void steps(void **state)
{
	struct avail_day day = tuesday();
	time_t s[AVAIL_MAX_SLOTS];
	struct avail_query q;

	(void)state;
	open_add(&day, HM(9, 0), HM(10, 0));
	q = query(5, 5);
	assert_int_equal(run(&day, &q, s), 12);
	q = query(15, 15);
	assert_int_equal(run(&day, &q, s), 4);
	q = query(15, 30);
	assert_int_equal(run(&day, &q, s), 2);
	q = query(15, 60);
	assert_int_equal(run(&day, &q, s), 1);
	/* a whole day at a 5-minute step: the most slots there can be */
	day.open_from[0] = 0;
	day.open_to[0] = 24 * 60;
	q = query(5, 5);
	assert_int_equal(run(&day, &q, s), AVAIL_MAX_SLOTS);
	/* a long practice day, 60-minute service at a 5-minute step */
	day.open_from[0] = HM(8, 0);
	day.open_to[0] = HM(18, 0);
	q = query(60, 5);
	assert_int_equal(run(&day, &q, s), 109);
	/* output capped at max, first ones kept */
	assert_int_equal(avail_slots(&day, &q, s, 3), 3);
	assert_int_equal(s[2], berlin(2026, 11, 24, 8, 10));
	/* out-of-range queries give nothing */
	q = query(4, 5);
	assert_int_equal(run(&day, &q, s), 0);
	q = query(601, 5);
	assert_int_equal(run(&day, &q, s), 0);
	q = query(30, 61);
	assert_int_equal(run(&day, &q, s), 0);
	q = query(30, 0);
	assert_int_equal(run(&day, &q, s), 0);
	q = query(30, 15);
	q.buffer_before = -1;
	assert_int_equal(run(&day, &q, s), 0);
	day.date.day = 31;   /* 2026-11-31 */
	q = query(30, 15);
	assert_int_equal(run(&day, &q, s), 0);
}

static void dst_march(void **state)
{
	struct avail_day day = { .tz = BERLIN, .date = { 2026, 3, 29, 0, 0 } };
	struct avail_query q = query(60, 60);
	time_t s[AVAIL_MAX_SLOTS];
	size_t n;

	(void)state;
	open_add(&day, HM(0, 0), HM(6, 0));
	n = run(&day, &q, s);
	/* 02:00 does not exist; 05:00 CEST ends at 06:00 CEST = 04:00Z, the closing time */
	assert_string_equal(local_list(s, n), "00:00 01:00 03:00 04:00 05:00");
	assert_int_equal(s[0], utc(2026, 3, 28, 23, 0));
	assert_int_equal(s[1], utc(2026, 3, 29, 0, 0));
	assert_int_equal(s[2], utc(2026, 3, 29, 1, 0));
	assert_int_equal(s[4], utc(2026, 3, 29, 3, 0));
	q = query(60, 30);
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "00:00 00:30 01:00 01:30 03:00 03:30 04:00 04:30 05:00");
	/* the 01:30 slot crosses the change: 60 real minutes, ending at 03:30 local */
	assert_int_equal(s[3], utc(2026, 3, 29, 0, 30));
	struct civil end;
	assert_int_equal(tz_utc_to_local(BERLIN, s[3] + 3600, &end), 0);
	assert_int_equal(end.hour * 100 + end.minute, 330);
	/* a 90-minute service in 01:00-04:00 (three local hours, two real ones) */
	day.open_from[0] = HM(1, 0);
	day.open_to[0] = HM(4, 0);
	q = query(90, 30);
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "01:00 01:30");
	/* an interval starting inside the gap begins when the gap ends */
	day.open_from[0] = HM(2, 30);
	day.open_to[0] = HM(4, 0);
	q = query(60, 30);
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "03:00");
	/* 2025's change (30 March) too */
	day.date = (struct civil){ 2025, 3, 30, 0, 0 };
	day.open_from[0] = HM(1, 0);
	day.open_to[0] = HM(4, 0);
	q = query(60, 60);
	q.now = utc(2025, 1, 1, 0, 0);
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "01:00 03:00");
}

static void dst_october(void **state)
{
	struct avail_day day = { .tz = BERLIN, .date = { 2026, 10, 25, 0, 0 } };
	struct avail_query q = query(60, 60);
	time_t s[AVAIL_MAX_SLOTS];
	size_t n;

	(void)state;
	open_add(&day, HM(0, 0), HM(6, 0));
	n = run(&day, &q, s);
	/* 02:00 once (the summer-time instance), no slot twice, none overlapping */
	assert_string_equal(local_list(s, n), "00:00 01:00 02:00 03:00 04:00 05:00");
	assert_int_equal(s[2], utc(2026, 10, 25, 0, 0));
	assert_int_equal(s[3], utc(2026, 10, 25, 2, 0));
	for (size_t i = 1; i < n; i++)
		assert_true(s[i] >= s[i - 1] + 3600);
	/* step 15: every local start once, ascending */
	q = query(60, 15);
	n = run(&day, &q, s);
	assert_int_equal(n, 21);   /* 00:00 .. 05:00 */
	for (size_t i = 1; i < n; i++) {
		struct civil a, b;
		assert_int_equal(tz_utc_to_local(BERLIN, s[i - 1], &a), 0);
		assert_int_equal(tz_utc_to_local(BERLIN, s[i], &b), 0);
		assert_true(a.hour * 60 + a.minute < b.hour * 60 + b.minute);
	}
	/* 02:30 CEST + 60 real minutes = 02:30 CET, inside 00:00-03:00 */
	day.open_to[0] = HM(3, 0);
	q = query(60, 30);
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "00:00 00:30 01:00 01:30 02:00 02:30");
	/* a busy block in the second 02:00-03:00 hour (01:00Z-02:00Z) blocks only slots reaching into it */
	struct interval busy[] = { { utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 2, 0) } };
	day.busy = busy;
	day.nbusy = 1;
	n = run(&day, &q, s);
	assert_string_equal(local_list(s, n), "00:00 00:30 01:00 01:30 02:00");
}

/* Straightforward reference for the random comparison below: every busy interval checked for
 * every candidate. */
static size_t reference(const struct avail_day *day, const struct avail_query *q, time_t *out)
{
	size_t n = 0;
	for (int m = 0; m < 24 * 60; m++) {
		struct civil c = day->date;
		time_t s;
		int ok = 0;
		c.hour = m / 60;
		c.minute = m % 60;
		if (tz_local_to_utc(day->tz, &c, &s) < 0)
			continue;
		for (size_t i = 0; i < day->nopen && !ok; i++) {
			struct civil cf = day->date, ct = day->date;
			time_t f, t;
			if (m < day->open_from[i] || m >= day->open_to[i] ||
			    (m - day->open_from[i]) % q->step != 0)
				continue;
			cf.hour = day->open_from[i] / 60;
			cf.minute = day->open_from[i] % 60;
			ct.hour = day->open_to[i] / 60;
			ct.minute = day->open_to[i] % 60;
			if (day->open_to[i] == 24 * 60) {
				civil_add_days(&ct, 1);
				ct.hour = ct.minute = 0;
			}
			assert_int_equal(tz_local_to_utc(day->tz, &cf, &f), 0);
			assert_int_equal(tz_local_to_utc(day->tz, &ct, &t), 0);
			ok = s >= f && s + q->duration * 60 <= t;
		}
		if (!ok || s < q->now + q->lead * 60)
			continue;
		for (size_t i = 0; i < day->nbusy && ok; i++)
			if (day->busy[i].start < s + (q->duration + q->buffer_after) * 60 &&
			    s - q->buffer_before * 60 < day->busy[i].end)
				ok = 0;
		if (ok)
			out[n++] = s;
	}
	return n;
}

static uint64_t rnd_state = 12345;

static int rnd(int k)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (int)(rnd_state % (uint64_t)k);
}

static void random_against_reference(void **state)
{
	static struct interval busy[300];
	time_t a[AVAIL_MAX_SLOTS], b[24 * 60];

	size_t total = 0, heap_rounds = 0;

	(void)state;
	for (int round = 0; round < 400; round++) {
		struct avail_day day = tuesday();
		struct avail_query q;
		static const int stepv[] = { 5, 10, 15, 20, 30, 60 };
		time_t base = berlin(2026, 11, 24, 0, 0);

		day.date.day = 20 + rnd(8);
		day.nopen = (size_t)(1 + rnd(4));
		for (size_t i = 0; i < day.nopen; i++) {
			int f = rnd(20) * 60 + rnd(12) * 5;
			day.open_from[i] = f;
			day.open_to[i] = f + 30 + rnd(8 * 60);
			if (day.open_to[i] > 24 * 60)
				day.open_to[i] = 24 * 60;
		}
		q = query(5 + rnd(120), stepv[rnd(6)]);
		q.buffer_before = rnd(3) ? 0 : rnd(30);
		q.buffer_after = rnd(3) ? 0 : rnd(30);
		q.lead = rnd(2) ? 0 : rnd(600);
		q.now = base + (rnd(2) ? -86400 * 10 : rnd(86400 * 2) - 86400 * 2);
		day.nbusy = (size_t)(rnd(3) == 0 ? rnd(300) : rnd(10));   /* over 64: the heap path */
		for (size_t i = 0; i < day.nbusy; i++) {
			busy[i].start = base + rnd(86400 * 10) - 86400 * 3;
			busy[i].end = busy[i].start + rnd(3 * 3600);
		}
		day.busy = busy;
		size_t n = run(&day, &q, a);
		size_t m = reference(&day, &q, b);
		assert_int_equal(n, m);
		total += n;
		heap_rounds += day.nbusy > 64;
		for (size_t i = 0; i < n; i++)
			assert_int_equal(a[i], b[i]);
	}
	assert_true(total > 2000);      /* the comparison saw real slots */
	assert_true(heap_rounds > 20);
}

static void summary_text(void **state)
{
	struct buf b;
	time_t s[] = {
		berlin(2026, 11, 24, 9, 0), berlin(2026, 11, 24, 11, 0),
	};
	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(avail_summary(BERLIN, s, 2, &b), 0);
	assert_string_equal(b.data, "Available times: 9:00 AM, 11:00 AM");
	buf_reset(&b);
	time_t t[] = {
		berlin(2026, 11, 24, 0, 30), berlin(2026, 11, 24, 12, 0), berlin(2026, 11, 24, 13, 5),
		berlin(2026, 11, 24, 23, 45),
	};
	assert_int_equal(avail_summary(BERLIN, t, 4, &b), 0);
	assert_string_equal(b.data, "Available times: 12:30 AM, 12:00 PM, 1:05 PM, 11:45 PM");
	buf_reset(&b);
	assert_int_equal(avail_summary(BERLIN, NULL, 0, &b), 0);
	assert_string_equal(b.data, "No available times.");
	buf_reset(&b);
	assert_int_equal(avail_summary("No/Zone", s, 2, &b), -1);
	buf_free(&b);
	/* a buffer too small for the text fails */
	buf_init(&b, 20);
	assert_int_equal(avail_summary(BERLIN, s, 2, &b), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(interval_edges),
		cmocka_unit_test(buffers_both_sides),
		cmocka_unit_test(back_to_back),
		cmocka_unit_test(busy_block_partial),
		cmocka_unit_test(lead_time),
		cmocka_unit_test(closed_and_holiday),
		cmocka_unit_test(several_intervals),
		cmocka_unit_test(steps),
		cmocka_unit_test(dst_march),
		cmocka_unit_test(dst_october),
		cmocka_unit_test(random_against_reference),
		cmocka_unit_test(summary_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
