/* booking.c: appointments: race-free booking under the doctor's row lock, idempotency keys, cancellation, rescheduling, outbox. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <mysqld_error.h>

#include "availability.h"
#include "booking.h"
#include "crypto.h"
#include "doctor.h"
#include "log.h"
#include "mail.h"
#include "practice.h"

/*
 * Settings (conf_get), with their defaults:
 *   TF_SLOT_STEP_MINUTES     15   slot grid (5..60)
 *   TF_LEAD_TIME_MINUTES     120  no booking closer to now than this (0..43200)
 *   TF_BOOKING_HORIZON_DAYS  180  no booking further ahead than this (1..3650)
 *   BASE_URL                      cancel_url = BASE_URL + "/termin/absage/" + token
 *   CALENDAR_ENCRYPTION_KEY       Fernet keyring; the first key encrypts the stored cancel token.
 *                                 Without it the token is stored only as its hash (warned once),
 *                                 and later mails cannot carry the link.
 *
 * Idempotency-Key: only final answers of requests that reached the booking transaction are stored
 * with the key (201 booked, 409 slot taken), in that transaction. Answers decided before it (400
 * invalid field, 404 unknown doctor, 500) are not stored: repeating such a request with the same key
 * evaluates it again. A stored key is checked before anything else, so a repeat gets the first answer
 * even when the slot has since moved into the lead time.
 */

#define BOOKING_TX_ATTEMPTS   4     /* a deadlock (1213) rolls the whole transaction back: retry */
#define BOOKING_JSON_FLAGS    (JSON_ESCAPE_SLASH | JSON_COMPACT)
#define BOOKING_TOKEN_BYTES   32
#define BOOKING_REQ_MAX       (1024 * 1024)   /* canonical request text for the request hash */
#define REMINDER_AHEAD        (24 * 3600)

static const char msg_slot_taken[] =
	"Dieser Termin ist leider nicht mehr frei. Bitte wählen Sie eine andere Uhrzeit.";
static const char msg_reschedule_taken[] =
	"Die neue Uhrzeit ist nicht frei (Sprechzeiten, Schließzeiten, Feiertage oder andere "
	"Termine). Bitte wählen Sie eine andere Uhrzeit.";
static const char msg_error[] =
	"Der Termin konnte wegen eines technischen Fehlers nicht bearbeitet werden. Bitte versuchen "
	"Sie es später noch einmal.";

/* ------------------------------------------------------------------ results */

static int http_status_of(enum booking_status s, int created)
{
	switch (s) {
	case BOOKING_OK:
		return created ? 201 : 200;
	case BOOKING_INVALID:
		return 400;
	case BOOKING_NOT_FOUND:
		return 404;
	case BOOKING_CONFLICT:
		return 409;
	case BOOKING_GONE:
		return 410;
	case BOOKING_KEY_REUSED:
		return 422;
	case BOOKING_ERROR:
	case BOOKING_STATUS_MAX:
	default:
		return 500;
	}
}

static const char *error_code_of(enum booking_status s)
{
	switch (s) {
	case BOOKING_INVALID:
		return "invalid_field";
	case BOOKING_NOT_FOUND:
		return "not_found";
	case BOOKING_CONFLICT:
		return "slot_taken";
	case BOOKING_GONE:
		return "gone";
	case BOOKING_KEY_REUSED:
		return "idempotency_key_reused";
	default:
		return "internal_error";
	}
}

void booking_result_free(struct booking_result *r)
{
	if (!r)
		return;
	free(r->json);
	r->json = NULL;
	explicit_bzero(r->cancel_token, sizeof(r->cancel_token));
}

/* Serialise obj (stolen) into r->json. 0 or -1. */
static int set_json(struct booking_result *r, json_t *obj)
{
	char *s;

	if (!obj)
		return -1;
	s = json_dumps(obj, BOOKING_JSON_FLAGS);
	json_decref(obj);
	if (!s)
		return -1;
	free(r->json);
	r->json = s;
	return 0;
}

/* Finish r as a failure: status, HTTP status, field, German message, and the API's error JSON
 * {"error": {"code", "message"[, "field"]}}. Returns status. */
