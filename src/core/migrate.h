/* migrate.h: numbered SQL migrations (sql/NNN_name.sql) recorded in schema_migrations. */
#ifndef TF_MIGRATE_H
#define TF_MIGRATE_H

#include <stddef.h>

#include "db.h"

/* Apply, in order, every sql/NNN_name.sql in dir not yet in schema_migrations; each file and its
 * record go in together. Idempotent. *applied = files applied now. Returns TF_OK, TF_ERR_IO
 * (dir unreadable) or TF_ERR_DB (err names the file). */
enum tf_err migrate_run(struct db *db, const char *dir, int *applied, char *err, size_t errlen);
/* Count files in dir and how many of them are applied. */
enum tf_err migrate_status(struct db *db, const char *dir, int *total, int *applied,
			   char *err, size_t errlen);

#endif
