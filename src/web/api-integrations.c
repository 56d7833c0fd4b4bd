/* api-integrations.c: the doctor's connections as JSON: the list (with provider set-up) and disconnect. */
#include "config.h"

#include <string.h>
#include <time.h>

#include "integration.h"
#include "web.h"

void api_integrations_get(struct app *app, struct request *req, struct response *rs)
{
	json_t *list, *body;

	list = integration_list_json(app_db(app), req->doctor_id, 0);
	if (!list) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	body = json_pack("{s:o, s:o}", "integrations", list, "providers",
			 integration_providers_json(app->conf));
	if (!body || resp_json(rs, 200, body) < 0)
		error_respond(app, req, rs, 500, NULL);
	json_decref(body);
}

void api_integration_delete(struct app *app, struct request *req, struct response *rs)
{
	long long id = request_param_id(req);
	const char *rm = kv_get(&req->query, "remove_events");
	unsigned failed = 0;
	char err[256];
	enum tf_err rc;
	json_t *body;

	if (rm && strcmp(rm, "1") != 0 && strcmp(rm, "0") != 0) {
		error_json_field(rs, 400, "invalid_field", "remove_events",
				 "remove_events muss 0 oder 1 sein.");
		return;
	}
	if (integration_own(app, req, rs, id, NULL) != 1)
		return;
	rc = integration_disconnect(app_db(app), app->conf, req->doctor_id, id,
				    rm && strcmp(rm, "1") == 0, &failed, err, sizeof(err));
	if (rc == TF_ERR_NOTFOUND) {
		error_respond(app, req, rs, 404, "Diese Kalender-Verbindung gibt es nicht.");
		return;
	}
	if (rc != TF_OK) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	body = json_pack("{s:b}", "deleted", 1);
	if (failed)
		json_object_set_new(body, "remote_failed", json_integer(failed));
	if (!body || resp_json(rs, 200, body) < 0)
		error_respond(app, req, rs, 500, NULL);
	json_decref(body);
}
