/* ics.c: the VCALENDAR/VEVENT of an appointment, built with libical (mail attachments, calendar sync). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "ics.h"
#include "util.h"

#define ICS_TEXT_MAX  (16 * 1024)   /* any one text value (summary, description, ...) */
#define ICS_NAME_MAX  200           /* a CN parameter */
#define ICS_EMAIL_MAX 254

void ics_uid_for_appointment(long long id, const char *base_url, char *out, size_t outlen)
{
	char host[256] = "";
	const char *p = base_url ? strstr(base_url, "://") : NULL;
	size_t n = 0;

	if (p) {
		const char *at, *end;

		p += 3;
		end = p + strcspn(p, "/?#");
		at = memchr(p, '@', (size_t)(end - p));
		if (at)
			p = at + 1;
		while (p < end && *p != ':' && n < sizeof(host) - 1) {
			unsigned char ch = (unsigned char)*p++;

			if (!isalnum(ch) && ch != '.' && ch != '-') {
				n = 0;
				break;
			}
			host[n++] = (char)tolower(ch);
		}
		host[n] = '\0';
	}
	if (!n)
		str_copy(host, "localhost", sizeof(host));
	snprintf(out, outlen, "terminfinder-appointment-%lld@%s", id, host);
}

/* 1 when s is at most max bytes of well-formed UTF-8 without control characters other than TAB,
 * CR and LF. */
static int text_ok(const char *s, size_t max)
{
	size_t len = strlen(s);

	return len <= max && utf8_text_valid(s, len, UTF8_TAB | UTF8_LF | UTF8_CR | UTF8_C1);
}

/* An e-mail address that can stand in a mailto: URI: printable ASCII, one '@', none of the
 * characters that have a meaning in iCalendar or URIs. */
static int email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t len = strlen(s);

	if (!len || len > ICS_EMAIL_MAX || !at || at == s || !at[1] || strchr(at + 1, '@'))
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>[\\]", c))
			return 0;
	}
	return 1;
}

/* A CN parameter value: DQUOTE cannot be represented and controls are meaningless; both become
 * spaces (the name is for display only). Returns a malloc'd copy or NULL when the text is bad. */
static char *param_text(const char *s)
{
	char *out;

	if (!text_ok(s, ICS_NAME_MAX))
		return NULL;
	out = xstrdup(s);
	for (char *p = out; *p; p++)
		if (*p == '"' || (unsigned char)*p < 0x20)
			*p = ' ';
	return out;
}

static icalproperty *person(int organizer, const char *email, const char *name)
{
	char uri[ICS_EMAIL_MAX + 8];
	icalproperty *prop;

	snprintf(uri, sizeof(uri), "mailto:%s", email);
	prop = organizer ? icalproperty_new_organizer(uri) : icalproperty_new_attendee(uri);
	if (name && *name) {
		char *cn = param_text(name);

		if (!cn) {
			icalproperty_free(prop);
			return NULL;
		}
		icalproperty_add_parameter(prop, icalparameter_new_cn(cn));
		free(cn);
	}
	if (!organizer) {
		icalproperty_add_parameter(prop, icalparameter_new_role(ICAL_ROLE_REQPARTICIPANT));
		icalproperty_add_parameter(prop, icalparameter_new_partstat(ICAL_PARTSTAT_ACCEPTED));
		icalproperty_add_parameter(prop, icalparameter_new_rsvp(ICAL_RSVP_FALSE));
	}
	return prop;
}

static struct icaltimetype utc_time(time_t t)
{
	return icaltime_from_timet_with_zone(t, 0, icaltimezone_get_utc_timezone());
}

static int optional_text_ok(const char *s)
{
	return !s || text_ok(s, ICS_TEXT_MAX);
}

