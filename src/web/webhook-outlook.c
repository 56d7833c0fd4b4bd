/* webhook-outlook.c: POST /webhooks/calendar/outlook(/lifecycle): Microsoft Graph change and lifecycle notifications. */
#include "config.h"

#include <string.h>
#include <time.h>

#include "channels.h"
#include "log.h"
#include "web.h"

#define OUTLOOK_VALIDATION_MAX 1024   /* bytes in a validationToken we echo */
#define OUTLOOK_ITEMS_MAX      1000   /* notifications looked at in one POST (1 MiB holds ~1500) */

/* The validation handshake: Graph POSTs ?validationToken=... to both URLs when a subscription is
 * created and wants the decoded token back, 200 text/plain, within 10 s. Answered at once, before
 * any database work. Returns 1 when the request was a validation (answered), else 0. */
static int answer_validation(struct app *app, struct request *req, struct response *rs)
{
	const char *token = kv_get(&req->query, "validationToken");
	size_t n, i;

	if (!token)
		return 0;
	n = strlen(token);
	for (i = 0; i < n; i++) {
		if ((unsigned char)token[i] < 0x20 || token[i] == 0x7f)
			break;
	}
	if (n == 0 || n > OUTLOOK_VALIDATION_MAX || i < n) {
		log_warn("webhook outlook: malformed validationToken refused (from %s)",
			 req->remote_addr ? req->remote_addr : "-");
		error_respond(app, req, rs, 400, NULL);
		return 1;
	}
	if (resp_text(rs, 200, "text/plain; charset=utf-8", token, n) < 0)
		error_respond(app, req, rs, 500, NULL);
	return 1;
}

static int lifecycle_event(const char *name, enum channel_event *ev)
{
	if (!name)
		return -1;
	if (strcmp(name, "reauthorizationRequired") == 0)
		*ev = CHANNEL_EV_REAUTHORIZE;
	else if (strcmp(name, "subscriptionRemoved") == 0)
		*ev = CHANNEL_EV_REMOVED;
	else if (strcmp(name, "missed") == 0)
		*ev = CHANNEL_EV_MISSED;
	else
		return -1;
	return 0;
}

/* Notifications: {"value": [{subscriptionId, clientState, changeType | lifecycleEvent, ...}]}, one
 * POST possibly batching several subscriptions. Every item is checked on its own
 * (channels_check_resource: the subscription by its id, the clientState as SHA-256 in constant
 * time, stopped and expired subscriptions unknown); items that fail are discarded. A change
 * (created/updated/deleted) syncs its connection after the answer; lifecycle events:
 * reauthorizationRequired → the subscription is renewed (PATCH) after the answer, then the
 * connection synced; subscriptionRemoved → a new subscription, then a sync to fill the gap;
 * missed → the sync cursors cleared, then a (full) sync. Answer: 202 when any item was accepted
 * (Graph wants 2xx within 3 s: the provider work waits until after the answer); 403 when the
 * only known subscriptions came with a wrong clientState, 404 when none was known, 400 for a body
 * that is not a notification; 503 on a database failure (Graph retries 5xx).
 * Limits: bodies up to REQ_MAX_BODY_LARGE (1 MiB: the route is ROUTE_LARGE_BODY, since Graph batches
 * notifications; a larger one is answered 413 and tf-sync's regular pull still sees the changes),
 * OUTLOOK_ITEMS_MAX items, REQ_AFTER_MAX
 * connections synced per POST (more are left to tf-sync). A change in the moment between Graph's
 * 201 and our storing the subscription id is refused as unknown; the sync after the
 * subscription's creation (or tf-sync) covers it. */
static void notifications(struct app *app, struct request *req, struct response *rs, int lifecycle)
{
	json_t *value = req->json ? json_object_get(req->json, "value") : NULL;
	struct db *db;
	size_t i, n, accepted = 0, forged = 0;
	time_t now = time(NULL);
	json_t *ok;

	if (!value || !json_is_array(value) || json_array_size(value) == 0) {
		error_respond(app, req, rs, 400, NULL);
		return;
	}
	db = app_db(app);
	if (!db) {
		error_respond(app, req, rs, 503, NULL);
		return;
	}
	n = json_array_size(value);
	if (n > OUTLOOK_ITEMS_MAX) {
		log_warn("webhook outlook: %zu notifications in one POST; the first %d looked at", n,
			 OUTLOOK_ITEMS_MAX);
		n = OUTLOOK_ITEMS_MAX;
	}
	for (i = 0; i < n; i++) {
		json_t *it = json_array_get(value, i);
		const char *sub = json_string_value(json_object_get(it, "subscriptionId"));
		const char *cs = json_string_value(json_object_get(it, "clientState"));
		const char *what = json_string_value(json_object_get(it, lifecycle ? "lifecycleEvent" : "changeType"));
		long long integration_id = 0, row = 0;
		enum channel_event ev = CHANNEL_EV_MISSED;

		if (!json_is_object(it) || (lifecycle && lifecycle_event(what, &ev) < 0)) {
			log_info("webhook outlook: an item without a known %s skipped",
				 lifecycle ? "lifecycleEvent" : "shape");
			continue;
		}
		switch (channels_check_resource(db, "outlook", sub, cs, now, &integration_id, &row)) {
		case CHANNEL_OK:
			break;
		case CHANNEL_UNKNOWN:
			log_info("webhook outlook: notification for an unknown, stopped or expired subscription discarded");
			continue;
		case CHANNEL_BAD_TOKEN:
			log_warn("webhook outlook: notification with a wrong clientState discarded (from %s)",
				 req->remote_addr ? req->remote_addr : "-");
			forged++;
			continue;
		default:
			error_respond(app, req, rs, app_db_error_status(app), NULL);
			return;
		}
		if (lifecycle && channels_lifecycle(db, row, integration_id, ev, now) < 0) {
			error_respond(app, req, rs, app_db_error_status(app), NULL);
			return;
		}
		log_info("webhook outlook: integration %lld: %s%s", integration_id, lifecycle ? "lifecycle " : "",
			 what ? what : "change");
		accepted++;
		if (request_sync_after(req, integration_id, lifecycle && ev != CHANNEL_EV_MISSED) < 0)
			log_warn("webhook outlook: integration %lld: too many connections in one POST; tf-sync takes it",
				 integration_id);
	}
	if (!accepted) {
		error_respond(app, req, rs, forged ? 403 : 404, NULL);
		return;
	}
	ok = json_pack("{s:s}", "status", "accepted");
	if (!ok || resp_json(rs, 202, ok) < 0)
		error_respond(app, req, rs, 500, NULL);
	json_decref(ok);
}

void webhook_outlook_post(struct app *app, struct request *req, struct response *rs)
{
	if (!answer_validation(app, req, rs))
		notifications(app, req, rs, 0);
}

void webhook_outlook_lifecycle_post(struct app *app, struct request *req, struct response *rs)
{
	if (!answer_validation(app, req, rs))
		notifications(app, req, rs, 1);
}
