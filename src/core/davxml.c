/* davxml.c: WebDAV multistatus parsing with expat (namespace-aware, bounded, no DTDs) and request bodies. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>

#include "davxml.h"

#define NS_DAV    "DAV:"
#define NS_CALDAV "urn:ietf:params:xml:ns:caldav"
#define NS_CS     "http://calendarserver.org/ns/"
#define NS_ICAL   "http://apple.com/ns/ical/"
/* Expat joins namespace URI and local name with this; it cannot occur in XML 1.0 text. */
#define NS_SEP    '\x01'

enum el {
	E_OTHER, E_MULTISTATUS, E_RESPONSE, E_HREF, E_STATUS, E_PROPSTAT, E_PROP, E_SYNC_TOKEN,
	E_CUP, E_HOME, E_RESOURCETYPE, E_COLLECTION, E_CALENDAR, E_SCHED_INBOX, E_SCHED_OUTBOX,
	E_PRINCIPAL, E_DISPLAYNAME, E_COLOR, E_COMPS, E_COMP, E_PRIVSET, E_PRIVILEGE, E_READ,
	E_WRITE, E_WRITE_CONTENT, E_ALL, E_REPORTS, E_SUPPORTED_REPORT, E_REPORT,
	E_SYNC_COLLECTION, E_CTAG, E_ETAG, E_CALDATA, E_ERROR
};

static const struct {
	const char *ns, *local;
	enum el e;
} el_table[] = {
	{ NS_DAV, "multistatus", E_MULTISTATUS },
	{ NS_DAV, "response", E_RESPONSE },
	{ NS_DAV, "href", E_HREF },
	{ NS_DAV, "status", E_STATUS },
	{ NS_DAV, "propstat", E_PROPSTAT },
	{ NS_DAV, "prop", E_PROP },
	{ NS_DAV, "sync-token", E_SYNC_TOKEN },
	{ NS_DAV, "current-user-principal", E_CUP },
	{ NS_CALDAV, "calendar-home-set", E_HOME },
	{ NS_DAV, "resourcetype", E_RESOURCETYPE },
	{ NS_DAV, "collection", E_COLLECTION },
	{ NS_CALDAV, "calendar", E_CALENDAR },
	{ NS_CALDAV, "schedule-inbox", E_SCHED_INBOX },
	{ NS_CALDAV, "schedule-outbox", E_SCHED_OUTBOX },
	{ NS_DAV, "principal", E_PRINCIPAL },
	{ NS_DAV, "displayname", E_DISPLAYNAME },
	{ NS_ICAL, "calendar-color", E_COLOR },
	{ NS_CALDAV, "supported-calendar-component-set", E_COMPS },
	{ NS_CALDAV, "comp", E_COMP },
	{ NS_DAV, "current-user-privilege-set", E_PRIVSET },
	{ NS_DAV, "privilege", E_PRIVILEGE },
	{ NS_DAV, "read", E_READ },
	{ NS_DAV, "write", E_WRITE },
	{ NS_DAV, "write-content", E_WRITE_CONTENT },
	{ NS_DAV, "all", E_ALL },
	{ NS_DAV, "supported-report-set", E_REPORTS },
	{ NS_DAV, "supported-report", E_SUPPORTED_REPORT },
	{ NS_DAV, "report", E_REPORT },
	{ NS_DAV, "sync-collection", E_SYNC_COLLECTION },
	{ NS_CS, "getctag", E_CTAG },
	{ NS_DAV, "getetag", E_ETAG },
	{ NS_CALDAV, "calendar-data", E_CALDATA },
	{ NS_DAV, "error", E_ERROR },
};

struct pstate {
	XML_Parser p;
	enum el stack[DAVXML_MAX_DEPTH];
	int depth;
	enum tf_err rc;
	char msg[160];
	struct davxml_multistatus *ms;
	size_t cap;
	struct davxml_response *cur;
	struct davxml_props ps;              /* the open propstat's properties */
	int ps_status;
	struct buf text;
	int collecting;                      /* depth of the text element being collected, or 0 */
	int text_dropped;
	/* error-body mode */
	int error_mode;
	char *cond;
	size_t condlen;
	int cond_set;
};

static void fail(struct pstate *s, enum tf_err rc, const char *msg)
{
	if (s->rc == TF_OK) {
		s->rc = rc;
		str_copy(s->msg, msg, sizeof(s->msg));
	}
	XML_StopParser(s->p, XML_FALSE);
}

