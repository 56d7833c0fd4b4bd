/* main.c: tf-calendar.fcgi: start-up checks, then the FastCGI accept loop or one plain CGI request. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "channels.h"
#include "conf.h"
#include "crypto.h"
#include "log.h"
#include "mail.h"
#include "paths.h"
#include "sync.h"
#include "template.h"
#include "web.h"

#define PROG "tf-calendar.fcgi"

static const char usage_text[] =
	"Usage: " PROG " [--help] [--version]\n"
	"\n"
	"The TerminFinder Kalender web application. Started by spawn-fcgi (or any FastCGI\n"
	"process manager) it serves FastCGI requests on the socket it inherits as standard input;\n"
	"run by a CGI server it answers the one request described by its environment.\n"
	"\n"
	"Settings come from the file named by TF_CONFIG (default " TF_SYSCONFDIR "/terminfinder.env)\n"
	"and the environment. Required: BASE_URL, TF_SECRET_KEY (at least 32 characters).\n"
	"Database: TF_DB_HOST, TF_DB_PORT, TF_DB_SOCKET, TF_DB_USER, TF_DB_PASSWORD, TF_DB_NAME.\n"
	"Optional: TF_DATA_DIR, TF_SESSION_TTL (seconds, default 43200), TF_LOG_LEVEL, TF_TIMEZONE,\n"
	"GOOGLE_CLIENT_ID/SECRET/REDIRECT_URI, MICROSOFT_CLIENT_ID/SECRET/REDIRECT_URI.\n"
	"Booking: TF_SLOT_STEP_MINUTES (default 15), TF_LEAD_TIME_MINUTES (120),\n"
	"TF_BOOKING_HORIZON_DAYS (180), CALENDAR_ENCRYPTION_KEY (cancel links in later mails).\n"
	"Mail (sent after the answer): SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD,\n"
	"SMTP_STARTTLS (no|yes|required), MAIL_FROM.\n"
	"Calendar connections: CALENDAR_ENCRYPTION_KEY (required to store them), TF_HTTP_TIMEOUT\n"
	"(seconds), TF_CALDAV_ALLOW_HTTP=1 (allow http:// CalDAV servers other than this machine).\n"
	"\n"
	"Exit status: 0 done; 2 usage or configuration error (the message names the setting).\n";

static struct app app;
static int cgi_mode;

struct db *app_db(struct app *a)
{
	char err[256];

	if (a->db)
		return a->db;
	err[0] = '\0';
	a->db = db_connect(a->conf, err, sizeof(err));
	if (!a->db)
		log_error("database unreachable: %s", err);
	return a->db;
}

int app_db_error_status(struct app *a)
{
	return a->db && db_ping(a->db) ? 500 : 503;
}

static long cgi_read(void *ud, char *p, size_t n)
{
	size_t r = fread(p, 1, n, (FILE *)ud);

	if (r == 0 && ferror((FILE *)ud))
		return -1;
	return (long)r;
}

static int cgi_write(void *ud, const char *p, size_t n)
{
	return fwrite(p, 1, n, (FILE *)ud) == n ? 0 : -1;
}

static long fcgi_read(void *ud, char *p, size_t n)
{
	int r = FCGX_GetStr(p, (int)n, (FCGX_Stream *)ud);

	return r < 0 ? -1 : r;
}

static int fcgi_write(void *ud, const char *p, size_t n)
{
	return FCGX_PutStr(p, (int)n, (FCGX_Stream *)ud) == (int)n ? 0 : -1;
}

/* One request, start to end: everything it allocates is freed before this returns. Returns the
 * appointment whose queued mails are to be sent once the answer is out, or 0; after[*nafter] gets
 * the connections to sync once the answer is out (webhooks). */
static long long handle(char **envp, req_read_fn rf, void *rud, resp_write_fn wf, void *wud,
			struct req_after after[REQ_AFTER_MAX], size_t *nafter)
{
	struct request req;
	struct response rs;
	long long mail = 0;
	int st;