static enum booking_status fail(struct booking_result *r, enum booking_status status,
				const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static enum booking_status fail(struct booking_result *r, enum booking_status status,
				const char *field, const char *fmt, ...)
{
	json_t *err;
	va_list ap;

	r->status = status;
	r->http_status = http_status_of(status, 0);
	r->field = field;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	err = json_pack("{s:s, s:s}", "code", error_code_of(status), "message", r->message);
	if (err && field)
		json_object_set_new(err, "field", json_string(field));
	if (set_json(r, err ? json_pack("{s:o}", "error", err) : NULL) < 0) {
		free(r->json);
		r->json = NULL;
	}
	return status;
}

static enum booking_status fail_error(struct booking_result *r)
{
	return fail(r, BOOKING_ERROR, NULL, "%s", msg_error);
}

static void result_init(struct booking_result *r)
{
	memset(r, 0, sizeof(*r));
	r->status = BOOKING_ERROR;
	r->http_status = 500;
}

/* Before another attempt: drop what the last one left. */
static void result_reset(struct booking_result *r)
{
	free(r->json);
	result_init(r);
}

/* ------------------------------------------------------------------ time */

static int civil_time_valid(const struct civil *c)
{
	return civil_date_valid(c->year, c->month, c->day) && c->hour >= 0 && c->hour <= 23 &&
	       c->minute >= 0 && c->minute <= 59;
}

/* "120 Minuten" -> "2 Stunden" when whole hours. */
static void duration_text(long minutes, char *out, size_t outlen)
{
	if (minutes % 60 == 0 && minutes >= 60)
		snprintf(out, outlen, "%ld Stunde%s", minutes / 60, minutes == 60 ? "" : "n");
	else
		snprintf(out, outlen, "%ld Minute%s", minutes, minutes == 1 ? "" : "n");
}

/* Check a start against now, the lead time and the horizon: BOOKING_OK or BOOKING_INVALID (r set). */
static enum booking_status check_start_time(time_t start, time_t now,
					    const struct avail_limits *s,
					    struct booking_result *r)
{
	char lead[48];

	if (start <= now)
		return fail(r, BOOKING_INVALID, "start", "Dieser Zeitpunkt liegt in der Vergangenheit.");
	if (start < now + s->lead * 60) {
		duration_text(s->lead, lead, sizeof(lead));
		return fail(r, BOOKING_INVALID, "start",
			    "Termine können nur mindestens %s im Voraus gebucht werden.", lead);
	}
	if (start > now + s->horizon_days * 86400)
		return fail(r, BOOKING_INVALID, "start",
			    "Termine können höchstens %ld Tage im Voraus gebucht werden.",
			    s->horizon_days);
	return BOOKING_OK;
}

/* ------------------------------------------------------------------ field checks */

/* Trim blanks off s into out[outlen]: length, or (size_t)-1 when too long. */
static size_t trim_into(const char *s, char *out, size_t outlen)
{
	size_t len;

	if (!s)
		s = "";
	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= outlen)
		return (size_t)-1;
	memcpy(out, s, len);
	out[len] = '\0';
	return len;
}

static int phone_valid(const char *s)
{
	int digits = 0;

	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			digits++;
		else if (!strchr(" +()/-", *s))
			return 0;
	}
	return digits > 0;
}

static int key_valid(const char *k)
{
	size_t n = 0;

	for (; *k; k++, n++)
		if ((unsigned char)*k < 0x21 || (unsigned char)*k > 0x7e)
			return 0;
	return n >= 1 && n <= BOOKING_IDEM_KEY_MAX;
}

