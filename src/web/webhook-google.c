/* webhook-google.c: POST /webhooks/calendar/google: Google's push notifications (events.watch channels). */
#include "config.h"

#include <string.h>
#include <time.h>

#include "channels.h"
#include "log.h"
#include "web.h"

/* The notification carries no body, only X-Goog-* headers (request.c reads them): the channel id
 * and our token are checked (channels_check: SHA-256 of the token in constant time, stopped and
 * expired channels count as unknown, the resource id must be the one the watch answered).
 * Unknown channel → 404, wrong token or resource → 403, both with the generic JSON error and
 * nothing about why; Google drops a notification answered with a 4xx. A database failure answers
 * 503, which Google retries. "sync" only confirms a new channel; "exists" (something changed) and
 * "not_exists" (the calendar is gone) answer 200 at once and sync that connection after the
 * answer has gone out (main.c, request_sync_after). */
void webhook_google_post(struct app *app, struct request *req, struct response *rs)
{
	const char *state = req->goog_resource_state;
	const char *num = req->goog_message_number;
	long long integration_id = 0;
	long msgno = 0;
	json_t *ok;

	if (!req->goog_channel_id || !*req->goog_channel_id) {
		error_respond(app, req, rs, 404, NULL);
		return;
	}
	if (!state || (strcmp(state, "sync") != 0 && strcmp(state, "exists") != 0 &&
		       strcmp(state, "not_exists") != 0)) {
		error_respond(app, req, rs, 400, NULL);
		return;
	}
	if (num && *num && str_to_long(num, 0, 0x7fffffffL, &msgno) < 0)
		msgno = -1;
	switch (channels_check(app_db(app), req->goog_channel_id, req->goog_channel_token, req->goog_resource_id,
			       time(NULL), &integration_id)) {
	case CHANNEL_OK:
		break;
	case CHANNEL_UNKNOWN:
		log_info("webhook google: notification for an unknown, stopped or expired channel refused");
		error_respond(app, req, rs, 404, NULL);
		return;
	case CHANNEL_BAD_TOKEN:
		log_warn("webhook google: notification with a wrong token or resource refused (from %s)",
			 req->remote_addr ? req->remote_addr : "-");
		error_respond(app, req, rs, 403, NULL);
		return;
	default:
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	log_info("webhook google: integration %lld: %s (message %ld)", integration_id, state, msgno);
	if (strcmp(state, "sync") != 0)
		request_sync_after(req, integration_id, 0);
	ok = json_pack("{s:s}", "status", "ok");
	if (!ok || resp_json(rs, 200, ok) < 0)
		error_respond(app, req, rs, 500, NULL);
	json_decref(ok);
}