	resp_init(&rs);
	st = request_init(&req, envp);
	req.read_fn = rf;
	req.read_ud = rud;
	if (st) {
		rs.head_only = req.method == HTTP_HEAD;
		error_respond(&app, &req, &rs, st, NULL);
	} else {
		router_dispatch(&app, &req, &rs);
	}
	/* the route's pattern, not the path: a path may carry a cancel token */
	log_debug("%s %s %d", http_method_name(req.method), req.route ? req.route : "(no route)",
		  rs.status);
	if (resp_send(&rs, wf, wud) < 0)
		log_warn("could not send the answer to %s %s", http_method_name(req.method),
			 req.route ? req.route : "(no route)");
	mail = req.mail_after;
	memcpy(after, req.after, sizeof(req.after));
	*nafter = req.nafter;
	request_free(&req);
	resp_free(&rs);
	return mail;
}

/* After the answer has gone out: send the queued mails of one appointment (confirmation,
 * cancellation, reschedule). SMTP trouble is logged and retried later by tf-remind; it never
 * touches the answer. At most 5 mails. */
static void after_answer(long long appointment_id)
{
	struct db *db;
	long n;

	if (appointment_id <= 0)
		return;
	db = app_db(&app);
	if (!db)
		return;
	n = mail_flush(db, app.conf, appointment_id, 5, time(NULL));
	if (n < 0)
		log_warn("mail for appointment %lld: queue not flushed (database); retried later",
			 appointment_id);
}

/* After the answer has gone out: sync the connections a push notification named, each after
 * renewing or recreating its push channels when a lifecycle event asked (the provider is not kept
 * waiting; a connection another run is syncing right now is left to that run, which syncs once more
 * when it is done; channels it could not renew are left to tf-renew). */
static void sync_after_answer(const struct req_after *after, size_t n)
{
	struct sync_stats st;
	struct db *db;
	long long id;
	size_t i;
	int r;

	if (n == 0)
		return;
	db = app_db(&app);
	if (!db)
		return;
	for (i = 0; i < n; i++) {
		id = after[i].integration_id;
		if (after[i].maintain && channels_maintain(db, app.conf, id, time(NULL)) < 0)
			log_warn("webhook: integration %lld: push channels not renewed now; tf-renew retries", id);
		r = sync_integration(db, app.conf, id, time(NULL), &st);
		if (st.skipped)
			log_info("webhook: integration %lld is being synced by another run; it syncs once more "
				 "when done", id);
		else if (r < 0)
			log_warn("webhook: integration %lld could not be synced (database); tf-sync retries", id);
	}
}

/* CGI: the answer is complete once stdout is closed; point fd 1 at /dev/null so that the server
 * sees the end of the answer while the mails are sent. */
static void cgi_finish_output(void)
{
	int fd;

	fflush(stdout);
	fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
}

/* A start-up failure: the message on stderr, and in CGI mode a German 500 page for the client. */
static void __attribute__((noreturn, format(printf, 1, 2))) die_config(const char *fmt, ...)
{
	struct response rs;
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cgi_mode) {
		resp_init(&rs);
		error_builtin(&rs, 500);
		resp_send(&rs, cgi_write, stdout);
		resp_free(&rs);
		fflush(stdout);
	}
	if (app.conf)
		conf_free(app.conf);
	exit(2);
}

