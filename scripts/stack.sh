#!/bin/sh
# stack.sh: run TerminFinder Kalender locally from this checkout (MariaDB, app, nginx, CalDAV, mail sink): start | stop | status.
#
# Usage: scripts/stack.sh [start]   install missing packages, build, start everything, print URL + demo login
#        scripts/stack.sh stop      stop everything this script started
#        scripts/stack.sh status    show what runs
# Idempotent: `start` on a running stack only starts what is missing (nginx's config is reloaded).
# Everything lives under the checkout: build/stack/ (the build) and .stack/ (state, logs, secrets);
# nothing outside the checkout is changed (no system services).
#
#   .stack/terminfinder.env   the app's config (TF_SECRET_KEY and CALENDAR_ENCRYPTION_KEY made once, kept)
#   .stack/demo-password      the demo doctor's password (made once)
#   .stack/mariadb/           MariaDB (tests/lib/mariadb.py), socket .stack/mariadb/mysql.sock
#   .stack/run/               FastCGI socket tf-calendar.sock, pid files
#   .stack/log/               tf-calendar.stderr.log, nginx-*.log, smtp.log, tf-sync.log
#   .stack/radicale/          CalDAV server (radicale via tests/lib/radicale.py): config, users, password,
#                             radicale.log, storage collections/collection-root/demo/praxis/
#   .stack/mail/              mail sink (tests/lib/smtpsink.py over aiosmtpd): one file per received mail
#   fake Google               tests/fakes/google.py on 127.0.0.1:8091 (OAuth consent page, Calendar API,
#                             push sender to BASE_URL/webhooks/calendar/google; log .stack/log/google.log):
#                             the GOOGLE_* settings point at it, so "Mit Google verbinden" works locally
# The demo doctor is connected once to the demo user's calendar "Praxis" through the app's own API
# (POST /api/doctor/calendar-integrations/icloud with a `tf-admin token`), and every start runs
# tf-sync once for that connection.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
ST="$TOP/.stack"
BUILD="$TOP/build/stack"
RUN="$ST/run"
LOG="$ST/log"
ENVFILE="$ST/terminfinder.env"
PORT=8080
BASE_URL="http://127.0.0.1:$PORT"
DEMO_EMAIL=demo@praxis-beispiel.de
DEMO_NAME="Dr. Demo Beispiel"
CALDAV_PORT=5232
CALDAV_USER=demo
CALDAV_CAL=praxis
CALDAV_URL="http://127.0.0.1:$CALDAV_PORT/"
SMTP_PORT=8025
GOOGLE_PORT=8091
GOOGLE_URL="http://127.0.0.1:$GOOGLE_PORT"
WORKERS=2
# Debian's python3 (python3-aiosmtpd, radicale) even when another python3 comes first in PATH.
DEBPY=/usr/bin/python3
[ -x "$DEBPY" ] || DEBPY=python3

