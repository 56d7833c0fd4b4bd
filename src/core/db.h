/* db.h: MariaDB through Connector/C: every query a prepared statement from one table (db_stmts.def). */
#ifndef TF_DB_H
#define TF_DB_H

#include <stddef.h>

#include "conf.h"
#include "util.h"

/* All SQL lives in db_stmts.def as X(NAME, "SQL with ? placeholders"). */
enum db_stmt {
#define X(name, sql) STMT_##name,
#include "db_stmts.def"
#undef X
	STMT_MAX
};
/* The SQL text of a statement (for logs and tests). */
const char *db_stmt_sql(enum db_stmt s);
const char *db_stmt_name(enum db_stmt s);

enum db_type { DB_T_NULL, DB_T_INT, DB_T_TEXT };
struct db_param {
	enum db_type type;
	long long i;
	const char *s;   /* DB_T_TEXT: bytes, not necessarily NUL-terminated when len is set */
	size_t len;      /* DB_T_TEXT: length; (size_t)-1 means strlen(s) */
};
#define DBP_NULL     ((struct db_param){ .type = DB_T_NULL })
#define DBP_INT(v)   ((struct db_param){ .type = DB_T_INT, .i = (long long)(v) })
/* A C string, or SQL NULL when v is NULL (a function, so that arrays do not trip -Waddress). */
static inline struct db_param db_param_text(const char *v)
{
	struct db_param p = { .type = v ? DB_T_TEXT : DB_T_NULL, .s = v, .len = (size_t)-1 };
	return p;
}
#define DBP_TEXT(v)  db_param_text(v)
#define DBP_BYTES(v, n) ((struct db_param){ .type = DB_T_TEXT, .s = (v), .len = (n) })
/* Expands to "array, count" for the params arguments: db_exec(db, STMT_X, DB_ARGS(DBP_INT(1)), ...). */
#define DB_ARGS(...) ((const struct db_param[]){ __VA_ARGS__ }), \
	(sizeof((const struct db_param[]){ __VA_ARGS__ }) / sizeof(struct db_param))
#define DB_NOARGS NULL, 0

/* Result rows, every cell as a NUL-terminated string or NULL for SQL NULL. Caller frees. */
struct db_rows {
	size_t nrows;
	size_t ncols;
	char **cells;   /* nrows * ncols, row-major */
};
const char *db_cell(const struct db_rows *r, size_t row, size_t col);
/* The cell as a long long; def when NULL or not a number. */
long long db_cell_int(const struct db_rows *r, size_t row, size_t col, long long def);
void db_rows_free(struct db_rows *r);

struct db;

/* Connect with TF_DB_HOST, TF_DB_PORT, TF_DB_SOCKET, TF_DB_USER, TF_DB_PASSWORD, TF_DB_NAME
 * (default terminfinder); utf8mb4, UTC session time zone. NULL with an English reason in err
 * (never the password). */
struct db *db_connect(struct conf *c, char *err, size_t errlen);
void db_close(struct db *db);

/* Run a statement. affected / insert_id may be NULL; affected counts the rows an UPDATE matched
 * (CLIENT_FOUND_ROWS), also those it left unchanged. After "server has gone away" or "lost
 * connection" outside a transaction, the connection is re-established and the statement tried once
 * more. Returns TF_OK or TF_ERR_DB (logged with the statement's name, never its parameters). */
enum tf_err db_exec(struct db *db, enum db_stmt s, const struct db_param *p, size_t np,
		    unsigned long long *affected, unsigned long long *insert_id);
/* Run a SELECT; out is filled (initialised here). */
enum tf_err db_query(struct db *db, enum db_stmt s, const struct db_param *p, size_t np,
		     struct db_rows *out);
/* First row only: returns -1 on error, 0 when there is no row, 1 when found (out filled, free it). */
int db_query_one(struct db *db, enum db_stmt s, const struct db_param *p, size_t np,
		 struct db_rows *out);

enum tf_err db_begin(struct db *db);
enum tf_err db_commit(struct db *db);
enum tf_err db_rollback(struct db *db);
/* 1 when the server answers (reconnecting if needed), 0 otherwise. */
int db_ping(struct db *db);
/* Last MariaDB error number (0 if none); e.g. 1062 duplicate key. */
unsigned int db_errno(struct db *db);

/* Only for migrations: run a trusted SQL script of ';'-terminated statements (no user input ever
 * reaches it). Returns TF_OK or TF_ERR_DB with the failing statement's position in err. */
enum tf_err db_exec_script(struct db *db, const char *sql, size_t len, char *err, size_t errlen);

#endif
