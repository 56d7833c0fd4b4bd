/* channels.h: push-notification channels (Google events.watch) of connections: create, verify, renew. */
#ifndef TF_CHANNELS_H
#define TF_CHANNELS_H

#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "provider.h"

#define CHANNEL_RENEW_BEFORE (48 * 3600L)   /* tf-renew replaces channels expiring within 48 h */

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

/* tf-renew: channels expiring before now + CHANNEL_RENEW_BEFORE are replaced (new channel first,
 * then the old one stopped); failures are logged, counted and retried on the next run, and a
 * calendar left without a live channel is reported in the connection's last_error. Returns the
 * number of failures (0 = all renewed) or -1 when it could not run. */
long channels_renew(struct db *db, struct conf *c, time_t now, unsigned long *renewed);

/* channels_renew with the counts tf-renew prints: channels = calendars whose channel was due (or
 * missing), renewed = got a fresh channel, failed = could not be renewed or an old one not stopped
 * (retried next run), connections = connections looked at. Returns 0, or -1 when it could not run. */
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

/* Stop every channel of a connection (disconnect). Returns 0, or -1 when some stop failed
 * (the rows go with the connection's row anyway). */
int channels_stop_all(struct db *db, struct prov_ctx *ctx, const struct provider_ops *ops,
		      long long integration_id);

#endif
