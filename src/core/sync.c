/* sync.c: the sync engine: push the outbox to connected calendars, pull busy time, record statistics.
 *
 * Beyond sync.h's rules (issue 5):
 * - Video links: a video service (is_video) or create_meet asks the provider for a conference
 *   (prov_event.create_meet) until the appointment has a link. A link the push returns
 *   (ctx.video_link) is stored on the appointment once; a waiting confirmation mail becomes due at
 *   once, and if the confirmation already went without it, one 'video_link' mail is queued. A
 *   conference still pending keeps the mapping 'pending' (with the event's id), so the next run
 *   pushes again (an update, which reads the conference) -- for at most a day after the booking.
 * - A connection entering reauth_required (credentials refused, e.g. invalid_grant) gets its
 *   doctor's broken_calendar_policy applied ('keep': the last busy blocks stay and last_error says
 *   so; 'free': busy blocks, objects and cursors go) and ONE 'reauth' mail per outage
 *   (calendar_integrations.reauth_count numbers the outages), all in one transaction with the status.
 * - ctx.stop_run (Google quotaExceeded) ends the connection's run at once with the reason logged.
 * - After the pull, channels_ensure opens missing push channels (providers with ops->watch); a
 *   calendar left without one counts as an error of the run. Disconnect stops the channels and
 *   revokes the credentials (ops->revoke) before the row goes. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "booking.h"
#include "channels.h"
#include "crypto.h"
#include "ics.h"
#include "integration.h"
#include "log.h"
#include "provider.h"
#include "sync.h"
#include "tztime.h"

#define SYNC_PASSES_MAX      3         /* passes of one sync_integration call (requests during a run) */
#define CLAIM_STALE_SECONDS  1800      /* a younger claim without its named lock is logged as taken over */
#define PUSH_BATCH           200       /* appointments per run and path (outbox, catch-up) */
#define SINK_BATCH           200       /* pull callbacks per transaction */
#define RUNS_KEEP_SECONDS    (30L * 86400)
#define BACKOFF_FIRST        60        /* seconds; doubles per attempt */
#define BACKOFF_MAX          21600     /* 6 hours */
#define OBJECT_ID_MAX        2048
#define ETAG_MAX             1024
#define CURSOR_MAX           2048
#define VIDEO_PENDING_MAX    86400     /* a pending Meet is asked for again for a day after booking */

static const char msg_auth[] = "Anmeldung beim Kalender fehlgeschlagen – bitte erneut verbinden.";
static const char msg_decrypt[] =
	"Die gespeicherten Zugangsdaten können nicht gelesen werden – bitte erneut verbinden.";
static const char msg_db[] = "Interner Fehler bei der Synchronisierung (Datenbank). Es wird später erneut versucht.";
static const char msg_provider[] = "Dieser Kalenderanbieter wird nicht unterstützt.";
static const char msg_channel[] = "Für einen Kalender konnte kein Benachrichtigungskanal eingerichtet werden; "
				  "Änderungen werden bis dahin nur bei der regelmäßigen Synchronisierung gesehen.";
static const char msg_push[] = "Ein Termin konnte nicht in den Kalender übertragen werden; es wird später erneut versucht.";

static const struct provider_ops *provider_override;

void sync_set_provider_override(const struct provider_ops *ops)
{
	provider_override = ops;
}

struct cal {
	long long id;
	char *remote_id;
	char *name;
	int can_write, blocks, receives;
	char *cursor;               /* sync_token, NULL for a full pull */
};

struct run {
	struct db *db;
	struct conf *conf;
	struct integration_conn conn;
	const struct provider_ops *ops;
	struct prov_ctx ctx;
	struct cal *cals;
	size_t ncals;
	const struct cal *recv;     /* the receiving calendar, or NULL */
	const char *base_url;
	time_t now;
	struct sync_stats *st;
	int auth_failed;            /* credentials refused: stop, reauth_required */
	int db_failed;              /* a database error: stop */
	char first_error[300];      /* German, for last_error */
};

/* Count a failed item and remember the first German message (the provider's, else fallback). */
static void run_error(struct run *r, const char *fallback)
{
	r->st->errors++;
	if (r->first_error[0])
		return;
	str_copy(r->first_error, r->ctx.error[0] ? r->ctx.error : fallback, sizeof(r->first_error));
}

static void cals_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->ncals; i++) {
		free(r->cals[i].remote_id);
		free(r->cals[i].name);
		free(r->cals[i].cursor);
	}
	free(r->cals);
	r->cals = NULL;
	r->ncals = 0;
}

static int cals_load(struct run *r)
{
	struct db_rows rows;
	size_t i;

	if (db_query(r->db, STMT_SYNC_CALENDARS, DB_ARGS(DBP_INT(r->conn.id)), &rows) != TF_OK)
		return -1;
	r->cals = xcalloc(rows.nrows + 1, sizeof(*r->cals));
	for (i = 0; i < rows.nrows; i++) {
		struct cal *k = &r->cals[r->ncals++];

		k->id = db_cell_int(&rows, i, 0, 0);
		k->remote_id = xstrdup(db_cell(&rows, i, 1) ? db_cell(&rows, i, 1) : "");
		k->name = xstrdup(db_cell(&rows, i, 2) ? db_cell(&rows, i, 2) : "");
		k->can_write = db_cell_int(&rows, i, 3, 0) != 0;
		k->blocks = db_cell_int(&rows, i, 4, 0) != 0;
		k->receives = db_cell_int(&rows, i, 5, 0) != 0;
		k->cursor = db_cell(&rows, i, 6) ? xstrdup(db_cell(&rows, i, 6)) : NULL;
		if (k->receives && k->can_write && !r->recv)
			r->recv = k;
	}
	db_rows_free(&rows);
	return 0;
}

/* "24.11.2026, 10:00–10:30 Uhr" (the doctor's zone; the end's date when it differs). */
static void format_span(const char *tz, time_t start, time_t end, char *out, size_t outlen)
{
	struct civil a, b;

	if (tz_utc_to_local(tz, start, &a) < 0 || tz_utc_to_local(tz, end, &b) < 0) {
		snprintf(out, outlen, "einen anderen Zeitpunkt");
		return;
	}
	if (a.year == b.year && a.month == b.month && a.day == b.day)
		snprintf(out, outlen, "%02d.%02d.%04d, %02d:%02d–%02d:%02d Uhr", a.day, a.month, a.year, a.hour,
			 a.minute, b.hour, b.minute);
	else
		snprintf(out, outlen, "%02d.%02d.%04d, %02d:%02d Uhr – %02d.%02d.%04d, %02d:%02d Uhr", a.day,
			 a.month, a.year, a.hour, a.minute, b.day, b.month, b.year, b.hour, b.minute);
}

/* Flag an appointment for the doctor's review (nothing else changes). */
static int flag_review(struct run *r, long long appointment_id, const char *reason)
{
	if (db_exec(r->db, STMT_SYNC_REVIEW_SET, DB_ARGS(DBP_TEXT(reason), DBP_INT(appointment_id)), NULL, NULL) !=
	    TF_OK)
		return -1;
	log_info("sync: integration %lld: appointment %lld needs review (%s)", r->conn.id, appointment_id,
		 reason);
	return 0;
}

/* ---------------------------------------------------------------- push */

struct mapping {
	long long id, calendar_id;
	char *remote_id, *etag, *cal_remote;
	char state[12];
	int sequence;
	time_t pushed_start, pushed_end;
};

static void mapping_free(struct mapping *m)
{
	free(m->remote_id);
	free(m->etag);
	free(m->cal_remote);
	memset(m, 0, sizeof(*m));
}

