/* tf-remind.c: cron program (hourly): queue the 24-hour reminders, then send every due mail of the queue. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "booking.h"
#include "cli.h"
#include "conf.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "mail.h"

static const char usage_text[] =
	"usage: tf-remind [--help] [--version]\n"
	"\n"
	"Run from cron every 5 minutes. Queues a reminder e-mail for every confirmed appointment that\n"
	"starts within the next 24 hours (and not within the next 5 minutes) and has had none, then\n"
	"sends every due mail of the queue: reminders, confirmations held back for a video link,\n"
	"video-link follow-ups, and confirmations, cancellations and reschedule notices whose first\n"
	"attempt failed (they are retried with growing pauses, up to 10 times). It also deletes the\n"
	"booking assistant's conversations not continued for TF_AGENT_RETENTION_DAYS (default 30) and\n"
	"the stored answers of Idempotency-Keys older than 7 days.\n"
	"\n"
	"Overlapping runs are safe: every mail is claimed with one atomic database update before it\n"
	"is sent, so two runs (or several hosts) never send the same mail twice. A mail whose sender\n"
	"died in the middle is taken over after 15 minutes.\n"
	"\n"
	"Settings come from the file named by TF_CONFIG and the environment: TF_DB_HOST, TF_DB_PORT,\n"
	"TF_DB_SOCKET, TF_DB_USER, TF_DB_PASSWORD, TF_DB_NAME, TF_DATA_DIR (templates), BASE_URL,\n"
	"CALENDAR_ENCRYPTION_KEY (cancel links), SMTP_HOST, SMTP_PORT (default 25, or 587 with\n"
	"STARTTLS), SMTP_STARTTLS (no|yes|required), SMTP_CA_FILE (extra trusted CAs for\n"
	"STARTTLS), SMTP_USER, SMTP_PASSWORD, MAIL_FROM, TF_LOG_LEVEL.\n"
	"\n"
	"Exit status: 0 every due mail was sent (or there was none), 1 some mails failed (they stay\n"
	"queued for a later run), 2 usage or configuration error, 3 could not start (database\n"
	"unreachable).\n";

int main(int argc, char **argv)
{
	struct mail_flush_result res;
	struct conf *c = NULL;
	struct db *db = NULL;
	char err[1024];
	long port, queued, pruned;
	int ex = EX_OK, l;
	time_t now;

	for (l = 1; l < argc; l++) {
		if (strcmp(argv[l], "--help") == 0 || strcmp(argv[l], "-h") == 0) {
			fputs(usage_text, stdout);
			return EX_OK;
		}
		if (strcmp(argv[l], "--version") == 0) {
			printf("tf-remind (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return EX_OK;
		}
		fprintf(stderr, "tf-remind: unexpected argument: %s\n(try tf-remind --help)\n", argv[l]);
		return EX_USAGE;
	}

	ex = cli_start("tf-remind", &c);
	if (ex != EX_OK)
		return ex;
	if (mail_config_check(c, err, sizeof(err)) < 0 ||
	    conf_get_long(c, "TF_DB_PORT", 0, 0, 65535, &port, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
		ex = EX_USAGE;
		goto out;
	}
	db = db_connect(c, err, sizeof(err));
	if (!db) {
		cli_fail("database unreachable: %s", err);
		ex = EX_START;
		goto out;
	}

	now = time(NULL);
	queued = mail_queue_reminders(db, now);
	if (queued < 0) {
		cli_fail("could not queue the reminders (database error)");
		ex = EX_FAILED;
	}
	pruned = agent_prune(db, c, now);
	if (pruned < 0) {
		cli_fail("could not delete the expired assistant conversations (TF_AGENT_RETENTION_DAYS)");
		ex = EX_FAILED;
	} else if (pruned > 0) {
		log_info("tf-remind: %ld assistant conversation(s) older than the retention deleted", pruned);
	}
	pruned = booking_prune_idempotency(db, now);
	if (pruned < 0) {
		cli_fail("could not delete the expired Idempotency-Keys");
		ex = EX_FAILED;
	} else if (pruned > 0) {
		log_info("tf-remind: %ld stored Idempotency-Key answer(s) older than %d days deleted", pruned,
			 BOOKING_IDEM_KEEP_DAYS);
	}
	if (mail_flush_ex(db, c, 0, 0, now, &res) < 0) {
		cli_fail("database error while sending; the remaining mails stay queued");
		ex = EX_FAILED;
	}
	if (res.failed > 0)
		ex = EX_FAILED;
	log_info("tf-remind: %ld reminder(s) queued, %ld mail(s) sent, %ld failed, %ld skipped",
		 queued < 0 ? 0 : queued, res.sent, res.failed, res.skipped);
out:
	if (db)
		db_close(db);
	conf_free(c);
	return ex;
}
