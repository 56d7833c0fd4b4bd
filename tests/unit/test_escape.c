/* test_escape.c: the HTML, URL, header-value and JSON escapers, including their edge cases. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "escape.h"
#include "util.h"

static void html_escapes_all_specials(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(esc_html_str(&b, "<a href=\"x\" onclick='y'>`&`</a>"), 0);
	assert_string_equal(b.data, "&lt;a href&#61;&quot;x&quot; onclick&#61;&#39;y&#39;&gt;&#96;&amp;&#96;&lt;/a&gt;");
	buf_reset(&b);
	assert_int_equal(esc_html_str(&b, "</script><script>alert(1)</script>"), 0);
	assert_null(strchr(b.data, '<'));
	assert_null(strchr(b.data, '>'));
	buf_free(&b);
}

static void html_passes_plain_and_utf8(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(esc_html_str(&b, "Sicherheitsprüfung ok"), 0);
	assert_string_equal(b.data, "Sicherheitsprüfung ok");
	buf_reset(&b);
	assert_int_equal(esc_html_str(&b, ""), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	/* high bytes (signed char on x86) and invalid UTF-8 pass through unchanged */
	buf_reset(&b);
	assert_int_equal(esc_html(&b, "\xff\x80<\xfe", 4), 0);
	assert_memory_equal(b.data, "\xff\x80&lt;\xfe", 7);
	buf_free(&b);
}

static void html_embedded_nul_counted(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(esc_html(&b, "a\0<", 3), 0);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "a\0&lt;", 6);
	buf_free(&b);
}

static void html_limit_leaves_buffer(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_puts(&b, "ab"), 0);
	assert_int_equal(esc_html_str(&b, "<<"), 0);    /* 2 + 8 = 10: exactly the limit */
	assert_string_equal(b.data, "ab&lt;&lt;");
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "ab"), 0);
	assert_int_equal(esc_html_str(&b, "x<<"), -1);  /* 2 + 9 > 10 */
	assert_string_equal(b.data, "ab");
	assert_int_equal(b.len, 2);
	buf_free(&b);
}

static void url_escapes_reserved(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(esc_url(&b, "AZaz09-._~"), 0);
	assert_string_equal(b.data, "AZaz09-._~");
	buf_reset(&b);
	assert_int_equal(esc_url(&b, "a b&c=d/e?f#g+h%i"), 0);
	assert_string_equal(b.data, "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25i");
	buf_reset(&b);
	assert_int_equal(esc_url(&b, "ü\r\n\x7f\xff"), 0);
	assert_string_equal(b.data, "%C3%BC%0D%0A%7F%FF");
	buf_free(&b);
}

static void url_unescape(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(unesc_url(&b, "a%20b+c%2B%c3%BC", 16, 1), 0);
	assert_string_equal(b.data, "a b c+ü");
	buf_reset(&b);
	assert_int_equal(unesc_url(&b, "a+b", 3, 0), 0);
	assert_string_equal(b.data, "a+b");
	buf_reset(&b);
	assert_int_equal(unesc_url(&b, "", 0, 1), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	/* only n bytes are read */
	buf_reset(&b);
	assert_int_equal(unesc_url(&b, "ab%41zz", 5, 0), 0);
	assert_string_equal(b.data, "abA");
	buf_free(&b);
}

static void url_unescape_refuses_malformed(void **state)
{
	static const char *const bad[] = { "%", "%4", "a%4", "%G1", "%1G", "%%", "%-1", "%00", "a%00b", "% 1" };
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1024);
	for (i = 0; i < TF_ARRAY_LEN(bad); i++) {
		assert_int_equal(buf_puts(&b, "keep"), 0);
		assert_int_equal(unesc_url(&b, bad[i], strlen(bad[i]), 1), -1);
		assert_string_equal(b.data, "keep");
		buf_reset(&b);
	}
	/* a raw NUL inside the given length is refused as well */
	assert_int_equal(unesc_url(&b, "a\0b", 3, 0), -1);
	assert_int_equal(b.len, 0);
	/* a truncated escape at the end of the given length */
	assert_int_equal(unesc_url(&b, "ab%4142", 4, 0), -1);
	buf_free(&b);
}

static void url_round_trips(void **state)
{
	static const char *const vals[] = { "", "plain", "a b+c&d=e", "ä ö ü ß €", "100%", "/?#[]@!$'()*,;",
					    "\x01\x1f\x7f\x80\xff", "tf_session=abc-_~." };
	struct buf e, d;
	size_t i;
	int plus;

	(void)state;
	for (i = 0; i < TF_ARRAY_LEN(vals); i++) {
		for (plus = 0; plus <= 1; plus++) {
			buf_init(&e, 4096);
			buf_init(&d, 4096);
			assert_int_equal(esc_url(&e, vals[i]), 0);
			assert_null(strpbrk(e.data, " +&=/?#"));
			assert_int_equal(unesc_url(&d, e.data, e.len, plus), 0);
			assert_string_equal(d.data, vals[i]);
			buf_free(&e);
			buf_free(&d);
		}
	}
}

