/* sync-now.c: "Jetzt synchronisieren": POST /api/doctor/calendar-integrations/{id}/sync (JSON) and the page's form; the same sync_integration as tf-sync. */
#include "config.h"

#include <string.h>
#include <time.h>

#include "sync.h"
#include "web.h"

#define MSG_RUNNING "Diese Verbindung wird gerade schon synchronisiert. Bitte versuchen Sie es " \
		    "gleich noch einmal."

void page_integration_sync_post(struct app *app, struct request *req, struct response *rs)
{
	long long id = request_param_id(req);
	struct sync_stats st;
	int r;

	if (integration_own(app, req, rs, id, NULL) != 1)
		return;
	memset(&st, 0, sizeof(st));
	r = sync_integration(app_db(app), app->conf, id, time(NULL), &st);
	integrations_back(rs, st.skipped ? "sync-running" : r == 0 ? "synced" : r > 0 ?
			  "sync-errors" : "sync-failed", id);
}

void api_integration_sync_post(struct app *app, struct request *req, struct response *rs)
{
	long long id = request_param_id(req);
	struct sync_stats st;
	json_t *body;
	int r;

	if (integration_own(app, req, rs, id, NULL) != 1)
		return;
	memset(&st, 0, sizeof(st));
	r = sync_integration(app_db(app), app->conf, id, time(NULL), &st);
	if (st.skipped) {
		error_json_field(rs, 409, "sync_running", NULL, MSG_RUNNING);
		return;
	}
	if (r < 0 && !st.status[0]) {
		error_json_field(rs, app_db_error_status(app), "sync_failed", NULL, "Die "
				 "Synchronisierung konnte nicht ausgeführt werden. Bitte versuchen Sie es "
				 "später noch einmal.");
		return;
	}
	body = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}",
			 "status", st.status, "pushed", (json_int_t)st.pushed,
			 "pulled", (json_int_t)st.pulled, "requests", (json_int_t)st.requests,
			 "errors", (json_int_t)st.errors, "duration_ms", (json_int_t)st.duration_ms,
			 "last_error", st.last_error[0] ? json_string(st.last_error) : json_null());
	if (!body || resp_json(rs, 200, body) < 0)
		error_respond(app, req, rs, 500, NULL);
	json_decref(body);
}
