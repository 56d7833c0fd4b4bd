/* test_web.c: the web program's request and response layers, CSRF tokens, provider configuration checks. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "conf.h"
#include "crypto.h"
#include "integration.h"
#include "log.h"
#include "request.h"
#include "response.h"

static int collect(void *ud, const char *p, size_t n)
{
	return buf_append((struct buf *)ud, p, n);
}

struct membody {
	const char *p;
	size_t left;
	size_t step;   /* at most this many bytes per read: exercises short reads */
};

static long mem_read(void *ud, char *p, size_t n)
{
	struct membody *m = ud;
	size_t k = n < m->left ? n : m->left;

	if (k > m->step)
		k = m->step;
	memcpy(p, m->p, k);
	m->p += k;
	m->left -= k;
	return (long)k;
}

static void path_normalisation(void **state)
{
	char out[REQ_MAX_PATH + 1];
	char big[REQ_MAX_PATH + 8];

	(void)state;
#define NORM(in) request_normalise_path(in, strlen(in), out, sizeof(out))
	assert_int_equal(NORM("/doctor/login"), 0);
	assert_string_equal(out, "/doctor/login");
	assert_int_equal(NORM("//doctor///login/"), 0);
	assert_string_equal(out, "/doctor/login");
	assert_int_equal(NORM("/./doctor/./login"), 0);
	assert_string_equal(out, "/doctor/login");
	assert_int_equal(NORM("/"), 0);
	assert_string_equal(out, "/");
	assert_int_equal(NORM("///"), 0);
	assert_string_equal(out, "/");
	assert_int_equal(NORM("/a..b/c"), 0);           /* only a whole ".." segment is refused */
	assert_string_equal(out, "/a..b/c");
	assert_int_equal(NORM("/doctor/../etc"), -1);
	assert_int_equal(NORM("/.."), -1);
	assert_int_equal(NORM("/x/.."), -1);
	assert_int_equal(NORM("doctor/login"), -1);
	assert_int_equal(NORM(""), -1);
	assert_int_equal(NORM("/a\r\nb"), -1);
	assert_int_equal(NORM("/a\x7f"), -1);
	assert_int_equal(request_normalise_path("/a\0b", 4, out, sizeof(out)), -1);
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	assert_int_equal(request_normalise_path(big, REQ_MAX_PATH + 1, out, sizeof(out)), -1);
	assert_int_equal(request_normalise_path(big, REQ_MAX_PATH, out, sizeof(out)), 0);
	/* an output buffer that is too small is refused, never overrun */
	assert_int_equal(request_normalise_path("/abcdef", 7, out, 5), -1);
#undef NORM
}

