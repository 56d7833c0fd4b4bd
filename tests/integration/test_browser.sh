#!/bin/sh
# test_browser.sh: TAP wrapper that starts a stack (tests/lib/stack.py serve) and runs tests/browser/login.mjs in chromium.
#
# Skips (TAP SKIP) when chromium, node or playwright-core is missing, unless CI=true (then it fails).
# The screenshot is kept as $TF_BUILDDIR/test-output/integrations.png.
# TF_NODE_MODULES may point at another tests/browser/node_modules (make distcheck does).
set -u

srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/lib/browser-stack.sh"
browser_prereqs
browser_stack --no-smtp
TF_NODE_MODULES=$modules CHROMIUM=$chromium node "$srcdir/tests/browser/login.mjs" \
	"$base" "$(browser_field email)" "$(browser_field password)" "$out/integrations.png"
browser_finish $?