static int token_syntax_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0;

	return n >= 16 && n < BOOKING_TOKEN_MAX &&
	       str_only_chars(t, BOOKING_TOKEN_MAX,
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

/* ------------------------------------------------------------------ appointments */

/* Columns (db_stmts.def): id, doctor_id, service_id, service_name, start, end (Unix seconds),
 * buffer_before, buffer_after, patient_name, patient_email, patient_phone, status, is_video,
 * create_meet, video_link, cancelled_by, needs_review, created_at, updated_at, reschedule_count. */
static void appt_from_row(const struct db_rows *r, size_t i, struct appointment *a)
{
	const char *s;

	memset(a, 0, sizeof(*a));
	a->id = db_cell_int(r, i, 0, 0);
	a->doctor_id = db_cell_int(r, i, 1, 0);
	a->service_id = db_cell_int(r, i, 2, 0);
	s = db_cell(r, i, 3);
	str_copy(a->service_name, s ? s : "", sizeof(a->service_name));
	a->start = (time_t)db_cell_int(r, i, 4, 0);
	a->end = (time_t)db_cell_int(r, i, 5, 0);
	a->buffer_before = (int)db_cell_int(r, i, 6, 0);
	a->buffer_after = (int)db_cell_int(r, i, 7, 0);
	s = db_cell(r, i, 8);
	str_copy(a->patient_name, s ? s : "", sizeof(a->patient_name));
	s = db_cell(r, i, 9);
	str_copy(a->patient_email, s ? s : "", sizeof(a->patient_email));
	s = db_cell(r, i, 10);
	str_copy(a->patient_phone, s ? s : "", sizeof(a->patient_phone));
	s = db_cell(r, i, 11);
	str_copy(a->status, s ? s : "", sizeof(a->status));
	a->is_video = db_cell_int(r, i, 12, 0) != 0;
	a->create_meet = db_cell_int(r, i, 13, 0) != 0;
	s = db_cell(r, i, 14);
	str_copy(a->video_link, s ? s : "", sizeof(a->video_link));
	s = db_cell(r, i, 15);
	str_copy(a->cancelled_by, s ? s : "", sizeof(a->cancelled_by));
	a->needs_review = db_cell_int(r, i, 16, 0) != 0;
	a->created_at = (time_t)db_cell_int(r, i, 17, 0);
	a->updated_at = (time_t)db_cell_int(r, i, 18, 0);
	a->reschedule_count = (int)db_cell_int(r, i, 19, 0);
}

static int appt_lookup(struct db *db, enum db_stmt st, const struct db_param *p, size_t np,
		       struct appointment *a)
{
	struct db_rows r;
	int found;

	found = db_query_one(db, st, p, np, &r);
	if (found <= 0)
		return found;
	appt_from_row(&r, 0, a);
	db_rows_free(&r);
	return 1;
}

int appointment_by_id(struct db *db, long long id, struct appointment *a)
{
	if (id <= 0)
		return 0;
	return appt_lookup(db, STMT_APPOINTMENT_BY_ID, DB_ARGS(DBP_INT(id)), a);
}

int appointment_by_cancel_token(struct db *db, const char *token, struct appointment *a)
{
	char hash[65];

	if (!token_syntax_ok(token))
		return 0;
	sha256_hex(token, strlen(token), hash);
	return appt_lookup(db, STMT_APPOINTMENT_BY_TOKEN, DB_ARGS(DBP_TEXT(hash)), a);
}

long appointment_list_upcoming(struct db *db, long long doctor_id, time_t from, int include_cancelled,
			       size_t max, struct appointment **out)
{
	struct appointment *list = NULL;
	struct db_rows r;
	char when[20];
	size_t i;

	*out = NULL;
	if (max == 0)
		return 0;
	if (max > 100000)
		max = 100000;
	utc_format_sql(from, when);
	if (db_query(db, STMT_APPOINTMENT_UPCOMING,
		     DB_ARGS(DBP_INT(doctor_id), DBP_TEXT(when), DBP_INT(include_cancelled ? 1 : 0),
			     DBP_INT(max)), &r) != TF_OK)
		return -1;
	if (r.nrows) {
		list = calloc(r.nrows, sizeof(*list));
		if (!list) {
			db_rows_free(&r);
			return -1;
		}
	}
	for (i = 0; i < r.nrows; i++)
		appt_from_row(&r, i, &list[i]);
	*out = list;
	i = r.nrows;
	db_rows_free(&r);
	return (long)i;
}

/* ------------------------------------------------------------------ transaction helpers */

enum tx_outcome {
	TX_DONE,        /* r is final (committed or rolled back as it says) */
	TX_RETRY,       /* deadlock: rolled back, run the transaction again */
	TX_KEY_TAKEN,   /* the Idempotency-Key row exists (committed by a twin): rolled back */
};

static int is_deadlock(struct db *db)
{
	return db_errno(db) == ER_LOCK_DEADLOCK;
}

static int is_duplicate(struct db *db)
{
	return db_errno(db) == ER_DUP_ENTRY || db_errno(db) == ER_DUP_ENTRY_WITH_KEY_NAME;
}

/* Start a READ COMMITTED transaction: every read after the doctor's row lock sees what the
 * previous holder of the lock committed. */
static enum tf_err begin_tx(struct db *db)
{
	if (db_exec(db, STMT_BOOKING_TX_READ_COMMITTED, DB_NOARGS, NULL, NULL) != TF_OK)
		return TF_ERR_DB;
	return db_begin(db);
}

/* Lock the doctor row: 1 found, 0 not, -1 error. */
static int lock_doctor(struct db *db, long long doctor_id)
{
	struct db_rows r;
	int found;

	found = db_query_one(db, STMT_BOOKING_DOCTOR_LOCK, DB_ARGS(DBP_INT(doctor_id)), &r);
	if (found > 0)
		db_rows_free(&r);
	return found;
}

static enum tf_err outbox_add(struct db *db, long long appointment_id, long long doctor_id,
			      const char *action)
{
	return db_exec(db, STMT_OUTBOX_INSERT,
		       DB_ARGS(DBP_INT(appointment_id), DBP_INT(doctor_id), DBP_TEXT(action)), NULL,
		       NULL);
}

/* 1 when start is among the doctor's free slots of its local date (the appointment `exclude`
 * ignored), 0 when not, -1 on a database error. */
static int slot_free(struct db *db, const struct doctor *d, const struct civil *local, time_t start,
		     int duration, int buffer_before, int buffer_after,
		     const struct avail_limits *s, time_t now, long long exclude)
{
	struct avail_query q;
	struct civil date;
	time_t *out;
	long n, i;
	int found = 0;

	out = malloc(AVAIL_MAX_SLOTS * sizeof(*out));
	if (!out)
		return -1;
	date = *local;
	date.hour = 0;
	date.minute = 0;
	memset(&q, 0, sizeof(q));
	q.duration = duration;
	q.buffer_before = buffer_before;
	q.buffer_after = buffer_after;
	q.step = (int)s->step;
	q.lead = (int)s->lead;
	q.now = now;
	n = avail_doctor_day(db, d, &date, &q, exclude, out, AVAIL_MAX_SLOTS);
	if (n < 0) {
		free(out);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (out[i] == start) {
			found = 1;
			break;
		}
	free(out);
	return found;
}

/* ------------------------------------------------------------------ cancel tokens */

/* Fernet-encrypt the token with the first CALENDAR_ENCRYPTION_KEY; NULL (warned once) without it. */
static char *encrypt_token(struct conf *c, const char *token)
{
	static int warned_missing, warned_bad;
	struct fernet_keyring *kr;
	const char *keys = conf_get(c, "CALENDAR_ENCRYPTION_KEY");
	char err[256];
	char *enc;

	if (!keys || !*keys) {
		if (!__atomic_exchange_n(&warned_missing, 1, __ATOMIC_RELAXED))
			log_warn("booking: CALENDAR_ENCRYPTION_KEY is not set: cancel tokens are stored "
				 "only hashed; later mails cannot carry the cancel link");
		return NULL;
	}
	kr = fernet_keyring_parse(keys, err, sizeof(err));
	if (!kr) {
		if (!__atomic_exchange_n(&warned_bad, 1, __ATOMIC_RELAXED))
			log_error("booking: CALENDAR_ENCRYPTION_KEY is malformed (%s): cancel tokens "
				  "are stored only hashed", err);
		return NULL;
	}
	enc = fernet_encrypt(kr, token, strlen(token));
	fernet_keyring_free(kr);
	if (!enc)
		log_error("booking: encrypting the cancel token failed; stored only hashed");
	return enc;
}

static void cancel_url(struct conf *c, const char *token, char *out, size_t outlen)
{
	const char *base = conf_get_default(c, "BASE_URL", "");
	size_t bl = strlen(base);

	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	snprintf(out, outlen, "%.*s/termin/absage/%s", (int)bl, base, token);
}

/* ------------------------------------------------------------------ idempotency */

/* SHA-256 hex of the request as given, in a canonical, length-prefixed form. 0 or -1. */
static int request_hash(const struct booking_request *q, char out[65])
{
	struct buf b;
	const char *fields[5];
	size_t i;
	int rc = 0;

	fields[0] = q->service;
	fields[1] = q->patient_name;
	fields[2] = q->patient_email;
	fields[3] = q->patient_phone;
	fields[4] = q->doctor_id > 0 ? NULL : q->doctor_slug;
	buf_init(&b, BOOKING_REQ_MAX);
	rc |= buf_printf(&b, "booking-v1\ndoctor_id=%lld\nstart=%04d-%02d-%02dT%02d:%02d\n"
			 "duration=%d\ncreate_meet=%d\n", q->doctor_id > 0 ? q->doctor_id : 0,
			 q->start.year, q->start.month, q->start.day, q->start.hour, q->start.minute,
			 q->duration, q->create_meet ? 1 : 0);
	for (i = 0; i < TF_ARRAY_LEN(fields); i++) {
		if (!fields[i])
			rc |= buf_puts(&b, "-\n");
		else
			rc |= buf_printf(&b, "%zu:%s\n", strlen(fields[i]), fields[i]);
	}
	if (rc == 0)
		sha256_hex(b.data, b.len, out);
	buf_free(&b);
	return rc ? -1 : 0;
}

/* The token at the end of a stored answer's cancel_url, for a replayed booking. */
static void token_from_json(const char *json, char *out, size_t outlen)
{
	json_t *root = json_loads(json, 0, NULL);
	const char *url = root ? json_string_value(json_object_get(root, "cancel_url")) : NULL;
	const char *slash = url ? strrchr(url, '/') : NULL;

	out[0] = '\0';
	if (slash && token_syntax_ok(slash + 1))
		str_copy(out, slash + 1, outlen);
	json_decref(root);
}

/* Answer from a stored key: -1 database error, 0 no stored answer, 1 answered (replayed, or
 * BOOKING_KEY_REUSED when the stored request differs). */
static int idem_answer(struct db *db, const char *key_hash, const char *req_hash,
		       struct booking_result *r)
{
	struct db_rows rows;
	const char *stored_hash, *body;
	long long code, appt_id;
	int found;

	found = db_query_one(db, STMT_BOOKING_IDEM_LOOKUP, DB_ARGS(DBP_TEXT(key_hash)), &rows);
	if (found <= 0)
		return found;
	stored_hash = db_cell(&rows, 0, 0);
	code = db_cell_int(&rows, 0, 1, 0);
	body = db_cell(&rows, 0, 2);
	appt_id = db_cell_int(&rows, 0, 3, 0);
	if (code == 0 || !body || !stored_hash) {
		/* Only a committed, finished row is ever visible; anything else is not an answer. */
		db_rows_free(&rows);
		return 0;
	}
	if (!ct_streq(stored_hash, req_hash)) {
		db_rows_free(&rows);
		fail(r, BOOKING_KEY_REUSED, NULL,
		     "Dieser Idempotency-Key wurde bereits für eine andere Anfrage verwendet.");
		return 1;
	}
	free(r->json);
	r->json = strdup(body);
	db_rows_free(&rows);
	if (!r->json)
		return -1;
	r->replayed = 1;
	r->http_status = (int)code;
	r->field = NULL;
	if (code == 201) {
		r->status = BOOKING_OK;
		r->message[0] = '\0';
		token_from_json(r->json, r->cancel_token, sizeof(r->cancel_token));
		if (appt_id > 0 && appointment_by_id(db, appt_id, &r->appt) < 0)
			return -1;
	} else if (code == 409) {
		r->status = BOOKING_CONFLICT;
		str_copy(r->message, msg_slot_taken, sizeof(r->message));
	} else {
		r->status = BOOKING_ERROR;
		str_copy(r->message, msg_error, sizeof(r->message));
	}
	return 1;
}

/* ------------------------------------------------------------------ create */

struct create_ctx {
	struct conf *c;
	const struct booking_request *req;
	const struct avail_limits *set;
	long long doctor_id;
	struct practice_service svc;
	struct civil start;                 /* local */
	char name[BOOKING_NAME_MAX + 1];
	char email[BOOKING_EMAIL_MAX + 1];
	char phone[BOOKING_PHONE_MAX + 1];
	const char *key_hash, *req_hash;    /* NULL without an Idempotency-Key */
	time_t now;
};

/* Store the answer with the key (inside the transaction). */
static enum tf_err idem_finish(struct db *db, const struct create_ctx *x, int code,
			       const char *json, long long appt_id)
{
	if (!x->key_hash)
		return TF_OK;
	return db_exec(db, STMT_BOOKING_IDEM_FINISH,
		       DB_ARGS(DBP_INT(code), DBP_TEXT(json), appt_id > 0 ? DBP_INT(appt_id) : DBP_NULL,
			       DBP_TEXT(x->key_hash)), NULL, NULL);
}

static enum tx_outcome create_tx(struct db *db, struct create_ctx *x, struct booking_result *r)
{
	char token[BOOKING_TOKEN_MAX], token_hash[65], url[BOOKING_TOKEN_MAX + 2100];
	char start_iso[17], end_iso[17], s_sql[20], e_sql[20];
	unsigned long long new_id = 0;
	char *enc = NULL;
	enum tx_outcome out = TX_DONE;
	time_t start, end;
	struct doctor d;
	int found, in_tx = 0;

	token[0] = '\0';
	if (begin_tx(db) != TF_OK) {
		fail_error(r);
		goto out;
	}
	in_tx = 1;
	/* The key row first: a concurrent twin blocks on its unique index until this commits, then
	 * sees the duplicate and replays the stored answer. */
	if (x->key_hash &&
	    db_exec(db, STMT_BOOKING_IDEM_INSERT,
		    DB_ARGS(DBP_TEXT(x->key_hash), DBP_TEXT(x->req_hash)), NULL, NULL) != TF_OK) {
		if (is_duplicate(db))
			out = TX_KEY_TAKEN;
		goto db_fail;
	}
	found = lock_doctor(db, x->doctor_id);
	if (found <= 0) {
		if (found < 0)
			goto db_fail;
		fail(r, BOOKING_NOT_FOUND, "doctor", "Diese Praxis gibt es nicht.");
		goto out;
	}
	/* The doctor's settings as of now, under the lock. */
	found = doctor_by_id(db, x->doctor_id, &d);
	if (found <= 0) {
		if (found < 0)
			goto db_fail;
		fail(r, BOOKING_NOT_FOUND, "doctor", "Diese Praxis gibt es nicht.");
		goto out;
	}
	if (tz_local_to_utc(d.timezone, &x->start, &start) < 0)
		goto conflict;
	end = start + (time_t)x->svc.duration * 60;
	found = slot_free(db, &d, &x->start, start, x->svc.duration, x->svc.buffer_before,
			  x->svc.buffer_after, x->set, x->now, 0);
	if (found < 0)
		goto db_fail;
	if (found == 0)
		goto conflict;

	crypto_random_token(BOOKING_TOKEN_BYTES, token, sizeof(token));
	sha256_hex(token, strlen(token), token_hash);
	enc = encrypt_token(x->c, token);
	utc_format_sql(start, s_sql);
	utc_format_sql(end, e_sql);
	if (db_exec(db, STMT_APPOINTMENT_INSERT,
		    DB_ARGS(DBP_INT(d.id), DBP_INT(x->svc.id), DBP_TEXT(x->svc.name), DBP_TEXT(s_sql),
			    DBP_TEXT(e_sql), DBP_INT(x->svc.buffer_before), DBP_INT(x->svc.buffer_after),
			    DBP_TEXT(x->name), DBP_TEXT(x->email), DBP_TEXT(x->phone),
			    DBP_TEXT(token_hash), DBP_TEXT(enc), DBP_INT(x->svc.is_video),
			    DBP_INT(x->req->create_meet ? 1 : 0)), NULL, &new_id) != TF_OK)
		goto db_fail;
	if (outbox_add(db, (long long)new_id, d.id, "create") != TF_OK)
		goto db_fail;
	if (mail_enqueue(db, (long long)new_id, MAIL_CONFIRMATION, 0) != TF_OK)
		goto db_fail;

	tz_format_iso_local(d.timezone, start, start_iso);
	tz_format_iso_local(d.timezone, end, end_iso);
	cancel_url(x->c, token, url, sizeof(url));
	if (set_json(r, json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)new_id,
				  "start", start_iso, "end", end_iso, "status", "confirmed",
				  "cancel_url", url)) < 0) {
		fail_error(r);
		goto out;
	}
	if (idem_finish(db, x, 201, r->json, (long long)new_id) != TF_OK)
		goto db_fail;
	in_tx = 0;
	if (db_commit(db) != TF_OK) {
		if (is_deadlock(db))
			out = TX_RETRY;
		else
			fail_error(r);
		goto out;
	}
	r->status = BOOKING_OK;
	r->http_status = 201;
	r->field = NULL;
	r->message[0] = '\0';
	str_copy(r->cancel_token, token, sizeof(r->cancel_token));
	memset(&r->appt, 0, sizeof(r->appt));
	r->appt.id = (long long)new_id;
	r->appt.doctor_id = d.id;
	r->appt.service_id = x->svc.id;
	str_copy(r->appt.service_name, x->svc.name, sizeof(r->appt.service_name));
	r->appt.start = start;
	r->appt.end = end;
	r->appt.buffer_before = x->svc.buffer_before;
	r->appt.buffer_after = x->svc.buffer_after;
	str_copy(r->appt.patient_name, x->name, sizeof(r->appt.patient_name));
	str_copy(r->appt.patient_email, x->email, sizeof(r->appt.patient_email));
	str_copy(r->appt.patient_phone, x->phone, sizeof(r->appt.patient_phone));
	str_copy(r->appt.status, "confirmed", sizeof(r->appt.status));
	r->appt.is_video = x->svc.is_video;
	r->appt.create_meet = x->req->create_meet ? 1 : 0;
	r->appt.created_at = x->now;
	r->appt.updated_at = x->now;
	goto out;

conflict:
	fail(r, BOOKING_CONFLICT, NULL, "%s", msg_slot_taken);
	if (!r->json || idem_finish(db, x, 409, r->json, 0) != TF_OK)
		goto db_fail;
	in_tx = 0;
	if (db_commit(db) != TF_OK) {
		if (is_deadlock(db))
			out = TX_RETRY;
		else
			fail_error(r);
	}
	goto out;

db_fail:
	if (out != TX_KEY_TAKEN && is_deadlock(db))
		out = TX_RETRY;
	if (out == TX_DONE)
		fail_error(r);
out:
	if (in_tx)
		db_rollback(db);
	if (enc) {
		explicit_bzero(enc, strlen(enc));
		free(enc);
	}
	explicit_bzero(token, sizeof(token));
	return out;
}

