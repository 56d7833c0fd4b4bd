/* fuzz_log.c: log_redact on arbitrary text; the first line is registered as a secret and must never come out. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *nl, *msg;
	char out[8192];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';  /* a C string: anything after a NUL byte is ignored */
	nl = strchr(text, '\n');
	msg = text;
	if (nl) {
		*nl = '\0';
		msg = nl + 1;
		log_add_secret(text);
	}
	log_redact(msg, out, sizeof(out));
	if (strlen(out) >= sizeof(out))
		abort();
	/* A registered secret never survives. (An occurrence that the mask "[redacted]" helps to form
	 * contains a bracket or lies inside the mask: such secrets are not checked.) */
	if (nl && strlen(text) >= 6 && !strpbrk(text, "[]") && !strstr("[redacted]", text) && strstr(out, text))
		abort();
	log_clear_secrets();
	free(text);
	return 0;
}