static const char *split_name(const char *name, char *ns, size_t nslen)
{
	const char *sep = strchr(name, NS_SEP);

	if (!sep) {
		ns[0] = '\0';
		return name;
	}
	size_t n = (size_t)(sep - name);
	if (n >= nslen)
		n = nslen - 1;
	memcpy(ns, name, n);
	ns[n] = '\0';
	return sep + 1;
}

static enum el lookup(const char *name)
{
	char ns[64];
	const char *local = split_name(name, ns, sizeof(ns));

	for (size_t i = 0; i < TF_ARRAY_LEN(el_table); i++)
		if (!strcmp(el_table[i].local, local) && !strcmp(el_table[i].ns, ns))
			return el_table[i].e;
	return E_OTHER;
}

/* Does element e count where it stands (under parent)? */
static int placed(enum el e, enum el parent, int depth)
{
	switch (e) {
	case E_MULTISTATUS:
		return depth == 0;
	case E_RESPONSE:
		return parent == E_MULTISTATUS;
	case E_HREF:
		return parent == E_RESPONSE || parent == E_CUP || parent == E_HOME;
	case E_STATUS:
		return parent == E_RESPONSE || parent == E_PROPSTAT;
	case E_PROPSTAT:
		return parent == E_RESPONSE;
	case E_PROP:
		return parent == E_PROPSTAT;
	case E_SYNC_TOKEN:
		return parent == E_MULTISTATUS || parent == E_PROP;
	case E_CUP: case E_HOME: case E_RESOURCETYPE: case E_DISPLAYNAME: case E_COLOR:
	case E_COMPS: case E_PRIVSET: case E_REPORTS: case E_CTAG: case E_ETAG: case E_CALDATA:
		return parent == E_PROP;
	case E_COLLECTION: case E_CALENDAR: case E_SCHED_INBOX: case E_SCHED_OUTBOX: case E_PRINCIPAL:
		return parent == E_RESOURCETYPE;
	case E_COMP:
		return parent == E_COMPS;
	case E_PRIVILEGE:
		return parent == E_PRIVSET;
	case E_READ: case E_WRITE: case E_WRITE_CONTENT: case E_ALL:
		return parent == E_PRIVILEGE;
	case E_SUPPORTED_REPORT:
		return parent == E_REPORTS;
	case E_REPORT:
		return parent == E_SUPPORTED_REPORT;
	case E_SYNC_COLLECTION:
		return parent == E_REPORT;
	case E_ERROR:
	case E_OTHER:
		return 0;
	}
	return 0;
}

static unsigned prop_bit(enum el e)
{
	switch (e) {
	case E_CUP: return DAVXML_P_CUP;
	case E_HOME: return DAVXML_P_HOME;
	case E_RESOURCETYPE: return DAVXML_P_RESOURCETYPE;
	case E_DISPLAYNAME: return DAVXML_P_DISPLAYNAME;
	case E_COLOR: return DAVXML_P_COLOR;
	case E_COMPS: return DAVXML_P_COMPS;
	case E_PRIVSET: return DAVXML_P_PRIVS;
	case E_CTAG: return DAVXML_P_CTAG;
	case E_SYNC_TOKEN: return DAVXML_P_SYNC_TOKEN;
	case E_ETAG: return DAVXML_P_ETAG;
	case E_CALDATA: return DAVXML_P_CALDATA;
	case E_REPORTS: return DAVXML_P_REPORTS;
	default: return 0;
	}
}

static void props_free(struct davxml_props *p)
{
	free(p->current_user_principal);
	free(p->calendar_home_set);
	free(p->displayname);
	free(p->calendar_color);
	free(p->getctag);
	free(p->sync_token);
	free(p->getetag);
	free(p->calendar_data);
	memset(p, 0, sizeof(*p));
}

#define MERGE_STR(f) do { if (!dst->f) { dst->f = src->f; src->f = NULL; } } while (0)
static void props_merge(struct davxml_props *dst, struct davxml_props *src)
{
	MERGE_STR(current_user_principal);
	MERGE_STR(calendar_home_set);
	MERGE_STR(displayname);
	MERGE_STR(calendar_color);
	MERGE_STR(getctag);
	MERGE_STR(sync_token);
	MERGE_STR(getetag);
	if (!dst->calendar_data && src->calendar_data) {
		dst->calendar_data = src->calendar_data;
		dst->calendar_data_len = src->calendar_data_len;
		src->calendar_data = NULL;
	}
	dst->calendar_data_too_big |= src->calendar_data_too_big;
	dst->found |= src->found;
	dst->resourcetype |= src->resourcetype;
	dst->comps |= src->comps;
	dst->privs |= src->privs;
	dst->sync_collection |= src->sync_collection;
}
#undef MERGE_STR

