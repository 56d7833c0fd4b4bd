-- 003_booking_sequence: how often an appointment was moved. booking_reschedule increments it in the
-- reschedule's transaction; the new value is the seq of that reschedule's mail_queue row (unique per
-- appointment and kind) and serves as the iCalendar SEQUENCE of the event.
ALTER TABLE appointments
  ADD COLUMN reschedule_count INT UNSIGNED NOT NULL DEFAULT 0 AFTER status;
