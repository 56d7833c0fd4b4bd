/* ics-check.c: test helper: parse an .ics from stdin with libical and print what it read, one KEY=VALUE a line. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "util.h"

/* Text values may hold newlines: print them escaped as \n so that one line stays one field. */
static void put(const char *key, const char *v)
{
	printf("%s=", key);
	for (; v && *v; v++) {
		if (*v == '\n')
			fputs("\\n", stdout);
		else if (*v != '\r')
			putchar(*v);
	}
	putchar('\n');
}

int main(void)
{
	struct buf in;
	char chunk[4096];
	size_t n;
	icalcomponent *cal, *ev;
	icalproperty *p;
	struct icaltimetype t;

	buf_init(&in, 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		if (buf_append(&in, chunk, n) < 0) {
			fputs("ics-check: input too large\n", stderr);
			return 2;
		}
	}
	if (!in.data) {
		fputs("ics-check: empty input\n", stderr);
		return 1;
	}
	cal = icalparser_parse_string(in.data);
	if (!cal || icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT) {
		fputs("ics-check: not a VCALENDAR\n", stderr);
		return 1;
	}
	ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	if (!ev) {
		fputs("ics-check: no VEVENT\n", stderr);
		return 1;
	}
	put("METHOD", icalenum_method_to_string(icalcomponent_get_method(cal)));
	put("UID", icalcomponent_get_uid(ev));
	t = icalcomponent_get_dtstart(ev);
	printf("DTSTART=%lld\nDTSTART_UTC=%d\n", (long long)icaltime_as_timet(t), icaltime_is_utc(t));
	t = icalcomponent_get_dtend(ev);
	printf("DTEND=%lld\nDTEND_UTC=%d\n", (long long)icaltime_as_timet(t), icaltime_is_utc(t));
	printf("SEQUENCE=%d\n", icalcomponent_get_sequence(ev));
	put("STATUS", icalenum_status_to_string(icalcomponent_get_status(ev)));
	put("SUMMARY", icalcomponent_get_summary(ev));
	put("LOCATION", icalcomponent_get_location(ev));
	put("DESCRIPTION", icalcomponent_get_description(ev));
	p = icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY);
	put("ORGANIZER", p ? icalproperty_get_organizer(p) : "");
	p = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY);
	put("ATTENDEE", p ? icalproperty_get_attendee(p) : "");
	p = icalcomponent_get_first_property(ev, ICAL_URL_PROPERTY);
	put("URL", p ? icalproperty_get_url(p) : "");
	/* libical's own validation: errors it attached while parsing */
	printf("ERRORS=%d\n", icalcomponent_count_errors(cal));
	icalcomponent_free(cal);
	buf_free(&in);
	return 0;
}