static int is_text_el(enum el e)
{
	return e == E_HREF || e == E_STATUS || e == E_SYNC_TOKEN || e == E_DISPLAYNAME ||
	       e == E_COLOR || e == E_CTAG || e == E_ETAG || e == E_CALDATA;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct pstate *s = ud;
	enum el parent = s->depth ? s->stack[s->depth - 1] : E_OTHER;
	enum el e = lookup(name);

	if (s->rc != TF_OK)
		return;
	if (s->depth >= DAVXML_MAX_DEPTH) {
		fail(s, TF_ERR_INVALID, "XML nested too deeply");
		return;
	}
	if (s->error_mode) {
		if (s->depth == 0 && e != E_ERROR) {
			fail(s, TF_ERR_INVALID, "not a DAV:error");
			return;
		}
		if (s->depth == 1 && !s->cond_set) {
			char ns[64];
			str_copy(s->cond, split_name(name, ns, sizeof(ns)), s->condlen);
			s->cond_set = 1;
		}
		s->stack[s->depth++] = e;
		return;
	}
	if (s->depth == 0 && e != E_MULTISTATUS) {
		fail(s, TF_ERR_INVALID, "not a DAV:multistatus");
		return;
	}
	if (!placed(e, parent, s->depth)) {
		if (parent == E_RESOURCETYPE)
			s->ps.resourcetype |= DAVXML_RT_OTHER;
		e = E_OTHER;
	}
	s->stack[s->depth++] = e;
	if (s->collecting)
		return;          /* markup inside a text property: its text is part of the value */

	switch (e) {
	case E_RESPONSE:
		if (s->ms->n >= DAVXML_MAX_RESPONSES) {
			fail(s, TF_ERR_TOOBIG, "too many responses");
			return;
		}
		if (s->ms->n == s->cap) {
			size_t ncap = s->cap ? s->cap * 2 : 16;
			struct davxml_response *r = realloc(s->ms->responses, ncap * sizeof(*r));
			if (!r) {
				fail(s, TF_ERR_NOMEM, "out of memory");
				return;
			}
			s->ms->responses = r;
			s->cap = ncap;
		}
		s->cur = &s->ms->responses[s->ms->n++];
		memset(s->cur, 0, sizeof(*s->cur));
		return;
	case E_PROPSTAT:
		props_free(&s->ps);
		s->ps_status = 0;
		return;
	case E_COLLECTION:
		s->ps.resourcetype |= DAVXML_RT_COLLECTION;
		return;
	case E_CALENDAR:
		s->ps.resourcetype |= DAVXML_RT_CALENDAR;
		return;
	case E_SCHED_INBOX:
		s->ps.resourcetype |= DAVXML_RT_SCHED_INBOX;
		return;
	case E_SCHED_OUTBOX:
		s->ps.resourcetype |= DAVXML_RT_SCHED_OUTBOX;
		return;
	case E_PRINCIPAL:
		s->ps.resourcetype |= DAVXML_RT_PRINCIPAL;
		return;
	case E_COMP:
		for (size_t i = 0; attrs[i] && attrs[i + 1]; i += 2) {
			if (strcmp(attrs[i], "name"))
				continue;
			if (!strcasecmp(attrs[i + 1], "VEVENT"))
				s->ps.comps |= DAVXML_COMP_VEVENT;
			else if (!strcasecmp(attrs[i + 1], "VTODO"))
				s->ps.comps |= DAVXML_COMP_VTODO;
			else
				s->ps.comps |= DAVXML_COMP_OTHER;
		}
		return;
	case E_READ:
		s->ps.privs |= DAVXML_PRIV_READ;
		return;
	case E_WRITE: case E_WRITE_CONTENT:
		s->ps.privs |= DAVXML_PRIV_WRITE;
		return;
	case E_ALL:
		s->ps.privs |= DAVXML_PRIV_READ | DAVXML_PRIV_WRITE;
		return;
	case E_SYNC_COLLECTION:
		s->ps.sync_collection = 1;
		return;
	default:
		break;
	}
	if (parent == E_PROP)
		s->ps.found |= prop_bit(e);
	if (is_text_el(e)) {
		buf_init(&s->text, e == E_CALDATA ? DAVXML_MAX_CALDATA : DAVXML_MAX_TEXT);
		s->collecting = s->depth;
		s->text_dropped = 0;
	}
}