/* Resolve the service: the named one, or the only active one when none is named. */
static enum booking_status resolve_service(struct db *db, long long doctor_id, const char *name,
					   struct practice_service *svc, struct booking_result *r)
{
	struct practice_service *list = NULL;
	long n;
	int found;

	if (name) {
		if (strlen(name) > BOOKING_SERVICE_MAX * 4)
			return fail(r, BOOKING_INVALID, "service", "Diese Leistung gibt es nicht.");
		found = practice_service_by_name(db, doctor_id, name, svc);
		if (found < 0)
			return fail_error(r);
		if (found == 0 || !svc->active)
			return fail(r, BOOKING_INVALID, "service",
				    "Diese Leistung wird nicht (mehr) angeboten. Bitte wählen Sie eine "
				    "andere.");
		return BOOKING_OK;
	}
	n = practice_services_list(db, doctor_id, 0, &list);
	if (n < 0)
		return fail_error(r);
	if (n != 1) {
		free(list);
		return fail(r, BOOKING_INVALID, "service", "Bitte wählen Sie eine Leistung.");
	}
	*svc = list[0];
	free(list);
	return BOOKING_OK;
}

enum booking_status booking_create(struct db *db, struct conf *c, const struct booking_request *req,
				   time_t now, struct booking_result *r)
{
	struct avail_limits set;
	struct create_ctx x;
	struct doctor d;
	char key_hash[65], req_hash[65];
	time_t start;
	enum booking_status st;
	int found, attempt;

	result_init(r);
	if (!db || !c || !req)
		return fail_error(r);
	memset(&x, 0, sizeof(x));

	/* A stored answer for this key comes first: the same request gets the same answer. */
	if (req->idempotency_key) {
		if (!key_valid(req->idempotency_key))
			return fail(r, BOOKING_INVALID, "idempotency_key",
				    "Der Idempotency-Key muss aus 1 bis %d sichtbaren ASCII-Zeichen "
				    "bestehen.", BOOKING_IDEM_KEY_MAX);
		sha256_hex(req->idempotency_key, strlen(req->idempotency_key), key_hash);
		if (request_hash(req, req_hash) < 0)
			return fail(r, BOOKING_INVALID, "patient_name",
				    "Die Angaben sind zu lang (höchstens %d Zeichen).", BOOKING_NAME_MAX);
		found = idem_answer(db, key_hash, req_hash, r);
		if (found < 0)
			return fail_error(r);
		if (found > 0)
			return r->status;
		x.key_hash = key_hash;
		x.req_hash = req_hash;
	}

	/* The doctor. */
	if (req->doctor_id > 0)
		found = doctor_by_id(db, req->doctor_id, &d);
	else if (req->doctor_slug && *req->doctor_slug)
		found = doctor_by_slug(db, req->doctor_slug, &d);
	else
		return fail(r, BOOKING_INVALID, "doctor", "Bitte geben Sie die Praxis an.");
	if (found < 0)
		return fail_error(r);
	if (found == 0)
		return fail(r, BOOKING_NOT_FOUND, "doctor", "Diese Praxis gibt es nicht.");
	if (avail_limits_get(c, &set) < 0)
		return fail_error(r);

	/* The patient. */
	if (trim_into(req->patient_name, x.name, sizeof(x.name)) == (size_t)-1)
		return fail(r, BOOKING_INVALID, "patient_name",
			    "Der Name ist zu lang (höchstens %d Zeichen).", BOOKING_NAME_MAX);
	if (!x.name[0])
		return fail(r, BOOKING_INVALID, "patient_name", "Bitte geben Sie Ihren Namen an.");
	if (!practice_text_valid(x.name))
		return fail(r, BOOKING_INVALID, "patient_name", "Der Name enthält ungültige Zeichen.");
	if (trim_into(req->patient_email, x.email, sizeof(x.email)) == (size_t)-1 ||
	    !doctor_email_valid(x.email))
		return fail(r, BOOKING_INVALID, "patient_email",
			    "Bitte geben Sie eine gültige E-Mail-Adresse an.");
	if (trim_into(req->patient_phone, x.phone, sizeof(x.phone)) == (size_t)-1 ||
	    (x.phone[0] && !phone_valid(x.phone)))
		return fail(r, BOOKING_INVALID, "patient_phone",
			    "Die Telefonnummer darf nur Ziffern, Leerzeichen und + ( ) / - enthalten "
			    "(höchstens %d Zeichen).", BOOKING_PHONE_MAX);

	/* The service and the time. */
	st = resolve_service(db, d.id, req->service, &x.svc, r);
	if (st != BOOKING_OK)
		return st;
	if (req->duration != 0 && req->duration != x.svc.duration)
		return fail(r, BOOKING_INVALID, "duration_minutes",
			    "Die Dauer muss der Dauer der Leistung entsprechen (%d Minuten).",
			    x.svc.duration);
	if (!civil_time_valid(&req->start))
		return fail(r, BOOKING_INVALID, "start", "Bitte geben Sie ein gültiges Datum und eine "
			    "gültige Uhrzeit an.");
	if (tz_local_to_utc(d.timezone, &req->start, &start) < 0)
		return fail(r, BOOKING_INVALID, "start", "Diese Uhrzeit gibt es an diesem Tag wegen der "
			    "Zeitumstellung nicht.");
	st = check_start_time(start, now, &set, r);
	if (st != BOOKING_OK)
		return st;

	x.c = c;
	x.req = req;
	x.set = &set;
	x.doctor_id = d.id;
	x.start = req->start;
	x.now = now;
	for (attempt = 0; attempt < BOOKING_TX_ATTEMPTS; attempt++) {
		enum tx_outcome o;

		result_reset(r);
		o = create_tx(db, &x, r);
		if (o == TX_DONE)
			return r->status;
		if (o == TX_KEY_TAKEN) {
			found = idem_answer(db, key_hash, req_hash, r);
			if (found < 0)
				return fail_error(r);
			if (found > 0)
				return r->status;
		}
		log_info("booking: transaction for doctor %lld repeated (%s)", d.id,
			 o == TX_RETRY ? "deadlock" : "key row vanished");
	}
	log_error("booking: gave up after %d attempts for doctor %lld", BOOKING_TX_ATTEMPTS, d.id);
	return fail_error(r);
}

