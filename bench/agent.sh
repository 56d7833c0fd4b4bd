#!/bin/sh
# agent.sh: booking assistant benchmark: offline assistant turns/s (wrk + bench/agent-chat.lua through nginx) and the turn latency p50/p99 with the fake LLM (tests/fakes/openai.py).
#
# Usage: bench/agent.sh          (env: WORKERS=4 DURATION=10s CONNECTIONS=16 THREADS=2
#                                      TURNS=400 CLIENTS=8 LLM_LATENCY_MS=0 BENCH_BUILD=build/bench)
# Builds an optimised, sanitizer-free tree in BENCH_BUILD (default build/bench, as bench/booking.sh),
# then runs bench/agent.py: two stacks (MariaDB, spawn-fcgi with WORKERS workers, nginx from
# nginx.conf.example with the rate limits lifted, the app's per-IP chat limits raised, the SMTP sink):
#   1. no LLM configured (offline assistant): wrk --latency -s bench/agent-chat.lua POSTing
#      /api/agent/chat, five-message dialogues in German, English, Ukrainian and Russian;
#   2. OPENAI_BASE_URL pointing at the fake OpenAI server, scripted to answer every turn with a
#      check_calendar_availability tool call and then a text: CLIENTS clients send TURNS turns.
# Prints turns/s, p50/p90/p99/max latency and the answer counts. Exit 1 when a turn failed.
set -eu
. "$(dirname "$0")/lib.sh"

BUILD=${BENCH_BUILD:-"$TOP/build/bench"}
bench_need_wrk
bench_build "$BUILD" tf-calendar.fcgi tf-admin
exec "$PY" "$TOP/bench/agent.py" --builddir "$BUILD" --workers "${WORKERS:-4}" --duration "${DURATION:-10s}" \
	--connections "${CONNECTIONS:-16}" --threads "${THREADS:-2}" --turns "${TURNS:-400}" \
	--clients "${CLIENTS:-8}" --llm-latency-ms "${LLM_LATENCY_MS:-0}"