/* -1 error, 0 none, 1 found. */
static int mapping_get(struct run *r, long long appointment_id, struct mapping *m)
{
	struct db_rows rows;
	int q;

	memset(m, 0, sizeof(*m));
	q = db_query_one(r->db, STMT_SYNC_MAPPING_GET, DB_ARGS(DBP_INT(appointment_id), DBP_INT(r->conn.id)),
			 &rows);
	if (q <= 0)
		return q;
	m->id = db_cell_int(&rows, 0, 0, 0);
	m->calendar_id = db_cell_int(&rows, 0, 1, 0);
	m->remote_id = xstrdup(db_cell(&rows, 0, 2) ? db_cell(&rows, 0, 2) : "");
	m->etag = xstrdup(db_cell(&rows, 0, 3) ? db_cell(&rows, 0, 3) : "");
	str_copy(m->state, db_cell(&rows, 0, 4) ? db_cell(&rows, 0, 4) : "", sizeof(m->state));
	m->sequence = (int)db_cell_int(&rows, 0, 5, 0);
	m->pushed_start = (time_t)db_cell_int(&rows, 0, 6, 0);
	m->pushed_end = (time_t)db_cell_int(&rows, 0, 7, 0);
	m->cal_remote = db_cell(&rows, 0, 8) ? xstrdup(db_cell(&rows, 0, 8)) : NULL;
	db_rows_free(&rows);
	return 1;
}

enum push_res { PUSH_DONE, PUSH_FAILED, PUSH_ABORT };

static enum push_res push_failed(struct run *r, long long appointment_id, enum prov_status s)
{
	log_warn("sync: integration %lld: push of appointment %lld failed: %s", r->conn.id, appointment_id,
		 prov_status_name(s));
	if (s == PROV_AUTH) {
		r->auth_failed = 1;
		return PUSH_ABORT;
	}
	run_error(r, msg_push);
	return PUSH_FAILED;
}

/* Our event of appointment a as the provider writes it. Privacy: no patient data unless the
 * connection opted in to names, and then the name only. */
static void build_event(struct run *r, const struct appointment *a, char *uid, size_t uidlen, char *summary,
			size_t sumlen, char *desc, size_t desclen, struct prov_event *e)
{
	ics_uid_for_appointment(a->id, r->base_url, uid, uidlen);
	if (r->conn.show_patient_names && a->patient_name[0])
		snprintf(summary, sumlen, "Termin: %s (TerminFinder)", a->patient_name);
	else
		snprintf(summary, sumlen, "Termin (TerminFinder)");
	snprintf(desc, desclen, "Über TerminFinder gebucht: %s.", a->service_name[0] ? a->service_name : "Termin");
	memset(e, 0, sizeof(*e));
	e->appointment_id = a->id;
	e->uid = uid;
	e->start = a->start;
	e->end = a->end;
	e->sequence = a->reschedule_count;
	e->summary = summary;
	e->description = desc;
	e->location = r->conn.practice_address[0] ? r->conn.practice_address : NULL;
	e->video_link = a->video_link[0] ? a->video_link : NULL;
	/* a video service or the patient's wish: the provider makes the conference (Meet) when it can */
	e->create_meet = (a->create_meet || a->is_video) && !a->video_link[0];
}

/* The push made a video link: store it on the appointment (once); when the patient's confirmation
 * already went out without it, queue the follow-up mail with the link (mail.c). */
static int video_link_store(struct run *r, long long appointment_id, const char *link)
{
	unsigned long long n = 0;

	if (strlen(link) > 2048 || strncmp(link, "https://", 8) != 0) {
		log_warn("sync: integration %lld: appointment %lld: the video link is not usable; not stored",
			 r->conn.id, appointment_id);
		return 0;
	}
	if (db_exec(r->db, STMT_SYNC_VIDEO_LINK_SET, DB_ARGS(DBP_TEXT(link), DBP_INT(appointment_id)), &n, NULL) !=
	    TF_OK)
		return -1;
	if (n == 0)
		return 0;
	log_info("sync: integration %lld: appointment %lld: video link stored", r->conn.id, appointment_id);
	if (db_exec(r->db, STMT_SYNC_VIDEO_CONFIRM_DUE, DB_ARGS(DBP_INT(appointment_id)), NULL, NULL) != TF_OK)
		return -1;
	n = 0;
	if (db_exec(r->db, STMT_SYNC_VIDEO_FOLLOWUP, DB_ARGS(DBP_INT(appointment_id)), &n, NULL) != TF_OK)
		return -1;
	if (n)
		log_info("sync: appointment %lld: the confirmation went out without the link; follow-up queued",
			 appointment_id);
	return 0;
}

static void ctx_video_reset(struct prov_ctx *c)
{
	free(c->video_link);
	c->video_link = NULL;
	c->video_pending = 0;
}

/* Bring this connection's copy of one appointment up to date (see sync.h for the rules). */
static enum push_res push_one(struct run *r, long long appointment_id)
{
	char uid[320], summary[BOOKING_NAME_MAX + 64], desc[BOOKING_SERVICE_MAX + 64];
	char *new_remote = NULL, *new_etag = NULL;
	unsigned long long mid = 0;
	enum push_res res = PUSH_DONE;
	enum prov_status s;
	struct appointment a;
	struct prov_event ev;
	struct mapping m;
	const char *cal_remote;
	long long cal_id;
	int q, have;

	q = appointment_by_id(r->db, appointment_id, &a);
	if (q < 0) {
		r->db_failed = 1;
		return PUSH_ABORT;
	}
	if (q == 0 || a.doctor_id != r->conn.doctor_id)
		return PUSH_DONE;   /* gone (its mappings went with it) or not this doctor's */
	have = mapping_get(r, appointment_id, &m);
	if (have < 0) {
		r->db_failed = 1;
		return PUSH_ABORT;
	}
	build_event(r, &a, uid, sizeof(uid), summary, sizeof(summary), desc, sizeof(desc), &ev);
	r->ctx.error[0] = '\0';

	if (strcmp(a.status, "confirmed") != 0) {
		/* cancelled: delete our event where it is */
		if (!have || strcmp(m.state, "deleted") == 0)
			goto out;
		if (!m.cal_remote) {
			/* its calendar left the account: nothing left to delete */
			if (db_exec(r->db, STMT_SYNC_MAPPING_DELETED, DB_ARGS(DBP_INT(m.id)), NULL, NULL) != TF_OK)
				goto db_fail;
			goto out;
		}
		if (!m.remote_id[0]) {
			/* a create that crashed before we learnt where it landed: converge first */
			s = r->ops->push_upsert(&r->ctx, m.cal_remote, &ev, NULL, NULL, &new_remote, &new_etag);
			if (s != PROV_OK) {
				res = push_failed(r, appointment_id, s);
				goto out;
			}
			free(m.remote_id);
			free(m.etag);
			m.remote_id = new_remote;
			m.etag = new_etag ? new_etag : xstrdup("");
			new_remote = new_etag = NULL;
			if (db_exec(r->db, STMT_SYNC_MAPPING_REMOTE,
				    DB_ARGS(DBP_TEXT(m.remote_id), DBP_TEXT(m.etag), DBP_INT(m.id)), NULL, NULL) != TF_OK)
				goto db_fail;
		}
		s = r->ops->push_delete(&r->ctx, m.cal_remote, m.remote_id, m.etag[0] ? m.etag : NULL);
		if (s != PROV_OK && s != PROV_NOT_FOUND) {
			res = push_failed(r, appointment_id, s);
			goto out;
		}
		if (db_exec(r->db, STMT_SYNC_MAPPING_DELETED, DB_ARGS(DBP_INT(m.id)), NULL, NULL) != TF_OK)
			goto db_fail;
		r->st->pushed++;
		log_info("sync: integration %lld: appointment %lld removed from the calendar", r->conn.id,
			 appointment_id);
		goto out;
	}

