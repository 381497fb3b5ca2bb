-- Order activity (issue 10): each channel call made for an order, with its
-- outcome, and each notification received about it, for the operator's
-- timeline.
--
-- Diagnostic only: the money state lives in orders, refunds and events and
-- never reads this table. Rows are written in batches by an asynchronous
-- writer and pruned after activity.retention. order_id has no foreign key
-- on purpose: a batch is one transaction, and nothing here may ever fail
-- because of the rows it describes (orders are never deleted anyway).

-- +goose Up
CREATE TABLE IF NOT EXISTS order_activities (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL DEFAULT '',
    outcome    TEXT    NOT NULL DEFAULT '',
    code       TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT '',
    latency_us INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT order_activities_kind_check CHECK (kind IN ('channel_call', 'notification'))
) STRICT;
-- An order's timeline, oldest first; and the daily prune by age.
CREATE INDEX IF NOT EXISTS order_activities_order_idx ON order_activities (order_id, at, id);
CREATE INDEX IF NOT EXISTS order_activities_at_idx ON order_activities (at);

-- +goose Down
DROP TABLE order_activities;
