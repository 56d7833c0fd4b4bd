-- 008_agent: the booking assistant's conversations and messages (C14).
-- A conversation belongs to one doctor's practice; patients continue it with the conversation_id
-- the API handed out (a 256-bit random token, stored only as its SHA-256). The client's IP is kept
-- only as an HMAC (TF_SECRET_KEY) for the per-IP rate limit. Messages keep the assistant's tool
-- calls (function, arguments, result) in metadata, as the source document's Message model does.
-- Conversations are deleted after TF_AGENT_RETENTION_DAYS (default 30) by tf-remind.

CREATE TABLE agent_conversations (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  token_hash      CHAR(64) CHARACTER SET ascii NOT NULL,
  doctor_id       BIGINT UNSIGNED NOT NULL,
  client_hash     CHAR(64) CHARACTER SET ascii NOT NULL,
  mode            ENUM('llm','offline') NOT NULL,
  language        CHAR(2) CHARACTER SET ascii NOT NULL DEFAULT 'de',
  state           TEXT NULL,
  turns           INT UNSIGNED NOT NULL DEFAULT 0,
  appointment_id  BIGINT UNSIGNED NULL,
  created_at      DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  updated_at      DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  UNIQUE KEY uq_agent_conversations_token (token_hash),
  KEY ix_agent_conversations_doctor (doctor_id, created_at),
  KEY ix_agent_conversations_updated (updated_at),
  CONSTRAINT fk_agent_conversations_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE,
  CONSTRAINT fk_agent_conversations_appt FOREIGN KEY (appointment_id) REFERENCES appointments (id) ON DELETE SET NULL,
  CONSTRAINT ck_agent_conversations_state CHECK (state IS NULL OR JSON_VALID(state))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE agent_messages (
  id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  conversation_id  BIGINT UNSIGNED NOT NULL,
  role             ENUM('user','assistant') NOT NULL,
  content          TEXT NOT NULL,
  metadata         TEXT NULL,
  client_hash      CHAR(64) CHARACTER SET ascii NOT NULL,
  created_at       DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),
  KEY ix_agent_messages_conv (conversation_id, id),
  KEY ix_agent_messages_client (client_hash, role, created_at),
  CONSTRAINT fk_agent_messages_conv FOREIGN KEY (conversation_id) REFERENCES agent_conversations (id) ON DELETE CASCADE,
  CONSTRAINT ck_agent_messages_metadata CHECK (metadata IS NULL OR JSON_VALID(metadata))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
