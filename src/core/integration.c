/* integration.c: a doctor's calendar connections: listing, provider configuration, German labels; create,
 * load, choices, statistics, conflicts, review flags and disconnect (the sync area's part). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "integration.h"
#include "log.h"

struct provider_info {
	const char *key;
	const char *title;
	const char *settings[4];   /* NULL-terminated */
};

static const struct provider_info providers[INTEGRATION_PROVIDER_MAX] = {
	[INTEGRATION_GOOGLE] = { "google", "Google Calendar",
		{ "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "GOOGLE_REDIRECT_URI", NULL } },
	[INTEGRATION_OUTLOOK] = { "outlook", "Microsoft Outlook",
		{ "MICROSOFT_CLIENT_ID", "MICROSOFT_CLIENT_SECRET", "MICROSOFT_REDIRECT_URI", NULL } },
	[INTEGRATION_APPLE] = { "apple", "Apple iCloud", { NULL } },
};

static const struct {
	const char *status;
	const char *label;
} status_labels[] = {
	{ "active", "aktiv" },
	{ "error", "Fehler" },
	{ "reauth_required", "erneut verbinden" },
	{ "disabled", "deaktiviert" },
};

const char *integration_provider_key(enum integration_provider p)
{
	return (unsigned)p < INTEGRATION_PROVIDER_MAX ? providers[p].key : "unknown";
}

enum integration_provider integration_provider_parse(const char *key)
{
	unsigned i;

	for (i = 0; key && i < INTEGRATION_PROVIDER_MAX; i++) {
		if (strcmp(providers[i].key, key) == 0)
			return (enum integration_provider)i;
	}
	return INTEGRATION_PROVIDER_MAX;
}

const char *integration_provider_title(enum integration_provider p)
{
	return (unsigned)p < INTEGRATION_PROVIDER_MAX ? providers[p].title : "unbekannt";
}

size_t integration_provider_missing(struct conf *c, enum integration_provider p, const char **names,
				    size_t max)
{
	const char *const *s;
	const char *v;
	size_t n = 0;

	if ((unsigned)p >= INTEGRATION_PROVIDER_MAX)
		return 0;
	for (s = providers[p].settings; *s && n < max; s++) {
		v = conf_get(c, *s);
		if (!v || !*v)
			names[n++] = *s;
	}
	return n;
}

json_t *integration_provider_status_json(struct conf *c, enum integration_provider p)
{
	const char *missing[4];
	size_t n, i;
	json_t *arr = json_array();

	n = integration_provider_missing(c, p, missing, TF_ARRAY_LEN(missing));
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(missing[i]));
	return json_pack("{s:b, s:o}", "configured", n == 0, "missing", arr);
}

json_t *integration_providers_json(struct conf *c)
{
	json_t *o = json_object();
	unsigned i;

	for (i = 0; i < INTEGRATION_PROVIDER_MAX; i++)
		json_object_set_new(o, providers[i].key,
				    integration_provider_status_json(c, (enum integration_provider)i));
	return o;
}

const char *integration_status_label(const char *status)
{
	size_t i;

	for (i = 0; status && i < TF_ARRAY_LEN(status_labels); i++) {
		if (strcmp(status_labels[i].status, status) == 0)
			return status_labels[i].label;
	}
	return "unbekannt";
}

int integration_time_display(long long unix_time, char *out, size_t outlen)
{
	time_t t = (time_t)unix_time;
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return -1;
	if (strftime(out, outlen, "%d.%m.%Y, %H:%M", &tm) == 0)
		return -1;
	return 0;
}

/* A text cell as a JSON string, or null for SQL NULL. */
static json_t *cell_json(const struct db_rows *r, size_t row, size_t col)
{
	const char *v = db_cell(r, row, col);
	json_t *s = v ? json_string(v) : NULL;   /* NULL too for invalid UTF-8 */

	return s ? s : json_null();
}

json_t *integration_list_json(struct db *db, long long doctor_id, int with_display)
{
	struct db_rows rows;
	json_t *arr, *o;
	const char *status;
	char when[64];
	size_t i;

	if (db_query(db, STMT_INTEGRATIONS_BY_DOCTOR, DB_ARGS(DBP_INT(doctor_id)), &rows) != TF_OK)
		return NULL;
	arr = json_array();
	for (i = 0; i < rows.nrows; i++) {
		status = db_cell(&rows, i, 4);
		o = json_object();
		json_object_set_new(o, "id", json_integer(db_cell_int(&rows, i, 0, 0)));
		json_object_set_new(o, "provider", cell_json(&rows, i, 1));
		json_object_set_new(o, "account_email", cell_json(&rows, i, 2));
		json_object_set_new(o, "sync_enabled", json_boolean(db_cell_int(&rows, i, 3, 0) != 0));
		json_object_set_new(o, "sync_status", cell_json(&rows, i, 4));
		json_object_set_new(o, "last_sync_at", cell_json(&rows, i, 5));
		json_object_set_new(o, "last_error", cell_json(&rows, i, 7));
		json_object_set_new(o, "created_at", cell_json(&rows, i, 8));
		if (with_display) {
			json_object_set_new(o, "provider_title", json_string(integration_provider_title(
				integration_provider_parse(db_cell(&rows, i, 1)))));
			json_object_set_new(o, "status_label",
					    json_string(integration_status_label(status)));
			json_object_set_new(o, "status_class", json_string(status ? status : "unknown"));
			if (db_cell(&rows, i, 6) &&
			    integration_time_display(db_cell_int(&rows, i, 6, 0), when, sizeof(when)) == 0)
				json_object_set_new(o, "last_sync_display", json_string(when));
			else
				json_object_set_new(o, "last_sync_display", json_null());
		}
		json_array_append_new(arr, o);
	}
	db_rows_free(&rows);
	return arr;
}

/* ================================================================ connections (sync area) */

#define URL_MAX 2048
#define CAL_NAME_CHARS 255

/* The keyring of CALENDAR_ENCRYPTION_KEY, or NULL with err naming the setting. */
static struct fernet_keyring *integ_keyring(struct conf *c, char *err, size_t errlen)
{
	const char *keys = conf_get(c, "CALENDAR_ENCRYPTION_KEY");
	struct fernet_keyring *kr;
	char why[200];

	if (!keys || !*keys) {
		err_set(err, errlen, "CALENDAR_ENCRYPTION_KEY is not set");
		return NULL;
	}
	kr = fernet_keyring_parse(keys, why, sizeof(why));
	if (!kr)
		err_set(err, errlen, "CALENDAR_ENCRYPTION_KEY is malformed: %s", why);
	return kr;
}

/* creds as compact JSON, Fernet-encrypted with the first key (malloc'd), or NULL (err set). */
static char *integ_encrypt_creds(struct conf *c, json_t *creds, enum tf_err *rc, char *err, size_t errlen)
{
	struct fernet_keyring *kr;
	char *plain, *token;
	size_t n;

	*rc = TF_ERR_INVALID;
	if (!json_is_object(creds)) {
		err_set(err, errlen, "credentials must be a JSON object");
		return NULL;
	}
	plain = json_dumps(creds, JSON_COMPACT);
	if (!plain) {
		err_set(err, errlen, "credentials cannot be serialised");
		return NULL;
	}
	n = strlen(plain);
	kr = integ_keyring(c, err, errlen);
	if (!kr) {
		*rc = TF_ERR_CONFIG;
		explicit_bzero(plain, n);
		free(plain);
		return NULL;
	}
	token = fernet_encrypt(kr, plain, n);
	explicit_bzero(plain, n);
	free(plain);
	fernet_keyring_free(kr);
	if (!token) {
		*rc = TF_ERR_CRYPTO;
		err_set(err, errlen, "encryption failed");
	}
	return token;
}

/* A state string (caldav_url, ...): NULL when absent; -1 when not a string or too long. */
static int integ_state_str(json_t *state, const char *key, const char **out)
{
	json_t *v = state ? json_object_get(state, key) : NULL;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > URL_MAX)
		return -1;
	*out = json_string_value(v);
	return 0;
}

