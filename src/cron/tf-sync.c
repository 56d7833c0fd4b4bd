/* tf-sync.c: cron program (every 10 minutes): sync every due calendar connection, several at once. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "crypto.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "sync.h"

#define MAX_DUE 100000      /* connections taken per run */

static const char usage_text[] =
	"usage: tf-sync [--integration ID] [--help] [--version]\n"
	"\n"
	"Run every 10 minutes from cron. Syncs every due calendar connection (enabled, status active or\n"
	"error, its next sync time reached): pushes new, moved and cancelled appointments into the\n"
	"connection's receiving calendar, pulls the busy time of every blocking calendar, flags\n"
	"conflicts and appointments moved or deleted in the calendar for review, and records\n"
	"statistics. Up to TF_SYNC_CONCURRENCY connections (default 4) are synced at once, each\n"
	"with its own database connection.\n"
	"\n"
	"  --integration ID   sync only this connection, now, whether due or not\n"
	"\n"
	"Overlapping runs: a run holds an exclusive lock file (flock) in TF_LOCK_DIR (default /tmp)\n"
	"named after the database (tf-sync-<hash>.lock); a second tf-sync on the same host and\n"
	"database exits with status 3 (\"lock held\"). Several hosts may run tf-sync together:\n"
	"every connection is claimed in the database (SELECT ... FOR UPDATE SKIP LOCKED and\n"
	"sync_claimed_at) before it is synced, so no connection is synced twice at once; a claim\n"
	"older than 30 minutes is taken over.\n"
	"\n"
	"Prints one summary line:\n"
	"  tf-sync: connections=N pushed=N pulled=N requests=N errors=N seconds=S\n"
	"\n"
	"Settings come from the file named by TF_CONFIG and the environment: TF_DB_HOST, TF_DB_PORT,\n"
	"TF_DB_SOCKET, TF_DB_USER, TF_DB_PASSWORD, TF_DB_NAME, CALENDAR_ENCRYPTION_KEY (required:\n"
	"decrypts the stored credentials), BASE_URL (required: our events' UIDs),\n"
	"TF_SYNC_INTERVAL_MINUTES (10), TF_SYNC_HORIZON_DAYS (120), TF_SYNC_CONCURRENCY (4),\n"
	"TF_HTTP_TIMEOUT (30 seconds), TF_LOCK_DIR (/tmp), TF_LOG_LEVEL.\n"
	"\n"
	"Exit status: 0 every connection synced without errors (or none was due), 1 some items failed\n"
	"(logged; they are retried by a later run), 2 usage or configuration error, 3 could not start\n"
	"(database unreachable, or another tf-sync holds the lock).\n";

/* The work shared by the worker threads. */
struct pool {
	pthread_mutex_t mu;
	const long long *ids;
	size_t n, next;
	unsigned long connections, pushed, pulled, requests, errors;
	int failed;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct sync_stats st;
	struct conf *c;
	struct db *db = NULL;
	char err[1024];
	long long id;
	size_t i;
	int rc;

	/* conf_get and db handles are not shared across threads: one of each per worker */
	c = conf_load(NULL, err, sizeof(err));
	if (c)
		db = db_connect(c, err, sizeof(err));
	if (!db) {
		log_error("tf-sync: a worker could not start: %s", c ? err : "configuration");
		pthread_mutex_lock(&p->mu);
		p->failed = 1;
		pthread_mutex_unlock(&p->mu);
		conf_free(c);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&p->mu);
		i = p->next < p->n ? p->next++ : p->n;
		pthread_mutex_unlock(&p->mu);
		if (i >= p->n)
			break;
		id = p->ids[i];
		rc = sync_integration(db, c, id, time(NULL), &st);
		pthread_mutex_lock(&p->mu);
		if (rc < 0) {
			p->errors++;
			p->failed = 1;
		} else if (!st.skipped && st.status[0] && strcmp(st.status, "disabled") != 0) {
			p->connections++;
		}
		p->pushed += st.pushed;
		p->pulled += st.pulled;
		p->requests += st.requests;
		p->errors += st.errors;
		if (rc > 0)
			p->failed = 1;
		pthread_mutex_unlock(&p->mu);
		if (rc < 0)
			log_error("tf-sync: integration %lld could not be synced (database error or unknown)", id);
	}
	db_close(db);
	conf_free(c);
	return NULL;
}

