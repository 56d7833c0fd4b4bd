# browser-stack.sh: sourced by the browser tests' TAP wrappers: prerequisites, a stack (tests/lib/stack.py serve), clean-up.
#
#   . "$srcdir/tests/lib/browser-stack.sh"
#   browser_prereqs                 # TAP skip (exit 0) when chromium/node/playwright-core is missing,
#                                   # a failure when CI=true
#   browser_stack [serve args...]   # starts the stack; sets $info (its JSON file), $base, $dir, $out
#   node ... ; browser_finish $?    # stops the stack; keeps its directory when the test failed
# Needs $srcdir set. TF_NODE_MODULES may point at another tests/browser/node_modules (make distcheck).
builddir=${TF_BUILDDIR:-$srcdir}
py=${PYTHON3:-python3}
modules=${TF_NODE_MODULES:-$srcdir/tests/browser/node_modules}
chromium=${CHROMIUM:-/usr/bin/chromium}
out="$builddir/test-output"
spid=

browser_prereqs() {
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
}

browser_cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	spid=
}

browser_stack() {
	mkdir -p "$out"
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tf-browser-XXXXXX")
	info="$dir/info.json"
	"$py" "$srcdir/tests/lib/stack.py" serve "$dir/stack" --info "$info" "$@" >"$dir/serve.out" 2>"$dir/serve.err" &
	spid=$!
	trap browser_cleanup EXIT INT TERM
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
	base=$(browser_field base_url)
}

browser_field() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$info" "$1"; }

browser_finish() {
	browser_cleanup
	trap - EXIT INT TERM
	if [ "$1" -eq 0 ]; then
		rm -rf "$dir"
	else
		echo "# stack directory kept: $dir"
	fi
	exit "$1"
}
