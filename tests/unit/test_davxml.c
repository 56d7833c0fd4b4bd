/* test_davxml.c: multistatus parsing (prefixes, default namespaces, CDATA, 404 propstats, sync-collection,
 * 507, errors, DOCTYPE and size limits) and the request bodies. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "davxml.h"

static enum tf_err parse(const char *xml, struct davxml_multistatus *m)
{
	char err[200];

	return davxml_parse_multistatus(xml, strlen(xml), m, err, sizeof(err));
}

static void principal_prefixed(void **state)
{
	struct davxml_multistatus m;
	const char *xml =
		"<d:multistatus xmlns:d=\"DAV:\">\n"
		"  <d:response>\n"
		"    <d:href>/</d:href>\n"
		"    <d:propstat>\n"
		"      <d:prop><d:current-user-principal><d:href>/123456789/principal/</d:href></d:current-user-principal></d:prop>\n"
		"      <d:status>HTTP/1.1 200 OK</d:status>\n"
		"    </d:propstat>\n"
		"  </d:response>\n"
		"</d:multistatus>\n";

	(void)state;
	assert_int_equal(parse(xml, &m), TF_OK);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.responses[0].href, "/");
	assert_int_equal(m.responses[0].status, 0);
	assert_int_equal(m.responses[0].npropstats, 1);
	assert_int_equal(m.responses[0].propstats[0].status, 200);
	assert_string_equal(m.responses[0].props.current_user_principal, "/123456789/principal/");
	assert_true(m.responses[0].props.found & DAVXML_P_CUP);
	davxml_multistatus_free(&m);
}

/* iCloud style: default namespaces switched per element, home set absolute on another host,
 * plus a 404 propstat whose (empty) properties must not count. */
static void home_default_namespaces(void **state)
{
	struct davxml_multistatus m;
	const char *xml =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<multistatus xmlns=\"DAV:\">\n"
		"  <response>\n"
		"    <href>/123456789/principal/</href>\n"
		"    <propstat>\n"
		"      <prop>\n"
		"        <calendar-home-set xmlns=\"urn:ietf:params:xml:ns:caldav\"><href xmlns=\"DAV:\">https://p42-caldav.icloud.com:443/123456789/calendars/</href></calendar-home-set>\n"
		"        <calendar-user-address-set xmlns=\"urn:ietf:params:xml:ns:caldav\"><href xmlns=\"DAV:\">mailto:ana@icloud.com</href></calendar-user-address-set>\n"
		"      </prop>\n"
		"      <status>HTTP/1.1 200 OK</status>\n"
		"    </propstat>\n"
		"    <propstat>\n"
		"      <prop><displayname/><getetag/></prop>\n"
		"      <status>HTTP/1.1 404 Not Found</status>\n"
		"    </propstat>\n"
		"  </response>\n"
		"</multistatus>\n";

	(void)state;
	assert_int_equal(parse(xml, &m), TF_OK);
	assert_int_equal(m.n, 1);
	const struct davxml_response *r = &m.responses[0];
	assert_string_equal(r->props.calendar_home_set, "https://p42-caldav.icloud.com:443/123456789/calendars/");
	assert_null(r->props.current_user_principal);
	assert_int_equal(r->npropstats, 2);
	assert_int_equal(r->propstats[1].status, 404);
	assert_true(r->propstats[1].found & DAVXML_P_DISPLAYNAME);
	assert_true(r->propstats[1].found & DAVXML_P_ETAG);
	assert_false(r->props.found & DAVXML_P_ETAG);
	assert_null(r->props.displayname);
	assert_null(r->props.getetag);
	davxml_multistatus_free(&m);
}

