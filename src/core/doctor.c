/* doctor.c: doctors: lookups, syntax checks, slugs, creation with default opening hours and service. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <mysqld_error.h>

#include "crypto.h"
#include "doctor.h"
#include "log.h"

#define DOCTOR_TZ_DEFAULT "Europe/Berlin"
#define DOCTOR_TZ_MAX 63
#define DOCTOR_SERVICE_DEFAULT "Sprechstunde"
#define DOCTOR_SERVICE_MINUTES 30
#define ZONEINFO_DIR "/usr/share/zoneinfo"

/* Default week: Monday (1) to Friday (5), 08:00–12:00 and 14:00–18:00, minutes after midnight. */
static const struct {
	int start, end;
} default_hours[] = {
	{ 8 * 60, 12 * 60 },
	{ 14 * 60, 18 * 60 },
};

/* ------------------------------------------------------------------ lookups */

/* Columns: id, email, name, slug, timezone, password_hash, practice_name, practice_address,
 * bundesland (see db_stmts.def). */
static int doctor_lookup(struct db *db, enum db_stmt s, const struct db_param *p, size_t np,
			 struct doctor *d)
{
	struct db_rows r;
	int found;

	found = db_query_one(db, s, p, np, &r);
	if (found <= 0)
		return found;
	memset(d, 0, sizeof(*d));
	d->id = db_cell_int(&r, 0, 0, 0);
	str_copy(d->email, db_cell(&r, 0, 1) ? db_cell(&r, 0, 1) : "", sizeof(d->email));
	str_copy(d->name, db_cell(&r, 0, 2) ? db_cell(&r, 0, 2) : "", sizeof(d->name));
	str_copy(d->slug, db_cell(&r, 0, 3) ? db_cell(&r, 0, 3) : "", sizeof(d->slug));
	str_copy(d->timezone, db_cell(&r, 0, 4) ? db_cell(&r, 0, 4) : DOCTOR_TZ_DEFAULT,
		 sizeof(d->timezone));
	str_copy(d->password_hash, db_cell(&r, 0, 5) ? db_cell(&r, 0, 5) : "",
		 sizeof(d->password_hash));
	str_copy(d->practice_name, db_cell(&r, 0, 6) ? db_cell(&r, 0, 6) : "",
		 sizeof(d->practice_name));
	str_copy(d->practice_address, db_cell(&r, 0, 7) ? db_cell(&r, 0, 7) : "",
		 sizeof(d->practice_address));
	str_copy(d->bundesland, db_cell(&r, 0, 8) ? db_cell(&r, 0, 8) : "BE", sizeof(d->bundesland));
	db_rows_free(&r);
	return 1;
}

int doctor_by_email(struct db *db, const char *email, struct doctor *d)
{
	/* The column's collation (utf8mb4_unicode_ci) compares case-insensitively. */
	if (!email || strlen(email) > DOCTOR_EMAIL_MAX)
		return 0;
	return doctor_lookup(db, STMT_DOCTOR_BY_EMAIL, DB_ARGS(DBP_TEXT(email)), d);
}

int doctor_by_id(struct db *db, long long id, struct doctor *d)
{
	if (id <= 0)
		return 0;
	return doctor_lookup(db, STMT_DOCTOR_BY_ID, DB_ARGS(DBP_INT(id)), d);
}

int doctor_by_slug(struct db *db, const char *slug, struct doctor *d)
{
	if (!slug || !doctor_slug_valid(slug))
		return 0;
	return doctor_lookup(db, STMT_DOCTOR_BY_SLUG, DB_ARGS(DBP_TEXT(slug)), d);
}

/* ------------------------------------------------------------------ syntax */

int doctor_email_valid(const char *email)
{
	const char *at, *dom, *p;
	size_t len;

	if (!email)
		return 0;
	len = strlen(email);
	if (len < 3 || len > DOCTOR_EMAIL_MAX)
		return 0;
	for (p = email; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' ||
		    c == ',' || c == ';' || c == ':' || c == '\\' || c == '"' || c == '[' || c == ']')
			return 0;
	}
	at = strchr(email, '@');
	if (!at || at == email || strchr(at + 1, '@') || at - email > 64)
		return 0;
	dom = at + 1;
	/* The domain: a dot inside, no empty labels. */
	if (!*dom || *dom == '.' || dom[strlen(dom) - 1] == '.' || !strchr(dom, '.') ||
	    strstr(dom, ".."))
		return 0;
	return 1;
}

