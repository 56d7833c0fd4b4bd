/* crypto.h: randomness, constant-time compare, base64, SHA-256/HMAC, Fernet, password hashes, HS256 JWT (libgcrypt). */
#ifndef TF_CRYPTO_H
#define TF_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "util.h"

/* Initialise libgcrypt once (secure memory, version check). Safe to call many times; every
 * program calls it at start. Returns TF_OK or TF_ERR_CRYPTO. */
enum tf_err crypto_init(void);

/* Strong random bytes (GCRY_STRONG_RANDOM). */
void crypto_random(void *buf, size_t n);
/* n random bytes as base64url without padding into out (NUL-terminated); outlen >= 4*n/3+2. */
void crypto_random_token(size_t nbytes, char *out, size_t outlen);

/* Constant-time comparisons: 1 when equal, 0 otherwise. ct_streq compares lengths too
 * without early exit on content. */
int ct_equal(const void *a, const void *b, size_t n);
int ct_streq(const char *a, const char *b);

/* base64 (RFC 4648). url=1: URL-safe alphabet. pad=1: '=' padding.
 * Encode writes NUL-terminated text into out (outlen >= 4*((n+2)/3)+1), returns its length or -1.
 * Decode accepts padding or none; returns byte count or -1 on bad input / small out. */
long b64_encode(const void *in, size_t n, int url, int pad, char *out, size_t outlen);
long b64_decode(const char *in, size_t n, int url, void *out, size_t outlen);

void sha256(const void *data, size_t n, uint8_t out[32]);
/* Lower-case hex of SHA-256: out needs 65 bytes. */
void sha256_hex(const void *data, size_t n, char out[65]);
void hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, uint8_t out[32]);

/* Fernet (https://github.com/fernet/spec), byte-exact with Python's cryptography.fernet.
 * Keys: url-safe base64 of 32 bytes. A keyring holds one or more; the first encrypts, all decrypt. */
struct fernet_keyring;
/* Parse a comma-separated list (spaces around commas allowed). NULL on a malformed key
 * (err says which position, never the key). */
struct fernet_keyring *fernet_keyring_parse(const char *csv, char *err, size_t errlen);
void fernet_keyring_free(struct fernet_keyring *k);
size_t fernet_keyring_count(const struct fernet_keyring *k);
/* Encrypt with the first key. now: the timestamp to embed; iv: 16 bytes, or NULL for random.
 * Returns a malloc'd NUL-terminated token (caller frees), NULL on failure. */
char *fernet_encrypt_at(const struct fernet_keyring *k, const void *msg, size_t n, uint64_t now,
			const uint8_t *iv);
char *fernet_encrypt(const struct fernet_keyring *k, const void *msg, size_t n);
/* Decrypt with any key. ttl <= 0: no age check; otherwise refuse tokens older than ttl seconds
 * or more than 60 s in the future relative to now. Returns a malloc'd plaintext (NUL added, *outlen
 * set) or NULL on any failure (bad token, bad MAC, expired) — no detail, by design. */
char *fernet_decrypt_at(const struct fernet_keyring *k, const char *token, long ttl, uint64_t now,
			size_t *outlen);
char *fernet_decrypt(const struct fernet_keyring *k, const char *token, size_t *outlen);
/* A new random key (44 characters + NUL). */
void fernet_generate_key(char out[45]);

/* Password hashes: PBKDF2-HMAC-SHA256 with the parameters in the string:
 * "pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64". PASSWORD_ITERATIONS is the default count. */
#define PASSWORD_ITERATIONS 210000
#define PASSWORD_HASH_MAX 160
/* Write a new hash of password into out[PASSWORD_HASH_MAX]. iterations 0 = default. Returns TF_OK. */
enum tf_err password_hash(const char *password, unsigned long iterations, char *out, size_t outlen);
/* 1 when password matches hash, 0 when not or the hash is malformed. Constant time in the result. */
int password_verify(const char *password, const char *hash);
/* Raw PBKDF2-HMAC-SHA256 (RFC 8018) into out[outlen]. Returns TF_OK, or TF_ERR_INVALID on a zero
 * iteration count, an empty salt or outlen 0. */
enum tf_err pbkdf2_sha256(const void *password, size_t pwlen, const void *salt, size_t saltlen,
			  unsigned long iterations, void *out, size_t outlen);

/* HS256 JWT (RFC 7519): sign claims (the object is not changed); returns malloc'd token or NULL. */
char *jwt_sign_hs256(const char *secret, json_t *claims);
/* Verify signature (alg must be HS256, typ JWT if present), then exp (required, > now) and nbf.
 * Returns the claims (caller decrefs) or NULL. Tokens longer than 4096 bytes are refused. */
json_t *jwt_verify_hs256(const char *secret, const char *token, time_t now);

#endif
