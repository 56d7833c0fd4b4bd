#!/bin/sh
# test_browser_google.sh: TAP wrapper: a stack with the fake Google, then tests/browser/google.mjs (the OAuth dance through the fake's consent page) in chromium.
#
# Skips (TAP SKIP) when chromium, node or playwright-core is missing, unless CI=true (then it fails).
# The integrations page with the Google card connected is kept as $TF_BUILDDIR/test-output/google-connected.png.
set -u

srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/lib/browser-stack.sh"
browser_prereqs
browser_stack --no-smtp --no-caldav --google
TF_NODE_MODULES=$modules CHROMIUM=$chromium node "$srcdir/tests/browser/google.mjs" \
	"$info" "$out/google-connected.png"
browser_finish $?
