/* caldav.h: CalDAV (RFC 4791/6578/6764) and Apple iCloud as a provider: discovery and the provider_ops. */
#ifndef TF_CALDAV_H
#define TF_CALDAV_H

#include "provider.h"

#define CALDAV_DEFAULT_URL "https://caldav.icloud.com"

/* The provider table entry ("apple"). */
extern const struct provider_ops caldav_provider;

/* Discovery with the credentials in c->creds ({"username": ..., "password": ...}): url (https or,
 * for local servers, http), /.well-known/caldav with redirects (also to another host), the
 * current-user-principal, the calendar-home-set (may be absolute on another host), and the event
 * calendars in it (inbox, outbox and VTODO-only lists skipped). On PROV_OK c->state is set to
 * {"caldav_url", "principal_url", "home_url"} and *cals, *n hold the calendars (caller frees with
 * prov_calendars_free). PROV_AUTH for a refused password; other failures PROV_ERROR/PROV_RETRY.
 * c->error gets a German message for the doctor in every failure case. */
enum prov_status caldav_discover(struct prov_ctx *c, const char *url, struct prov_calendar **cals,
				 size_t *n);

#endif
