"""agent.py: the booking assistant benchmark behind bench/agent.sh (offline turns/s with wrk; turn latency with the fake LLM).

Usage: python3 bench/agent.py --builddir DIR [--workers 4] [--duration 10s] [--connections 16]
                              [--threads 2] [--turns 400] [--clients 8] [--llm-latency-ms 0]
                              [--skip-offline] [--skip-llm]
1. Offline: a stack (tests/lib/stack.py: MariaDB, spawn-fcgi with WORKERS workers, nginx with the
   rate limits lifted, the SMTP sink) without any OPENAI_* setting, the app's per-IP chat limits
   raised (TF_AGENT_RATE_PER_MINUTE/DAY: the benchmark measures the assistant, not the limiter);
   wrk --latency -s bench/agent-chat.lua POSTs /api/agent/chat: five-message dialogues (de, en, uk,
   ru), each turn parsing the message, checking the free times of a day, storing both messages.
2. LLM: tests/fakes/openai.py (in this process) scripted so that every turn is one
   check_calendar_availability tool call and then a text answer (two Chat Completions requests per
   turn); a second stack with OPENAI_BASE_URL pointing at it; CLIENTS threads (one keep-alive
   connection each) send TURNS first messages of new conversations; prints p50/p90/p99/max, turns/s
   and checks that every answer is 200 with mode "llm" and the tool call recorded.
Exit 1 when a turn failed (a non-200 answer or a wrk error).
"""
import argparse
import http.client
import json
import os
import re
import sys
import threading

import benchlib
from benchlib import TOP, latency_figures, worker_rss

benchlib.use_fakes()

RAISED = {"TF_AGENT_RATE_PER_MINUTE": "1000000", "TF_AGENT_RATE_PER_DAY": "100000000",
          "TF_LOG_LEVEL": "warn"}


