/* db.c: MariaDB Connector/C wrapper: lazily prepared statements from db_stmts.def, string results, one reconnect. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "db.h"
#include "log.h"

#define DB_NAME_DEFAULT "terminfinder"
#define DB_CONNECT_TIMEOUT 10   /* seconds */
#define DB_RW_TIMEOUT 300       /* seconds; longer than innodb_lock_wait_timeout */
#define DB_CELL_MAX (64u * 1024 * 1024)   /* a single result value larger than this is refused */
#define DB_ROWS_MAX 10000000u
#define DB_PARAMS_MAX 64        /* parameters of one statement */

static const char *const stmt_sql[STMT_MAX] = {
#define X(name, sql) [STMT_##name] = sql,
#include "db_stmts.def"
#undef X
};

static const char *const stmt_names[STMT_MAX] = {
#define X(name, sql) [STMT_##name] = #name,
#include "db_stmts.def"
#undef X
};

struct db {
	MYSQL *my;
	MYSQL_STMT *stmts[STMT_MAX];
	int in_tx;
	unsigned int last_errno;
	/* Connection settings, kept for reconnecting. */
	char *host;
	char *user;
	char *password;
	char *name;
	char *socket;
	unsigned int port;
};

const char *db_stmt_sql(enum db_stmt s)
{
	if ((unsigned)s >= STMT_MAX)
		return "";
	return stmt_sql[s];
}

const char *db_stmt_name(enum db_stmt s)
{
	if ((unsigned)s >= STMT_MAX)
		return "?";
	return stmt_names[s];
}

/* ------------------------------------------------------------------ results */

const char *db_cell(const struct db_rows *r, size_t row, size_t col)
{
	if (!r || !r->cells || row >= r->nrows || col >= r->ncols)
		return NULL;
	return r->cells[row * r->ncols + col];
}

long long db_cell_int(const struct db_rows *r, size_t row, size_t col, long long def)
{
	const char *s = db_cell(r, row, col);
	char *end;
	long long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0')
		return def;
	return v;
}

void db_rows_free(struct db_rows *r)
{
	size_t i;

	if (!r)
		return;
	if (r->cells) {
		for (i = 0; i < r->nrows * r->ncols; i++)
			free(r->cells[i]);
		free(r->cells);
	}
	r->cells = NULL;
	r->nrows = 0;
	r->ncols = 0;
}

/* ------------------------------------------------------------------ errors */

/* Some MariaDB messages quote the offending value ("Duplicate entry 'x' for key ..."). For those,
 * replace the quoted part so that parameter values never reach the log. */
static void safe_error(unsigned int no, const char *msg, char *out, size_t outlen)
{
	const char *q, *end, *p;

	switch (no) {
	case ER_DUP_ENTRY:
	case ER_DUP_ENTRY_WITH_KEY_NAME:
	case ER_TRUNCATED_WRONG_VALUE:
	case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
	case ER_ILLEGAL_VALUE_FOR_TYPE:
	case ER_WRONG_VALUE_FOR_TYPE:
	case ER_WRONG_VALUE:
	case ER_INVALID_CHARACTER_STRING:
		break;
	default:
		str_copy(out, msg, outlen);
		return;
	}
	q = strchr(msg, '\'');
	if (!q) {
		str_copy(out, msg, outlen);
		return;
	}
	/* The value ends at the last "' for " (the key or column follows); else hide the rest. */
	end = NULL;
	for (p = q + 1; (p = strstr(p, "' for ")) != NULL; p++)
		end = p;
	if (end)
		snprintf(out, outlen, "%.*s'[value]%s", (int)(q - msg), msg, end);
	else
		snprintf(out, outlen, "%.*s'[value]'", (int)(q - msg), msg);
}

static int is_connection_error(unsigned int no)
{
	return no == CR_SERVER_GONE_ERROR || no == CR_SERVER_LOST || no == ER_CONNECTION_KILLED ||
	       no == CR_CONNECTION_ERROR || no == 4031 /* ER_CLIENT_INTERACTION_TIMEOUT */;
}

static void log_db_error(enum db_stmt s, unsigned int no, const char *msg)
{
	char safe[512];

	safe_error(no, msg ? msg : "", safe, sizeof(safe));
	/* A duplicate key is an expected outcome for callers that check db_errno. */
	if (no == ER_DUP_ENTRY || no == ER_DUP_ENTRY_WITH_KEY_NAME)
		log_info("db: %s: %s (%u)", db_stmt_name(s), safe, no);
	else
		log_error("db: %s failed: %s (%u)", db_stmt_name(s), safe, no);
}

