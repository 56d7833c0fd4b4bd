/* tf-renew.c: cron program (hourly): replace Google push channels expiring within 48 hours, renew Outlook subscriptions expiring within 24. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "channels.h"
#include "cli.h"
#include "conf.h"
#include "crypto.h"
#include "db.h"
#include "http.h"
#include "log.h"

static const char usage_text[] =
	"usage: tf-renew [--help] [--version]\n"
	"\n"
	"Run hourly from cron. Every blocking calendar of an enabled Google connection (status active\n"
	"or error) should have a push channel (events.watch to BASE_URL/webhooks/calendar/google)\n"
	"that lives more than 48 hours: one expiring sooner, or a missing one, is replaced by a new\n"
	"channel first; then the old channel is stopped (channels.stop). Every enabled Outlook\n"
	"connection with a blocking calendar should have one Graph subscription (me/events, to\n"
	"BASE_URL/webhooks/calendar/outlook and .../lifecycle): one expiring within 24 hours, or one a\n"
	"lifecycle event (reauthorizationRequired) asked to renew, is renewed in place (PATCH\n"
	"expirationDateTime); one Graph no longer knows (404) is recreated; a missing one is created.\n"
	"A failed renewal is logged, counted and retried by the next run; a connection left without\n"
	"any live channel is reported in its last error on the integrations page. Channels of\n"
	"calendars that no longer block are stopped. A connection being synced at the same moment is\n"
	"left for the next run (counted as failed).\n"
	"\n"
	"Prints one summary line:\n"
	"  tf-renew: channels=N renewed=N failed=N\n"
	"(channels: calendars (Google) or connections (Outlook) whose channel was due or missing;\n"
	"renewed: got a new or renewed channel; failed: not renewed, or an old channel not stopped).\n"
	"\n"
	"Settings come from the file named by TF_CONFIG and the environment: TF_DB_HOST, TF_DB_PORT,\n"
	"TF_DB_SOCKET, TF_DB_USER, TF_DB_PASSWORD, TF_DB_NAME, CALENDAR_ENCRYPTION_KEY (required:\n"
	"decrypts the stored tokens), BASE_URL (required: the webhook address), GOOGLE_CLIENT_ID,\n"
	"GOOGLE_CLIENT_SECRET, GOOGLE_TOKEN_URI, GOOGLE_API_BASE, MICROSOFT_CLIENT_ID,\n"
	"MICROSOFT_CLIENT_SECRET, MICROSOFT_AUTHORITY, MICROSOFT_GRAPH_BASE,\n"
	"MICROSOFT_SUBSCRIPTION_MINUTES, TF_HTTP_TIMEOUT, TF_LOG_LEVEL.\n"
	"\n"
	"Exit status: 0 every due channel renewed (or none was due), 1 some failed (retried next run),\n"
	"2 usage or configuration error, 3 could not start (database unreachable).\n";

int main(int argc, char **argv)
{
	struct channels_renew_stats st;
	struct fernet_keyring *kr;
	struct conf *c = NULL;
	struct db *db = NULL;
	const char *v;
	char err[1024];
	int ex, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return EX_OK;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("tf-renew (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return EX_OK;
		}
		fprintf(stderr, "tf-renew: unexpected argument: %s\n(try tf-renew --help)\n", argv[i]);
		return EX_USAGE;
	}
	ex = cli_start("tf-renew", &c);
	if (ex != EX_OK)
		return ex;
	v = conf_get(c, "CALENDAR_ENCRYPTION_KEY");
	if (!v || !*v) {
		cli_fail("missing required setting: CALENDAR_ENCRYPTION_KEY");
		ex = EX_USAGE;
		goto out;
	}
	kr = fernet_keyring_parse(v, err, sizeof(err));
	if (!kr) {
		cli_fail("CALENDAR_ENCRYPTION_KEY is malformed: %s", err);
		ex = EX_USAGE;
		goto out;
	}
	fernet_keyring_free(kr);
	v = conf_get(c, "BASE_URL");
	if (!v || (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)) {
		cli_fail("missing required setting: BASE_URL (an http:// or https:// URL)");
		ex = EX_USAGE;
		goto out;
	}
	http_global_init();
	db = db_connect(c, err, sizeof(err));
	if (!db) {
		cli_fail("database unreachable: %s", err);
		ex = EX_START;
		goto out;
	}
	if (channels_renew_run(db, c, time(NULL), &st) < 0) {
		cli_fail("database error while listing the channels to renew");
		ex = EX_FAILED;
		goto out;
	}
	if (st.failed)
		ex = EX_FAILED;
	printf("tf-renew: channels=%lu renewed=%lu failed=%lu\n", st.channels, st.renewed, st.failed);
	fflush(stdout);
out:
	if (db)
		db_close(db);
	conf_free(c);
	return ex;
}
