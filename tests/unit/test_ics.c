/* test_ics.c: ics_build's output parsed back by libical: UID, METHOD, UTC times, SEQUENCE, STATUS, escaping, folding. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libical/ical.h>

#include "ics.h"
#include "util.h"

/* 2026-11-24 08:00:00 UTC (09:00 in Berlin, winter) and 2026-07-14 07:00:00 UTC (09:00 summer) */
#define T_WINTER 1795507200LL
#define T_SUMMER 1784012400LL

static struct ics_event sample(void)
{
	struct ics_event e = {
		.uid = "terminfinder-appointment-42@praxis.example",
		.start = (time_t)T_WINTER,
		.end = (time_t)T_WINTER + 1800,
		.stamp = (time_t)T_WINTER - 86400,
		.sequence = 0,
		.summary = "Sprechstunde – Praxis Dr. Müller",
		.description = "Absagen: https://praxis.example/termin/absage/abc",
		.location = "Hauptstraße 1, 10115 Berlin",
		.organizer_email = "termine@praxis.example",
		.organizer_name = "Praxis Dr. Müller",
		.attendee_email = "erika@example.org",
		.attendee_name = "Erika Mustermann",
	};
	return e;
}

static icalcomponent *parse(const char *s)
{
	icalcomponent *c = icalparser_parse_string(s);

	assert_non_null(c);
	assert_int_equal(icalcomponent_isa(c), ICAL_VCALENDAR_COMPONENT);
	return c;
}

static icalcomponent *event_of(icalcomponent *cal)
{
	icalcomponent *ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);

	assert_non_null(ev);
	return ev;
}

static void uid_from_base_url(void **state)
{
	char uid[300];

	(void)state;
	ics_uid_for_appointment(42, "https://praxis.example/", uid, sizeof(uid));
	assert_string_equal(uid, "terminfinder-appointment-42@praxis.example");
	ics_uid_for_appointment(7, "http://User@LOCALHOST:8080/x?y#z", uid, sizeof(uid));
	assert_string_equal(uid, "terminfinder-appointment-7@localhost");
	ics_uid_for_appointment(7, "https://ex ample.com", uid, sizeof(uid));
	assert_string_equal(uid, "terminfinder-appointment-7@localhost");
	ics_uid_for_appointment(8, NULL, uid, sizeof(uid));
	assert_string_equal(uid, "terminfinder-appointment-8@localhost");
	ics_uid_for_appointment(9, "no-scheme", uid, sizeof(uid));
	assert_string_equal(uid, "terminfinder-appointment-9@localhost");
}

static void request_parses_back(void **state)
{
	struct ics_event e = sample();
	char *s;
	icalcomponent *cal, *ev;
	icalproperty *p;
	struct icaltimetype t;

	(void)state;
	s = ics_build(&e, "REQUEST");
	assert_non_null(s);
	/* CRLF line endings only */
	for (const char *q = s; *q; q++)
		if (*q == '\n')
			assert_true(q > s && q[-1] == '\r');
	assert_non_null(strstr(s, "BEGIN:VCALENDAR\r\n"));
	assert_non_null(strstr(s, "VERSION:2.0\r\n"));
	assert_non_null(strstr(s, "METHOD:REQUEST\r\n"));
	assert_non_null(strstr(s, "DTSTART:20261124T080000Z\r\n"));
	assert_non_null(strstr(s, "DTEND:20261124T083000Z\r\n"));

	cal = parse(s);
	assert_int_equal(icalcomponent_get_method(cal), ICAL_METHOD_REQUEST);
	ev = event_of(cal);
	assert_string_equal(icalcomponent_get_uid(ev), e.uid);
	t = icalcomponent_get_dtstart(ev);
	assert_true(icaltime_is_utc(t));
	assert_int_equal((long long)icaltime_as_timet(t), T_WINTER);
	t = icalcomponent_get_dtend(ev);
	assert_true(icaltime_is_utc(t));
	assert_int_equal((long long)icaltime_as_timet(t), T_WINTER + 1800);
	assert_int_equal(icalcomponent_get_sequence(ev), 0);
	assert_int_equal(icalcomponent_get_status(ev), ICAL_STATUS_CONFIRMED);
	assert_string_equal(icalcomponent_get_summary(ev), e.summary);
	assert_string_equal(icalcomponent_get_location(ev), e.location);
	assert_string_equal(icalcomponent_get_description(ev), e.description);
	p = icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY);
	assert_non_null(p);
	assert_string_equal(icalproperty_get_organizer(p), "mailto:termine@praxis.example");
	assert_string_equal(icalparameter_get_cn(icalproperty_get_first_parameter(p, ICAL_CN_PARAMETER)),
			    "Praxis Dr. Müller");
	p = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY);
	assert_non_null(p);
	assert_string_equal(icalproperty_get_attendee(p), "mailto:erika@example.org");
	assert_null(icalcomponent_get_first_property(ev, ICAL_URL_PROPERTY));
	icalcomponent_free(cal);
	free(s);
}

