-- An order's payment channel (issue 12): the channel it is taken on
-- (alipay or wechat), or auto for an order offered on both until a payment
-- on one channel decides it; and WeChat Pay's code_url (weixin://wxpay/...)
-- beside Alipay's qr_code, for a QR order on wechat or auto. Orders made
-- before this were all Alipay orders: the default says so.
--
-- The CHECK is a column constraint, so that the Down's DROP COLUMN, which
-- SQLite refuses for a column named in a table constraint, drops it too.

-- +goose Up
ALTER TABLE orders ADD COLUMN channel TEXT NOT NULL DEFAULT 'alipay'
    CONSTRAINT orders_channel_check CHECK (channel IN ('alipay', 'wechat', 'auto'));
ALTER TABLE orders ADD COLUMN wechat_code TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE orders DROP COLUMN wechat_code;
ALTER TABLE orders DROP COLUMN channel;
