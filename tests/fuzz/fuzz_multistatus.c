/* fuzz_multistatus.c: davxml_parse_multistatus and davxml_error_condition on arbitrary bytes; a parsed
 * result is consistent, and its hrefs survive a round trip through davxml_xml_escape and the parser. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "davxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct davxml_multistatus *m)
{
	struct davxml_multistatus again;
	struct buf b;
	size_t want = 0;
	char err[200];

	buf_init(&b, DAVXML_MAX_INPUT);
	if (buf_puts(&b, "<d:multistatus xmlns:d=\"DAV:\">") < 0)
		abort();
	for (size_t i = 0; i < m->n; i++) {
		const char *h = m->responses[i].href;
		if (!*h || strchr(h, '\r'))
			continue;         /* XML turns a literal CR into LF; empty hrefs stay empty */
		if (buf_puts(&b, "<d:response><d:href>") < 0 || davxml_xml_escape(&b, h) < 0 ||
		    buf_puts(&b, "</d:href></d:response>") < 0)
			abort();
		want++;
	}
	if (buf_puts(&b, "</d:multistatus>") < 0)
		abort();
	if (davxml_parse_multistatus(b.data, b.len, &again, err, sizeof(err)) != TF_OK)
		abort();
	if (again.n != want)
		abort();
	for (size_t i = 0, j = 0; i < m->n; i++) {
		const char *h = m->responses[i].href;
		if (!*h || strchr(h, '\r'))
			continue;
		if (strcmp(again.responses[j].href, h))
			abort();
		j++;
	}
	davxml_multistatus_free(&again);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct davxml_multistatus m;
	char err[200], cond[64];
	enum tf_err rc;

	rc = davxml_parse_multistatus((const char *)data, size, &m, err, sizeof(err));
	if (rc == TF_OK) {
		for (size_t i = 0; i < m.n; i++) {
			const struct davxml_response *r = &m.responses[i];
			if (!r->href || !r->href_decoded)
				abort();
			if (r->props.calendar_data && r->props.calendar_data_len > DAVXML_MAX_CALDATA)
				abort();
			if (r->props.calendar_data && r->props.calendar_data_too_big)
				abort();
			if (r->status < 0 || r->status > 999)
				abort();
		}
		round_trip(&m);
	} else if (m.n || m.responses || m.sync_token) {
		abort();             /* a failed parse leaves nothing behind */
	}
	davxml_multistatus_free(&m);
	if (davxml_error_condition((const char *)data, size, cond, sizeof(cond)) == 0 && strlen(cond) >= sizeof(cond))
		abort();
	return 0;
}