/* TZ for local times on pages: TF_TIMEZONE (default Europe/Berlin), a zoneinfo name. */
static void setup_timezone(struct conf *c)
{
	const char *tz = conf_get_default(c, "TF_TIMEZONE", "Europe/Berlin");
	char path[512];

	if (!str_only_chars(tz, 64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") ||
	    strstr(tz, "..") || tz[0] == '/')
		die_config("TF_TIMEZONE is not a time zone name: use one like Europe/Berlin");
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
	if (access(path, R_OK) != 0)
		log_warn("TF_TIMEZONE %s: no zoneinfo file; local times will be shown in UTC", tz);
	setenv("TZ", tz, 1);
	tzset();
}

static void setup(void)
{
	static const char *const required[] = { "BASE_URL", "TF_SECRET_KEY", NULL };
	char err[256];
	const char *base, *lvl;
	int level;

	err[0] = '\0';
	app.conf = conf_load(NULL, err, sizeof(err));
	if (!app.conf)
		die_config("configuration (TF_CONFIG): %s", err);
	conf_register_secrets(app.conf);
	if (conf_require(app.conf, required, err, sizeof(err)) < 0)
		die_config("%s", err);
	app.secret = conf_get(app.conf, "TF_SECRET_KEY");
	if (strlen(app.secret) < 32)
		die_config("TF_SECRET_KEY is too short: it needs at least 32 characters");
	base = conf_get(app.conf, "BASE_URL");
	if (strncmp(base, "https://", 8) == 0)
		app.secure_cookies = 1;
	else if (strncmp(base, "http://", 7) != 0)
		die_config("BASE_URL must start with https:// or http://");
	if (conf_get_long(app.conf, "TF_SESSION_TTL", AUTH_SESSION_TTL_DEFAULT, 60, 90L * 86400,
			  &app.session_ttl, err, sizeof(err)) < 0)
		die_config("%s", err);
	lvl = conf_get(app.conf, "TF_LOG_LEVEL");
	if (lvl && *lvl) {
		level = log_level_parse(lvl);
		if (level < 0)
			die_config("TF_LOG_LEVEL must be one of error, warn, info, debug");
		log_set_level((enum log_level)level);
	}
	if (crypto_init() != TF_OK)
		die_config("libgcrypt could not be initialised");
	setup_timezone(app.conf);
	paths_data_sub(app.conf, "templates", app.tmpl_dir, sizeof(app.tmpl_dir));
}

static void teardown(void)
{
	if (app.db)
		db_close(app.db);
	app.db = NULL;
	tmpl_cache_clear();
	conf_free(app.conf);
	app.conf = NULL;
}

int main(int argc, char **argv)
{
	FCGX_Request fr;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf(PROG " (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		}
		fprintf(stderr, PROG ": unknown option %s\n%s", argv[i], usage_text);
		return 2;
	}

	if (FCGX_Init() != 0) {
		fprintf(stderr, PROG ": FastCGI library initialisation failed\n");
		return 2;
	}
	cgi_mode = FCGX_IsCGI();
	signal(SIGPIPE, SIG_IGN);   /* a client that went away must not kill the worker */
	log_init("tf-calendar", 0, LOG_LVL_INFO);
	setup();

	if (cgi_mode) {
		/* FCGX_Accept_r cannot accept on a non-socket (ENOTSOCK): one request from environ */
		struct req_after after[REQ_AFTER_MAX];
		size_t nafter = 0;
		long long mail = handle(environ, cgi_read, stdin, cgi_write, stdout, after, &nafter);

		cgi_finish_output();
		after_answer(mail);
		sync_after_answer(after, nafter);
		teardown();
		return 0;
	}

	if (FCGX_InitRequest(&fr, 0, 0) != 0) {
		fprintf(stderr, PROG ": FastCGI request set-up failed\n");
		teardown();
		return 2;
	}
	log_info("FastCGI worker %ld ready", (long)getpid());
	while ((rc = FCGX_Accept_r(&fr)) >= 0) {
		struct req_after after[REQ_AFTER_MAX];
		size_t nafter = 0;
		long long mail = handle(fr.envp, fcgi_read, fr.in, fcgi_write, fr.out, after, &nafter);

		FCGX_Finish_r(&fr);
		after_answer(mail);
		sync_after_answer(after, nafter);
	}
	log_info("FastCGI accept ended (%s); worker exits", strerror(rc < 0 ? -rc : rc));
	FCGX_Free(&fr, 1);
	teardown();
	return 0;
}