/* ------------------------------------------------------------------ cancel */

/* Cancel appointment id (doctor_id > 0: must be that doctor's). by: "patient" or "doctor". */
static enum tx_outcome cancel_tx(struct db *db, long long appt_doctor, long long id,
				 long long doctor_id, const char *by, time_t now,
				 struct booking_result *r)
{
	struct appointment a;
	enum tx_outcome out = TX_DONE;
	int found, in_tx = 0;

	if (begin_tx(db) != TF_OK) {
		fail_error(r);
		goto out;
	}
	in_tx = 1;
	found = lock_doctor(db, appt_doctor);
	if (found < 0)
		goto db_fail;
	found = found ? appt_lookup(db, STMT_APPOINTMENT_BY_ID_LOCK, DB_ARGS(DBP_INT(id)), &a) : 0;
	if (found < 0)
		goto db_fail;
	if (found == 0 || (doctor_id > 0 && a.doctor_id != doctor_id) || a.doctor_id != appt_doctor) {
		fail(r, BOOKING_NOT_FOUND, NULL, "Diesen Termin gibt es nicht.");
		goto out;
	}
	if (strcmp(a.status, "confirmed") != 0) {
		fail(r, BOOKING_GONE, NULL, "Dieser Termin wurde bereits abgesagt.");
		goto out;
	}
	if (a.start <= now) {
		fail(r, BOOKING_GONE, NULL, "Dieser Termin hat bereits begonnen oder liegt in der "
		     "Vergangenheit und kann nicht mehr abgesagt werden.");
		goto out;
	}
	if (db_exec(db, STMT_APPOINTMENT_CANCEL, DB_ARGS(DBP_TEXT(by), DBP_INT(id)), NULL, NULL) !=
	    TF_OK)
		goto db_fail;
	if (outbox_add(db, id, a.doctor_id, "cancel") != TF_OK)
		goto db_fail;
	if (mail_enqueue(db, id, MAIL_CANCELLATION, 0) != TF_OK)
		goto db_fail;
	in_tx = 0;
	if (db_commit(db) != TF_OK) {
		if (is_deadlock(db))
			out = TX_RETRY;
		else
			fail_error(r);
		goto out;
	}
	str_copy(a.status, "cancelled", sizeof(a.status));
	str_copy(a.cancelled_by, by, sizeof(a.cancelled_by));
	a.updated_at = now;
	r->appt = a;
	r->status = BOOKING_OK;
	r->http_status = 200;
	r->field = NULL;
	str_copy(r->message, "Der Termin wurde abgesagt.", sizeof(r->message));
	if (set_json(r, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "cancelled")) < 0)
		log_warn("booking: cannot build the JSON answer of cancelled appointment %lld", id);
	goto out;
