/* doctor.h: doctors: lookup, creation with the default opening hours and service. */
#ifndef TF_DOCTOR_H
#define TF_DOCTOR_H

#include "db.h"

#define DOCTOR_EMAIL_MAX 254
#define DOCTOR_NAME_MAX  200
#define DOCTOR_SLUG_MAX  64
#define DOCTOR_PASSWORD_MIN 10
#define DOCTOR_PASSWORD_MAX 1024

struct doctor {
	long long id;
	char email[DOCTOR_EMAIL_MAX + 1];
	char name[DOCTOR_NAME_MAX + 1];
	char slug[DOCTOR_SLUG_MAX + 1];
	char timezone[64];
	char password_hash[160];
	char practice_name[DOCTOR_NAME_MAX + 1];
	char practice_address[501];
	char bundesland[3];        /* two-letter code, see holidays.h */
};

/* Lookups: -1 error, 0 not found, 1 found (d filled). E-mail is compared case-insensitively. */
int doctor_by_email(struct db *db, const char *email, struct doctor *d);
int doctor_by_id(struct db *db, long long id, struct doctor *d);
int doctor_by_slug(struct db *db, const char *slug, struct doctor *d);

/* Syntax checks used at every boundary: 1 valid, 0 not. */
int doctor_email_valid(const char *email);   /* one '@', no spaces/controls, a dot in the domain, <= 254 */
int doctor_slug_valid(const char *slug);     /* [a-z0-9-], 2..64, no leading/trailing '-' */
/* Derive a slug from a name ("Dr. Anna Müller" -> "dr-anna-mueller"), out[DOCTOR_SLUG_MAX+1]. */
void doctor_slug_from_name(const char *name, char *out, size_t outlen);

/* Create a doctor in one transaction: the row (password hashed with password_hash), opening hours
 * Mon–Fri 08:00–12:00 and 14:00–18:00 in timezone (NULL = TF_TIMEZONE default Europe/Berlin), and the
 * service "Sprechstunde" of 30 minutes. Returns TF_OK (*id set), TF_ERR_INVALID (bad e-mail, slug,
 * name or a password shorter than DOCTOR_PASSWORD_MIN; err says which, in English), TF_ERR_AUTH is
 * not used; a duplicate e-mail or slug gives TF_ERR_INVALID with "exists" in err, TF_ERR_DB otherwise. */
enum tf_err doctor_create(struct db *db, const char *email, const char *name, const char *slug,
			  const char *password, const char *timezone, long long *id,
			  char *err, size_t errlen);
/* Replace the password hash. */
enum tf_err doctor_set_password(struct db *db, long long id, const char *password);

#endif
