/* test_db.c: db, migrate and doctor against a real MariaDB (TF_DB_SOCKET; skipped without it). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <mysqld_error.h>

#include "conf.h"
#include "crypto.h"
#include "db.h"
#include "doctor.h"
#include "log.h"
#include "migrate.h"

static struct conf *conf;
static struct db *db;
static char uniq[32];   /* makes e-mail addresses unique per run */

static struct db *connect_or_fail(void)
{
	char err[512];
	struct db *d = db_connect(conf, err, sizeof(err));

	if (!d)
		fail_msg("db_connect: %s", err);
	return d;
}

static int setup(void **state)
{
	(void)state;
	db = connect_or_fail();
	return db ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	db_close(db);
	db = NULL;
	return 0;
}

/* Insert a doctor row directly; returns its id. */
static long long insert_doctor(const char *local, const char *name)
{
	char email[128], slug[64];
	unsigned long long id = 0, aff = 0;

	snprintf(email, sizeof(email), "%s-%s@example.org", local, uniq);
	snprintf(slug, sizeof(slug), "%s-%s", local, uniq);
	assert_int_equal(db_exec(db, STMT_DOCTOR_INSERT,
				 DB_ARGS(DBP_TEXT(email), DBP_TEXT(name), DBP_TEXT(slug),
					 DBP_TEXT("x"), DBP_TEXT("Europe/Berlin")), &aff, &id),
			 TF_OK);
	assert_int_equal(aff, 1);
	assert_true(id > 0);
	return (long long)id;
}

/* ------------------------------------------------------------------ db */

static void text_roundtrip_literal(void **state)
{
	static const char *const values[] = {
		"O'Brien \"quoted\" back\\slash \\' \\\\",
		"Robert'); DROP TABLE doctors; --",
		"' OR '1'='1",
		"Grüße aus Köln – ✓ 😀",
		"%s %n %x",
		"",
	};
	struct db_rows r;
	struct doctor d;
	size_t i;

	(void)state;
	for (i = 0; i < TF_ARRAY_LEN(values); i++) {
		assert_int_equal(db_query(db, STMT_TEST_ECHO,
					  DB_ARGS(DBP_TEXT(values[i]), DBP_INT(-9007199254740993LL)), &r),
				 TF_OK);
		assert_int_equal(r.nrows, 1);
		assert_int_equal(r.ncols, 2);
		assert_string_equal(db_cell(&r, 0, 0), values[i]);
		assert_int_equal(db_cell_int(&r, 0, 1, 0), -9007199254740993LL);
		db_rows_free(&r);
	}
	/* Stored in a table and read back byte for byte; the table is still there. */
	for (i = 0; i < TF_ARRAY_LEN(values) - 1; i++) {
		char local[32];
		long long id;

		snprintf(local, sizeof(local), "lit%zu", i);
		id = insert_doctor(local, values[i]);
		assert_int_equal(doctor_by_id(db, id, &d), 1);
		assert_string_equal(d.name, values[i]);
	}
	assert_int_equal(db_query_one(db, STMT_COUNT_DOCTORS, DB_NOARGS, &r), 1);
	assert_true(db_cell_int(&r, 0, 0, 0) >= (long long)TF_ARRAY_LEN(values) - 1);
	db_rows_free(&r);
}

