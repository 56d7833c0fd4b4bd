/* integration.c: a doctor's calendar connections as data: listing, provider configuration, German labels. */
#include "config.h"

#include <string.h>
#include <time.h>

#include "integration.h"

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
