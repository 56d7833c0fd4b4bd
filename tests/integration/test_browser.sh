#!/bin/sh
# test_browser.sh: TAP wrapper that starts a stack (tests/lib/stack.py serve) and runs tests/browser/login.mjs in chromium.
#
# Skips (TAP SKIP) when chromium, node or playwright-core is missing, unless CI=true (then it fails).
# The screenshot is kept as $TF_BUILDDIR/test-output/integrations.png.
# TF_NODE_MODULES may point at another tests/browser/node_modules (make distcheck does).
set -u

srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${TF_BUILDDIR:-$srcdir}
py=${PYTHON3:-python3}
modules=${TF_NODE_MODULES:-$srcdir/tests/browser/node_modules}
chromium=${CHROMIUM:-/usr/bin/chromium}

missing=
[ -x "$chromium" ] || missing="$missing $chromium"
command -v node >/dev/null 2>&1 || missing="$missing node"
[ -d "$modules/playwright-core" ] || missing="$missing $modules/playwright-core (run scripts/deps.sh)"
if [ -n "$missing" ]; then
	if [ "${CI:-}" = true ]; then
		echo "not ok 1 - browser test can run # missing:$missing"
		echo "1..1"
		exit 1
	fi
	echo "1..0 # SKIP missing:$missing"
	exit 0
fi

out="$builddir/test-output"
mkdir -p "$out"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tf-browser-XXXXXX")
info="$dir/info.json"
"$py" "$srcdir/tests/lib/stack.py" serve "$dir/stack" --info "$info" >"$dir/serve.out" 2>"$dir/serve.err" &
spid=$!
cleanup() {
	kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
}
trap cleanup EXIT INT TERM

i=0
while [ ! -s "$info" ] && [ $i -lt 600 ]; do
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if [ ! -s "$info" ]; then
	echo "Bail out! the stack did not start: $(tr '\n' ' ' <"$dir/serve.err")"
	exit 1
fi
field() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$info" "$1"; }
base=$(field base_url)
email=$(field email)
password=$(field password)

TF_NODE_MODULES=$modules CHROMIUM=$chromium node "$srcdir/tests/browser/login.mjs" \
	"$base" "$email" "$password" "$out/integrations.png"
rc=$?
cleanup
trap - EXIT INT TERM
if [ $rc -eq 0 ]; then
	rm -rf "$dir"
else
	echo "# stack directory kept: $dir"
fi
exit $rc