int doctor_slug_valid(const char *slug)
{
	size_t len;

	if (!slug)
		return 0;
	len = strlen(slug);
	if (len < 2 || len > DOCTOR_SLUG_MAX)
		return 0;
	if (!str_only_chars(slug, DOCTOR_SLUG_MAX, "abcdefghijklmnopqrstuvwxyz0123456789-"))
		return 0;
	return slug[0] != '-' && slug[len - 1] != '-';
}

/* Latin letters with diacritics (UTF-8) and their ASCII spelling in a slug; German first. */
static const struct {
	const char *utf8;
	const char *ascii;
} translit[] = {
	{ "\xc3\xa4", "ae" }, { "\xc3\xb6", "oe" }, { "\xc3\xbc", "ue" }, { "\xc3\x9f", "ss" },
	{ "\xc3\x84", "ae" }, { "\xc3\x96", "oe" }, { "\xc3\x9c", "ue" }, { "\xe1\xba\x9e", "ss" },
	{ "\xc3\xa0", "a" }, { "\xc3\xa1", "a" }, { "\xc3\xa2", "a" }, { "\xc3\xa3", "a" },
	{ "\xc3\xa5", "a" }, { "\xc3\xa6", "ae" }, { "\xc3\xa7", "c" }, { "\xc3\xa8", "e" },
	{ "\xc3\xa9", "e" }, { "\xc3\xaa", "e" }, { "\xc3\xab", "e" }, { "\xc3\xac", "i" },
	{ "\xc3\xad", "i" }, { "\xc3\xae", "i" }, { "\xc3\xaf", "i" }, { "\xc3\xb0", "d" },
	{ "\xc3\xb1", "n" }, { "\xc3\xb2", "o" }, { "\xc3\xb3", "o" }, { "\xc3\xb4", "o" },
	{ "\xc3\xb5", "o" }, { "\xc3\xb8", "o" }, { "\xc3\xb9", "u" }, { "\xc3\xba", "u" },
	{ "\xc3\xbb", "u" }, { "\xc3\xbd", "y" }, { "\xc3\xbe", "th" }, { "\xc3\xbf", "y" },
	{ "\xc3\x80", "a" }, { "\xc3\x81", "a" }, { "\xc3\x82", "a" }, { "\xc3\x83", "a" },
	{ "\xc3\x85", "a" }, { "\xc3\x86", "ae" }, { "\xc3\x87", "c" }, { "\xc3\x88", "e" },
	{ "\xc3\x89", "e" }, { "\xc3\x8a", "e" }, { "\xc3\x8b", "e" }, { "\xc3\x8c", "i" },
	{ "\xc3\x8d", "i" }, { "\xc3\x8e", "i" }, { "\xc3\x8f", "i" }, { "\xc3\x90", "d" },
	{ "\xc3\x91", "n" }, { "\xc3\x92", "o" }, { "\xc3\x93", "o" }, { "\xc3\x94", "o" },
	{ "\xc3\x95", "o" }, { "\xc3\x98", "o" }, { "\xc3\x99", "u" }, { "\xc3\x9a", "u" },
	{ "\xc3\x9b", "u" }, { "\xc3\x9d", "y" }, { "\xc3\x9e", "th" },
	{ "\xc5\x92", "oe" }, { "\xc5\x93", "oe" }, { "\xc5\xa0", "s" }, { "\xc5\xa1", "s" },
	{ "\xc5\xbd", "z" }, { "\xc5\xbe", "z" }, { "\xc4\x8c", "c" }, { "\xc4\x8d", "c" },
	{ "\xc5\x81", "l" }, { "\xc5\x82", "l" }, { "\xc4\x87", "c" }, { "\xc5\x84", "n" },
	{ "\xc5\x9b", "s" }, { "\xc5\xba", "z" }, { "\xc5\xbc", "z" }, { "\xc4\x99", "e" },
	{ "\xc4\x85", "a" }, { "\xc5\x99", "r" }, { "\xc4\x9b", "e" }, { "\xc5\xaf", "u" },
	{ "\xc5\xbb", "z" }, { "\xc5\xb9", "z" }, { "\xc5\x9a", "s" }, { "\xc5\x83", "n" },
	{ "\xc4\x86", "c" }, { "\xc4\x98", "e" }, { "\xc4\x84", "a" }, { "\xc5\x98", "r" },
	{ "\xc4\x9a", "e" }, { "\xc5\xae", "u" },
};

