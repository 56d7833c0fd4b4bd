/* migrate.c: apply sql/NNN_name.sql files in order and record each in schema_migrations.
 *
 * Rules for migration files (db_exec_script splits them):
 *  - names match ^[0-9]{3}_[a-z0-9_]+\.sql$; they are applied in name order, once each;
 *  - statements end with ';'. A ';' inside quotes or comments is fine, but there are no stored
 *    program bodies (BEGIN ... END with inner ';') and no DELIMITER lines;
 *  - a file is never edited after it has been applied anywhere: changes go into a new file.
 *
 * Atomicity: MariaDB commits implicitly before and after every DDL statement (CREATE, ALTER,
 * DROP), so a file cannot be rolled back as a whole. Each file runs inside START TRANSACTION and
 * its schema_migrations row is inserted before COMMIT: a file of data changes only is atomic; a
 * file with DDL that fails half-way leaves its earlier statements applied and is NOT recorded.
 * The error then names the file, the failing statement's number and line, and how many
 * statements before it were applied, so the operator can undo those by hand (or finish them) and
 * run `tf-admin migrate` again. Write DDL migrations so that a rerun is safe where MariaDB allows
 * it (CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, ...).
 *
 * Concurrency: GET_LOCK('terminfinder_migrate') serialises two migrate runs against one database.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrate.h"

#define MIGRATE_FILES_MAX 1000
#define MIGRATE_FILE_MAX (4 * 1024 * 1024)
#define MIGRATE_NAME_MAX 255
#define MIGRATE_LOCK_WAIT 60   /* seconds */

struct mlist {
	char **names;   /* file names, sorted */
	size_t n;
};

static void mlist_free(struct mlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	l->names = NULL;
	l->n = 0;
}

