#!/bin/sh
# test_browser_agent.sh: TAP wrapper: a stack with the SMTP sink and no LLM configured, then tests/browser/agent.mjs (a patient books through the chat widget in chromium).
#
# Skips (TAP SKIP) when chromium, node or playwright-core is missing, unless CI=true (then it fails).
# The screenshots are kept as $TF_BUILDDIR/test-output/agent-booked.png, agent-fallback.png and
# agent-mobile.png.
set -u

srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/lib/browser-stack.sh"
browser_prereqs
browser_stack --no-caldav
TF_NODE_MODULES=$modules CHROMIUM=$chromium node "$srcdir/tests/browser/agent.mjs" "$info" "$out"
browser_finish $?
