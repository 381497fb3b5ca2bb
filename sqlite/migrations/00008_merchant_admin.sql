-- Merchant administration: a merchant can be disabled (its API requests
-- refused, its orders still settled and told), and its secrets rotated with
-- a grace period in which the replaced one still works. The previous
-- secrets are sealed like the current ones, under their own contexts
-- ("merchant:<access key>:previous_secret_key", …), so that one copied into
-- the current column does not open; '' means there is none, and their
-- *_until is then NULL. updated_at is when the row last changed.

-- +goose Up
ALTER TABLE merchants ADD COLUMN disabled_at INTEGER;
ALTER TABLE merchants ADD COLUMN previous_secret_key_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN previous_secret_key_until INTEGER;
ALTER TABLE merchants ADD COLUMN previous_webhook_secret_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN previous_webhook_secret_until INTEGER;
ALTER TABLE merchants ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE merchants SET updated_at = created_at;

-- +goose Down
ALTER TABLE merchants DROP COLUMN updated_at;
ALTER TABLE merchants DROP COLUMN previous_webhook_secret_until;
ALTER TABLE merchants DROP COLUMN previous_webhook_secret_sealed;
ALTER TABLE merchants DROP COLUMN previous_secret_key_until;
ALTER TABLE merchants DROP COLUMN previous_secret_key_sealed;
ALTER TABLE merchants DROP COLUMN disabled_at;
