-- The master key's check value (paygate.Sealer.KeyCheck), recorded at the
-- database's first use, so that a node started with another master key
-- refuses to start instead of failing every call on a secret that does not
-- open. One row; the value names the key without revealing it.

-- +goose Up
CREATE TABLE IF NOT EXISTS master_key_check (
    id          integer     PRIMARY KEY CHECK (id = 1),
    check_value text        NOT NULL,
    created_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS master_key_check;
