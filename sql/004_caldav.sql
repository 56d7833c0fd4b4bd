-- 004_caldav: calendars of a connection, external objects (etag state), appointment <-> event
-- mappings, sync runs (statistics), and busy blocks per calendar.

-- Settings and cursors a connection needs besides its credentials (never secrets).
ALTER TABLE calendar_integrations
  ADD COLUMN principal_url  VARCHAR(2048) NULL AFTER caldav_url,
  ADD COLUMN home_url       VARCHAR(2048) NULL AFTER principal_url,
  ADD COLUMN next_sync_at   DATETIME NULL AFTER last_sync_at,
  ADD COLUMN sync_claimed_at DATETIME NULL AFTER next_sync_at;

-- One calendar of a connection. remote_id: the collection URL (CalDAV) or the provider's calendar id.
CREATE TABLE integration_calendars (
  id                     BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  integration_id         BIGINT UNSIGNED NOT NULL,
  remote_id              VARCHAR(2048) NOT NULL,
  remote_id_hash         CHAR(64) CHARACTER SET ascii NOT NULL,
  display_name           VARCHAR(255) NOT NULL DEFAULT '',
  color                  VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT '',
  can_write              TINYINT(1) NOT NULL DEFAULT 1,
  blocks_availability    TINYINT(1) NOT NULL DEFAULT 1,
  receives_appointments  TINYINT(1) NOT NULL DEFAULT 0,
  sync_token             VARCHAR(2048) NULL,
  ctag                   VARCHAR(1024) NULL,
  last_synced_at         DATETIME NULL,
  created_at             DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  UNIQUE KEY uq_intcal_remote (integration_id, remote_id_hash),
  CONSTRAINT fk_intcal_integration FOREIGN KEY (integration_id)
    REFERENCES calendar_integrations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What we last saw of each external object (for etag diffs). object_id: href or event id.
CREATE TABLE calendar_objects (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  calendar_id     BIGINT UNSIGNED NOT NULL,
  object_id       VARCHAR(2048) NOT NULL,
  object_id_hash  CHAR(64) CHARACTER SET ascii NOT NULL,
  etag            VARCHAR(1024) NOT NULL DEFAULT '',
  appointment_id  BIGINT UNSIGNED NULL,           -- set when the object is one of ours
  updated_at      DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  UNIQUE KEY uq_calobj (calendar_id, object_id_hash),
  CONSTRAINT fk_calobj_calendar FOREIGN KEY (calendar_id) REFERENCES integration_calendars (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Our appointment as an event in one connection's target calendar (idempotent push).
CREATE TABLE event_mappings (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  appointment_id  BIGINT UNSIGNED NOT NULL,
  integration_id  BIGINT UNSIGNED NOT NULL,
  calendar_id     BIGINT UNSIGNED NOT NULL,
  remote_id       VARCHAR(2048) NOT NULL,          -- href (CalDAV) or event id
  etag            VARCHAR(1024) NOT NULL DEFAULT '',
  sequence        INT UNSIGNED NOT NULL DEFAULT 0,
  state           ENUM('pending','synced','deleted') NOT NULL DEFAULT 'pending',
  pushed_start    DATETIME NULL,                   -- what we wrote, to detect external moves
  pushed_end      DATETIME NULL,
  updated_at      DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  UNIQUE KEY uq_mapping (appointment_id, integration_id),
  KEY ix_mapping_integration (integration_id),
  CONSTRAINT fk_mapping_appointment FOREIGN KEY (appointment_id) REFERENCES appointments (id) ON DELETE CASCADE,
  CONSTRAINT fk_mapping_integration FOREIGN KEY (integration_id)
    REFERENCES calendar_integrations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One sync of one connection (C17 statistics).
CREATE TABLE sync_runs (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  integration_id  BIGINT UNSIGNED NOT NULL,
  started_at      DATETIME NOT NULL,
  finished_at     DATETIME NULL,
  pushed          INT UNSIGNED NOT NULL DEFAULT 0,
  pulled          INT UNSIGNED NOT NULL DEFAULT 0,
  requests        INT UNSIGNED NOT NULL DEFAULT 0,
  errors          INT UNSIGNED NOT NULL DEFAULT 0,
  duration_ms     INT UNSIGNED NOT NULL DEFAULT 0,
  error           VARCHAR(1000) NULL,
  KEY ix_sync_runs_integration (integration_id, started_at),
  CONSTRAINT fk_sync_runs_integration FOREIGN KEY (integration_id)
    REFERENCES calendar_integrations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Busy blocks belong to one calendar (deselecting a calendar removes its busy time);
-- external_id is now the SHA-256 of the object id (hrefs may be long).
ALTER TABLE busy_blocks
  ADD COLUMN calendar_id BIGINT UNSIGNED NULL AFTER integration_id,
  ADD KEY ix_busy_blocks_calendar (calendar_id),
  ADD CONSTRAINT fk_busy_blocks_calendar FOREIGN KEY (calendar_id)
    REFERENCES integration_calendars (id) ON DELETE CASCADE;
