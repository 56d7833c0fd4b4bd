#!/bin/sh
# test_browser_outlook.sh: TAP wrapper: a stack with the fake Microsoft, then tests/browser/outlook.mjs (the OAuth dance through the fake's consent page) in chromium.
#
# Skips (TAP SKIP) when chromium, node or playwright-core is missing, unless CI=true (then it fails).
# The integrations page with the Outlook card connected is kept as $TF_BUILDDIR/test-output/outlook-connected.png.
set -u

srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/lib/browser-stack.sh"
browser_prereqs
browser_stack --no-smtp --no-caldav --microsoft
TF_NODE_MODULES=$modules CHROMIUM=$chromium node "$srcdir/tests/browser/outlook.mjs" \
	"$info" "$out/outlook-connected.png"
browser_finish $?
