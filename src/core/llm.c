/* llm.c: the Chat Completions client (OpenAI-compatible endpoints) with tool calling, timeouts and one retry. */
#include "config.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bearer.h"
#include "http.h"
#include "llm.h"
#include "log.h"

int llm_configured(struct conf *c)
{
	const char *b = conf_get(c, "OPENAI_BASE_URL"), *k = conf_get(c, "OPENAI_API_KEY");

	return (b && *b) || (k && *k);
}

int llm_config_load(struct conf *c, struct llm_config *cfg, char *err, size_t errlen)
{
	const char *base = conf_get_default(c, "OPENAI_BASE_URL", LLM_DEFAULT_BASE);
	const char *key = conf_get_default(c, "OPENAI_API_KEY", "");
	const char *model = conf_get_default(c, "OPENAI_MODEL", LLM_DEFAULT_MODEL);
	long v;
	size_t n;

	memset(cfg, 0, sizeof(*cfg));
	if ((strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) ||
	    strlen(base) >= sizeof(cfg->base_url) - 20 || strpbrk(base, " \t\r\n")) {
		err_set(err, errlen, "OPENAI_BASE_URL must be an http:// or https:// URL "
			"(e.g. https://api.openai.com/v1)");
		return -1;
	}
	str_copy(cfg->base_url, base, sizeof(cfg->base_url));
	n = strlen(cfg->base_url);
	while (n > 0 && cfg->base_url[n - 1] == '/')
		cfg->base_url[--n] = '\0';
	if (strlen(key) >= sizeof(cfg->api_key) || strpbrk(key, " \t\r\n")) {
		err_set(err, errlen, "OPENAI_API_KEY is malformed (too long or contains blanks)");
		return -1;
	}
	str_copy(cfg->api_key, key, sizeof(cfg->api_key));
	if (strlen(model) >= sizeof(cfg->model) || strpbrk(model, "\r\n")) {
		err_set(err, errlen, "OPENAI_MODEL is malformed");
		return -1;
	}
	str_copy(cfg->model, model, sizeof(cfg->model));
	if (conf_get_long(c, "TF_LLM_TIMEOUT", LLM_TIMEOUT, 1, 300, &v, err, errlen) < 0)
		return -1;
	cfg->timeout = v;
	if (conf_get_long(c, "TF_LLM_TURN_TIMEOUT", LLM_TURN_TIMEOUT, 5, 600, &v, err, errlen) < 0)
		return -1;
	cfg->turn_timeout = v;
	if (conf_get_long(c, "TF_LLM_MAX_STEPS", LLM_MAX_STEPS, 1, 20, &v, err, errlen) < 0)
		return -1;
	cfg->max_steps = (int)v;
	return 0;
}

/* The first choice's message of a Chat Completions answer, checked: a new reference or NULL. */
static json_t *answer_message(const char *body, size_t len)
{
	json_t *root = json_loadb(body, len, 0, NULL), *choices, *msg, *content, *calls, *out = NULL;

	if (!json_is_object(root))
		goto out;
	choices = json_object_get(root, "choices");
	if (!json_is_array(choices) || json_array_size(choices) == 0)
		goto out;
	msg = json_object_get(json_array_get(choices, 0), "message");
	if (!json_is_object(msg))
		goto out;
	content = json_object_get(msg, "content");
	if (content && !json_is_null(content) && !json_is_string(content))
		goto out;
	calls = json_object_get(msg, "tool_calls");
	if (calls && !json_is_null(calls) && !json_is_array(calls))
		goto out;
	out = json_incref(msg);
	if (!json_object_get(out, "role"))
		json_object_set_new(out, "role", json_string("assistant"));
out:
	json_decref(root);
	return out;
}

/* Retry-After in whole seconds (rounded up), 0 when absent or unreadable. */
static long retry_after_seconds(const char *v)
{
	long ms = v && *v ? bearer_retry_after_ms(v) : -1;

	if (ms < 0)
		return 0;
	return (ms + 999) / 1000;
}