/* Length of the UTF-8 sequence starting with byte c (1 for ASCII and for stray bytes). */
static size_t utf8_seq_len(unsigned char c)
{
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	if (c >= 0xe0)
		return 3;
	if (c >= 0xc2 && c < 0xe0)
		return 2;
	return 1;
}

void doctor_slug_from_name(const char *name, char *out, size_t outlen)
{
	size_t n = 0, max, i;
	int dash = 0;   /* a separator is pending */
	const char *p = name ? name : "";

	if (!outlen)
		return;
	max = outlen - 1 < DOCTOR_SLUG_MAX ? outlen - 1 : DOCTOR_SLUG_MAX;
	while (*p && n < max) {
		unsigned char c = (unsigned char)*p;
		const char *rep = NULL;
		size_t adv = 1;
		char one[2] = { 0, 0 };

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			one[0] = (char)c;
			rep = one;
		} else if (c >= 'A' && c <= 'Z') {
			one[0] = (char)(c - 'A' + 'a');
			rep = one;
		} else if (c >= 0x80) {
			adv = utf8_seq_len(c);
			for (i = 0; i < TF_ARRAY_LEN(translit); i++) {
				size_t l = strlen(translit[i].utf8);
				if (strncmp(p, translit[i].utf8, l) == 0) {
					rep = translit[i].ascii;
					adv = l;
					break;
				}
			}
			/* Never step over the terminating NUL of a truncated sequence. */
			for (i = 1; i < adv; i++)
				if (!p[i]) {
					adv = i;
					break;
				}
		}
		p += adv;
		if (!rep) {
			dash = n > 0;
			continue;
		}
		if (dash) {
			if (n + 1 + strlen(rep) > max)
				break;
			out[n++] = '-';
			dash = 0;
		}
		if (n + strlen(rep) > max)
			break;
		for (i = 0; rep[i]; i++)
			out[n++] = rep[i];
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
}

