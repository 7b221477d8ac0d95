-- The notifier reads the pending outbox in id order every second: an index in that order, so the
-- read stays an index walk however many sent messages the table keeps.
CREATE INDEX notifications_pending ON notifications (notification_id) WHERE state = 'pending';
