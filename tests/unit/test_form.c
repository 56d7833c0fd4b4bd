/* test_form.c: urlencoded forms, Cookie headers and JSON bodies: decoding, limits and refusals. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "form.h"
#include "util.h"

static enum tf_err parse_str(const char *s, struct kvlist *l)
{
	return form_parse_urlencoded(s, strlen(s), l);
}

static void urlencoded_basic(void **state)
{
	struct kvlist l;

	(void)state;
	assert_int_equal(parse_str("email=doc%40example.de&password=a+b%2Bc%26d%3D&csrf_token=XyZ-_", &l), TF_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(kv_get(&l, "email"), "doc@example.de");
	assert_string_equal(kv_get(&l, "password"), "a b+c&d=");
	assert_string_equal(kv_get(&l, "csrf_token"), "XyZ-_");
	assert_null(kv_get(&l, "missing"));
	assert_string_equal(l.items[0].name, "email");
	assert_string_equal(l.items[2].name, "csrf_token");
	kv_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.items);
}

static void urlencoded_edge_pairs(void **state)
{
	struct kvlist l;

	(void)state;
	/* Empty pairs and empty names skipped; a bare name gets ""; '=' inside a value is kept. */
	assert_int_equal(parse_str("&&flag&=orphan&a=&b=x=y&&%C3%BC=%E2%9C%93&", &l), TF_OK);
	assert_int_equal(l.n, 4);
	assert_string_equal(kv_get(&l, "flag"), "");
	assert_string_equal(kv_get(&l, "a"), "");
	assert_string_equal(kv_get(&l, "b"), "x=y");
	assert_string_equal(kv_get(&l, "\xc3\xbc"), "\xe2\x9c\x93");
	kv_free(&l);

	assert_int_equal(parse_str("", &l), TF_OK);
	assert_int_equal(l.n, 0);
	kv_free(&l);

	/* The length is honoured: nothing after len is read. */
	assert_int_equal(form_parse_urlencoded("a=1&b=2", 3, &l), TF_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(kv_get(&l, "a"), "1");
	kv_free(&l);
}

static void urlencoded_duplicates_first_wins(void **state)
{
	struct kvlist l;

	(void)state;
	assert_int_equal(parse_str("role=patient&role=admin&x=1", &l), TF_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(kv_get(&l, "role"), "patient");
	assert_string_equal(l.items[1].value, "admin");
	kv_free(&l);
}

static void urlencoded_malformed(void **state)
{
	static const char *const bad[] = {
		"a=%", "a=%4", "a=%zz", "a=%4g", "a%=1", "a=ok&b=%%41", "a=%00", "a%00b=1",
		"a=%C3", "a=%C0%AF", "a=%ED%A0%80", "a=%FF",
	};
	struct kvlist l;
	size_t i;

	(void)state;
	for (i = 0; i < TF_ARRAY_LEN(bad); i++) {
		l.n = 99;
		if (parse_str(bad[i], &l) != TF_ERR_INVALID)
			fail_msg("%s was not refused as invalid", bad[i]);
		assert_int_equal(l.n, 0);
		assert_null(l.items);
	}
	/* A raw NUL byte inside the given length is refused too. */
	assert_int_equal(form_parse_urlencoded("a=b\0c", 5, &l), TF_ERR_INVALID);
}

static void urlencoded_limits(void **state)
{
	struct buf b;
	struct kvlist l;
	size_t i;

	(void)state;
	/* Exactly FORM_MAX_FIELDS fields pass, one more is too big. */
	buf_init(&b, 1024 * 1024);
	for (i = 0; i < FORM_MAX_FIELDS; i++)
		assert_int_equal(buf_printf(&b, "f%zu=%zu&", i, i), 0);
	assert_int_equal(form_parse_urlencoded(b.data, b.len, &l), TF_OK);
	assert_int_equal(l.n, FORM_MAX_FIELDS);
	kv_free(&l);
	assert_int_equal(buf_puts(&b, "extra=1"), 0);
	assert_int_equal(form_parse_urlencoded(b.data, b.len, &l), TF_ERR_TOOBIG);
	assert_int_equal(l.n, 0);
	/* Name: FORM_MAX_NAME decoded bytes pass; escapes count decoded. */
	buf_reset(&b);
	for (i = 0; i < FORM_MAX_NAME; i++)
		assert_int_equal(buf_puts(&b, "%41"), 0);
	assert_int_equal(buf_puts(&b, "=v"), 0);
	assert_int_equal(form_parse_urlencoded(b.data, b.len, &l), TF_OK);
	assert_int_equal(strlen(l.items[0].name), FORM_MAX_NAME);
	kv_free(&l);
	buf_reset(&b);
	for (i = 0; i <= FORM_MAX_NAME; i++)
		assert_int_equal(buf_putc(&b, 'n'), 0);
	assert_int_equal(buf_puts(&b, "=v"), 0);
	assert_int_equal(form_parse_urlencoded(b.data, b.len, &l), TF_ERR_TOOBIG);
	/* Value: FORM_MAX_VALUE passes, one byte more is too big. */
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "v="), 0);
	for (i = 0; i < FORM_MAX_VALUE; i++)
		assert_int_equal(buf_putc(&b, '+'), 0);
	assert_int_equal(form_parse_urlencoded(b.data, b.len, &l), TF_OK);
	assert_int_equal(strlen(kv_get(&l, "v")), FORM_MAX_VALUE);
	kv_free(&l);
	assert_int_equal(buf_putc(&b, 'x'), 0);
	assert_int_equal(form_parse_urlencoded(b.data, b.len, &l), TF_ERR_TOOBIG);
	assert_int_equal(l.n, 0);
	buf_free(&b);
}

