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
};

/* Sync one connection now: push its doctor's pending outbox rows to this connection's receiving
 * calendar, pull every blocking calendar, store busy blocks, flag conflicts and external edits,
 * update last_sync_at/sync_status/last_error (German) and write a sync_runs row. Claims the
 * connection first (sync_claimed_at, SELECT ... FOR UPDATE SKIP LOCKED) so two runs never sync it
 * at once; a claimed one is skipped (returns 0 with nothing done). Returns 0 when the run ended
 * without errors, 1 when some items failed (counted in stats), -1 when it could not run. */
int sync_integration(struct db *db, struct conf *c, long long integration_id, time_t now,
		     struct sync_stats *stats);

/* Connections due now (sync_enabled, status active or error, next_sync_at passed or NULL),
 * at most max, into ids (malloc'd). Returns the count or -1. */
long sync_due(struct db *db, time_t now, size_t max, long long **ids);

#endif