	/* confirmed */
	if (a.end <= r->now)
		goto out;   /* past appointments are not pushed */
	if (have && strcmp(m.state, "deleted") == 0)
		goto out;   /* deleted in the calendar by the doctor: flagged for review, not re-created */
	if (have && strcmp(m.state, "synced") == 0 && m.pushed_start == a.start && m.pushed_end == a.end &&
	    m.sequence == a.reschedule_count)
		goto out;   /* already there */
	if (have && !m.cal_remote) {
		if (db_exec(r->db, STMT_SYNC_MAPPING_DELETED, DB_ARGS(DBP_INT(m.id)), NULL, NULL) != TF_OK)
			goto db_fail;
		goto out;
	}
	if (!have && !r->recv)
		goto out;   /* no calendar receives appointments */
	cal_remote = have ? m.cal_remote : r->recv->remote_id;
	cal_id = have ? m.calendar_id : r->recv->id;

	/* the mapping first, committed, so a crash after the provider call converges next time */
	if (!have) {
		if (db_exec(r->db, STMT_SYNC_MAPPING_INSERT,
			    DB_ARGS(DBP_INT(appointment_id), DBP_INT(r->conn.id), DBP_INT(cal_id),
				    DBP_INT(a.reschedule_count), DBP_INT((long long)a.start), DBP_INT((long long)a.end)),
			    NULL, &mid) != TF_OK)
			goto db_fail;
		m.id = (long long)mid;
		m.remote_id = xstrdup("");
		m.etag = xstrdup("");
	} else if (db_exec(r->db, STMT_SYNC_MAPPING_PENDING,
			   DB_ARGS(DBP_INT(a.reschedule_count), DBP_INT((long long)a.start), DBP_INT((long long)a.end),
				   DBP_INT(m.id)), NULL, NULL) != TF_OK) {
		goto db_fail;
	}
	ctx_video_reset(&r->ctx);
	s = r->ops->push_upsert(&r->ctx, cal_remote, &ev, m.remote_id[0] ? m.remote_id : NULL,
				m.etag[0] ? m.etag : NULL, &new_remote, &new_etag);
	if (s == PROV_NOT_FOUND && m.remote_id[0]) {
		/* our event was deleted in the calendar before this update */
		if (db_exec(r->db, STMT_SYNC_MAPPING_DELETED, DB_ARGS(DBP_INT(m.id)), NULL, NULL) != TF_OK ||
		    flag_review(r, appointment_id, "Im Kalender gelöscht") < 0)
			goto db_fail;
		goto out;
	}
	if (s != PROV_OK) {
		res = push_failed(r, appointment_id, s);
		goto out;
	}
	if (r->ctx.video_link && video_link_store(r, appointment_id, r->ctx.video_link) < 0)
		goto db_fail;
	if (ev.create_meet && !r->ctx.video_link && r->ctx.video_pending && r->now < a.created_at + VIDEO_PENDING_MAX) {
		/* the conference is not ready yet: the mapping stays pending (with where the event is), so
		 * the next run pushes again and reads the link; the confirmation mail waits for it */
		if (db_exec(r->db, STMT_SYNC_MAPPING_REMOTE,
			    DB_ARGS(DBP_TEXT(new_remote ? new_remote : m.remote_id),
				    DBP_TEXT(new_etag && strlen(new_etag) <= ETAG_MAX ? new_etag : ""), DBP_INT(m.id)),
			    NULL, NULL) != TF_OK)
			goto db_fail;
		r->st->pushed++;
		log_info("sync: integration %lld: appointment %lld in the calendar, its video link is pending",
			 r->conn.id, appointment_id);
		goto out;
	}
	if (db_exec(r->db, STMT_SYNC_MAPPING_SYNCED,
		    DB_ARGS(DBP_TEXT(new_remote ? new_remote : m.remote_id),
			    DBP_TEXT(new_etag && strlen(new_etag) <= ETAG_MAX ? new_etag : ""), DBP_INT(m.id)),
		    NULL, NULL) != TF_OK)
		goto db_fail;
	r->st->pushed++;
	log_info("sync: integration %lld: appointment %lld %s in the calendar", r->conn.id, appointment_id,
		 m.remote_id[0] ? "updated" : "created");
	goto out;
db_fail:
	r->db_failed = 1;
	res = PUSH_ABORT;
out:
	free(new_remote);
	free(new_etag);
	mapping_free(&m);
	return res;
}

/* After a successful push: mark the appointment's outbox rows (up to max_id) processed when every
 * connection of the doctor that should carry it is done with it. */
static int outbox_maybe_done(struct run *r, long long appointment_id, long long max_id)
{
	struct db_rows rows;
	long long open;
	int q;

	q = db_query_one(r->db, STMT_SYNC_OUTBOX_OPEN, DB_ARGS(DBP_INT(appointment_id), DBP_INT((long long)r->now)),
			 &rows);
	if (q < 0)
		return -1;
	open = q ? db_cell_int(&rows, 0, 0, 1) : 0;
	if (q)
		db_rows_free(&rows);
	if (open > 0)
		return 0;
	return db_exec(r->db, STMT_SYNC_OUTBOX_DONE,
		       DB_ARGS(DBP_INT((long long)r->now), DBP_INT(appointment_id), DBP_INT(max_id)), NULL, NULL) ==
			       TF_OK ? 0 : -1;
}

/* A failed push: back off 1, 2, 4 ... minutes (at most 6 hours); retried forever. */
static int outbox_backoff(struct run *r, long long appointment_id, long long max_id)
{
	struct db_rows rows;
	long long attempts = 0, delay = BACKOFF_FIRST;
	char why[400];
	int q;

	q = db_query_one(r->db, STMT_SYNC_OUTBOX_ATTEMPTS, DB_ARGS(DBP_INT(appointment_id)), &rows);
	if (q < 0)
		return -1;
	if (q) {
		attempts = db_cell_int(&rows, 0, 0, 0);
		db_rows_free(&rows);
	}
	while (attempts-- > 0 && delay < BACKOFF_MAX)
		delay *= 2;
	if (delay > BACKOFF_MAX)
		delay = BACKOFF_MAX;
	snprintf(why, sizeof(why), "integration %lld: %s", r->conn.id,
		 r->ctx.error[0] ? r->ctx.error : "push failed");
	return db_exec(r->db, STMT_SYNC_OUTBOX_RETRY,
		       DB_ARGS(DBP_INT((long long)r->now + delay), DBP_TEXT(why), DBP_INT(appointment_id),
			       DBP_INT(max_id)), NULL, NULL) == TF_OK ? 0 : -1;
}

static void push_phase(struct run *r)
{
	struct db_rows rows;
	enum push_res res;
	size_t i;

	/* 1. the doctor's due outbox rows, one appointment at a time */
	if (db_query(r->db, STMT_SYNC_OUTBOX_DUE,
		     DB_ARGS(DBP_INT(r->conn.doctor_id), DBP_INT((long long)r->now), DBP_INT(PUSH_BATCH)),
		     &rows) != TF_OK) {
		r->db_failed = 1;
		return;
	}
	for (i = 0; i < rows.nrows && !r->auth_failed && !r->db_failed && !r->ctx.stop_run; i++) {
		long long aid = db_cell_int(&rows, i, 0, 0), max_id = db_cell_int(&rows, i, 1, 0);

		res = push_one(r, aid);
		if (res == PUSH_DONE && outbox_maybe_done(r, aid, max_id) < 0)
			r->db_failed = 1;
		else if (res == PUSH_FAILED && outbox_backoff(r, aid, max_id) < 0)
			r->db_failed = 1;
	}
	db_rows_free(&rows);
	if (r->auth_failed || r->db_failed || r->ctx.stop_run || !r->recv)
		return;
	/* 2. catch-up: what this connection lacks without an open outbox row (a new calendar) */
	if (db_query(r->db, STMT_SYNC_CATCHUP,
		     DB_ARGS(DBP_INT(r->conn.id), DBP_INT(r->conn.doctor_id), DBP_INT((long long)r->now),
			     DBP_INT(PUSH_BATCH)), &rows) != TF_OK) {
		r->db_failed = 1;
		return;
	}
	for (i = 0; i < rows.nrows && !r->auth_failed && !r->db_failed && !r->ctx.stop_run; i++)
		push_one(r, db_cell_int(&rows, i, 0, 0));
	db_rows_free(&rows);
}

