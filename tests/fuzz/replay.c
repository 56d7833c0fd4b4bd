/* replay.c: without libFuzzer, a fuzz target replays its seed corpus (and any files named on the
 * command line) through LLVMFuzzerTestOneInput and prints TAP, so make check runs every target.
 *
 * Fuzzing for real (Debian's clang-14 ships libFuzzer):
 *   ./configure CC=clang --enable-fuzzing --enable-sanitizers && make check TESTS= &&
 *   tests/fuzz/fuzz_form -max_total_time=60 $srcdir/tests/fuzz/corpus/form
 * (likewise fuzz_cookie, fuzz_json, fuzz_conf, fuzz_template with their corpus directories).
 * libFuzzer adds new interesting inputs to the corpus directory it is given; copy only small,
 * meaningful ones into the source tree. A crash leaves crash-<sha1> in the current directory:
 * replay it with this program (non-fuzzing build): tests/fuzz/fuzz_form crash-<sha1>.
 *
 * The corpus is $TF_SRCDIR/tests/fuzz/corpus/<target>/, target being the program name without
 * its "fuzz_" prefix (fuzz_form -> form). An empty or missing corpus is a failure. */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define REPLAY_MAX_INPUT (1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run one file; 0 on success (a crash in the target never returns). */
static int replay_file(const char *path)
{
	struct buf b;
	enum tf_err rc = file_read_all(path, REPLAY_MAX_INPUT, &b);
	uint8_t *copy;

	if (rc != TF_OK) {
		fprintf(stdout, "# %s: %s\n", path, tf_strerror(rc));
		return -1;
	}
	/* An exact-size heap copy, so ASan sees any read past the end. */
	copy = xmalloc(b.len ? b.len : 1);
	memcpy(copy, b.data, b.len);
	LLVMFuzzerTestOneInput(copy, b.len);
	free(copy);
	buf_free(&b);
	return 0;
}

static int skip_entry(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	const char *src = getenv("TF_SRCDIR");
	char dir[4096], path[8192];
	struct dirent **list = NULL;
	int i, n, failed = 0;

	if (argc > 1) {
		printf("1..%d\n", argc - 1);
		for (i = 1; i < argc; i++) {
			int bad = replay_file(argv[i]) < 0;

			failed |= bad;
			printf("%sok %d - %s\n", bad ? "not " : "", i, argv[i]);
		}
		return failed;
	}
	base = base ? base + 1 : argv[0];
	if (strncmp(base, "lt-", 3) == 0)
		base += 3;
	if (strncmp(base, "fuzz_", 5) == 0)
		base += 5;
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", src && *src ? src : ".", base);
	n = scandir(dir, &list, skip_entry, alphasort);
	if (n <= 0) {
		printf("1..0\nBail out! no corpus files in %s\n", dir);
		free(list);
		return 1;
	}
	printf("1..%d\n", n);
	for (i = 0; i < n; i++) {
		int bad;

		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		fflush(stdout);
		bad = replay_file(path) < 0;
		failed |= bad;
		printf("%sok %d - %s\n", bad ? "not " : "", i + 1, list[i]->d_name);
		free(list[i]);
	}
	free(list);
	return failed;
}
