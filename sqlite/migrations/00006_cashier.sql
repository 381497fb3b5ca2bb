-- The buyer's cashier page (issue 10): a QR order's unguessable token names
-- its page (/pay/{token}), and the merchant may give a URL to send the buyer
-- back to once paid. Barcode orders, and orders made before this, have no
-- token (NULL): the unique index covers only the tokens that are set.

-- +goose Up
ALTER TABLE orders ADD COLUMN cashier_token TEXT;
ALTER TABLE orders ADD COLUMN return_url TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX orders_cashier_token_key ON orders (cashier_token) WHERE cashier_token IS NOT NULL;

-- +goose Down
DROP INDEX orders_cashier_token_key;
ALTER TABLE orders DROP COLUMN return_url;
ALTER TABLE orders DROP COLUMN cashier_token;