/* ---------------------------------------------------------------- pull */

struct known {
	const char *hash;           /* object_id_hash */
	const char *etag;
	const char *object_id;
	long long row_id, appointment_id;
};

struct sink_state {
	struct run *r;
	const struct cal *cal;
	int in_tx;
	unsigned ops_in_tx;
	int failed;                 /* a database error: the pull is abandoned */
	struct db_rows rows;        /* calendar_objects as they were when the pull began */
	struct known *known;
	size_t nknown;
	int full;
	char (*seen)[65];
	size_t nseen, capseen;
	unsigned long count;
};

static int known_cmp(const void *a, const void *b)
{
	return strcmp(((const struct known *)a)->hash, ((const struct known *)b)->hash);
}

static int hash_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static const struct known *known_find(const struct sink_state *s, const char *hash)
{
	const struct known key = { .hash = hash };

	if (!s->nknown)
		return NULL;
	return bsearch(&key, s->known, s->nknown, sizeof(*s->known), known_cmp);
}

static void sink_known_free(struct sink_state *s)
{
	db_rows_free(&s->rows);
	free(s->known);
	s->known = NULL;
	s->nknown = 0;
}

static int sink_known_load(struct sink_state *s)
{
	size_t i;

	sink_known_free(s);
	if (db_query(s->r->db, STMT_SYNC_CAL_OBJECTS, DB_ARGS(DBP_INT(s->cal->id)), &s->rows) != TF_OK)
		return -1;
	s->known = xcalloc(s->rows.nrows + 1, sizeof(*s->known));
	for (i = 0; i < s->rows.nrows; i++) {
		struct known *k = &s->known[s->nknown];

		k->hash = db_cell(&s->rows, i, 0);
		k->etag = db_cell(&s->rows, i, 1);
		k->appointment_id = db_cell_int(&s->rows, i, 2, 0);
		k->row_id = db_cell_int(&s->rows, i, 3, 0);
		k->object_id = db_cell(&s->rows, i, 4);
		if (k->hash && k->object_id)
			s->nknown++;
	}
	if (s->nknown)
		qsort(s->known, s->nknown, sizeof(*s->known), known_cmp);
	return 0;
}

static int sink_tx(struct sink_state *s)
{
	if (s->failed)
		return -1;
	if (s->in_tx)
		return 0;
	if (db_exec(s->r->db, STMT_SYNC_TX_READ_COMMITTED, DB_NOARGS, NULL, NULL) != TF_OK ||
	    db_begin(s->r->db) != TF_OK) {
		s->failed = 1;
		return -1;
	}
	s->in_tx = 1;
	s->ops_in_tx = 0;
	return 0;
}

static int sink_commit(struct sink_state *s)
{
	if (!s->in_tx)
		return 0;
	s->in_tx = 0;
	if (db_commit(s->r->db) != TF_OK) {
		s->failed = 1;
		return -1;
	}
	return 0;
}

static void sink_rollback(struct sink_state *s)
{
	if (s->in_tx)
		db_rollback(s->r->db);
	s->in_tx = 0;
}

/* One step of a batch done: commit every SINK_BATCH steps. */
static int sink_step(struct sink_state *s)
{
	if (++s->ops_in_tx >= SINK_BATCH)
		return sink_commit(s);
	return 0;
}

static int sink_fail(struct sink_state *s)
{
	s->failed = 1;
	sink_rollback(s);
	return -1;
}

/* busy_blocks.external_id: SHA-256 hex of "<calendar id>:<object id>". */
static void busy_key(const struct sink_state *s, const char *object_id, char out[65])
{
	struct buf b;

	buf_init(&b, OBJECT_ID_MAX + 32);
	buf_printf(&b, "%lld:%s", s->cal->id, object_id);
	sha256_hex(b.data ? b.data : "", b.len, out);
	buf_free(&b);
}

struct own_row {
	long long doctor_id, mapping_id, mapping_cal;
	char status[16], state[12];
	time_t pushed_start, pushed_end;
	char reason[501];
	int has_mapping;
};

/* -1 error, 0 unknown appointment, 1 found. */
static int own_lookup(struct run *r, long long appointment_id, struct own_row *o)
{
	struct db_rows rows;
	int q;

	memset(o, 0, sizeof(*o));
	q = db_query_one(r->db, STMT_SYNC_OWN_MAPPING, DB_ARGS(DBP_INT(r->conn.id), DBP_INT(appointment_id)), &rows);
	if (q <= 0)
		return q;
	o->doctor_id = db_cell_int(&rows, 0, 0, 0);
	str_copy(o->status, db_cell(&rows, 0, 1) ? db_cell(&rows, 0, 1) : "", sizeof(o->status));
	o->has_mapping = db_cell(&rows, 0, 2) != NULL;
	o->mapping_id = db_cell_int(&rows, 0, 2, 0);
	str_copy(o->state, db_cell(&rows, 0, 3) ? db_cell(&rows, 0, 3) : "", sizeof(o->state));
	o->pushed_start = (time_t)db_cell_int(&rows, 0, 4, 0);
	o->pushed_end = (time_t)db_cell_int(&rows, 0, 5, 0);
	o->mapping_cal = db_cell_int(&rows, 0, 6, 0);
	str_copy(o->reason, db_cell(&rows, 0, 7) ? db_cell(&rows, 0, 7) : "", sizeof(o->reason));
	db_rows_free(&rows);
	return 1;
}

/* An object is gone from the calendar: its busy time goes; our own event → review. */
static int sink_drop(struct sink_state *s, long long row_id, long long appointment_id, const char *object_id)
{
	struct run *r = s->r;
	struct own_row o;
	char key[65];
	int q;

	if (appointment_id > 0) {
		q = own_lookup(r, appointment_id, &o);
		if (q < 0)
			return -1;
		if (q > 0 && o.doctor_id == r->conn.doctor_id && o.has_mapping && strcmp(o.state, "synced") == 0 &&
		    o.mapping_cal == s->cal->id) {
			if (db_exec(r->db, STMT_SYNC_MAPPING_DELETED, DB_ARGS(DBP_INT(o.mapping_id)), NULL, NULL) != TF_OK)
				return -1;
			if (strcmp(o.status, "confirmed") == 0) {
				if (flag_review(r, appointment_id, "Im Kalender gelöscht") < 0)
					return -1;
				s->ops_in_tx = SINK_BATCH;   /* commit soon: the appointment row is locked */
			}
		}
	}
	busy_key(s, object_id, key);
	if (db_exec(r->db, STMT_SYNC_BUSY_DELETE_OBJECT, DB_ARGS(DBP_INT(s->cal->id), DBP_TEXT(key)), NULL, NULL) !=
	    TF_OK)
		return -1;
	if (row_id > 0 &&
	    db_exec(r->db, STMT_SYNC_OBJECT_DELETE, DB_ARGS(DBP_INT(row_id)), NULL, NULL) != TF_OK)
		return -1;
	return 0;
}

static void sink_seen(struct sink_state *s, const char *hash)
{
	if (!s->full)
		return;
	if (s->nseen == s->capseen) {
		s->capseen = s->capseen ? s->capseen * 2 : 256;
		s->seen = xrealloc(s->seen, s->capseen * sizeof(*s->seen));
	}
	memcpy(s->seen[s->nseen++], hash, 65);
}

