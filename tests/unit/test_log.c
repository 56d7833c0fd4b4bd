/* test_log.c: log lines on stderr (captured in a file): format, levels, folding, and that secrets never appear. */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "util.h"

static char cap_path[] = "/tmp/tf-log-test-XXXXXX";
static int saved_stderr = -1;

/* Send fd 2 into a fresh temporary file. */
static int capture_start(void **state)
{
	int fd;

	(void)state;
	str_copy(cap_path, "/tmp/tf-log-test-XXXXXX", sizeof(cap_path));
	fd = mkstemp(cap_path);
	if (fd < 0)
		return -1;
	saved_stderr = dup(STDERR_FILENO);
	if (saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0)
		return -1;
	close(fd);
	unsetenv("TF_LOG_LEVEL");
	log_init("tf-test", 0, LOG_LVL_DEBUG);
	log_clear_secrets();
	return 0;
}

static int capture_stop(void **state)
{
	(void)state;
	if (saved_stderr >= 0) {
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
		saved_stderr = -1;
	}
	unlink(cap_path);
	log_clear_secrets();
	return 0;
}

/* Everything written to the captured stderr so far (caller frees). */
static char *captured(void)
{
	struct buf b;

	assert_int_equal(file_read_all(cap_path, 1024 * 1024, &b), TF_OK);
	return buf_detach(&b);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void line_format(void **state)
{
	char want[64];
	char *out;

	(void)state;
	log_info("started with %d workers", 4);
	out = captured();
	/* 2026-11-21T12:00:00Z tf-test[PID] INFO: started with 4 workers */
	assert_int_equal(count_lines(out), 1);
	assert_true(strlen(out) > 21);
	assert_true(out[4] == '-' && out[7] == '-' && out[10] == 'T' && out[13] == ':' && out[19] == 'Z');
	snprintf(want, sizeof(want), " tf-test[%ld] INFO: ", (long)getpid());
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "INFO: started with 4 workers\n"));
	free(out);
}

static void secrets_never_logged(void **state)
{
	static const char *const secrets[] = {
		"Xk2-registered-Secret-99", "hunter2secret", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl",
		"abcSessionToken123", "gAAAAABnQ2xhc3NpZmllZEZlcm5ldFRva2VuRGF0YVRoYXRJc0xvbmc=",
		"goog-client-secret-777", "csrfCookieVal", "ya29.access-token-value", "1//refresh-tok",
		"authcode4711", "json-pass-word", "basicdXNlcjpwYXNz",
	};
	char *out;
	size_t i;

	(void)state;
	log_add_secret("Xk2-registered-Secret-99");
	log_add_secret("short");  /* under 6 bytes: ignored, so "short" below stays */
	log_error("db connect failed with key Xk2-registered-Secret-99 (host db1) short");
	log_warn("login attempt: user=doc@example.de password=hunter2secret ip=192.0.2.7");
	log_info("request GET /api/doctor/calendar-integrations Authorization: Bearer "
		 "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl");
	log_info("headers:\r\nCookie: tf_session=abcSessionToken123; tf_csrf=csrfCookieVal\r\nHost: kalender.example.de");
	log_info("stored credentials gAAAAABnQ2xhc3NpZmllZEZlcm5ldFRva2VuRGF0YVRoYXRJc0xvbmc= for integration 12");
	log_error("token exchange POST body client_id=abc.apps&client_secret=goog-client-secret-777&grant_type=x");
	log_info("provider said {\"access_token\": \"ya29.access-token-value\", \"expires_in\": 3599}");
	log_debug("refresh_token='1//refresh-tok' code=authcode4711 state=s1");
	log_info("body {\"password\":\"json-pass-word\",\"email\":\"doc@example.de\"}");
	log_info("Authorization: Basic basicdXNlcjpwYXNz");
	out = captured();
	for (i = 0; i < TF_ARRAY_LEN(secrets); i++) {
		if (strstr(out, secrets[i]))
			print_error("secret %s appears in:\n%s", secrets[i], out);
		assert_null(strstr(out, secrets[i]));
	}
	/* The parts that are not secret are still there. */
	assert_non_null(strstr(out, "db connect failed with key [redacted] (host db1) short"));
	assert_non_null(strstr(out, "user=doc@example.de password=[redacted] ip=192.0.2.7"));
	assert_non_null(strstr(out, "GET /api/doctor/calendar-integrations Authorization: Bearer [redacted]"));
	assert_non_null(strstr(out, "Cookie: [redacted]"));
	assert_non_null(strstr(out, "Host: kalender.example.de"));
	assert_non_null(strstr(out, "stored credentials [redacted] for integration 12"));
	assert_non_null(strstr(out, "client_id=abc.apps&client_secret=[redacted]&grant_type=x"));
	assert_non_null(strstr(out, "\"expires_in\": 3599"));
	assert_non_null(strstr(out, "state=s1"));
	assert_non_null(strstr(out, "doc@example.de\"}"));
	assert_non_null(strstr(out, "Authorization: Basic [redacted]"));
	assert_int_equal(count_lines(out), 10);
	free(out);
}

