/* provider_google.h: Google Calendar API v3 as a provider (OAuth tokens in the credentials), plus helpers. */
#ifndef TF_PROVIDER_GOOGLE_H
#define TF_PROVIDER_GOOGLE_H

#include <stddef.h>

#include "oauth.h"
#include "provider.h"

#define GOOGLE_DEFAULT_AUTH_URI    "https://accounts.google.com/o/oauth2/v2/auth"
#define GOOGLE_DEFAULT_TOKEN_URI   "https://oauth2.googleapis.com/token"
#define GOOGLE_DEFAULT_REVOKE_URI  "https://oauth2.googleapis.com/revoke"
#define GOOGLE_DEFAULT_API_BASE    "https://www.googleapis.com/calendar/v3"
#define GOOGLE_DEFAULT_USERINFO_URI "https://www.googleapis.com/oauth2/v3/userinfo"
/* The narrowest scopes covering every call: calendar.events (insert/patch/delete/list/watch on
 * events), calendar.readonly (calendarList.list: calendar.events does not cover it), openid +
 * email (the account's e-mail from userinfo). */
#define GOOGLE_SCOPE_EVENTS        "https://www.googleapis.com/auth/calendar.events"
#define GOOGLE_SCOPE_READONLY      "https://www.googleapis.com/auth/calendar.readonly"
#define GOOGLE_SCOPES              "openid email " GOOGLE_SCOPE_EVENTS " " GOOGLE_SCOPE_READONLY
#define GOOGLE_MAX_RETRIES         4        /* retries after a rate limit / 5xx (5 attempts in all) */
#define GOOGLE_EVENT_ID_MAX        64

/* The provider table entry ("google"). Credentials (c->creds): {"access_token", "refresh_token",
 * "expires_at" (Unix seconds), "scope"}; refreshed when expires_at - 60 s is reached and once
 * after a 401 (c->creds_changed = 1). Settings: GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET,
 * GOOGLE_TOKEN_URI, GOOGLE_API_BASE (the Calendar API root), GOOGLE_USERINFO_URI,
 * TF_HTTP_BACKOFF_MS (base of the back-off, default 1000). */
extern const struct provider_ops google_provider;

/* The OAuth client from the settings (GOOGLE_AUTH_URI, GOOGLE_TOKEN_URI, GOOGLE_REVOKE_URI with
 * Google's defaults; GOOGLE_CLIENT_ID/SECRET/REDIRECT_URI; scopes GOOGLE_SCOPES, offline access).
 * Pointers into c. Returns 0, or -1 when a required setting is missing (err names it). */
int google_endpoints(struct conf *c, struct oauth_endpoints *ep, char *err, size_t errlen);

/* Our deterministic event id for an appointment: base32hex (a-v, 0-9) of
 * "tfappt:" + 8 hex chars of SHA-256(BASE_URL) + ":" + id, so two installations never collide.
 * out needs GOOGLE_EVENT_ID_MAX bytes. */
void google_event_id(struct conf *c, long long appointment_id, char out[GOOGLE_EVENT_ID_MAX]);

/* The account's e-mail (userinfo, with the access token in c->creds; refreshed like any call).
 * PROV_OK with email filled, else a failure status (c->error German). */
enum prov_status google_userinfo_email(struct prov_ctx *c, char *email, size_t len);

/* The video (Meet) link of the last successful push_upsert of ctx in this thread, or NULL when it
 * had none (no conference asked for, or Google still reports "pending" after the polls). The
 * string stays valid until the next push on this thread. */
const char *google_last_video_link(const struct prov_ctx *c);

/* Build prov_ctx-independent credentials JSON from a token answer (caller decrefs). */
json_t *google_creds_from_tokens(const struct oauth_tokens *t);

#endif