static void XMLCALL on_text(void *ud, const XML_Char *t, int len)
{
	struct pstate *s = ud;

	if (s->rc != TF_OK || !s->collecting || s->text_dropped || len <= 0)
		return;
	if (buf_append(&s->text, t, (size_t)len) < 0) {
		if (s->stack[s->collecting - 1] == E_CALDATA) {
			s->text_dropped = 1;          /* one oversized object: dropped, reported */
			buf_free(&s->text);
		} else {
			fail(s, TF_ERR_TOOBIG, "XML text value too long");
		}
	}
}

static char *trimmed(struct buf *b)
{
	size_t a = 0, z = b->len;

	while (a < z && (b->data[a] == ' ' || b->data[a] == '\t' || b->data[a] == '\r' || b->data[a] == '\n'))
		a++;
	while (z > a && (b->data[z - 1] == ' ' || b->data[z - 1] == '\t' || b->data[z - 1] == '\r' ||
			 b->data[z - 1] == '\n'))
		z--;
	return xstrndup(b->data ? b->data + a : "", z - a);
}

static void set_once(char **dst, char *v)
{
	if (*dst)
		free(v);
	else
		*dst = v;
}

static void finish_text(struct pstate *s, enum el e, enum el parent)
{
	if (e == E_CALDATA) {
		if (s->text_dropped) {
			s->ps.calendar_data_too_big = 1;
		} else if (!s->ps.calendar_data) {
			s->ps.calendar_data_len = s->text.len;
			s->ps.calendar_data = buf_detach(&s->text);
		}
		buf_free(&s->text);
		return;
	}
	char *v = trimmed(&s->text);
	buf_free(&s->text);
	switch (e) {
	case E_HREF:
		if (parent == E_RESPONSE && s->cur)
			set_once(&s->cur->href, v);
		else if (parent == E_CUP)
			set_once(&s->ps.current_user_principal, v);
		else if (parent == E_HOME)
			set_once(&s->ps.calendar_home_set, v);
		else
			free(v);
		return;
	case E_STATUS:
		if (parent == E_RESPONSE && s->cur)
			s->cur->status = davxml_status_code(v);
		else if (parent == E_PROPSTAT)
			s->ps_status = davxml_status_code(v);
		free(v);
		return;
	case E_SYNC_TOKEN:
		if (parent == E_MULTISTATUS)
			set_once(&s->ms->sync_token, v);
		else
			set_once(&s->ps.sync_token, v);
		return;
	case E_DISPLAYNAME:
		set_once(&s->ps.displayname, v);
		return;
	case E_COLOR:
		set_once(&s->ps.calendar_color, v);
		return;
	case E_CTAG:
		set_once(&s->ps.getctag, v);
		return;
	case E_ETAG:
		set_once(&s->ps.getetag, v);
		return;
	default:
		free(v);
		return;
	}
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct pstate *s = ud;
	enum el e, parent;

	(void)name;
	if (s->rc != TF_OK || s->depth <= 0)
		return;
	e = s->stack[--s->depth];
	if (s->error_mode)
		return;
	parent = s->depth ? s->stack[s->depth - 1] : E_OTHER;
	if (s->collecting) {
		if (s->collecting != s->depth + 1)
			return;            /* markup inside the text property */
		s->collecting = 0;
		finish_text(s, e, parent);
		return;
	}
	if (e == E_PROPSTAT && s->cur) {
		struct davxml_response *r = s->cur;
		struct davxml_propstat *np = realloc(r->propstats, (r->npropstats + 1) * sizeof(*np));
		if (!np) {
			fail(s, TF_ERR_NOMEM, "out of memory");
			return;
		}
		r->propstats = np;
		np[r->npropstats].status = s->ps_status;
		np[r->npropstats].found = s->ps.found;
		r->npropstats++;
		if (s->ps_status >= 200 && s->ps_status < 300)
			props_merge(&r->props, &s->ps);
		props_free(&s->ps);
	} else if (e == E_RESPONSE && s->cur) {
		struct davxml_response *r = s->cur;
		if (!r->href) {
			/* a response without href names nothing: dropped */
			props_free(&r->props);
			free(r->propstats);
			s->ms->n--;
		} else {
			r->href_decoded = davxml_pct_decode(r->href);
			if (!r->href_decoded)
				r->href_decoded = xstrdup(r->href);
		}
		s->cur = NULL;
	}
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal)
{
	(void)name; (void)sysid; (void)pubid; (void)has_internal;
	fail(ud, TF_ERR_INVALID, "DOCTYPE refused");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
			      int value_len, const XML_Char *base, const XML_Char *sysid,
			      const XML_Char *pubid, const XML_Char *notation)
{
	(void)name; (void)is_param; (void)value; (void)value_len; (void)base; (void)sysid;
	(void)pubid; (void)notation;
	fail(ud, TF_ERR_INVALID, "entity declaration refused");
}

