-- Webhook delivery: each event's delivery state, and every attempt.
--
-- delivered_at is NULL until an attempt was acknowledged (a 2xx); dead_at is
-- NULL unless delivery gave up after its last attempt (a re-send clears it).

-- +goose Up
ALTER TABLE events
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN dead_at      timestamptz,
    ADD COLUMN attempts     integer NOT NULL DEFAULT 0;

-- The events list pages newest first by (created_at, id), ids compared
-- bytewise (COLLATE "C", as SQLite does); the events still to deliver are a
-- small part of all, hence a partial index for them.
CREATE INDEX events_merchant_created_id_idx ON events (merchant_id, created_at, id COLLATE "C");
DROP INDEX events_merchant_created_at_idx;
CREATE INDEX events_undelivered_idx ON events (merchant_id, created_at, id COLLATE "C") WHERE delivered_at IS NULL;

CREATE TABLE webhook_attempts (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    text        NOT NULL REFERENCES events (id),
    at          timestamptz NOT NULL,
    url         text        NOT NULL DEFAULT '',
    status_code integer     NOT NULL DEFAULT 0,
    latency_us  bigint      NOT NULL DEFAULT 0,
    excerpt     text        NOT NULL DEFAULT '',
    success     boolean     NOT NULL DEFAULT false
);
CREATE INDEX webhook_attempts_event_id_idx ON webhook_attempts (event_id, id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP INDEX events_undelivered_idx;
CREATE INDEX events_merchant_created_at_idx ON events (merchant_id, created_at);
DROP INDEX events_merchant_created_id_idx;
ALTER TABLE events DROP COLUMN attempts, DROP COLUMN dead_at, DROP COLUMN delivered_at;
