#!/usr/bin/env python3
"""test_fake_openai.py: the fake Chat Completions server (tests/fakes/openai.py) is strict: it refuses what the real API refuses.

urllib only; TAP through tests/lib/tap.py.
"""
import json
import os
import re
import subprocess
import sys
import time

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakes"))

from tap import Tap  # noqa: E402
from openai import FakeOpenAI  # noqa: E402
from common import fetch as http, js  # noqa: E402

t = Tap()
f = FakeOpenAI().start()
B = f.base_url + "/v1"
KEY = f.api_key
AUTH = {"Authorization": "Bearer " + KEY}
TOOLS = [
	{"type": "function", "function": {"name": "check_calendar_availability", "description": "free times",
					  "parameters": {"type": "object", "properties": {
						  "date": {"type": "string"}, "duration_minutes": {"type": "integer"}},
						  "required": ["date"]}}},
	{"type": "function", "function": {"name": "book_appointment", "parameters": {
		"type": "object", "properties": {"customer_name": {"type": "string"},
						 "service": {"type": "string", "enum": ["Haircut", "Manicure"]}},
		"required": ["customer_name", "service"]}}},
]


def chat(body, headers=AUTH):
	st, h, b = http("POST", B + "/chat/completions", body=body, headers=headers)
	return st, h, js(b)


def req(messages, **kw):
	b = {"model": "gpt-4o-mini", "messages": messages}
	b.update(kw)
	return b


USER = [{"role": "user", "content": "Hallo"}]


def err400(body, name, param_re=None):
	with t.case(f"400: {name}"):
		st, _, j = chat(body)
		assert st == 400, (st, j)
		e = j["error"]
		assert set(e) == {"message", "type", "param", "code"} and e["type"] == "invalid_request_error", e
		assert e["message"], e
		if param_re:
			assert e["param"] and re.search(param_re, e["param"]), e