/* Depth 1 listing: home, a VEVENT calendar, a VTODO list, inbox, outbox; odd prefixes. */
static void calendar_listing(void **state)
{
	struct davxml_multistatus m;
	const char *xml =
		"<D:multistatus xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\" "
		"xmlns:x1=\"http://calendarserver.org/ns/\" xmlns:A=\"http://apple.com/ns/ical/\">"
		"<D:response><D:href>/123/calendars/</D:href><D:propstat><D:prop>"
		"<D:resourcetype><D:collection/></D:resourcetype></D:prop>"
		"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
		"<D:response><D:href>/123/calendars/home/</D:href><D:propstat><D:prop>"
		"<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>"
		"<D:displayname>Praxis &amp; Home</D:displayname>"
		"<C:supported-calendar-component-set><C:comp name=\"VEVENT\"/></C:supported-calendar-component-set>"
		"<x1:getctag>HwoQEgwAAF1k</x1:getctag>"
		"<D:sync-token>https://example.com/sync/1234</D:sync-token>"
		"<A:calendar-color>#FF2968FF</A:calendar-color>"
		"<D:current-user-privilege-set><D:privilege><D:read/></D:privilege>"
		"<D:privilege><D:write-content/></D:privilege></D:current-user-privilege-set>"
		"<D:supported-report-set><D:supported-report><D:report><D:sync-collection/></D:report>"
		"</D:supported-report></D:supported-report-set>"
		"</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
		"<D:response><D:href>/123/calendars/tasks/</D:href><D:propstat><D:prop>"
		"<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>"
		"<C:supported-calendar-component-set><C:comp name=\"VTODO\"/></C:supported-calendar-component-set>"
		"<D:current-user-privilege-set><D:privilege><D:read/></D:privilege></D:current-user-privilege-set>"
		"</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
		"<D:response><D:href>/123/calendars/inbox/</D:href><D:propstat><D:prop>"
		"<D:resourcetype><D:collection/><C:schedule-inbox/></D:resourcetype>"
		"</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
		"<D:response><D:href>/123/calendars/notification/</D:href><D:propstat><D:prop>"
		"<D:resourcetype><D:collection/><x1:notification/></D:resourcetype>"
		"</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
		"</D:multistatus>";

	(void)state;
	assert_int_equal(parse(xml, &m), TF_OK);
	assert_int_equal(m.n, 5);
	assert_int_equal(m.responses[0].props.resourcetype, DAVXML_RT_COLLECTION);
	const struct davxml_props *p = &m.responses[1].props;
	assert_int_equal(p->resourcetype, DAVXML_RT_COLLECTION | DAVXML_RT_CALENDAR);
	assert_string_equal(p->displayname, "Praxis & Home");
	assert_int_equal(p->comps, DAVXML_COMP_VEVENT);
	assert_true(p->found & DAVXML_P_COMPS);
	assert_string_equal(p->getctag, "HwoQEgwAAF1k");
	assert_string_equal(p->sync_token, "https://example.com/sync/1234");
	assert_string_equal(p->calendar_color, "#FF2968FF");
	assert_int_equal(p->privs, DAVXML_PRIV_READ | DAVXML_PRIV_WRITE);
	assert_int_equal(p->sync_collection, 1);
	p = &m.responses[2].props;
	assert_int_equal(p->comps, DAVXML_COMP_VTODO);
	assert_int_equal(p->privs, DAVXML_PRIV_READ);
	assert_int_equal(p->sync_collection, 0);
	assert_true(m.responses[3].props.resourcetype & DAVXML_RT_SCHED_INBOX);
	assert_true(m.responses[4].props.resourcetype & DAVXML_RT_OTHER);
	assert_false(m.responses[4].props.resourcetype & DAVXML_RT_CALENDAR);
	davxml_multistatus_free(&m);
}

