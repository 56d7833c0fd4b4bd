/* api-integrations.c: GET /api/doctor/calendar-integrations: the doctor's connections and provider set-up as JSON. */
#include "config.h"

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
