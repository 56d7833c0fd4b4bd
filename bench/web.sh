#!/bin/sh
# web.sh: HTTP benchmark: wrk through nginx against /healthz and the logged-in integrations page, with worker RSS.
#
# Usage: bench/web.sh            (env: DURATION=10s CONNECTIONS=16 THREADS=2 WORKERS=2)
# Builds an optimised, sanitizer-free tree in build/bench, starts a stack with tests/lib/stack.py
# (MariaDB, spawn-fcgi with WORKERS FastCGI workers, nginx from nginx.conf.example) in a temp dir,
# runs wrk --latency against both URLs, prints requests/s, p50/p99 latency and each worker's RSS
# (VmRSS) before and after, then stops the stack. Exit 1 when a request failed (non-2xx or errors).
set -eu
. "$(dirname "$0")/lib.sh"

BUILD="$TOP/build/bench"
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}

bench_need_wrk
bench_build "$BUILD" tf-calendar.fcgi tf-admin

dir=$(mktemp -d "${TMPDIR:-/tmp}/tf-bench-XXXXXX")
"$PY" "$TOP/tests/lib/stack.py" serve "$dir/stack" --workers "$WORKERS" --builddir "$BUILD" \
	--srcdir "$TOP" --info "$dir/info.json" >"$dir/serve.out" 2>"$dir/serve.err" &
spid=$!
cleanup() { kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
i=0
while [ ! -s "$dir/info.json" ] && [ $i -lt 600 ]; do
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
[ -s "$dir/info.json" ] || { cat "$dir/serve.err" >&2; echo "bench: stack did not start" >&2; exit 1; }
field() { "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(" ".join(map(str,v)) if isinstance(v,list) else v)' "$dir/info.json" "$1"; }
BASE=$(field base_url)
EMAIL=$(field email)
PASSWORD=$(field password)
PIDS=$(field worker_pids)

rss() {
	for p in $PIDS; do
		printf '  worker %s: %s\n' "$p" "$(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$p/status" 2>/dev/null || echo gone)"
	done
}

# Log in with curl: the login page sets tf_csrf and carries csrf_token; the POST sets tf_session.
jar="$dir/cookies"
token=$(curl -s -c "$jar" "$BASE/doctor/login" |
	sed -n 's/.*name="csrf_token"[^>]*value="\([^"]*\)".*/\1/p; s/.*value="\([^"]*\)"[^>]*name="csrf_token".*/\1/p' | head -n 1)
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" \
	--data-urlencode "email=$EMAIL" --data-urlencode "password=$PASSWORD" --data-urlencode "csrf_token=$token" \
	"$BASE/doctor/login")
session=$(awk '$6 == "tf_session" { print $7 }' "$jar")
[ "$code" = 303 ] && [ -n "$session" ] || { echo "bench: login failed (HTTP $code)" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: tf_session=$session" "$BASE/doctor/calendar-integrations")
[ "$code" = 200 ] || { echo "bench: integrations page answers $code" >&2; exit 1; }

failed=0
run() {
	# run NAME URL [wrk args...]
	name=$1 url=$2
	shift 2
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url")
	rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ { print $2 }')
	p50=$(printf '%s\n' "$out" | awk '$1 == "50%" { print $2 }')
	p99=$(printf '%s\n' "$out" | awk '$1 == "99%" { print $2 }')
	total=$(printf '%s\n' "$out" | awk '/requests in/ { print $1 }')
	non2xx=$(printf '%s\n' "$out" | awk '/Non-2xx or 3xx responses:/ { print $NF }')
	errs=$(printf '%s\n' "$out" | awk '/Socket errors:/ { print }')
	printf '%-34s %10s req/s   p50 %-9s p99 %-9s (%s requests, %s non-2xx)%s\n' \
		"$name" "$rps" "$p50" "$p99" "$total" "${non2xx:-0}" "${errs:+  $errs}"
	if [ -n "$non2xx" ] || [ -n "$errs" ]; then failed=1; fi
}

echo "bench: $BASE, $WORKERS FastCGI workers, wrk -t$THREADS -c$CONNECTIONS -d$DURATION ($(nproc) cores)"
echo "RSS before:"
rss
run "GET /healthz" "$BASE/healthz"
run "GET /doctor/calendar-integrations" "$BASE/doctor/calendar-integrations" -H "Cookie: tf_session=$session"
# wrk counts only 4xx/5xx as failures: make sure the session still works (no redirect to the login).
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: tf_session=$session" "$BASE/doctor/calendar-integrations")
[ "$code" = 200 ] || { echo "bench: after the run the integrations page answers $code"; failed=1; }
echo "RSS after:"
rss
exit $failed
