#!/bin/sh
# fernet_interop.sh: TAP test: our Fernet (tests/unit/fernet-tool) and Python's cryptography.fernet read each other's tokens.
set -u

PY=${PYTHON3:-python3}
TOOL=${TF_BUILDDIR:-.}/tests/unit/fernet-tool

if ! "$PY" -c 'import cryptography.fernet' 2>/dev/null; then
	echo "1..0 # SKIP python3 cannot import cryptography.fernet"
	exit 0
fi
if [ ! -x "$TOOL" ]; then
	echo "Bail out! $TOOL not built (set TF_BUILDDIR)"
	exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fernet-interop.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }

# Python side. py_encrypt KEYS < plain > token: MultiFernet over the comma-separated keys
# (the first encrypts). py_decrypt KEYS [TTL] < token > plain: exit 1 on InvalidToken.
py_encrypt() {
	"$PY" -c '
import sys
from cryptography.fernet import Fernet, MultiFernet
keys = [Fernet(k.strip()) for k in sys.argv[1].split(",")]
sys.stdout.buffer.write(MultiFernet(keys).encrypt(sys.stdin.buffer.read()) + b"\n")
' "$1"
}
py_decrypt() {
	"$PY" -c '
import sys
from cryptography.fernet import Fernet, MultiFernet, InvalidToken
keys = [Fernet(k.strip()) for k in sys.argv[1].split(",")]
ttl = int(sys.argv[2]) if len(sys.argv) > 2 else None
try:
    sys.stdout.buffer.write(MultiFernet(keys).decrypt(sys.stdin.buffer.read().strip(), ttl=ttl))
except InvalidToken:
    sys.exit(1)
' "$@"
}
c_encrypt() { CALENDAR_ENCRYPTION_KEY=$1 "$TOOL" encrypt; }
c_decrypt() {
	k=$1
	shift
	if [ $# -gt 0 ]; then
		CALENDAR_ENCRYPTION_KEY=$k "$TOOL" decrypt --ttl "$1"
	else
		CALENDAR_ENCRYPTION_KEY=$k "$TOOL" decrypt
	fi
}
new_key() { "$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'; }

K1=$(new_key)
K2=$(new_key)
K3=$(new_key)

# Payloads: UTF-8, bytes that are not text (NUL, 0xff, CR/LF), empty, 100 KB, exactly one block.
printf '%s' 'Grüße aus der Praxis – Termin um 9:30 ✓ {"refresh_token":"1//0gX-y_z"}' >"$WORK/utf8"
"$PY" -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) + b"\x00\xff\r\n\x00")' >"$WORK/binary"
: >"$WORK/empty"
"$PY" -c 'import os, sys; sys.stdout.buffer.write(os.urandom(100 * 1024))' >"$WORK/big"
printf '0123456789abcdef' >"$WORK/block"



for p in utf8 binary empty big block; do
	# C encrypts, Python decrypts (with a ttl: the C timestamp is now)
	if c_encrypt "$K1" <"$WORK/$p" >"$WORK/$p.ctok" &&
	   py_decrypt "$K1" 60 <"$WORK/$p.ctok" >"$WORK/$p.pyout" &&
	   cmp -s "$WORK/$p" "$WORK/$p.pyout"; then
		ok "$p: C encrypts, Python decrypts"
	else
		not_ok "$p: C encrypts, Python decrypts"
	fi
	# Python encrypts, C decrypts
	if py_encrypt "$K1" <"$WORK/$p" >"$WORK/$p.pytok" &&
	   c_decrypt "$K1" 60 <"$WORK/$p.pytok" >"$WORK/$p.cout" &&
	   cmp -s "$WORK/$p" "$WORK/$p.cout"; then
		ok "$p: Python encrypts, C decrypts"
	else
		not_ok "$p: Python encrypts, C decrypts"
	fi
done

# Both sides make the same token shape: 0x80 version ("gAAAAA"), url-safe alphabet, padded.
if grep -Eq '^gAAAAA[A-Za-z0-9_-]*=*$' "$WORK/utf8.ctok" &&
   [ $(($(tr -d '\n' <"$WORK/utf8.ctok" | wc -c) % 4)) -eq 0 ]; then
	ok "C token is url-safe base64 with padding, version 0x80"
else
	not_ok "C token is url-safe base64 with padding, version 0x80"
fi

# Rotation. Old data was written under K1; the ring is now "K2,K1".
# Python MultiFernet([K1]) token (old) → C with "K2,K1" decrypts.
if c_decrypt "$K2,$K1" <"$WORK/utf8.pytok" >"$WORK/rot1" && cmp -s "$WORK/utf8" "$WORK/rot1"; then
	ok "rotation: old Python token (K1) decrypts in C with K2,K1"
else
	not_ok "rotation: old Python token (K1) decrypts in C with K2,K1"
fi
# C with "K2,K1" encrypts under K2: Python with K2 alone decrypts, Python with K1 alone refuses.
c_encrypt "$K2, $K1" <"$WORK/utf8" >"$WORK/rot.ctok"
if py_decrypt "$K2" <"$WORK/rot.ctok" >"$WORK/rot2" && cmp -s "$WORK/utf8" "$WORK/rot2"; then
	ok "rotation: C ring K2,K1 encrypts with K2 (Python K2 alone decrypts)"
