-- 001_foundation: doctors, sessions, login attempts, calendar integrations, opening hours, services.
-- All times are UTC (DATETIME without zone; the connection's time_zone is '+00:00').

CREATE TABLE doctors (
  id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email          VARCHAR(254) NOT NULL,
  name           VARCHAR(200) NOT NULL,
  slug           VARCHAR(64)  NOT NULL,
  password_hash  VARCHAR(160) NOT NULL,
  timezone       VARCHAR(64)  NOT NULL DEFAULT 'Europe/Berlin',
  created_at     DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  updated_at     DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  UNIQUE KEY uq_doctors_email (email),
  UNIQUE KEY uq_doctors_slug (slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A login session: only the SHA-256 of the 256-bit cookie token is stored.
CREATE TABLE sessions (
  id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  token_hash     CHAR(64) CHARACTER SET ascii NOT NULL,
  doctor_id      BIGINT UNSIGNED NOT NULL,
  created_at     DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  last_seen_at   DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  expires_at     DATETIME NOT NULL,
  ip             VARCHAR(45) CHARACTER SET ascii NOT NULL DEFAULT '',
  user_agent     VARCHAR(255) NOT NULL DEFAULT '',
  UNIQUE KEY uq_sessions_token (token_hash),
  KEY ix_sessions_doctor (doctor_id),
  KEY ix_sessions_expires (expires_at),
  CONSTRAINT fk_sessions_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every login attempt, for the rate limit (5 failures per e-mail and IP in 15 minutes).
CREATE TABLE login_attempts (
  id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email          VARCHAR(254) NOT NULL,
  ip             VARCHAR(45) CHARACTER SET ascii NOT NULL,
  success        TINYINT(1) NOT NULL DEFAULT 0,
  attempted_at   DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  KEY ix_login_attempts_lookup (email, ip, attempted_at),
  KEY ix_login_attempts_time (attempted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One connection to an external calendar account (the source document's table).
CREATE TABLE calendar_integrations (
  id                     BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  doctor_id              BIGINT UNSIGNED NOT NULL,
  provider               ENUM('google','outlook','apple') NOT NULL,
  account_email          VARCHAR(254) NOT NULL DEFAULT '',
  sync_enabled           TINYINT(1) NOT NULL DEFAULT 1,
  sync_status            ENUM('active','error','reauth_required','disabled') NOT NULL DEFAULT 'active',
  credentials_encrypted  TEXT CHARACTER SET ascii NULL,
  caldav_url             VARCHAR(2048) NULL,
  show_patient_names     TINYINT(1) NOT NULL DEFAULT 0,
  last_sync_at           DATETIME NULL,
  last_error             VARCHAR(1000) NULL,
  created_at             DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  updated_at             DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  KEY ix_calint_doctor (doctor_id),
  KEY ix_calint_due (sync_enabled, sync_status, last_sync_at),
  CONSTRAINT fk_calint_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Weekly opening hours: several intervals per weekday, minutes after local midnight.
-- weekday: 1 = Monday ... 7 = Sunday (ISO 8601).
CREATE TABLE opening_hours (
  id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  doctor_id      BIGINT UNSIGNED NOT NULL,
  weekday        TINYINT UNSIGNED NOT NULL,
  start_minute   SMALLINT UNSIGNED NOT NULL,
  end_minute     SMALLINT UNSIGNED NOT NULL,
  KEY ix_opening_doctor (doctor_id, weekday),
  CONSTRAINT fk_opening_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE,
  CONSTRAINT ck_opening_weekday CHECK (weekday BETWEEN 1 AND 7),
  CONSTRAINT ck_opening_range CHECK (start_minute < end_minute AND end_minute <= 1440)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE services (
  id                     BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  doctor_id              BIGINT UNSIGNED NOT NULL,
  name                   VARCHAR(120) NOT NULL,
  duration_minutes       SMALLINT UNSIGNED NOT NULL,
  buffer_before_minutes  SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  buffer_after_minutes   SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  is_video               TINYINT(1) NOT NULL DEFAULT 0,
  active                 TINYINT(1) NOT NULL DEFAULT 1,
  created_at             DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  UNIQUE KEY uq_services_doctor_name (doctor_id, name),
  CONSTRAINT fk_services_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE,
  CONSTRAINT ck_services_duration CHECK (duration_minutes BETWEEN 5 AND 600)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
