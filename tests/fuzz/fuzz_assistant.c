/* fuzz_assistant.c: asst_turn and asst_detect_language on arbitrary conversations: every turn answers 0 with a
 * non-empty reply in valid UTF-8, the state it writes is its own (reloaded unchanged by the next turn), and a booking
 * only ever names a free time with a valid e-mail. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"
#include "assistant.h"
#include "doctor.h"
#include "tztime.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input: the first byte picks the practice (bits 0-1: salon, medical, single service, none) and
 * today (bits 2-3); the rest is the conversation, one message per line ('\n'), at most 12 turns.
 * A line starting with "{" replaces the state with that JSON text before the next turn (as if the
 * stored state had been tampered with). The fake tool: open 08:00-18:00 every 15 minutes, every
 * third day closed, bookings take their time; it answers in agent_tool_run's format.
 */

#define MAX_TURNS 12
#define MAX_BOOKED 32

static const struct asst_service SALON[] = { { "Haircut", 60 }, { "Manicure", 60 } };
static const struct asst_service MEDICAL[] = {
	{ "Sprechstunde", 30 }, { "Impfung", 15 }, { "Videosprechstunde", 20 }
};
static const struct asst_service SINGLE[] = { { "Стрижка", 45 } };
static const struct civil TODAYS[] = {
	{ 2026, 11, 21, 0, 0 }, { 2026, 12, 31, 0, 0 }, { 2028, 2, 28, 0, 0 }, { 2027, 3, 27, 0, 0 },
};

struct fake {
	const struct asst_service *svc;
	size_t nsvc;
	const struct civil *today;
	struct { long day; int start, dur; } b[MAX_BOOKED];
	size_t nb;
	int calls;
};

static int hhmm(const char *s)
{
	if (!s || strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' ||
	    s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return -1;
	return ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
}

static int is_free(const struct fake *fk, long day, int start, int dur)
{
	size_t i;

	if (day < civil_to_days(fk->today->year, fk->today->month, fk->today->day) || day % 3 == 0 ||
	    start < 8 * 60 || start + dur > 18 * 60 || start % 15)
		return 0;
	for (i = 0; i < fk->nb; i++)
		if (fk->b[i].day == day && start < fk->b[i].start + fk->b[i].dur && start + dur > fk->b[i].start)
			return 0;
	return 1;
}

static json_t *fake_tool(void *ud, const char *name, json_t *args)
{
	struct fake *fk = ud;
	json_t *dur = json_object_get(args, "duration_minutes"), *slots;
	struct civil d;
	long day;
	int s;

	if (!json_is_object(args) || ++fk->calls > 2 + AGENT_TOOL_CALLS_MAX * MAX_TURNS)
		abort();
	if (civil_parse_date(json_string_value(json_object_get(args, "date")), &d) < 0 ||
	    !json_is_integer(dur) || json_integer_value(dur) < 5 || json_integer_value(dur) > 600)
		abort();    /* the assistant always sends an ISO date and a valid duration */
	day = civil_to_days(d.year, d.month, d.day);
	if (strcmp(name, "check_calendar_availability") == 0) {
		slots = json_array();
		for (s = 0; s < 24 * 60; s += 15) {
			if (is_free(fk, day, s, (int)json_integer_value(dur))) {
				char t[16];

				snprintf(t, sizeof(t), "%02d:%02d", s / 60, s % 60);
				json_array_append_new(slots, json_string(t));
			}
		}
		return json_pack("{s:b, s:o}", "ok", 1, "slots", slots);
	}
	if (strcmp(name, "book_appointment") == 0) {
		const char *email = json_string_value(json_object_get(args, "customer_email"));
		const char *cn = json_string_value(json_object_get(args, "customer_name"));
		const char *svc = json_string_value(json_object_get(args, "service"));
		int t = hhmm(json_string_value(json_object_get(args, "time"))), known = 0;
		size_t i;

		for (i = 0; svc && i < fk->nsvc; i++)
			known |= strcmp(svc, fk->svc[i].name) == 0;
		if (!email || !doctor_email_valid(email) || !cn || !*cn || !known || t < 0)
			abort();    /* never books with a missing or invalid detail */
		if (!is_free(fk, day, t, (int)json_integer_value(dur)))
			return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", "slot_taken", "text", "taken");
		if (fk->nb < MAX_BOOKED) {
			fk->b[fk->nb].day = day;
			fk->b[fk->nb].start = t;
			fk->b[fk->nb].dur = (int)json_integer_value(dur);
			fk->nb++;
		}
		return json_pack("{s:b, s:{s:i}}", "ok", 1, "appointment", "id", (int)fk->nb);
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct { const struct asst_service *s; size_t n; } practices[] = {
		{ SALON, 2 }, { MEDICAL, 3 }, { SINGLE, 1 }, { NULL, 0 },
	};
	struct fake fk;
	struct asst_ctx c;
	json_t *state;
	struct buf reply;
	size_t pos = 1, turns = 0;
	char *line;

	if (size < 1 || size > 16 * 1024)
		return 0;
	memset(&fk, 0, sizeof(fk));
	fk.svc = practices[data[0] & 3].s;
	fk.nsvc = practices[data[0] & 3].n;
	fk.today = &TODAYS[(data[0] >> 2) & 3];
	memset(&c, 0, sizeof(c));
	c.today = fk.today;
	c.services = fk.svc;
	c.nservices = fk.nsvc;
	c.tool = fake_tool;
	c.tool_ud = &fk;
	state = json_object();
	line = malloc(size + 1);
	if (!state || !line)
		abort();
	buf_init(&reply, 64 * 1024);
	while (pos < size && turns < MAX_TURNS) {
		size_t end = pos, n;
		json_t *s;
		char *dump, *again;

		while (end < size && data[end] != '\n')
			end++;
		n = end - pos;
		memcpy(line, data + pos, n);
		line[n] = '\0';
		pos = end + 1;
		if (n > 0 && line[0] == '{') {
			json_t *j = json_loads(line, 0, NULL);

			if (json_is_object(j)) {
				json_decref(state);
				state = j;
			} else {
				json_decref(j);
			}
			continue;
		}
		turns++;
		(void)asst_detect_language(line, ASST_EN);
		buf_reset(&reply);
		if (asst_turn(&c, state, line, &reply) != 0 || !reply.data || reply.len == 0)
			abort();
		s = json_string(reply.data);          /* NULL when not valid UTF-8 */
		if (!s || strlen(reply.data) != reply.len)
			abort();
		json_decref(s);
		/* the state survives being stored as text and is the assistant's own */
		dump = json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS);
		if (!dump || json_integer_value(json_object_get(state, "v")) != 1)
			abort();
		json_decref(state);
		state = json_loads(dump, 0, NULL);
		if (!state)
			abort();
		again = json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS);
		if (!again || strcmp(dump, again) != 0)
			abort();
		free(dump);
		free(again);
	}
	buf_free(&reply);
	json_decref(state);
	free(line);
	return 0;
}
