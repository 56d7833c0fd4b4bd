-- agent-chat.lua: wrk script for bench/agent.sh: POST /api/agent/chat dialogues (offline assistant), several messages per conversation.
--
-- wrk -s bench/agent-chat.lua URL -- SLUG
-- Every conversation is the messages below in order (German, English, Ukrainian, Russian; none books,
-- so the calendar stays as it is and every dialogue does the same work). A conversation has at most
-- one request in flight: the answer's conversation_id puts it back into the thread's pool of
-- conversations ready for their next message; one that has had all its messages is dropped, and a
-- request with no ready conversation starts a new one.
-- done() prints "agent-chat: N 200, N other (codes), N conversations started, N finished".
local messages = {
	"Ich möchte morgen einen Termin",
	"Lieber übermorgen, geht das?",
	"And next Monday?",
	"Хочу записатися на наступний вівторок",
	"А в среду можно?",
}

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

-- per thread (globals of the thread's Lua state, read by done() with thread:get)
slug = "demo"
n_ok, n_other, started, finished, codes = 0, 0, 0, 0, ""
ready = {}      -- conversation ids waiting for their next message
turns = {}      -- conversation id -> messages answered so far

function init(args)
	slug = args[1] or slug
end

local function json_string(s)
	return '"' .. s:gsub('[%c"\\]', function(c)
		return string.format("\\u%04x", c:byte())
	end) .. '"'
end

function request()
	local conv = table.remove(ready)
	local body
	if conv then
		body = '{"doctor": ' .. json_string(slug) .. ', "message": ' ..
			json_string(messages[turns[conv] + 1]) .. ', "conversation_id": ' .. json_string(conv) .. '}'
	else
		started = started + 1
		body = '{"doctor": ' .. json_string(slug) .. ', "message": ' .. json_string(messages[1]) .. '}'
	end
	return wrk.format("POST", "/api/agent/chat", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
	if status ~= 200 then
		n_other = n_other + 1
		if #codes < 200 then
			codes = codes .. status .. " "
		end
		return
	end
	n_ok = n_ok + 1
	local conv = body:match('"conversation_id"%s*:%s*"([A-Za-z0-9_-]+)"')
	if not conv then
		return
	end
	local done = (turns[conv] or 0) + 1
	if done >= #messages then
		turns[conv] = nil
		finished = finished + 1
	else
		turns[conv] = done
		table.insert(ready, conv)
	end
end

function done(summary, latency, requests)
	local ok, other, s, f, c = 0, 0, 0, 0, ""
	for _, t in ipairs(threads) do
		ok = ok + t:get("n_ok")
		other = other + t:get("n_other")
		s = s + t:get("started")
		f = f + t:get("finished")
		c = c .. t:get("codes")
	end
	io.write(string.format("agent-chat: %d 200, %d other (%s), %d conversations started, %d finished\n",
		ok, other, c == "" and "none" or c, s, f))
end
