/* practice.h: a doctor's practice settings: profile, weekly opening hours, closures, services (validated CRUD). */
#ifndef TF_PRACTICE_H
#define TF_PRACTICE_H

#include <stddef.h>

#include "db.h"
#include "tztime.h"
#include "util.h"

#define PRACTICE_NAME_MAX        200   /* bytes of the practice name */
#define PRACTICE_ADDRESS_MAX     500   /* bytes of the address */
#define PRACTICE_TZ_MAX          63
#define PRACTICE_HOURS_PER_DAY   8     /* opening intervals per weekday */
#define PRACTICE_CLOSURE_YEARS   2     /* a closure ends before the same date two years on */
#define PRACTICE_REASON_MAX      200   /* bytes of a closure's reason */
#define PRACTICE_SERVICE_NAME_MAX 120  /* bytes of a service name */
#define PRACTICE_DURATION_MIN    5
#define PRACTICE_DURATION_MAX    600
#define PRACTICE_BUFFER_MAX      120

/* A refused input: the field (static string, one of the names listed at each function) and a
 * German message for people. */
struct practice_err {
	const char *field;
	char message[300];
};

/* 1 when s is valid UTF-8 without control characters (C0, DEL, C1), else 0. */
int practice_text_valid(const char *s);

/* ------------------------------------------------------------------ profile */

struct practice_profile {
	const char *practice_name;      /* 0..PRACTICE_NAME_MAX bytes, trimmed */
	const char *practice_address;   /* 0..PRACTICE_ADDRESS_MAX bytes, line breaks allowed */
	const char *bundesland;         /* two-letter code ("BY", case-insensitive) */
	const char *timezone;           /* IANA name the system knows ("Europe/Berlin") */
};
/* Validate and store. Fields: "practice_name", "practice_address", "bundesland", "timezone".
 * TF_OK, TF_ERR_INVALID (e filled), TF_ERR_NOTFOUND (no such doctor), TF_ERR_DB. */
enum tf_err practice_profile_update(struct db *db, long long doctor_id,
				    const struct practice_profile *p, struct practice_err *e);

/* ------------------------------------------------------------------ opening hours */

/* [start, end) in minutes after local midnight, 0 <= start < end <= 1440. */
struct practice_interval {
	int start, end;
};
/* The week: day[0] = Monday .. day[6] = Sunday, each sorted by start. */
struct practice_week {
	struct practice_interval day[7][PRACTICE_HOURS_PER_DAY];
	size_t n[7];
};

/* Load a doctor's week. TF_OK or TF_ERR_DB (w zeroed first). */
enum tf_err practice_hours_get(struct db *db, long long doctor_id, struct practice_week *w);
/* Check one weekday's intervals (order does not matter): at most PRACTICE_HOURS_PER_DAY, each
 * 0 <= start < end <= 1440, none overlapping (touching is fine). weekday 1..7 names the day in
 * the message. Field "hours". 0 valid, -1 invalid (e filled). */
int practice_hours_check(int weekday, const struct practice_interval *iv, size_t n,
			 struct practice_err *e);
/* Replace one weekday's intervals (1 = Monday .. 7 = Sunday; n = 0 closes the day) or the whole
 * week, each in one transaction with the doctor row locked. Field "hours" (or "weekday").
 * TF_OK, TF_ERR_INVALID, TF_ERR_NOTFOUND (no such doctor), TF_ERR_DB. */
enum tf_err practice_hours_set_day(struct db *db, long long doctor_id, int weekday,
				   const struct practice_interval *iv, size_t n,
				   struct practice_err *e);
enum tf_err practice_hours_set_week(struct db *db, long long doctor_id,
				    const struct practice_week *w, struct practice_err *e);
/* Parse a day's text as typed on the settings page: "08:00-12:00, 14:00-18:00" (also "8-12",
 * en dash, ';' or spaces between intervals, "24:00" as an end; "" or "geschlossen" = closed) into
 * out[max] (sorted). 0, or -1 with field "hours" and a German message naming the weekday. */