static enum tf_err run_parser(struct pstate *s, const char *xml, size_t len, char *err, size_t errlen)
{
	if (len > DAVXML_MAX_INPUT) {
		err_set(err, errlen, "XML body of %zu bytes is over the limit", len);
		return TF_ERR_TOOBIG;
	}
	s->p = XML_ParserCreateNS(NULL, NS_SEP);
	if (!s->p) {
		err_set(err, errlen, "out of memory");
		return TF_ERR_NOMEM;
	}
	XML_SetUserData(s->p, s);
	XML_SetElementHandler(s->p, on_start, on_end);
	XML_SetCharacterDataHandler(s->p, on_text);
	XML_SetStartDoctypeDeclHandler(s->p, on_doctype);
	XML_SetEntityDeclHandler(s->p, on_entity);
	XML_SetParamEntityParsing(s->p, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(s->p, xml ? xml : "", (int)len, XML_TRUE) == XML_STATUS_ERROR && s->rc == TF_OK) {
		s->rc = TF_ERR_INVALID;
		snprintf(s->msg, sizeof(s->msg), "XML error at line %lu: %s",
			 (unsigned long)XML_GetCurrentLineNumber(s->p), XML_ErrorString(XML_GetErrorCode(s->p)));
	}
	XML_ParserFree(s->p);
	s->p = NULL;
	buf_free(&s->text);
	props_free(&s->ps);
	if (s->rc != TF_OK)
		err_set(err, errlen, "%s", s->msg);
	return s->rc;
}

enum tf_err davxml_parse_multistatus(const char *xml, size_t len, struct davxml_multistatus *out,
				     char *err, size_t errlen)
{
	struct pstate s;
	enum tf_err rc;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.ms = out;
	rc = run_parser(&s, xml, len, err, errlen);
	if (rc != TF_OK)
		davxml_multistatus_free(out);
	return rc;
}

void davxml_multistatus_free(struct davxml_multistatus *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->responses[i].href);
		free(m->responses[i].href_decoded);
		free(m->responses[i].propstats);
		props_free(&m->responses[i].props);
	}
	free(m->responses);
	free(m->sync_token);
	memset(m, 0, sizeof(*m));
}

int davxml_error_condition(const char *xml, size_t len, char *cond, size_t condlen)
{
	struct pstate s;
	struct davxml_multistatus dummy;

	if (!condlen)
		return -1;
	memset(&s, 0, sizeof(s));
	memset(&dummy, 0, sizeof(dummy));
	s.ms = &dummy;
	s.error_mode = 1;
	s.cond = cond;
	s.condlen = condlen;
	cond[0] = '\0';
	if (run_parser(&s, xml, len, NULL, 0) != TF_OK || !s.cond_set)
		return -1;
	return 0;
}

int davxml_status_code(const char *s)
{
	const char *sp = strchr(s, ' ');
	long v = 0;
	int digits = 0;

	if (!sp)
		return 0;
	for (sp++; *sp >= '0' && *sp <= '9' && digits < 4; sp++, digits++)
		v = v * 10 + (*sp - '0');
	if (digits != 3 || (*sp && *sp != ' '))
		return 0;
	return (int)v;
}

static int hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *davxml_pct_decode(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n || hexv((unsigned char)s[i + 1]) < 0 || hexv((unsigned char)s[i + 2]) < 0) {
			free(out);
			return NULL;
		}
		int v = hexv((unsigned char)s[i + 1]) * 16 + hexv((unsigned char)s[i + 2]);
		if (v == 0) {
			free(out);
			return NULL;
		}
		out[o++] = (char)v;
		i += 2;
	}
	out[o] = '\0';
	return out;
}

