#!/bin/sh
# test_browser_caldav.sh: TAP wrapper: a stack with Radicale, then tests/browser/caldav.mjs (connect through the iCloud form, choose calendars, sync) in chromium.
#
# Skips (TAP SKIP) when chromium, node or playwright-core is missing, unless CI=true (then it fails).
# The integrations page after the sync is kept as $TF_BUILDDIR/test-output/caldav-connected.png.
set -u

srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/lib/browser-stack.sh"
browser_prereqs
browser_stack --no-smtp
TF_NODE_MODULES=$modules CHROMIUM=$chromium node "$srcdir/tests/browser/caldav.mjs" \
	"$info" "$out/caldav-connected.png"
browser_finish $?