try:
	with t.case("a plain answer in the exact wire format (chat.completion, finish_reason stop, usage)"):
		f.queue_reply("Guten Tag!")
		st, h, j = chat(req(USER))
		assert st == 200, (st, j)
		assert h["Content-Type"].startswith("application/json"), h
		assert set(j) >= {"id", "object", "created", "model", "choices", "usage"}, j
		assert j["id"].startswith("chatcmpl-") and j["object"] == "chat.completion", j
		assert isinstance(j["created"], int) and j["model"].startswith("gpt-4o-mini"), j
		c = j["choices"][0]
		assert c["index"] == 0 and c["finish_reason"] == "stop", c
		assert c["message"]["role"] == "assistant" and c["message"]["content"] == "Guten Tag!", c
		assert "tool_calls" not in c["message"], c
		u = j["usage"]
		assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] > 0, u

	with t.case("several tool calls in one turn: ids, type function, arguments a JSON string, finish tool_calls"):
		f.queue_tool_calls(("check_calendar_availability", {"date": "tomorrow", "duration_minutes": 60}),
				   ("check_calendar_availability", {"date": "übermorgen"}))
		st, _, j = chat(req(USER, tools=TOOLS, tool_choice="auto"))
		assert st == 200, (st, j)
		c = j["choices"][0]
		assert c["finish_reason"] == "tool_calls" and c["message"]["content"] is None, c
		calls = c["message"]["tool_calls"]
		assert len(calls) == 2 and len({x["id"] for x in calls}) == 2, calls
		for x in calls:
			assert x["id"].startswith("call_") and x["type"] == "function", x
			assert isinstance(x["function"]["arguments"], str), x
		assert json.loads(calls[0]["function"]["arguments"]) == {"date": "tomorrow", "duration_minutes": 60}
		assert json.loads(calls[1]["function"]["arguments"]) == {"date": "übermorgen"}
		CALLS = calls

	with t.case("the tool results answered in the next request are accepted"):
		msgs = USER + [c["message"]] + [{"role": "tool", "tool_call_id": x["id"], "content": '{"ok": true}'}
						for x in CALLS]
		f.queue_reply("Morgen um 9:00.")
		st, _, j = chat(req(msgs, tools=TOOLS))
		assert st == 200 and j["choices"][0]["message"]["content"] == "Morgen um 9:00.", (st, j)

	with t.case("a malformed scripted call: arguments that are not JSON are sent as they are"):
		f.queue_raw_tool_calls({"name": "book_appointment", "arguments": "{customer_name: Jo"})
		st, _, j = chat(req(USER, tools=TOOLS))
		x = j["choices"][0]["message"]["tool_calls"][0]
		assert st == 200 and x["function"]["arguments"] == "{customer_name: Jo", j

	with t.case("401: no key, a wrong key (invalid_api_key; the key is not echoed whole)"):
		st, _, j = chat(req(USER), headers={})
		assert st == 401 and j["error"]["type"] == "invalid_request_error", (st, j)
		assert "API key" in j["error"]["message"], j
		st, _, j = chat(req(USER), headers={"Authorization": "Bearer sk-wrong-key-123456789"})
		assert st == 401 and j["error"]["code"] == "invalid_api_key", (st, j)
		assert "sk-wrong-key-123456789" not in j["error"]["message"], j

	with t.case("404 model_not_found for an unknown model"):
		st, _, j = chat(req(USER, model="gpt-9"))
		assert st == 404 and j["error"]["code"] == "model_not_found", (st, j)

	with t.case("400: a body that is not JSON"):
		st, _, b = http("POST", B + "/chat/completions", headers=dict(AUTH, **{"Content-Type": "application/json"}),
				body=None)
		assert st == 400, (st, b)
		import urllib.request
		r = urllib.request.Request(B + "/chat/completions", data=b"{not json", method="POST",
					   headers=dict(AUTH, **{"Content-Type": "application/json"}))
		try:
			urllib.request.urlopen(r, timeout=10)
			raise AssertionError("accepted")
		except urllib.error.HTTPError as e:
			assert e.code == 400 and "parse the JSON body" in js(e.read())["error"]["message"]

	err400({"messages": USER}, "model missing")
	err400({"model": "gpt-4o-mini"}, "messages missing", r"^messages$")
	err400(req([]), "messages empty", r"^messages$")
	err400(req([{"role": "robot", "content": "x"}]), "a role that does not exist", r"messages\[0\]\.role")
	err400(req([{"content": "x"}]), "a message without role", r"messages\[0\]\.role")
	err400(req([{"role": "user"}]), "a user message without content", r"messages\[0\]\.content")
	err400(req(USER + [{"role": "tool", "tool_call_id": "call_x", "content": "{}"}]),
	       "a tool message without a preceding assistant tool call", r"messages\.\[1\]\.role")
	AC = {"role": "assistant", "content": None, "tool_calls": [
		{"id": "call_a", "type": "function", "function": {"name": "check_calendar_availability", "arguments": "{}"}},
		{"id": "call_b", "type": "function", "function": {"name": "check_calendar_availability", "arguments": "{}"}}]}
	err400(req(USER + [AC, {"role": "tool", "tool_call_id": "call_zzz", "content": "{}"}], tools=TOOLS),
	       "a tool message answering an id the assistant did not send", r"messages\.\[2\]\.role")
	err400(req(USER + [AC, {"role": "tool", "tool_call_id": "call_a", "content": "{}"}], tools=TOOLS),
	       "an assistant tool call left without its tool message", r"messages\.\[1\]\.role")
	err400(req(USER + [AC, {"role": "tool", "tool_call_id": "call_a", "content": "{}"},
			   {"role": "user", "content": "und?"}], tools=TOOLS),
	       "a user message before every tool call was answered")
	err400(req(USER + [{"role": "tool", "content": "{}"}]), "a tool message without tool_call_id",
	       r"tool_call_id")
	bad_args = json.loads(json.dumps(AC))
	bad_args["tool_calls"][0]["function"]["arguments"] = {"date": "x"}
	err400(req(USER + [bad_args, {"role": "tool", "tool_call_id": "call_a", "content": "{}"},
			   {"role": "tool", "tool_call_id": "call_b", "content": "{}"}], tools=TOOLS),
	       "tool_calls arguments as an object instead of a JSON string", r"arguments")
	no_id = json.loads(json.dumps(AC))
	del no_id["tool_calls"][0]["id"]
	err400(req(USER + [no_id], tools=TOOLS), "a tool call without id", r"tool_calls\[0\]\.id")
	err400(req(USER + [{"role": "assistant", "content": None}]), "an assistant message with neither content nor calls")
	err400(req(USER, tools=[{"type": "function", "function": {"name": "book appointment!"}}]),
	       "a tool name outside ^[a-zA-Z0-9_-]{1,64}$", r"tools\[0\]\.function\.name")
	err400(req(USER, tools=[{"type": "retrieval", "function": {"name": "x"}}]), "a tool type other than function",
	       r"tools\[0\]\.type")
	err400(req(USER, tools=[{"type": "function", "function": {"name": "x", "parameters": {"type": "string"}}}]),
	       "parameters whose type is not object", r"parameters")
	err400(req(USER, tools=[{"type": "function", "function": {"name": "x", "parameters": {
		"type": "object", "properties": {"a": {"type": "text"}}}}}]), "a property of an unknown type", r"parameters")
	err400(req(USER, tools=[{"type": "function", "function": {"name": "x", "parameters": {
		"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]}}}]),
	       "required naming a property that does not exist", r"parameters")
	err400(req(USER, tools=[]), "an empty tools array", r"^tools$")
	err400(req(USER, tools=TOOLS + TOOLS[:1]), "two tools with the same name", r"^tools$")
	err400(req(USER, tool_choice="auto"), "tool_choice without tools", r"tool_choice")
	err400(req(USER, temperature=3), "temperature above 2", r"temperature")

	with t.case("a scripted 429 carries Retry-After and OpenAI's rate-limit error object"):
		f.queue_error(429, retry_after=17)
		st, h, j = chat(req(USER))
		assert st == 429 and h["Retry-After"] == "17", (st, dict(h))
		assert j["error"]["code"] == "rate_limit_exceeded" and j["error"]["type"] == "requests", j

	with t.case("a scripted 500 is a server_error; the next answer is normal again"):
		f.queue_error(500)
		st, _, j = chat(req(USER))
		assert st == 500 and j["error"]["type"] == "server_error", (st, j)
		st, _, j = chat(req(USER))
		assert st == 200 and j["choices"][0]["message"]["content"] == f.default_reply, (st, j)

	with t.case("fail('rate_limit') from the common failure rules: 429 + Retry-After knob"):
		f.fail("rate_limit", count=1)
		st, h, _ = chat(req(USER))
		assert st == 429 and h["Retry-After"] == f.retry_after, (st, dict(h))
		st, _, _ = chat(req(USER))
		assert st == 200

	with t.case("a slow scripted answer takes its delay (client timeouts)"):
		f.queue_reply("langsam", delay=1.2)
		t0 = time.time()
		st, _, j = chat(req(USER))
		assert st == 200 and time.time() - t0 >= 1.1, (st, time.time() - t0)

	with t.case("every request is recorded with its body (the key shortened in the log)"):
		f.clear_requests()
		f.queue_reply("x")
		chat(req(USER, tools=TOOLS, temperature=0.2))
		bodies = f.chat_requests()
		assert len(bodies) == 1 and bodies[0]["tools"] == TOOLS and bodies[0]["temperature"] == 0.2, bodies
		hdr = f.request_log()[0]["headers"]["Authorization"]
		assert KEY not in hdr, hdr

	with t.case("GET /v1/models lists the models; it needs the key too"):
		st, _, b = http("GET", B + "/models", headers=AUTH)
		j = js(b)
		assert st == 200 and j["object"] == "list" and "gpt-4o-mini" in [m["id"] for m in j["data"]], j
		st, _, _ = http("GET", B + "/models")
		assert st == 401

	with t.case("without a configured key (llama.cpp style) no Authorization is needed"):
		g = FakeOpenAI(api_key=None).start()
		try:
			st, _, b = http("POST", g.base_url + "/v1/chat/completions", body=req(USER))
			assert st == 200, (st, b)
			assert "OPENAI_API_KEY" not in g.env()
		finally:
			g.stop()

	with t.case("control: POST /_fake/script queues answers over HTTP; unknown paths → 404 error object"):
		st, _, b = http("POST", f.base_url + "/_fake/script", body={"replies": [{"content": "per HTTP"}]})
		assert st == 200 and js(b)["pending"] == 1, b
		st, _, j = chat(req(USER))
		assert j["choices"][0]["message"]["content"] == "per HTTP", j
		st, _, b = http("POST", B + "/completions", body=req(USER), headers=AUTH)
		assert st == 404 and js(b)["error"]["message"].startswith("Invalid URL"), b

	with t.case("CLI: prints the base URL and the settings, serves, stops on SIGTERM"):
		p = subprocess.Popen([sys.executable, os.path.join(SRCDIR, "tests", "fakes", "openai.py"), "--reply", "cli"],
				     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
		try:
			url = p.stdout.readline().strip()
			assert url.startswith("http://127.0.0.1:"), url
			assert p.stderr.readline().startswith("OPENAI_BASE_URL=" + url + "/v1")
			st, _, b = http("POST", url + "/v1/chat/completions", body=req(USER), headers=AUTH)
			assert st == 200 and js(b)["choices"][0]["message"]["content"] == "cli", b
		finally:
			p.terminate()
			assert p.wait(timeout=10) == 0
finally:
	f.stop()
t.done()
