/* tf-admin.c: administration: migrate, add-doctor, token, status, rotate-keys. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "conf.h"
#include "crypto.h"
#include "db.h"
#include "doctor.h"
#include "log.h"
#include "migrate.h"
#include "paths.h"

#define TOKEN_TTL_DEFAULT (30L * 24 * 3600)
#define TOKEN_TTL_MAX (366L * 24 * 3600)
#define SECRET_KEY_MIN 32

static const char usage_text[] =
	"usage: tf-admin COMMAND [ARGUMENTS]\n"
	"\n"
	"Commands:\n"
	"  migrate                       apply the SQL migrations in TF_DATA_DIR/sql not yet applied\n"
	"  add-doctor EMAIL --name NAME [--slug SLUG] [--timezone TZ]\n"
	"                                add a doctor (password: first line of standard input) with\n"
	"                                opening hours Mon-Fri 08:00-12:00, 14:00-18:00 and the\n"
	"                                service \"Sprechstunde\" (30 minutes); prints the new id\n"
	"  token EMAIL [--ttl SECONDS]   print an API bearer token (HS256 JWT signed with\n"
	"                                TF_SECRET_KEY; default lifetime 30 days)\n"
	"  status                        database, migrations, counts of doctors, sessions, integrations\n"
	"  rotate-keys                   re-encrypt all calendar credentials with the first key of\n"
	"                                CALENDAR_ENCRYPTION_KEY (all listed keys can decrypt)\n"
	"\n"
	"Options:\n"
	"  --help                        this text\n"
	"  --version                     the version\n"
	"\n"
	"Settings come from the file named by TF_CONFIG and the environment (TF_DB_HOST, TF_DB_PORT,\n"
	"TF_DB_SOCKET, TF_DB_USER, TF_DB_PASSWORD, TF_DB_NAME, TF_DATA_DIR, TF_SECRET_KEY, ...).\n"
	"\n"
	"Exit status: 0 ok, 1 some items failed, 2 usage or configuration error, 3 could not start\n"
	"(database unreachable).\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tf-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(try tf-admin --help)\n", stderr);
	return EX_USAGE;
}

/* Options after the positional arguments: "--name VALUE" or "--name=VALUE". */
struct opt {
	const char *name;   /* without "--" */
	const char *value;
};

/* Parse argv[first..] into positional (at most npos) and the named options. Returns 0 or EX_USAGE. */
static int parse_args(int argc, char **argv, int first, const char **pos, int npos, int *got_pos,
		      struct opt *opts, size_t nopts)
{
	int i;
	size_t k;

	*got_pos = 0;
	for (i = first; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "--", 2) == 0 && a[2]) {
			const char *eq = strchr(a + 2, '=');
			size_t nl = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);

			for (k = 0; k < nopts; k++)
				if (strlen(opts[k].name) == nl && strncmp(opts[k].name, a + 2, nl) == 0)
					break;
			if (k == nopts)
				return usage_error("unknown option %s", a);
			if (eq) {
				opts[k].value = eq + 1;
			} else {
				if (i + 1 >= argc)
					return usage_error("option --%s needs a value", opts[k].name);
				opts[k].value = argv[++i];
			}
			continue;
		}
		if (*got_pos >= npos)
			return usage_error("unexpected argument: %s", a);
		pos[(*got_pos)++] = a;
	}
	return 0;
}

static struct db *connect_db(struct conf *c, int *ex)
{
	char err[1024];
	long port;
	struct db *db;