db_fail:
	if (is_deadlock(db))
		out = TX_RETRY;
	else
		fail_error(r);
out:
	if (in_tx)
		db_rollback(db);
	return out;
}

static enum booking_status cancel_run(struct db *db, long long appt_doctor, long long id,
				      long long doctor_id, const char *by, time_t now,
				      struct booking_result *r)
{
	int attempt;

	for (attempt = 0; attempt < BOOKING_TX_ATTEMPTS; attempt++) {
		result_reset(r);
		if (cancel_tx(db, appt_doctor, id, doctor_id, by, now, r) == TX_DONE)
			return r->status;
	}
	log_error("booking: cancelling appointment %lld gave up after %d deadlocks", id,
		  BOOKING_TX_ATTEMPTS);
	return fail_error(r);
}

enum booking_status booking_cancel_by_token(struct db *db, struct conf *c, const char *token,
					    time_t now, struct booking_result *r)
{
	struct appointment a;
	int found;

	(void)c;
	result_init(r);
	if (!db)
		return fail_error(r);
	found = appointment_by_cancel_token(db, token, &a);
	if (found < 0)
		return fail_error(r);
	if (found == 0)
		return fail(r, BOOKING_NOT_FOUND, NULL,
			    "Diesen Termin gibt es nicht. Bitte prüfen Sie den Link aus Ihrer E-Mail.");
	return cancel_run(db, a.doctor_id, a.id, 0, "patient", now, r);
}

