/* mail.h: e-mail to patients (libesmtp): a queue filled inside booking transactions, sent after commit. */
#ifndef TF_MAIL_H
#define TF_MAIL_H

#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "util.h"

/* MAIL_VIDEO_LINK: the video link of an appointment whose confirmation went out before the link
 * existed (queued by the sync engine). MAIL_REAUTH: to the doctor, a connection needs a new consent
 * (queued by the sync engine with doctor_id/integration_id; mail_enqueue does not take it). */
enum mail_kind { MAIL_CONFIRMATION, MAIL_CANCELLATION, MAIL_RESCHEDULE, MAIL_REMINDER, MAIL_VIDEO_LINK,
		 MAIL_REAUTH, MAIL_KIND_MAX };
const char *mail_kind_name(enum mail_kind k);   /* the mail_queue.kind enum value */

/* Queue a mail for an appointment inside the caller's transaction. (appointment, kind, seq) is
 * unique: queuing the same twice is a no-op (INSERT IGNORE), which is what makes reminders
 * exactly-once. seq: 0, or a counter for kinds that may repeat (reschedules). */
enum tf_err mail_enqueue(struct db *db, long long appointment_id, enum mail_kind kind, int seq);

/* Video appointments (services.is_video or create_meet) whose doctor has a connection that makes
 * video links (Google/Outlook) with a receiving calendar: the confirmation waits while that push is
 * pending and the appointment has no link, at most TF_VIDEO_LINK_WAIT_MINUTES (default 10, 0 = do
 * not wait) after the booking, re-checked every minute (the deferral does not count as an
 * attempt). After the wait it goes without the link and says another mail brings it; the engine
 * queues MAIL_VIDEO_LINK when the link arrives (and mail_flush does, when the link arrived while
 * that confirmation was being sent).
 * Send due queued mails: each row is claimed atomically (pending → sending) so overlapping runs
 * on one or several hosts never send one twice; success → sent; failure → pending again with
 * exponential back-off (1, 2, 4 ... minutes, capped at 6 h) and last_error; after 10 attempts → failed.
 * appointment_id > 0: only that appointment's mails (the web app right after a booking's commit).
 * Returns the number sent, or -1 when the database failed. SMTP settings: SMTP_HOST, SMTP_PORT
 * (default 25, or 587 with STARTTLS), SMTP_USER/SMTP_PASSWORD (AUTH when set), SMTP_STARTTLS
 * (no|yes|required; default no), MAIL_FROM (required to send). */
long mail_flush(struct db *db, struct conf *c, long long appointment_id, int limit, time_t now);

/* Queue reminders for confirmed appointments that start within the next 24 hours (and not within
 * the next 5 minutes) and have none yet. Returns how many were queued, or -1. */
long mail_queue_reminders(struct db *db, time_t now);

/* Build the whole RFC 5322 message (headers + MIME body) of a queued kind for an appointment, for
 * sending and for tests: multipart/mixed { multipart/alternative { text/plain, text/html },
 * text/calendar (.ics, METHOD:REQUEST, or CANCEL for cancellations) } with German text: service,
 * date, time, duration, practice name and address, video link, cancel link, a "Zu Google Kalender
 * hinzufügen" link. The cancel link comes from appointments.cancel_token_encrypted (decrypted with
 * CALENDAR_ENCRYPTION_KEY); without it the mail says to call the practice instead. Returns a
 * malloc'd message or NULL. */
char *mail_build(struct db *db, struct conf *c, long long appointment_id, enum mail_kind kind,
		 time_t now);

/* Send one ready message over SMTP to one recipient. TF_OK, TF_ERR_CONFIG (no SMTP_HOST/MAIL_FROM)
 * or TF_ERR_IO (err says why, without credentials). */
enum tf_err mail_send(struct conf *c, const char *to, const char *message, char *err, size_t errlen);

/* ---- additions of the mail area (used by tf-remind, the web app and the tests) */

/* Check the settings needed to send: SMTP_HOST, SMTP_PORT, SMTP_STARTTLS, SMTP_USER/SMTP_PASSWORD
 * (both or neither), SMTP_CA_FILE (optional: PEM file of CA certificates trusted for STARTTLS in
 * addition to the system's), MAIL_FROM ("addr" or "Name <addr>") and BASE_URL (the links).
 * Returns 0, or -1 with a message naming the setting in err. */
int mail_config_check(struct conf *c, char *err, size_t errlen);

/* mail_flush with counts: sent, failed (an attempt that failed: retried later or given up),
 * skipped (not sent because it no longer applies: appointment cancelled or moved, reminder too
 * late; such rows end as 'failed' with the reason in last_error). limit <= 0: every due mail.
 * Returns res->sent, or -1 when the database failed. */
struct mail_flush_result {
	long sent, failed, skipped;
};
long mail_flush_ex(struct db *db, struct conf *c, long long appointment_id, long limit, time_t now,
		   struct mail_flush_result *res);

/* The message of mail_build from loaded data, without the database (tests use it directly).
 * cancel_token may be NULL. NULL on failure with the reason in err. */
struct appointment;
struct doctor;
char *mail_compose(struct conf *c, const struct appointment *a, const struct doctor *d,
		   const char *cancel_token, enum mail_kind kind, time_t now, char *err, size_t errlen);

/* Header helpers (exposed for the unit tests). mail_header_text appends "Name: value\r\n" with
 * value as RFC 2047 encoded-words (UTF-8, base64) when it is not plain ASCII, folded to lines of at
 * most 78 characters; mail_header_address appends "Name: display <addr>\r\n" the same way. Both
 * refuse (-1) values with CR, LF or other control characters, and addresses that are not valid. */
int mail_header_text(struct buf *b, const char *name, const char *value);
int mail_header_address(struct buf *b, const char *name, const char *display, const char *addr);
/* RFC 5322 date of t in UTC ("Tue, 24 Nov 2026 08:00:00 +0000") into out[40]. */
void mail_date_rfc5322(time_t t, char out[40]);
/* German long date of a civil day: "Dienstag, 24. November 2026" into out[outlen]. */
void mail_date_german(int year, int month, int day, char *out, size_t outlen);

#endif
