/* agent.h: the booking assistant (C14): its two tools on the core library, conversations in MariaDB, one turn by the LLM tool-call loop (llm.h) or the offline assistant (assistant.h). */
#ifndef TF_AGENT_H
#define TF_AGENT_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "conf.h"
#include "db.h"
#include "doctor.h"
#include "tztime.h"
#include "util.h"

#define AGENT_MESSAGE_MAX      1000   /* bytes of one user message (UTF-8, no control characters but \n, \t) */
#define AGENT_TURNS_MAX        40     /* user messages per conversation */
#define AGENT_RATE_MINUTE      20     /* user messages per client IP per minute (TF_AGENT_RATE_PER_MINUTE) */
#define AGENT_RATE_DAY         400    /* user messages per client IP per 24 h (TF_AGENT_RATE_PER_DAY) */
#define AGENT_TOKEN_LEN        43     /* conversation_id: base64url of 256 random bits */
#define AGENT_RETENTION_DAYS   30     /* TF_AGENT_RETENTION_DAYS: conversations are deleted after */
#define AGENT_TOOL_CALLS_MAX   16     /* tool calls recorded per turn (more are refused) */

/* ------------------------------------------------------------------ tools */

/* What the tools run against, for one turn. */
struct agent_env {
	struct db *db;
	struct conf *conf;
	const struct doctor *doctor;
	time_t now;
	struct civil today;          /* the doctor's local date at now */
	const char *conversation;    /* the conversation_id token (idempotency keys are derived from it) */
	/* set by a successful book_appointment (the last one of the turn): */
	long long booked_id;         /* the appointment to mail after the answer, 0 when none */
	json_t *appointment;         /* its answer object (owned; see agent_tool_run), NULL when none */
};
void agent_env_free(struct agent_env *env);   /* drops env->appointment */

/* The two tools declared for a Chat Completions request:
 * [{"type": "function", "function": {"name", "description", "parameters": JSON schema}}, ...]
 *   check_calendar_availability(date: string, duration_minutes: integer 5..600) — date as the
 *     patient said it ("tomorrow", "next monday", "2026-11-24", "morgen", "завтра", ...);
 *   book_appointment(customer_name, customer_email, service, date, time, duration_minutes,
 *     create_meet: boolean) — required: customer_name, customer_email, service, date, time.
 * service's schema is an enum of the practice's active services when services is given.
 * A new reference (caller decrefs). */
json_t *agent_tool_schemas(const char *const *services, size_t nservices);

/* Run one tool by name with args (a JSON object, as a model sends it; NULL counts as {}).
 * Arguments are validated (date understood by nlp_parse_date relative to env->today, time by
 * nlp_parse_time, e-mail syntax, a known active service, duration 5..600); booking goes through
 * booking_create (race-free; idempotency key "agent:" + conversation + ":" + SHA-256 of the
 * canonical arguments, so a repeated identical call books once; outbox; confirmation mail queued).
 * Returns a new object, NULL only when out of memory:
 *   check_calendar_availability → {"ok": true, "date": "2026-11-24", "duration_minutes": 60,
 *       "slots": ["09:00", "11:00"], "text": "Available times: 9:00 AM, 11:00 AM"}
 *   book_appointment → {"ok": true, "appointment": {"id", "service", "start": "2026-11-24T14:00",
 *       "end", "duration_minutes", "customer_name", "customer_email", "create_meet", "video_link"
 *       (null until the calendar gives one), "status": "confirmed", "cancel_url"},
 *       "text": the seed's confirmation ("✅ Appointment booked successfully!\n\n📅 Haircut for
 *       John Doe\n🕐 Tuesday, November 24 at 02:00 PM\n⏱️ Duration: 60 minutes\n📧 Confirmation
 *       email sent to john@example.com")}
 *   failure → {"ok": false, "error": "invalid_argument" | "unknown_service" | "slot_taken" |
 *       "outside_hours" | "unknown_tool" | "internal_error", "field": "customer_email" (when one
 *       argument is at fault), "text": an English sentence the model can act on (for slot_taken and
 *       outside_hours it names up to 6 free times of that day), "slots": [...] (when known)}
 * On success of book_appointment, env->booked_id and env->appointment are set. */
json_t *agent_tool_run(struct agent_env *env, const char *name, json_t *args);

/* ------------------------------------------------------------------ one turn (POST /api/agent/chat) */

struct agent_request {
	const char *doctor_slug;
	const char *conversation;    /* the token from an earlier answer, or NULL to start one */
	const char *message;
	const char *client_ip;       /* REMOTE_ADDR; only its HMAC is stored */
	time_t now;
};

enum agent_status {
	AGENT_OK,                /* 200 */
	AGENT_INVALID,           /* 400: field names the offending field ("message", "doctor", ...) */
	AGENT_NOT_FOUND,         /* 404: unknown doctor, or no such conversation for this doctor */
	AGENT_TOO_LONG,          /* 409: the conversation reached AGENT_TURNS_MAX */
	AGENT_RATE_LIMITED,      /* 429: retry_after set */
	AGENT_UNAVAILABLE,       /* 503: the LLM endpoint failed before anything happened (nothing
				    stored; retry_after set when it said so) */
	AGENT_ERROR,             /* 500 */
};

struct agent_answer {
	enum agent_status status;
	const char *field;           /* AGENT_INVALID */
	char message[300];           /* German, for people (errors) */
	long retry_after;            /* seconds (429, 503) */
	char conversation[AGENT_TOKEN_LEN + 1];
	char *reply;                 /* malloc'd: the assistant's answer, in the patient's language */
	json_t *tool_calls;          /* [{"function", "arguments", "result"}] of this turn (owned) */
	json_t *appointment;         /* the appointment booked in this turn, or NULL (owned) */
	long long booked_id;         /* its id (mail it after the answer), 0 when none */
	const char *mode;            /* "llm" or "offline" */
};
void agent_answer_free(struct agent_answer *a);

/* One turn: check the limits (message 1..AGENT_MESSAGE_MAX bytes of text, AGENT_TURNS_MAX per
 * conversation, the per-IP rates), load or create the conversation (a new one picks its mode: "llm"
 * when llm_configured(), else "offline"; it keeps that mode), run the turn, and store the user
 * message and the assistant message (content = reply, metadata = {"function_calls": [{"id"?,
 * "function", "arguments", "result"}], "mode", "model"?}) in one transaction together with the
 * conversation's new state, turns and appointment_id. A turn that fails before any tool had an
 * effect stores nothing. Returns a->status. */
enum agent_status agent_chat(struct db *db, struct conf *c, const struct agent_request *rq,
			     struct agent_answer *a);

/* Delete conversations not updated for TF_AGENT_RETENTION_DAYS (default 30). Rows deleted or -1. */
long agent_prune(struct db *db, struct conf *c, time_t now);

#endif
