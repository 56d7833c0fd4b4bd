/* health.c: GET /healthz: 200 when the database answers, 503 when it does not. */
#include "config.h"

#include "web.h"

void health_get(struct app *app, struct request *req, struct response *rs)
{
	struct db *db = app_db(app);
	json_t *body;
	int up = db && db_ping(db);

	body = json_pack("{s:s, s:s}", "status", up ? "ok" : "error", "database",
			 up ? "ok" : "unreachable");
	if (!body || resp_json(rs, up ? 200 : 503, body) < 0)
		error_respond(app, req, rs, 500, NULL);
	json_decref(body);
}
