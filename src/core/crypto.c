/* crypto.c: libgcrypt set-up, randomness, constant-time compare, base64, SHA-256/HMAC, Fernet, PBKDF2 password hashes, HS256 JWT. */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>

#include "crypto.h"

#define CRYPTO_NEED_GCRYPT "1.8.0"
#define CRYPTO_SECMEM_SIZE 32768

/* Fernet limits: keys in a ring, key list text, plaintext and token sizes. */
#define FERNET_MAX_KEYS 16
#define FERNET_KEYLIST_MAX 4096
#define FERNET_MSG_MAX ((size_t)16 << 20)
#define FERNET_OVERHEAD (1 + 8 + 16 + 32)                 /* version, time, IV, HMAC */
#define FERNET_RAW_MAX (FERNET_OVERHEAD + FERNET_MSG_MAX + 16)
#define FERNET_TOKEN_MAX ((FERNET_RAW_MAX + 2) / 3 * 4)
#define FERNET_MAX_CLOCK_SKEW 60                          /* cryptography's _MAX_CLOCK_SKEW */
#define FERNET_KEY_B64_LEN 44

/* Password hash parameters. */
#define PW_PREFIX "pbkdf2-sha256$"
#define PW_SALT_LEN 16
#define PW_SALT_MIN 8
#define PW_SALT_MAX 64
#define PW_HASH_LEN 32
#define PW_ITER_MIN 1000UL
#define PW_ITER_MAX 10000000UL
#define PW_PASSWORD_MAX 1024

#define JWT_MAX 4096
/* base64url of {"alg":"HS256","typ":"JWT"} */
#define JWT_HEADER_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

struct fernet_key {
	uint8_t sign[16];
	uint8_t enc[16];
};

struct fernet_keyring {
	size_t n;
	struct fernet_key key[FERNET_MAX_KEYS];
};

static int crypto_ready;

/* libgcrypt failed where it cannot fail short of memory exhaustion or a broken library. */
static void crypto_fatal(const char *what)
{
	fprintf(stderr, "fatal: libgcrypt %s failed\n", what);
	abort();
}

/* Secure memory: a 32 KiB locked pool that grows on demand. When mlock is not permitted
 * (non-root with a small RLIMIT_MEMLOCK) libgcrypt keeps the pool unlocked; the warning about
 * that is switched off because it would land on a CGI's stderr on every start. */
enum tf_err crypto_init(void)
{
	if (crypto_ready)
		return TF_OK;
	if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		/* Another part of the process (a library) finished the set-up already. */
		if (!gcry_check_version(CRYPTO_NEED_GCRYPT))
			return TF_ERR_CRYPTO;
		crypto_ready = 1;
		return TF_OK;
	}
	if (!gcry_check_version(CRYPTO_NEED_GCRYPT))
		return TF_ERR_CRYPTO;
	gcry_control(GCRYCTL_DISABLE_SECMEM_WARN, 0);
	if (gcry_control(GCRYCTL_INIT_SECMEM, CRYPTO_SECMEM_SIZE, 0))
		return TF_ERR_CRYPTO;
	gcry_control(GCRYCTL_AUTO_EXPAND_SECMEM, (unsigned int)CRYPTO_SECMEM_SIZE);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	crypto_ready = 1;
	return TF_OK;
}

static void crypto_need_init(void)
{
	if (crypto_init() != TF_OK)
		crypto_fatal("initialisation (version check)");
}

void crypto_random(void *buf, size_t n)
{
	if (!n)
		return;
	crypto_need_init();
	gcry_randomize(buf, n, GCRY_STRONG_RANDOM);
}

/* A random token is a secret: a too small buffer or an absurd size is a programming error, and
 * handing back a short or empty token would be worse than stopping. */
void crypto_random_token(size_t nbytes, char *out, size_t outlen)
{
	uint8_t raw[1024];

	if (nbytes == 0 || nbytes > sizeof(raw) || !out) {
		fprintf(stderr, "fatal: crypto_random_token: bad size %zu\n", nbytes);
		abort();
	}
	crypto_random(raw, nbytes);
	if (b64_encode(raw, nbytes, 1, 0, out, outlen) < 0) {
		fprintf(stderr, "fatal: crypto_random_token: output buffer of %zu bytes too small\n", outlen);
		abort();
	}
	explicit_bzero(raw, nbytes);
}

int ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a;
	const volatile unsigned char *y = b;
	unsigned int d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= (unsigned int)(x[i] ^ y[i]);
	/* 1 when d == 0, without a data-dependent branch. */
	return (int)(1U & ((d - 1U) >> 8));
}

/* The running time depends on strlen(a) only (pass the secret or the expected value as b). */
int ct_streq(const char *a, const char *b)
{
	const volatile unsigned char *x = (const unsigned char *)a;
	const volatile unsigned char *y = (const unsigned char *)b;
	size_t la, lb, i, j;
	size_t d;

	if (!a || !b)
		return 0;
	la = strlen(a);
	lb = strlen(b);
	d = la ^ lb;
	for (i = 0; i < la; i++) {
		j = i < lb ? i : lb;  /* b[lb] is its NUL: always readable */
		d |= (size_t)(x[i] ^ y[j]);
	}
	return d == 0;
}

/* ---------------------------------------------------------------- base64 */

static const char b64_std_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(unsigned char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

long b64_encode(const void *in, size_t n, int url, int pad, char *out, size_t outlen)
{
	const unsigned char *p = in;
	const char *alpha = url ? b64_url_alpha : b64_std_alpha;
	size_t need, i, o = 0;
	uint32_t v;

	if (!out || (!in && n) || n > (size_t)LONG_MAX / 4 * 3 - 3)
		return -1;
	need = n / 3 * 4 + (n % 3 == 0 ? 0 : pad ? 4 : n % 3 + 1);
	if (outlen < need + 1)
		return -1;
	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		out[o++] = alpha[v >> 6 & 63];
		out[o++] = alpha[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		out[o++] = alpha[v >> 6 & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}

/* Strict: only the chosen alphabet; padding, when present, must complete the last quantum
 * exactly; unused bits of the last character must be zero (one text per byte string). */
long b64_decode(const char *in, size_t n, int url, void *out, size_t outlen)
{
	unsigned char *o = out;
	size_t m = n, padn = 0, rem, need, i, j = 0;
	unsigned int acc = 0, bits = 0;
	int v;

	if ((!in && n) || n > (size_t)LONG_MAX)
		return -1;
	while (m > 0 && padn < 2 && in[m - 1] == '=') {
		m--;
		padn++;
	}
	rem = m % 4;
	if (rem == 1)
		return -1;
	if (padn && (n % 4 != 0 || (4 - rem) % 4 != padn))
		return -1;
	need = m / 4 * 3 + (rem ? rem - 1 : 0);
	if (need > outlen || (need && !o))
		return -1;
	for (i = 0; i < m; i++) {
		v = b64_value((unsigned char)in[i], url);
		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned int)v) & 0xffffU;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[j++] = (unsigned char)(acc >> bits);
		}
	}
	if (acc & ((1U << bits) - 1U))
		return -1;
	return (long)j;
}

/* ---------------------------------------------------------------- hashes */

void sha256(const void *data, size_t n, uint8_t out[32])
{
	crypto_need_init();
	gcry_md_hash_buffer(GCRY_MD_SHA256, out, n ? data : "", n);
}

void sha256_hex(const void *data, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[32];
	size_t i;

	sha256(data, n, d);
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}

void hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, uint8_t out[32])
{
	gcry_md_hd_t h;
	const unsigned char *d;

	crypto_need_init();
	if (gcry_md_open(&h, GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC | GCRY_MD_FLAG_SECURE))
		crypto_fatal("HMAC open");
	if (gcry_md_setkey(h, keylen ? key : "", keylen))
		crypto_fatal("HMAC setkey");
	if (n)
		gcry_md_write(h, data, n);
	d = gcry_md_read(h, GCRY_MD_SHA256);
	if (!d)
		crypto_fatal("HMAC read");
	memcpy(out, d, 32);
	gcry_md_close(h);
}

/* ---------------------------------------------------------------- Fernet */

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The ring lives in libgcrypt's secure memory, which is wiped when freed. */
struct fernet_keyring *fernet_keyring_parse(const char *csv, char *err, size_t errlen)
{
	struct fernet_keyring *k = NULL;
	uint8_t raw[33];
	const char *p, *end, *s, *e;
	size_t pos = 0, total = 1;
	long got;

