/* integration.h: a doctor's calendar connections as data: listing, provider configuration, German labels. */
#ifndef TF_INTEGRATION_H
#define TF_INTEGRATION_H

#include <stddef.h>

#include <jansson.h>

#include "conf.h"
#include "db.h"
#include "util.h"

enum integration_provider {
	INTEGRATION_GOOGLE,
	INTEGRATION_OUTLOOK,
	INTEGRATION_APPLE,
	INTEGRATION_PROVIDER_MAX
};

/* "google", "outlook", "apple" (the calendar_integrations.provider values). */
const char *integration_provider_key(enum integration_provider p);
/* The provider for a key, or INTEGRATION_PROVIDER_MAX when unknown. */
enum integration_provider integration_provider_parse(const char *key);
/* A person's name for it: "Google Calendar", "Microsoft Outlook", "Apple iCloud". */
const char *integration_provider_title(enum integration_provider p);

/* Settings the provider needs that are unset or empty in c: fills names[] (static strings, at most
 * max of them) and returns how many it wrote (0 = configured). Apple (CalDAV) needs none. */
size_t integration_provider_missing(struct conf *c, enum integration_provider p, const char **names,
				    size_t max);
/* {"configured": bool, "missing": [...]} for one provider; caller decrefs. */
json_t *integration_provider_status_json(struct conf *c, enum integration_provider p);
/* {"google": {...}, "outlook": {...}, "apple": {...}}; caller decrefs. */
json_t *integration_providers_json(struct conf *c);

/* German label of a sync_status: active → "aktiv", error → "Fehler", reauth_required →
 * "erneut verbinden", disabled → "deaktiviert"; anything else → "unbekannt". */
const char *integration_status_label(const char *status);

/* The doctor's connections as a JSON array of objects with the contract's fields: id (integer),
 * provider, account_email, sync_enabled (bool), sync_status, last_sync_at (ISO 8601 UTC
 * "2026-11-21T10:00:00Z" or null), last_error (string or null), created_at (ISO 8601 UTC).
 * When with_display is nonzero each object also carries the page's fields: provider_title,
 * status_label, status_class (the sync_status), last_sync_display (local time "21.11.2026, 11:00"
 * in the process time zone, or null). Returns the array (caller decrefs) or NULL on a database
 * error. */
json_t *integration_list_json(struct db *db, long long doctor_id, int with_display);

/* Format a Unix time as "DD.MM.YYYY, HH:MM" in the process's local time zone (TZ). Returns 0, or
 * -1 when it does not fit or cannot be converted. */
int integration_time_display(long long unix_time, char *out, size_t outlen);

#endif