static void redact_directly(void **state)
{
	char out[256];

	(void)state;
	log_redact("TF_SECRET_KEY=abc123 TF_DB_HOST=db TF_DB_PASSWORD=\"p w\" status=ok", out, sizeof(out));
	assert_string_equal(out, "TF_SECRET_KEY=[redacted] TF_DB_HOST=db TF_DB_PASSWORD=\"[redacted]\" status=ok");
	log_redact("PASSWORD=x&Key=y&monkey=z&keys=w", out, sizeof(out));
	assert_string_equal(out, "PASSWORD=[redacted]&Key=[redacted]&monkey=[redacted]&keys=w");
	log_redact("nothing secret here: a=b, 1 == 1", out, sizeof(out));
	assert_string_equal(out, "nothing secret here: a=b, 1 == 1");
	log_add_secret("registered-one");
	log_redact("password=registered-one", out, sizeof(out));
	assert_string_equal(out, "password=[redacted]");
	/* Output is cut at outlen. */
	log_redact("abcdefghij", out, 5);
	assert_string_equal(out, "abcd");
}

static void levels_filter(void **state)
{
	char *out;

	(void)state;
	log_set_level(LOG_LVL_WARN);
	log_debug("debug-line-hidden");
	log_info("info-line-hidden");
	log_warn("warn-line-shown");
	log_error("error-line-shown");
	log_set_level(LOG_LVL_ERROR);
	log_warn("warn-line-hidden-2");
	out = captured();
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, "WARN: warn-line-shown"));
	assert_non_null(strstr(out, "ERROR: error-line-shown"));
	assert_int_equal(count_lines(out), 2);
	free(out);

	assert_int_equal(log_level_parse("error"), LOG_LVL_ERROR);
	assert_int_equal(log_level_parse("WARN"), LOG_LVL_WARN);
	assert_int_equal(log_level_parse("info"), LOG_LVL_INFO);
	assert_int_equal(log_level_parse("debug"), LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("verbose"), -1);
	assert_int_equal(log_level_parse(NULL), -1);
}

static void level_from_environment(void **state)
{
	char *out;

	(void)state;
	setenv("TF_LOG_LEVEL", "error", 1);
	log_init("tf-test", 0, LOG_LVL_DEBUG);
	log_warn("warn-hidden-by-env");
	log_error("error-shown-by-env");
	setenv("TF_LOG_LEVEL", "loud", 1);
	log_init("tf-test", 0, LOG_LVL_INFO);
	unsetenv("TF_LOG_LEVEL");
	out = captured();
	assert_null(strstr(out, "warn-hidden-by-env"));
	assert_non_null(strstr(out, "error-shown-by-env"));
	/* An unknown level is reported, and the given one is used. */
	assert_non_null(strstr(out, "WARN: TF_LOG_LEVEL is not one of error, warn, info, debug; using INFO"));
	free(out);
}

static void crlf_folded(void **state)
{
	char *out;

	(void)state;
	log_info("first\r\nsecond\nthird\rfourth\x1b[31mred");
	out = captured();
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "INFO: first  second third fourth [31mred\n"));
	free(out);
}

static void long_message_truncated(void **state)
{
	char *big = xmalloc(10001), *out, *msg;
	size_t i;

	(void)state;
	for (i = 0; i < 10000; i++)
		big[i] = (char)('a' + i % 26);
	big[10000] = '\0';
	/* A secret straddling the 4 KiB cut must not leak its head either. */
	memcpy(big + 4075, "SuperSecretValueXYZ", 19);
	log_add_secret("SuperSecretValueXYZ");
	log_info("%s", big);
	out = captured();
	assert_int_equal(count_lines(out), 1);
	msg = strstr(out, "INFO: ");
	assert_non_null(msg);
	msg += 6;
	assert_true(strlen(msg) <= 4096 + 1);
	assert_non_null(strstr(msg, " [truncated]\n"));
	assert_null(strstr(out, "SuperSecret"));
	assert_int_equal(strncmp(msg, big, 100), 0);
	free(out);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(line_format, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(secrets_never_logged, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(redact_directly, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(levels_filter, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(level_from_environment, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(crlf_folded, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(long_message_truncated, capture_start, capture_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
