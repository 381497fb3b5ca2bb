-- The operator console (issue 10): operators and their logins, the audit
-- trail of what they did, the sessions they ended before expiry, and the
-- indexes of the cross-merchant order search. Constraint names match the
-- SQLite schema. operator_actions is only ever appended to.

-- +goose Up
CREATE TABLE operators (
    id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username             text        NOT NULL,
    password_hash        text        NOT NULL,
    role                 text        NOT NULL,
    disabled_at          timestamptz,
    failed_logins        integer     NOT NULL DEFAULT 0,
    locked_until         timestamptz,
    sessions_valid_after timestamptz NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT operators_username_key UNIQUE (username),
    CONSTRAINT operators_role_check CHECK (role IN ('viewer', 'admin')),
    CONSTRAINT operators_failed_logins_check CHECK (failed_logins >= 0)
);

CREATE TABLE operator_actions (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    operator    text        NOT NULL,
    action      text        NOT NULL,
    order_id    bigint      REFERENCES orders (id),
    merchant_id bigint      REFERENCES merchants (id),
    target      text        NOT NULL DEFAULT '',
    detail      text        NOT NULL DEFAULT '',
    outcome     text        NOT NULL
);
CREATE INDEX operator_actions_order_idx ON operator_actions (order_id, id);
CREATE INDEX operator_actions_merchant_idx ON operator_actions (merchant_id, id);

CREATE TABLE revoked_sessions (
    jti        text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_sessions_expires_at_idx ON revoked_sessions (expires_at);

-- The console finds an order by either number without knowing its
-- merchant, or pages every merchant's orders by status or by day.
CREATE INDEX orders_out_trade_no_idx ON orders (out_trade_no);
CREATE INDEX orders_trade_no_idx ON orders (trade_no) WHERE trade_no <> '';
CREATE INDEX orders_status_id_idx ON orders (status, id DESC);
CREATE INDEX orders_created_at_idx ON orders (created_at);

-- +goose Down
DROP INDEX orders_created_at_idx;
DROP INDEX orders_status_id_idx;
DROP INDEX orders_trade_no_idx;
DROP INDEX orders_out_trade_no_idx;
DROP TABLE revoked_sessions;
DROP TABLE operator_actions;
DROP TABLE operators;