/* ------------------------------------------------------------------ connection */

static void close_stmts(struct db *db)
{
	size_t i;

	for (i = 0; i < STMT_MAX; i++) {
		if (db->stmts[i]) {
			mysql_stmt_close(db->stmts[i]);
			db->stmts[i] = NULL;
		}
	}
}

/* Open db->my with the stored settings. Returns 0, or -1 with the reason in err. */
static int open_conn(struct db *db, char *err, size_t errlen)
{
	my_bool off = 0;
	unsigned int timeout = DB_CONNECT_TIMEOUT, rw = DB_RW_TIMEOUT;
	MYSQL *my;

	my = mysql_init(NULL);
	if (!my) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(my, MYSQL_OPT_RECONNECT, &off);
	mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &rw);
	mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &rw);
	/* Every session works in UTC and refuses to truncate data silently. */
	mysql_options(my, MYSQL_INIT_COMMAND,
		      "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,"
		      "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_ZERO_DATE,NO_ZERO_IN_DATE'");
	if (!mysql_real_connect(my, db->socket ? NULL : db->host, db->user, db->password, db->name,
				db->port, db->socket, CLIENT_FOUND_ROWS)) {
		db->last_errno = mysql_errno(my);
		snprintf(err, errlen, "cannot connect to MariaDB at %s: %s",
			 db->socket ? db->socket : (db->host ? db->host : "localhost"), mysql_error(my));
		mysql_close(my);
		return -1;
	}
	db->my = my;
	return 0;
}

static void free_settings(struct db *db)
{
	if (db->password) {
		explicit_bzero(db->password, strlen(db->password));
		free(db->password);
	}
	free(db->host);
	free(db->user);
	free(db->name);
	free(db->socket);
}

struct db *db_connect(struct conf *c, char *err, size_t errlen)
{
	struct db *db;
	const char *v;
	long port = 0;
	char perr[256];

	db = calloc(1, sizeof(*db));
	if (!db) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (conf_get_long(c, "TF_DB_PORT", 0, 0, 65535, &port, perr, sizeof(perr)) < 0) {
		snprintf(err, errlen, "%s", perr);
		free(db);
		return NULL;
	}
	db->port = (unsigned int)port;
	if ((v = conf_get_default(c, "TF_DB_HOST", NULL)))
		db->host = xstrdup(v);
	if ((v = conf_get_default(c, "TF_DB_SOCKET", NULL)))
		db->socket = xstrdup(v);
	if ((v = conf_get_default(c, "TF_DB_USER", NULL)))
		db->user = xstrdup(v);
	if ((v = conf_get(c, "TF_DB_PASSWORD")))
		db->password = xstrdup(v);
	db->name = xstrdup(conf_get_default(c, "TF_DB_NAME", DB_NAME_DEFAULT));
	if (open_conn(db, err, errlen) < 0) {
		free_settings(db);
		free(db);
		return NULL;
	}
	return db;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	close_stmts(db);
	if (db->my)
		mysql_close(db->my);
	free_settings(db);
	free(db);
}

