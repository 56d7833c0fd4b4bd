/* practice.c: a doctor's practice settings: profile, opening hours, closures, services, validated with German messages. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysqld_error.h>

#include "holidays.h"
#include "log.h"
#include "practice.h"
#include "tztime.h"

static const char *const weekday_names[8] = {
	"", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag",
};

const char *practice_weekday_name(int weekday)
{
	return weekday >= 1 && weekday <= 7 ? weekday_names[weekday] : "";
}

static void err_field(struct practice_err *e, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err_field(struct practice_err *e, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	e->field = field;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

static void err_clear(struct practice_err *e)
{
	if (e) {
		e->field = NULL;
		e->message[0] = '\0';
	}
}

/* ------------------------------------------------------------------ text */

int practice_text_valid(const char *s)
{
	return s && utf8_text_valid(s, strlen(s), 0);
}

/* Lock the doctor row inside the open transaction: 1 found, 0 not, -1 error. */
static int lock_doctor(struct db *db, long long doctor_id)
{
	struct db_rows r;
	int found;

	found = db_query_one(db, STMT_BOOKING_DOCTOR_LOCK, DB_ARGS(DBP_INT(doctor_id)), &r);
	if (found > 0)
		db_rows_free(&r);
	return found;
}

/* ------------------------------------------------------------------ profile */

/* Address: UTF-8 text where line breaks (CR, LF) are allowed; other controls are not. */
static int address_valid(const char *s)
{
	char tmp[PRACTICE_ADDRESS_MAX + 1];
	size_t i;

	if (str_copy(tmp, s, sizeof(tmp)) >= sizeof(tmp))
		return 0;
	for (i = 0; tmp[i]; i++)
		if (tmp[i] == '\r' || tmp[i] == '\n')
			tmp[i] = ' ';
	return practice_text_valid(tmp);
}

enum tf_err practice_profile_update(struct db *db, long long doctor_id,
				    const struct practice_profile *p, struct practice_err *e)
{
	char name[PRACTICE_NAME_MAX + 1], addr[PRACTICE_ADDRESS_MAX + 1], tz[PRACTICE_TZ_MAX + 1];
	unsigned long long affected = 0;
	int bl;

	err_clear(e);
	if (str_trim_copy(p->practice_name, name, sizeof(name)) == (size_t)-1) {
		err_field(e, "practice_name", "Der Praxisname ist zu lang (höchstens %d Zeichen).",
			  PRACTICE_NAME_MAX);
		return TF_ERR_INVALID;
	}
	if (!practice_text_valid(name)) {
		err_field(e, "practice_name", "Der Praxisname enthält ungültige Zeichen.");
		return TF_ERR_INVALID;
	}
	if (str_trim_copy(p->practice_address, addr, sizeof(addr)) == (size_t)-1) {
		err_field(e, "practice_address", "Die Adresse ist zu lang (höchstens %d Zeichen).",
			  PRACTICE_ADDRESS_MAX);
		return TF_ERR_INVALID;
	}
	if (!address_valid(addr)) {
		err_field(e, "practice_address", "Die Adresse enthält ungültige Zeichen.");
		return TF_ERR_INVALID;
	}
	bl = p->bundesland ? bundesland_parse(p->bundesland) : -1;
	if (bl < 0 || bl >= BL_MAX) {
		err_field(e, "bundesland", "Bitte wählen Sie ein Bundesland aus der Liste.");
		return TF_ERR_INVALID;
	}
	if (str_trim_copy(p->timezone, tz, sizeof(tz)) == (size_t)-1 || !tz[0] || !tz_valid(tz)) {
		err_field(e, "timezone", "Unbekannte Zeitzone (erwartet z. B. „Europe/Berlin“).");
		return TF_ERR_INVALID;
	}
	if (db_exec(db, STMT_PRACTICE_PROFILE_UPDATE,
		    DB_ARGS(DBP_TEXT(name), DBP_TEXT(addr), DBP_TEXT(bundesland_code((enum bundesland)bl)),
			    DBP_TEXT(tz), DBP_INT(doctor_id)), &affected, NULL) != TF_OK)
		return TF_ERR_DB;
	return affected ? TF_OK : TF_ERR_NOTFOUND;
}