static int sink_upsert(void *ud, const struct prov_object *o)
{
	struct sink_state *s = ud;
	struct run *r = s->r;
	struct interval one;
	const struct interval *busy = o->busy;
	size_t nbusy = o->nbusy, i;
	struct own_row own;
	char hash[65], key[65], when[96], reason[160];
	const char *etag;
	int q;

	if (!o->object_id || !*o->object_id || strlen(o->object_id) > OBJECT_ID_MAX) {
		log_warn("sync: integration %lld: an object id longer than %d bytes is skipped", r->conn.id,
			 OBJECT_ID_MAX);
		return 0;
	}
	if (sink_tx(s) < 0)
		return -1;
	s->count++;
	etag = o->etag && strlen(o->etag) <= ETAG_MAX ? o->etag : "";
	sha256_hex(o->object_id, strlen(o->object_id), hash);
	sink_seen(s, hash);
	busy_key(s, o->object_id, key);
	/* an object new to us has no busy time to replace (a repeat within this pull is harmless:
	 * INSERT IGNORE on integration, key and start) */
	if (known_find(s, hash) &&
	    db_exec(r->db, STMT_SYNC_BUSY_DELETE_OBJECT, DB_ARGS(DBP_INT(s->cal->id), DBP_TEXT(key)), NULL, NULL) !=
	    TF_OK)
		return sink_fail(s);

	if (o->own_appointment_id > 0) {
		q = own_lookup(r, o->own_appointment_id, &own);
		if (q < 0)
			return sink_fail(s);
		if (q > 0 && own.doctor_id == r->conn.doctor_id) {
			/* ours: no busy block (the appointment blocks already); moved → review */
			if (db_exec(r->db, STMT_SYNC_OBJECT_UPSERT,
				    DB_ARGS(DBP_INT(s->cal->id), DBP_TEXT(o->object_id), DBP_TEXT(hash), DBP_TEXT(etag),
					    DBP_INT(o->own_appointment_id)), NULL, NULL) != TF_OK)
				return sink_fail(s);
			if (own.has_mapping && strcmp(own.state, "synced") == 0 && own.mapping_cal == s->cal->id &&
			    strcmp(own.status, "confirmed") == 0 && o->own_start > 0 && o->own_end > o->own_start &&
			    (o->own_start != own.pushed_start || o->own_end != own.pushed_end)) {
				format_span(r->conn.timezone, o->own_start, o->own_end, when, sizeof(when));
				snprintf(reason, sizeof(reason), "Im Kalender verschoben auf %s", when);
				if (strcmp(reason, own.reason) != 0) {
					if (flag_review(r, o->own_appointment_id, reason) < 0)
						return sink_fail(s);
					s->ops_in_tx = SINK_BATCH;
				}
			}
			return sink_step(s) < 0 ? -1 : 0;
		}
		/* another doctor's appointment in a shared calendar: ordinary busy time */
		if (!nbusy && o->own_end > o->own_start) {
			one.start = o->own_start;
			one.end = o->own_end;
			busy = &one;
			nbusy = 1;
		}
	}
	if (s->cal->blocks) {
		for (i = 0; i < nbusy; i++) {
			if (busy[i].end <= busy[i].start)
				continue;
			if (db_exec(r->db, STMT_SYNC_BUSY_INSERT,
				    DB_ARGS(DBP_INT(r->conn.id), DBP_INT(s->cal->id), DBP_INT(r->conn.doctor_id),
					    DBP_TEXT(key), DBP_INT((long long)busy[i].start),
					    DBP_INT((long long)busy[i].end)), NULL, NULL) != TF_OK)
				return sink_fail(s);
		}
	}
	if (db_exec(r->db, STMT_SYNC_OBJECT_UPSERT,
		    DB_ARGS(DBP_INT(s->cal->id), DBP_TEXT(o->object_id), DBP_TEXT(hash), DBP_TEXT(etag), DBP_NULL),
		    NULL, NULL) != TF_OK)
		return sink_fail(s);
	return sink_step(s) < 0 ? -1 : 0;
}

static int sink_remove(void *ud, const char *object_id)
{
	struct sink_state *s = ud;
	struct db_rows rows;
	long long row_id = 0, appt = 0;
	char hash[65];
	int q;

	if (!object_id || !*object_id || strlen(object_id) > OBJECT_ID_MAX)
		return 0;
	if (sink_tx(s) < 0)
		return -1;
	s->count++;
	sha256_hex(object_id, strlen(object_id), hash);
	q = db_query_one(s->r->db, STMT_SYNC_OBJECT_GET, DB_ARGS(DBP_INT(s->cal->id), DBP_TEXT(hash)), &rows);
	if (q < 0)
		return sink_fail(s);
	if (q > 0) {
		row_id = db_cell_int(&rows, 0, 0, 0);
		appt = db_cell_int(&rows, 0, 1, 0);
		db_rows_free(&rows);
	}
	if (sink_drop(s, row_id, appt, object_id) < 0)
		return sink_fail(s);
	return sink_step(s) < 0 ? -1 : 0;
}

static int sink_begin_full(void *ud)
{
	struct sink_state *s = ud;

	s->full = 1;
	s->nseen = 0;
	return 0;
}

/* A full listing ended: every object we knew and did not see is gone. */
static int sink_end_full(void *ud)
{
	struct sink_state *s = ud;
	size_t i;

	if (!s->full)
		return 0;
	s->full = 0;
	if (sink_tx(s) < 0)
		return -1;
	if (s->nseen)
		qsort(s->seen, s->nseen, sizeof(*s->seen), hash_cmp);
	for (i = 0; i < s->nknown; i++) {
		const struct known *k = &s->known[i];

		if (s->nseen && bsearch(k->hash, s->seen, s->nseen, sizeof(*s->seen), hash_cmp))
			continue;
		s->count++;
		if (sink_drop(s, k->row_id, k->appointment_id, k->object_id) < 0)
			return sink_fail(s);
		if (sink_step(s) < 0)
			return -1;
		if (sink_tx(s) < 0)
			return -1;
	}
	return 0;
}

static const char *sink_known_etag(void *ud, const char *object_id)
{
	struct sink_state *s = ud;
	const struct known *k;
	char hash[65];

	if (!object_id || strlen(object_id) > OBJECT_ID_MAX)
		return NULL;
	sha256_hex(object_id, strlen(object_id), hash);
	sink_seen(s, hash);   /* during a full listing: asked about = still there */
	k = known_find(s, hash);
	return k && k->etag && *k->etag ? k->etag : NULL;
}