say() { printf '%s\n' "stack: $*"; }
die() { printf '%s\n' "stack: $*" >&2; exit 1; }

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
pidfile_alive() {
	[ -f "$1" ] || return 1
	for p in $(cat "$1"); do pid_alive "$p" && return 0; done
	return 1
}
stop_pidfile() {
	# stop_pidfile FILE NAME: SIGTERM every pid in FILE, wait up to 10 s, then SIGKILL.
	[ -f "$1" ] || return 0
	pids=$(cat "$1")
	for p in $pids; do pid_alive "$p" && kill "$p" 2>/dev/null || true; done
	i=0
	while [ $i -lt 100 ]; do
		alive=
		for p in $pids; do pid_alive "$p" && alive=1; done
		[ -z "$alive" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	for p in $pids; do pid_alive "$p" && kill -9 "$p" 2>/dev/null || true; done
	rm -f "$1"
	say "stopped $2"
}
rand() { openssl rand -base64 "$1" | tr '+/' '-_' | tr -d '=\n'; }
envval() { sed -n "s/^$1=//p" "$ENVFILE" 2>/dev/null | tail -n 1; }

build() {
	"$TOP/scripts/deps.sh" --no-npm
	cd "$TOP"
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
		say "autoreconf"
		autoreconf -fi >/dev/null
	fi
	mkdir -p "$BUILD"
	cd "$BUILD"
	if [ ! -f Makefile ] || [ "$TOP/configure" -nt config.status ]; then
		say "configure (build/stack)"
		"$TOP/configure" -q
	fi
	say "make"
	make -s -j2 tf-calendar.fcgi tf-admin tf-remind tf-sync tf-renew >"$LOG/build.log" 2>&1 || { tail -n 40 "$LOG/build.log" >&2; die "build failed (log: .stack/log/build.log)"; }
	cd "$TOP"
}

write_env() {
	secret=$(envval TF_SECRET_KEY)
	enckey=$(envval CALENDAR_ENCRYPTION_KEY)
	[ -n "$secret" ] || secret=$(rand 48)
	# A Fernet key is 32 random bytes in url-safe base64 (with padding).
	[ -n "$enckey" ] || enckey=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '\n')
	umask 077
	cat >"$ENVFILE.tmp" <<EOF
# terminfinder.env for the local stack (written by scripts/stack.sh; the two keys are kept across runs).
# Every setting is described in deploy/terminfinder.env.example and README.md.
TF_DATA_DIR=$TOP
TF_DB_SOCKET=$ST/mariadb/mysql.sock
TF_DB_USER=root
TF_DB_NAME=terminfinder
TF_SECRET_KEY=$secret
CALENDAR_ENCRYPTION_KEY=$enckey
BASE_URL=$BASE_URL
TF_LOG_LEVEL=info
TF_TIMEZONE=Europe/Berlin
TF_LOCK_DIR=$RUN
SMTP_HOST=127.0.0.1
SMTP_PORT=$SMTP_PORT
SMTP_STARTTLS=no
MAIL_FROM=TerminFinder <termine@praxis-beispiel.de>
# the fake Google (tests/fakes/google.py) on $GOOGLE_URL, with its test client
GOOGLE_CLIENT_ID=tf-test-client.apps.googleusercontent.com
GOOGLE_CLIENT_SECRET=GOCSPX-tf-test-secret
GOOGLE_REDIRECT_URI=$BASE_URL/api/doctor/calendar-integrations/callback/google
GOOGLE_AUTH_URI=$GOOGLE_URL/o/oauth2/v2/auth
GOOGLE_TOKEN_URI=$GOOGLE_URL/token
GOOGLE_REVOKE_URI=$GOOGLE_URL/revoke
GOOGLE_API_BASE=$GOOGLE_URL/calendar/v3
GOOGLE_USERINFO_URI=$GOOGLE_URL/oauth2/v3/userinfo
EOF
	mv "$ENVFILE.tmp" "$ENVFILE"
	umask 022
}

# The app's environment: only the config file counts (settings in the caller's shell would override it).
appenv() {
	env -u TF_DATA_DIR -u TF_SECRET_KEY -u CALENDAR_ENCRYPTION_KEY -u BASE_URL -u TF_DB_SOCKET \
	    -u TF_DB_HOST -u TF_DB_PORT -u TF_DB_USER -u TF_DB_PASSWORD -u TF_DB_NAME -u TF_SESSION_TTL \
	    -u TF_LOG_LEVEL -u TF_TIMEZONE -u TF_SLOT_STEP_MINUTES -u TF_LEAD_TIME_MINUTES \
	    -u TF_BOOKING_HORIZON_DAYS -u SMTP_HOST -u SMTP_PORT -u SMTP_USER -u SMTP_PASSWORD \
	    -u SMTP_STARTTLS -u SMTP_CA_FILE -u MAIL_FROM -u TF_SYNC_INTERVAL_MINUTES -u TF_SYNC_HORIZON_DAYS \
	    -u TF_SYNC_CONCURRENCY -u TF_HTTP_TIMEOUT -u TF_LOCK_DIR -u TF_CALDAV_ALLOW_HTTP \
	    -u GOOGLE_CLIENT_ID -u GOOGLE_CLIENT_SECRET -u GOOGLE_REDIRECT_URI -u GOOGLE_AUTH_URI \
	    -u GOOGLE_TOKEN_URI -u GOOGLE_REVOKE_URI -u GOOGLE_API_BASE -u GOOGLE_USERINFO_URI \
	    -u TF_VIDEO_LINK_WAIT_MINUTES -u TF_HTTP_BACKOFF_MS \
	    TF_CONFIG="$ENVFILE" "$@"
}

start_db() {
	say "MariaDB (.stack/mariadb)"
	python3 "$TOP/tests/lib/mariadb.py" start "$ST/mariadb" >/dev/null || die "MariaDB did not start (log: .stack/mariadb/mariadb.err)"
}