char *ics_build(const struct ics_event *e, const char *method)
{
	icalcomponent *cal = NULL, *ev = NULL;
	icalproperty_method m = ICAL_METHOD_NONE;
	icalproperty *prop;
	char *out = NULL;

	if (!e || !e->uid || !*e->uid || !e->summary || !*e->summary)
		return NULL;
	if (!text_ok(e->uid, 255) || strpbrk(e->uid, "\r\n\t"))
		return NULL;
	if (e->start <= 0 || e->end <= e->start || e->stamp <= 0 || e->sequence < 0)
		return NULL;
	if (!text_ok(e->summary, ICS_TEXT_MAX) || !optional_text_ok(e->description) ||
	    !optional_text_ok(e->location) || !optional_text_ok(e->url))
		return NULL;
	if (e->url && *e->url && (strpbrk(e->url, " \t\r\n\"<>") ||
				   (strncmp(e->url, "https://", 8) != 0 &&
				    strncmp(e->url, "http://", 7) != 0)))
		return NULL;
	if ((e->organizer_email && !email_ok(e->organizer_email)) ||
	    (e->attendee_email && !email_ok(e->attendee_email)))
		return NULL;
	if (method) {
		if (strcmp(method, "REQUEST") == 0)
			m = ICAL_METHOD_REQUEST;
		else if (strcmp(method, "CANCEL") == 0)
			m = ICAL_METHOD_CANCEL;
		else if (strcmp(method, "PUBLISH") == 0)
			m = ICAL_METHOD_PUBLISH;
		else
			return NULL;
	}

	cal = icalcomponent_new_vcalendar();
	icalcomponent_add_property(cal, icalproperty_new_prodid("-//TerminFinder//Kalender//DE"));
	icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
	icalcomponent_add_property(cal, icalproperty_new_calscale("GREGORIAN"));
	if (m != ICAL_METHOD_NONE)
		icalcomponent_add_property(cal, icalproperty_new_method(m));

	ev = icalcomponent_new_vevent();
	icalcomponent_add_property(ev, icalproperty_new_uid(e->uid));
	icalcomponent_add_property(ev, icalproperty_new_dtstamp(utc_time(e->stamp)));
	icalcomponent_add_property(ev, icalproperty_new_dtstart(utc_time(e->start)));
	icalcomponent_add_property(ev, icalproperty_new_dtend(utc_time(e->end)));
	icalcomponent_add_property(ev, icalproperty_new_sequence(e->sequence));
	icalcomponent_add_property(ev, icalproperty_new_status(e->cancelled ? ICAL_STATUS_CANCELLED
							       : ICAL_STATUS_CONFIRMED));
	icalcomponent_add_property(ev, icalproperty_new_transp(ICAL_TRANSP_OPAQUE));
	icalcomponent_add_property(ev, icalproperty_new_summary(e->summary));
	if (e->description && *e->description)
		icalcomponent_add_property(ev, icalproperty_new_description(e->description));
	if (e->location && *e->location)
		icalcomponent_add_property(ev, icalproperty_new_location(e->location));
	if (e->url && *e->url)
		icalcomponent_add_property(ev, icalproperty_new_url(e->url));
	if (e->organizer_email && *e->organizer_email) {
		prop = person(1, e->organizer_email, e->organizer_name);
		if (!prop)
			goto out;
		icalcomponent_add_property(ev, prop);
	}
	if (e->attendee_email && *e->attendee_email) {
		prop = person(0, e->attendee_email, e->attendee_name);
		if (!prop)
			goto out;
		icalcomponent_add_property(ev, prop);
	}
	icalcomponent_add_component(cal, ev);
	ev = NULL;

	/* _r: the string is ours (not libical's ring buffer). libical writes CRLF and folds lines at
	 * 75 octets without splitting UTF-8 sequences; test_ics checks both. The buffer comes from
	 * malloc, so the caller's free() is right. */
	out = icalcomponent_as_ical_string_r(cal);
out:
	if (ev)
		icalcomponent_free(ev);
	icalcomponent_free(cal);
	return out;
}
