/* provider.h: the one interface every calendar provider implements (CalDAV now; Google, Outlook later).
 * The sync engine (sync.c) only talks to this table of functions: it never says `if (google)`. */
#ifndef TF_PROVIDER_H
#define TF_PROVIDER_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "availability.h"
#include "conf.h"
#include "util.h"

/* What a provider call tells the engine. */
enum prov_status {
	PROV_OK,
	PROV_NOT_FOUND,      /* the object/calendar is gone (404/410) */
	PROV_PRECONDITION,   /* etag mismatch / already exists (412, 409 duplicate) */
	PROV_AUTH,           /* credentials refused (401/403 on auth): connection → reauth_required */
	PROV_TOKEN_INVALID,  /* the sync cursor is stale (403 valid-sync-token, 410): full resync */
	PROV_RETRY,          /* transient (429, 5xx, timeout): try again later */
	PROV_ERROR,          /* anything else: logged, counted, the run goes on */
	PROV_STATUS_MAX
};
const char *prov_status_name(enum prov_status s);

/* A calendar as the provider lists it. */
struct prov_calendar {
	char *remote_id;     /* collection URL or calendar id (malloc'd) */
	char *name;          /* display name (malloc'd, may be "") */
	char *color;         /* "#rrggbb" or "" (malloc'd) */
	int can_write;
	int events;          /* holds VEVENTs (only those are offered) */
	int no_block;        /* a new connection leaves it out of availability by default (a
				read-only calendar of public holidays, birthdays or week numbers that
				the provider adds itself); the doctor can still choose it */
};
void prov_calendars_free(struct prov_calendar *c, size_t n);
/* Append one calendar to the list *cals of *n (grown by one): copies of id, name (NULL = "") and
 * color (kept only when it is "#rrggbb", else ""), holding events. Returns the new entry. */
struct prov_calendar *prov_calendars_push(struct prov_calendar **cals, size_t *n, const char *id,
					  const char *name, const char *color, int can_write);

/* Our appointment as the provider should write it. Privacy: summary is "Termin (TerminFinder)"
 * unless the connection opted in to names ("Termin: NAME (TerminFinder)"); no e-mail or phone ever. */
struct prov_event {
	long long appointment_id;
	const char *uid;            /* ics_uid_for_appointment */
	time_t start, end;          /* UTC */
	int sequence;
	const char *summary;
	const char *description;    /* link to the doctor's page, no patient data */
	const char *location;       /* may be NULL */
	const char *video_link;     /* may be NULL */
	int create_meet;            /* ask the provider for a video link (Meet/Teams), where it can */
};

/* One external object seen by a pull. busy: expanded busy intervals (UTC) within the horizon,
 * empty when transparent/cancelled/free. own_appointment_id > 0 when it is one of our events
 * (then busy is not stored: the appointment already blocks; start/end tell where it is now). */
struct prov_object {
	const char *object_id;      /* href or event id */
	const char *etag;
	long long own_appointment_id;
	time_t own_start, own_end;  /* our event's current times (own only) */
	const struct interval *busy;
	size_t nbusy;
};

/* Callbacks a pull reports through (the engine stores; the provider never touches the DB). */
struct prov_sink {
	void *ud;
	/* an object created or changed: replace its busy time */
	int (*upsert)(void *ud, const struct prov_object *o);
	/* an object deleted (object_id only) */
	int (*remove)(void *ud, const char *object_id);
	/* full listing (no incremental cursor): objects not reported since begin_full are deleted */
	int (*begin_full)(void *ud);
	int (*end_full)(void *ud);
	/* the etag the engine last stored for object_id (NULL if unknown): lets a provider skip
	 * unchanged objects in an etag diff. Between begin_full and end_full an object_id asked
	 * about here counts as reported (still there): the provider lists every object, asks, and
	 * fetches and upserts only those whose etag differs. */
	const char *(*known_etag)(void *ud, const char *object_id);
};

/* A connection's context for one run. creds: the decrypted credentials JSON (provider-specific:
 * {"username","password"} for CalDAV; tokens for OAuth providers), owned by the engine.
 * state: provider-specific connection settings (caldav_url, principal_url, home_url) as JSON.
 * requests: every HTTP request made is counted here (statistics, "an unchanged calendar costs
 * one request"). horizon_days: how far ahead recurrences are expanded. */
