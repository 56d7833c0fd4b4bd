/* fuzz_form.c: form_parse_urlencoded on arbitrary bytes; every decoded field must respect the limits. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvlist l;
	enum tf_err rc = form_parse_urlencoded((const char *)data, size, &l);
	size_t i;

	if (rc != TF_OK) {
		if (l.n != 0 || l.items)
			abort();
		return 0;
	}
	if (l.n > FORM_MAX_FIELDS)
		abort();
	for (i = 0; i < l.n; i++) {
		if (!*l.items[i].name || strlen(l.items[i].name) > FORM_MAX_NAME ||
		    strlen(l.items[i].value) > FORM_MAX_VALUE)
			abort();
		if (kv_get(&l, l.items[i].name) == NULL)
			abort();
	}
	kv_free(&l);
	return 0;
}
