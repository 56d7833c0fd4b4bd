#!/usr/bin/python3
"""openai.py: a fake OpenAI-compatible Chat Completions server for the tests (stdlib only).

Point the app at it with FakeOpenAI.env(): OPENAI_BASE_URL = {base}/v1, OPENAI_API_KEY, OPENAI_MODEL.

Python:
    from openai import FakeOpenAI          # sys.path += tests/fakes
    f = FakeOpenAI(port=0).start()
    f.queue_tool_calls(("check_calendar_availability", {"date": "tomorrow", "duration_minutes": 60}))
    f.queue_reply("Morgen ist um 9:00 frei.")
    f.queue_error(429, retry_after=30); f.queue_reply("...", delay=5)   # a slow answer (timeouts)
    f.chat_requests()  # the recorded request bodies; f.stop()
CLI:
    python3 tests/fakes/openai.py [--port N] [--latency-ms 50] [--api-key KEY | --no-key] [--reply TEXT]
    prints the base URL on stdout, the settings on stderr, runs until SIGTERM/SIGINT.

Wire format (POST /v1/chat/completions): the answer is {"id": "chatcmpl-…", "object": "chat.completion",
"created", "model", "system_fingerprint", "choices": [{"index": 0, "message": {"role": "assistant", "content":
text or null, "refusal": null, "tool_calls": [{"id": "call_…", "type": "function", "function": {"name",
"arguments": a JSON *string*}}]}, "logprobs": null, "finish_reason": "tool_calls" | "stop"}], "usage":
{"prompt_tokens", "completion_tokens", "total_tokens"}}.
Refused as the real API refuses them (error object {"error": {"message", "type", "param", "code"}}):
  401 no or wrong key (code invalid_api_key), 404 unknown model (model_not_found), 400 a body that is not
  JSON, model missing, messages missing/empty/not a list, a message without a valid role (system, developer,
  user, assistant, tool, function), user/system content missing, assistant tool_calls malformed (id, type
  "function", function.name, function.arguments a string), a tool message whose tool_call_id does not answer
  a tool call of the preceding assistant message, an assistant message with tool_calls not followed by a
  tool message for each id, tools malformed (type "function", name ^[a-zA-Z0-9_-]{1,64}$, parameters a JSON
  schema object: type "object", properties an object of schemas with known types, required naming
  properties), tool_choice without tools, temperature outside 0..2, n != 1, stream.
Scripted answers are queued by the test (queue_reply, queue_tool_calls, queue_raw_tool_calls for a
malformed call whose arguments are not JSON, queue_error for 429 with Retry-After / 500 / 503, delay= for
slow answers); with the queue empty the fake answers default_reply (knob). Control: POST /_fake/script
{"replies": [item, ...]} appends, DELETE /_fake/script empties, plus the common /_fake/ endpoints
(requests, knobs, fail, reset). GET /v1/models lists the models.
"""
import argparse
import json
import random
import re
import string
import sys
import threading
import time

from common import BaseHandler, FakeBase, Sender, serve_cli

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
SCHEMA_TYPES = {"string", "integer", "number", "boolean", "object", "array", "null"}
KNOBS = ("latency_ms", "api_key", "models", "default_reply", "retry_after", "log_requests")
FAIL_KINDS = {
	"rate_limit": (429, "requests", "rate_limit_exceeded",
		       "Rate limit reached for requests. Please try again later."),
	"server_error": (500, "server_error", None,
			 "The server had an error while processing your request. Sorry about that!"),
	"overloaded": (503, "server_error", None, "The engine is currently overloaded, please try again later."),
}


class ApiError(Exception):
	"""An OpenAI error answer."""

	def __init__(self, status, message, type_="invalid_request_error", param=None, code=None, headers=None):
		super().__init__(message)
		self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
		self.headers = headers or {}

	def body(self):
		return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad(message, param=None, code=None):
	return ApiError(400, message, param=param, code=code)


def rand_id(prefix, n=24):
	return prefix + "".join(random.choice(string.ascii_letters + string.digits) for _ in range(n))