/* 1 for a time zone name like "Europe/Berlin" that the system knows. */
static int timezone_ok(const char *tz)
{
	char path[256];
	struct stat st;

	if (!str_only_chars(tz, DOCTOR_TZ_MAX,
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-/"))
		return 0;
	if (tz[0] == '/' || tz[0] == '-' || strstr(tz, "..") || strstr(tz, "//"))
		return 0;
	/* Without a zoneinfo database (minimal containers) the syntax check has to do. */
	if (stat(ZONEINFO_DIR, &st) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/%s", ZONEINFO_DIR, tz);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static enum tf_err check_password(const char *password, char *err, size_t errlen)
{
	if (!password || utf8_chars(password) < DOCTOR_PASSWORD_MIN) {
		snprintf(err, errlen, "password too short: at least %d characters",
			 DOCTOR_PASSWORD_MIN);
		return TF_ERR_INVALID;
	}
	if (strlen(password) > DOCTOR_PASSWORD_MAX) {
		snprintf(err, errlen, "password too long: at most %d bytes", DOCTOR_PASSWORD_MAX);
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

/* ------------------------------------------------------------------ creation */

/* Pick a free slug inside the open transaction: base, base-2, ..., base-99. */
static enum tf_err free_slug(struct db *db, const char *base, char *out, size_t outlen,
			     char *err, size_t errlen)
{
	struct doctor d;
	char cand[DOCTOR_SLUG_MAX + 1];
	int i, found;

	for (i = 1; i < 100; i++) {
		if (i == 1) {
			str_copy(cand, base, sizeof(cand));
		} else {
			char sfx[8];
			size_t bl = strlen(base), sl;

			sl = (size_t)snprintf(sfx, sizeof(sfx), "-%d", i);
			if (bl + sl > DOCTOR_SLUG_MAX)
				bl = DOCTOR_SLUG_MAX - sl;
			while (bl > 0 && base[bl - 1] == '-')
				bl--;
			snprintf(cand, sizeof(cand), "%.*s%s", (int)bl, base, sfx);
		}
		found = doctor_by_slug(db, cand, &d);
		if (found < 0) {
			snprintf(err, errlen, "database error while checking the slug");
			return TF_ERR_DB;
		}
		if (found == 0) {
			str_copy(out, cand, outlen);
			return TF_OK;
		}
	}
	snprintf(err, errlen, "slug %s and its variants are taken; give one with --slug", base);
	return TF_ERR_INVALID;
}

enum tf_err doctor_create(struct db *db, const char *email, const char *name, const char *slug,
			  const char *password, const char *tz_name, long long *id,
			  char *err, size_t errlen)
{
	char em[DOCTOR_EMAIL_MAX + 1], nm[DOCTOR_NAME_MAX + 1], sl[DOCTOR_SLUG_MAX + 1];
	char base[DOCTOR_SLUG_MAX + 1], hash[PASSWORD_HASH_MAX];
	const char *tz = tz_name && *tz_name ? tz_name : DOCTOR_TZ_DEFAULT;
	unsigned long long new_id = 0;
	struct doctor d;
	enum tf_err rc;
	int in_tx = 0, found, wd;
	size_t i, len;

	*id = 0;
	hash[0] = '\0';
	/* E-mail: stored in lower case (ASCII), compared case-insensitively anyway. */
	if (!email || !doctor_email_valid(email)) {
		snprintf(err, errlen, "invalid e-mail address");
		return TF_ERR_INVALID;
	}
	len = str_copy(em, email, sizeof(em));
	for (i = 0; i < len; i++)
		if (em[i] >= 'A' && em[i] <= 'Z')
			em[i] = (char)(em[i] - 'A' + 'a');
	rc = check_password(password, err, errlen);
	if (rc != TF_OK)
		return rc;
	/* Name: trimmed, 1..DOCTOR_NAME_MAX bytes of printable UTF-8. */
	if (!name) {
		snprintf(err, errlen, "missing name");
		return TF_ERR_INVALID;
	}
	while (*name == ' ' || *name == '\t')
		name++;
	len = strlen(name);
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	if (len == 0 || len > DOCTOR_NAME_MAX) {
		snprintf(err, errlen, "invalid name: 1 to %d bytes", DOCTOR_NAME_MAX);
		return TF_ERR_INVALID;
	}
	memcpy(nm, name, len);
	nm[len] = '\0';
	if (!utf8_text_valid(nm, strlen(nm), 0)) {
		snprintf(err, errlen, "invalid name: not UTF-8 text or contains control characters");
		return TF_ERR_INVALID;
	}
	if (slug) {
		if (!doctor_slug_valid(slug)) {
			snprintf(err, errlen, "invalid slug: 2 to %d of a-z, 0-9 and '-', no '-' at "
				 "either end", DOCTOR_SLUG_MAX);
			return TF_ERR_INVALID;
		}
		str_copy(base, slug, sizeof(base));
	} else {
		doctor_slug_from_name(nm, base, sizeof(base));
		if (!doctor_slug_valid(base)) {
			snprintf(err, errlen, "cannot derive a slug from the name; give one with --slug");
			return TF_ERR_INVALID;
		}
	}
	if (!timezone_ok(tz)) {
		snprintf(err, errlen, "invalid time zone (expected a name like Europe/Berlin)");
		return TF_ERR_INVALID;
	}
	/* Hash before the transaction: it takes a while and needs no locks. */
	rc = password_hash(password, 0, hash, sizeof(hash));
	if (rc != TF_OK) {
		snprintf(err, errlen, "cannot hash the password: %s", tf_strerror(rc));
		goto out;
	}

	rc = TF_ERR_DB;
	if (db_begin(db) != TF_OK) {
		snprintf(err, errlen, "database error: cannot start a transaction");
		goto out;
	}
	in_tx = 1;
	found = doctor_by_email(db, em, &d);
	if (found != 0) {
		if (found > 0) {
			snprintf(err, errlen, "a doctor with e-mail %s already exists", em);
			rc = TF_ERR_INVALID;
		} else {
			snprintf(err, errlen, "database error while checking the e-mail");
		}
		goto out;
	}
	if (slug) {
		found = doctor_by_slug(db, base, &d);
		if (found != 0) {
			if (found > 0) {
				snprintf(err, errlen, "a doctor with slug %s already exists", base);
				rc = TF_ERR_INVALID;
			} else {
				snprintf(err, errlen, "database error while checking the slug");
			}
			goto out;
		}
		str_copy(sl, base, sizeof(sl));
	} else {
		rc = free_slug(db, base, sl, sizeof(sl), err, errlen);
		if (rc != TF_OK)
			goto out;
		rc = TF_ERR_DB;
	}
	if (db_exec(db, STMT_DOCTOR_INSERT,
		    DB_ARGS(DBP_TEXT(em), DBP_TEXT(nm), DBP_TEXT(sl), DBP_TEXT(hash), DBP_TEXT(tz)),
		    NULL, &new_id) != TF_OK) {
		if (db_errno(db) == ER_DUP_ENTRY || db_errno(db) == ER_DUP_ENTRY_WITH_KEY_NAME) {
			snprintf(err, errlen, "a doctor with this e-mail or slug already exists");
			rc = TF_ERR_INVALID;
		} else {
			snprintf(err, errlen, "database error while adding the doctor (%u)",
				 db_errno(db));
		}
		goto out;
	}
	for (wd = 1; wd <= 5; wd++) {
		for (i = 0; i < TF_ARRAY_LEN(default_hours); i++) {
			if (db_exec(db, STMT_OPENING_HOURS_INSERT,
				    DB_ARGS(DBP_INT(new_id), DBP_INT(wd), DBP_INT(default_hours[i].start),
					    DBP_INT(default_hours[i].end)), NULL, NULL) != TF_OK) {
				snprintf(err, errlen, "database error while adding opening hours (%u)",
					 db_errno(db));
				goto out;
			}
		}
	}
	if (db_exec(db, STMT_SERVICE_INSERT,
		    DB_ARGS(DBP_INT(new_id), DBP_TEXT(DOCTOR_SERVICE_DEFAULT),
			    DBP_INT(DOCTOR_SERVICE_MINUTES)), NULL, NULL) != TF_OK) {
		snprintf(err, errlen, "database error while adding the default service (%u)",
			 db_errno(db));
		goto out;
	}
	if (db_commit(db) != TF_OK) {
		in_tx = 0;
		snprintf(err, errlen, "database error: commit failed (%u)", db_errno(db));
		goto out;
	}
	in_tx = 0;
	*id = (long long)new_id;
	log_info("doctor: created id %lld (slug %s)", *id, sl);
	rc = TF_OK;
out:
	if (in_tx)
		db_rollback(db);
	explicit_bzero(hash, sizeof(hash));
	return rc;
}

enum tf_err doctor_set_password(struct db *db, long long id, const char *password)
{
	char hash[PASSWORD_HASH_MAX], err[128];
	unsigned long long affected = 0;
	enum tf_err rc;

	rc = check_password(password, err, sizeof(err));
	if (rc != TF_OK)
		return rc;
	rc = password_hash(password, 0, hash, sizeof(hash));
	if (rc != TF_OK)
		goto out;
	rc = db_exec(db, STMT_DOCTOR_SET_PASSWORD, DB_ARGS(DBP_TEXT(hash), DBP_INT(id)), &affected,
		     NULL);
	if (rc == TF_OK && affected == 0)
		rc = TF_ERR_NOTFOUND;
out:
	explicit_bzero(hash, sizeof(hash));
	return rc;
}