	if (conf_get_long(c, "TF_DB_PORT", 0, 0, 65535, &port, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
		*ex = EX_USAGE;
		return NULL;
	}
	db = db_connect(c, err, sizeof(err));
	if (!db) {
		cli_fail("database unreachable: %s", err);
		*ex = EX_START;
		return NULL;
	}
	return db;
}

/* ------------------------------------------------------------------ migrate */

static int cmd_migrate(struct conf *c, int argc, char **argv)
{
	char dir[4096], err[2048];
	const char *pos[1];
	int npos, applied = 0, ex = EX_OK;
	struct db *db;
	enum tf_err rc;

	if ((ex = parse_args(argc, argv, 2, pos, 0, &npos, NULL, 0)) != 0)
		return ex;
	paths_data_sub(c, "sql", dir, sizeof(dir));
	db = connect_db(c, &ex);
	if (!db)
		return ex;
	rc = migrate_run(db, dir, &applied, err, sizeof(err));
	if (rc == TF_ERR_IO) {
		cli_fail("%s (check TF_DATA_DIR)", err);
		ex = EX_USAGE;
	} else if (rc != TF_OK) {
		cli_fail("%s", err);
		printf("applied %d migration(s) before the failure\n", applied);
		ex = EX_FAILED;
	} else {
		printf("applied %d migration(s)\n", applied);
	}
	db_close(db);
	return ex;
}

/* ------------------------------------------------------------------ add-doctor */

/* Read the first line of stdin into out[outlen] (no newline). Returns 0, or -1 when the line does
 * not fit (the rest is consumed). Prompts without echo when stdin is a terminal. */
static int read_password(char *out, size_t outlen)
{
	struct termios old, noecho;
	int tty = isatty(STDIN_FILENO), restored = 1, c, toolong = 0;
	size_t n = 0;

	if (tty) {
		fputs("Password: ", stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)ECHO;
			if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) == 0)
				restored = 0;
		}
	}
	while ((c = getchar()) != EOF && c != '\n') {
		if (n + 1 < outlen)
			out[n++] = (char)c;
		else
			toolong = 1;
	}
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	if (tty) {
		if (!restored)
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return toolong ? -1 : 0;
}

static int cmd_add_doctor(struct conf *c, int argc, char **argv)
{
	struct opt opts[] = { { "name", NULL }, { "slug", NULL }, { "timezone", NULL } };
	char password[DOCTOR_PASSWORD_MAX + 2], err[1024];
	const char *pos[1], *tz;
	int npos, ex;
	long long id = 0;
	struct db *db = NULL;
	enum tf_err rc;

	if ((ex = parse_args(argc, argv, 2, pos, 1, &npos, opts, TF_ARRAY_LEN(opts))) != 0)
		return ex;
	if (npos != 1)
		return usage_error("add-doctor needs the doctor's e-mail address");
	if (!opts[0].value)
		return usage_error("add-doctor needs --name NAME");
	if (!doctor_email_valid(pos[0]))
		return usage_error("invalid e-mail address: %s", pos[0]);
	if (opts[1].value && !doctor_slug_valid(opts[1].value))
		return usage_error("invalid slug (2 to %d of a-z, 0-9 and '-', no '-' at either end)",
				   DOCTOR_SLUG_MAX);
	tz = opts[2].value ? opts[2].value : conf_get_default(c, "TF_TIMEZONE", NULL);

	if (read_password(password, sizeof(password)) < 0 || strlen(password) > DOCTOR_PASSWORD_MAX) {
		ex = usage_error("password too long (at most %d bytes)", DOCTOR_PASSWORD_MAX);
		goto out;
	}
	if (!password[0]) {
		ex = usage_error("no password: give it as the first line of standard input");
		goto out;
	}
	if (utf8_chars(password) < DOCTOR_PASSWORD_MIN) {
		ex = usage_error("password too short: at least %d characters", DOCTOR_PASSWORD_MIN);
		goto out;
	}
	log_add_secret(password);
	db = connect_db(c, &ex);
	if (!db)
		goto out;
	rc = doctor_create(db, pos[0], opts[0].value, opts[1].value, password, tz, &id, err,
			   sizeof(err));
	if (rc == TF_OK) {
		printf("%lld\n", id);
		ex = EX_OK;
	} else if (rc == TF_ERR_INVALID && strstr(err, "exists")) {
		cli_fail("%s", err);
		ex = EX_FAILED;
	} else if (rc == TF_ERR_INVALID) {
		ex = usage_error("%s", err);
	} else {
		cli_fail("could not add the doctor: %s", err);
		ex = EX_FAILED;
	}
out:
	explicit_bzero(password, sizeof(password));
	db_close(db);
	return ex;
}

/* ------------------------------------------------------------------ token */