setup_db() {
	appenv "$BUILD/tf-admin" migrate >"$LOG/migrate.log" 2>&1 || { cat "$LOG/migrate.log" >&2; die "tf-admin migrate failed"; }
	have=$(printf "SELECT COUNT(*) FROM doctors WHERE email='%s';\n" "$DEMO_EMAIL" |
	       mariadb --no-defaults --socket="$ST/mariadb/mysql.sock" -uroot --batch --skip-column-names terminfinder)
	if [ "$have" = 0 ]; then
		if [ ! -s "$ST/demo-password" ]; then
			(umask 077 && printf 'Demo-%s\n' "$(rand 12)" >"$ST/demo-password")
		fi
		head -n 1 "$ST/demo-password" | appenv "$BUILD/tf-admin" add-doctor "$DEMO_EMAIL" --name "$DEMO_NAME" >/dev/null ||
			die "tf-admin add-doctor failed"
		say "created the demo doctor $DEMO_EMAIL"
	fi
}

start_app() {
	if pidfile_alive "$RUN/tf-calendar.pid"; then
		say "app already running (pids $(cat "$RUN/tf-calendar.pid" | tr '\n' ' '))"
		return
	fi
	rm -f "$RUN/tf-calendar.sock"
	# spawn-fcgi sends the workers' stderr to /dev/null; the shell in front keeps it in a log.
	appenv spawn-fcgi -s "$RUN/tf-calendar.sock" -M 0660 -F "$WORKERS" -P "$RUN/tf-calendar.pid" -- \
		/bin/sh -c 'exec "$0" 2>>"$1"' "$BUILD/tf-calendar.fcgi" "$LOG/tf-calendar.stderr.log" >/dev/null ||
		die "spawn-fcgi failed"
	say "app: $WORKERS FastCGI workers on .stack/run/tf-calendar.sock"
}

start_nginx() {
	"$TOP/scripts/nginx-conf.sh" --port "$PORT" --run "$RUN" --log "$LOG" --tmp "$ST/nginx/tmp" \
		--data "$TOP" >"$ST/nginx/nginx.conf.new"
	mv "$ST/nginx/nginx.conf.new" "$ST/nginx/nginx.conf"
	ng="nginx -p $ST/nginx -c $ST/nginx/nginx.conf -e $LOG/nginx-error.log"
	$ng -t -q || die "nginx config test failed"
	if pidfile_alive "$RUN/nginx.pid"; then
		kill -HUP "$(cat "$RUN/nginx.pid")"
		say "nginx reloaded"
	else
		$ng || die "nginx did not start (is port $PORT taken? log: .stack/log/nginx-error.log)"
		say "nginx on 127.0.0.1:$PORT"
	fi
}

start_caldav() {
	# An earlier stack.sh ran radicale with a config of its own: stop that one (same storage).
	stop_pidfile "$RUN/radicale.pid" "radicale (old pid file)"
	rm -f "$ST/radicale/htpasswd"
	mkdir -p "$ST/radicale"
	if [ ! -s "$ST/radicale/password" ]; then
		(umask 077 && rand 12 >"$ST/radicale/password")
	fi
	# tests/lib/radicale.py (the tests' harness) on the fixed port: the stored connection names it.
	"$DEBPY" - "$TOP/tests/lib" "$ST/radicale" "$CALDAV_PORT" "$CALDAV_USER" "$CALDAV_CAL" \
		>"$LOG/radicale-start.log" 2>&1 <<'PYEOF' ||
import os, sys
sys.path.insert(0, sys.argv[1])
import radicale
port = int(sys.argv[3])
radicale._free_port = lambda: port     # the harness picks a free port; the dev stack keeps 5232
r = radicale.Radicale(sys.argv[2])
user, cal = sys.argv[4], sys.argv[5]
os.umask(0o077)
with open(os.path.join(r.dir, "password")) as f:
    r.add_user(user, f.readline().strip())
if not os.path.isdir(r.calendar_dir(user, cal)):
    r.create_calendar(user, cal, displayname="Praxis")
r.start()
PYEOF
		{ cat "$LOG/radicale-start.log" >&2; die "radicale did not start (is port $CALDAV_PORT taken? log: .stack/radicale/radicale.log)"; }
	say "CalDAV (radicale, tests/lib/radicale.py) on 127.0.0.1:$CALDAV_PORT"
}

