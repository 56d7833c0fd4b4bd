-- 002_booking: practice profile, closures, appointments, busy blocks, outbox, idempotency keys, mail queue.
-- All times are UTC DATETIMEs; dates of closures are the doctor's local calendar dates.

ALTER TABLE doctors
  ADD COLUMN practice_name     VARCHAR(200) NOT NULL DEFAULT '' AFTER slug,
  ADD COLUMN practice_address  VARCHAR(500) NOT NULL DEFAULT '' AFTER practice_name,
  ADD COLUMN bundesland        CHAR(2) CHARACTER SET ascii NOT NULL DEFAULT 'BE' AFTER timezone;

-- Days the practice is closed (vacation, training): start_date..end_date inclusive, local dates.
CREATE TABLE closures (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  doctor_id   BIGINT UNSIGNED NOT NULL,
  start_date  DATE NOT NULL,
  end_date    DATE NOT NULL,
  reason      VARCHAR(200) NOT NULL DEFAULT '',
  created_at  DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  KEY ix_closures_doctor (doctor_id, start_date, end_date),
  CONSTRAINT fk_closures_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE,
  CONSTRAINT ck_closures_range CHECK (start_date <= end_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A booked appointment. The service's buffers are copied at booking time so a later edit of the
-- service does not move existing appointments' blocked time. The cancel token is looked up by its
-- SHA-256; the token itself is kept only Fernet-encrypted (CALENDAR_ENCRYPTION_KEY) so that mails
-- sent later (retries, reminders) can carry the cancel link.
CREATE TABLE appointments (
  id                     BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  doctor_id              BIGINT UNSIGNED NOT NULL,
  service_id             BIGINT UNSIGNED NULL,
  service_name           VARCHAR(120) NOT NULL,
  start_utc              DATETIME NOT NULL,
  end_utc                DATETIME NOT NULL,
  buffer_before_minutes  SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  buffer_after_minutes   SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  patient_name           VARCHAR(200) NOT NULL,
  patient_email          VARCHAR(254) NOT NULL,
  patient_phone          VARCHAR(40) NOT NULL DEFAULT '',
  status                 ENUM('confirmed','cancelled') NOT NULL DEFAULT 'confirmed',
  cancel_token_hash      CHAR(64) CHARACTER SET ascii NOT NULL,
  cancel_token_encrypted TEXT CHARACTER SET ascii NULL,
  is_video               TINYINT(1) NOT NULL DEFAULT 0,
  create_meet            TINYINT(1) NOT NULL DEFAULT 0,
  video_link             VARCHAR(2048) NULL,
  cancelled_by           ENUM('patient','doctor') NULL,
  cancelled_at           DATETIME NULL,
  reminder_sent_at       DATETIME NULL,
  needs_review           TINYINT(1) NOT NULL DEFAULT 0,
  review_reason          VARCHAR(500) NULL,
  created_at             DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  updated_at             DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  UNIQUE KEY uq_appointments_cancel (cancel_token_hash),
  KEY ix_appointments_doctor_time (doctor_id, status, start_utc),
  KEY ix_appointments_reminder (status, reminder_sent_at, start_utc),
  CONSTRAINT fk_appointments_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE,
  CONSTRAINT fk_appointments_service FOREIGN KEY (service_id) REFERENCES services (id) ON DELETE SET NULL,
  CONSTRAINT ck_appointments_range CHECK (start_utc < end_utc)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Busy time pulled from external calendars (filled by the calendar sync). Only times, no titles.
CREATE TABLE busy_blocks (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  integration_id  BIGINT UNSIGNED NOT NULL,
  doctor_id       BIGINT UNSIGNED NOT NULL,
  external_id     VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  start_utc       DATETIME NOT NULL,
  end_utc         DATETIME NOT NULL,
  created_at      DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  UNIQUE KEY uq_busy_blocks_ext (integration_id, external_id, start_utc),
  KEY ix_busy_blocks_doctor_time (doctor_id, start_utc, end_utc),
  CONSTRAINT fk_busy_blocks_integration FOREIGN KEY (integration_id)
    REFERENCES calendar_integrations (id) ON DELETE CASCADE,
  CONSTRAINT fk_busy_blocks_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Transactional outbox: one row per create/reschedule/cancel, written in the booking's transaction;
-- the calendar push consumes it (claims with SKIP LOCKED, marks processed_at).
CREATE TABLE outbox (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  appointment_id  BIGINT UNSIGNED NOT NULL,
  doctor_id       BIGINT UNSIGNED NOT NULL,
  action          ENUM('create','reschedule','cancel') NOT NULL,
  created_at      DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  processed_at    DATETIME NULL,
  attempts        INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  last_error      VARCHAR(1000) NULL,
  KEY ix_outbox_pending (processed_at, next_attempt_at, id),
  KEY ix_outbox_appointment (appointment_id),
  CONSTRAINT fk_outbox_appointment FOREIGN KEY (appointment_id) REFERENCES appointments (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Idempotency-Key of POST /api/appointments: the first request's answer, replayed for repeats.
CREATE TABLE idempotency_keys (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  key_hash        CHAR(64) CHARACTER SET ascii NOT NULL,
  request_hash    CHAR(64) CHARACTER SET ascii NOT NULL,
  status_code     SMALLINT UNSIGNED NOT NULL,
  response_body   TEXT NOT NULL,
  appointment_id  BIGINT UNSIGNED NULL,
  created_at      DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  UNIQUE KEY uq_idempotency_key (key_hash),
  KEY ix_idempotency_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Mail to send after the commit; retried with back-off; (appointment, kind) at most once.
CREATE TABLE mail_queue (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  appointment_id  BIGINT UNSIGNED NOT NULL,
  kind            ENUM('confirmation','cancellation','reschedule','reminder') NOT NULL,
  seq             INT UNSIGNED NOT NULL DEFAULT 0,
  status          ENUM('pending','sending','sent','failed') NOT NULL DEFAULT 'pending',
  attempts        INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  claimed_at      DATETIME NULL,
  sent_at         DATETIME NULL,
  last_error      VARCHAR(1000) NULL,
  created_at      DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  UNIQUE KEY uq_mail_once (appointment_id, kind, seq),
  KEY ix_mail_due (status, next_attempt_at),
  CONSTRAINT fk_mail_appointment FOREIGN KEY (appointment_id) REFERENCES appointments (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
