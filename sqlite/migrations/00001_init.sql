-- paygate schema for SQLite.
--
-- Times are INTEGER Unix microseconds, UTC; NULL in paid_at, closed_at and
-- succeeded_at means "not yet". Money is INTEGER fen. Tables are STRICT so a
-- wrong type is an error, not a silent conversion. AUTOINCREMENT keeps ids
-- from ever being reused, which the newest-first cursor relies on.
-- IF NOT EXISTS lets two processes that start on the same new file at once
-- both succeed: SQLite has no advisory lock for goose to take.

-- +goose Up
CREATE TABLE IF NOT EXISTS merchants (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT    NOT NULL,
    access_key            TEXT    NOT NULL,
    secret_key_sealed     TEXT    NOT NULL,
    webhook_secret_sealed TEXT    NOT NULL,
    notify_url            TEXT    NOT NULL DEFAULT '',
    created_at            INTEGER NOT NULL,
    CONSTRAINT merchants_access_key_key UNIQUE (access_key)
) STRICT;

CREATE TABLE IF NOT EXISTS orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id     INTEGER NOT NULL REFERENCES merchants (id),
    out_trade_no    TEXT    NOT NULL,
    channel_no      TEXT,   -- NULL until assigned; unique across merchants
    trade_no        TEXT    NOT NULL DEFAULT '',
    mode            TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    total_amount    INTEGER NOT NULL,
    refunded_amount INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL,
    qr_code         TEXT    NOT NULL DEFAULT '',
    buyer_id        TEXT    NOT NULL DEFAULT '',
    notify_url      TEXT    NOT NULL DEFAULT '',
    params_hash     TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    paid_at         INTEGER,
    closed_at       INTEGER,
    version         INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT orders_merchant_out_trade_no_key UNIQUE (merchant_id, out_trade_no),
    CONSTRAINT orders_channel_no_key UNIQUE (channel_no),
    CONSTRAINT orders_status_check CHECK (status IN ('pending', 'paid', 'closed', 'refunded')),
    CONSTRAINT orders_mode_check CHECK (mode IN ('qr', 'barcode')),
    CONSTRAINT orders_total_amount_check CHECK (total_amount > 0),
    CONSTRAINT orders_refunded_amount_check CHECK (refunded_amount >= 0 AND refunded_amount <= total_amount)
) STRICT;
CREATE INDEX IF NOT EXISTS orders_merchant_id_idx ON orders (merchant_id, id DESC);
CREATE INDEX IF NOT EXISTS orders_merchant_status_id_idx ON orders (merchant_id, status, id DESC);
CREATE INDEX IF NOT EXISTS orders_status_expires_at_idx ON orders (status, expires_at);

CREATE TABLE IF NOT EXISTS refunds (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id       INTEGER NOT NULL REFERENCES orders (id),
    merchant_id    INTEGER NOT NULL REFERENCES merchants (id),
    out_trade_no   TEXT    NOT NULL,
    out_request_no TEXT    NOT NULL,
    amount         INTEGER NOT NULL,
    reason         TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL,
    fail_reason    TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    succeeded_at   INTEGER,
    CONSTRAINT refunds_order_out_request_no_key UNIQUE (order_id, out_request_no),
    CONSTRAINT refunds_amount_check CHECK (amount > 0),
    CONSTRAINT refunds_status_check CHECK (status IN ('pending', 'succeeded', 'failed'))
) STRICT;

CREATE TABLE IF NOT EXISTS events (
    id          TEXT    PRIMARY KEY,
    merchant_id INTEGER NOT NULL REFERENCES merchants (id),
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    type        TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS events_merchant_created_at_idx ON events (merchant_id, created_at);
CREATE INDEX IF NOT EXISTS events_order_id_idx ON events (order_id, created_at);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    done         INTEGER NOT NULL DEFAULT 0,
    status       INTEGER NOT NULL DEFAULT 0,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, key),
    CONSTRAINT idempotency_keys_done_check CHECK (done IN (0, 1))
) STRICT;
CREATE INDEX IF NOT EXISTS idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE events;
DROP TABLE refunds;
DROP TABLE orders;
DROP TABLE merchants;
