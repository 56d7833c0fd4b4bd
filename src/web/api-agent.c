/* api-agent.c: POST /api/agent/chat: one turn of the booking assistant (public, JSON). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "log.h"
#include "web.h"

/* A string member: 1 present (*out set), 0 absent or null, -1 another type or with a NUL. */
static int member_str(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*out = json_string_value(v);
	return 1;
}

static void retry_after(struct response *rs, long seconds)
{
	char v[24];

	if (seconds <= 0)
		return;
	snprintf(v, sizeof(v), "%ld", seconds);
	resp_header(rs, "Retry-After", v);
}

void api_agent_chat_post(struct app *app, struct request *req, struct response *rs)
{
	struct agent_request rq;
	struct agent_answer a;
	json_t *body = NULL;
	const char *msg, *slug, *conv;

	memset(&a, 0, sizeof(a));
	if (!req->json) {
		error_json_field(rs, 415, "unsupported_media_type", NULL,
				 "Erwartet wird ein JSON-Objekt (Content-Type: application/json).");
		return;
	}
	if (member_str(req->json, "message", &msg) <= 0) {
		error_json_field(rs, 400, "invalid_field", "message",
				 "Die Nachricht (message) fehlt oder ist kein Text.");
		return;
	}
	if (member_str(req->json, "doctor", &slug) <= 0) {
		error_json_field(rs, 400, "invalid_field", "doctor", "Die Praxis (doctor) fehlt.");
		return;
	}
	if (member_str(req->json, "conversation_id", &conv) < 0) {
		error_json_field(rs, 400, "invalid_field", "conversation_id",
				 "Die Gesprächskennung (conversation_id) ist ungültig.");
		return;
	}

	memset(&rq, 0, sizeof(rq));
	rq.doctor_slug = slug;
	rq.conversation = conv;
	rq.message = msg;
	rq.client_ip = req->remote_addr ? req->remote_addr : "";
	rq.now = time(NULL);
	agent_chat(app_db(app), app->conf, &rq, &a);

	switch (a.status) {
	case AGENT_OK:
		body = json_pack("{s:s, s:s, s:s, s:o}", "conversation_id", a.conversation, "reply",
				 a.reply ? a.reply : "", "mode", a.mode ? a.mode : "offline", "tool_calls",
				 a.tool_calls ? json_incref(a.tool_calls) : json_array());
		if (body && a.appointment)
			json_object_set(body, "appointment", a.appointment);
		if (!body || resp_json(rs, 200, body) < 0) {
			error_respond(app, req, rs, 500, NULL);
			break;
		}
		break;
	case AGENT_INVALID:
		error_json_field(rs, 400, "invalid_field", a.field, a.message);
		break;
	case AGENT_NOT_FOUND:
		error_json_field(rs, 404, "not_found", a.field, a.message);
		break;
	case AGENT_TOO_LONG:
		error_json_field(rs, 409, "conversation_too_long", NULL,
				 "Bitte beginnen Sie ein neues Gespräch.");
		break;
	case AGENT_RATE_LIMITED:
		retry_after(rs, a.retry_after);
		error_json_field(rs, 429, "rate_limited", NULL, a.message);
		break;
	case AGENT_UNAVAILABLE:
		retry_after(rs, a.retry_after);
		error_json_field(rs, 503, "assistant_unavailable", NULL, a.message);
		break;
	default:
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		break;
	}
	/* a booking made in this turn: its confirmation mail goes out after the answer */
	if (a.booked_id > 0)
		req->mail_after = a.booked_id;
	json_decref(body);
	agent_answer_free(&a);
}