struct prov_ctx {
	struct conf *conf;
	long long integration_id;
	json_t *creds;
	json_t *state;
	int creds_changed;          /* set by the provider when it refreshed tokens: engine re-encrypts */
	/* Called by the provider right after a token refresh, so a rotated refresh token is stored
	 * (encrypted, one UPDATE replacing the old one) before anything else can go wrong; success
	 * clears creds_changed. NULL: the engine stores creds at the end of the run only. */
	enum tf_err (*creds_save)(struct prov_ctx *c);
	void *creds_save_ud;
	unsigned long requests;
	int horizon_days;
	time_t now;
	const char *timezone;       /* the doctor's zone (all-day events become whole local days) */
	char error[300];            /* German text for the doctor's page on failure */
	char *video_link;           /* set (malloc'd) by push_upsert when the provider made a video
				       conference (Meet/Teams) for the event; the engine stores it on
				       the appointment and frees it */
	int video_pending;          /* push_upsert: a conference was asked for but is not ready yet */
	int stop_run;               /* set by the provider when this connection's run must end now
				       (Google quotaExceeded): the engine stops pushing and pulling */
};

struct provider_ops {
	const char *name;           /* "apple", "google", "outlook" (= calendar_integrations.provider) */
	/* Calendars of the account. */
	enum prov_status (*list_calendars)(struct prov_ctx *c, struct prov_calendar **out, size_t *n);
	/* Create or update our event in calendar cal. remote_id/etag: in = NULL for a create, else the
	 * mapping's values; out = the new values (malloc'd). A create that finds the event already there
	 * (a crash between PUT and the mapping update) must converge, not duplicate. */
	enum prov_status (*push_upsert)(struct prov_ctx *c, const char *cal, const struct prov_event *e,
					const char *remote_id, const char *etag,
					char **new_remote_id, char **new_etag);
	/* Delete our event (gone already = PROV_OK). */
	enum prov_status (*push_delete)(struct prov_ctx *c, const char *cal, const char *remote_id,
					const char *etag);
	/* Pull changes of calendar cal since *cursor (NULL = first/full sync); report through sink;
	 * *new_cursor (malloc'd) is stored by the engine only after the sink calls succeeded.
	 * PROV_TOKEN_INVALID: the engine clears the cursor and calls again for a full resync. */
	enum prov_status (*pull)(struct prov_ctx *c, const char *cal, const char *cursor,
				 const struct prov_sink *sink, char **new_cursor);

	/* Optional (NULL when the provider has no push notifications): open a notification channel
	 * for calendar cal delivering to address, identified by our channel_id and carrying our secret
	 * token; *resource_id (malloc'd) and *expires are the provider's answer. */
	enum prov_status (*watch)(struct prov_ctx *c, const char *cal, const char *address,
				  const char *channel_id, const char *token, char **resource_id,
				  time_t *expires);
	/* Optional: stop a channel (already gone = PROV_OK). */
	enum prov_status (*unwatch)(struct prov_ctx *c, const char *channel_id, const char *resource_id);
	/* Optional: revoke the credentials at the provider on disconnect (already revoked = PROV_OK). */
	enum prov_status (*revoke)(struct prov_ctx *c);
};

/* The part of reporting one listed object that every provider shares. prov_object_unchanged: 1
 * when a full listing may skip object id because the engine has its etag already. prov_report_object:
 * own_id > 0 reports our own event (at start..end now, no busy time); else, when blocks and
 * end > start, its busy interval clipped to [win_start, win_end). Returns 0, or -1 when the sink
 * failed. */
int prov_object_unchanged(const struct prov_sink *sink, int full, const char *id, const char *etag);
int prov_report_object(const struct prov_sink *sink, const char *id, const char *etag, long long own_id,
		       time_t start, time_t end, int blocks, time_t win_start, time_t win_end);

/* This installation's mark on the events it writes (8 hex chars of SHA-256(BASE_URL) + NUL), so
 * two installations writing to one calendar never take each other's events for their own. */
#define PROV_MARK_LEN 9
void prov_instance_mark(struct conf *c, char out[PROV_MARK_LEN]);

/* The table of providers, by calendar_integrations.provider; NULL when unknown. */
const struct provider_ops *provider_find(const char *name);

#endif