static void bytes_param_and_long_value(void **state)
{
	struct db_rows r;
	size_t n = 300000, i;
	char *big = malloc(n + 1);

	(void)state;
	assert_non_null(big);
	for (i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';
	/* DBP_BYTES sends only the first len bytes. */
	assert_int_equal(db_query(db, STMT_TEST_ECHO, DB_ARGS(DBP_BYTES("abcdef", 3), DBP_TEXT(big)),
				  &r), TF_OK);
	assert_string_equal(db_cell(&r, 0, 0), "abc");
	assert_int_equal(strlen(db_cell(&r, 0, 1)), n);
	assert_memory_equal(db_cell(&r, 0, 1), big, n);
	db_rows_free(&r);
	free(big);
}

static void null_in_and_out(void **state)
{
	struct db_rows r;

	(void)state;
	assert_int_equal(db_query(db, STMT_TEST_ECHO, DB_ARGS(DBP_TEXT(NULL), DBP_NULL), &r), TF_OK);
	assert_int_equal(r.nrows, 1);
	assert_null(db_cell(&r, 0, 0));
	assert_null(db_cell(&r, 0, 1));
	assert_int_equal(db_cell_int(&r, 0, 0, 77), 77);
	/* Out of range cells are NULL too. */
	assert_null(db_cell(&r, 1, 0));
	assert_null(db_cell(&r, 0, 2));
	db_rows_free(&r);
}

static void insert_id_and_affected(void **state)
{
	unsigned long long aff = 99;
	long long a, b;

	(void)state;
	a = insert_doctor("ida", "A");
	b = insert_doctor("idb", "B");
	assert_true(b > a);
	assert_int_equal(db_exec(db, STMT_DOCTOR_SET_PASSWORD, DB_ARGS(DBP_TEXT("h2"), DBP_INT(a)),
				 &aff, NULL), TF_OK);
	assert_int_equal(aff, 1);
	/* Same value again: still one matched row (CLIENT_FOUND_ROWS). */
	assert_int_equal(db_exec(db, STMT_DOCTOR_SET_PASSWORD, DB_ARGS(DBP_TEXT("h2"), DBP_INT(a)),
				 &aff, NULL), TF_OK);
	assert_int_equal(aff, 1);
	assert_int_equal(db_exec(db, STMT_DOCTOR_SET_PASSWORD,
				 DB_ARGS(DBP_TEXT("h2"), DBP_INT(b + 1000000)), &aff, NULL), TF_OK);
	assert_int_equal(aff, 0);
}

static void query_one_results(void **state)
{
	struct db_rows r;
	char email[128];

	(void)state;
	insert_doctor("qone", "Q");
	snprintf(email, sizeof(email), "qone-%s@example.org", uniq);
	assert_int_equal(db_query_one(db, STMT_DOCTOR_BY_EMAIL, DB_ARGS(DBP_TEXT(email)), &r), 1);
	assert_string_equal(db_cell(&r, 0, 2), "Q");
	db_rows_free(&r);
	assert_int_equal(db_query_one(db, STMT_DOCTOR_BY_EMAIL,
				      DB_ARGS(DBP_TEXT("nobody@example.org")), &r), 0);
	assert_int_equal(r.nrows, 0);
	assert_null(r.cells);
	/* Wrong parameter count is an error, not a crash. */
	assert_int_equal(db_query_one(db, STMT_DOCTOR_BY_EMAIL, DB_NOARGS, &r), -1);
	/* The connection is still fine afterwards. */
	assert_int_equal(db_ping(db), 1);
}

static void rollback_leaves_no_row(void **state)
{
	struct doctor d;
	char email[128];

	(void)state;
	snprintf(email, sizeof(email), "rb-%s@example.org", uniq);
	assert_int_equal(db_begin(db), TF_OK);
	insert_doctor("rb", "Rolled Back");
	assert_int_equal(doctor_by_email(db, email, &d), 1);
	assert_int_equal(db_rollback(db), TF_OK);
	assert_int_equal(doctor_by_email(db, email, &d), 0);
	/* And a commit keeps it. */
	assert_int_equal(db_begin(db), TF_OK);
	insert_doctor("cm", "Committed");
	assert_int_equal(db_commit(db), TF_OK);
	snprintf(email, sizeof(email), "cm-%s@example.org", uniq);
	assert_int_equal(doctor_by_email(db, email, &d), 1);
}

static void duplicate_key_errno(void **state)
{
	char email[128];

	(void)state;
	insert_doctor("dup", "First");
	snprintf(email, sizeof(email), "dup-%s@example.org", uniq);
	assert_int_equal(db_exec(db, STMT_DOCTOR_INSERT,
				 DB_ARGS(DBP_TEXT(email), DBP_TEXT("Second"), DBP_TEXT("other-slug-dup"),
					 DBP_TEXT("x"), DBP_TEXT("UTC")), NULL, NULL),
			 TF_ERR_DB);
	assert_int_equal(db_errno(db), ER_DUP_ENTRY);
	/* The next statement works and clears the error. */
	assert_int_equal(db_ping(db), 1);
	assert_int_equal(db_exec(db, STMT_PING, DB_NOARGS, NULL, NULL), TF_OK);
	assert_int_equal(db_errno(db), 0);
}

static long long connection_id(struct db *d)
{
	struct db_rows r;
	long long id;

	assert_int_equal(db_query_one(d, STMT_TEST_CONNECTION_ID, DB_NOARGS, &r), 1);
	id = db_cell_int(&r, 0, 0, -1);
	db_rows_free(&r);
	assert_true(id > 0);
	return id;
}

static void reconnect_after_kill(void **state)
{
	struct db *other = connect_or_fail();
	struct db_rows r;
	long long id, id2;

	(void)state;
	id = connection_id(db);
	assert_int_equal(db_exec(other, STMT_TEST_KILL, DB_ARGS(DBP_INT(id)), NULL, NULL), TF_OK);
	/* The killed connection is noticed, re-opened and the statement retried once. */
	assert_int_equal(db_query(db, STMT_TEST_ECHO, DB_ARGS(DBP_TEXT("after"), DBP_INT(1)), &r),
			 TF_OK);
	assert_string_equal(db_cell(&r, 0, 0), "after");
	db_rows_free(&r);
	id2 = connection_id(db);
	assert_true(id2 != id);

	/* Inside a transaction there is no silent reconnect: the statement fails ... */
	assert_int_equal(db_begin(db), TF_OK);
	assert_int_equal(db_exec(other, STMT_TEST_KILL, DB_ARGS(DBP_INT(id2)), NULL, NULL), TF_OK);
	assert_int_equal(db_query(db, STMT_TEST_ECHO, DB_ARGS(DBP_TEXT("x"), DBP_INT(1)), &r),
			 TF_ERR_DB);
	/* ... the rollback ends the transaction, and the next statement reconnects. */
	assert_int_equal(db_rollback(db), TF_OK);
	assert_int_equal(db_query(db, STMT_TEST_ECHO, DB_ARGS(DBP_TEXT("again"), DBP_INT(2)), &r),
			 TF_OK);
	assert_string_equal(db_cell(&r, 0, 0), "again");
	db_rows_free(&r);

	/* db_ping reconnects as well. */
	id = connection_id(db);
	assert_int_equal(db_exec(other, STMT_TEST_KILL, DB_ARGS(DBP_INT(id)), NULL, NULL), TF_OK);
	assert_int_equal(db_ping(db), 1);
	assert_true(connection_id(db) != id);
	db_close(other);
}

/* Every connection, also one opened again after a kill, works in UTC, strict mode, utf8mb4. */
static void check_session(struct db *d)
{
	struct db_rows r;

	assert_int_equal(db_query_one(d, STMT_TEST_SESSION, DB_NOARGS, &r), 1);
	assert_string_equal(db_cell(&r, 0, 0), "+00:00");
	assert_non_null(strstr(db_cell(&r, 0, 1), "STRICT_ALL_TABLES"));
	assert_string_equal(db_cell(&r, 0, 2), "utf8mb4");
	db_rows_free(&r);
}

static void session_settings(void **state)
{
	struct db *other = connect_or_fail();
	long long id;

	(void)state;
	check_session(db);
	id = connection_id(db);
	assert_int_equal(db_exec(other, STMT_TEST_KILL, DB_ARGS(DBP_INT(id)), NULL, NULL), TF_OK);
	check_session(db);
	assert_true(connection_id(db) != id);
	db_close(other);
}

static void connect_failure_message(void **state)
{
	struct conf *bad = conf_new();
	char err[512];

	(void)state;
	conf_set(bad, "TF_DB_SOCKET", "/nonexistent/tf-test.sock");
	conf_set(bad, "TF_DB_PASSWORD", "pw-must-not-appear-123");
	/* The environment overrides conf_set values; this test needs the socket to be wrong. */
	if (getenv("TF_DB_PASSWORD")) {
		conf_free(bad);
		skip();
	}
	{
		const char *saved = getenv("TF_DB_SOCKET");
		char *copy = saved ? strdup(saved) : NULL;

		unsetenv("TF_DB_SOCKET");
		assert_null(db_connect(bad, err, sizeof(err)));
		if (copy) {
			setenv("TF_DB_SOCKET", copy, 1);
			free(copy);
		}
	}
	assert_non_null(strstr(err, "/nonexistent/tf-test.sock"));
	assert_null(strstr(err, "pw-must-not-appear-123"));
	conf_free(bad);
}

/* ------------------------------------------------------------------ migrate */

static const char *sql_dir(char *out, size_t outlen)
{
	const char *src = getenv("TF_SRCDIR");

	if (!src)
		src = getenv("TF_DATA_DIR");
	snprintf(out, outlen, "%s/sql", src ? src : ".");
	return out;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void migrate_idempotent(void **state)
{
	char dir[4096], err[1024];
	int applied = -1, total = -1, done = -1;

	(void)state;
	sql_dir(dir, sizeof(dir));
	/* test_db.sh ran `tf-admin migrate` already: nothing is left, twice. */
	assert_int_equal(migrate_run(db, dir, &applied, err, sizeof(err)), TF_OK);
	assert_int_equal(applied, 0);
	assert_int_equal(migrate_run(db, dir, &applied, err, sizeof(err)), TF_OK);
	assert_int_equal(applied, 0);
	assert_int_equal(migrate_status(db, dir, &total, &done, err, sizeof(err)), TF_OK);
	assert_true(total >= 1);
	assert_int_equal(done, total);
}

static void migrate_extra_and_failure(void **state)
{
	char tmpl[] = "/tmp/tf-migrate-XXXXXX", path[512], err[1024];
	int applied = -1, total = -1, done = -1;
	char *dir = mkdtemp(tmpl);
	struct db_rows r;

	(void)state;
	assert_non_null(dir);
	/* ';' inside quotes and comments does not split; files that do not match are ignored. */
	snprintf(path, sizeof(path), "%s/950_extra_%s.sql", dir, uniq);
	write_file(path, "-- a comment; with a semicolon\n"
			 "CREATE TABLE IF NOT EXISTS t950 (v VARCHAR(50)) ENGINE=InnoDB;\n"
			 "/* block; comment */ INSERT INTO t950 VALUES ('a;b'), ('c\\'d;');\n"
			 "SELECT 1;\n");
	snprintf(path, sizeof(path), "%s/README.txt", dir);
	write_file(path, "not a migration;");
	snprintf(path, sizeof(path), "%s/95_short.sql", dir);
	write_file(path, "THIS IS NOT SQL;");
	assert_int_equal(migrate_run(db, dir, &applied, err, sizeof(err)), TF_OK);
	assert_int_equal(applied, 1);
	assert_int_equal(migrate_run(db, dir, &applied, err, sizeof(err)), TF_OK);
	assert_int_equal(applied, 0);
	assert_int_equal(migrate_status(db, dir, &total, &done, err, sizeof(err)), TF_OK);
	assert_int_equal(total, 1);
	assert_int_equal(done, 1);

	/* A failing file: named in the error with the statement, and not recorded. */
	snprintf(path, sizeof(path), "%s/951_bad_%s.sql", dir, uniq);
	write_file(path, "INSERT INTO t950 VALUES ('x');\n\nCREATE TABLE oops (;\n");
	assert_int_equal(migrate_run(db, dir, &applied, err, sizeof(err)), TF_ERR_DB);
	assert_int_equal(applied, 0);
	assert_non_null(strstr(err, "951_bad_"));
	assert_non_null(strstr(err, "statement 2 (line 3)"));
	assert_int_equal(migrate_status(db, dir, &total, &done, err, sizeof(err)), TF_OK);
	assert_int_equal(total, 2);
	assert_int_equal(done, 1);
	unlink(path);
	snprintf(path, sizeof(path), "%s/950_extra_%s.sql", dir, uniq);
	unlink(path);
	snprintf(path, sizeof(path), "%s/README.txt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/95_short.sql", dir);
	unlink(path);
	rmdir(dir);

	/* A missing directory is an I/O error naming it. */
	assert_int_equal(migrate_run(db, "/nonexistent/sql", &applied, err, sizeof(err)), TF_ERR_IO);
	assert_non_null(strstr(err, "/nonexistent/sql"));
	/* The script's statements still work on the connection. */
	assert_int_equal(db_query(db, STMT_COUNT_DOCTORS, DB_NOARGS, &r), TF_OK);
	db_rows_free(&r);
}

/* ------------------------------------------------------------------ doctor */

static void doctor_create_defaults(void **state)
{
	char email[128], err[256];
	long long id = 0;
	struct doctor d;
	struct db_rows r;
	size_t i;

	(void)state;
	snprintf(email, sizeof(email), "Anna.Mueller-%s@Example.ORG", uniq);
	assert_int_equal(doctor_create(db, email, "Dr. Anna Müller", NULL, "correct horse battery",
				       NULL, &id, err, sizeof(err)), TF_OK);
	assert_true(id > 0);
	assert_int_equal(doctor_by_id(db, id, &d), 1);
	assert_string_equal(d.name, "Dr. Anna Müller");
	assert_string_equal(d.timezone, "Europe/Berlin");
	assert_int_equal(strncmp(d.password_hash, "pbkdf2-sha256$", 14), 0);
	assert_true(password_verify("correct horse battery", d.password_hash));
	assert_false(password_verify("correct horse batterY", d.password_hash));
	/* Stored in lower case, found case-insensitively. */
	for (i = 0; email[i]; i++)
		if (email[i] >= 'A' && email[i] <= 'Z')
			email[i] = (char)(email[i] - 'A' + 'a');
	assert_string_equal(d.email, email);
	email[0] = 'A';
	assert_int_equal(doctor_by_email(db, email, &d), 1);
	assert_int_equal(d.id, id);
	/* The slug is derived from the name (a number is added when it is taken). */
	assert_int_equal(strncmp(d.slug, "dr-anna-mueller", 15), 0);
	assert_int_equal(doctor_by_slug(db, d.slug, &d), 1);

	assert_int_equal(db_query(db, STMT_OPENING_HOURS_BY_DOCTOR, DB_ARGS(DBP_INT(id)), &r), TF_OK);
	assert_int_equal(r.nrows, 10);
	for (i = 0; i < 10; i++) {
		assert_int_equal(db_cell_int(&r, i, 0, 0), (long long)(i / 2 + 1));
		assert_int_equal(db_cell_int(&r, i, 1, 0), i % 2 ? 14 * 60 : 8 * 60);
		assert_int_equal(db_cell_int(&r, i, 2, 0), i % 2 ? 18 * 60 : 12 * 60);
	}
	db_rows_free(&r);
	assert_int_equal(db_query(db, STMT_SERVICES_BY_DOCTOR, DB_ARGS(DBP_INT(id)), &r), TF_OK);
	assert_int_equal(r.nrows, 1);
	assert_string_equal(db_cell(&r, 0, 1), "Sprechstunde");
	assert_int_equal(db_cell_int(&r, 0, 2, 0), 30);
	db_rows_free(&r);

	/* A second doctor of the same name gets a numbered slug. */
	snprintf(email, sizeof(email), "anna2-%s@example.org", uniq);
	assert_int_equal(doctor_create(db, email, "Dr. Anna Müller", NULL, "correct horse battery",
				       "UTC", &id, err, sizeof(err)), TF_OK);
	assert_int_equal(doctor_by_id(db, id, &d), 1);
	assert_int_equal(strncmp(d.slug, "dr-anna-mueller-", 16), 0);
	assert_string_equal(d.timezone, "UTC");

	/* doctor_set_password replaces the hash. */
	assert_int_equal(doctor_set_password(db, id, "another password"), TF_OK);
	assert_int_equal(doctor_by_id(db, id, &d), 1);
	assert_true(password_verify("another password", d.password_hash));
	assert_int_equal(doctor_set_password(db, id, "short"), TF_ERR_INVALID);
	assert_int_equal(doctor_set_password(db, 999999999, "long enough pw"), TF_ERR_NOTFOUND);
}

static void doctor_create_duplicates(void **state)
{
	char email[128], slug[64], err[256];
	long long id = 0, id2 = 0;
	struct db_rows r;

	(void)state;
	snprintf(email, sizeof(email), "dupe-%s@example.org", uniq);
	snprintf(slug, sizeof(slug), "praxis-%s", uniq);
	assert_int_equal(doctor_create(db, email, "Dupe", slug, "long enough pw", NULL, &id, err,
				       sizeof(err)), TF_OK);
	/* Same e-mail in other case. */
	email[0] = 'D';
	assert_int_equal(doctor_create(db, email, "Dupe 2", NULL, "long enough pw", NULL, &id2, err,
				       sizeof(err)), TF_ERR_INVALID);
	assert_non_null(strstr(err, "exists"));
	assert_int_equal(id2, 0);
	/* Same slug given explicitly. */
	snprintf(email, sizeof(email), "dupe3-%s@example.org", uniq);
	assert_int_equal(doctor_create(db, email, "Dupe 3", slug, "long enough pw", NULL, &id2, err,
				       sizeof(err)), TF_ERR_INVALID);
	assert_non_null(strstr(err, "exists"));
	/* Nothing of the refused doctors was written: still one service for the first only. */
	assert_int_equal(doctor_by_email(db, email, &(struct doctor){ 0 }), 0);
	assert_int_equal(db_query(db, STMT_SERVICES_BY_DOCTOR, DB_ARGS(DBP_INT(id)), &r), TF_OK);
	assert_int_equal(r.nrows, 1);
	db_rows_free(&r);
}

static void doctor_create_rejects(void **state)
{
	char err[256], email[128], longname[DOCTOR_NAME_MAX + 10];
	long long id = 0;

	(void)state;
	snprintf(email, sizeof(email), "rej-%s@example.org", uniq);
	assert_int_equal(doctor_create(db, "not-an-email", "X Y", NULL, "long enough pw", NULL, &id,
				       err, sizeof(err)), TF_ERR_INVALID);
	assert_non_null(strstr(err, "e-mail"));
	assert_int_equal(doctor_create(db, email, "X Y", NULL, "short", NULL, &id, err, sizeof(err)),
			 TF_ERR_INVALID);
	assert_non_null(strstr(err, "password"));
	/* Ten characters, counted as characters, not bytes. */
	assert_int_equal(doctor_create(db, email, "X Y", NULL, "äöüäöüäöü", NULL, &id, err,
				       sizeof(err)), TF_ERR_INVALID);
	assert_int_equal(doctor_create(db, email, "X Y", "Bad_Slug", "long enough pw", NULL, &id,
				       err, sizeof(err)), TF_ERR_INVALID);
	assert_non_null(strstr(err, "slug"));
	assert_int_equal(doctor_create(db, email, "X Y", NULL, "long enough pw", "Mars/Olympus", &id,
				       err, sizeof(err)), TF_ERR_INVALID);
	assert_non_null(strstr(err, "time zone"));
	assert_int_equal(doctor_create(db, email, "X Y", NULL, "long enough pw", "../etc/passwd", &id,
				       err, sizeof(err)), TF_ERR_INVALID);
	assert_int_equal(doctor_create(db, email, "   ", NULL, "long enough pw", NULL, &id, err,
				       sizeof(err)), TF_ERR_INVALID);
	assert_non_null(strstr(err, "name"));
	assert_int_equal(doctor_create(db, email, "Bad\nName", NULL, "long enough pw", NULL, &id,
				       err, sizeof(err)), TF_ERR_INVALID);
	assert_int_equal(doctor_create(db, email, "Bad \xff UTF-8", NULL, "long enough pw", NULL,
				       &id, err, sizeof(err)), TF_ERR_INVALID);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(doctor_create(db, email, longname, NULL, "long enough pw", NULL, &id, err,
				       sizeof(err)), TF_ERR_INVALID);
	/* A name without any letter for the slug needs an explicit one. */
	assert_int_equal(doctor_create(db, email, "李", NULL, "long enough pw", NULL, &id, err,
				       sizeof(err)), TF_ERR_INVALID);
	assert_non_null(strstr(err, "slug"));
	assert_int_equal(id, 0);
	assert_int_equal(doctor_by_email(db, email, &(struct doctor){ 0 }), 0);
}

static void slug_derivation(void **state)
{
	static const struct {
		const char *name, *slug;
	} cases[] = {
		{ "Dr. Anna Müller", "dr-anna-mueller" },
		{ "  Prof. Dr. med. Jürgen Groß-Meier  ", "prof-dr-med-juergen-gross-meier" },
		{ "ÄRZTE Öztürk & Übel", "aerzte-oeztuerk-uebel" },
		{ "Praxis Dr. José Ñúñez", "praxis-dr-jose-nunez" },
		{ "Łukasz Żółć", "lukasz-zolc" },
		{ "Zahnarzt 24/7", "zahnarzt-24-7" },
		{ "---", "" },
		{ "", "" },
		{ "李 Li", "li" },
	};
	char out[DOCTOR_SLUG_MAX + 1], small[6];
	char longname[300];
	size_t i;

	(void)state;
	for (i = 0; i < TF_ARRAY_LEN(cases); i++) {
		doctor_slug_from_name(cases[i].name, out, sizeof(out));
		assert_string_equal(out, cases[i].slug);
	}
	/* Long names are cut at DOCTOR_SLUG_MAX without a trailing '-'. */
	for (i = 0; i < sizeof(longname) - 1; i++)
		longname[i] = i % 8 == 7 ? ' ' : 'x';
	longname[sizeof(longname) - 1] = '\0';
	doctor_slug_from_name(longname, out, sizeof(out));
	assert_true(strlen(out) <= DOCTOR_SLUG_MAX);
	assert_true(doctor_slug_valid(out));
	/* A small output buffer is respected. */
	doctor_slug_from_name("Dr. Anna Müller", small, sizeof(small));
	assert_string_equal(small, "dr-an");
	/* A truncated UTF-8 sequence at the end does not read past the string. */
	doctor_slug_from_name("ab\xc3", out, sizeof(out));
	assert_string_equal(out, "ab");
}

static void email_and_slug_validation(void **state)
{
	static const char *const good_mail[] = {
		"a@b.de", "anna.mueller@praxis-mueller.de", "x+tag@sub.example.org",
		"müller@beispiel.de",
	};
	static const char *const bad_mail[] = {
		"", "a", "a@b", "@b.de", "a@.de", "a@b.", "a@b..de", "a@@b.de", "a@b@c.de",
		"a b@c.de", "a@b .de", "a\n@b.de", "<a@b.de>", "a@b.de\r",
		"\"a\"@b.de",
	};
	static const char *const good_slug[] = { "ab", "dr-anna-mueller", "a1", "praxis-2" };
	static const char *const bad_slug[] = {
		"", "a", "-ab", "ab-", "Ab", "a_b", "a b", "a/b", "ä-b", "../x",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	char longmail[300];
	size_t i;

	(void)state;
	for (i = 0; i < TF_ARRAY_LEN(good_mail); i++)
		assert_true(doctor_email_valid(good_mail[i]));
	for (i = 0; i < TF_ARRAY_LEN(bad_mail); i++) {
		if (doctor_email_valid(bad_mail[i]))
			fail_msg("accepted e-mail %s", bad_mail[i]);
	}
	assert_false(doctor_email_valid(NULL));
	memset(longmail, 'a', sizeof(longmail));
	memcpy(longmail + sizeof(longmail) - 8, "@b.de", 6);
	assert_false(doctor_email_valid(longmail));   /* > 254 and local part > 64 */
	for (i = 0; i < TF_ARRAY_LEN(good_slug); i++)
		assert_true(doctor_slug_valid(good_slug[i]));
	for (i = 0; i < TF_ARRAY_LEN(bad_slug); i++) {
		if (doctor_slug_valid(bad_slug[i]))
			fail_msg("accepted slug %s", bad_slug[i]);
	}
	assert_false(doctor_slug_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest offline[] = {
		cmocka_unit_test(slug_derivation),
		cmocka_unit_test(email_and_slug_validation),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(slug_derivation),
		cmocka_unit_test(email_and_slug_validation),
		cmocka_unit_test(text_roundtrip_literal),
		cmocka_unit_test(bytes_param_and_long_value),
		cmocka_unit_test(null_in_and_out),
		cmocka_unit_test(insert_id_and_affected),
		cmocka_unit_test(query_one_results),
		cmocka_unit_test(rollback_leaves_no_row),
		cmocka_unit_test(duplicate_key_errno),
		cmocka_unit_test(reconnect_after_kill),
		cmocka_unit_test(session_settings),
		cmocka_unit_test(connect_failure_message),
		cmocka_unit_test(migrate_idempotent),
		cmocka_unit_test(migrate_extra_and_failure),
		cmocka_unit_test(doctor_create_defaults),
		cmocka_unit_test(doctor_create_duplicates),
		cmocka_unit_test(doctor_create_rejects),
	};
	const char *sock = getenv("TF_DB_SOCKET");
	int rc;

	log_init("test_db", 0, LOG_LVL_WARN);
	if (crypto_init() != TF_OK)
		return 1;
	if (!sock || !*sock) {
		/* Without a server only the offline checks run; test_db.sh provides one. */
		printf("# TF_DB_SOCKET not set: database tests skipped "
		       "(tests/integration/test_db.sh runs them)\n");
		return cmocka_run_group_tests_name("db-offline", offline, NULL, NULL) ? 1 : 0;
	}
	snprintf(uniq, sizeof(uniq), "%ld%ld", (long)time(NULL) % 100000, (long)getpid());
	conf = conf_new();
	rc = cmocka_run_group_tests_name("db", tests, setup, teardown);
	conf_free(conf);
	return rc ? 1 : 0;
}