	err_set(err, errlen, "%s", "");
	if (!csv) {
		err_set(err, errlen, "no key given");
		return NULL;
	}
	if (strnlen(csv, FERNET_KEYLIST_MAX + 1) > FERNET_KEYLIST_MAX) {
		err_set(err, errlen, "key list longer than %d characters", FERNET_KEYLIST_MAX);
		return NULL;
	}
	for (p = csv; *p; p++)
		total += *p == ',';
	if (total > FERNET_MAX_KEYS) {
		err_set(err, errlen, "%zu keys given, at most %d allowed", total, FERNET_MAX_KEYS);
		return NULL;
	}
	crypto_need_init();
	k = gcry_calloc_secure(1, sizeof(*k));
	if (!k) {
		err_set(err, errlen, "out of memory");
		return NULL;
	}
	p = csv;
	for (;;) {
		pos++;
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		s = p;
		e = end;
		while (s < e && is_blank(*s))
			s++;
		while (e > s && is_blank(e[-1]))
			e--;
		if (s == e) {
			if (total == 1)
				err_set(err, errlen, "no key given");
			else
				err_set(err, errlen, "key %zu of %zu is empty", pos, total);
			goto fail;
		}
		got = -1;
		if (e - s == FERNET_KEY_B64_LEN)
			got = b64_decode(s, FERNET_KEY_B64_LEN, 1, raw, sizeof(raw));
		if (got != 32) {
			err_set(err, errlen,
				"key %zu of %zu is not a Fernet key (44 characters of url-safe base64 encoding 32 bytes)",
				pos, total);
			goto fail;
		}
		memcpy(k->key[k->n].sign, raw, 16);
		memcpy(k->key[k->n].enc, raw + 16, 16);
		k->n++;
		if (!*end)
			break;
		p = end + 1;
	}
	explicit_bzero(raw, sizeof(raw));
	return k;
fail:
	explicit_bzero(raw, sizeof(raw));
	fernet_keyring_free(k);
	return NULL;
}

void fernet_keyring_free(struct fernet_keyring *k)
{
	if (!k)
		return;
	explicit_bzero(k, sizeof(*k));
	gcry_free(k);
}

size_t fernet_keyring_count(const struct fernet_keyring *k)
{
	return k ? k->n : 0;
}

static gcry_cipher_hd_t fernet_cipher(const struct fernet_key *key, const uint8_t *iv)
{
	gcry_cipher_hd_t c;

	if (gcry_cipher_open(&c, GCRY_CIPHER_AES128, GCRY_CIPHER_MODE_CBC, GCRY_CIPHER_SECURE))
		return NULL;
	if (gcry_cipher_setkey(c, key->enc, 16) || gcry_cipher_setiv(c, iv, 16)) {
		gcry_cipher_close(c);
		return NULL;
	}
	return c;
}

char *fernet_encrypt_at(const struct fernet_keyring *k, const void *msg, size_t n, uint64_t now,
			const uint8_t *iv)
{
	gcry_cipher_hd_t c = NULL;
	uint8_t *raw = NULL;
	char *tok = NULL;
	size_t padded, rawlen = 0, toklen, i;

	if (!k || !k->n || (!msg && n) || n > FERNET_MSG_MAX)
		return NULL;
	crypto_need_init();
	padded = (n / 16 + 1) * 16;
	rawlen = FERNET_OVERHEAD + padded;
	raw = malloc(rawlen);
	if (!raw)
		goto out;
	raw[0] = 0x80;
	for (i = 0; i < 8; i++)
		raw[1 + i] = (uint8_t)(now >> (56 - 8 * i));
	if (iv)
		memcpy(raw + 9, iv, 16);
	else
		crypto_random(raw + 9, 16);
	if (n)
		memcpy(raw + 25, msg, n);
	memset(raw + 25 + n, (int)(padded - n), padded - n);
	c = fernet_cipher(&k->key[0], raw + 9);
	if (!c || gcry_cipher_encrypt(c, raw + 25, padded, NULL, 0))
		goto out;
	hmac_sha256(k->key[0].sign, 16, raw, 25 + padded, raw + 25 + padded);
	toklen = (rawlen + 2) / 3 * 4 + 1;
	tok = malloc(toklen);
	if (tok && b64_encode(raw, rawlen, 1, 1, tok, toklen) < 0) {
		free(tok);
		tok = NULL;
	}
out:
	if (c)
		gcry_cipher_close(c);
	if (raw) {
		explicit_bzero(raw, rawlen);
		free(raw);
	}
	return tok;
}