static void summer_time_is_utc_too(void **state)
{
	struct ics_event e = sample();
	char *s;
	icalcomponent *cal;

	(void)state;
	e.start = (time_t)T_SUMMER;
	e.end = (time_t)T_SUMMER + 3600;
	e.url = "https://meet.example/abc-def";
	s = ics_build(&e, "PUBLISH");
	assert_non_null(s);
	assert_non_null(strstr(s, "DTSTART:20260714T070000Z\r\n"));
	assert_non_null(strstr(s, "DTEND:20260714T080000Z\r\n"));
	assert_non_null(strstr(s, "METHOD:PUBLISH\r\n"));
	cal = parse(s);
	assert_string_equal(icalproperty_get_url(icalcomponent_get_first_property(event_of(cal),
										  ICAL_URL_PROPERTY)),
			    "https://meet.example/abc-def");
	icalcomponent_free(cal);
	free(s);
}

static void cancel_has_status_and_sequence(void **state)
{
	struct ics_event e = sample();
	char *s;
	icalcomponent *cal, *ev;

	(void)state;
	e.cancelled = 1;
	e.sequence = 3;
	s = ics_build(&e, "CANCEL");
	assert_non_null(s);
	assert_non_null(strstr(s, "METHOD:CANCEL\r\n"));
	assert_non_null(strstr(s, "STATUS:CANCELLED\r\n"));
	assert_non_null(strstr(s, "SEQUENCE:3\r\n"));
	cal = parse(s);
	assert_int_equal(icalcomponent_get_method(cal), ICAL_METHOD_CANCEL);
	ev = event_of(cal);
	assert_int_equal(icalcomponent_get_status(ev), ICAL_STATUS_CANCELLED);
	assert_int_equal(icalcomponent_get_sequence(ev), 3);
	assert_string_equal(icalcomponent_get_uid(ev), e.uid);
	icalcomponent_free(cal);
	free(s);
}

static void no_method_when_null(void **state)
{
	struct ics_event e = sample();
	char *s;

	(void)state;
	s = ics_build(&e, NULL);
	assert_non_null(s);
	assert_null(strstr(s, "METHOD:"));
	free(s);
}

static void text_is_escaped(void **state)
{
	struct ics_event e = sample();
	char *s;
	icalcomponent *cal, *ev;

	(void)state;
	e.summary = "Kontrolle, Blutbild; nüchtern\nBitte \\ Versichertenkarte";
	e.description = "Zeile 1\r\nZeile 2, mit; Zeichen";
	e.organizer_name = "Praxis \"Am Markt\", Berlin; Mitte";
	s = ics_build(&e, "REQUEST");
	assert_non_null(s);
	assert_non_null(strstr(s, "SUMMARY:Kontrolle\\, Blutbild\\; nüchtern\\nBitte \\\\ Versichertenkarte"));
	cal = parse(s);
	ev = event_of(cal);
	assert_string_equal(icalcomponent_get_summary(ev), e.summary);
	/* a CR before the LF is not kept: iCalendar text knows only \n */
	assert_string_equal(icalcomponent_get_description(ev), "Zeile 1\nZeile 2, mit; Zeichen");
	/* DQUOTE cannot be in a parameter value: replaced; the rest survives */
	assert_string_equal(icalparameter_get_cn(icalproperty_get_first_parameter(
		icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY), ICAL_CN_PARAMETER)),
		"Praxis  Am Markt , Berlin; Mitte");
	icalcomponent_free(cal);
	free(s);
}

