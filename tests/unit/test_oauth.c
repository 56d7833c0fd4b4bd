/* test_oauth.c: PKCE (RFC 7636 Appendix B), authorization URL, token answer parsing, scopes; with a
 * MariaDB (TF_DB_SOCKET, run by tests/integration/test_oauth.sh) the state rules: single use,
 * expiry, bound to doctor, session and provider, verifier stored encrypted. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "crypto.h"
#include "db.h"
#include "oauth.h"
#include "util.h"

#define KEY "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="

static struct conf *conf;
static struct db *db;
static long long doc_a, doc_b;
static char sess_a[65], sess_b[65];

/* ---------------------------------------------------------------- offline */

static void test_pkce_rfc7636(void **state)
{
	char ch[OAUTH_TOKEN_LEN];

	(void)state;
	oauth_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch);
	assert_string_equal(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

static void test_auth_url(void **state)
{
	struct oauth_endpoints ep = {
		.auth_uri = "https://accounts.example/o/oauth2/v2/auth",
		.client_id = "123.apps.example",
		.redirect_uri = "https://praxis.example/api/doctor/calendar-integrations/callback/google",
		.scopes = "openid email https://www.googleapis.com/auth/calendar.events",
		.access_type_offline = 1,
	};
	struct buf b;

	(void)state;
	buf_init(&b, 8192);
	assert_int_equal(oauth_authorization_url(&ep, "st&ate=x", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", &b), 0);
	assert_true(!strncmp(b.data, "https://accounts.example/o/oauth2/v2/auth?client_id=123.apps.example&", 68));
	assert_non_null(strstr(b.data,
		"&redirect_uri=https%3A%2F%2Fpraxis.example%2Fapi%2Fdoctor%2Fcalendar-integrations%2Fcallback%2Fgoogle&"));
	assert_non_null(strstr(b.data, "&response_type=code&"));
	assert_non_null(strstr(b.data,
		"&scope=openid%20email%20https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcalendar.events&"));
	assert_non_null(strstr(b.data, "&state=st%26ate%3Dx&"));
	assert_non_null(strstr(b.data, "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&"));
	assert_non_null(strstr(b.data, "&code_challenge_method=S256&"));
	assert_non_null(strstr(b.data, "&prompt=consent"));
	assert_non_null(strstr(b.data, "&access_type=offline"));
	assert_null(strstr(b.data, "include_granted_scopes"));
	assert_null(strchr(b.data, ' '));
	/* without offline access (Outlook): no access_type */
	ep.access_type_offline = 0;
	buf_reset(&b);
	assert_int_equal(oauth_authorization_url(&ep, "s", "c", &b), 0);
	assert_null(strstr(b.data, "access_type"));
	/* a missing field is refused */
	ep.client_id = "";
	buf_reset(&b);
	assert_int_equal(oauth_authorization_url(&ep, "s", "c", &b), -1);
	buf_free(&b);
}

static void test_form_escape(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(oauth_form_escape(&b, "a b+c/d=é~._-"), 0);
	assert_string_equal(b.data, "a%20b%2Bc%2Fd%3D%C3%A9~._-");
	buf_free(&b);
}

#define PARSE(st, body, tok, err) oauth_parse_token_response(st, body, strlen(body), 1000, tok, err)

static void test_token_parse(void **state)
{
	struct oauth_tokens t;
	struct oauth_error e;

	(void)state;
	assert_int_equal(PARSE(200, "{\"access_token\":\"ya29.abc\",\"expires_in\":3599,\"refresh_token\":\"1//0g\","
			       "\"scope\":\"openid https://www.googleapis.com/auth/calendar.events\",\"token_type\":\"Bearer\","
			       "\"id_token\":\"eyJ.x.y\"}", &t, &e), OAUTH_OK);
	assert_string_equal(t.access_token, "ya29.abc");
	assert_string_equal(t.refresh_token, "1//0g");
	assert_int_equal(t.expires_at, 1000 + 3599);
	assert_true(oauth_scope_has(t.scope, "https://www.googleapis.com/auth/calendar.events"));
	assert_false(oauth_scope_has(t.scope, "https://www.googleapis.com/auth/calendar"));
	assert_false(oauth_scope_has(t.scope, "email"));
	oauth_tokens_free(&t);
	/* a refresh answer without refresh_token */
	assert_int_equal(PARSE(200, "{\"access_token\":\"ya29.new\",\"expires_in\":3600,\"token_type\":\"Bearer\"}", &t, &e),
			 OAUTH_OK);
	assert_null(t.refresh_token);
	assert_string_equal(t.scope, "");
	oauth_tokens_free(&t);
	/* malformed 200 answers */
	assert_int_equal(PARSE(200, "{\"expires_in\":3600,\"token_type\":\"Bearer\"}", &t, &e), OAUTH_ERROR);
	assert_int_equal(PARSE(200, "{\"access_token\":\"a b\",\"token_type\":\"Bearer\"}", &t, &e), OAUTH_ERROR);
	assert_int_equal(PARSE(200, "{\"access_token\":\"abc\",\"token_type\":\"mac\"}", &t, &e), OAUTH_ERROR);
	assert_int_equal(PARSE(200, "not json", &t, &e), OAUTH_ERROR);
	assert_null(t.access_token);
	/* RFC 6749 §5.2 errors */
	assert_int_equal(PARSE(400, "{\"error\":\"invalid_grant\",\"error_description\":\"Token has been expired or revoked.\"}",
			       &t, &e), OAUTH_INVALID_GRANT);
	assert_string_equal(e.error, "invalid_grant");
	assert_string_equal(e.description, "Token has been expired or revoked.");
	assert_int_equal(e.http_status, 400);
	assert_int_equal(PARSE(401, "{\"error\":\"invalid_client\",\"error_description\":\"Unauthorized\"}", &t, &e),
			 OAUTH_INVALID_CLIENT);
	assert_int_equal(PARSE(400, "{\"error\":\"invalid_request\"}", &t, &e), OAUTH_INVALID_REQUEST);
	assert_int_equal(PARSE(400, "{\"error\":\"unsupported_grant_type\"}", &t, &e), OAUTH_INVALID_REQUEST);
	assert_int_equal(PARSE(400, "{\"error\":\"something_new\"}", &t, &e), OAUTH_ERROR);
	assert_int_equal(PARSE(503, "<html>down</html>", &t, &e), OAUTH_RETRY);
	assert_int_equal(PARSE(429, "{\"error\":\"rate_limit\"}", &t, &e), OAUTH_RETRY);
	assert_int_equal(PARSE(500, "{\"error\":\"invalid_grant\"}", &t, &e), OAUTH_RETRY);
	assert_int_equal(PARSE(401, "", &t, &e), OAUTH_INVALID_CLIENT);
	assert_string_equal(oauth_result_name(OAUTH_INVALID_GRANT), "invalid_grant");
}

static void test_scope_has(void **state)
{
	(void)state;
	assert_true(oauth_scope_has("a b  c", "c"));
	assert_true(oauth_scope_has("a", "a"));
	assert_false(oauth_scope_has("ab", "a"));
	assert_false(oauth_scope_has("", "a"));
	assert_false(oauth_scope_has("a", ""));
}

static void test_no_endpoint_no_request(void **state)
{
	struct oauth_endpoints ep = { .token_uri = "http://127.0.0.1:9/token", .client_id = "x" };
	struct oauth_tokens t;
	struct oauth_error e;
	unsigned long n = 0;

	(void)state;
	/* no client secret: refused before anything is sent */
	assert_int_equal(oauth_refresh(&ep, "1//abc", 0, &n, &t, &e), OAUTH_INVALID_REQUEST);
	assert_int_equal(n, 0);
	ep.client_secret = "s";
	/* a refresh token with a space would break the form and is refused */
	assert_int_equal(oauth_refresh(&ep, "1// abc", 0, &n, &t, &e), OAUTH_INVALID_REQUEST);
	assert_int_equal(n, 0);
	/* nothing listens on port 9: a network failure is a retry */
	assert_int_equal(oauth_refresh(&ep, "1//abc", 0, &n, &t, &e), OAUTH_RETRY);
	assert_int_equal(n, 1);
}

/* ---------------------------------------------------------------- with MariaDB */

static int db_setup(void **state)
{
	char err[512], email[128], slug[64];
	unsigned long long id = 0;
	long uniq = (long)time(NULL) % 100000 * 100 + (long)getpid() % 100;

	(void)state;
	if (!getenv("TF_DB_SOCKET") && !getenv("TF_DB_HOST"))
		return 0;
	if (!(db = db_connect(conf, err, sizeof(err)))) {
		fprintf(stderr, "db_connect: %s\n", err);
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		snprintf(email, sizeof(email), "oauth-%ld-%d@example.org", uniq, i);
		snprintf(slug, sizeof(slug), "oauth-%ld-%d", uniq, i);
		if (db_exec(db, STMT_TEST_OAUTH_DOCTOR, DB_ARGS(DBP_TEXT(email), DBP_TEXT(slug)), NULL, &id) != TF_OK)
			return -1;
		*(i ? &doc_b : &doc_a) = (long long)id;
	}
	sha256_hex("session-a", 9, sess_a);
	sha256_hex("session-b", 9, sess_b);
	return 0;
}

#define NEED_DB() do { if (!db) skip(); } while (0)

static void test_state_roundtrip(void **state)
{
	char st[OAUTH_TOKEN_LEN], ver[OAUTH_TOKEN_LEN], ch[OAUTH_TOKEN_LEN], ver2[OAUTH_TOKEN_LEN], err[256];
	char hash[65], chk[OAUTH_TOKEN_LEN];
	struct db_rows r;
	time_t now = time(NULL);

	(void)state;
	NEED_DB();
	assert_int_equal(oauth_state_create(db, conf, doc_a, sess_a, "google", now, st, ver, ch, err, sizeof(err)), TF_OK);
	assert_int_equal(strlen(st), 43);
	assert_int_equal(strlen(ver), 43);
	oauth_pkce_challenge(ver, chk);
	assert_string_equal(ch, chk);
	/* stored: only the hash of the state, the verifier encrypted, 10 minutes */
	assert_int_equal(db_query_one(db, STMT_TEST_OAUTH_STATE_ROW, DB_ARGS(DBP_INT(doc_a)), &r), 1);
	sha256_hex(st, strlen(st), hash);
	assert_string_equal(db_cell(&r, 0, 0), hash);
	assert_string_equal(db_cell(&r, 0, 1), sess_a);
	assert_string_equal(db_cell(&r, 0, 2), "google");
	assert_null(strstr(db_cell(&r, 0, 3), ver));
	assert_true(!strncmp(db_cell(&r, 0, 3), "gAAAAA", 6));
	assert_int_equal(db_cell_int(&r, 0, 4, 0), 600);
	db_rows_free(&r);

	assert_int_equal(oauth_state_consume(db, conf, st, doc_a, sess_a, "google", now + 5, ver2), OAUTH_STATE_OK);
	assert_string_equal(ver2, ver);
	/* replay */
	assert_int_equal(oauth_state_consume(db, conf, st, doc_a, sess_a, "google", now + 6, ver2), OAUTH_STATE_UNKNOWN);
	assert_string_equal(ver2, "");
}

static void one_refusal(time_t created, long long doctor, const char *sess, const char *prov, time_t at,
			enum oauth_state_result want)
{
	char st[OAUTH_TOKEN_LEN], ver[OAUTH_TOKEN_LEN], ch[OAUTH_TOKEN_LEN], ver2[OAUTH_TOKEN_LEN], err[256];

	assert_int_equal(oauth_state_create(db, conf, doc_a, sess_a, "google", created, st, ver, ch, err, sizeof(err)),
			 TF_OK);
	assert_int_equal(oauth_state_consume(db, conf, st, doctor, sess, prov, at, ver2), want);
	if (want == OAUTH_STATE_OK)
		assert_string_equal(ver2, ver);
	else
		assert_string_equal(ver2, "");
	/* used up: not even the rightful owner can present it again */
	assert_int_equal(oauth_state_consume(db, conf, st, doc_a, sess_a, "google", created + 1, ver2),
			 OAUTH_STATE_UNKNOWN);
}

static void test_state_refusals(void **state)
{
	time_t now = time(NULL);
	char ver[OAUTH_TOKEN_LEN];

	(void)state;
	NEED_DB();
	one_refusal(now, doc_b, sess_a, "google", now + 1, OAUTH_STATE_OTHER_DOCTOR);
	one_refusal(now, doc_a, sess_b, "google", now + 1, OAUTH_STATE_OTHER_SESSION);
	one_refusal(now, doc_a, sess_a, "outlook", now + 1, OAUTH_STATE_OTHER_PROVIDER);
	one_refusal(now, doc_a, sess_a, "google", now + 600, OAUTH_STATE_EXPIRED);
	one_refusal(now, doc_a, sess_a, "google", now + 3600, OAUTH_STATE_EXPIRED);
	/* just inside the 10 minutes */
	one_refusal(now, doc_a, sess_a, "google", now + 599, OAUTH_STATE_OK);
	/* never issued / malformed */
	assert_int_equal(oauth_state_consume(db, conf, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", doc_a, sess_a,
					     "google", now, ver), OAUTH_STATE_UNKNOWN);
	assert_int_equal(oauth_state_consume(db, conf, "short", doc_a, sess_a, "google", now, ver), OAUTH_STATE_MALFORMED);
	assert_int_equal(oauth_state_consume(db, conf, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'", doc_a, sess_a,
					     "google", now, ver), OAUTH_STATE_MALFORMED);
	assert_int_equal(oauth_state_consume(db, conf, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", doc_a, "nothex",
					     "google", now, ver), OAUTH_STATE_MALFORMED);
}

static void test_state_create_checks(void **state)
{
	char st[OAUTH_TOKEN_LEN], ver[OAUTH_TOKEN_LEN], ch[OAUTH_TOKEN_LEN], err[256];
	struct db_rows r;
	time_t now = time(NULL);

	(void)state;
	NEED_DB();
	assert_int_equal(oauth_state_create(db, conf, doc_a, sess_a, "apple", now, st, ver, ch, err, sizeof(err)),
			 TF_ERR_INVALID);
	assert_int_equal(oauth_state_create(db, conf, doc_a, "abc", "google", now, st, ver, ch, err, sizeof(err)),
			 TF_ERR_INVALID);
	/* an old state is purged by the next create */
	assert_int_equal(oauth_state_create(db, conf, doc_b, sess_b, "google", now - 3600, st, ver, ch, err, sizeof(err)),
			 TF_OK);
	assert_int_equal(oauth_state_create(db, conf, doc_b, sess_b, "google", now, st, ver, ch, err, sizeof(err)), TF_OK);
	assert_int_equal(db_query_one(db, STMT_TEST_OAUTH_STATE_COUNT, DB_NOARGS, &r), 1);
	assert_int_equal(db_cell_int(&r, 0, 0, -1), 1);
	db_rows_free(&r);
	/* without the key nothing is stored */
	conf_set(conf, "CALENDAR_ENCRYPTION_KEY", "");
	assert_int_equal(oauth_state_create(db, conf, doc_a, sess_a, "google", now, st, ver, ch, err, sizeof(err)),
			 TF_ERR_CONFIG);
	assert_non_null(strstr(err, "CALENDAR_ENCRYPTION_KEY"));
	assert_string_equal(st, "");
	conf_set(conf, "CALENDAR_ENCRYPTION_KEY", KEY);
}

static void test_state_two_sessions_race(void **state)
{
	char st[OAUTH_TOKEN_LEN], ver[OAUTH_TOKEN_LEN], ch[OAUTH_TOKEN_LEN], v1[OAUTH_TOKEN_LEN], err[256];
	struct db *db2;
	time_t now = time(NULL);

	(void)state;
	NEED_DB();
	/* two connections presenting the same state: exactly one wins */
	assert_non_null(db2 = db_connect(conf, err, sizeof(err)));
	assert_int_equal(oauth_state_create(db, conf, doc_a, sess_a, "google", now, st, ver, ch, err, sizeof(err)), TF_OK);
	assert_int_equal(oauth_state_consume(db2, conf, st, doc_a, sess_a, "google", now, v1), OAUTH_STATE_OK);
	assert_int_equal(oauth_state_consume(db, conf, st, doc_a, sess_a, "google", now, v1), OAUTH_STATE_UNKNOWN);
	db_close(db2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkce_rfc7636),
		cmocka_unit_test(test_auth_url),
		cmocka_unit_test(test_form_escape),
		cmocka_unit_test(test_token_parse),
		cmocka_unit_test(test_scope_has),
		cmocka_unit_test(test_no_endpoint_no_request),
		cmocka_unit_test(test_state_roundtrip),
		cmocka_unit_test(test_state_refusals),
		cmocka_unit_test(test_state_create_checks),
		cmocka_unit_test(test_state_two_sessions_race),
	};
	char err[256];
	int rc;

	if (crypto_init() != TF_OK)
		return 1;
	if (!(conf = conf_load(NULL, err, sizeof(err)))) {
		fprintf(stderr, "conf: %s\n", err);
		return 1;
	}
	conf_set(conf, "CALENDAR_ENCRYPTION_KEY", KEY);
	if (db_setup(NULL) != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	db_close(db);
	conf_free(conf);
	return rc;
}