/* Pull one calendar: incremental from its cursor, or whole after a stale cursor. */
static void pull_calendar(struct run *r, struct cal *cal)
{
	struct sink_state s;
	struct prov_sink sink = {
		.upsert = sink_upsert,
		.remove = sink_remove,
		.begin_full = sink_begin_full,
		.end_full = sink_end_full,
		.known_etag = sink_known_etag,
	};
	enum prov_status st = PROV_ERROR;
	char *new_cursor = NULL;
	char fallback[400];
	int attempt;

	memset(&s, 0, sizeof(s));
	s.r = r;
	s.cal = cal;
	sink.ud = &s;
	for (attempt = 0; attempt < 2; attempt++) {
		if (sink_known_load(&s) < 0) {
			r->db_failed = 1;
			goto out;
		}
		r->ctx.error[0] = '\0';
		s.failed = 0;
		s.full = 0;
		st = r->ops->pull(&r->ctx, cal->remote_id, attempt == 0 ? cal->cursor : NULL, &sink, &new_cursor);
		if (s.failed) {
			sink_rollback(&s);
			r->db_failed = 1;
			goto out;
		}
		if (st == PROV_TOKEN_INVALID && attempt == 0) {
			/* stale cursor: forget it and list the calendar whole */
			log_info("sync: integration %lld: calendar %lld: sync token no longer valid, full resync",
				 r->conn.id, cal->id);
			if (sink_commit(&s) < 0 ||
			    db_exec(r->db, STMT_SYNC_CAL_CURSOR,
				    DB_ARGS(DBP_NULL, DBP_INT((long long)r->now), DBP_INT(cal->id)), NULL, NULL) != TF_OK) {
				r->db_failed = 1;
				goto out;
			}
			free(new_cursor);
			new_cursor = NULL;
			continue;
		}
		break;
	}
	if (st != PROV_OK) {
		sink_rollback(&s);
		log_warn("sync: integration %lld: pull of calendar %lld failed: %s", r->conn.id, cal->id,
			 prov_status_name(st));
		if (st == PROV_AUTH) {
			r->auth_failed = 1;
		} else {
			snprintf(fallback, sizeof(fallback), "Der Kalender „%s“ konnte nicht gelesen werden; "
				 "es wird später erneut versucht.", cal->name);
			run_error(r, fallback);
		}
		goto out;
	}
	if (new_cursor && strlen(new_cursor) > CURSOR_MAX) {
		log_warn("sync: integration %lld: calendar %lld: cursor too long to keep, next pull is full",
			 r->conn.id, cal->id);
		free(new_cursor);
		new_cursor = NULL;
	}
	if (sink_commit(&s) < 0 ||
	    db_exec(r->db, STMT_SYNC_CAL_CURSOR,
		    DB_ARGS(DBP_TEXT(new_cursor), DBP_INT((long long)r->now), DBP_INT(cal->id)), NULL, NULL) != TF_OK) {
		r->db_failed = 1;
		goto out;
	}
	r->st->pulled += s.count;
out:
	sink_rollback(&s);
	sink_known_free(&s);
	free(s.seen);
	free(new_cursor);
}

static void pull_phase(struct run *r)
{
	size_t i;

	for (i = 0; i < r->ncals && !r->auth_failed && !r->db_failed && !r->ctx.stop_run; i++) {
		struct cal *k = &r->cals[i];

		if (!k->blocks) {
			/* an unchecked calendar keeps no busy time */
			if (db_exec(r->db, STMT_INTEG_CAL_BUSY_DELETE, DB_ARGS(DBP_INT(k->id)), NULL, NULL) != TF_OK) {
				r->db_failed = 1;
				break;
			}
			if (!k->receives) {
				/* not read at all: forget its objects, so checking it later pulls it whole */
				if (k->cursor &&
				    (db_exec(r->db, STMT_INTEG_CAL_OBJECTS_DELETE, DB_ARGS(DBP_INT(k->id)), NULL, NULL) ||
				     db_exec(r->db, STMT_INTEG_CAL_RESET, DB_ARGS(DBP_INT(k->id)), NULL, NULL)))
					r->db_failed = 1;
				continue;
			}
		}
		/* blocking calendars give busy time; the receiving one is read for our own events
		 * (moved or deleted there → review) even when it does not block */
		pull_calendar(r, k);
	}
}

/* ---------------------------------------------------------------- a run */