char *fernet_encrypt(const struct fernet_keyring *k, const void *msg, size_t n)
{
	return fernet_encrypt_at(k, msg, n, (uint64_t)time(NULL), NULL);
}

/* Order as in cryptography: decode (strict url-safe base64 with padding), version, time checks
 * (only with a ttl), HMAC with each key in turn (constant-time compare), then AES-CBC and PKCS#7. */
char *fernet_decrypt_at(const struct fernet_keyring *k, const char *token, long ttl, uint64_t now,
			size_t *outlen)
{
	gcry_cipher_hd_t c = NULL;
	const struct fernet_key *key = NULL;
	uint8_t *raw = NULL, mac[32];
	char *plain = NULL;
	size_t toklen, rawcap = 0, rawlen, maclen, ctlen, i, pad, n;
	uint64_t ts = 0;
	long got;
	unsigned int bad;

	if (outlen)
		*outlen = 0;
	if (!k || !k->n || !token)
		return NULL;
	toklen = strnlen(token, FERNET_TOKEN_MAX + 1);
	if (toklen == 0 || toklen > FERNET_TOKEN_MAX || toklen % 4 != 0)
		return NULL;
	crypto_need_init();
	rawcap = toklen / 4 * 3;
	raw = malloc(rawcap);
	if (!raw)
		goto out;
	got = b64_decode(token, toklen, 1, raw, rawcap);
	if (got < (long)(FERNET_OVERHEAD + 16))
		goto out;
	rawlen = (size_t)got;
	if ((rawlen - FERNET_OVERHEAD) % 16 != 0 || raw[0] != 0x80)
		goto out;
	for (i = 0; i < 8; i++)
		ts = ts << 8 | raw[1 + i];
	if (ttl > 0) {
		if (now > ts && now - ts > (uint64_t)ttl)
			goto out;
		if (ts > now && ts - now > FERNET_MAX_CLOCK_SKEW)
			goto out;
	}
	maclen = rawlen - 32;
	for (i = 0; i < k->n && !key; i++) {
		hmac_sha256(k->key[i].sign, 16, raw, maclen, mac);
		if (ct_equal(mac, raw + maclen, 32))
			key = &k->key[i];
	}
	if (!key)
		goto out;
	ctlen = maclen - 25;
	c = fernet_cipher(key, raw + 9);
	if (!c || gcry_cipher_decrypt(c, raw + 25, ctlen, NULL, 0))
		goto out;
	pad = raw[25 + ctlen - 1];
	if (pad < 1 || pad > 16)
		goto out;
	bad = 0;
	for (i = 0; i < pad; i++)
		bad |= raw[25 + ctlen - 1 - i] ^ (unsigned int)pad;
	if (bad)
		goto out;
	n = ctlen - pad;
	plain = malloc(n + 1);
	if (!plain)
		goto out;
	memcpy(plain, raw + 25, n);
	plain[n] = '\0';
	if (outlen)
		*outlen = n;
out:
	if (c)
		gcry_cipher_close(c);
	if (raw) {
		explicit_bzero(raw, rawcap);
		free(raw);
	}
	return plain;
}

char *fernet_decrypt(const struct fernet_keyring *k, const char *token, size_t *outlen)
{
	return fernet_decrypt_at(k, token, 0, 0, outlen);
}

void fernet_generate_key(char out[45])
{
	uint8_t raw[32];

	crypto_random(raw, sizeof(raw));
	if (b64_encode(raw, sizeof(raw), 1, 1, out, 45) != FERNET_KEY_B64_LEN)
		crypto_fatal("key encoding");
	explicit_bzero(raw, sizeof(raw));
}

/* ---------------------------------------------------------------- password hashes */

enum tf_err pbkdf2_sha256(const void *password, size_t pwlen, const void *salt, size_t saltlen,
			  unsigned long iterations, void *out, size_t outlen)
{
	if (!iterations || !salt || !saltlen || !out || !outlen || (!password && pwlen))
		return TF_ERR_INVALID;
	crypto_need_init();
	if (gcry_kdf_derive(pwlen ? password : "", pwlen, GCRY_KDF_PBKDF2, GCRY_MD_SHA256, salt, saltlen,
			    iterations, outlen, out))
		return TF_ERR_CRYPTO;
	return TF_OK;
}