/* 1 when name matches ^[0-9]{3}_[a-z0-9_]+\.sql$. */
static int migration_name_ok(const char *name)
{
	size_t len = strlen(name), i;

	if (len < 3 + 1 + 1 + 4 || len > MIGRATE_NAME_MAX)
		return 0;
	for (i = 0; i < 3; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	if (name[3] != '_')
		return 0;
	if (strcmp(name + len - 4, ".sql") != 0)
		return 0;
	for (i = 4; i < len - 4; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum tf_err list_files(const char *dir, struct mlist *l, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	size_t cap = 0;

	l->names = NULL;
	l->n = 0;
	d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "cannot read migrations directory %s: %m", dir);
		return TF_ERR_IO;
	}
	while ((de = readdir(d)) != NULL) {
		if (!migration_name_ok(de->d_name))
			continue;
		if (l->n >= MIGRATE_FILES_MAX) {
			snprintf(err, errlen, "more than %d migration files in %s", MIGRATE_FILES_MAX,
				 dir);
			closedir(d);
			mlist_free(l);
			return TF_ERR_IO;
		}
		if (l->n == cap) {
			cap = cap ? cap * 2 : 16;
			l->names = xrealloc(l->names, cap * sizeof(char *));
		}
		l->names[l->n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (l->n)
		qsort(l->names, l->n, sizeof(char *), cmp_names);
	return TF_OK;
}

/* The version recorded for a file: its name without ".sql". */
static void version_of(const char *file, char *out, size_t outlen)
{
	size_t n = strlen(file) - 4;

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, file, n);
	out[n] = '\0';
}

static int is_applied(const struct db_rows *applied, const char *version)
{
	size_t i;

	for (i = 0; i < applied->nrows; i++) {
		const char *v = db_cell(applied, i, 0);
		if (v && strcmp(v, version) == 0)
			return 1;
	}
	return 0;
}

/* Versions already applied; an absent schema_migrations table means none. */
static enum tf_err applied_versions(struct db *db, struct db_rows *out, char *err, size_t errlen)
{
	struct db_rows r;
	int found;
	long long exists;

	memset(out, 0, sizeof(*out));
	found = db_query_one(db, STMT_MIGRATIONS_TABLE_EXISTS, DB_NOARGS, &r);
	if (found < 0) {
		snprintf(err, errlen, "cannot read the schema: %s", "query failed");
		return TF_ERR_DB;
	}
	exists = found ? db_cell_int(&r, 0, 0, 0) : 0;
	if (found)
		db_rows_free(&r);
	if (!exists)
		return TF_OK;
	if (db_query(db, STMT_MIGRATIONS_LIST, DB_NOARGS, out) != TF_OK) {
		snprintf(err, errlen, "cannot read schema_migrations");
		return TF_ERR_DB;
	}
	return TF_OK;
}

/* Count the statements of a script that ran before statement n (from the "statement N" error). */
static unsigned failed_stmt_no(const char *msg)
{
	long v;
	char num[16];
	size_t i = 0;
	const char *p = strstr(msg, "statement ");

	if (!p)
		return 0;
	p += strlen("statement ");
	while (p[i] >= '0' && p[i] <= '9' && i < sizeof(num) - 1) {
		num[i] = p[i];
		i++;
	}
	num[i] = '\0';
	if (str_to_long(num, 1, 1000000, &v) < 0)
		return 0;
	return (unsigned)v;
}

static enum tf_err apply_file(struct db *db, const char *dir, const char *file, char *err,
			      size_t errlen)
{
	char path[4096], version[MIGRATE_NAME_MAX + 1], serr[1024];
	struct buf sql;
	enum tf_err rc;
	unsigned nst;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	version_of(file, version, sizeof(version));
	rc = file_read_all(path, MIGRATE_FILE_MAX, &sql);
	if (rc != TF_OK) {
		snprintf(err, errlen, "cannot read %s: %s", path, tf_strerror(rc));
		return TF_ERR_IO;
	}
	if (db_begin(db) != TF_OK) {
		snprintf(err, errlen, "%s: cannot start a transaction", file);
		rc = TF_ERR_DB;
		goto out;
	}
	rc = db_exec_script(db, sql.data, sql.len, serr, sizeof(serr));
	if (rc != TF_OK) {
		db_rollback(db);
		nst = failed_stmt_no(serr);
		if (nst > 1)
			snprintf(err, errlen,
				 "migration %s failed at %s; statements 1 to %u of it ran before, and "
				 "the DDL among them stays applied (it commits at once): undo or finish "
				 "them by hand, then run migrate again", file, serr, nst - 1);
		else
			snprintf(err, errlen, "migration %s failed at %s; nothing of it was applied",
				 file, serr);
		rc = TF_ERR_DB;
		goto out;
	}
	if (db_exec(db, STMT_MIGRATIONS_INSERT, DB_ARGS(DBP_TEXT(version)), NULL, NULL) != TF_OK ||
	    db_commit(db) != TF_OK) {
		db_rollback(db);
		snprintf(err, errlen, "migration %s was applied but could not be recorded in "
			 "schema_migrations (error %u); record it by hand", file, db_errno(db));
		rc = TF_ERR_DB;
		goto out;
	}
	log_info("migrate: applied %s", file);
	rc = TF_OK;
out:
	buf_free(&sql);
	return rc;
}

enum tf_err migrate_run(struct db *db, const char *dir, int *applied, char *err, size_t errlen)
{
	struct mlist files = { 0 };
	struct db_rows done = { 0 }, lk;
	char version[MIGRATE_NAME_MAX + 1];
	enum tf_err rc;
	int locked = 0, got;
	size_t i;

	*applied = 0;
	rc = list_files(dir, &files, err, errlen);
	if (rc != TF_OK)
		return rc;
	if (files.n == 0) {
		snprintf(err, errlen, "no migration files (NNN_name.sql) in %s", dir);
		rc = TF_ERR_IO;
		goto out;
	}
	got = db_query_one(db, STMT_MIGRATIONS_LOCK, DB_ARGS(DBP_INT(MIGRATE_LOCK_WAIT)), &lk);
	if (got < 0) {
		snprintf(err, errlen, "cannot take the migration lock");
		rc = TF_ERR_DB;
		goto out;
	}
	locked = got && db_cell_int(&lk, 0, 0, 0) == 1;
	if (got)
		db_rows_free(&lk);
	if (!locked) {
		snprintf(err, errlen, "another migrate run holds the lock for %d s; try again later",
			 MIGRATE_LOCK_WAIT);
		rc = TF_ERR_DB;
		goto out;
	}
	if (db_exec(db, STMT_MIGRATIONS_CREATE, DB_NOARGS, NULL, NULL) != TF_OK) {
		snprintf(err, errlen, "cannot create schema_migrations");
		rc = TF_ERR_DB;
		goto out;
	}
	rc = applied_versions(db, &done, err, errlen);
	if (rc != TF_OK)
		goto out;
	for (i = 0; i < files.n; i++) {
		version_of(files.names[i], version, sizeof(version));
		if (is_applied(&done, version))
			continue;
		rc = apply_file(db, dir, files.names[i], err, errlen);
		if (rc != TF_OK)
			goto out;
		(*applied)++;
	}
	rc = TF_OK;
out:
	if (locked && db_query_one(db, STMT_MIGRATIONS_UNLOCK, DB_NOARGS, &lk) == 1)
		db_rows_free(&lk);
	db_rows_free(&done);
	mlist_free(&files);
	return rc;
}

enum tf_err migrate_status(struct db *db, const char *dir, int *total, int *applied,
			   char *err, size_t errlen)
{
	struct mlist files = { 0 };
	struct db_rows done = { 0 };
	char version[MIGRATE_NAME_MAX + 1];
	enum tf_err rc;
	size_t i;

	*total = 0;
	*applied = 0;
	rc = list_files(dir, &files, err, errlen);
	if (rc != TF_OK)
		return rc;
	rc = applied_versions(db, &done, err, errlen);
	if (rc != TF_OK)
		goto out;
	*total = (int)files.n;
	for (i = 0; i < files.n; i++) {
		version_of(files.names[i], version, sizeof(version));
		if (is_applied(&done, version))
			(*applied)++;
	}
out:
	db_rows_free(&done);
	mlist_free(&files);
	return rc;
}