static long setting(struct conf *c, const char *key, long def, long min, long max)
{
	long v;

	if (conf_get_long(c, key, def, min, max, &v, NULL, 0) < 0) {
		log_warn("sync: %s is malformed, using %ld", key, def);
		return def;
	}
	return v;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Claim connection id for this run: its named lock (held by this session until unclaim; the server
 * releases it when a killed run's session ends), then the row, under SKIP LOCKED, gets
 * sync_claimed_at. A claim left by a run that died is taken over at once (its lock is gone).
 * 1 claimed, 0 held by another run (or unknown), -1 error. */
static int claim(struct db *db, long long id, time_t now)
{
	struct db_rows rows;
	int q, locked;

	q = db_query_one(db, STMT_SYNC_NAMED_LOCK, DB_ARGS(DBP_INT(id)), &rows);
	if (q <= 0)
		return -1;
	locked = db_cell(&rows, 0, 0) ? (int)db_cell_int(&rows, 0, 0, 0) : -1;
	db_rows_free(&rows);
	if (locked <= 0)
		return locked < 0 ? -1 : 0;
	if (db_exec(db, STMT_SYNC_TX_READ_COMMITTED, DB_NOARGS, NULL, NULL) != TF_OK || db_begin(db) != TF_OK)
		goto fail;
	q = db_query_one(db, STMT_SYNC_CLAIM_LOCK,
			 DB_ARGS(DBP_INT((long long)now - CLAIM_STALE_SECONDS), DBP_INT(id)), &rows);
	if (q <= 0) {
		db_rollback(db);
		if (q < 0)
			goto fail;
		db_exec(db, STMT_SYNC_NAMED_UNLOCK, DB_ARGS(DBP_INT(id)), NULL, NULL);
		return 0;
	}
	if (db_cell_int(&rows, 0, 1, 0))
		log_warn("sync: integration %lld: taking over the claim of a run that ended without releasing it",
			 id);
	db_rows_free(&rows);
	if (db_exec(db, STMT_SYNC_CLAIM_SET, DB_ARGS(DBP_INT((long long)now), DBP_INT(id)), NULL, NULL) != TF_OK) {
		db_rollback(db);
		goto fail;
	}
	if (db_commit(db) == TF_OK)
		return 1;
fail:
	db_exec(db, STMT_SYNC_NAMED_UNLOCK, DB_ARGS(DBP_INT(id)), NULL, NULL);
	return -1;
}

/* A connection that needs a new consent: the doctor's policy for its busy time (doctors.
 * broken_calendar_policy: 'keep' leaves the last known busy blocks, so a broken calendar never
 * shows as free; 'free' deletes them and the cursors, so a reconnect pulls the calendars whole),
 * said in last_error; on entering the state (entering != 0) one mail to the doctor per outage
 * (mail_queue (integration, 'reauth', reauth_count) is unique; mail.c sends it). Runs inside the
 * caller's transaction. Returns 0 or -1. */
static int reauth_policy(struct run *r, int entering)
{
	static const char note_keep[] = " Die zuletzt bekannten belegten Zeiten dieses Kalenders bleiben "
					"blockiert, bis die Verbindung erneuert ist.";
	static const char note_free[] = " Belegte Zeiten dieses Kalenders werden bis zur erneuten Verbindung "
					"nicht berücksichtigt.";
	struct db_rows rows;
	int q, free_busy = 0;
	size_t n;

	q = db_query_one(r->db, STMT_SYNC_BROKEN_POLICY, DB_ARGS(DBP_INT(r->conn.doctor_id)), &rows);
	if (q < 0)
		return -1;
	if (q) {
		free_busy = db_cell(&rows, 0, 0) && strcmp(db_cell(&rows, 0, 0), "free") == 0;
		db_rows_free(&rows);
	}
	if (free_busy && (db_exec(r->db, STMT_SYNC_FREE_BUSY, DB_ARGS(DBP_INT(r->conn.id)), NULL, NULL) != TF_OK ||
			  db_exec(r->db, STMT_SYNC_FREE_OBJECTS, DB_ARGS(DBP_INT(r->conn.id)), NULL, NULL) != TF_OK ||
			  db_exec(r->db, STMT_SYNC_FREE_CURSORS, DB_ARGS(DBP_INT(r->conn.id)), NULL, NULL) != TF_OK))
		return -1;
	n = strlen(r->first_error);
	if (n + strlen(free_busy ? note_free : note_keep) < sizeof(r->first_error))
		str_copy(r->first_error + n, free_busy ? note_free : note_keep, sizeof(r->first_error) - n);
	if (!entering)
		return 0;
	if (db_exec(r->db, STMT_SYNC_REAUTH_COUNT, DB_ARGS(DBP_INT(r->conn.id)), NULL, NULL) != TF_OK ||
	    db_exec(r->db, STMT_SYNC_REAUTH_MAIL, DB_ARGS(DBP_INT(r->conn.id)), NULL, NULL) != TF_OK)
		return -1;
	log_warn("sync: integration %lld needs a new consent (busy time: %s); the doctor is told by mail",
		 r->conn.id, free_busy ? "freed" : "kept");
	return 0;
}

static int unclaim(struct db *db, long long id, time_t now)
{
	int rc = 0;

	if (db_exec(db, STMT_SYNC_CLAIM_RELEASE, DB_ARGS(DBP_INT(id), DBP_INT((long long)now)), NULL, NULL) != TF_OK)
		rc = -1;
	if (db_exec(db, STMT_SYNC_NAMED_UNLOCK, DB_ARGS(DBP_INT(id)), NULL, NULL) != TF_OK)
		rc = -1;
	return rc;
}

/* One pass of sync_integration: claim, push, pull, status, run row, unclaim. */
static int sync_pass(struct db *db, struct conf *c, long long integration_id, time_t now,
		     struct sync_stats *stats)
{
	struct timespec t0;
	struct run r;
	const char *status = "active";
	char err[300];
	unsigned long long run_id = 0;
	long interval;
	int q, ran = 0, ret = 0;

	memset(stats, 0, sizeof(*stats));
	memset(&r, 0, sizeof(r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	q = claim(db, integration_id, now);
	if (q < 0)
		return -1;
	if (q == 0) {
		q = integration_load(db, c, integration_id, &r.conn, err, sizeof(err));
		integration_conn_free(&r.conn);
		if (q == 0) {
			log_warn("sync: no connection %lld", integration_id);
			return -1;
		}
		stats->skipped = 1;
		log_info("sync: integration %lld is being synced by another run; skipped", integration_id);
		return 0;
	}
	r.db = db;
	r.conf = c;
	r.now = now;
	r.st = stats;
	r.base_url = conf_get(c, "BASE_URL");
	interval = setting(c, "TF_SYNC_INTERVAL_MINUTES", 10, 1, 1440);

	q = integration_load(db, c, integration_id, &r.conn, err, sizeof(err));
	if (q == -1 || q == 0) {
		ret = -1;
		goto release;
	}
	str_copy(stats->status, r.conn.sync_status, sizeof(stats->status));
	if (!r.conn.sync_enabled || strcmp(r.conn.sync_status, "disabled") == 0) {
		log_info("sync: integration %lld is disabled; skipped", integration_id);
		goto release;
	}
	if (db_exec(db, STMT_SYNC_RUN_INSERT, DB_ARGS(DBP_INT(integration_id), DBP_INT((long long)now)), NULL,
		    &run_id) != TF_OK) {
		ret = -1;
		goto release;
	}
	r.ctx.conf = c;
	r.ctx.integration_id = integration_id;
	r.ctx.creds = r.conn.creds;
	integration_ctx_autosave(&r.ctx, db);
	r.ctx.state = r.conn.state;
	r.ctx.horizon_days = (int)setting(c, "TF_SYNC_HORIZON_DAYS", 120, 1, 3650);
	r.ctx.now = now;
	r.ctx.timezone = r.conn.timezone;
	r.ops = provider_override ? provider_override : provider_find(r.conn.provider);

	if (q == -2 || !r.conn.creds) {
		log_error("sync: integration %lld: %s", integration_id, q == -2 ? err : "no credentials stored");
		r.auth_failed = 1;
		str_copy(r.first_error, msg_decrypt, sizeof(r.first_error));
	} else if (!r.ops) {
		log_error("sync: integration %lld: unknown provider %s", integration_id, r.conn.provider);
		run_error(&r, msg_provider);
	} else if (cals_load(&r) < 0) {
		r.db_failed = 1;
	} else {
		push_phase(&r);
		if (!r.auth_failed && !r.db_failed && !r.ctx.stop_run)
			pull_phase(&r);
		if (!r.auth_failed && !r.db_failed && !r.ctx.stop_run) {
			/* push notifications (Google events.watch) for the blocking calendars just pulled;
			 * providers without them: nothing happens */
			r.ctx.error[0] = '\0';
			if (channels_ensure(db, &r.ctx, r.ops, integration_id, now) < 0)
				run_error(&r, msg_channel);
		}
		if (r.ctx.stop_run)
			log_warn("sync: integration %lld: the provider ended this run: %s", integration_id,
				 r.first_error[0] ? r.first_error : "(no reason given)");
		if (r.ctx.creds_changed && !r.auth_failed &&
		    integration_store_credentials(db, c, integration_id, r.conn.creds, err, sizeof(err)) != TF_OK) {
			log_error("sync: integration %lld: refreshed credentials not stored: %s", integration_id, err);
			run_error(&r, msg_db);
		}
	}

	stats->requests = r.ctx.requests;
	if (r.auth_failed) {
		status = "reauth_required";
		stats->errors++;
		if (!r.first_error[0] || strcmp(r.first_error, msg_decrypt) != 0)
			str_copy(r.first_error, msg_auth, sizeof(r.first_error));
	} else if (r.db_failed) {
		status = "error";
		stats->errors++;
		str_copy(r.first_error, msg_db, sizeof(r.first_error));
	} else if (stats->errors) {
		status = "error";
		ran = 1;
	} else {
		ran = 1;
	}
	stats->duration_ms = elapsed_ms(&t0);
	str_copy(stats->status, status, sizeof(stats->status));
	str_copy(stats->last_error, strcmp(status, "active") == 0 ? "" : r.first_error, sizeof(stats->last_error));
	if (strcmp(status, "active") == 0) {
		if (db_exec(db, STMT_SYNC_STATUS_OK,
			    DB_ARGS(DBP_INT((long long)now), DBP_INT((long long)now + interval * 60),
				    DBP_INT(integration_id)), NULL, NULL) != TF_OK)
			ret = -1;
	} else if (strcmp(status, "reauth_required") == 0) {
		/* policy, mail and status together: a crash in between never mails twice */
		if (db_begin(db) != TF_OK ||
		    reauth_policy(&r, strcmp(r.conn.sync_status, "reauth_required") != 0) < 0 ||
		    db_exec(db, STMT_SYNC_STATUS_FAIL,
			    DB_ARGS(DBP_TEXT(status), DBP_TEXT(r.first_error), DBP_INT(ran), DBP_INT((long long)now),
				    DBP_INT((long long)now + interval * 60), DBP_INT(integration_id)),
			    NULL, NULL) != TF_OK ||
		    db_commit(db) != TF_OK) {
			db_rollback(db);
			ret = -1;
		}
		str_copy(stats->last_error, r.first_error, sizeof(stats->last_error));
	} else if (db_exec(db, STMT_SYNC_STATUS_FAIL,
			   DB_ARGS(DBP_TEXT(status), DBP_TEXT(r.first_error), DBP_INT(ran), DBP_INT((long long)now),
				   DBP_INT((long long)now + interval * 60), DBP_INT(integration_id)),
			   NULL, NULL) != TF_OK) {
		ret = -1;
	}
	if (db_exec(db, STMT_SYNC_RUN_FINISH,
		    DB_ARGS(DBP_INT((long long)now + stats->duration_ms / 1000), DBP_INT(stats->pushed),
			    DBP_INT(stats->pulled), DBP_INT(stats->requests), DBP_INT(stats->errors),
			    DBP_INT(stats->duration_ms), DBP_TEXT(r.first_error[0] ? r.first_error : NULL),
			    DBP_INT(run_id)), NULL, NULL) != TF_OK ||
	    db_exec(db, STMT_SYNC_RUNS_PRUNE,
		    DB_ARGS(DBP_INT(integration_id), DBP_INT((long long)now - RUNS_KEEP_SECONDS)), NULL, NULL) != TF_OK)
		ret = -1;
	if (ret == 0 && stats->errors)
		ret = 1;
	log_info("sync: integration %lld: %s, pushed %lu, pulled %lu, %lu request(s), %lu error(s), %ld ms",
		 integration_id, status, stats->pushed, stats->pulled, stats->requests, stats->errors,
		 stats->duration_ms);
release:
	if (unclaim(db, integration_id, now) < 0)
		ret = -1;
	ctx_video_reset(&r.ctx);
	cals_free(&r);
	integration_conn_free(&r.conn);
	return ret;
}

/* The count of sync requests of a connection (sync_requests), or -1. */
static long long sync_requests(struct db *db, long long integration_id)
{
	struct db_rows rows;
	long long n;
	int q = db_query_one(db, STMT_SYNC_REQUESTS_GET, DB_ARGS(DBP_INT(integration_id)), &rows);

	if (q <= 0)
		return -1;
	n = db_cell_int(&rows, 0, 0, -1);
	db_rows_free(&rows);
	return n;
}

int sync_integration(struct db *db, struct conf *c, long long integration_id, time_t now,
		     struct sync_stats *stats)
{
	struct sync_stats pass;
	unsigned long long mine = 0;
	long long later;
	int ret = 0, r, i;

	memset(stats, 0, sizeof(*stats));
	for (i = 0; i < SYNC_PASSES_MAX; i++) {
		/* count this request first: a run holding the connection sees it when it ends */
		if (db_exec(db, STMT_SYNC_REQUEST_COUNT, DB_ARGS(DBP_INT(integration_id)), NULL, &mine) != TF_OK)
			return -1;
		r = sync_pass(db, c, integration_id, now, &pass);
		if (i == 0)
			stats->skipped = pass.skipped;
		stats->pushed += pass.pushed;
		stats->pulled += pass.pulled;
		stats->requests += pass.requests;
		stats->errors += pass.errors;
		stats->duration_ms += pass.duration_ms;
		if (!pass.skipped) {
			str_copy(stats->status, pass.status, sizeof(stats->status));
			str_copy(stats->last_error, pass.last_error, sizeof(stats->last_error));
		}
		if (r < 0)
			return -1;
		if (r > ret)
			ret = r;
		if (pass.skipped)
			break;      /* the run holding it saw this request */
		/* asked for again while this pass ran (a push notification that found it claimed):
		 * the changes it announced may have come after this pass read the calendar */
		later = sync_requests(db, integration_id);
		if (later < 0)
			return -1;
		if ((unsigned long long)later == mine)
			break;
		log_info("sync: integration %lld: asked for again during the run; syncing once more",
			 integration_id);
		now += (time_t)((pass.duration_ms + 999) / 1000);
	}
	return ret;
}

/* ---------------------------------------------------------------- disconnect (integration.h) */

/* Defined here rather than in integration.c: it is the one connection function that calls the
 * provider (integration.c stays plain data). */
enum tf_err integration_disconnect(struct db *db, struct conf *c, long long doctor_id, long long id,
				   int remove_events, unsigned *remote_failed, char *err, size_t errlen)
{
	struct integration_conn conn;
	const struct provider_ops *ops;
	struct prov_ctx ctx;
	struct db_rows rows;
	unsigned failed = 0;
	unsigned long long n = 0;
	enum prov_status st;
	char why[300];
	size_t i;
	int q;
	long horizon;

	if (remote_failed)
		*remote_failed = 0;
	q = integration_load(db, c, id, &conn, why, sizeof(why));
	if (q == -1) {
		err_set(err, errlen, "database error");
		return TF_ERR_DB;
	}
	if (q == 0 || conn.doctor_id != doctor_id) {
		integration_conn_free(&conn);
		err_set(err, errlen, "no such connection");
		return TF_ERR_NOTFOUND;
	}
	ops = provider_override ? provider_override : provider_find(conn.provider);
	memset(&ctx, 0, sizeof(ctx));
	if (conf_get_long(c, "TF_SYNC_HORIZON_DAYS", 120, 1, 3650, &horizon, NULL, 0) < 0)
		horizon = 120;
	ctx.conf = c;
	ctx.integration_id = id;
	ctx.creds = conn.creds;
	ctx.state = conn.state;
	ctx.horizon_days = (int)horizon;
	ctx.now = time(NULL);
	ctx.timezone = conn.timezone;
	if (remove_events && (q < 0 || !conn.creds || !ops)) {
		log_warn("integration %lld: our events cannot be removed from the calendar (%s)", id,
			 q < 0 ? why : "no credentials or unknown provider");
		failed++;
	} else if (remove_events) {
		if (db_query(db, STMT_INTEG_MAPPINGS_LIVE, DB_ARGS(DBP_INT(id)), &rows) != TF_OK) {
			integration_conn_free(&conn);
			err_set(err, errlen, "database error");
			return TF_ERR_DB;
		}
		for (i = 0; i < rows.nrows; i++) {
			const char *etag = db_cell(&rows, i, 2);

			ctx.error[0] = '\0';
			st = ops->push_delete(&ctx, db_cell(&rows, i, 3), db_cell(&rows, i, 1),
					      etag && *etag ? etag : NULL);
			if (st == PROV_OK || st == PROV_NOT_FOUND)
				continue;
			failed++;
			log_warn("integration %lld: removing event of mapping %lld failed: %s", id,
				 db_cell_int(&rows, i, 0, 0), prov_status_name(st));
			if (st == PROV_AUTH) {
				failed += (unsigned)(rows.nrows - i - 1);
				break;
			}
		}
		log_info("integration %lld: %zu event(s) to remove from the calendar, %u failed, %lu request(s)",
			 id, rows.nrows, failed, ctx.requests);
		db_rows_free(&rows);
	}
	/* the push channels stop before the credentials go (channels.stop needs them); without
	 * credentials they are only marked stopped */
	if (q != 0 && channels_stop_all(db, &ctx, conn.creds ? ops : NULL, id) < 0)
		log_warn("integration %lld: some push channels could not be stopped at the provider", id);
	/* the provider forgets us: the credentials are revoked there (Google: the whole grant), so
	 * a copy of the tokens anywhere is worthless; a failure is logged and does not stop it */
	if (q > 0 && conn.creds && ops && ops->revoke) {
		st = ops->revoke(&ctx);
		if (st == PROV_OK)
			log_info("integration %lld: credentials revoked at the provider", id);
		else
			log_warn("integration %lld: revoking the credentials at the provider failed: %s", id,
				 prov_status_name(st));
	}
	ctx_video_reset(&ctx);
	integration_conn_free(&conn);
	if (remote_failed)
		*remote_failed = failed;
	if (db_exec(db, STMT_INTEG_DELETE, DB_ARGS(DBP_INT(id), DBP_INT(doctor_id)), &n, NULL) != TF_OK) {
		err_set(err, errlen, "database error");
		return TF_ERR_DB;
	}
	if (n == 0) {
		err_set(err, errlen, "no such connection");
		return TF_ERR_NOTFOUND;
	}
	log_info("integration %lld: disconnected by doctor %lld", id, doctor_id);
	return TF_OK;
}

long sync_due(struct db *db, time_t now, size_t max, long long **ids)
{
	struct db_rows rows;
	size_t i;

	*ids = NULL;
	if (db_query(db, STMT_SYNC_DUE, DB_ARGS(DBP_INT((long long)now), DBP_INT(max)), &rows) != TF_OK)
		return -1;
	*ids = xcalloc(rows.nrows + 1, sizeof(**ids));
	for (i = 0; i < rows.nrows; i++)
		(*ids)[i] = db_cell_int(&rows, i, 0, 0);
	db_rows_free(&rows);
	return (long)i;
}