# ---------------------------------------------------------------- request validation

def check_schema(s, where, top=False):
	"""A JSON schema as OpenAI accepts it for function parameters (the subset used in practice)."""
	if not isinstance(s, dict):
		raise bad(f"Invalid schema for function: {where} is not of type 'object'.", where, "invalid_function_parameters")
	t = s.get("type")
	types = t if isinstance(t, list) else [t]
	if top and t != "object":
		raise bad(f"Invalid schema for function: schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{t}\"'.",
			  where, "invalid_function_parameters")
	if t is not None and not all(isinstance(x, str) and x in SCHEMA_TYPES for x in types):
		raise bad(f"Invalid schema for function: {t!r} is not valid under any of the given schemas.", where,
			  "invalid_function_parameters")
	if t is None and not any(k in s for k in ("enum", "anyOf", "oneOf", "allOf", "$ref", "const")):
		raise bad(f"Invalid schema for function: {where} has no 'type'.", where, "invalid_function_parameters")
	if "enum" in s and (not isinstance(s["enum"], list) or not s["enum"]):
		raise bad(f"Invalid schema for function: {where}.enum must be a non-empty array.", where,
			  "invalid_function_parameters")
	props = s.get("properties")
	if props is not None:
		if not isinstance(props, dict):
			raise bad(f"Invalid schema for function: {where}.properties is not of type 'object'.", where,
				  "invalid_function_parameters")
		for k, v in props.items():
			check_schema(v, f"{where}.properties.{k}")
	req = s.get("required")
	if req is not None:
		if not isinstance(req, list) or not all(isinstance(x, str) for x in req):
			raise bad(f"Invalid schema for function: {where}.required is not of type 'array'.", where,
				  "invalid_function_parameters")
		missing = [x for x in req if x not in (props or {})]
		if missing:
			raise bad(f"Invalid schema for function: In context=(), 'required' names {missing[0]!r}, which is "
				  "not in 'properties'.", where, "invalid_function_parameters")
	if "items" in s:
		check_schema(s["items"], f"{where}.items")


def check_tools(tools):
	if not isinstance(tools, list):
		raise bad("Invalid type for 'tools': expected an array, but got something else instead.", "tools",
			  "invalid_type")
	if not tools:
		raise bad("Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array "
			  "instead.", "tools", "empty_array")
	names = set()
	for i, t in enumerate(tools):
		p = f"tools[{i}]"
		if not isinstance(t, dict):
			raise bad(f"Invalid type for '{p}': expected an object.", p, "invalid_type")
		if t.get("type") != "function":
			raise bad(f"Invalid value: '{t.get('type')}'. Supported values are: 'function'.", f"{p}.type",
				  "invalid_value")
		fn = t.get("function")
		if not isinstance(fn, dict):
			raise bad(f"Missing required parameter: '{p}.function'.", f"{p}.function", "missing_required_parameter")
		name = fn.get("name")
		if not isinstance(name, str) or not TOOL_NAME_RE.match(name):
			raise bad(f"Invalid '{p}.function.name': string does not match pattern. Expected a string that "
				  "matches the pattern '^[a-zA-Z0-9_-]+$'.", f"{p}.function.name", "invalid_value")
		if name in names:
			raise bad(f"Invalid 'tools': duplicate function name '{name}'.", "tools", "invalid_value")
		names.add(name)
		if "description" in fn and not isinstance(fn["description"], str):
			raise bad(f"Invalid type for '{p}.function.description': expected a string.",
				  f"{p}.function.description", "invalid_type")
		if "parameters" in fn:
			check_schema(fn["parameters"], f"{p}.function.parameters", top=True)
	return names


