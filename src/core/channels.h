/* channels.h: push-notification channels of connections (Google events.watch, Outlook Graph subscriptions): create, verify, renew. */
#ifndef TF_CHANNELS_H
#define TF_CHANNELS_H

#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "provider.h"

#define CHANNEL_RENEW_BEFORE (48 * 3600L)   /* tf-renew replaces Google channels expiring within 48 h */
#define CHANNEL_RENEW_BEFORE_OUTLOOK (24 * 3600L)  /* and renews Outlook subscriptions within 24 h */

/* How a provider's channels work (channels.c keeps one small table, by provider name):
 * - per calendar (Google): one channel per blocking calendar, replaced before it expires (new one
 *   first, then the old one stopped);
 * - per account (Outlook, resource me/events): one subscription for the whole connection while it
 *   has a blocking calendar (ops->watch gets cal = NULL; the row's calendar_id is NULL), renewed in
 *   place (PATCH expirationDateTime) before it expires or when a lifecycle event asks; one the
 *   provider no longer knows (404) is recreated. */

/* Make sure every blocking calendar of the connection has a live channel to
 * BASE_URL/webhooks/calendar/<provider> (providers without ops->watch: nothing to do). Called by the
 * sync engine after a successful pull with its prov_ctx. New channels get a random id (UUID-like)
 * and a random 256-bit token (only its SHA-256 is stored). Returns 0, or -1 when some calendar
 * could not get a channel (logged; the connection keeps being synced by cron). */
int channels_ensure(struct db *db, struct prov_ctx *ctx, const struct provider_ops *ops,
		    long long integration_id, time_t now);

/* Verify a notification: channel_id and token (from X-Goog-Channel-ID / X-Goog-Channel-Token)
 * against the stored channel, the token compared as SHA-256 in constant time; stopped or expired
 * channels are refused. Returns 1 with *integration_id set, 0 when refused, -1 on a DB error. */
int channels_verify(struct db *db, const char *channel_id, const char *token, time_t now,
		    long long *integration_id);

/* tf-renew: channels expiring before now + the provider's window (CHANNEL_RENEW_BEFORE,
 * CHANNEL_RENEW_BEFORE_OUTLOOK) are replaced (new channel first, then the old one stopped) or, where
 * the provider renews in place, renewed (recreated when gone); failures are logged, counted and retried on the next run, and a
 * calendar left without a live channel is reported in the connection's last_error. Returns the
 * number of failures (0 = all renewed) or -1 when it could not run. */
long channels_renew(struct db *db, struct conf *c, time_t now, unsigned long *renewed);

/* channels_renew with the counts tf-renew prints: channels = calendars whose channel was due (or
 * missing), renewed = got a fresh channel, failed = could not be renewed or an old one not stopped
 * (retried next run), connections = connections looked at (every provider with channels). Rows of
 * channels stopped more than 30 days ago are deleted first. Returns 0, or -1 when it could not run. */
struct channels_renew_stats {
	unsigned long connections, channels, renewed, failed;
};
int channels_renew_run(struct db *db, struct conf *c, time_t now, struct channels_renew_stats *st);

/* channels_verify with the reason: CHANNEL_UNKNOWN (no such channel, stopped or expired),
 * CHANNEL_BAD_TOKEN (known channel, wrong token, or resource_id (X-Goog-Resource-ID; NULL = not
 * checked) differs from the one the provider gave). */
enum channel_verdict { CHANNEL_OK, CHANNEL_UNKNOWN, CHANNEL_BAD_TOKEN, CHANNEL_ERROR };
enum channel_verdict channels_check(struct db *db, const char *channel_id, const char *token,
				    const char *resource_id, time_t now, long long *integration_id);

/* A notification that names the provider's id of the channel (Outlook: the Graph subscriptionId)
 * and carries our secret (clientState): the row is looked up by (provider, resource_id) and the
 * secret compared as SHA-256 in constant time; stopped or expired channels count as unknown.
 * CHANNEL_OK sets *integration_id and *channel_row (the push_channels id, for channels_lifecycle). */
enum channel_verdict channels_check_resource(struct db *db, const char *provider, const char *resource_id,
					     const char *token, time_t now, long long *integration_id,
					     long long *channel_row);

/* A lifecycle event of a verified channel (Graph lifecycleNotificationUrl):
 * CHANNEL_EV_REAUTHORIZE (reauthorizationRequired): the channel is renewed by the next
 *   channels_maintain (PATCH, which also reauthorizes), even if it is not due yet;
 * CHANNEL_EV_REMOVED (subscriptionRemoved): the channel is gone at the provider: marked stopped, so
 *   channels_maintain opens a new one;
 * CHANNEL_EV_MISSED (missed): the connection's sync cursors are cleared: its next pull is full.
 * Database work only (quick: the webhook does it before answering). Returns 0 or -1. */
enum channel_event { CHANNEL_EV_REAUTHORIZE, CHANNEL_EV_REMOVED, CHANNEL_EV_MISSED };
int channels_lifecycle(struct db *db, long long channel_row, long long integration_id, enum channel_event ev,
		       time_t now);

/* The renewal work of tf-renew for one connection, now (after a lifecycle event, before its sync):
 * under the connection's sync lock, channels due or asked to renew are renewed and missing ones
 * opened. Returns 0, or -1 when something failed (logged; tf-renew retries). */
int channels_maintain(struct db *db, struct conf *c, long long integration_id, time_t now);

/* Stop every channel of a connection (disconnect). Returns 0, or -1 when some stop failed
 * (the rows go with the connection's row anyway). */
int channels_stop_all(struct db *db, struct prov_ctx *ctx, const struct provider_ops *ops,
		      long long integration_id);

#endif