/* ------------------------------------------------------------------ opening hours */

enum tf_err practice_hours_get(struct db *db, long long doctor_id, struct practice_week *w)
{
	struct db_rows r;
	size_t i;

	memset(w, 0, sizeof(*w));
	if (db_query(db, STMT_OPENING_HOURS_BY_DOCTOR, DB_ARGS(DBP_INT(doctor_id)), &r) != TF_OK)
		return TF_ERR_DB;
	for (i = 0; i < r.nrows; i++) {
		long long wd = db_cell_int(&r, i, 0, 0);
		size_t k;

		if (wd < 1 || wd > 7)
			continue;
		k = w->n[wd - 1];
		if (k >= PRACTICE_HOURS_PER_DAY) {
			log_warn("practice: doctor %lld has more than %d intervals on weekday %lld",
				 doctor_id, PRACTICE_HOURS_PER_DAY, wd);
			continue;
		}
		w->day[wd - 1][k].start = (int)db_cell_int(&r, i, 1, 0);
		w->day[wd - 1][k].end = (int)db_cell_int(&r, i, 2, 0);
		w->n[wd - 1] = k + 1;
	}
	db_rows_free(&r);
	return TF_OK;
}

static int cmp_interval(const void *a, const void *b)
{
	const struct practice_interval *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

static void hhmm(int minutes, char out[6])
{
	unsigned m = minutes < 0 ? 0u : (unsigned)minutes;

	snprintf(out, 6, "%02u:%02u", (m / 60u) % 100u, m % 60u);
}

int practice_hours_check(int weekday, const struct practice_interval *iv, size_t n,
			 struct practice_err *e)
{
	struct practice_interval s[PRACTICE_HOURS_PER_DAY];
	const char *day = practice_weekday_name(weekday);
	char a[6], b[6], c[6], d[6];
	size_t i;

	if (weekday < 1 || weekday > 7) {
		err_field(e, "weekday", "Unbekannter Wochentag.");
		return -1;
	}
	if (n > PRACTICE_HOURS_PER_DAY) {
		err_field(e, "hours", "%s: höchstens %d Zeitspannen pro Tag.", day,
			  PRACTICE_HOURS_PER_DAY);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (iv[i].start < 0 || iv[i].end > 24 * 60 || iv[i].start >= iv[i].end) {
			err_field(e, "hours", "%s: Eine Zeitspanne muss zwischen 00:00 und 24:00 liegen "
				  "und vor ihrem Ende beginnen.", day);
			return -1;
		}
		s[i] = iv[i];
	}
	if (n > 1)
		qsort(s, n, sizeof(s[0]), cmp_interval);
	for (i = 1; i < n; i++) {
		if (s[i].start < s[i - 1].end) {
			hhmm(s[i - 1].start, a);
			hhmm(s[i - 1].end, b);
			hhmm(s[i].start, c);
			hhmm(s[i].end, d);
			err_field(e, "hours", "%s: Die Zeiten %s–%s und %s–%s überschneiden sich.", day,
				  a, b, c, d);
			return -1;
		}
	}
	return 0;
}

/* Insert one day's intervals (inside the caller's transaction). */
static enum tf_err insert_day(struct db *db, long long doctor_id, int weekday,
			      const struct practice_interval *iv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (db_exec(db, STMT_OPENING_HOURS_INSERT,
			    DB_ARGS(DBP_INT(doctor_id), DBP_INT(weekday), DBP_INT(iv[i].start),
				    DBP_INT(iv[i].end)), NULL, NULL) != TF_OK)
			return TF_ERR_DB;
	return TF_OK;
}

/* Replace the hours of one weekday (1..7) or, with weekday 0, of the whole week. */
static enum tf_err hours_replace(struct db *db, long long doctor_id, int weekday,
				 const struct practice_week *w)
{
	enum tf_err rc = TF_ERR_DB;
	int found, wd;

	if (db_begin(db) != TF_OK)
		return TF_ERR_DB;
	found = lock_doctor(db, doctor_id);
	if (found <= 0) {
		rc = found == 0 ? TF_ERR_NOTFOUND : TF_ERR_DB;
		goto out;
	}
	if (weekday == 0) {
		if (db_exec(db, STMT_PRACTICE_HOURS_DELETE_ALL, DB_ARGS(DBP_INT(doctor_id)), NULL,
			    NULL) != TF_OK)
			goto out;
		for (wd = 1; wd <= 7; wd++)
			if (insert_day(db, doctor_id, wd, w->day[wd - 1], w->n[wd - 1]) != TF_OK)
				goto out;
	} else {
		if (db_exec(db, STMT_PRACTICE_HOURS_DELETE_DAY,
			    DB_ARGS(DBP_INT(doctor_id), DBP_INT(weekday)), NULL, NULL) != TF_OK)
			goto out;
		if (insert_day(db, doctor_id, weekday, w->day[weekday - 1], w->n[weekday - 1]) != TF_OK)
			goto out;
	}
	if (db_commit(db) != TF_OK)
		return TF_ERR_DB;
	return TF_OK;
out:
	db_rollback(db);
	return rc;
}

enum tf_err practice_hours_set_day(struct db *db, long long doctor_id, int weekday,
				   const struct practice_interval *iv, size_t n,
				   struct practice_err *e)
{
	struct practice_week w;

	err_clear(e);
	if (practice_hours_check(weekday, iv, n, e) < 0)
		return TF_ERR_INVALID;
	memset(&w, 0, sizeof(w));
	if (n)
		memcpy(w.day[weekday - 1], iv, n * sizeof(*iv));
	w.n[weekday - 1] = n;
	qsort(w.day[weekday - 1], n, sizeof(*iv), cmp_interval);
	return hours_replace(db, doctor_id, weekday, &w);
}

enum tf_err practice_hours_set_week(struct db *db, long long doctor_id,
				    const struct practice_week *w, struct practice_err *e)
{
	struct practice_week s;
	int wd;

	err_clear(e);
	for (wd = 1; wd <= 7; wd++)
		if (practice_hours_check(wd, w->day[wd - 1], w->n[wd - 1], e) < 0)
			return TF_ERR_INVALID;
	s = *w;
	for (wd = 0; wd < 7; wd++)
		qsort(s.day[wd], s.n[wd], sizeof(s.day[wd][0]), cmp_interval);
	return hours_replace(db, doctor_id, 0, &s);
}

/* Parse "H", "HH", "H:MM", "HH:MM" or "HH.MM" at *p into minutes; advances *p. 0 or -1. */
static int parse_clock(const char **p, int *minutes)
{
	const char *s = *p;
	int h = 0, m = 0, digits = 0;

	while (*s >= '0' && *s <= '9' && digits < 2) {
		h = h * 10 + (*s - '0');
		s++;
		digits++;
	}
	if (!digits || (*s >= '0' && *s <= '9'))
		return -1;
	if ((*s == ':' || *s == '.') && s[1] >= '0' && s[1] <= '9') {
		if (!(s[2] >= '0' && s[2] <= '9') || (s[3] >= '0' && s[3] <= '9'))
			return -1;
		m = (s[1] - '0') * 10 + (s[2] - '0');
		s += 3;
	}
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	*minutes = h * 60 + m;
	*p = s;
	return 0;
}

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	return s;
}

