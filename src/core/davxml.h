/* davxml.h: WebDAV/CalDAV XML with expat: 207 multistatus parsing and request bodies. */
#ifndef TF_DAVXML_H
#define TF_DAVXML_H

#include <stddef.h>
#include <time.h>

#include "util.h"

#define DAVXML_MAX_INPUT      (16 * 1024 * 1024)  /* a bigger body is refused */
#define DAVXML_MAX_RESPONSES  100000
#define DAVXML_MAX_DEPTH      64
#define DAVXML_MAX_TEXT       8192                /* href, etag, names, tokens */
#define DAVXML_MAX_CALDATA    (4 * 1024 * 1024)   /* calendar-data per object (= ICSBUSY_MAX_INPUT) */

/* resourcetype bits */
enum {
	DAVXML_RT_COLLECTION = 1 << 0,
	DAVXML_RT_CALENDAR = 1 << 1,
	DAVXML_RT_SCHED_INBOX = 1 << 2,
	DAVXML_RT_SCHED_OUTBOX = 1 << 3,
	DAVXML_RT_PRINCIPAL = 1 << 4,
	DAVXML_RT_OTHER = 1 << 5,           /* anything else (e.g. notification, subscribed) */
};
/* supported-calendar-component-set bits */
enum {
	DAVXML_COMP_VEVENT = 1 << 0,
	DAVXML_COMP_VTODO = 1 << 1,
	DAVXML_COMP_OTHER = 1 << 2,
};
/* current-user-privilege-set bits */
enum {
	DAVXML_PRIV_READ = 1 << 0,
	DAVXML_PRIV_WRITE = 1 << 1,         /* write, write-content or all */
};
/* which properties a propstat carried (found mask) */
enum {
	DAVXML_P_CUP = 1 << 0,              /* current-user-principal */
	DAVXML_P_HOME = 1 << 1,             /* calendar-home-set */
	DAVXML_P_RESOURCETYPE = 1 << 2,
	DAVXML_P_DISPLAYNAME = 1 << 3,
	DAVXML_P_COLOR = 1 << 4,            /* Apple calendar-color */
	DAVXML_P_COMPS = 1 << 5,            /* supported-calendar-component-set */
	DAVXML_P_PRIVS = 1 << 6,            /* current-user-privilege-set */
	DAVXML_P_CTAG = 1 << 7,             /* CalendarServer getctag */
	DAVXML_P_SYNC_TOKEN = 1 << 8,
	DAVXML_P_ETAG = 1 << 9,
	DAVXML_P_CALDATA = 1 << 10,
	DAVXML_P_REPORTS = 1 << 11,         /* supported-report-set */
};

/* Properties (all strings malloc'd or NULL; text trimmed except calendar_data). */
struct davxml_props {
	unsigned found;                     /* DAVXML_P_* */
	char *current_user_principal;       /* its href */
	char *calendar_home_set;            /* its first href */
	unsigned resourcetype;              /* DAVXML_RT_* */
	char *displayname;
	char *calendar_color;
	unsigned comps;                     /* DAVXML_COMP_* (found & DAVXML_P_COMPS tells if given) */
	unsigned privs;                     /* DAVXML_PRIV_* */
	int sync_collection;                /* supported-report-set lists sync-collection */
	char *getctag;
	char *sync_token;
	char *getetag;
	char *calendar_data;                /* text, CDATA included, entities decoded */
	size_t calendar_data_len;
	int calendar_data_too_big;          /* over DAVXML_MAX_CALDATA: dropped */
};

struct davxml_propstat {
	int status;                         /* HTTP code, 0 if missing */
	unsigned found;                     /* DAVXML_P_* named in it */
};

/* One response: props holds the properties of its 2xx propstats (merged, first wins);
 * propstats lists every propstat's status and which properties it named. */
struct davxml_response {
	char *href;                         /* as sent (raw) */
	char *href_decoded;                 /* percent-decoded (equals href when it cannot be decoded) */
	int status;                         /* a direct <status> (404 removed, 507 truncated), else 0 */
	struct davxml_props props;
	struct davxml_propstat *propstats;
	size_t npropstats;
};

struct davxml_multistatus {
	struct davxml_response *responses;
	size_t n;
	char *sync_token;                   /* top-level (sync-collection), or NULL */
};

/* Parse a 207 body. Namespace-aware (prefixes and default namespaces), unknown elements ignored,
 * DOCTYPE and entity declarations refused, sizes bounded (DAVXML_MAX_*). Returns TF_OK,
 * TF_ERR_INVALID (malformed, not a multistatus), TF_ERR_TOOBIG or TF_ERR_NOMEM; err says why.
 * out is always initialised; free it with davxml_multistatus_free. */
enum tf_err davxml_parse_multistatus(const char *xml, size_t len, struct davxml_multistatus *out,
				     char *err, size_t errlen);
void davxml_multistatus_free(struct davxml_multistatus *m);

/* The precondition of a DAV:error body (e.g. "valid-sync-token", "no-uid-conflict") into
 * cond[condlen] (local name of its first child). Returns 0, or -1 if the body is no DAV:error. */
int davxml_error_condition(const char *xml, size_t len, char *cond, size_t condlen);

/* The number in "HTTP/1.1 404 Not Found" (0 when malformed). */
int davxml_status_code(const char *s);

/* Percent-decode s into a malloc'd string; NULL when malformed or it would contain NUL. */
char *davxml_pct_decode(const char *s);

/* Request bodies (appended to b; return 0 or -1 when b is full). Values are XML-escaped. */
int davxml_xml_escape(struct buf *b, const char *s);
/* PROPFIND with the properties in mask (DAVXML_P_*; DAVXML_P_CALDATA is not a PROPFIND prop). */
int davxml_build_propfind(struct buf *b, unsigned mask);
/* sync-collection with token ("" or NULL for the initial sync), sync-level 1, prop getetag. */
int davxml_build_sync_collection(struct buf *b, const char *token);
/* calendar-multiget of hrefs (paths as the server knows them) for getetag + calendar-data. */
int davxml_build_multiget(struct buf *b, const char *const *hrefs, size_t n);
/* calendar-query for VEVENTs overlapping [start, end) (getetag only). */
int davxml_build_calendar_query(struct buf *b, time_t start, time_t end);

#endif
