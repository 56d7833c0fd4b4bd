/* mail.h: e-mail to patients (libesmtp): a queue filled inside booking transactions, sent after commit. */
#ifndef TF_MAIL_H
#define TF_MAIL_H

#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "util.h"

enum mail_kind { MAIL_CONFIRMATION, MAIL_CANCELLATION, MAIL_RESCHEDULE, MAIL_REMINDER, MAIL_KIND_MAX };
const char *mail_kind_name(enum mail_kind k);   /* the mail_queue.kind enum value */

/* Queue a mail for an appointment inside the caller's transaction. (appointment, kind, seq) is
 * unique: queuing the same twice is a no-op (INSERT IGNORE), which is what makes reminders
 * exactly-once. seq: 0, or a counter for kinds that may repeat (reschedules). */
enum tf_err mail_enqueue(struct db *db, long long appointment_id, enum mail_kind kind, int seq);

/* Send due queued mails: each row is claimed atomically (pending → sending) so overlapping runs
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

#endif
