-- An order's cancel intent: set, durably, before the gateway asks the
-- channel to cancel its trade (a cancel may refund a buyer who paid). From
-- then on the order can only end closed: no notification, query or
-- compensation marks it paid, and compensation repeats the cancel until the
-- channel confirms it. NULL: no cancel was ever requested.

-- +goose Up
ALTER TABLE orders ADD COLUMN cancel_requested_at timestamptz;

-- +goose Down
ALTER TABLE orders DROP COLUMN cancel_requested_at;