/* iCloud: calendar-data in CDATA under a default namespace, entities in plain text, hrefs encoded. */
static void multiget_cdata(void **state)
{
	struct davxml_multistatus m;
	const char *xml =
		"<?xml version='1.0' encoding='UTF-8'?>"
		"<multistatus xmlns='DAV:'>"
		"<response><href>/123/calendars/home/A%2D000123%40x.ics</href><propstat><prop>"
		"<getetag>\"e9a1c7\"</getetag>"
		"<calendar-data xmlns='urn:ietf:params:xml:ns:caldav'><![CDATA[BEGIN:VCALENDAR\r\n"
		"SUMMARY:a <b> & c\r\nEND:VCALENDAR\r\n]]></calendar-data>"
		"</prop><status>HTTP/1.1 200 OK</status></propstat></response>"
		"<response><href>/123/calendars/home/plain.ics</href><propstat><prop>"
		"<getetag>&quot;f00&quot;</getetag>"
		"<C:calendar-data xmlns:C='urn:ietf:params:xml:ns:caldav'>BEGIN:VCALENDAR&#13;\n"
		"SUMMARY:x &lt;y&gt;&#13;\nEND:VCALENDAR&#13;\n</C:calendar-data>"
		"</prop><status>HTTP/1.1 200 OK</status></propstat></response>"
		"<response><href>/123/calendars/home/gone.ics</href>"
		"<status>HTTP/1.1 404 Not Found</status></response>"
		"</multistatus>";

	(void)state;
	assert_int_equal(parse(xml, &m), TF_OK);
	assert_int_equal(m.n, 3);
	const struct davxml_response *r = &m.responses[0];
	assert_string_equal(r->href, "/123/calendars/home/A%2D000123%40x.ics");
	assert_string_equal(r->href_decoded, "/123/calendars/home/A-000123@x.ics");
	assert_string_equal(r->props.getetag, "\"e9a1c7\"");
	/* XML normalises CR LF to LF, also inside CDATA (libical reads either) */
	assert_string_equal(r->props.calendar_data,
			    "BEGIN:VCALENDAR\nSUMMARY:a <b> & c\nEND:VCALENDAR\n");
	assert_int_equal(r->props.calendar_data_len, strlen(r->props.calendar_data));
	r = &m.responses[1];
	assert_string_equal(r->props.getetag, "\"f00\"");
	assert_string_equal(r->props.calendar_data, "BEGIN:VCALENDAR\r\nSUMMARY:x <y>\r\nEND:VCALENDAR\r\n");
	r = &m.responses[2];
	assert_int_equal(r->status, 404);
	assert_int_equal(r->npropstats, 0);
	davxml_multistatus_free(&m);
}

/* sync-collection: changed member, deleted member (bare 404), the collection itself (iCloud),
 * top-level token after the responses. */
static void sync_collection_result(void **state)
{
	struct davxml_multistatus m;
	const char *xml =
		"<d:multistatus xmlns:d=\"DAV:\">\n"
		"  <d:response>\n"
		"    <d:href>/123456789/calendars/home/A-000123.ics</d:href>\n"
		"    <d:propstat><d:prop><d:getetag>\"e9a1c7\"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>\n"
		"  </d:response>\n"
		"  <d:response>\n"
		"    <d:href>/123456789/calendars/home/old.ics</d:href>\n"
		"    <d:status>HTTP/1.1 404 Not Found</d:status>\n"
		"  </d:response>\n"
		"  <d:response>\n"
		"    <d:href>/123456789/calendars/home/</d:href>\n"
		"    <d:propstat><d:prop><d:getetag>\"coll\"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>\n"
		"  </d:response>\n"
		"  <d:sync-token>https://example.com/sync/1240</d:sync-token>\n"
		"</d:multistatus>\n";

	(void)state;
	assert_int_equal(parse(xml, &m), TF_OK);
	assert_int_equal(m.n, 3);
	assert_string_equal(m.sync_token, "https://example.com/sync/1240");
	assert_string_equal(m.responses[0].props.getetag, "\"e9a1c7\"");
	assert_int_equal(m.responses[1].status, 404);
	assert_null(m.responses[1].props.getetag);
	assert_string_equal(m.responses[2].href, "/123456789/calendars/home/");
	davxml_multistatus_free(&m);
}

static void truncated_507(void **state)
{
	struct davxml_multistatus m;
	const char *xml =
		"<d:multistatus xmlns:d=\"DAV:\">"
		"<d:response><d:href>/cal/a.ics</d:href><d:propstat><d:prop><d:getetag>\"1\"</d:getetag></d:prop>"
		"<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
		"<d:response><d:href>/cal/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>"
		"<d:sync-token>tok-2</d:sync-token></d:multistatus>";

	(void)state;
	assert_int_equal(parse(xml, &m), TF_OK);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.responses[1].status, 507);
	assert_string_equal(m.sync_token, "tok-2");
	davxml_multistatus_free(&m);
}

/* Elements in the wrong place or namespace are ignored; a response without href is dropped. */
static void unknown_and_misplaced(void **state)
{
	struct davxml_multistatus m;
	const char *xml =
		"<multistatus xmlns=\"DAV:\" xmlns:z=\"urn:zzz\">"
		"<z:junk><response><href>/not/here</href></response></z:junk>"
		"<response><propstat><prop><getetag>\"x\"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>"
		"<response><href>/ok</href><z:getetag>\"wrong-ns\"</z:getetag><propstat><prop>"
		"<z:extra><getetag>\"nested\"</getetag></z:extra><getetag>\"good\"</getetag>"
		"<displayname>a<z:b>b</z:b>c</displayname></prop>"
		"<status>HTTP/1.1 200 OK</status></propstat><responsedescription>fine</responsedescription></response>"
		"</multistatus>";

	(void)state;
	assert_int_equal(parse(xml, &m), TF_OK);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.responses[0].href, "/ok");
	assert_string_equal(m.responses[0].props.getetag, "\"good\"");
	assert_string_equal(m.responses[0].props.displayname, "abc");
	davxml_multistatus_free(&m);
}

