/* sync.h: the sync engine: push the outbox to connected calendars, pull busy time, record statistics. */
#ifndef TF_SYNC_H
#define TF_SYNC_H

#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "util.h"

struct sync_stats {
	unsigned long pushed, pulled, requests, errors;
	long duration_ms;
	int skipped;                /* 1: another run holds the connection (nothing done) */
	char status[24];            /* the connection's sync_status after the run */
	char last_error[300];       /* German, "" when none */
};

/* Sync one connection now: push its doctor's pending outbox rows to this connection's receiving
 * calendar, pull every blocking calendar, store busy blocks, flag conflicts and external edits,
 * update last_sync_at/sync_status/last_error (German) and write a sync_runs row. Claims the
 * connection first (sync_claimed_at, SELECT ... FOR UPDATE SKIP LOCKED) so two runs never sync it
 * at once; a claimed one is skipped (returns 0 with nothing done, stats->skipped = 1). A run also
 * holds the named lock terminfinder_sync_<id> on db's session, so the claim of a run that was
 * killed is free again at once (the server drops the lock with the session), not after 30 min.
 * Every call counts itself in sync_requests before claiming; a run that finds the count grew
 * while it held the connection (a skipped call: a push notification during the run) syncs once
 * more, at most 3 passes, stats summed. Returns 0 when the run ended
 * without errors, 1 when some items failed (counted in stats), -1 when it could not run. */
int sync_integration(struct db *db, struct conf *c, long long integration_id, time_t now,
		     struct sync_stats *stats);

/* Connections due now (sync_enabled, status active or error, next_sync_at passed or NULL),
 * at most max, into ids (malloc'd). Returns the count or -1. */
long sync_due(struct db *db, time_t now, size_t max, long long **ids);

/* How the engine works (sync.c explains each rule where it is applied):
 * - Push is per connection and state-based: an appointment needs pushing to a connection when
 *   its mapping (event_mappings) is missing, pending, or records other times/sequence than the
 *   appointment (cancelled: a mapping not yet deleted). Candidates are the doctor's due outbox
 *   rows plus, without any open outbox row, confirmed future appointments this connection lacks
 *   (so a new or reconnected calendar catches up). An outbox row is marked processed when every
 *   connection of the doctor that is enabled, not waiting for re-authorisation and has a
 *   receiving calendar is done with its appointment; a failed push backs off (next_attempt_at:
 *   1, 2, 4 ... minutes, at most 6 hours) and is retried forever.
 * - Crash safety: the mapping is written as 'pending' (with the times about to be written) and
 *   committed before the provider call; a pending create carries remote_id "" and is repeated as
 *   a create, which the provider makes land on the same object (deterministic from the UID; an
 *   existing object converges, If-None-Match: * -> 412 -> update), so a crash never duplicates.
 * - Busy blocks: external_id = SHA-256 hex of "<calendar id>:<object id>"; only start/end.
 * - Our event moved or deleted in the calendar: appointments.needs_review with a German reason;
 *   nothing is cancelled, and an event deleted there is not re-created (its mapping is 'deleted'). */

/* Tests: use ops for every connection instead of provider_find (NULL restores). Not thread-safe. */
struct provider_ops;
void sync_set_provider_override(const struct provider_ops *ops);

#endif