/* Every physical line is at most 75 octets (without CRLF), no fold splits a UTF-8 sequence, and
 * unfolding gives back the long value. */
static void long_lines_are_folded(void **state)
{
	struct ics_event e = sample();
	struct buf want;
	char *s, *unfolded;
	const char *line;
	size_t i, j;
	icalcomponent *cal;

	(void)state;
	buf_init(&want, 8192);
	for (i = 0; i < 60; i++)
		assert_int_equal(buf_puts(&want, "Größe äöü ß € – "), 0);
	assert_int_equal(buf_puts(&want, "Ende"), 0);
	e.description = want.data;
	s = ics_build(&e, "REQUEST");
	assert_non_null(s);
	for (line = s; *line;) {
		const char *eol = strstr(line, "\r\n");

		assert_non_null(eol);
		assert_true((size_t)(eol - line) <= 75);
		/* a continuation line never starts inside a UTF-8 sequence */
		if (*line == ' ')
			assert_true(((unsigned char)line[1] & 0xc0) != 0x80);
		line = eol + 2;
	}
	unfolded = xstrdup(s);
	for (i = j = 0; s[i]; i++) {
		if (s[i] == '\r' && s[i + 1] == '\n' && s[i + 2] == ' ') {
			i += 2;
			continue;
		}
		unfolded[j++] = s[i];
	}
	unfolded[j] = '\0';
	assert_non_null(strstr(unfolded, want.data));
	cal = parse(s);
	assert_string_equal(icalcomponent_get_description(event_of(cal)), want.data);
	icalcomponent_free(cal);
	free(unfolded);
	free(s);
	buf_free(&want);
}

static void bad_input_refused(void **state)
{
	struct ics_event e;

	(void)state;
	assert_null(ics_build(NULL, "REQUEST"));
	e = sample();
	e.end = e.start;
	assert_null(ics_build(&e, "REQUEST"));
	e = sample();
	e.summary = "";
	assert_null(ics_build(&e, "REQUEST"));
	e = sample();
	e.uid = NULL;
	assert_null(ics_build(&e, "REQUEST"));
	e = sample();
	e.uid = "a\r\nMETHOD:CANCEL";
	assert_null(ics_build(&e, "REQUEST"));
	e = sample();
	assert_null(ics_build(&e, "DELETE"));
	e = sample();
	e.summary = "bad \xc3\x28 utf-8";
	assert_null(ics_build(&e, "REQUEST"));
	e = sample();
	e.description = "NUL-free but \x01 control";
	assert_null(ics_build(&e, "REQUEST"));
	e = sample();
	e.attendee_email = "erika@example.org\r\nX-EVIL:1";
	assert_null(ics_build(&e, "REQUEST"));
	e = sample();
	e.attendee_email = "erika;x=y@example.org";
	assert_null(ics_build(&e, "REQUEST"));
	e = sample();
	e.url = "javascript:alert(1)";
	assert_null(ics_build(&e, "REQUEST"));
	e = sample();
	e.sequence = -1;
	assert_null(ics_build(&e, "REQUEST"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uid_from_base_url),
		cmocka_unit_test(request_parses_back),
		cmocka_unit_test(summer_time_is_utc_too),
		cmocka_unit_test(cancel_has_status_and_sequence),
		cmocka_unit_test(no_method_when_null),
		cmocka_unit_test(text_is_escaped),
		cmocka_unit_test(long_lines_are_folded),
		cmocka_unit_test(bad_input_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