static void cookies_basic(void **state)
{
	struct kvlist l;

	(void)state;
	assert_int_equal(cookie_parse("tf_session=abc-DEF_123; tf_csrf=x%2By", &l), TF_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(kv_get(&l, "tf_session"), "abc-DEF_123");
	/* Values are taken as-is: no percent-decoding. */
	assert_string_equal(kv_get(&l, "tf_csrf"), "x%2By");
	kv_free(&l);

	assert_int_equal(cookie_parse(NULL, &l), TF_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(cookie_parse("", &l), TF_OK);
	assert_int_equal(l.n, 0);
}

static void cookies_spaces_quotes_empty(void **state)
{
	struct kvlist l;

	(void)state;
	assert_int_equal(cookie_parse("  a = 1 ;b=\"quoted value\";c=;d=\"\";;  e=\t5\t;f==eq=", &l), TF_OK);
	assert_int_equal(l.n, 6);
	assert_string_equal(kv_get(&l, "a"), "1");
	assert_string_equal(kv_get(&l, "b"), "quoted value");
	assert_string_equal(kv_get(&l, "c"), "");
	assert_string_equal(kv_get(&l, "d"), "");
	assert_string_equal(kv_get(&l, "e"), "5");
	assert_string_equal(kv_get(&l, "f"), "=eq=");
	kv_free(&l);
}

static void cookies_malformed_pairs_ignored(void **state)
{
	struct kvlist l;

	(void)state;
	/* no '=', empty name, name with a space or '(' , stray quote, control char, backslash: ignored */
	assert_int_equal(cookie_parse("novalue; =x; bad name=1; (x)=2; q=\"open; c=a\x01z; bs=a\\b; good=yes; "
				      "tf_session=first; tf_session=second", &l), TF_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(kv_get(&l, "good"), "yes");
	/* Duplicates are kept in order; kv_get gives the first. */
	assert_string_equal(kv_get(&l, "tf_session"), "first");
	assert_string_equal(l.items[2].value, "second");
	assert_null(kv_get(&l, "novalue"));
	assert_null(kv_get(&l, "q"));
	kv_free(&l);
}

static void cookies_limits(void **state)
{
	struct kvlist l;
	struct buf b;
	char *big;
	size_t i;

	(void)state;
	big = xmalloc(COOKIE_MAX_HEADER + 2);
	memcpy(big, "a=", 2);
	memset(big + 2, 'x', COOKIE_MAX_HEADER - 2);
	big[COOKIE_MAX_HEADER] = '\0';
	assert_int_equal(cookie_parse(big, &l), TF_OK);
	assert_int_equal(strlen(kv_get(&l, "a")), COOKIE_MAX_HEADER - 2);
	kv_free(&l);
	big[COOKIE_MAX_HEADER] = 'x';
	big[COOKIE_MAX_HEADER + 1] = '\0';
	assert_int_equal(cookie_parse(big, &l), TF_ERR_TOOBIG);
	assert_int_equal(l.n, 0);
	free(big);

	buf_init(&b, COOKIE_MAX_HEADER);
	for (i = 0; i <= FORM_MAX_FIELDS; i++)
		assert_int_equal(buf_printf(&b, "c%zu=1; ", i), 0);
	assert_int_equal(cookie_parse(b.data, &l), TF_ERR_TOOBIG);
	assert_int_equal(l.n, 0);
	buf_free(&b);
}

static json_t *parse_json(const char *s, enum tf_err *rc, char *err, size_t errlen)
{
	return json_body_parse(s, strlen(s), 64 * 1024, rc, err, errlen);
}

static void json_object_ok(void **state)
{
	enum tf_err rc = TF_ERR_MAX;
	char err[200] = "";
	json_t *j;

	(void)state;
	j = parse_json("{\"apple_id\": \"doc@example.de\", \"n\": [1, {\"x\": null}], \"\\u00fc\": true}", &rc, err,
		       sizeof(err));
	assert_non_null(j);
	assert_int_equal(rc, TF_OK);
	assert_string_equal(json_string_value(json_object_get(j, "apple_id")), "doc@example.de");
	assert_true(json_is_true(json_object_get(j, "\xc3\xbc")));
	json_decref(j);
}

static void json_refusals(void **state)
{
	static const struct {
		const char *text;
		const char *reason;
	} bad[] = {
		{ "[1, 2]", "not a JSON object" },
		{ "\"text\"", "not a JSON object" },
		{ "42", "not a JSON object" },
		{ "null", "not a JSON object" },
		{ "", "invalid JSON" },
		{ "{\"a\": 1, \"a\": 2}", "invalid JSON" },
		{ "{\"a\": 1", "invalid JSON" },
		{ "{\"a\": 1} trailing", "invalid JSON" },
		{ "{\"a\": \"\\u0000\"}", "invalid JSON" },
		{ "{\"a\": \"\xff\"}", "invalid JSON" },
		{ "{'a': 1}", "invalid JSON" },
	};
	enum tf_err rc;
	char err[200];
	size_t i;

	(void)state;
	for (i = 0; i < TF_ARRAY_LEN(bad); i++) {
		rc = TF_OK;
		err[0] = '\0';
		assert_null(parse_json(bad[i].text, &rc, err, sizeof(err)));
		assert_int_equal(rc, TF_ERR_INVALID);
		if (!strstr(err, bad[i].reason))
			fail_msg("%s: reason '%s' lacks '%s'", bad[i].text, err, bad[i].reason);
	}
	/* A raw NUL byte inside the body. */
	assert_null(json_body_parse("{\"a\":\"x\0y\"}", 11, 100, &rc, err, sizeof(err)));
	assert_int_equal(rc, TF_ERR_INVALID);
	/* The reason never quotes the input (it may be a password). */
	assert_null(parse_json("{\"password\": hunter2secret}", &rc, err, sizeof(err)));
	assert_null(strstr(err, "hunter2"));
}

static void json_depth(void **state)
{
	struct buf b;
	enum tf_err rc;
	char err[200] = "";
	json_t *j;
	int i;

	(void)state;
	buf_init(&b, 4096);
	/* JSON_MAX_DEPTH levels (the outer object is level 1) pass... */
	assert_int_equal(buf_puts(&b, "{\"a\":"), 0);
	for (i = 1; i < JSON_MAX_DEPTH; i++)
		assert_int_equal(buf_puts(&b, i % 2 ? "[" : "{\"b\":"), 0);
	assert_int_equal(buf_puts(&b, "1"), 0);
	for (i = JSON_MAX_DEPTH - 1; i >= 1; i--)
		assert_int_equal(buf_puts(&b, i % 2 ? "]" : "}"), 0);
	assert_int_equal(buf_puts(&b, "}"), 0);
	j = json_body_parse(b.data, b.len, 4096, &rc, err, sizeof(err));
	assert_non_null(j);
	json_decref(j);
	/* ...one more does not. */
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "{\"a\":"), 0);
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		assert_int_equal(buf_puts(&b, "["), 0);
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		assert_int_equal(buf_puts(&b, "]"), 0);
	assert_int_equal(buf_puts(&b, "}"), 0);
	assert_null(json_body_parse(b.data, b.len, 4096, &rc, err, sizeof(err)));
	assert_int_equal(rc, TF_ERR_INVALID);
	assert_non_null(strstr(err, "nested deeper"));
	buf_free(&b);

	/* Far too deep for anyone: still a clean refusal. */
	buf_init(&b, 100000);
	assert_int_equal(buf_puts(&b, "{\"a\":"), 0);
	for (i = 0; i < 20000; i++)
		assert_int_equal(buf_putc(&b, '['), 0);
	assert_null(json_body_parse(b.data, b.len, 100000, &rc, err, sizeof(err)));
	assert_int_equal(rc, TF_ERR_INVALID);
	buf_free(&b);
}

static void json_too_big(void **state)
{
	const char *body = "{\"a\": \"0123456789\"}";
	enum tf_err rc = TF_OK;
	char err[200] = "";
	json_t *j;

	(void)state;
	assert_null(json_body_parse(body, strlen(body), strlen(body) - 1, &rc, err, sizeof(err)));
	assert_int_equal(rc, TF_ERR_TOOBIG);
	assert_non_null(strstr(err, "larger than"));
	j = json_body_parse(body, strlen(body), strlen(body), &rc, err, sizeof(err));
	assert_non_null(j);
	json_decref(j);
	/* The size check comes before parsing: broken JSON over the limit is TOOBIG, not INVALID. */
	assert_null(json_body_parse("{{{{", 4, 3, &rc, err, sizeof(err)));
	assert_int_equal(rc, TF_ERR_TOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(urlencoded_basic),
		cmocka_unit_test(urlencoded_edge_pairs),
		cmocka_unit_test(urlencoded_duplicates_first_wins),
		cmocka_unit_test(urlencoded_malformed),
		cmocka_unit_test(urlencoded_limits),
		cmocka_unit_test(cookies_basic),
		cmocka_unit_test(cookies_spaces_quotes_empty),
		cmocka_unit_test(cookies_malformed_pairs_ignored),
		cmocka_unit_test(cookies_limits),
		cmocka_unit_test(json_object_ok),
		cmocka_unit_test(json_refusals),
		cmocka_unit_test(json_depth),
		cmocka_unit_test(json_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