enum booking_status booking_cancel_by_doctor(struct db *db, struct conf *c, long long doctor_id,
					     long long appointment_id, time_t now,
					     struct booking_result *r)
{
	(void)c;
	result_init(r);
	if (!db)
		return fail_error(r);
	if (doctor_id <= 0 || appointment_id <= 0)
		return fail(r, BOOKING_NOT_FOUND, NULL, "Diesen Termin gibt es nicht.");
	return cancel_run(db, doctor_id, appointment_id, doctor_id, "doctor", now, r);
}

/* ------------------------------------------------------------------ reschedule */

static enum tx_outcome reschedule_tx(struct db *db, const struct avail_limits *set,
				     long long doctor_id, long long id, const struct civil *local,
				     time_t now, struct booking_result *r)
{
	struct appointment a;
	struct doctor d;
	enum tx_outcome out = TX_DONE;
	char s_sql[20], e_sql[20], start_iso[17], end_iso[17];
	time_t start, end;
	int found, in_tx = 0, duration;

	if (begin_tx(db) != TF_OK) {
		fail_error(r);
		goto out;
	}
	in_tx = 1;
	found = lock_doctor(db, doctor_id);
	if (found > 0)
		found = doctor_by_id(db, doctor_id, &d);
	if (found > 0)
		found = appt_lookup(db, STMT_APPOINTMENT_BY_ID_LOCK, DB_ARGS(DBP_INT(id)), &a);
	if (found < 0)
		goto db_fail;
	if (found == 0 || a.doctor_id != doctor_id) {
		fail(r, BOOKING_NOT_FOUND, NULL, "Diesen Termin gibt es nicht.");
		goto out;
	}
	if (strcmp(a.status, "confirmed") != 0) {
		fail(r, BOOKING_GONE, NULL, "Dieser Termin wurde abgesagt und kann nicht verschoben "
		     "werden.");
		goto out;
	}
	if (a.start <= now) {
		fail(r, BOOKING_GONE, NULL, "Dieser Termin hat bereits begonnen oder liegt in der "
		     "Vergangenheit und kann nicht mehr verschoben werden.");
		goto out;
	}
	if (tz_local_to_utc(d.timezone, local, &start) < 0) {
		fail(r, BOOKING_INVALID, "start", "Diese Uhrzeit gibt es an diesem Tag wegen der "
		     "Zeitumstellung nicht.");
		goto out;
	}
	if (check_start_time(start, now, set, r) != BOOKING_OK)
		goto out;
	if (start == a.start) {
		fail(r, BOOKING_INVALID, "start", "Der Termin liegt bereits zu dieser Uhrzeit.");
		goto out;
	}
	duration = (int)((a.end - a.start) / 60);
	end = start + (a.end - a.start);
	found = slot_free(db, &d, local, start, duration, a.buffer_before, a.buffer_after, set, now,
			  a.id);
	if (found < 0)
		goto db_fail;
	if (found == 0) {
		fail(r, BOOKING_CONFLICT, NULL, "%s", msg_reschedule_taken);
		goto out;
	}
	utc_format_sql(start, s_sql);
	utc_format_sql(end, e_sql);
	if (db_exec(db, STMT_APPOINTMENT_RESCHEDULE,
		    DB_ARGS(DBP_TEXT(s_sql), DBP_TEXT(e_sql),
			    DBP_INT(start > now + REMINDER_AHEAD ? 1 : 0), DBP_INT(id)), NULL,
		    NULL) != TF_OK)
		goto db_fail;
	if (outbox_add(db, id, doctor_id, "reschedule") != TF_OK)
		goto db_fail;
	if (mail_enqueue(db, id, MAIL_RESCHEDULE, a.reschedule_count + 1) != TF_OK)
		goto db_fail;
	in_tx = 0;
	if (db_commit(db) != TF_OK) {
		if (is_deadlock(db))
			out = TX_RETRY;
		else
			fail_error(r);
		goto out;
	}
	a.start = start;
	a.end = end;
	a.reschedule_count++;
	a.updated_at = now;
	r->appt = a;
	r->status = BOOKING_OK;
	r->http_status = 200;
	r->field = NULL;
	str_copy(r->message, "Der Termin wurde verschoben.", sizeof(r->message));
	tz_format_iso_local(d.timezone, start, start_iso);
	tz_format_iso_local(d.timezone, end, end_iso);
	if (set_json(r, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "start", start_iso,
				  "end", end_iso, "status", "confirmed")) < 0)
		log_warn("booking: cannot build the JSON answer of moved appointment %lld", id);
	goto out;
