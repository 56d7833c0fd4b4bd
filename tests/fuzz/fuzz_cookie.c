/* fuzz_cookie.c: cookie_parse on arbitrary bytes (cut at the first NUL, as a header would be). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *header = malloc(size + 1);
	struct kvlist l;
	enum tf_err rc;
	size_t i;

	if (!header)
		return 0;
	memcpy(header, data, size);
	header[size] = '\0';
	rc = cookie_parse(header, &l);
	if (rc != TF_OK) {
		if (l.n != 0 || rc != TF_ERR_TOOBIG)
			abort();
	}
	if (l.n > FORM_MAX_FIELDS)
		abort();
	for (i = 0; i < l.n; i++) {
		const char *v = l.items[i].value;

		if (!*l.items[i].name || strlen(l.items[i].name) > FORM_MAX_NAME)
			abort();
		if (strpbrk(v, ";\"\\\r\n"))
			abort();
	}
	kv_free(&l);
	free(header);
	return 0;
}
