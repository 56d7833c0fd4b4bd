-- 007_outlook: push channels of every provider in one table: Google events.watch channels and
-- Microsoft Graph subscriptions (issue 6). google_channels becomes push_channels with a provider
-- column; a view keeps the old name for the Google rows (tests and tools that read it).
--
-- Outlook rows: one subscription per connection (resource me/events), so calendar_id is NULL;
-- resource_id = the Graph subscription id (notifications are looked up by it); token_hash =
-- SHA-256 hex of the subscription's random clientState; channel_id = our own random id.
-- renew_requested: a lifecycle event reauthorizationRequired asked for a renewal (PATCH) before the
-- subscription's normal renewal time.
RENAME TABLE google_channels TO push_channels;

ALTER TABLE push_channels
  ADD COLUMN provider ENUM('google','outlook') NOT NULL DEFAULT 'google' AFTER integration_id,
  MODIFY calendar_id BIGINT UNSIGNED NULL,
  ADD COLUMN renew_requested TINYINT(1) NOT NULL DEFAULT 0 AFTER expiration,
  ADD KEY ix_chan_resource (provider, resource_id);

CREATE VIEW google_channels AS
  SELECT id, integration_id, calendar_id, channel_id, token_hash, resource_id, expiration, created_at,
         stopped_at
  FROM push_channels WHERE provider = 'google';
