-- 006_google: what the Google connections add to the engine: the per-doctor policy for a broken
-- connection's busy time, the doctor's own mails (reauth) in the mail queue, and the follow-up
-- mail with a video link that arrived after the confirmation.

-- What happens to a connection's busy time while it waits for a new consent (reauth_required):
-- 'keep' (default): the last known busy blocks stay and the page warns; 'free': they are deleted.
ALTER TABLE doctors
  ADD COLUMN broken_calendar_policy ENUM('keep','free') NOT NULL DEFAULT 'keep' AFTER bundesland;

-- Which outage a connection is in: incremented each time it goes reauth_required, so the doctor
-- gets one mail per connection per outage (mail_queue's unique key below).
ALTER TABLE calendar_integrations
  ADD COLUMN reauth_count INT UNSIGNED NOT NULL DEFAULT 0 AFTER last_error;

-- Mails to the doctor have no appointment: appointment_id NULL, doctor_id and integration_id set.
-- kind 'reauth': the connection needs a new consent (seq = reauth_count); 'video_link': the video
-- link of an appointment whose confirmation went out before the link existed (seq 0).
ALTER TABLE mail_queue
  MODIFY appointment_id BIGINT UNSIGNED NULL,
  MODIFY kind ENUM('confirmation','cancellation','reschedule','reminder','video_link','reauth') NOT NULL,
  ADD COLUMN doctor_id BIGINT UNSIGNED NULL AFTER appointment_id,
  ADD COLUMN integration_id BIGINT UNSIGNED NULL AFTER doctor_id,
  ADD UNIQUE KEY uq_mail_integration_once (integration_id, kind, seq),
  ADD CONSTRAINT fk_mail_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE,
  ADD CONSTRAINT fk_mail_integration FOREIGN KEY (integration_id)
    REFERENCES calendar_integrations (id) ON DELETE CASCADE,
  ADD CONSTRAINT ck_mail_target CHECK (appointment_id IS NOT NULL OR (doctor_id IS NOT NULL AND integration_id IS NOT NULL));
