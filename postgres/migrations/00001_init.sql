-- paygate schema for PostgreSQL.
--
-- Times are timestamptz; NULL in paid_at, closed_at and succeeded_at means
-- "not yet". Money is bigint fen. Constraint names match the SQLite schema.
-- Migrations run under a session-level advisory lock (see migrate.go), so
-- replicas starting together apply this once.

-- +goose Up
CREATE TABLE merchants (
    id                    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  text        NOT NULL,
    access_key            text        NOT NULL,
    secret_key_sealed     text        NOT NULL,
    webhook_secret_sealed text        NOT NULL,
    notify_url            text        NOT NULL DEFAULT '',
    created_at            timestamptz NOT NULL,
    CONSTRAINT merchants_access_key_key UNIQUE (access_key)
);

CREATE TABLE orders (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint      NOT NULL REFERENCES merchants (id),
    out_trade_no    text        NOT NULL,
    channel_no      text,       -- NULL until assigned; unique across merchants
    trade_no        text        NOT NULL DEFAULT '',
    mode            text        NOT NULL,
    subject         text        NOT NULL,
    total_amount    bigint      NOT NULL,
    refunded_amount bigint      NOT NULL DEFAULT 0,
    status          text        NOT NULL,
    qr_code         text        NOT NULL DEFAULT '',
    buyer_id        text        NOT NULL DEFAULT '',
    notify_url      text        NOT NULL DEFAULT '',
    params_hash     text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    paid_at         timestamptz,
    closed_at       timestamptz,
    version         bigint      NOT NULL DEFAULT 1,
    CONSTRAINT orders_merchant_out_trade_no_key UNIQUE (merchant_id, out_trade_no),
    CONSTRAINT orders_channel_no_key UNIQUE (channel_no),
    CONSTRAINT orders_status_check CHECK (status IN ('pending', 'paid', 'closed', 'refunded')),
    CONSTRAINT orders_mode_check CHECK (mode IN ('qr', 'barcode')),
    CONSTRAINT orders_total_amount_check CHECK (total_amount > 0),
    CONSTRAINT orders_refunded_amount_check CHECK (refunded_amount >= 0 AND refunded_amount <= total_amount)
);
CREATE INDEX orders_merchant_id_idx ON orders (merchant_id, id DESC);
CREATE INDEX orders_merchant_status_id_idx ON orders (merchant_id, status, id DESC);
CREATE INDEX orders_status_expires_at_idx ON orders (status, expires_at);

CREATE TABLE refunds (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id       bigint      NOT NULL REFERENCES orders (id),
    merchant_id    bigint      NOT NULL REFERENCES merchants (id),
    out_trade_no   text        NOT NULL,
    out_request_no text        NOT NULL,
    amount         bigint      NOT NULL,
    reason         text        NOT NULL DEFAULT '',
    status         text        NOT NULL,
    fail_reason    text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    succeeded_at   timestamptz,
    CONSTRAINT refunds_order_out_request_no_key UNIQUE (order_id, out_request_no),
    CONSTRAINT refunds_amount_check CHECK (amount > 0),
    CONSTRAINT refunds_status_check CHECK (status IN ('pending', 'succeeded', 'failed'))
);

CREATE TABLE events (
    id          text        PRIMARY KEY,
    merchant_id bigint      NOT NULL REFERENCES merchants (id),
    order_id    bigint      NOT NULL REFERENCES orders (id),
    type        text        NOT NULL,
    payload     bytea       NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX events_merchant_created_at_idx ON events (merchant_id, created_at);
CREATE INDEX events_order_id_idx ON events (order_id, created_at);

CREATE TABLE idempotency_keys (
    merchant_id  bigint      NOT NULL REFERENCES merchants (id),
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    done         boolean     NOT NULL DEFAULT false,
    status       integer     NOT NULL DEFAULT 0,
    body         bytea,
    created_at   timestamptz NOT NULL,
    lease_until  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, key)
);
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE events;
DROP TABLE refunds;
DROP TABLE orders;
DROP TABLE merchants;