int practice_hours_parse(int weekday, const char *text, struct practice_interval *out, size_t max,
			 size_t *n, struct practice_err *e)
{
	const char *p = text ? text : "";
	const char *day = practice_weekday_name(weekday);
	struct practice_interval tmp[PRACTICE_HOURS_PER_DAY];
	char low[16];
	size_t k = 0, i;

	*n = 0;
	err_clear(e);
	if (weekday < 1 || weekday > 7) {
		err_field(e, "weekday", "Unbekannter Wochentag.");
		return -1;
	}
	if (strlen(p) > 256) {
		err_field(e, "hours", "%s: Die Eingabe ist zu lang.", day);
		return -1;
	}
	p = skip_blanks(p);
	/* "geschlossen" (any case) or "-" mean closed, like an empty field. */
	if (str_trim_copy(p, low, sizeof(low)) != (size_t)-1) {
		for (i = 0; low[i]; i++)
			if (low[i] >= 'A' && low[i] <= 'Z')
				low[i] = (char)(low[i] - 'A' + 'a');
		if (strcmp(low, "geschlossen") == 0 || strcmp(low, "-") == 0 || !low[0])
			return 0;
	}
	while (*p) {
		int a, b;

		if (parse_clock(&p, &a) < 0)
			goto bad;
		p = skip_blanks(p);
		if (*p == '-')
			p++;
		else if (strncmp(p, "\xe2\x80\x93", 3) == 0)   /* en dash */
			p += 3;
		else
			goto bad;
		p = skip_blanks(p);
		if (parse_clock(&p, &b) < 0)
			goto bad;
		if (k >= PRACTICE_HOURS_PER_DAY || k >= max) {
			err_field(e, "hours", "%s: höchstens %d Zeitspannen pro Tag.", day,
				  PRACTICE_HOURS_PER_DAY);
			return -1;
		}
		tmp[k].start = a;
		tmp[k].end = b;
		k++;
		p = skip_blanks(p);
		if (*p == ',' || *p == ';')
			p = skip_blanks(p + 1);
	}
	if (practice_hours_check(weekday, tmp, k, e) < 0)
		return -1;
	qsort(tmp, k, sizeof(tmp[0]), cmp_interval);
	memcpy(out, tmp, k * sizeof(tmp[0]));
	*n = k;
	return 0;
bad:
	err_field(e, "hours", "%s: Bitte Zeiten wie „08:00-12:00, 14:00-18:00“ angeben.", day);
	return -1;
}