# connect_caldav: connect the demo doctor to the demo calendar once, through the app's API
# (.stack/radicale/connected records it: a connection the developer removed with "Trennen" stays
# removed; delete that file to have the next start connect it again).
connect_caldav() {
	have=$(printf "SELECT c.id FROM calendar_integrations c JOIN doctors d ON d.id = c.doctor_id WHERE d.email='%s' AND c.provider='apple' ORDER BY c.id LIMIT 1;\n" "$DEMO_EMAIL" |
	       mariadb --no-defaults --socket="$ST/mariadb/mysql.sock" -uroot --batch --skip-column-names terminfinder)
	CALDAV_ID=
	if [ -z "$have" ] && [ -f "$ST/radicale/connected" ]; then
		say "the demo calendar was disconnected (rm .stack/radicale/connected to connect it again on the next start)"
		return
	fi
	if [ -z "$have" ]; then
		token=$(appenv "$BUILD/tf-admin" token "$DEMO_EMAIL" --ttl 600) || die "tf-admin token failed"
		# the password is base64url (rand): nothing to escape in JSON
		body=$(printf '{"apple_id": "%s", "app_password": "%s", "caldav_url": "%s"}' \
			"$CALDAV_USER" "$(cat "$ST/radicale/password")" "$CALDAV_URL")
		code=$(printf '%s' "$body" | curl -s -o "$LOG/caldav-connect.json" -w '%{http_code}' \
			-H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary @- \
			"$BASE_URL/api/doctor/calendar-integrations/icloud" || true)
		[ "$code" = 201 ] || { cat "$LOG/caldav-connect.json" >&2 2>/dev/null; die "connecting the demo calendar answered HTTP ${code:-nothing}"; }
		have=$(sed -n 's/^{"id":\([0-9]*\).*/\1/p' "$LOG/caldav-connect.json")
		say "connected the demo doctor to $CALDAV_URL$CALDAV_USER/$CALDAV_CAL/ (connection $have)"
	fi
	CALDAV_ID=$have
	echo "$CALDAV_ID" >"$ST/radicale/connected"
	if appenv "$BUILD/tf-sync" --integration "$CALDAV_ID" >"$LOG/tf-sync.out" 2>>"$LOG/tf-sync.log"; then
		say "$(cat "$LOG/tf-sync.out")"
	else
		say "tf-sync exited $? (log: .stack/log/tf-sync.log): $(cat "$LOG/tf-sync.out")"
	fi
}

start_smtp() {
	if pidfile_alive "$RUN/smtp.pid"; then
		return
	fi
	mkdir -p "$ST/mail"
	setsid "$DEBPY" "$TOP/tests/lib/smtpsink.py" --host 127.0.0.1 --port "$SMTP_PORT" --dir "$ST/mail" \
		</dev/null >>"$LOG/smtp.log" 2>&1 &
	echo $! >"$RUN/smtp.pid"
	say "mail sink (tests/lib/smtpsink.py) on 127.0.0.1:$SMTP_PORT"
}

start_google() {
	if pidfile_alive "$RUN/google.pid"; then
		return
	fi
	setsid "$DEBPY" "$TOP/tests/fakes/google.py" --port "$GOOGLE_PORT" \
		--redirect-uri "$BASE_URL/api/doctor/calendar-integrations/callback/google" \
		</dev/null >>"$LOG/google.log" 2>&1 &
	echo $! >"$RUN/google.pid"
	say "fake Google (tests/fakes/google.py) on 127.0.0.1:$GOOGLE_PORT"
}