db_fail:
	if (is_deadlock(db))
		out = TX_RETRY;
	else
		fail_error(r);
out:
	if (in_tx)
		db_rollback(db);
	return out;
}

enum booking_status booking_reschedule(struct db *db, struct conf *c, long long doctor_id,
				       long long appointment_id, const struct civil *new_start,
				       time_t now, struct booking_result *r)
{
	struct avail_limits set;
	int attempt;

	result_init(r);
	if (!db || !c)
		return fail_error(r);
	if (doctor_id <= 0 || appointment_id <= 0)
		return fail(r, BOOKING_NOT_FOUND, NULL, "Diesen Termin gibt es nicht.");
	if (!new_start || !civil_time_valid(new_start))
		return fail(r, BOOKING_INVALID, "start", "Bitte geben Sie ein gültiges Datum und eine "
			    "gültige Uhrzeit an.");
	if (avail_limits_get(c, &set) < 0)
		return fail_error(r);
	for (attempt = 0; attempt < BOOKING_TX_ATTEMPTS; attempt++) {
		result_reset(r);
		if (reschedule_tx(db, &set, doctor_id, appointment_id, new_start, now, r) == TX_DONE)
			return r->status;
	}
	log_error("booking: moving appointment %lld gave up after %d deadlocks", appointment_id,
		  BOOKING_TX_ATTEMPTS);
	return fail_error(r);
}

long booking_prune_idempotency(struct db *db, time_t now)
{
	unsigned long long n = 0;

	if (db_exec(db, STMT_BOOKING_IDEM_PRUNE, DB_ARGS(DBP_INT(now), DBP_INT(BOOKING_IDEM_KEEP_DAYS)),
		    &n, NULL) != TF_OK)
		return -1;
	return (long)n;
}
