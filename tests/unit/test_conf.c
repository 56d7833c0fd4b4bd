/* test_conf.c: the .env parser against golden files, environment overrides, typed getters, loading. */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "log.h"
#include "util.h"

#define GOLDEN_MAX 128

static char golden_dir[4096];

/* KEY=VALUE with the value's control bytes and backslashes made visible. */
static void dump_one(const char *key, const char *value, void *ud)
{
	struct buf *out = ud;
	const unsigned char *p;

	assert_int_equal(buf_printf(out, "%s=", key), 0);
	for (p = (const unsigned char *)value; *p; p++) {
		int r;

		if (*p == '\\')
			r = buf_puts(out, "\\\\");
		else if (*p == '\n')
			r = buf_puts(out, "\\n");
		else if (*p == '\r')
			r = buf_puts(out, "\\r");
		else if (*p == '\t')
			r = buf_puts(out, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			r = buf_printf(out, "\\x%02x", *p);
		else
			r = buf_putc(out, (char)*p);
		assert_int_equal(r, 0);
	}
	assert_int_equal(buf_putc(out, '\n'), 0);
}

/* One golden pair: NAME.env parsed must print exactly as NAME.expected. */
static void golden_case(void **state)
{
	const char *name = *state;
	char path[4200], err[256];
	struct buf in, want, got;
	struct conf *c;

	snprintf(path, sizeof(path), "%s/%s.env", golden_dir, name);
	assert_int_equal(file_read_all(path, CONF_MAX_FILE, &in), TF_OK);
	snprintf(path, sizeof(path), "%s/%s.expected", golden_dir, name);
	assert_int_equal(file_read_all(path, 1024 * 1024, &want), TF_OK);

	buf_init(&got, 1024 * 1024);
	err[0] = '\0';
	c = conf_parse(in.data, in.len, err, sizeof(err));
	if (c) {
		conf_each(c, dump_one, &got);
		conf_free(c);
	} else {
		assert_true(err[0] != '\0');
		assert_int_equal(buf_printf(&got, "error: %s\n", err), 0);
	}
	assert_int_equal(buf_append(&got, "", 0), 0);
	if (strcmp(got.data, want.data) != 0)
		print_error("%s: expected\n%sgot\n%s", name, want.data, got.data);
	assert_string_equal(got.data, want.data);
	buf_free(&in);
	buf_free(&want);
	buf_free(&got);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect NAME for every NAME.env in the golden directory, sorted. */
static size_t find_golden(char **names, size_t max)
{
	const char *src = getenv("TF_SRCDIR");
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(golden_dir, sizeof(golden_dir), "%s/tests/unit/conf-golden", src && *src ? src : ".");
	d = opendir(golden_dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".env") == 0)
			names[n++] = xstrndup(de->d_name, len - 4);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	return n;
}

static void env_overrides_file(void **state)
{
	const char *text = "TF_TEST_OVR=from-file\nTF_TEST_FILE_ONLY=file\n";
	const char *p1, *p2;
	char err[128];
	struct conf *c;

	(void)state;
	c = conf_parse(text, strlen(text), err, sizeof(err));
	assert_non_null(c);
	unsetenv("TF_TEST_OVR");
	assert_string_equal(conf_get(c, "TF_TEST_OVR"), "from-file");
	setenv("TF_TEST_OVR", "from-env-1", 1);
	p1 = conf_get(c, "TF_TEST_OVR");
	assert_string_equal(p1, "from-env-1");
	setenv("TF_TEST_OVR", "from-env-2", 1);
	p2 = conf_get(c, "TF_TEST_OVR");
	assert_string_equal(p2, "from-env-2");
	/* The first pointer is a copy owned by the conf and still valid. */
	assert_string_equal(p1, "from-env-1");
	/* An empty environment value overrides too, and conf_get_default treats it as unset. */
	setenv("TF_TEST_OVR", "", 1);
	assert_string_equal(conf_get(c, "TF_TEST_OVR"), "");
	assert_string_equal(conf_get_default(c, "TF_TEST_OVR", "dflt"), "dflt");
	unsetenv("TF_TEST_OVR");
	assert_string_equal(conf_get(c, "TF_TEST_OVR"), "from-file");
	assert_string_equal(conf_get(c, "TF_TEST_FILE_ONLY"), "file");
	assert_null(conf_get(c, "TF_TEST_NOWHERE"));
	assert_string_equal(conf_get_default(c, "TF_TEST_NOWHERE", "d"), "d");
	conf_set(c, "TF_TEST_FILE_ONLY", "set");
	assert_string_equal(conf_get(c, "TF_TEST_FILE_ONLY"), "set");
	conf_free(c);
}

static void require_names_missing_key(void **state)
{
	static const char *const keys[] = { "TF_TEST_A", "TF_TEST_B", "TF_TEST_C", NULL };
	char err[128] = "";
	struct conf *c = conf_new();

	(void)state;
	unsetenv("TF_TEST_A");
	unsetenv("TF_TEST_B");
	unsetenv("TF_TEST_C");
	conf_set(c, "TF_TEST_A", "1");
	conf_set(c, "TF_TEST_B", "");
	assert_int_equal(conf_require(c, keys, err, sizeof(err)), -1);
	assert_string_equal(err, "missing required setting: TF_TEST_B");
	conf_set(c, "TF_TEST_B", "2");
	assert_int_equal(conf_require(c, keys, err, sizeof(err)), -1);
	assert_string_equal(err, "missing required setting: TF_TEST_C");
	setenv("TF_TEST_C", "3", 1);
	assert_int_equal(conf_require(c, keys, err, sizeof(err)), 0);
	unsetenv("TF_TEST_C");
	conf_free(c);
}

static void get_long_bounds(void **state)
{
	char err[128] = "";
	struct conf *c = conf_new();
	long v = 0;

	(void)state;
	unsetenv("TF_TEST_N");
	assert_int_equal(conf_get_long(c, "TF_TEST_N", 43200, 60, 86400, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 43200);
	conf_set(c, "TF_TEST_N", "60");
	assert_int_equal(conf_get_long(c, "TF_TEST_N", 43200, 60, 86400, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 60);
	conf_set(c, "TF_TEST_N", "86400");
	assert_int_equal(conf_get_long(c, "TF_TEST_N", 43200, 60, 86400, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 86400);
	v = 7;
	conf_set(c, "TF_TEST_N", "59");
	assert_int_equal(conf_get_long(c, "TF_TEST_N", 43200, 60, 86400, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "TF_TEST_N"));
	assert_int_equal(v, 7);
	conf_set(c, "TF_TEST_N", "86401");
	assert_int_equal(conf_get_long(c, "TF_TEST_N", 43200, 60, 86400, &v, err, sizeof(err)), -1);
	conf_set(c, "TF_TEST_N", "12h");
	err[0] = '\0';
	assert_int_equal(conf_get_long(c, "TF_TEST_N", 43200, 60, 86400, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "TF_TEST_N"));
	conf_set(c, "TF_TEST_N", "99999999999999999999999");
	assert_int_equal(conf_get_long(c, "TF_TEST_N", 43200, 60, 86400, &v, err, sizeof(err)), -1);
	conf_set(c, "TF_TEST_N", "");
	assert_int_equal(conf_get_long(c, "TF_TEST_N", 5, 0, 10, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 5);
	conf_free(c);
}

static void load_missing_named_file(void **state)
{
	const char *missing = "/nonexistent-dir/terminfinder-test.env";
	char err[512] = "";
	struct conf *c;

	(void)state;
	setenv("TF_CONFIG", missing, 1);
	c = conf_load(NULL, err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, missing));
	err[0] = '\0';
	c = conf_load(missing, err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, missing));
	unsetenv("TF_CONFIG");
}

/* Neither a path nor TF_CONFIG: a missing default file means environment only. */
static void load_default_missing_is_environment_only(void **state)
{
	char err[512] = "";
	struct conf *c;

	(void)state;
	if (access(TF_SYSCONFDIR "/terminfinder.env", F_OK) == 0)
		skip();  /* this machine has a real config file there */
	unsetenv("TF_CONFIG");
	setenv("TF_TEST_ENV_ONLY", "from-env", 1);
	c = conf_load(NULL, err, sizeof(err));
	assert_non_null(c);
	assert_string_equal(err, "");
	assert_string_equal(conf_get(c, "TF_TEST_ENV_ONLY"), "from-env");
	unsetenv("TF_TEST_ENV_ONLY");
	assert_null(conf_get(c, "TF_TEST_ENV_ONLY"));
	conf_free(c);
}

static void load_file_errors_and_values(void **state)
{
	char path[] = "/tmp/tf-conf-test-XXXXXX";
	char err[512] = "";
	struct conf *c;
	FILE *f;
	int fd;
	size_t i;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("TF_TEST_LOADED=yes\nBROKEN LINE\n", f);
	fclose(f);
	c = conf_load(path, err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "line 2: missing '=' after key"));

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("TF_TEST_LOADED=yes\n", f);
	fclose(f);
	unsetenv("TF_TEST_LOADED");
	setenv("TF_CONFIG", path, 1);
	c = conf_load(NULL, err, sizeof(err));
	assert_non_null(c);
	assert_string_equal(conf_get(c, "TF_TEST_LOADED"), "yes");
	conf_free(c);
	unsetenv("TF_CONFIG");

	/* Over CONF_MAX_FILE: refused with the path named. */
	f = fopen(path, "w");
	assert_non_null(f);
	for (i = 0; i <= CONF_MAX_FILE / 16; i++)
		fputs("# padding line.\n", f);  /* 16 bytes */
	fclose(f);
	c = conf_load(path, err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "larger than"));
	unlink(path);
}

static void parse_refuses_oversized_text(void **state)
{
	size_t len = CONF_MAX_FILE + 1;
	char *text = xmalloc(len);
	char err[128] = "";

	(void)state;
	memset(text, '#', len);
	assert_null(conf_parse(text, len, err, sizeof(err)));
	assert_non_null(strstr(err, "larger than"));
	free(text);
}

static void register_secrets_masks_them(void **state)
{
	const char *text = "TF_SECRET_KEY=s3cr3t-signing-key-0123456789abcdef\n"
			   "CALENDAR_ENCRYPTION_KEY=firstKeyAAAA, secondKeyBBBB\n"
			   "TF_DB_PASSWORD=dbpass-xyz\n"
			   "BASE_URL=https://public.example.de\n";
	char err[128], out[512];
	struct conf *c;

	(void)state;
	unsetenv("TF_SECRET_KEY");
	unsetenv("CALENDAR_ENCRYPTION_KEY");
	unsetenv("TF_DB_PASSWORD");
	unsetenv("BASE_URL");
	c = conf_parse(text, strlen(text), err, sizeof(err));
	assert_non_null(c);
	log_clear_secrets();
	conf_register_secrets(c);
	log_redact("k=s3cr3t-signing-key-0123456789abcdef a secondKeyBBBB b firstKeyAAAA c dbpass-xyz "
		   "url https://public.example.de", out, sizeof(out));
	assert_null(strstr(out, "s3cr3t-signing-key"));
	assert_null(strstr(out, "secondKeyBBBB"));
	assert_null(strstr(out, "firstKeyAAAA"));
	assert_null(strstr(out, "dbpass-xyz"));
	assert_non_null(strstr(out, "https://public.example.de"));
	log_clear_secrets();
	conf_free(c);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(env_overrides_file),
		cmocka_unit_test(require_names_missing_key),
		cmocka_unit_test(get_long_bounds),
		cmocka_unit_test(load_missing_named_file),
		cmocka_unit_test(load_default_missing_is_environment_only),
		cmocka_unit_test(load_file_errors_and_values),
		cmocka_unit_test(parse_refuses_oversized_text),
		cmocka_unit_test(register_secrets_masks_them),
	};
	struct CMUnitTest tests[GOLDEN_MAX + TF_ARRAY_LEN(fixed)];
	char *names[GOLDEN_MAX];
	size_t n, i;
	int rc;

	n = find_golden(names, GOLDEN_MAX);
	if (n == 0) {
		printf("Bail out! no golden files (NAME.env) found in %s\n", golden_dir);
		return 1;
	}
	for (i = 0; i < n; i++) {
		tests[i] = (struct CMUnitTest){ .name = names[i], .test_func = golden_case,
						.initial_state = names[i] };
	}
	for (i = 0; i < TF_ARRAY_LEN(fixed); i++)
		tests[n + i] = fixed[i];
	rc = _cmocka_run_group_tests("conf", tests, n + TF_ARRAY_LEN(fixed), NULL, NULL);
	for (i = 0; i < n; i++)
		free(names[i]);
	return rc;
}