/* ------------------------------------------------------------------ request bodies */

int davxml_xml_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		int rc;
		switch (*s) {
		case '&': rc = buf_puts(b, "&amp;"); break;
		case '<': rc = buf_puts(b, "&lt;"); break;
		case '>': rc = buf_puts(b, "&gt;"); break;
		case '"': rc = buf_puts(b, "&quot;"); break;
		case '\'': rc = buf_puts(b, "&apos;"); break;
		default:
			/* control characters are not allowed in XML 1.0 */
			if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r')
				return -1;
			rc = buf_putc(b, *s);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

#define XML_HEAD "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
#define XMLNS_ALL " xmlns:d=\"DAV:\" xmlns:c=\"" NS_CALDAV "\" xmlns:cs=\"" NS_CS "\" xmlns:ic=\"" NS_ICAL "\""

int davxml_build_propfind(struct buf *b, unsigned mask)
{
	static const struct { unsigned bit; const char *el; } props[] = {
		{ DAVXML_P_CUP, "<d:current-user-principal/>" },
		{ DAVXML_P_HOME, "<c:calendar-home-set/>" },
		{ DAVXML_P_RESOURCETYPE, "<d:resourcetype/>" },
		{ DAVXML_P_DISPLAYNAME, "<d:displayname/>" },
		{ DAVXML_P_COLOR, "<ic:calendar-color/>" },
		{ DAVXML_P_COMPS, "<c:supported-calendar-component-set/>" },
		{ DAVXML_P_PRIVS, "<d:current-user-privilege-set/>" },
		{ DAVXML_P_CTAG, "<cs:getctag/>" },
		{ DAVXML_P_SYNC_TOKEN, "<d:sync-token/>" },
		{ DAVXML_P_ETAG, "<d:getetag/>" },
		{ DAVXML_P_REPORTS, "<d:supported-report-set/>" },
	};

	if (buf_puts(b, XML_HEAD "<d:propfind" XMLNS_ALL "><d:prop>") < 0)
		return -1;
	for (size_t i = 0; i < TF_ARRAY_LEN(props); i++)
		if ((mask & props[i].bit) && buf_puts(b, props[i].el) < 0)
			return -1;
	return buf_puts(b, "</d:prop></d:propfind>\n");
}

int davxml_build_sync_collection(struct buf *b, const char *token)
{
	if (buf_puts(b, XML_HEAD "<d:sync-collection xmlns:d=\"DAV:\">") < 0)
		return -1;
	if (token && *token) {
		if (buf_puts(b, "<d:sync-token>") < 0 || davxml_xml_escape(b, token) < 0 ||
		    buf_puts(b, "</d:sync-token>") < 0)
			return -1;
	} else if (buf_puts(b, "<d:sync-token/>") < 0) {
		return -1;
	}
	return buf_puts(b, "<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>\n");
}

int davxml_build_multiget(struct buf *b, const char *const *hrefs, size_t n)
{
	if (buf_puts(b, XML_HEAD "<c:calendar-multiget xmlns:d=\"DAV:\" xmlns:c=\"" NS_CALDAV "\">"
		     "<d:prop><d:getetag/><c:calendar-data/></d:prop>") < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (buf_puts(b, "<d:href>") < 0 || davxml_xml_escape(b, hrefs[i]) < 0 ||
		    buf_puts(b, "</d:href>") < 0)
			return -1;
	return buf_puts(b, "</c:calendar-multiget>\n");
}

int davxml_build_calendar_query(struct buf *b, time_t start, time_t end)
{
	struct tm ts, te;
	char s[32], e[32];

	if (!gmtime_r(&start, &ts) || !gmtime_r(&end, &te))
		return -1;
	strftime(s, sizeof(s), "%Y%m%dT%H%M%SZ", &ts);
	strftime(e, sizeof(e), "%Y%m%dT%H%M%SZ", &te);
	return buf_printf(b, XML_HEAD "<c:calendar-query xmlns:d=\"DAV:\" xmlns:c=\"" NS_CALDAV "\">"
			  "<d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name=\"VCALENDAR\">"
			  "<c:comp-filter name=\"VEVENT\"><c:time-range start=\"%s\" end=\"%s\"/>"
			  "</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>\n", s, e);
}