static void content_length_strict(void **state)
{
	size_t n = 7;

	(void)state;
	assert_int_equal(request_parse_length("0", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(request_parse_length("65536", &n), 0);
	assert_int_equal(n, 65536);
	assert_int_equal(request_parse_length("18446744073709551615", &n), 0);
	assert_true(n == SIZE_MAX);
	assert_int_equal(request_parse_length("18446744073709551616", &n), -1);
	assert_int_equal(request_parse_length("-1", &n), -1);
	assert_int_equal(request_parse_length("+1", &n), -1);
	assert_int_equal(request_parse_length(" 1", &n), -1);
	assert_int_equal(request_parse_length("1 ", &n), -1);
	assert_int_equal(request_parse_length("0x10", &n), -1);
	assert_int_equal(request_parse_length("", &n), -1);
	assert_int_equal(request_parse_length(NULL, &n), -1);
}

static void request_from_env(void **state)
{
	char *env[] = {
		"REQUEST_METHOD=POST", "REQUEST_URI=/api//doctor/%63alendar-integrations/?x=1&y=%C3%BC",
		"QUERY_STRING=x=1&y=%C3%BC", "HTTP_COOKIE=tf_session=abc; tf_csrf=def",
		"CONTENT_TYPE=application/json; charset=utf-8", "CONTENT_LENGTH=17",
		"HTTP_AUTHORIZATION=Bearer  tok.en.sig", "REMOTE_ADDR=192.0.2.1", NULL,
	};
	struct membody mb = { "{\"email\": \"a@b\"}x", 17, 3 };
	struct request req;

	(void)state;
	assert_int_equal(request_init(&req, env), 0);
	assert_int_equal(req.method, HTTP_POST);
	assert_string_equal(req.path, "/api/doctor/calendar-integrations");
	assert_true(req.api);
	assert_string_equal(kv_get(&req.query, "y"), "\xc3\xbc");
	assert_string_equal(request_cookie(&req, "tf_csrf"), "def");
	assert_string_equal(request_bearer(&req), "tok.en.sig");
	assert_string_equal(req.remote_addr, "192.0.2.1");
	req.read_fn = mem_read;
	req.read_ud = &mb;
	/* 17 bytes announced, the JSON object is 16 of them plus a trailing "x": invalid JSON */
	assert_int_equal(request_read_body(&req, req.read_fn, req.read_ud), 400);
	request_free(&req);
}

static void request_bodies(void **state)
{
	char *form_env[] = { "REQUEST_METHOD=POST", "PATH_INFO=/doctor/login",
			     "CONTENT_TYPE=application/x-www-form-urlencoded", "CONTENT_LENGTH=31", NULL };
	char *json_env[] = { "REQUEST_METHOD=POST", "PATH_INFO=/x", "CONTENT_TYPE=Application/JSON",
			     "CONTENT_LENGTH=16", NULL };
	char *short_env[] = { "REQUEST_METHOD=POST", "PATH_INFO=/x", "CONTENT_LENGTH=50",
			      "CONTENT_TYPE=application/x-www-form-urlencoded", NULL };
	char *xml_env[] = { "REQUEST_METHOD=POST", "PATH_INFO=/x", "CONTENT_LENGTH=4",
			    "CONTENT_TYPE=text/xml", NULL };
	char *big_env[] = { "REQUEST_METHOD=POST", "PATH_INFO=/x", "CONTENT_LENGTH=65537", NULL };
	char *huge_env[] = { "REQUEST_METHOD=POST", "PATH_INFO=/x", "CONTENT_LENGTH=1048577", NULL };
	char *large_env[] = { "REQUEST_METHOD=POST", "PATH_INFO=/x", "CONTENT_LENGTH=1048576", NULL };
	char *max_env[] = { "REQUEST_METHOD=POST", "PATH_INFO=/x", "CONTENT_LENGTH=65536", NULL };
	char *bad_env[] = { "REQUEST_METHOD=GET", "PATH_INFO=/a/../b", NULL };
	char *nul_env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a%00b", NULL };
	struct membody mb = { "email=a%40b.de&password=x+y&z=1", 31, 5 };
	struct membody jb = { "{\"email\": \"a@b\"}", 16, 1000 };
	struct membody sb = { "email=a", 7, 1000 };
	struct membody xb = { "<a/>", 4, 1000 };
	struct request req;

	(void)state;
	assert_int_equal(request_init(&req, form_env), 0);
	assert_int_equal(request_read_body(&req, mem_read, &mb), 0);
	assert_string_equal(request_field(&req, "email"), "a@b.de");
	assert_string_equal(request_field(&req, "password"), "x y");
	assert_null(request_field(&req, "csrf_token"));
	request_free(&req);

	assert_int_equal(request_init(&req, json_env), 0);
	assert_int_equal(request_read_body(&req, mem_read, &jb), 0);
	assert_string_equal(request_field(&req, "email"), "a@b");
	request_free(&req);

	assert_int_equal(request_init(&req, short_env), 0);
	assert_int_equal(request_read_body(&req, mem_read, &sb), 400);
	request_free(&req);

	assert_int_equal(request_init(&req, xml_env), 0);
	assert_int_equal(request_read_body(&req, mem_read, &xb), 415);
	request_free(&req);

	/* over 64 KiB: request_init lets it pass (a ROUTE_LARGE_BODY route may take it), the body read
	 * refuses it unread at the default limit; over 1 MiB is refused at once */
	assert_int_equal(request_init(&req, big_env), 0);
	assert_int_equal(request_read_body(&req, mem_read, &sb), 413);
	assert_int_equal(req.body.len, 0);
	request_free(&req);
	assert_int_equal(request_init(&req, huge_env), 413);
	request_free(&req);
	assert_int_equal(request_init(&req, large_env), 0);
	request_free(&req);
	assert_int_equal(request_init(&req, max_env), 0);
	request_free(&req);
	assert_int_equal(request_init(&req, bad_env), 400);
	request_free(&req);
	assert_int_equal(request_init(&req, nul_env), 400);
	request_free(&req);
}

static void response_headers_checked(void **state)
{
	struct response rs;
	struct buf out;

	(void)state;
	resp_init(&rs);
	assert_int_equal(resp_header(&rs, "X-Test", "ok"), 0);
	assert_int_equal(resp_header(&rs, "X-Evil", "a\r\nSet-Cookie: x=1"), -1);
	assert_int_equal(resp_header(&rs, "X-Evil", "a\nb"), -1);
	assert_int_equal(resp_header(&rs, "Bad Name", "v"), -1);
	assert_int_equal(resp_header(&rs, "X:y", "v"), -1);
	/* redirects: local paths only */
	assert_int_equal(resp_redirect(&rs, 303, "//evil.example/"), -1);
	assert_int_equal(resp_redirect(&rs, 303, "/\\evil.example/"), -1);
	assert_int_equal(resp_redirect(&rs, 303, "https://evil.example/"), -1);
	assert_int_equal(resp_redirect(&rs, 303, "/ok\r\nSet-Cookie: x=1"), -1);
	assert_int_equal(resp_redirect(&rs, 303, ""), -1);
	assert_int_equal(rs.status, 0);
	assert_int_equal(resp_redirect(&rs, 303, "/doctor/login"), 0);
	assert_int_equal(rs.status, 303);
	/* cookies: safe values only */
	assert_int_equal(resp_cookie(&rs, "tf_session", "a;b", 60, 0), -1);
	assert_int_equal(resp_cookie(&rs, "tf_session", "abc_-DEF", 60, 1), 0);
	assert_int_equal(resp_cookie(&rs, "tf_csrf", "", 0, 0), 0);

	buf_init(&out, 1 << 16);
	assert_int_equal(resp_send(&rs, collect, &out), 0);
	assert_non_null(strstr(out.data, "Status: 303 See Other\r\n"));
	assert_non_null(strstr(out.data, "Location: /doctor/login\r\n"));
	assert_non_null(strstr(out.data, "X-Test: ok\r\n"));
	assert_null(strstr(out.data, "X-Evil"));
	assert_null(strstr(out.data, "evil.example"));
	assert_non_null(strstr(out.data,
		"Set-Cookie: tf_session=abc_-DEF; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60\r\n"));
	assert_non_null(strstr(out.data, "Set-Cookie: tf_csrf=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0\r\n"));
	assert_non_null(strstr(out.data, "X-Frame-Options: DENY\r\n"));
	assert_non_null(strstr(out.data, "X-Content-Type-Options: nosniff\r\n"));
	assert_non_null(strstr(out.data, "Referrer-Policy: same-origin\r\n"));
	assert_non_null(strstr(out.data, "Cache-Control: no-store\r\n"));
	assert_non_null(strstr(out.data, "Content-Security-Policy: default-src 'self'; script-src 'self'; "
					 "style-src 'self'; img-src 'self' data:; form-action 'self'; "
					 "frame-ancestors 'none'; base-uri 'none'; object-src 'none'\r\n"));
	assert_non_null(strstr(out.data, "Content-Length: 0\r\n\r\n"));
	buf_free(&out);
	resp_free(&rs);
}

/* form-action sources: one per OAuth provider whose authorization endpoint the page's forms reach,
 * origins only, no repeats, junk refused. */
static void response_form_action_origins(void **state)
{
	struct response rs;
	struct buf out;

	(void)state;
	resp_init(&rs);
	assert_int_equal(resp_csp_form_action(&rs, "javascript:alert(1)"), -1);
	assert_int_equal(resp_csp_form_action(&rs, "https://a b/"), -1);
	assert_int_equal(resp_csp_form_action(&rs, NULL), -1);
	assert_string_equal(rs.form_origin, "");
	assert_int_equal(resp_csp_form_action(&rs, "https://accounts.google.com/o/oauth2/v2/auth"), 0);
	assert_int_equal(resp_csp_form_action(&rs, "https://login.microsoftonline.com/common/oauth2/v2.0/"
					      "authorize"), 0);
	assert_int_equal(resp_csp_form_action(&rs, "https://accounts.google.com/other"), 0);
	assert_int_equal(resp_csp_form_action(&rs, "http://127.0.0.1:8092/consumers"), 0);
	assert_string_equal(rs.form_origin, "https://accounts.google.com https://login.microsoftonline.com "
			    "http://127.0.0.1:8092");
	buf_init(&out, 1 << 16);
	assert_int_equal(resp_send(&rs, collect, &out), 0);
	assert_non_null(strstr(out.data, "form-action 'self' https://accounts.google.com "
					 "https://login.microsoftonline.com http://127.0.0.1:8092; "
					 "frame-ancestors 'none'"));
	buf_free(&out);
	resp_free(&rs);
}

static void response_json_and_head(void **state)
{
	struct response rs;
	struct buf out;
	json_t *o = json_pack("{s:s}", "u", "</script>");

	(void)state;
	resp_init(&rs);
	assert_int_equal(resp_json(&rs, 200, o), 0);
	json_decref(o);
	rs.head_only = 1;
	buf_init(&out, 1 << 16);
	assert_int_equal(resp_send(&rs, collect, &out), 0);
	assert_non_null(strstr(out.data, "Content-Type: application/json; charset=utf-8\r\n"));
	assert_non_null(strstr(out.data, "Content-Length: 18\r\n\r\n"));
	assert_null(strstr(out.data, "\"u\""));     /* HEAD: no body */
	buf_reset(&out);
	rs.head_only = 0;
	assert_int_equal(resp_send(&rs, collect, &out), 0);
	assert_non_null(strstr(out.data, "{\"u\":\"<\\/script>\"}"));   /* JSON_ESCAPE_SLASH */
	buf_free(&out);
	resp_free(&rs);
}

static void csrf_tokens(void **state)
{
	const char *secret = "0123456789abcdef0123456789abcdef";
	char cookie[AUTH_TOKEN_MAX], other[AUTH_TOKEN_MAX], tok[AUTH_TOKEN_MAX];

	(void)state;
	auth_csrf_cookie_new(cookie, sizeof(cookie));
	auth_csrf_cookie_new(other, sizeof(other));
	assert_int_equal(strlen(cookie), 43);
	assert_true(auth_token_syntax_ok(cookie));
	assert_string_not_equal(cookie, other);
	assert_int_equal(auth_csrf_token(secret, cookie, tok, sizeof(tok)), 0);
	assert_int_equal(strlen(tok), 43);
	assert_true(auth_csrf_verify(secret, cookie, tok));
	assert_false(auth_csrf_verify(secret, other, tok));
	assert_false(auth_csrf_verify("another-secret-another-secret-xx", cookie, tok));
	assert_false(auth_csrf_verify(secret, cookie, ""));
	assert_false(auth_csrf_verify(secret, cookie, NULL));
	assert_false(auth_csrf_verify(secret, NULL, tok));
	tok[0] = tok[0] == 'A' ? 'B' : 'A';
	assert_false(auth_csrf_verify(secret, cookie, tok));
	/* malformed cookies never reach the HMAC */
	assert_int_equal(auth_csrf_token(secret, "short", tok, sizeof(tok)), -1);
	assert_int_equal(auth_csrf_token(secret, "has space in it and is long", tok, sizeof(tok)), -1);
	assert_false(auth_token_syntax_ok("abcdefghijklmnop;"));
	assert_true(auth_token_syntax_ok("abcdefghijklmnop"));
}

static void csrf_known_answer(void **state)
{
	/* base64url(HMAC-SHA256("k"*32, "csrf:" + "A"*43)) computed independently with Python's hmac */
	char tok[AUTH_TOKEN_MAX];

	(void)state;
	assert_int_equal(auth_csrf_token("kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
					 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", tok, sizeof(tok)), 0);
	assert_string_equal(tok, "Z6uwyvOBC_AhXJq_07nlmQ73COQgUMnd-TTlJGniurE");
}

static void provider_configuration(void **state)
{
	struct conf *c = conf_new();
	const char *missing[4];
	json_t *j;
	char *s;

	(void)state;
	/* the environment must not decide this test */
	unsetenv("GOOGLE_CLIENT_ID");
	unsetenv("GOOGLE_CLIENT_SECRET");
	unsetenv("GOOGLE_REDIRECT_URI");
	unsetenv("MICROSOFT_CLIENT_ID");
	unsetenv("MICROSOFT_CLIENT_SECRET");
	unsetenv("MICROSOFT_REDIRECT_URI");
	assert_int_equal(integration_provider_missing(c, INTEGRATION_GOOGLE, missing, 4), 3);
	assert_string_equal(missing[0], "GOOGLE_CLIENT_ID");
	assert_string_equal(missing[2], "GOOGLE_REDIRECT_URI");
	conf_set(c, "GOOGLE_CLIENT_ID", "id");
	conf_set(c, "GOOGLE_CLIENT_SECRET", "");
	assert_int_equal(integration_provider_missing(c, INTEGRATION_GOOGLE, missing, 4), 2);
	assert_string_equal(missing[0], "GOOGLE_CLIENT_SECRET");
	assert_int_equal(integration_provider_missing(c, INTEGRATION_GOOGLE, missing, 1), 1);
	assert_int_equal(integration_provider_missing(c, INTEGRATION_APPLE, missing, 4), 0);
	conf_set(c, "MICROSOFT_CLIENT_ID", "a");
	conf_set(c, "MICROSOFT_CLIENT_SECRET", "b");
	conf_set(c, "MICROSOFT_REDIRECT_URI", "c");
	j = integration_providers_json(c);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"apple\":{\"configured\":true,\"missing\":[]},"
			       "\"google\":{\"configured\":false,\"missing\":[\"GOOGLE_CLIENT_SECRET\","
			       "\"GOOGLE_REDIRECT_URI\"]},\"outlook\":{\"configured\":true,\"missing\":[]}}");
	free(s);
	json_decref(j);
	conf_free(c);
}

static void labels_and_times(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(integration_status_label("active"), "aktiv");
	assert_string_equal(integration_status_label("error"), "Fehler");
	assert_string_equal(integration_status_label("reauth_required"), "erneut verbinden");
	assert_string_equal(integration_status_label("disabled"), "deaktiviert");
	assert_string_equal(integration_status_label("bogus"), "unbekannt");
	assert_string_equal(integration_status_label(NULL), "unbekannt");
	assert_int_equal(integration_provider_parse("outlook"), INTEGRATION_OUTLOOK);
	assert_int_equal(integration_provider_parse("Google"), INTEGRATION_PROVIDER_MAX);
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	assert_int_equal(integration_time_display(1795255200LL, out, sizeof(out)), 0);  /* 2026-11-21 10:00Z */
	assert_string_equal(out, "21.11.2026, 11:00");
	assert_int_equal(integration_time_display(1782036000LL, out, sizeof(out)), 0);  /* 2026-06-21 10:00Z */
	assert_string_equal(out, "21.06.2026, 12:00");
	assert_int_equal(integration_time_display(1795255200LL, out, 4), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(path_normalisation),
		cmocka_unit_test(content_length_strict),
		cmocka_unit_test(request_from_env),
		cmocka_unit_test(request_bodies),
		cmocka_unit_test(response_headers_checked),
		cmocka_unit_test(response_form_action_origins),
		cmocka_unit_test(response_json_and_head),
		cmocka_unit_test(csrf_tokens),
		cmocka_unit_test(csrf_known_answer),
		cmocka_unit_test(provider_configuration),
		cmocka_unit_test(labels_and_times),
	};

	log_init("test_web", 0, LOG_LVL_ERROR);   /* refused headers are logged as warnings */
	if (crypto_init() != TF_OK)
		return 1;
	return cmocka_run_group_tests_name("web", tests, NULL, NULL);
}
