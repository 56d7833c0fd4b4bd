/* llm.h: a client for any OpenAI-compatible Chat Completions endpoint (OpenAI, llama.cpp server, Ollama, vLLM) with tool calling. */
#ifndef TF_LLM_H
#define TF_LLM_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "conf.h"
#include "util.h"

#define LLM_DEFAULT_BASE   "https://api.openai.com/v1"
#define LLM_DEFAULT_MODEL  "gpt-4o-mini"
#define LLM_TIMEOUT        30      /* seconds per request (TF_LLM_TIMEOUT, 1..300) */
#define LLM_MAX_STEPS      6       /* model calls per turn (TF_LLM_MAX_STEPS, 1..20) */
#define LLM_TURN_TIMEOUT   50      /* seconds for a whole turn, all calls and waits (TF_LLM_TURN_TIMEOUT,
				      5..600): below nginx's fastcgi_read_timeout of 60 s */
#define LLM_MAX_RESPONSE   (1024 * 1024)
#define LLM_RETRY_WAIT_MAX 10      /* a 429/503 Retry-After up to this many seconds is waited out once */

struct llm_config {
	char base_url[1024];         /* OPENAI_BASE_URL without a trailing '/', default LLM_DEFAULT_BASE */
	char api_key[512];           /* OPENAI_API_KEY ("" = send no Authorization: llama.cpp, Ollama) */
	char model[256];             /* OPENAI_MODEL, default LLM_DEFAULT_MODEL */
	long timeout;                /* seconds per request */
	long turn_timeout;           /* seconds per turn */
	int max_steps;
};

/* 1 when an endpoint is configured (OPENAI_BASE_URL or OPENAI_API_KEY set and not empty), else 0. */
int llm_configured(struct conf *c);

/* Fill cfg from the configuration. 0, or -1 with err naming the bad setting (an OPENAI_BASE_URL
 * that is not http(s), a timeout out of range). */
int llm_config_load(struct conf *c, struct llm_config *cfg, char *err, size_t errlen);

/* Why a call failed. */
struct llm_error {
	long http_status;            /* 0 when no answer arrived */
	long retry_after;            /* seconds, from Retry-After (0 when absent) */
	char message[300];           /* English, for logs: never the key, never message contents */
};

/* One Chat Completions call, to be finished by deadline (a time(NULL) value; 0 = no deadline: each
 * request gets cfg->timeout, and neither a request nor a Retry-After wait may reach past the
 * deadline): POST {base_url}/chat/completions with
 * {"model", "messages", "tools", "tool_choice": "auto", "temperature": 0.2} (tools left out when
 * NULL or empty). A 429 or 503 with Retry-After <= LLM_RETRY_WAIT_MAX is waited out and tried once
 * more; a 5xx without it is tried once more after one second. Returns TF_OK with *message = the
 * first choice's message object ({"role": "assistant", "content": ... or null, "tool_calls": [...]},
 * a new reference), or TF_ERR_IO (network, timeout, 5xx, 429; e filled), TF_ERR_AUTH (401/403),
 * TF_ERR_INVALID (any other status, or an answer that is not a Chat Completions object). */
enum tf_err llm_chat(const struct llm_config *cfg, json_t *messages, json_t *tools, time_t deadline,
		     json_t **message, struct llm_error *e);

#endif