int practice_hours_format(const struct practice_interval *iv, size_t n, struct buf *b)
{
	char x[6], y[6];
	size_t i;

	for (i = 0; i < n; i++) {
		hhmm(iv[i].start, x);
		hhmm(iv[i].end, y);
		if (buf_printf(b, "%s%s\xe2\x80\x93%s", i ? ", " : "", x, y) < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ closures */

long practice_closures_upcoming(struct db *db, long long doctor_id, const struct civil *today,
				size_t max, struct practice_closure **out)
{
	struct practice_closure *list = NULL;
	struct db_rows r;
	char date[11];
	size_t i, n = 0;

	*out = NULL;
	if (max == 0)
		return 0;
	if (max > 10000)
		max = 10000;
	civil_format_date(today, date);
	if (db_query(db, STMT_PRACTICE_CLOSURES_UPCOMING,
		     DB_ARGS(DBP_INT(doctor_id), DBP_TEXT(date), DBP_INT(max)), &r) != TF_OK)
		return -1;
	if (r.nrows) {
		list = calloc(r.nrows, sizeof(*list));
		if (!list) {
			db_rows_free(&r);
			return -1;
		}
	}
	for (i = 0; i < r.nrows; i++) {
		struct practice_closure *c = &list[n];
		const char *s = db_cell(&r, i, 1), *t = db_cell(&r, i, 2), *why = db_cell(&r, i, 3);

		if (!s || !t || civil_parse_date(s, &c->start) < 0 || civil_parse_date(t, &c->end) < 0)
			continue;
		c->id = db_cell_int(&r, i, 0, 0);
		str_copy(c->reason, why ? why : "", sizeof(c->reason));
		n++;
	}
	db_rows_free(&r);
	if (!n) {
		free(list);
		list = NULL;
	}
	*out = list;
	return (long)n;
}

enum tf_err practice_closure_add(struct db *db, long long doctor_id, const struct civil *start,
				 const struct civil *end, const char *reason, long long *id,
				 struct practice_err *e)
{
	char why[PRACTICE_REASON_MAX + 1], a[11], b[11];
	unsigned long long new_id = 0;
	enum tf_err rc = TF_ERR_DB;
	long days;
	int found, limit_day;

	err_clear(e);
	*id = 0;
	if (!start || !civil_date_valid(start->year, start->month, start->day)) {
		err_field(e, "start_date", "Bitte ein gültiges Anfangsdatum angeben.");
		return TF_ERR_INVALID;
	}
	if (!end || !civil_date_valid(end->year, end->month, end->day)) {
		err_field(e, "end_date", "Bitte ein gültiges Enddatum angeben.");
		return TF_ERR_INVALID;
	}
	days = civil_to_days(end->year, end->month, end->day) -
	       civil_to_days(start->year, start->month, start->day);
	if (days < 0) {
		err_field(e, "end_date", "Das Enddatum liegt vor dem Anfangsdatum.");
		return TF_ERR_INVALID;
	}
	/* The same date PRACTICE_CLOSURE_YEARS on (29 February: the 28th) is already too far. */
	limit_day = start->day;
	if (!civil_date_valid(start->year + PRACTICE_CLOSURE_YEARS, start->month, limit_day))
		limit_day = civil_days_in_month(start->year + PRACTICE_CLOSURE_YEARS, start->month);
	if (civil_to_days(end->year, end->month, end->day) >=
	    civil_to_days(start->year + PRACTICE_CLOSURE_YEARS, start->month, limit_day)) {
		err_field(e, "end_date", "Eine Schließzeit darf höchstens zwei Jahre dauern.");
		return TF_ERR_INVALID;
	}
	if (str_trim_copy(reason, why, sizeof(why)) == (size_t)-1) {
		err_field(e, "reason", "Der Grund ist zu lang (höchstens %d Zeichen).",
			  PRACTICE_REASON_MAX);
		return TF_ERR_INVALID;
	}
	if (!practice_text_valid(why)) {
		err_field(e, "reason", "Der Grund enthält ungültige Zeichen.");
		return TF_ERR_INVALID;
	}
	civil_format_date(start, a);
	civil_format_date(end, b);
	/* Locked like a booking, so that no booking slips into the new closure meanwhile. */
	if (db_begin(db) != TF_OK)
		return TF_ERR_DB;
	found = lock_doctor(db, doctor_id);
	if (found <= 0) {
		rc = found == 0 ? TF_ERR_NOTFOUND : TF_ERR_DB;
		goto fail;
	}
	if (db_exec(db, STMT_PRACTICE_CLOSURE_INSERT,
		    DB_ARGS(DBP_INT(doctor_id), DBP_TEXT(a), DBP_TEXT(b), DBP_TEXT(why)), NULL,
		    &new_id) != TF_OK)
		goto fail;
	if (db_commit(db) != TF_OK)
		return TF_ERR_DB;
	*id = (long long)new_id;
	return TF_OK;
fail:
	db_rollback(db);
	return rc;
}

enum tf_err practice_closure_delete(struct db *db, long long doctor_id, long long closure_id)
{
	unsigned long long affected = 0;

	if (closure_id <= 0)
		return TF_ERR_NOTFOUND;
	if (db_exec(db, STMT_PRACTICE_CLOSURE_DELETE, DB_ARGS(DBP_INT(closure_id), DBP_INT(doctor_id)),
		    &affected, NULL) != TF_OK)
		return TF_ERR_DB;
	return affected ? TF_OK : TF_ERR_NOTFOUND;
}

/* ------------------------------------------------------------------ services */

/* Columns: id, name, duration_minutes, buffer_before_minutes, buffer_after_minutes, is_video, active. */
static void service_from_row(const struct db_rows *r, size_t i, struct practice_service *s)
{
	const char *name = db_cell(r, i, 1);

	memset(s, 0, sizeof(*s));
	s->id = db_cell_int(r, i, 0, 0);
	str_copy(s->name, name ? name : "", sizeof(s->name));
	s->duration = (int)db_cell_int(r, i, 2, 0);
	s->buffer_before = (int)db_cell_int(r, i, 3, 0);
	s->buffer_after = (int)db_cell_int(r, i, 4, 0);
	s->is_video = db_cell_int(r, i, 5, 0) != 0;
	s->active = db_cell_int(r, i, 6, 0) != 0;
}

long practice_services_list(struct db *db, long long doctor_id, int include_inactive,
			    struct practice_service **out)
{
	struct practice_service *list = NULL;
	struct db_rows r;
	size_t i, n = 0;

	*out = NULL;
	if (db_query(db, STMT_SERVICES_BY_DOCTOR, DB_ARGS(DBP_INT(doctor_id)), &r) != TF_OK)
		return -1;
	if (r.nrows) {
		list = calloc(r.nrows, sizeof(*list));
		if (!list) {
			db_rows_free(&r);
			return -1;
		}
	}
	for (i = 0; i < r.nrows; i++) {
		service_from_row(&r, i, &list[n]);
		if (include_inactive || list[n].active)
			n++;
	}
	db_rows_free(&r);
	if (!n) {
		free(list);
		list = NULL;
	}
	*out = list;
	return (long)n;
}

static int service_lookup(struct db *db, enum db_stmt st, const struct db_param *p, size_t np,
			  struct practice_service *s)
{
	struct db_rows r;
	int found;

	found = db_query_one(db, st, p, np, &r);
	if (found <= 0)
		return found;
	service_from_row(&r, 0, s);
	db_rows_free(&r);
	return 1;
}

int practice_service_by_name(struct db *db, long long doctor_id, const char *name,
			     struct practice_service *s)
{
	char nm[PRACTICE_SERVICE_NAME_MAX + 1];

	if (str_trim_copy(name, nm, sizeof(nm)) == (size_t)-1 || !nm[0])
		return 0;
	/* The column's collation (utf8mb4_unicode_ci) compares case-insensitively. */
	return service_lookup(db, STMT_PRACTICE_SERVICE_BY_NAME,
			      DB_ARGS(DBP_INT(doctor_id), DBP_TEXT(nm)), s);
}

int practice_service_by_id(struct db *db, long long doctor_id, long long id,
			   struct practice_service *s)
{
	if (id <= 0)
		return 0;
	return service_lookup(db, STMT_PRACTICE_SERVICE_BY_ID, DB_ARGS(DBP_INT(doctor_id), DBP_INT(id)),
			      s);
}

int practice_service_check(const struct practice_service *s, struct practice_err *e)
{
	char nm[PRACTICE_SERVICE_NAME_MAX + 1];
	size_t len;

	len = str_trim_copy(s->name, nm, sizeof(nm));
	if (len == 0 || len == (size_t)-1) {
		err_field(e, "name", "Der Name der Leistung muss 1 bis %d Zeichen lang sein.",
			  PRACTICE_SERVICE_NAME_MAX);
		return -1;
	}
	if (!practice_text_valid(nm)) {
		err_field(e, "name", "Der Name der Leistung enthält ungültige Zeichen.");
		return -1;
	}
	if (s->duration < PRACTICE_DURATION_MIN || s->duration > PRACTICE_DURATION_MAX) {
		err_field(e, "duration_minutes", "Die Dauer muss zwischen %d und %d Minuten liegen.",
			  PRACTICE_DURATION_MIN, PRACTICE_DURATION_MAX);
		return -1;
	}
	if (s->buffer_before < 0 || s->buffer_before > PRACTICE_BUFFER_MAX) {
		err_field(e, "buffer_before_minutes",
			  "Die Pufferzeit davor muss zwischen 0 und %d Minuten liegen.",
			  PRACTICE_BUFFER_MAX);
		return -1;
	}
	if (s->buffer_after < 0 || s->buffer_after > PRACTICE_BUFFER_MAX) {
		err_field(e, "buffer_after_minutes",
			  "Die Pufferzeit danach muss zwischen 0 und %d Minuten liegen.",
			  PRACTICE_BUFFER_MAX);
		return -1;
	}
	return 0;
}

static void err_duplicate(struct practice_err *e)
{
	err_field(e, "name", "Eine Leistung mit diesem Namen gibt es bereits (auch deaktivierte "
		  "Leistungen zählen).");
}

static int is_duplicate(struct db *db)
{
	return db_errno(db) == ER_DUP_ENTRY || db_errno(db) == ER_DUP_ENTRY_WITH_KEY_NAME;
}

enum tf_err practice_service_add(struct db *db, long long doctor_id,
				 const struct practice_service *s, long long *id,
				 struct practice_err *e)
{
	char nm[PRACTICE_SERVICE_NAME_MAX + 1];
	unsigned long long new_id = 0;
	struct practice_service other;
	int found;

	err_clear(e);
	*id = 0;
	if (practice_service_check(s, e) < 0)
		return TF_ERR_INVALID;
	str_trim_copy(s->name, nm, sizeof(nm));
	found = practice_service_by_name(db, doctor_id, nm, &other);
	if (found < 0)
		return TF_ERR_DB;
	if (found > 0) {
		err_duplicate(e);
		return TF_ERR_INVALID;
	}
	if (db_exec(db, STMT_PRACTICE_SERVICE_INSERT,
		    DB_ARGS(DBP_INT(doctor_id), DBP_TEXT(nm), DBP_INT(s->duration),
			    DBP_INT(s->buffer_before), DBP_INT(s->buffer_after), DBP_INT(!!s->is_video)),
		    NULL, &new_id) != TF_OK) {
		/* A twin request in between hits the unique index; an unknown doctor the foreign key. */
		if (is_duplicate(db)) {
			err_duplicate(e);
			return TF_ERR_INVALID;
		}
		if (db_errno(db) == ER_NO_REFERENCED_ROW_2 || db_errno(db) == ER_NO_REFERENCED_ROW)
			return TF_ERR_NOTFOUND;
		return TF_ERR_DB;
	}
	*id = (long long)new_id;
	return TF_OK;
}

enum tf_err practice_service_update(struct db *db, long long doctor_id,
				    const struct practice_service *s, struct practice_err *e)
{
	char nm[PRACTICE_SERVICE_NAME_MAX + 1];
	struct practice_service other;
	unsigned long long affected = 0;
	int found;

	err_clear(e);
	if (practice_service_check(s, e) < 0)
		return TF_ERR_INVALID;
	str_trim_copy(s->name, nm, sizeof(nm));
	found = practice_service_by_id(db, doctor_id, s->id, &other);
	if (found <= 0)
		return found < 0 ? TF_ERR_DB : TF_ERR_NOTFOUND;
	found = practice_service_by_name(db, doctor_id, nm, &other);
	if (found < 0)
		return TF_ERR_DB;
	if (found > 0 && other.id != s->id) {
		err_duplicate(e);
		return TF_ERR_INVALID;
	}
	if (db_exec(db, STMT_PRACTICE_SERVICE_UPDATE,
		    DB_ARGS(DBP_TEXT(nm), DBP_INT(s->duration), DBP_INT(s->buffer_before),
			    DBP_INT(s->buffer_after), DBP_INT(!!s->is_video), DBP_INT(s->id),
			    DBP_INT(doctor_id)), &affected, NULL) != TF_OK) {
		if (is_duplicate(db)) {
			err_duplicate(e);
			return TF_ERR_INVALID;
		}
		return TF_ERR_DB;
	}
	return affected ? TF_OK : TF_ERR_NOTFOUND;
}

enum tf_err practice_service_set_active(struct db *db, long long doctor_id, long long service_id,
					int active)
{
	unsigned long long affected = 0;

	if (service_id <= 0)
		return TF_ERR_NOTFOUND;
	if (db_exec(db, STMT_PRACTICE_SERVICE_SET_ACTIVE,
		    DB_ARGS(DBP_INT(!!active), DBP_INT(service_id), DBP_INT(doctor_id)), &affected,
		    NULL) != TF_OK)
		return TF_ERR_DB;
	return affected ? TF_OK : TF_ERR_NOTFOUND;
}

int practice_service_pick(struct db *db, long long doctor_id, const char *name,
			  struct practice_service *out)
{
	struct practice_service *list = NULL;
	long n, i;
	int r = 0;

	if (name) {
		r = practice_service_by_name(db, doctor_id, name, out);
		return r == 1 && !out->active ? 0 : r;
	}
	n = practice_services_list(db, doctor_id, 0, &list);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (list[i].active) {
			*out = list[i];
			r = 1;
			break;
		}
	}
	free(list);
	return r;
}