def chat(conn, slug, message, conv=None):
    body = {"doctor": slug, "message": message}
    if conv:
        body["conversation_id"] = conv
    conn.request("POST", "/api/agent/chat", body=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    try:
        j = json.loads(data)
    except ValueError:
        j = None
    return r.status, j


def offline(a, tmp):
    st = benchlib.stack(os.path.join(tmp, "offline"), a.builddir, a.workers, dict(RAISED), caldav=False)
    failed = False
    try:
        st.start()
        # a sanity turn first: the assistant answers offline and offers times
        c = http.client.HTTPConnection("127.0.0.1", st.port, timeout=60)
        status, j = chat(c, st.slug, "Ich möchte morgen einen Termin")
        c.close()
        if status != 200 or not j or j.get("mode") != "offline":
            print(f"offline: the first turn answered {status}: {j}")
            return True
        print(f"bench: {st.base_url}, {a.workers} FastCGI workers, {os.cpu_count()} cores; "
              f"non-sanitizer build {a.builddir}; no LLM configured (offline assistant)")
        print(f"  sample turn: {j['reply'][:100]!r}{'…' if len(j['reply']) > 100 else ''}")
        w = benchlib.wrk(st.base_url, a.threads, a.connections, a.duration,
                         script=os.path.join(TOP, "bench", "agent-chat.lua"), script_args=[st.slug])
        m = re.search(r"^(agent-chat: .*)$", w["out"], re.M)
        counts = m.group(1) if m else "?"
        print(f"POST /api/agent/chat offline (wrk -t{a.threads} -c{a.connections} -d{a.duration}): "
              f"{w['rps']} turns/s   p50 {w['p50']}   p90 {w['p90']}   p99 {w['p99']}   ({w['total']} turns)")
        print(f"  {counts}{'  ' + w['errors'] if w['errors'] else ''}")
        stored = st.db.sql("SELECT COUNT(*), SUM(role = 'assistant') FROM agent_messages").strip().split("\t")
        convs = st.db.sql("SELECT COUNT(*), COALESCE(MAX(turns), 0) FROM agent_conversations").strip().split("\t")
        print(f"  stored: {stored[0]} messages ({stored[1]} answers) in {convs[0]} conversations "
              f"(at most {convs[1]} turns each, 5 expected); worker RSS after the run: {worker_rss(st)}")
        if w["non2xx"] > 0 or w["errors"] or counts == "?":
            failed = True
    finally:
        st.stop()
    return failed


TOOL_TURN = {"tool_calls": [{"name": "check_calendar_availability",
                             "arguments": {"date": "tomorrow", "duration_minutes": 30}}]}
TEXT_TURN = {"content": "Tomorrow these times are free: 9:00 AM, 10:00 AM, 11:00 AM. Which one suits you?"}


def bench_fake(latency_ms):
    """tests/fakes/openai.py's FakeOpenAI, scripted per request rather than from its one shared queue
    (concurrent turns would take each other's items): a request whose last message is the user's gets
    the check_calendar_availability call, one whose last message is a tool result gets the text."""
    from openai import FakeOpenAI  # tests/fakes/openai.py

    class BenchOpenAI(FakeOpenAI):
        local = threading.local()

        def __init__(self, **kw):
            super().__init__(**kw)
            self.answered = {"tool": 0, "text": 0}
            self.log_requests = False

        def completion(self, req):
            msgs = req.get("messages") if isinstance(req, dict) else None
            last = msgs[-1].get("role") if isinstance(msgs, list) and msgs and isinstance(msgs[-1], dict) else None
            kind = "text" if last == "tool" else "tool"
            self.local.item = dict(TEXT_TURN if kind == "text" else TOOL_TURN)
            answer = super().completion(req)
            with self.lock:
                self.answered[kind] += 1
            return answer

        def _next(self):
            item, self.local.item = getattr(self.local, "item", None), None
            return item

    return BenchOpenAI(port=0, latency_ms=latency_ms)


def llm(a, tmp):
    fake = bench_fake(a.llm_latency_ms).start()
    settings = dict(RAISED)
    settings.update(fake.env())
    st = benchlib.stack(os.path.join(tmp, "llm"), a.builddir, a.workers, settings, caldav=False)
    failed = False
    try:
        st.start()
        lat, codes, results, took = benchlib.run_clients(
            st.port, range(a.turns), a.clients,
            lambda conn, n: chat(conn, st.slug, f"I would like an appointment tomorrow ({n})"), timeout=120)
        bad = [j for status, j in results
               if status == 200 and (j.get("mode") != "llm" or not j.get("tool_calls") or
                                     j["tool_calls"][0].get("function") != "check_calendar_availability")]
        print(f"bench: {st.base_url}, {a.workers} FastCGI workers; OPENAI_BASE_URL = the fake "
              f"(tests/fakes/openai.py, {a.llm_latency_ms} ms added per completion)")
        print(f"POST /api/agent/chat with the LLM ({a.clients} concurrent clients, {len(lat)} turns, "
              f"each a tool call + a text = 2 completions): {latency_figures(lat, took, 'turns')}")
        other = {k: v for k, v in codes.items() if k != 200}
        print(f"  {codes.get(200, 0)} x 200, other {other or 'none'}; completions the fake answered: "
              f"{fake.answered['tool']} tool calls + {fake.answered['text']} texts; answers without "
              f"the recorded tool call: {len(bad)}")
        if other or bad:
            failed = True
            if bad:
                print(f"  e.g. {json.dumps(bad[0])[:300]}")
    finally:
        st.stop()
        fake.stop()
    return failed


def main():
    p = argparse.ArgumentParser(prog="bench/agent.py")
    p.add_argument("--builddir", required=True)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--duration", default="10s")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--turns", type=int, default=400)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--llm-latency-ms", type=int, default=0)
    p.add_argument("--skip-offline", action="store_true")
    p.add_argument("--skip-llm", action="store_true")
    a = p.parse_args()
    tmp = benchlib.scratch("agent")
    failed = False
    try:
        if not a.skip_offline:
            failed |= offline(a, tmp)
        if not a.skip_llm:
            failed |= llm(a, tmp)
    finally:
        benchlib.finish(tmp, failed, f"bench: stack directories kept: {tmp}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
