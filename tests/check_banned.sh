#!/bin/sh
# check_banned.sh: TAP test that src/ calls none of the banned functions (STYLE.md): sprintf strcpy strcat strncpy atoi strtok gets.
#
# A call is the name as a whole word followed by optional blanks and "(" — so snprintf, vsnprintf,
# str_copy, fgets or strtok_r do not match. Text inside /* */ and // comments and string literals is
# ignored (a small awk scanner strips them before matching).
set -u

srcdir=${TF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
banned="sprintf strcpy strcat strncpy atoi strtok gets"

files=$(find "$srcdir/src" -type f \( -name '*.c' -o -name '*.h' -o -name '*.def' \) 2>/dev/null | LC_ALL=C sort)
if [ -z "$files" ]; then
	echo "1..0 # SKIP no sources under $srcdir/src"
	exit 0
fi

# Strip comments and string/char literals, keeping line numbers; print "FILE:LINE:code".
strip() {
	awk -v fname="$1" '
	BEGIN { inc = 0 }
	{
		line = $0; out = ""; i = 1; n = length(line)
		while (i <= n) {
			c = substr(line, i, 1); d = substr(line, i, 2)
			if (inc) {
				if (d == "*/") { inc = 0; i += 2 } else i++
				continue
			}
			if (d == "/*") { inc = 1; i += 2; continue }
			if (d == "//") break
			if (c == "\"" || c == "\047") {
				q = c; i++
				while (i <= n) {
					c = substr(line, i, 1)
					if (c == "\\") { i += 2; continue }
					i++
					if (c == q) break
				}
				out = out q q
				continue
			}
			out = out c; i++
		}
		print fname ":" NR ":" out
	}' "$1"
}

stripped=$(for f in $files; do strip "$f"; done)

n=0
failed=0
for fn in $banned; do
	n=$((n + 1))
	hits=$(printf '%s\n' "$stripped" | grep -E "(^|[^A-Za-z0-9_])$fn[[:space:]]*\(" | sed "s#^$srcdir/##")
	if [ -z "$hits" ]; then
		echo "ok $n - no $fn( in src/"
	else
		echo "not ok $n - $fn( used in src/"
		printf '%s\n' "$hits" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done

# Self-check: the matcher must see a real call and ignore the allowed look-alikes.
n=$((n + 1))
probe=$(printf 'x = sprintf(b, "%%d", 1);\ny = snprintf(b, 4, "x"); vsnprintf(b, 4, f, ap); z = strtok_r(a, b, &c); fgets(b, 4, f);\n')
want=1
got=$(printf '%s\n' "$probe" | grep -E -c '(^|[^A-Za-z0-9_])(sprintf|strcpy|strcat|strncpy|atoi|strtok|gets)[[:space:]]*\(')
if [ "$got" = "$want" ]; then
	echo "ok $n - matcher finds sprintf( and not snprintf(/vsnprintf(/strtok_r(/fgets("
else
	echo "not ok $n - matcher self-check: got $got matching lines, want $want"
	failed=$((failed + 1))
fi

echo "1..$n"
[ "$failed" -eq 0 ]