def check_messages(msgs):
	if msgs is None:
		raise bad("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
	if not isinstance(msgs, list):
		raise bad("Invalid type for 'messages': expected an array of objects, but got something else instead.",
			  "messages", "invalid_type")
	if not msgs:
		raise bad("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty "
			  "array instead.", "messages", "empty_array")
	pending = None          # ids of the last assistant message's tool calls not answered yet
	pending_at = None
	answerable = set()      # ids of the preceding assistant message's tool calls
	for i, m in enumerate(msgs):
		p = f"messages[{i}]"
		if not isinstance(m, dict):
			raise bad(f"Invalid type for '{p}': expected an object, but got something else instead.", p,
				  "invalid_type")
		role = m.get("role")
		if role is None:
			raise bad(f"Missing required parameter: '{p}.role'.", f"{p}.role", "missing_required_parameter")
		if role not in ROLES:
			raise bad(f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', "
				  "'tool', and 'developer'.", f"{p}.role", "invalid_value")
		if pending and role != "tool":
			raise bad("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
				  "'tool_call_id'. The following tool_call_ids did not have response messages: "
				  + ", ".join(sorted(pending)), f"messages.[{pending_at}].role")
		content = m.get("content")
		if role in ("system", "developer", "user"):
			if "content" not in m:
				raise bad(f"Missing required parameter: '{p}.content'.", f"{p}.content", "missing_required_parameter")
			if not isinstance(content, (str, list)):
				raise bad(f"Invalid type for '{p}.content': expected one of a string or array of objects, but got "
					  "something else instead.", f"{p}.content", "invalid_type")
			answerable = set()
		elif role == "assistant":
			calls = m.get("tool_calls")
			if content is not None and not isinstance(content, (str, list)):
				raise bad(f"Invalid type for '{p}.content': expected one of a string or array of objects.",
					  f"{p}.content", "invalid_type")
			if calls is None and content is None and "function_call" not in m:
				raise bad(f"Invalid value for '{p}.content': expected a string, got null.", f"{p}.content",
					  "invalid_value")
			answerable = set()
			if calls is not None:
				if not isinstance(calls, list) or not calls:
					raise bad(f"Invalid 'messages[{i}].tool_calls': expected a non-empty array.",
						  f"{p}.tool_calls", "invalid_value")
				for j, c in enumerate(calls):
					q = f"{p}.tool_calls[{j}]"
					if not isinstance(c, dict):
						raise bad(f"Invalid type for '{q}': expected an object.", q, "invalid_type")
					if not isinstance(c.get("id"), str) or not c["id"]:
						raise bad(f"Missing required parameter: '{q}.id'.", f"{q}.id", "missing_required_parameter")
					if c.get("type") != "function":
						raise bad(f"Missing required parameter: '{q}.type'.", f"{q}.type",
							  "missing_required_parameter")
					fn = c.get("function")
					if not isinstance(fn, dict):
						raise bad(f"Missing required parameter: '{q}.function'.", f"{q}.function",
							  "missing_required_parameter")
					if not isinstance(fn.get("name"), str):
						raise bad(f"Missing required parameter: '{q}.function.name'.", f"{q}.function.name",
							  "missing_required_parameter")
					if "arguments" not in fn:
						raise bad(f"Missing required parameter: '{q}.function.arguments'.",
							  f"{q}.function.arguments", "missing_required_parameter")
					if not isinstance(fn["arguments"], str):
						raise bad(f"Invalid type for '{q}.function.arguments': expected a string, but got an "
							  f"{type(fn['arguments']).__name__} instead.", f"{q}.function.arguments",
							  "invalid_type")
					answerable.add(c["id"])
				pending = set(answerable)
				pending_at = i
		elif role == "tool":
			tid = m.get("tool_call_id")
			if not isinstance(tid, str):
				raise bad(f"Missing required parameter: '{p}.tool_call_id'.", f"{p}.tool_call_id",
					  "missing_required_parameter")
			if tid not in answerable:
				raise bad("Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
					  "with 'tool_calls'.", f"messages.[{i}].role")
			if not isinstance(content, (str, list)):
				raise bad(f"Invalid type for '{p}.content': expected one of a string or array of objects.",
					  f"{p}.content", "invalid_type")
			if pending:
				pending.discard(tid)
	if pending:
		raise bad("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
			  "'tool_call_id'. The following tool_call_ids did not have response messages: "
			  + ", ".join(sorted(pending)), f"messages.[{pending_at}].role")


def estimate_tokens(obj):
	return max(1, len(json.dumps(obj, ensure_ascii=False)) // 4)


# ---------------------------------------------------------------- the fake

class FakeOpenAI(FakeBase):
	"""The fake: scripted answers, knobs, the request log. Every public method takes the lock."""
	KNOBS = KNOBS
	FAIL_KINDS = FAIL_KINDS
	FAIL_PREFIX = "/v1/"
	DEFAULT_KEY = "sk-test-fake-0123456789abcdefABCDEF"
	DEFAULT_MODEL = "gpt-4o-mini"

	def __init__(self, port=0, host="127.0.0.1", api_key=DEFAULT_KEY, latency_ms=0, default_reply="OK.", seed=1):
		self.host, self.port = host, port
		self.lock = threading.RLock()
		self.rng = random.Random(seed)
		self.latency_ms = latency_ms
		self.api_key = api_key                # None: no key needed (llama.cpp, Ollama)
		self.models = [self.DEFAULT_MODEL, "gpt-4o", "llama-3.1-8b-instruct"]
		self.default_reply = default_reply
		self.retry_after = "30"
		self.log_requests = True
		self.server = None
		self.base_url = None
		self._thread = None
		self.sender = Sender(lambda job: None, workers=0)
		self.reset()

	def reset(self):
		with self.lock:
			self.script = []
			self.requests, self.deliveries = [], []
			self.failures = []

	def env(self):
		e = {"OPENAI_BASE_URL": self.base_url + "/v1", "OPENAI_MODEL": self.DEFAULT_MODEL}
		if self.api_key:
			e["OPENAI_API_KEY"] = self.api_key
		return e

	# ------------------------------------------------------------ the script

	def queue(self, item):
		"""Append one scripted answer: {"content"} | {"tool_calls": [{"name", "arguments": dict or raw
		string, "id"?}]} | {"status", "retry_after"?, "message"?}; "delay" (seconds) for any of them."""
		if not isinstance(item, dict):
			raise ValueError("a script item is an object")
		if not any(k in item for k in ("content", "tool_calls", "status")):
			raise ValueError("a script item needs content, tool_calls or status")
		with self.lock:
			self.script.append(dict(item))

	def queue_reply(self, content, delay=0):
		self.queue({"content": content, "delay": delay})

	def queue_tool_calls(self, *calls, content=None, delay=0):
		"""calls: (name, arguments dict) pairs; several make one turn with several tool calls."""
		self.queue({"tool_calls": [{"name": n, "arguments": a} for n, a in calls], "content": content,
			    "delay": delay})

	def queue_raw_tool_calls(self, *calls, delay=0):
		"""calls: dicts {"name"?, "arguments": raw string, "id"?} sent as they are (malformed calls)."""
		self.queue({"tool_calls": [dict(c, raw=True) for c in calls], "delay": delay})

	def queue_error(self, status, retry_after=None, delay=0):
		self.queue({"status": status, "retry_after": retry_after, "delay": delay})

	def pending(self):
		with self.lock:
			return len(self.script)

	def _next(self):
		with self.lock:
			return self.script.pop(0) if self.script else None

	def chat_requests(self):
		"""The JSON bodies of the POST /v1/chat/completions requests so far."""
		return [r["body"] for r in self.request_log(0, "/v1/chat/completions") if r["method"] == "POST"]

	# ------------------------------------------------------------ answers

	def check_auth(self, headers):
		if not self.api_key:
			return
		h = headers.get("Authorization") or ""
		if not h:
			raise ApiError(401, "You didn't provide an API key. You need to provide your API key in an Authorization "
				       "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field "
				       "(with blank username) if you're accessing the API from your browser and are prompted for a "
				       "username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.")
		if not h.startswith("Bearer ") or h[7:].strip() != self.api_key:
			shown = h[7:][:6] + "*" * 10 if h.startswith("Bearer ") else "***"
			raise ApiError(401, f"Incorrect API key provided: {shown}. You can find your API key at "
				       "https://platform.openai.com/account/api-keys.", code="invalid_api_key")

	def completion(self, req):
		"""Validate a Chat Completions request and answer it (the script, else default_reply)."""
		if not isinstance(req, dict):
			raise bad("We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
				  "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
				  "valid JSON.)")
		model = req.get("model")
		if model is None:
			raise bad("you must provide a model parameter")
		if not isinstance(model, str):
			raise bad("Invalid type for 'model': expected a string.", "model", "invalid_type")
		check_messages(req.get("messages"))
		tools = req.get("tools")
		names = check_tools(tools) if tools is not None else set()
		tc = req.get("tool_choice")
		if tc is not None:
			if tools is None:
				raise bad("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
					  "tool_choice")
			if not (tc in ("none", "auto", "required") or (isinstance(tc, dict) and tc.get("type") == "function")):
				raise bad(f"Invalid value: '{tc}'. Supported values are: 'none', 'auto', and 'required'.",
					  "tool_choice", "invalid_value")
		temp = req.get("temperature")
		if temp is not None and (isinstance(temp, bool) or not isinstance(temp, (int, float)) or not 0 <= temp <= 2):
			raise bad(f"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got {temp} "
				  "instead." if isinstance(temp, (int, float)) else "Invalid type for 'temperature'.",
				  "temperature", "decimal_above_max_value")
		if req.get("n", 1) != 1:
			raise bad("The fake answers one choice only (n=1).", "n")
		if req.get("stream"):
			raise bad("The fake does not stream (stream must be false).", "stream")
		with self.lock:
			models = list(self.models)
		if model not in models:
			raise ApiError(404, f"The model `{model}` does not exist or you do not have access to it.",
				       code="model_not_found")

		item = self._next() or {"content": self.default_reply}
		if item.get("delay"):
			time.sleep(float(item["delay"]))
		if item.get("status"):
			st = int(item["status"])
			hdrs = {}
			if item.get("retry_after") is not None:
				hdrs["Retry-After"] = str(item["retry_after"])
			if st == 429:
				raise ApiError(429, item.get("message") or f"Rate limit reached for {model} on requests per min "
					       "(RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.", "requests",
					       code="rate_limit_exceeded", headers=hdrs)
			if st >= 500:
				raise ApiError(st, item.get("message") or "The server had an error while processing your request. "
					       "Sorry about that!", "server_error", headers=hdrs)
			raise ApiError(st, item.get("message") or "scripted error", headers=hdrs)
		msg = {"role": "assistant", "content": item.get("content"), "refusal": None}
		finish = "stop"
		if item.get("tool_calls"):
			calls = []
			for c in item["tool_calls"]:
				if c.get("raw"):
					call = {"id": c.get("id", rand_id("call_")), "type": "function",
						"function": {"arguments": c.get("arguments", "")}}
					if c.get("name") is not None:
						call["function"]["name"] = c["name"]
					calls.insert(len(calls), call)
					continue
				if c["name"] not in names:
					raise ApiError(500, f"fake script error: the tool {c['name']!r} was not declared in tools",
						       "server_error")
				args = c["arguments"]
				calls.append({"id": c.get("id") or rand_id("call_"), "type": "function",
					      "function": {"name": c["name"],
							   "arguments": args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)}})
			msg["tool_calls"] = calls
			finish = "tool_calls"
		if msg["content"] is None and not msg.get("tool_calls"):
			msg["content"] = ""
		prompt = estimate_tokens(req.get("messages"))
		done = estimate_tokens(msg)
		return {"id": rand_id("chatcmpl-", 29), "object": "chat.completion", "created": int(time.time()),
			"model": model + ("-2024-07-18" if model == self.DEFAULT_MODEL else ""),
			"system_fingerprint": "fp_fake0001",
			"choices": [{"index": 0, "message": msg, "logprobs": None, "finish_reason": finish}],
			"usage": {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}}


class Handler(BaseHandler):
	json_type = "application/json"

	def _send(self, status, body=b"", ctype=None, headers=None):
		try:
			super()._send(status, body, ctype, headers)
		except (BrokenPipeError, ConnectionResetError):
			self.close_connection = True     # the client gave up (a timeout test): not the fake's error

	def _answer(self, exc):
		if isinstance(exc, ApiError):
			self._json(exc.status, exc.body(), exc.headers)
			return True
		return False

	def _internal_error(self):
		self._json(500, {"error": {"message": "The server had an error while processing your request. Sorry about that!",
					   "type": "server_error", "param": None, "code": None}})

	def _too_large(self):
		self._json(413, {"error": {"message": "Request too large.", "type": "invalid_request_error", "param": None,
					   "code": None}})

	def _control(self, method, path, q, j):
		f = self.fake
		if (method, path) == ("POST", "/_fake/script"):
			items = j.get("replies")
			if not isinstance(items, list):
				raise ValueError("replies: a list")
			for it in items:
				f.queue(it)
			self._json(200, {"pending": f.pending()})
		elif (method, path) == ("DELETE", "/_fake/script"):
			with f.lock:
				f.script = []
			self._json(200, {})
		elif (method, path) == ("GET", "/_fake/script"):
			self._json(200, {"pending": f.pending()})
		else:
			super()._control(method, path, q, j)

	def _serve(self, method, path, q, body):
		f = self.fake
		with f.lock:
			kind = f._match_failure(method, path)
			retry = f.retry_after
		if kind:
			st, typ, code, text = FAIL_KINDS[kind]
			raise ApiError(st, text, typ, code=code, headers={"Retry-After": retry} if st in (429, 503) else None)
		if path in ("/v1/chat/completions", "/v1/models") or path.startswith("/v1/models/"):
			f.check_auth(self.headers)
		if (method, path) == ("POST", "/v1/chat/completions"):
			ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
			try:
				req = json.loads(body.decode("utf-8")) if body else None
			except ValueError:
				req = None
			if ctype != "application/json" and req is None:
				raise bad("Invalid Content-Type header (), expected application/json.")
			self._json(200, f.completion(req))
		elif (method, path) == ("GET", "/v1/models"):
			with f.lock:
				models = list(f.models)
			self._json(200, {"object": "list", "data": [{"id": m, "object": "model", "created": 1715367049,
								     "owned_by": "system"} for m in models]})
		elif method == "GET" and path.startswith("/v1/models/"):
			m = path[len("/v1/models/"):]
			with f.lock:
				ok = m in f.models
			if not ok:
				raise ApiError(404, f"The model '{m}' does not exist", param="model", code="model_not_found")
			self._json(200, {"id": m, "object": "model", "created": 1715367049, "owned_by": "system"})
		elif path in ("/v1/chat/completions", "/v1/models"):
			raise ApiError(405, f"Invalid method for URL ({method} {path})")
		else:
			raise ApiError(404, f"Invalid URL ({method} {path})")


FakeOpenAI.HANDLER = Handler


def main(argv=None):
	ap = argparse.ArgumentParser(description="Fake OpenAI-compatible Chat Completions server for tests.")
	ap.add_argument("--port", type=int, default=0)
	ap.add_argument("--host", default="127.0.0.1")
	ap.add_argument("--latency-ms", type=float, default=0)
	ap.add_argument("--api-key", default=FakeOpenAI.DEFAULT_KEY)
	ap.add_argument("--no-key", action="store_true", help="accept requests without a key (llama.cpp style)")
	ap.add_argument("--reply", default="OK.", help="the answer when no script is queued")
	ap.add_argument("--no-log", action="store_true", help="do not record requests (long benches)")
	a = ap.parse_args(argv)
	fake = FakeOpenAI(port=a.port, host=a.host, api_key=None if a.no_key else a.api_key, latency_ms=a.latency_ms,
			  default_reply=a.reply)
	if a.no_log:
		fake.log_requests = False
	return serve_cli(fake, fake.env)


if __name__ == "__main__":
	sys.exit(main())