/* Drop the broken connection and open a new one (statements are prepared again lazily). */
static int reconnect(struct db *db)
{
	char err[512];

	close_stmts(db);
	if (db->my) {
		mysql_close(db->my);
		db->my = NULL;
	}
	db->in_tx = 0;
	if (open_conn(db, err, sizeof(err)) < 0) {
		log_error("db: reconnect failed: %s", err);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ statements */

static MYSQL_STMT *get_stmt(struct db *db, enum db_stmt s)
{
	MYSQL_STMT *st;
	my_bool on = 1;

	if (db->stmts[s])
		return db->stmts[s];
	if (!db->my) {
		db->last_errno = CR_SERVER_GONE_ERROR;
		return NULL;
	}
	st = mysql_stmt_init(db->my);
	if (!st) {
		db->last_errno = mysql_errno(db->my);
		return NULL;
	}
	if (mysql_stmt_prepare(st, stmt_sql[s], strlen(stmt_sql[s])) != 0) {
		db->last_errno = mysql_stmt_errno(st);
		if (!is_connection_error(db->last_errno))
			log_db_error(s, db->last_errno, mysql_stmt_error(st));
		mysql_stmt_close(st);
		return NULL;
	}
	mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
	db->stmts[s] = st;
	return st;
}

/* Forget a statement whose connection broke (it cannot be reused). */
static void drop_stmt(struct db *db, enum db_stmt s)
{
	if (db->stmts[s]) {
		mysql_stmt_close(db->stmts[s]);
		db->stmts[s] = NULL;
	}
}

static enum tf_err bind_params(struct db *db, enum db_stmt s, MYSQL_STMT *st,
			       const struct db_param *p, size_t np, MYSQL_BIND *b,
			       unsigned long *lens, long long *ints)
{
	size_t i;

	if (mysql_stmt_param_count(st) != np) {
		log_error("db: %s: expects %lu parameters, got %zu", db_stmt_name(s),
			  mysql_stmt_param_count(st), np);
		db->last_errno = CR_INVALID_PARAMETER_NO;
		return TF_ERR_DB;
	}
	if (np == 0)
		return TF_OK;
	memset(b, 0, np * sizeof(*b));
	for (i = 0; i < np; i++) {
		switch (p[i].type) {
		case DB_T_INT:
			ints[i] = p[i].i;
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = &ints[i];
			break;
		case DB_T_TEXT:
			if (!p[i].s) {
				b[i].buffer_type = MYSQL_TYPE_NULL;
				break;
			}
			lens[i] = p[i].len == (size_t)-1 ? strlen(p[i].s) : p[i].len;
			b[i].buffer_type = MYSQL_TYPE_STRING;
			b[i].buffer = (void *)p[i].s;
			b[i].buffer_length = lens[i];
			b[i].length = &lens[i];
			break;
		case DB_T_NULL:
		default:
			b[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		}
	}
	if (mysql_stmt_bind_param(st, b) != 0) {
		db->last_errno = mysql_stmt_errno(st);
		log_db_error(s, db->last_errno, mysql_stmt_error(st));
		return TF_ERR_DB;
	}
	return TF_OK;
}

/* Fetch every row of an executed statement with a result set into out, as strings. */
static enum tf_err fetch_rows(struct db *db, enum db_stmt s, MYSQL_STMT *st, struct db_rows *out)
{
	unsigned int ncols = 0, i;
	MYSQL_RES *meta = NULL;
	MYSQL_FIELD *fields;
	MYSQL_BIND *b = NULL;
	unsigned long *lens = NULL;
	my_bool *nulls = NULL, *errs = NULL;
	char **bufs = NULL;
	size_t cap = 0, row;
	enum tf_err rc = TF_ERR_DB;
	int f;

	if (mysql_stmt_store_result(st) != 0) {
		db->last_errno = mysql_stmt_errno(st);
		goto fail;
	}
	/* Metadata taken after store_result carries each column's max_length. */
	meta = mysql_stmt_result_metadata(st);
	if (!meta) {
		db->last_errno = mysql_stmt_errno(st);
		goto fail;
	}
	ncols = mysql_num_fields(meta);
	fields = mysql_fetch_fields(meta);
	out->ncols = ncols;
	if (ncols == 0) {
		rc = TF_OK;
		goto out;
	}
	b = xcalloc(ncols, sizeof(*b));
	lens = xcalloc(ncols, sizeof(*lens));
	nulls = xcalloc(ncols, sizeof(*nulls));
	errs = xcalloc(ncols, sizeof(*errs));
	bufs = xcalloc(ncols, sizeof(*bufs));
	for (i = 0; i < ncols; i++) {
		/* max_length is the longest value in this result (STMT_ATTR_UPDATE_MAX_LENGTH); numbers
		 * and dates converted to text may be longer than their binary size, so keep room for 64. */
		unsigned long sz = fields[i].max_length;
		if (sz < 64)
			sz = 64;
		if (sz > DB_CELL_MAX)
			sz = DB_CELL_MAX;
		bufs[i] = xmalloc(sz + 1);
		b[i].buffer_type = MYSQL_TYPE_STRING;
		b[i].buffer = bufs[i];
		b[i].buffer_length = sz;
		b[i].length = &lens[i];
		b[i].is_null = &nulls[i];
		b[i].error = &errs[i];
	}
	if (mysql_stmt_bind_result(st, b) != 0) {
		db->last_errno = mysql_stmt_errno(st);
		goto fail;
	}
	row = 0;
	while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
		if (row >= DB_ROWS_MAX) {
			log_error("db: %s: more than %u rows", db_stmt_name(s), DB_ROWS_MAX);
			db->last_errno = CR_OUT_OF_MEMORY;
			rc = TF_ERR_DB;
			goto out;
		}
		if (row == cap) {
			cap = cap ? cap * 2 : 8;
			out->cells = xrealloc(out->cells, cap * ncols * sizeof(char *));
		}
		/* The row counts from now on, so that a failure half-way frees its cells. */
		memset(&out->cells[row * ncols], 0, ncols * sizeof(char *));
		out->nrows = row + 1;
		for (i = 0; i < ncols; i++) {
			char *cell;

			if (nulls[i]) {
				out->cells[row * ncols + i] = NULL;
				continue;
			}
			if (lens[i] > b[i].buffer_length) {
				/* Truncated: fetch this column again into a buffer of the right size. */
				MYSQL_BIND one;

				if (lens[i] > DB_CELL_MAX) {
					log_error("db: %s: value of column %u over %u bytes",
						  db_stmt_name(s), i, DB_CELL_MAX);
					db->last_errno = CR_OUT_OF_MEMORY;
					rc = TF_ERR_DB;
					goto out;
				}
				cell = xmalloc(lens[i] + 1);
				memset(&one, 0, sizeof(one));
				one.buffer_type = MYSQL_TYPE_STRING;
				one.buffer = cell;
				one.buffer_length = lens[i];
				if (mysql_stmt_fetch_column(st, &one, i, 0) != 0) {
					free(cell);
					db->last_errno = mysql_stmt_errno(st);
					goto fail;
				}
				cell[lens[i]] = '\0';
			} else {
				cell = xmalloc(lens[i] + 1);
				memcpy(cell, bufs[i], lens[i]);
				cell[lens[i]] = '\0';
			}
			out->cells[row * ncols + i] = cell;
		}
		row++;
	}
	if (f != MYSQL_NO_DATA) {
		db->last_errno = mysql_stmt_errno(st);
		goto fail;
	}
	rc = TF_OK;
	goto out;
fail:
	/* Connection errors are logged (or retried) by the caller. */
	if (!is_connection_error(db->last_errno))
		log_db_error(s, db->last_errno, mysql_stmt_error(st));
	rc = TF_ERR_DB;
out:
	if (bufs)
		for (i = 0; i < ncols; i++)
			free(bufs[i]);
	free(bufs);
	free(b);
	free(lens);
	free(nulls);
	free(errs);
	if (meta)
		mysql_free_result(meta);
	mysql_stmt_free_result(st);
	return rc;
}

/* One attempt: prepare (if needed), bind, execute, fetch. */
static enum tf_err run_once(struct db *db, enum db_stmt s, const struct db_param *p, size_t np,
			    unsigned long long *affected, unsigned long long *insert_id,
			    struct db_rows *out)
{
	MYSQL_STMT *st;
	MYSQL_BIND pb[DB_PARAMS_MAX];
	unsigned long lens[DB_PARAMS_MAX];
	long long ints[DB_PARAMS_MAX];
	enum tf_err rc;

	if (np > DB_PARAMS_MAX) {
		log_error("db: %s: more than %d parameters", db_stmt_name(s), DB_PARAMS_MAX);
		db->last_errno = CR_INVALID_PARAMETER_NO;
		return TF_ERR_DB;
	}
	st = get_stmt(db, s);
	if (!st)
		return TF_ERR_DB;
	rc = bind_params(db, s, st, p, np, pb, lens, ints);
	if (rc != TF_OK)
		return rc;
	if (mysql_stmt_execute(st) != 0) {
		db->last_errno = mysql_stmt_errno(st);
		if (!is_connection_error(db->last_errno))
			log_db_error(s, db->last_errno, mysql_stmt_error(st));
		return TF_ERR_DB;
	}
	if (mysql_stmt_field_count(st) > 0) {
		struct db_rows tmp = { 0 };

		rc = fetch_rows(db, s, st, out ? out : &tmp);
		db_rows_free(&tmp);
		if (rc != TF_OK) {
			if (out)
				db_rows_free(out);
			return rc;
		}
	}
	if (affected)
		*affected = (unsigned long long)mysql_stmt_affected_rows(st);
	if (insert_id)
		*insert_id = (unsigned long long)mysql_stmt_insert_id(st);
	db->last_errno = 0;
	return TF_OK;
}

/* Run with one retry after a lost connection outside a transaction (writes only when they cannot have run). */
static enum tf_err run(struct db *db, enum db_stmt s, const struct db_param *p, size_t np,
		       unsigned long long *affected, unsigned long long *insert_id,
		       struct db_rows *out)
{
	enum tf_err rc;

	if (!db || (unsigned)s >= STMT_MAX)
		return TF_ERR_DB;
	if (out)
		memset(out, 0, sizeof(*out));
	if (!db->my && (db->in_tx || reconnect(db) < 0)) {
		db->last_errno = CR_SERVER_GONE_ERROR;
		log_error("db: %s failed: not connected", db_stmt_name(s));
		return TF_ERR_DB;
	}
	rc = run_once(db, s, p, np, affected, insert_id, out);
	/* Outside a transaction a statement that lost a deadlock (1213) or could not read the
	 * auto-increment value under concurrent inserts (1467) was rolled back whole: run it again. */
	for (int tries = 0; rc != TF_OK && !db->in_tx && tries < 3 &&
	     (db->last_errno == ER_LOCK_DEADLOCK || db->last_errno == ER_AUTOINC_READ_FAILED); tries++) {
		log_warn("db: %s: %u, running it again", db_stmt_name(s), db->last_errno);
		usleep(10000u << tries);
		rc = run_once(db, s, p, np, affected, insert_id, out);
	}
	if (rc == TF_OK || !is_connection_error(db->last_errno))
		return rc;
	drop_stmt(db, s);
	if (db->in_tx) {
		log_error("db: %s failed: connection lost inside a transaction (%u)",
			  db_stmt_name(s), db->last_errno);
		return TF_ERR_DB;
	}
	/* "Lost connection during query" may come after the server ran the statement: only a
	 * read is safe to repeat then. "Gone away" and "killed" mean it never ran. */
	if (!out && db->last_errno == CR_SERVER_LOST) {
		log_error("db: %s: connection lost during the statement; not repeating a write",
			  db_stmt_name(s));
		reconnect(db);
		return TF_ERR_DB;
	}
	log_warn("db: %s: connection lost (%u), reconnecting and retrying once", db_stmt_name(s),
		 db->last_errno);
	if (reconnect(db) < 0)
		return TF_ERR_DB;
	rc = run_once(db, s, p, np, affected, insert_id, out);
	if (rc != TF_OK && is_connection_error(db->last_errno)) {
		log_error("db: %s failed again after reconnecting (%u)", db_stmt_name(s),
			  db->last_errno);
		drop_stmt(db, s);
	}
	return rc;
}

enum tf_err db_exec(struct db *db, enum db_stmt s, const struct db_param *p, size_t np,
		    unsigned long long *affected, unsigned long long *insert_id)
{
	return run(db, s, p, np, affected, insert_id, NULL);
}

enum tf_err db_query(struct db *db, enum db_stmt s, const struct db_param *p, size_t np,
		     struct db_rows *out)
{
	return run(db, s, p, np, NULL, NULL, out);
}

int db_query_one(struct db *db, enum db_stmt s, const struct db_param *p, size_t np,
		 struct db_rows *out)
{
	if (run(db, s, p, np, NULL, NULL, out) != TF_OK)
		return -1;
	if (out->nrows == 0) {
		db_rows_free(out);
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------ transactions */

enum tf_err db_begin(struct db *db)
{
	enum tf_err rc;

	if (!db)
		return TF_ERR_DB;
	if (db->in_tx) {
		log_error("db: begin inside a transaction");
		return TF_ERR_DB;
	}
	rc = run(db, STMT_TX_BEGIN, DB_NOARGS, NULL, NULL, NULL);
	if (rc == TF_OK)
		db->in_tx = 1;
	return rc;
}

enum tf_err db_commit(struct db *db)
{
	enum tf_err rc;

	if (!db)
		return TF_ERR_DB;
	rc = run(db, STMT_TX_COMMIT, DB_NOARGS, NULL, NULL, NULL);
	/* A failed COMMIT leaves the server to roll back; either way the transaction is over. */
	db->in_tx = 0;
	return rc;
}

enum tf_err db_rollback(struct db *db)
{
	enum tf_err rc;

	if (!db)
		return TF_ERR_DB;
	if (!db->my) {
		db->in_tx = 0;
		return TF_OK;
	}
	rc = run(db, STMT_TX_ROLLBACK, DB_NOARGS, NULL, NULL, NULL);
	db->in_tx = 0;
	/* A lost connection rolls back on the server: that is what was asked for. */
	if (rc != TF_OK && is_connection_error(db->last_errno))
		return TF_OK;
	return rc;
}

int db_ping(struct db *db)
{
	if (!db)
		return 0;
	if (db->my && mysql_ping(db->my) == 0)
		return 1;
	if (db->in_tx)
		return 0;
	if (reconnect(db) < 0)
		return 0;
	return mysql_ping(db->my) == 0;
}

unsigned int db_errno(struct db *db)
{
	return db ? db->last_errno : 0;
}

/* ------------------------------------------------------------------ scripts (migrations) */

/* Find the end of the statement starting at p: the next ';' outside quotes and comments, or end. */
static const char *stmt_end(const char *p, const char *end, unsigned *line)
{
	char quote = 0;

	while (p < end) {
		char c = *p;

		if (c == '\n')
			(*line)++;
		if (quote) {
			if (c == '\\' && quote != '`' && p + 1 < end) {
				if (p[1] == '\n')
					(*line)++;
				p += 2;
				continue;
			}
			if (c == quote)
				quote = 0;
			p++;
			continue;
		}
		if (c == '\'' || c == '"' || c == '`') {
			quote = c;
		} else if (c == '-' && p + 2 < end && p[1] == '-' && (p[2] == ' ' || p[2] == '\t')) {
			while (p < end && *p != '\n')
				p++;
			continue;
		} else if (c == '#') {
			while (p < end && *p != '\n')
				p++;
			continue;
		} else if (c == '/' && p + 1 < end && p[1] == '*') {
			p += 2;
			while (p + 1 < end && !(p[0] == '*' && p[1] == '/')) {
				if (*p == '\n')
					(*line)++;
				p++;
			}
			p = p + 1 < end ? p + 2 : end;
			continue;
		} else if (c == ';') {
			return p;
		}
		p++;
	}
	return end;
}

/* 1 when [p, end) holds only white space and comments. */
static int blank_sql(const char *p, const char *end)
{
	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			p++;
		} else if (*p == '-' && p + 1 < end && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
		} else if (*p == '#') {
			while (p < end && *p != '\n')
				p++;
		} else if (*p == '/' && p + 1 < end && p[1] == '*') {
			p += 2;
			while (p + 1 < end && !(p[0] == '*' && p[1] == '/'))
				p++;
			p = p + 1 < end ? p + 2 : end;
		} else {
			return 0;
		}
	}
	return 1;
}

enum tf_err db_exec_script(struct db *db, const char *sql, size_t len, char *err, size_t errlen)
{
	const char *p = sql, *end = sql + len, *e;
	unsigned line = 1, start_line, n = 0;

	if (!db || !db->my) {
		snprintf(err, errlen, "not connected");
		if (db)
			db->last_errno = CR_SERVER_GONE_ERROR;
		return TF_ERR_DB;
	}
	while (p < end) {
		start_line = line;
		e = stmt_end(p, end, &line);
		if (!blank_sql(p, e)) {
			const char *s = p;

			/* Report the line where the statement's text starts, not its leading comments. */
			while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '-' ||
					 *s == '#')) {
				if (*s == '-' || *s == '#') {
					while (s < e && *s != '\n')
						s++;
					continue;
				}
				if (*s == '\n')
					start_line++;
				s++;
			}
			n++;
			if (mysql_real_query(db->my, p, (unsigned long)(e - p)) != 0) {
				db->last_errno = mysql_errno(db->my);
				snprintf(err, errlen, "statement %u (line %u): %s (%u)", n, start_line,
					 mysql_error(db->my), db->last_errno);
				if (is_connection_error(db->last_errno)) {
					/* The statements are prepared again after the next reconnect. */
					close_stmts(db);
					mysql_close(db->my);
					db->my = NULL;
					db->in_tx = 0;
				}
				return TF_ERR_DB;
			}
			/* A script may contain a SELECT: read and drop its rows. */
			do {
				MYSQL_RES *res = mysql_store_result(db->my);
				if (res)
					mysql_free_result(res);
			} while (mysql_more_results(db->my) && mysql_next_result(db->my) == 0);
		}
		p = e < end ? e + 1 : end;
	}
	db->last_errno = 0;
	return TF_OK;
}