static int cmd_token(struct conf *c, int argc, char **argv)
{
	static const char *const required[] = { "TF_SECRET_KEY", NULL };
	struct opt opts[] = { { "ttl", NULL } };
	const char *pos[1], *secret;
	char err[512];
	int npos, ex, found;
	long ttl = TOKEN_TTL_DEFAULT;
	struct db *db = NULL;
	struct doctor d;
	char id[32];
	json_t *claims = NULL;
	char *token = NULL;
	time_t now;

	if ((ex = parse_args(argc, argv, 2, pos, 1, &npos, opts, TF_ARRAY_LEN(opts))) != 0)
		return ex;
	if (npos != 1)
		return usage_error("token needs the doctor's e-mail address");
	if (opts[0].value && str_to_long(opts[0].value, 60, TOKEN_TTL_MAX, &ttl) < 0)
		return usage_error("--ttl must be a number of seconds from 60 to %ld", TOKEN_TTL_MAX);
	if (!doctor_email_valid(pos[0]))
		return usage_error("invalid e-mail address: %s", pos[0]);
	if (conf_require(c, required, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
		return EX_USAGE;
	}
	secret = conf_get(c, "TF_SECRET_KEY");
	if (strlen(secret) < SECRET_KEY_MIN) {
		cli_fail("TF_SECRET_KEY is too short: at least %d characters", SECRET_KEY_MIN);
		return EX_USAGE;
	}
	db = connect_db(c, &ex);
	if (!db)
		return ex;
	found = doctor_by_email(db, pos[0], &d);
	if (found <= 0) {
		if (found == 0)
			cli_fail("no doctor with e-mail %s", pos[0]);
		else
			cli_fail("database error while looking up the doctor");
		ex = EX_FAILED;
		goto out;
	}
	now = time(NULL);
	snprintf(id, sizeof(id), "%lld", d.id);
	claims = json_pack("{s:s, s:s, s:I, s:I}", "sub", id, "email", d.email, "iat",
			   (json_int_t)now, "exp", (json_int_t)(now + ttl));
	if (!claims || !(token = jwt_sign_hs256(secret, claims))) {
		cli_fail("could not sign the token");
		ex = EX_FAILED;
		goto out;
	}
	printf("%s\n", token);
	ex = EX_OK;
out:
	free(token);
	json_decref(claims);
	explicit_bzero(&d, sizeof(d));
	db_close(db);
	return ex;
}

/* ------------------------------------------------------------------ status */

/* Print "label: N" for a COUNT(*) statement; returns 0 or -1. */
static int print_count(struct db *db, enum db_stmt s, const char *label)
{
	struct db_rows r;
	int found = db_query_one(db, s, DB_NOARGS, &r);

	if (found <= 0) {
		printf("%-14s error\n", label);
		return -1;
	}
	printf("%-14s %lld\n", label, db_cell_int(&r, 0, 0, 0));
	db_rows_free(&r);
	return 0;
}

static int cmd_status(struct conf *c, int argc, char **argv)
{
	char dir[4096], err[1024];
	const char *pos[1];
	int npos, ex, total = 0, applied = 0, failed = 0;
	struct db *db;
	struct db_rows r;

	if ((ex = parse_args(argc, argv, 2, pos, 0, &npos, NULL, 0)) != 0)
		return ex;
	db = connect_db(c, &ex);
	if (!db) {
		printf("%-14s unreachable\n", "database:");
		return ex;
	}
	if (db_query_one(db, STMT_SERVER_VERSION, DB_NOARGS, &r) == 1) {
		printf("%-14s ok (MariaDB %s)\n", "database:", db_cell(&r, 0, 0) ? db_cell(&r, 0, 0) : "?");
		db_rows_free(&r);
	} else {
		printf("%-14s ok\n", "database:");
	}
	paths_data_sub(c, "sql", dir, sizeof(dir));
	if (migrate_status(db, dir, &total, &applied, err, sizeof(err)) != TF_OK) {
		printf("%-14s unknown\n", "migrations:");
		cli_fail("%s", err);
		failed++;
	} else {
		printf("%-14s %d/%d applied%s\n", "migrations:", applied, total,
		       applied < total ? " (run tf-admin migrate)" : "");
	}
	if (applied > 0) {
		failed += print_count(db, STMT_COUNT_DOCTORS, "doctors:") < 0;
		failed += print_count(db, STMT_COUNT_SESSIONS_ACTIVE, "sessions:") < 0;
		failed += print_count(db, STMT_COUNT_INTEGRATIONS, "integrations:") < 0;
	}
	db_close(db);
	return failed ? EX_FAILED : EX_OK;
}

/* ------------------------------------------------------------------ rotate-keys */

static int cmd_rotate_keys(struct conf *c, int argc, char **argv)
{
	static const char *const required[] = { "CALENDAR_ENCRYPTION_KEY", NULL };
	const char *pos[1];
	char err[512];
	int npos, ex, in_tx = 0;
	struct fernet_keyring *k = NULL;
	struct db *db = NULL;
	struct db_rows rows = { 0 };
	size_t i, done = 0, failed = 0;

	if ((ex = parse_args(argc, argv, 2, pos, 0, &npos, NULL, 0)) != 0)
		return ex;
	if (conf_require(c, required, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
		return EX_USAGE;
	}
	k = fernet_keyring_parse(conf_get(c, "CALENDAR_ENCRYPTION_KEY"), err, sizeof(err));
	if (!k) {
		cli_fail("CALENDAR_ENCRYPTION_KEY: %s", err);
		return EX_USAGE;
	}
	db = connect_db(c, &ex);
	if (!db)
		goto out;
	ex = EX_FAILED;
	if (db_begin(db) != TF_OK) {
		cli_fail("database error: cannot start a transaction");
		goto out;
	}
	in_tx = 1;
	if (db_query(db, STMT_CREDENTIALS_SELECT_ALL, DB_NOARGS, &rows) != TF_OK) {
		cli_fail("database error while reading calendar_integrations");
		goto out;
	}
	for (i = 0; i < rows.nrows; i++) {
		long long id = db_cell_int(&rows, i, 0, 0);
		const char *tok = db_cell(&rows, i, 1);
		size_t plen = 0;
		char *plain, *fresh;

		plain = tok ? fernet_decrypt(k, tok, &plen) : NULL;
		if (!plain) {
			log_error("rotate-keys: integration %lld: credentials cannot be decrypted with "
				  "any configured key; left unchanged", id);
			failed++;
			continue;
		}
		fresh = fernet_encrypt(k, plain, plen);
		explicit_bzero(plain, plen);
		free(plain);
		if (!fresh) {
			log_error("rotate-keys: integration %lld: encryption failed", id);
			failed++;
			continue;
		}
		if (db_exec(db, STMT_CREDENTIALS_UPDATE, DB_ARGS(DBP_TEXT(fresh), DBP_INT(id)), NULL,
			    NULL) != TF_OK) {
			free(fresh);
			cli_fail("database error while updating integration %lld; nothing was changed",
				 id);
			goto out;
		}
		free(fresh);
		done++;
	}
	in_tx = 0;
	if (db_commit(db) != TF_OK) {
		cli_fail("database error: commit failed; nothing was changed");
		goto out;
	}
	printf("re-encrypted %zu credential(s) with the first key, %zu failed\n", done, failed);
	ex = failed ? EX_FAILED : EX_OK;
out:
	if (in_tx)
		db_rollback(db);
	db_rows_free(&rows);
	db_close(db);
	fernet_keyring_free(k);
	return ex;
}

/* ------------------------------------------------------------------ main */

static const struct {
	const char *name;
	int (*fn)(struct conf *c, int argc, char **argv);
} commands[] = {
	{ "migrate", cmd_migrate },
	{ "add-doctor", cmd_add_doctor },
	{ "token", cmd_token },
	{ "status", cmd_status },
	{ "rotate-keys", cmd_rotate_keys },
};

int main(int argc, char **argv)
{
	struct conf *c;
	size_t i;
	int ex, l;

	if (argc < 2)
		return usage_error("no command given");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, stdout);
		return EX_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("tf-admin (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return EX_OK;
	}
	for (i = 0; i < TF_ARRAY_LEN(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			break;
	if (i == TF_ARRAY_LEN(commands))
		return usage_error("unknown command: %s", argv[1]);
	for (l = 2; l < argc; l++) {
		if (strcmp(argv[l], "--help") == 0) {
			fputs(usage_text, stdout);
			return EX_OK;
		}
	}

	ex = cli_start("tf-admin", &c);
	if (ex != EX_OK)
		return ex;
	ex = commands[i].fn(c, argc, argv);
	conf_free(c);
	return ex;
}
