/* fuzz_conf.c: conf_parse on arbitrary bytes; errors carry "line N: ", settings respect the limits. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_one(const char *key, const char *value, void *ud)
{
	size_t *n = ud;

	if (!*key || strlen(key) > CONF_MAX_KEY || strlen(value) > CONF_MAX_VALUE)
		abort();
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct conf *c;
	size_t n = 0;

	err[0] = '\0';
	c = conf_parse((const char *)data, size, err, sizeof(err));
	if (!c) {
		if (strncmp(err, "line ", 5) != 0 && strncmp(err, "file larger", 11) != 0)
			abort();
		return 0;
	}
	conf_each(c, check_one, &n);
	conf_free(c);
	return 0;
}
