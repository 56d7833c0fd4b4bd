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


/* ---------------------------------------------------------------- connections (sync area)
 * Functions the web pages and tf-sync call. Every doctor-facing one takes doctor_id and treats
 * another doctor's connection exactly like a missing one (return 0 / TF_ERR_NOTFOUND), so the
 * routes answer 404 for both. Credentials are never logged and never leave these functions
 * except decrypted into struct integration_conn for a sync run. */

#include <time.h>

#include "provider.h"

#define INTEGRATION_MAX_CALENDARS 200     /* more calendars in one account are not stored */

/* Create a connection in one transaction: creds (JSON, e.g. {"username","password"}) are stored
 * Fernet-encrypted with the first key of CALENDAR_ENCRYPTION_KEY; state ({"caldav_url",
 * "principal_url", "home_url"}, each optional) goes to the columns of the same names; the event
 * calendars of cals (events != 0) become integration_calendars with the defaults
 * blocks_availability = 1 for each, receives_appointments = 1 on the first writable one.
 * Connecting an account the doctor has already connected (same provider and account_email) is a
 * reconnect: that row gets the new credentials and state, status active, no last_error, and its
 * calendars are merged (known ones keep the doctor's choices, new ones get the defaults, vanished
 * ones are removed with their busy time); *reconnected (may be NULL) is then 1.
 * Returns TF_OK (*id set), TF_ERR_INVALID (bad provider/e-mail/JSON, err says which),
 * TF_ERR_CONFIG (CALENDAR_ENCRYPTION_KEY missing or malformed: err names it), TF_ERR_DB. */
enum tf_err integration_create(struct db *db, struct conf *c, long long doctor_id, const char *provider,
			       const char *account_email, json_t *creds, json_t *state,
			       const struct prov_calendar *cals, size_t ncals, long long *id,
			       int *reconnected, char *err, size_t errlen);

/* A connection loaded for a sync run (or a disconnect): creds decrypted (never log them). */
struct integration_conn {
	long long id, doctor_id;
	char provider[16];
	char account_email[255];
	char sync_status[24];
	int sync_enabled;
	int show_patient_names;
	char timezone[64];               /* the doctor's zone */
	char practice_address[501];      /* the event's LOCATION (no patient data) */
	json_t *creds;                   /* decrypted credentials (NULL when none are stored) */
	json_t *state;                   /* {"caldav_url", "principal_url", "home_url"} (strings or absent) */
};
/* Load connection id (any doctor: for tf-sync; doctor-facing callers check conn->doctor_id).
 * Returns 1 (free with integration_conn_free), 0 not found, -1 database error, -2 the stored
 * credentials cannot be decrypted or parsed (wrong CALENDAR_ENCRYPTION_KEY; err says so, in
 * English) — conn is then filled except creds. */
int integration_load(struct db *db, struct conf *c, long long id, struct integration_conn *conn,
		     char *err, size_t errlen);
void integration_conn_free(struct integration_conn *conn);
/* Re-encrypt and store refreshed credentials (OAuth token refresh). TF_OK, TF_ERR_CONFIG, TF_ERR_DB. */
/* Make ctx store refreshed credentials at once (ctx->creds_save) through db. */
void integration_ctx_autosave(struct prov_ctx *ctx, struct db *db);
enum tf_err integration_store_credentials(struct db *db, struct conf *c, long long id, json_t *creds,
					  char *err, size_t errlen);

/* The connection's calendars: [{"id", "name", "color", "can_write" (bool), "blocks_availability"
 * (bool), "receives_appointments" (bool), "last_synced_at" (ISO UTC or null)}] in *out (caller
 * decrefs). Returns 1, 0 not found / other doctor, -1 database error. */
int integration_calendars_json(struct db *db, long long doctor_id, long long id, json_t **out);

/* Statistics (C17) of a connection: {"runs": runs kept (30 days), "errors_24h": errors counted by
 * the runs of the last 24 h before now, "last_run": null or {"started_at" (ISO UTC),
 * "started_unix", "pushed", "pulled", "requests", "errors", "duration_ms", "error" (German or
 * null)}}. Returns 1, 0 not found / other doctor, -1 database error. */
int integration_stats_json(struct db *db, long long doctor_id, long long id, time_t now, json_t **out);

/* Everything the page shows of one connection: the integration_list_json fields (with display),
 * "show_patient_names" (bool), "calendars" and "stats" as above. 1 / 0 / -1 as above. */
int integration_detail_json(struct db *db, long long doctor_id, long long id, time_t now, json_t **out);

/* The doctor's choices for connection id: blocking[] lists the calendar ids that block
 * availability (every other calendar of the connection stops blocking: its busy time is deleted
 * at once and its sync cursor reset, so re-checking it later pulls it whole), receive_calendar_id
 * the one calendar that receives new appointments (0 = none; must be a writable calendar of this
 * connection), show_patient_names the privacy opt-in. One transaction.
 * Returns TF_OK, TF_ERR_NOTFOUND (connection unknown / other doctor, or a calendar id not of
 * this connection), TF_ERR_INVALID (receiving calendar not writable; German message in err),
 * TF_ERR_DB. */
enum tf_err integration_set_choices(struct db *db, long long doctor_id, long long id,
				    const long long *blocking, size_t nblocking,
				    long long receive_calendar_id, int show_patient_names,
				    char *err, size_t errlen);

/* Conflicts (C16): the doctor's confirmed appointments ending after now that overlap busy time
 * of a blocking calendar: [{"appointment_id", "start", "end" (ISO UTC), "start_unix",
 * "end_unix", "service_name", "patient_name", "busy_start", "busy_end" (ISO UTC),
 * "integration_id", "provider", "account_email", "calendar_name"}], at most max (<= 500) rows.
 * NULL on a database error. */
json_t *integration_conflicts_json(struct db *db, long long doctor_id, time_t now, size_t max);

/* Appointments flagged for review (C19: our event moved or deleted in the calendar):
 * [{"appointment_id", "start", "end" (ISO UTC), "start_unix", "end_unix", "service_name",
 * "patient_name", "status", "review_reason" (German)}], at most max (<= 500). NULL on error. */
json_t *integration_review_json(struct db *db, long long doctor_id, size_t max);
/* Clear an appointment's review flag. 1 done, 0 not found / other doctor, -1 error. */
int integration_review_clear(struct db *db, long long doctor_id, long long appointment_id);

/* Disconnect: with remove_events, first delete our events from the calendar (push_delete for
 * every live mapping; failures are logged and counted in *remote_failed (may be NULL), and do not
 * stop the disconnect), then delete the connection row: CASCADE removes its calendars, objects,
 * mappings, busy blocks, statistics, and the encrypted credentials with the row.
 * Returns TF_OK, TF_ERR_NOTFOUND (unknown / other doctor), TF_ERR_DB. Defined in sync.c (the
 * providers are called there). */
enum tf_err integration_disconnect(struct db *db, struct conf *c, long long doctor_id, long long id,
				   int remove_events, unsigned *remote_failed, char *err, size_t errlen);

#endif