/* Returns TF_ERR_TOOBIG for passwords over 1024 bytes, TF_ERR_INVALID for an iteration count
 * outside [1000, 10000000] or a too small out. */
enum tf_err password_hash(const char *password, unsigned long iterations, char *out, size_t outlen)
{
	uint8_t salt[PW_SALT_LEN], dk[PW_HASH_LEN];
	char salt64[32], dk64[48];
	size_t pwlen;
	enum tf_err e;
	int w;

	if (!password || !out)
		return TF_ERR_INVALID;
	pwlen = strnlen(password, PW_PASSWORD_MAX + 1);
	if (pwlen > PW_PASSWORD_MAX)
		return TF_ERR_TOOBIG;
	if (!iterations)
		iterations = PASSWORD_ITERATIONS;
	if (iterations < PW_ITER_MIN || iterations > PW_ITER_MAX)
		return TF_ERR_INVALID;
	crypto_random(salt, sizeof(salt));
	e = pbkdf2_sha256(password, pwlen, salt, sizeof(salt), iterations, dk, sizeof(dk));
	if (e != TF_OK)
		goto out;
	e = TF_ERR_INVALID;
	if (b64_encode(salt, sizeof(salt), 0, 0, salt64, sizeof(salt64)) < 0 ||
	    b64_encode(dk, sizeof(dk), 0, 0, dk64, sizeof(dk64)) < 0)
		goto out;
	w = snprintf(out, outlen, PW_PREFIX "%lu$%s$%s", iterations, salt64, dk64);
	if (w < 0 || (size_t)w >= outlen) {
		if (outlen)
			out[0] = '\0';
		goto out;
	}
	e = TF_OK;
out:
	explicit_bzero(dk, sizeof(dk));
	explicit_bzero(dk64, sizeof(dk64));
	return e;
}

int password_verify(const char *password, const char *hash)
{
	uint8_t salt[PW_SALT_MAX + 3], want[PW_HASH_LEN + 3], dk[PW_HASH_LEN];
	char num[16];
	const char *p, *d1, *d2;
	size_t pwlen, hlen, nlen;
	long iter, saltlen;
	int ok = 0;

	if (!password || !hash)
		return 0;
	pwlen = strnlen(password, PW_PASSWORD_MAX + 1);
	hlen = strnlen(hash, PASSWORD_HASH_MAX);
	if (pwlen > PW_PASSWORD_MAX || hlen >= PASSWORD_HASH_MAX)
		return 0;
	if (strncmp(hash, PW_PREFIX, strlen(PW_PREFIX)) != 0)
		return 0;
	p = hash + strlen(PW_PREFIX);
	d1 = strchr(p, '$');
	if (!d1)
		return 0;
	d2 = strchr(d1 + 1, '$');
	if (!d2 || strchr(d2 + 1, '$'))
		return 0;
	nlen = (size_t)(d1 - p);
	if (nlen == 0 || nlen >= sizeof(num) || p[0] == '0' || strspn(p, "0123456789") != nlen)
		return 0;
	memcpy(num, p, nlen);
	num[nlen] = '\0';
	if (str_to_long(num, (long)PW_ITER_MIN, (long)PW_ITER_MAX, &iter) < 0)
		return 0;
	saltlen = b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), 0, salt, sizeof(salt));
	if (saltlen < PW_SALT_MIN || saltlen > PW_SALT_MAX)
		return 0;
	if (b64_decode(d2 + 1, strlen(d2 + 1), 0, want, sizeof(want)) != PW_HASH_LEN)
		return 0;
	if (pbkdf2_sha256(password, pwlen, salt, (size_t)saltlen, (unsigned long)iter, dk, sizeof(dk)) !=
	    TF_OK)
		goto out;
	ok = ct_equal(dk, want, sizeof(dk));
out:
	explicit_bzero(dk, sizeof(dk));
	return ok;
}

/* ---------------------------------------------------------------- HS256 JWT */

