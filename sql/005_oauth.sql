-- 005_oauth: OAuth 2.0 states (authorization-code flow with PKCE) and Google push channels.

-- One pending authorization: single use, bound to the doctor and the session that asked for it,
-- valid for 10 minutes. Only the SHA-256 of the state is kept; the PKCE verifier is needed again at
-- the callback, so it is stored Fernet-encrypted (CALENDAR_ENCRYPTION_KEY).
CREATE TABLE oauth_states (
  id                  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  state_hash          CHAR(64) CHARACTER SET ascii NOT NULL,
  doctor_id           BIGINT UNSIGNED NOT NULL,
  session_hash        CHAR(64) CHARACTER SET ascii NOT NULL,
  provider            ENUM('google','outlook') NOT NULL,
  verifier_encrypted  TEXT CHARACTER SET ascii NOT NULL,
  created_at          DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  expires_at          DATETIME NOT NULL,
  UNIQUE KEY uq_oauth_state (state_hash),
  KEY ix_oauth_expires (expires_at),
  CONSTRAINT fk_oauth_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A Google events.watch channel of one calendar. token_hash: SHA-256 hex of the channel's secret
-- token (the webhook compares in constant time). stopped_at: set once channels.stop succeeded.
CREATE TABLE google_channels (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  integration_id  BIGINT UNSIGNED NOT NULL,
  calendar_id     BIGINT UNSIGNED NOT NULL,
  channel_id      VARCHAR(64) CHARACTER SET ascii NOT NULL,
  token_hash      CHAR(64) CHARACTER SET ascii NOT NULL,
  resource_id     VARCHAR(255) NOT NULL DEFAULT '',
  expiration      DATETIME NULL,
  created_at      DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  stopped_at      DATETIME NULL,
  UNIQUE KEY uq_gchan_channel (channel_id),
  KEY ix_gchan_expiration (expiration),
  CONSTRAINT fk_gchan_integration FOREIGN KEY (integration_id)
    REFERENCES calendar_integrations (id) ON DELETE CASCADE,
  CONSTRAINT fk_gchan_calendar FOREIGN KEY (calendar_id)
    REFERENCES integration_calendars (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
