/* test_util.c: the bounded buffer, bounded strings and number parsing. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

static void buf_respects_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "abcd"), 0);
	assert_int_equal(buf_printf(&b, "%d", 1234), 0);
	assert_string_equal(b.data, "abcd1234");
	assert_int_equal(buf_putc(&b, 'x'), -1);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "abcd1234");
	buf_free(&b);
}

static void buf_detach_empty(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 16);
	s = buf_detach(&b);
	assert_string_equal(s, "");
	free(s);
}

static void str_copy_truncates(void **state)
{
	char d[4];

	(void)state;
	assert_int_equal(str_copy(d, "abcdef", sizeof(d)), 6);
	assert_string_equal(d, "abc");
}

static void str_to_long_strict(void **state)
{
	long v = 0;

	(void)state;
	assert_int_equal(str_to_long("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(str_to_long("42x", 0, 100, &v), -1);
	assert_int_equal(str_to_long("", 0, 100, &v), -1);
	assert_int_equal(str_to_long("101", 0, 100, &v), -1);
	assert_int_equal(str_to_long("-1", 0, 100, &v), -1);
	assert_int_equal(str_to_long("99999999999999999999", 0, 100, &v), -1);
}

static void str_only_chars_allowlist(void **state)
{
	(void)state;
	assert_true(str_only_chars("abc-1", 10, "abc-1"));
	assert_false(str_only_chars("ab/..", 10, "abc"));
	assert_false(str_only_chars("", 10, "abc"));
	assert_false(str_only_chars("aaaa", 3, "a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_respects_max),
		cmocka_unit_test(buf_detach_empty),
		cmocka_unit_test(str_copy_truncates),
		cmocka_unit_test(str_to_long_strict),
		cmocka_unit_test(str_only_chars_allowlist),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
