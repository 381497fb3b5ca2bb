-- Webhook delivery: each event's delivery state, and every attempt.
--
-- delivered_at is NULL until an attempt was acknowledged (a 2xx); dead_at is
-- NULL unless delivery gave up after its last attempt (a re-send clears it).
-- Migrations on one file are serialized by the lock table of migrate.go, so
-- ALTER TABLE (which has no IF NOT EXISTS) runs once.

-- +goose Up
ALTER TABLE events ADD COLUMN delivered_at INTEGER;
ALTER TABLE events ADD COLUMN dead_at INTEGER;
ALTER TABLE events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;

-- The events list pages newest first by (created_at, id); the events still
-- to deliver are a small part of all, hence a partial index for them.
CREATE INDEX IF NOT EXISTS events_merchant_created_id_idx ON events (merchant_id, created_at, id);
DROP INDEX IF EXISTS events_merchant_created_at_idx;
CREATE INDEX IF NOT EXISTS events_undelivered_idx ON events (merchant_id, created_at, id) WHERE delivered_at IS NULL;

CREATE TABLE IF NOT EXISTS webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT    NOT NULL REFERENCES events (id),
    at          INTEGER NOT NULL,
    url         TEXT    NOT NULL DEFAULT '',
    status_code INTEGER NOT NULL DEFAULT 0,
    latency_us  INTEGER NOT NULL DEFAULT 0,
    excerpt     TEXT    NOT NULL DEFAULT '',
    success     INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT webhook_attempts_success_check CHECK (success IN (0, 1))
) STRICT;
CREATE INDEX IF NOT EXISTS webhook_attempts_event_id_idx ON webhook_attempts (event_id, id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP INDEX events_undelivered_idx;
CREATE INDEX events_merchant_created_at_idx ON events (merchant_id, created_at);
DROP INDEX events_merchant_created_id_idx;
ALTER TABLE events DROP COLUMN attempts;
ALTER TABLE events DROP COLUMN dead_at;
ALTER TABLE events DROP COLUMN delivered_at;
