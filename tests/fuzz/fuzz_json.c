/* fuzz_json.c: json_body_parse on arbitrary bytes; a result is always an object within the limits. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

#define FUZZ_JSON_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum tf_err rc = TF_ERR_MAX;
	char err[256];
	json_t *j;

	err[0] = '\0';
	j = json_body_parse((const char *)data, size, FUZZ_JSON_MAX, &rc, err, sizeof(err));
	if (!j) {
		if ((rc != TF_ERR_INVALID && rc != TF_ERR_TOOBIG) || !err[0])
			abort();
		if ((rc == TF_ERR_TOOBIG) != (size > FUZZ_JSON_MAX))
			abort();
		return 0;
	}
	if (rc != TF_OK || !json_is_object(j) || size > FUZZ_JSON_MAX)
		abort();
	/* Serialising back must work for anything accepted. */
	free(json_dumps(j, JSON_COMPACT));
	json_decref(j);
	return 0;
}
