-- Merchant administration: a merchant can be disabled (its API requests
-- refused, its orders still settled and told), and its secrets rotated with
-- a grace period in which the replaced one still works. The previous
-- secrets are sealed like the current ones, under their own contexts
-- ("merchant:<access key>:previous_secret_key", …), so that one copied into
-- the current column does not open; '' means there is none, and their
-- *_until is then NULL. updated_at is when the row last changed.

-- +goose Up
ALTER TABLE merchants
    ADD COLUMN disabled_at                    timestamptz,
    ADD COLUMN previous_secret_key_sealed     text NOT NULL DEFAULT '',
    ADD COLUMN previous_secret_key_until      timestamptz,
    ADD COLUMN previous_webhook_secret_sealed text NOT NULL DEFAULT '',
    ADD COLUMN previous_webhook_secret_until  timestamptz,
    ADD COLUMN updated_at                     timestamptz;
UPDATE merchants SET updated_at = created_at;
ALTER TABLE merchants ALTER COLUMN updated_at SET NOT NULL;

-- +goose Down
ALTER TABLE merchants
    DROP COLUMN updated_at,
    DROP COLUMN previous_webhook_secret_until,
    DROP COLUMN previous_webhook_secret_sealed,
    DROP COLUMN previous_secret_key_until,
    DROP COLUMN previous_secret_key_sealed,
    DROP COLUMN disabled_at;
