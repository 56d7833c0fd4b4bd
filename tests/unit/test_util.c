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

static void str_trim_copy_blanks(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(str_trim_copy(" \t ab c\r\n", out, sizeof(out)), 4);
	assert_string_equal(out, "ab c");
	assert_int_equal(str_trim_copy(NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(str_trim_copy("  12345678  ", out, sizeof(out)), (size_t)-1);
}

static void utf8_validation(void **state)
{
	(void)state;
	assert_int_equal(utf8_seq_valid((const unsigned char *)"\xc3\xa4", 2), 2);        /* ä */
	assert_int_equal(utf8_seq_valid((const unsigned char *)"\xf0\x9f\x93\x85", 4), 4);
	assert_int_equal(utf8_seq_valid((const unsigned char *)"\xc3\xa4", 1), 0);        /* cut */
	assert_int_equal(utf8_seq_valid((const unsigned char *)"\xc0\x80", 2), 0);        /* overlong */
	assert_int_equal(utf8_seq_valid((const unsigned char *)"\xe0\x80\x80", 3), 0);
	assert_int_equal(utf8_seq_valid((const unsigned char *)"\xed\xa0\x80", 3), 0);   /* surrogate */
	assert_int_equal(utf8_seq_valid((const unsigned char *)"\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
	assert_int_equal(utf8_seq_valid((const unsigned char *)"\xe2\x82", 3), 0);         /* no 3rd byte */
	assert_true(utf8_valid("a\x01\xd0\x96", 4));
	assert_false(utf8_valid("a\xff", 2));
	assert_true(utf8_text_valid("Мария Müller", strlen("Мария Müller"), 0));
	assert_false(utf8_text_valid("a\tb", 3, 0));
	assert_true(utf8_text_valid("a\tb\nc", 5, UTF8_TAB | UTF8_LF));
	assert_false(utf8_text_valid("a\r\n", 3, UTF8_LF));
	assert_false(utf8_text_valid("a\0b", 3, UTF8_TAB | UTF8_LF | UTF8_CR | UTF8_C1));
	assert_false(utf8_text_valid("a\x7f", 2, UTF8_C1));
	assert_false(utf8_text_valid("\xc2\x85", 2, 0));                               /* C1 NEL */
	assert_true(utf8_text_valid("\xc2\x85", 2, UTF8_C1));
	assert_true(utf8_text_valid("\xc2\xa0", 2, 0));                                /* NBSP */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_respects_max),
		cmocka_unit_test(buf_detach_empty),
		cmocka_unit_test(str_copy_truncates),
		cmocka_unit_test(str_to_long_strict),
		cmocka_unit_test(str_only_chars_allowlist),
		cmocka_unit_test(str_trim_copy_blanks),
		cmocka_unit_test(utf8_validation),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
