/* fernet-tool.c: check program for the Fernet interop test: encrypt or decrypt stdin with CALENDAR_ENCRYPTION_KEY. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "util.h"

#define INPUT_MAX ((size_t)8 << 20)

static int usage(void)
{
	fputs("usage: fernet-tool encrypt|decrypt [--ttl SECONDS]\n"
	      "  The keyring comes from CALENDAR_ENCRYPTION_KEY (comma-separated Fernet keys);\n"
	      "  plaintext or token on stdin, result on stdout.\n",
	      stderr);
	return 2;
}

/* Read stdin completely (at most INPUT_MAX bytes) into b. Returns 0 or -1. */
static int read_stdin(struct buf *b)
{
	char chunk[65536];
	size_t n;

	buf_init(b, INPUT_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		if (buf_append(b, chunk, n) < 0) {
			fprintf(stderr, "fernet-tool: input larger than %zu bytes\n", INPUT_MAX);
			return -1;
		}
	}
	if (ferror(stdin)) {
		fputs("fernet-tool: cannot read stdin\n", stderr);
		return -1;
	}
	if (!b->data && buf_append(b, "", 0) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct fernet_keyring *k = NULL;
	struct buf in;
	char err[256];
	const char *keys;
	char *out = NULL;
	size_t n = 0;
	long ttl = 0;
	int encrypt, rc = 1;

	buf_init(&in, INPUT_MAX);
	if (argc == 4 && strcmp(argv[2], "--ttl") == 0) {
		if (str_to_long(argv[3], 1, 100L * 365 * 86400, &ttl) < 0)
			return usage();
	} else if (argc != 2) {
		return usage();
	}
	if (strcmp(argv[1], "encrypt") == 0)
		encrypt = 1;
	else if (strcmp(argv[1], "decrypt") == 0)
		encrypt = 0;
	else
		return usage();
	if (encrypt && ttl)
		return usage();

	if (crypto_init() != TF_OK) {
		fputs("fernet-tool: libgcrypt is too old\n", stderr);
		return 1;
	}
	keys = getenv("CALENDAR_ENCRYPTION_KEY");
	k = fernet_keyring_parse(keys, err, sizeof(err));
	if (!k) {
		fprintf(stderr, "fernet-tool: CALENDAR_ENCRYPTION_KEY: %s\n", err);
		goto out;
	}
	if (read_stdin(&in) < 0)
		goto out;
	if (encrypt) {
		out = fernet_encrypt(k, in.data, in.len);
		if (!out) {
			fputs("fernet-tool: encryption failed\n", stderr);
			goto out;
		}
		n = strlen(out);
		if (fwrite(out, 1, n, stdout) != n || fputc('\n', stdout) == EOF)
			goto out;
	} else {
		/* the token is one line: trailing white space from the shell is not part of it */
		while (in.len && strchr(" \t\r\n", in.data[in.len - 1]))
			in.data[--in.len] = '\0';
		if (ttl)
			out = fernet_decrypt_at(k, in.data, ttl, (uint64_t)time(NULL), &n);
		else
			out = fernet_decrypt(k, in.data, &n);
		if (!out) {
			fputs("fernet-tool: invalid token\n", stderr);
			goto out;
		}
		if (n && fwrite(out, 1, n, stdout) != n)
			goto out;
	}
	if (fflush(stdout) == 0)
		rc = 0;
out:
	free(out);
	buf_free(&in);
	fernet_keyring_free(k);
	return rc;
}