static void refuses_bad_input(void **state)
{
	struct davxml_multistatus m;
	char err[200];

	(void)state;
	/* malformed */
	assert_int_equal(parse("<d:multistatus xmlns:d=\"DAV:\"><d:response>", &m), TF_ERR_INVALID);
	assert_int_equal(m.n, 0);
	assert_null(m.responses);
	assert_int_equal(parse("", &m), TF_ERR_INVALID);
	assert_int_equal(parse("<html><body>Login</body></html>", &m), TF_ERR_INVALID);
	/* undeclared prefix */
	assert_int_equal(parse("<d:multistatus/>", &m), TF_ERR_INVALID);
	/* a multistatus in another namespace */
	assert_int_equal(parse("<multistatus xmlns=\"urn:x\"/>", &m), TF_ERR_INVALID);
	/* DOCTYPE (billion laughs) refused before any entity expands */
	const char *lol =
		"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		"<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
		"<multistatus xmlns=\"DAV:\"><response><href>&lol2;</href></response></multistatus>";
	assert_int_equal(davxml_parse_multistatus(lol, strlen(lol), &m, err, sizeof(err)), TF_ERR_INVALID);
	assert_string_equal(err, "DOCTYPE refused");
	/* external entity */
	const char *xxe = "<!DOCTYPE m [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><multistatus xmlns=\"DAV:\">&x;</multistatus>";
	assert_int_equal(parse(xxe, &m), TF_ERR_INVALID);
	/* over the input limit: refused without parsing */
	assert_int_equal(davxml_parse_multistatus("<x/>", (size_t)DAVXML_MAX_INPUT + 1, &m, err, sizeof(err)),
			 TF_ERR_TOOBIG);
	/* nesting */
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_puts(&b, "<multistatus xmlns=\"DAV:\">");
	for (int i = 0; i < 100; i++)
		buf_puts(&b, "<a>");
	assert_int_equal(parse(b.data, &m), TF_ERR_INVALID);
	buf_free(&b);
	/* an href over the text limit */
	buf_init(&b, 1 << 20);
	buf_puts(&b, "<multistatus xmlns=\"DAV:\"><response><href>");
	for (int i = 0; i < DAVXML_MAX_TEXT + 10; i++)
		buf_putc(&b, 'a');
	buf_puts(&b, "</href></response></multistatus>");
	assert_int_equal(parse(b.data, &m), TF_ERR_TOOBIG);
	buf_free(&b);
}

/* An oversized calendar-data drops that object's data (flagged), the rest parses. */
static void oversized_calendar_data(void **state)
{
	struct davxml_multistatus m;
	struct buf b;

	(void)state;
	buf_init(&b, DAVXML_MAX_INPUT);
	buf_puts(&b, "<multistatus xmlns=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\">"
		     "<response><href>/big.ics</href><propstat><prop><getetag>\"b\"</getetag><c:calendar-data>");
	for (int i = 0; i < DAVXML_MAX_CALDATA / 64 + 2; i++)
		buf_puts(&b, "0123456789012345678901234567890123456789012345678901234567890123");
	buf_puts(&b, "</c:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response>"
		     "<response><href>/small.ics</href><propstat><prop><c:calendar-data>BEGIN:VCALENDAR</c:calendar-data>"
		     "</prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>");
	assert_int_equal(parse(b.data, &m), TF_OK);
	assert_int_equal(m.n, 2);
	assert_null(m.responses[0].props.calendar_data);
	assert_int_equal(m.responses[0].props.calendar_data_too_big, 1);
	assert_string_equal(m.responses[0].props.getetag, "\"b\"");
	assert_string_equal(m.responses[1].props.calendar_data, "BEGIN:VCALENDAR");
	davxml_multistatus_free(&m);
	buf_free(&b);
}

