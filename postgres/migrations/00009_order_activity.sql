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
CREATE TABLE order_activities (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   bigint      NOT NULL,
    at         timestamptz NOT NULL,
    kind       text        NOT NULL,
    name       text        NOT NULL DEFAULT '',
    outcome    text        NOT NULL DEFAULT '',
    code       text        NOT NULL DEFAULT '',
    detail     text        NOT NULL DEFAULT '',
    latency_us bigint      NOT NULL DEFAULT 0,
    CONSTRAINT order_activities_kind_check CHECK (kind IN ('channel_call', 'notification'))
);
-- An order's timeline, oldest first; and the daily prune by age.
CREATE INDEX order_activities_order_idx ON order_activities (order_id, at, id);
CREATE INDEX order_activities_at_idx ON order_activities (at);

-- +goose Down
DROP TABLE order_activities;