char *jwt_sign_hs256(const char *secret, json_t *claims)
{
	struct buf b;
	uint8_t mac[32];
	char sig[48];
	char *payload = NULL, *enc = NULL, *tok = NULL;
	size_t plen, enclen;

	if (!secret || !*secret || !json_is_object(claims))
		return NULL;
	payload = json_dumps(claims, JSON_COMPACT);
	if (!payload)
		return NULL;
	plen = strlen(payload);
	buf_init(&b, JWT_MAX);
	if (plen > JWT_MAX)
		goto out;
	enclen = (plen + 2) / 3 * 4 + 1;
	enc = malloc(enclen);
	if (!enc || b64_encode(payload, plen, 1, 0, enc, enclen) < 0)
		goto out;
	if (buf_puts(&b, JWT_HEADER_B64 ".") < 0 || buf_puts(&b, enc) < 0)
		goto out;
	hmac_sha256(secret, strlen(secret), b.data, b.len, mac);
	if (b64_encode(mac, sizeof(mac), 1, 0, sig, sizeof(sig)) < 0)
		goto out;
	if (buf_putc(&b, '.') < 0 || buf_puts(&b, sig) < 0)
		goto out;
	tok = buf_detach(&b);
out:
	buf_free(&b);
	free(enc);
	free(payload);
	return tok;
}

/* Decode one base64url segment (no padding allowed) and parse it as a JSON object. */
static json_t *jwt_segment_json(const char *s, size_t n)
{
	unsigned char dec[JWT_MAX];
	json_t *j;
	long got;

	if (n == 0 || memchr(s, '=', n))
		return NULL;
	got = b64_decode(s, n, 1, dec, sizeof(dec));
	if (got <= 0)
		return NULL;
	j = json_loadb((const char *)dec, (size_t)got, JSON_REJECT_DUPLICATES, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* A NumericDate: an integer or a real. Returns -1 when absent, -2 when not a number, else 0. */
static int jwt_time_claim(json_t *claims, const char *name, double *out)
{
	json_t *v = json_object_get(claims, name);

	if (!v)
		return -1;
	if (json_is_integer(v))
		*out = (double)json_integer_value(v);
	else if (json_is_real(v))
		*out = json_real_value(v);
	else
		return -2;
	return 0;
}

json_t *jwt_verify_hs256(const char *secret, const char *token, time_t now)
{
	json_t *hdr = NULL, *claims = NULL, *v;
	const char *d1, *d2;
	uint8_t mac[32], sig[35];
	size_t len, hlen, plen, slen;
	double exp, nbf;
	int r;

	if (!secret || !*secret || !token)
		return NULL;
	len = strnlen(token, JWT_MAX + 1);
	if (len > JWT_MAX)
		return NULL;
	d1 = memchr(token, '.', len);
	if (!d1)
		return NULL;
	d2 = memchr(d1 + 1, '.', (size_t)(token + len - d1 - 1));
	if (!d2 || memchr(d2 + 1, '.', (size_t)(token + len - d2 - 1)))
		return NULL;
	hlen = (size_t)(d1 - token);
	plen = (size_t)(d2 - d1 - 1);
	slen = (size_t)(token + len - d2 - 1);
	if (!hlen || !plen || !slen || memchr(d2 + 1, '=', slen))
		return NULL;

	hdr = jwt_segment_json(token, hlen);
	if (!hdr)
		goto fail;
	v = json_object_get(hdr, "alg");
	if (!json_is_string(v) || strcmp(json_string_value(v), "HS256") != 0)
		goto fail;
	v = json_object_get(hdr, "typ");
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), "JWT") != 0))
		goto fail;
	if (json_object_get(hdr, "crit"))  /* no extensions understood (RFC 7515 4.1.11) */
		goto fail;

	if (b64_decode(d2 + 1, slen, 1, sig, sizeof(sig)) != (long)sizeof(mac))
		goto fail;
	hmac_sha256(secret, strlen(secret), token, (size_t)(d2 - token), mac);
	if (!ct_equal(mac, sig, sizeof(mac)))
		goto fail;

	claims = jwt_segment_json(d1 + 1, plen);
	if (!claims)
		goto fail;
	if (jwt_time_claim(claims, "exp", &exp) != 0 || exp <= (double)now)
		goto fail;
	r = jwt_time_claim(claims, "nbf", &nbf);
	if (r == -2 || (r == 0 && nbf > (double)now))
		goto fail;
	json_decref(hdr);
	return claims;
fail:
	json_decref(hdr);
	json_decref(claims);
	return NULL;
}