static void url_limit(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 5);
	assert_int_equal(esc_url(&b, "ab"), 0);
	assert_int_equal(esc_url(&b, " "), 0);
	assert_string_equal(b.data, "ab%20");
	assert_int_equal(esc_url(&b, "x"), -1);
	assert_string_equal(b.data, "ab%20");
	buf_reset(&b);
	assert_int_equal(unesc_url(&b, "abcdef", 6, 0), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void header_values(void **state)
{
	char s[4];
	int c;

	(void)state;
	assert_true(header_value_ok(""));
	assert_true(header_value_ok("/doctor/calendar-integrations?x=1"));
	assert_true(header_value_ok("a\tb"));
	assert_true(header_value_ok("tf_session=abc; HttpOnly; SameSite=Lax; Path=/"));
	assert_true(header_value_ok("Prüfung \xff"));
	assert_false(header_value_ok(NULL));
	assert_false(header_value_ok("/x\r\nSet-Cookie: a=b"));
	assert_false(header_value_ok("a\rb"));
	assert_false(header_value_ok("a\nb"));
	assert_false(header_value_ok("a\x7f"));
	for (c = 1; c < 0x20; c++) {
		s[0] = 'x';
		s[1] = (char)c;
		s[2] = 'y';
		s[3] = '\0';
		if (c == '\t')
			assert_true(header_value_ok(s));
		else
			assert_false(header_value_ok(s));
	}
}

static void json_script_safe(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(esc_json(&b, "</script><script>alert(1)</script>"), 0);
	assert_null(strstr(b.data, "</"));
	assert_null(strchr(b.data, '<'));
	assert_string_equal(b.data,
			    "\\u003c\\/script\\u003e\\u003cscript\\u003ealert(1)\\u003c\\/script\\u003e");
	buf_reset(&b);
	assert_int_equal(esc_json(&b, "<!-- a & b -->"), 0);
	assert_string_equal(b.data, "\\u003c!-- a \\u0026 b --\\u003e");
	buf_free(&b);
}

static void json_specials_and_controls(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(esc_json(&b, "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f'"), 0);
	assert_string_equal(b.data, "q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\\u0001\\u001F\\u007F'");
	buf_reset(&b);
	assert_int_equal(esc_json(&b, ""), 0);
	assert_string_equal(b.data, "");
	buf_free(&b);
}

static void json_utf8(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	/* valid UTF-8 (2, 3 and 4 bytes) passes through */
	assert_int_equal(esc_json(&b, "ä€😀"), 0);
	assert_string_equal(b.data, "ä€😀");
	/* JavaScript line terminators U+2028 / U+2029 are escaped */
	buf_reset(&b);
	assert_int_equal(esc_json(&b, "a\xe2\x80\xa8" "b\xe2\x80\xa9"), 0);
	assert_string_equal(b.data, "a\\u2028b\\u2029");
	/* invalid: lone continuation, bad lead, overlong, surrogate, above U+10FFFF, truncated */
	buf_reset(&b);
	assert_int_equal(esc_json(&b, "a\x80" "b"), 0);
	assert_string_equal(b.data, "a\\ufffdb");
	buf_reset(&b);
	assert_int_equal(esc_json(&b, "\xff\xfe"), 0);
	assert_string_equal(b.data, "\\ufffd\\ufffd");
	buf_reset(&b);
	assert_int_equal(esc_json(&b, "\xc0\xaf"), 0);           /* overlong "/" */
	assert_string_equal(b.data, "\\ufffd\\ufffd");
	buf_reset(&b);
	assert_int_equal(esc_json(&b, "\xe0\x80\xaf"), 0);       /* overlong 3-byte */
	assert_string_equal(b.data, "\\ufffd\\ufffd\\ufffd");
	buf_reset(&b);
	assert_int_equal(esc_json(&b, "\xed\xa0\x80"), 0);       /* surrogate D800 */
	assert_string_equal(b.data, "\\ufffd\\ufffd\\ufffd");
	buf_reset(&b);
	assert_int_equal(esc_json(&b, "\xf4\x90\x80\x80"), 0);   /* U+110000 */
	assert_string_equal(b.data, "\\ufffd\\ufffd\\ufffd\\ufffd");
	buf_reset(&b);
	assert_int_equal(esc_json(&b, "x\xe2\x82"), 0);          /* truncated € at the end */
	assert_string_equal(b.data, "x\\ufffd");
	buf_reset(&b);
	assert_int_equal(esc_json(&b, "\xe2\x82z"), 0);          /* truncated € before ASCII */
	assert_string_equal(b.data, "\\ufffdz");
	buf_reset(&b);
	assert_int_equal(esc_json(&b, "\xf0\x9f\x98"), 0);       /* truncated 4-byte */
	assert_string_equal(b.data, "\\ufffd");
	buf_free(&b);
}

static void json_limit(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(esc_json(&b, "abc"), 0);
	assert_int_equal(esc_json(&b, "<"), -1);
	assert_string_equal(b.data, "abc");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(html_escapes_all_specials),
		cmocka_unit_test(html_passes_plain_and_utf8),
		cmocka_unit_test(html_embedded_nul_counted),
		cmocka_unit_test(html_limit_leaves_buffer),
		cmocka_unit_test(url_escapes_reserved),
		cmocka_unit_test(url_unescape),
		cmocka_unit_test(url_unescape_refuses_malformed),
		cmocka_unit_test(url_round_trips),
		cmocka_unit_test(url_limit),
		cmocka_unit_test(header_values),
		cmocka_unit_test(json_script_safe),
		cmocka_unit_test(json_specials_and_controls),
		cmocka_unit_test(json_utf8),
		cmocka_unit_test(json_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