/* Copy at most maxchars UTF-8 characters of s into out[outlen] (never cutting a character). */
static void integ_copy_chars(char *out, size_t outlen, const char *s, size_t maxchars)
{
	size_t i = 0, chars = 0, start;

	while (s[i] && chars < maxchars) {
		start = i++;
		while (((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		if (i >= outlen) {
			i = start;
			break;
		}
		chars++;
	}
	memcpy(out, s, i);
	out[i] = '\0';
}

/* Give the receiving flag to a writable calendar when none has it (or the one having it lost
 * write access): the first writable one, or none. */
static enum tf_err integ_fix_receiver(struct db *db, long long id)
{
	struct db_rows rows;
	long long first_writable = 0, keep = 0;
	size_t i;

	if (db_query(db, STMT_INTEG_CALS_OF, DB_ARGS(DBP_INT(id)), &rows) != TF_OK)
		return TF_ERR_DB;
	for (i = 0; i < rows.nrows; i++) {
		int can_write = db_cell_int(&rows, i, 2, 0) != 0;

		if (can_write && !first_writable)
			first_writable = db_cell_int(&rows, i, 0, 0);
		if (can_write && db_cell_int(&rows, i, 3, 0) && !keep)
			keep = db_cell_int(&rows, i, 0, 0);
	}
	db_rows_free(&rows);
	return db_exec(db, STMT_INTEG_CAL_SET_RECEIVE, DB_ARGS(DBP_INT(keep ? keep : first_writable), DBP_INT(id)),
		       NULL, NULL);
}

enum tf_err integration_create(struct db *db, struct conf *c, long long doctor_id, const char *provider,
			       const char *account_email, json_t *creds, json_t *state,
			       const struct prov_calendar *cals, size_t ncals, long long *id,
			       int *reconnected, char *err, size_t errlen)
{
	const char *caldav_url, *principal_url, *home_url;
	char (*hashes)[65] = NULL;
	char name[CAL_NAME_CHARS * 4 + 1];
	unsigned long long new_id = 0, cal_id;
	struct db_rows rows;
	enum tf_err rc;
	char *token = NULL;
	size_t i, j, nh = 0;
	int q, in_tx = 0;

	*id = 0;
	if (reconnected)
		*reconnected = 0;
	if (doctor_id <= 0 || integration_provider_parse(provider) == INTEGRATION_PROVIDER_MAX) {
		err_set(err, errlen, "unknown provider");
		return TF_ERR_INVALID;
	}
	if (!account_email || !*account_email || strlen(account_email) > 254 ||
	    !str_only_chars(account_email, 254,
			    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.@_+-%!#$&'*/=?^`{|}~")) {
		err_set(err, errlen, "invalid account e-mail");
		return TF_ERR_INVALID;
	}
	if (integ_state_str(state, "caldav_url", &caldav_url) < 0 ||
	    integ_state_str(state, "principal_url", &principal_url) < 0 ||
	    integ_state_str(state, "home_url", &home_url) < 0) {
		err_set(err, errlen, "invalid connection state (URLs must be strings of at most %d bytes)", URL_MAX);
		return TF_ERR_INVALID;
	}
	if (ncals > INTEGRATION_MAX_CALENDARS) {
		log_warn("integration: %zu calendars offered, only the first %d are stored", ncals,
			 INTEGRATION_MAX_CALENDARS);
		ncals = INTEGRATION_MAX_CALENDARS;
	}
	token = integ_encrypt_creds(c, creds, &rc, err, errlen);
	if (!token)
		return rc;

	rc = TF_ERR_DB;
	if (db_begin(db) != TF_OK)
		goto out;
	in_tx = 1;
	q = db_query_one(db, STMT_INTEG_FIND_ACCOUNT,
			 DB_ARGS(DBP_INT(doctor_id), DBP_TEXT(provider), DBP_TEXT(account_email)), &rows);
	if (q < 0)
		goto out;
	if (q > 0) {
		new_id = (unsigned long long)db_cell_int(&rows, 0, 0, 0);
		db_rows_free(&rows);
		if (db_exec(db, STMT_INTEG_RECONNECT,
			    DB_ARGS(DBP_TEXT(token), DBP_TEXT(caldav_url), DBP_TEXT(principal_url),
				    DBP_TEXT(home_url), DBP_INT(new_id)), NULL, NULL) != TF_OK)
			goto out;
		if (reconnected)
			*reconnected = 1;
	} else if (db_exec(db, STMT_INTEG_INSERT,
			   DB_ARGS(DBP_INT(doctor_id), DBP_TEXT(provider), DBP_TEXT(account_email), DBP_TEXT(token),
				   DBP_TEXT(caldav_url), DBP_TEXT(principal_url), DBP_TEXT(home_url)),
			   NULL, &new_id) != TF_OK) {
		goto out;
	}

	hashes = xcalloc(ncals + 1, sizeof(*hashes));
	for (i = 0; i < ncals; i++) {
		const struct prov_calendar *pc = &cals[i];
		const char *color = pc->color && strlen(pc->color) <= 16 &&
				    str_only_chars(pc->color, 16, "#0123456789abcdefABCDEF") ? pc->color : "";

		if (!pc->events || !pc->remote_id || !*pc->remote_id)
			continue;
		if (strlen(pc->remote_id) > URL_MAX) {
			log_warn("integration %llu: a calendar id longer than %d bytes is skipped", new_id, URL_MAX);
			continue;
		}
		sha256_hex(pc->remote_id, strlen(pc->remote_id), hashes[nh]);
		for (j = 0; j < nh && strcmp(hashes[j], hashes[nh]) != 0; j++)
			;
		if (j < nh)
			continue;   /* listed twice */
		nh++;
		integ_copy_chars(name, sizeof(name), pc->name ? pc->name : "", CAL_NAME_CHARS);
		if (db_exec(db, STMT_INTEG_CAL_UPSERT,
			    DB_ARGS(DBP_INT(new_id), DBP_TEXT(pc->remote_id), DBP_TEXT(hashes[nh - 1]),
				    DBP_TEXT(name), DBP_TEXT(color), DBP_INT(pc->can_write ? 1 : 0),
				    DBP_INT(pc->no_block ? 0 : 1)),
			    NULL, &cal_id) != TF_OK)
			goto out;
	}
	if (reconnected && *reconnected) {
		/* calendars the account no longer has go, with their busy time (CASCADE) */
		if (db_query(db, STMT_INTEG_CALS_OF, DB_ARGS(DBP_INT(new_id)), &rows) != TF_OK)
			goto out;
		for (i = 0; i < rows.nrows; i++) {
			const char *h = db_cell(&rows, i, 1);

			for (j = 0; h && j < nh && strcmp(hashes[j], h) != 0; j++)
				;
			if (h && j < nh)
				continue;
			if (db_exec(db, STMT_INTEG_CAL_DELETE, DB_ARGS(DBP_INT(db_cell_int(&rows, i, 0, 0))),
				    NULL, NULL) != TF_OK) {
				db_rows_free(&rows);
				goto out;
			}
		}
		db_rows_free(&rows);
	}
	if (integ_fix_receiver(db, (long long)new_id) != TF_OK)
		goto out;
	if (db_commit(db) != TF_OK)
		goto out;
	in_tx = 0;
	*id = (long long)new_id;
	rc = TF_OK;
	log_info("integration %llu: %s connection of doctor %lld %s with %zu calendar(s)", new_id, provider,
		 doctor_id, reconnected && *reconnected ? "reconnected" : "created", nh);
out:
	if (in_tx)
		db_rollback(db);
	if (rc == TF_ERR_DB)
		err_set(err, errlen, "database error");
	free(hashes);
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	return rc;
}

int integration_load(struct db *db, struct conf *c, long long id, struct integration_conn *conn,
		     char *err, size_t errlen)
{
	static const char *const state_keys[] = { "caldav_url", "principal_url", "home_url" };
	struct fernet_keyring *kr;
	struct db_rows rows;
	const char *v, *token;
	char *plain;
	size_t len, i;
	int q;

	memset(conn, 0, sizeof(*conn));
	q = db_query_one(db, STMT_INTEG_LOAD, DB_ARGS(DBP_INT(id)), &rows);
	if (q <= 0) {
		if (q < 0)
			err_set(err, errlen, "database error");
		else
			err_set(err, errlen, "no connection %lld", id);
		return q;
	}
	conn->id = db_cell_int(&rows, 0, 0, 0);
	conn->doctor_id = db_cell_int(&rows, 0, 1, 0);
	str_copy(conn->provider, db_cell(&rows, 0, 2) ? db_cell(&rows, 0, 2) : "", sizeof(conn->provider));
	str_copy(conn->account_email, db_cell(&rows, 0, 3) ? db_cell(&rows, 0, 3) : "",
		 sizeof(conn->account_email));
	conn->sync_enabled = db_cell_int(&rows, 0, 4, 0) != 0;
	str_copy(conn->sync_status, db_cell(&rows, 0, 5) ? db_cell(&rows, 0, 5) : "", sizeof(conn->sync_status));
	conn->show_patient_names = db_cell_int(&rows, 0, 10, 0) != 0;
	str_copy(conn->timezone, db_cell(&rows, 0, 11) ? db_cell(&rows, 0, 11) : "Europe/Berlin",
		 sizeof(conn->timezone));
	str_copy(conn->practice_address, db_cell(&rows, 0, 12) ? db_cell(&rows, 0, 12) : "",
		 sizeof(conn->practice_address));
	conn->state = json_object();
	for (i = 0; i < TF_ARRAY_LEN(state_keys); i++) {
		v = db_cell(&rows, 0, 7 + i);
		if (v && *v)
			json_object_set_new(conn->state, state_keys[i], json_string(v));
	}
	token = db_cell(&rows, 0, 6);
	if (!token || !*token) {
		db_rows_free(&rows);
		return 1;
	}
	kr = integ_keyring(c, err, errlen);
	if (!kr) {
		db_rows_free(&rows);
		return -2;
	}
	plain = fernet_decrypt(kr, token, &len);
	fernet_keyring_free(kr);
	db_rows_free(&rows);
	if (!plain) {
		err_set(err, errlen, "the stored credentials cannot be decrypted with CALENDAR_ENCRYPTION_KEY");
		return -2;
	}
	conn->creds = json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL);
	explicit_bzero(plain, len);
	free(plain);
	if (!json_is_object(conn->creds)) {
		json_decref(conn->creds);
		conn->creds = NULL;
		err_set(err, errlen, "the stored credentials are not a JSON object");
		return -2;
	}
	return 1;
}

void integration_conn_free(struct integration_conn *conn)
{
	json_decref(conn->creds);
	json_decref(conn->state);
	conn->creds = NULL;
	conn->state = NULL;
}

enum tf_err integration_store_credentials(struct db *db, struct conf *c, long long id, json_t *creds,
					  char *err, size_t errlen)
{
	enum tf_err rc;
	char *token = integ_encrypt_creds(c, creds, &rc, err, errlen);

	if (!token)
		return rc;
	rc = db_exec(db, STMT_INTEG_SET_CREDS, DB_ARGS(DBP_TEXT(token), DBP_INT(id)), NULL, NULL);
	explicit_bzero(token, strlen(token));
	free(token);
	if (rc != TF_OK)
		err_set(err, errlen, "database error");
	return rc;
}

static enum tf_err integ_creds_save(struct prov_ctx *ctx)
{
	char err[256];
	enum tf_err rc = integration_store_credentials(ctx->creds_save_ud, ctx->conf, ctx->integration_id,
						       ctx->creds, err, sizeof(err));

	if (rc != TF_OK)
		log_error("integration %lld: refreshed credentials not stored yet: %s", ctx->integration_id, err);
	return rc;
}

void integration_ctx_autosave(struct prov_ctx *ctx, struct db *db)
{
	ctx->creds_save = integ_creds_save;
	ctx->creds_save_ud = db;
}

/* 1 when connection id belongs to doctor_id, 0 when not (or unknown), -1 on error. */
static int integ_owned(struct db *db, long long doctor_id, long long id, int *show_names)
{
	struct db_rows rows;
	int q = db_query_one(db, STMT_INTEG_OWNER, DB_ARGS(DBP_INT(id)), &rows);

	if (q <= 0)
		return q;
	q = db_cell_int(&rows, 0, 0, 0) == doctor_id && doctor_id > 0;
	if (show_names)
		*show_names = db_cell_int(&rows, 0, 1, 0) != 0;
	db_rows_free(&rows);
	return q;
}

int integration_calendars_json(struct db *db, long long doctor_id, long long id, json_t **out)
{
	struct db_rows rows;
	json_t *arr, *o;
	size_t i;
	int q;

	*out = NULL;
	q = integ_owned(db, doctor_id, id, NULL);
	if (q <= 0)
		return q;
	if (db_query(db, STMT_INTEG_CALENDARS, DB_ARGS(DBP_INT(id)), &rows) != TF_OK)
		return -1;
	arr = json_array();
	for (i = 0; i < rows.nrows; i++) {
		o = json_object();
		json_object_set_new(o, "id", json_integer(db_cell_int(&rows, i, 0, 0)));
		json_object_set_new(o, "name", cell_json(&rows, i, 1));
		json_object_set_new(o, "color", cell_json(&rows, i, 2));
		json_object_set_new(o, "can_write", json_boolean(db_cell_int(&rows, i, 3, 0) != 0));
		json_object_set_new(o, "blocks_availability", json_boolean(db_cell_int(&rows, i, 4, 0) != 0));
		json_object_set_new(o, "receives_appointments", json_boolean(db_cell_int(&rows, i, 5, 0) != 0));
		json_object_set_new(o, "last_synced_at", cell_json(&rows, i, 6));
		json_array_append_new(arr, o);
	}
	db_rows_free(&rows);
	*out = arr;
	return 1;
}

int integration_stats_json(struct db *db, long long doctor_id, long long id, time_t now, json_t **out)
{
	struct db_rows rows;
	json_t *o, *last = NULL;
	int q;

	*out = NULL;
	q = integ_owned(db, doctor_id, id, NULL);
	if (q <= 0)
		return q;
	if (db_query_one(db, STMT_INTEG_STATS, DB_ARGS(DBP_INT((long long)now - 86400), DBP_INT(id)), &rows) < 0)
		return -1;
	o = json_object();
	json_object_set_new(o, "runs", json_integer(rows.nrows ? db_cell_int(&rows, 0, 0, 0) : 0));
	json_object_set_new(o, "errors_24h", json_integer(rows.nrows ? db_cell_int(&rows, 0, 1, 0) : 0));
	db_rows_free(&rows);
	q = db_query_one(db, STMT_INTEG_LAST_RUN, DB_ARGS(DBP_INT(id)), &rows);
	if (q < 0) {
		json_decref(o);
		return -1;
	}
	if (q > 0) {
		last = json_object();
		json_object_set_new(last, "started_at", cell_json(&rows, 0, 0));
		json_object_set_new(last, "started_unix", json_integer(db_cell_int(&rows, 0, 1, 0)));
		json_object_set_new(last, "pushed", json_integer(db_cell_int(&rows, 0, 2, 0)));
		json_object_set_new(last, "pulled", json_integer(db_cell_int(&rows, 0, 3, 0)));
		json_object_set_new(last, "requests", json_integer(db_cell_int(&rows, 0, 4, 0)));
		json_object_set_new(last, "errors", json_integer(db_cell_int(&rows, 0, 5, 0)));
		json_object_set_new(last, "duration_ms", json_integer(db_cell_int(&rows, 0, 6, 0)));
		json_object_set_new(last, "error", cell_json(&rows, 0, 7));
		db_rows_free(&rows);
	}
	json_object_set_new(o, "last_run", last ? last : json_null());
	*out = o;
	return 1;
}

int integration_detail_json(struct db *db, long long doctor_id, long long id, time_t now, json_t **out)
{
	json_t *list, *item = NULL, *cals = NULL, *stats = NULL;
	size_t i;
	int q, show = 0;

	*out = NULL;
	q = integ_owned(db, doctor_id, id, &show);
	if (q <= 0)
		return q;
	list = integration_list_json(db, doctor_id, 1);
	if (!list)
		return -1;
	for (i = 0; i < json_array_size(list); i++) {
		json_t *o = json_array_get(list, i);

		if (json_integer_value(json_object_get(o, "id")) == id)
			item = json_incref(o);
	}
	json_decref(list);
	if (!item)
		return 0;
	if (integration_calendars_json(db, doctor_id, id, &cals) <= 0 ||
	    integration_stats_json(db, doctor_id, id, now, &stats) <= 0) {
		json_decref(item);
		json_decref(cals);
		json_decref(stats);
		return -1;
	}
	json_object_set_new(item, "show_patient_names", json_boolean(show));
	json_object_set_new(item, "calendars", cals);
	json_object_set_new(item, "stats", stats);
	*out = item;
	return 1;
}

enum tf_err integration_set_choices(struct db *db, long long doctor_id, long long id,
				    const long long *blocking, size_t nblocking,
				    long long receive_calendar_id, int show_patient_names,
				    char *err, size_t errlen)
{
	struct db_rows cals, own;
	enum tf_err rc = TF_ERR_DB;
	size_t i, j;
	int q, in_tx = 0, recv_ok = receive_calendar_id == 0;

	memset(&cals, 0, sizeof(cals));
	if (db_begin(db) != TF_OK)
		goto out;
	in_tx = 1;
	q = db_query_one(db, STMT_INTEG_OWNER_LOCK, DB_ARGS(DBP_INT(id)), &own);
	if (q < 0)
		goto out;
	if (q == 0 || db_cell_int(&own, 0, 0, 0) != doctor_id) {
		if (q > 0)
			db_rows_free(&own);
		rc = TF_ERR_NOTFOUND;
		err_set(err, errlen, "Diese Kalenderverbindung gibt es nicht.");
		goto out;
	}
	db_rows_free(&own);
	if (db_query(db, STMT_INTEG_CALS_OF, DB_ARGS(DBP_INT(id)), &cals) != TF_OK)
		goto out;
	/* every calendar id named must be one of this connection */
	for (j = 0; j < nblocking; j++) {
		for (i = 0; i < cals.nrows && db_cell_int(&cals, i, 0, 0) != blocking[j]; i++)
			;
		if (i == cals.nrows) {
			rc = TF_ERR_NOTFOUND;
			err_set(err, errlen, "Dieser Kalender gehört nicht zu dieser Verbindung.");
			goto out;
		}
	}
	for (i = 0; i < cals.nrows && !recv_ok; i++) {
		if (db_cell_int(&cals, i, 0, 0) != receive_calendar_id)
			continue;
		if (!db_cell_int(&cals, i, 2, 0)) {
			rc = TF_ERR_INVALID;
			err_set(err, errlen, "In diesen Kalender können keine Termine eingetragen werden "
				"(nur Lesezugriff).");
			goto out;
		}
		recv_ok = 1;
	}
	if (!recv_ok) {
		rc = TF_ERR_NOTFOUND;
		err_set(err, errlen, "Dieser Kalender gehört nicht zu dieser Verbindung.");
		goto out;
	}
	for (i = 0; i < cals.nrows; i++) {
		long long cid = db_cell_int(&cals, i, 0, 0);
		int was = db_cell_int(&cals, i, 4, 0) != 0, now_blocks = 0;

		for (j = 0; j < nblocking && !now_blocks; j++)
			now_blocks = blocking[j] == cid;
		if (was == now_blocks)
			continue;
		/* a changed choice: its busy time goes (or is pulled whole on the next run) */
		if (db_exec(db, STMT_INTEG_CAL_SET_BLOCKS, DB_ARGS(DBP_INT(now_blocks), DBP_INT(cid)), NULL, NULL) ||
		    db_exec(db, STMT_INTEG_CAL_BUSY_DELETE, DB_ARGS(DBP_INT(cid)), NULL, NULL) ||
		    db_exec(db, STMT_INTEG_CAL_OBJECTS_DELETE, DB_ARGS(DBP_INT(cid)), NULL, NULL) ||
		    db_exec(db, STMT_INTEG_CAL_RESET, DB_ARGS(DBP_INT(cid)), NULL, NULL))
			goto out;
	}
	if (db_exec(db, STMT_INTEG_CAL_SET_RECEIVE, DB_ARGS(DBP_INT(receive_calendar_id), DBP_INT(id)), NULL, NULL) ||
	    db_exec(db, STMT_INTEG_SET_NAMES, DB_ARGS(DBP_INT(show_patient_names ? 1 : 0), DBP_INT(id)), NULL, NULL))
		goto out;
	if (db_commit(db) != TF_OK)
		goto out;
	in_tx = 0;
	rc = TF_OK;
out:
	if (in_tx)
		db_rollback(db);
	db_rows_free(&cals);
	if (rc == TF_ERR_DB)
		err_set(err, errlen, "Die Einstellungen konnten nicht gespeichert werden (Datenbankfehler).");
	return rc;
}

json_t *integration_conflicts_json(struct db *db, long long doctor_id, time_t now, size_t max)
{
	struct db_rows rows;
	json_t *arr, *o;
	size_t i;

	if (max > 500)
		max = 500;
	if (db_query(db, STMT_INTEG_CONFLICTS, DB_ARGS(DBP_INT(doctor_id), DBP_INT((long long)now), DBP_INT(max)),
		     &rows) != TF_OK)
		return NULL;
	arr = json_array();
	for (i = 0; i < rows.nrows; i++) {
		o = json_object();
		json_object_set_new(o, "appointment_id", json_integer(db_cell_int(&rows, i, 0, 0)));
		json_object_set_new(o, "start", cell_json(&rows, i, 1));
		json_object_set_new(o, "end", cell_json(&rows, i, 2));
		json_object_set_new(o, "start_unix", json_integer(db_cell_int(&rows, i, 3, 0)));
		json_object_set_new(o, "end_unix", json_integer(db_cell_int(&rows, i, 4, 0)));
		json_object_set_new(o, "service_name", cell_json(&rows, i, 5));
		json_object_set_new(o, "patient_name", cell_json(&rows, i, 6));
		json_object_set_new(o, "busy_start", cell_json(&rows, i, 7));
		json_object_set_new(o, "busy_end", cell_json(&rows, i, 8));
		json_object_set_new(o, "integration_id", json_integer(db_cell_int(&rows, i, 9, 0)));
		json_object_set_new(o, "provider", cell_json(&rows, i, 10));
		json_object_set_new(o, "account_email", cell_json(&rows, i, 11));
		json_object_set_new(o, "calendar_name", cell_json(&rows, i, 12));
		json_array_append_new(arr, o);
	}
	db_rows_free(&rows);
	return arr;
}

json_t *integration_review_json(struct db *db, long long doctor_id, size_t max)
{
	struct db_rows rows;
	json_t *arr, *o;
	size_t i;

	if (max > 500)
		max = 500;
	if (db_query(db, STMT_INTEG_REVIEW, DB_ARGS(DBP_INT(doctor_id), DBP_INT(max)), &rows) != TF_OK)
		return NULL;
	arr = json_array();
	for (i = 0; i < rows.nrows; i++) {
		o = json_object();
		json_object_set_new(o, "appointment_id", json_integer(db_cell_int(&rows, i, 0, 0)));
		json_object_set_new(o, "start", cell_json(&rows, i, 1));
		json_object_set_new(o, "end", cell_json(&rows, i, 2));
		json_object_set_new(o, "start_unix", json_integer(db_cell_int(&rows, i, 3, 0)));
		json_object_set_new(o, "end_unix", json_integer(db_cell_int(&rows, i, 4, 0)));
		json_object_set_new(o, "service_name", cell_json(&rows, i, 5));
		json_object_set_new(o, "patient_name", cell_json(&rows, i, 6));
		json_object_set_new(o, "status", cell_json(&rows, i, 7));
		json_object_set_new(o, "review_reason", cell_json(&rows, i, 8));
		json_array_append_new(arr, o);
	}
	db_rows_free(&rows);
	return arr;
}

int integration_review_clear(struct db *db, long long doctor_id, long long appointment_id)
{
	unsigned long long n = 0;

	if (db_exec(db, STMT_INTEG_REVIEW_CLEAR, DB_ARGS(DBP_INT(appointment_id), DBP_INT(doctor_id)), &n, NULL) !=
	    TF_OK)
		return -1;
	return n > 0;
}
