#!/bin/sh
# nginx-conf.sh: derive a runnable nginx.conf from nginx.conf.example for scripts/stack.sh and the tests (the one transform).
#
# Usage: scripts/nginx-conf.sh --port PORT --run DIR --log DIR --tmp DIR --data DIR [--example FILE]
#                              [--burst ZONE=N]... [--rate ZONE=RATE]... > nginx.conf
#
# The substitutions, all of them (nothing else in the example changes):
#   /run/terminfinder/                       -> RUN/     (FastCGI socket tf-calendar.sock, nginx.pid)
#   /var/log/terminfinder/                   -> LOG/     (nginx-access.log, nginx-error.log)
#   /var/lib/terminfinder/nginx/             -> TMP/     (nginx temp dirs; created here)
#   /usr/local/share/terminfinder-kalender/  -> DATA/    (www/ is served as /static/)
#   "listen 80;"                             -> "listen 127.0.0.1:PORT;"
#   "user www-data;"                         -> "user root;" when run as root (nginx workers must open
#                                               the private dirs), else removed (not root: one user)
# It fails if any of the example paths is left over, so a changed example cannot go unnoticed.
#
# Only when asked (the tests and the benchmark; scripts/stack.sh never does), a rate limit's numbers:
#   --burst ZONE=N     every "limit_req zone=ZONE burst=..." gets burst=N
#   --rate ZONE=RATE   "limit_req_zone ... zone=ZONE:SIZE rate=...;" gets rate=RATE (e.g. 100000r/s)
# A ZONE the example does not have is an error.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
example="$top/nginx.conf.example"
port= run= log= tmp= data=
limits=
while [ $# -gt 0 ]; do
	case "$1" in
	--burst|--rate)
		[ $# -ge 2 ] || { echo "nginx-conf.sh: $1 needs ZONE=VALUE" >&2; exit 2; }
		zone=${2%%=*} val=${2#*=}
		case "$zone" in ''|*[!a-z0-9_]*) echo "nginx-conf.sh: bad zone name in $1 $2" >&2; exit 2 ;; esac
		if [ "$1" = --burst ]; then
			case "$val" in ''|*[!0-9]*) echo "nginx-conf.sh: --burst needs a number: $2" >&2; exit 2 ;; esac
			limits="$limits b:$zone:$val"
		else
			case "$val" in *[!0-9]*r/s|*[!0-9]*r/m|r/s|r/m) echo "nginx-conf.sh: --rate needs NUMBERr/s or NUMBERr/m: $2" >&2; exit 2 ;;
			*r/s|*r/m) ;;
			*) echo "nginx-conf.sh: --rate needs NUMBERr/s or NUMBERr/m: $2" >&2; exit 2 ;; esac
			limits="$limits r:$zone:$val"
		fi
		shift 2 ;;
	--port) port=$2; shift 2 ;;
	--run) run=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--tmp) tmp=$2; shift 2 ;;
	--data) data=$2; shift 2 ;;
	--example) example=$2; shift 2 ;;
	*) echo "nginx-conf.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done
for v in port run log tmp data; do
	eval "val=\$$v"
	if [ -z "$val" ]; then
		echo "nginx-conf.sh: --$v is required" >&2
		exit 2
	fi
done
case "$port" in
*[!0-9]*) echo "nginx-conf.sh: --port must be a number" >&2; exit 2 ;;
esac
for d in "$run" "$log" "$tmp" "$data"; do
	case "$d" in
	/*) ;;
	*) echo "nginx-conf.sh: paths must be absolute: $d" >&2; exit 2 ;;
	esac
	case "$d" in
	*'#'*|*'&'*|*' '*|*'\'*) echo "nginx-conf.sh: unsupported character in path: $d" >&2; exit 2 ;;
	esac
done
[ -f "$example" ] || { echo "nginx-conf.sh: $example not found" >&2; exit 2; }

if [ "$(id -u)" -eq 0 ]; then
	user_line='user root;'
else
	user_line='# user: not root, nginx runs as the invoking user'
fi
mkdir -p "$run" "$log" "$tmp"

out=$(sed -e "s#/run/terminfinder/#$run/#g" \
	  -e "s#/var/log/terminfinder/#$log/#g" \
	  -e "s#/var/lib/terminfinder/nginx/#$tmp/#g" \
	  -e "s#/usr/local/share/terminfinder-kalender/#$data/#g" \
	  -e "s#^\([[:space:]]*\)listen 80;#\1listen 127.0.0.1:$port;#" \
	  -e "s#^user www-data;#$user_line#" \
	  "$example")

for l in $limits; do
	kind=${l%%:*} rest=${l#*:}
	zone=${rest%%:*} val=${rest#*:}
	if [ "$kind" = b ]; then
		pat="limit_req zone=$zone burst=[0-9]*"
		rep="limit_req zone=$zone burst=$val"
	else
		pat="\(limit_req_zone .* zone=$zone:[0-9]*[kmKM]\) rate=[0-9]*r/[sm];"
		rep="\1 rate=$val;"
	fi
	if ! printf '%s\n' "$out" | grep -v '^[[:space:]]*#' | grep -q "$pat"; then
		echo "nginx-conf.sh: $example has no limit for zone $zone" >&2
		exit 1
	fi
	out=$(printf '%s\n' "$out" | sed -e "s#$pat#$rep#g")
done

if printf '%s\n' "$out" | grep -v '^[[:space:]]*#' |
   grep -E -q '/run/terminfinder/|/var/log/terminfinder/|/var/lib/terminfinder/|/usr/local/share/terminfinder-kalender/|listen 80;|user www-data;'; then
	echo "nginx-conf.sh: $example has a path or listen line the transform does not know" >&2
	exit 1
fi
printf '%s\n' "$out"