static void error_bodies(void **state)
{
	char cond[64];
	const char *e1 = "<?xml version=\"1.0\"?><d:error xmlns:d=\"DAV:\"><d:valid-sync-token/></d:error>";
	const char *e2 = "<error xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "<C:no-uid-conflict><href>/cal/x.ics</href></C:no-uid-conflict></error>";

	(void)state;
	assert_int_equal(davxml_error_condition(e1, strlen(e1), cond, sizeof(cond)), 0);
	assert_string_equal(cond, "valid-sync-token");
	assert_int_equal(davxml_error_condition(e2, strlen(e2), cond, sizeof(cond)), 0);
	assert_string_equal(cond, "no-uid-conflict");
	assert_int_equal(davxml_error_condition("<x/>", 4, cond, sizeof(cond)), -1);
	assert_int_equal(davxml_error_condition("Forbidden", 9, cond, sizeof(cond)), -1);
}

static void status_and_decode(void **state)
{
	char *s;

	(void)state;
	assert_int_equal(davxml_status_code("HTTP/1.1 200 OK"), 200);
	assert_int_equal(davxml_status_code("HTTP/1.1 404"), 404);
	assert_int_equal(davxml_status_code("HTTP/1.1 20 OK"), 0);
	assert_int_equal(davxml_status_code("HTTP/1.1 2000 OK"), 0);
	assert_int_equal(davxml_status_code("garbage"), 0);
	s = davxml_pct_decode("/a%20b/%C3%A4.ics");
	assert_string_equal(s, "/a b/\xc3\xa4.ics");
	free(s);
	assert_null(davxml_pct_decode("/a%2"));
	assert_null(davxml_pct_decode("/a%zz"));
	assert_null(davxml_pct_decode("/a%00b"));
}

static void request_bodies(void **state)
{
	struct buf b;
	const char *hrefs[] = { "/cal/a.ics", "/cal/b&<c>.ics" };
	struct davxml_multistatus m;

	(void)state;
	buf_init(&b, 1 << 16);
	assert_int_equal(davxml_build_propfind(&b, DAVXML_P_CUP), 0);
	assert_non_null(strstr(b.data, "<d:prop><d:current-user-principal/></d:prop>"));
	assert_null(strstr(b.data, "getetag"));
	buf_reset(&b);
	assert_int_equal(davxml_build_sync_collection(&b, NULL), 0);
	assert_non_null(strstr(b.data, "<d:sync-token/>"));
	assert_non_null(strstr(b.data, "<d:sync-level>1</d:sync-level>"));
	buf_reset(&b);
	assert_int_equal(davxml_build_sync_collection(&b, "http://x/sync?a=1&b=2"), 0);
	assert_non_null(strstr(b.data, "<d:sync-token>http://x/sync?a=1&amp;b=2</d:sync-token>"));
	buf_reset(&b);
	assert_int_equal(davxml_build_multiget(&b, hrefs, 2), 0);
	assert_non_null(strstr(b.data, "<d:href>/cal/a.ics</d:href><d:href>/cal/b&amp;&lt;c&gt;.ics</d:href>"));
	assert_non_null(strstr(b.data, "<c:calendar-data/>"));
	buf_reset(&b);
	assert_int_equal(davxml_build_calendar_query(&b, 1741564800, 1742169600), 0);
	assert_non_null(strstr(b.data, "start=\"20250310T000000Z\" end=\"20250317T000000Z\""));
	/* every body is well-formed XML (the parser refuses it only for not being a multistatus) */
	char err[200];
	assert_int_equal(davxml_parse_multistatus(b.data, b.len, &m, err, sizeof(err)), TF_ERR_INVALID);
	assert_string_equal(err, "not a DAV:multistatus");
	buf_reset(&b);
	assert_int_equal(davxml_xml_escape(&b, "a\x01"), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(principal_prefixed),
		cmocka_unit_test(home_default_namespaces),
		cmocka_unit_test(calendar_listing),
		cmocka_unit_test(multiget_cdata),
		cmocka_unit_test(sync_collection_result),
		cmocka_unit_test(truncated_507),
		cmocka_unit_test(unknown_and_misplaced),
		cmocka_unit_test(refuses_bad_input),
		cmocka_unit_test(oversized_calendar_data),
		cmocka_unit_test(error_bodies),
		cmocka_unit_test(status_and_decode),
		cmocka_unit_test(request_bodies),
	};
	return cmocka_run_group_tests_name("davxml", tests, NULL, NULL);
}
