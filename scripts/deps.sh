#!/bin/sh
# deps.sh: the one list of Debian packages TerminFinder Kalender needs to build, run and test; installs what is missing.
#
# Usage: scripts/deps.sh [--list] [--no-npm]
#   --list    print the package list and exit
#   --no-npm  skip the browser test's npm dependency (tests/browser/node_modules)
# Works as root, or through sudo when not root. Runs `apt-get update` only when something is missing.
set -eu

PACKAGES="
build-essential autoconf automake libtool pkg-config make
libcurl4-openssl-dev libjansson-dev libmariadb-dev libgcrypt20-dev libical-dev libesmtp-dev libssl-dev
libcmocka-dev libfcgi-dev libexpat1-dev
mariadb-server mariadb-client
nginx spawn-fcgi radicale python3-passlib python3-caldav
python3 python3-cryptography python3-aiosmtpd tzdata
chromium fonts-dejavu-core
wrk curl openssl ca-certificates procps git
valgrind cppcheck clang
"

list_only=no
with_npm=yes
for arg in "$@"; do
	case "$arg" in
	--list) list_only=yes ;;
	--no-npm) with_npm=no ;;
	-h|--help) sed -n '2,8p' "$0"; exit 0 ;;
	*) echo "deps.sh: unknown argument: $arg" >&2; exit 2 ;;
	esac
done

if [ "$list_only" = yes ]; then
	for p in $PACKAGES; do echo "$p"; done
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	SUDO=MISSING
fi

missing=
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $p"
done
# Node.js and npm: keep whatever the machine already has (e.g. a newer Node.js from elsewhere);
# install Debian's only when the command is missing.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ]; then
	if [ "$SUDO" = MISSING ]; then
		echo "deps.sh: missing packages:$missing" >&2
		echo "deps.sh: not root and no sudo; install them as root: apt-get install$missing" >&2
		exit 1
	fi
	echo "deps.sh: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
else
	echo "deps.sh: all Debian packages present"
fi

# The browser test's npm dependency (playwright-core: no browser download, Debian's chromium is used).
if [ "$with_npm" = yes ]; then
	top=$(cd "$(dirname "$0")/.." && pwd)
	bdir="$top/tests/browser"
	if [ -f "$bdir/package-lock.json" ]; then
		if [ ! -d "$bdir/node_modules/playwright-core" ] ||
		   [ "$bdir/package-lock.json" -nt "$bdir/node_modules/.package-lock.json" ]; then
			echo "deps.sh: npm ci in tests/browser"
			(cd "$bdir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
		else
			echo "deps.sh: tests/browser/node_modules up to date"
		fi
	fi
fi
