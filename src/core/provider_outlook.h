/* provider_outlook.h: Outlook / Office 365 (Microsoft identity platform v2.0 + Graph v1.0) as a provider. */
#ifndef TF_PROVIDER_OUTLOOK_H
#define TF_PROVIDER_OUTLOOK_H

#include <stddef.h>
#include <time.h>

#include "oauth.h"
#include "provider.h"

#define OUTLOOK_DEFAULT_AUTHORITY  "https://login.microsoftonline.com/common"
#define OUTLOOK_DEFAULT_GRAPH_BASE "https://graph.microsoft.com/v1.0"
/* offline_access: a refresh token at all; Calendars.ReadWrite: calendars, events, delta,
 * subscriptions; User.Read: /me (the account's e-mail). */
#define OUTLOOK_SCOPES             "offline_access Calendars.ReadWrite User.Read"
#define OUTLOOK_SCOPE_CALENDARS    "Calendars.ReadWrite"
#define OUTLOOK_MAX_RETRIES        4        /* retries after 429 / 5xx / network (5 attempts in all) */
/* Our appointment id on an event: one single-value extended property with one fixed GUID. */
#define OUTLOOK_PROP_ID            "String {3c0f5a8e-7b1d-4e52-9c36-5f1e0a2d7b49} Name tfAppointmentId"
#define OUTLOOK_TXN_MAX            64
/* Subscriptions: Outlook events allow 10,080 minutes (7 days); we ask for a little less so clock
 * skew never makes the request exceed it. MICROSOFT_SUBSCRIPTION_MINUTES overrides (60..10080). */
#define OUTLOOK_SUBSCRIPTION_MINUTES 10070

/* The provider table entry ("outlook"). Credentials (c->creds): {"access_token", "refresh_token",
 * "expires_at", "scope"}; every refresh stores the rotated refresh token (c->creds_changed = 1).
 * Settings: MICROSOFT_CLIENT_ID, MICROSOFT_CLIENT_SECRET, MICROSOFT_REDIRECT_URI,
 * MICROSOFT_AUTHORITY, MICROSOFT_GRAPH_BASE, TF_HTTP_BACKOFF_MS.
 * No revoke op: the v2.0 endpoint has no revocation for this flow (see provider_outlook.c). */
extern const struct provider_ops outlook_provider;

/* The OAuth client from the settings: authorize and token URLs under MICROSOFT_AUTHORITY
 * (default .../common: work/school and personal accounts), scopes OUTLOOK_SCOPES also sent on the
 * token calls, prompt=select_account, no revoke URI. The strings live as long as the process.
 * Returns 0, or -1 when a required setting is missing or the authority is not an http(s) URL
 * (err names it). */
int outlook_endpoints(struct conf *c, struct oauth_endpoints *ep, char *err, size_t errlen);

/* The account's e-mail from GET /me: mail, else userPrincipalName. PROV_OK with email filled. */
enum prov_status outlook_account_email(struct prov_ctx *c, char *email, size_t len);

/* Our transactionId for an appointment: "tf-" + 8 hex of SHA-256(BASE_URL) + "-" + id (the same on
 * every retry, so Graph never creates a second event). out needs OUTLOOK_TXN_MAX bytes. */
void outlook_transaction_id(struct conf *c, long long appointment_id, char out[OUTLOOK_TXN_MAX]);

/* Renew subscription resource_id in place (PATCH expirationDateTime = the longest allowed; this
 * also reauthorizes it). *expires = the new expiry. 404 (gone or expired) = PROV_NOT_FOUND. */
enum prov_status outlook_subscription_renew(struct prov_ctx *c, const char *resource_id, time_t *expires);

/* POST /subscriptions/{id}/reauthorize (after reauthorizationRequired; expiry unchanged).
 * 404 = PROV_NOT_FOUND. */
enum prov_status outlook_subscription_reauthorize(struct prov_ctx *c, const char *resource_id);

#endif
