#!/bin/sh
# test_browser_booking.sh: TAP wrapper: a stack with the SMTP sink, then tests/browser/booking.mjs (a patient books in chromium).
#
# Skips (TAP SKIP) when chromium, node or playwright-core is missing, unless CI=true (then it fails).
# The confirmation page's screenshot is kept as $TF_BUILDDIR/test-output/booking-confirmation.png.
set -u

srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/lib/browser-stack.sh"
browser_prereqs
browser_stack
TF_NODE_MODULES=$modules CHROMIUM=$chromium node "$srcdir/tests/browser/booking.mjs" \
	"$info" "$out/booking-confirmation.png"
browser_finish $?