enum tf_err llm_chat(const struct llm_config *cfg, json_t *messages, json_t *tools, time_t deadline,
		     json_t **message, struct llm_error *e)
{
	static const char *const headers[] = { "Content-Type: application/json",
					       "Accept: application/json", NULL };
	struct http_request rq;
	struct http_response rs;
	char url[1100], where[100], herr[160];
	json_t *req = NULL;
	char *body = NULL;
	enum tf_err rc = TF_ERR_INVALID, hr;
	int attempt;
	long wait, left;

	*message = NULL;
	memset(e, 0, sizeof(*e));
	snprintf(url, sizeof(url), "%s/chat/completions", cfg->base_url);
	http_url_for_log(url, where, sizeof(where));
	req = json_pack("{s:s, s:O, s:f}", "model", cfg->model, "messages", messages,
			"temperature", 0.2);
	if (!req) {
		str_copy(e->message, "out of memory", sizeof(e->message));
		return TF_ERR_NOMEM;
	}
	if (tools && json_array_size(tools) > 0) {
		json_object_set(req, "tools", tools);
		json_object_set_new(req, "tool_choice", json_string("auto"));
	}
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!body) {
		str_copy(e->message, "out of memory", sizeof(e->message));
		return TF_ERR_NOMEM;
	}

	for (attempt = 0; attempt < 2; attempt++) {
		memset(&rq, 0, sizeof(rq));
		rq.method = "POST";
		rq.url = url;
		rq.headers = headers;
		rq.body = body;
		rq.body_len = strlen(body);
		rq.bearer = cfg->api_key[0] ? cfg->api_key : NULL;
		rq.timeout = cfg->timeout;
		if (deadline > 0) {
			left = (long)(deadline - time(NULL));
			if (left < 1) {
				snprintf(e->message, sizeof(e->message), "%s: the turn's time is up", where);
				rc = TF_ERR_IO;
				goto out;
			}
			if (left < rq.timeout)
				rq.timeout = left;
		}
		rq.max_response = LLM_MAX_RESPONSE;
		herr[0] = '\0';
		hr = http_do(&rq, &rs, herr, sizeof(herr));
		e->http_status = rs.status;
		e->retry_after = 0;
		if (hr != TF_OK) {
			snprintf(e->message, sizeof(e->message), "%s: %s", where,
				 hr == TF_ERR_TOOBIG ? "answer too large" : herr[0] ? herr : tf_strerror(hr));
			rc = hr == TF_ERR_TOOBIG ? TF_ERR_INVALID : hr == TF_ERR_IO ? TF_ERR_IO : TF_ERR_INVALID;
			http_response_free(&rs);
			goto out;
		}
		if (rs.status == 200) {
			*message = answer_message(rs.body.data ? rs.body.data : "", rs.body.len);
			if (*message) {
				rc = TF_OK;
			} else {
				snprintf(e->message, sizeof(e->message),
					 "%s: the answer is not a Chat Completions object", where);
				rc = TF_ERR_INVALID;
			}
			http_response_free(&rs);
			goto out;
		}
		if (rs.status == 401 || rs.status == 403) {
			snprintf(e->message, sizeof(e->message),
				 "%s: HTTP %ld (the endpoint refused OPENAI_API_KEY)", where, rs.status);
			rc = TF_ERR_AUTH;
			http_response_free(&rs);
			goto out;
		}
		e->retry_after = retry_after_seconds(rs.retry_after);
		snprintf(e->message, sizeof(e->message), "%s: HTTP %ld%s", where, rs.status,
			 rs.status == 429 ? " (rate limited)" : "");
		if (rs.status != 429 && rs.status < 500) {
			rc = TF_ERR_INVALID;
			http_response_free(&rs);
			goto out;
		}
		rc = TF_ERR_IO;
		wait = -1;
		if ((rs.status == 429 || rs.status == 503) && rs.retry_after[0])
			wait = e->retry_after <= LLM_RETRY_WAIT_MAX ? e->retry_after : -1;
		else if (rs.status >= 500)
			wait = 1;
		http_response_free(&rs);
		if (wait < 0 || attempt > 0 || (deadline > 0 && time(NULL) + wait + 1 >= deadline))
			goto out;
		log_info("llm: %s, trying once more in %ld s", e->message, wait);
		if (wait > 0)
			sleep((unsigned)wait);
	}
out:
	free(body);
	return rc;
}
