/* booking.h: appointments: race-free booking, idempotency keys, cancellation, rescheduling, outbox. */
#ifndef TF_BOOKING_H
#define TF_BOOKING_H

#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "tztime.h"
#include "util.h"

#define BOOKING_NAME_MAX     200
#define BOOKING_EMAIL_MAX    254
#define BOOKING_PHONE_MAX    40
#define BOOKING_SERVICE_MAX  120
#define BOOKING_IDEM_KEY_MAX 255
#define BOOKING_TOKEN_MAX    64    /* cancel token: 256 random bits, base64url */
#define BOOKING_IDEM_KEEP_DAYS 7   /* an Idempotency-Key's stored answer is replayed this long */

struct appointment {
	long long id, doctor_id, service_id;
	char service_name[BOOKING_SERVICE_MAX + 1];
	time_t start, end;                        /* UTC */
	int buffer_before, buffer_after;          /* minutes, copied from the service */
	char patient_name[BOOKING_NAME_MAX + 1];
	char patient_email[BOOKING_EMAIL_MAX + 1];
	char patient_phone[BOOKING_PHONE_MAX + 1];
	char status[16];                          /* "confirmed" | "cancelled" */
	int is_video, create_meet;
	char video_link[2049];                    /* "" when none */
	char cancelled_by[16];                    /* "", "patient", "doctor" */
	int needs_review;
	time_t created_at, updated_at;
	int reschedule_count;                     /* reschedules so far (mail_queue seq, iCal SEQUENCE) */
};

/* Lookups: -1 error, 0 not found, 1 found. by_cancel_token hashes the token first. */
int appointment_by_id(struct db *db, long long id, struct appointment *a);
int appointment_by_cancel_token(struct db *db, const char *token, struct appointment *a);
/* A doctor's appointments from `from` on (confirmed, or all when include_cancelled), ascending,
 * at most max. Returns how many (>= 0) or -1; *out is malloc'd (caller frees). */
long appointment_list_upcoming(struct db *db, long long doctor_id, time_t from, int include_cancelled,
			       size_t max, struct appointment **out);

struct booking_request {
	long long doctor_id;                      /* or 0 and doctor_slug */
	const char *doctor_slug;
	const char *service;                      /* service name (case-insensitive); NULL = the only one */
	struct civil start;                       /* local wall-clock time in the doctor's zone */
	int duration;                             /* minutes; 0 = the service's; else must equal it */
	const char *patient_name, *patient_email, *patient_phone;   /* phone may be NULL */
	int create_meet;
	const char *idempotency_key;              /* NULL = none */
};

enum booking_status {
	BOOKING_OK,              /* done (201 for a create, 200 otherwise) */
	BOOKING_INVALID,         /* 400: field names the offending field */
	BOOKING_NOT_FOUND,       /* 404: doctor or appointment unknown (an unknown or inactive
				    service is BOOKING_INVALID with field "service") */
	BOOKING_CONFLICT,        /* 409: slot taken or not bookable; German message */
	BOOKING_GONE,            /* 410: already cancelled / in the past */
	BOOKING_KEY_REUSED,      /* 422: Idempotency-Key reused with a different request */
	BOOKING_ERROR,           /* 500 */
	BOOKING_STATUS_MAX
};

struct booking_result {
	enum booking_status status;
	int http_status;                          /* the status the API answers with */
	const char *field;                        /* BOOKING_INVALID: "patient_email", ... (static) */
	char message[300];                        /* German, for people */
	struct appointment appt;                  /* on success */
	char cancel_token[BOOKING_TOKEN_MAX];     /* on a fresh create only */
	char *json;                               /* the API answer body (malloc'd; replayed verbatim
						     for a repeated Idempotency-Key); caller frees */
	int replayed;                             /* 1 when answered from a stored Idempotency-Key */
};
void booking_result_free(struct booking_result *r);

/* Book. One transaction: the doctor row is locked (SELECT ... FOR UPDATE), the slot re-checked with
 * the availability engine (busy blocks included), then the appointment, an outbox row ('create')
 * and a mail_queue row ('confirmation') are inserted (the cancel token is stored as its SHA-256 for
 * lookups and Fernet-encrypted for the mails); with an Idempotency-Key the answer is stored
 * with it in the same transaction, and a repeat returns that answer (a different request with the
 * same key → BOOKING_KEY_REUSED). Only answers of requests that reached the transaction are stored
 * (201 and 409); a 400/404/500 is not, so the corrected request may reuse the key. A replayed 201
 * fills appt and cancel_token again. Every result carries r->json: the success body, or
 * {"error": {"code", "message"[, "field"]}}. The JSON answer is DESIGN's {"id","start","end","status","cancel_url"}
 * (start/end local ISO "2026-11-24T09:00", cancel_url = BASE_URL/termin/absage/TOKEN).
 * Returns r->status (also TF_OK-style success as BOOKING_OK). */
enum booking_status booking_create(struct db *db, struct conf *c, const struct booking_request *req,
				   time_t now, struct booking_result *r);
/* Cancel by the patient's secret token or by the doctor (doctor_id must own it). Outbox 'cancel'
 * and mail 'cancellation' in the same transaction. Cancelling twice → BOOKING_GONE. */
enum booking_status booking_cancel_by_token(struct db *db, struct conf *c, const char *token,
					    time_t now, struct booking_result *r);
enum booking_status booking_cancel_by_doctor(struct db *db, struct conf *c, long long doctor_id,
					     long long appointment_id, time_t now,
					     struct booking_result *r);
/* Move an appointment to a new local start (same duration), re-checked like a booking (ignoring
 * itself); outbox 'reschedule' and mail 'reschedule' in the same transaction. */
enum booking_status booking_reschedule(struct db *db, struct conf *c, long long doctor_id,
				       long long appointment_id, const struct civil *new_start,
				       time_t now, struct booking_result *r);

/* Forget the stored answers of Idempotency-Keys older than BOOKING_IDEM_KEEP_DAYS (a repeat after
 * that books anew, as with Stripe's 24 h, only longer). Rows deleted, or -1. tf-remind runs it. */
long booking_prune_idempotency(struct db *db, time_t now);

#endif