int practice_hours_parse(int weekday, const char *text, struct practice_interval *out, size_t max,
			 size_t *n, struct practice_err *e);
/* The inverse: "08:00–12:00, 14:00–18:00" (en dash, UTF-8), "" for a closed day. Appends to b. */
int practice_hours_format(const struct practice_interval *iv, size_t n, struct buf *b);
/* German weekday name, 1 = "Montag" .. 7 = "Sonntag"; "" otherwise. */
const char *practice_weekday_name(int weekday);

/* ------------------------------------------------------------------ closures */

struct practice_closure {
	long long id;
	struct civil start, end;        /* local dates, inclusive */
	char reason[PRACTICE_REASON_MAX + 1];
};
/* Closures that end on or after `today` (the doctor's local date), by start date, at most max.
 * Returns the count (>= 0) or -1; *out is malloc'd (caller frees; NULL when none). */
long practice_closures_upcoming(struct db *db, long long doctor_id, const struct civil *today,
				size_t max, struct practice_closure **out);
/* Add a closure: valid dates, start <= end < start + 2 years (2030-02-10..2032-02-09 at most),
 * reason 0..200
 * bytes of text. Fields "start_date", "end_date", "reason". *id set on success.
 * TF_OK, TF_ERR_INVALID, TF_ERR_NOTFOUND (no such doctor), TF_ERR_DB. */
enum tf_err practice_closure_add(struct db *db, long long doctor_id, const struct civil *start,
				 const struct civil *end, const char *reason, long long *id,
				 struct practice_err *e);
/* Delete one of the doctor's own closures: TF_OK, TF_ERR_NOTFOUND (none with that id for this
 * doctor), TF_ERR_DB. */
enum tf_err practice_closure_delete(struct db *db, long long doctor_id, long long closure_id);

/* ------------------------------------------------------------------ services */

struct practice_service {
	long long id;
	char name[PRACTICE_SERVICE_NAME_MAX + 1];
	int duration;                   /* minutes, 5..600 */
	int buffer_before, buffer_after;   /* minutes, 0..120 */
	int is_video;
	int active;
};
/* A doctor's services by name (inactive ones too when include_inactive). Count or -1; *out
 * malloc'd (caller frees; NULL when none). */
long practice_services_list(struct db *db, long long doctor_id, int include_inactive,
			    struct practice_service **out);
/* One service by name (case-insensitive, surrounding blanks ignored) or by id, active or not:
 * -1 error, 0 not found, 1 found. */
int practice_service_by_name(struct db *db, long long doctor_id, const char *name,
			     struct practice_service *s);
int practice_service_by_id(struct db *db, long long doctor_id, long long id,
			   struct practice_service *s);
/* The active service named name (as by_name), or with name NULL the doctor's first active one:
 * -1 error, 0 none (unknown or inactive), 1 found. */
int practice_service_pick(struct db *db, long long doctor_id, const char *name,
			  struct practice_service *out);
/* Check a service's fields (name trimmed into s->name by add/update). Fields "name",
 * "duration_minutes", "buffer_before_minutes", "buffer_after_minutes". 0 or -1 (e filled). */
int practice_service_check(const struct practice_service *s, struct practice_err *e);
/* Add (active) or update name, duration, buffers and is_video of the doctor's service s->id
 * (active is left as it is). The name is unique per doctor, case-insensitively, inactive services
 * included. add sets *id. TF_OK, TF_ERR_INVALID, TF_ERR_NOTFOUND (no such doctor / service of this
 * doctor), TF_ERR_DB. */
enum tf_err practice_service_add(struct db *db, long long doctor_id,
				 const struct practice_service *s, long long *id,
				 struct practice_err *e);
enum tf_err practice_service_update(struct db *db, long long doctor_id,
				    const struct practice_service *s, struct practice_err *e);
/* Deactivate (active = 0) or reactivate (1) one of the doctor's services; appointments already
 * booked stay. TF_OK, TF_ERR_NOTFOUND, TF_ERR_DB. */
enum tf_err practice_service_set_active(struct db *db, long long doctor_id, long long service_id,
					int active);

#endif
