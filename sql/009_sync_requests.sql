-- 009_sync_requests: a sync asked for while another run holds the connection is not lost.
-- Every sync_integration call first counts itself in sync_requests; the run that holds the claim
-- compares the count after it released the claim with its own, and when someone asked in between
-- (a push notification during the run) it syncs once more.
ALTER TABLE calendar_integrations
  ADD COLUMN sync_requests BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER sync_claimed_at;
