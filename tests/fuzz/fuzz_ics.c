/* fuzz_ics.c: icsbusy_parse on arbitrary bytes: never crashes or leaks, and what it returns holds
 * the contract (count in range, intervals sorted, merged, inside the window). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "icsbusy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 2026-01-01Z .. 2026-05-01Z, roughly the sync horizon */
	const time_t from = 1767225600, to = 1777593600;
	struct interval *iv = NULL;
	char uid[64], err[128];
	long n, i;

	n = icsbusy_parse((const char *)data, size, "Europe/Berlin", from, to, &iv, uid, sizeof(uid), err,
			  sizeof(err));
	if (n < -1 || n > ICSBUSY_MAX_INTERVALS)
		abort();
	if (n <= 0 && iv)
		abort();
	if (n == -1 && !err[0])
		abort();
	if (strlen(uid) >= sizeof(uid))
		abort();
	for (i = 0; i < n; i++) {
		if (iv[i].start < from || iv[i].end > to || iv[i].end <= iv[i].start)
			abort();
		if (i > 0 && iv[i].start <= iv[i - 1].end)
			abort();
	}
	free(iv);
	return 0;
}