wait_http() {
	i=0
	while [ $i -lt 100 ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/healthz" || true)
		[ "$code" = 200 ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	tail -n 20 "$LOG/tf-calendar.stderr.log" >&2 2>/dev/null || true
	die "$BASE_URL/healthz answers ${code:-nothing} (logs: .stack/log/)"
}

wait_port() {
	# wait_port PORT NAME PIDFILE
	i=0
	while [ $i -lt 100 ]; do
		python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null && return 0
		pidfile_alive "$3" || break
		sleep 0.1
		i=$((i + 1))
	done
	die "$2 is not listening on 127.0.0.1:$1 (log: .stack/log/)"
}

do_start() {
	mkdir -p "$ST" "$RUN" "$LOG" "$ST/nginx"
	build
	start_db
	write_env
	setup_db
	start_app
	start_nginx
	start_caldav
	start_smtp
	start_google
	wait_http
	wait_port "$SMTP_PORT" "the mail sink" "$RUN/smtp.pid"
	wait_port "$GOOGLE_PORT" "the fake Google" "$RUN/google.pid"
	connect_caldav
	caldav_state="not connected"
	[ -z "${CALDAV_ID:-}" ] || caldav_state="connection $CALDAV_ID"
	slug=$(printf "SELECT slug FROM doctors WHERE email='%s';\n" "$DEMO_EMAIL" |
	       mariadb --no-defaults --socket="$ST/mariadb/mysql.sock" -uroot --batch --skip-column-names terminfinder)
	cat <<EOF

  TerminFinder Kalender runs:   $BASE_URL/doctor/login
  Demo login:                   $DEMO_EMAIL  /  $(head -n 1 "$ST/demo-password")
  CalDAV server (radicale):     $CALDAV_URL  user $CALDAV_USER  /  $(cat "$ST/radicale/password")
  Demo calendar:                $CALDAV_URL$CALDAV_USER/$CALDAV_CAL/  ($caldav_state; storage .stack/radicale/collections/collection-root/$CALDAV_USER/$CALDAV_CAL/)
  Calendar sync (cron's job):   TF_CONFIG=.stack/terminfinder.env build/stack/tf-sync   (or "Jetzt synchronisieren")
  Patient booking page:         $BASE_URL/termin/$slug
  Mail sink (SMTP):             127.0.0.1:$SMTP_PORT  -> every mail is a file in .stack/mail/
  Fake Google (OAuth + API):    $GOOGLE_URL  ("Mit Google verbinden" -> its consent page -> "Zulassen"; account ana@example.com; requests: $GOOGLE_URL/_fake/requests)
  Google channels (cron's job): TF_CONFIG=.stack/terminfinder.env build/stack/tf-renew
  Reminders (cron's job):       TF_CONFIG=.stack/terminfinder.env build/stack/tf-remind
  Config and logs:              .stack/terminfinder.env, .stack/log/
  Stop with:                    scripts/stack.sh stop
EOF
}

do_stop() {
	if pidfile_alive "$RUN/nginx.pid"; then
		nginx -p "$ST/nginx" -c "$ST/nginx/nginx.conf" -e "$LOG/nginx-error.log" -s quit 2>/dev/null ||
			kill "$(cat "$RUN/nginx.pid")" 2>/dev/null || true
		i=0
		while pidfile_alive "$RUN/nginx.pid" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		say "stopped nginx"
	fi
	stop_pidfile "$RUN/tf-calendar.pid" "app"
	stop_pidfile "$RUN/radicale.pid" "radicale (old pid file)"
	if [ -f "$ST/radicale/radicale.pid" ]; then
		"$DEBPY" "$TOP/tests/lib/radicale.py" stop "$ST/radicale"
		say "stopped radicale"
	fi
	stop_pidfile "$RUN/smtp.pid" "mail sink"
	stop_pidfile "$RUN/google.pid" "fake Google"
	if [ -d "$ST/mariadb" ]; then
		python3 "$TOP/tests/lib/mariadb.py" stop "$ST/mariadb"
		say "stopped MariaDB"
	fi
	rm -f "$RUN/tf-calendar.sock"
}

do_status() {
	rc=0
	show() {
		if pidfile_alive "$2"; then
			printf '  %-10s running (pid %s)\n' "$1" "$(tr '\n' ' ' <"$2")"
		else
			printf '  %-10s stopped\n' "$1"
			rc=1
		fi
	}
	echo "stack status ($ST):"
	show MariaDB "$ST/mariadb/mariadb.pid"
	show app "$RUN/tf-calendar.pid"
	show nginx "$RUN/nginx.pid"
	show radicale "$ST/radicale/radicale.pid"
	show mail-sink "$RUN/smtp.pid"
	show google "$RUN/google.pid"
	if [ $rc -eq 0 ]; then
		echo "  healthz:   $(curl -s "$BASE_URL/healthz" || echo unreachable)"
		echo "  URL:       $BASE_URL/doctor/login"
	fi
	return $rc
}

case "${1:-start}" in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
-h|--help) sed -n '2,25p' "$0" ;;
*) die "usage: scripts/stack.sh [start|stop|status]" ;;
esac
