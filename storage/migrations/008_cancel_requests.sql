-- When the customer asked the panel to cancel an order (NULL: never): the card then says so and
-- offers Cancel no more, and the refund is worded as the cancellation the customer asked for.
ALTER TABLE orders ADD COLUMN cancel_requested_at TEXT;