else
	not_ok "rotation: C ring K2,K1 encrypts with K2 (Python K2 alone decrypts)"
fi
if py_decrypt "$K1" <"$WORK/rot.ctok" >/dev/null 2>&1; then
	not_ok "rotation: C ring K2,K1 token is refused by Python K1 alone"
else
	ok "rotation: C ring K2,K1 token is refused by Python K1 alone"
fi
# Python MultiFernet([K2,K1]) encrypts under K2: C with K2 alone decrypts, C with K1 alone refuses.
py_encrypt "$K2,$K1" <"$WORK/binary" >"$WORK/rot.pytok"
if c_decrypt "$K2" <"$WORK/rot.pytok" >"$WORK/rot3" && cmp -s "$WORK/binary" "$WORK/rot3"; then
	ok "rotation: Python MultiFernet([K2,K1]) token decrypts in C with K2 alone"
else
	not_ok "rotation: Python MultiFernet([K2,K1]) token decrypts in C with K2 alone"
fi
if c_decrypt "$K1" <"$WORK/rot.pytok" >/dev/null 2>&1; then
	not_ok "rotation: Python MultiFernet([K2,K1]) token is refused by C with K1 alone"
else
	ok "rotation: Python MultiFernet([K2,K1]) token is refused by C with K1 alone"
fi
# A C token under the ring "K3,K2,K1" (key 1 of 3) decrypts in Python only where K3 is present,
# and a Python K1 token decrypts in C with the key last in a three-key ring.
c_encrypt "$K3,$K2,$K1" <"$WORK/block" >"$WORK/rot3.ctok"
if py_decrypt "$K1,$K2,$K3" <"$WORK/rot3.ctok" >"$WORK/rot4" && cmp -s "$WORK/block" "$WORK/rot4" &&
   ! py_decrypt "$K1,$K2" <"$WORK/rot3.ctok" >/dev/null 2>&1; then
	ok "rotation: three-key C ring encrypts with its first key only"
else
	not_ok "rotation: three-key C ring encrypts with its first key only"
fi
if c_decrypt "$K3,$K2,$K1" <"$WORK/block.pytok" >"$WORK/rot5" && cmp -s "$WORK/block" "$WORK/rot5"; then
	ok "rotation: Python K1 token decrypts in C with K1 last of three"
else
	not_ok "rotation: Python K1 token decrypts in C with K1 last of three"
fi

# Tampering: flip one character in the middle of a Python token; C must refuse it.
tok=$(cat "$WORK/utf8.pytok")
half=$((${#tok} / 2))
tampered=$("$PY" -c '
import sys
t, i = sys.argv[1], int(sys.argv[2])
print(t[:i] + ("A" if t[i] != "A" else "B") + t[i + 1:])
' "$tok" "$half")
if printf '%s\n' "$tampered" | c_decrypt "$K1" >/dev/null 2>&1; then
	not_ok "tampered Python token is refused by C"
else
	ok "tampered Python token is refused by C"
fi
# A token of a wrong key is refused by C, and Python refuses a tampered C token too.
if c_decrypt "$K3" <"$WORK/utf8.pytok" >/dev/null 2>&1; then
	not_ok "C refuses a token made under another key"
else
	ok "C refuses a token made under another key"
fi
tok=$(cat "$WORK/utf8.ctok")
tampered=$("$PY" -c '
import sys
t = sys.argv[1]
print(t[:20] + ("A" if t[20] != "A" else "B") + t[21:])
' "$tok")
if printf '%s\n' "$tampered" | py_decrypt "$K1" >/dev/null 2>&1; then
	not_ok "Python refuses a tampered C token"
else
	ok "Python refuses a tampered C token"
fi

# ttl: a Python token made 1000 s ago is refused by C with --ttl 100 and accepted without a ttl.
"$PY" -c '
import sys, time
from cryptography.fernet import Fernet
sys.stdout.write(Fernet(sys.argv[1]).encrypt_at_time(b"old", int(time.time()) - 1000).decode() + "\n")
' "$K1" >"$WORK/old.pytok"
if c_decrypt "$K1" 100 <"$WORK/old.pytok" >/dev/null 2>&1; then
	not_ok "C refuses a 1000 s old token with --ttl 100"
else
	ok "C refuses a 1000 s old token with --ttl 100"
fi
if [ "$(c_decrypt "$K1" <"$WORK/old.pytok")" = old ]; then
	ok "C accepts the same token without a ttl"
else
	not_ok "C accepts the same token without a ttl"
fi

# A malformed key list is refused with a message naming the position, not the key.
if CALENDAR_ENCRYPTION_KEY="$K1,not-a-key-secret" "$TOOL" encrypt </dev/null >/dev/null 2>"$WORK/err"; then
	not_ok "malformed key list refused"
else
	if grep -q 'key 2 of 2' "$WORK/err" && ! grep -q 'not-a-key-secret' "$WORK/err" &&
	   ! grep -qF "$K1" "$WORK/err"; then
		ok "malformed key list refused"
	else
		not_ok "malformed key list refused"
	fi
fi

echo "1..$n"
[ "$failed" -eq 0 ]