/* The lock file of this database on this host: TF_LOCK_DIR/tf-sync-<16 hex>.lock. */
static int take_lock(struct conf *c, char *path, size_t pathlen)
{
	char ident[1024], hex[65];
	const char *dir = conf_get_default(c, "TF_LOCK_DIR", "/tmp");
	int fd;

	snprintf(ident, sizeof(ident), "%s|%s|%s|%s", conf_get_default(c, "TF_DB_HOST", ""),
		 conf_get_default(c, "TF_DB_PORT", ""), conf_get_default(c, "TF_DB_SOCKET", ""),
		 conf_get_default(c, "TF_DB_NAME", "terminfinder"));
	sha256_hex(ident, strlen(ident), hex);
	hex[16] = '\0';
	snprintf(path, pathlen, "%s/tf-sync-%s.lock", dir, hex);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -2;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return errno == EWOULDBLOCK ? -1 : -2;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct pool pool;
	pthread_t *threads = NULL;
	struct conf *c = NULL;
	struct db *db = NULL;
	struct fernet_keyring *kr;
	long long one = 0, *ids = NULL;
	const char *v;
	char err[1024], lockpath[1200];
	long conc, dummy, n = 0, l;
	int ex = EX_OK, lockfd = -1;
	size_t i, nthreads = 0;

	for (l = 1; l < argc; l++) {
		if (strcmp(argv[l], "--help") == 0 || strcmp(argv[l], "-h") == 0) {
			fputs(usage_text, stdout);
			return EX_OK;
		}
		if (strcmp(argv[l], "--version") == 0) {
			printf("tf-sync (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return EX_OK;
		}
		if (strcmp(argv[l], "--integration") == 0 && l + 1 < argc) {
			long id;

			if (str_to_long(argv[++l], 1, 9007199254740991L, &id) < 0) {
				fprintf(stderr, "tf-sync: --integration needs a connection id (a positive number)\n");
				return EX_USAGE;
			}
			one = id;
			continue;
		}
		fprintf(stderr, "tf-sync: unexpected argument: %s\n(try tf-sync --help)\n", argv[l]);
		return EX_USAGE;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ex = cli_start("tf-sync", &c);
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
	if (!v || !*v) {
		cli_fail("missing required setting: BASE_URL");
		ex = EX_USAGE;
		goto out;
	}
	if (conf_get_long(c, "TF_SYNC_CONCURRENCY", 4, 1, 64, &conc, err, sizeof(err)) < 0 ||
	    conf_get_long(c, "TF_SYNC_INTERVAL_MINUTES", 10, 1, 1440, &dummy, err, sizeof(err)) < 0 ||
	    conf_get_long(c, "TF_SYNC_HORIZON_DAYS", 120, 1, 3650, &dummy, err, sizeof(err)) < 0 ||
	    conf_get_long(c, "TF_HTTP_TIMEOUT", 30, 1, 600, &dummy, err, sizeof(err)) < 0 ||
	    conf_get_long(c, "TF_DB_PORT", 0, 0, 65535, &dummy, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
		ex = EX_USAGE;
		goto out;
	}
	/* libcurl's global state is set up once, before any thread exists */
	http_global_init();
	db = db_connect(c, err, sizeof(err));
	if (!db) {
		cli_fail("database unreachable: %s", err);
		ex = EX_START;
		goto out;
	}
	lockfd = take_lock(c, lockpath, sizeof(lockpath));
	if (lockfd == -1) {
		cli_fail("lock held: another tf-sync holds the lock (%s)", lockpath);
		ex = EX_START;
		goto out;
	}
	if (lockfd < 0) {
		cli_fail("cannot open the lock file %s: %s", lockpath, strerror(errno));
		ex = EX_START;
		goto out;
	}

	if (one) {
		ids = xmalloc(sizeof(*ids));
		ids[0] = one;
		n = 1;
	} else {
		n = sync_due(db, time(NULL), MAX_DUE, &ids);
		if (n < 0) {
			cli_fail("database error while listing the due connections");
			ex = EX_FAILED;
			goto out;
		}
	}
	/* the workers open their own connections; this one is not needed while they run */
	db_close(db);
	db = NULL;

	memset(&pool, 0, sizeof(pool));
	pthread_mutex_init(&pool.mu, NULL);
	pool.ids = ids;
	pool.n = (size_t)n;
	nthreads = (size_t)(n < conc ? n : conc);
	threads = xcalloc(nthreads + 1, sizeof(*threads));
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&threads[i], NULL, worker, &pool) != 0) {
			log_error("tf-sync: cannot start a worker thread");
			break;
		}
	}
	nthreads = i;
	if (nthreads == 0 && n > 0) {
		cli_fail("no worker thread could be started");
		ex = EX_START;
		goto out;
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&pool.mu);
	if (pool.next < pool.n) {
		/* every worker failed to start its database connection */
		pool.errors += (unsigned long)(pool.n - pool.next);
		pool.failed = 1;
	}
	if (one && pool.connections == 0 && !pool.failed)
		fprintf(stderr, "tf-sync: connection %lld was not synced (another run holds it, or it is "
			"disabled)\n", one);
	if (pool.failed || pool.errors)
		ex = EX_FAILED;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("tf-sync: connections=%lu pushed=%lu pulled=%lu requests=%lu errors=%lu seconds=%.1f\n",
	       pool.connections, pool.pushed, pool.pulled, pool.requests, pool.errors,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	fflush(stdout);
out:
	free(threads);
	free(ids);
	if (db)
		db_close(db);
	if (lockfd >= 0)
		close(lockfd);
	conf_free(c);
	return ex;
}
