/* ics.h: iCalendar objects we write (libical): the VEVENT of an appointment for mails and calendars. */
#ifndef TF_ICS_H
#define TF_ICS_H

#include <stddef.h>
#include <time.h>

/* Our UID for an appointment: "terminfinder-appointment-<id>@<host of base_url>" into out[outlen].
 * The calendar sync recognises our own events by it. */
void ics_uid_for_appointment(long long id, const char *base_url, char *out, size_t outlen);

struct ics_event {
	const char *uid;
	time_t start, end;            /* UTC; written as DATE-TIME with Z */
	time_t stamp;                 /* DTSTAMP */
	int sequence;                 /* bumped on every change */
	int cancelled;                /* STATUS:CANCELLED (with METHOD:CANCEL) */
	const char *summary;          /* required */
	const char *description;      /* may be NULL */
	const char *location;         /* may be NULL */
	const char *url;              /* may be NULL (e.g. video link) */
	const char *organizer_email;  /* may be NULL */
	const char *organizer_name;   /* may be NULL */
	const char *attendee_email;   /* may be NULL */
	const char *attendee_name;    /* may be NULL */
};

/* A whole VCALENDAR (PRODID, VERSION:2.0, METHOD when method != NULL: "REQUEST", "CANCEL",
 * "PUBLISH") with one VEVENT, CRLF line endings, folded at 75 octets, as a malloc'd string
 * (caller frees), or NULL on bad input. Text values are escaped by libical. */
char *ics_build(const struct ics_event *e, const char *method);

#endif
